//! Chaos: replicas (real `griddispatch serve` processes) on one PostgreSQL database and a
//! private Mosquitto, alerts from several sources at a steady rate, workers that accept
//! and resolve what they are offered; meanwhile the leading replica is killed (SIGKILL)
//! and restarted, and the broker is restarted once. Then the accounting:
//!
//! - every alert sent is in the database exactly once, joined to an incident;
//! - no responder ever held two live offers or tasks at the same time;
//! - every task offered to a worker reached that worker's client;
//! - no incident is left in `dispatching` with no live offer;
//! - every message a decision owed was acknowledged by the broker (the outbox drained).
//!
//! Small by default, so CI runs it; `scripts/chaos` runs it at full size. Sizes come from
//! `CHAOS_ALERTS`, `CHAOS_RATE` (alerts/s), `CHAOS_REPLICAS`, `CHAOS_WORKERS`, and
//! `CHAOS_FAULTS=0` turns the kill and the broker restart off (for throughput runs).
//! With `CHAOS_KEEP` set, a run that loses an alert keeps its folder (the replicas' logs,
//! Mosquitto's log and persistence file) and prints where it is.

use crate::common;
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use serde_json::{json, Value};

const MOSQUITTO: &str = "/usr/sbin/mosquitto";
const SOURCES: usize = 3;
const ACK_TIMEOUT_SECS: u64 = 5;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Skips loudly (fails under CI) without PostgreSQL or the Mosquitto binary.
fn services_or_skip() -> bool {
    let missing = if std::net::TcpStream::connect("127.0.0.1:5432").is_err() {
        Some("PostgreSQL does not listen on 127.0.0.1:5432")
    } else if !Path::new(MOSQUITTO).exists() {
        Some("no Mosquitto binary at /usr/sbin/mosquitto (Debian package mosquitto)")
    } else {
        None
    };
    if let Some(why) = missing {
        eprintln!("\n*** SKIPPED chaos test: {why} ***\n");
        assert!(std::env::var_os("CI").is_none(), "{why}; required in CI");
        return false;
    }
    true
}

/// A private Mosquitto that keeps sessions and queued messages on disk, so it can be
/// restarted the way a production broker is.
struct Broker {
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
}

impl Broker {
    fn start(port: u16, dir: &Path) -> Broker {
        let conf = dir.join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!(
                "listener {port} 127.0.0.1\nallow_anonymous true\npersistence true\n\
                 persistence_location {}/\nmax_queued_messages 1000000\n\
                 max_inflight_messages 100\nuser root\nlog_dest file {}/mosquitto.log\n{}",
                dir.display(),
                dir.display(),
                // A kept run's log shows every packet.
                if std::env::var_os("CHAOS_KEEP").is_some() {
                    "log_type all\n"
                } else {
                    ""
                }
            ),
        )
        .unwrap();
        let child = Command::new(MOSQUITTO)
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "mosquitto did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Broker {
            child: Some(child),
            port,
            dir: dir.to_owned(),
        }
    }

    /// A clean stop (SIGTERM: Mosquitto writes its persistence file), then a start.
    fn restart(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status();
            let _ = c.wait();
        }
        *self = Broker::start(self.port, &self.dir.clone());
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// One `griddispatch serve` process.
struct Replica {
    child: Option<Child>,
    id: String,
    port: u16,
    env: Vec<(String, String)>,
    dir: PathBuf,
}

impl Replica {
    fn spawn(id: &str, env: &[(String, String)], dir: &Path) -> Replica {
        let mut r = Replica {
            child: None,
            id: id.to_owned(),
            port: common::free_port(),
            env: env.to_vec(),
            dir: dir.join(id),
        };
        std::fs::create_dir_all(&r.dir).unwrap();
        r.start();
        r
    }

    fn start(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("serve.log"))
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_griddispatch"))
            .arg("serve")
            .current_dir(&self.dir)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env(
                "GRIDDISPATCH__HTTP__LISTEN",
                format!("127.0.0.1:{}", self.port),
            )
            .env("GRIDDISPATCH__CLUSTER__REPLICA_ID", &self.id)
            .env(
                "RUST_LOG",
                if std::env::var_os("CHAOS_KEEP").is_some() {
                    "warn,griddispatch=info,griddispatch::mqtt=trace,griddispatch::dispatch::engine=trace"
                } else {
                    "warn,griddispatch=info"
                },
            )
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
    }

    /// SIGKILL: no shutdown, no goodbye to the broker or the database.
    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.kill();
    }
}

