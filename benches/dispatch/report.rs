//! The markdown report.

use crate::e2e::{E2eResult, Options};
use crate::postgis::KnnResult;
use crate::search::{SearchResult, BUSY_SHARE, LIMIT};

/// The 1, 5 and 15 minute load averages: other work on the machine skews the numbers.
pub(crate) fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

pub(crate) fn machine() -> (usize, String, String) {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or("unknown".to_owned(), |(_, m)| m.trim().to_owned());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem = meminfo
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or("unknown".to_owned(), |kb| {
            format!("{:.1} GiB", kb / 1024.0 / 1024.0)
        });
    (cpus, model, mem)
}

pub(crate) fn verdict(ok: bool) -> &'static str {
    if ok {
        "**pass**"
    } else {
        "**miss**"
    }
}

/// The candidate-search target applies at 100,000 responders.
pub(crate) const SEARCH_TARGET_US: f64 = 50.0;
/// The latency target applies at 1,000 alerts/s.
pub(crate) const LATENCY_TARGET_MS: f64 = 10.0;
/// With roads loaded, the p99 at 1,000 alerts/s may be this much over the straight-line run.
pub(crate) const ROADS_TARGET_MS: f64 = 1.0;
/// At 100,000 responders our search should beat the PostGIS round trip by this factor.
pub(crate) const KNN_RATIO_TARGET: f64 = 50.0;

