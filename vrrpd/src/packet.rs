//! VRRP advertisement wire format: VRRPv3 (RFC 5798) over IPv4 and IPv6,
//! and VRRPv2 (RFC 3768) over IPv4.
//!
//! Everything here works on the VRRP message alone (the IP payload); the
//! caller owns the IP header and passes the source and destination addresses
//! that the VRRPv3 checksum's pseudo-header needs, and the TTL / hop limit
//! that [`RxCheck`] verifies.
//!
//! ```text
//! VRRPv3 (RFC 5798 §5.1)              VRRPv2 (RFC 3768 §5.1)
//! |Ver|Typ| VRID | Prio | Count |      |Ver|Typ| VRID | Prio | Count |
//! |Rsv| Max Adver Int | Checksum|      | AuthTyp | AdvInt | Checksum |
//! | IPvX address(es) ...        |      | IPv4 address(es) ...        |
//!                                      | Authentication data (8 B)   |
//! ```

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// IP protocol number of VRRP (both versions).
pub const IPPROTO_VRRP: u8 = 112;
/// IPv4 multicast group VRRP adverts are sent to (224.0.0.18).
pub const MCAST_V4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
/// IPv6 multicast group VRRPv3 adverts are sent to (ff02::12).
pub const MCAST_V6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);
/// The only TTL / hop limit a received advert may carry (RFC 5798 §7.1).
pub const REQUIRED_TTL: u8 = 255;
/// Advertisement type, the only one defined.
pub const TYPE_ADVERTISEMENT: u8 = 1;
/// Largest VRRPv3 Max Adver Int (12 bits, centiseconds).
pub const MAX_V3_INTERVAL_CS: u16 = 0x0fff;
/// Largest VRRPv2 Adver Int (8 bits, seconds).
pub const MAX_V2_INTERVAL_S: u16 = 0xff;
/// Length of the VRRPv2 authentication data field.
pub const AUTH_LEN: usize = 8;
/// Length of the fixed header common to both versions.
pub const HEADER_LEN: usize = 8;

/// VRRP protocol version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Version {
    /// VRRPv2, RFC 3768: IPv4 only, interval in seconds, authentication field.
    V2,
    /// VRRPv3, RFC 5798: IPv4 or IPv6, interval in centiseconds.
    V3,
}

impl Version {
    /// The value of the 4-bit version field.
    pub fn number(self) -> u8 {
        match self {
            Version::V2 => 2,
            Version::V3 => 3,
        }
    }

    fn from_number(n: u8) -> Option<Self> {
        match n {
            2 => Some(Version::V2),
            3 => Some(Version::V3),
            _ => None,
        }
    }
}

/// VRRPv2 authentication (RFC 3768 §5.3.6; type 1 comes from RFC 2338).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Auth {
    /// Auth type 0: no authentication; the data field is zero on send.
    #[default]
    None,
    /// Auth type 1: simple text password, zero-padded to 8 octets.
    Pass([u8; AUTH_LEN]),
    /// Auth type 2: IP Authentication Header (see [`crate::ah`]), keyed
    /// with the password zero-padded to 8 octets; the data field is zero.
    /// The key never goes on the wire: a decoded advert carries zeros.
    Ah([u8; AUTH_LEN]),
}

impl Auth {
    /// Simple text password auth from a string of at most 8 bytes.
    pub fn pass(password: &str) -> Option<Self> {
        let bytes = password.as_bytes();
        if bytes.len() > AUTH_LEN {
            return None;
        }
        let mut data = [0u8; AUTH_LEN];
        data[..bytes.len()].copy_from_slice(bytes);
        Some(Auth::Pass(data))
    }

    /// IP AH auth keyed with a string of at most 8 bytes.
    pub fn ah(password: &str) -> Option<Self> {
        match Self::pass(password)? {
            Auth::Pass(k) => Some(Auth::Ah(k)),
            _ => None,
        }
    }

    /// The value of the Auth Type field.
    pub fn type_number(&self) -> u8 {
        match self {
            Auth::None => 0,
            Auth::Pass(_) => 1,
            Auth::Ah(_) => 2,
        }
    }

    /// The AH key, if this is AH.
    pub fn ah_key(&self) -> Option<&[u8; AUTH_LEN]> {
        match self {
            Auth::Ah(k) => Some(k),
            _ => None,
        }
    }

    /// Whether a received advert's auth matches this configured one: the
    /// same password, or both AH (whose ICV is checked on the IP packet).
    pub fn accepts(&self, received: &Auth) -> bool {
        match (self, received) {
            (Auth::Ah(_), Auth::Ah(_)) => true,
            _ => self == received,
        }
    }

    fn data(&self) -> [u8; AUTH_LEN] {
        match self {
            Auth::None | Auth::Ah(_) => [0; AUTH_LEN],
            Auth::Pass(d) => *d,
        }
    }
}

