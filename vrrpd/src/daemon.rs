//! The daemon: one event loop (epoll, through mio) that feeds the sans-IO
//! parts with time and events and carries out what they return at the
//! edges.
//!
//! - VRRP: each instance's socket feeds its state machine ([`crate::fsm`]
//!   through [`crate::instance`]); a transition moves the VIPs and switches
//!   drlb, standby before the VIPs go and active after they come.
//! - Checks: [`crate::checks`] says which probes are due; [`crate::probe`]
//!   runs them as non-blocking sockets (or a child process) in this same
//!   loop; their results move real servers up and down.
//! - drlb: whenever something changes, and every second to undo changes
//!   made by hand or to follow a module that came back, the module is
//!   brought to the plan of [`crate::services`] through [`crate::lb`].
//! - The control socket, the metrics endpoint, and signals: SIGHUP
//!   reloads as a diff ([`crate::reload`]), SIGTERM releases every
//!   instance.

use crate::checks::{Checks, Due, ProbeId, ProbeKey, Recorded};
use crate::config::{self, Config};
use crate::control::{self, Request};
use crate::fsm::{Action, Event, State};
use crate::health::Health;
use crate::instance::Running;
use crate::lb::Lb;
use crate::probe::Prober;
use crate::reload::{self, Change, Drain};
use crate::serve::{self, Conn, Framing, Next};
use crate::services::{self, RealState, ServicePlan};
use crate::{metrics, status};
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use std::collections::{BTreeSet, HashMap};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

/// How often interfaces are looked at.
const LINK_POLL: Duration = Duration::from_millis(100);
/// How often the module is compared with the plan when nothing changed.
const SYNC_INTERVAL: Duration = Duration::from_secs(1);
/// Control and metrics connections open at once; more are closed at once.
const MAX_CONNS: usize = 64;
/// Check results that change the plan are applied together, at most this
/// often (VRRP transitions are applied at once).
const SYNC_COALESCE: Duration = Duration::from_millis(10);

/// Tokens: the fixed sources, then kinds of many in the high bits.
const SIGNALS: Token = Token(0);
const CONTROL: Token = Token(1);
const METRICS: Token = Token(2);
const INSTANCE: usize = 1;
const PROBE: usize = 2;
const CONN: usize = 3;
const KIND_SHIFT: u32 = 40;

fn token(kind: usize, id: usize) -> Token {
    Token(kind << KIND_SHIFT | id)
}

