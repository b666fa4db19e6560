//! The interface edge: the interfaces as rtnetlink reports them (a dump,
//! then the RTNLGRP_LINK group's events, parsed by [`crate::links`]), an
//! interface's primary address, adding and removing the virtual addresses
//! over rtnetlink, and gratuitous ARP.

use crate::links::{self, Link, Message};
use crate::sock;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

/// RTNLGRP_LINK as a bind(2) group mask (RTMGRP_LINK).
const RTMGRP_LINK: u32 = 1;
/// Large enough for any datagram rtnetlink sends (dumps fill 32 KiB).
const RECV_BUF: usize = 64 * 1024;

/// A netlink socket of `proto`, bound to `groups` (a bind(2) mask).
pub(crate) fn netlink_socket(
    proto: libc::c_int,
    flags: libc::c_int,
    groups: u32,
) -> io::Result<OwnedFd> {
    let fd = sock::socket(libc::AF_NETLINK, libc::SOCK_RAW | flags, proto)?;
    // SAFETY: an all-zero sockaddr_nl is valid; the fields are set below.
    let mut sa: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    sa.nl_family = libc::AF_NETLINK as u16;
    sa.nl_groups = groups;
    // SAFETY: `sa` is a sockaddr_nl of the size given.
    let r = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&sa as *const libc::sockaddr_nl).cast(),
            std::mem::size_of::<libc::sockaddr_nl>() as u32,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(fd)
}

fn to_kernel() -> libc::sockaddr_nl {
    // SAFETY: an all-zero sockaddr_nl is valid (pid 0: the kernel).
    let mut sa: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    sa.nl_family = libc::AF_NETLINK as u16;
    sa
}

/// One datagram; `Ok(None)` when none waits (a non-blocking socket).
/// A datagram larger than the buffer, or events the kernel dropped
/// (ENOBUFS), are an error: the caller dumps again.
pub(crate) fn recv(fd: RawFd, buf: &mut [u8]) -> io::Result<Option<usize>> {
    // SAFETY: `buf` is valid for its length.
    let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), libc::MSG_TRUNC) };
    if n < 0 {
        let e = io::Error::last_os_error();
        return match e.kind() {
            io::ErrorKind::WouldBlock => Ok(None),
            _ => Err(e),
        };
    }
    let n = n as usize;
    if n > buf.len() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("a {n}-byte netlink message was cut short"),
        ));
    }
    Ok(Some(n))
}

/// Every interface, from an RTM_GETLINK dump.
pub fn dump() -> io::Result<Vec<Link>> {
    let fd = netlink_socket(libc::NETLINK_ROUTE, 0, 0)?;
    sock::send_to(fd.as_raw_fd(), &links::dump_request(1), &to_kernel())?;
    let mut buf = vec![0u8; RECV_BUF];
    let mut out = Vec::new();
    loop {
        let n = recv(fd.as_raw_fd(), &mut buf)?.unwrap_or(0);
        for m in links::parse(&buf[..n]).map_err(io::Error::other)? {
            match m {
                Message::New(l) => out.push(l),
                Message::Done => return Ok(out),
                Message::Error(e) => return Err(io::Error::from_raw_os_error(e)),
                Message::Del { .. } => {}
            }
        }
    }
}

/// A socket in the RTNLGRP_LINK group: every change of an interface
/// (up, down, a new MAC, created, deleted) arrives as a message.
pub struct LinkMonitor {
    fd: OwnedFd,
    buf: Vec<u8>,
}

impl LinkMonitor {
    /// Joins the group. Dump afterwards ([`dump`]), so that no change
    /// falls between the dump and the first event.
    pub fn open() -> io::Result<Self> {
        let fd = netlink_socket(libc::NETLINK_ROUTE, libc::SOCK_NONBLOCK, RTMGRP_LINK)?;
        // (a burst of changes, a thousand containers starting, should not
        // overrun it; an overrun only costs a dump)
        let _ = sock::setopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            &(1i32 << 20),
        );
        Ok(Self {
            fd,
            buf: vec![0u8; RECV_BUF],
        })
    }

    /// Its descriptor, for poll.
    pub fn raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// The messages waiting, in order, read until none is left (the
    /// daemon's poll is edge-triggered). An error means events were lost
    /// (the kernel dropped some: ENOBUFS) or could not be read: the caller
    /// takes a new [`dump`].
    pub fn read(&mut self) -> (Vec<Message>, Option<io::Error>) {
        read_all(self.fd.as_raw_fd(), &mut self.buf, links::parse)
    }
}

