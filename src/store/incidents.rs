//! Incidents, the alerts that opened or joined them, their tasks (offers to responders)
//! and their timelines. The dispatcher writes them through [`Store::apply`] (`writes.rs`).

use serde::Serialize;
use sqlx::FromRow;

use super::rows::{decode_all, decode_opt};
use super::{Flag, Store, StoreError};
use crate::domain::closed_loop::TaskPurpose;
use crate::domain::timeline::Event;
use crate::domain::{IncidentState, TaskStatus};

/// A stored incident.
#[derive(Debug, Clone, FromRow, Serialize)]
pub struct IncidentRow {
    /// Incident id.
    pub id: String,
    /// Incident kind.
    pub kind: String,
    /// 1..4.
    pub severity: i64,
    /// Where it stands.
    pub state: IncidentState,
    /// Latitude.
    pub lat: f64,
    /// Longitude.
    pub lon: f64,
    /// Zone containing it.
    pub zone_id: Option<String>,
    /// Short title.
    pub title: String,
    /// Description from the first alert.
    pub description: Option<String>,
    /// Address text.
    pub address: Option<String>,
    /// Rendezvous JSON.
    pub rendezvous: Option<String>,
    /// Offers made so far.
    pub offers_made: i64,
    /// An operator chose the responder.
    #[sqlx(try_from = "Flag")]
    pub manual: bool,
    /// Opened, Unix ms.
    pub created_at: i64,
    /// Last change, Unix ms.
    pub updated_at: i64,
    /// Last linked alert, Unix ms.
    pub last_alert_at: i64,
    /// Its deadline and the times it reached each step.
    #[sqlx(flatten)]
    #[serde(flatten)]
    pub milestones: Milestones,
}

/// An incident's deadline (处置时限) and when it reached each step of the loop, kept on its
/// row so that reports scan incidents alone. Times are Unix ms; `None` = not (yet) reached.
#[derive(Debug, Clone, Default, PartialEq, Eq, FromRow, Serialize)]
pub struct Milestones {
    /// When it must be closed by; `None` for incidents opened before deadlines existed.
    pub due_at: Option<i64>,
    /// The first offer.
    pub first_offer_at: Option<i64>,
    /// First reached `assigned` (an offer accepted).
    pub accepted_at: Option<i64>,
    /// First reached `on_scene`.
    pub on_scene_at: Option<i64>,
    /// Last reached `resolved` (after a rework, the final resolution).
    pub resolved_at: Option<i64>,
    /// Reached `closed` or `cancelled` (the state says which).
    pub ended_at: Option<i64>,
    /// The source of the alert that opened it.
    pub source_id: Option<String>,
    /// The responder whose task last reached `resolved`.
    pub resolver_id: Option<String>,
    /// Times it was escalated to the operators.
    pub escalation_count: i64,
    /// Times its work was sent back (返工).
    pub rework_count: i64,
    /// Extensions granted (延期).
    pub extension_count: i64,
    /// Times it was suspended (缓办).
    pub suspension_count: i64,
    /// While suspended: since when (the deadline moves later by the time suspended).
    pub suspended_at: Option<i64>,
    /// The pending extension request, JSON ([`crate::domain::closed_loop::ExtensionRequest`]).
    pub extension_request: Option<String>,
}

/// A stored alert.
#[derive(Debug, Clone, FromRow, Serialize)]
pub struct AlertRow {
    /// Our id.
    pub id: String,
    /// Who sent it.
    pub source_id: String,
    /// The source's id for it.
    pub external_id: String,
    /// The incident it opened or joined.
    pub incident_id: String,
    /// Kind.
    pub kind: String,
    /// Severity.
    pub severity: i64,
    /// Latitude.
    pub lat: f64,
    /// Longitude.
    pub lon: f64,
    /// Camera, if any.
    pub camera_id: Option<String>,
    /// When it happened, Unix ms.
    pub time: i64,
    /// When we got it, Unix ms.
    pub received_at: i64,
    /// Free text.
    pub description: Option<String>,
    /// Address text.
    pub address: Option<String>,
}

