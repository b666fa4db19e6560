// SPDX-License-Identifier: GPL-2.0

//! The kernel API layer: the only place in drlb with `unsafe` and FFI.
//!
//! Each file wraps one kernel facility in a small safe abstraction, in the
//! style of `kernel::net::phy`: `#[repr(transparent)]` wrappers over
//! `Opaque<T>`, RAII registrations that unregister on drop, and a `// SAFETY:`
//! comment on every unsafe block. The raw items come from drlb's own
//! allowlisted bindgen run (`bindings.rs`) plus one-line C wrappers of static
//! inlines and macros (`helpers.c`); on the packet path, the few skb and
//! device fields it touches are reached directly (`skb.rs`).

mod bindings;
pub(crate) mod errno;
pub(crate) mod genetlink;
pub(crate) mod lock;
pub(crate) mod memcg;
pub(crate) mod neigh;
pub(crate) mod net;
pub(crate) mod netevent;
pub(crate) mod netfilter;
pub(crate) mod percpu;
pub(crate) mod pernet;
pub(crate) mod rcu;
pub(crate) mod rcu_free;
pub(crate) mod rcu_hash;
mod skb;
pub(crate) mod work;

/// A random `u32` (`get_random_u32`).
pub(crate) fn random_u32() -> u32 {
    // SAFETY: no preconditions.
    unsafe { bindings::get_random_u32() }
}

/// The `conn_max` module parameter: each new namespace's table bound
/// (checked once, at load).
pub(crate) fn param_conn_max() -> u32 {
    // SAFETY: reads a module parameter (set before init, read-only after).
    unsafe { bindings::drlb_param_conn_max() }
}

/// A reschedule point (`cond_resched`): lets other tasks run if this one has
/// had the CPU long enough, for long loops in process context. It may sleep:
/// call it outside any RCU read-side section or spinlock (with
/// CONFIG_DEBUG_ATOMIC_SLEEP the kernel says so if not).
pub(crate) fn cond_resched() {
    // SAFETY: no preconditions beyond process context, which the callers
    // (the upkeep work and genetlink handlers) are in.
    unsafe { bindings::drlb_cond_resched() }
}

/// The `conn_table_bits` module parameter: 0, or a fixed `1 << bits`
/// chains for every namespace's table (checked once, at load).
pub(crate) fn param_conn_table_bits() -> u32 {
    // SAFETY: reads a module parameter (set before init, read-only after).
    unsafe { bindings::drlb_param_conn_table_bits() }
}

/// The `start_standby` module parameter: whether each namespace's data
/// plane starts in the standby state (read when the namespace's state is
/// made: at load for the namespaces that exist, later for new ones).
pub(crate) fn param_start_standby() -> bool {
    // SAFETY: reads a module parameter (set before init, read-only after).
    unsafe { bindings::drlb_param_start_standby() }
}

/// Jiffies as milliseconds.
pub(crate) fn jiffies_to_msecs(j: u32) -> u32 {
    // SAFETY: pure arithmetic.
    unsafe { bindings::jiffies_to_msecs(j.into()) }
}
