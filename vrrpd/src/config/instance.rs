//! `[[instance]]`: a VRRP virtual router.
//!
//! ```toml
//! [[instance]]
//! name = "vi1"
//! interface = "eth0"
//! vrid = 51
//! priority = 150            # 1..255, default 100
//! version = 3               # 3 (default) or 2
//! advert_interval_ms = 1000
//! preempt = true
//! preempt_delay_ms = 0
//! virtual_ips = ["198.51.100.10/32"]
//! # optional: unicast_src, unicast_peers = [..], auth_pass (v2),
//! # track_interfaces, track_scripts, track_files (see track.rs),
//! # notify = "/path/script", lb = true (drive drlb)
//! use_vmac = true           # or the macvlan's name; default "vrrp.<vrid>"
//! garp_master_delay_ms = 5000   # second GARP burst after becoming master; 0: none
//! garp_master_repeat = 5        # GARPs per burst
//! garp_master_refresh_ms = 0    # a GARP this often while master; 0: off
//! ```

use super::track::Trackers;
use super::{TrackFile, TrackInterface, TrackScript, Validator};
use crate::fsm;
use crate::packet::{self, Auth, Version};
use serde::Deserialize;
use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use toml::Spanned;

/// Linux's IFNAMSIZ less the terminating NUL.
const MAX_IFNAME: usize = 15;
/// Largest VRRPv3 interval: 4095 cs.
const MAX_V3_INTERVAL_MS: i64 = 40_950;
/// Largest VRRPv2 interval: 255 s.
const MAX_V2_INTERVAL_MS: i64 = 255_000;

/// One `[[instance]]`: a virtual router on one interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstanceConfig {
    /// Unique instance name.
    pub name: String,
    /// Interface VRRP runs on.
    pub interface: String,
    /// Virtual router ID, 1..=255.
    pub vrid: u8,
    /// Priority, 1..=255 (255: address owner). Default 100.
    pub priority: u8,
    /// Protocol version. Default 3.
    pub version: Version,
    /// Advertisement interval in milliseconds (v3: multiple of 10 up to
    /// 40950; v2: whole seconds up to 255 s). Default 1000.
    pub advert_interval_ms: u32,
    /// Preempt a lower-priority master. Default true.
    pub preempt: bool,
    /// Delay before preempting, in milliseconds. Default 0.
    pub preempt_delay_ms: u64,
    /// Virtual addresses, all of one family (IPv4 only for v2).
    pub virtual_ips: Vec<VirtualIp>,
    /// Source address for unicast adverts.
    pub unicast_src: Option<IpAddr>,
    /// Unicast peers; empty means multicast.
    pub unicast_peers: Vec<IpAddr>,
    /// VRRPv2 simple password (at most 8 bytes).
    pub auth_pass: Option<String>,
    /// Tracked interfaces: down means Fault (weight 0), or a priority
    /// offset.
    pub track_interfaces: Vec<TrackInterface>,
    /// Tracked scripts (`[[track_script]]`), with this instance's weights.
    pub track_scripts: Vec<TrackScript>,
    /// Tracked files (`[[track_file]]`), with this instance's weights.
    pub track_files: Vec<TrackFile>,
    /// Script run on state changes.
    pub notify: Option<PathBuf>,
    /// Drive drlb (active on master, standby otherwise). Default true.
    pub lb: bool,
    /// The macvlan carrying the virtual MAC and the VIPs (`use_vmac`),
    /// by name; `None`: the VIPs go on the interface itself.
    pub vmac: Option<String>,
    /// GARP timing on becoming master, and while master.
    pub garp: crate::garp::GarpConfig,
    /// Line of the `[[instance]]` header.
    pub line: usize,
}

impl InstanceConfig {
    /// Whether the virtual addresses are IPv6.
    pub fn is_ipv6(&self) -> bool {
        self.virtual_ips.first().is_some_and(|v| v.addr.is_ipv6())
    }

    /// The advertisement interval in centiseconds.
    pub fn advert_interval_cs(&self) -> u16 {
        u16::try_from(self.advert_interval_ms / 10).unwrap_or(u16::MAX)
    }

    /// The configured v2 authentication.
    pub fn auth(&self) -> Auth {
        self.auth_pass
            .as_deref()
            .and_then(Auth::pass)
            .unwrap_or_default()
    }

