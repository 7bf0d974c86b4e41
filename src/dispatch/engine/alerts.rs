//! Alerts: a new alert opens an incident or joins a close one of its kind (correlation);
//! its snapshot is asked for once it is stored, and a stored snapshot goes into the open
//! tasks of its incident. The incident's state changes and timeline lines are written here
//! too, for every room.

use super::incident_book::Transition;
use super::{new_id, Change, Engine, DISPATCHER};
use crate::config::DeadlineSettings;
use crate::dispatch::messages::task_outgoing;
use crate::dispatch::{AlertOutcome, DispatchError, Reply, SnapshotRequest};
use crate::domain::alert::{AlertPlace, NewAlert, SnapshotSource};
use crate::domain::timeline::Event;
use crate::domain::{IncidentState, LatLon};
use crate::metrics::Metrics;
use crate::store::{
    now_ms, AlertRow, IncidentRow, Milestones, SnapshotRow, StoreError, TimelineRow, Write,
};

/// The incident's title: its kind in words, and the address when the alert has one.
fn title(alert: &NewAlert) -> String {
    let kind = alert.kind.replace('_', " ");
    match &alert.address {
        Some(a) => format!("{kind} — {a}"),
        None => kind,
    }
}

/// The incident a new alert opens at `at`, in zone `zone_id`, due as `deadlines` say.
fn new_incident(
    id: String,
    alert: &NewAlert,
    at: LatLon,
    zone_id: Option<String>,
    deadlines: &DeadlineSettings,
    now: i64,
) -> IncidentRow {
    let severity = i64::from(alert.severity.get());
    IncidentRow {
        id,
        kind: alert.kind.clone(),
        severity,
        state: IncidentState::New,
        lat: at.lat,
        lon: at.lon,
        zone_id,
        title: title(alert),
        description: alert.description.clone(),
        address: alert.address.clone(),
        rendezvous: alert
            .rendezvous
            .as_ref()
            .and_then(|r| serde_json::to_string(r).ok()),
        offers_made: 0,
        manual: false,
        created_at: now,
        updated_at: now,
        last_alert_at: now,
        milestones: Milestones {
            due_at: Some(deadlines.due_at(&alert.kind, severity, now)),
            source_id: Some(alert.source_id.to_string()),
            ..Milestones::default()
        },
    }
}

/// The snapshot an alert from `camera_id` asks for, if any. A repeated Frigate event may
/// bring the picture the first message did not have; any other repeat has nothing new. A
/// photo sent with a report is kept under the reporting source (`field:<responder>`).
fn wanted_snapshot(
    camera_id: Option<String>,
    source: SnapshotSource,
    outcome: &AlertOutcome,
) -> Option<SnapshotRequest> {
    let camera_id = camera_id?;
    let fresh = !outcome.duplicate || matches!(source, SnapshotSource::Frigate { .. });
    (fresh && source != SnapshotSource::None).then(|| SnapshotRequest {
        incident_id: outcome.incident_id.clone(),
        camera_id,
        source,
    })
}

/// Counts a stored alert.
fn count_alert(metrics: &Metrics, outcome: &AlertOutcome) {
    metrics.alerts_total.inc();
    if outcome.correlated {
        metrics.alerts_correlated_total.inc();
    } else {
        metrics.incidents_opened_total.inc();
    }
}

impl Engine {
    /// An alert from a source, which arrived at `arrived`: decided now, answered once
    /// stored.
    pub(super) async fn on_alert_command(
        &mut self,
        alert: NewAlert,
        arrived: std::time::Instant,
        reply: Reply<AlertOutcome>,
    ) {
        let source = alert.snapshot.clone();
        let camera_id = match source {
            SnapshotSource::Photo(_) => Some(alert.source_id.to_string()),
            _ => alert.camera_id.as_ref().map(|c| c.to_string()),
        };
        match self.on_alert(alert).await {
            Ok((mut change, outcome)) => {
                // Its incident's first offer, when it opened one and offered it at once.
                if let Some(c) = change.as_mut().filter(|_| !outcome.correlated) {
                    if c.writes.iter().any(|w| matches!(w, Write::InsertTask(_))) {
                        c.first_offer_of = Some((arrived, tracing::Span::current()));
                    }
                }
                if let Some(req) = wanted_snapshot(camera_id, source, &outcome) {
                    self.batch.snapshots.push(req);
                }
                self.stage_alert(change, outcome, reply);
            }
            Err(e) => {
                let _ = reply.send(Err(e));
            }
        }
    }

