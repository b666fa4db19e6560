// SPDX-License-Identifier: GPL-2.0

//! The connection table: which real server each flow goes to.
//!
//! An [`RcuHash`]: the packet path looks entries up without locks; inserts
//! and removals lock the entry's chain. The table is bounded; what an insert
//! reclaims, evicts or refuses is `conn_policy::insert`, host-tested in
//! drlb-core. Its chains follow the bound (`conn_policy::table_bits`: a full
//! table averages at most two entries a chain), resized in place while
//! packets flow; a namespace without services keeps the fewest.

use crate::conn_policy::{self, Chain, Inserted};
use crate::hash;
use crate::kapi::rcu::RcuGuard;
use crate::kapi::rcu_hash::{self, RcuHash, Writer};
use crate::service::{Addr, Real};
use core::sync::atomic::{AtomicU32, AtomicU8, Ordering::*};
use kernel::prelude::*;
use kernel::sync::Arc;

/// The entry is a persistence template (client-IP affinity), not a flow.
pub(crate) const F_TEMPLATE: u8 = 1;
/// The state of an entry that left the table: its real server's counts no
/// longer include it, and no state change may count it again.
const DEAD: u8 = u8::MAX;

/// One connection.
pub(crate) struct Conn {
    real: Arc<Real>,
    svc: u32,
    /// Jiffies (low 32 bits) after which the entry is expired.
    expires: AtomicU32,
    client: [u8; 16],
    cport: u16,
    /// TCP state (`tcp_state::TcpState` as u8) or 0.
    state: AtomicU8,
    flags: u8,
}

pub(crate) use conn_policy::after;

impl Conn {
    /// The real server.
    #[inline]
    pub(crate) fn real(&self) -> &Real {
        &self.real
    }

    /// The state byte.
    #[inline]
    pub(crate) fn state(&self) -> u8 {
        self.state.load(Relaxed)
    }

    /// Moves the state from `from` to `to`; false if another CPU changed
    /// it first, or the entry left the table (then the change is theirs to
    /// count, or nobody's).
    #[inline]
    pub(crate) fn change_state(&self, from: u8, to: u8) -> bool {
        self.state.compare_exchange(from, to, Relaxed, Relaxed).is_ok()
    }

    /// Marks the entry as gone; its state until now, or `None` if it was
    /// gone already.
    pub(crate) fn kill(&self) -> Option<u8> {
        Some(self.state.swap(DEAD, Relaxed)).filter(|s| *s != DEAD)
    }

    /// Whether the entry left the table.
    pub(crate) fn is_gone(&self) -> bool {
        self.state() == DEAD
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

    /// Whether this entry is a persistence template.
    pub(crate) fn is_template(&self) -> bool {
        self.flags & F_TEMPLATE != 0
    }

    /// The service id.
    pub(crate) fn svc(&self) -> u32 {
        self.svc
    }

    /// The client address, 16 bytes (IPv4 zero-padded).
    pub(crate) fn client(&self) -> &[u8; 16] {
        &self.client
    }

    /// The client port (0 for a template).
    pub(crate) fn cport(&self) -> u16 {
        self.cport
    }

    fn matches(&self, svc: u32, client: &[u8; 16], cport: u16, flags: u8) -> bool {
        self.svc == svc && self.cport == cport && self.flags == flags && self.client == *client
    }
}

/// What an insert found or made.
pub(crate) struct Insert<'g> {
    /// The entry.
    pub(crate) conn: &'g Conn,
    /// This insert made it (else another CPU had, for the same flow).
    pub(crate) new: bool,
}

/// Why an insert did not happen.
pub(crate) enum InsertError {
    /// Full, and nothing in the chain to reclaim.
    Full,
    /// No memory.
    NoMemory,
}

/// The table.
pub(crate) struct ConnTable {
    hash: RcuHash<Conn>,
    seed: u32,
    count: AtomicU32,
    max: AtomicU32,
    /// The `conn_table_bits` parameter (0: none).
    fixed_bits: u32,
}

// The idle table's chains are the RCU hash's minimum.
const _: () = assert!(conn_policy::MIN_TABLE_BITS == rcu_hash::STRIPE_BITS);

impl ConnTable {
    /// A table holding at most `max` entries, with the fewest chains until
    /// [`Self::resize_for`] sizes it: `2^fixed_bits` chains if `fixed_bits`
    /// is not 0 (the `conn_table_bits` parameter), else as `max` calls for.
    pub(crate) fn new(max: u32, fixed_bits: u32, seed: u32) -> Result<KBox<Self>> {
        Ok(KBox::new(
            Self {
                hash: RcuHash::new(conn_policy::MIN_TABLE_BITS)?,
                seed,
                count: AtomicU32::new(0),
                max: AtomicU32::new(max),
                fixed_bits,
            },
            GFP_KERNEL,
        )?)
    }

    /// The bytes one entry takes, chain link and RCU head included.
    pub(crate) const ENTRY_SIZE: usize = rcu_hash::entry_size::<Conn>();

    #[inline]
    fn bucket(&self, svc: u32, client: &[u8; 16], cport: u16) -> usize {
        hash::key_hash(client, svc, cport.into(), self.seed) as usize
    }

    /// Gives the table the chains a bound of `max` calls for, moving the
    /// entries; lookups and inserts go on meanwhile. Process context.
    pub(crate) fn resize_for(&self, max: u32) -> Result {
        self.resize(conn_policy::chains_bits(max, self.fixed_bits))
    }

    /// Shrinks the table to the fewest chains (a namespace without
    /// services). Process context.
    pub(crate) fn resize_idle(&self) -> Result {
        self.resize(conn_policy::MIN_TABLE_BITS)
    }

