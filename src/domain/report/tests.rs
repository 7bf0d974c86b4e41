//! The figures' rules, each against a hand-computed value.

use super::*;

fn cst() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).unwrap_or_else(|| unreachable!())
}

fn weights() -> ScoreWeights {
    ScoreWeights {
        closure: 40.0,
        on_time: 60.0,
        rework: 20.0,
        extension: 0.0,
    }
}

fn grades() -> GradeThresholds {
    GradeThresholds {
        a: 90.0,
        b: 80.0,
        c: 70.0,
        d: 60.0,
    }
}

#[test]
fn nearest_rank_percentiles() {
    let v: Vec<i64> = (1..=10).collect();
    assert_eq!(percentile(&v, 50.0), Some(5));
    assert_eq!(percentile(&v, 90.0), Some(9));
    assert_eq!(percentile(&v, 100.0), Some(10));
    assert_eq!(percentile(&[7], 90.0), Some(7));
    assert_eq!(percentile(&[], 50.0), None);
    // 3 values: p50 is the 2nd (⌈1.5⌉), p90 the 3rd (⌈2.7⌉).
    assert_eq!(percentile(&[1, 2, 3], 50.0), Some(2));
    assert_eq!(percentile(&[1, 2, 3], 90.0), Some(3));
    let t = PhaseTimes::of(vec![3000, 1000, 2000]);
    assert_eq!((t.p50, t.p90, t.n), (Some(2.0), Some(3.0), 3));
    assert_eq!(nearest_rank(50.0, 4), Some(2));
    assert_eq!(nearest_rank(90.0, 4), Some(4));
    assert_eq!(nearest_rank(90.0, 0), None);
}

#[test]
fn phase_times_pick_the_sorted_lists_percentiles() {
    // Lists of every length 1..60 with repeats, in a scrambled order: the values picked
    // without sorting are those of the sorted list.
    for n in 1..60_i64 {
        let ms: Vec<i64> = (0..n)
            .map(|i| (i * 7919 + 13) % 23 * 1000 + i % 3)
            .collect();
        let mut sorted = ms.clone();
        sorted.sort_unstable();
        let t = PhaseTimes::of(ms);
        let secs = |v: Option<i64>| v.map(|v| v as f64 / 1000.0);
        assert_eq!(t.p50, secs(percentile(&sorted, 50.0)), "n = {n}");
        assert_eq!(t.p90, secs(percentile(&sorted, 90.0)), "n = {n}");
        assert_eq!(t.n, n);
    }
}

#[test]
fn tianmen_rates_and_score() {
    // 天门市: 应结案 972, 结案 911 (93.72 %), 按期结案 737 (75.82 %).
    let d = DueCounts {
        due: 972,
        closed: 911,
        closed_on_time: 737,
        ..DueCounts::default()
    };
    let r = Rates::of(&d);
    let pct = |v: Option<f64>| (v.unwrap_or(f64::NAN) * 10_000.0).round() / 100.0;
    assert_eq!(pct(r.closure_rate), 93.72);
    assert_eq!(pct(r.on_time_rate), 75.82);
    assert_eq!(r.rework_rate, Some(0.0));
    let score = weights().score(&r).unwrap_or(f64::NAN);
    assert!((score - (40.0 * 911.0 / 972.0 + 60.0 * 737.0 / 972.0)).abs() < 1e-9);
    assert_eq!(grades().grade(score), 'B');
    assert_eq!(Rates::of(&DueCounts::default()).closure_rate, None);
    assert_eq!(weights().score(&Rates::of(&DueCounts::default())), None);
}

#[test]
fn grades_and_their_bounds() {
    let g = grades();
    assert_eq!(
        [100.0, 90.0, 89.99, 80.0, 70.0, 60.0, 59.9, 0.0].map(|s| g.grade(s)),
        ['A', 'A', 'B', 'B', 'C', 'D', 'E', 'E']
    );
    assert!(g.check().is_ok());
    let bad = GradeThresholds { c: 85.0, ..g };
    assert!(bad.check().is_err());
    // A penalty can push the score below 0; it stays 0.
    let r = Rates {
        closure_rate: Some(0.0),
        on_time_rate: Some(0.0),
        rework_rate: Some(1.0),
        extension_rate: Some(0.0),
    };
    assert_eq!(weights().score(&r), Some(0.0));
    let none = ScoreWeights {
        closure: 0.0,
        on_time: 0.0,
        ..weights()
    };
    assert!(none.check().is_err());
}

