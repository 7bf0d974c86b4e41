//! Reading the ledger: a responder's account and history, the ledger listing with each
//! movement's cause, and the audit of the ledger's invariants.

use serde::Serialize;
use sqlx::Row;

use super::super::{Store, StoreError};
use super::{reserved_account, responder_account, MovementRow, MOVEMENT_COLUMNS};

/// A responder's points.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccountSummary {
    /// Whose.
    pub responder_id: String,
    /// Spendable now (reserved points not included).
    pub balance: i64,
    /// Held for redemptions not yet confirmed or released.
    pub reserved: i64,
    /// Ever earned for tasks and reports.
    pub earned_total: i64,
    /// Ever awarded.
    pub awarded_total: i64,
    /// Ever redeemed at merchants.
    pub redeemed_total: i64,
    /// Ever expired.
    pub expired_total: i64,
    /// Spendable points that expire within 90 days of now.
    pub expiring_soon: i64,
    /// When the soonest of the spendable points expire, Unix ms.
    pub next_expiry_at: Option<i64>,
}

/// One line of a responder's history.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HistoryLine {
    /// The movement.
    #[serde(flatten)]
    pub movement: MovementRow,
    /// What it did to the spendable balance.
    pub change: i64,
    /// What it did to the reserved points.
    pub reserved_change: i64,
    /// The incident's kind, when the cause is an incident.
    pub incident_kind: Option<String>,
    /// The incident's title, when the cause is an incident.
    pub incident_title: Option<String>,
    /// The award's reason, when the cause is an award.
    pub award_reason: Option<String>,
    /// The offer's title, when the cause is a redemption.
    pub redemption_offer: Option<String>,
    /// The offer's merchant, when the cause is a redemption.
    pub redemption_merchant: Option<String>,
}

/// A movement with its entries, for the ledger listing.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MovementView {
    /// The movement.
    #[serde(flatten)]
    pub movement: MovementRow,
    /// Its entries: (account, amount, lot id).
    pub entries: Vec<EntryView>,
}

/// One entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EntryView {
    /// Account.
    pub account: String,
    /// Amount (+ in, − out).
    pub amount: i64,
    /// The movement that issued these points.
    pub lot_id: String,
    /// When that lot expires, Unix ms.
    pub lot_expires_at: i64,
}

/// Filters of the ledger listing.
#[derive(Debug, Clone, Default)]
pub struct LedgerQuery {
    /// Only movements with an entry on this account.
    pub account: Option<String>,
    /// From this time (Unix ms, inclusive).
    pub from: Option<i64>,
    /// Before this time (Unix ms).
    pub to: Option<i64>,
    /// Only movements of this kind (`earn`, `award`, …).
    pub kind: Option<String>,
    /// At most this many, newest first.
    pub limit: i64,
    /// `(at, id)` of the last movement of the page before: the movements after it.
    pub after: Option<(i64, String)>,
}

const NINETY_DAYS_MS: i64 = 90 * 86_400_000;

impl Store {
    /// The balance of any account.
    pub async fn points_balance(&self, account: &str) -> Result<i64, StoreError> {
        let b: Option<i64> =
            sqlx::query_scalar("SELECT balance FROM points_accounts WHERE id = $1")
                .bind(account)
                .fetch_optional(&self.pool)
                .await?;
        Ok(b.unwrap_or(0))
    }

