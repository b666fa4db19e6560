//! An index over a fixed list, for lookups in constant time: open
//! addressing with linear probing over a slot array at most half full.
//! The caller owns the storage (a `Vec` on the host, a kernel vector in
//! drlb.ko) and supplies hashes and the equality test, so this file does
//! no allocation.
//!
//! The configuration snapshot of a namespace builds one over its services,
//! so the packet path finds a packet's service among 10,000 as fast as
//! among one.

/// A free slot.
pub const EMPTY: u32 = u32::MAX;

/// The number of slots for `n` items: a power of two, at least twice `n`
/// (so probes stay short), and at least 8.
pub fn slots_for(n: usize) -> usize {
    n.saturating_mul(2).max(8).next_power_of_two()
}

/// Puts item `item` with hash `hash` into `slots` (all [`EMPTY`] at
/// first, sized by [`slots_for`]). Returns false if there is no room.
pub fn insert(slots: &mut [u32], hash: u32, item: u32) -> bool {
    let n = slots.len();
    if n == 0 || item == EMPTY {
        return false;
    }
    let mask = n - 1;
    let mut at = hash as usize & mask;
    for _ in 0..n {
        if slots[at] == EMPTY {
            slots[at] = item;
            return true;
        }
        at = (at + 1) & mask;
    }
    false
}

/// The item with hash `hash` that `is` accepts, probing from its slot
/// until a free one.
#[inline]
pub fn find(slots: &[u32], hash: u32, is: impl Fn(u32) -> bool) -> Option<u32> {
    let n = slots.len();
    if n == 0 {
        return None;
    }
    let mask = n - 1;
    let mut at = hash as usize & mask;
    for _ in 0..n {
        match slots[at] {
            EMPTY => return None,
            item if is(item) => return Some(item),
            _ => at = (at + 1) & mask,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec;

    #[test]
    fn sizes() {
        assert_eq!(slots_for(0), 8);
        assert_eq!(slots_for(4), 8);
        assert_eq!(slots_for(5), 16);
        assert_eq!(slots_for(10_000), 32_768);
    }

    #[test]
    fn finds_every_item_and_nothing_else() {
        let keys: std::vec::Vec<u32> = (0..10_000u32).map(|i| i.wrapping_mul(2_654_435_761)).collect();
        let hash = |k: u32| super::super::hash::jhash_3words(k, 0, 0, 7);
        let mut slots = vec![EMPTY; slots_for(keys.len())];
        for (i, k) in keys.iter().enumerate() {
            assert!(insert(&mut slots, hash(*k), i as u32));
        }
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(find(&slots, hash(*k), |j| keys[j as usize] == *k), Some(i as u32));
        }
        assert_eq!(find(&slots, hash(12345), |j| keys[j as usize] == 12345), None);
    }

    #[test]
    fn collisions_probe_on_and_a_full_table_says_so() {
        let mut slots = vec![EMPTY; 8];
        for i in 0..8 {
            assert!(insert(&mut slots, 3, i), "all in one bucket: they probe on");
        }
        assert!(!insert(&mut slots, 3, 8), "full");
        assert_eq!(find(&slots, 3, |j| j == 6), Some(6));
        assert_eq!(find(&slots, 3, |j| j == 9), None, "a full table still ends the probe");
        assert!(!insert(&mut [], 0, 1));
        assert_eq!(find(&[], 0, |_| true), None);
    }

    #[test]
    fn probes_stay_short_at_half_load() {
        let n = 10_000u32;
        let mut slots = vec![EMPTY; slots_for(n as usize)];
        let hash = |k: u32| super::super::hash::jhash_3words(k, 1, 2, 3);
        for k in 0..n {
            insert(&mut slots, hash(k), k);
        }
        let mut total = 0usize;
        for k in 0..n {
            let probes = core::cell::Cell::new(0);
            find(&slots, hash(k), |j| {
                probes.set(probes.get() + 1);
                j == k
            });
            total += probes.get();
        }
        let mean = total as f64 / n as f64;
        std::println!("mean probes: {mean:.2}");
        assert!(mean < 2.0, "mean probes {mean}");
    }
}
