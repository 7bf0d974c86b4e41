//! The evaluation report's figures (issue 14, "the closed loop"): which incidents each
//! figure counts is decided by the queries in `store/reports.rs`; here are the pure parts,
//! the period, the rates, the percentiles and the grade, so each is tested without a
//! database. `docs/reports.md` defines every figure.

use std::collections::BTreeMap;

use chrono::{FixedOffset, NaiveDate, TimeZone};
use serde::{Deserialize, Serialize};

use super::Invalid;

/// How the rows of a report are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum GroupBy {
    /// The incident's zone.
    Zone,
    /// The responder whose task last reached `resolved` (and, for offers, the one offered).
    Responder,
    /// The incident's kind.
    Kind,
    /// The source of the alert that opened it.
    Source,
    /// The calendar day (at the report's UTC offset) of the instant the cohort is dated by.
    Day,
}

impl GroupBy {
    /// Every grouping, in the order the docs list them.
    pub const ALL: [GroupBy; 5] = [
        GroupBy::Zone,
        GroupBy::Responder,
        GroupBy::Kind,
        GroupBy::Source,
        GroupBy::Day,
    ];

    /// The name used in the query string.
    pub fn as_str(self) -> &'static str {
        match self {
            GroupBy::Zone => "zone",
            GroupBy::Responder => "responder",
            GroupBy::Kind => "kind",
            GroupBy::Source => "source",
            GroupBy::Day => "day",
        }
    }

    /// Parses `zone`, `responder`, `kind`, `source` or `day`.
    pub fn parse(s: &str) -> Result<GroupBy, Invalid> {
        GroupBy::ALL
            .into_iter()
            .find(|g| g.as_str() == s)
            .ok_or_else(|| {
                Invalid::new(
                    "group_by",
                    "must be one of zone, responder, kind, source, day",
                )
            })
    }
}

/// The group of incidents that have no value for the grouping (no zone, never resolved,
/// no source). Identifiers cannot contain parentheses, so it never meets a real one.
pub const NO_GROUP: &str = "(none)";
/// The group of the total row.
pub const ALL_GROUP: &str = "(all)";

const DAY_MS: i64 = 86_400_000;

/// A report's period, `[from, to)` in Unix ms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Period {
    /// First instant included.
    pub from: i64,
    /// First instant excluded.
    pub to: i64,
}

impl Period {
    /// Parses the two bounds (RFC 3339, or a date `YYYY-MM-DD` at `offset`: `from` is that
    /// day's start, `to` the end of that day, so `from=2026-01-01&to=2026-01-31` is
    /// January) and checks `from < to` and a length of at most `max_days` days.
    pub fn parse(
        from: &str,
        to: &str,
        offset: FixedOffset,
        max_days: u32,
    ) -> Result<Period, Invalid> {
        let from = parse_bound("from", from, offset, false)?;
        let to = parse_bound("to", to, offset, true)?;
        // Day numbers are computed in SQL by integer division, which floors only from 1970.
        if from < 0 {
            return Err(Invalid::new("from", "must be 1970 or later"));
        }
        if from >= to {
            return Err(Invalid::new("to", "must be after from"));
        }
        if to - from > i64::from(max_days) * DAY_MS {
            return Err(Invalid::new(
                "to",
                format!("the period may be at most {max_days} days"),
            ));
        }
        Ok(Period { from, to })
    }
}

/// One bound: RFC 3339, or `YYYY-MM-DD` at `offset` (its start, or with `end_of_day` the
/// next day's start).
pub fn parse_bound(
    field: &str,
    s: &str,
    offset: FixedOffset,
    end_of_day: bool,
) -> Result<i64, Invalid> {
    let s = s.trim();
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(t.timestamp_millis());
    }
    let bad = || {
        Invalid::new(
            field,
            "expected RFC 3339 (2026-01-01T00:00:00+08:00) or YYYY-MM-DD",
        )
    };
    let date = NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| bad())?;
    let date = if end_of_day {
        date.succ_opt().ok_or_else(bad)?
    } else {
        date
    };
    let start = date.and_hms_opt(0, 0, 0).ok_or_else(bad)?;
    offset
        .from_local_datetime(&start)
        .single()
        .map(|t| t.timestamp_millis())
        .ok_or_else(bad)
}

