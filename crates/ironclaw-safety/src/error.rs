//! The crate's error type.

/// What went wrong, for callers that branch on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SafetyErrorKind {
    /// A registered secret was too short to be matched without false positives.
    SecretTooShort,
    /// A matcher could not be built (an internal pattern failed to compile).
    Build,
    /// The operating system's random number generator failed.
    Random,
    /// A leak was found and the policy says to return an error.
    LeakDetected,
    /// Injection defense is in block mode and the content was flagged.
    InjectionBlocked,
}

/// An error from this crate. Messages never contain secret values or scanned content.
#[derive(Debug, thiserror::Error)]
pub enum SafetyError {
    /// A registered secret was shorter than [`crate::MIN_SECRET_LEN`] bytes.
    #[error("known secret #{index} is shorter than {min} bytes")]
    SecretTooShort {
        /// Position of the secret in registration order (0-based).
        index: usize,
        /// The minimum length.
        min: usize,
    },
    /// A matcher could not be built.
    #[error("cannot build the {what} matcher")]
    Build {
        /// Which matcher.
        what: &'static str,
        /// The underlying error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The system random number generator failed.
    #[error("the system random number generator failed")]
    Random,
    /// A leak was detected and the policy action is [`crate::LeakAction::Error`].
    #[error("possible secret leak detected ({kinds})")]
    LeakDetected {
        /// Comma-separated kinds of the findings (never the values).
        kinds: String,
    },
    /// Injection defense is in block mode and the content was flagged.
    #[error("content blocked by injection defense ({categories})")]
    InjectionBlocked {
        /// Comma-separated categories of the findings.
        categories: String,
    },
}

impl SafetyError {
    /// The kind of error, for branching.
    pub fn kind(&self) -> SafetyErrorKind {
        match self {
            Self::SecretTooShort { .. } => SafetyErrorKind::SecretTooShort,
            Self::Build { .. } => SafetyErrorKind::Build,
            Self::Random => SafetyErrorKind::Random,
            Self::LeakDetected { .. } => SafetyErrorKind::LeakDetected,
            Self::InjectionBlocked { .. } => SafetyErrorKind::InjectionBlocked,
        }
    }
}
