//! One running VRRP instance at its edges: its socket, its interface (as
//! rtnetlink reports it: index, MAC, up or down), its addresses and
//! gratuitous ARPs, its notify script, its counters and its rate-limited
//! logs. The protocol itself is [`crate::fsm`]; the daemon feeds it events
//! and carries out the [`Action`]s this returns, in order, because some of
//! them (switching drlb) need the whole daemon.

use crate::config::{InstanceConfig, VirtualIp};
use crate::fsm::{Action, Event, Hold, Instance, State};
use crate::garp::GarpSchedule;
use crate::link;
use crate::links::Links;
use crate::loglimit::{Hit, LogLimit, Summary};
use crate::packet::{Advert, RxCheck, RxError, Version, MCAST_V4, MCAST_V6};
use crate::sock::{Received, VrrpSocket};
use crate::track::{self, Tracker};
use crate::vmac::Vmac;
use log::{debug, error, info, log, warn, Level};
use serde_json::json;
use std::collections::BTreeMap;
use std::io;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::Child;
use std::time::{Duration, SystemTime};

/// A state's name, as status and notify scripts show it.
pub fn state_name(s: State) -> &'static str {
    match s {
        State::Initialize => "INIT",
        State::Backup => "BACKUP",
        State::Master => "MASTER",
        State::Fault => "FAULT",
    }
}

/// Why an instance is in Fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Cause {
    /// Its interface, or a tracked one, is down or gone.
    Interface,
    /// It could not add its VIPs.
    Vip,
    /// It could not switch drlb (the module, or the namespace's state).
    Drlb,
    /// A tracked script or file without a weight failed.
    Track,
    /// Another member of its sync group is in Fault.
    Group,
}

impl Cause {
    /// Every cause, as metrics list them.
    pub const ALL: [Cause; 5] = [
        Cause::Interface,
        Cause::Vip,
        Cause::Drlb,
        Cause::Track,
        Cause::Group,
    ];

