//! Placeholder; replaced below.
#![deny(missing_docs)]
mod encode;
mod error;
mod leak;
mod patterns;
mod severity;

pub use encode::SecretEncoding;
pub use error::{SafetyError, SafetyErrorKind};
pub use leak::{
    KNOWN_SECRET, LeakAction, LeakDetector, LeakDetectorBuilder, LeakFinding, LeakStream,
    MIN_SECRET_LEN,
};
pub use severity::Severity;
mod injection;
mod normalize;
mod rules;
pub use injection::{
    InjectionAction, InjectionCategory, InjectionDefenseMode, InjectionFinding, InjectionPolicy,
    InjectionReport, InjectionScanner,
};
