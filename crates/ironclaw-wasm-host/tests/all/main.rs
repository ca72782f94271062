//! Integration tests of the WASM host, with the example tools of
//! `examples/tools` (built by `cargo xtask tools`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod basics;
mod http;
mod imports;
mod limits;
mod support;
