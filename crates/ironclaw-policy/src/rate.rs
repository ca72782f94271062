//! Rate limiting with GCRA (the generic cell rate algorithm): one timestamp per
//! key, O(1) per check, exact burst semantics.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::Duration;

/// A rate: `count` events per `period`, with up to `burst` at once.
///
/// Default for channels: `messagesPerHour` 60 and `burstLimit` 10. Threat: a
/// flooding sender or a runaway tool. Cost: one `u64` per key; memory is bounded
/// by [`RateLimiter::max_keys`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gcra {
    emission_ns: u64,
    tolerance_ns: u64,
}

impl Gcra {
    /// `count` events per `period`, allowing `burst` back to back (both at least 1).
    pub fn new(count: u64, period: Duration, burst: u64) -> Self {
        let period_ns = u64::try_from(period.as_nanos()).unwrap_or(u64::MAX);
        let emission_ns = (period_ns / count.max(1)).max(1);
        Self {
            emission_ns,
            tolerance_ns: emission_ns.saturating_mul(burst.max(1) - 1),
        }
    }

    /// A channel limit: `messages_per_hour` sustained, `burst` at once.
    pub fn per_hour(messages_per_hour: u64, burst: u64) -> Self {
        Self::new(messages_per_hour, Duration::from_secs(3600), burst)
    }

    /// A tool's HTTP limit: `requests_per_minute`, the whole minute's worth as burst.
    pub fn per_minute(requests_per_minute: u64) -> Self {
        Self::new(
            requests_per_minute,
            Duration::from_secs(60),
            requests_per_minute,
        )
    }

    /// Checks one event at `now_ns` against the theoretical arrival time `tat`
    /// (0 for a new key), updating it when allowed. `Err` carries the wait.
    pub fn check(&self, tat: &mut u64, now_ns: u64) -> Result<(), Duration> {
        let start = (*tat).max(now_ns);
        let ahead = start - now_ns;
        if ahead > self.tolerance_ns {
            return Err(Duration::from_nanos(ahead - self.tolerance_ns));
        }
        *tat = start.saturating_add(self.emission_ns);
        Ok(())
    }
}

/// Per-key GCRA state (per sender, per tool).
#[derive(Debug, Clone)]
pub struct RateLimiter<K> {
    gcra: Gcra,
    tats: HashMap<K, u64>,
    max_keys: usize,
}

impl<K: Hash + Eq + Clone> RateLimiter<K> {
    /// A limiter remembering at most 100 000 keys.
    pub fn new(gcra: Gcra) -> Self {
        Self {
            gcra,
            tats: HashMap::new(),
            max_keys: 100_000,
        }
    }

    /// Changes the key bound. When full, idle keys are dropped; if none is idle a
    /// new key is refused (fail closed).
    pub fn max_keys(mut self, max: usize) -> Self {
        self.max_keys = max.max(1);
        self
    }

    /// Checks one event for `key` at `now_ns` (a monotonic clock the caller reads).
    pub fn check(&mut self, key: &K, now_ns: u64) -> Result<(), Duration> {
        if let Some(tat) = self.tats.get_mut(key) {
            return self.gcra.check(tat, now_ns);
        }
        if self.tats.len() >= self.max_keys {
            // A key whose TAT has passed is indistinguishable from a new one.
            self.tats.retain(|_, tat| *tat > now_ns);
            if self.tats.len() >= self.max_keys {
                return Err(Duration::from_secs(1));
            }
        }
        let mut tat = 0;
        let result = self.gcra.check(&mut tat, now_ns);
        self.tats.insert(key.clone(), tat);
        result
    }

    /// Keys currently tracked.
    pub fn len(&self) -> usize {
        self.tats.len()
    }

    /// Whether no key is tracked.
    pub fn is_empty(&self) -> bool {
        self.tats.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: u64 = 1_000_000_000;

    #[test]
    fn burst_then_sustained_rate() {
        let mut rl = RateLimiter::new(Gcra::per_hour(60, 3));
        let k = "alice".to_owned();
        for _ in 0..3 {
            assert!(rl.check(&k, 0).is_ok());
        }
        let wait = rl.check(&k, 0).unwrap_err();
        assert_eq!(wait, Duration::from_secs(60));
        assert!(rl.check(&k, 59 * SEC).is_err());
        assert!(rl.check(&k, 60 * SEC).is_ok());
        assert!(rl.check(&"bob".to_owned(), 0).is_ok());
    }

    #[test]
    fn bounded_keys_fail_closed() {
        let mut rl = RateLimiter::new(Gcra::per_hour(1, 1)).max_keys(2);
        assert!(rl.check(&1, 0).is_ok());
        assert!(rl.check(&2, 0).is_ok());
        assert!(rl.check(&3, 0).is_err());
        assert!(rl.check(&3, 3600 * SEC).is_ok());
        assert!(rl.len() <= 2);
    }
}
