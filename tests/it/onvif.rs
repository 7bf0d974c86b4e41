//! ONVIF analytics end to end: a camera's RTSP stream with a real RTP metadata track
//! (VND.ONVIF.METADATA, packets built in the test and served by gst-rtsp-server), read by
//! the dispatcher's metadata session, turned into incidents and offers over MQTT.

use crate::common::rtsp;

use std::time::Duration;

use crate::common::{metric, w1_by_the_camera, wait_for, wait_metric, TestApp};
use chrono::{DateTime, Utc};
use griddispatch::video::metadata::{self, SessionError, SessionEvent};
use rtsp::{h264_launch, MetadataCamera, RtspServer};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

/// Sessions are reconciled every second, so a camera added by the test gets one at once.
const FAST: &[(&str, &str)] = &[("GRIDDISPATCH__VIDEO__ONVIF_RECONCILE_SECS", "1")];

/// A metadata document with one notification on `topic` (prefixed `tns1:`), for analytics
/// rule `rule`, with `message_attrs` on `tt:Message` and one data item, as cameras send it.
fn notification(
    topic: &str,
    rule: &str,
    at: DateTime<Utc>,
    message_attrs: &str,
    data: (&str, &str),
) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<tt:MetadataStream xmlns:tt="http://www.onvif.org/ver10/schema" xmlns:wsnt="http://docs.oasis-open.org/wsn/b-2" xmlns:tns1="http://www.onvif.org/ver10/topics">
  <tt:Event>
    <wsnt:NotificationMessage>
      <wsnt:Topic Dialect="http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet">tns1:{topic}</wsnt:Topic>
      <wsnt:Message>
        <tt:Message UtcTime="{}"{message_attrs}>
          <tt:Source>
            <tt:SimpleItem Name="VideoSourceConfigurationToken" Value="VideoSourceConfig_0"/>
            <tt:SimpleItem Name="VideoAnalyticsConfigurationToken" Value="AnalyticsConfig_0"/>
            <tt:SimpleItem Name="Rule" Value="{rule}"/>
          </tt:Source>
          <tt:Data><tt:SimpleItem Name="{}" Value="{}"/></tt:Data>
        </tt:Message>
      </wsnt:Message>
    </wsnt:NotificationMessage>
  </tt:Event>
</tt:MetadataStream>"#,
        at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        data.0,
        data.1,
    )
}

/// The cell motion detector's rule `YardMotion` going on or off.
fn motion(is_motion: bool, at: DateTime<Utc>) -> String {
    notification(
        "RuleEngine/CellMotionDetector/Motion",
        "YardMotion",
        at,
        r#" PropertyOperation="Changed""#,
        ("IsMotion", if is_motion { "true" } else { "false" }),
    )
}

/// A line detector rule `rule` crossed: an instant, so no PropertyOperation.
fn line_crossed(rule: &str, at: DateTime<Utc>) -> String {
    notification(
        "RuleEngine/LineDetector/Crossed",
        rule,
        at,
        "",
        ("ObjectId", "42"),
    )
}

/// The value of a metric line `griddispatch_<name> <value>`.
/// Waits until the RTSP server has `n` clients.
async fn wait_clients(server: &RtspServer, n: usize) {
    wait_for(&format!("{n} RTSP clients"), || async {
        (server.clients() == n).then_some(Value::Null)
    })
    .await;
}

