// SPDX-License-Identifier: GPL-2.0

//! A spinlock taken with bottom halves disabled (`spin_lock_bh`), for data
//! shared between the packet path (softirq) and process context.
//!
//! It is the kernel crate's own [`Lock`] with a backend of ours: the lock is
//! pinned and initialised in place by pin-init (so no lock can be taken
//! before `spin_lock_init` ran, or after it moved), and every construction
//! site gets its own lockdep class, as `new_spinlock!` does. Use
//! [`new_bh_lock!`] to make one.

use super::bindings;
use kernel::sync::lock::{spinlock::SpinLockBackend, Backend, Lock};

/// The `spin_lock_bh` backend for [`Lock`]: `spinlock_t` initialised as the
/// kernel's `SpinLock` is (same helper, name and class key), taken with
/// bottom halves disabled.
pub(crate) struct BhBackend;

// SAFETY: `spin_lock_bh` excludes every other holder of the same
// `spinlock_t`, as `spin_lock` does (it also keeps softirqs off this CPU, so
// the packet path cannot interrupt a holder and spin on the lock it holds);
// `relock` keeps the default, which calls `lock`, the same method.
unsafe impl Backend for BhBackend {
    type State = <SpinLockBackend as Backend>::State;
    type GuardState = ();

    unsafe fn init(
        ptr: *mut Self::State,
        name: *const kernel::ffi::c_char,
        key: *mut kernel::bindings::lock_class_key,
    ) {
        // SAFETY: the caller passes what `SpinLockBackend::init` needs: `ptr`
        // valid for writes, `name` and `key` valid for reads forever.
        unsafe { SpinLockBackend::init(ptr, name, key) }
    }

    unsafe fn lock(ptr: *mut Self::State) -> Self::GuardState {
        // SAFETY: the caller guarantees `init` ran on `ptr` (a `Lock` exists
        // only once its initialiser has run). The cast is between two
        // bindgen runs' views of the same C `spinlock_t`.
        unsafe { bindings::drlb_spin_lock_bh(ptr.cast()) }
    }

    unsafe fn unlock(ptr: *mut Self::State, _guard_state: &Self::GuardState) {
        // SAFETY: the caller owns the lock, taken by `lock` above.
        unsafe { bindings::drlb_spin_unlock_bh(ptr.cast()) }
    }
}

/// A `T` guarded by a `spinlock_t` taken with bottom halves disabled.
pub(crate) type BhLock<T> = Lock<T, BhBackend>;

/// An initialiser for a [`BhLock`] holding `$inner`, with a lockdep class of
/// its own for this call site (and an optional name, else file:line), like
/// the kernel's `new_spinlock!`.
macro_rules! new_bh_lock {
    ($inner:expr $(, $name:literal)? $(,)?) => {
        $crate::kapi::lock::BhLock::new(
            $inner,
            ::kernel::optional_name!($($name)?),
            ::kernel::static_lock_class!(),
        )
    };
}
pub(crate) use new_bh_lock;
