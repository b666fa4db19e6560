//! vrrpd: the director daemon. VRRP elects the master director and moves
//! the virtual IPs; health checks decide which real servers take traffic;
//! both drive the drlb module.
//!
//! The logic is free of I/O and tested on the host: the VRRP wire format
//! [`packet`] and state machine [`fsm`], the configuration [`config`], a
//! real server's [`health`], the check scheduler [`checks`], the
//! interfaces as rtnetlink reports them ([`links`]), the drlb module's
//! coming and going and a sync's order ([`genl`]), rate-limited logs
//! ([`loglimit`]), what the module should hold ([`services`]), what a
//! reload changes ([`reload`]), HTTP check exchanges ([`probe::http`]),
//! the metrics format ([`metrics`]), log lines ([`logger`]) and the
//! service manager's messages ([`notify`]), sync groups ([`sync`]) and
//! tracking's priority ([`track`]). The
//! [`daemon`]'s event loop drives them through the edges: VRRP instances
//! ([`instance`], [`sock`], [`link`]), probes ([`probe`]), the drlb module
//! ([`lb`]), the control socket ([`control`], [`serve`]) and the reports
//! ([`status`]).

pub mod ah;
pub mod checks;
pub mod config;
pub mod connsync;
pub mod control;
pub mod daemon;
pub mod fsm;
pub mod garp;
pub mod genl;
pub mod health;
pub mod instance;
pub mod keepalived;
pub mod lb;
pub mod link;
pub mod links;
pub mod logger;
pub mod loglimit;
pub mod metrics;
pub mod nlmsg;
pub mod notify;
pub mod owner;
pub mod packet;
pub mod probe;
pub mod realtime;
pub mod reload;
pub mod serve;
pub mod services;
pub mod sock;
pub mod status;
pub mod sync;
pub mod track;
pub mod vmac;
