//! A synchronous client for the `drlb` generic-netlink family: resolves the
//! family id, sends one request and collects the replies, turning a kernel
//! error into a message that carries the module's extack text.

use anyhow::{anyhow, bail, Context, Result};
use drlb_core::proto;
use netlink_packet_core::{
    DecodeError, Emitable, NetlinkHeader, NetlinkMessage, NetlinkPayload, Nla, NlaBuffer,
    NlasIterator, Parseable, ParseableParametrized, NLM_F_ACK, NLM_F_DUMP, NLM_F_DUMP_INTR,
    NLM_F_REQUEST,
};
use netlink_packet_generic::ctrl::nlas::{GenlCtrlAttrs, McastGrpAttrs};
use netlink_packet_generic::ctrl::{GenlCtrl, GenlCtrlCmd};
use netlink_packet_generic::{GenlFamily, GenlHeader, GenlMessage};
use netlink_sys::{protocols::NETLINK_GENERIC, Socket, SocketAddr};

/// One attribute: a type from [`proto::attr`] and its raw payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attr {
    pub kind: u16,
    pub value: Vec<u8>,
}

impl Attr {
    pub fn u8(kind: u16, v: u8) -> Self {
        Self {
            kind,
            value: vec![v],
        }
    }
    pub fn u16(kind: u16, v: u16) -> Self {
        Self {
            kind,
            value: v.to_ne_bytes().to_vec(),
        }
    }
    pub fn u32(kind: u16, v: u32) -> Self {
        Self {
            kind,
            value: v.to_ne_bytes().to_vec(),
        }
    }
}

impl Attr {
    pub fn bytes(kind: u16, v: Vec<u8>) -> Self {
        Self { kind, value: v }
    }
    /// A nested attribute holding `inner` (NLA_F_NESTED set, as strict
    /// validation wants).
    pub fn nest(kind: u16, inner: &[Attr]) -> Self {
        let mut v = vec![0; inner.buffer_len()];
        inner.emit(&mut v);
        Self {
            kind: kind | 1 << 15,
            value: v,
        }
    }
    pub fn str(kind: u16, s: &str) -> Self {
        let mut v = s.as_bytes().to_vec();
        v.push(0);
        Self { kind, value: v }
    }
}

impl Nla for Attr {
    fn value_len(&self) -> usize {
        self.value.len()
    }
    fn kind(&self) -> u16 {
        self.kind
    }
    fn emit_value(&self, buffer: &mut [u8]) {
        buffer[..self.value.len()].copy_from_slice(&self.value);
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Parseable<NlaBuffer<&'a T>> for Attr {
    fn parse(buf: &NlaBuffer<&'a T>) -> Result<Self, DecodeError> {
        Ok(Self {
            kind: buf.kind() & !(1 << 15 | 1 << 14),
            value: buf.value().to_vec(),
        })
    }
}

/// Typed access to a reply's attributes.
pub trait Attrs {
    fn raw(&self, kind: u16) -> Option<&[u8]>;
    fn u8(&self, kind: u16) -> Option<u8> {
        Some(*self.raw(kind)?.first()?)
    }
    fn u16(&self, kind: u16) -> Option<u16> {
        Some(u16::from_ne_bytes(self.raw(kind)?.try_into().ok()?))
    }
    fn u32(&self, kind: u16) -> Option<u32> {
        Some(u32::from_ne_bytes(self.raw(kind)?.try_into().ok()?))
    }
    /// A nested attribute set.
    fn nested(&self, kind: u16) -> Vec<Attr> {
        self.raw(kind)
            .map(|b| {
                NlasIterator::new(b)
                    .flatten()
                    .filter_map(|n| Attr::parse(&n).ok())
                    .collect()
            })
            .unwrap_or_default()
    }
    fn u64(&self, kind: u16) -> Option<u64> {
        Some(u64::from_ne_bytes(self.raw(kind)?.try_into().ok()?))
    }
    fn string(&self, kind: u16) -> Option<String> {
        let b = self.raw(kind)?;
        let b = b.split(|c| *c == 0).next().unwrap_or(b);
        Some(String::from_utf8_lossy(b).into_owned())
    }
}

impl Attrs for [Attr] {
    fn raw(&self, kind: u16) -> Option<&[u8]> {
        self.iter()
            .find(|a| a.kind == kind)
            .map(|a| a.value.as_slice())
    }
}

/// A `drlb` message: a command and its attributes.
#[derive(Debug, Clone)]
pub struct DrlbMsg {
    pub cmd: u8,
    pub attrs: Vec<Attr>,
}

impl GenlFamily for DrlbMsg {
    fn family_name() -> &'static str {
        "drlb"
    }
    fn command(&self) -> u8 {
        self.cmd
    }
    fn version(&self) -> u8 {
        proto::FAMILY_VERSION
    }
}

