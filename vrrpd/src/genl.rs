//! The drlb module's coming and going, without I/O: the generic-netlink
//! controller's notifications (CTRL_CMD_NEWFAMILY and CTRL_CMD_DELFAMILY
//! on nlctrl's "notify" group), what they mean to the daemon
//! ([`Presence`]), and what a sync sends, in which order ([`steps`]).
//!
//! A module that the daemon has not programmed yet (found at start, loaded
//! while it waited, or reloaded: rmmod + insmod gives the family a new id,
//! as the controller allocates ids cyclically) is *fresh*: it gets its
//! namespace state first, standby unless an instance is MASTER here, and
//! its services after, so that a fresh module, active by default, never
//! forwards on a backup director. [`crate::lb::FamilyMonitor`] reads the
//! notifications; the connection's family id, compared at every connect,
//! is the safety net when notifications were lost.

/// The controller's own family id, and its "notify" group's id (the
/// kernel gives nlctrl the same fixed number for both).
pub const GENL_ID_CTRL: u16 = 0x10;
const GENL_HDRLEN: usize = 4;
const CTRL_CMD_NEWFAMILY: u8 = 1;
const CTRL_CMD_DELFAMILY: u8 = 2;
const CTRL_ATTR_FAMILY_ID: u16 = 1;
const CTRL_ATTR_FAMILY_NAME: u16 = 2;
/// The module's family.
pub const FAMILY: &str = "drlb";

/// A family registered or unregistered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FamilyEvent {
    /// CTRL_CMD_NEWFAMILY: a module registered it (insmod).
    New { name: String, id: u16 },
    /// CTRL_CMD_DELFAMILY: it is gone (rmmod).
    Del { name: String, id: u16 },
}

use crate::nlmsg::{self, u16_at};

/// The family events in one datagram from nlctrl's notify group, in
/// order; other messages (multicast groups coming and going) are skipped.
pub fn parse(buf: &[u8]) -> Result<Vec<FamilyEvent>, String> {
    let mut out = Vec::new();
    for (kind, body) in nlmsg::messages(buf).map_err(|e| format!("nlctrl: {e}"))? {
        if kind == GENL_ID_CTRL && body.len() >= GENL_HDRLEN {
            let cmd = body[0];
            if cmd == CTRL_CMD_NEWFAMILY || cmd == CTRL_CMD_DELFAMILY {
                let (name, id) = family_attrs(&body[GENL_HDRLEN..])?;
                if let (Some(name), Some(id)) = (name, id) {
                    out.push(if cmd == CTRL_CMD_NEWFAMILY {
                        FamilyEvent::New { name, id }
                    } else {
                        FamilyEvent::Del { name, id }
                    });
                }
            }
        }
    }
    Ok(out)
}

fn family_attrs(b: &[u8]) -> Result<(Option<String>, Option<u16>), String> {
    let (mut name, mut id) = (None, None);
    for (kind, data) in nlmsg::attrs(b).map_err(|e| format!("nlctrl: {e}"))? {
        match kind {
            CTRL_ATTR_FAMILY_NAME => name = Some(nlmsg::c_string(data)),
            CTRL_ATTR_FAMILY_ID if data.len() >= 2 => id = Some(u16_at(data, 0)),
            _ => {}
        }
    }
    Ok((name, id))
}

/// What a look at the module says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Seen {
    /// Nothing new.
    Same,
    /// It was unloaded: the connection is stale; wait for it.
    Gone,
    /// A module this daemon has not programmed: state first, then every
    /// service. `first`: the first one it meets (at start).
    Fresh { first: bool },
}

/// The module as the daemon last met it: its family id (None: away, or
/// never met).
#[derive(Debug, Default)]
pub struct Presence {
    id: Option<u16>,
    met: bool,
}

impl Presence {
    /// Never met.
    pub fn new() -> Self {
        Self::default()
    }

    /// The family id of the module last met (None while it is away).
    pub fn id(&self) -> Option<u16> {
        self.id
    }

    /// A notification from the controller; other families are no news.
    pub fn event(&mut self, ev: &FamilyEvent) -> Seen {
        match ev {
            FamilyEvent::New { name, id } if name == FAMILY => self.found(*id),
            FamilyEvent::Del { name, id } if name == FAMILY => {
                // (a late DELFAMILY of an old id, after the new one was
                // met, says nothing of the module that is there now)
                if self.id.is_some_and(|known| known != *id) {
                    return Seen::Same;
                }
                self.gone()
            }
            _ => Seen::Same,
        }
    }

