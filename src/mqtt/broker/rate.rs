//! A message budget per login (a token bucket), shared by all of that login's
//! connections: a phone or a camera platform that floods the broker is read more slowly
//! instead of being allowed to fill the dispatcher's queue or the dead-letter store.
//!
//! # Units
//! Rates are messages per second; budgets are messages.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use super::session::lock;
use super::Principal;

/// One login's bucket.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// Messages it may still send now; negative while it owes a pause.
    tokens: f64,
    /// When `tokens` was last brought up to date.
    at: Instant,
}

/// The buckets of every login that sent something recently.
#[derive(Debug)]
pub(crate) struct Rates {
    /// Refill rate; 0 = unlimited.
    per_sec: f64,
    /// Bucket size.
    burst: f64,
    /// By login.
    buckets: Mutex<HashMap<Principal, Bucket>>,
}

impl Rates {
    /// Buckets that refill at `per_sec` and hold `burst` (at least one message).
    pub fn new(per_sec: u32, burst: u32) -> Rates {
        Rates {
            per_sec: f64::from(per_sec),
            burst: f64::from(burst.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Spends one message of `who`'s budget; returns how long its connection should pause
    /// before it reads the next one, if the budget is overdrawn. Superusers never pause.
    pub fn spend(&self, who: &Principal, now: Instant) -> Option<Duration> {
        if self.per_sec <= 0.0 || matches!(who, Principal::Superuser(_)) {
            return None;
        }
        let mut buckets = lock(&self.buckets);
        let b = buckets.entry(who.clone()).or_insert(Bucket {
            tokens: self.burst,
            at: now,
        });
        let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
        b.tokens = (b.tokens + elapsed * self.per_sec).min(self.burst) - 1.0;
        b.at = now;
        (b.tokens < 0.0).then(|| Duration::from_secs_f64(-b.tokens / self.per_sec))
    }

    /// Forgets buckets that have refilled completely (they would start full anyway).
    pub fn forget_idle(&self, now: Instant) {
        if self.per_sec <= 0.0 {
            return;
        }
        let full_after = self.burst / self.per_sec;
        lock(&self.buckets)
            .retain(|_, b| now.saturating_duration_since(b.at).as_secs_f64() < full_after);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_login_past_its_burst_is_told_to_pause_for_what_it_owes() {
        let rates = Rates::new(10, 5);
        let w = Principal::Responder("w1".into());
        let t0 = Instant::now();
        for _ in 0..5 {
            assert_eq!(rates.spend(&w, t0), None);
        }
        let pause = rates.spend(&w, t0).expect("over budget");
        assert!((pause.as_secs_f64() - 0.1).abs() < 1e-9, "{pause:?}");
        // Another login has its own budget; a superuser has none.
        assert_eq!(rates.spend(&Principal::Responder("w2".into()), t0), None);
        assert_eq!(rates.spend(&Principal::Superuser("d".into()), t0), None);
        // A second later ten more are allowed (less the one owed).
        let t1 = t0 + Duration::from_secs(1);
        for _ in 0..4 {
            assert_eq!(rates.spend(&w, t1), None);
        }
    }
}
