// SPDX-License-Identifier: GPL-2.0

//! Services and real servers: the configuration the packet path reads.
//!
//! A namespace's configuration is an immutable [`Config`] snapshot that
//! readers follow under RCU; the control path builds a new snapshot for
//! every change and publishes it. Objects that must outlive a change keep
//! their identity across snapshots through `Arc`: a [`Real`] (its MAC, its
//! connection counts, its counters) and a service's [`Stats`].

use crate::kapi::lock::BhLock;
use crate::maglev;
use crate::proto;
use crate::sched::{self, Dest, Scheduler, WrrState};
use crate::stats::Stats;
use core::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, AtomicU64, Ordering::Relaxed};
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

const MAC_VALID: u64 = 1 << 63;

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
    ifindex: AtomicI32,
    /// The MAC in the low 48 bits, with [`MAC_VALID`].
    mac: AtomicU64,
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
        Ok(Arc::new(
            Self {
                addr,
                id,
                weight: AtomicU32::new(weight),
                ifindex: AtomicI32::new(0),
                mac: AtomicU64::new(0),
                removed: AtomicBool::new(false),
                active: AtomicU32::new(0),
                inactive: AtomicU32::new(0),
                stats: Stats::new()?,
            },
            GFP_KERNEL,
        )?)
    }

    /// Where to send its packets: egress ifindex and MAC, once resolved.
    #[inline]
    pub(crate) fn location(&self) -> Option<(i32, [u8; 6])> {
        let m = self.mac.load(Relaxed);
        if m & MAC_VALID == 0 {
            return None;
        }
        let b = m.to_be_bytes();
        Some((self.ifindex.load(Relaxed), [b[2], b[3], b[4], b[5], b[6], b[7]]))
    }

    /// The egress device recorded last (0: none).
    pub(crate) fn ifindex(&self) -> i32 {
        self.ifindex.load(Relaxed)
    }

    /// Records what the neighbour table says (`mac` None: not resolved).
    pub(crate) fn set_location(&self, ifindex: i32, mac: Option<[u8; 6]>) {
        self.ifindex.store(ifindex, Relaxed);
        let m = mac.map_or(0, |m| {
            u64::from_be_bytes([0, 0, m[0], m[1], m[2], m[3], m[4], m[5]]) | MAC_VALID
        });
        self.mac.store(m, Relaxed);
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
    rr: AtomicU32,
    wrr: KBox<BhLock<WrrState>>,
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
        let size = match settings.sched {
            Scheduler::Maglev | Scheduler::Sh => maglev::DEFAULT_TABLE_SIZE,
            _ => maglev::table_size_for(reals.len()),
        };
        let mut table = KVVec::from_elem(maglev::EMPTY, size, GFP_KERNEL)?;
        let mut scratch = KVVec::from_elem(maglev::Scratch::default(), reals.len(), GFP_KERNEL)?;
        // No eligible real server leaves the table empty: nothing to pick.
        let _ = maglev::populate(&dests, settings.seed, &mut table, &mut scratch);
        Ok(Arc::new(
            Self {
                key,
                id,
                settings,
                reals,
                dests,
                table,
                rr: AtomicU32::new(0),
                wrr: BhLock::new_boxed(WrrState::new())?,
                stats,
            },
            GFP_KERNEL,
        )?)
    }

    /// Picks a real server for a new flow with the service's scheduler.
    /// `client` is the client address; `flow_hash` hashes the whole flow.
    pub(crate) fn schedule(&self, client: &Addr, flow_hash: u32) -> Option<&Arc<Real>> {
        let d = &self.dests;
        let pick = match self.settings.sched {
            Scheduler::Rr => sched::select_rr_atomic(d, &self.rr),
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
    pub(crate) fn peek(&self, client: &Addr, flow_hash: u32) -> Option<&Arc<Real>> {
        let d = &self.dests;
        let pick = match self.settings.sched {
            Scheduler::Rr => sched::select_rr_atomic(d, &AtomicU32::new(self.rr.load(Relaxed))),
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
    fn maglev_hash(&self, client: &Addr, flow_hash: u32) -> u32 {
        if self.settings.flags & proto::SVC_F_MH_PORT != 0 {
            flow_hash
        } else {
            sched::sh_hash(client.as_slice(), self.settings.seed)
        }
    }

    /// Picks without state, consistently on every director: the Maglev
    /// table (by client for sh, by flow otherwise). Flood mode and packets
    /// of flows the table does not know use it.
    pub(crate) fn stateless(&self, client: &Addr, flow_hash: u32) -> Option<&Arc<Real>> {
        let pick = match self.settings.sched {
            Scheduler::Sh => sched::select_sh(&self.dests, &self.table, client.as_slice(), self.settings.seed, true),
            Scheduler::Maglev => sched::select_maglev(&self.dests, &self.table, self.maglev_hash(client, flow_hash), true),
            _ => sched::select_maglev(&self.dests, &self.table, flow_hash, true),
        }?;
        self.usable_from(pick)
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
}

impl Config {
    /// The service for a packet's protocol, destination and port.
    #[inline]
    pub(crate) fn find(&self, key: &ServiceKey) -> Option<&Arc<Service>> {
        self.services.iter().find(|s| s.key == *key)
    }

    /// A copy of the list of services, for building the next snapshot.
    pub(crate) fn services(&self) -> Result<KVec<Arc<Service>>> {
        let mut services = KVec::with_capacity(self.services.len() + 1, GFP_KERNEL)?;
        for s in self.services.iter() {
            services.push(s.clone(), GFP_KERNEL)?;
        }
        Ok(services)
    }

    /// A snapshot ready to publish.
    pub(crate) fn boxed(services: KVec<Arc<Service>>) -> Result<KBox<Arc<Self>>> {
        Ok(KBox::new(Arc::new(Self { services }, GFP_KERNEL)?, GFP_KERNEL)?)
    }
}
