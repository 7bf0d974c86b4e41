//! Scale benchmark (issue 19, "Memory" and "Time to start"), against the real app binary
//! (`griddispatch serve`, started as a child process on free loopback ports):
//!
//! 1. Memory: the app's resident size (`VmRSS` of `/proc/PID/status`) idle after start, with
//!    1,000 / 10,000 / 100,000 responders (no cameras), then 100,000 responders and
//!    1,000 / 10,000 cameras; once more with the camera probes off. The rows are written into
//!    one SQLite file, growing between starts. The cameras' streams point at a closed port on
//!    127.0.0.1, so every probe is refused at once (no camera answers).
//! 2. Time to start: from spawning `serve` until `GET /readyz` answers 200, with 100,000
//!    responders and no history, and with 1,000,000 closed incidents (three tasks and one
//!    alert each, all ended more than a year before today) on top.
//!
//! Run it with `scripts/bench scale` (or `cargo bench --bench scale --locked`); it prints
//! markdown tables. Options:
//!
//! - `--quick`: smaller sizes (a smoke run).
//! - `--history N`: closed incidents of the start-up case (default 1,000,000).
//! - `--starts N`: starts timed per case (default 3).
//! - `--settle S`: seconds the app is left idle before its resident size is read (default 20).
//! - `--pg`: time the starts on PostgreSQL too (`--pg-url`, default
//!   `postgres://postgres@127.0.0.1:5432`; a scratch database `gd_scale_<pid>`, dropped after).
//! - `--no-memory`, `--no-start`: skip a part.
//! - `--app PATH`: the binary to start (default: the `griddispatch` this build made; give a
//!   copy when other builds share the target folder and may replace it meanwhile). Given
//!   twice or more, the starts are timed with each binary in turn (before and after a
//!   change); the memory is measured with the first.
//!
//! The SQLite history fixture is kept under the target folder
//! (`release/scale-fixture/history-<N>-<responders>/history.db`) and reused while it holds the
//! right number of incidents and responders: writing it takes minutes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use app::{cpu_model, free_port, load_average, mib, start_app, status_kib};
use fixture::{add_cameras, add_history, add_responders, count, fill, zones};
use griddispatch::store::Store;
use sqlx::Connection;

#[path = "common/app.rs"]
mod app;
#[path = "scale/fixture.rs"]
mod fixture;

#[derive(Debug)]
struct Options {
    quick: bool,
    history: usize,
    starts: usize,
    settle: u64,
    pg: bool,
    pg_url: String,
    memory: bool,
    start: bool,
    apps: Vec<PathBuf>,
}

fn options() -> Options {
    let mut o = Options {
        quick: false,
        history: 1_000_000,
        starts: 3,
        settle: 20,
        pg: false,
        pg_url: "postgres://postgres@127.0.0.1:5432".into(),
        memory: true,
        start: true,
        apps: Vec::new(),
    };
    let mut history = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--quick" => o.quick = true,
            "--history" => history = Some(args.next().unwrap().parse().unwrap()),
            "--starts" => o.starts = args.next().unwrap().parse().unwrap(),
            "--settle" => o.settle = args.next().unwrap().parse().unwrap(),
            "--pg" => o.pg = true,
            "--pg-url" => o.pg_url = args.next().unwrap(),
            "--no-memory" => o.memory = false,
            "--no-start" => o.start = false,
            "--app" => o.apps.push(args.next().unwrap().into()),
            _ => {} // `cargo bench` passes `--bench`
        }
    }
    if o.quick {
        o.history = 20_000;
        o.starts = o.starts.min(2);
        o.settle = o.settle.min(5);
    }
    if o.apps.is_empty() {
        o.apps.push(env!("CARGO_BIN_EXE_griddispatch").into());
    }
    if let Some(h) = history {
        o.history = h;
    }
    o
}

/// What every start needs.
struct Cx {
    /// The `griddispatch` binaries: the memory is measured with the first, starts are
    /// timed with each in turn.
    apps: Vec<PathBuf>,
    http: reqwest::Client,
}

// ---- the two measurements --------------------------------------------------------------

struct MemoryRow {
    responders: usize,
    cameras: usize,
    probes: bool,
    ready_s: f64,
    rss_mib: f64,
    max_rss_mib: f64,
    hwm_mib: f64,
}

