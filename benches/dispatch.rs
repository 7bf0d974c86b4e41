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
//!   they are candidates).
//! - `--search-only`, `--e2e-only`: run one half.
//! - `--alert-qos0`: publish alerts with QoS 0 instead of 1. A diagnostic: the dispatcher
//!   then sends no PUBACK for the alert, which shows whether its next write (the task) was
//!   held back by Nagle's algorithm waiting for that PUBACK's delayed TCP ACK.
//!
//! The worker phones run in a child process (this same binary, started with `--fleet`):
//! each TCP connection costs one descriptor on each side, and `ulimit -n` (20,000 here)
//! could not hold 10,000 client ends plus 10,000 broker ends in one process. Both processes
//! stamp times with the same system clock, so the latencies are comparable.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use geo::{LineString, MultiPolygon, Polygon};
use griddispatch::config::Settings;
use griddispatch::domain::ranking::{RankParams, RankRequest, Responder, ResponderIndex};
use griddispatch::domain::zones::{Zone, ZoneIndex};
use griddispatch::domain::{Ident, LatLon, ResponderKind, Role, TravelMode, ZoneKind};
use griddispatch::store::{NewResponder, Store, ZoneRow};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::{mpsc, Semaphore};

// ---- the county ------------------------------------------------------------------------

/// Centre of the simulated county.
const CENTRE: (f64, f64) = (39.50, 106.70);
/// Half the side of the 40 × 40 km square, in degrees of latitude (1° ≈ 111.2 km).
const HALF_LAT: f64 = 20.0 / 111.2;
/// The same in degrees of longitude at 39.5° N (1° ≈ 85.8 km).
const HALF_LON: f64 = 20.0 / 85.8;
/// Grid zones per side: 4 × 4 zones of 10 × 10 km.
const ZONES_PER_SIDE: usize = 4;

fn random_point(rng: &mut StdRng) -> LatLon {
    LatLon {
        lat: CENTRE.0 + rng.gen_range(-HALF_LAT..HALF_LAT),
        lon: CENTRE.1 + rng.gen_range(-HALF_LON..HALF_LON),
    }
}

/// (id, south-west corner, north-east corner) of each grid zone.
fn zone_cells() -> Vec<(String, LatLon, LatLon)> {
    let dlat = 2.0 * HALF_LAT / ZONES_PER_SIDE as f64;
    let dlon = 2.0 * HALF_LON / ZONES_PER_SIDE as f64;
    let mut cells = Vec::new();
    for row in 0..ZONES_PER_SIDE {
        for col in 0..ZONES_PER_SIDE {
            let sw = LatLon {
                lat: CENTRE.0 - HALF_LAT + row as f64 * dlat,
                lon: CENTRE.1 - HALF_LON + col as f64 * dlon,
            };
            let ne = LatLon {
                lat: sw.lat + dlat,
                lon: sw.lon + dlon,
            };
            cells.push((format!("grid-{row}{col}"), sw, ne));
        }
    }
    cells
}

/// The zone cell containing `p` (the cells tile the square, so this is plain arithmetic).
fn zone_of(p: LatLon) -> String {
    let dlat = 2.0 * HALF_LAT / ZONES_PER_SIDE as f64;
    let dlon = 2.0 * HALF_LON / ZONES_PER_SIDE as f64;
    let row = (((p.lat - (CENTRE.0 - HALF_LAT)) / dlat) as usize).min(ZONES_PER_SIDE - 1);
    let col = (((p.lon - (CENTRE.1 - HALF_LON)) / dlon) as usize).min(ZONES_PER_SIDE - 1);
    format!("grid-{row}{col}")
}

fn ring(sw: LatLon, ne: LatLon) -> Vec<[f64; 2]> {
    vec![
        [sw.lon, sw.lat],
        [ne.lon, sw.lat],
        [ne.lon, ne.lat],
        [sw.lon, ne.lat],
        [sw.lon, sw.lat],
    ]
}

/// One simulated responder: who it is and where it stands.
struct Person {
    id: String,
    kind: ResponderKind,
    travel: TravelMode,
    zone_id: Option<String>,
    at: LatLon,
}

