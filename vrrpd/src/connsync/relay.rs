//! The relay, sans IO: what the daemon does with the records its module
//! queues, the datagrams its peers send, and the pull a returning
//! director makes before it preempts.
//!
//! Events in: records read out of the module ([`Relay::from_module`]),
//! datagrams with their source ([`Relay::received`]), time
//! ([`Relay::tick`]), the module coming (back) ([`Relay::start_pull`]),
//! whether its real servers are resolved ([`Relay::set_resolved`]), and
//! an answer to a pull that finished ([`Relay::answered`]). Actions out:
//! datagrams to send, pulls to answer, the preemption gate; record
//! batches for `SYNC_WRITE` wait in [`Relay::take_writes`].
//!
//! The pull: the daemon sends PULL to its peers (again every second)
//! until a PULL_END arrives, or `pull_timeout` passes. It completes on a
//! PULL_END from an active peer; from a standby one (no director is
//! active, as when both come up together), once every unicast peer has
//! ended, or at the first one with multicast (whose peers are not known).
//! Preemption is held from the start of the pull until the pull is
//! complete and the real servers are resolved, or the bound passes.

use super::wire::{self, Body, Datagram, Drop};
use drlb_core::proto::SYNC_RECORDS_MAX;
use drlb_core::sync_record;
use serde::Serialize;
use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

/// How often a pull is repeated until it is answered.
pub const PULL_REPEAT: Duration = Duration::from_secs(1);

/// Where a datagram goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Dest {
    /// Every unicast peer, or the multicast group.
    Peers,
    /// One address (the answer to a pull goes to its requester).
    To(SocketAddr),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    Send {
        to: Dest,
        bytes: Vec<u8>,
    },
    /// Answer a pull from `to`: the whole table in RECORDS, then PULL_END
    /// (the daemon does it in a thread of its own).
    Answer {
        to: SocketAddr,
    },
    /// Preemption held (or let go), and why.
    Gate {
        held: bool,
        why: String,
    },
}

/// The counters of `vrrpd status`, shared with the threads that answer
/// pulls.
#[derive(Debug, Default)]
pub struct Counters {
    pub records_sent: AtomicU64,
    pub records_received: AtomicU64,
    pub datagrams_sent: AtomicU64,
    pub datagrams_received: AtomicU64,
    pub non_peer: AtomicU64,
    pub bad_auth: AtomicU64,
    pub malformed: AtomicU64,
    pub bad_version: AtomicU64,
    pub pulls_answered: AtomicU64,
}

/// [`Counters`] at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Snapshot {
    pub records_sent: u64,
    pub records_received: u64,
    pub datagrams_sent: u64,
    pub datagrams_received: u64,
    pub non_peer: u64,
    pub bad_auth: u64,
    pub malformed: u64,
    pub bad_version: u64,
    pub pulls_answered: u64,
}

impl Counters {
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            records_sent: self.records_sent.load(Relaxed),
            records_received: self.records_received.load(Relaxed),
            datagrams_sent: self.datagrams_sent.load(Relaxed),
            datagrams_received: self.datagrams_received.load(Relaxed),
            non_peer: self.non_peer.load(Relaxed),
            bad_auth: self.bad_auth.load(Relaxed),
            malformed: self.malformed.load(Relaxed),
            bad_version: self.bad_version.load(Relaxed),
            pulls_answered: self.pulls_answered.load(Relaxed),
        }
    }
}

/// Makes this daemon's datagrams: its sender id, the sequence it shares
/// with the threads that answer pulls, the key; counts what it makes.
#[derive(Clone, Debug)]
pub struct Encoder {
    pub sender: u32,
    seq: Arc<AtomicU32>,
    key: Option<Vec<u8>>,
    pub counters: Arc<Counters>,
}

impl Encoder {
    pub fn new(sender: u32, key: Option<Vec<u8>>) -> Self {
        Encoder {
            sender,
            seq: Arc::new(AtomicU32::new(0)),
            key,
            counters: Arc::default(),
        }
    }

