//! Filesystem decisions that `..`, symlinks, hard links and alternative
//! spellings cannot get around.

use std::path::{Component, Path, PathBuf};

use crate::grants::{Access, DenyEvent, FsPermission, Verdict};
use crate::home::HomeLayout;

/// What a skill may touch on disk: its own workspace (read-write), its
/// filesystem grants, and never the home's control files.
///
/// Checks resolve symlinks in every existing part of the path and compare the
/// real path with the real grant roots, refuse `..` outright, and refuse regular
/// files with more than one hard link (the other name may be outside the grant and
/// there is no cheap way to find it; a skill that can make hard links could
/// otherwise pull any file the user can read into its workspace).
///
/// Non-guarantee: between the check and the open, a concurrent process could swap
/// a directory for a symlink. The caller should open the returned real path with
/// `O_NOFOLLOW` (or `openat2` with `RESOLVE_BENEATH`), or run the skill in the
/// sandbox that enforces the same roots in the kernel.
#[derive(Debug, Clone)]
pub struct FsPolicy {
    roots: Vec<FsPermission>,
    protected: Vec<PathBuf>,
}

impl FsPolicy {
    /// The policy of skill `name` in `home` with its effective filesystem grants.
    pub fn for_skill<'a>(
        home: &HomeLayout,
        name: &str,
        grants: impl IntoIterator<Item = &'a FsPermission>,
    ) -> Self {
        // The own workspace comes first: relative paths resolve against it.
        let mut roots: Vec<FsPermission> =
            FsPermission::new(&home.skill_workspace(name), Access::Rw)
                .into_iter()
                .collect();
        roots.extend(grants.into_iter().cloned());
        let protected = vec![
            home.config(),
            home.dotenv(),
            home.allowlist(),
            home.suspensions(),
            home.audit_log(),
            home.secrets_dir(),
            home.skills_dir(),
            home.run_dir(),
        ];
        Self { roots, protected }
    }

    /// A policy with explicit roots and nothing protected (for embedders).
    pub fn new(roots: Vec<FsPermission>) -> Self {
        Self {
            roots,
            protected: Vec::new(),
        }
    }

    /// Decides an access to `path` (absolute, or relative to the first root: the
    /// skill's own workspace).
    /// On success the grant names the root, and [`FsPolicy::resolve`] gives the
    /// real path to open.
    pub fn check(&self, path: &Path, access: Access) -> Verdict {
        match self.resolve(path, access) {
            Ok((_, grant)) => Verdict::Allow { grant },
            Err(reason) => Verdict::deny(
                DenyEvent::FilesystemBlock,
                path.display().to_string(),
                reason,
            ),
        }
    }

    /// The real path to open and the grant that allows it, or why not.
    pub fn resolve(&self, path: &Path, access: Access) -> Result<(PathBuf, String), String> {
        if path.as_os_str().is_empty() {
            return Err("empty path".into());
        }
        if path.components().any(|c| c == Component::ParentDir) {
            return Err("path contains ..".into());
        }
        let absolute = if path.is_absolute() {
            path.to_path_buf()
        } else {
            match self.roots.first() {
                Some(root) => root.path().join(path),
                None => return Err("no root to resolve a relative path against".into()),
            }
        };
        let real = real_path(&absolute).map_err(|e| format!("cannot resolve: {e}"))?;
        for protected in &self.protected {
            let protected = real_path(protected).unwrap_or_else(|_| protected.clone());
            if real.starts_with(&protected) {
                return Err(format!(
                    "{} is a control file of the home",
                    protected.display()
                ));
            }
        }
        if let Ok(meta) = std::fs::symlink_metadata(&real) {
            #[cfg(unix)]
            {
                use std::os::unix::fs::MetadataExt;
                if meta.is_file() && meta.nlink() > 1 {
                    return Err("file has more than one hard link".into());
                }
            }
            #[cfg(not(unix))]
            let _ = meta;
        }
        let mut read_only_match = None;
        for root in &self.roots {
            let root_real = real_path(root.path()).unwrap_or_else(|_| root.path().to_path_buf());
            if real.starts_with(&root_real) {
                if root.access().allows(access) {
                    return Ok((real, format!("filesystem:{root}")));
                }
                read_only_match = Some(root);
            }
        }
        Err(match read_only_match {
            Some(root) => format!("{root} is read-only"),
            None => format!("{} is outside every granted directory", real.display()),
        })
    }
}

/// The real path: symlinks in the longest existing prefix resolved, the rest
/// (which does not exist yet, so holds no symlink) appended.
fn real_path(path: &Path) -> std::io::Result<PathBuf> {
    let mut existing = path.to_path_buf();
    let mut rest: Vec<std::ffi::OsString> = Vec::new();
    loop {
        match std::fs::canonicalize(&existing) {
            Ok(real) => {
                let mut out = real;
                for part in rest.iter().rev() {
                    out.push(part);
                }
                return Ok(out);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                // A dangling symlink must not be followed later to a place we never checked.
                if std::fs::symlink_metadata(&existing).is_ok() {
                    return Err(std::io::Error::other("dangling symlink"));
                }
                let Some(name) = existing.file_name().map(ToOwned::to_owned) else {
                    return Err(e);
                };
                rest.push(name);
                if !existing.pop() {
                    return Err(e);
                }
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_and_missing_paths() {
        let dir = tempfile::tempdir().unwrap();
        let root = FsPermission::new(dir.path(), Access::Rw).unwrap();
        let policy = FsPolicy::new(vec![root]);
        assert!(
            policy
                .check(Path::new("new/file.txt"), Access::Rw)
                .is_allowed()
        );
        assert!(!policy.check(Path::new("../x"), Access::Ro).is_allowed());
        assert!(!policy.check(Path::new(""), Access::Ro).is_allowed());
    }
}
