//! The registered cameras with their health, when each offline one becomes a
//! `camera_offline` incident, and which incident each one already has.
//!
//! Invariants, kept by every method here:
//! - a camera is due exactly when its health says so ([`camera_health::incident_due`]):
//!   every report moves or cancels its due time;
//! - an incident closes when the last of its cameras is back online (correlation may put
//!   several cameras on one incident).

use std::collections::{BTreeSet, HashMap};

use crate::domain::camera_health::{self, CameraStatus, Health};
use crate::domain::LatLon;

/// Cameras, their health and their offline incidents (see the module docs).
#[derive(Debug, Default)]
pub(super) struct CameraWatch {
    /// How long a camera stays offline before its incident opens, ms.
    offline_after_ms: i64,
    /// Camera id → position.
    positions: HashMap<String, LatLon>,
    /// Camera id → health, as last reported.
    health: HashMap<String, Health>,
    /// (due time, camera id) of offline cameras that become an incident then.
    due: BTreeSet<(i64, String)>,
    /// Camera id → its open `camera_offline` incident.
    incidents: HashMap<String, String>,
}

/// A camera as stored: id, position, health.
pub(super) type StoredCamera = (String, LatLon, Health);

/// What a report did to a camera.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Reported {
    /// The health before.
    pub(super) before: Health,
    /// The health after.
    pub(super) after: Health,
    /// The status changed (not a mere confirmation).
    pub(super) changed: bool,
    /// The camera was the last of its `camera_offline` incident still down: close it.
    pub(super) close: Option<String>,
}

/// A camera whose offline spell has lasted long enough for an incident.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Overdue {
    /// The camera.
    pub(super) camera_id: String,
    /// Offline since, Unix ms.
    pub(super) since: i64,
    /// Why, as last reported.
    pub(super) last_error: Option<String>,
}

impl CameraWatch {
    /// No cameras yet; an offline camera becomes an incident after `offline_after_ms`.
    pub(super) fn new(offline_after_ms: i64) -> CameraWatch {
        CameraWatch {
            offline_after_ms,
            ..CameraWatch::default()
        }
    }

    /// Everything from the store: the cameras with their health, and the open
    /// `camera_offline` incidents by camera. An offline camera's incident is due
    /// `offline_after` after it went offline, also across a restart.
    pub(super) fn load(&mut self, cameras: Vec<StoredCamera>, incidents: Vec<(String, String)>) {
        self.positions.clear();
        self.health.clear();
        for (id, at, health) in cameras {
            self.positions.insert(id.clone(), at);
            self.health.insert(id, health);
        }
        let after = self.offline_after_ms;
        self.due = self
            .health
            .iter()
            .filter_map(|(id, h)| camera_health::incident_due(h, after).map(|at| (at, id.clone())))
            .collect();
        self.incidents = incidents.into_iter().collect();
    }

    /// The cameras were edited: new ones start with their stored health, deleted ones are
    /// forgotten, known ones keep the health in memory, which may be ahead of the store.
    pub(super) fn refresh(&mut self, cameras: Vec<StoredCamera>) {
        self.positions.clear();
        for (id, at, stored) in cameras {
            self.positions.insert(id.clone(), at);
            self.health.entry(id).or_insert(stored);
        }
        let positions = &self.positions;
        self.health.retain(|id, _| positions.contains_key(id));
        self.due.retain(|(_, id)| positions.contains_key(id));
    }

    /// Where a registered camera is.
    pub(super) fn position(&self, camera_id: &str) -> Option<LatLon> {
        self.positions.get(camera_id).copied()
    }

    /// Applies a report to a registered camera (`None` for an unknown one): its due time
    /// moves with its health; one back online may close its incident.
    pub(super) fn report(
        &mut self,
        camera_id: &str,
        report: &camera_health::Report,
        at_ms: i64,
    ) -> Option<Reported> {
        if !self.positions.contains_key(camera_id) {
            return None;
        }
        let before = self.health.get(camera_id).cloned().unwrap_or_default();
        let (after, changed) = camera_health::apply(&before, report, at_ms);
        if let Some(due) = camera_health::incident_due(&before, self.offline_after_ms) {
            self.due.remove(&(due, camera_id.to_owned()));
        }
        if let Some(due) = camera_health::incident_due(&after, self.offline_after_ms) {
            self.due.insert((due, camera_id.to_owned()));
        }
        self.health.insert(camera_id.to_owned(), after.clone());
        let close = if report.status == CameraStatus::Online {
            self.back_online(camera_id)
        } else {
            None
        };
        Some(Reported {
            before,
            after,
            changed,
            close,
        })
    }

    /// The camera's incident, when no other camera on it is still offline.
    fn back_online(&mut self, camera_id: &str) -> Option<String> {
        let incident_id = self.incidents.remove(camera_id)?;
        let others_down = self.incidents.iter().any(|(cam, inc)| {
            *inc == incident_id
                && self
                    .health
                    .get(cam)
                    .is_some_and(|h| h.status == CameraStatus::Offline)
        });
        (!others_down).then_some(incident_id)
    }