    /// Stages an alert's change (none for a duplicate, which is answered at once); the
    /// caller hears once it is stored.
    fn stage_alert(
        &mut self,
        change: Option<Change>,
        outcome: AlertOutcome,
        reply: Reply<AlertOutcome>,
    ) {
        let Some(change) = change else {
            let _ = reply.send(Ok(outcome));
            return;
        };
        let metrics = self.metrics.clone();
        self.stage(change, move |stored| {
            let _ = reply.send(if stored {
                count_alert(&metrics, &outcome);
                Ok(outcome)
            } else {
                Err(DispatchError::Store(StoreError::Conflict(
                    "the alert could not be stored; try again".into(),
                )))
            });
        });
    }

    /// Stages the change of an alert the dispatcher raised itself (nobody to answer); it
    /// is counted once stored.
    pub(super) fn stage_own_alert(&mut self, change: Option<Change>, outcome: AlertOutcome) {
        let Some(change) = change else {
            return;
        };
        let metrics = self.metrics.clone();
        self.stage(change, move |stored| {
            if stored {
                count_alert(&metrics, &outcome);
            }
        });
    }

    /// Opens or joins an incident. Returns the change to stage (none for a duplicate).
    pub(super) async fn on_alert(
        &mut self,
        alert: NewAlert,
    ) -> Result<(Option<Change>, AlertOutcome), DispatchError> {
        let key = (alert.source_id.to_string(), alert.external_id.clone());
        let earlier = match self.batch.alerts.get(&key) {
            Some(ids) => Some(ids.clone()),
            None => self
                .store
                .find_alert(alert.source_id.as_str(), &alert.external_id)
                .await?
                .map(|old| (old.id, old.incident_id)),
        };
        if let Some((alert_id, incident_id)) = earlier {
            self.metrics.alerts_duplicate_total.inc();
            let outcome = AlertOutcome {
                alert_id,
                incident_id,
                duplicate: true,
                correlated: false,
            };
            return Ok((None, outcome));
        }
        let at = match &alert.place {
            AlertPlace::Point(p) => *p,
            AlertPlace::Camera(cam) => self.cameras.position(cam.as_str()).ok_or_else(|| {
                DispatchError::Invalid(format!("camera_id: unknown camera {cam}"))
            })?,
        };
        let now = now_ms();
        let actor = format!("source:{}", alert.source_id);
        let severity = i64::from(alert.severity.get());
        let mut change = Change::default();
        let alert_id = new_id("alr");
        let (incident_id, correlated) =
            match self
                .incidents
                .correlate(&self.correlation, &alert.kind, at, now)
            {
                Some(id) => {
                    let Some(incident) =
                        self.incidents
                            .join_alert(&id, severity, &self.deadlines, now)
                    else {
                        return Err(DispatchError::NotFound(format!("incident {id}")));
                    };
                    change.writes.push(Write::UpdateIncident(incident));
                    let linked = Event::AlertLinked {
                        alert: alert.external_id.clone(),
                    };
                    self.record(&id, &actor, linked, &mut change, now);
                    (id, true)
                }
                None => {
                    let id = new_id("inc");
                    let zone_id = self.zones.locate(at).map(|z| z.id.to_string());
                    let incident =
                        new_incident(id.clone(), &alert, at, zone_id, &self.deadlines, now);
                    change.writes.push(Write::InsertIncident(incident.clone()));
                    let opened = Event::AlertOpened {
                        alert: alert.external_id.clone(),
                    };
                    let states = (None, IncidentState::New);
                    let line = TimelineRow::new(&id, now, &actor, states, Some(opened));
                    change.writes.push(Write::Timeline(line));
                    self.incidents.open(incident);
                    (id, false)
                }
            };
        change.writes.push(Write::InsertAlert(AlertRow {
            id: alert_id.clone(),
            source_id: alert.source_id.to_string(),
            external_id: alert.external_id.clone(),
            incident_id: incident_id.clone(),
            kind: alert.kind.clone(),
            severity,
            lat: at.lat,
            lon: at.lon,
            camera_id: alert.camera_id.as_ref().map(|c| c.to_string()),
            time: alert.time_ms,
            received_at: now,
            description: alert.description.clone(),
            address: alert.address.clone(),
        }));
        if !correlated {
            self.offer_next(&incident_id, &mut change, now);
        }
        self.batch
            .alerts
            .insert(key, (alert_id.clone(), incident_id.clone()));
        tracing::info!(alert = %alert.external_id, source = %alert.source_id, incident = %incident_id, correlated, "alert received");
        let outcome = AlertOutcome {
            alert_id,
            incident_id,
            duplicate: false,
            correlated,
        };
        Ok((Some(change), outcome))
    }

