// SPDX-License-Identifier: GPL-2.0

//! The generic-netlink family `drlb`: each command's handler.
//!
//! Handlers that change the configuration are serialised by genetlink (the
//! family is not `parallel_ops`): each builds a new snapshot from the current
//! one and publishes it.

use crate::conn::Conn;
use crate::conn_policy::{self, MAX_TIMEOUT_S};
use crate::dataplane::{self, Dataplane};
use crate::dump::{self, ChainCursor, Chains, Put, Sink};
use crate::kapi::jiffies_to_msecs;
use crate::kapi::work::jiffies;
use crate::tcp_state::TcpState;
use crate::kapi::genetlink::{Attr, Dump, DumpMark, Handler, Msg, NlError, Request, Spec};
use crate::kapi::rcu::{RcuBox, RcuGuard};
use crate::kapi::{errno, pernet};
use crate::netns::NetState;
use crate::proto::{self, attr, cmd, stats};
use crate::sched::Scheduler;
use crate::service::{Addr, Config, Real, Service, ServiceKey, Settings};
use crate::stats::{Reading, Stats};
use core::ffi::c_long;
use core::sync::atomic::Ordering::Relaxed;
use kernel::error::code::*;
use kernel::prelude::*;
use kernel::sync::Arc;

/// The family's description, straight from the shared protocol definition.
pub(crate) static SPEC: Spec = Spec {
    name: proto::FAMILY_NAME,
    version: proto::FAMILY_VERSION,
    policy: &proto::POLICY,
    mcgrp: proto::MCGRP_EVENTS,
    mcgrp_access: proto::EVENTS_ACCESS,
};

/// The handler behind the family.
pub(crate) struct Control {
    pernet: Arc<pernet::Registration<NetState>>,
}

impl Control {
    /// A handler that finds each request's namespace state in `pernet`.
    pub(crate) fn new(pernet: Arc<pernet::Registration<NetState>>) -> Self {
        Self { pernet }
    }
}

type Reply = core::result::Result<(), NlError>;

fn einval(msg: &'static core::ffi::CStr) -> NlError {
    NlError::msg(EINVAL, msg)
}

impl Handler for Control {
    const COMMANDS: &'static [proto::Op] = &proto::OPS;

    fn doit(&self, req: &Request<'_>) -> Reply {
        let ns = self.pernet.get(req.net());
        let dp = ns.dataplane();
        match req.cmd() {
            cmd::STATUS => status(dp, req),
            cmd::SET_STATE => set_state(dp, req),
            cmd::SERVICE_NEW => service_new(ns, req),
            cmd::SERVICE_SET => service_set(ns, req),
            cmd::SERVICE_DEL => service_del(ns, req),
            cmd::SERVICE_GET => service_get(dp, req),
            cmd::REAL_NEW | cmd::REAL_SET | cmd::REAL_DEL => real_change(ns, req),
            cmd::CONN_DEL => conn_del(dp, req),
            cmd::FLOW_QUERY => flow_query(dp, req),
            cmd::TIMEOUTS_GET => timeouts_get(dp, req),
            cmd::TIMEOUTS_SET => timeouts_set(dp, req),
            cmd::LIMITS_GET => limits_get(dp, req),
            cmd::LIMITS_SET => limits_set(ns, req),
            cmd::FLUSH => flush(ns),
            cmd::ZERO => zero(dp, req),
            cmd::SYNC_SET => sync_set(dp, req),
            cmd::SYNC_GET => sync_get(dp, req),
            cmd::SYNC_READ => sync_read(dp, req),
            cmd::SYNC_WRITE => sync_write(dp, req),
            _ => Err(errno::eopnotsupp().into()),
        }
    }

    fn dumpit(&self, d: &mut Dump<'_>) -> Reply {
        let dp = self.pernet.get(d.net()).dataplane();
        match d.cmd() {
            cmd::SERVICE_GET => dump_services(dp, d),
            cmd::REAL_GET => dump_reals(dp, d),
            cmd::CONN_GET => dump_conns(dp, d),
            _ => Err(errno::eopnotsupp().into()),
        }
    }
}

fn status(dp: &Dataplane, req: &Request<'_>) -> Reply {
    let mut msg = req.reply(cmd::STATUS)?;
    msg.put_str(attr::VERSION, crate::VERSION)?;
    msg.put_u8(attr::STATE, dp.state())?;
    msg.put_u64(attr::HOOK_PACKETS, dp.hook_packets(), attr::PAD)?;
    put_limits(dp, &mut msg)?;
    msg.send_reply(req)?;
    Ok(())
}