/// What a netlink event socket holds, read until none is left, each
/// datagram through `parse`: the messages, and the last error if events
/// were lost (ENOBUFS), cut short or unparsable (the caller then looks
/// again at what the events would have said), or the socket failed.
pub fn read_all<T, E: std::fmt::Display>(
    fd: RawFd,
    buf: &mut [u8],
    parse: impl Fn(&[u8]) -> Result<Vec<T>, E>,
) -> (Vec<T>, Option<io::Error>) {
    let mut out = Vec::new();
    let mut err = None;
    loop {
        match recv(fd, buf) {
            Ok(Some(n)) => match parse(&buf[..n]) {
                Ok(m) => out.extend(m),
                Err(e) => err = Some(io::Error::other(e.to_string())),
            },
            Ok(None) => return (out, err),
            // (events lost, or one cut short: note it, read on)
            Err(e)
                if e.raw_os_error() == Some(libc::ENOBUFS)
                    || e.kind() == io::ErrorKind::InvalidData =>
            {
                err = Some(e)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return (out, Some(e)),
        }
    }
}

/// The interface's first IPv4 address that is not one of `exclude` (the
/// virtual addresses): its primary address, the source of adverts.
pub fn primary_v4(name: &str, exclude: &[IpAddr]) -> io::Result<Ipv4Addr> {
    let mut ifap: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `ifap` with a list freed below.
    if unsafe { libc::getifaddrs(&mut ifap) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let mut found = None;
    let mut p = ifap;
    while !p.is_null() {
        // SAFETY: `p` walks the list getifaddrs returned.
        let ifa = unsafe { &*p };
        p = ifa.ifa_next;
        // SAFETY: ifa_name is a NUL-terminated string.
        let n = unsafe { std::ffi::CStr::from_ptr(ifa.ifa_name) };
        if ifa.ifa_addr.is_null() || n.to_bytes() != name.as_bytes() {
            continue;
        }
        // SAFETY: non-null; the family says which sockaddr it is.
        if unsafe { (*ifa.ifa_addr).sa_family } as i32 != libc::AF_INET {
            continue;
        }
        // SAFETY: an AF_INET address is a sockaddr_in.
        let sin = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_in) };
        let a = Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr));
        if !exclude.contains(&IpAddr::V4(a)) {
            found = Some(a);
            break;
        }
    }
    // SAFETY: from getifaddrs above.
    unsafe { libc::freeifaddrs(ifap) };
    found.ok_or_else(|| io::Error::other(format!("{name} has no IPv4 address")))
}

/// The interface's IPv6 link-local address: the source of VRRPv3 adverts
/// over IPv6 (RFC 5798 section 5.1.2.1).
pub fn link_local_v6(name: &str) -> io::Result<Ipv6Addr> {
    let text = std::fs::read_to_string("/proc/net/if_inet6")?;
    for line in text.lines() {
        // address ifindex prefixlen scope flags name
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() == 6 && f[5] == name && f[3] == "20" {
            let mut b = [0u8; 16];
            for (i, byte) in b.iter_mut().enumerate() {
                *byte = u8::from_str_radix(&f[0][2 * i..2 * i + 2], 16)
                    .map_err(|_| io::Error::other("bad if_inet6"))?;
            }
            return Ok(Ipv6Addr::from(b));
        }
    }
    Err(io::Error::other(format!(
        "{name} has no IPv6 link-local address"
    )))
}

// rtnetlink, by hand: an ifaddrmsg and two attributes are all it takes.
const RTM_NEWADDR: u16 = 20;
const RTM_DELADDR: u16 = 21;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_ACK: u16 = 4;
const NLM_F_EXCL: u16 = 0x200;
const NLM_F_CREATE: u16 = 0x400;
const NLMSG_ERROR: u16 = 2;

/// Appends a netlink attribute (length, type, data, padding to 4 bytes).
pub(crate) fn attr(buf: &mut Vec<u8>, kind: u16, data: &[u8]) {
    buf.extend_from_slice(&((4 + data.len()) as u16).to_ne_bytes());
    buf.extend_from_slice(&kind.to_ne_bytes());
    buf.extend_from_slice(data);
    while !buf.len().is_multiple_of(4) {
        buf.push(0);
    }
}

