//! Tracking, without I/O: what an instance's tracked interfaces, scripts
//! and files say about its priority, or that it must be in Fault, with
//! keepalived's semantics.
//!
//! - Weight 0 (an interface given as a plain name, a script or file
//!   without a weight): a failure means Fault.
//! - A negative weight is added to the priority while the interface is
//!   down or the script fails; a positive one while the interface is up or
//!   the script succeeds.
//! - A file's integer value is multiplied by its weight (with weight 0 a
//!   value other than 0 means Fault; an offset below -253 too).
//! - The effective priority is clamped to 1..=254; an address owner (255)
//!   is never changed.
//!
//! A script's state is unknown until its first result, which decides it
//! (keepalived's "one success is enough"); from then on `rise` successes
//! or `fall` failures in a row change it. Unknown counts neither way.

use crate::config::{InstanceConfig, TrackFile, TrackInterface, TrackScript};
use crate::fsm::OWNER_PRIORITY;

/// A file offset below this is a Fault (keepalived: "less than -253").
const FILE_FAULT_BELOW: i64 = -253;

/// A script's state by its results.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ScriptState {
    /// Good, failed, or not known yet.
    pub good: Option<bool>,
    /// Results in a row that disagree with `good`.
    streak: u32,
}

impl ScriptState {
    /// Records one result; whether the state changed.
    pub fn record(&mut self, ok: bool, rise: u32, fall: u32) -> bool {
        match self.good {
            None => {
                self.good = Some(ok);
                self.streak = 0;
                true
            }
            Some(g) if g == ok => {
                self.streak = 0;
                false
            }
            Some(g) => {
                self.streak += 1;
                let needed = if g { fall } else { rise };
                if self.streak >= needed {
                    self.good = Some(ok);
                    self.streak = 0;
                    true
                } else {
                    false
                }
            }
        }
    }
}

/// What tracking says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// The effective priority.
    pub priority: u8,
    /// Why the instance must be in Fault, if it must.
    pub fault: Option<String>,
}

/// One instance's tracked things and their states.
#[derive(Clone, Debug)]
pub struct Tracker {
    base: u8,
    interfaces: Vec<(TrackInterface, bool)>,
    scripts: Vec<(TrackScript, ScriptState)>,
    files: Vec<(TrackFile, i64)>,
}

impl Tracker {
    /// What `cfg` tracks: interfaces taken as up, scripts unknown, files 0.
    pub fn new(cfg: &InstanceConfig) -> Self {
        Tracker {
            base: cfg.priority,
            interfaces: cfg
                .track_interfaces
                .iter()
                .map(|t| (t.clone(), true))
                .collect(),
            scripts: cfg
                .track_scripts
                .iter()
                .map(|t| (t.clone(), ScriptState::default()))
                .collect(),
            files: cfg.track_files.iter().map(|t| (t.clone(), 0)).collect(),
        }
    }

    /// Whether it tracks anything.
    pub fn is_empty(&self) -> bool {
        self.interfaces.is_empty() && self.scripts.is_empty() && self.files.is_empty()
    }

    /// The configured priority (a reload may change it).
    pub fn set_base(&mut self, base: u8) {
        self.base = base;
    }

    /// The tracked interfaces.
    pub fn interfaces(&self) -> impl Iterator<Item = &TrackInterface> {
        self.interfaces.iter().map(|(t, _)| t)
    }

    /// Interface `name` is up or down now.
    pub fn set_interface(&mut self, name: &str, up: bool) {
        for (t, u) in &mut self.interfaces {
            if t.name == name {
                *u = up;
            }
        }
    }

    /// The tracked scripts.
    pub fn scripts(&self) -> impl Iterator<Item = &TrackScript> {
        self.scripts.iter().map(|(t, _)| t)
    }

    /// A result of script `s` (matched by its whole definition); whether
    /// its state changed.
    pub fn script_result(&mut self, s: &TrackScript, ok: bool) -> bool {
        let mut changed = false;
        for (t, st) in &mut self.scripts {
            if t.command == s.command
                && t.interval == s.interval
                && t.timeout == s.timeout
                && t.rise == s.rise
                && t.fall == s.fall
            {
                changed |= st.record(ok, t.rise, t.fall);
            }
        }
        changed
    }

    /// The tracked files.
    pub fn files(&self) -> impl Iterator<Item = &TrackFile> {
        self.files.iter().map(|(t, _)| t)
    }

    /// File `path` holds `value` now.
    pub fn set_file(&mut self, path: &std::path::Path, value: i64) {
        for (t, v) in &mut self.files {
            if t.path == path {
                *v = value;
            }
        }
    }

