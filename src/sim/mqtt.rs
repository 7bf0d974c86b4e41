//! MQTT session plumbing shared by simulated workers and alert sources.
//!
//! Each session splits into the caller's task (which decides what to publish)
//! and a poller task that drives the rumqttc event loop. Keeping the event
//! loop in its own task means the caller never has to worry about whether
//! `EventLoop::poll` is safe to drop inside a `select!`, and reconnects
//! happen without the caller noticing.

use rumqttc::{AsyncClient, Event, MqttOptions, Outgoing, Packet, QoS};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::api::MqttCredentials;

/// Broker address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MqttEndpoint {
    /// Host name or IP.
    pub host: String,
    /// TCP port.
    pub port: u16,
}

impl MqttEndpoint {
    /// Builds an endpoint from an `mqtt://` / `tcp://` URL.
    pub fn from_url(url: &str) -> anyhow::Result<Self> {
        let url = crate::config::BrokerUrl::parse(url).map_err(anyhow::Error::msg)?;
        // The simulator's clients speak plain MQTT only; sending it in clear to a TLS
        // listener would fail later and less clearly.
        anyhow::ensure!(
            !url.tls(),
            "MQTT URL {url}: the simulator speaks plain MQTT only (mqtt://)"
        );
        Ok(Self {
            host: url.host().to_owned(),
            port: url.port(),
        })
    }
}

/// An incoming application message.
#[derive(Debug, Clone)]
pub struct Incoming {
    /// Topic it arrived on.
    pub topic: String,
    /// Raw payload (empty for a cleared retained message).
    pub payload: Vec<u8>,
}

/// A connected (or connecting) MQTT session.
#[derive(Debug)]
pub struct Session {
    /// Client handle for publishing.
    pub client: AsyncClient,
    /// Application messages from subscribed topics.
    pub incoming: mpsc::Receiver<Incoming>,
    stopping: Arc<AtomicBool>,
    poller: JoinHandle<()>,
}

/// Opens a session as `creds` and (re)subscribes to `subscriptions` on every
/// connect, so a broker restart does not silently leave the client deaf.
pub fn connect(
    endpoint: &MqttEndpoint,
    client_id: &str,
    creds: &MqttCredentials,
    subscriptions: Vec<String>,
) -> Session {
    let mut opts = MqttOptions::new(client_id, endpoint.host.clone(), endpoint.port);
    opts.set_credentials(creds.username.clone(), creds.password.clone());
    opts.set_keep_alive(Duration::from_secs(30));
    // Retained tasks are re-delivered on subscribe, so a clean session loses nothing.
    opts.set_clean_session(true);
    opts.set_max_packet_size(256 * 1024, 256 * 1024);
    let (client, mut eventloop) = AsyncClient::new(opts, 256);
    let (tx, rx) = mpsc::channel(256);
    let stopping = Arc::new(AtomicBool::new(false));
    let stop = stopping.clone();
    let sub_client = client.clone();
    let id = client_id.to_string();
    let poller = tokio::spawn(async move {
        let mut backoff = Duration::from_millis(500);
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    backoff = Duration::from_millis(500);
                    tracing::debug!(client = %id, "MQTT connected");
                    for t in &subscriptions {
                        if let Err(e) = sub_client.try_subscribe(t.clone(), QoS::AtLeastOnce) {
                            tracing::warn!(client = %id, topic = %t, error = %e, "subscribe failed");
                        }
                    }
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    let msg = Incoming {
                        topic: p.topic.clone(),
                        payload: p.payload.to_vec(),
                    };
                    // Receiver gone means the owner finished; keep draining until disconnect.
                    let _ = tx.send(msg).await;
                }
                Ok(Event::Outgoing(Outgoing::Disconnect)) => break,
                Ok(_) => {}
                Err(e) => {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    tracing::warn!(client = %id, error = %e, "MQTT connection error; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                }
            }
        }
    });
    Session {
        client,
        incoming: rx,
        stopping,
        poller,
    }
}

impl Session {
    /// Publishes JSON without waiting; a full request queue is logged and the
    /// message dropped, because a simulator must never stall its own loop.
    pub fn publish(&self, topic: String, payload: Vec<u8>, retain: bool) -> bool {
        match self
            .client
            .try_publish(topic.clone(), QoS::AtLeastOnce, retain, payload)
        {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(topic = %topic, error = %e, "MQTT publish dropped");
                false
            }
        }
    }

    /// Disconnects cleanly, waiting briefly for queued messages to flush.
    pub async fn close(self) {
        self.stopping.store(true, Ordering::Relaxed);
        let Session {
            client,
            incoming,
            poller,
            ..
        } = self;
        // Dropping the receiver first lets the poller drop messages instead of blocking.
        drop(incoming);
        let _ = client.try_disconnect();
        let abort = poller.abort_handle();
        if tokio::time::timeout(Duration::from_secs(3), poller)
            .await
            .is_err()
        {
            abort.abort();
        }
    }
}
