//! Reservations (holds) for redemptions, and expiry. A hold moves points from
//! `responder:<id>` to `reserved:<id>` (so they count against the balance at once); it
//! ends exactly once: confirmed (to `merchant:<id>`) or released (back). Each step is one
//! transaction under the ledger lock, with its own idempotency key, so two phones, two
//! merchants or a replay can never move the same points twice.

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use super::super::{Store, StoreError};
use super::ledger::{self, move_lots, new_movement_id, NewMovement};
use super::{
    merchant_account, reserved_account, responder_account, MovementKind, MovementRow, PointsError,
    EXPIRY,
};
use crate::domain::points::take_fifo;

/// A reservation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HoldRow {
    /// Id (chosen by the caller: the redemption's id).
    pub id: String,
    /// Whose points.
    pub responder_id: String,
    /// How many.
    pub points: i64,
    /// held, confirmed or released.
    pub state: String,
    /// When an unconfirmed hold lapses, Unix ms.
    pub expires_at: i64,
    /// When it was made.
    pub created_at: i64,
    /// When it was confirmed or released.
    pub ended_at: Option<i64>,
    /// The merchant whose offer it is (the only one that can confirm it).
    pub merchant_id: String,
    /// The reserve movement.
    pub reserve_movement: String,
    /// The confirm or release movement.
    pub end_movement: Option<String>,
}

const HOLD_COLUMNS: &str = "id, responder_id, points, state, expires_at, created_at, ended_at, merchant_id, reserve_movement, end_movement";

impl HoldRow {
    fn from_any(r: &AnyRow) -> Result<HoldRow, sqlx::Error> {
        Ok(HoldRow {
            id: r.try_get("id")?,
            responder_id: r.try_get("responder_id")?,
            points: r.try_get("points")?,
            state: r.try_get("state")?,
            expires_at: r.try_get("expires_at")?,
            created_at: r.try_get("created_at")?,
            ended_at: r.try_get("ended_at")?,
            merchant_id: r.try_get("merchant_id")?,
            reserve_movement: r.try_get("reserve_movement")?,
            end_movement: r.try_get("end_movement")?,
        })
    }
}

/// A reservation asked for (a redemption's hold).
#[derive(Debug, Clone)]
pub struct Reservation {
    /// The hold's id: the redemption's (its idempotency: the same id again is the same
    /// hold).
    pub hold_id: String,
    /// Whose points.
    pub responder_id: String,
    /// The merchant whose offer it is: only that merchant can confirm it.
    pub merchant_id: String,
    /// How many points.
    pub points: i64,
    /// When it lapses unconfirmed, Unix ms.
    pub expires_at: i64,
    /// Who asks (`responder:<id>`).
    pub actor: String,
}

/// How a confirmation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfirmOutcome {
    /// The points moved to the merchant now (the redeem movement).
    Confirmed(MovementRow),
    /// They had moved before: refused (409).
    AlreadyConfirmed(HoldRow),
    /// The hold had been released before (410).
    Released(HoldRow),
    /// The hold had lapsed: it is released now and nothing is redeemed (410).
    Expired(HoldRow),
    /// The hold is for another merchant's offer: nothing moves (404 to the caller, as for
    /// a code that does not exist).
    OtherMerchant,
}

