//! Schedulers: which real server a new connection goes to.
//!
//! The caller describes a service's real servers as a slice of [`Dest`] and
//! keeps any scheduler state (a cursor, a [`WrrState`], a Maglev table); every
//! selector returns an index into that slice, or `None` when no real server is
//! eligible. A real server is eligible ([`Dest::eligible`]) when it is
//! available (MAC resolved, not being removed) and its weight is not 0: weight
//! 0 drains a server, as in IPVS — its existing connections stay, it gets no
//! new ones.
//!
//! | name     | function                            | like IPVS's        |
//! |----------|-------------------------------------|--------------------|
//! | `rr`     | [`select_rr`]                       | `ip_vs_rr.c`       |
//! | `wrr`    | [`select_wrr`]                      | `ip_vs_wrr.c`      |
//! | `lc`     | [`select_lc_iter`]                  | `ip_vs_lc.c`       |
//! | `wlc`    | [`select_wlc_iter`]                 | `ip_vs_wlc.c`      |
//! | `sh`     | [`select_sh`]                       | `ip_vs_sh.c`       |
//! | `maglev` | [`select_maglev`]                   | `ip_vs_mh.c`       |
//!
//! `sh` and `maglev` both look up a table built by
//! [`super::maglev::populate`]; they differ only in what is hashed: the
//! client address for `sh`, the whole flow for `maglev`.

use core::sync::atomic::{AtomicU32, Ordering};

use super::hash;
use super::maglev;

/// The highest weight: larger weights are treated as this.
pub const MAX_WEIGHT: u32 = 65535;

/// A real server as the schedulers see it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Dest {
    /// A stable identity that every director computes the same way: the
    /// server's address as 16 bytes, IPv4 in IPv4-mapped form
    /// (`::ffff:a.b.c.d`, see [`dest_key`]). Maglev orders servers by it and
    /// hashes it, so it must not depend on configuration order.
    pub key: [u8; 16],
    /// Weight, 0..=[`MAX_WEIGHT`]; 0 = drain (no new connections).
    pub weight: u32,
    /// Connections in an active state (see `tcp_state::is_active`).
    pub active_conns: u32,
    /// The other connections.
    pub inactive_conns: u32,
    /// MAC resolved and not being removed.
    pub available: bool,
}

impl Dest {
    /// Whether the server may get a new connection: available and weight > 0.
    pub fn eligible(&self) -> bool {
        self.available && self.weight > 0
    }

    /// The weight the schedulers use: 0 when not eligible, else the weight
    /// capped at [`MAX_WEIGHT`].
    pub fn effective_weight(&self) -> u32 {
        if self.available {
            self.weight.min(MAX_WEIGHT)
        } else {
            0
        }
    }

    /// IPVS's `ip_vs_dest_conn_overhead()`: `active * 256 + inactive`.
    pub fn overhead(&self) -> u64 {
        // < 2^40 + 2^32: no overflow.
        (u64::from(self.active_conns) << 8).wrapping_add(u64::from(self.inactive_conns))
    }
}

/// Builds a [`Dest::key`] from a 4- or 16-byte network-order address; `None`
/// for any other length.
pub fn dest_key(addr: &[u8]) -> Option<[u8; 16]> {
    match *addr {
        [a, b, c, d] => Some([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, a, b, c, d]),
        _ => <[u8; 16]>::try_from(addr).ok(),
    }
}

/// A scheduling algorithm, as named on the wire and by `ipvsadm -s`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scheduler {
    /// Round robin.
    Rr,
    /// Weighted round robin.
    Wrr,
    /// Least connections.
    Lc,
    /// Weighted least connections (IPVS's default).
    Wlc,
    /// Source hashing.
    Sh,
    /// Maglev hashing of the whole flow.
    Maglev,
}

impl Scheduler {
    /// Every scheduler.
    #[cfg(not(drlb_kmod))] // for the tools' help and error messages
    pub const ALL: [Scheduler; 6] = [
        Scheduler::Rr,
        Scheduler::Wrr,
        Scheduler::Lc,
        Scheduler::Wlc,
        Scheduler::Sh,
        Scheduler::Maglev,
    ];

