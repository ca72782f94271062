//! SSRF address and name rules, and name resolution that returns only checked
//! addresses.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};

use crate::denied::{Denied, DenyKind};
use crate::host::normalize_host;

/// Host names of cloud metadata services, refused without a lookup.
///
/// They normally resolve to a link-local address (refused anyway); refusing the
/// name as well keeps the rule independent of the local resolver.
const METADATA_NAMES: &[&str] = &[
    "metadata",
    "metadata.google.internal",
    "metadata.goog",
    "instance-data",
    "instance-data.ec2.internal",
    "metadata.tencentyun.com",
    "metadata.azure.com",
    "metadata.platformequinix.com",
    "metadata.packet.net",
];

/// Name suffixes reserved for local or private use (RFC 6761, RFC 6762, RFC 8375,
/// the ICANN `.internal` reservation), refused without a lookup.
const LOCAL_SUFFIXES: &[&str] = &["localhost", "local", "internal", "home.arpa", "localdomain"];

/// Addresses of cloud metadata services that are not in a range refused anyway.
const METADATA_V4: &[Ipv4Addr] = &[
    // Azure WireServer and DNS: a public-looking address that answers only inside Azure.
    Ipv4Addr::new(168, 63, 129, 16),
];

/// The address rules of the built-in HTTP tool and the egress proxy.
///
/// Default: refuse every address that is not globally reachable unicast: loopback,
/// RFC 1918, CGNAT, link-local, multicast, broadcast, unspecified, unique-local,
/// site-local, benchmarking and reserved ranges, every IPv6 form
/// that embeds an IPv4 address (whatever that address is), and the cloud metadata
/// addresses. Threat: a tool (or a prompt-injected model) reaching services on the
/// host, the LAN or the cloud control plane. Limits: the rules judge addresses, so
/// the caller must connect to the addresses [`SsrfPolicy::resolve_checked`] returns
/// and nothing else, and must not follow redirects without checking again. Cost: one
/// lookup per request plus a few comparisons per address.
#[derive(Debug, Clone, Default)]
pub struct SsrfPolicy {
    _private: (),
}

impl SsrfPolicy {
    /// The strict default policy.
    pub fn new() -> Self {
        Self::default()
    }

    /// Refuses an address that is not globally reachable unicast.
    pub fn check_ip(&self, ip: IpAddr) -> Result<(), Denied> {
        match classify(ip) {
            None => Ok(()),
            Some(kind) => Err(Denied::new(kind, format!("address {ip} is not public"))),
        }
    }

    /// Refuses names that must never be looked up: `localhost` and `*.localhost`,
    /// other local-use suffixes, single-label names (resolved through search
    /// domains and hosts files, so they reach the intranet), and cloud metadata
    /// names. `host` should be normalised (see [`normalize_host`]).
    pub fn check_name(&self, host: &str) -> Result<(), Denied> {
        self.check_name_with(host, true)
    }

    fn check_name_with(&self, host: &str, single_label: bool) -> Result<(), Denied> {
        let host = host.strip_suffix('.').unwrap_or(host);
        if METADATA_NAMES.contains(&host) {
            return Err(Denied::new(
                DenyKind::CloudMetadata,
                format!("host {host} is a cloud metadata service"),
            ));
        }
        for suffix in LOCAL_SUFFIXES {
            if host == *suffix
                || host
                    .strip_suffix(suffix)
                    .is_some_and(|rest| rest.ends_with('.'))
            {
                return Err(Denied::new(
                    DenyKind::LocalName,
                    format!("host {host} is a local name"),
                ));
            }
        }
        if single_label && !host.contains('.') {
            return Err(Denied::new(
                DenyKind::LocalName,
                format!("host {host} is a single-label name"),
            ));
        }
        Ok(())
    }

    /// [`SsrfPolicy::check_name`] without the single-label rule: for names seen
    /// inside other text (a nested URL), where a bare word is usually not a host.
    pub(crate) fn check_special_name(&self, host: &str) -> Result<(), Denied> {
        self.check_name_with(host, false)
    }

