//! Volunteer points (志愿服务积分): the pure rules of earning and spending. How many
//! points a verified deed is worth, how caps cut a credit, which lots a debit takes
//! (soonest-expiring first) and when a lot expires. The ledger itself is in
//! `store::points`.

use chrono::{Datelike, FixedOffset, Months, TimeZone, Utc};
use serde::Deserialize;

/// Points for one incident kind: the same at every severity, or one number per severity
/// (1, most urgent, to 4).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum PointsRule {
    /// The same at every severity.
    Flat(i64),
    /// Severity 1, 2, 3, 4.
    BySeverity([i64; 4]),
}

impl PointsRule {
    /// Points at `severity` (clamped to 1..=4).
    pub fn points(&self, severity: i64) -> i64 {
        match self {
            PointsRule::Flat(p) => *p,
            PointsRule::BySeverity(p) => p[(severity.clamp(1, 4) - 1) as usize],
        }
    }

    /// Every number the rule holds.
    pub fn values(&self) -> Vec<i64> {
        match self {
            PointsRule::Flat(p) => vec![*p],
            PointsRule::BySeverity(p) => p.to_vec(),
        }
    }
}

/// What one responder is credited for one verified deed, before caps.
pub fn deed_points(rule: &PointsRule, severity: i64, guidance: bool, guidance_bonus: i64) -> i64 {
    rule.points(severity) + if guidance { guidance_bonus } else { 0 }
}

/// What may be credited of `wanted` points: no more than is left of the monthly cap
/// (`0` = none) after `earned_this_month`, and no more than keeps `held` (the balance
/// plus what is reserved) within the balance cap (`None` = none). Never below zero.
pub fn capped(
    wanted: i64,
    earned_this_month: i64,
    monthly_cap: i64,
    held: i64,
    balance_cap: Option<i64>,
) -> i64 {
    let mut p = wanted.max(0);
    if monthly_cap > 0 {
        p = p.min((monthly_cap - earned_this_month).max(0));
    }
    if let Some(cap) = balance_cap {
        p = p.min((cap - held).max(0));
    }
    p
}

/// The calendar month holding `at_ms` at `offset`: [start, end) in Unix ms.
pub fn month_bounds(at_ms: i64, offset: FixedOffset) -> (i64, i64) {
    let local = Utc
        .timestamp_millis_opt(at_ms)
        .single()
        .unwrap_or_default()
        .with_timezone(&offset);
    let start = offset
        .with_ymd_and_hms(local.year(), local.month(), 1, 0, 0, 0)
        .single()
        .unwrap_or(local);
    let end = start.checked_add_months(Months::new(1)).unwrap_or(start);
    (start.timestamp_millis(), end.timestamp_millis())
}

/// The month `YYYY-MM` at `offset`: [start, end) in Unix ms, as [`month_bounds`].
pub fn parse_month(s: &str, offset: FixedOffset) -> Result<(i64, i64), String> {
    let bad = || format!("month: expected YYYY-MM, got {s:?}");
    let (y, m) = s.split_once('-').ok_or_else(bad)?;
    if y.len() != 4 || m.len() != 2 {
        return Err(bad());
    }
    let y: i32 = y.parse().map_err(|_| bad())?;
    let m: u32 = m.parse().map_err(|_| bad())?;
    let start = offset
        .with_ymd_and_hms(y, m, 1, 0, 0, 0)
        .single()
        .ok_or_else(bad)?;
    Ok(month_bounds(start.timestamp_millis(), offset))
}

/// When points earned at `at_ms` expire: `months` calendar months later (UTC).
pub fn expires_at(at_ms: i64, months: u32) -> i64 {
    Utc.timestamp_millis_opt(at_ms)
        .single()
        .and_then(|t| t.checked_add_months(Months::new(months)))
        .map_or(i64::MAX, |t| t.timestamp_millis())
}

/// Points of one lot still on an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lot {
    /// The movement that issued the points.
    pub lot_id: String,
    /// When they expire, Unix ms.
    pub expires_at: i64,
    /// How many are left.
    pub points: i64,
}

