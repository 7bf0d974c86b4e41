//! Counters shared by all simulated actors, and the final report.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::domain::LatLon;

/// Shared counters; one instance per run, behind an `Arc`.
#[derive(Debug, Default)]
pub struct Stats {
    /// Alerts published by sources.
    pub alerts_sent: AtomicU64,
    /// Alerts that could not be queued for publishing.
    pub alerts_failed: AtomicU64,
    /// Distinct tasks that reached a worker.
    pub tasks_received: AtomicU64,
    /// Task updates published by workers.
    pub updates_sent: AtomicU64,
    /// Offers the dispatcher confirmed as accepted.
    pub accepted: AtomicU64,
    /// Offers the dispatcher confirmed as rejected by the worker.
    pub rejected: AtomicU64,
    /// Confirmed `en_route` updates.
    pub en_route: AtomicU64,
    /// Confirmed `on_scene` updates.
    pub on_scene: AtomicU64,
    /// Confirmed `resolved` updates.
    pub resolved: AtomicU64,
    /// Updates the dispatcher refused (`.../update/rejected`).
    pub update_rejections: AtomicU64,
    /// Tasks withdrawn from a worker (empty retained payload) before it resolved them.
    pub withdrawn: AtomicU64,
    /// Location reports published.
    pub locations_sent: AtomicU64,
    /// Incidents closed by the simulated operator.
    pub incidents_closed: AtomicU64,
    latency: Mutex<Latency>,
}

#[derive(Debug, Default)]
struct Latency {
    /// Sent alerts not yet matched to a task, by alert id.
    by_id: HashMap<String, Instant>,
    /// Same alerts keyed by rounded location, for servers that rewrite descriptions.
    by_loc: HashMap<(i64, i64), String>,
    /// Incidents already measured, so re-offers do not count twice.
    seen_incidents: HashSet<String>,
    samples: Vec<Duration>,
}

/// Rounds a position to ~1 m so an alert and its task's location compare equal
/// even after a float round-trip through JSON and a database.
fn loc_key(p: LatLon) -> (i64, i64) {
    ((p.lat * 1e5).round() as i64, (p.lon * 1e5).round() as i64)
}

/// Marker embedded in simulated alert descriptions to match tasks to alerts.
pub const ALERT_TAG: &str = "[sim:";

/// Extracts the alert id from a description containing `[sim:<id>]`.
pub fn alert_tag(description: &str) -> Option<&str> {
    let start = description.find(ALERT_TAG)? + ALERT_TAG.len();
    let rest = &description[start..];
    let end = rest.find(']')?;
    Some(&rest[..end])
}

impl Stats {
    /// Increments a counter.
    pub fn inc(c: &AtomicU64) {
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// Remembers when an alert was sent, for latency matching.
    pub fn alert_sent(&self, alert_id: &str, location: Option<LatLon>, at: Instant) {
        if let Ok(mut l) = self.latency.lock() {
            l.by_id.insert(alert_id.to_string(), at);
            if let Some(p) = location {
                l.by_loc.insert(loc_key(p), alert_id.to_string());
            }
        }
    }

    /// Records the first task seen for an incident, matching it to its alert by
    /// description tag or, failing that, by location.
    pub fn task_seen(
        &self,
        incident_id: &str,
        description: &str,
        location: Option<LatLon>,
        at: Instant,
    ) {
        let Ok(mut l) = self.latency.lock() else {
            return;
        };
        if !l.seen_incidents.insert(incident_id.to_string()) {
            return;
        }
        let id = alert_tag(description)
            .map(str::to_string)
            .or_else(|| location.and_then(|p| l.by_loc.get(&loc_key(p)).cloned()));
        if let Some(id) = id {
            if let Some(sent) = l.by_id.remove(&id) {
                l.samples.push(at.saturating_duration_since(sent));
            }
        }
    }

    /// Snapshot of the counters as a report.
    pub fn report(&self) -> SimReport {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let mut samples = self
            .latency
            .lock()
            .map(|l| l.samples.clone())
            .unwrap_or_default();
        samples.sort();
        SimReport {
            alerts_sent: g(&self.alerts_sent),
            alerts_failed: g(&self.alerts_failed),
            tasks_received: g(&self.tasks_received),
            updates_sent: g(&self.updates_sent),
            accepted: g(&self.accepted),
            rejected: g(&self.rejected),
            en_route: g(&self.en_route),
            on_scene: g(&self.on_scene),
            resolved: g(&self.resolved),
            update_rejections: g(&self.update_rejections),
            withdrawn: g(&self.withdrawn),
            locations_sent: g(&self.locations_sent),
            incidents_closed: g(&self.incidents_closed),
            latency_samples: samples.len(),
            latency_p50: percentile(&samples, 0.50),
            latency_p99: percentile(&samples, 0.99),
            latency_max: samples.last().copied(),
        }
    }
}

/// Nearest-rank percentile of sorted samples.
fn percentile(sorted: &[Duration], q: f64) -> Option<Duration> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len()) - 1).copied()
}

