//! The JSON shapes of stored things, shared by the API (`http`) and the live feed (`live`),
//! which must show an incident, a task or a timeline line the same way, and by the task
//! messages (snapshot links). Pure functions of rows; no I/O.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::clock::{now_ms, rfc3339};
use crate::config::Settings;
use crate::domain::ranking::Responder;
use crate::store::{CameraHealthRow, IncidentRow, SnapshotRow, TaskRow, TimelineRow};

// ---- the API's shapes, which the live feed's events reuse -----------------------------------

/// An incident, as `GET /api/v1/incidents` lists it (also the live feed's `incident` event),
/// `overdue` as of now.
pub fn incident(i: &IncidentRow) -> Value {
    incident_at(i, now_ms())
}

/// [`incident`] with `overdue` as of `now` (Unix ms).
pub fn incident_at(i: &IncidentRow, now: i64) -> Value {
    let due_at = i.milestones.due_at;
    json!({
        "id": i.id,
        "kind": i.kind,
        "severity": i.severity,
        "state": i.state,
        "location": { "lat": i.lat, "lon": i.lon },
        "zone_id": i.zone_id,
        "title": i.title,
        "description": i.description,
        "address": i.address,
        "rendezvous": i.rendezvous.as_deref().and_then(|r| serde_json::from_str::<Value>(r).ok()),
        "offers_made": i.offers_made,
        "created_at": rfc3339(i.created_at),
        "updated_at": rfc3339(i.updated_at),
        "due_at": due_at.map(rfc3339),
        "overdue": i.state.is_overdue(due_at, now),
        "rework_count": i.milestones.rework_count,
        "extension_count": i.milestones.extension_count,
        "suspension_count": i.milestones.suspension_count,
        "suspended_at": i.milestones.suspended_at.map(rfc3339),
        "extension_request": extension_request(i),
    })
}

/// The pending extension request of an incident, as the API shows it (null when none).
fn extension_request(i: &IncidentRow) -> Value {
    let parsed =
        i.milestones.extension_request.as_deref().and_then(|r| {
            serde_json::from_str::<crate::domain::closed_loop::ExtensionRequest>(r).ok()
        });
    match parsed {
        Some(r) => json!({
            "task_id": r.task_id,
            "responder_id": r.responder_id,
            "minutes": r.minutes,
            "reason": r.reason,
            "requested_at": rfc3339(r.requested_at),
        }),
        None => Value::Null,
    }
}

/// Public shape of a task (also the live feed's `task` event).
pub fn task(t: &TaskRow) -> Value {
    json!({
        "task_id": t.id,
        "responder_id": t.responder_id,
        "status": t.status,
        "version": t.version,
        "offered_at": rfc3339(t.offered_at),
        "respond_by": rfc3339(t.respond_by),
        "eta_secs": t.eta_secs,
        "distance_m": t.distance_m,
        "note": t.note,
    })
}

/// Public shape of a timeline line (also in the live feed's `timeline` event).
pub fn timeline_line(l: &TimelineRow) -> Value {
    json!({
        "at": rfc3339(l.at),
        "actor": l.actor,
        "from": l.from_state,
        "to": l.to_state,
        "note": l.note,
        "event": l.event,
    })
}

// ---- the live feed's events (`{"seq","type","data"}`; this is `data`) ----------------------

// The live feed's `incident` event is [`incident`] itself.

/// `task`: a task as in `GET /api/v1/incidents/{id}`'s `tasks`, plus its `incident_id`.
pub fn task_event(t: &TaskRow) -> Value {
    let mut v = task(t);
    if let Some(o) = v.as_object_mut() {
        o.insert("incident_id".into(), json!(t.incident_id));
    }
    v
}

/// `timeline`: the incident and the line as `GET /api/v1/incidents/{id}/timeline` shows it.
pub fn timeline_event(l: &TimelineRow) -> Value {
    json!({
        "incident_id": l.incident_id,
        "line": timeline_line(l),
    })
}

/// `camera`: a camera's health, with the fields (and Unix ms times) of
/// `GET /api/v1/cameras`.
pub fn camera_event(id: &str, h: &CameraHealthRow) -> Value {
    json!({
        "id": id,
        "status": h.status,
        "status_since": h.status_since,
        "last_seen": h.last_seen,
        "last_error": h.last_error,
    })
}

/// `responder`: duty, busy and the last fix.
pub fn responder_event(r: &Responder) -> Value {
    let status = if !r.on_duty {
        "off_duty"
    } else if r.busy {
        "busy"
    } else {
        "available"
    };
    json!({
        "id": r.id.as_str(),
        "kind": r.kind.to_string(),
        "zone_id": r.zone_id.as_ref().map(|z| z.as_str()),
        "on_duty": r.on_duty,
        "busy": r.busy,
        "status": status,
        "location": r.position.map(|p| json!({ "lat": p.lat, "lon": p.lon })),
        "fix_at": r.fix_at_ms.map(rfc3339),
    })
}

