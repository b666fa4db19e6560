// SPDX-License-Identifier: GPL-2.0

//! Neighbour-table changes (`register_netevent_notifier`): a real server's
//! MAC follows its ARP/ND entry the moment the entry changes.

use super::bindings;
use super::neigh::{entry_mac, NoMac};
use super::net::Net;
use core::ffi::{c_int, c_ulong, c_void};
use kernel::alloc::{flags::GFP_KERNEL, KBox};
use kernel::error::{to_result, Result};
use kernel::types::Opaque;

/// Told about every neighbour-entry update, in every namespace. Atomic
/// context (often softirq), under RCU: must not sleep.
pub(crate) trait NeighbourWatch: Send + Sync + 'static {
    /// Entry `n` changed (state, MAC), or is going away.
    fn updated(&self, n: &Neighbour);
}

/// A neighbour entry (`struct neighbour`), borrowed for one notification.
#[repr(transparent)]
pub(crate) struct Neighbour(Opaque<bindings::neighbour>);

impl Neighbour {
    fn raw(&self) -> *mut bindings::neighbour {
        self.0.get()
    }

    /// The namespace of the entry's device.
    pub(crate) fn net(&self) -> &Net {
        // SAFETY: the entry holds its device, and the device its namespace,
        // for the duration of the notification.
        unsafe { Net::from_raw(bindings::drlb_neigh_net(self.raw())) }
    }

    /// The device's ifindex.
    pub(crate) fn ifindex(&self) -> i32 {
        // SAFETY: as above.
        unsafe { bindings::drlb_neigh_ifindex(self.raw()) }
    }

    /// The IP address the entry resolves: 4 bytes (ARP) or 16 (ND); `None`
    /// for other tables.
    pub(crate) fn addr(&self) -> Option<&[u8]> {
        // SAFETY: the entry is alive; its table is ARP, ND or another with a
        // key of `key_len` bytes at `primary_key`.
        let (key, len) = unsafe { (bindings::drlb_neigh_key(self.raw()), bindings::drlb_neigh_key_len(self.raw())) };
        if len != 4 && len != 16 {
            return None;
        }
        // SAFETY: `len` bytes at `key` belong to the live entry.
        Some(unsafe { core::slice::from_raw_parts(key, len as usize) })
    }

    /// Whether the entry's device is Ethernet, the only kind drlb sends on.
    pub(crate) fn is_ether(&self) -> bool {
        // SAFETY: the entry holds its device for the notification.
        unsafe { bindings::drlb_neigh_ether(self.raw()) }
    }

    /// The MAC, while the entry is valid (NUD_VALID) and not going away;
    /// or why there is none.
    pub(crate) fn mac(&self) -> Result<[u8; 6], NoMac> {
        // SAFETY: the entry is alive for the notification.
        unsafe { entry_mac(self.raw()) }
    }
}

#[repr(C)]
struct Inner<T> {
    // First: the notifier block's address is `Inner`'s.
    nb: Opaque<bindings::notifier_block>,
    watch: T,
}

/// A registered netevent notifier; unregistered on drop (which waits for
/// running callbacks).
pub(crate) struct Registration<T: NeighbourWatch> {
    inner: KBox<Inner<T>>,
}

// SAFETY: the callbacks may run on any CPU; `T` is `Send + Sync`.
unsafe impl<T: NeighbourWatch> Send for Registration<T> {}
// SAFETY: `&Registration` exposes nothing.
unsafe impl<T: NeighbourWatch> Sync for Registration<T> {}

impl<T: NeighbourWatch> Registration<T> {
    /// Starts telling `watch` about neighbour updates.
    pub(crate) fn register(watch: T) -> Result<Self> {
        let inner = KBox::new(Inner { nb: Opaque::new(bindings::notifier_block::default()), watch }, GFP_KERNEL)?;
        // SAFETY: `nb` is ours and not yet registered.
        unsafe { (*inner.nb.get()).notifier_call = Some(callback::<T>) };
        // SAFETY: `nb` stays at its heap address until `drop` unregisters it.
        to_result(unsafe { bindings::register_netevent_notifier(inner.nb.get()) })?;
        Ok(Self { inner })
    }
}

impl<T: NeighbourWatch> Drop for Registration<T> {
    fn drop(&mut self) {
        // SAFETY: registered in `register`; this returns after a grace
        // period, so no callback still runs.
        unsafe { bindings::unregister_netevent_notifier(self.inner.nb.get()) };
    }
}

/// # Safety
///
/// Called by the netevent chain with our `notifier_block`, inside `Inner<T>`.
unsafe extern "C" fn callback<T: NeighbourWatch>(nb: *mut bindings::notifier_block, event: c_ulong, ptr: *mut c_void) -> c_int {
    if event == bindings::netevent_notif_type_NETEVENT_NEIGH_UPDATE as c_ulong && !ptr.is_null() {
        // SAFETY: `nb` is the first field of a live `Inner<T>`; for this
        // event `ptr` is a `struct neighbour` alive during the call.
        let (inner, n) = unsafe { (&*nb.cast::<Inner<T>>(), &*ptr.cast::<Neighbour>()) };
        inner.watch.updated(n);
    }
    0 // NOTIFY_DONE
}
