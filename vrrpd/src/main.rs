//! vrrpd: a VRRP (RFC 5798 v3, RFC 3768 v2) daemon that elects a master
//! among drlb directors, owns the virtual IPs and switches the drlb module
//! between active and standby.

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
    /// Control socket path (default: an abstract socket, one per network
    /// namespace)
    #[arg(long, value_name = "PATH", global = true)]
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
    let result = match (&cli.command, &cli.config) {
        (Some(Command::CheckConfig { file }), _) => match vrrpd::config::load(file) {
            Ok(c) => {
                println!("{}: ok, {} instance(s)", file.display(), c.instances.len());
                Ok(())
            }
            Err(errs) => {
                for e in &errs {
                    eprintln!("{e}");
                }
                std::process::exit(1);
            }
        },
        (Some(Command::Status { json }), _) => vrrpd::daemon::status(cli.socket.as_deref(), *json),
        (None, Some(file)) => vrrpd::daemon::run(file, cli.socket.clone()),
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
