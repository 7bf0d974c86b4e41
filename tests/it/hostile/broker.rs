//! Attacks on the embedded MQTT broker, each by a login a phone or a camera platform
//! really holds, over raw sockets (to send what no polite client library would) or a stock
//! client. Every test then checks that dispatch still works for an honest worker.

use std::time::Duration;

use bytes::BytesMut;
use rumqttc::mqttbytes::v4::{
    self, Connect, ConnectReturnCode, Packet, Publish, Subscribe, SubscribeFilter,
    SubscribeReasonCode,
};
use rumqttc::mqttbytes::QoS;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{timeout, Instant};

use crate::common::{self, worker, Client, TestApp, Worker, WAIT};

/// A client speaking raw MQTT 3.1.1 packets.
struct Raw {
    s: TcpStream,
    rbuf: BytesMut,
    pkid: u16,
}

impl Raw {
    /// Connects with `id` as `user`; returns the client and the CONNACK's code, or None
    /// when the broker closed the connection without one.
    async fn connect(
        app: &TestApp,
        id: &str,
        user: &str,
        pass: &str,
        clean: bool,
    ) -> (Raw, Option<(ConnectReturnCode, bool)>) {
        let mut c = Connect::new(id);
        c.clean_session = clean;
        c.keep_alive = 30;
        c.set_login(user, pass);
        let mut buf = BytesMut::new();
        c.write(&mut buf).unwrap();
        Self::connect_bytes(app, &buf).await
    }

    /// Sends `connect` as the first bytes and reads the answer.
    async fn connect_bytes(
        app: &TestApp,
        connect: &[u8],
    ) -> (Raw, Option<(ConnectReturnCode, bool)>) {
        let s = TcpStream::connect((app.mqtt_host.as_str(), app.mqtt_port))
            .await
            .unwrap();
        let mut raw = Raw {
            s,
            rbuf: BytesMut::new(),
            pkid: 0,
        };
        raw.s.write_all(connect).await.unwrap();
        let ack = match raw.read().await {
            Some(Packet::ConnAck(a)) => Some((a.code, a.session_present)),
            Some(other) => panic!("expected CONNACK, got {other:?}"),
            None => None,
        };
        (raw, ack)
    }