    /// Resolves `host` once and returns the addresses to connect to, every one of
    /// them checked. Any refused answer refuses the whole name (a rebinding
    /// attacker mixes a public and a private answer). An IP literal is checked
    /// without a lookup. The resolver is asked at most once, so a name that answers
    /// differently on a second query cannot swap the address after the check.
    pub fn resolve_checked(
        &self,
        resolver: &dyn Resolver,
        host: &str,
        port: u16,
    ) -> Result<Vec<SocketAddr>, Denied> {
        let literal = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        if let Ok(ip) = literal.parse::<IpAddr>() {
            self.check_ip(ip)?;
            return Ok(vec![SocketAddr::new(ip, port)]);
        }
        let name = normalize_host(host)
            .map_err(|e| Denied::new(DenyKind::InvalidUrl, format!("host {host}: {e}")))?;
        if let Ok(ip) = name.parse::<IpAddr>() {
            // A Unicode or numeric spelling that normalises to an address.
            self.check_ip(ip)?;
            return Ok(vec![SocketAddr::new(ip, port)]);
        }
        self.check_name(&name)?;
        let answers = resolver.resolve(&name, port).map_err(|e| {
            Denied::new(
                DenyKind::DoesNotResolve,
                format!("host {name} does not resolve: {e}"),
            )
        })?;
        if answers.is_empty() {
            return Err(Denied::new(
                DenyKind::DoesNotResolve,
                format!("host {name} does not resolve"),
            ));
        }
        let mut checked = Vec::with_capacity(answers.len());
        for ip in answers {
            self.check_ip(ip).map_err(|d| {
                Denied::new(d.kind, format!("host {name} resolves to {ip}, not public"))
            })?;
            let addr = SocketAddr::new(ip, port);
            if !checked.contains(&addr) {
                checked.push(addr);
            }
        }
        Ok(checked)
    }
}