    /// Its name in metrics and status.
    pub fn name(self) -> &'static str {
        match self {
            Cause::Interface => "interface",
            Cause::Vip => "vip",
            Cause::Drlb => "drlb",
            Cause::Track => "track",
            Cause::Group => "sync_group",
        }
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
    /// Entries into Fault by cause ([`Cause::name`]).
    pub faults: BTreeMap<&'static str, u64>,
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

/// What the receive path makes of one packet.
#[derive(Debug, PartialEq)]
pub enum Verdict {
    /// It passed every check: an event for the state machine.
    Accept(Advert),
    /// Our own advert, looped back: ignored without a count.
    Own,
    /// Discarded, counted under `reason` (a metrics label) and logged
    /// (rate-limited) with `detail`.
    Discard {
        /// The counter's label.
        reason: &'static str,
        /// What the log line says.
        detail: String,
    },
}

/// The whole receive-side validation of one packet that the socket
/// delivered: the sender (our own source, `unicast_peers`), then
/// [`RxCheck::receive`] (TTL, decoding with its length, count and checksum
/// checks, version, VRID, owner, authentication, addresses, interval).
/// Pure, so that the fuzz tests can feed it anything.
pub fn classify(rx: &RxCheck, own: IpAddr, peers: &[IpAddr], pkt: &Received) -> Verdict {
    classify_payload(rx, own, peers, pkt, &pkt.payload)
}

/// [`classify`] with the VRRP payload given apart: the packet's own, or
/// what an AH header wrapped.
pub fn classify_payload(
    rx: &RxCheck,
    own: IpAddr,
    peers: &[IpAddr],
    pkt: &Received,
    payload: &[u8],
) -> Verdict {
    if pkt.src == own {
        return Verdict::Own;
    }
    if !peers.is_empty() && !peers.contains(&pkt.src) {
        return Verdict::Discard {
            reason: "unknown_peer",
            detail: "not one of unicast_peers".into(),
        };
    }
    match rx.receive(pkt.ttl, payload, pkt.src, pkt.dst) {
        Ok((advert, _)) => Verdict::Accept(advert),
        Err(e) => Verdict::Discard {
            reason: bad_reason(&e),
            detail: e.to_string(),
        },
    }
}

/// A MAC as `02:00:5e:00:aa:01`.
pub fn mac_text(m: [u8; 6]) -> String {
    m.map(|b| format!("{b:02x}")).join(":")
}

/// The address adverts go out from: `unicast_src`, else the interface's
/// primary IPv4 address, or its IPv6 link-local one.
fn source(cfg: &InstanceConfig) -> io::Result<IpAddr> {
    let vips: Vec<IpAddr> = cfg.virtual_ips.iter().map(|v| v.addr).collect();
    Ok(match (cfg.unicast_src, cfg.is_ipv6()) {
        (Some(a), _) => a,
        (None, false) => IpAddr::V4(link::primary_v4(&cfg.interface, &vips)?),
        (None, true) => IpAddr::V6(link::link_local_v6(&cfg.interface)?),
    })
}

/// Warns (as keepalived does) when a priority-255 instance's interface
/// lacks one of its VIPs: RFC 5798 keeps 255 for the address owner
/// ([`crate::owner`]). The VIPs it does own, which are the interface's
/// and which it never removes.
fn warn_not_owner(cfg: &InstanceConfig) -> Vec<IpAddr> {
    if cfg.priority != crate::fsm::OWNER_PRIORITY {
        return vec![];
    }
    let held = link::addresses(&cfg.interface).unwrap_or_default();
    let missing = crate::owner::not_owned(cfg.priority, &cfg.virtual_ips, &held);
    for vip in &missing {
        warn!("{}", crate::owner::warning(&cfg.name, &cfg.interface, *vip));
    }
    cfg.virtual_ips
        .iter()
        .map(|v| v.addr)
        .filter(|a| !missing.contains(a))
        .collect()
}

/// The instance's macvlan, if it has `use_vmac`.
fn open_vmac(
    cfg: &InstanceConfig,
    index: u32,
    src: IpAddr,
    links: &Links,
) -> io::Result<Option<Vmac>> {
    let Some(name) = &cfg.vmac else {
        return Ok(None);
    };
    let v = Vmac::create(
        name,
        &cfg.interface,
        index,
        cfg.vrid,
        src,
        links,
        cfg.auth_ah,
    )?;
    info!(
        "{}: virtual MAC {} on the macvlan {name} (index {})",
        cfg.name,
        mac_text(v.mac),
        v.index
    );
    Ok(Some(v))
}

/// The instance's socket on its interface: VRRP's protocol, or AH's.
fn open_socket(cfg: &InstanceConfig, index: u32, src: IpAddr) -> io::Result<VrrpSocket> {
    if cfg.auth_ah {
        VrrpSocket::open_ah(&cfg.interface, index, src, false)
    } else {
        VrrpSocket::open(&cfg.interface, index, src)
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
    /// The interface's MAC, as rtnetlink last said; none, no GARP.
    mac: Option<[u8; 6]>,
    rx: RxCheck,
    /// The interface and the tracked ones were up at the last look.
    pub up: bool,
    /// Why they are not, if they are not.
    link_fault: Option<String>,
    /// Why it cannot do a master's job, if it cannot.
    unable: Option<(Cause, String)>,
    /// Its interface has a new index, and the socket has not been opened
    /// on it yet.
    reopen: bool,
    holds_vips: bool,
    /// Gratuitous ARPs still to send.
    garps: GarpSchedule,
    /// The virtual MAC's macvlan (`use_vmac`).
    vmac: Option<Vmac>,
    /// VIPs an owner (priority 255) found on its interface at start: the
    /// interface's own, never removed.
    owned: Vec<IpAddr>,
    master: Option<IpAddr>,
    last_change: Option<(SystemTime, String)>,
    /// Counters.
    pub counters: Counters,
    /// Discarded packets and send errors, logged once per interval.
    logs: LogLimit,
    /// What it tracks, and what that says of its priority.
    tracker: Tracker,
    /// Why each tracked file could not be read, as last logged.
    file_errors: BTreeMap<PathBuf, String>,
    /// Its sync group's name, if it is in one.
    group: Option<String>,
    /// AH sequence numbers, sent and accepted (`auth_type = "AH"`).
    ah_seq: crate::ah::Sequence,
}

impl Running {
    /// Opens the instance's socket on its interface as `links` has it; it
    /// is in Initialize until the daemon sends it [`Event::Startup`].
    pub fn start(cfg: InstanceConfig, links: &Links) -> io::Result<Self> {
        let link = links
            .get(&cfg.interface)
            .ok_or_else(|| io::Error::other(format!("no interface {}", cfg.interface)))?;
        let src = source(&cfg)?;
        let owned = warn_not_owner(&cfg);
        let sock = open_socket(&cfg, link.index, src)?;
        let vmac = open_vmac(&cfg, link.index, src, links)?;
        let fsm = Instance::new(cfg.fsm_params(src)).map_err(io::Error::other)?;
        let rx = cfg.rx_check();
        let tracker = Tracker::new(&cfg);
        let garps = GarpSchedule::new(cfg.garp);
        let mut r = Self {
            tracker,
            file_errors: BTreeMap::new(),
            group: None,
            ifindex: link.index,
            mac: link.mac,
            cfg,
            fsm,
            sock,
            src,
            rx,
            up: true,
            link_fault: None,
            unable: None,
            reopen: false,
            // Unknown: a VIP left behind (a daemon killed with -9) is
            // removed when the instance first settles as backup.
            holds_vips: true,
            garps,
            vmac,
            owned,
            master: None,
            last_change: None,
            counters: Counters::default(),
            logs: LogLimit::default(),
            ah_seq: Default::default(),
        };
        r.link_fault = r.link_check(links);
        r.up = r.link_fault.is_none();
        r.track_links(links);
        r.read_track_files();
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

    /// Its macvlan's socket's descriptor, if it has one (registered with
    /// the same token as [`Running::raw_fd`]).
    pub fn vmac_fd(&self) -> Option<std::os::fd::RawFd> {
        self.vmac.as_ref().map(|v| v.raw_fd())
    }

    /// When it next needs [`Event::Timer`], a GARP burst, or a summary of
    /// its rate-limited logs.
    pub fn next_deadline(&self) -> Option<Duration> {
        [
            self.fsm.next_deadline(),
            self.garps.next_deadline(),
            self.logs.next_flush(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Whether its protocol timer has passed.
    pub fn timer_due(&self, now: Duration) -> bool {
        self.fsm.next_deadline().is_some_and(|d| d <= now)
    }

    /// Why its links are not up (`None`: they are): its interface gone,
    /// down, or not reopened yet on a new index, or a tracked one down.
    fn link_check(&self, links: &Links) -> Option<String> {
        let name = &self.cfg.interface;
        match links.get(name) {
            None => return Some(format!("{name} is gone")),
            Some(l) if !l.up => return Some(format!("{name} is down")),
            Some(_) if self.reopen => {
                return Some(format!(
                    "{name} has a new index, and the VRRP socket is not open on it yet"
                ))
            }
            Some(_) => {}
        }
        // (weighted ones change the priority: see the tracker)
        self.cfg
            .track_interfaces
            .iter()
            .filter(|t| t.weight == 0)
            .find_map(|t| match links.get(&t.name) {
                None => Some(format!("tracked interface {} is gone", t.name)),
                Some(l) if !l.up => Some(format!("tracked interface {} is down", t.name)),
                Some(_) => None,
            })
    }

    /// Whether its interface has a new index, which its socket must be
    /// reopened on ([`Running::reopen`]).
    pub fn needs_reopen(&self, links: &Links) -> bool {
        links
            .get(&self.cfg.interface)
            .is_some_and(|l| self.reopen || l.index != self.ifindex)
    }

    /// Its interface has a new index: its links count as down until the
    /// socket is open on it ([`Running::reopen`]).
    pub fn mark_reopen(&mut self) {
        self.reopen = true;
    }

    /// Why its links are not up, as last looked at.
    pub fn fault_reason_links(&self) -> Option<String> {
        self.link_fault.clone()
    }

    /// Opens its socket on the interface's new index (the caller
    /// registers the new descriptor). The interface was made anew: its
    /// addresses went with the old one, and its primary address may be
    /// another. A failure is retried by the caller; until then the links
    /// count as down.
    pub fn reopen(&mut self, links: &Links) -> io::Result<()> {
        self.reopen = true;
        let name = self.cfg.interface.clone();
        let l = links
            .get(&name)
            .ok_or_else(|| io::Error::other(format!("no interface {name}")))?;
        let src = source(&self.cfg)?;
        self.sock = open_socket(&self.cfg, l.index, src)?;
        // (the macvlan went with the old interface)
        self.vmac = None;
        self.vmac = open_vmac(&self.cfg, l.index, src, links)?;
        info!(
            "{}: {name} has a new index {} (was {}): the VRRP socket is open on it",
            self.cfg.name, l.index, self.ifindex
        );
        self.ifindex = l.index;
        self.mac = l.mac;
        self.holds_vips = false;
        self.reopen = false;
        if src != self.src {
            info!("{}: adverts now go out from {src}", self.cfg.name);
            self.src = src;
            self.fsm.set_primary_addr(src);
        }
        Ok(())
    }

    /// Takes in what `links` says of its interfaces now: a new MAC, and
    /// whether they are all up; the event that a change of the latter
    /// means, with its reason.
    pub fn follow_links(&mut self, links: &Links) -> Option<(Event, String)> {
        if let Some(l) = links.get(&self.cfg.interface) {
            if l.index == self.ifindex && l.mac != self.mac {
                match l.mac {
                    Some(m) => info!(
                        "{}: {} has the MAC {} now",
                        self.cfg.name,
                        self.cfg.interface,
                        mac_text(m)
                    ),
                    None => warn!(
                        "{}: {} has no MAC address now: no gratuitous ARP until it has one",
                        self.cfg.name, self.cfg.interface
                    ),
                }
                self.mac = l.mac;
            }
        }
        self.link_fault = self.link_check(links);
        self.track_links(links);
        let up = self.link_fault.is_none();
        if up == self.up {
            return None;
        }
        self.up = up;
        Some(match &self.link_fault {
            Some(why) => (Event::InterfaceDown, why.clone()),
            None => (Event::InterfaceUp, "interfaces up".into()),
        })
    }

    /// Feeds one event; the actions the caller must carry out, in order
    /// (see [`Running::act`]).
    pub fn handle(&mut self, now: Duration, event: Event, why: &str) -> Vec<Action> {
        let before = self.fsm.state();
        let actions = self.fsm.handle(now, event);
        self.note_change(now, before, event, why);
        actions
    }

    /// A priority change from a reload, in place: tracking's offsets
    /// apply to the new one.
    pub fn set_priority(&mut self, now: Duration, priority: u8) -> Vec<Action> {
        self.cfg.priority = priority;
        self.tracker.set_base(priority);
        self.tracking(now).0
    }

    /// Holds preemption (connection sync: the table has not arrived).
    pub fn hold_preemption(&mut self, hold: bool) {
        self.fsm.hold_preemption(hold);
    }

    /// Its sync group, if any: a member becomes master only with its group.
    pub fn set_group(&mut self, group: Option<String>) {
        self.fsm.set_synced(group.is_some());
        self.group = group;
    }

    /// Its sync group's name.
    pub fn group(&self) -> Option<&str> {
        self.group.as_deref()
    }

    /// How its sync group sees it.
    pub fn view(&self) -> crate::sync::View {
        crate::sync::View::of(&self.fsm)
    }

    /// Its priority now: the configured one with tracking's offsets.
    pub fn effective_priority(&self) -> u8 {
        self.fsm.params().priority
    }

    /// Weighted tracked interfaces take their state from `links`.
    fn track_links(&mut self, links: &Links) {
        let states: Vec<(String, bool)> = self
            .tracker
            .interfaces()
            .map(|t| (t.name.clone(), links.get(&t.name).is_some_and(|l| l.up)))
            .collect();
        for (name, up) in states {
            self.tracker.set_interface(&name, up);
        }
    }

    /// The tracked scripts (the daemon runs them).
    pub fn track_scripts(&self) -> impl Iterator<Item = &crate::config::TrackScript> {
        self.tracker.scripts()
    }

    /// A result of a tracked script's run; whether its state changed.
    pub fn script_result(&mut self, s: &crate::config::TrackScript, ok: bool) -> bool {
        self.tracker.script_result(s, ok)
    }

    /// Reads its tracked files (each a small integer); a file that cannot
    /// be read counts as 0, logged when the reason changes.
    pub fn read_track_files(&mut self) {
        let paths: Vec<PathBuf> = self.tracker.files().map(|f| f.path.clone()).collect();
        for path in paths {
            let (value, problem) = track::parse_file(std::fs::read_to_string(&path));
            match problem {
                Some(p) => {
                    if self.file_errors.get(&path) != Some(&p) {
                        warn!("{}: track_file {}: {p}", self.name(), path.display());
                        self.file_errors.insert(path.clone(), p);
                    }
                }
                None => {
                    if self.file_errors.remove(&path).is_some() {
                        info!(
                            "{}: track_file {} reads {value}",
                            self.name(),
                            path.display()
                        );
                    }
                }
            }
            self.tracker.set_file(&path, value);
        }
    }

    /// Brings its priority and its tracking hold to what tracking says:
    /// the actions a new priority needs (a master advertises it at once),
    /// and the hold event to feed, with its reason.
    pub fn tracking(&mut self, now: Duration) -> (Vec<Action>, Option<(Event, String)>) {
        let v = self.tracker.verdict();
        let mut actions = vec![];
        let current = self.fsm.params().priority;
        if v.priority != current {
            info!(
                "{}: priority {} -> {} (configured {}, tracking {:+})",
                self.name(),
                current,
                v.priority,
                self.cfg.priority,
                i32::from(v.priority) - i32::from(self.cfg.priority)
            );
            self.rx.priority = v.priority;
            actions = self.fsm.set_priority(now, v.priority);
        }
        let held = self.fsm.held(Hold::Track);
        let ev = match (&v.fault, held) {
            (Some(why), false) => Some((Event::Hold(Hold::Track), why.clone())),
            (None, true) => Some((Event::Release(Hold::Track), "tracking is well again".into())),
            _ => None,
        };
        (actions, ev)
    }

    fn note_change(&mut self, now: Duration, before: State, event: Event, why: &str) {
        let after = self.fsm.state();
        if after == before {
            return;
        }
        let mut retry = String::new();
        if after == State::Fault {
            let cause = match (&self.unable, event) {
                (_, Event::InterfaceDown) => Cause::Interface,
                (_, Event::Hold(Hold::Track)) => Cause::Track,
                (_, Event::Hold(Hold::Group)) => Cause::Group,
                (Some((c, _)), _) if self.up => *c,
                _ => Cause::Interface,
            };
            *self.counters.faults.entry(cause.name()).or_default() += 1;
            if let Some(t) = self.fsm.next_retry() {
                retry = format!("; checking again in {} s", t.saturating_sub(now).as_secs());
            }
        }
        let level = if after == State::Fault {
            Level::Warn
        } else {
            Level::Info
        };
        log!(
            level,
            "{}: {} -> {} ({why}{retry})",
            self.name(),
            state_name(before),
            state_name(after)
        );
        self.counters.transitions += 1;
        if after == State::Master {
            self.counters.became_master += 1;
        }
        self.last_change = Some((
            SystemTime::now(),
            format!("{} -> {}: {why}", state_name(before), state_name(after)),
        ));
    }

    /// Why it cannot do a master's job, if it cannot.
    pub fn unable(&self) -> Option<&(Cause, String)> {
        self.unable.as_ref()
    }

    /// Notes why it cannot do a master's job (before [`Event::Unable`]);
    /// whether the reason is new.
    pub fn set_unable(&mut self, cause: Cause, why: String) -> bool {
        let new = self.unable.as_ref() != Some(&(cause, why.clone()));
        self.unable = Some((cause, why));
        new
    }

    /// It can do a master's job again (before [`Event::Able`]).
    pub fn clear_unable(&mut self) {
        self.unable = None;
    }

    /// When it next checks whether it could do a master's job.
    pub fn next_retry(&self) -> Option<Duration> {
        self.fsm.next_retry()
    }

    /// Why it is in Fault, if it is: its links, and what it could not do.
    pub fn fault_reason(&self) -> Option<String> {
        if self.fsm.state() != State::Fault {
            return None;
        }
        let track = self.tracker.verdict().fault;
        // (its group holds every member, itself too: said only of others)
        let group = (self.fsm.held(Hold::Group) && !self.fsm.own_fault()).then(|| {
            format!(
                "another member of sync group {} is in FAULT",
                self.group().unwrap_or("?")
            )
        });
        let parts: Vec<&str> = [
            self.link_fault.as_deref(),
            self.unable.as_ref().map(|(_, w)| w.as_str()),
            track.as_deref(),
            group.as_deref(),
        ]
        .into_iter()
        .flatten()
        .collect();
        Some(parts.join("; "))
    }

    /// Whether `cause` holds now (metrics' `vrrpd_vrrp_fault`).
    pub fn fault_cause(&self, cause: Cause) -> bool {
        match cause {
            Cause::Interface => self.link_fault.is_some(),
            Cause::Track => self.fsm.held(Hold::Track),
            Cause::Group => self.fsm.held(Hold::Group),
            c => self.unable.as_ref().is_some_and(|(u, _)| *u == c),
        }
    }

    /// Carries out what concerns the instance alone: adverts, VIPs, GARP.
    /// The daemon switches drlb around it: after [`Action::BecomeMaster`]
    /// has added the VIPs, and before the other state actions remove them;
    /// and it carries out [`Action::Retry`]. An error says why a master
    /// could not add its VIPs: the caller makes the instance unable.
    pub fn act(&mut self, now: Duration, a: Action) -> Result<(), String> {
        match a {
            Action::SendAdvert { priority } => self.advertise(now, priority),
            Action::BecomeMaster => {
                self.master = Some(self.src);
                if let Some(v) = self.vmac.as_mut() {
                    v.set_up(true).map_err(|e| {
                        format!(
                            "cannot bring the macvlan {} up: {}",
                            v.name,
                            link::describe(&e)
                        )
                    })?;
                }
                self.add_vips()?;
                self.garps.became_master(now);
            }
            Action::BecomeBackup | Action::EnterInit | Action::EnterFault => {
                self.remove_vips();
                if let Some(v) = self.vmac.as_mut() {
                    if let Err(e) = v.set_up(false) {
                        error!(
                            "{}: bringing the macvlan {} down: {e}",
                            self.cfg.name, v.name
                        );
                    }
                }
                self.garps.left_master();
                if a == Action::EnterFault {
                    self.master = None;
                }
            }
            Action::Retry | Action::WantMaster => {}
        }
        Ok(())
    }

    fn advertise(&mut self, now: Duration, priority: u8) {
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
            let sealed = advert.encode(self.src, dst).map(|b| self.seal(dst, b));
            match sealed {
                Ok(bytes) => match self.tx_sock().send(self.src, dst, &bytes) {
                    Ok(()) => self.counters.adverts_sent += 1,
                    Err(e) if self.fsm.state() == State::Fault => drop(e), // the link is down
                    Err(e) => {
                        if self.logs.hit(now, "send").0 == Hit::Log {
                            warn!("{}: sending an advert to {dst}: {e}", self.name());
                        }
                    }
                },
                Err(e) => error!("{}: encoding an advert: {e}", self.name()),
            }
        }
    }

    /// With AH, the whole IPv4 packet around `vrrp`, with the next
    /// sequence number; otherwise `vrrp` itself.
    fn seal(&mut self, dst: IpAddr, vrrp: Vec<u8>) -> Vec<u8> {
        let (Some(key), IpAddr::V4(src), IpAddr::V4(dst)) = (self.rx.auth.ah_key(), self.src, dst)
        else {
            return vrrp;
        };
        let (seq, id) = self.ah_seq.next_tx();
        crate::ah::Seal {
            key,
            src,
            dst,
            id,
            seq,
            unicast: !self.cfg.unicast_peers.is_empty(),
        }
        .packet(&vrrp)
    }

    /// AH: the VRRP message inside `pkt`, once its header is keepalived's,
    /// its ICV and SPI hold and its sequence number is new. A packet for
    /// another VRID is handed on unverified (it is another router's, with
    /// its own key), to be counted as such.
    fn open_ah<'p>(&mut self, pkt: &'p Received) -> Result<&'p [u8], &'static str> {
        let Some(key) = self.rx.auth.ah_key() else {
            return Ok(&pkt.payload);
        };
        let o = crate::ah::Opened::parse(&pkt.packet).map_err(|_| "ah_malformed")?;
        if o.vrrp().get(1) != Some(&self.cfg.vrid) {
            return Ok(o.vrrp());
        }
        let unicast = !self.cfg.unicast_peers.is_empty();
        match o
            .verify(key, unicast)
            .and_then(|()| self.ah_seq.accept(o.seq))
        {
            Ok(()) => Ok(o.vrrp()),
            Err(crate::ah::AhError::Malformed) => Err("ah_malformed"),
            Err(crate::ah::AhError::BadIcv) => Err("ah_icv"),
            Err(crate::ah::AhError::BadSpi { .. }) => Err("ah_spi"),
            Err(crate::ah::AhError::Replay { .. }) => Err("ah_replay"),
        }
    }

    /// The socket adverts leave through: the macvlan's while it is up
    /// (from the virtual MAC), else the interface's.
    fn tx_sock(&self) -> &VrrpSocket {
        match &self.vmac {
            Some(v) if v.is_up() => v.tx(),
            _ => &self.sock,
        }
    }

    /// Where the VIPs go: the macvlan, or the interface.
    fn vip_ifindex(&self) -> u32 {
        self.vmac.as_ref().map_or(self.ifindex, |v| v.index)
    }

    /// Why a VIP could not be added, with what would fix it.
    fn vip_error(&self, v: &VirtualIp, e: &io::Error) -> String {
        let hint = match e.raw_os_error() {
            Some(libc::EPERM) => " (vrrpd needs CAP_NET_ADMIN)",
            Some(libc::EACCES) if v.addr.is_ipv6() => " (IPv6 is disabled on the interface)",
            _ => "",
        };
        format!(
            "cannot add {v} to {}: {}{hint}",
            self.vmac.as_ref().map_or(&self.cfg.interface, |m| &m.name),
            link::describe(e)
        )
    }

    /// Adds the VIPs; at the first failure, says why (those added are
    /// removed when the instance leaves Master).
    fn add_vips(&mut self) -> Result<(), String> {
        if self.holds_vips {
            return Ok(());
        }
        for (n, v) in self.cfg.virtual_ips.iter().enumerate() {
            if let Err(e) = link::set_address(true, self.vip_ifindex(), v.addr, v.prefix_len) {
                self.holds_vips = n > 0;
                return Err(self.vip_error(v, &e));
            }
        }
        self.holds_vips = true;
        Ok(())
    }

    fn remove_vips(&mut self) {
        if !self.holds_vips {
            return;
        }
        let index = self.vip_ifindex();
        for v in self
            .cfg
            .virtual_ips
            .iter()
            .filter(|v| !self.owned.contains(&v.addr))
        {
            if let Err(e) = link::set_address(false, index, v.addr, v.prefix_len) {
                error!("{}: removing {v}: {e}", self.name());
            }
        }
        self.holds_vips = false;
    }

    /// Whether it could add its VIPs now, found out without adding them
    /// ([`Action::Retry`]): the privilege to (CAP_NET_ADMIN over the
    /// namespace), and IPv6 enabled on the interface for IPv6 VIPs. The
    /// same reason as a failed add, when it fails.
    pub fn check_vips(&self) -> Result<(), String> {
        let Some(v) = self.cfg.virtual_ips.first() else {
            return Ok(());
        };
        if v.addr.is_ipv6() && link::ipv6_disabled(&self.cfg.interface) {
            return Err(self.vip_error(v, &io::Error::from_raw_os_error(libc::EACCES)));
        }
        link::may_change_addresses(v.addr.is_ipv6()).map_err(|e| self.vip_error(v, &e))
    }

    /// Sends the gratuitous ARPs (unsolicited NAs) due; never from an
    /// unknown or all-zero MAC. With a VMAC, from the virtual MAC out of
    /// the macvlan.
    pub fn garp(&mut self, now: Duration) {
        let count = self.garps.due(now);
        if count == 0 {
            return;
        }
        let (mac, index) = match &self.vmac {
            Some(v) => (Some(v.mac), v.index),
            None => (self.mac, self.ifindex),
        };
        let Some(mac) = mac.filter(|m| *m != [0; 6]) else {
            if self.logs.hit(now, "garp").0 == Hit::Log {
                warn!(
                    "{}: not announcing the VIPs: {} has no MAC address",
                    self.name(),
                    self.cfg.interface
                );
            }
            return;
        };
        let vips: Vec<IpAddr> = self.cfg.virtual_ips.iter().map(|v| v.addr).collect();
        for _ in 0..count {
            if let Err(e) = link::announce(index, mac, &vips) {
                if self.logs.hit(now, "garp").0 == Hit::Log {
                    warn!("{}: announcing the VIPs: {e}", self.name());
                }
                break;
            }
        }
    }

    /// Logs how many rate-limited lines each reason held back in the
    /// interval that ended.
    pub fn flush_logs(&mut self, now: Duration) {
        for s in self.logs.flush(now) {
            self.summary(&s);
        }
    }

    fn summary(&self, s: &Summary) {
        let secs = self.logs.interval().as_secs();
        let name = self.name();
        match s.reason {
            "send" => warn!(
                "{name}: {} more adverts could not be sent in the last {secs} s",
                s.more
            ),
            "receive" => warn!(
                "{name}: {} more receive errors in the last {secs} s",
                s.more
            ),
            "garp" => warn!(
                "{name}: {} more announcements failed in the last {secs} s",
                s.more
            ),
            "other_vrid" => debug!(
                "{name}: discarded {} more packets ({}) in the last {secs} s",
                s.more, s.reason
            ),
            r => warn!(
                "{name}: discarded {} more packets ({r}) in the last {secs} s",
                s.more
            ),
        }
    }

    /// Counts a discarded packet and logs it, rate-limited.
    fn discard(&mut self, now: Duration, reason: &'static str, what: impl FnOnce() -> String) {
        *self.counters.bad.entry(reason).or_default() += 1;
        let (hit, summary) = self.logs.hit(now, reason);
        if let Some(s) = summary {
            self.summary(&s);
        }
        if hit == Hit::Log {
            let what = what();
            let name = self.name();
            match reason {
                // (other routers on the segment: normal)
                "other_vrid" => debug!("{name}: discarded a packet {what} ({reason})"),
                _ => warn!(
                    "{name}: discarded a packet {what} ({reason}; logged once a {} s)",
                    self.logs.interval().as_secs()
                ),
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
            .map_err(|e| error!("{}: notify {}: {e}", self.name(), script.display()))
            .ok()
    }

    /// Reads every waiting packet; the adverts that passed the checks, as
    /// events (with a reason for the log) for the caller to handle.
    pub fn receive(&mut self, now: Duration) -> Vec<(Event, String)> {
        let mut out = vec![];
        // While the macvlan is up, adverts are read from it alone: a peer
        // with the same virtual MAC reaches only it, and any other reaches
        // both (the interface's copy is drained and dropped).
        if self.vmac.as_ref().is_some_and(|v| v.is_up()) {
            while let Ok(Some(_)) = self.sock.recv() {}
        } else if let Some(v) = &self.vmac {
            while let Ok(Some(_)) = v.tx().recv() {}
        }
        loop {
            let pkt = match self.tx_sock().recv() {
                Ok(Some(p)) => p,
                Ok(None) => return out,
                Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                    self.discard(now, "malformed", || format!("({e})"));
                    continue;
                }
                Err(e) => {
                    if self.logs.hit(now, "receive").0 == Hit::Log {
                        warn!("{}: receive: {e}", self.name());
                    }
                    return out;
                }
            };
            // Our own and unknown peers are classify's; AH in between is
            // stateful (its sequence counter), so it is opened here, only
            // for a packet from a peer with the TTL an advert must have.
            let from_peer = pkt.src != self.src
                && (self.cfg.unicast_peers.is_empty() || self.cfg.unicast_peers.contains(&pkt.src));
            let payload = if !from_peer || pkt.ttl != crate::packet::REQUIRED_TTL {
                &pkt.payload[..]
            } else {
                match self.open_ah(&pkt) {
                    Ok(p) => p,
                    Err(reason) => {
                        let why = match crate::ah::Opened::parse(&pkt.packet) {
                            Ok(o) => format!(
                                "from {}: AH {reason} (seq {}, last {})",
                                pkt.src,
                                o.seq,
                                self.ah_seq.last()
                            ),
                            Err(e) => format!("from {}: {e}", pkt.src),
                        };
                        self.discard(now, reason, || why);
                        continue;
                    }
                }
            };
            match classify_payload(&self.rx, self.src, &self.cfg.unicast_peers, &pkt, payload) {
                Verdict::Own => {} // our own, looped back
                Verdict::Accept(advert) => {
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
                Verdict::Discard { reason, detail } => {
                    self.discard(now, reason, || format!("from {}: {detail}", pkt.src));
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
            "effective_priority": self.effective_priority(),
            "sync_group": self.group,
            "master": self.master.map(|m| m.to_string()),
            "virtual_ips": self.cfg.virtual_ips.iter().map(|v| v.to_string()).collect::<Vec<_>>(),
            "fault_reason": self.fault_reason(),
            "mac": self.mac.map(mac_text),
            "vmac": self.vmac.as_ref().map(|v| json!({"name": v.name, "mac": mac_text(v.mac), "up": v.is_up()})),
            "last_transition": at,
            "last_transition_reason": reason,
            "transitions": self.counters.transitions,
            "became_master": self.counters.became_master,
            "adverts_sent": self.counters.adverts_sent,
            "adverts_received": self.counters.adverts_received,
            "bad_packets": self.counters.bad,
            "faults": self.counters.faults,
        })
    }
}

/// Seconds since the epoch, as status shows times.
pub fn unix_secs(t: SystemTime) -> f64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macs_as_text() {
        assert_eq!(mac_text([2, 0, 0x5e, 0, 0xaa, 1]), "02:00:5e:00:aa:01");
    }

    #[test]
    fn causes_have_names() {
        let names: Vec<_> = Cause::ALL.iter().map(|c| c.name()).collect();
        assert_eq!(names, ["interface", "vip", "drlb", "track", "sync_group"]);
    }
}