/// Starts the app on `url`, leaves it idle `settle` s (reading `VmRSS` every second), and
/// stops it.
async fn measure_memory(
    url: &str,
    dir: &Path,
    extra: &[(&str, String)],
    settle: u64,
    cx: &Cx,
) -> anyhow::Result<(f64, f64, f64, f64)> {
    let app = start_app(&cx.apps[0], url, dir, extra, &cx.http).await?;
    let mut max_rss: f64 = 0.0;
    for _ in 0..settle {
        tokio::time::sleep(Duration::from_secs(1)).await;
        max_rss = max_rss.max(mib(status_kib(app.pid, "VmRSS:")));
    }
    let rss = mib(status_kib(app.pid, "VmRSS:"));
    let hwm = mib(status_kib(app.pid, "VmHWM:"));
    // Still answering after the wait.
    let ok = cx
        .http
        .get(format!("{}/readyz", app.base))
        .send()
        .await
        .is_ok_and(|r| r.status().is_success());
    anyhow::ensure!(ok, "the app stopped answering /readyz while idle");
    let ready = app.ready_after.as_secs_f64();
    app.stop().await?;
    Ok((ready, rss, max_rss.max(rss), hwm))
}

async fn memory(o: &Options, cx: &Cx) -> anyhow::Result<Vec<MemoryRow>> {
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}/scale.db", dir.path().display());
    let store = Store::connect(&url, 4).await?;
    store.put_zones(&zones(), false).await?;
    let closed_port = free_port();
    let (steps, cams): (&[usize], &[usize]) = if o.quick {
        (&[0, 1_000, 10_000], &[1_000])
    } else {
        (&[0, 1_000, 10_000, 100_000], &[1_000, 10_000])
    };
    let mut cases: Vec<(usize, usize, bool)> = steps.iter().map(|&r| (r, 0, true)).collect();
    let top = *steps.last().unwrap();
    cases.extend(cams.iter().map(|&c| (top, c, true)));
    cases.push((top, *cams.last().unwrap(), false));
    let (mut have_r, mut have_c) = (0, 0);
    let mut out = Vec::new();
    for (responders, cameras, probes) in cases {
        if responders > have_r {
            add_responders(&url, have_r, responders).await?;
            have_r = responders;
        }
        if cameras > have_c {
            add_cameras(&store, have_c, cameras, closed_port).await?;
            have_c = cameras;
        }
        let mut extra = Vec::new();
        if !probes {
            extra.push(("GRIDDISPATCH__VIDEO__PROBE_INTERVAL_SECS", "0".to_owned()));
        }
        let (ready_s, rss_mib, max_rss_mib, hwm_mib) =
            measure_memory(&url, dir.path(), &extra, o.settle, cx).await?;
        eprintln!(
            "memory: {responders} responders, {cameras} cameras, probes {probes}: ready {ready_s:.2} s, RSS {rss_mib:.1} MiB (max {max_rss_mib:.1}, HWM {hwm_mib:.1}); load {}",
            load_average()
        );
        out.push(MemoryRow {
            responders,
            cameras,
            probes,
            ready_s,
            rss_mib,
            max_rss_mib,
            hwm_mib,
        });
    }
    store.close().await;
    Ok(out)
}

struct StartRow {
    app: String,
    db: &'static str,
    history: usize,
    responders: usize,
    secs: Vec<f64>,
    rss_mib: f64,
    load: String,
}

/// Times `starts` starts of each app on `url`, taking turns (so a change of load hits
/// them alike); the resident size after the last one.
async fn time_starts(
    db: &'static str,
    (url, dir): (&str, &Path),
    (history, responders): (usize, usize),
    starts: usize,
    cx: &Cx,
) -> anyhow::Result<Vec<StartRow>> {
    let load = load_average();
    let mut secs = vec![Vec::new(); cx.apps.len()];
    let mut rss_mib = vec![f64::NAN; cx.apps.len()];
    for _ in 0..starts {
        for (i, path) in cx.apps.iter().enumerate() {
            let app = start_app(path, url, dir, &[], &cx.http).await?;
            secs[i].push(app.ready_after.as_secs_f64());
            rss_mib[i] = mib(status_kib(app.pid, "VmRSS:"));
            app.stop().await?;
        }
    }
    let mut rows = Vec::new();
    for ((path, mut secs), rss_mib) in cx.apps.iter().zip(secs).zip(rss_mib) {
        let app = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        eprintln!("start: {app}, {db}, {history} incidents, {responders} responders: {secs:.2?} s");
        secs.sort_by(f64::total_cmp);
        rows.push(StartRow {
            app,
            db,
            history,
            responders,
            secs,
            rss_mib,
            load: load.clone(),
        });
    }
    Ok(rows)
}

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_griddispatch"))
        .parent()
        .unwrap_or(Path::new("."))
        .join("scale-fixture")
}

