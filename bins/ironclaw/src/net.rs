//! `ironclaw net check`: what the built-in HTTP tool (and optionally a tool's
//! allowlist) would decide for URLs, with the addresses it would connect to.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use ironclaw_policy::{Capabilities, EgressPolicy, StaticResolver, SystemResolver};

use crate::home::Home;

/// Network policy commands.
#[derive(Debug, Args)]
pub(crate) struct NetArgs {
    #[command(subcommand)]
    command: NetCommand,
}

#[derive(Debug, Subcommand)]
enum NetCommand {
    /// Decide whether URLs may be fetched; exit 0 if all are allowed, 1 if any is denied.
    Check(CheckArgs),
}

#[derive(Debug, Args)]
struct CheckArgs {
    /// Print one JSON object per URL.
    #[arg(long)]
    json: bool,
    /// The HTTP method.
    #[arg(long, default_value = "GET", value_name = "M")]
    method: String,
    /// Apply this tool's capabilities.json HTTP allowlist as well.
    #[arg(long, value_name = "FILE")]
    capabilities: Option<PathBuf>,
    /// Answer DNS for HOST with IP (repeatable; several answers per host allowed).
    #[arg(long, value_name = "HOST:IP")]
    resolve: Vec<String>,
    /// The URLs to check.
    #[arg(required = true, value_name = "URL")]
    urls: Vec<String>,
}

pub(crate) fn run(_home: &Home, args: NetArgs) -> Result<ExitCode> {
    match args.command {
        NetCommand::Check(args) => check(args),
    }
}

fn check(args: CheckArgs) -> Result<ExitCode> {
    let mut policy = EgressPolicy::builtin();
    if let Some(path) = &args.capabilities {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read capabilities {}", path.display()))?;
        let caps = Capabilities::from_json(&text)
            .with_context(|| format!("invalid capabilities {}", path.display()))?;
        let list = caps
            .http_allowlist()
            .with_context(|| format!("invalid capabilities {}", path.display()))?;
        policy = policy.with_allowlist(list);
    }
    let mut resolver = StaticResolver::new().with_fallback(Box::new(SystemResolver));
    for spec in &args.resolve {
        resolver
            .insert_spec(spec)
            .map_err(|e| anyhow::anyhow!("--resolve: {}", e.detail))?;
    }
    if args.method.is_empty() || !args.method.bytes().all(|b| b.is_ascii_alphabetic()) {
        anyhow::bail!("--method {:?} is not a method name", args.method);
    }

    let mut all_allowed = true;
    for url in &args.urls {
        let (allowed, reason) = match policy.check(&args.method, url, &resolver) {
            Ok(egress) => {
                let addrs: Vec<String> = egress.addrs.iter().map(ToString::to_string).collect();
                let mut reason = format!("allowed, connect to {}", addrs.join(", "));
                if let Some(rule) = egress.rule {
                    reason.push_str(&format!(" (rule {rule})"));
                }
                (true, reason)
            }
            Err(denied) => (false, denied.to_string()),
        };
        all_allowed &= allowed;
        if args.json {
            let line = serde_json::json!({ "url": url, "allowed": allowed, "reason": reason });
            println!("{line}");
        } else if allowed {
            println!("allow {url}: {reason}");
        } else {
            println!("deny  {url}: {reason}");
        }
    }
    Ok(if all_allowed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
