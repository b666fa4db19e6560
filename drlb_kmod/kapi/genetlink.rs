// SPDX-License-Identifier: GPL-2.0

//! Generic netlink: a [`Family`] registered from a command table and an
//! attribute policy, a [`Handler`] trait for the logic, and safe views of a
//! request ([`Request`], [`Attr`]) and of a reply ([`Msg`]).

use super::bindings;
use super::net::Net;
use crate::proto::{Access, Kind, Op};
use core::ffi::{c_int, c_void, CStr};
use core::marker::PhantomData;
use kernel::alloc::{flags::GFP_KERNEL, KBox, KVec};
use kernel::error::{code::*, to_result, Error, Result};
use kernel::types::Opaque;
use kernel::ThisModule;

/// A failed request: an errno and, where useful, a message for the
/// extended ACK that userspace prints.
pub(crate) struct NlError {
    errno: Error,
    msg: Option<&'static CStr>,
}

impl NlError {
    /// An error with an extack message.
    pub(crate) fn msg(errno: Error, msg: &'static CStr) -> Self {
        Self { errno, msg: Some(msg) }
    }
}

impl From<kernel::alloc::AllocError> for NlError {
    fn from(_: kernel::alloc::AllocError) -> Self {
        Self { errno: ENOMEM, msg: None }
    }
}

impl From<Error> for NlError {
    fn from(errno: Error) -> Self {
        Self { errno, msg: None }
    }
}

