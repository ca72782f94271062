//! Where things live in the runtime home.

use std::path::{Path, PathBuf};

/// The layout of an IronClaw home directory (`$IRONCLAW_HOME`, default
/// `~/.ironclaw`). The caller decides where the root is; this type only knows
/// the names inside it, so every binary agrees on them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HomeLayout {
    root: PathBuf,
}

impl HomeLayout {
    /// A layout rooted at `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The home directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `ironclaw.json`, the config (JSON with comments).
    pub fn config(&self) -> PathBuf {
        self.root.join("ironclaw.json")
    }

    /// `.env`, API keys and tokens; must be mode 0600.
    pub fn dotenv(&self) -> PathBuf {
        self.root.join(".env")
    }

    /// `allowlist.json`, the operator's grants per skill.
    pub fn allowlist(&self) -> PathBuf {
        self.root.join("allowlist.json")
    }

    /// `suspensions.json`, violation history and suspensions, kept across restarts.
    pub fn suspensions(&self) -> PathBuf {
        self.root.join("suspensions.json")
    }

    /// `audit.log`, the default audit log.
    pub fn audit_log(&self) -> PathBuf {
        self.root.join("audit.log")
    }

    /// `secrets/`, the file secret store.
    pub fn secrets_dir(&self) -> PathBuf {
        self.root.join("secrets")
    }

    /// `skills/`, installed skills.
    pub fn skills_dir(&self) -> PathBuf {
        self.root.join("skills")
    }

    /// `skills/<name>/`, one installed skill.
    pub fn skill_dir(&self, name: &str) -> PathBuf {
        self.skills_dir().join(name)
    }

    /// `workspace/`, the parent of every skill's data.
    pub fn workspace_dir(&self) -> PathBuf {
        self.root.join("workspace")
    }

    /// `workspace/shared/`, read-only for every skill unless granted `:rw`.
    pub fn shared_workspace(&self) -> PathBuf {
        self.workspace_dir().join("shared")
    }

    /// `workspace/skills/<name>/`, a skill's own read-write directory.
    pub fn skill_workspace(&self, name: &str) -> PathBuf {
        self.workspace_dir().join("skills").join(name)
    }

    /// `run/`, pid file and control socket of the running daemon.
    pub fn run_dir(&self) -> PathBuf {
        self.root.join("run")
    }
}
