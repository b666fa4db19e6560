//! Parsing what operators type: protocols, `VIP:PORT` (IPv6 as
//! `[addr]:port`) and real-server addresses, rejected with a clear message
//! before anything is sent.

use crate::netlink::Attr;
use anyhow::{anyhow, bail, Result};
use drlb_core::proto::attr;
use std::net::{IpAddr, SocketAddr};

/// IPPROTO_TCP or IPPROTO_UDP from "tcp" / "udp".
pub fn proto(s: &str) -> Result<u8> {
    match s {
        "tcp" => Ok(6),
        "udp" => Ok(17),
        _ => bail!("unknown protocol '{s}' (tcp or udp)"),
    }
}

/// The protocol's name.
pub fn proto_name(p: u8) -> &'static str {
    match p {
        6 => "tcp",
        17 => "udp",
        _ => "?",
    }
}

/// A service address: `198.51.100.10:80` or `[2001:db8::10]:80`.
pub fn service(s: &str) -> Result<SocketAddr> {
    let a: SocketAddr = s
        .parse()
        .map_err(|_| anyhow!("bad service address '{s}' (want IP:PORT, or [IPv6]:PORT)"))?;
    if a.port() == 0 {
        bail!("bad service address '{s}': port 0");
    }
    if a.ip().is_unspecified() || a.ip().is_multicast() {
        bail!("bad service address '{s}': not a unicast address");
    }
    Ok(a)
}

/// The service a command names (`tcp`, `VIP:PORT`): its address and the
/// PROTO, VIP and PORT attributes that name it to the module.
pub fn service_key(proto_name: &str, addr: &str) -> Result<(SocketAddr, Vec<Attr>)> {
    let p = proto(proto_name)?;
    let a = service(addr)?;
    Ok((
        a,
        vec![
            Attr::u8(attr::PROTO, p),
            Attr::bytes(attr::VIP, bytes(a.ip())),
            Attr::u16(attr::PORT, a.port()),
        ],
    ))
}

/// A real server's address, the same family as the service's.
pub fn real(s: &str, vip: &SocketAddr) -> Result<IpAddr> {
    let ip: IpAddr = s
        .parse()
        .map_err(|_| anyhow!("bad real server address '{s}'"))?;
    if ip.is_ipv4() != vip.is_ipv4() {
        bail!("real server {s} and service {vip} are not the same address family");
    }
    if ip.is_unspecified() || ip.is_multicast() {
        bail!("bad real server address '{s}': not a unicast address");
    }
    Ok(ip)
}

/// Network-order bytes of an address.
pub fn bytes(ip: IpAddr) -> Vec<u8> {
    match ip {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    }
}

/// An address from 4 or 16 bytes.
pub fn from_bytes(b: &[u8]) -> Option<IpAddr> {
    match b.len() {
        4 => Some(IpAddr::from(<[u8; 4]>::try_from(b).ok()?)),
        16 => Some(IpAddr::from(<[u8; 16]>::try_from(b).ok()?)),
        _ => None,
    }
}

/// `ip:port`, with brackets for IPv6.
pub fn with_port(ip: IpAddr, port: u16) -> String {
    SocketAddr::new(ip, port).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_addresses() {
        assert_eq!(service("198.51.100.10:80").unwrap().port(), 80);
        assert!(service("[2001:db8::10]:443").unwrap().is_ipv6());
        assert!(service("198.51.100.10").is_err());
        assert!(service("198.51.100.10:0")
            .unwrap_err()
            .to_string()
            .contains("port 0"));
        assert!(service("198.51.100.300:80").is_err());
        assert!(service("2001:db8::10:80").is_err());
        assert!(service("0.0.0.0:80").is_err());
    }

    #[test]
    fn real_servers_match_the_service_family() {
        let v4 = service("198.51.100.10:80").unwrap();
        let v6 = service("[2001:db8::10]:80").unwrap();
        assert!(real("198.51.100.21", &v4).is_ok());
        assert!(real("2001:db8::21", &v4)
            .unwrap_err()
            .to_string()
            .contains("same address family"));
        assert!(real("198.51.100.21", &v6).is_err());
        assert!(real("nonsense", &v4).is_err());
    }

    #[test]
    fn protocols() {
        assert_eq!(proto("tcp").unwrap(), 6);
        assert_eq!(proto("udp").unwrap(), 17);
        assert!(proto("sctp").is_err());
        assert_eq!(
            with_port("2001:db8::1".parse().unwrap(), 80),
            "[2001:db8::1]:80"
        );
    }
}