impl Emitable for DrlbMsg {
    fn buffer_len(&self) -> usize {
        self.attrs.as_slice().buffer_len()
    }
    fn emit(&self, buffer: &mut [u8]) {
        self.attrs.as_slice().emit(buffer)
    }
}

impl ParseableParametrized<[u8], GenlHeader> for DrlbMsg {
    fn parse_with_param(buf: &[u8], header: GenlHeader) -> Result<Self, DecodeError> {
        let attrs = NlasIterator::new(buf)
            .map(|nla| nla.and_then(|nla| Attr::parse(&nla)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            cmd: header.cmd,
            attrs,
        })
    }
}

/// The netlink messages in one receive buffer.
fn messages<F>(data: &[u8]) -> Result<Vec<NetlinkMessage<GenlMessage<F>>>>
where
    F: GenlFamily + ParseableParametrized<[u8], GenlHeader> + std::fmt::Debug,
{
    let mut out = vec![];
    let mut off = 0;
    while off < data.len() {
        let m = NetlinkMessage::<GenlMessage<F>>::deserialize(&data[off..])
            .map_err(|e| anyhow!("decoding a message from the kernel: {e}"))?;
        let len = m.header.length as usize;
        if len == 0 {
            bail!("malformed netlink message");
        }
        off += (len + 3) & !3;
        out.push(m);
    }
    Ok(out)
}

/// A connection to the module.
pub struct Client {
    sock: Socket,
    family: u16,
    /// The events multicast group's id, once resolved.
    events: Option<u32>,
    seq: u32,
}

const NETLINK_EXT_ACK_MSG: u16 = 1; // NLMSGERR_ATTR_MSG

impl Client {
    pub fn connect() -> Result<Self> {
        let mut sock = Socket::new(NETLINK_GENERIC).context("opening a generic netlink socket")?;
        sock.bind_auto().context("binding the netlink socket")?;
        sock.connect(&SocketAddr::new(0, 0))
            .context("connecting the netlink socket")?;
        // Ask for the kernel's error text, and not for our request echoed back.
        sock.set_ext_ack(true).ok();
        sock.set_cap_ack(true).ok();
        let mut c = Self {
            sock,
            family: 0,
            events: None,
            seq: 0,
        };
        c.family = c.resolve_family()?;
        Ok(c)
    }

    /// The family id the controller gave the module (a reloaded module
    /// gets a new one).
    pub fn family(&self) -> u16 {
        self.family
    }

