//! The host's errors.

use std::fmt;
use std::path::PathBuf;

/// Boxed source error (wasmtime's own error type is converted into this).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A resource limit a tool can exceed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Limit {
    /// Linear memory, in bytes (`limits.memory_mb`).
    Memory,
    /// Table elements.
    Table,
    /// CPU, in fuel units (roughly one per WebAssembly instruction).
    Fuel,
    /// Wall-clock time, in milliseconds (`limits.timeout_ms`).
    WallClock,
    /// The size of the result, in bytes.
    Output,
    /// Instances alive at once in the process (the pooling allocator's slots).
    Instances,
}

impl Limit {
    /// A stable lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Memory => "memory",
            Self::Table => "table",
            Self::Fuel => "fuel",
            Self::WallClock => "wall-clock",
            Self::Output => "output",
            Self::Instances => "instances",
        }
    }
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What went wrong running or loading a tool.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ToolError {
    /// The tool exceeded a resource limit and was stopped.
    #[error("tool {tool} stopped: {limit} limit of {max} exceeded")]
    LimitExceeded {
        /// The tool.
        tool: String,
        /// Which limit.
        limit: Limit,
        /// The limit's value (bytes, elements, fuel units, milliseconds).
        max: u64,
    },
    /// No tool of that name is registered with the host.
    #[error("tool {0} is not registered")]
    UnknownTool(String),
    /// The tool returned an error of its own.
    #[error("tool {tool} failed: {message}")]
    Failed {
        /// The tool.
        tool: String,
        /// Its message (leak-scanned and redacted).
        message: String,
    },
    /// The tool trapped (a bug or a deliberate abort in the tool).
    #[error("tool {tool} trapped")]
    Trap {
        /// The tool.
        tool: String,
        /// The trap.
        source: BoxError,
    },
    /// The tool's result carried a secret and was withheld.
    #[error("tool {tool}: result withheld, it carries a secret ({kinds})")]
    LeakBlocked {
        /// The tool.
        tool: String,
        /// What was found.
        kinds: String,
    },
    /// The tool could not be instantiated.
    #[error("tool {tool}: cannot instantiate")]
    Instantiate {
        /// The tool.
        tool: String,
        /// Why.
        source: BoxError,
    },
    /// A component could not be compiled or linked (for example, it imports
    /// something the host does not provide).
    #[error("{path}: cannot load the component")]
    Load {
        /// The component file.
        path: PathBuf,
        /// Why.
        source: BoxError,
    },
    /// A file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The tool's capabilities or limits are unusable.
    #[error("tool {tool}: {reason}")]
    Config {
        /// The tool.
        tool: String,
        /// Why.
        reason: String,
    },
    /// The engine could not be built.
    #[error("wasm engine: {reason}")]
    Engine {
        /// Why.
        reason: String,
    },
    /// An audit record could not be written; the call was not made (fail closed).
    #[error("audit log")]
    Audit(#[from] ironclaw_audit::AuditError),
}

impl ToolError {
    pub(crate) fn engine(e: wasmtime::Error) -> Self {
        Self::Engine {
            reason: e.to_string(),
        }
    }

    /// The limit this error reports, if it is [`ToolError::LimitExceeded`].
    pub fn limit(&self) -> Option<Limit> {
        match self {
            Self::LimitExceeded { limit, .. } => Some(*limit),
            _ => None,
        }
    }
}