fn set_state(dp: &Dataplane, req: &Request<'_>) -> Reply {
    let state = req.attr(attr::STATE).ok_or_else(|| einval(c"missing state attribute"))?.u8();
    if state != proto::STATE_ACTIVE && state != proto::STATE_STANDBY {
        return Err(einval(c"state must be 0 (standby) or 1 (active)"));
    }
    if dp.set_state(state) != state {
        // (the state is changed: an event that cannot be sent does not
        // make the request fail; its listeners hear that they missed one)
        req.notify(cmd::EVENT_STATE, |ev| ev.put_u8(attr::STATE, state));
    }
    Ok(())
}

/// The service a request names: PROTO, VIP and PORT.
fn service_key<'a>(get: impl Fn(u16) -> Option<Attr<'a>>) -> core::result::Result<ServiceKey, NlError> {
    let proto = get(attr::PROTO).ok_or_else(|| einval(c"missing protocol"))?.u8();
    if proto != 6 && proto != 17 {
        return Err(einval(c"protocol must be tcp (6) or udp (17)"));
    }
    let vip = get(attr::VIP).ok_or_else(|| einval(c"missing virtual IP"))?;
    let vip = Addr::from_slice(vip.bytes()).ok_or_else(|| einval(c"virtual IP must be 4 or 16 bytes"))?;
    let port = get(attr::PORT).ok_or_else(|| einval(c"missing port"))?.u16();
    if port == 0 {
        return Err(einval(c"port must be 1..65535"));
    }
    Ok(ServiceKey { proto, vip, port })
}

fn req_key(req: &Request<'_>) -> core::result::Result<ServiceKey, NlError> {
    service_key(|t| req.attr(t))
}

fn settings(req: &Request<'_>, mut s: Settings) -> core::result::Result<Settings, NlError> {
    if let Some(a) = req.attr(attr::SCHEDULER) {
        let name = a.bytes();
        let name = &name[..name.iter().position(|b| *b == 0).unwrap_or(name.len())];
        s.sched = Scheduler::from_name(name)
            .ok_or_else(|| einval(c"unknown scheduler (rr, wrr, lc, wlc, sh, maglev)"))?;
    }
    if let Some(a) = req.attr(attr::PERSISTENCE) {
        s.persistence = a.u32();
        if s.persistence > MAX_TIMEOUT_S {
            return Err(einval(c"persistence must be at most 24 days (2073600 s)"));
        }
    }
    if let Some(a) = req.attr(attr::FLAGS) {
        s.flags = a.u32();
    }
    if let Some(a) = req.attr(attr::MAGLEV_SEED) {
        s.seed = a.u32();
    }
    if let Some(a) = req.attr(attr::SVC_STATE) {
        s.standby = match a.u8() {
            proto::STATE_ACTIVE => false,
            proto::STATE_STANDBY => true,
            _ => return Err(einval(c"service state must be 0 (standby) or 1 (active)")),
        };
    }
    Ok(s)
}

/// Builds the next snapshot from the current one with `f` and publishes it.
/// Writers are serialised, so the snapshot read here is the latest. A
/// snapshot with services is published only once the namespace is ready to
/// forward (hooks registered, table sized); the caller that may have removed
/// the last service calls `idle_if_unused` when done with the table.
///
/// All or nothing: every allocation comes before the publication, which
/// cannot fail, so an error leaves the configuration as it was. `f` must
/// change nothing outside `services` (or undo it on error); what only a
/// published change may do (mark real servers removed, send events) its
/// caller does once this returned Ok.
fn publish(ns: &NetState, f: impl FnOnce(&mut KVec<Arc<Service>>) -> core::result::Result<(), NlError>) -> Reply {
    let dp = ns.dataplane();
    let mut services = dp.current().services()?;
    f(&mut services)?;
    let serve = !services.is_empty();
    let next = RcuBox::prepare(Config::new(services)?)?;
    if serve {
        ns.serve()?;
    }
    dp.config.publish(next);
    Ok(())
}

fn position(v: &KVec<Arc<Service>>, key: &ServiceKey) -> core::result::Result<usize, NlError> {
    v.iter().position(|s| s.key == *key).ok_or_else(|| NlError::msg(ENOENT, c"no such service"))
}

fn rebuild(old: &Service, settings: Settings, reals: KVec<Arc<Real>>) -> Result<Arc<Service>> {
    Service::build(old.key, old.id, settings, reals, old.stats.clone())
}

/// A copy of `v` without element `i`.
fn without<T: Clone>(v: &KVec<T>, i: usize) -> Result<KVec<T>> {
    let mut out = KVec::with_capacity(v.len(), GFP_KERNEL)?;
    for (j, x) in v.iter().enumerate() {
        if j != i {
            out.push(x.clone(), GFP_KERNEL)?;
        }
    }
    Ok(out)
}

fn clone_reals(s: &Service) -> Result<KVec<Arc<Real>>> {
    let mut v = KVec::with_capacity(s.reals.len() + 1, GFP_KERNEL)?;
    for r in s.reals.iter() {
        v.push(r.clone(), GFP_KERNEL)?;
    }
    Ok(v)
}

