// SPDX-License-Identifier: GPL-2.0

//! Per-namespace state: each network namespace has its own data plane, its
//! own PRE_ROUTING hooks and its own once-a-second upkeep.

use crate::dataplane::Dataplane;
use crate::kapi::net::{Net, NetRef};
use crate::kapi::netevent::{Neighbour, NeighbourWatch};
use crate::kapi::pernet::{self, NetData, PernetId};
use crate::kapi::rcu::RcuGuard;
use crate::kapi::work::Periodic;
use crate::kapi::{netfilter, random_u32};
use kernel::prelude::*;
use kernel::sync::Arc;
use kernel::time::msecs_to_jiffies;

static NET_ID: PernetId = PernetId::new();

/// Where drlb's hooks sit: after defragmentation (-400), so reassembled
/// packets are what we see, and before raw (-300) and conntrack (-200), so a
/// packet drlb steals costs neither.
const HOOK_PRIORITY: i32 = -399;

/// drlb's state in one network namespace. Fields drop in order: the hooks
/// go first (waiting for packets in flight), then the upkeep.
pub(crate) struct NetState {
    hooks: netfilter::Registration<Dataplane>,
    _upkeep: Periodic<Dataplane>,
}

impl NetState {
    /// The namespace's data plane.
    pub(crate) fn dataplane(&self) -> &Arc<Dataplane> {
        self.hooks.data()
    }
}

impl NetData for NetState {
    fn id() -> &'static PernetId {
        &NET_ID
    }

    fn init(net: &Net, netref: NetRef) -> Result<KBox<Self>> {
        let dp = Arc::new(Dataplane::new(netref, random_u32())?, GFP_KERNEL)?;
        let upkeep = Periodic::start(dp.clone(), msecs_to_jiffies(1000) as _)?;
        let hooks = netfilter::Registration::register(net, dp, HOOK_PRIORITY)?;
        Ok(KBox::new(Self { hooks, _upkeep: upkeep }, GFP_KERNEL)?)
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
