//! Strict URL parsing, the HTTP endpoint allowlist, and the egress check that
//! combines them with the SSRF rules.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use serde::{Deserialize, Serialize};

use crate::denied::{Denied, DenyKind};
use crate::host::{HostIndex, HostPattern, normalize_host};
use crate::path::{normalize_path, prefix_matches};
use crate::ssrf::{Resolver, SsrfPolicy};

/// The longest URL accepted.
const MAX_URL_LEN: usize = 8192;

/// The host of a parsed URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UrlHost {
    /// A normalised (IDNA ASCII, lowercase) name.
    Domain(String),
    /// An address, whatever numeric spelling the URL used.
    Ip(IpAddr),
}

impl UrlHost {
    /// The normalised host as text (IPv6 without brackets).
    pub fn as_text(&self) -> String {
        match self {
            Self::Domain(d) => d.clone(),
            Self::Ip(ip) => ip.to_string(),
        }
    }
}

/// A URL that passed the syntax rules: explicit `scheme://`, no whitespace,
/// control characters or backslashes anywhere, no userinfo, a host, and a path
/// free of traversals in any encoding.
#[derive(Debug, Clone)]
pub struct ParsedUrl {
    url: url::Url,
    host: UrlHost,
    port: u16,
    explicit_port: bool,
    segments: Vec<String>,
}

impl ParsedUrl {
    /// Parses with the WHATWG rules (the same host and IPv4 rules as browsers and
    /// most HTTP clients) after refusing input that parsers disagree on.
    pub fn parse(raw: &str) -> Result<Self, Denied> {
        let invalid =
            |why: &str| Denied::new(DenyKind::InvalidUrl, format!("url {}: {why}", shorten(raw)));
        if raw.len() > MAX_URL_LEN {
            return Err(invalid("is too long"));
        }
        if raw.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(invalid("has whitespace or a control character"));
        }
        if raw.contains('\\') {
            return Err(invalid("has a backslash"));
        }
        let (scheme, rest) = raw
            .split_once(':')
            .ok_or_else(|| invalid("has no scheme"))?;
        if scheme.is_empty()
            || !scheme
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
        {
            return Err(invalid("has no scheme"));
        }
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "https" && scheme != "http" {
            return Err(Denied::new(
                DenyKind::Scheme,
                format!("scheme {scheme:?} of {} is not https", shorten(raw)),
            ));
        }
        let rest = rest
            .strip_prefix("//")
            .ok_or_else(|| invalid("does not start with scheme://"))?;
        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let authority = &rest[..authority_end];
        if authority.contains('@') || authority.to_ascii_lowercase().contains("%40") {
            return Err(Denied::new(
                DenyKind::Userinfo,
                format!("url {} carries userinfo", shorten(raw)),
            ));
        }
        let after = &rest[authority_end..];
        let path_end = after.find(['?', '#']).unwrap_or(after.len());
        let raw_path = &after[..path_end];
        let segments = normalize_path(raw_path)?;

        let url = url::Url::parse(raw).map_err(|e| invalid(&e.to_string()))?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(Denied::new(
                DenyKind::Userinfo,
                format!("url {} carries userinfo", shorten(raw)),
            ));
        }
        let host = match url.host() {
            Some(url::Host::Domain(d)) => {
                let d = normalize_host(d).map_err(|e| invalid(&e.to_string()))?;
                match d.parse::<IpAddr>() {
                    Ok(ip) => UrlHost::Ip(ip),
                    Err(_) => UrlHost::Domain(d),
                }
            }
            Some(url::Host::Ipv4(ip)) => UrlHost::Ip(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => UrlHost::Ip(IpAddr::V6(ip)),
            None => return Err(invalid("has no host")),
        };
        let default_port = if scheme == "https" { 443 } else { 80 };
        let port = url.port().unwrap_or(default_port);
        Ok(Self {
            explicit_port: port != default_port,
            url,
            host,
            port,
            segments,
        })
    }

    /// The URL as the client should send it.
    pub fn as_str(&self) -> &str {
        self.url.as_str()
    }

    /// `https` or `http`.
    pub fn scheme(&self) -> &str {
        self.url.scheme()
    }

    /// The normalised host.
    pub fn host(&self) -> &UrlHost {
        &self.host
    }

    /// The effective port (the scheme's default when none is written).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Whether the port differs from the scheme's default.
    pub fn has_non_default_port(&self) -> bool {
        self.explicit_port
    }

    /// The path segments, percent-decoded once.
    pub fn segments(&self) -> &[String] {
        &self.segments
    }

    /// The query, if any.
    pub fn query(&self) -> Option<&str> {
        self.url.query()
    }
}

