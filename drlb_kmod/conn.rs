// SPDX-License-Identifier: GPL-2.0

//! The connection table: which real server each flow goes to.
//!
//! A hash of singly linked chains. The packet path looks entries up without
//! locks under RCU; inserting and unlinking take the bucket's lock with
//! bottom halves disabled; unlinked entries are freed after a grace period.
//! The table is bounded: when it is full an insert first reclaims expired
//! entries in its bucket, then the least recently used one there, and if the
//! bucket has nothing to give the flow goes on without state (flood mode).

use crate::kapi::rcu::RcuGuard;
use crate::kapi::rcu_free::{RcuFree, RcuHead};
use crate::kapi::lock::BhLock;
use crate::hash;
use crate::service::{Addr, Real};
use core::ptr;
use core::sync::atomic::{AtomicPtr, AtomicU32, AtomicU8, Ordering::*};
use kernel::prelude::*;
use kernel::sync::Arc;

/// The entry is a persistence template (client-IP affinity), not a flow.
pub(crate) const F_TEMPLATE: u8 = 1;

/// One connection: 64 bytes.
#[repr(C)]
pub(crate) struct Conn {
    next: AtomicPtr<Conn>,
    rcu: RcuHead,
    real: *const Real,
    svc: u32,
    /// Jiffies (low 32 bits) after which the entry is expired.
    expires: AtomicU32,
    client: [u8; 16],
    cport: u16,
    /// TCP state (`tcp_state::TcpState` as u8) or 0.
    state: AtomicU8,
    flags: u8,
}

// SAFETY: `real` is an owned `Arc` reference; everything else is atomics or
// immutable after publication.
unsafe impl Send for Conn {}
// SAFETY: as above.
unsafe impl Sync for Conn {}

/// `a` is after `b` in 32-bit jiffies (the kernel's `time_after`).
#[inline]
pub(crate) fn after(a: u32, b: u32) -> bool {
    (b.wrapping_sub(a) as i32) < 0
}

impl Conn {
    /// The real server.
    #[inline]
    pub(crate) fn real(&self) -> &Real {
        // SAFETY: the entry owns a strong reference, dropped only when the
        // entry is freed after a grace period.
        unsafe { &*self.real }
    }

    /// The state byte.
    #[inline]
    pub(crate) fn state(&self) -> u8 {
        self.state.load(Relaxed)
    }

    /// Sets the state; returns the old one.
    #[inline]
    pub(crate) fn set_state(&self, s: u8) -> u8 {
        self.state.swap(s, Relaxed)
    }

    /// Extends the entry's life to `expires` (32-bit jiffies).
    #[inline]
    pub(crate) fn touch(&self, expires: u32) {
        if self.expires.load(Relaxed) != expires {
            self.expires.store(expires, Relaxed);
        }
    }

    /// The expiry time (32-bit jiffies).
    pub(crate) fn expires(&self) -> u32 {
        self.expires.load(Relaxed)
    }

    /// Client address, port and flags.
    pub(crate) fn client(&self) -> (&[u8; 16], u16, u8) {
        (&self.client, self.cport, self.flags)
    }

    /// The service id.
    pub(crate) fn svc(&self) -> u32 {
        self.svc
    }

    fn matches(&self, svc: u32, client: &[u8; 16], cport: u16, flags: u8) -> bool {
        self.svc == svc && self.cport == cport && self.flags == flags && self.client == *client
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        // SAFETY: the entry's own reference, taken by `insert`.
        drop(unsafe { Arc::from_raw(self.real) });
    }
}

/// Calls `f` on an entry about to be unlinked, so the caller can keep its
/// counts right.
pub(crate) trait OnUnlink: Fn(&Conn) {}
impl<F: Fn(&Conn)> OnUnlink for F {}

/// Why an insert did not happen.
pub(crate) enum InsertError {
    /// Full and nothing in the bucket to reclaim.
    Full,
    /// No memory.
    NoMemory,
}

const LOCKS: usize = 256;

