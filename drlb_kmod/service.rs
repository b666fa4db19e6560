// SPDX-License-Identifier: GPL-2.0

//! Services and real servers: the configuration the packet path reads.
//!
//! A namespace's configuration is an immutable [`Config`] snapshot that
//! readers follow under RCU; the control path builds a new snapshot for
//! every change and publishes it. Objects that must outlive a change keep
//! their identity across snapshots through `Arc`: a [`Real`] (its MAC, its
//! connection counts, its counters) and a service's [`Stats`].

use crate::hash;
use crate::kapi::lock::{new_bh_lock, BhLock};
use crate::kapi::neigh::{Lookup, NoMac};
use crate::lookup;
use crate::maglev;
use crate::proto;
use crate::sched::{self, Dest, Scheduler, WrrState};
use crate::seqcount::SeqWords;
use crate::stats::Stats;
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering::Relaxed};
use kernel::prelude::*;
use kernel::sync::Arc;

/// An IPv4 or IPv6 address.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Addr {
    bytes: [u8; 16],
    len: u8,
}

impl Addr {
    /// From 4 or 16 network-order bytes.
    pub(crate) fn from_slice(b: &[u8]) -> Option<Self> {
        if b.len() != 4 && b.len() != 16 {
            return None;
        }
        let mut bytes = [0u8; 16];
        bytes[..b.len()].copy_from_slice(b);
        Some(Self { bytes, len: b.len() as u8 })
    }

    /// The address bytes.
    #[inline]
    pub(crate) fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }

    /// The 16-byte form connection keys use (IPv4 zero-padded).
    #[inline]
    pub(crate) fn raw(&self) -> &[u8; 16] {
        &self.bytes
    }

    /// Whether this is an IPv6 address.
    #[inline]
    pub(crate) fn is_v6(&self) -> bool {
        self.len == 16
    }
}

/// A service: protocol, virtual IP and port.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct ServiceKey {
    /// IPPROTO_TCP or IPPROTO_UDP.
    pub(crate) proto: u8,
    /// The virtual IP.
    pub(crate) vip: Addr,
    /// The port, host order.
    pub(crate) port: u16,
}

/// [`Real::location`]'s first word: the MAC in the low 48 bits, with
/// this bit while it is valid.
const MAC_VALID: u64 = 1 << 63;

/// What `list` shows of a real server's resolution, and what its writers
/// need to know. Guarded by the real server's writer lock.
#[derive(Clone, Copy)]
pub(crate) struct Resolution {
    /// The egress device of its on-link route (0: none). The neighbour
    /// notifier follows entries on this device only: a real server that is
    /// not on-link never takes a MAC from a stray neighbour entry.
    pub(crate) route_ifindex: i32,
    /// Why it is unresolved ([`proto::UNRESOLVED_PENDING`] and the other
    /// `UNRESOLVED_*`), when it is.
    pub(crate) reason: u8,
    /// The gateway of a route that is not on-link.
    pub(crate) gateway: Option<Addr>,
    /// Counts the writes: the upkeep publishes what it looked up only if
    /// no neighbour update came in the meantime (that one is newer).
    version: u32,
}

/// Where a real server's packets go, with why not when they cannot:
/// what one route and neighbour lookup (or one neighbour update) says.
struct Found {
    route_ifindex: i32,
    location: Option<(i32, [u8; 6])>,
    reason: u8,
    gateway: Option<Addr>,
}

impl Found {
    fn from_lookup(l: Lookup) -> Self {
        let not = |reason| Found { route_ifindex: 0, location: None, reason, gateway: None };
        match l {
            Lookup::Resolved { ifindex, mac } => Found {
                route_ifindex: ifindex,
                location: Some((ifindex, mac)),
                ..not(proto::UNRESOLVED_PENDING)
            },
            Lookup::Unresolved { ifindex, why } => Found { route_ifindex: ifindex, ..not(no_mac_reason(why)) },
            Lookup::Gateway(g) => {
                Found { gateway: Addr::from_slice(g.as_slice()), ..not(proto::UNRESOLVED_NOT_ONLINK) }
            }
            Lookup::NoRoute => not(proto::UNRESOLVED_NO_ROUTE),
            Lookup::NotUnicast => not(proto::UNRESOLVED_NOT_UNICAST),
            Lookup::DeviceDown => not(proto::UNRESOLVED_DEVICE_DOWN),
            Lookup::NotEthernet => not(proto::UNRESOLVED_NOT_ETHERNET),
        }
    }

