// SPDX-License-Identifier: GPL-2.0

//! An RCU hash table of singly linked chains: lookups walk a chain without
//! locks under an [`RcuGuard`]; writers lock the chain's stripe (with bottom
//! halves disabled) through [`RcuHash::write`], and removed entries are
//! dropped after a grace period. Each stripe counts the changes to its
//! chains ([`RcuHash::generation`]), so that a reader can tell whether a
//! chain changed since it last walked it. All the pointer work lives here;
//! users see `&T` and a [`Writer`] with safe methods.

use super::lock::BhLock;
use super::rcu::RcuGuard;
use super::rcu_free::{RcuFree, RcuHead};
use core::ptr;
use core::sync::atomic::{fence, AtomicPtr, AtomicU32, Ordering::*};
use kernel::alloc::{flags::GFP_ATOMIC, flags::GFP_KERNEL, AllocError, KBox, KVVec, KVec};
use kernel::error::Result;

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

/// The table: `1 << bits` chains and a fixed set of lock stripes.
pub(crate) struct RcuHash<T: Send + Sync> {
    buckets: KVVec<AtomicPtr<Node<T>>>,
    stripes: KVec<Stripe>,
}

/// The lock of a set of chains, and the count of their changes.
struct Stripe {
    lock: BhLock<()>,
    generation: AtomicU32,
}

const STRIPES: usize = 256;

impl<T: Send + Sync> RcuHash<T> {
    /// An empty table of `1 << bits` chains.
    pub(crate) fn new(bits: u32) -> Result<KBox<Self>> {
        let n = 1usize << bits;
        let mut buckets = KVVec::with_capacity(n, GFP_KERNEL)?;
        for _ in 0..n {
            buckets.push(AtomicPtr::new(ptr::null_mut()), GFP_KERNEL)?;
        }
        let mut stripes = KVec::with_capacity(STRIPES, GFP_KERNEL)?;
        for _ in 0..STRIPES {
            stripes.push(Stripe { lock: BhLock::new(()), generation: AtomicU32::new(0) }, GFP_KERNEL)?;
        }
        let t = KBox::new(Self { buckets, stripes }, GFP_KERNEL)?;
        for s in t.stripes.iter() {
            // SAFETY: the vector is never resized, so each lock stays where
            // it is; each is initialised once, before any use.
            unsafe { s.lock.init() };
        }
        Ok(t)
    }

    /// The number of chains.
    pub(crate) fn buckets(&self) -> usize {
        self.buckets.len()
    }

    /// The entries of chain `b` (modulo the chain count), for readers.
    pub(crate) fn entries<'g>(&'g self, _g: &'g RcuGuard, b: usize) -> impl Iterator<Item = &'g T> {
        let mut p = self.buckets[b & (self.buckets.len() - 1)].load(Acquire);
        core::iter::from_fn(move || {
            if p.is_null() {
                return None;
            }
            // SAFETY: a node reachable from a chain is freed only after a
            // grace period, which the guard holds off.
            let n = unsafe { &*p };
            p = n.next.load(Acquire);
            Some(&n.val)
        })
    }

    /// A number that changes whenever chain `b` (modulo the chain count)
    /// changes; other chains' changes may change it too. It works as a
    /// seqcount: a writer makes it odd before a change and even after.
    /// Read before a walk of the chain, the walk sees every change it
    /// counts; read after a walk, it counts every change the walk saw, if
    /// only as begun. So if a read before one walk equals a read after a
    /// later one, the chain did not change in between.
    pub(crate) fn generation(&self, b: usize) -> u32 {
        // Orders the loads of a walk before this one (pairs with the
        // writer's fence after its first increment) ...
        fence(Acquire);
        // ... and this one before the loads of a walk after it (pairs with
        // the writer's release of its second increment).
        self.stripes[(b & (self.buckets.len() - 1)) % STRIPES].generation.load(Acquire)
    }

    /// Locks chain `b` for writing and calls `f` with a [`Writer`] for it.
    /// Entries the writer hands out stay valid for the guard's section.
    pub(crate) fn write<'g, R>(
        &'g self,
        _g: &'g RcuGuard,
        b: usize,
        f: impl FnOnce(&mut Writer<'g, T>) -> R,
    ) -> R {
        let b = b & (self.buckets.len() - 1);
        let stripe = &self.stripes[b % STRIPES];
        let _l = stripe.lock.lock();
        f(&mut Writer { head: &self.buckets[b], generation: &stripe.generation })
    }
}

impl<T: Send + Sync> Drop for RcuHash<T> {
    fn drop(&mut self) {
        // No reader or writer can reach the table any more.
        for b in self.buckets.iter() {
            let mut p = b.swap(ptr::null_mut(), Relaxed);
            while !p.is_null() {
                // SAFETY: exclusively ours; every node came from `KBox`.
                let n = unsafe { KBox::from_raw(p) };
                p = n.next.load(Relaxed);
            }
        }
    }
}

/// Write access to one locked chain, inside an RCU read-side section `'g`.
pub(crate) struct Writer<'g, T: Send + Sync> {
    head: &'g AtomicPtr<Node<T>>,
    generation: &'g AtomicU32,
}

impl<'g, T: Send + Sync> Writer<'g, T> {
    /// Inserts `val` at the front; readers see it from now on. Atomic
    /// context (GFP_ATOMIC).
    pub(crate) fn push_front(&mut self, val: T) -> core::result::Result<&'g T, AllocError> {
        let node = KBox::new(
            Node { next: AtomicPtr::new(self.head.load(Relaxed)), rcu: RcuHead::new(), val },
            GFP_ATOMIC,
        )?;
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
