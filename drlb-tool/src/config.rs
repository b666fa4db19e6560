//! The whole configuration as a file: `save` writes it, `apply` diffs it
//! against the running configuration and sends only the difference, and
//! `import-ipvsadm` turns `ipvsadm -Sn` output into it.
//!
//! The file is TOML, one `[[service]]` table per service:
//!
//! ```toml
//! [[service]]
//! protocol = "tcp"
//! address = "198.51.100.10:80"
//! scheduler = "maglev"
//! persistence = 0      # optional
//! seed = 0             # optional
//! mh_port = false      # optional
//! state = "standby"    # optional, "active" by default
//! reals = [
//!   { address = "198.51.100.21", weight = 1 },
//! ]
//! ```
//!
//! A diff is a list of [`Op`]s, each one request to the module; an `Op`
//! prints as the drlb-tool batch line that does the same (`service add
//! ...`), so `apply --dry-run` prints exactly what `apply` will send.

use crate::addr;
use crate::list;
use crate::netlink::{Attr, Client};
use anyhow::{anyhow, bail, Result};
use drlb_core::proto::{self, attr, cmd};
use drlb_core::sched::Scheduler;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};

/// Active or standby: a namespace's (`drlb-tool state`) or a service's
/// (`service add|edit --state`, `state` in the file).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Forward packets to real servers
    #[default]
    Active,
    /// Forward nothing; keep configuration, counters and connections
    Standby,
}

impl State {
    /// Its value on the wire ([`proto::STATE_ACTIVE`] or
    /// [`proto::STATE_STANDBY`]).
    pub fn to_u8(self) -> u8 {
        match self {
            State::Active => proto::STATE_ACTIVE,
            State::Standby => proto::STATE_STANDBY,
        }
    }

    /// From its value on the wire; anything but standby reads as active
    /// (a module without per-service state sends none).
    pub fn from_u8(v: u8) -> Self {
        if v == proto::STATE_STANDBY {
            State::Standby
        } else {
            State::Active
        }
    }

