//! The evaluation report's queries (`docs/reports.md`). Counts are aggregated in SQL, one
//! scan of each cohort grouped by the report's key; the phase times need every value for
//! their percentiles, so the milestones of the incidents opened come back one row each
//! (six integers, no text but the key). Indexes: `incidents_created`, `incidents_due`,
//! `tasks_offered`.

use std::collections::BTreeMap;

use sqlx::Row;

use super::{Store, StoreError};
use crate::domain::report::{
    day_label, DueCounts, GroupBy, GroupInput, IncidentTimes, OfferCounts, OpenedCounts, Period,
    NO_GROUP,
};

/// The SQL giving an incident's group, as text or NULL; `at` is the column that dates the
/// cohort (for `day`). `$3` is the report's UTC offset in ms.
fn key_sql(group_by: GroupBy, at: &str) -> String {
    match group_by {
        GroupBy::Zone => "zone_id".into(),
        GroupBy::Responder => "resolver_id".into(),
        GroupBy::Kind => "kind".into(),
        GroupBy::Source => "source_id".into(),
        // Integer division in both databases; times are after 1970, so it floors.
        GroupBy::Day => format!("CAST((({at} + $3) / 86400000) AS TEXT)"),
    }
}

/// The group's name from the key column.
fn group_name(group_by: GroupBy, key: Option<String>) -> String {
    match (group_by, key) {
        (_, None) => NO_GROUP.to_owned(),
        (GroupBy::Day, Some(day)) => day.parse().map_or(day, day_label),
        (_, Some(k)) => k,
    }
}

impl Store {
    /// What each group of the report is made of, by group name: the incidents opened in
    /// `period`, those due in it (at `now`, for what is overdue) and, grouped by responder,
    /// the offers made in it. `offset_ms` is the calendar's UTC offset (`group_by=day`).
    pub async fn report_inputs(
        &self,
        period: Period,
        group_by: GroupBy,
        offset_ms: i64,
        now: i64,
    ) -> Result<BTreeMap<String, GroupInput>, StoreError> {
        let mut groups: BTreeMap<String, GroupInput> = BTreeMap::new();
        // $3 is bound in every query so that the day key can use it; the other keys ignore
        // it. PostgreSQL needs each parameter used to know its type, hence `$3 = $3`.
        let opened_key = key_sql(group_by, "created_at");
        let rows = sqlx::query(&format!(
            "SELECT {opened_key} AS grp, COUNT(*) AS opened,
                    COUNT(CASE WHEN state = 'cancelled' THEN 1 END) AS cancelled,
                    COUNT(CASE WHEN escalation_count > 0 THEN 1 END) AS escalated
             FROM incidents WHERE created_at >= $1 AND created_at < $2 AND $3 = $3
             GROUP BY 1"
        ))
        .bind(period.from)
        .bind(period.to)
        .bind(offset_ms)
        .fetch_all(&self.pool)
        .await?;
        for r in rows {
            let g = groups
                .entry(group_name(group_by, r.try_get("grp")?))
                .or_default();
            g.opened = OpenedCounts {
                opened: r.try_get("opened")?,
                cancelled: r.try_get("cancelled")?,
                escalated: r.try_get("escalated")?,
            };
        }

        let due_key = key_sql(group_by, "due_at");
        let rows = sqlx::query(&format!(
            "SELECT {due_key} AS grp, COUNT(*) AS due,
                    COUNT(CASE WHEN state = 'closed' THEN 1 END) AS closed,
                    COUNT(CASE WHEN state = 'closed' AND ended_at <= due_at THEN 1 END) AS on_time,
                    COUNT(CASE WHEN rework_count > 0 THEN 1 END) AS reworked,
                    COUNT(CASE WHEN extension_count > 0 THEN 1 END) AS extended,
                    COUNT(CASE WHEN suspension_count > 0 THEN 1 END) AS suspended,
                    COUNT(CASE WHEN (state = 'closed' AND ended_at > due_at)
                                 OR (state <> 'closed' AND due_at < $4) THEN 1 END) AS overdue
             FROM incidents
             WHERE due_at >= $1 AND due_at < $2 AND state <> 'cancelled' AND $3 = $3
             GROUP BY 1"
        ))
        .bind(period.from)
        .bind(period.to)
        .bind(offset_ms)
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        for r in rows {
            let g = groups
                .entry(group_name(group_by, r.try_get("grp")?))
                .or_default();
            g.due = DueCounts {
                due: r.try_get("due")?,
                closed: r.try_get("closed")?,
                closed_on_time: r.try_get("on_time")?,
                reworked: r.try_get("reworked")?,
                extended: r.try_get("extended")?,
                suspended: r.try_get("suspended")?,
                overdue: r.try_get("overdue")?,
            };
        }

        let rows = sqlx::query(&format!(
            "SELECT {opened_key} AS grp, created_at, first_offer_at, accepted_at, on_scene_at,
                    resolved_at, CASE WHEN state = 'closed' THEN ended_at END AS closed_at
             FROM incidents WHERE created_at >= $1 AND created_at < $2 AND $3 = $3"
        ))
        .bind(period.from)
        .bind(period.to)
        .bind(offset_ms)
        .fetch_all(&self.pool)
        .await?;
        for r in rows {
            let name = group_name(group_by, r.try_get("grp")?);
            groups.entry(name).or_default().times.push(IncidentTimes {
                created_at: r.try_get("created_at")?,
                first_offer_at: r.try_get("first_offer_at")?,
                accepted_at: r.try_get("accepted_at")?,
                on_scene_at: r.try_get("on_scene_at")?,
                resolved_at: r.try_get("resolved_at")?,
                closed_at: r.try_get("closed_at")?,
            });
        }

        if group_by == GroupBy::Responder {
            let rows = sqlx::query(
                "SELECT responder_id, COUNT(*) AS received,
                        COUNT(CASE WHEN accepted_at IS NOT NULL THEN 1 END) AS accepted,
                        COUNT(CASE WHEN status = 'rejected' THEN 1 END) AS rejected,
                        COUNT(CASE WHEN status = 'expired' THEN 1 END) AS expired
                 FROM tasks WHERE offered_at >= $1 AND offered_at < $2
                 GROUP BY responder_id",
            )
            .bind(period.from)
            .bind(period.to)
            .fetch_all(&self.pool)
            .await?;
            for r in rows {
                let name: String = r.try_get("responder_id")?;
                groups.entry(name).or_default().offers = Some(OfferCounts {
                    received: r.try_get("received")?,
                    accepted: r.try_get("accepted")?,
                    rejected: r.try_get("rejected")?,
                    expired: r.try_get("expired")?,
                    acceptance_rate: None,
                });
            }
            // Every responder row shows its offers, none made being 0 of 0.
            for g in groups.values_mut() {
                g.offers.get_or_insert_with(OfferCounts::default);
            }
        }
        Ok(groups)
    }
}