#[test]
fn periods_from_dates_and_instants() {
    let p = Period::parse("2026-01-01", "2026-01-31", cst(), 366).unwrap_or_else(|e| panic!("{e}"));
    // 2026-01-01T00:00+08:00 .. 2026-02-01T00:00+08:00
    assert_eq!(p.from, 1_767_196_800_000);
    assert_eq!(p.to - p.from, 31 * DAY_MS);
    let q = Period::parse(
        "2026-01-01T00:00:00+08:00",
        "2026-02-01T00:00:00+08:00",
        cst(),
        366,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p, q);
    for (from, to) in [
        ("2026-01-02", "2026-01-01"),
        ("2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z"),
        ("yesterday", "2026-01-01"),
        ("2026-13-01", "2026-12-01"),
        ("2025-01-01", "2026-01-02"),
        ("1969-12-31", "1970-01-02"),
    ] {
        assert!(Period::parse(from, to, cst(), 366).is_err(), "{from} {to}");
    }
    assert!(Period::parse("2024-01-01", "2024-12-31", cst(), 366).is_ok());
}

#[test]
fn days_at_the_offset() {
    // 2026-01-01T23:30+08:00 is 15:30 UTC: still 1 January in China.
    let ms = 1_767_196_800_000 + 23 * 3_600_000 + 1_800_000;
    assert_eq!(day_label(day_number(ms, cst())), "2026-01-01");
    assert_eq!(day_label(day_number(ms + 3_600_000, cst())), "2026-01-02");
    assert!(GroupBy::parse("week").is_err());
    assert_eq!(GroupBy::parse("day"), Ok(GroupBy::Day));
}

#[test]
fn phases_leave_out_reversed_steps() {
    // Three incidents: one through every step; one offered and on scene only; one whose
    // first offer is dated before it was opened (−10 s: not measured).
    let spans = PhaseSpans {
        to_first_offer: vec![10_000, 20_000, -10_000],
        offer_to_accept: vec![30_000],
        accept_to_on_scene: vec![60_000],
        on_scene_to_resolved: vec![300_000],
        resolved_to_closed: vec![100_000],
        to_on_scene: vec![100_000, 700_000],
    };
    let (p, w) = phases(&spans);
    assert_eq!(p.to_first_offer.n, 2);
    assert_eq!(p.to_first_offer.p50, Some(10.0));
    assert_eq!(p.to_first_offer.p90, Some(20.0));
    assert_eq!(p.offer_to_accept.n, 1);
    assert_eq!(p.to_on_scene.n, 2);
    assert_eq!(w.s60, Some(0.0));
    assert_eq!(w.s120, Some(0.5));
    assert_eq!(w.s600, Some(0.5));
    assert_eq!(p.resolved_to_closed.p50, Some(100.0));
    // Milliseconds are kept: 59.999 s is within a minute, 60.001 s is not.
    let (p, w) = phases(&PhaseSpans {
        to_on_scene: vec![59_999, 60_001],
        ..PhaseSpans::default()
    });
    assert_eq!(w.s60, Some(0.5));
    assert_eq!(
        (p.to_on_scene.p50, p.to_on_scene.p90),
        (Some(59.999), Some(60.001))
    );
}

#[test]
fn totals_and_cells_line_up() {
    let mut groups = BTreeMap::new();
    let g = GroupInput {
        opened: OpenedCounts {
            opened: 2,
            cancelled: 1,
            escalated: 0,
        },
        due: DueCounts {
            due: 1,
            closed: 1,
            closed_on_time: 1,
            ..DueCounts::default()
        },
        spans: PhaseSpans {
            to_on_scene: vec![90_000],
            ..PhaseSpans::default()
        },
        offers: Some(OfferCounts {
            received: 2,
            accepted: 1,
            ..OfferCounts::default()
        }),
    };
    groups.insert("b".to_owned(), g.clone());
    groups.insert("a".to_owned(), g);
    let (rows, total) = rows(&groups, &weights(), &grades());
    assert_eq!(rows[0].group, "a");
    assert_eq!(total.opened, 4);
    assert_eq!(total.closure_rate(), Some(1.0));
    assert_eq!(
        total.offers.as_ref().and_then(|o| o.acceptance_rate),
        Some(0.5)
    );
    assert_eq!(total.grade.as_deref(), Some("A"));
    assert_eq!(total.cells().len(), columns().len());
    let json = serde_json::to_value(&total).unwrap_or_default();
    assert_eq!(json["closure_rate"], 1.0);
    // The total's times are those of both groups together.
    assert_eq!(json["phases"]["to_on_scene"]["n"], 2);
    assert_eq!(json["phases"]["to_on_scene"]["p90"], 90.0);
    assert_eq!(
        json["phases"]["to_first_offer"]["p90"],
        serde_json::Value::Null
    );
}

impl ReportRow {
    fn closure_rate(&self) -> Option<f64> {
        self.rates.closure_rate
    }
}