/// The RTM_NEWADDR / RTM_DELADDR request for `addr/prefix` on `ifindex`.
fn addr_request(add: bool, ifindex: u32, addr: IpAddr, prefix: u8, seq: u32) -> Vec<u8> {
    let (family, bytes) = match addr {
        IpAddr::V4(a) => (libc::AF_INET as u8, a.octets().to_vec()),
        IpAddr::V6(a) => (libc::AF_INET6 as u8, a.octets().to_vec()),
    };
    // IPv6 VIPs skip duplicate address detection (IFA_F_NODAD): the VIP
    // moved here on purpose and must answer at once.
    let flags = if addr.is_ipv6() { 0x02 } else { 0 };
    let mut body = vec![family, prefix, flags, 0 /* scope: global */];
    body.extend_from_slice(&ifindex.to_ne_bytes());
    attr(&mut body, IFA_LOCAL, &bytes);
    attr(&mut body, IFA_ADDRESS, &bytes);
    let (kind, flags) = if add {
        (
            RTM_NEWADDR,
            NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
        )
    } else {
        (RTM_DELADDR, NLM_F_REQUEST | NLM_F_ACK)
    };
    let mut msg = Vec::with_capacity(16 + body.len());
    msg.extend_from_slice(&((16 + body.len()) as u32).to_ne_bytes());
    msg.extend_from_slice(&kind.to_ne_bytes());
    msg.extend_from_slice(&flags.to_ne_bytes());
    msg.extend_from_slice(&seq.to_ne_bytes());
    msg.extend_from_slice(&0u32.to_ne_bytes());
    msg.extend_from_slice(&body);
    msg
}

/// Sends one rtnetlink request and reads its acknowledgement: the errno
/// the kernel answered (0: done).
fn request(msg: &[u8]) -> io::Result<i32> {
    let fd = sock::socket(libc::AF_NETLINK, libc::SOCK_RAW, libc::NETLINK_ROUTE)?;
    sock::send_to(fd.as_raw_fd(), msg, &to_kernel())?;
    let mut buf = [0u8; 4096];
    // SAFETY: `buf` is valid for its length.
    let n = unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
    if n < 20 {
        return Err(io::Error::other("no answer from rtnetlink"));
    }
    let kind = u16::from_ne_bytes([buf[4], buf[5]]);
    let err = i32::from_ne_bytes([buf[16], buf[17], buf[18], buf[19]]);
    Ok(if kind == NLMSG_ERROR { -err } else { 0 })
}

/// Adds (`add`) or removes a virtual address. Adding one already there,
/// or removing one that is gone, is not an error.
pub fn set_address(add: bool, ifindex: u32, addr: IpAddr, prefix: u8) -> io::Result<()> {
    let e = request(&addr_request(add, ifindex, addr, prefix, 1))?;
    // (removing from an interface that is gone: its addresses went too)
    let benign = e == 0
        || (add && e == libc::EEXIST)
        || (!add && (e == libc::EADDRNOTAVAIL || e == libc::ENODEV));
    if !benign {
        return Err(io::Error::from_raw_os_error(e));
    }
    Ok(())
}

/// Whether this process may add addresses in its network namespace
/// (CAP_NET_ADMIN over it), found out without changing anything: an
/// RTM_NEWADDR with no address passes the kernel's permission check and
/// is then refused as invalid (EINVAL); without the privilege it is
/// refused first (EPERM).
pub fn may_change_addresses(v6: bool) -> io::Result<()> {
    let mut m = addr_request(true, 0, IpAddr::V4(Ipv4Addr::UNSPECIFIED), 32, 1);
    m.truncate(16 + 8); // the ifaddrmsg alone
    m[0..4].copy_from_slice(&24u32.to_ne_bytes());
    if v6 {
        m[16] = libc::AF_INET6 as u8;
        m[17] = 128;
    }
    match request(&m)? {
        libc::EPERM => Err(io::Error::from_raw_os_error(libc::EPERM)),
        _ => Ok(()),
    }
}

