//! VRRPv2 "IP Authentication Header" (auth type 2, RFC 2338 §5.3.6.2),
//! byte for byte as keepalived speaks it (vrrp.c, vrrp_ipsecah.h), without
//! I/O: the whole IPv4 packet is built here and sent with IP_HDRINCL,
//! because the IP header's ID is covered by the ICV.
//!
//! ```text
//! | IPv4 header (protocol 51, TOS 0xc0, TTL 255, no DF)              |
//! | Next hdr 112 | Payload len 4 | Reserved 0                        |
//! | SPI = the sender's IPv4 address                                  |
//! | Sequence number                                                  |
//! | ICV: HMAC-MD5-96, 12 bytes                                       |
//! | VRRPv2 advert (auth type 2, auth data zero)                      |
//! ```
//!
//! The ICV is HMAC-MD5 keyed with `auth_pass` zero-padded to 8 bytes,
//! over the IP header with TOS, flags/fragment offset and checksum zeroed
//! (and the TTL too when unicast peers are configured, as keepalived
//! does), then the AH header with a zero ICV, then the VRRP message;
//! truncated to its first 96 bits. The IP ID stays in.
//!
//! Anti-replay is keepalived's: one sequence counter per instance, which
//! the sender increments before each advert and a receiver raises to each
//! accepted advert's number; a number not above it is a replay. So a new
//! master carries on the sequence of the master it heard.

use crate::packet::{AUTH_LEN, IPPROTO_VRRP};
use hmac::{Hmac, Mac};
use md5::Md5;
use std::fmt;
use std::net::Ipv4Addr;

/// IP protocol number of the Authentication Header.
pub const IPPROTO_AH: u8 = 51;
/// Length of keepalived's AH header (with a 96-bit ICV).
pub const AH_LEN: usize = 24;
/// The AH Payload Len field: the header's length in 32-bit words minus 2.
pub const AH_PAYLOAD_LEN: u8 = 4;
/// Length of the truncated HMAC-MD5 ICV.
pub const ICV_LEN: usize = 12;
/// IPv4 header length without options.
const IP_LEN: usize = 20;
/// TOS keepalived sends with (network control).
const TOS: u8 = 0xc0;
/// The highest sequence number sent; keepalived stops counting there.
const SEQ_MAX: u32 = 0xffff_fffe;

/// The HMAC key: `auth_pass`, zero-padded to 8 bytes.
pub type Key = [u8; AUTH_LEN];

/// The ICV of an IP header (mutable fields already zeroed) followed by
/// the AH header (ICV zeroed) and the VRRP message.
fn icv(key: &Key, zeroed_header: &[u8], rest: &[u8]) -> [u8; ICV_LEN] {
    let mut mac = <Hmac<Md5> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(zeroed_header);
    mac.update(rest);
    let full = mac.finalize().into_bytes();
    let mut out = [0u8; ICV_LEN];
    out.copy_from_slice(&full[..ICV_LEN]);
    out
}

/// A copy of an IPv4 header with TOS, flags/fragment offset and checksum
/// zeroed, and the TTL with `zero_ttl`.
fn zero_mutable(header: &[u8], zero_ttl: bool) -> Vec<u8> {
    let mut h = header.to_vec();
    h[1] = 0;
    h[6] = 0;
    h[7] = 0;
    h[10] = 0;
    h[11] = 0;
    if zero_ttl {
        h[8] = 0;
    }
    h
}

fn ip_checksum(header: &[u8]) -> u16 {
    let mut acc: u32 = header
        .chunks_exact(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
        .sum();
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    !(acc as u16)
}

/// What is needed to seal one advert.
#[derive(Clone, Copy, Debug)]
pub struct Seal<'a> {
    /// The HMAC key.
    pub key: &'a Key,
    /// IP source, which is also the SPI.
    pub src: Ipv4Addr,
    /// IP destination: the group or a unicast peer.
    pub dst: Ipv4Addr,
    /// The IP ID (non-zero, or the kernel would pick one after the ICV).
    pub id: u16,
    /// The AH sequence number.
    pub seq: u32,
    /// Unicast peers are configured: the TTL is left out of the ICV.
    pub unicast: bool,
}

