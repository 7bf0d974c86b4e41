//! End-to-end tests of the embedded broker over real sockets with rumqttc
//! clients. Every wait is time-bounded so a broken broker fails fast.

// clippy.toml only allows unwrap inside #[test] fns; the helpers here are
// test code too, and a panic is exactly what a failed setup should do.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use futures::future::BoxFuture;
use griddispatch::mqtt::broker::{Authenticator, Broker, BrokerConfig, BrokerStats, Principal};
use rumqttc::mqttbytes::v4::{self, Connect, ConnectReturnCode};
use rumqttc::{
    AsyncClient, ConnAck, Event, LastWill, MqttOptions, Packet, Publish, QoS, SubAck,
    SubscribeReasonCode,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;

const WAIT: Duration = Duration::from_secs(3);

/// username -> (password, principal)
struct TestAuth(HashMap<String, (String, Principal)>);

impl Authenticator for TestAuth {
    fn authenticate(
        &self,
        _client_id: &str,
        username: &str,
        password: &str,
    ) -> BoxFuture<'static, Option<Principal>> {
        let found = self
            .0
            .get(username)
            .filter(|(pw, _)| pw == password)
            .map(|(_, p)| p.clone());
        Box::pin(async move { found })
    }
}

struct TestBroker {
    addr: SocketAddr,
    stats: Arc<BrokerStats>,
    cancel: CancellationToken,
}

impl Drop for TestBroker {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

async fn start() -> TestBroker {
    start_with(BrokerConfig::default()).await
}

async fn start_with(config: BrokerConfig) -> TestBroker {
    let users = [
        ("disp", "pw", Principal::Superuser("disp".into())),
        ("w1", "pw1", Principal::Responder("w1".into())),
        ("w2", "pw2", Principal::Responder("w2".into())),
        ("cam", "pwc", Principal::Source("cam".into())),
    ];
    let auth = TestAuth(
        users
            .into_iter()
            .map(|(u, pw, p)| (u.to_string(), (pw.to_string(), p)))
            .collect(),
    );
    let broker = Broker::bind("127.0.0.1:0", config).await.unwrap();
    let addr = broker.local_addr();
    let stats = broker.stats();
    let cancel = CancellationToken::new();
    tokio::spawn(broker.run(Arc::new(auth), cancel.clone()));
    TestBroker {
        addr,
        stats,
        cancel,
    }
}

/// What the polling task forwards: incoming packets, then maybe an error.
#[derive(Debug)]
enum Ev {
    In(Packet),
    Closed(String),
}

struct Client {
    client: AsyncClient,
    rx: mpsc::UnboundedReceiver<Ev>,
    task: JoinHandle<()>,
}

impl Client {
    async fn recv(&mut self) -> Option<Ev> {
        timeout(WAIT, self.rx.recv()).await.ok().flatten()
    }

    /// Next PUBLISH, skipping other packets; panics on timeout or close.
    async fn publish(&mut self) -> Publish {
        loop {
            match self.recv().await {
                Some(Ev::In(Packet::Publish(p))) => return p,
                Some(Ev::In(_)) => {}
                other => panic!("expected a PUBLISH, got {other:?}"),
            }
        }
    }

    async fn suback(&mut self) -> SubAck {
        loop {
            match self.recv().await {
                Some(Ev::In(Packet::SubAck(s))) => return s,
                Some(Ev::In(_)) => {}
                other => panic!("expected a SUBACK, got {other:?}"),
            }
        }
    }

    async fn puback(&mut self) {
        loop {
            match self.recv().await {
                Some(Ev::In(Packet::PubAck(_))) => return,
                Some(Ev::In(_)) => {}
                other => panic!("expected a PUBACK, got {other:?}"),
            }
        }
    }

    async fn closed(&mut self) -> String {
        loop {
            match self.recv().await {
                Some(Ev::Closed(e)) => return e,
                Some(Ev::In(_)) => {}
                None => panic!("connection was not closed"),
            }
        }
    }

    async fn sub(&mut self, filter: &str, qos: QoS) -> SubscribeReasonCode {
        self.client.subscribe(filter, qos).await.unwrap();
        self.suback().await.return_codes[0]
    }