    /// "active" or "standby".
    pub fn name(self) -> &'static str {
        proto::state_name(self.to_u8())
    }

    fn is_active(&self) -> bool {
        *self == State::Active
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A configuration file.
#[derive(Serialize, Deserialize, Debug, Default, PartialEq, Eq, Clone)]
#[serde(deny_unknown_fields)]
pub struct File {
    #[serde(default, rename = "service")]
    pub services: Vec<Service>,
}

/// One service.
#[derive(Serialize, Deserialize, Debug, PartialEq, Eq, Clone)]
#[serde(deny_unknown_fields)]
pub struct Service {
    pub protocol: String,
    /// VIP:PORT, or [IPv6]:PORT.
    pub address: String,
    #[serde(default = "default_scheduler")]
    pub scheduler: String,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub persistence: u32,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub seed: u32,
    #[serde(default, skip_serializing_if = "is_false")]
    pub mh_port: bool,
    /// The service's own switch: a standby service forwards nothing.
    #[serde(default, skip_serializing_if = "State::is_active")]
    pub state: State,
    #[serde(default)]
    pub reals: Vec<Real>,
}

/// One real server.
#[derive(Serialize, Deserialize, Debug, PartialEq, Eq, Clone)]
#[serde(deny_unknown_fields)]
pub struct Real {
    pub address: String,
    #[serde(default = "default_weight")]
    pub weight: u32,
}

fn default_scheduler() -> String {
    "wlc".into()
}
fn default_weight() -> u32 {
    1
}
fn is_zero(v: &u32) -> bool {
    *v == 0
}
fn is_false(v: &bool) -> bool {
    !*v
}

/// A service's identity: protocol and address.
type Key = (u8, SocketAddr);

/// A service checked and normalised.
#[derive(Debug, PartialEq, Eq, Clone)]
struct Checked {
    sched: Scheduler,
    persistence: u32,
    seed: u32,
    mh_port: bool,
    state: State,
    reals: BTreeMap<IpAddr, u32>,
}

fn check(s: &Service, what: &str) -> Result<(Key, Checked)> {
    let proto = addr::proto(&s.protocol).map_err(|e| anyhow!("{what}: {e}"))?;
    let vip = addr::service(&s.address).map_err(|e| anyhow!("{what}: {e}"))?;
    let sched = Scheduler::from_name(s.scheduler.as_bytes())
        .ok_or_else(|| anyhow!("{what}: unknown scheduler '{}'", s.scheduler))?;
    if s.persistence > drlb_core::conn_policy::MAX_TIMEOUT_S {
        bail!(
            "{what}: persistence must be at most {} seconds",
            drlb_core::conn_policy::MAX_TIMEOUT_S
        );
    }
    let mut reals = BTreeMap::new();
    for r in &s.reals {
        let ip = addr::real(&r.address, &vip).map_err(|e| anyhow!("{what}: {e}"))?;
        if r.weight > 65535 {
            bail!(
                "{what}: real server {ip}: weight {} is above 65535",
                r.weight
            );
        }
        if reals.insert(ip, r.weight).is_some() {
            bail!("{what}: real server {ip} is listed twice");
        }
    }
    Ok((
        (proto, vip),
        Checked {
            sched,
            persistence: s.persistence,
            seed: s.seed,
            mh_port: s.mh_port,
            state: s.state,
            reals,
        },
    ))
}

impl File {
    /// Parses and checks a file's text; errors name the file and line.
    pub fn parse(text: &str, name: &str) -> Result<Self> {
        let f: File = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| text[..s.start].matches('\n').count() + 1);
            anyhow!(
                "{name}{}: {}",
                line.map(|l| format!(":{l}")).unwrap_or_default(),
                e.message()
            )
        })?;
        f.checked().map_err(|e| anyhow!("{name}: {e}"))?;
        Ok(f)
    }

    fn checked(&self) -> Result<BTreeMap<Key, Checked>> {
        let mut out = BTreeMap::new();
        for (i, s) in self.services.iter().enumerate() {
            let (k, c) = check(
                s,
                &format!("service {} ({} {})", i + 1, s.protocol, s.address),
            )?;
            if out.insert(k, c).is_some() {
                bail!("service {} {} is listed twice", s.protocol, s.address);
            }
        }
        Ok(out)
    }

    /// The running configuration, as `list` read it.
    pub fn from_running(services: &[list::Service]) -> Self {
        let services = services
            .iter()
            .map(|s| {
                let ip: IpAddr = s.address.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]));
                Service {
                    protocol: s.protocol.to_string(),
                    address: addr::with_port(ip, s.port),
                    scheduler: s.scheduler.clone(),
                    persistence: s.persistence,
                    seed: s.seed,
                    mh_port: s.mh_port,
                    state: s.state,
                    reals: s
                        .reals
                        .iter()
                        .map(|r| Real {
                            address: r.address.clone(),
                            weight: r.weight,
                        })
                        .collect(),
                }
            })
            .collect();
        File { services }
    }

    /// The file's text, stable: services and real servers in order.
    pub fn to_toml(&self) -> Result<String> {
        let mut sorted = self.clone();
        sorted.services.sort_by_key(|s| {
            (
                addr::proto(&s.protocol).unwrap_or(0),
                addr::service(&s.address).ok(),
            )
        });
        for s in &mut sorted.services {
            s.reals.sort_by_key(|r| r.address.parse::<IpAddr>().ok());
        }
        let mut out = String::from(
            "# drlb configuration (drlb-tool save); apply with drlb-tool apply FILE\n",
        );
        for s in &sorted.services {
            out += "\n[[service]]\n";
            out += &format!(
                "protocol = \"{}\"\naddress = \"{}\"\nscheduler = \"{}\"\n",
                s.protocol, s.address, s.scheduler
            );
            if s.persistence != 0 {
                out += &format!("persistence = {}\n", s.persistence);
            }
            if s.seed != 0 {
                out += &format!("seed = {}\n", s.seed);
            }
            if s.mh_port {
                out += "mh_port = true\n";
            }
            if !s.state.is_active() {
                out += &format!("state = \"{}\"\n", s.state);
            }
            out += "reals = [\n";
            for r in &s.reals {
                out += &format!(
                    "  {{ address = \"{}\", weight = {} }},\n",
                    r.address, r.weight
                );
            }
            out += "]\n";
        }
        // What we print must read back as the same configuration.
        debug_assert_eq!(
            File::parse(&out, "save").ok().map(|f| f.checked().ok()),
            Some(sorted.checked().ok())
        );
        Ok(out)
    }
}

/// A service's settings as `service add` or `service edit` gives them:
/// what is `None` (for `mh_port`, false) an add leaves at the module's
/// default and an edit leaves as it is.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `--scheduler`.
    pub scheduler: Option<Scheduler>,
    /// `--persistence`, seconds.
    pub persistence: Option<u32>,
    /// `--seed`.
    pub seed: Option<u32>,
    /// `--mh-port` (an edit cannot clear it).
    pub mh_port: bool,
    /// `--state`.
    pub state: Option<State>,
}