/// The logic behind a family.
pub(crate) trait Handler: Send + Sync + Sized + 'static {
    /// The commands answered by [`Handler::doit`] (and, those marked so,
    /// by [`Handler::dumpit`]), with who may send each.
    const COMMANDS: &'static [Op];

    /// Handles one request.
    fn doit(&self, req: &Request<'_>) -> core::result::Result<(), NlError>;

    /// Fills one part of a dump; called again until it adds nothing.
    fn dumpit(&self, dump: &mut Dump<'_>) -> core::result::Result<(), NlError>;
}

/// The static description of a family.
pub(crate) struct Spec {
    /// The family name.
    pub(crate) name: &'static CStr,
    /// The protocol version.
    pub(crate) version: u8,
    /// The attribute policy, indexed by attribute type.
    pub(crate) policy: &'static [Kind],
    /// The one multicast group, for events.
    pub(crate) mcgrp: &'static CStr,
    /// Who may join it.
    pub(crate) mcgrp_access: Access,
}

#[repr(C)]
struct Inner<H> {
    // First, so that a `genl_family` pointer is also a pointer to `Inner`.
    family: Opaque<bindings::genl_family>,
    ops: KVec<bindings::genl_ops>,
    policy: KVec<bindings::nla_policy>,
    mcgrps: [bindings::genl_multicast_group; 1],
    handler: H,
}

/// A registered generic-netlink family; unregisters on drop.
pub(crate) struct Family<H: Handler> {
    inner: KBox<Inner<H>>,
}

// SAFETY: the family may be unregistered from any thread; `H` is `Send + Sync`.
unsafe impl<H: Handler> Send for Family<H> {}
// SAFETY: `&Family` exposes nothing mutable.
unsafe impl<H: Handler> Sync for Family<H> {}

impl<H: Handler> Family<H> {
    /// Registers the family described by `spec`, with `handler` behind it.
    pub(crate) fn register(spec: &Spec, handler: H, module: &'static ThisModule) -> Result<Self> {
        let mut policy = KVec::with_capacity(spec.policy.len(), GFP_KERNEL)?;
        for kind in spec.policy {
            policy.push(nla_policy(*kind), GFP_KERNEL)?;
        }
        let mut ops = KVec::with_capacity(H::COMMANDS.len(), GFP_KERNEL)?;
        for c in H::COMMANDS {
            let op = bindings::genl_ops {
                doit: Some(doit_callback::<H>),
                dumpit: if c.dump { Some(dumpit_callback::<H>) } else { None },
                cmd: c.cmd,
                flags: match c.access {
                    Access::NetAdmin => bindings::GENL_UNS_ADMIN_PERM as u8,
                    Access::Anyone => 0,
                },
                ..Default::default()
            };
            ops.push(op, GFP_KERNEL)?;
        }
        let mut mcgrp = bindings::genl_multicast_group::default();
        copy_name(&mut mcgrp.name, spec.mcgrp)?;
        // (checked against the namespace's owning user namespace)
        mcgrp.flags = match spec.mcgrp_access {
            // SAFETY: returns a constant.
            Access::NetAdmin => unsafe { bindings::drlb_genl_mcast_cap_net_admin() },
            Access::Anyone => 0,
        };
        let inner = KBox::new(
            Inner {
                family: Opaque::new(bindings::genl_family::default()),
                ops,
                policy,
                mcgrps: [mcgrp],
                handler,
            },
            GFP_KERNEL,
        )?;
        // SAFETY: `inner` is exclusively ours until registered.
        let f = unsafe { &mut *inner.family.get() };
        copy_name(&mut f.name, spec.name)?;
        f.version = spec.version.into();
        f.maxattr = (spec.policy.len() - 1) as u32;
        f.policy = inner.policy.as_ptr();
        f.ops = inner.ops.as_ptr();
        f.n_ops = inner.ops.len() as u8;
        f.mcgrps = inner.mcgrps.as_ptr();
        f.n_mcgrps = 1;
        f.resv_start_op = 0; // strict validation for every command
        f.set_netnsok(1);
        f.module = module.as_ptr().cast();
        // SAFETY: the family, its ops and its policy are initialised and stay
        // at their heap addresses until `drop` unregisters the family.
        to_result(unsafe { bindings::genl_register_family(inner.family.get()) })?;
        Ok(Self { inner })
    }
}

impl<H: Handler> Drop for Family<H> {
    fn drop(&mut self) {
        // SAFETY: registered in `register`. Unregistering waits for running
        // handlers, so none can see `inner` after this.
        unsafe { bindings::genl_unregister_family(self.inner.family.get()) };
    }
}

fn copy_name(dst: &mut [core::ffi::c_char; 16], name: &CStr) -> Result {
    let name = name.to_bytes();
    if name.len() >= dst.len() {
        return Err(EINVAL);
    }
    for (d, s) in dst.iter_mut().zip(name) {
        *d = *s as _;
    }
    Ok(())
}

fn nla_policy(kind: Kind) -> bindings::nla_policy {
    let (t, len) = match kind {
        Kind::Reject => (bindings::NLA_REJECT, 0),
        Kind::U8 => (bindings::NLA_U8, 0),
        Kind::U16 => (bindings::NLA_U16, 0),
        Kind::U32 => (bindings::NLA_U32, 0),
        Kind::U64 => (bindings::NLA_U64, 0),
        // NLA_NUL_STRING's len is the longest string, without the NUL.
        Kind::String(n) => (bindings::NLA_NUL_STRING, n - 1),
        Kind::Binary(n) => (bindings::NLA_BINARY, n),
        Kind::Nested => (bindings::NLA_NESTED, 0),
    };
    bindings::nla_policy { type_: t as u8, len, ..Default::default() }
}

/// A request being handled (`struct genl_info`).
pub(crate) struct Request<'a> {
    info: &'a bindings::genl_info,
}

impl<'a> Request<'a> {
    /// The command number.
    pub(crate) fn cmd(&self) -> u8 {
        // SAFETY: `genlhdr` is valid for the request.
        unsafe { (*self.info.genlhdr).cmd }
    }

