//! Connection sync, the module's side: turning its sync queue on and off
//! (`SYNC_SET`), its counters (`SYNC_GET`), taking queued records out
//! (`SYNC_READ`), inserting a peer's (`SYNC_WRITE`), and the whole
//! connection table as sync records (a `CONN_GET` dump, for a peer that
//! pulls it). vrrpd relays with these; `drlb-tool sync` shows the state,
//! and a running vrrpd's relay counters when one answers.

use crate::netlink::{Attr, Attrs, Client, KernelError};
use anyhow::Result;
use drlb_core::proto::{self, attr, cmd};
use drlb_core::sync_record::{Record, F_TEMPLATE};
use serde::Serialize;

/// The module's sync state and totals (`SYNC_GET`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counters {
    /// The queue is on (records are made for a daemon to read).
    pub send: bool,
    /// Records waiting in the queue.
    pub queued: u32,
    /// Records read out of the queue.
    pub sent: u64,
    /// Records dropped because the queue was full.
    pub overflow: u64,
    /// Records inserted or updated from peers.
    pub applied: u64,
    /// Records for a service or real server not configured here.
    pub unknown: u64,
    /// `SYNC_WRITE` batches refused as malformed.
    pub malformed: u64,
    /// Records refused because the table was full.
    pub no_room: u64,
}

impl Counters {
    /// From a `SYNC_GET` reply's attributes (absent ones are 0).
    pub fn parse(a: &[Attr]) -> Self {
        Counters {
            send: a.u8(attr::SYNC_SEND).unwrap_or(0) != 0,
            queued: a.u32(attr::SYNC_QUEUED).unwrap_or(0),
            sent: a.u64(attr::SYNC_SENT).unwrap_or(0),
            overflow: a.u64(attr::SYNC_OVERFLOW).unwrap_or(0),
            applied: a.u64(attr::SYNC_APPLIED).unwrap_or(0),
            unknown: a.u64(attr::SYNC_UNKNOWN).unwrap_or(0),
            malformed: a.u64(attr::SYNC_MALFORMED).unwrap_or(0),
            no_room: a.u64(attr::SYNC_NO_ROOM).unwrap_or(0),
        }
    }
}

/// What one `SYNC_WRITE` batch did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Written {
    pub applied: u64,
    pub unknown: u64,
    pub no_room: u64,
}

/// Turns the module's sync queue on or off.
pub fn set(nl: &mut Client, send: bool) -> Result<()> {
    nl.request(
        cmd::SYNC_SET,
        vec![Attr::u8(attr::SYNC_SEND, u8::from(send))],
        false,
    )?;
    Ok(())
}

/// The module's sync state and totals.
pub fn get(nl: &mut Client) -> Result<Counters> {
    let r = nl.request(cmd::SYNC_GET, vec![], false)?;
    Ok(Counters::parse(
        r.first().map(Vec::as_slice).unwrap_or_default(),
    ))
}

/// Takes queued records out: their bytes (empty if none) and whether
/// more are waiting.
pub fn read(nl: &mut Client) -> Result<(Vec<u8>, bool)> {
    let r = nl.request(cmd::SYNC_READ, vec![], false)?;
    let a = r.first().map(Vec::as_slice).unwrap_or_default();
    Ok((
        a.raw(attr::SYNC_RECORDS)
            .map(<[u8]>::to_vec)
            .unwrap_or_default(),
        a.u8(attr::SYNC_MORE).unwrap_or(0) != 0,
    ))
}

/// Inserts a peer's records (at most [`proto::SYNC_RECORDS_MAX`] bytes).
/// A malformed batch is refused whole: the error carries the module's
/// message ([`KernelError`]).
pub fn write(nl: &mut Client, records: &[u8]) -> Result<Written> {
    debug_assert!(records.len() <= usize::from(proto::SYNC_RECORDS_MAX));
    let r = nl.request(
        cmd::SYNC_WRITE,
        vec![Attr::bytes(attr::SYNC_RECORDS, records.to_vec())],
        false,
    )?;
    let a = r.first().map(Vec::as_slice).unwrap_or_default();
    Ok(Written {
        applied: a.u64(attr::SYNC_APPLIED).unwrap_or(0),
        unknown: a.u64(attr::SYNC_UNKNOWN).unwrap_or(0),
        no_room: a.u64(attr::SYNC_NO_ROOM).unwrap_or(0),
    })
}