/// The rule an address breaks, if any.
pub(crate) fn classify(ip: IpAddr) -> Option<DenyKind> {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn in_v4(ip: Ipv4Addr, net: [u8; 4], len: u32) -> bool {
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
    (u32::from(ip) & mask) == (u32::from(Ipv4Addr::from(net)) & mask)
}

// Documentation ranges (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24,
// 2001:db8::/32, 3fff::/20) are not refused: they are routed nowhere, nobody
// reaches an internal service through them, and examples and tests use them as
// stand-ins for public hosts. Their IPv4-embedding IPv6 forms are still refused.
fn classify_v4(ip: Ipv4Addr) -> Option<DenyKind> {
    use DenyKind::*;
    const RULES: &[([u8; 4], u32, DenyKind)] = &[
        ([169, 254, 169, 254], 32, CloudMetadata),
        ([100, 100, 100, 200], 32, CloudMetadata),
        ([192, 0, 0, 192], 32, CloudMetadata),
        ([0, 0, 0, 0], 8, Unspecified),
        ([10, 0, 0, 0], 8, Private),
        ([100, 64, 0, 0], 10, SharedAddressSpace),
        ([127, 0, 0, 0], 8, Loopback),
        ([169, 254, 0, 0], 16, LinkLocal),
        ([172, 16, 0, 0], 12, Private),
        ([192, 0, 0, 0], 24, Reserved),
        ([192, 88, 99, 0], 24, EmbeddedIpv4),
        ([192, 168, 0, 0], 16, Private),
        ([198, 18, 0, 0], 15, Reserved),
        ([255, 255, 255, 255], 32, Broadcast),
        ([224, 0, 0, 0], 4, Multicast),
        ([240, 0, 0, 0], 4, Reserved),
    ];
    if METADATA_V4.contains(&ip) {
        return Some(CloudMetadata);
    }
    RULES
        .iter()
        .find(|(net, len, _)| in_v4(ip, *net, *len))
        .map(|(_, _, kind)| *kind)
}

const fn v6(net: [u16; 8]) -> u128 {
    Ipv6Addr::new(
        net[0], net[1], net[2], net[3], net[4], net[5], net[6], net[7],
    )
    .to_bits()
}

fn in_v6(bits: u128, net: u128, len: u32) -> bool {
    let mask = if len == 0 {
        0
    } else {
        u128::MAX << (128 - len)
    };
    (bits & mask) == (net & mask)
}

fn classify_v6(ip: Ipv6Addr) -> Option<DenyKind> {
    use DenyKind::*;
    const RULES: &[(u128, u32, DenyKind)] = &[
        (v6([0, 0, 0, 0, 0, 0, 0, 0]), 128, Unspecified),
        (v6([0, 0, 0, 0, 0, 0, 0, 1]), 128, Loopback),
        // IPv4-mapped, IPv4-compatible (deprecated) and IPv4-translated (SIIT).
        (v6([0, 0, 0, 0, 0, 0xffff, 0, 0]), 96, EmbeddedIpv4),
        (v6([0, 0, 0, 0, 0, 0, 0, 0]), 96, EmbeddedIpv4),
        (v6([0, 0, 0, 0, 0xffff, 0, 0, 0]), 96, EmbeddedIpv4),
        // NAT64 well-known and local-use prefixes.
        (v6([0x64, 0xff9b, 0, 0, 0, 0, 0, 0]), 96, EmbeddedIpv4),
        (v6([0x64, 0xff9b, 1, 0, 0, 0, 0, 0]), 48, EmbeddedIpv4),
        // Discard-only.
        (v6([0x100, 0, 0, 0, 0, 0, 0, 0]), 64, Reserved),
        // Teredo (2001::/32) sits inside the IETF protocol assignments block.
        (v6([0x2001, 0, 0, 0, 0, 0, 0, 0]), 32, EmbeddedIpv4),
        (v6([0x2001, 0, 0, 0, 0, 0, 0, 0]), 23, Reserved),
        // 6to4.
        (v6([0x2002, 0, 0, 0, 0, 0, 0, 0]), 16, EmbeddedIpv4),
        (v6([0x5f00, 0, 0, 0, 0, 0, 0, 0]), 16, Reserved),
        (
            v6([0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254]),
            128,
            CloudMetadata,
        ),
        (v6([0xfc00, 0, 0, 0, 0, 0, 0, 0]), 7, UniqueLocal),
        (v6([0xfe80, 0, 0, 0, 0, 0, 0, 0]), 10, LinkLocal),
        (v6([0xfec0, 0, 0, 0, 0, 0, 0, 0]), 10, SiteLocal),
        (v6([0xff00, 0, 0, 0, 0, 0, 0, 0]), 8, Multicast),
    ];
    let bits = ip.to_bits();
    RULES
        .iter()
        .find(|(net, len, _)| in_v6(bits, *net, *len))
        .map(|(_, _, kind)| *kind)
}

/// An error from a resolver; its text is shown to the operator.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ResolveError(pub String);

/// Name resolution, injectable so tests and the proxy choose the answers.
///
/// [`SsrfPolicy::resolve_checked`] calls [`Resolver::resolve`] at most once per
/// request. Implementations are synchronous; an async caller runs the check on a
/// blocking thread or resolves first and passes a [`StaticResolver`].
pub trait Resolver: std::fmt::Debug {
    /// The addresses `host` (normalised, ASCII) has.
    fn resolve(&self, host: &str, port: u16) -> Result<Vec<IpAddr>, ResolveError>;
}

/// The operating system's resolver (`getaddrinfo`).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver;

/// Special-use top-level domains that are never in public DNS (RFC 2606, RFC 6761,
/// RFC 7686); the system resolver is not asked about them, so a lookup cannot leak
/// to or be answered by a local resolver. A [`StaticResolver`] may still answer
/// them (tests use `*.example`).
const SPECIAL_USE_TLDS: &[&str] = &["invalid", "test", "example", "localhost", "onion"];

impl Resolver for SystemResolver {
    fn resolve(&self, host: &str, port: u16) -> Result<Vec<IpAddr>, ResolveError> {
        let name = host.strip_suffix('.').unwrap_or(host);
        let tld = name.rsplit('.').next().unwrap_or(name);
        if SPECIAL_USE_TLDS.contains(&tld) {
            return Err(ResolveError(format!("{tld} is a special-use domain")));
        }
        let addrs = (host, port)
            .to_socket_addrs()
            .map_err(|e| ResolveError(e.to_string()))?;
        Ok(addrs.map(|a| a.ip()).collect())
    }
}

/// Fixed answers per host (like curl's `--resolve`), falling back to another
/// resolver (or to "does not resolve") for names it does not know.
#[derive(Debug, Default)]
pub struct StaticResolver {
    answers: HashMap<String, Vec<IpAddr>>,
    fallback: Option<Box<dyn Resolver + Send + Sync>>,
}

impl StaticResolver {
    /// An empty table with no fallback: unknown names do not resolve.
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks `fallback` for names not in the table.
    pub fn with_fallback(mut self, fallback: Box<dyn Resolver + Send + Sync>) -> Self {
        self.fallback = Some(fallback);
        self
    }

    /// Adds one answer for `host`; a Unicode host is stored under its IDNA form.
    pub fn insert(&mut self, host: &str, ip: IpAddr) -> Result<(), Denied> {
        let name = normalize_host(host)
            .map_err(|e| Denied::new(DenyKind::InvalidUrl, format!("host {host}: {e}")))?;
        let entry = self.answers.entry(name).or_default();
        if !entry.contains(&ip) {
            entry.push(ip);
        }
        Ok(())
    }

    /// Parses curl-like `HOST:IP`: the host is everything before the first colon,
    /// the address may be bare or bracketed IPv6; curl's `HOST:PORT:IP` is accepted too.
    pub fn insert_spec(&mut self, spec: &str) -> Result<(), Denied> {
        let bad = || {
            Denied::new(
                DenyKind::InvalidUrl,
                format!("resolve entry {spec:?} is not HOST:IP"),
            )
        };
        let (host, addr) = spec.split_once(':').ok_or_else(bad)?;
        if host.is_empty() {
            return Err(bad());
        }
        let unbracket = |a: &'_ str| -> Option<IpAddr> {
            a.strip_prefix('[')
                .and_then(|a| a.strip_suffix(']'))
                .unwrap_or(a)
                .parse()
                .ok()
        };
        // `HOST:IP`, or curl's own `HOST:PORT:IP` (the port is not needed here).
        let ip = unbracket(addr)
            .or_else(|| {
                let (port, rest) = addr.split_once(':')?;
                port.parse::<u16>().ok()?;
                unbracket(rest)
            })
            .ok_or_else(bad)?;
        if self.insert(host, ip).is_err() {
            // A host no URL can name (`0o177.0.0.1`) is kept as written: the URL
            // that uses it is refused on its own, and the entry changes nothing.
            let entry = self.answers.entry(host.to_ascii_lowercase()).or_default();
            if !entry.contains(&ip) {
                entry.push(ip);
            }
        }
        Ok(())
    }
}

