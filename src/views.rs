//! The JSON shapes of stored things, shared by the API (`http`) and the live feed (`live`),
//! which must show an incident, a task or a timeline line the same way, and by the task
//! messages (snapshot links). Typed, so the API's OpenAPI document describes them from the
//! same structs that are sent; pure functions of rows, no I/O.

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::clock::{now_ms, rfc3339};
use crate::config::Settings;
use crate::domain::alert::Rendezvous;
use crate::domain::camera_health::CameraStatus;
use crate::domain::ranking::Responder;
use crate::domain::timeline::Event;
use crate::domain::{IncidentState, LatLon, ResponderKind, TaskStatus};
use crate::store::{CameraHealthRow, IncidentRow, SnapshotRow, TaskRow, TimelineRow};

// ---- the API's shapes, which the live feed's events reuse -----------------------------------

/// An incident, as `GET /api/v1/incidents` lists it (also the live feed's `incident` event).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct IncidentView {
    /// Its id (`inc-…`).
    pub id: String,
    /// What happened (`fire`, `fall`, …).
    pub kind: String,
    /// 1 (most urgent) to 4.
    pub severity: i64,
    /// Where it stands.
    pub state: IncidentState,
    /// Where it is.
    pub location: LatLon,
    /// The zone containing it.
    pub zone_id: Option<String>,
    /// Short title.
    pub title: String,
    /// The first alert's description.
    pub description: Option<String>,
    /// Address text.
    pub address: Option<String>,
    /// Where a responder should meet someone.
    pub rendezvous: Option<Rendezvous>,
    /// Offers made so far.
    pub offers_made: i64,
    /// Opened (RFC 3339).
    pub created_at: String,
    /// Last change (RFC 3339).
    pub updated_at: String,
    /// When it must be closed by (处置时限, RFC 3339); null for incidents from before
    /// deadlines.
    pub due_at: Option<String>,
    /// Still open and past `due_at`, as of the answer (or the event).
    pub overdue: bool,
    /// Times its work was sent back (返工).
    pub rework_count: i64,
    /// Extensions granted (延期).
    pub extension_count: i64,
    /// Times it was suspended (缓办).
    pub suspension_count: i64,
    /// While suspended: since when (RFC 3339).
    pub suspended_at: Option<String>,
    /// The pending request for more time, if any.
    pub extension_request: Option<ExtensionRequestView>,
}

/// A worker's pending request for more time (延期).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ExtensionRequestView {
    /// The task it was asked under.
    pub task_id: String,
    /// Who asked.
    pub responder_id: String,
    /// Minutes asked for.
    pub minutes: u32,
    /// Why.
    pub reason: String,
    /// When (RFC 3339).
    pub requested_at: String,
}

/// An incident as the API shows it, `overdue` as of now.
pub fn incident(i: &IncidentRow) -> IncidentView {
    incident_at(i, now_ms())
}

/// [`incident`] with `overdue` as of `now` (Unix ms).
pub fn incident_at(i: &IncidentRow, now: i64) -> IncidentView {
    let due_at = i.milestones.due_at;
    IncidentView {
        id: i.id.clone(),
        kind: i.kind.clone(),
        severity: i.severity,
        state: i.state,
        location: LatLon {
            lat: i.lat,
            lon: i.lon,
        },
        zone_id: i.zone_id.clone(),
        title: i.title.clone(),
        description: i.description.clone(),
        address: i.address.clone(),
        // Stored as the JSON of a `Rendezvous`; one that does not read shows as none.
        rendezvous: i
            .rendezvous
            .as_deref()
            .and_then(|r| serde_json::from_str(r).ok()),
        offers_made: i.offers_made,
        created_at: rfc3339(i.created_at),
        updated_at: rfc3339(i.updated_at),
        due_at: due_at.map(rfc3339),
        overdue: i.state.is_overdue(due_at, now),
        rework_count: i.milestones.rework_count,
        extension_count: i.milestones.extension_count,
        suspension_count: i.milestones.suspension_count,
        suspended_at: i.milestones.suspended_at.map(rfc3339),
        extension_request: extension_request(i),
    }
}

/// The pending extension request of an incident (none when none, or unreadable).
fn extension_request(i: &IncidentRow) -> Option<ExtensionRequestView> {
    let r = i.milestones.extension_request.as_deref().and_then(|r| {
        serde_json::from_str::<crate::domain::closed_loop::ExtensionRequest>(r).ok()
    })?;
    Some(ExtensionRequestView {
        task_id: r.task_id,
        responder_id: r.responder_id,
        minutes: r.minutes,
        reason: r.reason,
        requested_at: rfc3339(r.requested_at),
    })
}

