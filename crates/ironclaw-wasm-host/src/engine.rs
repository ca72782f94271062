//! One wasmtime [`Engine`] per process: compilation settings, the on-disk cache,
//! the pooling allocator and the epoch ticker that enforces wall-clock deadlines.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use wasmtime::component::{Component, Linker};
use wasmtime::{
    Cache, CacheConfig, Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig,
};

use crate::bindings::ToolPre;
use crate::error::ToolError;
use crate::state::HostState;

/// Settings of the process-wide engine. `EngineConfig::default()` is the safe
/// configuration.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Directory of the compiled-component cache. Default `None` (compile on
    /// every load). Entries are keyed by a SHA-256 of the component bytes, the
    /// compiler settings and the wasmtime version, so a changed component or an
    /// upgraded engine never loads a stale artifact. The directory holds native
    /// code that will be executed: it must be writable only by the operator.
    pub cache_dir: Option<PathBuf>,
    /// Component instances alive at once across the process (the pooling
    /// allocator's slots). Default 64. A call beyond it fails with
    /// [`Limit::Instances`](crate::Limit::Instances); nested `tool-invoke` calls
    /// hold one slot per level.
    pub max_instances: u32,
    /// The ceiling of any tool's linear memory, in bytes (the pool slot size).
    /// Default 256 MiB. A tool's own `limits.memory_mb` can only be lower.
    pub max_memory_bytes: u64,
    /// How often the epoch advances; the granularity of wall-clock deadlines.
    /// Default 2 ms. Cost: one thread waking at this rate.
    pub epoch_tick: Duration,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            cache_dir: None,
            max_instances: 64,
            max_memory_bytes: 256 << 20,
            epoch_tick: Duration::from_millis(2),
        }
    }
}

/// The process-wide compiler and runtime for tools. Cheap to clone; create one
/// per process and load every tool with it.
///
/// CPU is bounded by fuel (a deterministic instruction budget per call) and
/// wall-clock time by epoch interruption (a deadline in ticks of
/// [`EngineConfig::epoch_tick`]); see the crate documentation for why both.
#[derive(Debug, Clone)]
pub struct WasmEngine {
    inner: Arc<EngineInner>,
}

struct EngineInner {
    engine: Engine,
    linker: Linker<HostState>,
    config: EngineConfig,
    stop: Arc<AtomicBool>,
    ticker: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for EngineInner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasmEngine")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Drop for EngineInner {
    fn drop(&mut self) {
        // The ticker sees the flag within one tick and exits, releasing its
        // engine handle; it is not joined, so dropping an engine never waits.
        self.stop.store(true, Ordering::Relaxed);
        drop(self.ticker.take());
    }
}

impl WasmEngine {
    /// Builds the engine, the linker with the host's imports, and starts the
    /// epoch ticker.
    pub fn new(config: EngineConfig) -> Result<Self, ToolError> {
        let engine = Engine::new(&wasmtime_config(&config)?).map_err(ToolError::engine)?;
        let mut linker = Linker::new(&engine);
        crate::state::add_to_linker(&mut linker).map_err(ToolError::engine)?;
        let stop = Arc::new(AtomicBool::new(false));
        let ticker = {
            let engine = engine.clone();
            let stop = Arc::clone(&stop);
            let tick = config.epoch_tick;
            std::thread::Builder::new()
                .name("ironclaw-wasm-epoch".into())
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        std::thread::sleep(tick);
                        engine.increment_epoch();
                    }
                })
                .map_err(|e| ToolError::Engine {
                    reason: format!("cannot start the epoch thread: {e}"),
                })?
        };
        Ok(Self {
            inner: Arc::new(EngineInner {
                engine,
                linker,
                config,
                stop,
                ticker: Some(ticker),
            }),
        })
    }

    /// The settings the engine was built with.
    pub fn config(&self) -> &EngineConfig {
        &self.inner.config
    }

    /// Loads (from the cache, or by compiling) the component at `path` and
    /// links it against the host's imports once.
    pub fn load(&self, path: &Path) -> Result<ToolComponent, ToolError> {
        let bytes = std::fs::read(path).map_err(|source| ToolError::Io {
            path: path.to_owned(),
            source,
        })?;
        self.load_bytes(path, &bytes)
    }

    /// Like [`WasmEngine::load`], from bytes; `origin` names them in errors.
    pub fn load_bytes(&self, origin: &Path, bytes: &[u8]) -> Result<ToolComponent, ToolError> {
        let load = |source: wasmtime::Error| ToolError::Load {
            path: origin.to_owned(),
            source: source.into(),
        };
        let component = Component::new(&self.inner.engine, bytes).map_err(load)?;
        let pre = self
            .inner
            .linker
            .instantiate_pre(&component)
            .map_err(load)?;
        let pre = ToolPre::new(pre).map_err(load)?;
        Ok(ToolComponent {
            pre,
            origin: origin.to_owned(),
        })
    }

    pub(crate) fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// Ticks of the epoch for `timeout`, at least one.
    pub(crate) fn ticks(&self, timeout: Duration) -> u64 {
        let tick = self.inner.config.epoch_tick.as_nanos().max(1);
        u64::try_from(timeout.as_nanos().div_ceil(tick))
            .unwrap_or(u64::MAX)
            .max(1)
    }
}

fn wasmtime_config(config: &EngineConfig) -> Result<Config, ToolError> {
    let mut c = Config::new();
    c.wasm_component_model(true);
    c.consume_fuel(true);
    c.epoch_interruption(true);
    let memory = usize::try_from(config.max_memory_bytes).unwrap_or(usize::MAX);
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(config.max_instances)
        // A Rust component has a handful of core instances, one memory and one table.
        .total_core_instances(config.max_instances.saturating_mul(8))
        .total_memories(config.max_instances.saturating_mul(2))
        .total_tables(config.max_instances.saturating_mul(2))
        .max_memory_size(memory)
        .table_elements(100_000)
        // Slots are returned to the kernel (madvise) between calls rather than
        // kept resident and zeroed with memset: measured faster for small tools
        // (`cargo xtask bench wasm`), whose stack sits at the top of the first MiB.
        .linear_memory_keep_resident(0);
    c.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    if let Some(dir) = &config.cache_dir {
        let mut cache = CacheConfig::new();
        cache.with_directory(dir);
        let cache = Cache::new(cache).map_err(|e| ToolError::Engine {
            reason: format!("cache directory {}: {e}", dir.display()),
        })?;
        c.cache(Some(cache));
    }
    Ok(c)
}

/// A compiled tool component, linked against the host's imports and ready to
/// instantiate (a fresh instance per call). Cheap to clone.
#[derive(Clone)]
pub struct ToolComponent {
    pub(crate) pre: ToolPre<HostState>,
    origin: PathBuf,
}

impl std::fmt::Debug for ToolComponent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToolComponent")
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

impl ToolComponent {
    /// Where the component came from.
    pub fn origin(&self) -> &Path {
        &self.origin
    }
}
