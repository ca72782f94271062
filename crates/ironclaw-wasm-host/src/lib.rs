//! The WASM tool host of IronClaw: untrusted tools run as WebAssembly
//! components in wasmtime with nothing but the capabilities their
//! `capabilities.json` declares and the operator granted.
//!
//! # Main types
//!
//! - [`WasmEngine`]: one per process. Compiles components (once: compiled
//!   artifacts are cached on disk, keyed by content hash and engine version),
//!   owns the pooling instance allocator and the epoch ticker that enforces
//!   wall-clock deadlines. [`WasmEngine::load`] gives a [`ToolComponent`], a
//!   component already linked against the host's imports (an `InstancePre`).
//! - [`ToolHost`]: the registered tools ([`ToolSpec`]: component, capabilities,
//!   effective grants, optional [`WorkspaceGrant`], [`ToolLimits`]) and
//!   [`ToolHost::call`], which runs one call in a fresh instance.
//! - [`ToolError`] with [`Limit`]: every stop names its reason.
//!
//! The interface tools are built against is the WIT package `ironclaw:tool`
//! ([`WIT`], `wit/tool.wit`): a tool exports `describe`, `parameters-schema`
//! and `execute`; it imports only `ironclaw:tool/host` (log, clock,
//! `secret-exists`, `http-request`, `tool-invoke`, workspace read/write) and
//! the inert WASI stubs the Rust standard library needs (no environment, no
//! arguments, stdin closed, no filesystem, sockets, clocks or random).
//!
//! # Guarantees
//!
//! - Default deny: each host import checks the tool's declared capabilities
//!   *and* the effective grants; refusals are typed errors to the tool and
//!   audit records (NETWORK_BLOCK, LEAK_BLOCKED, ALLOWLIST_VIOLATION,
//!   FILESYSTEM_BLOCK).
//! - HTTP: allowlist and SSRF rules on the resolved addresses, a connection to
//!   the checked address only, credentials injected by the host (the tool never
//!   sees them), the request leak-scanned before sending, the response
//!   leak-scanned and redacted before the tool sees it, rate limit, timeout
//!   and size cap.
//! - Limits: linear memory and tables ([`Limit::Memory`], [`Limit::Table`]),
//!   CPU by fuel ([`Limit::Fuel`]), wall-clock time by epoch interruption
//!   ([`Limit::WallClock`]), result size ([`Limit::Output`]). A stopped tool
//!   leaves the host healthy; the next call gets a fresh instance.
//! - No state survives between calls: every call instantiates anew.
//!
//! Why both fuel and epochs: fuel is a deterministic instruction budget, so a
//! CPU-burning tool is stopped after the same amount of work whatever the load
//! of the machine, and time spent waiting in host calls (HTTP) is not charged
//! to it; but fuel cannot bound time spent in host calls, so the whole call
//! also has a wall-clock deadline, enforced by the engine's epoch (cheap: a
//! counter compare at loop heads and function entries).
//!
//! # Non-guarantees
//!
//! - Calls are synchronous and block the calling thread; from async code use
//!   `spawn_blocking`.
//! - The host records denials and nested `tool-invoke` calls; the top-level
//!   SKILL_CALL / ALLOWLIST_DENY of a run are the embedder's (the CLI writes
//!   them), since only it knows the allowlist decision. Likewise auto-suspension:
//!   the host reports each [`Violation`] to the embedder's hook
//!   ([`ToolHostBuilder::on_violation`]), which keeps the shared state.
//! - The wall-clock deadline interrupts WebAssembly code, not host code: an
//!   HTTP exchange is bounded by its own timeout (never longer than the time
//!   left), but the name lookup before it uses the configured resolver, which
//!   is synchronous and has the system resolver's own timeout.
//! - Spectre-class side channels between tools in one process are not
//!   addressed beyond what wasmtime does.
//!
//! # Example
//!
//! ```no_run
//! use std::sync::Arc;
//! use ironclaw_audit::{AuditConfig, AuditLog};
//! use ironclaw_policy::{Capabilities, Permissions};
//! use ironclaw_wasm_host::{EngineConfig, ToolHost, ToolSpec, WasmEngine};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let engine = WasmEngine::new(EngineConfig::default())?;
//! let audit = Arc::new(AuditLog::open(AuditConfig::new("/tmp/audit.log"))?);
//! let host = ToolHost::builder(engine.clone(), audit).build()?;
//! let echo = engine.load("examples/tools/echo/echo.wasm".as_ref())?;
//! host.register(ToolSpec::new("echo", echo, Capabilities::default(), Permissions::default()))?;
//! assert_eq!(host.call("echo", r#"{"message":"hi"}"#)?, "hi");
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]

/// The README's example, compiled as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

mod engine;
mod error;
mod host;
mod net;
mod state;
mod wasi;
mod workspace;

#[allow(
    missing_docs,
    unreachable_pub,
    missing_debug_implementations,
    clippy::all
)]
mod bindings {
    wasmtime::component::bindgen!({
        path: "wit/tool.wit",
        world: "tool",
    });
}

pub use engine::{EngineConfig, ToolComponent, WasmEngine};
pub use error::{BoxError, Limit, ToolError};
pub use host::{
    ToolHost, ToolHostBuilder, ToolLimits, ToolSpec, Violation, ViolationHook, WorkspaceGrant,
};

/// The WIT package tools are built against (`wit/tool.wit`).
pub const WIT: &str = include_str!("../wit/tool.wit");
