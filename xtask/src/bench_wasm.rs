//! `cargo xtask bench wasm`: the WASM host's per-call overhead in one run.
//!
//! Builds the example tools (`cargo xtask tools`), then runs the criterion bench
//! of ironclaw-wasm-host (so xtask adds no edge to the crate graph). It prints the
//! p50/p99 of a warm `echo` call (a fresh instance per call), calls per second on
//! one thread, and the cold load of a cached component in a new engine, each next
//! to a plain wasmtime baseline instantiating the same component without our
//! host. Targets: p50 under 50 µs, 20,000 calls/s per core, cached load under 5 ms.

use std::path::Path;
use std::process::{Command, ExitCode};

pub(crate) fn run(root: &Path) -> ExitCode {
    if let Err(err) = crate::tools::run(root) {
        eprintln!("xtask bench wasm: {err:#}");
        return ExitCode::from(2);
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args(["bench", "-p", "ironclaw-wasm-host", "--bench", "echo"])
        .current_dir(root)
        .status();
    match status {
        Ok(status) if status.success() => ExitCode::SUCCESS,
        Ok(status) => {
            eprintln!("xtask bench wasm: cargo bench failed ({status})");
            ExitCode::from(1)
        }
        Err(err) => {
            eprintln!("xtask bench wasm: cannot run cargo: {err}");
            ExitCode::from(2)
        }
    }
}