async fn ready(http: &reqwest::Client, r: &Replica) -> Option<Value> {
    let resp = http.get(format!("{}/readyz", r.base())).send().await.ok()?;
    if !resp.status().is_success() {
        return None;
    }
    resp.json().await.ok()
}

/// The index of the replica that leads, once one does and the others follow it.
async fn leader(http: &reqwest::Client, replicas: &[Replica], within: Duration) -> usize {
    let deadline = Instant::now() + within;
    loop {
        let mut lead = None;
        let mut ready_all = true;
        for (i, r) in replicas.iter().enumerate() {
            match ready(http, r).await {
                Some(v) if v["role"] == "leader" => lead = Some(i),
                Some(_) => {}
                None => ready_all = false,
            }
        }
        if let (Some(i), true) = (lead, ready_all) {
            return i;
        }
        assert!(
            Instant::now() < deadline,
            "no replica led within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn api(http: &reqwest::Client, base: &str, token: &str, path: &str, body: Value) -> Value {
    // A request can meet an election in progress (503): it is simply repeated.
    for _ in 0..100 {
        let r = http
            .post(format!("{base}{path}"))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let v: Value = r.json().await.unwrap_or(Value::Null);
        if status == 503 {
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        }
        assert!(status < 300, "{path}: {status} {v}");
        return v;
    }
    panic!("{path}: no leader");
}

/// An MQTT client with a kept session (it survives the broker restart), feeding `tx`.
fn mqtt(
    port: u16,
    client_id: &str,
) -> (
    AsyncClient,
    tokio::sync::mpsc::UnboundedReceiver<(String, Vec<u8>)>,
) {
    let mut opts = MqttOptions::new(client_id, "127.0.0.1", port);
    opts.set_keep_alive(Duration::from_secs(10));
    opts.set_clean_session(false);
    opts.set_inflight(200);
    let (client, mut el) = AsyncClient::new(opts, 10_000);
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            match el.poll().await {
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    let _ = tx.send((p.topic, p.payload.to_vec()));
                }
                Ok(_) => {}
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
    });
    (client, rx)
}

