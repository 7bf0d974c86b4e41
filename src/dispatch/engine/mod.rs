//! The engine behind [`super::Dispatcher`]: in-memory view of the open state plus the rules
//! that change it. See the module docs of `dispatch` for the concurrency model.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::messages::{
    answer_topic, closed_message, closed_topic, duty_message, duty_topic, task_message, task_topic,
};
use super::{
    AlertOutcome, Announce, Command, DispatchError, OperatorAction, Outgoing, Reload,
    SnapshotRequest, SnapshotRequests, TaskUpdate, UpdateAnswer,
};
use crate::config::{CorrelationSettings, DispatchSettings, Settings};
use crate::domain::alert::{AlertPlace, NewAlert, Rendezvous, SnapshotSource};
use crate::domain::camera_health::{self, CameraStatus, Health, StreamFacts};
use crate::domain::nearby::PointIndex;
use crate::domain::ranking::{RankParams, RankRequest, Ranked, Responder, ResponderIndex};
use crate::domain::zones::{Zone, ZoneIndex};
use crate::domain::Severity;
use crate::domain::{Ident, IncidentState, LatLon, TaskStatus};
use crate::metrics::Metrics;
use crate::store::{
    now_ms, AlertRow, CameraHealthRow, CameraStatusWrite, CameraStreamRow, IncidentRow,
    ResponderRow, SnapshotRow, Store, StoreError, TaskRow, TimelineRow, Write,
};
use crate::views::{self, SnapshotFiles};

/// Actor name of the dispatcher itself in timelines.
const DISPATCHER: &str = "dispatcher";

pub(super) struct Engine {
    /// Where decisions are written.
    store: Store,
    /// Offer and ranking rules.
    rules: DispatchSettings,
    /// Correlation rules.
    correlation: CorrelationSettings,
    /// MQTT messages to send.
    out: mpsc::UnboundedSender<Outgoing>,
    /// Counters.
    metrics: Arc<Metrics>,
    /// Coverage zones.
    zones: ZoneIndex,
    /// Responders with their positions.
    responders: ResponderIndex,
    /// Camera id → position.
    cameras: HashMap<String, LatLon>,
    /// Open incidents by id.
    incidents: HashMap<String, IncidentRow>,
    /// Positions of the open incidents that alerts may still join (not resolved).
    joinable: PointIndex,
    /// Open tasks by id.
    tasks: HashMap<String, TaskRow>,
    /// Incident id → responders who already lost an offer for it.
    excluded: HashMap<String, HashSet<Ident>>,
    /// (respond_by, task id) of outstanding offers.
    deadlines: BTreeSet<(i64, String)>,
    /// Camera id → health, as Frigate reported it.
    health: HashMap<String, Health>,
    /// (due time, camera id) of offline cameras that become an incident then.
    camera_due: BTreeSet<(i64, String)>,
    /// Camera id → its open `camera_offline` incident.
    camera_incidents: HashMap<String, String>,
    /// How long a camera stays offline before its incident opens, ms.
    offline_after_ms: i64,
    /// Decisions made but not yet written (see [`Engine::flush`]).
    batch: Batch,
    /// Set when a commit was refused because this replica no longer leads: the engine
    /// stops instead of deciding next to the new leader.
    deposed: Option<String>,
    /// A batch failed since the last barrier: some command before the next barrier may
    /// have had no effect, so that barrier reports it (see [`Command::Barrier`]).
    failed_since_barrier: bool,
    /// A failed batch left memory ahead of the database and reloading failed too: no
    /// command is handled until a reload succeeds, since every decision would start from
    /// a state that was never stored.
    stale: bool,
    /// The broker sends a message again when its batch fails (see
    /// [`crate::config::MqttSettings::broker_redelivers`]), so a worker's update needs no
    /// "try again" answer: it will be applied when it comes back.
    redelivers: bool,
    /// Where snapshots are asked for (never waited on).
    snapshot_requests: SnapshotRequests,
    /// Links of snapshot files, for task messages.
    snapshot_files: SnapshotFiles,
    /// Open incident id → its snapshots, which its task messages carry.
    snapshots: HashMap<String, Vec<SnapshotRow>>,
    /// The live feed: told of every committed change, never waited on.
    live: Arc<dyn Announce>,
}

/// Most commands handled before their decisions are written together.
const MAX_BATCH: usize = 256;

/// Decisions waiting for one shared transaction. Under load many commands are queued at
/// once; writing them in one transaction instead of one each is what lets a single
/// dispatcher keep up with a burst, and the answers still go out only after the write.
#[derive(Default)]
struct Batch {
    /// Written in one transaction.
    writes: Vec<Write>,
    /// Sent after the commit, in order.
    publish: Vec<Outgoing>,
    /// Told whether the batch was stored (replies to callers, failure answers).
    done: Vec<Box<dyn FnOnce(bool) + Send>>,
    /// Alerts in this batch, (source, external id) → (alert id, incident id): the
    /// duplicate check must see them before they reach the database.
    alerts: HashMap<(String, String), (String, String)>,
    /// Snapshots to ask for once the batch is stored (their incident must exist first).
    snapshots: Vec<SnapshotRequest>,
    /// Live events that are not a row write (camera status changes), sent after the commit.
    live: Vec<(&'static str, serde_json::Value)>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("incidents", &self.incidents.len())
            .field("tasks", &self.tasks.len())
            .finish_non_exhaustive()
    }
}

fn new_id(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::now_v7().simple())
}

/// Turns a stored zone into the domain shape; a zone whose geometry no longer parses is
/// skipped with a warning rather than stopping the dispatcher.
pub(crate) fn zone_from_row(row: &crate::store::ZoneRow) -> Option<Zone> {
    let geometry: geojson::Geometry = match row.geometry.parse() {
        Ok(g) => g,
        Err(e) => {
            tracing::warn!(zone = %row.id, error = %e, "stored zone geometry unreadable; zone ignored");
            return None;
        }
    };
    let shape = crate::domain::zones::to_multipolygon(&geometry).ok()?;
    Some(Zone {
        id: Ident::parse(&row.id).ok()?,
        name: row.name.clone(),
        kind: row.kind,
        shape,
    })
}

/// The zone index for stored zones.
pub(crate) fn zone_index(rows: &[crate::store::ZoneRow]) -> ZoneIndex {
    ZoneIndex::new(rows.iter().filter_map(zone_from_row).collect())
}

fn responder_from_row(row: &ResponderRow) -> Option<Responder> {
    Some(Responder {
        id: Ident::parse(&row.id).ok()?,
        kind: row.kind,
        travel: row.travel,
        zone_id: row.zone_id.as_deref().and_then(|z| Ident::parse(z).ok()),
        on_duty: row.on_duty,
        position: match (row.lat, row.lon) {
            (Some(lat), Some(lon)) => LatLon::new(lat, lon).ok(),
            _ => None,
        },
        fix_at_ms: row.fix_at,
        busy: false,
    })
}

fn health_from_row(row: &CameraHealthRow) -> Health {
    Health {
        status: row.status,
        since: row.status_since,
        last_seen: row.last_seen,
        last_error: row.last_error.clone(),
    }
}

