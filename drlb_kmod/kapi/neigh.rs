// SPDX-License-Identifier: GPL-2.0

//! Where a real server is on the link: the egress device from the routing
//! table and the MAC from the neighbour table (ARP or ND), which we ask to
//! resolve when it does not know it yet.
//!
//! Direct routing rewrites only the destination MAC, so a real server must
//! be on one of the director's segments: the route to it must be on-link,
//! the next hop the real server itself (IPVS asks the same of its DR
//! routes with `IP_VS_RT_MODE_KNOWN_NH`). A real server behind a gateway is
//! reported as such, never "resolved" to the gateway's MAC: the gateway
//! would get frames for the VIP, which it does not hold.

use super::bindings;
use super::net::Net;
use core::ffi::c_void;

/// Why a neighbour entry gives no MAC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NoMac {
    /// No entry (none could be made, or it is going away).
    NoEntry,
    /// Resolution asked, no answer yet (`NUD_INCOMPLETE`, or a fresh entry).
    Incomplete,
    /// Resolution got no answer (`NUD_FAILED`).
    Failed,
}

/// A gateway's address: 4 or 16 bytes of `bytes`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Gateway {
    /// The address, network order, zero-padded.
    pub(crate) bytes: [u8; 16],
    /// 4 (IPv4) or 16 (IPv6).
    pub(crate) len: u8,
}

impl Gateway {
    /// The address bytes.
    pub(crate) fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }
}

/// Where a real server is, as the routes and neighbour table say now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Lookup {
    /// On-link out of device `ifindex`, at `mac`.
    Resolved {
        /// The egress device.
        ifindex: i32,
        /// The neighbour entry's MAC.
        mac: [u8; 6],
    },
    /// On-link out of device `ifindex`, without a valid MAC (yet).
    Unresolved {
        /// The egress device.
        ifindex: i32,
        /// Why.
        why: NoMac,
    },
    /// The route goes through this gateway: not on the segment.
    Gateway(Gateway),
    /// No route.
    NoRoute,
    /// The route is local, broadcast or multicast.
    NotUnicast,
    /// The route's device is down.
    DeviceDown,
    /// The route's device is not Ethernet.
    NotEthernet,
}

fn is_err<T>(p: *const T) -> bool {
    p.is_null() || (p as usize) >= (-4095isize) as usize
}

/// Looks up where `addr` (4 or 16 bytes) is reached in `net`, and kicks
/// address resolution if its neighbour entry is not valid. Process context.
pub(crate) fn locate(net: &Net, addr: &[u8]) -> Lookup {
    match addr.len() {
        4 => locate4(net, addr.try_into().unwrap_or_default()),
        16 => locate6(net, addr.try_into().unwrap_or_default()),
        _ => Lookup::NoRoute,
    }
}

fn locate4(net: &Net, addr: [u8; 4]) -> Lookup {
    let mut fl4 = bindings::flowi4 { daddr: u32::from_ne_bytes(addr), ..Default::default() };
    // SAFETY: `net` is alive; `fl4` is a valid flow; the result is checked.
    let rt = unsafe { bindings::ip_route_output_flow(net.as_raw(), &mut fl4, core::ptr::null()) };
    if is_err(rt) {
        return Lookup::NoRoute;
    }
    // SAFETY: `rt` is a valid route we hold a reference to until released.
    let (dst, rt_type, gateway) = unsafe {
        let r = &*rt;
        // `rt_uses_gateway` is the kernel's own "the next hop is a gateway"
        // (an uncached on-link route also carries `rt_gw4`, set to the
        // destination itself, without it).
        let gateway = if r.rt_uses_gateway == 0 {
            None
        } else if r.rt_gw_family == bindings::AF_INET as u8 {
            let mut bytes = [0u8; 16];
            bytes[..4].copy_from_slice(&r.__bindgen_anon_1.rt_gw4.to_ne_bytes());
            Some(Gateway { bytes, len: 4 })
        } else {
            // IPv4 through an IPv6 next hop (RFC 5549).
            Some(Gateway { bytes: r.__bindgen_anon_1.rt_gw6.in6_u.u6_addr8, len: 16 })
        };
        (core::ptr::addr_of_mut!((*rt).dst), r.rt_type, gateway)
    };
    let lookup = match gateway {
        // A gateway that is the real server itself is on-link.
        Some(g) if g.as_slice() != addr => Lookup::Gateway(g),
        // RTN_UNICAST == 1: a local or broadcast "real server" is no real server.
        _ if rt_type != 1 => Lookup::NotUnicast,
        // SAFETY: `arp_tbl` is the kernel's ARP table, alive while IPv4 is;
        // `dst` is held.
        _ => unsafe { neighbour(core::ptr::addr_of_mut!(bindings::arp_tbl), &addr, dst) },
    };
    // SAFETY: releases the reference the lookup gave us.
    unsafe { bindings::dst_release(dst) };
    lookup
}

