//! The drlb edge: brings the module in this network namespace to what the
//! daemon wants, over its generic-netlink family, with drlb-tool's own
//! library (the same diff `drlb-tool apply` sends).
//!
//! Only what differs is sent, never a flush: services and real servers
//! that did not change keep their connections and counters. The daemon
//! touches only the services its configuration names (and those it put
//! there before a reload dropped them); others, made by hand, are left
//! alone. The module may come and go: every call reconnects as needed;
//! a module met for the first time, loaded, or reloaded (its family has
//! a new id: [`crate::genl::Presence`]) is *fresh*, and the daemon's next
//! sync sets its namespace state first, then programs it whole.
//! [`FamilyMonitor`] hears the controller announce the family's coming
//! and going, so that this happens at once rather than at the next
//! periodic sync.

use crate::config::{OnFail, ServiceKey, VirtualServer};
use crate::genl::{self, FamilyEvent, Presence, Seen};
use crate::link;
use crate::services::{Role, ServicePlan};
use anyhow::{Context, Result};
use drlb_core::proto::{attr, cmd};
use drlb_tool::config::{self, File, Op, State};
use drlb_tool::list;
use drlb_tool::netlink::{Attr, Client, KernelError};
use std::collections::BTreeSet;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

/// The module, as the daemon sees it.
#[derive(Default)]
pub struct Lb {
    client: Option<Client>,
    /// Services this daemon manages: a reload that drops one from the
    /// file deletes it.
    managed: BTreeSet<ServiceKey>,
    /// The last error, for status (None: the last call worked).
    pub error: Option<String>,
    /// The module last met, by its family id.
    presence: Presence,
    /// The module is one this daemon has not programmed yet.
    fresh: Option<Seen>,
}

/// What a sync did.
pub struct Synced {
    /// The requests sent.
    pub ops: Vec<Op>,
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
    /// reloaded one has a new family id, which the next connection
    /// finds).
    fn with<T>(&mut self, f: impl FnOnce(&mut Client) -> Result<T>) -> Result<T> {
        if self.client.is_none() {
            match Client::connect() {
                Ok(c) => {
                    if let seen @ Seen::Fresh { .. } = self.presence.found(c.family()) {
                        self.fresh = Some(seen);
                    }
                    self.client = Some(c);
                }
                Err(e) => {
                    self.presence.gone();
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
        r
    }

    /// Reaches the module (connecting if needed). `Some` when it is one
    /// this daemon has not programmed yet (met first, loaded, or
    /// reloaded): the caller sets its state, then every service.
    pub fn reach(&mut self) -> Result<Option<Seen>> {
        self.with(|_| Ok(()))?;
        Ok(self.fresh.take())
    }

    /// The family id of the module last reached.
    pub fn family(&self) -> Option<u16> {
        self.presence.id()
    }

    /// The controller announced a family: a new drlb drops the connection
    /// to the old one (the next [`Lb::reach`] says it is fresh), a drlb
    /// gone makes the module away until it comes back.
    pub fn event(&mut self, ev: &FamilyEvent) -> Seen {
        let seen = self.presence.event(ev);
        match seen {
            Seen::Same => {}
            Seen::Fresh { .. } => {
                self.client = None;
                self.fresh = Some(seen);
            }
            Seen::Gone => {
                self.client = None;
                self.fresh = None;
                self.error = Some("the drlb module was unloaded".into());
            }
        }
        seen
    }

    /// Drops the connection: the next call reconnects and compares the
    /// family's id (notifications were lost).
    pub fn forget(&mut self) {
        self.client = None;
    }

    /// Makes the module's services match `plans`; deletes services managed
    /// before that `plans` no longer name.
    pub fn sync(&mut self, plans: &[(&VirtualServer, &ServicePlan)]) -> Result<Synced> {
        let keys: BTreeSet<ServiceKey> = plans.iter().map(|(vs, _)| vs.key()).collect();
        let managed = self.managed.clone();
        let ops = self.with(|nl| {
            let mut running =
                File::from_running(&list::read(nl).context("reading drlb's services")?);
            running
                .services
                .retain(|s| key_of(s).is_some_and(|k| keys.contains(&k) || managed.contains(&k)));
            apply(nl, &running, plans)
        })?;
        self.managed = keys;
        Ok(Synced { ops })
    }

    /// Makes the module's services in `plans` match them, reading only
    /// those: a check that moved one real server costs that service's
    /// netlink traffic, not the whole table's.
    pub fn sync_some(&mut self, plans: &[(&VirtualServer, &ServicePlan)]) -> Result<Synced> {
        let ops = self.with(|nl| {
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
        Ok(Synced { ops })
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
        let changed = self.with(|nl| {
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
        self.with(list::read)
    }
}

/// A socket in the generic-netlink controller's "notify" group: every
/// family registered or unregistered (a module loaded or unloaded), in
/// every network namespace for a family that is netns-aware, as drlb's
/// is. Anyone may join it.
pub struct FamilyMonitor {
    fd: OwnedFd,
    buf: Vec<u8>,
}

impl FamilyMonitor {
    /// Joins the group.
    pub fn open() -> io::Result<Self> {
        let fd = link::netlink_socket(libc::NETLINK_GENERIC, libc::SOCK_NONBLOCK, 0)?;
        crate::sock::setopt(
            fd.as_raw_fd(),
            libc::SOL_NETLINK,
            libc::NETLINK_ADD_MEMBERSHIP,
            &u32::from(genl::GENL_ID_CTRL),
        )?;
        Ok(Self {
            fd,
            buf: vec![0u8; 64 * 1024],
        })
    }

    /// Its descriptor, for poll.
    pub fn raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// The events waiting, read until none is left. An error means some
    /// were lost (ENOBUFS) or could not be read: the caller looks at the
    /// module's family id again.
    pub fn read(&mut self) -> (Vec<FamilyEvent>, Option<io::Error>) {
        link::read_all(self.fd.as_raw_fd(), &mut self.buf, genl::parse)
    }
}