/// A task (one offer to one responder), as in `GET /api/v1/incidents/{id}`'s `tasks`.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct TaskView {
    /// Its id.
    pub task_id: String,
    /// Who it was offered to.
    pub responder_id: String,
    /// Where it stands.
    pub status: TaskStatus,
    /// Bumped on every change the responder sees.
    pub version: i64,
    /// Offered (RFC 3339).
    pub offered_at: String,
    /// The answer's deadline (RFC 3339).
    pub respond_by: String,
    /// Travel estimate at offer time, seconds.
    pub eta_secs: Option<f64>,
    /// Distance at offer time, metres.
    pub distance_m: Option<f64>,
    /// The last note (a reject reason, a resolution note, an operator's note).
    pub note: Option<String>,
}

/// Public shape of a task.
pub fn task(t: &TaskRow) -> TaskView {
    TaskView {
        task_id: t.id.clone(),
        responder_id: t.responder_id.clone(),
        status: t.status,
        version: t.version,
        offered_at: rfc3339(t.offered_at),
        respond_by: rfc3339(t.respond_by),
        eta_secs: t.eta_secs,
        distance_m: t.distance_m,
        note: t.note.clone(),
    }
}

/// One line of an incident's timeline, as `GET /api/v1/incidents/{id}/timeline` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct TimelineLine {
    /// When (RFC 3339).
    pub at: String,
    /// Who: `dispatcher`, `responder:<id>`, `operator:<name>`, `source:<id>`.
    pub actor: String,
    /// The state before (null on the first line).
    pub from: Option<IncidentState>,
    /// The state after.
    pub to: IncidentState,
    /// The line in English.
    pub note: Option<String>,
    /// What happened, as a code with parameters (null on lines from before codes).
    pub event: Option<Event>,
}

/// Public shape of a timeline line.
pub fn timeline_line(l: &TimelineRow) -> TimelineLine {
    TimelineLine {
        at: rfc3339(l.at),
        actor: l.actor.clone(),
        from: l.from_state,
        to: l.to_state,
        note: l.note.clone(),
        event: l.event.clone(),
    }
}

// ---- the live feed's events (`{"seq","type","data"}`; this is `data`) ----------------------

// The live feed's `incident` event is [`IncidentView`] itself.

/// The live feed's `task` event: a task as in `GET /api/v1/incidents/{id}`'s `tasks`,
/// plus its `incident_id`.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct TaskEvent {
    /// The task.
    #[serde(flatten)]
    pub task: TaskView,
    /// Its incident.
    pub incident_id: String,
}

/// `task`: a task and its incident.
pub fn task_event(t: &TaskRow) -> TaskEvent {
    TaskEvent {
        task: task(t),
        incident_id: t.incident_id.clone(),
    }
}

/// The live feed's `timeline` event: the incident and the line as
/// `GET /api/v1/incidents/{id}/timeline` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct TimelineEvent {
    /// The incident.
    pub incident_id: String,
    /// The new line.
    pub line: TimelineLine,
}

/// `timeline`: a new line of an incident's timeline.
pub fn timeline_event(l: &TimelineRow) -> TimelineEvent {
    TimelineEvent {
        incident_id: l.incident_id.clone(),
        line: timeline_line(l),
    }
}

/// The live feed's `camera` event: a camera's health, with the fields (and Unix ms times)
/// of `GET /api/v1/cameras`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct CameraEvent {
    /// The camera.
    pub id: String,
    /// `online`, `offline` or `unknown`.
    pub status: CameraStatus,
    /// When it took that status, Unix ms (null if never reported).
    pub status_since: Option<i64>,
    /// When it was last seen working, Unix ms.
    pub last_seen: Option<i64>,
    /// Why it last went offline or unknown.
    pub last_error: Option<String>,
}

/// `camera`: a camera's health.
pub fn camera_event(id: &str, h: &CameraHealthRow) -> CameraEvent {
    CameraEvent {
        id: id.to_owned(),
        status: h.status,
        status_since: h.status_since,
        last_seen: h.last_seen,
        last_error: h.last_error.clone(),
    }
}

/// Whether a responder can be offered work now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ResponderStatus {
    /// On duty and free.
    Available,
    /// On duty, with a task.
    Busy,
    /// Off duty.
    OffDuty,
}

/// The live feed's `responder` event: duty, busy and the last fix.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ResponderEvent {
    /// The responder.
    pub id: String,
    /// What kind of responder.
    pub kind: ResponderKind,
    /// Their own zone.
    pub zone_id: Option<String>,
    /// On duty.
    pub on_duty: bool,
    /// Holding a task.
    pub busy: bool,
    /// `on_duty` and `busy` in one word.
    pub status: ResponderStatus,
    /// The last position, if any.
    pub location: Option<LatLon>,
    /// When that position was taken (RFC 3339).
    pub fix_at: Option<String>,
}

/// `responder`: a responder's duty, busy flag and last fix.
pub fn responder_event(r: &Responder) -> ResponderEvent {
    let status = if !r.on_duty {
        ResponderStatus::OffDuty
    } else if r.busy {
        ResponderStatus::Busy
    } else {
        ResponderStatus::Available
    };
    ResponderEvent {
        id: r.id.as_str().to_owned(),
        kind: r.kind,
        zone_id: r.zone_id.as_ref().map(|z| z.as_str().to_owned()),
        on_duty: r.on_duty,
        busy: r.busy,
        status,
        location: r.position,
        fix_at: r.fix_at_ms.map(rfc3339),
    }
}

