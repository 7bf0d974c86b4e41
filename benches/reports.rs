//! Reports benchmark (issue 14): a year of a county — 200,000 incidents and 600,000 tasks —
//! written into a fresh SQLite file and a fresh PostgreSQL database, then the evaluation
//! report (the same calls as `GET /api/v1/reports/summary`: `Store::report_inputs` and
//! `report::rows`) for one month and for the whole year, grouped by zone and by responder:
//! with the ended months kept (`report_months`), with nothing kept (every month read from
//! the incidents, as the first report after the months end does), and for the year with
//! one month changed since it was kept.
//!
//! Run it with `cargo bench --bench reports --locked`; it prints a markdown table. Options:
//!
//! - `--quick`: 20,000 incidents (a smoke run).
//! - `--incidents N`: incidents in the year (three tasks each).
//! - `--runs N`: timed runs of each case (after one untimed warm-up), default 7.
//! - `--sqlite-only`, `--pg-only`: one database.
//! - `--pg URL`: the PostgreSQL server (default `postgres://postgres@127.0.0.1:5432`); the
//!   bench creates `gd_bench_<pid>` there and drops it at the end.
//! - `--keep`: keep both databases (prints where) for EXPLAIN.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use griddispatch::config::Settings;
use griddispatch::domain::closed_loop::TaskPurpose;
use griddispatch::domain::report::{self, GroupBy, Period};
use griddispatch::domain::{IncidentState, TaskStatus};
use griddispatch::store::{IncidentRow, Milestones, Store, TaskRow, Write};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sqlx::Connection;

const SEC: i64 = 1000;
const MIN: i64 = 60 * SEC;
const HOUR: i64 = 60 * MIN;
const DAY: i64 = 24 * HOUR;
/// 2026-01-01T00:00:00+08:00, the first instant of the county's year.
const YEAR_START: i64 = 1_767_196_800_000;
/// 2026-06-01T00:00:00+08:00 and 2026-07-01T00:00:00+08:00: the month reported.
const JUNE: (i64, i64) = (1_780_243_200_000, 1_782_835_200_000);
/// The report is taken just after the year (what is overdue depends on it).
const NOW: i64 = YEAR_START + 365 * DAY + HOUR;
/// Grid zones, and responders in each.
const ZONES: usize = 24;
const TEAM: usize = 20;
/// Writes per transaction.
const CHUNK: usize = 20_000;

const KINDS: [(&str, i64); 8] = [
    ("fall", 2),
    ("guidance", 2),
    ("medical", 1),
    ("fire", 1),
    ("fight", 2),
    ("flood", 3),
    ("intrusion", 3),
    ("traffic", 2),
];

#[derive(Debug)]
struct Options {
    incidents: usize,
    runs: usize,
    sqlite: bool,
    pg: bool,
    pg_url: String,
    keep: bool,
}

fn options() -> Options {
    let mut o = Options {
        incidents: 200_000,
        runs: 7,
        sqlite: true,
        pg: true,
        pg_url: "postgres://postgres@127.0.0.1:5432".into(),
        keep: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--quick" => o.incidents = 20_000,
            "--incidents" => o.incidents = args.next().unwrap().parse().unwrap(),
            "--runs" => o.runs = args.next().unwrap().parse().unwrap(),
            "--sqlite-only" => o.pg = false,
            "--pg-only" => o.sqlite = false,
            "--pg" => o.pg_url = args.next().unwrap(),
            "--keep" => o.keep = true,
            _ => {} // `cargo bench` passes `--bench`
        }
    }
    o
}

fn zone(z: usize) -> String {
    format!("grid-{z:02}")
}

fn responder(z: usize, k: usize) -> String {
    format!("r-{z:02}-{k:02}")
}

#[allow(clippy::too_many_arguments)]
fn task(
    id: String,
    incident: &str,
    responder: String,
    status: TaskStatus,
    purpose: TaskPurpose,
    offered: i64,
    ended: i64,
    accepted: Option<i64>,
) -> TaskRow {
    griddispatch::demo::past_task(
        id,
        incident,
        responder,
        status,
        purpose,
        (offered, ended),
        accepted,
    )
}

