//! Points coming in: credits for verified incidents (written inside the dispatcher's
//! commit that closes the incident) and honour awards (two admins above a threshold).

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use super::super::{Backend, Store, StoreError};
use super::ledger::{self, new_movement_id, Leg, NewMovement};
use super::{reserved_account, responder_account, MovementKind, MovementRow, COUNTY};
use crate::config::PointsSettings;
use crate::domain::alert::field_reporter;
use crate::domain::points::{capped, deed_points, expires_at, month_bounds};
use crate::domain::ResponderKind;

/// What earning needs to know: the `[points]` settings and the calendar of the monthly
/// cap (`reports.utc_offset`).
#[derive(Debug, Clone)]
pub struct EarnSettings {
    /// `[points]`.
    pub points: PointsSettings,
    /// The UTC offset whose calendar months the cap counts.
    pub utc_offset: chrono::FixedOffset,
}

/// A credit from the county to a responder, as a new lot.
struct Credit<'a> {
    responder_id: &'a str,
    kind: MovementKind,
    cause_type: &'static str,
    cause_id: &'a str,
    key: String,
    points: i64,
    at: i64,
    actor: &'a str,
    note: Option<String>,
}

/// Writes `c` (after the caps, which may leave 0: the movement is still recorded, so the
/// service record shows the deed). A replay of its key returns the first movement.
async fn credit(
    tx: &mut Transaction<'static, Any>,
    c: Credit<'_>,
    expiry_months: u32,
) -> Result<MovementRow, StoreError> {
    if let Some(m) = ledger::by_key(tx, &c.key).await? {
        return Ok(m);
    }
    let id = new_movement_id();
    let lot_expires_at = expires_at(c.at, expiry_months);
    let legs = if c.points > 0 {
        vec![
            Leg {
                account: COUNTY.into(),
                amount: -c.points,
                lot_id: id.clone(),
                lot_expires_at,
            },
            Leg {
                account: responder_account(c.responder_id),
                amount: c.points,
                lot_id: id.clone(),
                lot_expires_at,
            },
        ]
    } else {
        Vec::new()
    };
    let m = NewMovement {
        id,
        key: c.key,
        kind: c.kind,
        cause_type: c.cause_type,
        cause_id: c.cause_id.to_owned(),
        responder_id: Some(c.responder_id.to_owned()),
        points: c.points,
        at: c.at,
        actor: c.actor.to_owned(),
        note: c.note,
        legs,
    };
    ledger::post(tx, &m).await
}

/// Spendable plus reserved points of a responder (what the balance cap bounds).
async fn held(tx: &mut Transaction<'static, Any>, rid: &str) -> Result<i64, StoreError> {
    Ok(ledger::balance(tx, &responder_account(rid)).await?
        + ledger::balance(tx, &reserved_account(rid)).await?)
}

/// Points earned (tasks and reports) by `rid` in the calendar month holding `at`.
async fn earned_in_month(
    tx: &mut Transaction<'static, Any>,
    rid: &str,
    at: i64,
    offset: chrono::FixedOffset,
) -> Result<i64, StoreError> {
    let (from, to) = month_bounds(at, offset);
    let sum: i64 = sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(e.amount), 0) AS BIGINT) FROM points_entries e
         JOIN points_movements m ON m.id = e.movement_id
         WHERE m.kind = 'earn' AND e.account = $1 AND m.at >= $2 AND m.at < $3",
    )
    .bind(responder_account(rid))
    .bind(from)
    .bind(to)
    .fetch_one(&mut **tx)
    .await?;
    Ok(sum)
}

