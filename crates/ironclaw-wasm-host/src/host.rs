//! The tool host: registered tools with their policies, and calls.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::{Duration, Instant};

use ironclaw_audit::{AuditLog, Event, EventKind};
use ironclaw_policy::{
    Access, Capabilities, EgressPolicy, Gcra, NetworkGrants, Permissions, Resolver, SystemResolver,
};
use ironclaw_safety::LeakDetector;
use ironclaw_secrets::SecretStore;
use wasmtime::Store;

use crate::bindings::ironclaw::tool::host::HostError;
use crate::engine::{ToolComponent, WasmEngine};
use crate::error::{Limit, ToolError};
use crate::state::{HostState, Limiter};

/// Resource limits of one call. Defaults come from [`ToolLimits::default`],
/// overridden by the tool's `capabilities.json` `limits`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ToolLimits {
    /// Linear memory cap. Default 64 MiB (`limits.memory_mb`), never more
    /// than [`EngineConfig::max_memory_bytes`](crate::EngineConfig::max_memory_bytes).
    /// Threat: a tool exhausting the host's memory.
    pub memory_bytes: u64,
    /// Table elements cap. Default 20,000.
    pub table_elements: u64,
    /// CPU budget in fuel units (about one per WebAssembly instruction).
    /// Default 2,000,000,000 (a second or two of work). Deterministic: it does
    /// not depend on machine load, and time spent in host calls is not charged.
    /// Cost: fuel accounting slows compute-heavy tools by roughly 10–30%.
    pub fuel: u64,
    /// Wall-clock deadline of the whole call, host calls included. Default 10 s
    /// (`limits.timeout_ms`). Enforced by epoch interruption to within one tick.
    pub timeout: Duration,
    /// Largest result (or error message) accepted from the tool. Default 1 MiB.
    pub max_output_bytes: u64,
}

impl Default for ToolLimits {
    fn default() -> Self {
        Self {
            memory_bytes: 64 << 20,
            table_elements: 20_000,
            fuel: 2_000_000_000,
            timeout: Duration::from_secs(10),
            max_output_bytes: 1 << 20,
        }
    }
}

/// A tool's own workspace directory, granted by the operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkspaceGrant {
    /// The directory (the skill's `workspace/skills/<name>/`).
    pub dir: PathBuf,
    /// Read-only or read-write.
    pub access: Access,
}

/// Everything the host needs to run one tool.
#[derive(Debug, Clone)]
pub struct ToolSpec {
    /// The tool's (skill's) name.
    pub name: String,
    /// The compiled component.
    pub component: ToolComponent,
    /// What the tool declared (`capabilities.json`).
    pub capabilities: Capabilities,
    /// The effective permissions: requested ∩ granted (see
    /// `ironclaw_policy::Allowlist::authorize`). A capability is usable only when
    /// it is both declared and granted.
    pub grants: Permissions,
    /// The workspace directory, if granted. Default none: no file access.
    pub workspace: Option<WorkspaceGrant>,
    /// Limits; `None` takes the defaults with the capabilities' `limits` applied.
    pub limits: Option<ToolLimits>,
}

impl ToolSpec {
    /// A spec with no workspace and limits from the capabilities.
    pub fn new(
        name: impl Into<String>,
        component: ToolComponent,
        capabilities: Capabilities,
        grants: Permissions,
    ) -> Self {
        Self {
            name: name.into(),
            component,
            capabilities,
            grants,
            workspace: None,
            limits: None,
        }
    }
}

/// A registered tool, with its policy compiled once.
pub(crate) struct RegisteredTool {
    pub(crate) name: String,
    pub(crate) component: ToolComponent,
    pub(crate) capabilities: Capabilities,
    pub(crate) grants: Permissions,
    pub(crate) network: NetworkGrants,
    pub(crate) egress: EgressPolicy,
    pub(crate) workspace: Option<WorkspaceGrant>,
    pub(crate) limits: ToolLimits,
    pub(crate) rate: Option<(Gcra, Mutex<u64>)>,
    pub(crate) http_timeout: Duration,
    pub(crate) max_response_bytes: u64,
}

