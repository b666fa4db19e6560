//! The daemon: one poll loop that feeds the sans-IO state machines
//! ([`crate::fsm`]) with time, packets, interface changes and signals, and
//! carries out what they return at the edges: sockets ([`crate::sock`]),
//! addresses and gratuitous ARP ([`crate::link`]), the drlb module
//! ([`crate::lb`]), notify scripts, and the status socket.

use crate::config::{self, Config, InstanceConfig};
use crate::fsm::{Action, Event, Instance, State};
use crate::packet::{Advert, RxCheck, RxError, Version, MCAST_V4, MCAST_V6};
use crate::sock::VrrpSocket;
use crate::{lb, link};
use serde_json::json;
use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::net::IpAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

/// keepalived's defaults: 5 gratuitous ARPs on becoming master, and 5
/// more 5 s later (garp_master_repeat, garp_master_delay).
const GARP_COUNT: u32 = 5;
const GARP_REFRESH: Duration = Duration::from_secs(5);
/// How often interfaces are looked at (and the loop wakes at the latest).
const LINK_POLL: Duration = Duration::from_millis(100);

/// Where `vrrpd status` finds the daemon: an abstract socket, which Linux
/// scopes to the network namespace, so daemons in different namespaces
/// never collide; `--socket PATH` picks a file instead.
pub const DEFAULT_SOCKET: &str = "vrrpd";

/// The control socket's address.
pub fn control_addr(path: Option<&Path>) -> io::Result<std::os::unix::net::SocketAddr> {
    use std::os::linux::net::SocketAddrExt;
    match path {
        Some(p) => std::os::unix::net::SocketAddr::from_pathname(p),
        None => std::os::unix::net::SocketAddr::from_abstract_name(DEFAULT_SOCKET),
    }
}

fn log(msg: impl std::fmt::Display) {
    eprintln!("vrrpd: {msg}");
}

fn state_name(s: State) -> &'static str {
    match s {
        State::Initialize => "INIT",
        State::Backup => "BACKUP",
        State::Master => "MASTER",
        State::Fault => "FAULT",
    }
}

/// Counters, as `status` shows them.
#[derive(Default)]
struct Counters {
    adverts_sent: u64,
    adverts_received: u64,
    /// Discarded packets by reason.
    bad: BTreeMap<&'static str, u64>,
}

fn bad_reason(e: &RxError) -> &'static str {
    match e {
        RxError::Decode(_) => "malformed",
        RxError::BadTtl(_) => "ttl",
        RxError::VersionMismatch(_) => "version",
        RxError::VridMismatch(_) => "other_vrid",
        RxError::LocalIsOwner => "owner",
        RxError::AuthMismatch => "auth",
        RxError::AddressMismatch => "addresses",
        RxError::IntervalMismatch(_) => "interval",
        RxError::ZeroInterval => "zero_interval",
    }
}

/// One running instance.
struct Running {
    cfg: InstanceConfig,
    fsm: Instance,
    sock: VrrpSocket,
    ifindex: u32,
    /// Where adverts come from: the primary IPv4 address, or the IPv6
    /// link-local one.
    src: IpAddr,
    mac: [u8; 6],
    rx: RxCheck,
    up: bool,
    holds_vips: bool,
    /// GARP bursts still to send.
    garp_at: Vec<Duration>,
    master: Option<IpAddr>,
    last_change: Option<(SystemTime, String)>,
    counters: Counters,
}

impl Running {
    fn start(cfg: InstanceConfig) -> io::Result<Self> {
        if cfg.use_vmac {
            return Err(io::Error::other(
                "use_vmac is not supported yet: the VIPs go on the interface itself",
            ));
        }
        let ifindex = link::ifindex(&cfg.interface)?;
        let vips: Vec<IpAddr> = cfg.virtual_ips.iter().map(|v| v.addr).collect();
        let src = match (cfg.unicast_src, cfg.is_ipv6()) {
            (Some(a), _) => a,
            (None, false) => IpAddr::V4(link::primary_v4(&cfg.interface, &vips)?),
            (None, true) => IpAddr::V6(link::link_local_v6(&cfg.interface)?),
        };
        let sock = VrrpSocket::open(&cfg.interface, ifindex, src)?;
        let mac = link::mac(&cfg.interface).unwrap_or_default();
        let fsm = Instance::new(cfg.fsm_params(src)).map_err(io::Error::other)?;
        let rx = cfg.rx_check();
        Ok(Self {
            cfg,
            fsm,
            sock,
            ifindex,
            src,
            mac,
            rx,
            up: true,
            // Unknown: a VIP left behind (a daemon killed with -9) is
            // removed when the instance first settles as backup.
            holds_vips: true,
            garp_at: vec![],
            master: None,
            last_change: None,
            counters: Counters::default(),
        })
    }