    /// What the states say now.
    pub fn verdict(&self) -> Verdict {
        let mut faults: Vec<String> = vec![];
        let mut offset: i64 = 0;
        for (t, up) in &self.interfaces {
            match (t.weight, up) {
                // (a plain name: the instance's own link check has it)
                (0, _) => {}
                (w, false) if w < 0 => offset += i64::from(w),
                (w, true) if w > 0 => offset += i64::from(w),
                _ => {}
            }
        }
        for (t, st) in &self.scripts {
            match (t.weight, st.good) {
                (0, Some(false)) => faults.push(format!("track_script {} failed", t.name)),
                (w, Some(false)) if w < 0 => offset += i64::from(w),
                (w, Some(true)) if w > 0 => offset += i64::from(w),
                _ => {}
            }
        }
        for (t, v) in &self.files {
            if t.weight == 0 {
                if *v != 0 {
                    faults.push(format!("track_file {} holds {v}", t.name));
                }
                continue;
            }
            let o = v.saturating_mul(i64::from(t.weight));
            if o < FILE_FAULT_BELOW {
                faults.push(format!(
                    "track_file {} holds {v}: offset {o} is below {FILE_FAULT_BELOW}",
                    t.name
                ));
            } else {
                offset = offset.saturating_add(o);
            }
        }
        let priority = if self.base == OWNER_PRIORITY {
            OWNER_PRIORITY
        } else {
            (i64::from(self.base) + offset).clamp(1, 254) as u8
        };
        Verdict {
            priority,
            fault: (!faults.is_empty()).then(|| faults.join("; ")),
        }
    }
}

/// The probe that runs script `s` through the check engine: `/bin/sh -c
/// COMMAND` as an exec check, every interval (whatever its state), of no
/// address.
pub fn probe_key(s: &TrackScript) -> crate::checks::ProbeKey {
    crate::checks::ProbeKey {
        addr: std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
        spec: crate::config::CheckSpec {
            kind: crate::config::CheckKind::Exec(vec![
                "/bin/sh".into(),
                "-c".into(),
                s.command.clone(),
            ]),
            port: 0,
            interval: s.interval,
            fast_interval: s.interval,
            down_interval: s.interval,
            timeout: s.timeout,
            rise: s.rise,
            fall: s.fall,
            initial_up: true,
        },
    }
}