    /// A snapshot was stored: its link goes into every open task of the incident (a new
    /// version, published retained). One that failed leaves its reason on the timeline.
    pub(super) fn on_snapshot(
        &mut self,
        incident_id: &str,
        camera_id: &str,
        result: Result<SnapshotRow, String>,
    ) {
        if !self.incidents.contains(incident_id) {
            // Closed or cancelled meanwhile: the snapshot stays listed, nobody to tell.
            return;
        }
        let now = now_ms();
        let mut change = Change::default();
        let row = match result {
            Ok(row) => row,
            Err(why) => {
                let failed = Event::SnapshotFailed {
                    camera: camera_id.to_owned(),
                    reason: why,
                };
                self.record(incident_id, DISPATCHER, failed, &mut change, now);
                self.stage(change, |_| {});
                return;
            }
        };
        let taken = Event::Snapshot {
            n: row.n,
            camera: camera_id.to_owned(),
            source: row.source.clone(),
        };
        self.record(incident_id, DISPATCHER, taken, &mut change, now);
        // The incident is open (checked above), so the snapshot is kept.
        self.incidents.add_snapshot(SnapshotRow {
            incident_id: incident_id.to_owned(),
            ..row
        });
        let Some(incident) = self.incidents.get(incident_id) else {
            return;
        };
        let snapshots = self.incidents.snapshots(incident_id);
        for task in self.offers.touch_incident(incident_id, now) {
            change.publish.push(task_outgoing(
                &task,
                incident,
                snapshots,
                &self.snapshot_files,
            ));
            change.writes.push(Write::UpdateTask(task));
        }
        self.stage(change, |_| {});
    }

    /// Moves an incident to `to`, recording it; refuses silently (with a log) if illegal.
    /// A closed or cancelled incident takes its exclusions with it.
    pub(super) fn set_state(
        &mut self,
        incident_id: &str,
        to: IncidentState,
        actor: &str,
        event: Option<Event>,
        change: &mut Change,
        now: i64,
    ) -> bool {
        let (from, incident) = match self.incidents.transition(incident_id, to, now) {
            Transition::Missing => return false,
            Transition::Refused(from) => {
                tracing::debug!(incident = incident_id, %from, %to, "state change skipped");
                return false;
            }
            Transition::Moved(from, incident) => (from, incident),
        };
        tracing::info!(incident = incident_id, %from, %to, actor, "incident state");
        change.writes.push(Write::UpdateIncident(*incident));
        let states = (Some(from), to);
        let line = TimelineRow::new(incident_id, now, actor, states, event);
        change.writes.push(Write::Timeline(line));
        if to == IncidentState::Closed && from == IncidentState::Resolved {
            // Closed after its resolution was verified (or found good by an operator's
            // close): the deed earns, in the same transaction (docs/points.md).
            change.writes.push(Write::Earn {
                incident_id: incident_id.to_owned(),
                at_ms: now,
                settings: self.points.clone(),
            });
        }
        if to.is_terminal() {
            self.offers.forget_incident(incident_id);
        }
        true
    }

