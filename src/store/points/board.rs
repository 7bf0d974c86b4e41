//! The console's views over the ledger: every responder's account in one query, and the
//! monthly honour roll (光荣榜), points earned and awarded in a month per grid.

use serde::Serialize;
use sqlx::Row;

use super::super::{Store, StoreError};

/// Most responders one listing returns.
pub const MAX_ACCOUNTS: i64 = 5_000;
/// Most volunteers one grid's honour roll lists.
pub const MAX_HONOUR_PER_ZONE: usize = 100;

/// One responder's points, for the console's list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccountLine {
    /// The responder.
    pub responder_id: String,
    /// Their name.
    pub name: String,
    /// Their kind.
    pub kind: String,
    /// Their grid, if any.
    pub zone_id: Option<String>,
    /// Spendable now.
    pub balance: i64,
    /// Held for redemptions.
    pub reserved: i64,
    /// Ever earned for tasks and reports.
    pub earned_total: i64,
    /// Ever awarded.
    pub awarded_total: i64,
}

/// One volunteer on the honour roll.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HonourLine {
    /// The responder.
    pub responder_id: String,
    /// Their name.
    pub name: String,
    /// Their kind.
    pub kind: String,
    /// Their grid (None: not in a grid).
    pub zone_id: Option<String>,
    /// The grid's name.
    pub zone_name: Option<String>,
    /// Earned and awarded in the month.
    pub points: i64,
    /// Of which earned for tasks and reports.
    pub earned: i64,
    /// Of which awarded.
    pub awarded: i64,
}

impl Store {
    /// Every responder's points, by id: at most `limit`, those after the responder id
    /// `after` (the last of the page before).
    pub async fn points_accounts(
        &self,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<AccountLine>, StoreError> {
        let rows = sqlx::query(
            "SELECT r.id, r.name, r.kind, r.zone_id,
                CAST(COALESCE(b.balance, 0) AS BIGINT) AS balance,
                CAST(COALESCE(h.balance, 0) AS BIGINT) AS reserved,
                CAST(COALESCE(t.earned, 0) AS BIGINT) AS earned_total,
                CAST(COALESCE(t.awarded, 0) AS BIGINT) AS awarded_total
             FROM responders r
             LEFT JOIN points_accounts b ON b.id = 'responder:' || r.id
             LEFT JOIN points_accounts h ON h.id = 'reserved:' || r.id
             LEFT JOIN (
                SELECT e.account,
                    SUM(CASE WHEN m.kind = 'earn' THEN e.amount ELSE 0 END) AS earned,
                    SUM(CASE WHEN m.kind = 'award' THEN e.amount ELSE 0 END) AS awarded
                FROM points_entries e JOIN points_movements m ON m.id = e.movement_id
                WHERE m.kind IN ('earn', 'award') AND e.account LIKE 'responder:%'
                GROUP BY e.account
             ) t ON t.account = 'responder:' || r.id
             WHERE ($2 IS NULL OR r.id > $2)
             ORDER BY r.id LIMIT $1",
        )
        .bind(limit)
        .bind(after)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(AccountLine {
                    responder_id: r.try_get("id")?,
                    name: r.try_get("name")?,
                    kind: r.try_get("kind")?,
                    zone_id: r.try_get("zone_id")?,
                    balance: r.try_get("balance")?,
                    reserved: r.try_get("reserved")?,
                    earned_total: r.try_get("earned_total")?,
                    awarded_total: r.try_get("awarded_total")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    /// The honour roll of [from, to): per responder, the points earned and awarded to
    /// their spendable account (not redemptions, expiry or corrections), by the grid they
    /// are in now; only `zone_id`'s when given. Sorted by grid, then most points first,
    /// then id; at most [`MAX_HONOUR_PER_ZONE`] per grid.
    pub async fn points_honour(
        &self,
        from: i64,
        to: i64,
        zone_id: Option<&str>,
        listed: impl Fn(&str) -> bool,
    ) -> Result<Vec<HonourLine>, StoreError> {
        let rows = sqlx::query(
            "SELECT r.id, r.name, r.kind, r.zone_id, z.name AS zone_name,
                CAST(SUM(e.amount) AS BIGINT) AS points,
                CAST(SUM(CASE WHEN m.kind = 'earn' THEN e.amount ELSE 0 END) AS BIGINT) AS earned,
                CAST(SUM(CASE WHEN m.kind = 'award' THEN e.amount ELSE 0 END) AS BIGINT) AS awarded
             FROM points_movements m
             JOIN responders r ON r.id = m.responder_id
             JOIN points_entries e ON e.movement_id = m.id AND e.account = 'responder:' || r.id
             LEFT JOIN zones z ON z.id = r.zone_id
             WHERE m.kind IN ('earn', 'award') AND m.at >= $1 AND m.at < $2
               AND ($3 IS NULL OR r.zone_id = $3)
             GROUP BY r.id, r.name, r.kind, r.zone_id, z.name
             HAVING SUM(e.amount) > 0
             ORDER BY CASE WHEN r.zone_id IS NULL THEN 1 ELSE 0 END, r.zone_id, points DESC, r.id",
        )
        .bind(from)
        .bind(to)
        .bind(zone_id)
        .fetch_all(&self.pool)
        .await?;
        let mut out: Vec<HonourLine> = Vec::new();
        let mut in_zone = 0usize;
        for r in &rows {
            let line = HonourLine {
                responder_id: r.try_get("id")?,
                name: r.try_get("name")?,
                kind: r.try_get("kind")?,
                zone_id: r.try_get("zone_id")?,
                zone_name: r.try_get("zone_name")?,
                points: r.try_get("points")?,
                earned: r.try_get("earned")?,
                awarded: r.try_get("awarded")?,
            };
            if !listed(&line.kind) {
                continue;
            }
            if out.last().map(|l| &l.zone_id) != Some(&line.zone_id) {
                in_zone = 0;
            }
            in_zone += 1;
            if in_zone <= MAX_HONOUR_PER_ZONE {
                out.push(line);
            }
        }
        Ok(out)
    }
}
