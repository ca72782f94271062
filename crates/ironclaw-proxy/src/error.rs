//! The proxy's error type.

use std::io;

/// What went wrong building or running the proxy.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProxyError {
    /// A network grant could not be parsed.
    #[error("invalid network rule {rule:?}: {reason}")]
    InvalidRule {
        /// The rule as written.
        rule: String,
        /// Why it was refused.
        reason: String,
    },
    /// A configuration value is out of range.
    #[error("invalid proxy setting {key}: {reason}")]
    InvalidConfig {
        /// The setting's name.
        key: &'static str,
        /// Why it was refused.
        reason: String,
    },
    /// The listener could not be bound.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address asked for.
        addr: std::net::SocketAddr,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// A job token was refused (empty, blank, too short or badly formed).
    #[error("invalid job token: {reason}")]
    InvalidToken {
        /// Why it was refused.
        reason: &'static str,
    },
    /// The operating system's random generator failed.
    #[error("cannot generate a random token")]
    Random,
    /// Accepting a connection failed.
    #[error("cannot accept a connection")]
    Accept(#[source] io::Error),
    /// A serving thread or its tokio runtime could not be started.
    #[error("cannot start a proxy serving thread")]
    Runtime(#[source] io::Error),
}
