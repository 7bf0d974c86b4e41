//! The engine behind [`super::Dispatcher`]: in-memory view of the open state plus the rules
//! that change it. See the module docs of `dispatch` for the concurrency model.
//!
//! This file holds the state, the loop ([`Engine::run`]) and the dispatch of each
//! [`Command`] to the room that handles it:
//! - `load`: loading and reloading from the store, rows → domain shapes;
//! - `commit`: the batch (stage, flush), publishing after a commit, live announcements;
//! - `alerts`: alerts and correlation, snapshots on alerts;
//! - `offers`: ranking, offers, deadlines and expiry, escalation, ending tasks;
//! - `answers`: the workers' task updates, locations and duty;
//! - `operators`: operator actions, and the verdicts on a resolution they share with
//!   inspectors;
//! - `inspection`: verification tasks for inspectors and their answers;
//! - `cameras`: camera health and offline incidents.
//!
//! State that must stay in step has a type of its own that keeps it so: the open tasks
//! with their deadlines and exclusions (`offer_book`), the open incidents with their
//! joinable index and snapshots (`incident_book`), the cameras with their health and due
//! incidents (`camera_watch`).

mod alerts;
mod answers;
mod camera_watch;
mod cameras;
mod commit;
mod coverage;
mod incident_book;
mod inspection;
mod load;
mod offer_book;
mod offers;
mod operators;
mod replays;
mod task_routes;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use self::camera_watch::CameraWatch;
use self::commit::Batch;
use self::incident_book::Incidents;
use self::inspection::Inspection;
use self::offer_book::Offers;
use super::{Announce, Command, Outgoing, SnapshotRequests};
use crate::config::{
    CorrelationSettings, DeadlineSettings, DispatchSettings, VerificationSettings,
};
use crate::domain::ranking::ResponderIndex;
use crate::domain::zones::ZoneIndex;
use crate::metrics::Metrics;
use crate::store::{now_ms, Store, Write};
use crate::views::SnapshotFiles;

pub(crate) use self::load::zone_index;

/// Actor name of the dispatcher itself in timelines.
const DISPATCHER: &str = "dispatcher";

/// Most commands handled before their decisions are written together.
const MAX_BATCH: usize = 256;

pub(super) struct Engine {
    /// Where decisions are written.
    store: Store,
    /// Offer and ranking rules.
    rules: DispatchSettings,
    /// Correlation rules.
    correlation: CorrelationSettings,
    /// When incidents are due (处置时限).
    deadlines: DeadlineSettings,
    /// Who verifies a resolution.
    verification: VerificationSettings,
    /// What a verified incident earns its volunteers (志愿服务积分).
    points: Arc<crate::store::points::EarnSettings>,
    /// MQTT messages to send.
    out: mpsc::UnboundedSender<Outgoing>,
    /// Counters.
    metrics: Arc<Metrics>,
    /// Coverage zones.
    zones: ZoneIndex,
    /// Responders with their positions.
    responders: ResponderIndex,
    /// Bumped each time the zones are loaded: coverage maps of the old outlines are stale.
    zones_epoch: u64,
    /// The imported roads, when there are any (`<data_dir>/roads.bin`).
    roads: Option<Arc<crate::roads::Roads>>,
    /// Cameras, their health and their offline incidents.
    cameras: CameraWatch,
    /// Open incidents, which of them alerts may join, their snapshots.
    incidents: Incidents,
    /// Open tasks, the deadlines of the offers, the exclusions.
    offers: Offers,
    /// The inspectors, and the resolution notes of incidents awaiting one.
    inspection: Inspection,
    /// Decisions made but not yet written (see [`Engine::flush`]).
    batch: Batch,
    /// Answers of applied task updates, for their duplicates.
    replays: replays::Replays,
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
    /// The live feed: told of every committed change, never waited on.
    live: Arc<dyn Announce>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("incidents", &self.incidents.len())
            .field("tasks", &self.offers.len())
            .finish_non_exhaustive()
    }
}

fn new_id(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::now_v7().simple())
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
    /// When the alert whose first offer this change makes arrived, and its span (for
    /// `griddispatch_alert_to_offer_seconds`, observed once the offer is sent, and a
    /// debug line in the alert's span).
    first_offer_of: Option<(std::time::Instant, tracing::Span)>,
}

impl Engine {
    pub(super) async fn run(
        mut self,
        mut inbox: super::Inbox,
        cancel: CancellationToken,
    ) -> anyhow::Result<()> {
        tracing::info!(
            incidents = self.incidents.len(),
            open_tasks = self.offers.len(),
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
            let next = [self.offers.next_deadline(), self.cameras.next_due()]
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
                let mut handled = 1;
                // Whatever else is already queued joins the same transaction.
                while handled < MAX_BATCH {
                    match inbox.try_next() {
                        Some(cmd) => self.handle(cmd).await,
                        None => break,
                    }
                    handled += 1;
                }
                self.metrics.engine_batch_size.observe(handled as f64);
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

    /// One command, to the room that handles it.
    async fn handle(&mut self, cmd: Command) {
        match cmd {
            Command::Alert(alert, arrived, span, reply) => {
                use tracing::Instrument as _;
                self.on_alert_command(alert, arrived, reply)
                    .instrument(span)
                    .await
            }
            Command::TaskUpdate {
                responder_id,
                task_id,
                update,
            } => self.on_task_update(responder_id, task_id, update),
            Command::Extension {
                responder_id,
                task_id,
                ask,
            } => self.on_extension_request(&responder_id, &task_id, ask),
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
            } => {
                self.on_operator_command(&incident_id, action, &actor, note, reply)
                    .await
            }
            Command::Candidates {
                incident_id,
                limit,
                reply,
            } => self.on_candidates(&incident_id, limit, reply),
            Command::Reload(what) => self.on_reload(what).await,
            Command::CameraStatus {
                camera_id,
                online,
                reason,
                at_ms,
                stream,
            } => {
                self.on_camera_report(&camera_id, online, reason, at_ms, stream)
                    .await
            }
            Command::FrigateUnavailable { reason, at_ms } => {
                self.on_frigate_unavailable(reason, at_ms).await
            }
            Command::Snapshot {
                incident_id,
                camera_id,
                result,
            } => self.on_snapshot(&incident_id, &camera_id, result),
            Command::Coverage {
                zone,
                kind,
                known,
                reply,
            } => self.on_coverage(&zone, kind.as_deref(), known, reply),
            Command::TaskRoutes { incident_id, reply } => self.on_task_routes(&incident_id, reply),
            Command::Republish => self.publish_inbox(),
            Command::Barrier(tx) => self.on_barrier(tx),
            Command::AuditRetained {
                responder_id,
                task_id,
            } => self.audit_retained(&responder_id, &task_id),
        }
    }
}
