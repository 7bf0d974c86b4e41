//! The dispatcher process is killed with SIGKILL while an offer is outstanding; the
//! restarted process republishes the worker's inbox from the database and keeps the
//! offer's original deadline.

use crate::common;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::common::{first_and_second, Api, Worker, WAIT};
use serde_json::json;

struct Proc {
    child: Child,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn env(dir: &std::path::Path, http: u16, mqtt: u16) -> Vec<(String, String)> {
    let mut env = vec![
        (
            "GRIDDISPATCH__HTTP__LISTEN".into(),
            format!("127.0.0.1:{http}"),
        ),
        (
            "GRIDDISPATCH__MQTT__LISTEN".into(),
            format!("127.0.0.1:{mqtt}"),
        ),
        (
            "GRIDDISPATCH__DISPATCH__ACK_TIMEOUT_SECS".into(),
            "6".into(),
        ),
        ("RUST_LOG".into(), "warn".into()),
    ];
    // The database outlives both processes: SQLite file or PostgreSQL database of `dir`.
    env.extend(common::test_db_env(dir));
    env
}

fn serve(env: &[(String, String)]) -> Proc {
    let child = Command::new(env!("CARGO_BIN_EXE_griddispatch"))
        .arg("serve")
        .envs(env.iter().cloned())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn griddispatch");
    Proc { child }
}

#[tokio::test]
async fn kill_9_with_a_pending_offer_resumes_where_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let (http, mqtt) = (common::free_port(), common::free_port());
    let env = env(dir.path(), http, mqtt);
    let token = crate::common::cli_token_create(&env, "admin", "restart-test");

    let api = Api {
        base: format!("http://127.0.0.1:{http}"),
        token,
        http: reqwest::Client::new(),
        mqtt_host: "127.0.0.1".into(),
        mqtt_port: mqtt,
    };
    let mut proc = serve(&env);
    api.wait_healthy().await;
    api.zone("g1", "grid", (39.49, 106.69), (39.50, 106.70))
        .await;
    let (mut a, b) = first_and_second(&api, ("a", "b")).await;
    let (pa, pb) = (a.password.clone(), b.password.clone());
    drop(b);
    let id = api
        .alert(json!({"id":"a1","kind":"medical","severity":2,"lat":39.4951,"lon":106.6951}))
        .await;
    let offered = a.expect_task().await;
    drop(a);

    // SIGKILL: no shutdown code runs.
    proc.child.kill().unwrap();
    proc.child.wait().unwrap();
    let mut proc = serve(&env);
    api.wait_healthy().await;

    // The embedded broker lost everything; the inbox comes back from the database.
    let mut a = Worker::connect(&api, "a", &pa).await;
    let again = a.expect_task().await;
    assert_eq!(again["task_id"], offered["task_id"]);
    assert_eq!(
        again["respond_by"], offered["respond_by"],
        "the deadline must survive the restart"
    );
    assert_eq!(api.incident(&id).await["state"], "dispatching");

    // Nobody answers: the original deadline passes and b gets the next offer.
    let mut b = Worker::connect(&api, "b", &pb).await;
    a.expect_cleared(offered["task_id"].as_str().unwrap()).await;
    let next = b
        .task(WAIT + Duration::from_secs(6))
        .await
        .expect("b gets the offer after a's deadline");
    assert_eq!(next["incident_id"], id);
    let (ok, answer) = b
        .update(
            next["task_id"].as_str().unwrap(),
            json!({"status":"accepted","version":1}),
        )
        .await;
    assert!(ok, "{answer}");
    api.wait_state(&id, "assigned").await;

    // A graceful stop (SIGTERM) exits cleanly.
    let pid = proc.child.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    let status = proc.child.wait().unwrap();
    assert!(status.success(), "exit status after SIGTERM: {status}");
    common::drop_test_db(dir.path());
}