impl Seal<'_> {
    /// The whole IPv4 packet carrying `vrrp` (a VRRPv2 message with auth
    /// type 2), checksum filled in.
    pub fn packet(&self, vrrp: &[u8]) -> Vec<u8> {
        let total = (IP_LEN + AH_LEN + vrrp.len()) as u16;
        let mut p = Vec::with_capacity(usize::from(total));
        p.extend_from_slice(&[0x45, TOS]);
        p.extend_from_slice(&total.to_be_bytes());
        p.extend_from_slice(&self.id.to_be_bytes());
        p.extend_from_slice(&[0, 0, 255, IPPROTO_AH, 0, 0]);
        p.extend_from_slice(&self.src.octets());
        p.extend_from_slice(&self.dst.octets());
        p.extend_from_slice(&[IPPROTO_VRRP, AH_PAYLOAD_LEN, 0, 0]);
        p.extend_from_slice(&self.src.octets());
        p.extend_from_slice(&self.seq.to_be_bytes());
        p.extend_from_slice(&[0; ICV_LEN]);
        p.extend_from_slice(vrrp);
        let v = icv(
            self.key,
            &zero_mutable(&p[..IP_LEN], self.unicast),
            &p[IP_LEN..],
        );
        p[IP_LEN + 12..IP_LEN + AH_LEN].copy_from_slice(&v);
        let sum = ip_checksum(&p[..IP_LEN]);
        p[10..12].copy_from_slice(&sum.to_be_bytes());
        p
    }
}

/// Why an AH packet was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AhError {
    /// Not an IPv4 packet carrying a whole AH header, or the AH header
    /// is not keepalived's (payload length 4, next header VRRP).
    Malformed,
    /// The ICV does not match: another password, or a changed byte.
    BadIcv,
    /// The SPI is not the IP source address.
    BadSpi {
        /// The SPI in the packet.
        spi: u32,
    },
    /// A sequence number not above the last accepted one.
    Replay {
        /// The packet's number.
        seq: u32,
        /// The highest seen.
        last: u32,
    },
}

impl fmt::Display for AhError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AhError::Malformed => f.write_str("malformed IPsec AH header"),
            AhError::BadIcv => f.write_str(
                "bad AH ICV (HMAC-MD5-96): another auth_pass, or the packet was altered",
            ),
            AhError::BadSpi { spi } => write!(
                f,
                "AH SPI {} is not the source address",
                Ipv4Addr::from(*spi)
            ),
            AhError::Replay { seq, last } => {
                write!(f, "AH sequence number {seq} already seen (last {last})")
            }
        }
    }
}

impl std::error::Error for AhError {}

/// An AH packet split into its parts; nothing is verified yet.
#[derive(Clone, Copy, Debug)]
pub struct Opened<'a> {
    packet: &'a [u8],
    ihl: usize,
    /// The SPI.
    pub spi: u32,
    /// The sequence number.
    pub seq: u32,
}

impl<'a> Opened<'a> {
    /// Splits an IPv4 packet (header included, up to its total length)
    /// whose protocol is AH.
    pub fn parse(packet: &'a [u8]) -> Result<Self, AhError> {
        if packet.len() < IP_LEN || packet[0] >> 4 != 4 || packet[9] != IPPROTO_AH {
            return Err(AhError::Malformed);
        }
        let ihl = usize::from(packet[0] & 0x0f) * 4;
        if ihl < IP_LEN || packet.len() < ihl + AH_LEN {
            return Err(AhError::Malformed);
        }
        let ah = &packet[ihl..ihl + AH_LEN];
        if ah[0] != IPPROTO_VRRP || ah[1] != AH_PAYLOAD_LEN {
            return Err(AhError::Malformed);
        }
        let word = |at: usize| u32::from_be_bytes([ah[at], ah[at + 1], ah[at + 2], ah[at + 3]]);
        Ok(Self {
            packet,
            ihl,
            spi: word(4),
            seq: word(8),
        })
    }

