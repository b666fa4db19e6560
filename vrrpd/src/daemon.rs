//! The daemon: one event loop (epoll, through mio) that feeds the sans-IO
//! parts with time and events and carries out what they return at the
//! edges.
//!
//! - VRRP: each instance's socket feeds its state machine ([`crate::fsm`]
//!   through [`crate::instance`]); a transition moves the VIPs and switches
//!   drlb, active before the VIPs come and standby after they go (never a
//!   VIP whose traffic meets the director's own stack). A master
//!   that cannot add its VIPs or switch drlb is made unable: it resigns to
//!   Fault, and checks again until it can.
//! - Links: rtnetlink's RTNLGRP_LINK events keep the interfaces' table
//!   ([`crate::links`]); instances follow their interface's state, MAC and
//!   index from it.
//! - Checks: [`crate::checks`] says which probes are due; [`crate::probe`]
//!   runs them as non-blocking sockets (or a child process) in this same
//!   loop; their results move real servers up and down.
//! - drlb: whenever something changes, and every second to undo changes
//!   made by hand or to follow a module that came back, the module is
//!   brought to the plan of [`crate::services`] through [`crate::lb`]. The
//!   generic-netlink controller's notifications say at once when the
//!   module is loaded, unloaded or reloaded ([`crate::genl`]): a fresh
//!   module gets its namespace state first, then every service.
//! - The control socket, the metrics endpoint, and signals: SIGHUP
//!   reloads as a diff ([`crate::reload`]), SIGTERM releases every
//!   instance.
//! - The service manager ([`crate::notify`], under systemd's
//!   `Type=notify`): `READY=1` once every instance has started,
//!   `RELOADING=1` ... `READY=1` around a reload, `STOPPING=1`, and a
//!   `STATUS=` line with the instances' states.

use crate::checks::{Checks, Due, ProbeId, ProbeKey, Recorded};
use crate::config::{self, Config};
use crate::connsync::{self, ConnSync, GateChange};
use crate::control::{self, Request};
use crate::fsm::{Action, Event, State};
use crate::genl::{self, Seen, Step, SyncInput};
use crate::health::Health;
use crate::instance::{Cause, Running};
use crate::lb::{FamilyMonitor, Lb};
use crate::link::{self, LinkMonitor};
use crate::links::Links;
use crate::notify::Notifier;
use crate::probe::Prober;
use crate::reload::{self, Change, Drain};
use crate::serve::{self, Conn, Framing, Next};
use crate::services::{self, RealState, ServicePlan};
use crate::{metrics, status};
use log::{debug, error, info, warn};
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use std::collections::{BTreeSet, HashMap};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

/// How often an instance retries opening its socket on an interface that
/// was made anew (its address may come after it).
const REOPEN_RETRY: Duration = Duration::from_secs(1);
/// How often the module is compared with the plan when nothing changed.
const SYNC_INTERVAL: Duration = Duration::from_secs(1);
/// Control and metrics connections open at once; more are closed at once.
const MAX_CONNS: usize = 64;
/// Check results that change the plan are applied together, at most this
/// often (VRRP transitions are applied at once).
const SYNC_COALESCE: Duration = Duration::from_millis(10);
/// How often tracked files are read.
const TRACK_FILE_INTERVAL: Duration = Duration::from_secs(1);

/// Tokens: the fixed sources, then kinds of many in the high bits.
const SIGNALS: Token = Token(0);
const CONTROL: Token = Token(1);
const METRICS: Token = Token(2);
const LINKS: Token = Token(3);
const FAMILIES: Token = Token(4);
const SYNC_SOCKET: Token = Token(5);
const INSTANCE: usize = 1;
const PROBE: usize = 2;
const CONN: usize = 3;
const TRACK: usize = 4;
const KIND_SHIFT: u32 = 40;

fn token(kind: usize, id: usize) -> Token {
    Token(kind << KIND_SHIFT | id)
}

/// Before any result, a check's health is its initial one.
static NOT_PROBED_DOWN: Health = Health::new(false);
static NOT_PROBED_UP: Health = Health::new(true);

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
        let fd = libc::signalfd(-1, &set, libc::SFD_CLOEXEC | libc::SFD_NONBLOCK);
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(OwnedFd::from_raw_fd(fd))
    }
}

/// The next signal, and the pid that sent it.
fn read_signal(fd: &OwnedFd) -> Option<(i32, u32)> {
    let mut info = [0u8; 128];
    // SAFETY: reading one signalfd_siginfo (128 bytes) into `info`.
    let n = unsafe { libc::read(fd.as_raw_fd(), info.as_mut_ptr().cast(), info.len()) };
    let word = |at: usize| [info[at], info[at + 1], info[at + 2], info[at + 3]];
    // (ssi_signo at 0, ssi_pid at 12)
    (n == 128).then(|| (i32::from_ne_bytes(word(0)), u32::from_ne_bytes(word(12))))
}

fn bind_metrics(addr: std::net::SocketAddr) -> io::Result<mio::net::TcpListener> {
    mio::net::TcpListener::bind(addr)
        .map_err(|e| io::Error::other(format!("metrics_listen {addr}: {e}")))
}

/// What must be brought to the module, and why.
#[derive(Default)]
struct Dirty {
    /// For the log.
    why: Option<String>,
    /// Every virtual server (else only `services`).
    all: bool,
    /// Virtual servers, by index in the configuration.
    services: BTreeSet<usize>,
}

impl Dirty {
    fn is_clean(&self) -> bool {
        !self.all && self.services.is_empty()
    }

    fn all(&mut self, why: String) {
        self.all = true;
        self.why = Some(why);
    }

    fn some(&mut self, services: &[usize], why: String) {
        self.services.extend(services);
        self.why.get_or_insert(why);
    }
}

/// The running daemon.
pub struct Daemon {
    path: PathBuf,
    socket: Option<PathBuf>,
    cfg: Config,
    epoch: Instant,
    poll: Poll,
    sigfd: OwnedFd,
    control: mio::net::UnixListener,
    metrics: Option<mio::net::TcpListener>,
    conns: HashMap<usize, Conn>,
    /// Running instances, with the id in their token.
    instances: Vec<(usize, Running)>,
    next_id: usize,
    checks: Checks,
    prober: Prober,
    lb: Lb,
    drains: BTreeSet<Drain>,
    /// Notify scripts, reaped as they end.
    children: Vec<Child>,
    /// What the next sync must bring to the module soon (clean: only the
    /// periodic sync).
    dirty: Dirty,
    /// The virtual servers (indices) each probe's result matters to.
    affected: HashMap<ProbeKey, Vec<usize>>,
    last_sync: Duration,
    next_sync: Duration,
    /// When a slow start next changes a weight (from the last plan).
    next_ramp: Option<Duration>,
    /// The interfaces, kept by `monitor`'s events.
    links: Links,
    monitor: LinkMonitor,
    /// The controller's notifications (None: they could not be joined,
    /// and the periodic sync finds a module that came or went).
    families: Option<FamilyMonitor>,
    /// When instances whose interface was made anew retry their socket.
    next_reopen: Option<Duration>,
    /// The last plan, per virtual server.
    plans: Vec<ServicePlan>,
    /// The namespace state last set.
    ns_active: Option<bool>,
    /// Our own uid: its peers may drain.
    uid: u32,
    /// The service manager (systemd), if it asked to be told.
    notifier: Notifier,
    /// The instances' track scripts, scheduled and run by the check
    /// engine as exec checks (apart from the real servers' checks).
    track_checks: Checks,
    track_prober: Prober,
    /// When tracked files are next read.
    next_track_files: Option<Duration>,
    /// Instances (by name) that just went from master to backup, for
    /// their sync groups.
    lost_master: Vec<String>,
    /// Sync groups are being brought into line (no reentry).
    grouping: bool,
    /// Connection sync (`[sync]`), and the socket fd registered for it.
    conn_sync: Option<ConnSync>,
    sync_fd: Option<i32>,
    /// This daemon's sender id in sync datagrams (random per start).
    sync_sender: u32,
}

