//! `workspace-read` / `workspace-write`: files of the tool's own workspace
//! directory, only when the operator granted it.
//!
//! Paths are relative to the workspace; absolute paths, `..`, empty segments
//! and NUL are refused before the filesystem is touched. The policy crate's
//! [`FsPolicy`] then resolves symlinks in every existing part and refuses
//! anything outside the directory (and files with several hard links), and the
//! file is opened without following a final symlink.

use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use ironclaw_audit::EventKind;
use ironclaw_policy::{Access, FsPermission, FsPolicy};

use crate::bindings::ironclaw::tool::host::HostError;
use crate::host::{CallContext, HostInner, audit_denial};

/// Largest file a tool may read or write through the workspace.
const MAX_FILE_BYTES: u64 = 16 << 20;

fn check(
    inner: &HostInner,
    cx: &CallContext,
    path: &str,
    access: Access,
) -> Result<PathBuf, HostError> {
    let action = match access {
        Access::Ro => "workspace_read",
        Access::Rw => "workspace_write",
    };
    let shown: String = path.chars().take(256).collect();
    let deny = |reason: &str| {
        audit_denial(
            inner,
            cx,
            EventKind::FilesystemBlock,
            action,
            &format!("workspace:{shown}"),
            reason,
        );
        HostError::NotAllowed(format!("workspace path {shown:?}: {reason}"))
    };
    let Some(grant) = &cx.tool.workspace else {
        return Err(deny("no workspace is granted to this tool"));
    };
    if !grant.access.allows(access) {
        return Err(deny("the workspace is granted read-only"));
    }
    let rel = Path::new(path);
    let lexically_ok = !path.is_empty()
        && !path.contains('\0')
        && !path.contains('\\')
        && rel.is_relative()
        && path
            .split('/')
            .all(|seg| !seg.is_empty() && seg != "." && seg != "..");
    if !lexically_ok {
        return Err(deny(
            "must be a relative path without '.', '..' or empty parts",
        ));
    }
    std::fs::create_dir_all(&grant.dir)
        .map_err(|e| HostError::Failed(format!("workspace directory: {e}")))?;
    let root = FsPermission::new(&grant.dir, grant.access)
        .map_err(|e| HostError::Failed(format!("workspace directory: {e}")))?;
    let policy = FsPolicy::new(vec![root]);
    match policy.resolve(&grant.dir.join(rel), access) {
        Ok((real, _)) => Ok(real),
        Err(reason) => Err(deny(&reason)),
    }
}

pub(crate) fn read(inner: &HostInner, cx: &CallContext, path: &str) -> Result<Vec<u8>, HostError> {
    let real = check(inner, cx, path, Access::Ro)?;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&real)
        .map_err(|e| HostError::Failed(format!("{path}: {e}")))?;
    let mut out = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut out)
        .map_err(|e| HostError::Failed(format!("{path}: {e}")))?;
    if out.len() as u64 > MAX_FILE_BYTES {
        return Err(HostError::TooLarge(MAX_FILE_BYTES));
    }
    Ok(out)
}

pub(crate) fn write(
    inner: &HostInner,
    cx: &CallContext,
    path: &str,
    data: &[u8],
) -> Result<(), HostError> {
    if data.len() as u64 > MAX_FILE_BYTES {
        return Err(HostError::TooLarge(MAX_FILE_BYTES));
    }
    let real = check(inner, cx, path, Access::Rw)?;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&real)
        .map_err(|e| HostError::Failed(format!("{path}: {e}")))?;
    file.write_all(data)
        .map_err(|e| HostError::Failed(format!("{path}: {e}")))
}