    async fn publ(&self, topic: &str, qos: QoS, retain: bool, payload: &str) {
        self.client
            .publish(topic, qos, retain, payload.as_bytes().to_vec())
            .await
            .unwrap();
    }

    /// Drops the socket without DISCONNECT.
    fn kill(self) {
        self.task.abort();
    }
}

fn options(addr: SocketAddr, id: &str, user: &str, pass: &str) -> MqttOptions {
    let mut o = MqttOptions::new(id, addr.ip().to_string(), addr.port());
    o.set_credentials(user, pass);
    o.set_keep_alive(Duration::from_secs(5));
    o
}

/// Connects and returns the client together with the CONNACK (or the error).
async fn connect_opts(o: MqttOptions) -> (Client, Result<ConnAck, String>) {
    let (client, mut eventloop) = AsyncClient::new(o, 100);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let task = tokio::spawn(async move {
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(p)) => {
                    if tx.send(Ev::In(p)).is_err() {
                        return;
                    }
                }
                Ok(Event::Outgoing(_)) => {}
                Err(e) => {
                    let _ = tx.send(Ev::Closed(format!("{e:?}")));
                    return;
                }
            }
        }
    });
    let connack = match timeout(WAIT, rx.recv()).await {
        Ok(Some(Ev::In(Packet::ConnAck(c)))) => Ok(c),
        other => Err(format!("{other:?}")),
    };
    (Client { client, rx, task }, connack)
}

async fn connect(addr: SocketAddr, id: &str, user: &str, pass: &str) -> Client {
    let (c, ack) = connect_opts(options(addr, id, user, pass)).await;
    let ack = ack.unwrap();
    assert_eq!(ack.code, ConnectReturnCode::Success);
    c
}

#[tokio::test]
async fn pubsub_qos0_qos1_qos2() {
    let b = start().await;
    let mut sub = connect(b.addr, "sub", "disp", "pw").await;
    let mut publ = connect(b.addr, "pub", "disp", "pw").await;
    assert_eq!(
        sub.sub("test/#", QoS::AtLeastOnce).await,
        SubscribeReasonCode::Success(QoS::AtLeastOnce)
    );

    publ.publ("test/a", QoS::AtMostOnce, false, "zero").await;
    let m = sub.publish().await;
    assert_eq!((m.topic.as_str(), &m.payload[..]), ("test/a", &b"zero"[..]));
    assert_eq!(m.qos, QoS::AtMostOnce);

    publ.publ("test/b", QoS::AtLeastOnce, false, "one").await;
    publ.puback().await;
    let m = sub.publish().await;
    assert_eq!((m.topic.as_str(), &m.payload[..]), ("test/b", &b"one"[..]));
    assert_eq!(m.qos, QoS::AtLeastOnce);
    assert!(!m.retain);

    // QoS 2 in is delivered exactly once, at the granted QoS 1.
    publ.publ("test/c", QoS::ExactlyOnce, false, "two").await;
    let m = sub.publish().await;
    assert_eq!((m.topic.as_str(), m.qos), ("test/c", QoS::AtLeastOnce));
    publ.publ("test/d", QoS::AtMostOnce, false, "after").await;
    assert_eq!(sub.publish().await.topic, "test/d");

    // QoS 2 subscriptions are downgraded to 1.
    assert_eq!(
        sub.sub("other/#", QoS::ExactlyOnce).await,
        SubscribeReasonCode::Success(QoS::AtLeastOnce)
    );
    assert_eq!(b.stats.connections_current.load(Ordering::Relaxed), 2);
}

#[tokio::test]
async fn overlapping_subscriptions_get_one_copy_at_max_qos() {
    let b = start().await;
    let mut sub = connect(b.addr, "sub", "disp", "pw").await;
    let publ = connect(b.addr, "pub", "disp", "pw").await;
    sub.sub("ov/#", QoS::AtMostOnce).await;
    sub.sub("ov/+", QoS::AtLeastOnce).await;
    publ.publ("ov/x", QoS::AtLeastOnce, false, "1").await;
    publ.publ("ov/y/z", QoS::AtLeastOnce, false, "2").await;
    let m = sub.publish().await;
    assert_eq!((m.topic.as_str(), m.qos), ("ov/x", QoS::AtLeastOnce));
    let m = sub.publish().await;
    assert_eq!((m.topic.as_str(), m.qos), ("ov/y/z", QoS::AtMostOnce));
}