/// Credits what incident `incident_id` earned, inside the transaction that closes it
/// after verification: each responder of an earning kind whose task on it was resolved
/// since the incident was last sent back for rework (work sent back earned nothing) gets
/// the points of its kind and severity (plus the guidance bonus when it had a
/// rendezvous), and the reporter named by a `field:<responder id>` source the report
/// bonus; all within the monthly and balance caps. The keys `earn:<incident>:<responder>`
/// and `report:<incident>:<responder>` make a replay credit nothing more.
pub(crate) async fn earn_in(
    tx: &mut Transaction<'static, Any>,
    backend: Backend,
    incident_id: &str,
    at: i64,
    s: &EarnSettings,
) -> Result<(), StoreError> {
    let p = &s.points;
    let Some(inc) = sqlx::query(
        "SELECT kind, severity, rendezvous, source_id, title FROM incidents WHERE id = $1",
    )
    .bind(incident_id)
    .fetch_optional(&mut **tx)
    .await?
    else {
        return Ok(());
    };
    let kind: String = inc.try_get("kind")?;
    let severity: i64 = inc.try_get("severity")?;
    let rendezvous: Option<String> = inc.try_get("rendezvous")?;
    let source: Option<String> = inc.try_get("source_id")?;
    let guidance = rendezvous.is_some_and(|r| !r.trim().is_empty());
    let workers: Vec<(String, String)> = sqlx::query_as(
        "SELECT DISTINCT t.responder_id, r.kind FROM tasks t
         JOIN responders r ON r.id = t.responder_id
         WHERE t.incident_id = $1 AND t.status = 'resolved' AND t.purpose <> 'verify'
           AND t.updated_at > COALESCE((SELECT MAX(at) FROM timeline
                                        WHERE incident_id = $1 AND from_state = 'resolved'
                                          AND to_state = 'dispatching'), 0)
         ORDER BY t.responder_id",
    )
    .bind(incident_id)
    .fetch_all(&mut **tx)
    .await?;
    let earns = |k: &str| ResponderKind::try_from(k.to_owned()).is_ok_and(|k| p.earns(k));
    let mut credits = Vec::new();
    for (rid, rkind) in &workers {
        if earns(rkind) {
            let wanted = deed_points(&p.rule_for(&kind), severity, guidance, p.guidance_bonus);
            let note = format!(
                "{kind} incident, severity {severity}{}",
                if guidance { ", guidance" } else { "" }
            );
            credits.push((
                rid.clone(),
                format!("earn:{incident_id}:{rid}"),
                wanted,
                note,
            ));
        }
    }
    if let Some(rid) = source.as_deref().and_then(field_reporter) {
        let rid = rid.as_str();
        let rkind: Option<String> = sqlx::query_scalar("SELECT kind FROM responders WHERE id = $1")
            .bind(rid)
            .fetch_optional(&mut **tx)
            .await?;
        if rkind.is_some_and(|k| earns(&k)) && p.report_bonus > 0 {
            let note = "report bonus".to_owned();
            credits.push((
                rid.to_owned(),
                format!("report:{incident_id}:{rid}"),
                p.report_bonus,
                note,
            ));
        }
    }
    if credits.is_empty() {
        return Ok(());
    }
    ledger::lock_ledger(tx, backend).await?;
    for (rid, key, wanted, note) in credits {
        if ledger::by_key(tx, &key).await?.is_some() {
            continue;
        }
        let month = earned_in_month(tx, &rid, at, s.utc_offset).await?;
        let points = capped(
            wanted,
            month,
            p.monthly_cap,
            held(tx, &rid).await?,
            p.balance_cap(),
        );
        let note = if points < wanted {
            format!("{note}; {points} of {wanted} credited (cap reached)")
        } else {
            note
        };
        let c = Credit {
            responder_id: &rid,
            kind: MovementKind::Earn,
            cause_type: "incident",
            cause_id: incident_id,
            key,
            points,
            at,
            actor: "dispatcher",
            note: Some(note),
        };
        credit(tx, c, p.expiry_months).await?;
    }
    Ok(())
}

/// A correction of a responder's points, against the county account.
#[derive(Debug, Clone)]
pub struct Correction {
    /// Whose points.
    pub responder_id: String,
    /// Points to add (positive) or take (negative).
    pub points: i64,
    /// Idempotency key (`correct:<something unique>`).
    pub key: String,
    /// Who corrects (`admin:<name>`).
    pub actor: String,
    /// Why.
    pub note: String,
}

/// A stored award.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AwardRow {
    /// Id (`aw-…`).
    pub id: String,
    /// Who is honoured.
    pub responder_id: String,
    /// Points proposed.
    pub points: i64,
    /// Why.
    pub reason: String,
    /// pending or approved.
    pub state: String,
    /// The admin who proposed it (`admin:<name>`).
    pub proposed_by: String,
    /// When, Unix ms.
    pub proposed_at: i64,
    /// The admin who approved it (the proposer, when no second approval was needed).
    pub approved_by: Option<String>,
    /// When.
    pub approved_at: Option<i64>,
    /// The credit's movement.
    pub movement_id: Option<String>,
}

