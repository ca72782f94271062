//! Cross-process safe file edits: an advisory lock on a sibling `.lock` file and
//! atomic replacement (write a temporary file, fsync, rename, fsync the directory).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// An exclusive advisory lock held until dropped. Every writer of a file takes
/// the lock on `<file>.lock` before reading it, so read-modify-write cycles from
/// two processes never interleave (and never lose an edit).
#[derive(Debug)]
pub struct FileLock {
    _file: File,
    path: PathBuf,
}

impl FileLock {
    /// Blocks until the lock for `target` is held.
    pub fn acquire(target: &Path) -> std::io::Result<Self> {
        let mut name = target.file_name().unwrap_or_default().to_os_string();
        name.push(".lock");
        let path = target.with_file_name(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)?;
        file.lock()?;
        Ok(Self { _file: file, path })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Replaces `target` with `contents` atomically: readers see the old or the new
/// file, never a mix, and a crash leaves one of them. A new file gets `new_mode`
/// (unix permission bits); an existing file keeps its mode.
pub fn write_atomic(target: &Path, contents: &[u8], new_mode: u32) -> std::io::Result<()> {
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir)?;
    let mut name = target.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".tmp-{}", std::process::id()));
    let tmp = dir.join(name);
    let result = (|| {
        let mut opts = OpenOptions::new();
        opts.create(true).write(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut file = opts.open(&tmp)?;
        file.write_all(contents)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = match std::fs::metadata(target) {
                Ok(meta) => meta.permissions().mode() & 0o7777,
                Err(_) => new_mode,
            };
            file.set_permissions(std::fs::Permissions::from_mode(mode))?;
        }
        #[cfg(not(unix))]
        let _ = new_mode;
        file.sync_all()?;
        std::fs::rename(&tmp, target)?;
        if let Ok(d) = File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_keeps_mode() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.json");
        write_atomic(&p, b"one", 0o600).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"one");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
                0o600
            );
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o640)).unwrap();
        }
        write_atomic(&p, b"two", 0o600).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
                0o640
            );
        }
        let lock = FileLock::acquire(&p).unwrap();
        assert!(lock.path().ends_with("f.json.lock"));
    }
}

/// Errors reading or writing one of the crate's JSON state files.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The file could not be read, locked or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not valid JSON of the expected shape.
    #[error("{path}: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: serde_json::Error,
    },
}

/// Reads a JSON state file; a missing file is the default value.
pub fn load_json<T: serde::de::DeserializeOwned + Default>(path: &Path) -> Result<T, StoreError> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|source| StoreError::Parse {
            path: path.to_owned(),
            source,
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(T::default()),
        Err(source) => Err(StoreError::Io {
            path: path.to_owned(),
            source,
        }),
    }
}

/// Read-modify-write of a JSON state file under its lock, written atomically
/// (mode 0600 when created). When `edit` fails nothing is written.
pub fn update_json<T, R, E>(path: &Path, edit: impl FnOnce(&mut T) -> Result<R, E>) -> Result<R, E>
where
    T: serde::de::DeserializeOwned + serde::Serialize + Default,
    E: From<StoreError>,
{
    let io = |source| StoreError::Io {
        path: path.to_owned(),
        source,
    };
    let _lock = FileLock::acquire(path).map_err(io)?;
    let mut value: T = load_json(path)?;
    let result = edit(&mut value)?;
    let mut text = serde_json::to_string_pretty(&value).map_err(|source| StoreError::Parse {
        path: path.to_owned(),
        source,
    })?;
    text.push('\n');
    write_atomic(path, text.as_bytes(), 0o600).map_err(io)?;
    Ok(result)
}