/// A mixed force: grid workers on foot or bike (each in its own grid), patrol cars and
/// volunteers on foot, scattered uniformly over the county.
fn population(n: usize, seed: u64) -> Vec<Person> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n)
        .map(|i| {
            let at = random_point(&mut rng);
            let (kind, travel, zone_id) = match rng.gen_range(0..100) {
                0..=34 => (
                    ResponderKind::GridWorker,
                    TravelMode::Foot,
                    Some(zone_of(at)),
                ),
                35..=59 => (
                    ResponderKind::GridWorker,
                    TravelMode::Bike,
                    Some(zone_of(at)),
                ),
                60..=84 => (ResponderKind::Patrol, TravelMode::Car, None),
                _ => (ResponderKind::Volunteer, TravelMode::Foot, None),
            };
            Person {
                id: format!("w{i:05}"),
                kind,
                travel,
                zone_id,
                at,
            }
        })
        .collect()
}

// ---- statistics ----------------------------------------------------------------------------

/// Mean and nearest-rank percentiles of a sample.
struct Summary {
    n: usize,
    mean: f64,
    p50: f64,
    p99: f64,
    max: f64,
}

fn summarize(mut xs: Vec<f64>) -> Option<Summary> {
    if xs.is_empty() {
        return None;
    }
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    let rank = |p: f64| xs[((p * n as f64).ceil() as usize).clamp(1, n) - 1];
    Some(Summary {
        n,
        mean: xs.iter().sum::<f64>() / n as f64,
        p50: rank(0.50),
        p99: rank(0.99),
        max: xs[n - 1],
    })
}

fn unix_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64)
}

// ---- 1. candidate search -------------------------------------------------------------------

struct SearchResult {
    responders: usize,
    stats: Summary,
}

fn bench_search(sizes: &[usize], queries: usize, settings: &Settings) -> Vec<SearchResult> {
    let zones = ZoneIndex::new(
        zone_cells()
            .into_iter()
            .map(|(id, sw, ne)| Zone {
                id: Ident::parse(&id).unwrap(),
                name: id.clone(),
                kind: ZoneKind::Grid,
                shape: MultiPolygon(vec![Polygon::new(
                    LineString::from(
                        ring(sw, ne)
                            .into_iter()
                            .map(|[x, y]| (x, y))
                            .collect::<Vec<_>>(),
                    ),
                    vec![],
                )]),
            })
            .collect(),
    );
    let d = &settings.dispatch;
    let now_ms = 1_800_000_000_000;
    let params = RankParams {
        detour_factor: d.detour_factor,
        zone_preference_secs: d.zone_preference_secs,
        speed_mps: [
            d.speed_kmh.metres_per_sec(TravelMode::Foot),
            d.speed_kmh.metres_per_sec(TravelMode::Bike),
            d.speed_kmh.metres_per_sec(TravelMode::Car),
        ],
        location_max_age_ms: d.location_max_age_secs as i64 * 1000,
        now_ms,
    };
    // An incident kind every responder kind may take, as most alerts are.
    let allowed = settings.dispatch.allowed_for("medical");
    let none = HashSet::new();
    let mut results = Vec::new();
    for &n in sizes {
        let mut rng = StdRng::seed_from_u64(n as u64);
        let mut index = ResponderIndex::new(CENTRE.0);
        for p in population(n, 42) {
            index.upsert(Responder {
                id: Ident::parse(&p.id).unwrap(),
                kind: p.kind,
                travel: p.travel,
                zone_id: p.zone_id.map(|z| Ident::parse(&z).unwrap()),
                on_duty: true,
                position: Some(p.at),
                fix_at_ms: Some(now_ms - rng.gen_range(0..120_000)),
                busy: rng.gen_bool(0.2),
            });
        }
        let targets: Vec<LatLon> = (0..queries).map(|_| random_point(&mut rng)).collect();
        let request = |target| RankRequest {
            target,
            incident: target,
            allowed,
            exclude: &none,
            limit: 2,
        };
        // Warm the caches and the branch predictor so the first queries do not skew p99.
        for t in targets.iter().take(1000) {
            black_box(index.rank(&request(*t), &zones, &params));
        }
        let mut times = Vec::with_capacity(queries);
        for t in &targets {
            let start = Instant::now();
            let found = index.rank(&request(*t), &zones, &params);
            let took = start.elapsed();
            assert!(!found.is_empty(), "no candidate found at {t:?}");
            black_box(found);
            times.push(took.as_secs_f64() * 1e6);
        }
        results.push(SearchResult {
            responders: n,
            stats: summarize(times).expect("queries"),
        });
    }
    results
}