/// One decision in the making: database writes and the messages to send once they commit.
#[derive(Default)]
struct Change {
    /// Written in one transaction.
    writes: Vec<Write>,
    /// Sent after the commit.
    publish: Vec<Outgoing>,
    /// Live events beyond those the writes imply, sent after the commit.
    live: Vec<(&'static str, serde_json::Value)>,
}

impl Engine {
    pub(super) async fn load(
        store: Store,
        settings: &Settings,
        out: mpsc::UnboundedSender<Outgoing>,
        metrics: Arc<Metrics>,
        snapshot_requests: SnapshotRequests,
        live: Arc<dyn Announce>,
    ) -> anyhow::Result<Engine> {
        let mut engine = Engine {
            store,
            rules: settings.dispatch.clone(),
            correlation: settings.correlation.clone(),
            out,
            metrics,
            zones: ZoneIndex::default(),
            responders: ResponderIndex::new(39.5),
            cameras: HashMap::new(),
            incidents: HashMap::new(),
            tasks: HashMap::new(),
            excluded: HashMap::new(),
            deadlines: BTreeSet::new(),
            health: HashMap::new(),
            camera_due: BTreeSet::new(),
            camera_incidents: HashMap::new(),
            offline_after_ms: i64::try_from(settings.video.offline_incident_after_secs)
                .unwrap_or(i64::MAX / 2)
                .saturating_mul(1000),
            joinable: PointIndex::new(39.5),
            batch: Batch::default(),
            deposed: None,
            failed_since_barrier: false,
            stale: false,
            redelivers: settings.mqtt.broker_redelivers(),
            snapshot_requests,
            snapshot_files: SnapshotFiles::from_settings(settings),
            snapshots: HashMap::new(),
            live,
        };
        engine.reload_all().await?;
        Ok(engine)
    }

    /// Rebuilds the whole in-memory view from the database (start-up, and after a failed
    /// write so memory never drifts from the truth).
    async fn reload_all(&mut self) -> Result<(), StoreError> {
        self.load_zones().await?;
        let rows = self.store.responders().await?;
        let ref_lat = rows.iter().find_map(|r| r.lat).unwrap_or(39.5);
        self.responders = ResponderIndex::new(ref_lat);
        for row in &rows {
            if let Some(r) = responder_from_row(row) {
                self.responders.upsert(r);
            }
        }
        self.health = self.load_cameras().await?.into_iter().collect();
        // An offline camera's incident is due `offline_after` after it went offline, also
        // across a restart; one already opened is found again by its alert.
        self.camera_due = self
            .health
            .iter()
            .filter_map(|(id, h)| {
                camera_health::incident_due(h, self.offline_after_ms).map(|at| (at, id.clone()))
            })
            .collect();
        self.camera_incidents = self
            .store
            .open_incidents_by_camera(camera_health::SOURCE)
            .await?
            .into_iter()
            .collect();
        self.incidents = self
            .store
            .open_incidents()
            .await?
            .into_iter()
            .map(|i| (i.id.clone(), i))
            .collect();
        self.joinable = PointIndex::new(ref_lat);
        for i in self.incidents.values() {
            if i.state != IncidentState::Resolved {
                self.joinable.insert(
                    &i.id,
                    LatLon {
                        lat: i.lat,
                        lon: i.lon,
                    },
                );
            }
        }
        self.snapshots.clear();
        for snap in self.store.snapshots_of_open_incidents().await? {
            self.snapshots
                .entry(snap.incident_id.clone())
                .or_default()
                .push(snap);
        }
        self.tasks.clear();
        self.excluded.clear();
        self.deadlines.clear();
        for t in self.store.tasks_of_open_incidents().await? {
            let status = t.status;
            if matches!(status, TaskStatus::Rejected | TaskStatus::Expired) {
                if let Ok(rid) = Ident::parse(&t.responder_id) {
                    self.excluded
                        .entry(t.incident_id.clone())
                        .or_default()
                        .insert(rid);
                }
            }
            if status.is_open() {
                if let Ok(rid) = Ident::parse(&t.responder_id) {
                    self.responders.set_busy(&rid, true);
                }
                if status == TaskStatus::Offered {
                    self.deadlines.insert((t.respond_by, t.id.clone()));
                }
                self.tasks.insert(t.id.clone(), t);
            }
        }
        Ok(())
    }

    async fn load_zones(&mut self) -> Result<(), StoreError> {
        self.zones = zone_index(&self.store.zones().await?);
        Ok(())
    }

    /// Loads every camera's position (one read of the table), and returns the stored
    /// health of each for the caller to merge as it needs.
    async fn load_cameras(&mut self) -> Result<Vec<(String, Health)>, StoreError> {
        let views = self.store.camera_views().await?;
        self.cameras = views
            .iter()
            .map(|v| {
                let at = LatLon {
                    lat: v.camera.lat,
                    lon: v.camera.lon,
                };
                (v.camera.id.clone(), at)
            })
            .collect();
        Ok(views
            .into_iter()
            .map(|v| (v.camera.id, health_from_row(&v.health)))
            .collect())
    }