/// A decoded (or to-be-encoded) VRRP advertisement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Advert {
    /// Protocol version.
    pub version: Version,
    /// Virtual router ID (1..=255 on the wire in practice).
    pub vrid: u8,
    /// Sender's priority; 0 means the master is resigning.
    pub priority: u8,
    /// The raw interval field: v3 Max Adver Int in centiseconds (12 bits),
    /// v2 Adver Int in seconds (8 bits). See [`Advert::interval_cs`].
    pub max_adver_int: u16,
    /// v2 authentication; always [`Auth::None`] for v3.
    pub auth: Auth,
    /// The virtual addresses, all of one family.
    pub addrs: Vec<IpAddr>,
}

impl Advert {
    /// The advertisement interval in centiseconds, whatever the version.
    pub fn interval_cs(&self) -> u32 {
        match self.version {
            Version::V2 => u32::from(self.max_adver_int) * 100,
            Version::V3 => u32::from(self.max_adver_int),
        }
    }

    /// Encode as the IP payload of a packet from `src` to `dst`.
    ///
    /// `src` and `dst` feed the VRRPv3 pseudo-header checksum; for v2 they
    /// only have to be IPv4.
    pub fn encode(&self, src: IpAddr, dst: IpAddr) -> Result<Vec<u8>, EncodeError> {
        let family = check_family(self.version, src, dst).ok_or(EncodeError::FamilyMismatch)?;
        if self.addrs.iter().any(|a| Family::of(*a) != family) {
            return Err(EncodeError::FamilyMismatch);
        }
        let count = u8::try_from(self.addrs.len()).map_err(|_| EncodeError::TooManyAddrs)?;
        let mut buf = Vec::with_capacity(message_len(self.version, family, count));
        buf.push(self.version.number() << 4 | TYPE_ADVERTISEMENT);
        buf.push(self.vrid);
        buf.push(self.priority);
        buf.push(count);
        match self.version {
            Version::V3 => {
                if self.auth != Auth::None {
                    return Err(EncodeError::AuthWithV3);
                }
                if self.max_adver_int > MAX_V3_INTERVAL_CS {
                    return Err(EncodeError::IntervalOutOfRange);
                }
                buf.extend_from_slice(&self.max_adver_int.to_be_bytes());
            }
            Version::V2 => {
                let secs = u8::try_from(self.max_adver_int)
                    .map_err(|_| EncodeError::IntervalOutOfRange)?;
                buf.push(self.auth.type_number());
                buf.push(secs);
            }
        }
        buf.extend_from_slice(&[0, 0]);
        for addr in &self.addrs {
            push_addr(&mut buf, *addr);
        }
        if self.version == Version::V2 {
            buf.extend_from_slice(&self.auth.data());
        }
        let sum = checksum(self.version, src, dst, &buf);
        buf[6..8].copy_from_slice(&sum.to_be_bytes());
        Ok(buf)
    }

    /// Decode and validate the IP payload of a packet from `src` to `dst`.
    ///
    /// Checks length, version, type, address count against length, checksum
    /// and (v2) auth type. Never panics, whatever the bytes.
    pub fn decode(bytes: &[u8], src: IpAddr, dst: IpAddr) -> Result<Self, DecodeError> {
        if bytes.len() < HEADER_LEN {
            return Err(DecodeError::Truncated { len: bytes.len() });
        }
        let version =
            Version::from_number(bytes[0] >> 4).ok_or(DecodeError::BadVersion(bytes[0] >> 4))?;
        if bytes[0] & 0x0f != TYPE_ADVERTISEMENT {
            return Err(DecodeError::BadType(bytes[0] & 0x0f));
        }
        let family = check_family(version, src, dst).ok_or(DecodeError::FamilyMismatch)?;
        let count = bytes[3];
        let expected = message_len(version, family, count);
        if version == Version::V2 && bytes.len() < HEADER_LEN + AUTH_LEN {
            return Err(DecodeError::Truncated { len: bytes.len() });
        }
        if bytes.len() != expected {
            return Err(DecodeError::CountMismatch {
                count,
                len: bytes.len(),
            });
        }
        let found = u16::from_be_bytes([bytes[6], bytes[7]]);
        let computed = checksum_with_zeroed_field(version, src, dst, bytes);
        if found != computed {
            return Err(DecodeError::BadChecksum { found, computed });
        }
        let (auth, max_adver_int) = match version {
            Version::V3 => (
                Auth::None,
                u16::from_be_bytes([bytes[4], bytes[5]]) & MAX_V3_INTERVAL_CS,
            ),
            Version::V2 => (
                decode_auth(bytes[4], &bytes[expected - AUTH_LEN..])?,
                u16::from(bytes[5]),
            ),
        };
        let addrs = bytes[HEADER_LEN..HEADER_LEN + family.len() * usize::from(count)]
            .chunks_exact(family.len())
            .map(|c| family.addr(c))
            .collect();
        Ok(Advert {
            version,
            vrid: bytes[1],
            priority: bytes[2],
            max_adver_int,
            auth,
            addrs,
        })
    }
}