    /// A connection found the family at `id`: a different id than the
    /// last is a module that was reloaded, even with no notification.
    pub fn found(&mut self, id: u16) -> Seen {
        if self.id == Some(id) {
            return Seen::Same;
        }
        self.id = Some(id);
        let first = !self.met;
        self.met = true;
        Seen::Fresh { first }
    }

    /// The family is missing (a connection could not resolve it, or the
    /// controller said it went).
    pub fn gone(&mut self) -> Seen {
        match self.id.take() {
            Some(_) => Seen::Gone,
            None => Seen::Same,
        }
    }
}

/// One request of a sync, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// The namespace switch (`drlb-tool state`): active or standby.
    Namespace(bool),
    /// Every virtual server (a read of the whole table, then the diff).
    AllServices,
    /// Only the virtual servers whose plan changed.
    SomeServices,
}

/// What the daemon knows when it syncs.
#[derive(Clone, Copy, Debug, Default)]
pub struct SyncInput {
    /// The module is fresh ([`Seen::Fresh`]).
    pub fresh: bool,
    /// A full sync (periodic, a VRRP transition, a reload...).
    pub full: bool,
    /// Instances drive the namespace switch (`lb = true`): whether one is
    /// MASTER. None: none drives it.
    pub driving: Option<bool>,
    /// The namespace state this daemon last set in this module.
    pub known: Option<bool>,
    /// The configuration has virtual servers.
    pub has_services: bool,
    /// Services managed before (a reload that dropped them all deletes
    /// them).
    pub manages_any: bool,
}