    /// The VRRP message after the AH header.
    pub fn vrrp(&self) -> &'a [u8] {
        &self.packet[self.ihl + AH_LEN..]
    }

    /// Checks the ICV with `key` (`unicast`: the TTL is not covered),
    /// then that the SPI is the source address, as keepalived does.
    pub fn verify(&self, key: &Key, unicast: bool) -> Result<(), AhError> {
        let mut rest = self.packet[self.ihl..].to_vec();
        rest[12..AH_LEN].fill(0);
        let want = icv(key, &zero_mutable(&self.packet[..self.ihl], unicast), &rest);
        let found = &self.packet[self.ihl + 12..self.ihl + AH_LEN];
        // (constant time: no early exit on the first differing byte)
        if want.iter().zip(found).fold(0u8, |d, (a, b)| d | (a ^ b)) != 0 {
            return Err(AhError::BadIcv);
        }
        let src = u32::from_be_bytes([
            self.packet[12],
            self.packet[13],
            self.packet[14],
            self.packet[15],
        ]);
        if self.spi != src {
            return Err(AhError::BadSpi { spi: self.spi });
        }
        Ok(())
    }
}

/// keepalived's per-instance sequence counter, shared by sending and the
/// anti-replay check.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sequence {
    last: u32,
    id: u16,
}

impl Sequence {
    /// The number and IP ID for the next advert sent.
    pub fn next_tx(&mut self) -> (u32, u16) {
        if self.last < SEQ_MAX {
            self.last += 1;
        }
        self.id = self.id.wrapping_add(1).max(1);
        (self.last, self.id)
    }

    /// Accepts `seq` (from a packet whose ICV held) if it is above every
    /// number seen or sent, and remembers it.
    pub fn accept(&mut self, seq: u32) -> Result<(), AhError> {
        if seq > self.last {
            self.last = seq;
            Ok(())
        } else {
            Err(AhError::Replay {
                seq,
                last: self.last,
            })
        }
    }

    /// The highest number seen or sent.
    pub fn last(&self) -> u32 {
        self.last
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: Key = *b"secret\0\0";
    const SRC: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
    const DST: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);

    /// A VRRPv2 advert: VRID 51, priority 100, 1 s, AH, 198.51.100.10.
    const VRRP: [u8; 20] = [
        0x21, 51, 100, 1, 2, 1, 0x4e, 0x8c, 198, 51, 100, 10, 0, 0, 0, 0, 0, 0, 0, 0,
    ];

    fn seal(seq: u32, unicast: bool) -> Vec<u8> {
        Seal {
            key: &KEY,
            src: SRC,
            dst: DST,
            id: 7,
            seq,
            unicast,
        }
        .packet(&VRRP)
    }

