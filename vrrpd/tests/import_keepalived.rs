//! `vrrpd import-keepalived` as a user runs it: the fixtures convert (the
//! LVS-DR one through its `include`), the result passes `check-config`,
//! and a file with problems prints every one with FILE:LINE, nothing on
//! standard output, and exits 1.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn vrrpd(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vrrpd"))
        .args(args)
        .env_remove("JOURNAL_STREAM")
        .output()
        .expect("running vrrpd")
}

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/keepalived")
        .join(name)
        .display()
        .to_string()
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("vrrpd-import-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn fixtures_convert_and_pass_check_config() {
    let d = scratch("ok");
    for name in [
        "lvs-dr/director1.conf",
        "lvs-dr/director2.conf",
        "ipv6.conf",
        "sync-scripts.conf",
        "lvs-sync.conf",
    ] {
        let out = vrrpd(&["import-keepalived", &fixture(name)]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{name}: {err}");
        // Only notes on stderr, each at its file and line.
        for line in err.lines() {
            assert!(line.contains(": note: "), "{name}: {line}");
        }
        let toml = d.join(name.replace('/', "-") + ".toml");
        std::fs::write(&toml, &out.stdout).unwrap();
        let chk = vrrpd(&["check-config", toml.to_str().unwrap()]);
        assert_eq!(
            chk.status.code(),
            Some(0),
            "{name}: {}\n{}",
            String::from_utf8_lossy(&chk.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
    }
    // The director's services come from its include.
    let out = vrrpd(&["import-keepalived", &fixture("lvs-dr/director1.conf")]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("address = \"192.168.100.10:80\""), "{text}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "{}:16: note: state MASTER",
            fixture("lvs-dr/director1.conf")
        )),
        "{err}"
    );
    // Sync groups and scripts convert to the agreed forms.
    let out = vrrpd(&["import-keepalived", &fixture("sync-scripts.conf")]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    for key in [
        "[[sync_group]]",
        "[[track_script]]",
        "[[track_file]]",
        "use_vmac = true",
    ] {
        assert!(text.contains(key), "{key}: {text}");
    }
    // lvs_sync_daemon becomes [sync] on its interface, with the
    // instance's unicast peer.
    let out = vrrpd(&["import-keepalived", &fixture("lvs-sync.conf")]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("[sync]\ninterface = \"eth1\"\npeers = [\"192.168.100.3\"]\n"),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn every_problem_is_printed_and_nothing_converted() {
    let d = scratch("bad");
    let conf = d.join("keepalived.conf");
    std::fs::write(
        &conf,
        "vrrp_instance A {\n  interface eth0\n  virtual_router_id 1\n  virtual_ipaddress {\n    10.0.0.1\n  }\n  notify_master /bin/true\n}\ninclude conf.d/*.conf\n",
    )
    .unwrap();
    std::fs::create_dir_all(d.join("conf.d")).unwrap();
    let inc = d.join("conf.d/vs.conf");
    std::fs::write(
        &inc,
        "virtual_server fwmark 1 {\n}\nvirtual_server 10.0.0.1 80 {\n  lb_kind NAT\n  lb_algo lblc\n}\n",
    )
    .unwrap();
    let out = vrrpd(&["import-keepalived", conf.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    let c = conf.display();
    let i = inc.display();
    for want in [
        format!("{c}:7: notify_master"),
        format!("{i}:1: virtual_server fwmark"),
        format!("{i}:4: lb_kind NAT"),
        format!("{i}:5: lb_algo lblc"),
        "4 problem(s); nothing converted".to_string(),
    ] {
        assert!(err.contains(&want), "{want}: {err}");
    }
    let out = vrrpd(&[
        "import-keepalived",
        d.join("missing.conf").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.conf:0: cannot read"));
    let _ = std::fs::remove_dir_all(&d);
}
