// SPDX-License-Identifier: GPL-2.0

//! Netfilter hooks: a [`Hook`] trait for the logic and a [`Registration`]
//! that registers one IPv4 and one IPv6 PRE_ROUTING hook in a namespace and
//! unregisters them on drop.

use super::bindings;
use super::net::Net;
use super::rcu::RcuGuard;
use super::skb;
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
    pub(crate) const DROP: Verdict = Verdict(bindings::NF_DROP);
}

impl Verdict {
    /// The packet was handed to a device; netfilter must forget it.
    const STOLEN: Verdict = Verdict(bindings::NF_STOLEN);
}

/// A packet in a hook call (`struct sk_buff`), borrowed for the call. At
/// PRE_ROUTING its data starts at the network header.
pub(crate) struct Packet<'a> {
    skb: *mut bindings::sk_buff,
    net: *mut bindings::net,
    _call: PhantomData<&'a mut bindings::sk_buff>,
}

/// A packet [`Packet::forward`] did not send, and why: still the hook's
/// to decide on.
pub(crate) struct Unsent<'a> {
    /// Why.
    pub(crate) why: ForwardError,
    /// The packet, untouched.
    pub(crate) packet: Packet<'a>,
}

/// Why [`Packet::forward`] could not send a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ForwardError {
    /// The egress device is gone, down or not Ethernet.
    NoDevice,
    /// No memory to make the header writable.
    NoMemory,
    /// The packet is larger than the egress device's MTU (carried), and
    /// not a GSO packet whose segments fit.
    TooBig(u32),
}

/// ICMP "destination unreachable" (RFC 792) and its "fragmentation
/// needed" code; ICMPv6 "packet too big" (RFC 4443).
const ICMP_DEST_UNREACH: i32 = 3;
const ICMP_FRAG_NEEDED: i32 = 4;
const ICMPV6_PKT_TOOBIG: u8 = 2;

/// Whether a pointer returned by the kernel encodes an error (`IS_ERR`).
fn is_err<T>(p: *mut T) -> bool {
    p as usize >= (-4095isize) as usize
}

/// Gives `skb` an Ethernet header from `dev`'s MAC to `dst_mac` and hands
/// it to `dev`. The skb is gone afterwards, sent or freed.
///
/// # Safety
///
/// `skb` is a valid skb we own, starting at its network header with at
/// least `ETH_HLEN` bytes of writable headroom; `dev` is a live device
/// (under RCU).
unsafe fn push_and_send(skb: *mut bindings::sk_buff, dev: *mut bindings::net_device, dst_mac: &[u8; 6]) {
    const ETH_HLEN: u32 = bindings::ETH_HLEN;
    // SAFETY: per the function's contract.
    unsafe {
        let proto = skb::protocol(skb);
        let eth = skb::push(skb, ETH_HLEN);
        core::ptr::copy_nonoverlapping(dst_mac.as_ptr(), eth, 6);
        core::ptr::copy_nonoverlapping(skb::dev_addr(dev), eth.add(6), 6);
        core::ptr::copy_nonoverlapping(proto.to_be_bytes().as_ptr(), eth.add(12), 2);
        skb::prepare_xmit(skb, dev);
        // (`dev_queue_xmit`; the skb is the device's now, sent or freed)
        bindings::__dev_queue_xmit(skb, core::ptr::null_mut());
    }
}

impl<'a> Packet<'a> {
    /// Length in bytes from the network header on.
    #[inline]
    pub(crate) fn len(&self) -> u32 {
        // SAFETY: `skb` is valid for the call.
        unsafe { (*self.skb).len }
    }

    /// The first `len` bytes from the network header, made linear if they
    /// were not; `None` if the packet is shorter.
    #[inline]
    pub(crate) fn header(&mut self, len: u32) -> Option<&[u8]> {
        // SAFETY: `skb` is valid and ours for the call; pulling may
        // reallocate the head, which is why this borrows `self` mutably.
        unsafe {
            // skb_headlen(), inline: the linear part usually holds the
            // headers, and then no call is made.
            let s = &*self.skb;
            if len > s.len - s.data_len && !bindings::drlb_pskb_may_pull(self.skb, len) {
                return None;
            }
            let s = &*self.skb;
            Some(core::slice::from_raw_parts(s.data, (s.len - s.data_len) as usize))
        }
    }

