//! Camera health: reports from Frigate and stream probes are stored, a camera offline long
//! enough becomes a `camera_offline` incident (through the alert path), and the incident
//! closes when its cameras are back online.

use super::camera_watch::Overdue;
use super::{Change, Engine, DISPATCHER};
use crate::dispatch::OperatorAction;
use crate::domain::alert::{AlertPlace, NewAlert, SnapshotSource};
use crate::domain::camera_health::{self, CameraStatus, StreamFacts};
use crate::domain::{Ident, Severity};
use crate::store::{now_ms, CameraHealthRow, CameraStatusWrite, CameraStreamRow, Write};
use crate::views;

/// The alert that opens the incident of a camera offline too long (`None` when the camera
/// id cannot name an alert's camera).
fn offline_alert(overdue: &Overdue, now: i64) -> Option<NewAlert> {
    let (Ok(source), Ok(camera), Ok(severity)) = (
        Ident::parse(camera_health::SOURCE),
        Ident::parse(&overdue.camera_id),
        Severity::new(camera_health::INCIDENT_SEVERITY),
    ) else {
        return None;
    };
    let minutes = (now - overdue.since).max(0) / 60_000;
    Some(NewAlert {
        source_id: source,
        external_id: camera_health::external_id(&overdue.camera_id, overdue.since),
        kind: camera_health::INCIDENT_KIND.into(),
        severity,
        place: AlertPlace::Camera(camera.clone()),
        camera_id: Some(camera),
        time_ms: overdue.since,
        description: Some(format!(
            "camera {} offline for {minutes} min: {}",
            overdue.camera_id,
            overdue.last_error.as_deref().unwrap_or("no reason given")
        )),
        address: None,
        rendezvous: None,
        // The camera is down: there is nothing to grab.
        snapshot: SnapshotSource::None,
    })
}

impl Engine {
    /// A camera's health as Frigate or a probe reported it.
    pub(super) async fn on_camera_report(
        &mut self,
        camera_id: &str,
        online: bool,
        reason: Option<String>,
        at_ms: i64,
        stream: Option<StreamFacts>,
    ) {
        let status = if online {
            CameraStatus::Online
        } else {
            CameraStatus::Offline
        };
        let report = camera_health::Report { status, reason };
        self.on_camera_status(camera_id, &report, at_ms, stream.as_ref())
            .await;
    }

    /// Frigate went away: every camera it had reported becomes `unknown`.
    pub(super) async fn on_frigate_unavailable(&mut self, reason: String, at_ms: i64) {
        let report = camera_health::Report {
            status: CameraStatus::Unknown,
            reason: Some(reason),
        };
        for id in self.cameras.reported() {
            self.on_camera_status(&id, &report, at_ms, None).await;
        }
    }

    /// Applies a camera health report: stores it, (re)schedules or cancels the camera's
    /// incident, and closes its open `camera_offline` incident when it is back online.
    async fn on_camera_status(
        &mut self,
        camera_id: &str,
        report: &camera_health::Report,
        at_ms: i64,
        stream: Option<&StreamFacts>,
    ) {
        let Some(reported) = self.cameras.report(camera_id, report, at_ms) else {
            tracing::warn!(camera = %camera_id, "status of an unknown camera ignored");
            return;
        };
        let next = &reported.after;
        if reported.changed {
            tracing::info!(camera = %camera_id, status = %next.status, reason = ?report.reason, "camera status");
        }
        let mut change = Change::default();
        let health = CameraHealthRow {
            status: next.status,
            status_since: next.since,
            last_seen: next.last_seen,
            last_error: next.last_error.clone(),
        };
        // Only what an operator would notice; a report that merely confirms the status
        // (Frigate repeats them) is not worth an event.
        if reported.changed || reported.before.last_error != next.last_error {
            change.live.push((
                "camera",
                views::to_json(&views::camera_event(camera_id, &health)),
            ));
        }
        change.writes.push(Write::CameraStatus(CameraStatusWrite {
            camera_id: camera_id.to_owned(),
            health,
            at: at_ms,
            reason: report.reason.clone(),
            stream: stream.map(|f| CameraStreamRow::probed(f, at_ms)),
        }));
        if let Some(incident_id) = reported.close {
            if self.incidents.contains(&incident_id) {
                let back = Some("camera back online".into());
                let close = OperatorAction::Close;
                match self
                    .on_operator(&incident_id, close, DISPATCHER, back)
                    .await
                {
                    Ok(close) => {
                        change.writes.extend(close.writes);
                        change.publish.extend(close.publish);
                    }
                    Err(e) => {
                        tracing::warn!(camera = %camera_id, incident = %incident_id, error = %e, "could not close the camera_offline incident")
                    }
                }
            }
        }
        self.stage(change, |_| {});
    }

    /// Opens the `camera_offline` incidents that are due, through the alert path.
    pub(super) async fn open_due_cameras(&mut self) {
        let now = now_ms();
        for overdue in self.cameras.take_due(now) {
            let camera_id = overdue.camera_id.clone();
            let Some(alert) = offline_alert(&overdue, now) else {
                tracing::warn!(camera = %camera_id, "camera id unusable for an incident");
                continue;
            };
            match self.on_alert(alert).await {
                Ok((change, outcome)) => {
                    tracing::info!(camera = %camera_id, incident = %outcome.incident_id, duplicate = outcome.duplicate, "camera offline incident");
                    self.cameras.opened(&camera_id, &outcome.incident_id);
                    self.stage_own_alert(change, outcome);
                }
                Err(e) => {
                    tracing::error!(camera = %camera_id, error = %e, "could not open a camera_offline incident")
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_overdue_camera_raises_a_camera_offline_alert_that_repeats_as_a_duplicate() {
        let overdue = Overdue {
            camera_id: "cam-7".into(),
            since: 60_000,
            last_error: Some("Frigate detect offline".into()),
        };
        let alert = offline_alert(&overdue, 60_000 + 5 * 60_000 + 59_999);
        let alert = alert.unwrap_or_else(|| panic!("no alert"));
        assert_eq!(alert.kind, camera_health::INCIDENT_KIND);
        assert_eq!(alert.source_id.as_str(), camera_health::SOURCE);
        // One external id per offline spell: raised again after a restart, it is the same.
        assert_eq!(
            alert.external_id,
            camera_health::external_id("cam-7", 60_000)
        );
        assert_eq!(alert.time_ms, 60_000);
        assert_eq!(
            alert.description.as_deref(),
            Some("camera cam-7 offline for 5 min: Frigate detect offline")
        );
        assert!(matches!(alert.place, AlertPlace::Camera(ref c) if c.as_str() == "cam-7"));
        assert_eq!(alert.snapshot, SnapshotSource::None);
    }

    #[test]
    fn a_camera_id_that_is_no_ident_raises_nothing() {
        let overdue = Overdue {
            camera_id: "cam 7".into(),
            since: 0,
            last_error: None,
        };
        assert!(offline_alert(&overdue, 0).is_none());
    }
}