    /// The namespace of the socket that sent the request.
    pub(crate) fn net(&self) -> &'a Net {
        // SAFETY: the requesting socket holds a reference on its namespace
        // for the duration of the request.
        unsafe { Net::from_raw(bindings::drlb_genl_info_net(self.info)) }
    }

    /// Attribute `t`, if present (the policy has already checked its type and
    /// length).
    pub(crate) fn attr(&self, t: u16) -> Option<Attr<'a>> {
        // SAFETY: `attrs` is the parsed attribute table of this request,
        // sized for our family's maxattr.
        unsafe { attr_of(self.info.attrs, self.family(), t) }
    }

    /// Tells the listeners of the event group, in the request's namespace,
    /// of a change already made: event `cmd`, with the attributes `fill`
    /// puts. It cannot fail the request. An event that cannot be built
    /// (no memory) is not sent, and each listener's socket reports ENOBUFS
    /// instead, as rtnetlink does, so that it knows it missed one and reads
    /// the state again. Nothing is built while nobody listens.
    pub(crate) fn notify(&self, cmd: u8, fill: impl FnOnce(&mut Msg<'static>) -> Result) {
        // SAFETY: `info` is the request being handled; its namespace is
        // held by the requesting socket meanwhile.
        let net = unsafe { bindings::drlb_genl_info_net(self.info) };
        // SAFETY: our registered family, with one multicast group; `net`
        // as above.
        if !unsafe { bindings::drlb_genl_has_listeners(self.family(), net) } {
            return;
        }
        let Ok(mut msg) = new_msg(self.family(), 0, 0, cmd) else {
            // SAFETY: as above.
            unsafe { bindings::drlb_genl_event_lost(self.family(), net) };
            return;
        };
        if fill(&mut msg).is_err() {
            drop(msg);
            // SAFETY: as above.
            unsafe { bindings::drlb_genl_event_lost(self.family(), net) };
            return;
        }
        let this = core::mem::ManuallyDrop::new(msg);
        // SAFETY: the message is complete once ended; multicast consumes it
        // (a listener it cannot be copied to is marked as having lost it).
        unsafe {
            bindings::drlb_genlmsg_end(this.skb, this.hdr);
            bindings::drlb_genlmsg_multicast(self.family(), net, this.skb, 0);
        }
    }

    fn family(&self) -> &'a bindings::genl_family {
        // SAFETY: `family` is our registered family.
        unsafe { &*self.info.family }
    }

    /// Starts a reply to this request with command `cmd`.
    pub(crate) fn reply(&self, cmd: u8) -> Result<Msg<'static>> {
        new_msg(self.family(), self.info.snd_portid, self.info.snd_seq, cmd)
    }
}

fn new_msg(family: &bindings::genl_family, portid: u32, seq: u32, cmd: u8) -> Result<Msg<'static>> {
    // SAFETY: no preconditions. Process context (GFP_KERNEL).
    let skb = unsafe { bindings::drlb_genlmsg_new() };
    if skb.is_null() {
        return Err(ENOMEM);
    }
    // SAFETY: `skb` is a fresh message; the family is registered.
    let hdr = unsafe { bindings::genlmsg_put(skb, portid, seq, family, 0, cmd) };
    if hdr.is_null() {
        // SAFETY: `skb` was allocated above and not handed on.
        unsafe { bindings::drlb_nlmsg_free(skb) };
        return Err(super::errno::emsgsize());
    }
    Ok(Msg { skb, hdr, in_dump: false, _part: PhantomData })
}

/// Attribute `t` of a parsed attribute table.
///
/// # Safety
///
/// `attrs` is NULL or has `family.maxattr + 1` entries pointing into a
/// message that outlives `'a`.
unsafe fn attr_of<'a>(
    attrs: *mut *mut bindings::nlattr,
    family: &bindings::genl_family,
    t: u16,
) -> Option<Attr<'a>> {
    if t as u32 > family.maxattr || attrs.is_null() {
        return None;
    }
    // SAFETY: in bounds per the contract.
    let nla = unsafe { *attrs.add(t as usize) };
    // SAFETY: a non-null entry is a validated attribute.
    (!nla.is_null()).then(|| Attr { nla: unsafe { &*nla } })
}

/// One part of a dump being filled (`struct netlink_callback`).
///
/// A dump that can tell when what it continues has changed since the last
/// part says so with [`Dump::interrupted`]: the part's first entry (or the
/// closing `NLMSG_DONE`) then carries `NLM_F_DUMP_INTR`, through the
/// kernel's own `cb->seq` / `cb->prev_seq` check.
pub(crate) struct Dump<'a> {
    skb: *mut bindings::sk_buff,
    cb: &'a mut bindings::netlink_callback,
    family: &'a bindings::genl_family,
    /// The part's length when it was handed to us.
    start: u32,
}