    fn resolve_family(&mut self) -> Result<u16> {
        let req = GenlMessage::from_payload(GenlCtrl {
            cmd: GenlCtrlCmd::GetFamily,
            nlas: vec![GenlCtrlAttrs::FamilyName(DrlbMsg::family_name().to_owned())],
        });
        let (replies, _) = self.exchange(req, NLM_F_REQUEST | NLM_F_ACK).map_err(|e| {
            if e.downcast_ref::<KernelError>()
                .is_some_and(|k| k.errno == libc_enoent())
            {
                anyhow!("the drlb module is not loaded (no generic netlink family \"drlb\")")
            } else {
                e
            }
        })?;
        let mut family = None;
        for m in replies {
            for nla in m.payload.nlas {
                match nla {
                    GenlCtrlAttrs::FamilyId(id) => family = Some(id),
                    GenlCtrlAttrs::McastGroups(groups) => {
                        for g in groups {
                            let name = g.iter().find_map(|a| match a {
                                McastGrpAttrs::Name(n) => Some(n.clone()),
                                _ => None,
                            });
                            let id = g.iter().find_map(|a| match a {
                                McastGrpAttrs::Id(i) => Some(*i),
                                _ => None,
                            });
                            if name.as_deref() == proto::MCGRP_EVENTS.to_str().ok() {
                                self.events = id;
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        family.ok_or_else(|| {
            anyhow!("the generic netlink controller did not return drlb's family id")
        })
    }

    /// Reads one datagram from the kernel. Reading into 64 KiB also tells
    /// netlink to fill dump parts as far as it will (32 KiB, against 4 KiB
    /// for a reader of small buffers): fewer reads, and fewer of the
    /// module's hash chains too long for one part (a chain split between
    /// parts can make a dump interrupted).
    fn recv(&self) -> Result<Vec<u8>> {
        let mut buf = Vec::with_capacity(1 << 16);
        let n = self
            .sock
            .recv(&mut buf, libc::MSG_TRUNC)
            .context("reading from the kernel")?;
        if n > buf.len() {
            bail!("a {n}-byte message from the kernel, larger than a 64 KiB read");
        }
        Ok(buf)
    }

    /// Joins the events multicast group.
    pub fn subscribe(&mut self) -> Result<()> {
        let g = self
            .events
            .ok_or_else(|| anyhow!("the drlb family has no events group"))?;
        self.sock.add_membership(g).map_err(|e| {
            let hint = e.raw_os_error().and_then(hint).map(|h| format!(": {h}"));
            anyhow!(
                "joining the drlb events group: {e}{}",
                hint.unwrap_or_default()
            )
        })
    }

    /// Waits for the next events; returns each one's command and attributes.
    pub fn events(&mut self) -> Result<Vec<(u8, Vec<Attr>)>> {
        let data = self.recv()?;
        let mut out = vec![];
        for m in messages::<DrlbMsg>(&data)? {
            if let NetlinkPayload::InnerMessage(inner) = m.payload {
                out.push((inner.payload.cmd, inner.payload.attrs));
            }
        }
        Ok(out)
    }

    /// Sends `cmd` with `attrs` and returns the attributes of each reply.
    ///
    /// A dump that the module marks interrupted (NLM_F_DUMP_INTR: what it
    /// lists changed while it was listed, so entries may be missing or
    /// doubled) is made again, once; a second interrupted dump is an error.
    pub fn request(&mut self, cmd: u8, attrs: Vec<Attr>, dump: bool) -> Result<Vec<Vec<Attr>>> {
        let flags = NLM_F_REQUEST | NLM_F_ACK | if dump { NLM_F_DUMP } else { 0 };
        for attempt in 0..2 {
            let mut msg = GenlMessage::from_payload(DrlbMsg {
                cmd,
                attrs: attrs.clone(),
            });
            msg.set_resolved_family_id(self.family);
            let (replies, interrupted) = self.exchange(msg, flags)?;
            if !interrupted {
                return Ok(replies.into_iter().map(|m| m.payload.attrs).collect());
            }
            if attempt == 0 {
                eprintln!("drlb-tool: the table changed while it was listed; listing it again");
            }
        }
        bail!(
            "the table changed while it was listed, twice (the module marked both dumps \
             interrupted: entries may have been missed or doubled); try again"
        )
    }

    /// Sends `msg` and collects the replies to it, and whether the dump
    /// they make was marked interrupted.
    fn exchange<F>(
        &mut self,
        msg: GenlMessage<F>,
        flags: u16,
    ) -> Result<(Vec<GenlMessage<F>>, bool)>
    where
        F: GenlFamily + Emitable + ParseableParametrized<[u8], GenlHeader> + std::fmt::Debug,
    {
        self.seq += 1;
        let mut nl = NetlinkMessage::new(NetlinkHeader::default(), NetlinkPayload::from(msg));
        nl.header.flags = flags;
        nl.header.sequence_number = self.seq;
        nl.finalize();
        let mut buf = vec![0u8; nl.buffer_len()];
        nl.serialize(&mut buf);
        self.sock.send(&buf, 0).context("sending to the kernel")?;

        let mut replies = Replies::new(self.seq);
        loop {
            let data = self.recv()?;
            for m in messages::<F>(&data)? {
                if let Some(end) = replies.take(m) {
                    return end.map(|()| (replies.out, replies.interrupted));
                }
            }
        }
    }
}

/// The replies to one request, as they arrive.
struct Replies<F> {
    seq: u32,
    out: Vec<GenlMessage<F>>,
    /// A message of the dump carried NLM_F_DUMP_INTR.
    interrupted: bool,
}

impl<F> Replies<F> {
    fn new(seq: u32) -> Self {
        Self {
            seq,
            out: vec![],
            interrupted: false,
        }
    }

    /// Takes one message: `Some` once the answer is complete (the ACK, a
    /// dump's NLMSG_DONE) or an error ends it, in NLMSG_ERROR or, for a
    /// dump, in NLMSG_DONE.
    fn take(&mut self, m: NetlinkMessage<GenlMessage<F>>) -> Option<Result<()>> {
        if m.header.sequence_number != self.seq {
            return None;
        }
        if m.header.flags & NLM_F_DUMP_INTR != 0 {
            self.interrupted = true;
        }
        match m.payload {
            NetlinkPayload::InnerMessage(inner) => {
                self.out.push(inner);
                None
            }
            NetlinkPayload::Done(d) if d.code < 0 => Some(Err(KernelError {
                errno: -d.code,
                // (the TLVs follow the error code directly)
                msg: ext_ack_msg(&d.extended_ack),
            }
            .into())),
            NetlinkPayload::Done(_) => Some(Ok(())),
            NetlinkPayload::Error(e) => match e.code {
                None => Some(Ok(())), // the ACK
                Some(code) => Some(Err(KernelError {
                    errno: -code.get(),
                    msg: extack_message(m.header.flags, &e.header),
                }
                .into())),
            },
            _ => None,
        }
    }
}

fn libc_enoent() -> i32 {
    2
}

/// The module's extack text, from the TLVs after the echoed request header
/// (we set NETLINK_CAP_ACK, so only the 16-byte header is echoed).
fn extack_message(flags: u16, rest: &[u8]) -> Option<String> {
    const NLM_F_CAPPED: u16 = 0x100;
    const NLM_F_ACK_TLVS: u16 = 0x200;
    if flags & NLM_F_ACK_TLVS == 0 {
        return None;
    }
    let skip = if flags & NLM_F_CAPPED != 0 {
        16
    } else {
        u32::from_ne_bytes(rest.get(..4)?.try_into().ok()?) as usize
    };
    ext_ack_msg(rest.get((skip + 3) & !3..)?)
}

/// The NLMSGERR_ATTR_MSG text among extended-ACK TLVs.
fn ext_ack_msg(tlvs: &[u8]) -> Option<String> {
    NlasIterator::new(tlvs)
        .flatten()
        .find(|n| n.kind() == NETLINK_EXT_ACK_MSG)
        .map(|n| {
            let v = n.value();
            String::from_utf8_lossy(v.split(|c| *c == 0).next().unwrap_or(v)).into_owned()
        })
}

/// An error the kernel returned for a request.
#[derive(Debug)]
pub struct KernelError {
    pub errno: i32,
    pub msg: Option<String>,
}

impl std::fmt::Display for KernelError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let os = std::io::Error::from_raw_os_error(self.errno);
        match &self.msg {
            Some(m) => write!(f, "{m} ({os})")?,
            None => write!(f, "{os}")?,
        }
        match hint(self.errno) {
            Some(h) => write!(f, ": {h}"),
            None => Ok(()),
        }
    }
}

/// What an errno from the module means for the user, where the bare
/// errno's text does not say it.
fn hint(errno: i32) -> Option<&'static str> {
    (errno == libc::EPERM).then_some("needs CAP_NET_ADMIN in this network namespace")
}

impl std::error::Error for KernelError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attrs_round_trip_through_the_wire_format() {
        let msg = DrlbMsg {
            cmd: proto::cmd::SET_STATE,
            attrs: vec![Attr::u8(proto::attr::STATE, 1)],
        };
        let mut buf = vec![0u8; msg.buffer_len()];
        msg.emit(&mut buf);
        assert_eq!(buf, [5, 0, proto::attr::STATE as u8, 0, 1, 0, 0, 0]);
        let hdr = GenlHeader {
            cmd: msg.cmd,
            version: 1,
        };
        let back = DrlbMsg::parse_with_param(&buf, hdr).unwrap();
        assert_eq!(back.attrs.as_slice().u8(proto::attr::STATE), Some(1));
    }

    fn msg(
        seq: u32,
        flags: u16,
        payload: NetlinkPayload<GenlMessage<DrlbMsg>>,
    ) -> NetlinkMessage<GenlMessage<DrlbMsg>> {
        let mut h = NetlinkHeader::default();
        h.sequence_number = seq;
        h.flags = flags;
        NetlinkMessage::new(h, payload)
    }

    fn entry(port: u16) -> NetlinkPayload<GenlMessage<DrlbMsg>> {
        NetlinkPayload::InnerMessage(GenlMessage::from_payload(DrlbMsg {
            cmd: proto::cmd::CONN_GET,
            attrs: vec![Attr::u16(proto::attr::CLIENT_PORT, port)],
        }))
    }

    fn done(code: i32, text: Option<&str>) -> NetlinkPayload<GenlMessage<DrlbMsg>> {
        let mut d = netlink_packet_core::DoneMessage::default();
        d.code = code;
        if let Some(t) = text {
            let a = Attr::str(NETLINK_EXT_ACK_MSG, t);
            d.extended_ack = vec![0; a.buffer_len()];
            a.emit(&mut d.extended_ack);
        }
        NetlinkPayload::Done(d)
    }

    #[test]
    fn an_error_in_nlmsg_done_fails_the_dump_with_its_message() {
        let mut r = Replies::new(7);
        assert!(r.take(msg(7, 2, entry(1))).is_none());
        assert!(
            r.take(msg(6, 2, done(0, None))).is_none(),
            "another request's"
        );
        let e = r
            .take(msg(7, 2, done(-2, Some("no such service"))))
            .unwrap()
            .unwrap_err();
        let k = e.downcast_ref::<KernelError>().unwrap();
        assert_eq!((k.errno, k.msg.as_deref()), (2, Some("no such service")));
        assert!(Replies::<DrlbMsg>::new(7)
            .take(msg(7, 2, done(0, None)))
            .unwrap()
            .is_ok());
    }

    #[test]
    fn dump_intr_on_any_message_marks_the_dump_interrupted() {
        let mut r = Replies::new(3);
        r.take(msg(3, 2, entry(1)));
        assert!(!r.interrupted);
        r.take(msg(3, 2 | NLM_F_DUMP_INTR, entry(2)));
        assert!(r.take(msg(3, 2, done(0, None))).unwrap().is_ok());
        assert!(r.interrupted);
        assert_eq!(r.out.len(), 2);
        let mut r = Replies::<DrlbMsg>::new(3);
        r.take(msg(3, 2 | NLM_F_DUMP_INTR, done(0, None)));
        assert!(r.interrupted, "(on NLMSG_DONE too)");
    }

    #[test]
    fn eperm_says_which_capability_is_missing() {
        let e = KernelError {
            errno: libc::EPERM,
            msg: None,
        };
        assert_eq!(
            e.to_string(),
            "Operation not permitted (os error 1): needs CAP_NET_ADMIN in this network namespace"
        );
        let e = KernelError {
            errno: libc::ENOENT,
            msg: Some("no such service".into()),
        };
        assert_eq!(
            e.to_string(),
            "no such service (No such file or directory (os error 2))"
        );
    }

    #[test]
    fn extack_text_is_found_after_a_capped_header() {
        let mut rest = vec![0u8; 16];
        let text = b"state must be 0 (standby) or 1 (active)\0";
        let len = 4 + text.len();
        rest.extend_from_slice(&(len as u16).to_ne_bytes());
        rest.extend_from_slice(&NETLINK_EXT_ACK_MSG.to_ne_bytes());
        rest.extend_from_slice(text);
        rest.resize((rest.len() + 3) & !3, 0);
        assert_eq!(
            extack_message(0x300, &rest).as_deref(),
            Some("state must be 0 (standby) or 1 (active)")
        );
        assert_eq!(extack_message(0, &rest), None);
    }
}
