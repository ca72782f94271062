//! The proxy itself: accepting connections, authenticating jobs, and handing each
//! request to the plain-HTTP or CONNECT path.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use bytes::Bytes;
use http::uri::Authority;
use http::{Method, Request, Response, StatusCode, Uri};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use ironclaw_audit::{AuditLog, Event, EventBuilder, EventKind};
use ironclaw_policy::{AutoSuspendConfig, Denied, Resolver, SsrfPolicy, SystemResolver};
use ironclaw_safety::LeakDetector;
use ironclaw_secrets::SecretStore;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::config::{Preset, ProxyConfig};
use crate::error::ProxyError;
use crate::identity::{JobRegistry, JobToken, presented_token};
use crate::job::{JobGrant, JobMetrics, JobState, NetworkAllowlist};
use crate::pool::Pool;
use crate::strangers::Strangers;
use crate::suspend::{AutoSuspend, Status};
use crate::{connect, forward};

/// The body type of every response the proxy writes.
pub(crate) type ProxyBody = BoxBody<Bytes, hyper::Error>;

/// Builds a [`Proxy`].
#[derive(Debug)]
pub struct ProxyBuilder {
    config: ProxyConfig,
    audit: AuditLog,
    resolver: Arc<dyn Resolver + Send + Sync>,
    leaks: Option<LeakDetector>,
    secrets: Option<(Arc<SecretStore>, String)>,
    anonymous: Option<JobGrant>,
    presets: Vec<Preset>,
    suspend: Option<(PathBuf, AutoSuspendConfig)>,
}

impl ProxyBuilder {
    /// Replaces the default settings.
    pub fn config(mut self, config: ProxyConfig) -> Self {
        self.config = config;
        self
    }

    /// Replaces the system resolver (tests inject answers; see the policy crate's
    /// `StaticResolver`). The resolver is asked at most once per request.
    pub fn resolver(mut self, resolver: Arc<dyn Resolver + Send + Sync>) -> Self {
        self.resolver = resolver;
        self
    }

    /// The leak detector requests are scanned with. Default: the built-in credential
    /// patterns only; give one that also knows every stored secret value.
    pub fn leak_detector(mut self, detector: LeakDetector) -> Self {
        self.leaks = Some(detector);
        self
    }

    /// Where injected credentials come from: a secret store and the namespace to read.
    /// Without it, a job whose grant names credentials gets `502` for those requests.
    pub fn secret_store(mut self, store: Arc<SecretStore>, namespace: impl Into<String>) -> Self {
        self.secrets = Some((store, namespace.into()));
        self
    }

    /// Lets requests without `Proxy-Authorization` act as this job. For the standalone
    /// `ironclaw proxy serve` command; never for sandboxed jobs, which must each have
    /// their own token.
    pub fn anonymous(mut self, grant: JobGrant) -> Self {
        self.anonymous = Some(grant);
        self
    }

    /// Turns on auto-suspension with the suspension file at `path` (the home's
    /// `suspensions.json`, shared with `ironclaw allowlist suspend|unsuspend` and other
    /// daemons). Each policy denial (allowlist or SSRF, `403`) and each leak block of
    /// a job whose grant names a skill counts as a violation of that skill; when
    /// `config` says the skill is now suspended, `SKILL_SUSPENDED` is audited once and
    /// every request of every job of that skill is refused with `403` until the
    /// suspension ends or is lifted in the file. Off by default (and then suspensions
    /// are not checked at all).
    pub fn auto_suspend(mut self, path: impl Into<PathBuf>, config: AutoSuspendConfig) -> Self {
        self.suspend = Some((path.into(), config));
        self
    }

    /// Allows a preset group of hosts for every job.
    pub fn preset(mut self, preset: Preset) -> Self {
        self.presets.push(preset);
        self
    }

