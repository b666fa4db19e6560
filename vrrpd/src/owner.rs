//! Priority 255, without I/O. RFC 5798 (sections 5.2.4, 6.1) reserves it
//! for the "IP Address Owner": the router whose interface really has the
//! virtual addresses as its own. It becomes master at once and never
//! waits for a master-down timer, so two owners, or an owner that does
//! not own, take the addresses from a master that does. vrrpd, like
//! keepalived, runs such an instance anyway and warns, naming each
//! virtual address that its interface did not already hold when the
//! instance started (its own VIPs, which it adds as master, do not
//! count).

use crate::config::VirtualIp;
use crate::fsm::OWNER_PRIORITY;
use std::net::IpAddr;

/// The virtual addresses a priority-`priority` instance should own but
/// does not: those not in `held`, the addresses its interface had before
/// vrrpd added any. None below 255.
pub fn not_owned(priority: u8, vips: &[VirtualIp], held: &[IpAddr]) -> Vec<IpAddr> {
    if priority != OWNER_PRIORITY {
        return vec![];
    }
    vips.iter()
        .map(|v| v.addr)
        .filter(|a| !held.contains(a))
        .collect()
}

/// The warning for an owner whose interface lacks `vip`.
pub fn warning(instance: &str, interface: &str, vip: IpAddr) -> String {
    format!(
        "{instance}: priority 255 says this router owns {vip}, but {interface} does not have it \
         (RFC 5798 5.2.4: 255 is for the router that has the virtual addresses as its real ones; \
         this instance takes {vip} at once, over any master): configure {vip} on {interface}, \
         or use priority 254 or lower"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vips(list: &[&str]) -> Vec<VirtualIp> {
        list.iter().map(|v| v.parse().unwrap()).collect()
    }

    fn addrs(list: &[&str]) -> Vec<IpAddr> {
        list.iter().map(|v| v.parse().unwrap()).collect()
    }

    #[test]
    fn an_owner_lacking_a_vip_is_told_which() {
        let v = vips(&["198.51.100.10/24", "198.51.100.11"]);
        assert_eq!(
            not_owned(255, &v, &addrs(&["198.51.100.10", "192.0.2.1"])),
            addrs(&["198.51.100.11"])
        );
        assert_eq!(
            not_owned(255, &v, &[]),
            addrs(&["198.51.100.10", "198.51.100.11"])
        );
    }

    #[test]
    fn an_owner_holding_every_vip_is_fine() {
        let v = vips(&["2001:db8::10", "198.51.100.10"]);
        assert!(not_owned(255, &v, &addrs(&["198.51.100.10", "2001:db8::10"])).is_empty());
    }

    #[test]
    fn below_255_nothing_is_owned() {
        let v = vips(&["198.51.100.10"]);
        for p in [1, 100, 254] {
            assert!(not_owned(p, &v, &[]).is_empty(), "priority {p}");
        }
    }

    #[test]
    fn the_warning_names_the_vip_and_the_rfc() {
        let w = warning("vi1", "eth0", "198.51.100.10".parse().unwrap());
        assert!(w.starts_with("vi1: priority 255"), "{w}");
        assert!(w.contains("eth0 does not have it"), "{w}");
        assert!(w.contains("198.51.100.10") && w.contains("RFC 5798"), "{w}");
    }
}
