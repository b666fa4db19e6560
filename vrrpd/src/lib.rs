//! vrrpd: the VRRP protocol core, free of I/O and tested on the host (the
//! wire format [`packet`], the RFC 5798 state machine [`fsm`], the TOML
//! configuration [`config`]), and the edges the daemon ([`daemon`]) drives
//! it through: the VRRP socket ([`sock`]), addresses and gratuitous ARP
//! ([`link`]) and the drlb module ([`lb`]).

pub mod config;
pub mod daemon;
pub mod fsm;
pub mod lb;
pub mod link;
pub mod packet;
pub mod sock;
