// SPDX-License-Identifier: GPL-2.0

//! Netfilter hooks: a [`Hook`] trait for the logic and a [`Registration`]
//! that registers one IPv4 and one IPv6 PRE_ROUTING hook in a namespace and
//! unregisters them on drop.

use super::bindings;
use super::net::Net;
use core::ffi::{c_uint, c_void};
use core::marker::PhantomData;
use kernel::alloc::{flags::GFP_KERNEL, KBox};
use kernel::error::{to_result, Result};
use kernel::sync::Arc;

/// The address family a hook was called for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Family {
    /// IPv4 (`NFPROTO_IPV4`).
    Ipv4,
    /// IPv6 (`NFPROTO_IPV6`).
    Ipv6,
}

/// A hook's decision. `Accept` and `Drop` may be returned freely; a verdict
/// that takes ownership of the packet can only come from a method that
/// consumed the [`Packet`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Verdict(c_uint);

impl Verdict {
    /// Let the packet continue through the stack (`NF_ACCEPT`).
    pub(crate) const ACCEPT: Verdict = Verdict(bindings::NF_ACCEPT);
    /// Drop the packet (`NF_DROP`).
    #[allow(dead_code)]
    pub(crate) const DROP: Verdict = Verdict(bindings::NF_DROP);
}

/// A packet in a hook call (`struct sk_buff`), borrowed for the call.
pub(crate) struct Packet<'a> {
    // Read by the forwarding path; the skeleton only counts packets.
    #[allow(dead_code)]
    skb: *mut bindings::sk_buff,
    _call: PhantomData<&'a mut bindings::sk_buff>,
}

/// What a hook does with each packet.
pub(crate) trait Hook: Send + Sync + Sized {
    /// Called for every packet at PRE_ROUTING in the registered namespace,
    /// in softirq context under `rcu_read_lock`.
    fn hook(&self, family: Family, pkt: Packet<'_>) -> Verdict;
}

/// One IPv4 and one IPv6 PRE_ROUTING hook in one namespace.
pub(crate) struct Registration<T: Hook> {
    ops: KBox<[bindings::nf_hook_ops; 2]>,
    net: *mut bindings::net,
    data: Arc<T>,
}

// SAFETY: the raw pointers are only used to unregister, which may happen from
// any thread; `T` is `Send + Sync`.
unsafe impl<T: Hook> Send for Registration<T> {}
// SAFETY: `&Registration` exposes nothing but `data`, which is `Sync`.
unsafe impl<T: Hook> Sync for Registration<T> {}

impl<T: Hook> Registration<T> {
    /// Registers the hooks in `net` at `priority` (the same for both
    /// families), calling `data.hook()` for each packet.
    pub(crate) fn register(net: &Net, data: Arc<T>, priority: i32) -> Result<Self> {
        let mut ops = KBox::new(
            [bindings::nf_hook_ops::default(), bindings::nf_hook_ops::default()],
            GFP_KERNEL,
        )?;
        for (op, pf) in ops.iter_mut().zip([bindings::NFPROTO_IPV4, bindings::NFPROTO_IPV6]) {
            op.hook = Some(hook_callback::<T>);
            op.priv_ = (&*data as *const T).cast_mut().cast::<c_void>();
            op.pf = pf as u8;
            op.hooknum = bindings::nf_inet_hooks_NF_INET_PRE_ROUTING;
            op.priority = priority;
        }
        // SAFETY: `net` is alive (we hold a reference), `ops` is a valid array
        // of two initialised hook ops that stays at its address until `drop`
        // unregisters it.
        to_result(unsafe { bindings::nf_register_net_hooks(net.as_raw(), ops.as_ptr(), 2) })?;
        Ok(Self { ops, net: net.as_raw(), data })
    }

    /// The data the hooks were registered with.
    #[allow(dead_code)]
    pub(crate) fn data(&self) -> &Arc<T> {
        &self.data
    }
}

impl<T: Hook> Drop for Registration<T> {
    fn drop(&mut self) {
        // SAFETY: `ops` was registered in `net` by `register`; `net` is still
        // alive because registrations are dropped no later than the pernet
        // exit of their namespace.
        unsafe { bindings::nf_unregister_net_hooks(self.net, self.ops.as_ptr(), 2) };
        // A CPU may still be inside `hook_callback` with a pointer to `data`:
        // wait for every such call to finish before `data` and `ops` go.
        // SAFETY: called from process context (module exit or pernet exit).
        unsafe { bindings::synchronize_net() };
    }
}

/// The C entry point netfilter calls.
///
/// # Safety
///
/// Called by netfilter with `priv_` set by [`Registration::register`] to a `T`
/// that outlives the registration, a valid `skb` and a valid `state`.
unsafe extern "C" fn hook_callback<T: Hook>(
    priv_: *mut c_void,
    skb: *mut bindings::sk_buff,
    state: *const bindings::nf_hook_state,
) -> c_uint {
    // SAFETY: `priv_` points to the `T` held by the registration, which waits
    // for running hooks before releasing it.
    let data = unsafe { &*priv_.cast::<T>() };
    // SAFETY: `state` is valid for the call.
    let family = match unsafe { (*state).pf } as u32 {
        bindings::NFPROTO_IPV6 => Family::Ipv6,
        _ => Family::Ipv4,
    };
    let pkt = Packet { skb, _call: PhantomData };
    data.hook(family, pkt).0
}