/// The requests of a sync, in order. The namespace switch comes first:
/// on a fresh module (active by default, as IPVS is) a backup director
/// goes standby before any service exists in it. Without instances that
/// drive it, a file with virtual servers sets it active once per module
/// (a single director, or a module loaded with `start_standby=1`).
pub fn steps(s: &SyncInput) -> Vec<Step> {
    let mut out = vec![];
    let known = if s.fresh { None } else { s.known };
    let ns = match s.driving {
        Some(active) => Some(active),
        None if known.is_none() && s.has_services => Some(true),
        None => None,
    };
    out.extend(ns.map(Step::Namespace));
    if s.has_services || s.manages_any {
        out.push(if s.full || s.fresh {
            Step::AllServices
        } else {
            Step::SomeServices
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nlmsg::NLMSG_HDRLEN;

    /// A controller notification as the kernel builds it
    /// (ctrl_build_family_msg): name, id, then attributes we skip.
    fn msg(cmd: u8, name: &str, id: u16) -> Vec<u8> {
        let mut attrs = vec![];
        let mut put = |kind: u16, data: &[u8]| {
            attrs.extend_from_slice(&((4 + data.len()) as u16).to_ne_bytes());
            attrs.extend_from_slice(&kind.to_ne_bytes());
            attrs.extend_from_slice(data);
            while attrs.len() % 4 != 0 {
                attrs.push(0);
            }
        };
        let mut n = name.as_bytes().to_vec();
        n.push(0);
        put(CTRL_ATTR_FAMILY_NAME, &n);
        put(CTRL_ATTR_FAMILY_ID, &id.to_ne_bytes());
        put(3, &1u32.to_ne_bytes()); // CTRL_ATTR_VERSION
        let mut out = vec![];
        let len = NLMSG_HDRLEN + GENL_HDRLEN + attrs.len();
        out.extend_from_slice(&(len as u32).to_ne_bytes());
        out.extend_from_slice(&GENL_ID_CTRL.to_ne_bytes());
        out.extend_from_slice(&[0; 10]); // flags, seq, pid
        out.extend_from_slice(&[cmd, 2, 0, 0]);
        out.extend_from_slice(&attrs);
        out
    }

    #[test]
    fn parses_new_and_del_family_and_skips_the_rest() {
        let mut buf = msg(CTRL_CMD_NEWFAMILY, "drlb", 0x22);
        buf.extend(msg(7, "drlb", 0x22)); // CTRL_CMD_NEWMCAST_GRP
        buf.extend(msg(CTRL_CMD_DELFAMILY, "nl80211", 0x1c));
        assert_eq!(
            parse(&buf).unwrap(),
            vec![
                FamilyEvent::New {
                    name: "drlb".into(),
                    id: 0x22
                },
                FamilyEvent::Del {
                    name: "nl80211".into(),
                    id: 0x1c
                },
            ]
        );
    }

    #[test]
    fn a_cut_message_is_an_error() {
        let buf = msg(CTRL_CMD_NEWFAMILY, "drlb", 0x22);
        assert!(parse(&buf[..buf.len() - 4]).is_err());
        let mut bad = buf.clone();
        bad[NLMSG_HDRLEN + GENL_HDRLEN] = 200; // an attribute longer than the message
        assert!(parse(&bad).is_err());
        assert_eq!(parse(&[]).unwrap(), vec![]);
    }

    fn new(id: u16) -> FamilyEvent {
        FamilyEvent::New {
            name: FAMILY.into(),
            id,
        }
    }
    fn del(id: u16) -> FamilyEvent {
        FamilyEvent::Del {
            name: FAMILY.into(),
            id,
        }
    }

    #[test]
    fn loaded_after_start_unloaded_and_loaded_again() {
        let mut p = Presence::new();
        // (the daemon started without the module: connects fail)
        assert_eq!(p.gone(), Seen::Same);
        assert_eq!(p.event(&new(0x20)), Seen::Fresh { first: true });
        // (the sync's connect finds the same id: nothing more to do)
        assert_eq!(p.found(0x20), Seen::Same);
        assert_eq!(p.event(&del(0x20)), Seen::Gone);
        assert_eq!(p.gone(), Seen::Same, "gone once");
        assert_eq!(p.id(), None);
        assert_eq!(p.event(&new(0x21)), Seen::Fresh { first: false });
        assert_eq!(p.id(), Some(0x21));
    }

    #[test]
    fn a_reload_with_its_notifications_lost_is_found_by_its_new_id() {
        let mut p = Presence::new();
        assert_eq!(p.found(0x20), Seen::Fresh { first: true });
        assert_eq!(p.found(0x20), Seen::Same);
        assert_eq!(p.found(0x23), Seen::Fresh { first: false });
    }

    #[test]
    fn other_families_and_stale_deletions_are_no_news() {
        let mut p = Presence::new();
        p.found(0x20);
        let other = FamilyEvent::Del {
            name: "drlbx".into(),
            id: 0x20,
        };
        assert_eq!(p.event(&other), Seen::Same);
        // (rmmod + insmod read late: the new module is met first)
        assert_eq!(p.event(&new(0x21)), Seen::Fresh { first: false });
        assert_eq!(p.event(&del(0x20)), Seen::Same);
        assert_eq!(p.id(), Some(0x21));
        // (a repeated NEWFAMILY of the module already met)
        assert_eq!(p.event(&new(0x21)), Seen::Same);
    }

    fn input() -> SyncInput {
        SyncInput {
            has_services: true,
            ..SyncInput::default()
        }
    }

    #[test]
    fn a_fresh_module_on_a_backup_goes_standby_before_any_service() {
        let s = SyncInput {
            fresh: true,
            driving: Some(false),
            known: Some(false),
            ..input()
        };
        assert_eq!(steps(&s), [Step::Namespace(false), Step::AllServices]);
        // (also when the sync was only for one service's check)
        let s = SyncInput { full: false, ..s };
        assert_eq!(steps(&s), [Step::Namespace(false), Step::AllServices]);
    }

    #[test]
    fn a_fresh_module_on_a_master_goes_active_and_gets_every_service() {
        let s = SyncInput {
            fresh: true,
            driving: Some(true),
            ..input()
        };
        assert_eq!(steps(&s), [Step::Namespace(true), Step::AllServices]);
    }

    #[test]
    fn a_services_only_file_sets_active_once_per_module() {
        let s = SyncInput {
            fresh: true,
            known: Some(true),
            ..input()
        };
        assert_eq!(steps(&s), [Step::Namespace(true), Step::AllServices]);
        let s = SyncInput {
            fresh: false,
            full: true,
            known: Some(true),
            ..input()
        };
        assert_eq!(
            steps(&s),
            [Step::AllServices],
            "not again: the operator may have set standby"
        );
    }

    #[test]
    fn a_check_result_on_a_known_module_touches_only_its_services() {
        let s = SyncInput {
            driving: Some(true),
            known: Some(true),
            ..input()
        };
        assert_eq!(steps(&s), [Step::Namespace(true), Step::SomeServices]);
    }

    #[test]
    fn pure_vrrp_touches_nothing_and_a_reload_that_dropped_every_service_deletes_them() {
        let none = SyncInput {
            has_services: false,
            fresh: true,
            ..SyncInput::default()
        };
        assert_eq!(steps(&none), []);
        let dropped = SyncInput {
            manages_any: true,
            full: true,
            ..none
        };
        assert_eq!(steps(&dropped), [Step::AllServices]);
    }
}
