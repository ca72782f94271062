//! `ironclaw secrets`: manage the encrypted secret store in `<home>/secrets`.
//!
//! Values are read from standard input (or a no-echo prompt on a terminal),
//! never from the command line, and are never printed. The master key comes
//! from the standard chain; `IRONCLAW_MASTER_KEY` (64 hex characters or the
//! base64 of 32 bytes) is passed in as the explicit key when set.
//!
//! There is deliberately no command that prints a value: secrets reach
//! tools only through injection at the host boundary.
//!
//! Exit codes: 0 success; 1 the secret does not exist (`rm`) or a secret
//! failed authentication (`verify`); 2 usage or runtime errors, including a
//! wrong master key and a corrupted store.

use std::io::{IsTerminal, Read};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use ironclaw_secrets::{
    Availability, Backend as _, DEFAULT_NAMESPACE, Error, FileBackend, MAX_SECRET_LEN, MasterKey,
    ProviderKind, SecretStore, SecretValue,
};
use time::format_description::well_known::Rfc3339;

use crate::home::Home;

/// The environment variable holding an explicit master key.
const MASTER_KEY_ENV: &str = "IRONCLAW_MASTER_KEY";
/// The environment variable holding the next explicit key for `rotate-key`.
const NEW_MASTER_KEY_ENV: &str = "IRONCLAW_NEW_MASTER_KEY";

/// Manage encrypted secrets (values are read from stdin, never from argv).
#[derive(Debug, Args)]
pub(crate) struct SecretsArgs {
    #[command(subcommand)]
    command: SecretsCommand,
}