    /// For IPv6: the upper-layer protocol after the extension headers, its
    /// offset from the network header, and whether the packet is a fragment.
    pub(crate) fn ipv6_upper(&self, first_nexthdr: u8) -> Option<(u8, u32, bool)> {
        let mut nexthdr = first_nexthdr;
        let mut frag_off: u16 = 0;
        // SAFETY: `skb` is valid; the function only reads it.
        let off = unsafe { bindings::ipv6_skip_exthdr(self.skb, 40, &mut nexthdr, &mut frag_off) };
        (off >= 0).then_some((nexthdr, off as u32, frag_off != 0))
    }

    /// Sends the packet out of device `ifindex` to `dst_mac`, with the
    /// device's own MAC as source: the only change drlb makes to a packet.
    /// On success the packet is gone (`NF_STOLEN`). A packet over the
    /// device's MTU is not sent ([`ForwardError::TooBig`]); nor is any
    /// other, on failure: the packet comes back.
    pub(crate) fn forward(self, ifindex: i32, dst_mac: &[u8; 6]) -> Result<Verdict, Unsent<'a>> {
        const ETH_HLEN: u32 = bindings::ETH_HLEN;
        let unsent = |why, packet| Err(Unsent { why, packet });
        // SAFETY: we are in a hook, under rcu_read_lock, with a valid skb and
        // namespace; every pointer below is checked before use, and the skb
        // is handed to the device exactly once.
        unsafe {
            let dev = match self.device(ifindex) {
                Ok(d) => d,
                Err(e) => return unsent(e, self),
            };
            let mtu = skb::dev_mtu(dev);
            if (*self.skb).len > mtu && !bindings::drlb_skb_gso_fits(self.skb, mtu) {
                return unsent(ForwardError::TooBig(mtu), self);
            }
            let (skb, verdict) = match self.own() {
                Ok(o) => o,
                Err(e) => return unsent(e, self),
            };
            // Headroom for a full Ethernet header, and a private copy of the
            // header if it is cloned (e.g. a packet socket saw it).
            if !skb::head_writable(skb, ETH_HLEN) && bindings::drlb_skb_cow_head(skb, ETH_HLEN) != 0 {
                if verdict == Verdict::DROP {
                    bindings::drlb_kfree_skb(skb);
                }
                return unsent(ForwardError::NoMemory, self);
            }
            push_and_send(skb, dev, dst_mac);
            Ok(verdict)
        }
    }

    /// The usable Ethernet device `ifindex` of the packet's namespace.
    ///
    /// # Safety
    ///
    /// Under RCU (a hook call); the device stays valid until it ends.
    unsafe fn device(&self, ifindex: i32) -> Result<*mut bindings::net_device, ForwardError> {
        // SAFETY: `net` is valid for the call, and we are under RCU.
        unsafe {
            let dev = bindings::dev_get_by_index_rcu(self.net, ifindex);
            if dev.is_null() || !skb::dev_is_running_ether(dev) {
                return Err(ForwardError::NoDevice);
            }
            Ok(dev)
        }
    }

    /// The skb to change and send, and the verdict for netfilter's: ours
    /// (`STOLEN`), or, when someone else holds a reference (a shared
    /// skb, not ours to change), a clone, netfilter dropping its own
    /// (`DROP`).
    fn own(&self) -> Result<(*mut bindings::sk_buff, Verdict), ForwardError> {
        // SAFETY: `skb` is valid for the call.
        unsafe {
            if skb::shared(self.skb) {
                let c = bindings::drlb_skb_clone(self.skb);
                if c.is_null() {
                    return Err(ForwardError::NoMemory);
                }
                Ok((c, Verdict::DROP))
            } else {
                Ok((self.skb, Verdict::STOLEN))
            }
        }
    }

    /// For IPv4: whether the header says "don't fragment".
    pub(crate) fn dont_fragment(&mut self) -> bool {
        self.header(20).is_some_and(|h| h[6] & 0x40 != 0)
    }

    /// Answers a packet too big for the way on, as a router would: ICMP
    /// "fragmentation needed" (IPv4) or "packet too big" (IPv6) carrying
    /// `mtu`, back to its source; the packet itself is dropped.
    pub(crate) fn reply_too_big(mut self, family: Family, mtu: u32) -> Verdict {
        match family {
            Family::Ipv4 => {
                let Some(h) = self.header(20) else { return Verdict::DROP };
                let (tos, src, dst) = (h[1], [h[12], h[13], h[14], h[15]], [h[16], h[17], h[18], h[19]]);
                // SAFETY: under RCU in a hook with a valid skb whose data
                // starts at its IPv4 header. icmp_send needs the packet's
                // input route, which PRE_ROUTING has not looked up yet:
                // look it up first (it also picks the error's source).
                unsafe {
                    let dev = bindings::drlb_skb_dev(self.skb);
                    if !dev.is_null()
                        && bindings::ip_route_input_noref(
                            self.skb,
                            u32::from_ne_bytes(dst),
                            u32::from_ne_bytes(src),
                            tos,
                            dev,
                        ) == 0
                    {
                        bindings::drlb_icmp_send(self.skb, ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED, mtu.to_be());
                    }
                }
            }
            // SAFETY: a valid IPv6 skb at its network header, its IP6CB set
            // by ipv6_rcv before PRE_ROUTING; icmpv6_send routes itself.
            Family::Ipv6 => unsafe { bindings::drlb_icmpv6_send(self.skb, ICMPV6_PKT_TOOBIG, 0, mtu) },
        }
        Verdict::DROP
    }

    /// Sends an IPv4 packet without "don't fragment" that is over the MTU
    /// of device `ifindex` in fragments that fit it (as a router would,
    /// and as the bridge does without a route: `ip_frag_init` and
    /// `ip_frag_next`), each to `dst_mac`. A reassembled datagram is cut
    /// no larger than its largest original fragment.
    pub(crate) fn forward_fragments(self, ifindex: i32, dst_mac: &[u8; 6]) -> Result<Verdict, ForwardError> {
        // SAFETY: under RCU in a hook with a valid skb starting at its IPv4
        // header (the caller parsed it); the skb we own is freed exactly
        // once, and every fragment is handed to the device exactly once.
        unsafe {
            let dev = self.device(ifindex)?;
            let ihl = u32::from(*(*self.skb).data & 0x0f) * 4;
            let (skb, verdict) = self.own()?;
            let fail = |skb| {
                if verdict == Verdict::DROP {
                    bindings::drlb_kfree_skb(skb);
                }
                Err(ForwardError::NoMemory)
            };
            // (fragments are copied from a linear, checksummed payload)
            if bindings::drlb_skb_csum_partial(skb) && bindings::skb_checksum_help(skb) != 0 {
                return fail(skb);
            }
            bindings::drlb_skb_set_dev(skb, dev);
            let mut mtu = skb::dev_mtu(dev);
            let largest = u32::from(bindings::drlb_ip_frag_max_size(skb));
            if largest != 0 && largest < mtu {
                mtu = largest;
            }
            if mtu < ihl + 8 {
                return fail(skb);
            }
            let mut state = bindings::ip_frag_state::default();
            bindings::ip_frag_init(skb, ihl, bindings::drlb_ll_reserved_space(dev), mtu - ihl, false, &mut state);
            while state.left > 0 {
                let frag = bindings::ip_frag_next(skb, &mut state);
                if is_err(frag) {
                    break; // no memory: the rest is lost, as a router loses it
                }
                // (ip_frag_next left LL_RESERVED_SPACE of headroom)
                push_and_send(frag, dev, dst_mac);
            }
            bindings::consume_skb(skb);
            // Our skb is consumed: netfilter must forget it, or drop its
            // own reference to a shared one.
            Ok(verdict)
        }
    }
}