fn service_new(ns: &NetState, req: &Request<'_>) -> Reply {
    let dp = ns.dataplane();
    let key = req_key(req)?;
    let defaults = Settings { sched: Scheduler::Wlc, persistence: 0, flags: 0, seed: 0, standby: false };
    let s = settings(req, defaults)?;
    publish(ns, |v| {
        if v.iter().any(|x| x.key == key) {
            return Err(NlError::msg(EEXIST, c"service already exists"));
        }
        let id = dp.next_service_id.fetch_add(1, Relaxed);
        let stats = Arc::new(Stats::new()?, GFP_KERNEL)?;
        v.push(Service::build(key, id, s, KVec::new(), stats)?, GFP_KERNEL)?;
        Ok(())
    })
}

fn service_set(ns: &NetState, req: &Request<'_>) -> Reply {
    let key = req_key(req)?;
    publish(ns, |v| {
        let i = position(v, &key)?;
        let s = settings(req, v[i].settings)?;
        v[i] = rebuild(&v[i], s, clone_reals(&v[i])?)?;
        Ok(())
    })
}

fn service_del(ns: &NetState, req: &Request<'_>) -> Reply {
    let dp = ns.dataplane();
    let key = req_key(req)?;
    let mut gone = None;
    publish(ns, |v| {
        let i = position(v, &key)?;
        let next = without(v, i)?;
        gone = Some(v[i].clone());
        *v = next;
        Ok(())
    })?;
    // Only now that the new configuration is out (nothing can fail any
    // more) do its real servers count as removed.
    if let Some(svc) = gone {
        for r in svc.reals.iter() {
            r.removed.store(true, Relaxed);
        }
        dp.expire_conns(|c| c.svc() == svc.id);
    }
    ns.idle_if_unused();
    Ok(())
}

fn real_change(ns: &NetState, req: &Request<'_>) -> Reply {
    let dp = ns.dataplane();
    let key = req_key(req)?;
    let addr = req.attr(attr::REAL).ok_or_else(|| einval(c"missing real server address"))?;
    let addr = Addr::from_slice(addr.bytes()).ok_or_else(|| einval(c"real server address must be 4 or 16 bytes"))?;
    if addr.is_v6() != key.vip.is_v6() {
        return Err(einval(c"real server and virtual IP must be the same address family"));
    }
    let weight = req.attr(attr::WEIGHT).map(|a| a.u32());
    if weight.is_some_and(|w| w > 65535) {
        return Err(einval(c"weight must be 0..65535"));
    }
    let c = req.cmd();
    let mut event = None;
    // A new weight must be in place while the service is rebuilt (its
    // scheduler tables read it); if anything fails it is put back.
    let mut old_weight = None;
    let published = publish(ns, |v| {
        let i = position(v, &key)?;
        let mut reals = clone_reals(&v[i])?;
        let at = reals.iter().position(|r| r.addr == addr);
        match (c, at) {
            (cmd::REAL_NEW, Some(_)) => return Err(NlError::msg(EEXIST, c"real server already exists")),
            (cmd::REAL_NEW, None) => {
                let r = Real::new(addr, dp.next_real_id.fetch_add(1, Relaxed), weight.unwrap_or(1))?;
                crate::upkeep::resolve(dp, &r);
                reals.push(r.clone(), GFP_KERNEL)?;
                event = Some((cmd::EVENT_REAL_NEW, r));
            }
            (_, None) => return Err(NlError::msg(ENOENT, c"no such real server")),
            (cmd::REAL_SET, Some(j)) => {
                let w = weight.ok_or_else(|| einval(c"missing weight"))?;
                old_weight = Some((reals[j].clone(), reals[j].weight.swap(w, Relaxed)));
                event = Some((cmd::EVENT_REAL_SET, reals[j].clone()));
            }
            (_, Some(j)) => {
                let r = reals[j].clone();
                reals = without(&reals, j)?;
                event = Some((cmd::EVENT_REAL_DEL, r));
            }
        }
        v[i] = rebuild(&v[i], v[i].settings, reals)?;
        Ok(())
    });
    if let Err(e) = published {
        if let Some((r, w)) = old_weight {
            r.weight.store(w, Relaxed);
        }
        return Err(e);
    }
    // Published: nothing can fail any more, so a deleted real server now
    // counts as removed (before, a failed allocation would have left it
    // configured but unusable).
    if let Some((cmd::EVENT_REAL_DEL, r)) = &event {
        r.removed.store(true, Relaxed);
    }
    if let Some((ev, r)) = event {
        if ev == cmd::EVENT_REAL_DEL && dp.expire_nodest.load(Relaxed) {
            dp.expire_conns(|c| core::ptr::eq(c.real(), &*r));
        }
        // (as in set_state: the change is made, whatever becomes of its event)
        req.notify(ev, |m| {
            put_key(m, &key)?;
            put_real(m, &r)
        });
    }
    Ok(())
}

