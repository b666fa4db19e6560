//! The interfaces as rtnetlink reports them, without I/O: the parser of
//! RTM_NEWLINK and RTM_DELLINK messages (a dump's answers and the
//! RTNLGRP_LINK group's events alike), and the table they keep up to date:
//! each interface's index, whether it is up, and its MAC.
//!
//! [`crate::link::LinkMonitor`] reads the messages; the daemon hands them
//! to [`Links`], which says which interfaces (by name) changed, and each
//! instance looks its own up again.

use std::collections::HashMap;
use std::fmt;

use crate::nlmsg::{self, u32_at, NLMSG_HDRLEN};

const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
/// Messages of a link dump, and of the RTNLGRP_LINK group.
pub const RTM_NEWLINK: u16 = 16;
const RTM_DELLINK: u16 = 17;
/// `struct ifinfomsg`: family, pad, type, index, flags, change.
const IFINFOMSG_LEN: usize = 16;
const IFLA_ADDRESS: u16 = 1;
const IFLA_IFNAME: u16 = 3;
const IFLA_OPERSTATE: u16 = 16;
/// rta_type's flag bits (NLA_F_NESTED, NLA_F_NET_BYTEORDER).
const IFF_UP: u32 = 0x1;
const IFF_RUNNING: u32 = 0x40;
/// RFC 2863 operational states (IF_OPER_*).
const IF_OPER_UNKNOWN: u8 = 0;
const IF_OPER_UP: u8 = 6;

/// One interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    /// Its index.
    pub index: u32,
    /// Its name.
    pub name: String,
    /// Administratively up with a carrier: operstate up, or unknown (as
    /// for dummy and loopback devices, which report none).
    pub up: bool,
    /// Its Ethernet address; `None` when it has none (a tunnel), or only
    /// the all-zero one (loopback), which no frame may be sent from.
    pub mac: Option<[u8; 6]>,
}

/// What one message says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// An interface as it is now (RTM_NEWLINK: new, or changed).
    New(Link),
    /// An interface that is gone (RTM_DELLINK).
    Del {
        /// Its index.
        index: u32,
    },
    /// The end of a dump (NLMSG_DONE).
    Done,
    /// The kernel refused a request (NLMSG_ERROR with an errno).
    Error(i32),
}

/// Why a buffer could not be read whole.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError(String);

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rtnetlink: {}", self.0)
    }
}

impl std::error::Error for ParseError {}

