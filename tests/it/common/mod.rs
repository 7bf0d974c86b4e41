//! Test harness: spawns the real app (real database, real embedded broker or Mosquitto,
//! ephemeral ports) and talks to it as workers, sources and operators do.
//!
//! The database is an SQLite file in the test's folder, or with `GRIDDISPATCH_TEST_DB=postgres`
//! a fresh PostgreSQL database (`gd_t_…`) on `GRIDDISPATCH_TEST_PG` (default
//! `postgres://postgres@127.0.0.1:5432`), one per test folder, dropped with the `TestApp`
//! that owns the folder. The same tests run unchanged on both.

mod mqtt;
pub mod rtsp;
pub mod ws;

pub use mqtt::{first_and_second, w1_by_the_camera, worker, Client, Worker};

use std::time::Duration;

use griddispatch::app::Running;
use griddispatch::config::Settings;
use griddispatch::domain::Role;
use serde_json::{json, Value};

/// How long any single wait in a test may take before the test fails.
pub const WAIT: Duration = Duration::from_secs(10);

/// An HTTP client for one instance, with an admin token.
#[derive(Clone)]
pub struct Api {
    pub base: String,
    pub token: String,
    pub http: reqwest::Client,
    pub mqtt_host: String,
    pub mqtt_port: u16,
}

/// A running in-process instance.
pub struct TestApp {
    pub api: Api,
    pub running: Option<Running>,
    pub mqtt_host: String,
    pub mqtt_port: u16,
    pub db_url: String,
    pub dir: tempfile::TempDir,
}

/// The database the tests run against: `sqlite` (default) or `postgres`, from env
/// `GRIDDISPATCH_TEST_DB`. Anything else fails the test rather than quietly testing SQLite.
pub fn test_backend() -> &'static str {
    match std::env::var("GRIDDISPATCH_TEST_DB").as_deref() {
        Err(_) | Ok("") | Ok("sqlite") => "sqlite",
        Ok("postgres") => "postgres",
        Ok(other) => panic!("GRIDDISPATCH_TEST_DB={other:?}: expected sqlite or postgres"),
    }
}

/// The PostgreSQL server the tests use, without a database name.
pub fn pg_server() -> String {
    std::env::var("GRIDDISPATCH_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

/// Test folder → the PostgreSQL database made for it.
static PG_DATABASES: std::sync::Mutex<
    Option<std::collections::HashMap<std::path::PathBuf, String>>,
> = std::sync::Mutex::new(None);

/// Runs one statement on the server's `postgres` database, on a thread of its own (callers
/// may be inside a runtime, and this is a short, test-only wait). Tried a few times: a busy
/// server (another suite's instances, a concurrent CREATE or DROP DATABASE) can refuse one.
fn pg_admin(sql: String) -> Result<(), String> {
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        rt.block_on(async {
            use sqlx::Connection;
            let url = format!("{}/postgres", pg_server());
            let mut last = String::new();
            for attempt in 0..5u64 {
                if attempt > 0 {
                    tokio::time::sleep(Duration::from_millis(200 * attempt)).await;
                }
                let mut c = match sqlx::postgres::PgConnection::connect(&url).await {
                    Ok(c) => c,
                    Err(e) => {
                        last = format!("{url}: {e}");
                        continue;
                    }
                };
                let done = sqlx::query(&sql).execute(&mut c).await;
                let _ = c.close().await;
                match done {
                    Ok(_) => return Ok(()),
                    Err(e) => last = format!("{sql}: {e}"),
                }
            }
            Err(last)
        })
    })
    .join()
    .unwrap_or_else(|_| Err("admin thread panicked".into()))
}

/// The database URL of the test folder `dir`: an SQLite file in it, or its own PostgreSQL
/// database (made at the first call; later calls for the same folder get the same one, so
/// a restarted instance finds its data).
pub fn test_db_url(dir: &std::path::Path) -> String {
    if test_backend() == "sqlite" {
        return format!("sqlite://{}/test.db", dir.display());
    }
    pg_db_url(dir)
}

