//! Camera stream probes end to end: a real RTSP server inside the test, the real app
//! probing it on its schedule, and the `camera_offline` incident that follows an outage.

use crate::common::rtsp;

use crate::common::{w1_by_the_camera, TestApp};
use rtsp::{h264_launch, RtspServer};
use serde_json::json;

const FAST: &[(&str, &str)] = &[
    ("GRIDDISPATCH__VIDEO__PROBE_INTERVAL_SECS", "1"),
    ("GRIDDISPATCH__VIDEO__PROBE_TIMEOUT_SECS", "3"),
    ("GRIDDISPATCH__VIDEO__OFFLINE_INCIDENT_AFTER_SECS", "1"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_probed_camera_goes_online_offline_and_back_with_its_incident() {
    let server = RtspServer::start(&h264_launch(320, 240, 10), 0);
    let port = server.port;
    let app = TestApp::spawn(FAST).await;
    app.zone("g1", "grid", (39.49, 106.69), (39.50, 106.70))
        .await;
    let (s, v) = app
        .post(
            "/api/v1/cameras",
            json!({"id":"gate","name":"小区大门","lat":39.4955,"lon":106.6955,"stream_uri": server.uri()}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let mut w = w1_by_the_camera(&app).await;

    let cam = app.wait_camera_status("gate", "online").await;
    assert_eq!(cam["width"], 320, "{cam}");
    assert_eq!(cam["height"], 240, "{cam}");
    let fps = cam["fps"].as_f64().unwrap();
    assert!((fps - 10.0).abs() < 1.5, "{cam}");
    assert!(cam["codec"].as_str().unwrap().contains("H.264"), "{cam}");
    assert!(cam["bitrate"].as_i64().unwrap() > 0, "{cam}");
    assert!(cam["last_seen"].as_i64().is_some(), "{cam}");

    // The camera loses power.
    drop(server);
    let cam = app.wait_camera_status("gate", "offline").await;
    assert!(
        cam["last_error"]
            .as_str()
            .unwrap()
            .starts_with("stream probe:"),
        "{cam}"
    );
    // What the stream was is kept while it is down.
    assert_eq!(cam["width"], 320, "{cam}");
    let task = w.expect_task().await;
    let tid = task["task_id"].as_str().unwrap().to_owned();
    let list = app.get("/api/v1/incidents").await;
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    let id = list[0]["id"].as_str().unwrap().to_owned();
    let inc = app.incident(&id).await;
    assert_eq!(inc["kind"], "camera_offline", "{inc}");
    assert_eq!(inc["severity"], 4, "{inc}");
    assert_eq!(inc["alerts"][0]["camera_id"], "gate", "{inc}");

    // Power is back: same address.
    let _server = RtspServer::start(&h264_launch(320, 240, 10), port);
    app.wait_camera_status("gate", "online").await;
    app.wait_state(&id, "closed").await;
    w.expect_cleared(&tid).await;

    let (statuses, history) = app.camera_statuses("gate").await;
    assert_eq!(statuses, ["online", "offline", "online"], "{history}");
}
