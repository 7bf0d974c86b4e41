//! The evaluation report's reading of the database (`docs/reports.md`).
//!
//! # Layout
//! - `cohort`: the two queries, the incidents of a stretch of time by group (both cohorts,
//!   with the joined phase durations) and the offers by responder.
//! - `months`: stored summaries of calendar months that have ended, each used only while
//!   the fingerprint of its incidents still holds.
//!
//! A period is read as its calendar months at the report's UTC offset, plus the stretches
//! before its first and after its last whole month. An ended month comes from its stored
//! summary when that is still right, else it is read and stored; what is left to read is
//! read at once, one stretch per core. Grouped by responder, the offers are counted beside
//! it over the whole period. A year thus reads the incidents of the months that changed
//! (at most the current one, usually) instead of all 200,000 (docs/benchmarks.md).

mod cohort;
mod months;

use std::collections::btree_map::Entry;
use std::collections::BTreeMap;

use chrono::{Datelike, FixedOffset, Months, TimeZone, Timelike};
use futures::{StreamExt, TryStreamExt};

use super::{Store, StoreError};
use crate::domain::report::{GroupBy, GroupInput, OfferCounts, Period};

/// Periods longer than this have their offers counted in parts at once.
const SPLIT_ABOVE_MS: i64 = 62 * 86_400_000;

/// How many stretches are read at once: the cores, at most 4.
fn readers() -> usize {
    std::thread::available_parallelism()
        .map_or(1, std::num::NonZero::get)
        .clamp(1, 4)
}

/// `period` in as many consecutive parts as there are cores (at most 4) when it is longer
/// than two months, else whole: one scan of a year's offers keeps one core busy.
fn split(period: Period) -> Vec<Period> {
    let len = period.to - period.from;
    if len <= SPLIT_ABOVE_MS {
        return vec![period];
    }
    let n = i64::try_from(readers()).unwrap_or(1);
    (0..n)
        .map(|i| Period {
            from: period.from + len * i / n,
            to: period.from + len * (i + 1) / n,
        })
        .collect()
}

/// A consecutive stretch of a report's period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stretch {
    period: Period,
    /// A whole calendar month at the report's offset (only those are stored).
    month: bool,
}

/// The local date and time of `t` (Unix ms) at `offset`.
fn local(t: i64, offset: FixedOffset) -> Option<chrono::DateTime<FixedOffset>> {
    Some(chrono::DateTime::from_timestamp_millis(t)?.with_timezone(&offset))
}

/// The first instant of the calendar month after the one holding `t`, at `offset`.
fn next_month(t: i64, offset: FixedOffset) -> Option<i64> {
    let first = local(t, offset)?.date_naive().with_day(1)?;
    let next = first.checked_add_months(Months::new(1))?;
    let start = offset
        .from_local_datetime(&next.and_hms_opt(0, 0, 0)?)
        .single()?;
    Some(start.timestamp_millis())
}

/// `t` is the first instant of a calendar month at `offset`.
fn month_starts_at(t: i64, offset: FixedOffset) -> bool {
    local(t, offset).is_some_and(|l| {
        l.day() == 1 && l.num_seconds_from_midnight() == 0 && l.timestamp_subsec_millis() == 0
    })
}

/// The last `months` calendar months at the UTC offset `offset_ms` that ended by `now`
/// (`None` for none, or an offset of no whole seconds).
fn ended_months(now: i64, offset_ms: i64, months: u32) -> Option<Period> {
    let offset = offset_of(offset_ms)?;
    let first = local(now, offset)?.date_naive().with_day(1)?;
    let start = |d: chrono::NaiveDate| {
        offset
            .from_local_datetime(&d.and_hms_opt(0, 0, 0)?)
            .single()
            .map(|t| t.timestamp_millis())
    };
    let from = start(first.checked_sub_months(Months::new(months))?)?;
    let to = start(first)?;
    (months > 0 && from < to).then_some(Period { from, to })
}

/// `offset_ms` as an offset, when it is a whole number of seconds within a day.
fn offset_of(offset_ms: i64) -> Option<FixedOffset> {
    i32::try_from(offset_ms / 1000)
        .ok()
        .filter(|_| offset_ms % 1000 == 0)
        .and_then(FixedOffset::east_opt)
}

