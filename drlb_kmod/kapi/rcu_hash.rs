// SPDX-License-Identifier: GPL-2.0

//! An RCU hash table of singly linked chains whose number of chains can
//! change while it is in use.
//!
//! Lookups walk a chain without locks under an [`RcuGuard`]; writers lock the
//! chain's stripe (with bottom halves disabled) through [`RcuHash::write`],
//! and removed entries are dropped after a grace period. All the pointer
//! work lives here; users see `&T` and a [`Writer`] with safe methods.
//!
//! Stripes. The chains are the heads of a bucket array of `2^bits` entries,
//! `bits >= STRIPE_BITS`; an entry of hash `h` is on chain `h & mask`, and
//! chain `c` belongs to stripe `c % STRIPES`. So an entry's stripe,
//! `h % STRIPES`, is the same whatever the size of the array. Each stripe
//! has a lock, a pointer to the array that holds its chains, and a
//! sequence count.
//!
//! Resizing ([`RcuHash::resize`]) allocates a new array and moves the
//! stripes to it one at a time: under the stripe's lock (no writer is in
//! it) and with its sequence count odd, every entry of the stripe's chains
//! is relinked onto its chain in the new array, and the stripe is pointed
//! at the new array. Entries are relinked, never copied or freed, so a
//! reader holding one holds a live entry. A reader walking a chain while
//! its stripe moves may be led off it and miss an entry, so a lookup that
//! finds nothing checks the stripe's sequence count and, if a move overlapped
//! its walk, looks again under the stripe's lock. The old array goes once
//! every stripe has moved and a grace period has passed. Moving a stripe
//! keeps bottom halves off on its CPU while it relinks 1/[`STRIPES`] of the
//! entries (16,384 in a full table of 4 Mi).
//!
//! Generations. Each stripe also counts the changes to its chains
//! ([`RcuHash::generation`]): a writer makes the count odd before it links
//! or unlinks an entry and even after, and a resize does so around a
//! stripe's move. A dump that splits a chain over two parts compares the
//! counts to tell whether the chain changed in between.
//!
//! Memory. A bucket array is allocated with `__GFP_ACCOUNT` in process
//! context, so it is charged to the memory cgroup of the task that sized
//! the table, and it keeps a reference to that cgroup: entries inserted
//! while it is current, in softirq, are charged there too (see
//! [`super::memcg`] for why `__GFP_ACCOUNT` alone would charge them to no
//! one).

use super::cond_resched;
use super::lock::{new_bh_lock, BhLock};
use super::memcg::MemCgroup;
use super::rcu::{synchronize, RcuGuard};
use super::rcu_free::{RcuFree, RcuHead};
use core::marker::PhantomData;
use core::ptr;
use core::sync::atomic::{fence, AtomicPtr, AtomicU32, AtomicUsize, Ordering::*};
use kernel::alloc::flags::{GFP_ATOMIC, GFP_KERNEL, GFP_KERNEL_ACCOUNT};
use kernel::alloc::{AllocError, Flags, KBox, KVBox, KVVec};
use kernel::error::Result;
use kernel::init::pin_init_array_from_fn;
use kernel::prelude::*;
use kernel::sync::{new_mutex, Mutex};

#[repr(C)]
struct Node<T> {
    next: AtomicPtr<Node<T>>,
    rcu: RcuHead,
    val: T,
}

// SAFETY: `rcu` is the `RcuHead` at this offset.
unsafe impl<T: Send> RcuFree for Node<T> {
    const HEAD_OFFSET: usize = core::mem::offset_of!(Node<T>, rcu);
}

/// The size of one entry holding a `T`, chain link and RCU head included.
pub(crate) const fn entry_size<T>() -> usize {
    core::mem::size_of::<Node<T>>()
}

/// Stripes, as a power of two: the fewest chains a table has.
pub(crate) const STRIPE_BITS: u32 = 8;
const STRIPES: usize = 1 << STRIPE_BITS;
/// The most chains a table may have, as a power of two (a safety bound:
/// callers ask for far fewer).
const MAX_BITS: u32 = 26;
/// Chains [`RcuHash::retain`] walks under one lock hold.
const RETAIN_CHUNK: usize = 256;

