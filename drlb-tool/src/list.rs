//! `drlb-tool list`: services and real servers with their counters, as a
//! table like `ipvsadm -Ln` or as JSON.

use crate::addr;
use crate::netlink::{Attr, Attrs, Client};
use anyhow::Result;
use drlb_core::proto::{attr, cmd, stats, REAL_RESOLVED};
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

/// Reads the whole configuration with its counters.
pub fn read(nl: &mut Client) -> Result<Vec<Service>> {
    let mut out = vec![];
    for s in nl.request(cmd::SERVICE_GET, vec![], true)? {
        let key: Vec<Attr> = s.iter().filter(|a| [attr::PROTO, attr::VIP, attr::PORT].contains(&a.kind)).cloned().collect();
        let ip = s.raw(attr::VIP).and_then(addr::from_bytes);
        let Some(ip) = ip else { continue };
        let port = s.u16(attr::PORT).unwrap_or(0);
        let mut reals = vec![];
        for r in nl.request(cmd::REAL_GET, key, true)? {
            let rip = r.raw(attr::REAL).and_then(addr::from_bytes);
            let Some(rip) = rip else { continue };
            reals.push(Real {
                address: rip.to_string(),
                weight: r.u32(attr::WEIGHT).unwrap_or(0),
                resolved: r.u8(attr::REAL_STATE) == Some(REAL_RESOLVED),
                mac: r.raw(attr::MAC).map(|m| {
                    m.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
                }),
                ifindex: r.u32(attr::IFINDEX),
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
            stats: stats(&s),
            reals,
        });
    }
    Ok(out)
}

pub fn list(nl: &mut Client, json: bool) -> Result<()> {
    let services = read(nl)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&serde_json::json!({ "services": services }))?);
        return Ok(());
    }
    println!(
        "{:<5} {:<28} {:<8} {:>8} {:>8} {:>10} {:>12}",
        "Prot", "LocalAddress:Port", "Sched", "ActConn", "InActConn", "Packets", "Bytes"
    );
    println!(
        "  -> {:<27} {:<8} {:>8} {:>8} {:>10} {:>12}  {}",
        "RemoteAddress:Port", "Weight", "ActConn", "InActConn", "Packets", "Bytes", "MAC"
    );
    for s in &services {
        let ip: std::net::IpAddr = s.address.parse()?;
        let persist = if s.persistence > 0 { format!(" persistent {}", s.persistence) } else { String::new() };
        println!(
            "{:<5} {:<28} {:<8} {:>8} {:>8} {:>10} {:>12}{}",
            s.protocol.to_uppercase(),
            addr::with_port(ip, s.port),
            s.scheduler,
            s.stats.active,
            s.stats.inactive,
            s.stats.packets,
            s.stats.bytes,
            persist
        );
        for r in &s.reals {
            let rip: std::net::IpAddr = r.address.parse()?;
            println!(
                "  -> {:<27} {:<8} {:>8} {:>8} {:>10} {:>12}  {}",
                addr::with_port(rip, s.port),
                r.weight,
                r.stats.active,
                r.stats.inactive,
                r.stats.packets,
                r.stats.bytes,
                r.mac.as_deref().unwrap_or("unresolved")
            );
        }
    }
    Ok(())
}
