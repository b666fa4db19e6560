//! The `drlb` generic-netlink protocol: family, commands, attributes and the
//! attribute policy. This file is the single definition: the module builds its
//! `nla_policy` table and its op table from it, and drlb-tool builds and parses
//! messages with the same numbers.
//!
//! Conventions:
//! - every request and reply carries flat top-level attributes from [`attr`];
//!   statistics are nested under [`attr::STATS`] with types from [`stats`];
//! - addresses are raw network-order bytes, 4 (IPv4) or 16 (IPv6) long;
//! - ports are `u16` in host order, counters `u64`, everything else as typed
//!   in [`POLICY`].

use core::ffi::CStr;

/// The family name that userspace resolves through the genl controller.
pub const FAMILY_NAME: &CStr = c"drlb";
/// The protocol version carried in every genl header.
pub const FAMILY_VERSION: u8 = 1;
/// The multicast group that carries events (state changes, real servers).
pub const MCGRP_EVENTS: &CStr = c"events";

/// Command numbers (`genlmsghdr.cmd`).
pub mod cmd {
    /// Module version, active/standby state and hook counters of the caller's netns.
    pub const STATUS: u8 = 1;
    /// Set the netns's state: [`super::attr::STATE`].
    pub const SET_STATE: u8 = 2;
    /// Add a service.
    pub const SERVICE_NEW: u8 = 3;
    /// Change a service's scheduler, persistence, flags, seed or state.
    pub const SERVICE_SET: u8 = 4;
    /// Delete a service with its real servers and connections.
    pub const SERVICE_DEL: u8 = 5;
    /// Get one service (doit) or dump all (dumpit).
    pub const SERVICE_GET: u8 = 6;
    /// Add a real server to a service.
    pub const REAL_NEW: u8 = 7;
    /// Change a real server's weight.
    pub const REAL_SET: u8 = 8;
    /// Delete a real server.
    pub const REAL_DEL: u8 = 9;
    /// Dump the real servers of a service.
    pub const REAL_GET: u8 = 10;
    /// Dump connections, optionally filtered.
    pub const CONN_GET: u8 = 11;
    /// Expire the matching connections.
    pub const CONN_DEL: u8 = 12;
    /// Which real server would this 5-tuple get, without creating state.
    pub const FLOW_QUERY: u8 = 13;
    /// Get the timeouts.
    pub const TIMEOUTS_GET: u8 = 14;
    /// Set some timeouts.
    pub const TIMEOUTS_SET: u8 = 15;
    /// Get the table limits and occupancy.
    pub const LIMITS_GET: u8 = 16;
    /// Set the table limits.
    pub const LIMITS_SET: u8 = 17;
    /// Delete every service, real server and connection of the netns.
    pub const FLUSH: u8 = 18;
    /// Reset counters.
    pub const ZERO: u8 = 19;
    /// Event: the netns's state changed.
    pub const EVENT_STATE: u8 = 20;
    /// Event: a real server was added.
    pub const EVENT_REAL_NEW: u8 = 21;
    /// Event: a real server was removed.
    pub const EVENT_REAL_DEL: u8 = 22;
    /// Event: a real server was re-weighted.
    pub const EVENT_REAL_SET: u8 = 23;
    /// Connection sync: turn the sync queue on or off ([`attr::SYNC_SEND`]).
    pub const SYNC_SET: u8 = 24;
    /// Connection sync: its state and counters (no address).
    pub const SYNC_GET: u8 = 25;
    /// Connection sync: take queued records out ([`attr::SYNC_RECORDS`],
    /// with [`attr::SYNC_MORE`] while more wait).
    pub const SYNC_READ: u8 = 26;
    /// Connection sync: insert a peer's records ([`attr::SYNC_RECORDS`]);
    /// a batch with a malformed record is refused whole.
    pub const SYNC_WRITE: u8 = 27;
}