/// Outcome of a simulation run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SimReport {
    /// Alerts published.
    pub alerts_sent: u64,
    /// Alerts that could not be queued.
    pub alerts_failed: u64,
    /// Distinct tasks received by workers.
    pub tasks_received: u64,
    /// Task updates published by workers.
    pub updates_sent: u64,
    /// Offers accepted (confirmed by the dispatcher).
    pub accepted: u64,
    /// Offers rejected (confirmed by the dispatcher).
    pub rejected: u64,
    /// `en_route` updates confirmed.
    pub en_route: u64,
    /// `on_scene` updates confirmed.
    pub on_scene: u64,
    /// `resolved` updates confirmed.
    pub resolved: u64,
    /// Updates the dispatcher refused.
    pub update_rejections: u64,
    /// Tasks withdrawn before being resolved.
    pub withdrawn: u64,
    /// Location reports published.
    pub locations_sent: u64,
    /// Incidents closed by the simulated operator.
    pub incidents_closed: u64,
    /// Number of alerts matched to their first task.
    pub latency_samples: usize,
    /// Median alert→first-task latency.
    pub latency_p50: Option<Duration>,
    /// 99th percentile alert→first-task latency.
    pub latency_p99: Option<Duration>,
    /// Worst alert→first-task latency.
    pub latency_max: Option<Duration>,
}

impl fmt::Display for SimReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = |d: Option<Duration>| match d {
            Some(d) => format!("{:.1} ms", d.as_secs_f64() * 1000.0),
            None => "-".to_string(),
        };
        let rows: [(&str, String); 17] = [
            ("alerts sent", self.alerts_sent.to_string()),
            ("alerts failed", self.alerts_failed.to_string()),
            ("tasks received", self.tasks_received.to_string()),
            ("updates sent", self.updates_sent.to_string()),
            ("accepted", self.accepted.to_string()),
            ("rejected", self.rejected.to_string()),
            ("en route", self.en_route.to_string()),
            ("on scene", self.on_scene.to_string()),
            ("resolved", self.resolved.to_string()),
            ("update rejections", self.update_rejections.to_string()),
            ("withdrawn", self.withdrawn.to_string()),
            ("locations sent", self.locations_sent.to_string()),
            ("incidents closed", self.incidents_closed.to_string()),
            ("latency samples", self.latency_samples.to_string()),
            ("latency p50", ms(self.latency_p50)),
            ("latency p99", ms(self.latency_p99)),
            ("latency max", ms(self.latency_max)),
        ];
        writeln!(f, "{:<20} {:>12}", "metric", "value")?;
        writeln!(f, "{:-<20} {:->12}", "", "")?;
        for (k, v) in rows {
            writeln!(f, "{k:<20} {v:>12}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_extraction() {
        assert_eq!(alert_tag("老人摔倒 / fall [sim:a-1]"), Some("a-1"));
        assert_eq!(alert_tag("no tag"), None);
        assert_eq!(alert_tag("[sim:unterminated"), None);
    }

    #[test]
    fn latency_matching_counts_first_task_once() {
        let s = Stats::default();
        let t0 = Instant::now();
        let p1 = LatLon::new(39.5, 106.7).unwrap();
        let p2 = LatLon::new(39.51, 106.71).unwrap();
        s.alert_sent("a1", Some(p1), t0);
        s.alert_sent("a2", Some(p2), t0);
        let t1 = t0 + Duration::from_millis(40);
        s.task_seen("inc-1", "x [sim:a1]", None, t1);
        s.task_seen("inc-1", "x [sim:a1]", None, t1 + Duration::from_secs(5));
        // Matched by location when the description was rewritten.
        s.task_seen("inc-2", "rewritten", Some(p2), t1);
        let r = s.report();
        assert_eq!(r.latency_samples, 2);
        assert_eq!(r.latency_max, Some(Duration::from_millis(40)));
    }

    #[test]
    fn percentiles() {
        let v: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&v, 0.5), Some(Duration::from_millis(50)));
        assert_eq!(percentile(&v, 0.99), Some(Duration::from_millis(99)));
        assert_eq!(percentile(&[], 0.5), None);
    }

    #[test]
    fn report_displays() {
        let text = SimReport::default().to_string();
        assert!(text.contains("alerts sent"));
        assert!(text.contains("latency p99"));
    }
}