/// An admin alone may credit awards of at most `points.award_approval_above` points in
/// total within this window; beyond it, an award waits for a second admin.
pub const AWARDS_ALONE_WINDOW_MS: i64 = 24 * 3_600_000;

const AWARD_COLUMNS: &str = "id, responder_id, points, reason, state, proposed_by, proposed_at, approved_by, approved_at, movement_id";

impl AwardRow {
    fn from_any(r: &AnyRow) -> Result<AwardRow, sqlx::Error> {
        Ok(AwardRow {
            id: r.try_get("id")?,
            responder_id: r.try_get("responder_id")?,
            points: r.try_get("points")?,
            reason: r.try_get("reason")?,
            state: r.try_get("state")?,
            proposed_by: r.try_get("proposed_by")?,
            proposed_at: r.try_get("proposed_at")?,
            approved_by: r.try_get("approved_by")?,
            approved_at: r.try_get("approved_at")?,
            movement_id: r.try_get("movement_id")?,
        })
    }
}

/// A proposed award.
#[derive(Debug, Clone)]
pub struct NewAward {
    /// Who.
    pub responder_id: String,
    /// Points, at least 1.
    pub points: i64,
    /// Why.
    pub reason: String,
    /// The proposing admin (`admin:<name>`).
    pub proposed_by: String,
}