    /// Checks the settings and builds the proxy.
    pub fn build(self) -> Result<Proxy, ProxyError> {
        let limits = &self.config.limits;
        if limits.max_header_bytes < 8192 {
            return Err(ProxyError::InvalidConfig {
                key: "limits.max_header_bytes",
                reason: "must be at least 8192".to_owned(),
            });
        }
        if limits.max_concurrent_requests_per_job == 0 || limits.max_tunnels_per_job == 0 {
            return Err(ProxyError::InvalidConfig {
                key: "limits.max_concurrent_requests_per_job",
                reason: "concurrency limits must be at least 1".to_owned(),
            });
        }
        let mut global_rules = self.config.global_allow.clone();
        for preset in &self.presets {
            global_rules.extend(preset.hosts().iter().map(|h| (*h).to_owned()));
        }
        let global = NetworkAllowlist::new(&global_rules)?;
        let leaks = match self.leaks {
            Some(detector) => detector,
            None => {
                LeakDetector::with_builtin_patterns().map_err(|e| ProxyError::InvalidConfig {
                    key: "leak_detector",
                    reason: e.to_string(),
                })?
            }
        };
        let anonymous = self
            .anonymous
            .map(|grant| Arc::new(JobState::new(grant, &self.config.limits)));
        Ok(Proxy {
            shared: Arc::new(Shared {
                connections: Arc::new(Semaphore::new(self.config.max_connections)),
                config: self.config,
                audit: self.audit,
                resolver: self.resolver,
                ssrf: SsrfPolicy::new(),
                leaks: RwLock::new(Arc::new(leaks)),
                secrets: self.secrets,
                jobs: JobRegistry::default(),
                anonymous,
                global,
                pool: Pool::default(),
                strangers: Strangers::default(),
                suspend: self
                    .suspend
                    .map(|(path, config)| AutoSuspend::new(path, config)),
            }),
        })
    }
}

/// State shared by every connection.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: ProxyConfig,
    pub(crate) audit: AuditLog,
    pub(crate) resolver: Arc<dyn Resolver + Send + Sync>,
    pub(crate) ssrf: SsrfPolicy,
    pub(crate) leaks: RwLock<Arc<LeakDetector>>,
    pub(crate) secrets: Option<(Arc<SecretStore>, String)>,
    pub(crate) jobs: JobRegistry,
    pub(crate) anonymous: Option<Arc<JobState>>,
    pub(crate) global: NetworkAllowlist,
    pub(crate) pool: Pool,
    pub(crate) suspend: Option<AutoSuspend>,
    /// Refusals of requests without a valid token, per client address.
    strangers: Strangers,
    connections: Arc<Semaphore>,
}

/// The egress proxy. Cheap to clone; clones share jobs, counters and the audit log.
#[derive(Debug, Clone)]
pub struct Proxy {
    shared: Arc<Shared>,
}

impl Proxy {
    /// Starts building a proxy that audits to `audit`.
    pub fn builder(audit: AuditLog) -> ProxyBuilder {
        ProxyBuilder {
            config: ProxyConfig::default(),
            audit,
            resolver: Arc::new(SystemResolver),
            leaks: None,
            secrets: None,
            anonymous: None,
            presets: Vec::new(),
            suspend: None,
        }
    }

    /// Registers a job: requests presenting `token` act under `grant`. A second token
    /// for the same job id is allowed (both work until the job is removed).
    pub fn add_job(&self, token: &JobToken, grant: JobGrant) {
        let state = Arc::new(JobState::new(grant, &self.shared.config.limits));
        self.shared.jobs.insert(token, state);
    }

    /// Revokes every token of a job (on cleanup), at once: its next request gets
    /// `407`, also on a client connection that authenticated earlier; its idle
    /// upstream connections are closed and a connection still in use is closed when
    /// its response ends; its open tunnels are closed. Returns whether the job was
    /// known.
    pub fn remove_job(&self, job_id: &str) -> bool {
        let removed = self.shared.jobs.remove_job(job_id);
        for job in &removed {
            job.mark_removed();
            self.shared.pool.forget_job(job);
        }
        !removed.is_empty()
    }

    /// The job's counters, if it is registered (or is the anonymous job).
    pub fn metrics(&self, job_id: &str) -> Option<JobMetrics> {
        if let Some(anonymous) = &self.shared.anonymous
            && anonymous.id() == job_id
        {
            return Some(anonymous.metrics());
        }
        self.shared.jobs.find(job_id).map(|job| job.metrics())
    }

    /// Replaces the leak detector (for example after a secret was added to the store).
    pub fn set_leak_detector(&self, detector: LeakDetector) {
        let mut leaks = self.shared.leaks.write().unwrap_or_else(|e| e.into_inner());
        *leaks = Arc::new(detector);
    }

    /// Binds the configured address.
    pub async fn bind(&self) -> Result<TcpListener, ProxyError> {
        let addr = self.shared.config.listen;
        TcpListener::bind(addr)
            .await
            .map_err(|source| ProxyError::Bind { addr, source })
    }

