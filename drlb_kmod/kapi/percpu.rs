// SPDX-License-Identifier: GPL-2.0

//! Per-CPU counters: the packet path adds to its own CPU's copy without
//! atomics or shared cache lines; readers sum over every possible CPU.

use super::bindings;
use core::ptr::NonNull;
use kernel::error::{code::ENOMEM, Result};

/// A per-CPU `u64` counter (`alloc_percpu(u64)`).
pub(crate) struct PerCpuCounter {
    /// A `__percpu` pointer: never dereferenced directly.
    ptr: NonNull<u64>,
}

// SAFETY: the per-CPU area may be used from any CPU; `add` goes through
// `this_cpu_add`, which is safe against preemption and interrupts.
unsafe impl Send for PerCpuCounter {}
// SAFETY: as above; `sum` only reads.
unsafe impl Sync for PerCpuCounter {}

impl PerCpuCounter {
    /// Allocates a zeroed counter.
    pub(crate) fn new() -> Result<Self> {
        // SAFETY: `alloc_percpu` has no preconditions; it returns zeroed
        // memory or NULL.
        let p = unsafe { bindings::drlb_alloc_percpu_u64() };
        let ptr = NonNull::new(p).ok_or(ENOMEM)?;
        Ok(Self { ptr })
    }

    /// Adds `v` to this CPU's copy.
    #[inline]
    pub(crate) fn add(&self, v: u64) {
        // On x86-64, `this_cpu_add` is one instruction, inline: an add to
        // the counter's offset from the per-CPU base in %gs.
        #[cfg(all(CONFIG_X86_64, CONFIG_SMP))]
        // SAFETY: `ptr` came from `alloc_percpu` and lives until drop; on
        // x86-64 such a pointer is an offset from this CPU's per-CPU base,
        // which %gs holds in the kernel. A single read-modify-write
        // instruction on this CPU's copy cannot be torn by preemption,
        // migration or an interrupt: it is `this_cpu_add`'s own code.
        unsafe {
            core::arch::asm!(
                "add qword ptr gs:[{p}], {v}",
                p = in(reg) self.ptr.as_ptr(),
                v = in(reg) v,
                options(nostack),
            )
        };
        #[cfg(not(all(CONFIG_X86_64, CONFIG_SMP)))]
        // SAFETY: `ptr` came from `alloc_percpu` and lives until drop.
        unsafe {
            bindings::drlb_this_cpu_add_u64(self.ptr.as_ptr(), v)
        };
    }

    /// The sum over every possible CPU. Concurrent adds may or may not be seen.
    pub(crate) fn sum(&self) -> u64 {
        let mut total = 0u64;
        for cpu in possible_cpus() {
            // SAFETY: `cpu` is a possible CPU, so `per_cpu_ptr` gives a valid
            // pointer into our allocation; a racy read of a u64 on 64-bit is
            // atomic enough for a statistic.
            total = total.wrapping_add(unsafe {
                core::ptr::read_volatile(bindings::drlb_per_cpu_ptr_u64(self.ptr.as_ptr(), cpu))
            });
        }
        total
    }
}

impl Drop for PerCpuCounter {
    fn drop(&mut self) {
        // SAFETY: `ptr` came from `__alloc_percpu` and is freed once.
        unsafe { bindings::free_percpu(self.ptr.as_ptr().cast()) }
    }
}

/// Iterates over the possible CPUs (`for_each_possible_cpu`).
fn possible_cpus() -> impl Iterator<Item = i32> {
    // SAFETY: reading `nr_cpu_ids` has no preconditions.
    let nr = unsafe { bindings::drlb_nr_cpu_ids() } as i32;
    // SAFETY: `cpumask_next` over the possible mask accepts any cpu >= -1.
    let next = |cpu: i32| unsafe { bindings::drlb_next_possible_cpu(cpu) };
    core::iter::successors(Some(next(-1)), move |&c| Some(next(c))).take_while(move |&c| c < nr)
}
