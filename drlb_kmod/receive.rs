// SPDX-License-Identifier: GPL-2.0

//! The hook: each packet at PRE_ROUTING is parsed, matched to a service,
//! handed to the decision and, if it goes to a real server, transmitted.
//! Everything else goes on through the stack untouched.
//!
//! ICMP errors (destination unreachable, fragmentation needed or packet
//! too big, time exceeded, parameter problem) that quote a packet a real
//! server sent from a VIP reach the director, which holds the VIP: they go
//! on to the real server that owns the flow, as IPVS's `ip_vs_in_icmp`
//! does, so that path MTU discovery works for every client.

use crate::dataplane::{Dataplane, IPPROTO_TCP, IPPROTO_UDP};
use crate::service::Config;
use crate::kapi::netfilter::{Family, Hook, Packet, Verdict};
use crate::kapi::rcu::RcuGuard;
use crate::proto;
use crate::service::{Addr, ServiceKey};
use crate::transmit;

const IPPROTO_ICMP: u8 = 1;
const IPPROTO_ICMPV6: u8 = 58;

/// What the hook found in a packet.
enum Parsed {
    /// A TCP or UDP packet (or fragment).
    Flow(Flow),
    /// An ICMP error quoting the packet of a flow from a VIP: the flow as
    /// the client sent it.
    IcmpError(Flow),
    /// Anything else.
    Other,
}

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

#[inline(always)]
fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

impl Flow {
    fn parse(family: Family, pkt: &mut Packet<'_>) -> Option<Parsed> {
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
                let (proto, off, frag) = if next == IPPROTO_TCP || next == IPPROTO_UDP || next == IPPROTO_ICMPV6 {
                    (next, 40, false)
                } else {
                    let (p, o, f) = pkt.ipv6_upper(next)?;
                    (p, o as usize, f)
                };
                (proto, s, d, off, frag)
            }
        };
        if (proto == IPPROTO_ICMP || proto == IPPROTO_ICMPV6) && !fragment {
            return Some(Self::icmp_error(family, pkt, l4, &daddr).map_or(Parsed::Other, Parsed::IcmpError));
        }
        if proto != IPPROTO_TCP && proto != IPPROTO_UDP {
            return None;
        }
        if fragment {
            return Some(Parsed::Flow(Flow { proto, saddr, daddr, sport: 0, dport: 0, tcp_flags: 0, fragment }));
        }
        let need = l4 + if proto == IPPROTO_TCP { 14 } else { 4 };
        let h = pkt.header(need as u32)?;
        let tcp_flags = if proto == IPPROTO_TCP { h[l4 + 13] } else { 0 };
        let (sport, dport) = (be16(h, l4), be16(h, l4 + 2));
        Some(Parsed::Flow(Flow { proto, saddr, daddr, sport, dport, tcp_flags, fragment }))
    }

    /// The flow an ICMP error at `icmp` quotes, if it is one drlb forwards:
    /// an error message quoting a TCP or UDP packet sent from `to` (the
    /// address the error is for: a VIP) with its ports. Returned as the
    /// client's side of the flow.
    fn icmp_error(family: Family, pkt: &mut Packet<'_>, icmp: usize, to: &Addr) -> Option<Flow> {
        let inner = icmp + 8;
        let (error, ip_len) = match family {
            Family::Ipv4 => {
                let h = pkt.header((inner + 20) as u32)?;
                // unreachable, source quench, time exceeded, parameter problem
                (matches!(h[icmp], 3 | 4 | 11 | 12) && h[inner] >> 4 == 4, usize::from(h[inner] & 0x0f) * 4)
            }
            Family::Ipv6 => {
                let h = pkt.header((inner + 40) as u32)?;
                // unreachable, packet too big, time exceeded, parameter problem
                ((1..=4).contains(&h[icmp]) && h[inner] >> 4 == 6, 40)
            }
        };
        if !error || ip_len < 20 {
            return None;
        }
        let h = pkt.header((inner + ip_len + 4) as u32)?;
        let (proto, from, client) = match family {
            // (a quoted fragment other than the first carries no ports)
            Family::Ipv4 if be16(h, inner + 6) & 0x1fff != 0 => return None,
            Family::Ipv4 => (h[inner + 9], &h[inner + 12..inner + 16], &h[inner + 16..inner + 20]),
            Family::Ipv6 => (h[inner + 6], &h[inner + 8..inner + 24], &h[inner + 24..inner + 40]),
        };
        let (from, client) = (Addr::from_slice(from)?, Addr::from_slice(client)?);
        if (proto != IPPROTO_TCP && proto != IPPROTO_UDP) || from != *to {
            return None;
        }
        let ports = inner + ip_len;
        let (sport, dport) = (be16(h, ports), be16(h, ports + 2));
        Some(Flow { proto, saddr: client, daddr: from, sport: dport, dport: sport, tcp_flags: 0, fragment: false })
    }
}

impl Hook for Dataplane {
    fn hook(&self, g: &RcuGuard, family: Family, mut pkt: Packet<'_>) -> Verdict {
        self.hook_packets.add(1);
        let cfg = self.config.get(g);
        if cfg.services.is_empty() {
            return Verdict::ACCEPT;
        }
        let flow = match Flow::parse(family, &mut pkt) {
            Some(Parsed::Flow(f)) => f,
            Some(Parsed::IcmpError(f)) => return self.icmp_error(g, cfg, pkt, &f),
            Some(Parsed::Other) | None => return Verdict::ACCEPT,
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
        let real = self.pick(g, svc, &flow);
        transmit::send(self, family, pkt, svc, real)
    }
}

impl Dataplane {
    /// An ICMP error quoting a flow of a service goes to that flow's real
    /// server (while the service forwards here); else to the stack.
    fn icmp_error(&self, g: &RcuGuard, cfg: &Config, pkt: Packet<'_>, f: &Flow) -> Verdict {
        let key = ServiceKey { proto: f.proto, vip: f.daddr, port: f.dport };
        let Some(svc) = cfg.find(&key) else {
            return Verdict::ACCEPT;
        };
        if self.state() != proto::STATE_ACTIVE || svc.settings.standby {
            return Verdict::ACCEPT;
        }
        transmit::send_icmp(self, pkt, self.route_icmp(g, svc, &f.saddr, f.sport))
    }
}
