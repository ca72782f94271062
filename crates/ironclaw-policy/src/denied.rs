//! The one denial type every network and path rule returns.

use std::fmt;

/// Why a request, an address or a path was refused.
///
/// Callers branch on the kind (to pick the audit event, for example); the
/// subject names the offending thing (the URL, the host, the address).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DenyKind {
    /// The URL could not be parsed, or parsers could disagree on it.
    InvalidUrl,
    /// The scheme is not `https` (or `http` where a rule allows it).
    Scheme,
    /// The URL carries a user name or password.
    Userinfo,
    /// The port is not the scheme's default and no rule declares it.
    Port,
    /// The path contains a traversal in some spelling.
    PathTraversal,
    /// No allowlist rule names this host.
    HostNotAllowed,
    /// The host is allowed but not this path.
    PathNotAllowed,
    /// The host and path are allowed but not this method.
    MethodNotAllowed,
    /// `localhost`, a single-label name or a private-use name, refused without a lookup.
    LocalName,
    /// A cloud metadata host name or address.
    CloudMetadata,
    /// A loopback address (127.0.0.0/8, ::1).
    Loopback,
    /// RFC 1918 private space.
    Private,
    /// RFC 6598 shared address space (carrier-grade NAT, 100.64.0.0/10).
    SharedAddressSpace,
    /// Link-local (169.254.0.0/16, fe80::/10).
    LinkLocal,
    /// Multicast (224.0.0.0/4, ff00::/8).
    Multicast,
    /// The limited broadcast address 255.255.255.255.
    Broadcast,
    /// The unspecified address (0.0.0.0/8, ::).
    Unspecified,
    /// IPv6 unique-local (fc00::/7).
    UniqueLocal,
    /// IPv6 site-local (fec0::/10, deprecated but still routed by some stacks).
    SiteLocal,
    /// An IPv6 address that embeds an IPv4 one (mapped, compatible, translated,
    /// NAT64, 6to4, Teredo).
    EmbeddedIpv4,
    /// Other special-purpose space that is not globally reachable (documentation,
    /// benchmarking, reserved, protocol assignments).
    Reserved,
    /// The name did not resolve to any address.
    DoesNotResolve,
}

impl DenyKind {
    /// A short stable name, used in JSON output and audit records.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidUrl => "invalid-url",
            Self::Scheme => "scheme",
            Self::Userinfo => "userinfo",
            Self::Port => "port",
            Self::PathTraversal => "path-traversal",
            Self::HostNotAllowed => "host-not-allowed",
            Self::PathNotAllowed => "path-not-allowed",
            Self::MethodNotAllowed => "method-not-allowed",
            Self::LocalName => "local-name",
            Self::CloudMetadata => "cloud-metadata",
            Self::Loopback => "loopback",
            Self::Private => "private",
            Self::SharedAddressSpace => "shared-address-space",
            Self::LinkLocal => "link-local",
            Self::Multicast => "multicast",
            Self::Broadcast => "broadcast",
            Self::Unspecified => "unspecified",
            Self::UniqueLocal => "unique-local",
            Self::SiteLocal => "site-local",
            Self::EmbeddedIpv4 => "embedded-ipv4",
            Self::Reserved => "reserved",
            Self::DoesNotResolve => "does-not-resolve",
        }
    }

    /// True for the kinds that come from the SSRF address and name rules rather
    /// than from an allowlist.
    pub fn is_ssrf(self) -> bool {
        !matches!(
            self,
            Self::InvalidUrl
                | Self::Scheme
                | Self::Userinfo
                | Self::Port
                | Self::PathTraversal
                | Self::HostNotAllowed
                | Self::PathNotAllowed
                | Self::MethodNotAllowed
        )
    }
}

impl fmt::Display for DenyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A refusal: its kind and the thing refused, with a human reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}: {detail}")]
pub struct Denied {
    /// What rule refused.
    pub kind: DenyKind,
    /// The offending thing and why, as a lowercase fragment.
    pub detail: String,
}

impl Denied {
    /// Builds a denial.
    pub fn new(kind: DenyKind, detail: impl Into<String>) -> Self {
        Self {
            kind,
            detail: detail.into(),
        }
    }
}