/// `__GFP_ACCOUNT`, which `kernel::alloc::flags` does not name.
fn gfp_account() -> Flags {
    GFP_KERNEL_ACCOUNT & !GFP_KERNEL
}

/// A bucket array: the heads of its chains, a power of two of them, and
/// the memory cgroup that entries inserted into it are charged to.
struct Buckets<T> {
    heads: KVVec<AtomicPtr<Node<T>>>,
    charge: Option<MemCgroup>,
}

impl<T> Buckets<T> {
    /// An empty array, charged to the current task's memory cgroup, as the
    /// entries inserted into it will be. Process context.
    fn new(bits: u32) -> Result<KBox<Self>> {
        let n = 1usize << bits;
        let mut heads = KVVec::with_capacity(n, GFP_KERNEL_ACCOUNT)?;
        for _ in 0..n {
            heads.push(AtomicPtr::new(ptr::null_mut()), GFP_KERNEL_ACCOUNT)?;
        }
        Ok(KBox::new(Self { heads, charge: MemCgroup::current() }, GFP_KERNEL_ACCOUNT)?)
    }

    /// The chain for hash `h`.
    fn head(&self, h: usize) -> &AtomicPtr<Node<T>> {
        &self.heads[h & (self.heads.len() - 1)]
    }
}

/// A lock stripe: its lock, the array its chains are in, a sequence count
/// that is odd while they move to another array, and the count of changes
/// to its chains.
#[pin_data]
struct Stripe<T> {
    #[pin]
    lock: BhLock<()>,
    seq: AtomicU32,
    generation: AtomicU32,
    buckets: AtomicPtr<Buckets<T>>,
}

impl<T> Stripe<T> {
    fn new(buckets: *mut Buckets<T>) -> impl PinInit<Self> {
        pin_init!(Self {
            // One lockdep class for every stripe of every table: nobody
            // holds two at once.
            lock <- new_bh_lock!((), "drlb_chain"),
            seq: AtomicU32::new(0),
            generation: AtomicU32::new(0),
            buckets: AtomicPtr::new(buckets),
        })
    }

    /// The array that holds this stripe's chains, for the guard's section.
    fn buckets<'g>(&'g self, _g: &'g RcuGuard) -> &'g Buckets<T> {
        // SAFETY: the pointer always holds a live array; an array is freed
        // only after no stripe points to it any more and a grace period has
        // passed, which the guard holds off.
        unsafe { &*self.buckets.load(Acquire) }
    }
}