    /// The packet computed independently, by Python's hmac and hashlib
    /// over the same bytes: vrrpd/tests/ah_vector.py.
    const KNOWN: [u8; 64] = [
        0x45, 0xc0, 0x00, 0x40, 0x00, 0x07, 0x00, 0x00, 0xff, 0x33, 0x00, 0x00, 0xc0, 0x00, 0x02,
        0x01, 0xe0, 0x00, 0x00, 0x12, // IP header (checksum patched below)
        0x70, 0x04, 0x00, 0x00, 0xc0, 0x00, 0x02, 0x01, 0x00, 0x00, 0x00, 0x2a, // AH, seq 42
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // ICV (patched below)
        0x21, 51, 100, 1, 2, 1, 0x4e, 0x8c, 198, 51, 100, 10, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    const KNOWN_ICV: [u8; ICV_LEN] = [
        0xcd, 0x90, 0x12, 0xff, 0x53, 0x8c, 0x31, 0x1b, 0xd1, 0x4d, 0xb8, 0xcd,
    ];
    const KNOWN_CSUM: [u8; 2] = [0x18, 0xb0];

    fn known() -> Vec<u8> {
        let mut k = KNOWN.to_vec();
        k[10..12].copy_from_slice(&KNOWN_CSUM);
        k[32..44].copy_from_slice(&KNOWN_ICV);
        k
    }

    #[test]
    fn known_answer() {
        assert_eq!(seal(42, false), known());
    }

    #[test]
    fn round_trip() {
        for unicast in [false, true] {
            let p = seal(42, unicast);
            let o = Opened::parse(&p).unwrap();
            assert_eq!((o.spi, o.seq), (u32::from(SRC), 42));
            assert_eq!(o.vrrp(), VRRP);
            assert_eq!(o.verify(&KEY, unicast), Ok(()));
            assert_eq!(o.verify(b"secreT\0\0", unicast), Err(AhError::BadIcv));
        }
        // The TTL is covered for multicast only.
        let p = seal(42, false);
        assert_eq!(
            Opened::parse(&p).unwrap().verify(&KEY, true),
            Err(AhError::BadIcv)
        );
    }

    #[test]
    fn mutable_fields_do_not_matter() {
        let p = seal(42, true);
        let mut m = p.clone();
        m[1] = 0x10; // TOS
        m[6] = 0x40; // DF
        m[7] = 0x01; // fragment offset
        m[8] = 64; // TTL (unicast)
        m[10] ^= 0xff; // checksum
        m[11] ^= 0x5a;
        assert_eq!(Opened::parse(&m).unwrap().verify(&KEY, true), Ok(()));
        let mut m = seal(42, false);
        m[1] = 0;
        m[6] = 0x40;
        assert_eq!(Opened::parse(&m).unwrap().verify(&KEY, false), Ok(()));
    }

    #[test]
    fn any_immutable_byte_changed_fails() {
        for unicast in [false, true] {
            let p = seal(42, unicast);
            let mutable: &[usize] = if unicast {
                &[1, 6, 7, 8, 10, 11]
            } else {
                &[1, 6, 7, 10, 11]
            };
            for at in 0..p.len() {
                if mutable.contains(&at) {
                    continue;
                }
                let mut m = p.clone();
                m[at] ^= 0x01;
                let r = Opened::parse(&m).and_then(|o| o.verify(&KEY, unicast));
                assert!(r.is_err(), "byte {at} changed and still verified");
            }
        }
    }

    #[test]
    fn spi_must_be_the_source() {
        let other = Ipv4Addr::new(192, 0, 2, 9);
        let mut p = seal(1, false);
        // A sender that put another SPI in, with a good ICV.
        p[24..28].copy_from_slice(&other.octets());
        let mut rest = p[20..].to_vec();
        rest[12..24].fill(0);
        let v = icv(&KEY, &zero_mutable(&p[..20], false), &rest);
        p[32..44].copy_from_slice(&v);
        assert_eq!(
            Opened::parse(&p).unwrap().verify(&KEY, false),
            Err(AhError::BadSpi {
                spi: u32::from(other)
            })
        );
    }

    #[test]
    fn malformed_headers() {
        let p = seal(1, false);
        assert_eq!(Opened::parse(&p[..43]).err(), Some(AhError::Malformed));
        let mut m = p.clone();
        m[21] = 5; // payload length
        assert_eq!(Opened::parse(&m).err(), Some(AhError::Malformed));
        let mut m = p.clone();
        m[20] = 6; // next header TCP
        assert_eq!(Opened::parse(&m).err(), Some(AhError::Malformed));
        let mut m = p;
        m[9] = IPPROTO_VRRP;
        assert_eq!(Opened::parse(&m).err(), Some(AhError::Malformed));
    }

    #[test]
    fn sequence_numbers_rise_and_replays_are_refused() {
        let mut s = Sequence::default();
        assert_eq!(s.next_tx(), (1, 1));
        assert_eq!(s.next_tx(), (2, 2));
        assert_eq!(s.accept(2), Err(AhError::Replay { seq: 2, last: 2 }));
        assert_eq!(s.accept(10), Ok(()));
        assert_eq!(s.accept(9), Err(AhError::Replay { seq: 9, last: 10 }));
        // A new master carries on from what it heard.
        assert_eq!(s.next_tx().0, 11);
        let mut top = Sequence {
            last: SEQ_MAX,
            id: u16::MAX,
        };
        assert_eq!(top.next_tx(), (SEQ_MAX, 1));
    }
}
