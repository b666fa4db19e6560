// SPDX-License-Identifier: GPL-2.0

//! The packet path: what the PRE_ROUTING hook does with each packet.

use crate::kapi::netfilter::{Family, Hook, Packet, Verdict};
use crate::kapi::percpu::PerCpuCounter;
use crate::proto;
use core::sync::atomic::{AtomicU8, Ordering};
use kernel::prelude::*;

/// One namespace's data plane.
pub(crate) struct Dataplane {
    /// [`proto::STATE_ACTIVE`] or [`proto::STATE_STANDBY`]; switched atomically.
    state: AtomicU8,
    /// Packets the hooks saw, in both families.
    hook_packets: PerCpuCounter,
}

impl Dataplane {
    /// A data plane in the active state, as IPVS always is: forwarding starts
    /// as soon as a service exists unless a VRRP daemon says otherwise.
    pub(crate) fn new() -> Result<Self> {
        Ok(Self { state: AtomicU8::new(proto::STATE_ACTIVE), hook_packets: PerCpuCounter::new()? })
    }

    /// The current state.
    pub(crate) fn state(&self) -> u8 {
        self.state.load(Ordering::Relaxed)
    }

    /// Switches state; returns the previous one.
    pub(crate) fn set_state(&self, state: u8) -> u8 {
        self.state.swap(state, Ordering::Relaxed)
    }

    /// Packets seen by this namespace's hooks.
    pub(crate) fn hook_packets(&self) -> u64 {
        self.hook_packets.sum()
    }
}

impl Hook for Dataplane {
    fn hook(&self, _family: Family, _pkt: Packet<'_>) -> Verdict {
        self.hook_packets.add(1);
        Verdict::ACCEPT
    }
}
