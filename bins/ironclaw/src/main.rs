//! `ironclaw`: the scripting surface of IronClaw.
//!
//! Exit codes: 0 success or clean, 1 a finding or a denial, 2 a usage or runtime error.

mod home;
mod net;
mod proxy;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::home::Home;

/// IronClaw: a zero-trust security runtime for AI agents.
#[derive(Debug, Parser)]
#[command(name = "ironclaw", version, about)]
struct Cli {
    /// The runtime home (default: $IRONCLAW_HOME, else ~/.ironclaw).
    #[arg(long, global = true, value_name = "DIR")]
    home: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print where the runtime home is.
    Home,
    /// Network policy checks.
    Net(net::NetArgs),
    /// The egress proxy.
    Proxy(proxy::ProxyArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("ironclaw: {err:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let home = Home::resolve(cli.home)?;
    match cli.command {
        Command::Home => {
            println!("{}", home.root().display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Net(args) => net::run(&home, args),
        Command::Proxy(args) => proxy::run(&home, args),
    }
}
