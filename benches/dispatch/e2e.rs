//! 2. Alert → task: the parent side, against the real app.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::city;
use crate::county::{population, random_point, ring, zone_cells, CENTRE, HALF_LAT, HALF_LON};
use crate::seed::{self, Backlog};
use crate::stats::{summarize, unix_ns, Summary};
use griddispatch::config::Settings;
use griddispatch::domain::Role;
use griddispatch::roads::Roads;
use griddispatch::store::{Store, ZoneRow};
use rand::rngs::StdRng;
use rand::SeedableRng;
use rumqttc::{AsyncClient, MqttOptions, QoS};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};

// ---- 2. alert → task, the parent side ------------------------------------------------------

pub(crate) struct Options {
    pub(crate) quick: bool,
    pub(crate) rates: Vec<f64>,
    pub(crate) secs: f64,
    pub(crate) responders: usize,
    pub(crate) workers: usize,
    pub(crate) search: bool,
    pub(crate) e2e: bool,
    /// `/proc/loadavg` before anything ran.
    pub(crate) load_at_start: String,
    /// QoS of the alerts; 0 is a diagnostic (see the module docs).
    pub(crate) alert_qos: QoS,
    /// `--roads`: run the end-to-end half a second time with a generated road network
    /// over the county loaded, street spacing in metres.
    pub(crate) roads_step_m: Option<f64>,
    /// `--roads-first`: the pass with roads runs first, to tell the roads' cost from the
    /// second pass's (a warmer machine, the first app's leftovers).
    pub(crate) roads_first: bool,
    /// `--e2e-pg URL`: the app's database is a scratch PostgreSQL database on that server
    /// (created, and dropped afterwards) instead of a SQLite file.
    pub(crate) e2e_pg: Option<String>,
    /// `--open-incidents N`: open incidents written before start-up (see `seed.rs`).
    pub(crate) open_incidents: usize,
}

/// The scratch database of `--e2e-pg`, made anew for each pass.
const E2E_PG_DB: &str = "griddispatch_bench_e2e";

/// Drops and creates [`E2E_PG_DB`] on the server at `pg_url`; returns its URL.
async fn fresh_pg_database(pg_url: &str) -> anyhow::Result<String> {
    use sqlx::Connection as _;
    let mut admin = sqlx::PgConnection::connect(&format!("{pg_url}/postgres")).await?;
    crate::postgis::recreate_database(&mut admin, E2E_PG_DB).await?;
    Ok(format!("{pg_url}/{E2E_PG_DB}"))
}

/// Drops [`E2E_PG_DB`]; a failure is only reported (the figures stand).
async fn drop_pg_database(pg_url: &str) {
    use sqlx::Connection as _;
    match sqlx::PgConnection::connect(&format!("{pg_url}/postgres")).await {
        Ok(mut admin) => crate::postgis::drop_database(&mut admin, E2E_PG_DB).await,
        Err(e) => eprintln!("could not drop the scratch database {E2E_PG_DB}: {e}"),
    }
}

/// What one rate run measured.
pub(crate) struct RunResult {
    pub(crate) rate: f64,
    pub(crate) sent: usize,
    pub(crate) send_secs: f64,
    /// Worst lag of a publish behind its schedule, ms.
    pub(crate) send_lag_ms: f64,
    pub(crate) latency: Option<Summary>,
    /// Tasks delivered per second: all that arrived ÷ (last arrival − first alert).
    pub(crate) delivered_per_sec: f64,
    /// No task within 5 s (counting late ones).
    pub(crate) lost: usize,
    /// Of those, tasks that did arrive, later than 5 s.
    pub(crate) late: usize,
    /// Counter deltas from /metrics over the run.
    pub(crate) escalations: u64,
    pub(crate) dropped: u64,
    pub(crate) dead_letters: u64,
    /// The app's own `griddispatch_alert_to_offer_seconds` over the run: p50 and p99, ms,
    /// estimated from its buckets as Prometheus' `histogram_quantile` does, and how many
    /// alerts it counted.
    pub(crate) server_alert_to_offer: Option<(f64, f64, u64)>,
    /// The app's `griddispatch_commit_duration_seconds` over the run: p50, p99 (ms), count.
    pub(crate) server_commit: Option<(f64, f64, u64)>,
    /// The app's `griddispatch_engine_batch_size` over the run: p50, p99 (commands), count.
    pub(crate) server_batch: Option<(f64, f64, u64)>,
    /// CPU seconds used during the run by the app process and by the fleet process.
    pub(crate) cpu_app: f64,
    pub(crate) cpu_fleet: f64,
}