    /// A responder's account at `now`.
    pub async fn points_account(&self, rid: &str, now: i64) -> Result<AccountSummary, StoreError> {
        let account = responder_account(rid);
        let total = |kind: &'static str| {
            let account = account.clone();
            async move {
                let sql = format!(
                    "SELECT CAST(COALESCE(SUM(e.amount), 0) AS BIGINT) FROM points_entries e
                     JOIN points_movements m ON m.id = e.movement_id
                     WHERE e.account = $1 AND m.kind = '{kind}'"
                );
                sqlx::query_scalar::<_, i64>(&sql)
                    .bind(account)
                    .fetch_one(&self.pool)
                    .await
            }
        };
        let earned_total = total("earn").await?;
        let awarded_total = total("award").await?;
        let expired_total = -total("expire").await?;
        let redeemed_total: i64 = sqlx::query_scalar(
            "SELECT CAST(COALESCE(SUM(points), 0) AS BIGINT) FROM points_holds
             WHERE responder_id = $1 AND state = 'confirmed'",
        )
        .bind(rid)
        .fetch_one(&self.pool)
        .await?;
        let lots = sqlx::query(
            "SELECT MIN(lot_expires_at) AS expires_at, CAST(SUM(amount) AS BIGINT) AS points
             FROM points_entries WHERE account = $1 GROUP BY lot_id HAVING SUM(amount) > 0",
        )
        .bind(&account)
        .fetch_all(&self.pool)
        .await?;
        let mut expiring_soon = 0;
        let mut next_expiry_at: Option<i64> = None;
        for r in &lots {
            let at: i64 = r.try_get("expires_at")?;
            let p: i64 = r.try_get("points")?;
            if at <= now + NINETY_DAYS_MS {
                expiring_soon += p;
            }
            next_expiry_at = Some(next_expiry_at.map_or(at, |n| n.min(at)));
        }
        Ok(AccountSummary {
            responder_id: rid.to_owned(),
            balance: self.points_balance(&account).await?,
            reserved: self.points_balance(&reserved_account(rid)).await?,
            earned_total,
            awarded_total,
            redeemed_total,
            expired_total,
            expiring_soon,
            next_expiry_at,
        })
    }

    /// A responder's movements, newest first (at most `limit`, after `(at, id)` of the
    /// last one of the page before), each with its cause.
    pub async fn points_history(
        &self,
        rid: &str,
        after: Option<(i64, &str)>,
        limit: i64,
    ) -> Result<Vec<HistoryLine>, StoreError> {
        let cols = MOVEMENT_COLUMNS
            .split(", ")
            .map(|c| format!("m.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let rows = sqlx::query(&format!(
            "SELECT {cols},
                CAST(COALESCE(SUM(CASE WHEN e.account = $1 THEN e.amount ELSE 0 END), 0) AS BIGINT) AS change,
                CAST(COALESCE(SUM(CASE WHEN e.account = $2 THEN e.amount ELSE 0 END), 0) AS BIGINT) AS reserved_change,
                MIN(i.kind) AS incident_kind, MIN(i.title) AS incident_title, MIN(a.reason) AS award_reason,
                MIN(r.offer_title) AS redemption_offer, MIN(r.merchant_id) AS redemption_merchant
             FROM points_movements m
             LEFT JOIN points_entries e ON e.movement_id = m.id
             LEFT JOIN incidents i ON m.cause_type = 'incident' AND i.id = m.cause_id
             LEFT JOIN points_awards a ON m.cause_type = 'award' AND a.id = m.cause_id
             LEFT JOIN redemptions r ON m.cause_type = 'redemption' AND r.id = m.cause_id
             WHERE m.responder_id = $3 AND (m.at < $5 OR (m.at = $5 AND m.id < $6))
             GROUP BY {cols}
             ORDER BY m.at DESC, m.id DESC LIMIT $4"
        ))
        .bind(responder_account(rid))
        .bind(reserved_account(rid))
        .bind(rid)
        .bind(limit)
        .bind(after.map_or(i64::MAX, |a| a.0))
        .bind(after.map_or(String::new(), |a| a.1.to_owned()))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(HistoryLine {
                    movement: MovementRow::from_any(r)?,
                    change: r.try_get("change")?,
                    reserved_change: r.try_get("reserved_change")?,
                    incident_kind: r.try_get("incident_kind")?,
                    incident_title: r.try_get("incident_title")?,
                    award_reason: r.try_get("award_reason")?,
                    redemption_offer: r.try_get("redemption_offer")?,
                    redemption_merchant: r.try_get("redemption_merchant")?,
                })
            })
            .collect()
    }

    /// Movements with their entries, newest first.
    pub async fn points_ledger(&self, q: &LedgerQuery) -> Result<Vec<MovementView>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {MOVEMENT_COLUMNS} FROM points_movements
             WHERE ($1 IS NULL OR id IN (SELECT movement_id FROM points_entries WHERE account = $1))
               AND ($2 IS NULL OR at >= $2) AND ($3 IS NULL OR at < $3)
               AND ($5 IS NULL OR kind = $5)
               AND (at < $6 OR (at = $6 AND id < $7))
             ORDER BY at DESC, id DESC LIMIT $4"
        ))
        .bind(&q.account)
        .bind(q.from)
        .bind(q.to)
        .bind(q.limit)
        .bind(&q.kind)
        .bind(q.after.as_ref().map_or(i64::MAX, |a| a.0))
        .bind(q.after.as_ref().map_or("", |a| a.1.as_str()).to_owned())
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let movement = MovementRow::from_any(r)?;
            let entries = sqlx::query(
                "SELECT account, amount, lot_id, lot_expires_at FROM points_entries
                 WHERE movement_id = $1 ORDER BY seq",
            )
            .bind(&movement.id)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|e| {
                Ok(EntryView {
                    account: e.try_get("account")?,
                    amount: e.try_get("amount")?,
                    lot_id: e.try_get("lot_id")?,
                    lot_expires_at: e.try_get("lot_expires_at")?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
            out.push(MovementView { movement, entries });
        }
        Ok(out)
    }

    /// Checks the ledger's invariants; returns what is wrong (empty when all hold): every
    /// movement's entries sum to zero, every account's cached balance is the sum of its
    /// entries, no responder account and no lot on one is below zero.
    pub async fn points_audit(&self) -> Result<Vec<String>, StoreError> {
        let mut problems = Vec::new();
        let unbalanced: Vec<(String, i64)> = sqlx::query_as(
            "SELECT movement_id, CAST(SUM(amount) AS BIGINT) FROM points_entries
             GROUP BY movement_id HAVING SUM(amount) <> 0",
        )
        .fetch_all(&self.pool)
        .await?;
        for (m, s) in unbalanced {
            problems.push(format!("movement {m}: entries sum to {s}"));
        }
        let total: i64 = sqlx::query_scalar(
            "SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM points_entries",
        )
        .fetch_one(&self.pool)
        .await?;
        if total != 0 {
            problems.push(format!("all entries sum to {total}"));
        }
        let drift: Vec<(String, i64, i64)> = sqlx::query_as(
            "SELECT a.id, a.balance, CAST(COALESCE(SUM(e.amount), 0) AS BIGINT)
             FROM points_accounts a LEFT JOIN points_entries e ON e.account = a.id
             GROUP BY a.id, a.balance HAVING a.balance <> COALESCE(SUM(e.amount), 0)",
        )
        .fetch_all(&self.pool)
        .await?;
        for (a, cached, sum) in drift {
            problems.push(format!("account {a}: balance {cached}, entries {sum}"));
        }
        let missing: Vec<(String,)> = sqlx::query_as(
            "SELECT DISTINCT account FROM points_entries
             WHERE account NOT IN (SELECT id FROM points_accounts)",
        )
        .fetch_all(&self.pool)
        .await?;
        for (a,) in missing {
            problems.push(format!("account {a} has entries but no balance row"));
        }
        let negative: Vec<(String, String, i64)> = sqlx::query_as(
            "SELECT account, lot_id, CAST(SUM(amount) AS BIGINT) FROM points_entries
             WHERE account LIKE 'responder:%' OR account LIKE 'reserved:%'
             GROUP BY account, lot_id HAVING SUM(amount) < 0",
        )
        .fetch_all(&self.pool)
        .await?;
        for (a, lot, s) in negative {
            problems.push(format!("account {a}, lot {lot}: {s}"));
        }
        let below: Vec<(String, i64)> = sqlx::query_as(
            "SELECT id, balance FROM points_accounts
             WHERE (id LIKE 'responder:%' OR id LIKE 'reserved:%') AND balance < 0",
        )
        .fetch_all(&self.pool)
        .await?;
        for (a, b) in below {
            problems.push(format!("account {a} is below zero: {b}"));
        }
        Ok(problems)
    }
}
