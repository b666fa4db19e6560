// SPDX-License-Identifier: GPL-2.0

//! The decision: which real server a packet of a service's flow goes to,
//! and what state that makes. [`Dataplane::route`] decides and changes
//! nothing; the packet path ([`Dataplane::pick`]) carries the decision out
//! (entries, connection counts, the flood meter) and the flow query
//! ([`Dataplane::query`]) reports it, so the two cannot drift apart.
//!
//! The policy, in order:
//! 1. A flow with an entry goes where the entry says, unless its real
//!    server was deleted and `expire_nodest` is on, or the packet is a SYN
//!    that reuses the port of a connection the client closed
//!    ([`tcp_state::reopens`]): that is a new connection.
//! 2. With persistence, a client with a live template goes to the
//!    template's real server.
//! 3. A TCP segment without SYN and without an entry (a flow from another
//!    director after a failover, one placed in flood mode, or a forged one)
//!    is placed without state by the service's Maglev table, as every
//!    director would place it. It makes no entry, so forged segments
//!    cannot fill the table, evict real connections or skew lc/wlc; it
//!    counts as a new flow for flood mode.
//! 4. In flood mode, a new flow is placed the same way, without state.
//! 5. Otherwise the scheduler picks, and the flow gets an entry (and, with
//!    persistence, the client a template).

use crate::conn::{Conn, InsertError, F_TEMPLATE};
use crate::dataplane::{account, jiffies32, on_unlink, secs, Dataplane, IPPROTO_TCP};
use crate::hash;
use crate::kapi::rcu::RcuGuard;
use crate::proto;
use crate::receive::Flow;
use crate::service::{Addr, Real, Service};
use crate::tcp_state::{self, TcpFlags, TcpState};
use core::sync::atomic::Ordering::Relaxed;
use kernel::sync::Arc;

/// What the decision found for a packet.
pub(crate) enum Route<'g> {
    /// The flow's entry.
    Entry(&'g Conn),
    /// The client's persistence template, and its real server.
    Template(&'g Conn, &'g Arc<Real>),
    /// No state: the Maglev table's pick (if any real server is usable),
    /// and why (`proto::REASON_MIDFLOW` or `REASON_FLOOD`).
    Stateless(Option<&'g Arc<Real>>, u8),
    /// A new flow, for the scheduler.
    Schedule,
}

/// The facts of a packet the decision depends on.
pub(crate) struct Ask<'a> {
    /// The client's address.
    pub(crate) client: &'a Addr,
    /// The client's port.
    pub(crate) cport: u16,
    /// A SYN, or any UDP datagram: a packet that may open a flow.
    pub(crate) opening: bool,
    /// A TCP segment's flags (none for UDP).
    pub(crate) flags: TcpFlags,
}

/// The hash of the flow `ask` to `svc`, which stateless placement (and
/// maglev with [`proto::SVC_F_MH_PORT`]) uses: computed only on those
/// paths, never for a packet of a flow with an entry.
fn flow_hash(svc: &Service, ask: &Ask<'_>) -> u32 {
    let k = &svc.key;
    hash::flow_hash(ask.client.as_slice(), ask.cport, k.vip.as_slice(), k.port, k.proto, svc.settings.seed)
}

