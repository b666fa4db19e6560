//! Connection sync between directors (`[sync]`): the relay between the
//! module's sync queue and the peers' daemons.
//!
//! - [`wire`]: the datagram, version 1, and its HMAC.
//! - [`relay`]: the state machine, sans IO: packing, receiving, the pull
//!   and the preemption gate.
//! - [`net`]: the UDP socket.
//! - [`module`]: the module's sync commands, behind a trait.
//! - [`answer`]: a pull's answer, the whole table, from a thread of its own.
//! - here: the edge that drives them for the daemon's event loop, with
//!   the module behind [`Module`] (a fake one in tests), and the threads
//!   that answer pulls with the whole table.
//!
//! (Not [`crate::sync`], which is VRRP sync groups.)

mod answer;
mod module;
pub mod net;
pub mod relay;
pub mod wire;

pub use module::{Module, NlModule};

use crate::config::{ConnSync as Cfg, ServiceKey};
use log::{debug, info, warn};
use relay::{Action, Dest, Relay, Settings};
use std::net::SocketAddr;
use std::thread::JoinHandle;
use std::time::Duration;

/// How often the module's queue is read.
pub const READ_INTERVAL: Duration = Duration::from_millis(20);
/// The most `SYNC_READ`s in one poll (each up to 32 KiB).
const READS_PER_POLL: usize = 64;
/// How often the real servers' resolution is looked at while the gate
/// waits for it, and a closed socket or a module that refused the queue
/// is tried again.
const RETRY: Duration = Duration::from_millis(200);

/// What the daemon must do after a call: preemption held or let go.
pub type GateChange = (bool, String);

/// The relay at work: its socket, the module, the pull answers.
pub struct ConnSync<M: Module = NlModule> {
    pub cfg: Cfg,
    relay: Relay,
    module: M,
    socket: Option<net::SyncSocket>,
    /// Why the socket is not open, when it is not (retried).
    socket_error: Option<String>,
    next_read: Duration,
    next_retry: Duration,
    /// The queue is on (`SYNC_SET` answered).
    send_on: bool,
    /// The last module error said (said once).
    module_error: Option<String>,
    answers: Vec<(SocketAddr, JoinHandle<()>)>,
    /// The drlb state a pull's answer reports.
    pub active: bool,
    /// The services whose real servers must be resolved before the gate
    /// opens.
    pub services: Vec<ServiceKey>,
    /// What was unresolved at the last look, for the log.
    unresolved: Vec<String>,
    /// `SYNC_WRITE`s that failed.
    write_errors: u64,
    /// The socket may hold more than one turn read (its readiness is
    /// edge-triggered: read on at the next turn).
    more_to_read: bool,
}

impl<M: Module> ConnSync<M> {
    /// Opens the socket (a failure is retried) and turns the module's
    /// queue on; the pull starts at once.
    pub fn start(cfg: Cfg, module: M, sender: u32, now: Duration) -> (Self, Vec<GateChange>) {
        let settings = Settings {
            peers: cfg.peers.clone(),
            pull_timeout: cfg.pull_timeout,
        };
        let key = cfg.key.as_ref().map(|k| k.as_bytes().to_vec());
        let mut s = ConnSync {
            relay: Relay::new(settings, sender, key),
            module,
            socket: None,
            socket_error: None,
            next_read: now,
            next_retry: now,
            send_on: false,
            module_error: None,
            answers: vec![],
            active: false,
            services: vec![],
            unresolved: vec![],
            write_errors: 0,
            more_to_read: false,
            cfg,
        };
        s.open_socket();
        let gate = s.module_fresh(now);
        (s, gate)
    }

