//! `ironclaw`: the scripting surface of IronClaw.
//!
//! Exit codes: 0 success or clean, 1 a finding or a denial, 2 a usage or runtime error.

mod allowlist;
mod audit_cmd;
mod config;
mod home;
mod net;
mod proxy;
mod scan;
mod secrets;
mod skill;

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
    /// Read and check the audit log: tail, show, export, verify.
    Audit(audit_cmd::AuditArgs),
    /// Scan text for leaked secrets or prompt injection.
    Scan(scan::ScanArgs),
    /// Manage encrypted secrets.
    Secrets(secrets::SecretsArgs),
    /// Authorise skills and manage their grants.
    Allowlist(allowlist::AllowlistArgs),
    /// Read, change and validate ironclaw.json.
    Config(config::ConfigArgs),
    /// Network policy checks.
    Net(net::NetArgs),
    /// The egress proxy.
    Proxy(proxy::ProxyArgs),
    /// Install, inspect and list skills.
    Skill(skill::SkillArgs),
    /// Run an installed, allowlisted WASM skill once.
    Run(skill::RunArgs),
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
        Command::Audit(args) => audit_cmd::run(&home, args),
        Command::Scan(args) => scan::run(&home, args),
        Command::Secrets(args) => secrets::run(&home, args),
        Command::Allowlist(args) => allowlist::run(&home, args),
        Command::Config(args) => config::run(&home, args),
        Command::Net(args) => net::run(&home, args),
        Command::Proxy(args) => proxy::run(&home, args),
        Command::Skill(args) => skill::run(&home, args),
        Command::Run(args) => skill::run_skill(&home, args),
    }
}
