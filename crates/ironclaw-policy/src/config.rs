//! `ironclaw.json`: the typed config, its schema, validation that reports every
//! problem at once, `${VAR}` expansion, and a canonical hash.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::jsonc::{JsoncError, parse_jsonc};

/// The sandbox enforcement level. Default `strict`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SandboxMode {
    /// Deny by default at the system-call level.
    #[default]
    Strict,
    /// Deny by default at the application level only.
    Standard,
    /// No blocking at all, only logging. Unsafe: migration and debugging only;
    /// callers must warn loudly at every start.
    AuditOnly,
}

/// What the injection scanner does with a finding. Default `flag`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InjectionMode {
    /// Tag the content and log.
    #[default]
    Flag,
    /// Refuse the content.
    Block,
    /// Do nothing. Unsafe.
    Off,
}

/// How a channel admits direct messages. Only an explicit allowlist exists:
/// `open` is refused at validation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DmPolicy {
    /// Only senders listed in `allowFrom`.
    #[default]
    Allowlist,
    /// No direct messages at all.
    Disabled,
}

/// Storage backend. Default `file`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StorageBackend {
    /// Files in the home.
    #[default]
    File,
    /// PostgreSQL at `storage.url`.
    Postgres,
}

/// The whole config. `Config::default()` is the safe configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Config {
    /// `security.*`.
    pub security: SecurityConfig,
    /// `channels.<name>.*`.
    pub channels: BTreeMap<String, ChannelConfig>,
    /// `gateway.*`.
    pub gateway: GatewayConfig,
    /// `webhook.*`.
    pub webhook: WebhookConfig,
    /// `storage.*`.
    pub storage: StorageConfig,
    /// `llm.*`.
    pub llm: LlmConfig,
}

/// `security.*`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SecurityConfig {
    /// `security.sandbox`.
    pub sandbox: SandboxConfig,
    /// `security.auditLog`.
    pub audit_log: AuditLogConfig,
    /// `security.injectionDefense`.
    pub injection_defense: InjectionDefenseConfig,
    /// `security.autoSuspend`.
    pub auto_suspend: AutoSuspendConfig,
}

/// `security.sandbox`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SandboxConfig {
    /// Default `strict`.
    pub mode: SandboxMode,
}

/// `security.auditLog`. Audit logging cannot be disabled; only its place and
/// rotation are configurable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AuditLogConfig {
    /// Default: `audit.log` in the home.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    /// Rotate when the file exceeds this many MiB. Default 100, range 1..=10240.
    pub max_size_mb: u64,
    /// Delete rotated files older than this. Default 90, range 1..=3650.
    pub keep_days: u64,
    /// Gzip rotated files. Default true.
    pub compress: bool,
}

impl Default for AuditLogConfig {
    fn default() -> Self {
        Self {
            path: None,
            max_size_mb: 100,
            keep_days: 90,
            compress: true,
        }
    }
}

/// `security.injectionDefense`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct InjectionDefenseConfig {
    /// Default `flag`.
    pub mode: InjectionMode,
}

/// `security.autoSuspend`: suspend a skill after repeated violations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AutoSuspendConfig {
    /// Default true.
    pub enabled: bool,
    /// Violations that trigger a suspension. Default 5, range 1..=1000.
    pub violations_per_window: u64,
    /// The sliding window. Default 10, range 1..=10080.
    pub window_minutes: u64,
    /// How long a suspension lasts. Default 60, range 1..=525600.
    pub suspend_duration_minutes: u64,
}

impl Default for AutoSuspendConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            violations_per_window: 5,
            window_minutes: 10,
            suspend_duration_minutes: 60,
        }
    }
}

/// `channels.<name>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ChannelConfig {
    /// Default false.
    pub enabled: bool,
    /// Default `allowlist`.
    pub dm_policy: DmPolicy,
    /// Sender IDs; no wildcards. Required (non-empty) when enabled.
    pub allow_from: Vec<String>,
    /// Per-sender limits.
    pub rate_limit: ChannelRateLimit,
}

/// `channels.<name>.rateLimit`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ChannelRateLimit {
    /// Sustained rate per sender. Default 60, range 1..=100000.
    pub messages_per_hour: u64,
    /// Messages a sender may send at once. Default 10, range 1..=1000.
    pub burst_limit: u64,
}

impl Default for ChannelRateLimit {
    fn default() -> Self {
        Self {
            messages_per_hour: 60,
            burst_limit: 10,
        }
    }
}

