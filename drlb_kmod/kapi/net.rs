// SPDX-License-Identifier: GPL-2.0

//! Network namespaces.

use super::bindings;
use kernel::types::Opaque;

/// A network namespace (`struct net`).
///
/// Only ever handed out by reference, for as long as the kernel guarantees the
/// namespace is alive: during a hook call, a netlink request or a pernet
/// callback.
#[repr(transparent)]
pub(crate) struct Net(Opaque<bindings::net>);

impl Net {
    /// Wraps a raw `struct net` pointer.
    ///
    /// # Safety
    ///
    /// `ptr` must be valid and the namespace alive for `'a`.
    pub(super) unsafe fn from_raw<'a>(ptr: *mut bindings::net) -> &'a Net {
        // SAFETY: `Net` is `repr(transparent)` over `Opaque<net>`, and the caller
        // guarantees the pointee is alive for `'a`.
        unsafe { &*ptr.cast::<Net>() }
    }

    /// The raw pointer, for the other `kapi` modules.
    pub(super) fn as_raw(&self) -> *mut bindings::net {
        self.0.get()
    }
}

/// A namespace pointer held by an object that the namespace's own pernet
/// exit destroys, so the namespace outlives it.
pub(crate) struct NetRef(*mut bindings::net);

// SAFETY: `struct net` may be used from any thread while alive.
unsafe impl Send for NetRef {}
// SAFETY: as above.
unsafe impl Sync for NetRef {}

impl NetRef {
    /// Keeps a pointer to `net`.
    ///
    /// # Safety
    ///
    /// The `NetRef` must be dropped no later than `net`'s pernet exit.
    pub(super) unsafe fn new(net: &Net) -> Self {
        Self(net.as_raw())
    }

    /// The namespace.
    pub(crate) fn get(&self) -> &Net {
        // SAFETY: alive for as long as `self`, per `new`'s contract.
        unsafe { Net::from_raw(self.0) }
    }
}