    /// A real server whose resolution failed is asked again (every upkeep
    /// tick kicks it): it stays "failed", not "incomplete", while that
    /// retry runs on the same device.
    fn keep_failed(&mut self, before: &Resolution) {
        if self.location.is_none()
            && self.reason == proto::UNRESOLVED_INCOMPLETE
            && before.reason == proto::UNRESOLVED_FAILED
            && before.route_ifindex == self.route_ifindex
        {
            self.reason = proto::UNRESOLVED_FAILED;
        }
    }
}

fn no_mac_reason(why: NoMac) -> u8 {
    match why {
        NoMac::NoEntry => proto::UNRESOLVED_NO_NEIGHBOUR,
        NoMac::Incomplete => proto::UNRESOLVED_INCOMPLETE,
        NoMac::Failed => proto::UNRESOLVED_FAILED,
    }
}

fn pack(location: Option<(i32, [u8; 6])>) -> [u64; 2] {
    match location {
        Some((ifindex, m)) => {
            [u64::from_be_bytes([0, 0, m[0], m[1], m[2], m[3], m[4], m[5]]) | MAC_VALID, ifindex as u32 as u64]
        }
        None => [0, 0],
    }
}

/// A real server. Shared by every snapshot that lists it and by its
/// connections; `removed` is set when it leaves its service.
pub(crate) struct Real {
    /// Its address (the same family as the service's VIP).
    pub(crate) addr: Addr,
    /// Unique in its namespace and never reused, in the order real
    /// servers are added (dumps resume by it).
    pub(crate) id: u32,
    /// Weight, 0..=65535.
    pub(crate) weight: AtomicU32,
    /// Where its packets go, read by every packet: the MAC with
    /// [`MAC_VALID`], then the egress ifindex, published as one value
    /// (a sequence count: see `seqcount.rs` for why), so a reader never
    /// pairs a new MAC with an old device or the reverse.
    location: SeqWords<2>,
    /// The writer lock: the upkeep (process context), the neighbour
    /// notifier (atomic context) and `real add` change the location only
    /// under it, so their writes never interleave; it also guards what
    /// `list` shows.
    resolution: Pin<KBox<BhLock<Resolution>>>,
    /// No longer in its service.
    pub(crate) removed: AtomicBool,
    /// Connections in an active state.
    pub(crate) active: AtomicU32,
    /// Other connections.
    pub(crate) inactive: AtomicU32,
    /// Counters.
    pub(crate) stats: Stats,
}

impl Real {
    /// A new, unresolved real server.
    pub(crate) fn new(addr: Addr, id: u32, weight: u32) -> Result<Arc<Self>> {
        let resolution = Resolution { route_ifindex: 0, reason: proto::UNRESOLVED_PENDING, gateway: None, version: 0 };
        Ok(Arc::new(
            Self {
                addr,
                id,
                weight: AtomicU32::new(weight),
                location: SeqWords::new(pack(None)),
                resolution: KBox::pin_init(new_bh_lock!(resolution, "drlb_resolution"), GFP_KERNEL)?,
                removed: AtomicBool::new(false),
                active: AtomicU32::new(0),
                inactive: AtomicU32::new(0),
                stats: Stats::new()?,
            },
            GFP_KERNEL,
        )?)
    }

    /// Where to send its packets: egress ifindex and MAC, once resolved.
    /// Lock-free: the packet path calls it for every packet.
    #[inline]
    pub(crate) fn location(&self) -> Option<(i32, [u8; 6])> {
        let [m, ifindex] = self.location.read();
        if m & MAC_VALID == 0 {
            return None;
        }
        let b = m.to_be_bytes();
        Some((ifindex as u32 as i32, [b[2], b[3], b[4], b[5], b[6], b[7]]))
    }

    /// Its resolution and location, consistent with each other (for
    /// `list`).
    pub(crate) fn resolution(&self) -> (Resolution, Option<(i32, [u8; 6])>) {
        let res = self.resolution.lock();
        (*res, self.location())
    }

    /// The resolution's version now, to hand back to
    /// [`Real::looked_up`] with what a lookup started after it found.
    pub(crate) fn version(&self) -> u32 {
        self.resolution.lock().version
    }

    /// Publishes `found` (writer lock held).
    fn publish(&self, res: &mut Resolution, found: Found) {
        self.location.write(pack(found.location));
        res.route_ifindex = found.route_ifindex;
        res.reason = found.reason;
        res.gateway = found.gateway;
        res.version = res.version.wrapping_add(1);
    }

