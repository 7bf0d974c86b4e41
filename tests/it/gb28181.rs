//! GB/T 28181 alarms as a video platform forwards them, over MQTT (`gb28181/alarm`) and
//! HTTP (`POST /api/v1/ingest/gb28181`), against the real app and its embedded broker.

use std::time::Duration;

use crate::common::{wait_for, Client, TestApp};
use griddispatch::domain::Role;
use serde_json::{json, Value};

const CAMERA_DEVICE: &str = "34020000001320000001";
const UNKNOWN_DEVICE: &str = "34020000001320000999";

/// An alarm `<Notify>` (UTF-8 prologue) with `extra` elements inside it.
fn notify(device: &str, sn: u32, priority: u8, method: u8, extra: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<Notify>
<CmdType>Alarm</CmdType>
<SN>{sn}</SN>
<DeviceID>{device}</DeviceID>
<AlarmPriority>{priority}</AlarmPriority>
<AlarmMethod>{method}</AlarmMethod>
<AlarmTime>2026-11-27T09:30:00</AlarmTime>
{extra}
</Notify>
"#
    )
}

/// The same alarm as GB2312 bytes, as most platforms send it.
fn gb2312(xml: &str) -> Vec<u8> {
    let xml = xml.replace(r#"encoding="UTF-8""#, r#"encoding="GB2312""#);
    let (bytes, _, unmappable) = encoding_rs::GBK.encode(&xml);
    assert!(!unmappable);
    bytes.into_owned()
}

/// Registers the north gate camera with its GB/T 28181 id, in zone g1.
async fn north_gate(app: &TestApp) {
    app.zone("g1", "grid", (39.49, 106.69), (39.50, 106.70))
        .await;
    let (s, v) = app
        .post(
            "/api/v1/cameras",
            json!({"id":"north_gate","name":"北门摄像头","lat":39.4955,"lon":106.6955,
                   "gb28181_id": CAMERA_DEVICE}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["gb28181_id"], CAMERA_DEVICE);
}

/// A platform's MQTT connection, logged in as a source.
async fn platform(app: &TestApp) -> Client {
    let (user, pass) = app.source("wvp").await;
    Client::connect(&app.mqtt_host, app.mqtt_port, "wvp", &user, &pass).await
}

/// POSTs raw bytes to the ingest endpoint.
async fn post_raw(app: &TestApp, token: Option<&str>, body: Vec<u8>) -> (u16, Value) {
    let mut req = app
        .http
        .post(format!("{}/api/v1/ingest/gb28181", app.base))
        .header("content-type", "Application/MANSCDP+xml")
        .body(body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// Waits for the only incident there is and returns it in full.
async fn the_incident(app: &TestApp) -> Value {
    let list = wait_for("an incident", || async {
        let l = app.get("/api/v1/incidents").await;
        (!l.as_array()?.is_empty()).then_some(l)
    })
    .await;
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    app.incident(list[0]["id"].as_str().unwrap()).await
}

/// Waits until there are `n` dead letters; newest first.
async fn dead_letters(app: &TestApp, n: usize) -> Vec<Value> {
    let v = wait_for("dead letters", || async {
        let l = app.get("/api/v1/dead-letters").await;
        (l.as_array()?.len() >= n).then_some(l)
    })
    .await;
    v.as_array().unwrap().clone()
}

#[tokio::test]
async fn gb2312_alarm_over_mqtt_opens_an_incident_at_the_camera() {
    let app = TestApp::spawn(&[]).await;
    north_gate(&app).await;
    let cams = app.get("/api/v1/cameras").await;
    assert_eq!(cams[0]["gb28181_id"], CAMERA_DEVICE, "{cams}");
    let wvp = platform(&app).await;
    let xml = notify(
        CAMERA_DEVICE,
        101,
        2,
        5,
        "<AlarmDescription>北门周界有人翻越</AlarmDescription><Info><AlarmType>6</AlarmType></Info>",
    );
    wvp.publish("gb28181/alarm", gb2312(&xml)).await;
    let inc = the_incident(&app).await;
    assert_eq!(inc["kind"], "intrusion");
    assert_eq!(inc["severity"], 2);
    assert_eq!(inc["location"], json!({"lat": 39.4955, "lon": 106.6955}));
    assert_eq!(inc["zone_id"], "g1");
    let alert = &inc["alerts"][0];
    assert_eq!(alert["source_id"], "gb28181");
    assert_eq!(alert["id"], format!("{CAMERA_DEVICE}:101"));
    assert_eq!(alert["camera_id"], "north_gate");
    let text = alert["description"].as_str().unwrap();
    assert!(text.contains("北门周界有人翻越"), "{text}");
    assert!(text.contains("video alarm: intrusion"), "{text}");
}

#[tokio::test]
async fn camera_gb28181_id_is_checked_and_unique() {
    let app = TestApp::spawn(&[]).await;
    north_gate(&app).await;
    let (s, v) = app
        .post(
            "/api/v1/cameras",
            json!({"id":"south_gate","name":"南门","lat":39.49,"lon":106.69,"gb28181_id": CAMERA_DEVICE}),
        )
        .await;
    assert_eq!(s, 409, "{v}");
    assert!(v["error"].as_str().unwrap().contains("gb28181_id"), "{v}");
    let (s, v) = app
        .post(
            "/api/v1/cameras",
            json!({"id":"south_gate","name":"南门","lat":39.49,"lon":106.69,"gb28181_id":"3402-bad"}),
        )
        .await;
    assert_eq!(s, 422, "{v}");
    // Cameras without one do not clash with each other.
    for id in ["a", "b"] {
        let (s, v) = app
            .post(
                "/api/v1/cameras",
                json!({"id": id, "name": id, "lat": 39.49, "lon": 106.69}),
            )
            .await;
        assert_eq!(s, 201, "{v}");
        assert_eq!(v["gb28181_id"], Value::Null);
    }
}

#[tokio::test]
async fn utf8_alarm_with_coordinates_from_an_unknown_device_opens_an_incident_there() {
    let app = TestApp::spawn(&[]).await;
    let wvp = platform(&app).await;
    let xml = notify(
        UNKNOWN_DEVICE,
        7,
        1,
        6,
        "<Longitude>106.7012</Longitude><Latitude>39.5034</Latitude><Info><AlarmType>1</AlarmType></Info>",
    );
    wvp.publish("gb28181/alarm", xml).await;
    let inc = the_incident(&app).await;
    assert_eq!(inc["kind"], "device_fault");
    assert_eq!(inc["severity"], 1);
    assert_eq!(inc["location"], json!({"lat": 39.5034, "lon": 106.7012}));
    assert_eq!(inc["alerts"][0]["camera_id"], Value::Null);
}

#[tokio::test]
async fn alarms_that_cannot_be_placed_or_read_become_dead_letters() {
    let app = TestApp::spawn(&[]).await;
    north_gate(&app).await;
    let wvp = platform(&app).await;
    wvp.publish("gb28181/alarm", notify(UNKNOWN_DEVICE, 1, 3, 5, ""))
        .await;
    wvp.publish("gb28181/alarm", "<Notify><CmdType>Alarm</CmdType>")
        .await;
    wvp.publish(
        "gb28181/alarm",
        notify(CAMERA_DEVICE, 2, 3, 5, "").replace(">Alarm<", ">Keepalive<"),
    )
    .await;
    let letters = dead_letters(&app, 3).await;
    let reasons: Vec<&str> = letters
        .iter()
        .rev()
        .map(|d| {
            assert_eq!(d["topic"], "gb28181/alarm");
            d["reason"].as_str().unwrap()
        })
        .collect();
    assert_eq!(
        reasons[0],
        format!("unknown GB/T 28181 device {UNKNOWN_DEVICE}")
    );
    assert!(reasons[1].starts_with("invalid XML"), "{reasons:?}");
    assert!(reasons[2].contains("Keepalive"), "{reasons:?}");
    assert_eq!(app.get("/api/v1/incidents").await, json!([]));
}

#[tokio::test]
async fn the_same_device_and_sn_twice_is_one_alert() {
    let app = TestApp::spawn(&[]).await;
    north_gate(&app).await;
    let wvp = platform(&app).await;
    let xml = notify(
        CAMERA_DEVICE,
        55,
        3,
        5,
        "<Info><AlarmType>8</AlarmType></Info>",
    );
    wvp.publish("gb28181/alarm", gb2312(&xml)).await;
    wvp.publish("gb28181/alarm", gb2312(&xml)).await;
    let inc = the_incident(&app).await;
    assert_eq!(inc["kind"], "loitering");
    // The platform re-sends it over HTTP too: still the same alert.
    let (s, v) = post_raw(&app, Some(&app.token), xml.into_bytes()).await;
    assert_eq!(s, 202, "{v}");
    assert_eq!(v["duplicate"], true, "{v}");
    assert_eq!(v["incident_id"], inc["id"]);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let inc = app.incident(inc["id"].as_str().unwrap()).await;
    assert_eq!(inc["alerts"].as_array().unwrap().len(), 1, "{inc}");
    assert_eq!(app.get("/api/v1/dead-letters").await, json!([]));
}

#[tokio::test]
async fn http_endpoint_takes_alarms_and_refuses_garbage() {
    let app = TestApp::spawn(&[]).await;
    north_gate(&app).await;
    let operator = app.token(Role::Operator).await;
    let xml = notify(
        CAMERA_DEVICE,
        9,
        4,
        2,
        "<AlarmDescription>镜头被遮挡</AlarmDescription><Info><AlarmType>2</AlarmType></Info>",
    );
    let (s, v) = post_raw(&app, None, gb2312(&xml)).await;
    assert_eq!(s, 401, "{v}");
    let (s, v) = post_raw(&app, Some(&operator), gb2312(&xml)).await;
    assert_eq!(s, 202, "{v}");
    assert_eq!(v["duplicate"], false);
    assert_eq!(v["correlated"], false);
    assert!(v["alert_id"].is_string(), "{v}");
    let inc = app.incident(v["incident_id"].as_str().unwrap()).await;
    assert_eq!(inc["kind"], "camera_fault");
    assert_eq!(inc["severity"], 4);
    assert!(
        inc["alerts"][0]["description"]
            .as_str()
            .unwrap()
            .contains("镜头被遮挡"),
        "{inc}"
    );

    let (s, v) = post_raw(&app, Some(&operator), b"\x00\x01 not xml".to_vec()).await;
    assert_eq!(s, 422, "{v}");
    let reason = v["error"].as_str().unwrap();
    assert!(reason.starts_with("invalid XML"), "{v}");
    let (s, v) = post_raw(
        &app,
        Some(&operator),
        notify(UNKNOWN_DEVICE, 1, 1, 1, "").into(),
    )
    .await;
    assert_eq!(s, 422, "{v}");
    assert_eq!(
        v["error"],
        format!("unknown GB/T 28181 device {UNKNOWN_DEVICE}")
    );
    let letters = dead_letters(&app, 2).await;
    assert_eq!(letters.len(), 2);
    for d in &letters {
        assert_eq!(d["topic"], "POST /api/v1/ingest/gb28181");
    }
    assert_eq!(letters[1]["reason"], reason);
    assert_eq!(letters[1]["payload_base64"], "AAEgbm90IHhtbA==");
}

#[tokio::test]
async fn alarm_time_is_read_in_asia_shanghai() {
    let app = TestApp::spawn(&[]).await;
    let (s, v) = post_raw(
        &app,
        Some(&app.token),
        notify(
            UNKNOWN_DEVICE,
            3,
            2,
            7,
            "<Longitude>106.7</Longitude><Latitude>39.5</Latitude>",
        )
        .into(),
    )
    .await;
    assert_eq!(s, 202, "{v}");
    let inc = app.incident(v["incident_id"].as_str().unwrap()).await;
    assert_eq!(inc["kind"], "alarm");
    let time =
        chrono::DateTime::parse_from_rfc3339(inc["alerts"][0]["time"].as_str().unwrap()).unwrap();
    // 09:30 local in Shanghai (UTC+8, no daylight saving) is 01:30 UTC.
    let want = chrono::DateTime::parse_from_rfc3339("2026-11-27T01:30:00Z").unwrap();
    assert_eq!(time, want, "{inc}");
}
