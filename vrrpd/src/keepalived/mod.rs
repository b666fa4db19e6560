//! `vrrpd import-keepalived`: keepalived.conf to vrrpd's TOML.
//!
//! [`parse`] reads keepalived's syntax (blocks, comments, quotes,
//! includes) into statements with their file and line; [`convert`] maps
//! them to the TOML forms of [`crate::config`] and refuses, with the file
//! and line, everything vrrpd cannot do the same way: nothing is dropped
//! silently. Both are free of I/O but for the [`parse::Source`] the
//! parser reads files through.

pub mod convert;
pub mod parse;

use std::fmt;
use std::path::Path;

/// Something in keepalived.conf that is not converted, or a note about
/// what is converted differently, at a line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The file.
    pub file: String,
    /// Its 1-based line (0: the file as a whole).
    pub line: usize,
    /// What and why.
    pub message: String,
}

/// `FILE:LINE: message`.
impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.message)
    }
}

/// Read `path` (and its includes) from the file system and convert it.
pub fn import(path: &Path) -> Result<convert::Converted, Vec<Problem>> {
    let nodes = parse::parse(&parse::Fs, path)?;
    convert::convert(&nodes)
}