#[tokio::test]
async fn retained_messages() {
    let b = start().await;
    let publ = connect(b.addr, "pub", "disp", "pw").await;
    publ.publ("state/x", QoS::AtLeastOnce, true, "on").await;

    // Wait for the broker to have it: a live subscriber sees it.
    let mut late = connect(b.addr, "late", "disp", "pw").await;
    late.sub("state/#", QoS::AtLeastOnce).await;
    let m = late.publish().await;
    assert_eq!((m.topic.as_str(), &m.payload[..]), ("state/x", &b"on"[..]));
    assert!(m.retain, "retained delivery must carry the retain flag");

    // Clear it; current subscribers still get the empty message.
    publ.publ("state/x", QoS::AtLeastOnce, true, "").await;
    let m = late.publish().await;
    assert!(m.payload.is_empty());
    assert!(!m.retain);

    let mut later = connect(b.addr, "later", "disp", "pw").await;
    later.sub("state/#", QoS::AtLeastOnce).await;
    publ.publ("state/y", QoS::AtLeastOnce, false, "live").await;
    let m = later.publish().await;
    assert_eq!(m.topic, "state/y", "cleared retained message was delivered");
}

#[tokio::test]
async fn bad_password_is_refused() {
    let b = start().await;
    let (c, ack) = connect_opts(options(b.addr, "x", "w1", "wrong")).await;
    let err = ack.unwrap_err();
    assert!(err.contains("BadUserNamePassword"), "{err}");
    c.kill();
    let (_c, ack) = connect_opts(options(b.addr, "y", "nobody", "pw")).await;
    assert!(ack.is_err());
    assert_eq!(b.stats.auth_failures.load(Ordering::Relaxed), 2);
    assert_eq!(b.stats.connections_total.load(Ordering::Relaxed), 0);
}

#[tokio::test]
async fn responder_subscribe_acl() {
    let b = start().await;
    let mut w1 = connect(b.addr, "w1-phone", "w1", "pw1").await;
    let disp = connect(b.addr, "disp", "disp", "pw").await;
    w1.client
        .subscribe_many([
            rumqttc::SubscribeFilter::new("dispatch/w2/tasks/+".into(), QoS::AtLeastOnce),
            rumqttc::SubscribeFilter::new("dispatch/+/tasks/#".into(), QoS::AtLeastOnce),
            rumqttc::SubscribeFilter::new("#".into(), QoS::AtLeastOnce),
            rumqttc::SubscribeFilter::new("dispatch/w1/tasks/+".into(), QoS::AtLeastOnce),
            rumqttc::SubscribeFilter::new("owntracks/w1/+/cmd".into(), QoS::AtMostOnce),
        ])
        .await
        .unwrap();
    let ack = w1.suback().await;
    assert_eq!(
        ack.return_codes,
        vec![
            SubscribeReasonCode::Failure,
            SubscribeReasonCode::Failure,
            SubscribeReasonCode::Failure,
            SubscribeReasonCode::Success(QoS::AtLeastOnce),
            SubscribeReasonCode::Success(QoS::AtMostOnce),
        ]
    );
    assert_eq!(b.stats.subscribes_denied.load(Ordering::Relaxed), 3);

    disp.publ("dispatch/w2/tasks/t1", QoS::AtLeastOnce, false, "for w2")
        .await;
    disp.publ("dispatch/w1/tasks/t2", QoS::AtLeastOnce, false, "for w1")
        .await;
    let m = w1.publish().await;
    assert_eq!(
        m.topic, "dispatch/w1/tasks/t2",
        "w1 saw someone else's task"
    );
}