/// Why [`Advert::encode`] refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EncodeError {
    /// Mixed address families, v2 over IPv6, or src/dst families differ.
    FamilyMismatch,
    /// More than 255 addresses.
    TooManyAddrs,
    /// Interval does not fit its field (v3: 12 bits, v2: 8 bits).
    IntervalOutOfRange,
    /// Authentication is a VRRPv2 feature only.
    AuthWithV3,
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EncodeError::FamilyMismatch => "address families do not match",
            EncodeError::TooManyAddrs => "more than 255 addresses",
            EncodeError::IntervalOutOfRange => "advertisement interval does not fit the field",
            EncodeError::AuthWithV3 => "authentication is only defined for VRRPv2",
        })
    }
}

impl std::error::Error for EncodeError {}

/// Why [`Advert::decode`] rejected a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// Shorter than the fixed part of the message.
    Truncated {
        /// Bytes received.
        len: usize,
    },
    /// Version field is neither 2 nor 3.
    BadVersion(u8),
    /// Type field is not 1 (ADVERTISEMENT).
    BadType(u8),
    /// v2 over IPv6, or source and destination of different families.
    FamilyMismatch,
    /// The length does not match the Count IPvX Addr field.
    CountMismatch {
        /// The count field.
        count: u8,
        /// Bytes received.
        len: usize,
    },
    /// The checksum field does not match the message.
    BadChecksum {
        /// Checksum in the message.
        found: u16,
        /// Checksum computed over the message.
        computed: u16,
    },
    /// v2 auth type other than 0 (none), 1 (simple text password) or
    /// 2 (IP AH).
    BadAuthType(u8),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Truncated { len } => write!(f, "truncated message ({len} bytes)"),
            DecodeError::BadVersion(v) => write!(f, "unsupported VRRP version {v}"),
            DecodeError::BadType(t) => write!(f, "unknown VRRP packet type {t}"),
            DecodeError::FamilyMismatch => f.write_str("address family not valid for this version"),
            DecodeError::CountMismatch { count, len } => {
                write!(f, "address count {count} does not match length {len}")
            }
            DecodeError::BadChecksum { found, computed } => {
                write!(f, "bad checksum {found:#06x}, expected {computed:#06x}")
            }
            DecodeError::BadAuthType(t) => write!(f, "unsupported auth type {t}"),
        }
    }
}

impl std::error::Error for DecodeError {}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Family {
    V4,
    V6,
}

impl Family {
    fn of(addr: IpAddr) -> Self {
        match addr {
            IpAddr::V4(_) => Family::V4,
            IpAddr::V6(_) => Family::V6,
        }
    }

    fn len(self) -> usize {
        match self {
            Family::V4 => 4,
            Family::V6 => 16,
        }
    }

    /// Address from a chunk of exactly `self.len()` bytes.
    fn addr(self, chunk: &[u8]) -> IpAddr {
        match self {
            Family::V4 => IpAddr::from(<[u8; 4]>::try_from(chunk).unwrap_or_default()),
            Family::V6 => IpAddr::from(<[u8; 16]>::try_from(chunk).unwrap_or_default()),
        }
    }
}

/// The family of the addresses a message may carry, if `src`/`dst` suit
/// the version.
fn check_family(version: Version, src: IpAddr, dst: IpAddr) -> Option<Family> {
    let family = Family::of(src);
    let ok = family == Family::of(dst) && (version == Version::V3 || family == Family::V4);
    ok.then_some(family)
}

fn message_len(version: Version, family: Family, count: u8) -> usize {
    let auth = if version == Version::V2 { AUTH_LEN } else { 0 };
    HEADER_LEN + family.len() * usize::from(count) + auth
}

fn push_addr(buf: &mut Vec<u8>, addr: IpAddr) {
    match addr {
        IpAddr::V4(a) => buf.extend_from_slice(&a.octets()),
        IpAddr::V6(a) => buf.extend_from_slice(&a.octets()),
    }
}

fn decode_auth(auth_type: u8, data: &[u8]) -> Result<Auth, DecodeError> {
    match auth_type {
        0 => Ok(Auth::None),
        1 => {
            let mut pass = [0u8; AUTH_LEN];
            pass.copy_from_slice(&data[..AUTH_LEN]);
            Ok(Auth::Pass(pass))
        }
        2 => Ok(Auth::Ah([0; AUTH_LEN])),
        t => Err(DecodeError::BadAuthType(t)),
    }
}

/// One's complement sum of 16-bit big-endian words, odd byte zero-padded.
fn sum_words(mut acc: u64, data: &[u8]) -> u64 {
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        acc += u64::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        acc += u64::from(*last) << 8;
    }
    acc
}

