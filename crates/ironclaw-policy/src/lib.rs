//! IronClaw's decisions, as a library that performs no I/O beyond its own files
//! and name resolution.
//!
//! Every enforcement point (the egress proxy, the WASM host, the sandbox, the
//! gateway) asks this crate and acts on the answer:
//!
//! - URLs and hosts: [`ParsedUrl`] parses strictly (WHATWG rules, plus refusal of
//!   anything parsers disagree on); [`HttpAllowlist`] matches a tool's declared
//!   endpoints (host exact or `*.suffix`, whole-segment path prefix, method, scheme,
//!   port) through a [`HostIndex`], so a decision costs a few hash probes whatever
//!   the number of rules.
//! - SSRF: [`SsrfPolicy`] refuses every address that is not public unicast, and
//!   [`SsrfPolicy::resolve_checked`] asks a [`Resolver`] once and returns only
//!   checked addresses to connect to. [`EgressPolicy`] is the whole outbound check.
//! - Denials are data: [`Denied`] with a [`DenyKind`], ready for the caller's audit
//!   record.
//!
//! Guarantees: fail closed (anything unparsable is refused); no environment, argv
//! or global reads. Non-guarantees: the caller must connect to the returned
//! addresses and not re-resolve, and must check redirects again.
//!
//! ```
//! use ironclaw_policy::{EgressPolicy, HttpAllowlist, HttpRule, StaticResolver};
//!
//! let mut rule = HttpRule::new("api.github.com");
//! rule.path_prefix = Some("/repos/".into());
//! let policy = EgressPolicy::builtin().with_allowlist(HttpAllowlist::new(vec![rule]).unwrap());
//! let mut dns = StaticResolver::new();
//! dns.insert("api.github.com", "140.82.112.6".parse().unwrap()).unwrap();
//!
//! let ok = policy.check("GET", "https://api.github.com/repos/a/b", &dns).unwrap();
//! assert_eq!(ok.addrs, vec!["140.82.112.6:443".parse().unwrap()]);
//! assert!(policy.check("GET", "https://api.github.com/repos/%2e%2e/admin", &dns).is_err());
//! assert!(policy.check("GET", "https://api.github.com@169.254.169.254/repos/", &dns).is_err());
//! ```
#![deny(missing_docs)]

mod allowlist;
mod capabilities;
mod config;
mod denied;
mod edit;
mod fs;
mod grants;
mod home;
mod host;
mod http;
mod jsonc;
mod path;
mod rate;
mod skill;
mod ssrf;
mod store;
mod suspend;

pub use allowlist::{Allowlist, AllowlistChange, AllowlistEntry, AllowlistError, Authorization};
pub use capabilities::{
    Capabilities, Credential, CredentialLocation, HttpCapability, HttpRateLimit, Limits,
    SecretsCapability, ToolInvokeCapability,
};
pub use config::{
    AuditLogConfig, AutoSuspendConfig, ChannelConfig, ChannelRateLimit, Config, ConfigError,
    ConfigIssue, DmPolicy, EnvLookup, GatewayConfig, InjectionDefenseConfig, InjectionMode,
    KeyKind, LlmConfig, LlmProvider, LoadedConfig, SandboxConfig, SandboxMode, SecurityConfig,
    StorageBackend, StorageConfig, ValidationReport, WebhookConfig, expand_str, is_secret_key,
    load_dotenv, parse_dotenv, parse_key, redact_value, typed_value, validate,
};
pub use denied::{Denied, DenyKind};
pub use edit::{ConfigChange, read_config_text, set_config_value};
pub use fs::FsPolicy;
pub use grants::{
    Access, DenyEvent, EnvPermission, FsPermission, GrantError, NetworkGrants, NetworkPermission,
    Permissions, SENSITIVE_ENV_SUFFIXES, Verdict, is_sensitive_env,
};
pub use home::HomeLayout;
pub use host::{HostError, HostIndex, HostPattern, normalize_host};
pub use http::{
    Decision, Egress, EgressPolicy, HttpAllowlist, HttpRule, ParsedUrl, RuleError, UrlHost,
};
pub use jsonc::{JsoncError, parse_jsonc, set_in_place};
pub use path::normalize_path;
pub use rate::{Gcra, RateLimiter};
pub use skill::{
    InstalledSkill, SkillError, SkillKind, SkillManifest, is_valid_skill_name, skill_digest,
};
pub use ssrf::{ResolveError, Resolver, SsrfPolicy, StaticResolver, SystemResolver};
pub use store::{FileLock, StoreError, load_json, update_json, write_atomic};
pub use suspend::{SkillViolations, Suspension, SuspensionState};