/// The table.
pub(crate) struct ConnTable {
    buckets: KVVec<AtomicPtr<Conn>>,
    locks: KVec<BhLock<()>>,
    seed: u32,
    count: AtomicU32,
    max: AtomicU32,
}

impl ConnTable {
    /// A table of `1 << bits` buckets holding at most `max` entries.
    pub(crate) fn new(bits: u32, max: u32, seed: u32) -> Result<KBox<Self>> {
        let n = 1usize << bits;
        let mut buckets = KVVec::with_capacity(n, GFP_KERNEL)?;
        for _ in 0..n {
            buckets.push(AtomicPtr::new(ptr::null_mut()), GFP_KERNEL)?;
        }
        let mut locks = KVec::with_capacity(LOCKS, GFP_KERNEL)?;
        for _ in 0..LOCKS {
            locks.push(BhLock::new(()), GFP_KERNEL)?;
        }
        let t = KBox::new(Self { buckets, locks, seed, count: AtomicU32::new(0), max: AtomicU32::new(max) }, GFP_KERNEL)?;
        for l in t.locks.iter() {
            // SAFETY: the vector is never resized again, so the locks stay
            // where they are; each is initialised once, before use.
            unsafe { l.init() };
        }
        Ok(t)
    }

    fn bucket(&self, svc: u32, client: &[u8; 16], cport: u16) -> usize {
        let w = |i: usize| u32::from_ne_bytes([client[i], client[i + 1], client[i + 2], client[i + 3]]);
        let h = hash::jhash2(&[svc, w(0), w(4), w(8), w(12), cport.into()], self.seed);
        (h as usize) & (self.buckets.len() - 1)
    }

    fn lock(&self, b: usize) -> &BhLock<()> {
        &self.locks[b % LOCKS]
    }

    /// Entries in the table.
    pub(crate) fn count(&self) -> u32 {
        self.count.load(Relaxed)
    }

    /// The bound.
    pub(crate) fn max(&self) -> u32 {
        self.max.load(Relaxed)
    }

    /// Changes the bound (entries above it age out).
    pub(crate) fn set_max(&self, max: u32) {
        self.max.store(max, Relaxed)
    }

    /// The bytes one entry takes.
    pub(crate) const ENTRY_SIZE: usize = core::mem::size_of::<Conn>();

