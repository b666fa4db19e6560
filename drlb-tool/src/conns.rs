//! `drlb-tool conns`, `conn del`, `flow` and `timeouts`: the connection
//! table, as `ipvsadm -Lnc` and `ipvsadm --set` show it, plus the flow
//! query ipvsadm never had.

use crate::addr;
use crate::netlink::{Attr, Attrs, Client};
use anyhow::{bail, Result};
use drlb_core::conn_policy::valid_timeout;
use drlb_core::proto::{self, attr, cmd};
use drlb_core::tcp_state::TcpState;
use serde::Serialize;
use std::net::SocketAddr;

/// One connection entry.
#[derive(Serialize, Debug, PartialEq)]
pub struct Conn {
    pub protocol: &'static str,
    pub client: String,
    pub client_port: u16,
    pub vip: String,
    pub port: u16,
    pub real: String,
    /// The TCP state as ipvsadm names it; "UDP" for UDP, "NONE" for a
    /// persistence template.
    pub state: &'static str,
    pub expires_ms: u32,
    /// A persistence template (client-IP affinity), not a flow.
    pub template: bool,
}

/// The filter attributes of `conns` and `conn del`.
pub fn filter(
    service: Option<&[String]>,
    client: Option<&str>,
    real: Option<&str>,
) -> Result<Vec<Attr>> {
    let mut a = vec![];
    let mut family: Option<bool> = None;
    if let Some(s) = service {
        let [p, vip] = s else {
            bail!("--service takes PROTO VIP:PORT")
        };
        let (vip, key) = addr::service_key(p, vip)?;
        family = Some(vip.is_ipv4());
        a = key;
    }
    for (what, kind, v) in [
        ("client", attr::CLIENT, client),
        ("real server", attr::REAL, real),
    ] {
        if let Some(v) = v {
            let ip: std::net::IpAddr = v
                .parse()
                .map_err(|_| anyhow::anyhow!("bad {what} address '{v}'"))?;
            if family.is_some_and(|f| f != ip.is_ipv4()) {
                bail!("{what} {ip} and the service are not the same address family");
            }
            a.push(Attr::bytes(kind, addr::bytes(ip)));
        }
    }
    Ok(a)
}

fn parse(a: &[Attr]) -> Option<Conn> {
    let proto = a.u8(attr::PROTO)?;
    let template = a.u32(attr::FLAGS).unwrap_or(0) & proto::CONN_F_TEMPLATE != 0;
    let state = match (proto, template) {
        (_, true) => "NONE",
        (6, _) => TcpState::from_u8(a.u8(attr::CONN_STATE)?)?.name(),
        _ => "UDP",
    };
    Some(Conn {
        protocol: addr::proto_name(proto),
        client: addr::from_bytes(a.raw(attr::CLIENT)?)?.to_string(),
        client_port: a.u16(attr::CLIENT_PORT)?,
        vip: addr::from_bytes(a.raw(attr::VIP)?)?.to_string(),
        port: a.u16(attr::PORT)?,
        real: addr::from_bytes(a.raw(attr::REAL)?)?.to_string(),
        state,
        expires_ms: a.u32(attr::EXPIRES_MS).unwrap_or(0),
        template,
    })
}

fn endpoint(ip: &str, port: u16) -> String {
    ip.parse()
        .map(|ip| addr::with_port(ip, port))
        .unwrap_or_else(|_| format!("{ip}:{port}"))
}

/// `mm:ss`, as ipvsadm shows expiry.
pub fn mmss(ms: u32) -> String {
    let s = ms.div_ceil(1000);
    format!("{:02}:{:02}", s / 60, s % 60)
}

/// The table's lines, like `ipvsadm -Lnc`.
pub fn format(conns: &[Conn]) -> String {
    let mut out = format!(
        "{:<4} {:<6} {:<12} {:<40} {:<40} {}\n",
        "pro", "expire", "state", "source", "virtual", "destination"
    );
    for c in conns {
        out += &format!(
            "{:<4} {:<6} {:<12} {:<40} {:<40} {}\n",
            c.protocol.to_uppercase(),
            mmss(c.expires_ms),
            c.state,
            endpoint(&c.client, c.client_port),
            endpoint(&c.vip, c.port),
            endpoint(&c.real, c.port)
        );
    }
    out
}

pub fn conns(nl: &mut Client, filter: Vec<Attr>, json: bool) -> Result<()> {
    let conns: Vec<Conn> = nl
        .request(cmd::CONN_GET, filter, true)?
        .iter()
        .filter_map(|a| parse(a))
        .collect();
    if json {
        println!("{}", serde_json::to_string(&conns)?);
    } else {
        print!("{}", format(&conns));
    }
    Ok(())
}

