//! drlb-tool: configure and inspect the drlb kernel load balancer, the way
//! ipvsadm does for IPVS. Every command talks to the module over the generic
//! netlink family `drlb`, in the caller's network namespace.

mod netlink;

use anyhow::Result;
use clap::{Parser, Subcommand, ValueEnum};
use drlb_core::proto::{self, attr, cmd};
use netlink::{Attr, Attrs, Client};

#[derive(Parser)]
#[command(name = "drlb-tool", version, about = "Configure and inspect the drlb load balancer")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Show the module version, the active/standby state and hook counters
    Status {
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Print the state, or switch this namespace to active or standby
    State {
        /// The new state
        state: Option<State>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum State {
    /// Forward packets to real servers
    Active,
    /// Forward nothing; keep configuration, counters and connections
    Standby,
}

fn main() {
    let cli = Cli::parse();
    if let Err(e) = run(cli) {
        eprintln!("drlb-tool: {e:#}");
        std::process::exit(1);
    }
}

fn run(cli: Cli) -> Result<()> {
    let mut nl = Client::connect()?;
    match cli.command {
        Command::Status { json } => status(&mut nl, json),
        Command::State { state: None } => {
            let st = get_status(&mut nl)?;
            println!("{}", proto::state_name(st.state));
            Ok(())
        }
        Command::State { state: Some(s) } => {
            let v = match s {
                State::Active => proto::STATE_ACTIVE,
                State::Standby => proto::STATE_STANDBY,
            };
            nl.request(cmd::SET_STATE, vec![Attr::u8(attr::STATE, v)], false)?;
            Ok(())
        }
    }
}

struct Status {
    version: String,
    state: u8,
    hook_packets: u64,
}

fn get_status(nl: &mut Client) -> Result<Status> {
    let replies = nl.request(cmd::STATUS, vec![], false)?;
    let a = replies.first().map(Vec::as_slice).unwrap_or_default();
    Ok(Status {
        version: a.string(attr::VERSION).unwrap_or_default(),
        state: a.u8(attr::STATE).unwrap_or(u8::MAX),
        hook_packets: a.u64(attr::HOOK_PACKETS).unwrap_or(0),
    })
}

fn status(nl: &mut Client, json: bool) -> Result<()> {
    let st = get_status(nl)?;
    if json {
        println!(
            "{{\"version\":\"{}\",\"state\":\"{}\",\"hook_packets\":{}}}",
            st.version,
            proto::state_name(st.state),
            st.hook_packets
        );
    } else {
        println!("drlb {}", st.version);
        println!("state: {}", proto::state_name(st.state));
        println!("hook packets: {}", st.hook_packets);
    }
    Ok(())
}
