//! Host names: normalisation, patterns and an index that matches without a scan.

use std::collections::HashMap;
use std::fmt;

/// Why a host or a host pattern was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct HostError(String);

/// The canonical spelling of a host: IDNA (UTS 46) ASCII form, lowercase, without
/// a trailing dot; IP literals in their standard form (IPv6 without brackets);
/// numeric IPv4 spellings (`0x7f.1`, `2130706433`) turned into the address they
/// denote, with the WHATWG URL rules.
pub fn normalize_host(host: &str) -> Result<String, HostError> {
    if host.is_empty() {
        return Err(HostError("empty host".into()));
    }
    if host.len() > 253 * 4 {
        return Err(HostError("host is too long".into()));
    }
    if host.contains(['/', '\\', '@', '?', '#', ' ']) {
        return Err(HostError(format!(
            "host {host:?} has a forbidden character"
        )));
    }
    let parsed = url::Host::parse(host).map_err(|e| HostError(format!("host {host:?}: {e}")))?;
    Ok(match parsed {
        url::Host::Domain(d) => {
            let d = d.strip_suffix('.').unwrap_or(&d).to_ascii_lowercase();
            // One trailing dot is the root label; any other empty label (`a..b`,
            // `.a`, `a..`) is malformed.
            if d.split('.').any(str::is_empty) {
                return Err(HostError(format!("host {host:?} has an empty label")));
            }
            d
        }
        url::Host::Ipv4(ip) => ip.to_string(),
        url::Host::Ipv6(ip) => ip.to_string(),
    })
}

/// An allowlist host: one exact name, or `*.suffix` for every subdomain of the
/// suffix (never the suffix itself).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum HostPattern {
    /// Exactly this normalised host.
    Exact(String),
    /// Any name ending in `.` + this normalised suffix.
    Subdomains(String),
}

impl HostPattern {
    /// Parses `host` or `*.suffix`. A bare `*`, a wildcard anywhere but the first
    /// label, and a wildcard over a single label (`*.com`) are refused: they grant
    /// far more than anyone means to.
    pub fn parse(pattern: &str) -> Result<Self, HostError> {
        let pattern = pattern.trim();
        if let Some(suffix) = pattern.strip_prefix("*.") {
            if suffix.contains('*') {
                return Err(HostError(format!(
                    "host pattern {pattern:?} has more than one wildcard"
                )));
            }
            let suffix = normalize_host(suffix)?;
            if suffix.parse::<std::net::IpAddr>().is_ok() {
                return Err(HostError(format!(
                    "host pattern {pattern:?} puts a wildcard on an address"
                )));
            }
            if !suffix.contains('.') {
                return Err(HostError(format!(
                    "host pattern {pattern:?} covers a whole top-level domain"
                )));
            }
            return Ok(Self::Subdomains(suffix));
        }
        if pattern.contains('*') {
            return Err(HostError(format!(
                "host pattern {pattern:?}: a wildcard is only allowed as the first label, as in *.example.com"
            )));
        }
        Ok(Self::Exact(normalize_host(pattern)?))
    }

    /// Whether a normalised host matches.
    pub fn matches(&self, host: &str) -> bool {
        match self {
            Self::Exact(h) => h == host,
            Self::Subdomains(suffix) => host
                .strip_suffix(suffix.as_str())
                .is_some_and(|rest| rest.len() > 1 && rest.ends_with('.')),
        }
    }
}

impl fmt::Display for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Exact(h) => f.write_str(h),
            Self::Subdomains(s) => write!(f, "*.{s}"),
        }
    }
}

/// Values keyed by host pattern, looked up in O(number of labels) hash probes: a
/// map on exact hosts and a map on wildcard suffixes probed at each label boundary.
#[derive(Debug, Clone)]
pub struct HostIndex<T> {
    exact: HashMap<String, Vec<T>>,
    subdomains: HashMap<String, Vec<T>>,
}

