//! What one job may reach, and its live state: counters, concurrency slots, rate.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use ironclaw_policy::{HostIndex, HostPattern, normalize_host};
use ironclaw_secrets::{CredentialMapping, SecretGrant};
use tokio::sync::{Semaphore, watch};

use crate::config::Limits;
use crate::error::ProxyError;
use crate::rate::RequestRate;

/// One `HOST[:PORT]` grant. Without a port, a grant allows the scheme's default port
/// only: 443 for CONNECT tunnels and 80 for plain HTTP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkRule {
    pattern: HostPattern,
    text: String,
    port: Option<u16>,
}

impl NetworkRule {
    /// Parses `host`, `host:port`, `*.suffix` or `*.suffix:port` (IDNA-normalised,
    /// case-insensitive).
    pub fn parse(rule: &str) -> Result<Self, ProxyError> {
        let bad = |reason: String| ProxyError::InvalidRule {
            rule: rule.to_owned(),
            reason,
        };
        let (host, port) = match rule.rsplit_once(':') {
            Some((host, port)) if !host.contains(':') => {
                let port: u16 = port
                    .parse()
                    .map_err(|_| bad(format!("port {port:?} is not a number from 1 to 65535")))?;
                if port == 0 {
                    return Err(bad("port 0 is not a port".to_owned()));
                }
                (host, Some(port))
            }
            Some(_) => return Err(bad("IPv6 literals are not allowed in grants".to_owned())),
            None => (rule, None),
        };
        let pattern = HostPattern::parse(host).map_err(|e| bad(e.to_string()))?;
        Ok(Self {
            pattern,
            text: rule.to_owned(),
            port,
        })
    }

    /// The rule as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// The hosts a job may reach: exact hosts in a hash map and wildcard suffixes probed
/// per label, so a decision costs a few lookups whatever the number of rules.
#[derive(Debug, Default, Clone)]
pub struct NetworkAllowlist {
    index: HostIndex<(Option<u16>, String)>,
    rules: Vec<String>,
}

impl NetworkAllowlist {
    /// Builds an allowlist from `HOST[:PORT]` rules. An empty list denies everything.
    pub fn new<I, S>(rules: I) -> Result<Self, ProxyError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut list = Self::default();
        for rule in rules {
            list.add(NetworkRule::parse(rule.as_ref())?);
        }
        Ok(list)
    }

    /// Adds one rule.
    pub fn add(&mut self, rule: NetworkRule) {
        self.index
            .insert(&rule.pattern, (rule.port, rule.text.clone()));
        self.rules.push(rule.text);
    }

    /// The rules, as written.
    pub fn rules(&self) -> &[String] {
        &self.rules
    }

    /// Whether no rule was given (the job may reach nothing).
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The rule allowing `host:port` (host already normalised), if any. `default_port`
    /// is what a rule without a port allows.
    pub fn allows(&self, host: &str, port: u16, default_port: u16) -> Option<String> {
        self.index.find(host, |(rule_port, text)| {
            (rule_port.unwrap_or(default_port) == port).then(|| text.clone())
        })
    }
}

/// What the operator granted one job: its id (for audit records), the hosts it may
/// reach, and the credentials the proxy injects into its plain-HTTP requests.
#[derive(Debug, Clone)]
pub struct JobGrant {
    /// The job id, as written to audit records.
    pub job_id: String,
    /// The skill the job runs, if any, as written to audit records.
    pub skill: Option<String>,
    /// Hosts the job may reach.
    pub network: NetworkAllowlist,
    /// Credentials injected into plain-HTTP requests to hosts their mapping names.
    pub credentials: Vec<CredentialMapping>,
    /// The secret names the job may have injected; a mapping naming any other secret
    /// is refused.
    pub secrets: SecretGrant,
    /// Per-job limits; `None` takes the proxy's defaults.
    pub limits: Option<Limits>,
}

impl JobGrant {
    /// A grant with nothing allowed.
    pub fn new(job_id: impl Into<String>) -> Self {
        Self {
            job_id: job_id.into(),
            skill: None,
            network: NetworkAllowlist::default(),
            credentials: Vec::new(),
            secrets: SecretGrant::default(),
            limits: None,
        }
    }
}

/// Counters of one job, for metrics.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct JobMetrics {
    /// Requests and tunnels let through.
    pub allowed: u64,
    /// Requests and tunnels refused.
    pub denied: u64,
    /// Bytes sent upstream (request bodies and tunnel traffic).
    pub bytes_up: u64,
    /// Bytes received from upstream (response bodies and tunnel traffic).
    pub bytes_down: u64,
}

/// The live state of one job.
#[derive(Debug)]
pub(crate) struct JobState {
    /// Unique per registration, so a job registered again under the same id never
    /// shares state (pooled connections) with its earlier self.
    pub(crate) instance: u64,
    /// Set once the job is removed; turns `true` in the watch to close its tunnels.
    removed: AtomicBool,
    closed: watch::Sender<bool>,
    pub(crate) grant: JobGrant,
    pub(crate) limits: Limits,
    pub(crate) connections: Arc<Semaphore>,
    pub(crate) tunnels: Arc<Semaphore>,
    pub(crate) rate: RequestRate,
    allowed: AtomicU64,
    denied: AtomicU64,
    pub(crate) bytes_up: AtomicU64,
    pub(crate) bytes_down: AtomicU64,
}

impl JobState {
    pub(crate) fn new(grant: JobGrant, defaults: &Limits) -> Self {
        let limits = grant.limits.clone().unwrap_or_else(|| defaults.clone());
        static INSTANCES: AtomicU64 = AtomicU64::new(0);
        Self {
            instance: INSTANCES.fetch_add(1, Ordering::Relaxed),
            removed: AtomicBool::new(false),
            closed: watch::channel(false).0,
            connections: Arc::new(Semaphore::new(limits.max_concurrent_requests_per_job)),
            tunnels: Arc::new(Semaphore::new(limits.max_tunnels_per_job)),
            rate: RequestRate::per_minute(limits.requests_per_minute_per_job),
            grant,
            limits,
            allowed: AtomicU64::new(0),
            denied: AtomicU64::new(0),
            bytes_up: AtomicU64::new(0),
            bytes_down: AtomicU64::new(0),
        }
    }

    pub(crate) fn id(&self) -> &str {
        &self.grant.job_id
    }

    /// Marks the job removed and tells its tunnels to close.
    pub(crate) fn mark_removed(&self) {
        self.removed.store(true, Ordering::SeqCst);
        self.closed.send_replace(true);
    }

    /// Whether the job was removed (its token no longer works).
    pub(crate) fn is_removed(&self) -> bool {
        self.removed.load(Ordering::SeqCst)
    }

    /// Resolves once the job is removed.
    pub(crate) fn removal(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut closed = self.closed.subscribe();
        async move {
            let _ = closed.wait_for(|removed| *removed).await;
        }
    }

    pub(crate) fn count_allowed(&self) {
        self.allowed.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_denied(&self) {
        self.denied.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn metrics(&self) -> JobMetrics {
        JobMetrics {
            allowed: self.allowed.load(Ordering::Relaxed),
            denied: self.denied.load(Ordering::Relaxed),
            bytes_up: self.bytes_up.load(Ordering::Relaxed),
            bytes_down: self.bytes_down.load(Ordering::Relaxed),
        }
    }
}

/// Normalises a request's host for matching (IDNA, lower case, no trailing dot).
pub(crate) fn normalized(host: &str) -> Option<String> {
    normalize_host(host).ok()
}
