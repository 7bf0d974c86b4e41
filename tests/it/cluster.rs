//! Two replicas on one PostgreSQL database and the Mosquitto on 127.0.0.1:1883: one leads,
//! the other forwards what needs the engine, relays the live feed, and takes over the
//! pending offer's timer when the leader stops.

use crate::common;
use std::time::Duration;

use crate::common::{worker, Api, WAIT};
use futures::StreamExt;
use griddispatch::app::Running;
use griddispatch::domain::Role;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// Skips loudly (fails under CI) when a service this test needs is not there.
fn services_or_skip() -> bool {
    for (what, addr) in [
        ("PostgreSQL", "127.0.0.1:5432"),
        ("Mosquitto", "127.0.0.1:1883"),
    ] {
        if std::net::TcpStream::connect(addr).is_err() {
            eprintln!("\n*** SKIPPED cluster test: {what} does not listen on {addr} (scripts/test starts it) ***\n");
            assert!(std::env::var_os("CI").is_none(), "{what} is required in CI");
            return false;
        }
    }
    true
}

/// A replica on the database `db`, its data folder `dir` shared with the others (as
/// docs/deploy.md asks for snapshots).
async fn replica(dir: &tempfile::TempDir, db: &str, id: &str, client_id: &str) -> (Running, Api) {
    try_replica(dir, db, id, client_id).await.unwrap()
}

/// [`replica`], or why it would not start.
async fn try_replica(
    dir: &tempfile::TempDir,
    db: &str,
    id: &str,
    client_id: &str,
) -> anyhow::Result<(Running, Api)> {
    try_replica_with(dir, db, id, client_id, &[], reqwest::Client::new()).await
}

/// [`try_replica`] with `extra` settings, its API called with `http`.
async fn try_replica_with(
    dir: &tempfile::TempDir,
    db: &str,
    id: &str,
    client_id: &str,
    extra: &[(&str, &str)],
    http: reqwest::Client,
) -> anyhow::Result<(Running, Api)> {
    let mut env = vec![
        ("GRIDDISPATCH__DATABASE__URL", db),
        ("GRIDDISPATCH__MQTT__LISTEN", ""),
        ("GRIDDISPATCH__MQTT__URL", "mqtt://127.0.0.1:1883"),
        // One session for the cluster: whoever leads takes it over, with what the
        // broker queued while nobody did.
        ("GRIDDISPATCH__MQTT__CLIENT_ID", client_id),
        ("GRIDDISPATCH__CLUSTER__ENABLED", "true"),
        ("GRIDDISPATCH__CLUSTER__REPLICA_ID", id),
        // Long enough that a worker's accept, sent at once, is never late on a machine
        // busy with the whole suite (3 s once was, in CI's PostgreSQL pass).
        ("GRIDDISPATCH__DISPATCH__ACK_TIMEOUT_SECS", "6"),
        ("GRIDDISPATCH__VIDEO__PROBE_INTERVAL_SECS", "0"),
    ];
    env.extend_from_slice(extra);
    let settings = common::test_settings(dir, &env);
    let running = griddispatch::app::start(&settings).await?;
    let token = running
        .store
        .create_token(&format!("test-{id}"), Role::Admin)
        .await
        .unwrap();
    let scheme = if running.https { "https" } else { "http" };
    let api = Api {
        base: format!("{scheme}://{}", running.http_addr),
        token,
        http,
        mqtt_host: "127.0.0.1".into(),
        mqtt_port: 1883,
    };
    Ok((running, api))
}