/// A refused capability use that counts toward auto-suspension (NETWORK_BLOCK,
/// FILESYSTEM_BLOCK, ALLOWLIST_VIOLATION), reported to the embedder's hook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The tool.
    pub skill: String,
    /// The audit event written for it.
    pub event: &'static str,
    /// What was asked for (`host:port`, `secret:<name>`, `tool:<name>`, a path).
    pub resource: String,
}

/// Called for every [`Violation`], after its audit record.
pub type ViolationHook = Arc<dyn Fn(&Violation) + Send + Sync>;

/// Settings of the host's outbound HTTP.
pub(crate) struct NetSettings {
    pub(crate) resolver: Arc<dyn Resolver + Send + Sync>,
    pub(crate) exempt_unsafe: Vec<SocketAddr>,
    pub(crate) tls: Arc<rustls::ClientConfig>,
    pub(crate) runtime: OnceLock<Result<tokio::runtime::Runtime, String>>,
}

pub(crate) struct HostInner {
    pub(crate) engine: WasmEngine,
    pub(crate) tools: RwLock<HashMap<String, Arc<RegisteredTool>>>,
    pub(crate) audit: Arc<AuditLog>,
    pub(crate) secrets: Option<(Arc<SecretStore>, String)>,
    pub(crate) session_id: String,
    pub(crate) net: NetSettings,
    pub(crate) leak: LeakDetector,
    pub(crate) max_depth: u32,
    pub(crate) started: Instant,
    pub(crate) on_violation: Option<ViolationHook>,
}

/// What one running call knows about itself.
pub(crate) struct CallContext {
    pub(crate) tool: Arc<RegisteredTool>,
    /// Tool names from the outermost call to this one, inclusive.
    pub(crate) chain: Vec<String>,
    pub(crate) deadline: Instant,
}

/// Runs registered tools: a fresh instance per call, under the tool's limits,
/// with host imports checked against its capabilities and grants.
///
/// Calls block the calling thread (the engine is synchronous); from async code
/// use `spawn_blocking`. `ToolHost` is cheap to clone and may be shared across
/// threads.
#[derive(Clone)]
pub struct ToolHost {
    inner: Arc<HostInner>,
}

impl std::fmt::Debug for ToolHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let tools: Vec<String> = self
            .inner
            .tools
            .read()
            .map(|t| t.keys().cloned().collect())
            .unwrap_or_default();
        f.debug_struct("ToolHost")
            .field("tools", &tools)
            .finish_non_exhaustive()
    }
}

/// Builds a [`ToolHost`].
pub struct ToolHostBuilder {
    engine: WasmEngine,
    audit: Arc<AuditLog>,
    secrets: Option<(Arc<SecretStore>, String)>,
    session_id: String,
    resolver: Arc<dyn Resolver + Send + Sync>,
    exempt_unsafe: Vec<SocketAddr>,
    roots: Option<rustls::RootCertStore>,
    max_depth: u32,
    on_violation: Option<ViolationHook>,
}

impl std::fmt::Debug for ToolHostBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToolHostBuilder")
            .field("session_id", &self.session_id)
            .field("max_depth", &self.max_depth)
            .finish_non_exhaustive()
    }
}

impl ToolHostBuilder {
    /// The secret store and namespace credentials are read from. Default none:
    /// no secret exists and no credential can be injected.
    pub fn secrets(mut self, store: Arc<SecretStore>, namespace: impl Into<String>) -> Self {
        self.secrets = Some((store, namespace.into()));
        self
    }

    /// The session id written in audit records. Default `"wasm-host"`.
    pub fn session_id(mut self, id: impl Into<String>) -> Self {
        self.session_id = id.into();
        self
    }

    /// Name resolution for outbound HTTP. Default: the system resolver. Each
    /// request asks it once, and connects only to the answers it checked.
    pub fn resolver(mut self, resolver: Arc<dyn Resolver + Send + Sync>) -> Self {
        self.resolver = resolver;
        self
    }

