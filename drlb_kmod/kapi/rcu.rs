// SPDX-License-Identifier: GPL-2.0

//! RCU: a read-side guard and a pointer that readers follow locklessly while
//! a writer replaces what it points to.

use super::bindings;
use super::rcu_free::{RcuFree, RcuHead};
use core::marker::PhantomData;
use core::sync::atomic::{AtomicPtr, Ordering};
use kernel::alloc::{flags::GFP_KERNEL, KBox};
use kernel::error::Result;

/// An RCU read-side critical section (`rcu_read_lock`); unlocks on drop.
/// Not `Send`: it must end on the CPU and task that began it.
pub(crate) struct RcuGuard(PhantomData<*const ()>);

impl RcuGuard {
    /// Enters a read-side critical section. Nesting is allowed (the packet
    /// path is already inside one).
    #[inline]
    pub(crate) fn lock() -> Self {
        // SAFETY: no preconditions; balanced by `drop`.
        unsafe { bindings::drlb_rcu_read_lock() };
        Self(PhantomData)
    }

    /// A guard for the read-side critical section the caller is already
    /// in, which it neither enters nor ends: the guard is never dropped,
    /// and it lives in the caller's frame, so nothing borrowed from it
    /// outlives the call. For callbacks the kernel makes under
    /// `rcu_read_lock` (netfilter hooks): two calls fewer per packet.
    ///
    /// # Safety
    ///
    /// The caller is inside an RCU read-side critical section that lasts
    /// as long as the returned guard, and does not take the guard out of
    /// its `ManuallyDrop`.
    #[inline]
    pub(super) unsafe fn held() -> core::mem::ManuallyDrop<Self> {
        core::mem::ManuallyDrop::new(Self(PhantomData))
    }
}

impl Drop for RcuGuard {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: balances the lock taken in `lock`.
        unsafe { bindings::drlb_rcu_read_unlock() };
    }
}

/// Waits for every pre-existing RCU reader to finish (`synchronize_rcu`).
pub(crate) fn synchronize() {
    // SAFETY: called from process context by the control path.
    unsafe { bindings::synchronize_rcu() };
}

/// Waits for every pending `call_rcu` callback (`rcu_barrier`): before the
/// module's code goes away.
pub(crate) fn barrier() {
    // SAFETY: process context.
    unsafe { bindings::rcu_barrier() };
}

/// An owned `T` that readers reach under an [`RcuGuard`] without locks and
/// that a single writer replaces; the old value is dropped only after every
/// reader that could see it has finished, from an RCU callback (so `T`'s
/// drop must be fine in softirq context), without the writer waiting for a
/// grace period.
pub(crate) struct RcuBox<T: Send> {
    ptr: AtomicPtr<Node<T>>,
}

/// A value with the `rcu_head` that frees it.
struct Node<T> {
    value: T,
    head: RcuHead,
}

/// A value ready to publish in an [`RcuBox`] ([`RcuBox::prepare`]).
pub(crate) struct Prepared<T>(KBox<Node<T>>);

// SAFETY: `HEAD_OFFSET` is the offset of the `head` field.
unsafe impl<T: Send> RcuFree for Node<T> {
    const HEAD_OFFSET: usize = core::mem::offset_of!(Node<T>, head);
}

// SAFETY: readers get `&T` from many threads, writers move `T` across them.
unsafe impl<T: Send + Sync> Send for RcuBox<T> {}
// SAFETY: as above.
unsafe impl<T: Send + Sync> Sync for RcuBox<T> {}

impl<T: Send> RcuBox<T> {
    /// Wraps an initial value.
    pub(crate) fn new(v: T) -> Result<Self> {
        let node = KBox::new(Node { value: v, head: RcuHead::new() }, GFP_KERNEL)?;
        Ok(Self { ptr: AtomicPtr::new(KBox::into_raw(node)) })
    }

    /// The current value, valid for the guard's critical section.
    #[inline]
    pub(crate) fn get<'a>(&'a self, _guard: &'a RcuGuard) -> &'a T {
        // SAFETY: the pointer always holds a live boxed node; a replaced one
        // is freed only after a grace period, which cannot end while
        // `_guard` lives.
        unsafe { &(*self.ptr.load(Ordering::Acquire)).value }
    }

    /// Publishes `v`; the previous value is dropped once no reader can see
    /// it. Callers serialise writers. Fails (changing nothing) only if
    /// there is no memory.
    pub(crate) fn replace(&self, v: T) -> Result {
        self.publish(Self::prepare(v)?);
        Ok(())
    }

    /// `v`, with the memory publishing it takes: a writer that has more
    /// to do before it publishes allocates first, so that once the rest
    /// succeeded, publishing cannot fail.
    pub(crate) fn prepare(v: T) -> Result<Prepared<T>> {
        Ok(Prepared(KBox::new(Node { value: v, head: RcuHead::new() }, GFP_KERNEL)?))
    }

    /// Publishes a prepared value; the previous one is dropped once no
    /// reader can see it. Callers serialise writers.
    pub(crate) fn publish(&self, v: Prepared<T>) {
        let old = self.ptr.swap(KBox::into_raw(v.0), Ordering::AcqRel);
        // SAFETY: `old` came from `KBox::into_raw`, is no longer reachable
        // by new readers, and is freed only here.
        unsafe { Node::free_after_grace_period(old) };
    }
}

impl<T: Send> Drop for RcuBox<T> {
    fn drop(&mut self) {
        // SAFETY: the owner drops the box only after its readers are gone
        // (the hooks that read it are unregistered and synchronised first).
        drop(unsafe { KBox::from_raw(*self.ptr.get_mut()) });
    }
}
