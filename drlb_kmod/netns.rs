// SPDX-License-Identifier: GPL-2.0

//! Per-namespace state: each network namespace has its own data plane and
//! its own PRE_ROUTING hooks.

use crate::dataplane::Dataplane;
use crate::kapi::net::Net;
use crate::kapi::netfilter;
use crate::kapi::pernet::{NetData, PernetId};
use kernel::prelude::*;
use kernel::sync::Arc;

static NET_ID: PernetId = PernetId::new();

/// Where drlb's hooks sit: after defragmentation (-400), so reassembled
/// packets are what we see, and before raw (-300) and conntrack (-200), so a
/// packet drlb steals costs neither.
const HOOK_PRIORITY: i32 = -399;

/// drlb's state in one network namespace.
pub(crate) struct NetState {
    hooks: netfilter::Registration<Dataplane>,
}

impl NetState {
    /// The namespace's data plane.
    pub(crate) fn dataplane(&self) -> &Dataplane {
        self.hooks.data()
    }
}

impl NetData for NetState {
    fn id() -> &'static PernetId {
        &NET_ID
    }

    fn init(net: &Net) -> Result<KBox<Self>> {
        let dp = Arc::new(Dataplane::new()?, GFP_KERNEL)?;
        let hooks = netfilter::Registration::register(net, dp, HOOK_PRIORITY)?;
        Ok(KBox::new(Self { hooks }, GFP_KERNEL)?)
    }
}
