// SPDX-License-Identifier: GPL-2.0

//! The sync queue: what this director tells its peers about its
//! connections, waiting for the daemon to read it out (`SYNC_READ`).
//!
//! While sync sending is on, the packet path appends one record
//! (`sync_record` format) for each entry it makes, each TCP state change,
//! and a refresh of a live entry about every half of its timeout, so that a
//! peer's copy outlives no flow and no flow outlives its peer's copy. Off
//! (the default), all it costs is one load per new entry or state change.
//!
//! The queue is two buffers of fixed capacity, allocated when sending is
//! turned on: the packet path appends to one under a bottom-half spinlock
//! (a copy of at most 60 bytes, never an allocation); the reader swaps it
//! for the other, already read out, in O(1) and copies from that. A full
//! queue drops the record and counts it: the daemon is not reading (it
//! died, or is far behind). A dropped record is a peer's copy missing or
//! stale until the entry's next refresh or state change.

use crate::kapi::lock::{new_bh_lock, BhLock};
use crate::sync_record::{self, Record};
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use kernel::prelude::*;

/// Bytes each buffer holds: 10922 IPv4 records, 4369 IPv6 ones. The
/// daemon reads every 20 ms, so this is room for 500k new IPv4
/// connections a second.
const CAPACITY: usize = 256 * 1024;

/// Two buffers of [`CAPACITY`] bytes each (empty while sending is off),
/// and how much of each is in use.
struct Buffers {
    /// The packet path appends here, up to `filled`.
    filling: KVVec<u8>,
    filled: usize,
    /// The reader copies out of here, from `read_at` up to `drained`.
    draining: KVVec<u8>,
    drained: usize,
    read_at: usize,
    /// Records in both, not yet read.
    waiting: u32,
}

impl Buffers {
    fn empty() -> Self {
        Self { filling: KVVec::new(), filled: 0, draining: KVVec::new(), drained: 0, read_at: 0, waiting: 0 }
    }
}

/// Counters of the sync path, all since the module loaded.
#[derive(Default)]
pub(crate) struct SyncCounters {
    /// Records read out (for peers).
    pub(crate) sent: AtomicU64,
    /// Records dropped: the queue was full.
    pub(crate) overflow: AtomicU64,
    /// Peers' records inserted or updated.
    pub(crate) applied: AtomicU64,
    /// Peers' records for a service or real server not configured here.
    pub(crate) unknown: AtomicU64,
    /// Peers' batches refused as malformed.
    pub(crate) malformed: AtomicU64,
    /// Peers' records refused: the table was full.
    pub(crate) no_room: AtomicU64,
}

/// One namespace's sync queue.
pub(crate) struct SyncQueue {
    on: AtomicBool,
    buffers: Pin<KBox<BhLock<Buffers>>>,
    /// The counters.
    pub(crate) counters: SyncCounters,
}

/// What one read took out.
pub(crate) struct Read {
    /// Whole records, back to back.
    pub(crate) records: KVec<u8>,
    /// More wait.
    pub(crate) more: bool,
}

impl SyncQueue {
    /// An empty queue, off; it allocates nothing until turned on.
    pub(crate) fn new() -> Result<Self> {
        Ok(Self {
            on: AtomicBool::new(false),
            buffers: KBox::pin_init(new_bh_lock!(Buffers::empty(), "drlb_sync_queue"), GFP_KERNEL)?,
            counters: SyncCounters::default(),
        })
    }

    /// Whether sending is on: the packet path's one check.
    #[inline]
    pub(crate) fn is_on(&self) -> bool {
        self.on.load(Relaxed)
    }

    /// Turns sending on (allocating the buffers first: on failure nothing
    /// changed) or off (what waits is dropped and the buffers freed).
    /// Process context.
    pub(crate) fn set(&self, on: bool) -> Result {
        let mut next = Buffers::empty();
        if on {
            if self.is_on() {
                return Ok(());
            }
            next.filling = KVVec::from_elem(0, CAPACITY, GFP_KERNEL)?;
            next.draining = KVVec::from_elem(0, CAPACITY, GFP_KERNEL)?;
        } else {
            self.on.store(false, Relaxed);
        }
        core::mem::swap(&mut *self.buffers.lock(), &mut next);
        self.on.store(on, Relaxed);
        // (the old buffers, if any, are freed here, outside the lock)
        drop(next);
        Ok(())
    }

    /// Appends `r`, or counts it lost if the queue is full (or was just
    /// turned off). Any context.
    pub(crate) fn push(&self, r: &Record) {
        let mut bytes = [0u8; sync_record::MAX_LEN];
        let Some(len) = r.encode(&mut bytes) else { return };
        let mut b = self.buffers.lock();
        let at = b.filled;
        match b.filling.get_mut(at..at + len) {
            Some(room) => {
                room.copy_from_slice(&bytes[..len]);
                b.filled += len;
                b.waiting += 1;
            }
            None => {
                drop(b);
                self.counters.overflow.fetch_add(1, Relaxed);
            }
        }
    }

    /// Takes whole records out, at most `max` bytes. Process context.
    pub(crate) fn read(&self, max: usize) -> Result<Read> {
        let mut records = KVec::with_capacity(max, GFP_KERNEL)?;
        let mut b = self.buffers.lock();
        if b.read_at == b.drained {
            let b = &mut *b;
            core::mem::swap(&mut b.filling, &mut b.draining);
            b.drained = b.filled;
            b.filled = 0;
            b.read_at = 0;
        }
        let rest = &b.draining[b.read_at..b.drained];
        let mut take = 0;
        let mut n = 0u32;
        while let Some(len) = rest.get(take).and_then(|k| sync_record::len_of_kind(*k)) {
            if take + len > max || take + len > rest.len() {
                break;
            }
            take += len;
            n += 1;
        }
        // (within the capacity reserved above: no allocation under the lock)
        records.extend_from_slice(&rest[..take], GFP_ATOMIC)?;
        b.read_at += take;
        b.waiting -= n;
        let more = b.read_at < b.drained || b.filled != 0;
        drop(b);
        self.counters.sent.fetch_add(n.into(), Relaxed);
        Ok(Read { records, more })
    }

    /// Records waiting.
    pub(crate) fn queued(&self) -> u32 {
        self.buffers.lock().waiting
    }
}
