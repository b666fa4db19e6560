//! vrrpd: the drlb director daemon. VRRP (RFC 5798 v3, RFC 3768 v2) elects
//! the master director and owns the virtual IPs; health checks take real
//! servers in and out of drlb's services.

use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "vrrpd",
    version,
    about = "VRRP failover and health checks for drlb directors",
    long_about = "VRRP failover and health checks for drlb directors.\n\n\
        vrrpd runs VRRP (RFC 5798 version 3 for IPv4 and IPv6, RFC 3768 version 2 \
        for IPv4) to elect the master director and own the virtual IPs, and checks \
        the real servers of drlb's services (TCP, HTTP, HTTPS and exec checks), \
        taking them in and out of rotation in the drlb kernel module. One TOML file \
        configures both; `vrrpd check-config FILE` reports every problem in it with \
        its line. An optional [sync] table (interface, peers, key, port, group, \
        pull_timeout_ms) relays drlb's connection table to the peer directors over \
        authenticated UDP (port 8849 by default), and makes a returning director \
        pull the whole table before it preempts. With --config it runs in the \
        foreground until SIGTERM; the other commands talk to a running daemon over \
        its control socket."
)]
struct Cli {
    /// Run in the foreground with this TOML configuration, logging to stderr
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Control socket path (default: an abstract socket, one per network
    /// namespace)
    #[arg(long, value_name = "PATH", global = true)]
    socket: Option<PathBuf>,
    /// The daemon's log level: error, warn, info or debug. Under systemd
    /// each line carries its syslog priority (<3> to <7>) for the journal
    #[arg(long, value_name = "LEVEL", default_value = "info", value_parser = vrrpd::logger::parse_level)]
    log_level: log::LevelFilter,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Check a configuration file and print each error with its line number
    CheckConfig {
        /// The TOML file
        file: PathBuf,
    },
    /// Show each instance's state and each real server's check over the
    /// control socket
    Status {
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Take a real server out of rotation (weight 0) until undrain or a
    /// reload that changes it
    Drain {
        /// tcp or udp
        proto: String,
        /// The virtual server, VIP:PORT
        service: String,
        /// The real server's address
        real: String,
    },
    /// Put a drained real server back
    Undrain {
        /// tcp or udp
        proto: String,
        /// The virtual server, VIP:PORT
        service: String,
        /// The real server's address
        real: String,
    },
    /// Convert a keepalived.conf (and the files it includes) to vrrpd's
    /// TOML on standard output. Anything vrrpd cannot do the same way is
    /// listed with its file and line, and nothing is printed
    ImportKeepalived {
        /// The keepalived.conf
        file: PathBuf,
    },
    /// Print the man page (roff)
    #[command(hide = true)]
    Manpage,
}

/// The man page, section 8: clap's sections (synopsis, options), the
/// commands with their usage, and ours about running it.
fn man_page() -> std::io::Result<Vec<u8>> {
    let cmd = <Cli as clap::CommandFactory>::command();
    let man = clap_mangen::Man::new(cmd.clone()).section("8");
    let mut out = vec![];
    man.render_title(&mut out)?;
    man.render_name_section(&mut out)?;
    man.render_synopsis_section(&mut out)?;
    man.render_description_section(&mut out)?;
    man.render_options_section(&mut out)?;
    // (one page: clap_mangen's list would point at a page per command)
    let roff = |s: &str| s.replace('\\', "\\\\").replace('-', "\\-");
    out.extend_from_slice(b".SH COMMANDS\n");
    for sc in cmd.get_subcommands() {
        if sc.is_hide_set() || sc.get_name() == "help" {
            continue;
        }
        let usage = sc
            .clone()
            .bin_name(format!("vrrpd {}", sc.get_name()))
            .render_usage()
            .to_string();
        let usage = usage.trim_start_matches("Usage: ");
        let about = sc.get_about().map(|a| a.to_string()).unwrap_or_default();
        out.extend_from_slice(
            format!(".TP\n\\fB{}\\fR\n{}\n", roff(usage), roff(&about)).as_bytes(),
        );
    }
    out.extend_from_slice(MAN_SECTIONS.as_bytes());
    man.render_version_section(&mut out)?;
    Ok(out)
}

/// The man page's sections about running vrrpd (roff).
const MAN_SECTIONS: &str = r#".SH SIGNALS
.TP
\fBSIGHUP\fR
Reloads the configuration file as a diff: unchanged instances keep their
VRRP state, unchanged services their connections and unchanged checks their
history. A file with an error changes nothing; the error is logged with its
line.
.TP
\fBSIGTERM\fR, \fBSIGINT\fR
Every instance resigns (drlb to standby, the virtual IPs removed, a
priority\-0 advertisement so that a backup takes over at once) and vrrpd
exits 0. drlb keeps its services, so a restarted vrrpd changes only what
differs.
.SH SYSTEMD
The unit \fBvrrpd.service\fR runs \fBvrrpd \-\-config /etc/vrrpd/vrrpd.toml\fR
as \fBType=notify\fR: vrrpd sends \fBREADY=1\fR once every instance has
started and every check is scheduled, \fBRELOADING=1\fR and then
\fBREADY=1\fR around a reload (\fBsystemctl reload vrrpd\fR sends
SIGHUP), \fBSTOPPING=1\fR when it stops, and a \fBSTATUS=\fR line with
each instance's state, which \fBsystemctl status vrrpd\fR shows. The unit
keeps only the capabilities vrrpd needs, CAP_NET_ADMIN (virtual IPs, drlb)
and CAP_NET_RAW (VRRP and gratuitous ARP sockets); exec checks and notify
scripts run with the same limits. Its log goes to the journal, each line at
its own priority.
.SH ENVIRONMENT
.TP
\fBNOTIFY_SOCKET\fR
The service manager's socket (a path, or \fB@\fRname for an abstract
socket) for the messages above; vrrpd removes it from the environment of
the processes it starts.
.TP
\fBJOURNAL_STREAM\fR
When it names vrrpd's standard error, each log line starts with its syslog
priority, \fB<3>\fR for errors to \fB<7>\fR for debug, for the journal.
.TP
\fBDRLB_CHECK_ADDRESS\fR, \fBDRLB_CHECK_PORT\fR
Set for exec checks: the real server and port being checked.
.SH FILES
.TP
\fB/etc/vrrpd/vrrpd.toml\fR
The configuration the systemd unit runs.
.TP
\fB@vrrpd\fR
The control socket, an abstract Unix socket that Linux scopes to the
network namespace (\fB\-\-socket\fR names a file instead). Anyone in the
namespace may read the status; drain and undrain are taken only from root
or vrrpd's own user.
.SH "EXIT STATUS"
0 after SIGTERM or SIGINT, or when a command succeeded; 1 when the
configuration has errors, when nothing could start (no instance started
and no virtual servers), or when a command failed; 2 for a usage error.
.SH "SEE ALSO"
\fBdrlb\-tool\fR(8), \fBkeepalived\fR(8), \fBsystemd.service\fR(5),
\fBsd_notify\fR(3)
"#;

fn main() {
    let cli = Cli::parse();
    vrrpd::logger::init(cli.log_level);
    let result = match (&cli.command, &cli.config) {
        (Some(Command::CheckConfig { file }), _) => match vrrpd::config::load(file) {
            Ok(c) => {
                let reals: usize = c.virtual_servers.iter().map(|v| v.reals.len()).sum();
                println!(
                    "{}: ok, {} instance(s), {} virtual server(s), {} real server(s)",
                    file.display(),
                    c.instances.len(),
                    c.virtual_servers.len(),
                    reals
                );
                Ok(())
            }
            Err(errs) => {
                for e in &errs {
                    eprintln!("{e}");
                }
                std::process::exit(1);
            }
        },
        (Some(Command::Status { json }), _) => vrrpd::control::status(cli.socket.as_deref(), *json),
        (
            Some(Command::Drain {
                proto,
                service,
                real,
            }),
            _,
        ) => change(cli.socket.as_deref(), "drain", proto, service, real),
        (
            Some(Command::Undrain {
                proto,
                service,
                real,
            }),
            _,
        ) => change(cli.socket.as_deref(), "undrain", proto, service, real),
        (Some(Command::ImportKeepalived { file }), _) => import_keepalived(file),
        (Some(Command::Manpage), _) => {
            man_page().and_then(|m| std::io::Write::write_all(&mut std::io::stdout(), &m))
        }
        (None, Some(file)) => {
            if let Err(e) = vrrpd::daemon::run(file, cli.socket.clone()) {
                log::error!("{e}");
                std::process::exit(1);
            }
            Ok(())
        }
        (None, None) => {
            eprintln!("vrrpd: nothing to do: give --config FILE or a subcommand (see --help)");
            std::process::exit(2);
        }
    };
    if let Err(e) = result {
        eprintln!("vrrpd: {e}");
        std::process::exit(1);
    }
}

/// `import-keepalived`: the TOML on stdout, notes on stderr; every
/// problem on stderr and exit 1.
fn import_keepalived(file: &std::path::Path) -> std::io::Result<()> {
    match vrrpd::keepalived::import(file) {
        Ok(c) => {
            for n in &c.notes {
                eprintln!("{}:{}: note: {}", n.file, n.line, n.message);
            }
            if let Err(errs) = vrrpd::config::check(&c.toml) {
                // Keys of features this vrrpd does not have yet.
                for e in errs {
                    eprintln!("vrrpd import-keepalived: warning: this vrrpd's check-config refuses the result: {e}");
                }
            }
            std::io::Write::write_all(&mut std::io::stdout(), c.toml.as_bytes())
        }
        Err(problems) => {
            for p in &problems {
                eprintln!("{p}");
            }
            eprintln!(
                "vrrpd import-keepalived: {} problem(s); nothing converted",
                problems.len()
            );
            std::process::exit(1);
        }
    }
}

/// `drain` or `undrain`, checked here before it is sent.
fn change(
    socket: Option<&std::path::Path>,
    verb: &str,
    proto: &str,
    service: &str,
    real: &str,
) -> std::io::Result<()> {
    let line = format!("{verb} {proto} {service} {real}");
    vrrpd::control::Request::parse(&line).map_err(std::io::Error::other)?;
    vrrpd::control::change(socket, &line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_man_page_is_section_8_and_covers_the_commands() {
        let man = String::from_utf8(man_page().unwrap()).unwrap();
        assert!(man.lines().any(|l| l.starts_with(".TH vrrpd 8 ")), "{man}");
        let text = man.replace("\\-", "-");
        for w in [
            "check-config",
            "import-keepalived",
            "status",
            "drain",
            "undrain",
            "--config",
            "--log-level",
            "SIGHUP",
            "Type=notify",
            "READY=1",
            "NOTIFY_SOCKET",
            "CAP_NET_ADMIN",
            "drlb-tool",
        ] {
            assert!(text.contains(w), "the man page lacks {w}");
        }
        assert!(!text.contains("manpage"), "the hidden command is listed");
    }
}