#[tokio::test]
async fn responder_publish_acl() {
    let b = start().await;
    let mut disp = connect(b.addr, "disp", "disp", "pw").await;
    disp.sub("#", QoS::AtLeastOnce).await;
    let mut w1 = connect(b.addr, "w1-phone", "w1", "pw1").await;

    w1.publ(
        "dispatch/w2/tasks/t1/update",
        QoS::AtLeastOnce,
        false,
        "forged",
    )
    .await;
    // Denied QoS 1 is still acknowledged (Mosquitto behaviour).
    w1.puback().await;
    w1.publ("owntracks/w2/phone", QoS::AtMostOnce, false, "forged")
        .await;
    w1.publ("dispatch/w10/tasks/t1/update", QoS::AtMostOnce, false, "x")
        .await;
    w1.publ("dispatch/w1/tasks/t1/update", QoS::AtLeastOnce, false, "ok")
        .await;
    w1.publ("owntracks/w1/phone", QoS::AtMostOnce, false, "loc")
        .await;

    let m = disp.publish().await;
    assert_eq!(m.topic, "dispatch/w1/tasks/t1/update");
    let m = disp.publish().await;
    assert_eq!(m.topic, "owntracks/w1/phone");
    assert_eq!(b.stats.publishes_denied.load(Ordering::Relaxed), 3);
}

#[tokio::test]
async fn source_publish_acl() {
    let b = start().await;
    let mut disp = connect(b.addr, "disp", "disp", "pw").await;
    disp.sub("alerts/#", QoS::AtLeastOnce).await;
    let cam = connect(b.addr, "cam-1", "cam", "pwc").await;
    cam.publ("alerts/other", QoS::AtLeastOnce, false, "forged")
        .await;
    cam.publ("alerts/cam", QoS::AtLeastOnce, false, "fire")
        .await;
    let m = disp.publish().await;
    assert_eq!(
        (m.topic.as_str(), &m.payload[..]),
        ("alerts/cam", &b"fire"[..])
    );
}

#[tokio::test]
async fn persistent_session_queues_while_offline() {
    let b = start().await;
    let mut o = options(b.addr, "w1-phone", "w1", "pw1");
    o.set_clean_session(false);
    let (mut w1, ack) = connect_opts(o.clone()).await;
    assert!(!ack.unwrap().session_present);
    w1.sub("dispatch/w1/tasks/+", QoS::AtLeastOnce).await;
    w1.client.disconnect().await.unwrap();
    w1.closed().await;

    let mut disp = connect(b.addr, "disp", "disp", "pw").await;
    for i in 0..3 {
        disp.publ(
            &format!("dispatch/w1/tasks/t{i}"),
            QoS::AtLeastOnce,
            false,
            "task",
        )
        .await;
        disp.puback().await;
    }
    // QoS 0 is not queued for offline clients.
    disp.publ("dispatch/w1/tasks/q0", QoS::AtMostOnce, false, "x")
        .await;

    let (mut w1, ack) = connect_opts(o).await;
    assert!(ack.unwrap().session_present);
    for i in 0..3 {
        let m = w1.publish().await;
        assert_eq!(m.topic, format!("dispatch/w1/tasks/t{i}"));
        assert_eq!(m.qos, QoS::AtLeastOnce);
    }
    // Subscriptions survived too: live delivery still works.
    disp.publ("dispatch/w1/tasks/live", QoS::AtLeastOnce, false, "x")
        .await;
    assert_eq!(w1.publish().await.topic, "dispatch/w1/tasks/live");

    // A clean session discards everything.
    w1.client.disconnect().await.unwrap();
    w1.closed().await;
    let mut o = options(b.addr, "w1-phone", "w1", "pw1");
    o.set_clean_session(true);
    let (_w1, ack) = connect_opts(o).await;
    assert!(!ack.unwrap().session_present);
}