/// The day number (days since 1970-01-01 at `offset`) of `ms`, as SQL computes it:
/// `(ms + offset) / 86400000` for times after 1970.
pub fn day_number(ms: i64, offset: FixedOffset) -> i64 {
    (ms + i64::from(offset.local_minus_utc()) * 1000).div_euclid(DAY_MS)
}

/// The date `YYYY-MM-DD` of a day number.
pub fn day_label(day: i64) -> String {
    NaiveDate::from_ymd_opt(1970, 1, 1)
        .and_then(|d| d.checked_add_signed(chrono::Duration::days(day)))
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_else(|| day.to_string())
}

/// `part ÷ whole` as a fraction 0..1, `None` when `whole` is 0.
pub fn rate(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// The `p`-th percentile (0 < p ≤ 100) of `sorted` (ascending) by the nearest-rank method:
/// the smallest value with at least p % of the values at or below it, `x[⌈p·n/100⌉ − 1]`.
/// It is always one of the measured values (NFPA 1225 states its 90th-percentile targets
/// this way). `None` for no values.
pub fn percentile(sorted: &[i64], p: f64) -> Option<i64> {
    nearest_rank(p, sorted.len()).map(|rank| sorted[rank - 1])
}

/// The rank (1..=n) of the `p`-th percentile of `n` values by the nearest-rank method,
/// `⌈p·n/100⌉`; `None` for no values.
pub fn nearest_rank(p: f64, n: usize) -> Option<usize> {
    if n == 0 {
        return None;
    }
    let rank = (p / 100.0 * n as f64).ceil() as usize;
    Some(rank.clamp(1, n))
}

/// Seconds from milliseconds.
fn secs(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

/// p50 and p90 of one phase, in seconds, over `n` incidents.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct PhaseTimes {
    /// Median, seconds.
    pub p50: Option<f64>,
    /// 90th percentile, seconds.
    pub p90: Option<f64>,
    /// Incidents measured.
    pub n: i64,
}

impl PhaseTimes {
    /// From durations in ms (any order). The two values are picked out without sorting
    /// the rest (`select_nth_unstable`); they are those [`percentile`] gives on the sorted
    /// list.
    pub fn of(mut ms: Vec<i64>) -> PhaseTimes {
        let n = ms.len();
        let (mut p50, mut p90) = (None, None);
        if let (Some(r50), Some(r90)) = (nearest_rank(50.0, n), nearest_rank(90.0, n)) {
            // The 90th first; the median is then among the values at or below it.
            let (below, at, _) = ms.select_nth_unstable(r90 - 1);
            p90 = Some(*at);
            p50 = if r50 == r90 {
                p90
            } else {
                Some(*below.select_nth_unstable(r50 - 1).1)
            };
        }
        PhaseTimes {
            p50: p50.map(secs),
            p90: p90.map(secs),
            n: n as i64,
        }
    }
}

/// Each phase of the loop, measured on the incidents opened in the period.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Phases {
    /// Opened → first offer.
    pub to_first_offer: PhaseTimes,
    /// First offer → accepted.
    pub offer_to_accept: PhaseTimes,
    /// Accepted → on scene.
    pub accept_to_on_scene: PhaseTimes,
    /// On scene → (last) resolved.
    pub on_scene_to_resolved: PhaseTimes,
    /// (Last) resolved → closed.
    pub resolved_to_closed: PhaseTimes,
    /// Opened → on scene (the response time).
    pub to_on_scene: PhaseTimes,
}

