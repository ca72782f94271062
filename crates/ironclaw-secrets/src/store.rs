//! The secret store: cryptography, namespaces, key resolution and rotation
//! over any [`Backend`].

use std::path::Path;
use std::sync::Mutex;

use serde::Serialize;
use time::OffsetDateTime;

use crate::backend::{Backend, KeyHeader, SealedSecret};
use crate::crypto::{self, Binding, Sealed};
use crate::error::{Error, Result};
use crate::file::FileBackend;
use crate::keys::{KeyChain, ProviderKind};
use crate::names::{validate_name, validate_namespace};
use crate::value::{MAX_SECRET_LEN, MasterKey, SecretValue};

/// How stale `last_used` may get before a read writes it again. Reads would
/// otherwise each rewrite the store.
const LAST_USED_RESOLUTION: time::Duration = time::Duration::minutes(1);

/// What `list` shows about a secret: never the value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SecretMetadata {
    /// The namespace.
    pub namespace: String,
    /// The secret's name.
    pub name: String,
    /// Incremented on every write.
    pub version: u64,
    /// When it was first written.
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
    /// When its value was last written.
    #[serde(with = "time::serde::rfc3339")]
    pub updated: OffsetDateTime,
    /// When it was last read (one-minute resolution), if ever.
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_used: Option<OffsetDateTime>,
}

/// A simulated crash point for rotation tests.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrashPoint {
    /// After the next key is staged, before the store is rewritten.
    KeyStaged,
    /// After the new store is durable, before it replaces the old one.
    StoreWritten,
    /// After the new store is in force, before the new key is promoted.
    StoreSwitched,
}

/// An encrypted secret store over a backend and a master key.
///
/// All methods take `&self` except [`SecretStore::rotate_key`]; the store is
/// `Send + Sync` and may be shared. The master key is held in memory
/// (zeroized on drop) for the life of the store, so a read costs one backend
/// read, one HKDF and one AES-GCM decryption.
#[derive(Debug)]
pub struct SecretStore {
    backend: Box<dyn Backend>,
    keys: KeyChain,
    provider: usize,
    key: MasterKey,
    header: KeyHeader,
    crash_at: Mutex<Option<CrashPoint>>,
}

impl SecretStore {
    /// Opens the file store in `dir` (for IronClaw `<home>/secrets`) with the
    /// standard key chain; `explicit` is a key the caller was given (the CLI
    /// passes `IRONCLAW_MASTER_KEY`).
    pub fn open_dir(dir: &Path, explicit: Option<MasterKey>) -> Result<Self> {
        Self::open(
            Box::new(FileBackend::new(dir)),
            KeyChain::standard(dir, explicit),
        )
    }

    /// Opens a store over any backend and key chain, creating a master key on
    /// first use and finishing a rotation that a crash interrupted.
    pub fn open(backend: Box<dyn Backend>, keys: KeyChain) -> Result<Self> {
        let stored = backend.key_header()?;
        let chosen = match (keys.first_key()?, &stored) {
            (Some(chosen), _) => chosen,
            (None, None) => keys.create()?,
            (None, Some(_)) => {
                return Err(Error::MissingKey {
                    tried: keys.tried(),
                });
            }
        };
        let provider = keys.provider(chosen.index);
        let header = match stored {
            None => {
                let ours = KeyHeader {
                    generation: 1,
                    check: crypto::key_check(&chosen.key),
                };
                backend.init_key_header(&ours)?
            }
            Some(header) => header,
        };
        let id = crypto::check_id(&header.check);
        let key = if crypto::key_matches(&chosen.key, &header.check) {
            // A rotation may have promoted the key but not yet removed the
            // staged copy; it holds the same key, so it can go.
            provider.discard(&id)?;
            chosen.key
        } else {
            // A rotation that switched the store but crashed before promoting
            // its key left the key staged under the store's fingerprint.
            match provider.load_staged(&id)? {
                Some(staged) if crypto::key_matches(&staged, &header.check) => {
                    provider.promote(&id)?;
                    staged
                }
                _ => {
                    return Err(Error::WrongKey {
                        provider: provider.kind(),
                    });
                }
            }
        };
        Ok(Self {
            backend,
            provider: chosen.index,
            keys,
            key,
            header,
            crash_at: Mutex::new(None),
        })
    }

    /// Where the master key in use came from.
    pub fn key_provider(&self) -> ProviderKind {
        self.keys.provider(self.provider).kind()
    }

    /// The key chain, for reporting which providers are available.
    pub fn key_chain(&self) -> &KeyChain {
        &self.keys
    }

