//! The probe edge: runs one attempt of a check without blocking, driven by
//! the daemon's event loop. TCP, HTTP and HTTPS checks are non-blocking
//! sockets in that loop (no thread, no process); an exec check is a child
//! process whose exit the loop learns through a pidfd.
//!
//! Which probes run when, and what a result means, is [`crate::checks`]'s
//! business; this module only moves bytes and reports pass or fail.

pub mod http;
mod tls;

use crate::checks::{ProbeId, ProbeKey};
use crate::config::CheckKind;
use mio::event::Event;
use mio::net::TcpStream;
use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};
use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, Stdio};

/// A finished attempt: passed (what it saw) or failed (why).
pub type Result = std::result::Result<String, String>;

/// What a socket attempt does once connected.
enum Talk {
    /// Nothing: connecting was the check.
    Tcp,
    /// An HTTP exchange.
    Http(http::Exchange),
    /// The same inside TLS.
    Https(Box<rustls::ClientConnection>, http::Exchange),
}

/// One running attempt.
enum Attempt {
    Socket {
        stream: TcpStream,
        connected: bool,
        talk: Talk,
    },
    Exec {
        child: Child,
        pidfd: OwnedFd,
    },
}

/// Every running attempt.
pub struct Prober {
    attempts: HashMap<ProbeId, Attempt>,
    tls: tls::Configs,
    /// Exec checks killed at their timeout, not yet reaped.
    killed: Vec<Child>,
}

/// An io::Error as a check reason: "Connection refused", without the
/// "(os error 111)".
fn why(e: &io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// The Host header for an address (the port only when not the scheme's).
fn host_header(addr: IpAddr, port: u16, default_port: u16) -> String {
    let host = match addr {
        IpAddr::V4(a) => a.to_string(),
        IpAddr::V6(a) => format!("[{a}]"),
    };
    if port == default_port {
        host
    } else {
        format!("{host}:{port}")
    }
}

/// A non-blocking connect that closes with a reset: a check opens a
/// connection to every server every interval, and the closing side's
/// TIME_WAIT entries would pile up on the director.
fn connect(to: SocketAddr) -> io::Result<TcpStream> {
    let s = TcpStream::connect(to)?;
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    crate::sock::setopt(s.as_raw_fd(), libc::SOL_SOCKET, libc::SO_LINGER, &linger)?;
    Ok(s)
}

/// `pidfd_open(2)`: a descriptor that turns readable when `pid` exits.
fn pidfd_open(pid: u32) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a fresh descriptor nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as libc::c_int) })
}

/// Whether a connecting stream has connected, by the event that woke it:
/// Some(Ok) yes, Some(Err) it failed, None not yet. (epoll reports a
/// connecting socket writable once it connects, and in error if it fails:
/// no system call is needed to tell.)
fn connected(s: &TcpStream, event: &Event) -> Option<Result> {
    if event.is_error() || (event.is_read_closed() && event.is_write_closed()) {
        return Some(Err(match s.take_error() {
            Ok(Some(e)) | Err(e) => why(&e),
            Ok(None) => "connection closed".into(),
        }));
    }
    event.is_writable().then(|| Ok("connected".into()))
}

impl Default for Prober {
    fn default() -> Self {
        Self::new()
    }
}

impl Prober {
    /// Nothing running.
    pub fn new() -> Self {
        Prober {
            attempts: HashMap::new(),
            tls: tls::Configs::new(),
            killed: vec![],
        }
    }

    /// How many attempts are running.
    pub fn running(&self) -> usize {
        self.attempts.len()
    }

    /// Starts an attempt of `key` whose events come as `token`. An error
    /// is the attempt's failure, at once (nothing stays registered).
    pub fn start(
        &mut self,
        id: ProbeId,
        key: &ProbeKey,
        registry: &Registry,
        token: Token,
    ) -> Result {
        let to = SocketAddr::new(key.addr, key.spec.port);
        let socket = |talk| -> std::result::Result<Attempt, String> {
            Ok(Attempt::Socket {
                stream: connect(to).map_err(|e| why(&e))?,
                connected: false,
                talk,
            })
        };
        let mut attempt = match &key.spec.kind {
            CheckKind::Tcp => socket(Talk::Tcp)?,
            CheckKind::Http(h) => socket(Talk::Http(http::Exchange::new(
                h,
                &host_header(key.addr, key.spec.port, 80),
            )))?,
            CheckKind::Https(h) => {
                let mut x = http::Exchange::new(h, &host_header(key.addr, key.spec.port, 443));
                let mut tls = self.tls.connection(h, key.addr)?;
                tls.writer().write_all(x.unsent()).map_err(|e| why(&e))?;
                let n = x.unsent().len();
                x.sent(n);
                socket(Talk::Https(Box::new(tls), x))?
            }
            CheckKind::Exec(argv) => {
                let child = Command::new(&argv[0])
                    .args(&argv[1..])
                    .env("DRLB_CHECK_ADDRESS", key.addr.to_string())
                    .env("DRLB_CHECK_PORT", key.spec.port.to_string())
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    // Its own group, so that a timeout kills what it started.
                    .process_group(0)
                    .spawn()
                    .map_err(|e| format!("{}: {}", argv[0], why(&e)))?;
                match pidfd_open(child.id()) {
                    Ok(pidfd) => Attempt::Exec { child, pidfd },
                    Err(e) => {
                        self.kill(child);
                        return Err(format!("pidfd_open: {}", why(&e)));
                    }
                }
            }
        };
        let both = Interest::READABLE | Interest::WRITABLE;
        let r = match &mut attempt {
            Attempt::Socket { stream, .. } => registry.register(stream, token, both),
            Attempt::Exec { pidfd, .. } => {
                registry.register(&mut SourceFd(&pidfd.as_raw_fd()), token, Interest::READABLE)
            }
        };
        if let Err(e) = r {
            self.finish(attempt, registry);
            return Err(format!("registering: {}", why(&e)));
        }
        self.attempts.insert(id, attempt);
        Ok("started".into())
    }

