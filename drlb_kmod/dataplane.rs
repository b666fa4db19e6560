// SPDX-License-Identifier: GPL-2.0

//! The packet path: what the PRE_ROUTING hook does with each packet, and
//! the periodic upkeep (expiry, real-server resolution, rate estimates).

use crate::conn::{Conn, ConnTable, InsertError, F_TEMPLATE};
use crate::conn_policy::FloodMeter;
use crate::hash;
use crate::kapi::neigh;
use crate::kapi::net::NetRef;
use crate::kapi::netfilter::{Family, Hook, Packet, Verdict};
use crate::kapi::percpu::PerCpuCounter;
use crate::kapi::rcu::{RcuBox, RcuGuard};
use crate::kapi::work::{jiffies, Tick};
use crate::proto;
use crate::service::{Addr, Config, Real, Service, ServiceKey};
use crate::stats::ESTIMATOR_PERIOD_S;
use crate::tcp_state::{self, TcpFlags, TcpState, Timeouts};
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, Ordering::Relaxed};
use kernel::prelude::*;
use kernel::sync::Arc;
use kernel::time::msecs_to_jiffies;

const IPPROTO_TCP: u8 = 6;
const IPPROTO_UDP: u8 = 17;
/// Where UDP's timeout sits in [`Dataplane::timeouts`], after the TCP states.
const UDP_SLOT: usize = tcp_state::STATE_COUNT;

/// The connection table's buckets (as a power of two).
const CONN_TABLE_BITS: u32 = 14;
/// New connections per second above which flood mode engages (Katran's
/// per-core figure, times the CPUs counted together here); 0 turns it off.
pub(crate) const DEFAULT_FLOOD_RATE: u32 = 125_000;

/// Counters of the data plane's exceptional paths.
pub(crate) struct Counters {
    /// IP fragments for a service, handed to the stack.
    pub(crate) fragments: PerCpuCounter,
    /// Flows forwarded without state (flood mode or a full table).
    pub(crate) stateless: PerCpuCounter,
    /// Packets dropped: no usable real server.
    pub(crate) no_real: PerCpuCounter,
    /// Packets dropped: the egress device failed.
    pub(crate) xmit_errors: PerCpuCounter,
}

/// One namespace's data plane.
pub(crate) struct Dataplane {
    state: AtomicU8,
    hook_packets: PerCpuCounter,
    /// The configuration the packet path reads.
    pub(crate) config: RcuBox<Arc<Config>>,
    /// The connection table.
    pub(crate) conns: KBox<ConnTable>,
    /// Timeouts in seconds: TCP by state, then UDP.
    timeouts: [AtomicU32; tcp_state::STATE_COUNT + 1],
    /// Expire the connections of a deleted real server (IPVS's
    /// `expire_nodest_conn`), rescheduling their next packet.
    pub(crate) expire_nodest: AtomicBool,
    /// Flood threshold, new connections per second; 0: never.
    pub(crate) flood_rate: AtomicU32,
    /// New connections in the current one-second window.
    flood: FloodMeter,
    ticks: AtomicU64,
    /// Counters.
    pub(crate) counters: Counters,
    /// Service ids: unique per namespace, never reused.
    pub(crate) next_service_id: AtomicU32,
    net: NetRef,
}

