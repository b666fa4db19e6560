//! What instances track, and how they are grouped, as keepalived's
//! `vrrp_script`, `vrrp_track_file`, `track_interface` and
//! `vrrp_sync_group` do.
//!
//! ```toml
//! [[instance]]
//! # ...
//! track_interfaces = ["eth1", { name = "eth2", weight = -10 }]   # a string: no weight (down => FAULT)
//! track_scripts = ["chk_nginx", { name = "chk_db", weight = 20 }] # a table overrides the script's weight
//! track_files = ["prio", { name = "prio2", weight = 2 }]
//!
//! [[track_script]]
//! name = "chk_nginx"
//! command = "pidof nginx"   # /bin/sh -c COMMAND
//! interval_ms = 2000        # default 1000
//! timeout_ms = 2000         # default: the interval
//! rise = 1                  # default 1
//! fall = 1                  # default 1
//! weight = -20              # -254..=254, default 0
//!
//! [[track_file]]
//! name = "prio"
//! path = "/run/vrrpd/prio"
//! weight = 1                # -254..=254, default 1
//!
//! [[sync_group]]
//! name = "g1"
//! instances = ["vi1", "vi2"]
//! ```
//!
//! Weights as in keepalived: 0 means a failure puts the instance in
//! FAULT; a negative weight is added to the priority while the script
//! fails (the interface is down), a positive one while it succeeds (the
//! interface is up). A file's integer value is multiplied by its weight;
//! with weight 0 any value but 0 is a FAULT, and so is an offset below
//! -253.

use super::Validator;
use serde::Deserialize;
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;
use toml::Spanned;

/// keepalived's bounds on a tracking weight.
pub const MAX_WEIGHT: i64 = 254;

/// A tracked interface: down => FAULT (weight 0), or a priority offset.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TrackInterface {
    /// The interface's name.
    pub name: String,
    /// -254..=254; 0: down means FAULT.
    pub weight: i32,
}

/// A tracked script, resolved for an instance (its weight may be the
/// instance's override).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TrackScript {
    /// The `[[track_script]]`'s name.
    pub name: String,
    /// Run with `/bin/sh -c`.
    pub command: String,
    /// Between runs.
    pub interval: Duration,
    /// A run that takes longer fails (and is killed).
    pub timeout: Duration,
    /// Successes in a row that make a failed script good.
    pub rise: u32,
    /// Failures in a row that make a good script failed.
    pub fall: u32,
    /// -254..=254; 0: failure means FAULT.
    pub weight: i32,
}

/// A tracked file, resolved for an instance.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TrackFile {
    /// The `[[track_file]]`'s name.
    pub name: String,
    /// The file holding an integer.
    pub path: PathBuf,
    /// -254..=254; 0: a non-zero value means FAULT.
    pub weight: i32,
}

