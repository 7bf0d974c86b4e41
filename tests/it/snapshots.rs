//! Snapshots on alerts: a frame of the camera's real RTSP stream (or Frigate's picture),
//! stored, listed on the incident, served over the API and linked from the worker's task.

use crate::common;
use crate::common::rtsp;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::common::{w1_by_the_camera, wait_for, Client, TestApp, Worker};
use griddispatch::video::snapshot::test_card_jpeg;
use rtsp::{h264_launch, RtspServer, SilentCamera};
use serde_json::{json, Value};

/// A grid zone, camera `cam1` in it streaming from `stream_uri`, and worker `w1` next to
/// it, on duty.
async fn setup(app: &TestApp, stream_uri: Option<&str>) -> Worker {
    app.zone("g1", "grid", (39.49, 106.69), (39.50, 106.70))
        .await;
    let (s, v) = app
        .post(
            "/api/v1/cameras",
            json!({"id":"cam1","name":"北门摄像头","lat":39.4955,"lon":106.6955,"stream_uri":stream_uri}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    w1_by_the_camera(app).await
}

/// The incident's snapshots once there are `n` of them.
async fn wait_snapshots(app: &TestApp, id: &str, n: usize) -> Value {
    wait_for(&format!("{n} snapshot(s) of {id}"), || async {
        let inc = app.incident(id).await;
        (inc["snapshots"].as_array()?.len() >= n).then(|| inc["snapshots"].clone())
    })
    .await
}

/// GET with a token: (status, content type, body).
async fn download(app: &TestApp, path: &str, token: Option<&str>) -> (u16, String, Vec<u8>) {
    let mut req = app.http.get(format!("{}{path}", app.base));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    fetch(req).await
}

/// GET with an MQTT login as HTTP Basic, as the field app sends it.
async fn download_as(app: &TestApp, path: &str, user: &str, pw: &str) -> (u16, String, Vec<u8>) {
    fetch(
        app.http
            .get(format!("{}{path}", app.base))
            .basic_auth(user, Some(pw)),
    )
    .await
}

async fn fetch(req: reqwest::RequestBuilder) -> (u16, String, Vec<u8>) {
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let ctype = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, ctype, resp.bytes().await.unwrap().to_vec())
}

/// Width and height of a JPEG, read by an independent decoder.
fn decoded_size(jpeg: &[u8]) -> (u16, u16) {
    let mut decoder = jpeg_decoder::Decoder::new(jpeg);
    let pixels = decoder.decode().expect("a decodable JPEG");
    let info = decoder.info().unwrap();
    assert!(!pixels.is_empty());
    (info.width, info.height)
}

fn timeline_notes(timeline: &Value) -> Vec<String> {
    timeline
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|l| l["note"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_alert_naming_a_camera_gets_a_jpeg_of_its_stream_linked_from_the_task() {
    let server = RtspServer::start(&h264_launch(320, 240, 10), 0);
    let app = TestApp::spawn(&[]).await;
    let mut w = setup(&app, Some(&server.uri())).await;

    let id = app
        .alert(json!({"id":"a1","kind":"fall","severity":2,"camera_id":"cam1"}))
        .await;
    let offer = w.expect_task().await;
    assert_eq!(offer["version"], 1, "{offer}");
    let tid = offer["task_id"].as_str().unwrap().to_owned();

    // The retained task is published again, one version up, with the snapshot's link.
    let updated = w.expect_task().await;
    assert_eq!(updated["task_id"], tid.as_str(), "{updated}");
    assert_eq!(updated["version"], 2, "{updated}");
    assert_eq!(updated["status"], "offered", "{updated}");
    let url = format!("/api/v1/incidents/{id}/snapshots/1.jpg");
    assert_eq!(updated["snapshots"][0]["url"], url.as_str(), "{updated}");
    assert_eq!(updated["snapshots"][0]["camera_id"], "cam1", "{updated}");

    let snaps = wait_snapshots(&app, &id, 1).await;
    assert_eq!(snaps.as_array().unwrap().len(), 1, "{snaps}");
    let s = &snaps[0];
    assert_eq!(s["n"], 1, "{s}");
    assert_eq!(s["url"], url.as_str(), "{s}");
    assert_eq!(s["camera_id"], "cam1", "{s}");
    assert_eq!(s["source"], "stream", "{s}");
    assert!(s["taken_at"].as_str().unwrap().contains('T'), "{s}");

    let (status, ctype, jpeg) = download(&app, &url, Some(&app.token)).await;
    assert_eq!(status, 200);
    assert_eq!(ctype, "image/jpeg");
    assert_eq!(decoded_size(&jpeg), (320, 240), "the stream's own size");
    assert_eq!(s["bytes"], jpeg.len(), "{s}");
    assert_eq!(
        (s["width"].clone(), s["height"].clone()),
        (json!(320), json!(240))
    );

    // Like the rest of the API: a token is needed, a viewer's will do.
    let (status, _, _) = download(&app, &url, None).await;
    assert_eq!(status, 401);
    let viewer = app.token(griddispatch::domain::Role::Viewer).await;
    assert_eq!(download(&app, &url, Some(&viewer)).await.0, 200);
    for bad in [
        format!("/api/v1/incidents/{id}/snapshots/2.jpg"),
        format!("/api/v1/incidents/{id}/snapshots/x.jpg"),
        format!("/api/v1/incidents/{id}/snapshots/1.png"),
        format!("/api/v1/incidents/{id}/snapshots/..%2F..%2Ftest.db"),
        "/api/v1/incidents/..%2F..%2Ftest.db/snapshots/1.jpg".to_owned(),
        "/api/v1/incidents/inc-nope/snapshots/1.jpg".to_owned(),
    ] {
        let (status, _, _) = download(&app, &bad, Some(&app.token)).await;
        assert_eq!(status, 404, "{bad}");
    }

    // A phone that pressed accept on the offer it was first shown (version 1), while the
    // snapshot link was on its way, is not refused as stale: the link changed nothing it
    // answers.
    let (ok, answer) = w
        .update(&tid, json!({"status":"accepted","version":1}))
        .await;
    assert!(ok, "{answer}");
    assert_eq!(answer["version"], 3, "{answer}");
    // Once the status moved on, the versions before that move are stale.
    let (ok, answer) = w
        .update(&tid, json!({"status":"en_route","version":2}))
        .await;
    assert!(!ok, "{answer}");
    assert!(
        answer["reason"].as_str().unwrap().contains("stale"),
        "{answer}"
    );
    let timeline = app.get(&format!("/api/v1/incidents/{id}/timeline")).await;
    assert!(
        timeline_notes(&timeline).contains(&"snapshot 1 from cam1 (stream)".to_owned()),
        "{timeline}"
    );
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("griddispatch_snapshots_total 1"),
        "{metrics}"
    );

    // After a restart the republished inbox still carries the link.
    let mut app = app;
    app.stop().await;
    let dir = std::mem::replace(&mut app.dir, tempfile::tempdir().unwrap());
    let settings = common::test_settings(&dir, &[]);
    let app = TestApp::spawn_with(dir, settings).await;
    let (s, v) = app
        .post("/api/v1/responders/w1/reset-password", json!({}))
        .await;
    assert_eq!(s, 200, "{v}");
    let mut w = Worker::connect(&app, "w1", v["mqtt"]["password"].as_str().unwrap()).await;
    let again = w.expect_task().await;
    assert_eq!(again["task_id"], tid.as_str(), "{again}");
    assert_eq!(again["version"], 3, "{again}");
    assert_eq!(again["snapshots"][0]["url"], url.as_str(), "{again}");
}

/// The field app has the worker's MQTT login and no API token: with it, a worker sees the
/// snapshots of an incident they were offered, and nobody else's.
#[tokio::test(flavor = "multi_thread")]
async fn a_worker_sees_the_snapshots_of_their_own_incident_with_their_phone_login() {
    let server = RtspServer::start(&h264_launch(320, 240, 10), 0);
    let app = TestApp::spawn(&[]).await;
    let mut w = setup(&app, Some(&server.uri())).await;
    let pw = w.password.clone();
    let other_pw = app.responder("w2", "grid_worker", "bike", None).await;
    let (source_user, source_pw) = app.source("s1").await;

    let id = app
        .alert(json!({"id":"a1","kind":"fall","severity":2,"camera_id":"cam1"}))
        .await;
    assert_eq!(w.expect_task().await["incident_id"], id.as_str());
    let snaps = wait_snapshots(&app, &id, 1).await;
    let url = snaps[0]["url"].as_str().unwrap().to_owned();

    let (status, ctype, jpeg) = download_as(&app, &url, "w1", &pw).await;
    assert_eq!((status, ctype.as_str()), (200, "image/jpeg"));
    assert_eq!(decoded_size(&jpeg), (320, 240));
    // Another worker, a source, a wrong password, garbage: no picture.
    assert_eq!(download_as(&app, &url, "w2", &other_pw).await.0, 404);
    assert_eq!(
        download_as(&app, &url, &source_user, &source_pw).await.0,
        401
    );
    assert_eq!(download_as(&app, &url, "w1", "wrong").await.0, 401);
    let garbage = app
        .http
        .get(format!("{}{url}", app.base))
        .header("authorization", "Basic %%%not-base64");
    assert_eq!(fetch(garbage).await.0, 401);
    // The login opens only snapshots, not the rest of the API.
    let (status, _, _) = download_as(&app, &format!("/api/v1/incidents/{id}"), "w1", &pw).await;
    assert_eq!(status, 401);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_camera_that_does_not_answer_delays_nothing_and_leaves_a_reason() {
    let cam = SilentCamera::start();
    let app = TestApp::spawn(&[("GRIDDISPATCH__VIDEO__SNAPSHOT_TIMEOUT_SECS", "3")]).await;
    let mut w = setup(&app, Some(&cam.uri())).await;

    let id = app
        .alert(json!({"id":"a1","kind":"fall","severity":2,"camera_id":"cam1"}))
        .await;
    // The offer is out while the grab is still waiting for the camera (3 s).
    let offer = w.expect_task().await;
    assert_eq!(offer["version"], 1, "{offer}");
    assert!(offer.get("snapshots").is_none(), "{offer}");
    let inc = app.incident(&id).await;
    assert_eq!(inc["state"], "dispatching", "{inc}");
    assert_eq!(inc["snapshots"], json!([]), "{inc}");
    let timeline = app.get(&format!("/api/v1/incidents/{id}/timeline")).await;
    assert!(
        !timeline.to_string().contains("snapshot"),
        "the grab cannot have ended yet: {timeline}"
    );

    let note = wait_for("the snapshot failure on the timeline", || async {
        let t = app.get(&format!("/api/v1/incidents/{id}/timeline")).await;
        timeline_notes(&t)
            .into_iter()
            .find(|n| n.starts_with("snapshot from cam1 failed: "))
            .map(Value::String)
    })
    .await;
    eprintln!("{note}");
    let inc = app.incident(&id).await;
    assert_eq!(inc["snapshots"], json!([]), "{inc}");
    assert_eq!(
        inc["tasks"][0]["version"], 1,
        "no new version without a picture"
    );
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("griddispatch_snapshots_failed_total 1"),
        "{metrics}"
    );
}

/// A stand-in for Frigate's HTTP API: `/api/events/ev-1/snapshot.jpg` is `jpeg`, every
/// other event is 404 (as Frigate answers for an event without a picture). Counts requests.
async fn fake_frigate(jpeg: Vec<u8>) -> (String, Arc<AtomicUsize>) {
    use axum::extract::Path;
    use axum::http::{header, StatusCode};
    use axum::response::IntoResponse;

    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let app = axum::Router::new().route(
        "/api/events/{id}/snapshot.jpg",
        axum::routing::get(move |Path(id): Path<String>| {
            let jpeg = jpeg.clone();
            counter.fetch_add(1, Ordering::SeqCst);
            async move {
                if id == "ev-1" {
                    ([(header::CONTENT_TYPE, "image/jpeg")], jpeg).into_response()
                } else {
                    (StatusCode::NOT_FOUND, "Event not found").into_response()
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, hits)
}

fn frigate_event(kind: &str, id: &str, label: &str, has_snapshot: bool) -> String {
    json!({"type": kind, "before": {}, "after": {
        "id": id, "camera": "cam1", "label": label, "sub_label": null,
        "score": 0.8, "top_score": 0.8, "false_positive": false,
        "start_time": 1700000000.5, "end_time": null, "current_zones": [],
        "has_snapshot": has_snapshot, "has_clip": true
    }})
    .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_frigate_event_with_a_snapshot_gets_frigates_picture_instead_of_the_stream() {
    let served = test_card_jpeg(64, 48, "smpte").unwrap();
    let (frigate_url, hits) = fake_frigate(served.clone()).await;
    // The camera streams too: the picture must still come from Frigate.
    let server = RtspServer::start(&h264_launch(320, 240, 10), 0);
    let app = TestApp::spawn(&[("GRIDDISPATCH__FRIGATE__URL", frigate_url.as_str())]).await;
    let mut w = setup(&app, Some(&server.uri())).await;
    let (user, pass) = app.source("frigate-nvr").await;
    let nvr = Client::connect(&app.mqtt_host, app.mqtt_port, "frigate", &user, &pass).await;

    nvr.publish("frigate/events", frigate_event("new", "ev-1", "fire", true))
        .await;
    let offer = w.expect_task().await;
    let id = offer["incident_id"].as_str().unwrap().to_owned();
    let snaps = wait_snapshots(&app, &id, 1).await;
    assert_eq!(snaps[0]["source"], "frigate", "{snaps}");
    assert_eq!(
        (snaps[0]["width"].clone(), snaps[0]["height"].clone()),
        (json!(64), json!(48))
    );
    let url = snaps[0]["url"].as_str().unwrap().to_owned();
    let (status, ctype, jpeg) = download(&app, &url, Some(&app.token)).await;
    assert_eq!((status, ctype.as_str()), (200, "image/jpeg"));
    assert!(
        jpeg == served,
        "the stored picture is Frigate's, byte for byte"
    );
    let updated = w.expect_task().await;
    assert_eq!(updated["version"], 2, "{updated}");
    assert_eq!(updated["snapshots"][0]["url"], url.as_str(), "{updated}");

    // Frigate's later messages about the same event fetch nothing more, and the stream is
    // never grabbed for it.
    nvr.publish("frigate/events", frigate_event("end", "ev-1", "fire", true))
        .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let inc = app.incident(&id).await;
    assert_eq!(inc["snapshots"].as_array().unwrap().len(), 1, "{inc}");
    assert_eq!(hits.load(Ordering::SeqCst), 1);

    // An event Frigate has no picture of: its answer is the logged reason.
    nvr.publish(
        "frigate/events",
        frigate_event("new", "ev-gone", "car", true),
    )
    .await;
    let note = wait_for("the Frigate failure on a timeline", || async {
        for inc in app.get("/api/v1/incidents").await.as_array()? {
            let t = app
                .get(&format!(
                    "/api/v1/incidents/{}/timeline",
                    inc["id"].as_str()?
                ))
                .await;
            if let Some(n) = timeline_notes(&t)
                .into_iter()
                .find(|n| n.starts_with("snapshot from cam1 failed"))
            {
                return Some(Value::String(n));
            }
        }
        None
    })
    .await;
    assert!(note.as_str().unwrap().contains("404"), "{note}");
}
