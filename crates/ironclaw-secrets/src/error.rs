//! The error type of the secret store. No variant ever carries a secret value.

use std::path::PathBuf;

use crate::keys::ProviderKind;

/// Everything that can go wrong in the secret store or during injection.
///
/// Messages name the secret, namespace, file or provider concerned and never
/// contain a secret value or key material. Callers branch on the variant.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A namespace or secret name breaks the naming rules.
    #[error("invalid {what} {name:?}: {reason}")]
    InvalidName {
        /// `"namespace"` or `"secret name"`.
        what: &'static str,
        /// The rejected name (names are not secret).
        name: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// The secret does not exist in this namespace.
    #[error("secret {name:?} not found in namespace {namespace:?}")]
    NotFound {
        /// The namespace searched.
        namespace: String,
        /// The missing secret.
        name: String,
    },
    /// A secret value is empty or larger than [`crate::MAX_SECRET_LEN`].
    #[error("secret {name:?} has an invalid value: {reason}")]
    InvalidValue {
        /// The secret concerned.
        name: String,
        /// Why the value was rejected.
        reason: &'static str,
    },
    /// The master key does not open this store.
    #[error(
        "wrong master key: the key from the {provider} does not match the key this store was encrypted with"
    )]
    WrongKey {
        /// Where the rejected key came from.
        provider: ProviderKind,
    },
    /// The store holds secrets but no provider has a master key for it.
    #[error(
        "no master key found for the existing secret store (tried: {tried}); restore the key or set it explicitly"
    )]
    MissingKey {
        /// The providers that were asked.
        tried: String,
    },
    /// A stored secret failed authentication: its ciphertext, salt, nonce or
    /// binding was modified, truncated or moved from another entry.
    #[error(
        "secret {name:?} in namespace {namespace:?} failed authentication: the stored ciphertext was modified, truncated or moved from another entry"
    )]
    Tampered {
        /// The namespace of the entry.
        namespace: String,
        /// The secret whose entry is damaged.
        name: String,
    },
    /// The store itself cannot be parsed (truncated, edited, wrong format).
    #[error("corrupted secret store {location}: {reason}")]
    Corrupted {
        /// The file or table concerned.
        location: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The master key text is malformed.
    #[error("invalid master key: {reason}")]
    InvalidMasterKey {
        /// What is wrong with it (never the key itself).
        reason: &'static str,
    },
    /// A key or store file is readable by other users.
    #[error(
        "{path} has mode {mode:04o}, which lets other users read it; run `chmod 600 {path}` and retry"
    )]
    InsecurePermissions {
        /// The file with the loose mode.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// Another process rotated the master key after this store was opened.
    #[error("the master key was rotated by another process; reopen the secret store")]
    KeyChanged,
    /// The provider of the current key cannot store a new one.
    #[error("the {provider} cannot rotate the master key; {hint}")]
    RotationUnsupported {
        /// The provider in use.
        provider: ProviderKind,
        /// What to do instead.
        hint: &'static str,
    },
    /// The caller's grant does not name this secret.
    #[error("secret {name:?} is not in the grant of this caller")]
    NotGranted {
        /// The secret that was asked for.
        name: String,
    },
    /// The request goes to a host the credential mapping does not allow.
    #[error("credential {name:?} may not be sent to host {host:?}")]
    HostNotAllowed {
        /// The secret concerned.
        name: String,
        /// The request's host (empty when it has none).
        host: String,
    },
    /// The credential cannot be placed in the request (for example a value
    /// with a line break in a header, or a forbidden header name).
    #[error("cannot inject secret {name:?}: {reason}")]
    Injection {
        /// The secret concerned.
        name: String,
        /// Why (never the value).
        reason: String,
    },
    /// A file operation failed.
    #[error("{action} {path}")]
    Io {
        /// What was being done, e.g. "cannot write".
        action: &'static str,
        /// The file concerned.
        path: PathBuf,
        /// The operating system error.
        source: std::io::Error,
    },
    /// The OS keychain failed.
    #[cfg(feature = "keychain")]
    #[error("os keychain error for entry {entry:?}")]
    Keychain {
        /// The keychain entry concerned.
        entry: String,
        /// The keychain's error.
        source: keyring::Error,
    },
    /// A PostgreSQL operation failed.
    #[cfg(feature = "postgres")]
    #[error("postgres secret store: {action}")]
    Postgres {
        /// What was being done.
        action: &'static str,
        /// The driver's error.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The system random number generator failed.
    #[error("the system random number generator failed")]
    Random,
    /// A simulated crash from a test failure hook.
    #[doc(hidden)]
    #[error("injected failure at {0}")]
    InjectedFailure(&'static str),
}

impl Error {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        Self::Io {
            action,
            path: path.into(),
            source,
        }
    }
}

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
