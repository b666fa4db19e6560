// SPDX-License-Identifier: GPL-2.0

//! Per-service and per-real-server counters: per-CPU on the packet path,
//! summed for readers, with rates estimated every two seconds as IPVS does
//! (an average over about eight seconds).

use crate::kapi::percpu::PerCpuCounter;
use core::sync::atomic::{AtomicU64, Ordering::Relaxed};
use kernel::prelude::*;

/// Connections, packets and bytes, and their rates.
pub(crate) struct Stats {
    conns: PerCpuCounter,
    packets: PerCpuCounter,
    bytes: PerCpuCounter,
    /// The sums when the estimator last ran.
    last: [AtomicU64; 3],
    /// Estimated rates per second, scaled by 2^10 (as IPVS keeps them).
    rates: [AtomicU64; 3],
    /// What `zero` subtracted: counters restart from here.
    base: [AtomicU64; 3],
}

/// A reading of [`Stats`].
#[derive(Default, Clone, Copy)]
pub(crate) struct Reading {
    /// Connections created.
    pub(crate) conns: u64,
    /// Packets forwarded.
    pub(crate) packets: u64,
    /// Bytes forwarded.
    pub(crate) bytes: u64,
    /// Connections per second.
    pub(crate) cps: u64,
    /// Packets per second.
    pub(crate) pps: u64,
    /// Bytes per second.
    pub(crate) bps: u64,
}

/// How often [`Stats::estimate`] must run, in seconds.
pub(crate) const ESTIMATOR_PERIOD_S: u64 = 2;

impl Stats {
    /// Zeroed counters.
    pub(crate) fn new() -> Result<Self> {
        Ok(Self {
            conns: PerCpuCounter::new()?,
            packets: PerCpuCounter::new()?,
            bytes: PerCpuCounter::new()?,
            last: Default::default(),
            rates: Default::default(),
            base: Default::default(),
        })
    }

    /// Counts a new connection.
    #[inline]
    pub(crate) fn conn(&self) {
        self.conns.add(1);
    }

    /// Counts a forwarded packet of `len` bytes.
    #[inline]
    pub(crate) fn packet(&self, len: u32) {
        self.packets.add(1);
        self.bytes.add(len.into());
    }

    fn sums(&self) -> [u64; 3] {
        [self.conns.sum(), self.packets.sum(), self.bytes.sum()]
    }

    /// The counters since the last [`Stats::zero`] and the rates.
    pub(crate) fn read(&self) -> Reading {
        let s = self.sums();
        let b = |i: usize| s[i].wrapping_sub(self.base[i].load(Relaxed));
        let r = |i: usize| self.rates[i].load(Relaxed) >> 10;
        Reading { conns: b(0), packets: b(1), bytes: b(2), cps: r(0), pps: r(1), bps: r(2) }
    }

    /// One estimator step: `rate += (sample - rate) / 4`, IPVS's smoothing.
    pub(crate) fn estimate(&self) {
        for ((last, rate), now) in self.last.iter().zip(&self.rates).zip(self.sums()) {
            let delta = now.wrapping_sub(last.swap(now, Relaxed));
            let sample = (delta << 10) / ESTIMATOR_PERIOD_S;
            let old = rate.load(Relaxed);
            let new = if sample >= old { old + (sample - old) / 4 } else { old - (old - sample) / 4 };
            rate.store(new, Relaxed);
        }
    }

    /// Restarts the counters and rates from zero (`drlb-tool zero`, like
    /// `ipvsadm -Z`); the per-CPU counters run on underneath.
    pub(crate) fn zero(&self) {
        for ((base, rate), now) in self.base.iter().zip(&self.rates).zip(self.sums()) {
            base.store(now, Relaxed);
            rate.store(0, Relaxed);
        }
    }
}