/// The PostgreSQL database of the test folder `dir`, whatever `GRIDDISPATCH_TEST_DB` says
/// (made at the first call, the same one later).
pub fn pg_db_url(dir: &std::path::Path) -> String {
    let mut map = PG_DATABASES.lock().unwrap_or_else(|e| e.into_inner());
    let map = map.get_or_insert_with(Default::default);
    if let Some(name) = map.get(dir) {
        return format!("{}/{name}", pg_server());
    }
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    // gd_t_<unix secs>_<pid>_<n>_<µs>_<module>: scripts/test drops those older than any
    // run (the server may be shared, so a process id alone says nothing); the test's module
    // (libtest names a test's thread after the test) tells where a leftover came from.
    let module: String = std::thread::current()
        .name()
        .and_then(|t| t.split("::").next())
        .unwrap_or("it")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(16)
        .collect::<String>()
        .to_ascii_lowercase();
    let name = format!(
        "gd_t_{}_{}_{}_{}_{module}",
        now.as_secs(),
        std::process::id(),
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        now.subsec_micros()
    );
    pg_admin(format!("CREATE DATABASE {name}"))
        .unwrap_or_else(|e| panic!("cannot create the test database on {}: {e}", pg_server()));
    map.insert(dir.to_path_buf(), name.clone());
    format!("{}/{name}", pg_server())
}

/// Drops the PostgreSQL database of the test folder `dir`, if it has one.
pub fn drop_test_db(dir: &std::path::Path) {
    let name = {
        let mut map = PG_DATABASES.lock().unwrap_or_else(|e| e.into_inner());
        map.as_mut().and_then(|m| m.remove(dir))
    };
    if let Some(name) = name {
        // FORCE: an instance that was not stopped may still hold connections.
        if let Err(e) = pg_admin(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")) {
            eprintln!(
                "*** could not drop test database {name} (scripts/test drops leftovers): {e} ***"
            );
        }
    }
}

/// The environment naming the test folder's database, and the folder for files beside it.
pub fn test_db_env(dir: &std::path::Path) -> Vec<(String, String)> {
    vec![
        ("GRIDDISPATCH__DATABASE__URL".into(), test_db_url(dir)),
        (
            "GRIDDISPATCH__DATABASE__DATA_DIR".into(),
            dir.display().to_string(),
        ),
    ]
}

/// Settings for a test instance: ephemeral ports and a fresh database (see [`test_db_url`]).
pub fn test_settings(dir: &tempfile::TempDir, extra: &[(&str, &str)]) -> Settings {
    let mut env: Vec<(String, String)> = vec![
        ("GRIDDISPATCH__HTTP__LISTEN".into(), "127.0.0.1:0".into()),
        ("GRIDDISPATCH__MQTT__LISTEN".into(), "127.0.0.1:0".into()),
    ];
    env.extend(test_db_env(dir.path()));
    for (k, v) in extra {
        env.push((k.to_string(), v.to_string()));
    }
    Settings::load_with_env(None, env).expect("test settings")
}

impl TestApp {
    /// Spawns with the embedded broker and the given env-style overrides.
    pub async fn spawn(extra: &[(&str, &str)]) -> TestApp {
        let dir = tempfile::tempdir().expect("tempdir");
        let settings = test_settings(&dir, extra);
        Self::spawn_with(dir, settings).await
    }

    pub async fn spawn_with(dir: tempfile::TempDir, settings: Settings) -> TestApp {
        Self::spawn_with_client(dir, settings, reqwest::Client::new()).await
    }

