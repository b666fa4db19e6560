//! The drlb edge: brings the module in this network namespace to what the
//! daemon wants, over its generic-netlink family, with drlb-tool's own
//! library (the same diff `drlb-tool apply` sends).
//!
//! Only what differs is sent, never a flush: services and real servers
//! that did not change keep their connections and counters. The daemon
//! touches only the services its configuration names (and those it put
//! there before a reload dropped them); others, made by hand, are left
//! alone. The module may come and go: every call reconnects as needed,
//! and the next sync after the module reappears programs it whole.

use crate::config::{OnFail, ServiceKey, VirtualServer};
use crate::services::{Role, ServicePlan};
use anyhow::{Context, Result};
use drlb_core::proto::{attr, cmd};
use drlb_tool::config::{self, File, Op, State};
use drlb_tool::list;
use drlb_tool::netlink::{Attr, Client, KernelError};
use std::collections::BTreeSet;

/// The module, as the daemon sees it.
#[derive(Default)]
pub struct Lb {
    client: Option<Client>,
    /// Services this daemon manages: a reload that drops one from the
    /// file deletes it.
    managed: BTreeSet<ServiceKey>,
    /// The last error, for status (None: the last call worked).
    pub error: Option<String>,
}

/// What a sync did.
pub struct Synced {
    /// The requests sent.
    pub ops: Vec<Op>,
    /// The module was unreachable before this sync.
    pub reappeared: bool,
}

/// The module's service for a plan. A real server whose check has not
/// decided yet keeps the weight the module gives it (a restarted daemon
/// changes nothing it has not checked); one the module lacks goes in as if
/// down.
fn service(
    vs: &VirtualServer,
    plan: &ServicePlan,
    running: Option<&config::Service>,
) -> config::Service {
    let now = |addr: std::net::IpAddr| {
        running?
            .reals
            .iter()
            .find(|r| r.address.parse() == Ok(addr))
            .map(|r| r.weight)
    };
    config::Service {
        protocol: drlb_tool::addr::proto_name(vs.proto).to_string(),
        address: vs.address.to_string(),
        scheduler: vs.scheduler.name().to_string(),
        persistence: vs.persistence,
        seed: vs.seed,
        mh_port: vs.mh_port,
        state: if plan.active {
            State::Active
        } else {
            State::Standby
        },
        reals: plan
            .reals
            .iter()
            .filter_map(|r| {
                let weight = match r.role {
                    Role::Unknown => match (now(r.addr), vs.on_fail) {
                        (Some(w), _) => w,
                        (None, OnFail::Drain) => 0,
                        (None, OnFail::Remove) => return None,
                    },
                    _ if !r.present() => return None,
                    _ => r.weight,
                };
                Some(config::Real {
                    address: r.addr.to_string(),
                    weight,
                })
            })
            .collect(),
    }
}

fn key_of(s: &config::Service) -> Option<ServiceKey> {
    Some(ServiceKey {
        proto: drlb_tool::addr::proto(&s.protocol).ok()?,
        addr: drlb_tool::addr::service(&s.address).ok()?,
    })
}

/// Sends the difference between `running` and `plans`.
fn apply(
    nl: &mut Client,
    running: &File,
    plans: &[(&VirtualServer, &ServicePlan)],
) -> Result<Vec<Op>> {
    let wanted = File {
        services: plans
            .iter()
            .map(|(vs, p)| {
                let now = running
                    .services
                    .iter()
                    .find(|s| key_of(s) == Some(vs.key()));
                service(vs, p, now)
            })
            .collect(),
    };
    let ops = config::diff(running, &wanted)?;
    for op in &ops {
        op.send(nl).with_context(|| format!("drlb-tool {op}"))?;
    }
    Ok(ops)
}

