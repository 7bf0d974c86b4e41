//! Camera health from Frigate's status topics, and the `camera_offline` incidents it opens.

use std::time::Duration;

use crate::common::{w1_by_the_camera, wait_for, Client, TestApp};
use serde_json::json;

const AFTER_1S: &[(&str, &str)] = &[("GRIDDISPATCH__VIDEO__OFFLINE_INCIDENT_AFTER_SECS", "1")];

/// A grid zone with camera `cam1` in it, and a Frigate source logged in.
async fn setup(app: &TestApp) -> Client {
    app.zone("g1", "grid", (39.49, 106.69), (39.50, 106.70))
        .await;
    let (s, v) = app
        .post(
            "/api/v1/cameras",
            json!({"id":"cam1","name":"北门摄像头","lat":39.4955,"lon":106.6955}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["zone_id"], "g1");
    let (user, pass) = app.source("frigate-nvr").await;
    Client::connect(&app.mqtt_host, app.mqtt_port, "frigate", &user, &pass).await
}

#[tokio::test]
async fn a_camera_offline_too_long_is_dispatched_and_closed_when_back() {
    let app = TestApp::spawn(AFTER_1S).await;
    let nvr = setup(&app).await;
    let cam = app.get("/api/v1/cameras/cam1").await;
    assert_eq!(cam["status"], "unknown", "{cam}");
    let mut w = w1_by_the_camera(&app).await;

    nvr.publish("frigate/cam1/status/detect", "offline").await;
    let cam = app.wait_camera_status("cam1", "offline").await;
    assert_eq!(cam["last_error"], "Frigate detect offline", "{cam}");
    assert!(cam["status_since"].as_i64().is_some(), "{cam}");
    let list = app.get("/api/v1/cameras").await;
    assert_eq!(list[0]["status"], "offline", "{list}");

    let task = w.expect_task().await;
    let tid = task["task_id"].as_str().unwrap().to_owned();
    let list = app.get("/api/v1/incidents").await;
    let incidents = list.as_array().unwrap();
    assert_eq!(incidents.len(), 1, "{list}");
    let id = incidents[0]["id"].as_str().unwrap().to_owned();
    let inc = app.incident(&id).await;
    assert_eq!(inc["kind"], "camera_offline", "{inc}");
    assert_eq!(inc["severity"], 4, "{inc}");
    assert_eq!(inc["location"], json!({"lat": 39.4955, "lon": 106.6955}));
    assert_eq!(inc["alerts"][0]["camera_id"], "cam1", "{inc}");

    nvr.publish("frigate/cam1/status/detect", "online").await;
    app.wait_state(&id, "closed").await;
    w.expect_cleared(&tid).await;
    let cam = app.wait_camera_status("cam1", "online").await;
    assert!(cam["last_seen"].as_i64().is_some(), "{cam}");
    let timeline = app.get(&format!("/api/v1/incidents/{id}/timeline")).await;
    let last = timeline.as_array().unwrap().last().unwrap();
    assert_eq!(last["actor"], "dispatcher", "{timeline}");
    assert_eq!(last["note"], "camera back online", "{timeline}");

    let (statuses, history) = app.camera_statuses("cam1").await;
    assert_eq!(statuses, ["online", "offline"], "{history}");
    assert_eq!(history[1]["reason"], "Frigate detect offline");
}

#[tokio::test]
async fn a_camera_back_before_the_delay_opens_no_incident() {
    let app = TestApp::spawn(&[("GRIDDISPATCH__VIDEO__OFFLINE_INCIDENT_AFTER_SECS", "2")]).await;
    let nvr = setup(&app).await;
    nvr.publish("frigate/cam1/status/detect", "disabled").await;
    let cam = app.wait_camera_status("cam1", "offline").await;
    assert_eq!(cam["last_error"], "detection disabled in Frigate");
    // A repeat keeps the spell (no new history row).
    nvr.publish("frigate/cam1/status/detect", "disabled").await;
    nvr.publish("frigate/cam1/status/detect", "online").await;
    app.wait_camera_status("cam1", "online").await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(app.get("/api/v1/incidents").await, json!([]));
    let history = app.get("/api/v1/cameras/cam1/history").await;
    assert_eq!(history.as_array().unwrap().len(), 2, "{history}");

    // Frigate going away makes the cameras it reported unknown.
    nvr.publish("frigate/available", "online").await;
    nvr.publish("frigate/available", "offline").await;
    let cam = app.wait_camera_status("cam1", "unknown").await;
    assert_eq!(cam["last_error"], "Frigate unavailable");
}

#[tokio::test]
async fn unknown_cameras_and_bad_payloads_are_dead_letters() {
    let app = TestApp::spawn(AFTER_1S).await;
    let nvr = setup(&app).await;
    nvr.publish("frigate/nosuchcam/status/detect", "offline")
        .await;
    nvr.publish("frigate/cam1/status/detect", "sleepy").await;
    nvr.publish("frigate/available", "{}").await;
    let letters = wait_for("dead letters", || async {
        let l = app.get("/api/v1/dead-letters").await;
        (l.as_array()?.len() >= 3).then_some(l)
    })
    .await;
    let text = letters.to_string();
    assert!(text.contains("unknown camera nosuchcam"), "{letters}");
    assert!(text.contains("online, offline or disabled"), "{letters}");
    assert!(text.contains("Frigate availability"), "{letters}");
    assert_eq!(app.get("/api/v1/cameras/cam1").await["status"], "unknown");
    assert_eq!(app.get("/api/v1/cameras/cam1/history").await, json!([]));
}
