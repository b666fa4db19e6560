//! Resumable dumps: where each part of a netlink dump starts, so that a
//! dump never skips or repeats an entry without saying so.
//!
//! A netlink dump comes in parts, one socket buffer each, with the table
//! changing between them. Two kinds of cursor keep it exact:
//!
//! - Lists ordered by an id that is never reused (services, real servers):
//!   the cursor is the next id, and a part starts at the first entry whose
//!   id is at least that ([`resume_at`]). Entries added or removed between
//!   parts move nothing.
//! - Hash chains, where new entries go to a chain's front ([`fill_chains`]):
//!   a chain goes whole into one part or waits for the next, so the cursor
//!   is a chain number and nothing a chain gains or loses between parts
//!   can shift it. Only a chain longer than a whole part is split; the
//!   cursor is then a position in it, valid while the chain's generation
//!   is unchanged. If it changed, the dump is marked interrupted
//!   (`NLM_F_DUMP_INTR`) and userspace knows to dump again.

/// The index of the first item whose id is at least `next`, in `items`
/// sorted by id: where a dump part resumes after the item with id
/// `next - 1`.
pub fn resume_at<T>(items: &[T], id: impl Fn(&T) -> u32, next: u64) -> usize {
    items.partition_point(|t| u64::from(id(t)) < next)
}

/// Chains of entries, as a dump reads them.
pub trait Chains {
    /// What the chains hold.
    type Entry;
    /// The number of chains.
    fn count(&self) -> usize;
    /// A number that changes whenever chain `c` changes (an insert or a
    /// removal). If a read before one walk of the chain equals a read
    /// after a later walk, the chain did not change in between (also when
    /// changes run concurrently with the walks: the module's is a
    /// seqcount).
    fn generation(&self, c: usize) -> u32;
    /// Chain `c`'s entries, in order.
    fn entries(&self, c: usize) -> impl Iterator<Item = &Self::Entry>;
}

/// What [`Sink::put`] did with an entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Put {
    /// Added to the part.
    Added,
    /// Not wanted (filtered out, expired): nothing added.
    Skipped,
    /// The part is full: nothing added.
    Full,
}

/// One part of a dump being filled.
pub trait Sink<E> {
    /// A position in the part, to go back to.
    type Mark: Copy;
    /// The current position.
    fn mark(&self) -> Self::Mark;
    /// Removes everything added after `m`.
    fn trim(&mut self, m: Self::Mark);
    /// Adds an entry, if it is wanted and fits.
    fn put(&mut self, e: &E) -> Put;
    /// What this part continues changed since the last part: the dump
    /// may have skipped or repeated entries (`NLM_F_DUMP_INTR`).
    fn interrupted(&mut self);
}

/// Where a chain dump resumes. All zero at the start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ChainCursor {
    /// The chain.
    pub chain: usize,
    /// Entries of it already dumped (only for a chain longer than a part).
    pub pos: usize,
    /// The chain's generation when `pos` was taken.
    pub generation: u32,
}

/// A single entry does not fit in an empty part.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TooBig;