    /// One datagram, counted as sent (and its records).
    pub fn datagram(&self, body: Body) -> Vec<u8> {
        if let Body::Records(r) = &body {
            let n = sync_record::records(r).count() as u64;
            self.counters.records_sent.fetch_add(n, Relaxed);
        }
        self.counters.datagrams_sent.fetch_add(1, Relaxed);
        let seq = self.seq.fetch_add(1, Relaxed).wrapping_add(1);
        wire::encode(
            &Datagram {
                sender: self.sender,
                seq,
                body,
            },
            self.key.as_deref(),
        )
    }

    /// RECORDS datagrams for `records` (whole records back to back), each
    /// at most [`wire::MAX_RECORDS`] bytes of them.
    pub fn records(&self, records: &[u8]) -> Vec<Vec<u8>> {
        split(records, wire::MAX_RECORDS)
            .into_iter()
            .map(|r| self.datagram(Body::Records(r.to_vec())))
            .collect()
    }
}

/// `records` in pieces of at most `max` bytes, cut at record boundaries.
/// Bytes that are no record (a module's bug) end it.
pub fn split(records: &[u8], max: usize) -> Vec<&[u8]> {
    let mut out = vec![];
    let (mut start, mut at) = (0, 0);
    while at < records.len() {
        let Some(len) = sync_record::len_of_kind(records[at]) else {
            break;
        };
        if at + len > records.len() {
            break;
        }
        if at + len - start > max {
            out.push(&records[start..at]);
            start = at;
        }
        at += len;
    }
    if at > start {
        out.push(&records[start..at]);
    }
    out
}

/// Where the pull stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pull {
    /// Not started (the module has not been met).
    Idle,
    /// PULL sent; waiting for PULL_END.
    Pulling,
    /// A PULL_END arrived: `records` received since the pull started.
    Done { records: u64 },
    /// The bound passed first.
    TimedOut,
}

impl Pull {
    pub fn name(&self) -> &'static str {
        match self {
            Pull::Idle => "idle",
            Pull::Pulling => "pulling",
            Pull::Done { .. } => "done",
            Pull::TimedOut => "timed out",
        }
    }
}

/// The relay's settings (from `[sync]`).
#[derive(Clone, Debug)]
pub struct Settings {
    pub peers: Vec<IpAddr>,
    pub pull_timeout: Duration,
}

pub struct Relay {
    settings: Settings,
    pub enc: Encoder,
    key: Option<Vec<u8>>,
    pull: Pull,
    /// When the pull started, and when its bound passes.
    pull_started: Duration,
    bound: Duration,
    next_pull: Option<Duration>,
    /// Records received since the pull started.
    pulled: u64,
    /// Unicast peers that sent PULL_END (standby ones).
    ended: BTreeSet<IpAddr>,
    /// Every weight>0 real server is resolved in the module.
    resolved: bool,
    held: bool,
    /// Pulls being answered (no second answer for a repeated PULL).
    answering: BTreeSet<SocketAddr>,
    /// Received records waiting for `SYNC_WRITE`, in batches.
    writes: Vec<Vec<u8>>,
}

/// `a` as IPv4 when it is an IPv4-mapped IPv6 address (a dual-stack
/// socket's view of an IPv4 peer).
pub fn canonical(a: IpAddr) -> IpAddr {
    match a {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(a, IpAddr::V4),
        v4 => v4,
    }
}

impl Relay {
    pub fn new(settings: Settings, sender: u32, key: Option<Vec<u8>>) -> Self {
        Relay {
            settings,
            enc: Encoder::new(sender, key.clone()),
            key,
            pull: Pull::Idle,
            pull_started: Duration::ZERO,
            bound: Duration::ZERO,
            next_pull: None,
            pulled: 0,
            ended: BTreeSet::new(),
            resolved: false,
            held: false,
            answering: BTreeSet::new(),
            writes: vec![],
        }
    }

    pub fn pull(&self) -> &Pull {
        &self.pull
    }

    /// Whether preemption is held.
    pub fn held(&self) -> bool {
        self.held
    }

    /// Whether the daemon should look at its real servers' resolution
    /// (only while it matters to the gate).
    pub fn wants_resolution(&self) -> bool {
        self.held
    }