/// What a hook does with each packet.
pub(crate) trait Hook: Send + Sync + Sized {
    /// Called for every packet at PRE_ROUTING in the registered namespace,
    /// in softirq context under `rcu_read_lock`, which `g` stands for.
    fn hook(&self, g: &RcuGuard, family: Family, pkt: Packet<'_>) -> Verdict;
}

/// One IPv4 and one IPv6 PRE_ROUTING hook in one namespace.
pub(crate) struct Registration<T: Hook> {
    ops: KBox<[bindings::nf_hook_ops; 2]>,
    net: *mut bindings::net,
    /// What the hooks' `priv_` points to, kept alive while they are
    /// registered.
    _data: Arc<T>,
}

// SAFETY: the raw pointers are only used to unregister, which may happen from
// any thread; `T` is `Send + Sync`.
unsafe impl<T: Hook> Send for Registration<T> {}
// SAFETY: `&Registration` exposes nothing.
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
        Ok(Self { ops, net: net.as_raw(), _data: data })
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
    // SAFETY: as above.
    let net = unsafe { (*state).net };
    let pkt = Packet { skb, net, _call: PhantomData };
    // SAFETY: netfilter runs hooks under `rcu_read_lock` (`nf_hook`), for
    // the whole call; the guard stays in its `ManuallyDrop` here.
    let g = unsafe { RcuGuard::held() };
    data.hook(&g, family, pkt).0
}
