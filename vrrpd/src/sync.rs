//! Sync groups, without I/O: instances that are MASTER, BACKUP or FAULT
//! together, as keepalived's `vrrp_sync_group` (vrrp_sync.c).
//!
//! - FAULT: while any member is in Fault for a reason of its own (its
//!   interface, its tracking, unable to do a master's job), every other
//!   member is held in Fault too ([`Hold::Group`]): a master resigns with
//!   a priority-0 advert. Once no member has such a reason, all start
//!   again.
//! - MASTER: a member's Master_Down_Timer makes it want to be master
//!   ([`crate::fsm::Action::WantMaster`]); it becomes master only when every other
//!   member is master or wants to be too, and then they all do
//!   (keepalived prefers backup, to avoid thrashing).
//! - BACKUP: a master that yields to a higher priority takes every other
//!   master of its group to backup with it (they resign with priority 0,
//!   so that the peer's members take over at once).
//!
//! The daemon gives [`orders`] a view of each member after every event,
//! with the members that just lost mastership, and feeds the events it
//! returns to the members, until there are none.

use crate::fsm::{Event, Hold, Instance, State};

/// One member, as the group sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct View {
    /// Its state.
    pub state: State,
    /// A backup that wants to be master.
    pub wants_master: bool,
    /// In Fault for a reason of its own.
    pub own_fault: bool,
    /// Held in Fault by its group.
    pub group_held: bool,
}

impl View {
    /// The view of a state machine.
    pub fn of(fsm: &Instance) -> Self {
        View {
            state: fsm.state(),
            wants_master: fsm.wants_master(),
            own_fault: fsm.own_fault(),
            group_held: fsm.held(Hold::Group),
        }
    }
}

/// The events the members of one group need now (by index in `members`):
/// `lost_master` lists the members that just went from master to backup
/// for an advert.
pub fn orders(members: &[View], lost_master: &[usize]) -> Vec<(usize, Event)> {
    let mut out = vec![];
    // Fault: one is, all are.
    let fault = members.iter().any(|m| m.own_fault);
    for (i, m) in members.iter().enumerate() {
        if m.group_held != fault {
            out.push((
                i,
                if fault {
                    Event::Hold(Hold::Group)
                } else {
                    Event::Release(Hold::Group)
                },
            ));
        }
    }
    if fault {
        return out;
    }
    // Backup: one master yielded, the others follow.
    if !lost_master.is_empty() {
        for (i, m) in members.iter().enumerate() {
            if m.state == State::Master && !lost_master.contains(&i) {
                out.push((i, Event::SyncBackup));
            }
        }
        return out;
    }
    // Master: when every member is master or wants to be.
    let wanted = members.iter().any(|m| m.wants_master);
    let all = members
        .iter()
        .all(|m| m.state == State::Master || m.wants_master);
    if wanted && all {
        for (i, m) in members.iter().enumerate() {
            if m.state == State::Backup {
                out.push((i, Event::SyncMaster));
            }
        }
    }
    out
}