/// The messages in one datagram from a NETLINK_ROUTE socket, in order;
/// messages of other types are skipped.
pub fn parse(buf: &[u8]) -> Result<Vec<Message>, ParseError> {
    let mut out = Vec::new();
    for (kind, body) in nlmsg::messages(buf).map_err(ParseError)? {
        match kind {
            RTM_NEWLINK | RTM_DELLINK => {
                let link = parse_link(body)?;
                out.push(if kind == RTM_NEWLINK {
                    Message::New(link)
                } else {
                    Message::Del { index: link.index }
                });
            }
            NLMSG_DONE => out.push(Message::Done),
            NLMSG_ERROR if body.len() >= 4 => {
                let errno = -(u32_at(body, 0) as i32);
                if errno != 0 {
                    out.push(Message::Error(errno));
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

/// An ifinfomsg and its attributes.
fn parse_link(body: &[u8]) -> Result<Link, ParseError> {
    if body.len() < IFINFOMSG_LEN {
        return Err(ParseError(format!(
            "a link message of {} bytes",
            body.len()
        )));
    }
    let index = u32_at(body, 4);
    let flags = u32_at(body, 8);
    let (mut name, mut mac, mut operstate) = (None, None, None);
    for (kind, data) in nlmsg::attrs(&body[IFINFOMSG_LEN..]).map_err(ParseError)? {
        match kind {
            IFLA_IFNAME => name = Some(nlmsg::c_string(data)),
            IFLA_ADDRESS if data.len() == 6 => {
                let m: [u8; 6] = data.try_into().expect("6 bytes");
                mac = (m != [0; 6]).then_some(m);
            }
            IFLA_OPERSTATE if !data.is_empty() => operstate = Some(data[0]),
            _ => {}
        }
    }
    let up = flags & IFF_UP != 0
        && match operstate {
            Some(s) => s == IF_OPER_UP || s == IF_OPER_UNKNOWN,
            None => flags & IFF_RUNNING != 0,
        };
    Ok(Link {
        index,
        name: name.unwrap_or_default(),
        up,
        mac,
    })
}

/// The RTM_GETLINK dump request.
pub fn dump_request(seq: u32) -> Vec<u8> {
    const NLM_F_REQUEST: u16 = 0x1;
    const NLM_F_DUMP: u16 = 0x300;
    const RTM_GETLINK: u16 = 18;
    let len = (NLMSG_HDRLEN + IFINFOMSG_LEN) as u32;
    let mut m = Vec::with_capacity(len as usize);
    m.extend_from_slice(&len.to_ne_bytes());
    m.extend_from_slice(&RTM_GETLINK.to_ne_bytes());
    m.extend_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
    m.extend_from_slice(&seq.to_ne_bytes());
    m.extend_from_slice(&0u32.to_ne_bytes());
    m.extend_from_slice(&[0u8; IFINFOMSG_LEN]); // AF_UNSPEC: every link
    m
}

/// The interfaces, by index, as the messages applied so far say.
#[derive(Clone, Debug, Default)]
pub struct Links {
    by_index: HashMap<u32, Link>,
    names: HashMap<String, u32>,
}

impl Links {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// The interface named `name`.
    pub fn get(&self, name: &str) -> Option<&Link> {
        self.names.get(name).and_then(|i| self.by_index.get(i))
    }

    /// Whether `name` exists and is up.
    pub fn is_up(&self, name: &str) -> bool {
        self.get(name).is_some_and(|l| l.up)
    }

    /// How many interfaces there are.
    pub fn len(&self) -> usize {
        self.by_index.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.by_index.is_empty()
    }

    fn remove(&mut self, index: u32) -> Option<Link> {
        let old = self.by_index.remove(&index)?;
        if self.names.get(&old.name) == Some(&index) {
            self.names.remove(&old.name);
        }
        Some(old)
    }

    /// Applies one message; the names whose interface changed (appeared,
    /// went, moved to another index, went up or down, changed its MAC).
    /// A rename changes both names.
    pub fn apply(&mut self, m: &Message) -> Vec<String> {
        match m {
            Message::New(link) => {
                if self.by_index.get(&link.index) == Some(link) {
                    return vec![];
                }
                let mut changed = vec![link.name.clone()];
                if let Some(old) = self.remove(link.index) {
                    if old.name != link.name {
                        changed.push(old.name);
                    }
                }
                // Another index under this name (one that went without
                // our hearing of it): the name is the new one's now.
                if let Some(other) = self.names.get(&link.name).copied() {
                    self.by_index.remove(&other);
                }
                self.names.insert(link.name.clone(), link.index);
                self.by_index.insert(link.index, link.clone());
                changed
            }
            Message::Del { index } => self.remove(*index).map(|l| l.name).into_iter().collect(),
            Message::Done | Message::Error(_) => vec![],
        }
    }

    /// Makes the table a dump's `links` (after the kernel dropped events:
    /// an overrun); the names that changed, each once.
    pub fn replace(&mut self, links: Vec<Link>) -> Vec<String> {
        let mut changed: Vec<String> = Vec::new();
        let keep: std::collections::HashSet<u32> = links.iter().map(|l| l.index).collect();
        let gone: Vec<u32> = self
            .by_index
            .keys()
            .filter(|i| !keep.contains(i))
            .copied()
            .collect();
        for i in gone {
            changed.extend(self.remove(i).map(|l| l.name));
        }
        for l in links {
            changed.extend(self.apply(&Message::New(l)));
        }
        changed.sort();
        changed.dedup();
        changed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::link::attr;
    use crate::nlmsg::u16_at;

    /// An RTM_NEWLINK (or DELLINK) as the kernel sends it, with a few
    /// attributes we do not read around the ones we do.
    fn link_msg(
        kind: u16,
        index: u32,
        flags: u32,
        name: &str,
        mac: Option<[u8; 6]>,
        oper: Option<u8>,
    ) -> Vec<u8> {
        let mut body = vec![0u8, 0, 1, 0]; // AF_UNSPEC, pad, ARPHRD_ETHER
        body.extend_from_slice(&index.to_ne_bytes());
        body.extend_from_slice(&flags.to_ne_bytes());
        body.extend_from_slice(&0u32.to_ne_bytes());
        attr(&mut body, 4, &1500u32.to_ne_bytes()); // IFLA_MTU
        let mut n = name.as_bytes().to_vec();
        n.push(0);
        attr(&mut body, IFLA_IFNAME, &n);
        if let Some(m) = mac {
            attr(&mut body, IFLA_ADDRESS, &m);
            attr(&mut body, 2, &[0xff; 6]); // IFLA_BROADCAST
        }
        if let Some(o) = oper {
            attr(&mut body, IFLA_OPERSTATE, &[o]);
        }
        attr(&mut body, 0x8000 | 18, &[0; 8]); // a nested IFLA_LINKINFO
        let mut m = Vec::new();
        m.extend_from_slice(&((16 + body.len()) as u32).to_ne_bytes());
        m.extend_from_slice(&kind.to_ne_bytes());
        m.extend_from_slice(&2u16.to_ne_bytes()); // NLM_F_MULTI
        m.extend_from_slice(&[0; 8]);
        m.extend_from_slice(&body);
        m
    }

    const MAC: [u8; 6] = [2, 0, 0, 0, 0, 1];
    const UP: u32 = IFF_UP | IFF_RUNNING;

    fn eth0(index: u32, flags: u32, oper: u8, mac: [u8; 6]) -> Vec<u8> {
        link_msg(RTM_NEWLINK, index, flags, "eth0", Some(mac), Some(oper))
    }

    fn done() -> Vec<u8> {
        let mut m = 20u32.to_ne_bytes().to_vec();
        m.extend_from_slice(&NLMSG_DONE.to_ne_bytes());
        m.extend_from_slice(&[0; 14]);
        m
    }

    #[test]
    fn parses_a_dump() {
        let mut buf = eth0(2, UP, IF_OPER_UP, MAC);
        buf.extend(link_msg(
            RTM_NEWLINK,
            1,
            UP,
            "lo",
            Some([0; 6]),
            Some(IF_OPER_UNKNOWN),
        ));
        buf.extend(done());
        let msgs = parse(&buf).unwrap();
        assert_eq!(
            msgs,
            [
                Message::New(Link {
                    index: 2,
                    name: "eth0".into(),
                    up: true,
                    mac: Some(MAC)
                }),
                Message::New(Link {
                    index: 1,
                    name: "lo".into(),
                    up: true,
                    mac: None
                }),
                Message::Done
            ]
        );
    }

    #[test]
    fn up_is_admin_up_with_a_carrier() {
        let up = |flags, oper| match &parse(&eth0(2, flags, oper, MAC)).unwrap()[0] {
            Message::New(l) => l.up,
            m => panic!("{m:?}"),
        };
        assert!(up(UP, IF_OPER_UP));
        assert!(
            up(IFF_UP, IF_OPER_UNKNOWN),
            "dummy devices report no operstate"
        );
        assert!(!up(IFF_UP, 2), "admin up, no carrier (operstate down)");
        assert!(!up(IFF_UP, 5), "dormant");
        assert!(!up(0, IF_OPER_UNKNOWN), "admin down");
        let no_oper = link_msg(RTM_NEWLINK, 3, UP, "x", None, None);
        assert!(matches!(&parse(&no_oper).unwrap()[0], Message::New(l) if l.up && l.mac.is_none()));
    }

    #[test]
    fn errors_and_bad_lengths() {
        let mut err = 36u32.to_ne_bytes().to_vec();
        err.extend_from_slice(&NLMSG_ERROR.to_ne_bytes());
        err.extend_from_slice(&[0; 10]);
        err.extend_from_slice(&(-16i32).to_ne_bytes()); // EBUSY
        err.extend_from_slice(&[0; 16]);
        assert_eq!(parse(&err).unwrap(), [Message::Error(16)]);
        let mut ack = err.clone();
        ack[16..20].copy_from_slice(&0i32.to_ne_bytes());
        assert_eq!(parse(&ack).unwrap(), []);
        let m = eth0(2, UP, IF_OPER_UP, MAC);
        assert!(parse(&m[..m.len() - 4]).is_err(), "truncated message");
        let mut short_attr = m.clone();
        short_attr[32..34].copy_from_slice(&2u16.to_ne_bytes());
        assert!(
            parse(&short_attr).is_err(),
            "attribute shorter than its header"
        );
        let mut short = m[..16 + 8].to_vec();
        short[0..4].copy_from_slice(&24u32.to_ne_bytes());
        assert!(parse(&short).is_err(), "ifinfomsg cut short");
        assert_eq!(parse(&[]).unwrap(), []);
        // An unknown message type is skipped.
        let mut other = m.clone();
        other[4..6].copy_from_slice(&20u16.to_ne_bytes()); // RTM_NEWADDR
        assert_eq!(parse(&other).unwrap(), []);
    }

    fn new(index: u32, name: &str, up: bool, mac: Option<[u8; 6]>) -> Message {
        Message::New(Link {
            index,
            name: name.into(),
            up,
            mac,
        })
    }

    #[test]
    fn the_table_follows_changes() {
        let mut t = Links::new();
        assert_eq!(t.apply(&new(2, "eth0", true, Some(MAC))), ["eth0"]);
        assert_eq!(
            t.apply(&new(2, "eth0", true, Some(MAC))),
            Vec::<String>::new(),
            "unchanged"
        );
        assert!(t.is_up("eth0"));
        // down, a new MAC
        assert_eq!(t.apply(&new(2, "eth0", false, Some(MAC))), ["eth0"]);
        assert!(!t.is_up("eth0"));
        let mac2 = [2, 0, 0, 0, 0, 2];
        assert_eq!(t.apply(&new(2, "eth0", false, Some(mac2))), ["eth0"]);
        assert_eq!(t.get("eth0").unwrap().mac, Some(mac2));
        // deleted, made anew with another index
        assert_eq!(t.apply(&Message::Del { index: 2 }), ["eth0"]);
        assert!(t.get("eth0").is_none() && !t.is_up("eth0"));
        assert_eq!(t.apply(&Message::Del { index: 2 }), Vec::<String>::new());
        assert_eq!(t.apply(&new(7, "eth0", true, Some(MAC))), ["eth0"]);
        assert_eq!(t.get("eth0").unwrap().index, 7);
        // renamed
        assert_eq!(t.apply(&new(7, "wan0", true, Some(MAC))), ["wan0", "eth0"]);
        assert!(t.get("eth0").is_none());
        assert_eq!(t.get("wan0").unwrap().index, 7);
        // a name taken over by another index we never heard go
        assert_eq!(t.apply(&new(9, "wan0", true, None)), ["wan0"]);
        assert_eq!((t.get("wan0").unwrap().index, t.len()), (9, 1));
    }

    #[test]
    fn a_dump_replaces_the_table() {
        let mut t = Links::new();
        for m in [
            new(1, "lo", true, None),
            new(2, "eth0", true, Some(MAC)),
            new(3, "trk0", true, None),
        ] {
            t.apply(&m);
        }
        let dump = vec![
            Link {
                index: 1,
                name: "lo".into(),
                up: true,
                mac: None,
            },
            Link {
                index: 2,
                name: "eth0".into(),
                up: false,
                mac: Some(MAC),
            },
            Link {
                index: 4,
                name: "trk1".into(),
                up: true,
                mac: None,
            },
        ];
        assert_eq!(t.replace(dump), ["eth0", "trk0", "trk1"]);
        assert!(t.get("trk0").is_none() && !t.is_up("eth0") && t.is_up("trk1"));
    }

    #[test]
    fn the_dump_request() {
        let m = dump_request(7);
        assert_eq!(m.len(), 32);
        assert_eq!(u32_at(&m, 0), 32);
        assert_eq!(u16_at(&m, 4), 18);
        assert_eq!(u16_at(&m, 6), 0x301);
        assert_eq!(u32_at(&m, 8), 7);
    }
}
