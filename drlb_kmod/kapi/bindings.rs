// SPDX-License-Identifier: GPL-2.0

//! Raw bindings from drlb's own allowlisted bindgen run over `bindings.h`
//! (see `bindgen.sh`). Only the other `kapi` modules use these; the rest of
//! the module sees safe wrappers.

#![allow(
    unreachable_pub,
    non_camel_case_types,
    non_upper_case_globals,
    non_snake_case,
    dead_code,
    missing_docs,
    clippy::all,
    unsafe_op_in_unsafe_fn,
    improper_ctypes,
    unnecessary_transmutes,
    unused_imports
)]

use core::ffi;
type __kernel_size_t = usize;
type __kernel_ssize_t = isize;
type __kernel_ptrdiff_t = isize;

include!("bindings_generated.rs");
