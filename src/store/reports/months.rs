//! Stored summaries of ended calendar months (`report_months`).
//!
//! A month's figures depend only on the incidents opened in it and those due in it. Every
//! write of an incident gives it a new random 40-bit `change_tag`
//! (`store::writes`); the count and the tag sum of both sets are the month's
//! fingerprint, read from the indexes `incidents_created` and `incidents_due` alone. A
//! summary is stored with the fingerprint read in the same snapshot as its figures, and used
//! only while the fingerprint of now is the same: any incident of the month written since
//! (a late close, a rework, an extension moving its deadline) changes a sum except with a
//! chance of 2⁻⁴⁰, so the month is read again.

use std::collections::HashMap;

use sqlx::{AnyConnection, Row};

use crate::domain::report::{GroupBy, GroupInput, Period};
use crate::store::{Backend, Store, StoreError};

/// The layout of the stored JSON and the meaning of the queries behind it; a summary of
/// another format is read again. Raise it when `cohort`'s figures change.
const FORMAT: i64 = 1;

/// The incidents a month's figures depend on, as counts and tag sums.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Fingerprint {
    opened_count: i64,
    opened_tags: i64,
    due_count: i64,
    due_tags: i64,
}

/// The fingerprint of the incidents opened or due in `period`, read on `conn`.
async fn fingerprint(conn: &mut AnyConnection, period: Period) -> Result<Fingerprint, StoreError> {
    let r = sqlx::query(
        "SELECT o.n AS opened_count, o.t AS opened_tags, d.n AS due_count, d.t AS due_tags
         FROM (SELECT COUNT(*) AS n, CAST(COALESCE(SUM(change_tag), 0) AS BIGINT) AS t
               FROM incidents WHERE created_at >= $1 AND created_at < $2) AS o,
              (SELECT COUNT(*) AS n, CAST(COALESCE(SUM(change_tag), 0) AS BIGINT) AS t
               FROM incidents WHERE due_at >= $1 AND due_at < $2) AS d",
    )
    .bind(period.from)
    .bind(period.to)
    .fetch_one(&mut *conn)
    .await?;
    Ok(Fingerprint {
        opened_count: r.try_get("opened_count")?,
        opened_tags: r.try_get("opened_tags")?,
        due_count: r.try_get("due_count")?,
        due_tags: r.try_get("due_tags")?,
    })
}

/// One stored month as read back.
struct StoredMonth {
    period: Period,
    format: i64,
    fingerprint: Fingerprint,
    groups: String,
}