pub(crate) struct E2eResult {
    pub(crate) responders: usize,
    /// Seconds the batch insert of the responders (and the fleet's logins) took.
    pub(crate) create_store_secs: f64,
    /// The backlog of open incidents written before start-up, if any was asked for.
    pub(crate) backlog: Option<Backlog>,
    /// Open incidents the app reported (`griddispatch_incidents_by_state`, summed) once
    /// the fleet was located, with the count in each state.
    pub(crate) open_at_start: (u64, String),
    pub(crate) http_sample: usize,
    pub(crate) http_ms_each: f64,
    pub(crate) workers_asked: usize,
    pub(crate) workers_connected: usize,
    pub(crate) connect_secs: f64,
    pub(crate) located: u64,
    pub(crate) runs: Vec<RunResult>,
    pub(crate) notes: Vec<String>,
    /// With roads loaded: what the graphs kept and how long they took to build.
    pub(crate) roads: Option<String>,
    /// With roads loaded: of a sample of incidents' first candidates, how many were
    /// measured by road.
    pub(crate) road_sample: Option<(usize, usize)>,
}

/// A task later than this after its alert counts as late (and lost for the latency target).
pub(crate) const LOST_AFTER_NS: i64 = 5_000_000_000;

/// A run ends when no task has arrived for this long; what never came is lost.
pub(crate) const STALL_NS: u64 = 10_000_000_000;

/// Receive time of each alert of each run, filled from the fleet's `T` lines.
pub(crate) type Received = Arc<Mutex<Vec<Vec<Option<i64>>>>>;

pub(crate) async fn metrics(
    http: &reqwest::Client,
    base: &str,
) -> std::collections::HashMap<String, u64> {
    let text = match http.get(format!("{base}/metrics")).send().await {
        Ok(r) => r.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    };
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((k.to_owned(), v.trim().parse().ok()?))
        })
        .collect()
}

/// Quantiles `qs` (0–1), in the histogram's own unit, of the histogram `name` over the counts that grew
/// from `before` to `after`: linear within the bucket the quantile falls in, as
/// Prometheus' `histogram_quantile`; with the count observed. `None` when nothing was.
pub(crate) fn histogram_quantiles(
    before: &std::collections::HashMap<String, u64>,
    after: &std::collections::HashMap<String, u64>,
    name: &str,
    qs: &[f64],
) -> Option<(Vec<f64>, u64)> {
    let prefix = format!("griddispatch_{name}_bucket{{le=\"");
    let mut buckets: Vec<(f64, u64)> = after
        .iter()
        .filter_map(|(k, &v)| {
            let le = k.strip_prefix(&prefix)?.strip_suffix("\"}")?;
            let le = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().ok()?
            };
            Some((le, v.saturating_sub(before.get(k).copied().unwrap_or(0))))
        })
        .collect();
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total = buckets.last()?.1;
    if total == 0 {
        return None;
    }
    let at = |q: f64| {
        let rank = q * total as f64;
        let mut lower = (0.0, 0u64);
        for &(le, count) in &buckets {
            if count as f64 >= rank {
                if le.is_infinite() {
                    return lower.0;
                }
                let within = (rank - lower.1 as f64) / (count - lower.1).max(1) as f64;
                return lower.0 + (le - lower.0) * within;
            }
            lower = (le, count);
        }
        lower.0
    };
    Some((qs.iter().map(|&q| at(q)).collect(), total))
}

pub(crate) fn metric(m: &std::collections::HashMap<String, u64>, name: &str) -> u64 {
    m.get(&format!("griddispatch_{name}")).copied().unwrap_or(0)
}

