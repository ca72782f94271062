//! Auto-suspension: N violations within a sliding window suspend a skill for a
//! while. The state is a small JSON file so it survives daemon restarts.

use std::collections::{BTreeMap, VecDeque};

use serde::{Deserialize, Serialize};

use crate::config::AutoSuspendConfig;

/// Violation history and suspensions of every skill. Times are Unix
/// milliseconds given by the caller (the library reads no clock).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SuspensionState {
    /// Per skill.
    #[serde(default)]
    pub skills: BTreeMap<String, SkillViolations>,
}

/// One skill's recent violations and suspension.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SkillViolations {
    /// Times of violations inside the current window (at most the threshold).
    #[serde(default)]
    pub violations: VecDeque<u64>,
    /// End of the current suspension.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspended_until: Option<u64>,
}

/// A suspension that just started, ready for a SKILL_SUSPENDED audit record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suspension {
    /// The skill.
    pub skill: String,
    /// When it ends (Unix ms).
    pub until_ms: u64,
    /// Violations that triggered it.
    pub violations: u64,
}

impl SuspensionState {
    /// Records one violation at `now_ms`; returns the suspension it triggers, if any.
    /// Memory per skill is bounded by the threshold.
    pub fn record_violation(
        &mut self,
        config: &AutoSuspendConfig,
        skill: &str,
        now_ms: u64,
    ) -> Option<Suspension> {
        if !config.enabled {
            return None;
        }
        let window = config.window_minutes.saturating_mul(60_000);
        let limit = usize::try_from(config.violations_per_window.max(1)).unwrap_or(usize::MAX);
        let entry = self.skills.entry(skill.to_owned()).or_default();
        while entry
            .violations
            .front()
            .is_some_and(|t| now_ms.saturating_sub(*t) >= window)
        {
            entry.violations.pop_front();
        }
        entry.violations.push_back(now_ms);
        while entry.violations.len() > limit {
            entry.violations.pop_front();
        }
        if entry.violations.len() < limit {
            return None;
        }
        let until = now_ms.saturating_add(config.suspend_duration_minutes.saturating_mul(60_000));
        entry.suspended_until = Some(until);
        entry.violations.clear();
        Some(Suspension {
            skill: skill.to_owned(),
            until_ms: until,
            violations: limit as u64,
        })
    }

    /// When the skill's suspension ends, if it is suspended at `now_ms`.
    pub fn suspended_until(&self, skill: &str, now_ms: u64) -> Option<u64> {
        self.skills
            .get(skill)
            .and_then(|s| s.suspended_until)
            .filter(|until| *until > now_ms)
    }

    /// Lifts a suspension and forgets past violations; false when there was none.
    pub fn unsuspend(&mut self, skill: &str) -> bool {
        match self.skills.remove(skill) {
            Some(s) => s.suspended_until.is_some(),
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sliding_window() {
        let cfg = AutoSuspendConfig::default();
        let mut s = SuspensionState::default();
        let min = 60_000;
        for i in 0..4 {
            assert!(s.record_violation(&cfg, "gh", i * min).is_none());
        }
        // The first violation has left the 10-minute window.
        assert!(s.record_violation(&cfg, "gh", 10 * min).is_none());
        let half = min / 2;
        let sus = s.record_violation(&cfg, "gh", 10 * min + half).unwrap();
        assert_eq!(sus.until_ms, 70 * min + half);
        assert_eq!(s.suspended_until("gh", 70 * min), Some(70 * min + half));
        assert_eq!(s.suspended_until("gh", 71 * min), None);
        assert_eq!(s.suspended_until("other", 0), None);
        let text = serde_json::to_string(&s).unwrap();
        let back: SuspensionState = serde_json::from_str(&text).unwrap();
        assert_eq!(back.suspended_until("gh", 70 * min), Some(70 * min + half));
        assert!(s.unsuspend("gh"));
        assert_eq!(s.suspended_until("gh", 70 * min), None);
        let off = AutoSuspendConfig {
            enabled: false,
            ..cfg
        };
        for i in 0..10 {
            assert!(s.record_violation(&off, "x", i).is_none());
        }
    }
}
