//! The error type of the audit crate.

use std::path::PathBuf;

/// What went wrong, for callers that branch on it.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditErrorKind {
    /// The log file or its directory cannot be created, opened or written.
    NotWritable,
    /// An I/O operation on an open log failed (the log is now closed for writing).
    Io,
    /// An event was refused before it reached the log (for example a reserved or
    /// content-bearing field name).
    InvalidEvent,
    /// The log, or a query over it, could not be parsed.
    Parse,
    /// The log is closed because an earlier write failed; nothing more is accepted.
    Closed,
    /// A PostgreSQL operation failed.
    Database,
}

/// An error of the audit log. Messages are lowercase and name the file involved.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The directory that should hold the log does not exist.
    #[error("audit log {path}: parent directory does not exist")]
    ParentMissing {
        /// The log file that was asked for.
        path: PathBuf,
    },
    /// The log file (or its directory) cannot be opened for appending.
    #[error("audit log {path}: not writable")]
    NotWritable {
        /// The log file that was asked for.
        path: PathBuf,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },
    /// The path exists but is not a regular file.
    #[error("audit log {path}: not a regular file")]
    NotAFile {
        /// The offending path.
        path: PathBuf,
    },
    /// Reading, writing, syncing or renaming a file failed.
    #[error("audit log {path}: {op} failed")]
    Io {
        /// The file involved.
        path: PathBuf,
        /// What was being done (`write`, `fsync`, `rename`, ...).
        op: &'static str,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },
    /// The log stopped accepting events after an earlier write or sync failure, so
    /// that no event is acknowledged that might not be durable (fail closed).
    #[error("audit log {path}: closed after an earlier write failure")]
    Closed {
        /// The log file.
        path: PathBuf,
    },
    /// An event carried a field that the log refuses.
    #[error("audit event field `{field}`: {reason}")]
    InvalidField {
        /// The field name.
        field: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// A value given to a query (a time, a format) could not be parsed.
    #[error("audit query {what} `{value}`: {reason}")]
    InvalidQuery {
        /// Which parameter.
        what: &'static str,
        /// The value given.
        value: String,
        /// Why it is refused.
        reason: String,
    },
    /// A database operation failed.
    #[cfg(feature = "postgres")]
    #[error("audit database: {op} failed")]
    Database {
        /// What was being done.
        op: &'static str,
        /// The driver's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl AuditError {
    /// The kind of this error, for callers that branch on it.
    pub fn kind(&self) -> AuditErrorKind {
        match self {
            Self::ParentMissing { .. } | Self::NotWritable { .. } | Self::NotAFile { .. } => {
                AuditErrorKind::NotWritable
            }
            Self::Io { .. } => AuditErrorKind::Io,
            Self::Closed { .. } => AuditErrorKind::Closed,
            Self::InvalidField { .. } => AuditErrorKind::InvalidEvent,
            Self::InvalidQuery { .. } => AuditErrorKind::Parse,
            #[cfg(feature = "postgres")]
            Self::Database { .. } => AuditErrorKind::Database,
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, op: &'static str, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            op,
            source,
        }
    }
}
