//! The dispatcher: one task that owns every decision about incidents and offers.
//!
//! All inputs (alerts, task updates, locations, operator actions, timers) arrive as
//! [`Command`]s on one channel and are handled one at a time, so two operators clicking at
//! once, or a worker accepting while the offer expires, are simply ordered; a responder can
//! never be double-assigned. Each decision is written to the database in one transaction
//! before its MQTT messages go out, so after a crash (even `kill -9`) the dispatcher
//! reloads exactly what it had promised. The same commit is what the live feed announces
//! (through [`Announce`]), without waiting for any of its clients.

pub mod coverage;
mod engine;
pub(crate) use engine::zone_index;
mod messages;
mod outgoing;
pub mod task_routes;

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::config::Settings;
use crate::domain::alert::NewAlert;
use crate::domain::ranking::Ranked;
use crate::domain::state::WorkerStatus;
use crate::domain::{Ident, LatLon};
use crate::metrics::Metrics;
use crate::store::{Outgoing, Store, StoreError};

pub use messages::{answer_topic, extension_answer_topic, task_topic};
pub use outgoing::{Announce, Silent, SnapshotRequest, SnapshotRequests, SNAPSHOT_QUEUE};

/// A worker's task update, as published on `dispatch/<rid>/tasks/<tid>/update`.
#[derive(Debug, Clone, Deserialize)]
pub struct TaskUpdate {
    /// The new status.
    pub status: WorkerStatus,
    /// The task version the worker last saw; a stale one is refused.
    pub version: Option<i64>,
    /// Free text (reject reason, resolution note).
    pub note: Option<String>,
    /// Where the worker is.
    pub lat: Option<f64>,
    /// Where the worker is.
    pub lon: Option<f64>,
}

/// The dispatcher's answer to a task update.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct UpdateAnswer {
    /// Task id.
    pub task_id: String,
    /// The task's status after the update (unchanged when refused).
    pub status: String,
    /// The task's version after the update.
    pub version: i64,
    /// Why it was refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// What became of an alert.
#[derive(Debug, Clone, Serialize)]
pub struct AlertOutcome {
    /// Our id of the alert.
    pub alert_id: String,
    /// The incident it opened or joined.
    pub incident_id: String,
    /// It had been received before; nothing changed.
    pub duplicate: bool,
    /// It joined an existing incident.
    pub correlated: bool,
}

/// Why a request to the dispatcher failed.
#[derive(Debug, thiserror::Error)]
pub enum DispatchError {
    /// The request is wrong (400/422).
    #[error("{0}")]
    Invalid(String),
    /// Something named does not exist (404).
    #[error("{0} not found")]
    NotFound(String),
    /// The request clashes with the current state (409).
    #[error("{0}")]
    Conflict(String),
    /// Storage failed (500).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The dispatcher is shutting down (503).
    #[error("the dispatcher is stopping")]
    Stopped,
}

/// An operator's action on an incident.
#[derive(Debug, Clone)]
pub enum OperatorAction {
    /// Offer the incident to this responder (withdrawing any current task).
    Assign(Ident),
    /// Call it off.
    Cancel,
    /// Finish it.
    Close,
    /// A resolution checked and found good: closes a resolved incident (核查结案).
    Verify,
    /// A resolution found lacking: back to dispatching, offered again to the worker who
    /// resolved it, with this reason (返工).
    Rework(String),
    /// Put an open, not yet resolved incident on hold (缓办): its tasks are withdrawn, no
    /// offers go out and its deadline pauses.
    Suspend,
    /// A suspended incident dispatches again; its deadline moves later by the time
    /// suspended.
    Resume,
    /// The verdict on the pending extension request (延期).
    Extension {
        /// Granted or refused.
        approve: bool,
        /// Minutes granted (default: those asked for).
        minutes: Option<u32>,
    },
}

type Reply<T> = oneshot::Sender<Result<T, DispatchError>>;

