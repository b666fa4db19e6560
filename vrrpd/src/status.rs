//! What the daemon reports: `vrrpd status --json` and the `/metrics`
//! exposition, both built from the same state.

use crate::checks::{Checks, Probe, ProbeKey};
use crate::config::{Config, VirtualServer};
use crate::instance::{state_name, unix_secs, Running};
use crate::metrics::{Exposition, Kind};
use crate::reload::Drain;
use crate::services::{Role, ServicePlan};
use drlb_tool::list;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeSet;
use std::time::{Duration, SystemTime};

/// Everything a report reads.
pub struct Sources<'a> {
    /// The running instances.
    pub instances: &'a [&'a Running],
    /// The configuration.
    pub cfg: &'a Config,
    /// The last plan, per virtual server (the configuration's order).
    pub plans: &'a [ServicePlan],
    /// The checks.
    pub checks: &'a Checks,
    /// The operator's drains.
    pub drains: &'a BTreeSet<Drain>,
    /// Why the module could not be reached, if it could not.
    pub lb_error: Option<&'a str>,
    /// The daemon's clock now.
    pub now: Duration,
    /// Connection sync's section, when `[sync]` is configured.
    pub sync: Option<Value>,
}

impl Sources<'_> {
    /// A daemon time as seconds since the epoch.
    fn unix(&self, t: Duration) -> f64 {
        unix_secs(SystemTime::now() - self.now.saturating_sub(t))
    }

    fn probe(&self, vs: &VirtualServer, addr: std::net::IpAddr) -> Option<&Probe> {
        let spec = vs.real(addr)?.check.clone()?;
        self.checks.find(&ProbeKey { addr, spec })
    }

    fn check(&self, vs: &VirtualServer, addr: std::net::IpAddr) -> Option<CheckStatus<'_>> {
        let p = self.probe(vs, addr)?;
        let last = p.last.as_ref();
        Some(CheckStatus {
            kind: p.key.spec.kind.name(),
            target: std::net::SocketAddr::new(p.key.addr, p.key.spec.port),
            state: if p.health.is_up() { "up" } else { "down" },
            settled: p.health.settled(),
            last_result: last.map(|o| if o.ok { "pass" } else { "fail" }),
            reason: last.map(|o| o.reason.as_str()),
            latency_ms: last.map(|o| o.latency.as_secs_f64() * 1000.0),
            last_probe: last.map(|o| self.unix(o.at)),
            last_transition: p.health.since().map(|t| self.unix(t)),
            transitions: p.health.transitions(),
        })
    }
}

// The status document, serialized straight from borrowed state: a daemon
// with thousands of real servers answers in milliseconds, and its checks
// wait meanwhile.

#[derive(Serialize)]
struct CheckStatus<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    target: std::net::SocketAddr,
    state: &'static str,
    settled: bool,
    last_result: Option<&'static str>,
    reason: Option<&'a str>,
    latency_ms: Option<f64>,
    last_probe: Option<f64>,
    last_transition: Option<f64>,
    transitions: u64,
}

#[derive(Serialize)]
struct RealStatus<'a> {
    address: std::net::IpAddr,
    weight: u32,
    programmed_weight: Option<u32>,
    role: &'static str,
    drained: bool,
    check: Option<CheckStatus<'a>>,
}

#[derive(Serialize)]
struct ServiceStatus<'a> {
    protocol: &'static str,
    address: std::net::SocketAddr,
    scheduler: &'static str,
    instance: Option<&'a str>,
    state: &'static str,
    panic: bool,
    reals: Vec<RealStatus<'a>>,
}

/// Percentiles of the recent starts' lateness.
#[derive(Serialize)]
struct Recent {
    starts: usize,
    p50_ms: Option<f64>,
    p99_ms: Option<f64>,
    max_ms: Option<f64>,
}

/// The checks as a whole.
#[derive(Serialize)]
pub struct ChecksSummary {
    probes: usize,
    started: u64,
    lateness_max_ms: f64,
    lateness_mean_ms: f64,
    lateness_recent: Recent,
}