/// `responder` for one that was deleted.
pub fn responder_deleted_event(id: &str) -> Value {
    json!({ "id": id, "deleted": true })
}

// ---- snapshot files and their links ----------------------------------------------------------

/// Where snapshot files live (`<data folder>/snapshots/<incident>/<n>.jpg`) and the links
/// they are served at; shared by the service, the API and the task messages.
#[derive(Debug, Clone)]
pub struct SnapshotFiles {
    /// `<data folder>/snapshots`.
    dir: PathBuf,
    /// `http.public_url` without a trailing `/`; empty = links are paths.
    public_url: String,
}

impl SnapshotFiles {
    /// Files under `data_folder`, links under `public_url` (may be empty).
    pub fn new(data_folder: &Path, public_url: &str) -> SnapshotFiles {
        SnapshotFiles {
            dir: data_folder.join("snapshots"),
            public_url: public_url.trim_end_matches('/').to_owned(),
        }
    }

    /// As configured.
    pub fn from_settings(settings: &Settings) -> SnapshotFiles {
        let public_url = settings.http.public_url.as_ref().map_or("", |u| u.as_str());
        SnapshotFiles::new(&settings.data_folder(), public_url)
    }

    /// The file of snapshot `n` of `incident_id`; `None` for an id that could leave the
    /// snapshot folder (ours are `inc-<hex>`, so only a forged one would).
    pub fn path(&self, incident_id: &str, n: i64) -> Option<PathBuf> {
        let safe = !incident_id.is_empty()
            && incident_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        (safe && n >= 1).then(|| self.dir.join(incident_id).join(format!("{n}.jpg")))
    }

    /// The link of snapshot `n` of `incident_id`.
    pub fn url(&self, incident_id: &str, n: i64) -> String {
        format!(
            "{}/api/v1/incidents/{incident_id}/snapshots/{n}.jpg",
            self.public_url
        )
    }

    /// The public shape of a snapshot, in the API and in task messages.
    pub fn view(&self, s: &SnapshotRow) -> Value {
        json!({
            "n": s.n,
            "url": self.url(&s.incident_id, s.n),
            "camera_id": s.camera_id,
            "taken_at": rfc3339(s.taken_at),
            "source": s.source,
            "width": s.width,
            "height": s.height,
            "bytes": s.bytes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::IncidentState;
    use crate::store::Milestones;

    #[test]
    fn an_incident_shows_its_due_time_and_whether_it_is_overdue() {
        let mut i = IncidentRow {
            id: "inc-1".into(),
            kind: "fire".into(),
            severity: 1,
            state: IncidentState::Dispatching,
            lat: 30.5,
            lon: 114.3,
            zone_id: None,
            title: "fire".into(),
            description: None,
            address: None,
            rendezvous: None,
            offers_made: 0,
            manual: false,
            created_at: 0,
            updated_at: 0,
            last_alert_at: 0,
            milestones: Milestones {
                due_at: Some(3_600_000),
                ..Milestones::default()
            },
        };
        let v = incident_at(&i, 3_600_000);
        assert_eq!(v["due_at"], "1970-01-01T01:00:00.000Z");
        assert_eq!(v["overdue"], false);
        assert_eq!(incident_at(&i, 3_600_001)["overdue"], true);
        i.state = IncidentState::Closed;
        assert_eq!(incident_at(&i, 3_600_001)["overdue"], false);
        i.milestones.due_at = None;
        let v = incident_at(&i, 3_600_001);
        assert_eq!(
            (v["due_at"].clone(), v["overdue"].clone()),
            (Value::Null, json!(false))
        );
    }

    #[test]
    fn files_stay_in_their_folder_and_links_follow_the_public_url() {
        let f = SnapshotFiles::new(Path::new("/data"), "");
        assert_eq!(
            f.path("inc-0a1b", 2).unwrap(),
            Path::new("/data/snapshots/inc-0a1b/2.jpg")
        );
        assert_eq!(
            f.url("inc-0a1b", 2),
            "/api/v1/incidents/inc-0a1b/snapshots/2.jpg"
        );
        for bad in ["", "..", "a/b", "a\\b", "."] {
            assert!(f.path(bad, 1).is_none(), "{bad:?}");
        }
        assert!(f.path("inc-1", 0).is_none());
        let f = SnapshotFiles::new(Path::new("/data"), "https://gd.example/");
        assert_eq!(
            f.url("inc-1", 1),
            "https://gd.example/api/v1/incidents/inc-1/snapshots/1.jpg"
        );
    }
}
