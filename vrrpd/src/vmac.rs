//! The virtual MAC edge (`use_vmac`): a macvlan on the instance's
//! interface whose address is VRRP's virtual MAC (RFC 5798 7.3), made as
//! keepalived makes it: private mode, created down, with arp_ignore=1,
//! accept_local=1 and rp_filter=0, and no IPv6 address of its own making
//! (an IPv6 instance gets its interface's link-local address, the
//! adverts' source). Its interface gets arp_ignore=1, arp_filter=1 and
//! arp_announce=2 while any VMAC sits on it, so that only the macvlan
//! answers ARP for the VIPs, with the virtual MAC, and nothing names a
//! VIP from the interface's MAC; the old values come back after. All are
//! set over rtnetlink (IFLA_INET_CONF), not /proc/sys.
//!
//! The master brings it up and puts the VIPs on it; adverts and
//! gratuitous ARPs leave through it, from the virtual MAC. A backup keeps
//! it down, without addresses. It is deleted when the instance stops; one
//! left by a daemon killed with -9 (an interface of that name with the
//! virtual MAC) is replaced at start.

use crate::link;
use crate::links::Links;
use crate::sock::VrrpSocket;
use log::warn;
use std::collections::HashMap;
use std::io;
use std::net::IpAddr;
use std::sync::Mutex;

/// What a VMAC sets on its interface: arp_ignore=1 (the interface does
/// not answer ARP for the VIPs, which are the macvlan's), arp_filter=1,
/// and arp_announce=2 (its own ARP requests, for a client it answers,
/// name its own address, not the VIP: a request from the VIP would teach
/// the client the interface's MAC for it).
const BASE_CONF: [(u16, &str, u32); 3] = [
    (link::DEVCONF_ARP_IGNORE, "arp_ignore", 1),
    (link::DEVCONF_ARP_FILTER, "arp_filter", 1),
    (link::DEVCONF_ARP_ANNOUNCE, "arp_announce", 2),
];

/// Interfaces with VMACs on them: how many, and their [`BASE_CONF`]
/// settings from before the first.
type Held = (usize, Vec<(u16, u32)>);
static BASES: Mutex<Option<HashMap<String, Held>>> = Mutex::new(None);

fn hold_base(name: &str, index: u32) {
    let mut g = BASES.lock().unwrap_or_else(|e| e.into_inner());
    let e = g
        .get_or_insert_with(HashMap::new)
        .entry(name.to_string())
        .or_insert_with(|| {
            let old = BASE_CONF
                .iter()
                .map(|(k, key, _)| (*k, link::read_devconf(name, key).unwrap_or(0)))
                .collect();
            (0, old)
        });
    e.0 += 1;
    let conf: Vec<(u16, u32)> = BASE_CONF.iter().map(|(k, _, v)| (*k, *v)).collect();
    if let Err(e) = link::set_devconf(index, &conf, false) {
        warn!("{name}: setting arp_ignore=1, arp_filter=1 and arp_announce=2 for the VMAC: {e} (clients may learn the interface's own MAC for the VIPs)");
    }
}

fn release_base(name: &str) {
    let mut g = BASES.lock().unwrap_or_else(|e| e.into_inner());
    let Some(map) = g.as_mut() else { return };
    let Some(e) = map.get_mut(name) else { return };
    e.0 -= 1;
    if e.0 > 0 {
        return;
    }
    let (_, old) = map.remove(name).expect("held");
    if let Ok(index) = link::index_of(name) {
        let _ = link::set_devconf(index, &old, false);
    }
}

/// One instance's macvlan.
pub struct Vmac {
    /// Its name.
    pub name: String,
    /// Its index.
    pub index: u32,
    /// The virtual MAC.
    pub mac: [u8; 6],
    base: String,
    up: bool,
    tx: VrrpSocket,
}

impl Vmac {
    /// Makes the macvlan `name` on `base` for `vrid`, down; `src` is the
    /// adverts' source (IPv6: the base's link-local address, which the
    /// macvlan gets too).
    pub fn create(
        name: &str,
        base: &str,
        base_index: u32,
        vrid: u8,
        src: IpAddr,
        links: &Links,
    ) -> io::Result<Self> {
        let mac = link::virtual_mac(vrid, src.is_ipv6());
        if let Some(old) = links.get(name) {
            if old.mac != Some(mac) {
                return Err(io::Error::other(format!(
                    "use_vmac: an interface {name} exists, and it is not this instance's macvlan (its MAC is not {})",
                    crate::instance::mac_text(mac)
                )));
            }
            link::delete_link(old.index)?;
        }
        link::add_macvlan(name, base_index, mac).map_err(|e| {
            io::Error::other(format!(
                "creating the macvlan {name} on {base}: {}",
                link::describe(&e)
            ))
        })?;
        let index = link::index_of(name)?;
        // (from here on, dropping it deletes the macvlan)
        hold_base(base, base_index);
        let mut v = Vmac {
            name: name.to_string(),
            index,
            mac,
            base: base.to_string(),
            up: false,
            // replaced below; a socket that cannot fail to exist yet
            tx: VrrpSocket::open_tx(base, base_index, src)?,
        };
        link::set_devconf(
            index,
            &[
                (link::DEVCONF_ARP_IGNORE, 1),
                (link::DEVCONF_ACCEPT_LOCAL, 1),
                (link::DEVCONF_RP_FILTER, 0),
            ],
            true,
        )?;
        if src.is_ipv6() {
            link::set_address(true, index, src, 64)?;
        }
        // (joined: while it is up, a peer's adverts from the same virtual
        // MAC reach the macvlan only, as if they were its own frames
        // looped back; the kernel's macvlan gives them to no one else)
        v.tx = VrrpSocket::open(name, index, src)?;
        Ok(v)
    }

    /// Brings it up (master) or down.
    pub fn set_up(&mut self, up: bool) -> io::Result<()> {
        if self.up != up {
            link::set_up(self.index, up)?;
            self.up = up;
        }
        Ok(())
    }

    /// Whether it is up: adverts leave through it.
    pub fn is_up(&self) -> bool {
        self.up
    }

    /// Its descriptor, for the event loop.
    pub fn raw_fd(&self) -> std::os::fd::RawFd {
        self.tx.raw_fd()
    }

    /// The socket adverts leave through, and are received on, while it
    /// is up.
    pub fn tx(&self) -> &VrrpSocket {
        &self.tx
    }
}

impl Drop for Vmac {
    fn drop(&mut self) {
        // (only if it is still ours: an index is reused once freed)
        if link::index_of(&self.name).ok() == Some(self.index) {
            if let Err(e) = link::delete_link(self.index) {
                warn!("deleting the macvlan {}: {e}", self.name);
            }
        }
        release_base(&self.base);
    }
}
