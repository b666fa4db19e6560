//! The control socket's protocol and its client side: `vrrpd status`,
//! `vrrpd drain` and `vrrpd undrain` send one line and print the answer.
//!
//! The socket is abstract by default, which Linux scopes to the network
//! namespace, so daemons in different namespaces never collide. An
//! abstract socket has no file permissions: anyone in the namespace may
//! connect. Reading the status is open to all; a drain changes what the
//! director forwards, so the daemon takes it only from root or its own
//! user (the peer's credentials, SO_PEERCRED).

use crate::config::ServiceKey;
use std::io::{self, Read, Write};
use std::net::IpAddr;
use std::os::unix::net::{SocketAddr, UnixStream};
use std::path::Path;

/// The abstract name `vrrpd status` finds the daemon at.
pub const DEFAULT_SOCKET: &str = "vrrpd";

/// The control socket's address.
pub fn address(path: Option<&Path>) -> io::Result<SocketAddr> {
    use std::os::linux::net::SocketAddrExt;
    match path {
        Some(p) => SocketAddr::from_pathname(p),
        None => SocketAddr::from_abstract_name(DEFAULT_SOCKET),
    }
}

/// A request, one line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    /// Everything, as JSON.
    Status,
    /// Only the checks' summary (counts and lateness), as JSON: cheap at
    /// any scale.
    Checks,
    /// Take a real server out of rotation (weight 0) until undrained.
    Drain(ServiceKey, IpAddr),
    /// Put it back.
    Undrain(ServiceKey, IpAddr),
}

impl Request {
    /// Parses a request line; an empty one (a client that only connects)
    /// is a status request.
    pub fn parse(line: &str) -> Result<Self, String> {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words[..] {
            [] | ["status"] => Ok(Request::Status),
            ["checks"] => Ok(Request::Checks),
            [verb @ ("drain" | "undrain"), proto, vip, real] => {
                let proto = drlb_tool::addr::proto(proto).map_err(|e| e.to_string())?;
                let addr = drlb_tool::addr::service(vip).map_err(|e| e.to_string())?;
                let real = drlb_tool::addr::real(real, &addr).map_err(|e| e.to_string())?;
                let key = ServiceKey { proto, addr };
                Ok(if verb == "drain" {
                    Request::Drain(key, real)
                } else {
                    Request::Undrain(key, real)
                })
            }
            [verb @ ("drain" | "undrain"), ..] => {
                Err(format!("usage: {verb} tcp|udp VIP:PORT REAL"))
            }
            [other, ..] => Err(format!(
                "unknown request `{other}` (status, checks, drain, undrain)"
            )),
        }
    }

    /// Whether it changes anything.
    pub fn mutates(&self) -> bool {
        !matches!(self, Request::Status | Request::Checks)
    }
}

/// The uid of the process at the other end of a Unix socket.
pub fn peer_uid(fd: std::os::fd::RawFd) -> io::Result<u32> {
    let mut cred = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: getsockopt writes at most `len` bytes into `cred`.
    let r = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut cred as *mut libc::ucred).cast(),
            &mut len,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(cred.uid)
}

/// Sends `line` to the daemon and returns its answer.
pub fn ask(socket: Option<&Path>, line: &str) -> io::Result<String> {
    let mut s = UnixStream::connect_addr(&address(socket)?)
        .map_err(|e| io::Error::other(format!("no vrrpd answers in this namespace ({e})")))?;
    s.write_all(format!("{line}\n").as_bytes())?;
    s.shutdown(std::net::Shutdown::Write)?;
    let mut text = String::new();
    s.read_to_string(&mut text)?;
    Ok(text)
}

/// `vrrpd drain|undrain`: the daemon's answer, or its refusal as an error.
pub fn change(socket: Option<&Path>, line: &str) -> io::Result<()> {
    let answer = ask(socket, line)?;
    match answer.strip_prefix("error: ") {
        Some(e) => Err(io::Error::other(e.trim_end().to_string())),
        None => {
            print!("{answer}");
            Ok(())
        }
    }
}

/// `vrrpd status`: the daemon's state as text, or its JSON.
pub fn status(socket: Option<&Path>, json_out: bool) -> io::Result<()> {
    let text = ask(socket, "status")?;
    if json_out {
        print!("{text}");
        return Ok(());
    }
    let v: serde_json::Value = serde_json::from_str(&text).map_err(io::Error::other)?;
    print!("{}", format_status(&v));
    Ok(())
}

