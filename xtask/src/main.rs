//! Developer tasks for IronClaw: `cargo xtask <task>`.
//!
//! - `ci`: every check CI runs, installing what is missing (see `ci.rs`).
//! - `dag`: prints the internal crate graph and fails on an edge DESIGN.md forbids.
//! - `bench <area>`: benchmarks that compare IronClaw with peers in one run.
//! - `tools`: builds the example WASM tools for wasm32-wasip2, in place.

mod bench_audit;
mod bench_policy;
mod bench_proxy;
mod bench_safety;
mod bench_wasm;
mod ci;
mod dag;
mod pg;
mod tools;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context, Result, bail};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let root = workspace_root();
    let result = match args.as_slice() {
        ["ci"] => ci::run(&root),
        ["dag"] => dag::run(&root),
        ["tools"] => tools::run(&root),
        ["bench", "audit"] => return bench_audit::run(),
        ["bench", "policy"] => return bench_policy::run(),
        ["bench", "proxy"] => bench_proxy::run(&root),
        ["bench", "safety"] => bench_safety::run(&root),
        ["bench", "wasm"] => return bench_wasm::run(&root),
        _ => {
            eprintln!(
                "usage: cargo xtask <ci | dag | tools | bench audit|policy|proxy|safety|wasm>"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("xtask: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root: the parent of this crate's manifest directory.
fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// Builds the `ironclaw` CLI in release mode and returns the binary's path (the
/// benchmarks run it as a whole process).
pub(crate) fn release_cli(root: &Path) -> Result<PathBuf> {
    let status = Command::new(env!("CARGO"))
        .args(["build", "--release", "-p", "ironclaw"])
        .current_dir(root)
        .status()
        .context("cannot run cargo build")?;
    if !status.success() {
        bail!("cargo build --release -p ironclaw failed");
    }
    Ok(target_dir(root).join("release/ironclaw"))
}

/// Cargo's target directory for this workspace.
pub(crate) fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
}