/// A tracked file's value: an integer, after blanks; a missing or
/// unreadable file, or one that holds no integer, counts as 0 (with the
/// reason).
pub fn parse_file(read: std::io::Result<String>) -> (i64, Option<String>) {
    match read {
        Ok(text) => match text.split_whitespace().next() {
            None => (0, None),
            Some(w) => match w.parse::<i64>() {
                Ok(v) => (v, None),
                Err(_) => (0, Some(format!("`{w}` is not an integer: counted as 0"))),
            },
        },
        Err(e) => (0, Some(format!("{e}: counted as 0"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::check;

    fn tracker(extra_instance: &str, extra: &str) -> Tracker {
        let text = format!(
            "[[instance]]\nname = \"a\"\ninterface = \"eth0\"\nvrid = 1\nvirtual_ips = [\"10.0.0.1\"]\n{extra_instance}\n{extra}"
        );
        Tracker::new(&check(&text).unwrap().instances[0])
    }

    const SCRIPTS: &str = "[[track_script]]\nname = \"neg\"\ncommand = \"a\"\nweight = -60\n\
[[track_script]]\nname = \"pos\"\ncommand = \"b\"\nweight = 20\n\
[[track_script]]\nname = \"hard\"\ncommand = \"c\"\n\
[[track_file]]\nname = \"f\"\npath = \"/f\"\n\
[[track_file]]\nname = \"f0\"\npath = \"/f0\"\nweight = 0\n";

    fn script(t: &Tracker, name: &str) -> TrackScript {
        t.scripts().find(|s| s.name == name).unwrap().clone()
    }

    #[test]
    fn script_weights() {
        let mut t = tracker(
            "priority = 150\ntrack_scripts = [\"neg\", \"pos\"]",
            SCRIPTS,
        );
        let v = |t: &Tracker| t.verdict().priority;
        assert_eq!(v(&t), 150, "unknown counts neither way");
        let (neg, pos) = (script(&t, "neg"), script(&t, "pos"));
        assert!(t.script_result(&neg, false));
        assert_eq!(v(&t), 90, "a negative weight while failing");
        assert!(t.script_result(&pos, true));
        assert_eq!(v(&t), 110, "a positive weight while succeeding");
        t.script_result(&neg, true);
        assert_eq!(v(&t), 170);
        t.script_result(&pos, false);
        assert_eq!(v(&t), 150);
        assert_eq!(t.verdict().fault, None);
    }

    #[test]
    fn an_unweighted_script_or_file_means_fault() {
        let mut t = tracker(
            "track_scripts = [\"hard\"]\ntrack_files = [\"f0\"]",
            SCRIPTS,
        );
        let hard = script(&t, "hard");
        assert_eq!(t.verdict().fault, None);
        t.script_result(&hard, false);
        assert_eq!(
            t.verdict().fault.as_deref(),
            Some("track_script hard failed")
        );
        assert_eq!(t.verdict().priority, 100, "the priority stays");
        t.script_result(&hard, true);
        assert_eq!(t.verdict().fault, None);
        t.set_file(std::path::Path::new("/f0"), 3);
        assert_eq!(t.verdict().fault.as_deref(), Some("track_file f0 holds 3"));
        t.set_file(std::path::Path::new("/f0"), 0);
        assert_eq!(t.verdict().fault, None);
    }

    #[test]
    fn files_multiply_and_clamp() {
        let mut t = tracker(
            "priority = 100\ntrack_files = [\"f\", { name = \"f0\", weight = -2 }]",
            SCRIPTS,
        );
        let f = std::path::Path::new("/f");
        t.set_file(f, 30);
        assert_eq!(t.verdict().priority, 130);
        t.set_file(f, 1000);
        assert_eq!(t.verdict().priority, 254, "clamped to 254");
        t.set_file(f, -99);
        assert_eq!(t.verdict().priority, 1, "clamped to 1");
        t.set_file(f, 0);
        t.set_file(std::path::Path::new("/f0"), 10);
        assert_eq!(t.verdict().priority, 80, "value × the instance's weight");
        t.set_file(f, -254);
        assert!(t.verdict().fault.unwrap().contains("below -253"));
        t.set_file(f, -253);
        assert_eq!(t.verdict().fault, None);
    }

    #[test]
    fn interface_weights() {
        let mut t = tracker(
            "priority = 100\ntrack_interfaces = [\"eth1\", { name = \"eth2\", weight = -30 }, { name = \"eth3\", weight = 10 }]",
            "",
        );
        assert_eq!(t.verdict().priority, 110, "eth3 up adds");
        t.set_interface("eth2", false);
        assert_eq!(t.verdict().priority, 80);
        t.set_interface("eth3", false);
        assert_eq!(t.verdict().priority, 70);
        t.set_interface("eth1", false);
        assert_eq!(
            t.verdict(),
            Verdict {
                priority: 70,
                fault: None
            },
            "an unweighted interface is the link check's"
        );
    }

    #[test]
    fn the_owner_keeps_255() {
        let mut t = tracker(
            "priority = 255\ntrack_scripts = [\"neg\", \"hard\"]",
            SCRIPTS,
        );
        let neg = script(&t, "neg");
        t.script_result(&neg, false);
        assert_eq!(t.verdict().priority, 255);
        let hard = script(&t, "hard");
        t.script_result(&hard, false);
        assert!(t.verdict().fault.is_some(), "but it still goes to Fault");
    }

    #[test]
    fn rise_and_fall() {
        let mut s = ScriptState::default();
        assert!(s.record(false, 2, 3), "the first result decides");
        assert_eq!(s.good, Some(false));
        assert!(!s.record(true, 2, 3));
        assert!(s.record(true, 2, 3));
        assert_eq!(s.good, Some(true));
        assert!(!s.record(false, 2, 3));
        assert!(!s.record(false, 2, 3));
        assert!(!s.record(true, 2, 3), "a success resets the streak");
        assert!(!s.record(false, 2, 3));
        assert!(!s.record(false, 2, 3));
        assert!(s.record(false, 2, 3));
        assert_eq!(s.good, Some(false));
    }

    #[test]
    fn file_values() {
        assert_eq!(parse_file(Ok(" 42\n".into())), (42, None));
        assert_eq!(parse_file(Ok("-7".into())), (-7, None));
        assert_eq!(parse_file(Ok("".into())), (0, None));
        assert_eq!(parse_file(Ok("x".into())).0, 0);
        assert!(parse_file(Ok("x".into())).1.is_some());
        let missing = parse_file(std::fs::read_to_string("/nonexistent/vrrpd-track"));
        assert_eq!(missing.0, 0);
        assert!(missing.1.unwrap().contains("counted as 0"));
    }
}
