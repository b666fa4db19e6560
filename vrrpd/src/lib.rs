//! The VRRP protocol core of vrrpd, free of I/O so that it is tested on the
//! host: the wire format ([`packet`]), the RFC 5798 state machine ([`fsm`])
//! and the TOML configuration ([`config`]).

pub mod config;
pub mod fsm;
pub mod packet;
