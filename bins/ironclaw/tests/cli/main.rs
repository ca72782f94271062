//! The `ironclaw` binary, run as a process in a temporary home for each command group.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod allowlist;
mod audit;
mod config;
mod net;
mod proxy;
mod scan;
mod secrets;
mod skill;