    /// The module was met (at start, or it came back): pull the table
    /// from the peers, preemption held until it arrives.
    pub fn start_pull(&mut self, now: Duration) -> Vec<Action> {
        self.pull = Pull::Pulling;
        self.pull_started = now;
        self.bound = now + self.settings.pull_timeout;
        self.pulled = 0;
        self.ended.clear();
        self.resolved = false;
        // (pull_timeout 0: one PULL, not repeated, and no hold)
        self.next_pull = (!self.settings.pull_timeout.is_zero()).then_some(now + PULL_REPEAT);
        let mut out = vec![Action::Send {
            to: Dest::Peers,
            bytes: self.enc.datagram(Body::Pull),
        }];
        if !self.settings.pull_timeout.is_zero() && !self.held {
            self.held = true;
            out.push(Action::Gate {
                held: true,
                why: format!(
                    "pulling the connection table from the peers (at most {} ms)",
                    self.settings.pull_timeout.as_millis()
                ),
            });
        }
        out.extend(self.tick(now));
        out
    }

    /// Records the module queued: datagrams for the peers.
    pub fn from_module(&mut self, records: &[u8]) -> Vec<Action> {
        self.enc
            .records(records)
            .into_iter()
            .map(|bytes| Action::Send {
                to: Dest::Peers,
                bytes,
            })
            .collect()
    }

    /// A datagram from `from`.
    pub fn received(&mut self, now: Duration, from: SocketAddr, b: &[u8]) -> Vec<Action> {
        let c = &self.enc.counters;
        let src = canonical(from.ip());
        if !self.settings.peers.is_empty() && !self.settings.peers.contains(&src) {
            c.non_peer.fetch_add(1, Relaxed);
            return vec![];
        }
        let d = match wire::decode(b, self.key.as_deref()) {
            Ok(d) => d,
            Err(e) => {
                match e {
                    Drop::BadAuth => &c.bad_auth,
                    Drop::Malformed => &c.malformed,
                    Drop::BadVersion => &c.bad_version,
                }
                .fetch_add(1, Relaxed);
                return vec![];
            }
        };
        if d.sender == self.enc.sender {
            return vec![]; // our own (looped back)
        }
        c.datagrams_received.fetch_add(1, Relaxed);
        match d.body {
            Body::Records(r) => {
                let n = sync_record::records(&r).count() as u64;
                c.records_received.fetch_add(n, Relaxed);
                if self.pull == Pull::Pulling {
                    self.pulled += n;
                }
                self.queue_write(&r);
                vec![]
            }
            Body::Pull => {
                if self.answering.insert(from) {
                    c.pulls_answered.fetch_add(1, Relaxed);
                    vec![Action::Answer { to: from }]
                } else {
                    vec![]
                }
            }
            Body::PullEnd { active, .. } => {
                if self.pull != Pull::Pulling {
                    return vec![];
                }
                let complete = active
                    || self.settings.peers.is_empty()
                    || (self.ended.insert(src)
                        && self.settings.peers.iter().all(|p| self.ended.contains(p)));
                if complete {
                    self.pull = Pull::Done {
                        records: self.pulled,
                    };
                    self.next_pull = None;
                }
                self.tick(now)
            }
        }
    }

    fn queue_write(&mut self, r: &[u8]) {
        if r.is_empty() {
            return;
        }
        let max = usize::from(SYNC_RECORDS_MAX);
        match self.writes.last_mut() {
            Some(last) if last.len() + r.len() <= max => last.extend_from_slice(r),
            _ => self.writes.push(r.to_vec()),
        }
    }

    /// Received records for `SYNC_WRITE`, in batches of at most
    /// `SYNC_RECORDS_MAX` bytes, cut at record boundaries.
    pub fn take_writes(&mut self) -> Vec<Vec<u8>> {
        std::mem::take(&mut self.writes)
    }

    /// The answer to a pull from `to` finished (or failed).
    pub fn answered(&mut self, to: SocketAddr) {
        self.answering.remove(&to);
    }

    /// Whether every weight>0 real server is resolved in the module.
    pub fn set_resolved(&mut self, now: Duration, resolved: bool) -> Vec<Action> {
        self.resolved = resolved;
        self.tick(now)
    }

