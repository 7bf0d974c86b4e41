//! What the engine hands to the rest of the house, without knowing who takes it: snapshot
//! requests (taken by `video::snapshots`) and announcements of committed changes (taken by
//! the live feed, `live`). MQTT messages go through the outbox, whose type
//! ([`crate::store::Outgoing`]) the store owns since it keeps them. Defining these here
//! keeps `dispatch` below the edges that serve them.

use std::sync::Arc;

use serde_json::Value;
use tokio::sync::mpsc;

use crate::domain::alert::SnapshotSource;
use crate::metrics::Metrics;

/// Snapshot requests the engine may have queued before it has to drop some.
pub const SNAPSHOT_QUEUE: usize = 256;

/// Where the engine announces every committed change, after its commit and never waiting
/// (the live feed's hub implements it). `kind` is the event type, `data` its shape from
/// [`crate::views`].
pub trait Announce: Send + Sync + std::fmt::Debug {
    /// Takes one event; must not block.
    fn announce(&self, kind: &str, data: Value);
}

/// Announcements that go nowhere (tools and tests that run an engine without a feed).
#[derive(Debug, Default, Clone, Copy)]
pub struct Silent;

impl Announce for Silent {
    fn announce(&self, _kind: &str, _data: Value) {}
}

/// A picture wanted for an incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotRequest {
    /// The incident (already stored).
    pub incident_id: String,
    /// The camera the alert named.
    pub camera_id: String,
    /// Where the picture should come from.
    pub source: SnapshotSource,
}

/// The dispatcher's end of the snapshot queue: hands requests over without waiting.
#[derive(Debug, Clone)]
pub struct SnapshotRequests {
    /// The queue.
    tx: mpsc::Sender<SnapshotRequest>,
    /// For counting dropped requests.
    metrics: Arc<Metrics>,
}

impl SnapshotRequests {
    /// A queue of [`SNAPSHOT_QUEUE`] requests: the sending end, and the receiving end for
    /// the snapshot service (`video::snapshots`).
    pub fn channel(metrics: Arc<Metrics>) -> (SnapshotRequests, mpsc::Receiver<SnapshotRequest>) {
        let (tx, rx) = mpsc::channel(SNAPSHOT_QUEUE);
        (SnapshotRequests { tx, metrics }, rx)
    }

    /// Queues a request; never waits. A full queue drops it with a warning and a count: a
    /// picture is worth less than a dispatcher that keeps up.
    pub fn request(&self, req: SnapshotRequest) {
        match self.tx.try_send(req) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(req)) => {
                self.metrics.snapshots_dropped_total.inc();
                tracing::warn!(incident = %req.incident_id, camera = %req.camera_id, "snapshot queue full; snapshot dropped");
            }
            Err(mpsc::error::TrySendError::Closed(req)) => {
                tracing::debug!(incident = %req.incident_id, "snapshot service stopped; snapshot not taken");
            }
        }
    }
}