    /// Binds the configured address without a runtime, for
    /// [`Proxy::serve_on_threads`].
    pub fn bind_std(&self) -> Result<std::net::TcpListener, ProxyError> {
        let addr = self.shared.config.listen;
        std::net::TcpListener::bind(addr).map_err(|source| ProxyError::Bind { addr, source })
    }

    /// Serves connections from `listener` until the task is dropped or the listener
    /// fails.
    ///
    /// Connections are spawned on the current runtime. On a multi-thread runtime a
    /// request may hop between worker threads (client side, upstream side); for the
    /// lowest latency see [`Proxy::serve_on_threads`].
    pub async fn serve(&self, listener: TcpListener) -> Result<(), ProxyError> {
        loop {
            let (stream, peer) = listener.accept().await.map_err(ProxyError::Accept)?;
            let Some(permit) = self.admit(stream, peer) else {
                continue;
            };
            let shared = Arc::clone(&self.shared);
            tokio::spawn(serve_connection(shared, permit.stream, peer, permit.permit));
        }
    }

    /// Takes a connection slot for an accepted connection, or refuses the connection
    /// (with `503`, on a task of its own) when the proxy is at its connection limit.
    pub(crate) fn admit(&self, stream: TcpStream, peer: SocketAddr) -> Option<Admitted> {
        match Arc::clone(&self.shared.connections).try_acquire_owned() {
            Ok(permit) => Some(Admitted { stream, permit }),
            Err(_) => {
                tracing::warn!(%peer, "connection limit reached; refusing the connection");
                tokio::spawn(refuse_connection(stream));
                None
            }
        }
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }
}

/// An accepted connection and the slot it holds under the proxy's connection limit.
pub(crate) struct Admitted {
    pub(crate) stream: TcpStream,
    pub(crate) permit: OwnedSemaphorePermit,
}

/// Serves one client connection to its end; the connection slot is released then.
pub(crate) async fn serve_connection(
    shared: Arc<Shared>,
    stream: TcpStream,
    peer: SocketAddr,
    permit: OwnedSemaphorePermit,
) {
    serve_requests(shared, stream, peer).await;
    drop(permit);
}

async fn serve_requests(shared: Arc<Shared>, stream: TcpStream, peer: SocketAddr) {
    let _ = stream.set_nodelay(true);
    let io = TokioIo::new(stream);
    // The job the connection last authenticated as, so that a request hyper refuses
    // itself (before any header is seen) is still audited against its job.
    let last_job: LastJob = Arc::default();
    let service_shared = Arc::clone(&shared);
    let service_last_job = Arc::clone(&last_job);
    let service = service_fn(move |request: Request<Incoming>| {
        let shared = Arc::clone(&service_shared);
        let last_job = Arc::clone(&service_last_job);
        async move { Ok::<_, Infallible>(handle(shared, request, &last_job, peer).await) }
    });
    let connection = http1::Builder::new()
        .max_buf_size(shared.config.limits.max_header_bytes.max(64 * 1024))
        .max_header_size(shared.config.limits.max_header_bytes)
        .max_headers(128)
        .header_read_timeout(Some(Duration::from_secs(30)))
        .timer(hyper_util::rt::TokioTimer::new())
        .serve_connection(io, service)
        .with_upgrades();
    let Err(err) = connection.await else {
        return;
    };
    // hyper answered these itself (431 or 400) without calling the service.
    let reason = if err.is_parse_too_large() {
        "request head too large"
    } else if err.is_parse() {
        "malformed request"
    } else {
        tracing::debug!(%peer, error = %err, "client connection ended with an error");
        return;
    };
    let job = last_job.lock().unwrap_or_else(|e| e.into_inner()).take();
    match &job {
        Some(job) => {
            job.count_denied();
            let event = block_event(Some(job), "-", reason).field("peer", peer.ip().to_string());
            record(&shared, event).await;
        }
        None => {
            tracing::warn!(%peer, reason, "request refused before authentication");
            audit_stranger(&shared, peer, "-", reason).await;
        }
    }
}

/// Audits a refusal no job can be named for, at most once per client address per
/// window (see `strangers`); the record counts the refusals it stands for.
async fn audit_stranger(shared: &Shared, peer: SocketAddr, resource: &str, reason: &str) {
    let Some(refusals) = shared
        .strangers
        .refused(peer.ip(), std::time::Instant::now())
    else {
        return;
    };
    let resource = scrubbed(shared, resource);
    let event = block_event(None, &resource, reason)
        .field("peer", peer.ip().to_string())
        .field("refusals", refusals);
    record(shared, event).await;
}

