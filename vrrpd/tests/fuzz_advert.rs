//! Fuzzing the advert parser and the whole receive-side validation
//! (`instance::classify`: sender, TTL, decoding with its length, count and
//! checksum checks, version, VRID, owner, authentication, addresses and
//! interval), plus the IPv4 header split a raw socket needs.
//!
//! Inputs are arbitrary bytes, and valid v2/v3 IPv4/IPv6 adverts mutated
//! by bit flips, byte writes, truncations, extensions, wrong counts and
//! lengths, with or without a fixed-up checksum (so the deeper checks are
//! reached). Properties: nothing panics; every packet is accepted or
//! discarded with a known, non-empty reason; what is accepted matches the
//! local configuration and re-encodes to its own length; a valid advert
//! is accepted; a single bit flip without a fixed checksum is discarded.
//!
//! `cargo test` runs 1,000 cases of each target (a second or two unoptimised). A long run:
//! `PROPTEST_CASES=2500000 cargo test --release -p vrrpd --test fuzz_advert`
//! (four targets: 10M executions), which is `make fuzz-vrrp`.

use proptest::prelude::*;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use vrrpd::instance::{classify, Verdict};
use vrrpd::packet::{checksum, Advert, Auth, RxCheck, Version, MCAST_V4, MCAST_V6};
use vrrpd::sock::{parse_ipv4, Received};

/// The reasons the receive path counts (metrics labels).
const REASONS: [&str; 10] = [
    "malformed",
    "ttl",
    "version",
    "other_vrid",
    "owner",
    "auth",
    "addresses",
    "interval",
    "zero_interval",
    "unknown_peer",
];

const OWN4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const PEER4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
const VIP4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 100);
const OWN6: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1);
const PEER6: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 2);
const VIP6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x100);

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000)
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: cases(),
        // No files beside the sources: a failure prints its minimal input.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// One of the local configurations an instance can have.
#[derive(Clone, Copy, Debug)]
enum Kind {
    V2,
    V2Pass,
    V3v4,
    V3v6,
}

impl Kind {
    fn v6(self) -> bool {
        matches!(self, Kind::V3v6)
    }
    fn version(self) -> Version {
        match self {
            Kind::V2 | Kind::V2Pass => Version::V2,
            _ => Version::V3,
        }
    }
    fn auth(self) -> Auth {
        match self {
            Kind::V2Pass => Auth::pass("secret").unwrap(),
            _ => Auth::None,
        }
    }
    fn own(self) -> IpAddr {
        if self.v6() {
            OWN6.into()
        } else {
            OWN4.into()
        }
    }
    fn peer(self) -> IpAddr {
        if self.v6() {
            PEER6.into()
        } else {
            PEER4.into()
        }
    }
    fn group(self) -> IpAddr {
        if self.v6() {
            MCAST_V6.into()
        } else {
            MCAST_V4.into()
        }
    }
    fn vip(self) -> IpAddr {
        if self.v6() {
            VIP6.into()
        } else {
            VIP4.into()
        }
    }
    fn rx(self, priority: u8) -> RxCheck {
        RxCheck {
            version: self.version(),
            vrid: 51,
            priority,
            auth: self.auth(),
            advert_interval_cs: 100,
            vips: vec![self.vip()],
        }
    }
    /// The advert a matching peer sends.
    fn advert(self) -> Advert {
        Advert {
            version: self.version(),
            vrid: 51,
            priority: 100,
            max_adver_int: if self.version() == Version::V2 {
                1
            } else {
                100
            },
            auth: self.auth(),
            addrs: vec![self.vip()],
        }
    }
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        Just(Kind::V2),
        Just(Kind::V2Pass),
        Just(Kind::V3v4),
        Just(Kind::V3v6)
    ]
}

/// A few addresses of both families, the interesting ones included.
fn addr() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        Just(IpAddr::from(OWN4)),
        Just(IpAddr::from(PEER4)),
        Just(IpAddr::from(MCAST_V4)),
        Just(IpAddr::from(OWN6)),
        Just(IpAddr::from(PEER6)),
        Just(IpAddr::from(MCAST_V6)),
        any::<[u8; 4]>().prop_map(IpAddr::from),
        any::<[u8; 16]>().prop_map(IpAddr::from),
    ]
}

#[derive(Clone, Debug)]
enum Mutation {
    FlipBit(usize, u8),
    SetByte(usize, u8),
    Truncate(usize),
    Extend(Vec<u8>),
    /// A wrong address count (byte 3).
    Count(u8),
    /// Insert bytes in the middle (a wrong length with a plausible count).
    Insert(usize, Vec<u8>),
    /// A header byte (version/type, VRID, priority, count, auth type or
    /// interval) set to an edge value, to reach the checks past decoding.
    Header(usize, u8),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => (any::<usize>(), 0u8..8).prop_map(|(i, b)| Mutation::FlipBit(i, b)),
        3 => (any::<usize>(), any::<u8>()).prop_map(|(i, v)| Mutation::SetByte(i, v)),
        1 => any::<usize>().prop_map(Mutation::Truncate),
        1 => prop::collection::vec(any::<u8>(), 1..40).prop_map(Mutation::Extend),
        1 => any::<u8>().prop_map(Mutation::Count),
        1 => (any::<usize>(), prop::collection::vec(any::<u8>(), 1..20))
            .prop_map(|(i, v)| Mutation::Insert(i, v)),
        3 => (0usize..8, prop_oneof![Just(0u8), Just(1), Just(2), Just(0x21), Just(0x31), Just(51),
                                      Just(52), Just(255), any::<u8>()])
            .prop_map(|(i, v)| Mutation::Header(i, v)),
    ]
}

