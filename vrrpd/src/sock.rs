//! The VRRP socket edge (IPv4): a raw IP-protocol-112 socket bound to the
//! interface, joined to 224.0.0.18, that sends with TTL 255 from the
//! interface's primary address and hands back each received packet with
//! its TTL, source and destination.

use crate::packet::{IPPROTO_VRRP, MCAST_V4};
use std::io;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// A received VRRP packet.
pub struct Received {
    /// The IP TTL.
    pub ttl: u8,
    /// The IP source.
    pub src: Ipv4Addr,
    /// The IP destination (224.0.0.18 or our unicast address).
    pub dst: Ipv4Addr,
    /// The VRRP message (the IP payload).
    pub payload: Vec<u8>,
}

/// One interface's VRRP socket.
pub struct VrrpSocket {
    fd: OwnedFd,
    ifindex: u32,
}

fn check(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

fn setopt<T>(fd: RawFd, level: libc::c_int, name: libc::c_int, v: &T) -> io::Result<()> {
    // SAFETY: `v` is a valid value of the option's type and size.
    check(unsafe {
        libc::setsockopt(fd, level, name, (v as *const T).cast(), std::mem::size_of::<T>() as libc::socklen_t)
    })
    .map(drop)
}

impl VrrpSocket {
    /// Opens the socket on interface `ifname` (index `ifindex`); adverts
    /// go out from `src`.
    pub fn open(ifname: &str, ifindex: u32, src: Ipv4Addr) -> io::Result<Self> {
        // SAFETY: socket() has no memory-safety preconditions.
        let raw = check(unsafe {
            libc::socket(libc::AF_INET, libc::SOCK_RAW | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK, i32::from(IPPROTO_VRRP))
        })?;
        // SAFETY: `raw` is a fresh descriptor we own.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let name = ifname.as_bytes();
        // SAFETY: the name bytes are valid for their length.
        check(unsafe {
            libc::setsockopt(raw, libc::SOL_SOCKET, libc::SO_BINDTODEVICE, name.as_ptr().cast(), name.len() as u32)
        })?;
        let mreq = libc::ip_mreqn {
            imr_multiaddr: libc::in_addr { s_addr: u32::from(MCAST_V4).to_be() },
            imr_address: libc::in_addr { s_addr: 0 },
            imr_ifindex: ifindex as i32,
        };
        setopt(raw, libc::IPPROTO_IP, libc::IP_ADD_MEMBERSHIP, &mreq)?;
        let out = libc::ip_mreqn {
            imr_multiaddr: libc::in_addr { s_addr: 0 },
            imr_address: libc::in_addr { s_addr: u32::from(src).to_be() },
            imr_ifindex: ifindex as i32,
        };
        setopt(raw, libc::IPPROTO_IP, libc::IP_MULTICAST_IF, &out)?;
        setopt(raw, libc::IPPROTO_IP, libc::IP_MULTICAST_TTL, &255i32)?;
        setopt(raw, libc::IPPROTO_IP, libc::IP_TTL, &255i32)?;
        setopt(raw, libc::IPPROTO_IP, libc::IP_MULTICAST_LOOP, &0i32)?;
        Ok(Self { fd, ifindex })
    }

    /// The descriptor, for poll.
    pub fn raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Sends `payload` to `dst` (224.0.0.18 or a unicast peer) from `src`.
    pub fn send(&self, src: Ipv4Addr, dst: Ipv4Addr, payload: &[u8]) -> io::Result<()> {
        // The source goes in IP_PKTINFO, so it stays the primary address
        // even once the VIPs sit on the same interface.
        let sa = libc::sockaddr_in {
            sin_family: libc::AF_INET as u16,
            sin_port: 0,
            sin_addr: libc::in_addr { s_addr: u32::from(dst).to_be() },
            sin_zero: [0; 8],
        };
        let mut iov = libc::iovec { iov_base: payload.as_ptr() as *mut _, iov_len: payload.len() };
        let mut cbuf = [0u8; 64];
        // SAFETY: building a msghdr over live buffers; CMSG macros stay
        // within `cbuf`, sized for one in_pktinfo.
        unsafe {
            let mut msg: libc::msghdr = std::mem::zeroed();
            msg.msg_name = (&sa as *const libc::sockaddr_in) as *mut _;
            msg.msg_namelen = std::mem::size_of::<libc::sockaddr_in>() as u32;
            msg.msg_iov = &mut iov;
            msg.msg_iovlen = 1;
            msg.msg_control = cbuf.as_mut_ptr().cast();
            msg.msg_controllen = libc::CMSG_SPACE(std::mem::size_of::<libc::in_pktinfo>() as u32) as usize;
            let c = libc::CMSG_FIRSTHDR(&msg);
            (*c).cmsg_level = libc::IPPROTO_IP;
            (*c).cmsg_type = libc::IP_PKTINFO;
            (*c).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<libc::in_pktinfo>() as u32) as usize;
            let info = libc::in_pktinfo {
                ipi_ifindex: self.ifindex as i32,
                ipi_spec_dst: libc::in_addr { s_addr: u32::from(src).to_be() },
                ipi_addr: libc::in_addr { s_addr: 0 },
            };
            std::ptr::write_unaligned(libc::CMSG_DATA(c).cast::<libc::in_pktinfo>(), info);
            check(libc::sendmsg(self.fd.as_raw_fd(), &msg, 0) as libc::c_int)?;
        }
        Ok(())
    }

    /// The next packet, if one is waiting. A raw IPv4 socket delivers the
    /// IP header too: TTL, addresses and the payload come from it.
    pub fn recv(&self) -> io::Result<Option<Received>> {
        let mut buf = [0u8; 2048];
        // SAFETY: `buf` is valid for its length.
        let n = unsafe { libc::recv(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n < 0 {
            let e = io::Error::last_os_error();
            return if e.kind() == io::ErrorKind::WouldBlock { Ok(None) } else { Err(e) };
        }
        Ok(parse_ipv4(&buf[..n as usize]))
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
        src: Ipv4Addr::new(p[12], p[13], p[14], p[15]),
        dst: Ipv4Addr::new(p[16], p[17], p[18], p[19]),
        payload: p[ihl..total].to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_headers_are_split() {
        let mut p = vec![0x45, 0, 0, 28, 0, 0, 0, 0, 255, 112, 0, 0, 10, 0, 0, 1, 224, 0, 0, 18];
        p.extend_from_slice(&[0x31, 51, 100, 1, 0, 100, 0, 0]);
        let r = parse_ipv4(&p).unwrap();
        assert_eq!((r.ttl, r.src, r.dst), (255, Ipv4Addr::new(10, 0, 0, 1), MCAST_V4));
        assert_eq!(r.payload, [0x31, 51, 100, 1, 0, 100, 0, 0]);
        assert!(parse_ipv4(&p[..10]).is_none());
        p[0] = 0x65;
        assert!(parse_ipv4(&p).is_none());
    }
}