    /// The backend's location (a path or a table), for messages.
    pub fn location(&self) -> String {
        self.backend.location()
    }

    /// The current master-key generation (1 for a new store, +1 per rotation).
    pub fn key_generation(&self) -> u32 {
        self.header.generation
    }

    /// Stores `value` as `name` in `namespace`, replacing an existing value.
    pub fn put(&self, namespace: &str, name: &str, value: &SecretValue) -> Result<()> {
        validate_namespace(namespace)?;
        validate_name(name)?;
        if value.is_empty() {
            return Err(Error::InvalidValue {
                name: name.to_owned(),
                reason: "it is empty",
            });
        }
        if value.len() > MAX_SECRET_LEN {
            return Err(Error::InvalidValue {
                name: name.to_owned(),
                reason: "it is longer than 64 KiB",
            });
        }
        let now = now();
        let previous = self.backend.get(namespace, name)?;
        let version = previous
            .as_ref()
            .map_or(1, |old| old.version.saturating_add(1));
        let binding = Binding {
            namespace,
            name,
            version,
            key_generation: self.header.generation,
        };
        let sealed = crypto::seal(&self.key, binding, value)?;
        self.backend.put(&SealedSecret {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            version,
            key_generation: self.header.generation,
            salt: sealed.salt,
            nonce: sealed.nonce,
            ciphertext: sealed.ciphertext,
            created: previous.map_or(now, |old| old.created),
            updated: now,
            last_used: None,
        })
    }

    /// The value of `name` in `namespace`; [`Error::NotFound`] when absent,
    /// [`Error::Tampered`] when the entry fails authentication.
    pub fn get(&self, namespace: &str, name: &str) -> Result<SecretValue> {
        validate_namespace(namespace)?;
        validate_name(name)?;
        let sealed = self
            .backend
            .get(namespace, name)?
            .ok_or_else(|| Error::NotFound {
                namespace: namespace.to_owned(),
                name: name.to_owned(),
            })?;
        let value = self.open_sealed(&sealed)?;
        let now = now();
        if sealed
            .last_used
            .is_none_or(|used| now - used >= LAST_USED_RESOLUTION)
        {
            self.backend.record_use(namespace, name, now)?;
        }
        Ok(value)
    }

    /// Whether `name` exists in `namespace` (without decrypting it).
    pub fn contains(&self, namespace: &str, name: &str) -> Result<bool> {
        validate_namespace(namespace)?;
        validate_name(name)?;
        Ok(self.backend.get(namespace, name)?.is_some())
    }

    /// Deletes `name` from `namespace`; `false` when it did not exist.
    pub fn remove(&self, namespace: &str, name: &str) -> Result<bool> {
        validate_namespace(namespace)?;
        validate_name(name)?;
        self.backend.remove(namespace, name)
    }

    /// Metadata of every secret in `namespace`, ordered by name.
    pub fn list(&self, namespace: &str) -> Result<Vec<SecretMetadata>> {
        validate_namespace(namespace)?;
        let mut secrets: Vec<SecretMetadata> = self
            .backend
            .list(namespace)?
            .into_iter()
            .map(|secret| SecretMetadata {
                namespace: secret.namespace,
                name: secret.name,
                version: secret.version,
                created: secret.created,
                updated: secret.updated,
                last_used: secret.last_used,
            })
            .collect();
        secrets.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(secrets)
    }

    /// Every current value in `namespace`, for a leak detector to scan for.
    /// Fails closed: one entry that fails authentication fails the call.
    pub fn all_values(&self, namespace: &str) -> Result<Vec<SecretValue>> {
        validate_namespace(namespace)?;
        self.backend
            .list(namespace)?
            .iter()
            .map(|sealed| self.open_sealed(sealed))
            .collect()
    }

