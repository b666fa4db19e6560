//! Short request/answer connections inside the event loop: the control
//! socket (`vrrpd status`, `drain`) and the metrics endpoint. A connection
//! reads one request (up to a size limit and a deadline), gets its answer
//! from the daemon, writes it out as the socket takes it, and closes. A
//! client that never sends, or never reads, holds nothing up.

use mio::event::Source;
use mio::{Interest, Registry, Token};
use std::io::{self, Read, Write};
use std::time::Duration;

/// The most a request may hold.
const MAX_REQUEST: usize = 8 * 1024;
/// How long a connection may take, request and answer.
pub const DEADLINE: Duration = Duration::from_secs(2);

/// Where a request ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// At the first newline (the control socket).
    Line,
    /// At the empty line after the headers (HTTP).
    Http,
}

/// A socket the server can use.
pub trait Stream: Read + Write + Source {}
impl<T: Read + Write + Source> Stream for T {}

/// One connection.
pub struct Conn {
    stream: Box<dyn Stream>,
    framing: Framing,
    request: Vec<u8>,
    /// The request is complete (or the client stopped sending).
    complete: bool,
    answer: Option<Vec<u8>>,
    written: usize,
    /// When it is dropped, done or not.
    pub deadline: Duration,
    /// What the peer may do (for the control socket: whether it may
    /// change anything).
    pub privileged: bool,
}

/// What a connection needs next.
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    /// Wait for the socket.
    Wait,
    /// The request is in: [`Conn::request`] it and [`Conn::answer`].
    Answer,
    /// Done or broken: deregister and drop it.
    Close,
}

impl Conn {
    /// Registers `stream` for reads and writes.
    pub fn new(
        mut stream: Box<dyn Stream>,
        framing: Framing,
        registry: &Registry,
        token: Token,
        deadline: Duration,
        privileged: bool,
    ) -> io::Result<Self> {
        registry.register(&mut *stream, token, Interest::READABLE | Interest::WRITABLE)?;
        Ok(Conn {
            stream,
            framing,
            request: vec![],
            complete: false,
            answer: None,
            written: 0,
            deadline,
            privileged,
        })
    }

    fn request_done(&self) -> bool {
        match self.framing {
            Framing::Line => self.request.contains(&b'\n'),
            Framing::Http => {
                self.request.windows(4).any(|w| w == b"\r\n\r\n")
                    || self.request.windows(2).any(|w| w == b"\n\n")
            }
        }
    }

    /// Does what the socket allows: reads the request, or writes the
    /// answer.
    pub fn drive(&mut self) -> Next {
        if self.answer.is_none() {
            if !self.complete {
                let mut buf = [0u8; 2048];
                loop {
                    match self.stream.read(&mut buf) {
                        Ok(0) => {
                            self.complete = true;
                            break;
                        }
                        Ok(n) => {
                            self.request.extend_from_slice(&buf[..n]);
                            if self.request.len() > MAX_REQUEST {
                                return Next::Close;
                            }
                            if self.request_done() {
                                self.complete = true;
                                break;
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(_) => return Next::Close,
                    }
                }
            }
            return if self.complete {
                Next::Answer
            } else {
                Next::Wait
            };
        }
        let out = self.answer.as_deref().unwrap_or_default();
        while self.written < out.len() {
            match self.stream.write(&out[self.written..]) {
                Ok(0) => return Next::Close,
                Ok(n) => self.written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Next::Wait,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Next::Close,
            }
        }
        Next::Close
    }

    /// How its requests end (which server it belongs to).
    pub fn framing(&self) -> Framing {
        self.framing
    }

    /// The request, as text (up to its end marker).
    pub fn request(&self) -> String {
        String::from_utf8_lossy(&self.request).into_owned()
    }

    /// Sets the answer and starts writing it.
    pub fn answer(&mut self, answer: Vec<u8>) -> Next {
        self.answer = Some(answer);
        self.drive()
    }

    /// Deregisters the socket (before dropping the connection).
    pub fn close(&mut self, registry: &Registry) {
        let _ = registry.deregister(&mut *self.stream);
    }
}