/// Top-level attribute types.
pub mod attr {
    /// Module version string, e.g. "0.1.0".
    pub const VERSION: u16 = 1;
    /// `u8`: [`super::STATE_STANDBY`] or [`super::STATE_ACTIVE`].
    pub const STATE: u16 = 2;
    /// `u64`: packets the PRE_ROUTING hooks saw in this netns.
    pub const HOOK_PACKETS: u16 = 3;
    /// `u8`: IPPROTO_TCP or IPPROTO_UDP.
    pub const PROTO: u16 = 4;
    /// Binary, 4 or 16 bytes: the service's virtual IP.
    pub const VIP: u16 = 5;
    /// `u16`: the service port.
    pub const PORT: u16 = 6;
    /// String: the scheduler name.
    pub const SCHEDULER: u16 = 7;
    /// `u32`: persistence timeout in seconds, 0 = none.
    pub const PERSISTENCE: u16 = 8;
    /// `u32`: service flags.
    pub const FLAGS: u16 = 9;
    /// Binary, 4 or 16 bytes: a real server's address.
    pub const REAL: u16 = 10;
    /// `u32`: a real server's weight, 0..=65535.
    pub const WEIGHT: u16 = 11;
    /// Binary, 6 bytes: a resolved MAC address.
    pub const MAC: u16 = 12;
    /// `u32`: egress interface index.
    pub const IFINDEX: u16 = 13;
    /// `u8`: [`super::REAL_UNRESOLVED`] or [`super::REAL_RESOLVED`].
    pub const REAL_STATE: u16 = 14;
    /// Nested statistics, types from [`super::stats`].
    pub const STATS: u16 = 15;
    /// Binary, 4 or 16 bytes: a client address.
    pub const CLIENT: u16 = 16;
    /// `u16`: a client port.
    pub const CLIENT_PORT: u16 = 17;
    /// `u8`: a connection's state.
    pub const CONN_STATE: u16 = 18;
    /// `u32`: milliseconds until a connection expires.
    pub const EXPIRES_MS: u16 = 19;
    /// `u32`: timeout, seconds (TCP established).
    pub const TIMEOUT_TCP: u16 = 20;
    /// `u32`: timeout, seconds (TCP FIN_WAIT).
    pub const TIMEOUT_TCP_FIN: u16 = 21;
    /// `u32`: timeout, seconds (UDP).
    pub const TIMEOUT_UDP: u16 = 22;
    /// `u32`: timeout, seconds (TCP SYN_RECV).
    pub const TIMEOUT_TCP_SYN: u16 = 23;
    /// `u32`: timeout, seconds (TCP CLOSE).
    pub const TIMEOUT_TCP_CLOSE: u16 = 24;
    /// `u32`: the connection table's maximum size.
    pub const CONN_MAX: u16 = 25;
    /// `u32`: connections in the table.
    pub const CONN_COUNT: u16 = 26;
    /// `u32`: new connections per second and CPU above which flood mode engages.
    pub const FLOOD_RATE: u16 = 27;
    /// `u8`: 1 while flood mode is engaged.
    pub const FLOOD_ACTIVE: u16 = 28;
    /// `u32`: Maglev seed.
    pub const MAGLEV_SEED: u16 = 29;
    /// `u8`: why a flow goes where it goes (flow query).
    pub const REASON: u16 = 30;
    /// `u8`: expire connections of deleted real servers (1) or let them finish (0).
    pub const EXPIRE_NODEST: u16 = 31;
    /// Padding for 64-bit attributes.
    pub const PAD: u16 = 32;
    /// `u64`: flows forwarded without a connection entry (flood mode or a
    /// full table).
    pub const STATELESS: u16 = 33;
    /// `u64`: IP fragments to a VIP, handed to the stack.
    pub const FRAGMENTS: u16 = 34;
    /// `u64`: packets for a service dropped (no usable real server, or the
    /// egress device failed).
    pub const DROPS: u16 = 35;
    /// `u32`: bytes per connection-table entry.
    pub const CONN_SIZE: u16 = 36;
    /// Nested: a timeout in seconds (`u32`) per TCP state, each under the
    /// type [`super::timeout_state_attr`] gives its state.
    pub const TIMEOUT_STATES: u16 = 37;
    /// `u8`: a service's own active/standby switch,
    /// [`super::STATE_ACTIVE`] or [`super::STATE_STANDBY`]. A service
    /// forwards only when both the namespace and the service are active.
    pub const SVC_STATE: u16 = 38;
    /// `u64`: TCP segments without SYN and without an entry, placed
    /// without state (mid-flow after a failover, or forged).
    pub const MIDFLOW: u16 = 39;
    /// `u64`: ICMP errors about a service's flow, forwarded to its real
    /// server.
    pub const ICMP_FORWARDED: u16 = 40;
    /// `u64`: packets larger than the egress MTU, answered with
    /// fragmentation-needed or packet-too-big.
    pub const TOO_BIG: u16 = 41;
    /// `u8`: why a real server is unresolved ([`REAL_STATE`] is
    /// [`super::REAL_UNRESOLVED`]), one of the `UNRESOLVED_*` values
    /// ([`super::unresolved_name`]).
    pub const REAL_REASON: u16 = 42;
    /// Binary, 4 or 16 bytes: the gateway the route to a real server goes
    /// through, with [`REAL_REASON`] [`super::UNRESOLVED_NOT_ONLINK`].
    pub const REAL_GATEWAY: u16 = 43;
    /// `u32`: chains (buckets) in the connection table: sized from
    /// [`CONN_MAX`] while the namespace has a service, so that a full table
    /// averages at most two entries a chain; the fewest (256) without one.
    pub const CONN_BUCKETS: u16 = 44;
    /// `u8`: 1 while the sync queue takes the connections this director
    /// makes and changes (for a daemon to read out with `SYNC_READ`).
    pub const SYNC_SEND: u16 = 45;
    /// Binary: sync records back to back (the `sync_record` format).
    pub const SYNC_RECORDS: u16 = 46;
    /// `u8`: more records wait in the queue than one reply holds.
    pub const SYNC_MORE: u16 = 47;
    /// `u32`: records waiting in the sync queue.
    pub const SYNC_QUEUED: u16 = 48;
    /// `u64`: records read out of the queue (sent to peers).
    pub const SYNC_SENT: u16 = 49;
    /// `u64`: records lost because the queue was full (nobody read it).
    pub const SYNC_OVERFLOW: u16 = 50;
    /// `u64`: peers' records inserted or updated.
    pub const SYNC_APPLIED: u16 = 51;
    /// `u64`: peers' records for a service or real server this director
    /// does not have, skipped.
    pub const SYNC_UNKNOWN: u16 = 52;
    /// `u64`: `SYNC_WRITE` batches refused as malformed.
    pub const SYNC_MALFORMED: u16 = 53;
    /// `u64`: peers' records refused for want of room in the table.
    pub const SYNC_NO_ROOM: u16 = 54;
    /// The highest attribute type.
    pub const MAX: u16 = SYNC_NO_ROOM;
}

