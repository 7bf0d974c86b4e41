//! Floods against the limits of issue 16, through the real listeners on loopback: 5,000
//! idle sockets on the broker, a slow-loris HTTP client, 100 MB POSTs, and a source
//! sending 10,000 alerts a second. During each an honest worker, connected from 127.0.0.1,
//! still gets its task and answers it, and `/healthz` answers 200. The attackers use
//! other loopback addresses (127.0.0.2 and up: all of 127/8 is this host) so that the
//! limits per address can tell them apart. Every flood is bounded in count and time and
//! stops by itself.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use rumqttc::mqttbytes::v4::{Connect, Publish};
use rumqttc::mqttbytes::QoS;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::{timeout, timeout_at, Instant};

use crate::common::{self, worker, TestApp, Worker, WAIT};
use crate::limits::{closed_silently, connect_from, connect_packet};

/// A worker on duty in a zone of its own, connected from 127.0.0.1.
async fn honest_worker(app: &TestApp) -> Worker {
    app.zone("z1", "grid", (39.50, 106.70), (39.52, 106.72))
        .await;
    worker(
        app,
        "w-honest",
        "grid_worker",
        "foot",
        Some("z1"),
        (39.51, 106.71),
    )
    .await
}

/// What must hold during a flood: `/healthz` answers 200, and an alert posted over HTTP
/// reaches the honest worker as a task, which it accepts.
async fn still_served(app: &TestApp, w: &mut Worker) {
    let health = timeout(WAIT, app.http.get(format!("{}/healthz", app.base)).send())
        .await
        .expect("/healthz answered")
        .unwrap();
    assert_eq!(health.status().as_u16(), 200, "/healthz during the flood");
    app.alert(
        json!({"id": common::unique(), "kind": "medical", "severity": 2,
        "lat": 39.5101, "lon": 106.7101}),
    )
    .await;
    let task = w.expect_task().await;
    let (ok, answer) = w
        .update(
            task["task_id"].as_str().unwrap(),
            json!({"status": "accepted", "version": 1}),
        )
        .await;
    assert!(ok, "the honest worker's accept: {answer}");
}

/// 5,000 sockets connect to the broker and send nothing (each would hold a task and its
/// buffers for `connect_timeout`). Five addresses send 1,000 each, the default limit per
/// address, and 100 more come from the first: those are closed at once.
///
/// The test process holds both ends, about 10,000 descriptors: it runs alone in a process
/// of its own, within this machine's `ulimit -n` of 20,000 (checked below).
#[test]
fn five_thousand_idle_sockets_on_the_broker() {
    if common::run_alone(module_path!(), "five_thousand_idle_sockets_on_the_broker") {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
            .block_on(idle_sockets());
    }
}

async fn idle_sockets() {
    const PER_ADDRESS: usize = 1000;
    const ADDRESSES: u8 = 5;
    const OVER: usize = 100;
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    let open_files: usize = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|v| v.parse().ok())
        .unwrap_or(usize::MAX);
    assert!(
        open_files >= 2 * (PER_ADDRESS * ADDRESSES as usize + OVER) + 1000,
        "ulimit -n is {open_files}: too low for both ends of this flood"
    );
    let app = TestApp::spawn(&[]).await;
    let to = format!("{}:{}", app.mqtt_host, app.mqtt_port)
        .parse()
        .unwrap();
    let mut idle = Vec::new();
    // 100 at a time: a burst past the listen backlog (1024) has the kernel drop the
    // handshake's last step, and a client that then sends nothing is never accepted.
    for a in 0..ADDRESSES {
        for _ in 0..PER_ADDRESS / 100 {
            let batch = (0..100).map(|_| connect_from([127, 0, 0, 2 + a], to));
            for s in futures::future::join_all(batch).await {
                idle.push(s.expect("an idle connection"));
            }
        }
    }
    common::wait_metric(
        &app,
        "broker_sockets",
        (PER_ADDRESS * ADDRESSES as usize) as u64,
    )
    .await;
    let over = (0..OVER).map(|_| async move {
        let mut s = connect_from([127, 0, 0, 2], to).await.unwrap();
        // A served connection would answer this (CONNACK 4).
        let _ = s.write_all(&connect_packet()).await;
        closed_silently(&mut s).await
    });
    let closed = futures::future::join_all(over).await;
    assert!(
        closed.iter().all(|c| *c),
        "connections past the limit per address were kept"
    );
    // The 5,000 are still open (none has sent anything it could be closed for).
    let mut probe = [0u8; 1];
    let open = idle
        .iter()
        .filter(|s| {
            matches!(s.try_read(&mut probe), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
        })
        .count();
    assert_eq!(
        open,
        idle.len(),
        "idle connections within the limits were closed"
    );
    // A new phone connects from 127.0.0.1, gets its task and answers it.
    let mut w = honest_worker(&app).await;
    still_served(&app, &mut w).await;
    let m = app.metrics().await;
    assert!(common::metric(&m, "broker_connections_over_limit_total") >= OVER as u64);
    drop(idle);
}

