//! The sync datagram, version 1: encoding, decoding and its HMAC.
//!
//! ```text
//! 0   magic     "DRSY"
//! 4   version   u8 = 1
//! 5   type      u8: 1 = RECORDS, 2 = PULL, 3 = PULL_END
//! 6   flags     u8: bit 0 = an HMAC follows the payload
//! 7   reserved  u8 = 0
//! 8   sender    u32, random per daemon start
//! 12  seq       u32, per sender, +1 per datagram
//! 16  length    u16, payload bytes
//! 18  reserved  u16 = 0
//! 20  payload   RECORDS: sync records back to back (at most 1400 bytes);
//!               PULL: empty; PULL_END: u32 records sent + u8 active
//! 20+length     HMAC-SHA256(key, bytes 0 .. 20+length), iff flags bit 0
//! ```
//!
//! Network byte order. The MAC is compared in constant time.

use drlb_core::sync_record;
use hmac::{Hmac, Mac};
use sha2::Sha256;

pub const MAGIC: &[u8; 4] = b"DRSY";
pub const VERSION: u8 = 1;
pub const HEADER: usize = 20;
pub const MAC_LEN: usize = 32;
/// The most bytes of records one datagram carries.
pub const MAX_RECORDS: usize = 1400;
/// The longest datagram.
pub const MAX_DATAGRAM: usize = HEADER + MAX_RECORDS + MAC_LEN;
const F_MAC: u8 = 1;

/// What a datagram says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Body {
    /// Sync records, back to back (each checked whole on decoding).
    Records(Vec<u8>),
    /// Send me your full table.
    Pull,
    /// The end of an answer to a pull: how many records it sent, and
    /// whether the sender's drlb was active.
    PullEnd { records: u32, active: bool },
}

impl Body {
    fn kind(&self) -> u8 {
        match self {
            Body::Records(_) => 1,
            Body::Pull => 2,
            Body::PullEnd { .. } => 3,
        }
    }
}

/// A decoded datagram.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Datagram {
    pub sender: u32,
    pub seq: u32,
    pub body: Body,
}

/// Why a datagram was dropped, each with its counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Drop {
    /// A key is configured and the MAC is missing or wrong, or none is
    /// and a MAC is present.
    BadAuth,
    /// Shorter than the header, a length that does not match, or records
    /// that do not decode whole.
    Malformed,
    /// Wrong magic, version or type.
    BadVersion,
}

fn mac(key: &[u8]) -> Hmac<Sha256> {
    // (HMAC takes keys of any length)
    Hmac::<Sha256>::new_from_slice(key).expect("any key length")
}

/// Encodes `d`, with an HMAC when `key` is given. Records longer than
/// [`MAX_RECORDS`] are a caller's bug (the relay splits them).
pub fn encode(d: &Datagram, key: Option<&[u8]>) -> Vec<u8> {
    let payload: Vec<u8> = match &d.body {
        Body::Records(r) => r.clone(),
        Body::Pull => vec![],
        Body::PullEnd { records, active } => {
            let mut p = records.to_be_bytes().to_vec();
            p.push(u8::from(*active));
            p
        }
    };
    debug_assert!(payload.len() <= MAX_RECORDS);
    let mut out = Vec::with_capacity(HEADER + payload.len() + MAC_LEN);
    out.extend_from_slice(MAGIC);
    out.push(VERSION);
    out.push(d.body.kind());
    out.push(if key.is_some() { F_MAC } else { 0 });
    out.push(0);
    out.extend_from_slice(&d.sender.to_be_bytes());
    out.extend_from_slice(&d.seq.to_be_bytes());
    out.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(&payload);
    if let Some(k) = key {
        let mut m = mac(k);
        m.update(&out);
        out.extend_from_slice(&m.finalize().into_bytes());
    }
    out
}