    /// Parses a name (without NUL). IPVS's `mh` is accepted for `maglev`.
    pub fn from_name(name: &[u8]) -> Option<Self> {
        match name {
            b"rr" => Some(Scheduler::Rr),
            b"wrr" => Some(Scheduler::Wrr),
            b"lc" => Some(Scheduler::Lc),
            b"wlc" => Some(Scheduler::Wlc),
            b"sh" => Some(Scheduler::Sh),
            b"maglev" | b"mh" => Some(Scheduler::Maglev),
            _ => None,
        }
    }

    /// The scheduler's name.
    pub fn name(self) -> &'static str {
        match self {
            Scheduler::Rr => "rr",
            Scheduler::Wrr => "wrr",
            Scheduler::Lc => "lc",
            Scheduler::Wlc => "wlc",
            Scheduler::Sh => "sh",
            Scheduler::Maglev => "maglev",
        }
    }

    /// Whether the scheduler needs a lookup table from
    /// [`super::maglev::populate`], rebuilt whenever a server is added,
    /// removed, reweighted or changes availability.
    pub fn needs_table(self) -> bool {
        matches!(self, Scheduler::Sh | Scheduler::Maglev)
    }
}

/// `(a + b) % n`; 0 when `n` is 0 or the sum overflows (neither happens
/// where used: `a, b < n <= isize::MAX`).
fn add_mod(a: usize, b: usize, n: usize) -> usize {
    a.checked_add(b).and_then(|s| s.checked_rem(n)).unwrap_or(0)
}

/// `a % n` for a 32-bit `a`; 0 when `n` is 0.
fn rem_usize(a: u32, n: usize) -> usize {
    (a as usize).checked_rem(n).unwrap_or(0)
}

/// The eligible servers with their indexes. (`(0..len).zip()` rather than
/// `enumerate()`: no overflow-checked counter in the kernel build.)
pub fn eligible(dests: &[Dest]) -> impl Iterator<Item = (usize, &Dest)> + '_ {
    (0..dests.len())
        .zip(dests.iter())
        .filter(|(_, d)| d.eligible())
}

/// The number of eligible servers.
pub fn count_eligible(dests: &[Dest]) -> usize {
    dests
        .iter()
        .filter(|d| d.eligible())
        .fold(0, |n: usize, _| n.saturating_add(1))
}

/// The index of the `k`-th eligible server (0-based).
fn nth_eligible(dests: &[Dest], k: usize) -> Option<usize> {
    let mut left = k;
    for (i, _) in eligible(dests) {
        if left == 0 {
            return Some(i);
        }
        left = left.saturating_sub(1);
    }
    None
}

/// The order [`select_rr`] goes round: the indexes of the eligible
/// servers. Built with the service's snapshot, so a pick costs the same
/// with 1,000 servers as with one.
pub fn rr_order(dests: &[Dest]) -> impl Iterator<Item = u32> + '_ {
    eligible(dests).map(|(i, _)| i as u32)
}

/// Round robin, without a lock: pick number `counter.fetch_add(1)` goes to
/// `order[pick % order.len()]`, `order` being [`rr_order`]'s. Exactly even
/// over `len * k` picks while the set does not change (and the counter does
/// not wrap); O(1).
#[inline]
pub fn select_rr(order: &[u32], counter: &AtomicU32) -> Option<usize> {
    if order.is_empty() {
        return None;
    }
    let pick = counter.fetch_add(1, Ordering::Relaxed);
    order.get(rem_usize(pick, order.len())).map(|&i| i as usize)
}

fn gcd(mut a: u32, mut b: u32) -> u32 {
    while b != 0 {
        let r = a.checked_rem(b).unwrap_or(0);
        a = b;
        b = r;
    }
    a
}

/// The state of [`select_wrr`], one per service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WrrState {
    /// Index of the last pick; `u32::MAX` before the first.
    last: u32,
    /// The current weight threshold.
    cw: u32,
}

