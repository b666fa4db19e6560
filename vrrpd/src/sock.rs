//! The VRRP socket edge: a raw IP-protocol-112 socket bound to the
//! interface, joined to 224.0.0.18 (IPv4) or ff02::12 (IPv6), that sends
//! with TTL / hop limit 255 from the address we choose (the primary IPv4
//! address, or the IPv6 link-local one) and hands back each received packet
//! with its TTL, source and destination.

use crate::packet::{IPPROTO_VRRP, MCAST_V4, MCAST_V6};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// A received VRRP packet.
pub struct Received {
    /// The IP TTL or hop limit.
    pub ttl: u8,
    /// The IP source.
    pub src: IpAddr,
    /// The IP destination (the VRRP group or our unicast address).
    pub dst: IpAddr,
    /// The VRRP message (the IP payload).
    pub payload: Vec<u8>,
}

/// One interface's VRRP socket.
pub struct VrrpSocket {
    fd: OwnedFd,
    ifindex: u32,
    v6: bool,
}

fn check(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// A new socket, closed on drop.
pub(crate) fn socket(
    domain: libc::c_int,
    ty: libc::c_int,
    proto: libc::c_int,
) -> io::Result<OwnedFd> {
    // SAFETY: socket() has no memory-safety preconditions.
    let raw = check(unsafe { libc::socket(domain, ty | libc::SOCK_CLOEXEC, proto) })?;
    // SAFETY: `raw` is a fresh descriptor nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

/// Sends `buf` to `sa`, a `sockaddr_*` of the socket's family.
pub(crate) fn send_to<A>(fd: RawFd, buf: &[u8], sa: &A) -> io::Result<()> {
    // SAFETY: `buf` and `sa` are valid for the lengths given.
    let r = unsafe {
        libc::sendto(
            fd,
            buf.as_ptr().cast(),
            buf.len(),
            0,
            (sa as *const A).cast(),
            std::mem::size_of::<A>() as libc::socklen_t,
        )
    };
    check(r as libc::c_int).map(drop)
}

/// `sendmsg` of `payload` to `sa` with one control message (`level`,
/// `kind`, `info`): how adverts pick their source address.
fn send_with_cmsg<A, I>(
    fd: RawFd,
    sa: &A,
    payload: &[u8],
    level: libc::c_int,
    kind: libc::c_int,
    info: I,
) -> io::Result<()> {
    let mut iov = libc::iovec {
        iov_base: payload.as_ptr() as *mut _,
        iov_len: payload.len(),
    };
    let mut cbuf = [0u64; 8];
    assert!(
        std::mem::size_of::<I>() <= 32,
        "control message too large for cbuf"
    );
    // SAFETY: a msghdr over live buffers; the CMSG macros stay within
    // `cbuf` (64 bytes; one header plus at most 32 bytes of `info`).
    unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_name = (sa as *const A) as *mut _;
        msg.msg_namelen = std::mem::size_of::<A>() as u32;
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = cbuf.as_mut_ptr().cast();
        msg.msg_controllen = libc::CMSG_SPACE(std::mem::size_of::<I>() as u32) as usize;
        let c = libc::CMSG_FIRSTHDR(&msg);
        (*c).cmsg_level = level;
        (*c).cmsg_type = kind;
        (*c).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<I>() as u32) as usize;
        std::ptr::write_unaligned(libc::CMSG_DATA(c).cast::<I>(), info);
        check(libc::sendmsg(fd, &msg, 0) as libc::c_int).map(drop)
    }
}

pub(crate) fn setopt<T>(fd: RawFd, level: libc::c_int, name: libc::c_int, v: &T) -> io::Result<()> {
    // SAFETY: `v` is a valid value of the option's type and size.
    check(unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (v as *const T).cast(),
            std::mem::size_of::<T>() as libc::socklen_t,
        )
    })
    .map(drop)
}

impl VrrpSocket {
    /// Opens the socket on interface `ifname` (index `ifindex`) for the
    /// family of `src`, the address adverts go out from.
    pub fn open(ifname: &str, ifindex: u32, src: IpAddr) -> io::Result<Self> {
        Self::open_inner(ifname, ifindex, src, true)
    }

    /// A socket that only sends, out of `ifname` (a VMAC's macvlan, so
    /// that adverts leave from the virtual MAC): it joins no group and
    /// drops whatever would reach it (a filter that accepts nothing), as
    /// the interface's own socket receives.
    pub fn open_tx(ifname: &str, ifindex: u32, src: IpAddr) -> io::Result<Self> {
        let s = Self::open_inner(ifname, ifindex, src, false)?;
        let mut drop_all = [libc::sock_filter {
            code: 0x06, // BPF_RET | BPF_K: accept 0 bytes
            jt: 0,
            jf: 0,
            k: 0,
        }];
        let prog = libc::sock_fprog {
            len: 1,
            filter: drop_all.as_mut_ptr(),
        };
        setopt(
            s.fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_ATTACH_FILTER,
            &prog,
        )?;
        Ok(s)
    }