/// Attribute types nested under [`attr::STATS`].
pub mod stats {
    /// `u64`: connections created.
    pub const CONNS: u16 = 1;
    /// `u32`: active (established) connections.
    pub const ACTIVE: u16 = 2;
    /// `u32`: inactive connections.
    pub const INACTIVE: u16 = 3;
    /// `u64`: packets forwarded.
    pub const PACKETS: u16 = 4;
    /// `u64`: bytes forwarded.
    pub const BYTES: u16 = 5;
    /// `u64`: connections per second (estimated).
    pub const CPS: u16 = 6;
    /// `u64`: packets per second (estimated).
    pub const PPS: u16 = 7;
    /// `u64`: bytes per second (estimated).
    pub const BPS: u16 = 8;
    /// Padding for 64-bit attributes.
    pub const PAD: u16 = 9;
}

/// Service flag: the maglev scheduler hashes the whole flow (addresses and
/// ports) instead of only the client address (IPVS's `mh-port`).
pub const SVC_F_MH_PORT: u32 = 1;

/// The netns (or a service, [`attr::SVC_STATE`]) forwards nothing;
/// configuration, counters and connections stay.
pub const STATE_STANDBY: u8 = 0;
/// The netns (or a service) forwards packets to real servers.
pub const STATE_ACTIVE: u8 = 1;
/// A real server whose MAC is not known yet.
pub const REAL_UNRESOLVED: u8 = 0;
/// A real server with a resolved MAC and egress device.
pub const REAL_RESOLVED: u8 = 1;