/// The writes of incident `n` of `total` (spread evenly over the year), and its three
/// tasks: an offer turned down or let expire by a colleague, the responder's own, and a
/// rework or an on-site verification. Most end closed, 5 % cancelled, and those of the
/// year's last two days are partly still open (waiting to be dispatched again). Every
/// step takes a random number of milliseconds, as clocks give them: a report whose cost
/// depends on how many durations are equal must not look cheap on whole seconds.
fn incident(rng: &mut StdRng, settings: &Settings, n: usize, total: usize, out: &mut Vec<Write>) {
    let id = format!("inc-{n:07}");
    let day = (n as i64 * 365) / total as i64;
    // Most cases by day: 07:00–23:00 local.
    let created = YEAR_START + day * DAY + rng.gen_range(7 * HOUR..23 * HOUR);
    let z = rng.gen_range(0..ZONES);
    let worker = responder(z, rng.gen_range(0..TEAM));
    let other = responder(z, rng.gen_range(0..TEAM));
    let checker = responder(rng.gen_range(0..ZONES), rng.gen_range(0..TEAM));
    let (kind, severity) = KINDS[rng.gen_range(0..KINDS.len())];
    let mut m = Milestones {
        due_at: Some(settings.deadlines.due_at(kind, severity, created)),
        source_id: Some(if rng.gen_bool(0.3) { "hotline" } else { "cams" }.to_owned()),
        ..Milestones::default()
    };
    let first = created + rng.gen_range(3 * SEC..30 * SEC);
    m.first_offer_at = Some(first);
    let declined = first + rng.gen_range(20 * SEC..120 * SEC);
    let t0 = task(
        format!("{id}-t0"),
        &id,
        other,
        if rng.gen_bool(0.6) {
            TaskStatus::Rejected
        } else {
            TaskStatus::Expired
        },
        TaskPurpose::Respond,
        first,
        declined,
        None,
    );
    if rng.gen_bool(0.04) {
        m.escalation_count = 1;
    }
    let offered = declined;
    let state;
    let (t1, t2);
    if rng.gen_bool(0.05) {
        let end = offered + rng.gen_range(2 * MIN..20 * MIN);
        m.ended_at = Some(end);
        state = IncidentState::Cancelled;
        t1 = task(
            format!("{id}-t1"),
            &id,
            worker.clone(),
            TaskStatus::Withdrawn,
            TaskPurpose::Respond,
            offered,
            end,
            None,
        );
        t2 = task(
            format!("{id}-t2"),
            &id,
            checker,
            TaskStatus::Withdrawn,
            TaskPurpose::Respond,
            offered,
            end,
            None,
        );
    } else {
        let accepted = offered + rng.gen_range(10 * SEC..150 * SEC);
        m.accepted_at = Some(accepted);
        let travel = if severity == 1 { 2..10 } else { 4..26 };
        let on_scene = accepted + rng.gen_range(travel.start * MIN..travel.end * MIN);
        m.on_scene_at = Some(on_scene);
        let slow = if rng.gen_bool(0.12) { 30 } else { 1 };
        let mut resolved = on_scene + rng.gen_range(5 * MIN..90 * MIN) * slow;
        if rng.gen_bool(0.05) {
            m.suspension_count = 1;
            let pause = rng.gen_range(60 * MIN..360 * MIN);
            m.due_at = m.due_at.map(|d| d + pause);
            resolved += pause;
        }
        if rng.gen_bool(0.06) {
            m.extension_count = 1;
            m.due_at = m.due_at.map(|d| d + 120 * MIN);
        }
        let still_open = day >= 363 && rng.gen_bool(0.3);
        t1 = task(
            format!("{id}-t1"),
            &id,
            worker.clone(),
            if still_open {
                TaskStatus::Expired
            } else {
                TaskStatus::Resolved
            },
            TaskPurpose::Respond,
            offered,
            resolved,
            (!still_open).then_some(accepted),
        );
        if still_open {
            // Waiting for someone free (a responder holds one open task at most, so the
            // open cases hold none).
            m.accepted_at = None;
            m.on_scene_at = None;
            state = IncidentState::Dispatching;
            t2 = task(
                format!("{id}-t2"),
                &id,
                checker,
                TaskStatus::Rejected,
                TaskPurpose::Respond,
                first,
                declined,
                None,
            );
        } else {
            let verify = resolved + rng.gen_range(10 * MIN..60 * MIN);
            if rng.gen_bool(0.07) {
                m.rework_count = 1;
                let again = verify + rng.gen_range(30 * MIN..120 * MIN);
                t2 = task(
                    format!("{id}-t2"),
                    &id,
                    worker.clone(),
                    TaskStatus::Resolved,
                    TaskPurpose::Rework,
                    verify,
                    again,
                    Some(verify + 2 * MIN),
                );
                resolved = again;
            } else {
                t2 = task(
                    format!("{id}-t2"),
                    &id,
                    checker,
                    TaskStatus::Resolved,
                    TaskPurpose::Verify,
                    verify,
                    verify + 20 * MIN,
                    Some(verify + MIN),
                );
            }
            m.resolved_at = Some(resolved);
            m.resolver_id = Some(worker);
            m.ended_at = Some(resolved + rng.gen_range(5 * MIN..60 * MIN));
            state = IncidentState::Closed;
        }
    }
    out.push(Write::InsertIncident(IncidentRow {
        id: id.clone(),
        kind: kind.to_owned(),
        severity,
        state,
        lat: 39.5 + rng.gen_range(-0.2..0.2),
        lon: 106.7 + rng.gen_range(-0.2..0.2),
        zone_id: Some(zone(z)),
        title: kind.to_owned(),
        description: None,
        address: None,
        rendezvous: None,
        offers_made: 3,
        manual: false,
        created_at: created,
        updated_at: m.ended_at.unwrap_or(created),
        last_alert_at: created,
        milestones: m,
    }));
    out.extend([t0, t1, t2].into_iter().map(Write::InsertTask));
}

