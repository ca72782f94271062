//! The `capabilities.json` schema: what a tool asks for.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::grants::{EnvPermission, FsPermission, GrantError, NetworkPermission, Permissions};
use crate::http::{HttpAllowlist, HttpRule, RuleError, split_host_port};

/// A tool's declared capabilities. Everything absent is denied.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Capabilities {
    /// Outbound HTTP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpCapability>,
    /// Secrets the tool may have injected (never read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secrets: Option<SecretsCapability>,
    /// Other tools it may invoke.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_invoke: Option<ToolInvokeCapability>,
    /// Resource limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<Limits>,
    /// Raw network access, `host[:port]` (for process and container skills).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub network: Vec<String>,
    /// Filesystem access beyond the skill's own workspace, `PATH:ro|rw`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filesystem: Vec<String>,
    /// Environment variables, exact names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<String>,
    /// Shell access.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub shell: bool,
}

impl Capabilities {
    /// Parses `capabilities.json` text.
    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// Everything the tool asks for, as permissions to intersect with the grants:
    /// each HTTP allowlist host (with its ports) is a network request, each
    /// credential's secret a secret request.
    pub fn requested(&self) -> Result<Permissions, GrantError> {
        let mut p = Permissions::default();
        for n in &self.network {
            p.network.insert(NetworkPermission::parse(n)?);
        }
        if let Some(http) = &self.http {
            for rule in &http.allowlist {
                let (host, port) = split_host_port(&rule.host).map_err(|reason| GrantError {
                    what: "network",
                    value: rule.host.clone(),
                    reason,
                })?;
                let mut ports: Vec<u16> = rule.ports.clone();
                ports.push(port.unwrap_or(443));
                if rule.allow_insecure_http {
                    ports.push(80);
                }
                for port in ports {
                    p.network
                        .insert(NetworkPermission::parse(&format!("{host}:{port}"))?);
                }
            }
            for cred in http.credentials.values() {
                p.secrets.insert(cred.secret_name.clone());
            }
        }
        for f in &self.filesystem {
            p.filesystem.insert(FsPermission::parse(f, None)?);
        }
        for e in &self.env {
            let env = EnvPermission::parse(e)?;
            if !env.is_exact() {
                return Err(GrantError {
                    what: "env",
                    value: e.clone(),
                    reason: "a skill requests exact names only".into(),
                });
            }
            p.env.insert(env);
        }
        if let Some(secrets) = &self.secrets {
            p.secrets.extend(secrets.allowed_names.iter().cloned());
        }
        if let Some(tools) = &self.tool_invoke {
            p.tools.extend(tools.allowed.iter().cloned());
        }
        p.shell = self.shell;
        Ok(p)
    }

    /// The compiled HTTP allowlist (empty, denying all, when `http` is absent).
    pub fn http_allowlist(&self) -> Result<HttpAllowlist, RuleError> {
        HttpAllowlist::new(
            self.http
                .as_ref()
                .map(|h| h.allowlist.clone())
                .unwrap_or_default(),
        )
    }
}

/// `http`: endpoints, credentials and limits.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpCapability {
    /// Allowed endpoints; empty denies all.
    #[serde(default)]
    pub allowlist: Vec<HttpRule>,
    /// Credentials injected at the boundary, by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub credentials: BTreeMap<String, Credential>,
    /// Per-tool request rate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<HttpRateLimit>,
    /// Request timeout in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_secs: Option<u64>,
    /// Largest response body accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_response_bytes: Option<u64>,
}

/// One credential injection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credential {
    /// The secret's name in the store.
    pub secret_name: String,
    /// Where it goes in the request.
    pub location: CredentialLocation,
    /// Hosts it may be sent to (exact or `*.suffix`).
    pub host_patterns: Vec<String>,
}

/// Where a credential is injected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum CredentialLocation {
    /// `Authorization: Bearer <secret>`.
    Bearer,
    /// `Authorization: Basic base64(username:secret)`.
    Basic {
        /// The user name.
        username: String,
    },
    /// A custom header.
    Header {
        /// The header name.
        name: String,
    },
    /// A query parameter.
    Query {
        /// The parameter name.
        param: String,
    },
}

/// `http.rate_limit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpRateLimit {
    /// Requests per minute.
    pub requests_per_minute: u32,
}

/// `secrets`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretsCapability {
    /// Exact secret names.
    #[serde(default)]
    pub allowed_names: Vec<String>,
}

/// `tool_invoke`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolInvokeCapability {
    /// Exact tool names.
    #[serde(default)]
    pub allowed: Vec<String>,
}

/// `limits`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Memory cap in MiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_mb: Option<u64>,
    /// Wall-clock cap in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn design_example_parses() {
        let text = r#"{
          "http": {
            "allowlist": [
              { "host": "api.github.com", "path_prefix": "/repos/", "methods": ["GET", "POST"] },
              { "host": "*.githubusercontent.com", "methods": ["GET"] }
            ],
            "credentials": {
              "github": { "secret_name": "github_token", "location": { "type": "bearer" },
                          "host_patterns": ["api.github.com"] }
            },
            "rate_limit": { "requests_per_minute": 60 },
            "timeout_secs": 30, "max_response_bytes": 5242880
          },
          "secrets": { "allowed_names": ["github_token"] },
          "tool_invoke": { "allowed": ["summarize"] },
          "limits": { "memory_mb": 64, "timeout_ms": 10000 }
        }"#;
        let caps = Capabilities::from_json(text).unwrap();
        let list = caps.http_allowlist().unwrap();
        assert!(
            list.check_url("GET", "https://api.github.com/repos/x")
                .is_allowed()
        );
        assert!(
            !list
                .check_url("DELETE", "https://api.github.com/repos/x")
                .is_allowed()
        );
        assert!(
            list.check_url("GET", "https://raw.githubusercontent.com/a")
                .is_allowed()
        );
        assert!(Capabilities::from_json(r#"{"htp": {}}"#).is_err());
    }
}
