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
//! reals = [
//!   { address = "198.51.100.21", weight = 1 },
//! ]
//! ```
//!
//! A diff is a list of drlb-tool batch lines (`service add ...`), so
//! `apply --dry-run` prints exactly what `apply` will run.

use crate::addr;
use crate::list;
use anyhow::{anyhow, bail, Result};
use drlb_core::sched::Scheduler;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

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

fn spec((proto, vip): &Key) -> String {
    format!("{} {}", addr::proto_name(*proto), vip)
}

fn settings(c: &Checked, old: Option<&Checked>) -> String {
    let mut out = String::new();
    if old.is_none_or(|o| o.sched != c.sched) {
        out += &format!(" --scheduler {}", c.sched.name());
    }
    if old.map_or(c.persistence != 0, |o| o.persistence != c.persistence) {
        out += &format!(" --persistence {}", c.persistence);
    }
    if old.map_or(c.seed != 0, |o| o.seed != c.seed) {
        out += &format!(" --seed {}", c.seed);
    }
    if c.mh_port && old.is_none_or(|o| !o.mh_port) {
        out += " --mh-port";
    }
    out
}

/// The batch lines that turn `running` into `wanted`, touching nothing
/// else: unchanged services and real servers keep their connections and
/// counters. New capacity comes before removals.
pub fn diff(running: &File, wanted: &File) -> Result<Vec<String>> {
    let have = running.checked()?;
    let want = wanted.checked()?;
    let mut out = vec![];
    for (k, w) in &want {
        let s = spec(k);
        match have.get(k) {
            None => {
                out.push(format!("service add {s}{}", settings(w, None)));
                for (ip, wt) in &w.reals {
                    out.push(format!("real add {s} {ip} --weight {wt}"));
                }
            }
            Some(h) => {
                if h.mh_port && !w.mh_port {
                    // The flag cannot be cleared by an edit: replace the service.
                    out.push(format!("service del {s}"));
                    out.push(format!("service add {s}{}", settings(w, None)));
                    for (ip, wt) in &w.reals {
                        out.push(format!("real add {s} {ip} --weight {wt}"));
                    }
                    continue;
                }
                let edit = settings(w, Some(h));
                if !edit.is_empty() {
                    out.push(format!("service edit {s}{edit}"));
                }
                for (ip, wt) in &w.reals {
                    match h.reals.get(ip) {
                        None => out.push(format!("real add {s} {ip} --weight {wt}")),
                        Some(old) if old != wt => {
                            out.push(format!("real edit {s} {ip} --weight {wt}"))
                        }
                        Some(_) => {}
                    }
                }
                for ip in h.reals.keys().filter(|ip| !w.reals.contains_key(ip)) {
                    out.push(format!("real del {s} {ip}"));
                }
            }
        }
    }
    for k in have.keys().filter(|k| !want.contains_key(k)) {
        out.push(format!("service del {}", spec(k)));
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

    #[test]
    fn a_file_round_trips_through_save() {
        let f = file(FILE);
        assert_eq!(f.services.len(), 2);
        assert_eq!(f.services[1].reals[0].weight, 1, "weight defaults to 1");
        let again = file(&f.to_toml().unwrap());
        assert_eq!(diff(&f, &again).unwrap(), Vec::<String>::new());
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
            reals: vec![Real {
                address: "198.51.100.21".into(),
                weight: 1,
            }],
        });
        assert_eq!(
            diff(&file(FILE), &want).unwrap(),
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
            diff(&file(FILE), &fewer).unwrap(),
            ["real del tcp 198.51.100.10:80 198.51.100.21"]
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