/// Why a real server is unresolved ([`attr::REAL_REASON`]): not looked up
/// yet.
pub const UNRESOLVED_PENDING: u8 = 0;
/// No route to it.
pub const UNRESOLVED_NO_ROUTE: u8 = 1;
/// The route to it goes through a gateway ([`attr::REAL_GATEWAY`]): direct
/// routing needs the real server on the director's segment, where the
/// frame can carry its MAC (IPVS's `IP_VS_RT_MODE_KNOWN_NH`).
pub const UNRESOLVED_NOT_ONLINK: u8 = 2;
/// On-link, but the neighbour table has no entry for it (none could be
/// made, or the entry just went away).
pub const UNRESOLVED_NO_NEIGHBOUR: u8 = 3;
/// On-link; ARP or neighbour discovery asked and no answer came yet.
pub const UNRESOLVED_INCOMPLETE: u8 = 4;
/// On-link; ARP or neighbour discovery got no answer (NUD_FAILED).
pub const UNRESOLVED_FAILED: u8 = 5;
/// The route's device is down.
pub const UNRESOLVED_DEVICE_DOWN: u8 = 6;
/// The route's device is not Ethernet: no MAC to put in a frame.
pub const UNRESOLVED_NOT_ETHERNET: u8 = 7;
/// The address is local, broadcast or multicast here, not a host.
pub const UNRESOLVED_NOT_UNICAST: u8 = 8;

/// What an unresolved real server's reason means, as the tools print it
/// (they add the gateway to "not on-link").
#[cfg(not(drlb_kmod))] // for the tools: the module prints no names
pub fn unresolved_name(r: u8) -> &'static str {
    match r {
        UNRESOLVED_PENDING => "not looked up yet",
        UNRESOLVED_NO_ROUTE => "no route",
        UNRESOLVED_NOT_ONLINK => "not on-link",
        UNRESOLVED_NO_NEIGHBOUR => "no neighbour entry",
        UNRESOLVED_INCOMPLETE => "incomplete",
        UNRESOLVED_FAILED => "neighbour failed",
        UNRESOLVED_DEVICE_DOWN => "device down",
        UNRESOLVED_NOT_ETHERNET => "not an Ethernet device",
        UNRESOLVED_NOT_UNICAST => "not a unicast address",
        _ => "unknown",
    }
}

/// Connection flag ([`attr::FLAGS`] of a connection): a persistence
/// template (client-IP affinity), not a flow; its client port is 0.
pub const CONN_F_TEMPLATE: u32 = 1;

/// Flow query flag ([`attr::FLAGS`] of the request): ask about a TCP
/// segment without SYN (mid-flow), not a new connection.
pub const QUERY_F_MIDFLOW: u32 = 1;

/// Flow query reasons ([`attr::REASON`]): the flow has a connection entry.
pub const REASON_CONN: u8 = 1;
/// The client has a persistence template.
pub const REASON_PERSISTENCE: u8 = 2;
/// A new flow: the service's scheduler picks.
pub const REASON_SCHEDULER: u8 = 3;
/// Flood mode: the Maglev table picks, without state.
pub const REASON_FLOOD: u8 = 4;
/// A TCP segment without SYN and without an entry (a flow from another
/// director or from flood mode): the Maglev table picks, as everywhere.
pub const REASON_MIDFLOW: u8 = 5;