/// `gateway.*`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct GatewayConfig {
    /// Default `127.0.0.1` (loopback only).
    pub bind: String,
    /// Default 3000.
    pub port: u16,
    /// Bearer token; a random one is generated when absent. Secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1".into(),
            port: 3000,
            token: None,
        }
    }
}

/// `webhook.*`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct WebhookConfig {
    /// Default `127.0.0.1`: expose it deliberately (and firewall it).
    pub bind: String,
    /// Default 8080.
    pub port: u16,
    /// Shared secret; the webhook server refuses to start without it. Secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1".into(),
            port: 8080,
            secret: None,
        }
    }
}

/// `storage.*`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct StorageConfig {
    /// Default `file`.
    pub backend: StorageBackend,
    /// PostgreSQL connection string; required for `postgres`. Secret (may hold a password).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// `llm.*`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LlmConfig {
    /// `llm.providers.<name>`.
    pub providers: BTreeMap<String, LlmProvider>,
}

/// `llm.providers.<name>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LlmProvider {
    /// Default true.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// API base URL (https).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// API key; use `${VAR}` from `.env`. Secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,
    /// Default model.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
}

/// The type of a config key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// `true`/`false`.
    Bool,
    /// An integer within a range.
    Int(u64, u64),
    /// Any string.
    Str,
    /// A secret string (redacted in output and audit records).
    Secret,
    /// One of fixed strings.
    Enum(&'static [&'static str]),
    /// A list of strings.
    StrList,
    /// An object with fixed keys.
    Object,
    /// An object with names chosen by the user (`channels`, `llm.providers`).
    Map,
}

enum Schema {
    Leaf(KeyKind),
    Object(&'static [(&'static str, Schema)]),
    Map(&'static Schema),
}

static CHANNEL: Schema = Schema::Object(&[
    ("enabled", Schema::Leaf(KeyKind::Bool)),
    (
        "dmPolicy",
        Schema::Leaf(KeyKind::Enum(&["allowlist", "disabled"])),
    ),
    ("allowFrom", Schema::Leaf(KeyKind::StrList)),
    (
        "rateLimit",
        Schema::Object(&[
            ("messagesPerHour", Schema::Leaf(KeyKind::Int(1, 100_000))),
            ("burstLimit", Schema::Leaf(KeyKind::Int(1, 1000))),
        ]),
    ),
]);

static PROVIDER: Schema = Schema::Object(&[
    ("enabled", Schema::Leaf(KeyKind::Bool)),
    ("baseUrl", Schema::Leaf(KeyKind::Str)),
    ("apiKey", Schema::Leaf(KeyKind::Secret)),
    ("model", Schema::Leaf(KeyKind::Str)),
]);

static ROOT: Schema = Schema::Object(&[
    (
        "security",
        Schema::Object(&[
            (
                "sandbox",
                Schema::Object(&[(
                    "mode",
                    Schema::Leaf(KeyKind::Enum(&["strict", "standard", "audit-only"])),
                )]),
            ),
            (
                "auditLog",
                Schema::Object(&[
                    ("path", Schema::Leaf(KeyKind::Str)),
                    ("maxSizeMb", Schema::Leaf(KeyKind::Int(1, 10_240))),
                    ("keepDays", Schema::Leaf(KeyKind::Int(1, 3650))),
                    ("compress", Schema::Leaf(KeyKind::Bool)),
                ]),
            ),
            (
                "injectionDefense",
                Schema::Object(&[(
                    "mode",
                    Schema::Leaf(KeyKind::Enum(&["flag", "block", "off"])),
                )]),
            ),
            (
                "autoSuspend",
                Schema::Object(&[
                    ("enabled", Schema::Leaf(KeyKind::Bool)),
                    ("violationsPerWindow", Schema::Leaf(KeyKind::Int(1, 1000))),
                    ("windowMinutes", Schema::Leaf(KeyKind::Int(1, 10_080))),
                    (
                        "suspendDurationMinutes",
                        Schema::Leaf(KeyKind::Int(1, 525_600)),
                    ),
                ]),
            ),
        ]),
    ),
    ("channels", Schema::Map(&CHANNEL)),
    (
        "gateway",
        Schema::Object(&[
            ("bind", Schema::Leaf(KeyKind::Str)),
            ("port", Schema::Leaf(KeyKind::Int(1, 65_535))),
            ("token", Schema::Leaf(KeyKind::Secret)),
        ]),
    ),
    (
        "webhook",
        Schema::Object(&[
            ("bind", Schema::Leaf(KeyKind::Str)),
            ("port", Schema::Leaf(KeyKind::Int(1, 65_535))),
            ("secret", Schema::Leaf(KeyKind::Secret)),
        ]),
    ),
    (
        "storage",
        Schema::Object(&[
            (
                "backend",
                Schema::Leaf(KeyKind::Enum(&["file", "postgres"])),
            ),
            ("url", Schema::Leaf(KeyKind::Secret)),
        ]),
    ),
    (
        "llm",
        Schema::Object(&[("providers", Schema::Map(&PROVIDER))]),
    ),
]);