/// A position in a dump part, to go back to with [`Dump::trim`].
#[derive(Clone, Copy)]
pub(crate) struct DumpMark {
    len: u32,
    prev_seq: u32,
}

impl<'a> Dump<'a> {
    /// The command being dumped.
    pub(crate) fn cmd(&self) -> u8 {
        // SAFETY: `nlh` is the request; its payload starts with the genl header.
        unsafe { (*self.cb.nlh.add(1).cast::<bindings::genlmsghdr>()).cmd }
    }

    /// The namespace of the requesting socket.
    pub(crate) fn net(&self) -> &'a Net {
        // SAFETY: the requesting socket holds its namespace during the dump.
        unsafe { Net::from_raw(bindings::drlb_sock_net_of_dump(self.cb)) }
    }

    /// A filter attribute of the dump request.
    pub(crate) fn attr(&self, t: u16) -> Option<Attr<'a>> {
        // SAFETY: genetlink parsed the request's attributes with our policy
        // and keeps them for the whole dump.
        unsafe { attr_of(bindings::drlb_dump_attrs(self.cb as *const _ as *mut _), self.family, t) }
    }

    /// Six words that survive between the parts of a dump: where to resume.
    pub(crate) fn cursor(&mut self) -> &mut [core::ffi::c_long; 6] {
        // SAFETY: `args` is the dump's scratch space, zeroed at its start.
        unsafe { &mut self.cb.__bindgen_anon_1.args }
    }

    /// What this part continues changed since the previous part: the dump
    /// may skip or repeat entries, and userspace is told so.
    pub(crate) fn interrupted(&mut self) {
        // A new generation (never 0: the kernel takes 0 as "unset").
        self.cb.seq = self.cb.seq.wrapping_add(1).max(1);
    }

    /// The current position in this part.
    pub(crate) fn mark(&self) -> DumpMark {
        // SAFETY: `skb` is this part's buffer.
        DumpMark { len: unsafe { bindings::drlb_skb_len(self.skb) }, prev_seq: self.cb.prev_seq }
    }

    /// Removes the entries added after `m` (never what the part held
    /// before it came to us), and re-arms the interruption flag an entry
    /// removed carried.
    pub(crate) fn trim(&mut self, m: DumpMark) {
        // SAFETY: `skb` is this part's buffer and no entry is open (an
        // open entry borrows `self`); trimming to a length at most the
        // current one only drops bytes from its tail.
        unsafe {
            let len = bindings::drlb_skb_len(self.skb);
            bindings::skb_trim(self.skb, m.len.clamp(self.start, len));
        }
        self.cb.prev_seq = m.prev_seq;
    }

    /// Starts one entry; `None` when this part is full (the dump continues
    /// in the next part).
    pub(crate) fn entry(&mut self, cmd: u8) -> Option<Msg<'_>> {
        // SAFETY: `skb` is this part's buffer; the portid and sequence are
        // the requester's.
        let hdr = unsafe {
            bindings::genlmsg_put(
                self.skb,
                bindings::drlb_dump_portid(self.cb),
                bindings::drlb_dump_seq(self.cb),
                self.family,
                bindings::NLM_F_MULTI as i32,
                cmd,
            )
        };
        if hdr.is_null() {
            return None;
        }
        // SAFETY: `hdr` is the user header genlmsg_put just wrote into this
        // part; `cb` is the dump's.
        unsafe { bindings::drlb_genl_dump_check_consistent(self.cb, hdr) };
        Some(Msg { skb: self.skb, hdr, in_dump: true, _part: PhantomData })
    }
}

/// A validated attribute of a request.
pub(crate) struct Attr<'a> {
    nla: &'a bindings::nlattr,
}