/// What a flow query's reason means, as the tools print it.
#[cfg(not(drlb_kmod))] // for the tools: the module prints no names
pub fn reason_name(r: u8) -> &'static str {
    match r {
        REASON_CONN => "existing connection",
        REASON_PERSISTENCE => "persistence",
        REASON_SCHEDULER => "scheduler",
        REASON_FLOOD => "flood mode (stateless Maglev)",
        REASON_MIDFLOW => "mid-flow TCP segment (stateless Maglev)",
        _ => "unknown",
    }
}

/// The name of a netns state, as the tools print it.
#[cfg(not(drlb_kmod))] // for the tools: the module prints no names
pub fn state_name(state: u8) -> &'static str {
    match state {
        STATE_ACTIVE => "active",
        STATE_STANDBY => "standby",
        _ => "unknown",
    }
}

/// How an attribute's payload is validated, a subset of the kernel's `NLA_*`
/// types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Not accepted in requests.
    Reject,
    /// Exactly one byte.
    U8,
    /// Exactly two bytes.
    U16,
    /// Exactly four bytes.
    U32,
    /// Exactly eight bytes.
    U64,
    /// A NUL-terminated string of at most `n - 1` characters.
    String(u16),
    /// At most `n` bytes of binary data; the handler checks exact sizes.
    Binary(u16),
    /// A nested attribute set.
    Nested,
}

/// The attribute policy, indexed by attribute type (`POLICY[t]` is type `t`).
/// The module turns it into the family's `nla_policy` table, so the kernel
/// rejects unknown attributes and wrong lengths before any handler runs.
pub const POLICY: [Kind; attr::MAX as usize + 1] = {
    let mut p = [Kind::Reject; attr::MAX as usize + 1];
    p[attr::VERSION as usize] = Kind::String(32);
    p[attr::STATE as usize] = Kind::U8;
    p[attr::HOOK_PACKETS as usize] = Kind::U64;
    p[attr::PROTO as usize] = Kind::U8;
    p[attr::VIP as usize] = Kind::Binary(16);
    p[attr::PORT as usize] = Kind::U16;
    p[attr::SCHEDULER as usize] = Kind::String(16);
    p[attr::PERSISTENCE as usize] = Kind::U32;
    p[attr::FLAGS as usize] = Kind::U32;
    p[attr::REAL as usize] = Kind::Binary(16);
    p[attr::WEIGHT as usize] = Kind::U32;
    p[attr::MAC as usize] = Kind::Binary(6);
    p[attr::IFINDEX as usize] = Kind::U32;
    p[attr::REAL_STATE as usize] = Kind::U8;
    p[attr::STATS as usize] = Kind::Nested;
    p[attr::CLIENT as usize] = Kind::Binary(16);
    p[attr::CLIENT_PORT as usize] = Kind::U16;
    p[attr::CONN_STATE as usize] = Kind::U8;
    p[attr::EXPIRES_MS as usize] = Kind::U32;
    p[attr::TIMEOUT_TCP as usize] = Kind::U32;
    p[attr::TIMEOUT_TCP_FIN as usize] = Kind::U32;
    p[attr::TIMEOUT_UDP as usize] = Kind::U32;
    p[attr::TIMEOUT_TCP_SYN as usize] = Kind::U32;
    p[attr::TIMEOUT_TCP_CLOSE as usize] = Kind::U32;
    p[attr::CONN_MAX as usize] = Kind::U32;
    p[attr::CONN_COUNT as usize] = Kind::U32;
    p[attr::FLOOD_RATE as usize] = Kind::U32;
    p[attr::FLOOD_ACTIVE as usize] = Kind::U8;
    p[attr::MAGLEV_SEED as usize] = Kind::U32;
    p[attr::REASON as usize] = Kind::U8;
    p[attr::EXPIRE_NODEST as usize] = Kind::U8;
    p[attr::STATELESS as usize] = Kind::U64;
    p[attr::FRAGMENTS as usize] = Kind::U64;
    p[attr::DROPS as usize] = Kind::U64;
    p[attr::CONN_SIZE as usize] = Kind::U32;
    p[attr::TIMEOUT_STATES as usize] = Kind::Nested;
    p[attr::SVC_STATE as usize] = Kind::U8;
    p[attr::MIDFLOW as usize] = Kind::U64;
    p[attr::ICMP_FORWARDED as usize] = Kind::U64;
    p[attr::TOO_BIG as usize] = Kind::U64;
    p[attr::REAL_REASON as usize] = Kind::U8;
    p[attr::REAL_GATEWAY as usize] = Kind::Binary(16);
    p[attr::CONN_BUCKETS as usize] = Kind::U32;
    p[attr::SYNC_SEND as usize] = Kind::U8;
    p[attr::SYNC_RECORDS as usize] = Kind::Binary(SYNC_RECORDS_MAX);
    p[attr::SYNC_MORE as usize] = Kind::U8;
    p[attr::SYNC_QUEUED as usize] = Kind::U32;
    p[attr::SYNC_SENT as usize] = Kind::U64;
    p[attr::SYNC_OVERFLOW as usize] = Kind::U64;
    p[attr::SYNC_APPLIED as usize] = Kind::U64;
    p[attr::SYNC_UNKNOWN as usize] = Kind::U64;
    p[attr::SYNC_MALFORMED as usize] = Kind::U64;
    p[attr::SYNC_NO_ROOM as usize] = Kind::U64;
    p
};

