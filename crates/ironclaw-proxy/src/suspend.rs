//! Auto-suspension in the proxy: a job's policy violations count against its skill,
//! and a suspended skill's jobs get nothing through until the suspension ends or the
//! operator lifts it (`ironclaw allowlist unsuspend`).
//!
//! The history lives in the policy crate's suspension file, shared with the CLI and
//! other daemons, so suspensions survive restarts. The proxy keeps a copy of the
//! suspensions in the file. It looks at the file's metadata at most once a second and
//! reads it again when it changed (so an operator's `suspend` takes effect within a
//! second), and it re-reads the file for a skill it believes suspended on every
//! request (so an `unsuspend` takes effect at the next request). A clean skill costs
//! a map lookup and, once a second, one `stat`.
//!
//! A file that exists but cannot be read or parsed fails closed: every skill is
//! treated as suspended until the file is readable again.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ironclaw_policy::{AutoSuspendConfig, SuspensionState};

/// How often the file's metadata is looked at for changes by others.
const POLL_INTERVAL: Duration = Duration::from_secs(1);

/// Where suspensions are kept and when they trigger.
#[derive(Debug)]
pub(crate) struct AutoSuspend {
    path: PathBuf,
    config: AutoSuspendConfig,
    cache: Mutex<Cache>,
}

#[derive(Debug, Default)]
struct Cache {
    /// When the file's metadata was last looked at.
    checked_at: Option<Instant>,
    /// The file's modification time and length when it was last read.
    stamp: Option<(Option<SystemTime>, u64)>,
    /// Suspended skills and when their suspension ends (Unix ms), or `None` when the
    /// file could not be read.
    suspended: Option<HashMap<String, u64>>,
}

/// Whether a skill may act now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    Active,
    /// Suspended until this Unix time in ms.
    Suspended(u64),
    /// The suspension file cannot be read: fail closed.
    Unknown,
}

/// A suspension that a violation just triggered.
#[derive(Debug)]
pub(crate) struct Triggered {
    pub(crate) until_ms: u64,
    pub(crate) violations: u64,
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

impl AutoSuspend {
    pub(crate) fn new(path: PathBuf, config: AutoSuspendConfig) -> Self {
        let suspend = Self {
            path,
            config,
            cache: Mutex::default(),
        };
        suspend.reload(&mut suspend.lock());
        suspend
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn stamp(&self) -> Option<(Option<SystemTime>, u64)> {
        std::fs::metadata(&self.path)
            .ok()
            .map(|meta| (meta.modified().ok(), meta.len()))
    }

    /// Reads the file into the cache.
    fn reload(&self, cache: &mut Cache) {
        cache.checked_at = Some(Instant::now());
        cache.stamp = self.stamp();
        let now = now_ms();
        cache.suspended = match ironclaw_policy::load_json::<SuspensionState>(&self.path) {
            Ok(state) => Some(
                state
                    .skills
                    .keys()
                    .filter_map(|skill| {
                        state
                            .suspended_until(skill, now)
                            .map(|until| (skill.clone(), until))
                    })
                    .collect(),
            ),
            Err(err) => {
                tracing::error!(
                    error = %err,
                    "cannot read the skill suspension file; skills are treated as suspended"
                );
                None
            }
        };
    }

    /// Whether `skill` is suspended now.
    pub(crate) fn status(&self, skill: &str) -> Status {
        let mut cache = self.lock();
        let stale = cache
            .checked_at
            .is_none_or(|at| at.elapsed() >= POLL_INTERVAL);
        if stale {
            cache.checked_at = Some(Instant::now());
            if self.stamp() != cache.stamp {
                self.reload(&mut cache);
            }
        }
        let now = now_ms();
        let believed = match &cache.suspended {
            None => {
                // Try again at once: the operator may have repaired the file.
                self.reload(&mut cache);
                return match &cache.suspended {
                    None => Status::Unknown,
                    Some(map) => status_in(map, skill, now),
                };
            }
            Some(map) => status_in(map, skill, now),
        };
        if believed == Status::Active {
            return Status::Active;
        }
        // Confirm with the file, so an operator's unsuspend is honoured at once.
        self.reload(&mut cache);
        match &cache.suspended {
            None => Status::Unknown,
            Some(map) => status_in(map, skill, now),
        }
    }

    /// Records one violation of the skill (blocking: file lock and write); returns the
    /// suspension it triggered, if any.
    pub(crate) fn violation(&self, skill: &str) -> Option<Triggered> {
        let now = now_ms();
        let suspension = match SuspensionState::record_in_file(&self.path, &self.config, skill, now)
        {
            Ok(suspension) => suspension?,
            Err(err) => {
                tracing::error!(error = %err, skill, "cannot record a violation for auto-suspension");
                return None;
            }
        };
        let mut cache = self.lock();
        if let Some(map) = &mut cache.suspended {
            map.insert(skill.to_owned(), suspension.until_ms);
        }
        Some(Triggered {
            until_ms: suspension.until_ms,
            violations: suspension.violations,
        })
    }
}

fn status_in(map: &HashMap<String, u64>, skill: &str, now: u64) -> Status {
    match map.get(skill) {
        Some(until) if *until > now => Status::Suspended(*until),
        _ => Status::Active,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ironclaw_policy::{StoreError, update_json};

    #[test]
    fn violations_suspend_and_an_unsuspend_in_the_file_lifts_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("suspensions.json");
        let config = AutoSuspendConfig {
            violations_per_window: 2,
            ..AutoSuspendConfig::default()
        };
        let suspend = AutoSuspend::new(path.clone(), config);
        assert_eq!(suspend.status("gh"), Status::Active);
        assert!(suspend.violation("gh").is_none());
        let triggered = suspend.violation("gh").unwrap();
        assert_eq!(triggered.violations, 2);
        assert_eq!(suspend.status("gh"), Status::Suspended(triggered.until_ms));
        assert_eq!(suspend.status("other"), Status::Active);
        update_json(&path, |state: &mut SuspensionState| {
            Ok::<_, StoreError>(state.unsuspend("gh"))
        })
        .unwrap();
        assert_eq!(suspend.status("gh"), Status::Active);
        // An unreadable file fails closed, and recovers when repaired.
        std::fs::write(&path, "{ not json").unwrap();
        let fresh = AutoSuspend::new(path.clone(), AutoSuspendConfig::default());
        assert_eq!(fresh.status("gh"), Status::Unknown);
        std::fs::write(&path, "{}").unwrap();
        assert_eq!(fresh.status("gh"), Status::Active);
    }
}
