//! The dispatcher's commit: a batch of [`Write`]s and the MQTT messages it owes, stored in
//! one transaction (fenced when replicas run).

use super::incidents::{ALERT_COLUMNS, INCIDENT_COLUMNS, TASK_COLUMNS};
use super::{AlertRow, IncidentRow, Milestones, Store, StoreError, TaskRow, TimelineRow};
use crate::domain::timeline::Event;
use crate::domain::IncidentState;

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

/// Binds an incident's milestones, in the order of their columns (`due_at` …
/// `extension_request`), as the insert and the update both list them.
fn bind_milestones<'q>(q: AnyQuery<'q>, m: &'q Milestones) -> AnyQuery<'q> {
    q.bind(m.due_at)
        .bind(m.first_offer_at)
        .bind(m.accepted_at)
        .bind(m.on_scene_at)
        .bind(m.resolved_at)
        .bind(m.ended_at)
        .bind(&m.source_id)
        .bind(&m.resolver_id)
        .bind(m.escalation_count)
        .bind(m.rework_count)
        .bind(m.extension_count)
        .bind(m.suspension_count)
        .bind(m.suspended_at)
        .bind(&m.extension_request)
}

/// A fresh `change_tag` for an incident written now: 40 random bits. The report's stored
/// months are checked by the sums of their incidents' tags (`store::reports`); 40 bits keep
/// a month's sum far within an `i64` (up to 8 million incidents a month).
fn new_change_tag() -> i64 {
    use rand::Rng;
    rand::thread_rng().gen_range(0..1_i64 << 40)
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
    /// An incident closed after verification (or from resolved): credit what it earned
    /// (see `points::earn_in`), in the same transaction as the close.
    Earn {
        /// The incident.
        incident_id: String,
        /// When it closed, Unix ms.
        at_ms: i64,
        /// The earning rules.
        settings: std::sync::Arc<super::points::EarnSettings>,
    },
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
                    super::camera_health::write_camera_status(&mut tx, c).await?
                }
                Write::Earn {
                    incident_id,
                    at_ms,
                    settings,
                } => {
                    super::points::earn_in(&mut tx, self.backend, incident_id, *at_ms, settings)
                        .await?
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
                    let sql = format!(
                        "INSERT INTO incidents ({INCIDENT_COLUMNS}, change_tag) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30, $31)"
                    );
                    let q = sqlx::query(&sql)
                        .bind(&i.id)
                        .bind(&i.kind)
                        .bind(i.severity)
                        .bind(i.state.as_str())
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
                        .bind(i.last_alert_at);
                    bind_milestones(q, &i.milestones)
                        .bind(new_change_tag())
                        .execute(&mut *tx)
                        .await?;
                }
                Write::UpdateIncident(i) => {
                    let q = sqlx::query(
                        "UPDATE incidents SET severity = $1, state = $2, offers_made = $3, manual = $4, updated_at = $5, last_alert_at = $6, due_at = $7, first_offer_at = $8, accepted_at = $9, on_scene_at = $10, resolved_at = $11, ended_at = $12, source_id = $13, resolver_id = $14, escalation_count = $15, rework_count = $16, extension_count = $17, suspension_count = $18, suspended_at = $19, extension_request = $20, change_tag = $21 WHERE id = $22",
                    )
                    .bind(i.severity)
                    .bind(i.state.as_str())
                    .bind(i.offers_made)
                    .bind(i.manual)
                    .bind(i.updated_at)
                    .bind(i.last_alert_at);
                    bind_milestones(q, &i.milestones)
                        .bind(new_change_tag())
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
                        "INSERT INTO tasks ({TASK_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
                    ))
                    .bind(&t.id)
                    .bind(&t.incident_id)
                    .bind(&t.responder_id)
                    .bind(t.status.as_str())
                    .bind(t.version)
                    .bind(t.status_version)
                    .bind(t.offered_at)
                    .bind(t.respond_by)
                    .bind(t.eta_secs)
                    .bind(t.distance_m)
                    .bind(&t.note)
                    .bind(t.updated_at)
                    .bind(t.accepted_at)
                    .bind(t.purpose.as_str())
                    .bind(&t.purpose_note)
                    .execute(&mut *tx)
                    .await?;
                }
                Write::UpdateTask(t) => {
                    sqlx::query("UPDATE tasks SET status = $1, version = $2, status_version = $3, note = $4, updated_at = $5, accepted_at = $6 WHERE id = $7")
                        .bind(t.status.as_str())
                        .bind(t.version)
                        .bind(t.status_version)
                        .bind(&t.note)
                        .bind(t.updated_at)
                        .bind(t.accepted_at)
                        .bind(&t.id)
                        .execute(&mut *tx)
                        .await?;
                }
                Write::Timeline(l) => {
                    sqlx::query(
                        "INSERT INTO timeline (incident_id, at, actor, from_state, to_state, note, event) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    )
                    .bind(&l.incident_id)
                    .bind(l.at)
                    .bind(&l.actor)
                    .bind(l.from_state.map(IncidentState::as_str))
                    .bind(l.to_state.as_str())
                    .bind(&l.note)
                    .bind(l.event.as_ref().map(Event::to_json))
                    .execute(&mut *tx)
                    .await?;
                }
            }
        }
        super::outbox::stage(&mut tx, publish, super::now_ms()).await?;
        tx.commit().await?;
        Ok(())
    }
}
