//! drlb-tool: configure and inspect the drlb kernel load balancer, the way
//! ipvsadm does for IPVS. Every command talks to the module over the generic
//! netlink family `drlb`, in the caller's network namespace.

mod conns;

use drlb_tool::config::{self, Op, State};
use drlb_tool::{addr, list, netlink};

use anyhow::Result;
use clap::{Args, Parser, Subcommand};
use drlb_core::proto::{self, attr, cmd};
use drlb_core::sched::Scheduler;
use netlink::{Attr, Attrs, Client};
use std::net::SocketAddr;

#[derive(Parser)]
#[command(
    name = "drlb-tool",
    version,
    about = "Configure and inspect the drlb load balancer"
)]
struct Cli {
    /// Run in the named network namespace (/run/netns/NAME), like `ip -n`
    #[arg(short = 'n', long, global = true, value_name = "NAME")]
    netns: Option<String>,
    /// Read commands from FILE ("-": standard input), one per line, like
    /// `ip -b`; stops at the first failure and names its line
    #[arg(short = 'b', long, value_name = "FILE")]
    batch: Option<String>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Show the module version, the active/standby state and counters
    Status {
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Print the state, or switch this namespace to active or standby
    State {
        /// The new state
        state: Option<State>,
    },
    /// Add, edit or delete a virtual service
    Service {
        #[command(subcommand)]
        op: ServiceOp,
    },
    /// Add, edit or delete a real server of a service
    Real {
        #[command(subcommand)]
        op: RealOp,
    },
    /// List services and their real servers with counters, like ipvsadm -Ln
    List {
        /// Print JSON
        #[arg(long)]
        json: bool,
        /// Totals: connections, packets, bytes (ipvsadm --stats)
        #[arg(long, conflicts_with = "rate")]
        stats: bool,
        /// Rates: connections, packets, bytes per second (ipvsadm --rate)
        #[arg(long)]
        rate: bool,
        /// Only this service (like ipvsadm -Ln -t VIP:PORT)
        #[arg(long, num_args = 2, value_names = ["PROTO", "VIP:PORT"])]
        service: Option<Vec<String>>,
    },
    /// Show or set the connection-table limits and flood mode
    Limits {
        /// Maximum connection-table entries
        #[arg(long)]
        conn_max: Option<u32>,
        /// New connections per second above which flood mode engages (0: never)
        #[arg(long)]
        flood_rate: Option<u32>,
        /// Expire connections of a deleted real server (like IPVS expire_nodest_conn)
        #[arg(long)]
        expire_nodest: Option<bool>,
    },
    /// Show or set the connection timeouts, like ipvsadm --set
    Timeouts {
        /// TCP ESTABLISHED, seconds
        #[arg(long)]
        tcp: Option<u32>,
        /// TCP FIN_WAIT, seconds
        #[arg(long)]
        tcpfin: Option<u32>,
        /// UDP, seconds
        #[arg(long)]
        udp: Option<u32>,
        /// TCP SYN_RECV, seconds
        #[arg(long)]
        tcpsyn: Option<u32>,
        /// TCP CLOSE, seconds
        #[arg(long)]
        tcpclose: Option<u32>,
        /// Any TCP state's timeout, as STATE=SECONDS (e.g. TIME_WAIT=60); repeatable
        #[arg(long = "state", value_name = "STATE=SECONDS", value_parser = conns::state_timeout)]
        states: Vec<(drlb_core::tcp_state::TcpState, u32)>,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// List connections, like ipvsadm -Lnc
    Conns {
        #[command(flatten)]
        filter: ConnFilter,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Connection sync: the module's sync state and counters, and a
    /// running vrrpd's relay (peers, pull, datagrams) when one answers
    Sync {
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Expire connections
    Conn {
        #[command(subcommand)]
        op: ConnOp,
    },
    /// Which real server a flow goes to, and why, without creating state
    Flow {
        /// tcp or udp
        proto: String,
        /// CLIENT:PORT, or [IPv6]:PORT
        client: String,
        /// VIP:PORT, or [IPv6]:PORT
        service: String,
        /// Ask about a TCP segment without SYN (a flow in progress)
        #[arg(long)]
        midflow: bool,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Reset the counters, of one service or of all, like ipvsadm -Z
    Zero {
        /// tcp or udp (with VIP:PORT: only that service)
        proto: Option<String>,
        /// VIP:PORT, or [IPv6]:PORT
        addr: Option<String>,
    },
    /// Follow the module's events (state changes, real servers added,
    /// removed or re-weighted) until interrupted
    Monitor {
        /// One JSON object per line
        #[arg(long)]
        json: bool,
    },
    /// Print the running configuration as a TOML file (for apply)
    Save,
    /// Make the running configuration match FILE, changing only what differs
    /// (unchanged services and real servers keep connections and counters)
    Apply {
        /// The configuration file (as save writes it)
        file: String,
        /// Print the changes as drlb-tool batch lines; change nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// Convert `ipvsadm -Sn` output (FILE, or - for stdin) into a
    /// configuration file for apply
    ImportIpvsadm {
        /// ipvsadm -Sn output
        file: String,
    },
    /// Delete every service, real server and connection in this namespace
    Flush,
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell)
    #[command(hide = true)]
    Completions {
        /// The shell
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff)
    #[command(hide = true)]
    Manpage,
}

/// The man page: section 8, as a system administration command (it
/// configures the kernel, as ipvsadm(8) does).
fn man() -> clap_mangen::Man {
    clap_mangen::Man::new(<Cli as clap::CommandFactory>::command()).section("8")
}

#[derive(Args)]
struct ConnFilter {
    /// Only this service
    #[arg(long, num_args = 2, value_names = ["PROTO", "VIP:PORT"])]
    service: Option<Vec<String>>,
    /// Only this client
    #[arg(long, value_name = "IP")]
    client: Option<String>,
    /// Only connections to this real server
    #[arg(long, value_name = "IP")]
    real: Option<String>,
}

#[derive(Subcommand)]
enum ConnOp {
    /// Expire the matching connections (their next packet is scheduled anew)
    Del {
        #[command(flatten)]
        filter: ConnFilter,
    },
}

/// A scheduler name, checked against the schedulers drlb-core knows.
fn scheduler(s: &str) -> std::result::Result<Scheduler, String> {
    Scheduler::from_name(s.as_bytes()).ok_or_else(|| {
        let names: Vec<_> = Scheduler::ALL.iter().map(|s| s.name()).collect();
        format!("unknown scheduler '{s}' ({})", names.join(", "))
    })
}

#[derive(Args)]
struct ServiceSpec {
    /// tcp or udp
    proto: String,
    /// VIP:PORT, or [IPv6]:PORT
    addr: String,
}

#[derive(Args)]
struct ServiceOpts {
    /// The scheduler: rr, wrr, lc, wlc (the default, as IPVS), sh or maglev
    #[arg(long, short = 's', value_parser = scheduler)]
    scheduler: Option<Scheduler>,
    /// Client-IP affinity timeout in seconds, like ipvsadm -p
    #[arg(long, short = 'p')]
    persistence: Option<u32>,
    /// Seed of the maglev and sh hashes: keep it equal on every director
    #[arg(long)]
    seed: Option<u32>,
    /// maglev: hash the whole flow (addresses and ports), not only the
    /// client address (IPVS's mh-port)
    #[arg(long)]
    mh_port: bool,
    /// The service's own switch: a standby service forwards nothing on this
    /// director (new services are active unless told otherwise)
    #[arg(long, value_enum)]
    state: Option<State>,
}

#[derive(Subcommand)]
enum ServiceOp {
    /// Add a service
    Add {
        #[command(flatten)]
        svc: ServiceSpec,
        #[command(flatten)]
        opts: ServiceOpts,
    },
    /// Change a service's scheduler, persistence, seed or state
    Edit {
        #[command(flatten)]
        svc: ServiceSpec,
        #[command(flatten)]
        opts: ServiceOpts,
    },
    /// Delete a service, its real servers and its connections
    Del {
        #[command(flatten)]
        svc: ServiceSpec,
    },
}

#[derive(Subcommand)]
enum RealOp {
    /// Add a real server (same port as the service, as DR requires)
    Add {
        #[command(flatten)]
        svc: ServiceSpec,
        /// The real server's IP
        real: String,
        /// Weight 0..65535 (0: no new connections)
        #[arg(long, short = 'w', value_parser = clap::value_parser!(u32).range(0..=65535))]
        weight: Option<u32>,
    },
    /// Change a real server's weight
    Edit {
        #[command(flatten)]
        svc: ServiceSpec,
        /// The real server's IP
        real: String,
        /// Weight 0..65535 (0: drain)
        #[arg(long, short = 'w', value_parser = clap::value_parser!(u32).range(0..=65535))]
        weight: u32,
    },
    /// Delete a real server
    Del {
        #[command(flatten)]
        svc: ServiceSpec,
        /// The real server's IP
        real: String,
    },
}

fn main() {
    let cli = Cli::parse();
    let result = match (&cli.batch, cli.command) {
        (Some(_), Some(_)) => Err(anyhow::anyhow!(
            "-b FILE takes its commands from FILE, not from the command line"
        )),
        (Some(file), None) => batch(cli.netns.as_deref(), file),
        (None, Some(command)) => cli
            .netns
            .as_deref()
            .map(enter_netns)
            .transpose()
            .and_then(|_| run(command, &mut None)),
        (None, None) => Err(anyhow::anyhow!("no command given (see --help)")),
    };
    if let Err(e) = result {
        eprintln!("drlb-tool: {e:#}");
        std::process::exit(1);
    }
}

/// Runs each line of `file` as a command, in namespace `netns`.
fn batch(netns: Option<&str>, file: &str) -> Result<()> {
    if let Some(ns) = netns {
        enter_netns(ns)?;
    }
    let text = read_input(file)?;
    // Parse every line first: a bad line fails the batch before anything
    // is sent.
    let mut commands = vec![];
    for (i, line) in text.lines().enumerate() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.is_empty() || words[0].starts_with('#') {
            continue;
        }
        let cli = Cli::try_parse_from(std::iter::once("drlb-tool").chain(words.iter().copied()))
            .map_err(|e| {
                let first = e.render().to_string();
                anyhow::anyhow!(
                    "{file}:{}: {}",
                    i + 1,
                    first.lines().next().unwrap_or("bad command")
                )
            })?;
        let command = cli
            .command
            .ok_or_else(|| anyhow::anyhow!("{file}:{}: no command", i + 1))?;
        commands.push((i + 1, command));
    }
    let mut client = None;
    for (line, command) in commands {
        run(command, &mut client).map_err(|e| anyhow::anyhow!("{file}:{line}: {e:#}"))?;
    }
    Ok(())
}

/// The service a command names: its protocol number and address.
fn service_spec(s: &ServiceSpec) -> Result<(u8, SocketAddr)> {
    Ok((addr::proto(&s.proto)?, addr::service(&s.addr)?))
}

/// A `service` or `real` command as the operation it sends, its
/// arguments checked.
fn config_op(c: &Command) -> Result<Op> {
    let settings = |o: &ServiceOpts| config::Settings {
        scheduler: o.scheduler,
        persistence: o.persistence,
        seed: o.seed,
        mh_port: o.mh_port,
        state: o.state,
    };
    Ok(match c {
        Command::Service { op } => match op {
            ServiceOp::Add { svc, opts } => {
                let (proto, vip) = service_spec(svc)?;
                Op::ServiceAdd {
                    proto,
                    vip,
                    settings: settings(opts),
                }
            }
            ServiceOp::Edit { svc, opts } => {
                let (proto, vip) = service_spec(svc)?;
                Op::ServiceEdit {
                    proto,
                    vip,
                    settings: settings(opts),
                }
            }
            ServiceOp::Del { svc } => {
                let (proto, vip) = service_spec(svc)?;
                Op::ServiceDel { proto, vip }
            }
        },
        Command::Real { op } => {
            let (svc, real) = match op {
                RealOp::Add { svc, real, .. }
                | RealOp::Edit { svc, real, .. }
                | RealOp::Del { svc, real } => (svc, real),
            };
            let (proto, vip) = service_spec(svc)?;
            let real = addr::real(real, &vip)?;
            match op {
                // (the module's default weight is 1 too)
                RealOp::Add { weight, .. } => Op::RealAdd {
                    proto,
                    vip,
                    real,
                    weight: weight.unwrap_or(1),
                },
                RealOp::Edit { weight, .. } => Op::RealEdit {
                    proto,
                    vip,
                    real,
                    weight: *weight,
                },
                RealOp::Del { .. } => Op::RealDel { proto, vip, real },
            }
        }
        _ => anyhow::bail!("internal: not a service or real server command"),
    })
}

/// Runs one command over `client`'s netlink socket, which it opens on first
/// use (a batch keeps one socket for all its lines).
fn run(cli_command: Command, client: &mut Option<Client>) -> Result<()> {
    // Check every argument before talking to the kernel.
    let (command, attrs, dump) = match &cli_command {
        Command::Status { .. } | Command::List { .. } => (cmd::STATUS, vec![], false),
        Command::State { state: None } => (cmd::STATUS, vec![], false),
        Command::State { state: Some(s) } => (
            cmd::SET_STATE,
            vec![Attr::u8(attr::STATE, s.to_u8())],
            false,
        ),
        Command::Service { .. } | Command::Real { .. } => {
            let (c, a) = config_op(&cli_command)?.request();
            (c, a, false)
        }
        Command::Limits {
            conn_max,
            flood_rate,
            expire_nodest,
        } => {
            let mut a = vec![];
            if let Some(m) = conn_max {
                if *m == 0 {
                    anyhow::bail!("--conn-max must be at least 1");
                }
                a.push(Attr::u32(attr::CONN_MAX, *m));
            }
            if let Some(r) = flood_rate {
                a.push(Attr::u32(attr::FLOOD_RATE, *r));
            }
            if let Some(e) = expire_nodest {
                a.push(Attr::u8(attr::EXPIRE_NODEST, u8::from(*e)));
            }
            if a.is_empty() {
                (cmd::LIMITS_GET, a, false)
            } else {
                (cmd::LIMITS_SET, a, false)
            }
        }
        Command::Timeouts {
            tcp,
            tcpfin,
            udp,
            tcpsyn,
            tcpclose,
            states,
            ..
        } => {
            let a = conns::timeout_attrs([*tcp, *tcpfin, *udp, *tcpsyn, *tcpclose], states)?;
            if a.is_empty() {
                (cmd::TIMEOUTS_GET, a, false)
            } else {
                (cmd::TIMEOUTS_SET, a, false)
            }
        }
        Command::Conns { filter, .. } => (
            cmd::CONN_GET,
            conns::filter(
                filter.service.as_deref(),
                filter.client.as_deref(),
                filter.real.as_deref(),
            )?,
            true,
        ),
        Command::Conn {
            op: ConnOp::Del { filter },
        } => {
            let a = conns::filter(
                filter.service.as_deref(),
                filter.client.as_deref(),
                filter.real.as_deref(),
            )?;
            if a.is_empty() {
                anyhow::bail!("conn del: say which connections (--service, --client or --real)");
            }
            (cmd::CONN_DEL, a, false)
        }
        Command::Flow {
            proto,
            client,
            service,
            midflow,
            ..
        } => (
            cmd::FLOW_QUERY,
            conns::flow_attrs(proto, client, service, *midflow)?,
            false,
        ),
        Command::Save | Command::Apply { .. } | Command::Monitor { .. } => {
            (cmd::SERVICE_GET, vec![], true)
        }
        Command::Zero { proto, addr } => match (proto, addr) {
            (None, None) => (cmd::ZERO, vec![], false),
            (Some(p), Some(a)) => (cmd::ZERO, addr::service_key(p, a)?.1, false),
            _ => anyhow::bail!("zero takes no service, or PROTO VIP:PORT"),
        },
        Command::ImportIpvsadm { file } => {
            let text = read_input(file)?;
            let f = config::import_ipvsadm(&text).map_err(|e| anyhow::anyhow!("{file}: {e}"))?;
            print!("{}", f.to_toml()?);
            return Ok(());
        }
        Command::Flush => (cmd::FLUSH, vec![], false),
        Command::Sync { json } => {
            // (vrrpd's side shows without the module, and the other way)
            let nl = match client.take() {
                Some(c) => Ok(c),
                None => Client::connect(),
            };
            return match nl {
                Ok(mut nl) => {
                    let r = drlb_tool::sync::show(Some(&mut nl), *json);
                    *client = Some(nl);
                    r
                }
                Err(e) => drlb_tool::sync::show(None, *json).map_err(|_| e),
            };
        }
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(*shell, &mut cmd, "drlb-tool", &mut std::io::stdout());
            return Ok(());
        }
        Command::Manpage => {
            man().render(&mut std::io::stdout())?;
            return Ok(());
        }
    };
    let mut nl = match client.take() {
        Some(c) => c,
        None => Client::connect()?,
    };
    let result = run_on(&mut nl, cli_command, command, attrs, dump);
    *client = Some(nl);
    result
}

/// [`run`]'s second half: the request, and its answer printed.
fn run_on(
    nl: &mut Client,
    cli_command: Command,
    command: u8,
    attrs: Vec<Attr>,
    dump: bool,
) -> Result<()> {
    match cli_command {
        Command::List {
            json,
            stats,
            rate,
            service,
        } => {
            let view = if stats {
                list::View::Stats
            } else if rate {
                list::View::Rate
            } else {
                list::View::Default
            };
            let only = match service.as_deref() {
                Some([p, a]) => Some(addr::service_key(p, a)?.1),
                _ => None,
            };
            list::list(nl, json, view, only)
        }
        Command::Save => {
            print!(
                "{}",
                config::File::from_running(&list::read(nl)?).to_toml()?
            );
            Ok(())
        }
        Command::Apply { file, dry_run } => apply(nl, &file, dry_run),
        Command::Monitor { json } => monitor(nl, json),
        Command::Status { json } => status(nl, json),
        Command::State { state: None } => {
            let r = nl.request(cmd::STATUS, vec![], false)?;
            let a = r.first().map(Vec::as_slice).unwrap_or_default();
            println!(
                "{}",
                proto::state_name(a.u8(attr::STATE).unwrap_or(u8::MAX))
            );
            Ok(())
        }
        Command::Timeouts { json, .. } if command == cmd::TIMEOUTS_GET => {
            conns::print_timeouts(nl, json)
        }
        Command::Conns { json, .. } => conns::conns(nl, attrs, json),
        Command::Flow { json, .. } => conns::flow(nl, attrs, json),
        Command::Limits { .. } if command == cmd::LIMITS_GET => {
            let r = nl.request(cmd::LIMITS_GET, vec![], false)?;
            print_limits(r.first().map(Vec::as_slice).unwrap_or_default());
            Ok(())
        }
        _ => {
            nl.request(command, attrs, dump)?;
            Ok(())
        }
    }
}

/// One event as `monitor` prints it: (text, JSON).
fn event_line(cmd: u8, a: &[Attr]) -> (String, serde_json::Value) {
    if cmd == cmd::EVENT_STATE {
        let st = proto::state_name(a.u8(attr::STATE).unwrap_or(u8::MAX));
        return (
            format!("state {st}"),
            serde_json::json!({ "event": "state", "state": st }),
        );
    }
    let ip = |k| a.raw(k).and_then(addr::from_bytes);
    let svc = match (a.u8(attr::PROTO), ip(attr::VIP), a.u16(attr::PORT)) {
        (Some(p), Some(v), Some(port)) => Some(format!(
            "{} {}",
            addr::proto_name(p),
            addr::with_port(v, port)
        )),
        _ => None,
    };
    let real = ip(attr::REAL).map(|r| r.to_string());
    let weight = (cmd != cmd::EVENT_REAL_DEL).then(|| a.u32(attr::WEIGHT));
    let (kind, verb) = match cmd {
        cmd::EVENT_REAL_NEW => ("real-add", "add"),
        cmd::EVENT_REAL_SET => ("real-edit", "edit"),
        cmd::EVENT_REAL_DEL => ("real-del", "del"),
        _ => ("unknown", ""),
    };
    let text = if verb.is_empty() {
        format!("event {cmd}")
    } else {
        let w = weight
            .map(|w| format!(" weight {}", w.unwrap_or(0)))
            .unwrap_or_default();
        format!(
            "real {verb} {} {}{w}",
            svc.as_deref().unwrap_or_default(),
            real.as_deref().unwrap_or_default()
        )
    };
    let mut j = serde_json::json!({ "event": kind, "service": svc, "real": real });
    if let Some(w) = weight {
        j["weight"] = w.into();
    }
    (text, j)
}

/// `monitor`: prints each event as it comes (flushing, for pipes).
fn monitor(nl: &mut Client, json: bool) -> Result<()> {
    use std::io::Write;
    nl.subscribe()?;
    let mut out = std::io::stdout().lock();
    loop {
        for (c, a) in nl.events()? {
            let (text, j) = event_line(c, &a);
            if json {
                writeln!(out, "{j}")?
            } else {
                writeln!(out, "{text}")?
            }
            out.flush()?;
        }
    }
}

fn read_input(file: &str) -> Result<String> {
    use std::io::Read;
    let mut text = String::new();
    if file == "-" {
        std::io::stdin().read_to_string(&mut text)?;
    } else {
        text = std::fs::read_to_string(file).map_err(|e| anyhow::anyhow!("{file}: {e}"))?;
    }
    Ok(text)
}

/// `apply FILE`: the diff against the running configuration, sent in
/// order, each printed as its batch line first (or only printed).
fn apply(nl: &mut Client, file: &str, dry_run: bool) -> Result<()> {
    let wanted = config::File::parse(&read_input(file)?, file)?;
    let running = config::File::from_running(&list::read(nl)?);
    let ops = config::diff(&running, &wanted)?;
    if ops.is_empty() {
        println!("no changes");
        return Ok(());
    }
    for op in &ops {
        println!("{op}");
        if !dry_run {
            op.send(nl).map_err(|e| anyhow::anyhow!("'{op}': {e:#}"))?;
        }
    }
    Ok(())
}

/// Moves this process into network namespace `name`, as `ip netns exec`
/// would (the netlink socket opened afterwards belongs to it).
fn enter_netns(name: &str) -> Result<()> {
    use std::os::fd::AsRawFd;
    if name.contains('/') || name.is_empty() {
        anyhow::bail!("bad namespace name '{name}'");
    }
    let path = format!("/run/netns/{name}");
    let f =
        std::fs::File::open(&path).map_err(|e| anyhow::anyhow!("network namespace {name}: {e}"))?;
    // SAFETY: setns() on a valid namespace fd has no memory-safety concerns.
    if unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        anyhow::bail!(
            "entering network namespace {name}: {}",
            std::io::Error::last_os_error()
        );
    }
    Ok(())
}

fn print_limits(a: &[Attr]) {
    println!(
        "connections: {} of {}",
        a.u32(attr::CONN_COUNT).unwrap_or(0),
        a.u32(attr::CONN_MAX).unwrap_or(0)
    );
    println!("buckets: {}", a.u32(attr::CONN_BUCKETS).unwrap_or(0));
    println!("entry size: {} bytes", a.u32(attr::CONN_SIZE).unwrap_or(0));
    println!(
        "flood rate: {} new connections/s",
        a.u32(attr::FLOOD_RATE).unwrap_or(0)
    );
    println!(
        "flood mode: {}",
        if a.u8(attr::FLOOD_ACTIVE) == Some(1) {
            "on"
        } else {
            "off"
        }
    );
    println!("stateless flows: {}", a.u64(attr::STATELESS).unwrap_or(0));
    println!("fragments passed: {}", a.u64(attr::FRAGMENTS).unwrap_or(0));
    println!("drops: {}", a.u64(attr::DROPS).unwrap_or(0));
    println!(
        "mid-flow segments placed without state: {}",
        a.u64(attr::MIDFLOW).unwrap_or(0)
    );
    println!(
        "ICMP errors forwarded: {}",
        a.u64(attr::ICMP_FORWARDED).unwrap_or(0)
    );
    println!(
        "packets over the MTU (answered too big): {}",
        a.u64(attr::TOO_BIG).unwrap_or(0)
    );
    println!("expire nodest: {}", a.u8(attr::EXPIRE_NODEST) == Some(1));
}

fn status(nl: &mut Client, json: bool) -> Result<()> {
    let r = nl.request(cmd::STATUS, vec![], false)?;
    let a = r.first().map(Vec::as_slice).unwrap_or_default();
    let version = a.string(attr::VERSION).unwrap_or_default();
    let state = proto::state_name(a.u8(attr::STATE).unwrap_or(u8::MAX));
    let hook = a.u64(attr::HOOK_PACKETS).unwrap_or(0);
    if json {
        let v = serde_json::json!({
            "version": version, "state": state, "hook_packets": hook,
            "connections": a.u32(attr::CONN_COUNT), "conn_max": a.u32(attr::CONN_MAX),
            "flood_active": a.u8(attr::FLOOD_ACTIVE) == Some(1),
        });
        println!("{v}");
    } else {
        println!("drlb {version}");
        println!("state: {state}");
        println!("hook packets: {hook}");
        println!("connections: {}", a.u32(attr::CONN_COUNT).unwrap_or(0));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn events_print_as_text_and_json() {
        let key = addr::service_key("tcp", "198.51.100.10:80").unwrap().1;
        let mut a = key.clone();
        a.push(Attr::bytes(attr::REAL, vec![198, 51, 100, 21]));
        a.push(Attr::u32(attr::WEIGHT, 3));
        let (t, j) = event_line(cmd::EVENT_REAL_SET, &a);
        assert_eq!(t, "real edit tcp 198.51.100.10:80 198.51.100.21 weight 3");
        assert_eq!(
            j,
            serde_json::json!({"event": "real-edit", "service": "tcp 198.51.100.10:80", "real": "198.51.100.21", "weight": 3})
        );
        let (t, j) = event_line(cmd::EVENT_REAL_DEL, &a);
        assert_eq!(t, "real del tcp 198.51.100.10:80 198.51.100.21");
        assert!(j.get("weight").is_none());
        let (t, j) = event_line(
            cmd::EVENT_STATE,
            &[Attr::u8(attr::STATE, proto::STATE_STANDBY)],
        );
        assert_eq!(
            (t.as_str(), j),
            (
                "state standby",
                serde_json::json!({"event": "state", "state": "standby"})
            )
        );
    }

    #[test]
    fn the_cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn completions_and_the_man_page_cover_every_command() {
        let mut bash = vec![];
        clap_complete::generate(
            clap_complete::Shell::Bash,
            &mut Cli::command(),
            "drlb-tool",
            &mut bash,
        );
        let bash = String::from_utf8(bash).unwrap();
        let mut man = vec![];
        super::man().render(&mut man).unwrap();
        let man = String::from_utf8(man).unwrap().replace("\\-", "-"); // roff escapes dashes
        assert!(
            man.lines().any(|l| l.starts_with(".TH drlb-tool 8 ")),
            "the man page is not in section 8"
        );
        for c in [
            "service",
            "real",
            "list",
            "conns",
            "flow",
            "timeouts",
            "apply",
            "save",
            "import-ipvsadm",
            "monitor",
            "zero",
        ] {
            assert!(bash.contains(c), "bash completion lacks {c}");
            assert!(man.contains(c), "man page lacks {c}");
        }
    }

    #[test]
    fn service_and_real_commands_are_the_ops_apply_sends() {
        for line in [
            "service add tcp 198.51.100.10:80 --scheduler maglev --seed 3 --mh-port --state standby",
            "service edit udp [2001:db8::10]:53 --state active",
            "service edit tcp 198.51.100.10:80 --persistence 0",
            "service del tcp 198.51.100.10:80",
            "real add tcp 198.51.100.10:80 198.51.100.21 --weight 1",
            "real edit tcp 198.51.100.10:80 198.51.100.21 --weight 0",
            "real del udp [2001:db8::10]:53 2001:db8::21",
        ] {
            let cli = Cli::try_parse_from(std::iter::once("drlb-tool").chain(line.split_whitespace()))
                .unwrap();
            let op = config_op(&cli.command.unwrap()).unwrap();
            assert_eq!(op.to_string(), line);
        }
        let cli = Cli::try_parse_from([
            "drlb-tool",
            "real",
            "add",
            "tcp",
            "198.51.100.10:80",
            "198.51.100.21",
        ])
        .unwrap();
        assert_eq!(
            config_op(&cli.command.unwrap()).unwrap().to_string(),
            "real add tcp 198.51.100.10:80 198.51.100.21 --weight 1",
            "weight 1 by default, as the module's"
        );
    }

    #[test]
    fn bad_arguments_are_rejected_before_anything_is_sent() {
        let parse = |args: &[&str]| {
            Cli::try_parse_from(std::iter::once("drlb-tool").chain(args.iter().copied()))
        };
        assert!(parse(&[
            "real",
            "add",
            "tcp",
            "198.51.100.10:80",
            "198.51.100.21",
            "--weight",
            "65536"
        ])
        .is_err());
        assert!(parse(&[
            "service",
            "add",
            "tcp",
            "198.51.100.10:80",
            "--scheduler",
            "lblc"
        ])
        .is_err());
        assert!(parse(&["state", "bogus"]).is_err());
        assert!(parse(&[
            "service",
            "edit",
            "tcp",
            "198.51.100.10:80",
            "--state",
            "down"
        ])
        .is_err());
        assert!(parse(&["list", "--stats", "--rate"]).is_err());
        // Parsed, then refused by the checks in run() before connecting.
        let cmd = |args: &[&str]| parse(args).unwrap().command.unwrap();
        for bad in [
            &["service", "add", "tcp", "198.51.100.10:0"][..],
            &["service", "add", "sctp", "198.51.100.10:80"],
            &["real", "add", "tcp", "198.51.100.10:80", "2001:db8::1"],
            &["real", "add", "tcp", "198.51.100.10:80", "198.51.100.300"],
            &["limits", "--conn-max", "0"],
            &["conn", "del"],
            &["zero", "tcp"],
        ] {
            assert!(run(cmd(bad), &mut None).is_err(), "{bad:?} was accepted");
        }
    }
}
