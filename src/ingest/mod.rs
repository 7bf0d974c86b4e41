//! Ingest adapters: turn what arrives on MQTT topics (and, for GB/T 28181 alarms, over
//! HTTP) into dispatcher commands. Each format has its own module; anything that cannot be
//! understood becomes a dead letter with its topic, its bytes (bounded) and the reason.

pub mod frigate;
pub mod gb28181;
pub mod onvif;
pub mod owntracks;
pub mod xml_limits;

use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::dispatch::{AlertOutcome, Command, DispatchError, Dispatcher, TaskUpdate};
use crate::domain::alert::{AlertPayload, NewAlert};
use crate::domain::camera_health;
use crate::domain::closed_loop::ExtensionAsk;
use crate::domain::Ident;
use crate::metrics::Metrics;
use crate::mqtt::client::Inbound;
use crate::store::{now_ms, Store, StoreError};

/// The topics whose messages ingest handles (the dispatcher's MQTT client subscribes to
/// them).
pub const SUBSCRIPTIONS: &[&str] = &[
    "alerts/+",
    "frigate/events",
    "frigate/+/status/detect",
    "frigate/available",
    gb28181::TOPIC,
    "owntracks/+/+",
    "dispatch/+/tasks/+/update",
    "dispatch/+/tasks/+/extension",
    "dispatch/+/duty/set",
];

/// How long [`Ingest::submit_alert`] retries a store failure before filing the alert as a
/// dead letter.
pub const GIVE_UP_AFTER: std::time::Duration = std::time::Duration::from_secs(300);

/// Source id under which Frigate events are recorded.
pub const FRIGATE_SOURCE: &str = "frigate";

/// Routes inbound messages to the dispatcher and dead letters.
#[derive(Debug, Clone)]
pub struct Ingest {
    /// The dispatcher.
    pub dispatcher: Dispatcher,
    /// For source checks and dead letters.
    pub store: Store,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// Bytes of a bad payload kept.
    pub max_dead_letter_bytes: usize,
    /// How many dead letters are kept, and for how long.
    pub dead_letter_bound: DeadLetterBound,
    /// Sources already seen in the database. Sources are never deleted, so a hit never
    /// goes stale, and the busy path skips a query per alert.
    pub known_sources: Arc<std::sync::Mutex<std::collections::HashSet<String>>>,
    /// Zone in which GB/T 28181 AlarmTime values are read.
    pub gb28181_tz: chrono_tz::Tz,
    /// Alerts handed on and not yet answered by the dispatcher ([`ALERTS_PENDING`]).
    pub alert_slots: AlertSlots,
}

/// Most alerts waiting for the dispatcher at once, so a backlog never grows without bound
/// in this process's memory. With the embedded broker, or an external one and a kept
/// session, messages are acknowledged once handled and the broker's in-flight window
/// (smaller than this) is the real bound: past capacity the broker holds the rest and
/// makes the sources wait. Only a client that acknowledges on receipt (an external broker
/// without a kept session) reaches this bound; the ingest loop then waits for a slot. About
/// three seconds of the dispatcher's capacity.
pub const ALERTS_PENDING: usize = 4096;

/// The slots of [`ALERTS_PENDING`].
#[derive(Debug, Clone)]
pub struct AlertSlots(Arc<tokio::sync::Semaphore>);

impl Default for AlertSlots {
    fn default() -> Self {
        AlertSlots(Arc::new(tokio::sync::Semaphore::new(ALERTS_PENDING)))
    }
}

/// Keeps the dead-letter store bounded by count and age. A worker flooding malformed
/// messages once grew the database from 0 to 191 MB in 15 s (security review, issue 12
/// finding 7). Pruning runs every [`DeadLetterBound::prune_every`] inserts rather than per
/// insert, and keeps that many fewer than `max_rows`, so the table never holds more than
/// `max_rows` and a flood costs one cheap DELETE per batch.
#[derive(Debug, Clone)]
pub struct DeadLetterBound {
    /// Rows kept at most.
    pub max_rows: u64,
    /// Rows older than this are deleted, ms.
    pub max_age_ms: i64,
    /// Inserts since start, shared by every clone.
    pub inserts: Arc<std::sync::atomic::AtomicU64>,
}