/// The entries of the chain starting at `head`, for the guard's section.
fn chain<'g, T: 'g>(_g: &'g RcuGuard, head: &AtomicPtr<Node<T>>) -> impl Iterator<Item = &'g T> {
    let mut p = head.load(Acquire);
    core::iter::from_fn(move || {
        if p.is_null() {
            return None;
        }
        // SAFETY: a node reachable from a chain is freed only after it is
        // unlinked and a grace period has passed, which the guard holds off
        // (a resize relinks nodes but never frees one).
        let n = unsafe { &*p };
        p = n.next.load(Acquire);
        Some(&n.val)
    })
}

/// The table.
pub(crate) struct RcuHash<T: Send + Sync> {
    stripes: Pin<KVBox<[Stripe<T>; STRIPES]>>,
    /// The array every stripe points to outside a resize; owned.
    current: AtomicPtr<Buckets<T>>,
    /// Its number of chains.
    chains: AtomicUsize,
    /// Serialises resizes.
    resizing: Pin<KBox<Mutex<()>>>,
    /// Counts resizes: odd while one is under way.
    resizes: AtomicU32,
}

impl<T: Send + Sync> RcuHash<T> {
    /// An empty table of `2^bits` chains (`bits` clamped to at least
    /// [`STRIPE_BITS`]).
    pub(crate) fn new(bits: u32) -> Result<Self> {
        let bits = bits.clamp(STRIPE_BITS, MAX_BITS);
        let buckets = Buckets::new(bits)?;
        let at = &*buckets as *const Buckets<T> as *mut Buckets<T>;
        let stripes = KVBox::pin_init(pin_init_array_from_fn(|_| Stripe::new(at)), GFP_KERNEL)?;
        let resizing = KBox::pin_init(new_mutex!((), "drlb_resize"), GFP_KERNEL)?;
        Ok(Self {
            stripes,
            current: AtomicPtr::new(KBox::into_raw(buckets)),
            chains: AtomicUsize::new(1 << bits),
            resizing,
            resizes: AtomicU32::new(0),
        })
    }

    fn stripe(&self, h: usize) -> &Stripe<T> {
        &self.stripes[h % STRIPES]
    }

    /// A number that changes with every resize, odd while one is under way
    /// (a seqcount, read as [`Self::generation`] is): a walk of the chains
    /// between two equal even reads saw no entry move to another chain.
    pub(crate) fn resizes(&self) -> u32 {
        fence(Acquire);
        self.resizes.load(Acquire)
    }

    /// The number of chains (during a resize, as it was before).
    pub(crate) fn buckets(&self) -> usize {
        self.chains.load(Relaxed)
    }

    /// The entries of chain `b`, for readers (dumps). Lockless: during a
    /// resize, a walk may miss entries or see some twice.
    pub(crate) fn entries<'g>(&'g self, g: &'g RcuGuard, b: usize) -> impl Iterator<Item = &'g T> {
        chain(g, self.stripe(b).buckets(g).head(b))
    }

    /// A number that changes whenever chain `b` changes (an entry linked or
    /// unlinked, or the chains moved by a resize); other chains' changes
    /// may change it too. It works as a seqcount: odd while a change is
    /// under way. Read before a walk of the chain, the walk sees every
    /// change it counts; read after a walk, it counts every change the walk
    /// saw, if only as begun. So if a read before one walk equals a read
    /// after a later one, the chain did not change in between.
    pub(crate) fn generation(&self, b: usize) -> u32 {
        // Orders the loads of a walk before this one (pairs with the
        // writer's fence after its first increment) ...
        fence(Acquire);
        // ... and this one before the loads of a walk after it (pairs with
        // the writer's release of its second increment).
        self.stripe(b).generation.load(Acquire)
    }

    /// The first entry on hash `h`'s chain that `pred` accepts, for
    /// readers: lockless, unless a resize moved the chain during the walk.
    pub(crate) fn find<'g>(&'g self, g: &'g RcuGuard, h: usize, pred: impl Fn(&T) -> bool) -> Option<&'g T> {
        let st = self.stripe(h);
        let seq = st.seq.load(Acquire);
        if seq % 2 == 0 {
            if let Some(v) = chain(g, st.buckets(g).head(h)).find(|v| pred(v)) {
                return Some(v);
            }
            // Did a move of this stripe overlap the walk? (The fence orders
            // the walk's loads before the count's: a seqcount read.)
            fence(Acquire);
            if st.seq.load(Relaxed) == seq {
                return None;
            }
        }
        // It did, or one is under way: the chain may have been left early.
        // Under the stripe's lock no move runs.
        let _l = st.lock.lock();
        chain(g, st.buckets(g).head(h)).find(|v| pred(v))
    }

    /// Locks hash `h`'s chain for writing and calls `f` with a [`Writer`]
    /// for it. Entries the writer hands out stay valid for the guard's
    /// section. (Each call's writer has a type of its own, so one cannot be
    /// swapped for another's and outlive its lock.)
    pub(crate) fn write<'g, R>(
        &'g self,
        g: &'g RcuGuard,
        h: usize,
        f: impl for<'w> FnOnce(&mut Writer<'w, 'g, T>) -> R,
    ) -> R {
        let st = self.stripe(h);
        let _l = st.lock.lock();
        let b = st.buckets(g);
        f(&mut Writer { head: b.head(h), charge: b.charge.as_ref(), generation: &st.generation, _w: PhantomData })
    }

    /// Unlinks every entry `keep` rejects, after `removed(entry)`; each is
    /// dropped after a grace period. Process context: the walk goes
    /// [`RETAIN_CHUNK`] chains at a time, each chunk under its stripe's lock
    /// and in an RCU read-side section of its own, with a reschedule point
    /// between chunks, so a large table neither keeps the CPU nor holds off
    /// grace periods for the whole walk. A resize during the walk makes it
    /// walk the moved stripe again, from its start, in its new array.
    pub(crate) fn retain(&self, keep: impl Fn(&T) -> bool, removed: impl Fn(&T)) {
        for (s, st) in self.stripes.iter().enumerate() {
            let (mut next, mut seen) = (0usize, None);
            loop {
                let done = {
                    let g = RcuGuard::lock();
                    let _l = st.lock.lock();
                    let seq = st.seq.load(Relaxed);
                    if seen != Some(seq) {
                        (next, seen) = (0, Some(seq));
                    }
                    let b = st.buckets(&g);
                    let chains = b.heads.len() / STRIPES;
                    let end = chains.min(next + RETAIN_CHUNK);
                    for k in next..end {
                        let head = &b.heads[s + k * STRIPES];
                        Writer { head, charge: None, generation: &st.generation, _w: PhantomData }
                            .retain(&keep, &removed);
                    }
                    next = end;
                    end == chains
                };
                cond_resched();
                if done {
                    break;
                }
            }
        }
    }

    /// Gives the table `2^bits` chains (`bits` clamped to at least
    /// [`STRIPE_BITS`]), moving every entry to the chain of hash `hash(v)`
    /// in the new array while readers and writers go on (see the module
    /// documentation). `hash` must give each entry the hash it was inserted
    /// under, or lookups will miss it; whatever it says, an entry stays in
    /// its stripe. Process context: it allocates, reschedules between
    /// stripes and waits for a grace period. Only allocation can fail, and
    /// then nothing changed.
    pub(crate) fn resize(&self, bits: u32, hash: impl Fn(&T) -> usize) -> Result {
        let _r = self.resizing.lock();
        let bits = bits.clamp(STRIPE_BITS, MAX_BITS);
        if self.chains.load(Relaxed) == 1 << bits {
            return Ok(());
        }
        let new = KBox::into_raw(Buckets::new(bits)?);
        self.resizes.fetch_add(1, Relaxed);
        fence(Release);
        for (s, st) in self.stripes.iter().enumerate() {
            {
                let g = RcuGuard::lock();
                let _l = st.lock.lock();
                let seq = st.seq.load(Relaxed);
                st.seq.store(seq.wrapping_add(1), Relaxed);
                st.generation.fetch_add(1, Relaxed);
                // (orders the odd counts before the relinks: a seqcount write)
                fence(Release);
                // SAFETY: `new` is live until a later resize or the drop,
                // which `resizing` and `&self` keep away.
                let to = unsafe { &*new };
                let from = st.buckets(&g);
                for c in (s..from.heads.len()).step_by(STRIPES) {
                    let head = &from.heads[c];
                    let mut p = head.load(Relaxed);
                    while !p.is_null() {
                        // SAFETY: the stripe's lock is held, so `p` is live
                        // and no one else relinks it.
                        let n = unsafe { &*p };
                        let next = n.next.load(Relaxed);
                        head.store(next, Release);
                        let at = to.head((hash(&n.val) & !(STRIPES - 1)) | s);
                        n.next.store(at.load(Relaxed), Release);
                        at.store(p, Release);
                        p = next;
                    }
                }
                st.buckets.store(new, Release);
                st.seq.store(seq.wrapping_add(2), Release);
                st.generation.fetch_add(1, Release);
            }
            cond_resched();
        }
        let old = self.current.swap(new, Relaxed);
        self.chains.store(1 << bits, Relaxed);
        self.resizes.fetch_add(1, Release);
        // No stripe points to the old array; once the readers that might
        // still walk it are done, it goes (empty: every entry moved).
        synchronize();
        // SAFETY: `old` came from `KBox::into_raw` and nobody can reach it.
        drop(unsafe { KBox::from_raw(old) });
        Ok(())
    }
}