impl Schema {
    fn kind(&self) -> KeyKind {
        match self {
            Self::Leaf(k) => *k,
            Self::Object(_) => KeyKind::Object,
            Self::Map(_) => KeyKind::Map,
        }
    }

    fn child(&self, key: &str) -> Option<&Schema> {
        match self {
            Self::Leaf(_) => None,
            Self::Object(fields) => fields.iter().find(|(k, _)| *k == key).map(|(_, s)| s),
            Self::Map(inner) => Some(inner),
        }
    }

    fn names(&self) -> Vec<&'static str> {
        match self {
            Self::Object(fields) => fields.iter().map(|(k, _)| *k).collect(),
            _ => Vec::new(),
        }
    }
}

/// A dotted key path split into parts; the error names the unknown part.
pub fn parse_key(key: &str) -> Result<(Vec<String>, KeyKind), ConfigError> {
    let parts: Vec<String> = key.split('.').map(str::to_owned).collect();
    if parts.iter().any(String::is_empty) {
        return Err(ConfigError::UnknownKey {
            key: key.to_owned(),
            suggestion: None,
        });
    }
    let mut schema = &ROOT;
    for (i, part) in parts.iter().enumerate() {
        schema = match schema.child(part) {
            Some(s) => s,
            None => {
                let prefix = parts[..i].join(".");
                let suggestion = did_you_mean(part, &schema.names()).map(|s| {
                    if prefix.is_empty() {
                        s.to_owned()
                    } else {
                        format!("{prefix}.{s}")
                    }
                });
                return Err(ConfigError::UnknownKey {
                    key: key.to_owned(),
                    suggestion,
                });
            }
        };
    }
    Ok((parts, schema.kind()))
}

/// Whether a value at `path` is a secret.
pub fn is_secret_key(path: &[String]) -> bool {
    let mut schema = &ROOT;
    for part in path {
        match schema.child(part) {
            Some(s) => schema = s,
            None => return false,
        }
    }
    matches!(schema.kind(), KeyKind::Secret)
}

fn did_you_mean<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let lower = word.to_ascii_lowercase();
    candidates
        .iter()
        .map(|c| (levenshtein(&lower, &c.to_ascii_lowercase()), *c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Looks a variable up (environment first, then `.env`, as the caller decides).
pub type EnvLookup<'a> = dyn Fn(&str) -> Option<String> + 'a;

/// One validation finding, naming its key path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigIssue {
    /// `channels.telegram.allowFrom[0]`.
    pub path: String,
    /// Why, as a lowercase fragment.
    pub reason: String,
}

impl fmt::Display for ConfigIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.reason)
    }
}

/// Every error and warning of one config, found in one pass.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ValidationReport {
    /// Problems that make the config unusable.
    pub errors: Vec<ConfigIssue>,
    /// Accepted but dangerous settings the caller must surface (audit-only mode).
    pub warnings: Vec<ConfigIssue>,
}

impl ValidationReport {
    /// Whether there are no errors.
    pub fn is_ok(&self) -> bool {
        self.errors.is_empty()
    }

    fn error(&mut self, path: &str, reason: impl Into<String>) {
        self.errors.push(ConfigIssue {
            path: path.to_owned(),
            reason: reason.into(),
        });
    }

    fn warn(&mut self, path: &str, reason: impl Into<String>) {
        self.warnings.push(ConfigIssue {
            path: path.to_owned(),
            reason: reason.into(),
        });
    }
}