    /// Records what a route and neighbour lookup found. With `since`, the
    /// version read before the lookup began: if another writer (the
    /// neighbour notifier) published since, its news is newer than this
    /// lookup's and stays; the next lookup looks again.
    pub(crate) fn looked_up(&self, lookup: Lookup, since: Option<u32>) {
        let mut res = self.resolution.lock();
        if since.is_some_and(|v| v != res.version) {
            return;
        }
        let mut found = Found::from_lookup(lookup);
        found.keep_failed(&res);
        if found.location == self.location()
            && found.route_ifindex == res.route_ifindex
            && found.reason == res.reason
            && found.gateway == res.gateway
        {
            return; // nothing new: the version stays
        }
        self.publish(&mut res, found);
    }

    /// Its neighbour entry on device `ifindex` changed: it now gives `mac`,
    /// or none. Followed only while its route is on-link out of that
    /// device (an entry elsewhere, or for a real server behind a gateway,
    /// is not where its packets go). Atomic context.
    pub(crate) fn neighbour_changed(&self, ifindex: i32, mac: core::result::Result<[u8; 6], NoMac>) {
        let mut res = self.resolution.lock();
        if res.route_ifindex == 0 || res.route_ifindex != ifindex {
            return;
        }
        let (location, reason) = match mac {
            Ok(m) => (Some((ifindex, m)), proto::UNRESOLVED_PENDING),
            Err(why) => (None, no_mac_reason(why)),
        };
        let mut found = Found { route_ifindex: ifindex, location, reason, gateway: None };
        found.keep_failed(&res);
        if found.location == self.location() && (found.location.is_some() || found.reason == res.reason) {
            return;
        }
        self.publish(&mut res, found);
    }

    /// Configured (in its service, weight > 0) and its address still being
    /// resolved: no neighbour entry yet, or one awaiting an answer. (A
    /// failed one, a missing route or a device down are not waits.)
    pub(crate) fn resolving(&self) -> bool {
        if self.location().is_some() || self.removed.load(Relaxed) || self.weight.load(Relaxed) == 0 {
            return false;
        }
        matches!(
            self.resolution.lock().reason,
            proto::UNRESOLVED_PENDING | proto::UNRESOLVED_NO_NEIGHBOUR | proto::UNRESOLVED_INCOMPLETE
        )
    }

    /// Can take new connections: resolved, in its service, weight > 0.
    #[inline]
    pub(crate) fn usable(&self) -> bool {
        self.weight.load(Relaxed) > 0 && !self.removed.load(Relaxed) && self.location().is_some()
    }

    /// As the shared schedulers see it, with live connection counts.
    pub(crate) fn dest(&self) -> Dest {
        Dest {
            key: sched::dest_key(self.addr.as_slice()).unwrap_or_default(),
            weight: self.weight.load(Relaxed),
            active_conns: self.active.load(Relaxed),
            inactive_conns: self.inactive.load(Relaxed),
            available: self.location().is_some() && !self.removed.load(Relaxed),
        }
    }
}

/// A service's settings, as `service add/edit` give them.
#[derive(Clone, Copy)]
pub(crate) struct Settings {
    /// The scheduler.
    pub(crate) sched: Scheduler,
    /// Client-IP affinity in seconds (0: none), like `ipvsadm -p`.
    pub(crate) persistence: u32,
    /// Flags, reported back as given.
    pub(crate) flags: u32,
    /// Seed of the Maglev and source hashes: the same on every director.
    pub(crate) seed: u32,
    /// The service's own standby switch ([`proto::attr::SVC_STATE`]): it
    /// forwards nothing, keeping real servers, counters and connections.
    /// A service forwards only when it and its namespace are both active.
    pub(crate) standby: bool,
}

/// A service in one snapshot.
pub(crate) struct Service {
    /// What it matches.
    pub(crate) key: ServiceKey,
    /// Its identity in the connection table, stable across edits.
    pub(crate) id: u32,
    /// Its settings.
    pub(crate) settings: Settings,
    /// Its real servers, in the order they were added (so by id).
    pub(crate) reals: KVec<Arc<Real>>,
    /// The schedulers' view of `reals` at build time (weights).
    dests: KVec<Dest>,
    /// Maglev lookup table over `dests`: the maglev and sh schedulers use
    /// it, and every service falls back on it in flood mode.
    table: KVVec<u16>,
    /// The real servers rr goes round (those of weight > 0), and its
    /// cursor.
    rr_order: KVec<u32>,
    rr: AtomicU32,
    wrr: Pin<KBox<BhLock<WrrState>>>,
    /// Counters, shared across edits.
    pub(crate) stats: Arc<Stats>,
}

