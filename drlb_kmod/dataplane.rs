// SPDX-License-Identifier: GPL-2.0

//! One namespace's data plane: its state switch, configuration, connection
//! table, timeouts, flood meter and counters.
//!
//! What it does with them lives beside it, one concern a file: `receive`
//! (the hook: parse a packet, find its service), `decide` (which real
//! server, and what state that makes), `transmit` (the frame out) and
//! `upkeep` (expiry, resolution and rate estimates, once a second).

use crate::conn::{Conn, ConnTable};
use crate::conn_policy::FloodMeter;
use crate::kapi::net::NetRef;
use crate::kapi::percpu::PerCpuCounter;
use crate::kapi::rcu::{RcuBox, RcuGuard};
use crate::kapi::work::{jiffies, HZ};
use crate::proto;
use crate::service::{Config, Real};
use crate::sync_queue::SyncQueue;
use crate::tcp_state::{self, TcpState, Timeouts};
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, Ordering::Relaxed};
use kernel::prelude::*;
use kernel::sync::Arc;

pub(crate) const IPPROTO_TCP: u8 = 6;
pub(crate) const IPPROTO_UDP: u8 = 17;
/// Where UDP's timeout sits in [`Dataplane::timeouts`], after the TCP states.
const UDP_SLOT: usize = tcp_state::STATE_COUNT;

/// New connections per second above which flood mode engages (Katran's
/// per-core figure, times the CPUs counted together here); 0 turns it off.
pub(crate) const DEFAULT_FLOOD_RATE: u32 = 125_000;

/// Counters of the data plane's exceptional paths.
pub(crate) struct Counters {
    /// IP fragments for a service, handed to the stack.
    pub(crate) fragments: PerCpuCounter,
    /// Flows forwarded without state (flood mode or a full table).
    pub(crate) stateless: PerCpuCounter,
    /// Packets dropped: no usable real server.
    pub(crate) no_real: PerCpuCounter,
    /// Packets dropped: the egress device failed.
    pub(crate) xmit_errors: PerCpuCounter,
    /// TCP segments without SYN or entry, placed without state.
    pub(crate) midflow: PerCpuCounter,
    /// ICMP errors about a flow, forwarded to its real server.
    pub(crate) icmp_forwarded: PerCpuCounter,
    /// Packets over the egress MTU, answered with an ICMP error.
    pub(crate) too_big: PerCpuCounter,
}

/// One namespace's data plane.
pub(crate) struct Dataplane {
    state: AtomicU8,
    pub(crate) hook_packets: PerCpuCounter,
    /// The configuration the packet path reads.
    pub(crate) config: RcuBox<Arc<Config>>,
    /// The connection table.
    pub(crate) conns: KBox<ConnTable>,
    /// Timeouts in seconds: TCP by state, then UDP.
    timeouts: [AtomicU32; tcp_state::STATE_COUNT + 1],
    /// Expire the connections of a deleted real server (IPVS's
    /// `expire_nodest_conn`), rescheduling their next packet.
    pub(crate) expire_nodest: AtomicBool,
    /// Flood threshold, new connections per second; 0: never.
    pub(crate) flood_rate: AtomicU32,
    /// New connections in the current one-second window.
    flood: FloodMeter,
    pub(crate) ticks: AtomicU64,
    /// Counters.
    pub(crate) counters: Counters,
    /// What this director tells its peers (connection sync).
    pub(crate) sync: SyncQueue,
    /// Service ids: unique per namespace, never reused.
    pub(crate) next_service_id: AtomicU32,
    /// Real server ids: unique per namespace, never reused.
    pub(crate) next_real_id: AtomicU32,
    pub(crate) net: NetRef,
}

pub(crate) fn jiffies32() -> u32 {
    jiffies() as u32
}

/// `s` seconds in jiffies (a multiplication: no call on the packet path).
#[inline]
pub(crate) fn secs(s: u32) -> u32 {
    s.saturating_mul(HZ)
}

/// Keeps a real server's active/inactive counts as a connection's state
/// changes (templates are not connections).
pub(crate) fn account(real: &Real, from: Option<u8>, to: Option<u8>) {
    let active = |s: u8| TcpState::from_u8(s).is_some_and(tcp_state::is_active);
    let counter = |s: u8| if active(s) { &real.active } else { &real.inactive };
    if let (Some(f), Some(t)) = (from, to) {
        if active(f) == active(t) {
            return;
        }
    }
    if let Some(f) = from {
        let _ = counter(f).fetch_update(Relaxed, Relaxed, |v| Some(v.saturating_sub(1)));
    }
    if let Some(t) = to {
        counter(t).fetch_add(1, Relaxed);
    }
}

