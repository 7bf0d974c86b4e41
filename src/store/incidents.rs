//! Incidents, their alerts, tasks and timelines, and the dead-letter store.

use serde::Serialize;
use sqlx::FromRow;

use super::{Flag, Store, StoreError};

/// A stored incident.
#[derive(Debug, Clone, FromRow, Serialize)]
pub struct IncidentRow {
    /// Incident id.
    pub id: String,
    /// Incident kind.
    pub kind: String,
    /// 1..4.
    pub severity: i64,
    /// State name.
    pub state: String,
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
    /// Status name.
    pub status: String,
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
    pub from_state: Option<String>,
    /// New state.
    pub to_state: String,
    /// Why.
    pub note: Option<String>,
}

/// A message that could not be understood.
#[derive(Debug, Clone, FromRow, Serialize)]
pub struct DeadLetterRow {
    /// Order of arrival.
    pub seq: i64,
    /// When, Unix ms.
    pub at: i64,
    /// Where it came from (MQTT topic or HTTP path).
    pub topic: String,
    /// The bytes, cut to the configured bound.
    #[serde(skip)]
    pub payload: Vec<u8>,
    /// Whether the payload was cut.
    #[sqlx(try_from = "Flag")]
    pub truncated: bool,
    /// What was wrong.
    pub reason: String,
}

/// One change, part of an atomic batch written by [`Store::apply`].
#[derive(Debug, Clone)]
pub enum Write {
    /// A new incident.
    InsertIncident(IncidentRow),
    /// An incident's mutable fields.
    UpdateIncident(IncidentRow),
    /// A new alert.
    InsertAlert(AlertRow),
    /// A new task.
    InsertTask(TaskRow),
    /// A task's mutable fields (status, version, note, updated_at).
    UpdateTask(TaskRow),
    /// A timeline line (seq is assigned by the database).
    Timeline(TimelineRow),
    /// A camera's health (history only on a change of status).
    CameraStatus(super::CameraStatusWrite),
    /// A responder went on or off duty (from its phone, `dispatch/<id>/duty/set`).
    ResponderDuty {
        /// The responder.
        id: String,
        /// On duty now.
        on_duty: bool,
        /// When, Unix ms.
        at_ms: i64,
    },
}

const INCIDENT_COLUMNS: &str = "id, kind, severity, state, lat, lon, zone_id, title, description, address, rendezvous, offers_made, manual, created_at, updated_at, last_alert_at";
const TASK_COLUMNS: &str =
    "id, incident_id, responder_id, status, version, status_version, offered_at, respond_by, eta_secs, distance_m, note, updated_at";
const ALERT_COLUMNS: &str = "id, source_id, external_id, incident_id, kind, severity, lat, lon, camera_id, time, received_at, description, address";