    fn resize(&self, bits: u32) -> Result {
        self.hash.resize(bits, |c| self.bucket(c.svc, &c.client, c.cport))
    }

    /// The number of chains.
    pub(crate) fn buckets(&self) -> usize {
        self.hash.buckets()
    }

    /// A number that changes whenever chain `b` changes (see
    /// [`RcuHash::generation`]), for dumps.
    pub(crate) fn chain_generation(&self, b: usize) -> u32 {
        self.hash.generation(b)
    }

    /// A number that changes with every resize, odd during one (see
    /// [`RcuHash::resizes`]), for dumps: chain numbers mean the same
    /// entries only between two equal even reads.
    pub(crate) fn resizes(&self) -> u32 {
        self.hash.resizes()
    }

    /// The entries of chain `b`, for dumps.
    pub(crate) fn chain_entries<'g>(&'g self, g: &'g RcuGuard, b: usize) -> impl Iterator<Item = &'g Conn> {
        self.hash.entries(g, b)
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

    /// Finds a live entry.
    #[inline]
    pub(crate) fn lookup<'g>(
        &'g self,
        g: &'g RcuGuard,
        svc: u32,
        client: &Addr,
        cport: u16,
        flags: u8,
        now: u32,
    ) -> Option<&'g Conn> {
        let b = self.bucket(svc, client.raw(), cport);
        self.hash.find(g, b, |c| c.matches(svc, client.raw(), cport, flags) && !after(now, c.expires()))
    }

    /// Inserts an entry, or returns the live one another CPU just made.
    /// Expired entries in the chain, and those `stale` picks, are removed
    /// first; `on_unlink` sees every entry this removes.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn insert<'g>(
        &'g self,
        g: &'g RcuGuard,
        svc: u32,
        client: &Addr,
        cport: u16,
        flags: u8,
        real: Arc<Real>,
        state: u8,
        now: u32,
        expires: u32,
        stale: &impl Fn(&Conn) -> bool,
        on_unlink: &impl Fn(&Conn),
    ) -> core::result::Result<Insert<'g>, InsertError> {
        let b = self.bucket(svc, client.raw(), cport);
        let same = |c: &Conn| c.matches(svc, client.raw(), cport, flags);
        self.hash.write(g, b, |w| {
            let mut chain = Linked { w, table: self, on_unlink };
            let r = conn_policy::insert(&mut chain, now, self.max(), || self.count(), stale, same, |chain| {
                let c = chain.w.push_front(Conn {
                    real,
                    svc,
                    expires: AtomicU32::new(expires),
                    client: *client.raw(),
                    cport,
                    state: AtomicU8::new(state),
                    flags,
                });
                if c.is_ok() {
                    self.count.fetch_add(1, Relaxed);
                }
                c
            });
            match r {
                Ok(Inserted::New(c) | Inserted::Evicted(c)) => {
                    c.map(|conn| Insert { conn, new: true }).map_err(|_| InsertError::NoMemory)
                }
                Ok(Inserted::Existing) => chain
                    .w
                    .iter()
                    .find(|c| same(c))
                    .map(|conn| Insert { conn, new: false })
                    .ok_or(InsertError::Full),
                Err(conn_policy::Refused::Full) => Err(InsertError::Full),
            }
        })
    }

    /// Removes the entry of one flow (`flags` [`F_TEMPLATE`]: the client's
    /// template) if `pred` holds for it.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn remove(
        &self,
        g: &RcuGuard,
        svc: u32,
        client: &Addr,
        cport: u16,
        flags: u8,
        pred: impl Fn(&Conn) -> bool,
        on_unlink: &impl Fn(&Conn),
    ) {
        let b = self.bucket(svc, client.raw(), cport);
        self.hash.write(g, b, |w| {
            let mut chain = Linked { w, table: self, on_unlink };
            chain.retain(|c| !(c.matches(svc, client.raw(), cport, flags) && pred(c)));
        });
    }

    /// Removes every entry for which `pred` holds, and every expired one
    /// when `now` is given. Process context: [`RcuHash::retain`] walks the
    /// table a chunk of chains at a time, each in its own RCU read-side
    /// section, with a reschedule point between chunks, so a large table
    /// neither holds off grace periods nor keeps the CPU for the whole walk.
    pub(crate) fn retain(&self, now: Option<u32>, pred: impl Fn(&Conn) -> bool, on_unlink: &impl Fn(&Conn)) {
        self.hash.retain(
            |c| !(pred(c) || now.is_some_and(|n| after(n, c.expires()))),
            |c| {
                on_unlink(c);
                self.count.fetch_sub(1, Relaxed);
            },
        );
    }
}

/// A locked chain as the policy sees it: unlinks keep the table's count.
struct Linked<'a, 'w, 'g, F: Fn(&Conn)> {
    w: &'a mut Writer<'w, 'g, Conn>,
    table: &'a ConnTable,
    on_unlink: &'a F,
}

impl<F: Fn(&Conn)> Chain for Linked<'_, '_, '_, F> {
    type Entry = Conn;

    fn entries(&self) -> impl Iterator<Item = &Conn> {
        self.w.iter()
    }

    fn retain(&mut self, keep: impl FnMut(&Conn) -> bool) -> usize {
        let mut gone = 0;
        self.w.retain(keep, |c| {
            (self.on_unlink)(c);
            self.table.count.fetch_sub(1, Relaxed);
            gone += 1;
        });
        gone
    }

    fn expires(c: &Conn) -> u32 {
        c.expires()
    }
}