#[tokio::test]
async fn will_published_on_abrupt_drop_only() {
    let b = start().await;
    let mut disp = connect(b.addr, "disp", "disp", "pw").await;
    disp.sub("owntracks/#", QoS::AtLeastOnce).await;

    let mut o = options(b.addr, "w1-phone", "w1", "pw1");
    o.set_last_will(LastWill::new(
        "owntracks/w1/phone",
        "gone",
        QoS::AtLeastOnce,
        false,
    ));
    let (w1, ack) = connect_opts(o.clone()).await;
    ack.unwrap();
    w1.kill();
    let m = disp.publish().await;
    assert_eq!(
        (m.topic.as_str(), &m.payload[..]),
        ("owntracks/w1/phone", &b"gone"[..])
    );

    // Graceful DISCONNECT discards the will.
    let (mut w1, ack) = connect_opts(o).await;
    ack.unwrap();
    w1.client.disconnect().await.unwrap();
    w1.closed().await;

    // A will on a forbidden topic is dropped.
    let mut o = options(b.addr, "w1-other", "w1", "pw1");
    o.set_last_will(LastWill::new(
        "owntracks/w2/phone",
        "x",
        QoS::AtMostOnce,
        false,
    ));
    let (w1, ack) = connect_opts(o).await;
    ack.unwrap();
    w1.kill();

    let marker = connect(b.addr, "m", "disp", "pw").await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    marker
        .publ("owntracks/marker", QoS::AtLeastOnce, false, "")
        .await;
    assert_eq!(disp.publish().await.topic, "owntracks/marker");
}

#[tokio::test]
async fn client_id_takeover() {
    let b = start().await;
    let mut disp = connect(b.addr, "disp", "disp", "pw").await;
    disp.sub("owntracks/#", QoS::AtLeastOnce).await;

    let mut o = options(b.addr, "w1-phone", "w1", "pw1");
    o.set_last_will(LastWill::new(
        "owntracks/w1/phone/event",
        "old",
        QoS::AtMostOnce,
        false,
    ));
    let (mut old, ack) = connect_opts(o).await;
    ack.unwrap();
    let mut new = connect(b.addr, "w1-phone", "w1", "pw1").await;
    old.closed().await;
    // The old connection's will is published.
    assert_eq!(disp.publish().await.payload, &b"old"[..]);

    new.sub("dispatch/w1/tasks/+", QoS::AtLeastOnce).await;
    disp.publ("dispatch/w1/tasks/t1", QoS::AtLeastOnce, false, "x")
        .await;
    assert_eq!(new.publish().await.topic, "dispatch/w1/tasks/t1");
    assert_eq!(b.stats.connections_current.load(Ordering::Relaxed), 2);
}

async fn expect_closed(s: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 64];
    loop {
        match timeout(WAIT, s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return got,
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => panic!("broker did not close the connection"),
        }
    }
}

#[tokio::test]
async fn garbage_does_not_hurt_others() {
    let b = start().await;
    let mut sub = connect(b.addr, "sub", "disp", "pw").await;
    sub.sub("g/#", QoS::AtLeastOnce).await;
    let publ = connect(b.addr, "pub", "disp", "pw").await;

    // Not a CONNECT at all.
    let mut raw = TcpStream::connect(b.addr).await.unwrap();
    raw.write_all(&[0xff; 64]).await.unwrap();
    expect_closed(&mut raw).await;

    // Oversize remaining length.
    let mut raw = TcpStream::connect(b.addr).await.unwrap();
    raw.write_all(&[0x10, 0xff, 0xff, 0xff, 0x7f])
        .await
        .unwrap();
    expect_closed(&mut raw).await;

    // Valid CONNECT, then a PUBLISH with a non-UTF-8 topic, then junk.
    let mut raw = TcpStream::connect(b.addr).await.unwrap();
    let mut c = Connect::new("raw");
    c.set_login("disp", "pw");
    let mut buf = BytesMut::new();
    c.write(&mut buf).unwrap();
    buf.extend_from_slice(&[0x30, 0x05, 0x00, 0x02, 0xc3, 0x28, b'x']);
    buf.extend_from_slice(&[0x00; 32]);
    raw.write_all(&buf).await.unwrap();
    let got = expect_closed(&mut raw).await;
    assert_eq!(&got[..4], &[0x20, 0x02, 0x00, 0x00], "expected CONNACK");

    // A multi-byte first character must not crash topic matching.
    publ.publ("é/x", QoS::AtLeastOnce, false, "u").await;
    publ.publ("g/ok", QoS::AtLeastOnce, false, "still fine")
        .await;
    assert_eq!(sub.publish().await.topic, "g/ok");
}

