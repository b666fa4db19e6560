// SPDX-License-Identifier: GPL-2.0

//! Periodic work on the system workqueue (a self-requeueing `delayed_work`),
//! cancelled and waited for on drop.

use super::bindings;
use core::sync::atomic::{AtomicBool, Ordering};
use kernel::alloc::{flags::GFP_KERNEL, KBox};
use kernel::error::Result;
use kernel::sync::Arc;
use kernel::types::Opaque;

/// Something done every period, in process context.
pub(crate) trait Tick: Send + Sync + 'static {
    /// One period's work.
    fn tick(&self);
}

#[repr(C)]
struct Inner<T> {
    // First: a `work_struct` pointer is a pointer to the `delayed_work`,
    // whose first field it is, and so to `Inner`.
    dw: Opaque<bindings::delayed_work>,
    stop: AtomicBool,
    period: core::ffi::c_ulong,
    data: Arc<T>,
}

/// Runs `T::tick` every `period` jiffies until dropped.
pub(crate) struct Periodic<T: Tick> {
    inner: KBox<Inner<T>>,
}

// SAFETY: the work item is driven by the workqueue on any CPU; `T` is
// `Send + Sync` and everything else is atomics or set before queueing.
unsafe impl<T: Tick> Send for Periodic<T> {}
// SAFETY: `&Periodic` exposes nothing.
unsafe impl<T: Tick> Sync for Periodic<T> {}

impl<T: Tick> Periodic<T> {
    /// Starts ticking `data` every `period` jiffies.
    pub(crate) fn start(data: Arc<T>, period: core::ffi::c_ulong) -> Result<Self> {
        let inner = KBox::new(
            Inner { dw: Opaque::uninit(), stop: AtomicBool::new(false), period, data },
            GFP_KERNEL,
        )?;
        // SAFETY: `dw` is ours, in a heap allocation that outlives the work
        // (drop cancels it before freeing).
        unsafe {
            bindings::drlb_init_delayed_work(inner.dw.get(), Some(work_callback::<T>));
            bindings::drlb_queue_delayed_work(inner.dw.get(), period);
        }
        Ok(Self { inner })
    }
}

impl<T: Tick> Drop for Periodic<T> {
    fn drop(&mut self) {
        self.inner.stop.store(true, Ordering::Release);
        // SAFETY: initialised in `start`; this waits for a running callback
        // and stops a self-requeueing one.
        unsafe { bindings::cancel_delayed_work_sync(self.inner.dw.get()) };
    }
}

/// # Safety
///
/// Called by the workqueue with the `work_struct` of an `Inner<T>`.
unsafe extern "C" fn work_callback<T: Tick>(work: *mut bindings::work_struct) {
    // SAFETY: `work` is the first field of the `delayed_work` that is the
    // first field of a live `Inner<T>` (drop cancels before freeing).
    let inner = unsafe { &*work.cast::<Inner<T>>() };
    inner.data.tick();
    if !inner.stop.load(Ordering::Acquire) {
        // SAFETY: as above.
        unsafe { bindings::drlb_queue_delayed_work(inner.dw.get(), inner.period) };
    }
}

/// The current time in jiffies.
#[inline]
pub(crate) fn jiffies() -> u64 {
    // SAFETY: `jiffies` is a kernel global, always mapped; the timer
    // interrupt updates it, hence a volatile read (as READ_ONCE), which on
    // the 64-bit machines drlb builds for is a single load.
    unsafe { core::ptr::read_volatile(&raw const bindings::jiffies) as u64 }
}

/// Ticks a second (the kernel's `HZ`, which is `CONFIG_HZ`: bindgen's `HZ`
/// would be the uapi header's, 100, the unit of clock_t).
pub(crate) const HZ: u32 = bindings::CONFIG_HZ;
