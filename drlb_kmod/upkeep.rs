// SPDX-License-Identifier: GPL-2.0

//! The data plane's upkeep: once a second, expired connections go, real
//! servers are resolved again through the routes and neighbour table, and
//! every other second the rates are estimated. A neighbour-table change is
//! followed at once.
//!
//! Both write a real server's location, from different contexts (the
//! upkeep in process context, the neighbour notifier in atomic context,
//! possibly at once on two CPUs): `Real`'s writer lock serialises them, and
//! a lookup the notifier overtook is dropped rather than published over
//! newer news (see `Real::looked_up`).

use crate::dataplane::{jiffies32, on_unlink, Dataplane};
use crate::kapi::neigh::{self, NoMac};
use crate::kapi::rcu::RcuGuard;
use crate::kapi::work::Tick;
use crate::service::Real;
use crate::stats::ESTIMATOR_PERIOD_S;
use core::sync::atomic::Ordering::Relaxed;

impl Tick for Dataplane {
    /// Once a second: expire connections, re-resolve real servers and,
    /// every other second, update the rate estimates.
    fn tick(&self) {
        let now = jiffies32();
        let reap = self.expire_nodest.load(Relaxed);
        self.conns.retain(Some(now), |c| reap && c.real().removed.load(Relaxed), &on_unlink);

        let cfg = self.current();
        let n = self.ticks.fetch_add(1, Relaxed) + 1;
        for svc in cfg.services.iter() {
            for r in svc.reals.iter() {
                let since = r.version();
                r.looked_up(neigh::locate(self.net.get(), r.addr.as_slice()), Some(since));
                if n % ESTIMATOR_PERIOD_S == 0 {
                    r.stats.estimate();
                }
            }
            if n % ESTIMATOR_PERIOD_S == 0 {
                svc.stats.estimate();
            }
        }
    }
}

impl Dataplane {
    /// A neighbour entry of this namespace changed: real servers at its
    /// address whose route is on-link out of its device follow it (a
    /// failed or deleted entry leaves them unresolved, so the schedulers
    /// skip them). Atomic context.
    pub(crate) fn neighbour_updated(&self, g: &RcuGuard, addr: &[u8], ifindex: i32, mac: Result<[u8; 6], NoMac>) {
        for svc in self.config.get(g).services.iter() {
            for r in svc.reals.iter().filter(|r| r.addr.as_slice() == addr) {
                r.neighbour_changed(ifindex, mac);
            }
        }
    }
}

/// A real server's location, right now (for `real add`, before anyone
/// else can see it).
pub(crate) fn resolve(dp: &Dataplane, real: &Real) {
    real.looked_up(neigh::locate(dp.net.get(), real.addr.as_slice()), None);
}