/// Grid zone g1 and camera `id` in it reading `uri`'s metadata.
async fn onvif_camera(app: &TestApp, id: &str, uri: &str) {
    let (s, v) = app
        .post(
            "/api/v1/cameras",
            json!({"id": id, "name": "西门摄像头", "lat": 39.4955, "lon": 106.6955,
                   "stream_uri": uri, "onvif_metadata": true}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
}

async fn incidents(app: &TestApp) -> Vec<Value> {
    app.get("/api/v1/incidents")
        .await
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn motion_on_the_metadata_track_is_dispatched_once_per_cooldown() {
    let cam = MetadataCamera::start(0, true);
    let app = TestApp::spawn(FAST).await;
    app.zone("g1", "grid", (39.49, 106.69), (39.50, 106.70))
        .await;
    let mut w = w1_by_the_camera(&app).await;
    onvif_camera(&app, "cam1", &cam.uri()).await;

    // The session is up once the analytics-only frames (one every 200 ms) arrive; they
    // raise nothing.
    wait_metric(&app, "onvif_documents_total", 3).await;
    assert_eq!(cam.server.clients(), 1);
    assert_eq!(metric(&app.metrics().await, "onvif_sessions"), 1);
    assert!(incidents(&app).await.is_empty());

    // Motion starts; the document comes in two RTP packets.
    let t0 = Utc::now();
    cam.send(&motion(true, t0), 2);
    let task = w.expect_task().await;
    assert_eq!(task["kind"], "motion", "{task}");
    assert_eq!(task["status"], "offered", "{task}");
    let id = task["incident_id"].as_str().unwrap().to_owned();
    let inc = app.incident(&id).await;
    assert_eq!(inc["kind"], "motion", "{inc}");
    assert_eq!(inc["severity"], 4, "{inc}");
    assert_eq!(inc["location"], json!({"lat": 39.4955, "lon": 106.6955}));
    assert_eq!(inc["zone_id"], "g1", "{inc}");
    let alert = &inc["alerts"][0];
    assert_eq!(alert["camera_id"], "cam1", "{inc}");
    assert_eq!(alert["source_id"], "onvif", "{inc}");
    assert!(
        inc["description"].as_str().unwrap().contains("YardMotion"),
        "{inc}"
    );

    // The rule flaps: off, on, off, on … each a new event with its own time. Within the
    // cooldown none of them is a new alert.
    for i in 1..=6 {
        let at = t0 + chrono::Duration::seconds(i);
        cam.send(&motion(false, at), 1);
        cam.send(&motion(true, at + chrono::Duration::milliseconds(500)), 3);
    }
    wait_metric(&app, "onvif_detections_suppressed_total", 6).await;
    let list = incidents(&app).await;
    assert_eq!(list.len(), 1, "{list:?}");
    let inc = app.incident(&id).await;
    assert_eq!(inc["alerts"].as_array().unwrap().len(), 1, "{inc}");
    assert_eq!(metric(&app.metrics().await, "alerts_total"), 1);

    // Another rule on the same camera is not held back by the motion rule's cooldown.
    cam.send(&line_crossed("Substation fence", Utc::now()), 2);
    let list = wait_for("a tripwire incident", || async {
        let list = incidents(&app).await;
        list.iter()
            .any(|i| i["kind"] == "tripwire")
            .then(|| json!(list))
    })
    .await;
    assert_eq!(list.as_array().unwrap().len(), 2, "{list}");

    // A broken document is a dead letter, and the session carries on.
    cam.send(
        "<tt:MetadataStream xmlns:tt=\"http://www.onvif.org/ver10/schema\"><tt:Event>",
        2,
    );
    let letters = wait_for("a dead letter", || async {
        let l = app.get("/api/v1/dead-letters").await;
        (!l.as_array()?.is_empty()).then_some(l)
    })
    .await;
    assert_eq!(letters[0]["topic"], "onvif-metadata/cam1", "{letters}");
    assert!(
        letters[0]["reason"]
            .as_str()
            .unwrap()
            .contains("invalid metadata XML"),
        "{letters}"
    );
    assert!(
        letters[0]["payload_text"]
            .as_str()
            .unwrap()
            .starts_with("<tt:MetadataStream"),
        "{letters}"
    );
    assert_eq!(
        metric(&app.metrics().await, "onvif_documents_malformed_total"),
        1
    );
    let before = metric(&app.metrics().await, "onvif_documents_total");
    wait_metric(&app, "onvif_documents_total", before + 2).await;

    // Clearing the flag stops the session: the camera sees its client leave.
    let (s, v) = app
        .call(
            reqwest::Method::PATCH,
            "/api/v1/cameras/cam1",
            Some(&app.token),
            Some(json!({"onvif_metadata": false})),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    wait_clients(&cam.server, 0).await;
    wait_metric_eq(&app, "onvif_sessions", 0).await;
}

/// Waits until metric `name` is exactly `value`.
async fn wait_metric_eq(app: &TestApp, name: &str, value: u64) {
    wait_for(&format!("{name} = {value}"), || async {
        (metric(&app.metrics().await, name) == value).then_some(Value::Null)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_session_reconnects_after_the_camera_restarts_and_stops_with_the_app() {
    let cam = MetadataCamera::start(0, false);
    let port = cam.server.port;
    let mut app = TestApp::spawn(FAST).await;
    app.zone("g1", "grid", (39.49, 106.69), (39.50, 106.70))
        .await;
    onvif_camera(&app, "cam1", &cam.uri()).await;
    wait_metric(&app, "onvif_documents_total", 2).await;

    // The camera reboots: its connection drops, and it is back on the same port.
    drop(cam);
    let cam = MetadataCamera::start(port, false);
    wait_clients(&cam.server, 1).await;
    let before = metric(&app.metrics().await, "onvif_documents_total");
    wait_metric(&app, "onvif_documents_total", before + 2).await;
    cam.send(&line_crossed("North gate", Utc::now()), 1);
    wait_for("a tripwire incident", || async {
        let list = incidents(&app).await;
        list.iter()
            .any(|i| i["kind"] == "tripwire")
            .then(|| json!(list))
    })
    .await;

    // Shutting down tears the session down too.
    app.stop().await;
    wait_clients(&cam.server, 0).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn deleting_a_camera_stops_its_session_and_the_cap_leaves_cameras_out() {
    let a = MetadataCamera::start(0, false);
    let b = MetadataCamera::start(0, false);
    let app = TestApp::spawn(&[
        ("GRIDDISPATCH__VIDEO__ONVIF_RECONCILE_SECS", "1"),
        ("GRIDDISPATCH__VIDEO__MAX_ONVIF_SESSIONS", "1"),
    ])
    .await;
    onvif_camera(&app, "cam-a", &a.uri()).await;
    onvif_camera(&app, "cam-b", &b.uri()).await;
    wait_clients(&a.server, 1).await;
    // Reconciled a few times over, cam-b (second by id) still has no session.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(b.server.clients(), 0);
    assert_eq!(metric(&app.metrics().await, "onvif_sessions"), 1);

    // Deleting cam-a frees the slot for cam-b.
    let (s, v) = app
        .call(
            reqwest::Method::DELETE,
            "/api/v1/cameras/cam-a",
            Some(&app.token),
            None,
        )
        .await;
    assert!(s == 200 || s == 204, "{s} {v}");
    wait_clients(&a.server, 0).await;
    wait_clients(&b.server, 1).await;
}

#[test]
fn a_stream_without_a_metadata_track_says_so() {
    let server = RtspServer::start(&h264_launch(320, 240, 10), 0);
    let stop = CancellationToken::new();
    let mut events = Vec::new();
    let err = metadata::run(&server.uri(), &stop, |e| {
        events.push(e);
        true
    })
    .unwrap_err();
    eprintln!("{err}");
    match &err {
        SessionError::NoMetadataTrack(offered) => {
            assert!(offered.contains("video H264"), "{offered}")
        }
        other => panic!("expected NoMetadataTrack, got {other:?}"),
    }
    assert!(!events.contains(&SessionEvent::Linked), "{events:?}");
}

#[test]
fn a_metadata_session_reads_documents_and_stops_when_told() {
    let cam = MetadataCamera::start(0, true);
    let stop = CancellationToken::new();
    let doc = motion(true, Utc::now());
    let mut docs = Vec::new();
    let mut linked = false;
    let result = metadata::run(&cam.uri(), &stop, |e| {
        match e {
            SessionEvent::Linked => {
                linked = true;
                // Split across four packets.
                cam.send(&doc, 4);
            }
            SessionEvent::Document(d) => {
                docs.push(String::from_utf8(d).unwrap());
                if docs.iter().any(|d| d.contains("YardMotion")) {
                    stop.cancel();
                } else if docs.len() >= 150 {
                    // About 30 s of the camera's frames and never the motion: the asserts
                    // below fail with what was read, instead of the test hanging.
                    stop.cancel();
                } else {
                    // Sent again: a test camera drops what it is given before its stream
                    // plays, which on a loaded machine can come after the link.
                    cam.send(&doc, 4);
                }
            }
            SessionEvent::Lost(why) => panic!("lost a document: {why}"),
        }
        true
    });
    assert_eq!(result, Ok(()));
    assert!(linked);
    assert!(docs.contains(&doc), "{docs:?}");
    assert!(docs.iter().any(|d| d == rtsp::ANALYTICS_ONLY_FRAME));
}

#[test]
fn a_session_stuck_on_a_silent_camera_stops_when_told() {
    let cam = rtsp::SilentCamera::start();
    let stop = CancellationToken::new();
    let cancel = stop.clone();
    let canceller = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(500));
        cancel.cancel();
    });
    let started = std::time::Instant::now();
    // The camera accepted the connection and never answers DESCRIBE; the connect timeout
    // (10 s) has not run out when the stop comes.
    let result = metadata::run(&cam.uri(), &stop, |_| true);
    let took = started.elapsed();
    canceller.join().unwrap();
    eprintln!("{result:?} after {took:?}");
    assert_eq!(result, Ok(()));
    assert!(took < Duration::from_secs(5), "took {took:?}");
}