    /// Finds a live entry.
    #[inline]
    pub(crate) fn lookup<'g>(
        &'g self,
        _g: &'g RcuGuard,
        svc: u32,
        client: &Addr,
        cport: u16,
        flags: u8,
        now: u32,
    ) -> Option<&'g Conn> {
        let b = self.bucket(svc, client.raw(), cport);
        let mut p = self.buckets[b].load(Acquire);
        while !p.is_null() {
            // SAFETY: entries reachable from a bucket are freed only after a
            // grace period, which `_g` holds off.
            let c = unsafe { &*p };
            if c.matches(svc, client.raw(), cport, flags) && !after(now, c.expires()) {
                return Some(c);
            }
            p = c.next.load(Acquire);
        }
        None
    }

    /// Inserts an entry (or returns the live one another CPU just made).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn insert<'g>(
        &'g self,
        _g: &'g RcuGuard,
        svc: u32,
        client: &Addr,
        cport: u16,
        flags: u8,
        real: Arc<Real>,
        state: u8,
        now: u32,
        expires: u32,
        on_unlink: &impl OnUnlink,
    ) -> core::result::Result<&'g Conn, InsertError> {
        let b = self.bucket(svc, client.raw(), cport);
        let _l = self.lock(b).lock();
        let head = &self.buckets[b];
        // Reclaim the bucket's expired entries; note its oldest live one.
        let mut oldest: Option<(*mut Conn, u32)> = None;
        let mut prev: &AtomicPtr<Conn> = head;
        let mut p = head.load(Relaxed);
        while !p.is_null() {
            // SAFETY: we hold the bucket lock; entries in it are live.
            let c = unsafe { &*p };
            let next = c.next.load(Relaxed);
            if after(now, c.expires()) {
                prev.store(next, Release);
                self.retire(p, on_unlink);
            } else {
                if c.matches(svc, client.raw(), cport, flags) {
                    return Ok(c);
                }
                if oldest.is_none_or(|(_, e)| after(e, c.expires())) {
                    oldest = Some((p, c.expires()));
                }
                prev = &c.next;
            }
            p = next;
        }
        if self.count.load(Relaxed) >= self.max.load(Relaxed) {
            let (victim, _) = oldest.ok_or(InsertError::Full)?;
            self.unlink_locked(b, victim, on_unlink);
        }
        let conn = KBox::new(
            Conn {
                next: AtomicPtr::new(head.load(Relaxed)),
                rcu: RcuHead::new(),
                real: Arc::into_raw(real),
                svc,
                expires: AtomicU32::new(expires),
                client: *client.raw(),
                cport,
                state: AtomicU8::new(state),
                flags,
            },
            GFP_ATOMIC,
        )
        .map_err(|_| InsertError::NoMemory)?;
        let p = KBox::into_raw(conn);
        head.store(p, Release);
        self.count.fetch_add(1, Relaxed);
        // SAFETY: just published; freed only after a grace period.
        Ok(unsafe { &*p })
    }

    /// Unlinks `victim` from bucket `b`, whose lock the caller holds.
    fn unlink_locked(&self, b: usize, victim: *mut Conn, on_unlink: &impl OnUnlink) {
        let mut prev: &AtomicPtr<Conn> = &self.buckets[b];
        let mut p = prev.load(Relaxed);
        while !p.is_null() {
            // SAFETY: bucket lock held.
            let c = unsafe { &*p };
            if p == victim {
                prev.store(c.next.load(Relaxed), Release);
                self.retire(p, on_unlink);
                return;
            }
            prev = &c.next;
            p = c.next.load(Relaxed);
        }
    }

    /// Counts an unlinked entry out and frees it after a grace period.
    fn retire(&self, p: *mut Conn, on_unlink: &impl OnUnlink) {
        // SAFETY: `p` was just unlinked under the bucket lock; readers may
        // still see it until the grace period ends.
        on_unlink(unsafe { &*p });
        self.count.fetch_sub(1, Relaxed);
        // SAFETY: `p` came from `KBox::into_raw` and is no longer reachable.
        unsafe { RcuFree::free_after_grace_period(p) };
    }

    /// Unlinks every entry for which `pred` holds (and every expired one,
    /// when `now` is given).
    pub(crate) fn retain(&self, now: Option<u32>, pred: impl Fn(&Conn) -> bool, on_unlink: &impl OnUnlink) {
        for b in 0..self.buckets.len() {
            if self.buckets[b].load(Relaxed).is_null() {
                continue;
            }
            let _l = self.lock(b).lock();
            let mut prev: &AtomicPtr<Conn> = &self.buckets[b];
            let mut p = prev.load(Relaxed);
            while !p.is_null() {
                // SAFETY: bucket lock held.
                let c = unsafe { &*p };
                let next = c.next.load(Relaxed);
                if pred(c) || now.is_some_and(|n| after(n, c.expires())) {
                    prev.store(next, Release);
                    self.retire(p, on_unlink);
                } else {
                    prev = &c.next;
                }
                p = next;
            }
        }
    }

}

impl Drop for ConnTable {
    fn drop(&mut self) {
        // Nobody else can reach the table any more.
        for b in self.buckets.iter() {
            let mut p = b.swap(ptr::null_mut(), Relaxed);
            while !p.is_null() {
                // SAFETY: exclusively ours; from `KBox::into_raw`.
                let c = unsafe { KBox::from_raw(p) };
                p = c.next.load(Relaxed);
                drop(c);
            }
        }
    }
}

// SAFETY: `rcu` is the `RcuHead` field at this offset.
unsafe impl RcuFree for Conn {
    const HEAD_OFFSET: usize = core::mem::offset_of!(Conn, rcu);
}
