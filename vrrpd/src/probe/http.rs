//! One HTTP health-check exchange, without I/O: the request to send and a
//! verdict on the response as its bytes arrive. The probe (plain TCP or
//! TLS) moves the bytes.
//!
//! The request is HTTP/1.0 with a Host header, so the answer is never
//! chunked and ends when the server closes. A verdict comes as soon as one
//! is possible: a wrong status fails at the status line, a body match
//! passes at the match, without waiting for the rest.

use crate::config::HttpCheck;

/// The most of a response that is read (headers and body).
pub const MAX_RESPONSE: usize = 256 * 1024;

/// A passed check (what it saw) or a failed one (why).
pub type Verdict = Result<String, String>;

/// One request and its response so far.
#[derive(Debug)]
pub struct Exchange {
    request: Vec<u8>,
    sent: usize,
    response: Vec<u8>,
    status: u16,
    expect: Option<String>,
    /// Where the body starts, once the headers are in.
    body_at: Option<usize>,
    content_length: Option<usize>,
    /// How far the body has been searched for `expect`.
    searched: usize,
}

impl Exchange {
    /// The exchange `check` describes, with `default_host` as the Host
    /// header when the check names none (the address, and the port unless
    /// it is the scheme's).
    pub fn new(check: &HttpCheck, default_host: &str) -> Self {
        let host = check.host.as_deref().unwrap_or(default_host);
        let request = format!(
            "GET {} HTTP/1.0\r\nHost: {host}\r\nUser-Agent: vrrpd/{}\r\nAccept: */*\r\nConnection: close\r\n\r\n",
            check.path,
            env!("CARGO_PKG_VERSION")
        );
        Exchange {
            request: request.into_bytes(),
            sent: 0,
            response: Vec::new(),
            status: check.status,
            expect: check.expect.clone(),
            body_at: None,
            content_length: None,
            searched: 0,
        }
    }

    /// What is left to send.
    pub fn unsent(&self) -> &[u8] {
        &self.request[self.sent..]
    }

    /// `n` more bytes went out.
    pub fn sent(&mut self, n: usize) {
        self.sent = (self.sent + n).min(self.request.len());
    }

    /// Takes response bytes; a verdict once there is one.
    pub fn received(&mut self, data: &[u8]) -> Option<Verdict> {
        let room = MAX_RESPONSE.saturating_sub(self.response.len());
        self.response
            .extend_from_slice(&data[..data.len().min(room)]);
        if self.body_at.is_none() {
            let end = find(&self.response, b"\r\n\r\n").map(|i| i + 4);
            let end = end.or_else(|| find(&self.response, b"\n\n").map(|i| i + 2));
            match end {
                Some(end) => {
                    self.body_at = Some(end);
                    self.searched = end;
                    if let Err(e) = self.head(end) {
                        return Some(Err(e));
                    }
                }
                None if self.response.len() >= MAX_RESPONSE => {
                    return Some(Err(format!(
                        "no end of headers in {} KiB",
                        MAX_RESPONSE / 1024
                    )))
                }
                None => return None,
            }
        }
        let body_at = self.body_at?;
        let Some(expect) = &self.expect else {
            return Some(Ok(format!("HTTP {}", self.status)));
        };
        // Search only what is new, from far enough back to catch a match
        // that straddles two reads.
        let from = self
            .searched
            .saturating_sub(expect.len().saturating_sub(1))
            .max(body_at);
        if find(&self.response[from..], expect.as_bytes()).is_some() {
            return Some(Ok(format!("HTTP {}, body has {expect:?}", self.status)));
        }
        self.searched = self.response.len();
        let body_len = self.response.len() - body_at;
        if self.content_length.is_some_and(|n| body_len >= n) {
            return Some(Err(format!("body lacks {expect:?}")));
        }
        if self.response.len() >= MAX_RESPONSE {
            return Some(Err(format!(
                "body lacks {expect:?} in its first {} KiB",
                MAX_RESPONSE / 1024
            )));
        }
        None
    }

    /// The server closed: the verdict, if none came before.
    pub fn closed(&mut self) -> Verdict {
        if let Some(v) = self.received(&[]) {
            return v;
        }
        match (self.body_at, &self.expect) {
            (None, _) if self.response.is_empty() => Err("closed without a response".into()),
            (None, _) => Err("closed in the middle of the headers".into()),
            (Some(_), Some(e)) => Err(format!("body lacks {e:?}")),
            (Some(_), None) => Ok(format!("HTTP {}", self.status)),
        }
    }

    /// Checks the status line and reads Content-Length.
    fn head(&mut self, end: usize) -> Result<(), String> {
        let head = String::from_utf8_lossy(&self.response[..end]);
        let mut lines = head.lines();
        let status_line = lines.next().unwrap_or_default();
        let mut parts = status_line.splitn(3, ' ');
        let version = parts.next().unwrap_or_default();
        let code = parts.next().and_then(|c| c.parse::<u16>().ok());
        let Some(code) = code.filter(|_| version.starts_with("HTTP/")) else {
            return Err(format!(
                "not an HTTP status line: {:?}",
                truncate(status_line)
            ));
        };
        if code != self.status {
            return Err(format!("HTTP {code}, expected {}", self.status));
        }
        self.content_length = lines.find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        });
        Ok(())
    }
}