    /// Time: repeats the pull, ends it at its bound, opens the gate.
    pub fn tick(&mut self, now: Duration) -> Vec<Action> {
        let mut out = vec![];
        if self.pull == Pull::Pulling {
            if now >= self.bound && !self.settings.pull_timeout.is_zero() {
                self.pull = Pull::TimedOut;
                self.next_pull = None;
            } else if self.next_pull.is_some_and(|t| t <= now) {
                self.next_pull = Some(now + PULL_REPEAT);
                out.push(Action::Send {
                    to: Dest::Peers,
                    bytes: self.enc.datagram(Body::Pull),
                });
            }
        }
        if self.held {
            let why = if now >= self.bound {
                Some(match (&self.pull, self.resolved) {
                    (Pull::Done { records }, false) => format!(
                        "the bound passed ({} ms): the table arrived ({records} records) but real servers are not all resolved",
                        self.settings.pull_timeout.as_millis()
                    ),
                    _ => format!(
                        "the bound passed ({} ms) before the table arrived ({} records so far)",
                        self.settings.pull_timeout.as_millis(),
                        self.pulled
                    ),
                })
            } else if let (Pull::Done { records }, true) = (&self.pull, self.resolved) {
                Some(format!(
                    "the table arrived: {records} records in {} ms, real servers resolved",
                    now.saturating_sub(self.pull_started).as_millis()
                ))
            } else {
                None
            };
            if let Some(why) = why {
                self.held = false;
                out.push(Action::Gate { held: false, why });
            }
        }
        out
    }