/// Writes the year in transactions of [`CHUNK`] writes; returns the time taken.
async fn fill(store: &Store, settings: &Settings, total: usize) -> anyhow::Result<Duration> {
    let mut rng = StdRng::seed_from_u64(14);
    let started = Instant::now();
    let mut batch = Vec::with_capacity(CHUNK + 4);
    for n in 0..total {
        incident(&mut rng, settings, n, total, &mut batch);
        if batch.len() >= CHUNK {
            store.apply(&batch, &mut []).await?;
            batch.clear();
        }
    }
    if !batch.is_empty() {
        store.apply(&batch, &mut []).await?;
    }
    Ok(started.elapsed())
}

/// One report, as the HTTP handler computes it; returns how many rows it has and the time
/// `report::rows` took (the arithmetic after the queries), ms.
async fn summary(
    store: &Store,
    settings: &Settings,
    period: Period,
    group_by: GroupBy,
) -> anyhow::Result<(usize, f64)> {
    let r = &settings.reports;
    let offset_ms = i64::from(r.utc_offset.local_minus_utc()) * 1000;
    let inputs = store
        .report_inputs(period, group_by, offset_ms, NOW)
        .await?;
    let t = Instant::now();
    let (rows, total) = report::rows(&inputs, &r.score, &r.grades);
    std::hint::black_box(&total);
    Ok((rows.len(), t.elapsed().as_secs_f64() * 1000.0))
}

struct Timing {
    db: &'static str,
    case: String,
    rows: usize,
    ms: Vec<f64>,
    /// Of which `report::rows`, per run.
    math_ms: Vec<f64>,
}

/// What is done before each timed run of a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Before {
    /// Nothing: the ended months kept by the warm-up are read back.
    Nothing,
    /// Every kept month is deleted: the whole period is read from the incidents.
    ForgetAll,
    /// One incident opened in March is written again (as a late change would): March alone
    /// is read again.
    ChangeMarch,
}

impl Before {
    fn label(self) -> &'static str {
        match self {
            Before::Nothing => "months kept",
            Before::ForgetAll => "nothing kept",
            Before::ChangeMarch => "March changed",
        }
    }

    async fn run(self, store: &Store, db: &sqlx::AnyPool, march: &str) -> anyhow::Result<()> {
        match self {
            Before::Nothing => {}
            Before::ForgetAll => {
                sqlx::query("DELETE FROM report_months").execute(db).await?;
            }
            Before::ChangeMarch => {
                let mut i = store.incident(march).await?;
                i.updated_at += 1;
                store.apply(&[Write::UpdateIncident(i)], &mut []).await?;
            }
        }
        Ok(())
    }
}