fn shorten(raw: &str) -> String {
    if raw.len() <= 200 {
        return format!("{raw:?}");
    }
    let mut end = 200;
    while !raw.is_char_boundary(end) {
        end -= 1;
    }
    format!("{:?}...", &raw[..end])
}

/// One entry of `capabilities.json` `http.allowlist`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpRule {
    /// `api.example.com`, `*.example.com` (subdomains only), optionally `:port`.
    pub host: String,
    /// Whole-segment path prefix; absent means any path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_prefix: Option<String>,
    /// Allowed methods, exact; absent means `GET` and `HEAD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub methods: Option<Vec<String>>,
    /// Non-default ports this rule allows.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<u16>,
    /// Allow plain `http` for this rule. Default false. Unsafe: anyone on the path
    /// reads and rewrites the traffic, and credentials are never injected into it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_insecure_http: bool,
}

impl HttpRule {
    /// A rule for `host` with the defaults (any path, `GET`/`HEAD`, https, default port).
    pub fn new(host: impl Into<String>) -> Self {
        Self {
            host: host.into(),
            path_prefix: None,
            methods: None,
            ports: Vec::new(),
            allow_insecure_http: false,
        }
    }
}

impl fmt::Display for HttpRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.host)?;
        if let Some(p) = &self.path_prefix {
            f.write_str(p)?;
        }
        match &self.methods {
            Some(m) => write!(f, " {}", m.join(",")),
            None => f.write_str(" GET,HEAD"),
        }
    }
}

#[derive(Debug, Clone)]
struct CompiledRule {
    index: usize,
    prefix: Vec<String>,
    prefix_is_dir: bool,
    methods: Vec<String>,
    ports: Vec<u16>,
    allow_http: bool,
}

/// An error in an allowlist rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("http.allowlist[{index}]: {reason}")]
pub struct RuleError {
    /// Position of the rule.
    pub index: usize,
    /// What is wrong with it.
    pub reason: String,
}

/// What the allowlist decided, with the rule that applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Allowed by `rule` (its index and description).
    Allow {
        /// Position of the rule in the allowlist.
        index: usize,
        /// The rule, for the audit record.
        rule: String,
    },
    /// Refused.
    Deny(Denied),
}

impl Decision {
    /// Whether the request may go ahead.
    pub fn is_allowed(&self) -> bool {
        matches!(self, Self::Allow { .. })
    }
}

/// A tool's HTTP endpoint allowlist, indexed by host so a decision costs a few
/// hash probes whatever the number of rules. Empty means deny all.
#[derive(Debug, Clone, Default)]
pub struct HttpAllowlist {
    rules: Vec<HttpRule>,
    index: HostIndex<CompiledRule>,
}

impl HttpAllowlist {
    /// Compiles the rules; refuses malformed hosts, wildcards and prefixes.
    pub fn new(rules: Vec<HttpRule>) -> Result<Self, RuleError> {
        let mut index = HostIndex::new();
        for (i, rule) in rules.iter().enumerate() {
            let err = |reason: String| RuleError { index: i, reason };
            let (host, port) = split_host_port(&rule.host).map_err(err)?;
            let pattern = HostPattern::parse(host).map_err(|e| err(e.to_string()))?;
            let (prefix, prefix_is_dir) = match &rule.path_prefix {
                None => (Vec::new(), false),
                Some(p) => {
                    if !p.starts_with('/') {
                        return Err(err(format!("path_prefix {p:?} does not start with /")));
                    }
                    let segs = normalize_path(p).map_err(|e| err(e.to_string()))?;
                    let dir = p.len() > 1 && p.ends_with('/');
                    let segs = if dir {
                        segs[..segs.len().saturating_sub(1)].to_vec()
                    } else {
                        segs
                    };
                    (segs, dir)
                }
            };
            let methods = match &rule.methods {
                None => vec!["GET".to_owned(), "HEAD".to_owned()],
                Some(m) if m.is_empty() => return Err(err("methods is empty".into())),
                Some(m) => {
                    for method in m {
                        if method.is_empty() || !method.bytes().all(|b| b.is_ascii_alphabetic()) {
                            return Err(err(format!("method {method:?} is not a method name")));
                        }
                    }
                    m.iter().map(|s| s.to_ascii_uppercase()).collect()
                }
            };
            let mut ports = rule.ports.clone();
            ports.extend(port);
            index.insert(
                &pattern,
                CompiledRule {
                    index: i,
                    prefix,
                    prefix_is_dir,
                    methods,
                    ports,
                    allow_http: rule.allow_insecure_http,
                },
            );
        }
        Ok(Self { rules, index })
    }

