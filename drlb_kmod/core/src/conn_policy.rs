//! The connection table's policy: when entries die, which one gives way
//! when the table is full, and when new flows go without state (flood mode).
//!
//! The module's table (`drlb_kmod/conn.rs`) is an RCU hash whose chains are
//! locked one at a time; it runs [`insert`] with a chain adapter, so the
//! policy tested here is the one the kernel runs. Times are 32-bit ticks
//! (jiffies) that wrap; every comparison goes through [`after`].

use core::sync::atomic::{AtomicU32, Ordering::Relaxed};

/// The longest timeout or persistence, in seconds: 24 days. Expiry times
/// are compared as 32-bit jiffies, which works for spans under 2^31 ticks
/// (24.8 days at HZ=1000).
pub const MAX_TIMEOUT_S: u32 = 24 * 24 * 3600;

/// The largest connection-table bound a namespace may set (the `conn_max`
/// module parameter, `drlb-tool limits --conn-max`): 4 Mi entries (2^22),
/// 16 times the default of 2^18. At 64 bytes an entry that is 256 MiB of
/// entries per namespace; the bound exists so that a namespace, which may
/// belong to an unprivileged user namespace, cannot ask for unbounded kernel
/// memory. (IPVS's table stops at 2^20 chains.)
pub const MAX_CONN: u32 = 1 << 22;

/// A valid connection-table bound: 1 to [`MAX_CONN`].
pub fn valid_conn_max(n: u32) -> bool {
    (1..=MAX_CONN).contains(&n)
}

/// The most entries a chain holds on average when the table is full.
pub const MAX_CHAIN_LOAD: u32 = 2;
/// The fewest chains a table has, as a power of two (256): a namespace
/// without services keeps its table this small (2 KiB of chain heads).
pub const MIN_TABLE_BITS: u32 = 8;
/// The chains for a table of [`MAX_CONN`], as a power of two (2 Mi chains,
/// 16 MiB of chain heads).
pub const MAX_TABLE_BITS: u32 = 21;

/// The chains (as a power of two) for a table bounded at `conn_max`
/// entries: the fewest with which a full table averages at most
/// [`MAX_CHAIN_LOAD`] entries a chain, and no fewer than
/// [`MIN_TABLE_BITS`]. The default bound, 2^18, gets 2^17 chains (1 MiB of
/// chain heads); a bound above [`MAX_CONN`] gets [`MAX_TABLE_BITS`].
pub fn table_bits(conn_max: u32) -> u32 {
    // (at most 2^31 chains wanted, so the power of two fits in a u32)
    let chains = conn_max.div_ceil(MAX_CHAIN_LOAD).next_power_of_two();
    chains
        .trailing_zeros()
        .clamp(MIN_TABLE_BITS, MAX_TABLE_BITS)
}

/// A valid `conn_table_bits` module parameter: 0 (the chains follow the
/// bound, [`table_bits`]), or a fixed `2^bits` chains, [`MIN_TABLE_BITS`]
/// to [`MAX_TABLE_BITS`], like IPVS's `conn_tab_bits`.
pub fn valid_fixed_bits(bits: u32) -> bool {
    bits == 0 || (MIN_TABLE_BITS..=MAX_TABLE_BITS).contains(&bits)
}

/// The chains (as a power of two) of a table bounded at `conn_max` whose
/// `conn_table_bits` parameter is `fixed` (valid): the fixed count, or the
/// one the bound calls for.
pub fn chains_bits(conn_max: u32, fixed: u32) -> u32 {
    if fixed == 0 {
        table_bits(conn_max)
    } else {
        fixed
    }
}

/// `a` is after `b` in wrapping 32-bit time (the kernel's `time_after`).
#[inline]
pub fn after(a: u32, b: u32) -> bool {
    (b.wrapping_sub(a) as i32) < 0
}

/// An entry that expires at `expires` is dead at `now`.
#[inline]
pub fn expired(now: u32, expires: u32) -> bool {
    after(now, expires)
}

/// A timeout in seconds is valid: 1 to [`MAX_TIMEOUT_S`].
pub fn valid_timeout(secs: u32) -> bool {
    (1..=MAX_TIMEOUT_S).contains(&secs)
}

