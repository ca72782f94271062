//! The file backend: one JSON document of sealed secrets in a directory.
//!
//! Layout of the directory (created mode 0700):
//! - `store.json` (mode 0600): the key header and every sealed secret;
//! - `store.lock` (mode 0600): an advisory lock file; readers take a shared
//!   lock, writers an exclusive one, so concurrent processes never lose an
//!   update or see a half-written store;
//! - `store.json.tmp-*`: a new store being written; a crash can leave one
//!   behind and the next writer deletes it.
//!
//! Every write is: read the store, change it in memory, write a temporary
//! file, fsync it, rename it over `store.json`, fsync the directory.

use std::collections::BTreeSet;
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::backend::{Backend, Checkpoint, KeyHeader, Rewrite, SealedSecret};
use crate::error::{Error, Result};
use crate::names::{validate_name, validate_namespace};

const STORE_FILE: &str = "store.json";
const LOCK_FILE: &str = "store.lock";
const TEMP_PREFIX: &str = "store.json.tmp-";
const FORMAT: &str = "ironclaw-secrets/1";

/// The embedded default backend: a directory holding one encrypted store file.
#[derive(Debug, Clone)]
pub struct FileBackend {
    dir: PathBuf,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Document {
    format: String,
    key: Option<KeyHeader>,
    secrets: Vec<SealedSecret>,
}

impl FileBackend {
    /// A backend over `dir` (for IronClaw, `<home>/secrets`). Nothing is
    /// created until the first write.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The directory of the store.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The path of the store file.
    pub fn store_path(&self) -> PathBuf {
        self.dir.join(STORE_FILE)
    }

    fn lock(&self, exclusive: bool) -> Result<Option<File>> {
        let path = self.dir.join(LOCK_FILE);
        if !exclusive && !self.dir.exists() {
            return Ok(None);
        }
        if exclusive {
            create_private_dir(&self.dir)?;
        }
        let file = match OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
        {
            Ok(file) => file,
            // A read-only directory can still be read without a lock file.
            Err(err) if !exclusive && err.kind() == ErrorKind::PermissionDenied => return Ok(None),
            Err(err) => return Err(Error::io("cannot open the lock file", path, err)),
        };
        let locked = if exclusive {
            file.lock()
        } else {
            file.lock_shared()
        };
        locked.map_err(|err| Error::io("cannot lock", &path, err))?;
        Ok(Some(file))
    }

    fn read(&self) -> Result<Document> {
        let path = self.store_path();
        let mut file = match File::open(&path) {
            Ok(file) => file,
            Err(err) if err.kind() == ErrorKind::NotFound => {
                return Ok(Document {
                    format: FORMAT.to_owned(),
                    ..Document::default()
                });
            }
            Err(err) => return Err(Error::io("cannot open", path, err)),
        };
        let mode = file
            .metadata()
            .map_err(|err| Error::io("cannot stat", &path, err))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(Error::InsecurePermissions {
                path,
                mode: mode & 0o7777,
            });
        }
        let mut text = Vec::new();
        file.read_to_end(&mut text)
            .map_err(|err| Error::io("cannot read", &path, err))?;
        parse_document(&text).map_err(|reason| Error::Corrupted {
            location: path.display().to_string(),
            reason,
        })
    }

    fn write(&self, document: &Document, checkpoint: &Checkpoint<'_>) -> Result<()> {
        let text = serde_json::to_vec_pretty(document).map_err(|err| Error::Corrupted {
            location: self.store_path().display().to_string(),
            reason: format!("cannot serialize: {err}"),
        })?;
        self.remove_stale_temps();
        let mut suffix = [0u8; 8];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut suffix)
            .map_err(|_| Error::Random)?;
        let temp = self
            .dir
            .join(format!("{TEMP_PREFIX}{}", hex::encode(suffix)));
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temp)
            .map_err(|err| Error::io("cannot create", &temp, err))?;
        file.write_all(&text)
            .and_then(|()| file.sync_all())
            .map_err(|err| Error::io("cannot write", &temp, err))?;
        drop(file);
        checkpoint("store-written")?;
        let path = self.store_path();
        fs::rename(&temp, &path).map_err(|err| Error::io("cannot replace", &path, err))?;
        sync_dir(&self.dir)
    }

    fn remove_stale_temps(&self) {
        // Called under the exclusive lock, so no other writer owns a temp file.
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return;
        };
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
                let _ignored = fs::remove_file(entry.path());
            }
        }
    }

    fn modify<T>(&self, change: impl FnOnce(&mut Document) -> Result<(T, bool)>) -> Result<T> {
        let _lock = self.lock(true)?;
        let mut document = self.read()?;
        let (result, changed) = change(&mut document)?;
        if changed {
            self.write(&document, &|_| Ok(()))?;
        }
        Ok(result)
    }

    fn snapshot(&self) -> Result<Document> {
        let _lock = self.lock(false)?;
        self.read()
    }
}

