//! The `[sync]` table: connection sync between directors.
//!
//! ```toml
//! [sync]
//! interface = "e0"              # where sync messages go
//! peers = ["198.51.100.4"]      # unicast peers; omit for multicast
//! key = "secret"                # optional shared key (HMAC-SHA256)
//! port = 8849                   # optional
//! group = "224.0.0.81"          # optional: the multicast group without peers
//! pull_timeout_ms = 5000        # optional: the longest preemption waits for the table
//! ```

use super::Validator;
use serde::Deserialize;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;
use toml::Spanned;

/// `port`'s default.
pub const DEFAULT_PORT: u16 = 8849;
/// `group`'s default.
pub const DEFAULT_GROUP: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 81);
/// `pull_timeout_ms`'s default.
pub const DEFAULT_PULL_TIMEOUT_MS: u64 = 5000;

/// A checked `[sync]` table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnSync {
    /// Where sync datagrams go and come from.
    pub interface: String,
    /// Unicast peers; empty: the multicast `group`.
    pub peers: Vec<IpAddr>,
    /// The shared key: datagrams carry an HMAC-SHA256 made with it.
    pub key: Option<String>,
    /// The UDP port.
    pub port: u16,
    /// The IPv4 multicast group, without peers.
    pub group: Ipv4Addr,
    /// How long a returning director waits for the table (and its real
    /// servers' resolution) before it preempts anyway.
    pub pull_timeout: Duration,
    /// The table's line, for messages.
    pub line: usize,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConnSync {
    interface: Spanned<String>,
    #[serde(default)]
    peers: Option<Spanned<Vec<Spanned<String>>>>,
    key: Option<Spanned<String>>,
    port: Option<Spanned<i64>>,
    group: Option<Spanned<String>>,
    pull_timeout_ms: Option<Spanned<i64>>,
}