/// A `[[sync_group]]`: instances that are MASTER, BACKUP or FAULT
/// together.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncGroup {
    /// Its name.
    pub name: String,
    /// Its instances' names.
    pub instances: Vec<String>,
    /// Line of its table.
    pub line: usize,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTrackScript {
    name: Spanned<String>,
    command: Spanned<String>,
    interval_ms: Option<Spanned<i64>>,
    timeout_ms: Option<Spanned<i64>>,
    rise: Option<Spanned<i64>>,
    fall: Option<Spanned<i64>>,
    weight: Option<Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTrackFile {
    name: Spanned<String>,
    path: Spanned<String>,
    weight: Option<Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSyncGroup {
    name: Spanned<String>,
    instances: Spanned<Vec<Spanned<String>>>,
}

/// The `[[track_script]]` and `[[track_file]]` tables by name, as
/// instances name them.
#[derive(Default)]
pub(super) struct Trackers {
    scripts: HashMap<String, TrackScript>,
    files: HashMap<String, TrackFile>,
}

/// One entry of a `track_*` list: a name, and the weight a table gives.
struct TrackRef {
    name: String,
    weight: Option<i32>,
}

impl Validator {
    fn weight(&mut self, value: &Spanned<i64>) -> i32 {
        self.in_range("weight", value, -MAX_WEIGHT, MAX_WEIGHT)
    }

    /// The track scripts and files, checked; duplicate names are errors.
    pub(super) fn trackers(
        &mut self,
        scripts: &[Spanned<RawTrackScript>],
        files: &[Spanned<RawTrackFile>],
    ) -> Trackers {
        let mut t = Trackers::default();
        let mut lines: HashMap<(bool, String), usize> = HashMap::new();
        for s in scripts {
            let line = self.line(s.span());
            let r = s.get_ref();
            let name = self.nonempty("name", &r.name);
            if let Some(first) = lines.insert((true, name.clone()), line) {
                self.error(
                    r.name.span(),
                    format!("duplicate track_script name `{name}` (first at line {first})"),
                );
            }
            let command = self.nonempty("command", &r.command);
            let interval_ms: u64 =
                self.opt_range("interval_ms", r.interval_ms.as_ref(), 10, 3_600_000, 1000);
            let timeout_ms: u64 = self.opt_range(
                "timeout_ms",
                r.timeout_ms.as_ref(),
                10,
                3_600_000,
                interval_ms,
            );
            let rise = self.opt_range("rise", r.rise.as_ref(), 1, 1000, 1);
            let fall = self.opt_range("fall", r.fall.as_ref(), 1, 1000, 1);
            let weight = r.weight.as_ref().map_or(0, |w| self.weight(w));
            t.scripts.insert(
                name.clone(),
                TrackScript {
                    name,
                    command,
                    interval: Duration::from_millis(interval_ms),
                    timeout: Duration::from_millis(timeout_ms),
                    rise,
                    fall,
                    weight,
                },
            );
        }
        for f in files {
            let line = self.line(f.span());
            let r = f.get_ref();
            let name = self.nonempty("name", &r.name);
            if let Some(first) = lines.insert((false, name.clone()), line) {
                self.error(
                    r.name.span(),
                    format!("duplicate track_file name `{name}` (first at line {first})"),
                );
            }
            let path = PathBuf::from(self.nonempty("path", &r.path));
            if !path.as_os_str().is_empty() && !path.is_absolute() {
                self.error(
                    r.path.span(),
                    format!("path `{}` must be absolute", path.display()),
                );
            }
            let weight = r.weight.as_ref().map_or(1, |w| self.weight(w));
            t.files
                .insert(name.clone(), TrackFile { name, path, weight });
        }
        t
    }

    /// One entry of a `track_*` list: `"name"` or `{ name = "..", weight = N }`.
    fn track_ref(&mut self, key: &str, value: &Spanned<toml::Value>) -> Option<TrackRef> {
        let bad = |v: &mut Self| {
            v.error(
                value.span(),
                format!("{key}: each entry is a name, or {{ name = \"...\", weight = N }}"),
            );
            None
        };
        match value.get_ref() {
            toml::Value::String(s) => Some(TrackRef {
                name: s.clone(),
                weight: None,
            }),
            toml::Value::Table(t) => {
                if let Some(k) = t.keys().find(|k| *k != "name" && *k != "weight") {
                    self.error(value.span(), format!("{key}: unknown field `{k}`"));
                    return None;
                }
                let Some(toml::Value::String(name)) = t.get("name") else {
                    return bad(self);
                };
                let weight = match t.get("weight") {
                    None => None,
                    Some(toml::Value::Integer(w)) => {
                        Some(self.weight(&Spanned::new(value.span(), *w)))
                    }
                    Some(_) => return bad(self),
                };
                Some(TrackRef {
                    name: name.clone(),
                    weight,
                })
            }
            _ => bad(self),
        }
    }

    pub(super) fn track_interfaces(
        &mut self,
        list: Option<&Vec<Spanned<toml::Value>>>,
    ) -> Vec<TrackInterface> {
        let mut out: Vec<TrackInterface> = vec![];
        for item in list.into_iter().flatten() {
            let Some(r) = self.track_ref("track_interfaces", item) else {
                continue;
            };
            let name = self.ifname(&Spanned::new(item.span(), r.name));
            if out.iter().any(|t| t.name == name) {
                self.error(
                    item.span(),
                    format!("track_interfaces: `{name}` listed twice"),
                );
            }
            out.push(TrackInterface {
                name,
                weight: r.weight.unwrap_or(0),
            });
        }
        out
    }

    pub(super) fn track_scripts(
        &mut self,
        list: Option<&Vec<Spanned<toml::Value>>>,
        known: &Trackers,
    ) -> Vec<TrackScript> {
        let mut out: Vec<TrackScript> = vec![];
        for item in list.into_iter().flatten() {
            let Some(r) = self.track_ref("track_scripts", item) else {
                continue;
            };
            let Some(s) = known.scripts.get(&r.name) else {
                self.error(
                    item.span(),
                    format!("track_scripts: no [[track_script]] named `{}`", r.name),
                );
                continue;
            };
            if out.iter().any(|t| t.name == r.name) {
                self.error(
                    item.span(),
                    format!("track_scripts: `{}` listed twice", r.name),
                );
            }
            out.push(TrackScript {
                weight: r.weight.unwrap_or(s.weight),
                ..s.clone()
            });
        }
        out
    }

    pub(super) fn track_files(
        &mut self,
        list: Option<&Vec<Spanned<toml::Value>>>,
        known: &Trackers,
    ) -> Vec<TrackFile> {
        let mut out: Vec<TrackFile> = vec![];
        for item in list.into_iter().flatten() {
            let Some(r) = self.track_ref("track_files", item) else {
                continue;
            };
            let Some(f) = known.files.get(&r.name) else {
                self.error(
                    item.span(),
                    format!("track_files: no [[track_file]] named `{}`", r.name),
                );
                continue;
            };
            if out.iter().any(|t| t.name == r.name) {
                self.error(
                    item.span(),
                    format!("track_files: `{}` listed twice", r.name),
                );
            }
            out.push(TrackFile {
                weight: r.weight.unwrap_or(f.weight),
                ..f.clone()
            });
        }
        out
    }

    /// The sync groups: each names two or more instances (`owners`: the
    /// instances' priorities by name), none twice, no instance in two
    /// groups, no two groups of one name.
    pub(super) fn sync_groups(
        &mut self,
        raw: &[Spanned<RawSyncGroup>],
        priorities: &HashMap<String, u8>,
    ) -> Vec<SyncGroup> {
        let mut groups = vec![];
        let mut names: HashMap<String, usize> = HashMap::new();
        let mut member_of: HashMap<String, String> = HashMap::new();
        for g in raw {
            let line = self.line(g.span());
            let r = g.get_ref();
            let name = self.nonempty("name", &r.name);
            if let Some(first) = names.insert(name.clone(), line) {
                self.error(
                    r.name.span(),
                    format!("duplicate sync_group name `{name}` (first at line {first})"),
                );
            }
            if r.instances.get_ref().is_empty() {
                self.error(
                    r.instances.span(),
                    format!("sync_group `{name}`: instances must not be empty"),
                );
            }
            let mut instances: Vec<String> = vec![];
            for i in r.instances.get_ref() {
                let inst = i.get_ref();
                match priorities.get(inst) {
                    None => self.error(
                        i.span(),
                        format!("sync_group `{name}`: no instance named `{inst}`"),
                    ),
                    Some(&255) => self.error(
                        i.span(),
                        format!(
                            "sync_group `{name}`: `{inst}` has priority 255 (the address owner), which becomes MASTER whatever its group does: give it 254 or less"
                        ),
                    ),
                    Some(_) => {}
                }
                if instances.contains(inst) {
                    self.error(
                        i.span(),
                        format!("sync_group `{name}`: `{inst}` listed twice"),
                    );
                    continue;
                }
                if let Some(other) = member_of.get(inst).filter(|o| **o != name) {
                    self.error(
                        i.span(),
                        format!("sync_group `{name}`: `{inst}` is already in sync_group `{other}`: an instance can be in one group only"),
                    );
                }
                member_of.insert(inst.clone(), name.clone());
                instances.push(inst.clone());
            }
            groups.push(SyncGroup {
                name,
                instances,
                line,
            });
        }
        groups
    }
}

#[cfg(test)]
mod tests {
    use crate::config::check;

    const TWO: &str = "[[instance]]\nname = \"a\"\ninterface = \"eth0\"\nvrid = 1\nvirtual_ips = [\"10.0.0.1\"]\n\
[[instance]]\nname = \"b\"\ninterface = \"eth0\"\nvrid = 2\nvirtual_ips = [\"10.0.0.2\"]\n";

    /// `TWO` (lines 1-10) then `extra` from line 11.
    fn errs(extra: &str) -> Vec<(usize, String)> {
        check(&format!("{TWO}{extra}"))
            .expect_err("expected errors")
            .into_iter()
            .map(|e| (e.line, e.message))
            .collect()
    }

    fn one(extra: &str, line: usize, needle: &str) {
        let e = errs(extra);
        assert_eq!(e.len(), 1, "{e:?}");
        assert_eq!(e[0].0, line, "{e:?}");
        assert!(e[0].1.contains(needle), "{:?} lacks {needle:?}", e[0].1);
    }

    #[test]
    fn sync_groups() {
        let c = check(&format!(
            "{TWO}[[sync_group]]\nname = \"g\"\ninstances = [\"a\", \"b\"]\n"
        ))
        .unwrap();
        assert_eq!(c.sync_groups[0].name, "g");
        assert_eq!(c.sync_groups[0].instances, ["a", "b"]);
        assert_eq!(c.sync_groups[0].line, 11);
        assert_eq!(c.sync_group_of("b").map(|g| g.name.as_str()), Some("g"));
        assert!(c.sync_group_of("c").is_none());
    }

    #[test]
    fn sync_group_errors() {
        one(
            "[[sync_group]]\nname = \"g\"\ninstances = [\"a\", \"nope\"]\n",
            13,
            "sync_group `g`: no instance named `nope`",
        );
        one(
            "[[sync_group]]\nname = \"g\"\ninstances = []\n",
            13,
            "instances must not be empty",
        );
        one(
            "[[sync_group]]\nname = \"g\"\ninstances = [\"a\"]\n[[sync_group]]\nname = \"h\"\ninstances = [\"b\",\n \"a\"]\n",
            17,
            "`a` is already in sync_group `g`",
        );
        one(
            "[[sync_group]]\nname = \"g\"\ninstances = [\"a\"]\n[[sync_group]]\nname = \"g\"\ninstances = [\"b\"]\n",
            15,
            "duplicate sync_group name `g` (first at line 11)",
        );
        one(
            "[[sync_group]]\nname = \"g\"\ninstances = [\"a\", \"a\"]\n",
            13,
            "`a` listed twice",
        );
        one(
            "[[sync_group]]\nname = \"g\"\ninstances = [\"a\"]\nmembers = []\n",
            14,
            "unknown field `members`",
        );
        let owner = TWO.replacen("vrid = 1\n", "vrid = 1\npriority = 255\n", 1);
        let e = check(&format!(
            "{owner}[[sync_group]]\nname = \"g\"\ninstances = [\"a\", \"b\"]\n"
        ))
        .unwrap_err();
        assert_eq!(e.len(), 1);
        assert!(e[0].message.contains("priority 255"), "{e:?}");
    }

    #[test]
    fn track_forms() {
        let text = TWO.replacen(
            "vrid = 1\n",
            "vrid = 1\ntrack_interfaces = [\"eth1\", { name = \"eth2\", weight = -10 }]\n\
track_scripts = [\"chk\", { name = \"chk2\", weight = 20 }]\n\
track_files = [\"prio\", { name = \"prio\" }]\n",
            1,
        );
        // (a file listed twice is an error; see below: use distinct names)
        let text = text.replacen("{ name = \"prio\" }", "{ name = \"p2\", weight = 3 }", 1);
        let c = check(&format!(
            "{text}[[track_script]]\nname = \"chk\"\ncommand = \"true\"\nweight = -60\n\
[[track_script]]\nname = \"chk2\"\ncommand = \"false\"\ninterval_ms = 2000\nrise = 2\nfall = 3\n\
[[track_file]]\nname = \"prio\"\npath = \"/run/prio\"\n\
[[track_file]]\nname = \"p2\"\npath = \"/run/p2\"\nweight = 0\n"
        ))
        .unwrap();
        let a = &c.instances[0];
        let ifs: Vec<(&str, i32)> = a
            .track_interfaces
            .iter()
            .map(|t| (t.name.as_str(), t.weight))
            .collect();
        assert_eq!(ifs, [("eth1", 0), ("eth2", -10)]);
        let s = &a.track_scripts;
        assert_eq!((s[0].name.as_str(), s[0].weight), ("chk", -60));
        assert_eq!(
            (
                s[0].interval.as_millis(),
                s[0].timeout.as_millis(),
                s[0].rise,
                s[0].fall
            ),
            (1000, 1000, 1, 1)
        );
        assert_eq!(
            (s[1].name.as_str(), s[1].weight),
            ("chk2", 20),
            "the instance's weight wins"
        );
        assert_eq!(
            (
                s[1].interval.as_millis(),
                s[1].timeout.as_millis(),
                s[1].rise,
                s[1].fall
            ),
            (2000, 2000, 2, 3)
        );
        let f = &a.track_files;
        assert_eq!((f[0].name.as_str(), f[0].weight), ("prio", 1));
        assert_eq!(f[0].path, std::path::PathBuf::from("/run/prio"));
        assert_eq!((f[1].name.as_str(), f[1].weight), ("p2", 3));
        assert!(c.instances[1].track_scripts.is_empty());
    }

    #[test]
    fn track_errors() {
        let inst = |line: &str| TWO.replacen("vrid = 1\n", &format!("vrid = 1\n{line}\n"), 1);
        let e = |text: String, line: usize, needle: &str| {
            let errs = check(&text).unwrap_err();
            assert_eq!(errs.len(), 1, "{errs:?}");
            assert_eq!(errs[0].line, line, "{errs:?}");
            assert!(
                errs[0].message.contains(needle),
                "{:?} lacks {needle:?}",
                errs[0].message
            );
        };
        e(
            inst("track_scripts = [\"nope\"]"),
            5,
            "no [[track_script]] named `nope`",
        );
        e(
            inst("track_files = [\"nope\"]"),
            5,
            "no [[track_file]] named `nope`",
        );
        e(
            inst("track_interfaces = [{ name = \"eth1\", weight = -300 }]"),
            5,
            "weight -300 out of range: must be -254..=254",
        );
        e(
            inst("track_interfaces = [{ nam = \"eth1\" }]"),
            5,
            "unknown field `nam`",
        );
        e(inst("track_interfaces = [3]"), 5, "each entry is a name");
        e(
            inst("track_interfaces = [{ weight = 3 }]"),
            5,
            "each entry is a name",
        );
        e(
            inst("track_interfaces = [\"eth1\", \"eth1\"]"),
            5,
            "listed twice",
        );
        e(
            inst("track_interfaces = [\"averyveryverylongname\"]"),
            5,
            "not a valid interface name",
        );
        one(
            "[[track_script]]\nname = \"s\"\ncommand = \"true\"\nweight = 255\n",
            14,
            "weight 255 out of range",
        );
        one(
            "[[track_script]]\nname = \"s\"\ncommand = \"true\"\nfall = 0\n",
            14,
            "fall 0 out of range",
        );
        one(
            "[[track_script]]\nname = \"s\"\ncommand = \"\"\n",
            13,
            "command must not be empty",
        );
        one(
            "[[track_script]]\nname = \"s\"\ncommand = \"true\"\n[[track_script]]\nname = \"s\"\ncommand = \"x\"\n",
            15,
            "duplicate track_script name `s` (first at line 11)",
        );
        one(
            "[[track_file]]\nname = \"f\"\npath = \"relative\"\n",
            13,
            "must be absolute",
        );
        one(
            "[[track_file]]\nname = \"f\"\npath = \"/x\"\nintervall = 3\n",
            14,
            "unknown field `intervall`",
        );
    }
}