    /// The rules as given.
    pub fn rules(&self) -> &[HttpRule] {
        &self.rules
    }

    /// Parses `url` and decides.
    pub fn check_url(&self, method: &str, url: &str) -> Decision {
        match ParsedUrl::parse(url) {
            Ok(parsed) => self.check(method, &parsed),
            Err(d) => Decision::Deny(d),
        }
    }

    /// Decides on a parsed URL: host, then path, then method, then scheme and port.
    /// The most specific refusal wins when several rules name the host.
    pub fn check(&self, method: &str, url: &ParsedUrl) -> Decision {
        let host = url.host().as_text();
        let method = method.to_ascii_uppercase();
        let mut refusal: Option<Denied> = None;
        let found = self.index.find(&host, |rule| {
            let why = if !prefix_matches(&rule.prefix, rule.prefix_is_dir, url.segments()) {
                Denied::new(
                    DenyKind::PathNotAllowed,
                    format!(
                        "path of {} is outside the allowed prefixes for {host}",
                        url.as_str()
                    ),
                )
            } else if !rule.methods.contains(&method) {
                Denied::new(
                    DenyKind::MethodNotAllowed,
                    format!("method {method} is not allowed for {host}"),
                )
            } else if url.scheme() != "https" && !rule.allow_http {
                Denied::new(DenyKind::Scheme, format!("{} is not https", url.as_str()))
            } else if url.has_non_default_port() && !rule.ports.contains(&url.port()) {
                Denied::new(
                    DenyKind::Port,
                    format!("port {} is not declared for {host}", url.port()),
                )
            } else {
                return Some(rule.index);
            };
            let rank = |k: DenyKind| match k {
                DenyKind::PathNotAllowed => 0,
                DenyKind::MethodNotAllowed => 1,
                _ => 2,
            };
            if refusal
                .as_ref()
                .is_none_or(|r| rank(why.kind) >= rank(r.kind))
            {
                refusal = Some(why);
            }
            None
        });
        match found {
            Some(index) => Decision::Allow {
                index,
                rule: self.rules[index].to_string(),
            },
            None => Decision::Deny(refusal.unwrap_or_else(|| {
                Denied::new(
                    DenyKind::HostNotAllowed,
                    format!("host {host} is not in the allowlist"),
                )
            })),
        }
    }
}

/// Splits `host[:port]` (IPv6 literals bracketed).
pub(crate) fn split_host_port(spec: &str) -> Result<(&str, Option<u16>), String> {
    let bad = || format!("{spec:?} is not host[:port]");
    if let Some(rest) = spec.strip_prefix('[') {
        let (_, after) = rest.split_once(']').ok_or_else(bad)?;
        let host_len = spec.len() - after.len();
        return match after.strip_prefix(':') {
            None if after.is_empty() => Ok((&spec[..host_len], None)),
            None => Err(bad()),
            Some(p) => Ok((&spec[..host_len], Some(p.parse().map_err(|_| bad())?))),
        };
    }
    match spec.rsplit_once(':') {
        None => Ok((spec, None)),
        Some((h, p)) if !h.contains(':') => {
            let port: u16 = p.parse().map_err(|_| bad())?;
            if port == 0 {
                return Err(bad());
            }
            Ok((h, Some(port)))
        }
        Some(_) => Err(bad()),
    }
}

/// What an allowed request may do: the URL to send and the checked addresses to
/// connect to (and nothing else).
#[derive(Debug, Clone)]
pub struct Egress {
    /// The parsed request URL.
    pub url: ParsedUrl,
    /// Checked addresses; connect only to these.
    pub addrs: Vec<SocketAddr>,
    /// The allowlist rule that applied, if an allowlist was used.
    pub rule: Option<String>,
}