impl DeadLetterBound {
    /// At most `max_rows` dead letters, none older than `max_age_days`.
    pub fn new(max_rows: u64, max_age_days: u64) -> DeadLetterBound {
        DeadLetterBound {
            max_rows: max_rows.max(1),
            max_age_ms: i64::try_from(max_age_days.saturating_mul(86_400_000)).unwrap_or(i64::MAX),
            inserts: Arc::default(),
        }
    }

    /// Inserts between two prunes: a tenth of the bound (at least 1, at most 1000).
    pub fn prune_every(&self) -> u64 {
        (self.max_rows / 10).clamp(1, 1000)
    }

    /// Rows a prune leaves, so that the inserts until the next one fit under `max_rows`.
    pub fn keep_rows(&self) -> u64 {
        self.max_rows - self.prune_every().min(self.max_rows)
    }
}

/// What a message turned out to be.
#[derive(Debug)]
enum Routed {
    /// An alert to open or join an incident.
    Alert(NewAlert),
    /// Anything else the dispatcher takes.
    Command(Command),
    /// Valid but nothing to do (e.g. an OwnTracks waypoint, a Frigate false positive).
    Ignore,
}

impl Ingest {
    /// Handles messages until the channel closes or `cancel` fires.
    pub async fn run(
        self,
        mut rx: mpsc::Receiver<Inbound>,
        cancel: CancellationToken,
    ) -> anyhow::Result<()> {
        loop {
            let msg = tokio::select! {
                _ = cancel.cancelled() => break,
                m = rx.recv() => match m { Some(m) => m, None => break },
            };
            self.metrics.mqtt_messages_in_total.inc();
            self.handle(msg).await;
        }
        Ok(())
    }

    /// Handles one message.
    pub async fn handle(&self, msg: Inbound) {
        match self.route(&msg).await {
            Ok(Routed::Alert(alert)) => {
                // The reply is awaited off the ingest loop so location fixes and task
                // updates never queue behind an alert being stored.
                let Ok(slot) = self.alert_slots.0.clone().acquire_owned().await else {
                    return; // never closed
                };
                let this = self.clone();
                // Every log line about this alert, here and in the engine, in one span.
                let span = tracing::info_span!(
                    "alert",
                    source = %alert.source_id,
                    id = ?alert.external_id
                );
                tokio::spawn(async move {
                    use tracing::Instrument as _;
                    let _slot = slot;
                    this.submit_alert(&msg.topic, &msg.payload, alert, msg.arrived)
                        .instrument(span)
                        .await;
                    // Named so the block owns the guard: an async block captures only the
                    // fields it uses, and a guard left behind in `msg` would be dropped
                    // (the message acknowledged) before the alert was even stored.
                    drop(msg.ack);
                });
            }
            Ok(Routed::Command(cmd)) => {
                if self.dispatcher.send(cmd).await.is_err() {
                    tracing::warn!(topic = %msg.topic, "dispatcher stopped; message dropped");
                }
            }
            Ok(Routed::Ignore) => {}
            Err(reason) => self.dead_letter(&msg, &reason).await,
        }
    }

    /// Hands `alert`, which arrived at `arrived`, to the dispatcher and waits until it is
    /// stored. One the dispatcher
    /// refuses as invalid (e.g. an unknown camera) becomes a dead letter of `payload` under
    /// `topic`, the way in it came. The outcome, if stored.
    ///
    /// A store failure (the database unreachable, a batch refused) is retried with backoff
    /// for as long as it lasts, since the caller acknowledges the message once this returns
    /// (`mqtt::acks`): an alert acknowledged but not stored would be lost. Meanwhile the
    /// broker stops sending (its in-flight window fills), which is the backpressure wanted.
    /// After [`GIVE_UP_AFTER`] the alert is filed as a dead letter instead, so one that can
    /// never be stored does not hold back every acknowledgement behind it.
    pub async fn submit_alert(
        &self,
        topic: &str,
        payload: &[u8],
        alert: NewAlert,
        arrived: std::time::Instant,
    ) -> Option<AlertOutcome> {
        let started = std::time::Instant::now();
        let mut wait = std::time::Duration::from_millis(100);
        let mut attempts: u32 = 0;
        loop {
            attempts += 1;
            match self.dispatcher.alert_since(alert.clone(), arrived).await {
                Ok(outcome) => {
                    if attempts > 1 {
                        tracing::info!(topic, attempts, alert = %alert.external_id, "alert stored after retrying");
                    }
                    return Some(outcome);
                }
                Err(DispatchError::Invalid(reason)) => {
                    self.record_dead_letter(topic, payload, &reason).await;
                    return None;
                }
                Err(DispatchError::Store(e)) => {
                    self.metrics.alert_store_retries_total.inc();
                    if started.elapsed() >= GIVE_UP_AFTER {
                        let reason = format!("could not be stored after {attempts} attempts: {e}");
                        if self.try_dead_letter(topic, payload, &reason).await {
                            return None;
                        }
                    } else if attempts == 1 || attempts.is_multiple_of(20) {
                        tracing::warn!(topic, attempts, alert = %alert.external_id, error = %e, "alert not stored yet; retrying");
                    }
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(std::time::Duration::from_secs(5));
                }
                Err(other) => {
                    // Stopped (the process is going down; the broker keeps the message,
                    // since no barrier answers any more) or an internal refusal.
                    tracing::error!(topic, error = %other, "alert not processed");
                    return None;
                }
            }
        }
    }