/// Answers a connection over the proxy's connection limit with `503` (without reading
/// its request, so it costs no buffer) and closes it.
async fn refuse_connection(mut stream: TcpStream) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    const ANSWER: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 42\r\nConnection: close\r\n\r\nironclaw proxy: too many open connections\n";
    let answer = async {
        stream.write_all(ANSWER).await?;
        stream.shutdown().await?;
        // Read what the client already sent (a little, briefly) before closing, so
        // the close is not a reset that could destroy the answer in flight.
        let mut sink = [0u8; 1024];
        let mut left: usize = 64 * 1024;
        while left > 0 {
            let n = stream.read(&mut sink).await?;
            if n == 0 {
                break;
            }
            left = left.saturating_sub(n);
        }
        Ok::<_, std::io::Error>(())
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), answer).await;
}

/// The job a client connection last authenticated as.
type LastJob = Arc<std::sync::Mutex<Option<Arc<JobState>>>>;

/// Routes one request. Every refusal is audited before it is answered.
async fn handle(
    shared: Arc<Shared>,
    request: Request<Incoming>,
    last_job: &LastJob,
    peer: SocketAddr,
) -> Response<ProxyBody> {
    let Some(job) = identify(&shared, &request) else {
        let reason = if request
            .headers()
            .contains_key(http::header::PROXY_AUTHORIZATION)
        {
            "invalid proxy credentials"
        } else {
            "missing proxy credentials"
        };
        audit_stranger(&shared, peer, &audit_resource(request.uri()), reason).await;
        return proxy_auth_required();
    };
    *last_job.lock().unwrap_or_else(|e| e.into_inner()) = Some(Arc::clone(&job));
    let resource = audit_resource(request.uri());
    if let Some(reason) = suspended(&shared, &job) {
        return deny(&shared, &job, &resource, StatusCode::FORBIDDEN, reason).await;
    }
    if !job.rate.try_acquire() {
        return deny(
            &shared,
            &job,
            &resource,
            StatusCode::TOO_MANY_REQUESTS,
            "rate limit: too many requests per minute",
        )
        .await;
    }
    let Ok(slot) = Arc::clone(&job.connections).try_acquire_owned() else {
        return deny(
            &shared,
            &job,
            &resource,
            StatusCode::TOO_MANY_REQUESTS,
            "too many concurrent requests",
        )
        .await;
    };
    if request.method() == Method::CONNECT {
        // The tunnel holds the slot for as long as it is open.
        connect::handle(&shared, &job, request, slot).await
    } else {
        // The response body holds the slot until it has been streamed to the client
        // (or the client went away), not just until its head is answered.
        forward::handle(&shared, &job, request).await.map(|body| {
            SlotBody {
                inner: body,
                _slot: slot,
            }
            .boxed()
        })
    }
}

/// Why the job's skill may not act now, if it is suspended.
fn suspended(shared: &Shared, job: &JobState) -> Option<&'static str> {
    let suspend = shared.suspend.as_ref()?;
    let skill = job.grant.skill.as_deref()?;
    match suspend.status(skill) {
        Status::Active => None,
        Status::Suspended(_) => Some("skill suspended"),
        Status::Unknown => Some("skill suspended: the suspension state cannot be read"),
    }
}

/// Counts a policy violation (a policy denial or a leak block) against the job's
/// skill, and audits `SKILL_SUSPENDED` when it suspends the skill.
pub(crate) async fn violation(shared: &Arc<Shared>, job: &JobState) {
    let (Some(_), Some(skill)) = (&shared.suspend, job.grant.skill.clone()) else {
        return;
    };
    let worker = Arc::clone(shared);
    let counted_skill = skill.clone();
    let triggered = tokio::task::spawn_blocking(move || {
        worker
            .suspend
            .as_ref()
            .and_then(|suspend| suspend.violation(&counted_skill))
    })
    .await
    .unwrap_or(None);
    let Some(triggered) = triggered else {
        return;
    };
    tracing::warn!(skill, job = job.id(), "skill auto-suspended");
    let event = Event::builder(EventKind::SkillSuspended)
        .session_id(job.id())
        .skill(skill.clone())
        .action("suspend")
        .resource(skill)
        .blocked(true)
        .field("job", job.id())
        .field("untilMs", triggered.until_ms)
        .field("violations", triggered.violations)
        .field("by", "auto");
    record(shared, event).await;
}