/// The attributes of a flow query: `tcp CLIENT:PORT VIP:PORT`.
pub fn flow_attrs(proto: &str, client: &str, vip: &str, midflow: bool) -> Result<Vec<Attr>> {
    let c: SocketAddr = client
        .parse()
        .map_err(|_| anyhow::anyhow!("bad client '{client}' (want IP:PORT, or [IPv6]:PORT)"))?;
    let (v, mut a) = addr::service_key(proto, vip)?;
    if c.is_ipv4() != v.is_ipv4() {
        bail!("client {c} and service {v} are not the same address family");
    }
    if midflow && proto != "tcp" {
        bail!("--midflow is for TCP");
    }
    a.push(Attr::bytes(attr::CLIENT, addr::bytes(c.ip())));
    a.push(Attr::u16(attr::CLIENT_PORT, c.port()));
    if midflow {
        a.push(Attr::u32(attr::FLAGS, proto::QUERY_F_MIDFLOW));
    }
    Ok(a)
}

pub fn flow(nl: &mut Client, attrs: Vec<Attr>, json: bool) -> Result<()> {
    let r = nl.request(cmd::FLOW_QUERY, attrs, false)?;
    let a = r.first().map(Vec::as_slice).unwrap_or_default();
    let real = a
        .raw(attr::REAL)
        .and_then(addr::from_bytes)
        .map(|ip| ip.to_string())
        .unwrap_or_default();
    let reason = a.u8(attr::REASON).unwrap_or(0);
    let mac = a.raw(attr::MAC).map(|m| {
        m.iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":")
    });
    if json {
        let v = serde_json::json!({
            "real": real, "reason": proto::reason_name(reason), "mac": mac,
            "weight": a.u32(attr::WEIGHT),
        });
        println!("{v}");
    } else {
        println!(
            "{real} ({}){}",
            proto::reason_name(reason),
            mac.map(|m| format!(" via {m}")).unwrap_or_default()
        );
    }
    Ok(())
}

/// The timeouts, and the attribute each option sets.
pub const TIMEOUTS: [(&str, u16); 5] = [
    ("tcp", attr::TIMEOUT_TCP),
    ("tcpfin", attr::TIMEOUT_TCP_FIN),
    ("udp", attr::TIMEOUT_UDP),
    ("tcpsyn", attr::TIMEOUT_TCP_SYN),
    ("tcpclose", attr::TIMEOUT_TCP_CLOSE),
];

/// A `--state NAME=SECS` option: a TCP state by its ipvsadm name (any
/// case) and its timeout.
pub fn state_timeout(s: &str) -> std::result::Result<(TcpState, u32), String> {
    let (name, secs) = s
        .split_once('=')
        .ok_or_else(|| format!("'{s}': want STATE=SECONDS"))?;
    let st = TcpState::ALL
        .iter()
        .find(|t| t.name().eq_ignore_ascii_case(name))
        .ok_or_else(|| {
            let names: Vec<_> = TcpState::ALL.iter().map(|t| t.name()).collect();
            format!("unknown TCP state '{name}' ({})", names.join(", "))
        })?;
    let secs: u32 = secs
        .parse()
        .map_err(|_| format!("'{secs}' is not a number of seconds"))?;
    Ok((*st, secs))
}

/// The attributes of `timeouts --tcp S ... --state NAME=S ...`, checked.
pub fn timeout_attrs(values: [Option<u32>; 5], states: &[(TcpState, u32)]) -> Result<Vec<Attr>> {
    let mut a = vec![];
    let mut nest = vec![];
    for (st, v) in states {
        if !valid_timeout(*v) {
            bail!(
                "--state {}: must be 1..{} seconds",
                st.name(),
                drlb_core::conn_policy::MAX_TIMEOUT_S
            );
        }
        nest.push(Attr::u32(proto::timeout_state_attr(st.as_u8()), *v));
    }
    if !nest.is_empty() {
        a.push(Attr::nest(attr::TIMEOUT_STATES, &nest));
    }
    for ((name, kind), v) in TIMEOUTS.iter().zip(values) {
        if let Some(v) = v {
            if !valid_timeout(v) {
                bail!(
                    "--{name} must be 1..{} seconds",
                    drlb_core::conn_policy::MAX_TIMEOUT_S
                );
            }
            a.push(Attr::u32(*kind, v));
        }
    }
    Ok(a)
}

