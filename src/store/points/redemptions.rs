//! Redemptions: a volunteer spends points on a merchant's offer. Redeeming checks the
//! offer (active, valid, in stock counting pending redemptions, the per-person limit),
//! reserves the points (a hold with the redemption's id) and stores a one-time code, all
//! in one ledger transaction; confirming at the shop moves the held points to the
//! merchant and takes one from the offer's stock, again in one transaction. The hold is
//! the truth about the points; the redemption's `state` follows it in the same
//! transactions (`holds::end_hold`).

use rand::Rng;
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use super::super::{Store, StoreError};
use super::holds::{confirm_in, reserve_in};
use super::{ConfirmOutcome, PointsError, Reservation};

/// Digits of a redemption code.
pub const CODE_DIGITS: usize = 8;

/// A stored redemption.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RedemptionRow {
    /// Id (`rd-…`), also its hold's id.
    pub id: String,
    /// The one-time code shown at the shop.
    pub code: String,
    /// Who redeems.
    pub responder_id: String,
    /// Which offer.
    pub offer_id: String,
    /// The offer's title when redeemed.
    pub offer_title: String,
    /// Whose offer.
    pub merchant_id: String,
    /// Price paid.
    pub points: i64,
    /// The hold of the points.
    pub hold_id: String,
    /// The phone's idempotency key.
    pub request_id: String,
    /// pending, confirmed, expired or released.
    pub state: String,
    /// Unix ms.
    pub created_at: i64,
    /// When the code lapses, Unix ms.
    pub expires_at: i64,
    /// When the merchant confirmed it, Unix ms.
    pub confirmed_at: Option<i64>,
    /// Who confirmed it (`user:<name>`).
    pub confirmed_by: Option<String>,
}

const COLUMNS: &str = "id, code, responder_id, offer_id, offer_title, merchant_id, points, hold_id, request_id, state, created_at, expires_at, confirmed_at, confirmed_by";

impl RedemptionRow {
    fn from_any(r: &AnyRow) -> Result<RedemptionRow, sqlx::Error> {
        Ok(RedemptionRow {
            id: r.try_get("id")?,
            code: r.try_get("code")?,
            responder_id: r.try_get("responder_id")?,
            offer_id: r.try_get("offer_id")?,
            offer_title: r.try_get("offer_title")?,
            merchant_id: r.try_get("merchant_id")?,
            points: r.try_get("points")?,
            hold_id: r.try_get("hold_id")?,
            request_id: r.try_get("request_id")?,
            state: r.try_get("state")?,
            created_at: r.try_get("created_at")?,
            expires_at: r.try_get("expires_at")?,
            confirmed_at: r.try_get("confirmed_at")?,
            confirmed_by: r.try_get("confirmed_by")?,
        })
    }
}

/// A redemption asked for by a phone.
#[derive(Debug, Clone)]
pub struct NewRedemption {
    /// Who (the phone's login).
    pub responder_id: String,
    /// Which offer.
    pub offer_id: String,
    /// The phone's idempotency key.
    pub request_id: String,
    /// How long the code is valid, ms (`points.code_valid_secs`).
    pub valid_ms: i64,
}

/// How a confirmation at the shop ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confirmation {
    /// Points moved to the merchant now (200): the redemption as it was (pending) and as
    /// it is (confirmed).
    Confirmed {
        /// As read in the confirmation's transaction, before it.
        before: Box<RedemptionRow>,
        /// As confirmed.
        after: RedemptionRow,
    },
    /// Confirmed before: refused (409).
    AlreadyConfirmed(RedemptionRow),
    /// Lapsed (released now or before) or released: nothing moves (410).
    Gone(RedemptionRow),
    /// The offer ran out of stock since (an admin lowered it): refused, nothing moves
    /// (409).
    SoldOut(RedemptionRow),
    /// No such code among this merchant's redemptions (404; another merchant's code
    /// looks the same).
    NotFound,
}

/// Filters of a redemption listing.
#[derive(Debug, Clone, Default)]
pub struct RedemptionQuery {
    /// Only this merchant's.
    pub merchant_id: Option<String>,
    /// Only this responder's.
    pub responder_id: Option<String>,
    /// Only in this state.
    pub state: Option<String>,
    /// Created at or after, Unix ms.
    pub from: Option<i64>,
    /// Created before, Unix ms.
    pub to: Option<i64>,
    /// At most.
    pub limit: i64,
    /// `(created_at, id)` of the last row of the page before: the rows after it.
    pub after: Option<(i64, String)>,
}

/// One line of a settlement: an offer's confirmed redemptions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SettlementLine {
    /// Offer id.
    pub offer_id: String,
    /// Its title (the latest redeemed).
    pub offer_title: String,
    /// Confirmed redemptions.
    pub count: i64,
    /// Their points.
    pub points: i64,
}

