//! `ironclaw skill install|inspect|list` and `ironclaw run SKILL --params JSON`.
//!
//! Installing copies a checked skill into `<home>/skills/<name>/` and grants
//! nothing: a skill runs only once `ironclaw allowlist grant` authorised it, and
//! then with requested ∩ granted. `run` writes SKILL_CALL (or ALLOWLIST_DENY /
//! SKILL_SUSPENDED, exit 1) before anything runs, and TOOL_RESULT after.
//! Compiled components are cached in `<home>/cache/wasm/`.

use std::collections::{BTreeSet, VecDeque};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use ironclaw_audit::{AuditLog, Event, EventKind};
use ironclaw_policy::{
    Access, Allowlist, Authorization, AutoSuspendConfig, Config, DenyEvent, HomeLayout,
    InstalledSkill, SkillKind, SuspensionState, load_json, parse_jsonc, read_config_text,
};
use ironclaw_wasm_host::{
    EngineConfig, ToolError, ToolHost, ToolSpec, Violation, WasmEngine, WorkspaceGrant,
};
use serde_json::{Value, json};

use crate::config::audit_config;
use crate::home::Home;

/// Skill commands.
#[derive(Debug, Args)]
pub(crate) struct SkillArgs {
    #[command(subcommand)]
    command: SkillCommand,
}

