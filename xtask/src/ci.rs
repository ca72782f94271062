//! `cargo xtask ci`: everything CI checks, in one command that works on a fresh machine.
//!
//! Steps, in order: install missing system packages and cargo-deny, start a throwaway
//! PostgreSQL cluster, then fmt check, clippy with `-D warnings`, cargo-deny (bans,
//! licenses, sources; the advisory database cannot be fetched here), the DAG check, and
//! the example WASM tools build (`cargo xtask tools`, which the WASM host's tests
//! run), and the whole test suite with `IRONCLAW_TEST_PG` pointing at the throwaway cluster.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::pg;

/// The cargo-deny release CI installs when it is missing.
const CARGO_DENY_VERSION: &str = "0.20.2";

/// Debian packages the test suite needs, with the file that shows each is installed:
/// PostgreSQL for the storage backends, curl as an independent client of the proxy.
const SYSTEM_PACKAGES: &[(&str, &str)] = &[
    ("postgresql", "/usr/lib/postgresql"),
    ("curl", "/usr/bin/curl"),
];

/// Runs every CI step; stops at the first failure.
pub(crate) fn run(root: &Path) -> Result<()> {
    let started = Instant::now();
    step("system packages", install_system_packages)?;
    step("cargo-deny", install_cargo_deny)?;
    let cluster = step("postgres", pg::Cluster::start)?;
    let pg_url = cluster.connection_string();
    println!("xtask: throwaway postgres at {pg_url}");

    step("fmt", || {
        cargo(root, &["fmt", "--all", "--", "--check"], &[])
    })?;
    step("clippy", || {
        cargo(
            root,
            &[
                "clippy",
                "--workspace",
                "--all-targets",
                "--all-features",
                "--",
                "-D",
                "warnings",
            ],
            &[],
        )
    })?;
    step("deny", || {
        cargo(
            root,
            &[
                "deny",
                "--all-features",
                "check",
                "bans",
                "licenses",
                "sources",
            ],
            &[],
        )
    })?;
    step("dag", || crate::dag::run(root))?;
    // The WASM host's tests and the CLI's skill tests run the example tools.
    step("tools", || crate::tools::run(root))?;
    step("test", || {
        cargo(
            root,
            &["test", "--workspace", "--all-features", "--no-fail-fast"],
            &[("IRONCLAW_TEST_PG", pg_url.as_str())],
        )
    })?;
    drop(cluster);
    println!("xtask: ci passed in {:.0?}", started.elapsed());
    Ok(())
}

fn step<T>(name: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    let started = Instant::now();
    println!("xtask: == {name}");
    let result = f().with_context(|| format!("ci step `{name}` failed"));
    println!("xtask: == {name} took {:.1?}", started.elapsed());
    result
}

fn cargo(root: &Path, args: &[&str], env: &[(&str, &str)]) -> Result<()> {
    let mut command = Command::new(env!("CARGO"));
    command.args(args).current_dir(root);
    for (key, value) in env {
        command.env(key, value);
    }
    let status = command
        .status()
        .with_context(|| format!("cannot run cargo {}", args.join(" ")))?;
    if !status.success() {
        bail!("cargo {} failed ({status})", args.join(" "));
    }
    Ok(())
}

/// Installs the Debian packages that are missing, with one `apt-get update` first.
pub(crate) fn install_system_packages() -> Result<()> {
    ensure_packages(SYSTEM_PACKAGES)
}

/// Installs those of `packages` whose marker path is missing.
pub(crate) fn ensure_packages(packages: &[(&str, &str)]) -> Result<()> {
    let missing: Vec<&str> = packages
        .iter()
        .filter(|(_, marker)| !Path::new(marker).exists())
        .map(|(name, _)| *name)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    println!("xtask: installing {}", missing.join(" "));
    let update = Command::new("apt-get")
        .args(["update", "-q"])
        .status()
        .context("cannot run apt-get update")?;
    if !update.success() {
        bail!("apt-get update failed");
    }
    let status = Command::new("apt-get")
        .args(["install", "-y", "-q", "--no-install-recommends"])
        .args(&missing)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()
        .context("cannot run apt-get install")?;
    if !status.success() {
        bail!("apt-get install {} failed", missing.join(" "));
    }
    Ok(())
}

fn install_cargo_deny() -> Result<()> {
    let present = Command::new(env!("CARGO"))
        .args(["deny", "--version"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if present {
        return Ok(());
    }
    let status = Command::new(env!("CARGO"))
        .args([
            "install",
            "cargo-deny",
            "--locked",
            "--version",
            CARGO_DENY_VERSION,
        ])
        .status()
        .context("cannot run cargo install")?;
    if !status.success() {
        bail!("cargo install cargo-deny failed");
    }
    Ok(())
}
