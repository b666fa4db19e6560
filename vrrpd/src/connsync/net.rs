//! The sync socket: UDP on `[sync] port`, bound to `interface`
//! (SO_BINDTODEVICE); without peers, joined to the IPv4 multicast group
//! there (TTL 1, loop off). With an IPv6 peer it is a dual-stack IPv6
//! socket, and IPv4 peers are reached through their mapped addresses.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;

fn setsockopt<T>(s: &impl AsRawFd, level: i32, name: i32, v: &T) -> io::Result<()> {
    // SAFETY: `v` is a live value of the size passed.
    let r = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            level,
            name,
            (v as *const T).cast(),
            std::mem::size_of::<T>() as u32,
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Binds `s` to interface `name` (nothing for an empty name).
pub fn bind_to_device(s: &impl AsRawFd, name: &str) -> io::Result<()> {
    if name.is_empty() {
        return Ok(());
    }
    // SAFETY: the name's bytes, its length.
    let r = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_BINDTODEVICE,
            name.as_ptr().cast(),
            name.len() as u32,
        )
    };
    if r < 0 {
        let e = io::Error::last_os_error();
        return Err(io::Error::new(e.kind(), format!("binding to {name}: {e}")));
    }
    Ok(())
}

fn ifindex(name: &str) -> io::Result<i32> {
    let c = std::ffi::CString::new(name).map_err(io::Error::other)?;
    // SAFETY: a NUL-terminated name.
    match unsafe { libc::if_nametoindex(c.as_ptr()) } {
        0 => Err(io::Error::other(format!("no interface {name}"))),
        i => Ok(i as i32),
    }
}

/// The sync socket and where "the peers" are.
pub struct SyncSocket {
    pub sock: UdpSocket,
    v6: bool,
    /// The unicast peers' addresses, or the group's.
    dests: Vec<SocketAddr>,
}

impl SyncSocket {
    /// Opens it, non-blocking.
    pub fn open(interface: &str, peers: &[IpAddr], port: u16, group: Ipv4Addr) -> io::Result<Self> {
        let v6 = peers.iter().any(IpAddr::is_ipv6);
        let any: IpAddr = if v6 {
            Ipv6Addr::UNSPECIFIED.into()
        } else {
            Ipv4Addr::UNSPECIFIED.into()
        };
        let sock = UdpSocket::bind((any, port))
            .map_err(|e| io::Error::new(e.kind(), format!("binding UDP port {port}: {e}")))?;
        bind_to_device(&sock, interface)?;
        sock.set_nonblocking(true)?;
        // (a pull's answer comes in a burst: room for it; as root the
        // limit does not apply)
        let size: i32 = 4 << 20;
        if setsockopt(&sock, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, &size).is_err() {
            let _ = setsockopt(&sock, libc::SOL_SOCKET, libc::SO_RCVBUF, &size);
        }
        let dests = if peers.is_empty() {
            let mreq = libc::ip_mreqn {
                imr_multiaddr: libc::in_addr {
                    s_addr: u32::from(group).to_be(),
                },
                imr_address: libc::in_addr { s_addr: 0 },
                imr_ifindex: ifindex(interface)?,
            };
            setsockopt(&sock, libc::IPPROTO_IP, libc::IP_ADD_MEMBERSHIP, &mreq).map_err(|e| {
                io::Error::new(e.kind(), format!("joining {group} on {interface}: {e}"))
            })?;
            setsockopt(&sock, libc::IPPROTO_IP, libc::IP_MULTICAST_IF, &mreq)?;
            setsockopt(&sock, libc::IPPROTO_IP, libc::IP_MULTICAST_TTL, &1i32)?;
            setsockopt(&sock, libc::IPPROTO_IP, libc::IP_MULTICAST_LOOP, &0i32)?;
            vec![SocketAddr::new(group.into(), port)]
        } else {
            peers.iter().map(|p| SocketAddr::new(*p, port)).collect()
        };
        Ok(SyncSocket { sock, v6, dests })
    }

    /// Sends "to the peers" at `port` instead (tests on loopback).
    #[cfg(test)]
    pub fn retarget(&mut self, port: u16) {
        for d in &mut self.dests {
            d.set_port(port);
        }
    }

    fn to_family(&self, a: SocketAddr) -> SocketAddr {
        match (self.v6, a.ip()) {
            (true, IpAddr::V4(v4)) => SocketAddr::new(v4.to_ipv6_mapped().into(), a.port()),
            _ => a,
        }
    }

    /// Sends `b` to `to`; a full buffer or an unreachable peer is an
    /// error to count, not to stop for.
    pub fn send_to(&self, b: &[u8], to: SocketAddr) -> io::Result<()> {
        self.sock.send_to(b, self.to_family(to)).map(|_| ())
    }

    /// Sends `b` to every peer (or the group); the last error, if any.
    pub fn send_peers(&self, b: &[u8]) -> io::Result<()> {
        let mut r = Ok(());
        for d in &self.dests {
            if let Err(e) = self.send_to(b, *d) {
                r = Err(e);
            }
        }
        r
    }

    /// The next datagram, if one waits.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<Option<(usize, SocketAddr)>> {
        match self.sock.recv_from(buf) {
            Ok(r) => Ok(Some(r)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// A socket for answering one pull: an ephemeral port on `interface`,
/// of `to`'s family, blocking.
pub fn answer_socket(interface: &str, to: SocketAddr) -> io::Result<UdpSocket> {
    let any: IpAddr = if to.is_ipv6() {
        Ipv6Addr::UNSPECIFIED.into()
    } else {
        Ipv4Addr::UNSPECIFIED.into()
    };
    let s = UdpSocket::bind((any, 0))?;
    bind_to_device(&s, interface)?;
    Ok(s)
}
