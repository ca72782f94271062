//! Proxy settings: where it listens, its limits and timeouts, and opt-in presets.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

/// Per-job limits. Each over-limit case is answered with its own status and audited as
/// `NETWORK_BLOCK`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest request head (request line and headers) in bytes. Default 32 KiB.
    /// Larger heads get `431`. Threat: memory exhaustion and header-based smuggling.
    /// Minimum 8 KiB (the HTTP parser's floor).
    pub max_header_bytes: usize,
    /// Largest plain-HTTP request body in bytes, and largest decoded size of a
    /// compressed one. Default 10 MiB. Larger bodies get `413`. Bodies are buffered
    /// (to scan them for leaks before anything is sent), so this bounds the memory
    /// one request can hold (twice this for a compressed body).
    pub max_body_bytes: usize,
    /// Largest plain-HTTP response body the proxy buffers when it must scan a response
    /// for an injected credential. Default 10 MiB; larger responses get `502`.
    pub max_response_bytes: usize,
    /// Requests and tunnels one job may have in flight at once. Default 64; more get
    /// `429`. A request counts until its response body has been streamed to the
    /// client, a tunnel until it closes.
    pub max_concurrent_requests_per_job: usize,
    /// CONNECT tunnels one job may have open at once. Default 32; more get `429`.
    pub max_tunnels_per_job: usize,
    /// Requests (and tunnels opened) per minute per job, with a burst of the same
    /// size. Default 600; `0` means no limit. More get `429`.
    pub requests_per_minute_per_job: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_header_bytes: 32 * 1024,
            max_body_bytes: 10 * 1024 * 1024,
            max_response_bytes: 10 * 1024 * 1024,
            max_concurrent_requests_per_job: 64,
            max_tunnels_per_job: 32,
            requests_per_minute_per_job: 600,
        }
    }
}

/// Timeouts. Each expiry is audited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timeouts {
    /// Name resolution. Default 5 s; expiry answers `504`.
    pub dns: Duration,
    /// TCP connect to the checked address. Default 10 s; expiry answers `504`.
    pub connect: Duration,
    /// Waiting for an upstream's response head. Default 60 s; expiry answers `504`.
    pub response: Duration,
    /// A tunnel with no bytes in either direction is closed after this. Default 5 min.
    pub tunnel_idle: Duration,
    /// A tunnel is closed after this whatever it carries. Default 30 min, per the
    /// security model.
    pub tunnel_max: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            dns: Duration::from_secs(5),
            connect: Duration::from_secs(10),
            response: Duration::from_secs(60),
            tunnel_idle: Duration::from_secs(5 * 60),
            tunnel_max: Duration::from_secs(30 * 60),
        }
    }
}

/// Everything the proxy is configured with.
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    /// Where to listen. Default `127.0.0.1:3128`: loopback only, never a public
    /// interface unless the operator says so.
    pub listen: SocketAddr,
    /// Per-job limits (a job's grant may override them).
    pub limits: Limits,
    /// Timeouts.
    pub timeouts: Timeouts,
    /// Most client connections open at once across all jobs. Default 4096; further
    /// connections are answered `503` and closed at once (logged, not audited: no job
    /// is known yet). Threat: file-descriptor and memory exhaustion.
    pub max_connections: usize,
    /// Hosts every job may reach in addition to its own grants: opt-in presets and
    /// the operator's extra domains. Default empty.
    pub global_allow: Vec<String>,
    /// Skip the SSRF address rules, so loopback and private upstreams are reachable.
    /// Default off. For tests and local experiments only: with it on, a job can reach
    /// services on the host and the LAN through an allowed name.
    pub allow_private_addresses_unsafe: bool,
}

impl Default for ProxyConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 3128)),
            limits: Limits::default(),
            timeouts: Timeouts::default(),
            max_connections: 4096,
            global_allow: Vec::new(),
            allow_private_addresses_unsafe: false,
        }
    }
}

/// Groups of well-known hosts an operator may allow for every job at once. None is on
/// unless chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Preset {
    /// LLM provider APIs.
    LlmProviders,
    /// Package registries (PyPI, npm, crates.io).
    PackageRegistries,
    /// Version control hosting (GitHub, GitLab).
    VersionControl,
}

impl Preset {
    /// Parses a preset name: `llm-providers`, `package-registries`, `version-control`.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "llm-providers" => Some(Self::LlmProviders),
            "package-registries" => Some(Self::PackageRegistries),
            "version-control" => Some(Self::VersionControl),
            _ => None,
        }
    }

    /// The hosts of the preset (HTTPS, default port).
    pub fn hosts(self) -> &'static [&'static str] {
        match self {
            Self::LlmProviders => &[
                "api.openai.com",
                "api.anthropic.com",
                "generativelanguage.googleapis.com",
                "api.mistral.ai",
                "api.groq.com",
                "openrouter.ai",
                "api.together.xyz",
                "cloud-api.near.ai",
            ],
            Self::PackageRegistries => &[
                "pypi.org",
                "files.pythonhosted.org",
                "registry.npmjs.org",
                "crates.io",
                "static.crates.io",
                "index.crates.io",
            ],
            Self::VersionControl => &[
                "github.com",
                "api.github.com",
                "codeload.github.com",
                "objects.githubusercontent.com",
                "raw.githubusercontent.com",
                "gitlab.com",
            ],
        }
    }
}

/// Splits an operator's extra-domains list (`SANDBOX_EXTRA_DOMAINS`: comma or white
/// space separated) into rules. The caller reads the variable; this only parses.
pub fn parse_extra_domains(text: &str) -> Vec<String> {
    text.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_safe_ones() {
        let config = ProxyConfig::default();
        assert!(config.listen.ip().is_loopback());
        assert!(config.global_allow.is_empty());
        assert!(!config.allow_private_addresses_unsafe);
        assert_eq!(config.timeouts.tunnel_max, Duration::from_secs(1800));
    }

    #[test]
    fn extra_domains_and_presets_parse() {
        assert_eq!(
            parse_extra_domains(" a.com,b.org  c.net,,"),
            vec!["a.com", "b.org", "c.net"]
        );
        assert_eq!(
            Preset::parse("version-control"),
            Some(Preset::VersionControl)
        );
        assert_eq!(Preset::parse("all"), None);
        assert!(Preset::LlmProviders.hosts().contains(&"api.anthropic.com"));
    }
}
