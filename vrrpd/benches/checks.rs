//! The check engine at scale: one vrrpd, pinned to one core, probes
//! CHECKS distinct real servers (127.1.x.y on loopback) every INTERVAL_MS,
//! against a listener pinned to the other core. It prints the check rate
//! the daemon sustained, the CPU time it used, and how late check starts
//! were against their schedule (p50, p99 and max over the last 65,536
//! starts, as `vrrpd status --json` reports them).
//!
//!   cargo bench -p vrrpd --bench checks [-- CHECKS INTERVAL_MS SECONDS tcp|http]
//!
//! Defaults: 10000 1000 10 tcp (10,000 checks per second). The server is a
//! thread that accepts and closes (tcp), or nginx answering `GET /healthz`
//! with "200 OK" (http).

use std::net::{Ipv4Addr, TcpListener};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn pin(cpu: usize) -> std::io::Result<()> {
    // SAFETY: a local cpu_set_t, filled and passed by reference.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// In a child before exec: die with the benchmark, however it ends.
fn die_with_parent() -> std::io::Result<()> {
    // SAFETY: prctl(PR_SET_PDEATHSIG) takes plain integers.
    if unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

fn raise_nofile() {
    let lim = libc::rlimit {
        rlim_cur: 65536,
        rlim_max: 65536,
    };
    // SAFETY: setrlimit with a valid rlimit.
    unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) };
}

/// (user + system CPU seconds) of process `pid`.
fn cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = after.split_whitespace().collect();
    // (fields 14 and 15 of the whole line: utime, stime in clock ticks)
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    (ticks(11) + ticks(12)) / hz
}

/// nginx answering `GET /healthz` with "OK" on `port`, its workers on the
/// other core than vrrpd's.
fn nginx(dir: &Path, port: u16, cpus: usize) -> std::process::Child {
    let mask = if cpus > 1 { "10 10" } else { "1 1" };
    let d = dir.display();
    let conf = format!(
        "daemon off; pid {d}/nginx.pid; error_log {d}/nginx.log; worker_processes 2;\n\
         worker_cpu_affinity {mask}; worker_rlimit_nofile 65536;\n\
         events {{ worker_connections 16384; }}\n\
         http {{ access_log off; client_body_temp_path {d}; proxy_temp_path {d};\n\
         fastcgi_temp_path {d}; uwsgi_temp_path {d}; scgi_temp_path {d};\n\
         server {{ listen {port} backlog=4096; location = /healthz {{ return 200 \"OK\\n\"; }} }} }}\n"
    );
    std::fs::write(dir.join("nginx.conf"), conf).unwrap();
    let mut nginx = Command::new("nginx");
    nginx.args(["-c", &format!("{d}/nginx.conf")]);
    // SAFETY: pre_exec only calls prctl.
    unsafe { nginx.pre_exec(die_with_parent) };
    let child = nginx
        .spawn()
        .expect("nginx (make deps installs it) for http checks");
    std::thread::sleep(Duration::from_millis(500));
    child
}

/// (steal, all) clock ticks of the machine's CPUs so far: the time a
/// hypervisor gave our virtual CPUs to someone else shows up in lateness.
fn steal() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let cpu: Vec<u64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    (cpu.get(7).copied().unwrap_or(0), cpu.iter().take(8).sum())
}

fn real(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(127, 1, (i / 250) as u8, (i % 250 + 1) as u8)
}