/// The full outbound check of the built-in HTTP tool and the proxy: strict URL
/// syntax, `https` only (unless an allowlist rule allows http), default port only
/// (unless declared), SSRF name and address rules on the literal host and on every
/// resolved answer, nested URLs to internal destinations, and optionally a tool's
/// allowlist.
#[derive(Debug, Clone, Default)]
pub struct EgressPolicy {
    ssrf: SsrfPolicy,
    allowlist: Option<HttpAllowlist>,
}

impl EgressPolicy {
    /// The built-in HTTP tool's policy: no allowlist, SSRF rules only.
    pub fn builtin() -> Self {
        Self::default()
    }

    /// Adds a tool's allowlist, which then must allow the request as well.
    pub fn with_allowlist(mut self, allowlist: HttpAllowlist) -> Self {
        self.allowlist = Some(allowlist);
        self
    }

    /// Decides without resolving: everything but the lookup.
    pub fn check_static(
        &self,
        method: &str,
        raw: &str,
    ) -> Result<(ParsedUrl, Option<String>), Denied> {
        let url = ParsedUrl::parse(raw)?;
        match url.host() {
            UrlHost::Ip(ip) => self.ssrf.check_ip(*ip)?,
            UrlHost::Domain(d) => self.ssrf.check_name(d)?,
        }
        check_nested(&self.ssrf, &url)?;
        let rule = match &self.allowlist {
            Some(list) => match list.check(method, &url) {
                Decision::Allow { rule, .. } => Some(rule),
                Decision::Deny(d) => return Err(d),
            },
            None => {
                if url.scheme() != "https" {
                    return Err(Denied::new(
                        DenyKind::Scheme,
                        format!("{} is not https", url.as_str()),
                    ));
                }
                if url.has_non_default_port() {
                    return Err(Denied::new(
                        DenyKind::Port,
                        format!("port {} is not the https default", url.port()),
                    ));
                }
                None
            }
        };
        Ok((url, rule))
    }

    /// Decides and resolves: the resolver is asked once and every answer checked.
    pub fn check(
        &self,
        method: &str,
        raw: &str,
        resolver: &dyn Resolver,
    ) -> Result<Egress, Denied> {
        let (url, rule) = self.check_static(method, raw)?;
        let addrs = self
            .ssrf
            .resolve_checked(resolver, &url.host().as_text(), url.port())?;
        Ok(Egress { url, addrs, rule })
    }
}

/// Refuses a URL that carries another URL (in its path or query) whose host is an
/// internal address or a local name: an open redirect or a fetch-by-URL endpoint on
/// the far side would take the request there.
fn check_nested(ssrf: &SsrfPolicy, url: &ParsedUrl) -> Result<(), Denied> {
    let mut text = url.segments().join("/");
    if let Some(q) = url.query() {
        text.push('?');
        text.push_str(&percent_encoding::percent_decode_str(q).decode_utf8_lossy());
    }
    let mut rest = text.as_str();
    while let Some(at) = rest.find("://") {
        let after = &rest[at + 3..];
        let end = after.find(['/', '?', '#', '&', ' ']).unwrap_or(after.len());
        let authority = &after[..end];
        let host_port = authority.rsplit('@').next().unwrap_or(authority);
        let host = match split_host_port(host_port) {
            Ok((h, _)) => h,
            Err(_) => host_port,
        };
        if let Ok(name) = normalize_host(host) {
            let verdict = match name.parse::<IpAddr>() {
                Ok(ip) => ssrf.check_ip(ip),
                Err(_) => ssrf.check_name(&name),
            };
            if let Err(d) = verdict {
                return Err(Denied::new(
                    d.kind,
                    format!("url {} carries a nested url to {name}", url.as_str()),
                ));
            }
        }
        rest = after;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_port_split() {
        assert_eq!(split_host_port("a.com"), Ok(("a.com", None)));
        assert_eq!(split_host_port("a.com:8443"), Ok(("a.com", Some(8443))));
        assert_eq!(split_host_port("[::1]:8"), Ok(("[::1]", Some(8))));
        assert!(split_host_port("a.com:x").is_err());
        assert!(split_host_port("a.com:0").is_err());
    }
}
