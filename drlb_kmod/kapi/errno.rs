// SPDX-License-Identifier: GPL-2.0

//! Error codes that `kernel::error::code` does not name.

use super::bindings;
use kernel::error::Error;

fn errno(e: u32) -> Error {
    Error::from_errno(-(e as i32))
}

/// `EOPNOTSUPP`: the operation is not supported.
pub(crate) fn eopnotsupp() -> Error {
    errno(bindings::EOPNOTSUPP)
}

/// `EMSGSIZE`: the message does not fit.
pub(crate) fn emsgsize() -> Error {
    errno(bindings::EMSGSIZE)
}

/// `ENETDOWN`: the network is down (a standby director).
pub(crate) fn enetdown() -> Error {
    errno(bindings::ENETDOWN)
}

/// `EHOSTUNREACH`: no route to host (no usable real server).
pub(crate) fn ehostunreach() -> Error {
    errno(bindings::EHOSTUNREACH)
}