    /// The state machine's parameters; `primary_addr` is the interface's
    /// primary address (or `unicast_src`).
    pub fn fsm_params(&self, primary_addr: IpAddr) -> fsm::Params {
        fsm::Params {
            vrid: self.vrid,
            priority: self.priority,
            version: self.version,
            advert_interval_cs: self.advert_interval_cs(),
            preempt: self.preempt,
            preempt_delay: std::time::Duration::from_millis(self.preempt_delay_ms),
            primary_addr,
        }
    }

    /// The receive checks for this instance's adverts.
    pub fn rx_check(&self) -> packet::RxCheck {
        packet::RxCheck {
            version: self.version,
            vrid: self.vrid,
            priority: self.priority,
            auth: self.auth(),
            advert_interval_cs: u32::from(self.advert_interval_cs()),
            vips: self.virtual_ips.iter().map(|v| v.addr).collect(),
        }
    }
}

/// A virtual address with its prefix length, written `ADDR[/LEN]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct VirtualIp {
    /// The address.
    pub addr: IpAddr,
    /// Prefix length; defaults to 32 or 128.
    pub prefix_len: u8,
}

impl std::str::FromStr for VirtualIp {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (addr, len) = match s.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (s, None),
        };
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| format!("`{s}` is not an IP address"))?;
        let max = if addr.is_ipv6() { 128 } else { 32 };
        let prefix_len = match len {
            None => max,
            Some(l) => l
                .parse()
                .ok()
                .filter(|&l| l <= max)
                .ok_or_else(|| format!("`{s}`: prefix length must be 0..={max}"))?,
        };
        Ok(VirtualIp { addr, prefix_len })
    }
}

impl fmt::Display for VirtualIp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix_len)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawInstance {
    name: Spanned<String>,
    interface: Spanned<String>,
    vrid: Spanned<i64>,
    priority: Option<Spanned<i64>>,
    version: Option<Spanned<i64>>,
    advert_interval_ms: Option<Spanned<i64>>,
    preempt: Option<bool>,
    preempt_delay_ms: Option<Spanned<i64>>,
    virtual_ips: Spanned<Vec<Spanned<String>>>,
    unicast_src: Option<Spanned<String>>,
    unicast_peers: Option<Vec<Spanned<String>>>,
    auth_pass: Option<Spanned<String>>,
    track_interfaces: Option<Vec<Spanned<toml::Value>>>,
    track_scripts: Option<Vec<Spanned<toml::Value>>>,
    track_files: Option<Vec<Spanned<toml::Value>>>,
    notify: Option<Spanned<String>>,
    use_vmac: Option<Spanned<UseVmac>>,
    garp_master_delay_ms: Option<Spanned<i64>>,
    garp_master_repeat: Option<Spanned<i64>>,
    garp_master_refresh_ms: Option<Spanned<i64>>,
    lb: Option<bool>,
}

impl RawInstance {
    /// Its name and priority (100 unless given, or out of range), for the
    /// sync groups' checks.
    pub(super) fn name_and_priority(&self) -> (String, u8) {
        let p = self.priority.as_ref().map_or(100, |p| *p.get_ref());
        (self.name.get_ref().clone(), u8::try_from(p).unwrap_or(100))
    }
}

/// `use_vmac = true`, or the macvlan's name.
#[derive(Deserialize)]
#[serde(untagged)]
enum UseVmac {
    On(bool),
    Name(String),
}

/// The default name of an instance's macvlan, as keepalived names it.
pub fn default_vmac_name(vrid: u8) -> String {
    format!("vrrp.{vrid}")
}