    fn open_inner(ifname: &str, ifindex: u32, src: IpAddr, join: bool) -> io::Result<Self> {
        let v6 = src.is_ipv6();
        let family = if v6 { libc::AF_INET6 } else { libc::AF_INET };
        let fd = socket(
            family,
            libc::SOCK_RAW | libc::SOCK_NONBLOCK,
            i32::from(IPPROTO_VRRP),
        )?;
        let raw = fd.as_raw_fd();
        let name = ifname.as_bytes();
        // SAFETY: the name bytes are valid for their length.
        check(unsafe {
            libc::setsockopt(
                raw,
                libc::SOL_SOCKET,
                libc::SO_BINDTODEVICE,
                name.as_ptr().cast(),
                name.len() as u32,
            )
        })?;
        match src {
            IpAddr::V4(src) => {
                let mreq = libc::ip_mreqn {
                    imr_multiaddr: libc::in_addr {
                        s_addr: u32::from(MCAST_V4).to_be(),
                    },
                    imr_address: libc::in_addr { s_addr: 0 },
                    imr_ifindex: ifindex as i32,
                };
                if join {
                    setopt(raw, libc::IPPROTO_IP, libc::IP_ADD_MEMBERSHIP, &mreq)?;
                }
                let out = libc::ip_mreqn {
                    imr_multiaddr: libc::in_addr { s_addr: 0 },
                    imr_address: libc::in_addr {
                        s_addr: u32::from(src).to_be(),
                    },
                    imr_ifindex: ifindex as i32,
                };
                setopt(raw, libc::IPPROTO_IP, libc::IP_MULTICAST_IF, &out)?;
                setopt(raw, libc::IPPROTO_IP, libc::IP_MULTICAST_TTL, &255i32)?;
                setopt(raw, libc::IPPROTO_IP, libc::IP_TTL, &255i32)?;
                setopt(raw, libc::IPPROTO_IP, libc::IP_MULTICAST_LOOP, &0i32)?;
            }
            IpAddr::V6(_) => {
                let mreq = libc::ipv6_mreq {
                    ipv6mr_multiaddr: libc::in6_addr {
                        s6_addr: MCAST_V6.octets(),
                    },
                    ipv6mr_interface: ifindex,
                };
                if join {
                    setopt(raw, libc::IPPROTO_IPV6, libc::IPV6_ADD_MEMBERSHIP, &mreq)?;
                }
                setopt(
                    raw,
                    libc::IPPROTO_IPV6,
                    libc::IPV6_MULTICAST_IF,
                    &(ifindex as i32),
                )?;
                setopt(raw, libc::IPPROTO_IPV6, libc::IPV6_MULTICAST_HOPS, &255i32)?;
                setopt(raw, libc::IPPROTO_IPV6, libc::IPV6_UNICAST_HOPS, &255i32)?;
                setopt(raw, libc::IPPROTO_IPV6, libc::IPV6_MULTICAST_LOOP, &0i32)?;
                setopt(raw, libc::IPPROTO_IPV6, libc::IPV6_RECVHOPLIMIT, &1i32)?;
                setopt(raw, libc::IPPROTO_IPV6, libc::IPV6_RECVPKTINFO, &1i32)?;
            }
        }
        Ok(Self { fd, ifindex, v6 })
    }

    /// The descriptor, for poll.
    pub fn raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Sends `payload` to `dst` (the group or a unicast peer) from `src`.
    /// The source goes in the packet-info control message, so it stays
    /// ours even once the VIPs sit on the same interface.
    pub fn send(&self, src: IpAddr, dst: IpAddr, payload: &[u8]) -> io::Result<()> {
        let fd = self.fd.as_raw_fd();
        match (src, dst) {
            (IpAddr::V4(src), IpAddr::V4(dst)) => {
                let sa = libc::sockaddr_in {
                    sin_family: libc::AF_INET as u16,
                    sin_port: 0,
                    sin_addr: libc::in_addr {
                        s_addr: u32::from(dst).to_be(),
                    },
                    sin_zero: [0; 8],
                };
                let info = libc::in_pktinfo {
                    ipi_ifindex: self.ifindex as i32,
                    ipi_spec_dst: libc::in_addr {
                        s_addr: u32::from(src).to_be(),
                    },
                    ipi_addr: libc::in_addr { s_addr: 0 },
                };
                send_with_cmsg(fd, &sa, payload, libc::IPPROTO_IP, libc::IP_PKTINFO, info)
            }
            (IpAddr::V6(src), IpAddr::V6(dst)) => {
                let sa = libc::sockaddr_in6 {
                    sin6_family: libc::AF_INET6 as u16,
                    sin6_port: 0,
                    sin6_flowinfo: 0,
                    sin6_addr: libc::in6_addr {
                        s6_addr: dst.octets(),
                    },
                    sin6_scope_id: self.ifindex,
                };
                let info = libc::in6_pktinfo {
                    ipi6_addr: libc::in6_addr {
                        s6_addr: src.octets(),
                    },
                    ipi6_ifindex: self.ifindex,
                };
                send_with_cmsg(
                    fd,
                    &sa,
                    payload,
                    libc::IPPROTO_IPV6,
                    libc::IPV6_PKTINFO,
                    info,
                )
            }
            _ => Err(io::Error::other("source and destination families differ")),
        }
    }

