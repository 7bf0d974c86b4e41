//! Dispatch benchmark: candidate search on its own, then alert → task on a worker's phone
//! against the real app (embedded broker, SQLite file) with thousands of MQTT workers.
//!
//! Run it with `scripts/bench` (or `cargo bench --bench dispatch -- [--quick]`); it prints
//! a markdown table. Options:
//!
//! - `--quick`: small sizes and short runs, a smoke test (well under a minute).
//! - `--rates 100,1000`: alert rates of the end-to-end runs, alerts per second.
//! - `--secs 10`: how long each rate is held.
//! - `--responders 10000`, `--workers 10000`: responders in the database, and how many of
//!   them are connected as MQTT clients (only connected ones get a location fix, so only
//!   they are candidates; the others sit in the dispatcher's memory without a position,
//!   outside its spatial index). The responders are written by batch inserts (`seed.rs`),
//!   with an MQTT login for the connected ones only: 1,000,000 took 26–33 s on a
//!   2-core AMD EPYC under a load average of 15–30 (2026-12-06).
//! - `--search-sizes 1000,10000,100000,1000000`: responder counts of the candidate search
//!   (default 1,000, 10,000 and 100,000; with `--quick` 1,000 and 10,000). Its PostGIS
//!   comparison runs at the largest; at 1,000,000 that load takes a while (`--no-postgis`).
//! - `--open-incidents N`: before the end-to-end half starts the app, write N open
//!   incidents from the last eight hours into its database, which it loads at start-up as a
//!   county's backlog (default 0). Of every ten: four `assigned`, two `en_route`, two
//!   `on_scene`, each with its responder's open task, one `escalated`, one `suspended`
//!   (`seed.rs`). Each task is held by its own responder among those the fleet does not
//!   connect (`--responders` minus `--workers`); past them, those incidents are
//!   `escalated` instead. The report gives the open incidents the app counted
//!   (`griddispatch_incidents_by_state`) before the first run.
//! - `--search-only`, `--e2e-only`: run one half.
//! - `--pg postgres://user@host:port`: the PostgreSQL server of the PostGIS comparison
//!   beside the candidate search (default `postgres://postgres@127.0.0.1:5432`; it creates
//!   and drops the database `griddispatch_bench_knn`); `--no-postgis` leaves it out. When
//!   the server or its postgis extension is missing, the comparison is SKIPPED, loudly.
//! - `--roads`: run the end-to-end half twice, the second time with a generated road
//!   network over the county loaded (`benches/common/city.rs`), so that each alert's
//!   candidates are measured by road; `--road-step 250` sets its street spacing, metres;
//!   `--roads-first` runs the pass with roads first.
//! - `--e2e-pg postgres://user@host:port`: the end-to-end app stores on a scratch database
//!   `griddispatch_bench_e2e` on that PostgreSQL server (created, then dropped) instead of
//!   a SQLite file.
//! - `--alert-qos0`: publish alerts with QoS 0 instead of 1. A diagnostic: the dispatcher
//!   then sends no PUBACK for the alert, which shows whether its next write (the task) was
//!   held back by Nagle's algorithm waiting for that PUBACK's delayed TCP ACK.
//!
//! The worker phones run in a child process (this same binary, started with `--fleet`):
//! each TCP connection costs one descriptor on each side, and `ulimit -n` (20,000 here)
//! could not hold 10,000 client ends plus 10,000 broker ends in one process. Both processes
//! stamp times with the same system clock, so the latencies are comparable.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../common/city.rs"]
mod city;
mod county;
mod e2e;
mod fleet;
mod postgis;
mod report;
mod search;
mod seed;
mod stats;

use e2e::{bench_e2e, Options};
use report::{loadavg, report};
use search::bench_search;

use std::time::Duration;

use griddispatch::config::Settings;
use rumqttc::QoS;

