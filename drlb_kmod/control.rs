// SPDX-License-Identifier: GPL-2.0

//! The generic-netlink family `drlb`: each command's handler.

use crate::kapi::genetlink::{Command, Handler, NlError, Request, Spec};
use crate::kapi::{errno, pernet};
use crate::netns::NetState;
use crate::proto::{self, attr, cmd};
use kernel::error::code::*;
use kernel::sync::Arc;

/// The family's description, straight from the shared protocol definition.
pub(crate) static SPEC: Spec =
    Spec { name: proto::FAMILY_NAME, version: proto::FAMILY_VERSION, policy: &proto::POLICY };

/// The handler behind the family.
pub(crate) struct Control {
    pernet: Arc<pernet::Registration<NetState>>,
}

impl Control {
    /// A handler that finds each request's namespace state in `pernet`.
    pub(crate) fn new(pernet: Arc<pernet::Registration<NetState>>) -> Self {
        Self { pernet }
    }
}

const fn command(c: u8) -> Command {
    Command { cmd: c, admin: proto::is_mutation(c) }
}

type Reply = core::result::Result<(), NlError>;

impl Handler for Control {
    const COMMANDS: &'static [Command] = &[command(cmd::STATUS), command(cmd::SET_STATE)];

    fn doit(&self, req: &Request<'_>) -> Reply {
        let ns = self.pernet.get(req.net());
        match req.cmd() {
            cmd::STATUS => status(ns, req),
            cmd::SET_STATE => set_state(ns, req),
            _ => Err(errno::eopnotsupp().into()),
        }
    }
}

fn status(ns: &NetState, req: &Request<'_>) -> Reply {
    let dp = ns.dataplane();
    let mut msg = req.reply(cmd::STATUS)?;
    msg.put_str(attr::VERSION, crate::VERSION)?;
    msg.put_u8(attr::STATE, dp.state())?;
    msg.put_u64(attr::HOOK_PACKETS, dp.hook_packets(), attr::PAD)?;
    msg.send_reply(req)?;
    Ok(())
}

fn set_state(ns: &NetState, req: &Request<'_>) -> Reply {
    let state = req
        .attr(attr::STATE)
        .ok_or_else(|| NlError::msg(EINVAL, c"missing state attribute"))?
        .u8();
    if state != proto::STATE_ACTIVE && state != proto::STATE_STANDBY {
        return Err(NlError::msg(EINVAL, c"state must be 0 (standby) or 1 (active)"));
    }
    ns.dataplane().set_state(state);
    Ok(())
}