    /// Exempts these exact socket addresses from the SSRF address rules (a
    /// loopback test server). Default none. Unsafe: a tool allowed a name that
    /// resolves to one of them reaches that local service.
    pub fn allow_addresses_unsafe(mut self, addrs: impl IntoIterator<Item = SocketAddr>) -> Self {
        self.exempt_unsafe.extend(addrs);
        self
    }

    /// Trusted roots for HTTPS. Default: Mozilla's roots (`webpki-roots`).
    pub fn tls_roots(mut self, roots: rustls::RootCertStore) -> Self {
        self.roots = Some(roots);
        self
    }

    /// Deepest tool-to-tool nesting: a call chain of this many tools, the
    /// outermost included. Default 4.
    pub fn max_depth(mut self, depth: u32) -> Self {
        self.max_depth = depth.max(1);
        self
    }

    /// Calls `hook` for every refused capability use that counts toward
    /// auto-suspension (the embedder records it, for example with
    /// `ironclaw_policy::SuspensionState::record_in_file`). Default none.
    pub fn on_violation(mut self, hook: ViolationHook) -> Self {
        self.on_violation = Some(hook);
        self
    }

    /// Builds the host.
    pub fn build(self) -> Result<ToolHost, ToolError> {
        let roots = self.roots.unwrap_or_else(|| rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        });
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| ToolError::Engine {
                reason: format!("tls: {e}"),
            })?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let leak = LeakDetector::with_builtin_patterns().map_err(|e| ToolError::Engine {
            reason: format!("leak detector: {e}"),
        })?;
        Ok(ToolHost {
            inner: Arc::new(HostInner {
                engine: self.engine,
                tools: RwLock::new(HashMap::new()),
                audit: self.audit,
                secrets: self.secrets,
                session_id: self.session_id,
                net: NetSettings {
                    resolver: self.resolver,
                    exempt_unsafe: self.exempt_unsafe,
                    tls: Arc::new(tls),
                    runtime: OnceLock::new(),
                },
                leak,
                max_depth: self.max_depth,
                started: Instant::now(),
                on_violation: self.on_violation,
            }),
        })
    }
}

impl ToolHost {
    /// A builder; `audit` receives every denial (audit cannot be turned off).
    pub fn builder(engine: WasmEngine, audit: Arc<AuditLog>) -> ToolHostBuilder {
        ToolHostBuilder {
            engine,
            audit,
            secrets: None,
            session_id: "wasm-host".into(),
            resolver: Arc::new(SystemResolver),
            exempt_unsafe: Vec::new(),
            roots: None,
            max_depth: 4,
            on_violation: None,
        }
    }

    /// The engine.
    pub fn engine(&self) -> &WasmEngine {
        &self.inner.engine
    }

    /// Registers (or replaces) a tool. Its HTTP allowlist and limits are
    /// compiled here; an unusable one is refused and nothing changes.
    pub fn register(&self, spec: ToolSpec) -> Result<(), ToolError> {
        let tool = compile(&self.inner, spec)?;
        let mut tools = self.inner.tools.write().map_err(|_| ToolError::Engine {
            reason: "tool table poisoned".into(),
        })?;
        tools.insert(tool.name.clone(), Arc::new(tool));
        Ok(())
    }

    /// Names of the registered tools, sorted.
    pub fn tools(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .inner
            .tools
            .read()
            .map(|t| t.keys().cloned().collect())
            .unwrap_or_default();
        names.sort();
        names
    }

    /// Runs `tool` once on JSON `params` in a fresh instance and returns its
    /// output. The output is leak-scanned and redacted.
    pub fn call(&self, tool: &str, params: &str) -> Result<String, ToolError> {
        let t = lookup(&self.inner, tool)?;
        let deadline = Instant::now() + t.limits.timeout;
        run(
            &self.inner,
            CallContext {
                tool: t,
                chain: vec![tool.to_owned()],
                deadline,
            },
            params,
        )
    }

    /// The tool's description (its `describe` export).
    pub fn describe(&self, tool: &str) -> Result<String, ToolError> {
        self.metadata(tool, |bindings, store| bindings.call_describe(store))
    }