/// Whether `e` is the module refusing a request (rather than the socket
/// failing), and its message.
pub fn kernel_message(e: &anyhow::Error) -> Option<String> {
    e.downcast_ref::<KernelError>().map(|k| k.to_string())
}

fn addr16(b: &[u8]) -> Option<[u8; 16]> {
    let mut out = [0; 16];
    match b.len() {
        4 | 16 => out[..b.len()].copy_from_slice(b),
        _ => return None,
    }
    Some(out)
}

/// One `CONN_GET` entry as a sync record (`None`: an entry the dump did
/// not describe whole).
pub fn record_of(a: &[Attr]) -> Option<Record> {
    let proto = a.u8(attr::PROTO)?;
    let template = a.u32(attr::FLAGS).unwrap_or(0) & proto::CONN_F_TEMPLATE != 0;
    let vip = a.raw(attr::VIP)?;
    let v6 = vip.len() == 16;
    Some(Record {
        v6,
        proto,
        state: if template || proto != 6 {
            0
        } else {
            a.u8(attr::CONN_STATE)?
        },
        flags: if template { F_TEMPLATE } else { 0 },
        timeout_ms: a.u32(attr::EXPIRES_MS).unwrap_or(0),
        vip: addr16(vip)?,
        vport: a.u16(attr::PORT)?,
        client: addr16(a.raw(attr::CLIENT)?)?,
        cport: if template {
            0
        } else {
            a.u16(attr::CLIENT_PORT)?
        },
        real: addr16(a.raw(attr::REAL)?)?,
    })
}

/// The whole connection table as sync records, back to back.
pub fn table(nl: &mut Client) -> Result<Vec<u8>> {
    let mut out = vec![];
    let mut buf = [0u8; drlb_core::sync_record::MAX_LEN];
    for a in nl.request(cmd::CONN_GET, vec![], true)? {
        if let Some(r) = record_of(&a) {
            if let Some(n) = r.encode(&mut buf) {
                out.extend_from_slice(&buf[..n]);
            }
        }
    }
    Ok(out)
}

/// The text of `drlb-tool sync`: the module's state and counters, then
/// vrrpd's relay (its `status` "sync" section) when given.
pub fn format(c: &Counters, relay: Option<&serde_json::Value>) -> String {
    let mut out = format!(
        "module: sync send {}, {} queued\n  read out {}, overflow {}\n  applied {}, unknown {}, malformed batches {}, no room {}\n",
        if c.send { "on" } else { "off" },
        c.queued,
        c.sent,
        c.overflow,
        c.applied,
        c.unknown,
        c.malformed,
        c.no_room
    );
    match relay {
        None => out += "vrrpd: not running here, or without [sync]\n",
        Some(r) => {
            let s = |k: &str| match &r[k] {
                serde_json::Value::Null => "-".to_string(),
                serde_json::Value::String(s) => s.clone(),
                v => v.to_string(),
            };
            out += &format!(
                "vrrpd: interface {}, port {}, peers {}\n  pull {}\n  sent {} records in {} datagrams, received {} records in {} datagrams\n  dropped: non_peer {}, bad_auth {}, malformed {}, bad_version {}\n",
                s("interface"),
                s("port"),
                s("peers"),
                s("pull"),
                s("records_sent"),
                s("datagrams_sent"),
                s("records_received"),
                s("datagrams_received"),
                s("non_peer"),
                s("bad_auth"),
                s("malformed"),
                s("bad_version"),
            );
        }
    }
    out
}

/// A running vrrpd's "sync" section, asked on its control socket (the
/// abstract "vrrpd"); `None` when none answers or it has no [sync].
pub fn vrrpd_sync() -> Option<serde_json::Value> {
    use std::io::{Read, Write};
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::net::{SocketAddr, UnixStream};
    let addr = SocketAddr::from_abstract_name("vrrpd").ok()?;
    let mut s = UnixStream::connect_addr(&addr).ok()?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(2)))
        .ok()?;
    s.write_all(b"status\n").ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let v: serde_json::Value = serde_json::from_str(text.trim()).ok()?;
    v.get("sync").filter(|s| !s.is_null()).cloned()
}