impl Validator {
    /// Check one instance; `None` if anything in it is wrong.
    pub(super) fn instance(
        &mut self,
        raw: &Spanned<RawInstance>,
        trackers: &Trackers,
    ) -> Option<InstanceConfig> {
        let before = self.errors.len();
        let line = self.line(raw.span());
        let r = raw.get_ref();
        let name = self.nonempty("name", &r.name);
        let interface = self.ifname(&r.interface);
        let vrid = self.in_range("vrid", &r.vrid, 1, 255);
        let priority = r
            .priority
            .as_ref()
            .map_or(100, |p| self.in_range("priority", p, 1, 255));
        let version = self.version(r.version.as_ref());
        let advert_interval_ms = self.interval(version, r.advert_interval_ms.as_ref());
        let preempt_delay_ms = r
            .preempt_delay_ms
            .as_ref()
            .map_or(0, |d| self.in_range("preempt_delay_ms", d, 0, i64::MAX));
        let virtual_ips = self.virtual_ips(version, &r.virtual_ips);
        let family_v6 = virtual_ips.first().map(|v| v.addr.is_ipv6());
        let unicast_src = r
            .unicast_src
            .as_ref()
            .and_then(|s| self.addr("unicast_src", s, family_v6));
        let unicast_peers = r
            .unicast_peers
            .iter()
            .flatten()
            .filter_map(|p| self.addr("unicast_peers", p, family_v6))
            .collect();
        let auth_pass = r
            .auth_pass
            .as_ref()
            .and_then(|a| self.auth_pass(version, a));
        let track_interfaces = self.track_interfaces(r.track_interfaces.as_ref());
        let track_scripts = self.track_scripts(r.track_scripts.as_ref(), trackers);
        let track_files = self.track_files(r.track_files.as_ref(), trackers);
        let notify = r
            .notify
            .as_ref()
            .map(|n| PathBuf::from(self.nonempty("notify", n)));
        let vmac = r.use_vmac.as_ref().and_then(|v| match v.get_ref() {
            UseVmac::On(false) => None,
            UseVmac::On(true) => Some(default_vmac_name(vrid)),
            UseVmac::Name(n) => Some(self.ifname(&Spanned::new(v.span(), n.clone()))),
        });
        if let (Some(v), Some(name)) = (r.use_vmac.as_ref(), vmac.as_ref()) {
            if *name == interface {
                self.error(
                    v.span(),
                    format!("use_vmac: the macvlan cannot be named {name}, as its interface is"),
                );
            }
        }
        let ms = |v: &mut Self, key: &str, x: &Option<Spanned<i64>>, default: u64| {
            x.as_ref()
                .map_or(default, |d| v.in_range(key, d, 0, 3_600_000))
        };
        let garp = crate::garp::GarpConfig {
            delay: std::time::Duration::from_millis(ms(
                self,
                "garp_master_delay_ms",
                &r.garp_master_delay_ms,
                5000,
            )),
            repeat: r
                .garp_master_repeat
                .as_ref()
                .map_or(5, |n| self.in_range("garp_master_repeat", n, 1, 255)),
            refresh: std::time::Duration::from_millis(ms(
                self,
                "garp_master_refresh_ms",
                &r.garp_master_refresh_ms,
                0,
            )),
        };
        (self.errors.len() == before).then(|| InstanceConfig {
            name,
            interface,
            vrid,
            priority,
            version,
            advert_interval_ms,
            preempt: r.preempt.unwrap_or(true),
            preempt_delay_ms,
            virtual_ips,
            unicast_src,
            unicast_peers,
            auth_pass,
            track_interfaces,
            track_scripts,
            track_files,
            notify,
            lb: r.lb.unwrap_or(true),
            vmac,
            garp,
            line,
        })
    }

    pub(super) fn ifname(&mut self, value: &Spanned<String>) -> String {
        let name = value.get_ref();
        let ok = !name.is_empty()
            && name.len() <= MAX_IFNAME
            && !name.contains(|c: char| c == '/' || c.is_whitespace());
        if !ok {
            self.error(
                value.span(),
                format!("`{name}` is not a valid interface name"),
            );
        }
        name.clone()
    }

    fn version(&mut self, value: Option<&Spanned<i64>>) -> Version {
        match value.map(|v| *v.get_ref()) {
            None | Some(3) => Version::V3,
            Some(2) => Version::V2,
            Some(other) => {
                let span = value.map(Spanned::span).unwrap_or_default();
                self.error(
                    span,
                    format!("version {other} not supported: must be 2 or 3"),
                );
                Version::V3
            }
        }
    }

    fn interval(&mut self, version: Version, value: Option<&Spanned<i64>>) -> u32 {
        let Some(value) = value else { return 1000 };
        let ms = *value.get_ref();
        let problem = match version {
            Version::V3 if ms <= 0 || ms > MAX_V3_INTERVAL_MS || ms % 10 != 0 => Some(format!(
                "advert_interval_ms {ms}: VRRPv3 needs a multiple of 10 ms in 10..={MAX_V3_INTERVAL_MS}"
            )),
            Version::V2 if ms <= 0 || ms > MAX_V2_INTERVAL_MS || ms % 1000 != 0 => Some(format!(
                "advert_interval_ms {ms}: VRRPv2 needs whole seconds in 1000..={MAX_V2_INTERVAL_MS}"
            )),
            _ => None,
        };
        match problem {
            Some(message) => {
                self.error(value.span(), message);
                1000
            }
            None => u32::try_from(ms).unwrap_or(1000),
        }
    }