/// Errors loading or editing config.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The text is not JSON with comments.
    #[error("{path}: {source}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: JsoncError,
    },
    /// The config does not validate; every problem is listed.
    #[error("{} is invalid:\n  {}", path.display(), report.errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n  "))]
    Invalid {
        /// The file.
        path: PathBuf,
        /// All findings.
        report: ValidationReport,
    },
    /// A key that the schema does not have.
    #[error("unknown key {key}{}", suggestion.as_ref().map(|s| format!(" (did you mean {s}?)")).unwrap_or_default())]
    UnknownKey {
        /// The key as given.
        key: String,
        /// The closest known key.
        suggestion: Option<String>,
    },
    /// A value of the wrong type for a key.
    #[error("{key}: {reason}")]
    InvalidValue {
        /// The key.
        key: String,
        /// Why.
        reason: String,
    },
    /// The `.env` file is readable by others.
    #[error("{} has mode {mode:o}; it holds secrets and must be readable only by you: run chmod 600 {}", path.display(), path.display())]
    DotenvPermissions {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// A `.env` line that is not `NAME=value`.
    #[error("{}:{line}: not NAME=value", path.display())]
    DotenvSyntax {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
    },
}

/// Validates a parsed document against the schema and the security rules, and
/// returns every finding. String values are expanded with `env` first when it
/// is given; with `None`, `${VAR}` references are left as they are and accepted
/// wherever a scalar is expected.
pub fn validate(doc: &Value, env: Option<&EnvLookup<'_>>) -> ValidationReport {
    let mut report = ValidationReport::default();
    let mut doc = doc.clone();
    if let Some(env) = env {
        expand_value(&mut doc, "", env, &mut report);
    }
    check_schema(&doc, &ROOT, "", &mut report);
    check_rules(&doc, &mut report);
    report
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_owned()
    } else {
        format!("{prefix}.{key}")
    }
}