fn locate6(net: &Net, addr: [u8; 16]) -> Lookup {
    // A multicast address has a route and a neighbour entry (NOARP, with
    // the mapped group MAC), but no one host behind it.
    if addr[0] == 0xff {
        return Lookup::NotUnicast;
    }
    let mut fl6 = bindings::flowi6::default();
    fl6.daddr.in6_u.u6_addr8 = addr;
    // SAFETY: `net` is alive; `fl6` is valid; the result is never NULL and
    // carries its error in `dst->error`.
    let dst = unsafe {
        bindings::ip6_route_output_flags(net.as_raw(), core::ptr::null(), &mut fl6, 0)
    };
    if dst.is_null() {
        return Lookup::NoRoute;
    }
    // SAFETY: `dst` is valid until released.
    let lookup = if unsafe { bindings::drlb_dst_error(dst) } != 0 {
        Lookup::NoRoute
    } else {
        // SAFETY: an IPv6 output route's `dst` is the first field of its
        // `rt6_info`.
        let rt = unsafe { &*dst.cast::<bindings::rt6_info>() };
        // SAFETY: reading the address bytes of the union.
        let gw = unsafe { rt.rt6i_gateway.in6_u.u6_addr8 };
        if rt.rt6i_flags & bindings::RTF_GATEWAY != 0 && gw != addr {
            Lookup::Gateway(Gateway { bytes: gw, len: 16 })
        } else if rt.rt6i_flags & (bindings::RTF_LOCAL | bindings::RTF_ANYCAST) != 0 {
            Lookup::NotUnicast
        } else {
            // SAFETY: `nd_tbl` is the kernel's ND table (IPv6 is built in);
            // `dst` is held.
            unsafe { neighbour(core::ptr::addr_of_mut!(bindings::nd_tbl), &addr, dst) }
        }
    };
    // SAFETY: releases the route's reference.
    unsafe { bindings::dst_release(dst) };
    lookup
}

/// Finds or creates the neighbour entry for `key` on `dst`'s device and
/// reads its MAC; asks for resolution when the entry is not valid.
///
/// # Safety
///
/// `tbl` is a live neighbour table matching `key`'s family; `dst` is a route
/// we hold.
unsafe fn neighbour(tbl: *mut bindings::neigh_table, key: &[u8], dst: *mut bindings::dst_entry) -> Lookup {
    // SAFETY: `dst` is held by the caller.
    let dev = unsafe { bindings::drlb_dst_dev(dst) };
    if dev.is_null() {
        return Lookup::NoRoute;
    }
    // SAFETY: `dev` is held through `dst`.
    if !unsafe { bindings::drlb_dev_running(dev) } {
        return Lookup::DeviceDown;
    }
    // SAFETY: as above.
    if !unsafe { super::skb::dev_is_running_ether(dev) } {
        return Lookup::NotEthernet;
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
            return Lookup::Unresolved { ifindex, why: NoMac::NoEntry };
        }
    }
    // SAFETY: `n` is a held neighbour entry until released below.
    let (before, mac) = unsafe {
        let state = bindings::drlb_neigh_nud_state(n) as u32;
        if state & (bindings::NUD_REACHABLE | bindings::NUD_PERMANENT | bindings::NUD_NOARP) == 0 {
            // Not confirmed recently: (re)start resolution, as a forwarded
            // packet would.
            bindings::drlb_neigh_event_send(n);
        }
        // What the entry says now (a failed or fresh one is INCOMPLETE again).
        let mac = entry_mac(n);
        bindings::drlb_neigh_release(n);
        (state, mac)
    };
    match mac {
        Ok(mac) => Lookup::Resolved { ifindex, mac },
        // Asked again after the last attempt got no answer: say so, not
        // "incomplete" for ever.
        Err(_) if before & bindings::NUD_FAILED != 0 => Lookup::Unresolved { ifindex, why: NoMac::Failed },
        // A brand-new entry that resolution has not touched is being asked.
        Err(NoMac::NoEntry) => Lookup::Unresolved { ifindex, why: NoMac::Incomplete },
        Err(why) => Lookup::Unresolved { ifindex, why },
    }
}

/// The MAC of neighbour entry `n`, or why it has none: a valid state
/// (`NUD_VALID`) on a live entry, read under the entry's address seqlock.
///
/// # Safety
///
/// `n` is a live neighbour entry (held, or borrowed for a notification).
pub(super) unsafe fn entry_mac(n: *mut bindings::neighbour) -> Result<[u8; 6], NoMac> {
    // SAFETY: per the contract; both read single bytes of the entry.
    let (state, dead) = unsafe { (bindings::drlb_neigh_nud_state(n) as u32, bindings::drlb_neigh_dead(n)) };
    if dead {
        Err(NoMac::NoEntry)
    } else if state & bindings::NUD_VALID != 0 {
        let mut ha = [0u8; 32];
        // SAFETY: `ha` has room for any device address (MAX_ADDR_LEN).
        unsafe { bindings::drlb_neigh_ha_snapshot(ha.as_mut_ptr(), n) };
        Ok([ha[0], ha[1], ha[2], ha[3], ha[4], ha[5]])
    } else if state & bindings::NUD_FAILED != 0 {
        Err(NoMac::Failed)
    } else if state & bindings::NUD_INCOMPLETE != 0 {
        Err(NoMac::Incomplete)
    } else {
        Err(NoMac::NoEntry)
    }
}