    fn virtual_ips(
        &mut self,
        version: Version,
        list: &Spanned<Vec<Spanned<String>>>,
    ) -> Vec<VirtualIp> {
        if list.get_ref().is_empty() {
            self.error(list.span(), "virtual_ips must not be empty".to_string());
        }
        if list.get_ref().len() > 255 {
            self.error(
                list.span(),
                "at most 255 virtual_ips per instance".to_string(),
            );
        }
        let mut vips: Vec<VirtualIp> = Vec::new();
        for item in list.get_ref() {
            let vip = match item.get_ref().parse::<VirtualIp>() {
                Ok(vip) => vip,
                Err(e) => {
                    self.error(item.span(), e);
                    continue;
                }
            };
            if let Some(problem) = vip_problem(version, &vips, &vip) {
                self.error(item.span(), problem);
            }
            vips.push(vip);
        }
        vips
    }

    /// A unicast address of the instance's family (`v6`, if known).
    fn addr(&mut self, key: &str, value: &Spanned<String>, v6: Option<bool>) -> Option<IpAddr> {
        let Ok(addr) = value.get_ref().parse::<IpAddr>() else {
            self.error(
                value.span(),
                format!("{key}: `{}` is not an IP address", value.get_ref()),
            );
            return None;
        };
        if let Some(why) = not_unicast(addr) {
            self.error(
                value.span(),
                format!("{key}: {addr} is not a unicast address ({why})"),
            );
        }
        if v6.is_some_and(|v6| v6 != addr.is_ipv6()) {
            self.error(
                value.span(),
                format!("{key}: {addr} is not of the virtual_ips' family"),
            );
        }
        Some(addr)
    }

    fn auth_pass(&mut self, version: Version, value: &Spanned<String>) -> Option<String> {
        let pass = value.get_ref();
        if version == Version::V3 {
            self.error(
                value.span(),
                "auth_pass is only allowed with version = 2".to_string(),
            );
        } else if pass.is_empty() || pass.len() > packet::AUTH_LEN {
            self.error(value.span(), "auth_pass must be 1 to 8 bytes".to_string());
        }
        Some(pass.clone())
    }

    /// Two instances may not share a name, nor (interface, vrid, family).
    pub(super) fn duplicate_instances(&mut self, instances: &[Spanned<RawInstance>]) {
        let mut names: HashMap<&str, usize> = HashMap::new();
        let mut routers: HashMap<(&str, i64, bool), (&str, usize)> = HashMap::new();
        let mut vmacs: HashMap<String, (&str, usize)> = HashMap::new();
        for inst in instances {
            let r = inst.get_ref();
            let line = self.line(inst.span());
            if let Some(v) = &r.use_vmac {
                let name = match v.get_ref() {
                    UseVmac::On(false) => None,
                    UseVmac::On(true) => {
                        u8::try_from(*r.vrid.get_ref()).ok().map(default_vmac_name)
                    }
                    UseVmac::Name(n) => Some(n.clone()),
                };
                if let Some(name) = name {
                    if let Some((other, first)) =
                        vmacs.insert(name.clone(), (r.name.get_ref(), line))
                    {
                        let msg = format!(
                            "use_vmac: the macvlan {name} is already instance `{other}`'s (line {first}): name this one, use_vmac = \"...\""
                        );
                        self.error(v.span(), msg);
                    }
                }
            }
            if let Some(first) = names.insert(r.name.get_ref(), line) {
                let msg = format!(
                    "duplicate instance name `{}` (first at line {first})",
                    r.name.get_ref()
                );
                self.error(r.name.span(), msg);
            }
            let v6 = r
                .virtual_ips
                .get_ref()
                .iter()
                .any(|v| v.get_ref().contains(':'));
            let key = (r.interface.get_ref().as_str(), *r.vrid.get_ref(), v6);
            if let Some((other, first)) = routers.insert(key, (r.name.get_ref(), line)) {
                let family = if v6 { "IPv6" } else { "IPv4" };
                let msg = format!(
                    "vrid {} on {} ({family}) already used by instance `{other}` at line {first}",
                    key.1, key.0
                );
                self.error(r.vrid.span(), msg);
            }
        }
    }
}

