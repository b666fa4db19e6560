// SPDX-License-Identifier: GPL-2.0

//! Connection sync: this director's entries as records for its peers, and
//! its peers' records as entries.
//!
//! Out: the packet path reports each entry it makes, each TCP state
//! change and, about every half timeout, each live entry that still sees
//! packets ([`Dataplane::sync_refresh`]), into the sync queue. In: a
//! peer's batch (`SYNC_WRITE`) is checked whole, then each record becomes
//! an entry of the service and real server it names, with its state and
//! the time it has left, or updates the entry of the same flow. A director
//! in standby forwards nothing, so the entries only wait for it to become
//! active, when the flows' next packets find them.

use crate::conn::{Conn, F_TEMPLATE};
use crate::dataplane::{account, on_unlink, Dataplane};
use crate::kapi::rcu::RcuGuard;
use crate::kapi::work::HZ;
use crate::service::{Addr, Real, Service, ServiceKey};
use crate::sync_record::{self, Malformed, Record};
use core::sync::atomic::Ordering::Relaxed;
use kernel::sync::Arc;

/// Jiffies as milliseconds, without a call (the packet path's).
#[inline]
fn jiffies_ms(j: u32) -> u32 {
    (u64::from(j) * 1000 / u64::from(HZ)).min(u64::from(u32::MAX)) as u32
}

/// Milliseconds as jiffies, rounded up.
fn ms_jiffies(ms: u32) -> u32 {
    (u64::from(ms) * u64::from(HZ)).div_ceil(1000).min(u64::from(u32::MAX / 2)) as u32
}

/// What a peer's batch did.
#[derive(Default)]
pub(crate) struct Applied {
    /// Records inserted or updated.
    pub(crate) applied: u64,
    /// Records for a service or real server not configured here.
    pub(crate) unknown: u64,
    /// Records refused: the table had no room.
    pub(crate) no_room: u64,
}

impl Dataplane {
    /// Queues entry `c` of `svc` for the peers, if sync sending is on.
    #[inline]
    pub(crate) fn sync_entry(&self, svc: &Service, c: &Conn, now: u32) {
        if self.sync.is_on() {
            self.sync_push(svc, c, now);
        }
    }

    /// Queues entry `c`, which a packet just moved from expiring at `old`
    /// to `new`, if it has not been queued for about half its timeout:
    /// once each time the packet's time crosses a window of a power of two
    /// jiffies no longer than half the timeout. The window of its previous
    /// packet is `old` less the timeout; no field remembers when it was
    /// last queued.
    #[inline]
    pub(crate) fn sync_refresh(&self, svc: &Service, c: &Conn, now: u32, old: u32, new: u32) {
        if !self.sync.is_on() {
            return;
        }
        let timeout = new.wrapping_sub(now);
        let half = timeout / 2;
        if half < 2 {
            return;
        }
        let shift = 31 - half.leading_zeros();
        let last = old.wrapping_sub(timeout);
        if last >> shift != now >> shift {
            self.sync_push(svc, c, now);
        }
    }

    fn sync_push(&self, svc: &Service, c: &Conn, now: u32) {
        let left = c.expires().wrapping_sub(now);
        if crate::conn_policy::expired(now, c.expires()) || c.is_gone() {
            return;
        }
        let mut r = Record {
            v6: svc.key.vip.is_v6(),
            proto: svc.key.proto,
            state: c.state(),
            flags: if c.is_template() { sync_record::F_TEMPLATE } else { 0 },
            timeout_ms: jiffies_ms(left),
            vip: *svc.key.vip.raw(),
            vport: svc.key.port,
            client: *c.client(),
            cport: c.cport(),
            real: *c.real().addr.raw(),
        };
        if r.proto != crate::dataplane::IPPROTO_TCP {
            r.state = 0;
        }
        self.sync.push(&r);
    }

    /// Inserts a peer's records: all are checked first, and a malformed
    /// one refuses the batch whole (nothing applied, and counted).
    /// Process context.
    pub(crate) fn sync_apply(&self, bytes: &[u8]) -> Result<Applied, Malformed> {
        let counters = &self.sync.counters;
        if let Some(Err(e)) = sync_record::records(bytes).find(|r| r.is_err()) {
            counters.malformed.fetch_add(1, Relaxed);
            return Err(e);
        }
        let mut done = Applied::default();
        let now = crate::dataplane::jiffies32();
        for r in sync_record::records(bytes).flatten() {
            let g = RcuGuard::lock();
            match self.apply_one(&g, &r, now) {
                Some(true) => done.applied += 1,
                Some(false) => done.no_room += 1,
                None => done.unknown += 1,
            }
        }
        counters.applied.fetch_add(done.applied, Relaxed);
        counters.unknown.fetch_add(done.unknown, Relaxed);
        counters.no_room.fetch_add(done.no_room, Relaxed);
        Ok(done)
    }

    /// One record: `None` if its service or real server is not here,
    /// `Some(false)` if the table had no room.
    fn apply_one(&self, g: &RcuGuard, r: &Record, now: u32) -> Option<bool> {
        let alen = if r.v6 { 16 } else { 4 };
        let key = ServiceKey { proto: r.proto, vip: Addr::from_slice(&r.vip[..alen])?, port: r.vport };
        let cfg = self.config.get(g);
        let svc = cfg.find(&key)?;
        let real_addr = Addr::from_slice(&r.real[..alen])?;
        let real = svc.reals.iter().find(|x| x.addr == real_addr)?;
        let client = Addr::from_slice(&r.client[..alen])?;
        let flags = if r.is_template() { F_TEMPLATE } else { 0 };
        let expires = now.wrapping_add(ms_jiffies(r.timeout_ms));
        let stale = |c: &Conn| c.real().removed.load(Relaxed);
        for _ in 0..2 {
            let ins = self.conns.insert(g, svc.id, &client, r.cport, flags, real.clone(), r.state, now, expires, &stale, &on_unlink);
            let Ok(ins) = ins else { return Some(false) };
            if ins.new {
                if !ins.conn.is_template() {
                    account(real, None, Some(r.state));
                }
                return Some(true);
            }
            if core::ptr::eq(ins.conn.real(), &**real) {
                update(ins.conn, real, r.state, expires);
                return Some(true);
            }
            // The flow's entry here names another real server: the peer's
            // word goes, so the entry is replaced.
            let other = |c: &Conn| !core::ptr::eq(c.real(), &**real);
            self.conns.remove(g, svc.id, &client, r.cport, flags, other, &on_unlink);
        }
        Some(false)
    }
}

/// Moves an entry to a peer's state and expiry.
fn update(c: &Conn, real: &Arc<Real>, state: u8, expires: u32) {
    let old = c.state();
    if c.is_gone() {
        return;
    }
    if old != state && c.change_state(old, state) && !c.is_template() {
        account(real, Some(old), Some(state));
    }
    c.touch(expires);
}
