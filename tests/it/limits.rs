//! The limits of issue 16, one test each, through the real listeners: body size per route
//! (413), request time (503), connections per address and in all on the HTTP listener and
//! on the embedded broker, the time to send a request's head, and field reports per login
//! (429). The floods that lean on these limits are in `hostile::floods`.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::BytesMut;
use rumqttc::mqttbytes::v4::Connect;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::timeout;

use crate::common::{self, worker, TestApp, WAIT};

/// A TCP connection to `to` from the loopback address `from` (127.0.0.x): how one machine
/// plays several clients, since every address of 127/8 is this host.
pub async fn connect_from(from: [u8; 4], to: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::from((from, 0)))?;
    socket.connect(to).await
}

/// Whether the server closed `s` without a word: EOF or a reset within [`WAIT`], before
/// any byte came.
pub async fn closed_silently(s: &mut TcpStream) -> bool {
    let mut buf = [0u8; 64];
    matches!(
        timeout(WAIT, s.read(&mut buf)).await,
        Ok(Ok(0)) | Ok(Err(_))
    )
}

/// The broker's address.
fn broker(app: &TestApp) -> SocketAddr {
    format!("{}:{}", app.mqtt_host, app.mqtt_port)
        .parse()
        .unwrap()
}

/// The HTTP listener's address.
fn http(app: &TestApp) -> SocketAddr {
    app.base.trim_start_matches("http://").parse().unwrap()
}

