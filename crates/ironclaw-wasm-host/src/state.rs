//! What a store carries while a tool runs: its limits, its call context, and
//! the implementation of the `ironclaw:tool/host` imports.

use std::sync::Arc;
use std::time::Instant;

use wasmtime::ResourceLimiter;
use wasmtime::component::{HasSelf, Linker};

use crate::bindings::ironclaw::tool::host::{self, HostError, LogLevel, Request, Response};
use crate::error::Limit;
use crate::host::{CallContext, HostInner};

/// Memory and table caps of one call, and which one was hit (the trap that
/// follows says only that growth failed; this says which limit it was).
#[derive(Debug)]
pub(crate) struct Limiter {
    pub(crate) memory_bytes: usize,
    pub(crate) table_elements: usize,
    pub(crate) hit: Option<Limit>,
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.memory_bytes {
            self.hit = Some(Limit::Memory);
            return Err(wasmtime::format_err!("memory limit exceeded"));
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.table_elements {
            self.hit = Some(Limit::Table);
            return Err(wasmtime::format_err!("table limit exceeded"));
        }
        Ok(true)
    }

    fn instances(&self) -> usize {
        64
    }

    fn tables(&self) -> usize {
        16
    }

    fn memories(&self) -> usize {
        4
    }
}

/// The data of one store (one call of one tool).
pub(crate) struct HostState {
    pub(crate) limiter: Limiter,
    pub(crate) cx: CallContext,
    pub(crate) host: Arc<HostInner>,
    /// What the tool wrote to stderr (a panic message), capped.
    pub(crate) stderr: Vec<u8>,
}

/// The most stderr kept per call.
pub(crate) const MAX_STDERR: usize = 4096;

/// Links every import a tool may use: `ironclaw:tool/host` and the minimal WASI
/// stubs the Rust standard library needs.
pub(crate) fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    host::add_to_linker::<HostState, HasSelf<HostState>>(linker, |s| s)?;
    crate::wasi::add_to_linker(linker)
}

impl host::Host for HostState {
    fn log(&mut self, level: LogLevel, message: String) {
        let tool = self.cx.tool.name.as_str();
        let message: String = message.chars().take(2048).collect();
        let message = self.host.leak.redact(&message);
        match level {
            LogLevel::Trace => tracing::trace!(tool, "{message}"),
            LogLevel::Debug => tracing::debug!(tool, "{message}"),
            LogLevel::Info => tracing::info!(tool, "{message}"),
            LogLevel::Warn => tracing::warn!(tool, "{message}"),
            LogLevel::Error => tracing::error!(tool, "{message}"),
        }
    }

    fn now_millis(&mut self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
            .unwrap_or(0)
    }

    fn secret_exists(&mut self, name: String) -> bool {
        crate::host::secret_exists(&self.host, &self.cx, &name)
    }

    fn http_request(&mut self, request: Request) -> Result<Response, HostError> {
        crate::net::http_request(&self.host, &self.cx, request)
    }

    fn tool_invoke(&mut self, name: String, params: String) -> Result<String, HostError> {
        crate::host::tool_invoke(&self.host, &self.cx, &name, params)
    }

    fn workspace_read(&mut self, path: String) -> Result<Vec<u8>, HostError> {
        crate::workspace::read(&self.host, &self.cx, &path)
    }

    fn workspace_write(&mut self, path: String, data: Vec<u8>) -> Result<(), HostError> {
        crate::workspace::write(&self.host, &self.cx, &path, &data)
    }
}

impl CallContext {
    /// Time left before the call's wall-clock deadline.
    pub(crate) fn remaining(&self) -> std::time::Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }
}