impl Lb {
    /// Not connected yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs `f` on a connection to the module, connecting first if needed;
    /// a failure drops the connection (the module may have gone, and a
    /// reloaded one has a new family id). Returns whether the module had
    /// been unreachable before.
    fn with<T>(&mut self, f: impl FnOnce(&mut Client) -> Result<T>) -> Result<(T, bool)> {
        let reappeared = self.client.is_none() && self.error.is_some();
        if self.client.is_none() {
            match Client::connect() {
                Ok(c) => self.client = Some(c),
                Err(e) => {
                    self.error = Some(format!("{e:#}"));
                    return Err(e);
                }
            }
        }
        let r = f(self.client.as_mut().expect("connected"));
        match &r {
            Ok(_) => self.error = None,
            Err(e) => {
                self.error = Some(format!("{e:#}"));
                self.client = None;
            }
        }
        r.map(|v| (v, reappeared))
    }

    /// Makes the module's services match `plans`; deletes services managed
    /// before that `plans` no longer name.
    pub fn sync(&mut self, plans: &[(&VirtualServer, &ServicePlan)]) -> Result<Synced> {
        let keys: BTreeSet<ServiceKey> = plans.iter().map(|(vs, _)| vs.key()).collect();
        let managed = self.managed.clone();
        let (ops, reappeared) = self.with(|nl| {
            let mut running =
                File::from_running(&list::read(nl).context("reading drlb's services")?);
            running
                .services
                .retain(|s| key_of(s).is_some_and(|k| keys.contains(&k) || managed.contains(&k)));
            apply(nl, &running, plans)
        })?;
        self.managed = keys;
        Ok(Synced { ops, reappeared })
    }

    /// Makes the module's services in `plans` match them, reading only
    /// those: a check that moved one real server costs that service's
    /// netlink traffic, not the whole table's.
    pub fn sync_some(&mut self, plans: &[(&VirtualServer, &ServicePlan)]) -> Result<Synced> {
        let (ops, reappeared) = self.with(|nl| {
            let mut running = File::default();
            for (vs, _) in plans {
                let proto = drlb_tool::addr::proto_name(vs.proto);
                let (_, key) = drlb_tool::addr::service_key(proto, &vs.address.to_string())?;
                match list::read_some(nl, Some(key)) {
                    Ok(s) => running.services.extend(File::from_running(&s).services),
                    Err(e)
                        if e.downcast_ref::<KernelError>()
                            .is_some_and(|k| k.errno == libc::ENOENT) => {}
                    Err(e) => return Err(e.context("reading drlb's services")),
                }
            }
            apply(nl, &running, plans)
        })?;
        Ok(Synced { ops, reappeared })
    }

    /// Whether it manages any service (a reload that drops every virtual
    /// server still has some to delete).
    pub fn manages_any(&self) -> bool {
        !self.managed.is_empty()
    }

    /// The namespace's switch (`drlb-tool state`); whether it changed.
    pub fn set_namespace(&mut self, active: bool) -> Result<bool> {
        let want = if active {
            State::Active
        } else {
            State::Standby
        };
        let (changed, _) = self.with(|nl| {
            let r = nl.request(cmd::STATUS, vec![], false)?;
            let have = r
                .first()
                .and_then(|a| drlb_tool::netlink::Attrs::u8(a.as_slice(), attr::STATE))
                .map(State::from_u8);
            if have == Some(want) {
                return Ok(false);
            }
            nl.request(
                cmd::SET_STATE,
                vec![Attr::u8(attr::STATE, want.to_u8())],
                false,
            )?;
            Ok(true)
        })?;
        Ok(changed)
    }

    /// Whether the module answers (its status), changing nothing, this
    /// side included: a probe on a connection of its own when there is
    /// none, so that the next sync still finds the module back and
    /// programs it whole. The error as [`Lb::error`] words it, if not.
    pub fn reachable(&mut self) -> Result<(), String> {
        let status = |nl: &mut Client| nl.request(cmd::STATUS, vec![], false).map(drop);
        if let Some(c) = self.client.as_mut() {
            if status(c).is_ok() {
                return Ok(());
            }
        }
        Client::connect()
            .and_then(|mut c| status(&mut c))
            .map_err(|e| format!("{e:#}"))
    }

    /// The module's services with their counters.
    pub fn read(&mut self) -> Result<Vec<list::Service>> {
        self.with(list::read).map(|(v, _)| v)
    }
}