/// The status of a `/healthz` asked from 127.0.0.1 on a new connection.
async fn healthz(app: &TestApp) -> u16 {
    let mut s = connect_from([127, 0, 0, 1], http(app)).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut out = Vec::new();
    let _ = timeout(WAIT, s.read_to_end(&mut out)).await;
    let text = String::from_utf8_lossy(&out);
    text.split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

/// POSTs `body` to `path` with the admin token: (status, JSON answer).
async fn post_bytes(app: &TestApp, path: &str, body: reqwest::Body) -> (u16, Value) {
    let resp = app
        .http
        .post(format!("{}{path}", app.base))
        .bearer_auth(&app.token)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_body_over_its_routes_limit_is_413_and_import_routes_take_more() {
    let app = TestApp::spawn(&[]).await;
    // 2 MiB on a small-JSON route: refused from its Content-Length, before the body is
    // read. Only the head is sent: a client still writing the body when the answer comes
    // may see its connection reset before it reads the answer (CI saw a broken pipe).
    let big = json!({"id": "a1", "kind": "fire", "lat": 39.5, "lon": 106.7,
        "description": "x".repeat(2 << 20)})
    .to_string();
    let mut s = connect_from([127, 0, 0, 1], http(&app)).await.unwrap();
    let head = format!(
        "POST /api/v1/alerts HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        app.token,
        big.len()
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    let _ = timeout(WAIT, s.read_to_end(&mut out)).await;
    let answer = String::from_utf8_lossy(&out);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("http.limits.max_body_bytes"), "{answer}");
    // The same without a Content-Length (chunked): cut off once past the limit.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = big
        .into_bytes()
        .chunks(64 * 1024)
        .map(|c| Ok(c.to_vec()))
        .collect();
    let (status, answer) = post_bytes(
        &app,
        "/api/v1/alerts",
        reqwest::Body::wrap_stream(futures::stream::iter(chunks)),
    )
    .await;
    assert_eq!(status, 413, "{answer}");
    // 5 MiB of zones is read and judged on its content (422), not refused for its size.
    let zones = json!({"type": "FeatureCollection", "features": [],
        "padding": "x".repeat(5 << 20)});
    let (status, answer) = post_bytes(&app, "/api/v1/zones/import", zones.to_string().into()).await;
    assert_ne!(status, 413, "{answer}");
    // A field report carries a photo of up to 4 MiB (5.4 MiB of base64).
    let pw = app.responder("v1", "volunteer", "foot", None).await;
    let photo = "A".repeat(4 << 20);
    let resp = app
        .http
        .post(format!("{}/api/v1/field/reports", app.base))
        .basic_auth("v1", Some(&pw))
        .json(
            &json!({"request_id": "r1", "kind": "litter", "lat": 39.5, "lon": 106.7,
            "photo": photo}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status().as_u16(),
        422,
        "judged on the photo, not its size"
    );
    assert!(common::metric(&app.metrics().await, "http_bodies_too_large_total") >= 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_request_waiting_on_a_locked_database_is_answered_503_in_time() {
    let app = TestApp::spawn(&[("GRIDDISPATCH__HTTP__LIMITS__REQUEST_TIMEOUT_SECS", "1")]).await;
    app.zone("z1", "grid", (39.50, 106.70), (39.52, 106.72))
        .await;
    // Another program holds the database's write lock, as a long migration or a stuck
    // transaction would: the engine waits for it, and so would the operator.
    sqlx::any::install_default_drivers();
    let db = sqlx::AnyPool::connect(&app.db_url).await.unwrap();
    let mut lock = db.acquire().await.unwrap();
    if common::test_backend() == "postgres" {
        sqlx::query("BEGIN").execute(&mut *lock).await.unwrap();
        sqlx::query("LOCK TABLE incidents, alerts IN EXCLUSIVE MODE")
            .execute(&mut *lock)
            .await
            .unwrap();
    } else {
        sqlx::query("BEGIN IMMEDIATE")
            .execute(&mut *lock)
            .await
            .unwrap();
    }
    let (status, answer) = app
        .post(
            "/api/v1/alerts",
            json!({"id": "a1", "kind": "fire", "severity": 2, "lat": 39.51, "lon": 106.71}),
        )
        .await;
    assert_eq!(status, 503, "{answer}");
    assert!(answer["error"]
        .as_str()
        .unwrap()
        .contains("no answer within 1 s"));
    sqlx::query("ROLLBACK").execute(&mut *lock).await.unwrap();
    drop(lock);
    db.close().await;
    // The lock gone, the engine goes on; the alert it already had is stored once.
    let (status, answer) = app
        .post(
            "/api/v1/alerts",
            json!({"id": "a1", "kind": "fire", "severity": 2, "lat": 39.51, "lon": 106.71}),
        )
        .await;
    assert!(
        status == 200 || status == 201 || status == 202,
        "{status} {answer}"
    );
    assert!(common::metric(&app.metrics().await, "http_requests_timed_out_total") >= 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn http_connections_are_bounded_per_address_and_in_all() {
    let app = TestApp::spawn(&[
        ("GRIDDISPATCH__HTTP__LIMITS__MAX_CONNECTIONS", "6"),
        ("GRIDDISPATCH__HTTP__LIMITS__MAX_CONNECTIONS_PER_IP", "3"),
    ])
    .await;
    let to = http(&app);
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(connect_from([127, 0, 0, 2], to).await.unwrap());
    }
    // The listener takes connections in the order they came: this fourth is judged after
    // the three are held.
    let mut fourth = connect_from([127, 0, 0, 2], to).await.unwrap();
    assert!(
        closed_silently(&mut fourth).await,
        "a fourth from one address was kept"
    );
    assert_eq!(healthz(&app).await, 200, "another address is served");
    for _ in 0..2 {
        held.push(connect_from([127, 0, 0, 3], to).await.unwrap());
    }
    held.push(connect_from([127, 0, 0, 4], to).await.unwrap());
    // Six held: a seventh from anywhere is closed.
    let mut seventh = connect_from([127, 0, 0, 5], to).await.unwrap();
    assert!(
        closed_silently(&mut seventh).await,
        "a seventh connection was kept"
    );
    held.clear();
    common::wait_for("places given back", || async {
        (healthz(&app).await == 200).then_some(Value::Null)
    })
    .await;
    assert!(common::metric(&app.metrics().await, "http_connections_refused_total") >= 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_dribbles_its_headers_is_cut_off() {
    let app =
        TestApp::spawn(&[("GRIDDISPATCH__HTTP__LIMITS__HEADER_READ_TIMEOUT_SECS", "1")]).await;
    let mut s = connect_from([127, 0, 0, 2], http(&app)).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\n")
        .await
        .unwrap();
    // One byte every 200 ms: without the timeout this would take a minute, each byte
    // keeping the connection alive.
    let dribble = async {
        for _ in 0..300 {
            tokio::time::sleep(Duration::from_millis(200)).await;
            if s.write_all(b"a").await.is_err() {
                return true;
            }
        }
        false
    };
    let cut = timeout(WAIT, dribble).await.unwrap_or(false);
    assert!(cut, "the server kept a connection whose head never ended");
    // A kept-alive connection that sends no next request is closed the same way.
    let mut s = connect_from([127, 0, 0, 2], http(&app)).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let read = timeout(WAIT, s.read_to_end(&mut answer)).await;
    assert!(read.is_ok(), "an idle kept-alive connection was kept");
    assert!(answer.starts_with(b"HTTP/1.1 200"), "{answer:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn broker_connections_are_bounded_per_address_and_in_all() {
    let app = TestApp::spawn(&[
        ("GRIDDISPATCH__MQTT__LIMITS__MAX_CONNECTIONS", "5"),
        ("GRIDDISPATCH__MQTT__LIMITS__MAX_CONNECTIONS_PER_IP", "3"),
    ])
    .await;
    let to = broker(&app);
    let mut idle = Vec::new();
    for _ in 0..3 {
        idle.push(connect_from([127, 0, 0, 2], to).await.unwrap());
    }
    let mut fourth = connect_from([127, 0, 0, 2], to).await.unwrap();
    fourth.write_all(&connect_packet()).await.unwrap();
    assert!(
        closed_silently(&mut fourth).await,
        "a fourth from one address was served"
    );
    // An honest worker from another address connects, gets its task and answers it.
    app.zone("z1", "grid", (39.50, 106.70), (39.52, 106.72))
        .await;
    let mut w = worker(
        &app,
        "w1",
        "grid_worker",
        "foot",
        Some("z1"),
        (39.51, 106.71),
    )
    .await;
    idle.push(connect_from([127, 0, 0, 3], to).await.unwrap());
    // Five held (the worker's among them): one more from anywhere is closed, unanswered.
    let mut sixth = connect_from([127, 0, 0, 4], to).await.unwrap();
    sixth.write_all(&connect_packet()).await.unwrap();
    assert!(
        closed_silently(&mut sixth).await,
        "a sixth connection was served"
    );
    app.alert(
        json!({"id": "a1", "kind": "medical", "severity": 2, "lat": 39.5101, "lon": 106.7101}),
    )
    .await;
    let task = w.expect_task().await;
    let (ok, answer) = w
        .update(
            task["task_id"].as_str().unwrap(),
            json!({"status": "accepted", "version": 1}),
        )
        .await;
    assert!(ok, "{answer}");
    // Their places come back when the idle ones go: a new client is served (CONNACK).
    idle.clear();
    common::wait_for("a connection served again", || async {
        let mut s = connect_from([127, 0, 0, 4], to).await.ok()?;
        s.write_all(&connect_packet()).await.ok()?;
        let mut buf = [0u8; 4];
        match timeout(Duration::from_secs(2), s.read_exact(&mut buf)).await {
            Ok(Ok(_)) if buf[0] == 0x20 => Some(Value::Null),
            _ => None,
        }
    })
    .await;
    assert!(common::metric(&app.metrics().await, "broker_connections_over_limit_total") >= 2);
}

/// A CONNECT with a wrong login: a served connection answers it (CONNACK 4).
pub fn connect_packet() -> Vec<u8> {
    let mut c = Connect::new("stranger");
    c.set_login("nobody", "guess");
    let mut buf = BytesMut::new();
    c.write(&mut buf).unwrap();
    buf.to_vec()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_login_past_its_hourly_field_reports_is_answered_429() {
    let app = TestApp::spawn(&[("GRIDDISPATCH__FIELD__MAX_REPORTS_PER_HOUR", "2")]).await;
    let v1 = app.responder("v1", "volunteer", "foot", None).await;
    let v2 = app.responder("v2", "volunteer", "foot", None).await;
    let send = |user: &'static str, pw: String, id: &'static str| {
        let app = app.api.clone();
        async move {
            app.http
                .post(format!("{}/api/v1/field/reports", app.base))
                .basic_auth(user, Some(pw))
                .json(&json!({"request_id": id, "kind": "litter", "lat": 39.5, "lon": 106.7}))
                .send()
                .await
                .unwrap()
        }
    };
    for id in ["r1", "r2"] {
        let resp = send("v1", v1.clone(), id).await;
        assert_eq!(resp.status().as_u16(), 202, "{id}");
    }
    let resp = send("v1", v1.clone(), "r3").await;
    assert_eq!(resp.status().as_u16(), 429);
    let wait: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((3000..=3600).contains(&wait), "Retry-After {wait}");
    let answer: Value = resp.json().await.unwrap();
    assert!(answer["error"]
        .as_str()
        .unwrap()
        .contains("field.max_reports_per_hour"));
    // Another login has its own quota.
    assert_eq!(send("v2", v2, "r1").await.status().as_u16(), 202);
    assert_eq!(
        common::metric(&app.metrics().await, "field_reports_limited_total"),
        1
    );
}