    /// The tool's parameter schema (its `parameters-schema` export).
    pub fn parameters_schema(&self, tool: &str) -> Result<String, ToolError> {
        self.metadata(tool, |bindings, store| {
            bindings.call_parameters_schema(store)
        })
    }

    fn metadata(
        &self,
        tool: &str,
        f: impl FnOnce(&crate::bindings::Tool, &mut Store<HostState>) -> wasmtime::Result<String>,
    ) -> Result<String, ToolError> {
        let t = lookup(&self.inner, tool)?;
        let deadline = Instant::now() + t.limits.timeout;
        let cx = CallContext {
            tool: Arc::clone(&t),
            chain: vec![tool.to_owned()],
            deadline,
        };
        let (mut store, bindings) = instantiate(&self.inner, cx)?;
        let out = f(&bindings, &mut store);
        let out = out.map_err(|e| classify(&store, &t, e))?;
        check_output(&t, &out)?;
        Ok(out)
    }
}

fn lookup(inner: &HostInner, tool: &str) -> Result<Arc<RegisteredTool>, ToolError> {
    inner
        .tools
        .read()
        .ok()
        .and_then(|t| t.get(tool).cloned())
        .ok_or_else(|| ToolError::UnknownTool(tool.to_owned()))
}

fn compile(inner: &HostInner, spec: ToolSpec) -> Result<RegisteredTool, ToolError> {
    let config = |reason: String| ToolError::Config {
        tool: spec.name.clone(),
        reason,
    };
    let allowlist = spec
        .capabilities
        .http_allowlist()
        .map_err(|e| config(format!("capabilities.json http.allowlist: {e}")))?;
    let mut limits = spec.limits.unwrap_or_default();
    if spec.limits.is_none()
        && let Some(l) = spec.capabilities.limits
    {
        if let Some(mb) = l.memory_mb {
            limits.memory_bytes = mb.saturating_mul(1 << 20);
        }
        if let Some(ms) = l.timeout_ms {
            limits.timeout = Duration::from_millis(ms);
        }
    }
    let ceiling = inner.engine.config().max_memory_bytes;
    if limits.memory_bytes > ceiling {
        return Err(config(format!(
            "limits.memory_mb asks for {} bytes, more than the host's ceiling of {ceiling}",
            limits.memory_bytes
        )));
    }
    if limits.timeout.is_zero() {
        return Err(config("limits.timeout_ms must be positive".into()));
    }
    let http = spec.capabilities.http.clone().unwrap_or_default();
    Ok(RegisteredTool {
        network: NetworkGrants::new(&spec.grants.network),
        egress: EgressPolicy::builtin().with_allowlist(allowlist),
        rate: http.rate_limit.map(|r| (r.gcra(), Mutex::new(0))),
        http_timeout: Duration::from_secs(http.timeout_secs.unwrap_or(30).max(1)),
        max_response_bytes: http.max_response_bytes.unwrap_or(5 << 20),
        name: spec.name,
        component: spec.component,
        capabilities: spec.capabilities,
        grants: spec.grants,
        workspace: spec.workspace,
        limits,
    })
}

fn instantiate(
    inner: &Arc<HostInner>,
    cx: CallContext,
) -> Result<(Store<HostState>, crate::bindings::Tool), ToolError> {
    let tool = Arc::clone(&cx.tool);
    let remaining = cx.remaining();
    let engine = inner.engine.engine();
    let mut store = Store::new(
        engine,
        HostState {
            limiter: Limiter {
                memory_bytes: usize::try_from(tool.limits.memory_bytes).unwrap_or(usize::MAX),
                table_elements: usize::try_from(tool.limits.table_elements).unwrap_or(usize::MAX),
                hit: None,
            },
            cx,
            host: Arc::clone(inner),
            stderr: Vec::new(),
        },
    );
    store.limiter(|s| &mut s.limiter);
    store
        .set_fuel(tool.limits.fuel)
        .map_err(|e| instantiate_error(&tool, e))?;
    store.set_epoch_deadline(inner.engine.ticks(remaining));
    let bindings =
        tool.component
            .pre
            .instantiate(&mut store)
            .map_err(|e| match store.data().limiter.hit {
                Some(_) => classify(&store, &tool, e),
                None if is_pool_exhausted(&e) => ToolError::LimitExceeded {
                    tool: tool.name.clone(),
                    limit: Limit::Instances,
                    max: u64::from(inner.engine.config().max_instances),
                },
                None => instantiate_error(&tool, e),
            })?;
    Ok((store, bindings))
}

