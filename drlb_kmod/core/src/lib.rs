//! drlb's shared logic.
//!
//! Every file in this directory is compiled twice: here, as the host crate
//! `drlb-core` that `cargo test` exercises and that drlb-tool depends on, and
//! inside `drlb.ko`, where `drlb_kmod/drlb_main.rs` mounts the same files with
//! `#[path]`. So the code is `no_std`, allocation-free and uses no `crate::`
//! paths: siblings are reached through `super::`.
#![no_std]

pub mod conn_policy;
pub mod dump;
pub mod hash;
pub mod lookup;
pub mod maglev;
pub mod proto;
pub mod sched;
pub mod seqcount;
pub mod sync_record;
pub mod tcp_state;