/// A fresh random code of [`CODE_DIGITS`] digits from the operating system's CSPRNG.
fn new_code() -> String {
    let n: u64 = rand::rngs::OsRng.gen_range(0..10u64.pow(CODE_DIGITS as u32));
    format!("{n:0width$}", width = CODE_DIGITS)
}

async fn by_id(tx: &mut Transaction<'static, Any>, id: &str) -> Result<RedemptionRow, StoreError> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM redemptions WHERE id = $1"))
        .bind(id)
        .fetch_one(&mut **tx)
        .await?;
    Ok(RedemptionRow::from_any(&row)?)
}

async fn count(
    tx: &mut Transaction<'static, Any>,
    sql: &str,
    binds: &[&str],
    now: i64,
) -> Result<i64, StoreError> {
    let mut q = sqlx::query_scalar::<_, i64>(sql);
    for b in binds {
        q = q.bind(*b);
    }
    Ok(q.bind(now).fetch_one(&mut **tx).await?)
}

impl Store {
    /// Redeems: checks the offer, reserves its price from the responder's points and
    /// issues a one-time code, in one ledger transaction. The same `request_id` from the
    /// same responder returns the first redemption (`false`: nothing new). Refusals:
    /// no such offer `NotFound`; inactive, expired, sold out or over the per-person limit
    /// `Conflict`; beyond the balance [`PointsError::Insufficient`].
    pub async fn redeem(
        &self,
        r: &NewRedemption,
        now: i64,
    ) -> Result<(RedemptionRow, bool), PointsError> {
        let mut tx = self.begin_ledger().await?;
        let seen = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM redemptions WHERE responder_id = $1 AND request_id = $2"
        ))
        .bind(&r.responder_id)
        .bind(&r.request_id)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(row) = seen {
            let row = RedemptionRow::from_any(&row)?;
            if row.offer_id != r.offer_id {
                return Err(StoreError::Conflict(format!(
                    "request_id {} was used for offer {}",
                    r.request_id, row.offer_id
                ))
                .into());
            }
            return Ok((row, false));
        }
        let offer = sqlx::query(
            "SELECT merchant_id, title, points, stock, per_person_limit, valid_until,
                    CASE WHEN active THEN 1 ELSE 0 END AS on_sale
             FROM merchant_offers WHERE id = $1",
        )
        .bind(&r.offer_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("offer {}", r.offer_id)))?;
        let merchant_id: String = offer.try_get("merchant_id")?;
        let title: String = offer.try_get("title")?;
        let points: i64 = offer.try_get("points")?;
        let stock: Option<i64> = offer.try_get("stock")?;
        let limit: Option<i64> = offer.try_get("per_person_limit")?;
        let valid_until: Option<i64> = offer.try_get("valid_until")?;
        let on_sale: i32 = offer.try_get("on_sale")?;
        let refuse = |why: String| Err(StoreError::Conflict(why).into());
        if on_sale == 0 {
            return refuse(format!("offer {} is not on offer now", r.offer_id));
        }
        if valid_until.is_some_and(|v| v <= now) {
            return refuse(format!("offer {} has expired", r.offer_id));
        }
        if let Some(stock) = stock {
            let pending = count(
                &mut tx,
                "SELECT COUNT(*) FROM redemptions
                 WHERE offer_id = $1 AND state = 'pending' AND expires_at > $2",
                &[&r.offer_id],
                now,
            )
            .await?;
            if stock - pending <= 0 {
                return refuse(format!("offer {} is sold out", r.offer_id));
            }
        }
        if let Some(limit) = limit {
            let mine = count(
                &mut tx,
                "SELECT COUNT(*) FROM redemptions
                 WHERE offer_id = $1 AND responder_id = $2
                   AND (state = 'confirmed' OR (state = 'pending' AND expires_at > $3))",
                &[&r.offer_id, &r.responder_id],
                now,
            )
            .await?;
            if mine >= limit {
                return refuse(format!(
                    "offer {}: at most {limit} per person, and you have {mine}",
                    r.offer_id
                ));
            }
        }
        let mut code = new_code();
        for _ in 0..20 {
            let live: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM redemptions WHERE code = $1 AND state = 'pending'",
            )
            .bind(&code)
            .fetch_one(&mut *tx)
            .await?;
            if live == 0 {
                break;
            }
            code = new_code();
        }
        let id = format!("rd-{}", uuid::Uuid::new_v4().simple());
        let expires_at = now + r.valid_ms;
        reserve_in(
            &mut tx,
            &Reservation {
                hold_id: id.clone(),
                responder_id: r.responder_id.clone(),
                merchant_id: merchant_id.clone(),
                points,
                expires_at,
                actor: format!("responder:{}", r.responder_id),
            },
            now,
        )
        .await?;
        sqlx::query(&format!(
            "INSERT INTO redemptions ({COLUMNS})
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'pending', $10, $11, NULL, NULL)"
        ))
        .bind(&id)
        .bind(&code)
        .bind(&r.responder_id)
        .bind(&r.offer_id)
        .bind(&title)
        .bind(&merchant_id)
        .bind(points)
        .bind(&id)
        .bind(&r.request_id)
        .bind(now)
        .bind(expires_at)
        .execute(&mut *tx)
        .await
        .map_err(|e| StoreError::on_unique(e, || "that code is live; try again".to_owned()))?;
        let row = by_id(&mut tx, &id).await?;
        tx.commit().await?;
        Ok((row, true))
    }

    /// Confirms code `code` at merchant `merchant_id`: the first time its points move to
    /// the merchant and the offer's stock goes down by one, in one ledger transaction.
    /// See [`Confirmation`] for every answer.
    pub async fn confirm_redemption(
        &self,
        code: &str,
        merchant_id: &str,
        actor: &str,
        now: i64,
    ) -> Result<Confirmation, StoreError> {
        let mut tx = self.begin_ledger().await?;
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM redemptions WHERE code = $1 AND merchant_id = $2
             ORDER BY CASE WHEN state = 'pending' THEN 0 ELSE 1 END, created_at DESC LIMIT 1"
        ))
        .bind(code)
        .bind(merchant_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(Confirmation::NotFound);
        };
        let r = RedemptionRow::from_any(&row)?;
        let outcome = confirm_in(&mut tx, &r.hold_id, merchant_id, actor, now).await?;
        let answer = match outcome {
            ConfirmOutcome::Confirmed(_) => {
                let stock: Option<Option<i64>> =
                    sqlx::query_scalar("SELECT stock FROM merchant_offers WHERE id = $1")
                        .bind(&r.offer_id)
                        .fetch_optional(&mut *tx)
                        .await?;
                if let Some(Some(_)) = stock {
                    let done = sqlx::query(
                        "UPDATE merchant_offers SET stock = stock - 1 WHERE id = $1 AND stock > 0",
                    )
                    .bind(&r.offer_id)
                    .execute(&mut *tx)
                    .await?;
                    if done.rows_affected() == 0 {
                        // Rolled back: the hold stays until it lapses.
                        return Ok(Confirmation::SoldOut(r));
                    }
                }
                let after = by_id(&mut tx, &r.id).await?;
                Confirmation::Confirmed {
                    before: Box::new(r),
                    after,
                }
            }
            ConfirmOutcome::AlreadyConfirmed(_) => Confirmation::AlreadyConfirmed(r),
            ConfirmOutcome::Released(_) | ConfirmOutcome::Expired(_) => {
                Confirmation::Gone(by_id(&mut tx, &r.id).await?)
            }
            ConfirmOutcome::OtherMerchant => Confirmation::NotFound,
        };
        tx.commit().await?;
        Ok(answer)
    }

    /// One redemption.
    pub async fn redemption(&self, id: &str) -> Result<RedemptionRow, StoreError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM redemptions WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("redemption {id}")))?;
        Ok(RedemptionRow::from_any(&row)?)
    }

    /// Redemptions matching `q`, newest first.
    pub async fn redemptions(&self, q: &RedemptionQuery) -> Result<Vec<RedemptionRow>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM redemptions
             WHERE ($1 IS NULL OR merchant_id = $1) AND ($2 IS NULL OR responder_id = $2)
               AND ($3 IS NULL OR state = $3)
               AND created_at >= $4 AND created_at < $5
               AND (created_at < $7 OR (created_at = $7 AND id > $8))
             ORDER BY created_at DESC, id LIMIT $6"
        ))
        .bind(&q.merchant_id)
        .bind(&q.responder_id)
        .bind(&q.state)
        .bind(q.from.unwrap_or(i64::MIN))
        .bind(q.to.unwrap_or(i64::MAX))
        .bind(q.limit)
        .bind(q.after.as_ref().map_or(i64::MAX, |a| a.0))
        .bind(q.after.as_ref().map_or("", |a| a.1.as_str()).to_owned())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| RedemptionRow::from_any(r).map_err(StoreError::from))
            .collect()
    }

    /// A merchant's settlement: its redemptions confirmed in `[from, to)`, per offer.
    pub async fn settlement(
        &self,
        merchant_id: &str,
        from: i64,
        to: i64,
    ) -> Result<Vec<SettlementLine>, StoreError> {
        let rows = sqlx::query(
            "SELECT offer_id, MAX(offer_title) AS offer_title, COUNT(*) AS n, CAST(SUM(points) AS BIGINT) AS total
             FROM redemptions
             WHERE merchant_id = $1 AND state = 'confirmed' AND confirmed_at >= $2 AND confirmed_at < $3
             GROUP BY offer_id ORDER BY offer_id",
        )
        .bind(merchant_id)
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(SettlementLine {
                    offer_id: r.try_get("offer_id")?,
                    offer_title: r.try_get("offer_title")?,
                    count: r.try_get("n")?,
                    points: r.try_get("total")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }
}
