//! `drlb-tool list`: services and real servers with their counters, as a
//! table like `ipvsadm -Ln` or as JSON.

use crate::addr;
use crate::config::State;
use crate::netlink::{Attr, Attrs, Client};
use anyhow::Result;
use drlb_core::proto::{self, attr, cmd, stats, REAL_RESOLVED, SVC_F_MH_PORT};
use serde::Serialize;

#[derive(Serialize)]
pub struct Stats {
    pub conns: u64,
    pub active: u32,
    pub inactive: u32,
    pub packets: u64,
    pub bytes: u64,
    pub cps: u64,
    pub pps: u64,
    pub bps: u64,
}

#[derive(Serialize)]
pub struct Real {
    pub address: String,
    pub weight: u32,
    pub resolved: bool,
    pub mac: Option<String>,
    pub ifindex: Option<u32>,
    /// Why an unresolved real server is (None while resolved), e.g.
    /// "not on-link (via 198.51.100.30)".
    pub reason: Option<String>,
    /// The gateway of a real server that is not on-link.
    pub gateway: Option<String>,
    pub stats: Stats,
}

#[derive(Serialize)]
pub struct Service {
    pub protocol: &'static str,
    pub address: String,
    pub port: u16,
    pub scheduler: String,
    pub persistence: u32,
    pub seed: u32,
    pub mh_port: bool,
    /// The service's own switch (standby: it forwards nothing).
    pub state: State,
    pub stats: Stats,
    pub reals: Vec<Real>,
}

fn stats(a: &[Attr]) -> Stats {
    let s = a.nested(attr::STATS);
    Stats {
        conns: s.u64(stats::CONNS).unwrap_or(0),
        active: s.u32(stats::ACTIVE).unwrap_or(0),
        inactive: s.u32(stats::INACTIVE).unwrap_or(0),
        packets: s.u64(stats::PACKETS).unwrap_or(0),
        bytes: s.u64(stats::BYTES).unwrap_or(0),
        cps: s.u64(stats::CPS).unwrap_or(0),
        pps: s.u64(stats::PPS).unwrap_or(0),
        bps: s.u64(stats::BPS).unwrap_or(0),
    }
}

/// Why a real server is unresolved, in words: the module's reason (none
/// from a module that predates it), with the gateway when there is one.
pub fn reason(code: Option<u8>, gateway: Option<&str>) -> String {
    let Some(code) = code else {
        return "unresolved".into();
    };
    let name = proto::unresolved_name(code);
    match gateway {
        Some(g) => format!("{name} (via {g})"),
        None => name.into(),
    }
}

/// Reads the whole configuration with its counters.
pub fn read(nl: &mut Client) -> Result<Vec<Service>> {
    read_some(nl, None)
}

