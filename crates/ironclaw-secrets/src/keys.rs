//! Master-key providers and the chain that picks one.
//!
//! The standard chain, in order: the OS keychain (when a persistent one is
//! compiled in and reachable), a key given explicitly by the caller (the
//! binary reads `IRONCLAW_MASTER_KEY`; this library reads no environment),
//! and a key file `master.key` (mode 0600) in the store directory, created on
//! first use. The first provider that holds a key is used; if none does and
//! the store is new, a key is created in the first provider able to create
//! one. A provider whose key does not match the store is an error, never a
//! reason to try the next one: a misconfigured key must not be hidden.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::file::sync_dir;
use crate::value::MasterKey;

/// Where the master key in use came from (for `ironclaw doctor`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ProviderKind {
    /// The operating system's keychain.
    Keychain,
    /// A key the caller passed in (for the CLI: `IRONCLAW_MASTER_KEY`).
    Explicit,
    /// The key file in the store directory.
    KeyFile,
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Keychain => "os keychain",
            Self::Explicit => "explicit master key",
            Self::KeyFile => "master key file",
        })
    }
}

/// Whether a provider can be used on this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Availability {
    /// Usable.
    Available,
    /// Skipped by the chain, with the reason.
    Unavailable(String),
}

/// A source of the master key.
///
/// Rotation uses a staging slot named by a public key identifier: `stage`
/// stores the next key beside the current one, `promote` makes it current,
/// `discard` forgets it. Each step must be durable before it returns.
pub trait KeyProvider: fmt::Debug + Send + Sync {
    /// Which kind of provider this is.
    fn kind(&self) -> ProviderKind;
    /// Whether the provider can be used here at all.
    fn availability(&self) -> Availability {
        Availability::Available
    }
    /// The current key, or `None` when the provider holds none.
    fn load(&self) -> Result<Option<MasterKey>>;
    /// Creates, stores and returns a new key; `None` when this provider
    /// cannot create keys.
    fn create(&self) -> Result<Option<MasterKey>>;
    /// Durably stores `key` as the staged key `id`.
    fn stage(&self, id: &str, key: &MasterKey) -> Result<()>;
    /// The staged key `id`, if present.
    fn load_staged(&self, id: &str) -> Result<Option<MasterKey>>;
    /// Makes the staged key `id` current. Succeeds when it is already current.
    fn promote(&self, id: &str) -> Result<()>;
    /// Forgets the staged key `id`, if present.
    fn discard(&self, id: &str) -> Result<()>;
}

/// A key given by the caller, for example from `IRONCLAW_MASTER_KEY`.
///
/// It cannot create or rotate keys: the caller owns it.
#[derive(Debug)]
pub struct ExplicitKey {
    key: MasterKey,
}

impl ExplicitKey {
    /// Wraps the caller's key.
    pub fn new(key: MasterKey) -> Self {
        Self { key }
    }
}

impl KeyProvider for ExplicitKey {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Explicit
    }
    fn load(&self) -> Result<Option<MasterKey>> {
        Ok(Some(self.key.duplicate()))
    }
    fn create(&self) -> Result<Option<MasterKey>> {
        Ok(None)
    }
    fn stage(&self, _id: &str, _key: &MasterKey) -> Result<()> {
        Err(Error::RotationUnsupported {
            provider: ProviderKind::Explicit,
            hint: "an explicitly given key is owned by the caller and cannot be replaced by the store",
        })
    }
    fn load_staged(&self, _id: &str) -> Result<Option<MasterKey>> {
        Ok(None)
    }
    fn promote(&self, _id: &str) -> Result<()> {
        Ok(())
    }
    fn discard(&self, _id: &str) -> Result<()> {
        Ok(())
    }
}

/// The fallback provider: `master.key` in the store directory, mode 0600,
/// holding the key as 64 hexadecimal characters.
///
/// Threat: it protects the store against copies that leave the key file
/// behind (backups of the store alone, a leaked database) but not against
/// someone who can read the user's files. A file with any group or other
/// permission bit is refused.
#[derive(Debug, Clone)]
pub struct KeyFile {
    dir: PathBuf,
}

impl KeyFile {
    /// The key file provider for `dir` (the store directory).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The path of the current key file.
    pub fn path(&self) -> PathBuf {
        self.dir.join("master.key")
    }

