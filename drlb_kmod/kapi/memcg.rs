// SPDX-License-Identifier: GPL-2.0

//! Charging allocations to a memory cgroup chosen in advance, in any
//! context.
//!
//! `__GFP_ACCOUNT` charges an allocation to the memory cgroup of the task
//! that makes it, and only in task context: in a softirq the kernel charges
//! the cgroup that `set_active_memcg()` set on this CPU (`int_active_memcg`)
//! and, if none is set, nothing at all (`current_obj_cgroup()` in
//! mm/memcontrol.c returns NULL). drlb's connection entries are made in the
//! softirq of whatever packet starts a flow, so `GFP_ATOMIC | __GFP_ACCOUNT`
//! alone would charge them to no one. As BPF maps do for elements created
//! from a program (`bpf_map_kmalloc_node`), the table keeps a reference to
//! the cgroup it charges, taken when it was sized, and each entry is
//! allocated inside a `set_active_memcg()` scope for it ([`MemCgroup::charge`]).

use super::bindings;
use core::ptr::NonNull;

/// A counted reference to a memory cgroup (`struct mem_cgroup`).
pub(crate) struct MemCgroup(NonNull<bindings::mem_cgroup>);

// SAFETY: a counted reference may be used, and dropped, on any CPU.
unsafe impl Send for MemCgroup {}
// SAFETY: `&MemCgroup` only opens charging scopes, which are per task or
// per CPU.
unsafe impl Sync for MemCgroup {}

impl MemCgroup {
    /// The memory cgroup of the current task (of its mm's owner), or `None`
    /// when the kernel has no memory cgroups. Process context.
    pub(crate) fn current() -> Option<Self> {
        // SAFETY: no preconditions in process context; the result is NULL or
        // a counted reference (none is counted for the root cgroup, whose
        // `mem_cgroup_put` does nothing).
        NonNull::new(unsafe { bindings::drlb_memcg_current() }).map(Self)
    }

    /// Runs `f` with every `__GFP_ACCOUNT` allocation it makes charged to
    /// this cgroup, in task context or not (`set_active_memcg`, which
    /// nests).
    pub(crate) fn charge<R>(&self, f: impl FnOnce() -> R) -> R {
        // SAFETY: our reference keeps the cgroup alive for the whole scope,
        // and the scope ends below, in the same context, restoring the
        // outer one.
        let outer = unsafe { bindings::drlb_set_active_memcg(self.0.as_ptr()) };
        let r = f();
        // SAFETY: ends the scope begun above.
        unsafe { bindings::drlb_set_active_memcg(outer) };
        r
    }
}

impl Drop for MemCgroup {
    fn drop(&mut self) {
        // SAFETY: we own one reference, given back once.
        unsafe { bindings::drlb_mem_cgroup_put(self.0.as_ptr()) };
    }
}
