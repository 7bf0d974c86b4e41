//! Real MQTT clients as the tests' workers' phones and sources.

use std::time::Duration;

use bytes::Bytes;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS, SubscribeReasonCode};
use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::{Api, WAIT};

/// A real MQTT client acting as a worker's phone or a source.
pub struct Client {
    pub client: AsyncClient,
    pub rx: mpsc::UnboundedReceiver<(String, Bytes)>,
    pub suback: mpsc::UnboundedReceiver<Vec<SubscribeReasonCode>>,
    pub connack: mpsc::UnboundedReceiver<rumqttc::ConnectReturnCode>,
    /// Messages seen but not yet asked for; later waits look here first.
    backlog: std::collections::VecDeque<(String, Bytes)>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Client {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Client {
    /// Connects and waits for the CONNACK; panics if refused.
    pub async fn connect(host: &str, port: u16, client_id: &str, user: &str, pass: &str) -> Client {
        let mut c = Self::try_connect(host, port, client_id, user, pass).await;
        let code = tokio::time::timeout(WAIT, c.connack.recv())
            .await
            .expect("connack in time")
            .expect("connack");
        assert_eq!(
            code,
            rumqttc::ConnectReturnCode::Success,
            "{client_id} refused"
        );
        c
    }

    /// Connects without waiting.
    pub async fn try_connect(
        host: &str,
        port: u16,
        client_id: &str,
        user: &str,
        pass: &str,
    ) -> Client {
        let mut opts = MqttOptions::new(client_id, host, port);
        opts.set_keep_alive(Duration::from_secs(10));
        opts.set_credentials(user, pass);
        opts.set_clean_session(true);
        let (client, mut el) = AsyncClient::new(opts, 100);
        let (tx, rx) = mpsc::unbounded_channel();
        let (stx, suback) = mpsc::unbounded_channel();
        let (ctx, connack) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            loop {
                match el.poll().await {
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        let _ = tx.send((p.topic, p.payload));
                    }
                    Ok(Event::Incoming(Packet::SubAck(s))) => {
                        let _ = stx.send(s.return_codes);
                    }
                    Ok(Event::Incoming(Packet::ConnAck(a))) => {
                        let _ = ctx.send(a.code);
                    }
                    Ok(_) => {}
                    Err(rumqttc::ConnectionError::ConnectionRefused(code)) => {
                        let _ = ctx.send(code);
                        return;
                    }
                    Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            }
        });
        Client {
            client,
            rx,
            suback,
            connack,
            backlog: Default::default(),
            task,
        }
    }

    /// Subscribes and returns the SUBACK codes.
    pub async fn subscribe(&mut self, filter: &str) -> Vec<SubscribeReasonCode> {
        self.client
            .subscribe(filter, QoS::AtLeastOnce)
            .await
            .expect("subscribe");
        tokio::time::timeout(WAIT, self.suback.recv())
            .await
            .expect("suback in time")
            .expect("suback")
    }

    pub async fn publish(&self, topic: &str, payload: impl Into<Vec<u8>>) {
        self.client
            .publish(topic, QoS::AtLeastOnce, false, payload)
            .await
            .expect("publish");
    }

    /// Next message matching `pred`; others are kept for later calls. None after `within`.
    pub async fn next_where(
        &mut self,
        within: Duration,
        mut pred: impl FnMut(&str, &Bytes) -> bool,
    ) -> Option<(String, Bytes)> {
        if let Some(i) = self.backlog.iter().position(|(t, p)| pred(t, p)) {
            return self.backlog.remove(i);
        }
        let deadline = tokio::time::Instant::now() + within;
        loop {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some((t, p))) if pred(&t, &p) => return Some((t, p)),
                Ok(Some(other)) => self.backlog.push_back(other),
                _ => return None,
            }
        }
    }
}

/// A worker: a client logged in as a responder, subscribed to its own inbox.
pub struct Worker {
    pub rid: String,
    /// Its MQTT password, to connect again as the same worker.
    pub password: String,
    pub c: Client,
}

impl Worker {
    pub async fn connect(app: &Api, rid: &str, password: &str) -> Worker {
        let mut c = Client::connect(
            &app.mqtt_host,
            app.mqtt_port,
            &format!("phone-{rid}"),
            rid,
            password,
        )
        .await;
        let codes = c.subscribe(&format!("dispatch/{rid}/tasks/#")).await;
        assert!(
            matches!(codes[0], SubscribeReasonCode::Success(_)),
            "{rid} could not subscribe: {codes:?}"
        );
        Worker {
            rid: rid.to_owned(),
            password: password.to_owned(),
            c,
        }
    }

