//! Weighted Maglev consistent hashing (Eisenbud et al., "Maglev: A Fast and
//! Reliable Software Network Load Balancer", NSDI 2016, §3.4).
//!
//! [`populate`] fills a lookup table of prime size `M` with indexes into the
//! caller's [`Dest`] slice; a flow goes to `table[hash % M]`
//! (`super::sched::select_maglev`).
//! Each eligible server has a permutation of the slots, `offset + j * skip
//! (mod M)`, with `offset` and `skip` derived from [`Dest::key`] and the seed
//! by [`super::hash::jhash`]; servers take turns claiming their next free
//! preferred slot until the table is full.
//!
//! Weights, as in Katran's weighted Maglev: each round every server adds its
//! weight to a credit and takes a turn only when the credit reaches the
//! highest weight, so the entries per server are proportional to its weight.
//! Servers that are unavailable or have weight 0 get no entries.
//!
//! Determinism across directors: servers are sorted by `(key, weight)` into
//! a canonical order before filling, so the owner of every slot (as a key)
//! depends only on the set of `(key, weight)` pairs, the seed and `M` — not
//! on the order of the input slice. The table holds input-slice indexes, so
//! two directors whose slices list the servers in different orders hold
//! different numbers but route every flow to the same server (the tests
//! compare such tables by owner).
//!
//! Cost: O(M log M) time, in process context, whenever the server set or a
//! weight or availability changes; lookups are O(1).

use super::hash::jhash;
use super::sched::{count_eligible, eligible, Dest};

/// The default table size: a prime, large enough for about 650 servers
/// within 1% of their fair share (the paper recommends `M >= 100 * N`).
pub const DEFAULT_TABLE_SIZE: usize = 65537;

/// A table slot without an owner (only left when [`populate`] fails).
pub const EMPTY: u16 = u16::MAX;

/// The most servers a table can index (every index but [`EMPTY`]).
pub const MAX_DESTS: usize = EMPTY as usize;

/// The largest accepted table size: slot arithmetic stays in `u32`.
pub const MAX_TABLE_SIZE: usize = 1 << 31;

/// Seed perturbations for the two per-server hashes.
const OFFSET_SEED: u32 = 0x6d61_676c; // "magl"
const SKIP_SEED: u32 = 0x6576_3132; // "ev12"

/// Why [`populate`] failed. The table is then all [`EMPTY`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// The table's length is not a prime (or exceeds [`MAX_TABLE_SIZE`]).
    SizeNotPrime,
    /// More servers than [`MAX_DESTS`].
    TooManyDests,
    /// The scratch slice is shorter than the number of eligible servers.
    ScratchTooSmall,
    /// The table has fewer slots than there are eligible servers.
    TableTooSmall,
    /// No server is available with a weight above 0.
    NoEligibleDest,
}

/// Per-server working state for [`populate`]; the caller provides a slice
/// with one element per eligible server (`Scratch::default()` elements; the
/// contents on entry do not matter).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Scratch {
    idx: u16,
    weight: u32,
    key: u128,
    pos: u32,
    skip: u32,
    credit: u32,
}

/// Whether `n` is a prime (trial division; fast for table sizes).
pub fn is_prime(n: usize) -> bool {
    if n < 4 {
        return n >= 2;
    }
    if n.is_multiple_of(2) || n.is_multiple_of(3) {
        return false;
    }
    let mut i: usize = 5;
    while let Some(sq) = i.checked_mul(i) {
        if sq > n {
            break;
        }
        if n.is_multiple_of(i) || n.is_multiple_of(i.wrapping_add(2)) {
            return false;
        }
        match i.checked_add(6) {
            Some(next) => i = next,
            None => break,
        }
    }
    true
}

/// The smallest prime `>= n`, if there is one below [`MAX_TABLE_SIZE`].
pub fn next_prime(n: usize) -> Option<usize> {
    (n.max(2)..=MAX_TABLE_SIZE).find(|&p| is_prime(p))
}

/// A table size for `n_dests` servers: [`DEFAULT_TABLE_SIZE`], or the
/// smallest prime `>= 100 * n_dests` when that is larger.
pub fn table_size_for(n_dests: usize) -> usize {
    let want = n_dests.saturating_mul(100);
    if want <= DEFAULT_TABLE_SIZE {
        return DEFAULT_TABLE_SIZE;
    }
    next_prime(want).unwrap_or(DEFAULT_TABLE_SIZE)
}