pub fn print_timeouts(nl: &mut Client, json: bool) -> Result<()> {
    let r = nl.request(cmd::TIMEOUTS_GET, vec![], false)?;
    let a = r.first().map(Vec::as_slice).unwrap_or_default();
    let per_state = a.nested(attr::TIMEOUT_STATES);
    let states: Vec<(&str, u32)> = TcpState::ALL
        .iter()
        .filter_map(|st| {
            Some((
                st.name(),
                per_state.u32(proto::timeout_state_attr(st.as_u8()))?,
            ))
        })
        .collect();
    if json {
        let mut m: serde_json::Map<_, _> = TIMEOUTS
            .iter()
            .map(|(n, k)| (n.to_string(), serde_json::json!(a.u32(*k))))
            .collect();
        let s: serde_json::Map<_, _> = states
            .iter()
            .map(|(n, v)| (n.to_string(), serde_json::json!(v)))
            .collect();
        m.insert("tcp_states".into(), serde_json::Value::Object(s));
        println!("{}", serde_json::Value::Object(m));
        return Ok(());
    }
    // ipvsadm -L --timeout's line first, then every TCP state.
    let t = |k| a.u32(k).unwrap_or(0);
    println!(
        "Timeout (tcp tcpfin udp): {} {} {}",
        t(attr::TIMEOUT_TCP),
        t(attr::TIMEOUT_TCP_FIN),
        t(attr::TIMEOUT_UDP)
    );
    for (name, v) in states {
        println!("  {name:<12} {v}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn_attrs(proto: u8, state: u8, flags: u32) -> Vec<Attr> {
        vec![
            Attr::u8(attr::PROTO, proto),
            Attr::bytes(attr::VIP, vec![198, 51, 100, 10]),
            Attr::u16(attr::PORT, 80),
            Attr::bytes(attr::CLIENT, vec![198, 51, 100, 2]),
            Attr::u16(attr::CLIENT_PORT, 40000),
            Attr::bytes(attr::REAL, vec![198, 51, 100, 21]),
            Attr::u8(attr::CONN_STATE, state),
            Attr::u32(attr::EXPIRES_MS, 899_500),
            Attr::u32(attr::FLAGS, flags),
        ]
    }

    #[test]
    fn connections_print_like_ipvsadm() {
        let c = parse(&conn_attrs(6, TcpState::Established.as_u8(), 0)).unwrap();
        assert_eq!(c.state, "ESTABLISHED");
        assert!(!c.template);
        let text = format(&[c]);
        let line = text.lines().nth(1).unwrap();
        let words: Vec<_> = line.split_whitespace().collect();
        assert_eq!(
            words,
            [
                "TCP",
                "15:00",
                "ESTABLISHED",
                "198.51.100.2:40000",
                "198.51.100.10:80",
                "198.51.100.21:80"
            ]
        );
        assert_eq!(parse(&conn_attrs(17, 0, 0)).unwrap().state, "UDP");
        let t = parse(&conn_attrs(6, 0, proto::CONN_F_TEMPLATE)).unwrap();
        assert!(t.template && t.state == "NONE");
        assert_eq!(mmss(0), "00:00");
        assert_eq!(mmss(61_001), "01:02");
    }

    #[test]
    fn filters_are_checked_before_sending() {
        let svc = ["tcp".to_string(), "198.51.100.10:80".to_string()];
        assert_eq!(
            filter(Some(&svc), Some("198.51.100.2"), None)
                .unwrap()
                .len(),
            4
        );
        assert!(filter(Some(&svc), Some("2001:db8::2"), None)
            .unwrap_err()
            .to_string()
            .contains("address family"));
        assert!(filter(None, Some("nonsense"), None).is_err());
        assert!(filter(
            Some(&["sctp".into(), "198.51.100.10:80".into()]),
            None,
            None
        )
        .is_err());
        assert!(filter(None, None, None).unwrap().is_empty());
    }

    #[test]
    fn flow_queries_are_checked() {
        assert_eq!(
            flow_attrs("tcp", "198.51.100.2:4000", "198.51.100.10:80", false)
                .unwrap()
                .len(),
            5
        );
        assert!(flow_attrs("tcp", "198.51.100.2", "198.51.100.10:80", false).is_err());
        assert!(flow_attrs("tcp", "[2001:db8::2]:4000", "198.51.100.10:80", false).is_err());
        assert!(flow_attrs("udp", "198.51.100.2:4000", "198.51.100.10:80", true).is_err());
        assert_eq!(
            flow_attrs("tcp", "198.51.100.2:4000", "198.51.100.10:80", true)
                .unwrap()
                .len(),
            6
        );
    }

    #[test]
    fn timeouts_are_checked() {
        assert_eq!(
            timeout_attrs([Some(900), None, Some(300), None, None], &[])
                .unwrap()
                .len(),
            2
        );
        assert!(timeout_attrs([Some(0), None, None, None, None], &[]).is_err());
        assert!(timeout_attrs([None, None, None, None, Some(u32::MAX)], &[]).is_err());
        assert_eq!(state_timeout("time_wait=60"), Ok((TcpState::TimeWait, 60)));
        assert!(state_timeout("TIME_WAIT").is_err());
        assert!(state_timeout("bogus=1")
            .unwrap_err()
            .contains("unknown TCP state"));
        let a = timeout_attrs(
            [None; 5],
            &[(TcpState::TimeWait, 60), (TcpState::LastAck, 5)],
        )
        .unwrap();
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].kind, attr::TIMEOUT_STATES | 1 << 15);
        assert_eq!(a[0].value.len(), 16);
        assert!(timeout_attrs([None; 5], &[(TcpState::TimeWait, 0)]).is_err());
    }
}
