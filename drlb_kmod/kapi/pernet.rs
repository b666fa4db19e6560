// SPDX-License-Identifier: GPL-2.0

//! Per-namespace state through `pernet_operations`.
//!
//! A type implementing [`NetData`] gets one instance per network namespace:
//! created when the namespace is (or at registration, for existing ones) and
//! dropped when it goes away (or at unregistration).

use super::bindings;
use super::net::{Net, NetRef};
use core::ffi::c_int;
use kernel::alloc::{flags::GFP_KERNEL, KBox};
use kernel::error::{to_result, Result};
use kernel::types::Opaque;

/// The id the kernel assigns to a pernet subsystem; one static per
/// [`NetData`] type.
pub(crate) struct PernetId(Opaque<u32>);

// SAFETY: the kernel writes the id once, during registration, before any
// callback or `get` can read it.
unsafe impl Sync for PernetId {}

impl PernetId {
    /// An id slot for `register_pernet_subsys` to fill.
    pub(crate) const fn new() -> Self {
        Self(Opaque::new(0))
    }

    fn get(&self) -> u32 {
        // SAFETY: written only by `register_pernet_subsys`, before use.
        unsafe { *self.0.get() }
    }
}

/// Per-namespace data.
pub(crate) trait NetData: Send + Sync + Sized + 'static {
    /// Where the kernel stores this subsystem's id: a `static` of the type's
    /// own.
    fn id() -> &'static PernetId;

    /// Creates the data for a new namespace. Dropping it is the exit, so
    /// `net_ref` (the same namespace) may be kept inside the data.
    fn init(net: &Net, net_ref: NetRef) -> Result<KBox<Self>>;
}

/// A registered pernet subsystem; unregisters (dropping every namespace's
/// data) on drop.
pub(crate) struct Registration<T: NetData> {
    ops: KBox<Opaque<bindings::pernet_operations>>,
    _t: core::marker::PhantomData<T>,
}

// SAFETY: registration and unregistration may happen on any thread.
unsafe impl<T: NetData> Send for Registration<T> {}
// SAFETY: `&Registration` only reads per-namespace data that is `Sync`.
unsafe impl<T: NetData> Sync for Registration<T> {}

impl<T: NetData> Registration<T> {
    /// Registers the subsystem; `T::init` runs for every existing namespace.
    pub(crate) fn register() -> Result<Self> {
        let ops = KBox::new(Opaque::new(bindings::pernet_operations::default()), GFP_KERNEL)?;
        // SAFETY: `ops` is a fresh, exclusively owned allocation.
        let raw = unsafe { &mut *ops.get() };
        raw.init = Some(init_callback::<T>);
        raw.exit = Some(exit_callback::<T>);
        raw.id = T::id().0.get();
        raw.size = core::mem::size_of::<*mut T>();
        // SAFETY: `ops` is fully initialised and stays at its address until
        // `drop` unregisters it.
        to_result(unsafe { bindings::register_pernet_subsys(ops.get()) })?;
        Ok(Self { ops, _t: core::marker::PhantomData })
    }

    /// The data of namespace `net`.
    pub(crate) fn get<'a>(&'a self, net: &'a Net) -> &'a T {
        // SAFETY: while registered, every live namespace has a slot holding the
        // pointer `init_callback` stored; it is freed only by `exit_callback`,
        // which cannot run while `net` is borrowed alive.
        unsafe { &**slot::<T>(net.as_raw()) }
    }
}

impl<T: NetData> Registration<T> {
    /// The data of `net`, or `None` while its init has not run (or its
    /// exit has): for callers outside the pernet lifecycle, such as
    /// notifiers.
    pub(crate) fn try_get<'a>(&'a self, net: &'a Net) -> Option<&'a T> {
        // SAFETY: the slot exists while registered and `net` is alive; it
        // holds null or the pointer `init_callback` stored, freed only by
        // `exit_callback` after clearing the slot.
        let p = unsafe { core::ptr::read_volatile(slot::<T>(net.as_raw())) };
        // SAFETY: non-null means live, as above.
        (!p.is_null()).then(|| unsafe { &*p })
    }
}

impl<T: NetData> Drop for Registration<T> {
    fn drop(&mut self) {
        // SAFETY: registered in `register`; runs `exit_callback` for every
        // namespace.
        unsafe { bindings::unregister_pernet_subsys(self.ops.get()) };
    }
}

/// The `net_generic` slot holding a `*mut T`.
///
/// # Safety
///
/// `net` must be alive and the subsystem registered.
unsafe fn slot<T: NetData>(net: *mut bindings::net) -> *mut *mut T {
    // SAFETY: per the function's contract.
    unsafe { bindings::drlb_net_generic(net, T::id().get()).cast::<*mut T>() }
}

/// # Safety
///
/// Called by the pernet core with a namespace being set up.
unsafe extern "C" fn init_callback<T: NetData>(net: *mut bindings::net) -> c_int {
    // SAFETY: the namespace is alive during its init callback.
    let n = unsafe { Net::from_raw(net) };
    // SAFETY: the data this `NetRef` goes into is dropped by
    // `exit_callback`, before the namespace goes away.
    let net_ref = unsafe { NetRef::new(n) };
    let data = match T::init(n, net_ref) {
        Ok(d) => d,
        Err(e) => return e.to_errno(),
    };
    // SAFETY: the core allocated our zeroed slot before calling init.
    unsafe { *slot::<T>(net) = KBox::into_raw(data) };
    0
}

/// # Safety
///
/// Called by the pernet core with a namespace whose init succeeded.
unsafe extern "C" fn exit_callback<T: NetData>(net: *mut bindings::net) {
    // SAFETY: the slot holds the pointer `init_callback` stored.
    let p = unsafe { core::ptr::replace(slot::<T>(net), core::ptr::null_mut()) };
    if !p.is_null() {
        // SAFETY: `p` came from `KBox::into_raw` and is reclaimed once.
        drop(unsafe { KBox::from_raw(p) });
    }
}