impl WrrState {
    /// The initial state.
    pub const fn new() -> Self {
        WrrState {
            last: u32::MAX,
            cw: 0,
        }
    }
}

impl Default for WrrState {
    fn default() -> Self {
        Self::new()
    }
}

/// Weighted round robin as IPVS's `ip_vs_wrr.c`: the threshold `cw` starts
/// at the highest weight and steps down by the gcd of the weights once per
/// pass over the servers; a pass picks every server whose weight is at least
/// `cw`. Over a cycle of `sum(w) / gcd` picks each server gets exactly
/// `w / gcd`, interleaved (weights 1, 2, 3 give `C B C A B C`).
///
/// The highest weight and the gcd are recomputed on every call from the
/// eligible servers, so weight changes take effect at once. O(N) per pick.
pub fn select_wrr(dests: &[Dest], state: &mut WrrState) -> Option<usize> {
    let n = dests.len();
    let (mut mw, mut di) = (0u32, 0u32);
    for d in dests.iter().filter(|d| d.eligible()) {
        let w = d.effective_weight();
        mw = mw.max(w);
        di = gcd(di, w);
    }
    if mw == 0 || di == 0 || n == 0 {
        return None;
    }
    state.cw = state.cw.min(mw);
    let mut i = state.last as usize;
    if i >= n {
        // Before the first pick, or the server list shrank: restart a cycle.
        i = n.saturating_sub(1);
        state.cw = 0;
    }
    // The highest-weight server passes any cw <= mw, so a pick comes within
    // two passes; the bound only guards against a bug looping forever.
    for _ in 0..=n.saturating_mul(2) {
        i = add_mod(i, 1, n);
        if i == 0 {
            state.cw = if state.cw <= di {
                mw
            } else {
                state.cw.saturating_sub(di)
            };
        }
        if let Some(d) = dests.get(i) {
            if d.eligible() && d.effective_weight() >= state.cw {
                state.last = u32::try_from(i).unwrap_or(u32::MAX);
                return Some(i);
            }
        }
    }
    None
}

/// Least connections as IPVS's `ip_vs_lc.c`: the eligible server with the
/// smallest overhead `active * 256 + inactive`; the first one on ties. Over
/// `(index, server)` pairs built on the fly, e.g. with connection counts
/// read at the moment of the pick.
pub fn select_lc_iter(dests: impl IntoIterator<Item = (usize, Dest)>) -> Option<usize> {
    let mut least: Option<(usize, u64)> = None;
    for (i, d) in dests.into_iter().filter(|(_, d)| d.eligible()) {
        let doh = d.overhead();
        match least {
            Some((_, loh)) if doh >= loh => {}
            _ => least = Some((i, doh)),
        }
    }
    least.map(|(i, _)| i)
}

/// Weighted least connections as IPVS's `ip_vs_wlc.c`: the eligible server
/// with the smallest `overhead / weight`, compared as
/// `loh * dw > doh * lw` (no division); the first one on ties. Over
/// `(index, server)` pairs built on the fly.
pub fn select_wlc_iter(dests: impl IntoIterator<Item = (usize, Dest)>) -> Option<usize> {
    let mut least: Option<(usize, u64, u64)> = None;
    for (i, d) in dests.into_iter().filter(|(_, d)| d.eligible()) {
        let doh = d.overhead();
        let dw = u64::from(d.effective_weight());
        match least {
            // Overhead < 2^41 and weight < 2^16: the products fit in u64.
            Some((_, loh, lw)) if loh.saturating_mul(dw) <= doh.saturating_mul(lw) => {}
            _ => least = Some((i, doh, dw)),
        }
    }
    least.map(|(i, _, _)| i)
}

/// How many table slots [`select_sh`] and [`select_maglev`] probe, with
/// `fallback`, before scanning the servers.
pub const FALLBACK_PROBES: usize = 256;