/// `period` cut at the calendar months' starts at the UTC offset `offset_ms`; whole when
/// the offset is not one (it then has no months to store).
fn stretches(period: Period, offset_ms: i64) -> Vec<Stretch> {
    let whole = vec![Stretch {
        period,
        month: false,
    }];
    let Some(offset) = offset_of(offset_ms) else {
        return whole;
    };
    let mut out = Vec::new();
    let mut from = period.from;
    while from < period.to {
        let Some(month_end) = next_month(from, offset) else {
            return whole;
        };
        let to = month_end.min(period.to);
        out.push(Stretch {
            period: Period { from, to },
            month: to == month_end && month_starts_at(from, offset),
        });
        from = to;
    }
    out
}

impl Store {
    /// What each group of the report is made of, by group name: the incidents opened in
    /// `period`, those due in it (at `now`, for what is overdue) and, grouped by responder,
    /// the offers made in it. `offset_ms` is the calendar's UTC offset (months, and
    /// `group_by=day`).
    pub async fn report_inputs(
        &self,
        period: Period,
        group_by: GroupBy,
        offset_ms: i64,
        now: i64,
    ) -> Result<BTreeMap<String, GroupInput>, StoreError> {
        // The cohorts and offers of consecutive stretches add up (an incident is opened in
        // one stretch and due in one), so the figures are those of the whole period.
        let offer_parts = split(period);
        let stretches = stretches(period, offset_ms);
        let (cohorts, offers) = tokio::try_join!(
            self.report_stretches(&stretches, group_by, offset_ms, now),
            futures::future::try_join_all(
                offer_parts.iter().map(|p| self.report_offers(*p, group_by))
            ),
        )?;
        let mut groups: BTreeMap<String, GroupInput> = BTreeMap::new();
        for (name, input) in cohorts {
            match groups.entry(name) {
                Entry::Vacant(e) => {
                    e.insert(input);
                }
                Entry::Occupied(mut e) => e.get_mut().absorb(&input),
            }
        }
        if group_by == GroupBy::Responder {
            for (name, counts) in offers.into_iter().flatten().flatten() {
                let offers_only = GroupInput {
                    offers: Some(counts),
                    ..GroupInput::default()
                };
                groups.entry(name).or_default().absorb(&offers_only);
            }
            // Every responder row shows its offers, none made being 0 of 0.
            for g in groups.values_mut() {
                g.offers.get_or_insert_with(OfferCounts::default);
            }
        }
        Ok(groups)
    }

    /// Keeps the summaries of the last `months` ended calendar months (at `offset_ms`, as
    /// of `now`) of `group_by` fresh: a month whose incidents changed since it was kept is
    /// read and kept again, the others cost their fingerprint. Returns the months checked.
    pub async fn keep_report_months(
        &self,
        group_by: GroupBy,
        offset_ms: i64,
        now: i64,
        months: u32,
    ) -> Result<usize, StoreError> {
        let Some(period) = ended_months(now, offset_ms, months) else {
            return Ok(0);
        };
        let stretches = stretches(period, offset_ms);
        self.report_stretches(&stretches, group_by, offset_ms, now)
            .await?;
        Ok(stretches.len())
    }

