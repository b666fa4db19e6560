// SPDX-License-Identifier: GPL-2.0

//! Freeing a boxed object after an RCU grace period (`call_rcu`).

use super::bindings;
use kernel::alloc::KBox;
use kernel::types::Opaque;

/// The `rcu_head` an object embeds to be freed with [`RcuFree`]; only ever
/// reached through its offset.
pub(crate) struct RcuHead(#[allow(dead_code)] Opaque<bindings::callback_head>);

// SAFETY: only RCU touches the head, once the object is queued for freeing.
unsafe impl Send for RcuHead {}
// SAFETY: as above; `&RcuHead` exposes nothing.
unsafe impl Sync for RcuHead {}

impl RcuHead {
    /// An unused head.
    pub(crate) const fn new() -> Self {
        Self(Opaque::uninit())
    }
}

/// Objects that embed an [`RcuHead`] at `HEAD_OFFSET` and are boxed.
///
/// # Safety
///
/// `HEAD_OFFSET` must be the offset of an [`RcuHead`] field in `Self`.
pub(crate) unsafe trait RcuFree: Sized + Send {
    /// `core::mem::offset_of!(Self, the_head_field)`.
    const HEAD_OFFSET: usize;

    /// Drops and frees `p` once every current RCU reader is done.
    ///
    /// # Safety
    ///
    /// `p` came from `KBox::into_raw`, is no longer reachable by new
    /// readers, and is freed only through this call.
    unsafe fn free_after_grace_period(p: *mut Self) {
        // SAFETY: per the trait and function contracts.
        unsafe {
            let head = p.cast::<u8>().add(Self::HEAD_OFFSET).cast::<bindings::callback_head>();
            bindings::call_rcu(head, Some(free_callback::<Self>));
        }
    }
}

/// # Safety
///
/// Called by RCU with the head of an object queued by
/// [`RcuFree::free_after_grace_period`].
unsafe extern "C" fn free_callback<T: RcuFree>(head: *mut bindings::callback_head) {
    // SAFETY: `head` is `HEAD_OFFSET` bytes into a boxed `T`.
    drop(unsafe { KBox::from_raw(head.cast::<u8>().sub(T::HEAD_OFFSET).cast::<T>()) });
}