    async fn dead_letter(&self, msg: &Inbound, reason: &str) {
        self.record_dead_letter(&msg.topic, &msg.payload, reason)
            .await;
    }

    /// Stores (bounded) and counts a payload that could not be understood; `topic` says
    /// where it came from (an MQTT topic, or e.g. `POST /api/v1/ingest/gb28181`).
    pub async fn record_dead_letter(&self, topic: &str, payload: &[u8], reason: &str) {
        self.try_dead_letter(topic, payload, reason).await;
    }

    /// [`Ingest::record_dead_letter`], saying whether the dead letter was stored.
    async fn try_dead_letter(&self, topic: &str, payload: &[u8], reason: &str) -> bool {
        self.metrics.dead_letters_total.inc();
        tracing::warn!(
            topic,
            bytes = payload.len(),
            reason,
            "message dead-lettered"
        );
        match self
            .store
            .dead_letter(topic, payload, self.max_dead_letter_bytes, reason)
            .await
        {
            Ok(_) => {
                let bound = &self.dead_letter_bound;
                let n = bound
                    .inserts
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                // The first insert after a start prunes too, so what aged out meanwhile goes.
                if n.is_multiple_of(bound.prune_every()) {
                    self.prune_dead_letters().await;
                }
                true
            }
            Err(e) => {
                tracing::error!(error = %e, "could not store a dead letter");
                false
            }
        }
    }

    /// Deletes dead letters beyond the bound's count and age, counting them.
    pub async fn prune_dead_letters(&self) {
        let bound = &self.dead_letter_bound;
        let keep = i64::try_from(bound.keep_rows()).unwrap_or(i64::MAX);
        match self
            .store
            .prune_dead_letters(keep, now_ms().saturating_sub(bound.max_age_ms))
            .await
        {
            Ok(0) => {}
            Ok(n) => {
                self.metrics.dead_letters_pruned_total.inc_by(n);
                tracing::debug!(pruned = n, "old dead letters deleted");
            }
            Err(e) => tracing::warn!(error = %e, "could not prune dead letters"),
        }
    }

    /// The alert for a GB/T 28181 alarm body, placed at its coordinates or at the camera
    /// registered with its DeviceID. `Invalid` carries the reason for the dead letter. The
    /// one parse path of MQTT and HTTP alarms: the parse runs on a blocking thread, so a
    /// hostile document cannot stall the async workers (and with them /healthz and the
    /// broker), and one over the size limit is refused before it is copied there.
    pub async fn gb28181_alert(&self, payload: &[u8]) -> Result<NewAlert, DispatchError> {
        gb28181::check_size(payload).map_err(DispatchError::Invalid)?;
        let (body, tz) = (payload.to_vec(), self.gb28181_tz);
        let alarm = tokio::task::spawn_blocking(move || gb28181::parse(&body, tz))
            .await
            .map_err(|e| DispatchError::Invalid(format!("GB/T 28181 parse failed: {e}")))?
            .map_err(DispatchError::Invalid)?;
        let camera = match self.store.camera_by_gb28181_id(&alarm.device_id).await? {
            Some(row) => Some(Ident::parse(&row.id).map_err(|e| {
                DispatchError::Invalid(format!("camera id {}: {}", row.id, e.reason))
            })?),
            None => None,
        };
        gb28181::to_alert(&alarm, camera, now_ms()).map_err(DispatchError::Invalid)
    }

