//! Audit records for requests no job can be named for (no valid token): at most one
//! record per client address per [`STRANGER_WINDOW`], carrying how many such
//! refusals it stands for, so that token guessing shows in the audit log without
//! letting any local process flood it.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// One audit record per client address per this long.
pub(crate) const STRANGER_WINDOW: Duration = Duration::from_secs(60);
/// Client addresses remembered at most; beyond it the oldest windows are dropped.
const MAX_ADDRESSES: usize = 4096;

/// Refusals of unauthenticated requests, per client address.
#[derive(Debug, Default)]
pub(crate) struct Strangers {
    seen: Mutex<HashMap<IpAddr, Window>>,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    opened: Instant,
    /// Refusals since the last record.
    refused: u64,
}

impl Strangers {
    /// Counts one refusal from `peer`. `Some(n)`: write a record now, standing for
    /// `n` refusals (this one and those not recorded before it); `None`: a record
    /// for this address was written within the window, this refusal is counted in
    /// the next one.
    pub(crate) fn refused(&self, peer: IpAddr, now: Instant) -> Option<u64> {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if !seen.contains_key(&peer) && seen.len() >= MAX_ADDRESSES {
            seen.retain(|_, w| now.duration_since(w.opened) < STRANGER_WINDOW);
            if seen.len() >= MAX_ADDRESSES {
                // Every window is still open: forget the oldest half.
                let mut opened: Vec<Instant> = seen.values().map(|w| w.opened).collect();
                opened.sort_unstable();
                let cut = opened[opened.len() / 2];
                seen.retain(|_, w| w.opened > cut);
            }
        }
        let fresh = Window {
            opened: now,
            refused: 0,
        };
        match seen.get_mut(&peer) {
            Some(window) if now.duration_since(window.opened) < STRANGER_WINDOW => {
                window.refused += 1;
                None
            }
            Some(window) => {
                let count = window.refused + 1;
                *window = fresh;
                Some(count)
            }
            None => {
                seen.insert(peer, fresh);
                Some(1)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_record_per_address_per_window_with_the_count() {
        let strangers = Strangers::default();
        let a: IpAddr = [127, 0, 0, 1].into();
        let b: IpAddr = [127, 0, 0, 2].into();
        let t0 = Instant::now();
        assert_eq!(strangers.refused(a, t0), Some(1));
        for _ in 0..9 {
            assert_eq!(strangers.refused(a, t0 + Duration::from_secs(1)), None);
        }
        assert_eq!(strangers.refused(b, t0), Some(1));
        // The next record after the window stands for the ten refusals since.
        assert_eq!(strangers.refused(a, t0 + STRANGER_WINDOW), Some(10));
        assert_eq!(strangers.refused(a, t0 + STRANGER_WINDOW), None);
    }

    #[test]
    fn memory_is_bounded_under_many_addresses() {
        let strangers = Strangers::default();
        let now = Instant::now();
        for i in 0..(3 * MAX_ADDRESSES as u32) {
            let ip: IpAddr = std::net::Ipv6Addr::from(u128::from(i)).into();
            assert_eq!(strangers.refused(ip, now), Some(1));
        }
        let seen = strangers.seen.lock().unwrap();
        assert!(seen.len() <= MAX_ADDRESSES, "{}", seen.len());
    }
}