impl Store {
    /// The stored summaries of `months` (ended calendar months of `group_by` at
    /// `offset_ms`) that still hold, by month. A summary that no longer holds, or that
    /// cannot be read (logged), is left out, to be read again.
    pub(super) async fn stored_months(
        &self,
        months: &[Period],
        group_by: GroupBy,
        offset_ms: i64,
    ) -> Result<HashMap<Period, Vec<(String, GroupInput)>>, StoreError> {
        let (Some(first), Some(last)) = (months.first(), months.last()) else {
            return Ok(HashMap::new());
        };
        let rows = sqlx::query(
            "SELECT period_from, period_to, format, opened_count, opened_tags, due_count,
                    due_tags, groups
             FROM report_months
             WHERE group_by = $1 AND offset_ms = $2 AND period_from >= $3 AND period_to <= $4",
        )
        .bind(group_by.as_str())
        .bind(offset_ms)
        .bind(first.from)
        .bind(last.to)
        .fetch_all(&self.pool)
        .await?;
        let mut stored = Vec::with_capacity(rows.len());
        for r in rows {
            stored.push(StoredMonth {
                period: Period {
                    from: r.try_get("period_from")?,
                    to: r.try_get("period_to")?,
                },
                format: r.try_get("format")?,
                fingerprint: Fingerprint {
                    opened_count: r.try_get("opened_count")?,
                    opened_tags: r.try_get("opened_tags")?,
                    due_count: r.try_get("due_count")?,
                    due_tags: r.try_get("due_tags")?,
                },
                groups: r.try_get("groups")?,
            });
        }
        stored.retain(|s| s.format == FORMAT && months.contains(&s.period));
        // Each still-candidate month's fingerprint now, at once.
        let now = futures::future::try_join_all(stored.iter().map(|s| async move {
            let mut conn = self.pool.acquire().await?;
            fingerprint(&mut conn, s.period).await
        }))
        .await?;
        stored = stored
            .into_iter()
            .zip(now)
            .filter(|(s, now)| s.fingerprint == *now)
            .map(|(s, _)| s)
            .collect();
        // A year's summaries are megabytes of JSON: parsed off the runtime.
        let parsed = tokio::task::spawn_blocking(move || {
            stored
                .into_iter()
                .filter_map(
                    |s| match serde_json::from_str::<Vec<(String, GroupInput)>>(&s.groups) {
                        Ok(groups) => Some((s.period, groups)),
                        Err(e) => {
                            tracing::warn!(
                                from = s.period.from,
                                to = s.period.to,
                                "report_months: a stored month is not readable ({e}); reading it again"
                            );
                            None
                        }
                    },
                )
                .collect()
        })
        .await
        .unwrap_or_else(|e| {
            tracing::warn!("report_months: reading the stored months failed ({e}); reading them again");
            HashMap::new()
        });
        Ok(parsed)
    }

    /// Both cohorts of `period` by group, from one snapshot of the database; with `store`
    /// (an ended calendar month) also kept in `report_months` with its fingerprint from
    /// the same snapshot. A summary that cannot be stored is logged: the figures read are
    /// right either way, and the month is read again next time.
    pub(super) async fn read_stretch(
        &self,
        period: Period,
        group_by: GroupBy,
        offset_ms: i64,
        now: i64,
        store: bool,
    ) -> Result<Vec<(String, GroupInput)>, StoreError> {
        let mut tx = match self.backend {
            Backend::Sqlite => self.pool.begin().await?,
            Backend::Postgres => {
                self.pool
                    .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    .await?
            }
        };
        let fingerprint = match store {
            true => Some(fingerprint(&mut tx, period).await?),
            false => None,
        };
        let groups = self
            .report_cohorts(&mut tx, period, group_by, offset_ms, now)
            .await?;
        tx.commit().await?;
        if let Some(fingerprint) = fingerprint {
            if let Err(e) = self
                .store_month(period, group_by, offset_ms, now, fingerprint, &groups)
                .await
            {
                tracing::warn!(
                    from = period.from,
                    to = period.to,
                    "report_months: could not keep a month's summary ({e})"
                );
            }
        }
        Ok(groups)
    }

    /// Keeps (or replaces) one month's summary.
    async fn store_month(
        &self,
        period: Period,
        group_by: GroupBy,
        offset_ms: i64,
        now: i64,
        f: Fingerprint,
        groups: &[(String, GroupInput)],
    ) -> anyhow::Result<()> {
        let json = serde_json::to_string(groups)?;
        sqlx::query(
            "INSERT INTO report_months (group_by, offset_ms, period_from, period_to, format,
                 opened_count, opened_tags, due_count, due_tags, groups, computed_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
             ON CONFLICT (group_by, offset_ms, period_from, period_to) DO UPDATE SET
                 format = excluded.format, opened_count = excluded.opened_count,
                 opened_tags = excluded.opened_tags, due_count = excluded.due_count,
                 due_tags = excluded.due_tags, groups = excluded.groups,
                 computed_at = excluded.computed_at",
        )
        .bind(group_by.as_str())
        .bind(offset_ms)
        .bind(period.from)
        .bind(period.to)
        .bind(FORMAT)
        .bind(f.opened_count)
        .bind(f.opened_tags)
        .bind(f.due_count)
        .bind(f.due_tags)
        .bind(json)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