/// [`deny`] for a policy denial, which also counts as a violation of the job's skill.
pub(crate) async fn deny_violation(
    shared: &Arc<Shared>,
    job: &JobState,
    resource: &str,
    status: StatusCode,
    reason: &str,
) -> Response<ProxyBody> {
    let response = deny(shared, job, resource, status, reason).await;
    violation(shared, job).await;
    response
}

/// A response body that holds its job's concurrency slot until it is dropped.
struct SlotBody {
    inner: ProxyBody,
    _slot: OwnedSemaphorePermit,
}

impl hyper::body::Body for SlotBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, hyper::Error>>> {
        std::pin::Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

/// The job a request acts for: its token's job, else the anonymous job when the proxy
/// has one and the request presents no token at all.
fn identify<B>(shared: &Shared, request: &Request<B>) -> Option<Arc<JobState>> {
    let has_header = request
        .headers()
        .contains_key(http::header::PROXY_AUTHORIZATION);
    match presented_token(request.headers()) {
        Some(token) => shared.jobs.authenticate(&token),
        None if !has_header => shared.anonymous.clone(),
        None => None,
    }
}

pub(crate) fn proxy_auth_required() -> Response<ProxyBody> {
    let mut response = text_response(
        StatusCode::PROXY_AUTHENTICATION_REQUIRED,
        "proxy authentication required\n",
    );
    response.headers_mut().insert(
        http::header::PROXY_AUTHENTICATE,
        http::HeaderValue::from_static("Basic realm=\"ironclaw\""),
    );
    response
}

/// A plain-text response.
pub(crate) fn text_response(status: StatusCode, text: &str) -> Response<ProxyBody> {
    let body = Full::new(Bytes::from(text.to_owned()))
        .map_err(|never| match never {})
        .boxed();
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// Audits a refusal as `NETWORK_BLOCK` and answers it.
pub(crate) async fn deny(
    shared: &Shared,
    job: &JobState,
    resource: &str,
    status: StatusCode,
    reason: &str,
) -> Response<ProxyBody> {
    job.count_denied();
    audit_block(shared, Some(job), resource, reason).await;
    text_response(status, &format!("ironclaw proxy: {reason}\n"))
}

/// Audits a policy denial with its kind; it counts as a violation.
pub(crate) async fn deny_policy(
    shared: &Arc<Shared>,
    job: &JobState,
    resource: &str,
    denied: &Denied,
) -> Response<ProxyBody> {
    let reason = format!("{}: {}", denied.kind.as_str(), denied.detail);
    deny_violation(shared, job, resource, StatusCode::FORBIDDEN, &reason).await
}

/// What an audit record names for a request: `host:port` only. The path and query
/// (which can carry user data or secrets), userinfo, header values and bodies are
/// never recorded. A port that is not a valid number is left out; without one, the
/// scheme's default port is named.
pub(crate) fn audit_resource(uri: &Uri) -> String {
    let Some(authority) = uri.authority() else {
        return "-".to_owned();
    };
    let host = authority.host();
    let port = match authority_port(authority) {
        Ok(Some(port)) => Some(port),
        Ok(None) => match uri.scheme_str() {
            Some("http") => Some(80),
            Some("https") => Some(443),
            _ => None,
        },
        Err(_) => None,
    };
    match port {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    }
}

/// The port an authority names, if it names one. A port that is not a number from 1
/// to 65535 (`host:abc`, `host:99999`, `host:0`, `host:`) is an error, never the
/// scheme's default.
pub(crate) fn authority_port(authority: &Authority) -> Result<Option<u16>, &'static str> {
    const BAD: &str = "invalid port: not a number from 1 to 65535";
    let text = authority.as_str();
    let text = text
        .rsplit_once('@')
        .map_or(text, |(_, host_port)| host_port);
    let port = match text.rfind(']') {
        Some(end) => match &text[end + 1..] {
            "" => return Ok(None),
            rest => rest.strip_prefix(':').ok_or(BAD)?,
        },
        None => match text.split_once(':') {
            None => return Ok(None),
            Some((_, rest)) => rest,
        },
    };
    if port.is_empty() || port.len() > 5 || !port.bytes().all(|b| b.is_ascii_digit()) {
        return Err(BAD);
    }
    match port.parse::<u16>() {
        Ok(0) | Err(_) => Err(BAD),
        Ok(port) => Ok(Some(port)),
    }
}

/// `text`, or `[REDACTED]` when the leak detector finds a secret in it (a host name
/// can carry one), so an audit record never holds a secret.
pub(crate) fn scrubbed(shared: &Shared, text: &str) -> String {
    let detector = Arc::clone(&shared.leaks.read().unwrap_or_else(|e| e.into_inner()));
    // Host names arrive lower-cased, and most credential patterns are upper case.
    let clean = [text.to_owned(), text.to_ascii_uppercase()]
        .iter()
        .all(|variant| detector.scan(variant.as_bytes()).is_empty());
    if clean {
        text.to_owned()
    } else {
        "[REDACTED]".to_owned()
    }
}

/// Writes a `LEAK_BLOCKED` record for a job: where the leak was going and what kinds
/// of secret were found (never the secret).
pub(crate) async fn audit_leak(
    shared: &Shared,
    job: &JobState,
    resource: &str,
    direction: &str,
    kinds: &str,
) {
    let mut event = Event::builder(EventKind::LeakBlocked)
        .session_id(job.id())
        .action("network")
        .resource(scrubbed(shared, resource))
        .blocked(true)
        .field("job", job.id())
        .field("direction", direction)
        .field("kinds", kinds);
    if let Some(skill) = &job.grant.skill {
        event = event.skill(skill.clone());
    }
    record(shared, event).await;
}

/// Writes a `NETWORK_BLOCK` record. The record is durable before the caller answers.
pub(crate) async fn audit_block(
    shared: &Shared,
    job: Option<&JobState>,
    resource: &str,
    reason: &str,
) {
    let resource = scrubbed(shared, resource);
    record(shared, block_event(job, &resource, reason)).await;
}

/// A `NETWORK_BLOCK` event for `resource` (`host:port`, already scrubbed).
fn block_event(job: Option<&JobState>, resource: &str, reason: &str) -> EventBuilder {
    let (host, port) = split_resource(resource);
    let mut event = Event::builder(EventKind::NetworkBlock)
        .action("network")
        .resource(resource)
        .blocked(true)
        .field("reason", reason)
        .field("host", host);
    if let Some(port) = port {
        event = event.field("port", port);
    }
    if let Some(job) = job {
        event = event
            .session_id(job.id())
            .field("job", job.id())
            .granted(job.grant.network.rules().iter().cloned());
        if let Some(skill) = &job.grant.skill {
            event = event.skill(skill.clone());
        }
    }
    event
}

/// Builds and durably records an event; a failure is logged (the refusal stands).
pub(crate) async fn record(shared: &Shared, builder: EventBuilder) {
    let event = match builder.build() {
        Ok(event) => event,
        Err(err) => {
            tracing::error!(error = %err, "cannot build audit event");
            return;
        }
    };
    let audit = shared.audit.clone();
    let result = tokio::task::spawn_blocking(move || audit.record(event)).await;
    match result {
        Ok(Ok(())) => {}
        Ok(Err(err)) => tracing::error!(error = %err, "cannot write audit record"),
        Err(err) => tracing::error!(error = %err, "audit task failed"),
    }
}

fn split_resource(resource: &str) -> (String, Option<u16>) {
    match resource.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() => match port.parse::<u16>() {
            Ok(port) => (host.trim_matches(['[', ']']).to_owned(), Some(port)),
            Err(_) => (resource.to_owned(), None),
        },
        _ => (resource.to_owned(), None),
    }
}