fn is_reference(v: &Value) -> bool {
    v.as_str().is_some_and(|s| s.contains("${"))
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn check_schema(v: &Value, schema: &Schema, path: &str, report: &mut ValidationReport) {
    match schema {
        Schema::Object(fields) => {
            let Some(obj) = v.as_object() else {
                report.error(
                    path_or_root(path),
                    format!("expected an object, found {}", type_name(v)),
                );
                return;
            };
            for (key, value) in obj {
                match fields.iter().find(|(k, _)| k == key) {
                    Some((_, child)) => check_schema(value, child, &join(path, key), report),
                    None => {
                        let names: Vec<&str> = fields.iter().map(|(k, _)| *k).collect();
                        let hint = did_you_mean(key, &names)
                            .map(|s| format!(" (did you mean {}?)", join(path, s)))
                            .unwrap_or_default();
                        report.error(&join(path, key), format!("unknown key{hint}"));
                    }
                }
            }
        }
        Schema::Map(inner) => {
            let Some(obj) = v.as_object() else {
                report.error(path, format!("expected an object, found {}", type_name(v)));
                return;
            };
            for (name, value) in obj {
                let valid = !name.is_empty()
                    && name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
                if !valid {
                    report.error(&join(path, name), "name must be letters, digits, - or _");
                }
                check_schema(value, inner, &join(path, name), report);
            }
        }
        Schema::Leaf(kind) => check_leaf(v, *kind, path, report),
    }
}

fn path_or_root(path: &str) -> &str {
    if path.is_empty() { "(top level)" } else { path }
}

fn check_leaf(v: &Value, kind: KeyKind, path: &str, report: &mut ValidationReport) {
    if is_reference(v) {
        return;
    }
    match kind {
        KeyKind::Bool if !v.is_boolean() => {
            report.error(
                path,
                format!("expected true or false, found {}", type_name(v)),
            );
        }
        KeyKind::Int(min, max) => match v.as_u64() {
            Some(n) if (min..=max).contains(&n) => {}
            Some(n) => report.error(path, format!("{n} is out of range {min}..={max}")),
            None => report.error(
                path,
                format!("expected an integer in {min}..={max}, found {}", short(v)),
            ),
        },
        KeyKind::Str | KeyKind::Secret if !v.is_string() => {
            report.error(path, format!("expected a string, found {}", type_name(v)));
        }
        KeyKind::Enum(values) => match v.as_str() {
            Some(s) if values.contains(&s) => {}
            _ => {
                let hint = v
                    .as_str()
                    .and_then(|s| did_you_mean(s, values))
                    .map(|s| format!(" (did you mean {s:?}?)"))
                    .unwrap_or_default();
                report.error(
                    path,
                    format!("{} is not one of {}{hint}", short(v), values.join(", ")),
                );
            }
        },
        KeyKind::StrList => match v.as_array() {
            Some(items) => {
                for (i, item) in items.iter().enumerate() {
                    if !item.is_string() && !item.is_u64() && !item.is_i64() {
                        report.error(
                            &format!("{path}[{i}]"),
                            format!("expected a string, found {}", type_name(item)),
                        );
                    }
                }
            }
            None => report.error(path, format!("expected a list, found {}", type_name(v))),
        },
        _ => {}
    }
}

fn short(v: &Value) -> String {
    let text = v.to_string();
    if text.chars().count() > 60 {
        format!("{}...", text.chars().take(60).collect::<String>())
    } else {
        text
    }
}

fn check_rules(doc: &Value, report: &mut ValidationReport) {
    let get = |p: &[&str]| p.iter().try_fold(doc, |v, k| v.get(*k));
    if get(&["security", "sandbox", "mode"]).and_then(Value::as_str) == Some("audit-only") {
        report.warn(
            "security.sandbox.mode",
            "audit-only disables all blocking and provides zero protection; use it only to discover the grants a skill needs",
        );
    }
    if get(&["security", "injectionDefense", "mode"]).and_then(Value::as_str) == Some("off") {
        report.warn("security.injectionDefense.mode", "injection defense is off");
    }
    if get(&["security", "autoSuspend", "enabled"]) == Some(&Value::Bool(false)) {
        report.warn(
            "security.autoSuspend.enabled",
            "auto-suspension is disabled",
        );
    }
    if let Some(channels) = get(&["channels"]).and_then(Value::as_object) {
        for (name, ch) in channels {
            let base = format!("channels.{name}");
            if ch.get("dmPolicy").and_then(Value::as_str) == Some("open") {
                // Replace the generic enum error with the reason.
                report
                    .errors
                    .retain(|e| e.path != format!("{base}.dmPolicy"));
                report.error(
                    &format!("{base}.dmPolicy"),
                    "\"open\" is not allowed: every channel needs an explicit allowFrom list (use \"allowlist\")",
                );
            }
            let allow = ch.get("allowFrom").and_then(Value::as_array);
            for (i, id) in allow.into_iter().flatten().enumerate() {
                let text = match id {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                if text.contains('*') || text.contains('?') {
                    report.error(
                        &format!("{base}.allowFrom[{i}]"),
                        "wildcards are not allowed; list each sender ID",
                    );
                } else if text.trim().is_empty() {
                    report.error(&format!("{base}.allowFrom[{i}]"), "empty sender ID");
                }
            }
            let enabled = ch.get("enabled") == Some(&Value::Bool(true));
            let disabled_dms = ch.get("dmPolicy").and_then(Value::as_str) == Some("disabled");
            if enabled && !disabled_dms && allow.is_none_or(|a| a.is_empty()) {
                report.error(
                    &format!("{base}.allowFrom"),
                    "an enabled channel needs a non-empty allowFrom list",
                );
            }
        }
    }
    if get(&["storage", "backend"]).and_then(Value::as_str) == Some("postgres")
        && get(&["storage", "url"]).is_none()
    {
        report.error("storage.url", "required when storage.backend is postgres");
    }
    for (key, what) in [("gateway", "gateway"), ("webhook", "webhook")] {
        if let Some(bind) = get(&[key, "bind"]).and_then(Value::as_str) {
            if !is_reference(&Value::String(bind.to_owned()))
                && bind.parse::<std::net::IpAddr>().is_err()
                && bind != "localhost"
            {
                report.error(
                    &format!("{key}.bind"),
                    format!("{bind:?} is not an IP address"),
                );
            } else if key == "gateway"
                && bind
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| !ip.is_loopback())
            {
                report.warn(
                    "gateway.bind",
                    format!("the {what} listens beyond loopback on {bind}; keep it on 127.0.0.1 behind a TLS proxy"),
                );
            }
        }
    }
}

/// Expands `${VAR}` in every string of `v`; unknown variables are errors at their
/// key path. `$${` is a literal `${`.
fn expand_value(
    v: &mut Value,
    path: &str,
    env: &dyn Fn(&str) -> Option<String>,
    report: &mut ValidationReport,
) {
    match v {
        Value::String(s) => match expand_str(s, env) {
            Ok(out) => *s = out,
            Err(reason) => report.error(path_or_root(path), reason),
        },
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                expand_value(item, &format!("{path}[{i}]"), env, report);
            }
        }
        Value::Object(map) => {
            for (k, item) in map.iter_mut() {
                expand_value(item, &join(path, k), env, report);
            }
        }
        _ => {}
    }
}