    /// Both cohorts of every stretch, by group (a group once per stretch it has incidents
    /// in): ended months from their stored summaries where those still hold, the rest read
    /// at once, one per core, the ended months among them stored.
    async fn report_stretches(
        &self,
        stretches: &[Stretch],
        group_by: GroupBy,
        offset_ms: i64,
        now: i64,
    ) -> Result<Vec<(String, GroupInput)>, StoreError> {
        let ended = |s: &Stretch| s.month && s.period.to <= now;
        let ended_months: Vec<Period> = stretches
            .iter()
            .filter(|s| ended(s))
            .map(|s| s.period)
            .collect();
        let mut stored = self
            .stored_months(&ended_months, group_by, offset_ms)
            .await?;
        let mut out = Vec::new();
        let mut to_read = Vec::new();
        for s in stretches {
            match stored.remove(&s.period) {
                Some(groups) if ended(s) => out.extend(groups),
                _ => to_read.push(*s),
            }
        }
        let read: Vec<Vec<(String, GroupInput)>> = futures::stream::iter(to_read)
            .map(|s| self.read_stretch(s.period, group_by, offset_ms, now, ended(&s)))
            .buffer_unordered(readers())
            .try_collect()
            .await?;
        out.extend(read.into_iter().flatten());
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000;
    const CST: i64 = 8 * 3_600_000;

    #[test]
    fn a_long_period_has_its_offers_read_in_consecutive_parts_that_cover_it() {
        let month = Period {
            from: 0,
            to: 31 * DAY,
        };
        assert_eq!(split(month), vec![month]);
        let year = Period {
            from: 1_000,
            to: 1_000 + 365 * DAY,
        };
        let parts = split(year);
        assert!(!parts.is_empty());
        assert_eq!(parts[0].from, year.from);
        assert_eq!(parts[parts.len() - 1].to, year.to);
        assert!(parts
            .windows(2)
            .all(|w| w[0].to == w[1].from && w[0].from < w[0].to));
    }

    /// Unix ms of a local midnight at UTC+08:00.
    fn cst(y: i32, m: u32, d: u32) -> i64 {
        let offset = FixedOffset::east_opt(8 * 3600).map(|o| {
            o.with_ymd_and_hms(y, m, d, 0, 0, 0)
                .single()
                .map(|t| t.timestamp_millis())
        });
        offset.flatten().unwrap_or(i64::MIN)
    }

    #[test]
    fn a_year_is_twelve_whole_months_at_the_offset() {
        let year = Period {
            from: cst(2026, 1, 1),
            to: cst(2027, 1, 1),
        };
        let s = stretches(year, CST);
        assert_eq!(s.len(), 12);
        assert!(s.iter().all(|s| s.month));
        assert_eq!(
            s[1].period,
            Period {
                from: cst(2026, 2, 1),
                to: cst(2026, 3, 1),
            }
        );
        assert_eq!(s[11].period.to, year.to);
        // In UTC the same year starts and ends eight hours into a month.
        let utc = stretches(year, 0);
        assert_eq!(utc.len(), 13);
        assert!(!utc[0].month && !utc[12].month && utc[1..12].iter().all(|s| s.month));
    }

    #[test]
    fn the_ends_of_a_period_not_on_month_starts_are_stretches_of_their_own() {
        let p = Period {
            from: cst(2026, 1, 15),
            to: cst(2026, 4, 10) + 5,
        };
        let s = stretches(p, CST);
        let months: Vec<bool> = s.iter().map(|s| s.month).collect();
        assert_eq!(months, [false, true, true, false]);
        assert_eq!(
            s[0].period,
            Period {
                from: p.from,
                to: cst(2026, 2, 1),
            }
        );
        assert_eq!(
            s[3].period,
            Period {
                from: cst(2026, 4, 1),
                to: p.to,
            }
        );
        assert!(s.windows(2).all(|w| w[0].period.to == w[1].period.from));
    }

    #[test]
    fn the_months_kept_fresh_are_the_last_ended_ones() {
        let now = cst(2026, 3, 15) + 5;
        assert_eq!(
            ended_months(now, CST, 13),
            Some(Period {
                from: cst(2025, 2, 1),
                to: cst(2026, 3, 1),
            })
        );
        assert_eq!(
            stretches(
                ended_months(now, CST, 13).unwrap_or(Period { from: 0, to: 1 }),
                CST
            )
            .len(),
            13
        );
        // Just after midnight of the 1st, the month before has ended.
        assert_eq!(
            ended_months(cst(2026, 3, 1), CST, 1),
            Some(Period {
                from: cst(2026, 2, 1),
                to: cst(2026, 3, 1),
            })
        );
        assert_eq!(ended_months(now, CST, 0), None);
    }

    #[test]
    fn an_offset_of_no_whole_seconds_leaves_the_period_whole() {
        let p = Period {
            from: cst(2026, 1, 1),
            to: cst(2026, 6, 1),
        };
        assert_eq!(
            stretches(p, CST + 1),
            vec![Stretch {
                period: p,
                month: false,
            }]
        );
    }
}
