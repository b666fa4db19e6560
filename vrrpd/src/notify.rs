//! sd_notify(3) without libsystemd: the service manager's readiness
//! protocol, one datagram of `KEY=value` lines to the Unix socket that
//! `NOTIFY_SOCKET` names (a path, or `@name` for an abstract socket).
//! systemd's `Type=notify` units start when `READY=1` arrives; `STATUS=`
//! is what `systemctl status` shows; `RELOADING=1` (with
//! `MONOTONIC_USEC=`) ... `READY=1` frames a reload, and `STOPPING=1`
//! says the stop has begun. Without `NOTIFY_SOCKET` every call does
//! nothing.

use std::io;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};

/// The socket address that a `NOTIFY_SOCKET` value names: an absolute
/// path, or an abstract name after `@` (sd_notify(3)). Anything else
/// (systemd's `vsock:` addresses included) is refused.
pub fn address(value: &str) -> io::Result<SocketAddr> {
    if let Some(name) = value.strip_prefix('@') {
        if name.is_empty() {
            return Err(bad(value, "an empty abstract name"));
        }
        SocketAddr::from_abstract_name(name.as_bytes())
    } else if value.starts_with('/') {
        SocketAddr::from_pathname(value)
    } else {
        Err(bad(value, "neither an absolute path nor an abstract @name"))
    }
}

fn bad(value: &str, why: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("NOTIFY_SOCKET={value}: {why}"),
    )
}

/// The datagram for `fields`: one `KEY=value` line each. A value is one
/// line: a newline in it (a reason quoted in a status) would start an
/// assignment of its own, so it becomes a space.
pub fn message(fields: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (k, v) in fields {
        debug_assert!(
            !k.is_empty() && k.bytes().all(|b| b.is_ascii_uppercase() || b == b'_'),
            "bad key {k}"
        );
        out.push_str(k);
        out.push('=');
        out.extend(v.chars().map(|c| if c == '\n' { ' ' } else { c }));
        out.push('\n');
    }
    out
}

/// CLOCK_MONOTONIC in microseconds, for `MONOTONIC_USEC=`.
fn monotonic_usec() -> u64 {
    // SAFETY: clock_gettime into a zeroed timespec.
    unsafe {
        let mut ts: libc::timespec = std::mem::zeroed();
        libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts);
        ts.tv_sec as u64 * 1_000_000 + ts.tv_nsec as u64 / 1000
    }
}

/// The service manager's socket, if there is one.
pub struct Notifier {
    to: Option<(UnixDatagram, SocketAddr)>,
}

impl Notifier {
    /// A notifier that sends nothing.
    pub fn none() -> Self {
        Notifier { to: None }
    }

    /// From `NOTIFY_SOCKET`, which it removes from the environment so that
    /// the processes vrrpd starts (exec checks, notify scripts) do not
    /// take it for theirs. Call it before any thread starts.
    pub fn from_env() -> io::Result<Self> {
        let Some(value) = std::env::var_os("NOTIFY_SOCKET") else {
            return Ok(Self::none());
        };
        std::env::remove_var("NOTIFY_SOCKET");
        let value = value.to_string_lossy();
        if value.is_empty() {
            return Ok(Self::none());
        }
        Self::to(&value)
    }

    /// A notifier for the socket `value` names (as `NOTIFY_SOCKET`).
    pub fn to(value: &str) -> io::Result<Self> {
        let addr = address(value)?;
        let sock = UnixDatagram::unbound()?;
        Ok(Notifier {
            to: Some((sock, addr)),
        })
    }

    /// Whether there is a service manager to tell.
    pub fn enabled(&self) -> bool {
        self.to.is_some()
    }

    /// Sends `fields` as one datagram (nothing without a socket).
    pub fn send(&self, fields: &[(&str, &str)]) -> io::Result<()> {
        let Some((sock, addr)) = &self.to else {
            return Ok(());
        };
        let msg = message(fields);
        sock.send_to_addr(msg.as_bytes(), addr).map(|_| ())
    }

    /// Startup (or a reload) is over: `READY=1`, with a status.
    pub fn ready(&self, status: &str) -> io::Result<()> {
        self.send(&[("READY", "1"), ("STATUS", status)])
    }

