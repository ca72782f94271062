//! `ironclawd`: the IronClaw daemon. A composition root only: it parses arguments and
//! config, builds library objects, wires them together and maps errors to exit codes.
//!
//! Start-up order matters: the config is loaded and validated first (every problem is
//! reported at once and the daemon refuses to start), then the audit log it names is
//! opened, and the daemon refuses to start (exit 1, message naming the path) when it
//! cannot be written, because audit logging cannot be turned off. It then records
//! `GATEWAY_START` (canonical config hash, sandbox mode, authorised skills), warns
//! loudly at every start in `audit-only` mode, waits for SIGTERM or SIGINT, records
//! `GATEWAY_STOP` and exits 0.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use ironclaw_audit::{AuditConfig, AuditLog, Event, EventKind};
use ironclaw_policy::{Allowlist, Config, HomeLayout, LoadedConfig, SandboxMode};
use tokio::signal::unix::{Signal, SignalKind, signal};

/// The IronClaw daemon.
#[derive(Debug, Parser)]
#[command(name = "ironclawd", version, about)]
struct Args {
    /// The runtime home (default: $IRONCLAW_HOME, else ~/.ironclaw).
    #[arg(long, value_name = "DIR")]
    home: Option<PathBuf>,
}

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
    let layout = HomeLayout::new(&home);
    let loaded = load_config(&layout)?;
    for warning in &loaded.warnings {
        tracing::warn!("config: {}: {}", warning.path, warning.reason);
    }
    let config = &loaded.config;
    let sandbox_mode = config.security.sandbox.mode;
    if sandbox_mode == SandboxMode::AuditOnly {
        tracing::warn!(
            "SANDBOX MODE IS audit-only: NOTHING IS BLOCKED. This mode gives zero \
             protection; set security.sandbox.mode to strict after your migration."
        );
    }
    let audit_config = audit_config(&layout, config)?;
    let audit_path = audit_config.path().to_path_buf();
    let log = AuditLog::open(audit_config).with_context(|| {
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

    let config_file_sha256 = config_sha256(&layout.config())?;
    let allowlist: Allowlist = ironclaw_policy::load_json(&layout.allowlist())
        .with_context(|| format!("cannot read the allowlist {}", layout.allowlist().display()))?;
    log.record(
        Event::builder(EventKind::GatewayStart)
            .action("start")
            .field("configSha256", config.canonical_hash())
            .field("configFileSha256", config_file_sha256)
            .field("sandboxMode", serde_json::to_value(sandbox_mode)?)
            .field("skillsAuthorised", allowlist.skills.len())
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
        if !home.is_dir() {
            anyhow::bail!(
                "refusing to start: the home {} is not a directory, so the audit log {} cannot be written",
                home.display(),
                home.join("audit.log").display()
            );
        }
        return Ok(());
    }
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(home)
        .with_context(|| format!("cannot create the home {}", home.display()))
}

/// Loads `ironclaw.json` (the defaults when it does not exist), expanding `${VAR}`
/// from the environment, then from the home's `.env` (refused unless mode 0600).
fn load_config(layout: &HomeLayout) -> anyhow::Result<LoadedConfig> {
    let path = layout.config();
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => "{}".to_owned(),
        Err(err) => return Err(err).with_context(|| format!("cannot read {}", path.display())),
    };
    let dotenv = ironclaw_policy::load_dotenv(&layout.dotenv())?;
    let env = |name: &str| {
        std::env::var(name)
            .ok()
            .or_else(|| dotenv.get(name).cloned())
    };
    Ok(Config::from_text(&text, &path, &env)?)
}

/// The audit log settings from the config: `security.auditLog.path` (a leading `~/`
/// is the user's home; a relative path is inside the IronClaw home; default
/// `<home>/audit.log`) and its rotation.
fn audit_config(layout: &HomeLayout, config: &Config) -> anyhow::Result<AuditConfig> {
    let settings = &config.security.audit_log;
    let path = match &settings.path {
        None => layout.audit_log(),
        Some(path) => match path.strip_prefix("~") {
            Ok(rest) => std::env::var_os("HOME")
                .map(|home| PathBuf::from(home).join(rest))
                .context("security.auditLog.path starts with ~ but HOME is not set")?,
            Err(_) if path.is_relative() => layout.root().join(path),
            Err(_) => path.clone(),
        },
    };
    let keep_days = u32::try_from(settings.keep_days).unwrap_or(u32::MAX);
    Ok(AuditConfig::new(path)
        .max_size_mb(settings.max_size_mb)
        .keep_days(keep_days)
        .compress(settings.compress))
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