    fn name(&self) -> &str {
        &self.cfg.name
    }

    /// The interface and every tracked one are up.
    fn links_up(&self) -> bool {
        link::is_up(&self.cfg.interface) && self.cfg.track_interfaces.iter().all(|i| link::is_up(i))
    }

    /// Feeds one event and carries out the actions.
    fn handle(&mut self, now: Duration, event: Event, why: String) {
        let before = self.fsm.state();
        let actions = self.fsm.handle(now, event);
        let after = self.fsm.state();
        if after != before {
            log(format_args!(
                "{}: {} -> {} ({why})",
                self.name(),
                state_name(before),
                state_name(after)
            ));
            self.last_change = Some((
                SystemTime::now(),
                format!("{} -> {}: {why}", state_name(before), state_name(after)),
            ));
        }
        for a in actions {
            self.act(now, a);
        }
    }

    fn act(&mut self, now: Duration, a: Action) {
        match a {
            Action::SendAdvert { priority } => self.advertise(priority),
            Action::BecomeMaster => {
                self.master = Some(self.src);
                self.set_vips(true);
                self.garp_at = vec![now, now + GARP_REFRESH];
                self.drive_lb(true);
                self.notify("MASTER");
            }
            Action::BecomeBackup => {
                self.drive_lb(false);
                self.set_vips(false);
                self.garp_at.clear();
                self.notify("BACKUP");
            }
            Action::EnterInit => {
                self.drive_lb(false);
                self.set_vips(false);
                self.garp_at.clear();
            }
            Action::EnterFault => {
                self.drive_lb(false);
                self.set_vips(false);
                self.garp_at.clear();
                self.master = None;
                self.notify("FAULT");
            }
        }
    }

    fn advertise(&mut self, priority: u8) {
        let interval = match self.cfg.version {
            Version::V2 => (self.cfg.advert_interval_ms / 1000) as u16,
            Version::V3 => self.cfg.advert_interval_cs(),
        };
        let advert = Advert {
            version: self.cfg.version,
            vrid: self.cfg.vrid,
            priority,
            max_adver_int: interval,
            auth: self.cfg.auth(),
            addrs: self.cfg.virtual_ips.iter().map(|v| v.addr).collect(),
        };
        let group = if self.src.is_ipv6() {
            IpAddr::V6(MCAST_V6)
        } else {
            IpAddr::V4(MCAST_V4)
        };
        let dsts: Vec<IpAddr> = if self.cfg.unicast_peers.is_empty() {
            vec![group]
        } else {
            self.cfg
                .unicast_peers
                .iter()
                .filter(|p| p.is_ipv6() == self.src.is_ipv6())
                .copied()
                .collect()
        };
        for dst in dsts {
            match advert.encode(self.src, dst) {
                Ok(bytes) => match self.sock.send(self.src, dst, &bytes) {
                    Ok(()) => self.counters.adverts_sent += 1,
                    Err(e) if self.fsm.state() == State::Fault => drop(e), // the link is down
                    Err(e) => log(format_args!(
                        "{}: sending an advert to {dst}: {e}",
                        self.name()
                    )),
                },
                Err(e) => log(format_args!("{}: encoding an advert: {e}", self.name())),
            }
        }
    }