/// An entry leaves the table: its real server no longer counts it (once,
/// however many CPUs race to change its state).
pub(crate) fn on_unlink(c: &Conn) {
    if let Some(state) = c.kill() {
        if !c.is_template() {
            account(c.real(), Some(state), None);
        }
    }
}

impl Dataplane {
    /// A data plane for `net`, in the active state, as IPVS always is:
    /// forwarding starts as soon as a service exists unless a VRRP daemon
    /// says otherwise; or standby with the `start_standby` module
    /// parameter, so that a module loaded on a backup director forwards
    /// nothing until its VRRP daemon makes it active.
    pub(crate) fn new(net: NetRef, seed: u32) -> Result<Self> {
        let state = match crate::kapi::param_start_standby() {
            true => proto::STATE_STANDBY,
            false => proto::STATE_ACTIVE,
        };
        let timeouts = core::array::from_fn(|i| {
            let t = Timeouts::DEFAULT;
            AtomicU32::new(match TcpState::from_u8(i as u8) {
                Some(s) if i < UDP_SLOT => t.timeout_for(s),
                _ => t.udp,
            })
        });
        Ok(Self {
            state: AtomicU8::new(state),
            hook_packets: PerCpuCounter::new()?,
            config: RcuBox::new(Config::new(KVec::new())?)?,
            conns: ConnTable::new(crate::kapi::param_conn_max(), crate::kapi::param_conn_table_bits(), seed)?,
            timeouts,
            expire_nodest: AtomicBool::new(true),
            flood_rate: AtomicU32::new(DEFAULT_FLOOD_RATE),
            flood: FloodMeter::new(),
            ticks: AtomicU64::new(0),
            counters: Counters {
                fragments: PerCpuCounter::new()?,
                stateless: PerCpuCounter::new()?,
                no_real: PerCpuCounter::new()?,
                xmit_errors: PerCpuCounter::new()?,
                midflow: PerCpuCounter::new()?,
                icmp_forwarded: PerCpuCounter::new()?,
                too_big: PerCpuCounter::new()?,
            },
            sync: SyncQueue::new()?,
            next_service_id: AtomicU32::new(1),
            next_real_id: AtomicU32::new(1),
            net,
        })
    }

    /// The current state.
    pub(crate) fn state(&self) -> u8 {
        self.state.load(Relaxed)
    }

    /// Switches state; returns the previous one.
    pub(crate) fn set_state(&self, state: u8) -> u8 {
        self.state.swap(state, Relaxed)
    }

    /// Packets seen by this namespace's hooks.
    pub(crate) fn hook_packets(&self) -> u64 {
        self.hook_packets.sum()
    }

    /// Whether flood mode is engaged: more new connections in the current
    /// one-second window than the threshold.
    pub(crate) fn flooding(&self) -> bool {
        self.flood.engaged(jiffies32(), secs(1), self.flood_rate.load(Relaxed))
    }

    /// Counts a new flow; returns whether flood mode is engaged.
    pub(crate) fn count_new_flow(&self, now: u32) -> bool {
        self.flood.count_new(now, secs(1), self.flood_rate.load(Relaxed))
    }

    /// A timeout in seconds: a TCP state's, or UDP's (`None`).
    pub(crate) fn timeout(&self, state: Option<TcpState>) -> u32 {
        self.timeouts[state.map_or(UDP_SLOT, |s| s.as_u8() as usize)].load(Relaxed)
    }

    /// Sets a timeout in seconds: a TCP state's, or UDP's (`None`).
    pub(crate) fn set_timeout(&self, state: Option<TcpState>, secs: u32) {
        self.timeouts[state.map_or(UDP_SLOT, |s| s.as_u8() as usize)].store(secs, Relaxed);
    }

    /// The current configuration, held outside any RCU section (for the
    /// control path and the upkeep, which may sleep).
    pub(crate) fn current(&self) -> Arc<Config> {
        let g = RcuGuard::lock();
        self.config.get(&g).clone()
    }

    /// Removes connections matching `pred` (counts kept right).
    pub(crate) fn expire_conns(&self, pred: impl Fn(&Conn) -> bool) {
        self.conns.retain(None, pred, &on_unlink);
    }

    /// When an entry in `state` of a `proto` flow expires, from `now`.
    pub(crate) fn conn_expiry(&self, proto: u8, state: u8, now: u32) -> u32 {
        let t = if proto == IPPROTO_TCP { self.timeout(TcpState::from_u8(state)) } else { self.timeout(None) };
        now.wrapping_add(secs(t))
    }
}

/// The entry size, for `status`.
pub(crate) const CONN_ENTRY_SIZE: usize = ConnTable::ENTRY_SIZE;