    async fn check_source(&self, source: &Ident) -> Result<(), String> {
        let known = |set: &std::sync::Mutex<std::collections::HashSet<String>>| {
            set.lock()
                .map(|s| s.contains(source.as_str()))
                .unwrap_or(false)
        };
        if known(&self.known_sources) {
            return Ok(());
        }
        match self.store.source_exists(source.as_str()).await {
            Ok(true) => {
                if let Ok(mut set) = self.known_sources.lock() {
                    set.insert(source.to_string());
                }
                Ok(())
            }
            Ok(false) => Err(format!("unknown alert source {source}")),
            Err(e) => Err(format!("could not check the source: {e}")),
        }
    }

    async fn route(&self, msg: &Inbound) -> Result<Routed, String> {
        let levels: Vec<&str> = msg.topic.split('/').collect();
        match levels.as_slice() {
            ["alerts", source] => {
                let source =
                    Ident::parse(source).map_err(|e| format!("source id in topic: {e}"))?;
                self.check_source(&source).await?;
                let payload: AlertPayload = parse_json(&msg.payload)?;
                let alert =
                    NewAlert::from_payload(source, payload, now_ms()).map_err(|e| e.to_string())?;
                Ok(Routed::Alert(alert))
            }
            ["frigate", "events"] => match frigate::to_alert(&msg.payload, now_ms())? {
                Some(alert) => Ok(Routed::Alert(alert)),
                None => Ok(Routed::Ignore),
            },
            ["frigate", camera, "status", "detect"] => {
                let camera =
                    Ident::parse(camera).map_err(|e| format!("Frigate camera name: {e}"))?;
                let report = camera_health::parse_detect(&msg.payload)?;
                match self.store.camera(camera.as_str()).await {
                    Ok(_) => {}
                    Err(StoreError::NotFound(_)) => {
                        return Err(format!("unknown camera {camera}"));
                    }
                    Err(e) => return Err(format!("could not look up the camera: {e}")),
                }
                Ok(Routed::Command(Command::CameraStatus {
                    camera_id: camera.to_string(),
                    online: report.status == camera_health::CameraStatus::Online,
                    reason: report.reason,
                    at_ms: now_ms(),
                    stream: None,
                }))
            }
            ["frigate", "available"] => {
                if camera_health::parse_available(&msg.payload)? {
                    // Per-camera status follows; nothing to do until it does.
                    Ok(Routed::Ignore)
                } else {
                    Ok(Routed::Command(Command::FrigateUnavailable {
                        reason: camera_health::REASON_FRIGATE_UNAVAILABLE.into(),
                        at_ms: now_ms(),
                    }))
                }
            }
            ["gb28181", "alarm"] => match self.gb28181_alert(&msg.payload).await {
                Ok(alert) => Ok(Routed::Alert(alert)),
                Err(DispatchError::Invalid(reason)) => Err(reason),
                Err(e) => Err(format!("could not look up the GB/T 28181 device: {e}")),
            },
            ["owntracks", responder, _device] => {
                let responder_id =
                    Ident::parse(responder).map_err(|e| format!("responder id in topic: {e}"))?;
                match owntracks::parse(&msg.payload)? {
                    Some(fix) => Ok(Routed::Command(Command::Location {
                        responder_id,
                        at: fix.at,
                        time_ms: fix.time_ms,
                        accuracy_m: fix.accuracy_m,
                        battery: fix.battery,
                    })),
                    None => Ok(Routed::Ignore),
                }
            }
            ["dispatch", responder, "tasks", task, "update"] => {
                let responder_id =
                    Ident::parse(responder).map_err(|e| format!("responder id in topic: {e}"))?;
                let update: TaskUpdate = parse_json(&msg.payload)?;
                Ok(Routed::Command(Command::TaskUpdate {
                    responder_id,
                    task_id: (*task).to_owned(),
                    update,
                }))
            }
            ["dispatch", responder, "tasks", task, "extension"] => {
                let responder_id =
                    Ident::parse(responder).map_err(|e| format!("responder id in topic: {e}"))?;
                let ask: ExtensionAsk = parse_json(&msg.payload).map_err(|e| {
                    format!(
                        "extension request: expected {{\"minutes\": n, \"reason\": \"…\"}}: {e}"
                    )
                })?;
                let ask = ask
                    .checked()
                    .map_err(|e| format!("extension request: {e}"))?;
                Ok(Routed::Command(Command::Extension {
                    responder_id,
                    task_id: (*task).to_owned(),
                    ask,
                }))
            }
            ["dispatch", responder, "duty", "set"] => {
                let responder_id =
                    Ident::parse(responder).map_err(|e| format!("responder id in topic: {e}"))?;
                let on_duty = parse_duty(&msg.payload)?;
                Ok(Routed::Command(Command::Duty {
                    responder_id,
                    on_duty,
                    at_ms: now_ms(),
                }))
            }
            _ => Err("no handler for this topic".into()),
        }
    }
}