/// Reads one service (its PROTO, VIP and PORT attributes given), or all.
pub fn read_some(nl: &mut Client, only: Option<Vec<Attr>>) -> Result<Vec<Service>> {
    let mut out = vec![];
    let services = match only {
        Some(key) => nl.request(cmd::SERVICE_GET, key, false)?,
        None => nl.request(cmd::SERVICE_GET, vec![], true)?,
    };
    for s in services {
        let key: Vec<Attr> = s
            .iter()
            .filter(|a| [attr::PROTO, attr::VIP, attr::PORT].contains(&a.kind))
            .cloned()
            .collect();
        let ip = s.raw(attr::VIP).and_then(addr::from_bytes);
        let Some(ip) = ip else { continue };
        let port = s.u16(attr::PORT).unwrap_or(0);
        let mut reals = vec![];
        for r in nl.request(cmd::REAL_GET, key, true)? {
            let rip = r.raw(attr::REAL).and_then(addr::from_bytes);
            let Some(rip) = rip else { continue };
            let resolved = r.u8(attr::REAL_STATE) == Some(REAL_RESOLVED);
            let gateway = r
                .raw(attr::REAL_GATEWAY)
                .and_then(addr::from_bytes)
                .map(|g| g.to_string());
            reals.push(Real {
                address: rip.to_string(),
                weight: r.u32(attr::WEIGHT).unwrap_or(0),
                resolved,
                reason: (!resolved).then(|| reason(r.u8(attr::REAL_REASON), gateway.as_deref())),
                mac: r.raw(attr::MAC).map(|m| {
                    m.iter()
                        .map(|b| format!("{b:02x}"))
                        .collect::<Vec<_>>()
                        .join(":")
                }),
                ifindex: r.u32(attr::IFINDEX),
                gateway,
                stats: stats(&r),
            });
        }
        out.push(Service {
            protocol: addr::proto_name(s.u8(attr::PROTO).unwrap_or(0)),
            address: ip.to_string(),
            port,
            scheduler: s.string(attr::SCHEDULER).unwrap_or_default(),
            persistence: s.u32(attr::PERSISTENCE).unwrap_or(0),
            seed: s.u32(attr::MAGLEV_SEED).unwrap_or(0),
            mh_port: s.u32(attr::FLAGS).unwrap_or(0) & SVC_F_MH_PORT != 0,
            state: s.u8(attr::SVC_STATE).map_or(State::Active, State::from_u8),
            stats: stats(&s),
            reals,
        });
    }
    Ok(out)
}

/// What `list` shows per line: connections and traffic (the default, like
/// `ipvsadm -Ln`), totals (`--stats`) or rates (`--rate`). A director in DR
/// mode sees only the inbound half: ipvsadm's Out columns would be zero.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum View {
    Default,
    Stats,
    Rate,
}

fn columns(view: View, s: &Stats) -> [String; 3] {
    match view {
        View::Default => [
            s.active.to_string(),
            s.inactive.to_string(),
            format!("{:>10} {:>12}", s.packets, s.bytes),
        ],
        View::Stats => [
            s.conns.to_string(),
            s.packets.to_string(),
            s.bytes.to_string(),
        ],
        View::Rate => [s.cps.to_string(), s.pps.to_string(), s.bps.to_string()],
    }
}

/// The table's text.
pub fn format(services: &[Service], view: View) -> Result<String> {
    let (a, b, c) = match view {
        View::Default => (
            "ActConn",
            "InActConn",
            format!("{:>10} {:>12}", "Packets", "Bytes"),
        ),
        View::Stats => ("Conns", "InPkts", "InBytes".to_string()),
        View::Rate => ("CPS", "InPPS", "InBPS".to_string()),
    };
    let mut out = format!(
        "{:<5} {:<28} {:<8} {:>8} {:>9} {:>12}\n",
        "Prot", "LocalAddress:Port", "Sched", a, b, c
    );
    out += &format!(
        "  -> {:<27} {:<8} {:>8} {:>9} {:>12}  {}\n",
        "RemoteAddress:Port", "Weight", a, b, c, "MAC"
    );
    for s in services {
        let ip: std::net::IpAddr = s.address.parse()?;
        let persist = if s.persistence > 0 {
            format!(" persistent {}", s.persistence)
        } else {
            String::new()
        };
        let standby = if s.state == State::Standby {
            " standby"
        } else {
            ""
        };
        let [x, y, z] = columns(view, &s.stats);
        out += &format!(
            "{:<5} {:<28} {:<8} {:>8} {:>9} {:>12}{}{}\n",
            s.protocol.to_uppercase(),
            addr::with_port(ip, s.port),
            s.scheduler,
            x,
            y,
            z,
            persist,
            standby
        );
        for r in &s.reals {
            let rip: std::net::IpAddr = r.address.parse()?;
            let [x, y, z] = columns(view, &r.stats);
            out += &format!(
                "  -> {:<27} {:<8} {:>8} {:>9} {:>12}  {}\n",
                addr::with_port(rip, s.port),
                r.weight,
                x,
                y,
                z,
                match (&r.mac, &r.reason) {
                    (Some(mac), _) => mac.clone(),
                    (None, Some(why)) => format!("unresolved: {why}"),
                    (None, None) => "unresolved".into(),
                }
            );
        }
    }
    Ok(out)
}