pub(crate) fn report(
    opts: &Options,
    search: &[SearchResult],
    knn: Option<&anyhow::Result<KnnResult>>,
    e2e: &[anyhow::Result<E2eResult>],
) {
    let (cpus, model, mem) = machine();
    println!();
    println!(
        "## griddispatch dispatch benchmark{}",
        if opts.quick { " (--quick)" } else { "" }
    );
    println!();
    println!("| | |");
    println!("|---|---|");
    println!(
        "| Date | {} |",
        chrono::Local::now().format("%Y-%m-%d %H:%M %Z")
    );
    println!("| CPUs (nproc) | {cpus} |");
    println!("| CPU model | {model} |");
    println!("| Memory | {mem} |");
    println!(
        "| Load average at start (1/5/15 min) | {} |",
        opts.load_at_start
    );
    println!(
        "| Build | release (`cargo bench`), griddispatch {} |",
        env!("CARGO_PKG_VERSION")
    );
    if !search.is_empty() {
        println!();
        println!("### 1. Candidate search (`ResponderIndex::rank`, limit 2)");
        println!();
        println!("40 × 40 km around 39.50 N 106.70 E, 16 grid zones, 60 % grid workers (foot/bike), 25 % patrol cars, 15 % volunteers on foot, 20 % busy; random targets.");
        println!();
        println!("| Responders | Queries | Mean µs | p50 µs | p99 µs | Max µs | Generate / index s | Target |");
        println!("|---:|---:|---:|---:|---:|---:|---|---|");
        for r in search {
            let s = &r.stats;
            let target = if r.responders == 100_000 {
                format!(
                    "≤ {SEARCH_TARGET_US} µs: mean {}, p50 {}, p99 {}",
                    verdict(s.mean <= SEARCH_TARGET_US),
                    verdict(s.p50 <= SEARCH_TARGET_US),
                    verdict(s.p99 <= SEARCH_TARGET_US)
                )
            } else {
                "–".into()
            };
            println!(
                "| {} | {} | {:.2} | {:.2} | {:.2} | {:.1} | {:.1} / {:.1} | {target} |",
                r.responders, s.n, s.mean, s.p50, s.p99, s.max, r.generate_secs, r.index_secs
            );
        }
    }
    if let Some(knn) = knn {
        report_knn(search, knn);
    }
    for (pass, e) in e2e.iter().enumerate() {
        let title = match (e2e.len(), (pass == 1) != opts.roads_first) {
            (1, _) => String::new(),
            (_, false) => ", by straight line (no roads file)".to_owned(),
            (_, true) => ", with roads loaded".to_owned(),
        };
        let e = match e {
            Err(e) => {
                println!();
                println!("### 2. Alert → task received by the worker's MQTT client{title}");
                println!();
                println!("**The end-to-end run failed:** {e:#}");
                continue;
            }
            Ok(e) => e,
        };
        {
            println!();
            println!("### 2. Alert → task received by the worker's MQTT client{title}");
            println!();
            println!(
                "**{} responders in the database, {} workers connected, {} open incidents at start.**",
                e.responders, e.workers_connected, e.open_at_start.0
            );
            println!();
            if let Some(roads) = &e.roads {
                println!("Roads: {roads}.");
                if let Some((asked, by_road)) = e.road_sample {
                    println!(
                        "Of the last {asked} incidents' first candidates (asked after the runs, from the responders' positions then), {by_road} were measured by road."
                    );
                }
                println!();
            }
            let db = if opts.e2e_pg.is_some() {
                "PostgreSQL scratch database"
            } else {
                "SQLite WAL file in a temp dir"
            };
            println!("Real app in-process (embedded broker, {db}); alerts published over MQTT on `alerts/<source>` at a steady rate, severity 2 (one offer each), correlation radius 0; each worker answers `accepted` then `resolved` at once. Latency = task received by the worker's client − alert handed to the source's client. Lost = no task within 5 s.");
            println!();
            println!("| Set-up | |");
            println!("|---|---|");
            println!(
                "| Responders (batch inserts before start; MQTT logins for the {} the fleet connects) | {} in {:.1} s ({:.3} ms each) |",
                e.workers_asked,
                e.responders,
                e.create_store_secs,
                e.create_store_secs * 1000.0 / e.responders.max(1) as f64
            );
            match &e.backlog {
                Some(b) => println!(
                    "| Open incidents seeded before start (`--open-incidents`) | {} in {:.1} s; {} with an open task, each held by one of the {} responders not connected |",
                    b.incidents, b.secs, b.with_task, b.holders
                ),
                None => println!("| Open incidents seeded before start (`--open-incidents`) | 0 |"),
            }
            println!(
                "| Open incidents in the app before the first run (`griddispatch_incidents_by_state`) | {} ({}) |",
                e.open_at_start.0,
                if e.open_at_start.1.is_empty() { "none" } else { &e.open_at_start.1 }
            );
            println!(
                "| Creating through `POST /api/v1/responders` (sample of {}) | {:.2} ms each → ~{:.0} s for {} |",
                e.http_sample,
                e.http_ms_each,
                e.http_ms_each * e.responders as f64 / 1000.0,
                e.responders
            );
            println!(
                "| Worker MQTT clients connected (child process) | {} of {} in {:.1} s |",
                e.workers_connected, e.workers_asked, e.connect_secs
            );
            println!(
                "| Location fixes applied by the dispatcher | {} |",
                e.located
            );
            println!();
            println!("| Alerts/s | Sent | Send time s | Worst send lag ms | Tasks in ≤ 5 s | Delivered/s | Lost (late) | p50 ms | p99 ms | max ms | Escalated | Broker drops | CPU s app / fleet | Target |");
            println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|");
            for r in &e.runs {
                let (p50, p99, max, got) = match &r.latency {
                    Some(s) => (
                        format!("{:.2}", s.p50),
                        format!("{:.2}", s.p99),
                        format!("{:.1}", s.max),
                        s.n,
                    ),
                    None => ("–".into(), "–".into(), "–".into(), 0),
                };
                let target = if (r.rate - 1000.0).abs() < 0.5 {
                    let ok = r.lost == 0
                        && r.latency
                            .as_ref()
                            .is_some_and(|s| s.p99 <= LATENCY_TARGET_MS);
                    format!("p99 ≤ {LATENCY_TARGET_MS} ms: {}", verdict(ok))
                } else {
                    "–".into()
                };
                println!(
                    "| {:.0} | {} | {:.2} | {:.1} | {} | {:.0} | {} ({}) | {p50} | {p99} | {max} | {} | {} | {:.1} / {:.1} | {target} |",
                    r.rate, r.sent, r.send_secs, r.send_lag_ms, got, r.delivered_per_sec, r.lost, r.late,
                    r.escalations, r.dropped, r.cpu_app, r.cpu_fleet
                );
                if r.dead_letters > 0 {
                    println!();
                    println!(
                        "{} dead letters during the {:.0}/s run.",
                        r.dead_letters, r.rate
                    );
                }
            }
            println!();
            println!("The app's own histogram `griddispatch_alert_to_offer_seconds` over each run (alert message reaching the dispatcher → its first offer handed to the MQTT connection after the commit; quantiles estimated from the buckets as `histogram_quantile` does), beside the client's alert → task. The difference is what the histogram cannot see: the alert's hop through the broker to the dispatcher, and the task's hop out to the worker's client.");
            println!();
            println!("| Alerts/s | Histogram count | Histogram p50 / p99 ms | Client p50 / p99 ms | Client − histogram, p50 / p99 ms |");
            println!("|---:|---:|---|---|---|");
            for r in &e.runs {
                match (&r.server_alert_to_offer, &r.latency) {
                    (Some((h50, h99, n)), Some(c)) => println!(
                        "| {:.0} | {n} | {h50:.2} / {h99:.2} | {:.2} / {:.2} | {:.2} / {:.2} |",
                        r.rate,
                        c.p50,
                        c.p99,
                        c.p50 - h50,
                        c.p99 - h99
                    ),
                    _ => println!("| {:.0} | – | – | – | – |", r.rate),
                }
            }
            println!();
            println!("Inside the engine, from its histograms over the same runs (commits that wrote something; every loop turn's batch):");
            println!();
            println!(
                "| Alerts/s | Commits | Commit p50 / p99 ms | Batches | Batch p50 / p99 commands |"
            );
            println!("|---:|---:|---|---:|---|");
            for r in &e.runs {
                let cell = |h: &Option<(f64, f64, u64)>| match h {
                    Some((p50, p99, n)) => (n.to_string(), format!("{p50:.2} / {p99:.2}")),
                    None => ("–".into(), "–".into()),
                };
                let ((cn, c), (bn, b)) = (cell(&r.server_commit), cell(&r.server_batch));
                println!("| {:.0} | {cn} | {c} | {bn} | {b} |", r.rate);
            }
            for n in &e.notes {
                println!();
                println!("Note: {n}");
            }
        }
    }
    if let [Ok(a), Ok(b)] = e2e {
        // In the order they ran (`--roads-first` swaps them), named by what they had.
        let (straight, road) = if a.roads.is_some() { (b, a) } else { (a, b) };
        println!();
        println!(
            "### Roads against straight line, same run ({} first)",
            if a.roads.is_some() {
                "roads"
            } else {
                "straight line"
            }
        );
        println!();
        println!("| Alerts/s | p50 ms straight / roads | p99 ms straight / roads | p99 difference ms | Target |");
        println!("|---:|---|---|---:|---|");
        for (a, b) in straight.runs.iter().zip(&road.runs) {
            let (Some(x), Some(y)) = (&a.latency, &b.latency) else {
                continue;
            };
            let target = if (a.rate - 1000.0).abs() < 0.5 {
                format!(
                    "within {ROADS_TARGET_MS} ms: {}",
                    verdict(y.p99 - x.p99 <= ROADS_TARGET_MS)
                )
            } else {
                "–".into()
            };
            println!(
                "| {:.0} | {:.2} / {:.2} | {:.2} / {:.2} | {:+.2} | {target} |",
                a.rate,
                x.p50,
                y.p50,
                x.p99,
                y.p99,
                y.p99 - x.p99
            );
        }
    }
}