/// A worker's phone: takes every offer, resolves it shortly after; records every task id
/// that reached it.
fn worker(port: u16, rid: String, lat: f64, lon: f64, seen: Arc<Mutex<HashSet<String>>>) {
    let (client, mut rx) = mqtt(port, &format!("phone-{rid}"));
    tokio::spawn(async move {
        client
            .subscribe(format!("dispatch/{rid}/tasks/+"), QoS::AtLeastOnce)
            .await
            .unwrap();
        let fix = |tst: i64| {
            json!({"_type":"location","lat":lat,"lon":lon,"tst":tst,"acc":5}).to_string()
        };
        let mut last_fix = Instant::now() - Duration::from_secs(3600);
        let mut answered: HashSet<String> = HashSet::new();
        loop {
            if last_fix.elapsed() > Duration::from_secs(20) {
                let _ = client
                    .publish(
                        format!("owntracks/{rid}/phone"),
                        QoS::AtLeastOnce,
                        false,
                        fix(chrono::Utc::now().timestamp()),
                    )
                    .await;
                last_fix = Instant::now();
            }
            let Ok(Some((topic, payload))) =
                tokio::time::timeout(Duration::from_secs(1), rx.recv()).await
            else {
                continue;
            };
            if payload.is_empty() {
                continue;
            }
            let Ok(task) = serde_json::from_slice::<Value>(&payload) else {
                continue;
            };
            let Some(tid) = task["task_id"].as_str().map(str::to_owned) else {
                continue;
            };
            seen.lock().unwrap().insert(tid.clone());
            let status = task["status"].as_str().unwrap_or("");
            let version = task["version"].as_i64().unwrap_or(0);
            let next = match status {
                "offered" => "accepted",
                "accepted" => "resolved",
                _ => continue,
            };
            // Each answer once, even when the task message comes again (a broker restart).
            if !answered.insert(format!("{tid}:{next}")) {
                continue;
            }
            let update = json!({"status": next, "version": version, "note": "chaos"}).to_string();
            let client = client.clone();
            let topic = format!("{topic}/update");
            tokio::spawn(async move {
                if next == "resolved" {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                }
                let _ = client.publish(topic, QoS::AtLeastOnce, false, update).await;
            });
        }
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replicas_lose_nothing_through_a_kill_and_a_broker_restart() {
    if !services_or_skip() {
        return;
    }
    let alerts: usize = env_or("CHAOS_ALERTS", 300);
    let rate: f64 = env_or("CHAOS_RATE", 60.0);
    let replicas_n: usize = env_or("CHAOS_REPLICAS", 3);
    let workers_n: usize = env_or("CHAOS_WORKERS", 40);
    let faults = env_or("CHAOS_FAULTS", 1) != 0;
    let run = common::unique();
    let dir = tempfile::tempdir().unwrap();
    let db = common::pg_db_url(dir.path());
    let mut broker = Broker::start(common::free_port(), dir.path());
    let env: Vec<(String, String)> = [
        ("GRIDDISPATCH__DATABASE__URL", db.clone()),
        ("GRIDDISPATCH__MQTT__LISTEN", String::new()),
        (
            "GRIDDISPATCH__MQTT__URL",
            format!("mqtt://127.0.0.1:{}", broker.port),
        ),
        ("GRIDDISPATCH__MQTT__CLIENT_ID", format!("gd-chaos-{run}")),
        ("GRIDDISPATCH__MQTT__PERSISTENT_SESSION", "true".into()),
        ("GRIDDISPATCH__CLUSTER__ENABLED", "true".into()),
        (
            "GRIDDISPATCH__DISPATCH__ACK_TIMEOUT_SECS",
            ACK_TIMEOUT_SECS.to_string(),
        ),
        ("GRIDDISPATCH__VIDEO__PROBE_INTERVAL_SECS", "0".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let mut replicas: Vec<Replica> = (0..replicas_n)
        .map(|i| Replica::spawn(&format!("r{i}"), &env, dir.path()))
        .collect();
    let http = reqwest::Client::new();
    leader(&http, &replicas, Duration::from_secs(60)).await;
    let token = String::from_utf8(
        Command::new(env!("CARGO_BIN_EXE_griddispatch"))
            .args(["token", "create", "--role", "admin", "--name", "chaos"])
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .current_dir(dir.path())
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap()
    .trim()
    .to_owned();

    // A 4 km square county with one grid, workers spread over it, three sources.
    let base = replicas[replicas.len() - 1].base(); // a follower, most likely
    let (lat0, lon0) = (39.47, 106.67);
    let ring = json!([
        [lon0, lat0],
        [lon0 + 0.05, lat0],
        [lon0 + 0.05, lat0 + 0.04],
        [lon0, lat0 + 0.04],
        [lon0, lat0]
    ]);
    api(&http, &base, &token, "/api/v1/zones", json!({"type":"Feature","geometry":{"type":"Polygon","coordinates":[ring]},"properties":{"id":"g1","name":"g1","kind":"grid"}})).await;
    let seen = Arc::new(Mutex::new(HashSet::new()));
    let mut workers = Vec::new();
    for i in 0..workers_n {
        let rid = format!("w{i:03}");
        api(&http, &base, &token, "/api/v1/responders", json!({"id": rid, "name": rid, "kind": "grid_worker", "travel": "bike", "zone_id": "g1"})).await;
        let lat = lat0 + 0.04 * ((i * 7) % workers_n) as f64 / workers_n as f64;
        let lon = lon0 + 0.05 * (i as f64 / workers_n as f64);
        worker(broker.port, rid.clone(), lat, lon, seen.clone());
        workers.push(rid);
    }
    let mut sources = Vec::new();
    for s in 0..SOURCES {
        let id = format!("chaos{s}");
        api(
            &http,
            &base,
            &token,
            "/api/v1/sources",
            json!({"id": id, "name": id}),
        )
        .await;
        let (client, _rx) = mqtt(broker.port, &format!("src-{id}-{run}"));
        sources.push((id, client, _rx));
    }
    // Every worker's first fix is stored before alerts start.
    let pool = sqlx::PgPool::connect(&db).await.unwrap();
    common::wait_up_to(
        Duration::from_secs(30),
        "every worker's first fix",
        || async {
            let n: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM responders WHERE fix_at IS NOT NULL")
                    .fetch_one(&pool)
                    .await
                    .unwrap();
            (n as usize == workers_n).then(|| json!(n))
        },
    )
    .await;

    // Alerts at a steady rate, round-robin over the sources; faults at 1/3 and 2/3.
    let started = Instant::now();
    let gap = Duration::from_secs_f64(1.0 / rate);
    let mut sent: Vec<(String, String)> = Vec::new();
    let mut killed = false;
    let mut restarted_broker = false;
    for n in 0..alerts {
        let due = started + gap * n as u32;
        tokio::time::sleep_until(due.into()).await;
        let (sid, client, _) = &sources[n % SOURCES];
        let id = format!("a{n}");
        let lat = lat0 + 0.04 * ((n * 37) % 1000) as f64 / 1000.0;
        let lon = lon0 + 0.05 * ((n * 61) % 1000) as f64 / 1000.0;
        let body =
            json!({"id": id, "kind": "medical", "severity": 2 + (n % 3), "lat": lat, "lon": lon});
        client
            .publish(
                format!("alerts/{sid}"),
                QoS::AtLeastOnce,
                false,
                body.to_string(),
            )
            .await
            .unwrap();
        sent.push((sid.clone(), id));
        if faults && !killed && n >= alerts / 3 {
            let lead = leader(&http, &replicas, Duration::from_secs(30)).await;
            eprintln!(
                "chaos: kill -9 {} (the leader) after {n} alerts",
                replicas[lead].id
            );
            let killed_at = Instant::now();
            replicas[lead].kill();
            // How long until a replica (the restarted one included: it may win the next
            // election) leads and takes engine requests, watched beside the steady alerts.
            let bases: Vec<String> = replicas.iter().map(|r| r.base()).collect();
            let watch = http.clone();
            tokio::spawn(async move {
                loop {
                    for base in &bases {
                        let Ok(r) = watch.get(format!("{base}/readyz")).send().await else {
                            continue;
                        };
                        let v: Value = r.json().await.unwrap_or(Value::Null);
                        if v["role"] == "leader" {
                            eprintln!(
                                "chaos: {base} leads {:.2} s after the kill",
                                killed_at.elapsed().as_secs_f64()
                            );
                            return;
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            });
            tokio::time::sleep(Duration::from_millis(500)).await;
            replicas[lead].start();
            killed = true;
        }
        if faults && !restarted_broker && n >= 2 * alerts / 3 {
            eprintln!("chaos: restarting the broker after {n} alerts");
            broker.restart();
            restarted_broker = true;
        }
    }
    let send_secs = started.elapsed().as_secs_f64();

    // Accounting 1: every alert stored, once, with its incident.
    let wanted: HashSet<(String, String)> = sent.iter().cloned().collect();
    let deadline = Instant::now() + Duration::from_secs(120);
    let stored: Vec<(String, String, String)> = loop {
        let rows: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT a.source_id, a.external_id, i.id FROM alerts a JOIN incidents i ON i.id = a.incident_id \
             WHERE a.source_id LIKE 'chaos%'",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        if rows.len() >= wanted.len() || Instant::now() > deadline {
            break rows;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let all_stored_secs = started.elapsed().as_secs_f64();
    let mut count: BTreeMap<(String, String), usize> = BTreeMap::new();
    for (s, e, _) in &stored {
        *count.entry((s.clone(), e.clone())).or_default() += 1;
    }
    let missing: Vec<_> = wanted.iter().filter(|k| !count.contains_key(*k)).collect();
    let twice: Vec<_> = count.iter().filter(|(_, n)| **n > 1).collect();
    let unknown: Vec<_> = count.keys().filter(|k| !wanted.contains(*k)).collect();

    // Let offers run their course: every live offer expires or is answered within the ack
    // timeout, and workers resolve what they accept.
    let settle = Instant::now() + Duration::from_secs(ACK_TIMEOUT_SECS * 4 + 20);
    let stuck: Vec<String> = loop {
        let now = chrono::Utc::now().timestamp_millis();
        let stuck: Vec<String> = sqlx::query_scalar(
            "SELECT i.id FROM incidents i WHERE i.state = 'dispatching' AND NOT EXISTS \
             (SELECT 1 FROM tasks t WHERE t.incident_id = i.id AND t.status = 'offered' AND t.respond_by > $1)",
        )
        .bind(now - 3000)
        .fetch_all(&pool)
        .await
        .unwrap();
        let live: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM tasks WHERE status IN ('offered','accepted')")
                .fetch_one(&pool)
                .await
                .unwrap();
        if (stuck.is_empty() && live == 0) || Instant::now() > settle {
            break stuck;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };

    // Accounting 2: nobody held two live offers or tasks at once.
    let doubles: Vec<(String, String, String)> = sqlx::query_as(
        "WITH t AS (SELECT id, responder_id, offered_at, \
           CASE WHEN status IN ('offered','accepted','en_route','on_scene') THEN 9223372036854775807 ELSE updated_at END AS ended \
           FROM tasks) \
         SELECT a.responder_id, a.id, b.id FROM t a JOIN t b ON a.responder_id = b.responder_id AND a.id < b.id \
         WHERE a.offered_at < b.ended AND b.offered_at < a.ended",
    )
    .fetch_all(&pool)
    .await
    .unwrap();

    // Accounting 3: every task offered to a worker reached its phone.
    let tasks: Vec<(String, String)> = sqlx::query_as("SELECT id, responder_id FROM tasks")
        .fetch_all(&pool)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await; // the last deliveries
    let seen = seen.lock().unwrap().clone();
    let undelivered: Vec<_> = tasks.iter().filter(|(id, _)| !seen.contains(id)).collect();

    // Accounting 4: every message a decision owed was acknowledged by the broker.
    let owed_left = common::wait_up_to(Duration::from_secs(20), "the outbox drained", || async {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox")
            .fetch_one(&pool)
            .await
            .unwrap();
        (n == 0).then(|| json!(n))
    })
    .await;
    let incidents: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM incidents")
        .fetch_one(&pool)
        .await
        .unwrap();
    let states: Vec<(String, i64)> =
        sqlx::query_as("SELECT state, COUNT(*) FROM incidents GROUP BY state ORDER BY state")
            .fetch_all(&pool)
            .await
            .unwrap();
    println!(
        "\nCHAOS RESULT replicas={replicas_n} workers={workers_n} alerts={alerts} rate={rate}/s faults={faults}\n\
         sent in {send_secs:.1} s; all stored after {all_stored_secs:.1} s ({:.0} alerts/s end to end)\n\
         alerts stored {} (missing {}, twice {}, unknown {}); incidents {incidents} {states:?}\n\
         tasks {} (undelivered {}); double assignments {}; stuck in dispatching {}; outbox left {owed_left}\n",
        alerts as f64 / all_stored_secs,
        stored.len(),
        missing.len(),
        twice.len(),
        unknown.len(),
        tasks.len(),
        undelivered.len(),
        doubles.len(),
        stuck.len(),
    );
    if std::env::var_os("CHAOS_KEEP").is_some() && !missing.is_empty() {
        eprintln!("CHAOS KEPT {}", dir.path().display());
        std::mem::forget(dir);
        panic!("missing {missing:?}");
    }
    assert!(
        missing.is_empty(),
        "alerts never stored: {:?}",
        &missing[..missing.len().min(20)]
    );
    assert!(
        twice.is_empty() && unknown.is_empty(),
        "{twice:?} {unknown:?}"
    );
    assert!(doubles.is_empty(), "double assignments: {doubles:?}");
    assert!(
        undelivered.is_empty(),
        "tasks that never reached the worker: {:?}",
        &undelivered[..undelivered.len().min(20)]
    );
    assert!(stuck.is_empty(), "stuck in dispatching: {stuck:?}");
    drop(replicas);
    drop(broker);
    pool.close().await;
    common::drop_test_db(dir.path());
}
