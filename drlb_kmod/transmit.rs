// SPDX-License-Identifier: GPL-2.0

//! The frame out: a packet the decision gave a real server leaves on the
//! real server's device, addressed to its MAC; the rest of the packet is
//! untouched.

use crate::dataplane::Dataplane;
use crate::kapi::netfilter::{Packet, Verdict};
use crate::service::{Real, Service};

/// Sends `pkt` of service `svc` to `real`, counting it; drops it when there
/// is no usable real server or the device refuses it.
pub(crate) fn send(dp: &Dataplane, pkt: Packet<'_>, svc: &Service, real: Option<&Real>) -> Verdict {
    let Some((ifindex, mac)) = real.and_then(|r| {
        let len = pkt.len();
        svc.stats.packet(len);
        r.stats.packet(len);
        r.location()
    }) else {
        dp.counters.no_real.add(1);
        return Verdict::DROP;
    };
    match pkt.forward(ifindex, &mac) {
        Ok(v) => v,
        Err(_) => {
            dp.counters.xmit_errors.add(1);
            Verdict::DROP
        }
    }
}