/// The parts of a packet the data plane looks at.
struct Flow {
    proto: u8,
    saddr: Addr,
    daddr: Addr,
    sport: u16,
    dport: u16,
    tcp_flags: u8,
    fragment: bool,
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

impl Flow {
    fn parse(family: Family, pkt: &mut Packet<'_>) -> Option<Flow> {
        let (proto, saddr, daddr, l4, fragment) = match family {
            Family::Ipv4 => {
                let h = pkt.header(20)?;
                let ihl = usize::from(h[0] & 0x0f) * 4;
                if h[0] >> 4 != 4 || ihl < 20 {
                    return None;
                }
                let frag = be16(h, 6) & 0x3fff != 0; // MF or an offset
                (h[9], Addr::from_slice(&h[16..20])?, Addr::from_slice(&h[12..16])?, ihl, frag)
            }
            Family::Ipv6 => {
                let h = pkt.header(40)?;
                let (s, d) = (Addr::from_slice(&h[8..24])?, Addr::from_slice(&h[24..40])?);
                let next = h[6];
                let (proto, off, frag) = if next == IPPROTO_TCP || next == IPPROTO_UDP {
                    (next, 40, false)
                } else {
                    let (p, o, f) = pkt.ipv6_upper(next)?;
                    (p, o as usize, f)
                };
                (proto, d, s, off, frag)
            }
        };
        let (saddr, daddr) = (daddr, saddr); // bound above as (dst, src)
        if proto != IPPROTO_TCP && proto != IPPROTO_UDP {
            return None;
        }
        if fragment {
            return Some(Flow { proto, saddr, daddr, sport: 0, dport: 0, tcp_flags: 0, fragment });
        }
        let need = l4 + if proto == IPPROTO_TCP { 14 } else { 4 };
        let h = pkt.header(need as u32)?;
        let tcp_flags = if proto == IPPROTO_TCP { h[l4 + 13] } else { 0 };
        Some(Flow { proto, saddr, daddr, sport: be16(h, l4), dport: be16(h, l4 + 2), tcp_flags, fragment })
    }
}

fn jiffies32() -> u32 {
    jiffies() as u32
}

fn secs(s: u32) -> u32 {
    msecs_to_jiffies(s.saturating_mul(1000)) as u32
}

/// Keeps a real server's active/inactive counts as a connection's state
/// changes (templates are not connections).
fn account(real: &Real, from: Option<u8>, to: Option<u8>) {
    let active = |s: u8| TcpState::from_u8(s).is_some_and(tcp_state::is_active);
    let counter = |s: u8| if active(s) { &real.active } else { &real.inactive };
    if let (Some(f), Some(t)) = (from, to) {
        if active(f) == active(t) {
            return;
        }
    }
    if let Some(f) = from {
        let _ = counter(f).fetch_update(Relaxed, Relaxed, |v| Some(v.saturating_sub(1)));
    }
    if let Some(t) = to {
        counter(t).fetch_add(1, Relaxed);
    }
}

fn on_unlink(c: &Conn) {
    if !c.is_template() {
        account(c.real(), Some(c.state()), None);
    }
}

impl Dataplane {
    /// A data plane for `net`, in the active state, as IPVS always is:
    /// forwarding starts as soon as a service exists unless a VRRP daemon
    /// says otherwise.
    pub(crate) fn new(net: NetRef, seed: u32) -> Result<Self> {
        let timeouts = core::array::from_fn(|i| {
            let t = Timeouts::DEFAULT;
            AtomicU32::new(match TcpState::from_u8(i as u8) {
                Some(s) if i < UDP_SLOT => t.timeout_for(s),
                _ => t.udp,
            })
        });
        Ok(Self {
            state: AtomicU8::new(proto::STATE_ACTIVE),
            hook_packets: PerCpuCounter::new()?,
            config: RcuBox::new(Config::boxed(KVec::new())?),
            conns: ConnTable::new(CONN_TABLE_BITS, crate::kapi::param_conn_max().max(1), seed)?,
            timeouts,
            expire_nodest: AtomicBool::new(true),
            flood_rate: AtomicU32::new(DEFAULT_FLOOD_RATE),
            flood: FloodMeter::new(),
            ticks: AtomicU64::new(0),
            counters: Counters {
                fragments: PerCpuCounter::new()?,
                stateless: PerCpuCounter::new()?,
                no_real: PerCpuCounter::new()?,
                xmit_errors: PerCpuCounter::new()?,
            },
            next_service_id: AtomicU32::new(1),
            net,
        })
    }

    /// The current state.
    pub(crate) fn state(&self) -> u8 {
        self.state.load(Relaxed)
    }

    /// Switches state; returns the previous one.
    pub(crate) fn set_state(&self, state: u8) -> u8 {
        self.state.swap(state, Relaxed)
    }

    /// Packets seen by this namespace's hooks.
    pub(crate) fn hook_packets(&self) -> u64 {
        self.hook_packets.sum()
    }

    /// Whether flood mode is engaged: more new connections in the current
    /// one-second window than the threshold.
    pub(crate) fn flooding(&self) -> bool {
        self.flood.engaged(jiffies32(), secs(1), self.flood_rate.load(Relaxed))
    }

    /// Counts a new connection; returns whether flood mode is engaged.
    fn count_new_conn(&self, now: u32) -> bool {
        self.flood.count_new(now, secs(1), self.flood_rate.load(Relaxed))
    }

    /// A timeout in seconds: a TCP state's, or UDP's (`None`).
    pub(crate) fn timeout(&self, state: Option<TcpState>) -> u32 {
        self.timeouts[state.map_or(UDP_SLOT, |s| s.as_u8() as usize)].load(Relaxed)
    }

    /// Sets a timeout in seconds: a TCP state's, or UDP's (`None`).
    pub(crate) fn set_timeout(&self, state: Option<TcpState>, secs: u32) {
        self.timeouts[state.map_or(UDP_SLOT, |s| s.as_u8() as usize)].store(secs, Relaxed);
    }

    /// The current configuration, held outside any RCU section (for the
    /// control path and the upkeep, which may sleep).
    pub(crate) fn current(&self) -> Arc<Config> {
        let g = RcuGuard::lock();
        self.config.get(&g).clone()
    }