/// Open incidents by `griddispatch_incidents_by_state`: their sum, and `state n` for each
/// state holding any, largest first.
pub(crate) fn open_by_state(m: &std::collections::HashMap<String, u64>) -> (u64, String) {
    let mut states: Vec<(&str, u64)> = m
        .iter()
        .filter_map(|(k, &v)| {
            let state = k
                .strip_prefix("griddispatch_incidents_by_state{state=\"")?
                .strip_suffix("\"}")?;
            (v > 0).then_some((state, v))
        })
        .collect();
    states.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let total = states.iter().map(|s| s.1).sum();
    let each: Vec<String> = states.iter().map(|(s, n)| format!("{s} {n}")).collect();
    (total, each.join(", "))
}

/// utime + stime of a process, seconds (clock ticks are 100 Hz on Linux).
pub(crate) fn cpu_secs(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return f64::NAN;
    };
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
        return f64::NAN;
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|s| s.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// Builds the generated city over the whole county, streets `step_m` apart, and writes it
/// as the roads file into `dir`, where `serve` finds it (the SQLite file's folder).
/// Answers what was kept, for the report.
fn write_county_roads(dir: &std::path::Path, step_m: f64) -> anyhow::Result<String> {
    let started = Instant::now();
    let side = (2.0 * HALF_LAT * 111_320.0 / step_m).ceil() as usize + 1;
    let map = city::generated_city((CENTRE.0 - HALF_LAT, CENTRE.1 - HALF_LON), side, step_m);
    let (roads, summary) = Roads::build("generated county", &map);
    roads.save(&dir.join(griddispatch::roads::FILE_NAME))?;
    let modes: Vec<String> = summary
        .modes
        .iter()
        .map(|(mode, s)| format!("{mode:?} {} nodes / {} edges", s.nodes, s.edges))
        .collect();
    Ok(format!(
        "a {side} × {side} grid of streets {step_m:.0} m apart over the county (`benches/common/city.rs`): {}; built in {:.1} s",
        modes.join(", "),
        started.elapsed().as_secs_f64()
    ))
}

/// Of the last `n` incidents, how many had their first candidate measured by road.
async fn road_sample(http: &reqwest::Client, base: &str, token: &str, n: usize) -> (usize, usize) {
    let (mut asked, mut by_road) = (0, 0);
    let Ok(r) = http
        .get(format!("{base}/api/v1/incidents?limit={n}"))
        .bearer_auth(token)
        .send()
        .await
    else {
        return (0, 0);
    };
    let list: Value = r.json().await.unwrap_or_default();
    let items = list.as_array().cloned().unwrap_or_default();
    for inc in items.iter().take(n) {
        let Some(id) = inc["id"].as_str() else {
            continue;
        };
        let Ok(r) = http
            .get(format!("{base}/api/v1/incidents/{id}/candidates"))
            .bearer_auth(token)
            .send()
            .await
        else {
            continue;
        };
        let c: Value = r.json().await.unwrap_or_default();
        let first = c.get(0).cloned().unwrap_or_default();
        if let Some(source) = first["eta_source"].as_str() {
            asked += 1;
            by_road += usize::from(source == "road");
        }
    }
    (asked, by_road)
}