/// `drlb-tool sync [--json]`: the module's side (`nl`; `None`: it could
/// not be reached) and vrrpd's. An error only when neither answers.
pub fn show(nl: Option<&mut Client>, json: bool) -> Result<()> {
    let module = nl.map(get);
    let relay = vrrpd_sync();
    let c = match module {
        Some(Ok(c)) => Some(c),
        Some(Err(e)) if relay.is_none() => return Err(e),
        None if relay.is_none() => {
            anyhow::bail!("neither the module nor a vrrpd with [sync] answers")
        }
        _ => None,
    };
    if json {
        println!("{}", serde_json::json!({ "module": c, "vrrpd": relay }));
    } else {
        match &c {
            Some(c) => print!("{}", format(c, relay.as_ref())),
            None => print!(
                "module: not reachable\n{}",
                format(&Counters::default(), relay.as_ref())
                    .split_once("vrrpd:")
                    .map(|(_, r)| format!("vrrpd:{r}"))
                    .unwrap_or_default()
            ),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::addr;

    #[test]
    fn counters_parse_and_default_to_zero() {
        let a = vec![
            Attr::u8(attr::SYNC_SEND, 1),
            Attr::u32(attr::SYNC_QUEUED, 7),
            Attr::bytes(attr::SYNC_APPLIED, 42u64.to_ne_bytes().to_vec()),
        ];
        let c = Counters::parse(&a);
        assert!(c.send);
        assert_eq!((c.queued, c.applied, c.sent), (7, 42, 0));
        assert_eq!(Counters::parse(&[]), Counters::default());
    }

    fn conn(template: bool, v6: bool) -> Vec<Attr> {
        let (vip, client, real) = if v6 {
            (
                addr::bytes("2001:db8::1".parse().unwrap()),
                addr::bytes("2001:db8::2".parse().unwrap()),
                addr::bytes("2001:db8::3".parse().unwrap()),
            )
        } else {
            (vec![10, 0, 0, 1], vec![10, 0, 0, 2], vec![10, 0, 0, 3])
        };
        vec![
            Attr::u8(attr::PROTO, 6),
            Attr::u32(
                attr::FLAGS,
                if template { proto::CONN_F_TEMPLATE } else { 0 },
            ),
            Attr::u8(attr::CONN_STATE, 1),
            Attr::bytes(attr::VIP, vip),
            Attr::u16(attr::PORT, 80),
            Attr::bytes(attr::CLIENT, client),
            Attr::u16(attr::CLIENT_PORT, 40000),
            Attr::bytes(attr::REAL, real),
            Attr::u32(attr::EXPIRES_MS, 90_000),
        ]
    }

    #[test]
    fn a_dumped_entry_becomes_a_record_that_decodes() {
        let mut buf = [0u8; 64];
        for (template, v6) in [(false, false), (true, false), (false, true)] {
            let r = record_of(&conn(template, v6)).unwrap();
            assert_eq!(r.v6, v6);
            assert_eq!(r.is_template(), template);
            assert_eq!(r.cport, if template { 0 } else { 40000 });
            assert_eq!(r.state, if template { 0 } else { 1 });
            assert_eq!(r.timeout_ms, 90_000);
            let n = r.encode(&mut buf).unwrap();
            let (back, len) = Record::decode(&buf[..n]).unwrap();
            assert_eq!((back, len), (r, n));
        }
        let mut partial = conn(false, false);
        partial.retain(|a| a.kind != attr::REAL);
        assert_eq!(record_of(&partial), None);
    }

    #[test]
    fn the_text_shows_module_and_relay() {
        let c = Counters {
            send: true,
            queued: 3,
            ..Default::default()
        };
        let t = format(&c, None);
        assert!(t.starts_with("module: sync send on, 3 queued"), "{t}");
        assert!(t.contains("vrrpd: not running"), "{t}");
        let r = serde_json::json!({"interface": "e0", "port": 8849, "peers": ["10.0.0.2"],
            "pull": "done", "bad_auth": 2});
        let t = format(&c, Some(&r));
        assert!(t.contains("vrrpd: interface e0, port 8849"), "{t}");
        assert!(t.contains("bad_auth 2"), "{t}");
    }
}