fn put_limits(dp: &Dataplane, m: &mut Msg<'_>) -> Result {
    m.put_u32(attr::CONN_COUNT, dp.conns.count())?;
    m.put_u32(attr::CONN_MAX, dp.conns.max())?;
    m.put_u32(attr::FLOOD_RATE, dp.flood_rate.load(Relaxed))?;
    m.put_u8(attr::FLOOD_ACTIVE, dp.flooding().into())?;
    m.put_u8(attr::EXPIRE_NODEST, dp.expire_nodest.load(Relaxed).into())?;
    let c = &dp.counters;
    m.put_u64(attr::STATELESS, c.stateless.sum(), attr::PAD)?;
    m.put_u64(attr::FRAGMENTS, c.fragments.sum(), attr::PAD)?;
    m.put_u64(attr::DROPS, c.no_real.sum() + c.xmit_errors.sum(), attr::PAD)?;
    m.put_u64(attr::MIDFLOW, c.midflow.sum(), attr::PAD)?;
    m.put_u64(attr::ICMP_FORWARDED, c.icmp_forwarded.sum(), attr::PAD)?;
    m.put_u64(attr::TOO_BIG, c.too_big.sum(), attr::PAD)?;
    m.put_u32(attr::CONN_SIZE, dataplane::CONN_ENTRY_SIZE as u32)?;
    m.put_u32(attr::CONN_BUCKETS, dp.conns.buckets() as u32)?;
    Ok(())
}

fn limits_get(dp: &Dataplane, req: &Request<'_>) -> Reply {
    let mut msg = req.reply(cmd::LIMITS_GET)?;
    put_limits(dp, &mut msg)?;
    msg.send_reply(req)?;
    Ok(())
}

/// Sets the limits given. Every value is checked before anything changes,
/// and the bound, which may need memory for the table's new chains, is set
/// first: a refused request changes nothing.
fn limits_set(ns: &NetState, req: &Request<'_>) -> Reply {
    let dp = ns.dataplane();
    let max = req.attr(attr::CONN_MAX).map(|a| a.u32());
    // (the message spells out conn_policy::MAX_CONN)
    const _: () = assert!(conn_policy::MAX_CONN == 4_194_304);
    match max {
        Some(0) => return Err(einval(c"the connection table needs room for at least one entry")),
        Some(m) if !conn_policy::valid_conn_max(m) => {
            return Err(einval(c"the connection table holds at most 4194304 entries (conn_max)"))
        }
        _ => {}
    }
    if let Some(m) = max {
        ns.set_conn_max(m)?;
    }
    if let Some(r) = req.attr(attr::FLOOD_RATE) {
        dp.flood_rate.store(r.u32(), Relaxed);
    }
    if let Some(e) = req.attr(attr::EXPIRE_NODEST) {
        dp.expire_nodest.store(e.u8() != 0, Relaxed);
    }
    Ok(())
}

fn flush(ns: &NetState) -> Reply {
    let dp = ns.dataplane();
    let empty = Config::new(KVec::new())?;
    let old = dp.current();
    dp.config.replace(empty)?;
    for s in old.services.iter() {
        for r in s.reals.iter() {
            r.removed.store(true, Relaxed);
        }
    }
    dp.expire_conns(|_| true);
    ns.idle_if_unused();
    Ok(())
}

/// Zeroes the counters of one service (PROTO, VIP, PORT given) and its
/// real servers, or of every service.
fn zero(dp: &Dataplane, req: &Request<'_>) -> Reply {
    let cfg = dp.current();
    let key = if req.attr(attr::PROTO).is_some() || req.attr(attr::VIP).is_some() { Some(req_key(req)?) } else { None };
    if let Some(k) = &key {
        cfg.find(k).ok_or_else(|| NlError::msg(ENOENT, c"no such service"))?;
    }
    for s in cfg.services.iter().filter(|s| key.is_none_or(|k| s.key == k)) {
        s.stats.zero();
        for r in s.reals.iter() {
            r.stats.zero();
        }
    }
    Ok(())
}

fn put_key(m: &mut Msg<'_>, k: &ServiceKey) -> Result {
    m.put_u8(attr::PROTO, k.proto)?;
    m.put(attr::VIP, k.vip.as_slice())?;
    m.put_u16(attr::PORT, k.port)
}