    /// The next packet, if one is waiting. A raw IPv4 socket delivers the
    /// IP header too; IPv6 gives the hop limit and destination in control
    /// messages.
    pub fn recv(&self) -> io::Result<Option<Received>> {
        let mut buf = [0u8; 2048];
        let mut cbuf = [0u64; 16];
        // SAFETY: storage for any socket address.
        let mut from: libc::sockaddr_in6 = unsafe { std::mem::zeroed() };
        let mut iov = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        // SAFETY: a msghdr over live buffers; recvmsg fills them within
        // their lengths; CMSG walking stays within msg_controllen.
        unsafe {
            let mut msg: libc::msghdr = std::mem::zeroed();
            msg.msg_name = (&mut from as *mut libc::sockaddr_in6).cast();
            msg.msg_namelen = std::mem::size_of::<libc::sockaddr_in6>() as u32;
            msg.msg_iov = &mut iov;
            msg.msg_iovlen = 1;
            msg.msg_control = cbuf.as_mut_ptr().cast();
            msg.msg_controllen = std::mem::size_of_val(&cbuf);
            let n = libc::recvmsg(self.fd.as_raw_fd(), &mut msg, 0);
            if n < 0 {
                let e = io::Error::last_os_error();
                return if e.kind() == io::ErrorKind::WouldBlock {
                    Ok(None)
                } else {
                    Err(e)
                };
            }
            if !self.v6 {
                return Ok(parse_ipv4(&buf[..n as usize]));
            }
            let (mut ttl, mut dst) = (0u8, Ipv6Addr::UNSPECIFIED);
            let mut c = libc::CMSG_FIRSTHDR(&msg);
            while !c.is_null() {
                if (*c).cmsg_level == libc::IPPROTO_IPV6 && (*c).cmsg_type == libc::IPV6_HOPLIMIT {
                    ttl = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast::<i32>()) as u8;
                } else if (*c).cmsg_level == libc::IPPROTO_IPV6
                    && (*c).cmsg_type == libc::IPV6_PKTINFO
                {
                    let info =
                        std::ptr::read_unaligned(libc::CMSG_DATA(c).cast::<libc::in6_pktinfo>());
                    dst = Ipv6Addr::from(info.ipi6_addr.s6_addr);
                }
                c = libc::CMSG_NXTHDR(&msg, c);
            }
            Ok(Some(Received {
                ttl,
                src: IpAddr::V6(Ipv6Addr::from(from.sin6_addr.s6_addr)),
                dst: IpAddr::V6(dst),
                payload: buf[..n as usize].to_vec(),
            }))
        }
    }
}

/// Splits an IPv4 packet into what the receive checks need.
pub fn parse_ipv4(p: &[u8]) -> Option<Received> {
    if p.len() < 20 || p[0] >> 4 != 4 {
        return None;
    }
    let ihl = usize::from(p[0] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([p[2], p[3]])).min(p.len());
    if ihl < 20 || total < ihl {
        return None;
    }
    Some(Received {
        ttl: p[8],
        src: IpAddr::V4(Ipv4Addr::new(p[12], p[13], p[14], p[15])),
        dst: IpAddr::V4(Ipv4Addr::new(p[16], p[17], p[18], p[19])),
        payload: p[ihl..total].to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_headers_are_split() {
        let mut p = vec![
            0x45, 0, 0, 28, 0, 0, 0, 0, 255, 112, 0, 0, 10, 0, 0, 1, 224, 0, 0, 18,
        ];
        p.extend_from_slice(&[0x31, 51, 100, 1, 0, 100, 0, 0]);
        let r = parse_ipv4(&p).unwrap();
        assert_eq!(
            (r.ttl, r.src, r.dst),
            (
                255,
                IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
                IpAddr::V4(MCAST_V4)
            )
        );
        assert_eq!(r.payload, [0x31, 51, 100, 1, 0, 100, 0, 0]);
        assert!(parse_ipv4(&p[..10]).is_none());
        p[0] = 0x65;
        assert!(parse_ipv4(&p).is_none());
    }
}
