//! Dropping repeats of one rule on one camera.

use std::collections::HashMap;
use std::time::Duration;

use super::COOLDOWN_MAX_KEYS;

/// Per-camera, per-rule suppression of repeats. A motion rule on a windy day flaps on and
/// off many times a minute; each "on" is a detection, but the dispatcher should open one
/// incident, not hundreds. The first detection is admitted; later ones are refused until
/// `window` has passed since the last admitted one (refused ones do not extend it, so a rule
/// that never stops flapping still raises one alert per window).
///
/// Memory is bounded: once the map reaches its key limit, entries older than the window are
/// forgotten, and if that is not enough the oldest ones go too (which at worst lets one
/// repeat through).
#[derive(Debug, Clone)]
pub struct Cooldown {
    /// Suppression window, ms.
    window_ms: u64,
    /// Most (camera, rule) pairs remembered.
    max_keys: usize,
    /// (camera, rule) → time of the last admitted detection, Unix ms.
    last: HashMap<(String, String), i64>,
}

impl Cooldown {
    /// A cooldown of `window` remembering up to [`COOLDOWN_MAX_KEYS`] pairs.
    pub fn new(window: Duration) -> Cooldown {
        Cooldown::with_max_keys(window, COOLDOWN_MAX_KEYS)
    }

    /// A cooldown of `window` remembering up to `max_keys` pairs (at least 2).
    pub fn with_max_keys(window: Duration, max_keys: usize) -> Cooldown {
        Cooldown {
            window_ms: u64::try_from(window.as_millis()).unwrap_or(u64::MAX),
            max_keys: max_keys.max(2),
            last: HashMap::new(),
        }
    }

    /// True if a detection of `rule` on `camera_id` at `now_ms` should raise an alert.
    /// Times are compared in both directions, so a detection slightly out of order is still
    /// a repeat, and a clock that jumped back by more than the window starts afresh.
    pub fn admit(&mut self, camera_id: &str, rule: &str, now_ms: i64) -> bool {
        let key = (camera_id.to_owned(), rule.to_owned());
        if let Some(&last) = self.last.get(&key) {
            if now_ms.abs_diff(last) < self.window_ms {
                return false;
            }
        } else if self.last.len() >= self.max_keys {
            self.prune(now_ms);
        }
        self.last.insert(key, now_ms);
        true
    }

    /// Number of (camera, rule) pairs remembered.
    pub fn len(&self) -> usize {
        self.last.len()
    }

    /// True when nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.last.is_empty()
    }

    /// Forgets expired entries, then, if more than half the limit is still in use, the
    /// oldest down to half. Halving puts the next prune at least `max_keys / 2` new pairs
    /// away, so its scan and sort cost little per call on average.
    fn prune(&mut self, now_ms: i64) {
        let window = self.window_ms;
        self.last.retain(|_, t| now_ms.abs_diff(*t) < window);
        let keep = self.max_keys / 2;
        if self.last.len() > keep {
            let mut by_age: Vec<(i64, (String, String))> =
                self.last.drain().map(|(k, t)| (t, k)).collect();
            by_age.sort_unstable_by_key(|(t, _)| *t);
            let excess = by_age.len() - keep;
            self.last = by_age
                .into_iter()
                .skip(excess)
                .map(|(t, k)| (k, t))
                .collect();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flapping_rule_is_admitted_once_per_window() {
        let mut c = Cooldown::new(Duration::from_secs(60));
        // On every 7 s for 10 minutes.
        let admitted: Vec<i64> = (0..600_000)
            .step_by(7_000)
            .filter(|&t| c.admit("cam-01", "YardMotion", t))
            .collect();
        let expected: Vec<i64> = (0..10).map(|i| i * 63_000).collect();
        assert_eq!(admitted, expected);
        assert_eq!(c.len(), 1);
    }

    #[test]
    fn cooldown_keys_are_independent_and_out_of_order_repeats_suppressed() {
        let mut c = Cooldown::new(Duration::from_secs(60));
        assert!(c.admit("cam-01", "rule-a", 1_000_000));
        assert!(c.admit("cam-01", "rule-b", 1_000_000));
        assert!(c.admit("cam-02", "rule-a", 1_000_000));
        assert!(!c.admit("cam-01", "rule-a", 1_030_000));
        assert!(!c.admit("cam-02", "rule-a", 1_059_999));
        // A detection a little earlier than the admitted one is still a repeat.
        assert!(!c.admit("cam-01", "rule-b", 999_000));
        assert!(c.admit("cam-01", "rule-a", 1_060_000));
        // A clock that jumped back by more than the window starts afresh.
        assert!(c.admit("cam-02", "rule-a", 0));
        assert_eq!(c.len(), 3);
    }

    #[test]
    fn cooldown_memory_stays_bounded() {
        // All within one window: nothing expires, the oldest go.
        let mut c = Cooldown::new(Duration::from_secs(60));
        for i in 0..100_000 {
            assert!(c.admit(&format!("cam-{i}"), "r", 1_000_000 + i / 10));
            assert!(c.len() <= COOLDOWN_MAX_KEYS);
        }
        // The newest are still remembered.
        assert!(!c.admit("cam-99999", "r", 1_010_000));

        // Spread over time: expired entries are forgotten.
        let mut c = Cooldown::with_max_keys(Duration::from_secs(60), 1_000);
        for i in 0..100_000i64 {
            assert!(c.admit("cam-01", &format!("rule-{i}"), i * 1_000));
            assert!(c.len() <= 1_000);
        }
        assert!(c.len() <= 1_000);
    }
}