/// A worker's duty toggle on `dispatch/<id>/duty/set`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct DutySet {
    /// On duty from now on.
    on_duty: bool,
}

/// A duty toggle's payload: on duty from now on, or not.
pub(crate) fn parse_duty(bytes: &[u8]) -> Result<bool, String> {
    let set: DutySet = parse_json(bytes)
        .map_err(|e| format!("duty toggle: expected {{\"on_duty\": true|false}}: {e}"))?;
    Ok(set.on_duty)
}

/// Parses JSON, with an error that says where it went wrong.
pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    serde_json::from_slice(bytes).map_err(|e| format!("invalid JSON: {e}"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::mqtt::acks::Acks;

    /// `griddispatch_mqtt_messages_total` tells each subscription's messages apart.
    #[test]
    fn every_subscribed_topic_has_a_message_kind_of_its_own() {
        let mut seen = Vec::new();
        for filter in SUBSCRIPTIONS {
            let kind = crate::mqtt::kinds::inbound(&filter.replace('+', "x1"));
            assert_ne!(kind, "other", "{filter}");
            assert!(crate::mqtt::kinds::INBOUND.contains(&kind), "{kind}");
            assert!(!seen.contains(&kind), "{filter}: {kind} twice");
            seen.push(kind);
        }
    }

    /// The broker may only hear an alert's PUBACK once the alert is stored: its guard must
    /// live until the engine has answered, not just until the alert is handed on.
    #[tokio::test]
    async fn an_alert_is_acknowledged_only_after_the_engine_answers() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}", dir.path().join("t.db").display());
        let store = Store::connect(&url, 1).await.unwrap();
        let (dispatcher, mut engine) = Dispatcher::deferred();
        let ingest = Ingest {
            dispatcher,
            store,
            metrics: Arc::default(),
            max_dead_letter_bytes: 1024,
            dead_letter_bound: DeadLetterBound::new(100, 1),
            // Known already, so routing asks nothing of the database.
            known_sources: Arc::new(std::sync::Mutex::new(["s1".to_owned()].into())),
            gb28181_tz: chrono_tz::Asia::Shanghai,
            alert_slots: AlertSlots::default(),
        };
        let (mut acks, mut handed) = Acks::new();
        acks.reconnected();
        let msg = Inbound {
            topic: "alerts/s1".into(),
            payload: bytes::Bytes::from_static(
                br#"{"id":"a1","kind":"medical","severity":2,"lat":39.5,"lon":106.7}"#,
            ),
            ack: Some(acks.guard(7)),
            arrived: std::time::Instant::now(),
        };
        ingest.handle(msg).await;

        let cmd =
            tokio::time::timeout(std::time::Duration::from_secs(5), engine.alerts.recv()).await;
        let Ok(Some(Command::Alert(alert, _, _, reply))) = cmd else {
            panic!("the engine got no alert but {cmd:?}");
        };
        assert_eq!(alert.external_id, "a1");
        // Give a stray drop every chance to show up before the engine answers.
        tokio::task::yield_now().await;
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(
            handed.try_recv().is_err(),
            "the alert was handed for acknowledgement before it was stored"
        );
        reply
            .send(Ok(AlertOutcome {
                alert_id: "alr-1".into(),
                incident_id: "inc-1".into(),
                duplicate: false,
                correlated: false,
            }))
            .unwrap();
        let (_, _, pkid) = tokio::time::timeout(std::time::Duration::from_secs(5), handed.recv())
            .await
            .expect("acknowledged once stored")
            .unwrap();
        assert_eq!(pkid, 7);
    }
}
