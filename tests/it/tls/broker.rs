//! MQTTS and WSS on the embedded broker (`mqtt.tls_listen`, `mqtt.wss_listen`): a worker's
//! phone over each gets its task, a plain client on the TLS port gets nowhere.

use std::net::SocketAddr;
use std::sync::Arc;

use serde_json::json;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use super::{spawn, Certs, TlsClient};
use crate::common::test_settings;

/// A local TCP port whose connections are carried over WSS (TLS trusting `tls`, checking
/// the name `localhost`) to the broker's `/mqtt`, so an ordinary MQTT client speaks to the
/// broker the way the field app in an https page does (`common::ws`).
async fn wss_bridge(wss: SocketAddr, tls: Arc<rustls::ClientConfig>) -> u16 {
    crate::common::ws::bridge(move || {
        let tls = tls.clone();
        async move {
            let socket = tokio::net::TcpStream::connect(wss).await.unwrap();
            let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
            let secure = tokio_rustls::TlsConnector::from(tls)
                .connect(name, socket)
                .await
                .expect("TLS to the WSS listener");
            let mut req = format!("wss://localhost:{}/mqtt", wss.port())
                .into_client_request()
                .unwrap();
            req.headers_mut()
                .insert("sec-websocket-protocol", "mqtt".parse().unwrap());
            let (ws, resp) = tokio_tungstenite::client_async(req, secure)
                .await
                .expect("WebSocket handshake over TLS");
            assert_eq!(resp.headers()["sec-websocket-protocol"], "mqtt");
            ws
        }
    })
    .await
}

#[tokio::test]
async fn workers_get_their_tasks_over_mqtts_and_wss() {
    let dir = tempfile::tempdir().unwrap();
    let certs = Certs::make(dir.path(), "broker");
    let (cert, key) = (
        certs.cert.display().to_string(),
        certs.key.display().to_string(),
    );
    let settings = test_settings(
        &dir,
        &[
            ("GRIDDISPATCH__MQTT__TLS_LISTEN", "127.0.0.1:0"),
            ("GRIDDISPATCH__MQTT__WSS_LISTEN", "127.0.0.1:0"),
            ("GRIDDISPATCH__MQTT__TLS_CERT", &cert),
            ("GRIDDISPATCH__MQTT__TLS_KEY", &key),
        ],
    );
    let app = spawn(dir, settings, reqwest::Client::new()).await;
    let running = app.running.as_ref().unwrap();
    let mqtts = running.mqtt_tls_addr.expect("an MQTTS listener");
    let wss = running.mqtt_wss_addr.expect("a WSS listener");

    app.zone("g1", "grid", (39.49, 106.69), (39.50, 106.70))
        .await;
    let pw = app.responder("w1", "grid_worker", "foot", Some("g1")).await;

    // MQTTS: the phone trusts the CA and checks the name `localhost`.
    let mut phone = TlsClient::subscribed(
        "localhost",
        mqtts.port(),
        Some(certs.ca_pem()),
        "phone-w1",
        ("w1", &pw),
        "dispatch/w1/tasks/#",
    )
    .await;
    let tst = phone.locate("w1", 39.4951, 106.6951).await;
    app.wait_fix("w1", tst).await;
    let incident = app
        .alert(json!({"id":"a1","kind":"medical","severity":2,"lat":39.4952,"lon":106.6952}))
        .await;
    let task = phone.task("w1").await;
    assert_eq!(task["incident_id"], incident.as_str());

    // WSS: a second client of w1 over secure WebSocket finds the same (retained) task.
    let bridge = wss_bridge(wss, certs.rustls_client()).await;
    let mut browser = TlsClient::subscribed(
        "127.0.0.1",
        bridge,
        None,
        "browser-w1",
        ("w1", &pw),
        "dispatch/w1/tasks/+",
    )
    .await;
    let again = browser.task("w1").await;
    assert_eq!(again["task_id"], task["task_id"]);

    // Plain MQTT on the MQTTS port never gets a CONNACK.
    let mut plain = TlsClient::start("127.0.0.1", mqtts.port(), None, "plain-w1", "w1", &pw);
    assert!(plain.connected().await.is_err(), "plain MQTT got in");

    // A client that trusts another CA refuses the broker.
    let other = Certs::make(app.dir.path(), "other");
    let mut stranger = TlsClient::start(
        "localhost",
        mqtts.port(),
        Some(other.ca_pem()),
        "stranger-w1",
        "w1",
        &pw,
    );
    let e = stranger
        .connected()
        .await
        .expect_err("a foreign CA was trusted");
    assert!(
        e.to_lowercase().contains("certificate") || e.contains("UnknownIssuer"),
        "{e}"
    );
}
