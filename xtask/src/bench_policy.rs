//! `cargo xtask bench policy`: the policy crate's decision costs in one run.
//!
//! Runs the criterion bench of ironclaw-policy (so xtask adds no edge to the crate
//! graph): HTTP allowlist and network grant decisions against 10,000 rules (exact,
//! wildcard, miss) next to a linear scan of the same rules, URL parsing, SSRF
//! address checks and a GCRA check. Target: a decision well under 1 µs.

use std::process::{Command, ExitCode};

pub(crate) fn run() -> ExitCode {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args(["bench", "-p", "ironclaw-policy", "--bench", "policy"])
        .status();
    match status {
        Ok(status) if status.success() => ExitCode::SUCCESS,
        Ok(status) => {
            eprintln!("xtask bench policy: cargo bench failed ({status})");
            ExitCode::from(1)
        }
        Err(err) => {
            eprintln!("xtask bench policy: cannot run cargo: {err}");
            ExitCode::from(2)
        }
    }
}