    /// Adds or removes the VIPs.
    fn set_vips(&mut self, add: bool) {
        if add == self.holds_vips {
            return;
        }
        for v in &self.cfg.virtual_ips {
            if let Err(e) = link::set_address(add, self.ifindex, v.addr, v.prefix_len) {
                log(format_args!(
                    "{}: {} {}: {e}",
                    self.name(),
                    if add { "adding" } else { "removing" },
                    v
                ));
            }
        }
        self.holds_vips = add;
    }

    fn garp(&mut self, now: Duration) {
        if self.garp_at.first().is_some_and(|t| *t <= now) {
            self.garp_at.remove(0);
            let vips: Vec<IpAddr> = self.cfg.virtual_ips.iter().map(|v| v.addr).collect();
            for _ in 0..GARP_COUNT {
                if let Err(e) = link::announce(self.ifindex, self.mac, &vips) {
                    log(format_args!("{}: announcing the VIPs: {e}", self.name()));
                    break;
                }
            }
        }
    }

    fn drive_lb(&self, active: bool) {
        if self.cfg.lb {
            if let Err(e) = lb::set_active(active) {
                log(format_args!(
                    "{}: drlb {}: {e:#}",
                    self.name(),
                    if active { "active" } else { "standby" }
                ));
            }
        }
    }

    /// Runs the notify script without waiting for it: `SCRIPT INSTANCE
    /// NAME STATE PRIORITY`, keepalived's arguments.
    fn notify(&self, state: &str) {
        if let Some(script) = &self.cfg.notify {
            let r = std::process::Command::new(script)
                .args([
                    "INSTANCE",
                    self.name(),
                    state,
                    &self.cfg.priority.to_string(),
                ])
                .stdin(std::process::Stdio::null())
                .spawn();
            if let Err(e) = r {
                log(format_args!(
                    "{}: notify {}: {e}",
                    self.name(),
                    script.display()
                ));
            }
        }
    }

    fn receive(&mut self, now: Duration) {
        loop {
            let pkt = match self.sock.recv() {
                Ok(Some(p)) => p,
                Ok(None) => return,
                Err(e) => {
                    log(format_args!("{}: receive: {e}", self.name()));
                    return;
                }
            };
            if pkt.src == self.src {
                continue; // our own, looped back
            }
            if !self.cfg.unicast_peers.is_empty() && !self.cfg.unicast_peers.contains(&pkt.src) {
                *self.counters.bad.entry("unknown_peer").or_default() += 1;
                continue;
            }
            match self.rx.receive(pkt.ttl, &pkt.payload, pkt.src, pkt.dst) {
                Ok((advert, _)) => {
                    self.counters.adverts_received += 1;
                    let interval = u16::try_from(advert.interval_cs()).unwrap_or(u16::MAX);
                    if advert.priority > 0 && self.fsm.state() != State::Master {
                        self.master = Some(pkt.src);
                    }
                    let why = format!("advert from {} priority {}", pkt.src, advert.priority);
                    self.handle(
                        now,
                        Event::Advert {
                            priority: advert.priority,
                            max_adver_int_cs: interval,
                            src_addr: pkt.src,
                        },
                        why,
                    );
                }
                Err(e) => {
                    let r = bad_reason(&e);
                    *self.counters.bad.entry(r).or_default() += 1;
                    if r != "other_vrid" {
                        log(format_args!(
                            "{}: discarded a packet from {}: {e}",
                            self.name(),
                            pkt.src
                        ));
                    }
                }
            }
        }
    }

    fn status(&self) -> serde_json::Value {
        let (at, reason) = match &self.last_change {
            Some((t, r)) => {
                let secs = t
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .map(|d| d.as_secs_f64())
                    .unwrap_or(0.0);
                (json!(secs), json!(r))
            }
            None => (json!(null), json!(null)),
        };
        json!({
            "name": self.cfg.name,
            "interface": self.cfg.interface,
            "vrid": self.cfg.vrid,
            "version": self.cfg.version.number(),
            "state": state_name(self.fsm.state()),
            "priority": self.cfg.priority,
            "master": self.master.map(|m| m.to_string()),
            "virtual_ips": self.cfg.virtual_ips.iter().map(|v| v.to_string()).collect::<Vec<_>>(),
            "last_transition": at,
            "last_transition_reason": reason,
            "adverts_sent": self.counters.adverts_sent,
            "adverts_received": self.counters.adverts_received,
            "bad_packets": self.counters.bad,
        })
    }
}

