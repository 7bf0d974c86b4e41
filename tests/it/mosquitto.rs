//! The dispatcher against a real Mosquitto on 127.0.0.1:1883 (no embedded broker). Ids are
//! unique per run because Mosquitto keeps retained messages between runs.

use crate::common;
use crate::common::{test_settings, worker, Client, TestApp};
use serde_json::json;

/// Whether Mosquitto listens on 127.0.0.1:1883. When it does not, the test is skipped and
/// says so loudly; under CI that is a failure instead.
fn mosquitto_here(test: &str) -> bool {
    if std::net::TcpStream::connect("127.0.0.1:1883").is_ok() {
        return true;
    }
    eprintln!("\n*** SKIPPED {test}: nothing listens on 127.0.0.1:1883 (scripts/test starts Mosquitto) ***\n");
    assert!(
        std::env::var_os("CI").is_none(),
        "Mosquitto is required in CI"
    );
    false
}

/// Settings for a dispatcher on the Mosquitto at 127.0.0.1:1883 (no embedded broker) with
/// MQTT client id `client_id`, plus `extra`.
fn on_mosquitto(
    dir: &tempfile::TempDir,
    client_id: &str,
    persistent_session: bool,
    extra: &[(&str, &str)],
) -> griddispatch::config::Settings {
    let persistent = if persistent_session { "true" } else { "false" };
    let mut env = vec![
        ("GRIDDISPATCH__MQTT__LISTEN", ""),
        ("GRIDDISPATCH__MQTT__URL", "mqtt://127.0.0.1:1883"),
        ("GRIDDISPATCH__MQTT__CLIENT_ID", client_id),
        ("GRIDDISPATCH__MQTT__PERSISTENT_SESSION", persistent),
    ];
    env.extend_from_slice(extra);
    test_settings(dir, &env)
}

#[tokio::test]
async fn dispatches_through_mosquitto() {
    let _turn = common::SHARED_MOSQUITTO.lock().await;
    if !mosquitto_here("dispatches_through_mosquitto") {
        return;
    }
    let run = common::unique();
    let dir = tempfile::tempdir().unwrap();
    let client_id = format!("griddispatch-test-{run}");
    // A per-run client id with a kept session would pile up queues in the shared Mosquitto.
    let settings = on_mosquitto(&dir, &client_id, false, &[]);
    let rid = format!("mq-{run}");
    // A task message left retained on the broker by an earlier run that the database does
    // not know: the dispatcher must clear it when it connects.
    let stale = Client::connect("127.0.0.1", 1883, &format!("old-{run}"), "", "").await;
    let stale_topic = format!("dispatch/{rid}/tasks/stale-1");
    let stale_task = json!({"task_id":"stale-1","status":"offered"}).to_string();
    stale
        .client
        .publish(&stale_topic, rumqttc::QoS::AtLeastOnce, true, stale_task)
        .await
        .unwrap();
    // Make sure the broker has it before the dispatcher connects.
    let mut probe = Client::connect("127.0.0.1", 1883, &format!("probe-{run}"), "", "").await;
    probe.subscribe(&stale_topic).await;
    assert!(probe
        .next_where(common::WAIT, |_, p| !p.is_empty())
        .await
        .is_some());
    drop((stale, probe));
    let app = TestApp::spawn_with(dir, settings).await;
    assert!(
        app.running.as_ref().unwrap().mqtt_addr.is_none(),
        "no embedded broker"
    );
    app.zone("g1", "grid", (39.49, 106.69), (39.50, 106.70))
        .await;
    // Mosquitto here allows anonymous clients; the credentials are sent all the same.
    let mut w = worker(
        &app,
        &rid,
        "grid_worker",
        "foot",
        Some("g1"),
        (39.495, 106.695),
    )
    .await;
    let source = format!("src-{run}");
    let (user, pass) = app.source(&source).await;
    let src = Client::connect("127.0.0.1", 1883, &format!("s-{run}"), &user, &pass).await;
    src.publish(
        &format!("alerts/{source}"),
        json!({"id":"a1","kind":"medical","severity":2,"lat":39.4951,"lon":106.6951}).to_string(),
    )
    .await;
    // The phone may still glimpse the stale task before the dispatcher's audit clears it.
    let task = loop {
        let t = w.expect_task().await;
        if t["task_id"] != "stale-1" {
            break t;
        }
    };
    let tid = task["task_id"].as_str().unwrap();
    let (ok, a) = w
        .update(tid, json!({"status":"accepted","version":1}))
        .await;
    assert!(ok, "{a}");
    let (ok, a) = w
        .update(tid, json!({"status":"resolved","version":2}))
        .await;
    assert!(ok, "{a}");
    w.expect_cleared(tid).await;
    app.wait_state(task["incident_id"].as_str().unwrap(), "resolved")
        .await;
    // The phone now reconnects: its inbox holds neither the finished task nor the stale one.
    let mut again = Client::connect("127.0.0.1", 1883, &format!("again-{run}"), "", "").await;
    again.subscribe(&format!("dispatch/{rid}/tasks/+")).await;
    let leftover = again
        .next_where(std::time::Duration::from_millis(700), |_, p| !p.is_empty())
        .await;
    assert!(leftover.is_none(), "retained leftovers: {leftover:?}");
}