// ---- 2. alert → task, the worker fleet (child process) ---------------------------------

/// Child process: connects one MQTT client per line of `file` (`rid password lat lon`),
/// publishes each worker's OwnTracks fix, then answers every offer with `accepted` and
/// `resolved`. Writes to stdout: `READY <connected> <failed> <secs>` once, then
/// `T <alert description> <unix ns>` per offer received. Exits when stdin closes, or after
/// `max_secs` whatever happens, so a lost parent cannot leave it running.
async fn fleet(file: String, host: String, port: u16, max_secs: u64) {
    let text = std::fs::read_to_string(&file).expect("fleet file");
    let workers: Vec<(String, String, f64, f64)> = text
        .lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            Some((
                it.next()?.to_owned(),
                it.next()?.to_owned(),
                it.next()?.parse().ok()?,
                it.next()?.parse().ok()?,
            ))
        })
        .collect();
    let total = workers.len();
    let (out_tx, mut out_rx) = mpsc::unbounded_channel::<String>();
    let writer = tokio::spawn(async move {
        let mut stdout = tokio::io::stdout();
        while let Some(line) = out_rx.recv().await {
            let mut buf = line;
            // Batch what is already queued into one write, so 1,000 lines/s stay cheap.
            while let Ok(more) = out_rx.try_recv() {
                buf.push_str(&more);
            }
            if stdout.write_all(buf.as_bytes()).await.is_err() {
                break;
            }
            let _ = stdout.flush().await;
        }
    });

    let ready = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    // Bounded concurrent CONNECTs: a burst of 10,000 SYNs would overflow the listen backlog
    // and the broker's login checks would queue past its CONNECT timeout.
    let connecting = Arc::new(Semaphore::new(200));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(total);
    for (rid, password, lat, lon) in workers {
        let permit = connecting.clone().acquire_owned().await.expect("semaphore");
        let (ready, failed, out) = (ready.clone(), failed.clone(), out_tx.clone());
        let host = host.clone();
        tasks.push(tokio::spawn(async move {
            let mut opts = MqttOptions::new(format!("phone-{rid}"), host, port);
            opts.set_keep_alive(Duration::from_secs(120));
            opts.set_credentials(rid.clone(), password);
            opts.set_clean_session(true);
            let (client, mut events) = AsyncClient::new(opts, 64);
            let inbox = format!("dispatch/{rid}/tasks/");
            client
                .try_subscribe(format!("{inbox}#"), QoS::AtLeastOnce)
                .expect("queue subscribe");
            let mut permit = Some(permit);
            let mut errors = 0u32;
            loop {
                match events.poll().await {
                    Ok(Event::Incoming(Packet::SubAck(_))) => {
                        let fix = json!({"_type":"location","lat":lat,"lon":lon,
                            "tst":unix_ns() / 1_000_000_000,"acc":8,"batt":80,"tid":"bn"});
                        let _ = client.try_publish(
                            format!("owntracks/{rid}/phone"),
                            QoS::AtLeastOnce,
                            false,
                            fix.to_string(),
                        );
                        if permit.take().is_some() {
                            ready.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        let got = unix_ns();
                        // Update answers and our own task's later versions share the
                        // inbox; only a fresh offer starts the measurement.
                        if p.payload.is_empty() || p.topic.contains("/update") {
                            continue;
                        }
                        let Ok(task) = serde_json::from_slice::<Value>(&p.payload) else {
                            continue;
                        };
                        if task["status"] != "offered" {
                            continue;
                        }
                        let desc = task["description"].as_str().unwrap_or("-");
                        let _ = out.send(format!("T {desc} {got}\n"));
                        let v = task["version"].as_i64().unwrap_or(1);
                        let topic = format!("{}/update", p.topic);
                        // Both at once: the dispatcher handles one client's updates in
                        // order, so `resolved` always follows `accepted`.
                        for (status, version) in [("accepted", v), ("resolved", v + 1)] {
                            let _ = client.try_publish(
                                topic.clone(),
                                QoS::AtLeastOnce,
                                false,
                                json!({"status": status, "version": version}).to_string(),
                            );
                        }
                    }
                    Ok(_) => {}
                    Err(rumqttc::ConnectionError::ConnectionRefused(code)) => {
                        eprintln!("fleet: {rid} refused: {code:?}");
                        failed.fetch_add(1, Ordering::Relaxed);
                        return;
                    }
                    Err(e) => {
                        errors += 1;
                        if errors == 1 {
                            eprintln!("fleet: {rid}: {e}; reconnecting");
                        }
                        if permit.is_some() && errors >= 5 {
                            failed.fetch_add(1, Ordering::Relaxed);
                            return;
                        }
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                }
            }
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(180);
    while ready.load(Ordering::Relaxed) + failed.load(Ordering::Relaxed) < total
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = out_tx.send(format!(
        "READY {} {} {:.2}\n",
        ready.load(Ordering::Relaxed),
        total - ready.load(Ordering::Relaxed),
        started.elapsed().as_secs_f64()
    ));
    // Run until the parent closes our stdin (or dies), bounded in any case.
    let mut stdin = BufReader::new(tokio::io::stdin()).lines();
    let _ = tokio::time::timeout(Duration::from_secs(max_secs), async {
        while let Ok(Some(_)) = stdin.next_line().await {}
    })
    .await;
    for t in tasks {
        t.abort();
    }
    drop(out_tx);
    let _ = tokio::time::timeout(Duration::from_secs(2), writer).await;
}

// ---- 2. alert → task, the parent side ------------------------------------------------------

struct Options {
    quick: bool,
    rates: Vec<f64>,
    secs: f64,
    responders: usize,
    workers: usize,
    search: bool,
    e2e: bool,
    /// `/proc/loadavg` before anything ran.
    load_at_start: String,
    /// QoS of the alerts; 0 is a diagnostic (see the module docs).
    alert_qos: QoS,
}

/// What one rate run measured.
struct RunResult {
    rate: f64,
    sent: usize,
    send_secs: f64,
    /// Worst lag of a publish behind its schedule, ms.
    send_lag_ms: f64,
    latency: Option<Summary>,
    /// Tasks delivered per second: all that arrived ÷ (last arrival − first alert).
    delivered_per_sec: f64,
    /// No task within 5 s (counting late ones).
    lost: usize,
    /// Of those, tasks that did arrive, later than 5 s.
    late: usize,
    /// Counter deltas from /metrics over the run.
    escalations: u64,
    dropped: u64,
    dead_letters: u64,
    /// CPU seconds used during the run by the app process and by the fleet process.
    cpu_app: f64,
    cpu_fleet: f64,
}

struct E2eResult {
    responders: usize,
    create_store_secs: f64,
    http_sample: usize,
    http_ms_each: f64,
    workers_asked: usize,
    workers_connected: usize,
    connect_secs: f64,
    located: u64,
    runs: Vec<RunResult>,
    notes: Vec<String>,
}

/// A task later than this after its alert counts as late (and lost for the latency target).
const LOST_AFTER_NS: i64 = 5_000_000_000;

/// A run ends when no task has arrived for this long; what never came is lost.
const STALL_NS: u64 = 10_000_000_000;

/// Receive time of each alert of each run, filled from the fleet's `T` lines.
type Received = Arc<Mutex<Vec<Vec<Option<i64>>>>>;

async fn metrics(http: &reqwest::Client, base: &str) -> std::collections::HashMap<String, u64> {
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

fn metric(m: &std::collections::HashMap<String, u64>, name: &str) -> u64 {
    m.get(&format!("griddispatch_{name}")).copied().unwrap_or(0)
}

/// utime + stime of a process, seconds (clock ticks are 100 Hz on Linux).
fn cpu_secs(pid: u32) -> f64 {
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

async fn bench_e2e(opts: &Options) -> anyhow::Result<E2eResult> {
    let dir = tempfile::tempdir()?;
    let db_url = format!("sqlite://{}/bench.db", dir.path().display());
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
    let mut passwords = Vec::with_capacity(people.len());
    for p in &people {
        let creds = store
            .create_responder(&NewResponder {
                id: p.id.clone(),
                name: p.id.clone(),
                kind: p.kind,
                travel: p.travel,
                zone_id: p.zone_id.clone(),
                skills: "[]".into(),
                on_duty: true,
                station_id: None,
            })
            .await?;
        passwords.push(creds.password);
    }
    let create_store_secs = started.elapsed().as_secs_f64();
    store.close().await;

    let settings = Settings::load_with_env(
        None,
        [
            ("GRIDDISPATCH__HTTP__LISTEN", "127.0.0.1:0".to_owned()),
            ("GRIDDISPATCH__MQTT__LISTEN", "127.0.0.1:0".to_owned()),
            ("GRIDDISPATCH__DATABASE__URL", db_url.clone()),
            // Every alert must open its own incident, or alerts would merge and get no task.
            ("GRIDDISPATCH__CORRELATION__RADIUS_M", "0".to_owned()),
            // One source login offers every alert: its rate is what is being measured.
            (
                "GRIDDISPATCH__MQTT__LIMITS__MAX_MESSAGES_PER_SEC",
                "0".to_owned(),
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
            cpu_app,
            cpu_fleet,
        });
    }

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
    Ok(E2eResult {
        responders: people.len(),
        create_store_secs,
        http_sample,
        http_ms_each,
        workers_asked,
        workers_connected,
        connect_secs,
        located,
        runs,
        notes,
    })
}

// ---- report ----------------------------------------------------------------------------------

/// The 1, 5 and 15 minute load averages: other work on the machine skews the numbers.
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn machine() -> (usize, String, String) {
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

fn verdict(ok: bool) -> &'static str {
    if ok {
        "**pass**"
    } else {
        "**miss**"
    }
}

/// The candidate-search target applies at 100,000 responders.
const SEARCH_TARGET_US: f64 = 50.0;
/// The latency target applies at 1,000 alerts/s.
const LATENCY_TARGET_MS: f64 = 10.0;

fn report(opts: &Options, search: &[SearchResult], e2e: Option<&anyhow::Result<E2eResult>>) {
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
        println!("| Responders | Queries | Mean µs | p50 µs | p99 µs | Max µs | Target |");
        println!("|---:|---:|---:|---:|---:|---:|---|");
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
                "| {} | {} | {:.2} | {:.2} | {:.2} | {:.1} | {target} |",
                r.responders, s.n, s.mean, s.p50, s.p99, s.max
            );
        }
    }
    match e2e {
        None => {}
        Some(Err(e)) => {
            println!();
            println!("### 2. Alert → task received by the worker's MQTT client");
            println!();
            println!("**The end-to-end run failed:** {e:#}");
        }
        Some(Ok(e)) => {
            println!();
            println!("### 2. Alert → task received by the worker's MQTT client");
            println!();
            println!("Real app in-process (embedded broker, SQLite WAL file in a temp dir); alerts published over MQTT on `alerts/<source>` at a steady rate, severity 2 (one offer each), correlation radius 0; each worker answers `accepted` then `resolved` at once. Latency = task received by the worker's client − alert handed to the source's client. Lost = no task within 5 s.");
            println!();
            println!("| Set-up | |");
            println!("|---|---|");
            println!(
                "| Responders (created through the store before start) | {} in {:.1} s ({:.2} ms each) |",
                e.responders,
                e.create_store_secs,
                e.create_store_secs * 1000.0 / e.responders.max(1) as f64
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
            for n in &e.notes {
                println!();
                println!("Note: {n}");
            }
        }
    }
}

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
        runtime.block_on(fleet(file, host.to_owned(), port.parse()?, max_secs));
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
    };
    anyhow::ensure!(
        opts.rates.iter().all(|r| *r > 0.0) && opts.secs > 0.0,
        "rates and --secs must be positive"
    );

    let settings = Settings::load_with_env(None, Vec::new())?;
    let search = if opts.search {
        let (sizes, queries): (&[usize], usize) = if quick {
            (&[1_000, 10_000], 2_000)
        } else {
            (&[1_000, 10_000, 100_000], 20_000)
        };
        eprintln!("candidate search: {sizes:?} responders, {queries} queries each");
        bench_search(sizes, queries, &settings)
    } else {
        Vec::new()
    };
    let e2e = if opts.e2e {
        eprintln!(
            "alert → task: {} responders, {} workers, {:?} alerts/s for {} s each",
            opts.responders, opts.workers, opts.rates, opts.secs
        );
        // Bounded: set-up, each run and its drain all have their own time limits; this is
        // the backstop.
        let limit = Duration::from_secs(600 + (opts.secs as u64 + 20) * opts.rates.len() as u64);
        Some(runtime.block_on(async {
            tokio::time::timeout(limit, bench_e2e(&opts))
                .await
                .unwrap_or_else(|_| Err(anyhow::anyhow!("gave up after {limit:?}")))
        }))
    } else {
        None
    };
    report(&opts, &search, e2e.as_ref());
    runtime.shutdown_timeout(Duration::from_secs(5));
    Ok(())
}