impl Store {
    /// Writes a batch in one transaction: either all of it lands or none.
    /// `publish` are the MQTT messages the batch owes: they go into the outbox in the same
    /// transaction and get their `outbox_seq`.
    pub async fn apply(
        &self,
        batch: &[Write],
        publish: &mut [super::Outgoing],
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let fence = self.fence.load(std::sync::atomic::Ordering::Acquire);
        if fence != 0 {
            super::cluster::check_fence(&mut tx, fence).await?;
        }
        for w in batch {
            match w {
                Write::CameraStatus(c) => {
                    super::config_data::write_camera_status(&mut tx, c).await?
                }
                Write::ResponderDuty { id, on_duty, at_ms } => {
                    // A responder deleted meanwhile matches no row; nothing to keep then.
                    sqlx::query(
                        "UPDATE responders SET on_duty = $1, updated_at = $2 WHERE id = $3",
                    )
                    .bind(on_duty)
                    .bind(at_ms)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                }
                Write::InsertIncident(i) => {
                    sqlx::query(&format!(
                        "INSERT INTO incidents ({INCIDENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
                    ))
                    .bind(&i.id)
                    .bind(&i.kind)
                    .bind(i.severity)
                    .bind(&i.state)
                    .bind(i.lat)
                    .bind(i.lon)
                    .bind(&i.zone_id)
                    .bind(&i.title)
                    .bind(&i.description)
                    .bind(&i.address)
                    .bind(&i.rendezvous)
                    .bind(i.offers_made)
                    .bind(i.manual)
                    .bind(i.created_at)
                    .bind(i.updated_at)
                    .bind(i.last_alert_at)
                    .execute(&mut *tx)
                    .await?;
                }
                Write::UpdateIncident(i) => {
                    sqlx::query(
                        "UPDATE incidents SET severity = $1, state = $2, offers_made = $3, manual = $4, updated_at = $5, last_alert_at = $6 WHERE id = $7",
                    )
                    .bind(i.severity)
                    .bind(&i.state)
                    .bind(i.offers_made)
                    .bind(i.manual)
                    .bind(i.updated_at)
                    .bind(i.last_alert_at)
                    .bind(&i.id)
                    .execute(&mut *tx)
                    .await?;
                }
                Write::InsertAlert(a) => {
                    sqlx::query(&format!(
                        "INSERT INTO alerts ({ALERT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
                    ))
                    .bind(&a.id)
                    .bind(&a.source_id)
                    .bind(&a.external_id)
                    .bind(&a.incident_id)
                    .bind(&a.kind)
                    .bind(a.severity)
                    .bind(a.lat)
                    .bind(a.lon)
                    .bind(&a.camera_id)
                    .bind(a.time)
                    .bind(a.received_at)
                    .bind(&a.description)
                    .bind(&a.address)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| {
                        StoreError::on_unique(e, || {
                            format!("alert {} from {} already received", a.external_id, a.source_id)
                        })
                    })?;
                }
                Write::InsertTask(t) => {
                    sqlx::query(&format!(
                        "INSERT INTO tasks ({TASK_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
                    ))
                    .bind(&t.id)
                    .bind(&t.incident_id)
                    .bind(&t.responder_id)
                    .bind(&t.status)
                    .bind(t.version)
                    .bind(t.status_version)
                    .bind(t.offered_at)
                    .bind(t.respond_by)
                    .bind(t.eta_secs)
                    .bind(t.distance_m)
                    .bind(&t.note)
                    .bind(t.updated_at)
                    .execute(&mut *tx)
                    .await?;
                }
                Write::UpdateTask(t) => {
                    sqlx::query("UPDATE tasks SET status = $1, version = $2, status_version = $3, note = $4, updated_at = $5 WHERE id = $6")
                        .bind(&t.status)
                        .bind(t.version)
                        .bind(t.status_version)
                        .bind(&t.note)
                        .bind(t.updated_at)
                        .bind(&t.id)
                        .execute(&mut *tx)
                        .await?;
                }
                Write::Timeline(l) => {
                    sqlx::query(
                        "INSERT INTO timeline (incident_id, at, actor, from_state, to_state, note) VALUES ($1, $2, $3, $4, $5, $6)",
                    )
                    .bind(&l.incident_id)
                    .bind(l.at)
                    .bind(&l.actor)
                    .bind(&l.from_state)
                    .bind(&l.to_state)
                    .bind(&l.note)
                    .execute(&mut *tx)
                    .await?;
                }
            }
        }
        super::outbox::stage(&mut tx, publish, super::now_ms()).await?;
        tx.commit().await?;
        Ok(())
    }

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
        sqlx::query_as(&format!(
            "SELECT {INCIDENT_COLUMNS} FROM incidents WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("incident {id}")))
    }

    /// Incidents, newest first; `states` empty = all. At most `limit`.
    pub async fn incidents(
        &self,
        states: &[String],
        limit: i64,
    ) -> Result<Vec<IncidentRow>, StoreError> {
        let filter = if states.is_empty() {
            String::new()
        } else {
            let marks: Vec<String> = (1..=states.len()).map(|n| format!("${n}")).collect();
            format!("WHERE state IN ({})", marks.join(", "))
        };
        let limit_mark = states.len() + 1;
        let sql = format!("SELECT {INCIDENT_COLUMNS} FROM incidents {filter} ORDER BY created_at DESC, id DESC LIMIT ${limit_mark}");
        let mut q = sqlx::query_as(&sql);
        for s in states {
            q = q.bind(s);
        }
        Ok(q.bind(limit).fetch_all(&self.pool).await?)
    }

    /// Every incident not closed or cancelled (for the dispatcher's start-up).
    pub async fn open_incidents(&self) -> Result<Vec<IncidentRow>, StoreError> {
        Ok(sqlx::query_as(&format!(
            "SELECT {INCIDENT_COLUMNS} FROM incidents WHERE state NOT IN ('closed', 'cancelled') ORDER BY created_at"
        ))
        .fetch_all(&self.pool)
        .await?)
    }

    /// Every task of the incidents that are still open (for start-up).
    pub async fn tasks_of_open_incidents(&self) -> Result<Vec<TaskRow>, StoreError> {
        Ok(sqlx::query_as(&format!(
            "SELECT {TASK_COLUMNS} FROM tasks WHERE incident_id IN
             (SELECT id FROM incidents WHERE state NOT IN ('closed', 'cancelled')) ORDER BY offered_at"
        ))
        .fetch_all(&self.pool)
        .await?)
    }

    /// Tasks of one incident, oldest first.
    pub async fn tasks_of(&self, incident_id: &str) -> Result<Vec<TaskRow>, StoreError> {
        Ok(sqlx::query_as(&format!(
            "SELECT {TASK_COLUMNS} FROM tasks WHERE incident_id = $1 ORDER BY offered_at, id"
        ))
        .bind(incident_id)
        .fetch_all(&self.pool)
        .await?)
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
        Ok(sqlx::query_as(
            "SELECT seq, incident_id, at, actor, from_state, to_state, note FROM timeline WHERE incident_id = $1 ORDER BY seq",
        )
        .bind(incident_id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Keeps a message that could not be understood.
    pub async fn dead_letter(
        &self,
        topic: &str,
        payload: &[u8],
        max_bytes: usize,
        reason: &str,
    ) -> Result<(), StoreError> {
        let cut = payload.len() > max_bytes;
        sqlx::query("INSERT INTO dead_letters (at, topic, payload, truncated, reason) VALUES ($1, $2, $3, $4, $5)")
            .bind(super::now_ms())
            .bind(topic)
            .bind(&payload[..payload.len().min(max_bytes)])
            .bind(cut)
            .bind(reason)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Deletes all but the newest `keep_rows` dead letters, and those stored before
    /// `before_ms`; returns how many went. The table is bounded by this very prune, so
    /// the scan for old rows stays small.
    pub async fn prune_dead_letters(
        &self,
        keep_rows: i64,
        before_ms: i64,
    ) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "DELETE FROM dead_letters
             WHERE seq <= COALESCE(
                 (SELECT seq FROM dead_letters ORDER BY seq DESC LIMIT 1 OFFSET $1), -1)
                OR at < $2",
        )
        .bind(keep_rows)
        .bind(before_ms)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    /// The newest dead letters, newest first.
    pub async fn dead_letters(&self, limit: i64) -> Result<Vec<DeadLetterRow>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT seq, at, topic, payload, truncated, reason FROM dead_letters ORDER BY seq DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }
}
