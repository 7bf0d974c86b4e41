//! The field app's groundwork: its public settings endpoint, and the duty toggle a
//! worker's phone publishes on `dispatch/<id>/duty/set`.

use std::time::Duration;

use crate::common::{wait_for, Api, Client, TestApp, Worker};
use rumqttc::SubscribeReasonCode;
use serde_json::{json, Value};

#[tokio::test]
async fn field_config_is_public_and_names_the_websocket_listener() {
    let app = TestApp::spawn(&[
        ("GRIDDISPATCH__MQTT__WS_LISTEN", "0.0.0.0:0"),
        ("GRIDDISPATCH__FIELD__LOCATION_INTERVAL_SECS", "12"),
    ])
    .await;
    let ws = app.running.as_ref().unwrap().mqtt_ws_addr.unwrap();
    let (status, body) = app
        .api
        .call(reqwest::Method::GET, "/api/v1/field/config", None, None)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["location_interval_secs"], 12);
    // A wildcard listen address: the page combines port and path with its own host.
    assert!(body["mqtt_ws_url"].is_null(), "{body}");
    assert_eq!(body["mqtt_ws_port"], ws.port());
    assert_eq!(body["mqtt_ws_path"], "/mqtt");

    // Without a WebSocket listener there is nothing to connect to.
    let app = TestApp::spawn(&[]).await;
    let (status, body) = app
        .api
        .call(reqwest::Method::GET, "/api/v1/field/config", None, None)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["location_interval_secs"], 30);
    assert!(body["mqtt_ws_port"].is_null(), "{body}");
    assert!(body["mqtt_ws_url"].is_null(), "{body}");
}

const QUIET: Duration = Duration::from_millis(500);

/// A worker's phone, also subscribed to its retained duty state; and its password.
async fn phone(app: &Api, id: &str, at: (f64, f64)) -> (Worker, String) {
    let pw = app.responder(id, "grid_worker", "foot", None).await;
    let mut w = Worker::connect(app, id, &pw).await;
    let codes = w.c.subscribe(&format!("dispatch/{id}/duty")).await;
    assert!(
        matches!(codes[0], SubscribeReasonCode::Success(_)),
        "{codes:?}"
    );
    w.locate(app, at.0, at.1).await;
    (w, pw)
}

/// The next retained duty state `dispatch/<id>/duty` the client sees.
async fn duty_state(c: &mut Client, id: &str) -> Value {
    let topic = format!("dispatch/{id}/duty");
    let (_, p) = c
        .next_where(Duration::from_secs(5), |t, p| t == topic && !p.is_empty())
        .await
        .unwrap_or_else(|| panic!("no duty state for {id}"));
    serde_json::from_slice(&p).unwrap()
}

async fn wait_on_duty(app: &Api, id: &str, on_duty: bool) {
    let path = format!("/api/v1/responders/{id}");
    wait_for(&format!("{id} on_duty = {on_duty}"), || async {
        let r = app.get(&path).await;
        (r["on_duty"] == on_duty).then_some(r)
    })
    .await;
}

#[tokio::test]
async fn worker_goes_off_duty_from_the_phone_and_gets_no_offers_until_back() {
    let app = TestApp::spawn(&[]).await;
    let (mut w, pw) = phone(&app, "w1", (39.4970, 106.695)).await;
    // Creating the responder published its state, so the phone sees it at connect.
    let first = duty_state(&mut w.c, "w1").await;
    assert_eq!(first["on_duty"], true, "{first}");

    w.c.publish(
        "dispatch/w1/duty/set",
        json!({"on_duty": false}).to_string(),
    )
    .await;
    let state = duty_state(&mut w.c, "w1").await;
    assert_eq!(state["on_duty"], false, "{state}");
    assert!(
        chrono::DateTime::parse_from_rfc3339(state["at"].as_str().unwrap()).is_ok(),
        "{state}"
    );
    wait_on_duty(&app, "w1", false).await;
    // A phone connecting later gets the retained state at once.
    let mut later = Client::connect(&app.mqtt_host, app.mqtt_port, "w1-tablet", "w1", &pw).await;
    later.subscribe("dispatch/w1/duty").await;
    assert_eq!(duty_state(&mut later, "w1").await["on_duty"], false);

    let off = app
        .alert(json!({"id":"a1","kind":"medical","severity":2,"lat":39.4980,"lon":106.695}))
        .await;
    assert!(
        w.task(QUIET).await.is_none(),
        "an off-duty worker was offered {off}"
    );

    w.c.publish("dispatch/w1/duty/set", json!({"on_duty": true}).to_string())
        .await;
    assert_eq!(duty_state(&mut w.c, "w1").await["on_duty"], true);
    wait_on_duty(&app, "w1", true).await;
    // Far enough from the first alert not to join its incident.
    let on = app
        .alert(json!({"id":"a2","kind":"medical","severity":2,"lat":39.4940,"lon":106.695}))
        .await;
    let prefix = "dispatch/w1/tasks/";
    let got =
        w.c.next_where(Duration::from_secs(5), |t, p| {
            t.starts_with(prefix)
                && !t.contains("/update")
                && serde_json::from_slice::<Value>(p)
                    .map(|v| v["incident_id"] == on.as_str())
                    .unwrap_or(false)
        })
        .await;
    assert!(
        got.is_some(),
        "the worker back on duty was not offered {on}"
    );
}

#[tokio::test]
async fn a_worker_cannot_toggle_someone_elses_duty_and_garbage_is_dead_lettered() {
    let app = TestApp::spawn(&[]).await;
    let (mut a, _) = phone(&app, "wa", (39.4970, 106.695)).await;
    let (b, _) = phone(&app, "wb", (39.4971, 106.695)).await;
    assert_eq!(duty_state(&mut a.c, "wa").await["on_duty"], true);

    b.c.publish(
        "dispatch/wa/duty/set",
        json!({"on_duty": false}).to_string(),
    )
    .await;
    tokio::time::sleep(QUIET).await;
    assert_eq!(
        app.get("/api/v1/responders/wa").await["on_duty"],
        true,
        "wb switched wa off duty"
    );
    assert!(a
        .c
        .next_where(QUIET, |t, _| t == "dispatch/wa/duty")
        .await
        .is_none());

    a.c.publish("dispatch/wa/duty/set", "on please").await;
    a.c.publish("dispatch/wa/duty/set", json!({"on_duty": "no"}).to_string())
        .await;
    let dead = wait_for("two dead letters for the duty topic", || async {
        let d = app.get("/api/v1/dead-letters").await;
        let ours: Vec<Value> = d
            .as_array()
            .unwrap()
            .iter()
            .filter(|l| l["topic"] == "dispatch/wa/duty/set")
            .cloned()
            .collect();
        (ours.len() == 2).then_some(Value::Array(ours))
    })
    .await;
    for l in dead.as_array().unwrap() {
        let reason = l["reason"].as_str().unwrap();
        assert!(reason.contains("duty toggle"), "{reason}");
    }
    assert_eq!(app.get("/api/v1/responders/wa").await["on_duty"], true);
}

#[tokio::test]
async fn admin_patch_publishes_the_retained_duty_state() {
    let app = TestApp::spawn(&[]).await;
    let (mut w, _) = phone(&app, "wp", (39.4970, 106.695)).await;
    assert_eq!(duty_state(&mut w.c, "wp").await["on_duty"], true);
    let (s, v) = app
        .call(
            reqwest::Method::PATCH,
            "/api/v1/responders/wp",
            Some(&app.token),
            Some(json!({"on_duty": false})),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(duty_state(&mut w.c, "wp").await["on_duty"], false);
}