    /// Drives attempt `id` on an event; its result once it has one (the
    /// attempt is then gone).
    pub fn ready(&mut self, id: ProbeId, event: &Event, registry: &Registry) -> Option<Result> {
        let attempt = self.attempts.get_mut(&id)?;
        let verdict = match attempt {
            Attempt::Socket {
                stream,
                connected: c,
                talk,
            } => {
                if !*c {
                    match connected(stream, event) {
                        None => None,
                        Some(Err(e)) => Some(Err(e)),
                        Some(Ok(_)) => {
                            *c = true;
                            drive(stream, talk)
                        }
                    }
                } else {
                    drive(stream, talk)
                }
            }
            Attempt::Exec { child, .. } => match child.try_wait() {
                Ok(None) => None,
                Ok(Some(st)) if st.success() => Some(Ok("exit 0".into())),
                Ok(Some(st)) => Some(Err(match (st.code(), st.signal()) {
                    (Some(c), _) => format!("exit {c}"),
                    (None, Some(sig)) => format!("killed by signal {sig}"),
                    _ => "failed".into(),
                })),
                Err(e) => Some(Err(why(&e))),
            },
        };
        if verdict.is_some() {
            let a = self.attempts.remove(&id).expect("present");
            self.finish(a, registry);
        }
        verdict
    }

    /// Drops attempt `id` (timed out, or its probe was removed).
    pub fn cancel(&mut self, id: ProbeId, registry: &Registry) {
        if let Some(a) = self.attempts.remove(&id) {
            self.finish(a, registry);
        }
    }

    /// Ends an attempt: a socket is closed, which takes it out of epoll
    /// (this process holds no other copy of the descriptor); an exec check
    /// still running is killed with its process group and reaped later.
    fn finish(&mut self, a: Attempt, registry: &Registry) {
        match a {
            Attempt::Socket { stream, .. } => drop(stream),
            Attempt::Exec { mut child, pidfd } => {
                let _ = registry.deregister(&mut SourceFd(&pidfd.as_raw_fd()));
                if !matches!(child.try_wait(), Ok(Some(_))) {
                    self.kill(child);
                }
            }
        }
    }

    fn kill(&mut self, mut child: Child) {
        // SAFETY: signalling a process group we created; no memory involved.
        unsafe { libc::killpg(child.id() as libc::pid_t, libc::SIGKILL) };
        let _ = child.kill();
        self.killed.push(child);
    }

    /// Reaps killed exec checks that have exited.
    pub fn reap(&mut self) {
        self.killed.retain_mut(|c| matches!(c.try_wait(), Ok(None)));
    }
}

/// Reads into `on` until the socket would block: Some(verdict) once `on`
/// gives one or the peer closes.
fn read_all(
    mut src: impl FnMut(&mut [u8]) -> io::Result<usize>,
    x: &mut http::Exchange,
) -> Option<Result> {
    let mut buf = [0u8; 16 * 1024];
    loop {
        match src(&mut buf) {
            Ok(0) => return Some(x.closed()),
            Ok(n) => {
                if let Some(v) = x.received(&buf[..n]) {
                    return Some(v);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return None,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            // A TLS peer that closes without close_notify: what it sent
            // still counts.
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Some(x.closed()),
            Err(e) => return Some(Err(why(&e))),
        }
    }
}

/// Talks over a connected socket until the verdict or the socket would
/// block.
fn drive(s: &mut TcpStream, talk: &mut Talk) -> Option<Result> {
    match talk {
        Talk::Tcp => Some(Ok("connected".into())),
        Talk::Http(x) => drive_http(s, x),
        Talk::Https(tls, x) => drive_https(s, tls, x),
    }
}

fn drive_http(s: &mut TcpStream, x: &mut http::Exchange) -> Option<Result> {
    while !x.unsent().is_empty() {
        match s.write(x.unsent()) {
            Ok(n) => x.sent(n),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Some(Err(why(&e))),
        }
    }
    read_all(|b| s.read(b), x)
}

fn drive_https(
    s: &mut TcpStream,
    tls: &mut rustls::ClientConnection,
    x: &mut http::Exchange,
) -> Option<Result> {
    loop {
        while tls.wants_write() {
            match tls.write_tls(s) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Some(Err(why(&e))),
            }
        }
        let eof = match tls.read_tls(s) {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                // Nothing more to read; plaintext already decrypted may
                // still be waiting.
                return read_all(|b| tls.reader().read(b), x);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => false,
            Err(e) => return Some(Err(why(&e))),
        };
        if let Err(e) = tls.process_new_packets() {
            // Send the alert, best effort.
            let _ = tls.write_tls(s);
            return Some(Err(format!("TLS: {e}")));
        }
        if let Some(v) = read_all(|b| tls.reader().read(b), x) {
            return Some(v);
        }
        if eof {
            return Some(x.closed());
        }
    }
}
