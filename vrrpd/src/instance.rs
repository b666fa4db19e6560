//! One running VRRP instance at its edges: its socket, its interface's
//! addresses and gratuitous ARPs, its notify script, its counters. The
//! protocol itself is [`crate::fsm`]; the daemon feeds it events and
//! carries out the [`Action`]s this returns, in order, because some of
//! them (switching drlb) need the whole daemon.

use crate::config::InstanceConfig;
use crate::fsm::{Action, Event, Instance, State};
use crate::link;
use crate::packet::{Advert, RxCheck, RxError, Version, MCAST_V4, MCAST_V6};
use crate::sock::VrrpSocket;
use serde_json::json;
use std::collections::BTreeMap;
use std::io;
use std::net::IpAddr;
use std::process::Child;
use std::time::{Duration, SystemTime};

/// keepalived's defaults: 5 gratuitous ARPs on becoming master, and 5
/// more 5 s later (garp_master_repeat, garp_master_delay).
const GARP_COUNT: u32 = 5;
const GARP_REFRESH: Duration = Duration::from_secs(5);

fn log(msg: impl std::fmt::Display) {
    eprintln!("vrrpd: {msg}");
}

/// A state's name, as status and notify scripts show it.
pub fn state_name(s: State) -> &'static str {
    match s {
        State::Initialize => "INIT",
        State::Backup => "BACKUP",
        State::Master => "MASTER",
        State::Fault => "FAULT",
    }
}

/// Counters, as status and metrics show them.
#[derive(Default)]
pub struct Counters {
    /// Adverts sent.
    pub adverts_sent: u64,
    /// Adverts received that passed the checks.
    pub adverts_received: u64,
    /// State changes.
    pub transitions: u64,
    /// Times it became master.
    pub became_master: u64,
    /// Discarded packets by reason.
    pub bad: BTreeMap<&'static str, u64>,
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
pub struct Running {
    /// Its configuration.
    pub cfg: InstanceConfig,
    fsm: Instance,
    sock: VrrpSocket,
    ifindex: u32,
    /// Where adverts come from: the primary IPv4 address, or the IPv6
    /// link-local one.
    src: IpAddr,
    mac: [u8; 6],
    rx: RxCheck,
    /// The interface and the tracked ones were up at the last look.
    pub up: bool,
    holds_vips: bool,
    /// GARP bursts still to send.
    garp_at: Vec<Duration>,
    master: Option<IpAddr>,
    last_change: Option<(SystemTime, String)>,
    /// Counters.
    pub counters: Counters,
}

impl Running {
    /// Opens the instance's socket; it is in Initialize until the daemon
    /// sends it [`Event::Startup`].
    pub fn start(cfg: InstanceConfig) -> io::Result<Self> {
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
        let mut r = Self {
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
        };
        r.up = r.links_up();
        Ok(r)
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.cfg.name
    }

    /// Its protocol state.
    pub fn state(&self) -> State {
        self.fsm.state()
    }

    /// Its socket's descriptor, for the event loop.
    pub fn raw_fd(&self) -> std::os::fd::RawFd {
        self.sock.raw_fd()
    }

    /// When it next needs [`Event::Timer`] or a GARP burst.
    pub fn next_deadline(&self) -> Option<Duration> {
        [self.fsm.next_deadline(), self.garp_at.first().copied()]
            .into_iter()
            .flatten()
            .min()
    }

    /// Whether its protocol timer has passed.
    pub fn timer_due(&self, now: Duration) -> bool {
        self.fsm.next_deadline().is_some_and(|d| d <= now)
    }

    /// The interface and every tracked one are up.
    pub fn links_up(&self) -> bool {
        link::is_up(&self.cfg.interface) && self.cfg.track_interfaces.iter().all(|i| link::is_up(i))
    }

    /// Feeds one event; the actions the caller must carry out, in order
    /// (see [`Running::act`]).
    pub fn handle(&mut self, now: Duration, event: Event, why: &str) -> Vec<Action> {
        let before = self.fsm.state();
        let actions = self.fsm.handle(now, event);
        self.note_change(before, why);
        actions
    }

    /// A priority change from a reload, in place.
    pub fn set_priority(&mut self, now: Duration, priority: u8) -> Vec<Action> {
        self.cfg.priority = priority;
        self.rx.priority = priority;
        self.fsm.set_priority(now, priority)
    }

    fn note_change(&mut self, before: State, why: &str) {
        let after = self.fsm.state();
        if after == before {
            return;
        }
        log(format_args!(
            "{}: {} -> {} ({why})",
            self.name(),
            state_name(before),
            state_name(after)
        ));
        self.counters.transitions += 1;
        if after == State::Master {
            self.counters.became_master += 1;
        }
        self.last_change = Some((
            SystemTime::now(),
            format!("{} -> {}: {why}", state_name(before), state_name(after)),
        ));
    }

    /// Carries out what concerns the instance alone: adverts, VIPs, GARP.
    /// The daemon switches drlb around it: after [`Action::BecomeMaster`]
    /// has added the VIPs, and before the other state actions remove them.
    pub fn act(&mut self, now: Duration, a: Action) {
        match a {
            Action::SendAdvert { priority } => self.advertise(priority),
            Action::BecomeMaster => {
                self.master = Some(self.src);
                self.set_vips(true);
                self.garp_at = vec![now, now + GARP_REFRESH];
            }
            Action::BecomeBackup | Action::EnterInit | Action::EnterFault => {
                self.set_vips(false);
                self.garp_at.clear();
                if a == Action::EnterFault {
                    self.master = None;
                }
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

    /// Sends a GARP burst if one is due.
    pub fn garp(&mut self, now: Duration) {
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

    /// Starts the notify script without waiting for it: `SCRIPT INSTANCE
    /// NAME STATE PRIORITY`, keepalived's arguments. The caller reaps it.
    pub fn notify(&self, state: &str) -> Option<Child> {
        let script = self.cfg.notify.as_ref()?;
        std::process::Command::new(script)
            .args([
                "INSTANCE",
                self.name(),
                state,
                &self.cfg.priority.to_string(),
            ])
            .stdin(std::process::Stdio::null())
            .spawn()
            .map_err(|e| {
                log(format_args!(
                    "{}: notify {}: {e}",
                    self.name(),
                    script.display()
                ))
            })
            .ok()
    }

    /// Reads every waiting packet; the adverts that passed the checks, as
    /// events (with a reason for the log) for the caller to handle.
    pub fn receive(&mut self) -> Vec<(Event, String)> {
        let mut out = vec![];
        loop {
            let pkt = match self.sock.recv() {
                Ok(Some(p)) => p,
                Ok(None) => return out,
                Err(e) => {
                    log(format_args!("{}: receive: {e}", self.name()));
                    return out;
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
                    let ev = Event::Advert {
                        priority: advert.priority,
                        max_adver_int_cs: interval,
                        src_addr: pkt.src,
                    };
                    out.push((ev, why));
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

    /// The instance as `vrrpd status --json` shows it.
    pub fn status(&self) -> serde_json::Value {
        let (at, reason) = match &self.last_change {
            Some((t, r)) => (json!(unix_secs(*t)), json!(r)),
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
            "transitions": self.counters.transitions,
            "became_master": self.counters.became_master,
            "adverts_sent": self.counters.adverts_sent,
            "adverts_received": self.counters.adverts_received,
            "bad_packets": self.counters.bad,
        })
    }
}

/// Seconds since the epoch, as status shows times.
pub fn unix_secs(t: SystemTime) -> f64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}
