//! `allowlist.json`: the operator's grants per skill, and the authorisation
//! decision that intersects them with what a skill requests.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::grants::{DenyEvent, Permissions};
use crate::store::StoreError;

/// The allowlist: skills the operator authorised, with their grants.
/// A skill that is not here never runs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Allowlist {
    /// Entries by skill name.
    #[serde(default)]
    pub skills: BTreeMap<String, AllowlistEntry>,
}

/// One authorised skill.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AllowlistEntry {
    /// `sha256:<hex>` of the skill the grants were given to (absent when the
    /// skill was not installed at grant time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// What the operator granted beyond the skill's own workspace.
    #[serde(default)]
    pub grants: Permissions,
}

/// Errors editing the allowlist.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AllowlistError {
    /// Reading or writing the file failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The skill is not in the allowlist.
    #[error("skill {0} is not in the allowlist")]
    UnknownSkill(String),
    /// The skill name is not acceptable.
    #[error("skill name {0:?} is not letters, digits, - or _")]
    InvalidName(String),
}

/// An allowlist change, ready for an ALLOWLIST_CHANGE audit record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowlistChange {
    /// The skill.
    pub skill: String,
    /// `grant`, `revoke` or `remove`.
    pub action: &'static str,
    /// Items added.
    pub added: Vec<String>,
    /// Items removed.
    pub removed: Vec<String>,
    /// All grants after the change.
    pub grants: Vec<String>,
    /// The digest the entry is pinned to after the change.
    pub digest: Option<String>,
}

/// The decision whether a skill may run, and with what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authorization {
    /// The skill may not run.
    Denied {
        /// `ALLOWLIST_DENY` or `SKILL_SUSPENDED`.
        event: DenyEvent,
        /// Why.
        reason: String,
    },
    /// The skill may run with `effective` permissions.
    Authorized {
        /// Requested ∩ granted.
        effective: Box<Permissions>,
        /// Requested but not granted (to report; never given).
        not_granted: Box<Permissions>,
        /// The skill on disk is not the one the grants were given to.
        digest_changed: bool,
    },
}

impl Allowlist {
    /// Decides whether `skill` (with digest `digest`, requesting `requested`) may
    /// run. Default deny; a suspended skill is treated as not authorised; an
    /// updated skill keeps only the old grants and the decision lists what it
    /// asked for beyond them.
    pub fn authorize(
        &self,
        skill: &str,
        digest: Option<&str>,
        requested: &Permissions,
        suspended_until_ms: Option<u64>,
    ) -> Authorization {
        let Some(entry) = self.skills.get(skill) else {
            return Authorization::Denied {
                event: DenyEvent::AllowlistDeny,
                reason: format!("skill {skill} is not in the allowlist"),
            };
        };
        if let Some(until) = suspended_until_ms {
            return Authorization::Denied {
                event: DenyEvent::SkillSuspended,
                reason: format!("skill {skill} is suspended until {until} (unix ms)"),
            };
        }
        let (effective, not_granted) = entry.grants.intersect(requested);
        Authorization::Authorized {
            effective: Box::new(effective),
            not_granted: Box::new(not_granted),
            digest_changed: match (&entry.digest, digest) {
                (Some(pinned), Some(now)) => pinned != now,
                (Some(_), None) => true,
                (None, _) => false,
            },
        }
    }

    /// Adds grants (and authorises the skill if new). A digest re-pins the entry:
    /// the operator has reviewed this version.
    pub fn grant(
        &mut self,
        skill: &str,
        grants: &Permissions,
        digest: Option<String>,
    ) -> Result<AllowlistChange, AllowlistError> {
        if !crate::skill::is_valid_skill_name(skill) {
            return Err(AllowlistError::InvalidName(skill.to_owned()));
        }
        let entry = self.skills.entry(skill.to_owned()).or_default();
        let before = entry.grants.describe();
        entry.grants.extend(grants);
        if digest.is_some() {
            entry.digest = digest;
        }
        let after = entry.grants.describe();
        Ok(AllowlistChange {
            skill: skill.to_owned(),
            action: "grant",
            added: after
                .iter()
                .filter(|g| !before.contains(g))
                .cloned()
                .collect(),
            removed: Vec::new(),
            grants: after,
            digest: entry.digest.clone(),
        })
    }

    /// Removes grants; the skill stays authorised.
    pub fn revoke(
        &mut self,
        skill: &str,
        grants: &Permissions,
    ) -> Result<AllowlistChange, AllowlistError> {
        let entry = self
            .skills
            .get_mut(skill)
            .ok_or_else(|| AllowlistError::UnknownSkill(skill.to_owned()))?;
        let removed = entry.grants.remove(grants);
        Ok(AllowlistChange {
            skill: skill.to_owned(),
            action: "revoke",
            added: Vec::new(),
            removed: removed.describe(),
            grants: entry.grants.describe(),
            digest: entry.digest.clone(),
        })
    }

    /// Removes the skill entirely: it will not run.
    pub fn remove(&mut self, skill: &str) -> Result<AllowlistChange, AllowlistError> {
        let entry = self
            .skills
            .remove(skill)
            .ok_or_else(|| AllowlistError::UnknownSkill(skill.to_owned()))?;
        Ok(AllowlistChange {
            skill: skill.to_owned(),
            action: "remove",
            added: Vec::new(),
            removed: entry.grants.describe(),
            grants: Vec::new(),
            digest: entry.digest,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grants::{EnvPermission, NetworkPermission};

    fn net(hosts: &[&str]) -> Permissions {
        Permissions {
            network: hosts
                .iter()
                .map(|h| NetworkPermission::parse(h).unwrap())
                .collect(),
            ..Permissions::default()
        }
    }

    #[test]
    fn default_deny_and_update_gets_old_grants_only() {
        let mut list = Allowlist::default();
        let requested = net(&["api.github.com"]);
        assert!(matches!(
            list.authorize("github", Some("sha256:1"), &requested, None),
            Authorization::Denied {
                event: DenyEvent::AllowlistDeny,
                ..
            }
        ));
        list.grant("github", &requested, Some("sha256:1".into()))
            .unwrap();
        let more = net(&["api.github.com", "exfil.example"]);
        match list.authorize("github", Some("sha256:2"), &more, None) {
            Authorization::Authorized {
                effective,
                not_granted,
                digest_changed,
            } => {
                assert_eq!(effective.describe(), ["network:api.github.com"]);
                assert_eq!(not_granted.describe(), ["network:exfil.example"]);
                assert!(digest_changed);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            list.authorize("github", Some("sha256:1"), &requested, Some(5)),
            Authorization::Denied {
                event: DenyEvent::SkillSuspended,
                ..
            }
        ));
    }

    #[test]
    fn grant_revoke_remove() {
        let mut list = Allowlist::default();
        let change = list
            .grant("himalaya", &Permissions::default(), None)
            .unwrap();
        assert!(change.grants.is_empty());
        let env = Permissions {
            env: [EnvPermission::parse("IMAP_USER").unwrap()].into(),
            ..net(&["imap.gmail.com:993"])
        };
        let change = list.grant("himalaya", &env, None).unwrap();
        assert_eq!(change.added.len(), 2);
        let change = list
            .revoke("himalaya", &net(&["imap.gmail.com:993"]))
            .unwrap();
        assert_eq!(change.removed, ["network:imap.gmail.com:993"]);
        assert!(list.revoke("nope", &env).is_err());
        assert!(list.grant("../x", &env, None).is_err());
        list.remove("himalaya").unwrap();
        assert!(list.skills.is_empty());
    }
}