/// One chain of the table, as the policy sees it.
pub trait Chain {
    /// What the chain holds.
    type Entry;
    /// The entries (newest first, except those a resize of the table moved;
    /// nothing here depends on the order).
    fn entries(&self) -> impl Iterator<Item = &Self::Entry>;
    /// Unlinks every entry `keep` rejects (the table's count goes down with
    /// each); returns how many went.
    fn retain(&mut self, keep: impl FnMut(&Self::Entry) -> bool) -> usize;
    /// When an entry expires.
    fn expires(e: &Self::Entry) -> u32;
}

/// Why an insert did not happen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    /// The table is at its bound and the chain has nothing to give: the
    /// flow goes on without state.
    Full,
}

/// What [`insert`] did; `R` is what `add` returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Inserted<R> {
    /// A live entry for the key was already there (another CPU made it).
    Existing,
    /// A new entry, in free room.
    New(R),
    /// A new entry, in place of the chain's entry nearest expiry.
    Evicted(R),
}

/// Inserts into `chain` of a table holding `count()` of at most `max`
/// entries, IPVS-style but bounded:
/// 1. the chain's expired entries, and those `stale` picks (flows of a
///    deleted real server), are unlinked;
/// 2. a live entry that `same` matches wins: nothing is added;
/// 3. at the bound, the chain's entry nearest expiry (the least recently
///    used, since every packet extends its entry) gives way; an empty chain
///    has nothing to give and the insert is refused;
/// 4. `add` links the new entry.
///
/// `count` is read after each step, as the chain's unlinks change it.
pub fn insert<C: Chain, R>(
    chain: &mut C,
    now: u32,
    max: u32,
    count: impl Fn() -> u32,
    stale: impl Fn(&C::Entry) -> bool,
    same: impl Fn(&C::Entry) -> bool,
    add: impl FnOnce(&mut C) -> R,
) -> Result<Inserted<R>, Refused> {
    chain.retain(|e| !expired(now, C::expires(e)) && !stale(e));
    if chain.entries().any(same) {
        return Ok(Inserted::Existing);
    }
    let mut evicted = false;
    if count() >= max {
        let oldest = chain
            .entries()
            .reduce(|a, e| {
                if after(C::expires(a), C::expires(e)) {
                    e
                } else {
                    a
                }
            })
            .ok_or(Refused::Full)? as *const C::Entry;
        chain.retain(|e| !core::ptr::eq(e, oldest));
        evicted = true;
    }
    let r = add(chain);
    Ok(if evicted {
        Inserted::Evicted(r)
    } else {
        Inserted::New(r)
    })
}

/// Counts new connections in windows of fixed length and says when their
/// rate passes a limit (flood mode): within the window, so a burst is
/// caught while it lasts, as Katran does. Lock-free; a race at a window's
/// edge loses at most a few counts.
pub struct FloodMeter {
    start: AtomicU32,
    count: AtomicU32,
}

impl FloodMeter {
    /// A meter whose first window starts at the first count.
    pub const fn new() -> Self {
        Self {
            start: AtomicU32::new(0),
            count: AtomicU32::new(0),
        }
    }

    /// Whether `now` falls outside the window that opened at `start`: a
    /// window or more after it, or more than a window before it. (A meter
    /// that never counted has `start` 0; after boot the clock reads about
    /// five minutes before that, INITIAL_JIFFIES, and must still roll.)
    fn outside(now: u32, start: u32, window: u32) -> bool {
        let age = now.wrapping_sub(start) as i32;
        let w = i32::try_from(window).unwrap_or(i32::MAX);
        age >= w || age < -w
    }

    /// Counts one new connection at `now` in windows of `window` ticks;
    /// returns whether more than `limit` arrived in the current window
    /// (flood mode). A `limit` of 0 never floods.
    pub fn count_new(&self, now: u32, window: u32, limit: u32) -> bool {
        if Self::outside(now, self.start.load(Relaxed), window) {
            self.start.store(now, Relaxed);
            self.count.store(0, Relaxed);
        }
        let n = self.count.fetch_add(1, Relaxed).saturating_add(1);
        limit != 0 && n > limit
    }