impl Resolver for StaticResolver {
    fn resolve(&self, host: &str, port: u16) -> Result<Vec<IpAddr>, ResolveError> {
        if let Some(ips) = self.answers.get(host) {
            return Ok(ips.clone());
        }
        match &self.fallback {
            Some(fallback) => fallback.resolve(host, port),
            None => Err(ResolveError(format!("no answer for {host}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(addr: &str, expected: Option<DenyKind>) {
        let ip: IpAddr = addr.parse().unwrap();
        assert_eq!(classify(ip), expected, "{addr}");
    }

    #[test]
    fn address_table() {
        use DenyKind::*;
        check("8.8.8.8", None);
        check("1.1.1.1", None);
        check("100.63.255.255", None);
        check("100.128.0.0", None);
        check("172.15.255.255", None);
        check("172.32.0.0", None);
        check("2606:4700:4700::1111", None);
        check("2001:4860:4860::8888", None);
        check("0.0.0.0", Some(Unspecified));
        check("0.1.2.3", Some(Unspecified));
        check("10.255.0.1", Some(Private));
        check("172.31.255.255", Some(Private));
        check("192.168.1.1", Some(Private));
        check("100.64.0.0", Some(SharedAddressSpace));
        check("100.100.100.200", Some(CloudMetadata));
        check("127.0.0.1", Some(Loopback));
        check("127.255.255.254", Some(Loopback));
        check("169.254.169.254", Some(CloudMetadata));
        check("169.254.0.1", Some(LinkLocal));
        check("168.63.129.16", Some(CloudMetadata));
        check("192.0.0.192", Some(CloudMetadata));
        check("224.0.0.1", Some(Multicast));
        check("239.255.255.250", Some(Multicast));
        check("255.255.255.255", Some(Broadcast));
        check("240.0.0.1", Some(Reserved));
        check("198.18.0.1", Some(Reserved));
        check("::", Some(Unspecified));
        check("::1", Some(Loopback));
        check("::ffff:127.0.0.1", Some(EmbeddedIpv4));
        check("::ffff:8.8.8.8", Some(EmbeddedIpv4));
        check("::127.0.0.1", Some(EmbeddedIpv4));
        check("::ffff:0:a00:1", Some(EmbeddedIpv4));
        check("64:ff9b::a00:1", Some(EmbeddedIpv4));
        check("64:ff9b:1::1", Some(EmbeddedIpv4));
        check("2002:a00:1::1", Some(EmbeddedIpv4));
        check("2001:0:4136:e378:8000:63bf:3fff:fdd2", Some(EmbeddedIpv4));
        check("2001:db8::1", None);
        check("203.0.113.5", None);
        check("192.0.2.1", None);
        check("64:ff9b::c000:201", Some(EmbeddedIpv4));
        check("192.0.0.1", Some(Reserved));
        check("fd00:ec2::254", Some(CloudMetadata));
        check("fc00::1", Some(UniqueLocal));
        check("fe80::1", Some(LinkLocal));
        check("fec0::1", Some(SiteLocal));
        check("ff02::1", Some(Multicast));
    }

    #[test]
    fn system_resolver_skips_special_use_names() {
        for name in [
            "a.invalid",
            "x.test",
            "evil.example",
            "b.onion",
            "c.example.",
        ] {
            assert!(SystemResolver.resolve(name, 443).is_err(), "{name}");
        }
    }

    #[test]
    fn names_refused_without_lookup() {
        let p = SsrfPolicy::new();
        for name in [
            "localhost",
            "a.localhost",
            "x.local",
            "metadata.google.internal",
            "foo.internal",
            "metadata",
            "router.home.arpa",
            "intranet",
        ] {
            assert!(p.check_name(name).is_err(), "{name}");
        }
        for name in ["example.com", "notlocalhost.com", "localhost.example.com"] {
            assert!(p.check_name(name).is_ok(), "{name}");
        }
    }
}