impl Settings {
    /// The attributes that carry them, after the service's key.
    fn attrs(&self, a: &mut Vec<Attr>) {
        if let Some(s) = self.scheduler {
            a.push(Attr::str(attr::SCHEDULER, s.name()));
        }
        if let Some(p) = self.persistence {
            a.push(Attr::u32(attr::PERSISTENCE, p));
        }
        if let Some(s) = self.seed {
            a.push(Attr::u32(attr::MAGLEV_SEED, s));
        }
        if self.mh_port {
            a.push(Attr::u32(attr::FLAGS, proto::SVC_F_MH_PORT));
        }
        if let Some(s) = self.state {
            a.push(Attr::u8(attr::SVC_STATE, s.to_u8()));
        }
    }
}

/// The options as the command line spells them: ` --scheduler rr ...`.
impl fmt::Display for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(s) = self.scheduler {
            write!(f, " --scheduler {}", s.name())?;
        }
        if let Some(p) = self.persistence {
            write!(f, " --persistence {p}")?;
        }
        if let Some(s) = self.seed {
            write!(f, " --seed {s}")?;
        }
        if self.mh_port {
            f.write_str(" --mh-port")?;
        }
        if let Some(s) = self.state {
            write!(f, " --state {s}")?;
        }
        Ok(())
    }
}

/// One change to the running configuration, one request to the module.
/// It prints (`Display`) as the drlb-tool batch line that makes the same
/// change, e.g. `service edit tcp 198.51.100.10:80 --state standby`, and
/// [`Op::send`] makes it.
///
/// `proto` is IPPROTO_TCP (6) or IPPROTO_UDP (17) ([`addr::proto`] parses
/// the names), `vip` the service's address and port; a real server has the
/// VIP's address family. [`Op::send`] leaves the checks to the module,
/// which refuses what is wrong with its own message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// `service add PROTO VIP:PORT [settings]`.
    ServiceAdd {
        proto: u8,
        vip: SocketAddr,
        settings: Settings,
    },
    /// `service edit PROTO VIP:PORT [settings]`: only the settings given.
    ServiceEdit {
        proto: u8,
        vip: SocketAddr,
        settings: Settings,
    },
    /// `service del PROTO VIP:PORT`, with its real servers and connections.
    ServiceDel { proto: u8, vip: SocketAddr },
    /// `real add PROTO VIP:PORT RIP --weight N`.
    RealAdd {
        proto: u8,
        vip: SocketAddr,
        real: IpAddr,
        weight: u32,
    },
    /// `real edit PROTO VIP:PORT RIP --weight N`.
    RealEdit {
        proto: u8,
        vip: SocketAddr,
        real: IpAddr,
        weight: u32,
    },
    /// `real del PROTO VIP:PORT RIP`.
    RealDel {
        proto: u8,
        vip: SocketAddr,
        real: IpAddr,
    },
}

impl Op {
    /// A `service edit` that switches only the service's state (what a
    /// VRRP daemon does per service).
    pub fn set_state(proto: u8, vip: SocketAddr, state: State) -> Self {
        Op::ServiceEdit {
            proto,
            vip,
            settings: Settings {
                state: Some(state),
                ..Settings::default()
            },
        }
    }

    fn key(&self) -> (u8, SocketAddr) {
        match *self {
            Op::ServiceAdd { proto, vip, .. }
            | Op::ServiceEdit { proto, vip, .. }
            | Op::ServiceDel { proto, vip }
            | Op::RealAdd { proto, vip, .. }
            | Op::RealEdit { proto, vip, .. }
            | Op::RealDel { proto, vip, .. } => (proto, vip),
        }
    }

    /// The request: its command and attributes.
    pub fn request(&self) -> (u8, Vec<Attr>) {
        let (proto, vip) = self.key();
        let mut a = vec![
            Attr::u8(attr::PROTO, proto),
            Attr::bytes(attr::VIP, addr::bytes(vip.ip())),
            Attr::u16(attr::PORT, vip.port()),
        ];
        let real =
            |a: &mut Vec<Attr>, ip: &IpAddr| a.push(Attr::bytes(attr::REAL, addr::bytes(*ip)));
        let c = match self {
            Op::ServiceAdd { settings, .. } => {
                settings.attrs(&mut a);
                cmd::SERVICE_NEW
            }
            Op::ServiceEdit { settings, .. } => {
                settings.attrs(&mut a);
                cmd::SERVICE_SET
            }
            Op::ServiceDel { .. } => cmd::SERVICE_DEL,
            Op::RealAdd {
                real: ip, weight, ..
            }
            | Op::RealEdit {
                real: ip, weight, ..
            } => {
                real(&mut a, ip);
                a.push(Attr::u32(attr::WEIGHT, *weight));
                if matches!(self, Op::RealAdd { .. }) {
                    cmd::REAL_NEW
                } else {
                    cmd::REAL_SET
                }
            }
            Op::RealDel { real: ip, .. } => {
                real(&mut a, ip);
                cmd::REAL_DEL
            }
        };
        (c, a)
    }