fn put_stats(m: &mut Msg<'_>, r: Reading, active: Option<(u32, u32)>) -> Result {
    let n = m.nest_start(attr::STATS)?;
    m.put_u64(stats::CONNS, r.conns, stats::PAD)?;
    m.put_u64(stats::PACKETS, r.packets, stats::PAD)?;
    m.put_u64(stats::BYTES, r.bytes, stats::PAD)?;
    m.put_u64(stats::CPS, r.cps, stats::PAD)?;
    m.put_u64(stats::PPS, r.pps, stats::PAD)?;
    m.put_u64(stats::BPS, r.bps, stats::PAD)?;
    if let Some((a, i)) = active {
        m.put_u32(stats::ACTIVE, a)?;
        m.put_u32(stats::INACTIVE, i)?;
    }
    m.nest_end(n);
    Ok(())
}

fn put_real(m: &mut Msg<'_>, r: &Real) -> Result {
    m.put(attr::REAL, r.addr.as_slice())?;
    m.put_u32(attr::WEIGHT, r.weight.load(Relaxed))?;
    let (res, location) = r.resolution();
    match location {
        Some((ifindex, mac)) => {
            m.put_u8(attr::REAL_STATE, proto::REAL_RESOLVED)?;
            m.put(attr::MAC, &mac)?;
            m.put_u32(attr::IFINDEX, ifindex as u32)?;
        }
        None => {
            m.put_u8(attr::REAL_STATE, proto::REAL_UNRESOLVED)?;
            m.put_u8(attr::REAL_REASON, res.reason)?;
            if let Some(g) = res.gateway {
                m.put(attr::REAL_GATEWAY, g.as_slice())?;
            }
        }
    }
    put_stats(m, r.stats.read(), Some((r.active.load(Relaxed), r.inactive.load(Relaxed))))
}

/// A service's attributes, as `SERVICE_GET` answers them.
fn put_service(m: &mut Msg<'_>, s: &Service) -> Result {
    put_key(m, &s.key)?;
    m.put_string(attr::SCHEDULER, s.settings.sched.name())?;
    m.put_u32(attr::PERSISTENCE, s.settings.persistence)?;
    m.put_u32(attr::FLAGS, s.settings.flags)?;
    m.put_u32(attr::MAGLEV_SEED, s.settings.seed)?;
    m.put_u8(attr::SVC_STATE, if s.settings.standby { proto::STATE_STANDBY } else { proto::STATE_ACTIVE })?;
    let (mut a, mut ina) = (0u32, 0u32);
    for r in s.reals.iter() {
        a += r.active.load(Relaxed);
        ina += r.inactive.load(Relaxed);
    }
    put_stats(m, s.stats.read(), Some((a, ina)))
}

/// `SERVICE_GET` without the dump flag: the one service PROTO, VIP and
/// PORT name (like `ipvsadm -Ln -t VIP:PORT`).
fn service_get(dp: &Dataplane, req: &Request<'_>) -> Reply {
    let key = req_key(req)?;
    let mut msg = req.reply(cmd::SERVICE_GET)?;
    {
        let g = RcuGuard::lock();
        let cfg = dp.config.get(&g);
        let s = cfg.find(&key).ok_or_else(|| NlError::msg(ENOENT, c"no such service"))?;
        put_service(&mut msg, s)?;
    }
    msg.send_reply(req)?;
    Ok(())
}

/// Services in id order (the order they were added); the cursor is the
/// next id, so services added or deleted between parts shift nothing.
fn dump_services(dp: &Dataplane, d: &mut Dump<'_>) -> Reply {
    let g = RcuGuard::lock();
    let cfg = dp.config.get(&g);
    let start = dump::resume_at(&cfg.services, |s| s.id, d.cursor()[0] as u64);
    for s in cfg.services.iter().skip(start) {
        let Some(mut m) = d.entry(cmd::SERVICE_GET) else { break };
        if put_service(&mut m, s).is_err() {
            break; // `m` is cancelled on drop; the next part resumes here
        }
        m.commit();
        d.cursor()[0] = (u64::from(s.id) + 1) as _;
    }
    Ok(())
}

/// A service's real servers in id order (the order they were added),
/// resumed by id as services are. If the service was deleted and made
/// again between parts, the dump is marked interrupted.
fn dump_reals(dp: &Dataplane, d: &mut Dump<'_>) -> Reply {
    let key = service_key(|t| d.attr(t))?;
    let g = RcuGuard::lock();
    let cfg = dp.config.get(&g);
    let svc = cfg.find(&key).ok_or_else(|| NlError::msg(ENOENT, c"no such service"))?;
    // cursor[1]: the service's id, once the first part is out.
    let first = d.cursor()[1] == 0;
    if !first && d.cursor()[1] as u64 != u64::from(svc.id) {
        d.interrupted();
    }
    d.cursor()[1] = svc.id as _;
    let start = dump::resume_at(&svc.reals, |r| r.id, d.cursor()[0] as u64);
    for r in svc.reals.iter().skip(start) {
        let Some(mut m) = d.entry(cmd::REAL_GET) else { break };
        if put_key(&mut m, &key).and_then(|_| put_real(&mut m, r)).is_err() {
            break;
        }
        m.commit();
        d.cursor()[0] = (u64::from(r.id) + 1) as _;
    }
    Ok(())
}

