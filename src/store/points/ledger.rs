//! Posting a movement: the one place that writes ledger rows. Every caller runs inside a
//! transaction that holds the ledger's write lock ([`lock_ledger`]), so the balance it
//! checks is the balance it changes.

use sqlx::{Any, Row, Transaction};

use super::super::{Backend, Store, StoreError};
use super::{account_of, MovementKind, MovementRow, MOVEMENT_COLUMNS};
use crate::domain::points::Lot;

/// One entry of a movement being written.
#[derive(Debug, Clone)]
pub(super) struct Leg {
    pub account: String,
    pub amount: i64,
    pub lot_id: String,
    pub lot_expires_at: i64,
}

/// A movement being written; its legs must sum to zero.
#[derive(Debug, Clone)]
pub(super) struct NewMovement {
    pub id: String,
    pub key: String,
    pub kind: MovementKind,
    pub cause_type: &'static str,
    pub cause_id: String,
    pub responder_id: Option<String>,
    pub points: i64,
    pub at: i64,
    pub actor: String,
    pub note: Option<String>,
    pub legs: Vec<Leg>,
}

/// A new movement id (also the lot id of the points it issues).
pub(super) fn new_movement_id() -> String {
    format!("pm-{}", uuid::Uuid::now_v7().simple())
}

/// Takes the ledger's write lock inside `tx`: no other movement is written until `tx`
/// ends. SQLite transactions that post movements begin `IMMEDIATE` (they hold the one
/// write lock already); on PostgreSQL the account table is locked against other writers
/// (readers go on), so two spends of one balance run one after the other.
pub(crate) async fn lock_ledger(
    tx: &mut Transaction<'static, Any>,
    backend: Backend,
) -> Result<(), StoreError> {
    if backend == Backend::Postgres {
        sqlx::query("LOCK TABLE points_accounts IN SHARE ROW EXCLUSIVE MODE")
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

impl Store {
    /// A transaction that holds the ledger's write lock from its first statement (the
    /// store's `begin_write`: `BEGIN IMMEDIATE` on SQLite, the same table lock as
    /// [`lock_ledger`] on PostgreSQL).
    pub(super) async fn begin_ledger(&self) -> Result<Transaction<'static, Any>, StoreError> {
        self.begin_write("points_accounts").await
    }
}

/// The movement already written under `key`, if any (a replay).
pub(super) async fn by_key(
    tx: &mut Transaction<'static, Any>,
    key: &str,
) -> Result<Option<MovementRow>, StoreError> {
    let row = sqlx::query(&format!(
        "SELECT {MOVEMENT_COLUMNS} FROM points_movements WHERE idempotency_key = $1"
    ))
    .bind(key)
    .fetch_optional(&mut **tx)
    .await?;
    row.map(|r| MovementRow::from_any(&r)).transpose()
}

/// The balance of `account` (0 when it has none yet).
pub(super) async fn balance(
    tx: &mut Transaction<'static, Any>,
    account: &str,
) -> Result<i64, StoreError> {
    let b: Option<i64> = sqlx::query_scalar("SELECT balance FROM points_accounts WHERE id = $1")
        .bind(account)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(b.unwrap_or(0))
}

/// The lots on `account` that still hold points.
pub(super) async fn lots(
    tx: &mut Transaction<'static, Any>,
    account: &str,
) -> Result<Vec<Lot>, StoreError> {
    let rows = sqlx::query(
        "SELECT lot_id, MIN(lot_expires_at) AS expires_at, CAST(SUM(amount) AS BIGINT) AS points
         FROM points_entries WHERE account = $1 GROUP BY lot_id HAVING SUM(amount) > 0",
    )
    .bind(account)
    .fetch_all(&mut **tx)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Lot {
                lot_id: r.try_get("lot_id")?,
                expires_at: r.try_get("expires_at")?,
                points: r.try_get("points")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(StoreError::from)
}

/// Writes `m`: the movement, its entries and the accounts' cached balances. Refused (and
/// nothing written, as the caller's transaction rolls back) when the legs do not sum to
/// zero or a responder's account would go below zero.
pub(super) async fn post(
    tx: &mut Transaction<'static, Any>,
    m: &NewMovement,
) -> Result<MovementRow, StoreError> {
    let sum: i64 = m.legs.iter().map(|l| l.amount).sum();
    if sum != 0 {
        return Err(StoreError::BadRow {
            table: "points_movements",
            id: m.id.clone(),
            problem: format!("entries sum to {sum}, not 0"),
        });
    }
    sqlx::query(&format!(
        "INSERT INTO points_movements ({MOVEMENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
    ))
    .bind(&m.id)
    .bind(&m.key)
    .bind(m.kind.as_str())
    .bind(m.cause_type)
    .bind(&m.cause_id)
    .bind(&m.responder_id)
    .bind(m.points)
    .bind(m.at)
    .bind(&m.actor)
    .bind(&m.note)
    .execute(&mut **tx)
    .await
    .map_err(|e| StoreError::on_unique(e, || format!("movement {} already recorded", m.key)))?;
    for (seq, leg) in m.legs.iter().enumerate() {
        sqlx::query(
            "INSERT INTO points_entries (movement_id, seq, account, amount, lot_id, lot_expires_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&m.id)
        .bind(seq as i64)
        .bind(&leg.account)
        .bind(leg.amount)
        .bind(&leg.lot_id)
        .bind(leg.lot_expires_at)
        .execute(&mut **tx)
        .await?;
        sqlx::query(
            "INSERT INTO points_accounts (id, balance, updated_at) VALUES ($1, $2, $3)
             ON CONFLICT (id) DO UPDATE SET balance = points_accounts.balance + $2, updated_at = $3",
        )
        .bind(&leg.account)
        .bind(leg.amount)
        .bind(m.at)
        .execute(&mut **tx)
        .await?;
        if account_of(&leg.account).is_some() && balance(tx, &leg.account).await? < 0 {
            return Err(StoreError::Conflict(format!(
                "{} would go below zero",
                leg.account
            )));
        }
    }
    Ok(MovementRow {
        id: m.id.clone(),
        idempotency_key: m.key.clone(),
        kind: m.kind.as_str().to_owned(),
        cause_type: m.cause_type.to_owned(),
        cause_id: m.cause_id.clone(),
        responder_id: m.responder_id.clone(),
        points: m.points,
        at: m.at,
        actor: m.actor.clone(),
        note: m.note.clone(),
    })
}

/// The legs that move `taken` lots from `from` to `to`, keeping each lot's identity.
pub(super) fn move_lots(taken: &[Lot], from: &str, to: &str) -> Vec<Leg> {
    let mut legs = Vec::with_capacity(taken.len() * 2);
    for lot in taken {
        for (account, amount) in [(from, -lot.points), (to, lot.points)] {
            legs.push(Leg {
                account: account.to_owned(),
                amount,
                lot_id: lot.lot_id.clone(),
                lot_expires_at: lot.expires_at,
            });
        }
    }
    legs
}