/// Resolves `host` once and returns addresses that passed the SSRF rules (or, with
/// the unsafe testing switch, every answer). Honours the DNS timeout.
pub(crate) async fn resolve(
    shared: &Arc<Shared>,
    host: &str,
    port: u16,
) -> Result<Vec<SocketAddr>, Resolution> {
    // An IP literal needs no lookup: it is checked right here, which spares the
    // request two hand-offs to and from a blocking thread.
    if let Some(ip) = ip_literal(host) {
        if shared.config.allow_private_addresses_unsafe {
            return Ok(vec![SocketAddr::new(ip, port)]);
        }
        return match shared.ssrf.check_ip(ip) {
            Ok(()) => Ok(vec![SocketAddr::new(ip, port)]),
            Err(denied) => Err(Resolution::Denied(denied)),
        };
    }
    let worker_shared = Arc::clone(shared);
    let host_owned = host.to_owned();
    let lookup = tokio::task::spawn_blocking(move || {
        if worker_shared.config.allow_private_addresses_unsafe {
            return worker_shared
                .resolver
                .resolve(&host_owned, port)
                .map(|ips| {
                    ips.into_iter()
                        .map(|ip| SocketAddr::new(ip, port))
                        .collect()
                })
                .map_err(|e| Resolution::Failed(e.to_string()));
        }
        worker_shared
            .ssrf
            .resolve_checked(worker_shared.resolver.as_ref(), &host_owned, port)
            .map_err(Resolution::Denied)
    });
    match tokio::time::timeout(shared.config.timeouts.dns, lookup).await {
        Err(_) => Err(Resolution::TimedOut),
        Ok(Err(join)) => Err(Resolution::Failed(join.to_string())),
        Ok(Ok(Ok(addrs))) if addrs.is_empty() => {
            Err(Resolution::Failed(format!("{host} has no address")))
        }
        Ok(Ok(result)) => result,
    }
}