/// A stored task (one offer to one responder).
#[derive(Debug, Clone, FromRow, Serialize)]
pub struct TaskRow {
    /// Task id.
    pub id: String,
    /// Its incident.
    pub incident_id: String,
    /// Its responder.
    pub responder_id: String,
    /// Where it stands.
    pub status: TaskStatus,
    /// Bumped on every change the responder sees.
    pub version: i64,
    /// The version at which the status last changed. Later bumps only add information
    /// (a snapshot link), so a worker's update naming any version from this one on is
    /// current, not stale.
    pub status_version: i64,
    /// Offered, Unix ms.
    pub offered_at: i64,
    /// Answer deadline, Unix ms.
    pub respond_by: i64,
    /// Travel estimate at offer time, seconds.
    pub eta_secs: Option<f64>,
    /// Distance at offer time, metres.
    pub distance_m: Option<f64>,
    /// Last note (reject reason, resolution note, operator note).
    pub note: Option<String>,
    /// Last change, Unix ms.
    pub updated_at: i64,
    /// When the responder accepted it, Unix ms; `None` for an offer never accepted.
    pub accepted_at: Option<i64>,
    /// What it asks of the responder.
    pub purpose: TaskPurpose,
    /// The reason given with its purpose (a rework's reason).
    pub purpose_note: Option<String>,
}

/// One line of an incident's timeline.
#[derive(Debug, Clone, FromRow, Serialize)]
pub struct TimelineRow {
    /// Order of insertion.
    pub seq: i64,
    /// Incident.
    pub incident_id: String,
    /// When, Unix ms.
    pub at: i64,
    /// Who: `dispatcher`, `responder:<id>`, `operator:<name>`, `source:<id>`.
    pub actor: String,
    /// Previous state (none for the first line).
    pub from_state: Option<IncidentState>,
    /// New state.
    pub to_state: IncidentState,
    /// The English line (what [`TimelineRow::event`] says, or a line from before events).
    pub note: Option<String>,
    /// What happened, as a code with parameters for each page to word in its language.
    pub event: Option<Event>,
}

impl TimelineRow {
    /// A new line (its `seq` is given by the store) recording `event`, worded in English
    /// in its `note`.
    pub fn new(
        incident_id: &str,
        at: i64,
        actor: &str,
        (from_state, to_state): (Option<IncidentState>, IncidentState),
        event: Option<Event>,
    ) -> TimelineRow {
        TimelineRow {
            seq: 0,
            incident_id: incident_id.to_owned(),
            at,
            actor: actor.to_owned(),
            from_state,
            to_state,
            note: event.as_ref().map(Event::to_string),
            event,
        }
    }
}