/// Whether IPv6 is disabled on `name` (its addresses would be refused).
pub fn ipv6_disabled(name: &str) -> bool {
    std::fs::read_to_string(format!("/proc/sys/net/ipv6/conf/{name}/disable_ipv6"))
        .is_ok_and(|s| s.trim() == "1")
}

/// An io::Error without its "(os error N)": "Operation not permitted".
pub fn describe(e: &io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// Makes the VIPs known on the link: a gratuitous ARP for each IPv4
/// address, an unsolicited neighbour advertisement for each IPv6 one.
/// Refuses the all-zero MAC: no frame is announced from it.
pub fn announce(ifindex: u32, mac: [u8; 6], vips: &[IpAddr]) -> io::Result<()> {
    if mac == [0; 6] {
        return Err(io::Error::other("the interface has no MAC address"));
    }
    let (mut v4, mut v6) = (Vec::new(), Vec::new());
    for vip in vips {
        match *vip {
            IpAddr::V4(a) => v4.push(a),
            IpAddr::V6(a) => v6.push(a),
        }
    }
    if !v4.is_empty() {
        send_garp(ifindex, mac, &v4)?;
    }
    if !v6.is_empty() {
        send_unsolicited_na(ifindex, mac, &v6)?;
    }
    Ok(())
}

/// A gratuitous ARP for `vip` from `mac` (an ARP request whose sender and
/// target address are both the VIP, broadcast), as keepalived sends.
pub fn garp_frame(mac: [u8; 6], vip: Ipv4Addr) -> [u8; 28] {
    let mut f = [0u8; 28];
    f[0..2].copy_from_slice(&1u16.to_be_bytes()); // Ethernet
    f[2..4].copy_from_slice(&0x0800u16.to_be_bytes()); // IPv4
    f[4] = 6;
    f[5] = 4;
    f[6..8].copy_from_slice(&1u16.to_be_bytes()); // request
    f[8..14].copy_from_slice(&mac);
    f[14..18].copy_from_slice(&vip.octets());
    f[18..24].copy_from_slice(&[0xff; 6]);
    f[24..28].copy_from_slice(&vip.octets());
    f
}

/// Sends one gratuitous ARP per address in `vips` out of `ifindex`; the
/// last error, if any, after trying them all.
pub fn send_garp(ifindex: u32, mac: [u8; 6], vips: &[Ipv4Addr]) -> io::Result<()> {
    const ETH_P_ARP: u16 = 0x0806;
    // One socket for every GARP, kept open: closing a packet socket waits
    // for an RCU grace period (packet_release's synchronize_net), which
    // took 10 ms per GARP on a busy host, so a burst of five held the
    // event loop for 50 ms, longer than a 10 ms advert pair's
    // Master_Down_Interval. Protocol 0: it sends only (the frame's
    // protocol is in the address) and receives nothing.
    static GARP_SOCKET: std::sync::Mutex<Option<OwnedFd>> = std::sync::Mutex::new(None);
    let mut cached = GARP_SOCKET.lock().unwrap_or_else(|e| e.into_inner());
    if cached.is_none() {
        *cached = Some(sock::socket(
            libc::AF_PACKET,
            libc::SOCK_DGRAM | libc::SOCK_NONBLOCK,
            0,
        )?);
    }
    let fd = cached.as_ref().expect("just opened");
    // SAFETY: an all-zero sockaddr_ll is valid; the fields are set below.
    let mut sa: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    sa.sll_family = libc::AF_PACKET as u16;
    sa.sll_protocol = ETH_P_ARP.to_be();
    sa.sll_ifindex = ifindex as i32;
    sa.sll_halen = 6;
    sa.sll_addr[..6].copy_from_slice(&[0xff; 6]);
    let mut result = Ok(());
    for v in vips {
        if let Err(e) = sock::send_to(fd.as_raw_fd(), &garp_frame(mac, *v), &sa) {
            result = Err(e);
        }
    }
    result
}

/// An unsolicited neighbour advertisement for `vip` from `mac` (ICMPv6
/// type 136, Router and Override set, with the target link-layer address option).
pub fn unsolicited_na(mac: [u8; 6], vip: Ipv6Addr) -> [u8; 32] {
    let mut m = [0u8; 32];
    m[0] = 136;
    // Router (RFC 5798 6.4.1: the master is a router) and Override
    m[4] = 0x80 | 0x20;
    m[8..24].copy_from_slice(&vip.octets());
    m[24] = 2; // target link-layer address
    m[25] = 1; // in units of 8 octets
    m[26..32].copy_from_slice(&mac);
    m
}

/// Sends one unsolicited NA per address in `vips` to all nodes (ff02::1)
/// out of `ifindex`, hop limit 255; the kernel fills in the checksum. The
/// last error, if any, after trying them all.
pub fn send_unsolicited_na(ifindex: u32, mac: [u8; 6], vips: &[Ipv6Addr]) -> io::Result<()> {
    let fd = sock::socket(libc::AF_INET6, libc::SOCK_RAW, libc::IPPROTO_ICMPV6)?;
    let _ = sock::setopt(
        fd.as_raw_fd(),
        libc::IPPROTO_IPV6,
        libc::IPV6_MULTICAST_HOPS,
        &255i32,
    );
    let _ = sock::setopt(
        fd.as_raw_fd(),
        libc::IPPROTO_IPV6,
        libc::IPV6_MULTICAST_IF,
        &(ifindex as i32),
    );
    // SAFETY: an all-zero sockaddr_in6 is valid; the fields are set below.
    let mut sa: libc::sockaddr_in6 = unsafe { std::mem::zeroed() };
    sa.sin6_family = libc::AF_INET6 as u16;
    sa.sin6_addr.s6_addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1).octets();
    sa.sin6_scope_id = ifindex;
    let mut result = Ok(());
    for v in vips {
        if let Err(e) = sock::send_to(fd.as_raw_fd(), &unsolicited_na(mac, *v), &sa) {
            result = Err(e);
        }
    }
    result
}

