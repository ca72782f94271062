//! `ironclawd`: the IronClaw daemon. A composition root only: it parses arguments and
//! config, builds library objects, wires them together and maps errors to exit codes.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

/// The IronClaw daemon.
#[derive(Debug, Parser)]
#[command(name = "ironclawd", version, about)]
struct Args {
    /// The runtime home (default: $IRONCLAW_HOME, else ~/.ironclaw).
    #[arg(long, value_name = "DIR")]
    home: Option<PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let _ = args.home;
    ExitCode::SUCCESS
}