/// Share of the measured opened → on-scene times at or under each bound (fractile
/// response: within 1, 2, 5 and 10 minutes).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct OnSceneWithin {
    /// ≤ 60 s.
    pub s60: Option<f64>,
    /// ≤ 120 s.
    pub s120: Option<f64>,
    /// ≤ 300 s.
    pub s300: Option<f64>,
    /// ≤ 600 s.
    pub s600: Option<f64>,
}

impl OnSceneWithin {
    /// From opened → on-scene durations in ms.
    pub fn of(ms: &[i64]) -> OnSceneWithin {
        let share = |limit_s: i64| {
            rate(
                ms.iter().filter(|&&d| d <= limit_s * 1000).count() as i64,
                ms.len() as i64,
            )
        };
        OnSceneWithin {
            s60: share(60),
            s120: share(120),
            s300: share(300),
            s600: share(600),
        }
    }
}

/// Counts over the incidents opened in the period (one group).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenedCounts {
    /// Opened.
    pub opened: i64,
    /// Of those, now cancelled.
    pub cancelled: i64,
    /// Of those, escalated at least once.
    pub escalated: i64,
}

/// Counts over the incidents due in the period (one group).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DueCounts {
    /// Due in the period, not cancelled.
    pub due: i64,
    /// Of those, closed.
    pub closed: i64,
    /// Of those, closed by their deadline.
    pub closed_on_time: i64,
    /// Sent back at least once.
    pub reworked: i64,
    /// Extended at least once.
    pub extended: i64,
    /// Suspended at least once.
    pub suspended: i64,
    /// Closed late, or not closed and past the deadline now.
    pub overdue: i64,
}

/// The phase times of one group as the store measures them: for each phase, `later −
/// earlier` in ms for every incident of the opened cohort that reached both steps, in any
/// order. An incident missing a step is not in the list; one whose steps are out of order
/// (a negative difference, a data error) is in it and left out by [`row`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhaseSpans {
    /// `first_offer_at − created_at`.
    pub to_first_offer: Vec<i64>,
    /// `accepted_at − first_offer_at`.
    pub offer_to_accept: Vec<i64>,
    /// `on_scene_at − accepted_at`.
    pub accept_to_on_scene: Vec<i64>,
    /// `resolved_at − on_scene_at`.
    pub on_scene_to_resolved: Vec<i64>,
    /// `ended_at − resolved_at`, closed incidents only.
    pub resolved_to_closed: Vec<i64>,
    /// `on_scene_at − created_at`.
    pub to_on_scene: Vec<i64>,
}

impl PhaseSpans {
    /// The six lists, in the order of [`Phases`]' fields.
    fn lists(&self) -> [&Vec<i64>; 6] {
        [
            &self.to_first_offer,
            &self.offer_to_accept,
            &self.accept_to_on_scene,
            &self.on_scene_to_resolved,
            &self.resolved_to_closed,
            &self.to_on_scene,
        ]
    }

    /// Adds `other`'s durations to these (for the total row).
    fn extend(&mut self, other: &PhaseSpans) {
        let [a, b, c, d, e, f] = other.lists();
        self.to_first_offer.extend_from_slice(a);
        self.offer_to_accept.extend_from_slice(b);
        self.accept_to_on_scene.extend_from_slice(c);
        self.on_scene_to_resolved.extend_from_slice(d);
        self.resolved_to_closed.extend_from_slice(e);
        self.to_on_scene.extend_from_slice(f);
    }
}

/// Offers made to one responder in the period, from the tasks.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OfferCounts {
    /// Offers made.
    pub received: i64,
    /// Accepted.
    pub accepted: i64,
    /// Declined.
    pub rejected: i64,
    /// Not answered in time.
    pub expired: i64,
    /// accepted ÷ received.
    pub acceptance_rate: Option<f64>,
}