    fn open_socket(&mut self) {
        let c = &self.cfg;
        match net::SyncSocket::open(&c.interface, &c.peers, c.port, c.group) {
            Ok(sock) => {
                if self.socket_error.take().is_some() {
                    info!("sync: socket open on {} port {}", c.interface, c.port);
                }
                self.socket = Some(sock);
            }
            Err(e) => {
                let e = e.to_string();
                if self.socket_error.as_ref() != Some(&e) {
                    warn!(
                        "sync: cannot open the socket on {}: {e} (retrying)",
                        c.interface
                    );
                }
                self.socket_error = Some(e);
            }
        }
    }

    /// The socket's fd, to register (None while it is not open).
    pub fn socket(&self) -> Option<&std::net::UdpSocket> {
        self.socket.as_ref().map(|s| &s.sock)
    }

    fn module_failed(&mut self, what: &str, e: anyhow::Error) {
        let e = format!("{what}: {e:#}");
        if self.module_error.as_ref() != Some(&e) {
            warn!("sync: {e}");
        }
        self.module_error = Some(e);
    }

    fn module_ok(&mut self) {
        if self.module_error.take().is_some() {
            info!("sync: the module answers again");
        }
    }

    /// The module was met, or came back: its queue on, and a pull.
    pub fn module_fresh(&mut self, now: Duration) -> Vec<GateChange> {
        self.module.forget();
        self.turn_on();
        self.start_pull(now)
    }

