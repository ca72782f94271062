//! Integration tests of the audit log: writer, reader, verify, rotation, crash safety.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod crash;
#[cfg(feature = "postgres")]
mod pg;
mod reader;
mod rotation;
mod verify;
mod writer;
