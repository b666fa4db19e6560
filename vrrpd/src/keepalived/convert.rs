//! keepalived.conf's statements to vrrpd's TOML.
//!
//! | keepalived | vrrpd |
//! |---|---|
//! | `vrrp_instance NAME` | `[[instance]]` `name` |
//! | `interface`, `virtual_router_id`, `priority` | `interface`, `vrid`, `priority` |
//! | `advert_int` (s) | `advert_interval_ms` |
//! | `version`, global `vrrp_version` (default 2; IPv6: 3) | `version` |
//! | `virtual_ipaddress` (`dev` = the interface, `scope global`) | `virtual_ips` |
//! | `unicast_src_ip`, `unicast_peer` | `unicast_src`, `unicast_peers` |
//! | `authentication { auth_type PASS|AH; auth_pass }` | `auth_pass`, `auth_type = "AH"` |
//! | `nopreempt`, `preempt_delay` (s) | `preempt = false`, `preempt_delay_ms` |
//! | `track_interface`, `track_script`, `track_file` | `track_interfaces`, `track_scripts`, `track_files` |
//! | `use_vmac [NAME]` | `use_vmac` |
//! | `garp_master_delay`, `_repeat`, `_refresh` (global `vrrp_garp_*`) | `garp_master_delay_ms`, `garp_master_repeat`, `garp_master_refresh_ms` |
//! | `notify` | `notify` |
//! | `vrrp_sync_group { group { ... } }` | `[[sync_group]]` |
//! | `vrrp_script` | `[[track_script]]` |
//! | `vrrp_track_file` | `[[track_file]]` |
//! | `virtual_server IP PORT` (`lb_kind DR`) | `[[virtual_server]]` |
//! | `lb_algo` rr wrr lc wlc sh mh, `mh-port` | `scheduler`, `mh_port` |
//! | `persistence_timeout`, `sorry_server` | `persistence`, `sorry_server` |
//! | `inhibit_on_failure` (default: removed) | `on_fail = "drain"` (`"remove"`) |
//! | `real_server`, `weight` | `[[virtual_server.real]]`, `weight` |
//! | `TCP_CHECK`, `HTTP_GET`, `SSL_GET`, `MISC_CHECK` | `check` `tcp`, `http`, `https`, `exec` |
//! | `delay_loop`, `delay_before_retry`, `retry`, `connect_timeout` | `interval_ms`, `fast_interval_ms`, `fall` (retry + 1), `timeout_ms` |
//! | `alpha` (default: up at start) | `initial = "down"` (`"up"`) |
//! | global `lvs_sync_daemon IFACE [INSTANCE] [id N] [port P] [group G]`, `lvs_sync_daemon_interface` | `[sync]` `interface` (`peers`: the instances' `unicast_peer`), `port`, `group` |
//!
//! Everything else is refused with its line and why.

use super::parse::Node;
use super::Problem;
use crate::config::VirtualIp;
use std::collections::HashSet;
use std::fmt::Write;
use std::net::IpAddr;

/// The result of a conversion that refused nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Converted {
    /// The TOML configuration.
    pub toml: String,
    /// What is converted but behaves a little differently (also in the
    /// TOML, as comments).
    pub notes: Vec<Problem>,
}

/// Convert keepalived's statements; every problem, or the TOML.
pub fn convert(nodes: &[Node]) -> Result<Converted, Vec<Problem>> {
    let mut c = Conv::default();
    for n in nodes {
        if n.keyword() == "global_defs" {
            c.global_defs(n);
        }
    }
    for n in nodes {
        match n.keyword() {
            "global_defs" => {}
            "vrrp_instance" => c.instance(n),
            "vrrp_sync_group" => c.sync_group(n),
            "vrrp_script" => c.script(n),
            "vrrp_track_file" => c.track_file(n),
            "virtual_server" => c.virtual_server(n),
            "virtual_server_group" => {
                c.refuse(n, "virtual_server_group: drlb has no groups of services; write each virtual_server out")
            }
            "static_ipaddress" | "static_routes" | "static_rules" => c.refuse(
                n,
                &format!("{}: vrrpd does not manage static addresses or routes", n.keyword()),
            ),
            "vrrp_track_process" => c.refuse(n, "vrrp_track_process: vrrpd does not track processes; use a vrrp_script (e.g. `pidof NAME`)"),
            "linkbeat_interfaces" | "garp_group" | "bfd_instance" => c.refuse(
                n,
                &format!("{}: not supported by vrrpd", n.keyword()),
            ),
            other => c.refuse(n, &format!("`{other}`: unknown or unsupported keyword")),
        }
    }
    c.references();
    if !c.problems.is_empty() {
        c.problems
            .sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
        return Err(c.problems);
    }
    let mut toml = String::from("# Converted from keepalived.conf by `vrrpd import-keepalived`.\n");
    toml.push_str(&c.header);
    for section in [
        &c.instances,
        &c.sync_groups,
        &c.scripts,
        &c.files,
        &c.services,
    ] {
        for t in section {
            toml.push('\n');
            toml.push_str(&t.text);
        }
    }
    if let Some(t) = c.sync_table() {
        toml.push('\n');
        toml.push_str(&t);
    }
    Ok(Converted {
        toml,
        notes: c.notes,
    })
}

/// A TOML string.
fn q(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// keepalived's split of a script line into argv: blanks separate words,
/// single and double quotes group them.
fn argv(s: &str) -> Vec<String> {
    let mut out = vec![];
    let mut word: Option<String> = None;
    let mut quote: Option<char> = None;
    for c in s.chars() {
        match (quote, c) {
            (Some(qc), c) if c == qc => quote = None,
            (Some(_), c) => word.get_or_insert_with(String::new).push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                word.get_or_insert_with(String::new);
            }
            (None, c) if c.is_whitespace() => {
                if let Some(w) = word.take() {
                    out.push(w);
                }
            }
            (None, c) => word.get_or_insert_with(String::new).push(c),
        }
    }
    out.extend(word);
    out
}

