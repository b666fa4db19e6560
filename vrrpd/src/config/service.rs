//! `[[virtual_server]]`: a drlb service, its real servers, and the health
//! checks that decide which of them take traffic.
//!
//! ```toml
//! [[virtual_server]]
//! protocol = "tcp"                  # tcp | udp
//! address = "198.51.100.10:80"      # IPv6: "[2001:db8::10]:80"
//! scheduler = "wlc"                 # rr wrr lc wlc sh maglev (mh)
//! persistence = 0                   # seconds
//! instance = "vi1"                  # the VRRP instance that owns the VIP
//!                                   # (default: the one holding the address)
//! on_fail = "drain"                 # drain (weight 0) | remove
//! sorry_server = "198.51.100.30"    # only while every real server is down
//! slow_start_s = 0                  # ramp a recovered server's weight
//! panic_threshold = 0               # %: below it, every server takes traffic
//!
//! [virtual_server.check]            # the default check of its real servers
//! type = "http"                     # tcp | http | https | exec | none
//! interval_ms = 2000
//! timeout_ms = 1000
//! rise = 2
//! fall = 3
//! fast_interval_ms = 2000           # while a server is changing state
//! down_interval_ms = 2000           # while it is down
//! initial = "down"                  # or "up": up until proven down
//! port = 80                         # default: the service's port
//! path = "/healthz"                 # http/https
//! status = 200                      # http/https
//! expect = "OK"                     # http/https: a body substring
//! host = "www.example.com"          # http/https: Host header and SNI
//! ca_file = "/etc/ssl/ca.pem"       # https: verify against this CA
//! command = ["/usr/local/bin/check", "arg"]   # exec
//!
//! [[virtual_server.real]]
//! address = "198.51.100.21"
//! weight = 1
//! check = { type = "tcp" }          # replaces the service's check
//! ```

use super::{InstanceConfig, Validator};
use drlb_core::sched::Scheduler;
use serde::Deserialize;
use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;
use toml::Spanned;

/// Largest interval or timeout: a day.
const MAX_MS: i64 = 86_400_000;
/// Smallest interval: 10 ms.
const MIN_INTERVAL_MS: i64 = 10;
/// Longest slow start: an hour.
const MAX_SLOW_START_S: i64 = 3600;

/// A service's identity: protocol and address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServiceKey {
    /// IPPROTO_TCP (6) or IPPROTO_UDP (17).
    pub proto: u8,
    /// VIP and port.
    pub addr: SocketAddr,
}

/// `tcp 198.51.100.10:80`, as drlb-tool names a service.
impl fmt::Display for ServiceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}",
            drlb_tool::addr::proto_name(self.proto),
            self.addr
        )
    }
}

/// What happens to a real server whose check fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OnFail {
    /// Weight 0: its connections go on, new ones go elsewhere.
    Drain,
    /// Removed from the service (its connections expire, as
    /// `drlb-tool limits --expire-nodest` says).
    Remove,
}

/// One `[[virtual_server]]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VirtualServer {
    /// IPPROTO_TCP or IPPROTO_UDP.
    pub proto: u8,
    /// VIP and port.
    pub address: SocketAddr,
    /// The scheduler.
    pub scheduler: Scheduler,
    /// Client-IP persistence, seconds (0: none).
    pub persistence: u32,
    /// Maglev/sh seed (the same on every director).
    pub seed: u32,
    /// Maglev hashes the ports too.
    pub mh_port: bool,
    /// The VRRP instance whose MASTER state lets the service forward:
    /// named, or the one instance holding the VIP. None: always forwards.
    pub instance: Option<String>,
    /// What a failed check does.
    pub on_fail: OnFail,
    /// A server that takes the traffic while every real server is down.
    pub sorry_server: Option<IpAddr>,
    /// A recovered server's weight ramps up over this time.
    pub slow_start: Duration,
    /// Percent of real servers up below which all of them take traffic
    /// (0: never).
    pub panic_threshold: u8,
    /// The real servers, in file order.
    pub reals: Vec<RealServer>,
    /// Line of the `[[virtual_server]]` header.
    pub line: usize,
}

impl VirtualServer {
    /// The service's identity.
    pub fn key(&self) -> ServiceKey {
        ServiceKey {
            proto: self.proto,
            addr: self.address,
        }
    }