fn is_pool_exhausted(e: &wasmtime::Error) -> bool {
    e.downcast_ref::<wasmtime::PoolConcurrencyLimitError>()
        .is_some()
}

fn instantiate_error(tool: &RegisteredTool, e: wasmtime::Error) -> ToolError {
    ToolError::Instantiate {
        tool: tool.name.clone(),
        source: e.into(),
    }
}

/// Turns a failed call into the limit it hit, or a trap.
fn classify(store: &Store<HostState>, tool: &RegisteredTool, e: wasmtime::Error) -> ToolError {
    let limit = |limit: Limit, max: u64| ToolError::LimitExceeded {
        tool: tool.name.clone(),
        limit,
        max,
    };
    if let Some(hit) = store.data().limiter.hit {
        return match hit {
            Limit::Table => limit(Limit::Table, tool.limits.table_elements),
            _ => limit(Limit::Memory, tool.limits.memory_bytes),
        };
    }
    match e.downcast_ref::<wasmtime::Trap>() {
        Some(wasmtime::Trap::OutOfFuel) => limit(Limit::Fuel, tool.limits.fuel),
        Some(wasmtime::Trap::Interrupt) => limit(
            Limit::WallClock,
            u64::try_from(tool.limits.timeout.as_millis()).unwrap_or(u64::MAX),
        ),
        _ => {
            let stderr = String::from_utf8_lossy(&store.data().stderr);
            if !stderr.is_empty() {
                tracing::debug!(tool = tool.name, stderr = %stderr.trim_end(), "tool trapped");
            }
            ToolError::Trap {
                tool: tool.name.clone(),
                source: e.into(),
            }
        }
    }
}

fn check_output(tool: &RegisteredTool, out: &str) -> Result<(), ToolError> {
    if out.len() as u64 > tool.limits.max_output_bytes {
        return Err(ToolError::LimitExceeded {
            tool: tool.name.clone(),
            limit: Limit::Output,
            max: tool.limits.max_output_bytes,
        });
    }
    Ok(())
}

/// One call in a fresh instance.
pub(crate) fn run(
    inner: &Arc<HostInner>,
    cx: CallContext,
    params: &str,
) -> Result<String, ToolError> {
    let tool = Arc::clone(&cx.tool);
    let (mut store, bindings) = instantiate(inner, cx)?;
    let result = bindings.call_execute(&mut store, params);
    let result = result.map_err(|e| classify(&store, &tool, e))?;
    let (Ok(text) | Err(text)) = &result;
    check_output(&tool, text)?;
    // The result goes to an agent (and a model): it must not carry a credential.
    let clean = if inner.leak.scan_str(text).is_empty() {
        None
    } else {
        let redacted = inner.leak.redact(text);
        audit(
            inner,
            Event::builder(EventKind::LeakBlocked)
                .skill(&tool.name)
                .action("tool_result")
                .resource(format!("tool:{}", tool.name))
                .blocked(true),
        );
        Some(redacted)
    };
    match result {
        Ok(text) => Ok(clean.unwrap_or(text)),
        Err(message) => Err(ToolError::Failed {
            tool: tool.name.clone(),
            message: clean.unwrap_or(message),
        }),
    }
}

/// Writes an audit record for a decision already taken. A failure to write is
/// logged: the decision (a denial) stands either way.
pub(crate) fn audit(inner: &HostInner, event: ironclaw_audit::EventBuilder) {
    let event = event.session_id(&inner.session_id).build();
    match event {
        Ok(event) => {
            if let Err(e) = inner.audit.record(event) {
                tracing::error!(error = %e, "audit record not written");
            }
        }
        Err(e) => tracing::error!(error = %e, "audit record not built"),
    }
}