/// The address `host` spells as an IP literal (`[v6]` with or without brackets).
fn ip_literal(host: &str) -> Option<std::net::IpAddr> {
    let literal = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    literal.parse().ok()
}

/// Why a name could not be turned into addresses to connect to.
#[derive(Debug)]
pub(crate) enum Resolution {
    Denied(Denied),
    TimedOut,
    Failed(String),
}

/// Connects to the first checked address that answers within the connect timeout.
pub(crate) async fn connect_checked(
    shared: &Shared,
    addrs: &[SocketAddr],
) -> Result<(TcpStream, SocketAddr), String> {
    let mut last = String::from("no address");
    for addr in addrs {
        match tokio::time::timeout(shared.config.timeouts.connect, TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => {
                let _ = stream.set_nodelay(true);
                return Ok((stream, *addr));
            }
            Ok(Err(err)) => last = format!("connect to {addr} failed: {err}"),
            Err(_) => last = format!("connect to {addr} timed out"),
        }
    }
    Err(last)
}

/// Answers a failed resolution: denials are `403`, timeouts `504`, failures `502`.
pub(crate) async fn deny_resolution(
    shared: &Arc<Shared>,
    job: &JobState,
    resource: &str,
    resolution: Resolution,
) -> Response<ProxyBody> {
    match resolution {
        Resolution::Denied(denied) => deny_policy(shared, job, resource, &denied).await,
        Resolution::TimedOut => {
            deny(
                shared,
                job,
                resource,
                StatusCode::GATEWAY_TIMEOUT,
                "dns timeout",
            )
            .await
        }
        Resolution::Failed(why) => {
            deny(
                shared,
                job,
                resource,
                StatusCode::BAD_GATEWAY,
                &format!("dns: {why}"),
            )
            .await
        }
    }
}

/// The rule that lets the job reach `host:port`: the job's own grants, then the global
/// presets and extra domains.
pub(crate) fn allowed_rule(
    shared: &Shared,
    job: &JobState,
    host: &str,
    port: u16,
    default_port: u16,
) -> Option<String> {
    job.grant
        .network
        .allows(host, port, default_port)
        .or_else(|| shared.global.allows(host, port, default_port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_numbers_from_1_to_65535_or_absent() {
        let check = |text: &str, expected: Result<Option<u16>, ()>| {
            let authority: Authority = text.parse().unwrap();
            assert_eq!(
                authority_port(&authority).map_err(|_| ()),
                expected,
                "{text}"
            );
        };
        check("api.test", Ok(None));
        check("api.test:8080", Ok(Some(8080)));
        check("api.test:65535", Ok(Some(65535)));
        check("[::1]", Ok(None));
        check("[::1]:443", Ok(Some(443)));
        check("user:pw@api.test:81", Ok(Some(81)));
        for bad in [
            "api.test:abc",
            "api.test:0",
            "api.test:65536",
            "api.test:99999",
            "api.test:123456",
            "api.test:",
            "api.test:+80",
            "[::1]:",
            "[::1]:x",
        ] {
            if let Ok(authority) = bad.parse::<Authority>() {
                assert!(authority_port(&authority).is_err(), "{bad}");
            }
        }
    }
}