fn apply(bytes: &mut Vec<u8>, m: &Mutation) {
    let n = bytes.len();
    match m {
        Mutation::FlipBit(i, b) if n > 0 => bytes[i % n] ^= 1 << b,
        Mutation::SetByte(i, v) if n > 0 => bytes[i % n] = *v,
        Mutation::Truncate(l) => bytes.truncate(l % (n + 1)),
        Mutation::Extend(v) => bytes.extend_from_slice(v),
        Mutation::Count(c) if n > 3 => bytes[3] = *c,
        Mutation::Header(i, v) if *i < n => bytes[*i] = *v,
        Mutation::Insert(i, v) => {
            let at = i % (n + 1);
            bytes.splice(at..at, v.iter().copied());
        }
        _ => {}
    }
}

/// Recomputes the checksum, as a sender that builds a wrong packet would.
fn fix_checksum(bytes: &mut [u8], version: Version, src: IpAddr, dst: IpAddr) {
    if bytes.len() >= 8 && (src.is_ipv4() == dst.is_ipv4()) {
        bytes[6..8].copy_from_slice(&[0, 0]);
        let sum = checksum(version, src, dst, bytes);
        bytes[6..8].copy_from_slice(&sum.to_be_bytes());
    }
}

/// The properties every verdict must have.
fn check_verdict(rx: &RxCheck, pkt: &Received, v: &Verdict) -> Result<(), TestCaseError> {
    match v {
        Verdict::Own => {}
        Verdict::Discard { reason, detail } => {
            prop_assert!(REASONS.contains(reason), "unknown reason {reason:?}");
            prop_assert!(!detail.is_empty(), "no detail for {reason}");
        }
        Verdict::Accept(a) => {
            prop_assert_eq!(pkt.ttl, 255);
            prop_assert_eq!(a.version, rx.version);
            prop_assert_eq!(a.vrid, rx.vrid);
            prop_assert!(rx.priority != 255);
            let again = a
                .encode(pkt.src, pkt.dst)
                .expect("an accepted advert re-encodes");
            prop_assert_eq!(again.len(), pkt.payload.len());
            prop_assert_eq!(&Advert::decode(&again, pkt.src, pkt.dst).unwrap(), a);
        }
    }
    Ok(())
}

/// A valid advert from a sender of some kind, mutated, and the receiver.
type MutatedCase = (
    Kind,
    Kind,
    Vec<IpAddr>,
    u8,
    u8,
    Vec<Mutation>,
    bool,
    u8,
    bool,
    Option<u16>,
);

fn mutated_case() -> impl Strategy<Value = MutatedCase> {
    (
        kind(),
        kind(),
        prop::collection::vec(addr(), 0..4),
        prop_oneof![4 => Just(100u8), 1 => Just(255u8)],
        prop_oneof![Just(100u8), Just(255u8), Just(0u8), any::<u8>()],
        prop::collection::vec(mutation(), 0..4),
        any::<bool>(),
        prop_oneof![8 => Just(255u8), 1 => any::<u8>()],
        any::<bool>(),
        prop_oneof![4 => Just(None), 1 => Just(Some(0u16)), 1 => any::<u16>().prop_map(Some)],
    )
}

fn run_mutated(case: MutatedCase) -> (RxCheck, Received, Verdict) {
    let (k, sender, extra_addrs, priority, their_priority, mutations, fix, ttl, to_group, interval) =
        case;
    // The sender may have another version, family or auth than ours.
    let mut a = sender.advert();
    a.priority = their_priority;
    if let Some(i) = interval {
        // (what the field holds: 12 bits in v3, 8 in v2)
        a.max_adver_int = i & if sender.version() == Version::V3 {
            0x0fff
        } else {
            0xff
        };
    }
    a.addrs.extend(
        extra_addrs
            .into_iter()
            .filter(|x| x.is_ipv6() == sender.v6()),
    );
    let (src, dst) = (
        sender.peer(),
        if to_group {
            sender.group()
        } else {
            sender.own()
        },
    );
    let mut bytes = a.encode(src, dst).unwrap();
    for m in &mutations {
        apply(&mut bytes, m);
    }
    if fix {
        fix_checksum(&mut bytes, sender.version(), src, dst);
    }
    let rx = k.rx(priority);
    let pkt = Received {
        ttl,
        src,
        dst,
        payload: bytes,
        packet: Vec::new(),
    };
    let v = classify(&rx, k.own(), &[], &pkt);
    (rx, pkt, v)
}