fn truncate(s: &str) -> &str {
    match s.char_indices().nth(60) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// Where `needle` first occurs in `hay`.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(status: u16, expect: Option<&str>, host: Option<&str>) -> HttpCheck {
        HttpCheck {
            path: "/healthz".into(),
            status,
            expect: expect.map(Into::into),
            host: host.map(Into::into),
            ca_file: None,
        }
    }

    /// Feeds `parts` one by one; the verdict and how many parts it took.
    fn feed(x: &mut Exchange, parts: &[&str]) -> Option<(usize, Verdict)> {
        for (i, p) in parts.iter().enumerate() {
            if let Some(v) = x.received(p.as_bytes()) {
                return Some((i + 1, v));
            }
        }
        None
    }

    #[test]
    fn the_request() {
        let x = Exchange::new(&check(200, None, None), "198.51.100.21");
        let req = String::from_utf8(x.unsent().to_vec()).unwrap();
        assert!(
            req.starts_with("GET /healthz HTTP/1.0\r\nHost: 198.51.100.21\r\n"),
            "{req}"
        );
        assert!(req.ends_with("Connection: close\r\n\r\n"));
        let mut x = Exchange::new(&check(200, None, Some("www.example.com")), "198.51.100.21");
        assert!(String::from_utf8_lossy(x.unsent()).contains("\r\nHost: www.example.com\r\n"));
        let n = x.unsent().len();
        x.sent(10);
        assert_eq!(x.unsent().len(), n - 10);
        x.sent(n);
        assert!(x.unsent().is_empty());
    }

    #[test]
    fn status_decides_at_the_status_line() {
        let mut x = Exchange::new(&check(200, None, None), "h");
        assert_eq!(
            feed(
                &mut x,
                &["HTTP/1.1 200 OK\r\nContent-Le", "ngth: 5\r\n\r\n", "hello"]
            ),
            Some((2, Ok("HTTP 200".into())))
        );
        let mut x = Exchange::new(&check(200, None, None), "h");
        assert_eq!(
            feed(&mut x, &["HTTP/1.1 503 Service Unavailable\r\n\r\n"]),
            Some((1, Err("HTTP 503, expected 200".into())))
        );
        let mut x = Exchange::new(&check(204, None, None), "h");
        assert_eq!(
            x.received(b"HTTP/1.0 204 No Content\n\n"),
            Some(Ok("HTTP 204".into()))
        );
    }

    #[test]
    fn expect_searches_the_body_across_reads() {
        let mut x = Exchange::new(&check(200, Some("all good"), None), "h");
        let parts = ["HTTP/1.1 200 OK\r\n\r\n", "status: all g", "ood\n", "more"];
        assert_eq!(
            feed(&mut x, &parts),
            Some((3, Ok("HTTP 200, body has \"all good\"".into())))
        );
        // The headers do not count as body.
        let mut x = Exchange::new(&check(200, Some("OK"), None), "h");
        assert_eq!(
            x.received(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n"),
            None
        );
        assert_eq!(
            x.received(b"bad"),
            Some(Err("body lacks \"OK\"".into())),
            "the body is complete"
        );
        let mut x = Exchange::new(&check(200, Some("OK"), None), "h");
        assert_eq!(x.received(b"HTTP/1.1 200 OK\r\n\r\nnope"), None);
        assert_eq!(x.closed(), Err("body lacks \"OK\"".into()));
    }

    #[test]
    fn bad_and_short_responses() {
        let mut x = Exchange::new(&check(200, None, None), "h");
        assert_eq!(x.closed(), Err("closed without a response".into()));
        let mut x = Exchange::new(&check(200, None, None), "h");
        assert_eq!(x.received(b"HTTP/1.1 200 OK\r\nServer"), None);
        assert_eq!(
            x.closed(),
            Err("closed in the middle of the headers".into())
        );
        let mut x = Exchange::new(&check(200, None, None), "h");
        assert_eq!(
            x.received(b"SSH-2.0-OpenSSH_9.2\r\n\r\n"),
            Some(Err(
                "not an HTTP status line: \"SSH-2.0-OpenSSH_9.2\"".into()
            ))
        );
        let mut x = Exchange::new(&check(200, None, None), "h");
        assert_eq!(
            x.received(b"HTTP/1.1 abc OK\r\n\r\n").map(|v| v.is_err()),
            Some(true)
        );
    }

    #[test]
    fn a_huge_response_is_cut_off() {
        let mut x = Exchange::new(&check(200, Some("needle"), None), "h");
        assert_eq!(x.received(b"HTTP/1.1 200 OK\r\n\r\n"), None);
        let chunk = vec![b'x'; 64 * 1024];
        let mut verdict = None;
        for _ in 0..10 {
            verdict = x.received(&chunk);
            if verdict.is_some() {
                break;
            }
        }
        assert_eq!(
            verdict,
            Some(Err("body lacks \"needle\" in its first 256 KiB".into()))
        );
        let mut x = Exchange::new(&check(200, None, None), "h");
        let mut verdict = None;
        for _ in 0..10 {
            verdict = x.received(&chunk);
            if verdict.is_some() {
                break;
            }
        }
        assert_eq!(verdict, Some(Err("no end of headers in 256 KiB".into())));
    }
}