#[allow(dead_code)]
impl<'a> Attr<'a> {
    /// The payload.
    pub(crate) fn bytes(&self) -> &'a [u8] {
        const NLA_HDRLEN: usize = 4;
        let len = (self.nla.nla_len as usize).saturating_sub(NLA_HDRLEN);
        // SAFETY: netlink validated that `nla_len` bytes from the header lie
        // inside the message.
        unsafe { core::slice::from_raw_parts((self.nla as *const _ as *const u8).add(NLA_HDRLEN), len) }
    }

    fn array<const N: usize>(&self) -> [u8; N] {
        let mut a = [0u8; N];
        let b = self.bytes();
        let n = b.len().min(N);
        a[..n].copy_from_slice(&b[..n]);
        a
    }

    /// The payload as a `u8`.
    pub(crate) fn u8(&self) -> u8 {
        self.array::<1>()[0]
    }

    /// The payload as a host-order `u16`.
    pub(crate) fn u16(&self) -> u16 {
        u16::from_ne_bytes(self.array())
    }

    /// The payload as a host-order `u32`.
    pub(crate) fn u32(&self) -> u32 {
        u32::from_ne_bytes(self.array())
    }

    /// The payload as a host-order `u64`.
    pub(crate) fn u64(&self) -> u64 {
        u64::from_ne_bytes(self.array())
    }
}

/// A message being built: a reply or event (freed on drop unless sent), or
/// one entry of a dump (cancelled on drop unless committed), which borrows
/// its part for `'a`.
pub(crate) struct Msg<'a> {
    skb: *mut bindings::sk_buff,
    hdr: *mut c_void,
    in_dump: bool,
    _part: PhantomData<&'a mut ()>,
}

/// An open nested attribute.
pub(crate) struct Nest(*mut bindings::nlattr);

impl Msg<'_> {
    /// Opens nested attribute `t`.
    pub(crate) fn nest_start(&mut self, t: u16) -> Result<Nest> {
        // SAFETY: `skb` is our message.
        let n = unsafe { bindings::drlb_nla_nest_start(self.skb, t as c_int) };
        if n.is_null() {
            return Err(super::errno::emsgsize());
        }
        Ok(Nest(n))
    }

    /// Closes a nested attribute opened on this message.
    pub(crate) fn nest_end(&mut self, n: Nest) {
        // SAFETY: `n` was opened on this message, after which only
        // attributes were added.
        unsafe { bindings::drlb_nla_nest_end(self.skb, n.0) };
    }

    /// Ends a dump entry and keeps it in the dump (a reply or an event is
    /// freed instead: those are sent).
    pub(crate) fn commit(self) {
        if !self.in_dump {
            return;
        }
        let this = core::mem::ManuallyDrop::new(self);
        // SAFETY: `hdr` is this entry's header in the dump's skb.
        unsafe { bindings::drlb_genlmsg_end(this.skb, this.hdr) };
    }

    /// Adds an attribute with raw bytes.
    pub(crate) fn put(&mut self, t: u16, data: &[u8]) -> Result {
        // SAFETY: `skb` is our message; `data` is valid for its length.
        to_result(unsafe {
            bindings::nla_put(self.skb, t as c_int, data.len() as c_int, data.as_ptr().cast())
        })
    }

    /// Adds a `u8` attribute.
    pub(crate) fn put_u8(&mut self, t: u16, v: u8) -> Result {
        self.put(t, &[v])
    }

    /// Adds a host-order `u16` attribute.
    pub(crate) fn put_u16(&mut self, t: u16, v: u16) -> Result {
        self.put(t, &v.to_ne_bytes())
    }

    /// Adds a host-order `u32` attribute.
    pub(crate) fn put_u32(&mut self, t: u16, v: u32) -> Result {
        self.put(t, &v.to_ne_bytes())
    }

    /// Adds a host-order `u64` attribute, aligned with a `pad` attribute.
    pub(crate) fn put_u64(&mut self, t: u16, v: u64, pad: u16) -> Result {
        let b = v.to_ne_bytes();
        // SAFETY: as in `put`.
        to_result(unsafe {
            bindings::nla_put_64bit(self.skb, t as c_int, 8, b.as_ptr().cast(), pad as c_int)
        })
    }

    /// Adds a NUL-terminated string attribute.
    pub(crate) fn put_str(&mut self, t: u16, s: &CStr) -> Result {
        self.put(t, s.to_bytes_with_nul())
    }

    /// Adds a short Rust string as a NUL-terminated string attribute.
    pub(crate) fn put_string(&mut self, t: u16, s: &str) -> Result {
        let mut buf = [0u8; 64];
        if s.len() >= buf.len() {
            return Err(EINVAL);
        }
        buf[..s.len()].copy_from_slice(s.as_bytes());
        self.put(t, &buf[..=s.len()])
    }
}