    /// A reload begins: `RELOADING=1` and the monotonic time it began.
    pub fn reloading(&self) -> io::Result<()> {
        let t = monotonic_usec().to_string();
        self.send(&[
            ("RELOADING", "1"),
            ("MONOTONIC_USEC", &t),
            ("STATUS", "reloading"),
        ])
    }

    /// What `systemctl status` shows.
    pub fn status(&self, status: &str) -> io::Result<()> {
        self.send(&[("STATUS", status)])
    }

    /// The stop has begun.
    pub fn stopping(&self, status: &str) -> io::Result<()> {
        self.send(&[("STOPPING", "1"), ("STATUS", status)])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixDatagram;

    #[test]
    fn messages_are_key_value_lines() {
        assert_eq!(message(&[("READY", "1")]), "READY=1\n");
        assert_eq!(
            message(&[("READY", "1"), ("STATUS", "2 instance(s), 1 check(s)")]),
            "READY=1\nSTATUS=2 instance(s), 1 check(s)\n"
        );
        assert_eq!(message(&[]), "");
    }

    #[test]
    fn a_value_cannot_add_a_line() {
        // (a newline would make "READY=1" an assignment of its own)
        assert_eq!(
            message(&[("STATUS", "reload refused: x\nREADY=1")]),
            "STATUS=reload refused: x READY=1\n"
        );
    }

    #[test]
    fn addresses() {
        let a = address("/run/systemd/notify").unwrap();
        assert_eq!(
            a.as_pathname(),
            Some(std::path::Path::new("/run/systemd/notify"))
        );
        assert_eq!(a.as_abstract_name(), None);
        let a = address("@vrrpd/notify").unwrap();
        assert_eq!(a.as_abstract_name(), Some(&b"vrrpd/notify"[..]));
        assert_eq!(a.as_pathname(), None);
        for bad in ["relative/path", "vsock:2:1234", "@"] {
            let e = address(bad).unwrap_err();
            assert!(e.to_string().contains("NOTIFY_SOCKET="), "{bad}: {e}");
        }
    }

    #[test]
    fn without_a_socket_nothing_is_sent() {
        let n = Notifier::none();
        assert!(!n.enabled());
        n.ready("x").unwrap();
    }

    fn recv(s: &UnixDatagram) -> String {
        let mut buf = [0u8; 4096];
        let n = s.recv(&mut buf).unwrap();
        String::from_utf8(buf[..n].to_vec()).unwrap()
    }

    #[test]
    fn sends_to_a_path() {
        let dir = std::env::temp_dir().join(format!("vrrpd-notify-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("notify");
        let _ = std::fs::remove_file(&path);
        let listener = UnixDatagram::bind(&path).unwrap();
        let n = Notifier::to(path.to_str().unwrap()).unwrap();
        assert!(n.enabled());
        n.ready("running 1 instance(s)").unwrap();
        assert_eq!(recv(&listener), "READY=1\nSTATUS=running 1 instance(s)\n");
        n.reloading().unwrap();
        let r = recv(&listener);
        let lines: Vec<&str> = r.lines().collect();
        assert_eq!(lines[0], "RELOADING=1");
        let usec: u64 = lines[1]
            .strip_prefix("MONOTONIC_USEC=")
            .unwrap()
            .parse()
            .unwrap();
        assert!(usec > 0);
        n.stopping("stopping").unwrap();
        assert_eq!(recv(&listener), "STOPPING=1\nSTATUS=stopping\n");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn sends_to_an_abstract_name() {
        let name = format!("vrrpd-notify-test-{}", std::process::id());
        let listener =
            UnixDatagram::bind_addr(&SocketAddr::from_abstract_name(name.as_bytes()).unwrap())
                .unwrap();
        let n = Notifier::to(&format!("@{name}")).unwrap();
        n.status("hello").unwrap();
        assert_eq!(recv(&listener), "STATUS=hello\n");
    }

    #[test]
    fn a_missing_socket_is_an_error_not_a_panic() {
        let n = Notifier::to("/nonexistent/vrrpd/notify").unwrap();
        assert!(n.ready("x").is_err());
    }
}