#[tokio::test]
async fn connect_edge_cases() {
    let b = start().await;
    // Empty client id with clean_session=false: identifier rejected.
    let mut raw = TcpStream::connect(b.addr).await.unwrap();
    let mut c = Connect::new("");
    c.clean_session = false;
    c.set_login("disp", "pw");
    let mut buf = BytesMut::new();
    c.write(&mut buf).unwrap();
    raw.write_all(&buf).await.unwrap();
    assert_eq!(expect_closed(&mut raw).await, vec![0x20, 0x02, 0x00, 0x02]);

    // Empty client id with clean_session=true: accepted, id generated.
    let mut raw = TcpStream::connect(b.addr).await.unwrap();
    let mut c = Connect::new("");
    c.keep_alive = 1;
    c.set_login("disp", "pw");
    let mut buf = BytesMut::new();
    c.write(&mut buf).unwrap();
    v4::PingReq.write(&mut buf).unwrap();
    raw.write_all(&buf).await.unwrap();
    // CONNACK, PINGRESP, then closed after 1.5 s of silence (keepalive 1 s).
    let start = tokio::time::Instant::now();
    let got = expect_closed(&mut raw).await;
    assert_eq!(got, vec![0x20, 0x02, 0x00, 0x00, 0xd0, 0x00]);
    assert!(start.elapsed() >= Duration::from_millis(1200));
}

#[tokio::test]
async fn offline_queue_is_bounded_and_drops_oldest() {
    let b = start_with(BrokerConfig {
        max_queued_per_session: 2,
        ..BrokerConfig::default()
    })
    .await;
    let mut o = options(b.addr, "w1-phone", "w1", "pw1");
    o.set_clean_session(false);
    let (mut w1, ack) = connect_opts(o.clone()).await;
    ack.unwrap();
    w1.sub("dispatch/w1/#", QoS::AtLeastOnce).await;
    w1.client.disconnect().await.unwrap();
    w1.closed().await;

    let mut disp = connect(b.addr, "disp", "disp", "pw").await;
    for i in 0..5 {
        disp.publ(
            &format!("dispatch/w1/tasks/t{i}"),
            QoS::AtLeastOnce,
            false,
            "",
        )
        .await;
        disp.puback().await;
    }
    assert_eq!(b.stats.messages_dropped.load(Ordering::Relaxed), 3);
    let (mut w1, ack) = connect_opts(o).await;
    assert!(ack.unwrap().session_present);
    assert_eq!(w1.publish().await.topic, "dispatch/w1/tasks/t3");
    assert_eq!(w1.publish().await.topic, "dispatch/w1/tasks/t4");
}

/// Raw client helpers for what rumqttc hides (it always acks).
async fn raw_connect(addr: SocketAddr, id: &str, clean: bool) -> (TcpStream, BytesMut) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let mut c = Connect::new(id);
    c.clean_session = clean;
    c.keep_alive = 30;
    c.set_login("disp", "pw");
    let mut buf = BytesMut::new();
    c.write(&mut buf).unwrap();
    s.write_all(&buf).await.unwrap();
    let mut rbuf = BytesMut::new();
    match raw_read(&mut s, &mut rbuf).await {
        v4::Packet::ConnAck(a) => assert_eq!(a.code, ConnectReturnCode::Success),
        other => panic!("expected CONNACK, got {other:?}"),
    }
    (s, rbuf)
}

async fn raw_read(s: &mut TcpStream, rbuf: &mut BytesMut) -> v4::Packet {
    loop {
        match v4::read(rbuf, 1 << 20) {
            Ok(p) => return p,
            Err(rumqttc::mqttbytes::Error::InsufficientBytes(_)) => {}
            Err(e) => panic!("bad packet from broker: {e}"),
        }
        let n = timeout(WAIT, s.read_buf(rbuf)).await.unwrap().unwrap();
        assert!(n > 0, "broker closed the connection");
    }
}

