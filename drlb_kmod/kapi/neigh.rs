// SPDX-License-Identifier: GPL-2.0

//! Where a real server is on the link: the egress device from the routing
//! table and the MAC from the neighbour table (ARP or ND), which we ask to
//! resolve when it does not know it yet.

use super::bindings;
use super::net::Net;
use core::ffi::c_void;

/// A real server's link-layer location.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Location {
    /// The egress device's ifindex.
    pub(crate) ifindex: i32,
    /// The MAC, when the neighbour entry is valid.
    pub(crate) mac: Option<[u8; 6]>,
}

fn is_err<T>(p: *const T) -> bool {
    p.is_null() || (p as usize) >= (-4095isize) as usize
}

/// Looks up where `addr` (4 or 16 bytes) is reached in `net`, and kicks
/// address resolution if its neighbour entry is not valid. Process context.
/// `None` if there is no route, or the route is not out of an Ethernet
/// device to a unicast next hop.
pub(crate) fn locate(net: &Net, addr: &[u8]) -> Option<Location> {
    match addr.len() {
        4 => locate4(net, addr.try_into().ok()?),
        16 => locate6(net, addr.try_into().ok()?),
        _ => None,
    }
}

fn locate4(net: &Net, addr: [u8; 4]) -> Option<Location> {
    let mut fl4 = bindings::flowi4 { daddr: u32::from_ne_bytes(addr), ..Default::default() };
    // SAFETY: `net` is alive; `fl4` is a valid flow; the result is checked.
    let rt = unsafe { bindings::ip_route_output_flow(net.as_raw(), &mut fl4, core::ptr::null()) };
    if is_err(rt) {
        return None;
    }
    // SAFETY: `rt` is a valid route we hold a reference to until released.
    let (dst, gw) = unsafe {
        let r = &*rt;
        let gw = if r.rt_gw_family == bindings::AF_INET as u8 {
            r.__bindgen_anon_1.rt_gw4.to_ne_bytes()
        } else {
            addr
        };
        (core::ptr::addr_of_mut!((*rt).dst), gw)
    };
    // RTN_UNICAST == 1: a local or broadcast "real server" is no real server.
    // SAFETY: as above.
    let unicast = unsafe { (*rt).rt_type } == 1;
    // SAFETY: `arp_tbl` is the kernel's ARP table, alive while IPv4 is.
    let loc = unicast
        .then(|| unsafe { neighbour(core::ptr::addr_of_mut!(bindings::arp_tbl), &gw, dst) })
        .flatten();
    // SAFETY: releases the reference the lookup gave us.
    unsafe { bindings::dst_release(dst) };
    loc
}

fn locate6(net: &Net, addr: [u8; 16]) -> Option<Location> {
    let mut fl6 = bindings::flowi6::default();
    fl6.daddr.in6_u.u6_addr8 = addr;
    // SAFETY: `net` is alive; `fl6` is valid; the result is never NULL and
    // carries its error in `dst->error`.
    let dst = unsafe {
        bindings::ip6_route_output_flags(net.as_raw(), core::ptr::null(), &mut fl6, 0)
    };
    if dst.is_null() {
        return None;
    }
    // SAFETY: `dst` is valid until released.
    let loc = if unsafe { bindings::drlb_dst_error(dst) } != 0 {
        None
    } else {
        // SAFETY: an IPv6 output route's `dst` is the first field of its
        // `rt6_info`.
        let rt = unsafe { &*dst.cast::<bindings::rt6_info>() };
        let gw = if rt.rt6i_flags & bindings::RTF_GATEWAY != 0 {
            // SAFETY: reading the address bytes of the union.
            unsafe { rt.rt6i_gateway.in6_u.u6_addr8 }
        } else {
            addr
        };
        // SAFETY: `nd_tbl` is the kernel's ND table (IPv6 is built in).
        unsafe { neighbour(core::ptr::addr_of_mut!(bindings::nd_tbl), &gw, dst) }
    };
    // SAFETY: releases the route's reference.
    unsafe { bindings::dst_release(dst) };
    loc
}

/// Finds or creates the neighbour entry for `key` on `dst`'s device and
/// reads its MAC; asks for resolution when the entry is not valid.
///
/// # Safety
///
/// `tbl` is a live neighbour table matching `key`'s family; `dst` is a route
/// we hold.
unsafe fn neighbour(
    tbl: *mut bindings::neigh_table,
    key: &[u8],
    dst: *mut bindings::dst_entry,
) -> Option<Location> {
    // SAFETY: `dst` is held by the caller.
    let dev = unsafe { bindings::drlb_dst_dev(dst) };
    // SAFETY: `dev` is held through `dst`.
    if dev.is_null() || !unsafe { bindings::drlb_dev_usable(dev) } {
        return None;
    }
    // SAFETY: as above.
    let ifindex = unsafe { bindings::drlb_dev_ifindex(dev) };
    let pkey = key.as_ptr().cast::<c_void>();
    // SAFETY: `tbl`, `pkey` (of the table's key length) and `dev` are valid.
    let mut n = unsafe { bindings::neigh_lookup(tbl, pkey, dev) };
    if n.is_null() {
        // SAFETY: as above; the result is an ERR_PTR or a held entry.
        n = unsafe { bindings::__neigh_create(tbl, pkey, dev, true) };
        if is_err(n) {
            return Some(Location { ifindex, mac: None });
        }
    }
    // SAFETY: `n` is a held neighbour entry until released below.
    let mac = unsafe {
        let state = bindings::drlb_neigh_nud_state(n) as u32;
        if state & (bindings::NUD_REACHABLE | bindings::NUD_PERMANENT | bindings::NUD_NOARP) == 0 {
            // Not confirmed recently: (re)start resolution, as a forwarded
            // packet would.
            bindings::drlb_neigh_event_send(n);
        }
        let mut ha = [0u8; 32];
        let valid = state & bindings::NUD_VALID != 0;
        if valid {
            bindings::drlb_neigh_ha_snapshot(ha.as_mut_ptr(), n);
        }
        bindings::drlb_neigh_release(n);
        valid.then(|| [ha[0], ha[1], ha[2], ha[3], ha[4], ha[5]])
    };
    Some(Location { ifindex, mac })
}
