//! The drlb edge: switches the module's state in this network namespace
//! over its generic-netlink family (the client drlb-tool uses).

use drlb_core::proto::{attr, cmd, STATE_ACTIVE, STATE_STANDBY};
use drlb_tool::netlink::{Attr, Client};

/// Active (forward) or standby (forward nothing, keep everything).
pub fn set_active(active: bool) -> anyhow::Result<()> {
    let state = if active { STATE_ACTIVE } else { STATE_STANDBY };
    Client::connect()?.request(cmd::SET_STATE, vec![Attr::u8(attr::STATE, state)], false)?;
    Ok(())
}
