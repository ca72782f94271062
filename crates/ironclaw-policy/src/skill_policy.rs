//! One authorised skill's runtime policy: every check an enforcement point makes
//! while the skill runs, answered from indexes built once.

use std::path::Path;

use crate::fs::FsPolicy;
use crate::grants::{Access, NetworkGrants, Permissions, Verdict};
use crate::home::HomeLayout;

/// The effective permissions of one running skill, compiled for checking:
/// network grants indexed by host, filesystem roots (own workspace first, home
/// control files excluded), env, secret, tool and shell grants.
///
/// Build it from the `effective` permissions of
/// [`Authorization::Authorized`](crate::Authorization::Authorized); every
/// refusal is a [`Verdict::Deny`] naming the audit event, and those whose
/// [`DenyEvent::is_violation`](crate::DenyEvent::is_violation) is true should also
/// be fed to [`SuspensionState::record_in_file`](crate::SuspensionState::record_in_file).
#[derive(Debug, Clone)]
pub struct SkillPolicy {
    skill: String,
    permissions: Permissions,
    network: NetworkGrants,
    fs: FsPolicy,
}

impl SkillPolicy {
    /// Compiles the policy of `skill` in `home`.
    pub fn new(home: &HomeLayout, skill: &str, effective: Permissions) -> Self {
        Self {
            network: NetworkGrants::new(&effective.network),
            fs: FsPolicy::for_skill(home, skill, &effective.filesystem),
            skill: skill.to_owned(),
            permissions: effective,
        }
    }

    /// The skill's name.
    pub fn skill(&self) -> &str {
        &self.skill
    }

    /// The effective permissions.
    pub fn permissions(&self) -> &Permissions {
        &self.permissions
    }

    /// May the skill connect to `host:port`?
    pub fn check_network(&self, host: &str, port: u16) -> Verdict {
        self.network.check(host, port)
    }

    /// May the skill access `path`?
    pub fn check_fs(&self, path: &Path, access: Access) -> Verdict {
        self.fs.check(path, access)
    }

    /// The filesystem policy (for [`FsPolicy::resolve`]).
    pub fn fs(&self) -> &FsPolicy {
        &self.fs
    }

    /// May the skill read environment variable `name`?
    pub fn check_env(&self, name: &str) -> Verdict {
        self.permissions.check_env(name)
    }

    /// May the skill have secret `name` injected?
    pub fn check_secret(&self, name: &str) -> Verdict {
        self.permissions.check_secret(name)
    }

    /// May the skill invoke tool `name`? A skill never invokes itself (circular
    /// invocation).
    pub fn check_tool(&self, name: &str) -> Verdict {
        if name == self.skill {
            return Verdict::deny(
                crate::grants::DenyEvent::AllowlistViolation,
                format!("tool:{name}"),
                "a skill may not invoke itself",
            );
        }
        self.permissions.check_tool(name)
    }

    /// May the skill run a shell?
    pub fn check_shell(&self) -> Verdict {
        self.permissions.check_shell()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grants::NetworkPermission;

    #[test]
    fn checks_use_effective_permissions() {
        let dir = tempfile::tempdir().unwrap();
        let home = HomeLayout::new(dir.path());
        let effective = Permissions {
            network: [NetworkPermission::parse("*.gmail.com:993").unwrap()].into(),
            tools: ["summarize".to_owned(), "himalaya".to_owned()].into(),
            ..Permissions::default()
        };
        let p = SkillPolicy::new(&home, "himalaya", effective);
        assert!(p.check_network("IMAP.gmail.com", 993).is_allowed());
        assert!(!p.check_network("imap.gmail.com", 443).is_allowed());
        assert!(!p.check_network("attacker.io", 80).is_allowed());
        assert!(p.check_tool("summarize").is_allowed());
        assert!(!p.check_tool("himalaya").is_allowed());
        assert!(!p.check_shell().is_allowed());
        assert!(!p.check_env("HOME").is_allowed());
        let own = home.skill_workspace("himalaya").join("x");
        assert!(p.check_fs(&own, Access::Rw).is_allowed());
        assert!(!p.check_fs(&home.config(), Access::Ro).is_allowed());
    }
}
