//! The dispatcher against a real Mosquitto on 127.0.0.1:1883 (no embedded broker). Ids are
//! unique per run because Mosquitto keeps retained messages between runs.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns fail loudly by design

mod common;

use common::{test_settings, Client, TestApp, Worker};
use serde_json::json;

#[tokio::test]
async fn dispatches_through_mosquitto() {
    if std::net::TcpStream::connect("127.0.0.1:1883").is_err() {
        eprintln!("\n*** SKIPPED dispatches_through_mosquitto: nothing listens on 127.0.0.1:1883 (scripts/test starts Mosquitto) ***\n");
        if std::env::var_os("CI").is_some() {
            panic!("Mosquitto is required in CI");
        }
        return;
    }
    let run = common::unique();
    let dir = tempfile::tempdir().unwrap();
    let client_id = format!("griddispatch-test-{run}");
    let settings = test_settings(
        &dir,
        &[
            ("GRIDDISPATCH__MQTT__LISTEN", ""),
            ("GRIDDISPATCH__MQTT__URL", "mqtt://127.0.0.1:1883"),
            ("GRIDDISPATCH__MQTT__CLIENT_ID", &client_id),
            // A per-run client id with a kept session would pile up queues in the shared Mosquitto.
            ("GRIDDISPATCH__MQTT__PERSISTENT_SESSION", "false"),
        ],
    );
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
    let pw = app.responder(&rid, "grid_worker", "foot", Some("g1")).await;
    // Mosquitto here allows anonymous clients; the credentials are sent all the same.
    let mut w = Worker::connect(&app, &rid, &pw).await;
    w.locate(&app, 39.495, 106.695).await;
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
