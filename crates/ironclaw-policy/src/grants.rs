//! Permissions (what a skill asks for, what the operator grants), their
//! intersection, and runtime decisions as data.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::host::{HostIndex, HostPattern, normalize_host};
use crate::http::split_host_port;

/// Why a permission string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} {value:?}: {reason}")]
pub struct GrantError {
    /// The kind of grant (`network`, `filesystem`, `env`...).
    pub what: &'static str,
    /// The value as given.
    pub value: String,
    /// Why it is refused.
    pub reason: String,
}

fn grant_err(what: &'static str, value: &str, reason: impl Into<String>) -> GrantError {
    GrantError {
        what,
        value: value.to_owned(),
        reason: reason.into(),
    }
}

/// A network grant or request: a host pattern and a port (443 when not written).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NetworkPermission {
    pattern: HostPattern,
    port: u16,
}

impl NetworkPermission {
    /// Parses `host[:port]` or `*.suffix[:port]`.
    pub fn parse(spec: &str) -> Result<Self, GrantError> {
        let err = |r: String| grant_err("network", spec, r);
        let (host, port) = split_host_port(spec.trim()).map_err(err)?;
        let pattern = HostPattern::parse(host).map_err(|e| err(e.to_string()))?;
        Ok(Self {
            pattern,
            port: port.unwrap_or(443),
        })
    }

    /// The host pattern.
    pub fn pattern(&self) -> &HostPattern {
        &self.pattern
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Whether this grant covers `other` (a request, possibly itself a wildcard).
    pub fn covers(&self, other: &NetworkPermission) -> bool {
        if self.port != other.port {
            return false;
        }
        match (&self.pattern, &other.pattern) {
            (HostPattern::Exact(a), HostPattern::Exact(b)) => a == b,
            (HostPattern::Subdomains(_), HostPattern::Exact(b)) => self.pattern.matches(b),
            (HostPattern::Subdomains(s), HostPattern::Subdomains(t)) => {
                t == s || self.pattern.matches(t)
            }
            (HostPattern::Exact(_), HostPattern::Subdomains(_)) => false,
        }
    }

    /// Whether a normalised host and port are covered.
    pub fn allows(&self, host: &str, port: u16) -> bool {
        self.port == port && self.pattern.matches(host)
    }
}

impl fmt::Display for NetworkPermission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let host = self.pattern.to_string();
        if self.port == 443 {
            f.write_str(&host)
        } else if host.contains(':') {
            write!(f, "[{host}]:{}", self.port)
        } else {
            write!(f, "{host}:{}", self.port)
        }
    }
}

/// Read-only or read-write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Access {
    /// Read only.
    Ro,
    /// Read and write.
    Rw,
}

impl Access {
    /// Whether a grant of `self` allows an access of `wanted`.
    pub fn allows(self, wanted: Access) -> bool {
        self == Access::Rw || wanted == Access::Ro
    }
}

/// A filesystem grant or request: an absolute, lexically clean path and an access.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FsPermission {
    path: PathBuf,
    access: Access,
}

impl FsPermission {
    /// Parses `PATH:ro` or `PATH:rw`. `~` at the start is replaced by `user_home`
    /// (given by the caller; the library never reads the environment). The path
    /// must be absolute and free of `..`; `.` components and repeated slashes are
    /// removed so one directory has one spelling.
    pub fn parse(spec: &str, user_home: Option<&Path>) -> Result<Self, GrantError> {
        let err = |r: &str| grant_err("filesystem", spec, r);
        let (path, access) = match spec.rsplit_once(':') {
            Some((p, "ro")) => (p, Access::Ro),
            Some((p, "rw")) => (p, Access::Rw),
            _ => return Err(err("must end in :ro or :rw")),
        };
        let path = match (path.strip_prefix('~'), user_home) {
            (Some(rest), Some(home)) if rest.is_empty() || rest.starts_with('/') => {
                home.join(rest.trim_start_matches('/'))
            }
            (Some(_), _) => return Err(err("~ cannot be expanded")),
            (None, _) => PathBuf::from(path),
        };
        Ok(Self {
            path: clean_path(&path).map_err(err)?,
            access,
        })
    }

    /// A grant of `path` with `access`, cleaned like [`FsPermission::parse`].
    pub fn new(path: &Path, access: Access) -> Result<Self, GrantError> {
        let shown = path.display().to_string();
        Ok(Self {
            path: clean_path(path).map_err(|r| grant_err("filesystem", &shown, r))?,
            access,
        })
    }