/// Which lots a debit of `amount` takes, soonest-expiring first (then oldest lot id);
/// `None` when the lots hold less than `amount`.
pub fn take_fifo(lots: &[Lot], amount: i64) -> Option<Vec<Lot>> {
    let mut sorted: Vec<&Lot> = lots.iter().filter(|l| l.points > 0).collect();
    sorted.sort_by(|a, b| (a.expires_at, &a.lot_id).cmp(&(b.expires_at, &b.lot_id)));
    let mut left = amount;
    let mut taken = Vec::new();
    for lot in sorted {
        if left <= 0 {
            break;
        }
        let take = lot.points.min(left);
        taken.push(Lot {
            points: take,
            ..lot.clone()
        });
        left -= take;
    }
    (left <= 0).then_some(taken)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lot(id: &str, exp: i64, p: i64) -> Lot {
        Lot {
            lot_id: id.into(),
            expires_at: exp,
            points: p,
        }
    }

    #[test]
    fn rules_give_points_by_severity_and_bonus() {
        assert_eq!(PointsRule::Flat(5).points(3), 5);
        let r = PointsRule::BySeverity([40, 30, 20, 10]);
        assert_eq!((r.points(1), r.points(4), r.points(9)), (40, 10, 10));
        assert_eq!(deed_points(&r, 2, true, 5), 35);
        assert_eq!(deed_points(&r, 2, false, 5), 30);
    }

    #[test]
    fn caps_cut_a_credit_but_never_below_zero() {
        assert_eq!(capped(30, 80, 100, 0, None), 20);
        assert_eq!(capped(30, 120, 100, 0, None), 0);
        assert_eq!(capped(30, 0, 0, 0, None), 30);
        assert_eq!(capped(30, 0, 0, 990, Some(1000)), 10);
        assert_eq!(capped(30, 0, 0, 1200, Some(1000)), 0);
    }

    #[test]
    fn a_month_parses_at_an_offset_and_bad_ones_are_refused() {
        let cst = FixedOffset::east_opt(8 * 3600).unwrap();
        let (from, to) = parse_month("2026-11", cst).unwrap();
        let ms = |s: &str| {
            chrono::DateTime::parse_from_rfc3339(s)
                .unwrap()
                .timestamp_millis()
        };
        assert_eq!(from, ms("2026-11-01T00:00:00+08:00"));
        assert_eq!(to, ms("2026-12-01T00:00:00+08:00"));
        let (_, to) = parse_month("2026-12", cst).unwrap();
        assert_eq!(to, ms("2027-01-01T00:00:00+08:00"));
        for bad in [
            "2026-13", "2026-1", "26-11", "2026/11", "", "2026-00", "abcd-ef",
        ] {
            assert!(parse_month(bad, cst).is_err(), "{bad}");
        }
    }

    #[test]
    fn months_at_an_offset() {
        let east8 = FixedOffset::east_opt(8 * 3600).unwrap();
        // 2026-11-30T17:00Z is 2026-12-01 01:00 at +08:00: December there.
        let at = Utc
            .with_ymd_and_hms(2026, 11, 30, 17, 0, 0)
            .unwrap()
            .timestamp_millis();
        let (s, e) = month_bounds(at, east8);
        assert_eq!(
            s,
            Utc.with_ymd_and_hms(2026, 11, 30, 16, 0, 0)
                .unwrap()
                .timestamp_millis()
        );
        assert_eq!(
            e,
            Utc.with_ymd_and_hms(2026, 12, 31, 16, 0, 0)
                .unwrap()
                .timestamp_millis()
        );
        let t0 = Utc
            .with_ymd_and_hms(2026, 1, 31, 0, 0, 0)
            .unwrap()
            .timestamp_millis();
        let t1 = Utc
            .with_ymd_and_hms(2029, 1, 31, 0, 0, 0)
            .unwrap()
            .timestamp_millis();
        assert_eq!(expires_at(t0, 36), t1);
    }

    #[test]
    fn debits_take_the_soonest_expiring_lots_first() {
        let lots = [lot("b", 200, 5), lot("a", 100, 3), lot("c", 300, 10)];
        let t = take_fifo(&lots, 6).unwrap();
        assert_eq!(t, vec![lot("a", 100, 3), lot("b", 200, 3)]);
        assert_eq!(take_fifo(&lots, 18).unwrap().len(), 3);
        assert!(take_fifo(&lots, 19).is_none());
    }
}