    /// The next packet; None when the broker closed the connection.
    async fn read(&mut self) -> Option<Packet> {
        let deadline = Instant::now() + WAIT;
        loop {
            match v4::read(&mut self.rbuf, 1 << 24) {
                Ok(p) => return Some(p),
                Err(rumqttc::mqttbytes::Error::InsufficientBytes(_)) => {}
                Err(e) => panic!("undecodable packet from the broker: {e}"),
            }
            match tokio::time::timeout_at(deadline, self.s.read_buf(&mut self.rbuf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return None,
                Ok(Ok(_)) => {}
                Err(_) => panic!("the broker said nothing for {WAIT:?}"),
            }
        }
    }

    /// The next SUBACK's codes, skipping other packets (retained messages).
    async fn suback(&mut self) -> Vec<SubscribeReasonCode> {
        loop {
            match self.read().await {
                Some(Packet::SubAck(a)) => return a.return_codes,
                Some(_) => {}
                None => panic!("closed before SUBACK"),
            }
        }
    }

    async fn send(&mut self, write: impl FnOnce(&mut BytesMut)) {
        let mut buf = BytesMut::new();
        write(&mut buf);
        self.s.write_all(&buf).await.unwrap();
    }

    async fn subscribe(&mut self, filters: Vec<String>) -> Vec<SubscribeReasonCode> {
        self.pkid += 1;
        let pkid = self.pkid;
        let filters: Vec<SubscribeFilter> = filters
            .into_iter()
            .map(|f| SubscribeFilter::new(f, QoS::AtLeastOnce))
            .collect();
        let mut sub = Subscribe::new_many(filters);
        sub.pkid = pkid;
        self.send(|b| {
            sub.write(b).unwrap();
        })
        .await;
        self.suback().await
    }

    /// Publishes at QoS 1 and waits for the PUBACK.
    async fn publish(&mut self, topic: &str, payload: Vec<u8>, retain: bool) {
        self.pkid += 1;
        let mut p = Publish::new(topic, QoS::AtLeastOnce, payload);
        p.pkid = self.pkid;
        p.retain = retain;
        self.send(|b| {
            p.write(b).unwrap();
        })
        .await;
        loop {
            match self.read().await {
                Some(Packet::PubAck(a)) if a.pkid == p.pkid => return,
                Some(_) => {}
                None => panic!("closed before PUBACK"),
            }
        }
    }

    async fn disconnect(mut self) {
        self.send(|b| {
            v4::Disconnect.write(b).unwrap();
        })
        .await;
        let _ = self.s.shutdown().await;
    }
}

/// One zone with an honest worker in it, on duty at its centre.
async fn honest_worker(app: &TestApp, rid: &str) -> Worker {
    app.zone("z1", "grid", (39.50, 106.70), (39.52, 106.72))
        .await;
    worker(app, rid, "grid_worker", "foot", Some("z1"), (39.51, 106.71)).await
}

/// An alert at the worker's spot reaches it as a task within `within`; returns how long
/// that took and the incident's id.
async fn task_arrives(app: &TestApp, w: &mut Worker, within: Duration) -> (Duration, String) {
    let started = Instant::now();
    let incident = app
        .alert(json!({"id": common::unique(), "kind":"medical","severity":2,"lat":39.5101,"lon":106.7101}))
        .await;
    let task = w.task(within).await;
    let took = started.elapsed();
    assert!(
        task.is_some(),
        "the honest worker got no task within {within:?}"
    );
    (took, incident)
}

#[tokio::test]
async fn a_topic_ten_thousand_levels_deep_is_refused_and_the_broker_lives() {
    let app = TestApp::spawn(&[]).await;
    let mut honest = honest_worker(&app, "w-honest").await;
    let pw = app.responder("w-evil", "grid_worker", "foot", None).await;
    let deep = vec!["a"; 10_000].join("/");

    // A worker's own inbox, 10,000 levels down, then gone: this once overflowed the
    // stack of the thread that removed the subscription, and aborted the process.
    let (mut evil, ack) = Raw::connect(&app, "evil-1", "w-evil", &pw, true).await;
    assert_eq!(ack, Some((ConnectReturnCode::Success, false)));
    let codes = evil
        .subscribe(vec![format!("dispatch/w-evil/{deep}")])
        .await;
    assert_eq!(codes, vec![SubscribeReasonCode::Failure]);
    evil.disconnect().await;

    // A source: a deep filter under frigate/ and a publish that matches it.
    let (user, pass) = app.source("cam-evil").await;
    let (mut src, _) = Raw::connect(&app, "cam-evil", &user, &pass, true).await;
    let codes = src.subscribe(vec![format!("frigate/{deep}")]).await;
    assert_eq!(codes, vec![SubscribeReasonCode::Failure]);
    src.publish(&format!("frigate/{deep}"), b"x".to_vec(), false)
        .await;
    let denied = common::metric(&app.metrics().await, "broker_publishes_denied_total");
    assert!(denied >= 1, "the deep publish was routed");
    src.disconnect().await;

    task_arrives(&app, &mut honest, WAIT).await;
}

#[tokio::test]
async fn a_worker_cannot_take_the_dispatchers_session_nor_another_workers() {
    let app = TestApp::spawn(&[]).await;
    let mut honest = honest_worker(&app, "w-honest").await;
    let pw = app.responder("w-evil", "grid_worker", "foot", None).await;

    // The dispatcher's own client id (the default mqtt.client_id).
    for _ in 0..3 {
        let (_evil, ack) = Raw::connect(&app, "griddispatch", "w-evil", &pw, false).await;
        assert_eq!(
            ack.map(|a| a.0),
            Some(ConnectReturnCode::NotAuthorized),
            "a worker's login was given the dispatcher's session"
        );
    }
    // The honest worker's session (common::Worker uses phone-<id>).
    let (_evil, ack) = Raw::connect(&app, "phone-w-honest", "w-evil", &pw, true).await;
    assert_eq!(ack.map(|a| a.0), Some(ConnectReturnCode::NotAuthorized));

    // Neither was disturbed: the dispatcher is connected and the worker still gets tasks.
    let health = app
        .http
        .get(format!("{}/healthz", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    task_arrives(&app, &mut honest, WAIT).await;
    let m = app.metrics().await;
    assert_eq!(common::metric(&m, "mqtt_connected"), 1);
    assert!(common::metric(&m, "broker_connects_refused_total") >= 4);

    // The worker's own login still reconnects to its own session.
    let (_again, ack) = Raw::connect(&app, "evil-own", "w-evil", &pw, false).await;
    assert_eq!(ack.map(|a| a.0), Some(ConnectReturnCode::Success));
}

#[tokio::test]
async fn a_connect_with_the_reserved_flag_set_is_closed() {
    let app = TestApp::spawn(&[]).await;
    let pw = app.responder("w1", "grid_worker", "foot", None).await;
    let mut c = Connect::new("w1-phone");
    c.set_login("w1", &pw);
    let mut buf = BytesMut::new();
    c.write(&mut buf).unwrap();
    // Fixed header (2 bytes here), then 00 04 'MQTT', the level, the flags.
    assert_eq!(&buf[2..8], b"\x00\x04MQTT");
    buf[9] |= 0x01;
    let (_raw, ack) = Raw::connect_bytes(&app, &buf).await;
    assert_eq!(
        ack, None,
        "the broker accepted a CONNECT with reserved bit 0 set"
    );
}

#[tokio::test]
async fn retained_messages_and_filters_are_capped_per_login() {
    let app = TestApp::spawn(&[
        ("GRIDDISPATCH__MQTT__LIMITS__MAX_RETAINED_PER_LOGIN", "5"),
        (
            "GRIDDISPATCH__MQTT__LIMITS__MAX_RETAINED_BYTES_PER_LOGIN",
            "100000",
        ),
    ])
    .await;
    let mut honest = honest_worker(&app, "w-honest").await;
    let (user, pass) = app.source("cam-evil").await;
    let (mut src, _) = Raw::connect(&app, "cam-evil", &user, &pass, true).await;
    for i in 0..20 {
        src.publish(&format!("frigate/junk/{i}"), vec![b'x'; 1000], true)
            .await;
    }
    // One large one is refused on bytes even though it replaces a kept message.
    src.publish("frigate/junk/0", vec![b'x'; 200_000], true)
        .await;
    let m = app.metrics().await;
    assert_eq!(common::metric(&m, "broker_retained_refused_total"), 16);

    // A new subscriber sees only what was kept, and a SUBSCRIBE of 9,000 filters is
    // answered with the first 32 examined and the rest refused.
    let (mut sub, _) = Raw::connect(&app, "cam-evil-2", &user, &pass, true).await;
    let mut filters = vec!["frigate/junk/#".to_owned()];
    filters.extend((1..9000).map(|i| format!("frigate/f/{i}")));
    let codes = sub.subscribe(filters).await;
    assert_eq!(codes.len(), 9000);
    let granted = codes
        .iter()
        .filter(|c| matches!(c, SubscribeReasonCode::Success(_)))
        .count();
    assert_eq!(granted, 32, "filters past the limit were granted");
    let mut kept = 0;
    while let Ok(Some(Packet::Publish(p))) = timeout(Duration::from_millis(500), sub.read()).await {
        assert!(p.retain);
        assert_eq!(p.payload.len(), 1000);
        kept += 1;
    }
    assert_eq!(
        kept, 5,
        "retained messages past the login's limit were kept"
    );
    task_arrives(&app, &mut honest, WAIT).await;
}

#[tokio::test]
async fn kept_sessions_expire_and_a_login_holds_a_bounded_number() {
    let app = TestApp::spawn(&[
        ("GRIDDISPATCH__MQTT__LIMITS__SESSION_EXPIRY_SECS", "1"),
        ("GRIDDISPATCH__MQTT__LIMITS__MAX_SESSIONS_PER_LOGIN", "3"),
    ])
    .await;
    let pw = app.responder("w-evil", "grid_worker", "foot", None).await;

    // A 20 KB client id.
    let long = "x".repeat(20_000);
    let (_c, ack) = Raw::connect(&app, &long, "w-evil", &pw, false).await;
    assert_eq!(ack.map(|a| a.0), Some(ConnectReturnCode::BadClientId));

    // Many kept sessions from one login: no more than 3 stay.
    for i in 0..10 {
        let (c, ack) = Raw::connect(&app, &format!("evil-{i}"), "w-evil", &pw, false).await;
        assert_eq!(ack.map(|a| a.0), Some(ConnectReturnCode::Success));
        c.disconnect().await;
    }
    let sessions = common::wait_for("the broker to count its sessions", || async {
        let n = common::metric(&app.metrics().await, "broker_sessions");
        (n > 0).then_some(json!(n))
    })
    .await;
    // The dispatcher's, and at most three of the worker's.
    assert!(sessions.as_u64().unwrap() <= 4, "{sessions} sessions kept");

    // Three connected at once are the limit; a fourth is refused.
    let mut held = Vec::new();
    for i in 0..3 {
        let (c, ack) = Raw::connect(&app, &format!("live-{i}"), "w-evil", &pw, true).await;
        assert_eq!(ack.map(|a| a.0), Some(ConnectReturnCode::Success));
        held.push(c);
    }
    let (_c, ack) = Raw::connect(&app, "live-3", "w-evil", &pw, true).await;
    assert_eq!(
        ack.map(|a| a.0),
        Some(ConnectReturnCode::ServiceUnavailable)
    );
    for c in held {
        c.disconnect().await;
    }

    // A kept session is gone once it has been offline past its expiry.
    let (c, ack) = Raw::connect(&app, "phone", "w-evil", &pw, false).await;
    assert_eq!(ack, Some((ConnectReturnCode::Success, false)));
    c.disconnect().await;
    let (c, ack) = Raw::connect(&app, "phone", "w-evil", &pw, false).await;
    assert_eq!(
        ack,
        Some((ConnectReturnCode::Success, true)),
        "resumed at once"
    );
    c.disconnect().await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let (_c, ack) = Raw::connect(&app, "phone", "w-evil", &pw, false).await;
    assert_eq!(
        ack,
        Some((ConnectReturnCode::Success, false)),
        "the kept session outlived its expiry"
    );
    assert!(common::metric(&app.metrics().await, "broker_sessions_expired_total") >= 1);
}

#[tokio::test]
async fn a_login_that_floods_is_read_at_its_rate() {
    let app = TestApp::spawn(&[
        ("GRIDDISPATCH__MQTT__LIMITS__MAX_MESSAGES_PER_SEC", "50"),
        ("GRIDDISPATCH__MQTT__LIMITS__MESSAGE_BURST", "50"),
    ])
    .await;
    let mut honest = honest_worker(&app, "w-honest").await;
    let pw = app.responder("w-evil", "grid_worker", "foot", None).await;
    let (mut evil, _) = Raw::connect(&app, "evil", "w-evil", &pw, true).await;
    let before = common::metric(&app.metrics().await, "broker_publishes_in_total");
    // 2,000 malformed updates at QoS 0, as fast as the socket takes them.
    let mut buf = BytesMut::new();
    for i in 0..2000 {
        let p = Publish::new(
            format!("dispatch/w-evil/tasks/t{i}/update"),
            QoS::AtMostOnce,
            "{garbage",
        );
        p.write(&mut buf).unwrap();
    }
    let writer = tokio::spawn(async move {
        let _ = evil.s.write_all(&buf).await;
        evil
    });
    tokio::time::sleep(Duration::from_secs(1)).await;
    let read = common::metric(&app.metrics().await, "broker_publishes_in_total") - before;
    // 50 at once and 50 a second: about 100 after a second, never 2,000.
    assert!(read <= 200, "{read} messages taken in the first second");
    assert!(common::metric(&app.metrics().await, "broker_throttled_total") >= 1);
    // Others are not slowed by it.
    task_arrives(&app, &mut honest, WAIT).await;
    writer.abort();
}

#[tokio::test]
async fn alerts_past_the_dispatchers_pace_wait_at_their_source_and_none_is_lost() {
    // A tiny queue for the dispatcher, so a burst overfills it at once.
    let app = TestApp::spawn(&[
        ("GRIDDISPATCH__MQTT__LIMITS__MAX_QUEUED_PER_SESSION", "5"),
        ("GRIDDISPATCH__MQTT__LIMITS__MAX_MESSAGES_PER_SEC", "0"),
    ])
    .await;
    let (user, pass) = app.source("platform").await;
    const N: u64 = 3000;
    let mut sources = Vec::new();
    for s in 0..3 {
        let c = Client::connect(
            &app.mqtt_host,
            app.mqtt_port,
            &format!("platform-{s}"),
            &user,
            &pass,
        )
        .await;
        sources.push(c);
    }
    let publishers: Vec<_> = sources
        .iter()
        .enumerate()
        .map(|(s, c)| {
            let client = c.client.clone();
            tokio::spawn(async move {
                for i in 0..N / 3 {
                    let body = json!({"id": format!("a-{s}-{i}"), "kind": "medical", "severity": 3,
                        "lat": 39.5 + (i as f64) * 1e-3, "lon": 106.7 + (s as f64) * 1e-3});
                    client
                        .publish(
                            "alerts/platform",
                            rumqttc::QoS::AtLeastOnce,
                            false,
                            body.to_string(),
                        )
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for p in publishers {
        p.await.unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let m = app.metrics().await;
        let stored = common::metric(&m, "alerts_total");
        let dropped = common::metric(&m, "broker_messages_dropped_total");
        assert_eq!(
            dropped, 0,
            "the broker dropped alerts bound for the dispatcher"
        );
        if stored == N {
            assert!(common::metric(&m, "broker_publisher_waits_total") >= 1);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{stored} of {N} alerts stored after two minutes"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn an_honest_worker_gets_its_task_within_two_seconds_while_every_login_attacks() {
    let app = TestApp::spawn(&[]).await;
    let mut honest = honest_worker(&app, "w-honest").await;
    let wpw = app.responder("w-evil", "grid_worker", "foot", None).await;
    let (suser, spass) = app.source("cam-evil").await;
    let deep = vec!["a"; 10_000].join("/");
    let stop = tokio_util::sync::CancellationToken::new();
    let mut attackers = Vec::new();

    // The worker: deep filters, the dispatcher's client id, a flood of garbage updates.
    {
        let app_host = (app.mqtt_host.clone(), app.mqtt_port);
        let (stop, wpw, deep) = (stop.clone(), wpw.clone(), deep.clone());
        let (mut w, _) = Raw::connect(&app, "evil-w", "w-evil", &wpw, true).await;
        attackers.push(tokio::spawn(async move {
            let mut i = 0u64;
            while !stop.is_cancelled() {
                let _ = w
                    .subscribe(vec![format!("dispatch/w-evil/{deep}"); 3])
                    .await;
                let mut buf = BytesMut::new();
                for _ in 0..200 {
                    i += 1;
                    Publish::new(
                        format!("dispatch/w-evil/tasks/t{i}/update"),
                        QoS::AtMostOnce,
                        "{garbage",
                    )
                    .write(&mut buf)
                    .unwrap();
                }
                let _ = w.s.write_all(&buf).await;
                let mut c = Connect::new("griddispatch");
                c.set_login("w-evil", &wpw);
                let mut cb = BytesMut::new();
                c.write(&mut cb).unwrap();
                if let Ok(mut s) = TcpStream::connect((app_host.0.as_str(), app_host.1)).await {
                    let _ = s.write_all(&cb).await;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }));
    }
    // The source: retained junk of 250 KB each, and huge SUBSCRIBEs.
    {
        let stop = stop.clone();
        let (mut s, _) = Raw::connect(&app, "evil-s", &suser, &spass, true).await;
        attackers.push(tokio::spawn(async move {
            let mut i = 0u64;
            while !stop.is_cancelled() {
                i += 1;
                let mut p = Publish::new(
                    format!("frigate/junk/{i}"),
                    QoS::AtMostOnce,
                    vec![b'j'; 250_000],
                );
                p.retain = true;
                let mut buf = BytesMut::new();
                p.write(&mut buf).unwrap();
                let filters: Vec<_> = (0..9000)
                    .map(|f| SubscribeFilter::new(format!("frigate/x/{f}"), QoS::AtLeastOnce))
                    .collect();
                let mut sub = Subscribe::new_many(filters);
                sub.pkid = 1;
                sub.write(&mut buf).unwrap();
                if s.s.write_all(&buf).await.is_err() {
                    break;
                }
                // Take whatever came back, without waiting for it.
                let _ = timeout(Duration::from_millis(10), s.s.read_buf(&mut s.rbuf)).await;
                s.rbuf.clear();
            }
        }));
    }
    // A stranger: connects with no login, and with a wrong one, over and over.
    {
        let stop = stop.clone();
        let addr = (app.mqtt_host.clone(), app.mqtt_port);
        attackers.push(tokio::spawn(async move {
            while !stop.is_cancelled() {
                let mut c = Connect::new("griddispatch");
                c.set_login("w-honest", "guess");
                let mut buf = BytesMut::new();
                c.write(&mut buf).unwrap();
                if let Ok(mut s) = TcpStream::connect((addr.0.as_str(), addr.1)).await {
                    let _ = s.write_all(&buf).await;
                    let mut r = [0u8; 16];
                    let _ = timeout(Duration::from_millis(200), s.read(&mut r)).await;
                }
            }
        }));
    }

    tokio::time::sleep(Duration::from_millis(500)).await;
    // Five tasks under attack. The attack does not stop, so an attack that works (a broker
    // stalled by each SUBSCRIBE, the dispatcher's session taken over, a crash) slows every
    // task, not one in five; a loaded machine (the app, its attackers and the worker share
    // this test's one thread) can slow one now and then. So: each arrives within WAIT,
    // and the median, not the slowest, within 2 s.
    let mut took = Vec::new();
    for _ in 0..5 {
        let (t, incident) = task_arrives(&app, &mut honest, WAIT).await;
        took.push(t);
        // Cancelled, so the worker is free and the next alert opens a new incident.
        let (s, v) = app
            .post(&format!("/api/v1/incidents/{incident}/cancel"), json!({}))
            .await;
        assert!(s < 300, "cancel: {s} {v}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    stop.cancel();
    for a in attackers {
        let _ = timeout(Duration::from_secs(5), a).await;
    }
    let m = app.metrics().await;
    assert_eq!(common::metric(&m, "mqtt_connected"), 1);
    eprintln!("honest worker's tasks under attack came after {took:?}");
    took.sort();
    assert!(
        took[2] <= Duration::from_secs(2),
        "the honest worker's median task took {:?} under attack (all: {took:?})",
        took[2]
    );
}