    pub(super) async fn run(
        mut self,
        mut inbox: super::Inbox,
        cancel: CancellationToken,
    ) -> anyhow::Result<()> {
        tracing::info!(
            incidents = self.incidents.len(),
            open_tasks = self.tasks.len(),
            responders = self.responders.len(),
            zones = self.zones.len(),
            "dispatcher started"
        );
        self.resume().await;
        let mut reload_failures: u32 = 0;
        loop {
            if self.stale {
                // Commands wait in the channel (and MQTT messages unacknowledged in the
                // broker) until memory matches the database again.
                tokio::select! {
                    _ = cancel.cancelled() => break,
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
                match self.reload_all().await {
                    Ok(()) => {
                        tracing::info!(
                            attempts = reload_failures + 1,
                            "state reloaded from the database; dispatching again"
                        );
                        self.stale = false;
                        reload_failures = 0;
                    }
                    Err(e) => {
                        reload_failures += 1;
                        if reload_failures.is_multiple_of(30) {
                            tracing::error!(error = %e, attempts = reload_failures, "still cannot reload state from the database");
                        }
                        continue;
                    }
                }
            }
            let next = [
                self.deadlines.first().map(|(at, _)| *at),
                self.camera_due.first().map(|(at, _)| *at),
            ]
            .into_iter()
            .flatten()
            .min();
            let sleep = async {
                match next {
                    Some(at) => {
                        let wait = (at - now_ms()).max(0) as u64;
                        tokio::time::sleep(Duration::from_millis(wait)).await
                    }
                    None => std::future::pending().await,
                }
            };
            // Commands before alerts (see `Inbox`).
            let cmd = tokio::select! {
                biased;
                _ = cancel.cancelled() => break,
                cmd = inbox.commands.recv() => cmd,
                cmd = inbox.alerts.recv() => cmd,
                _ = sleep => {
                    self.expire_due();
                    self.open_due_cameras().await;
                    self.flush().await;
                    None
                }
            };
            if let Some(cmd) = cmd {
                self.handle(cmd).await;
                // Whatever else is already queued joins the same transaction.
                for _ in 1..MAX_BATCH {
                    match inbox.try_next() {
                        Some(cmd) => self.handle(cmd).await,
                        None => break,
                    }
                }
                self.flush().await;
            } else if inbox.commands.is_closed() && inbox.alerts.is_closed() {
                break;
            }
            if let Some(why) = self.deposed.take() {
                anyhow::bail!("the dispatcher stops: {why}");
            }
        }
        self.flush().await;
        tracing::info!("dispatcher stopped");
        Ok(())
    }

    /// After a restart: incidents that were opened but never offered (or whose offers all
    /// ended while we were down) get dispatched now; due deadlines fire on the first tick.
    async fn resume(&mut self) {
        // What the last run committed but the broker never acknowledged goes out first.
        match self.store.outbox_pending().await {
            Ok(owed) => {
                if !owed.is_empty() {
                    tracing::info!(messages = owed.len(), "sending what was owed from before");
                }
                for msg in owed {
                    let _ = self.out.send(msg);
                }
            }
            Err(e) => tracing::error!(error = %e, "could not read the outbox"),
        }
        let pending: Vec<String> = self
            .incidents
            .values()
            .filter(|i| {
                let s = i.state;
                s == IncidentState::New
                    || (s == IncidentState::Dispatching && !self.has_outstanding_offer(&i.id))
            })
            .map(|i| i.id.clone())
            .collect();
        for id in pending {
            let mut change = Change::default();
            self.offer_next(&id, &mut change, now_ms());
            self.stage(change, |_| {});
        }
        self.publish_inbox();
        self.flush().await;
    }

    async fn handle(&mut self, cmd: Command) {
        match cmd {
            Command::Alert(alert, reply) => {
                let wanted = alert
                    .camera_id
                    .as_ref()
                    .map(|c| (c.to_string(), alert.snapshot.clone()));
                match self.on_alert(alert).await {
                    Ok((change, outcome)) => {
                        if let Some((camera_id, source)) = wanted {
                            // A repeated Frigate event may bring the picture the first
                            // message did not have; any other repeat has nothing new.
                            let fresh = !outcome.duplicate
                                || matches!(source, SnapshotSource::Frigate { .. });
                            if fresh && source != SnapshotSource::None {
                                self.batch.snapshots.push(SnapshotRequest {
                                    incident_id: outcome.incident_id.clone(),
                                    camera_id,
                                    source,
                                });
                            }
                        }
                        self.stage_alert(change, outcome, reply);
                    }
                    Err(e) => {
                        let _ = reply.send(Err(e));
                    }
                }
            }
            Command::TaskUpdate {
                responder_id,
                task_id,
                update,
            } => self.on_task_update(responder_id, task_id, update).await,
            Command::Location {
                responder_id,
                at,
                time_ms,
                accuracy_m,
                battery,
            } => self.on_location(&responder_id, at, time_ms, accuracy_m, battery),
            Command::Duty {
                responder_id,
                on_duty,
                at_ms,
            } => self.on_duty(&responder_id, on_duty, at_ms),
            Command::Operator {
                incident_id,
                action,
                actor,
                note,
                reply,
            } => match self.on_operator(&incident_id, action, &actor, note).await {
                Ok(change) => self.stage(change, move |stored| {
                    let _ = reply.send(if stored {
                        Ok(())
                    } else {
                        Err(DispatchError::Conflict(
                            "the change could not be stored; try again".into(),
                        ))
                    });
                }),
                Err(e) => {
                    let _ = reply.send(Err(e));
                }
            },
            Command::Candidates {
                incident_id,
                limit,
                reply,
            } => {
                let result = match self.incidents.get(&incident_id) {
                    Some(i) => Ok(self.rank_for(i, limit)),
                    None => Err(DispatchError::NotFound(format!(
                        "open incident {incident_id}"
                    ))),
                };
                let _ = reply.send(result);
            }
            Command::Reload(what) => {
                if let Err(e) = self.reload(what).await {
                    tracing::error!(error = %e, "reload failed");
                }
            }
            Command::CameraStatus {
                camera_id,
                online,
                reason,
                at_ms,
                stream,
            } => {
                let report = camera_health::Report {
                    status: if online {
                        CameraStatus::Online
                    } else {
                        CameraStatus::Offline
                    },
                    reason,
                };
                self.on_camera_status(&camera_id, &report, at_ms, stream.as_ref())
                    .await;
            }
            Command::FrigateUnavailable { reason, at_ms } => {
                let reported: Vec<String> = self
                    .health
                    .iter()
                    .filter(|(_, h)| h.status != CameraStatus::Unknown)
                    .map(|(id, _)| id.clone())
                    .collect();
                let report = camera_health::Report {
                    status: CameraStatus::Unknown,
                    reason: Some(reason),
                };
                for id in reported {
                    self.on_camera_status(&id, &report, at_ms, None).await;
                }
            }
            Command::Snapshot {
                incident_id,
                camera_id,
                result,
            } => self.on_snapshot(&incident_id, &camera_id, result),
            Command::Republish => self.publish_inbox(),
            // Staged like a decision, so it answers after the commit of its batch, which
            // holds every command handled before it.
            Command::Barrier(tx) => {
                let clean = !std::mem::take(&mut self.failed_since_barrier);
                self.stage(Change::default(), move |stored| {
                    let _ = tx.send(stored && clean);
                })
            }
            Command::AuditRetained {
                responder_id,
                task_id,
            } => {
                let open = self
                    .tasks
                    .get(&task_id)
                    .is_some_and(|t| t.responder_id == responder_id);
                if !open {
                    tracing::info!(responder = %responder_id, task = %task_id, "clearing a stale retained task");
                    self.send(Outgoing {
                        topic: task_topic(&responder_id, &task_id),
                        payload: Vec::new(),
                        retain: true,
                        outbox_seq: None,
                    });
                }
            }
        }
    }

    /// Stages an alert's change (none for a duplicate, which is answered at once); the
    /// caller hears once it is stored.
    fn stage_alert(
        &mut self,
        change: Option<Change>,
        outcome: AlertOutcome,
        reply: super::Reply<AlertOutcome>,
    ) {
        let Some(change) = change else {
            let _ = reply.send(Ok(outcome));
            return;
        };
        let metrics = self.metrics.clone();
        self.stage(change, move |stored| {
            let _ = reply.send(if stored {
                Metrics::inc(&metrics.alerts_total);
                if outcome.correlated {
                    Metrics::inc(&metrics.alerts_correlated_total);
                } else {
                    Metrics::inc(&metrics.incidents_opened_total);
                }
                Ok(outcome)
            } else {
                Err(DispatchError::Store(StoreError::Conflict(
                    "the alert could not be stored; try again".into(),
                )))
            });
        });
    }

    /// A snapshot was stored: its link goes into every open task of the incident (a new
    /// version, published retained). One that failed leaves its reason on the timeline.
    fn on_snapshot(
        &mut self,
        incident_id: &str,
        camera_id: &str,
        result: Result<SnapshotRow, String>,
    ) {
        if !self.incidents.contains_key(incident_id) {
            // Closed or cancelled meanwhile: the snapshot stays listed, nobody to tell.
            return;
        }
        let now = now_ms();
        let mut change = Change::default();
        let row = match result {
            Ok(row) => row,
            Err(why) => {
                let note = format!("snapshot from {camera_id} failed: {why}");
                self.timeline_note(incident_id, DISPATCHER, note, &mut change, now);
                self.stage(change, |_| {});
                return;
            }
        };
        let note = format!("snapshot {} from {camera_id} ({})", row.n, row.source);
        self.timeline_note(incident_id, DISPATCHER, note, &mut change, now);
        let list = self.snapshots.entry(incident_id.to_owned()).or_default();
        if !list.iter().any(|s| s.n == row.n) {
            list.push(row);
            list.sort_by_key(|s| s.n);
        }
        let Some(incident) = self.incidents.get(incident_id) else {
            return;
        };
        for task in self
            .tasks
            .values_mut()
            .filter(|t| t.incident_id == incident_id)
        {
            task.version += 1;
            task.updated_at = now;
            change.writes.push(Write::UpdateTask(task.clone()));
            change.publish.push(Outgoing {
                topic: task_topic(&task.responder_id, &task.id),
                payload: task_payload(task, incident, &self.snapshots, &self.snapshot_files),
                retain: true,
                outbox_seq: None,
            });
        }
        self.stage(change, |_| {});
    }

    async fn reload(&mut self, what: Reload) -> Result<(), StoreError> {
        match what {
            Reload::Responder(id) => {
                let Ok(ident) = Ident::parse(&id) else {
                    return Ok(());
                };
                match self.store.responder(&id).await {
                    Ok(row) => {
                        if let Some(mut r) = responder_from_row(&row) {
                            let busy = self.tasks.values().any(|t| t.responder_id == id);
                            r.busy = busy;
                            let duty_changed = self
                                .responders
                                .get(&ident)
                                .is_none_or(|old| old.on_duty != r.on_duty);
                            if duty_changed {
                                // The phone keeps seeing the state an admin set.
                                self.send(duty_outgoing(&id, r.on_duty, now_ms()));
                            }
                            // Keep a fresher in-memory fix than the stored one (writes are async).
                            if let Some(old) = self.responders.get(&ident) {
                                if old.fix_at_ms > r.fix_at_ms {
                                    r.position = old.position;
                                    r.fix_at_ms = old.fix_at_ms;
                                }
                            }
                            self.responders.upsert(r);
                            self.publish_responder(&id);
                        }
                    }
                    Err(StoreError::NotFound(_)) => {
                        self.responders.remove(&ident);
                        self.live
                            .announce("responder", views::responder_deleted_event(&id));
                        // Clear the retained duty state of a responder that is gone.
                        self.send(Outgoing {
                            topic: duty_topic(&id),
                            payload: Vec::new(),
                            retain: true,
                            outbox_seq: None,
                        });
                        // Offers to a deleted responder go back to the pool.
                        let theirs: Vec<String> = self
                            .tasks
                            .values()
                            .filter(|t| t.responder_id == id)
                            .map(|t| t.id.clone())
                            .collect();
                        let now = now_ms();
                        let mut change = Change::default();
                        self.end_tasks(
                            theirs,
                            TaskStatus::Withdrawn,
                            "responder deleted",
                            &mut change,
                            now,
                        );
                        self.stage(change, |_| {});
                    }
                    Err(e) => return Err(e),
                }
            }
            Reload::Zones => self.load_zones().await?,
            Reload::Cameras => {
                // New cameras start with their stored health; deleted ones are forgotten.
                // Known ones keep the in-memory health, which may be ahead of the store.
                for (id, stored) in self.load_cameras().await? {
                    self.health.entry(id).or_insert(stored);
                }
                let cameras = &self.cameras;
                self.health.retain(|id, _| cameras.contains_key(id));
                self.camera_due.retain(|(_, id)| cameras.contains_key(id));
            }
        }
        Ok(())
    }

    /// Adds a decision to the batch; `done` learns whether it was stored.
    fn stage(&mut self, change: Change, done: impl FnOnce(bool) + Send + 'static) {
        self.batch.writes.extend(change.writes);
        self.batch.publish.extend(change.publish);
        self.batch.live.extend(change.live);
        self.batch.done.push(Box::new(done));
    }

    /// Queues a message to go out after the batch before it (keeps the order phones see).
    fn send(&mut self, msg: Outgoing) {
        self.batch.publish.push(msg);
    }

    /// Writes the batch in one transaction; on success sends its messages, on failure
    /// reloads from the database so memory matches what was really stored. Either way
    /// every waiting caller is told.
    async fn flush(&mut self) {
        let mut batch = std::mem::take(&mut self.batch);
        // A batch without writes (refusals, audits) owes nothing durable: no round trip.
        let stored = if batch.writes.is_empty() {
            true
        } else {
            match self.store.apply(&batch.writes, &mut batch.publish).await {
                Ok(()) => true,
                Err(crate::store::StoreError::Fenced(why)) => {
                    tracing::error!(%why, decisions = batch.done.len(), "commit refused: this replica no longer leads");
                    self.deposed = Some(why);
                    false
                }
                Err(e) => {
                    Metrics::inc(&self.metrics.dispatch_store_failures_total);
                    tracing::error!(error = %e, decisions = batch.done.len(), "could not store dispatch decisions; reloading state from the database");
                    if let Err(e) = self.reload_all().await {
                        tracing::error!(error = %e, "reload after a failed write also failed; dispatching waits until a reload succeeds");
                        self.stale = true;
                    }
                    false
                }
            }
        };
        if !stored {
            self.failed_since_barrier = true;
        }
        tracing::trace!(
            stored,
            decisions = batch.done.len(),
            writes = batch.writes.len(),
            "batch flushed"
        );
        if stored {
            for msg in batch.publish {
                let _ = self.out.send(msg);
            }
            for req in batch.snapshots {
                self.snapshot_requests.request(req);
            }
            self.publish_live(&batch.writes, batch.live);
        }
        for done in batch.done {
            done(stored);
        }
        let gauge = |g: &std::sync::atomic::AtomicU64, v: usize| {
            g.store(v as u64, std::sync::atomic::Ordering::Relaxed)
        };
        gauge(&self.metrics.incidents_open, self.incidents.len());
        gauge(&self.metrics.offers_outstanding, self.deadlines.len());
        gauge(
            &self.metrics.tasks_active,
            self.tasks.len() - self.deadlines.len().min(self.tasks.len()),
        );
    }

    /// Tells the live feed what a committed batch changed, in write order: incidents,
    /// tasks, timeline lines, then the other events, then the responders whose tasks
    /// changed (their busy flag may have). Only after the commit, so the feed never shows
    /// what the database does not hold.
    fn publish_live(&self, writes: &[Write], extra: Vec<(&'static str, serde_json::Value)>) {
        let mut touched = Vec::new();
        for w in writes {
            match w {
                Write::InsertIncident(i) | Write::UpdateIncident(i) => {
                    self.live.announce("incident", views::incident(i))
                }
                Write::InsertTask(t) | Write::UpdateTask(t) => {
                    self.live.announce("task", views::task_event(t));
                    if !touched.contains(&t.responder_id) {
                        touched.push(t.responder_id.clone());
                    }
                }
                Write::Timeline(l) => self.live.announce("timeline", views::timeline_event(l)),
                Write::InsertAlert(_) | Write::CameraStatus(_) | Write::ResponderDuty { .. } => {}
            }
        }
        for (kind, data) in extra {
            self.live.announce(kind, data);
        }
        for id in touched {
            self.publish_responder(&id);
        }
    }

    /// Sends a responder's current state to the live feed.
    fn publish_responder(&self, id: &str) {
        if let Some(r) = Ident::parse(id).ok().and_then(|i| self.responders.get(&i)) {
            self.live.announce("responder", views::responder_event(r));
        }
    }

    // ---- alerts ------------------------------------------------------------------------

    /// Opens or joins an incident. Returns the change to stage (none for a duplicate).
    async fn on_alert(
        &mut self,
        alert: NewAlert,
    ) -> Result<(Option<Change>, AlertOutcome), DispatchError> {
        let key = (alert.source_id.to_string(), alert.external_id.clone());
        if let Some((alert_id, incident_id)) = self.batch.alerts.get(&key) {
            Metrics::inc(&self.metrics.alerts_duplicate_total);
            return Ok((
                None,
                AlertOutcome {
                    alert_id: alert_id.clone(),
                    incident_id: incident_id.clone(),
                    duplicate: true,
                    correlated: false,
                },
            ));
        }
        if let Some(old) = self
            .store
            .find_alert(alert.source_id.as_str(), &alert.external_id)
            .await?
        {
            Metrics::inc(&self.metrics.alerts_duplicate_total);
            return Ok((
                None,
                AlertOutcome {
                    alert_id: old.id,
                    incident_id: old.incident_id,
                    duplicate: true,
                    correlated: false,
                },
            ));
        }
        let at = match &alert.place {
            AlertPlace::Point(p) => *p,
            AlertPlace::Camera(cam) => *self.cameras.get(cam.as_str()).ok_or_else(|| {
                DispatchError::Invalid(format!("camera_id: unknown camera {cam}"))
            })?,
        };
        let now = now_ms();
        let actor = format!("source:{}", alert.source_id);
        let mut change = Change::default();
        let alert_id = new_id("alr");
        let (incident_id, correlated) = match self.correlate(&alert.kind, at, now) {
            Some(id) => {
                let Some(incident) = self.incidents.get_mut(&id) else {
                    return Err(DispatchError::NotFound(format!("incident {id}")));
                };
                incident.last_alert_at = now;
                incident.updated_at = now;
                incident.severity = incident.severity.min(i64::from(alert.severity.get()));
                change.writes.push(Write::UpdateIncident(incident.clone()));
                let linked = format!("alert {} linked", alert.external_id);
                self.timeline_note(&id, &actor, linked, &mut change, now);
                (id, true)
            }
            None => {
                let id = new_id("inc");
                let zone_id = self.zones.locate(at).map(|z| z.id.to_string());
                let incident = IncidentRow {
                    id: id.clone(),
                    kind: alert.kind.clone(),
                    severity: i64::from(alert.severity.get()),
                    state: IncidentState::New,
                    lat: at.lat,
                    lon: at.lon,
                    zone_id,
                    title: title(&alert),
                    description: alert.description.clone(),
                    address: alert.address.clone(),
                    rendezvous: alert
                        .rendezvous
                        .as_ref()
                        .and_then(|r| serde_json::to_string(r).ok()),
                    offers_made: 0,
                    manual: false,
                    created_at: now,
                    updated_at: now,
                    last_alert_at: now,
                };
                change.writes.push(Write::InsertIncident(incident.clone()));
                change.writes.push(Write::Timeline(TimelineRow {
                    seq: 0,
                    incident_id: id.clone(),
                    at: now,
                    actor: actor.clone(),
                    from_state: None,
                    to_state: IncidentState::New,
                    note: Some(format!("alert {}", alert.external_id)),
                }));
                self.joinable.insert(&id, at);
                self.incidents.insert(id.clone(), incident);
                (id, false)
            }
        };
        change.writes.push(Write::InsertAlert(AlertRow {
            id: alert_id.clone(),
            source_id: alert.source_id.to_string(),
            external_id: alert.external_id.clone(),
            incident_id: incident_id.clone(),
            kind: alert.kind.clone(),
            severity: i64::from(alert.severity.get()),
            lat: at.lat,
            lon: at.lon,
            camera_id: alert.camera_id.as_ref().map(|c| c.to_string()),
            time: alert.time_ms,
            received_at: now,
            description: alert.description.clone(),
            address: alert.address.clone(),
        }));
        if !correlated {
            self.offer_next(&incident_id, &mut change, now);
        }
        self.batch
            .alerts
            .insert(key, (alert_id.clone(), incident_id.clone()));
        tracing::info!(alert = %alert.external_id, source = %alert.source_id, incident = %incident_id, correlated, "alert received");
        Ok((
            Some(change),
            AlertOutcome {
                alert_id,
                incident_id,
                duplicate: false,
                correlated,
            },
        ))
    }

    /// The nearest open incident of the same kind, close enough in space and time.
    fn correlate(&self, kind: &str, at: LatLon, now: i64) -> Option<String> {
        let window_ms = self.correlation.window_secs as i64 * 1000;
        self.joinable
            .within(at, self.correlation.radius_m)
            .filter_map(|(id, d)| Some((d, self.incidents.get(id)?)))
            .filter(|(_, i)| i.kind == kind && now - i.last_alert_at <= window_ms)
            .min_by(|a, b| a.0.total_cmp(&b.0).then(a.1.id.cmp(&b.1.id)))
            .map(|(_, i)| i.id.clone())
    }

    // ---- offers ------------------------------------------------------------------------

    fn params(&self, now: i64) -> RankParams {
        let s = &self.rules.speed_kmh;
        RankParams {
            detour_factor: self.rules.detour_factor,
            zone_preference_secs: self.rules.zone_preference_secs,
            speed_mps: [s.foot / 3.6, s.bike / 3.6, s.car / 3.6],
            location_max_age_ms: self.rules.location_max_age_secs as i64 * 1000,
            now_ms: now,
        }
    }

    /// Builds the ranking request for an incident (target = rendezvous when there is one)
    /// and hands it to `f`.
    fn with_request<T>(
        &self,
        incident: &IncidentRow,
        limit: usize,
        f: impl FnOnce(&RankRequest<'_>, &RankParams) -> T,
    ) -> T {
        let at = LatLon {
            lat: incident.lat,
            lon: incident.lon,
        };
        let rendezvous: Option<Rendezvous> = incident
            .rendezvous
            .as_deref()
            .and_then(|r| serde_json::from_str(r).ok());
        let empty = HashSet::new();
        let req = RankRequest {
            target: rendezvous.map_or(at, |r| r.point()),
            incident: at,
            allowed: self.rules.allowed_for(&incident.kind),
            exclude: self.excluded.get(&incident.id).unwrap_or(&empty),
            limit,
        };
        f(&req, &self.params(now_ms()))
    }

    fn rank_for(&self, incident: &IncidentRow, limit: usize) -> Vec<Ranked> {
        self.with_request(incident, limit, |req, params| {
            self.responders.rank(req, &self.zones, params)
        })
    }

    fn has_outstanding_offer(&self, incident_id: &str) -> bool {
        self.tasks
            .values()
            .any(|t| t.incident_id == incident_id && t.status == TaskStatus::Offered)
    }

    /// Moves an incident to `to`, recording it; refuses silently (with a log) if illegal.
    fn set_state(
        &mut self,
        incident_id: &str,
        to: IncidentState,
        actor: &str,
        note: Option<String>,
        change: &mut Change,
        now: i64,
    ) -> bool {
        let Some(incident) = self.incidents.get_mut(incident_id) else {
            return false;
        };
        let from = incident.state;
        if !from.can_become(to) {
            tracing::debug!(incident = incident_id, %from, %to, "state change skipped");
            return false;
        }
        incident.state = to;
        incident.updated_at = now;
        tracing::info!(incident = incident_id, %from, %to, actor, "incident state");
        change.writes.push(Write::UpdateIncident(incident.clone()));
        change.writes.push(Write::Timeline(TimelineRow {
            seq: 0,
            incident_id: incident_id.to_owned(),
            at: now,
            actor: actor.to_owned(),
            from_state: Some(from),
            to_state: to,
            note,
        }));
        if to.is_terminal() || to == IncidentState::Resolved {
            self.joinable.remove(incident_id);
        }
        if to.is_terminal() {
            self.incidents.remove(incident_id);
            self.excluded.remove(incident_id);
            self.snapshots.remove(incident_id);
        }
        true
    }

    /// A timeline line that records an event without a state change.
    fn timeline_note(
        &self,
        incident_id: &str,
        actor: &str,
        note: String,
        change: &mut Change,
        now: i64,
    ) {
        let Some(state) = self.incidents.get(incident_id).map(|i| i.state) else {
            return;
        };
        change.writes.push(Write::Timeline(TimelineRow {
            seq: 0,
            incident_id: incident_id.to_owned(),
            at: now,
            actor: actor.to_owned(),
            from_state: Some(state),
            to_state: state,
            note: Some(note),
        }));
    }

    /// Offers the incident to the next best candidates, or escalates.
    fn offer_next(&mut self, incident_id: &str, change: &mut Change, now: i64) {
        let Some(incident) = self.incidents.get(incident_id).cloned() else {
            return;
        };
        let max = i64::from(self.rules.max_offers);
        if incident.offers_made >= max {
            self.escalate(
                incident_id,
                format!("no acceptance after {max} offers"),
                change,
                now,
            );
            return;
        }
        let wanted: i64 = if incident.severity <= i64::from(self.rules.double_offer_max_severity) {
            2
        } else {
            1
        };
        let wanted = wanted.min(max - incident.offers_made) as usize;
        let picks = self.rank_for(&incident, wanted);
        if picks.is_empty() {
            self.escalate(incident_id, "no available responder".into(), change, now);
            return;
        }
        self.set_state(
            incident_id,
            IncidentState::Dispatching,
            DISPATCHER,
            Some(format!(
                "offered to {}",
                picks
                    .iter()
                    .map(|p| p.responder_id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            change,
            now,
        );
        for pick in picks {
            self.make_offer(incident_id, &pick.responder_id, Some(&pick), change, now);
        }
    }

    fn make_offer(
        &mut self,
        incident_id: &str,
        responder: &Ident,
        ranked: Option<&Ranked>,
        change: &mut Change,
        now: i64,
    ) {
        let Some(incident) = self.incidents.get_mut(incident_id) else {
            return;
        };
        incident.offers_made += 1;
        incident.updated_at = now;
        change.writes.push(Write::UpdateIncident(incident.clone()));
        let task = TaskRow {
            id: new_id("tsk"),
            incident_id: incident_id.to_owned(),
            responder_id: responder.to_string(),
            status: TaskStatus::Offered,
            version: 1,
            status_version: 1,
            offered_at: now,
            respond_by: now + self.rules.ack_timeout_secs as i64 * 1000,
            eta_secs: ranked.map(|r| r.eta_secs),
            distance_m: ranked.map(|r| r.distance_m),
            note: None,
            updated_at: now,
        };
        change.writes.push(Write::InsertTask(task.clone()));
        change.publish.push(Outgoing {
            topic: task_topic(&task.responder_id, &task.id),
            payload: task_payload(&task, incident, &self.snapshots, &self.snapshot_files),
            retain: true,
            outbox_seq: None,
        });
        Metrics::inc(&self.metrics.offers_total);
        tracing::info!(incident = incident_id, responder = %responder, task = %task.id, "offer sent");
        self.responders.set_busy(responder, true);
        self.deadlines.insert((task.respond_by, task.id.clone()));
        self.tasks.insert(task.id.clone(), task);
    }

    fn escalate(&mut self, incident_id: &str, why: String, change: &mut Change, now: i64) {
        if self.set_state(
            incident_id,
            IncidentState::Escalated,
            DISPATCHER,
            Some(why.clone()),
            change,
            now,
        ) {
            Metrics::inc(&self.metrics.escalations_total);
            tracing::warn!(incident = incident_id, reason = %why, "incident escalated to operators");
        }
    }

    /// Takes a task out of the responder's inbox with a final status. Returns its incident.
    fn end_task(
        &mut self,
        task_id: &str,
        status: TaskStatus,
        note: Option<&str>,
        change: &mut Change,
        now: i64,
    ) -> Option<String> {
        let mut task = self.tasks.remove(task_id)?;
        self.deadlines.remove(&(task.respond_by, task.id.clone()));
        task.status = status;
        task.version += 1;
        task.status_version = task.version;
        task.updated_at = now;
        if note.is_some() {
            task.note = note.map(str::to_owned);
        }
        change.writes.push(Write::UpdateTask(task.clone()));
        change.publish.push(Outgoing {
            topic: closed_topic(&task.responder_id, &task.id),
            payload: serde_json::to_vec(&closed_message(&task, now)).unwrap_or_default(),
            retain: false,
            outbox_seq: None,
        });
        change.publish.push(Outgoing {
            topic: task_topic(&task.responder_id, &task.id),
            payload: Vec::new(),
            retain: true,
            outbox_seq: None,
        });
        if let Ok(rid) = Ident::parse(&task.responder_id) {
            let still_busy = self
                .tasks
                .values()
                .any(|t| t.responder_id == task.responder_id);
            self.responders.set_busy(&rid, still_busy);
            if matches!(status, TaskStatus::Rejected | TaskStatus::Expired) {
                self.excluded
                    .entry(task.incident_id.clone())
                    .or_default()
                    .insert(rid);
            }
        }
        Some(task.incident_id)
    }

    /// Ends each task with `status`, then lets every incident concerned move on (the
    /// next offer, or back to the operators). Returns how many tasks were ended.
    fn end_tasks(
        &mut self,
        task_ids: Vec<String>,
        status: TaskStatus,
        note: &str,
        change: &mut Change,
        now: i64,
    ) -> usize {
        let mut incidents = Vec::new();
        for tid in task_ids {
            if let Some(iid) = self.end_task(&tid, status, Some(note), change, now) {
                tracing::info!(task = %tid, incident = %iid, %status, note, "task ended");
                incidents.push(iid);
            }
        }
        let ended = incidents.len();
        for iid in incidents {
            self.after_offer_failed(&iid, change, now);
        }
        ended
    }

    /// An offer ended without acceptance: wait for the other outstanding offer, hand back
    /// to the operator who chose, or try the next candidate.
    fn after_offer_failed(&mut self, incident_id: &str, change: &mut Change, now: i64) {
        let Some(incident) = self.incidents.get(incident_id) else {
            return;
        };
        if incident.state != IncidentState::Dispatching || self.has_outstanding_offer(incident_id) {
            return;
        }
        if incident.manual {
            self.escalate(
                incident_id,
                "the responder chosen by an operator did not take it".into(),
                change,
                now,
            );
        } else {
            self.offer_next(incident_id, change, now);
        }
    }

    fn expire_due(&mut self) {
        let now = now_ms();
        let due: Vec<String> = self
            .deadlines
            .iter()
            .take_while(|(at, _)| *at <= now)
            .map(|(_, id)| id.clone())
            .collect();
        if due.is_empty() {
            return;
        }
        let mut change = Change::default();
        let expired = self.end_tasks(
            due,
            TaskStatus::Expired,
            "no answer in time",
            &mut change,
            now,
        );
        self.metrics
            .offers_expired_total
            .fetch_add(expired as u64, std::sync::atomic::Ordering::Relaxed);
        self.stage(change, |_| {});
    }

    // ---- worker updates ----------------------------------------------------------------

    async fn on_task_update(&mut self, responder_id: Ident, task_id: String, update: TaskUpdate) {
        let now = now_ms();
        if let (Some(lat), Some(lon)) = (update.lat, update.lon) {
            if let Ok(p) = LatLon::new(lat, lon) {
                self.on_location(&responder_id, p, now, None, None);
            }
        }
        let answer_msg = |answer: &UpdateAnswer| Outgoing {
            topic: answer_topic(responder_id.as_str(), &task_id, answer.reason.is_none()),
            payload: serde_json::to_vec(answer).unwrap_or_default(),
            retain: false,
            outbox_seq: None,
        };
        match self.apply_update(&responder_id, &task_id, &update, now) {
            Ok((mut change, answer)) => {
                tracing::info!(task = %task_id, responder = %responder_id, status = %answer.status, "task update");
                // The worker hears the verdict on its own update before the inbox changes
                // it causes (e.g. the task being cleared after `resolved`).
                change.publish.insert(0, answer_msg(&answer));
                let failed = answer_msg(&UpdateAnswer {
                    task_id: task_id.clone(),
                    status: answer.status,
                    version: answer.version - 1,
                    reason: Some("internal error; try again".into()),
                });
                let out = self.out.clone();
                let redelivers = self.redelivers;
                self.stage(change, move |stored| {
                    if !stored && !redelivers {
                        let _ = out.send(failed);
                    }
                });
            }
            Err(refusal) => {
                Metrics::inc(&self.metrics.task_updates_refused_total);
                tracing::info!(task = %task_id, responder = %responder_id, reason = ?refusal.reason, "task update refused");
                self.send(answer_msg(&refusal));
            }
        }
    }

    /// Checks and applies a worker's update in memory; the change is committed by the caller.
    fn apply_update(
        &mut self,
        rid: &Ident,
        task_id: &str,
        update: &TaskUpdate,
        now: i64,
    ) -> Result<(Change, UpdateAnswer), UpdateAnswer> {
        let refuse = |status: String, version: i64, reason: String| UpdateAnswer {
            task_id: task_id.to_owned(),
            status,
            version,
            reason: Some(reason),
        };
        let Some(task) = self.tasks.get(task_id).cloned() else {
            return Err(refuse(
                "unknown".into(),
                0,
                "this task is no longer open (withdrawn, expired or finished)".into(),
            ));
        };
        if task.responder_id != rid.as_str() {
            return Err(refuse(
                task.status.to_string(),
                task.version,
                "this task belongs to another responder".into(),
            ));
        }
        if let Some(v) = update.version {
            // Versions after the last status change only added information (a snapshot
            // link): the worker answered the status it saw, so the answer stands.
            if !(task.status_version..=task.version).contains(&v) {
                return Err(refuse(
                    task.status.to_string(),
                    task.version,
                    format!("stale version {v}; the task is at version {}", task.version),
                ));
            }
        }
        let from = task.status;
        let to = TaskStatus::from(update.status);
        if !from.worker_may_set(to) {
            return Err(refuse(
                task.status.to_string(),
                task.version,
                format!("a task cannot go from {from} to {to}"),
            ));
        }
        let actor = format!("responder:{rid}");
        let mut change = Change::default();
        let note = update
            .note
            .as_deref()
            .map(|n| n.chars().take(2000).collect::<String>());
        let incident_id = task.incident_id.clone();
        // A rejected or resolved task leaves the inbox; its answer is its last version.
        let ended = UpdateAnswer {
            task_id: task_id.into(),
            status: to.to_string(),
            version: task.version + 1,
            reason: None,
        };
        match to {
            TaskStatus::Rejected => {
                self.end_task(
                    task_id,
                    TaskStatus::Rejected,
                    note.as_deref().or(Some("rejected")),
                    &mut change,
                    now,
                );
                Metrics::inc(&self.metrics.offers_rejected_total);
                let why = note
                    .as_deref()
                    .map(|n| format!(": {n}"))
                    .unwrap_or_default();
                self.timeline_note(
                    &incident_id,
                    &actor,
                    format!("{rid} rejected{why}"),
                    &mut change,
                    now,
                );
                self.after_offer_failed(&incident_id, &mut change, now);
                return Ok((change, ended));
            }
            TaskStatus::Resolved => {
                self.end_task(
                    task_id,
                    TaskStatus::Resolved,
                    note.as_deref(),
                    &mut change,
                    now,
                );
                self.set_state(
                    &incident_id,
                    IncidentState::Resolved,
                    &actor,
                    note.clone(),
                    &mut change,
                    now,
                );
                return Ok((change, ended));
            }
            _ => {}
        }
        if to == TaskStatus::Accepted {
            if self.incidents.get(&incident_id).map(|i| i.state) != Some(IncidentState::Dispatching)
            {
                return Err(refuse(
                    task.status.to_string(),
                    task.version,
                    "the incident is no longer looking for a responder".into(),
                ));
            }
            Metrics::inc(&self.metrics.offers_accepted_total);
            self.set_state(
                &incident_id,
                IncidentState::Assigned,
                &actor,
                Some(format!("{rid} accepted")),
                &mut change,
                now,
            );
            // First accept wins: other outstanding offers for this incident are withdrawn.
            let others: Vec<String> = self
                .tasks
                .values()
                .filter(|t| {
                    t.incident_id == incident_id
                        && t.id != task_id
                        && t.status == TaskStatus::Offered
                })
                .map(|t| t.id.clone())
                .collect();
            for other in others {
                self.end_task(
                    &other,
                    TaskStatus::Withdrawn,
                    Some("another responder accepted first"),
                    &mut change,
                    now,
                );
            }
            self.deadlines.remove(&(task.respond_by, task.id.clone()));
        } else if let Some(state) = to.incident_state() {
            self.set_state(&incident_id, state, &actor, note.clone(), &mut change, now);
        }
        let Some(t) = self.tasks.get_mut(task_id) else {
            return Err(refuse("unknown".into(), 0, "task vanished".into()));
        };
        t.status = to;
        t.version += 1;
        t.status_version = t.version;
        t.updated_at = now;
        if note.is_some() {
            t.note = note;
        }
        let t = t.clone();
        change.writes.push(Write::UpdateTask(t.clone()));
        if let Some(incident) = self.incidents.get(&incident_id) {
            change.publish.push(Outgoing {
                topic: task_topic(&t.responder_id, &t.id),
                payload: task_payload(&t, incident, &self.snapshots, &self.snapshot_files),
                retain: true,
                outbox_seq: None,
            });
        }
        Ok((
            change,
            UpdateAnswer {
                task_id: t.id.clone(),
                status: t.status.to_string(),
                version: t.version,
                reason: None,
            },
        ))
    }

    fn on_location(
        &mut self,
        rid: &Ident,
        at: LatLon,
        time_ms: i64,
        accuracy_m: Option<f64>,
        battery: Option<i64>,
    ) {
        if !self.responders.set_location(rid, at, time_ms) {
            return;
        }
        // Not part of any transaction (the store write below is fire-and-forget), so the
        // feed hears of the fix right away.
        self.publish_responder(rid.as_str());
        Metrics::inc(&self.metrics.locations_total);
        // The fix only feeds ranking; storing it must not hold up decisions, and the
        // store ignores a fix older than the stored one, so write order does not matter.
        let store = self.store.clone();
        let id = rid.to_string();
        tokio::spawn(async move {
            if let Err(e) = store
                .save_location(&id, at.lat, at.lon, time_ms, accuracy_m, battery)
                .await
            {
                tracing::warn!(responder = %id, error = %e, "could not store a location fix");
            }
        });
    }

    /// A worker's duty toggle: the ranking index at once (no new offers while off duty;
    /// offers already made stay until answered or expired), the store, the live feed and
    /// the retained state on `dispatch/<id>/duty` after the commit.
    fn on_duty(&mut self, rid: &Ident, on_duty: bool, at_ms: i64) {
        let Some(mut r) = self.responders.get(rid).cloned() else {
            // Its login exists but the responder is gone (deleted meanwhile): nothing to do.
            tracing::warn!(responder = %rid, "duty change for an unknown responder ignored");
            return;
        };
        r.on_duty = on_duty;
        let event = views::responder_event(&r);
        self.responders.upsert(r);
        let mut change = Change::default();
        change.writes.push(Write::ResponderDuty {
            id: rid.to_string(),
            on_duty,
            at_ms,
        });
        change.live.push(("responder", event));
        change
            .publish
            .push(duty_outgoing(rid.as_str(), on_duty, at_ms));
        self.stage(change, |_| {});
    }

    // ---- operators ---------------------------------------------------------------------

    async fn on_operator(
        &mut self,
        incident_id: &str,
        action: OperatorAction,
        actor: &str,
        note: Option<String>,
    ) -> Result<Change, DispatchError> {
        let Some(incident) = self.incidents.get(incident_id) else {
            // Closed or cancelled incidents are not in memory; tell which.
            return match self.store.incident(incident_id).await {
                Ok(i) => Err(DispatchError::Conflict(format!(
                    "incident {incident_id} is {}",
                    i.state
                ))),
                Err(StoreError::NotFound(_)) => {
                    Err(DispatchError::NotFound(format!("incident {incident_id}")))
                }
                Err(e) => Err(e.into()),
            };
        };
        let from = incident.state;
        let now = now_ms();
        let mut change = Change::default();
        let open_tasks: Vec<String> = self
            .tasks
            .values()
            .filter(|t| t.incident_id == incident_id)
            .map(|t| t.id.clone())
            .collect();
        match action {
            OperatorAction::Assign(rid) => {
                let Some(r) = self.responders.get(&rid) else {
                    return Err(DispatchError::NotFound(format!("responder {rid}")));
                };
                if !r.on_duty {
                    return Err(DispatchError::Conflict(format!(
                        "responder {rid} is off duty"
                    )));
                }
                if self.tasks.values().any(|t| t.responder_id == rid.as_str()) {
                    return Err(DispatchError::Conflict(format!(
                        "responder {rid} already holds an open task"
                    )));
                }
                if !from.can_become(IncidentState::Dispatching)
                    && from != IncidentState::Dispatching
                {
                    return Err(DispatchError::Conflict(format!(
                        "incident {incident_id} is {from}; it cannot be assigned"
                    )));
                }
                for tid in open_tasks {
                    self.end_task(
                        &tid,
                        TaskStatus::Withdrawn,
                        Some("reassigned by an operator"),
                        &mut change,
                        now,
                    );
                }
                let incident = self
                    .incidents
                    .get_mut(incident_id)
                    .ok_or_else(|| DispatchError::NotFound(incident_id.into()))?;
                incident.manual = true;
                let text = format!(
                    "assigned to {rid}{}",
                    note.as_deref()
                        .map(|n| format!(": {n}"))
                        .unwrap_or_default()
                );
                if from == IncidentState::Dispatching {
                    self.timeline_note(incident_id, actor, text, &mut change, now);
                } else {
                    self.set_state(
                        incident_id,
                        IncidentState::Dispatching,
                        actor,
                        Some(text),
                        &mut change,
                        now,
                    );
                }
                let ranked = self.incidents.get(incident_id).and_then(|i| {
                    self.with_request(i, 1, |req, params| {
                        self.responders.estimate(&rid, req, &self.zones, params)
                    })
                });
                self.make_offer(incident_id, &rid, ranked.as_ref(), &mut change, now);
            }
            OperatorAction::Cancel | OperatorAction::Close => {
                let to = if matches!(action, OperatorAction::Cancel) {
                    IncidentState::Cancelled
                } else {
                    IncidentState::Closed
                };
                let why = if to == IncidentState::Cancelled {
                    "incident cancelled"
                } else {
                    "incident closed"
                };
                for tid in open_tasks {
                    self.end_task(&tid, TaskStatus::Withdrawn, Some(why), &mut change, now);
                }
                if !self.set_state(incident_id, to, actor, note, &mut change, now) {
                    return Err(DispatchError::Conflict(format!(
                        "incident {incident_id} is {from}"
                    )));
                }
            }
        }
        Ok(change)
    }

    // ---- camera health -------------------------------------------------------------------

    /// Applies a camera health report: stores it, (re)schedules or cancels the camera's
    /// incident, and closes its open `camera_offline` incident when it is back online.
    async fn on_camera_status(
        &mut self,
        camera_id: &str,
        report: &camera_health::Report,
        at_ms: i64,
        stream: Option<&StreamFacts>,
    ) {
        if !self.cameras.contains_key(camera_id) {
            tracing::warn!(camera = %camera_id, "status of an unknown camera ignored");
            return;
        }
        let current = self.health.get(camera_id).cloned().unwrap_or_default();
        let (next, changed) = camera_health::apply(&current, report, at_ms);
        if let Some(due) = camera_health::incident_due(&current, self.offline_after_ms) {
            self.camera_due.remove(&(due, camera_id.to_owned()));
        }
        if let Some(due) = camera_health::incident_due(&next, self.offline_after_ms) {
            self.camera_due.insert((due, camera_id.to_owned()));
        }
        if changed {
            tracing::info!(camera = %camera_id, status = %next.status, reason = ?report.reason, "camera status");
        }
        let mut change = Change::default();
        let health = CameraHealthRow {
            status: next.status,
            status_since: next.since,
            last_seen: next.last_seen,
            last_error: next.last_error.clone(),
        };
        // Only what an operator would notice; a report that merely confirms the status
        // (Frigate repeats them) is not worth an event.
        if changed || current.last_error != next.last_error {
            change
                .live
                .push(("camera", views::camera_event(camera_id, &health)));
        }
        change.writes.push(Write::CameraStatus(CameraStatusWrite {
            camera_id: camera_id.to_owned(),
            health,
            at: at_ms,
            reason: report.reason.clone(),
            stream: stream.map(|f| CameraStreamRow::probed(f, at_ms)),
        }));
        self.health.insert(camera_id.to_owned(), next);
        if report.status == CameraStatus::Online {
            if let Some(incident_id) = self.camera_incidents.remove(camera_id) {
                // Correlation may have put several cameras on one incident: it closes when
                // the last of them is back.
                let others_down = self.camera_incidents.iter().any(|(cam, inc)| {
                    *inc == incident_id
                        && self
                            .health
                            .get(cam)
                            .is_some_and(|h| h.status == CameraStatus::Offline)
                });
                if !others_down && self.incidents.contains_key(&incident_id) {
                    match self
                        .on_operator(
                            &incident_id,
                            OperatorAction::Close,
                            DISPATCHER,
                            Some("camera back online".into()),
                        )
                        .await
                    {
                        Ok(close) => {
                            change.writes.extend(close.writes);
                            change.publish.extend(close.publish);
                        }
                        Err(e) => {
                            tracing::warn!(camera = %camera_id, incident = %incident_id, error = %e, "could not close the camera_offline incident")
                        }
                    }
                }
            }
        }
        self.stage(change, |_| {});
    }

    /// Opens the `camera_offline` incidents that are due, through the alert path.
    async fn open_due_cameras(&mut self) {
        let now = now_ms();
        while let Some((at, camera_id)) = self.camera_due.first().cloned() {
            if at > now {
                break;
            }
            self.camera_due.remove(&(at, camera_id.clone()));
            let Some(health) = self.health.get(&camera_id).cloned() else {
                continue;
            };
            let (Some(since), CameraStatus::Offline) = (health.since, health.status) else {
                continue;
            };
            let (Ok(source), Ok(camera), Ok(severity)) = (
                Ident::parse(camera_health::SOURCE),
                Ident::parse(&camera_id),
                Severity::new(camera_health::INCIDENT_SEVERITY),
            ) else {
                tracing::warn!(camera = %camera_id, "camera id unusable for an incident");
                continue;
            };
            let minutes = (now - since).max(0) / 60_000;
            let alert = NewAlert {
                source_id: source,
                external_id: camera_health::external_id(&camera_id, since),
                kind: camera_health::INCIDENT_KIND.into(),
                severity,
                place: AlertPlace::Camera(camera.clone()),
                camera_id: Some(camera),
                time_ms: since,
                description: Some(format!(
                    "camera {camera_id} offline for {minutes} min: {}",
                    health.last_error.as_deref().unwrap_or("no reason given")
                )),
                address: None,
                rendezvous: None,
                // The camera is down: there is nothing to grab.
                snapshot: SnapshotSource::None,
            };
            match self.on_alert(alert).await {
                Ok((change, outcome)) => {
                    tracing::info!(camera = %camera_id, incident = %outcome.incident_id, duplicate = outcome.duplicate, "camera offline incident");
                    self.camera_incidents
                        .insert(camera_id.clone(), outcome.incident_id.clone());
                    if let Some(change) = change {
                        let metrics = self.metrics.clone();
                        self.stage(change, move |stored| {
                            if stored {
                                Metrics::inc(&metrics.alerts_total);
                                if outcome.correlated {
                                    Metrics::inc(&metrics.alerts_correlated_total);
                                } else {
                                    Metrics::inc(&metrics.incidents_opened_total);
                                }
                            }
                        });
                    }
                }
                Err(e) => {
                    tracing::error!(camera = %camera_id, error = %e, "could not open a camera_offline incident")
                }
            }
        }
    }

    // ---- MQTT --------------------------------------------------------------------------

    /// Publishes every open task again (retained), so a broker that lost its retained
    /// messages (restart) holds each worker's inbox again.
    fn publish_inbox(&mut self) {
        let inbox: Vec<Outgoing> = self
            .tasks
            .values()
            .filter_map(|t| {
                let incident = self.incidents.get(&t.incident_id)?;
                Some(Outgoing {
                    topic: task_topic(&t.responder_id, &t.id),
                    payload: task_payload(t, incident, &self.snapshots, &self.snapshot_files),
                    retain: true,
                    outbox_seq: None,
                })
            })
            .collect();
        // Through the batch, so nothing staged but not yet stored reaches a phone.
        self.batch.publish.extend(inbox);
    }
}

/// The retained task message, with the snapshots of its incident.
fn task_payload(
    task: &TaskRow,
    incident: &IncidentRow,
    snapshots: &HashMap<String, Vec<SnapshotRow>>,
    files: &SnapshotFiles,
) -> Vec<u8> {
    let snaps = snapshots
        .get(&incident.id)
        .map(Vec::as_slice)
        .unwrap_or_default();
    task_message(task, incident, snaps, files)
        .to_string()
        .into_bytes()
}

fn title(alert: &NewAlert) -> String {
    let kind = alert.kind.replace('_', " ");
    match &alert.address {
        Some(a) => format!("{kind} — {a}"),
        None => kind,
    }
}

/// The retained duty state message for `responder_id`.
fn duty_outgoing(responder_id: &str, on_duty: bool, at_ms: i64) -> Outgoing {
    Outgoing {
        topic: duty_topic(responder_id),
        payload: duty_message(on_duty, at_ms).to_string().into_bytes(),
        retain: true,
        outbox_seq: None,
    }
}
