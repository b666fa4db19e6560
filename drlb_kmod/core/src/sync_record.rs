//! Connection-sync records: one connection (or persistence template) as a
//! director tells its peers about it.
//!
//! The module writes these records into its sync queue as the packet path
//! makes entries and moves their states; vrrpd reads them out
//! (`SYNC_READ`), packs them into datagrams for its peers, and a peer's
//! vrrpd hands them to its module (`SYNC_WRITE`), which inserts them. The
//! same bytes travel all the way, so the format is one, and it is this:
//! version 1, network byte order.
//!
//! ```text
//! 0   kind        4 (IPv4 addresses) or 6 (IPv6)
//! 1   protocol    6 (TCP) or 17 (UDP)
//! 2   state       TCP state (IP_VS_TCP_S_*), 0 for UDP and templates
//! 3   flags       bit 0: persistence template (client port 0)
//! 4   timeout     u32, milliseconds the entry has left
//! 8   vport       u16, the service's port
//! 10  cport       u16, the client's port
//! 12  vip         4 or 16 bytes
//!     client      4 or 16 bytes
//!     real        4 or 16 bytes
//! ```
//!
//! An IPv4 record is 24 bytes, an IPv6 one 60. Services are named by
//! protocol, VIP and port, never by a director's own ids, so two directors
//! configured alike (not necessarily in the same order) agree.

use super::conn_policy::MAX_TIMEOUT_S;
use super::tcp_state::TcpState;
use core::ffi::CStr;

/// The record is a persistence template.
pub const F_TEMPLATE: u8 = 1;
/// Every flag a version-1 record may carry.
const KNOWN_FLAGS: u8 = F_TEMPLATE;

/// The fixed part, before the addresses.
const FIXED: usize = 12;
/// An IPv4 record's length.
pub const V4_LEN: usize = FIXED + 3 * 4;
/// An IPv6 record's length.
pub const V6_LEN: usize = FIXED + 3 * 16;
/// The longest record.
pub const MAX_LEN: usize = V6_LEN;

/// One connection, as synced. Addresses are 16 bytes, an IPv4 one in the
/// first four with the rest zero (as the module's `Addr` holds them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Record {
    /// IPv6 addresses (else IPv4).
    pub v6: bool,
    /// 6 or 17.
    pub proto: u8,
    /// The TCP state, 0 for UDP and templates.
    pub state: u8,
    /// `F_*` bits.
    pub flags: u8,
    /// Milliseconds the entry has left.
    pub timeout_ms: u32,
    /// The VIP.
    pub vip: [u8; 16],
    /// The service's port.
    pub vport: u16,
    /// The client's address.
    pub client: [u8; 16],
    /// The client's port (0 for a template).
    pub cport: u16,
    /// The real server's address.
    pub real: [u8; 16],
}

/// Why a record was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Malformed {
    /// Fewer bytes than the record's kind needs.
    Truncated,
    /// A kind other than 4 or 6.
    Kind,
    /// A protocol other than TCP or UDP.
    Protocol,
    /// A state that is no TCP state, or one given for UDP or a template.
    State,
    /// Unknown flags, or a template with a client port.
    Flags,
    /// A timeout above 24 days.
    Timeout,
    /// Port 0 for the service.
    Port,
}

impl Malformed {
    /// What is wrong, for messages (the module's extack among them).
    pub fn describe(self) -> &'static CStr {
        match self {
            Malformed::Truncated => c"truncated sync record",
            Malformed::Kind => c"sync record kind is not 4 or 6",
            Malformed::Protocol => c"sync record protocol is not tcp or udp",
            Malformed::State => c"sync record has an invalid state",
            Malformed::Flags => c"sync record has unknown flags, or a template with a port",
            Malformed::Timeout => c"sync record timeout is above 24 days",
            Malformed::Port => c"sync record service port is 0",
        }
    }
}

impl Record {
    /// Its encoded length.
    pub fn encoded_len(&self) -> usize {
        if self.v6 {
            V6_LEN
        } else {
            V4_LEN
        }
    }

    /// Whether this is a persistence template.
    pub fn is_template(&self) -> bool {
        self.flags & F_TEMPLATE != 0
    }

    /// Writes the record at the start of `out`; its length, or `None` if
    /// `out` is too short (nothing is written then).
    pub fn encode(&self, out: &mut [u8]) -> Option<usize> {
        let len = self.encoded_len();
        let out = out.get_mut(..len)?;
        let alen = if self.v6 { 16 } else { 4 };
        out[0] = if self.v6 { 6 } else { 4 };
        out[1] = self.proto;
        out[2] = self.state;
        out[3] = self.flags;
        out[4..8].copy_from_slice(&self.timeout_ms.to_be_bytes());
        out[8..10].copy_from_slice(&self.vport.to_be_bytes());
        out[10..12].copy_from_slice(&self.cport.to_be_bytes());
        let mut at = FIXED;
        for a in [&self.vip, &self.client, &self.real] {
            out[at..at + alen].copy_from_slice(&a[..alen]);
            at += alen;
        }
        Some(len)
    }