/// Weights of the composite score (`[reports.score]`): the score is
/// `100 × (closure·closure_rate + on_time·on_time_rate − rework·rework_rate −
/// extension·extension_rate) ÷ (closure + on_time)`, kept within 0..100.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct ScoreWeights {
    /// Weight of the closure rate.
    pub closure: f64,
    /// Weight of the on-time rate.
    pub on_time: f64,
    /// Penalty weight of the rework rate.
    pub rework: f64,
    /// Penalty weight of the extension rate.
    pub extension: f64,
}

/// Lowest scores of grades A to D (`[reports.grades]`); below `d` is E.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct GradeThresholds {
    /// Lowest A.
    pub a: f64,
    /// Lowest B.
    pub b: f64,
    /// Lowest C.
    pub c: f64,
    /// Lowest D.
    pub d: f64,
}

impl ScoreWeights {
    /// Checks the weights: finite, not negative, closure + on_time > 0.
    pub fn check(&self) -> Result<(), Invalid> {
        for (k, v) in [
            ("closure", self.closure),
            ("on_time", self.on_time),
            ("rework", self.rework),
            ("extension", self.extension),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(Invalid::new(k, "must be a number >= 0"));
            }
        }
        if self.closure + self.on_time <= 0.0 {
            return Err(Invalid::new("on_time", "closure + on_time must be > 0"));
        }
        Ok(())
    }

    /// The score 0..100 from the four rates; `None` without a closure rate (nothing due).
    pub fn score(&self, r: &Rates) -> Option<f64> {
        let closure = r.closure_rate?;
        let raw = self.closure * closure + self.on_time * r.on_time_rate.unwrap_or(0.0)
            - self.rework * r.rework_rate.unwrap_or(0.0)
            - self.extension * r.extension_rate.unwrap_or(0.0);
        Some((100.0 * raw / (self.closure + self.on_time)).clamp(0.0, 100.0))
    }
}

impl GradeThresholds {
    /// Checks 100 ≥ a ≥ b ≥ c ≥ d ≥ 0.
    pub fn check(&self) -> Result<(), Invalid> {
        let t = [100.0, self.a, self.b, self.c, self.d, 0.0];
        if t.iter().any(|v| !v.is_finite()) || t.windows(2).any(|w| w[0] < w[1]) {
            return Err(Invalid::new("a", "must hold 100 >= a >= b >= c >= d >= 0"));
        }
        Ok(())
    }

    /// `A` to `E` for a score.
    pub fn grade(&self, score: f64) -> char {
        if score >= self.a {
            'A'
        } else if score >= self.b {
            'B'
        } else if score >= self.c {
            'C'
        } else if score >= self.d {
            'D'
        } else {
            'E'
        }
    }
}

/// The four rates, each over `due`.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Rates {
    /// 结案率: closed ÷ due.
    pub closure_rate: Option<f64>,
    /// 按期结案率: closed on time ÷ due.
    pub on_time_rate: Option<f64>,
    /// 返工率: reworked ÷ due.
    pub rework_rate: Option<f64>,
    /// 延期率: extended ÷ due.
    pub extension_rate: Option<f64>,
}

impl Rates {
    /// From one group's due counts.
    pub fn of(d: &DueCounts) -> Rates {
        Rates {
            closure_rate: rate(d.closed, d.due),
            on_time_rate: rate(d.closed_on_time, d.due),
            rework_rate: rate(d.reworked, d.due),
            extension_rate: rate(d.extended, d.due),
        }
    }
}