    /// Re-encrypts every secret under a fresh master key, crash-safely.
    ///
    /// Steps: the new key is staged in the provider under its fingerprint;
    /// the whole store is re-encrypted and written durably beside the old
    /// one, then atomically switched in; the staged key is promoted. A crash
    /// before the switch leaves the old store and old key (the staged key is
    /// unused); a crash after it leaves the new store with its key staged,
    /// and the next [`SecretStore::open`] promotes it. Any entry that fails
    /// authentication aborts the rotation with nothing changed.
    pub fn rotate_key(&mut self) -> Result<()> {
        let provider = self.keys.provider(self.provider);
        let next = MasterKey::generate()?;
        let next_check = crypto::key_check(&next);
        let next_id = crypto::check_id(&next_check);
        provider.stage(&next_id, &next)?;
        self.crash_point(CrashPoint::KeyStaged)?;
        let old_key = &self.key;
        let mut new_header = None;
        let mut rewrite = |header: &KeyHeader, secrets: Vec<SealedSecret>| {
            if !crypto::key_matches(old_key, &header.check) {
                return Err(Error::KeyChanged);
            }
            let generation = header.generation.checked_add(1).ok_or(Error::KeyChanged)?;
            let mut rewritten = Vec::with_capacity(secrets.len());
            for secret in secrets {
                let value = open_with(old_key, &secret)?;
                let binding = Binding {
                    namespace: &secret.namespace,
                    name: &secret.name,
                    version: secret.version,
                    key_generation: generation,
                };
                let sealed = crypto::seal(&next, binding, &value)?;
                rewritten.push(SealedSecret {
                    key_generation: generation,
                    salt: sealed.salt,
                    nonce: sealed.nonce,
                    ciphertext: sealed.ciphertext,
                    ..secret
                });
            }
            let header = KeyHeader {
                generation,
                check: next_check.clone(),
            };
            new_header = Some(header.clone());
            Ok((header, rewritten))
        };
        let crash_at = *self
            .crash_at
            .lock()
            .map_err(|_| Error::InjectedFailure("poisoned"))?;
        let checkpoint = |point: &'static str| {
            if point == "store-written" && crash_at == Some(CrashPoint::StoreWritten) {
                return Err(Error::InjectedFailure("store-written"));
            }
            Ok(())
        };
        match self.backend.rewrite_all(&mut rewrite, &checkpoint) {
            Ok(()) => {}
            Err(err @ Error::InjectedFailure(_)) => return Err(err),
            Err(err) => {
                provider.discard(&next_id)?;
                return Err(err);
            }
        }
        let header = new_header.ok_or(Error::KeyChanged)?;
        self.crash_point(CrashPoint::StoreSwitched)?;
        provider.promote(&next_id)?;
        // The store is now under `next`; if the provider does not hold it
        // (its staged copy vanished), stage and promote it again rather than
        // lose the only copy.
        let current_is_next = provider
            .load()?
            .is_some_and(|current| crypto::key_matches(&current, &header.check));
        if !current_is_next {
            provider.stage(&next_id, &next)?;
            provider.promote(&next_id)?;
        }
        self.key = next;
        self.header = header;
        Ok(())
    }

    /// Makes the next rotation stop at `point` as if the process died there.
    #[doc(hidden)]
    pub fn crash_rotation_at(&self, point: Option<CrashPoint>) {
        if let Ok(mut slot) = self.crash_at.lock() {
            *slot = point;
        }
    }

    fn crash_point(&self, point: CrashPoint) -> Result<()> {
        match self.crash_at.lock() {
            Ok(slot) if *slot == Some(point) => Err(Error::InjectedFailure(match point {
                CrashPoint::KeyStaged => "key-staged",
                CrashPoint::StoreWritten => "store-written",
                CrashPoint::StoreSwitched => "store-switched",
            })),
            _ => Ok(()),
        }
    }

    fn open_sealed(&self, sealed: &SealedSecret) -> Result<SecretValue> {
        if sealed.key_generation != self.header.generation {
            // The store moved to a newer key after we opened it, or the entry
            // claims a generation it was not written under.
            return match self.backend.key_header()? {
                Some(current) if current != self.header => Err(Error::KeyChanged),
                _ => Err(tampered(sealed)),
            };
        }
        open_with(&self.key, sealed)
    }
}

fn open_with(key: &MasterKey, sealed: &SealedSecret) -> Result<SecretValue> {
    let binding = Binding {
        namespace: &sealed.namespace,
        name: &sealed.name,
        version: sealed.version,
        key_generation: sealed.key_generation,
    };
    let parts = Sealed {
        salt: sealed.salt.clone(),
        nonce: sealed.nonce.clone(),
        ciphertext: sealed.ciphertext.clone(),
    };
    crypto::open(key, binding, &parts).ok_or_else(|| tampered(sealed))
}

fn tampered(sealed: &SealedSecret) -> Error {
    Error::Tampered {
        namespace: sealed.namespace.clone(),
        name: sealed.name.clone(),
    }
}

fn now() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    // Millisecond precision, as in the audit log and in PostgreSQL round trips.
    now.replace_nanosecond(now.nanosecond() / 1_000_000 * 1_000_000)
        .unwrap_or(now)
}
