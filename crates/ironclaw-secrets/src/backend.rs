//! The storage backend trait and the records backends store.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::error::Result;

/// One encrypted secret as a backend stores it. It holds no plaintext: only
/// the metadata, the per-secret salt, the nonce and the AES-GCM ciphertext.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SealedSecret {
    /// The namespace the secret belongs to.
    pub namespace: String,
    /// The secret's name, unique within the namespace.
    pub name: String,
    /// Incremented on every write; bound into the ciphertext.
    pub version: u64,
    /// The master-key generation it is encrypted under; bound into the ciphertext.
    pub key_generation: u32,
    /// The per-secret HKDF salt.
    #[serde(with = "base64_bytes")]
    pub salt: Vec<u8>,
    /// The AES-GCM nonce.
    #[serde(with = "base64_bytes")]
    pub nonce: Vec<u8>,
    /// The AES-GCM ciphertext with its tag.
    #[serde(with = "base64_bytes")]
    pub ciphertext: Vec<u8>,
    /// When the secret was first written.
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
    /// When the value was last written.
    #[serde(with = "time::serde::rfc3339")]
    pub updated: OffsetDateTime,
    /// When the value was last read (one-minute resolution), if ever.
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub last_used: Option<OffsetDateTime>,
}

/// Which master key a store is encrypted under: a generation counter and a
/// public fingerprint of the key (an HMAC of a fixed label).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyHeader {
    /// Starts at 1 and grows by one on every rotation.
    pub generation: u32,
    /// The fingerprint of the master key.
    #[serde(with = "base64_bytes")]
    pub check: Vec<u8>,
}

/// A rewrite of the whole store under a new key: given the current header
/// and every secret, returns the new header and every re-encrypted secret.
pub type Rewrite<'a> =
    dyn FnMut(&KeyHeader, Vec<SealedSecret>) -> Result<(KeyHeader, Vec<SealedSecret>)> + 'a;

/// A named point in a multi-step write at which a test may simulate a crash.
pub type Checkpoint<'a> = dyn Fn(&'static str) -> Result<()> + 'a;

/// Where sealed secrets live. Implementations store and return records
/// verbatim; all cryptography happens in [`crate::SecretStore`].
///
/// The API is blocking. Every method is atomic with respect to other
/// processes using the same store: a reader sees a whole store before or
/// after a write, never a mix.
pub trait Backend: fmt::Debug + Send + Sync {
    /// A human-readable location for messages (a path or a database table).
    fn location(&self) -> String;

    /// The key header, or `None` for a store that was never written.
    fn key_header(&self) -> Result<Option<KeyHeader>>;

    /// Sets the key header if the store has none, and returns the header now
    /// in force (another process may have set it first).
    fn init_key_header(&self, header: &KeyHeader) -> Result<KeyHeader>;

    /// One secret, or `None` when it does not exist.
    fn get(&self, namespace: &str, name: &str) -> Result<Option<SealedSecret>>;

    /// Inserts or replaces a secret. Fails with [`crate::Error::KeyChanged`]
    /// when the store's key generation differs from `secret.key_generation`.
    fn put(&self, secret: &SealedSecret) -> Result<()>;

    /// Deletes a secret; `false` when it did not exist.
    fn remove(&self, namespace: &str, name: &str) -> Result<bool>;

    /// Every secret in one namespace, ordered by name.
    fn list(&self, namespace: &str) -> Result<Vec<SealedSecret>>;

    /// Records that a secret was read at `when`.
    fn record_use(&self, namespace: &str, name: &str, when: OffsetDateTime) -> Result<()>;

    /// Atomically replaces the header and every secret (key rotation). The
    /// rewrite runs while the store is locked against other writers; the
    /// checkpoint is called with `"store-written"` once the new store is
    /// durable but not yet in force.
    fn rewrite_all(&self, rewrite: &mut Rewrite<'_>, checkpoint: &Checkpoint<'_>) -> Result<()>;
}

mod base64_bytes {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&STANDARD.encode(bytes))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(deserializer)?;
        STANDARD
            .decode(text.as_bytes())
            .map_err(|_| serde::de::Error::custom("invalid base64"))
    }
}