/// One row of the report: every figure of one group.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ReportRow {
    /// The group: a zone id, responder id, kind, source id or `YYYY-MM-DD`; `(none)`
    /// ([`NO_GROUP`]) or `(all)` ([`ALL_GROUP`]).
    pub group: String,
    /// Opened in the period.
    pub opened: i64,
    /// Due in the period (not cancelled).
    pub due: i64,
    /// Due and closed.
    pub closed: i64,
    /// Due and closed by the deadline.
    pub closed_on_time: i64,
    /// Due and reworked at least once.
    pub reworked: i64,
    /// Due and extended at least once.
    pub extended: i64,
    /// Due and suspended at least once.
    pub suspended: i64,
    /// Due and closed late, or due, not closed and past the deadline now.
    pub overdue: i64,
    /// Opened and cancelled.
    pub cancelled: i64,
    /// Opened and escalated at least once.
    pub escalated: i64,
    /// The four rates.
    #[serde(flatten)]
    pub rates: Rates,
    /// Phase times of the incidents opened.
    pub phases: Phases,
    /// Opened → on scene within 1, 2, 5, 10 minutes.
    pub on_scene_within: OnSceneWithin,
    /// Offers (only when grouped by responder).
    pub offers: Option<OfferCounts>,
    /// The composite score 0..100 (`None` when nothing was due).
    pub score: Option<f64>,
    /// `A`..`E` from the score.
    pub grade: Option<String>,
}

/// Everything the store found for one group (kept as JSON in a past month's summary).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GroupInput {
    /// Incidents opened.
    pub opened: OpenedCounts,
    /// Incidents due.
    pub due: DueCounts,
    /// Phase times of the incidents opened.
    pub spans: PhaseSpans,
    /// Offers (grouped by responder only).
    pub offers: Option<OfferCounts>,
}

impl GroupInput {
    /// Adds `other` into this one (for the total row).
    pub fn absorb(&mut self, other: &GroupInput) {
        let (o, p) = (&mut self.opened, &other.opened);
        o.opened += p.opened;
        o.cancelled += p.cancelled;
        o.escalated += p.escalated;
        let (d, e) = (&mut self.due, &other.due);
        d.due += e.due;
        d.closed += e.closed;
        d.closed_on_time += e.closed_on_time;
        d.reworked += e.reworked;
        d.extended += e.extended;
        d.suspended += e.suspended;
        d.overdue += e.overdue;
        self.spans.extend(&other.spans);
        if let Some(x) = &other.offers {
            let o = self.offers.get_or_insert_with(OfferCounts::default);
            o.received += x.received;
            o.accepted += x.accepted;
            o.rejected += x.rejected;
            o.expired += x.expired;
        }
    }
}

/// The durations measured: those in order (≥ 0).
fn measured(ms: &[i64]) -> Vec<i64> {
    ms.iter().copied().filter(|&d| d >= 0).collect()
}

/// Phase times and fractiles from the durations the store found.
fn phases(spans: &PhaseSpans) -> (Phases, OnSceneWithin) {
    let [a, b, c, d, e, f] = spans.lists().map(|l| measured(l));
    let within = OnSceneWithin::of(&f);
    let phases = Phases {
        to_first_offer: PhaseTimes::of(a),
        offer_to_accept: PhaseTimes::of(b),
        accept_to_on_scene: PhaseTimes::of(c),
        on_scene_to_resolved: PhaseTimes::of(d),
        resolved_to_closed: PhaseTimes::of(e),
        to_on_scene: PhaseTimes::of(f),
    };
    (phases, within)
}

/// One row from what the store found for a group.
pub fn row(
    group: String,
    input: &GroupInput,
    weights: &ScoreWeights,
    grades: &GradeThresholds,
) -> ReportRow {
    let rates = Rates::of(&input.due);
    let score = weights.score(&rates);
    let (phases, on_scene_within) = phases(&input.spans);
    let offers = input.offers.clone().map(|mut o| {
        o.acceptance_rate = rate(o.accepted, o.received);
        o
    });
    let (o, d) = (&input.opened, &input.due);
    ReportRow {
        group,
        opened: o.opened,
        due: d.due,
        closed: d.closed,
        closed_on_time: d.closed_on_time,
        reworked: d.reworked,
        extended: d.extended,
        suspended: d.suspended,
        overdue: d.overdue,
        cancelled: o.cancelled,
        escalated: o.escalated,
        rates,
        phases,
        on_scene_within,
        offers,
        grade: score.map(|s| grades.grade(s).to_string()),
        score,
    }
}

