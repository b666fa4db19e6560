//! The probe edge against real servers on loopback, driven through mio as
//! the daemon drives it: TCP accepted and refused, HTTP status and body,
//! HTTPS with and without certificate verification, and exec checks with
//! their exit codes, environment, and the kill of a check that overruns.

use mio::{Events, Poll, Token};
use std::io::{Read, Write};
use std::net::{IpAddr, TcpListener};
use std::time::{Duration, Instant};
use vrrpd::checks::ProbeKey;
use vrrpd::config::{CheckKind, CheckSpec, HttpCheck};
use vrrpd::probe::{self, Prober};

const LOCAL: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

fn key(kind: CheckKind, port: u16) -> ProbeKey {
    let ms = Duration::from_millis;
    ProbeKey {
        addr: LOCAL,
        spec: CheckSpec {
            kind,
            port,
            interval: ms(1000),
            fast_interval: ms(1000),
            down_interval: ms(1000),
            timeout: ms(1000),
            rise: 1,
            fall: 1,
            initial_up: false,
        },
    }
}

fn http(
    status: u16,
    expect: Option<&str>,
    host: Option<&str>,
    ca_file: Option<&std::path::Path>,
) -> HttpCheck {
    HttpCheck {
        path: "/healthz".into(),
        status,
        expect: expect.map(Into::into),
        host: host.map(Into::into),
        ca_file: ca_file.map(Into::into),
    }
}

/// One attempt, run to its verdict; None if it has none within `limit`
/// (the scheduler's timeout would then cancel it, as this does).
fn run(prober: &mut Prober, key: &ProbeKey, limit: Duration) -> Option<probe::Result> {
    let mut poll = Poll::new().unwrap();
    if let Err(e) = prober.start(0, key, poll.registry(), Token(7)) {
        return Some(Err(e));
    }
    let mut events = Events::with_capacity(8);
    let end = Instant::now() + limit;
    while Instant::now() < end {
        // (as the daemon's loop: an interrupted wait is waited again)
        match poll.poll(&mut events, Some(Duration::from_millis(20))) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            r => r.unwrap(),
        }
        for ev in events.iter() {
            assert_eq!(ev.token(), Token(7));
            if let Some(r) = prober.ready(0, ev, poll.registry()) {
                assert_eq!(prober.running(), 0);
                return Some(r);
            }
        }
    }
    prober.cancel(0, poll.registry());
    assert_eq!(prober.running(), 0);
    None
}

fn probe(key: &ProbeKey) -> Option<probe::Result> {
    run(&mut Prober::new(), key, Duration::from_secs(5))
}

/// A server for one connection: reads the request's head, then `answer`
/// writes the response (over `S`, plain or TLS).
fn serve_once<F>(listener: TcpListener, answer: F)
where
    F: FnOnce(std::net::TcpStream) + Send + 'static,
{
    std::thread::spawn(move || {
        if let Ok((s, _)) = listener.accept() {
            answer(s);
        }
    });
}

fn read_head(s: &mut impl Read) -> String {
    let mut buf = vec![];
    let mut b = [0u8; 512];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut b) {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&b[..n]),
        }
    }
    String::from_utf8_lossy(&buf).into_owned()
}

fn listener() -> (TcpListener, u16) {
    let l = TcpListener::bind((LOCAL, 0)).unwrap();
    let port = l.local_addr().unwrap().port();
    (l, port)
}

#[test]
fn tcp_accepted_and_refused() {
    let (l, port) = listener();
    assert_eq!(
        probe(&key(CheckKind::Tcp, port)),
        Some(Ok("connected".into()))
    );
    drop(l);
    assert_eq!(
        probe(&key(CheckKind::Tcp, port)),
        Some(Err("Connection refused".into()))
    );
}

#[test]
fn http_request_status_and_body() {
    let (l, port) = listener();
    let (tx, rx) = std::sync::mpsc::channel();
    serve_once(l, move |mut s| {
        tx.send(read_head(&mut s)).unwrap();
        s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\nstatus: OK!\n")
            .unwrap();
    });
    let k = key(
        CheckKind::Http(http(200, Some("OK!"), Some("www.example.com"), None)),
        port,
    );
    assert_eq!(probe(&k), Some(Ok("HTTP 200, body has \"OK!\"".into())));
    let head = rx.recv().unwrap();
    assert!(head.starts_with("GET /healthz HTTP/1.0\r\n"), "{head}");
    assert!(head.contains("\r\nHost: www.example.com\r\n"), "{head}");

    let (l, port) = listener();
    serve_once(l, |mut s| {
        read_head(&mut s);
        let _ = s.write_all(b"HTTP/1.1 503 Service Unavailable\r\n\r\n");
    });
    let k = key(CheckKind::Http(http(200, None, None, None)), port);
    assert_eq!(probe(&k), Some(Err("HTTP 503, expected 200".into())));
}