/// The live feed's `responder` event for one that was deleted: `{id, deleted: true}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ResponderDeletedEvent {
    /// The responder.
    pub id: String,
    /// Always true.
    pub deleted: bool,
}

/// `responder` for one that was deleted.
pub fn responder_deleted_event(id: &str) -> ResponderDeletedEvent {
    ResponderDeletedEvent {
        id: id.to_owned(),
        deleted: true,
    }
}

/// A view as a JSON value, where one is needed: the live feed's `data`, a part of a task
/// message. The views serialise to objects of plain fields, which cannot fail; were one
/// to, the failure is logged and the value is null rather than stop the engine.
pub fn to_json(view: &impl Serialize) -> Value {
    serde_json::to_value(view).unwrap_or_else(|e| {
        tracing::error!(error = %e, "a live event did not serialise");
        Value::Null
    })
}

// ---- snapshot files and their links ----------------------------------------------------------

/// A snapshot of an incident, in the API and in task messages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct SnapshotView {
    /// Its number within the incident (1, 2, …).
    pub n: i64,
    /// Where the JPEG is served (under `http.public_url` when set).
    pub url: String,
    /// The camera (`field:<responder>` for a phone's photo).
    pub camera_id: String,
    /// When it was taken (RFC 3339).
    pub taken_at: String,
    /// Where it came from (`frigate`, `onvif`, `rtsp`, `field`, …).
    pub source: String,
    /// Pixels, when known.
    pub width: Option<i64>,
    /// Pixels, when known.
    pub height: Option<i64>,
    /// Size of the JPEG.
    pub bytes: i64,
}

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
    pub fn view(&self, s: &SnapshotRow) -> SnapshotView {
        SnapshotView {
            n: s.n,
            url: self.url(&s.incident_id, s.n),
            camera_id: s.camera_id.clone(),
            taken_at: rfc3339(s.taken_at),
            source: s.source.clone(),
            width: s.width,
            height: s.height,
            bytes: s.bytes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Milestones;
    use serde_json::json;

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
        let v = to_json(&incident_at(&i, 3_600_000));
        assert_eq!(v["due_at"], "1970-01-01T01:00:00.000Z");
        assert_eq!(v["overdue"], false);
        assert!(incident_at(&i, 3_600_001).overdue);
        i.state = IncidentState::Closed;
        assert!(!incident_at(&i, 3_600_001).overdue);
        i.milestones.due_at = None;
        let v = to_json(&incident_at(&i, 3_600_001));
        assert_eq!(
            (v["due_at"].clone(), v["overdue"].clone()),
            (Value::Null, json!(false))
        );
        // Every field is there, unknown ones as null (clients read the keys).
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "address",
                "created_at",
                "description",
                "due_at",
                "extension_count",
                "extension_request",
                "id",
                "kind",
                "location",
                "offers_made",
                "overdue",
                "rendezvous",
                "rework_count",
                "severity",
                "state",
                "suspended_at",
                "suspension_count",
                "title",
                "updated_at",
                "zone_id"
            ]
        );
        i.rendezvous = Some(r#"{"lat":1.5,"lon":2.0,"note":"gate"}"#.into());
        i.milestones.extension_request = Some(
            r#"{"task_id":"t1","responder_id":"w1","minutes":30,"reason":"rain","requested_at":0}"#
                .into(),
        );
        let v = to_json(&incident_at(&i, 0));
        assert_eq!(v["location"], json!({"lat": 30.5, "lon": 114.3}));
        assert_eq!(
            v["rendezvous"],
            json!({"lat": 1.5, "lon": 2.0, "note": "gate"})
        );
        assert_eq!(
            v["extension_request"],
            json!({"task_id": "t1", "responder_id": "w1", "minutes": 30, "reason": "rain",
                   "requested_at": "1970-01-01T00:00:00.000Z"})
        );
    }

    #[test]
    fn a_task_event_is_the_task_plus_its_incident() {
        let t = TaskRow {
            id: "t1".into(),
            incident_id: "inc-1".into(),
            responder_id: "w1".into(),
            status: TaskStatus::Offered,
            version: 1,
            status_version: 1,
            offered_at: 0,
            respond_by: 1000,
            eta_secs: None,
            distance_m: Some(12.5),
            note: None,
            updated_at: 0,
            accepted_at: None,
            purpose: crate::domain::closed_loop::TaskPurpose::Respond,
            purpose_note: None,
        };
        assert_eq!(
            to_json(&task_event(&t)),
            json!({
                "task_id": "t1", "incident_id": "inc-1", "responder_id": "w1",
                "status": "offered", "version": 1, "offered_at": "1970-01-01T00:00:00.000Z",
                "respond_by": "1970-01-01T00:00:01.000Z", "eta_secs": null,
                "distance_m": 12.5, "note": null,
            })
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
