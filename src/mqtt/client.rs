//! The dispatcher's own MQTT connection. It is an ordinary client of whichever broker is
//! configured (embedded or Mosquitto). The event loop only moves bytes: incoming publishes
//! go to the ingest channel and outgoing ones come from the dispatcher's channel, so nothing
//! slow ever runs on it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::acks::AckGuard;
use super::broker::lock;
use crate::dispatch::{Command, Dispatcher};
use crate::metrics::{MessageLabels, Metrics};
use crate::store::Outgoing;

/// How to reach the broker.
/// Subscribed for a short while after each connect, to find retained task messages the
/// database no longer backs (see `Command::AuditRetained`).
pub const INBOX_AUDIT: &str = "dispatch/+/tasks/+";

/// How long the inbox audit subscription stays, seconds.
pub const INBOX_AUDIT_SECS: u64 = 10;

/// One received MQTT message. Not `Clone`: it owns its acknowledgement.
#[derive(Debug)]
pub struct Inbound {
    /// Topic.
    pub topic: String,
    /// Payload.
    pub payload: Bytes,
    /// Its acknowledgement to the broker, sent once its handling is committed (`None`: no
    /// acknowledgement owed, e.g. the embedded broker or QoS 0).
    pub ack: Option<AckGuard>,
    /// When it came in (the start of `griddispatch_alert_to_offer_seconds` for an alert).
    pub arrived: Instant,
}

#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Host.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Client id.
    pub client_id: String,
    /// Username (empty = none).
    pub username: String,
    /// Password; a secret, so that `Debug` never shows it.
    pub password: secrecy::SecretString,
    /// `clean_session = false`: the broker keeps our subscriptions and queues for us.
    pub persistent_session: bool,
    /// Connect over this Unix socket instead of TCP (the embedded broker's own socket).
    pub unix_socket: Option<std::path::PathBuf>,
    /// Acknowledge messages only once what they caused is committed (`mqtt::acks`): for an
    /// external broker, which outlives this process. The embedded broker dies with it, so
    /// there the acknowledgement would protect nothing.
    pub manual_acks: bool,
    /// Speak TLS to the broker, trusting the CA certificates of this PEM (`mqtt.ca_file`);
    /// the broker's certificate must name `host`.
    pub tls_ca: Option<Vec<u8>>,
}

