//! Severity levels shared by leak and injection findings.

use std::fmt;

/// How serious a finding is. Ordered: `Low < Medium < High < Critical`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Weak signal; worth a note.
    Low,
    /// Plausible attack or exposure.
    Medium,
    /// Likely attack or exposure.
    High,
    /// Near-certain attack or exposure of a live credential.
    Critical,
}

impl Severity {
    /// The stable lowercase name (`low`, `medium`, `high`, `critical`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
