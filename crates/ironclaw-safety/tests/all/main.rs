//! Integration tests for ironclaw-safety: behaviour, properties and evaluation.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod eval;
mod injection;
mod leak;
mod props;
