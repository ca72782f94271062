//! A per-job request rate limit (GCRA: one timestamp, O(1) per check, no timer).

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Allows `n` requests per minute with a burst of the same size; `0` means no limit.
#[derive(Debug)]
pub(crate) struct RequestRate {
    interval: Option<Duration>,
    burst: Duration,
    theoretical_arrival: Mutex<Option<Instant>>,
}

impl RequestRate {
    pub(crate) fn per_minute(n: u32) -> Self {
        let interval = (n > 0).then(|| Duration::from_secs(60) / n);
        Self {
            interval,
            burst: Duration::from_secs(60),
            theoretical_arrival: Mutex::new(None),
        }
    }

    /// Takes one request's worth of budget, or says no.
    pub(crate) fn try_acquire(&self) -> bool {
        self.try_acquire_at(Instant::now())
    }

    fn try_acquire_at(&self, now: Instant) -> bool {
        let Some(interval) = self.interval else {
            return true;
        };
        let mut tat = self
            .theoretical_arrival
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let current = tat.map_or(now, |t| t.max(now));
        // Allowed when the schedule is no further ahead of now than the burst window.
        if current.saturating_duration_since(now) + interval > self.burst {
            return false;
        }
        *tat = Some(current + interval);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_the_budget_then_refuses_then_recovers() {
        let rate = RequestRate::per_minute(60);
        let start = Instant::now();
        let allowed = (0..100).filter(|_| rate.try_acquire_at(start)).count();
        assert_eq!(allowed, 60);
        assert!(!rate.try_acquire_at(start + Duration::from_millis(500)));
        assert!(rate.try_acquire_at(start + Duration::from_secs(1)));
        assert!(!rate.try_acquire_at(start + Duration::from_secs(1)));
    }

    #[test]
    fn zero_means_unlimited() {
        let rate = RequestRate::per_minute(0);
        assert!((0..10_000).all(|_| rate.try_acquire()));
    }
}
