//! The parts of drlb-tool that other programs share: address parsing and
//! the generic-netlink client of the `drlb` family (vrrpd uses it to switch
//! the module between active and standby).

pub mod addr;
pub mod netlink;