/// Decodes and checks a datagram: the header, then the MAC against
/// `key`, then the payload (records must decode whole).
pub fn decode(b: &[u8], key: Option<&[u8]>) -> Result<Datagram, Drop> {
    if b.len() < HEADER {
        return Err(Drop::Malformed);
    }
    if &b[..4] != MAGIC || b[4] != VERSION || !(1..=3).contains(&b[5]) {
        return Err(Drop::BadVersion);
    }
    let has_mac = b[6] & F_MAC != 0;
    let len = usize::from(u16::from_be_bytes([b[16], b[17]]));
    let want = HEADER + len + if has_mac { MAC_LEN } else { 0 };
    if b.len() != want {
        return Err(Drop::Malformed);
    }
    match (key, has_mac) {
        (None, false) => {}
        (Some(k), true) => {
            let mut m = mac(k);
            m.update(&b[..HEADER + len]);
            // (verify_slice compares in constant time)
            m.verify_slice(&b[HEADER + len..])
                .map_err(|_| Drop::BadAuth)?;
        }
        _ => return Err(Drop::BadAuth),
    }
    let payload = &b[HEADER..HEADER + len];
    let body = match b[5] {
        1 => {
            if payload.len() > MAX_RECORDS || sync_record::records(payload).any(|r| r.is_err()) {
                return Err(Drop::Malformed);
            }
            Body::Records(payload.to_vec())
        }
        2 if payload.is_empty() => Body::Pull,
        3 if payload.len() == 5 => Body::PullEnd {
            records: u32::from_be_bytes([payload[0], payload[1], payload[2], payload[3]]),
            active: payload[4] != 0,
        },
        _ => return Err(Drop::Malformed),
    };
    Ok(Datagram {
        sender: u32::from_be_bytes([b[8], b[9], b[10], b[11]]),
        seq: u32::from_be_bytes([b[12], b[13], b[14], b[15]]),
        body,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use drlb_core::sync_record::Record;

    /// An IPv4 TCP record whose client port is `n`.
    pub fn record(n: u16) -> Record {
        let a = |x: u8| {
            let mut v = [0u8; 16];
            v[..4].copy_from_slice(&[10, 0, 0, x]);
            v
        };
        Record {
            v6: false,
            proto: 6,
            state: 1,
            flags: 0,
            timeout_ms: 900_000,
            vip: a(1),
            vport: 80,
            client: a(2),
            cport: n,
            real: a(3),
        }
    }

    pub fn bytes(records: &[Record]) -> Vec<u8> {
        let mut out = vec![];
        let mut b = [0u8; 64];
        for r in records {
            let n = r.encode(&mut b).unwrap();
            out.extend_from_slice(&b[..n]);
        }
        out
    }

    fn dgram(body: Body) -> Datagram {
        Datagram {
            sender: 0x0102_0304,
            seq: 7,
            body,
        }
    }

    const KEY: &[u8] = b"secret";

    #[test]
    fn round_trips_with_and_without_a_key() {
        for body in [
            Body::Records(bytes(&[record(1), record(2)])),
            Body::Records(vec![]),
            Body::Pull,
            Body::PullEnd {
                records: 70_000,
                active: true,
            },
            Body::PullEnd {
                records: 0,
                active: false,
            },
        ] {
            for key in [None, Some(KEY)] {
                let d = dgram(body.clone());
                let b = encode(&d, key);
                assert_eq!(decode(&b, key), Ok(d), "{body:?} {key:?}");
            }
        }
    }

    #[test]
    fn the_header_is_as_documented() {
        let b = encode(&dgram(Body::Records(bytes(&[record(9)]))), Some(KEY));
        assert_eq!(&b[..8], b"DRSY\x01\x01\x01\x00");
        assert_eq!(&b[8..12], &[1, 2, 3, 4]);
        assert_eq!(&b[12..16], &[0, 0, 0, 7]);
        assert_eq!(&b[16..20], &[0, 24, 0, 0]);
        assert_eq!(b.len(), 20 + 24 + 32);
        let mut m = mac(KEY);
        m.update(&b[..44]);
        assert_eq!(&b[44..], &m.finalize().into_bytes()[..]);
        let p = encode(
            &dgram(Body::PullEnd {
                records: 258,
                active: true,
            }),
            None,
        );
        assert_eq!(&p[4..8], &[1, 3, 0, 0]);
        assert_eq!(&p[20..], &[0, 0, 1, 2, 1]);
    }

    #[test]
    fn every_truncation_is_malformed() {
        for key in [None, Some(KEY)] {
            let b = encode(&dgram(Body::Records(bytes(&[record(1), record(2)]))), key);
            for n in 0..b.len() {
                let r = decode(&b[..n], key);
                assert_eq!(
                    r,
                    Err(Drop::Malformed),
                    "{n} of {} bytes, key {key:?}",
                    b.len()
                );
            }
            let mut longer = b.clone();
            longer.push(0);
            assert_eq!(decode(&longer, key), Err(Drop::Malformed));
        }
    }

    #[test]
    fn a_record_cut_inside_the_payload_is_malformed() {
        // (the length says so, and matches: the records do not decode whole)
        let mut payload = bytes(&[record(1), record(2)]);
        payload.truncate(30);
        let b = encode(&dgram(Body::Records(payload)), Some(KEY));
        assert_eq!(decode(&b, Some(KEY)), Err(Drop::Malformed));
        let mut bad_kind = bytes(&[record(1)]);
        bad_kind[0] = 5;
        let b = encode(&dgram(Body::Records(bad_kind)), None);
        assert_eq!(decode(&b, None), Err(Drop::Malformed));
        // A PULL with a payload, a PULL_END of the wrong size.
        let mut p = encode(&dgram(Body::Pull), None);
        p[17] = 1;
        p.push(0);
        assert_eq!(decode(&p, None), Err(Drop::Malformed));
    }

    #[test]
    fn authentication() {
        let d = dgram(Body::Records(bytes(&[record(1)])));
        let signed = encode(&d, Some(KEY));
        let plain = encode(&d, None);
        assert_eq!(
            decode(&signed, Some(b"other")),
            Err(Drop::BadAuth),
            "wrong key"
        );
        assert_eq!(decode(&plain, Some(KEY)), Err(Drop::BadAuth), "no MAC");
        assert_eq!(decode(&signed, None), Err(Drop::BadAuth), "a MAC, no key");
        for at in [0usize, 8, 21, 50, signed.len() - 1] {
            let mut bad = signed.clone();
            bad[at] ^= 0x40;
            let r = decode(&bad, Some(KEY));
            assert!(
                r == Err(Drop::BadAuth) || (at == 0 && r == Err(Drop::BadVersion)),
                "flipped byte {at}: {r:?}"
            );
        }
        // Setting the MAC flag on a plain datagram needs 32 more bytes.
        let mut flagged = plain.clone();
        flagged[6] = 1;
        assert_eq!(decode(&flagged, Some(KEY)), Err(Drop::Malformed));
    }

    #[test]
    fn oversize_records_are_malformed() {
        let many: Vec<Record> = (0..60).map(record).collect(); // 1440 bytes
        let mut b = encode(&dgram(Body::Records(bytes(&many[..58]))), None);
        // Rewrite by hand past the limit (encode does not make such).
        let payload = bytes(&many);
        b.truncate(HEADER);
        b[16..18].copy_from_slice(&(payload.len() as u16).to_be_bytes());
        b.extend_from_slice(&payload);
        assert_eq!(decode(&b, None), Err(Drop::Malformed));
    }

    #[test]
    fn wrong_magic_version_or_type() {
        let b = encode(&dgram(Body::Pull), None);
        for (at, v) in [(0, b'X'), (3, b'x'), (4, 2), (4, 0), (5, 0), (5, 4)] {
            let mut bad = b.clone();
            bad[at] = v;
            assert_eq!(decode(&bad, None), Err(Drop::BadVersion), "byte {at} = {v}");
        }
    }
}