    /// The path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The access.
    pub fn access(&self) -> Access {
        self.access
    }

    /// Whether this grant covers the request (same or deeper path, no more access).
    pub fn covers(&self, other: &FsPermission) -> bool {
        other.path.starts_with(&self.path) && self.access.allows(other.access)
    }
}

impl fmt::Display for FsPermission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let access = match self.access {
            Access::Ro => "ro",
            Access::Rw => "rw",
        };
        write!(f, "{}:{access}", self.path.display())
    }
}

/// An absolute path without `..`, `.` or repeated separators.
pub(crate) fn clean_path(path: &Path) -> Result<PathBuf, &'static str> {
    if path.as_os_str().is_empty() {
        return Err("empty path");
    }
    if path.to_string_lossy().contains('\0') {
        return Err("path has a nul byte");
    }
    if !path.is_absolute() {
        return Err("path must be absolute");
    }
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::RootDir | Component::Prefix(_) => out.push(c.as_os_str()),
            Component::CurDir => {}
            Component::ParentDir => return Err("path must not contain .."),
            Component::Normal(n) => out.push(n),
        }
    }
    Ok(out)
}

/// Suffixes of environment variable names that hold credentials: never granted
/// by a wildcard or prefix, only by an exact grant.
pub const SENSITIVE_ENV_SUFFIXES: &[&str] = &["_API_KEY", "_TOKEN"];

/// Whether an environment variable name is a credential name
/// (case-insensitive suffix match).
pub fn is_sensitive_env(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    SENSITIVE_ENV_SUFFIXES.iter().any(|s| upper.ends_with(s))
}

/// An environment grant: an exact name, or a `PREFIX*` that never covers
/// sensitive names.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EnvPermission(String);

impl EnvPermission {
    /// Parses `NAME` or `PREFIX*` (letters, digits, `_`).
    pub fn parse(spec: &str) -> Result<Self, GrantError> {
        let body = spec.strip_suffix('*').unwrap_or(spec);
        let valid = !body.is_empty() || spec == "*";
        if !valid
            || body.contains('*')
            || !body.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(grant_err(
                "env",
                spec,
                "expected a variable name (letters, digits, _) or PREFIX*",
            ));
        }
        Ok(Self(spec.to_owned()))
    }

    /// Whether this is an exact name.
    pub fn is_exact(&self) -> bool {
        !self.0.ends_with('*')
    }

    /// Whether the grant lets the skill read `name`.
    pub fn allows(&self, name: &str) -> bool {
        match self.0.strip_suffix('*') {
            None => self.0 == name,
            Some(prefix) => name.starts_with(prefix) && !is_sensitive_env(name),
        }
    }

    /// The grant as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EnvPermission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A set of permissions: what a skill requests, what it was granted, or what it
/// effectively has. Empty means nothing beyond the skill's own workspace.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Permissions {
    /// `host[:port]` (port 443 when absent).
    #[serde(skip_serializing_if = "BTreeSet::is_empty", with = "as_strings")]
    pub network: BTreeSet<NetworkPermission>,
    /// `path:ro|rw`.
    #[serde(skip_serializing_if = "BTreeSet::is_empty", with = "as_strings")]
    pub filesystem: BTreeSet<FsPermission>,
    /// Variable names (or `PREFIX*` in grants).
    #[serde(skip_serializing_if = "BTreeSet::is_empty", with = "as_strings")]
    pub env: BTreeSet<EnvPermission>,
    /// Secret names, injected at the boundary.
    #[serde(skip_serializing_if = "BTreeSet::is_empty")]
    pub secrets: BTreeSet<String>,
    /// Shell access: full host access as the user. Unsafe by nature.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub shell: bool,
    /// Tools it may invoke.
    #[serde(skip_serializing_if = "BTreeSet::is_empty")]
    pub tools: BTreeSet<String>,
}

mod as_strings {
    use std::collections::BTreeSet;
    use std::fmt::Display;
    use std::str::FromStr;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<T: Display, S: Serializer>(
        set: &BTreeSet<T>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.collect_seq(set.iter().map(ToString::to_string))
    }

    pub(super) fn deserialize<'de, T, D>(d: D) -> Result<BTreeSet<T>, D::Error>
    where
        T: FromStr + Ord,
        T::Err: Display,
        D: Deserializer<'de>,
    {
        let items = Vec::<String>::deserialize(d)?;
        items
            .iter()
            .map(|s| s.parse::<T>().map_err(serde::de::Error::custom))
            .collect()
    }
}

