//! `ironclaw allowlist list|grant|revoke|remove|suspend|unsuspend`.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Result, bail};
use clap::{Args, Subcommand};
use ironclaw_audit::{Event, EventKind};
use ironclaw_policy::{
    Allowlist, AllowlistChange, AllowlistError, Config, EnvPermission, FsPermission, HomeLayout,
    NetworkPermission, Permissions, SuspensionState, is_sensitive_env, load_json, parse_jsonc,
    read_config_text, skill_digest, update_json,
};
use serde_json::Value;

use crate::config::{CliAudit, open_audit};
use crate::home::Home;

/// Skill allowlist commands.
#[derive(Debug, Args)]
pub(crate) struct AllowlistArgs {
    #[command(subcommand)]
    command: AllowlistCommand,
}

#[derive(Debug, Subcommand)]
enum AllowlistCommand {
    /// Show authorised skills, their grants and suspensions.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Authorise a skill and add grants (no flags: only its own workspace).
    Grant(GrantArgs),
    /// Remove grants; the skill stays authorised.
    Revoke(GrantArgs),
    /// Remove a skill from the allowlist: it will not run.
    Remove {
        /// The skill.
        skill: String,
    },
    /// Suspend a skill now (incident response).
    Suspend {
        /// The skill.
        skill: String,
        /// For how long (default: security.autoSuspend.suspendDurationMinutes).
        #[arg(long)]
        minutes: Option<u64>,
    },
    /// Lift a suspension.
    Unsuspend {
        /// The skill.
        skill: String,
    },
}

#[derive(Debug, Args)]
struct GrantArgs {
    /// The skill.
    skill: String,
    /// Network access, HOST[:PORT] (port 443 when absent); `*.suffix` for subdomains.
    #[arg(long, value_name = "HOST[:PORT]")]
    network: Vec<String>,
    /// Filesystem access, PATH:ro or PATH:rw.
    #[arg(long, value_name = "PATH:ro|rw")]
    filesystem: Vec<String>,
    /// An environment variable (exact name, or PREFIX* which never covers *_API_KEY / *_TOKEN).
    #[arg(long, value_name = "NAME")]
    env: Vec<String>,
    /// A secret injected at the boundary.
    #[arg(long, value_name = "NAME")]
    secret: Vec<String>,
    /// Tools the skill may invoke.
    #[arg(long, value_name = "NAME")]
    tool: Vec<String>,
    /// Shell access: full host access as your user.
    #[arg(long)]
    shell: bool,
    /// Confirm credential variables (*_API_KEY, *_TOKEN) without a prompt.
    #[arg(long)]
    yes: bool,
}

