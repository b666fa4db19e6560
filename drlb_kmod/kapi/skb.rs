// SPDX-License-Identifier: GPL-2.0

//! The `struct sk_buff` and `struct net_device` fields the packet path
//! reads and writes, reached through bindgen's layout instead of one-line C
//! helpers: each is the kernel's static inline of the same name, and costs
//! an instruction or two where a call cost ten. For the packet path only;
//! the rest of `kapi` calls the helpers.

use super::bindings;

/// `__LINK_STATE_START` (`enum netdev_state_t`): the device is up.
const LINK_STATE_START: u32 = bindings::netdev_state_t___LINK_STATE_START;
/// `CHECKSUM_NONE` and `CHECKSUM_COMPLETE` (`<linux/skbuff.h>`).
const CHECKSUM_NONE: u8 = bindings::CHECKSUM_NONE as u8;
const CHECKSUM_COMPLETE: u8 = bindings::CHECKSUM_COMPLETE as u8;

type Headers = bindings::sk_buff__bindgen_ty_4__bindgen_ty_1;

/// The skb's `headers` group (protocol, header offsets, checksum state).
///
/// # Safety
///
/// `skb` is a valid skb, not changed by anyone else while the returned
/// pointer is used.
#[inline(always)]
unsafe fn headers(skb: *mut bindings::sk_buff) -> *mut Headers {
    // SAFETY: per the contract; the group is a member of the anonymous
    // union, laid out at its start (`struct_group`).
    unsafe { core::ptr::addr_of_mut!((*skb).__bindgen_anon_4).cast::<Headers>() }
}

/// `netif_running(dev) && dev->type == ARPHRD_ETHER`.
///
/// # Safety
///
/// `dev` is a live device.
#[inline]
pub(super) unsafe fn dev_is_running_ether(dev: *const bindings::net_device) -> bool {
    // SAFETY: `dev` is live; `state` is read as `test_bit` reads it.
    unsafe {
        let state = core::ptr::read_volatile(core::ptr::addr_of!((*dev).state));
        state & (1 << LINK_STATE_START) != 0 && (*dev).type_ == bindings::ARPHRD_ETHER as u16
    }
}

/// `READ_ONCE(dev->mtu)`.
///
/// # Safety
///
/// `dev` is a live device.
#[inline]
pub(super) unsafe fn dev_mtu(dev: *const bindings::net_device) -> u32 {
    // SAFETY: `dev` is live.
    unsafe { core::ptr::read_volatile(core::ptr::addr_of!((*dev).mtu)) }
}

/// `dev->dev_addr`: the device's MAC (`ETH_ALEN` bytes on Ethernet).
///
/// # Safety
///
/// `dev` is a live device.
#[inline]
pub(super) unsafe fn dev_addr(dev: *const bindings::net_device) -> *const u8 {
    // SAFETY: `dev` is live.
    unsafe { (*dev).dev_addr }
}

/// `skb_shared(skb)`: someone else holds a reference.
///
/// # Safety
///
/// `skb` is a valid skb.
#[inline]
pub(super) unsafe fn shared(skb: *const bindings::sk_buff) -> bool {
    // SAFETY: `skb` is valid; `users` is read as `refcount_read` reads it.
    unsafe { core::ptr::read_volatile(core::ptr::addr_of!((*skb).users.refs.counter)) != 1 }
}

/// Whether `skb_cow_head(skb, headroom)` would have nothing to do: the
/// headroom is there and the header is not a clone's. When false, the
/// caller calls it.
///
/// # Safety
///
/// `skb` is a valid skb we own.
#[inline]
pub(super) unsafe fn head_writable(skb: *const bindings::sk_buff, headroom: u32) -> bool {
    // SAFETY: `skb` is valid and ours.
    unsafe { (*skb).cloned() == 0 && ((*skb).data as usize).wrapping_sub((*skb).head as usize) >= headroom as usize }
}

/// `skb_push(skb, len)`: the data `len` bytes earlier, inline when the
/// headroom is there (the callers made sure); else the kernel's, which
/// reports the underrun.
///
/// # Safety
///
/// `skb` is a valid skb we own, its header not shared.
#[inline]
pub(super) unsafe fn push(skb: *mut bindings::sk_buff, len: u32) -> *mut u8 {
    // SAFETY: per the contract; with `len` bytes of headroom the new data
    // pointer stays inside the head buffer.
    unsafe {
        let s = &mut *skb;
        if (s.data as usize).wrapping_sub(s.head as usize) < len as usize {
            return bindings::skb_push(skb, len).cast();
        }
        s.data = s.data.sub(len as usize);
        s.len += len;
        s.data
    }
}

/// `ntohs(skb->protocol)`.
///
/// # Safety
///
/// `skb` is a valid skb we own.
#[inline]
pub(super) unsafe fn protocol(skb: *mut bindings::sk_buff) -> u16 {
    // SAFETY: per the contract.
    unsafe { u16::from_be((*headers(skb)).protocol) }
}

/// What the stack does to a frame it forwards, before handing it to
/// `dev`: `skb_reset_mac_header`, `skb->dev = dev`, `skb_forward_csum`
/// (a complete checksum no longer matches once the header changes) and
/// `skb_clear_tstamp`.
///
/// # Safety
///
/// `skb` is a valid skb we own whose data starts at its new MAC header,
/// at most 64 KiB past its head; `dev` is a live device.
#[inline]
pub(super) unsafe fn prepare_xmit(skb: *mut bindings::sk_buff, dev: *mut bindings::net_device) {
    // SAFETY: per the contract.
    unsafe {
        let h = headers(skb);
        (*h).mac_header = ((*skb).data as usize).wrapping_sub((*skb).head as usize) as u16;
        (*skb).__bindgen_anon_1.__bindgen_anon_1.__bindgen_anon_1.dev = dev;
        if (*h).ip_summed() == CHECKSUM_COMPLETE {
            (*h).set_ip_summed(CHECKSUM_NONE);
        }
        if (*h).tstamp_type() == 0 {
            (*skb).__bindgen_anon_2.tstamp = 0;
        }
    }
}