#[derive(Debug, Subcommand)]
enum SkillCommand {
    /// Check a skill directory and install it into the home (grants nothing).
    Install {
        /// The skill's directory (skill.json, capabilities.json, its entry).
        dir: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show an installed skill: manifest, digest, requests, grants.
    Inspect {
        /// The skill.
        name: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// List installed skills.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `ironclaw run`.
#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// The installed, allowlisted skill.
    skill: String,
    /// Its parameters, a JSON value.
    #[arg(long, default_value = "{}")]
    params: String,
}

pub(crate) fn run(home: &Home, args: SkillArgs) -> Result<ExitCode> {
    let layout = HomeLayout::new(home.root());
    match args.command {
        SkillCommand::Install { dir, json } => install(&layout, &dir, json),
        SkillCommand::Inspect { name, json } => inspect(&layout, &name, json),
        SkillCommand::List { json } => list(&layout, json),
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The engine of this process, caching compiled components in the home.
fn engine(layout: &HomeLayout) -> Result<WasmEngine> {
    let cache = layout.root().join("cache").join("wasm");
    std::fs::create_dir_all(&cache)
        .with_context(|| format!("cannot create {}", cache.display()))?;
    Ok(WasmEngine::new(EngineConfig {
        cache_dir: Some(cache),
        ..EngineConfig::default()
    })?)
}

/// The entry file of a wasm skill: a plain relative path inside `dir`.
fn entry_path(dir: &Path, skill: &InstalledSkill) -> Result<PathBuf> {
    let entry = &skill.manifest.entry;
    let rel = Path::new(entry);
    if entry.is_empty()
        || rel.is_absolute()
        || rel
            .components()
            .any(|c| !matches!(c, std::path::Component::Normal(_)))
    {
        bail!(
            "{}: entry {entry:?} must be a relative path inside the skill",
            dir.join("skill.json").display()
        );
    }
    let path = dir.join(rel);
    if !path.is_file() {
        bail!(
            "{}: entry {entry} is missing (for the example tools, run `cargo xtask tools`)",
            dir.join("skill.json").display()
        );
    }
    Ok(path)
}

fn install(layout: &HomeLayout, dir: &Path, as_json: bool) -> Result<ExitCode> {
    let skill = InstalledSkill::load(dir)?;
    let name = skill.manifest.name.clone();
    if skill.manifest.kind == SkillKind::Wasm {
        let entry = entry_path(dir, &skill)?;
        // Compiling checks that it is a component and that it imports nothing
        // the host does not provide.
        engine(layout)?
            .load(&entry)
            .with_context(|| format!("{} is not a usable tool component", entry.display()))?;
    }
    let requested = skill.capabilities.requested()?.describe();

    let skills_dir = layout.skills_dir();
    std::fs::create_dir_all(&skills_dir)
        .with_context(|| format!("cannot create {}", skills_dir.display()))?;
    let staging = skills_dir.join(format!(".install-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    copy_dir(dir, &staging)?;
    let installed = InstalledSkill::load(&staging)?;
    let target = layout.skill_dir(&name);
    let replaced = target.exists();
    if replaced {
        std::fs::remove_dir_all(&target)
            .with_context(|| format!("cannot replace {}", target.display()))?;
    }
    std::fs::rename(&staging, &target)
        .with_context(|| format!("cannot install into {}", target.display()))?;

    let list: Allowlist = load_json(&layout.allowlist())?;
    let authorised = list.skills.contains_key(&name);
    if as_json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "name": name,
                "version": installed.manifest.version,
                "kind": installed.manifest.kind,
                "digest": installed.digest,
                "requests": requested,
                "authorised": authorised,
                "replaced": replaced,
            }))?
        );
    } else {
        println!(
            "installed {name} {} ({})",
            installed.manifest.version, installed.digest
        );
        if requested.is_empty() {
            println!("requests: nothing beyond its own workspace");
        } else {
            println!("requests:");
            for r in &requested {
                println!("  {r}");
            }
        }
        if authorised {
            println!(
                "{name} is in the allowlist; it keeps its existing grants (pinned to the digest they were given for)"
            );
        } else {
            println!(
                "nothing is granted: run `ironclaw allowlist grant {name} ...` to authorise it"
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Copies regular files and directories; anything else is refused.
fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to).with_context(|| format!("cannot create {}", to.display()))?;
    for entry in
        std::fs::read_dir(from).with_context(|| format!("cannot read {}", from.display()))?
    {
        let entry = entry?;
        let kind = entry.file_type()?;
        let src = entry.path();
        let dst = to.join(entry.file_name());
        if kind.is_dir() {
            copy_dir(&src, &dst)?;
        } else if kind.is_file() {
            std::fs::copy(&src, &dst).with_context(|| format!("cannot copy {}", src.display()))?;
        } else {
            bail!(
                "{}: only regular files and directories can be installed",
                src.display()
            );
        }
    }
    Ok(())
}

fn describe(layout: &HomeLayout, name: &str) -> Result<Value> {
    let dir = layout.skill_dir(name);
    if !ironclaw_policy::is_valid_skill_name(name) || !dir.is_dir() {
        bail!("skill {name} is not installed");
    }
    let skill = InstalledSkill::load(&dir)?;
    let requested = skill.capabilities.requested()?;
    let list: Allowlist = load_json(&layout.allowlist())?;
    let suspensions: SuspensionState = load_json(&layout.suspensions())?;
    let suspended = suspensions.suspended_until(name, now_ms());
    let mut out = json!({
        "name": skill.manifest.name,
        "version": skill.manifest.version,
        "kind": skill.manifest.kind,
        "entry": skill.manifest.entry,
        "description": skill.manifest.description,
        "digest": skill.digest,
        "capabilities": skill.capabilities,
        "requests": requested.describe(),
        "authorised": false,
    });
    if let Authorization::Authorized {
        effective,
        not_granted,
        digest_changed,
    } = list.authorize(name, Some(&skill.digest), &requested, None)
    {
        out["authorised"] = json!(true);
        out["effective"] = json!(effective.describe());
        out["notGranted"] = json!(not_granted.describe());
        out["digestChanged"] = json!(digest_changed);
    }
    out["suspendedUntilMs"] = json!(suspended);
    Ok(out)
}

fn inspect(layout: &HomeLayout, name: &str, as_json: bool) -> Result<ExitCode> {
    let d = describe(layout, name)?;
    if as_json {
        println!("{}", serde_json::to_string_pretty(&d)?);
        return Ok(ExitCode::SUCCESS);
    }
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    let list = |v: &Value| -> String {
        let items: Vec<String> = v
            .as_array()
            .map(|a| a.iter().map(&text).collect())
            .unwrap_or_default();
        if items.is_empty() {
            "(none)".into()
        } else {
            items.join(" ")
        }
    };
    println!(
        "{} {} ({})",
        text(&d["name"]),
        text(&d["version"]),
        text(&d["kind"])
    );
    if !text(&d["description"]).is_empty() {
        println!("  {}", text(&d["description"]));
    }
    println!("digest:   {}", text(&d["digest"]));
    println!("entry:    {}", text(&d["entry"]));
    println!("requests: {}", list(&d["requests"]));
    if d["authorised"] == true {
        println!("granted:  {}", list(&d["effective"]));
        println!("withheld: {}", list(&d["notGranted"]));
        if d["digestChanged"] == true {
            println!("warning: the installed files changed since the grant");
        }
    } else {
        println!("not authorised (nothing is granted)");
    }
    if let Some(until) = d["suspendedUntilMs"].as_u64() {
        println!("suspended until {until} (unix ms)");
    }
    Ok(ExitCode::SUCCESS)
}

fn list(layout: &HomeLayout, as_json: bool) -> Result<ExitCode> {
    let mut names = Vec::new();
    if let Ok(entries) = std::fs::read_dir(layout.skills_dir()) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if entry.path().is_dir() && ironclaw_policy::is_valid_skill_name(&name) {
                names.push(name);
            }
        }
    }
    names.sort();
    let mut rows = Vec::new();
    for name in &names {
        match describe(layout, name) {
            Ok(d) => rows.push(json!({
                "name": d["name"], "version": d["version"], "kind": d["kind"],
                "authorised": d["authorised"], "digest": d["digest"],
            })),
            Err(e) => rows.push(json!({ "name": name, "error": format!("{e:#}") })),
        }
    }
    if as_json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(ExitCode::SUCCESS);
    }
    if rows.is_empty() {
        println!("no skills installed");
    }
    for r in &rows {
        match r.get("error") {
            Some(e) => println!(
                "{}  unreadable: {}",
                r["name"].as_str().unwrap_or_default(),
                e.as_str().unwrap_or_default()
            ),
            None => println!(
                "{}  {}  {}  {}",
                r["name"].as_str().unwrap_or_default(),
                r["version"].as_str().unwrap_or_default(),
                r["kind"].as_str().unwrap_or_default(),
                if r["authorised"] == true {
                    "authorised"
                } else {
                    "not authorised"
                }
            ),
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// One authorised skill, ready to register.
struct Authorised {
    skill: InstalledSkill,
    dir: PathBuf,
    effective: ironclaw_policy::Permissions,
}

/// Decides whether `name` may run; a refusal carries the audit event.
fn authorise(
    layout: &HomeLayout,
    list: &Allowlist,
    suspensions: &SuspensionState,
    name: &str,
) -> Result<std::result::Result<Authorised, (DenyEvent, String)>> {
    let dir = layout.skill_dir(name);
    if !ironclaw_policy::is_valid_skill_name(name) || !dir.is_dir() {
        bail!("skill {name} is not installed");
    }
    let skill = InstalledSkill::load(&dir)?;
    let requested = skill.capabilities.requested()?;
    let until = suspensions.suspended_until(name, now_ms());
    match list.authorize(name, Some(&skill.digest), &requested, until) {
        Authorization::Denied { event, reason } => Ok(Err((event, reason))),
        Authorization::Authorized {
            effective,
            digest_changed,
            ..
        } => {
            if digest_changed {
                eprintln!(
                    "warning: {name} changed since it was granted; it runs with the old grants only"
                );
            }
            Ok(Ok(Authorised {
                skill,
                dir,
                effective: *effective,
            }))
        }
    }
}

pub(crate) fn run_skill(home: &Home, args: RunArgs) -> Result<ExitCode> {
    let layout = HomeLayout::new(home.root());
    let params: Value = serde_json::from_str(&args.params)
        .with_context(|| "--params is not valid JSON".to_owned())?;
    let config = audit_config(&layout)?;
    let path = config.path().to_path_buf();
    let audit = Arc::new(
        AuditLog::open(config)
            .with_context(|| format!("cannot open the audit log {}", path.display()))?,
    );
    let list: Allowlist = load_json(&layout.allowlist())?;
    let suspensions: SuspensionState = load_json(&layout.suspensions())?;
    let root = match authorise(&layout, &list, &suspensions, &args.skill)? {
        Ok(a) => a,
        Err((event, reason)) => {
            let kind = match event {
                DenyEvent::SkillSuspended => EventKind::SkillSuspended,
                _ => EventKind::AllowlistDeny,
            };
            audit.record(
                Event::builder(kind)
                    .skill(&args.skill)
                    .action("run")
                    .resource(format!("skill:{}", args.skill))
                    .blocked(true)
                    .field("reason", reason.clone())
                    .build()?,
            )?;
            eprintln!("ironclaw: {reason}");
            return Ok(ExitCode::from(1));
        }
    };
    if root.skill.manifest.kind != SkillKind::Wasm {
        bail!(
            "{} is a {:?} skill; `run` runs wasm skills",
            args.skill,
            root.skill.manifest.kind
        );
    }
    audit.record(
        Event::builder(EventKind::SkillCall)
            .skill(&args.skill)
            .action("run")
            .resource(format!("skill:{}", args.skill))
            .granted(root.effective.describe())
            .blocked(false)
            .build()?,
    )?;

    let engine = engine(&layout)?;
    let violations: Arc<std::sync::Mutex<Vec<Violation>>> = Arc::default();
    let sink = Arc::clone(&violations);
    let mut builder = ToolHost::builder(engine.clone(), Arc::clone(&audit))
        .session_id(format!("cli-{}", std::process::id()))
        .on_violation(Arc::new(move |v: &Violation| {
            if let Ok(mut list) = sink.lock() {
                list.push(v.clone());
            }
        }));
    if needs_secrets(&root) && layout.secrets_dir().is_dir() {
        let store = crate::secrets::open(&layout.secrets_dir(), crate::secrets::explicit_key()?)?;
        builder = builder.secrets(Arc::new(store), ironclaw_secrets::DEFAULT_NAMESPACE);
    }
    let host = builder.build()?;

    // The skill, and every authorised wasm skill it may invoke (transitively).
    let mut queue = VecDeque::from([root]);
    let mut seen = BTreeSet::new();
    while let Some(a) = queue.pop_front() {
        let name = a.skill.manifest.name.clone();
        if !seen.insert(name.clone()) {
            continue;
        }
        for callee in &a.effective.tools {
            if seen.contains(callee) || !layout.skill_dir(callee).is_dir() {
                continue;
            }
            if let Ok(Ok(next)) = authorise(&layout, &list, &suspensions, callee)
                && next.skill.manifest.kind == SkillKind::Wasm
            {
                queue.push_back(next);
            }
        }
        let component = engine.load(&entry_path(&a.dir, &a.skill)?)?;
        let mut spec = ToolSpec::new(&name, component, a.skill.capabilities, a.effective);
        // An authorised skill has its own workspace (the allowlist's baseline grant).
        spec.workspace = Some(WorkspaceGrant {
            dir: layout.skill_workspace(&name),
            access: Access::Rw,
        });
        host.register(spec)?;
    }

    let result = host.call(&args.skill, &params.to_string());
    let outcome = match &result {
        Ok(_) => "ok".to_owned(),
        Err(ToolError::LimitExceeded { limit, .. }) => format!("limit:{limit}"),
        Err(ToolError::Failed { .. }) => "failed".to_owned(),
        Err(_) => "error".to_owned(),
    };
    let violations = violations.lock().map(|v| v.clone()).unwrap_or_default();
    record_violations(&layout, &audit, &violations)?;
    audit.record(
        Event::builder(EventKind::ToolResult)
            .skill(&args.skill)
            .action("run")
            .resource(format!("skill:{}", args.skill))
            .blocked(result.is_err())
            .field("outcome", outcome)
            .build()?,
    )?;
    match result {
        Ok(out) => {
            println!("{out}");
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("ironclaw: {}", error_chain(&e));
            Ok(ExitCode::from(2))
        }
    }
}

/// `security.autoSuspend` from the config (defaults where unset).
fn auto_suspend_config(layout: &HomeLayout) -> AutoSuspendConfig {
    let mut config = Config::default().security.auto_suspend;
    let raw = read_config_text(&layout.config())
        .ok()
        .and_then(|t| parse_jsonc(&t).ok())
        .unwrap_or(Value::Null);
    if let Some(section) = raw.pointer("/security/autoSuspend") {
        let num = |key: &str| section.get(key).and_then(Value::as_u64);
        if let Some(enabled) = section.get("enabled").and_then(Value::as_bool) {
            config.enabled = enabled;
        }
        if let Some(n) = num("violationsPerWindow") {
            config.violations_per_window = n;
        }
        if let Some(n) = num("windowMinutes") {
            config.window_minutes = n;
        }
        if let Some(n) = num("suspendDurationMinutes") {
            config.suspend_duration_minutes = n;
        }
    }
    config
}

/// Feeds the run's violations to auto-suspension (shared with the daemon through
/// the suspensions file) and audits a suspension it triggers.
fn record_violations(
    layout: &HomeLayout,
    audit: &AuditLog,
    violations: &[Violation],
) -> Result<()> {
    if violations.is_empty() {
        return Ok(());
    }
    let config = auto_suspend_config(layout);
    for v in violations {
        let suspension =
            SuspensionState::record_in_file(&layout.suspensions(), &config, &v.skill, now_ms())?;
        if let Some(s) = suspension {
            audit.record(
                Event::builder(EventKind::SkillSuspended)
                    .skill(&s.skill)
                    .action("auto_suspend")
                    .resource(&s.skill)
                    .blocked(true)
                    .field("untilMs", s.until_ms)
                    .field("violations", s.violations)
                    .field("by", "auto")
                    .build()?,
            )?;
            eprintln!(
                "ironclaw: {} suspended until {} (unix ms) after {} violations",
                s.skill, s.until_ms, s.violations
            );
        }
    }
    Ok(())
}

fn needs_secrets(a: &Authorised) -> bool {
    !a.effective.secrets.is_empty()
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
