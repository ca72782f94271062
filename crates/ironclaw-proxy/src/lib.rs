//! IronClaw's egress proxy: the only way out to the network for container jobs and
//! process skills, and the reference implementation of "resolve, check, connect to
//! what was checked".
//!
//! # Main types
//!
//! - [`Proxy`], built with [`Proxy::builder`] from an audit log, serves HTTP/1.1:
//!   absolute-form `http://` requests and `CONNECT` tunnels for HTTPS, either on a
//!   tokio runtime of the caller's ([`Proxy::serve`]) or on threads of its own, one
//!   single-threaded runtime each, so a connection's work never changes threads
//!   ([`Proxy::serve_on_threads`], the lower-latency choice).
//! - [`JobGrant`] is what one sandboxed job may do: the hosts it may reach
//!   ([`NetworkAllowlist`] of `HOST[:PORT]` rules) and the credentials the proxy
//!   injects into its plain-HTTP requests. [`Proxy::add_job`] binds a grant to a
//!   [`JobToken`] that the job presents in `Proxy-Authorization`.
//! - [`ProxyConfig`] holds the listen address, [`Limits`], [`Timeouts`] and the
//!   opt-in global allow list ([`Preset`]s and extra domains).
//! - [`ProxyBuilder::auto_suspend`] connects the proxy to the policy crate's skill
//!   suspension file: a job's policy denials and leak blocks count against the skill
//!   its grant names, and a suspended skill's jobs are refused.
//!
//! # Guarantees
//!
//! - A request without a valid job token gets `407` and nothing else; tokens are
//!   compared by SHA-256 fingerprint in constant time.
//! - An empty allowlist denies everything. A rule without a port allows only the
//!   scheme's default port (443 for CONNECT, 80 for plain HTTP).
//! - A name is resolved once, every answer is checked against the SSRF rules of
//!   `ironclaw-policy`, and the proxy connects to a checked address: no second lookup.
//! - Plain-HTTP requests lose hop-by-hop headers, are refused on ambiguous framing
//!   (request smuggling), and are scanned for leaks (request line, headers, body, and
//!   each again percent-decoded, with `+` as a space, so an encoded secret is caught)
//!   before the job's credentials are injected and before anything is sent. A leak
//!   answers `403` and is audited as `LEAK_BLOCKED`. A `gzip` or `deflate` request
//!   body is scanned decoded (the decoded size is capped by the body limit, `413`);
//!   a body that does not decode gets `400`, any other content coding `415`. A response to a request that
//!   carried an injected credential is scanned for that credential and redacted:
//!   such a request asks the upstream for `Accept-Encoding: identity`, a `gzip` or
//!   `deflate` answer is decoded (within the response limit) before the scan, and any
//!   other coding is refused with `502` rather than passed on unscanned.
//! - A CONNECT target is scanned for leaks before its name is looked up, so a secret
//!   cannot leave through DNS under a wildcard grant (plain-HTTP hosts are scanned
//!   with the request line).
//! - Every refusal is audited as `NETWORK_BLOCK` (job, host, port, reason) before it
//!   is answered. An audit record names `host:port` only: never the path, query,
//!   userinfo, header values or body, and a host name the leak detector flags is
//!   written as `[REDACTED]`.
//!
//! - With auto-suspension on, each allowlist or SSRF denial and each leak block of a
//!   job with a skill is a violation of that skill; when the policy's threshold is
//!   reached, `SKILL_SUSPENDED` is audited once and every request of every job of the
//!   skill is refused (`403`, `NETWORK_BLOCK` "skill suspended") until the suspension
//!   ends or is lifted in the file (`ironclaw allowlist unsuspend`), which takes
//!   effect at the next request. An unreadable suspension file fails closed.
//! - Idle upstream connections are pooled per job and per checked address. When a
//!   pooled connection dies under a request, the request is sent again on a fresh
//!   connection only if it never left or is idempotent without a body (`GET`, `HEAD`,
//!   `OPTIONS`, `PUT`, `DELETE`, `TRACE`): a `POST` or `PATCH` is never sent twice.
//!
//! # Non-guarantees
//!
//! - Tunnelled (HTTPS) bytes are end-to-end encrypted: they are not scanned and get
//!   no credentials, by design. A job with an allowed host can send that host anything.
//! - The proxy does not follow redirects; a `3xx` is handed to the job, whose next
//!   request is checked again.
//!
//! # Example
//!
//! ```
//! use ironclaw_audit::{AuditConfig, AuditLog};
//! use ironclaw_proxy::{JobGrant, JobToken, NetworkAllowlist, Proxy};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let audit = AuditLog::open(AuditConfig::new(dir.path().join("audit.log")))?;
//! let proxy = Proxy::builder(audit).build()?;
//!
//! let token = JobToken::generate()?;
//! let mut grant = JobGrant::new("job-42");
//! grant.network = NetworkAllowlist::new(["api.github.com", "*.githubusercontent.com"])?;
//! proxy.add_job(&token, grant);
//! // Hand the job `HTTP_PROXY=http://job-42:<token>@127.0.0.1:3128`, then run
//! // `proxy.serve(proxy.bind().await?)` on a tokio runtime.
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]

mod coding;
mod config;
mod connect;
mod error;
mod forward;
mod headers;
mod identity;
mod job;
mod pool;
mod rate;
mod server;
mod strangers;
mod suspend;
mod tunnel;
mod workers;

pub use config::{Limits, Preset, ProxyConfig, Timeouts, parse_extra_domains};
pub use error::ProxyError;
pub use identity::JobToken;
pub use job::{JobGrant, JobMetrics, NetworkAllowlist, NetworkRule};
pub use server::{Proxy, ProxyBuilder};
