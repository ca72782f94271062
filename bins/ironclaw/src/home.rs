//! Where the runtime home is: `--home`, else `IRONCLAW_HOME`, else `~/.ironclaw`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// The runtime home directory of one IronClaw installation.
#[derive(Debug, Clone)]
pub(crate) struct Home {
    root: PathBuf,
}

impl Home {
    /// Resolves the home from the flag, the environment, then `$HOME/.ironclaw`.
    pub(crate) fn resolve(flag: Option<PathBuf>) -> Result<Self> {
        let root = match flag {
            Some(path) => path,
            None => match std::env::var_os("IRONCLAW_HOME") {
                Some(path) if !path.is_empty() => PathBuf::from(path),
                _ => std::env::var_os("HOME")
                    .map(|home| PathBuf::from(home).join(".ironclaw"))
                    .context("cannot find the home: pass --home, or set IRONCLAW_HOME or HOME")?,
            },
        };
        Ok(Self { root })
    }

    /// The home directory itself.
    pub(crate) fn root(&self) -> &Path {
        &self.root
    }
}
