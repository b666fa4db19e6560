// SPDX-License-Identifier: GPL-2.0

//! The hook: each packet at PRE_ROUTING is parsed, matched to a service,
//! handed to the decision and, if it goes to a real server, transmitted.
//! Everything else goes on through the stack untouched.

use crate::dataplane::{Dataplane, IPPROTO_TCP, IPPROTO_UDP};
use crate::kapi::netfilter::{Family, Hook, Packet, Verdict};
use crate::kapi::rcu::RcuGuard;
use crate::proto;
use crate::service::{Addr, ServiceKey};
use crate::transmit;

/// The parts of a packet the data plane looks at.
pub(crate) struct Flow {
    pub(crate) proto: u8,
    pub(crate) saddr: Addr,
    pub(crate) daddr: Addr,
    pub(crate) sport: u16,
    pub(crate) dport: u16,
    pub(crate) tcp_flags: u8,
    pub(crate) fragment: bool,
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
                (h[9], Addr::from_slice(&h[12..16])?, Addr::from_slice(&h[16..20])?, ihl, frag)
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
                (proto, s, d, off, frag)
            }
        };
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
            if cfg.has_vip(flow.proto, &flow.daddr) {
                self.counters.fragments.add(1);
            }
            return Verdict::ACCEPT;
        }
        let Some(svc) = cfg.find(&key) else {
            return Verdict::ACCEPT;
        };
        if self.state() != proto::STATE_ACTIVE || svc.settings.standby {
            return Verdict::ACCEPT;
        }
        let real = self.pick(&g, svc, &flow);
        transmit::send(self, pkt, svc, real)
    }
}