/// Looks `hash` up in a Maglev `table`; if that server is not eligible (the
/// table is stale) and `fallback` is set, probes the following slots (like
/// IPVS's sh-fallback/mh-fallback), then falls back to the
/// `hash % E`-th of the `E` eligible servers. Deterministic for a given
/// table, server list and hash.
fn table_select(dests: &[Dest], table: &[u16], hash: u32, fallback: bool) -> Option<usize> {
    let ok = |i: usize| dests.get(i).is_some_and(Dest::eligible);
    let len = table.len();
    if len != 0 {
        let start = rem_usize(hash, len);
        let probes = if fallback {
            len.min(FALLBACK_PROBES)
        } else {
            1
        };
        for p in 0..probes {
            let slot = add_mod(start, p, len);
            if let Some(&e) = table.get(slot) {
                if e != maglev::EMPTY && ok(usize::from(e)) {
                    return Some(usize::from(e));
                }
            }
        }
    }
    if !fallback {
        return None;
    }
    let count = count_eligible(dests);
    if count == 0 {
        return None;
    }
    nth_eligible(dests, rem_usize(hash, count))
}

/// The server a lookup table (Maglev's, or sh's) holds at `hash`'s slot,
/// eligible or not: whom the table meant the flow for.
pub fn table_owner(table: &[u16], hash: u32) -> Option<usize> {
    if table.is_empty() {
        return None;
    }
    let e = *table.get(rem_usize(hash, table.len()))?;
    (e != maglev::EMPTY).then_some(usize::from(e))
}

/// The hash [`select_sh`] uses: [`hash::jhash`] of the client address bytes
/// with `seed`. Append the source port to the bytes for IPVS's `sh-port`.
pub fn sh_hash(client: &[u8], seed: u32) -> u32 {
    hash::jhash(client, seed)
}

/// Source hashing: the client address (raw bytes, 4 or 16; any length works)
/// is hashed with `seed` and looked up in `table`, built by
/// [`super::maglev::populate`] from the same `dests`. Sticky: a client always
/// gets the same server while the table is unchanged, and directors with the
/// same servers, weights and seed agree. Each server gets a share of clients
/// proportional to its weight (the table's entries are); changing the server
/// set moves only about the changed share of clients (Maglev's minimal
/// disruption), unlike IPVS's modulo-style 256-bucket table.
///
/// If the table points at a server that is no longer eligible: `None` unless
/// `fallback` (IPVS's `sh-fallback`), then see [`select_maglev`].
pub fn select_sh(
    dests: &[Dest],
    table: &[u16],
    client: &[u8],
    seed: u32,
    fallback: bool,
) -> Option<usize> {
    table_select(dests, table, sh_hash(client, seed), fallback)
}