fn fold(mut acc: u64) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

/// Sum of the pseudo-header VRRPv3 includes in its checksum (RFC 5798
/// §5.2.8): IPv4 src, dst, zero, protocol, length; or the IPv6 one of
/// RFC 2460 §8.1 (src, dst, 32-bit length, zeros, next header).
fn pseudo_header_sum(src: IpAddr, dst: IpAddr, len: usize) -> u64 {
    let mut acc = 0;
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            acc = sum_words(acc, &s.octets());
            acc = sum_words(acc, &d.octets());
            acc += u64::from(IPPROTO_VRRP);
            acc += len as u64 & 0xffff;
        }
        _ => {
            acc = sum_words(acc, &ip_octets(src));
            acc = sum_words(acc, &ip_octets(dst));
            acc += (len as u64 >> 16) + (len as u64 & 0xffff);
            acc += u64::from(IPPROTO_VRRP);
        }
    }
    acc
}

fn ip_octets(addr: IpAddr) -> [u8; 16] {
    match addr {
        IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
        IpAddr::V6(a) => a.octets(),
    }
}

/// The checksum field value for `msg`, whose checksum field must be zero.
/// v3 covers the pseudo-header, v2 the VRRP message alone.
pub fn checksum(version: Version, src: IpAddr, dst: IpAddr, msg: &[u8]) -> u16 {
    let start = match version {
        Version::V3 => pseudo_header_sum(src, dst, msg.len()),
        Version::V2 => 0,
    };
    !fold(sum_words(start, msg))
}

/// Checksum of `msg` as if its checksum field (bytes 6..8) were zero.
fn checksum_with_zeroed_field(version: Version, src: IpAddr, dst: IpAddr, msg: &[u8]) -> u16 {
    let start = match version {
        Version::V3 => pseudo_header_sum(src, dst, msg.len()),
        Version::V2 => 0,
    };
    let acc = sum_words(sum_words(start, &msg[..6]), &msg[8..]);
    !fold(acc)
}

/// The local configuration a received advert is checked against
/// (RFC 5798 §7.1, RFC 3768 §7.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RxCheck {
    /// Configured version.
    pub version: Version,
    /// Configured VRID.
    pub vrid: u8,
    /// Local priority; 255 means we own the addresses and take no adverts.
    pub priority: u8,
    /// Configured v2 authentication ([`Auth::None`] for v3).
    pub auth: Auth,
    /// Configured advert interval in centiseconds; compared for v2 only
    /// (v3 backups learn the master's interval instead).
    pub advert_interval_cs: u32,
    /// Configured virtual addresses.
    pub vips: Vec<IpAddr>,
}

/// An advert that passed [`RxCheck`], with what the caller should log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub struct RxOk {
    /// The address list differs from ours but came from the address owner
    /// (priority 255), so it is processed; the caller SHOULD log it.
    pub address_mismatch: bool,
}

/// Why a received advert must be discarded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RxError {
    /// The message itself is malformed.
    Decode(DecodeError),
    /// TTL / hop limit is not 255.
    BadTtl(u8),
    /// Version differs from the configured one.
    VersionMismatch(Version),
    /// VRID is not the configured one.
    VridMismatch(u8),
    /// We own the addresses (priority 255); owners take no adverts.
    LocalIsOwner,
    /// v2 auth type or password differs from the configured one.
    AuthMismatch,
    /// Address list differs and the sender is not the owner (SHOULD log).
    AddressMismatch,
    /// v2 advert interval differs from ours (SHOULD log), in seconds.
    IntervalMismatch(u16),
    /// v3 Max Adver Int of zero, which would make the backup fire at once.
    ZeroInterval,
}

impl fmt::Display for RxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RxError::Decode(e) => e.fmt(f),
            RxError::BadTtl(t) => write!(f, "TTL/hop limit {t}, not 255"),
            RxError::VersionMismatch(v) => write!(f, "VRRP version {} not configured", v.number()),
            RxError::VridMismatch(v) => write!(f, "VRID {v} not configured"),
            RxError::LocalIsOwner => f.write_str("advert received by the address owner"),
            RxError::AuthMismatch => f.write_str("authentication mismatch"),
            RxError::AddressMismatch => f.write_str("virtual address list does not match"),
            RxError::IntervalMismatch(s) => write!(f, "advert interval {s}s does not match ours"),
            RxError::ZeroInterval => f.write_str("advert interval of zero"),
        }
    }
}

impl std::error::Error for RxError {}

impl From<DecodeError> for RxError {
    fn from(e: DecodeError) -> Self {
        RxError::Decode(e)
    }
}