impl std::str::FromStr for NetworkPermission {
    type Err = GrantError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl std::str::FromStr for FsPermission {
    type Err = GrantError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s, None)
    }
}

impl std::str::FromStr for EnvPermission {
    type Err = GrantError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Permissions {
    /// Whether nothing is in the set.
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }

    /// Every item as text (`network:host`, `env:NAME`, `shell`...), for audit
    /// records and messages.
    pub fn describe(&self) -> Vec<String> {
        let mut out = Vec::new();
        out.extend(self.network.iter().map(|n| format!("network:{n}")));
        out.extend(self.filesystem.iter().map(|f| format!("filesystem:{f}")));
        out.extend(self.env.iter().map(|e| format!("env:{e}")));
        out.extend(self.secrets.iter().map(|s| format!("secret:{s}")));
        if self.shell {
            out.push("shell".into());
        }
        out.extend(self.tools.iter().map(|t| format!("tool:{t}")));
        out
    }

    /// Adds everything in `other`.
    pub fn extend(&mut self, other: &Permissions) {
        self.network.extend(other.network.iter().cloned());
        self.filesystem.extend(other.filesystem.iter().cloned());
        self.env.extend(other.env.iter().cloned());
        self.secrets.extend(other.secrets.iter().cloned());
        self.shell |= other.shell;
        self.tools.extend(other.tools.iter().cloned());
    }

    /// Removes the items of `other` (exactly as written); returns what was removed.
    pub fn remove(&mut self, other: &Permissions) -> Permissions {
        let mut removed = Permissions::default();
        for n in &other.network {
            if self.network.remove(n) {
                removed.network.insert(n.clone());
            }
        }
        for f in &other.filesystem {
            if self.filesystem.remove(f) {
                removed.filesystem.insert(f.clone());
            }
        }
        for e in &other.env {
            if self.env.remove(e) {
                removed.env.insert(e.clone());
            }
        }
        for s in &other.secrets {
            if self.secrets.remove(s) {
                removed.secrets.insert(s.clone());
            }
        }
        if other.shell && self.shell {
            self.shell = false;
            removed.shell = true;
        }
        for t in &other.tools {
            if self.tools.remove(t) {
                removed.tools.insert(t.clone());
            }
        }
        removed
    }

    /// Splits `requested` into what `self` (the grants) covers and what it does not:
    /// effective permissions are requested ∩ granted. An env request is covered by
    /// an exact grant, or by a prefix grant unless the name is sensitive.
    pub fn intersect(&self, requested: &Permissions) -> (Permissions, Permissions) {
        let mut effective = Permissions::default();
        let mut missing = Permissions::default();
        for n in &requested.network {
            if self.network.iter().any(|g| g.covers(n)) {
                effective.network.insert(n.clone());
            } else {
                missing.network.insert(n.clone());
            }
        }
        for f in &requested.filesystem {
            if self.filesystem.iter().any(|g| g.covers(f)) {
                effective.filesystem.insert(f.clone());
            } else {
                missing.filesystem.insert(f.clone());
            }
        }
        for e in &requested.env {
            if e.is_exact() && self.env.iter().any(|g| g.allows(e.as_str())) {
                effective.env.insert(e.clone());
            } else {
                missing.env.insert(e.clone());
            }
        }
        for s in &requested.secrets {
            if self.secrets.contains(s) {
                effective.secrets.insert(s.clone());
            } else {
                missing.secrets.insert(s.clone());
            }
        }
        if requested.shell {
            if self.shell {
                effective.shell = true;
            } else {
                missing.shell = true;
            }
        }
        for t in &requested.tools {
            if self.tools.contains(t) {
                effective.tools.insert(t.clone());
            } else {
                missing.tools.insert(t.clone());
            }
        }
        (effective, missing)
    }
}

/// The audit event a refusal belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DenyEvent {
    /// The skill is not in the allowlist.
    AllowlistDeny,
    /// An authorised skill went beyond its grants (env, secret, shell, tool).
    AllowlistViolation,
    /// An outbound network call beyond the grants.
    NetworkBlock,
    /// A file access beyond the grants.
    FilesystemBlock,
    /// The skill is suspended.
    SkillSuspended,
}

