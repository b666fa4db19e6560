//! The TOML configuration, checked with line numbers. One file describes
//! the whole director: VRRP instances ([`instance`]), the services drlb
//! balances with the health checks of their real servers ([`service`]),
//! and where metrics are served.
//!
//! ```toml
//! metrics_listen = "127.0.0.1:9650"   # optional
//!
//! [[instance]]                        # VRRP: see instance.rs
//! name = "vi1"
//! interface = "eth0"
//! vrid = 51
//! virtual_ips = ["198.51.100.10/32"]
//!
//! [[virtual_server]]                  # a drlb service: see service.rs
//! protocol = "tcp"
//! address = "198.51.100.10:80"
//! [virtual_server.check]
//! type = "http"
//! [[virtual_server.real]]
//! address = "198.51.100.21"
//! ```
//!
//! A file needs at least one instance or one virtual server: virtual
//! servers alone make a single director that checks its real servers.

mod connsync;
mod instance;
mod service;
mod track;

pub use connsync::ConnSync;
pub use instance::{InstanceConfig, VirtualIp};
pub use service::{CheckKind, CheckSpec, HttpCheck, OnFail, RealServer, ServiceKey, VirtualServer};
pub use track::{SyncGroup, TrackFile, TrackInterface, TrackScript};

use serde::Deserialize;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::ops::Range;
use std::path::Path;
use toml::Spanned;

/// `realtime_priority`'s default: above every normal task, below the
/// kernel's threaded interrupt handlers (50), which receive the adverts.
pub const DEFAULT_REALTIME_PRIORITY: u8 = 10;

/// A checked configuration.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Config {
    /// The `[[instance]]` tables, in file order.
    pub instances: Vec<InstanceConfig>,
    /// The `[[virtual_server]]` tables, in file order.
    pub virtual_servers: Vec<VirtualServer>,
    /// Where the Prometheus endpoint listens, if anywhere.
    pub metrics_listen: Option<SocketAddr>,
    /// The `[[sync_group]]` tables, in file order.
    pub sync_groups: Vec<SyncGroup>,
    /// The SCHED_RR priority the daemon runs at, with its memory locked
    /// (`realtime`, `realtime_priority`); `None`: normal scheduling.
    pub realtime: Option<u8>,
    /// The `[sync]` table: connection sync with peer directors.
    pub sync: Option<ConnSync>,
}

impl Config {
    /// The instance named `name`.
    pub fn instance(&self, name: &str) -> Option<&InstanceConfig> {
        self.instances.iter().find(|i| i.name == name)
    }

    /// The sync group instance `name` is in, if any.
    pub fn sync_group_of(&self, name: &str) -> Option<&SyncGroup> {
        self.sync_groups
            .iter()
            .find(|g| g.instances.iter().any(|i| i == name))
    }

    /// The virtual server `key`.
    pub fn virtual_server(&self, key: &ServiceKey) -> Option<&VirtualServer> {
        self.virtual_servers.iter().find(|v| v.key() == *key)
    }
}

/// One problem in a configuration, at a line (1-based).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// The file, when known; see [`ConfigError::in_file`].
    pub file: Option<String>,
    /// 1-based line of the offending key or value.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl ConfigError {
    /// The same error, attributed to `file`.
    pub fn in_file(self, file: &Path) -> Self {
        ConfigError {
            file: Some(file.display().to_string()),
            ..self
        }
    }
}

/// `FILE:LINE: message`, or `line LINE: message` without a file.
impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.file {
            Some(file) => write!(f, "{file}:{}: {}", self.line, self.message),
            None => write!(f, "line {}: {}", self.line, self.message),
        }
    }
}

impl std::error::Error for ConfigError {}

/// Read and check the file at `path`; errors carry its name.
pub fn load(path: &Path) -> Result<Config, Vec<ConfigError>> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        vec![ConfigError {
            file: None,
            line: 0,
            message: format!("cannot read: {e}"),
        }
        .in_file(path)]
    })?;
    check(&text).map_err(|errs| errs.into_iter().map(|e| e.in_file(path)).collect())
}

