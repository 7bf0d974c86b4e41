//! The live feed `/api/v1/live`: a real WebSocket client against the real app, alerts over
//! real MQTT, reconnects with `since`.

use crate::common;
use std::time::Duration;

use crate::common::{w1_by_the_camera, Client, TestApp, WAIT};
use futures::StreamExt;
use griddispatch::domain::Role;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The handshake request, with a bearer token and extra headers.
fn request(
    app: &TestApp,
    query: &str,
    token: Option<&str>,
    headers: &[(&'static str, &str)],
) -> tokio_tungstenite::tungstenite::handshake::client::Request {
    let url = format!(
        "{}/api/v1/live{query}",
        app.base.replacen("http://", "ws://", 1)
    );
    let mut req = url.into_client_request().unwrap();
    if let Some(t) = token {
        req.headers_mut()
            .insert("authorization", format!("Bearer {t}").parse().unwrap());
    }
    for (k, v) in headers {
        req.headers_mut().insert(*k, v.parse().unwrap());
    }
    req
}

/// Connects with the admin token; `since` as given.
async fn connect(app: &TestApp, since: Option<u64>) -> Ws {
    let query = since.map(|s| format!("?since={s}")).unwrap_or_default();
    let (ws, _) = tokio_tungstenite::connect_async(request(app, &query, Some(&app.token), &[]))
        .await
        .unwrap();
    ws
}

/// The HTTP status a refused handshake got.
async fn refused(req: tokio_tungstenite::tungstenite::handshake::client::Request) -> (u16, String) {
    match tokio_tungstenite::connect_async(req).await {
        Err(WsError::Http(resp)) => (
            resp.status().as_u16(),
            String::from_utf8_lossy(resp.body().as_deref().unwrap_or_default()).into_owned(),
        ),
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("handshake accepted"),
    }
}

/// The next JSON message (pings skipped); panics after [`WAIT`] or on a close.
async fn next(ws: &mut Ws) -> Value {
    loop {
        let msg = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("a live message in time")
            .expect("connection open")
            .unwrap();
        match msg {
            Message::Text(t) => return serde_json::from_str(t.as_str()).unwrap(),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("unexpected {other:?}"),
        }
    }
}

/// Reads events until `done` holds for the list read so far; returns them all.
async fn until(ws: &mut Ws, what: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let mut seen = Vec::new();
    while !done(&seen) {
        let m = tokio::time::timeout(WAIT, next(ws))
            .await
            .unwrap_or_else(|_| panic!("waiting for {what}; saw {seen:?}"));
        seen.push(m);
    }
    seen
}

/// Every event's seq, which must run on by exactly one from `after`.
fn assert_consecutive(after: u64, events: &[Value]) {
    for (expect, e) in (after + 1..).zip(events) {
        assert_eq!(e["seq"].as_u64(), Some(expect), "gap or reorder at {e}");
    }
}

fn has_incident(events: &[Value], id: &str) -> bool {
    events
        .iter()
        .any(|e| e["type"] == "incident" && e["data"]["id"] == id)
}

fn hello_seq(m: &Value) -> u64 {
    assert_eq!(m["type"], "hello", "{m}");
    m["seq"].as_u64().unwrap()
}

async fn county(app: &TestApp) {
    app.zone("g1", "grid", (39.49, 106.69), (39.51, 106.71))
        .await;
}

#[tokio::test]
async fn alerts_over_mqtt_become_incident_events_in_order() {
    let app = TestApp::spawn(&[]).await;
    county(&app).await;
    let mut ws = connect(&app, None).await;
    let start = hello_seq(&next(&mut ws).await);

    let (user, pass) = app.source("sensor-1").await;
    let src = Client::connect(&app.mqtt_host, app.mqtt_port, "sensor-1", &user, &pass).await;
    src.publish(
        "alerts/sensor-1",
        json!({"id":"a-1","kind":"fire","severity":1,"lat":39.4950,"lon":106.6950}).to_string(),
    )
    .await;
    src.publish(
        "alerts/sensor-1",
        json!({"id":"a-2","kind":"flood","severity":3,"lat":39.5080,"lon":106.7080}).to_string(),
    )
    .await;

    let events = until(&mut ws, "two incidents", |seen| {
        seen.iter()
            .filter(|e| e["type"] == "incident" && e["data"]["state"] != "new")
            .map(|e| e["data"]["kind"].as_str().unwrap_or_default())
            .collect::<std::collections::HashSet<_>>()
            .len()
            == 2
    })
    .await;
    assert_consecutive(start, &events);
    let first = |kind: &str| {
        events
            .iter()
            .position(|e| e["type"] == "incident" && e["data"]["kind"] == kind)
            .unwrap()
    };
    assert!(first("fire") < first("flood"), "{events:?}");

    // The event carries the REST shape of the incident, including its latest state.
    let list = app.get("/api/v1/incidents").await;
    for item in list.as_array().unwrap() {
        let last = events
            .iter()
            .rev()
            .find(|e| e["type"] == "incident" && e["data"]["id"] == item["id"])
            .unwrap();
        assert_eq!(&last["data"], item, "live and REST differ");
    }
    let fire = &list
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["kind"] == "fire")
        .unwrap()["id"];
    assert!(
        events.iter().any(|e| e["type"] == "timeline"
            && e["data"]["incident_id"] == *fire
            && e["data"]["line"]["to"].is_string()),
        "{events:?}"
    );
}

#[tokio::test]
async fn a_reconnect_with_since_replays_what_was_missed() {
    let app = TestApp::spawn(&[]).await;
    county(&app).await;
    let mut worker = w1_by_the_camera(&app).await;

    let mut ws = connect(&app, None).await;
    let start = hello_seq(&next(&mut ws).await);
    let one = app
        .alert(json!({"id":"r-1","kind":"fire","severity":2,"lat":39.4950,"lon":106.6950}))
        .await;
    let seen = until(&mut ws, "the first incident", |s| has_incident(s, &one)).await;
    assert_consecutive(start, &seen);
    let last = seen.last().unwrap()["seq"].as_u64().unwrap();
    drop(ws);

    // While away: the worker gets and accepts the task, another incident opens.
    let task = worker.expect_task().await;
    let tid = task["task_id"].as_str().unwrap().to_owned();
    let (ok, answer) = worker
        .update(&tid, json!({"status":"accepted","version":task["version"]}))
        .await;
    assert!(ok, "{answer}");
    app.wait_state(&one, "assigned").await;
    let two = app
        .alert(json!({"id":"r-2","kind":"flood","severity":3,"lat":39.5080,"lon":106.7080}))
        .await;

    let mut ws = connect(&app, Some(last)).await;
    let now = hello_seq(&next(&mut ws).await);
    assert!(now > last);
    let replay = until(&mut ws, "the replay", |s| {
        s.last().and_then(|e| e["seq"].as_u64()) == Some(now)
    })
    .await;
    assert_consecutive(last, &replay);
    assert!(has_incident(&replay, &two), "{replay:?}");
    assert!(
        replay.iter().any(|e| e["type"] == "incident"
            && e["data"]["id"] == one
            && e["data"]["state"] == "assigned"),
        "{replay:?}"
    );
    assert!(
        replay.iter().any(|e| e["type"] == "task"
            && e["data"]["task_id"] == tid
            && e["data"]["status"] == "accepted"
            && e["data"]["incident_id"] == one),
        "{replay:?}"
    );
    assert!(
        replay.iter().any(|e| e["type"] == "responder"
            && e["data"]["id"] == "w1"
            && e["data"]["busy"] == true),
        "{replay:?}"
    );

    // Live again after the replay, still without a gap.
    let three = app
        .alert(json!({"id":"r-3","kind":"medical","severity":1,"lat":39.5020,"lon":106.7020}))
        .await;
    let more = until(&mut ws, "a live incident", |s| has_incident(s, &three)).await;
    assert_consecutive(now, &more);
}

#[tokio::test]
async fn a_since_the_ring_no_longer_holds_gets_resync() {
    let app = TestApp::spawn(&[]).await;
    county(&app).await;
    app.alert(json!({"id":"o-1","kind":"fire","severity":2,"lat":39.4950,"lon":106.6950}))
        .await;
    let mut ws = connect(&app, None).await;
    let now = hello_seq(&next(&mut ws).await);
    drop(ws);

    // From an earlier process (seqs start from the start time): too old.
    let mut ws = connect(&app, Some(0)).await;
    assert_eq!(hello_seq(&next(&mut ws).await), now);
    assert_eq!(next(&mut ws).await, json!({"type":"resync","seq":now}));
    // Ahead of this process: unknown.
    let mut ws = connect(&app, Some(now + 1_000)).await;
    hello_seq(&next(&mut ws).await);
    assert_eq!(next(&mut ws).await["type"], "resync");
    // Up to date: nothing to replay, then live events.
    let mut ws = connect(&app, Some(now)).await;
    hello_seq(&next(&mut ws).await);
    let id = app
        .alert(json!({"id":"o-2","kind":"flood","severity":3,"lat":39.5080,"lon":106.7080}))
        .await;
    let seen = until(&mut ws, "the new incident", |s| has_incident(s, &id)).await;
    assert_consecutive(now, &seen);
}

#[tokio::test]
async fn camera_status_changes_are_pushed() {
    let app = TestApp::spawn(&[]).await;
    county(&app).await;
    let (s, v) = app
        .post(
            "/api/v1/cameras",
            json!({"id":"cam1","name":"北门","lat":39.4955,"lon":106.6955}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let (user, pass) = app.source("frigate-nvr").await;
    let nvr = Client::connect(&app.mqtt_host, app.mqtt_port, "frigate", &user, &pass).await;
    let mut ws = connect(&app, None).await;
    hello_seq(&next(&mut ws).await);
    nvr.publish("frigate/cam1/status/detect", "offline").await;
    let seen = until(&mut ws, "camera offline", |s| {
        s.iter().any(|e| e["type"] == "camera")
    })
    .await;
    let cam = &seen.last().unwrap()["data"];
    assert_eq!(cam["id"], "cam1");
    assert_eq!(cam["status"], "offline");
    assert_eq!(cam["last_error"], "Frigate detect offline");
    assert!(cam["status_since"].as_i64().is_some(), "{cam}");
}

#[tokio::test]
async fn the_feed_needs_credentials_and_the_same_origin() {
    let app = TestApp::spawn(&[]).await;
    let (status, _) = refused(request(&app, "", None, &[])).await;
    assert_eq!(status, 401);
    let viewer = app.token(Role::Viewer).await;
    let host = app.base.trim_start_matches("http://").to_owned();
    // The console's session cookie only counts on a handshake from the console's own
    // origin: another site's page cannot open the feed with the user's cookie.
    let (s, v) = app
        .post(
            "/api/v1/users",
            serde_json::json!({"username":"watch","password":"correct horse","role":"viewer"}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let resp = reqwest::Client::new()
        .post(format!("{}/api/v1/session", app.base))
        .json(&serde_json::json!({"username":"watch","password":"correct horse"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let cookie = resp.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let (status, body) = refused(request(
        &app,
        "",
        None,
        &[("origin", "http://evil.example"), ("cookie", &cookie)],
    ))
    .await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("cross-origin"), "{body}");
    let same = format!("http://{host}");
    let (mut ws, _) = tokio_tungstenite::connect_async(request(
        &app,
        "",
        None,
        &[("origin", &same), ("cookie", &cookie)],
    ))
    .await
    .unwrap();
    hello_seq(&next(&mut ws).await);
    drop(ws);
    // The server notices the closed socket on its own time; the count below must start
    // from no open feed.
    common::wait_for("the cookie feed to be uncounted", || async {
        app.metrics()
            .await
            .contains("griddispatch_live_clients 0\n")
            .then_some(Value::Null)
    })
    .await;
    let (status, body) = refused(request(&app, "?since=abc", Some(&viewer), &[])).await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("since"), "{body}");

    // A viewer from the same origin is let in.
    let origin = format!("http://{host}");
    let (mut ws, _) =
        tokio_tungstenite::connect_async(request(&app, "", Some(&viewer), &[("origin", &origin)]))
            .await
            .unwrap();
    hello_seq(&next(&mut ws).await);
    assert!(
        app.metrics()
            .await
            .contains("griddispatch_live_clients 1\n"),
        "one open feed is counted"
    );
    drop(ws);
    common::wait_for("the closed feed to be uncounted", || async {
        app.metrics()
            .await
            .contains("griddispatch_live_clients 0\n")
            .then_some(Value::Null)
    })
    .await;
}

#[tokio::test]
async fn stopping_the_instance_closes_open_feeds() {
    let mut app = TestApp::spawn(&[]).await;
    let mut ws = connect(&app, None).await;
    hello_seq(&next(&mut ws).await);
    tokio::time::timeout(Duration::from_secs(8), app.stop())
        .await
        .expect("stops promptly with a feed open");
    let end = tokio::time::timeout(WAIT, async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Close(frame))) => return frame.map(|f| f.code.into()),
                Some(Ok(_)) => continue,
                _ => return None,
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(end, Some(1001u16));
}

#[tokio::test]
async fn a_reconnect_after_more_than_the_buffer_holds_gets_resync() {
    let app = TestApp::spawn(&[("GRIDDISPATCH__LIVE__BUFFER_EVENTS", "3")]).await;
    county(&app).await;
    let mut ws = connect(&app, None).await;
    let start = hello_seq(&next(&mut ws).await);
    for (n, kind) in ["fire", "flood", "medical"].iter().enumerate() {
        app.alert(json!({"id": format!("b-{n}"), "kind": kind, "severity": 2,
            "lat": 39.4950 + n as f64 * 0.005, "lon": 106.6950}))
            .await;
    }
    // Everything committed and announced: the open feed saw it all.
    let seen = until(&mut ws, "three incidents", |s| {
        s.iter().filter(|e| e["type"] == "incident").count() >= 3
    })
    .await;
    assert_consecutive(start, &seen);
    let now = app_current(&app).await;
    assert!(now - start > 3, "more events than the buffer holds");

    // Missed more than 3: resync. Missed the last one: replayed.
    let mut ws = connect(&app, Some(start)).await;
    assert_eq!(hello_seq(&next(&mut ws).await), now);
    assert_eq!(next(&mut ws).await, json!({"type":"resync","seq":now}));
    let mut ws = connect(&app, Some(now - 1)).await;
    hello_seq(&next(&mut ws).await);
    assert_eq!(next(&mut ws).await["seq"].as_u64(), Some(now));
}

/// The newest seq, from a fresh connection's `hello`.
async fn app_current(app: &TestApp) -> u64 {
    let mut ws = connect(app, None).await;
    hello_seq(&next(&mut ws).await)
}

#[tokio::test]
async fn a_client_that_falls_behind_is_closed_and_catches_up_with_since() {
    let app = TestApp::spawn(&[("GRIDDISPATCH__LIVE__CLIENT_BACKLOG", "1")]).await;
    county(&app).await;
    let mut slow = connect(&app, None).await;
    let start = hello_seq(&next(&mut slow).await);
    // One alert commits several events at once (incident, timeline line, …): more than
    // the backlog of 1, before the connection gets to send any.
    let id = app
        .alert(json!({"id":"s-1","kind":"fire","severity":2,"lat":39.4950,"lon":106.6950}))
        .await;
    let mut got = Vec::new();
    let close = tokio::time::timeout(WAIT, async {
        loop {
            match slow.next().await {
                Some(Ok(Message::Close(frame))) => return frame,
                Some(Ok(Message::Text(t))) => got.push(t.to_string()),
                Some(Ok(_)) => continue,
                other => panic!("closed without a close frame: {other:?}"),
            }
        }
    })
    .await
    .expect("the slow client is closed")
    .expect("with a reason");
    assert_eq!(u16::from(close.code), 1013);
    assert!(close.reason.contains("since"), "{}", close.reason);
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("griddispatch_live_slow_disconnects_total 1\n"),
        "{metrics}"
    );

    // The engine went on; reconnecting with since gets everything.
    app.wait_state(&id, "escalated").await;
    let mut ws = connect(&app, Some(start)).await;
    let now = hello_seq(&next(&mut ws).await);
    let replay = until(&mut ws, "the replay", |s| {
        s.last().and_then(|e| e["seq"].as_u64()) == Some(now)
    })
    .await;
    assert_consecutive(start, &replay);
    assert!(has_incident(&replay, &id), "{replay:?}");
}
