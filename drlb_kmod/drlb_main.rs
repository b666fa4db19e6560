// SPDX-License-Identifier: GPL-2.0

//! drlb: a direct-routing layer-4 load balancer.
//!
//! A PRE_ROUTING netfilter hook, per network namespace, sends packets for a
//! configured service to a real server by rewriting the destination MAC;
//! configuration comes over the generic-netlink family `drlb`.
//!
//! Layout: `kapi/` is the only place with `unsafe` (safe abstractions over
//! netfilter, pernet, genetlink and per-CPU data); the files next to this one
//! are the load balancer's logic in safe Rust; `core/src/` holds the logic
//! shared with userspace and tested on the host.

use kernel::prelude::*;
use kernel::sync::Arc;

mod conn;
mod conn_sync;
mod control;
mod dataplane;
mod decide;
mod kapi;
mod netns;
mod receive;
mod service;
mod stats;
mod sync_queue;
mod transmit;
mod upkeep;

// The logic shared with userspace and tested on the host (drlb-core). Those
// files are that crate's public API, so their items are `pub`; mounted here
// as private modules, `pub` means `pub(crate)`, which is all
// `unreachable_pub` would say. Dead code is not allowed: what only userspace
// uses is `#[cfg(not(drlb_kmod))]`, and Kbuild compiles this crate with
// `--cfg drlb_kmod`.
#[allow(unreachable_pub, reason = "drlb-core's public API, private inside drlb.ko")]
#[path = "core/src/conn_policy.rs"]
mod conn_policy;
#[allow(unreachable_pub, reason = "drlb-core's public API, private inside drlb.ko")]
#[path = "core/src/dump.rs"]
mod dump;
#[allow(unreachable_pub, reason = "drlb-core's public API, private inside drlb.ko")]
#[path = "core/src/hash.rs"]
mod hash;
#[allow(unreachable_pub, reason = "drlb-core's public API, private inside drlb.ko")]
#[path = "core/src/lookup.rs"]
mod lookup;
#[allow(unreachable_pub, reason = "drlb-core's public API, private inside drlb.ko")]
#[path = "core/src/maglev.rs"]
mod maglev;
#[allow(unreachable_pub, reason = "drlb-core's public API, private inside drlb.ko")]
#[path = "core/src/proto.rs"]
mod proto;
#[allow(unreachable_pub, reason = "drlb-core's public API, private inside drlb.ko")]
#[path = "core/src/sched.rs"]
mod sched;
#[allow(unreachable_pub, reason = "drlb-core's public API, private inside drlb.ko")]
#[path = "core/src/seqcount.rs"]
mod seqcount;
#[allow(unreachable_pub, reason = "drlb-core's public API, private inside drlb.ko")]
#[path = "core/src/sync_record.rs"]
mod sync_record;
#[allow(unreachable_pub, reason = "drlb-core's public API, private inside drlb.ko")]
#[path = "core/src/tcp_state.rs"]
mod tcp_state;

use kapi::{genetlink, netevent, pernet};

/// The module's version, reported by `drlb-tool status`.
const VERSION: &core::ffi::CStr = c"0.1.0";

module! {
    type: Drlb,
    name: "drlb",
    author: "drlb developers",
    description: "drlb: direct-routing L4 load balancer",
    license: "GPL",
}

struct Drlb {
    // Fields drop in order: the netlink family and the neighbour notifier
    // go first, so neither a request nor an event can reach per-namespace
    // state while the pernet subsystem is torn down;
    // last, wait for the connection entries still queued for freeing.
    _family: genetlink::Family<control::Control>,
    _neigh: netevent::Registration<netns::NeighWatch>,
    _pernet: Arc<pernet::Registration<netns::NetState>>,
    _rcu: RcuBarrier,
}

/// Waits, on drop, for pending `call_rcu` callbacks: they run module code.
struct RcuBarrier;

impl Drop for RcuBarrier {
    fn drop(&mut self) {
        kapi::rcu::barrier();
        pr_info!("drlb unloaded\n");
    }
}

impl kernel::Module for Drlb {
    fn init(module: &'static ThisModule) -> Result<Self> {
        let conn_max = kapi::param_conn_max();
        if !conn_policy::valid_conn_max(conn_max) {
            pr_err!("conn_max={} refused: it must be 1..{}\n", conn_max, conn_policy::MAX_CONN);
            return Err(EINVAL);
        }
        let bits = kapi::param_conn_table_bits();
        if !conn_policy::valid_fixed_bits(bits) {
            pr_err!(
                "conn_table_bits={} refused: it must be 0 (chains follow conn_max) or {}..{}\n",
                bits,
                conn_policy::MIN_TABLE_BITS,
                conn_policy::MAX_TABLE_BITS
            );
            return Err(EINVAL);
        }
        let pernet = Arc::new(pernet::Registration::register()?, GFP_KERNEL)?;
        let neigh = netevent::Registration::register(netns::NeighWatch::new(pernet.clone()))?;
        let family =
            genetlink::Family::register(&control::SPEC, control::Control::new(pernet.clone()), module)?;
        pr_info!("drlb {} loaded\n", VERSION.to_str().unwrap_or("?"));
        Ok(Self { _family: family, _neigh: neigh, _pernet: pernet, _rcu: RcuBarrier })
    }
}