#[tokio::test]
async fn unacked_qos1_is_resent_with_dup_on_resume() {
    let b = start().await;
    let (mut s, mut rbuf) = raw_connect(b.addr, "raw-1", false).await;
    let mut buf = BytesMut::new();
    v4::Subscribe::new("jobs/#", QoS::AtLeastOnce)
        .write(&mut buf)
        .unwrap();
    s.write_all(&buf).await.unwrap();
    assert!(matches!(
        raw_read(&mut s, &mut rbuf).await,
        v4::Packet::SubAck(_)
    ));

    let disp = connect(b.addr, "disp", "disp", "pw").await;
    disp.publ("jobs/1", QoS::AtLeastOnce, false, "j").await;
    let first = match raw_read(&mut s, &mut rbuf).await {
        v4::Packet::Publish(p) => p,
        other => panic!("expected PUBLISH, got {other:?}"),
    };
    assert!(!first.dup);
    drop(s); // no PUBACK, no DISCONNECT

    tokio::time::sleep(Duration::from_millis(100)).await;
    let (mut s, mut rbuf) = raw_connect(b.addr, "raw-1", false).await;
    let again = match raw_read(&mut s, &mut rbuf).await {
        v4::Packet::Publish(p) => p,
        other => panic!("expected PUBLISH, got {other:?}"),
    };
    assert!(again.dup, "resent message must carry DUP");
    assert_eq!((again.pkid, again.topic.as_str()), (first.pkid, "jobs/1"));
}

#[tokio::test]
async fn unsubscribe_stops_delivery() {
    let b = start().await;
    let mut sub = connect(b.addr, "sub", "disp", "pw").await;
    let publ = connect(b.addr, "pub", "disp", "pw").await;
    sub.sub("u/a", QoS::AtLeastOnce).await;
    sub.sub("u/b", QoS::AtLeastOnce).await;
    sub.client.unsubscribe("u/a").await.unwrap();
    loop {
        match sub.recv().await {
            Some(Ev::In(Packet::UnsubAck(_))) => break,
            Some(Ev::In(_)) => {}
            other => panic!("expected UNSUBACK, got {other:?}"),
        }
    }
    publ.publ("u/a", QoS::AtLeastOnce, false, "").await;
    publ.publ("u/b", QoS::AtLeastOnce, false, "").await;
    assert_eq!(sub.publish().await.topic, "u/b");
}

#[tokio::test]
async fn cancel_closes_connections() {
    let b = start().await;
    let mut c = connect(b.addr, "c", "disp", "pw").await;
    b.cancel.cancel();
    c.closed().await;
    timeout(WAIT, async {
        while b.stats.connections_current.load(Ordering::Relaxed) != 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("connections were not cleaned up after cancel");
}

#[tokio::test]
async fn slow_consumer_does_not_block_others() {
    let b = start_with(BrokerConfig {
        max_queued_qos0: 50,
        ..BrokerConfig::default()
    })
    .await;
    // A subscriber that never reads its socket.
    let (mut stuck, _rbuf) = raw_connect(b.addr, "stuck", true).await;
    let mut buf = BytesMut::new();
    v4::Subscribe::new("load/#", QoS::AtMostOnce)
        .write(&mut buf)
        .unwrap();
    stuck.write_all(&buf).await.unwrap();

    let mut fast = connect(b.addr, "fast", "disp", "pw").await;
    fast.sub("load/#", QoS::AtLeastOnce).await;
    let publ = connect(b.addr, "pub", "disp", "pw").await;
    let payload = "x".repeat(8 * 1024);
    // 16 MiB of QoS 0 (more than the stuck socket's kernel buffers take),
    // then a QoS 1 marker that must still reach the healthy subscriber.
    for i in 0..2000 {
        publ.publ(&format!("load/{i}"), QoS::AtMostOnce, false, &payload)
            .await;
    }
    publ.publ("load/end", QoS::AtLeastOnce, false, "end").await;
    timeout(Duration::from_secs(10), async {
        while fast.publish().await.topic != "load/end" {}
    })
    .await
    .expect("fast subscriber was held up by the stuck one");
    assert!(b.stats.messages_dropped.load(Ordering::Relaxed) > 0);
    drop(stuck);
}