impl Service {
    /// Builds a service and its lookup table.
    pub(crate) fn build(
        key: ServiceKey,
        id: u32,
        settings: Settings,
        reals: KVec<Arc<Real>>,
        stats: Arc<Stats>,
    ) -> Result<Arc<Self>> {
        let mut dests = KVec::with_capacity(reals.len(), GFP_KERNEL)?;
        for r in reals.iter() {
            // Snapshot eligibility is by weight only: resolution changes at
            // any time and the packet path checks it live.
            let mut d = r.dest();
            d.available = true;
            dests.push(d, GFP_KERNEL)?;
        }
        let size = if settings.sched.needs_table() {
            maglev::DEFAULT_TABLE_SIZE
        } else {
            maglev::table_size_for(reals.len())
        };
        let mut table = KVVec::from_elem(maglev::EMPTY, size, GFP_KERNEL)?;
        let mut scratch = KVVec::from_elem(maglev::Scratch::default(), reals.len(), GFP_KERNEL)?;
        // No eligible real server leaves the table empty: nothing to pick.
        let _ = maglev::populate(&dests, settings.seed, &mut table, &mut scratch);
        let rr = settings.sched == Scheduler::Rr;
        let mut rr_order = KVec::with_capacity(if rr { reals.len() } else { 0 }, GFP_KERNEL)?;
        if rr {
            for i in sched::rr_order(&dests) {
                rr_order.push(i, GFP_KERNEL)?;
            }
        }
        Ok(Arc::new(
            Self {
                key,
                id,
                settings,
                reals,
                dests,
                table,
                rr_order,
                rr: AtomicU32::new(0),
                wrr: KBox::pin_init(new_bh_lock!(WrrState::new(), "drlb_wrr"), GFP_KERNEL)?,
                stats,
            },
            GFP_KERNEL,
        )?)
    }

    /// Picks a real server for a new flow with the service's scheduler.
    /// `client` is the client address; `flow_hash` hashes the whole flow
    /// (called only by the schedulers that use it).
    pub(crate) fn schedule(&self, client: &Addr, flow_hash: impl FnOnce() -> u32) -> Option<&Arc<Real>> {
        let d = &self.dests;
        let pick = match self.settings.sched {
            Scheduler::Rr => sched::select_rr(&self.rr_order, &self.rr),
            Scheduler::Wrr => sched::select_wrr(d, &mut self.wrr.lock()),
            Scheduler::Lc => sched::select_lc_iter(self.live()),
            Scheduler::Wlc => sched::select_wlc_iter(self.live()),
            Scheduler::Sh => sched::select_sh(d, &self.table, client.as_slice(), self.settings.seed, true),
            Scheduler::Maglev => sched::select_maglev(d, &self.table, self.maglev_hash(client, flow_hash), true),
        }?;
        self.usable_from(pick)
    }

    /// What [`Self::schedule`] would pick now, changing nothing (the round
    /// robin cursors included): for flow queries.
    pub(crate) fn peek(&self, client: &Addr, flow_hash: impl FnOnce() -> u32) -> Option<&Arc<Real>> {
        let d = &self.dests;
        let pick = match self.settings.sched {
            Scheduler::Rr => sched::select_rr(&self.rr_order, &AtomicU32::new(self.rr.load(Relaxed))),
            Scheduler::Wrr => {
                let mut copy: WrrState = *self.wrr.lock();
                sched::select_wrr(d, &mut copy)
            }
            _ => return self.schedule(client, flow_hash),
        }?;
        self.usable_from(pick)
    }

    /// What maglev hashes: the client address, as IPVS's mh does, or the
    /// whole flow with [`proto::SVC_F_MH_PORT`].
    fn maglev_hash(&self, client: &Addr, flow_hash: impl FnOnce() -> u32) -> u32 {
        if self.settings.flags & proto::SVC_F_MH_PORT != 0 {
            flow_hash()
        } else {
            sched::sh_hash(client.as_slice(), self.settings.seed)
        }
    }

    /// Picks without state, consistently on every director: the Maglev
    /// table (by client for sh, by flow otherwise). Flood mode and packets
    /// of flows the table does not know use it.
    pub(crate) fn stateless(&self, client: &Addr, flow_hash: impl FnOnce() -> u32) -> Option<&Arc<Real>> {
        self.stateless_by(self.stateless_hash(client, flow_hash))
    }