/// The most bytes of records one `SYNC_WRITE` carries.
pub const SYNC_RECORDS_MAX: u16 = 32768;

/// The attribute type of TCP state `state` (`IP_VS_TCP_S_*`, from 0)
/// inside [`attr::TIMEOUT_STATES`]: the state's number plus one, as type 0
/// is not a valid attribute.
pub const fn timeout_state_attr(state: u8) -> u16 {
    state as u16 + 1
}

/// A malformed attribute inside a nest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Malformed;

/// Walks the attributes in a nested attribute's payload, yielding each
/// `(type, payload)` (flag bits masked off), or [`Malformed`] once for a
/// header or length that does not fit.
pub fn nested(payload: &[u8]) -> impl Iterator<Item = Result<(u16, &[u8]), Malformed>> {
    let mut rest = payload;
    core::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let fail = |rest: &mut &[u8]| {
            *rest = &[];
            Some(Err(Malformed))
        };
        if rest.len() < 4 {
            return fail(&mut rest);
        }
        let len = usize::from(u16::from_ne_bytes([rest[0], rest[1]]));
        let kind = u16::from_ne_bytes([rest[2], rest[3]]) & 0x3fff;
        if len < 4 || len > rest.len() {
            return fail(&mut rest);
        }
        let item = (kind, &rest[4..len]);
        rest = &rest[len.next_multiple_of(4).min(rest.len())..];
        Some(Ok(item))
    })
}

/// Who may send a command, or join the events group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Anyone in the network namespace.
    Anyone,
    /// CAP_NET_ADMIN in the user namespace that owns the network namespace
    /// (genetlink's `GENL_UNS_ADMIN_PERM`; for the events group
    /// `GENL_MCAST_CAP_NET_ADMIN`, which checks that same namespace).
    NetAdmin,
}

/// One command of the family: its number, who may send it, and whether it
/// answers dump requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Op {
    /// The command number.
    pub cmd: u8,
    /// Who may send it.
    pub access: Access,
    /// It answers `NLM_F_DUMP` requests too.
    pub dump: bool,
}

