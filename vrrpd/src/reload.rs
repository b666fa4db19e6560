//! What a reload (SIGHUP) changes, without I/O. Instances are matched by
//! name: one whose configuration is unchanged keeps its state; one whose
//! priority alone changed takes it in place; any other change restarts
//! it. Services, real servers and checks need no plan of their own: the
//! module is brought to the new configuration by a diff, and checks are
//! kept by identity ([`crate::checks::Checks::sync`]). Operator drains
//! survive unless the reload changes their real server.

use crate::config::{Config, InstanceConfig, RealServer, ServiceKey};
use crate::fsm::OWNER_PRIORITY;
use std::collections::BTreeSet;
use std::net::IpAddr;

/// What happens to one instance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// Unchanged: it keeps running, state and all.
    Keep,
    /// Only its priority changed: set in place.
    Priority(u8),
    /// Anything else changed: stop it, start the new one.
    Restart,
    /// Gone from the file: stop it.
    Remove,
}

/// The reload's instance plan: a change per running instance (by name),
/// then the names of instances to start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// For each running instance.
    pub running: Vec<(String, Change)>,
    /// Instances new in the file.
    pub start: Vec<String>,
}

fn without_line(c: &InstanceConfig) -> InstanceConfig {
    InstanceConfig {
        line: 0,
        ..c.clone()
    }
}

/// The plan from the running instances' configurations to `new`'s.
pub fn plan(running: &[&InstanceConfig], new: &Config) -> Plan {
    let running_changes = running
        .iter()
        .map(|old| {
            let change = match new.instance(&old.name) {
                None => Change::Remove,
                Some(n) if without_line(n) == without_line(old) => Change::Keep,
                Some(n)
                    if n.priority != OWNER_PRIORITY
                        && old.priority != OWNER_PRIORITY
                        && without_line(&InstanceConfig {
                            priority: old.priority,
                            ..n.clone()
                        }) == without_line(old) =>
                {
                    Change::Priority(n.priority)
                }
                Some(_) => Change::Restart,
            };
            (old.name.clone(), change)
        })
        .collect();
    let start = new
        .instances
        .iter()
        .filter(|n| !running.iter().any(|o| o.name == n.name))
        .map(|n| n.name.clone())
        .collect();
    Plan {
        running: running_changes,
        start,
    }
}

/// The names of the instances a plan starts: new ones, and those it
/// restarts.
pub fn to_start(plan: &Plan) -> impl Iterator<Item = &str> {
    plan.running
        .iter()
        .filter(|(_, c)| *c == Change::Restart)
        .map(|(n, _)| n.as_str())
        .chain(plan.start.iter().map(String::as_str))
}

/// An operator's drain: a real server of a service.
pub type Drain = (ServiceKey, IpAddr);

fn same_real(a: &RealServer, b: &RealServer) -> bool {
    RealServer {
        line: 0,
        ..a.clone()
    } == RealServer {
        line: 0,
        ..b.clone()
    }
}

/// The drains that hold under `new`: their real server is still there,
/// configured as it was in `old`.
pub fn kept_drains(old: &Config, new: &Config, drains: &BTreeSet<Drain>) -> BTreeSet<Drain> {
    drains
        .iter()
        .filter(|(svc, addr)| {
            let was = old.virtual_server(svc).and_then(|v| v.real(*addr));
            let is = new.virtual_server(svc).and_then(|v| v.real(*addr));
            matches!((was, is), (Some(a), Some(b)) if same_real(a, b))
        })
        .copied()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::check;

    fn inst(name: &str, vrid: u8, prio: u8, extra: &str) -> String {
        format!("[[instance]]\nname = \"{name}\"\ninterface = \"eth0\"\nvrid = {vrid}\npriority = {prio}\nvirtual_ips = [\"198.51.100.{vrid}\"]\n{extra}\n")
    }

    fn names(c: &Config) -> Vec<&InstanceConfig> {
        c.instances.iter().collect()
    }

    #[test]
    fn instances_are_kept_changed_restarted_removed_and_added() {
        let old = check(&format!(
            "{}{}{}{}",
            inst("keep", 10, 100, ""),
            inst("prio", 11, 100, ""),
            inst("other", 12, 100, ""),
            inst("gone", 13, 100, "")
        ))
        .unwrap();
        // The same instances in another order and on other lines, one with
        // a new priority, one with a new interval, one gone, one new.
        let new = check(&format!(
            "# reloaded\n{}{}{}{}",
            inst("new", 14, 100, ""),
            inst("other", 12, 100, "advert_interval_ms = 200"),
            inst("prio", 11, 150, ""),
            inst("keep", 10, 100, ""),
        ))
        .unwrap();
        let p = plan(&names(&old), &new);
        assert_eq!(
            p.running,
            [
                ("keep".to_string(), Change::Keep),
                ("prio".to_string(), Change::Priority(150)),
                ("other".to_string(), Change::Restart),
                ("gone".to_string(), Change::Remove),
            ]
        );
        assert_eq!(p.start, ["new"]);
        // What the daemon must be able to start before it applies a reload.
        assert_eq!(to_start(&p).collect::<Vec<_>>(), ["other", "new"]);
    }

    #[test]
    fn owner_priority_changes_restart() {
        let old = check(&inst("a", 10, 100, "")).unwrap();
        let new = check(&inst("a", 10, 255, "")).unwrap();
        assert_eq!(plan(&names(&old), &new).running[0].1, Change::Restart);
        assert_eq!(plan(&names(&new), &old).running[0].1, Change::Restart);
    }

    #[test]
    fn a_priority_and_something_else_restarts() {
        let old = check(&inst("a", 10, 100, "")).unwrap();
        let new = check(&inst("a", 10, 150, "preempt = false")).unwrap();
        assert_eq!(plan(&names(&old), &new).running[0].1, Change::Restart);
    }

    fn service(reals: &str) -> Config {
        check(&format!(
            "[[virtual_server]]\nprotocol = \"tcp\"\naddress = \"198.51.100.10:80\"\n[virtual_server.check]\ntype = \"tcp\"\n{reals}"
        ))
        .unwrap()
    }

    fn real(last: u8, weight: u32) -> String {
        format!("[[virtual_server.real]]\naddress = \"198.51.100.{last}\"\nweight = {weight}\n")
    }

    #[test]
    fn drains_hold_unless_their_real_server_changes() {
        let old = service(&format!("{}{}{}", real(21, 1), real(22, 1), real(23, 1)));
        let key = old.virtual_servers[0].key();
        let ip = |l: u8| IpAddr::from([198, 51, 100, l]);
        let drains: BTreeSet<Drain> = [21, 22, 23].map(|l| (key, ip(l))).into_iter().collect();
        // .21 unchanged (but moved down the file), .22 re-weighted, .23
        // gone.
        let new = service(&format!("{}{}", real(22, 5), real(21, 1)));
        assert_eq!(
            kept_drains(&old, &new, &drains),
            [(key, ip(21))].into_iter().collect()
        );
        let no_service =
            check("[[virtual_server]]\nprotocol = \"udp\"\naddress = \"198.51.100.10:80\"\n")
                .unwrap();
        assert!(kept_drains(&old, &no_service, &drains).is_empty());
    }
}