    /// Publishes an OwnTracks fix (now) and waits until the dispatcher stored it.
    pub async fn locate(&self, app: &Api, lat: f64, lon: f64) {
        let tst = chrono::Utc::now().timestamp();
        self.locate_at(lat, lon, tst).await;
        app.wait_fix(&self.rid, tst).await;
    }

    pub async fn locate_at(&self, lat: f64, lon: f64, tst: i64) {
        let msg =
            json!({"_type":"location","lat":lat,"lon":lon,"tst":tst,"acc":8,"batt":77,"tid":"wk"});
        self.c
            .publish(&format!("owntracks/{}/phone", self.rid), msg.to_string())
            .await;
    }

    /// The next task message (non-empty retained inbox entry).
    pub async fn task(&mut self, within: Duration) -> Option<Value> {
        let prefix = format!("dispatch/{}/tasks/", self.rid);
        let (_, p) = self
            .c
            .next_where(within, |t, p| {
                // `…/tasks/<id>` itself: not `…/update/…` answers nor `…/closed` notices.
                t.strip_prefix(&prefix)
                    .is_some_and(|rest| !rest.is_empty() && !rest.contains('/'))
                    && !p.is_empty()
            })
            .await?;
        Some(serde_json::from_slice(&p).expect("task JSON"))
    }

    pub async fn expect_task(&mut self) -> Value {
        self.task(WAIT)
            .await
            .unwrap_or_else(|| panic!("{} got no task", self.rid))
    }

    /// Waits for the empty retained message that clears `task_id`.
    pub async fn expect_cleared(&mut self, task_id: &str) {
        let topic = format!("dispatch/{}/tasks/{task_id}", self.rid);
        self.c
            .next_where(WAIT, |t, p| t == topic && p.is_empty())
            .await
            .unwrap_or_else(|| panic!("task {task_id} was never cleared for {}", self.rid));
    }

    /// Waits for the notice that says why `task_id` left the inbox.
    pub async fn expect_closed(&mut self, task_id: &str) -> Value {
        let topic = format!("dispatch/{}/tasks/{task_id}/closed", self.rid);
        let (_, p) = self
            .c
            .next_where(WAIT, |t, _| t == topic)
            .await
            .unwrap_or_else(|| panic!("no closing notice for {task_id} to {}", self.rid));
        serde_json::from_slice(&p).expect("closing notice JSON")
    }

    /// Sends an update and returns (accepted?, answer).
    pub async fn update(&mut self, task_id: &str, body: Value) -> (bool, Value) {
        let topic = format!("dispatch/{}/tasks/{task_id}/update", self.rid);
        self.c.publish(&topic, body.to_string()).await;
        let (t, p) = self
            .c
            .next_where(WAIT, |t, _| t.starts_with(&format!("{topic}/")))
            .await
            .expect("an answer to the update");
        (
            t.ends_with("/accepted"),
            serde_json::from_slice(&p).expect("answer JSON"),
        )
    }
}

/// Fixture: a worker on duty. Its responder record and MQTT login are made, its phone is
/// connected and subscribed to its inbox, and its position `at` (now) is stored.
pub async fn worker(
    app: &Api,
    id: &str,
    kind: &str,
    travel: &str,
    zone: Option<&str>,
    at: (f64, f64),
) -> Worker {
    let pw = app.responder(id, kind, travel, zone).await;
    let w = Worker::connect(app, id, &pw).await;
    w.locate(app, at.0, at.1).await;
    w
}

/// Fixture: worker `w1`, a grid worker on a bike in zone g1 (made by the caller), on duty
/// as [`worker`] makes them at (39.4951, 106.6951): beside the tests' camera at
/// (39.4955, 106.6955), so it gets the first offer of an incident there.
pub async fn w1_by_the_camera(app: &Api) -> Worker {
    worker(
        app,
        "w1",
        "grid_worker",
        "bike",
        Some("g1"),
        (39.4951, 106.6951),
    )
    .await
}

/// Fixture: the usual two candidates for one alert, grid workers on foot in zone g1
/// (39.49–39.50 N, 106.69–106.70 E, made by the caller), on duty as [`worker`] makes them:
/// `first` at (39.4950, 106.6950), beside the alerts at (39.4951, 106.6951), and `second`
/// about 400 m further at (39.4920, 106.6920), so the first offer goes to `first` and the
/// next to `second`.
pub async fn first_and_second(app: &Api, ids: (&str, &str)) -> (Worker, Worker) {
    let first = worker(
        app,
        ids.0,
        "grid_worker",
        "foot",
        Some("g1"),
        (39.4950, 106.6950),
    )
    .await;
    let second = worker(
        app,
        ids.1,
        "grid_worker",
        "foot",
        Some("g1"),
        (39.4920, 106.6920),
    )
    .await;
    (first, second)
}