pub(crate) async fn bench_e2e(opts: &Options, with_roads: bool) -> anyhow::Result<E2eResult> {
    let dir = tempfile::tempdir()?;
    let db_url = match &opts.e2e_pg {
        Some(pg) => fresh_pg_database(pg).await?,
        None => format!("sqlite://{}/bench.db", dir.path().display()),
    };
    let mut notes = Vec::new();

    // Responders go straight into the database before start-up: the dispatcher loads them
    // all at start, exactly as after a restart. The HTTP path is timed on a sample below.
    let people = population(opts.responders, 7);
    let store = Store::connect(&db_url, 4).await?;
    let zones: Vec<ZoneRow> = zone_cells()
        .into_iter()
        .map(|(id, sw, ne)| ZoneRow {
            name: id.clone(),
            id,
            kind: griddispatch::domain::ZoneKind::Grid,
            geometry: json!({"type":"Polygon","coordinates":[ring(sw, ne)]}).to_string(),
            properties: "{}".into(),
        })
        .collect();
    store.put_zones(&zones, false).await?;
    let started = Instant::now();
    let passwords = seed::responders(&db_url, &people, opts.workers).await?;
    let create_store_secs = started.elapsed().as_secs_f64();
    // The backlog's tasks are held by the responders the fleet does not connect.
    let backlog = if opts.open_incidents > 0 {
        let defaults = Settings::load_with_env(None, Vec::<(String, String)>::new())?;
        let holders = &people[opts.workers.min(people.len())..];
        Some(seed::open_incidents(&store, &defaults, opts.open_incidents, holders).await?)
    } else {
        None
    };
    store.close().await;
    let roads = match (with_roads, opts.roads_step_m) {
        (true, Some(step)) => {
            let dir = dir.path().to_owned();
            Some(tokio::task::spawn_blocking(move || write_county_roads(&dir, step)).await??)
        }
        _ => None,
    };

    let settings = Settings::load_with_env(
        None,
        [
            ("GRIDDISPATCH__HTTP__LISTEN", "127.0.0.1:0".to_owned()),
            ("GRIDDISPATCH__MQTT__LISTEN", "127.0.0.1:0".to_owned()),
            ("GRIDDISPATCH__DATABASE__URL", db_url.clone()),
            // The broker's socket and the roads live here (on PostgreSQL there is no
            // database file beside which they would go).
            (
                "GRIDDISPATCH__DATABASE__DATA_DIR",
                dir.path().display().to_string(),
            ),
            // Every alert must open its own incident, or alerts would merge and get no task.
            ("GRIDDISPATCH__CORRELATION__RADIUS_M", "0".to_owned()),
            // One source login offers every alert: its rate is what is being measured.
            (
                "GRIDDISPATCH__MQTT__LIMITS__MAX_MESSAGES_PER_SEC",
                "0".to_owned(),
            ),
            // Every worker's phone and the source connect from 127.0.0.1: the broker's
            // per-address cap (1,000 by default, against one host opening thousands) would
            // refuse all past the thousandth, the source among them.
            (
                "GRIDDISPATCH__MQTT__LIMITS__MAX_CONNECTIONS",
                (opts.workers + 100).max(10_000).to_string(),
            ),
            (
                "GRIDDISPATCH__MQTT__LIMITS__MAX_CONNECTIONS_PER_IP",
                (opts.workers + 100).max(10_000).to_string(),
            ),
            // Fixes are sent once at set-up; keep them usable however long set-up takes.
            (
                "GRIDDISPATCH__DISPATCH__LOCATION_MAX_AGE_SECS",
                "3600".to_owned(),
            ),
        ]
        .map(|(k, v)| (k.to_owned(), v)),
    )?;
    let running = griddispatch::app::start(&settings).await?;
    let base = format!("http://{}", running.http_addr);
    let token = running.store.create_token("bench", Role::Admin).await?;
    let http = reqwest::Client::new();
    let healthy_by = Instant::now() + Duration::from_secs(10);
    loop {
        let ok = http
            .get(format!("{base}/healthz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        if ok {
            break;
        }
        anyhow::ensure!(Instant::now() < healthy_by, "app never became healthy");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // The HTTP way, timed on a sample: one admin creating responders one after another.
    let http_sample = if opts.quick { 20 } else { 200 };
    let started = Instant::now();
    for i in 0..http_sample {
        let id = format!("http{i:04}");
        let r = http
            .post(format!("{base}/api/v1/responders"))
            .bearer_auth(&token)
            .json(&json!({"id": id, "name": id, "kind": "volunteer", "travel": "foot"}))
            .send()
            .await?;
        anyhow::ensure!(r.status().as_u16() == 201, "POST responder: {}", r.status());
    }
    let http_ms_each = started.elapsed().as_secs_f64() * 1000.0 / http_sample as f64;

    let r = http
        .post(format!("{base}/api/v1/sources"))
        .bearer_auth(&token)
        .json(&json!({"id": "bench-src", "name": "bench source"}))
        .send()
        .await?;
    anyhow::ensure!(r.status().as_u16() == 201, "POST source: {}", r.status());
    let src: Value = r.json().await?;
    let (src_user, src_pass) = (
        src["mqtt"]["username"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        src["mqtt"]["password"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    );

    // The fleet.
    let broker =
        griddispatch::config::BrokerUrl::parse(&running.mqtt_url).map_err(anyhow::Error::msg)?;
    let (host, port) = (broker.host().to_owned(), broker.port());
    anyhow::ensure!(
        host == "127.0.0.1",
        "the broker must be on loopback, is {host}"
    );
    let workers_asked = opts.workers.min(people.len());
    let fleet_file = dir.path().join("fleet.txt");
    let mut lines = String::new();
    for (p, pw) in people.iter().zip(&passwords).take(workers_asked) {
        lines.push_str(&format!("{} {} {} {}\n", p.id, pw, p.at.lat, p.at.lon));
    }
    std::fs::write(&fleet_file, lines)?;
    let max_secs = 120 + (opts.secs as u64 + 15) * opts.rates.len() as u64;
    let mut child = tokio::process::Command::new(std::env::current_exe()?)
        .args([
            "--fleet",
            &fleet_file.display().to_string(),
            "--mqtt",
            &format!("{host}:{port}"),
            "--max-secs",
            &max_secs.to_string(),
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let child_pid = child.id().unwrap_or(0);
    let child_stdin = child.stdin.take();
    let mut child_out = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let ready_line = tokio::time::timeout(Duration::from_secs(200), child_out.next_line())
        .await
        .map_err(|_| anyhow::anyhow!("the fleet never reported READY"))??
        .unwrap_or_default();
    let f: Vec<&str> = ready_line.split_whitespace().collect();
    anyhow::ensure!(f.first() == Some(&"READY"), "fleet said {ready_line:?}");
    let workers_connected: usize = f.get(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let connect_secs: f64 = f.get(3).and_then(|s| s.parse().ok()).unwrap_or(0.0);

    // Wait until the dispatcher has applied every fix (they queue behind each other).
    let located_by = Instant::now() + Duration::from_secs(60);
    let mut located = 0;
    while Instant::now() < located_by {
        located = metric(&metrics(&http, &base).await, "locations_total");
        if located >= workers_connected as u64 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    if located < workers_connected as u64 {
        notes.push(format!(
            "only {located} of {workers_connected} location fixes reached the dispatcher"
        ));
    }
    // Let the fixes' database writes (spawned, not awaited by the dispatcher) finish.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let open_at_start = open_by_state(&metrics(&http, &base).await);

    // Collect the fleet's receive times for all runs.
    let received: Received = Arc::new(Mutex::new(vec![Vec::new(); opts.rates.len()]));
    let collector = {
        let received = received.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = child_out.next_line().await {
                let mut it = line.split_whitespace();
                let (Some("T"), Some(desc), Some(t)) = (it.next(), it.next(), it.next()) else {
                    continue;
                };
                let Some((run, seq)) = desc
                    .strip_prefix("bench-")
                    .and_then(|d| d.split_once('-'))
                    .and_then(|(r, s)| Some((r.parse::<usize>().ok()?, s.parse::<usize>().ok()?)))
                else {
                    continue;
                };
                let Ok(t) = t.parse::<i64>() else { continue };
                let mut all = received.lock().expect("lock");
                if let Some(slot) = all.get_mut(run).and_then(|r| r.get_mut(seq)) {
                    // The first delivery counts; a repeat would come from a reconnect.
                    slot.get_or_insert(t);
                }
            }
        })
    };

    // The alert source, a real MQTT client of the broker.
    let mut mopts = MqttOptions::new("bench-source", host.clone(), port);
    mopts.set_credentials(src_user, src_pass);
    mopts.set_keep_alive(Duration::from_secs(60));
    mopts.set_inflight(1000);
    let (source, mut source_events) = AsyncClient::new(mopts, 20_000);
    let source_loop = tokio::spawn(async move {
        loop {
            if source_events.poll().await.is_err() {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    });

    let mut runs = Vec::new();
    let mut rng = StdRng::seed_from_u64(99);
    for (run, &rate) in opts.rates.iter().enumerate() {
        let n = (rate * opts.secs).round() as usize;
        received.lock().expect("lock")[run] = vec![None; n];
        let before = metrics(&http, &base).await;
        let (cpu_app0, cpu_fleet0) = (cpu_secs(std::process::id()), cpu_secs(child_pid));
        let mut sent_at = Vec::with_capacity(n);
        let mut send_lag_ms: f64 = 0.0;
        let start = tokio::time::Instant::now();
        for seq in 0..n {
            let due = start + Duration::from_secs_f64(seq as f64 / rate);
            tokio::time::sleep_until(due).await;
            send_lag_ms = send_lag_ms.max(due.elapsed().as_secs_f64() * 1000.0);
            let at = random_point(&mut rng);
            let alert = json!({"id": format!("a{run}-{seq}"), "kind": "medical", "severity": 2,
                "lat": at.lat, "lon": at.lon, "description": format!("bench-{run}-{seq}")});
            sent_at.push(unix_ns());
            source
                .publish("alerts/bench-src", opts.alert_qos, false, alert.to_string())
                .await?;
        }
        let send_secs = start.elapsed().as_secs_f64();
        // Wait for the stragglers: every task in, or none for STALL_NS. Past capacity the
        // backlog (held by the source, whose PUBACKs wait) drains at the dispatcher's pace
        // after the last alert is sent: a task that comes then is late, not lost.
        let mut seen = 0;
        let mut progress_at = tokio::time::Instant::now();
        loop {
            let now_in = received.lock().expect("lock")[run]
                .iter()
                .filter(|t| t.is_some())
                .count();
            if now_in == n {
                break;
            }
            if now_in > seen {
                seen = now_in;
                progress_at = tokio::time::Instant::now();
            } else if progress_at.elapsed() >= Duration::from_nanos(STALL_NS) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let (cpu_app, cpu_fleet) = (
            cpu_secs(std::process::id()) - cpu_app0,
            cpu_secs(child_pid) - cpu_fleet0,
        );
        // Let accepts and resolutions of the last tasks land before reading the counters
        // and before the next run, so each run starts with the whole fleet available.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let after = metrics(&http, &base).await;
        let delta = |k: &str| metric(&after, k).saturating_sub(metric(&before, k));
        let quantiles = |name: &str, scale: f64| {
            histogram_quantiles(&before, &after, name, &[0.5, 0.99])
                .map(|(q, n)| (q[0] * scale, q[1] * scale, n))
        };
        let got = received.lock().expect("lock")[run].clone();
        let last = got.iter().flatten().max().copied();
        let delivered = got.iter().flatten().count();
        let delivered_per_sec = match (sent_at.first(), last) {
            (Some(first), Some(last)) if last > *first => {
                delivered as f64 / ((last - first) as f64 / 1e9)
            }
            _ => 0.0,
        };
        let mut latencies = Vec::with_capacity(n);
        let (mut lost, mut late) = (0, 0);
        for (sent, got) in sent_at.iter().zip(&got) {
            match got {
                Some(t) if t - sent <= LOST_AFTER_NS => {
                    latencies.push((t - sent) as f64 / 1e6);
                }
                Some(_) => {
                    lost += 1;
                    late += 1;
                }
                None => lost += 1,
            }
        }
        runs.push(RunResult {
            rate,
            sent: n,
            send_secs,
            send_lag_ms,
            latency: summarize(latencies),
            delivered_per_sec,
            lost,
            late,
            escalations: delta("escalations_total"),
            dropped: delta("broker_messages_dropped_total"),
            dead_letters: delta("dead_letters_total"),
            server_alert_to_offer: quantiles("alert_to_offer_seconds", 1000.0),
            server_commit: quantiles("commit_duration_seconds", 1000.0),
            server_batch: quantiles("engine_batch_size", 1.0),
            cpu_app,
            cpu_fleet,
        });
    }

    let road_sample = if roads.is_some() {
        Some(road_sample(&http, &base, &token, 200).await)
    } else {
        None
    };
    source_loop.abort();
    drop(child_stdin);
    if tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .is_err()
    {
        child.kill().await?;
    }
    collector.abort();
    if tokio::time::timeout(Duration::from_secs(20), running.stop())
        .await
        .is_err()
    {
        notes.push("the app did not stop within 20 s".into());
    }
    if let Some(pg) = &opts.e2e_pg {
        drop_pg_database(pg).await;
    }
    Ok(E2eResult {
        responders: people.len(),
        create_store_secs,
        backlog,
        open_at_start,
        http_sample,
        http_ms_each,
        workers_asked,
        workers_connected,
        connect_secs,
        located,
        runs,
        notes,
        roads,
        road_sample,
    })
}

// ---- report ----------------------------------------------------------------------------------