/// Expands `${VAR}` references in one string.
pub fn expand_str(s: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        if let Some(t) = tail.strip_prefix("$${") {
            out.push_str("${");
            rest = t;
        } else if let Some(t) = tail.strip_prefix("${") {
            let end = t
                .find('}')
                .ok_or_else(|| "unterminated ${ reference".to_owned())?;
            let name = &t[..end];
            let valid = !name.is_empty()
                && !name.starts_with(|c: char| c.is_ascii_digit())
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                return Err(format!("${{{name}}} is not a variable name"));
            }
            let value = env(name)
                .ok_or_else(|| format!("variable {name} is not set (environment or .env)"))?;
            out.push_str(&value);
            rest = &t[end + 1..];
        } else {
            out.push('$');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// Parses `.env` text: `NAME=value` lines, `#` comments, optional `export `,
/// optional single or double quotes around the value.
pub fn parse_dotenv(text: &str, path: &Path) -> Result<HashMap<String, String>, ConfigError> {
    let mut vars = HashMap::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let (name, value) = line.split_once('=').ok_or(ConfigError::DotenvSyntax {
            path: path.to_owned(),
            line: i + 1,
        })?;
        let name = name.trim();
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(ConfigError::DotenvSyntax {
                path: path.to_owned(),
                line: i + 1,
            });
        }
        let value = value.trim();
        let value = ['"', '\'']
            .iter()
            .find_map(|q| value.strip_prefix(*q).and_then(|v| v.strip_suffix(*q)))
            .unwrap_or(value);
        vars.insert(name.to_owned(), value.to_owned());
    }
    Ok(vars)
}

/// Reads `.env`, refusing it unless only its owner can read or write it (mode
/// 0600 or stricter). A missing file is an empty map.
pub fn load_dotenv(path: &Path) -> Result<HashMap<String, String>, ConfigError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(HashMap::new()),
        Err(source) => {
            return Err(ConfigError::Io {
                path: path.to_owned(),
                source,
            });
        }
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(path).map_err(|source| ConfigError::Io {
            path: path.to_owned(),
            source,
        })?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(ConfigError::DotenvPermissions {
                path: path.to_owned(),
                mode,
            });
        }
    }
    parse_dotenv(&text, path)
}

/// A config loaded from text: the raw document (as written), the effective typed
/// config (expanded, defaults filled) and the warnings to surface.
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    /// The document as written (with `${VAR}` references).
    pub raw: Value,
    /// The effective config.
    pub config: Config,
    /// Warnings the caller must show (audit-only mode and the like).
    pub warnings: Vec<ConfigIssue>,
}

