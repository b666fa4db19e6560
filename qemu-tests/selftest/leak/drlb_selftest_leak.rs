// SPDX-License-Identifier: GPL-2.0
//! The harness self-test's leak: loading this module leaks 100 small
//! allocations on purpose. The guest's kmemleak check must report them and
//! fail the scenario that loaded it (qemu-tests/selftest/leak.sh).

use kernel::prelude::*;

module! {
    type: Leak,
    name: "drlb_selftest_leak",
    author: "drlb",
    description: "Leaks memory on purpose, for the test harness's self-test",
    license: "GPL",
}

/// The module's (empty) state.
struct Leak;

impl kernel::Module for Leak {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        for i in 0..100u32 {
            // Leaked on purpose: nothing keeps the pointer.
            core::mem::forget(KBox::new([i; 16], GFP_KERNEL)?);
        }
        Ok(Leak)
    }
}
