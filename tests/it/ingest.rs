//! What arrives on MQTT from cameras, phones and sensors, and what the broker lets through.

use crate::common;
use std::time::Duration;

use crate::common::{wait_for, Client, TestApp, Worker, WAIT};
use rumqttc::SubscribeReasonCode;
use serde_json::json;

#[tokio::test]
async fn frigate_new_update_end_make_one_incident_at_the_camera() {
    let app = TestApp::spawn(&[]).await;
    app.zone("g1", "grid", (39.49, 106.69), (39.50, 106.70))
        .await;
    let (s, v) = app
        .post(
            "/api/v1/cameras",
            json!({"id":"gate_cam","name":"北门摄像头","lat":39.4955,"lon":106.6955}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["zone_id"], "g1", "zone derived from the position");
    let (user, pass) = app.source("frigate-nvr").await;
    let nvr = Client::connect(&app.mqtt_host, app.mqtt_port, "frigate", &user, &pass).await;
    let event = |kind: &str, score: f64| {
        json!({"type": kind, "before": {}, "after": {
            "id": "1700000000.123456-abc123", "camera": "gate_cam", "label": "person",
            "sub_label": null, "score": score, "top_score": score, "false_positive": false,
            "start_time": 1700000000.123456, "end_time": null, "current_zones": ["gate"],
            "has_snapshot": true, "has_clip": true, "stationary": false
        }})
        .to_string()
    };
    nvr.publish("frigate/events", event("new", 0.71)).await;
    nvr.publish("frigate/events", event("update", 0.80)).await;
    nvr.publish("frigate/events", event("end", 0.80)).await;
    wait_for("the Frigate incident", || async {
        let l = app.get("/api/v1/incidents").await;
        (!l.as_array()?.is_empty()).then_some(l)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let list = app.get("/api/v1/incidents").await;
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    let inc = app.incident(list[0]["id"].as_str().unwrap()).await;
    assert_eq!(inc["kind"], "intrusion");
    assert_eq!(inc["location"], json!({"lat": 39.4955, "lon": 106.6955}));
    assert_eq!(inc["zone_id"], "g1");
    let alerts = inc["alerts"].as_array().unwrap();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0]["camera_id"], "gate_cam");
    assert_eq!(alerts[0]["id"], "1700000000.123456-abc123");
}

#[tokio::test]
async fn owntracks_fixes_update_the_worker_and_old_ones_are_ignored() {
    let app = TestApp::spawn(&[]).await;
    let pw = app.responder("w1", "grid_worker", "bike", None).await;
    let w = Worker::connect(&app, "w1", &pw).await;
    let now = chrono::Utc::now().timestamp();
    w.locate_at(39.501, 106.701, now).await;
    app.wait_fix("w1", now).await;
    let r = app.get("/api/v1/responders/w1").await;
    assert_eq!(
        (r["lat"].as_f64(), r["lon"].as_f64()),
        (Some(39.501), Some(106.701))
    );
    assert_eq!(r["battery"], 77);
    // A fix from before arrives late (phone reconnected): it must not move the worker back.
    w.locate_at(39.6, 106.8, now - 60).await;
    // Non-location OwnTracks messages are valid and ignored.
    w.c.publish(
        "owntracks/w1/phone",
        json!({"_type":"transition","event":"enter","desc":"home"}).to_string(),
    )
    .await;
    w.locate_at(39.502, 106.702, now + 1).await;
    app.wait_fix("w1", now + 1).await;
    let r = app.get("/api/v1/responders/w1").await;
    assert_eq!(r["lat"].as_f64(), Some(39.502));
    let dead = app.get("/api/v1/dead-letters").await;
    assert!(dead.as_array().unwrap().is_empty(), "{dead}");
}

/// An alert that arrives while the database cannot store it is kept (unacknowledged, in
/// memory) and stored once the database is back, instead of being logged and dropped.
#[tokio::test]
async fn an_alert_that_meets_a_database_outage_is_stored_when_it_ends() {
    let app = TestApp::spawn(&[]).await;
    let (user, pass) = app.source("s1").await;
    let src = Client::connect(&app.mqtt_host, app.mqtt_port, "s1", &user, &pass).await;
    // The outage: the alerts table is gone for a while, so every attempt fails.
    common::rename_table(&app.db_url, "alerts", "alerts_away").await;
    src.publish(
        "alerts/s1",
        json!({"id":"during-outage","kind":"medical","severity":2,"lat":39.5,"lon":106.7})
            .to_string(),
    )
    .await;
    // A first attempt to store it has failed.
    common::wait_metric(&app, "alert_store_retries_total", 1).await;
    common::rename_table(&app.db_url, "alerts_away", "alerts").await;
    let open = wait_for("the alert stored after the outage", || async {
        let v = app.get("/api/v1/incidents?state=open").await;
        (v.as_array().unwrap().len() == 1).then_some(v)
    })
    .await;
    let id = open[0]["id"].as_str().unwrap();
    let inc = app.incident(id).await;
    assert!(
        inc.to_string().contains("during-outage"),
        "the incident does not carry the alert: {inc}"
    );
    let dead = app.get("/api/v1/dead-letters").await;
    assert!(dead.as_array().unwrap().is_empty(), "{dead}");
}

#[tokio::test]
async fn malformed_payloads_are_dead_lettered_and_nothing_breaks() {
    let app = TestApp::spawn(&[]).await;
    let pw = app.responder("w1", "grid_worker", "foot", None).await;
    let w = Worker::connect(&app, "w1", &pw).await;
    let (user, pass) = app.source("s1").await;
    let src = Client::connect(&app.mqtt_host, app.mqtt_port, "s1", &user, &pass).await;
    let huge = vec![b'x'; 8_000];
    src.publish("alerts/s1", "{not json").await;
    src.publish(
        "alerts/s1",
        json!({"id":"a","kind":"medical","severity":9,"lat":39.5,"lon":106.7}).to_string(),
    )
    .await;
    src.publish("alerts/s1", huge).await;
    src.publish("frigate/events", "[]").await;
    w.c.publish(
        "owntracks/w1/phone",
        json!({"_type":"location","lat":"north"}).to_string(),
    )
    .await;
    w.c.publish(
        "dispatch/w1/tasks/t1/update",
        json!({"status":"teleported"}).to_string(),
    )
    .await;
    src.publish(
        "alerts/s1",
        json!({"id":"cam","kind":"fire","severity":2,"camera_id":"no-such-cam"}).to_string(),
    )
    .await;
    let dead = wait_for("seven dead letters", || async {
        let d = app.get("/api/v1/dead-letters").await;
        (d.as_array()?.len() >= 7).then_some(d)
    })
    .await;
    let reasons: Vec<String> = dead
        .as_array()
        .unwrap()
        .iter()
        .map(|d| format!("{} {}", d["topic"], d["reason"]))
        .collect();
    let text = reasons.join("\n");
    assert!(text.contains("severity"), "{text}");
    assert!(text.contains("unknown camera"), "{text}");
    assert!(text.contains("owntracks/w1/phone"), "{text}");
    assert!(text.contains("dispatch/w1/tasks/t1/update"), "{text}");
    assert!(text.contains("frigate/events"), "{text}");
    let big = dead
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["truncated"] == true)
        .expect("the 8 kB payload is kept truncated");
    assert_eq!(big["payload_text"].as_str().unwrap().len(), 4096);
    // Still working: a good alert after all that goes through.
    src.publish(
        "alerts/s1",
        json!({"id":"ok","kind":"medical","severity":2,"lat":39.5,"lon":106.7}).to_string(),
    )
    .await;
    wait_for("the good alert", || async {
        let l = app.get("/api/v1/incidents").await;
        (l.as_array()?.len() == 1).then_some(l)
    })
    .await;
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("griddispatch_dead_letters_total 7"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_worker_cannot_read_or_act_on_another_workers_tasks() {
    let app = TestApp::spawn(&[]).await;
    app.zone("g1", "grid", (39.49, 106.69), (39.50, 106.70))
        .await;
    let pw1 = app.responder("w1", "grid_worker", "foot", Some("g1")).await;
    let pw10 = app
        .responder("w10", "grid_worker", "foot", Some("g1"))
        .await;
    let mut victim = Worker::connect(&app, "w10", &pw10).await;
    victim.locate(&app, 39.495, 106.695).await;
    let mut snoop = Client::connect(&app.mqtt_host, app.mqtt_port, "snoop", "w1", &pw1).await;
    for filter in [
        "dispatch/w10/tasks/+",
        "dispatch/+/tasks/#",
        "#",
        "owntracks/+/+",
    ] {
        let codes = snoop.subscribe(filter).await;
        assert_eq!(
            codes,
            vec![SubscribeReasonCode::Failure],
            "{filter} was granted"
        );
    }
    // w1's password does not open w10's account either.
    let mut wrong =
        Client::try_connect(&app.mqtt_host, app.mqtt_port, "imposter", "w10", &pw1).await;
    let code = tokio::time::timeout(WAIT, wrong.connack.recv())
        .await
        .unwrap()
        .unwrap();
    assert_ne!(code, rumqttc::ConnectReturnCode::Success);

    let id = app
        .alert(json!({"id":"a1","kind":"medical","severity":2,"lat":39.4951,"lon":106.6951}))
        .await;
    let task = victim.expect_task().await;
    let tid = task["task_id"].as_str().unwrap();
    // Forged accept and forged location, published by w1 on w10's topics: dropped by the broker.
    snoop
        .publish(
            &format!("dispatch/w10/tasks/{tid}/update"),
            json!({"status":"accepted"}).to_string(),
        )
        .await;
    snoop
        .publish(
            "owntracks/w10/phone",
            json!({"_type":"location","lat":39.0,"lon":106.0,"tst":chrono::Utc::now().timestamp()})
                .to_string(),
        )
        .await;
    assert!(
        snoop
            .next_where(Duration::from_millis(500), |_, _| true)
            .await
            .is_none(),
        "w1 received something"
    );
    assert_eq!(app.incident(&id).await["state"], "dispatching");
    let r = app.get("/api/v1/responders/w10").await;
    assert_eq!(r["lat"].as_f64(), Some(39.495));
}