impl RxCheck {
    /// Decode `bytes` (the IP payload) and run [`RxCheck::check`] on it.
    pub fn receive(
        &self,
        ttl: u8,
        bytes: &[u8],
        src: IpAddr,
        dst: IpAddr,
    ) -> Result<(Advert, RxOk), RxError> {
        // RFC 5798 §7.1 checks the TTL first; it needs no decoding.
        if ttl != REQUIRED_TTL {
            return Err(RxError::BadTtl(ttl));
        }
        let advert = Advert::decode(bytes, src, dst)?;
        let ok = self.check(ttl, &advert)?;
        Ok((advert, ok))
    }

    /// The receive checks of RFC 5798 §7.1 (and RFC 3768 §7.1 for v2), in
    /// RFC order, on an advert that decoded (so length and checksum hold).
    pub fn check(&self, ttl: u8, advert: &Advert) -> Result<RxOk, RxError> {
        if ttl != REQUIRED_TTL {
            return Err(RxError::BadTtl(ttl));
        }
        if advert.version != self.version {
            return Err(RxError::VersionMismatch(advert.version));
        }
        if advert.vrid != self.vrid {
            return Err(RxError::VridMismatch(advert.vrid));
        }
        if self.priority == 255 {
            return Err(RxError::LocalIsOwner);
        }
        if self.version == Version::V2 && !self.auth.accepts(&advert.auth) {
            return Err(RxError::AuthMismatch);
        }
        let address_mismatch = !self.same_addrs(&advert.addrs);
        if address_mismatch && advert.priority != 255 {
            return Err(RxError::AddressMismatch);
        }
        self.check_interval(advert)?;
        Ok(RxOk { address_mismatch })
    }

    fn same_addrs(&self, addrs: &[IpAddr]) -> bool {
        addrs.len() == self.vips.len() && addrs.iter().all(|a| self.vips.contains(a))
    }

    fn check_interval(&self, advert: &Advert) -> Result<(), RxError> {
        match self.version {
            Version::V2 if advert.interval_cs() != self.advert_interval_cs => {
                Err(RxError::IntervalMismatch(advert.max_adver_int))
            }
            Version::V3 if advert.max_adver_int == 0 => Err(RxError::ZeroInterval),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC4: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
    const DST4: IpAddr = IpAddr::V4(MCAST_V4);
    const VIP4: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 10));

    fn src6() -> IpAddr {
        "fe80::1".parse().unwrap()
    }

    fn vip6() -> IpAddr {
        "2001:db8::10".parse().unwrap()
    }

    fn v3(addrs: Vec<IpAddr>) -> Advert {
        Advert {
            version: Version::V3,
            vrid: 51,
            priority: 150,
            max_adver_int: 100,
            auth: Auth::None,
            addrs,
        }
    }

    fn v2(auth: Auth) -> Advert {
        Advert {
            version: Version::V2,
            vrid: 51,
            priority: 100,
            max_adver_int: 1,
            auth,
            addrs: vec![VIP4],
        }
    }

    /// Hand-built VRRPv2 advert; checksum from an independent computation.
    const V2_BYTES: [u8; 20] = [
        0x21, 51, 100, 1, // v2 advert, VRID 51, prio 100, 1 address
        0, 1, 0x50, 0x8c, // auth none, 1 s, checksum
        198, 51, 100, 10, // 198.51.100.10
        0, 0, 0, 0, 0, 0, 0, 0, // auth data
    ];

    /// Hand-built VRRPv3 IPv4 advert 192.0.2.1 -> 224.0.0.18 (pseudo-header).
    const V3_BYTES: [u8; 12] = [
        0x31, 51, 150, 1, // v3 advert, VRID 51, prio 150, 1 address
        0x00, 100, 0x6b, 0x98, // 100 cs, checksum
        198, 51, 100, 10,
    ];

    #[test]
    fn v2_vector_encodes_and_decodes() {
        let a = v2(Auth::None);
        assert_eq!(a.encode(SRC4, DST4).unwrap(), V2_BYTES);
        assert_eq!(Advert::decode(&V2_BYTES, SRC4, DST4).unwrap(), a);
    }

