//! HTTPS on the API and console (`http.tls_cert`, `http.tls_key`).

use std::time::Duration;

use griddispatch::domain::Role;
use serde_json::json;
use tokio::io::AsyncReadExt;

use super::{spawn, Certs};
use crate::common::{test_settings, WAIT};

/// An instance whose HTTP listener speaks only TLS, with `extra` settings.
async fn https_app(extra: &[(&str, &str)]) -> (crate::common::TestApp, Certs) {
    let dir = tempfile::tempdir().unwrap();
    let certs = Certs::make(dir.path(), "https");
    let (cert, key) = (
        certs.cert.display().to_string(),
        certs.key.display().to_string(),
    );
    let mut env = vec![
        ("GRIDDISPATCH__HTTP__TLS_CERT", cert.as_str()),
        ("GRIDDISPATCH__HTTP__TLS_KEY", key.as_str()),
    ];
    env.extend_from_slice(extra);
    let settings = test_settings(&dir, &env);
    let app = spawn(dir, settings, certs.https_client()).await;
    (app, certs)
}

#[tokio::test]
async fn the_api_speaks_https_only_and_its_cookie_is_secure() {
    let (app, _certs) = https_app(&[]).await;
    assert!(app.base.starts_with("https://localhost:"), "{}", app.base);

    // A client trusting the CA reads and writes the API.
    app.zone("g1", "grid", (39.49, 106.69), (39.50, 106.70))
        .await;
    let zones = app.get("/api/v1/zones").await;
    assert!(zones.to_string().contains("g1"), "{zones}");

    // Plain http on the same port gets no answer: the bytes are not a TLS handshake.
    let port = app.running.as_ref().unwrap().http_addr.port();
    let plain = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/healthz"))
        .timeout(WAIT)
        .send()
        .await;
    assert!(plain.is_err(), "plain http answered: {plain:?}");

    // A client that does not trust the CA refuses the server.
    let stranger = reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .build()
        .unwrap()
        .get(format!("{}/healthz", app.base))
        .send()
        .await;
    let e = stranger.expect_err("an untrusted certificate was accepted");
    assert!(e.is_connect(), "{e:?}");

    // The session cookie is Secure over HTTPS, without http.public_url saying so.
    app.running
        .as_ref()
        .unwrap()
        .store
        .create_user("alice", "correct horse", Role::Operator)
        .await
        .unwrap();
    let login = app
        .http
        .post(format!("{}/api/v1/session", app.base))
        .json(&json!({"username": "alice", "password": "correct horse"}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    let set = login.headers()[reqwest::header::SET_COOKIE]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        set.contains("gd_session=") && set.contains("Secure"),
        "{set}"
    );
    // The console's same-origin rule holds for an https origin: logout with the cookie.
    let cookie = set.split(';').next().unwrap().to_owned();
    let out = crate::common::logout(&app, &cookie).await;
    assert_eq!(out.status(), 204);
}

/// A client that opens connections and never starts the TLS handshake holds its places
/// only for `header_read_timeout_secs`, and while it holds them the limit per address
/// refuses more from it: the slow-loris bound and the connection limits work over TLS.
#[tokio::test]
async fn a_stalled_handshake_is_cut_off_and_counts_against_the_limits() {
    let (app, _certs) = https_app(&[
        ("GRIDDISPATCH__HTTP__LIMITS__HEADER_READ_TIMEOUT_SECS", "1"),
        ("GRIDDISPATCH__HTTP__LIMITS__MAX_CONNECTIONS_PER_IP", "2"),
    ])
    .await;
    // The harness's own client may keep a connection alive: a fresh one for each check,
    // without keep-alive, so only the stalled sockets hold places.
    let fresh = || {
        reqwest::Client::builder()
            .add_root_certificate(
                reqwest::Certificate::from_pem(&std::fs::read(&_certs.ca).unwrap()).unwrap(),
            )
            .pool_max_idle_per_host(0)
            .build()
            .unwrap()
    };
    tokio::time::sleep(Duration::from_millis(1500)).await; // the harness's idle connections close
    let addr = app.running.as_ref().unwrap().http_addr;
    let mut stalled = Vec::new();
    for _ in 0..2 {
        stalled.push(tokio::net::TcpStream::connect(addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let refused = fresh().get(format!("{}/healthz", app.base)).send().await;
    assert!(refused.is_err(), "a third connection got in: {refused:?}");

    // Within the timeout (and a margin) the server closes both stalled sockets.
    let started = std::time::Instant::now();
    for s in &mut stalled {
        let mut buf = [0u8; 64];
        let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
            .await
            .expect("the stalled handshake was never cut off");
        assert!(matches!(n, Ok(0) | Err(_)), "{n:?}");
    }
    assert!(started.elapsed() < Duration::from_secs(4));
    let ok = fresh()
        .get(format!("{}/healthz", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
}

/// The simulator (and so the demo's simulated county) drives an https instance, trusting
/// its CA and nothing else: with the CA it registers its workers and they get tasks; without
/// it, the first call fails on the certificate instead of going ahead unverified.
#[tokio::test]
async fn the_simulator_drives_an_https_instance_trusting_only_its_ca() {
    let (app, certs) = https_app(&[]).await;
    let mqtt_url = app.running.as_ref().unwrap().mqtt_url.clone();
    let cfg = |trust: Option<Vec<u8>>| griddispatch::sim::SimConfig {
        url: app.base.clone(),
        token: app.token.clone(),
        mqtt_url: mqtt_url.clone(),
        workers: 5,
        rate: 3.0,
        duration: Duration::from_secs(5),
        pace: 300.0,
        location_interval: Duration::from_secs(1),
        trust,
        ..griddispatch::sim::SimConfig::default()
    };
    let cancel = tokio_util::sync::CancellationToken::new();
    let err = griddispatch::sim::run(cfg(None), cancel.clone())
        .await
        .unwrap_err();
    assert!(format!("{err:#}").contains("certificate"), "{err:#}");
    let report = griddispatch::sim::run(cfg(Some(certs.ca_pem())), cancel)
        .await
        .unwrap();
    assert!(
        report.alerts_sent > 0 && report.tasks_received > 0,
        "{report}"
    );
}