// ---- main ----------------------------------------------------------------------------------

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;

    if let Some(file) = value("--fleet") {
        let addr = value("--mqtt").expect("--mqtt host:port");
        let (host, port) = addr.rsplit_once(':').expect("host:port");
        let max_secs = value("--max-secs")
            .and_then(|s| s.parse().ok())
            .unwrap_or(600);
        runtime.block_on(fleet::fleet(file, host.to_owned(), port.parse()?, max_secs));
        return Ok(());
    }

    // Quiet by default: the app logs every offer at info level. RUST_LOG overrides.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error")),
        )
        .with_writer(std::io::stderr)
        .init();

    let quick = args.iter().any(|a| a == "--quick");
    let default_n = if quick { 500 } else { 10_000 };
    let opts = Options {
        quick,
        rates: value("--rates")
            .map(|s| s.split(',').filter_map(|r| r.trim().parse().ok()).collect())
            .unwrap_or_else(|| {
                if quick {
                    vec![50.0, 200.0]
                } else {
                    vec![100.0, 1000.0]
                }
            }),
        secs: value("--secs")
            .and_then(|s| s.parse().ok())
            .unwrap_or(if quick { 3.0 } else { 10.0 }),
        responders: value("--responders")
            .and_then(|s| s.parse().ok())
            .unwrap_or(default_n),
        workers: value("--workers")
            .and_then(|s| s.parse().ok())
            .unwrap_or(default_n),
        search: !args.iter().any(|a| a == "--e2e-only"),
        e2e: !args.iter().any(|a| a == "--search-only"),
        load_at_start: loadavg(),
        alert_qos: if args.iter().any(|a| a == "--alert-qos0") {
            QoS::AtMostOnce
        } else {
            QoS::AtLeastOnce
        },
        e2e_pg: value("--e2e-pg"),
        roads_step_m: args.iter().any(|a| a == "--roads").then(|| {
            value("--road-step")
                .and_then(|s| s.parse().ok())
                .unwrap_or(250.0)
        }),
        roads_first: args.iter().any(|a| a == "--roads-first"),
        open_incidents: match value("--open-incidents") {
            Some(n) => n
                .parse()
                .map_err(|_| anyhow::anyhow!("--open-incidents {n:?}: not a count"))?,
            None => 0,
        },
    };
    anyhow::ensure!(
        opts.rates.iter().all(|r| *r > 0.0) && opts.secs > 0.0,
        "rates and --secs must be positive"
    );
    anyhow::ensure!(
        opts.roads_step_m
            .is_none_or(|s| (20.0..=5_000.0).contains(&s)),
        "--road-step must be 20 to 5000 metres"
    );

    let settings = Settings::load_with_env(None, Vec::new())?;
    let search = if opts.search {
        let (mut sizes, queries) = if quick {
            (vec![1_000, 10_000], 2_000)
        } else {
            (vec![1_000, 10_000, 100_000], 20_000)
        };
        if let Some(list) = value("--search-sizes") {
            sizes = list
                .split(',')
                .map(|n| n.trim().parse::<usize>())
                .collect::<Result<_, _>>()
                .map_err(|_| anyhow::anyhow!("--search-sizes {list:?}: counts, by commas"))?;
            anyhow::ensure!(
                !sizes.is_empty() && sizes.iter().all(|&n| n > 0),
                "--search-sizes must list positive counts"
            );
        }
        eprintln!("candidate search: {sizes:?} responders, {queries} queries each");
        bench_search(&sizes, queries, &settings)
    } else {
        Vec::new()
    };
    // PostGIS on the largest size searched, with the same points and targets.
    let knn = match search.last() {
        Some(largest) if !args.iter().any(|a| a == "--no-postgis") => {
            let pg = value("--pg").unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432".into());
            let n = largest.responders;
            let queries = if quick { 500 } else { largest.stats.n };
            eprintln!("PostGIS KNN: {n} responders, {queries} queries ({pg})");
            let limit = Duration::from_secs(600);
            let knn = runtime.block_on(async {
                tokio::time::timeout(limit, postgis::bench_knn(&pg, n, queries))
                    .await
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("gave up after {limit:?}")))
            });
            if let Err(e) = &knn {
                eprintln!("*** SKIPPED: the PostGIS comparison: {e:#} ***");
            }
            Some(knn)
        }
        _ => None,
    };
    let mut e2e = Vec::new();
    let passes: &[bool] = match (opts.e2e, opts.roads_step_m.is_some(), opts.roads_first) {
        (false, _, _) => &[],
        (true, false, _) => &[false],
        (true, true, false) => &[false, true],
        (true, true, true) => &[true, false],
    };
    for &with_roads in passes {
        eprintln!(
            "alert → task{}: {} responders, {} workers, {} open incidents seeded, {:?} alerts/s for {} s each",
            if with_roads { " with roads" } else { "" },
            opts.responders,
            opts.workers,
            opts.open_incidents,
            opts.rates,
            opts.secs
        );
        // Bounded: set-up, each run and its drain all have their own time limits; this is
        // the backstop (the roads' preparation included).
        let limit = Duration::from_secs(900 + (opts.secs as u64 + 20) * opts.rates.len() as u64);
        e2e.push(runtime.block_on(async {
            tokio::time::timeout(limit, bench_e2e(&opts, with_roads))
                .await
                .unwrap_or_else(|_| Err(anyhow::anyhow!("gave up after {limit:?}")))
        }));
    }
    report(&opts, &search, knn.as_ref(), &e2e);
    runtime.shutdown_timeout(Duration::from_secs(5));
    Ok(())
}
