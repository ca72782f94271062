//! `ironclaw config get|set|validate`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use ironclaw_audit::{AuditConfig, AuditLog, Event, EventKind};
use ironclaw_policy::{
    Config, HomeLayout, KeyKind, expand_str, load_dotenv, parse_jsonc, parse_key, read_config_text,
    redact_value, set_config_value, validate,
};
use serde_json::Value;

use crate::home::Home;

/// Config commands.
#[derive(Debug, Args)]
pub(crate) struct ConfigArgs {
    #[command(subcommand)]
    command: ConfigCommand,
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Print the effective value of a key (secrets redacted).
    Get {
        /// Dotted key, for example security.sandbox.mode.
        key: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Set a key; an invalid value leaves the file unchanged.
    Set {
        /// Dotted key.
        key: String,
        /// The value (typed by the key: true/false, integers, strings, JSON lists).
        value: String,
    },
    /// Validate a config file (default: the home's); exit 1 on any error.
    Validate {
        /// The file to validate.
        file: Option<PathBuf>,
        /// Print a JSON report.
        #[arg(long)]
        json: bool,
    },
}

pub(crate) fn run(home: &Home, args: ConfigArgs) -> Result<ExitCode> {
    let layout = HomeLayout::new(home.root());
    match args.command {
        ConfigCommand::Get { key, json } => get(&layout, &key, json),
        ConfigCommand::Set { key, value } => set(&layout, &key, &value),
        ConfigCommand::Validate { file, json } => validate_file(&layout, file, json),
    }
}

/// Variables for `${VAR}`: the process environment first, then the home's `.env`
/// (refused unless mode 0600).
pub(crate) fn env_lookup(layout: &HomeLayout) -> Result<impl Fn(&str) -> Option<String>> {
    let dotenv: HashMap<String, String> = load_dotenv(&layout.dotenv())?;
    Ok(move |name: &str| {
        std::env::var(name)
            .ok()
            .or_else(|| dotenv.get(name).cloned())
    })
}

/// The audit log opened for one command (the audit writer serialises appends
/// across processes with a lock on its seal file).
#[derive(Debug)]
pub(crate) struct CliAudit {
    log: AuditLog,
}

impl CliAudit {
    pub(crate) fn record(&self, event: Event) -> Result<()> {
        self.log
            .record(event)
            .context("cannot record the audit event")
    }
}

/// The audit log settings from the config (default path `<home>/audit.log`).
pub(crate) fn audit_config(layout: &HomeLayout) -> Result<AuditConfig> {
    let text = read_config_text(&layout.config())?;
    let raw = parse_jsonc(&text).unwrap_or(Value::Null);
    let section = raw.pointer("/security/auditLog");
    let path = match section.and_then(|s| s.get("path")).and_then(Value::as_str) {
        Some(p) => {
            let env = env_lookup(layout)?;
            PathBuf::from(
                expand_str(p, &env).map_err(|e| anyhow::anyhow!("security.auditLog.path: {e}"))?,
            )
        }
        None => layout.audit_log(),
    };
    let defaults = Config::default().security.audit_log;
    let num = |key: &str, default: u64| {
        section
            .and_then(|s| s.get(key))
            .and_then(Value::as_u64)
            .unwrap_or(default)
    };
    Ok(AuditConfig::new(&path)
        .max_size_mb(num("maxSizeMb", defaults.max_size_mb))
        .keep_days(u32::try_from(num("keepDays", defaults.keep_days)).unwrap_or(u32::MAX))
        .compress(
            section
                .and_then(|s| s.get("compress"))
                .and_then(Value::as_bool)
                .unwrap_or(defaults.compress),
        ))
}

/// Opens the audit log named by the config (default `<home>/audit.log`).
pub(crate) fn open_audit(layout: &HomeLayout) -> Result<CliAudit> {
    let config = audit_config(layout)?;
    let path = config.path().to_path_buf();
    let log = AuditLog::open(config)
        .with_context(|| format!("cannot open the audit log {}", path.display()))?;
    for warning in log.warnings() {
        eprintln!("warning: {warning}");
    }
    Ok(CliAudit { log })
}

fn get(layout: &HomeLayout, key: &str, json: bool) -> Result<ExitCode> {
    let (parts, kind) = parse_key(key)?;
    let text = read_config_text(&layout.config())?;
    let raw = parse_jsonc(&text).with_context(|| format!("{}", layout.config().display()))?;
    let written = parts.iter().try_fold(&raw, |v, k| v.get(k)).cloned();
    let value = match written {
        Some(v) => Some(v),
        None => default_value(&raw, &parts),
    };
    let Some(value) = value.filter(|v| !v.is_null()) else {
        eprintln!("{key} is not set");
        return Ok(ExitCode::from(1));
    };
    let value = redact_value(&parts, &value);
    match (&value, json) {
        (Value::String(s), false) if !matches!(kind, KeyKind::Object | KeyKind::Map) => {
            println!("{s}")
        }
        _ => println!("{value}"),
    }
    Ok(ExitCode::SUCCESS)
}

/// The default for a key not written in the file: from the typed defaults,
/// with user-named sections (a channel, a provider) filled with their defaults.
fn default_value(raw: &Value, parts: &[String]) -> Option<Value> {
    let lenient: Config = serde_json::from_value(raw.clone()).unwrap_or_default();
    if let Some(v) = lenient.get(parts) {
        return Some(v);
    }
    let mut doc = serde_json::to_value(&lenient).ok()?;
    // A named section that does not exist yet: show what it would default to.
    if parts.len() >= 3 && parts[0] == "channels" {
        doc["channels"][&parts[1]] =
            serde_json::to_value(ironclaw_policy::ChannelConfig::default()).ok()?;
    }
    if parts.len() >= 4 && parts[0] == "llm" {
        doc["llm"]["providers"][&parts[2]] =
            serde_json::to_value(ironclaw_policy::LlmProvider::default()).ok()?;
    }
    parts.iter().try_fold(&doc, |v, k| v.get(k)).cloned()
}

fn set(layout: &HomeLayout, key: &str, value: &str) -> Result<ExitCode> {
    // Open the audit log first: a change that cannot be recorded is not made.
    let audit = open_audit(layout)?;
    let change = set_config_value(&layout.config(), key, value)?;
    for warning in &change.warnings {
        eprintln!("warning: {warning}");
    }
    let before = change.before.clone().unwrap_or(Value::Null);
    audit.record(
        Event::builder(EventKind::ConfigChange)
            .action("set")
            .resource(key)
            .field("key", key)
            .field("before", before.clone())
            .field("after", change.after.clone())
            .build()?,
    )?;
    println!("{key}: {before} -> {}", change.after);
    Ok(ExitCode::SUCCESS)
}

fn validate_file(layout: &HomeLayout, file: Option<PathBuf>, json: bool) -> Result<ExitCode> {
    let text = match &file {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?,
        // No config in the home means the (safe) defaults.
        None => read_config_text(&layout.config())?,
    };
    let path = file.unwrap_or_else(|| layout.config());
    let env = env_lookup(layout)?;
    let (errors, warnings, hash) = match parse_jsonc(&text) {
        Err(e) => (vec![format!("{}: {e}", path.display())], Vec::new(), None),
        Ok(doc) => {
            let report = validate(&doc, Some(&env));
            let hash = if report.is_ok() {
                Config::from_text(&text, &path, &env)
                    .ok()
                    .map(|c| c.config.canonical_hash())
            } else {
                None
            };
            (
                report.errors.iter().map(ToString::to_string).collect(),
                report
                    .warnings
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>(),
                hash,
            )
        }
    };
    if json {
        let out = serde_json::json!({
            "file": path.display().to_string(),
            "valid": errors.is_empty(),
            "errors": errors,
            "warnings": warnings,
            "configSha256": hash,
        });
        println!("{out}");
    } else {
        for e in &errors {
            println!("error: {e}");
        }
        for w in &warnings {
            println!("warning: {w}");
        }
        if let Some(hash) = &hash {
            println!("ok: {} (sha256 {hash})", path.display());
        }
    }
    Ok(if errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
