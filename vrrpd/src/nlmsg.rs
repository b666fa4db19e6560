//! Netlink framing, without I/O: the messages of one datagram and the
//! attributes of one message, for the rtnetlink link parser
//! ([`crate::links`]) and the generic-netlink controller's ([`crate::genl`]).

/// `struct nlmsghdr`'s size.
pub const NLMSG_HDRLEN: usize = 16;
/// An attribute type without its NESTED and NET_BYTEORDER flags.
const NLA_TYPE_MASK: u16 = 0x3fff;

/// The native-endian `u16` at `at`.
pub fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_ne_bytes([b[at], b[at + 1]])
}

/// The native-endian `u32` at `at`.
pub fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// The messages in one datagram, in order: each one's type and body (after
/// its header); an error for a length that does not fit.
pub fn messages(buf: &[u8]) -> Result<Vec<(u16, &[u8])>, String> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + NLMSG_HDRLEN <= buf.len() {
        let len = u32_at(buf, at) as usize;
        if len < NLMSG_HDRLEN || at + len > buf.len() {
            return Err(format!("a message of {len} bytes at {at} in {}", buf.len()));
        }
        out.push((u16_at(buf, at + 4), &buf[at + NLMSG_HDRLEN..at + len]));
        at += align4(len);
    }
    Ok(out)
}

/// The attributes in `b`, in order: each one's type (flags masked off) and
/// data; an error for a length that does not fit.
pub fn attrs(b: &[u8]) -> Result<Vec<(u16, &[u8])>, String> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + 4 <= b.len() {
        let len = u16_at(b, at) as usize;
        if len < 4 || at + len > b.len() {
            return Err(format!("an attribute of {len} bytes"));
        }
        out.push((u16_at(b, at + 2) & NLA_TYPE_MASK, &b[at + 4..at + len]));
        at += align4(len);
    }
    Ok(out)
}

/// A NUL-terminated string attribute's text (up to the first NUL).
pub fn c_string(data: &[u8]) -> String {
    let end = data.iter().position(|&c| c == 0).unwrap_or(data.len());
    String::from_utf8_lossy(&data[..end]).into_owned()
}