impl Config {
    /// Parses, expands and validates config text; any error fails with every
    /// finding listed.
    pub fn from_text(
        text: &str,
        path: &Path,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<LoadedConfig, ConfigError> {
        let raw = parse_jsonc(text).map_err(|source| ConfigError::Syntax {
            path: path.to_owned(),
            source,
        })?;
        let report = validate(&raw, Some(env));
        if !report.is_ok() {
            return Err(ConfigError::Invalid {
                path: path.to_owned(),
                report,
            });
        }
        let mut expanded = raw.clone();
        let mut scratch = ValidationReport::default();
        expand_value(&mut expanded, "", env, &mut scratch);
        // Sender IDs may be written as numbers; the model keeps them as text.
        if let Some(channels) = expanded.get_mut("channels").and_then(Value::as_object_mut) {
            for ch in channels.values_mut() {
                if let Some(ids) = ch.get_mut("allowFrom").and_then(Value::as_array_mut) {
                    for id in ids.iter_mut() {
                        if !id.is_string() {
                            *id = Value::String(id.to_string());
                        }
                    }
                }
            }
        }
        let config: Config =
            serde_json::from_value(expanded).map_err(|e| ConfigError::Invalid {
                path: path.to_owned(),
                report: ValidationReport {
                    errors: vec![ConfigIssue {
                        path: "(top level)".into(),
                        reason: e.to_string(),
                    }],
                    warnings: Vec::new(),
                },
            })?;
        Ok(LoadedConfig {
            raw,
            config,
            warnings: report.warnings,
        })
    }

    /// The effective config as JSON, secrets replaced by `"[redacted]"`.
    pub fn to_redacted_json(&self) -> Value {
        let mut v = serde_json::to_value(self).unwrap_or(Value::Null);
        redact(&mut v, &mut Vec::new());
        v
    }

    /// A stable hash of the effective config: SHA-256 of its canonical JSON
    /// (sorted keys, defaults filled, no whitespace), with secrets redacted so the
    /// hash reveals nothing about them (changing only a secret keeps the hash).
    pub fn canonical_hash(&self) -> String {
        let v = sort_keys(self.to_redacted_json());
        let text = v.to_string();
        hex::encode(ring::digest::digest(&ring::digest::SHA256, text.as_bytes()).as_ref())
    }

    /// The effective value at a key path.
    pub fn get(&self, path: &[String]) -> Option<Value> {
        let v = serde_json::to_value(self).ok()?;
        path.iter().try_fold(v, |v, k| v.get(k).cloned())
    }
}

fn redact(v: &mut Value, path: &mut Vec<String>) {
    if is_secret_key(path) && !v.is_null() {
        if !is_reference(v) {
            *v = Value::String("[redacted]".into());
        }
        return;
    }
    if let Value::Object(map) = v {
        for (k, item) in map.iter_mut() {
            path.push(k.clone());
            redact(item, path);
            path.pop();
        }
    }
}

/// A value as it may appear in output or an audit record: secrets redacted
/// unless they are `${VAR}` references.
pub fn redact_value(path: &[String], v: &Value) -> Value {
    let mut v = v.clone();
    let mut p = path.to_vec();
    redact(&mut v, &mut p);
    v
}

fn sort_keys(v: Value) -> Value {
    match v {
        Value::Object(map) => {
            let sorted: BTreeMap<String, Value> =
                map.into_iter().map(|(k, v)| (k, sort_keys(v))).collect();
            Value::Object(sorted.into_iter().collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sort_keys).collect()),
        other => other,
    }
}

/// Turns a command-line value into JSON of the key's type: strings (and enum
/// and secret values) are taken as written unless quoted JSON; other kinds are
/// parsed as JSON.
pub fn typed_value(kind: KeyKind, key: &str, text: &str) -> Result<Value, ConfigError> {
    let invalid = |reason: String| ConfigError::InvalidValue {
        key: key.to_owned(),
        reason,
    };
    match kind {
        KeyKind::Str | KeyKind::Secret | KeyKind::Enum(_) => {
            if text.starts_with('"') {
                serde_json::from_str(text).map_err(|e| invalid(e.to_string()))
            } else {
                Ok(Value::String(text.to_owned()))
            }
        }
        KeyKind::StrList => {
            if text.trim_start().starts_with('[') {
                serde_json::from_str(text).map_err(|e| invalid(e.to_string()))
            } else {
                Ok(Value::Array(
                    text.split(',')
                        .map(|s| Value::String(s.trim().to_owned()))
                        .filter(|s| s.as_str() != Some(""))
                        .collect(),
                ))
            }
        }
        KeyKind::Bool => match text {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            other => Err(invalid(format!("{other:?} is not true or false"))),
        },
        KeyKind::Int(min, max) => match text.parse::<u64>() {
            Ok(n) if (min..=max).contains(&n) => Ok(Value::from(n)),
            Ok(n) => Err(invalid(format!("{n} is out of range {min}..={max}"))),
            Err(_) => Err(invalid(format!(
                "{text:?} is not an integer in {min}..={max}"
            ))),
        },
        KeyKind::Object | KeyKind::Map => {
            serde_json::from_str(text).map_err(|e| invalid(format!("expected a JSON object: {e}")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn errors(text: &str) -> Vec<String> {
        let doc = parse_jsonc(text).unwrap();
        validate(&doc, Some(&no_env))
            .errors
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn default_is_safe_and_valid() {
        let c = Config::default();
        assert_eq!(c.security.sandbox.mode, SandboxMode::Strict);
        assert_eq!(c.security.injection_defense.mode, InjectionMode::Flag);
        assert!(c.security.auto_suspend.enabled);
        assert_eq!(c.gateway.bind, "127.0.0.1");
        let doc = serde_json::to_value(&c).unwrap();
        assert!(validate(&doc, None).is_ok());
        assert!(errors("{}").is_empty());
    }

    #[test]
    fn all_errors_at_once_with_paths() {
        let errs = errors(
            r#"{
              "security": { "sandbox": { "mode": "strictt" }, "autoSuspend": { "windowMinutes": 0 } },
              "channels": {
                "telegram": { "enabled": true, "dmPolicy": "open", "allowFrom": ["*", "123"] },
                "slack": { "enabled": true }
              },
              "gatway": {},
              "gateway": { "port": 70000 }
            }"#,
        );
        let joined = errs.join("\n");
        for needle in [
            "security.sandbox.mode: \"strictt\" is not one of strict, standard, audit-only (did you mean \"strict\"?)",
            "security.autoSuspend.windowMinutes: 0 is out of range",
            "channels.telegram.dmPolicy: \"open\" is not allowed",
            "channels.telegram.allowFrom[0]: wildcards are not allowed",
            "channels.slack.allowFrom: an enabled channel needs",
            "gatway: unknown key (did you mean gateway?)",
            "gateway.port: 70000 is out of range",
        ] {
            assert!(joined.contains(needle), "missing {needle:?} in\n{joined}");
        }
    }

    #[test]
    fn audit_only_is_a_warning() {
        let doc = parse_jsonc(r#"{"security": {"sandbox": {"mode": "audit-only"}}}"#).unwrap();
        let r = validate(&doc, None);
        assert!(r.is_ok());
        assert_eq!(r.warnings[0].path, "security.sandbox.mode");
    }

    #[test]
    fn expansion() {
        let env = |n: &str| (n == "TOKEN").then(|| "s3cret".to_owned());
        assert_eq!(
            expand_str("Bearer ${TOKEN}", &env).unwrap(),
            "Bearer s3cret"
        );
        assert_eq!(expand_str("$${TOKEN}", &env).unwrap(), "${TOKEN}");
        assert_eq!(expand_str("cost $5", &env).unwrap(), "cost $5");
        assert!(expand_str("${MISSING}", &env).is_err());
        assert!(expand_str("${BAD-NAME}", &env).is_err());
        assert!(expand_str("${TOKEN", &env).is_err());
        let loaded = Config::from_text(
            r#"{"gateway": {"token": "${TOKEN}"}}"#,
            Path::new("x"),
            &env,
        )
        .unwrap();
        assert_eq!(loaded.config.gateway.token.as_deref(), Some("s3cret"));
        assert_eq!(loaded.raw["gateway"]["token"], "${TOKEN}");
        let err = Config::from_text(r#"{"gateway": {"token": "${NOPE}"}}"#, Path::new("x"), &env)
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("gateway.token: variable NOPE is not set"),
            "{err}"
        );
    }

    #[test]
    fn hash_is_stable_and_hides_secrets() {
        let a = Config::from_text(
            r#"{"gateway": {"port": 3001, "token": "a"}}"#,
            Path::new("x"),
            &no_env,
        )
        .unwrap();
        let b = Config::from_text(
            "{\"gateway\": {\n\"token\": \"b\", \"port\": 3001}}",
            Path::new("x"),
            &no_env,
        )
        .unwrap();
        assert_eq!(a.config.canonical_hash(), b.config.canonical_hash());
        assert_ne!(
            a.config.canonical_hash(),
            Config::default().canonical_hash()
        );
        assert!(!a.config.to_redacted_json().to_string().contains("\"a\""));
    }

    #[test]
    fn unknown_keys_suggest() {
        let err = parse_key("security.sandbox.mod").unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown key security.sandbox.mod (did you mean security.sandbox.mode?)"
        );
        assert!(parse_key("channels.telegram.allowFrom").is_ok());
        assert!(parse_key("llm.providers.openai.apiKey").is_ok());
        assert!(parse_key("a..b").is_err());
    }

    #[test]
    fn dotenv_parsing() {
        let vars = parse_dotenv(
            "# c\nexport A=1\nB=\"two words\"\n\nC='x'\n",
            Path::new(".env"),
        )
        .unwrap();
        assert_eq!(vars["A"], "1");
        assert_eq!(vars["B"], "two words");
        assert_eq!(vars["C"], "x");
        assert!(parse_dotenv("NOEQUALS\n", Path::new(".env")).is_err());
    }

    #[cfg(unix)]
    #[test]
    fn dotenv_mode_is_enforced() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".env");
        std::fs::write(&path, "A=1\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = load_dotenv(&path).unwrap_err();
        assert!(err.to_string().contains("chmod 600"), "{err}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(load_dotenv(&path).unwrap()["A"], "1");
        assert!(load_dotenv(&dir.path().join("missing")).unwrap().is_empty());
    }
}