/// Audits a refused capability use by the running tool (always a violation:
/// NETWORK_BLOCK, FILESYSTEM_BLOCK or ALLOWLIST_VIOLATION) and reports it.
pub(crate) fn audit_denial(
    inner: &HostInner,
    cx: &CallContext,
    kind: EventKind,
    action: &str,
    resource: &str,
    reason: &str,
) {
    audit(
        inner,
        Event::builder(kind)
            .skill(&cx.tool.name)
            .action(action)
            .resource(resource)
            .blocked(true)
            .field("reason", reason),
    );
    if let Some(hook) = &inner.on_violation {
        hook(&Violation {
            skill: cx.tool.name.clone(),
            event: kind.as_str(),
            resource: resource.to_owned(),
        });
    }
}

/// `secret-exists`: only names declared in `secrets.allowed_names` and granted.
pub(crate) fn secret_exists(inner: &HostInner, cx: &CallContext, name: &str) -> bool {
    let tool = &cx.tool;
    let declared = tool
        .capabilities
        .secrets
        .as_ref()
        .is_some_and(|s| s.allowed_names.iter().any(|n| n == name));
    if !declared || !tool.grants.secrets.contains(name) {
        audit_denial(
            inner,
            cx,
            EventKind::AllowlistViolation,
            "secret_exists",
            &format!("secret:{}", name.chars().take(64).collect::<String>()),
            if declared {
                "secret not granted"
            } else {
                "secret not declared in capabilities.json"
            },
        );
        return false;
    }
    match &inner.secrets {
        Some((store, ns)) => store.contains(ns, name).unwrap_or(false),
        None => false,
    }
}

/// `tool-invoke`: allowed names only, no cycles, bounded depth.
pub(crate) fn tool_invoke(
    inner: &Arc<HostInner>,
    cx: &CallContext,
    name: &str,
    params: String,
) -> Result<String, HostError> {
    let resource = format!("tool:{}", name.chars().take(64).collect::<String>());
    if cx.chain.iter().any(|n| n == name) {
        let path = format!("{} -> {name}", cx.chain.join(" -> "));
        audit_denial(
            inner,
            cx,
            EventKind::AllowlistViolation,
            "tool_invoke",
            &resource,
            "circular invocation",
        );
        return Err(HostError::Cycle(path));
    }
    let declared = cx
        .tool
        .capabilities
        .tool_invoke
        .as_ref()
        .is_some_and(|t| t.allowed.iter().any(|n| n == name));
    if !declared || !cx.tool.grants.tools.contains(name) {
        let reason = if declared {
            "tool not granted"
        } else {
            "tool not declared in capabilities.json tool_invoke"
        };
        audit_denial(
            inner,
            cx,
            EventKind::AllowlistViolation,
            "tool_invoke",
            &resource,
            reason,
        );
        return Err(HostError::NotAllowed(format!("{resource}: {reason}")));
    }
    let depth = u32::try_from(cx.chain.len()).unwrap_or(u32::MAX);
    if depth >= inner.max_depth {
        audit_denial(
            inner,
            cx,
            EventKind::AllowlistViolation,
            "tool_invoke",
            &resource,
            "invocation depth limit",
        );
        return Err(HostError::DepthExceeded(inner.max_depth));
    }
    let callee = lookup(inner, name).map_err(|e| HostError::Failed(e.to_string()))?;
    let mut chain = cx.chain.clone();
    chain.push(name.to_owned());
    audit(
        inner,
        Event::builder(EventKind::SkillCall)
            .skill(name)
            .action("tool_invoke")
            .resource(format!("tool:{}", cx.tool.name))
            .blocked(false),
    );
    let deadline = cx.deadline.min(Instant::now() + callee.limits.timeout);
    let nested = CallContext {
        tool: callee,
        chain,
        deadline,
    };
    run(inner, nested, &params).map_err(|e| match e {
        ToolError::Failed { message, .. } => HostError::Failed(message),
        other => HostError::Failed(other.to_string()),
    })
}