    /// When [`Relay::tick`] next has something to do.
    pub fn next_wakeup(&self) -> Option<Duration> {
        let bound = self.held.then_some(self.bound);
        [self.next_pull, bound].into_iter().flatten().min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connsync::wire::tests::{bytes, record};

    const A: &str = "198.51.100.4:8849";
    const B: &str = "198.51.100.5:8849";

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn relay(peers: &[&str], key: Option<&[u8]>) -> Relay {
        Relay::new(
            Settings {
                peers: peers.iter().map(|p| p.parse().unwrap()).collect(),
                pull_timeout: ms(5000),
            },
            1,
            key.map(<[u8]>::to_vec),
        )
    }

    fn from(peer: u32, body: Body, key: Option<&[u8]>) -> Vec<u8> {
        wire::encode(
            &Datagram {
                sender: peer,
                seq: 1,
                body,
            },
            key,
        )
    }

    fn sends(actions: &[Action]) -> Vec<Datagram> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Send { bytes, .. } => Some(wire::decode(bytes, None).unwrap()),
                _ => None,
            })
            .collect()
    }

    fn gate(actions: &[Action]) -> Option<(bool, String)> {
        actions.iter().find_map(|a| match a {
            Action::Gate { held, why } => Some((*held, why.clone())),
            _ => None,
        })
    }

    #[test]
    fn module_records_split_at_boundaries_and_1400_bytes() {
        let mut r = relay(&["198.51.100.4"], None);
        // 24-byte IPv4 records: 58 fit in 1400 (1392), the 59th does not.
        let recs: Vec<_> = (0..130).map(record).collect();
        let out = sends(&r.from_module(&bytes(&recs)));
        let sizes: Vec<usize> = out
            .iter()
            .map(|d| match &d.body {
                Body::Records(b) => b.len(),
                _ => 0,
            })
            .collect();
        assert_eq!(sizes, [58 * 24, 58 * 24, 14 * 24]);
        assert_eq!(out.iter().map(|d| d.seq).collect::<Vec<_>>(), [1, 2, 3]);
        let s = r.enc.counters.snapshot();
        assert_eq!((s.records_sent, s.datagrams_sent), (130, 3));
        // Mixed sizes (60-byte IPv6) never cut a record.
        let mut v6 = record(1);
        v6.v6 = true;
        let mixed: Vec<u8> = (0..50)
            .flat_map(|i| bytes(&[if i % 2 == 0 { v6 } else { record(i) }]))
            .collect();
        let parts = split(&mixed, 1400);
        assert!(parts.iter().all(|p| p.len() <= 1400));
        assert_eq!(parts.concat(), mixed);
        for p in parts {
            assert!(sync_record::records(p).all(|r| r.is_ok()));
        }
        assert!(r.from_module(&[]).is_empty());
    }

    #[test]
    fn receiving_counts_drops_by_reason() {
        let key: &[u8] = b"k";
        let mut r = relay(&["198.51.100.4"], Some(key));
        let good = from(2, Body::Records(bytes(&[record(1), record(2)])), Some(key));
        let peer: SocketAddr = A.parse().unwrap();
        let stranger: SocketAddr = "192.0.2.9:8849".parse().unwrap();
        r.received(ms(0), stranger, &good);
        r.received(ms(0), peer, &from(2, Body::Pull, Some(b"other")));
        r.received(ms(0), peer, &from(2, Body::Pull, None));
        r.received(ms(0), peer, &good[..good.len() - 1]);
        r.received(ms(0), peer, &good[..10]);
        let mut v = good.clone();
        v[4] = 9;
        r.received(ms(0), peer, &v);
        assert!(r.take_writes().is_empty(), "nothing applied from drops");
        r.received(ms(0), peer, &good);
        // (an IPv4 peer seen on a dual-stack socket)
        let mapped: SocketAddr = "[::ffff:198.51.100.4]:8849".parse().unwrap();
        r.received(ms(0), mapped, &good);
        let s = r.enc.counters.snapshot();
        assert_eq!(
            (s.non_peer, s.bad_auth, s.malformed, s.bad_version),
            (1, 2, 2, 1)
        );
        assert_eq!((s.datagrams_received, s.records_received), (2, 4));
        assert_eq!(
            r.take_writes(),
            [bytes(&[record(1), record(2), record(1), record(2)])]
        );
        // Our own datagram is ignored.
        r.received(
            ms(0),
            peer,
            &from(1, Body::Records(bytes(&[record(3)])), Some(key)),
        );
        assert!(r.take_writes().is_empty());
    }

    #[test]
    fn writes_are_batched_up_to_the_module_limit() {
        let mut r = relay(&[], None);
        let peer: SocketAddr = A.parse().unwrap();
        let d = from(
            2,
            Body::Records(bytes(&(0..58).map(record).collect::<Vec<_>>())),
            None,
        );
        for _ in 0..50 {
            r.received(ms(0), peer, &d);
        }
        let w = r.take_writes();
        let max = usize::from(SYNC_RECORDS_MAX);
        assert!(w.iter().all(|b| b.len() <= max && b.len() % 24 == 0));
        assert_eq!(w.iter().map(Vec::len).sum::<usize>(), 50 * 58 * 24);
        assert_eq!(w.len(), (50 * 58 * 24usize).div_ceil(max / 1392 * 1392));
    }

    #[test]
    fn a_pull_repeats_every_second_until_pull_end() {
        let mut r = relay(&["198.51.100.4"], None);
        let a = r.start_pull(ms(0));
        assert_eq!(sends(&a).len(), 1);
        assert!(matches!(sends(&a)[0].body, Body::Pull));
        assert_eq!(gate(&a).map(|g| g.0), Some(true));
        assert!(sends(&r.tick(ms(999))).is_empty());
        assert!(matches!(sends(&r.tick(ms(1000)))[0].body, Body::Pull));
        assert!(sends(&r.tick(ms(1500))).is_empty());
        assert!(matches!(sends(&r.tick(ms(2000)))[0].body, Body::Pull));
        let peer: SocketAddr = A.parse().unwrap();
        r.received(
            ms(2100),
            peer,
            &from(2, Body::Records(bytes(&[record(1)])), None),
        );
        r.received(
            ms(2200),
            peer,
            &from(
                2,
                Body::PullEnd {
                    records: 1,
                    active: true,
                },
                None,
            ),
        );
        assert_eq!(r.pull(), &Pull::Done { records: 1 });
        assert!(sends(&r.tick(ms(3000))).is_empty(), "no more pulls");
        // A PULL_END nobody asked for changes nothing.
        let mut idle = relay(&["198.51.100.4"], None);
        idle.received(
            ms(0),
            peer,
            &from(
                2,
                Body::PullEnd {
                    records: 0,
                    active: true,
                },
                None,
            ),
        );
        assert_eq!(idle.pull(), &Pull::Idle);
    }

    #[test]
    fn standby_peers_complete_the_pull_only_when_all_have_answered() {
        let mut r = relay(&["198.51.100.4", "198.51.100.5"], None);
        r.start_pull(ms(0));
        let end = from(
            2,
            Body::PullEnd {
                records: 0,
                active: false,
            },
            None,
        );
        r.received(ms(10), A.parse().unwrap(), &end);
        assert_eq!(r.pull(), &Pull::Pulling);
        r.received(ms(20), A.parse().unwrap(), &end);
        assert_eq!(r.pull(), &Pull::Pulling, "the same peer twice");
        r.received(
            ms(30),
            B.parse().unwrap(),
            &from(
                3,
                Body::PullEnd {
                    records: 0,
                    active: false,
                },
                None,
            ),
        );
        assert_eq!(r.pull(), &Pull::Done { records: 0 });
        // Multicast: the first PULL_END.
        let mut m = relay(&[], None);
        m.start_pull(ms(0));
        m.received(ms(10), A.parse().unwrap(), &end);
        assert_eq!(m.pull(), &Pull::Done { records: 0 });
    }

    #[test]
    fn a_pull_is_answered_once_while_its_answer_runs() {
        let mut r = relay(&["198.51.100.4"], None);
        let peer: SocketAddr = A.parse().unwrap();
        let pull = from(2, Body::Pull, None);
        assert_eq!(
            r.received(ms(0), peer, &pull),
            [Action::Answer { to: peer }]
        );
        assert!(r.received(ms(1000), peer, &pull).is_empty());
        r.answered(peer);
        assert_eq!(
            r.received(ms(2000), peer, &pull),
            [Action::Answer { to: peer }]
        );
        assert_eq!(r.enc.counters.snapshot().pulls_answered, 2);
    }

    /// The preemption gate over time, with a fake clock.
    #[test]
    fn the_gate_opens_when_the_table_and_the_reals_are_there() {
        let peer: SocketAddr = A.parse().unwrap();
        let end = from(
            2,
            Body::PullEnd {
                records: 3,
                active: true,
            },
            None,
        );
        // Table at 300 ms, reals resolved at 800 ms: open at 800.
        let mut r = relay(&["198.51.100.4"], None);
        assert!(r.start_pull(ms(0)).contains(&Action::Gate {
            held: true,
            why: "pulling the connection table from the peers (at most 5000 ms)".into()
        }));
        assert!(r.held());
        r.received(
            ms(100),
            peer,
            &from(
                2,
                Body::Records(bytes(&[record(1), record(2), record(3)])),
                None,
            ),
        );
        assert_eq!(gate(&r.received(ms(300), peer, &end)), None);
        assert!(r.held(), "reals not resolved yet");
        assert_eq!(gate(&r.set_resolved(ms(500), false)), None);
        let (held, why) = gate(&r.set_resolved(ms(800), true)).unwrap();
        assert!(!held);
        assert_eq!(
            why,
            "the table arrived: 3 records in 800 ms, real servers resolved"
        );
        assert_eq!(r.next_wakeup(), None);
        // Reals resolved first, the table never: open at the bound.
        let mut r = relay(&["198.51.100.4"], None);
        r.start_pull(ms(1000));
        r.set_resolved(ms(1100), true);
        assert_eq!(r.next_wakeup(), Some(ms(2000)), "the next pull");
        for t in (2000..6000).step_by(1000) {
            let a = r.tick(ms(t));
            assert_eq!(gate(&a), None, "t={t}");
            assert_eq!(sends(&a).len(), 1, "t={t}");
        }
        assert_eq!(r.next_wakeup(), Some(ms(6000)));
        let a = r.tick(ms(6000));
        let (held, why) = gate(&a).unwrap();
        assert!(!held);
        assert!(
            why.contains("before the table arrived (0 records so far)"),
            "{why}"
        );
        assert_eq!(r.pull(), &Pull::TimedOut);
        assert!(sends(&a).is_empty());
        // The table but unresolved reals: open at the bound, saying so.
        let mut r = relay(&["198.51.100.4"], None);
        r.start_pull(ms(0));
        r.received(ms(10), peer, &end);
        let (_, why) = gate(&r.tick(ms(5000))).unwrap();
        assert!(why.contains("not all resolved"), "{why}");
        // The module coming back holds it again.
        assert_eq!(gate(&r.start_pull(ms(9000))).map(|g| g.0), Some(true));
        // pull_timeout 0: a pull, no hold.
        let mut r = Relay::new(
            Settings {
                peers: vec![],
                pull_timeout: Duration::ZERO,
            },
            1,
            None,
        );
        let a = r.start_pull(ms(0));
        assert_eq!((sends(&a).len(), gate(&a)), (1, None));
        assert!(!r.held());
    }
}