impl Msg<'static> {
    /// Finishes the message and sends it as the reply to `req`. (Only a
    /// reply is `'static`: a dump entry borrows its part.)
    pub(crate) fn send_reply(self, req: &Request<'_>) -> Result {
        let this = core::mem::ManuallyDrop::new(self);
        // SAFETY: `hdr` is this message's header; `genlmsg_reply` consumes
        // the skb whatever it returns, so it is not freed again.
        unsafe {
            bindings::drlb_genlmsg_end(this.skb, this.hdr);
            to_result(bindings::drlb_genlmsg_reply(this.skb, req.info as *const _ as *mut _))
        }
    }
}

impl Drop for Msg<'_> {
    fn drop(&mut self) {
        if self.in_dump {
            // SAFETY: an uncommitted entry: remove it from the dump's skb.
            unsafe { bindings::drlb_genlmsg_cancel(self.skb, self.hdr) };
        } else {
            // SAFETY: the message was never handed to the kernel.
            unsafe { bindings::drlb_nlmsg_free(self.skb) };
        }
    }
}

/// # Safety
///
/// Called by genetlink for a family registered by [`Family::register`], with a
/// request that has passed the policy.
unsafe extern "C" fn doit_callback<H: Handler>(
    _skb: *mut bindings::sk_buff,
    info: *mut bindings::genl_info,
) -> c_int {
    // SAFETY: `info` is valid for the call.
    let info = unsafe { &*info };
    // SAFETY: `info.family` is the first field of our `Inner<H>`, which lives
    // until the family is unregistered, after the last call.
    let inner = unsafe { &*info.family.cast::<Inner<H>>() };
    let req = Request { info };
    match inner.handler.doit(&req) {
        Ok(()) => 0,
        Err(e) => {
            if let Some(msg) = e.msg {
                if !info.extack.is_null() {
                    // SAFETY: extack is valid for the request; `msg` is static.
                    unsafe { (*info.extack)._msg = msg.as_ptr() };
                }
            }
            e.errno.to_errno()
        }
    }
}

/// # Safety
///
/// Called by genetlink for a family registered by [`Family::register`].
unsafe extern "C" fn dumpit_callback<H: Handler>(
    skb: *mut bindings::sk_buff,
    cb: *mut bindings::netlink_callback,
) -> c_int {
    // SAFETY: `cb` is valid and ours for the call.
    let cb = unsafe { &mut *cb };
    // SAFETY: genetlink keeps the dump's family pointer in the dumpit info:
    // the family is the first field of our `Inner<H>`.
    let family = unsafe { &*bindings::drlb_dump_family(cb) };
    // SAFETY: as in `doit_callback`.
    let inner = unsafe { &*(family as *const bindings::genl_family).cast::<Inner<H>>() };
    // (0 is no generation: see `Dump::interrupted`)
    cb.seq = cb.seq.max(1);
    // SAFETY: `skb` is this part's buffer.
    let start = unsafe { bindings::drlb_skb_len(skb) };
    let mut dump = Dump { skb, cb, family, start };
    match inner.handler.dumpit(&mut dump) {
        // SAFETY: `skb` is valid; its length tells netlink whether to go on.
        Ok(()) => unsafe { bindings::drlb_skb_len(skb) as c_int },
        Err(e) => {
            if let Some(msg) = e.msg {
                if !dump.cb.extack.is_null() {
                    // SAFETY: netlink points `extack` at its own for the
                    // call and sends the message with the dump's error;
                    // `msg` is static.
                    unsafe { (*dump.cb.extack)._msg = msg.as_ptr() };
                }
            }
            e.errno.to_errno()
        }
    }
}
