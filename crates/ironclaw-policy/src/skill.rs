//! Installed skills: the `skill.json` manifest and the digest an allowlist
//! entry is pinned to.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::capabilities::Capabilities;

/// How a skill runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SkillKind {
    /// A WebAssembly component run by the WASM host.
    Wasm,
    /// A native process in the process sandbox.
    Process,
    /// A container job.
    Container,
}

/// `skill.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SkillManifest {
    /// The skill's name (letters, digits, `-`, `_`), also its directory name.
    pub name: String,
    /// Its version.
    pub version: String,
    /// How it runs.
    pub kind: SkillKind,
    /// The entry point, relative to the skill directory.
    pub entry: String,
    /// What it does.
    #[serde(default)]
    pub description: String,
}

/// Errors reading a skill.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SkillError {
    /// A file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A manifest is malformed.
    #[error("{path}: {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

/// Whether a skill name is acceptable (it becomes a directory name).
pub fn is_valid_skill_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && !name.starts_with('-')
}

/// An installed skill: manifest, capabilities and the digest of its files.
#[derive(Debug, Clone)]
pub struct InstalledSkill {
    /// `skill.json`.
    pub manifest: SkillManifest,
    /// `capabilities.json` (empty when absent).
    pub capabilities: Capabilities,
    /// `sha256:<hex>` over every file of the skill directory.
    pub digest: String,
}

impl InstalledSkill {
    /// Reads the skill in `dir`.
    pub fn load(dir: &Path) -> Result<Self, SkillError> {
        let manifest_path = dir.join("skill.json");
        let text = read(&manifest_path)?;
        let manifest: SkillManifest =
            serde_json::from_str(&text).map_err(|e| SkillError::Invalid {
                path: manifest_path.clone(),
                reason: e.to_string(),
            })?;
        if !is_valid_skill_name(&manifest.name) {
            return Err(SkillError::Invalid {
                path: manifest_path,
                reason: format!("name {:?} is not letters, digits, - or _", manifest.name),
            });
        }
        let caps_path = dir.join("capabilities.json");
        let capabilities = if caps_path.exists() {
            Capabilities::from_json(&read(&caps_path)?).map_err(|e| SkillError::Invalid {
                path: caps_path.clone(),
                reason: e.to_string(),
            })?
        } else {
            Capabilities::default()
        };
        capabilities.requested().map_err(|e| SkillError::Invalid {
            path: caps_path,
            reason: e.to_string(),
        })?;
        Ok(Self {
            manifest,
            capabilities,
            digest: skill_digest(dir)?,
        })
    }
}

fn read(path: &Path) -> Result<String, SkillError> {
    std::fs::read_to_string(path).map_err(|source| SkillError::Io {
        path: path.to_owned(),
        source,
    })
}

/// `sha256:<hex>` over the relative path and bytes of every regular file under
/// `dir`, in sorted order. Symlinks are refused (they would make the digest say
/// nothing about what runs).
pub fn skill_digest(dir: &Path) -> Result<String, SkillError> {
    let mut files = Vec::new();
    collect(dir, dir, &mut files)?;
    files.sort();
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    for rel in files {
        let bytes = std::fs::read(dir.join(&rel)).map_err(|source| SkillError::Io {
            path: dir.join(&rel),
            source,
        })?;
        let name = rel.to_string_lossy();
        ctx.update(&(name.len() as u64).to_be_bytes());
        ctx.update(name.as_bytes());
        ctx.update(&(bytes.len() as u64).to_be_bytes());
        ctx.update(&bytes);
    }
    Ok(format!("sha256:{}", hex::encode(ctx.finish().as_ref())))
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), SkillError> {
    let io = |source| SkillError::Io {
        path: dir.to_owned(),
        source,
    };
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let ty = entry.file_type().map_err(io)?;
        let path = entry.path();
        if ty.is_symlink() {
            return Err(SkillError::Invalid {
                path,
                reason: "skills may not contain symlinks".into(),
            });
        } else if ty.is_dir() {
            collect(root, &path, out)?;
        } else if ty.is_file() {
            out.push(path.strip_prefix(root).unwrap_or(&path).to_path_buf());
        }
    }
    Ok(())
}