    /// Where a TCP segment of a flow without an entry goes (one another
    /// director placed, before a failover): as [`Self::stateless`], except
    /// that while the table's own pick is a real server whose address is
    /// still being resolved (a director that just came up), nowhere: the
    /// segment is dropped and TCP sends it again, where moving it to
    /// another real server would reset the connection.
    pub(crate) fn stateless_midflow(&self, client: &Addr, flow_hash: impl FnOnce() -> u32) -> Option<&Arc<Real>> {
        let h = self.stateless_hash(client, flow_hash);
        let owner = sched::table_owner(&self.table, h).and_then(|i| self.reals.get(i));
        if owner.is_some_and(|r| r.resolving()) {
            return None;
        }
        self.stateless_by(h)
    }

    /// The hash the stateless table is looked up by: the client's for sh,
    /// as maglev says for maglev, the flow's otherwise.
    fn stateless_hash(&self, client: &Addr, flow_hash: impl FnOnce() -> u32) -> u32 {
        match self.settings.sched {
            Scheduler::Sh => sched::sh_hash(client.as_slice(), self.settings.seed),
            Scheduler::Maglev => self.maglev_hash(client, flow_hash),
            _ => flow_hash(),
        }
    }

    fn stateless_by(&self, hash: u32) -> Option<&Arc<Real>> {
        self.usable_from(sched::select_maglev(&self.dests, &self.table, hash, true)?)
    }

    fn live(&self) -> impl Iterator<Item = (usize, Dest)> + '_ {
        (0..self.reals.len()).zip(self.reals.iter().map(|r| r.dest()))
    }

    /// `reals[pick]` if usable, else the next usable one after it: an
    /// unresolved real server is skipped, deterministically.
    fn usable_from(&self, pick: usize) -> Option<&Arc<Real>> {
        let n = self.reals.len();
        (0..n).map(|i| &self.reals[(pick + i) % n]).find(|r| r.usable())
    }
}

/// A namespace's configuration.
pub(crate) struct Config {
    /// The services, in the order they were added (so by id).
    pub(crate) services: KVec<Arc<Service>>,
    /// `services` by protocol, VIP and port (see [`lookup`]).
    by_key: KVVec<u32>,
    /// One service per protocol and VIP, for packets that carry no port
    /// (fragments).
    by_vip: KVVec<u32>,
}

/// The index hash of a service key (port 0: the VIP's entry).
#[inline]
fn key_hash(proto: u8, vip: &Addr, port: u16) -> u32 {
    hash::key_hash(vip.raw(), u32::from(proto) << 16 | u32::from(port), 0, 0x6472_6c62)
}

impl Config {
    /// The service for a packet's protocol, destination and port: one hash
    /// and a probe or two, however many services there are.
    #[inline]
    pub(crate) fn find(&self, key: &ServiceKey) -> Option<&Arc<Service>> {
        let h = key_hash(key.proto, &key.vip, key.port);
        let i = lookup::find(&self.by_key, h, |i| self.services[i as usize].key == *key)?;
        Some(&self.services[i as usize])
    }

    /// Whether any service of `proto` has the virtual IP `vip`.
    pub(crate) fn has_vip(&self, proto: u8, vip: &Addr) -> bool {
        let h = key_hash(proto, vip, 0);
        lookup::find(&self.by_vip, h, |i| {
            let k = &self.services[i as usize].key;
            k.proto == proto && k.vip == *vip
        })
        .is_some()
    }

    /// A copy of the list of services, for building the next snapshot.
    pub(crate) fn services(&self) -> Result<KVec<Arc<Service>>> {
        let mut services = KVec::with_capacity(self.services.len() + 1, GFP_KERNEL)?;
        for s in self.services.iter() {
            services.push(s.clone(), GFP_KERNEL)?;
        }
        Ok(services)
    }

    /// A snapshot ready to publish, with its indexes.
    pub(crate) fn new(services: KVec<Arc<Service>>) -> Result<Arc<Self>> {
        let slots = lookup::slots_for(services.len());
        let mut by_key = KVVec::from_elem(lookup::EMPTY, slots, GFP_KERNEL)?;
        let mut by_vip = KVVec::from_elem(lookup::EMPTY, slots, GFP_KERNEL)?;
        for (i, s) in services.iter().enumerate() {
            let k = &s.key;
            // (room is certain: at most half the slots are used)
            lookup::insert(&mut by_key, key_hash(k.proto, &k.vip, k.port), i as u32);
            let seen = lookup::find(&by_vip, key_hash(k.proto, &k.vip, 0), |j| {
                let o = &services[j as usize].key;
                o.proto == k.proto && o.vip == k.vip
            });
            if seen.is_none() {
                lookup::insert(&mut by_vip, key_hash(k.proto, &k.vip, 0), i as u32);
            }
        }
        Ok(Arc::new(Self { services, by_key, by_vip }, GFP_KERNEL)?)
    }
}