    /// Cameras Frigate has reported on (status not `unknown`).
    pub(super) fn reported(&self) -> Vec<String> {
        self.health
            .iter()
            .filter(|(_, h)| h.status != CameraStatus::Unknown)
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// Takes the cameras due by `now` that are still offline, soonest first.
    pub(super) fn take_due(&mut self, now: i64) -> Vec<Overdue> {
        let mut overdue = Vec::new();
        while let Some((at, camera_id)) = self.due.first().cloned() {
            if at > now {
                break;
            }
            self.due.remove(&(at, camera_id.clone()));
            let Some(health) = self.health.get(&camera_id) else {
                continue;
            };
            if let (Some(since), CameraStatus::Offline) = (health.since, health.status) {
                overdue.push(Overdue {
                    last_error: health.last_error.clone(),
                    camera_id,
                    since,
                });
            }
        }
        overdue
    }

    /// The camera's offline incident is open (or was found again).
    pub(super) fn opened(&mut self, camera_id: &str, incident_id: &str) {
        self.incidents
            .insert(camera_id.to_owned(), incident_id.to_owned());
    }

    /// The next time a camera becomes due.
    pub(super) fn next_due(&self) -> Option<i64> {
        self.due.first().map(|(at, _)| *at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DELAY: i64 = 60_000;

    fn watch(ids: &[&str]) -> CameraWatch {
        let mut w = CameraWatch::new(DELAY);
        let cams = ids
            .iter()
            .map(|id| {
                let at = LatLon {
                    lat: 30.5,
                    lon: 114.3,
                };
                ((*id).to_owned(), at, Health::default())
            })
            .collect();
        w.load(cams, Vec::new());
        w
    }

    fn report(status: CameraStatus) -> camera_health::Report {
        camera_health::Report {
            status,
            reason: (status != CameraStatus::Online).then(|| "lost".to_owned()),
        }
    }

    #[test]
    fn an_offline_camera_is_due_after_the_delay_and_then_only_once() {
        let mut w = watch(&["c1"]);
        let r = w.report("c1", &report(CameraStatus::Offline), 1_000);
        assert!(r.is_some_and(|r| r.changed));
        assert_eq!(w.next_due(), Some(1_000 + DELAY));
        assert!(w.take_due(1_000 + DELAY - 1).is_empty());
        let due = w.take_due(1_000 + DELAY);
        assert_eq!(
            due,
            vec![Overdue {
                camera_id: "c1".into(),
                since: 1_000,
                last_error: Some("lost".into()),
            }]
        );
        assert!(w.take_due(i64::MAX).is_empty());
    }

    #[test]
    fn a_repeated_offline_report_keeps_the_due_time_and_online_cancels_it() {
        let mut w = watch(&["c1"]);
        w.report("c1", &report(CameraStatus::Offline), 1_000);
        let again = w.report("c1", &report(CameraStatus::Offline), 30_000);
        assert!(again.is_some_and(|r| !r.changed));
        assert_eq!(w.next_due(), Some(1_000 + DELAY));
        w.report("c1", &report(CameraStatus::Online), 40_000);
        assert_eq!(w.next_due(), None);
        assert!(w.take_due(i64::MAX).is_empty());
    }

    #[test]
    fn an_unknown_camera_is_ignored() {
        let mut w = watch(&["c1"]);
        assert!(w
            .report("nope", &report(CameraStatus::Offline), 1_000)
            .is_none());
        assert_eq!(w.next_due(), None);
    }

    #[test]
    fn a_shared_incident_closes_when_its_last_camera_is_back() {
        let mut w = watch(&["c1", "c2"]);
        w.report("c1", &report(CameraStatus::Offline), 1_000);
        w.report("c2", &report(CameraStatus::Offline), 1_000);
        w.opened("c1", "inc1");
        w.opened("c2", "inc1");
        let first = w.report("c1", &report(CameraStatus::Online), 5_000);
        assert_eq!(first.and_then(|r| r.close), None);
        let last = w.report("c2", &report(CameraStatus::Online), 6_000);
        assert_eq!(last.and_then(|r| r.close), Some("inc1".to_owned()));
    }

    #[test]
    fn deleted_cameras_are_forgotten_and_known_ones_keep_their_health() {
        let mut w = watch(&["c1", "c2"]);
        w.report("c1", &report(CameraStatus::Offline), 1_000);
        w.report("c2", &report(CameraStatus::Offline), 2_000);
        let at = LatLon {
            lat: 30.5,
            lon: 114.3,
        };
        w.refresh(vec![("c2".into(), at, Health::default())]);
        assert_eq!(w.position("c1"), None);
        assert_eq!(w.reported(), vec!["c2".to_owned()]);
        assert_eq!(w.next_due(), Some(2_000 + DELAY));
    }
}