/// `a % b`, 0 when `b` is 0 (never the case where used).
fn rem(a: u32, b: u32) -> u32 {
    a.checked_rem(b).unwrap_or(0)
}

/// Sorts `s` by `(key, weight)` in place: heapsort, no allocation.
fn sort_canonical(s: &mut [Scratch]) {
    fn less(a: &Scratch, b: &Scratch) -> bool {
        (a.key, a.weight) < (b.key, b.weight)
    }
    fn sift_down(s: &mut [Scratch], mut root: usize, end: usize) {
        loop {
            let Some(mut child) = root.checked_mul(2).and_then(|c| c.checked_add(1)) else {
                return;
            };
            if child >= end {
                return;
            }
            let right = child.saturating_add(1);
            if right < end {
                if let (Some(l), Some(r)) = (s.get(child), s.get(right)) {
                    if less(l, r) {
                        child = right;
                    }
                }
            }
            match (s.get(root), s.get(child)) {
                (Some(r), Some(c)) if less(r, c) => s.swap(root, child),
                _ => return,
            }
            root = child;
        }
    }
    let n = s.len();
    for start in (0..n / 2).rev() {
        sift_down(s, start, n);
    }
    for end in (1..n).rev() {
        if end < s.len() {
            s.swap(0, end);
        }
        sift_down(s, 0, end);
    }
}