/// Every address `name` has (IPv4 and IPv6), as getifaddrs lists them.
pub fn addresses(name: &str) -> io::Result<Vec<IpAddr>> {
    let mut ifap: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `ifap` with a list freed below.
    if unsafe { libc::getifaddrs(&mut ifap) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let mut out = vec![];
    let mut p = ifap;
    while !p.is_null() {
        // SAFETY: `p` walks the list getifaddrs returned.
        let ifa = unsafe { &*p };
        p = ifa.ifa_next;
        // SAFETY: ifa_name is a NUL-terminated string.
        let n = unsafe { std::ffi::CStr::from_ptr(ifa.ifa_name) };
        if ifa.ifa_addr.is_null() || n.to_bytes() != name.as_bytes() {
            continue;
        }
        // SAFETY: non-null; the family says which sockaddr it is.
        match unsafe { (*ifa.ifa_addr).sa_family } as i32 {
            libc::AF_INET => {
                // SAFETY: an AF_INET address is a sockaddr_in.
                let sin = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_in) };
                out.push(IpAddr::V4(Ipv4Addr::from(u32::from_be(
                    sin.sin_addr.s_addr,
                ))));
            }
            libc::AF_INET6 => {
                // SAFETY: an AF_INET6 address is a sockaddr_in6.
                let sin6 = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_in6) };
                out.push(IpAddr::V6(Ipv6Addr::from(sin6.sin6_addr.s6_addr)));
            }
            _ => {}
        }
    }
    // SAFETY: from getifaddrs above.
    unsafe { libc::freeifaddrs(ifap) };
    Ok(out)
}

// ---- the virtual MAC's macvlan (use_vmac) ----

const RTM_NEWLINK: u16 = 16;
const RTM_DELLINK: u16 = 17;
const IFLA_ADDRESS: u16 = 1;
const IFLA_IFNAME: u16 = 3;
const IFLA_LINK: u16 = 5;
const IFLA_LINKINFO: u16 = 18;
const IFLA_AF_SPEC: u16 = 26;
const IFLA_INFO_KIND: u16 = 1;
const IFLA_INFO_DATA: u16 = 2;
const IFLA_MACVLAN_MODE: u16 = 1;
/// MACVLAN_MODE_PRIVATE: no frames between macvlans of one interface, as
/// keepalived makes its VMACs.
const MACVLAN_MODE_PRIVATE: u32 = 1;
const IFLA_INET_CONF: u16 = 1;
const IFLA_INET6_ADDR_GEN_MODE: u16 = 8;
const IN6_ADDR_GEN_MODE_NONE: u8 = 1;
const NLA_F_NESTED: u16 = 0x8000;
const IFF_UP: u32 = 1;