/// The checks' summary (`vrrpd status --json`'s "checks", and all the
/// control socket's `checks` request answers).
pub fn checks_summary(checks: &Checks) -> ChecksSummary {
    let l = &checks.lateness;
    let ms = |q: f64| l.percentile(q).map(|us| f64::from(us) / 1000.0);
    ChecksSummary {
        probes: checks.len(),
        started: l.count,
        lateness_max_ms: l.max_us as f64 / 1000.0,
        lateness_mean_ms: if l.count > 0 {
            l.sum_us as f64 / l.count as f64 / 1000.0
        } else {
            0.0
        },
        lateness_recent: Recent {
            starts: l.recent_len(),
            p50_ms: ms(0.5),
            p99_ms: ms(0.99),
            max_ms: ms(1.0),
        },
    }
}

#[derive(Serialize)]
struct Status<'a> {
    instances: Vec<Value>,
    virtual_servers: Vec<ServiceStatus<'a>>,
    checks: ChecksSummary,
    drlb: Drlb<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sync: Option<Value>,
}

#[derive(Serialize)]
struct Drlb<'a> {
    error: Option<&'a str>,
}

/// `vrrpd status --json`, as text.
pub fn json(s: &Sources<'_>) -> String {
    let virtual_servers = s
        .cfg
        .virtual_servers
        .iter()
        .zip(s.plans)
        .map(|(vs, plan)| ServiceStatus {
            protocol: drlb_tool::addr::proto_name(vs.proto),
            address: vs.address,
            scheduler: vs.scheduler.name(),
            instance: vs.instance.as_deref(),
            state: if plan.active { "active" } else { "standby" },
            panic: plan.panic,
            reals: plan
                .reals
                .iter()
                .map(|r| RealStatus {
                    address: r.addr,
                    weight: vs.real(r.addr).map_or(1, |c| c.weight),
                    programmed_weight: r.present().then_some(r.weight),
                    role: r.role.name(),
                    drained: s.drains.contains(&(vs.key(), r.addr)),
                    check: s.check(vs, r.addr),
                })
                .collect(),
        })
        .collect();
    let status = Status {
        instances: s.instances.iter().map(|r| r.status()).collect(),
        virtual_servers,
        checks: checks_summary(s.checks),
        drlb: Drlb { error: s.lb_error },
        sync: s.sync.clone(),
    };
    serde_json::to_string(&status).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

/// The labels of a service.
fn svc_labels<'a>(proto: &'a str, vip: &'a str, port: &'a str) -> [(&'static str, &'a str); 3] {
    [("protocol", proto), ("vip", vip), ("port", port)]
}