const fn op(cmd: u8, access: Access, dump: bool) -> Op {
    Op { cmd, access, dump }
}

/// The family's commands: the module registers exactly these, and this
/// table is the one privilege rule.
///
/// Every change needs CAP_NET_ADMIN, and so does every read that names an
/// address: services and real servers (`SERVICE_GET`, `REAL_GET`: VIPs,
/// real servers with their MACs and egress interfaces, and per-service
/// traffic), connections (`CONN_GET`: clients' addresses and ports), flow
/// queries (`FLOW_QUERY`: where a given client goes and whether it has a
/// connection) and the events group (real servers as they come, go and
/// change weight). IPVS asks the same for all of its netlink reads. What
/// anyone in the namespace may read holds no address: `STATUS` (version,
/// state, packet and table counts), `TIMEOUTS_GET` and `LIMITS_GET`, so
/// that an unprivileged monitor can tell whether this director is active
/// and how full its table is.
pub const OPS: [Op; 23] = [
    op(cmd::STATUS, Access::Anyone, false),
    op(cmd::SET_STATE, Access::NetAdmin, false),
    op(cmd::SERVICE_NEW, Access::NetAdmin, false),
    op(cmd::SERVICE_SET, Access::NetAdmin, false),
    op(cmd::SERVICE_DEL, Access::NetAdmin, false),
    op(cmd::SERVICE_GET, Access::NetAdmin, true),
    op(cmd::REAL_NEW, Access::NetAdmin, false),
    op(cmd::REAL_SET, Access::NetAdmin, false),
    op(cmd::REAL_DEL, Access::NetAdmin, false),
    op(cmd::REAL_GET, Access::NetAdmin, true),
    op(cmd::CONN_GET, Access::NetAdmin, true),
    op(cmd::CONN_DEL, Access::NetAdmin, false),
    op(cmd::FLOW_QUERY, Access::NetAdmin, false),
    op(cmd::TIMEOUTS_GET, Access::Anyone, false),
    op(cmd::TIMEOUTS_SET, Access::NetAdmin, false),
    op(cmd::LIMITS_GET, Access::Anyone, false),
    op(cmd::LIMITS_SET, Access::NetAdmin, false),
    op(cmd::FLUSH, Access::NetAdmin, false),
    op(cmd::ZERO, Access::NetAdmin, false),
    op(cmd::SYNC_SET, Access::NetAdmin, false),
    op(cmd::SYNC_GET, Access::Anyone, false),
    op(cmd::SYNC_READ, Access::NetAdmin, false),
    op(cmd::SYNC_WRITE, Access::NetAdmin, false),
];

/// Who may join the events multicast group ([`MCGRP_EVENTS`]): its events
/// name real servers and weights, as `REAL_GET` does.
pub const EVENTS_ACCESS: Access = Access::NetAdmin;