/// The rows of every group (in the order of their names) and the total row.
pub fn rows(
    groups: &BTreeMap<String, GroupInput>,
    weights: &ScoreWeights,
    grades: &GradeThresholds,
) -> (Vec<ReportRow>, ReportRow) {
    let mut all = GroupInput::default();
    let rows = groups
        .iter()
        .map(|(name, g)| {
            all.absorb(g);
            row(name.clone(), g, weights, grades)
        })
        .collect();
    (rows, row(ALL_GROUP.to_owned(), &all, weights, grades))
}

/// One cell of the report as a table (CSV, spreadsheet).
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// Text.
    Text(String),
    /// A count.
    Int(i64),
    /// A rate, a score or seconds.
    Num(f64),
    /// No value (a rate over nothing).
    Empty,
}

impl From<Option<f64>> for Cell {
    fn from(v: Option<f64>) -> Cell {
        v.map_or(Cell::Empty, Cell::Num)
    }
}

const PHASE_NAMES: [&str; 6] = [
    "to_first_offer",
    "offer_to_accept",
    "accept_to_on_scene",
    "on_scene_to_resolved",
    "resolved_to_closed",
    "to_on_scene",
];

/// The table's column names, in order: nested figures flattened with `_`
/// (`phases.to_on_scene.p90` is `to_on_scene_p90`).
pub fn columns() -> Vec<String> {
    let mut c: Vec<String> = [
        "group",
        "opened",
        "due",
        "closed",
        "closed_on_time",
        "reworked",
        "extended",
        "suspended",
        "overdue",
        "cancelled",
        "escalated",
        "closure_rate",
        "on_time_rate",
        "rework_rate",
        "extension_rate",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for p in PHASE_NAMES {
        for f in ["p50", "p90", "n"] {
            c.push(format!("{p}_{f}"));
        }
    }
    for s in ["s60", "s120", "s300", "s600"] {
        c.push(format!("on_scene_within_{s}"));
    }
    for o in [
        "offers_received",
        "offers_accepted",
        "offers_rejected",
        "offers_expired",
        "acceptance_rate",
    ] {
        c.push(o.to_owned());
    }
    c.push("score".into());
    c.push("grade".into());
    c
}

impl ReportRow {
    /// The row as cells, in the order of [`columns`].
    pub fn cells(&self) -> Vec<Cell> {
        let mut c = vec![Cell::Text(self.group.clone())];
        for n in [
            self.opened,
            self.due,
            self.closed,
            self.closed_on_time,
            self.reworked,
            self.extended,
            self.suspended,
            self.overdue,
            self.cancelled,
            self.escalated,
        ] {
            c.push(Cell::Int(n));
        }
        let r = &self.rates;
        for v in [
            r.closure_rate,
            r.on_time_rate,
            r.rework_rate,
            r.extension_rate,
        ] {
            c.push(v.into());
        }
        let p = &self.phases;
        for t in [
            &p.to_first_offer,
            &p.offer_to_accept,
            &p.accept_to_on_scene,
            &p.on_scene_to_resolved,
            &p.resolved_to_closed,
            &p.to_on_scene,
        ] {
            c.push(t.p50.into());
            c.push(t.p90.into());
            c.push(Cell::Int(t.n));
        }
        let w = &self.on_scene_within;
        for v in [w.s60, w.s120, w.s300, w.s600] {
            c.push(v.into());
        }
        match &self.offers {
            Some(o) => {
                for n in [o.received, o.accepted, o.rejected, o.expired] {
                    c.push(Cell::Int(n));
                }
                c.push(o.acceptance_rate.into());
            }
            None => c.extend(std::iter::repeat_n(Cell::Empty, 5)),
        }
        c.push(self.score.into());
        c.push(self.grade.clone().map_or(Cell::Empty, Cell::Text));
        c
    }
}

#[cfg(test)]
mod tests;
