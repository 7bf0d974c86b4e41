#![allow(clippy::unwrap_used)]
//! The field app's groundwork: its public settings endpoint.

mod common;

use common::TestApp;

#[tokio::test]
async fn field_config_is_public_and_names_the_websocket_listener() {
    let app = TestApp::spawn(&[
        ("GRIDDISPATCH__MQTT__WS_LISTEN", "0.0.0.0:0"),
        ("GRIDDISPATCH__FIELD__LOCATION_INTERVAL_SECS", "12"),
    ])
    .await;
    let ws = app.running.as_ref().unwrap().mqtt_ws_addr.unwrap();
    let (status, body) = app
        .api
        .call(reqwest::Method::GET, "/api/v1/field/config", None, None)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["location_interval_secs"], 12);
    // A wildcard listen address: the page combines port and path with its own host.
    assert!(body["mqtt_ws_url"].is_null(), "{body}");
    assert_eq!(body["mqtt_ws_port"], ws.port());
    assert_eq!(body["mqtt_ws_path"], "/mqtt");

    // Without a WebSocket listener there is nothing to connect to.
    let app = TestApp::spawn(&[]).await;
    let (status, body) = app
        .api
        .call(reqwest::Method::GET, "/api/v1/field/config", None, None)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["location_interval_secs"], 30);
    assert!(body["mqtt_ws_port"].is_null(), "{body}");
    assert!(body["mqtt_ws_url"].is_null(), "{body}");
}