    /// A timeline line that records an event without a state change.
    pub(super) fn record(
        &self,
        incident_id: &str,
        actor: &str,
        event: Event,
        change: &mut Change,
        now: i64,
    ) {
        let Some(state) = self.incidents.get(incident_id).map(|i| i.state) else {
            return;
        };
        let states = (Some(state), state);
        let line = TimelineRow::new(incident_id, now, actor, states, Some(event));
        change.writes.push(Write::Timeline(line));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Ident, Severity};

    fn alert() -> NewAlert {
        NewAlert {
            source_id: Ident::parse("frigate").unwrap_or_else(|e| panic!("{e}")),
            external_id: "e1".into(),
            kind: "illegal_dumping".into(),
            severity: Severity::new(2).unwrap_or_else(|e| panic!("{e}")),
            place: AlertPlace::Point(LatLon {
                lat: 30.5,
                lon: 114.3,
            }),
            camera_id: None,
            time_ms: 0,
            description: None,
            address: Some("Jiefang Rd 3".into()),
            rendezvous: None,
            snapshot: SnapshotSource::None,
        }
    }

    fn outcome(duplicate: bool) -> AlertOutcome {
        AlertOutcome {
            alert_id: "alr-1".into(),
            incident_id: "inc-1".into(),
            duplicate,
            correlated: false,
        }
    }

    #[test]
    fn a_new_camera_alert_asks_for_a_snapshot_a_repeat_only_for_frigate() {
        let cam = || Some("cam1".to_owned());
        let req = wanted_snapshot(cam(), SnapshotSource::Stream, &outcome(false));
        assert_eq!(
            req.map(|r| (r.incident_id, r.camera_id)),
            Some(("inc-1".to_owned(), "cam1".to_owned()))
        );
        assert_eq!(
            wanted_snapshot(cam(), SnapshotSource::Stream, &outcome(true)),
            None
        );
        let frigate = || SnapshotSource::Frigate {
            event_id: "ev".into(),
        };
        assert!(wanted_snapshot(cam(), frigate(), &outcome(true)).is_some());
        assert_eq!(
            wanted_snapshot(cam(), SnapshotSource::None, &outcome(false)),
            None
        );
        assert_eq!(
            wanted_snapshot(None, SnapshotSource::Stream, &outcome(false)),
            None
        );
    }

    #[test]
    fn a_new_incident_is_new_with_its_alerts_facts_and_a_readable_title() {
        let a = alert();
        let at = LatLon {
            lat: 30.5,
            lon: 114.3,
        };
        let deadlines = DeadlineSettings {
            sev1_secs: 60,
            sev2_secs: 600,
            sev3_secs: 6000,
            sev4_secs: 60000,
            kinds: [("fire".to_owned(), 30)].into_iter().collect(),
        };
        let i = new_incident("inc-1".into(), &a, at, Some("z1".into()), &deadlines, 42);
        assert_eq!(i.state, IncidentState::New);
        assert_eq!(i.title, "illegal dumping — Jiefang Rd 3");
        assert_eq!((i.severity, i.offers_made, i.manual), (2, 0, false));
        assert_eq!((i.created_at, i.last_alert_at), (42, 42));
        assert_eq!(i.zone_id.as_deref(), Some("z1"));
        // Severity 2: due 600 s after it opened; a kind with its own deadline keeps it.
        assert_eq!(i.milestones.due_at, Some(42 + 600_000));
        let fire = NewAlert {
            kind: "fire".into(),
            ..alert()
        };
        let i = new_incident("inc-2".into(), &fire, at, None, &deadlines, 42);
        assert_eq!(i.milestones.due_at, Some(42 + 30_000));
    }
}