    /// Reads and checks the record at the start of `b`; it and its length.
    pub fn decode(b: &[u8]) -> Result<(Record, usize), Malformed> {
        let kind = *b.first().ok_or(Malformed::Truncated)?;
        let (v6, len) = match kind {
            4 => (false, V4_LEN),
            6 => (true, V6_LEN),
            _ => return Err(Malformed::Kind),
        };
        let b = b.get(..len).ok_or(Malformed::Truncated)?;
        let alen = if v6 { 16 } else { 4 };
        let addr = |at: usize| {
            let mut a = [0u8; 16];
            a[..alen].copy_from_slice(&b[at..at + alen]);
            a
        };
        let r = Record {
            v6,
            proto: b[1],
            state: b[2],
            flags: b[3],
            timeout_ms: u32::from_be_bytes([b[4], b[5], b[6], b[7]]),
            vport: u16::from_be_bytes([b[8], b[9]]),
            cport: u16::from_be_bytes([b[10], b[11]]),
            vip: addr(FIXED),
            client: addr(FIXED + alen),
            real: addr(FIXED + 2 * alen),
        };
        r.check()?;
        Ok((r, len))
    }

    fn check(&self) -> Result<(), Malformed> {
        if self.proto != 6 && self.proto != 17 {
            return Err(Malformed::Protocol);
        }
        if self.flags & !KNOWN_FLAGS != 0 || (self.is_template() && self.cport != 0) {
            return Err(Malformed::Flags);
        }
        let stateless = self.proto != 6 || self.is_template();
        if (stateless && self.state != 0) || TcpState::from_u8(self.state).is_none() {
            return Err(Malformed::State);
        }
        if u64::from(self.timeout_ms) > u64::from(MAX_TIMEOUT_S) * 1000 {
            return Err(Malformed::Timeout);
        }
        if self.vport == 0 {
            return Err(Malformed::Port);
        }
        Ok(())
    }
}

/// The records in `b`, each checked, in order: `Err` once, at the first
/// malformed one, and nothing after it.
pub fn records(b: &[u8]) -> impl Iterator<Item = Result<Record, Malformed>> + '_ {
    let mut rest = b;
    core::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        match Record::decode(rest) {
            Ok((r, len)) => {
                rest = &rest[len..];
                Some(Ok(r))
            }
            Err(e) => {
                rest = &[];
                Some(Err(e))
            }
        }
    })
}

/// The length of the record starting with kind byte `kind`, if it is one.
pub fn len_of_kind(kind: u8) -> Option<usize> {
    match kind {
        4 => Some(V4_LEN),
        6 => Some(V6_LEN),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec::Vec;

    fn v4(a: [u8; 4]) -> [u8; 16] {
        let mut x = [0; 16];
        x[..4].copy_from_slice(&a);
        x
    }

    fn tcp() -> Record {
        Record {
            v6: false,
            proto: 6,
            state: TcpState::Established.as_u8(),
            flags: 0,
            timeout_ms: 900_000,
            vip: v4([192, 0, 2, 10]),
            vport: 80,
            client: v4([198, 51, 100, 7]),
            cport: 40000,
            real: v4([10, 0, 0, 2]),
        }
    }

    #[test]
    fn an_ipv4_record_is_24_bytes_in_network_order() {
        let mut b = [0u8; 64];
        assert_eq!(tcp().encode(&mut b), Some(24));
        assert_eq!(
            &b[..24],
            &[4, 6, 1, 0, 0, 0x0d, 0xbb, 0xa0, 0, 80, 0x9c, 0x40, 192, 0, 2, 10, 198, 51, 100, 7, 10, 0, 0, 2]
        );
        assert_eq!(Record::decode(&b), Ok((tcp(), 24)));
    }

    #[test]
    fn an_ipv6_template_round_trips() {
        let mut r = tcp();
        r.v6 = true;
        r.state = 0;
        r.flags = F_TEMPLATE;
        r.cport = 0;
        r.vip = [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        let mut b = [0u8; 60];
        assert_eq!(r.encode(&mut b), Some(V6_LEN));
        assert_eq!(Record::decode(&b), Ok((r, V6_LEN)));
        assert_eq!(r.encode(&mut [0u8; 59]), None);
    }

    #[test]
    fn every_prefix_of_a_record_is_truncated() {
        let mut b = [0u8; 24];
        tcp().encode(&mut b).unwrap();
        for n in 1..24 {
            assert_eq!(Record::decode(&b[..n]), Err(Malformed::Truncated), "{n} bytes");
        }
    }

    #[test]
    fn bad_fields_are_refused() {
        let bad = |f: fn(&mut Record), want: Malformed| {
            let mut r = tcp();
            f(&mut r);
            let mut b = [0u8; 64];
            r.encode(&mut b).unwrap();
            assert_eq!(Record::decode(&b), Err(want));
        };
        bad(|r| r.proto = 1, Malformed::Protocol);
        bad(|r| r.state = 200, Malformed::State);
        bad(|r| (r.proto, r.state) = (17, 1), Malformed::State);
        bad(|r| r.flags = 2, Malformed::Flags);
        bad(|r| (r.flags, r.state) = (F_TEMPLATE, 0), Malformed::Flags);
        bad(|r| r.timeout_ms = u32::MAX, Malformed::Timeout);
        bad(|r| r.vport = 0, Malformed::Port);
        assert_eq!(Record::decode(&[5; 64]), Err(Malformed::Kind));
    }

    #[test]
    fn a_batch_stops_at_its_first_bad_record() {
        let mut b = Vec::new();
        let mut one = [0u8; 24];
        tcp().encode(&mut one).unwrap();
        b.extend_from_slice(&one);
        b.extend_from_slice(&one);
        b.extend_from_slice(&one[..10]);
        let got: Vec<_> = records(&b).collect();
        assert_eq!(got, [Ok(tcp()), Ok(tcp()), Err(Malformed::Truncated)]);
        assert_eq!(len_of_kind(4), Some(24));
        assert_eq!(len_of_kind(6), Some(60));
        assert_eq!(len_of_kind(0), None);
    }
}