/// Polls `/readyz` until it reports `role` (and is ready); returns the body.
async fn wait_role(api: &Api, role: &str, within: Duration) -> Value {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let r = api.http.get(format!("{}/readyz", api.base)).send().await;
        if let Ok(r) = r {
            let ok = r.status().is_success();
            let v: Value = r.json().await.unwrap_or(Value::Null);
            if ok && v["role"] == role {
                return v;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{} never became a ready {role}: {v}",
                api.base
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_follower_forwards_relays_and_takes_over_the_lead() {
    if !services_or_skip() {
        return;
    }
    let _turn = common::SHARED_MOSQUITTO.lock().await;
    let run = common::unique();
    let dir = tempfile::tempdir().unwrap();
    // The test folder's own PostgreSQL database, whichever backend this pass tests.
    let db = common::pg_db_url(dir.path());
    let client_id = format!("gd-cluster-{run}");

    let (first, a) = replica(&dir, &db, "r1", &client_id).await;
    wait_role(&a, "leader", WAIT).await;
    let (second, b) = replica(&dir, &db, "r2", &client_id).await;
    let v = wait_role(&b, "follower", WAIT).await;
    assert_eq!(v["leader"], a.base, "{v}");

    // Writes through the follower reach the leader's engine.
    b.zone("g1", "grid", (39.49, 106.69), (39.50, 106.70)).await;
    let (near, far) = (format!("near-{run}"), format!("far-{run}"));
    let mut w_near = worker(
        &b,
        &near,
        "grid_worker",
        "foot",
        Some("g1"),
        (39.4951, 106.6951),
    )
    .await;
    let mut w_far = worker(
        &b,
        &far,
        "grid_worker",
        "foot",
        Some("g1"),
        (39.4910, 106.6910),
    )
    .await;

    // A console on the follower sees the leader's changes.
    let url = format!("{}/api/v1/live", b.base.replacen("http://", "ws://", 1));
    let mut req = url.into_client_request().unwrap();
    req.headers_mut().insert(
        "authorization",
        format!("Bearer {}", b.token).parse().unwrap(),
    );
    let (mut feed, _) = tokio_tungstenite::connect_async(req).await.unwrap();

    let incident = b
        .alert(json!({"id": format!("c-{run}"), "kind": "medical", "severity": 2, "lat": 39.4952, "lon": 106.6952}))
        .await;
    let offer = w_near.expect_task().await;
    assert_eq!(offer["incident_id"], incident);
    let seen = tokio::time::timeout(WAIT, async {
        while let Some(Ok(msg)) = feed.next().await {
            let Ok(text) = msg.to_text() else { continue };
            let v: Value = serde_json::from_str(text).unwrap_or(Value::Null);
            if v["type"] == "incident" && v["data"]["id"] == incident {
                return v;
            }
        }
        Value::Null
    })
    .await
    .expect("the follower's live feed relays the leader's incident");
    assert_eq!(seen["data"]["id"], incident);

    // The leader goes away with the offer unanswered: the follower takes the lead, loads
    // the open offer and its deadline, and the offer moves on to the other worker.
    first.stop().await.unwrap();
    wait_role(&b, "leader", WAIT).await;
    let moved = tokio::time::timeout(WAIT, w_far.expect_task())
        .await
        .expect("the offer moved on after the lead changed");
    assert_eq!(moved["incident_id"], incident);
    let (ok, answer) = w_far
        .update(
            moved["task_id"].as_str().unwrap(),
            json!({"status": "accepted"}),
        )
        .await;
    assert!(ok, "{answer}");
    let inc = b.wait_state(&incident, "assigned").await;
    let statuses: Vec<&str> = inc["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["expired", "accepted"], "{inc}");
    second.stop().await.unwrap();
    common::forget_session("127.0.0.1", 1883, &client_id).await;
    common::drop_test_db(dir.path());
}

/// With its own client id, a replica that took the lead would start an empty broker
/// session: what arrived while nobody led would wait in the old one for ever.
#[tokio::test]
async fn a_replica_with_another_client_id_than_the_leader_is_refused() {
    if !services_or_skip() {
        return;
    }
    let _turn = common::SHARED_MOSQUITTO.lock().await;
    let run = common::unique();
    let dir = tempfile::tempdir().unwrap();
    let db = common::pg_db_url(dir.path());
    let client_id = format!("gd-cluster-{run}");

    let (first, a) = replica(&dir, &db, "r1", &client_id).await;
    wait_role(&a, "leader", WAIT).await;
    let other = format!("gd-cluster-{run}-r2");
    let err = match try_replica(&dir, &db, "r2", &other).await {
        Ok(_) => {
            panic!("a replica with client id {other} started next to the leader's {client_id}")
        }
        Err(e) => format!("{e:#}"),
    };
    assert!(err.contains("mqtt.client_id"), "{err}");
    assert!(err.contains(&client_id) && err.contains(&other), "{err}");
    // The same id is welcome.
    let (second, b) = replica(&dir, &db, "r2", &client_id).await;
    wait_role(&b, "follower", WAIT).await;
    second.stop().await.unwrap();
    first.stop().await.unwrap();
    // With every replica stopped, the id may change (the old session's queue is left).
    let (third, c) = replica(&dir, &db, "r3", &other).await;
    wait_role(&c, "leader", WAIT).await;
    third.stop().await.unwrap();
    common::forget_session("127.0.0.1", 1883, &client_id).await;
    common::forget_session("127.0.0.1", 1883, &other).await;
    common::drop_test_db(dir.path());
}

/// With `http.tls_cert` the replicas speak only https, to each other too: a write sent to
/// the follower reaches the leader's engine over https, trusting the CA at the end of the
/// certificate file they share; a follower told to trust another CA (`cluster.ca_file`)
/// does not forward at all.
#[tokio::test]
async fn replicas_that_serve_https_forward_to_each_other_over_https() {
    if !services_or_skip() {
        return;
    }
    let _turn = common::SHARED_MOSQUITTO.lock().await;
    let run = common::unique();
    let dir = tempfile::tempdir().unwrap();
    let db = common::pg_db_url(dir.path());
    let client_id = format!("gd-cluster-{run}");
    let certs = crate::tls::Certs::make(dir.path(), "replicas");
    // The one file every replica gets: the server's certificate, then its CA's.
    let chain = dir.path().join("replicas-chain.pem");
    let pem = [
        std::fs::read(&certs.cert).unwrap(),
        std::fs::read(&certs.ca).unwrap(),
    ]
    .concat();
    std::fs::write(&chain, pem).unwrap();
    let (chain, key) = (chain.to_str().unwrap(), certs.key.to_str().unwrap());
    let tls = [
        ("GRIDDISPATCH__HTTP__TLS_CERT", chain),
        ("GRIDDISPATCH__HTTP__TLS_KEY", key),
    ];

    let (first, a) = try_replica_with(&dir, &db, "r1", &client_id, &tls, certs.https_client())
        .await
        .unwrap();
    assert!(a.base.starts_with("https://"), "{}", a.base);
    wait_role(&a, "leader", WAIT).await;
    let (second, b) = try_replica_with(&dir, &db, "r2", &client_id, &tls, certs.https_client())
        .await
        .unwrap();
    let v = wait_role(&b, "follower", WAIT).await;
    assert_eq!(v["leader"], a.base, "{v}");
    b.zone("g1", "grid", (39.49, 106.69), (39.50, 106.70)).await;
    let zones = a.get("/api/v1/zones").await;
    assert!(zones.to_string().contains("\"g1\""), "{zones}");

    let other = crate::tls::Certs::make(dir.path(), "other");
    let wrong = [
        tls[0],
        tls[1],
        ("GRIDDISPATCH__CLUSTER__CA_FILE", other.ca.to_str().unwrap()),
    ];
    let (third, c) = try_replica_with(&dir, &db, "r3", &client_id, &wrong, certs.https_client())
        .await
        .unwrap();
    wait_role(&c, "follower", WAIT).await;
    let (status, body) = c
        .post(
            "/api/v1/zones",
            json!({"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[106.69,39.49],[106.7,39.49],[106.7,39.5],[106.69,39.49]]]},"properties":{"id":"g2","name":"g2","kind":"grid"}}),
        )
        .await;
    assert_eq!(status, 503, "{body}");
    assert!(!a.get("/api/v1/zones").await.to_string().contains("\"g2\""));

    third.stop().await.unwrap();
    second.stop().await.unwrap();
    first.stop().await.unwrap();
    common::forget_session("127.0.0.1", 1883, &client_id).await;
    common::drop_test_db(dir.path());
}
