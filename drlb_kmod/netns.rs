// SPDX-License-Identifier: GPL-2.0

//! Per-namespace state: each network namespace has its own data plane, its
//! own PRE_ROUTING hooks and its own once-a-second upkeep.
//!
//! A namespace pays for the packet path only while it has a service: its
//! hooks are registered when its first service is added and unregistered
//! when its last one goes, and its connection table has the chains its
//! bound calls for only meanwhile (the fewest, 256 chains in 2 KiB,
//! otherwise). So the namespaces drlb never serves, which on most machines
//! is nearly all of them (containers, VPN and test namespaces...), see no
//! hook call and no per-CPU add per packet, and hold no 1 MiB table. What
//! every namespace still has is the data plane's counters and settings and
//! the once-a-second upkeep, which finds nothing to do.

use crate::dataplane::Dataplane;
use crate::kapi::net::{Net, NetRef};
use crate::kapi::netevent::{Neighbour, NeighbourWatch};
use crate::kapi::pernet::{self, NetData, PernetId};
use crate::kapi::rcu::RcuGuard;
use crate::kapi::work::Periodic;
use crate::kapi::{netfilter, random_u32};
use kernel::prelude::*;
use kernel::sync::{new_mutex, Arc, Mutex};
use kernel::time::msecs_to_jiffies;

static NET_ID: PernetId = PernetId::new();

/// Where drlb's hooks sit: after defragmentation (-400), so reassembled
/// packets are what we see, and before raw (-300) and conntrack (-200), so a
/// packet drlb steals costs neither.
const HOOK_PRIORITY: i32 = -399;

/// drlb's state in one network namespace. Fields drop in order: the hooks
/// go first (waiting for packets in flight), then the upkeep.
pub(crate) struct NetState {
    /// Registered while the namespace has a service.
    hooks: Pin<KBox<Mutex<Option<netfilter::Registration<Dataplane>>>>>,
    _upkeep: Periodic<Dataplane>,
    dp: Arc<Dataplane>,
}

impl NetState {
    /// The namespace's data plane.
    pub(crate) fn dataplane(&self) -> &Arc<Dataplane> {
        &self.dp
    }

    /// Makes the namespace ready to forward, before its first service is
    /// published: the hooks are registered and the connection table gets
    /// the chains its bound calls for. Nothing if it is ready already; on
    /// failure, nothing changed. Process context.
    pub(crate) fn serve(&self) -> Result {
        let mut hooks = self.hooks.lock();
        if hooks.is_none() {
            // The hooks first: until a service is published they let every
            // packet through, and unregistering them cannot fail, whereas
            // shrinking the table back would need memory.
            let reg = netfilter::Registration::register(self.dp.net.get(), self.dp.clone(), HOOK_PRIORITY)?;
            self.dp.conns.resize_for(self.dp.conns.max())?;
            *hooks = Some(reg);
        }
        Ok(())
    }

    /// Once the namespace has no service left: the hooks go (waiting for
    /// packets in flight) and the table shrinks to the fewest chains.
    /// Process context.
    pub(crate) fn idle_if_unused(&self) {
        let mut hooks = self.hooks.lock();
        if hooks.is_some() && self.dp.current().services.is_empty() {
            drop(hooks.take());
            // Shrinking can only fail for memory; the table then keeps its
            // chains until the next resize.
            let _ = self.dp.conns.resize_idle();
        }
    }

    /// Sets the connection-table bound; while the namespace forwards, the
    /// table's chains follow it at once. On failure (no memory for the new
    /// chains) nothing changed. Process context.
    pub(crate) fn set_conn_max(&self, max: u32) -> Result {
        let hooks = self.hooks.lock();
        if hooks.is_some() {
            self.dp.conns.resize_for(max)?;
        }
        self.dp.conns.set_max(max);
        Ok(())
    }
}

impl NetData for NetState {
    fn id() -> &'static PernetId {
        &NET_ID
    }

    fn init(_net: &Net, netref: NetRef) -> Result<KBox<Self>> {
        let dp = Arc::new(Dataplane::new(netref, random_u32())?, GFP_KERNEL)?;
        let upkeep = Periodic::start(dp.clone(), msecs_to_jiffies(1000) as _)?;
        let hooks = KBox::pin_init(new_mutex!(None, "drlb_hooks"), GFP_KERNEL)?;
        Ok(KBox::new(Self { hooks, _upkeep: upkeep, dp }, GFP_KERNEL)?)
    }
}

/// Follows neighbour-table changes in every namespace: a real server's MAC
/// changes, or its entry fails, and the data plane knows at once (the
/// once-a-second upkeep still re-resolves, for route changes).
pub(crate) struct NeighWatch {
    pernet: Arc<pernet::Registration<NetState>>,
}

impl NeighWatch {
    /// A watcher that finds each namespace's state in `pernet`.
    pub(crate) fn new(pernet: Arc<pernet::Registration<NetState>>) -> Self {
        Self { pernet }
    }
}

impl NeighbourWatch for NeighWatch {
    fn updated(&self, n: &Neighbour) {
        let Some(addr) = n.addr().filter(|_| n.is_ether()) else { return };
        let Some(state) = self.pernet.try_get(n.net()) else { return };
        let g = RcuGuard::lock();
        state.dataplane().neighbour_updated(&g, addr, n.ifindex(), n.mac());
    }
}