async fn starts_sqlite(o: &Options, cx: &Cx) -> anyhow::Result<Vec<StartRow>> {
    let responders = if o.quick { 10_000 } else { 100_000 };
    let mut rows = Vec::new();
    // No history.
    let empty = tempfile::tempdir()?;
    let url = format!("sqlite://{}/empty.db", empty.path().display());
    fill(&url, responders, 0).await?;
    rows.extend(
        time_starts(
            "SQLite",
            (&url, empty.path()),
            (0, responders),
            o.starts,
            cx,
        )
        .await?,
    );
    // The history fixture, kept between runs.
    let dir = fixture_dir().join(format!("history-{}-{responders}", o.history));
    let file = dir.join("history.db");
    let url = format!("sqlite://{}", file.display());
    let complete = dir.join("complete");
    let reuse = complete.exists()
        && count(&url, "incidents").await.ok() == Some(o.history as i64)
        && count(&url, "responders").await.ok() == Some(responders as i64);
    if reuse {
        eprintln!("reusing {}", file.display());
    } else {
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        eprintln!("writing {} ({} incidents)", file.display(), o.history);
        fill(&url, responders, o.history).await?;
        std::fs::write(&complete, "")?;
    }
    rows.extend(
        time_starts(
            "SQLite",
            (&url, &dir),
            (o.history, responders),
            o.starts,
            cx,
        )
        .await?,
    );
    Ok(rows)
}

async fn starts_pg(o: &Options, cx: &Cx) -> anyhow::Result<Vec<StartRow>> {
    let responders = if o.quick { 10_000 } else { 100_000 };
    let name = format!("gd_scale_{}", std::process::id());
    let mut admin = sqlx::PgConnection::connect(&format!("{}/postgres", o.pg_url)).await?;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await?;
    let url = format!("{}/{name}", o.pg_url);
    let dir = tempfile::tempdir()?;
    let result = async {
        let mut rows = Vec::new();
        fill(&url, responders, 0).await?;
        rows.extend(
            time_starts(
                "PostgreSQL",
                (&url, dir.path()),
                (0, responders),
                o.starts,
                cx,
            )
            .await?,
        );
        let store = Store::connect(&url, 4).await?;
        eprintln!("writing {} incidents into {name}", o.history);
        let took = add_history(&store, o.history, responders).await?;
        eprintln!("  history written in {took:.1?}");
        store.close().await;
        // What autovacuum soon does by itself after a load.
        let mut c = sqlx::PgConnection::connect(&url).await?;
        sqlx::query("VACUUM ANALYZE").execute(&mut c).await?;
        c.close().await?;
        rows.extend(
            time_starts(
                "PostgreSQL",
                (&url, dir.path()),
                (o.history, responders),
                o.starts,
                cx,
            )
            .await?,
        );
        anyhow::Ok(rows)
    }
    .await;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut admin)
        .await?;
    result
}

fn thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let o = options();
    let cx = Cx {
        apps: o.apps.clone(),
        http: reqwest::Client::new(),
    };
    let load_at_start = load_average();
    let mut memory_rows = Vec::new();
    let mut start_rows = Vec::new();
    if o.memory {
        memory_rows = memory(&o, &cx).await?;
    }
    if o.start {
        start_rows.extend(starts_sqlite(&o, &cx).await?);
        if o.pg {
            start_rows.extend(starts_pg(&o, &cx).await?);
        }
    }

    println!(
        "\n{}, {} cores; load average {load_at_start} at start, {} at the end; {}.\n",
        cpu_model(),
        std::thread::available_parallelism().map_or(0, usize::from),
        load_average(),
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC")
    );
    if !memory_rows.is_empty() {
        println!(
            "Resident size of `griddispatch serve` (SQLite, defaults) {} s after `/readyz`; cameras' streams on a closed port of 127.0.0.1 (every probe refused).\n",
            o.settle
        );
        println!("| Responders | Cameras | Camera probes | Ready after (s) | RSS (MiB) | most seen while idle (MiB) | peak, VmHWM (MiB) | ≤ 150 MB |");
        println!("|---:|---:|---|---:|---:|---:|---:|---|");
        for r in &memory_rows {
            let mb = r.rss_mib * 1.048_576;
            println!(
                "| {} | {} | {} | {:.2} | {:.1} | {:.1} | {:.1} | {} |",
                thousands(r.responders),
                thousands(r.cameras),
                if r.probes { "on" } else { "off" },
                r.ready_s,
                r.rss_mib,
                r.max_rss_mib,
                r.hwm_mib,
                if mb <= 150.0 { "yes" } else { "**no**" }
            );
        }
    }
    if !start_rows.is_empty() {
        println!("\nTime from spawning `griddispatch serve` until `GET /readyz` answers 200 (database files in the page cache).\n");
        println!("| Binary | Database | Closed incidents | Responders | starts | min (s) | median (s) | max (s) | RSS after (MiB) | load at start |");
        println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---|");
        for r in &start_rows {
            println!(
                "| {} | {} | {} | {} | {} | {:.2} | {:.2} | {:.2} | {:.1} | {} |",
                r.app,
                r.db,
                thousands(r.history),
                thousands(r.responders),
                r.secs.len(),
                r.secs[0],
                r.secs[r.secs.len() / 2],
                r.secs[r.secs.len() - 1],
                r.rss_mib,
                r.load
            );
        }
    }
    Ok(())
}