/// Whether an event took a member from master to backup (what
/// [`orders`] calls `lost_master`).
pub fn lost_master(before: State, after: State) -> bool {
    before == State::Master && after == State::Backup
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fsm::{Action, Params};
    use crate::packet::Version;
    use std::net::{IpAddr, Ipv4Addr};
    use std::time::Duration;

    const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2));
    const PEER: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    /// A group of `n` synced state machines at priority 100, 1 s adverts,
    /// and what each did (its actions, in order).
    struct Group {
        fsms: Vec<Instance>,
        did: Vec<Vec<Action>>,
        /// Whether the group logic runs (to show the tests fail without).
        on: bool,
    }

    impl Group {
        fn new(n: usize) -> Self {
            let fsms = (0..n)
                .map(|i| {
                    let mut f = Instance::new(Params {
                        vrid: 1 + i as u8,
                        priority: 100,
                        version: Version::V3,
                        advert_interval_cs: 100,
                        preempt: true,
                        preempt_delay: Duration::ZERO,
                        primary_addr: LOCAL,
                    })
                    .unwrap();
                    f.set_synced(true);
                    f
                })
                .collect();
            Group {
                fsms,
                did: vec![vec![]; n],
                on: true,
            }
        }

        /// Feeds `ev` to member `i`, then the group's orders until none.
        fn feed(&mut self, now: Duration, i: usize, ev: Event) {
            let mut queue = vec![(i, ev)];
            let mut rounds = 0;
            while !queue.is_empty() {
                rounds += 1;
                assert!(rounds < 10, "the group does not settle");
                let mut lost = vec![];
                for (i, ev) in std::mem::take(&mut queue) {
                    let before = self.fsms[i].state();
                    let a = self.fsms[i].handle(now, ev);
                    if lost_master(before, self.fsms[i].state()) {
                        lost.push(i);
                    }
                    self.did[i].extend(a);
                }
                if self.on {
                    let views: Vec<View> = self.fsms.iter().map(View::of).collect();
                    queue = orders(&views, &lost);
                }
            }
        }

        fn states(&self) -> Vec<State> {
            self.fsms.iter().map(|f| f.state()).collect()
        }

        /// Delivers the timers due at `now` to every member.
        fn tick(&mut self, now: Duration) {
            for i in 0..self.fsms.len() {
                if self.fsms[i].next_deadline().is_some_and(|t| t <= now) {
                    self.feed(now, i, Event::Timer);
                }
            }
        }

        fn start(&mut self) {
            for i in 0..self.fsms.len() {
                self.feed(ms(0), i, Event::Startup);
            }
        }

        fn clear(&mut self) {
            for d in &mut self.did {
                d.clear();
            }
        }
    }

    fn advert(priority: u8) -> Event {
        Event::Advert {
            priority,
            max_adver_int_cs: 100,
            src_addr: PEER,
        }
    }

    use State::{Backup, Fault, Master};

    #[test]
    fn members_become_master_together_once_all_want_to() {
        let mut g = Group::new(2);
        g.start();
        assert_eq!(g.states(), [Backup, Backup]);
        // Member 1 hears a master at a higher priority; member 0 none.
        let mut t = 0;
        while t < 10_000 {
            t += 100;
            if t % 1000 == 0 {
                g.feed(ms(t), 1, advert(200));
            }
            g.tick(ms(t));
        }
        assert_eq!(g.states(), [Backup, Backup], "member 1 does not want to");
        assert!(g.fsms[0].wants_master() && !g.fsms[1].wants_master());
        assert!(g.did[0].contains(&Action::WantMaster));
        assert!(!g.did[0].contains(&Action::BecomeMaster));
        // The peer's member 1 goes (resigns): both want, both go.
        g.feed(ms(t), 1, advert(0));
        t += 1000;
        g.tick(ms(t));
        assert_eq!(g.states(), [Master, Master]);
        assert!(g.did.iter().all(|d| d.contains(&Action::BecomeMaster)));
    }

    #[test]
    fn one_master_yielding_takes_the_others_to_backup() {
        let mut g = Group::new(3);
        g.start();
        g.tick(ms(10_000));
        assert_eq!(g.states(), [Master, Master, Master]);
        g.clear();
        g.feed(ms(10_100), 1, advert(200));
        assert_eq!(g.states(), [Backup, Backup, Backup]);
        for i in [0, 2] {
            assert_eq!(
                g.did[i],
                [Action::SendAdvert { priority: 0 }, Action::BecomeBackup],
                "member {i} resigns so that the peer's takes over at once"
            );
        }
        // A lower advert is no reason.
        let mut g = Group::new(2);
        g.start();
        g.tick(ms(10_000));
        g.feed(ms(10_100), 1, advert(50));
        assert_eq!(g.states(), [Master, Master]);
    }

    #[test]
    fn one_in_fault_holds_all_in_fault_until_all_are_well() {
        let mut g = Group::new(3);
        g.start();
        g.tick(ms(10_000));
        g.clear();
        g.feed(ms(10_100), 2, Event::InterfaceDown);
        assert_eq!(g.states(), [Fault, Fault, Fault]);
        for i in 0..2 {
            assert_eq!(
                g.did[i],
                [Action::SendAdvert { priority: 0 }, Action::EnterFault]
            );
            assert!(g.fsms[i].held(Hold::Group) && !g.fsms[i].own_fault());
        }
        // A second reason in another member: both must clear.
        g.feed(ms(10_200), 0, Event::Hold(Hold::Track));
        g.feed(ms(10_300), 2, Event::InterfaceUp);
        assert_eq!(g.states(), [Fault, Fault, Fault]);
        g.feed(ms(10_400), 0, Event::Release(Hold::Track));
        assert_eq!(g.states(), [Backup, Backup, Backup]);
        assert!(g.fsms.iter().all(|f| !f.held(Hold::Group)));
        // Unable (a VIP could not be added) counts as its own fault too.
        g.feed(ms(10_500), 1, Event::Unable);
        assert_eq!(g.states(), [Fault, Fault, Fault]);
        g.feed(ms(10_600), 1, Event::Able);
        assert_eq!(g.states(), [Backup, Backup, Backup]);
        g.tick(ms(20_000));
        assert_eq!(g.states(), [Master, Master, Master]);
    }

    #[test]
    fn a_fault_at_startup_holds_the_others() {
        let mut g = Group::new(2);
        g.feed(ms(0), 0, Event::InterfaceDown);
        g.start();
        assert_eq!(g.states(), [Fault, Fault]);
        g.feed(ms(100), 0, Event::InterfaceUp);
        assert_eq!(g.states(), [Backup, Backup]);
    }

    #[test]
    fn without_the_group_logic_members_drift_apart() {
        // (what the tests above would see if orders did nothing)
        let mut g = Group::new(2);
        g.on = false;
        for f in &mut g.fsms {
            f.set_synced(false);
        }
        g.start();
        g.tick(ms(10_000));
        g.feed(ms(10_100), 1, advert(200));
        assert_eq!(g.states(), [Master, Backup]);
        g.feed(ms(10_200), 0, Event::InterfaceDown);
        assert_eq!(g.states(), [Fault, Backup]);
    }

    #[test]
    fn orders_alone() {
        let v = |state, wants_master, own_fault, group_held| View {
            state,
            wants_master,
            own_fault,
            group_held,
        };
        // Nothing to do.
        assert!(orders(&[v(Backup, false, false, false); 2], &[]).is_empty());
        assert!(orders(&[v(Master, false, false, false); 2], &[]).is_empty());
        // One wants, one is master already: the backup goes.
        assert_eq!(
            orders(
                &[
                    v(Backup, true, false, false),
                    v(Master, false, false, false)
                ],
                &[]
            ),
            [(0, Event::SyncMaster)]
        );
        // Fault wins over everything else.
        assert_eq!(
            orders(
                &[v(Backup, true, false, false), v(Fault, false, true, false)],
                &[]
            ),
            [(0, Event::Hold(Hold::Group)), (1, Event::Hold(Hold::Group))]
        );
    }
}