fn parse_document(text: &[u8]) -> Result<Document, String> {
    // serde_json messages may quote fragments of the input; the store holds
    // only ciphertext, but report the position and category alone anyway.
    let document: Document = serde_json::from_slice(text).map_err(|err| {
        format!(
            "invalid JSON ({:?}) at line {} column {}",
            err.classify(),
            err.line(),
            err.column()
        )
        .to_lowercase()
    })?;
    if document.format != FORMAT {
        return Err(format!("unknown format {:?}", document.format));
    }
    let mut seen = BTreeSet::new();
    for secret in &document.secrets {
        let label = format!("{}/{}", secret.namespace, secret.name);
        if validate_namespace(&secret.namespace).is_err() || validate_name(&secret.name).is_err() {
            return Err(format!("entry {label:?} has an invalid name"));
        }
        if !seen.insert((secret.namespace.as_str(), secret.name.as_str())) {
            return Err(format!("entry {label:?} appears twice"));
        }
    }
    if !document.secrets.is_empty() && document.key.is_none() {
        return Err("secrets without a key header".to_owned());
    }
    Ok(document)
}

fn create_private_dir(dir: &Path) -> Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|err| Error::io("cannot create directory", dir, err))
}

pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|handle| handle.sync_all())
        .map_err(|err| Error::io("cannot sync directory", dir, err))
}

impl Backend for FileBackend {
    fn location(&self) -> String {
        self.store_path().display().to_string()
    }

    fn key_header(&self) -> Result<Option<KeyHeader>> {
        Ok(self.snapshot()?.key)
    }

    fn init_key_header(&self, header: &KeyHeader) -> Result<KeyHeader> {
        self.modify(|document| match &document.key {
            Some(existing) => Ok((existing.clone(), false)),
            None => {
                document.key = Some(header.clone());
                Ok((header.clone(), true))
            }
        })
    }

    fn get(&self, namespace: &str, name: &str) -> Result<Option<SealedSecret>> {
        Ok(self
            .snapshot()?
            .secrets
            .into_iter()
            .find(|secret| secret.namespace == namespace && secret.name == name))
    }

    fn put(&self, secret: &SealedSecret) -> Result<()> {
        self.modify(|document| {
            if document.key.as_ref().map(|key| key.generation) != Some(secret.key_generation) {
                return Err(Error::KeyChanged);
            }
            document.secrets.retain(|other| {
                !(other.namespace == secret.namespace && other.name == secret.name)
            });
            document.secrets.push(secret.clone());
            document
                .secrets
                .sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
            Ok(((), true))
        })
    }

    fn remove(&self, namespace: &str, name: &str) -> Result<bool> {
        if !self.store_path().exists() {
            return Ok(false);
        }
        self.modify(|document| {
            let before = document.secrets.len();
            document
                .secrets
                .retain(|other| !(other.namespace == namespace && other.name == name));
            let removed = document.secrets.len() != before;
            Ok((removed, removed))
        })
    }

    fn list(&self, namespace: &str) -> Result<Vec<SealedSecret>> {
        Ok(self
            .snapshot()?
            .secrets
            .into_iter()
            .filter(|secret| secret.namespace == namespace)
            .collect())
    }

    fn record_use(&self, namespace: &str, name: &str, when: OffsetDateTime) -> Result<()> {
        self.modify(|document| {
            let entry = document
                .secrets
                .iter_mut()
                .find(|secret| secret.namespace == namespace && secret.name == name);
            match entry {
                Some(secret) => {
                    secret.last_used = Some(when);
                    Ok(((), true))
                }
                None => Ok(((), false)),
            }
        })
    }

    fn rewrite_all(&self, rewrite: &mut Rewrite<'_>, checkpoint: &Checkpoint<'_>) -> Result<()> {
        let _lock = self.lock(true)?;
        let document = self.read()?;
        let Some(header) = document.key else {
            return Err(Error::Corrupted {
                location: self.location(),
                reason: "the store has no key header to rotate".to_owned(),
            });
        };
        let (key, secrets) = rewrite(&header, document.secrets)?;
        let rewritten = Document {
            format: FORMAT.to_owned(),
            key: Some(key),
            secrets,
        };
        self.write(&rewritten, checkpoint)
    }
}