/// Asks vrrpd: `checks` is the cheap summary, `status` everything.
fn ask(sock: &Path, what: &str) -> serde_json::Value {
    let text = vrrpd::control::ask(Some(sock), what).expect("vrrpd answers");
    serde_json::from_str(&text).expect("an answer in JSON")
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let arg = |i: usize, d: &str| args.get(i).cloned().unwrap_or_else(|| d.to_string());
    let checks: usize = arg(0, "10000").parse().expect("CHECKS");
    let interval_ms: u64 = arg(1, "1000").parse().expect("INTERVAL_MS");
    let secs: u64 = arg(2, "10").parse().expect("SECONDS");
    let kind = arg(3, "tcp");
    assert!(checks <= 250 * 256, "at most 64000 checks");
    assert!(kind == "tcp" || kind == "http", "tcp or http");
    raise_nofile();
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());

    let dir = std::env::temp_dir().join(format!("vrrpd-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let listener = TcpListener::bind("0.0.0.0:0").expect("listener");
    let port = listener.local_addr().unwrap().port();
    let http = kind == "http";
    let nginx = if http {
        drop(listener);
        Some(nginx(&dir, port, cpus))
    } else {
        std::thread::spawn(move || {
            let _ = pin(1 % cpus);
            for s in listener.incoming() {
                drop(s);
            }
        });
        None
    };

    let mut conf = String::new();
    let check = if http {
        format!("{{ type = \"http\", port = {port}, path = \"/healthz\", expect = \"OK\", interval_ms = {interval_ms}, timeout_ms = 1000 }}")
    } else {
        format!(
            "{{ type = \"tcp\", port = {port}, interval_ms = {interval_ms}, timeout_ms = 1000 }}"
        )
    };
    for (v, chunk) in (0..checks).collect::<Vec<_>>().chunks(100).enumerate() {
        conf += &format!(
            "[[virtual_server]]\nprotocol = \"tcp\"\naddress = \"10.{}.{}.1:80\"\n",
            v / 250,
            v % 250
        );
        for i in chunk {
            conf += &format!(
                "[[virtual_server.real]]\naddress = \"{}\"\ncheck = {check}\n",
                real(*i)
            );
        }
    }
    let cfg = dir.join("bench.toml");
    std::fs::write(&cfg, conf).unwrap();
    let sock = dir.join("ctl");
    let log = std::fs::File::create(dir.join("vrrpd.log")).unwrap();
    let mut daemon = Command::new(env!("CARGO_BIN_EXE_vrrpd"));
    daemon
        .args([
            "--config",
            cfg.to_str().unwrap(),
            "--socket",
            sock.to_str().unwrap(),
        ])
        .stdin(Stdio::null())
        .stderr(log);
    // SAFETY: pre_exec only makes system calls (sched_setaffinity, prctl).
    unsafe { daemon.pre_exec(|| pin(0).and_then(|_| die_with_parent())) };
    let mut child = daemon.spawn().expect("vrrpd starts");
    let pid = child.id();

    // (reading a file of 10,000 real servers takes a moment)
    let end = Instant::now() + Duration::from_secs(60);
    while vrrpd::control::ask(Some(&sock), "checks").is_err() {
        assert!(
            Instant::now() < end,
            "vrrpd did not start; see {}",
            dir.display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // Warm up: every check starts within its first interval, then rises.
    std::thread::sleep(Duration::from_millis(2 * interval_ms + 2000));
    let (s0, c0, st0, t0) = (ask(&sock, "checks"), cpu_secs(pid), steal(), Instant::now());
    std::thread::sleep(Duration::from_secs(secs));
    let (s1, c1, st1, wall) = (
        ask(&sock, "checks"),
        cpu_secs(pid),
        steal(),
        t0.elapsed().as_secs_f64(),
    );
    let t = Instant::now();
    let full = ask(&sock, "status");
    let status_ms = t.elapsed().as_secs_f64() * 1000.0;
    let _ = child.kill();
    let _ = child.wait();
    if let Some(mut n) = nginx {
        // (SIGTERM: nginx stops its workers too; SIGKILL would orphan them)
        // SAFETY: signalling our own child.
        unsafe { libc::kill(n.id() as libc::pid_t, libc::SIGTERM) };
        let _ = n.wait();
    }

    let stolen = (st1.0 - st0.0) as f64 / ((st1.1 - st0.1) as f64).max(1.0);
    let started = |s: &serde_json::Value| s["started"].as_f64().unwrap_or(0.0);
    let rate = (started(&s1) - started(&s0)) / wall;
    let cpu = (c1 - c0) / wall;
    let lat = &s1["lateness_recent"];
    let ms = |k: &str| lat[k].as_f64().unwrap_or(f64::NAN);
    let ups = full["virtual_servers"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|v| v["reals"].as_array().into_iter().flatten())
        .filter(|r| r["check"]["state"] == "up")
        .count();
    println!("vrrpd check engine: {checks} {kind} checks every {interval_ms} ms, {secs} s measured, one core ({cpus} on the machine)");
    println!("  checks per second     {rate:.0}");
    println!("  vrrpd CPU             {:.1} % of one core", cpu * 100.0);
    println!("  checks up             {ups} of {checks}");
    println!(
        "  start lateness        p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms (last {} starts)",
        ms("p50_ms"),
        ms("p99_ms"),
        ms("max_ms"),
        lat["starts"]
    );
    println!(
        "  CPU time stolen       {:.1} % (by the hypervisor, from both CPUs)",
        stolen * 100.0
    );
    println!(
        "  a full status         {status_ms:.0} ms ({} KiB)",
        full.to_string().len() / 1024
    );
    let kept = std::env::temp_dir().join("vrrpd-bench.log");
    let _ = std::fs::rename(dir.join("vrrpd.log"), &kept);
    println!("  vrrpd's log           {}", kept.display());
    let _ = std::fs::remove_dir_all(&dir);
}
