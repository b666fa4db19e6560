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