/// Which connections a `CONN_GET` dump or `CONN_DEL` covers: any of a
/// service, a client (and port), a real server.
struct ConnFilter {
    svc: Option<u32>,
    client: Option<Addr>,
    cport: Option<u16>,
    real: Option<Addr>,
}

fn addr_attr(a: Option<Attr<'_>>, what: &'static core::ffi::CStr) -> core::result::Result<Option<Addr>, NlError> {
    a.map(|a| Addr::from_slice(a.bytes()).ok_or_else(|| einval(what))).transpose()
}

impl ConnFilter {
    fn parse<'a>(cfg: &Config, get: impl Fn(u16) -> Option<Attr<'a>>) -> core::result::Result<Self, NlError> {
        let svc = if [attr::PROTO, attr::VIP, attr::PORT].iter().any(|t| get(*t).is_some()) {
            let key = service_key(&get)?;
            Some(cfg.find(&key).ok_or_else(|| NlError::msg(ENOENT, c"no such service"))?.id)
        } else {
            None
        };
        Ok(Self {
            svc,
            client: addr_attr(get(attr::CLIENT), c"client address must be 4 or 16 bytes")?,
            cport: get(attr::CLIENT_PORT).map(|a| a.u16()),
            real: addr_attr(get(attr::REAL), c"real server address must be 4 or 16 bytes")?,
        })
    }

    fn is_empty(&self) -> bool {
        self.svc.is_none() && self.client.is_none() && self.cport.is_none() && self.real.is_none()
    }

    /// Whether `c`, of service `s`, is covered.
    fn covers(&self, s: &Service, c: &Conn) -> bool {
        self.svc.is_none_or(|id| id == c.svc())
            && self.client.is_none_or(|a| a.is_v6() == s.key.vip.is_v6() && a.raw() == c.client())
            && self.cport.is_none_or(|p| p == c.cport())
            && self.real.is_none_or(|a| a == c.real().addr)
    }
}

fn service_of<'a>(cfg: &'a Config, c: &Conn) -> Option<&'a Arc<Service>> {
    cfg.services.iter().find(|s| s.id == c.svc())
}

fn put_conn(m: &mut Msg<'_>, s: &Service, c: &Conn, now: u32) -> Result {
    put_key(m, &s.key)?;
    let len = if s.key.vip.is_v6() { 16 } else { 4 };
    m.put(attr::CLIENT, &c.client()[..len])?;
    m.put_u16(attr::CLIENT_PORT, c.cport())?;
    m.put(attr::REAL, c.real().addr.as_slice())?;
    m.put_u8(attr::CONN_STATE, c.state())?;
    let left = c.expires().wrapping_sub(now);
    let left = if conn_policy::expired(now, c.expires()) { 0 } else { jiffies_to_msecs(left) };
    m.put_u32(attr::EXPIRES_MS, left)?;
    m.put_u32(attr::FLAGS, if c.is_template() { proto::CONN_F_TEMPLATE } else { 0 })
}

/// The connection table's chains, as a dump walks them.
struct ConnChains<'g> {
    dp: &'g Dataplane,
    g: &'g RcuGuard,
}

impl Chains for ConnChains<'_> {
    type Entry = Conn;

    fn count(&self) -> usize {
        self.dp.conns.buckets()
    }

    fn generation(&self, c: usize) -> u32 {
        self.dp.conns.chain_generation(c)
    }

    fn entries(&self, c: usize) -> impl Iterator<Item = &Conn> {
        self.dp.conns.chain_entries(self.g, c)
    }
}

/// One part of a connection dump: live entries the filter covers.
struct ConnPart<'a, 'd> {
    d: &'a mut Dump<'d>,
    cfg: &'a Config,
    filter: &'a ConnFilter,
    now: u32,
}

impl Sink<Conn> for ConnPart<'_, '_> {
    type Mark = DumpMark;

    fn mark(&self) -> DumpMark {
        self.d.mark()
    }

    fn trim(&mut self, m: DumpMark) {
        self.d.trim(m)
    }

    fn put(&mut self, c: &Conn) -> Put {
        if conn_policy::expired(self.now, c.expires()) {
            return Put::Skipped;
        }
        let Some(s) = service_of(self.cfg, c).filter(|s| self.filter.covers(s, c)) else {
            return Put::Skipped;
        };
        let Some(mut m) = self.d.entry(cmd::CONN_GET) else { return Put::Full };
        if put_conn(&mut m, s, c, self.now).is_err() {
            return Put::Full; // `m` is cancelled on drop
        }
        m.commit();
        Put::Added
    }

