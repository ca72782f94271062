//! The mandatory audit log of IronClaw.
#![deny(missing_docs)]