/// A message a committed decision owed but the broker never acknowledged (the process died
/// in between) waits in the outbox and goes out when the dispatcher starts again; sent
/// messages leave the outbox once acknowledged.
#[tokio::test]
async fn owed_messages_go_out_after_a_restart() {
    let mut app = common::TestApp::spawn(&[]).await;
    app.zone("g1", "grid", (39.49, 106.69), (39.50, 106.70))
        .await;
    let pw = app.responder("w1", "grid_worker", "foot", Some("g1")).await;
    let mut w = Worker::connect(&app, "w1", &pw).await;
    w.locate(&app, 39.495, 106.695).await;
    app.alert(json!({"id":"a1","kind":"medical","severity":2,"lat":39.4951,"lon":106.6951}))
        .await;
    w.expect_task().await;
    let store = app.running.as_ref().unwrap().store.clone();
    common::wait_for("the offer's messages acknowledged and settled", || async {
        (store.outbox_len().await.unwrap() == 0).then(|| json!(0))
    })
    .await;
    drop(w);
    let db_url = app.db_url.clone();
    app.stop().await;

    // As if the last run had died between its commit and the publish.
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&db_url).await.unwrap();
    let owed = json!({"task_id":"t-owed","status":"withdrawn","reason":"owed"}).to_string();
    sqlx::query("INSERT INTO outbox (topic, payload, retain, created_at) VALUES ($1, $2, $3, $4)")
        .bind("dispatch/w1/tasks/t-owed/closed")
        .bind(owed.as_bytes().to_vec())
        .bind(true) // retained, so the phone connecting later still sees it
        .bind(0_i64)
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;

    let dir = tempfile::tempdir().unwrap();
    let settings = common::test_settings(&dir, &[("GRIDDISPATCH__DATABASE__URL", &db_url)]);
    let again = common::TestApp::spawn_with(dir, settings).await;
    let mut phone = common::Client::connect(
        &again.mqtt_host,
        again.mqtt_port,
        "phone-w1-again",
        "w1",
        &pw,
    )
    .await;
    phone.subscribe("dispatch/w1/tasks/+/closed").await;
    let (_, payload) = phone
        .next_where(WAIT, |t, _| t == "dispatch/w1/tasks/t-owed/closed")
        .await
        .expect("the owed message was sent after the restart");
    assert_eq!(payload.as_ref(), owed.as_bytes());
    let store = again.running.as_ref().unwrap().store.clone();
    common::wait_for("the owed message settled", || async {
        (store.outbox_len().await.unwrap() == 0).then(|| json!(0))
    })
    .await;
    drop(app);
}

/// A phone resends the update that ended its task, to a dispatcher that restarted since
/// (or a new leader): it hears what the original got, from the database.
#[tokio::test]
async fn an_ended_tasks_update_replayed_after_a_restart_gets_the_original_answer() {
    let app = common::TestApp::spawn(&[]).await;
    app.zone("g1", "grid", (39.49, 106.69), (39.50, 106.70))
        .await;
    let (mut first, _second) = first_and_second(&app, ("first", "second")).await;
    app.alert(json!({"id":"a1","kind":"medical","severity":3,"lat":39.4951,"lon":106.6951}))
        .await;
    let t = first.expect_task().await;
    let tid = t["task_id"].as_str().unwrap().to_owned();
    let reject = json!({"status":"rejected","version":1,"note":"在处理另一件事"});
    let (ok, original) = first.update(&tid, reject.clone()).await;
    assert!(ok, "{original}");

    // The same database, a new process: no memory of the answer.
    let db_url = app.db_url.clone();
    let mut app = app;
    app.stop().await;
    let dir = tempfile::tempdir().unwrap();
    let settings = common::test_settings(&dir, &[("GRIDDISPATCH__DATABASE__URL", &db_url)]);
    let again = common::TestApp::spawn_with(dir, settings).await;
    let mut phone = Worker::connect(&again, "first", &first.password).await;
    let (ok, replayed) = phone.update(&tid, reject).await;
    assert!(
        ok,
        "a replayed rejection was refused after a restart: {replayed}"
    );
    assert_eq!(replayed, original);
    // Still refused: an update the task never went through, and one of a task never made.
    let (ok, a) = phone
        .update(&tid, json!({"status":"resolved","version":1}))
        .await;
    assert!(!ok, "{a}");
    let (ok, a) = phone
        .update("no-such-task", json!({"status":"rejected"}))
        .await;
    assert!(!ok, "{a}");
    drop(again);
    drop(app);
}
