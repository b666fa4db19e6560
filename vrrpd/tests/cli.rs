//! The vrrpd binary as a user runs it: `check-config` refuses what the
//! daemon would refuse, with the line, and a daemon that could start
//! nothing exits non-zero saying why (no privilege needed for either).

use std::path::PathBuf;
use std::process::{Command, Output};

fn vrrpd(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vrrpd"))
        .args(args)
        .env_remove("JOURNAL_STREAM")
        .output()
        .expect("running vrrpd")
}

/// A scratch directory for this test, removed on drop.
struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Self {
        let d = std::env::temp_dir().join(format!("vrrpd-cli-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        Dir(d)
    }

    fn file(&self, name: &str, text: &str) -> String {
        let p = self.0.join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const INSTANCE: &str = "[[instance]]\nname = \"vi9\"\ninterface = \"vrrpd-no-if\"\nvrid = 9\nvirtual_ips = [\"198.51.100.99\"]\n";

#[test]
fn check_config_takes_use_vmac_and_refuses_a_bad_one_with_its_line() {
    let d = Dir::new("vmac");
    let f = d.file("vmac.toml", &format!("{INSTANCE}use_vmac = true\n"));
    let out = vrrpd(&["check-config", &f]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let f = d.file(
        "bad.toml",
        &format!("{INSTANCE}use_vmac = \"vrrpd-no-if\"\n"),
    );
    let out = vrrpd(&["check-config", &f]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "{f}:6: use_vmac: the macvlan cannot be named vrrpd-no-if"
        )),
        "{err}"
    );
    // The daemon refuses it the same way, before anything starts.
    let sock = d.0.join("s").display().to_string();
    let out = vrrpd(&["--config", &f, "--socket", &sock]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("{f}:6: use_vmac")), "{err}");
}

#[test]
fn a_daemon_that_starts_nothing_exits_1_saying_why() {
    let d = Dir::new("nothing");
    let f = d.file("none.toml", INSTANCE);
    let sock = d.0.join("s").display().to_string();
    let out = vrrpd(&["--config", &f, "--socket", &sock]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    let last = err.lines().last().unwrap_or_default();
    assert_eq!(
        last,
        "vrrpd: error: nothing to run: no instance could start (vi9: no interface vrrpd-no-if), and there are no virtual servers"
    );
    assert!(
        err.contains("vrrpd: error: vi9: not started: no interface vrrpd-no-if"),
        "{err}"
    );
}

#[test]
fn an_unknown_log_level_is_refused() {
    let out = vrrpd(&["--log-level", "loud", "status"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("must be error, warn, info or debug"));
}