    /// The real server at `addr`.
    pub fn real(&self, addr: IpAddr) -> Option<&RealServer> {
        self.reals.iter().find(|r| r.address == addr)
    }
}

/// One `[[virtual_server.real]]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RealServer {
    /// Its address.
    pub address: IpAddr,
    /// Its weight, 0..=65535.
    pub weight: u32,
    /// The check that decides whether it is up (None: always up).
    pub check: Option<CheckSpec>,
    /// Line of its table.
    pub line: usize,
}

/// A health check, complete with its target port and timing: two equal
/// specs on one address are one probe.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CheckSpec {
    /// What is checked.
    pub kind: CheckKind,
    /// The port probed.
    pub port: u16,
    /// Between probes of a server that is up.
    pub interval: Duration,
    /// Between probes of a server that is changing state.
    pub fast_interval: Duration,
    /// Between probes of a server that is down.
    pub down_interval: Duration,
    /// How long a probe may take.
    pub timeout: Duration,
    /// Successes in a row that bring a server up.
    pub rise: u32,
    /// Failures in a row that take it down.
    pub fall: u32,
    /// Up until proven down (instead of down until `rise` successes).
    pub initial_up: bool,
}

/// The kinds of check.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum CheckKind {
    /// A TCP connection is accepted.
    Tcp,
    /// An HTTP GET answers as expected.
    Http(HttpCheck),
    /// The same over TLS.
    Https(HttpCheck),
    /// A command exits 0 (argv; killed at the timeout).
    Exec(Vec<String>),
}

impl CheckKind {
    /// The name in the file.
    pub fn name(&self) -> &'static str {
        match self {
            CheckKind::Tcp => "tcp",
            CheckKind::Http(_) => "http",
            CheckKind::Https(_) => "https",
            CheckKind::Exec(_) => "exec",
        }
    }
}

