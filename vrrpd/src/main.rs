//! vrrpd: the drlb director daemon. VRRP (RFC 5798 v3, RFC 3768 v2) elects
//! the master director and owns the virtual IPs; health checks take real
//! servers in and out of drlb's services.

use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "vrrpd",
    version,
    about = "VRRP failover and health checks for drlb directors"
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
}

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
