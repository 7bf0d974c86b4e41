//! The report's two queries: the cohorts of a stretch of time (one grouped scan of the
//! incidents opened or due in it) and the offers by responder (one scan of the tasks).
//!
//! The phase times need every value for their exact percentiles: the database computes each
//! incident's durations and hands them over joined into one text per group and phase
//! (`group_concat`, `string_agg`), so that a month's incidents cross the driver as a few
//! dozen rows rather than one row each (docs/benchmarks.md). Indexes: `incidents_created`,
//! `incidents_due`, and for the offers `tasks_responder_offered` (SQLite; PostgreSQL scans).

use sqlx::{AnyConnection, Row};

use crate::domain::report::{
    day_label, DueCounts, GroupBy, GroupInput, OfferCounts, OpenedCounts, Period, PhaseSpans,
    NO_GROUP,
};
use crate::store::{Backend, Store, StoreError};

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

/// The phases' durations as SQL, in the order of [`PhaseSpans`]: `later − earlier`, NULL
/// when either step is missing (aggregates skip it). Out-of-order steps give a negative
/// value, which the report leaves out (`domain::report`).
const SPANS_SQL: [(&str, &str); 6] = [
    ("to_first_offer", "first_offer_at - created_at"),
    ("offer_to_accept", "accepted_at - first_offer_at"),
    ("accept_to_on_scene", "on_scene_at - accepted_at"),
    ("on_scene_to_resolved", "resolved_at - on_scene_at"),
    (
        "resolved_to_closed",
        "CASE WHEN state = 'closed' THEN ended_at END - resolved_at",
    ),
    ("to_on_scene", "on_scene_at - created_at"),
];

/// The integers of a list joined with `,` (`None`: no value), or an error naming the group
/// and the phase.
fn parse_spans(group: &str, phase: &str, joined: Option<&str>) -> Result<Vec<i64>, StoreError> {
    let Some(joined) = joined.filter(|j| !j.is_empty()) else {
        return Ok(Vec::new());
    };
    joined
        .split(',')
        .map(|v| {
            v.parse().map_err(|_| StoreError::BadRow {
                table: "incidents",
                id: format!("report group {group}"),
                problem: format!("{phase}: {v:?} is not a duration in ms"),
            })
        })
        .collect()
}

impl Store {
    /// The SQL that joins the non-NULL values of the integer expression `expr` of a group
    /// into one text, separated by commas.
    fn joined_sql(&self, expr: &str) -> String {
        match self.backend {
            Backend::Sqlite => format!("group_concat({expr}, ',')"),
            Backend::Postgres => format!("string_agg(CAST(({expr}) AS TEXT), ',')"),
        }
    }

    /// Both cohorts of `period` by group, read on `conn`. An incident's group is the same
    /// in both except by day (the day it was opened, the day it fell due), so one scan of
    /// the incidents opened or due in the period gives both; by day, one scan of each.
    pub(super) async fn report_cohorts(
        &self,
        conn: &mut AnyConnection,
        period: Period,
        group_by: GroupBy,
        offset_ms: i64,
        now: i64,
    ) -> Result<Vec<(String, GroupInput)>, StoreError> {
        if group_by != GroupBy::Day {
            return self
                .report_cohort(conn, period, group_by, offset_ms, now, true, true)
                .await;
        }
        let mut opened = self
            .report_cohort(conn, period, group_by, offset_ms, now, true, false)
            .await?;
        let due = self
            .report_cohort(conn, period, group_by, offset_ms, now, false, true)
            .await?;
        opened.extend(due);
        Ok(opened)
    }

