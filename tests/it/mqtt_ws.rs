//! MQTT over WebSocket on the embedded broker (`mqtt.ws_listen`), as the field app in a
//! browser uses it: a real WebSocket client carries a real MQTT client's bytes.

use crate::common;
use std::net::SocketAddr;

use crate::common::{Api, TestApp, Worker};
use futures::{SinkExt, StreamExt};
use serde_json::json;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

async fn app_with_ws() -> (TestApp, SocketAddr) {
    let app = TestApp::spawn(&[("GRIDDISPATCH__MQTT__WS_LISTEN", "127.0.0.1:0")]).await;
    let ws = app.running.as_ref().unwrap().mqtt_ws_addr.unwrap();
    (app, ws)
}

/// Opens a WebSocket to the broker offering `protocol`.
async fn open(
    ws: SocketAddr,
    protocol: &str,
) -> Result<
    (
        tokio_tungstenite::WebSocketStream<
            tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
        >,
        Option<String>,
    ),
    String,
> {
    let mut req = format!("ws://{ws}/mqtt").into_client_request().unwrap();
    req.headers_mut()
        .insert("sec-websocket-protocol", protocol.parse().unwrap());
    let (stream, resp) = tokio_tungstenite::connect_async(req)
        .await
        .map_err(|e| e.to_string())?;
    let chosen = resp
        .headers()
        .get("sec-websocket-protocol")
        .map(|v| v.to_str().unwrap().to_owned());
    Ok((stream, chosen))
}

/// A local TCP port whose connections reach the broker over WebSocket (`common::ws`).
async fn ws_proxy(ws: SocketAddr) -> u16 {
    common::ws::bridge(move || async move {
        let (socket, chosen) = open(ws, "mqtt").await.unwrap();
        assert_eq!(chosen.as_deref(), Some("mqtt"));
        socket
    })
    .await
}

#[tokio::test]
async fn a_worker_on_websocket_gets_its_task_and_answers_it() {
    let (app, ws) = app_with_ws().await;
    app.zone("g1", "grid", (39.49, 106.69), (39.50, 106.70))
        .await;
    let pw = app.responder("w1", "grid_worker", "foot", Some("g1")).await;
    let via_ws = Api {
        base: app.base.clone(),
        token: app.token.clone(),
        http: reqwest::Client::new(),
        mqtt_host: "127.0.0.1".into(),
        mqtt_port: ws_proxy(ws).await,
    };
    let mut w = Worker::connect(&via_ws, "w1", &pw).await;
    w.locate(&via_ws, 39.4951, 106.6951).await;
    let id = app
        .alert(json!({"id":"ws-1","kind":"fall","severity":1,"lat":39.4955,"lon":106.6955}))
        .await;
    let task = w.expect_task().await;
    assert_eq!(task["incident_id"], id.as_str(), "{task}");
    let tid = task["task_id"].as_str().unwrap();
    let (ok, answer) = w
        .update(tid, json!({"status":"accepted","version":task["version"]}))
        .await;
    assert!(ok, "{answer}");
    app.wait_state(&id, "assigned").await;
}

#[tokio::test]
async fn websocket_logins_keep_their_topic_rights() {
    let (app, ws) = app_with_ws().await;
    app.responder("w1", "grid_worker", "foot", None).await;
    let pw2 = app.responder("w2", "grid_worker", "foot", None).await;
    let port = ws_proxy(ws).await;
    let mut spy = common::Client::connect("127.0.0.1", port, "spy", "w2", &pw2).await;
    let codes = spy.subscribe("dispatch/w1/tasks/#").await;
    assert_eq!(
        codes,
        [rumqttc::SubscribeReasonCode::Failure],
        "w2 must not read w1's tasks over WebSocket either"
    );
    let mut bad = common::Client::try_connect("127.0.0.1", port, "bad", "w2", "wrong").await;
    let code = tokio::time::timeout(std::time::Duration::from_secs(10), bad.connack.recv())
        .await
        .expect("connack in time")
        .expect("connack");
    assert_ne!(
        code,
        rumqttc::ConnectReturnCode::Success,
        "a wrong password logged in"
    );
}

#[tokio::test]
async fn the_mqtt_subprotocol_is_chosen_and_others_are_refused() {
    let (_app, ws) = app_with_ws().await;
    let (_s, chosen) = open(ws, "mqtt").await.unwrap();
    assert_eq!(chosen.as_deref(), Some("mqtt"));
    let err = open(ws, "chat").await.unwrap_err();
    assert!(err.contains("400"), "{err}");
    // Text frames are not MQTT: the broker closes the connection.
    let (mut s, _) = open(ws, "mqtt").await.unwrap();
    s.send(Message::Text("CONNECT".into())).await.unwrap();
    let next = tokio::time::timeout(std::time::Duration::from_secs(5), s.next())
        .await
        .expect("closed in time");
    assert!(
        matches!(next, None | Some(Ok(Message::Close(_))) | Some(Err(_))),
        "{next:?}"
    );
}