    fn staged_path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("master.key.next-{id}"))
    }

    fn read_key(path: &Path) -> Result<Option<MasterKey>> {
        let mut file = match File::open(path) {
            Ok(file) => file,
            Err(err) if err.kind() == ErrorKind::NotFound => return Ok(None),
            Err(err) => return Err(Error::io("cannot open", path, err)),
        };
        let mode = file
            .metadata()
            .map_err(|err| Error::io("cannot stat", path, err))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(Error::InsecurePermissions {
                path: path.to_owned(),
                mode: mode & 0o7777,
            });
        }
        let mut text = Zeroizing::new(String::new());
        file.read_to_string(&mut text)
            .map_err(|err| Error::io("cannot read", path, err))?;
        MasterKey::parse(&text)
            .map(Some)
            .map_err(|err| Error::Corrupted {
                location: path.display().to_string(),
                reason: err.to_string(),
            })
    }

    fn write_new(&self, path: &Path, key: &MasterKey) -> Result<()> {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(|err| Error::io("cannot create", path, err))?;
        let mut text = key.to_hex();
        text.push('\n');
        file.write_all(text.as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(|err| Error::io("cannot write", path, err))
    }

    fn ensure_dir(&self) -> Result<()> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)
            .map_err(|err| Error::io("cannot create directory", &self.dir, err))
    }
}

impl KeyProvider for KeyFile {
    fn kind(&self) -> ProviderKind {
        ProviderKind::KeyFile
    }

    fn load(&self) -> Result<Option<MasterKey>> {
        Self::read_key(&self.path())
    }

    fn create(&self) -> Result<Option<MasterKey>> {
        self.ensure_dir()?;
        let key = MasterKey::generate()?;
        let mut suffix = [0u8; 8];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut suffix)
            .map_err(|_| Error::Random)?;
        let temp = self
            .dir
            .join(format!("master.key.tmp-{}", hex::encode(suffix)));
        self.write_new(&temp, &key)?;
        // A hard link appears atomically with its full contents and fails if
        // the target exists, so two processes creating the key at once agree
        // on one key.
        let linked = fs::hard_link(&temp, self.path());
        let _ignored = fs::remove_file(&temp);
        match linked {
            Ok(()) => {
                sync_dir(&self.dir)?;
                Ok(Some(key))
            }
            Err(err) if err.kind() == ErrorKind::AlreadyExists => self.load(),
            Err(err) => Err(Error::io("cannot create", self.path(), err)),
        }
    }

    fn stage(&self, id: &str, key: &MasterKey) -> Result<()> {
        self.ensure_dir()?;
        let path = self.staged_path(id);
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(err) if err.kind() == ErrorKind::NotFound => {}
            Err(err) => return Err(Error::io("cannot remove", path, err)),
        }
        self.write_new(&path, key)?;
        sync_dir(&self.dir)
    }

    fn load_staged(&self, id: &str) -> Result<Option<MasterKey>> {
        Self::read_key(&self.staged_path(id))
    }

    fn promote(&self, id: &str) -> Result<()> {
        let staged = self.staged_path(id);
        match fs::rename(&staged, self.path()) {
            Ok(()) => sync_dir(&self.dir),
            Err(err) if err.kind() == ErrorKind::NotFound => Ok(()),
            Err(err) => Err(Error::io("cannot promote", staged, err)),
        }
    }

    fn discard(&self, id: &str) -> Result<()> {
        let staged = self.staged_path(id);
        match fs::remove_file(&staged) {
            Ok(()) => sync_dir(&self.dir),
            Err(err) if err.kind() == ErrorKind::NotFound => Ok(()),
            Err(err) => Err(Error::io("cannot remove", staged, err)),
        }
    }
}

/// The operating system's keychain through the `keyring` crate.
///
/// Compiled backends: macOS Keychain, Windows Credential Manager, and on
/// Linux the kernel keyutils store. Keyutils forgets everything at reboot,
/// which would lose every secret, so it is reported as unavailable and the
/// chain falls through; no persistent Linux keychain (Secret Service over
/// D-Bus) is compiled in.
#[cfg(feature = "keychain")]
#[derive(Debug, Clone)]
pub struct OsKeychain {
    service: String,
    account: String,
}

#[cfg(feature = "keychain")]
impl OsKeychain {
    /// The keychain entry `service`/`account`; use one account per store.
    pub fn new(service: impl Into<String>, account: impl Into<String>) -> Self {
        Self {
            service: service.into(),
            account: account.into(),
        }
    }

    fn entry(&self, suffix: &str) -> Result<keyring::Entry> {
        let account = format!("{}{suffix}", self.account);
        keyring::Entry::new(&self.service, &account).map_err(|source| Error::Keychain {
            entry: account,
            source,
        })
    }

    fn read(&self, suffix: &str) -> Result<Option<MasterKey>> {
        let entry = self.entry(suffix)?;
        match entry.get_password() {
            Ok(text) => {
                let text = Zeroizing::new(text);
                MasterKey::parse(&text).map(Some)
            }
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(source) => Err(Error::Keychain {
                entry: format!("{}{suffix}", self.account),
                source,
            }),
        }
    }

    fn write(&self, suffix: &str, key: &MasterKey) -> Result<()> {
        self.entry(suffix)?
            .set_password(&key.to_hex())
            .map_err(|source| Error::Keychain {
                entry: format!("{}{suffix}", self.account),
                source,
            })
    }