/// The open states as an SQL list (`'new', 'dispatching', …`), for `state IN (…)`: unlike
/// `state NOT IN ('closed', 'cancelled')` it is answered from the state index, so start-up
/// reads the open incidents alone however much history the table holds. The names are
/// our own constants, never input.
pub(super) fn open_states_sql() -> String {
    IncidentState::ALL
        .iter()
        .filter(|s| s.is_open())
        .map(|s| format!("'{}'", s.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) const INCIDENT_COLUMNS: &str = "id, kind, severity, state, lat, lon, zone_id, title, description, address, rendezvous, offers_made, manual, created_at, updated_at, last_alert_at, due_at, first_offer_at, accepted_at, on_scene_at, resolved_at, ended_at, source_id, resolver_id, escalation_count, rework_count, extension_count, suspension_count, suspended_at, extension_request";
pub(super) const TASK_COLUMNS: &str =
    "id, incident_id, responder_id, status, version, status_version, offered_at, respond_by, eta_secs, distance_m, note, updated_at, accepted_at, purpose, purpose_note";
pub(super) const ALERT_COLUMNS: &str = "id, source_id, external_id, incident_id, kind, severity, lat, lon, camera_id, time, received_at, description, address";

impl Store {
    /// The alert a source already sent under this id, if any.
    pub async fn find_alert(
        &self,
        source_id: &str,
        external_id: &str,
    ) -> Result<Option<AlertRow>, StoreError> {
        Ok(sqlx::query_as(&format!(
            "SELECT {ALERT_COLUMNS} FROM alerts WHERE source_id = $1 AND external_id = $2"
        ))
        .bind(source_id)
        .bind(external_id)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// One incident.
    pub async fn incident(&self, id: &str) -> Result<IncidentRow, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {INCIDENT_COLUMNS} FROM incidents WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        decode_opt(row, "incidents", "id")?
            .ok_or_else(|| StoreError::NotFound(format!("incident {id}")))
    }

    /// Incidents, newest first; `states` empty = all. At most `limit`.
    /// `before` = `(created_at, id)` of the last incident of the page before: this page
    /// starts right after it (keyset pagination).
    pub async fn incidents(
        &self,
        states: &[IncidentState],
        before: Option<(i64, &str)>,
        limit: i64,
    ) -> Result<Vec<IncidentRow>, StoreError> {
        let mut filters = Vec::new();
        if !states.is_empty() {
            let marks: Vec<String> = (1..=states.len()).map(|n| format!("${n}")).collect();
            filters.push(format!("state IN ({})", marks.join(", ")));
        }
        let mut next = states.len() + 1;
        if before.is_some() {
            let (a, b) = (next, next + 1);
            filters.push(format!(
                "(created_at < ${a} OR (created_at = ${a} AND id < ${b}))"
            ));
            next += 2;
        }
        let filter = if filters.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", filters.join(" AND "))
        };
        let sql = format!("SELECT {INCIDENT_COLUMNS} FROM incidents {filter} ORDER BY created_at DESC, id DESC LIMIT ${next}");
        let mut q = sqlx::query(&sql);
        for s in states {
            q = q.bind(s.as_str());
        }
        if let Some((at, id)) = before {
            q = q.bind(at).bind(id.to_owned());
        }
        let rows = q.bind(limit).fetch_all(&self.pool).await?;
        decode_all(rows, "incidents", "id")
    }

    /// Every incident not closed or cancelled (for the dispatcher's start-up). An incident
    /// whose state this version does not know (written by a newer one, or damaged) is an
    /// error that names it, as anywhere else, not an incident silently left behind.
    pub async fn open_incidents(&self) -> Result<Vec<IncidentRow>, StoreError> {
        self.refuse_unknown_states().await?;
        let rows = sqlx::query(&format!(
            "SELECT {INCIDENT_COLUMNS} FROM incidents WHERE state IN ({}) ORDER BY created_at",
            open_states_sql()
        ))
        .fetch_all(&self.pool)
        .await?;
        decode_all(rows, "incidents", "id")
    }

    /// Fails, naming the incident, when any incident has a state this version does not
    /// know. The states present are read by a loose index scan (each next state is one
    /// lookup in the state index past the last), so this costs a few lookups however many
    /// incidents have ended; the database orders the states itself, whatever its collation.
    async fn refuse_unknown_states(&self) -> Result<(), StoreError> {
        let states: Vec<(Option<String>,)> = sqlx::query_as(
            "WITH RECURSIVE s(state) AS (
                 SELECT MIN(state) FROM incidents
                 UNION ALL
                 SELECT (SELECT MIN(state) FROM incidents WHERE state > s.state) FROM s
                 WHERE s.state IS NOT NULL)
             SELECT state FROM s WHERE state IS NOT NULL",
        )
        .fetch_all(&self.pool)
        .await?;
        for (state,) in states.into_iter() {
            let Some(state) = state else { continue };
            if IncidentState::ALL.iter().any(|k| k.as_str() == state) {
                continue;
            }
            let row = sqlx::query(&format!(
                "SELECT {INCIDENT_COLUMNS} FROM incidents WHERE state = $1 LIMIT 1"
            ))
            .bind(&state)
            .fetch_all(&self.pool)
            .await?;
            // Decoding the row is what names it and its state.
            decode_all::<IncidentRow>(row, "incidents", "id")?;
        }
        Ok(())
    }

    /// Open incidents (not closed or cancelled) past their due time at `now` (Unix ms), as
    /// `IncidentState::is_overdue` counts them; by the state index, so a cheap count of the
    /// open incidents alone, however many have ended.
    pub async fn count_overdue(&self, now: i64) -> Result<i64, StoreError> {
        let open: Vec<IncidentState> = IncidentState::ALL
            .iter()
            .copied()
            .filter(|s| s.is_open())
            .collect();
        let marks: Vec<String> = (2..=open.len() + 1).map(|n| format!("${n}")).collect();
        let sql = format!(
            "SELECT COUNT(*) FROM incidents WHERE due_at < $1 AND state IN ({})",
            marks.join(", ")
        );
        let mut q = sqlx::query_scalar(&sql).bind(now);
        for s in &open {
            q = q.bind(s.as_str());
        }
        Ok(q.fetch_one(&self.pool).await?)
    }

    /// Every task of the incidents that are still open (for start-up).
    pub async fn tasks_of_open_incidents(&self) -> Result<Vec<TaskRow>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {TASK_COLUMNS} FROM tasks WHERE incident_id IN
             (SELECT id FROM incidents WHERE state IN ({})) ORDER BY offered_at",
            open_states_sql()
        ))
        .fetch_all(&self.pool)
        .await?;
        decode_all(rows, "tasks", "id")
    }

    /// One task, open or ended; `None` when there is no such task.
    pub async fn task(&self, id: &str) -> Result<Option<TaskRow>, StoreError> {
        let row = sqlx::query(&format!("SELECT {TASK_COLUMNS} FROM tasks WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        decode_opt(row, "tasks", "id")
    }

    /// Tasks of one incident, oldest first.
    pub async fn tasks_of(&self, incident_id: &str) -> Result<Vec<TaskRow>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {TASK_COLUMNS} FROM tasks WHERE incident_id = $1 ORDER BY offered_at, id"
        ))
        .bind(incident_id)
        .fetch_all(&self.pool)
        .await?;
        decode_all(rows, "tasks", "id")
    }

    /// Alerts of one incident, oldest first.
    pub async fn alerts_of(&self, incident_id: &str) -> Result<Vec<AlertRow>, StoreError> {
        Ok(sqlx::query_as(&format!(
            "SELECT {ALERT_COLUMNS} FROM alerts WHERE incident_id = $1 ORDER BY received_at, id"
        ))
        .bind(incident_id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Timeline of one incident, in order.
    pub async fn timeline(&self, incident_id: &str) -> Result<Vec<TimelineRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT seq, incident_id, at, actor, from_state, to_state, note, event FROM timeline WHERE incident_id = $1 ORDER BY seq",
        )
        .bind(incident_id)
        .fetch_all(&self.pool)
        .await?;
        decode_all(rows, "timeline", "seq")
    }

    /// (camera id, incident id) of the open incidents opened by alerts of `source` that
    /// name a camera, oldest first.
    pub async fn open_incidents_by_camera(
        &self,
        source: &str,
    ) -> Result<Vec<(String, String)>, StoreError> {
        // CROSS JOIN: SQLite then walks the open incidents (by the state index) and their
        // alerts, rather than every alert the source ever sent; PostgreSQL plans it as any
        // inner join.
        Ok(sqlx::query_as(&format!(
            "SELECT a.camera_id, a.incident_id FROM incidents i CROSS JOIN alerts a
             WHERE a.incident_id = i.id AND i.state IN ({}) AND a.source_id = $1
               AND a.camera_id IS NOT NULL
             ORDER BY a.received_at",
            open_states_sql()
        ))
        .bind(source)
        .fetch_all(&self.pool)
        .await?)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::super::{Store, Write};
    use super::*;

    /// Start-up reads open incidents by naming the open states; an incident in any state
    /// not ended must still be found, and an ended one never.
    #[tokio::test]
    async fn start_up_reads_every_open_state_and_no_ended_incident() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}", dir.path().join("t.db").display());
        let s = Store::connect(&url, 1).await.unwrap();
        let mut writes = Vec::new();
        for (n, state) in IncidentState::ALL.iter().enumerate() {
            let id = format!("inc-{}", state.as_str());
            writes.push(Write::InsertIncident(IncidentRow {
                id: id.clone(),
                kind: "camera_offline".into(),
                severity: 4,
                state: *state,
                lat: 30.5,
                lon: 114.3,
                zone_id: None,
                title: "camera offline".into(),
                description: None,
                address: None,
                rendezvous: None,
                offers_made: 1,
                manual: false,
                created_at: n as i64,
                updated_at: n as i64,
                last_alert_at: n as i64,
                milestones: Default::default(),
            }));
            writes.push(Write::InsertAlert(AlertRow {
                id: format!("alert-{n}"),
                source_id: crate::domain::camera_health::SOURCE.into(),
                external_id: id.clone(),
                incident_id: id.clone(),
                kind: "camera_offline".into(),
                severity: 4,
                lat: 30.5,
                lon: 114.3,
                camera_id: Some(format!("cam-{n}")),
                time: n as i64,
                received_at: n as i64,
                description: None,
                address: None,
            }));
            writes.push(Write::InsertTask(TaskRow {
                id: format!("task-{n}"),
                incident_id: id,
                responder_id: format!("w{n}"),
                status: TaskStatus::Rejected,
                version: 1,
                status_version: 1,
                offered_at: n as i64,
                respond_by: n as i64 + 60_000,
                eta_secs: None,
                distance_m: None,
                note: None,
                updated_at: n as i64,
                accepted_at: None,
                purpose: TaskPurpose::Respond,
                purpose_note: None,
            }));
        }
        s.apply(&writes, &mut []).await.unwrap();
        let open: Vec<String> = IncidentState::ALL
            .iter()
            .filter(|st| st.is_open())
            .map(|st| format!("inc-{}", st.as_str()))
            .collect();
        assert_eq!(open.len(), IncidentState::ALL.len() - 2);
        let ids: Vec<String> = s
            .open_incidents()
            .await
            .unwrap()
            .into_iter()
            .map(|i| i.id)
            .collect();
        assert_eq!(ids, open);
        let task_of: Vec<String> = s
            .tasks_of_open_incidents()
            .await
            .unwrap()
            .into_iter()
            .map(|t| t.incident_id)
            .collect();
        assert_eq!(task_of, open);
        let by_camera: Vec<String> = s
            .open_incidents_by_camera(crate::domain::camera_health::SOURCE)
            .await
            .unwrap()
            .into_iter()
            .map(|(_, incident)| incident)
            .collect();
        assert_eq!(by_camera, open);
        assert!(s.snapshots_of_open_incidents().await.unwrap().is_empty());
    }
}