/// The `/metrics` exposition; `module` is drlb's services with their
/// counters, if it could be read.
pub fn metrics(s: &Sources<'_>, module: Option<&[list::Service]>, running_probes: usize) -> String {
    let mut e = Exposition::new();
    for r in s.instances {
        let vrid = r.cfg.vrid.to_string();
        let l = [
            ("instance", r.name()),
            ("interface", r.cfg.interface.as_str()),
            ("vrid", vrid.as_str()),
        ];
        let state = match state_name(r.state()) {
            "INIT" => 0.0,
            "BACKUP" => 1.0,
            "MASTER" => 2.0,
            _ => 3.0,
        };
        e.sample(
            "vrrpd_vrrp_state",
            Kind::Gauge,
            "VRRP state: 0 init, 1 backup, 2 master, 3 fault.",
            &l,
            state,
        );
        e.sample(
            "vrrpd_vrrp_priority",
            Kind::Gauge,
            "VRRP priority.",
            &l,
            f64::from(r.cfg.priority),
        );
        let c = &r.counters;
        e.sample(
            "vrrpd_vrrp_transitions_total",
            Kind::Counter,
            "VRRP state changes.",
            &l,
            c.transitions as f64,
        );
        e.sample(
            "vrrpd_vrrp_became_master_total",
            Kind::Counter,
            "Times the instance became master.",
            &l,
            c.became_master as f64,
        );
        e.sample(
            "vrrpd_vrrp_adverts_sent_total",
            Kind::Counter,
            "VRRP adverts sent.",
            &l,
            c.adverts_sent as f64,
        );
        e.sample(
            "vrrpd_vrrp_adverts_received_total",
            Kind::Counter,
            "VRRP adverts received and accepted.",
            &l,
            c.adverts_received as f64,
        );
        for cause in crate::instance::Cause::ALL {
            let lc = [l[0], l[1], l[2], ("cause", cause.name())];
            e.sample(
                "vrrpd_vrrp_fault",
                Kind::Gauge,
                "1 while the cause holds: interface (down or gone), vip (cannot add the VIPs), drlb (cannot switch drlb), track (a tracked script or file without a weight failed), sync_group (another member of its sync group is in FAULT).",
                &lc,
                f64::from(u8::from(r.fault_cause(cause))),
            );
        }
        for (cause, n) in &c.faults {
            let lc = [l[0], l[1], l[2], ("cause", cause)];
            e.sample(
                "vrrpd_vrrp_faults_total",
                Kind::Counter,
                "Entries into FAULT, by cause.",
                &lc,
                *n as f64,
            );
        }
        for (reason, n) in &c.bad {
            let lr = [l[0], l[1], l[2], ("reason", reason)];
            e.sample(
                "vrrpd_vrrp_bad_packets_total",
                Kind::Counter,
                "VRRP packets discarded, by reason.",
                &lr,
                *n as f64,
            );
        }
    }
    for (vs, plan) in s.cfg.virtual_servers.iter().zip(s.plans) {
        let (proto, vip, port) = (
            drlb_tool::addr::proto_name(vs.proto),
            vs.address.ip().to_string(),
            vs.address.port().to_string(),
        );
        let sl = svc_labels(proto, &vip, &port);
        e.sample(
            "vrrpd_service_active",
            Kind::Gauge,
            "1 if the service forwards on this director (its instance is master).",
            &sl,
            f64::from(u8::from(plan.active)),
        );
        e.sample(
            "vrrpd_service_panic",
            Kind::Gauge,
            "1 while fewer real servers are up than the panic threshold.",
            &sl,
            f64::from(u8::from(plan.panic)),
        );
        for r in &plan.reals {
            let real = r.addr.to_string();
            let rl = [sl[0], sl[1], sl[2], ("real", real.as_str())];
            let weight = if r.present() {
                f64::from(r.weight)
            } else {
                0.0
            };
            e.sample(
                "vrrpd_real_weight",
                Kind::Gauge,
                "The weight vrrpd gives the real server (0: out of rotation).",
                &rl,
                weight,
            );
            e.sample(
                "vrrpd_real_drained",
                Kind::Gauge,
                "1 if drained by an operator.",
                &rl,
                f64::from(u8::from(r.role == Role::Drained)),
            );
            let Some(p) = s.probe(vs, r.addr) else {
                continue;
            };
            e.sample(
                "vrrpd_check_up",
                Kind::Gauge,
                "1 if the real server's check says up.",
                &rl,
                f64::from(u8::from(p.health.is_up())),
            );
            e.sample(
                "vrrpd_check_transitions_total",
                Kind::Counter,
                "Up/down changes of the check.",
                &rl,
                p.health.transitions() as f64,
            );
            if let Some(o) = &p.last {
                e.sample(
                    "vrrpd_check_latency_seconds",
                    Kind::Gauge,
                    "How long the last probe took.",
                    &rl,
                    o.latency.as_secs_f64(),
                );
            }
        }
    }
    e.sample(
        "vrrpd_checks",
        Kind::Gauge,
        "Distinct probes (identical checks are one).",
        &[],
        s.checks.len() as f64,
    );
    e.sample(
        "vrrpd_checks_running",
        Kind::Gauge,
        "Probes in flight.",
        &[],
        running_probes as f64,
    );
    let l = &s.checks.lateness;
    let mut cum = 0;
    let buckets: Vec<(f64, u64)> = l.buckets[..25]
        .iter()
        .enumerate()
        .map(|(i, n)| {
            cum += n;
            ((1u64 << i) as f64 / 1e6, cum)
        })
        .filter(|(le, _)| *le >= 1e-4)
        .collect();
    e.histogram(
        "vrrpd_check_lateness_seconds",
        "How late probes start against their schedule.",
        &buckets,
        l.sum_us as f64 / 1e6,
        l.count,
    );
    e.sample(
        "drlb_up",
        Kind::Gauge,
        "1 if the drlb module could be read.",
        &[],
        f64::from(u8::from(module.is_some())),
    );
    for svc in module.into_iter().flatten() {
        let port = svc.port.to_string();
        let sl = svc_labels(svc.protocol, &svc.address, &port);
        let st = &svc.stats;
        e.sample(
            "drlb_service_connections_total",
            Kind::Counter,
            "Connections the service scheduled.",
            &sl,
            st.conns as f64,
        );
        e.sample(
            "drlb_service_packets_total",
            Kind::Counter,
            "Packets the service forwarded.",
            &sl,
            st.packets as f64,
        );
        e.sample(
            "drlb_service_bytes_total",
            Kind::Counter,
            "Bytes the service forwarded.",
            &sl,
            st.bytes as f64,
        );
        e.sample(
            "drlb_service_active_connections",
            Kind::Gauge,
            "Active (established) connections.",
            &sl,
            f64::from(st.active),
        );
        e.sample(
            "drlb_service_inactive_connections",
            Kind::Gauge,
            "Other connections.",
            &sl,
            f64::from(st.inactive),
        );
        for r in &svc.reals {
            let rl = [sl[0], sl[1], sl[2], ("real", r.address.as_str())];
            let st = &r.stats;
            e.sample(
                "drlb_real_weight",
                Kind::Gauge,
                "The real server's weight in the module.",
                &rl,
                f64::from(r.weight),
            );
            e.sample(
                "drlb_real_connections_total",
                Kind::Counter,
                "Connections scheduled to the real server.",
                &rl,
                st.conns as f64,
            );
            e.sample(
                "drlb_real_packets_total",
                Kind::Counter,
                "Packets forwarded to the real server.",
                &rl,
                st.packets as f64,
            );
            e.sample(
                "drlb_real_bytes_total",
                Kind::Counter,
                "Bytes forwarded to the real server.",
                &rl,
                st.bytes as f64,
            );
            e.sample(
                "drlb_real_active_connections",
                Kind::Gauge,
                "Active connections to the real server.",
                &rl,
                f64::from(st.active),
            );
            e.sample(
                "drlb_real_inactive_connections",
                Kind::Gauge,
                "Other connections to the real server.",
                &rl,
                f64::from(st.inactive),
            );
        }
    }
    if let Some(c) = &s.sync {
        let n = |k: &str| c[k].as_u64().unwrap_or(0) as f64;
        for (dir, k) in [
            ("sent", "datagrams_sent"),
            ("received", "datagrams_received"),
        ] {
            e.sample(
                "vrrpd_sync_datagrams_total",
                Kind::Counter,
                "Connection-sync datagrams sent to and received (accepted) from the peers.",
                &[("direction", dir)],
                n(k),
            );
        }
        for (dir, k) in [("sent", "records_sent"), ("received", "records_received")] {
            e.sample(
                "vrrpd_sync_records_total",
                Kind::Counter,
                "Connection-sync records sent to and received from the peers.",
                &[("direction", dir)],
                n(k),
            );
        }
        for reason in ["non_peer", "bad_auth", "malformed", "bad_version"] {
            e.sample(
                "vrrpd_sync_dropped_total",
                Kind::Counter,
                "Connection-sync datagrams dropped, by reason.",
                &[("reason", reason)],
                n(reason),
            );
        }
        e.sample(
            "vrrpd_sync_preemption_held",
            Kind::Gauge,
            "1 while preemption waits for the connection table (the pull).",
            &[],
            f64::from(u8::from(c["preemption_held"].as_bool() == Some(true))),
        );
    }
    e.finish()
}