/// IPv4 per-interface settings (IPV4_DEVCONF_*), set over rtnetlink
/// (IFLA_INET_CONF): /proc/sys may be read-only for vrrpd (the unit's
/// ProtectKernelTunables).
pub const DEVCONF_RP_FILTER: u16 = 8;
/// arp_filter.
pub const DEVCONF_ARP_FILTER: u16 = 13;
/// arp_announce.
pub const DEVCONF_ARP_ANNOUNCE: u16 = 18;
/// arp_ignore.
pub const DEVCONF_ARP_IGNORE: u16 = 19;
/// accept_local.
pub const DEVCONF_ACCEPT_LOCAL: u16 = 23;

/// VRRP's virtual MAC for `vrid`: 00-00-5E-00-01-{VRID}, or for IPv6
/// 00-00-5E-00-02-{VRID} (RFC 5798 section 7.3).
pub fn virtual_mac(vrid: u8, v6: bool) -> [u8; 6] {
    [0, 0, 0x5e, 0, if v6 { 2 } else { 1 }, vrid]
}

/// A netlink message of `kind` with `flags` around `body`.
fn nl_message(kind: u16, flags: u16, body: &[u8]) -> Vec<u8> {
    let mut msg = Vec::with_capacity(16 + body.len());
    msg.extend_from_slice(&((16 + body.len()) as u32).to_ne_bytes());
    msg.extend_from_slice(&kind.to_ne_bytes());
    msg.extend_from_slice(&flags.to_ne_bytes());
    msg.extend_from_slice(&1u32.to_ne_bytes());
    msg.extend_from_slice(&0u32.to_ne_bytes());
    msg.extend_from_slice(body);
    msg
}

/// A `struct ifinfomsg`: family unspecified, `index`, flags and the mask
/// of those to change.
fn ifinfomsg(index: u32, flags: u32, change: u32) -> Vec<u8> {
    let mut b = vec![0u8, 0, 0, 0];
    b.extend_from_slice(&index.to_ne_bytes());
    b.extend_from_slice(&flags.to_ne_bytes());
    b.extend_from_slice(&change.to_ne_bytes());
    b
}

/// A nested attribute holding `inner`'s attributes.
fn nested(buf: &mut Vec<u8>, kind: u16, inner: &[u8]) {
    attr(buf, kind | NLA_F_NESTED, inner);
}

fn name_bytes(name: &str) -> Vec<u8> {
    let mut b = name.as_bytes().to_vec();
    b.push(0);
    b
}

/// RTM_NEWLINK creating macvlan `name` (down) on `parent` with `mac`, in
/// private mode.
pub fn macvlan_request(name: &str, parent: u32, mac: [u8; 6]) -> Vec<u8> {
    let mut body = ifinfomsg(0, 0, 0);
    attr(&mut body, IFLA_IFNAME, &name_bytes(name));
    attr(&mut body, IFLA_LINK, &parent.to_ne_bytes());
    attr(&mut body, IFLA_ADDRESS, &mac);
    let mut data = vec![];
    attr(
        &mut data,
        IFLA_MACVLAN_MODE,
        &MACVLAN_MODE_PRIVATE.to_ne_bytes(),
    );
    let mut info = vec![];
    attr(&mut info, IFLA_INFO_KIND, b"macvlan\0");
    nested(&mut info, IFLA_INFO_DATA, &data);
    nested(&mut body, IFLA_LINKINFO, &info);
    nl_message(
        RTM_NEWLINK,
        NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
        &body,
    )
}

/// RTM_NEWLINK setting IPv4 settings (`(DEVCONF_*, value)`) of `index`
/// and, with `no_v6_addrs`, its IPv6 address generation to none.
pub fn devconf_request(index: u32, conf: &[(u16, u32)], no_v6_addrs: bool) -> Vec<u8> {
    let mut body = ifinfomsg(index, 0, 0);
    let mut inet = vec![];
    for (k, v) in conf {
        attr(&mut inet, *k, &v.to_ne_bytes());
    }
    let mut v4 = vec![];
    nested(&mut v4, IFLA_INET_CONF, &inet);
    let mut spec = vec![];
    if !conf.is_empty() {
        nested(&mut spec, libc::AF_INET as u16, &v4);
    }
    if no_v6_addrs {
        let mut v6 = vec![];
        attr(&mut v6, IFLA_INET6_ADDR_GEN_MODE, &[IN6_ADDR_GEN_MODE_NONE]);
        nested(&mut spec, libc::AF_INET6 as u16, &v6);
    }
    nested(&mut body, IFLA_AF_SPEC, &spec);
    nl_message(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, &body)
}