    /// Sends the request; an error carries the module's own message.
    pub fn send(&self, nl: &mut Client) -> Result<()> {
        let (c, a) = self.request();
        nl.request(c, a, false)?;
        Ok(())
    }
}

/// The batch line: `service add tcp 198.51.100.10:80 --scheduler rr`.
impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (proto, vip) = self.key();
        let s = format!("{} {vip}", addr::proto_name(proto));
        match self {
            Op::ServiceAdd { settings, .. } => write!(f, "service add {s}{settings}"),
            Op::ServiceEdit { settings, .. } => write!(f, "service edit {s}{settings}"),
            Op::ServiceDel { .. } => write!(f, "service del {s}"),
            Op::RealAdd { real, weight, .. } => write!(f, "real add {s} {real} --weight {weight}"),
            Op::RealEdit { real, weight, .. } => {
                write!(f, "real edit {s} {real} --weight {weight}")
            }
            Op::RealDel { real, .. } => write!(f, "real del {s} {real}"),
        }
    }
}

/// What differs between `old`'s settings and `c`'s (all of `c`'s that are
/// not the defaults, for a new service), the state aside.
fn settings(c: &Checked, old: Option<&Checked>) -> Settings {
    Settings {
        scheduler: old.is_none_or(|o| o.sched != c.sched).then_some(c.sched),
        persistence: old
            .map_or(c.persistence != 0, |o| o.persistence != c.persistence)
            .then_some(c.persistence),
        seed: old
            .map_or(c.seed != 0, |o| o.seed != c.seed)
            .then_some(c.seed),
        mh_port: c.mh_port && old.is_none_or(|o| !o.mh_port),
        state: None,
    }
}

/// A new service with its real servers. A standby service is created
/// standby, so that it never forwards on this director before it is
/// switched.
fn create((proto, vip): Key, w: &Checked, out: &mut Vec<Op>) {
    let mut settings = settings(w, None);
    settings.state = (w.state == State::Standby).then_some(State::Standby);
    out.push(Op::ServiceAdd {
        proto,
        vip,
        settings,
    });
    for (ip, wt) in &w.reals {
        out.push(Op::RealAdd {
            proto,
            vip,
            real: *ip,
            weight: *wt,
        });
    }
}

/// The operations that turn `running` into `wanted`, touching nothing
/// else: unchanged services and real servers keep their connections and
/// counters. New capacity comes before removals. A service that goes
/// standby does so first; one that goes active does so once its real
/// servers are in place.
pub fn diff(running: &File, wanted: &File) -> Result<Vec<Op>> {
    let have = running.checked()?;
    let want = wanted.checked()?;
    let mut out = vec![];
    for (&k, w) in &want {
        let (proto, vip) = k;
        let Some(h) = have.get(&k) else {
            create(k, w, &mut out);
            continue;
        };
        if h.mh_port && !w.mh_port {
            // The flag cannot be cleared by an edit: replace the service.
            out.push(Op::ServiceDel { proto, vip });
            create(k, w, &mut out);
            continue;
        }
        let mut edit = settings(w, Some(h));
        let activate = h.state == State::Standby && w.state == State::Active;
        if h.state == State::Active && w.state == State::Standby {
            edit.state = Some(State::Standby);
        }
        if edit != Settings::default() {
            out.push(Op::ServiceEdit {
                proto,
                vip,
                settings: edit,
            });
        }
        for (ip, wt) in &w.reals {
            let real = *ip;
            match h.reals.get(ip) {
                None => out.push(Op::RealAdd {
                    proto,
                    vip,
                    real,
                    weight: *wt,
                }),
                Some(old) if old != wt => out.push(Op::RealEdit {
                    proto,
                    vip,
                    real,
                    weight: *wt,
                }),
                Some(_) => {}
            }
        }
        for ip in h.reals.keys().filter(|ip| !w.reals.contains_key(ip)) {
            out.push(Op::RealDel {
                proto,
                vip,
                real: *ip,
            });
        }
        if activate {
            out.push(Op::set_state(proto, vip, State::Active));
        }
    }
    for &(proto, vip) in have.keys().filter(|k| !want.contains_key(k)) {
        out.push(Op::ServiceDel { proto, vip });
    }
    Ok(out)
}

fn ipvs_scheduler(s: &str) -> Result<&'static str> {
    Ok(match s {
        "rr" => "rr",
        "wrr" => "wrr",
        "lc" => "lc",
        "wlc" => "wlc",
        "sh" => "sh",
        "mh" => "maglev",
        other => bail!("scheduler '{other}' has no drlb equivalent (rr, wrr, lc, wlc, sh, mh)"),
    })
}