/// Who may send command `c`: as [`OPS`] says, and CAP_NET_ADMIN for a
/// command it does not list. (The module registers [`OPS`] itself; this is
/// for the tools and tests.)
#[cfg(not(drlb_kmod))]
pub const fn access(c: u8) -> Access {
    let mut i = 0;
    while i < OPS.len() {
        if OPS[i].cmd == c {
            return OPS[i].access;
        }
        i += 1;
    }
    Access::NetAdmin
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec;
    use std::vec::Vec;

    #[test]
    fn every_attribute_below_max_has_a_policy() {
        assert_eq!(POLICY[0], Kind::Reject, "type 0 is never valid");
        for (t, k) in POLICY.iter().enumerate().skip(1) {
            // (PAD is never parsed)
            if t as u16 != attr::PAD {
                assert_ne!(*k, Kind::Reject, "attribute {t} has no policy");
            }
        }
    }

    #[test]
    fn every_command_is_listed_once_and_only_address_free_reads_are_open() {
        let mut seen = std::collections::BTreeSet::new();
        for o in OPS {
            assert!(seen.insert(o.cmd), "command {} listed twice", o.cmd);
        }
        assert_eq!(
            seen,
            (cmd::STATUS..=cmd::ZERO).chain(cmd::SYNC_SET..=cmd::SYNC_WRITE).collect(),
            "every request command, and no event"
        );
        let open: Vec<u8> = OPS
            .iter()
            .filter(|o| o.access == Access::Anyone)
            .map(|o| o.cmd)
            .collect();
        assert_eq!(open, [cmd::STATUS, cmd::TIMEOUTS_GET, cmd::LIMITS_GET, cmd::SYNC_GET]);
        for c in [
            cmd::SET_STATE,
            cmd::SERVICE_NEW,
            cmd::SERVICE_SET,
            cmd::SERVICE_DEL,
            cmd::REAL_NEW,
            cmd::REAL_SET,
            cmd::REAL_DEL,
            cmd::CONN_DEL,
            cmd::TIMEOUTS_SET,
            cmd::LIMITS_SET,
            cmd::FLUSH,
            cmd::ZERO,
            cmd::SYNC_SET,
            cmd::SYNC_WRITE,
        ] {
            assert_eq!(access(c), Access::NetAdmin, "mutation {c}");
        }
        for c in [
            cmd::SERVICE_GET,
            cmd::REAL_GET,
            cmd::CONN_GET,
            cmd::FLOW_QUERY,
            cmd::SYNC_READ,
        ] {
            assert_eq!(access(c), Access::NetAdmin, "read {c} names addresses");
        }
        assert_eq!(EVENTS_ACCESS, Access::NetAdmin);
        for c in [0, cmd::EVENT_STATE, cmd::EVENT_REAL_SET, 99, 255] {
            assert_eq!(access(c), Access::NetAdmin, "unlisted command {c}");
        }
        let dumps: Vec<u8> = OPS.iter().filter(|o| o.dump).map(|o| o.cmd).collect();
        assert_eq!(dumps, [cmd::SERVICE_GET, cmd::REAL_GET, cmd::CONN_GET]);
    }

    #[test]
    fn nested_attributes_are_walked_and_checked() {
        // (len 8, type 2, u32 7), (len 5, type 0x8001 -> 1, one byte + pad)
        let mut b = vec![];
        b.extend_from_slice(&8u16.to_ne_bytes());
        b.extend_from_slice(&2u16.to_ne_bytes());
        b.extend_from_slice(&7u32.to_ne_bytes());
        b.extend_from_slice(&5u16.to_ne_bytes());
        b.extend_from_slice(&0x8001u16.to_ne_bytes());
        b.extend_from_slice(&[9, 0, 0, 0]);
        let items: Vec<_> = nested(&b).collect();
        assert_eq!(
            items,
            [Ok((2, &7u32.to_ne_bytes()[..])), Ok((1, &[9u8][..]))]
        );
        assert_eq!(
            nested(&b[..6]).collect::<Vec<_>>(),
            [Err(Malformed)],
            "a header longer than what is left"
        );
        let mut long = b.clone();
        long[0] = 200;
        assert_eq!(nested(&long).collect::<Vec<_>>(), [Err(Malformed)]);
        assert_eq!(nested(&[]).count(), 0);
        assert_eq!(timeout_state_attr(0), 1);
    }

    #[test]
    fn names() {
        assert_eq!(FAMILY_NAME.to_bytes(), b"drlb");
        assert_eq!(state_name(STATE_ACTIVE), "active");
        assert_eq!(state_name(STATE_STANDBY), "standby");
        for r in UNRESOLVED_PENDING..=UNRESOLVED_NOT_UNICAST {
            assert_ne!(unresolved_name(r), "unknown", "reason {r} has no name");
        }
        assert_eq!(unresolved_name(UNRESOLVED_NOT_ONLINK), "not on-link");
    }
}