/// Inputs of the dispatcher.
#[derive(Debug)]
pub enum Command {
    /// A validated alert, when it arrived (for `griddispatch_alert_to_offer_seconds`), and
    /// the span it came in under (its ingest, or its HTTP request), so the engine's log
    /// lines about it, to its first offer sent, are in that span.
    Alert(
        NewAlert,
        std::time::Instant,
        tracing::Span,
        Reply<AlertOutcome>,
    ),
    /// A worker's task update.
    TaskUpdate {
        /// From the topic.
        responder_id: Ident,
        /// From the topic.
        task_id: String,
        /// The payload.
        update: TaskUpdate,
    },
    /// A worker asks for more time on an accepted task
    /// (`dispatch/<rid>/tasks/<tid>/extension`).
    Extension {
        /// From the topic.
        responder_id: Ident,
        /// From the topic.
        task_id: String,
        /// The checked request.
        ask: crate::domain::closed_loop::ExtensionAsk,
    },
    /// A location fix.
    Location {
        /// From the topic.
        responder_id: Ident,
        /// Where.
        at: LatLon,
        /// When, Unix ms.
        time_ms: i64,
        /// Accuracy, metres.
        accuracy_m: Option<f64>,
        /// Battery percent.
        battery: Option<i64>,
    },
    /// A worker went on or off duty from its phone (`dispatch/<id>/duty/set`). Off duty
    /// only stops new offers: offers already made stay until answered or expired, and
    /// accepted tasks go on.
    Duty {
        /// From the topic.
        responder_id: Ident,
        /// The new state.
        on_duty: bool,
        /// When it arrived, Unix ms.
        at_ms: i64,
    },
    /// An operator's action.
    Operator {
        /// Incident.
        incident_id: String,
        /// What to do.
        action: OperatorAction,
        /// Who (for the timeline).
        actor: String,
        /// Why.
        note: Option<String>,
        /// Done or refused.
        reply: Reply<()>,
    },
    /// Ranked candidates for an incident, as the engine sees them now.
    Candidates {
        /// Incident.
        incident_id: String,
        /// How many.
        limit: usize,
        /// The list.
        reply: Reply<Vec<Ranked>>,
    },
    /// A camera's health as Frigate reported it (`frigate/<camera>/status/detect`) or a
    /// stream probe found it.
    CameraStatus {
        /// A registered camera.
        camera_id: String,
        /// Online, or offline (detection offline or disabled, stream unreachable).
        online: bool,
        /// Why it is offline.
        reason: Option<String>,
        /// When the report arrived, Unix ms.
        at_ms: i64,
        /// What a successful probe learnt of the stream (None from Frigate and failed probes).
        stream: Option<crate::domain::camera_health::StreamFacts>,
    },
    /// Frigate itself went away (`frigate/available` = `offline`, its last will): every
    /// camera it had reported becomes `unknown`.
    FrigateUnavailable {
        /// Why (stored as the cameras' last error).
        reason: String,
        /// When, Unix ms.
        at_ms: i64,
    },
    /// A snapshot for an incident was stored (its link goes into the open tasks), or
    /// could not be taken (the reason goes on the timeline).
    Snapshot {
        /// Incident.
        incident_id: String,
        /// The camera it was taken of.
        camera_id: String,
        /// The stored snapshot, or why there is none.
        result: Result<crate::store::SnapshotRow, String>,
    },
    /// Configuration changed in the database; reload it.
    Reload(Reload),
    /// What the coverage map of a zone needs (`dispatch::coverage`); `None` when the
    /// engine's responders and zones are still at the `known` version.
    Coverage {
        /// The zone.
        zone: Ident,
        /// The incident kind whose allowed responder kinds count.
        kind: Option<String>,
        /// The version of the map already made.
        known: Option<coverage::CoverageVersion>,
        /// The snapshot.
        reply: Reply<Option<Box<coverage::CoverageSnapshot>>>,
    },
    /// What the routes of an open incident's live tasks need (`dispatch::task_routes`).
    TaskRoutes {
        /// The incident.
        incident_id: String,
        /// The snapshot.
        reply: Reply<Box<task_routes::RoutesSnapshot>>,
    },
    /// The MQTT connection (re)started: publish every open task again.
    Republish,
    /// Answers once every command sent before it is committed (or refused): the MQTT client
    /// acknowledges a message to the broker only after that, so a crash never loses one.
    /// `false` when a batch failed since the previous barrier, so a command before this
    /// one may have had no effect: the messages behind it must come again, not be
    /// acknowledged.
    Barrier(oneshot::Sender<bool>),
    /// The broker holds a retained task message on `dispatch/<responder>/tasks/<task>`;
    /// clear it unless that task is open for that responder (a crash between a commit and
    /// its publish can leave one behind on a broker that keeps retained messages).
    AuditRetained {
        /// From the topic.
        responder_id: String,
        /// From the topic.
        task_id: String,
    },
}

/// What to reload.
#[derive(Debug, Clone)]
pub enum Reload {
    /// One responder (created, edited or deleted).
    Responder(String),
    /// All zones.
    Zones,
    /// All cameras.
    Cameras,
}

/// Handle for sending commands to the dispatcher; cheap to clone.
#[derive(Debug, Clone)]
pub struct Dispatcher {
    /// The command channel.
    tx: mpsc::Sender<Command>,
    /// New alerts, in a lane of their own (see [`Inbox`]).
    alerts: mpsc::Sender<Command>,
    /// Coverage maps already made.
    coverage: Arc<coverage::Cache>,
}