/// Fills `table` (its length is `M`, a prime) for `dests` with `seed`.
/// `scratch` needs one element per eligible server. Returns the number of
/// eligible servers.
///
/// Every slot gets the input index of an eligible server; each server's
/// share of slots is proportional to its weight (capped at
/// [`super::sched::MAX_WEIGHT`]). On error the table is left all [`EMPTY`],
/// which [`lookup`] treats as "no server".
pub fn populate(
    dests: &[Dest],
    seed: u32,
    table: &mut [u16],
    scratch: &mut [Scratch],
) -> Result<usize, Error> {
    table.fill(EMPTY);
    let m = table.len();
    if m > MAX_TABLE_SIZE || !is_prime(m) {
        return Err(Error::SizeNotPrime);
    }
    if dests.len() > MAX_DESTS {
        return Err(Error::TooManyDests);
    }
    let n = count_eligible(dests);
    if n == 0 {
        return Err(Error::NoEligibleDest);
    }
    if n > scratch.len() {
        return Err(Error::ScratchTooSmall);
    }
    if n > m {
        return Err(Error::TableTooSmall);
    }
    // m is a prime <= 2^31 (so >= 2): fits u32, and m - 1 >= 1.
    let m32 = u32::try_from(m).map_err(|_| Error::SizeNotPrime)?;
    let slots = scratch.iter_mut();
    for (s, (i, d)) in slots.zip(eligible(dests)) {
        *s = Scratch {
            idx: u16::try_from(i).map_err(|_| Error::TooManyDests)?,
            weight: d.effective_weight(),
            key: u128::from_be_bytes(d.key),
            pos: rem(jhash(&d.key, seed ^ OFFSET_SEED), m32),
            skip: rem(jhash(&d.key, seed ^ SKIP_SEED), m32.saturating_sub(1)).saturating_add(1),
            credit: 0,
        };
    }
    let servers = scratch.get_mut(..n).ok_or(Error::ScratchTooSmall)?;
    sort_canonical(servers);
    let max_weight = servers.iter().map(|s| s.weight).max().unwrap_or(0);

    let mut filled = 0usize;
    // The highest-weight server claims a slot every round, so at most m
    // rounds; the bound only guards against a bug looping forever.
    'rounds: for _ in 0..m {
        for s in servers.iter_mut() {
            // Both <= MAX_WEIGHT, credit stays < 2 * MAX_WEIGHT.
            s.credit = s.credit.saturating_add(s.weight);
            if s.credit < max_weight {
                continue;
            }
            s.credit = s.credit.saturating_sub(max_weight);
            // The permutation visits every slot once per m steps (m prime,
            // 0 < skip < m), so a free slot turns up within m steps.
            for _ in 0..m {
                let slot = s.pos as usize;
                // pos, skip < m <= 2^31: the sum fits in u32.
                s.pos = rem(s.pos.wrapping_add(s.skip), m32);
                if let Some(e) = table.get_mut(slot) {
                    if *e == EMPTY {
                        *e = s.idx;
                        filled = filled.saturating_add(1);
                        break;
                    }
                }
            }
            if filled >= m {
                break 'rounds;
            }
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::super::sched::dest_key;
    use super::*;
    use std::println;
    use std::vec;
    use std::vec::Vec;

    /// The server index for `hash`: `table[hash % M]`; `None` for an empty table
    /// or an [`EMPTY`] slot. The caller still checks that the server is eligible
    /// (the table may be stale): `super::sched::select_maglev` does.
    fn lookup(table: &[u16], hash: u32) -> Option<usize> {
        let slot = (hash as usize).checked_rem(table.len())?;
        match table.get(slot) {
            Some(&e) if e != EMPTY => Some(usize::from(e)),
            _ => None,
        }
    }

    /// A digest of which server (by key) owns each slot: equal on two directors
    /// exactly when their tables route every hash to the same server, whatever
    /// the order of their `dests` slices.
    fn fingerprint(table: &[u16], dests: &[Dest]) -> u32 {
        let mut h = jhash(&(table.len() as u64).to_le_bytes(), 0);
        for &e in table {
            let key = dests.get(usize::from(e)).map_or([0xff; 16], |d| d.key);
            h = jhash(&key, h);
        }
        h
    }

    fn dest(n: u32, weight: u32) -> Dest {
        Dest {
            key: dest_key(&(0x0a00_0000 + n).to_be_bytes()).unwrap(),
            weight,
            active_conns: 0,
            inactive_conns: 0,
            available: true,
        }
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

    fn build(d: &[Dest], seed: u32, m: usize) -> Vec<u16> {
        let mut t = vec![0u16; m];
        let mut s = vec![Scratch::default(); d.len()];
        populate(d, seed, &mut t, &mut s).unwrap();
        t
    }

    /// The table as owner keys: comparable whatever the input order.
    fn owners(t: &[u16], d: &[Dest]) -> Vec<[u8; 16]> {
        t.iter().map(|&e| d[e as usize].key).collect()
    }

    #[test]
    fn primes() {
        let small: Vec<usize> = (0..40).filter(|&n| is_prime(n)).collect();
        assert_eq!(small, [2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37]);
        for p in [251, 4093, 65521, 65537, 1_000_003, 2_147_483_647] {
            assert!(is_prime(p), "{p}");
        }
        for c in [65535, 65536, 25, 49, 4097, 1_000_001, usize::MAX] {
            assert!(!is_prime(c), "{c}");
        }
        assert_eq!(next_prime(65536), Some(65537));
        assert_eq!(next_prime(0), Some(2));
        assert_eq!(table_size_for(10), 65537);
        assert_eq!(table_size_for(1000), 100_003);
    }

    #[test]
    fn errors() {
        let d = vec![dest(1, 1), dest(2, 1)];
        let mut s = vec![Scratch::default(); 2];
        let mut t = vec![7u16; 65536];
        assert_eq!(populate(&d, 0, &mut t, &mut s), Err(Error::SizeNotPrime));
        assert!(t.iter().all(|&e| e == EMPTY));
        assert_eq!(populate(&d, 0, &mut [], &mut s), Err(Error::SizeNotPrime));
        let mut t = vec![0u16; 251];
        assert_eq!(
            populate(&d, 0, &mut t, &mut s[..1]),
            Err(Error::ScratchTooSmall)
        );
        assert_eq!(
            populate(&d, 0, &mut t[..1], &mut s),
            Err(Error::SizeNotPrime)
        );
        let three = vec![dest(1, 1), dest(2, 1), dest(3, 1)];
        let mut s3 = vec![Scratch::default(); 3];
        assert_eq!(
            populate(&three, 0, &mut t[..2], &mut s3),
            Err(Error::TableTooSmall)
        );
        assert_eq!(populate(&[], 0, &mut t, &mut s), Err(Error::NoEligibleDest));
        let mut z = d.clone();
        z[0].weight = 0;
        z[1].available = false;
        assert_eq!(populate(&z, 0, &mut t, &mut s), Err(Error::NoEligibleDest));
        assert_eq!(lookup(&t, 5), None);
        assert_eq!(lookup(&[], 5), None);
        let many = vec![dest(1, 1); MAX_DESTS + 1];
        assert_eq!(populate(&many, 0, &mut t, &mut s), Err(Error::TooManyDests));
        // Ineligible servers need no scratch.
        let mut t = vec![0u16; 3];
        assert_eq!(populate(&z, 0, &mut t, &mut []), Err(Error::NoEligibleDest));
        z[0].weight = 1;
        assert_eq!(populate(&z, 0, &mut t, &mut s[..1]), Ok(1));
        assert_eq!(t, [0, 0, 0]);
    }

    #[test]
    fn full_and_weighted_for_several_sizes() {
        let weights = [1u32, 2, 3, 4, 0, 10];
        let mut d: Vec<Dest> = weights
            .iter()
            .enumerate()
            .map(|(i, &w)| dest(i as u32, w))
            .collect();
        d.push(Dest {
            available: false,
            ..dest(99, 5)
        });
        let total: u32 = weights.iter().sum();
        for m in [251usize, 4093, 65537] {
            let t = build(&d, 1, m);
            let mut c = vec![0usize; d.len()];
            for &e in &t {
                c[e as usize] += 1;
            }
            println!("M={m}: entries per dest (weights {weights:?}, unavailable w5) = {c:?}");
            assert_eq!(c.iter().sum::<usize>(), m);
            assert_eq!(c[4], 0);
            assert_eq!(c[6], 0);
            for (i, &w) in weights.iter().enumerate().filter(|(_, &w)| w > 0) {
                let ideal = m as f64 * w as f64 / total as f64;
                let tol = if m >= 4093 { 0.02 } else { 0.15 };
                assert!(
                    ((c[i] as f64) - ideal).abs() <= tol * ideal + 1.0,
                    "M={m} dest {i}: {} vs {ideal}",
                    c[i]
                );
            }
        }
        // Tiny tables work too: M = 2, 3 with 2 servers.
        for m in [2, 3] {
            let t = build(&d[..2], 5, m);
            assert!(t.iter().all(|&e| e < 2));
        }
    }

    #[test]
    fn distribution_and_stickiness_over_keys() {
        let weights = [5u32, 1, 1, 3];
        let d: Vec<Dest> = weights
            .iter()
            .enumerate()
            .map(|(i, &w)| dest(i as u32, w))
            .collect();
        let t = build(&d, 99, DEFAULT_TABLE_SIZE);
        let mut rng = Lcg(3);
        let n = 100_000;
        let mut c = [0usize; 4];
        for _ in 0..n {
            let h = jhash(&rng.next().to_le_bytes(), 99);
            let p = lookup(&t, h).unwrap();
            assert_eq!(lookup(&t, h), Some(p));
            c[p] += 1;
        }
        println!("maglev over {n} keys, weights {weights:?}: {c:?}");
        for (i, &w) in weights.iter().enumerate() {
            let ideal = n as f64 * w as f64 / 10.0;
            assert!(
                ((c[i] as f64) - ideal).abs() < 0.03 * ideal,
                "dest {i}: {} vs {ideal}",
                c[i]
            );
        }
    }

    #[test]
    fn independent_of_input_order() {
        let mut d: Vec<Dest> = (0..12).map(|i| dest(i * 7, 1 + i % 4)).collect();
        d[3].weight = 0;
        d[5].available = false;
        let base = build(&d, 42, 4093);
        let base_owners = owners(&base, &d);
        let mut rng = Lcg(11);
        for _ in 0..20 {
            // Fisher-Yates shuffle.
            let mut sh = d.clone();
            for i in (1..sh.len()).rev() {
                let j = rng.next() as usize % (i + 1);
                sh.swap(i, j);
            }
            let t = build(&sh, 42, 4093);
            assert_eq!(owners(&t, &sh), base_owners);
            assert_eq!(fingerprint(&t, &sh), fingerprint(&base, &d));
        }
        // Same order: byte-identical.
        assert_eq!(build(&d, 42, 4093), base);
        // Another seed: another table.
        let other = build(&d, 43, 4093);
        assert_ne!(owners(&other, &d), base_owners);
        assert_ne!(fingerprint(&other, &d), fingerprint(&base, &d));
        let changed = base.iter().zip(&other).filter(|(a, b)| a != b).count();
        println!("seed 42 vs 43: {changed}/4093 slots differ");
        assert!(changed > 4093 / 2);
    }

    /// Slots whose owner (by key) differs between two tables, and of those,
    /// the ones whose old owner is still present in the new set.
    fn diff(t1: &[u16], d1: &[Dest], t2: &[u16], d2: &[Dest]) -> (usize, usize) {
        let (o1, o2) = (owners(t1, d1), owners(t2, d2));
        let changed = o1.iter().zip(&o2).filter(|(a, b)| a != b).count();
        let needless = o1
            .iter()
            .zip(&o2)
            .filter(|(a, b)| a != b && d2.iter().any(|d| d.key == **a))
            .count();
        (changed, needless)
    }

    #[test]
    fn disruption_remove_and_add() {
        let n = 10;
        let m = DEFAULT_TABLE_SIZE;
        let mut worst_remove: f64 = 0.0;
        let mut worst_add: f64 = 0.0;
        for seed in [0u32, 1, 0xdead_beef] {
            let d: Vec<Dest> = (0..n).map(|i| dest(i, 100)).collect();
            let t = build(&d, seed, m);
            for removed in [0usize, 4, 9] {
                let mut d2 = d.clone();
                d2.remove(removed);
                let t2 = build(&d2, seed, m);
                let (changed, needless) = diff(&t, &d, &t2, &d2);
                let frac = changed as f64 / m as f64;
                let extra = needless as f64 / m as f64;
                println!(
                    "remove 1 of {n} (seed {seed:#x}, dest {removed}): {changed}/{m} = {:.4} changed (ideal {:.4}), \
                     of which {needless} = {:.4} belonged to surviving dests",
                    frac,
                    1.0 / n as f64,
                    extra
                );
                assert!(frac < 1.5 / n as f64);
                assert!(extra < 0.01);
                worst_remove = worst_remove.max(frac);
                // Draining by weight 0 is the same as removing.
                let mut d3 = d.clone();
                d3[removed].weight = 0;
                assert_eq!(owners(&build(&d3, seed, m), &d3), owners(&t2, &d2));
            }
            let mut d4 = d.clone();
            d4.insert(3, dest(1000, 100));
            let t4 = build(&d4, seed, m);
            let (changed, _) = diff(&t, &d, &t4, &d4);
            let gained = owners(&t4, &d4).iter().filter(|k| **k == d4[3].key).count();
            let frac = changed as f64 / m as f64;
            println!(
                "add an 11th (seed {seed:#x}): {changed}/{m} = {:.4} changed (ideal {:.4}), new dest got {gained}, \
                 {} = {:.4} moved between old dests",
                frac,
                1.0 / (n + 1) as f64,
                changed - gained,
                (changed - gained) as f64 / m as f64
            );
            assert!(frac < 1.5 / (n + 1) as f64);
            assert!(((changed - gained) as f64 / m as f64) < 0.01);
            worst_add = worst_add.max(frac);
        }
        println!(
            "worst: remove {worst_remove:.4} (ideal {:.4}), add {worst_add:.4} (ideal {:.4})",
            0.1,
            1.0 / 11.0
        );
    }

    #[test]
    fn heapsort_sorts() {
        let mut rng = Lcg(5);
        for len in 0..40 {
            let mut v: Vec<Scratch> = (0..len)
                .map(|i| Scratch {
                    idx: i as u16,
                    key: u128::from(rng.next() % 16),
                    weight: rng.next() % 3,
                    ..Scratch::default()
                })
                .collect();
            sort_canonical(&mut v);
            assert!(v
                .windows(2)
                .all(|w| (w[0].key, w[0].weight) <= (w[1].key, w[1].weight)));
            let mut idx: Vec<u16> = v.iter().map(|s| s.idx).collect();
            idx.sort();
            assert_eq!(idx, (0..len as u16).collect::<Vec<_>>());
        }
    }
}