/// Runs the connection until `cancel` fires, reconnecting after errors.
#[allow(clippy::too_many_arguments)] // the connection's dependencies, passed once
pub async fn run(
    cfg: ClientConfig,
    dispatcher: Dispatcher,
    subscriptions: &'static [&'static str],
    inbound: mpsc::Sender<Inbound>,
    mut outgoing: mpsc::UnboundedReceiver<Outgoing>,
    connected: Arc<AtomicBool>,
    store: crate::store::Store,
    metrics: Arc<Metrics>,
    cancel: CancellationToken,
) -> anyhow::Result<()> {
    let mut opts = match &cfg.unix_socket {
        Some(path) => {
            let mut o = MqttOptions::new(cfg.client_id.clone(), path.to_string_lossy(), 0);
            o.set_transport(rumqttc::Transport::unix());
            o
        }
        None => MqttOptions::new(cfg.client_id.clone(), cfg.host.clone(), cfg.port),
    };
    if let Some(ca) = &cfg.tls_ca {
        // rumqttc checks the certificate against these CAs and the name against `host`.
        opts.set_transport(rumqttc::Transport::tls_with_config(
            rumqttc::TlsConfiguration::Simple {
                ca: ca.clone(),
                alpn: None,
                client_auth: None,
            },
        ));
    }
    opts.set_keep_alive(Duration::from_secs(30));
    opts.set_clean_session(!cfg.persistent_session);
    opts.set_max_packet_size(1024 * 1024, 1024 * 1024);
    opts.set_inflight(1000);
    if !cfg.username.is_empty() {
        opts.set_credentials(
            cfg.username.clone(),
            secrecy::ExposeSecret::expose_secret(&cfg.password),
        );
    }
    opts.set_manual_acks(cfg.manual_acks);
    let (client, mut events) = AsyncClient::new(opts, 10_000);
    // Asked for by the acknowledger when a batch failed: drop the connection so the broker
    // sends what we have not acknowledged again.
    let redeliver = Arc::new(tokio::sync::Notify::new());
    let mut acks = if cfg.manual_acks {
        let (acks, rx) = super::acks::Acks::new();
        tokio::spawn(super::acks::run(
            client.clone(),
            dispatcher.clone(),
            rx,
            redeliver.clone(),
            cancel.clone(),
        ));
        Some(acks)
    } else {
        None
    };

    // Outbox rows are settled by the broker's PUBACKs (`mqtt::outbox`).
    let tracker = Arc::new(std::sync::Mutex::new(super::outbox::Tracker::default()));
    let (settled_tx, settled_rx) = mpsc::unbounded_channel();
    tokio::spawn(settle(store, settled_rx, cancel.clone()));
    // Every kind is exported from the start (as 0), so a dashboard's rate has a series.
    for kind in super::kinds::INBOUND {
        metrics
            .mqtt_messages_total
            .get_or_create_owned(&MessageLabels {
                direction: "in",
                kind,
            });
    }
    for kind in super::kinds::OUTBOUND {
        metrics
            .mqtt_messages_total
            .get_or_create_owned(&MessageLabels {
                direction: "out",
                kind,
            });
    }
    let sender = {
        let metrics = metrics.clone();
        let client = client.clone();
        let cancel = cancel.clone();
        let tracker = tracker.clone();
        async move {
            loop {
                let msg = tokio::select! {
                    _ = cancel.cancelled() => break,
                    m = outgoing.recv() => match m { Some(m) => m, None => break },
                };
                lock(&tracker).queue(msg.outbox_seq);
                let kind = super::kinds::outbound(&msg.topic, msg.payload.is_empty());
                metrics.mqtt_message("out", kind);
                if let Err(e) = client
                    .publish(msg.topic, QoS::AtLeastOnce, msg.retain, msg.payload)
                    .await
                {
                    lock(&tracker).unqueue_last();
                    tracing::error!(error = %e, "MQTT publish could not be queued");
                }
            }
        }
    };
    let sender = tokio::spawn(sender);

    let mut failures: u32 = 0;
    loop {
        let event = tokio::select! {
            _ = cancel.cancelled() => break,
            _ = redeliver.notified() => {
                connected.store(false, Ordering::Relaxed);
                metrics.mqtt_redeliveries_total.inc();
                events.clean();
                // A moment for the database to come back before the messages do.
                tokio::select! {
                    _ = cancel.cancelled() => break,
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
                continue;
            }
            e = events.poll() => e,
        };
        match event {
            Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                failures = 0;
                if let Some(a) = acks.as_mut() {
                    a.reconnected();
                }
                tracing::info!(host = %cfg.host, port = cfg.port, code = ?ack.code, "MQTT connected");
                for topic in subscriptions.iter().chain([&INBOX_AUDIT]) {
                    if let Err(e) = client.subscribe(*topic, QoS::AtLeastOnce).await {
                        tracing::error!(topic, error = %e, "MQTT subscribe could not be queued");
                    }
                }
                // The audit only needs the retained messages sent on subscribing; after that
                // it would just echo our own task publishes back.
                let audit_client = client.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_secs(INBOX_AUDIT_SECS)).await;
                    let _ = audit_client.unsubscribe(INBOX_AUDIT).await;
                });
                connected.store(true, Ordering::Relaxed);
                // The broker may have restarted and lost retained inboxes: restore them.
                let _ = dispatcher.send(Command::Republish).await;
            }
            Ok(Event::Incoming(Packet::Publish(p))) => {
                let arrived = Instant::now();
                metrics.mqtt_message("in", super::kinds::inbound(&p.topic));
                tracing::trace!(topic = %p.topic, pkid = p.pkid, dup = p.dup, retain = p.retain, "publish in");
                // Dropped (acknowledged) wherever the message's handling ends.
                let ack = match acks.as_mut() {
                    Some(a) if p.qos != QoS::AtMostOnce => Some(a.guard(p.pkid)),
                    _ => None,
                };
                if p.payload.is_empty() && p.retain {
                    continue;
                }
                if let ["dispatch", rid, "tasks", tid] = p.topic.split('/').collect::<Vec<_>>()[..]
                {
                    // Only retained copies matter; live ones are our own publishes echoed.
                    if p.retain {
                        let cmd = Command::AuditRetained {
                            responder_id: rid.to_owned(),
                            task_id: tid.to_owned(),
                        };
                        let _ = dispatcher.send(cmd).await;
                    }
                    continue;
                }
                let msg = Inbound {
                    topic: p.topic,
                    payload: p.payload,
                    ack,
                    arrived,
                };
                if inbound.send(msg).await.is_err() {
                    break;
                }
            }
            Ok(Event::Outgoing(rumqttc::Outgoing::Publish(pkid))) => lock(&tracker).written(pkid),
            Ok(Event::Outgoing(rumqttc::Outgoing::AwaitAck(pkid))) => {
                lock(&tracker).collision(pkid)
            }
            Ok(Event::Incoming(Packet::PubAck(ack))) => {
                let seq = lock(&tracker).acked(ack.pkid);
                if let Some(seq) = seq {
                    let _ = settled_tx.send(seq);
                }
            }
            Ok(_) => {}
            Err(e) => {
                connected.store(false, Ordering::Relaxed);
                failures = failures.saturating_add(1);
                let wait = Duration::from_millis(200 * u64::from(failures.min(25)));
                if failures == 1 || failures.is_multiple_of(30) {
                    if let rumqttc::ConnectionError::Tls(tls) = &e {
                        // Mostly a refused certificate, which retrying will not cure until the
                        // CA file, the URL's host name or the broker's certificate changes.
                        tracing::error!(host = %cfg.host, port = cfg.port, error = %tls, "MQTT over TLS failed: is the broker's certificate signed by a CA in mqtt.ca_file, and issued for the host in mqtt.url? retrying");
                    } else {
                        tracing::warn!(host = %cfg.host, port = cfg.port, error = %e, "MQTT connection lost; retrying");
                    }
                }
                tokio::select! {
                    _ = cancel.cancelled() => break,
                    _ = tokio::time::sleep(wait) => {}
                }
            }
        }
    }
    connected.store(false, Ordering::Relaxed);
    let _ = tokio::time::timeout(Duration::from_secs(2), client.disconnect()).await;
    sender.abort();
    Ok(())
}

/// Deletes the outbox rows the broker acknowledged, a batch at a time. A failure leaves
/// them owed: the next engine start sends them again (at least once).
async fn settle(
    store: crate::store::Store,
    mut rx: mpsc::UnboundedReceiver<i64>,
    cancel: CancellationToken,
) {
    loop {
        // One DELETE per burst of acknowledgements, not one per row.
        let mut seqs = Vec::new();
        tokio::select! {
            _ = cancel.cancelled() => break,
            n = rx.recv_many(&mut seqs, 500) => if n == 0 { break },
        }
        if let Err(e) = store.outbox_done(&seqs).await {
            tracing::warn!(error = %e, rows = seqs.len(), "could not settle outbox rows");
        }
    }
}