async fn measure(
    db: &'static str,
    url: &str,
    store: &Store,
    settings: &Settings,
    runs: usize,
) -> anyhow::Result<Vec<Timing>> {
    sqlx::any::install_default_drivers();
    let raw = sqlx::AnyPool::connect(url).await?;
    let march: String = sqlx::query_scalar(
        "SELECT id FROM incidents WHERE created_at >= $1 ORDER BY created_at LIMIT 1",
    )
    .bind(YEAR_START + 60 * DAY)
    .fetch_one(&raw)
    .await?;
    let mut out = Vec::new();
    let periods = [
        (
            "June",
            Period {
                from: JUNE.0,
                to: JUNE.1,
            },
        ),
        (
            "year",
            Period {
                from: YEAR_START,
                to: YEAR_START + 365 * DAY,
            },
        ),
    ];
    for (label, period) in periods {
        for group_by in [GroupBy::Zone, GroupBy::Responder] {
            let cases: &[Before] = match label {
                "year" => &[Before::ForgetAll, Before::ChangeMarch, Before::Nothing],
                _ => &[Before::ForgetAll, Before::Nothing],
            };
            for &before in cases {
                let (rows, _) = summary(store, settings, period, group_by).await?; // warm-up
                let mut ms = Vec::new();
                let mut math_ms = Vec::new();
                for _ in 0..runs {
                    before.run(store, &raw, &march).await?;
                    let t = Instant::now();
                    let (_, math) = summary(store, settings, period, group_by).await?;
                    ms.push(t.elapsed().as_secs_f64() * 1000.0);
                    math_ms.push(math);
                }
                ms.sort_by(f64::total_cmp);
                math_ms.sort_by(f64::total_cmp);
                let case = format!("{label}, by {}, {}", group_by.as_str(), before.label());
                eprintln!("{db} {case}: {ms:.1?}");
                out.push(Timing {
                    db,
                    case,
                    rows,
                    ms,
                    math_ms,
                });
            }
        }
    }
    raw.close().await;
    Ok(out)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let o = options();
    let settings = Settings::load_with_env(None, Vec::<(String, String)>::new())
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut timings = Vec::new();
    let mut fills = Vec::new();

    if o.sqlite {
        let dir = tempfile::tempdir()?;
        let url = format!("sqlite://{}/reports.db", dir.path().display());
        let store = Store::connect(&url, 4).await?;
        let took = fill(&store, &settings, o.incidents).await?;
        eprintln!("sqlite: written in {took:.1?}");
        fills.push(("SQLite", took));
        timings.extend(measure("SQLite", &url, &store, &settings, o.runs).await?);
        store.close().await;
        if o.keep {
            eprintln!("sqlite database kept: {url}");
            std::mem::forget(dir);
        }
    }

    if o.pg {
        let name = format!("gd_bench_{}", std::process::id());
        let mut admin = sqlx::PgConnection::connect(&format!("{}/postgres", o.pg_url)).await?;
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await?;
        let url = format!("{}/{name}", o.pg_url);
        let result = async {
            let store = Store::connect(&url, 4).await?;
            let took = fill(&store, &settings, o.incidents).await?;
            // What autovacuum would soon do on its own after such a load (since PostgreSQL
            // 13 it vacuums after inserts too): statistics, and the visibility map that lets
            // the fingerprints' index-only scans skip the table.
            let mut c = sqlx::PgConnection::connect(&url).await?;
            sqlx::query("VACUUM ANALYZE").execute(&mut c).await?;
            c.close().await?;
            eprintln!("postgres: written in {took:.1?}");
            fills.push(("PostgreSQL", took));
            timings.extend(measure("PostgreSQL", &url, &store, &settings, o.runs).await?);
            store.close().await;
            anyhow::Ok(())
        }
        .await;
        if o.keep {
            eprintln!("postgres database kept: {url}");
        } else {
            sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut admin)
                .await?;
        }
        result?;
    }

    println!(
        "\n{} incidents and {} tasks over 365 days, {ZONES} zones, {} responders; {} timed runs each (after a warm-up).\n",
        o.incidents,
        o.incidents * 3,
        ZONES * TEAM,
        o.runs
    );
    println!("| Database | Written in (s) | Incidents + tasks per second |");
    println!("|---|---:|---:|");
    for (db, took) in &fills {
        let secs = took.as_secs_f64();
        println!(
            "| {db} | {secs:.1} | {:.0} |",
            (o.incidents * 4) as f64 / secs
        );
    }
    println!("\n| Database | Report | Rows | min ms | median ms | max ms | of which report::rows, median ms | ≤ 500 ms |");
    println!("|---|---|---:|---:|---:|---:|---:|---|");
    for t in &timings {
        let med = t.ms[t.ms.len() / 2];
        let max = *t.ms.last().unwrap();
        println!(
            "| {} | {} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {} |",
            t.db,
            t.case,
            t.rows,
            t.ms[0],
            med,
            max,
            t.math_ms[t.math_ms.len() / 2],
            if max <= 500.0 { "yes" } else { "**no**" }
        );
    }
    Ok(())
}