/// Reads `ipvsadm -Sn` output (the direct-routing entries) into a file.
/// Anything drlb cannot do the same way (NAT or tunnel forwarding, firewall
/// marks, another port on the real server) is an error naming its line.
pub fn import_ipvsadm(text: &str) -> Result<File> {
    let mut services: Vec<Service> = vec![];
    for (n, line) in text.lines().enumerate() {
        let at = |e: anyhow::Error| anyhow!("line {}: {e}: {}", n + 1, line.trim());
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.is_empty() || words[0].starts_with('#') {
            continue;
        }
        let mut proto = None;
        let mut vip = None;
        let (mut real, mut weight, mut sched, mut persistence) = (None, 1u32, "wlc", 0u32);
        let mut mh_port = false;
        let mut fwd = "-g";
        let mut it = words[1..].iter();
        while let Some(w) = it.next() {
            let mut val = || {
                it.next()
                    .copied()
                    .ok_or_else(|| at(anyhow!("{w} needs a value")))
            };
            match *w {
                "-t" | "--tcp-service" => (proto, vip) = (Some("tcp"), Some(val()?)),
                "-u" | "--udp-service" => (proto, vip) = (Some("udp"), Some(val()?)),
                "-f" | "--fwmark-service" => {
                    return Err(at(anyhow!("firewall-mark services are not supported")))
                }
                "--sctp-service" => return Err(at(anyhow!("SCTP services are not supported"))),
                "-s" | "--scheduler" => sched = ipvs_scheduler(val()?).map_err(at)?,
                "-p" | "--persistent" => {
                    persistence = val()?.parse().map_err(|_| at(anyhow!("bad persistence")))?
                }
                "-b" | "--sched-flags" => {
                    for f in val()?.split(',') {
                        match f {
                            "mh-port" => mh_port = true,
                            "mh-fallback" | "sh-fallback" | "sh-port" => {} // drlb skips unusable servers anyway
                            other => {
                                return Err(at(anyhow!(
                                    "scheduler flag '{other}' is not supported"
                                )))
                            }
                        }
                    }
                }
                "-r" | "--real-server" => real = Some(val()?),
                "-w" | "--weight" => {
                    weight = val()?.parse().map_err(|_| at(anyhow!("bad weight")))?
                }
                "-g" | "--gatewaying" => fwd = "-g",
                "-m" | "--masquerading" => fwd = "-m",
                "-i" | "--ipip" => fwd = "-i",
                "-M" | "--netmask" => {
                    if !matches!(val()?, "255.255.255.255" | "128") {
                        return Err(at(anyhow!("persistence netmasks are not supported")));
                    }
                }
                "-x" | "--u-threshold" | "-y" | "--l-threshold" | "--pe" | "--tun-type"
                | "--tun-port" | "--tun-nocsum" | "--tun-csum" | "--tun-remcsum" => {
                    return Err(at(anyhow!("{w} is not supported")));
                }
                other => return Err(at(anyhow!("unknown option '{other}'"))),
            }
        }
        let (Some(proto), Some(vip)) = (proto, vip) else {
            return Err(at(anyhow!("no service address")));
        };
        let svc_addr = addr::service(vip).map_err(at)?;
        match words[0] {
            "-A" | "--add-service" => {
                services.push(Service {
                    protocol: proto.into(),
                    address: svc_addr.to_string(),
                    scheduler: sched.into(),
                    persistence,
                    seed: 0,
                    mh_port,
                    state: State::Active,
                    reals: vec![],
                });
            }
            "-a" | "--add-server" => {
                if fwd != "-g" {
                    return Err(at(anyhow!(
                        "only direct routing (-g) real servers can move to drlb"
                    )));
                }
                let r = real.ok_or_else(|| at(anyhow!("no real server")))?;
                let (ip, port) = match r.parse::<SocketAddr>() {
                    Ok(a) => (a.ip(), a.port()),
                    Err(_) => (
                        r.parse::<IpAddr>()
                            .map_err(|_| at(anyhow!("bad real server '{r}'")))?,
                        svc_addr.port(),
                    ),
                };
                if port != svc_addr.port() {
                    return Err(at(anyhow!(
                        "real server port {port} differs from the service's: DR keeps the port"
                    )));
                }
                let s = services
                    .iter_mut()
                    .find(|s| s.protocol == proto && s.address == svc_addr.to_string())
                    .ok_or_else(|| at(anyhow!("real server before its service")))?;
                s.reals.push(Real {
                    address: ip.to_string(),
                    weight,
                });
            }
            other => return Err(at(anyhow!("'{other}' is not an ipvsadm -S line"))),
        }
    }
    let f = File { services };
    f.checked()?;
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"
[[service]]
protocol = "tcp"
address = "198.51.100.10:80"
scheduler = "rr"
reals = [
  { address = "198.51.100.21", weight = 1 },
  { address = "198.51.100.22", weight = 2 },
]

[[service]]
protocol = "udp"
address = "[2001:db8::10]:53"
scheduler = "maglev"
seed = 7
reals = [{ address = "2001:db8::21" }]
"#;

    fn file(text: &str) -> File {
        File::parse(text, "test.toml").unwrap()
    }

    /// The diff as `apply --dry-run` prints it.
    fn lines(running: &File, wanted: &File) -> Vec<String> {
        diff(running, wanted)
            .unwrap()
            .iter()
            .map(Op::to_string)
            .collect()
    }

    #[test]
    fn a_file_round_trips_through_save() {
        let f = file(FILE);
        assert_eq!(f.services.len(), 2);
        assert_eq!(f.services[1].reals[0].weight, 1, "weight defaults to 1");
        let again = file(&f.to_toml().unwrap());
        assert_eq!(diff(&f, &again).unwrap(), []);
        assert_eq!(
            again.to_toml().unwrap(),
            f.to_toml().unwrap(),
            "saving is stable"
        );
    }

    #[test]
    fn an_unchanged_file_changes_nothing() {
        assert!(diff(&file(FILE), &file(FILE)).unwrap().is_empty());
    }

    #[test]
    fn the_diff_touches_only_what_changed() {
        let mut want = file(FILE);
        want.services[0].reals[1].weight = 5; // re-weight rs2
        want.services[0].reals.push(Real {
            address: "198.51.100.23".into(),
            weight: 1,
        });
        want.services[0].scheduler = "wrr".into();
        want.services.remove(1); // drop the UDP service
        want.services.push(Service {
            protocol: "tcp".into(),
            address: "198.51.100.10:443".into(),
            scheduler: "sh".into(),
            persistence: 300,
            seed: 0,
            mh_port: false,
            state: State::Active,
            reals: vec![Real {
                address: "198.51.100.21".into(),
                weight: 1,
            }],
        });
        assert_eq!(
            lines(&file(FILE), &want),
            [
                "service edit tcp 198.51.100.10:80 --scheduler wrr",
                "real edit tcp 198.51.100.10:80 198.51.100.22 --weight 5",
                "real add tcp 198.51.100.10:80 198.51.100.23 --weight 1",
                "service add tcp 198.51.100.10:443 --scheduler sh --persistence 300",
                "real add tcp 198.51.100.10:443 198.51.100.21 --weight 1",
                "service del udp [2001:db8::10]:53",
            ]
        );
        let mut fewer = file(FILE);
        fewer.services[0].reals.remove(0);
        assert_eq!(
            lines(&file(FILE), &fewer),
            ["real del tcp 198.51.100.10:80 198.51.100.21"]
        );
    }

    #[test]
    fn a_state_change_alone_is_one_edit() {
        let mut standby = file(FILE);
        standby.services[1].state = State::Standby;
        assert_eq!(
            lines(&file(FILE), &standby),
            ["service edit udp [2001:db8::10]:53 --state standby"]
        );
        assert_eq!(
            lines(&standby, &file(FILE)),
            ["service edit udp [2001:db8::10]:53 --state active"]
        );
        assert!(diff(&standby, &standby).unwrap().is_empty());
        // Going standby comes first; going active once the real servers
        // are in place.
        let mut more = standby.clone();
        more.services[1].seed = 8;
        more.services[1].reals.push(Real {
            address: "2001:db8::22".into(),
            weight: 1,
        });
        assert_eq!(
            lines(&file(FILE), &more),
            [
                "service edit udp [2001:db8::10]:53 --seed 8 --state standby",
                "real add udp [2001:db8::10]:53 2001:db8::22 --weight 1",
            ]
        );
        assert_eq!(
            lines(&more, &file(FILE)),
            [
                "service edit udp [2001:db8::10]:53 --seed 7",
                "real del udp [2001:db8::10]:53 2001:db8::22",
                "service edit udp [2001:db8::10]:53 --state active",
            ]
        );
    }

    #[test]
    fn a_new_standby_service_is_created_standby() {
        let mut want = file(FILE);
        want.services[0].state = State::Standby;
        let empty = File::default();
        assert_eq!(
            lines(&empty, &want),
            [
                "service add tcp 198.51.100.10:80 --scheduler rr --state standby",
                "real add tcp 198.51.100.10:80 198.51.100.21 --weight 1",
                "real add tcp 198.51.100.10:80 198.51.100.22 --weight 2",
                "service add udp [2001:db8::10]:53 --scheduler maglev --seed 7",
                "real add udp [2001:db8::10]:53 2001:db8::21 --weight 1",
            ]
        );
        // Replacing a service to clear mh_port keeps it standby too.
        let mut mh = want.clone();
        mh.services[0].mh_port = true;
        mh.services[0].state = State::Active;
        assert_eq!(
            lines(&mh, &want)[..2],
            [
                "service del tcp 198.51.100.10:80",
                "service add tcp 198.51.100.10:80 --scheduler rr --state standby",
            ]
        );
    }

    #[test]
    fn the_state_is_saved_only_when_standby() {
        let f = file(FILE);
        assert!(!f.to_toml().unwrap().contains("state"));
        let mut standby = f.clone();
        standby.services[0].state = State::Standby;
        let text = standby.to_toml().unwrap();
        assert_eq!(text.matches("state = \"standby\"\n").count(), 1);
        assert_eq!(file(&text), {
            let mut s = standby.clone();
            s.services.sort_by_key(|s| s.protocol.clone()); // tcp, udp: as saved
            s
        });
        assert_eq!(
            file("[[service]]\nprotocol = \"tcp\"\naddress = \"198.51.100.10:80\"\nstate = \"active\"\n")
                .services[0]
                .state,
            State::Active
        );
    }

    #[test]
    fn ops_print_as_batch_lines() {
        let vip: SocketAddr = "198.51.100.10:80".parse().unwrap();
        let vip6: SocketAddr = "[2001:db8::10]:53".parse().unwrap();
        let real: IpAddr = "198.51.100.21".parse().unwrap();
        let all = Settings {
            scheduler: Some(Scheduler::Maglev),
            persistence: Some(300),
            seed: Some(7),
            mh_port: true,
            state: Some(State::Standby),
        };
        let cases = [
            (
                Op::ServiceAdd {
                    proto: 6,
                    vip,
                    settings: all.clone(),
                },
                "service add tcp 198.51.100.10:80 --scheduler maglev --persistence 300 --seed 7 --mh-port --state standby",
            ),
            (
                Op::ServiceAdd {
                    proto: 17,
                    vip: vip6,
                    settings: Settings::default(),
                },
                "service add udp [2001:db8::10]:53",
            ),
            (
                Op::ServiceEdit {
                    proto: 6,
                    vip,
                    settings: Settings {
                        persistence: Some(0),
                        ..Settings::default()
                    },
                },
                "service edit tcp 198.51.100.10:80 --persistence 0",
            ),
            (
                Op::set_state(6, vip, State::Active),
                "service edit tcp 198.51.100.10:80 --state active",
            ),
            (
                Op::ServiceDel { proto: 17, vip: vip6 },
                "service del udp [2001:db8::10]:53",
            ),
            (
                Op::RealAdd {
                    proto: 6,
                    vip,
                    real,
                    weight: 1,
                },
                "real add tcp 198.51.100.10:80 198.51.100.21 --weight 1",
            ),
            (
                Op::RealEdit {
                    proto: 6,
                    vip,
                    real,
                    weight: 0,
                },
                "real edit tcp 198.51.100.10:80 198.51.100.21 --weight 0",
            ),
            (
                Op::RealDel {
                    proto: 17,
                    vip: vip6,
                    real: "2001:db8::21".parse().unwrap(),
                },
                "real del udp [2001:db8::10]:53 2001:db8::21",
            ),
        ];
        for (op, line) in &cases {
            assert_eq!(op.to_string(), *line);
        }
    }

    #[test]
    fn ops_encode_their_requests() {
        use crate::netlink::Attrs;
        let vip: SocketAddr = "198.51.100.10:80".parse().unwrap();
        let (c, a) = Op::set_state(6, vip, State::Standby).request();
        assert_eq!(c, cmd::SERVICE_SET);
        assert_eq!(a.u8(attr::PROTO), Some(6));
        assert_eq!(a.raw(attr::VIP), Some(&[198, 51, 100, 10][..]));
        assert_eq!(a.u16(attr::PORT), Some(80));
        assert_eq!(a.u8(attr::SVC_STATE), Some(proto::STATE_STANDBY));
        assert_eq!(a.len(), 4, "only the key and the state");
        let (c, a) = Op::ServiceAdd {
            proto: 17,
            vip,
            settings: Settings {
                scheduler: Some(Scheduler::Sh),
                mh_port: true,
                ..Settings::default()
            },
        }
        .request();
        assert_eq!(c, cmd::SERVICE_NEW);
        assert_eq!(a.string(attr::SCHEDULER).as_deref(), Some("sh"));
        assert_eq!(a.u32(attr::FLAGS), Some(proto::SVC_F_MH_PORT));
        assert_eq!(a.u8(attr::SVC_STATE), None);
        let real: IpAddr = "198.51.100.21".parse().unwrap();
        let (c, a) = Op::RealEdit {
            proto: 6,
            vip,
            real,
            weight: 5,
        }
        .request();
        assert_eq!(
            (c, a.raw(attr::REAL), a.u32(attr::WEIGHT)),
            (cmd::REAL_SET, Some(&[198, 51, 100, 21][..]), Some(5))
        );
        let (c, a) = Op::RealDel {
            proto: 6,
            vip,
            real,
        }
        .request();
        assert_eq!((c, a.u32(attr::WEIGHT)), (cmd::REAL_DEL, None));
        assert_eq!(
            Op::ServiceDel { proto: 6, vip }.request().0,
            cmd::SERVICE_DEL
        );
        assert_eq!(
            Op::RealAdd {
                proto: 6,
                vip,
                real,
                weight: 1
            }
            .request()
            .0,
            cmd::REAL_NEW
        );
    }

    #[test]
    fn bad_files_name_the_problem() {
        let e = |t: &str| File::parse(t, "f.toml").unwrap_err().to_string();
        assert!(e(
            "[[service]]\nprotocol = \"tcp\"\naddress = \"198.51.100.10:80\"\nsched = \"rr\"\n"
        )
        .contains("f.toml:4"));
        assert!(
            e("[[service]]\nprotocol = \"sctp\"\naddress = \"198.51.100.10:80\"\n")
                .contains("unknown protocol")
        );
        assert!(e("[[service]]\nprotocol = \"tcp\"\naddress = \"198.51.100.10:80\"\nscheduler = \"foo\"\n").contains("unknown scheduler"));
        assert!(e("[[service]]\nprotocol = \"tcp\"\naddress = \"198.51.100.10:80\"\nreals = [{ address = \"2001:db8::1\" }]\n")
            .contains("same address family"));
        assert!(e("[[service]]\nprotocol = \"tcp\"\naddress = \"198.51.100.10:80\"\nreals = [{ address = \"198.51.100.21\", weight = 70000 }]\n")
            .contains("above 65535"));
        assert!(e(
            "[[service]]\nprotocol = \"tcp\"\naddress = \"198.51.100.10:80\"\nstate = \"down\"\n"
        )
        .contains("f.toml:4"));
        let twice = "[[service]]\nprotocol = \"tcp\"\naddress = \"198.51.100.10:80\"\n".repeat(2);
        assert!(e(&twice).contains("listed twice"));
    }

    #[test]
    fn ipvsadm_dumps_import() {
        let dump = "-A -t 198.51.100.10:80 -s rr\n\
                    -a -t 198.51.100.10:80 -r 198.51.100.21:80 -g -w 1\n\
                    -a -t 198.51.100.10:80 -r 198.51.100.22:80 -g -w 3\n\
                    -A -u [2001:db8::10]:53 -s mh -b mh-port -p 120\n\
                    -a -u [2001:db8::10]:53 -r [2001:db8::21]:53 -g -w 1\n";
        let f = import_ipvsadm(dump).unwrap();
        let want = File {
            services: vec![
                Service {
                    protocol: "tcp".into(),
                    address: "198.51.100.10:80".into(),
                    scheduler: "rr".into(),
                    persistence: 0,
                    seed: 0,
                    mh_port: false,
                    state: State::Active,
                    reals: vec![
                        Real {
                            address: "198.51.100.21".into(),
                            weight: 1,
                        },
                        Real {
                            address: "198.51.100.22".into(),
                            weight: 3,
                        },
                    ],
                },
                Service {
                    protocol: "udp".into(),
                    address: "[2001:db8::10]:53".into(),
                    scheduler: "maglev".into(),
                    persistence: 120,
                    seed: 0,
                    mh_port: true,
                    state: State::Active,
                    reals: vec![Real {
                        address: "2001:db8::21".into(),
                        weight: 1,
                    }],
                },
            ],
        };
        assert_eq!(f, want);
    }

    #[test]
    fn ipvsadm_entries_drlb_cannot_do_are_refused() {
        let e = |t: &str| import_ipvsadm(t).unwrap_err().to_string();
        assert!(
            e("-A -t 198.51.100.10:80 -s rr\n-a -t 198.51.100.10:80 -r 10.0.0.1:80 -m -w 1\n")
                .contains("line 2: only direct routing")
        );
        assert!(e("-A -f 1 -s rr\n").contains("firewall-mark"));
        assert!(e("-A -t 198.51.100.10:80 -s lblc\n").contains("no drlb equivalent"));
        assert!(e(
            "-A -t 198.51.100.10:80 -s rr\n-a -t 198.51.100.10:80 -r 10.0.0.1:8080 -g -w 1\n"
        )
        .contains("differs"));
        assert!(e("-a -t 198.51.100.10:80 -r 10.0.0.1:80 -g -w 1\n").contains("before its service"));
    }
}