/// Parse and check a configuration, returning every error found, sorted by
/// line. Syntax and type errors stop at the first one.
pub fn check(text: &str) -> Result<Config, Vec<ConfigError>> {
    let raw: RawConfig = toml::from_str(text).map_err(|e| {
        let line = e.span().map_or(1, |s| line_of(text, s.start));
        vec![ConfigError {
            file: None,
            line,
            message: e.message().to_string(),
        }]
    })?;
    let mut v = Validator {
        line_starts: line_starts(text),
        errors: Vec::new(),
    };
    let trackers = v.trackers(&raw.track_script, &raw.track_file);
    let instances: Vec<_> = raw
        .instance
        .iter()
        .filter_map(|i| v.instance(i, &trackers))
        .collect();
    v.duplicate_instances(&raw.instance);
    let priorities = raw
        .instance
        .iter()
        .map(|i| i.get_ref().name_and_priority())
        .collect();
    let sync_groups = v.sync_groups(&raw.sync_group, &priorities);
    let virtual_servers = v.virtual_servers(&raw.virtual_server, &instances);
    if raw.instance.is_empty() && raw.virtual_server.is_empty() {
        v.error(
            0..0,
            "nothing to run: no [[instance]] and no [[virtual_server]] defined".to_string(),
        );
    }
    let metrics_listen = raw.metrics_listen.as_ref().and_then(|m| {
        m.get_ref()
            .parse::<SocketAddr>()
            .map_err(|_| {
                v.error(
                    m.span(),
                    format!(
                        "metrics_listen `{}` is not ADDRESS:PORT (e.g. 127.0.0.1:9650)",
                        m.get_ref()
                    ),
                )
            })
            .ok()
    });
    let realtime_priority = v.opt_range(
        "realtime_priority",
        raw.realtime_priority.as_ref(),
        1,
        99,
        DEFAULT_REALTIME_PRIORITY,
    );
    let realtime = raw.realtime.unwrap_or(true).then_some(realtime_priority);
    let sync = raw.sync.as_ref().and_then(|s| v.conn_sync(s));
    if v.errors.is_empty() {
        Ok(Config {
            instances,
            virtual_servers,
            metrics_listen,
            sync_groups,
            realtime,
            sync,
        })
    } else {
        v.errors.sort_by_key(|e| e.line);
        Err(v.errors)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    metrics_listen: Option<Spanned<String>>,
    realtime: Option<bool>,
    realtime_priority: Option<Spanned<i64>>,
    sync: Option<Spanned<connsync::RawConnSync>>,
    #[serde(default)]
    instance: Vec<Spanned<instance::RawInstance>>,
    #[serde(default)]
    virtual_server: Vec<Spanned<service::RawVirtualServer>>,
    #[serde(default)]
    sync_group: Vec<Spanned<track::RawSyncGroup>>,
    #[serde(default)]
    track_script: Vec<Spanned<track::RawTrackScript>>,
    #[serde(default)]
    track_file: Vec<Spanned<track::RawTrackFile>>,
}

/// Where each line starts, for [`Validator::line`].
fn line_starts(text: &str) -> Vec<usize> {
    std::iter::once(0)
        .chain(text.match_indices('\n').map(|(i, _)| i + 1))
        .collect()
}

/// 1-based line holding byte `offset`.
fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Collects semantic errors with their lines.
struct Validator {
    /// Where each line of the text starts (a file with thousands of real
    /// servers asks for thousands of line numbers).
    line_starts: Vec<usize>,
    errors: Vec<ConfigError>,
}

impl Validator {
    fn error(&mut self, span: Range<usize>, message: String) {
        let line = self.line(span);
        self.errors.push(ConfigError {
            file: None,
            line,
            message,
        });
    }

    /// 1-based line where `span` starts.
    fn line(&self, span: Range<usize>) -> usize {
        self.line_starts.partition_point(|&s| s <= span.start)
    }

    fn nonempty(&mut self, key: &str, value: &Spanned<String>) -> String {
        if value.get_ref().trim().is_empty() {
            self.error(value.span(), format!("{key} must not be empty"));
        }
        value.get_ref().clone()
    }

    /// `value` as a `T` within `lo..=hi`; out of range is an error and
    /// yields `T::default()`.
    fn in_range<T: TryFrom<i64> + Default>(
        &mut self,
        key: &str,
        value: &Spanned<i64>,
        lo: i64,
        hi: i64,
    ) -> T {
        let v = *value.get_ref();
        if v < lo || v > hi {
            let range = if hi == i64::MAX {
                format!("at least {lo}")
            } else {
                format!("{lo}..={hi}")
            };
            self.error(
                value.span(),
                format!("{key} {v} out of range: must be {range}"),
            );
            return T::default();
        }
        T::try_from(v).unwrap_or_default()
    }

    /// An optional integer key within `lo..=hi`, or `default`.
    fn opt_range<T: TryFrom<i64> + Default>(
        &mut self,
        key: &str,
        value: Option<&Spanned<i64>>,
        lo: i64,
        hi: i64,
        default: T,
    ) -> T {
        value.map_or(default, |v| self.in_range(key, v, lo, hi))
    }

    /// A unicast IP address.
    fn ip(&mut self, key: &str, value: &Spanned<String>) -> Option<IpAddr> {
        match value.get_ref().parse::<IpAddr>() {
            Ok(a) if !a.is_unspecified() && !a.is_multicast() => Some(a),
            Ok(a) => {
                self.error(value.span(), format!("{key}: {a} is not a unicast address"));
                None
            }
            Err(_) => {
                self.error(
                    value.span(),
                    format!("{key}: `{}` is not an IP address", value.get_ref()),
                );
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_file_has_nothing_to_run() {
        for text in [
            "",
            "# only a comment\n",
            "metrics_listen = \"127.0.0.1:9650\"\n",
        ] {
            let errs = check(text).unwrap_err();
            assert_eq!(errs.len(), 1, "{errs:?}");
            assert!(errs[0].message.contains("nothing to run"), "{errs:?}");
        }
    }

    #[test]
    fn line_numbers() {
        let text = "a\nbc\n\nd";
        let v = Validator {
            line_starts: line_starts(text),
            errors: vec![],
        };
        for (offset, line) in [(0, 1), (1, 1), (2, 2), (4, 2), (5, 3), (6, 4), (7, 4)] {
            assert_eq!(v.line(offset..offset), line, "offset {offset}");
            assert_eq!(line_of(text, offset), line, "offset {offset}");
        }
    }

    #[test]
    fn checking_is_linear_in_the_file() {
        // (line numbers once counted newlines from the start of the file
        // for every error position: quadratic, seconds at 10,000 reals)
        let file = |services: usize| {
            let mut text = String::new();
            for v in 0..services {
                text += &format!(
                    "[[virtual_server]]\nprotocol = \"tcp\"\naddress = \"10.0.{v}.1:80\"\n"
                );
                for i in 0..100 {
                    text += &format!("[[virtual_server.real]]\naddress = \"127.1.{v}.{}\"\ncheck = {{ type = \"tcp\" }}\n", i + 1);
                }
            }
            text
        };
        // The best of three runs each, so that a busy machine does not
        // decide: 10 times the file must cost well under 100 times as much.
        let best = |text: &str, reals: usize| {
            (0..3)
                .map(|_| {
                    let t = std::time::Instant::now();
                    let c = check(text).unwrap();
                    assert_eq!(
                        c.virtual_servers
                            .iter()
                            .map(|v| v.reals.len())
                            .sum::<usize>(),
                        reals
                    );
                    t.elapsed()
                })
                .min()
                .unwrap()
        };
        let (small, large) = (file(10), file(100));
        let ratio = best(&large, 10_000).as_secs_f64() / best(&small, 1_000).as_secs_f64();
        assert!(
            ratio < 30.0,
            "10 times the file took {ratio:.1} times as long"
        );
    }

    #[test]
    fn metrics_listen() {
        let vs = "[[virtual_server]]\nprotocol = \"tcp\"\naddress = \"198.51.100.10:80\"\n";
        let c = check(&format!("metrics_listen = \"127.0.0.1:9650\"\n{vs}")).unwrap();
        assert_eq!(c.metrics_listen, Some("127.0.0.1:9650".parse().unwrap()));
        assert_eq!(check(vs).unwrap().metrics_listen, None);
        let errs = check(&format!("metrics_listen = \"localhost\"\n{vs}")).unwrap_err();
        assert_eq!(errs[0].line, 1);
        assert!(errs[0].message.contains("is not ADDRESS:PORT"));
    }

    #[test]
    fn realtime_is_on_at_priority_10_by_default() {
        let vs = "[[virtual_server]]\nprotocol = \"tcp\"\naddress = \"198.51.100.10:80\"\n";
        assert_eq!(check(vs).unwrap().realtime, Some(10));
        let with = |keys: &str| check(&format!("{keys}\n{vs}"));
        assert_eq!(with("realtime = true").unwrap().realtime, Some(10));
        assert_eq!(with("realtime = false").unwrap().realtime, None);
        assert_eq!(with("realtime_priority = 42").unwrap().realtime, Some(42));
        assert_eq!(
            with("realtime = false\nrealtime_priority = 42")
                .unwrap()
                .realtime,
            None
        );
        for bad in ["0", "100", "-1"] {
            let errs = with(&format!("realtime = true\nrealtime_priority = {bad}")).unwrap_err();
            assert_eq!(errs[0].line, 2, "{errs:?}");
            assert!(errs[0].message.contains("realtime_priority"), "{errs:?}");
            assert!(errs[0].message.contains("1..=99"), "{errs:?}");
        }
        let errs = with("realtime = \"yes\"").unwrap_err();
        assert_eq!(errs[0].line, 1, "{errs:?}");
    }

    /// The README shows examples/vrrpd.toml, what `make demo` runs: they
    /// must not drift apart, and the example must be valid.
    #[test]
    fn the_readme_example() {
        let example = include_str!("../../../examples/vrrpd.toml");
        let readme = include_str!("../../../README.md");
        assert!(
            readme.contains(&format!("```toml\n{example}```")),
            "README.md does not show examples/vrrpd.toml verbatim"
        );
        let c = check(example).unwrap();
        assert_eq!((c.instances.len(), c.virtual_servers.len()), (1, 1));
        assert_eq!(c.virtual_servers[0].reals.len(), 2);
        assert!(c.virtual_servers[0].reals.iter().all(|r| r.check.is_some()));
    }

    #[test]
    fn display_and_load() {
        let e = ConfigError {
            file: None,
            line: 7,
            message: "bad".into(),
        };
        assert_eq!(e.to_string(), "line 7: bad");
        assert_eq!(
            e.in_file(Path::new("/etc/vrrpd.toml")).to_string(),
            "/etc/vrrpd.toml:7: bad"
        );
        let dir = std::env::temp_dir().join(format!("vrrpd-config-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("bad.toml");
        std::fs::write(&path, "[[instance]]\nname = \"a\"\ninterface = \"eth0\"\nvrid = 0\nvirtual_ips = [\"10.0.0.1\"]\n").unwrap();
        let errs = load(&path).unwrap_err();
        assert_eq!(
            errs[0].to_string(),
            format!("{}:4: vrid 0 out of range: must be 1..=255", path.display())
        );
        std::fs::remove_dir_all(&dir).unwrap();
        let missing = load(&dir.join("missing.toml")).unwrap_err();
        assert!(missing[0]
            .to_string()
            .contains("missing.toml:0: cannot read"));
    }
}