    /// One scan of the incidents opened (`opened`) and/or due (`due`) in the period,
    /// grouped: the counts of each cohort asked for and, for the opened, the phase
    /// durations. The group key is dated by `created_at` unless only `due` is asked for.
    #[allow(clippy::too_many_arguments)]
    async fn report_cohort(
        &self,
        conn: &mut AnyConnection,
        period: Period,
        group_by: GroupBy,
        offset_ms: i64,
        now: i64,
        opened: bool,
        due: bool,
    ) -> Result<Vec<(String, GroupInput)>, StoreError> {
        let key = key_sql(group_by, if opened { "created_at" } else { "due_at" });
        let mut columns = Vec::new();
        let mut cohorts = Vec::new();
        if opened {
            cohorts.push("(created_at >= $1 AND created_at < $2)");
            columns.extend([
                "COUNT(CASE WHEN o THEN 1 END) AS opened".to_owned(),
                "COUNT(CASE WHEN o AND state = 'cancelled' THEN 1 END) AS cancelled".into(),
                "COUNT(CASE WHEN o AND escalation_count > 0 THEN 1 END) AS escalated".into(),
            ]);
            columns.extend(SPANS_SQL.iter().map(|(name, expr)| {
                let joined = self.joined_sql(&format!("CASE WHEN o THEN {expr} END"));
                format!("{joined} AS {name}")
            }));
        }
        if due {
            cohorts.push("(due_at >= $1 AND due_at < $2 AND state <> 'cancelled')");
            columns.extend([
                "COUNT(CASE WHEN d THEN 1 END) AS due".to_owned(),
                "COUNT(CASE WHEN d AND state = 'closed' THEN 1 END) AS closed".into(),
                "COUNT(CASE WHEN d AND state = 'closed' AND ended_at <= due_at THEN 1 END)
                    AS on_time"
                    .into(),
                "COUNT(CASE WHEN d AND rework_count > 0 THEN 1 END) AS reworked".into(),
                "COUNT(CASE WHEN d AND extension_count > 0 THEN 1 END) AS extended".into(),
                "COUNT(CASE WHEN d AND suspension_count > 0 THEN 1 END) AS suspended".into(),
                "COUNT(CASE WHEN d AND ((state = 'closed' AND ended_at > due_at)
                    OR (state <> 'closed' AND due_at < $4)) THEN 1 END) AS overdue"
                    .into(),
            ]);
        }
        // `o`: in the opened cohort; `d`: in the due cohort (a cancelled incident never is).
        // $3 and $4 are bound in every query; PostgreSQL needs each parameter used to know
        // its type, hence `$3 = $3` (the day key uses $3, the overdue count $4).
        let sql = format!(
            "SELECT grp, {columns}
             FROM (SELECT {key} AS grp, state, escalation_count, rework_count,
                          extension_count, suspension_count, created_at, due_at, ended_at,
                          first_offer_at, accepted_at, on_scene_at, resolved_at,
                          (created_at >= $1 AND created_at < $2) AS o,
                          (due_at >= $1 AND due_at < $2 AND state <> 'cancelled') AS d
                   FROM incidents
                   WHERE ({cohorts}) AND $3 = $3 AND $4 = $4) AS cohort
             GROUP BY grp",
            columns = columns.join(",\n                    "),
            cohorts = cohorts.join(" OR "),
        );
        let rows = sqlx::query(&sql)
            .bind(period.from)
            .bind(period.to)
            .bind(offset_ms)
            .bind(now)
            .fetch_all(&mut *conn)
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let name = group_name(group_by, r.try_get("grp")?);
            let mut g = GroupInput::default();
            if opened {
                g.opened = OpenedCounts {
                    opened: r.try_get("opened")?,
                    cancelled: r.try_get("cancelled")?,
                    escalated: r.try_get("escalated")?,
                };
                let mut lists = Vec::with_capacity(SPANS_SQL.len());
                for (phase, _) in SPANS_SQL {
                    let joined: Option<String> = r.try_get(phase)?;
                    lists.push(parse_spans(&name, phase, joined.as_deref())?);
                }
                let mut lists = lists.into_iter();
                let mut next = || lists.next().unwrap_or_default();
                g.spans = PhaseSpans {
                    to_first_offer: next(),
                    offer_to_accept: next(),
                    accept_to_on_scene: next(),
                    on_scene_to_resolved: next(),
                    resolved_to_closed: next(),
                    to_on_scene: next(),
                };
            }
            if due {
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
            out.push((name, g));
        }
        Ok(out)
    }

    /// The offers made in the period by responder (`None` for any other grouping).
    pub(super) async fn report_offers(
        &self,
        period: Period,
        group_by: GroupBy,
    ) -> Result<Option<Vec<(String, OfferCounts)>>, StoreError> {
        if group_by != GroupBy::Responder {
            return Ok(None);
        }
        // SQLite would take `tasks_offered` for the range and then sort every task of the
        // period by responder (a year: 600,000); the covering index in responder order
        // needs no sort, and is read alone (docs/benchmarks.md). PostgreSQL hashes.
        let tasks = match self.backend {
            Backend::Sqlite => "tasks INDEXED BY tasks_responder_offered",
            Backend::Postgres => "tasks",
        };
        let rows = sqlx::query(&format!(
            "SELECT responder_id, COUNT(*) AS received,
                    COUNT(CASE WHEN accepted_at IS NOT NULL THEN 1 END) AS accepted,
                    COUNT(CASE WHEN status = 'rejected' THEN 1 END) AS rejected,
                    COUNT(CASE WHEN status = 'expired' THEN 1 END) AS expired
             FROM {tasks} WHERE offered_at >= $1 AND offered_at < $2
             GROUP BY responder_id"
        ))
        .bind(period.from)
        .bind(period.to)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| {
                let counts = OfferCounts {
                    received: r.try_get("received")?,
                    accepted: r.try_get("accepted")?,
                    rejected: r.try_get("rejected")?,
                    expired: r.try_get("expired")?,
                    acceptance_rate: None,
                };
                Ok((r.try_get("responder_id")?, counts))
            })
            .collect::<Result<_, StoreError>>()
            .map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joined_durations_parse_or_name_the_group() {
        assert_eq!(parse_spans("g", "p", None).ok(), Some(vec![]));
        assert_eq!(parse_spans("g", "p", Some("")).ok(), Some(vec![]));
        assert_eq!(
            parse_spans("g", "p", Some("1500,-20,0")).ok(),
            Some(vec![1500, -20, 0])
        );
        let err = parse_spans("grid-01", "to_on_scene", Some("12,x")).err();
        assert_eq!(
            err.map(|e| e.to_string()).as_deref(),
            Some("incidents row report group grid-01: to_on_scene: \"x\" is not a duration in ms")
        );
    }
}