impl<T: Send + Sync> Drop for RcuHash<T> {
    fn drop(&mut self) {
        // No reader or writer can reach the table any more, and no resize
        // runs (it borrows the table): every stripe points to `current`.
        // SAFETY: `current` came from `KBox::into_raw` and is ours alone.
        let b = unsafe { KBox::from_raw(*self.current.get_mut()) };
        for h in b.heads.iter() {
            let mut p = h.swap(ptr::null_mut(), Relaxed);
            while !p.is_null() {
                // SAFETY: exclusively ours; every node came from `KBox`.
                let n = unsafe { KBox::from_raw(p) };
                p = n.next.load(Relaxed);
            }
        }
    }
}

/// Write access to one locked chain, inside an RCU read-side section `'g`;
/// `'w` tells one [`RcuHash::write`] call's writer from another's.
pub(crate) struct Writer<'w, 'g, T: Send + Sync> {
    head: &'g AtomicPtr<Node<T>>,
    /// Whom new entries are charged to.
    charge: Option<&'g MemCgroup>,
    /// The stripe's count of changes.
    generation: &'g AtomicU32,
    _w: PhantomData<fn(&'w ()) -> &'w ()>,
}

impl<'g, T: Send + Sync> Writer<'_, 'g, T> {
    /// Inserts `val` at the front; readers see it from now on. Atomic
    /// context (`GFP_ATOMIC | __GFP_ACCOUNT`, charged to the array's
    /// memory cgroup).
    pub(crate) fn push_front(&mut self, val: T) -> core::result::Result<&'g T, AllocError> {
        let node = Node { next: AtomicPtr::new(self.head.load(Relaxed)), rcu: RcuHead::new(), val };
        let alloc = || KBox::new(node, GFP_ATOMIC | gfp_account());
        let node = match self.charge {
            Some(memcg) => memcg.charge(alloc),
            None => alloc(),
        }?;
        let p = KBox::into_raw(node);
        self.begin();
        self.head.store(p, Release);
        self.end();
        // SAFETY: just published; freed only after a later removal and a
        // grace period, which the section `'g` holds off.
        Ok(unsafe { &(*p).val })
    }

    /// Walks the chain: `keep(v)` false unlinks `v` (after `removed(v)`),
    /// and it is dropped after a grace period. Returns the kept entries'
    /// count.
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(&T) -> bool, mut removed: impl FnMut(&T)) -> usize {
        let mut kept = 0;
        let mut removed_any = false;
        let mut prev: &AtomicPtr<Node<T>> = self.head;
        let mut p = prev.load(Relaxed);
        while !p.is_null() {
            // SAFETY: the chain lock is held, so `p` is live and ours to
            // unlink.
            let n = unsafe { &*p };
            let next = n.next.load(Relaxed);
            if keep(&n.val) {
                kept += 1;
                prev = &n.next;
            } else {
                if !removed_any {
                    self.begin();
                    removed_any = true;
                }
                prev.store(next, Release);
                removed(&n.val);
                // SAFETY: unlinked above; readers may still hold it until a
                // grace period ends; it came from `KBox::into_raw`.
                unsafe { Node::free_after_grace_period(p) };
            }
            p = next;
        }
        if removed_any {
            self.end();
        }
        kept
    }

    /// Marks the stripe's generation as changing (odd), before a change
    /// (see [`RcuHash::generation`]).
    fn begin(&self) {
        self.generation.fetch_add(1, Relaxed);
        fence(Release);
    }

    /// Marks the change done (even again).
    fn end(&self) {
        self.generation.fetch_add(1, Release);
    }

    /// The entries, in chain order; valid for the section `'g`.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &'g T> {
        let mut p = self.head.load(Relaxed);
        core::iter::from_fn(move || {
            if p.is_null() {
                return None;
            }
            // SAFETY: live now (the chain lock is held) and freed only after
            // a grace period, which `'g` holds off.
            let n: &'g Node<T> = unsafe { &*p };
            p = n.next.load(Relaxed);
            Some(&n.val)
        })
    }
}
