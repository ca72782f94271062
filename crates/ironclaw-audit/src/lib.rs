//! The mandatory, tamper-evident audit log of IronClaw, usable alone by any Rust
//! program that needs a durable security audit trail.
//!
//! # Main types
//!
//! - [`Event`] (built with [`Event::builder`] from an [`EventKind`]) is one
//!   security-relevant event: session, skill, action, resource, grants, whether it was
//!   blocked, and event-specific fields.
//! - [`AuditLog`] appends events as JSON lines to a file. [`AuditLog::record`] returns
//!   only once the line is on disk; concurrent writers share one `fdatasync` (group
//!   commit). [`AuditConfig`] sets the path, rotation (`maxSizeMb`), retention
//!   (`keepDays`) and compression.
//! - [`AuditReader`] and [`Query`] read and filter; [`export`] writes JSON, JSONL or
//!   CSV; [`verify`] checks the chain and returns a [`VerifyReport`].
//! - `PgSink` (feature `postgres`) mirrors the file into PostgreSQL.
//!
//! # Line format
//!
//! One JSON object per line: `ts` (RFC 3339 UTC with milliseconds), `event`,
//! `sessionId`, `skill`, `action`, `resource`, `granted`, `blocked`, event-specific
//! fields, and last `prev`: the lowercase hex SHA-256 of the previous line's bytes
//! (newline excluded). The first line of a log chains to [`GENESIS_PREV`]; the first
//! line of a new file after rotation chains to the last line of the rotated file.
//!
//! # Guarantees
//!
//! - An event for which `record` returned `Ok` survives a process crash and, as far
//!   as the disk honours `fdatasync`, a power loss.
//! - A crash can leave at most an incomplete last line; it was never acknowledged.
//!   Opening the log cuts it off and reports it ([`OpenWarning::TornTail`]).
//! - Several processes may write one log (the daemon and a CLI command): each batch
//!   is chained and written under an exclusive `flock` on the seal file, continuing
//!   from whatever line is last on disk.
//! - Files are created with mode 0600; a looser existing mode is reported
//!   ([`OpenWarning::LooseMode`]). The log is never written through a symlink.
//! - The builder refuses content-bearing and secret-bearing field names and oversized
//!   strings, so message content and secret values are not logged by accident.
//! - Timestamps never go backwards within a log, even when the clock does or when
//!   several processes write it (each batch starts from the last `ts` on disk).
//! - [`verify`] finds edited, inserted, deleted and reordered lines and names the
//!   first bad one; a seal file (`<log>.seal`, the durable length and last-line hash
//!   of the live file, rewritten after every sync) lets it notice lines cut from the
//!   end. A writer opening a log that no longer matches its seal records an
//!   `AUDIT_INTEGRITY` event, which verify keeps reporting.
//! - [`AuditReader`] reads the live file and rotated (gzip) files; `last N` reads
//!   backwards from the end; [`Follower`] follows across rotations.
//!
//! # Non-guarantees
//!
//! - The chain makes edits, insertions, deletions and reordering detectable, not
//!   impossible. Someone who can rewrite the files can rewrite the whole chain and
//!   the seal consistently; an external copy (the Postgres sink, or a `prev` hash
//!   written down elsewhere) is the defence against that. Deleting the oldest rotated
//!   files looks like retention.
//! - A write or sync failure closes the log (fail closed); it does not retry.
//! - Timestamps are taken when a batch is written, so an event's `ts` may be a few
//!   milliseconds after the moment `record` was called.
//!
//! # Example
//!
//! ```
//! use ironclaw_audit::{AuditConfig, AuditLog, Event, EventKind};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let log = AuditLog::open(AuditConfig::new(dir.path().join("audit.log")))?;
//! for warning in log.warnings() {
//!     eprintln!("{warning}");
//! }
//! log.record(
//!     Event::builder(EventKind::AllowlistViolation)
//!         .session_id("sess_7fxQ3")
//!         .skill("himalaya")
//!         .action("network")
//!         .resource("attacker.io:80")
//!         .granted(["imap.gmail.com:993", "smtp.gmail.com:587"])
//!         .blocked(true)
//!         .build()?,
//! )?;
//! # Ok(())
//! # }
//! ```
//!
//! From async code, `record` blocks: call it via `tokio::task::spawn_blocking` with a
//! clone of the log.
#![deny(missing_docs)]

// The README's example is compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

mod chain;
mod error;
mod event;
mod layout;
#[cfg(feature = "postgres")]
mod pg;
mod reader;
mod verify;
mod writer;

pub use chain::GENESIS_PREV;
pub use error::{AuditError, AuditErrorKind};
pub use event::{
    Event, EventBuilder, EventKind, MAX_EVENT_BYTES, MAX_EXTRA_FIELDS, MAX_FIELD_BYTES,
};
#[cfg(feature = "postgres")]
pub use pg::{DEFAULT_BATCH, MIGRATION_SQL, PgSink};
pub use reader::{AuditReader, AuditRecord, ExportFormat, Follower, LogFile, Query, export};
pub use verify::{Finding, FindingKind, VerifyReport, verify};
pub use writer::{AuditConfig, AuditLog, OpenWarning};