#[test]
fn http_that_never_answers_has_no_verdict() {
    let (l, port) = listener();
    serve_once(l, |mut s| {
        read_head(&mut s);
        std::thread::sleep(Duration::from_secs(2));
    });
    let k = key(CheckKind::Http(http(200, None, None, None)), port);
    let t = Instant::now();
    assert_eq!(
        run(&mut Prober::new(), &k, Duration::from_millis(300)),
        None
    );
    assert!(t.elapsed() < Duration::from_secs(1));
}

/// An HTTPS server for one connection, with a self-signed certificate for
/// `check.test`; the certificate's PEM file.
fn tls_server(dir: &std::path::Path) -> (u16, std::path::PathBuf) {
    let rcgen::CertifiedKey { cert, signing_key } =
        rcgen::generate_simple_self_signed(vec!["check.test".to_string()]).unwrap();
    let pem = dir.join("ca.pem");
    std::fs::write(&pem, cert.pem()).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(signing_key.serialize_der().into());
    let config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![cert.der().clone()], key)
    .unwrap();
    let (l, port) = listener();
    serve_once(l, move |s| {
        let conn = rustls::ServerConnection::new(std::sync::Arc::new(config)).unwrap();
        let mut tls = rustls::StreamOwned::new(conn, s);
        read_head(&mut tls);
        let _ = tls.write_all(b"HTTP/1.0 200 OK\r\n\r\nsecure OK\n");
        tls.conn.send_close_notify();
        let _ = tls.flush();
    });
    (port, pem)
}

fn tempdir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("vrrpd-probes-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn https_with_and_without_verification() {
    let dir = tempdir("tls");
    let (port, _) = tls_server(&dir);
    let k = key(
        CheckKind::Https(http(200, Some("secure"), None, None)),
        port,
    );
    assert_eq!(
        probe(&k),
        Some(Ok("HTTP 200, body has \"secure\"".into())),
        "not verified by default"
    );
    let (port, ca) = tls_server(&dir);
    let k = key(
        CheckKind::Https(http(200, None, Some("check.test"), Some(&ca))),
        port,
    );
    assert_eq!(
        probe(&k),
        Some(Ok("HTTP 200".into())),
        "verified against its CA"
    );
    let (port, ca) = tls_server(&dir);
    let k = key(
        CheckKind::Https(http(200, None, Some("other.test"), Some(&ca))),
        port,
    );
    let r = probe(&k).unwrap();
    assert!(
        r.as_ref()
            .is_err_and(|e| e.contains("TLS") || e.contains("certificate")),
        "{r:?}"
    );
    let k = key(
        CheckKind::Https(http(200, None, None, Some(&dir.join("missing.pem")))),
        port,
    );
    let r = probe(&k).unwrap();
    assert!(r.as_ref().is_err_and(|e| e.contains("ca_file")), "{r:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

fn exec(script: &str) -> ProbeKey {
    key(
        CheckKind::Exec(vec!["/bin/sh".into(), "-c".into(), script.into()]),
        8080,
    )
}

#[test]
fn exec_checks() {
    assert_eq!(probe(&exec("exit 0")), Some(Ok("exit 0".into())));
    assert_eq!(probe(&exec("exit 3")), Some(Err("exit 3".into())));
    assert_eq!(
        probe(&exec(
            "test \"$DRLB_CHECK_ADDRESS:$DRLB_CHECK_PORT\" = 127.0.0.1:8080"
        )),
        Some(Ok("exit 0".into())),
        "the target in its environment"
    );
    assert_eq!(
        probe(&exec("kill -9 $$")),
        Some(Err("killed by signal 9".into()))
    );
    let missing = key(CheckKind::Exec(vec!["/nonexistent/check".into()]), 80);
    let r = probe(&missing).unwrap();
    assert!(
        r.as_ref()
            .is_err_and(|e| e.starts_with("/nonexistent/check: ")),
        "{r:?}"
    );
}

/// The processes whose command line holds `marker`.
fn with_marker(marker: &str) -> usize {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| {
            std::fs::read(e.path().join("cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(marker))
        })
        .count()
}

#[test]
fn an_overrunning_exec_check_is_killed_with_what_it_started() {
    let marker = format!("overrun-{}", std::process::id());
    let mut prober = Prober::new();
    // The check starts a shell of its own in the background: both go.
    let k = exec(&format!(
        "sh -c 'sleep 30; : {marker}' & sleep 31; : {marker}"
    ));
    assert_eq!(run(&mut prober, &k, Duration::from_millis(300)), None);
    let end = Instant::now() + Duration::from_secs(5);
    loop {
        prober.reap();
        if with_marker(&marker) == 0 {
            break;
        }
        assert!(
            Instant::now() < end,
            "the check's process outlived its cancel"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