/// Runs the daemon with the configuration at `path` until SIGTERM.
pub fn run(path: &Path, socket: Option<PathBuf>) -> io::Result<()> {
    // (first: the variable leaves the environment before anything starts)
    let notifier = Notifier::from_env().unwrap_or_else(|e| {
        warn!("not telling the service manager: {e}");
        Notifier::none()
    });
    let started = config::load(path)
        .map_err(|errs| {
            io::Error::other(
                errs.iter()
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
                    .join("\n"),
            )
        })
        .and_then(|cfg| {
            // (before anything else is allocated, so that it is all locked)
            crate::realtime::apply(cfg.realtime);
            Daemon::new(path, socket, cfg)
        });
    let mut d = match started {
        Ok(d) => d,
        Err(e) => {
            let _ = notifier.status(&format!("not started: {e}"));
            return Err(e);
        }
    };
    d.notifier = notifier;
    if let Err(e) = d.start() {
        let _ = d.notifier.status(&e.to_string());
        return Err(e);
    }
    // Every instance has started (its socket open, its state machine
    // running) and every check is scheduled: the unit is up.
    d.tell(|n, s| n.ready(s), "");
    d.run_loop()
}

impl Daemon {
    fn new(path: &Path, socket: Option<PathBuf>, cfg: Config) -> io::Result<Self> {
        let poll = Poll::new()?;
        let sigfd = signal_fd()?;
        poll.registry().register(
            &mut SourceFd(&sigfd.as_raw_fd()),
            SIGNALS,
            Interest::READABLE,
        )?;
        if let Some(p) = &socket {
            let _ = std::fs::remove_file(p);
        }
        let std_listener =
            std::os::unix::net::UnixListener::bind_addr(&control::address(socket.as_deref())?)
                .map_err(|e| {
                    io::Error::other(format!(
                        "control socket: {e} (is another vrrpd running in this namespace?)"
                    ))
                })?;
        std_listener.set_nonblocking(true)?;
        let mut control = mio::net::UnixListener::from_std(std_listener);
        poll.registry()
            .register(&mut control, CONTROL, Interest::READABLE)?;
        let mut metrics = cfg.metrics_listen.map(bind_metrics).transpose()?;
        if let Some(m) = &mut metrics {
            poll.registry().register(m, METRICS, Interest::READABLE)?;
        }
        let monitor =
            LinkMonitor::open().map_err(|e| io::Error::other(format!("rtnetlink: {e}")))?;
        let mut links = Links::new();
        links.replace(link::dump().map_err(|e| io::Error::other(format!("rtnetlink: {e}")))?);
        poll.registry()
            .register(&mut SourceFd(&monitor.raw_fd()), LINKS, Interest::READABLE)?;
        let families = match FamilyMonitor::open() {
            Ok(f) => {
                poll.registry().register(
                    &mut SourceFd(&f.raw_fd()),
                    FAMILIES,
                    Interest::READABLE,
                )?;
                Some(f)
            }
            Err(e) => {
                warn!("generic netlink controller: {e}: drlb's loading and unloading will be found by the periodic sync only");
                None
            }
        };
        let seed = u64::from(std::process::id())
            ^ Instant::now().elapsed().as_nanos() as u64
            ^ std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0);
        Ok(Daemon {
            path: path.to_path_buf(),
            socket,
            cfg,
            epoch: Instant::now(),
            poll,
            sigfd,
            control,
            metrics,
            conns: HashMap::new(),
            instances: vec![],
            next_id: 0,
            checks: Checks::new(seed),
            prober: Prober::new(),
            lb: Lb::new(),
            drains: BTreeSet::new(),
            children: vec![],
            dirty: Dirty::default(),
            affected: HashMap::new(),
            last_sync: Duration::ZERO,
            next_sync: Duration::ZERO,
            next_ramp: None,
            links,
            monitor,
            families,
            next_reopen: None,
            plans: vec![],
            ns_active: None,
            // SAFETY: geteuid has no preconditions.
            uid: unsafe { libc::geteuid() },
            notifier: Notifier::none(),
            track_checks: Checks::new(seed.rotate_left(17)),
            track_prober: Prober::new(),
            next_track_files: None,
            lost_master: vec![],
            grouping: false,
            conn_sync: None,
            sync_fd: None,
            sync_sender: ((seed >> 32) as u32 ^ seed as u32).max(1),
        })
    }

    fn now(&self) -> Duration {
        self.epoch.elapsed()
    }

    /// Starts every instance and check; fails if nothing could start.
    fn start(&mut self) -> io::Result<()> {
        let now = self.now();
        self.start_conn_sync(now);
        self.sync_checks(now);
        self.dirty.all("start".into());
        let mut failed = vec![];
        for c in self.cfg.instances.clone() {
            let name = c.name.clone();
            if let Err(e) = self.start_instance(c, now) {
                failed.push(format!("{name}: {e}"));
            }
        }
        self.sync_track_checks(now);
        if self.instances.is_empty() && self.cfg.virtual_servers.is_empty() {
            return Err(io::Error::other(format!(
                "nothing to run: no instance could start ({}), and there are no virtual servers",
                failed.join("; ")
            )));
        }
        info!(
            "running {} instance(s), {} virtual server(s), {} check(s) from {}",
            self.instances.len(),
            self.cfg.virtual_servers.len(),
            self.checks.len(),
            self.path.display()
        );
        Ok(())
    }

    fn run_loop(&mut self) -> io::Result<()> {
        // (a small batch: timers are served between batches, so a burst of
        // probe events does not delay the next checks' starts)
        let mut events = Events::with_capacity(128);
        loop {
            let now = self.now();
            self.on_time(now);
            let timeout = self.next_wakeup().saturating_sub(self.now());
            if let Err(e) = self.poll.poll(&mut events, Some(timeout)) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            for ev in events.iter() {
                let now = self.now();
                match ev.token() {
                    SIGNALS => {
                        while let Some((sig, pid)) = read_signal(&self.sigfd) {
                            if sig == libc::SIGHUP {
                                info!("SIGHUP from pid {pid}: reloading");
                                if let Err(e) = self.notifier.reloading() {
                                    warn!("telling the service manager: {e}");
                                }
                                // (READY=1 after a refused file too: the
                                // daemon runs on, as it was)
                                let prefix = match self.reload(now) {
                                    Ok(()) => String::new(),
                                    Err(e) => format!("reload refused: {e}; "),
                                };
                                self.tell(|n, s| n.ready(s), &prefix);
                            } else {
                                let name = if sig == libc::SIGINT {
                                    "SIGINT"
                                } else {
                                    "SIGTERM"
                                };
                                info!("{name} from pid {pid}");
                                self.stop(now);
                                return Ok(());
                            }
                        }
                    }
                    CONTROL => self.accept_control(now),
                    METRICS => self.accept_metrics(now),
                    LINKS => self.links_readable(now),
                    FAMILIES => self.families_readable(now),
                    SYNC_SOCKET => {
                        if let Some(s) = self.conn_sync.as_mut() {
                            let gate = s.readable(now);
                            self.sync_gate(now, gate);
                        }
                    }
                    Token(t) => {
                        let id = t & ((1 << KIND_SHIFT) - 1);
                        match t >> KIND_SHIFT {
                            INSTANCE => self.instance_readable(id, now),
                            PROBE => {
                                if let Some(r) = self.prober.ready(id, ev, self.poll.registry()) {
                                    self.probe_done(id, now, r);
                                }
                            }
                            CONN => self.drive_conn(id, now),
                            TRACK => {
                                if let Some(r) =
                                    self.track_prober.ready(id, ev, self.poll.registry())
                                {
                                    let (ok, reason) = match r {
                                        Ok(s) => (true, s),
                                        Err(s) => (false, s),
                                    };
                                    self.track_checks.complete(id, now, ok, reason);
                                    self.track_result(id, now);
                                }
                            }
                            _ => {}
                        }
                    }
                }
            }
            self.children
                .retain_mut(|c| matches!(c.try_wait(), Ok(None)));
            self.prober.reap();
            self.track_prober.reap();
        }
    }

    /// Timers: sockets to reopen, VRRP, checks, slow start, the sync,
    /// connections.
    fn on_time(&mut self, now: Duration) {
        if self.next_reopen.is_some_and(|t| t <= now) {
            self.next_reopen = None;
            for i in 0..self.instances.len() {
                self.follow_links(i, now);
            }
        }
        for i in 0..self.instances.len() {
            self.instances[i].1.flush_logs(now);
            let r = &self.instances[i].1;
            if r.timer_due(now) {
                let why = if r.state() == State::Backup {
                    "master down timer expired"
                } else {
                    "advert timer"
                };
                self.instance_event(i, now, Event::Timer, why);
            }
            self.instances[i].1.garp(now);
        }
        for due in self.checks.poll(now) {
            match due {
                Due::Start(id) => {
                    let key = self.checks.probe(id).expect("due probe").key.clone();
                    if let Err(e) =
                        self.prober
                            .start(id, &key, self.poll.registry(), token(PROBE, id))
                    {
                        let r = self.checks.complete(id, self.now(), false, e);
                        self.result(id, r);
                    }
                }
                Due::TimedOut(id, r) => {
                    self.prober.cancel(id, self.poll.registry());
                    self.result(id, r);
                }
            }
        }
        for due in self.track_checks.poll(now) {
            match due {
                Due::Start(id) => {
                    let key = self.track_checks.probe(id).expect("due probe").key.clone();
                    if let Err(e) =
                        self.track_prober
                            .start(id, &key, self.poll.registry(), token(TRACK, id))
                    {
                        self.track_checks.complete(id, self.now(), false, e);
                        self.track_result(id, now);
                    }
                }
                Due::TimedOut(id, _) => {
                    self.track_prober.cancel(id, self.poll.registry());
                    self.track_result(id, now);
                }
            }
        }
        if self.next_track_files.is_some_and(|t| t <= now) {
            self.next_track_files = Some(now + TRACK_FILE_INTERVAL);
            for i in 0..self.instances.len() {
                self.instances[i].1.read_track_files();
                self.apply_tracking(i, now);
            }
        }
        if self.next_ramp.is_some_and(|t| t <= now) && !self.dirty.all {
            self.dirty.all("slow start".into());
        }
        if now >= self.next_sync
            || (!self.dirty.is_clean() && now >= self.last_sync + SYNC_COALESCE)
        {
            self.sync(now);
        }
        let expired: Vec<usize> = self
            .conns
            .iter()
            .filter(|(_, c)| c.deadline <= now)
            .map(|(id, _)| *id)
            .collect();
        for id in expired {
            self.close_conn(id);
        }
        if self.conn_sync.is_some() {
            let active = self.drlb_active();
            let s = self.conn_sync.as_mut().expect("sync");
            s.active = active;
            let gate = s.on_time(now);
            self.sync_gate(now, gate);
        }
    }

    fn next_wakeup(&mut self) -> Duration {
        let mut t = self.next_sync;
        t = t.min(self.next_reopen.unwrap_or(t));
        if !self.dirty.is_clean() {
            t = t.min(self.last_sync + SYNC_COALESCE);
        }
        for (_, r) in &self.instances {
            t = t.min(r.next_deadline().unwrap_or(t));
        }
        t = t.min(self.checks.next_wakeup().unwrap_or(t));
        t = t.min(self.track_checks.next_wakeup().unwrap_or(t));
        t = t.min(self.next_track_files.unwrap_or(t));
        t = t.min(self.next_ramp.unwrap_or(t));
        for c in self.conns.values() {
            t = t.min(c.deadline);
        }
        if let Some(s) = &self.conn_sync {
            t = t.min(s.next_wakeup());
        }
        t
    }

    // ---- connection sync ----

    /// Starts the relay of `[sync]`, if there is one.
    fn start_conn_sync(&mut self, now: Duration) {
        let Some(c) = self.cfg.sync.clone() else {
            return;
        };
        info!(
            "sync: connection sync on {} port {} ({})",
            c.interface,
            c.port,
            if c.peers.is_empty() {
                format!("multicast {}", c.group)
            } else {
                format!(
                    "peers {}",
                    c.peers
                        .iter()
                        .map(|p| p.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
        );
        let (mut s, gate) =
            ConnSync::start(c, connsync::NlModule::default(), self.sync_sender, now);
        s.services = self.cfg.virtual_servers.iter().map(|v| v.key()).collect();
        self.conn_sync = Some(s);
        self.sync_gate(now, gate);
    }

    /// Stops the relay: the module's queue off, the socket closed,
    /// preemption no longer held.
    fn stop_conn_sync(&mut self, now: Duration) {
        if let Some(mut s) = self.conn_sync.take() {
            s.stop();
            if let Some(fd) = self.sync_fd.take() {
                let _ = self.poll.registry().deregister(&mut SourceFd(&fd));
            }
            if s.held() {
                self.sync_gate(now, vec![(false, "sync stopped".into())]);
            }
        }
    }

    /// Whether this director's drlb forwards (what a pull's answer says).
    fn drlb_active(&self) -> bool {
        // (a standby namespace forwards nothing, whatever its services)
        self.ns_active != Some(false) && self.plans.iter().any(|p| p.active)
    }

    /// Preemption held or let go by the sync's pull (logged), and the
    /// sync socket registered once it is open.
    fn sync_gate(&mut self, _now: Duration, changes: Vec<GateChange>) {
        for (held, why) in &changes {
            if *held {
                info!("sync: preemption held: {why}");
            } else {
                info!("sync: preemption no longer held: {why}");
            }
        }
        if !changes.is_empty() {
            self.apply_gate();
        }
        let fd = self
            .conn_sync
            .as_ref()
            .and_then(|s| s.socket())
            .map(|s| s.as_raw_fd());
        if fd != self.sync_fd {
            if let Some(old) = self.sync_fd.take() {
                let _ = self.poll.registry().deregister(&mut SourceFd(&old));
            }
            if let Some(fd) = fd {
                match self.poll.registry().register(
                    &mut SourceFd(&fd),
                    SYNC_SOCKET,
                    Interest::READABLE,
                ) {
                    Ok(()) => self.sync_fd = Some(fd),
                    Err(e) => error!("sync: registering its socket: {e}"),
                }
            }
        }
    }

    /// Every instance holds preemption while the sync's pull does (with
    /// [sync], the director is one whose table matters; an instance that
    /// does not drive drlb waits the bound at most).
    fn apply_gate(&mut self) {
        let held = self.conn_sync.as_ref().is_some_and(|s| s.held());
        for (_, r) in &mut self.instances {
            r.hold_preemption(held);
        }
    }

    // ---- VRRP ----

    /// Starts an instance; why it could not, if it could not (logged).
    fn start_instance(&mut self, c: config::InstanceConfig, now: Duration) -> Result<(), String> {
        let name = c.name.clone();
        let not_started = |e: io::Error| {
            error!("{name}: not started: {e}");
            e.to_string()
        };
        let mut r = Running::start(c, &self.links).map_err(not_started)?;
        let id = self.next_id;
        self.next_id += 1;
        self.poll
            .registry()
            .register(
                &mut SourceFd(&r.raw_fd()),
                token(INSTANCE, id),
                Interest::READABLE,
            )
            .map_err(not_started)?;
        r.set_group(self.cfg.sync_group_of(&name).map(|g| g.name.clone()));
        if let Some(fd) = r.vmac_fd() {
            self.poll
                .registry()
                .register(&mut SourceFd(&fd), token(INSTANCE, id), Interest::READABLE)
                .map_err(not_started)?;
        }
        let mut first = if r.up {
            vec![]
        } else {
            let why = r.fault_reason_links().unwrap_or_default();
            r.handle(now, Event::InterfaceDown, &format!("{why} at start"))
        };
        // (tracking as it stands: files read, scripts not run yet)
        let (actions, hold) = r.tracking(now);
        first.extend(actions);
        if let Some((ev, why)) = hold {
            first.extend(r.handle(now, ev, &format!("{why} at start")));
        }
        let held = self.conn_sync.as_ref().is_some_and(|s| s.held());
        self.instances.push((id, r));
        let i = self.instances.len() - 1;
        self.instances[i].1.hold_preemption(held);
        self.carry_out(i, now, first);
        self.instance_event(i, now, Event::Startup, "startup");
        Ok(())
    }

    fn remove_instance(&mut self, i: usize, now: Duration, why: &str) {
        self.instance_event(i, now, Event::Shutdown, why);
        let (_, r) = self.instances.remove(i);
        let _ = self.poll.registry().deregister(&mut SourceFd(&r.raw_fd()));
        if let Some(fd) = r.vmac_fd() {
            let _ = self.poll.registry().deregister(&mut SourceFd(&fd));
        }
        self.run_groups(now);
    }

    fn instance_readable(&mut self, id: usize, now: Duration) {
        let Some(i) = self.instances.iter().position(|(x, _)| *x == id) else {
            return;
        };
        for (ev, why) in self.instances[i].1.receive(now) {
            self.instance_event(i, now, ev, &why);
        }
    }

    /// rtnetlink's link events: the table follows them, and the instances
    /// follow the table. Events the kernel dropped (a socket overrun)
    /// cost a dump of every interface.
    fn links_readable(&mut self, now: Duration) {
        let (msgs, err) = self.monitor.read();
        let mut changed = false;
        for m in &msgs {
            changed |= !self.links.apply(m).is_empty();
        }
        if let Some(e) = err {
            warn!("rtnetlink: {e}: reading every interface again");
            match link::dump() {
                Ok(all) => changed |= !self.links.replace(all).is_empty(),
                Err(e) => error!("rtnetlink: dumping the interfaces: {e}"),
            }
        }
        if changed {
            for i in 0..self.instances.len() {
                self.follow_links(i, now);
            }
        }
    }

    /// The controller's notifications: drlb loaded (or reloaded) is
    /// programmed at once, its state first; drlb unloaded is waited for.
    /// Lost notifications cost a look at the family's id.
    fn families_readable(&mut self, now: Duration) {
        let Some(f) = self.families.as_mut() else {
            return;
        };
        let (events, err) = f.read();
        for ev in &events {
            match self.lb.event(ev) {
                Seen::Same => {}
                Seen::Gone => {
                    warn!("drlb was unloaded: waiting for it to be loaded again");
                    self.ns_active = None;
                    self.drlb_gone(now);
                }
                Seen::Fresh { .. } => {
                    info!(
                        "drlb was loaded (generic netlink family {})",
                        self.lb.family().unwrap_or_default()
                    );
                    self.dirty.all("drlb was loaded".into());
                }
            }
        }
        if let Some(e) = err {
            warn!("generic netlink controller: {e}: looking at drlb's family again");
            self.lb.forget();
            self.dirty.all("generic netlink notifications lost".into());
        }
        if self.dirty.all {
            self.sync(now);
        }
    }

    /// Instance `i` follows its interfaces as the table has them: a new
    /// index (the interface made anew) reopens its socket, a new MAC is
    /// taken for its gratuitous ARPs, and up or down feeds its state
    /// machine.
    fn follow_links(&mut self, i: usize, now: Duration) {
        if self.instances[i].1.needs_reopen(&self.links) {
            // Leave the old interface first: down (Fault) until reopened.
            self.instances[i].1.mark_reopen();
            if let Some((ev, why)) = self.instances[i].1.follow_links(&self.links) {
                self.instance_event(i, now, ev, &why);
            }
            let (id, r) = &mut self.instances[i];
            match r.reopen(&self.links) {
                Ok(()) => {
                    if let Err(e) = self.poll.registry().register(
                        &mut SourceFd(&r.raw_fd()),
                        token(INSTANCE, *id),
                        Interest::READABLE,
                    ) {
                        error!("{}: registering its new socket: {e}", r.name());
                    }
                    if let Some(fd) = r.vmac_fd() {
                        if let Err(e) = self.poll.registry().register(
                            &mut SourceFd(&fd),
                            token(INSTANCE, *id),
                            Interest::READABLE,
                        ) {
                            error!("{}: registering its macvlan's socket: {e}", r.name());
                        }
                    }
                }
                Err(e) => {
                    debug!(
                        "{}: opening the VRRP socket on the new {}: {e} (retrying every second)",
                        r.name(),
                        r.cfg.interface
                    );
                    self.next_reopen = Some(now + REOPEN_RETRY);
                }
            }
        }
        if let Some((ev, why)) = self.instances[i].1.follow_links(&self.links) {
            self.instance_event(i, now, ev, &why);
        }
        self.apply_tracking(i, now);
    }

    fn instance_event(&mut self, i: usize, now: Duration, ev: Event, why: &str) {
        let before = self.instances[i].1.state();
        let actions = self.instances[i].1.handle(now, ev, why);
        if crate::sync::lost_master(before, self.instances[i].1.state()) {
            self.lost_master
                .push(self.instances[i].1.name().to_string());
        }
        self.carry_out(i, now, actions);
        self.run_groups(now);
    }

    // ---- sync groups and tracking ----

    /// Brings every sync group into line ([`crate::sync::orders`]): its
    /// members' events, until there are none.
    fn run_groups(&mut self, now: Duration) {
        if self.grouping || self.cfg.sync_groups.is_empty() {
            self.lost_master.clear();
            return;
        }
        self.grouping = true;
        for _ in 0..16 {
            let lost = std::mem::take(&mut self.lost_master);
            let mut orders: Vec<(usize, Event, String)> = vec![];
            for g in &self.cfg.sync_groups {
                let members: Vec<usize> = (0..self.instances.len())
                    .filter(|&i| self.instances[i].1.group() == Some(g.name.as_str()))
                    .collect();
                let views: Vec<crate::sync::View> = members
                    .iter()
                    .map(|&i| self.instances[i].1.view())
                    .collect();
                let lost_here: Vec<usize> = members
                    .iter()
                    .enumerate()
                    .filter(|(_, &i)| lost.iter().any(|n| n == self.instances[i].1.name()))
                    .map(|(k, _)| k)
                    .collect();
                for (k, ev) in crate::sync::orders(&views, &lost_here) {
                    let why = match ev {
                        Event::Hold(_) => format!("sync group {}: a member is in FAULT", g.name),
                        Event::Release(_) => format!("sync group {}: every member is well", g.name),
                        Event::SyncMaster => {
                            format!("sync group {}: every member goes MASTER", g.name)
                        }
                        _ => format!("sync group {}: a member went BACKUP", g.name),
                    };
                    orders.push((members[k], ev, why));
                }
            }
            if orders.is_empty() {
                break;
            }
            for (i, ev, why) in orders {
                let before = self.instances[i].1.state();
                let actions = self.instances[i].1.handle(now, ev, &why);
                if crate::sync::lost_master(before, self.instances[i].1.state()) {
                    self.lost_master
                        .push(self.instances[i].1.name().to_string());
                }
                self.carry_out(i, now, actions);
            }
        }
        self.lost_master.clear();
        self.grouping = false;
    }

    /// Instance `i` takes what its tracking says: its priority, and
    /// whether it is held in Fault.
    fn apply_tracking(&mut self, i: usize, now: Duration) {
        let (actions, hold) = self.instances[i].1.tracking(now);
        self.carry_out(i, now, actions);
        if let Some((ev, why)) = hold {
            self.instance_event(i, now, ev, &why);
        }
    }

    /// The track scripts of the running instances, run by the check
    /// engine; tracked files are read every second if any instance has
    /// one.
    fn sync_track_checks(&mut self, now: Duration) {
        let keys: Vec<crate::checks::ProbeKey> = self
            .instances
            .iter()
            .flat_map(|(_, r)| r.track_scripts().map(crate::track::probe_key))
            .collect();
        for id in self.track_checks.sync(keys, now) {
            self.track_prober.cancel(id, self.poll.registry());
        }
        let files = self
            .instances
            .iter()
            .any(|(_, r)| !r.cfg.track_files.is_empty());
        self.next_track_files =
            files.then(|| self.next_track_files.unwrap_or(now + TRACK_FILE_INTERVAL));
    }

    /// A track script's run finished (or timed out, or could not start):
    /// the instances that track it follow.
    fn track_result(&mut self, id: ProbeId, now: Duration) {
        let Some(p) = self.track_checks.probe(id) else {
            return;
        };
        let Some(last) = p.last.clone() else { return };
        let key = p.key.clone();
        for i in 0..self.instances.len() {
            let scripts: Vec<crate::config::TrackScript> = self.instances[i]
                .1
                .track_scripts()
                .filter(|s| crate::track::probe_key(s) == key)
                .cloned()
                .collect();
            let mut changed = false;
            for s in &scripts {
                if self.instances[i].1.script_result(s, last.ok) {
                    changed = true;
                    info!(
                        "{}: track_script {} is {} ({})",
                        self.instances[i].1.name(),
                        s.name,
                        if last.ok { "good" } else { "failing" },
                        last.reason
                    );
                }
            }
            if changed {
                self.apply_tracking(i, now);
            }
        }
    }

    /// Carries out instance `i`'s actions. drlb is active before a master
    /// adds its VIPs (and sends its GARPs), and goes standby only after
    /// they are removed: while the director holds a VIP, its drlb takes
    /// the VIP's traffic, which would otherwise reach the director's own
    /// stack and be reset (no listener there). A master
    /// that cannot add its VIPs or switch drlb is made unable (Fault, a
    /// priority-0 advert) before anything else it was to do.
    fn carry_out(&mut self, i: usize, now: Duration, actions: Vec<Action>) {
        for a in actions {
            let name = self.instances[i].1.name().to_string();
            match a {
                Action::SendAdvert { .. } => {
                    let _ = self.instances[i].1.act(now, a);
                }
                Action::BecomeMaster => {
                    self.dirty.all(format!("{name} became MASTER"));
                    self.sync(now);
                    if self.drlb_failed(i).is_some() {
                        // (once more at once: a dump a table resize
                        // interrupted twice is no reason to fail over)
                        self.dirty.all(format!("{name} became MASTER (again)"));
                        self.sync(now);
                    }
                    if let Some(why) = self.drlb_failed(i) {
                        return self.unable(i, now, Cause::Drlb, why);
                    }
                    if let Err(why) = self.instances[i].1.act(now, a) {
                        return self.unable(i, now, Cause::Vip, why);
                    }
                    self.notify(i, "MASTER");
                }
                Action::BecomeBackup | Action::EnterInit | Action::EnterFault => {
                    let state = crate::instance::state_name(self.instances[i].1.state());
                    let _ = self.instances[i].1.act(now, a);
                    self.dirty.all(format!("{name} is {state}"));
                    self.sync(now);
                    match a {
                        Action::BecomeBackup => self.notify(i, "BACKUP"),
                        Action::EnterFault => self.notify(i, "FAULT"),
                        _ => {}
                    }
                }
                Action::Retry => self.retry(i, now),
                Action::WantMaster => {}
            }
        }
    }

    /// Whether instance `i`'s state drives drlb: the namespace switch
    /// (`lb`), or virtual servers that name it.
    fn drives_drlb(&self, i: usize) -> bool {
        let r = &self.instances[i].1;
        r.cfg.lb
            || self
                .cfg
                .virtual_servers
                .iter()
                .any(|vs| vs.instance.as_deref() == Some(r.name()))
    }

    /// After a master's sync: why drlb does not follow it, if it does not.
    fn drlb_failed(&self, i: usize) -> Option<String> {
        if !self.drives_drlb(i) {
            return None;
        }
        if let Some(e) = &self.lb.error {
            return Some(format!("cannot switch drlb to active: {e}"));
        }
        if self.instances[i].1.cfg.lb && self.ns_active != Some(true) {
            return Some("cannot switch drlb to active: the namespace stayed standby".into());
        }
        None
    }

    /// drlb went away: a master that drives it can no longer do its job
    /// (the VIP would take traffic nobody forwards), so it resigns into
    /// Fault, its peer takes over, and it checks again until drlb is back.
    fn drlb_gone(&mut self, now: Duration) {
        for i in 0..self.instances.len() {
            if self.instances[i].1.state() == State::Master && self.drives_drlb(i) {
                self.unable(i, now, Cause::Drlb, "drlb was unloaded".into());
            }
        }
    }

    /// Instance `i` cannot do a master's job, for `why`: it resigns into
    /// Fault (or stays there, when a check failed) and checks again later.
    fn unable(&mut self, i: usize, now: Duration, cause: Cause, why: String) {
        let r = &mut self.instances[i].1;
        let new = r.set_unable(cause, why.clone());
        let was_fault = r.state() == State::Fault;
        let actions = r.handle(now, Event::Unable, &why);
        if was_fault {
            let next = r
                .next_retry()
                .map_or(0, |t| t.saturating_sub(now).as_secs());
            if new {
                warn!(
                    "{}: still cannot do a master's job: {why}; checking again in {next} s",
                    r.name()
                );
            } else {
                debug!("{}: still {why}; checking again in {next} s", r.name());
            }
        }
        self.carry_out(i, now, actions);
        self.run_groups(now);
    }

    /// The check an unable instance asked for: could it add its VIPs
    /// (without adding them), and does drlb answer (if it drives drlb)?
    fn retry(&mut self, i: usize, now: Duration) {
        let checked = self.instances[i]
            .1
            .check_vips()
            .map_err(|w| (Cause::Vip, w))
            .and_then(|()| {
                if self.drives_drlb(i) {
                    self.lb
                        .reachable()
                        .map_err(|e| (Cause::Drlb, format!("cannot switch drlb to active: {e}")))
                } else {
                    Ok(())
                }
            });
        match checked {
            Ok(()) => {
                let r = &mut self.instances[i].1;
                let was = r.unable().map(|(_, w)| w.clone()).unwrap_or_default();
                info!("{}: can do a master's job again (was: {was})", r.name());
                r.clear_unable();
                self.instance_event(
                    i,
                    now,
                    Event::Able,
                    "checked: it can do a master's job again",
                );
            }
            Err((cause, why)) => self.unable(i, now, cause, why),
        }
    }

    fn notify(&mut self, i: usize, state: &str) {
        if let Some(c) = self.instances[i].1.notify(state) {
            self.children.push(c);
        }
        if state != "STOP" {
            self.tell(|n, s| n.status(s), "");
        }
    }

    // ---- the service manager ----

    /// `STATUS=`: each instance's state (or how many are in each, when
    /// there are many), then the virtual servers and checks.
    fn status_text(&self) -> String {
        let names: Vec<String> = self
            .instances
            .iter()
            .map(|(_, r)| format!("{} {}", r.name(), crate::instance::state_name(r.state())))
            .collect();
        let instances = if names.is_empty() {
            "no instances".to_string()
        } else if names.len() <= 8 {
            names.join(", ")
        } else {
            let mut counts = std::collections::BTreeMap::new();
            for (_, r) in &self.instances {
                *counts
                    .entry(crate::instance::state_name(r.state()))
                    .or_insert(0) += 1;
            }
            let by: Vec<String> = counts.iter().map(|(s, n)| format!("{n} {s}")).collect();
            format!("{} instances: {}", names.len(), by.join(", "))
        };
        format!(
            "{instances}; {} virtual server(s), {} check(s)",
            self.cfg.virtual_servers.len(),
            self.checks.len()
        )
    }

    /// Sends the service manager `what`, with the status after `prefix`;
    /// a failure is logged (it changes nothing else).
    fn tell(&self, what: impl Fn(&Notifier, &str) -> io::Result<()>, prefix: &str) {
        if !self.notifier.enabled() {
            return;
        }
        if let Err(e) = what(&self.notifier, &format!("{prefix}{}", self.status_text())) {
            warn!("telling the service manager: {e}");
        }
    }

    /// The namespace switch: active unless instances drive it (`lb`, the
    /// default) and none of them is MASTER.
    fn namespace_active(&self) -> Option<bool> {
        let driving: Vec<&Running> = self
            .instances
            .iter()
            .map(|(_, r)| r)
            .filter(|r| r.cfg.lb)
            .collect();
        if driving.is_empty() {
            return None;
        }
        Some(driving.iter().any(|r| r.state() == State::Master))
    }

    // ---- checks and the module ----

    /// Makes the probes those of the configuration (identical checks are
    /// one), and notes which virtual servers each one's results matter to.
    fn sync_checks(&mut self, now: Duration) {
        self.affected.clear();
        for (i, vs) in self.cfg.virtual_servers.iter().enumerate() {
            for r in &vs.reals {
                if let Some(spec) = &r.check {
                    let key = ProbeKey {
                        addr: r.address,
                        spec: spec.clone(),
                    };
                    let v = self.affected.entry(key).or_default();
                    if v.last() != Some(&i) {
                        v.push(i);
                    }
                }
            }
        }
        let keys: Vec<ProbeKey> = self.affected.keys().cloned().collect();
        for id in self.checks.sync(keys, now) {
            self.prober.cancel(id, self.poll.registry());
        }
    }

    fn probe_done(&mut self, id: ProbeId, now: Duration, r: crate::probe::Result) {
        let (ok, reason) = match r {
            Ok(s) => (true, s),
            Err(s) => (false, s),
        };
        let r = self.checks.complete(id, now, ok, reason);
        self.result(id, r);
    }

    /// After a result: a transition, or a first result that settles a
    /// server the plan had left as it found it, changes the plan.
    fn result(&mut self, id: ProbeId, r: Recorded) {
        let Some(p) = self.checks.probe(id) else {
            return;
        };
        let affected = self.affected.get(&p.key).cloned().unwrap_or_default();
        if r.settled {
            self.dirty.some(&affected, "first check results".into());
        }
        let Some(t) = r.transition else { return };
        let k = &p.key;
        let reason = p.last.as_ref().map_or("", |o| o.reason.as_str());
        let what = format!(
            "{} check of {}: {} ({reason})",
            k.spec.kind.name(),
            std::net::SocketAddr::new(k.addr, k.spec.port),
            if t.up { "UP" } else { "DOWN" }
        );
        info!("{what}");
        self.dirty.some(&affected, what);
    }

    fn real_states(&self, vs: &config::VirtualServer) -> Vec<RealState<'_>> {
        vs.reals
            .iter()
            .map(|r| RealState {
                addr: r.address,
                weight: r.weight,
                health: r.check.as_ref().map(|spec| {
                    let key = ProbeKey {
                        addr: r.address,
                        spec: spec.clone(),
                    };
                    match self.checks.find(&key) {
                        Some(p) => &p.health,
                        None if spec.initial_up => &NOT_PROBED_UP,
                        None => &NOT_PROBED_DOWN,
                    }
                }),
                drained: self.drains.contains(&(vs.key(), r.address)),
            })
            .collect()
    }

    /// The plan for virtual server `i`.
    fn plan(&self, i: usize, now: Duration) -> ServicePlan {
        let vs = &self.cfg.virtual_servers[i];
        let active = vs.instance.as_ref().is_none_or(|name| {
            self.instances
                .iter()
                .any(|(_, r)| r.name() == name && r.state() == State::Master)
        });
        services::plan(vs, &self.real_states(vs), active, now)
    }

    fn plans(&self, now: Duration) -> Vec<ServicePlan> {
        (0..self.cfg.virtual_servers.len())
            .map(|i| self.plan(i, now))
            .collect()
    }

    fn ramp_step_due(&self, now: Duration) -> Option<Duration> {
        self.cfg
            .virtual_servers
            .iter()
            .filter(|vs| !vs.slow_start.is_zero())
            .filter_map(|vs| services::next_ramp_step(vs, &self.real_states(vs), now))
            .min()
    }

    /// Brings the module to the plan (and the namespace switch to the
    /// instances' states). When the module answers again, instances that
    /// were unable for want of it check at once, not at their next retry.
    fn sync(&mut self, now: Duration) {
        let was_away = self.lb.error.is_some();
        self.sync_module(now);
        if self.lb.error.is_some() && self.lb.family().is_none() {
            // (not reached at all: unloaded, and the notification lost)
            self.drlb_gone(now);
        }
        if was_away && self.lb.error.is_none() {
            for i in 0..self.instances.len() {
                let r = &self.instances[i].1;
                if r.state() == State::Fault && r.unable().is_some_and(|(c, _)| *c == Cause::Drlb) {
                    info!("{}: drlb answers again: checking now", r.name());
                    self.retry(i, now);
                }
            }
        }
    }

    /// [`Daemon::sync`]'s work, in the order [`genl::steps`] gives: the
    /// namespace switch first (on a fresh module, standby before any
    /// service exists, unless an instance is MASTER here), then the
    /// services. Logs what it changed, and why.
    fn sync_module(&mut self, now: Duration) {
        let dirty = std::mem::take(&mut self.dirty);
        let periodic = now >= self.next_sync;
        let mut full = dirty.all || periodic || self.plans.len() != self.cfg.virtual_servers.len();
        // (ops that no change of ours explains undo a change made by hand)
        let mut why = dirty.why.clone().filter(|_| !dirty.is_clean());
        self.last_sync = now;
        if full {
            self.plan_all(now);
        } else {
            for &i in &dirty.services {
                self.plans[i] = self.plan(i, now);
                let vs = &self.cfg.virtual_servers[i];
                if let Some(t) = services::next_ramp_step(vs, &self.real_states(vs), now) {
                    self.next_ramp = Some(self.next_ramp.map_or(t, |r| r.min(t)));
                }
            }
            if self.lb.error.is_some() {
                return; // the module is away: the periodic sync retries
            }
        }
        let driving = self.namespace_active();
        let has_services = !self.cfg.virtual_servers.is_empty();
        if driving.is_none() && !has_services && !self.lb.manages_any() {
            return; // (pure VRRP: drlb is none of its business)
        }
        let had_error = self.lb.error.clone();
        let fresh = match self.lb.reach() {
            Ok(f) => f,
            Err(_) => return self.sync_failed(had_error),
        };
        if let Some(Seen::Fresh { first }) = fresh {
            let id = self.lb.family().unwrap_or_default();
            if first {
                info!(
                    "drlb found (generic netlink family {id}): its state first, then its services"
                );
            } else {
                info!("drlb was loaded or reloaded (generic netlink family {id}): its state first, then its services");
            }
            self.ns_active = None;
            why = Some("drlb was loaded".into());
            if let Some(s) = self.conn_sync.as_mut() {
                // (the module met at start was turned on when the relay
                // started; one that came back lost its table and queue)
                if !first || !s.send_on() {
                    let gate = s.module_fresh(now);
                    self.sync_gate(now, gate);
                }
            }
            if !full {
                full = true;
                self.plan_all(now);
            }
        }
        let steps = genl::steps(&SyncInput {
            fresh: fresh.is_some(),
            full,
            driving,
            known: self.ns_active,
            has_services,
            manages_any: self.lb.manages_any(),
        });
        for step in steps {
            match step {
                Step::Namespace(active) => match self.lb.set_namespace(active) {
                    Ok(changed) => {
                        if changed {
                            info!(
                                "drlb: namespace {}",
                                if active { "active" } else { "standby" }
                            );
                        }
                        self.ns_active = Some(active);
                    }
                    Err(_) => return self.sync_failed(had_error),
                },
                Step::AllServices | Step::SomeServices => {
                    let result = if step == Step::AllServices {
                        let pairs: Vec<_> =
                            self.cfg.virtual_servers.iter().zip(&self.plans).collect();
                        self.lb.sync(&pairs)
                    } else {
                        let pairs: Vec<_> = dirty
                            .services
                            .iter()
                            .map(|&i| (&self.cfg.virtual_servers[i], &self.plans[i]))
                            .collect();
                        self.lb.sync_some(&pairs)
                    };
                    match result {
                        Ok(s) => {
                            for op in &s.ops {
                                match &why {
                                    Some(w) => info!("drlb-tool {op}  # {w}"),
                                    None => {
                                        warn!("drlb-tool {op}  # put back: changed outside vrrpd")
                                    }
                                }
                            }
                        }
                        Err(_) => return self.sync_failed(had_error),
                    }
                }
            }
        }
    }

    /// Every virtual server's plan, afresh.
    fn plan_all(&mut self, now: Duration) {
        self.next_sync = now + SYNC_INTERVAL;
        self.plans = self.plans(now);
        self.next_ramp = self.ramp_step_due(now);
    }

    /// A sync could not reach the module: said once per new error.
    fn sync_failed(&mut self, had_error: Option<String>) {
        if had_error != self.lb.error {
            if let Some(e) = &self.lb.error {
                error!("drlb: {e} (retrying every second)");
            }
        }
    }

    // ---- reload and stop ----

    /// SIGHUP: applies only what changed. A bad file changes nothing,
    /// and its first error is returned.
    fn reload(&mut self, now: Duration) -> Result<(), String> {
        let new = match config::load(&self.path) {
            Ok(c) => c,
            Err(errs) => {
                for e in &errs {
                    error!("reload refused: {e}");
                }
                return Err(errs.first().map(|e| e.to_string()).unwrap_or_default());
            }
        };
        let running: Vec<&config::InstanceConfig> =
            self.instances.iter().map(|(_, r)| &r.cfg).collect();
        let plan = reload::plan(&running, &new);
        // An instance to start on an interface this host lacks (a typo)
        // would replace a running one with nothing: refuse the file.
        let missing: Vec<String> = reload::to_start(&plan)
            .filter_map(|name| new.instance(name))
            .filter(|c| self.links.get(&c.interface).is_none())
            .map(|c| {
                format!(
                    "{}:{}: instance {}: no interface {}",
                    self.path.display(),
                    c.line,
                    c.name,
                    c.interface
                )
            })
            .collect();
        if !missing.is_empty() {
            for m in &missing {
                error!("reload refused: {m}");
            }
            return Err(missing[0].clone());
        }
        if new.realtime != self.cfg.realtime {
            warn!("reload: realtime and realtime_priority take effect when vrrpd restarts");
        }
        if new.metrics_listen != self.cfg.metrics_listen {
            if let Some(mut old) = self.metrics.take() {
                let _ = self.poll.registry().deregister(&mut old);
            }
            if let Some(addr) = new.metrics_listen {
                match bind_metrics(addr) {
                    Ok(mut l) => {
                        let _ = self
                            .poll
                            .registry()
                            .register(&mut l, METRICS, Interest::READABLE);
                        self.metrics = Some(l);
                    }
                    Err(e) => error!("{e}"),
                }
            }
        }
        self.drains = reload::kept_drains(&self.cfg, &new, &self.drains);
        let sync_changed = new.sync != self.cfg.sync;
        self.cfg = new;
        if sync_changed {
            // (added, removed or changed: the relay anew)
            self.stop_conn_sync(now);
            if self.cfg.sync.is_none() {
                info!("sync: connection sync removed by reload");
            }
            self.start_conn_sync(now);
        } else if let Some(s) = self.conn_sync.as_mut() {
            s.services = self.cfg.virtual_servers.iter().map(|v| v.key()).collect();
        }
        self.sync_checks(now);
        for (name, change) in plan.running {
            let Some(i) = self.instances.iter().position(|(_, r)| r.name() == name) else {
                continue;
            };
            match change {
                Change::Keep => {}
                Change::Priority(p) => {
                    info!("{name}: priority {p} (reload)");
                    let actions = self.instances[i].1.set_priority(now, p);
                    self.carry_out(i, now, actions);
                }
                Change::Remove => self.remove_instance(i, now, "removed by reload"),
                Change::Restart => {
                    self.remove_instance(i, now, "changed by reload");
                    if let Some(c) = self.cfg.instance(&name).cloned() {
                        let _ = self.start_instance(c, now);
                    }
                }
            }
        }
        for name in plan.start {
            if let Some(c) = self.cfg.instance(&name).cloned() {
                let _ = self.start_instance(c, now);
            }
        }
        // (groups may have changed around instances that were kept)
        for (_, r) in &mut self.instances {
            let g = self.cfg.sync_group_of(r.name()).map(|g| g.name.clone());
            if g.as_deref() != r.group() {
                r.set_group(g);
            }
        }
        self.run_groups(now);
        self.sync_track_checks(now);
        self.dirty.all("reload".into());
        self.sync(now);
        info!(
            "reloaded {}: {} instance(s), {} virtual server(s), {} check(s)",
            self.path.display(),
            self.instances.len(),
            self.cfg.virtual_servers.len(),
            self.checks.len()
        );
        Ok(())
    }

    /// SIGTERM: every instance resigns (drlb standby, VIPs removed, a
    /// priority-0 advert). The module keeps its services, so a restarted
    /// daemon finds them and changes only what differs.
    fn stop(&mut self, now: Duration) {
        info!("stopping: releasing every instance");
        if let Err(e) = self.notifier.stopping("stopping: releasing every instance") {
            warn!("telling the service manager: {e}");
        }
        while !self.instances.is_empty() {
            self.notify(0, "STOP");
            self.remove_instance(0, now, "shutdown");
        }
        self.stop_conn_sync(now);
        if let Some(p) = &self.socket {
            let _ = std::fs::remove_file(p);
        }
    }

    // ---- control socket and metrics ----

    fn accept_control(&mut self, now: Duration) {
        loop {
            match self.control.accept() {
                Ok((s, _)) => {
                    let privileged =
                        control::peer_uid(s.as_raw_fd()).is_ok_and(|u| u == 0 || u == self.uid);
                    self.add_conn(Box::new(s), Framing::Line, now, privileged);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return error!("control socket: {e}"),
            }
        }
    }

    fn accept_metrics(&mut self, now: Duration) {
        loop {
            let Some(l) = self.metrics.as_ref() else {
                return;
            };
            match l.accept() {
                Ok((s, _)) => self.add_conn(Box::new(s), Framing::Http, now, false),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return error!("metrics: {e}"),
            }
        }
    }

    fn add_conn(
        &mut self,
        s: Box<dyn serve::Stream>,
        framing: Framing,
        now: Duration,
        privileged: bool,
    ) {
        if self.conns.len() >= MAX_CONNS {
            return; // (dropped: closed unanswered)
        }
        let id = self.next_id;
        self.next_id += 1;
        match Conn::new(
            s,
            framing,
            self.poll.registry(),
            token(CONN, id),
            now + serve::DEADLINE,
            privileged,
        ) {
            Ok(c) => {
                self.conns.insert(id, c);
                self.drive_conn(id, now);
            }
            Err(e) => error!("accepting a connection: {e}"),
        }
    }

    fn drive_conn(&mut self, id: usize, now: Duration) {
        let Some(c) = self.conns.get_mut(&id) else {
            return;
        };
        let mut next = c.drive();
        if next == Next::Answer {
            let request = c.request();
            let privileged = c.privileged;
            let answer = if c.framing() == Framing::Http {
                metrics::http_answer(&request, || self.exposition())
            } else {
                self.control_answer(&request, privileged, now).into_bytes()
            };
            let c = self.conns.get_mut(&id).expect("still there");
            next = c.answer(answer);
        }
        if next == Next::Close {
            self.close_conn(id);
        }
    }

    fn close_conn(&mut self, id: usize) {
        if let Some(mut c) = self.conns.remove(&id) {
            c.close(self.poll.registry());
        }
    }

    fn control_answer(&mut self, request: &str, privileged: bool, now: Duration) -> String {
        let req = match Request::parse(request) {
            Ok(r) => r,
            Err(e) => return format!("error: {e}\n"),
        };
        if req.mutates() && !privileged {
            return "error: drain and undrain need root or vrrpd's own user\n".into();
        }
        match req {
            Request::Status => format!("{}\n", self.status_json(now)),
            Request::Checks => format!(
                "{}\n",
                serde_json::to_string(&status::checks_summary(&self.checks)).unwrap_or_default()
            ),
            Request::Drain(k, ip) | Request::Undrain(k, ip) => {
                if self
                    .cfg
                    .virtual_server(&k)
                    .and_then(|v| v.real(ip))
                    .is_none()
                {
                    return format!(
                        "error: the configuration has no real server {ip} in virtual server {k}\n"
                    );
                }
                let drain = matches!(req, Request::Drain(..));
                let changed = if drain {
                    self.drains.insert((k, ip))
                } else {
                    self.drains.remove(&(k, ip))
                };
                let verb = if drain { "drained" } else { "undrained" };
                if changed {
                    info!("{ip} of {k} {verb} by request");
                    let i = self.cfg.virtual_servers.iter().position(|v| v.key() == k);
                    self.dirty
                        .some(&Vec::from_iter(i), format!("{ip} of {k} {verb}"));
                    self.sync(now);
                }
                match (drain, changed) {
                    (true, true) => format!("ok: {ip} of {k} drained (weight 0) until undrain, or a reload that changes it\n"),
                    (true, false) => format!("ok: {ip} of {k} was drained already\n"),
                    (false, true) => format!("ok: {ip} of {k} undrained\n"),
                    (false, false) => format!("ok: {ip} of {k} was not drained\n"),
                }
            }
        }
    }

    /// What the reports read.
    fn sources<'a>(&'a self, instances: &'a [&'a Running], now: Duration) -> status::Sources<'a> {
        status::Sources {
            instances,
            cfg: &self.cfg,
            plans: &self.plans,
            checks: &self.checks,
            drains: &self.drains,
            lb_error: self.lb.error.as_deref(),
            now,
            sync: None,
        }
    }

    fn status_json(&mut self, now: Duration) -> String {
        let sync = self.conn_sync.as_mut().map(|s| s.status());
        let instances: Vec<&Running> = self.instances.iter().map(|(_, r)| r).collect();
        let mut sources = self.sources(&instances, now);
        sources.sync = sync;
        status::json(&sources)
    }

    fn exposition(&mut self) -> String {
        let module = self.lb.read().ok();
        let sync = self.conn_sync.as_mut().map(|s| s.status());
        let instances: Vec<&Running> = self.instances.iter().map(|(_, r)| r).collect();
        let mut sources = self.sources(&instances, self.now());
        sources.sync = sync;
        status::metrics(&sources, module.as_deref(), self.prober.running())
    }
}