impl DenyEvent {
    /// The audit event name (`ALLOWLIST_DENY`...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AllowlistDeny => "ALLOWLIST_DENY",
            Self::AllowlistViolation => "ALLOWLIST_VIOLATION",
            Self::NetworkBlock => "NETWORK_BLOCK",
            Self::FilesystemBlock => "FILESYSTEM_BLOCK",
            Self::SkillSuspended => "SKILL_SUSPENDED",
        }
    }

    /// Whether the refusal counts as a violation for auto-suspension.
    pub fn is_violation(self) -> bool {
        matches!(
            self,
            Self::AllowlistViolation | Self::NetworkBlock | Self::FilesystemBlock
        )
    }
}

/// A runtime decision, ready for the caller's audit record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Allowed by `grant`.
    Allow {
        /// The grant that applied, as text.
        grant: String,
    },
    /// Refused.
    Deny {
        /// The audit event to record.
        event: DenyEvent,
        /// The resource asked for (`host:port`, a path, a variable name).
        resource: String,
        /// Why, as a lowercase fragment.
        reason: String,
    },
}

impl Verdict {
    /// Whether the action may go ahead.
    pub fn is_allowed(&self) -> bool {
        matches!(self, Self::Allow { .. })
    }

    pub(crate) fn deny(
        event: DenyEvent,
        resource: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        Self::Deny {
            event,
            resource: resource.into(),
            reason: reason.into(),
        }
    }
}

/// Network grants indexed by host, so a check costs a few hash probes whatever
/// the number of grants.
#[derive(Debug, Clone, Default)]
pub struct NetworkGrants {
    index: HostIndex<NetworkPermission>,
}

impl NetworkGrants {
    /// Indexes the grants.
    pub fn new<'a>(grants: impl IntoIterator<Item = &'a NetworkPermission>) -> Self {
        let mut index = HostIndex::new();
        for g in grants {
            index.insert(&g.pattern, g.clone());
        }
        Self { index }
    }

    /// May the skill connect to `host:port`? `host` is normalised first.
    pub fn check(&self, host: &str, port: u16) -> Verdict {
        let Ok(normal) = normalize_host(host) else {
            return Verdict::deny(
                DenyEvent::NetworkBlock,
                format!("{host}:{port}"),
                "invalid host",
            );
        };
        self.check_normalized(&normal, port)
    }

    /// Like [`NetworkGrants::check`] for a host already normalised.
    pub fn check_normalized(&self, host: &str, port: u16) -> Verdict {
        match self.index.find(host, |g| (g.port == port).then_some(g)) {
            Some(g) => Verdict::Allow {
                grant: format!("network:{g}"),
            },
            None => Verdict::deny(
                DenyEvent::NetworkBlock,
                format!("{host}:{port}"),
                "no network grant covers it",
            ),
        }
    }
}

/// Runtime checks against a skill's effective permissions.
impl Permissions {
    /// May the skill connect to `host:port`? `host` is normalised first. For many
    /// checks against many grants, build [`NetworkGrants`] once instead.
    pub fn check_network(&self, host: &str, port: u16) -> Verdict {
        NetworkGrants::new(&self.network).check(host, port)
    }

    /// May the skill read the environment variable `name`?
    pub fn check_env(&self, name: &str) -> Verdict {
        match self.env.iter().find(|g| g.allows(name)) {
            Some(g) => Verdict::Allow {
                grant: format!("env:{g}"),
            },
            None => Verdict::deny(
                DenyEvent::AllowlistViolation,
                format!("env:{name}"),
                if is_sensitive_env(name) {
                    "credential variables need an exact grant"
                } else {
                    "no env grant covers it"
                },
            ),
        }
    }

    /// May the skill have secret `name` injected?
    pub fn check_secret(&self, name: &str) -> Verdict {
        if self.secrets.contains(name) {
            Verdict::Allow {
                grant: format!("secret:{name}"),
            }
        } else {
            Verdict::deny(
                DenyEvent::AllowlistViolation,
                format!("secret:{name}"),
                "secret not granted",
            )
        }
    }

    /// May the skill invoke tool `name`?
    pub fn check_tool(&self, name: &str) -> Verdict {
        if self.tools.contains(name) {
            Verdict::Allow {
                grant: format!("tool:{name}"),
            }
        } else {
            Verdict::deny(
                DenyEvent::AllowlistViolation,
                format!("tool:{name}"),
                "tool not granted",
            )
        }
    }

