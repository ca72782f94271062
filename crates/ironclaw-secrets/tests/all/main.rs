//! Integration tests of ironclaw-secrets: one behavioural suite run against
//! every backend, then backend-specific and adversarial tests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod file;
mod inject;
#[cfg(feature = "postgres")]
mod postgres;
mod suite;

use ironclaw_secrets::{ExplicitKey, KeyChain, MasterKey};

/// A fixed test key (never a real one).
pub(crate) fn key(byte: u8) -> MasterKey {
    MasterKey::from_bytes([byte; 32])
}

/// A chain holding only an explicit key.
pub(crate) fn explicit(byte: u8) -> KeyChain {
    KeyChain::new().with(ExplicitKey::new(key(byte)))
}