pub(crate) fn run(home: &Home, args: AllowlistArgs) -> Result<ExitCode> {
    let layout = HomeLayout::new(home.root());
    match args.command {
        AllowlistCommand::List { json } => list(&layout, json),
        AllowlistCommand::Grant(args) => grant(&layout, args),
        AllowlistCommand::Revoke(args) => revoke(&layout, args),
        AllowlistCommand::Remove { skill } => {
            let audit = open_audit(&layout)?;
            let change = update_json(&layout.allowlist(), |list: &mut Allowlist| {
                list.remove(&skill)
            })?;
            record_change(&audit, &change)?;
            println!("removed {skill}: it will not run");
            Ok(ExitCode::SUCCESS)
        }
        AllowlistCommand::Suspend { skill, minutes } => suspend(&layout, &skill, minutes),
        AllowlistCommand::Unsuspend { skill } => unsuspend(&layout, &skill),
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn permissions(args: &GrantArgs) -> Result<Permissions> {
    let user_home = std::env::var_os("HOME").map(PathBuf::from);
    let mut p = Permissions::default();
    for n in &args.network {
        p.network.insert(NetworkPermission::parse(n)?);
    }
    for f in &args.filesystem {
        p.filesystem
            .insert(FsPermission::parse(f, user_home.as_deref())?);
    }
    for e in &args.env {
        p.env.insert(EnvPermission::parse(e)?);
    }
    for s in &args.secret {
        if s.is_empty() {
            bail!("--secret needs a name");
        }
        p.secrets.insert(s.clone());
    }
    for t in &args.tool {
        if t.is_empty() {
            bail!("--tool needs a name");
        }
        p.tools.insert(t.clone());
    }
    p.shell = args.shell;
    Ok(p)
}

/// Credential variables are granted only by exact name and only after the
/// operator confirms (a prompt on a terminal, `--yes` otherwise).
fn confirm_sensitive(args: &GrantArgs, grants: &Permissions) -> Result<()> {
    let sensitive: Vec<&str> = grants
        .env
        .iter()
        .filter(|e| e.is_exact() && is_sensitive_env(e.as_str()))
        .map(EnvPermission::as_str)
        .collect();
    if sensitive.is_empty() || args.yes {
        return Ok(());
    }
    let list = sensitive.join(", ");
    if !std::io::stdin().is_terminal() {
        bail!(
            "{list} holds credentials; pass --yes to confirm granting it to {}",
            args.skill
        );
    }
    eprint!(
        "grant credential variable(s) {list} to {}? [y/N] ",
        args.skill
    );
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    if matches!(answer.trim(), "y" | "Y" | "yes") {
        Ok(())
    } else {
        bail!("not confirmed; nothing changed")
    }
}

fn grant(layout: &HomeLayout, args: GrantArgs) -> Result<ExitCode> {
    let grants = permissions(&args)?;
    confirm_sensitive(&args, &grants)?;
    if grants.shell {
        eprintln!(
            "warning: shell access gives {} full access to the host as your user; review its source",
            args.skill
        );
    }
    let skill_dir = layout.skill_dir(&args.skill);
    let digest = if skill_dir.is_dir() {
        Some(skill_digest(&skill_dir)?)
    } else {
        eprintln!(
            "warning: skill {} is not installed; the grant is not pinned to a digest",
            args.skill
        );
        None
    };
    let audit = open_audit(layout)?;
    let change = update_json(&layout.allowlist(), |list: &mut Allowlist| {
        list.grant(&args.skill, &grants, digest.clone())
    })?;
    record_change(&audit, &change)?;
    if change.grants.is_empty() {
        println!("{} authorised with its own workspace only", args.skill);
    } else {
        println!("{} grants: {}", args.skill, change.grants.join(" "));
    }
    Ok(ExitCode::SUCCESS)
}

fn revoke(layout: &HomeLayout, args: GrantArgs) -> Result<ExitCode> {
    let grants = permissions(&args)?;
    let audit = open_audit(layout)?;
    let change = update_json(&layout.allowlist(), |list: &mut Allowlist| {
        list.revoke(&args.skill, &grants)
    })?;
    record_change(&audit, &change)?;
    let requested = grants.describe();
    for item in requested.iter().filter(|r| !change.removed.contains(r)) {
        eprintln!("note: {} did not have {item}", args.skill);
    }
    println!("{} grants: {}", args.skill, change.grants.join(" "));
    Ok(ExitCode::SUCCESS)
}

fn record_change(audit: &CliAudit, change: &AllowlistChange) -> Result<()> {
    audit.record(
        Event::builder(EventKind::AllowlistChange)
            .skill(&change.skill)
            .action(change.action)
            .resource(&change.skill)
            .granted(change.grants.iter().cloned())
            .field("added", change.added.clone())
            .field("removed", change.removed.clone())
            .field("digest", change.digest.clone())
            .build()?,
    )
}

fn suspend_minutes_default(layout: &HomeLayout) -> u64 {
    let raw = read_config_text(&layout.config())
        .ok()
        .and_then(|t| parse_jsonc(&t).ok())
        .unwrap_or(Value::Null);
    raw.pointer("/security/autoSuspend/suspendDurationMinutes")
        .and_then(Value::as_u64)
        .unwrap_or(
            Config::default()
                .security
                .auto_suspend
                .suspend_duration_minutes,
        )
}

fn suspend(layout: &HomeLayout, skill: &str, minutes: Option<u64>) -> Result<ExitCode> {
    let minutes = minutes.unwrap_or_else(|| suspend_minutes_default(layout));
    if minutes == 0 {
        bail!("--minutes must be at least 1");
    }
    let audit = open_audit(layout)?;
    let until = now_ms().saturating_add(minutes.saturating_mul(60_000));
    update_json(&layout.suspensions(), |state: &mut SuspensionState| {
        state
            .skills
            .entry(skill.to_owned())
            .or_default()
            .suspended_until = Some(until);
        Ok::<_, AllowlistError>(())
    })?;
    audit.record(
        Event::builder(EventKind::SkillSuspended)
            .skill(skill)
            .action("suspend")
            .resource(skill)
            .blocked(true)
            .field("untilMs", until)
            .field("minutes", minutes)
            .field("by", "operator")
            .build()?,
    )?;
    println!("{skill} suspended for {minutes} minutes");
    Ok(ExitCode::SUCCESS)
}

fn unsuspend(layout: &HomeLayout, skill: &str) -> Result<ExitCode> {
    let audit = open_audit(layout)?;
    let was = update_json(&layout.suspensions(), |state: &mut SuspensionState| {
        Ok::<_, AllowlistError>(state.unsuspend(skill))
    })?;
    if !was {
        println!("{skill} is not suspended");
        return Ok(ExitCode::SUCCESS);
    }
    let list: Allowlist = load_json(&layout.allowlist())?;
    let grants = list
        .skills
        .get(skill)
        .map(|e| e.grants.describe())
        .unwrap_or_default();
    audit.record(
        Event::builder(EventKind::AllowlistChange)
            .skill(skill)
            .action("unsuspend")
            .resource(skill)
            .granted(grants)
            .build()?,
    )?;
    println!("{skill} unsuspended");
    Ok(ExitCode::SUCCESS)
}

fn list(layout: &HomeLayout, json: bool) -> Result<ExitCode> {
    let list: Allowlist = load_json(&layout.allowlist())?;
    let state: SuspensionState = load_json(&layout.suspensions())?;
    let now = now_ms();
    if json {
        let skills: Vec<Value> = list
            .skills
            .iter()
            .map(|(name, entry)| {
                serde_json::json!({
                    "skill": name,
                    "digest": entry.digest,
                    "grants": entry.grants,
                    "suspendedUntilMs": state.suspended_until(name, now),
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&skills)?);
        return Ok(ExitCode::SUCCESS);
    }
    if list.skills.is_empty() {
        println!("no skills are authorised");
    }
    for (name, entry) in &list.skills {
        let grants = entry.grants.describe();
        let grants = if grants.is_empty() {
            "own workspace only".to_owned()
        } else {
            grants.join(" ")
        };
        let digest = entry
            .digest
            .as_deref()
            .map(|d| d.chars().take(19).collect::<String>())
            .unwrap_or_else(|| "unpinned".into());
        let suspended = match state.suspended_until(name, now) {
            Some(until) => format!(
                " SUSPENDED for {} more minutes",
                until.saturating_sub(now).div_ceil(60_000)
            ),
            None => String::new(),
        };
        println!("{name} [{digest}]{suspended}: {grants}");
    }
    Ok(ExitCode::SUCCESS)
}