impl<T> Default for HostIndex<T> {
    fn default() -> Self {
        Self {
            exact: HashMap::new(),
            subdomains: HashMap::new(),
        }
    }
}

impl<T> HostIndex<T> {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a value under a pattern.
    pub fn insert(&mut self, pattern: &HostPattern, value: T) {
        match pattern {
            HostPattern::Exact(h) => self.exact.entry(h.clone()).or_default().push(value),
            HostPattern::Subdomains(s) => self.subdomains.entry(s.clone()).or_default().push(value),
        }
    }

    /// Calls `f` on every value whose pattern matches the normalised `host`, exact
    /// matches first, then wildcards from the most specific suffix; stops at the
    /// first `Some`.
    pub fn find<'s, R>(&'s self, host: &str, mut f: impl FnMut(&'s T) -> Option<R>) -> Option<R> {
        if let Some(values) = self.exact.get(host) {
            for v in values {
                if let Some(r) = f(v) {
                    return Some(r);
                }
            }
        }
        if self.subdomains.is_empty() || host.parse::<std::net::IpAddr>().is_ok() {
            return None;
        }
        let mut rest = host;
        while let Some(dot) = rest.find('.') {
            rest = &rest[dot + 1..];
            if let Some(values) = self.subdomains.get(rest) {
                for v in values {
                    if let Some(r) = f(v) {
                        return Some(r);
                    }
                }
            }
        }
        None
    }

    /// Whether any pattern matches.
    pub fn contains(&self, host: &str) -> bool {
        self.find(host, |_| Some(())).is_some()
    }

    /// The number of values.
    pub fn len(&self) -> usize {
        self.exact.values().map(Vec::len).sum::<usize>()
            + self.subdomains.values().map(Vec::len).sum::<usize>()
    }

    /// Whether the index is empty.
    pub fn is_empty(&self) -> bool {
        self.exact.is_empty() && self.subdomains.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(input: &str, expected: Option<&str>) {
        assert_eq!(normalize_host(input).ok().as_deref(), expected, "{input}");
    }

    #[test]
    fn normalisation() {
        norm("Example.COM", Some("example.com"));
        norm("example.com.", Some("example.com"));
        norm("bücher.example", Some("xn--bcher-kva.example"));
        norm("ⓔⓧⓐⓜⓟⓛⓔ.ⓒⓞⓜ", Some("example.com"));
        norm("0x7f.1", Some("127.0.0.1"));
        norm("2130706433", Some("127.0.0.1"));
        norm("①②⑦.⓪.⓪.①", Some("127.0.0.1"));
        norm("[::FFFF:127.0.0.1]", Some("::ffff:127.0.0.1"));
        norm("a..b", None);
        norm("api.test..", None);
        norm(".api.test", None);
        norm(".", None);
        norm("a b", None);
        norm("user@host", None);
        norm("", None);
        norm("425.510.425.510", None);
    }

    #[test]
    fn patterns() {
        let p = HostPattern::parse("*.Example.com").unwrap();
        assert!(p.matches("a.example.com"));
        assert!(p.matches("a.b.example.com"));
        assert!(!p.matches("example.com"));
        assert!(!p.matches("badexample.com"));
        assert!(!p.matches(".example.com"));
        for bad in [
            "*",
            "*.com",
            "a.*.com",
            "*example.com",
            "*.*.com",
            "*.1.2.3.4",
        ] {
            assert!(HostPattern::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn index_lookup() {
        let mut idx = HostIndex::new();
        idx.insert(&HostPattern::parse("api.example.com").unwrap(), 1);
        idx.insert(&HostPattern::parse("*.cdn.example.com").unwrap(), 2);
        assert_eq!(idx.find("api.example.com", |v| Some(*v)), Some(1));
        assert_eq!(idx.find("x.y.cdn.example.com", |v| Some(*v)), Some(2));
        assert_eq!(idx.find("cdn.example.com", |v| Some(*v)), None);
        assert_eq!(idx.find("example.com", |v| Some(*v)), None);
    }
}