    /// [`TestApp::spawn_with`], its API reached with `http` (a client that trusts the
    /// instance's CA when `http.tls_cert` is set) over `https` when it serves TLS.
    pub async fn spawn_with_client(
        dir: tempfile::TempDir,
        settings: Settings,
        http: reqwest::Client,
    ) -> TestApp {
        let running = griddispatch::app::start(&settings)
            .await
            .expect("app starts");
        // A run meant for PostgreSQL must not pass on SQLite by mistake (or the reverse).
        assert_eq!(
            running.store.backend().as_str(),
            test_backend(),
            "GRIDDISPATCH_TEST_DB and the instance's database disagree"
        );
        let token = running
            .store
            .create_token("test-admin", Role::Admin)
            .await
            .expect("token");
        let broker = griddispatch::config::BrokerUrl::parse(&running.mqtt_url).expect("url");
        let (mqtt_host, mqtt_port) = (broker.host().to_owned(), broker.port());
        // With TLS, the name on the test certificate, not the address bound.
        let base = if running.https {
            format!("https://localhost:{}", running.http_addr.port())
        } else {
            format!("http://{}", running.http_addr)
        };
        let app = TestApp {
            api: Api {
                base,
                token,
                http,
                mqtt_host: mqtt_host.clone(),
                mqtt_port,
            },
            running: Some(running),
            mqtt_host,
            mqtt_port,
            db_url: settings.database.url.as_str().to_owned(),
            dir,
        };
        app.wait_healthy().await;
        app
    }
}

impl std::ops::Deref for TestApp {
    type Target = Api;
    fn deref(&self) -> &Api {
        &self.api
    }
}

impl TestApp {
    pub async fn stop(&mut self) {
        if let Some(r) = self.running.take() {
            r.stop().await.expect("clean stop");
        }
    }

    pub async fn token(&self, role: Role) -> String {
        self.running
            .as_ref()
            .expect("running")
            .store
            .create_token("t", role)
            .await
            .expect("token")
    }
}