/// Why `a` is no address of one host, if it is not: what the kernel
/// refuses on an interface (IPv6 unspecified, loopback, multicast), or
/// takes without it meaning anything (IPv4 0.0.0.0 is silently dropped;
/// a multicast or broadcast VIP answers no ARP).
fn not_unicast(a: IpAddr) -> Option<&'static str> {
    match a {
        _ if a.is_unspecified() => Some("unspecified"),
        _ if a.is_loopback() => Some("loopback"),
        _ if a.is_multicast() => Some("multicast"),
        IpAddr::V4(v) if v.is_broadcast() => Some("broadcast"),
        IpAddr::V6(v) if v.to_ipv4_mapped().is_some() => Some("IPv4-mapped IPv6"),
        _ => None,
    }
}

/// What is wrong with adding `vip` to `so_far`, if anything.
fn vip_problem(version: Version, so_far: &[VirtualIp], vip: &VirtualIp) -> Option<String> {
    if let Some(why) = not_unicast(vip.addr) {
        return Some(format!("{}: not a unicast address ({why})", vip.addr));
    }
    if version == Version::V2 && vip.addr.is_ipv6() {
        return Some(format!(
            "{}: VRRPv2 carries IPv4 addresses only; use version = 3",
            vip.addr
        ));
    }
    if so_far
        .first()
        .is_some_and(|f| f.addr.is_ipv6() != vip.addr.is_ipv6())
    {
        return Some(format!(
            "{}: IPv4 and IPv6 virtual_ips mixed in one instance",
            vip.addr
        ));
    }
    if so_far.iter().any(|v| v.addr == vip.addr) {
        return Some(format!("{}: duplicate virtual IP", vip.addr));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::check;

    const EXAMPLE: &str = r#"
[[instance]]
name = "vi1"
interface = "eth0"
vrid = 51
priority = 150            # 1..255
version = 3               # 3 (default) or 2
advert_interval_ms = 1000
preempt = true
preempt_delay_ms = 0
virtual_ips = ["198.51.100.10/32"]
"#;

    /// A minimal instance (lines 1-5) with each `key = ...` in `lines`
    /// replacing that key's line in place, or appended from line 6 on.
    fn with(lines: &[&str]) -> String {
        let mut text: Vec<String> = [
            "[[instance]]",
            "name = \"vi1\"",
            "interface = \"eth0\"",
            "vrid = 51",
        ]
        .map(String::from)
        .to_vec();
        text.push("virtual_ips = [\"198.51.100.10/32\"]".into());
        for line in lines {
            let prefix = format!("{} =", line.split('=').next().unwrap().trim());
            match text.iter_mut().find(|l| l.starts_with(&prefix)) {
                Some(existing) => *existing = line.to_string(),
                None => text.push(line.to_string()),
            }
        }
        text.join("\n") + "\n"
    }

    /// The single error `text` yields: (line, message).
    fn one_error(text: &str) -> (usize, String) {
        let errs = check(text).expect_err("expected an error");
        assert_eq!(errs.len(), 1, "{errs:?}");
        (errs[0].line, errs[0].message.clone())
    }

    fn assert_error(text: &str, line: usize, needle: &str) {
        let (l, msg) = one_error(text);
        assert!(msg.contains(needle), "{msg:?} lacks {needle:?}");
        assert_eq!(l, line, "{msg}\n{text}");
    }

    #[test]
    fn example_parses() {
        let c = check(EXAMPLE).unwrap();
        let i = &c.instances[0];
        assert_eq!(
            (i.name.as_str(), i.interface.as_str(), i.vrid, i.priority),
            ("vi1", "eth0", 51, 150)
        );
        assert_eq!(
            (
                i.version,
                i.advert_interval_ms,
                i.preempt,
                i.preempt_delay_ms
            ),
            (Version::V3, 1000, true, 0)
        );
        assert_eq!(i.virtual_ips, ["198.51.100.10/32".parse().unwrap()]);
        assert_eq!(i.line, 2);
        assert!(!i.is_ipv6());
    }

    #[test]
    fn defaults() {
        let i = check(&with(&[])).unwrap().instances.remove(0);
        assert_eq!(
            (i.priority, i.version, i.advert_interval_ms),
            (100, Version::V3, 1000)
        );
        assert!(i.preempt && i.lb);
        assert_eq!(
            (i.preempt_delay_ms, i.unicast_src, i.auth_pass, i.notify),
            (0, None, None, None)
        );
        assert!(i.unicast_peers.is_empty() && i.track_interfaces.is_empty());
    }

    #[test]
    fn every_optional_key() {
        let text = with(&[
            "version = 2",
            "advert_interval_ms = 3000",
            "preempt = false",
            "preempt_delay_ms = 5000",
            "unicast_src = \"192.0.2.1\"",
            "unicast_peers = [\"192.0.2.2\", \"192.0.2.3\"]",
            "auth_pass = \"secret\"",
            "track_interfaces = [\"eth1\"]",
            "notify = \"/etc/vrrpd/notify.sh\"",
            "use_vmac = false",
            "lb = false",
            "virtual_ips = [\"198.51.100.10/24\", \"198.51.100.11\"]",
        ]);
        let i = check(&text).unwrap().instances.remove(0);
        assert_eq!(i.version, Version::V2);
        assert_eq!(
            (i.advert_interval_cs(), i.preempt, i.preempt_delay_ms),
            (300, false, 5000)
        );
        assert_eq!(i.unicast_src, Some("192.0.2.1".parse().unwrap()));
        assert_eq!(i.unicast_peers.len(), 2);
        assert_eq!(i.auth(), Auth::pass("secret").unwrap());
        assert_eq!(
            i.track_interfaces,
            [TrackInterface {
                name: "eth1".into(),
                weight: 0
            }]
        );
        assert_eq!(i.notify, Some(PathBuf::from("/etc/vrrpd/notify.sh")));
        assert!(!i.lb);
        let vips: Vec<String> = i.virtual_ips.iter().map(ToString::to_string).collect();
        assert_eq!(vips, ["198.51.100.10/24", "198.51.100.11/32"]);
    }

    #[test]
    fn ipv6_instance() {
        let text = with(&[
            "virtual_ips = [\"2001:db8::10/64\", \"fe80::10\"]",
            "unicast_peers = [\"fe80::2\"]",
        ]);
        let i = check(&text).unwrap().instances.remove(0);
        assert!(i.is_ipv6());
        assert_eq!(i.virtual_ips[1].prefix_len, 128);
    }

    #[test]
    fn derived_fsm_and_rx_parameters() {
        let i = check(&with(&["priority = 200", "advert_interval_ms = 250"]))
            .unwrap()
            .instances
            .remove(0);
        let primary: IpAddr = "192.0.2.1".parse().unwrap();
        let p = i.fsm_params(primary);
        assert_eq!(
            (p.vrid, p.priority, p.advert_interval_cs, p.primary_addr),
            (51, 200, 25, primary)
        );
        assert!(fsm::Instance::new(p).is_ok());
        let rx = i.rx_check();
        assert_eq!(
            (rx.vrid, rx.priority, rx.advert_interval_cs, rx.auth),
            (51, 200, 25, Auth::None)
        );
        assert_eq!(rx.vips, [IpAddr::from([198, 51, 100, 10])]);
    }

    #[test]
    fn syntax_and_type_errors_have_lines() {
        assert_error("[[instance]]\nname = \"vi1\"\nvrid = = 3\n", 3, "");
        assert_error(&with(&["vrid = \"x\""]), 4, "invalid type");
        assert_error(&with(&["priority = 1.5"]), 6, "invalid type");
        assert_error(
            &with(&["name = \"again\"\nname = \"b\""]),
            3,
            "duplicate key",
        );
        assert_error(
            "[[instance]]\nname = \"vi1\"\ninterface = \"eth0\"\nvirtual_ips = []\n",
            1,
            "missing field `vrid`",
        );
    }

    #[test]
    fn unknown_keys() {
        assert_error(&with(&["priorty = 150"]), 6, "unknown field `priorty`");
        assert_error(
            &format!("debug = true\n{}", with(&[])),
            1,
            "unknown field `debug`",
        );
        assert_error(
            "[[instances]]\nname = \"x\"\n",
            1,
            "unknown field `instances`",
        );
    }

    #[test]
    fn vrid_priority_version_ranges() {
        assert_error(
            &with(&["vrid = 0"]),
            4,
            "vrid 0 out of range: must be 1..=255",
        );
        assert_error(&with(&["vrid = 256"]), 4, "vrid 256 out of range");
        assert_error(
            &with(&["priority = 0"]),
            6,
            "priority 0 out of range: must be 1..=255",
        );
        assert_error(&with(&["priority = 300"]), 6, "priority 300 out of range");
        assert_error(
            &with(&["version = 4"]),
            6,
            "version 4 not supported: must be 2 or 3",
        );
        assert_error(
            &with(&["preempt_delay_ms = -1"]),
            6,
            "preempt_delay_ms -1 out of range: must be at least 0",
        );
    }

    #[test]
    fn advert_intervals() {
        assert!(check(&with(&["advert_interval_ms = 10"])).is_ok());
        assert!(check(&with(&["advert_interval_ms = 40950"])).is_ok());
        for bad in [0, 5, 1005, 40960, -10] {
            let text = with(&[&format!("advert_interval_ms = {bad}")]);
            assert_error(&text, 6, "VRRPv3 needs a multiple of 10 ms");
        }
        assert!(check(&with(&["version = 2", "advert_interval_ms = 255000"])).is_ok());
        for bad in [1500, 0, 256_000] {
            let text = with(&["version = 2", &format!("advert_interval_ms = {bad}")]);
            assert_error(&text, 7, "VRRPv2 needs whole seconds");
        }
    }

    #[test]
    fn virtual_ip_errors() {
        assert_error(
            &with(&["virtual_ips = []"]),
            5,
            "virtual_ips must not be empty",
        );
        let mixed = "virtual_ips = [\n  \"198.51.100.10\",\n  \"2001:db8::1\",\n]";
        assert_error(&with(&[mixed]), 7, "IPv4 and IPv6 virtual_ips mixed");
        assert_error(
            &with(&["version = 2", "virtual_ips = [\"2001:db8::1\"]"]),
            5,
            "VRRPv2 carries IPv4 addresses only",
        );
        assert_error(
            &with(&["virtual_ips = [\"198.51.100.300\"]"]),
            5,
            "not an IP address",
        );
        assert_error(
            &with(&["virtual_ips = [\"198.51.100.3/33\"]"]),
            5,
            "prefix length must be 0..=32",
        );
        assert_error(
            &with(&["virtual_ips = [\"10.0.0.1\", \"10.0.0.1/24\"]"]),
            5,
            "duplicate virtual IP",
        );
        let many: Vec<String> = (0..256)
            .map(|i| format!("\"10.0.{}.{}\"", i / 256, i % 256))
            .collect();
        assert_error(
            &with(&[&format!("virtual_ips = [{}]", many.join(","))]),
            5,
            "at most 255",
        );
    }

    #[test]
    fn use_vmac_names_the_macvlan() {
        let vmac = |lines: &[&str]| check(&with(lines)).unwrap().instances.remove(0).vmac;
        assert_eq!(vmac(&["use_vmac = true"]), Some("vrrp.51".into()));
        assert_eq!(vmac(&["use_vmac = \"vmac0\""]), Some("vmac0".into()));
        assert_eq!(vmac(&["use_vmac = false"]), None);
        assert_eq!(vmac(&[]), None);
        assert_error(&with(&["use_vmac = 1"]), 6, "");
        assert_error(
            &with(&["use_vmac = \"a very long name!\""]),
            6,
            "not a valid interface name",
        );
        assert_error(
            &with(&["use_vmac = \"eth0\""]),
            6,
            "the macvlan cannot be named eth0, as its interface is",
        );
    }

    #[test]
    fn two_instances_cannot_share_a_macvlan() {
        let a = two(["a", "51", "198.51.100.10"], ["b", "51", "2001:db8::10"]);
        let text = a.replace("vrid = 51\n", "vrid = 51\nuse_vmac = true\n");
        // lines: b's use_vmac is line 12
        assert_error(
            &text,
            12,
            "use_vmac: the macvlan vrrp.51 is already instance `a`'s (line 1)",
        );
        let named = text.replacen("use_vmac = true", "use_vmac = \"vrrp6.51\"", 2);
        let named = named.replacen("use_vmac = \"vrrp6.51\"", "use_vmac = true", 1);
        assert!(check(&named).is_ok(), "{named}");
    }

    #[test]
    fn garp_tuning() {
        let g = |lines: &[&str]| check(&with(lines)).unwrap().instances.remove(0).garp;
        assert_eq!(g(&[]), crate::garp::GarpConfig::default());
        let t = g(&[
            "garp_master_delay_ms = 0",
            "garp_master_repeat = 2",
            "garp_master_refresh_ms = 60000",
        ]);
        assert_eq!(
            (t.delay, t.repeat, t.refresh),
            (
                std::time::Duration::ZERO,
                2,
                std::time::Duration::from_secs(60)
            )
        );
        assert_error(
            &with(&["garp_master_repeat = 0"]),
            6,
            "garp_master_repeat 0 out of range: must be 1..=255",
        );
        assert_error(
            &with(&["garp_master_refresh_ms = -5"]),
            6,
            "garp_master_refresh_ms -5 out of range",
        );
        assert_error(
            &with(&["garp_master_delay_ms = 3600001"]),
            6,
            "garp_master_delay_ms 3600001 out of range",
        );
    }

    #[test]
    fn addresses_that_are_no_host_are_refused() {
        for (vip, why) in [
            ("0.0.0.0", "unspecified"),
            ("127.0.0.5", "loopback"),
            ("224.0.0.5", "multicast"),
            ("255.255.255.255", "broadcast"),
            ("::", "unspecified"),
            ("::1", "loopback"),
            ("ff02::5", "multicast"),
            ("::ffff:198.51.100.10", "IPv4-mapped"),
        ] {
            assert_error(
                &with(&[&format!("virtual_ips = [\"{vip}\"]")]),
                5,
                &format!("not a unicast address ({why}"),
            );
        }
        assert!(
            check(&with(&["virtual_ips = [\"fe80::10\"]"])).is_ok(),
            "link-local VIPs work"
        );
        assert_error(
            &with(&["unicast_peers = [\"224.0.0.18\"]"]),
            6,
            "unicast_peers: 224.0.0.18 is not a unicast address (multicast)",
        );
        assert_error(
            &with(&["unicast_src = \"0.0.0.0\""]),
            6,
            "unicast_src: 0.0.0.0 is not a unicast address",
        );
    }

    #[test]
    fn auth_pass_errors() {
        assert_error(
            &with(&["auth_pass = \"secret\""]),
            6,
            "auth_pass is only allowed with version = 2",
        );
        assert_error(
            &with(&["version = 2", "auth_pass = \"123456789\""]),
            7,
            "1 to 8 bytes",
        );
        assert_error(
            &with(&["version = 2", "auth_pass = \"\""]),
            7,
            "1 to 8 bytes",
        );
    }

    #[test]
    fn unicast_and_interface_errors() {
        assert_error(
            &with(&["unicast_src = \"2001:db8::1\""]),
            6,
            "unicast_src: 2001:db8::1 is not of the virtual_ips' family",
        );
        assert_error(
            &with(&["unicast_peers = [\"192.0.2.2\", \"nope\"]"]),
            6,
            "unicast_peers: `nope` is not an IP address",
        );
        assert_error(
            &with(&["interface = \"averyveryverylongname\""]),
            3,
            "not a valid interface name",
        );
        assert_error(
            &with(&["track_interfaces = [\"\"]"]),
            6,
            "not a valid interface name",
        );
        assert_error(&with(&["name = \" \""]), 2, "name must not be empty");
        assert_error(&with(&["notify = \"\""]), 6, "notify must not be empty");
    }

    /// Two instances; lines 1-5 and 7-11, vrid on lines 4 and 10.
    fn two(a: [&str; 3], b: [&str; 3]) -> String {
        let inst = |[name, vrid, vip]: [&str; 3]| {
            format!("[[instance]]\nname = \"{name}\"\ninterface = \"eth0\"\nvrid = {vrid}\nvirtual_ips = [\"{vip}\"]\n")
        };
        format!("{}\n{}", inst(a), inst(b))
    }

    #[test]
    fn duplicate_routers_and_names() {
        let text = two(["a", "51", "198.51.100.10"], ["b", "51", "198.51.100.11"]);
        assert_error(
            &text,
            10,
            "vrid 51 on eth0 (IPv4) already used by instance `a` at line 1",
        );
        assert!(check(&two(
            ["a", "51", "198.51.100.10"],
            ["b", "51", "2001:db8::10"]
        ))
        .is_ok());
        assert!(check(&two(
            ["a", "51", "198.51.100.10"],
            ["b", "52", "198.51.100.11"]
        ))
        .is_ok());
        let text = two(["a", "51", "198.51.100.10"], ["a", "52", "198.51.100.11"]);
        assert_error(&text, 8, "duplicate instance name `a` (first at line 1)");
    }

    #[test]
    fn all_semantic_errors_reported_in_line_order() {
        let text = with(&[
            "version = 2",
            "priority = 0",
            "vrid = 0",
            "auth_pass = \"far too long\"",
        ]);
        let errs = check(&text).unwrap_err();
        let lines: Vec<usize> = errs.iter().map(|e| e.line).collect();
        assert_eq!(lines, [4, 7, 8]);
    }
}
