//! Encrypted secret storage and credential injection for IronClaw.
//!
//! Secrets (API tokens, passwords) are encrypted at rest, never handed to
//! untrusted tools, and placed into outgoing HTTP requests only at the host
//! boundary.
//!
//! # Main types
//!
//! - [`SecretStore`]: put, get, list, remove and rotate, over a [`Backend`]
//!   and a [`KeyChain`]. Every call names a namespace; one namespace can
//!   never read, list or overwrite another's secrets.
//! - [`SecretValue`]: a value in memory, zeroized on drop, `[REDACTED]` in
//!   `Debug` and `Display`, with no `Serialize`.
//! - [`MasterKey`] and the [`KeyProvider`]s of a [`KeyChain`]: the OS
//!   keychain ([`OsKeychain`], feature `keychain`), a key given by the caller
//!   ([`ExplicitKey`]; the `ironclaw` binary passes `IRONCLAW_MASTER_KEY`),
//!   and a key file ([`KeyFile`]). [`SecretStore::key_provider`] reports which
//!   one is in use.
//! - [`FileBackend`] (the default, in `<home>/secrets`) and, with the
//!   `postgres` feature, [`PgBackend`].
//! - [`CredentialMapping`], [`CredentialLocation`] and [`SecretGrant`]:
//!   [`SecretStore::inject`] places a granted secret into an
//!   [`http::Request`].
//!
//! # Guarantees
//!
//! - Each value is encrypted with AES-256-GCM under its own key,
//!   HKDF-SHA256(master key, 32-byte random salt), with a fresh random nonce
//!   per write. The associated data binds namespace, name, version and key
//!   generation: a ciphertext edited, truncated or moved to another entry
//!   fails with [`Error::Tampered`]; a wrong master key fails with
//!   [`Error::WrongKey`] before anything is read or written.
//! - No error message, `Debug` output or serialized record contains a value.
//! - Writes are atomic and durable (file backend: temp file, fsync, rename,
//!   directory fsync, under an advisory lock; PostgreSQL: transactions).
//! - Key rotation is crash-safe: a crash at any step leaves a store that
//!   opens with the old or the new key.
//! - Injection replaces whatever the request had at the credential's
//!   location and refuses names outside the caller's grant and hosts outside
//!   the mapping's patterns.
//!
//! # Non-guarantees
//!
//! - Whole-entry deletion and rollback of an entry (or the whole store) to an
//!   older, validly encrypted copy are not detected; metadata (timestamps) is
//!   not authenticated.
//! - The key file lives beside the store: it protects copies of the store
//!   alone, not a user whose files can be read. Use the OS keychain or an
//!   explicit key for more.
//! - On Linux no persistent OS keychain is compiled in (the kernel keyutils
//!   store forgets keys at reboot and is skipped).
//! - Values exposed with [`SecretValue::expose`] and copied by the caller are
//!   the caller's to protect.
//!
//! # Example
//!
//! ```
//! use ironclaw_secrets::{CredentialLocation, CredentialMapping, SecretGrant, SecretStore, SecretValue};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let store = SecretStore::open_dir(&dir.path().join("secrets"), None)?;
//! store.put("default", "github_token", &SecretValue::from("ghp_example"))?;
//! assert_eq!(store.get("default", "github_token")?.expose(), b"ghp_example");
//!
//! let mapping = CredentialMapping {
//!     secret_name: "github_token".into(),
//!     location: CredentialLocation::Bearer,
//!     host_patterns: vec!["api.github.com".into()],
//! };
//! let mut request = http::Request::get("https://api.github.com/user").body(())?;
//! store.inject("default", &SecretGrant::new(["github_token"]), &mapping, &mut request)?;
//! assert_eq!(request.headers()["authorization"], "Bearer ghp_example");
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]

mod backend;
mod crypto;
mod error;
mod file;
mod inject;
mod keys;
mod names;
#[cfg(feature = "postgres")]
mod postgres;
mod store;
mod value;

pub use backend::{Backend, Checkpoint, KeyHeader, Rewrite, SealedSecret};
pub use error::{Error, Result};
pub use file::FileBackend;
pub use inject::{CredentialLocation, CredentialMapping, SecretGrant, apply_credential};
#[cfg(feature = "keychain")]
pub use keys::OsKeychain;
pub use keys::{Availability, ExplicitKey, KeyChain, KeyFile, KeyProvider, ProviderKind};
pub use names::{
    DEFAULT_NAMESPACE, MAX_NAME_LEN, MAX_NAMESPACE_LEN, validate_name, validate_namespace,
};
#[cfg(feature = "postgres")]
pub use postgres::PgBackend;
#[doc(hidden)]
pub use store::CrashPoint;
pub use store::{SecretMetadata, SecretStore};
pub use value::{MAX_SECRET_LEN, MasterKey, SecretValue};
