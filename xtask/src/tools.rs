//! `cargo xtask tools`: builds every example WASM tool in `examples/tools/` for
//! `wasm32-wasip2` (release) and copies each `.wasm` into its tool directory,
//! where `skill.json`'s `entry` points, so `ironclaw skill install
//! examples/tools/<name>` works right after.
//!
//! The tools are their own cargo workspace (the root workspace excludes
//! `examples`), so `cargo test --workspace` never builds them for the host.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// The target the tools are built for.
pub(crate) const TARGET: &str = "wasm32-wasip2";

/// Builds and installs every example tool in place.
pub(crate) fn run(root: &Path) -> Result<()> {
    ensure_target()?;
    let tools_dir = root.join("examples").join("tools");
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| tools_dir.join("target"));
    let status = Command::new(env!("CARGO"))
        .args(["build", "--release", "--target", TARGET, "--workspace"])
        .current_dir(&tools_dir)
        .env("CARGO_TARGET_DIR", &target_dir)
        .status()
        .context("cannot run cargo build for the example tools")?;
    if !status.success() {
        bail!("building the example tools failed ({status})");
    }
    let built = target_dir.join(TARGET).join("release");
    let mut count = 0;
    for tool in tool_dirs(&tools_dir)? {
        let entry = entry_of(&tool)?;
        let crate_name = tool
            .file_name()
            .and_then(|n| n.to_str())
            .context("tool directory name is not UTF-8")?
            .replace('-', "_");
        let from = built.join(format!("{crate_name}.wasm"));
        let to = tool.join(&entry);
        std::fs::copy(&from, &to)
            .with_context(|| format!("copy {} to {}", from.display(), to.display()))?;
        println!("xtask: {}", to.display());
        count += 1;
    }
    println!("xtask: {count} tools built for {TARGET}");
    Ok(())
}

/// Adds the wasm target with rustup when the active toolchain lacks it.
fn ensure_target() -> Result<()> {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .context("cannot run rustup (needed to add the wasm32-wasip2 target)")?;
    let list = String::from_utf8_lossy(&installed.stdout);
    if list.lines().any(|l| l.trim() == TARGET) {
        return Ok(());
    }
    println!("xtask: rustup target add {TARGET}");
    let status = Command::new("rustup")
        .args(["target", "add", TARGET])
        .status()
        .context("cannot run rustup target add")?;
    if !status.success() {
        bail!("rustup target add {TARGET} failed ({status})");
    }
    Ok(())
}

/// Directories of `examples/tools` that hold a `skill.json`, sorted.
fn tool_dirs(tools_dir: &Path) -> Result<Vec<PathBuf>> {
    let mut dirs = Vec::new();
    for entry in
        std::fs::read_dir(tools_dir).with_context(|| format!("read {}", tools_dir.display()))?
    {
        let path = entry?.path();
        if path.join("skill.json").is_file() {
            dirs.push(path);
        }
    }
    dirs.sort();
    Ok(dirs)
}

/// The `entry` of a tool's `skill.json`: a plain file name.
fn entry_of(tool: &Path) -> Result<String> {
    let manifest = tool.join("skill.json");
    let text = std::fs::read_to_string(&manifest)
        .with_context(|| format!("read {}", manifest.display()))?;
    let value: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("{} is not JSON", manifest.display()))?;
    let entry = value
        .get("entry")
        .and_then(|e| e.as_str())
        .with_context(|| format!("{} has no string `entry`", manifest.display()))?;
    if entry.is_empty() || entry.contains('/') || entry.contains("..") {
        bail!(
            "{}: entry {entry:?} must be a file name",
            manifest.display()
        );
    }
    Ok(entry.to_owned())
}