    fn interrupted(&mut self) {
        self.d.interrupted()
    }
}

/// Connections, chain by chain: a chain goes whole into one part (see
/// `dump::fill_chains`), so entries made or expired between parts shift
/// nothing. The cursor is (chain, position, generation, resizes + 1). A
/// resize moves entries to other chains: a dump that a resize overlapped,
/// or that resumes after one, is marked interrupted.
fn dump_conns(dp: &Dataplane, d: &mut Dump<'_>) -> Reply {
    let g = RcuGuard::lock();
    let cfg = dp.config.get(&g);
    let filter = ConnFilter::parse(cfg, |t| d.attr(t))?;
    let c = *d.cursor();
    let resizes = dp.conns.resizes();
    if resizes % 2 == 1 || (c[3] != 0 && c[3] != resizes as c_long + 1) {
        d.interrupted();
    }
    let mut cursor = ChainCursor { chain: c[0] as usize, pos: c[1] as usize, generation: c[2] as u32 };
    let chains = ConnChains { dp, g: &g };
    let mut part = ConnPart { d, cfg, filter: &filter, now: jiffies() as u32 };
    let r = dump::fill_chains(&chains, &mut cursor, &mut part);
    let c = d.cursor();
    c[0] = cursor.chain as _;
    c[1] = cursor.pos as _;
    c[2] = cursor.generation as _;
    c[3] = resizes as c_long + 1;
    if dp.conns.resizes() != resizes {
        d.interrupted();
    }
    r.map_err(|_| errno::emsgsize().into())
}

fn conn_del(dp: &Dataplane, req: &Request<'_>) -> Reply {
    let cfg = dp.current();
    let filter = ConnFilter::parse(&cfg, |t| req.attr(t))?;
    if filter.is_empty() {
        return Err(einval(c"say which connections: a service, a client or a real server"));
    }
    dp.expire_conns(|c| service_of(&cfg, c).is_some_and(|s| filter.covers(s, c)));
    Ok(())
}

fn flow_query(dp: &Dataplane, req: &Request<'_>) -> Reply {
    let key = req_key(req)?;
    let client = addr_attr(req.attr(attr::CLIENT), c"client address must be 4 or 16 bytes")?
        .ok_or_else(|| einval(c"missing client address"))?;
    if client.is_v6() != key.vip.is_v6() {
        return Err(einval(c"client and virtual IP must be the same address family"));
    }
    let cport = req.attr(attr::CLIENT_PORT).ok_or_else(|| einval(c"missing client port"))?.u16();
    let syn = req.attr(attr::FLAGS).is_none_or(|f| f.u32() & proto::QUERY_F_MIDFLOW == 0);
    let mut msg = req.reply(cmd::FLOW_QUERY)?;
    {
        let g = RcuGuard::lock();
        let cfg = dp.config.get(&g);
        let svc = cfg.find(&key).ok_or_else(|| NlError::msg(ENOENT, c"no such service"))?;
        if dp.state() != proto::STATE_ACTIVE {
            return Err(NlError::msg(errno::enetdown(), c"standby: this director forwards nothing"));
        }
        if svc.settings.standby {
            return Err(NlError::msg(errno::enetdown(), c"standby: this service forwards nothing on this director"));
        }
        let (real, reason) = dp
            .query(&g, svc, &client, cport, syn)
            .ok_or_else(|| NlError::msg(errno::ehostunreach(), c"no usable real server: the packet would be dropped"))?;
        put_key(&mut msg, &key)?;
        msg.put_u8(attr::REASON, reason)?;
        put_real(&mut msg, real)?;
    }
    msg.send_reply(req)?;
    Ok(())
}

/// The timeouts the protocol names, and where each sits.
const TIMEOUTS: [(u16, Option<TcpState>); 5] = [
    (attr::TIMEOUT_TCP, Some(TcpState::Established)),
    (attr::TIMEOUT_TCP_FIN, Some(TcpState::FinWait)),
    (attr::TIMEOUT_TCP_SYN, Some(TcpState::SynRecv)),
    (attr::TIMEOUT_TCP_CLOSE, Some(TcpState::Close)),
    (attr::TIMEOUT_UDP, None),
];

fn timeouts_get(dp: &Dataplane, req: &Request<'_>) -> Reply {
    let mut msg = req.reply(cmd::TIMEOUTS_GET)?;
    for (a, st) in TIMEOUTS {
        msg.put_u32(a, dp.timeout(st))?;
    }
    let n = msg.nest_start(attr::TIMEOUT_STATES)?;
    for st in TcpState::ALL {
        msg.put_u32(proto::timeout_state_attr(st.as_u8()), dp.timeout(Some(st)))?;
    }
    msg.nest_end(n);
    msg.send_reply(req)?;
    Ok(())
}