fn done(e: i32) -> io::Result<()> {
    if e == 0 {
        Ok(())
    } else {
        Err(io::Error::from_raw_os_error(e))
    }
}

/// Creates macvlan `name` on `parent` with `mac`, down.
pub fn add_macvlan(name: &str, parent: u32, mac: [u8; 6]) -> io::Result<()> {
    done(request(&macvlan_request(name, parent, mac))?)
}

/// Sets IPv4 settings of interface `index` (and IPv6 address generation
/// off, with `no_v6_addrs`).
pub fn set_devconf(index: u32, conf: &[(u16, u32)], no_v6_addrs: bool) -> io::Result<()> {
    done(request(&devconf_request(index, conf, no_v6_addrs))?)
}

/// Brings interface `index` up or down.
pub fn set_up(index: u32, up: bool) -> io::Result<()> {
    let body = ifinfomsg(index, if up { IFF_UP } else { 0 }, IFF_UP);
    done(request(&nl_message(
        RTM_NEWLINK,
        NLM_F_REQUEST | NLM_F_ACK,
        &body,
    ))?)
}

/// Deletes interface `index`; one already gone is no error.
pub fn delete_link(index: u32) -> io::Result<()> {
    let body = ifinfomsg(index, 0, 0);
    match request(&nl_message(RTM_DELLINK, NLM_F_REQUEST | NLM_F_ACK, &body))? {
        0 | libc::ENODEV => Ok(()),
        e => Err(io::Error::from_raw_os_error(e)),
    }
}

/// The index of interface `name`.
pub fn index_of(name: &str) -> io::Result<u32> {
    let c = std::ffi::CString::new(name).map_err(io::Error::other)?;
    // SAFETY: a NUL-terminated name.
    match unsafe { libc::if_nametoindex(c.as_ptr()) } {
        0 => Err(io::Error::last_os_error()),
        i => Ok(i),
    }
}

