//! A value of a few words that readers take without locks and always whole:
//! a sequence count (as the kernel's `seqcount_t`) over atomic words.
//!
//! The packet path reads a real server's location (egress device and MAC)
//! for every packet, in softirq context, while the once-a-second upkeep and
//! the neighbour notifier may rewrite it. Two separate atomics could be read
//! half old, half new (a new MAC with the old device); [`SeqWords`] never
//! is: a reader retries while a write is in progress or if one happened
//! while it read.
//!
//! Why this and not another way to publish the pair in one piece:
//! - one 64-bit atomic cannot hold it: a MAC is 48 bits and an ifindex a
//!   positive `int`, so packing would cap the ifindex at 2^15 (ifindexes
//!   only grow in a namespace that creates and deletes devices);
//! - a 128-bit atomic load is a locked `cmpxchg16b` on x86_64: a write to
//!   the cache line on every packet, from every CPU;
//! - an RCU-published struct costs an allocation and a grace period per
//!   change, and the neighbour notifier runs in atomic context.
//!
//! A read here is two loads of the count and one of each word, with no
//! store: on x86_64 the acquire fence compiles to nothing. The words are
//! atomics, so a read racing a write is never undefined behaviour, only
//! retried.
//!
//! Writers are serialised: `write` sets the count odd with a
//! compare-and-swap from an even value, so a second writer waits for the
//! first to finish instead of interleaving with it. In drlb.ko every writer
//! holds the real server's writer lock (a spinlock taken with bottom halves
//! off) around `write`, so the count is always even when a writer starts
//! and nobody waits here; the compare-and-swap only makes interleaving
//! impossible rather than merely forbidden.

use core::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering::*};

/// `N` words published together.
pub struct SeqWords<const N: usize> {
    seq: AtomicU32,
    words: [AtomicU64; N],
}

impl<const N: usize> SeqWords<N> {
    /// Holding `init`.
    pub fn new(init: [u64; N]) -> Self {
        Self {
            seq: AtomicU32::new(0),
            words: init.map(AtomicU64::new),
        }
    }

    /// The words, all from one write. Lock-free; never blocks a writer.
    #[inline]
    pub fn read(&self) -> [u64; N] {
        loop {
            let s = self.seq.load(Acquire);
            if s & 1 == 0 {
                let v = core::array::from_fn(|i| self.words[i].load(Relaxed));
                // The word loads above happen before the count's re-read.
                fence(Acquire);
                if self.seq.load(Relaxed) == s {
                    return v;
                }
            }
            core::hint::spin_loop();
        }
    }

    /// Publishes `v`. A writer waits for one already in progress (see the
    /// module's text: in the kernel, writers hold a lock and never wait).
    pub fn write(&self, v: [u64; N]) {
        let mut s = self.seq.load(Relaxed);
        loop {
            if s & 1 == 0 {
                match self
                    .seq
                    .compare_exchange_weak(s, s.wrapping_add(1), Relaxed, Relaxed)
                {
                    Ok(_) => break,
                    Err(now) => s = now,
                }
            } else {
                core::hint::spin_loop();
                s = self.seq.load(Relaxed);
            }
        }
        // The odd count is visible before any new word.
        fence(Release);
        for (w, x) in self.words.iter().zip(v) {
            w.store(x, Relaxed);
        }
        self.seq.store(s.wrapping_add(2), Release);
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;
    use std::thread;

    #[test]
    fn reads_what_was_written() {
        let c = SeqWords::new([1, 2]);
        assert_eq!(c.read(), [1, 2]);
        c.write([3, 4]);
        assert_eq!(c.read(), [3, 4]);
    }

    /// Writers publish pairs (k, !k) from several threads at once; readers
    /// must only ever see such a pair, never one word of one write and the
    /// other of another.
    #[test]
    fn never_torn() {
        let c = Arc::new(SeqWords::new([0, !0]));
        let stop = Arc::new(AtomicBool::new(false));
        let readers: std::vec::Vec<_> = (0..2)
            .map(|_| {
                let (c, stop) = (c.clone(), stop.clone());
                thread::spawn(move || {
                    let mut n = 0u64;
                    while !stop.load(Relaxed) {
                        let [a, b] = c.read();
                        assert_eq!(a, !b, "torn read: {a:#x} {b:#x}");
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        let writers: std::vec::Vec<_> = (0..2u64)
            .map(|t| {
                let c = c.clone();
                thread::spawn(move || {
                    for k in 0..200_000u64 {
                        let x = k << 1 | t;
                        c.write([x, !x]);
                    }
                })
            })
            .collect();
        for w in writers {
            w.join().unwrap();
        }
        stop.store(true, Relaxed);
        for r in readers {
            assert!(r.join().unwrap() > 0);
        }
        let [a, b] = c.read();
        assert_eq!(a, !b);
    }
}