/// What the engine reads: commands, and new alerts in a lane of their own.
///
/// Past capacity, alerts queue here, and the workers' answers to the tasks already out
/// (accepted, resolved, positions) must not queue behind them: a worker whose "resolved"
/// waits behind thousands of alerts stays busy in the engine's eyes, the next alerts find
/// nobody free and are escalated, and throughput collapses. So the engine takes commands
/// first; alerts wait (and, once their lane and the ingest's bound are full, their sources
/// wait at the broker).
#[derive(Debug)]
pub struct Inbox {
    /// Everything but new alerts, in order (barriers order against these).
    pub commands: mpsc::Receiver<Command>,
    /// New alerts.
    pub alerts: mpsc::Receiver<Command>,
}

impl Inbox {
    /// A command already queued (commands first), without waiting.
    pub(crate) fn try_next(&mut self) -> Option<Command> {
        self.commands
            .try_recv()
            .ok()
            .or_else(|| self.alerts.try_recv().ok())
    }
}

impl Dispatcher {
    /// The handle now, the engine later ([`Dispatcher::run_engine`]): a replica loads the
    /// engine only once it leads, since the previous leader may have changed the database
    /// until a moment before.
    pub fn deferred() -> (Dispatcher, Inbox) {
        let (tx, commands) = mpsc::channel(4096);
        let (alerts_tx, alerts) = mpsc::channel(1024);
        (
            Dispatcher {
                tx,
                alerts: alerts_tx,
                coverage: Arc::default(),
            },
            Inbox { commands, alerts },
        )
    }

    /// Loads the engine from the database; the future it returns runs it on the commands
    /// of a [`Dispatcher::deferred`] handle until `cancel` fires.
    #[allow(clippy::too_many_arguments)] // the engine's dependencies, passed once
    pub async fn load_engine(
        rx: Inbox,
        store: Store,
        settings: &Settings,
        out: mpsc::UnboundedSender<Outgoing>,
        metrics: Arc<Metrics>,
        snapshots: SnapshotRequests,
        live: Arc<dyn Announce>,
        cancel: CancellationToken,
    ) -> anyhow::Result<impl std::future::Future<Output = anyhow::Result<()>>> {
        let engine = engine::Engine::load(store, settings, out, metrics, snapshots, live).await?;
        Ok(engine.run(rx, cancel))
    }

    /// Waits until every command sent before this call is committed (or refused). `true`
    /// when all of them were stored (or needed nothing stored); `false` when a batch
    /// failed since the previous barrier. New alerts travel in their own lane and are not
    /// ordered by it: each has its own answer ([`Dispatcher::alert`]).
    pub async fn barrier(&self) -> Result<bool, DispatchError> {
        let (tx, rx) = oneshot::channel();
        self.send(Command::Barrier(tx)).await?;
        rx.await.map_err(|_| DispatchError::Stopped)
    }

    /// Sends a command without waiting for its effect.
    pub async fn send(&self, cmd: Command) -> Result<(), DispatchError> {
        self.tx.send(cmd).await.map_err(|_| DispatchError::Stopped)
    }

    async fn ask<T>(&self, make: impl FnOnce(Reply<T>) -> Command) -> Result<T, DispatchError> {
        Self::ask_on(&self.tx, make).await
    }

    /// Sends the command `make` builds on `lane` and waits for its answer.
    async fn ask_on<T>(
        lane: &mpsc::Sender<Command>,
        make: impl FnOnce(Reply<T>) -> Command,
    ) -> Result<T, DispatchError> {
        let (reply, rx) = oneshot::channel();
        lane.send(make(reply))
            .await
            .map_err(|_| DispatchError::Stopped)?;
        rx.await.map_err(|_| DispatchError::Stopped)?
    }

    /// Takes in an alert; answers once it is stored and the first offer is out.
    pub async fn alert(&self, alert: NewAlert) -> Result<AlertOutcome, DispatchError> {
        self.alert_since(alert, std::time::Instant::now()).await
    }

    /// As [`Dispatcher::alert`], for an alert that arrived at `arrived` (its MQTT message
    /// came in then; it may have waited for its turn since).
    pub async fn alert_since(
        &self,
        alert: NewAlert,
        arrived: std::time::Instant,
    ) -> Result<AlertOutcome, DispatchError> {
        let span = tracing::Span::current();
        Self::ask_on(&self.alerts, |r| Command::Alert(alert, arrived, span, r)).await
    }

    /// Applies an operator action.
    pub async fn operator(
        &self,
        incident_id: String,
        action: OperatorAction,
        actor: String,
        note: Option<String>,
    ) -> Result<(), DispatchError> {
        self.ask(|reply| Command::Operator {
            incident_id,
            action,
            actor,
            note,
            reply,
        })
        .await
    }

    /// The engine's own ranking for an incident.
    pub async fn candidates(
        &self,
        incident_id: String,
        limit: usize,
    ) -> Result<Vec<Ranked>, DispatchError> {
        self.ask(|reply| Command::Candidates {
            incident_id,
            limit,
            reply,
        })
        .await
    }

    /// Asks for a reload of configuration data.
    pub async fn reload(&self, what: Reload) -> Result<(), DispatchError> {
        self.send(Command::Reload(what)).await
    }
}
