//! vrrpd: a VRRP (RFC 5798 v3, RFC 3768 v2) daemon that elects a master
//! among drlb directors, owns the virtual IPs and switches the drlb module
//! between active and standby.
//!
//! This is the command-line surface; the protocol lands with its own issue.

use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "vrrpd",
    version,
    about = "VRRP failover daemon for drlb directors"
)]
struct Cli {
    /// Run in the foreground with this TOML configuration, logging to stderr
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Control socket path (default: per network namespace)
    #[arg(long, value_name = "PATH")]
    socket: Option<PathBuf>,
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
    /// Show each instance's state over the control socket
    Status {
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
}

fn main() {
    let cli = Cli::parse();
    let what = match (&cli.command, &cli.config) {
        (Some(Command::CheckConfig { .. }), _) => "check-config",
        (Some(Command::Status { .. }), _) => "status",
        (None, Some(_)) => "running an instance",
        (None, None) => {
            eprintln!("vrrpd: nothing to do: give --config FILE or a subcommand (see --help)");
            std::process::exit(2);
        }
    };
    eprintln!("vrrpd: {what} is not implemented in this version yet");
    std::process::exit(2);
}