    /// May the skill run a shell?
    pub fn check_shell(&self) -> Verdict {
        if self.shell {
            Verdict::Allow {
                grant: "shell".into(),
            }
        } else {
            Verdict::deny(DenyEvent::AllowlistViolation, "shell", "shell not granted")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn perms(network: &[&str], env: &[&str]) -> Permissions {
        Permissions {
            network: network
                .iter()
                .map(|n| NetworkPermission::parse(n).unwrap())
                .collect(),
            env: env
                .iter()
                .map(|e| EnvPermission::parse(e).unwrap())
                .collect(),
            ..Permissions::default()
        }
    }

    #[test]
    fn network_cover() {
        let g = |s| NetworkPermission::parse(s).unwrap();
        assert!(g("*.gmail.com:993").covers(&g("imap.gmail.com:993")));
        assert!(!g("*.gmail.com:993").covers(&g("imap.gmail.com:994")));
        assert!(!g("*.gmail.com").covers(&g("gmail.com")));
        assert!(!g("api.github.com").covers(&g("*.github.com")));
        assert!(g("*.github.com").covers(&g("*.api.github.com")));
        assert!(g("API.GitHub.com.").covers(&g("api.github.com:443")));
        assert!(NetworkPermission::parse("*").is_err());
        assert!(NetworkPermission::parse("a.com:99999").is_err());
    }

    #[test]
    fn sensitive_env_needs_exact_grant() {
        let granted = perms(&[], &["GITHUB_*", "OPENAI_API_KEY"]);
        assert!(granted.check_env("GITHUB_USER").is_allowed());
        assert!(!granted.check_env("GITHUB_TOKEN").is_allowed());
        assert!(!granted.check_env("github_token_x").is_allowed());
        assert!(!granted.check_env("GITHUB_API_KEY").is_allowed());
        assert!(granted.check_env("OPENAI_API_KEY").is_allowed());
        assert!(!granted.check_env("OPENAI_API_KEY2").is_allowed());
        let all = perms(&[], &["*"]);
        assert!(all.check_env("HOME").is_allowed());
        assert!(!all.check_env("AWS_SESSION_TOKEN").is_allowed());
        assert!(!all.check_env("x_api_key").is_allowed());
        assert!(EnvPermission::parse("A*B").is_err());
        assert!(EnvPermission::parse("A-B").is_err());
    }

    #[test]
    fn intersection_reports_what_is_missing() {
        let granted = perms(&["api.github.com"], &["GITHUB_*"]);
        let requested = perms(
            &["api.github.com", "evil.com"],
            &["GITHUB_USER", "GITHUB_TOKEN"],
        );
        let (effective, missing) = granted.intersect(&requested);
        assert_eq!(
            effective.describe(),
            ["network:api.github.com", "env:GITHUB_USER"]
        );
        assert_eq!(missing.describe(), ["network:evil.com", "env:GITHUB_TOKEN"]);
    }

    #[test]
    fn fs_grants_are_clean() {
        let home = Path::new("/home/u");
        let p = FsPermission::parse("~/.ironclaw/workspace/shared:ro", Some(home)).unwrap();
        assert_eq!(p.path(), Path::new("/home/u/.ironclaw/workspace/shared"));
        assert_eq!(
            FsPermission::parse("/a//b/./c:rw", None).unwrap().path(),
            Path::new("/a/b/c")
        );
        for bad in ["/a/../b:ro", "rel/path:ro", "/a:rx", "/a", "~x/y:ro"] {
            assert!(FsPermission::parse(bad, Some(home)).is_err(), "{bad}");
        }
        let rw = FsPermission::parse("/a:rw", None).unwrap();
        assert!(rw.covers(&FsPermission::parse("/a/b:ro", None).unwrap()));
        assert!(!rw.covers(&FsPermission::parse("/ab:ro", None).unwrap()));
        let ro = FsPermission::parse("/a:ro", None).unwrap();
        assert!(!ro.covers(&FsPermission::parse("/a/b:rw", None).unwrap()));
    }

    #[test]
    fn serde_round_trip() {
        let p = perms(&["a.com:993", "*.b.com"], &["X"]);
        let text = serde_json::to_string(&p).unwrap();
        assert_eq!(text, r#"{"network":["a.com:993","*.b.com"],"env":["X"]}"#);
        assert_eq!(serde_json::from_str::<Permissions>(&text).unwrap(), p);
        assert!(serde_json::from_str::<Permissions>(r#"{"network":["*"]}"#).is_err());
    }
}