/// What an http or https check asks and expects.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct HttpCheck {
    /// The path requested.
    pub path: String,
    /// The status expected.
    pub status: u16,
    /// A substring the body must contain.
    pub expect: Option<String>,
    /// Host header and TLS server name (default: the address).
    pub host: Option<String>,
    /// https: verify the server's certificate against this CA (default:
    /// no verification, as keepalived's SSL_GET).
    pub ca_file: Option<PathBuf>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawVirtualServer {
    protocol: Spanned<String>,
    address: Spanned<String>,
    scheduler: Option<Spanned<String>>,
    persistence: Option<Spanned<i64>>,
    seed: Option<Spanned<i64>>,
    mh_port: Option<bool>,
    instance: Option<Spanned<String>>,
    on_fail: Option<Spanned<String>>,
    sorry_server: Option<Spanned<String>>,
    slow_start_s: Option<Spanned<i64>>,
    panic_threshold: Option<Spanned<i64>>,
    check: Option<Spanned<RawCheck>>,
    #[serde(default)]
    real: Vec<Spanned<RawReal>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReal {
    address: Spanned<String>,
    weight: Option<Spanned<i64>>,
    check: Option<Spanned<RawCheck>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCheck {
    #[serde(rename = "type")]
    kind: Spanned<String>,
    interval_ms: Option<Spanned<i64>>,
    timeout_ms: Option<Spanned<i64>>,
    fast_interval_ms: Option<Spanned<i64>>,
    down_interval_ms: Option<Spanned<i64>>,
    rise: Option<Spanned<i64>>,
    fall: Option<Spanned<i64>>,
    initial: Option<Spanned<String>>,
    port: Option<Spanned<i64>>,
    path: Option<Spanned<String>>,
    status: Option<Spanned<i64>>,
    expect: Option<Spanned<String>>,
    host: Option<Spanned<String>>,
    ca_file: Option<Spanned<String>>,
    command: Option<Spanned<Vec<Spanned<String>>>>,
}

/// Text that may go into an HTTP request line or header.
fn header_safe(s: &str) -> bool {
    !s.is_empty() && !s.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// Where an optional key stands, if it is given.
fn span<T>(v: &Option<Spanned<T>>) -> Option<std::ops::Range<usize>> {
    v.as_ref().map(Spanned::span)
}

fn ms(v: i64) -> Duration {
    Duration::from_millis(v.try_into().unwrap_or(0))
}

impl Validator {
    /// Every virtual server; `instances` are the valid instances.
    pub(super) fn virtual_servers(
        &mut self,
        raws: &[Spanned<RawVirtualServer>],
        instances: &[InstanceConfig],
    ) -> Vec<VirtualServer> {
        let mut seen: HashMap<ServiceKey, usize> = HashMap::new();
        let mut out = vec![];
        for raw in raws {
            let before = self.errors.len();
            let vs = self.virtual_server(raw, instances);
            if let Some(vs) = vs.filter(|_| self.errors.len() == before) {
                if let Some(first) = seen.insert(vs.key(), vs.line) {
                    self.error(
                        raw.get_ref().address.span(),
                        format!(
                            "virtual server {} is already defined at line {first}",
                            vs.key()
                        ),
                    );
                }
                out.push(vs);
            }
        }
        out
    }

    fn virtual_server(
        &mut self,
        raw: &Spanned<RawVirtualServer>,
        instances: &[InstanceConfig],
    ) -> Option<VirtualServer> {
        let line = self.line(raw.span());
        let r = raw.get_ref();
        let proto = match drlb_tool::addr::proto(r.protocol.get_ref()) {
            Ok(p) => p,
            Err(_) => {
                let msg = format!("protocol `{}`: must be tcp or udp", r.protocol.get_ref());
                self.error(r.protocol.span(), msg);
                6
            }
        };
        let address = match drlb_tool::addr::service(r.address.get_ref()) {
            Ok(a) => Some(a),
            Err(e) => {
                self.error(r.address.span(), format!("address: {e}"));
                None
            }
        };
        let scheduler = match &r.scheduler {
            None => Scheduler::Wlc,
            Some(s) => Scheduler::from_name(s.get_ref().as_bytes()).unwrap_or_else(|| {
                let names: Vec<_> = Scheduler::ALL.iter().map(|s| s.name()).collect();
                let msg = format!("unknown scheduler `{}` ({})", s.get_ref(), names.join(", "));
                self.error(s.span(), msg);
                Scheduler::Wlc
            }),
        };
        let max_persistence = i64::from(drlb_core::conn_policy::MAX_TIMEOUT_S);
        let persistence =
            self.opt_range("persistence", r.persistence.as_ref(), 0, max_persistence, 0);
        let seed = self.opt_range("seed", r.seed.as_ref(), 0, i64::from(u32::MAX), 0);
        let on_fail = match r.on_fail.as_ref().map(|o| (o.get_ref().as_str(), o.span())) {
            None | Some(("drain", _)) => OnFail::Drain,
            Some(("remove", _)) => OnFail::Remove,
            Some((other, span)) => {
                self.error(span, format!("on_fail `{other}`: must be drain or remove"));
                OnFail::Drain
            }
        };
        let slow_start_s: u64 = self.opt_range(
            "slow_start_s",
            r.slow_start_s.as_ref(),
            0,
            MAX_SLOW_START_S,
            0,
        );
        let panic_threshold =
            self.opt_range("panic_threshold", r.panic_threshold.as_ref(), 0, 100, 0);
        let address = address?;
        let v6 = address.is_ipv6();
        let instance = self.owner(r, address.ip(), instances);
        let sorry_server = r
            .sorry_server
            .as_ref()
            .and_then(|s| self.ip("sorry_server", s).map(|a| (a, s.span())))
            .map(|(a, span)| {
                if a.is_ipv6() != v6 {
                    self.error(
                        span,
                        format!("sorry_server {a} is not of the service's address family"),
                    );
                }
                a
            });
        let default_check = r.check.as_ref().and_then(|c| self.check(c, address.port()));
        let mut reals: Vec<RealServer> = vec![];
        for raw_real in &r.real {
            let rr = raw_real.get_ref();
            let Some(addr) = self.ip("real address", &rr.address) else {
                continue;
            };
            if addr.is_ipv6() != v6 {
                self.error(
                    rr.address.span(),
                    format!("real server {addr} is not of the service's address family"),
                );
            }
            if let Some(first) = reals.iter().find(|x| x.address == addr) {
                let msg = format!(
                    "real server {addr} is already listed at line {}",
                    first.line
                );
                self.error(rr.address.span(), msg);
            }
            if sorry_server == Some(addr) {
                let msg = format!("{addr} is both a real server and the sorry_server");
                self.error(rr.address.span(), msg);
            }
            let weight = self.opt_range("weight", rr.weight.as_ref(), 0, 65535, 1);
            let check = match &rr.check {
                Some(c) => self.check(c, address.port()),
                None => default_check.clone(),
            };
            reals.push(RealServer {
                address: addr,
                weight,
                check,
                line: self.line(raw_real.span()),
            });
        }
        Some(VirtualServer {
            proto,
            address,
            scheduler,
            persistence,
            seed,
            mh_port: r.mh_port.unwrap_or(false),
            instance,
            on_fail,
            sorry_server,
            slow_start: Duration::from_secs(slow_start_s),
            panic_threshold,
            reals,
            line,
        })
    }

    /// The instance that owns the service: the one named, or else the one
    /// whose virtual_ips hold the VIP (None: no instance does).
    fn owner(
        &mut self,
        r: &RawVirtualServer,
        vip: IpAddr,
        instances: &[InstanceConfig],
    ) -> Option<String> {
        if let Some(name) = &r.instance {
            match instances.iter().find(|i| &i.name == name.get_ref()) {
                None => self.error(
                    name.span(),
                    format!(
                        "instance `{}` is not defined (or has errors)",
                        name.get_ref()
                    ),
                ),
                Some(i) if i.is_ipv6() != vip.is_ipv6() => self.error(
                    name.span(),
                    format!("instance `{}` carries the other address family", i.name),
                ),
                Some(_) => {}
            }
            return Some(name.get_ref().clone());
        }
        let holders: Vec<&str> = instances
            .iter()
            .filter(|i| i.virtual_ips.iter().any(|v| v.addr == vip))
            .map(|i| i.name.as_str())
            .collect();
        match holders[..] {
            [] => None,
            [one] => Some(one.to_string()),
            _ => {
                let msg = format!(
                    "{vip} is held by instances {}: say which owns the service with instance = \"...\"",
                    holders.join(" and ")
                );
                self.error(r.address.span(), msg);
                None
            }
        }
    }

    /// A check table; `None` for `type = "none"` or on errors.
    fn check(&mut self, raw: &Spanned<RawCheck>, service_port: u16) -> Option<CheckSpec> {
        let before = self.errors.len();
        let c = raw.get_ref();
        let kind_name = c.kind.get_ref().as_str();
        let http = matches!(kind_name, "http" | "https");
        // Keys that only some kinds take.
        let keys = [
            ("path", span(&c.path), http, "http and https"),
            ("status", span(&c.status), http, "http and https"),
            ("expect", span(&c.expect), http, "http and https"),
            ("host", span(&c.host), http, "http and https"),
            ("ca_file", span(&c.ca_file), kind_name == "https", "https"),
            ("command", span(&c.command), kind_name == "exec", "exec"),
        ];
        for (key, given, allowed, kinds) in keys {
            if let Some(at) = given.filter(|_| !allowed) {
                let msg = format!("{key} applies only to {kinds} checks, not {kind_name}");
                self.error(at, msg);
            }
        }
        let interval_ms: i64 = self.opt_range(
            "interval_ms",
            c.interval_ms.as_ref(),
            MIN_INTERVAL_MS,
            MAX_MS,
            2000,
        );
        let timeout_ms: i64 = self.opt_range(
            "timeout_ms",
            c.timeout_ms.as_ref(),
            1,
            MAX_MS,
            interval_ms.min(1000),
        );
        let fast_ms: i64 = self.opt_range(
            "fast_interval_ms",
            c.fast_interval_ms.as_ref(),
            MIN_INTERVAL_MS,
            MAX_MS,
            interval_ms,
        );
        let down_ms: i64 = self.opt_range(
            "down_interval_ms",
            c.down_interval_ms.as_ref(),
            MIN_INTERVAL_MS,
            MAX_MS,
            interval_ms,
        );
        let rise = self.opt_range("rise", c.rise.as_ref(), 1, 100, 2);
        let fall = self.opt_range("fall", c.fall.as_ref(), 1, 100, 3);
        let port = self.opt_range("port", c.port.as_ref(), 1, 65535, service_port);
        let initial_up = match c.initial.as_ref().map(|i| (i.get_ref().as_str(), i.span())) {
            None | Some(("down", _)) => false,
            Some(("up", _)) => true,
            Some((other, span)) => {
                self.error(span, format!("initial `{other}`: must be down or up"));
                false
            }
        };
        let kind = match kind_name {
            "none" => None,
            "tcp" => Some(CheckKind::Tcp),
            "http" | "https" => {
                let h = self.http(c);
                Some(if kind_name == "http" {
                    CheckKind::Http(h)
                } else {
                    CheckKind::Https(h)
                })
            }
            "exec" => match &c.command {
                None => {
                    self.error(
                        c.kind.span(),
                        "an exec check needs command = [\"/path\", \"arg\", ...]".into(),
                    );
                    None
                }
                Some(cmd) => {
                    if cmd.get_ref().is_empty() || cmd.get_ref()[0].get_ref().is_empty() {
                        self.error(cmd.span(), "command must name a program".into());
                    }
                    Some(CheckKind::Exec(
                        cmd.get_ref().iter().map(|a| a.get_ref().clone()).collect(),
                    ))
                }
            },
            other => {
                self.error(
                    c.kind.span(),
                    format!("check type `{other}`: must be tcp, http, https, exec or none"),
                );
                None
            }
        };
        let kind = kind.filter(|_| self.errors.len() == before)?;
        Some(CheckSpec {
            kind,
            port,
            interval: ms(interval_ms),
            fast_interval: ms(fast_ms),
            down_interval: ms(down_ms),
            timeout: ms(timeout_ms),
            rise,
            fall,
            initial_up,
        })
    }

    fn http(&mut self, c: &RawCheck) -> HttpCheck {
        let path = match &c.path {
            None => "/".to_string(),
            Some(p) => {
                if !p.get_ref().starts_with('/') || !header_safe(p.get_ref()) {
                    let msg = format!(
                        "path `{}`: must start with / and hold no spaces or control characters",
                        p.get_ref()
                    );
                    self.error(p.span(), msg);
                }
                p.get_ref().clone()
            }
        };
        let host = c.host.as_ref().map(|h| {
            if !header_safe(h.get_ref()) {
                let msg = format!("host `{}`: no spaces or control characters", h.get_ref());
                self.error(h.span(), msg);
            }
            h.get_ref().clone()
        });
        let expect = c.expect.as_ref().map(|e| {
            if e.get_ref().is_empty() {
                self.error(e.span(), "expect must not be empty".into());
            }
            e.get_ref().clone()
        });
        HttpCheck {
            path,
            status: self.opt_range("status", c.status.as_ref(), 100, 599, 200),
            expect,
            host,
            ca_file: c
                .ca_file
                .as_ref()
                .map(|f| PathBuf::from(self.nonempty("ca_file", f))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{check, ConfigError};

    /// The issue's example, verbatim.
    const EXAMPLE: &str = r#"
[[virtual_server]]
protocol = "tcp"                  # tcp | udp
address = "198.51.100.10:80"      # IPv6: "[2001:db8::10]:80"
scheduler = "wlc"                 # as drlb-tool
persistence = 0                   # seconds, optional
instance = "vi1"                  # optional: the VRRP instance that owns this VIP
on_fail = "drain"                 # drain (weight 0) | remove
sorry_server = "198.51.100.30"    # optional: used only while every real server is down

[virtual_server.check]            # the default check of its real servers
type = "http"                     # tcp | http | https | exec
interval_ms = 1000
timeout_ms = 1000
rise = 2
fall = 3
path = "/healthz"                 # http/https
status = 200                      # http/https: expected status
expect = "OK"                     # http/https, optional: body substring
host = "www.example.com"          # http/https, optional: Host header and SNI
# port = 8080                     # optional: check another port than the service's
# command = ["/usr/local/bin/check", "arg"]   # exec: exit 0 = up, killed at timeout_ms

[[virtual_server.real]]
address = "198.51.100.21"
weight = 1
# check = { type = "tcp" }        # optional: overrides the service's check

[[virtual_server.real]]
address = "198.51.100.22"
weight = 3
check = { type = "tcp", port = 8080 }
"#;

    const INSTANCE: &str = "[[instance]]\nname = \"vi1\"\ninterface = \"eth0\"\nvrid = 51\nvirtual_ips = [\"198.51.100.10/32\"]\n";

    fn errors(text: &str) -> Vec<ConfigError> {
        check(text).expect_err("expected errors")
    }

    fn assert_error(text: &str, line: usize, needle: &str) {
        let errs = errors(text);
        assert!(
            errs.iter()
                .any(|e| e.line == line && e.message.contains(needle)),
            "no error at line {line} containing {needle:?}: {errs:?}"
        );
    }

    /// A one-service file with `lines` appended to its check table.
    fn with_check(lines: &str) -> String {
        format!("[[virtual_server]]\nprotocol = \"tcp\"\naddress = \"198.51.100.10:80\"\n[virtual_server.check]\n{lines}\n[[virtual_server.real]]\naddress = \"198.51.100.21\"\n")
    }

    #[test]
    fn example_parses() {
        let text = format!("{INSTANCE}{EXAMPLE}");
        let c = check(&text).unwrap();
        let vs = &c.virtual_servers[0];
        assert_eq!(vs.key().to_string(), "tcp 198.51.100.10:80");
        assert_eq!(
            (vs.scheduler, vs.persistence, vs.on_fail),
            (Scheduler::Wlc, 0, OnFail::Drain)
        );
        assert_eq!(vs.sorry_server, Some("198.51.100.30".parse().unwrap()));
        assert_eq!(vs.instance.as_deref(), Some("vi1"));
        let line_of = |needle: &str, nth: usize| {
            text.lines()
                .enumerate()
                .filter(|(_, l)| l.starts_with(needle))
                .nth(nth)
                .unwrap()
                .0
                + 1
        };
        assert_eq!(vs.line, line_of("[[virtual_server]]", 0));
        let r1 = &vs.reals[0];
        let spec = r1.check.as_ref().unwrap();
        assert_eq!(
            spec.kind,
            CheckKind::Http(HttpCheck {
                path: "/healthz".into(),
                status: 200,
                expect: Some("OK".into()),
                host: Some("www.example.com".into()),
                ca_file: None,
            })
        );
        assert_eq!((spec.port, spec.rise, spec.fall), (80, 2, 3));
        assert_eq!((spec.interval, spec.timeout), (ms(1000), ms(1000)));
        assert_eq!(
            (spec.fast_interval, spec.down_interval),
            (ms(1000), ms(1000))
        );
        assert!(!spec.initial_up);
        let r2 = &vs.reals[1];
        assert_eq!(
            (r2.weight, r2.line),
            (3, line_of("[[virtual_server.real]]", 1))
        );
        let spec2 = r2.check.as_ref().unwrap();
        assert_eq!((&spec2.kind, spec2.port), (&CheckKind::Tcp, 8080));
        assert_eq!(
            spec2.interval,
            ms(2000),
            "a real's check replaces the service's whole"
        );
    }

    #[test]
    fn defaults() {
        let c = check("[[virtual_server]]\nprotocol = \"udp\"\naddress = \"[2001:db8::10]:53\"\n[[virtual_server.real]]\naddress = \"2001:db8::21\"\n").unwrap();
        let vs = &c.virtual_servers[0];
        assert_eq!(
            (vs.proto, vs.scheduler, vs.on_fail),
            (17, Scheduler::Wlc, OnFail::Drain)
        );
        assert_eq!(
            (vs.slow_start, vs.panic_threshold, vs.sorry_server),
            (Duration::ZERO, 0, None)
        );
        assert_eq!((vs.reals[0].weight, &vs.reals[0].check), (1, &None));
        let spec = check(&with_check("type = \"tcp\""))
            .unwrap()
            .virtual_servers[0]
            .reals[0]
            .check
            .clone()
            .unwrap();
        assert_eq!(
            (spec.interval, spec.timeout, spec.rise, spec.fall),
            (ms(2000), ms(1000), 2, 3)
        );
        let fast = check(&with_check("type = \"tcp\"\ninterval_ms = 300"))
            .unwrap()
            .virtual_servers[0]
            .reals[0]
            .check
            .clone()
            .unwrap();
        assert_eq!(
            (fast.timeout, fast.fast_interval, fast.down_interval),
            (ms(300), ms(300), ms(300))
        );
    }

    #[test]
    fn every_kind_and_key() {
        let spec = |lines: &str| {
            check(&with_check(lines)).unwrap().virtual_servers[0].reals[0]
                .check
                .clone()
        };
        let s = spec("type = \"https\"\nca_file = \"/etc/ca.pem\"\nfast_interval_ms = 200\ndown_interval_ms = 5000\ninitial = \"up\"").unwrap();
        let CheckKind::Https(h) = &s.kind else {
            panic!("{s:?}")
        };
        assert_eq!((h.path.as_str(), h.status), ("/", 200));
        assert_eq!(h.ca_file, Some(PathBuf::from("/etc/ca.pem")));
        assert_eq!(
            (s.fast_interval, s.down_interval, s.initial_up),
            (ms(200), ms(5000), true)
        );
        assert_eq!(
            spec("type = \"exec\"\ncommand = [\"/bin/check\", \"-v\"]")
                .unwrap()
                .kind,
            CheckKind::Exec(vec!["/bin/check".into(), "-v".into()])
        );
        assert_eq!(spec("type = \"none\""), None);
    }

    #[test]
    fn service_level_keys() {
        let text = format!("{INSTANCE}[[virtual_server]]\nprotocol = \"tcp\"\naddress = \"198.51.100.10:443\"\nscheduler = \"mh\"\npersistence = 300\nseed = 7\nmh_port = true\non_fail = \"remove\"\nslow_start_s = 30\npanic_threshold = 50\n");
        let c = check(&text).unwrap();
        let vs = &c.virtual_servers[0];
        assert_eq!(
            (vs.scheduler, vs.persistence, vs.seed, vs.mh_port),
            (Scheduler::Maglev, 300, 7, true)
        );
        assert_eq!(
            (vs.on_fail, vs.slow_start, vs.panic_threshold),
            (OnFail::Remove, Duration::from_secs(30), 50)
        );
        assert_eq!(vs.instance.as_deref(), Some("vi1"), "inferred from the VIP");
        assert!(c.virtual_server(&vs.key()).is_some());
    }

    #[test]
    fn owner_instance() {
        let vs = "[[virtual_server]]\nprotocol = \"tcp\"\naddress = \"198.51.100.99:80\"\ninstance = \"vi1\"\n";
        let c = check(&format!("{INSTANCE}{vs}")).unwrap();
        assert_eq!(
            c.virtual_servers[0].instance.as_deref(),
            Some("vi1"),
            "named explicitly"
        );
        assert_error(
            &format!("{INSTANCE}{}", vs.replace("vi1", "vi9")),
            9,
            "instance `vi9` is not defined",
        );
        let v6 = "[[virtual_server]]\nprotocol = \"tcp\"\naddress = \"[2001:db8::10]:80\"\ninstance = \"vi1\"\n";
        assert_error(&format!("{INSTANCE}{v6}"), 9, "other address family");
        let two = format!(
            "{INSTANCE}{}",
            INSTANCE
                .replace("\"vi1\"", "\"vi2\"")
                .replace("vrid = 51", "vrid = 52")
        );
        let held = "[[virtual_server]]\nprotocol = \"tcp\"\naddress = \"198.51.100.10:80\"\n";
        assert_error(&format!("{two}{held}"), 13, "held by instances vi1 and vi2");
    }

    #[test]
    fn service_errors_have_lines() {
        let base = "[[virtual_server]]\nprotocol = \"tcp\"\naddress = \"198.51.100.10:80\"\n";
        assert_error(&base.replace("tcp", "sctp"), 2, "must be tcp or udp");
        assert_error(&base.replace(":80", ""), 3, "bad service address");
        assert_error(&base.replace(":80", ":0"), 3, "port 0");
        assert_error(
            &format!("{base}scheduler = \"fifo\"\n"),
            4,
            "unknown scheduler `fifo`",
        );
        assert_error(
            &format!("{base}persistence = -1\n"),
            4,
            "persistence -1 out of range",
        );
        assert_error(
            &format!("{base}on_fail = \"ignore\"\n"),
            4,
            "must be drain or remove",
        );
        assert_error(
            &format!("{base}sorry_server = \"2001:db8::1\"\n"),
            4,
            "not of the service's address family",
        );
        assert_error(
            &format!("{base}sorry_server = \"nope\"\n"),
            4,
            "not an IP address",
        );
        assert_error(
            &format!("{base}panic_threshold = 101\n"),
            4,
            "panic_threshold 101 out of range",
        );
        assert_error(
            &format!("{base}slow_start_s = 7200\n"),
            4,
            "slow_start_s 7200 out of range",
        );
        assert_error(
            &format!("{base}colour = \"blue\"\n"),
            4,
            "unknown field `colour`",
        );
        assert_error(&format!("{base}{base}"), 6, "already defined at line 1");
        let real = |body: &str| {
            format!("{base}sorry_server = \"198.51.100.30\"\n[[virtual_server.real]]\n{body}\n")
        };
        assert_error(
            &real("address = \"198.51.100.21\"\nweight = 70000"),
            7,
            "weight 70000 out of range",
        );
        assert_error(
            &real("address = \"2001:db8::21\""),
            6,
            "not of the service's address family",
        );
        assert_error(&real("address = \"0.0.0.0\""), 6, "not a unicast address");
        assert_error(
            &real("address = \"198.51.100.30\""),
            6,
            "both a real server and the sorry_server",
        );
        let twice = format!("{base}[[virtual_server.real]]\naddress = \"198.51.100.21\"\n[[virtual_server.real]]\naddress = \"198.51.100.21\"\n");
        assert_error(&twice, 7, "already listed at line 4");
    }

    #[test]
    fn check_errors_have_lines() {
        // with_check: the check's keys start on line 5.
        assert_error(
            &with_check("type = \"ping\""),
            5,
            "must be tcp, http, https, exec or none",
        );
        assert_error(
            &with_check("type = \"tcp\"\npath = \"/\""),
            6,
            "path applies only to http and https checks, not tcp",
        );
        assert_error(
            &with_check("type = \"http\"\ncommand = [\"x\"]"),
            6,
            "command applies only to exec",
        );
        assert_error(
            &with_check("type = \"http\"\nca_file = \"/ca\""),
            6,
            "ca_file applies only to https",
        );
        assert_error(&with_check("type = \"exec\""), 5, "needs command");
        assert_error(
            &with_check("type = \"exec\"\ncommand = []"),
            6,
            "must name a program",
        );
        assert_error(
            &with_check("type = \"http\"\npath = \"healthz\""),
            6,
            "must start with /",
        );
        assert_error(
            &with_check("type = \"http\"\npath = \"/a b\""),
            6,
            "no spaces",
        );
        assert_error(
            &with_check("type = \"http\"\nhost = \"a\\r\\nX-Evil: 1\""),
            6,
            "no spaces or control",
        );
        assert_error(
            &with_check("type = \"http\"\nstatus = 99"),
            6,
            "status 99 out of range",
        );
        assert_error(
            &with_check("type = \"http\"\nexpect = \"\""),
            6,
            "expect must not be empty",
        );
        assert_error(
            &with_check("type = \"tcp\"\ninterval_ms = 5"),
            6,
            "interval_ms 5 out of range",
        );
        assert_error(
            &with_check("type = \"tcp\"\ntimeout_ms = 0"),
            6,
            "timeout_ms 0 out of range",
        );
        assert_error(
            &with_check("type = \"tcp\"\nrise = 0"),
            6,
            "rise 0 out of range",
        );
        assert_error(
            &with_check("type = \"tcp\"\nfall = 101"),
            6,
            "fall 101 out of range",
        );
        assert_error(
            &with_check("type = \"tcp\"\nport = 65536"),
            6,
            "port 65536 out of range",
        );
        assert_error(
            &with_check("type = \"tcp\"\ninitial = \"maybe\""),
            6,
            "must be down or up",
        );
        assert_error(
            &with_check("type = \"tcp\"\nintervl_ms = 5"),
            6,
            "unknown field `intervl_ms`",
        );
        // A bad check is reported once, at its own line, not per real.
        let errs = errors(&with_check("type = \"ping\""));
        assert_eq!(errs.len(), 1, "{errs:?}");
    }

    #[test]
    fn identical_specs_are_equal() {
        let text = format!("{INSTANCE}{EXAMPLE}\n[[virtual_server]]\nprotocol = \"tcp\"\naddress = \"198.51.100.11:80\"\n[virtual_server.check]\ntype = \"http\"\ninterval_ms = 1000\ntimeout_ms = 1000\npath = \"/healthz\"\nexpect = \"OK\"\nhost = \"www.example.com\"\n[[virtual_server.real]]\naddress = \"198.51.100.21\"\n");
        let c = check(&text).unwrap();
        assert_eq!(
            c.virtual_servers[0].reals[0].check,
            c.virtual_servers[1].reals[0].check
        );
    }
}