/// A signalfd for SIGTERM, SIGINT and SIGHUP (blocked for normal delivery).
fn signal_fd() -> io::Result<OwnedFd> {
    // SAFETY: sigset manipulation on a local set, then signalfd on it.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for s in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP] {
            libc::sigaddset(&mut set, s);
        }
        if libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) != 0 {
            return Err(io::Error::last_os_error());
        }
        // Notify scripts are never waited for: let the kernel reap them.
        libc::signal(libc::SIGCHLD, libc::SIG_IGN);
        let fd = libc::signalfd(-1, &set, libc::SFD_CLOEXEC | libc::SFD_NONBLOCK);
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(OwnedFd::from_raw_fd(fd))
    }
}

fn read_signal(fd: &OwnedFd) -> Option<i32> {
    let mut info = [0u8; 128];
    // SAFETY: reading one signalfd_siginfo (128 bytes) into `info`.
    let n = unsafe { libc::read(fd.as_raw_fd(), info.as_mut_ptr().cast(), info.len()) };
    (n == 128).then(|| i32::from_ne_bytes([info[0], info[1], info[2], info[3]]))
}

/// Runs the daemon with the configuration at `path` until SIGTERM.
pub fn run(path: &Path, socket: Option<PathBuf>) -> io::Result<()> {
    let cfg = config::load(path).map_err(|errs| {
        io::Error::other(
            errs.iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("\n"),
        )
    })?;
    let sigfd = signal_fd()?;
    if let Some(p) = &socket {
        let _ = std::fs::remove_file(p);
    }
    let listener = UnixListener::bind_addr(&control_addr(socket.as_deref())?).map_err(|e| {
        io::Error::other(format!(
            "control socket: {e} (is another vrrpd running in this namespace?)"
        ))
    })?;
    listener.set_nonblocking(true)?;
    let epoch = Instant::now();
    let mut instances: Vec<Running> = vec![];
    start_all(&mut instances, &cfg, epoch.elapsed());
    log(format_args!(
        "running {} instance(s) from {}",
        instances.len(),
        path.display()
    ));
    loop {
        let now = epoch.elapsed();
        for r in &mut instances {
            let up = r.links_up();
            if up != r.up {
                r.up = up;
                let ev = if up {
                    Event::InterfaceUp
                } else {
                    Event::InterfaceDown
                };
                r.handle(
                    now,
                    ev,
                    format!("interface {}", if up { "up" } else { "down" }),
                );
            }
            if r.fsm.next_deadline().is_some_and(|d| d <= now) {
                let why = if r.fsm.state() == State::Backup {
                    "master down timer expired"
                } else {
                    "advert timer"
                };
                r.handle(now, Event::Timer, why.into());
            }
            r.garp(now);
        }
        // Sleep until the next deadline, a packet, a signal or a request.
        let next = instances
            .iter()
            .flat_map(|r| {
                r.fsm
                    .next_deadline()
                    .into_iter()
                    .chain(r.garp_at.first().copied())
            })
            .min()
            .map_or(LINK_POLL, |d| {
                d.saturating_sub(epoch.elapsed()).min(LINK_POLL)
            });
        let mut fds: Vec<libc::pollfd> = vec![
            libc::pollfd {
                fd: sigfd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: listener.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        fds.extend(instances.iter().map(|r| libc::pollfd {
            fd: r.sock.raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        }));
        let ms = next.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: `fds` is a valid array of pollfd for its length.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
            continue;
        }
        let now = epoch.elapsed();
        if fds[0].revents != 0 {
            while let Some(sig) = read_signal(&sigfd) {
                if sig == libc::SIGHUP {
                    reload(&mut instances, path, now);
                } else {
                    log("stopping: releasing every instance");
                    for r in &mut instances {
                        r.handle(now, Event::Shutdown, "shutdown".into());
                        r.notify("STOP");
                    }
                    if let Some(p) = &socket {
                        let _ = std::fs::remove_file(p);
                    }
                    return Ok(());
                }
            }
        }
        if fds[1].revents != 0 {
            while let Ok((stream, _)) = listener.accept() {
                answer(stream, &instances);
            }
        }
        for (i, r) in instances.iter_mut().enumerate() {
            if fds[2 + i].revents != 0 {
                r.receive(now);
            }
        }
    }
}

fn start_all(instances: &mut Vec<Running>, cfg: &Config, now: Duration) {
    for c in &cfg.instances {
        start_one(instances, c.clone(), now);
    }
}

fn start_one(instances: &mut Vec<Running>, c: InstanceConfig, now: Duration) {
    let name = c.name.clone();
    match Running::start(c) {
        Ok(mut r) => {
            r.up = r.links_up();
            if !r.up {
                r.handle(now, Event::InterfaceDown, "interface down at start".into());
            }
            r.handle(now, Event::Startup, "startup".into());
            instances.push(r);
        }
        Err(e) => log(format_args!("{name}: not started: {e}")),
    }
}

/// SIGHUP: instances whose configuration did not change go on untouched;
/// changed ones restart, removed ones release, new ones start. A bad file
/// changes nothing.
fn reload(instances: &mut Vec<Running>, path: &Path, now: Duration) {
    let cfg = match config::load(path) {
        Ok(c) => c,
        Err(errs) => {
            for e in errs {
                log(format_args!("reload refused: {e}"));
            }
            return;
        }
    };
    let mut kept = vec![];
    for mut r in std::mem::take(instances) {
        if cfg.instances.iter().any(|c| same_instance(c, &r.cfg)) {
            kept.push(r);
        } else {
            r.handle(now, Event::Shutdown, "removed or changed by reload".into());
        }
    }
    *instances = kept;
    for c in &cfg.instances {
        if !instances.iter().any(|r| same_instance(c, &r.cfg)) {
            start_one(instances, c.clone(), now);
        }
    }
    log(format_args!(
        "reloaded {}: {} instance(s)",
        path.display(),
        instances.len()
    ));
}

/// The same instance, ignoring where in the file it sits.
fn same_instance(a: &InstanceConfig, b: &InstanceConfig) -> bool {
    InstanceConfig {
        line: 0,
        ..a.clone()
    } == InstanceConfig {
        line: 0,
        ..b.clone()
    }
}

/// Answers one status request: the instances as JSON.
/// The request itself is not read: there is one kind, and a client that
/// never sends must not hold up the protocol. The answer fits the socket
/// buffer, so the non-blocking write completes at once.
fn answer(mut stream: UnixStream, instances: &[Running]) {
    let _ = stream.set_nonblocking(true);
    let v = json!({ "instances": instances.iter().map(Running::status).collect::<Vec<_>>() });
    let _ = writeln!(stream, "{v}");
}

/// `vrrpd status`: asks the daemon and prints its answer.
pub fn status(socket: Option<&Path>, json_out: bool) -> io::Result<()> {
    let mut s = UnixStream::connect_addr(&control_addr(socket)?)
        .map_err(|e| io::Error::other(format!("no vrrpd answers in this namespace ({e})")))?;
    // (Connecting is the request: the daemon answers and closes.)
    let mut text = String::new();
    s.read_to_string(&mut text)?;
    if json_out {
        print!("{text}");
        return Ok(());
    }
    let v: serde_json::Value = serde_json::from_str(&text).map_err(io::Error::other)?;
    for i in v["instances"].as_array().into_iter().flatten() {
        println!(
            "{} ({} vrid {} v{}): {} priority {} master {}",
            i["name"].as_str().unwrap_or("?"),
            i["interface"].as_str().unwrap_or("?"),
            i["vrid"],
            i["version"],
            i["state"].as_str().unwrap_or("?"),
            i["priority"],
            i["master"].as_str().unwrap_or("unknown"),
        );
        if let Some(r) = i["last_transition_reason"].as_str() {
            println!("  last transition: {r}");
        }
        println!(
            "  adverts sent {} received {}; bad packets {}",
            i["adverts_sent"], i["adverts_received"], i["bad_packets"]
        );
    }
    Ok(())
}