/// argv as one `/bin/sh -c` line that runs the same argv.
fn shell_line(args: &[String]) -> String {
    args.iter()
        .map(|a| {
            let plain = !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_-/.,:=+@%".contains(c));
            if plain {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', "'\\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// One emitted table (or group of tables) and what it may be referred to as.
struct Table {
    name: String,
    text: String,
}

#[derive(Default)]
struct Conv {
    problems: Vec<Problem>,
    notes: Vec<Problem>,
    /// Comments at the top: notes about global_defs.
    header: String,
    /// global_defs: vrrp_version and the GARP defaults.
    vrrp_version: Option<u8>,
    garp_delay_ms: Option<u64>,
    garp_repeat: Option<i64>,
    garp_refresh_ms: Option<u64>,
    instances: Vec<Table>,
    sync_groups: Vec<Table>,
    scripts: Vec<Table>,
    files: Vec<Table>,
    services: Vec<Table>,
    /// Names referred to: (kind, name, where), checked at the end.
    refs: Vec<(&'static str, String, Node)>,
    /// Instances in sync groups (each may be in one only).
    grouped: HashSet<String>,
    /// lvs_sync_daemon: the interface, and the instance it names.
    sync_iface: Option<String>,
    sync_instance: Option<String>,
    sync_port: Option<i64>,
    sync_group: Option<String>,
    /// Each instance's unicast peers, for [sync]'s.
    unicast_peers: Vec<(String, Vec<String>)>,
}

/// Values shared by the checks of a virtual server and its real servers.
#[derive(Clone, Default)]
struct CheckDefaults {
    delay_loop_ms: Option<u64>,
    retry: Option<i64>,
    delay_before_retry_ms: Option<u64>,
    connect_timeout_ms: Option<u64>,
    host: Option<String>,
}

impl Conv {
    fn refuse(&mut self, n: &Node, message: &str) {
        self.problems.push(n.problem(message));
    }

    /// A note, returned as TOML comment lines too.
    fn note(&mut self, n: &Node, message: &str) -> String {
        self.notes.push(n.problem(message));
        format!("# note: {message}\n")
    }

    fn unsupported(&mut self, n: &Node, within: &str) {
        self.refuse(
            n,
            &format!(
                "`{}` in {within}: unknown, or vrrpd has no equivalent",
                n.keyword()
            ),
        );
    }

    /// Exactly `count` arguments and no block.
    fn args<'a>(&mut self, n: &'a Node, count: usize) -> Option<&'a [String]> {
        if n.block.is_some() {
            self.refuse(n, &format!("{} takes no block", n.keyword()));
            return None;
        }
        if n.args().len() != count {
            let what = match count {
                0 => "no value".to_string(),
                1 => "one value".to_string(),
                c => format!("{c} values"),
            };
            self.refuse(n, &format!("{} takes {what}", n.keyword()));
            return None;
        }
        Some(n.args())
    }

    fn one<'a>(&mut self, n: &'a Node) -> Option<&'a str> {
        self.args(n, 1).map(|a| a[0].as_str())
    }

    fn block<'a>(&mut self, n: &'a Node) -> &'a [Node] {
        match &n.block {
            Some(b) => b,
            None => {
                self.refuse(n, &format!("{} needs a {{ block }}", n.keyword()));
                &[]
            }
        }
    }

    fn int(&mut self, n: &Node, lo: i64, hi: i64) -> Option<i64> {
        let v = self.one(n)?;
        match v.parse::<i64>() {
            Ok(i) if (lo..=hi).contains(&i) => Some(i),
            _ => {
                self.refuse(
                    n,
                    &format!(
                        "{} `{v}`: must be a whole number in {lo}..={hi}",
                        n.keyword()
                    ),
                );
                None
            }
        }
    }

    /// Seconds (keepalived takes decimals for most timers) as milliseconds.
    fn secs(&mut self, n: &Node) -> Option<u64> {
        let v = self.one(n)?;
        self.secs_str(n, v)
    }

    fn secs_str(&mut self, n: &Node, v: &str) -> Option<u64> {
        match v.parse::<f64>() {
            Ok(s) if s.is_finite() && (0.0..=86_400.0).contains(&s) => {
                Some((s * 1000.0).round() as u64)
            }
            _ => {
                self.refuse(n, &format!("{} `{v}`: must be seconds", n.keyword()));
                None
            }
        }
    }

    fn global_defs(&mut self, n: &Node) {
        for s in self.block(n) {
            match s.keyword() {
                "vrrp_version" => {
                    self.vrrp_version = self.int(s, 2, 3).map(|v| v as u8);
                }
                "vrrp_garp_master_delay" => self.garp_delay_ms = self.secs(s),
                "vrrp_garp_master_repeat" => self.garp_repeat = self.int(s, 1, 255),
                "vrrp_garp_master_refresh" => self.garp_refresh_ms = self.secs(s),
                "vrrp_garp_master_refresh_repeat" => {
                    if self.int(s, 1, 255).is_some_and(|r| r != 1) {
                        self.refuse(s, "vrrp_garp_master_refresh_repeat: vrrpd sends one GARP per refresh");
                    }
                }
                // Names and mail: no effect on what vrrpd does.
                "router_id" | "lvs_id" => {
                    let msg = format!("{}: vrrpd has no router id; not converted", s.keyword());
                    let c = self.note(s, &msg);
                    self.header.push_str(&c);
                }
                "notification_email" | "notification_email_from" | "smtp_server"
                | "smtp_connect_timeout" | "smtp_helo_name" => {
                    let msg = format!("{}: vrrpd sends no mail; not converted", s.keyword());
                    let c = self.note(s, &msg);
                    self.header.push_str(&c);
                }
                "enable_script_security" => {
                    let c = self.note(s, "enable_script_security: vrrpd runs scripts as its own user (see the systemd unit's limits); not converted");
                    self.header.push_str(&c);
                }
                "script_user" => self.refuse(s, "script_user: vrrpd runs scripts and exec checks as its own user"),
                "vrrp_strict" => self.refuse(s, "vrrp_strict: vrrpd adds no firewall rules for the VIPs and does not enforce strict mode; remove it (vrrpd refuses v3 authentication and mixed families anyway)"),
                "vrrp_skip_check_adv_addr" => self.refuse(s, "vrrp_skip_check_adv_addr: vrrpd always checks the addresses in adverts (and logs a mismatch)"),
                "vrrp_mcast_group4" | "vrrp_mcast_group6" => self.refuse(s, &format!("{}: vrrpd uses the RFC's multicast groups only", s.keyword())),
                "lvs_sync_daemon" => self.lvs_sync_daemon(s),
                "vrrp_garp_interval" | "vrrp_gna_interval" => self.refuse(s, &format!("{}: vrrpd sends a burst's GARPs back to back", s.keyword())),
                _ => self.unsupported(s, "global_defs"),
            }
        }
    }

    /// `lvs_sync_daemon IFACE [INSTANCE] [id N] [maxlen N] [port P]
    /// [ttl N] [group G]`: vrrpd's own sync on IFACE (the rest of IPVS's
    /// knobs have no counterpart, and are noted).
    fn lvs_sync_daemon(&mut self, s: &Node) {
        let args = s.args();
        let Some(iface) = args.first() else {
            return self.refuse(s, "lvs_sync_daemon needs an interface");
        };
        let mut rest = &args[1..];
        if let Some(first) = rest.first() {
            if !["id", "maxlen", "port", "ttl", "group"].contains(&first.as_str()) {
                self.sync_instance = Some(first.clone());
                rest = &rest[1..];
            }
        }
        while let [k, v, tail @ ..] = rest {
            match k.as_str() {
                "port" => match v.parse::<i64>() {
                    Ok(p) if (1..=65535).contains(&p) => self.sync_port = Some(p),
                    _ => self.refuse(s, &format!("lvs_sync_daemon port `{v}`: must be 1..=65535")),
                },
                "group" => match v.parse::<std::net::Ipv4Addr>() {
                    Ok(g) if g.is_multicast() => self.sync_group = Some(g.to_string()),
                    _ => self.refuse(s, &format!("lvs_sync_daemon group `{v}`: vrrpd syncs over an IPv4 multicast group or unicast peers")),
                },
                "id" | "maxlen" | "ttl" => {
                    let msg = format!("lvs_sync_daemon {k}: vrrpd's sync has its own datagrams (TTL 1, sender ids of their own); not converted");
                    let c = self.note(s, &msg);
                    self.header.push_str(&c);
                }
                other => self.refuse(s, &format!("lvs_sync_daemon `{other}`: unknown option")),
            }
            rest = tail;
        }
        if let [k] = rest {
            self.refuse(s, &format!("lvs_sync_daemon `{k}` needs a value"));
        }
        self.sync_iface = Some(iface.clone());
    }

    /// The `[sync]` table, if keepalived ran a sync daemon: its peers are
    /// the unicast peers of the instance it named (of every instance when
    /// it named none); none: multicast.
    fn sync_table(&self) -> Option<String> {
        let iface = self.sync_iface.as_ref()?;
        let mut peers: Vec<String> = vec![];
        for (name, ps) in &self.unicast_peers {
            if self.sync_instance.as_ref().is_some_and(|i| i != name) {
                continue;
            }
            for p in ps {
                if p.parse::<IpAddr>().is_ok() && !peers.contains(p) {
                    peers.push(p.clone());
                }
            }
        }
        let mut t = format!(
            "# from lvs_sync_daemon: connection sync, vrrpd's own (see README, Connection sync)\n[sync]\ninterface = {}\n",
            q(iface)
        );
        if !peers.is_empty() {
            let list: Vec<String> = peers.iter().map(|p| q(p)).collect();
            let _ = writeln!(t, "peers = [{}]", list.join(", "));
        }
        if let Some(p) = self.sync_port {
            let _ = writeln!(t, "port = {p}");
        }
        if let Some(g) = &self.sync_group {
            if peers.is_empty() {
                let _ = writeln!(t, "group = {}", q(g));
            }
        }
        Some(t)
    }

    fn instance(&mut self, n: &Node) {
        let Some(name) = self.one_name(n) else { return };
        let mut interface: Option<String> = None;
        let mut vrid = None;
        let mut priority = None;
        let mut version = None;
        let mut advert_ms: Option<(u64, Node)> = None;
        let mut master = None;
        let mut vips: Vec<(VirtualIp, Node)> = vec![];
        let mut devs: Vec<(String, Node)> = vec![];
        let mut auth: Option<(String, Node, bool)> = None;
        let mut lines = String::new();
        let mut garp_delay = self.garp_delay_ms;
        let mut garp_repeat = self.garp_repeat;
        let mut garp_refresh = self.garp_refresh_ms;
        for s in self.block(n) {
            match s.keyword() {
                "state" => match self.one(s) {
                    Some("BACKUP") => {}
                    Some("MASTER") => master = Some(s.clone()),
                    Some(o) => self.refuse(s, &format!("state `{o}`: must be MASTER or BACKUP")),
                    None => {}
                },
                "interface" => interface = self.one(s).map(str::to_string),
                "virtual_router_id" => vrid = self.int(s, 1, 255),
                "priority" => priority = self.int(s, 1, 255),
                "version" => version = self.int(s, 2, 3),
                "advert_int" => advert_ms = self.secs(s).map(|ms| (ms, s.clone())),
                "virtual_ipaddress" => {
                    for a in self.block(s) {
                        if let Some(v) = self.vip(a, &mut devs) {
                            vips.push((v, a.clone()));
                        }
                    }
                }
                "virtual_ipaddress_excluded" => self.refuse(s, "virtual_ipaddress_excluded: vrrpd advertises every address it adds; list them in virtual_ipaddress (at most 255 per instance), or add them another way"),
                "virtual_routes" | "virtual_rules" => self.refuse(s, &format!("{}: vrrpd does not manage routes or rules", s.keyword())),
                "unicast_src_ip" => {
                    if let Some(a) = self.addr(s) {
                        let _ = writeln!(lines, "unicast_src = {}", q(&a));
                    }
                }
                "unicast_peer" => {
                    let mut peers = vec![];
                    for p in self.block(s) {
                        if p.block.is_some() || p.words.len() != 1 {
                            self.refuse(p, "unicast_peer: only addresses (vrrpd has no min_ttl or max_ttl)");
                        } else if p.keyword().parse::<IpAddr>().is_err() {
                            self.refuse(p, &format!("unicast_peer `{}`: not an IP address", p.keyword()));
                        } else {
                            peers.push(q(p.keyword()));
                        }
                    }
                    let all = self.block(s).iter().map(|p| p.keyword().to_string()).collect();
                    self.unicast_peers.push((name.clone(), all));
                    let _ = writeln!(lines, "unicast_peers = [{}]", peers.join(", "));
                }
                "authentication" => {
                    let mut pass = None;
                    let mut ah = false;
                    for a in self.block(s) {
                        match a.keyword() {
                            "auth_type" => match self.one(a) {
                                Some("PASS") => ah = false,
                                Some("AH") => ah = true,
                                Some(o) => self.refuse(a, &format!("auth_type `{o}`: must be PASS or AH")),
                                None => {}
                            },
                            "auth_pass" => {
                                if let Some(p) = self.one(a) {
                                    if p.len() > 8 {
                                        self.refuse(a, "auth_pass: longer than 8 characters (keepalived cuts it to 8; write the 8 it uses)");
                                    }
                                    pass = Some((p.to_string(), a.clone()));
                                }
                            }
                            _ => self.unsupported(a, "authentication"),
                        }
                    }
                    match pass {
                        Some((p, at)) => auth = Some((p, at, ah)),
                        None => self.refuse(s, "authentication without auth_pass"),
                    }
                }
                "nopreempt" => {
                    if self.args(s, 0).is_some() {
                        lines.push_str("preempt = false\n");
                    }
                }
                "preempt" => {
                    let _ = self.args(s, 0);
                }
                "preempt_delay" => {
                    if let Some(ms) = self.secs(s) {
                        let _ = writeln!(lines, "preempt_delay_ms = {ms}");
                    }
                }
                "track_interface" => {
                    let items = self.tracked(s, "track_interface");
                    let _ = writeln!(lines, "track_interfaces = [{}]", items.join(", "));
                }
                "track_script" => {
                    let items = self.tracked(s, "track_script");
                    let _ = writeln!(lines, "track_scripts = [{}]", items.join(", "));
                }
                "track_file" => {
                    let items = self.tracked(s, "track_file");
                    let _ = writeln!(lines, "track_files = [{}]", items.join(", "));
                }
                "use_vmac" => {
                    if s.block.is_some() || s.args().len() > 1 {
                        self.refuse(s, "use_vmac takes at most a name");
                    } else {
                        match s.args().first() {
                            None => lines.push_str("use_vmac = true\n"),
                            Some(v) => {
                                let _ = writeln!(lines, "use_vmac = {}", q(v));
                            }
                        }
                    }
                }
                "vmac_xmit_base" => self.refuse(s, "vmac_xmit_base: vrrpd sends its adverts from the macvlan when use_vmac is on"),
                "garp_master_delay" => garp_delay = self.secs(s),
                "garp_master_repeat" => garp_repeat = self.int(s, 1, 255),
                "garp_master_refresh" => garp_refresh = self.secs(s),
                "garp_master_refresh_repeat" => {
                    if self.int(s, 1, 255).is_some_and(|r| r != 1) {
                        self.refuse(s, "garp_master_refresh_repeat: vrrpd sends one GARP per refresh");
                    }
                }
                "notify" => {
                    if let Some(v) = self.one(s) {
                        let a = argv(v);
                        if a.len() == 1 {
                            let _ = writeln!(lines, "notify = {}", q(&a[0]));
                        } else {
                            self.refuse(s, "notify: vrrpd runs the script itself with INSTANCE NAME STATE PRIORITY and no arguments of its own; wrap it in a script");
                        }
                    }
                }
                "notify_master" | "notify_backup" | "notify_fault" | "notify_stop"
                | "notify_master_rx_lower_pri" | "notify_deleted" => self.refuse(
                    s,
                    &format!(
                        "{}: vrrpd has one notify script, called as SCRIPT INSTANCE NAME STATE PRIORITY; use `notify` with a script that acts on the state",
                        s.keyword()
                    ),
                ),
                "smtp_alert" => {
                    let msg = "smtp_alert: vrrpd sends no mail; not converted";
                    lines.push_str(&self.note(s, msg));
                }
                "mcast_src_ip" => self.refuse(s, "mcast_src_ip: vrrpd sends multicast adverts from the interface's primary address"),
                "dont_track_primary" => self.refuse(s, "dont_track_primary: vrrpd always tracks its interface"),
                "lvs_sync_daemon_interface" => {
                    if let Some(i) = self.one(s) {
                        if self.sync_iface.is_none() {
                            self.sync_iface = Some(i.to_string());
                            self.sync_instance = Some(name.clone());
                        }
                    }
                }
                _ => self.unsupported(s, "vrrp_instance"),
            }
        }
        let Some(interface) = interface else {
            return self.refuse(n, &format!("vrrp_instance {name}: no interface"));
        };
        let Some(vrid) = vrid else {
            return self.refuse(n, &format!("vrrp_instance {name}: no virtual_router_id"));
        };
        if vips.is_empty() {
            return self.refuse(n, &format!("vrrp_instance {name}: no virtual_ipaddress"));
        }
        for (dev, at) in devs {
            if dev != interface {
                self.refuse(&at, &format!("dev {dev}: vrrpd adds the VIPs to the instance's interface ({interface}) only"));
            }
        }
        let v6 = vips[0].0.addr.is_ipv6();
        for (v, at) in &vips[1..] {
            if v.addr.is_ipv6() != v6 {
                self.refuse(at, &format!("{}: keepalived would move an address of the other family out of the adverts; vrrpd needs one family per instance (make a second instance)", v.addr));
            }
        }
        let version = match (version, v6) {
            (Some(2), true) => {
                self.refuse(n, "version 2 with IPv6 addresses: VRRPv2 is IPv4 only");
                3
            }
            (Some(v), _) => v as u8,
            (None, true) => 3,
            (None, false) => self.vrrp_version.unwrap_or(2),
        };
        let advert_ms = match advert_ms {
            None => 1000,
            Some((ms, at)) => {
                if version == 2 && (ms == 0 || ms % 1000 != 0) {
                    self.refuse(&at, "advert_int: VRRPv2 takes whole seconds");
                } else if ms == 0 || ms % 10 != 0 {
                    self.refuse(&at, "advert_int: VRRPv3 takes hundredths of a second");
                }
                ms
            }
        };
        let mut t = String::from("[[instance]]\n");
        let _ = writeln!(t, "name = {}", q(&name));
        let _ = writeln!(t, "interface = {}", q(&interface));
        let _ = writeln!(t, "vrid = {vrid}");
        let priority = match (priority, &master) {
            (Some(p), _) => p,
            (None, Some(m)) => {
                t.push_str(&self.note(
                    m,
                    "state MASTER without a priority: keepalived makes it 255, the address owner",
                ));
                255
            }
            (None, None) => 100,
        };
        if let Some(m) = &master {
            t.push_str(&self.note(m, "state MASTER: vrrpd starts every instance as a backup (priority 255 takes over at once); the priorities elect the master within 3 adverts"));
        }
        let _ = writeln!(t, "priority = {priority}");
        let _ = writeln!(t, "version = {version}");
        let _ = writeln!(t, "advert_interval_ms = {advert_ms}");
        let ips: Vec<String> = vips.iter().map(|(v, _)| q(&v.to_string())).collect();
        let _ = writeln!(t, "virtual_ips = [{}]", ips.join(", "));
        if let Some((pass, at, ah)) = auth {
            if version == 3 {
                self.refuse(&at, "authentication: VRRPv3 has none (keepalived ignores it); remove it, or use version 2");
            }
            if ah {
                let _ = writeln!(t, "auth_type = \"AH\"");
            }
            let _ = writeln!(t, "auth_pass = {}", q(&pass));
        }
        if let Some(ms) = garp_delay {
            let _ = writeln!(t, "garp_master_delay_ms = {ms}");
        }
        if let Some(r) = garp_repeat {
            let _ = writeln!(t, "garp_master_repeat = {r}");
        }
        if let Some(ms) = garp_refresh {
            let _ = writeln!(t, "garp_master_refresh_ms = {ms}");
        }
        t.push_str(&lines);
        if self.instances.iter().any(|i| i.name == name) {
            self.refuse(n, &format!("vrrp_instance {name} is defined twice"));
        }
        self.instances.push(Table { name, text: t });
    }

    /// The one name a block's header gives.
    fn one_name(&mut self, n: &Node) -> Option<String> {
        if n.args().len() != 1 {
            self.refuse(n, &format!("{} takes one name", n.keyword()));
            return None;
        }
        if n.block.is_none() {
            self.refuse(n, &format!("{} needs a {{ block }}", n.keyword()));
            return None;
        }
        Some(n.args()[0].clone())
    }

    fn addr(&mut self, n: &Node) -> Option<String> {
        let a = self.one(n)?;
        if a.parse::<IpAddr>().is_err() {
            self.refuse(n, &format!("{} `{a}`: not an IP address", n.keyword()));
            return None;
        }
        Some(a.to_string())
    }

    /// One `virtual_ipaddress` line: `ADDR[/LEN] [dev IF] [scope global]`.
    fn vip(&mut self, a: &Node, devs: &mut Vec<(String, Node)>) -> Option<VirtualIp> {
        if a.block.is_some() {
            self.refuse(a, "a virtual_ipaddress line takes no block");
            return None;
        }
        let vip = match a.keyword().parse::<VirtualIp>() {
            Ok(v) => v,
            Err(e) => {
                self.refuse(a, &format!("virtual_ipaddress {e}"));
                return None;
            }
        };
        let mut opts = a.args().iter();
        while let Some(o) = opts.next() {
            let value = opts.next();
            match (o.as_str(), value.map(String::as_str)) {
                ("dev", Some(d)) => devs.push((d.to_string(), a.clone())),
                ("scope", Some("global")) => {}
                ("label", Some(_)) => self.refuse(a, "label: vrrpd adds the VIPs without a label"),
                ("brd" | "broadcast", Some(_)) => self.refuse(a, "brd: vrrpd adds the VIPs without a broadcast address"),
                (o, _) => self.refuse(
                    a,
                    &format!("virtual_ipaddress option `{o}`: vrrpd takes dev (the instance's interface) and scope global only"),
                ),
            }
        }
        Some(vip)
    }

    /// A track_* block: `NAME [weight N]` per line, as TOML items.
    fn tracked(&mut self, n: &Node, what: &'static str) -> Vec<String> {
        let mut out = vec![];
        for s in self.block(n) {
            let name = s.keyword().to_string();
            if s.block.is_some() {
                self.refuse(s, &format!("{what} {name}: no block here"));
                continue;
            }
            let weight = match s.args() {
                [] => None,
                [w, v] if w == "weight" => match v.parse::<i64>() {
                    Ok(x) if (-254..=254).contains(&x) => Some(x),
                    _ => {
                        self.refuse(
                            s,
                            &format!("{what} {name}: weight `{v}` must be in -254..=254"),
                        );
                        continue;
                    }
                },
                [w, _, r] if w == "weight" && r == "reverse" => {
                    self.refuse(
                        s,
                        &format!("{what} {name}: `reverse` weights are not supported"),
                    );
                    continue;
                }
                _ => {
                    self.refuse(
                        s,
                        &format!("{what} {name}: only `weight N` may follow the name"),
                    );
                    continue;
                }
            };
            if what != "track_interface" {
                let kind = if what == "track_script" {
                    "vrrp_script"
                } else {
                    "vrrp_track_file"
                };
                self.refs.push((kind, name.clone(), s.clone()));
            }
            out.push(match (what, weight) {
                ("track_file", w) => match w {
                    Some(w) => format!("{{ name = {}, weight = {w} }}", q(&name)),
                    None => format!("{{ name = {} }}", q(&name)),
                },
                (_, None) => q(&name),
                (_, Some(w)) => format!("{{ name = {}, weight = {w} }}", q(&name)),
            });
        }
        out
    }

    fn sync_group(&mut self, n: &Node) {
        let Some(name) = self.one_name(n) else { return };
        let mut members: Vec<String> = vec![];
        for s in self.block(n) {
            match s.keyword() {
                "group" => {
                    for m in self.block(s) {
                        if m.block.is_some() {
                            self.refuse(m, "group: instance names only");
                            continue;
                        }
                        for w in &m.words {
                            if !self.grouped.insert(w.clone()) {
                                self.refuse(m, &format!("{w} is in another vrrp_sync_group already"));
                            }
                            self.refs.push(("vrrp_instance", w.clone(), m.clone()));
                            members.push(q(w));
                        }
                    }
                }
                "notify" | "notify_master" | "notify_backup" | "notify_fault" | "notify_stop" => self.refuse(s, &format!("{} in a vrrp_sync_group: vrrpd runs the instances' notify scripts only", s.keyword())),
                "smtp_alert" => {
                    let c = self.note(s, "smtp_alert: vrrpd sends no mail; not converted");
                    self.header.push_str(&c);
                }
                "track_interface" | "track_script" | "track_file" => self.refuse(s, &format!("{} in a vrrp_sync_group: put it in each instance of the group", s.keyword())),
                _ => self.unsupported(s, "vrrp_sync_group"),
            }
        }
        if members.is_empty() {
            return self.refuse(
                n,
                &format!("vrrp_sync_group {name}: no group {{ ... }} of instances"),
            );
        }
        let text = format!(
            "[[sync_group]]\nname = {}\ninstances = [{}]\n",
            q(&name),
            members.join(", ")
        );
        self.sync_groups.push(Table { name, text });
    }

    fn script(&mut self, n: &Node) {
        let Some(name) = self.one_name(n) else { return };
        let mut command = None;
        let mut interval_ms = 1000;
        let mut timeout_ms = None;
        let mut rise = 1;
        let mut fall = 1;
        let mut weight = 0;
        for s in self.block(n) {
            match s.keyword() {
                "script" => {
                    if s.args().is_empty() || s.block.is_some() {
                        self.refuse(s, "script takes a command line");
                    } else {
                        let a = argv(&s.args().join(" "));
                        command = Some(shell_line(&a));
                    }
                }
                "interval" => interval_ms = self.secs(s).unwrap_or(interval_ms),
                "timeout" => timeout_ms = self.secs(s),
                "rise" => rise = self.int(s, 1, 100).unwrap_or(1),
                "fall" => fall = self.int(s, 1, 100).unwrap_or(1),
                "weight" => weight = self.track_weight(s).unwrap_or(weight),
                "user" => self.refuse(s, "user: vrrpd runs scripts as its own user"),
                "init_fail" => self.refuse(
                    s,
                    "init_fail: vrrpd's track scripts start as keepalived's default",
                ),
                _ => self.unsupported(s, "vrrp_script"),
            }
        }
        let Some(command) = command else {
            return self.refuse(n, &format!("vrrp_script {name}: no script"));
        };
        if interval_ms < 10 {
            self.refuse(n, "interval: at least 0.01 s");
        }
        // keepalived: a script not done after `timeout` (default: the
        // interval) has failed.
        let timeout_ms = timeout_ms.unwrap_or(interval_ms).max(1);
        let text = format!(
            "[[track_script]]\nname = {}\ncommand = {}\ninterval_ms = {interval_ms}\ntimeout_ms = {timeout_ms}\nrise = {rise}\nfall = {fall}\nweight = {weight}\n",
            q(&name),
            q(&command)
        );
        self.scripts.push(Table { name, text });
    }

    /// A vrrp_script's or vrrp_track_file's `weight W` (-254..=254;
    /// `reverse` is refused).
    fn track_weight(&mut self, s: &Node) -> Option<i64> {
        match s.args() {
            [w] => match w.parse::<i64>() {
                Ok(x) if (-254..=254).contains(&x) => return Some(x),
                _ => self.refuse(s, &format!("weight `{w}` must be in -254..=254")),
            },
            [_, r] if r == "reverse" => self.refuse(s, "`reverse` weights are not supported"),
            _ => self.refuse(s, "weight takes a number"),
        }
        None
    }

    fn track_file(&mut self, n: &Node) {
        let Some(name) = self.one_name(n) else { return };
        let mut path = None;
        let mut weight = 1;
        for s in self.block(n) {
            match s.keyword() {
                "file" => path = self.one(s).map(str::to_string),
                "weight" => weight = self.track_weight(s).unwrap_or(weight),
                "init_file" => self.refuse(
                    s,
                    "init_file: vrrpd does not create the file; create it before vrrpd starts",
                ),
                _ => self.unsupported(s, "vrrp_track_file"),
            }
        }
        let Some(path) = path else {
            return self.refuse(n, &format!("vrrp_track_file {name}: no file"));
        };
        let text = format!(
            "[[track_file]]\nname = {}\npath = {}\nweight = {weight}\n",
            q(&name),
            q(&path)
        );
        self.files.push(Table { name, text });
    }

    /// Names referred to must be defined.
    fn references(&mut self) {
        for (kind, name, at) in std::mem::take(&mut self.refs) {
            let defined = match kind {
                "vrrp_instance" => &self.instances,
                "vrrp_script" => &self.scripts,
                _ => &self.files,
            };
            if !defined.iter().any(|t| t.name == name) {
                self.refuse(
                    &at,
                    &format!("{kind} {name} is not defined (or was not converted)"),
                );
            }
        }
    }

    fn virtual_server(&mut self, n: &Node) {
        let args = n.args();
        let (ip, port) = match args {
            [k, _] if k == "fwmark" => {
                return self.refuse(n, "virtual_server fwmark: drlb's services are an address and a port; firewall marks are not supported");
            }
            [k, _] if k == "group" => {
                return self.refuse(n, "virtual_server group: drlb has no groups of services; write each virtual_server out");
            }
            [ip, port] => match (ip.parse::<IpAddr>(), port.parse::<u16>()) {
                (Ok(ip), Ok(port)) if port != 0 => (ip, port),
                _ => {
                    return self.refuse(
                        n,
                        &format!("virtual_server {ip} {port}: not an address and a port"),
                    );
                }
            },
            _ => return self.refuse(n, "virtual_server takes an address and a port"),
        };
        let address = match ip {
            IpAddr::V4(a) => format!("{a}:{port}"),
            IpAddr::V6(a) => format!("[{a}]:{port}"),
        };
        let mut protocol = "tcp";
        let mut scheduler = "wlc".to_string();
        let mut kind_dr = false;
        let mut kind_given = false;
        let mut extra = String::new();
        let mut defaults = CheckDefaults::default();
        let mut inhibit_vs = false;
        let mut alpha = false;
        let mut reals: Vec<&Node> = vec![];
        for s in self.block(n) {
            match s.keyword() {
                "delay_loop" => defaults.delay_loop_ms = self.secs(s),
                "retry" => defaults.retry = self.int(s, 0, 99),
                "delay_before_retry" => defaults.delay_before_retry_ms = self.secs(s),
                "connect_timeout" => defaults.connect_timeout_ms = self.secs(s),
                "virtualhost" => defaults.host = self.one(s).map(str::to_string),
                "lb_algo" | "lvs_sched" => match self.one(s) {
                    Some(a @ ("rr" | "wrr" | "lc" | "wlc" | "sh")) => scheduler = a.to_string(),
                    Some("mh") => scheduler = "maglev".into(),
                    Some(o) => self.refuse(s, &format!("{} {o}: drlb schedules with rr, wrr, lc, wlc, sh or mh (maglev) only", s.keyword())),
                    None => {}
                },
                "mh-port" => {
                    if self.args(s, 0).is_some() {
                        extra.push_str("mh_port = true\n");
                    }
                }
                "lb_kind" | "lvs_method" => match self.one(s) {
                    Some("DR") => kind_dr = true,
                    Some(o @ ("NAT" | "TUN")) => {
                        kind_given = true;
                        self.refuse(s, &format!("{} {o}: drlb forwards by direct routing (DR) only", s.keyword()));
                    }
                    Some(o) => {
                        kind_given = true;
                        self.refuse(s, &format!("{} `{o}`: must be DR (NAT and TUN are not supported)", s.keyword()));
                    }
                    None => kind_given = true,
                },
                "protocol" => match self.one(s) {
                    Some("TCP") => protocol = "tcp",
                    Some("UDP") => protocol = "udp",
                    Some(o) => self.refuse(s, &format!("protocol {o}: drlb balances TCP and UDP only")),
                    None => {}
                },
                "persistence_timeout" => {
                    let secs = match s.args() {
                        [] if s.block.is_none() => Some(360),
                        _ => self.int(s, 0, i64::from(u32::MAX)),
                    };
                    if let Some(t) = secs {
                        let _ = writeln!(extra, "persistence = {t}");
                    }
                }
                "sorry_server" => match s.args() {
                    [a, p] => match (a.parse::<IpAddr>(), p.parse::<u16>()) {
                        (Ok(a), Ok(p)) if p == port => {
                            let _ = writeln!(extra, "sorry_server = {}", q(&a.to_string()));
                        }
                        (Ok(_), Ok(p)) => self.refuse(s, &format!("sorry_server port {p}: direct routing keeps the service's port ({port})")),
                        _ => self.refuse(s, "sorry_server takes an address and a port"),
                    },
                    _ => self.refuse(s, "sorry_server takes an address and a port"),
                },
                "sorry_server_inhibit" | "sorry_server_lvs_method" => self.refuse(s, &format!("{}: vrrpd adds the sorry server at weight 1 while no real server is available", s.keyword())),
                "inhibit_on_failure" => {
                    if self.args(s, 0).is_some() {
                        inhibit_vs = true;
                    }
                }
                "alpha" => {
                    if self.args(s, 0).is_some() {
                        alpha = true;
                    }
                }
                "real_server" => reals.push(s),
                "persistence_granularity" => self.refuse(s, "persistence_granularity: drlb's persistence is per client address"),
                "quorum" | "quorum_up" | "quorum_down" | "hysteresis" => self.refuse(s, &format!("{}: vrrpd has no quorum (see panic_threshold and sorry_server)", s.keyword())),
                "omega" => self.refuse(s, "omega: vrrpd keeps the service when it stops"),
                "ha_suspend" => self.refuse(s, "ha_suspend: vrrpd checks real servers on the backup too (services forward only while the instance is MASTER)"),
                "ops" | "one_packet" => self.refuse(s, "ops: drlb has no one-packet scheduling"),
                "sh-port" | "sh-fallback" | "mh-fallback" => self.refuse(s, &format!("{}: not supported by drlb's schedulers", s.keyword())),
                _ => self.unsupported(s, "virtual_server"),
            }
        }
        if !kind_dr && !kind_given {
            self.refuse(n, "virtual_server without lb_kind DR: keepalived's default is NAT, and drlb forwards by direct routing only (add lb_kind DR if the real servers hold the VIP)");
        }
        let mut real_tables = vec![];
        let mut on_fail: Option<(bool, &Node)> = None;
        for r in reals {
            let Some((text, check, inhibit)) = self.real_server(r, ip, port, &defaults, alpha)
            else {
                continue;
            };
            let inhibit = inhibit || inhibit_vs;
            match on_fail {
                None => on_fail = Some((inhibit, r)),
                Some((first, at)) if first != inhibit => {
                    let msg = format!("inhibit_on_failure here but not on the real server at line {} (or the other way): vrrpd drains or removes every failed real server of a service the same way", at.line);
                    self.refuse(r, &msg);
                }
                _ => {}
            }
            real_tables.push((text, check));
        }
        let mut t = String::from("[[virtual_server]]\n");
        let _ = writeln!(t, "protocol = {}", q(protocol));
        let _ = writeln!(t, "address = {}", q(&address));
        let _ = writeln!(t, "scheduler = {}", q(&scheduler));
        // keepalived removes a failed real server unless inhibit_on_failure.
        let drain = on_fail.map_or(inhibit_vs, |(i, _)| i);
        let _ = writeln!(t, "on_fail = {}", q(if drain { "drain" } else { "remove" }));
        t.push_str(&extra);
        // One check for all: the service's check.
        let common = real_tables
            .first()
            .and_then(|(_, c)| c.clone())
            .filter(|c| real_tables.iter().all(|(_, x)| x.as_ref() == Some(c)));
        if let Some(c) = &common {
            t.push_str("\n[virtual_server.check]\n");
            t.push_str(c);
        }
        for (text, check) in real_tables {
            t.push('\n');
            t.push_str(&text);
            if let Some(c) = check.filter(|_| common.is_none()) {
                t.push_str("[virtual_server.real.check]\n");
                t.push_str(&c);
            }
        }
        self.services.push(Table {
            name: address,
            text: t,
        });
    }

    /// A real server's table, its check's lines, and inhibit_on_failure.
    fn real_server(
        &mut self,
        r: &Node,
        vip: IpAddr,
        port: u16,
        vs_defaults: &CheckDefaults,
        alpha: bool,
    ) -> Option<(String, Option<String>, bool)> {
        let (ip, rport) = match r.args() {
            [a] => (a, None),
            [a, p] => (a, Some(p)),
            _ => {
                self.refuse(r, "real_server takes an address and a port");
                return None;
            }
        };
        let Ok(addr) = ip.parse::<IpAddr>() else {
            self.refuse(r, &format!("real_server {ip}: not an IP address"));
            return None;
        };
        if addr.is_ipv6() != vip.is_ipv6() {
            self.refuse(r, &format!("real_server {ip}: not of the virtual server's family (drlb does not translate between IPv4 and IPv6)"));
        }
        if let Some(p) = rport {
            if p.parse::<u16>().ok() != Some(port) {
                self.refuse(
                    r,
                    &format!(
                        "real_server port {p}: direct routing keeps the service's port ({port})"
                    ),
                );
            }
        }
        let mut weight = 1;
        let mut inhibit = false;
        let mut defaults = vs_defaults.clone();
        let mut checkers: Vec<&Node> = vec![];
        for s in r.block.as_deref().unwrap_or(&[]) {
            match s.keyword() {
                "weight" => weight = self.int(s, 0, 65535).unwrap_or(1),
                "inhibit_on_failure" => {
                    if self.args(s, 0).is_some() {
                        inhibit = true;
                    }
                }
                "delay_loop" => defaults.delay_loop_ms = self.secs(s),
                "retry" => defaults.retry = self.int(s, 0, 99),
                "delay_before_retry" => defaults.delay_before_retry_ms = self.secs(s),
                "connect_timeout" => defaults.connect_timeout_ms = self.secs(s),
                "TCP_CHECK" | "HTTP_GET" | "SSL_GET" | "MISC_CHECK" => checkers.push(s),
                "SMTP_CHECK" | "DNS_CHECK" | "BFD_CHECK" | "FILE_CHECK" | "PING_CHECK" | "UDP_CHECK" => self.refuse(s, &format!("{}: vrrpd checks with TCP_CHECK, HTTP_GET, SSL_GET and MISC_CHECK only (a MISC_CHECK script can do the rest)", s.keyword())),
                "notify_up" | "notify_down" => self.refuse(s, &format!("{}: vrrpd runs no script when a real server changes state (see `vrrpd status` and the metrics)", s.keyword())),
                "uthreshold" | "lthreshold" => self.refuse(s, &format!("{}: drlb has no connection thresholds", s.keyword())),
                "lvs_method" => {
                    if self.one(s) != Some("DR") {
                        self.refuse(s, "lvs_method: drlb forwards by direct routing (DR) only");
                    }
                }
                "alpha" => self.refuse(s, "alpha on one real server: vrrpd's initial state is per check; put alpha on the virtual_server"),
                _ => self.unsupported(s, "real_server"),
            }
        }
        if checkers.len() > 1 {
            self.refuse(checkers[1], "a second checker: vrrpd checks a real server one way (keepalived wants all of them to pass)");
        }
        let check = checkers
            .first()
            .and_then(|c| self.checker(c, addr, port, &defaults, alpha));
        let mut text = String::from("[[virtual_server.real]]\n");
        let _ = writeln!(text, "address = {}", q(&addr.to_string()));
        let _ = writeln!(text, "weight = {weight}");
        Some((text, check, inhibit))
    }

    /// A checker's `[check]` lines.
    fn checker(
        &mut self,
        c: &Node,
        addr: IpAddr,
        service_port: u16,
        defaults: &CheckDefaults,
        alpha: bool,
    ) -> Option<String> {
        let kind = c.keyword();
        let mut d = defaults.clone();
        let mut port = None;
        let mut urls: Vec<&Node> = vec![];
        let mut misc_path = None;
        let mut misc_timeout = None;
        let mut lines = String::new();
        for s in self.block(c) {
            match (kind, s.keyword()) {
                (_, "connect_port") => port = self.int(s, 1, 65535),
                (_, "connect_ip") => {
                    if self.one(s).and_then(|a| a.parse::<IpAddr>().ok()) != Some(addr) {
                        self.refuse(s, "connect_ip: vrrpd checks the real server's own address");
                    }
                }
                (_, "connect_timeout") => d.connect_timeout_ms = self.secs(s),
                (_, "retry" | "nb_get_retry") => d.retry = self.int(s, 0, 99),
                (_, "delay_before_retry") => d.delay_before_retry_ms = self.secs(s),
                (_, "delay_loop") => d.delay_loop_ms = self.secs(s),
                (_, "bindto" | "bind_port" | "bind_if") => self.refuse(
                    s,
                    &format!(
                        "{}: vrrpd's checks use the kernel's choice of source",
                        s.keyword()
                    ),
                ),
                (_, "warmup") => self.refuse(
                    s,
                    "warmup: vrrpd spreads the first checks over their first interval",
                ),
                (_, "fwmark") => self.refuse(s, "fwmark: vrrpd's checks are not marked"),
                ("HTTP_GET" | "SSL_GET", "url") => urls.push(s),
                ("HTTP_GET" | "SSL_GET", "virtualhost") => d.host = self.one(s).map(str::to_string),
                ("HTTP_GET" | "SSL_GET", "http_protocol") => {
                    if self.one(s) != Some("1.0") {
                        self.refuse(s, "http_protocol: vrrpd's checks speak HTTP/1.0");
                    }
                }
                ("SSL_GET", "enable_sni") => {
                    let _ = self.args(s, 0);
                }
                ("MISC_CHECK", "misc_path") => {
                    if let Some(p) = self.one(s) {
                        misc_path = Some(argv(p));
                    }
                }
                ("MISC_CHECK", "misc_timeout") => misc_timeout = self.secs(s),
                ("MISC_CHECK", "misc_dynamic") => self.refuse(
                    s,
                    "misc_dynamic: vrrpd's exec checks say up or down; they do not set weights",
                ),
                ("MISC_CHECK", "user") => {
                    self.refuse(s, "user: vrrpd runs exec checks as its own user")
                }
                _ => self.unsupported(s, kind),
            }
        }
        let interval_ms = d.delay_loop_ms.unwrap_or(60_000).max(10);
        let fast_ms = d.delay_before_retry_ms.unwrap_or(1000).max(10);
        let retry = d.retry.unwrap_or(if kind == "MISC_CHECK" { 0 } else { 1 });
        let timeout_ms = match kind {
            "MISC_CHECK" => misc_timeout.unwrap_or(interval_ms),
            _ => d.connect_timeout_ms.unwrap_or(5000),
        }
        .max(1);
        let type_ = match kind {
            "TCP_CHECK" => "tcp",
            "HTTP_GET" => "http",
            "SSL_GET" => "https",
            _ => "exec",
        };
        let _ = writeln!(lines, "type = {}", q(type_));
        let _ = writeln!(lines, "interval_ms = {interval_ms}");
        let _ = writeln!(lines, "fast_interval_ms = {fast_ms}");
        let _ = writeln!(lines, "timeout_ms = {timeout_ms}");
        let _ = writeln!(lines, "rise = 1");
        let _ = writeln!(lines, "fall = {}", retry + 1);
        let _ = writeln!(lines, "initial = {}", q(if alpha { "down" } else { "up" }));
        if let Some(p) = port.filter(|&p| p != i64::from(service_port)) {
            let _ = writeln!(lines, "port = {p}");
        }
        match kind {
            "HTTP_GET" | "SSL_GET" => {
                match urls.len() {
                    0 => self.refuse(c, &format!("{kind} without a url")),
                    1 => {}
                    _ => self.refuse(
                        urls[1],
                        "a second url: vrrpd's http checks request one path",
                    ),
                }
                let url = urls.first()?;
                let mut path = None;
                let mut status = None;
                for u in self.block(url) {
                    match u.keyword() {
                        "path" => path = self.one(u).map(str::to_string),
                        "status_code" => {
                            if let Some(v) = self.one(u) {
                                match v.parse::<u16>() {
                                    Ok(s) if (100..=599).contains(&s) => status = Some(s),
                                    _ => self.refuse(u, &format!("status_code {v}: vrrpd expects one status (no ranges or lists)")),
                                }
                            }
                        }
                        "digest" => self.refuse(u, "digest: vrrpd does not compare an MD5 of the page; check for a status, or use a MISC_CHECK"),
                        "virtualhost" => d.host = self.one(u).map(str::to_string),
                        "regex" | "regex_no_match" | "regex_options" | "regex_stack" => self.refuse(u, &format!("{}: vrrpd's http checks look for a fixed substring only (`expect` in the TOML)", u.keyword())),
                        _ => self.unsupported(u, "url"),
                    }
                }
                let Some(path) = path else {
                    self.refuse(url, "url without a path");
                    return None;
                };
                let _ = writeln!(lines, "path = {}", q(&path));
                let status = match status {
                    Some(s) => s,
                    None => {
                        lines.push_str(&self.note(url, "url without status_code: keepalived accepts any 2xx, vrrpd expects 200"));
                        200
                    }
                };
                let _ = writeln!(lines, "status = {status}");
                if let Some(h) = &d.host {
                    let _ = writeln!(lines, "host = {}", q(h));
                }
            }
            "MISC_CHECK" => {
                let Some(a) = misc_path.filter(|a| !a.is_empty()) else {
                    self.refuse(c, "MISC_CHECK without misc_path");
                    return None;
                };
                let cmd: Vec<String> = a.iter().map(|w| q(w)).collect();
                let _ = writeln!(lines, "command = [{}]", cmd.join(", "));
            }
            _ => {}
        }
        Some(lines)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keepalived::parse::{self, tests::Mem};
    use std::path::Path;

    const DIRECTOR1: &str = include_str!("../../tests/keepalived/lvs-dr/director1.conf");
    const DIRECTOR2: &str = include_str!("../../tests/keepalived/lvs-dr/director2.conf");
    const WEB: &str = include_str!("../../tests/keepalived/lvs-dr/services/web.conf");
    const IPV6: &str = include_str!("../../tests/keepalived/ipv6.conf");
    const SYNC: &str = include_str!("../../tests/keepalived/sync-scripts.conf");

    fn files(files: &[(&str, &str)], main: &str) -> Result<Converted, Vec<Problem>> {
        let nodes = parse::parse(&Mem::new(files), Path::new(main))?;
        convert(&nodes)
    }

    fn conv(text: &str) -> Result<Converted, Vec<Problem>> {
        files(&[("/k/keepalived.conf", text)], "/k/keepalived.conf")
    }

    /// The problems as (line, message).
    fn refused(text: &str) -> Vec<(usize, String)> {
        match conv(text) {
            Ok(c) => panic!("converted:\n{}", c.toml),
            Err(p) => p.into_iter().map(|p| (p.line, p.message)).collect(),
        }
    }

    fn lvs(main: &str) -> Converted {
        files(
            &[
                ("/etc/keepalived/keepalived.conf", main),
                ("/etc/keepalived/services/web.conf", WEB),
            ],
            "/etc/keepalived/keepalived.conf",
        )
        .unwrap()
    }

    /// The result, checked by `config::check` as `vrrpd check-config`
    /// would check it.
    fn check_supported(toml_text: &str) -> crate::config::Config {
        crate::config::check(toml_text).unwrap_or_else(|e| panic!("{e:?}\n{toml_text}"))
    }

    #[test]
    fn the_lvs_dr_director() {
        let c = lvs(DIRECTOR1);
        assert_eq!(
            c.toml,
            r#"# Converted from keepalived.conf by `vrrpd import-keepalived`.
# note: notification_email: vrrpd sends no mail; not converted
# note: notification_email_from: vrrpd sends no mail; not converted
# note: smtp_server: vrrpd sends no mail; not converted
# note: smtp_connect_timeout: vrrpd sends no mail; not converted
# note: router_id: vrrpd has no router id; not converted

[[instance]]
name = "VI_1"
interface = "eth0"
vrid = 51
# note: state MASTER: vrrpd starts every instance as a backup (priority 255 takes over at once); the priorities elect the master within 3 adverts
priority = 150
version = 2
advert_interval_ms = 1000
virtual_ips = ["192.168.100.10/24"]
auth_pass = "s3cret"

[[virtual_server]]
protocol = "tcp"
address = "192.168.100.10:80"
scheduler = "wlc"
on_fail = "drain"
persistence = 50
sorry_server = "192.168.100.30"

[virtual_server.check]
type = "http"
interval_ms = 2000
fast_interval_ms = 1000
timeout_ms = 1000
rise = 1
fall = 3
initial = "up"
path = "/healthz"
status = 200

[[virtual_server.real]]
address = "192.168.100.21"
weight = 1

[[virtual_server.real]]
address = "192.168.100.22"
weight = 1
"#
        );
        // Each note names its file and line.
        assert_eq!(c.notes.len(), 6);
        assert_eq!(
            c.notes[5].to_string(),
            "/etc/keepalived/keepalived.conf:16: note: state MASTER: vrrpd starts every instance as a backup (priority 255 takes over at once); the priorities elect the master within 3 adverts"
                .replace(": note", "")
        );
        let cfg = check_supported(&c.toml);
        let vs = &cfg.virtual_servers[0];
        assert_eq!(vs.instance.as_deref(), Some("VI_1"));
        assert_eq!(vs.reals.len(), 2);
        assert!(vs.reals.iter().all(|r| r
            .check
            .as_ref()
            .is_some_and(|c| c.fall == 3 && c.initial_up)));
        // The other director: the same but its priority, and no note about MASTER.
        let c2 = lvs(DIRECTOR2);
        let cfg2 = check_supported(&c2.toml);
        assert_eq!(
            (cfg.instances[0].priority, cfg2.instances[0].priority),
            (150, 100)
        );
        // (line numbers aside: director1's file has one more note line)
        let unlined = |vs: &[crate::config::VirtualServer]| {
            let mut vs = vs.to_vec();
            for v in &mut vs {
                v.line = 0;
                for r in &mut v.reals {
                    r.line = 0;
                }
            }
            vs
        };
        assert_eq!(
            unlined(&cfg.virtual_servers),
            unlined(&cfg2.virtual_servers)
        );
        assert!(!c2.toml.contains("state MASTER"));
    }

    #[test]
    fn the_ipv6_director() {
        let c = conv(IPV6).unwrap();
        let cfg = check_supported(&c.toml);
        let i = &cfg.instances[0];
        assert_eq!(i.version, crate::packet::Version::V3);
        assert_eq!((i.advert_interval_ms, i.preempt), (500, false));
        assert_eq!(
            i.unicast_peers,
            vec!["fd00:1::3".parse::<IpAddr>().unwrap()]
        );
        let [tls, dns] = &cfg.virtual_servers[..] else {
            panic!()
        };
        assert_eq!(tls.address.to_string(), "[fd00:1::10]:443");
        assert_eq!(tls.scheduler.name(), "maglev");
        assert!(tls.mh_port);
        assert_eq!(tls.on_fail, crate::config::OnFail::Remove);
        // Two different checks: one each.
        let kinds: Vec<_> = tls
            .reals
            .iter()
            .map(|r| r.check.as_ref().unwrap().kind.name())
            .collect();
        assert_eq!(kinds, ["https", "tcp"]);
        assert!(tls
            .reals
            .iter()
            .all(|r| !r.check.as_ref().unwrap().initial_up));
        let crate::config::CheckKind::Https(h) = &tls.reals[0].check.as_ref().unwrap().kind else {
            panic!()
        };
        assert_eq!(
            (h.path.as_str(), h.status, h.host.as_deref()),
            ("/health", 204, Some("www.example.com"))
        );
        assert_eq!(dns.proto, 17);
        let chk = dns.reals[0].check.as_ref().unwrap();
        assert_eq!(
            chk.kind,
            crate::config::CheckKind::Exec(vec![
                "/usr/local/bin/check_dns".into(),
                "fd00:1::21".into(),
                "example.com".into()
            ])
        );
        assert_eq!((chk.fall, chk.timeout.as_millis()), (1, 3000));
    }

    #[test]
    fn sync_groups_and_scripts() {
        let c = conv(SYNC).unwrap();
        let v: toml::Table = toml::from_str(&c.toml).unwrap();
        let want: toml::Table = toml::from_str(
            r#"
[[sync_group]]
name = "VG_1"
instances = ["VI_EXT", "VI_INT"]

[[track_script]]
name = "chk_haproxy"
command = "/usr/bin/pgrep -x haproxy"
interval_ms = 2000
timeout_ms = 3000
rise = 2
fall = 2
weight = -20

[[track_script]]
name = "chk_disk"
command = "/usr/local/bin/check disk 'var lib'"
interval_ms = 10000
timeout_ms = 10000
rise = 1
fall = 1
weight = 0

[[track_file]]
name = "prio_file"
path = "/run/keepalived/prio"
weight = 5
"#,
        )
        .unwrap();
        for k in ["sync_group", "track_script", "track_file"] {
            assert_eq!(v[k], want[k], "{k}");
        }
        let ext = v["instance"][0].as_table().unwrap();
        let int = v["instance"][1].as_table().unwrap();
        let keys = |t: &toml::Table, ks: &[&str]| -> Vec<String> {
            ks.iter()
                .map(|k| t.get(*k).map_or("-".into(), |x| x.to_string()))
                .collect()
        };
        assert_eq!(
            keys(
                ext,
                &[
                    "use_vmac",
                    "garp_master_delay_ms",
                    "garp_master_repeat",
                    "garp_master_refresh_ms",
                    "preempt_delay_ms",
                    "version"
                ]
            ),
            ["true", "10000", "3", "60000", "30000", "2"]
        );
        assert_eq!(
            keys(ext, &["track_interfaces", "track_scripts", "track_files"]),
            [
                r#"["eth2", { name = "eth3", weight = -10 }]"#,
                r#"["chk_haproxy", { name = "chk_disk", weight = -50 }]"#,
                r#"[{ name = "prio_file" }]"#
            ]
        );
        // Global GARP defaults reach every instance; its own repeat only VI_EXT.
        assert_eq!(
            keys(
                int,
                &[
                    "use_vmac",
                    "garp_master_delay_ms",
                    "garp_master_repeat",
                    "auth_pass"
                ]
            ),
            [r#""vrrp.int""#, "10000", "-", r#""internal""#]
        );
        let cfg = check_supported(&c.toml);
        assert_eq!(cfg.instances.len(), 2);
        assert_eq!(cfg.instances[0].virtual_ips.len(), 2);
    }

    #[test]
    fn every_problem_with_its_line() {
        let text = "\
global_defs {
    vrrp_strict
}
vrrp_instance A {
    interface eth0
    virtual_router_id 1
    virtual_ipaddress {
        10.0.0.1/24 label eth0:1
        10.0.0.2 dev eth9
    }
    virtual_ipaddress_excluded {
        10.0.0.3
    }
    notify_master /bin/true
    track_script {
        nowhere
    }
    frobnicate 1
}
virtual_server fwmark 1 {
}
virtual_server 10.0.0.1 80 {
    lb_algo lblc
    lb_kind NAT
    real_server 10.0.0.21 8080 {
        HTTP_GET {
            url {
                path /
                digest 9b3a0c85a887a256d6939da88aabd8cd
            }
        }
    }
}
virtual_server 10.0.0.1 81 {
    lb_kind TUN
    sorry_server 10.0.0.30 82
}
virtual_server 10.0.0.1 82 {
    real_server 10.0.0.21 82 {
    }
}
";
        let got = refused(text);
        let want: &[(usize, &str)] = &[
            (2, "vrrp_strict"),
            (8, "label"),
            (9, "dev eth9"),
            (11, "virtual_ipaddress_excluded"),
            (14, "notify_master"),
            (16, "vrrp_script nowhere is not defined"),
            (18, "`frobnicate` in vrrp_instance"),
            (20, "fwmark"),
            (23, "lb_algo lblc"),
            (24, "lb_kind NAT"),
            (25, "real_server port 8080"),
            (29, "digest"),
            (35, "lb_kind TUN"),
            (36, "sorry_server port 82"),
            (38, "without lb_kind DR"),
        ];
        let mut rest = got.clone();
        for (line, what) in want {
            let i = rest
                .iter()
                .position(|(l, m)| l == line && m.contains(what))
                .unwrap_or_else(|| panic!("no problem `{what}` at line {line}: {got:#?}"));
            rest.remove(i);
        }
        assert!(rest.is_empty(), "unexpected: {rest:#?}");
        // In file order, with the file.
        let lines: Vec<usize> = got.iter().map(|g| g.0).collect();
        assert!(lines.windows(2).all(|w| w[0] <= w[1]), "{lines:?}");
        let p = conv(text).unwrap_err();
        assert!(
            p[0].to_string()
                .starts_with("/k/keepalived.conf:2: vrrp_strict"),
            "{}",
            p[0]
        );
    }

    #[test]
    fn problems_in_included_files_name_them() {
        let err = files(
            &[
                ("/k/keepalived.conf", "include conf.d/*.conf\n"),
                (
                    "/k/conf.d/a.conf",
                    "virtual_server 10.0.0.1 80 {\n  lb_kind DR\n  lb_algo dh\n}\n",
                ),
            ],
            "/k/keepalived.conf",
        )
        .unwrap_err();
        assert_eq!(err.len(), 1, "{err:?}");
        assert_eq!(err[0].to_string(), "/k/conf.d/a.conf:3: lb_algo dh: drlb schedules with rr, wrr, lc, wlc, sh or mh (maglev) only");
    }

    const VI: &str = "vrrp_instance V {\n interface eth0\n virtual_router_id 7\n";

    #[test]
    fn lvs_sync_daemon_becomes_the_sync_table() {
        let vip = " virtual_ipaddress {\n 10.0.0.1\n }\n";
        // Unicast peers: those of the instance named.
        let text = format!(
            "global_defs {{\n lvs_sync_daemon eth1 V id 3\n}}\n{VI}{vip} unicast_peer {{\n 10.0.0.2\n 10.0.0.3\n }}\n}}\nvrrp_instance W {{\n interface eth0\n virtual_router_id 8\n{vip} unicast_peer {{\n 10.9.9.9\n }}\n}}\n"
        );
        let c = conv(&text).unwrap();
        let t: toml::Table = toml::from_str(&c.toml).unwrap();
        let sync = t["sync"].as_table().unwrap();
        assert_eq!(sync["interface"].as_str(), Some("eth1"));
        let peers: Vec<&str> = sync["peers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap())
            .collect();
        assert_eq!(peers, ["10.0.0.2", "10.0.0.3"]);
        assert!(
            c.notes
                .iter()
                .any(|n| n.message.contains("lvs_sync_daemon id")),
            "{:?}",
            c.notes
        );
        crate::config::check(&c.toml).unwrap();
        // Multicast, with keepalived's port and group.
        let c = conv(&format!(
            "global_defs {{\n lvs_sync_daemon eth1 port 9000 group 239.1.1.1\n}}\n{VI}{vip}}}\n"
        ))
        .unwrap();
        let cfg = crate::config::check(&c.toml).unwrap();
        let sync = cfg.sync.unwrap();
        assert!(sync.peers.is_empty());
        assert_eq!(
            (sync.port, sync.group.to_string().as_str()),
            (9000, "239.1.1.1")
        );
        // The instance-level form.
        let c = conv(&format!("{VI}{vip} lvs_sync_daemon_interface eth2\n}}\n")).unwrap();
        assert_eq!(
            crate::config::check(&c.toml)
                .unwrap()
                .sync
                .unwrap()
                .interface,
            "eth2"
        );
        // Bad values are refused with their lines.
        let p = refused("global_defs {\n lvs_sync_daemon eth1 port 0\n}\n");
        assert!(
            p.iter().any(|(l, m)| *l == 2 && m.contains("port `0`")),
            "{p:?}"
        );
        let p = refused("global_defs {\n lvs_sync_daemon\n}\n");
        assert!(
            p.iter()
                .any(|(l, m)| *l == 2 && m.contains("needs an interface")),
            "{p:?}"
        );
        // No sync daemon, no [sync].
        let c = conv(&format!("{VI}{vip}}}\n")).unwrap();
        assert!(!c.toml.contains("[sync]"));
    }

    fn instance(body: &str) -> toml::Table {
        let c = conv(&format!("{VI}{body}}}\n")).unwrap();
        let v: toml::Table = toml::from_str(&c.toml).unwrap();
        v["instance"][0].as_table().unwrap().clone()
    }

    #[test]
    fn instance_defaults_and_versions() {
        let t = instance(" virtual_ipaddress {\n  10.0.0.1\n }\n");
        // keepalived's defaults, written out: v2 (vrrpd's default is 3).
        assert_eq!(t["version"].as_integer(), Some(2));
        assert_eq!(t["priority"].as_integer(), Some(100));
        assert_eq!(t["advert_interval_ms"].as_integer(), Some(1000));
        assert_eq!(t["virtual_ips"].to_string(), r#"["10.0.0.1/32"]"#);
        assert!(t.get("preempt").is_none());
        // IPv6 makes it v3.
        let t = instance(" virtual_ipaddress {\n  2001:db8::1\n }\n");
        assert_eq!(t["version"].as_integer(), Some(3));
        assert_eq!(t["virtual_ips"].to_string(), r#"["2001:db8::1/128"]"#);
        // state MASTER without a priority: 255, as keepalived.
        let c = conv(&format!(
            "{VI} state MASTER\n virtual_ipaddress {{\n 10.0.0.1\n }}\n}}\n"
        ))
        .unwrap();
        assert!(c.toml.contains("priority = 255\n"), "{}", c.toml);
        assert!(c
            .notes
            .iter()
            .any(|n| n.message.contains("keepalived makes it 255")));
        // v3 from global_defs, sub-second.
        let c = conv(&format!("global_defs {{\n vrrp_version 3\n}}\n{VI} advert_int 0.05\n virtual_ipaddress {{\n 10.0.0.1\n }}\n}}\n")).unwrap();
        assert!(
            c.toml.contains("version = 3\nadvert_interval_ms = 50\n"),
            "{}",
            c.toml
        );
    }

    #[test]
    fn ah_authentication_converts() {
        let auth = " authentication {\n  auth_type AH\n  auth_pass secret\n }\n";
        let c = conv(&format!(
            "{VI} virtual_ipaddress {{\n  10.0.0.1\n }}\n{auth}}}\n"
        ))
        .unwrap();
        assert!(
            c.toml
                .contains("auth_type = \"AH\"\nauth_pass = \"secret\"\n"),
            "{}",
            c.toml
        );
        crate::config::check(&c.toml).expect("the conversion passes check-config");
    }

    #[test]
    fn instance_refusals() {
        let vip = " virtual_ipaddress {\n  10.0.0.1\n }\n";
        for (body, what) in [
            (" advert_int 0.5\n", "VRRPv2 takes whole seconds"),
            (
                " version 3\n authentication {\n  auth_type PASS\n  auth_pass x\n }\n",
                "VRRPv3 has none",
            ),
            (
                " authentication {\n  auth_pass 123456789\n }\n",
                "longer than 8",
            ),
            (
                " virtual_ipaddress {\n  2001:db8::2\n }\n",
                "one family per instance",
            ),
            (
                " track_interface {\n  eth1 weight -10 reverse\n }\n",
                "`reverse` weights",
            ),
            (" track_interface {\n  eth1 prio 3\n }\n", "only `weight N`"),
            (" notify \"/bin/notify arg\"\n", "wrap it in a script"),
            (" unicast_peer {\n  10.0.0.9 min_ttl 2\n }\n", "min_ttl"),
            (" priority 0\n", "1..=255"),
        ] {
            let got = refused(&format!("{VI}{vip}{body}}}\n"));
            assert!(got.iter().any(|(_, m)| m.contains(what)), "{body}: {got:?}");
        }
        let got = refused("vrrp_instance V {\n virtual_ipaddress {\n  10.0.0.1\n }\n}\n");
        assert_eq!(got, [(1, "vrrp_instance V: no interface".to_string())]);
    }

    #[test]
    fn track_script_and_file_weights_are_checked() {
        for (conf, what) in [
            (
                "vrrp_script s {\n script \"/bin/true\"\n weight 300\n}\n",
                "weight `300` must be in -254..=254",
            ),
            (
                "vrrp_script s {\n script \"/bin/true\"\n weight 2 reverse\n}\n",
                "`reverse` weights",
            ),
            (
                "vrrp_track_file f {\n file /run/f\n weight x\n}\n",
                "weight `x` must be in",
            ),
            (
                "vrrp_track_file f {\n file /run/f\n weight -3 reverse\n}\n",
                "`reverse` weights",
            ),
            (
                "vrrp_track_file f {\n file /run/f\n weight\n}\n",
                "weight takes a number",
            ),
        ] {
            let got = refused(conf);
            assert!(got.iter().any(|(_, m)| m.contains(what)), "{conf}: {got:?}");
        }
    }

    #[test]
    fn sync_group_and_script_references() {
        let got = refused(
            "vrrp_sync_group G {\n group {\n  A B\n }\n notify_master /x\n}\nvrrp_script s {\n interval 2\n}\n",
        );
        assert_eq!(
            got.iter().map(|g| g.0).collect::<Vec<_>>(),
            [3, 3, 5, 7],
            "{got:?}"
        );
        assert!(
            got[0].1.contains("vrrp_instance A is not defined"),
            "{got:?}"
        );
        assert!(got[3].1.contains("no script"), "{got:?}");
    }

    fn service(body: &str) -> Result<Converted, Vec<Problem>> {
        conv(&format!(
            "virtual_server 10.0.0.1 80 {{\n lb_kind DR\n{body}}}\n"
        ))
    }

    #[test]
    fn service_mappings() {
        let c = service(" persistence_timeout\n lb_algo sh\n real_server 10.0.0.21 80 {\n  weight 3\n  TCP_CHECK {\n  }\n }\n real_server 10.0.0.22 {\n  MISC_CHECK {\n   misc_path /bin/check\n  }\n }\n real_server 10.0.0.23 80\n").unwrap();
        let cfg = check_supported(&c.toml);
        let vs = &cfg.virtual_servers[0];
        assert_eq!((vs.persistence, vs.scheduler.name()), (360, "sh"));
        // keepalived's defaults: delay_loop 60 s, 1 retry after 1 s, 5 s
        // connect timeout; a MISC_CHECK: no retry, timeout = delay_loop.
        let tcp = vs.reals[0].check.as_ref().unwrap();
        assert_eq!(vs.reals[0].weight, 3);
        assert_eq!(
            (
                tcp.interval.as_millis(),
                tcp.fast_interval.as_millis(),
                tcp.timeout.as_millis(),
                tcp.rise,
                tcp.fall,
                tcp.port
            ),
            (60_000, 1000, 5000, 1, 2, 80)
        );
        let misc = vs.reals[1].check.as_ref().unwrap();
        assert_eq!((misc.fall, misc.timeout.as_millis()), (1, 60_000));
        // No checker: always up.
        assert!(vs.reals[2].check.is_none());
        // Without status_code: 200, with a note.
        let c = service(" real_server 10.0.0.21 80 {\n  HTTP_GET {\n   url {\n    path /\n   }\n   connect_port 8080\n  }\n }\n").unwrap();
        assert!(c.toml.contains("port = 8080\n"), "{}", c.toml);
        assert!(
            c.toml.contains("# note: url without status_code"),
            "{}",
            c.toml
        );
        assert_eq!(c.notes[0].line, 5);
        assert_eq!(
            check_supported(&c.toml).virtual_servers[0].reals[0]
                .check
                .as_ref()
                .unwrap()
                .port,
            8080
        );
    }

    #[test]
    fn service_refusals() {
        for (body, what) in [
            (" real_server 10.0.0.21 80 {\n  inhibit_on_failure\n }\n real_server 10.0.0.22 80 {\n }\n", "inhibit_on_failure here but not"),
            (" real_server 10.0.0.21 80 {\n  TCP_CHECK {\n  }\n  MISC_CHECK {\n   misc_path /x\n  }\n }\n", "a second checker"),
            (" real_server 10.0.0.21 80 {\n  HTTP_GET {\n   url {\n    path /\n    status_code 200-299\n   }\n  }\n }\n", "no ranges"),
            (" real_server 10.0.0.21 80 {\n  HTTP_GET {\n  }\n }\n", "without a url"),
            (" real_server 10.0.0.21 80 {\n  MISC_CHECK {\n   misc_path /x\n   misc_dynamic\n  }\n }\n", "misc_dynamic"),
            (" real_server 10.0.0.21 80 {\n  SMTP_CHECK {\n  }\n }\n", "SMTP_CHECK"),
            (" real_server 2001:db8::1 80 {\n }\n", "family"),
            (" protocol SCTP\n", "TCP and UDP only"),
            (" quorum 2\n", "no quorum"),
        ] {
            let got = service(body).map(|c| c.toml).unwrap_err();
            assert!(got.iter().any(|p| p.message.contains(what)), "{body}: {got:?}");
        }
    }

    #[test]
    fn script_lines() {
        assert_eq!(
            argv(r#"/bin/a "b c" 'd "e"' f"#),
            ["/bin/a", "b c", "d \"e\"", "f"]
        );
        assert_eq!(
            shell_line(&argv(r#"/bin/a "b c" "it's" $HOME"#)),
            r#"/bin/a 'b c' 'it'\''s' '$HOME'"#
        );
        // Unquoted script words are one command line too.
        let c = conv("vrrp_script s {\n script /bin/pidof nginx\n}\n").unwrap();
        assert!(
            c.toml.contains(
                "command = \"/bin/pidof nginx\"\ninterval_ms = 1000\ntimeout_ms = 1000\n"
            ),
            "{}",
            c.toml
        );
    }

    #[test]
    fn unknown_top_level_and_globals() {
        let got = refused(
            "global_defs {\n vrrp_mcast_group4 224.0.0.19\n}\nvirtual_server_group g {\n}\nfoo\n",
        );
        assert_eq!(
            got.iter().map(|g| g.0).collect::<Vec<_>>(),
            [2, 4, 6],
            "{got:?}"
        );
    }
}
