#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Integration tests: evaluation sets, bypass tables and property tests.

mod evalsets;
mod fs;
mod net;
