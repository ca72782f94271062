//! `ironclawd`: the IronClaw daemon. A composition root only: it parses arguments and
//! config, builds library objects, wires them together and maps errors to exit codes.
//!
//! Start-up order matters: the audit log is opened first, and the daemon refuses to
//! start (exit 1, message naming the path) when it cannot be written, because audit
//! logging cannot be turned off. It then records `GATEWAY_START`, waits for SIGTERM
//! or SIGINT, records `GATEWAY_STOP` and exits 0.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use ironclaw_audit::{AuditConfig, AuditLog, Event, EventKind};
use tokio::signal::unix::{Signal, SignalKind, signal};

/// The IronClaw daemon.
#[derive(Debug, Parser)]
#[command(name = "ironclawd", version, about)]
struct Args {
    /// The runtime home (default: $IRONCLAW_HOME, else ~/.ironclaw).
    #[arg(long, value_name = "DIR")]
    home: Option<PathBuf>,
}

/// The sandbox mode until the policy crate supplies the configured one.
const SANDBOX_MODE: &str = "strict";

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("IRONCLAW_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("ironclawd: {err:#}");
            ExitCode::from(1)
        }
    }
}

fn run(args: Args) -> anyhow::Result<()> {
    let home = resolve_home(args.home)?;
    ensure_home(&home)?;
    let audit_path = audit_log_path(&home);
    let log = AuditLog::open(AuditConfig::new(&audit_path)).with_context(|| {
        format!(
            "refusing to start without a writable audit log at {}",
            audit_path.display()
        )
    })?;
    for warning in log.warnings() {
        tracing::warn!("{warning}");
    }

    // Signal handlers are installed before GATEWAY_START is recorded, so a stop
    // requested as soon as the start is visible is never lost.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let (term, int) = {
        let _context = runtime.enter();
        (
            signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?,
            signal(SignalKind::interrupt()).context("cannot listen for SIGINT")?,
        )
    };

    let config_sha256 = config_sha256(&home.join("ironclaw.json"))?;
    log.record(
        Event::builder(EventKind::GatewayStart)
            .action("start")
            .field("configSha256", config_sha256)
            .field("sandboxMode", SANDBOX_MODE)
            .field("skillsAuthorised", 0)
            .field("pid", std::process::id())
            .build()?,
    )?;
    tracing::info!(home = %home.display(), audit = %audit_path.display(), "ironclawd started");

    let signal_name = runtime.block_on(wait_for_shutdown(term, int));

    // The runtime is idle here; `record` blocks until the stop event is durable.
    log.record(
        Event::builder(EventKind::GatewayStop)
            .action("stop")
            .field("reason", signal_name)
            .build()?,
    )?;
    tracing::info!(signal = signal_name, "ironclawd stopped");
    Ok(())
}

/// Waits for SIGTERM or SIGINT; returns which one arrived.
async fn wait_for_shutdown(mut term: Signal, mut int: Signal) -> &'static str {
    tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    }
}

/// `--home`, else `IRONCLAW_HOME`, else `$HOME/.ironclaw`.
fn resolve_home(flag: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    if let Some(path) = flag {
        return Ok(path);
    }
    match std::env::var_os("IRONCLAW_HOME") {
        Some(path) if !path.is_empty() => Ok(PathBuf::from(path)),
        _ => std::env::var_os("HOME")
            .map(|home| PathBuf::from(home).join(".ironclaw"))
            .context("cannot find the home: pass --home, or set IRONCLAW_HOME or HOME"),
    }
}

/// Creates the home (mode 0700) when it does not exist yet, so that the default
/// `ironclawd` works on a fresh machine. An existing home is left as it is.
fn ensure_home(home: &Path) -> anyhow::Result<()> {
    if home.exists() {
        return Ok(());
    }
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(home)
        .with_context(|| format!("cannot create the home {}", home.display()))
}

/// The audit log of a home. The one place that decides it, until the configured
/// `security.auditLog.path` is read by the policy crate.
fn audit_log_path(home: &Path) -> PathBuf {
    home.join("audit.log")
}

/// SHA-256 (hex) of the config file's bytes; of empty input when there is no file,
/// so a missing config and an empty one hash the same (both mean the defaults).
fn config_sha256(path: &Path) -> anyhow::Result<String> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(err) => return Err(err).with_context(|| format!("cannot read {}", path.display())),
    };
    Ok(hex::encode(ring::digest::digest(
        &ring::digest::SHA256,
        &bytes,
    )))
}
