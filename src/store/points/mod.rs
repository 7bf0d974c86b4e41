//! The volunteer-points ledger (志愿服务积分): append-only and double-entry. A movement
//! (`points_movements`) has entries (`points_entries`) that sum to zero between accounts:
//! `responder:<id>` (spendable), `reserved:<id>` (held for a redemption), `county`
//! (issuing), `merchant:<id>` and `expiry`. Balances are the sums of the entries (cached
//! per account in the same transaction). Every movement has an idempotency key: a replay
//! returns the movement first written and moves nothing.
//!
//! - `ledger`: posting a movement, the ledger lock, lots.
//! - `earn`: credits for verified incidents (inside the dispatcher's commit), awards.
//! - `holds`: reserve, confirm, release (for redemptions) and expiry.
//! - `redemptions`: offers redeemed for a one-time code, confirmed at the shop;
//!   settlement.
//! - `reads`: balances, history, the ledger listing and the invariant audit.
//! - `board`: every responder's account at once, and the monthly honour roll.

mod board;
mod earn;
mod holds;
mod ledger;
mod reads;
mod redemptions;

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::Row;

use super::StoreError;

pub use board::{AccountLine, HonourLine, MAX_ACCOUNTS, MAX_HONOUR_PER_ZONE};
pub(crate) use earn::earn_in;
pub use earn::{AwardRow, Correction, EarnSettings, NewAward};
pub use holds::{ConfirmOutcome, HoldRow, Reservation};
pub use reads::{AccountSummary, HistoryLine, LedgerQuery, MovementView};
pub use redemptions::{
    Confirmation, NewRedemption, RedemptionQuery, RedemptionRow, SettlementLine, CODE_DIGITS,
};

/// What a movement does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MovementKind {
    /// Points for a verified deed (task or report).
    Earn,
    /// An honour award.
    Award,
    /// Expired lots to the expiry account.
    Expire,
    /// Points held for a redemption.
    Reserve,
    /// Held points given back.
    Release,
    /// Held points to a merchant.
    Redeem,
    /// A correction (a new movement, never an edit).
    Correct,
}

impl MovementKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            MovementKind::Earn => "earn",
            MovementKind::Award => "award",
            MovementKind::Expire => "expire",
            MovementKind::Reserve => "reserve",
            MovementKind::Release => "release",
            MovementKind::Redeem => "redeem",
            MovementKind::Correct => "correct",
        }
    }
}

/// The account of a responder's spendable points.
pub fn responder_account(id: &str) -> String {
    format!("responder:{id}")
}

/// The account of a responder's reserved points.
pub fn reserved_account(id: &str) -> String {
    format!("reserved:{id}")
}

/// The account of a merchant.
pub fn merchant_account(id: &str) -> String {
    format!("merchant:{id}")
}

/// The issuing account.
pub const COUNTY: &str = "county";
/// Where expired points go.
pub const EXPIRY: &str = "expiry";

/// The responder whose account this is (`responder:` or `reserved:`): those may never go
/// below zero.
pub(crate) fn account_of(account: &str) -> Option<&str> {
    account
        .strip_prefix("responder:")
        .or_else(|| account.strip_prefix("reserved:"))
}

pub(super) const MOVEMENT_COLUMNS: &str =
    "id, idempotency_key, kind, cause_type, cause_id, responder_id, points, at, actor, note";

/// A stored movement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MovementRow {
    /// Id (`pm-…`); also the lot id of the points it issued.
    pub id: String,
    /// The idempotency key.
    pub idempotency_key: String,
    /// earn, award, expire, reserve, release, redeem or correct.
    pub kind: String,
    /// incident, award, redemption or movement.
    pub cause_type: String,
    /// The cause's id.
    pub cause_id: String,
    /// The responder it concerns, if any.
    pub responder_id: Option<String>,
    /// Points moved.
    pub points: i64,
    /// When, Unix ms.
    pub at: i64,
    /// Who or what moved them.
    pub actor: String,
    /// Why, in words.
    pub note: Option<String>,
}

impl MovementRow {
    pub(super) fn from_any(r: &AnyRow) -> Result<MovementRow, StoreError> {
        Ok(MovementRow {
            id: r.try_get("id")?,
            idempotency_key: r.try_get("idempotency_key")?,
            kind: r.try_get("kind")?,
            cause_type: r.try_get("cause_type")?,
            cause_id: r.try_get("cause_id")?,
            responder_id: r.try_get("responder_id")?,
            points: r.try_get("points")?,
            at: r.try_get("at")?,
            actor: r.try_get("actor")?,
            note: r.try_get("note")?,
        })
    }
}

/// Why a spend or a redemption step was refused.
#[derive(Debug, thiserror::Error)]
pub enum PointsError {
    /// The responder holds fewer spendable points than asked (maps to 409).
    #[error("not enough points: {available} available, {wanted} asked")]
    Insufficient {
        /// Spendable now.
        available: i64,
        /// Asked.
        wanted: i64,
    },
    /// Anything from the store.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for PointsError {
    fn from(e: sqlx::Error) -> PointsError {
        PointsError::Store(StoreError::Db(e))
    }
}