/// Alerts published while the dispatcher is down wait in its Mosquitto session, more of
/// them than Mosquitto sends unacknowledged at once (20 by default): all are processed
/// after the restart, so acknowledgements (sent only after each commit) keep flowing.
#[tokio::test]
async fn alerts_sent_while_the_dispatcher_is_down_are_all_processed() {
    let _turn = common::SHARED_MOSQUITTO.lock().await;
    if !mosquitto_here("alerts_sent_while_the_dispatcher_is_down_are_all_processed") {
        return;
    }
    const ALERTS: usize = 60;
    let run = common::unique();
    let dir = tempfile::tempdir().unwrap();
    let client_id = format!("griddispatch-down-{run}");
    let settings = on_mosquitto(&dir, &client_id, true, &[]);
    let mut app = TestApp::spawn_with(dir, settings).await;
    let db_url = app.db_url.clone();
    let source = format!("down-{run}");
    let (user, pass) = app.source(&source).await;
    app.stop().await;

    let src = Client::connect("127.0.0.1", 1883, &format!("s-{run}"), &user, &pass).await;
    for i in 0..ALERTS {
        let lon = 106.60 + i as f64 * 0.01; // apart, so no two correlate
        src.publish(
            &format!("alerts/{source}"),
            json!({"id": format!("d{i}"), "kind":"medical","severity":3,"lat":39.49,"lon":lon})
                .to_string(),
        )
        .await;
    }
    // Every publish is with Mosquitto before the dispatcher comes back.
    let mut probe = Client::connect("127.0.0.1", 1883, &format!("p-{run}"), "", "").await;
    probe.subscribe(&format!("alerts/{source}")).await;
    src.publish(&format!("alerts/{source}"), "marker").await;
    assert!(probe
        .next_where(common::WAIT, |_, p| p.as_ref() == b"marker")
        .await
        .is_some());

    // The same database and the same broker session, as after a restart.
    let dir = tempfile::tempdir().unwrap();
    let settings = on_mosquitto(
        &dir,
        &client_id,
        true,
        &[("GRIDDISPATCH__DATABASE__URL", &db_url)],
    );
    let mut again = TestApp::spawn_with(dir, settings).await;
    common::wait_for("every queued alert stored", || async {
        let v = again.get("/api/v1/incidents?state=open&limit=1000").await;
        let n = v.as_array().map(|a| a.len()).unwrap_or(0);
        (n == ALERTS).then(|| json!(n))
    })
    .await;
    again.stop().await;
    drop(app);
    common::forget_session("127.0.0.1", 1883, &client_id).await;
}

/// A worker's answer that arrives while the database cannot store it is not lost: the
/// dispatcher leaves it unacknowledged, drops its connection, and the broker sends it again
/// until the database is back.
#[tokio::test]
async fn a_workers_answer_that_meets_a_database_outage_is_applied_when_it_ends() {
    let _turn = common::SHARED_MOSQUITTO.lock().await;
    if !mosquitto_here("a_workers_answer_that_meets_a_database_outage_is_applied_when_it_ends") {
        return;
    }
    let run = common::unique();
    let dir = tempfile::tempdir().unwrap();
    let client_id = format!("griddispatch-outage-{run}");
    let settings = on_mosquitto(&dir, &client_id, true, &[]);
    let mut app = TestApp::spawn_with(dir, settings).await;
    app.zone("g1", "grid", (39.49, 106.69), (39.50, 106.70))
        .await;
    let rid = format!("out-{run}");
    let mut w = worker(
        &app,
        &rid,
        "grid_worker",
        "foot",
        Some("g1"),
        (39.495, 106.695),
    )
    .await;
    let incident = app
        .alert(json!({"id":format!("o-{run}"),"kind":"medical","severity":2,"lat":39.4951,"lon":106.6951}))
        .await;
    let task = w.expect_task().await;
    let tid = task["task_id"].as_str().unwrap().to_owned();

    // The outage: the tasks table is gone, so the batch with the answer fails.
    common::rename_table(&app.db_url, "tasks", "tasks_away").await;
    let topic = format!("dispatch/{rid}/tasks/{tid}/update");
    w.c.publish(&topic, json!({"status":"accepted","version":1}).to_string())
        .await;
    // The batch with the answer fails.
    common::wait_metric(&app, "dispatch_store_failures_total", 1).await;
    common::rename_table(&app.db_url, "tasks_away", "tasks").await;
    app.wait_state(&incident, "assigned").await;
    // The phone hears the verdict on its answer as usual.
    let verdict =
        w.c.next_where(common::WAIT, |t, _| t.starts_with(&format!("{topic}/")))
            .await
            .expect("a verdict on the answer");
    assert!(verdict.0.ends_with("/accepted"), "{verdict:?}");
    let asked_again = common::metric(&app.metrics().await, "mqtt_redeliveries_total");
    assert!(
        asked_again > 0,
        "the answer was applied without being sent again"
    );
    app.stop().await;
    common::forget_session("127.0.0.1", 1883, &client_id).await;
}