/// The mutations reach every check: 5,000 mutated adverts produce every
/// reason but `unknown_peer` (which needs a peer list), and acceptances.
#[test]
fn mutations_reach_every_check() {
    use proptest::test_runner::{Config, TestRunner};
    use std::cell::RefCell;
    let seen = RefCell::new(std::collections::BTreeSet::new());
    let mut runner = TestRunner::new(Config {
        cases: 5_000,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&mutated_case(), |case| {
            let (_, _, v) = run_mutated(case);
            seen.borrow_mut().insert(match v {
                Verdict::Accept(_) => "accept",
                Verdict::Own => "own",
                Verdict::Discard { reason, .. } => reason,
            });
            Ok(())
        })
        .unwrap();
    let seen = seen.into_inner();
    for r in REASONS
        .iter()
        .filter(|r| **r != "unknown_peer")
        .chain(&["accept"])
    {
        assert!(seen.contains(r), "never reached {r}: {seen:?}");
    }
}

proptest! {
    #![proptest_config(config())]

    /// Arbitrary bytes between arbitrary addresses, with any TTL and
    /// either a unicast peer list or none.
    #[test]
    fn arbitrary_bytes(
        k in kind(),
        priority in prop_oneof![Just(100u8), Just(255u8), any::<u8>()],
        ttl in prop_oneof![Just(255u8), any::<u8>()],
        src in addr(),
        dst in addr(),
        peers in any::<bool>(),
        mut payload in prop::collection::vec(any::<u8>(), 0..120),
        keep_version in any::<bool>(),
    ) {
        // Half the time the first byte is a valid version and type, to get
        // past the first checks.
        if keep_version && !payload.is_empty() {
            payload[0] = k.version().number() << 4 | 1;
        }
        let rx = k.rx(priority);
        let peers = if peers { vec![k.peer()] } else { vec![] };
        let pkt = Received { ttl, src, dst, payload, packet: Vec::new() };
        let _ = Advert::decode(&pkt.payload, src, dst);
        let v = classify(&rx, k.own(), &peers, &pkt);
        check_verdict(&rx, &pkt, &v)?;
    }

    /// Valid adverts of every kind, mutated.
    #[test]
    fn mutated_adverts(case in mutated_case()) {
        let (rx, pkt, v) = run_mutated(case);
        check_verdict(&rx, &pkt, &v)?;
    }

    /// The checks can fail: an unmutated matching advert is accepted, and a
    /// single bit flip without a fixed checksum is discarded as malformed.
    #[test]
    fn valid_accepted_and_flips_discarded(k in kind(), at in any::<usize>(), bit in 0u8..8) {
        let rx = k.rx(100);
        let (src, dst) = (k.peer(), k.group());
        let good = k.advert().encode(src, dst).unwrap();
        let pkt = Received { ttl: 255, src, dst, payload: good.clone(), packet: Vec::new() };
        prop_assert_eq!(classify(&rx, k.own(), &[], &pkt), Verdict::Accept(k.advert()));
        let mut bad = good;
        let i = at % bad.len();
        bad[i] ^= 1 << bit;
        // (The v3 reserved bits, byte 4's high nibble, are ignored on receipt
        // but still in the checksum, so every flip is caught.)
        let pkt = Received { ttl: 255, src, dst, payload: bad, packet: Vec::new() };
        let v = classify(&rx, k.own(), &[], &pkt);
        prop_assert!(matches!(v, Verdict::Discard { reason: "malformed", .. }), "{:?}", v);
    }

    /// Raw IPv4 packets as the socket reads them (header included), valid
    /// and mutated, through the header split and then the checks.
    #[test]
    fn raw_ipv4_packets(
        k in prop_oneof![Just(Kind::V2), Just(Kind::V2Pass), Just(Kind::V3v4)],
        mutations in prop::collection::vec(mutation(), 0..4),
        fix in any::<bool>(),
    ) {
        let (src, dst) = (k.peer(), k.group());
        let payload = k.advert().encode(src, dst).unwrap();
        let mut p = vec![0x45, 0, 0, 0, 0, 0, 0, 0, 255, 112, 0, 0];
        p.extend_from_slice(&PEER4.octets());
        p.extend_from_slice(&MCAST_V4.octets());
        p.extend_from_slice(&payload);
        let len = p.len() as u16;
        p[2..4].copy_from_slice(&len.to_be_bytes());
        let untouched = mutations.is_empty();
        for m in &mutations {
            apply(&mut p, m);
        }
        let rx = k.rx(100);
        match parse_ipv4(&p) {
            // The daemon counts these as "malformed".
            None => prop_assert!(!untouched),
            Some(mut pkt) => {
                prop_assert!(pkt.payload.len() <= p.len());
                if fix {
                    fix_checksum(&mut pkt.payload, k.version(), pkt.src, pkt.dst);
                }
                let v = classify(&rx, k.own(), &[], &pkt);
                if untouched {
                    prop_assert_eq!(&v, &Verdict::Accept(k.advert()));
                }
                check_verdict(&rx, &pkt, &v)?;
            }
        }
    }
}
