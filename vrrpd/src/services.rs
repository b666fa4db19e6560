//! What drlb should hold for a virtual server, without I/O: its real
//! servers' weights from their health, the operator's drains, slow start,
//! the panic threshold and the sorry server, and whether it forwards at all
//! (its VRRP instance is MASTER here).

use crate::config::{OnFail, ServiceKey, VirtualServer};
use crate::health::{self, Health};
use std::net::IpAddr;
use std::time::Duration;

/// A real server as the plan sees it.
#[derive(Clone, Copy, Debug)]
pub struct RealState<'a> {
    /// Its address.
    pub addr: IpAddr,
    /// Its configured weight.
    pub weight: u32,
    /// Its check's health (None: not checked, so always up).
    pub health: Option<&'a Health>,
    /// Drained by the operator (`vrrpd drain`).
    pub drained: bool,
}

impl RealState<'_> {
    fn up(&self) -> bool {
        self.health.is_none_or(Health::is_up)
    }

    /// Its check has not decided yet (a daemon just started or reloaded
    /// with a new check).
    fn unknown(&self) -> bool {
        self.health.is_some_and(|h| !h.settled())
    }
}

/// Why a real server has the weight it has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Up, at its weight.
    Up,
    /// Not probed enough to know: the module keeps what it has (a new
    /// real server goes in as if down).
    Unknown,
    /// Up, ramping under slow start.
    SlowStart,
    /// Down: weight 0 (`on_fail = "drain"`).
    Down,
    /// Down: out of the service (`on_fail = "remove"`).
    Removed,
    /// Drained by the operator: weight 0.
    Drained,
    /// Down, but in rotation: fewer servers are up than the panic
    /// threshold.
    Panic,
    /// The sorry server: every real server is down.
    Sorry,
}

impl Role {
    /// As status shows it.
    pub fn name(self) -> &'static str {
        match self {
            Role::Up => "up",
            Role::Unknown => "not checked yet",
            Role::SlowStart => "slow start",
            Role::Down => "down",
            Role::Removed => "down (removed)",
            Role::Drained => "drained",
            Role::Panic => "down (in rotation: panic)",
            Role::Sorry => "sorry server",
        }
    }
}

/// One real server in the plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedReal {
    /// Its address.
    pub addr: IpAddr,
    /// The weight drlb should give it (meaningless when removed).
    pub weight: u32,
    /// Why.
    pub role: Role,
}

impl PlannedReal {
    /// Whether it belongs in the module's service.
    pub fn present(&self) -> bool {
        self.role != Role::Removed
    }
}

/// What drlb should hold for one virtual server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServicePlan {
    /// The service.
    pub key: ServiceKey,
    /// Forwards here (false: standby, its instance is not MASTER).
    pub active: bool,
    /// The configured real servers, then the sorry server if in use.
    pub reals: Vec<PlannedReal>,
    /// Fewer servers up than the panic threshold.
    pub panic: bool,
}