/// Fills one part of a dump of `chains` from `cursor`, and moves the
/// cursor to where the next part starts (past the last chain when done).
pub fn fill_chains<C: Chains, S: Sink<C::Entry>>(
    chains: &C,
    cursor: &mut ChainCursor,
    sink: &mut S,
) -> Result<(), TooBig> {
    // A split chain resumed: its generation when the position was taken.
    let mut resumed = (cursor.pos > 0).then_some(cursor.generation);
    // Entries this part holds.
    let mut added = 0usize;
    while cursor.chain < chains.count() {
        let c = cursor.chain;
        let generation = chains.generation(c);
        let mark = sink.mark();
        let before = added;
        let mut full_at = None;
        for (i, e) in chains.entries(c).enumerate().skip(cursor.pos) {
            match sink.put(e) {
                Put::Added => added += 1,
                Put::Skipped => {}
                Put::Full => {
                    full_at = Some(i);
                    break;
                }
            }
        }
        // (read after the walk: it counts whatever the walk saw)
        if let Some(then) = resumed.take() {
            if chains.generation(c) != then {
                // The position may have shifted: the next message says so.
                sink.interrupted();
            }
        }
        let Some(i) = full_at else {
            cursor.chain += 1;
            cursor.pos = 0;
            continue;
        };
        if before > 0 {
            // The chain goes whole into the next part.
            sink.trim(mark);
        } else if added > 0 {
            // Longer than a part: split it here.
            cursor.pos = i;
            cursor.generation = generation;
        } else {
            return Err(TooBig);
        }
        return Ok(());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::collections::BTreeMap;
    use std::vec::Vec;

    /// A hash table as the module's: entries pushed at a chain's front,
    /// removed anywhere, a generation per chain.
    #[derive(Default)]
    struct Table {
        chains: Vec<Vec<u32>>,
        generations: Vec<u32>,
    }

    impl Table {
        fn new(n: usize) -> Self {
            Self {
                chains: std::vec![Vec::new(); n],
                generations: std::vec![0; n],
            }
        }
        fn push(&mut self, c: usize, v: u32) {
            self.chains[c].insert(0, v);
            self.generations[c] += 1;
        }
        fn remove(&mut self, v: u32) {
            for (c, chain) in self.chains.iter_mut().enumerate() {
                if let Some(i) = chain.iter().position(|x| *x == v) {
                    chain.remove(i);
                    self.generations[c] += 1;
                }
            }
        }
    }

    impl Chains for Table {
        type Entry = u32;
        fn count(&self) -> usize {
            self.chains.len()
        }
        fn generation(&self, c: usize) -> u32 {
            self.generations[c]
        }
        fn entries(&self, c: usize) -> impl Iterator<Item = &u32> {
            self.chains[c].iter()
        }
    }

    /// A part that holds `room` entries; odd entries are filtered out.
    struct Part {
        room: usize,
        got: Vec<u32>,
        interrupted: bool,
        skip_odd: bool,
    }

    impl Sink<u32> for Part {
        type Mark = usize;
        fn mark(&self) -> usize {
            self.got.len()
        }
        fn trim(&mut self, m: usize) {
            self.got.truncate(m);
        }
        fn put(&mut self, e: &u32) -> Put {
            if self.skip_odd && e % 2 == 1 {
                Put::Skipped
            } else if self.got.len() == self.room {
                Put::Full
            } else {
                self.got.push(*e);
                Put::Added
            }
        }
        fn interrupted(&mut self) {
            self.interrupted = true;
        }
    }

    /// Dumps `t` in parts of `room`, calling `between(t, part)` after each
    /// part; returns every entry dumped and whether any part said
    /// interrupted.
    fn dump(
        t: &mut Table,
        room: usize,
        skip_odd: bool,
        mut between: impl FnMut(&mut Table, usize),
    ) -> (Vec<u32>, bool) {
        let mut cursor = ChainCursor::default();
        let (mut all, mut intr) = (Vec::new(), false);
        for part in 0.. {
            let mut p = Part {
                room,
                got: Vec::new(),
                interrupted: false,
                skip_odd,
            };
            fill_chains(&*t, &mut cursor, &mut p).unwrap();
            intr |= p.interrupted;
            if p.got.is_empty() {
                assert_eq!(cursor.chain, t.count(), "an empty part only at the end");
                break;
            }
            all.extend(p.got);
            between(t, part);
        }
        (all, intr)
    }

    fn counts(v: &[u32]) -> BTreeMap<u32, usize> {
        let mut m = BTreeMap::new();
        for x in v {
            *m.entry(*x).or_default() += 1;
        }
        m
    }

    /// 64 chains of 1..=8 entries each (values from 1000).
    fn table() -> Table {
        let mut t = Table::new(64);
        let mut v = 1000;
        for c in 0..64 {
            for _ in 0..1 + c % 8 {
                t.push(c, v);
                v += 1;
            }
        }
        t
    }

    #[test]
    fn a_still_table_is_dumped_whole_once() {
        let mut t = table();
        let want: Vec<u32> = (0..64).flat_map(|c| t.chains[c].clone()).collect();
        for room in [8, 9, 13, 100, 1000] {
            let (got, intr) = dump(&mut t, room, false, |_, _| {});
            assert_eq!(got, want, "room {room}");
            assert!(!intr);
        }
    }

    #[test]
    fn entries_pushed_and_removed_between_parts_shift_nothing() {
        // Between the first eleven parts: a new entry at the front of every
        // chain, and three old entries removed. Each entry that
        // was there all along comes exactly once, with no interruption
        // (a position cursor repeats and skips entries here).
        let mut t = table();
        let old: Vec<u32> = (0..64).flat_map(|c| t.chains[c].clone()).collect();
        let removed: Vec<u32> = (0..64)
            .step_by(3)
            .map(|c| *t.chains[c].last().unwrap())
            .collect();
        let mut next = 5000;
        let mut removals = removed.clone().into_iter();
        let (got, intr) = dump(&mut t, 40, false, |t, part| {
            if part >= 10 {
                return;
            }
            for c in 0..64 {
                t.push(c, next);
                next += 1;
            }
            for _ in 0..3 {
                if let Some(v) = removals.next() {
                    t.remove(v);
                }
            }
        });
        assert!(!intr, "no chain is longer than a part");
        let n = counts(&got);
        assert!(n.values().all(|k| *k == 1), "an entry came twice: {n:?}");
        for v in old.iter().filter(|v| !removed.contains(v)) {
            assert_eq!(n.get(v), Some(&1), "entry {v}, there all along");
        }
    }

    #[test]
    fn filtered_entries_do_not_count_against_a_part() {
        let mut t = table();
        let want: Vec<u32> = (0..64)
            .flat_map(|c| t.chains[c].clone())
            .filter(|v| v % 2 == 0)
            .collect();
        let (got, intr) = dump(&mut t, 3, true, |_, _| {});
        assert_eq!(got, want);
        assert!(!intr);
    }

    #[test]
    fn a_chain_longer_than_a_part_is_split_and_a_change_to_it_is_reported() {
        let mut t = Table::new(4);
        for v in 0..50 {
            t.push(1, v);
        }
        t.push(2, 100);
        let want: Vec<u32> = [t.chains[1].clone(), t.chains[2].clone()].concat();
        // Unchanged: split across parts of 8, exact.
        let (got, intr) = dump(&mut t, 8, false, |_, _| {});
        assert_eq!((got, intr), (want.clone(), false));
        // A push into the split chain after the first part: reported.
        let (got, intr) = dump(&mut t, 8, false, |t, part| {
            if part == 0 {
                t.push(1, 999)
            }
        });
        assert!(intr, "the change to the split chain is reported");
        assert_eq!(
            counts(&got).get(&want[7]),
            Some(&2),
            "(the shifted position repeated an entry)"
        );
        // A change to another chain does not interrupt the split one.
        let mut t2 = Table::new(4);
        for v in 0..50 {
            t2.push(1, v);
        }
        let (got, intr) = dump(&mut t2, 8, false, |t, _| t.push(3, 7));
        assert!(!intr);
        assert_eq!(&got[..50], &t2.chains[1][..]);
    }

    #[test]
    fn an_entry_larger_than_a_part_is_an_error() {
        let mut t = Table::new(2);
        t.push(0, 1);
        let mut p = Part {
            room: 0,
            got: Vec::new(),
            interrupted: false,
            skip_odd: false,
        };
        assert_eq!(
            fill_chains(&t, &mut ChainCursor::default(), &mut p),
            Err(TooBig)
        );
    }

    #[test]
    fn id_cursors_resume_after_the_last_id_sent() {
        let ids = [1u32, 2, 5, 9, 12];
        let at = |next| resume_at(&ids, |x| *x, next);
        assert_eq!(at(0), 0);
        assert_eq!(at(2), 1, "after id 1");
        assert_eq!(at(6), 3, "after 5: 9 comes next even if 6..8 went away");
        assert_eq!(at(13), 5, "done");
        assert_eq!(at(u64::from(u32::MAX) + 1), 5);
    }
}