/// An IPv4 per-interface setting as /proc/sys shows it (reading is
/// allowed where writing is not).
pub fn read_devconf(ifname: &str, key: &str) -> Option<u32> {
    std::fs::read_to_string(format!("/proc/sys/net/ipv4/conf/{ifname}/{key}"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_is_announced_from_the_zero_mac() {
        let e = announce(1, [0; 6], &["198.51.100.10".parse().unwrap()]).unwrap_err();
        assert!(e.to_string().contains("no MAC address"), "{e}");
    }

    /// As root (CI, make test), the probe passes for both families and
    /// adds nothing (the request carries no address). Without
    /// CAP_NET_ADMIN it fails: qemu-tests/host/vrrp-failsafe.sh.
    #[test]
    fn root_may_change_addresses() {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return;
        }
        may_change_addresses(false).unwrap();
        may_change_addresses(true).unwrap();
    }

    #[test]
    fn describe_drops_the_errno() {
        let e = io::Error::from_raw_os_error(libc::EPERM);
        assert_eq!(describe(&e), "Operation not permitted");
        assert_eq!(describe(&io::Error::other("x (y)")), "x (y)");
    }

    #[test]
    fn garp_is_a_request_for_the_vip_from_the_vip() {
        let f = garp_frame([2, 0, 0, 0, 0, 1], Ipv4Addr::new(198, 51, 100, 10));
        assert_eq!(&f[..8], &[0, 1, 8, 0, 6, 4, 0, 1]);
        assert_eq!(&f[8..14], &[2, 0, 0, 0, 0, 1]);
        assert_eq!(&f[14..18], &[198, 51, 100, 10]);
        assert_eq!(&f[24..28], &[198, 51, 100, 10]);
    }

    #[test]
    fn unsolicited_na_overrides_with_our_mac() {
        let m = unsolicited_na([2, 0, 0, 0, 0, 1], "2001:db8::10".parse().unwrap());
        assert_eq!((m[0], m[4]), (136, 0xa0), "Router and Override");
        assert_eq!(
            &m[8..24],
            &"2001:db8::10".parse::<Ipv6Addr>().unwrap().octets()
        );
        assert_eq!(&m[24..32], &[2, 1, 2, 0, 0, 0, 0, 1]);
    }

    #[test]
    fn virtual_macs_per_rfc_5798() {
        assert_eq!(virtual_mac(51, false), [0, 0, 0x5e, 0, 1, 51]);
        assert_eq!(virtual_mac(255, true), [0, 0, 0x5e, 0, 2, 255]);
    }

    /// The attributes at the top level of `b` (type without flags, data).
    fn attrs(mut b: &[u8]) -> Vec<(u16, Vec<u8>)> {
        let mut out = vec![];
        while b.len() >= 4 {
            let len = usize::from(u16::from_ne_bytes([b[0], b[1]]));
            let kind = u16::from_ne_bytes([b[2], b[3]]) & 0x3fff;
            out.push((kind, b[4..len].to_vec()));
            b = &b[len.next_multiple_of(4).min(b.len())..];
        }
        out
    }

    #[test]
    fn a_macvlan_request_is_private_mode_with_the_vmac() {
        let m = macvlan_request("vrrp.51", 7, virtual_mac(51, false));
        assert_eq!(
            u32::from_ne_bytes(m[0..4].try_into().unwrap()) as usize,
            m.len()
        );
        assert_eq!(u16::from_ne_bytes([m[4], m[5]]), RTM_NEWLINK);
        let top = attrs(&m[32..]);
        assert_eq!(top[0], (IFLA_IFNAME, b"vrrp.51\0".to_vec()));
        assert_eq!(top[1], (IFLA_LINK, 7u32.to_ne_bytes().to_vec()));
        assert_eq!(top[2], (IFLA_ADDRESS, vec![0, 0, 0x5e, 0, 1, 51]));
        assert_eq!(top[3].0, IFLA_LINKINFO);
        let info = attrs(&top[3].1);
        assert_eq!(info[0], (IFLA_INFO_KIND, b"macvlan\0".to_vec()));
        let data = attrs(&info[1].1);
        assert_eq!(data, [(IFLA_MACVLAN_MODE, 1u32.to_ne_bytes().to_vec())]);
    }

    #[test]
    fn a_devconf_request_nests_inet_conf() {
        let m = devconf_request(9, &[(DEVCONF_ARP_IGNORE, 1)], true);
        assert_eq!(u32::from_ne_bytes(m[20..24].try_into().unwrap()), 9);
        let top = attrs(&m[32..]);
        assert_eq!(top[0].0, IFLA_AF_SPEC);
        let spec = attrs(&top[0].1);
        assert_eq!(spec[0].0, libc::AF_INET as u16);
        let conf = attrs(&attrs(&spec[0].1)[0].1);
        assert_eq!(conf, [(19, 1u32.to_ne_bytes().to_vec())]);
        assert_eq!(spec[1].0, libc::AF_INET6 as u16);
        assert_eq!(attrs(&spec[1].1), [(IFLA_INET6_ADDR_GEN_MODE, vec![1])]);
    }

    #[test]
    fn address_requests_are_well_formed() {
        let m = addr_request(true, 7, "198.51.100.10".parse().unwrap(), 32, 9);
        assert_eq!(
            u32::from_ne_bytes(m[0..4].try_into().unwrap()) as usize,
            m.len()
        );
        assert_eq!(u16::from_ne_bytes([m[4], m[5]]), RTM_NEWADDR);
        assert_eq!(&m[16..20], &[libc::AF_INET as u8, 32, 0, 0]);
        assert_eq!(u32::from_ne_bytes(m[20..24].try_into().unwrap()), 7);
        assert_eq!(m.len(), 16 + 8 + 8 + 8);
        let d = addr_request(false, 7, "2001:db8::10".parse().unwrap(), 128, 9);
        assert_eq!(u16::from_ne_bytes([d[4], d[5]]), RTM_DELADDR);
        assert_eq!(d[18], 0x02, "IPv6 VIPs skip DAD");
        assert_eq!(d.len(), 16 + 8 + 20 + 20);
    }
}