#[derive(Debug, Subcommand)]
enum SecretsCommand {
    /// Store a secret; the value is read from stdin, or prompted for without
    /// echo on a terminal.
    Set {
        /// The secret's name (A-Z, a-z, 0-9, '_', '-', '.').
        name: String,
        #[command(flatten)]
        namespace: NamespaceArg,
    },
    /// List secrets (metadata only, never values).
    List {
        #[command(flatten)]
        namespace: NamespaceArg,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove a secret (exit 1 when it does not exist).
    Rm {
        /// The secret's name.
        name: String,
        #[command(flatten)]
        namespace: NamespaceArg,
    },
    /// Decrypt every secret of a namespace to check it is intact (exit 1 when
    /// one fails authentication); prints no values.
    Verify {
        #[command(flatten)]
        namespace: NamespaceArg,
    },
    /// Re-encrypt every secret under a new master key. With
    /// IRONCLAW_MASTER_KEY, the new key is taken from IRONCLAW_NEW_MASTER_KEY
    /// and you must use it as IRONCLAW_MASTER_KEY from then on.
    RotateKey,
    /// Show which master-key provider is in use and which are available.
    Status {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
struct NamespaceArg {
    /// The namespace (lowercase a-z, 0-9, '_', '-', '.').
    #[arg(long, default_value = DEFAULT_NAMESPACE)]
    namespace: String,
}

/// Runs one `ironclaw secrets` command.
pub(crate) fn run(home: &Home, args: SecretsArgs) -> Result<ExitCode> {
    let dir = home.root().join("secrets");
    let explicit = explicit_key()?;
    match args.command {
        SecretsCommand::Set { name, namespace } => {
            ironclaw_secrets::validate_namespace(&namespace.namespace)?;
            ironclaw_secrets::validate_name(&name)?;
            let value = read_value(&name)?;
            let store = open(&dir, explicit)?;
            store.put(&namespace.namespace, &name, &value)?;
            eprintln!(
                "stored secret {name:?} in namespace {:?} ({})",
                namespace.namespace,
                provider_label(store.key_provider())
            );
            Ok(ExitCode::SUCCESS)
        }
        SecretsCommand::List { namespace, json } => {
            ironclaw_secrets::validate_namespace(&namespace.namespace)?;
            let secrets = if is_new(&dir)? {
                Vec::new()
            } else {
                open(&dir, explicit)?.list(&namespace.namespace)?
            };
            if json {
                println!("{}", serde_json::to_string_pretty(&secrets)?);
            } else if secrets.is_empty() {
                eprintln!("no secrets in namespace {:?}", namespace.namespace);
            } else {
                println!(
                    "{:<32} {:>7}  {:<24}  {:<24}  LAST USED",
                    "NAME", "VERSION", "CREATED", "UPDATED"
                );
                for secret in secrets {
                    println!(
                        "{:<32} {:>7}  {:<24}  {:<24}  {}",
                        secret.name,
                        secret.version,
                        timestamp(secret.created),
                        timestamp(secret.updated),
                        secret
                            .last_used
                            .map_or_else(|| "never".to_owned(), timestamp)
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        SecretsCommand::Rm { name, namespace } => {
            ironclaw_secrets::validate_namespace(&namespace.namespace)?;
            ironclaw_secrets::validate_name(&name)?;
            let removed =
                !is_new(&dir)? && open(&dir, explicit)?.remove(&namespace.namespace, &name)?;
            if removed {
                eprintln!(
                    "removed secret {name:?} from namespace {:?}",
                    namespace.namespace
                );
                Ok(ExitCode::SUCCESS)
            } else {
                eprintln!(
                    "ironclaw: secret {name:?} not found in namespace {:?}",
                    namespace.namespace
                );
                Ok(ExitCode::from(1))
            }
        }
        SecretsCommand::Verify { namespace } => {
            ironclaw_secrets::validate_namespace(&namespace.namespace)?;
            if is_new(&dir)? {
                eprintln!("no secret store yet in {}", dir.display());
                return Ok(ExitCode::SUCCESS);
            }
            let store = open(&dir, explicit)?;
            let mut failed = 0usize;
            let secrets = store.list(&namespace.namespace)?;
            for secret in &secrets {
                match store.get(&namespace.namespace, &secret.name) {
                    Ok(_value) => {}
                    Err(err @ Error::Tampered { .. }) => {
                        failed += 1;
                        eprintln!("ironclaw: {err}");
                    }
                    Err(err) => return Err(err.into()),
                }
            }
            if failed > 0 {
                eprintln!(
                    "{failed} of {} secrets failed authentication",
                    secrets.len()
                );
                return Ok(ExitCode::from(1));
            }
            eprintln!(
                "{} secrets in namespace {:?} are intact",
                secrets.len(),
                namespace.namespace
            );
            Ok(ExitCode::SUCCESS)
        }
        SecretsCommand::RotateKey => {
            if is_new(&dir)? {
                bail!(
                    "no secret store yet in {}: nothing to rotate",
                    dir.display()
                );
            }
            let mut store = open(&dir, explicit)?;
            if store.key_provider() == ProviderKind::Explicit {
                let Some(next) = key_from_env(NEW_MASTER_KEY_ENV)? else {
                    bail!(
                        "the store's key comes from {MASTER_KEY_ENV}, which the store cannot replace: \
                         set {NEW_MASTER_KEY_ENV} to the new key (64 hex characters or the base64 of 32 bytes) and run again"
                    );
                };
                store.rotate_to(next)?;
                eprintln!(
                    "re-encrypted every secret under {NEW_MASTER_KEY_ENV}; key generation is now {}; \
                     from now on set {MASTER_KEY_ENV} to the new key",
                    store.key_generation()
                );
                return Ok(ExitCode::SUCCESS);
            }
            store.rotate_key()?;
            eprintln!(
                "rotated the master key ({}); key generation is now {}",
                provider_label(store.key_provider()),
                store.key_generation()
            );
            Ok(ExitCode::SUCCESS)
        }
        SecretsCommand::Status { json } => status(&dir, explicit, json),
    }
}

fn status(dir: &std::path::Path, explicit: Option<MasterKey>, json: bool) -> Result<ExitCode> {
    let chain = ironclaw_secrets::KeyChain::standard(dir, None);
    let mut providers: Vec<serde_json::Value> = chain
        .report()
        .into_iter()
        .map(|(kind, availability)| match availability {
            Availability::Available => serde_json::json!({ "provider": kind, "available": true }),
            Availability::Unavailable(reason) => {
                serde_json::json!({ "provider": kind, "available": false, "reason": reason })
            }
        })
        .collect();
    providers.insert(
        providers.len().saturating_sub(1),
        if explicit.is_some() {
            serde_json::json!({ "provider": ProviderKind::Explicit, "available": true })
        } else {
            serde_json::json!({ "provider": ProviderKind::Explicit, "available": false,
                "reason": format!("{MASTER_KEY_ENV} is not set") })
        },
    );
    let (in_use, generation) = if is_new(dir)? {
        (None, None)
    } else {
        let store = open(dir, explicit)?;
        (Some(store.key_provider()), Some(store.key_generation()))
    };
    if json {
        let report = serde_json::json!({
            "store": dir.join("store.json"),
            "provider": in_use,
            "key_generation": generation,
            "providers": providers,
        });
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("store: {}", dir.join("store.json").display());
        match in_use {
            Some(kind) => println!(
                "master key: {} (generation {})",
                provider_label(kind),
                generation.unwrap_or(0)
            ),
            None => println!("master key: none yet (created on the first `ironclaw secrets set`)"),
        }
        println!("providers, in order:");
        for provider in providers {
            let name = provider["provider"].as_str().unwrap_or("?");
            match (provider["available"].as_bool(), provider["reason"].as_str()) {
                (Some(true), _) => println!("  {name}: available"),
                (_, Some(reason)) => println!("  {name}: not used ({reason})"),
                _ => println!("  {name}: not used"),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn explicit_key() -> Result<Option<MasterKey>> {
    key_from_env(MASTER_KEY_ENV)
}

fn key_from_env(variable: &str) -> Result<Option<MasterKey>> {
    match std::env::var(variable) {
        Ok(text) if !text.trim().is_empty() => {
            let text = zeroize::Zeroizing::new(text);
            Ok(Some(
                MasterKey::parse(&text).with_context(|| format!("{variable} is not usable"))?,
            ))
        }
        Ok(_) | Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => bail!("{variable} is not valid UTF-8"),
    }
}

pub(crate) fn open(dir: &std::path::Path, explicit: Option<MasterKey>) -> Result<SecretStore> {
    SecretStore::open_dir(dir, explicit).map_err(|err| {
        let hint = match &err {
            Error::WrongKey {
                provider: ProviderKind::Explicit,
            } => format!(
                "{MASTER_KEY_ENV} does not open the secret store in {}",
                dir.display()
            ),
            Error::MissingKey { .. } => format!(
                "cannot open the secret store in {}: set {MASTER_KEY_ENV} to its key or restore its master.key",
                dir.display()
            ),
            _ => format!("cannot open the secret store in {}", dir.display()),
        };
        anyhow::Error::new(err).context(hint)
    })
}

/// Whether the store was never written (so read-only commands create nothing).
fn is_new(dir: &std::path::Path) -> Result<bool> {
    let header = FileBackend::new(dir)
        .key_header()
        .with_context(|| format!("cannot read the secret store in {}", dir.display()))?;
    Ok(header.is_none())
}

fn provider_label(kind: ProviderKind) -> String {
    match kind {
        ProviderKind::Explicit => format!("master key from {MASTER_KEY_ENV}"),
        other => other.to_string(),
    }
}

fn timestamp(when: time::OffsetDateTime) -> String {
    when.format(&Rfc3339).unwrap_or_else(|_| "?".to_owned())
}

fn read_value(name: &str) -> Result<SecretValue> {
    let stdin = std::io::stdin();
    let value = if stdin.is_terminal() {
        let text = rpassword::prompt_password(format!("value for {name} (input hidden): "))
            .context("cannot read the value from the terminal")?;
        SecretValue::from(text)
    } else {
        // Reserve the whole limit up front so the buffer never reallocates
        // and leaves copies of the value in freed memory.
        let mut bytes = Vec::with_capacity(MAX_SECRET_LEN + 3);
        stdin
            .lock()
            .take(MAX_SECRET_LEN as u64 + 3)
            .read_to_end(&mut bytes)
            .context("cannot read the value from stdin")?;
        SecretValue::new(strip_line_end(bytes))
    };
    if value.is_empty() {
        bail!(
            "the value for secret {name:?} is empty: pipe it on stdin, e.g. `printf %s \"$TOKEN\" | ironclaw secrets set {name}`"
        );
    }
    Ok(value)
}

/// Drops one trailing `\n` or `\r\n`, as `echo` and editors add one.
fn strip_line_end(mut bytes: Vec<u8>) -> Vec<u8> {
    if bytes.last() == Some(&b'\n') {
        bytes.pop();
        if bytes.last() == Some(&b'\r') {
            bytes.pop();
        }
    }
    bytes
}