impl Dataplane {
    /// Where a packet of `svc` goes, changing nothing. `flood` says whether
    /// flood mode is engaged; it is asked only for a packet with neither
    /// entry nor template (the packet path counts the new flow there).
    pub(crate) fn route<'g>(
        &'g self,
        g: &'g RcuGuard,
        svc: &'g Service,
        ask: &Ask<'_>,
        now: u32,
        flood: impl FnOnce() -> bool,
    ) -> Route<'g> {
        match self.conns.lookup(g, svc.id, ask.client, ask.cport, 0, now) {
            Some(c) if self.follows(c, ask.flags) => Route::Entry(c),
            _ => self.route_new(g, svc, ask, now, flood),
        }
    }

    /// Whether a packet with `flags` follows the flow's entry `c`: not when
    /// its real server was deleted and `expire_nodest` is on, nor when it
    /// is a SYN that reuses the port of a connection the client closed.
    fn follows(&self, c: &Conn, flags: TcpFlags) -> bool {
        !(self.expire_nodest.load(Relaxed) && c.real().removed.load(Relaxed)) && !reopened(c, flags)
    }

    /// Where a packet of `svc` that follows no entry goes ([`Self::route`]
    /// after the entry).
    fn route_new<'g>(
        &'g self,
        g: &'g RcuGuard,
        svc: &'g Service,
        ask: &Ask<'_>,
        now: u32,
        flood: impl FnOnce() -> bool,
    ) -> Route<'g> {
        if svc.settings.persistence > 0 {
            if let Some((t, r)) = self.template(g, svc, ask.client, now) {
                return Route::Template(t, r);
            }
        }
        let flooding = flood();
        if !ask.opening {
            return Route::Stateless(svc.stateless_midflow(ask.client, || flow_hash(svc, ask)), proto::REASON_MIDFLOW);
        }
        if flooding {
            return Route::Stateless(svc.stateless(ask.client, || flow_hash(svc, ask)), proto::REASON_FLOOD);
        }
        Route::Schedule
    }

    /// The real server for a packet of `svc`, making the state the decision
    /// calls for.
    pub(crate) fn pick<'g>(&'g self, g: &'g RcuGuard, svc: &'g Service, f: &Flow) -> Option<&'g Real> {
        let now = jiffies32();
        let tcp = f.proto == IPPROTO_TCP;
        let flags = TcpFlags::from_header_byte(f.tcp_flags);
        let ask = Ask { client: &f.saddr, cport: f.sport, opening: !tcp || flags.syn, flags };
        // One lookup, as in [`Self::route`]: the entry, if followed.
        let route = match self.conns.lookup(g, svc.id, &f.saddr, f.sport, 0, now) {
            Some(c) if self.follows(c, flags) => Route::Entry(c),
            found => {
                // A SYN that reuses the port of a connection the client
                // closed ends that connection's entry: from here on this is
                // a new flow (scheduled, counted, or placed without state in
                // flood mode), and its later segments must not follow the
                // old entry.
                if found.is_some_and(|c| reopened(c, flags)) {
                    self.conns.remove(g, svc.id, &f.saddr, f.sport, 0, |c| reopened(c, flags), &on_unlink);
                }
                self.route_new(g, svc, &ask, now, || self.count_new_flow(now))
            }
        };
        match route {
            Route::Entry(c) => {
                let (state, moved) = if tcp { advance(c, flags) } else { (0, false) };
                let old = c.expires();
                let new = self.conn_expiry(f.proto, state, now);
                c.touch(new);
                if moved {
                    self.sync_entry(svc, c, now);
                } else {
                    self.sync_refresh(svc, c, now, old, new);
                }
                Some(c.real())
            }
            Route::Template(t, r) => {
                let old = t.expires();
                let new = now.wrapping_add(secs(svc.settings.persistence));
                t.touch(new);
                self.sync_refresh(svc, t, now, old, new);
                if !ask.opening {
                    return Some(r); // a mid-flow segment follows it and makes nothing
                }
                svc.stats.conn();
                r.stats.conn();
                if self.count_new_flow(now) {
                    self.counters.stateless.add(1);
                    return Some(r);
                }
                Some(self.enter(g, svc, f, r, flags, now).unwrap_or(r))
            }
            Route::Stateless(r, reason) => {
                if reason == proto::REASON_MIDFLOW {
                    self.counters.midflow.add(1);
                } else {
                    self.counters.stateless.add(1);
                    svc.stats.conn();
                    if let Some(r) = r {
                        r.stats.conn();
                    }
                }
                r.map(|r| &**r)
            }
            Route::Schedule => {
                let real = svc.schedule(&f.saddr, || flow_hash(svc, &ask))?;
                svc.stats.conn();
                real.stats.conn();
                if svc.settings.persistence > 0 {
                    let exp = now.wrapping_add(secs(svc.settings.persistence));
                    let stale = |c: &Conn| c.real().removed.load(Relaxed);
                    let t = self.conns.insert(g, svc.id, &f.saddr, 0, F_TEMPLATE, real.clone(), 0, now, exp, &stale, &on_unlink);
                    if let Ok(t) = t.as_ref() {
                        if t.new {
                            self.sync_entry(svc, t.conn, now);
                        }
                    }
                }
                match self.enter(g, svc, f, real, flags, now) {
                    Some(r) => Some(r),
                    // No state for this flow: its later packets will be
                    // placed by the table, so its first one must be too
                    // (with persistence, the template holds it).
                    None if svc.settings.persistence > 0 => Some(real),
                    None => svc.stateless(&f.saddr, || flow_hash(svc, &ask)).map(|r| &**r),
                }
            }
        }
    }

    /// Makes the entry of flow `f` to `real`; the real server of the entry
    /// in the table (another CPU's, if it made one first), or None if the
    /// table had no room or memory.
    fn enter<'g>(
        &'g self,
        g: &'g RcuGuard,
        svc: &Service,
        f: &Flow,
        real: &Arc<Real>,
        flags: TcpFlags,
        now: u32,
    ) -> Option<&'g Real> {
        let state = if f.proto == IPPROTO_TCP { tcp_state::next(TcpState::None, flags).as_u8() } else { 0 };
        let exp = self.conn_expiry(f.proto, state, now);
        let reap = self.expire_nodest.load(Relaxed);
        // The entry of a flow whose real server was deleted gives way.
        let stale = |c: &Conn| reap && c.real().removed.load(Relaxed);
        match self.conns.insert(g, svc.id, &f.saddr, f.sport, 0, real.clone(), state, now, exp, &stale, &on_unlink) {
            Ok(ins) => {
                if ins.new {
                    account(real, None, Some(state));
                    self.sync_entry(svc, ins.conn, now);
                }
                Some(ins.conn.real())
            }
            Err(InsertError::Full | InsertError::NoMemory) => {
                self.counters.stateless.add(1);
                None
            }
        }
    }

    /// Where a packet of (`client`:`cport` to `svc`) would go now and why
    /// (a `proto::REASON_*`), changing nothing: no entry is made, no
    /// counter or round-robin cursor moves. `syn`: a TCP segment opening a
    /// connection (ignored for UDP).
    pub(crate) fn query<'g>(
        &'g self,
        g: &'g RcuGuard,
        svc: &'g Service,
        client: &Addr,
        cport: u16,
        syn: bool,
    ) -> Option<(&'g Real, u8)> {
        let now = jiffies32();
        let tcp = svc.key.proto == IPPROTO_TCP;
        let flags = TcpFlags { syn: tcp && syn, ..TcpFlags::default() };
        let ask = Ask { client, cport, opening: !tcp || syn, flags };
        match self.route(g, svc, &ask, now, || self.flooding()) {
            Route::Entry(c) => Some((c.real(), proto::REASON_CONN)),
            Route::Template(_, r) => Some((&**r, proto::REASON_PERSISTENCE)),
            Route::Stateless(r, reason) => r.map(|r| (&**r, reason)),
            Route::Schedule => svc.peek(client, || flow_hash(svc, &ask)).map(|r| (&**r, proto::REASON_SCHEDULER)),
        }
    }

    /// The real server of the flow an ICMP error quotes (client `client`:
    /// `cport`): its entry's, the client's template's, or where stateless
    /// placement puts it, as it placed the flow's packets. Changes nothing.
    pub(crate) fn route_icmp<'g>(&'g self, g: &'g RcuGuard, svc: &'g Service, client: &Addr, cport: u16) -> Option<&'g Real> {
        let ask = Ask { client, cport, opening: false, flags: TcpFlags::default() };
        match self.route(g, svc, &ask, jiffies32(), || false) {
            Route::Entry(c) => Some(c.real()),
            Route::Template(_, r) => Some(r),
            Route::Stateless(r, _) => r.map(|r| &**r),
            Route::Schedule => None, // (not for a packet that opens nothing)
        }
    }

    /// The client's live persistence template and its real server, while
    /// that server is still one of the service's and reachable: a client
    /// sticks to it even at weight 0, as in IPVS (a quiescent server keeps
    /// its persistent clients).
    fn template<'g, 's>(
        &'g self,
        g: &'g RcuGuard,
        svc: &'s Service,
        client: &Addr,
        now: u32,
    ) -> Option<(&'g Conn, &'s Arc<Real>)> {
        let t = self.conns.lookup(g, svc.id, client, 0, F_TEMPLATE, now)?;
        let r = svc.reals.iter().find(|r| core::ptr::eq(&***r, t.real()))?;
        r.location().is_some().then_some((t, r))
    }
}

/// Whether a segment with `flags` opens a new connection over `c`'s (a bare
/// SYN after the client closed it). Never for a template (cport 0, state
/// NONE) or a UDP entry, whose flags are none.
fn reopened(c: &Conn, flags: TcpFlags) -> bool {
    TcpState::from_u8(c.state()).is_some_and(|s| tcp_state::reopens(s, flags))
}

/// Moves a TCP entry's state on a segment with `flags`, counting the move
/// once however many CPUs see the flow's packets; the state now, and
/// whether this call moved it.
fn advance(c: &Conn, flags: TcpFlags) -> (u8, bool) {
    let s = c.state();
    let Some(cur) = TcpState::from_u8(s) else {
        return (s, false); // gone from the table
    };
    let n = tcp_state::next(cur, flags).as_u8();
    if n != s && c.change_state(s, n) {
        account(c.real(), Some(s), Some(n));
        return (n, true);
    }
    (n, false)
}