async fn hold_in(tx: &mut Transaction<'static, Any>, id: &str) -> Result<HoldRow, StoreError> {
    let row = sqlx::query(&format!(
        "SELECT {HOLD_COLUMNS} FROM points_holds WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    match row {
        Some(r) => Ok(HoldRow::from_any(&r)?),
        None => Err(StoreError::NotFound(format!("hold {id}"))),
    }
}

/// The lots a hold took, from its reserve movement's entries on the reserved account.
async fn held_lots(
    tx: &mut Transaction<'static, Any>,
    hold: &HoldRow,
) -> Result<Vec<crate::domain::points::Lot>, StoreError> {
    let rows = sqlx::query(
        "SELECT lot_id, lot_expires_at, amount FROM points_entries
         WHERE movement_id = $1 AND account = $2 ORDER BY seq",
    )
    .bind(&hold.reserve_movement)
    .bind(reserved_account(&hold.responder_id))
    .fetch_all(&mut **tx)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(crate::domain::points::Lot {
                lot_id: r.try_get("lot_id")?,
                expires_at: r.try_get("lot_expires_at")?,
                points: r.try_get("amount")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(StoreError::from)
}

/// Ends a hold by moving its lots from the reserved account to `to`.
async fn end_hold(
    tx: &mut Transaction<'static, Any>,
    hold: &HoldRow,
    kind: MovementKind,
    to: &str,
    actor: &str,
    now: i64,
) -> Result<MovementRow, StoreError> {
    let taken = held_lots(tx, hold).await?;
    let (state, key) = match kind {
        MovementKind::Redeem => ("confirmed", format!("redeem:{}", hold.id)),
        _ => ("released", format!("release:{}", hold.id)),
    };
    let m = NewMovement {
        id: new_movement_id(),
        key,
        kind,
        cause_type: "redemption",
        cause_id: hold.id.clone(),
        responder_id: Some(hold.responder_id.clone()),
        points: hold.points,
        at: now,
        actor: actor.to_owned(),
        note: None,
        legs: move_lots(&taken, &reserved_account(&hold.responder_id), to),
    };
    let moved = ledger::post(tx, &m).await?;
    sqlx::query(
        "UPDATE points_holds SET state = $1, ended_at = $2, end_movement = $3
         WHERE id = $4 AND state = 'held'",
    )
    .bind(state)
    .bind(now)
    .bind(&moved.id)
    .bind(&hold.id)
    .execute(&mut **tx)
    .await?;
    // The redemption this hold belongs to (if any) follows it in the same transaction.
    let (redemption_state, confirmed_at, confirmed_by) = match kind {
        MovementKind::Redeem => ("confirmed", Some(now), Some(actor.to_owned())),
        _ if hold.expires_at <= now => ("expired", None, None),
        _ => ("released", None, None),
    };
    sqlx::query(
        "UPDATE redemptions SET state = $1, confirmed_at = $2, confirmed_by = $3
         WHERE hold_id = $4 AND state = 'pending'",
    )
    .bind(redemption_state)
    .bind(confirmed_at)
    .bind(confirmed_by)
    .bind(&hold.id)
    .execute(&mut **tx)
    .await?;
    Ok(moved)
}

/// Reserves inside the caller's ledger transaction; see [`Store::reserve_points`].
pub(super) async fn reserve_in(
    tx: &mut Transaction<'static, Any>,
    r: &Reservation,
    now: i64,
) -> Result<HoldRow, PointsError> {
    let (hold_id, responder_id, points) = (r.hold_id.as_str(), r.responder_id.as_str(), r.points);
    if points <= 0 {
        return Err(StoreError::Conflict("a hold must be of at least 1 point".into()).into());
    }
    let key = format!("reserve:{hold_id}");
    if ledger::by_key(tx, &key).await?.is_some() {
        return Ok(hold_in(tx, hold_id).await?);
    }
    let account = responder_account(responder_id);
    let lots = ledger::lots(tx, &account).await?;
    let Some(taken) = take_fifo(&lots, points) else {
        let available = lots.iter().map(|l| l.points).sum();
        return Err(PointsError::Insufficient {
            available,
            wanted: points,
        });
    };
    let m = NewMovement {
        id: new_movement_id(),
        key,
        kind: MovementKind::Reserve,
        cause_type: "redemption",
        cause_id: hold_id.to_owned(),
        responder_id: Some(responder_id.to_owned()),
        points,
        at: now,
        actor: r.actor.clone(),
        note: None,
        legs: move_lots(&taken, &account, &reserved_account(responder_id)),
    };
    let moved = ledger::post(tx, &m).await?;
    sqlx::query(&format!(
        "INSERT INTO points_holds ({HOLD_COLUMNS}) VALUES ($1, $2, $3, 'held', $4, $5, NULL, $6, $7, NULL)"
    ))
    .bind(hold_id)
    .bind(responder_id)
    .bind(points)
    .bind(r.expires_at)
    .bind(now)
    .bind(&r.merchant_id)
    .bind(&moved.id)
    .execute(&mut **tx)
    .await
    .map_err(|e| StoreError::on_unique(e, || format!("hold {hold_id} already exists")))?;
    Ok(hold_in(tx, hold_id).await?)
}

/// Confirms inside the caller's ledger transaction; see [`Store::confirm_hold`].
pub(super) async fn confirm_in(
    tx: &mut Transaction<'static, Any>,
    hold_id: &str,
    merchant_id: &str,
    actor: &str,
    now: i64,
) -> Result<ConfirmOutcome, StoreError> {
    let hold = hold_in(tx, hold_id).await?;
    if hold.merchant_id != merchant_id {
        return Ok(ConfirmOutcome::OtherMerchant);
    }
    Ok(match hold.state.as_str() {
        "confirmed" => ConfirmOutcome::AlreadyConfirmed(hold),
        "released" => ConfirmOutcome::Released(hold),
        _ if hold.expires_at <= now => {
            let to = responder_account(&hold.responder_id);
            end_hold(tx, &hold, MovementKind::Release, &to, actor, now).await?;
            ConfirmOutcome::Expired(hold_in(tx, hold_id).await?)
        }
        _ => {
            let to = merchant_account(merchant_id);
            let m = end_hold(tx, &hold, MovementKind::Redeem, &to, actor, now).await?;
            ConfirmOutcome::Confirmed(m)
        }
    })
}

impl Store {
    /// Reserves `r.points` of a responder's spendable points under hold `r.hold_id` for
    /// merchant `r.merchant_id` until `r.expires_at` (they count against the balance from
    /// now on), taking the lots that expire soonest. The same `hold_id` again returns the
    /// first hold and moves nothing. More than the balance: [`PointsError::Insufficient`],
    /// nothing held.
    pub async fn reserve_points(&self, r: &Reservation, now: i64) -> Result<HoldRow, PointsError> {
        let mut tx = self.begin_ledger().await?;
        let hold = reserve_in(&mut tx, r, now).await?;
        tx.commit().await?;
        Ok(hold)
    }

    /// Confirms hold `hold_id` for merchant `merchant_id`: its points move to the
    /// merchant, once. See [`ConfirmOutcome`] for every answer; an unknown hold is
    /// `NotFound`.
    pub async fn confirm_hold(
        &self,
        hold_id: &str,
        merchant_id: &str,
        actor: &str,
        now: i64,
    ) -> Result<ConfirmOutcome, StoreError> {
        let mut tx = self.begin_ledger().await?;
        let outcome = confirm_in(&mut tx, hold_id, merchant_id, actor, now).await?;
        tx.commit().await?;
        Ok(outcome)
    }

    /// Releases hold `hold_id`: its points go back to the responder, with the lots (and
    /// expiry dates) they came from. Releasing a released hold returns it unchanged; a
    /// confirmed one is a `Conflict`.
    pub async fn release_hold(
        &self,
        hold_id: &str,
        actor: &str,
        now: i64,
    ) -> Result<HoldRow, StoreError> {
        let mut tx = self.begin_ledger().await?;
        let hold = hold_in(&mut tx, hold_id).await?;
        match hold.state.as_str() {
            "confirmed" => {
                return Err(StoreError::Conflict(format!(
                    "hold {hold_id} was confirmed; its points are the merchant's"
                )))
            }
            "released" => {}
            _ => {
                let to = responder_account(&hold.responder_id);
                end_hold(&mut tx, &hold, MovementKind::Release, &to, actor, now).await?;
            }
        }
        let hold = hold_in(&mut tx, hold_id).await?;
        tx.commit().await?;
        Ok(hold)
    }

    /// One hold.
    pub async fn hold(&self, hold_id: &str) -> Result<HoldRow, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {HOLD_COLUMNS} FROM points_holds WHERE id = $1"
        ))
        .bind(hold_id)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(r) => Ok(HoldRow::from_any(&r)?),
            None => Err(StoreError::NotFound(format!("hold {hold_id}"))),
        }
    }

    /// Releases every hold that lapsed by `now` (a crash between reserve and confirm
    /// leaves a hold that this gives back); returns how many.
    pub async fn release_lapsed_holds(&self, now: i64) -> Result<usize, StoreError> {
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM points_holds WHERE state = 'held' AND expires_at <= $1 ORDER BY expires_at",
        )
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        for id in &ids {
            self.release_hold(id, "points:expiry", now).await?;
        }
        Ok(ids.len())
    }

    /// Moves every lot that expired by `now` and still holds points on a responder's
    /// spendable account to the expiry account (points held for a redemption wait until
    /// they come back). Returns the points expired. Each lot and account is one movement;
    /// the earning that issued the lot stays in the ledger.
    pub async fn expire_points(&self, now: i64) -> Result<i64, StoreError> {
        let due: Vec<(String, String)> = sqlx::query_as(
            "SELECT account, lot_id FROM points_entries
             WHERE account LIKE 'responder:%' AND lot_expires_at <= $1
             GROUP BY account, lot_id HAVING SUM(amount) > 0 ORDER BY account, lot_id",
        )
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        let mut expired = 0;
        for (account, lot_id) in due {
            let mut tx = self.begin_ledger().await?;
            let lots = ledger::lots(&mut tx, &account).await?;
            let Some(lot) = lots.into_iter().find(|l| l.lot_id == lot_id) else {
                continue;
            };
            let m = NewMovement {
                id: new_movement_id(),
                key: format!("expire:{account}:{lot_id}:{now}"),
                kind: MovementKind::Expire,
                cause_type: "movement",
                cause_id: lot_id.clone(),
                responder_id: super::account_of(&account).map(str::to_owned),
                points: lot.points,
                at: now,
                actor: "points:expiry".into(),
                note: Some(format!("{} points earned by {lot_id} expired", lot.points)),
                legs: move_lots(std::slice::from_ref(&lot), &account, EXPIRY),
            };
            ledger::post(&mut tx, &m).await?;
            tx.commit().await?;
            expired += lot.points;
        }
        Ok(expired)
    }
}