async fn award_in(tx: &mut Transaction<'static, Any>, id: &str) -> Result<AwardRow, StoreError> {
    let row = sqlx::query(&format!(
        "SELECT {AWARD_COLUMNS} FROM points_awards WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    match row {
        Some(r) => Ok(AwardRow::from_any(&r)?),
        None => Err(StoreError::NotFound(format!("award {id}"))),
    }
}

/// Credits an approved award (`award:<id>`); the balance cap applies, the monthly cap
/// does not.
async fn credit_award(
    tx: &mut Transaction<'static, Any>,
    a: &AwardRow,
    approver: &str,
    p: &PointsSettings,
    now: i64,
) -> Result<MovementRow, StoreError> {
    let held = held(tx, &a.responder_id).await?;
    let points = capped(a.points, 0, 0, held, p.balance_cap());
    let note = if points < a.points {
        format!(
            "{}; {points} of {} credited (balance cap)",
            a.reason, a.points
        )
    } else {
        a.reason.clone()
    };
    let m = credit(
        tx,
        Credit {
            responder_id: &a.responder_id,
            kind: MovementKind::Award,
            cause_type: "award",
            cause_id: &a.id,
            key: format!("award:{}", a.id),
            points,
            at: now,
            actor: approver,
            note: Some(note),
        },
        p.expiry_months,
    )
    .await?;
    sqlx::query(
        "UPDATE points_awards SET state = 'approved', approved_by = $1, approved_at = $2, movement_id = $3 WHERE id = $4",
    )
    .bind(approver)
    .bind(now)
    .bind(&m.id)
    .bind(&a.id)
    .execute(&mut **tx)
    .await?;
    Ok(m)
}

impl Store {
    /// Writes an award proposal. It is approved and credited at once (by its proposer)
    /// while what that admin credited alone within [`AWARDS_ALONE_WINDOW_MS`], this award
    /// included, stays at most `award_approval_above` points; beyond that it waits,
    /// `pending`, for another admin.
    pub async fn propose_award(
        &self,
        a: &NewAward,
        p: &PointsSettings,
        now: i64,
    ) -> Result<AwardRow, StoreError> {
        let mut tx = self.begin_ledger().await?;
        let id = format!("aw-{}", uuid::Uuid::now_v7().simple());
        sqlx::query(&format!(
            "INSERT INTO points_awards ({AWARD_COLUMNS}) VALUES ($1, $2, $3, $4, 'pending', $5, $6, NULL, NULL, NULL)"
        ))
        .bind(&id)
        .bind(&a.responder_id)
        .bind(a.points)
        .bind(&a.reason)
        .bind(&a.proposed_by)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let row = award_in(&mut tx, &id).await?;
        // What this admin credited alone in the last day, so that a large award split
        // into small ones still waits for a second admin.
        let (alone,): (i64,) = sqlx::query_as(
            "SELECT CAST(COALESCE(SUM(points), 0) AS BIGINT) FROM points_awards
             WHERE proposed_by = $1 AND approved_by = $1 AND approved_at > $2
               AND approved_at <= $3",
        )
        .bind(&a.proposed_by)
        .bind(now - AWARDS_ALONE_WINDOW_MS)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        if alone + a.points <= p.award_approval_above {
            credit_award(&mut tx, &row, &a.proposed_by, p, now).await?;
        }
        let row = award_in(&mut tx, &id).await?;
        tx.commit().await?;
        Ok(row)
    }

    /// Approves a pending award by `approver` and credits it. `Ok(Err(row))` when the
    /// approver proposed it (403); `Conflict` when it was approved before (409).
    pub async fn approve_award(
        &self,
        id: &str,
        approver: &str,
        p: &PointsSettings,
        now: i64,
    ) -> Result<Result<AwardRow, AwardRow>, StoreError> {
        let mut tx = self.begin_ledger().await?;
        let row = award_in(&mut tx, id).await?;
        if row.state != "pending" {
            return Err(StoreError::Conflict(format!(
                "award {id} is already {}",
                row.state
            )));
        }
        if row.proposed_by == approver {
            return Ok(Err(row));
        }
        credit_award(&mut tx, &row, approver, p, now).await?;
        let row = award_in(&mut tx, id).await?;
        tx.commit().await?;
        Ok(Ok(row))
    }

    /// One award.
    pub async fn award(&self, id: &str) -> Result<AwardRow, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {AWARD_COLUMNS} FROM points_awards WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("award {id}")))?;
        Ok(AwardRow::from_any(&row)?)
    }

    /// Awards, newest first (at most `limit`, after `(proposed_at, id)` of the last one
    /// of the page before); only those in `state` when given.
    pub async fn awards(
        &self,
        state: Option<&str>,
        after: Option<(i64, &str)>,
        limit: i64,
    ) -> Result<Vec<AwardRow>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {AWARD_COLUMNS} FROM points_awards WHERE ($1 IS NULL OR state = $1) \
             AND (proposed_at < $2 OR (proposed_at = $2 AND id < $3)) \
             ORDER BY proposed_at DESC, id DESC LIMIT $4"
        ))
        .bind(state)
        .bind(after.map_or(i64::MAX, |a| a.0))
        .bind(after.map_or(String::new(), |a| a.1.to_owned()))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| AwardRow::from_any(r).map_err(StoreError::from))
            .collect()
    }

    /// A correction (see [`Correction`]) as a new movement (`correct`, key `c.key`); a
    /// replay of the key returns the first movement. A debit takes the soonest-expiring
    /// lots and is refused beyond the spendable balance.
    pub async fn correct_points(
        &self,
        c: &Correction,
        p: &PointsSettings,
        now: i64,
    ) -> Result<MovementRow, super::PointsError> {
        let mut tx = self.begin_ledger().await?;
        let (points, key) = (c.points, c.key.as_str());
        if let Some(m) = ledger::by_key(&mut tx, key).await? {
            return Ok(m);
        }
        let account = responder_account(&c.responder_id);
        let id = new_movement_id();
        let legs = if points >= 0 {
            let lot_expires_at = expires_at(now, p.expiry_months);
            vec![
                Leg {
                    account: COUNTY.into(),
                    amount: -points,
                    lot_id: id.clone(),
                    lot_expires_at,
                },
                Leg {
                    account: account.clone(),
                    amount: points,
                    lot_id: id.clone(),
                    lot_expires_at,
                },
            ]
        } else {
            let lots = ledger::lots(&mut tx, &account).await?;
            let Some(taken) = crate::domain::points::take_fifo(&lots, -points) else {
                let available = lots.iter().map(|l| l.points).sum();
                return Err(super::PointsError::Insufficient {
                    available,
                    wanted: -points,
                });
            };
            ledger::move_lots(&taken, &account, COUNTY)
        };
        let m = NewMovement {
            id,
            key: key.to_owned(),
            kind: MovementKind::Correct,
            cause_type: "movement",
            cause_id: key.to_owned(),
            responder_id: Some(c.responder_id.clone()),
            points: points.abs(),
            at: now,
            actor: c.actor.clone(),
            note: Some(c.note.clone()),
            legs,
        };
        let m = ledger::post(&mut tx, &m).await?;
        tx.commit().await?;
        Ok(m)
    }
}