/// The plan for `vs` at `now`, from its real servers' state (in the
/// order of its configuration) and whether its instance lets it forward.
///
/// A real server whose check has not decided yet counts as available (no
/// sorry server, no panic on its account) and is planned as
/// [`Role::Unknown`].
pub fn plan(
    vs: &VirtualServer,
    reals: &[RealState<'_>],
    active: bool,
    now: Duration,
) -> ServicePlan {
    let available = reals
        .iter()
        .filter(|r| (r.up() || r.unknown()) && !r.drained)
        .count();
    let sorry = vs.sorry_server.filter(|_| available == 0);
    let panic = sorry.is_none() && health::panic(available, reals.len(), vs.panic_threshold);
    let mut out: Vec<PlannedReal> = reals
        .iter()
        .map(|r| {
            let (weight, role) = if r.drained {
                (0, Role::Drained)
            } else if r.unknown() {
                (r.weight, Role::Unknown)
            } else if r.up() {
                let w = r
                    .health
                    .map_or(r.weight, |h| h.ramped_weight(r.weight, now, vs.slow_start));
                (
                    w,
                    if w < r.weight {
                        Role::SlowStart
                    } else {
                        Role::Up
                    },
                )
            } else if panic {
                (r.weight, Role::Panic)
            } else {
                match vs.on_fail {
                    OnFail::Drain => (0, Role::Down),
                    OnFail::Remove => (0, Role::Removed),
                }
            };
            PlannedReal {
                addr: r.addr,
                weight,
                role,
            }
        })
        .collect();
    if let Some(addr) = sorry {
        out.push(PlannedReal {
            addr,
            weight: 1,
            role: Role::Sorry,
        });
    }
    ServicePlan {
        key: vs.key(),
        active,
        reals: out,
        panic,
    }
}

/// When a slow start in `reals` next changes a weight.
pub fn next_ramp_step(
    vs: &VirtualServer,
    reals: &[RealState<'_>],
    now: Duration,
) -> Option<Duration> {
    reals
        .iter()
        .filter_map(|r| r.health?.ramp_step_due(now, vs.slow_start))
        .min()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{check, CheckSpec};

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    fn vs(extra: &str) -> VirtualServer {
        let text = format!(
            "[[virtual_server]]\nprotocol = \"tcp\"\naddress = \"198.51.100.10:80\"\n{extra}\n[virtual_server.check]\ntype = \"tcp\"\nrise = 1\nfall = 1\n\
             [[virtual_server.real]]\naddress = \"198.51.100.21\"\nweight = 10\n\
             [[virtual_server.real]]\naddress = \"198.51.100.22\"\nweight = 20\n\
             [[virtual_server.real]]\naddress = \"198.51.100.23\"\nweight = 30\n\
             [[virtual_server.real]]\naddress = \"198.51.100.24\"\nweight = 40\n"
        );
        check(&text).unwrap().virtual_servers.remove(0)
    }

    fn spec(v: &VirtualServer) -> CheckSpec {
        v.reals[0].check.clone().unwrap()
    }

    /// Health for each real: 'U' up since the start, 'R' recovered at
    /// 1 s, 'D' down.
    fn healths(v: &VirtualServer, states: &str) -> Vec<Health> {
        let s = spec(v);
        states
            .chars()
            .map(|c| {
                let mut h = Health::new(false);
                h.record(ms(0), true, &s);
                if c != 'U' {
                    h.record(ms(500), false, &s);
                }
                if c == 'R' {
                    h.record(ms(1000), true, &s);
                }
                h
            })
            .collect()
    }

    fn states<'a>(v: &VirtualServer, hs: &'a [Health], drained: &[usize]) -> Vec<RealState<'a>> {
        v.reals
            .iter()
            .zip(hs)
            .enumerate()
            .map(|(i, (r, h))| RealState {
                addr: r.address,
                weight: r.weight,
                health: Some(h),
                drained: drained.contains(&i),
            })
            .collect()
    }

    fn weights(p: &ServicePlan) -> Vec<(u8, u32, Role)> {
        p.reals
            .iter()
            .map(|r| {
                let IpAddr::V4(a) = r.addr else {
                    unreachable!()
                };
                (a.octets()[3], r.weight, r.role)
            })
            .collect()
    }

    #[test]
    fn down_servers_drain_or_go() {
        let v = vs("");
        let hs = healths(&v, "UDUD");
        let p = plan(&v, &states(&v, &hs, &[]), true, ms(2000));
        assert_eq!(
            weights(&p),
            [
                (21, 10, Role::Up),
                (22, 0, Role::Down),
                (23, 30, Role::Up),
                (24, 0, Role::Down)
            ]
        );
        assert!(p.active && !p.panic);
        let v = vs("on_fail = \"remove\"");
        let p = plan(&v, &states(&v, &hs, &[]), false, ms(2000));
        let present: Vec<bool> = p.reals.iter().map(PlannedReal::present).collect();
        assert_eq!(present, [true, false, true, false]);
        assert!(!p.active);
    }

    #[test]
    fn unchecked_servers_are_up_and_drains_win() {
        let mut v = vs("");
        v.reals[1].check = None;
        let hs = healths(&v, "UDUU");
        let p = plan(&v, &states(&v, &hs, &[0]), true, ms(2000));
        let mut st = states(&v, &hs, &[0]);
        st[1].health = None;
        let p2 = plan(&v, &st, true, ms(2000));
        assert_eq!(weights(&p)[0], (21, 0, Role::Drained));
        assert_eq!(weights(&p2)[1], (22, 20, Role::Up), "no check: up");
    }

    #[test]
    fn unknown_servers_are_left_as_they_are() {
        let v = vs("sorry_server = \"198.51.100.30\"\npanic_threshold = 50");
        let s = spec(&v);
        let mut rise2 = s.clone();
        rise2.rise = 2;
        let mut one_of_two = Health::new(false);
        one_of_two.record(ms(0), true, &rise2);
        let fresh = Health::new(false);
        let hs = [fresh.clone(), one_of_two, fresh.clone(), fresh];
        let p = plan(&v, &states(&v, &hs, &[]), true, ms(100));
        assert_eq!(weights(&p)[0], (21, 10, Role::Unknown));
        assert_eq!(
            weights(&p)[1],
            (22, 20, Role::Unknown),
            "one success of two: not settled"
        );
        assert!(
            !p.panic && p.reals.len() == 4,
            "no sorry server, no panic while unknown"
        );
    }

    #[test]
    fn the_sorry_server_serves_only_when_all_are_down() {
        let v = vs("sorry_server = \"198.51.100.30\"");
        let hs = healths(&v, "DDDD");
        let p = plan(&v, &states(&v, &hs, &[]), true, ms(2000));
        assert_eq!(weights(&p).last(), Some(&(30, 1, Role::Sorry)));
        assert_eq!(p.reals.len(), 5);
        let hs = healths(&v, "DDDU");
        assert_eq!(
            plan(&v, &states(&v, &hs, &[]), true, ms(2000)).reals.len(),
            4
        );
        // Drained counts as unavailable.
        let hs = healths(&v, "DDDU");
        let p = plan(&v, &states(&v, &hs, &[3]), true, ms(2000));
        assert_eq!(weights(&p).last(), Some(&(30, 1, Role::Sorry)));
    }

    #[test]
    fn panic_keeps_every_server_in_rotation() {
        let v = vs("panic_threshold = 50");
        let hs = healths(&v, "UDDD");
        let p = plan(&v, &states(&v, &hs, &[]), true, ms(2000));
        assert!(p.panic);
        assert_eq!(
            weights(&p),
            [
                (21, 10, Role::Up),
                (22, 20, Role::Panic),
                (23, 30, Role::Panic),
                (24, 40, Role::Panic)
            ]
        );
        let hs = healths(&v, "UUDD");
        assert!(
            !plan(&v, &states(&v, &hs, &[]), true, ms(2000)).panic,
            "50%: not below"
        );
        // With every server down the sorry server wins over panic.
        let v = vs("panic_threshold = 50\nsorry_server = \"198.51.100.30\"");
        let hs = healths(&v, "DDDD");
        let p = plan(&v, &states(&v, &hs, &[]), true, ms(2000));
        assert!(!p.panic);
        assert_eq!(weights(&p)[0], (21, 0, Role::Down));
    }

    #[test]
    fn slow_start_ramps_the_recovered() {
        let v = vs("slow_start_s = 10");
        let hs = healths(&v, "URUU");
        let st = states(&v, &hs, &[]);
        let p = plan(&v, &st, true, ms(6000));
        assert_eq!(
            weights(&p)[..2],
            [(21, 10, Role::Up), (22, 10, Role::SlowStart)]
        );
        assert_eq!(
            weights(&plan(&v, &st, true, ms(11_000)))[1],
            (22, 20, Role::Up)
        );
        assert_eq!(next_ramp_step(&v, &st, ms(6000)), Some(ms(7000)));
        assert_eq!(next_ramp_step(&v, &st, ms(11_000)), None);
    }
}
