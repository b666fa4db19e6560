// SPDX-License-Identifier: GPL-2.0

//! The frame out: a packet the decision gave a real server leaves on the
//! real server's device, addressed to its MAC; the rest of the packet is
//! untouched.
//!
//! A packet larger than the egress device's MTU is never sent oversize.
//! An IPv4 packet that allows fragmentation is sent in fragments, as a
//! router would (this happens to a datagram that nf_defrag reassembled,
//! or when the egress device's MTU is smaller than the ingress one's).
//! Any other (IPv4 with "don't fragment", or IPv6, which routers do not
//! fragment) is answered with ICMP "fragmentation needed" or "packet too
//! big" carrying the MTU, so the client's path MTU discovery works, and
//! dropped. GSO packets whose segments fit go as they are.

use crate::dataplane::Dataplane;
use crate::kapi::netfilter::{Family, ForwardError, Packet, Unsent, Verdict};
use crate::service::{Real, Service};

/// Sends `pkt` of service `svc` to `real`, counting it; drops it when there
/// is no usable real server or the device refuses it.
pub(crate) fn send(dp: &Dataplane, family: Family, pkt: Packet<'_>, svc: &Service, real: Option<&Real>) -> Verdict {
    let Some((r, (ifindex, mac))) = real.and_then(|r| Some((r, r.location()?))) else {
        dp.counters.no_real.add(1);
        return Verdict::DROP;
    };
    let len = pkt.len();
    let sent = |v| {
        svc.stats.packet(len);
        r.stats.packet(len);
        v
    };
    match pkt.forward(ifindex, &mac) {
        Ok(v) => sent(v),
        Err(Unsent { why: ForwardError::TooBig(mtu), packet: mut p }) => {
            if family == Family::Ipv4 && !p.dont_fragment() {
                match p.forward_fragments(ifindex, &mac) {
                    Ok(v) => sent(v),
                    Err(_) => {
                        dp.counters.xmit_errors.add(1);
                        Verdict::DROP
                    }
                }
            } else {
                dp.counters.too_big.add(1);
                p.reply_too_big(family, mtu)
            }
        }
        Err(_) => {
            dp.counters.xmit_errors.add(1);
            Verdict::DROP
        }
    }
}

/// Sends an ICMP error about a flow of a service to that flow's real
/// server, as IPVS does; without one, the stack may have it.
pub(crate) fn send_icmp(dp: &Dataplane, pkt: Packet<'_>, real: Option<&Real>) -> Verdict {
    let Some((ifindex, mac)) = real.and_then(Real::location) else {
        return Verdict::ACCEPT;
    };
    match pkt.forward(ifindex, &mac) {
        Ok(v) => {
            dp.counters.icmp_forwarded.add(1);
            v
        }
        Err(_) => Verdict::DROP,
    }
}
