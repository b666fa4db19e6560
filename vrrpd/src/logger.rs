//! The daemon's logger, for the `log` crate's macros: one line per record
//! on stderr. Under systemd (stderr is the journal's stream, as
//! `JOURNAL_STREAM` says) each line starts with its syslog priority, `<3>`
//! for errors to `<7>` for debug, which journald reads as the entry's
//! level; elsewhere lines read `vrrpd: LEVEL: message` (no level word for
//! info).

use log::{Level, LevelFilter, Log, Metadata, Record};
use std::io::Write;

/// Where lines go, and how they look.
struct Logger {
    journal: bool,
}

/// The syslog priority of a level (sd-daemon(3)).
fn priority(level: Level) -> u8 {
    match level {
        Level::Error => 3,
        Level::Warn => 4,
        Level::Info => 6,
        Level::Debug | Level::Trace => 7,
    }
}

/// The text a record is written as, its newline included. A message of
/// several lines is several entries for the journal, each with the
/// priority.
pub fn format(journal: bool, level: Level, msg: &str) -> String {
    let mut out = String::with_capacity(msg.len() + 24);
    for line in msg.split('\n') {
        if journal {
            out.push_str(&format!("<{}>{line}\n", priority(level)));
        } else {
            let word = match level {
                Level::Error => "error: ",
                Level::Warn => "warning: ",
                Level::Info => "",
                Level::Debug => "debug: ",
                Level::Trace => "trace: ",
            };
            out.push_str(&format!("vrrpd: {word}{line}\n"));
        }
    }
    out
}

impl Log for Logger {
    fn enabled(&self, m: &Metadata) -> bool {
        m.level() <= log::max_level()
    }

    fn log(&self, r: &Record) {
        if !self.enabled(r.metadata()) {
            return;
        }
        let text = format(self.journal, r.level(), &r.args().to_string());
        // (one write per record, so that lines from one record stay whole)
        let _ = std::io::stderr().lock().write_all(text.as_bytes());
    }

    fn flush(&self) {}
}

/// Whether `journal_stream` (`JOURNAL_STREAM`: "DEVICE:INODE") names the
/// file stderr is, `stderr` being its (device, inode).
pub fn is_journal(journal_stream: Option<&str>, stderr: Option<(u64, u64)>) -> bool {
    let (Some(js), Some((dev, ino))) = (journal_stream, stderr) else {
        return false;
    };
    js.split_once(':')
        .is_some_and(|(d, i)| d.parse() == Ok(dev) && i.parse() == Ok(ino))
}

fn stderr_id() -> Option<(u64, u64)> {
    // SAFETY: fstat on descriptor 2 into a zeroed stat.
    unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        (libc::fstat(2, &mut st) == 0).then_some((st.st_dev, st.st_ino))
    }
}

/// Installs the logger at `level` (once; later calls change the level).
pub fn init(level: LevelFilter) {
    let journal = is_journal(std::env::var("JOURNAL_STREAM").ok().as_deref(), stderr_id());
    let _ = log::set_logger(Box::leak(Box::new(Logger { journal })));
    log::set_max_level(level);
}

/// A `--log-level` value.
pub fn parse_level(s: &str) -> Result<LevelFilter, String> {
    match s {
        "error" => Ok(LevelFilter::Error),
        "warn" | "warning" => Ok(LevelFilter::Warn),
        "info" => Ok(LevelFilter::Info),
        "debug" => Ok(LevelFilter::Debug),
        _ => Err(format!("`{s}`: must be error, warn, info or debug")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_lines() {
        assert_eq!(format(false, Level::Info, "vi1: up"), "vrrpd: vi1: up\n");
        assert_eq!(format(false, Level::Error, "x"), "vrrpd: error: x\n");
        assert_eq!(format(false, Level::Warn, "x"), "vrrpd: warning: x\n");
        assert_eq!(format(false, Level::Debug, "x"), "vrrpd: debug: x\n");
    }

    #[test]
    fn journal_lines_carry_their_priority() {
        assert_eq!(
            format(true, Level::Error, "nothing to run"),
            "<3>nothing to run\n"
        );
        assert_eq!(format(true, Level::Warn, "x"), "<4>x\n");
        assert_eq!(format(true, Level::Info, "x"), "<6>x\n");
        assert_eq!(format(true, Level::Debug, "x"), "<7>x\n");
        assert_eq!(format(true, Level::Error, "a\nb"), "<3>a\n<3>b\n");
    }

    #[test]
    fn the_journal_is_stderr_only_when_it_says_so() {
        assert!(is_journal(Some("8:1234"), Some((8, 1234))));
        assert!(
            !is_journal(Some("8:1234"), Some((8, 1235))),
            "stderr redirected elsewhere"
        );
        assert!(!is_journal(None, Some((8, 1234))));
        assert!(!is_journal(Some("garbage"), Some((8, 1234))));
        assert!(!is_journal(Some("8:1234"), None));
    }

    #[test]
    fn levels() {
        assert_eq!(parse_level("debug"), Ok(LevelFilter::Debug));
        assert_eq!(parse_level("warning"), Ok(LevelFilter::Warn));
        assert!(parse_level("loud").unwrap_err().contains("must be"));
    }
}