impl Validator {
    pub(super) fn conn_sync(&mut self, raw: &Spanned<RawConnSync>) -> Option<ConnSync> {
        let before = self.errors.len();
        let r = raw.get_ref();
        let interface = self.nonempty("sync interface", &r.interface);
        if interface.len() > 15 {
            self.error(
                r.interface.span(),
                format!("sync interface `{interface}` is longer than 15 bytes"),
            );
        }
        let mut peers = vec![];
        if let Some(list) = &r.peers {
            if list.get_ref().is_empty() {
                self.error(
                    list.span(),
                    "sync peers is empty: list them, or leave the key out for multicast".into(),
                );
            }
            for p in list.get_ref() {
                if let Some(a) = self.ip("sync peers", p) {
                    if peers.contains(&a) {
                        self.error(p.span(), format!("sync peers: {a} is listed twice"));
                    }
                    peers.push(a);
                }
            }
        }
        let key = r.key.as_ref().map(|k| {
            if k.get_ref().is_empty() {
                self.error(
                    k.span(),
                    "sync key must not be empty (leave it out for no authentication)".into(),
                );
            }
            k.get_ref().clone()
        });
        let port = self.opt_range("sync port", r.port.as_ref(), 1, 65535, DEFAULT_PORT);
        let group = match &r.group {
            None => DEFAULT_GROUP,
            Some(g) => match g.get_ref().parse::<Ipv4Addr>() {
                Ok(a) if a.is_multicast() => {
                    if !peers.is_empty() {
                        self.error(
                            g.span(),
                            "sync group is for multicast: it cannot go with peers".into(),
                        );
                    }
                    a
                }
                _ => {
                    self.error(
                        g.span(),
                        format!(
                            "sync group `{}` is not an IPv4 multicast address (e.g. 224.0.0.81)",
                            g.get_ref()
                        ),
                    );
                    DEFAULT_GROUP
                }
            },
        };
        let pull_timeout_ms: u64 = self.opt_range(
            "sync pull_timeout_ms",
            r.pull_timeout_ms.as_ref(),
            0,
            3_600_000,
            DEFAULT_PULL_TIMEOUT_MS,
        );
        (self.errors.len() == before).then(|| ConnSync {
            interface,
            peers,
            key,
            port,
            group,
            pull_timeout: Duration::from_millis(pull_timeout_ms),
            line: self.line(raw.span()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::check;

    const VS: &str = "[[virtual_server]]\nprotocol = \"tcp\"\naddress = \"198.51.100.10:80\"\n";

    fn with(sync: &str) -> Result<crate::config::Config, Vec<crate::config::ConfigError>> {
        check(&format!("{VS}[sync]\n{sync}"))
    }

    fn error(sync: &str) -> (usize, String) {
        let errs = with(sync).unwrap_err();
        (errs[0].line, errs[0].message.clone())
    }

    #[test]
    fn the_exact_form_of_the_issue() {
        let c = check(&format!(
            "{VS}[sync]\ninterface = \"e0\"              # where sync messages go\npeers = [\"198.51.100.4\"]      # unicast peers; omit for multicast\nkey = \"secret\"                # optional shared key\n"
        ))
        .unwrap();
        let s = c.sync.unwrap();
        assert_eq!(s.interface, "e0");
        assert_eq!(s.peers, ["198.51.100.4".parse::<IpAddr>().unwrap()]);
        assert_eq!(s.key.as_deref(), Some("secret"));
        assert_eq!(s.port, 8849);
        assert_eq!(s.group, DEFAULT_GROUP);
        assert_eq!(s.pull_timeout, Duration::from_millis(5000));
        assert_eq!(s.line, 4);
        assert_eq!(check(VS).unwrap().sync, None, "no [sync], no sync");
    }

    #[test]
    fn multicast_and_the_optional_keys() {
        let s =
            with("interface = \"e0\"\nport = 9000\ngroup = \"239.1.2.3\"\npull_timeout_ms = 0\n")
                .unwrap()
                .sync
                .unwrap();
        assert!(s.peers.is_empty());
        assert_eq!(s.key, None);
        assert_eq!((s.port, s.group), (9000, Ipv4Addr::new(239, 1, 2, 3)));
        assert_eq!(s.pull_timeout, Duration::ZERO);
        let s = with("interface = \"e0\"\npeers = [\"2001:db8::4\", \"198.51.100.4\"]\n")
            .unwrap()
            .sync
            .unwrap();
        assert_eq!(s.peers.len(), 2);
    }

    #[test]
    fn bad_values_are_errors_at_their_lines() {
        // (line 4 is the first key after [sync])
        for (sync, line, want) in [
            ("interface = \"\"\n", 5, "must not be empty"),
            (
                "interface = \"a-very-long-interface\"\n",
                5,
                "longer than 15",
            ),
            (
                "interface = \"e0\"\npeers = [\"nope\"]\n",
                6,
                "is not an IP address",
            ),
            (
                "interface = \"e0\"\npeers = [\"224.0.0.5\"]\n",
                6,
                "not a unicast",
            ),
            ("interface = \"e0\"\npeers = []\n", 6, "peers is empty"),
            (
                "interface = \"e0\"\npeers = [\"10.0.0.1\", \"10.0.0.1\"]\n",
                6,
                "listed twice",
            ),
            (
                "interface = \"e0\"\nkey = \"\"\n",
                6,
                "key must not be empty",
            ),
            (
                "interface = \"e0\"\nport = 0\n",
                6,
                "sync port 0 out of range",
            ),
            ("interface = \"e0\"\nport = 70000\n", 6, "1..=65535"),
            (
                "interface = \"e0\"\ngroup = \"10.0.0.1\"\n",
                6,
                "not an IPv4 multicast",
            ),
            (
                "interface = \"e0\"\npeers = [\"10.0.0.2\"]\ngroup = \"239.0.0.1\"\n",
                7,
                "cannot go with peers",
            ),
            (
                "interface = \"e0\"\npull_timeout_ms = -1\n",
                6,
                "pull_timeout_ms -1 out of range",
            ),
            ("interface = \"e0\"\nhmac = \"x\"\n", 6, "unknown field"),
            ("peers = [\"10.0.0.2\"]\n", 4, "missing field `interface`"),
        ] {
            let (l, m) = error(sync);
            assert!(m.contains(want), "{sync:?}: {m}");
            // (serde's own errors point at the table)
            if !want.starts_with("unknown") && !want.starts_with("missing") {
                assert_eq!(l, line, "{sync:?}: {m}");
            }
        }
    }
}