/// Maglev: looks `flow_hash` (e.g. [`hash::flow_hash`] of the 5-tuple with
/// the service's seed) up in `table`, built by [`super::maglev::populate`]
/// from the same `dests`: `table[flow_hash % M]`.
///
/// If that server is not eligible (the table is stale) the result is `None`
/// unless `fallback`; with it, the next [`FALLBACK_PROBES`] slots are tried,
/// then the `flow_hash % E`-th of the `E` eligible servers.
pub fn select_maglev(
    dests: &[Dest],
    table: &[u16],
    flow_hash: u32,
    fallback: bool,
) -> Option<usize> {
    table_select(dests, table, flow_hash, fallback)
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec;
    use std::vec::Vec;

    fn dest(n: u8, weight: u32) -> Dest {
        Dest {
            key: dest_key(&[10, 0, 0, n]).unwrap(),
            weight,
            active_conns: 0,
            inactive_conns: 0,
            available: true,
        }
    }

    fn select_lc(dests: &[Dest]) -> Option<usize> {
        select_lc_iter((0..dests.len()).zip(dests.iter().copied()))
    }

    fn select_wlc(dests: &[Dest]) -> Option<usize> {
        select_wlc_iter((0..dests.len()).zip(dests.iter().copied()))
    }

    fn counts(n: usize, picks: impl Iterator<Item = Option<usize>>) -> Vec<usize> {
        let mut c = vec![0; n];
        for p in picks {
            c[p.expect("a pick")] += 1;
        }
        c
    }

    /// Servers 0, 2 and 4 are eligible, 1 is drained, 3 unavailable.
    fn mixed() -> Vec<Dest> {
        let mut d = vec![dest(1, 5), dest(2, 0), dest(3, 1), dest(4, 7), dest(5, 2)];
        d[3].available = false;
        d
    }

    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self) -> u32 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (self.0 >> 32) as u32
        }
    }

    fn rr(d: &[Dest], c: &AtomicU32) -> Option<usize> {
        let order: Vec<u32> = rr_order(d).collect();
        select_rr(&order, c)
    }

    #[test]
    fn rr_is_exactly_even() {
        let d = vec![dest(1, 1), dest(2, 5), dest(3, 100), dest(4, 1)];
        let c = AtomicU32::new(0);
        assert_eq!(
            counts(4, (0..4000).map(|_| rr(&d, &c))),
            [1000; 4]
        );
        let d = mixed();
        let c = AtomicU32::new(0);
        assert_eq!(
            counts(5, (0..3000).map(|_| rr(&d, &c))),
            [1000, 0, 1000, 0, 1000]
        );
        // A counter from a longer list is fine.
        let c = AtomicU32::new(1000);
        assert!(rr(&d, &c).is_some());
        assert_eq!(rr(&[], &c), None);
    }

    #[test]
    fn rr_order_is_ipvs() {
        let d = mixed();
        let c = AtomicU32::new(0);
        let seq: Vec<_> = (0..6).map(|_| rr(&d, &c).unwrap()).collect();
        assert_eq!(seq, [0, 2, 4, 0, 2, 4]);
    }

    #[test]
    fn wrr_is_exactly_proportional() {
        let d = vec![dest(1, 1), dest(2, 2), dest(3, 3)];
        let mut st = WrrState::new();
        let seq: Vec<_> = (0..6).map(|_| select_wrr(&d, &mut st).unwrap()).collect();
        assert_eq!(seq, [2, 1, 2, 0, 1, 2]);
        assert_eq!(
            counts(3, (0..6000).map(|_| select_wrr(&d, &mut st))),
            [1000, 2000, 3000]
        );
        // gcd stepping: 20, 40, 60 cycles in 6 picks too.
        let d = vec![dest(1, 20), dest(2, 40), dest(3, 60)];
        let mut st = WrrState::new();
        assert_eq!(
            counts(3, (0..6).map(|_| select_wrr(&d, &mut st))),
            [1, 2, 3]
        );
        // Drained and unavailable servers get nothing; 5:1:2 over cycles of 8.
        let d = mixed();
        let mut st = WrrState::new();
        assert_eq!(
            counts(5, (0..8000).map(|_| select_wrr(&d, &mut st))),
            [5000, 0, 1000, 0, 2000]
        );
    }

    #[test]
    fn wrr_survives_changes() {
        let mut d = vec![dest(1, 3), dest(2, 3), dest(3, 3)];
        let mut st = WrrState::new();
        for _ in 0..5 {
            select_wrr(&d, &mut st).unwrap();
        }
        d.truncate(1);
        d[0].weight = 1;
        assert_eq!(select_wrr(&d, &mut st), Some(0));
        d[0].weight = 0;
        assert_eq!(select_wrr(&d, &mut st), None);
        assert_eq!(select_wrr(&[], &mut st), None);
    }

    #[test]
    fn the_table_owner_is_whom_the_slot_names_eligible_or_not() {
        let mut d = vec![dest(1, 1), dest(2, 1), dest(3, 1)];
        let mut table = vec![0u16; 251];
        let mut scratch = vec![maglev::Scratch::default(); d.len()];
        maglev::populate(&d, 7, &mut table, &mut scratch).unwrap();
        assert_eq!(table_owner(&[], 5), None);
        let mut rng = Lcg(3);
        for _ in 0..1000 {
            let h = rng.next();
            assert_eq!(table_owner(&table, h), select_maglev(&d, &table, h, false));
        }
        // Server 1 unresolved: the owner stays, the fallback moves on.
        d[1].available = false;
        let h = (0..).find(|h| table_owner(&table, *h) == Some(1)).unwrap();
        assert_eq!(table_owner(&table, h), Some(1));
        assert_ne!(select_maglev(&d, &table, h, true), Some(1));
        assert_eq!(table_owner(&[maglev::EMPTY], h), None);
    }

    #[test]
    fn never_ineligible() {
        let mut d = mixed();
        // Make the ineligible ones look the most attractive to lc/wlc.
        for (i, x) in d.iter_mut().enumerate() {
            x.active_conns = if x.eligible() { 100 + i as u32 } else { 0 };
        }
        let table_len = 251;
        let mut table = vec![0u16; table_len];
        let mut scratch = vec![maglev::Scratch::default(); d.len()];
        maglev::populate(&d, 7, &mut table, &mut scratch).unwrap();
        let mut st = WrrState::new();
        let c = AtomicU32::new(0);
        let mut rng = Lcg(1);
        for _ in 0..10_000 {
            let h = rng.next();
            let picks = [
                rr(&d, &c),
                select_wrr(&d, &mut st),
                select_lc(&d),
                select_wlc(&d),
                select_sh(&d, &table, &h.to_be_bytes(), 3, false),
                select_maglev(&d, &table, h, false),
                select_maglev(&d, &table, h, true),
            ];
            for p in picks {
                let p = p.unwrap();
                assert!(d[p].eligible(), "picked {p}");
            }
        }
        // Nothing eligible: every scheduler says None.
        for x in d.iter_mut() {
            x.weight = 0;
        }
        assert_eq!(rr(&d, &c), None);
        assert_eq!(select_wrr(&d, &mut st), None);
        assert_eq!(select_lc(&d), None);
        assert_eq!(select_wlc(&d), None);
        assert_eq!(select_sh(&d, &table, &[1, 2, 3, 4], 3, true), None);
        assert_eq!(select_maglev(&d, &table, 12345, true), None);
        assert_eq!(select_maglev(&d, &[], 12345, true), None);
    }

    #[test]
    fn lc_uses_ipvs_overhead() {
        // overhead = active * 256 + inactive
        let mut d = vec![dest(1, 1), dest(2, 1), dest(3, 1)];
        d[0].active_conns = 1; // 256
        d[1].inactive_conns = 255; // 255
        d[2].active_conns = 0;
        d[2].inactive_conns = 300; // 300
        assert_eq!(d[0].overhead(), 256);
        assert_eq!(select_lc(&d), Some(1));
        d[1].inactive_conns = 256; // tie with d[0]: the first wins
        assert_eq!(select_lc(&d), Some(0));
        // Weights do not matter to lc, except 0.
        d[0].weight = 100;
        d[1].weight = 0;
        d[1].inactive_conns = 0;
        assert_eq!(select_lc(&d), Some(0));
    }

    #[test]
    fn wlc_uses_ipvs_cross_multiplication() {
        // A: w=1, 1 active (256); B: w=3, 2 active + 10 inactive (522).
        // 256/1 > 522/3 = 174, so B, as IPVS: 256*3 = 768 > 522*1.
        let mut d = vec![dest(1, 1), dest(2, 3)];
        d[0].active_conns = 1;
        d[1].active_conns = 2;
        d[1].inactive_conns = 10;
        assert_eq!(select_wlc(&d), Some(1));
        // B: 3 active (768) = exact tie with 256*3: keep the first, like IPVS.
        d[1].active_conns = 3;
        d[1].inactive_conns = 0;
        assert_eq!(select_wlc(&d), Some(0));
        d[1].inactive_conns = 1;
        assert_eq!(select_wlc(&d), Some(0));
        // Extremes do not overflow.
        d[0].active_conns = u32::MAX;
        d[0].inactive_conns = u32::MAX;
        d[0].weight = u32::MAX;
        d[1].active_conns = u32::MAX;
        d[1].weight = 1;
        assert_eq!(select_wlc(&d), Some(0));
        // All idle: the first eligible.
        let d = vec![dest(1, 0), dest(2, 5), dest(3, 9)];
        assert_eq!(select_wlc(&d), Some(1));
    }

    #[test]
    fn wlc_matches_brute_force() {
        let mut rng = Lcg(42);
        for _ in 0..2000 {
            let d: Vec<Dest> = (0..6)
                .map(|i| {
                    let mut x = dest(i, rng.next() % 5);
                    x.active_conns = rng.next() % 4;
                    x.inactive_conns = rng.next() % 600;
                    x.available = !rng.next().is_multiple_of(8);
                    x
                })
                .collect();
            // min overhead/weight as a fraction; first index on ties.
            let best = d
                .iter()
                .enumerate()
                .filter(|(_, x)| x.eligible())
                .min_by(|(_, a), (_, b)| {
                    (a.overhead() as u128 * b.weight as u128)
                        .cmp(&(b.overhead() as u128 * a.weight as u128))
                })
                .map(|(i, _)| i);
            assert_eq!(select_wlc(&d), best);
        }
    }

    #[test]
    fn sh_is_sticky_and_weighted() {
        let weights = [1u32, 2, 3, 4, 0];
        let d: Vec<Dest> = weights
            .iter()
            .enumerate()
            .map(|(i, &w)| dest(i as u8, w))
            .collect();
        let mut table = vec![0u16; maglev::DEFAULT_TABLE_SIZE];
        let mut scratch = vec![maglev::Scratch::default(); d.len()];
        maglev::populate(&d, 0xfeed, &mut table, &mut scratch).unwrap();
        let mut rng = Lcg(7);
        let n = 100_000;
        let mut c = [0usize; 5];
        for _ in 0..n {
            let client = rng.next().to_be_bytes();
            let p = select_sh(&d, &table, &client, 0xfeed, false).unwrap();
            for _ in 0..3 {
                assert_eq!(select_sh(&d, &table, &client, 0xfeed, false), Some(p));
            }
            c[p] += 1;
        }
        let total: u32 = weights.iter().sum();
        std::println!("sh over {n} clients, weights {weights:?}: {c:?}");
        for (i, &w) in weights.iter().enumerate() {
            let expect = n as f64 * w as f64 / total as f64;
            let got = c[i] as f64;
            assert!(
                (got - expect).abs() <= 0.03 * n as f64 / total as f64 * w.max(1) as f64,
                "dest {i}: {got} vs {expect}"
            );
        }
        assert_eq!(c[4], 0);
    }

    #[test]
    fn table_fallback() {
        let mut d = vec![dest(1, 1), dest(2, 1), dest(3, 1)];
        let mut table = vec![0u16; 251];
        let mut scratch = vec![maglev::Scratch::default(); 3];
        maglev::populate(&d, 1, &mut table, &mut scratch).unwrap();
        let h = (0..)
            .find(|&h| select_maglev(&d, &table, h, false) == Some(1))
            .unwrap();
        d[1].available = false; // stale table
        assert_eq!(select_maglev(&d, &table, h, false), None);
        let p = select_maglev(&d, &table, h, true).unwrap();
        assert_ne!(p, 1);
        assert_eq!(select_maglev(&d, &table, h, true), Some(p));
        // A table with no entries for eligible servers: scan fallback.
        let table = vec![1u16; 251];
        assert!(select_maglev(&d, &table, h, true).is_some());
        assert_eq!(select_maglev(&d, &table, h, false), None);
        let table = vec![maglev::EMPTY; 7];
        assert!(select_maglev(&d, &table, h, true).is_some());
    }

    #[test]
    fn names_and_keys() {
        for s in Scheduler::ALL {
            assert_eq!(Scheduler::from_name(s.name().as_bytes()), Some(s));
        }
        assert_eq!(Scheduler::from_name(b"mh"), Some(Scheduler::Maglev));
        assert_eq!(Scheduler::from_name(b"lblc"), None);
        assert_eq!(
            dest_key(&[192, 0, 2, 1]),
            Some([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1])
        );
        assert_eq!(dest_key(&[1; 16]), Some([1; 16]));
        assert_eq!(dest_key(&[1; 5]), None);
    }
}
