//! `cargo xtask bench audit`: the audit log's headline figures in one run.
//!
//! Builds and runs the `bench_report` example of ironclaw-audit in release mode (so
//! xtask adds no edge to the crate graph): durable events/s of group commit against a
//! naive write+fsync-per-event writer at 1, 8 and 64 writers, and
//! `show --last 100 --filter NETWORK_BLOCK` on a 1 GB log generated once in the
//! system temp dir and reused. Targets: >= 100,000 events/s with 64 writers; < 1 s.

use std::process::{Command, ExitCode};

pub(crate) fn run() -> ExitCode {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args([
            "run",
            "--quiet",
            "--release",
            "-p",
            "ironclaw-audit",
            "--example",
            "bench_report",
        ])
        .status();
    match status {
        Ok(status) if status.success() => ExitCode::SUCCESS,
        Ok(status) => {
            eprintln!("xtask bench audit: bench_report failed ({status})");
            ExitCode::from(1)
        }
        Err(err) => {
            eprintln!("xtask bench audit: cannot run cargo: {err}");
            ExitCode::from(2)
        }
    }
}