/// The status JSON as text.
pub fn format_status(v: &serde_json::Value) -> String {
    let mut out = String::new();
    let s = |v: &serde_json::Value| v.as_str().unwrap_or("?").to_string();
    for i in v["instances"].as_array().into_iter().flatten() {
        out += &format!(
            "{} ({} vrid {} v{}): {} priority {} master {}\n",
            s(&i["name"]),
            s(&i["interface"]),
            i["vrid"],
            i["version"],
            s(&i["state"]),
            i["priority"],
            i["master"].as_str().unwrap_or("unknown"),
        );
        if let Some(r) = i["fault_reason"].as_str() {
            out += &format!("  fault: {r}\n");
        }
        if let Some(r) = i["last_transition_reason"].as_str() {
            out += &format!("  last transition: {r}\n");
        }
        out += &format!(
            "  adverts sent {} received {}; bad packets {}\n",
            i["adverts_sent"], i["adverts_received"], i["bad_packets"]
        );
    }
    for vs in v["virtual_servers"].as_array().into_iter().flatten() {
        out += &format!(
            "{} {}: {}{}{}\n",
            s(&vs["protocol"]),
            s(&vs["address"]),
            s(&vs["state"]),
            vs["instance"]
                .as_str()
                .map(|i| format!(" (instance {i})"))
                .unwrap_or_default(),
            if vs["panic"].as_bool() == Some(true) {
                ", panic"
            } else {
                ""
            },
        );
        for r in vs["reals"].as_array().into_iter().flatten() {
            out += &format!(
                "  {} weight {} of {}: {}",
                s(&r["address"]),
                r["programmed_weight"],
                r["weight"],
                s(&r["role"])
            );
            let c = &r["check"];
            if c.is_object() {
                out += &format!(
                    "; {} check {}: {} ({}, {:.1} ms), transitions {}",
                    s(&c["type"]),
                    s(&c["target"]),
                    s(&c["state"]),
                    c["reason"].as_str().unwrap_or("not probed yet"),
                    c["latency_ms"].as_f64().unwrap_or(0.0),
                    c["transitions"]
                );
            }
            out += "\n";
        }
    }
    if let Some(e) = v["drlb"]["error"].as_str() {
        out += &format!("drlb: {e}\n");
    }
    let c = &v["sync"];
    if c.is_object() {
        let peers: Vec<String> = c["peers"].as_array().into_iter().flatten().map(s).collect();
        out += &format!(
            "sync: {} port {}, {}; pull {}{}\n",
            s(&c["interface"]),
            c["port"],
            if peers.is_empty() {
                format!("group {}", s(&c["group"]))
            } else {
                format!("peers {}", peers.join(" "))
            },
            s(&c["pull"]),
            if c["preemption_held"].as_bool() == Some(true) {
                ", preemption held"
            } else {
                ""
            },
        );
        out += &format!(
            "  sent {} records in {} datagrams, received {} in {}; dropped non_peer {} bad_auth {} malformed {} bad_version {}\n",
            c["records_sent"],
            c["datagrams_sent"],
            c["records_received"],
            c["datagrams_received"],
            c["non_peer"],
            c["bad_auth"],
            c["malformed"],
            c["bad_version"],
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_text_says_why_an_instance_is_in_fault() {
        let v = serde_json::json!({
            "instances": [{
                "name": "vi1", "interface": "eth0", "vrid": 51, "version": 3,
                "state": "FAULT", "priority": 150, "master": null,
                "fault_reason": "cannot add 198.51.100.10/32 to eth0: Operation not permitted (vrrpd needs CAP_NET_ADMIN)",
                "last_transition_reason": "MASTER -> FAULT: cannot add ...",
                "adverts_sent": 3, "adverts_received": 0, "bad_packets": {}
            }]
        });
        let text = format_status(&v);
        assert_eq!(
            text.lines().take(3).collect::<Vec<_>>(),
            [
                "vi1 (eth0 vrid 51 v3): FAULT priority 150 master unknown",
                "  fault: cannot add 198.51.100.10/32 to eth0: Operation not permitted (vrrpd needs CAP_NET_ADMIN)",
                "  last transition: MASTER -> FAULT: cannot add ...",
            ]
        );
        let mut ok = v.clone();
        ok["instances"][0]["fault_reason"] = serde_json::Value::Null;
        assert!(!format_status(&ok).contains("fault:"));
    }

    #[test]
    fn status_text_shows_the_sync() {
        let v = serde_json::json!({
            "instances": [],
            "sync": {"interface": "e0", "port": 8849, "peers": ["198.51.100.4"],
                "pull": "done", "preemption_held": false, "records_sent": 10,
                "datagrams_sent": 2, "records_received": 5, "datagrams_received": 1,
                "non_peer": 0, "bad_auth": 3, "malformed": 0, "bad_version": 0}
        });
        assert_eq!(
            format_status(&v),
            "sync: e0 port 8849, peers 198.51.100.4; pull done\n  sent 10 records in 2 datagrams, received 5 in 1; dropped non_peer 0 bad_auth 3 malformed 0 bad_version 0\n"
        );
        assert!(!format_status(&serde_json::json!({"instances": []})).contains("sync"));
    }

    #[test]
    fn requests() {
        assert_eq!(Request::parse(""), Ok(Request::Status));
        assert_eq!(Request::parse("status\n"), Ok(Request::Status));
        let key = ServiceKey {
            proto: 6,
            addr: "198.51.100.10:80".parse().unwrap(),
        };
        let rs: IpAddr = "198.51.100.21".parse().unwrap();
        assert_eq!(
            Request::parse("drain tcp 198.51.100.10:80 198.51.100.21"),
            Ok(Request::Drain(key, rs))
        );
        assert_eq!(
            Request::parse("undrain tcp 198.51.100.10:80 198.51.100.21\n"),
            Ok(Request::Undrain(key, rs))
        );
        assert!(Request::parse("drain tcp 198.51.100.10:80")
            .unwrap_err()
            .contains("usage"));
        assert!(Request::parse("drain sctp 198.51.100.10:80 198.51.100.21").is_err());
        assert!(Request::parse("drain tcp 198.51.100.10:80 2001:db8::1")
            .unwrap_err()
            .contains("not the same address family"));
        assert!(Request::parse("reboot")
            .unwrap_err()
            .contains("unknown request `reboot`"));
        assert!(!Request::Status.mutates() && Request::Drain(key, rs).mutates());
    }
}