/// 1,000 connections from one address send a request head a byte every 100 ms, as a
/// slow-loris client does to hold connections open. 256 (the default per address) are
/// taken and cut off after `header_read_timeout_secs`; the rest are closed at once.
#[tokio::test(flavor = "multi_thread")]
async fn a_slow_loris_client() {
    const CONNECTIONS: usize = 1000;
    let app =
        TestApp::spawn(&[("GRIDDISPATCH__HTTP__LIMITS__HEADER_READ_TIMEOUT_SECS", "2")]).await;
    let mut w = honest_worker(&app).await;
    let to = app.base.trim_start_matches("http://").parse().unwrap();
    let cut = Arc::new(AtomicU64::new(0));
    let dribblers: Vec<_> = (0..CONNECTIONS)
        .map(|_| {
            let cut = cut.clone();
            tokio::spawn(async move {
                let Ok(mut s) = connect_from([127, 0, 0, 2], to).await else {
                    cut.fetch_add(1, Ordering::Relaxed);
                    return;
                };
                let mut head = b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Slow: ".to_vec();
                head.extend(std::iter::repeat_n(b'a', 300));
                // At most 30 s each, unless the server cuts it off.
                for byte in head {
                    if s.write_all(&[byte]).await.is_err() {
                        cut.fetch_add(1, Ordering::Relaxed);
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    still_served(&app, &mut w).await;
    let deadline = Instant::now() + 2 * WAIT;
    for d in dribblers {
        let _ = timeout_at(deadline, d).await;
    }
    assert_eq!(
        cut.load(Ordering::Relaxed),
        CONNECTIONS as u64,
        "slow-loris connections the server did not cut off"
    );
    still_served_again(&app).await;
}

/// `/healthz` once more, after a flood.
async fn still_served_again(app: &TestApp) {
    let health = app
        .http
        .get(format!("{}/healthz", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status().as_u16(), 200);
}

/// Four clients at once POST an alert of 100 MB, two saying so in `Content-Length`, two
/// in chunks. Each is answered 413 long before it is sent whole.
#[tokio::test(flavor = "multi_thread")]
async fn posts_of_a_hundred_megabytes() {
    const SIZE: usize = 100 << 20;
    let app = TestApp::spawn(&[]).await;
    let mut w = honest_worker(&app).await;
    let to = app.base.trim_start_matches("http://").parse().unwrap();
    let posts: Vec<_> = (0..4u8)
        .map(|i| {
            let token = app.token.clone();
            tokio::spawn(async move {
                let s = connect_from([127, 0, 0, 2 + i], to).await.unwrap();
                let (mut r, mut wr) = s.into_split();
                let chunked = i % 2 == 1;
                let framing = if chunked {
                    "Transfer-Encoding: chunked".to_owned()
                } else {
                    format!("Content-Length: {SIZE}")
                };
                let head = format!("POST /api/v1/alerts HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\n{framing}\r\n\r\n");
                let answered = Arc::new(AtomicBool::new(false));
                let reader = {
                    let answered = answered.clone();
                    tokio::spawn(async move {
                        let mut out = Vec::new();
                        let mut buf = [0u8; 4096];
                        while let Ok(Ok(n)) = timeout(WAIT, r.read(&mut buf)).await {
                            if n == 0 {
                                break;
                            }
                            out.extend_from_slice(&buf[..n]);
                            if out.windows(4).any(|w| w == b"\r\n\r\n") {
                                break;
                            }
                        }
                        answered.store(true, Ordering::Relaxed);
                        String::from_utf8_lossy(&out).into_owned()
                    })
                };
                wr.write_all(head.as_bytes()).await.unwrap();
                let chunk = vec![b' '; 64 * 1024];
                let mut sent = 0;
                while sent < SIZE && !answered.load(Ordering::Relaxed) {
                    let ok = if chunked {
                        let mut c = format!("{:x}\r\n", chunk.len()).into_bytes();
                        c.extend_from_slice(&chunk);
                        c.extend_from_slice(b"\r\n");
                        wr.write_all(&c).await.is_ok()
                    } else {
                        wr.write_all(&chunk).await.is_ok()
                    };
                    if !ok {
                        break;
                    }
                    sent += chunk.len();
                }
                (reader.await.unwrap(), sent)
            })
        })
        .collect();
    still_served(&app, &mut w).await;
    for p in posts {
        let (answer, sent) = timeout(2 * WAIT, p)
            .await
            .expect("a 100 MB post ended")
            .unwrap();
        assert!(
            answer.starts_with("HTTP/1.1 413"),
            "a 100 MB post was answered {answer:?}"
        );
        assert!(sent < SIZE, "the server read the whole 100 MB");
    }
    still_served_again(&app).await;
}

/// A camera platform's login sends 10,000 alerts a second for 3 seconds (far from the
/// honest worker). The broker reads it at its login's rate; nothing else slows down.
#[tokio::test(flavor = "multi_thread")]
async fn a_source_sending_ten_thousand_alerts_a_second() {
    const PER_SEC: u64 = 10_000;
    const SECS: u64 = 3;
    let app = TestApp::spawn(&[]).await;
    let mut w = honest_worker(&app).await;
    let (user, pass) = app.source("flood").await;
    let to = format!("{}:{}", app.mqtt_host, app.mqtt_port)
        .parse()
        .unwrap();
    let mut s = connect_from([127, 0, 0, 2], to).await.unwrap();
    let mut c = Connect::new("flood-1");
    c.set_login(&user, &pass);
    let mut buf = BytesMut::new();
    c.write(&mut buf).unwrap();
    s.write_all(&buf).await.unwrap();
    let mut ack = [0u8; 4];
    timeout(WAIT, s.read_exact(&mut ack))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ack, [0x20, 2, 0, 0], "the source's CONNACK");
    let end = Instant::now() + Duration::from_secs(SECS);
    let flood = tokio::spawn(async move {
        let (mut i, mut tick) = (0u64, tokio::time::interval(Duration::from_millis(10)));
        // 100 alerts every 10 ms; a write the broker does not take by the end is abandoned.
        while Instant::now() < end && i < PER_SEC * SECS {
            tick.tick().await;
            let mut batch = BytesMut::new();
            for _ in 0..PER_SEC / 100 {
                i += 1;
                let alert = json!({"id": format!("f-{i}"), "kind": "fire", "severity": 3,
                    "lat": 30.0 + (i % 1000) as f64 * 1e-3, "lon": 110.0});
                Publish::new("alerts/flood", QoS::AtMostOnce, alert.to_string())
                    .write(&mut batch)
                    .unwrap();
            }
            if !matches!(timeout_at(end, s.write_all(&batch)).await, Ok(Ok(()))) {
                break;
            }
        }
        i
    });
    tokio::time::sleep(Duration::from_secs(1)).await;
    still_served(&app, &mut w).await;
    let offered = flood.await.unwrap();
    assert!(offered >= PER_SEC, "the flood sent only {offered} alerts");
    let m = app.metrics().await;
    assert!(
        common::metric(&m, "broker_throttled_total") >= 1,
        "the flood was never slowed"
    );
    still_served_again(&app).await;
}