pub fn list(nl: &mut Client, json: bool, view: View, only: Option<Vec<Attr>>) -> Result<()> {
    let services = read_some(nl, only)?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({ "services": services }))?
        );
        return Ok(());
    }
    print!("{}", format(&services, view)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(n: u64) -> Stats {
        Stats {
            conns: n,
            active: 1,
            inactive: 2,
            packets: 10 * n,
            bytes: 100 * n,
            cps: 3,
            pps: 4,
            bps: 5,
        }
    }

    /// An active rr service, TCP 198.51.100.10:80, with one real server.
    fn service(stats: Stats, real: Real) -> Service {
        Service {
            protocol: "tcp",
            address: "198.51.100.10".into(),
            port: 80,
            scheduler: "rr".into(),
            persistence: 0,
            seed: 0,
            mh_port: false,
            state: State::Active,
            stats,
            reals: vec![real],
        }
    }

    #[test]
    fn views() {
        let svc = service(
            stats(7),
            Real {
                address: "198.51.100.21".into(),
                weight: 1,
                resolved: true,
                mac: Some("02:00:00:00:00:01".into()),
                ifindex: Some(2),
                reason: None,
                gateway: None,
                stats: stats(7),
            },
        );
        let words = |v| -> Vec<Vec<String>> {
            format(std::slice::from_ref(&svc), v)
                .unwrap()
                .lines()
                .map(|l| l.split_whitespace().map(String::from).collect())
                .collect()
        };
        assert_eq!(
            words(View::Default)[2],
            ["TCP", "198.51.100.10:80", "rr", "1", "2", "70", "700"]
        );
        assert_eq!(words(View::Stats)[0][3..], ["Conns", "InPkts", "InBytes"]);
        assert_eq!(words(View::Stats)[2][3..], ["7", "70", "700"]);
        assert_eq!(
            words(View::Rate)[3][3..],
            ["3", "4", "5", "02:00:00:00:00:01"]
        );
        let json = serde_json::to_value(&svc).unwrap();
        assert_eq!(json["state"], "active");
        let standby = Service {
            state: State::Standby,
            ..svc
        };
        let text = format(std::slice::from_ref(&standby), View::Default).unwrap();
        let line = text.lines().nth(2).unwrap();
        assert!(line.starts_with("TCP   198.51.100.10:80"), "{line}");
        assert!(line.ends_with("        700 standby"), "{line}");
        assert_eq!(serde_json::to_value(&standby).unwrap()["state"], "standby");
    }

    #[test]
    fn unresolved_reasons() {
        assert_eq!(
            reason(Some(proto::UNRESOLVED_NOT_ONLINK), Some("198.51.100.30")),
            "not on-link (via 198.51.100.30)"
        );
        assert_eq!(reason(Some(proto::UNRESOLVED_NO_ROUTE), None), "no route");
        assert_eq!(reason(None, None), "unresolved");
        let svc = service(
            stats(0),
            Real {
                address: "203.0.113.2".into(),
                weight: 1,
                resolved: false,
                mac: None,
                ifindex: None,
                reason: Some(reason(
                    Some(proto::UNRESOLVED_NOT_ONLINK),
                    Some("198.51.100.30"),
                )),
                gateway: Some("198.51.100.30".into()),
                stats: stats(0),
            },
        );
        let text = format(std::slice::from_ref(&svc), View::Default).unwrap();
        let line = text.lines().nth(3).unwrap();
        assert!(
            line.ends_with("  unresolved: not on-link (via 198.51.100.30)"),
            "{line}"
        );
        let json = serde_json::to_value(&svc).unwrap();
        let r = &json["reals"][0];
        assert_eq!(r["resolved"], false);
        assert_eq!(r["reason"], "not on-link (via 198.51.100.30)");
        assert_eq!(r["gateway"], "198.51.100.30");
    }
}
