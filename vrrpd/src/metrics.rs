//! The Prometheus text exposition (format 0.0.4) served at `/metrics`:
//! VRRP instances, health checks and the drlb module's counters, named as
//! the Prometheus guide asks (base units, `_total` for counters) and
//! labelled like keepalived-exporter's (instance and interface; protocol,
//! vip, port and real for services).

use std::collections::HashMap;
use std::fmt::Write;

/// A metric family's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Goes up and down.
    Gauge,
    /// Only goes up (resets with the process).
    Counter,
    /// Buckets, sum and count.
    Histogram,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Gauge => "gauge",
            Kind::Counter => "counter",
            Kind::Histogram => "histogram",
        }
    }
}

/// Samples gathered by family, written out family by family.
#[derive(Default)]
pub struct Exposition {
    order: Vec<&'static str>,
    families: HashMap<&'static str, (Kind, &'static str, String)>,
}

/// A label value, escaped as the format asks.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn number(v: f64) -> String {
    if v.is_finite() && v == v.trunc() && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        format!("{v}")
    }
}

impl Exposition {
    /// Nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    fn lines(&mut self, name: &'static str, kind: Kind, help: &'static str) -> &mut String {
        if !self.families.contains_key(name) {
            self.order.push(name);
        }
        &mut self
            .families
            .entry(name)
            .or_insert_with(|| (kind, help, String::new()))
            .2
    }

    /// One sample of family `name`.
    pub fn sample(
        &mut self,
        name: &'static str,
        kind: Kind,
        help: &'static str,
        labels: &[(&str, &str)],
        value: f64,
    ) {
        let line = sample_line(name, "", labels, value);
        self.lines(name, kind, help).push_str(&line);
    }

    /// One histogram: cumulative `buckets` as (upper bound, count), then
    /// the sum and count.
    pub fn histogram(
        &mut self,
        name: &'static str,
        help: &'static str,
        buckets: &[(f64, u64)],
        sum: f64,
        count: u64,
    ) {
        let mut text = String::new();
        for (le, n) in buckets {
            text += &sample_line(name, "_bucket", &[("le", &number(*le))], *n as f64);
        }
        text += &sample_line(name, "_bucket", &[("le", "+Inf")], count as f64);
        text += &sample_line(name, "_sum", &[], sum);
        text += &sample_line(name, "_count", &[], count as f64);
        self.lines(name, Kind::Histogram, help).push_str(&text);
    }

    /// The exposition text.
    pub fn finish(self) -> String {
        let mut out = String::new();
        for name in &self.order {
            let (kind, help, lines) = &self.families[name];
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {}", kind.name());
            out += lines;
        }
        out
    }
}

fn sample_line(name: &str, suffix: &str, labels: &[(&str, &str)], value: f64) -> String {
    let mut s = format!("{name}{suffix}");
    if !labels.is_empty() {
        s.push('{');
        for (i, (k, v)) in labels.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            let _ = write!(s, "{k}=\"{}\"", escape(v));
        }
        s.push('}');
    }
    let _ = writeln!(s, " {}", number(value));
    s
}

/// An HTTP/1.0 answer to a request for the exposition.
pub fn http_answer(request: &str, body: impl FnOnce() -> String) -> Vec<u8> {
    let line = request.lines().next().unwrap_or_default();
    let mut words = line.split_whitespace();
    let (method, path) = (
        words.next().unwrap_or_default(),
        words.next().unwrap_or_default(),
    );
    let path = path.split('?').next().unwrap_or_default();
    let (status, ctype, body) = match (method, path) {
        ("GET", "/metrics") => ("200 OK", "text/plain; version=0.0.4; charset=utf-8", body()),
        ("GET", _) => ("404 Not Found", "text/plain", "try /metrics\n".to_string()),
        _ => (
            "405 Method Not Allowed",
            "text/plain",
            "GET only\n".to_string(),
        ),
    };
    format!(
        "HTTP/1.0 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_are_grouped_with_help_and_type() {
        let mut e = Exposition::new();
        e.sample("a_total", Kind::Counter, "As.", &[("x", "1")], 3.0);
        e.sample("b", Kind::Gauge, "Bs.", &[], 0.5);
        e.sample("a_total", Kind::Counter, "As.", &[("x", "2")], 4.0);
        assert_eq!(
            e.finish(),
            "# HELP a_total As.\n# TYPE a_total counter\na_total{x=\"1\"} 3\na_total{x=\"2\"} 4\n\
             # HELP b Bs.\n# TYPE b gauge\nb 0.5\n"
        );
    }

    #[test]
    fn labels_are_escaped() {
        let mut e = Exposition::new();
        e.sample("g", Kind::Gauge, "G.", &[("v", "a\"b\\c\nd")], 1.0);
        assert!(e.finish().contains("g{v=\"a\\\"b\\\\c\\nd\"} 1\n"));
    }

    #[test]
    fn histograms() {
        let mut e = Exposition::new();
        e.histogram("h_seconds", "H.", &[(0.001, 2), (0.01, 5)], 0.02, 6);
        let t = e.finish();
        assert!(t.contains("# TYPE h_seconds histogram\n"));
        assert!(t.contains("h_seconds_bucket{le=\"0.001\"} 2\nh_seconds_bucket{le=\"0.01\"} 5\nh_seconds_bucket{le=\"+Inf\"} 6\nh_seconds_sum 0.02\nh_seconds_count 6\n"), "{t}");
    }

    #[test]
    fn http() {
        let ok = String::from_utf8(http_answer(
            "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n",
            || "m 1\n".into(),
        ))
        .unwrap();
        assert!(ok.starts_with("HTTP/1.0 200 OK\r\n"));
        assert!(ok.contains("Content-Length: 4\r\n") && ok.ends_with("\r\n\r\nm 1\n"));
        let nf =
            String::from_utf8(http_answer("GET / HTTP/1.1\r\n\r\n", || unreachable!())).unwrap();
        assert!(nf.starts_with("HTTP/1.0 404"));
        let bad = String::from_utf8(http_answer(
            "POST /metrics HTTP/1.1\r\n\r\n",
            || unreachable!(),
        ))
        .unwrap();
        assert!(bad.starts_with("HTTP/1.0 405"));
    }
}