    /// Removes connections matching `pred` (counts kept right).
    pub(crate) fn expire_conns(&self, pred: impl Fn(&Conn) -> bool) {
        self.conns.retain(None, pred, &on_unlink);
    }

    fn conn_expiry(&self, proto: u8, state: u8, now: u32) -> u32 {
        let t = if proto == IPPROTO_TCP { self.timeout(TcpState::from_u8(state)) } else { self.timeout(None) };
        now.wrapping_add(secs(t))
    }

    /// The real server for a packet of `svc`, creating state as needed.
    fn pick<'g>(&'g self, g: &'g RcuGuard, svc: &'g Service, f: &Flow) -> Option<&'g Real> {
        let now = jiffies32();
        let tcp = f.proto == IPPROTO_TCP;
        let reap = self.expire_nodest.load(Relaxed);
        if let Some(c) = self.conns.lookup(g, svc.id, &f.saddr, f.sport, 0, now) {
            let r = c.real();
            if !(reap && r.removed.load(Relaxed)) {
                let state = if tcp {
                    let s = TcpState::from_u8(c.state()).unwrap_or(TcpState::None);
                    let n = tcp_state::next(s, TcpFlags::from_header_byte(f.tcp_flags)).as_u8();
                    if n != s.as_u8() {
                        c.set_state(n);
                        account(r, Some(s.as_u8()), Some(n));
                    }
                    n
                } else {
                    0
                };
                c.touch(self.conn_expiry(f.proto, state, now));
                return Some(r);
            }
        }
        // A new flow. A TCP segment other than a SYN belongs to a flow this
        // director has not seen (a failover, or a flow from flood mode): send
        // it where every director would, by consistent hashing.
        let hash = hash::flow_hash(f.saddr.as_slice(), f.sport, f.daddr.as_slice(), f.dport, f.proto, svc.settings.seed);
        let flags = TcpFlags::from_header_byte(f.tcp_flags);
        let midflow = tcp && !flags.syn;
        // A TCP segment without SYN is not a new connection, even when it
        // gets no state (flood mode, a full table).
        let opening = !midflow;
        let flood = if opening { self.count_new_conn(now) } else { self.flooding() };
        let real = if svc.settings.persistence > 0 {
            self.persistent(g, svc, f, hash, now)?
        } else if midflow || flood {
            svc.stateless(&f.saddr, hash)?
        } else {
            svc.schedule(&f.saddr, hash)?
        };
        if opening {
            svc.stats.conn();
            real.stats.conn();
        }
        if flood {
            if opening {
                self.counters.stateless.add(1);
            }
            return Some(real);
        }
        let state = if tcp { tcp_state::next(TcpState::None, flags).as_u8() } else { 0 };
        let exp = self.conn_expiry(f.proto, state, now);
        // The entry of a flow whose real server was deleted gives way.
        let stale = |c: &Conn| reap && c.real().removed.load(Relaxed);
        match self.conns.insert(g, svc.id, &f.saddr, f.sport, 0, real.clone(), state, now, exp, &stale, &on_unlink) {
            Ok(c) => {
                if core::ptr::eq(c.real(), &**real) && c.state() == state {
                    account(real, None, Some(state));
                }
                Some(c.real())
            }
            Err(InsertError::Full | InsertError::NoMemory) => {
                // No state for this flow: its later packets will be placed by
                // the table, so its first one must be too.
                if opening {
                    self.counters.stateless.add(1);
                }
                if svc.settings.persistence > 0 { Some(real) } else { svc.stateless(&f.saddr, hash).map(|r| &**r) }
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
        let reap = self.expire_nodest.load(Relaxed);
        if let Some(c) = self.conns.lookup(g, svc.id, client, cport, 0, now) {
            if !(reap && c.real().removed.load(Relaxed)) {
                return Some((c.real(), proto::REASON_CONN));
            }
        }
        let k = &svc.key;
        let hash = hash::flow_hash(client.as_slice(), cport, k.vip.as_slice(), k.port, k.proto, svc.settings.seed);
        if svc.settings.persistence > 0 {
            if let Some((_, r)) = self.template(g, svc, client, now) {
                return Some((&**r, proto::REASON_PERSISTENCE));
            }
            return svc.peek(client, hash).map(|r| (&**r, proto::REASON_SCHEDULER));
        }
        if k.proto == IPPROTO_TCP && !syn {
            return svc.stateless(client, hash).map(|r| (&**r, proto::REASON_MIDFLOW));
        }
        if self.flooding() {
            return svc.stateless(client, hash).map(|r| (&**r, proto::REASON_FLOOD));
        }
        svc.peek(client, hash).map(|r| (&**r, proto::REASON_SCHEDULER))
    }

    /// A neighbour entry of this namespace changed: real servers at its
    /// address follow it (a failed entry leaves them unresolved, so the
    /// schedulers skip them). Atomic context.
    pub(crate) fn neighbour_updated(&self, g: &RcuGuard, addr: &[u8], ifindex: i32, mac: Option<[u8; 6]>) {
        for svc in self.config.get(g).services.iter() {
            for r in svc.reals.iter() {
                let here = r.ifindex() == 0 || r.ifindex() == ifindex;
                if here && r.addr.as_slice() == addr && r.location().map(|l| l.1) != mac {
                    r.set_location(ifindex, mac);
                }
            }
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

    /// Client-IP persistence, like `ipvsadm -p`: a template entry per
    /// (service, client) remembers the real server for new flows.
    fn persistent<'g>(
        &self,
        g: &RcuGuard,
        svc: &'g Service,
        f: &Flow,
        hash: u32,
        now: u32,
    ) -> Option<&'g Arc<Real>> {
        let exp = now.wrapping_add(secs(svc.settings.persistence));
        if let Some((t, r)) = self.template(g, svc, &f.saddr, now) {
            t.touch(exp);
            return Some(r);
        }
        let real = svc.schedule(&f.saddr, hash)?;
        let stale = |c: &Conn| c.real().removed.load(Relaxed);
        let _ = self.conns.insert(g, svc.id, &f.saddr, 0, F_TEMPLATE, real.clone(), 0, now, exp, &stale, &on_unlink);
        Some(real)
    }
}

impl Hook for Dataplane {
    fn hook(&self, family: Family, mut pkt: Packet<'_>) -> Verdict {
        self.hook_packets.add(1);
        let g = RcuGuard::lock();
        let cfg = self.config.get(&g);
        if cfg.services.is_empty() {
            return Verdict::ACCEPT;
        }
        let Some(flow) = Flow::parse(family, &mut pkt) else {
            return Verdict::ACCEPT;
        };
        let key = ServiceKey { proto: flow.proto, vip: flow.daddr, port: flow.dport };
        if flow.fragment {
            // Fragments go to the stack: without reassembly their ports are
            // unknown. Count those addressed to a VIP.
            if cfg.services.iter().any(|s| s.key.proto == flow.proto && s.key.vip == flow.daddr) {
                self.counters.fragments.add(1);
            }
            return Verdict::ACCEPT;
        }
        let Some(svc) = cfg.find(&key) else {
            return Verdict::ACCEPT;
        };
        // Standby, the namespace's or the service's: the packet goes to the
        // stack untouched, as if drlb were not there.
        if self.state() != proto::STATE_ACTIVE || svc.settings.standby {
            return Verdict::ACCEPT;
        }
        let Some((ifindex, mac)) = self.pick(&g, svc, &flow).and_then(|r| {
            let len = pkt.len();
            svc.stats.packet(len);
            r.stats.packet(len);
            r.location()
        }) else {
            self.counters.no_real.add(1);
            return Verdict::DROP;
        };
        match pkt.forward(ifindex, &mac) {
            Ok(v) => v,
            Err(_) => {
                self.counters.xmit_errors.add(1);
                Verdict::DROP
            }
        }
    }
}

impl Tick for Dataplane {
    /// Once a second: expire connections, re-resolve real servers and,
    /// every other second, update the rate estimates.
    fn tick(&self) {
        let now = jiffies32();
        let reap = self.expire_nodest.load(Relaxed);
        self.conns.retain(Some(now), |c| reap && c.real().removed.load(Relaxed), &on_unlink);

        let cfg = self.current();
        let n = self.ticks.fetch_add(1, Relaxed) + 1;
        for svc in cfg.services.iter() {
            for r in svc.reals.iter() {
                match neigh::locate(self.net.get(), r.addr.as_slice()) {
                    Some(loc) => r.set_location(loc.ifindex, loc.mac),
                    None => r.set_location(0, None),
                }
                if n % ESTIMATOR_PERIOD_S == 0 {
                    r.stats.estimate();
                }
            }
            if n % ESTIMATOR_PERIOD_S == 0 {
                svc.stats.estimate();
            }
        }
    }
}

/// The real servers' locations, right now (for `real add`).
pub(crate) fn resolve(dp: &Dataplane, real: &Real) {
    if let Some(loc) = neigh::locate(dp.net.get(), real.addr.as_slice()) {
        real.set_location(loc.ifindex, loc.mac);
    }
}

/// The entry size, for `status`.
pub(crate) const CONN_ENTRY_SIZE: usize = ConnTable::ENTRY_SIZE;