/// Our search beside PostGIS KNN on the same points and targets.
fn report_knn(search: &[SearchResult], knn: &anyhow::Result<KnnResult>) {
    println!();
    println!("### 1b. The same search in PostGIS (`ORDER BY geom <-> p LIMIT {LIMIT}`, GiST)");
    println!();
    let k = match knn {
        Err(e) => {
            println!("**SKIPPED:** {e:#}");
            return;
        }
        Ok(k) => k,
    };
    let Some(ours) = search.iter().find(|r| r.responders == k.responders) else {
        return;
    };
    println!(
        "PostgreSQL {}, PostGIS {}, on this machine over loopback. The same {} points ({:.0} % busy) and the first {} targets; planar metres on the same local plane as ours, a partial GiST index on the free ones ({:.1} s to load and index). Plan: `{}`. Round trip: one prepared statement (sqlx) at a time from the bench process. Inside the server: a PL/pgSQL loop over the targets timed with `clock_timestamp()` (mean = the whole loop ÷ N; p50/p99 from each query stamped in a second pass). Ratio = PostGIS ÷ ours.",
        k.server,
        k.postgis,
        k.responders,
        BUSY_SHARE * 100.0,
        k.round_trip.n,
        k.load_secs,
        k.plan
    );
    println!();
    println!("| {} responders, {LIMIT} nearest free | Queries | Mean µs | p50 µs | p99 µs | Max µs | Ratio mean / p99 | Target |", k.responders);
    println!("|---|---:|---:|---:|---:|---:|---|---|");
    let o = &ours.stats;
    println!(
        "| ours: `ResponderIndex::rank` | {} | {:.2} | {:.2} | {:.2} | {:.1} | 1 | – |",
        o.n, o.mean, o.p50, o.p99, o.max
    );
    let r = &k.round_trip;
    let ratio = r.mean / o.mean;
    let target = if k.responders == 100_000 {
        format!(
            "≥ {KNN_RATIO_TARGET}× on the round trip: {}",
            verdict(ratio >= KNN_RATIO_TARGET)
        )
    } else {
        "–".into()
    };
    println!(
        "| PostGIS round trip | {} | {:.1} | {:.1} | {:.1} | {:.0} | {:.1}× / {:.1}× | {target} |",
        r.n,
        r.mean,
        r.p50,
        r.p99,
        r.max,
        ratio,
        r.p99 / o.p99
    );
    let s = &k.in_server;
    println!(
        "| PostGIS inside the server | {} | {:.1} | {:.1} | {:.1} | {:.0} | {:.1}× / {:.1}× | – |",
        s.n,
        k.in_server_mean,
        s.p50,
        s.p99,
        s.max,
        k.in_server_mean / o.mean,
        s.p99 / o.p99
    );
}