/// Sets the timeouts given; all are checked before any changes. Entries
/// take a new timeout at their next packet, as in IPVS.
fn timeouts_set(dp: &Dataplane, req: &Request<'_>) -> Reply {
    let bad = || einval(c"a timeout must be 1..2073600 seconds (24 days)");
    let mut any = false;
    for (a, _) in TIMEOUTS {
        if let Some(v) = req.attr(a) {
            if !conn_policy::valid_timeout(v.u32()) {
                return Err(bad());
            }
            any = true;
        }
    }
    // Per TCP state: (state, seconds), all checked first.
    let mut states = [None; crate::tcp_state::STATE_COUNT];
    if let Some(nest) = req.attr(attr::TIMEOUT_STATES) {
        for item in proto::nested(nest.bytes()) {
            let (t, v) = item.map_err(|_| einval(c"malformed per-state timeouts"))?;
            let st = t.checked_sub(1).and_then(|s| TcpState::from_u8(s as u8).filter(|_| s < 256));
            let st = st.ok_or_else(|| einval(c"unknown TCP state in per-state timeouts"))?;
            let v: [u8; 4] = v.try_into().map_err(|_| einval(c"a per-state timeout is a u32"))?;
            let v = u32::from_ne_bytes(v);
            if !conn_policy::valid_timeout(v) {
                return Err(bad());
            }
            states[st.as_u8() as usize] = Some(v);
            any = true;
        }
    }
    if !any {
        return Err(einval(c"no timeout given"));
    }
    for (a, st) in TIMEOUTS {
        if let Some(v) = req.attr(a) {
            dp.set_timeout(st, v.u32());
        }
    }
    for (st, v) in TcpState::ALL.iter().zip(states) {
        if let Some(v) = v {
            dp.set_timeout(Some(*st), v);
        }
    }
    Ok(())
}

fn sync_set(dp: &Dataplane, req: &Request<'_>) -> Reply {
    let on = match req.attr(attr::SYNC_SEND).ok_or_else(|| einval(c"missing sync send attribute"))?.u8() {
        0 => false,
        1 => true,
        _ => return Err(einval(c"sync send must be 0 (off) or 1 (on)")),
    };
    dp.sync.set(on)?;
    Ok(())
}

fn sync_get(dp: &Dataplane, req: &Request<'_>) -> Reply {
    let c = &dp.sync.counters;
    let mut msg = req.reply(cmd::SYNC_GET)?;
    msg.put_u8(attr::SYNC_SEND, dp.sync.is_on().into())?;
    msg.put_u32(attr::SYNC_QUEUED, dp.sync.queued())?;
    for (a, v) in [
        (attr::SYNC_SENT, &c.sent),
        (attr::SYNC_OVERFLOW, &c.overflow),
        (attr::SYNC_APPLIED, &c.applied),
        (attr::SYNC_UNKNOWN, &c.unknown),
        (attr::SYNC_MALFORMED, &c.malformed),
        (attr::SYNC_NO_ROOM, &c.no_room),
    ] {
        msg.put_u64(a, v.load(Relaxed), attr::PAD)?;
    }
    msg.send_reply(req)?;
    Ok(())
}

/// The most record bytes one `SYNC_READ` reply carries: what fits in a
/// default-sized message (`GENLMSG_DEFAULT_SIZE`: 3740 bytes with 4 KiB
/// pages) beside the attribute headers and `SYNC_MORE`. (7 KiB did not:
/// a full read failed with EMSGSIZE after taking its records out of the
/// queue, and they were lost.)
const SYNC_READ_MAX: usize = 3584;

fn sync_read(dp: &Dataplane, req: &Request<'_>) -> Reply {
    let mut msg = req.reply(cmd::SYNC_READ)?;
    let read = dp.sync.read(SYNC_READ_MAX)?;
    if !read.records.is_empty() {
        msg.put(attr::SYNC_RECORDS, &read.records)?;
    }
    msg.put_u8(attr::SYNC_MORE, read.more.into())?;
    msg.send_reply(req)?;
    Ok(())
}

fn sync_write(dp: &Dataplane, req: &Request<'_>) -> Reply {
    let records = req.attr(attr::SYNC_RECORDS).ok_or_else(|| einval(c"missing sync records"))?;
    let done = dp.sync_apply(records.bytes()).map_err(|e| einval(e.describe()))?;
    let mut msg = req.reply(cmd::SYNC_WRITE)?;
    msg.put_u64(attr::SYNC_APPLIED, done.applied, attr::PAD)?;
    msg.put_u64(attr::SYNC_UNKNOWN, done.unknown, attr::PAD)?;
    msg.put_u64(attr::SYNC_NO_ROOM, done.no_room, attr::PAD)?;
    msg.send_reply(req)?;
    Ok(())
}