    fn delete(&self, suffix: &str) -> Result<()> {
        match self.entry(suffix)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(source) => Err(Error::Keychain {
                entry: format!("{}{suffix}", self.account),
                source,
            }),
        }
    }
}

#[cfg(feature = "keychain")]
impl KeyProvider for OsKeychain {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Keychain
    }

    fn availability(&self) -> Availability {
        use keyring::credential::CredentialPersistence;
        match keyring::default::default_credential_builder().persistence() {
            CredentialPersistence::UntilDelete => Availability::Available,
            CredentialPersistence::UntilReboot => Availability::Unavailable(
                "only the kernel keyutils store is available, and it does not survive a reboot"
                    .to_owned(),
            ),
            _ => Availability::Unavailable(
                "no persistent os keychain is available on this platform".to_owned(),
            ),
        }
    }

    fn load(&self) -> Result<Option<MasterKey>> {
        self.read("")
    }

    fn create(&self) -> Result<Option<MasterKey>> {
        let key = MasterKey::generate()?;
        self.write("", &key)?;
        Ok(Some(key))
    }

    fn stage(&self, id: &str, key: &MasterKey) -> Result<()> {
        self.write(&format!(".next-{id}"), key)
    }

    fn load_staged(&self, id: &str) -> Result<Option<MasterKey>> {
        self.read(&format!(".next-{id}"))
    }

    fn promote(&self, id: &str) -> Result<()> {
        // Write the current entry first; the staged entry is deleted only
        // once the current one holds the new key.
        if let Some(key) = self.load_staged(id)? {
            self.write("", &key)?;
        }
        self.delete(&format!(".next-{id}"))
    }

    fn discard(&self, id: &str) -> Result<()> {
        self.delete(&format!(".next-{id}"))
    }
}

/// An ordered list of key providers; see the module documentation.
#[derive(Debug, Default)]
pub struct KeyChain {
    providers: Vec<Box<dyn KeyProvider>>,
}

/// The key a chain chose and where it came from.
#[derive(Debug)]
pub(crate) struct ChosenKey {
    pub(crate) index: usize,
    pub(crate) key: MasterKey,
}

impl KeyChain {
    /// An empty chain; add providers with [`KeyChain::with`].
    pub fn new() -> Self {
        Self::default()
    }

    /// The standard chain for a store in `dir`: the OS keychain (with the
    /// `keychain` feature, when persistent), then `explicit` if given, then
    /// the key file `dir/master.key`.
    pub fn standard(dir: &Path, explicit: Option<MasterKey>) -> Self {
        let mut chain = Self::new();
        #[cfg(feature = "keychain")]
        {
            chain = chain.with(OsKeychain::new(
                "ironclaw-secrets",
                format!("master-key:{}", dir.display()),
            ));
        }
        if let Some(key) = explicit {
            chain = chain.with(ExplicitKey::new(key));
        }
        chain.with(KeyFile::new(dir))
    }

    /// Appends a provider.
    #[must_use]
    pub fn with(mut self, provider: impl KeyProvider + 'static) -> Self {
        self.providers.push(Box::new(provider));
        self
    }

    /// Every provider and whether it can be used here.
    pub fn report(&self) -> Vec<(ProviderKind, Availability)> {
        self.providers
            .iter()
            .map(|provider| (provider.kind(), provider.availability()))
            .collect()
    }

    pub(crate) fn provider(&self, index: usize) -> &dyn KeyProvider {
        self.providers[index].as_ref()
    }

    fn available(&self) -> impl Iterator<Item = (usize, &dyn KeyProvider)> {
        self.providers
            .iter()
            .enumerate()
            .filter(|(_, provider)| provider.availability() == Availability::Available)
            .map(|(index, provider)| (index, provider.as_ref()))
    }

    /// The first available provider holding a key, with its key.
    pub(crate) fn first_key(&self) -> Result<Option<ChosenKey>> {
        for (index, provider) in self.available() {
            if let Some(key) = provider.load()? {
                return Ok(Some(ChosenKey { index, key }));
            }
        }
        Ok(None)
    }

    /// Creates a key in the first available provider able to create one.
    pub(crate) fn create(&self) -> Result<ChosenKey> {
        for (index, provider) in self.available() {
            if let Some(key) = provider.create()? {
                return Ok(ChosenKey { index, key });
            }
        }
        Err(Error::MissingKey {
            tried: self.tried(),
        })
    }

    pub(crate) fn tried(&self) -> String {
        let names: Vec<String> = self
            .providers
            .iter()
            .map(|provider| provider.kind().to_string())
            .collect();
        if names.is_empty() {
            "no providers".to_owned()
        } else {
            names.join(", ")
        }
    }
}
