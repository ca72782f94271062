//! Shared fixtures: one engine per test process, a host per test, the example
//! tools, and the audit log.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use ironclaw_audit::{AuditConfig, AuditLog};
use ironclaw_policy::{Capabilities, Permissions};
use ironclaw_wasm_host::{
    EngineConfig, ToolComponent, ToolHost, ToolHostBuilder, ToolSpec, WasmEngine,
};

/// The repository root.
pub(crate) fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .unwrap()
        .to_path_buf()
}

/// The directory of an example tool.
pub(crate) fn tool_dir(name: &str) -> PathBuf {
    repo_root().join("examples").join("tools").join(name)
}

/// The built component of an example tool; fails with the command to run when
/// it has not been built.
pub(crate) fn tool_wasm(name: &str) -> PathBuf {
    let dir = tool_dir(name);
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("skill.json")).unwrap()).unwrap();
    let path = dir.join(manifest["entry"].as_str().unwrap());
    assert!(
        path.is_file(),
        "{} is missing: build the example tools first with `cargo xtask tools`",
        path.display()
    );
    path
}

/// The process-wide engine. Its compiled-component cache lives in the target
/// directory, so later test runs skip compilation (keys include the content
/// hash, so a rebuilt tool is compiled again).
pub(crate) fn engine() -> WasmEngine {
    static ENGINE: OnceLock<WasmEngine> = OnceLock::new();
    ENGINE
        .get_or_init(|| {
            let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("wasm-host-cache");
            WasmEngine::new(EngineConfig {
                cache_dir: Some(cache),
                ..EngineConfig::default()
            })
            .unwrap()
        })
        .clone()
}

/// A loaded example tool (compiled once per process).
pub(crate) fn component(name: &str) -> ToolComponent {
    static CACHE: OnceLock<std::sync::Mutex<std::collections::HashMap<String, ToolComponent>>> =
        OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let mut cache = cache.lock().unwrap();
    cache
        .entry(name.to_owned())
        .or_insert_with(|| engine().load(&tool_wasm(name)).unwrap())
        .clone()
}

/// A host with its own temp dir and audit log.
pub(crate) struct Fixture {
    pub(crate) host: ToolHost,
    pub(crate) dir: tempfile::TempDir,
    pub(crate) audit_path: PathBuf,
    /// Other directories the test needs alive as long as the host (a secret store).
    pub(crate) keep: Vec<tempfile::TempDir>,
}

impl Fixture {
    pub(crate) fn new() -> Self {
        Self::with(|b| b)
    }

    pub(crate) fn with(configure: impl FnOnce(ToolHostBuilder) -> ToolHostBuilder) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let audit_path = dir.path().join("audit.log");
        let audit = Arc::new(AuditLog::open(AuditConfig::new(&audit_path)).unwrap());
        let host = configure(ToolHost::builder(engine(), audit))
            .build()
            .unwrap();
        Self {
            host,
            dir,
            audit_path,
            keep: Vec::new(),
        }
    }

    /// Registers example tool `tool` as `name` with `caps`, everything requested granted.
    pub(crate) fn register(&self, name: &str, tool: &str, caps: &str) {
        let caps = Capabilities::from_json(caps).unwrap();
        let grants = caps.requested().unwrap();
        self.register_with(name, tool, caps, grants, |s| s);
    }

    pub(crate) fn register_with(
        &self,
        name: &str,
        tool: &str,
        caps: Capabilities,
        grants: Permissions,
        adjust: impl FnOnce(ToolSpec) -> ToolSpec,
    ) {
        let spec = ToolSpec::new(name, component(tool), caps, grants);
        self.host.register(adjust(spec)).unwrap();
    }

    /// Every audit record, parsed.
    pub(crate) fn audit(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(&self.audit_path)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// Audit records of one event type.
    pub(crate) fn audited(&self, event: &str) -> Vec<serde_json::Value> {
        self.audit()
            .into_iter()
            .filter(|e| e["event"] == event)
            .collect()
    }

    /// The host still runs a good tool after whatever happened before.
    pub(crate) fn assert_healthy(&self) {
        if self.host.tools().iter().all(|t| t != "echo") {
            self.register("echo", "echo", "{}");
        }
        assert_eq!(
            self.host
                .call("echo", r#"{"message":"still here"}"#)
                .unwrap(),
            "still here"
        );
    }

    /// Runs the prober registered as `name` and parses its JSON answer.
    pub(crate) fn probe(&self, name: &str, params: serde_json::Value) -> serde_json::Value {
        let out = self.host.call(name, &params.to_string()).unwrap();
        serde_json::from_str(&out).unwrap()
    }
}
