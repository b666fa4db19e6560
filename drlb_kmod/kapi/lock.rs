// SPDX-License-Identifier: GPL-2.0

//! A spinlock taken with bottom halves disabled (`spin_lock_bh`), for data
//! shared between the packet path (softirq) and process context.

use super::bindings;
use core::cell::UnsafeCell;
use kernel::types::Opaque;

/// A `spinlock_t` guarding a `T`. It must not move after [`BhLock::init`],
/// so it lives in an allocation that is never resized.
pub(crate) struct BhLock<T> {
    lock: Opaque<bindings::spinlock_t>,
    data: UnsafeCell<T>,
}

// SAFETY: the lock serialises all access to `data`.
unsafe impl<T: Send> Send for BhLock<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Sync for BhLock<T> {}

impl<T> BhLock<T> {
    /// A lock that still needs [`BhLock::init`] once it is in place.
    pub(crate) fn new(data: T) -> Self {
        Self { lock: Opaque::uninit(), data: UnsafeCell::new(data) }
    }

    /// Initialises the lock where it now lives.
    ///
    /// # Safety
    ///
    /// Called once, before any `lock`, and the lock never moves afterwards.
    pub(crate) unsafe fn init(&self) {
        // SAFETY: `lock` points to storage for a `spinlock_t` we own.
        unsafe { bindings::drlb_spin_lock_init(self.lock.get()) };
    }

    /// A lock in its own allocation, initialised there: for a lock that
    /// lives inside something that moves.
    pub(crate) fn new_boxed(data: T) -> kernel::error::Result<kernel::alloc::KBox<Self>> {
        let b = kernel::alloc::KBox::new(Self::new(data), kernel::alloc::flags::GFP_KERNEL)?;
        // SAFETY: the lock is at its final heap address and initialised once.
        unsafe { b.init() };
        Ok(b)
    }

    /// Takes the lock with bottom halves disabled.
    #[inline]
    pub(crate) fn lock(&self) -> BhGuard<'_, T> {
        // SAFETY: initialised by `init` (the owner's contract).
        unsafe { bindings::drlb_spin_lock_bh(self.lock.get()) };
        BhGuard { lock: self }
    }
}

/// Holds a [`BhLock`]; unlocks on drop.
pub(crate) struct BhGuard<'a, T> {
    lock: &'a BhLock<T>,
}

impl<T> core::ops::Deref for BhGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: we hold the lock.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T> core::ops::DerefMut for BhGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: we hold the lock.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T> Drop for BhGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: we hold the lock.
        unsafe { bindings::drlb_spin_unlock_bh(self.lock.lock.get()) };
    }
}