    fn start_pull(&mut self, now: Duration) -> Vec<GateChange> {
        let actions = self.relay.start_pull(now);
        info!(
            "sync: pulling the connection table from {}",
            if self.cfg.peers.is_empty() {
                format!("group {}", self.cfg.group)
            } else {
                self.cfg
                    .peers
                    .iter()
                    .map(|p| p.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        );
        self.carry_out(actions)
    }

    /// Whether the module's queue is on.
    pub fn send_on(&self) -> bool {
        self.send_on
    }

    fn turn_on(&mut self) {
        match self.module.set_send(true) {
            Ok(()) => {
                if !self.send_on {
                    debug!("sync: the module's queue is on");
                }
                self.send_on = true;
                self.module_ok();
            }
            Err(e) => {
                self.send_on = false;
                self.module_failed("turning the module's sync queue on", e);
            }
        }
    }

    /// The module's queue off (sync removed, or vrrpd stops).
    pub fn stop(&mut self) {
        if self.send_on {
            if let Err(e) = self.module.set_send(false) {
                warn!("sync: turning the module's sync queue off: {e:#}");
            }
        }
        self.send_on = false;
    }

    fn carry_out(&mut self, actions: Vec<Action>) -> Vec<GateChange> {
        let mut gate = vec![];
        for a in actions {
            match a {
                Action::Send { to, bytes } => {
                    let Some(s) = &self.socket else { continue };
                    let r = match to {
                        Dest::Peers => s.send_peers(&bytes),
                        Dest::To(a) => s.send_to(&bytes, a),
                    };
                    if let Err(e) = r {
                        debug!("sync: sending: {e}");
                    }
                }
                Action::Answer { to } => self.answer(to),
                Action::Gate { held, why } => gate.push((held, why)),
            }
        }
        gate
    }

    /// A thread sends `to` the whole table, then PULL_END: the loop
    /// goes on meanwhile (a big table must not delay the adverts).
    fn answer(&mut self, to: SocketAddr) {
        let enc = self.relay.enc.clone();
        let iface = self.cfg.interface.clone();
        let active = self.active;
        info!("sync: {to} pulls the connection table: sending it");
        let spawned = std::thread::Builder::new()
            .name("vrrpd-sync-pull".into())
            .spawn(move || {
                if let Err(e) = answer::answer_pull(&enc, &iface, to, active) {
                    warn!("sync: answering the pull from {to}: {e:#}");
                }
            });
        match spawned {
            Ok(h) => self.answers.push((to, h)),
            Err(e) => {
                warn!("sync: cannot start a thread to answer {to}: {e}");
                self.relay.answered(to);
            }
        }
    }

    /// The socket is readable: every datagram waiting, then the records
    /// to the module.
    pub fn readable(&mut self, now: Duration) -> Vec<GateChange> {
        let mut buf = [0u8; 2048];
        let mut actions = vec![];
        // (a turn's worth, then the adverts' turn; the rest at the next)
        self.more_to_read = self.socket.is_some();
        for _ in 0..256 {
            let Some(s) = &self.socket else { break };
            match s.recv(&mut buf) {
                Ok(Some((n, from))) => actions.extend(self.relay.received(now, from, &buf[..n])),
                Ok(None) => {
                    self.more_to_read = false;
                    break;
                }
                Err(e) => debug!("sync: receiving: {e}"),
            }
        }
        let gate = self.carry_out(actions);
        self.flush_writes();
        gate
    }

    fn flush_writes(&mut self) {
        for batch in self.relay.take_writes() {
            match self.module.write(&batch) {
                Ok(_) => self.module_ok(),
                Err(e) => {
                    self.write_errors += 1;
                    self.module_failed("writing peer records to the module", e);
                }
            }
        }
    }

    /// Reads the module's queue: every record there, to the peers.
    pub fn poll_module(&mut self) {
        let mut actions = vec![];
        for _ in 0..READS_PER_POLL {
            match self.module.read() {
                Ok((records, more)) => {
                    self.module_ok();
                    actions.extend(self.relay.from_module(&records));
                    if !more {
                        break;
                    }
                }
                Err(e) => {
                    // (tried again as a module that came back)
                    self.send_on = false;
                    self.module_failed("reading the module's sync queue", e);
                    break;
                }
            }
        }
        self.carry_out(actions);
    }

    /// Timers: the module's queue, the pull, the gate, retries.
    pub fn on_time(&mut self, now: Duration) -> Vec<GateChange> {
        let mut gate = vec![];
        if self.more_to_read {
            gate.extend(self.readable(now));
        }
        if now >= self.next_read {
            self.next_read = now + READ_INTERVAL;
            if self.send_on {
                self.poll_module();
            }
        }
        let finished: Vec<usize> = (0..self.answers.len())
            .filter(|&i| self.answers[i].1.is_finished())
            .collect();
        for i in finished.into_iter().rev() {
            let (to, h) = self.answers.remove(i);
            let _ = h.join();
            self.relay.answered(to);
        }
        if now >= self.next_retry {
            self.next_retry = now + RETRY;
            if self.socket.is_none() {
                self.open_socket();
            }
            if !self.send_on {
                // (the module was away: back now, it gets a pull too)
                self.turn_on();
                if self.send_on {
                    gate.extend(self.start_pull(now));
                }
            }
            if self.relay.wants_resolution() {
                match self.module.unresolved(&self.services) {
                    Ok(u) => {
                        if u != self.unresolved && !u.is_empty() {
                            info!(
                                "sync: waiting for real servers to resolve: {}",
                                u.join(", ")
                            );
                        }
                        let none = u.is_empty();
                        self.unresolved = u;
                        let actions = self.relay.set_resolved(now, none);
                        gate.extend(self.carry_out(actions));
                    }
                    Err(e) => self.module_failed("reading the real servers", e),
                }
            }
        }
        let actions = self.relay.tick(now);
        gate.extend(self.carry_out(actions));
        gate
    }

    /// Whether preemption is held.
    pub fn held(&self) -> bool {
        self.relay.held()
    }

    /// When [`ConnSync::on_time`] next has work.
    pub fn next_wakeup(&self) -> Duration {
        let mut t = self.next_read.min(self.next_retry);
        if self.more_to_read {
            t = Duration::ZERO;
        }
        if let Some(r) = self.relay.next_wakeup() {
            t = t.min(r);
        }
        t
    }

    /// The "sync" section of `vrrpd status`.
    pub fn status(&mut self) -> serde_json::Value {
        let c = self.relay.enc.counters.snapshot();
        let module = self.module.counters().ok();
        let mut v = serde_json::json!({
            "interface": self.cfg.interface,
            "peers": self.cfg.peers,
            "port": self.cfg.port,
            "group": self.cfg.peers.is_empty().then(|| self.cfg.group.to_string()),
            "authenticated": self.cfg.key.is_some(),
            "pull": self.relay.pull().name(),
            "pulled_records": match self.relay.pull() {
                relay::Pull::Done { records } => Some(*records),
                _ => None,
            },
            "preemption_held": self.relay.held(),
            "socket_error": self.socket_error,
            "module_error": self.module_error,
            "write_errors": self.write_errors,
            "module": module,
        });
        if let (Some(o), serde_json::Value::Object(m)) = (
            v.as_object_mut(),
            serde_json::to_value(c).unwrap_or_default(),
        ) {
            o.extend(m);
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Result;
    use drlb_tool::sync::{Counters, Written};
    use std::cell::RefCell;
    use std::rc::Rc;
    use wire::tests::{bytes, record};

    /// A module that keeps what it is given.
    #[derive(Clone, Default)]
    struct Fake {
        queue: Rc<RefCell<Vec<Vec<u8>>>>,
        written: Rc<RefCell<Vec<Vec<u8>>>>,
        send: Rc<RefCell<Option<bool>>>,
        unresolved: Rc<RefCell<Vec<String>>>,
        /// The module is away: every call fails.
        away: Rc<RefCell<bool>>,
        sets: Rc<RefCell<usize>>,
    }

    impl Fake {
        fn check(&self) -> Result<()> {
            if *self.away.borrow() {
                anyhow::bail!("the drlb module is not loaded");
            }
            Ok(())
        }
    }

    impl Module for Fake {
        fn set_send(&mut self, on: bool) -> Result<()> {
            self.check()?;
            *self.sets.borrow_mut() += 1;
            *self.send.borrow_mut() = Some(on);
            Ok(())
        }
        fn read(&mut self) -> Result<(Vec<u8>, bool)> {
            self.check()?;
            let mut q = self.queue.borrow_mut();
            if q.is_empty() {
                return Ok((vec![], false));
            }
            let r = q.remove(0);
            Ok((r, !q.is_empty()))
        }
        fn write(&mut self, records: &[u8]) -> Result<Written> {
            self.written.borrow_mut().push(records.to_vec());
            Ok(Written::default())
        }
        fn counters(&mut self) -> Result<Counters> {
            Ok(Counters::default())
        }
        fn unresolved(&mut self, _: &[ServiceKey]) -> Result<Vec<String>> {
            Ok(self.unresolved.borrow().clone())
        }
    }

    fn cfg(port: u16, peer_port: u16, key: Option<&str>) -> Cfg {
        let _ = peer_port;
        Cfg {
            interface: String::new(),
            peers: vec!["127.0.0.1".parse().unwrap()],
            key: key.map(String::from),
            port,
            group: std::net::Ipv4Addr::new(224, 0, 0, 81),
            pull_timeout: Duration::from_millis(1000),
            line: 1,
        }
    }

    fn free_port() -> u16 {
        std::net::UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    }

    /// Two relays on loopback (one port each, peers 127.0.0.1 with the
    /// other's port): the module's records go across and are written.
    #[test]
    fn records_go_from_one_module_to_the_other() {
        let (pa, pb) = (free_port(), free_port());
        let (fa, fb) = (Fake::default(), Fake::default());
        let now = Duration::ZERO;
        let (mut a, gate) = ConnSync::start(cfg(pa, pb, Some("k")), fa.clone(), 1, now);
        assert_eq!(gate.len(), 1, "held from the start: {gate:?}");
        assert!(gate[0].0);
        assert_eq!(*fa.send.borrow(), Some(true), "SYNC_SET send=1 at start");
        let (mut b, _) = ConnSync::start(cfg(pb, pa, Some("k")), fb.clone(), 2, now);
        // (both send to 127.0.0.1 at their own port: point them across)
        a.socket.as_mut().unwrap().retarget(pb);
        b.socket.as_mut().unwrap().retarget(pa);
        let recs: Vec<_> = (0..100).map(record).collect();
        fa.queue.borrow_mut().push(bytes(&recs));
        a.poll_module();
        std::thread::sleep(Duration::from_millis(50));
        b.readable(now);
        let got: Vec<u8> = fb.written.borrow().concat();
        assert_eq!(got, bytes(&recs));
        let s = b.status();
        assert_eq!(s["records_received"], 100);
        assert_eq!(s["datagrams_received"], 2);
        // A wrong key is counted, nothing written.
        let (mut c, _) =
            ConnSync::start(cfg(free_port(), pb, Some("other")), Fake::default(), 3, now);
        c.socket.as_mut().unwrap().retarget(pb);
        c.module.queue.borrow_mut().push(bytes(&recs[..1]));
        c.poll_module();
        std::thread::sleep(Duration::from_millis(50));
        fb.written.borrow_mut().clear();
        b.readable(now);
        assert!(fb.written.borrow().is_empty());
        assert_eq!(b.status()["bad_auth"], 1);
        b.stop();
        assert_eq!(*fb.send.borrow(), Some(false), "SYNC_SET send=0 at stop");
    }

    /// The module goes away and comes back (unloaded, loaded): its
    /// queue is turned on again and the table pulled again.
    /// A PULL_END from an active peer (sender 9), no key.
    fn active_pull_end() -> Vec<u8> {
        let body = wire::Body::PullEnd {
            records: 0,
            active: true,
        };
        wire::encode(
            &wire::Datagram {
                sender: 9,
                seq: 1,
                body,
            },
            None,
        )
    }

    #[test]
    fn a_module_that_comes_back_gets_send_on_and_a_pull() {
        let f = Fake::default();
        let ms = Duration::from_millis;
        let (mut s, _) = ConnSync::start(cfg(free_port(), 1, None), f.clone(), 1, ms(0));
        assert_eq!(*f.sets.borrow(), 1);
        let end = active_pull_end();
        s.relay
            .received(ms(10), "127.0.0.1:1".parse().unwrap(), &end);
        let g = s.on_time(ms(300));
        assert!(!s.held(), "{g:?}");
        *f.away.borrow_mut() = true;
        s.on_time(ms(400)); // (a read fails)
        assert!(!s.send_on());
        s.on_time(ms(700));
        assert_eq!(*f.sets.borrow(), 1, "nothing to turn on while away");
        assert!(!s.held());
        *f.away.borrow_mut() = false;
        let g = s.on_time(ms(1000));
        assert!(s.send_on());
        assert_eq!(*f.sets.borrow(), 2, "SYNC_SET again");
        assert_eq!(*f.send.borrow(), Some(true));
        assert!(g.iter().any(|(held, _)| *held), "a new pull holds: {g:?}");
        assert_eq!(s.relay.pull(), &relay::Pull::Pulling);
    }

    #[test]
    fn the_gate_waits_for_the_reals() {
        let f = Fake::default();
        *f.unresolved.borrow_mut() = vec!["10.0.0.3 of tcp 10.0.0.1:80".into()];
        let (mut s, _) = ConnSync::start(cfg(free_port(), 1, None), f.clone(), 1, Duration::ZERO);
        // The pull completes (a PULL_END from an active peer) ...
        let end = active_pull_end();
        s.relay.received(
            Duration::from_millis(10),
            "127.0.0.1:1".parse().unwrap(),
            &end,
        );
        assert!(s.on_time(Duration::from_millis(300)).is_empty());
        assert!(s.held(), "a real server is not resolved");
        f.unresolved.borrow_mut().clear();
        let g = s.on_time(Duration::from_millis(600));
        assert_eq!(g.len(), 1);
        assert!(!g[0].0 && g[0].1.contains("the table arrived"), "{g:?}");
    }
}