    #[test]
    fn v2_checksum_ignores_ip_addresses() {
        let other = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 7));
        assert_eq!(v2(Auth::None).encode(other, other).unwrap(), V2_BYTES);
    }

    #[test]
    fn v2_password_vector() {
        let a = v2(Auth::pass("secret").unwrap());
        let bytes = a.encode(SRC4, DST4).unwrap();
        assert_eq!(&bytes[4..8], &[1, 1, 0x13, 0x40]);
        assert_eq!(&bytes[12..], b"secret\0\0");
        assert_eq!(Advert::decode(&bytes, SRC4, DST4).unwrap(), a);
    }

    #[test]
    fn v2_ah_advert_has_type_2_and_zero_data() {
        let a = v2(Auth::ah("secret").unwrap());
        let bytes = a.encode(SRC4, DST4).unwrap();
        assert_eq!(&bytes[4..8], &[2, 1, 0x4e, 0x8c]);
        assert_eq!(&bytes[12..], &[0; AUTH_LEN]);
        assert_eq!(
            Advert::decode(&bytes, SRC4, DST4).unwrap().auth,
            Auth::Ah([0; AUTH_LEN])
        );
    }

    #[test]
    fn v3_ipv4_vector_includes_pseudo_header() {
        let a = v3(vec![VIP4]);
        assert_eq!(a.encode(SRC4, DST4).unwrap(), V3_BYTES);
        assert_eq!(Advert::decode(&V3_BYTES, SRC4, DST4).unwrap(), a);
        // A different destination (unicast peer) changes the checksum.
        let peer = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2));
        assert!(matches!(
            Advert::decode(&V3_BYTES, SRC4, peer),
            Err(DecodeError::BadChecksum { found: 0x6b98, .. })
        ));
    }

    #[test]
    fn v3_ipv6_vector() {
        let a = v3(vec![vip6()]);
        let dst = IpAddr::V6(MCAST_V6);
        let bytes = a.encode(src6(), dst).unwrap();
        assert_eq!(bytes.len(), 24);
        assert_eq!(&bytes[..8], &[0x31, 51, 150, 1, 0, 100, 0x0c, 0x7f]);
        assert_eq!(Advert::decode(&bytes, src6(), dst).unwrap(), a);
    }

    #[test]
    fn round_trips() {
        let dst6 = IpAddr::V6(MCAST_V6);
        let many4: Vec<IpAddr> = (0..255u8)
            .map(|i| IpAddr::V4(Ipv4Addr::new(10, 0, 0, i)))
            .collect();
        let cases = [
            (
                v3(vec![VIP4, IpAddr::V4(Ipv4Addr::new(198, 51, 100, 11))]),
                SRC4,
                DST4,
            ),
            (v3(vec![]), SRC4, DST4),
            (v3(many4.clone()), SRC4, DST4),
            (
                v3(vec![vip6(), "2001:db8::11".parse().unwrap()]),
                src6(),
                dst6,
            ),
            (
                Advert {
                    priority: 0,
                    max_adver_int: MAX_V3_INTERVAL_CS,
                    ..v3(vec![VIP4])
                },
                SRC4,
                DST4,
            ),
            (
                Advert {
                    addrs: many4,
                    max_adver_int: 255,
                    ..v2(Auth::None)
                },
                SRC4,
                DST4,
            ),
            (
                Advert {
                    priority: 255,
                    ..v2(Auth::pass("12345678").unwrap())
                },
                SRC4,
                DST4,
            ),
        ];
        for (a, src, dst) in cases {
            let bytes = a.encode(src, dst).unwrap();
            assert_eq!(Advert::decode(&bytes, src, dst).unwrap(), a, "{a:?}");
        }
    }

    #[test]
    fn v3_reserved_bits_are_ignored() {
        let mut bytes = V3_BYTES.to_vec();
        bytes[4] |= 0xf0;
        let bytes = fix_v3(bytes);
        assert_eq!(
            Advert::decode(&bytes, SRC4, DST4).unwrap().max_adver_int,
            100
        );
    }

    #[test]
    fn encode_errors() {
        let dst6 = IpAddr::V6(MCAST_V6);
        assert_eq!(
            v3(vec![vip6()]).encode(SRC4, DST4),
            Err(EncodeError::FamilyMismatch)
        );
        assert_eq!(
            v3(vec![VIP4]).encode(SRC4, dst6),
            Err(EncodeError::FamilyMismatch)
        );
        assert_eq!(
            v3(vec![VIP4, vip6()]).encode(SRC4, DST4),
            Err(EncodeError::FamilyMismatch)
        );
        let v2_6 = Advert {
            addrs: vec![vip6()],
            ..v2(Auth::None)
        };
        assert_eq!(v2_6.encode(src6(), dst6), Err(EncodeError::FamilyMismatch));
        assert_eq!(
            v3(vec![VIP4; 256]).encode(SRC4, DST4),
            Err(EncodeError::TooManyAddrs)
        );
        let slow = Advert {
            max_adver_int: 4096,
            ..v3(vec![VIP4])
        };
        assert_eq!(
            slow.encode(SRC4, DST4),
            Err(EncodeError::IntervalOutOfRange)
        );
        let slow2 = Advert {
            max_adver_int: 256,
            ..v2(Auth::None)
        };
        assert_eq!(
            slow2.encode(SRC4, DST4),
            Err(EncodeError::IntervalOutOfRange)
        );
        let auth3 = Advert {
            auth: Auth::pass("x").unwrap(),
            ..v3(vec![VIP4])
        };
        assert_eq!(auth3.encode(SRC4, DST4), Err(EncodeError::AuthWithV3));
        assert_eq!(Auth::pass("123456789"), None);
    }

    /// Recompute the checksum of a v3 IPv4 message after editing it.
    fn fix_v3(mut bytes: Vec<u8>) -> Vec<u8> {
        let sum = checksum_with_zeroed_field(Version::V3, SRC4, DST4, &bytes);
        bytes[6..8].copy_from_slice(&sum.to_be_bytes());
        bytes
    }

    fn fix_v2(mut bytes: Vec<u8>) -> Vec<u8> {
        let sum = checksum_with_zeroed_field(Version::V2, SRC4, DST4, &bytes);
        bytes[6..8].copy_from_slice(&sum.to_be_bytes());
        bytes
    }

    #[test]
    fn decode_errors() {
        let dec = |b: &[u8]| Advert::decode(b, SRC4, DST4);
        assert_eq!(dec(&V3_BYTES[..7]), Err(DecodeError::Truncated { len: 7 }));
        assert_eq!(
            dec(&V2_BYTES[..12]),
            Err(DecodeError::Truncated { len: 12 })
        );
        assert_eq!(
            dec(&fix_v3([&[0x41], &V3_BYTES[1..]].concat())),
            Err(DecodeError::BadVersion(4))
        );
        assert_eq!(
            dec(&fix_v3([&[0x32], &V3_BYTES[1..]].concat())),
            Err(DecodeError::BadType(2))
        );
        assert_eq!(
            dec(&V3_BYTES[..11]),
            Err(DecodeError::CountMismatch { count: 1, len: 11 })
        );
        assert_eq!(
            dec(&[&V3_BYTES[..], &[0, 0, 0, 0]].concat()),
            Err(DecodeError::CountMismatch { count: 1, len: 16 })
        );
        assert_eq!(
            dec(&V2_BYTES[..19]),
            Err(DecodeError::CountMismatch { count: 1, len: 19 })
        );
        let mut bad = V3_BYTES;
        bad[11] ^= 1;
        assert_eq!(
            dec(&bad),
            Err(DecodeError::BadChecksum {
                found: 0x6b98,
                computed: 0x6b97
            })
        );
        let mut ah = V2_BYTES.to_vec();
        ah[4] = 3;
        assert_eq!(dec(&fix_v2(ah)), Err(DecodeError::BadAuthType(3)));
        let dst6 = IpAddr::V6(MCAST_V6);
        assert_eq!(
            Advert::decode(&V2_BYTES, src6(), dst6),
            Err(DecodeError::FamilyMismatch)
        );
        assert_eq!(
            Advert::decode(&V3_BYTES, SRC4, dst6),
            Err(DecodeError::FamilyMismatch)
        );
    }

    /// xorshift64*, enough to make arbitrary bytes without a dependency.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        fn bytes(&mut self, len: usize) -> Vec<u8> {
            (0..len).map(|_| self.next() as u8).collect()
        }
    }

    #[test]
    fn decode_never_panics_on_arbitrary_bytes() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let v6 = (src6(), IpAddr::V6(MCAST_V6));
        let valid = [
            V2_BYTES.to_vec(),
            V3_BYTES.to_vec(),
            v3(vec![vip6(); 3]).encode(v6.0, v6.1).unwrap(),
        ];
        let check = RxCheck {
            version: Version::V3,
            vrid: 51,
            priority: 100,
            auth: Auth::None,
            advert_interval_cs: 100,
            vips: vec![VIP4],
        };
        for i in 0..20_000 {
            let mut bytes = match i % 3 {
                0 => {
                    let len = (rng.next() % 80) as usize;
                    rng.bytes(len)
                }
                _ => {
                    let mut b = valid[i % valid.len()].clone();
                    let flips = rng.next() % 4;
                    for _ in 0..flips {
                        let at = (rng.next() as usize) % b.len();
                        b[at] = rng.next() as u8;
                    }
                    b
                }
            };
            if rng.next().is_multiple_of(4) {
                let keep = (rng.next() as usize) % (bytes.len() + 1);
                bytes.truncate(keep);
            }
            // Keep the version nibble valid half the time to reach deeper checks.
            if !bytes.is_empty() && rng.next().is_multiple_of(2) {
                bytes[0] = if rng.next().is_multiple_of(2) {
                    0x21
                } else {
                    0x31
                };
            }
            for (src, dst) in [(SRC4, DST4), v6] {
                if let Ok(a) = Advert::decode(&bytes, src, dst) {
                    assert_eq!(a.encode(src, dst).map(|b| b.len()), Ok(bytes.len()));
                }
                let _ = check.receive(255, &bytes, src, dst);
            }
        }
    }

    fn rx(version: Version) -> RxCheck {
        RxCheck {
            version,
            vrid: 51,
            priority: 100,
            auth: Auth::None,
            advert_interval_cs: 100,
            vips: vec![VIP4],
        }
    }

    const OK: RxOk = RxOk {
        address_mismatch: false,
    };

    #[test]
    fn rx_check_accepts_matching_adverts() {
        assert_eq!(rx(Version::V3).check(255, &v3(vec![VIP4])), Ok(OK));
        assert_eq!(rx(Version::V2).check(255, &v2(Auth::None)), Ok(OK));
        let (a, ok) = rx(Version::V3).receive(255, &V3_BYTES, SRC4, DST4).unwrap();
        assert_eq!((a.vrid, ok), (51, OK));
    }

    #[test]
    fn rx_check_rfc_5798_7_1_discards() {
        let c = rx(Version::V3);
        let a = v3(vec![VIP4]);
        assert_eq!(c.check(254, &a), Err(RxError::BadTtl(254)));
        assert_eq!(c.check(64, &a), Err(RxError::BadTtl(64)));
        assert_eq!(
            c.check(255, &v2(Auth::None)),
            Err(RxError::VersionMismatch(Version::V2))
        );
        assert_eq!(
            c.check(
                255,
                &Advert {
                    vrid: 52,
                    ..a.clone()
                }
            ),
            Err(RxError::VridMismatch(52))
        );
        let owner = RxCheck {
            priority: 255,
            ..c.clone()
        };
        assert_eq!(owner.check(255, &a), Err(RxError::LocalIsOwner));
        assert_eq!(
            c.check(
                255,
                &Advert {
                    max_adver_int: 0,
                    ..a.clone()
                }
            ),
            Err(RxError::ZeroInterval)
        );
        assert!(matches!(
            c.receive(255, &V3_BYTES[..10], SRC4, DST4),
            Err(RxError::Decode(DecodeError::CountMismatch { .. }))
        ));
    }

    #[test]
    fn rx_check_v3_learns_interval_rather_than_checking_it() {
        let a = Advert {
            max_adver_int: 37,
            ..v3(vec![VIP4])
        };
        assert_eq!(rx(Version::V3).check(255, &a), Ok(OK));
    }

    #[test]
    fn rx_check_address_mismatch_drops_unless_from_owner() {
        let c = rx(Version::V3);
        let other = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 99));
        for addrs in [vec![other], vec![VIP4, other], vec![]] {
            let a = v3(addrs);
            assert_eq!(c.check(255, &a), Err(RxError::AddressMismatch));
            let from_owner = Advert { priority: 255, ..a };
            assert_eq!(
                c.check(255, &from_owner),
                Ok(RxOk {
                    address_mismatch: true
                })
            );
        }
        // Order does not matter.
        let two = RxCheck {
            vips: vec![VIP4, other],
            ..c
        };
        assert_eq!(two.check(255, &v3(vec![other, VIP4])), Ok(OK));
    }

    #[test]
    fn rx_check_v2_auth_and_interval() {
        let c = RxCheck {
            auth: Auth::pass("secret").unwrap(),
            ..rx(Version::V2)
        };
        assert_eq!(c.check(255, &v2(Auth::pass("secret").unwrap())), Ok(OK));
        assert_eq!(
            c.check(255, &v2(Auth::pass("wrong").unwrap())),
            Err(RxError::AuthMismatch)
        );
        assert_eq!(c.check(255, &v2(Auth::None)), Err(RxError::AuthMismatch));
        assert_eq!(
            c.check(255, &v2(Auth::ah("secret").unwrap())),
            Err(RxError::AuthMismatch)
        );
        // AH: the type is compared here, the ICV on the IP packet.
        let ah = RxCheck {
            auth: Auth::ah("secret").unwrap(),
            ..rx(Version::V2)
        };
        assert_eq!(ah.check(255, &v2(Auth::Ah([0; AUTH_LEN]))), Ok(OK));
        assert_eq!(ah.check(255, &v2(c.auth)), Err(RxError::AuthMismatch));
        assert_eq!(ah.check(255, &v2(Auth::None)), Err(RxError::AuthMismatch));
        assert_eq!(
            rx(Version::V2).check(255, &v2(c.auth)),
            Err(RxError::AuthMismatch)
        );
        let slow = Advert {
            max_adver_int: 2,
            ..v2(c.auth)
        };
        assert_eq!(c.check(255, &slow), Err(RxError::IntervalMismatch(2)));
    }

    #[test]
    fn the_ttl_is_checked_before_anything_is_decoded() {
        let c = rx(Version::V3);
        assert_eq!(
            c.receive(64, b"not vrrp", SRC4, DST4),
            Err(RxError::BadTtl(64))
        );
        let good = v3(vec![VIP4]).encode(SRC4, DST4).unwrap();
        assert!(c.receive(255, &good, SRC4, DST4).is_ok());
        assert!(matches!(
            c.receive(255, b"not vrrp", SRC4, DST4),
            Err(RxError::Decode(_))
        ));
    }
}
