//! The parts of drlb-tool that other programs share: address parsing, the
//! generic-netlink client of the `drlb` family (vrrpd uses it to switch
//! the module between active and standby), reading the running
//! configuration (`list`), and whole configurations as files with the
//! operations that turn one into another (`config`).

pub mod addr;
pub mod config;
pub mod list;
pub mod netlink;
pub mod sync;