impl Api {
    pub async fn wait_healthy(&self) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Ok(r) = self.http.get(format!("{}/healthz", self.base)).send().await {
                if r.status().is_success() {
                    return;
                }
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "instance never became healthy"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self.http.request(method, format!("{}{}", self.base, path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("http request");
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn get(&self, path: &str) -> Value {
        let (status, v) = self
            .call(reqwest::Method::GET, path, Some(&self.token), None)
            .await;
        assert_eq!(status, 200, "GET {path}: {v}");
        v
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(reqwest::Method::POST, path, Some(&self.token), Some(body))
            .await
    }

    /// A rectangular zone from south-west to north-east corners (lat, lon).
    pub async fn zone(&self, id: &str, kind: &str, sw: (f64, f64), ne: (f64, f64)) {
        let ring = json!([
            [sw.1, sw.0],
            [ne.1, sw.0],
            [ne.1, ne.0],
            [sw.1, ne.0],
            [sw.1, sw.0]
        ]);
        let (s, v) = self
            .post("/api/v1/zones", json!({"type":"Feature","geometry":{"type":"Polygon","coordinates":[ring]},"properties":{"id":id,"name":id,"kind":kind}}))
            .await;
        assert_eq!(s, 201, "zone {id}: {v}");
    }

    /// Creates a responder; returns its MQTT password.
    pub async fn responder(
        &self,
        id: &str,
        kind: &str,
        travel: &str,
        zone: Option<&str>,
    ) -> String {
        let (s, v) = self
            .post(
                "/api/v1/responders",
                json!({"id": id, "name": id, "kind": kind, "travel": travel, "zone_id": zone}),
            )
            .await;
        assert_eq!(s, 201, "responder {id}: {v}");
        v["mqtt"]["password"].as_str().expect("password").to_owned()
    }

    /// Creates a source; returns its MQTT (username, password).
    pub async fn source(&self, id: &str) -> (String, String) {
        let (s, v) = self
            .post("/api/v1/sources", json!({"id": id, "name": id}))
            .await;
        assert_eq!(s, 201, "source {id}: {v}");
        (
            v["mqtt"]["username"].as_str().expect("u").to_owned(),
            v["mqtt"]["password"].as_str().expect("p").to_owned(),
        )
    }

    /// Posts an alert over HTTP; returns the incident id.
    pub async fn alert(&self, body: Value) -> String {
        let (s, v) = self.post("/api/v1/alerts", body).await;
        assert_eq!(s, 202, "alert: {v}");
        v["incident_id"].as_str().expect("incident id").to_owned()
    }

    /// The Prometheus text of /metrics.
    pub async fn metrics(&self) -> String {
        let resp = self
            .http
            .get(format!("{}/metrics", self.base))
            .send()
            .await
            .expect("metrics");
        resp.text().await.expect("metrics text")
    }

    /// Waits until camera `id` has `status`; returns the camera.
    pub async fn wait_camera_status(&self, id: &str, status: &str) -> Value {
        wait_for(&format!("camera {id} {status}"), || async {
            let c = self.get(&format!("/api/v1/cameras/{id}")).await;
            (c["status"] == status).then_some(c)
        })
        .await
    }

    /// Camera `id`'s status changes, newest first, and the whole history.
    pub async fn camera_statuses(&self, id: &str) -> (Vec<String>, Value) {
        let history = self.get(&format!("/api/v1/cameras/{id}/history")).await;
        let statuses = history
            .as_array()
            .expect("history is a list")
            .iter()
            .map(|h| h["status"].as_str().expect("status").to_owned())
            .collect();
        (statuses, history)
    }

    pub async fn incident(&self, id: &str) -> Value {
        self.get(&format!("/api/v1/incidents/{id}")).await
    }

    /// Polls until the incident is in `state` (or fails after WAIT).
    pub async fn wait_state(&self, id: &str, state: &str) -> Value {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let v = self.incident(id).await;
            if v["state"] == state {
                return v;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "incident {id} never reached {state}; it is {v}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Waits until the dispatcher has stored a fix for `id` at least as new as `tst`.
    pub async fn wait_fix(&self, id: &str, tst: i64) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let v = self.get(&format!("/api/v1/responders/{id}")).await;
            if let Some(at) = v["fix_at"].as_str() {
                let at = chrono::DateTime::parse_from_rfc3339(at)
                    .expect("rfc3339")
                    .timestamp();
                if at >= tst {
                    return;
                }
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "fix for {id} never stored"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(r) = self.running.take() {
            r.cancel.cancel();
        }
        drop_test_db(self.dir.path());
    }
}

/// Tests that run a dispatcher on the shared Mosquitto on 127.0.0.1:1883 (`mosquitto`,
/// `cluster`) hold this while it runs. Every dispatcher there hears every worker's updates
/// (`dispatch/+/tasks/+/update`) and answers those of tasks it does not know with a
/// refusal ("unknown"), so two at once would answer each other's workers: a worker of one
/// test could read another test's refusal before its own dispatcher's acceptance. A
/// county has one dispatcher (or one cluster) per broker; the tests take turns.
pub static SHARED_MOSQUITTO: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Ends the kept session `client_id` left on a shared broker (connecting with a clean
/// session discards it), so finished tests leave no subscriber queuing messages for ever.
pub async fn forget_session(host: &str, port: u16, client_id: &str) {
    let c = Client::connect(host, port, client_id, "", "").await;
    let _ = c.client.disconnect().await;
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// Logs the console session `cookie` (`gd_session=…`) out, as the console does (with
/// this site's `Origin`).
pub async fn logout(api: &Api, cookie: &str) -> reqwest::Response {
    api.http
        .delete(format!("{}/api/v1/session", api.base))
        .header(reqwest::header::COOKIE, cookie)
        .header(reqwest::header::ORIGIN, &api.base)
        .send()
        .await
        .unwrap()
}

/// A TCP port nothing listens on now (for processes the test starts itself).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("a free port")
        .local_addr()
        .expect("its address")
        .port()
}

/// A unique suffix, for ids on a shared broker.
pub fn unique() -> String {
    format!("{:x}", uuid::Uuid::new_v4().as_u128() & 0xffff_ffff)
}

/// Polls `f` until it gives a value (or fails the test after WAIT).
pub async fn wait_for<F, Fut>(what: &str, f: F) -> serde_json::Value
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<serde_json::Value>>,
{
    wait_up_to(WAIT, what, f).await
}

/// Polls `f` until it gives a value (or fails the test after `limit`).
pub async fn wait_up_to<F, Fut>(limit: Duration, what: &str, mut f: F) -> serde_json::Value
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<serde_json::Value>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Whether to run the test `name` of module `module` (pass `module_path!()`) here. A test
/// that measures the whole process (its threads, its memory) must not share it with the
/// other tests of this binary, which run as threads beside it. In the test process this
/// starts the test binary again for that one test alone (`--exact`, one test thread), with
/// `GRIDDISPATCH_TEST_ALONE` naming it, prints the child's output, fails unless the child
/// ran the test and it passed, and returns false; in the child it returns true, and the
/// caller runs the test's body.
pub fn run_alone(module: &str, name: &str) -> bool {
    const MARK: &str = "GRIDDISPATCH_TEST_ALONE";
    // The path libtest knows the test by: without the crate's name.
    let module = module.split_once("::").map_or("", |(_, m)| m);
    let path = format!("{module}::{name}");
    if std::env::var(MARK).is_ok_and(|v| v == path) {
        return true;
    }
    let exe = std::env::current_exe().expect("the test binary's path");
    let out = std::process::Command::new(exe)
        .args([path.as_str(), "--exact", "--test-threads=1", "--nocapture"])
        .env(MARK, &path)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("cannot start the test binary again");
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!(
        "--- {path}, alone in process {exe}:\n{stdout}{}",
        String::from_utf8_lossy(&out.stderr),
        exe = std::env::current_exe().unwrap_or_default().display()
    );
    // A name that matched no test would "pass" with nothing run.
    assert!(
        stdout.contains("running 1 test"),
        "the child process did not run {path}"
    );
    assert!(
        out.status.success(),
        "{path} failed in its own process ({})",
        out.status
    );
    false
}

/// The value of `griddispatch_<name>` in the Prometheus text of /metrics; fails the test
/// when there is no such metric (every counter is listed, at 0 too, so that is a typo).
pub fn metric(text: &str, name: &str) -> u64 {
    let prefix = format!("griddispatch_{name} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no metric {name} in\n{text}"))
}

/// Waits until metric `name` is at least `min`.
pub async fn wait_metric(api: &Api, name: &str, min: u64) {
    wait_for(&format!("{name} >= {min}"), || async {
        (metric(&api.metrics().await, name) >= min).then_some(Value::Null)
    })
    .await;
}

/// Renames a table of the database at `db_url`: how the tests take part of the database
/// away for a while (every statement on it fails) and give it back.
pub async fn rename_table(db_url: &str, from: &str, to: &str) {
    sqlx::any::install_default_drivers();
    let db = sqlx::AnyPool::connect(db_url)
        .await
        .expect("the test database");
    sqlx::query(&format!("ALTER TABLE {from} RENAME TO {to}"))
        .execute(&db)
        .await
        .expect("renaming a table");
    db.close().await;
}

/// Runs `griddispatch token create --role ROLE --name NAME` with `env` and answers the
/// token it printed (one `gd_…` line).
pub fn cli_token_create(env: &[(String, String)], role: &str, name: &str) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_griddispatch"))
        .args(["token", "create", "--role", role, "--name", name])
        .envs(env.iter().cloned())
        .env("RUST_LOG", "error")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(token.starts_with("gd_") && !token.contains('\n'), "{token}");
    token
}