    /// Whether flood mode is engaged at `now`, without counting.
    pub fn engaged(&self, now: u32, window: u32, limit: u32) -> bool {
        let current = !Self::outside(now, self.start.load(Relaxed), window);
        limit != 0 && current && self.count.load(Relaxed) > limit
    }
}

impl Default for FloodMeter {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use core::cell::Cell;
    use std::vec::Vec;

    /// A bounded table of `chains` chains over [`insert`], like the
    /// module's: entries are (key, expires).
    struct Table {
        chains: Vec<Vec<(u32, u32)>>,
        count: Cell<u32>,
        max: u32,
    }

    struct ChainRef<'a> {
        v: &'a mut Vec<(u32, u32)>,
        count: &'a Cell<u32>,
    }

    impl Chain for ChainRef<'_> {
        type Entry = (u32, u32);
        fn entries(&self) -> impl Iterator<Item = &(u32, u32)> {
            self.v.iter()
        }
        fn retain(&mut self, mut keep: impl FnMut(&(u32, u32)) -> bool) -> usize {
            let before = self.v.len();
            self.v.retain(|e| keep(e));
            let gone = before - self.v.len();
            self.count.set(self.count.get() - gone as u32);
            gone
        }
        fn expires(e: &(u32, u32)) -> u32 {
            e.1
        }
    }

    impl Table {
        fn new(chains: usize, max: u32) -> Self {
            Self {
                chains: (0..chains).map(|_| Vec::new()).collect(),
                count: Cell::new(0),
                max,
            }
        }
        fn insert(&mut self, key: u32, now: u32, ttl: u32) -> Result<Inserted<()>, Refused> {
            let n = self.chains.len();
            let count = &self.count;
            let mut c = ChainRef {
                v: &mut self.chains[key as usize % n],
                count,
            };
            insert(
                &mut c,
                now,
                self.max,
                || count.get(),
                |_| false,
                |e| e.0 == key,
                |c| {
                    c.v.insert(0, (key, now.wrapping_add(ttl)));
                    count.set(count.get() + 1);
                },
            )
        }
        fn keys(&self) -> Vec<u32> {
            let mut k: Vec<u32> = self.chains.iter().flatten().map(|e| e.0).collect();
            k.sort();
            k
        }
    }

    #[test]
    fn after_wraps() {
        assert!(after(1, 0));
        assert!(!after(0, 1));
        assert!(!after(5, 5));
        assert!(after(3, u32::MAX - 2), "3 is 6 ticks after the wrap");
        assert!(!after(u32::MAX - 2, 3));
        assert!(expired(100, 99) && !expired(99, 99));
    }

    #[test]
    fn timeouts_are_bounded_below_the_jiffies_horizon() {
        assert!(!valid_timeout(0));
        assert!(valid_timeout(1) && valid_timeout(MAX_TIMEOUT_S));
        assert!(!valid_timeout(MAX_TIMEOUT_S + 1));
        // At HZ=1000 the longest timeout still compares right.
        let now = u32::MAX - 1000;
        assert!(!expired(
            now.wrapping_add(MAX_TIMEOUT_S * 1000 - 1),
            now.wrapping_add(MAX_TIMEOUT_S * 1000)
        ));
        assert!(after(now.wrapping_add(MAX_TIMEOUT_S * 1000), now));
    }

    #[test]
    fn conn_max_is_bounded() {
        assert!(!valid_conn_max(0));
        assert!(valid_conn_max(1) && valid_conn_max(1 << 18) && valid_conn_max(MAX_CONN));
        assert!(!valid_conn_max(MAX_CONN + 1) && !valid_conn_max(u32::MAX));
    }

    #[test]
    fn full_tables_average_two_entries_a_chain_or_fewer() {
        // Every bound from 1 to MAX_CONN has the fewest chains that keep a
        // full table at MAX_CHAIN_LOAD or below (or the minimum).
        let check = |n: u32| {
            let bits = table_bits(n);
            let chains = 1u64 << bits;
            assert!(
                u64::from(n) <= chains * u64::from(MAX_CHAIN_LOAD),
                "{n} entries in {chains} chains"
            );
            assert!(
                bits == MIN_TABLE_BITS || u64::from(n) > chains / 2 * u64::from(MAX_CHAIN_LOAD),
                "{n} entries would fit in {} chains",
                chains / 2
            );
        };
        for b in 0..=22 {
            let p = 1u32 << b;
            for n in [p - 1, p, p + 1, p + p / 2] {
                if valid_conn_max(n) {
                    check(n);
                }
            }
        }
        let mut x = 7u32;
        for _ in 0..10_000 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            check(1 + x % MAX_CONN);
        }
        assert_eq!(table_bits(1 << 18), 17, "the default bound: 2^17 chains");
        assert_eq!(table_bits(1), MIN_TABLE_BITS);
        assert!(valid_fixed_bits(0) && valid_fixed_bits(MIN_TABLE_BITS) && valid_fixed_bits(MAX_TABLE_BITS));
        assert!(!valid_fixed_bits(MIN_TABLE_BITS - 1) && !valid_fixed_bits(MAX_TABLE_BITS + 1));
        assert_eq!(chains_bits(1 << 18, 0), 17, "0: the bound decides");
        assert_eq!(chains_bits(1 << 18, 8), 8, "a fixed count, whatever the bound");
        assert_eq!(table_bits(600), 9);
        assert_eq!(table_bits(MAX_CONN), MAX_TABLE_BITS);
        assert_eq!(
            table_bits(u32::MAX),
            MAX_TABLE_BITS,
            "out of range: clamped"
        );
        assert_eq!(table_bits(0), MIN_TABLE_BITS);
    }

    #[test]
    fn a_full_table_of_real_flows_has_short_chains() {
        // 2^16 flows (IPv4 clients, random ports) in a table bounded at 2^16:
        // 2^15 chains, hashed as the module hashes (jhash2 of the key).
        use super::super::hash::jhash2;
        let n = 1u32 << 16;
        let chains = 1usize << table_bits(n);
        let mut len = std::vec![0u32; chains];
        let mut x = 1u32;
        for _ in 0..n {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let (client, port) = (0xc633_6400 | (x >> 24), x & 0xffff);
            let h = jhash2(&[1, client, 0, 0, 0, port], 0x5eed);
            len[h as usize & (chains - 1)] += 1;
        }
        let avg = f64::from(n) / chains as f64;
        let longest = *len.iter().max().unwrap();
        assert_eq!(avg, 2.0);
        assert!(longest <= 12, "longest chain {longest}");
    }

    #[test]
    fn a_live_entry_is_found_not_duplicated() {
        let mut t = Table::new(4, 10);
        assert_eq!(t.insert(1, 0, 100), Ok(Inserted::New(())));
        assert_eq!(t.insert(1, 50, 100), Ok(Inserted::Existing));
        assert_eq!(t.count.get(), 1);
        // Once expired, the key gets a fresh entry.
        assert_eq!(t.insert(1, 101, 100), Ok(Inserted::New(())));
        assert_eq!(t.count.get(), 1);
    }

    #[test]
    fn expired_entries_go_before_anything_live() {
        // One chain, room for 3: two expire at 10, one lives to 1000.
        let mut t = Table::new(1, 3);
        t.insert(1, 0, 10).unwrap();
        t.insert(2, 0, 10).unwrap();
        t.insert(3, 0, 1000).unwrap();
        assert_eq!(
            t.insert(4, 20, 1000),
            Ok(Inserted::New(())),
            "the expired ones made room"
        );
        assert_eq!(t.keys(), [3, 4]);
    }

    #[test]
    fn when_full_the_entry_nearest_expiry_gives_way() {
        let mut t = Table::new(1, 3);
        t.insert(1, 0, 500).unwrap();
        t.insert(2, 0, 300).unwrap(); // nearest expiry: the least recently used
        t.insert(3, 0, 900).unwrap();
        assert_eq!(t.insert(4, 10, 100), Ok(Inserted::Evicted(())));
        assert_eq!(t.keys(), [1, 3, 4]);
        assert_eq!(t.count.get(), 3);
    }

    #[test]
    fn a_full_table_with_an_empty_chain_refuses() {
        let mut t = Table::new(2, 2);
        t.insert(0, 0, 100).unwrap();
        t.insert(2, 0, 100).unwrap(); // both in chain 0
        assert_eq!(
            t.insert(1, 1, 100),
            Err(Refused::Full),
            "chain 1 has nothing to give"
        );
        assert_eq!(t.keys(), [0, 2], "and nothing changed");
    }

    #[test]
    fn the_table_never_exceeds_its_bound() {
        // Many flows with mixed lifetimes through a small table.
        let mut t = Table::new(16, 50);
        let (mut refused, mut evicted) = (0, 0);
        let mut x = 12345u32;
        for now in 0..5000u32 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            match t.insert(x >> 8, now, 20 + (x >> 24)) {
                Err(Refused::Full) => refused += 1,
                Ok(Inserted::Evicted(())) => evicted += 1,
                Ok(_) => {}
            }
            assert!(t.count.get() <= 50);
            assert_eq!(t.count.get() as usize, t.keys().len());
        }
        assert!(evicted > 0, "a full table evicts");
        assert!(
            refused < evicted,
            "and rarely refuses ({refused} refused, {evicted} evicted)"
        );
    }

    #[test]
    fn stale_entries_give_way() {
        let mut t = Table::new(1, 10);
        t.insert(1, 0, 100).unwrap();
        t.insert(2, 0, 100).unwrap();
        let count = &t.count;
        let mut c = ChainRef {
            v: &mut t.chains[0],
            count,
        };
        let r = insert(
            &mut c,
            1,
            10,
            || count.get(),
            |e| e.0 == 1,
            |e| e.0 == 3,
            |c| c.v.insert(0, (3, 100)),
        );
        assert_eq!(r, Ok(Inserted::New(())));
        assert_eq!(t.chains[0].iter().map(|e| e.0).collect::<Vec<_>>(), [3, 2]);
    }

    #[test]
    fn flood_meter_engages_over_the_limit_within_the_window() {
        let m = FloodMeter::new();
        let (window, limit) = (1000, 5);
        for i in 0..5 {
            assert!(
                !m.count_new(100 + i, window, limit),
                "count {} is within the limit",
                i + 1
            );
        }
        assert!(
            m.count_new(105, window, limit),
            "the sixth in the window floods"
        );
        assert!(m.engaged(500, window, limit));
        assert!(
            !m.engaged(2000, window, limit),
            "a later window without counts is calm"
        );
        assert!(!m.count_new(2000, window, limit), "and counts from zero");
    }

    #[test]
    fn flood_meter_limit_zero_never_floods_and_windows_wrap() {
        let m = FloodMeter::new();
        for i in 0..100 {
            assert!(!m.count_new(i, 1000, 0));
        }
        assert!(!m.engaged(50, 1000, 0));
        let m = FloodMeter::new();
        let start = u32::MAX - 10;
        for i in 0..3u32 {
            m.count_new(start.wrapping_add(i * 5), 1000, 2);
        }
        assert!(
            m.engaged(start.wrapping_add(20), 1000, 2),
            "the window spans the wrap"
        );
    }

    /// The kernel starts jiffies five minutes before wrapping
    /// (INITIAL_JIFFIES, -300 s): a meter must roll its windows from the
    /// first count, wherever the clock is, not from tick 0.
    #[test]
    fn flood_meter_rolls_its_windows_right_after_boot() {
        const HZ: u32 = 1000;
        let boot = 0u32.wrapping_sub(300 * HZ); // INITIAL_JIFFIES
        let m = FloodMeter::new();
        let (window, limit) = (HZ, 10);
        for i in 0..20 {
            m.count_new(boot + 10 + i, window, limit);
        }
        assert!(m.engaged(boot + 50, window, limit), "a burst right after boot floods");
        let later = boot + 5 * HZ;
        assert!(!m.engaged(later, window, limit), "five seconds on, the window has passed");
        assert!(!m.count_new(later, window, limit), "and a new window counts from one");
        for i in 1..limit {
            assert!(!m.count_new(later + i, window, limit));
        }
        assert!(m.count_new(later + limit, window, limit), "the limit is per window");
    }

    /// A CPU whose clock reading is a tick behind the window's start (it
    /// read jiffies before another CPU opened the window) counts in it.
    #[test]
    fn flood_meter_a_reading_just_behind_the_window_counts_in_it() {
        let m = FloodMeter::new();
        m.count_new(5000, 1000, 1);
        assert!(m.count_new(4999, 1000, 1), "the second count in the window floods");
    }
}