fn log(msg: impl std::fmt::Display) {
    eprintln!("vrrpd: {msg}");
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
    next_link_poll: Duration,
    /// The last plan, per virtual server.
    plans: Vec<ServicePlan>,
    /// The namespace state last set.
    ns_active: Option<bool>,
    /// Our own uid: its peers may drain.
    uid: u32,
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
    let mut d = Daemon::new(path, socket, cfg)?;
    d.start()?;
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
            next_link_poll: Duration::ZERO,
            plans: vec![],
            ns_active: None,
            // SAFETY: geteuid has no preconditions.
            uid: unsafe { libc::geteuid() },
        })
    }

    fn now(&self) -> Duration {
        self.epoch.elapsed()
    }

    /// Starts every instance and check; fails if nothing could start.
    fn start(&mut self) -> io::Result<()> {
        let now = self.now();
        self.sync_checks(now);
        self.dirty.all("start".into());
        for c in self.cfg.instances.clone() {
            self.start_instance(c, now);
        }
        if self.instances.is_empty() && self.cfg.virtual_servers.is_empty() {
            return Err(io::Error::other(
                "nothing to run: no instance could start, and there are no virtual servers",
            ));
        }
        log(format_args!(
            "running {} instance(s), {} virtual server(s), {} check(s) from {}",
            self.instances.len(),
            self.cfg.virtual_servers.len(),
            self.checks.len(),
            self.path.display()
        ));
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
                                log(format_args!("SIGHUP from pid {pid}: reloading"));
                                self.reload(now);
                            } else {
                                let name = if sig == libc::SIGINT {
                                    "SIGINT"
                                } else {
                                    "SIGTERM"
                                };
                                log(format_args!("{name} from pid {pid}"));
                                self.stop(now);
                                return Ok(());
                            }
                        }
                    }
                    CONTROL => self.accept_control(now),
                    METRICS => self.accept_metrics(now),
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
                            _ => {}
                        }
                    }
                }
            }
            self.children
                .retain_mut(|c| matches!(c.try_wait(), Ok(None)));
            self.prober.reap();
        }
    }

    /// Timers: links, VRRP, checks, slow start, the sync, connections.
    fn on_time(&mut self, now: Duration) {
        if now >= self.next_link_poll {
            self.next_link_poll = now + LINK_POLL;
            for i in 0..self.instances.len() {
                let r = &mut self.instances[i].1;
                let up = r.links_up();
                if up != r.up {
                    r.up = up;
                    let (ev, why) = if up {
                        (Event::InterfaceUp, "interface up")
                    } else {
                        (Event::InterfaceDown, "interface down")
                    };
                    self.instance_event(i, now, ev, why);
                }
            }
        }
        for i in 0..self.instances.len() {
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
    }

    fn next_wakeup(&mut self) -> Duration {
        let mut t = self.next_link_poll.min(self.next_sync);
        if !self.dirty.is_clean() {
            t = t.min(self.last_sync + SYNC_COALESCE);
        }
        for (_, r) in &self.instances {
            t = t.min(r.next_deadline().unwrap_or(t));
        }
        t = t.min(self.checks.next_wakeup().unwrap_or(t));
        t = t.min(self.next_ramp.unwrap_or(t));
        for c in self.conns.values() {
            t = t.min(c.deadline);
        }
        t
    }

    // ---- VRRP ----

    fn start_instance(&mut self, c: config::InstanceConfig, now: Duration) {
        let name = c.name.clone();
        let mut r = match Running::start(c) {
            Ok(r) => r,
            Err(e) => return log(format_args!("{name}: not started: {e}")),
        };
        let id = self.next_id;
        self.next_id += 1;
        let reg = self.poll.registry().register(
            &mut SourceFd(&r.raw_fd()),
            token(INSTANCE, id),
            Interest::READABLE,
        );
        if let Err(e) = reg {
            return log(format_args!("{name}: not started: {e}"));
        }
        let first = if r.up {
            vec![]
        } else {
            r.handle(now, Event::InterfaceDown, "interface down at start")
        };
        self.instances.push((id, r));
        let i = self.instances.len() - 1;
        self.carry_out(i, now, first);
        self.instance_event(i, now, Event::Startup, "startup");
    }

    fn remove_instance(&mut self, i: usize, now: Duration, why: &str) {
        self.instance_event(i, now, Event::Shutdown, why);
        let (_, r) = self.instances.remove(i);
        let _ = self.poll.registry().deregister(&mut SourceFd(&r.raw_fd()));
    }

    fn instance_readable(&mut self, id: usize, now: Duration) {
        let Some(i) = self.instances.iter().position(|(x, _)| *x == id) else {
            return;
        };
        for (ev, why) in self.instances[i].1.receive() {
            self.instance_event(i, now, ev, &why);
        }
    }

    fn instance_event(&mut self, i: usize, now: Duration, ev: Event, why: &str) {
        let actions = self.instances[i].1.handle(now, ev, why);
        self.carry_out(i, now, actions);
    }

    /// Carries out instance `i`'s actions. drlb follows a master after its
    /// VIPs are up, and goes standby before they are removed.
    fn carry_out(&mut self, i: usize, now: Duration, actions: Vec<Action>) {
        for a in actions {
            let name = self.instances[i].1.name().to_string();
            match a {
                Action::SendAdvert { .. } => self.instances[i].1.act(now, a),
                Action::BecomeMaster => {
                    self.instances[i].1.act(now, a);
                    self.dirty.all(format!("{name} became MASTER"));
                    self.sync(now);
                    self.notify(i, "MASTER");
                }
                Action::BecomeBackup | Action::EnterInit | Action::EnterFault => {
                    let state = crate::instance::state_name(self.instances[i].1.state());
                    self.dirty.all(format!("{name} is {state}"));
                    self.sync(now);
                    self.instances[i].1.act(now, a);
                    match a {
                        Action::BecomeBackup => self.notify(i, "BACKUP"),
                        Action::EnterFault => self.notify(i, "FAULT"),
                        _ => {}
                    }
                }
            }
        }
    }

    fn notify(&mut self, i: usize, state: &str) {
        if let Some(c) = self.instances[i].1.notify(state) {
            self.children.push(c);
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
        log(&what);
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
    /// instances' states). Logs what it changed, and why.
    fn sync(&mut self, now: Duration) {
        let dirty = std::mem::take(&mut self.dirty);
        let periodic = now >= self.next_sync;
        let full = dirty.all || periodic || self.plans.len() != self.cfg.virtual_servers.len();
        // (ops that no change of ours explains undo a change made by hand)
        let why = dirty.why.clone().filter(|_| !dirty.is_clean());
        self.last_sync = now;
        if full {
            self.next_sync = now + SYNC_INTERVAL;
            self.plans = self.plans(now);
            self.next_ramp = self.ramp_step_due(now);
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
        let had_error = self.lb.error.clone();
        if !self.cfg.virtual_servers.is_empty() || self.lb.manages_any() {
            let result = if full {
                let pairs: Vec<_> = self.cfg.virtual_servers.iter().zip(&self.plans).collect();
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
                    if s.reappeared {
                        log("drlb is reachable again: programming it");
                        self.ns_active = None;
                    }
                    for op in &s.ops {
                        match &why {
                            Some(w) => log(format_args!("drlb-tool {op}  # {w}")),
                            None => log(format_args!(
                                "drlb-tool {op}  # put back: changed outside vrrpd"
                            )),
                        }
                    }
                }
                Err(_) => {
                    if had_error != self.lb.error {
                        if let Some(e) = &self.lb.error {
                            log(format_args!("drlb: {e} (retrying every second)"));
                        }
                    }
                    return;
                }
            }
        }
        // The namespace switch: kept true while instances drive it; set
        // active once otherwise (a fresh module, or a services-only file).
        let want = match self.namespace_active() {
            Some(a) => Some(a),
            None if self.ns_active.is_none() && !self.cfg.virtual_servers.is_empty() => Some(true),
            None => None,
        };
        if let Some(active) = want {
            match self.lb.set_namespace(active) {
                Ok(changed) => {
                    if changed || self.ns_active != Some(active) {
                        if changed {
                            log(format_args!(
                                "drlb: namespace {}",
                                if active { "active" } else { "standby" }
                            ));
                        }
                        self.ns_active = Some(active);
                    }
                }
                Err(e) => {
                    if had_error.is_none() {
                        log(format_args!("drlb: {e:#} (retrying every second)"));
                    }
                }
            }
        }
    }

    // ---- reload and stop ----

    /// SIGHUP: applies only what changed. A bad file changes nothing.
    fn reload(&mut self, now: Duration) {
        let new = match config::load(&self.path) {
            Ok(c) => c,
            Err(errs) => {
                for e in errs {
                    log(format_args!("reload refused: {e}"));
                }
                return;
            }
        };
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
                    Err(e) => log(e),
                }
            }
        }
        let running: Vec<&config::InstanceConfig> =
            self.instances.iter().map(|(_, r)| &r.cfg).collect();
        let plan = reload::plan(&running, &new);
        self.drains = reload::kept_drains(&self.cfg, &new, &self.drains);
        self.cfg = new;
        self.sync_checks(now);
        for (name, change) in plan.running {
            let Some(i) = self.instances.iter().position(|(_, r)| r.name() == name) else {
                continue;
            };
            match change {
                Change::Keep => {}
                Change::Priority(p) => {
                    log(format_args!("{name}: priority {p} (reload)"));
                    let actions = self.instances[i].1.set_priority(now, p);
                    self.carry_out(i, now, actions);
                }
                Change::Remove => self.remove_instance(i, now, "removed by reload"),
                Change::Restart => {
                    self.remove_instance(i, now, "changed by reload");
                    if let Some(c) = self.cfg.instance(&name).cloned() {
                        self.start_instance(c, now);
                    }
                }
            }
        }
        for name in plan.start {
            if let Some(c) = self.cfg.instance(&name).cloned() {
                self.start_instance(c, now);
            }
        }
        self.dirty.all("reload".into());
        self.sync(now);
        log(format_args!(
            "reloaded {}: {} instance(s), {} virtual server(s), {} check(s)",
            self.path.display(),
            self.instances.len(),
            self.cfg.virtual_servers.len(),
            self.checks.len()
        ));
    }

    /// SIGTERM: every instance resigns (drlb standby, VIPs removed, a
    /// priority-0 advert). The module keeps its services, so a restarted
    /// daemon finds them and changes only what differs.
    fn stop(&mut self, now: Duration) {
        log("stopping: releasing every instance");
        while !self.instances.is_empty() {
            self.notify(0, "STOP");
            self.remove_instance(0, now, "shutdown");
        }
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
                Err(e) => return log(format_args!("control socket: {e}")),
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
                Err(e) => return log(format_args!("metrics: {e}")),
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
            Err(e) => log(format_args!("accepting a connection: {e}")),
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
                    log(format_args!("{ip} of {k} {verb} by request"));
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
        }
    }

    fn status_json(&self, now: Duration) -> String {
        let instances: Vec<&Running> = self.instances.iter().map(|(_, r)| r).collect();
        status::json(&self.sources(&instances, now))
    }

    fn exposition(&mut self) -> String {
        let module = self.lb.read().ok();
        let instances: Vec<&Running> = self.instances.iter().map(|(_, r)| r).collect();
        let sources = self.sources(&instances, self.now());
        status::metrics(&sources, module.as_deref(), self.prober.running())
    }
}
