//! The batch: decisions are staged as they are made, written together in one transaction,
//! and only then published (MQTT messages, snapshot requests, live events) and answered.

use std::collections::HashMap;
use std::time::Instant;

use tokio::sync::oneshot;

use super::{Change, Engine};
use crate::dispatch::messages::{clear_task, task_outgoing};
use crate::dispatch::{Outgoing, SnapshotRequest};
use crate::domain::{Ident, IncidentState};
use crate::metrics::gauge_value;
use crate::store::{StoreError, Write};
use crate::views;

/// Decisions waiting for one shared transaction. Under load many commands are queued at
/// once; writing them in one transaction instead of one each is what lets a single
/// dispatcher keep up with a burst, and the answers still go out only after the write.
#[derive(Default)]
pub(super) struct Batch {
    /// Written in one transaction.
    writes: Vec<Write>,
    /// Sent after the commit, in order.
    publish: Vec<Outgoing>,
    /// Told whether the batch was stored (replies to callers, failure answers).
    done: Vec<Box<dyn FnOnce(bool) + Send>>,
    /// Alerts in this batch, (source, external id) → (alert id, incident id): the
    /// duplicate check must see them before they reach the database.
    pub(super) alerts: HashMap<(String, String), (String, String)>,
    /// Snapshots to ask for once the batch is stored (their incident must exist first).
    pub(super) snapshots: Vec<SnapshotRequest>,
    /// Live events that are not a row write (camera status changes), sent after the commit.
    live: Vec<(&'static str, serde_json::Value)>,
    /// When the alerts whose first offers are in this batch arrived, and their spans.
    first_offers: Vec<(Instant, tracing::Span)>,
}

impl Engine {
    /// Adds a decision to the batch; `done` learns whether it was stored.
    pub(super) fn stage(&mut self, change: Change, done: impl FnOnce(bool) + Send + 'static) {
        self.batch.writes.extend(change.writes);
        self.batch.publish.extend(change.publish);
        self.batch.live.extend(change.live);
        self.batch.first_offers.extend(change.first_offer_of);
        self.batch.done.push(Box::new(done));
    }

    /// Queues a message to go out after the batch before it (keeps the order phones see).
    pub(super) fn send(&mut self, msg: Outgoing) {
        self.batch.publish.push(msg);
    }

    /// Answers once every command before it is committed: staged like a decision, so it
    /// answers after the commit of its batch, which holds every command handled before it.
    pub(super) fn on_barrier(&mut self, tx: oneshot::Sender<bool>) {
        let clean = !std::mem::take(&mut self.failed_since_barrier);
        self.stage(Change::default(), move |stored| {
            let _ = tx.send(stored && clean);
        })
    }

    /// Clears a retained task message the broker holds unless that task is open for that
    /// responder.
    pub(super) fn audit_retained(&mut self, responder_id: &str, task_id: &str) {
        let open = self
            .offers
            .get(task_id)
            .is_some_and(|t| t.responder_id == responder_id);
        if !open {
            tracing::info!(responder = %responder_id, task = %task_id, "clearing a stale retained task");
            self.send(clear_task(responder_id, task_id));
        }
    }

    /// Writes the batch in one transaction; on success sends its messages, on failure
    /// reloads from the database so memory matches what was really stored. Either way
    /// every waiting caller is told.
    pub(super) async fn flush(&mut self) {
        let mut batch = std::mem::take(&mut self.batch);
        // A batch without writes (refusals, audits) owes nothing durable: no round trip.
        let stored = if batch.writes.is_empty() {
            true
        } else {
            let started = Instant::now();
            let applied = self.store.apply(&batch.writes, &mut batch.publish).await;
            let took = started.elapsed().as_secs_f64();
            self.metrics.commit_duration_seconds.observe(took);
            match applied {
                Ok(()) => true,
                Err(StoreError::Fenced(why)) => {
                    tracing::error!(%why, decisions = batch.done.len(), "commit refused: this replica no longer leads");
                    self.deposed = Some(why);
                    false
                }
                Err(e) => {
                    self.metrics.dispatch_store_failures_total.inc();
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
            for (arrived, span) in batch.first_offers {
                let took = arrived.elapsed().as_secs_f64();
                self.metrics.alert_to_offer_seconds.observe(took);
                tracing::debug!(parent: &span, ms = took * 1000.0, "first offer committed and sent");
            }
            for req in batch.snapshots {
                self.snapshot_requests.request(req);
            }
            self.publish_live(&batch.writes, batch.live);
        }
        for done in batch.done {
            done(stored);
        }
        self.update_gauges();
    }

    /// The gauges of what is open now.
    fn update_gauges(&self) {
        let m = &self.metrics;
        let (tasks, offers) = (self.offers.len(), self.offers.outstanding());
        m.incidents_open.set(gauge_value(self.incidents.len()));
        m.offers_outstanding.set(gauge_value(offers));
        m.tasks_active.set(gauge_value(tasks - offers.min(tasks)));
        for &state in IncidentState::ALL.iter().filter(|s| s.is_open()) {
            m.incidents_in_state(state.as_str(), self.incidents.count_in(state));
        }
    }

    /// Tells the live feed what a committed batch changed, in write order: incidents,
    /// tasks, timeline lines, then the other events, then the responders whose tasks
    /// changed (their busy flag may have). Only after the commit, so the feed never shows
    /// what the database does not hold.
    fn publish_live(&self, writes: &[Write], extra: Vec<(&'static str, serde_json::Value)>) {
        let mut touched = Vec::new();
        for w in writes {
            match w {
                Write::InsertIncident(i) | Write::UpdateIncident(i) => self
                    .live
                    .announce("incident", views::to_json(&views::incident(i))),
                Write::InsertTask(t) | Write::UpdateTask(t) => {
                    self.live
                        .announce("task", views::to_json(&views::task_event(t)));
                    if !touched.contains(&t.responder_id) {
                        touched.push(t.responder_id.clone());
                    }
                }
                Write::Timeline(l) => self
                    .live
                    .announce("timeline", views::to_json(&views::timeline_event(l))),
                Write::InsertAlert(_)
                | Write::CameraStatus(_)
                | Write::ResponderDuty { .. }
                | Write::Earn { .. } => {}
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
    pub(super) fn publish_responder(&self, id: &str) {
        if let Some(r) = Ident::parse(id).ok().and_then(|i| self.responders.get(&i)) {
            self.live
                .announce("responder", views::to_json(&views::responder_event(r)));
        }
    }

    /// Publishes every open task again (retained), so a broker that lost its retained
    /// messages (restart) holds each worker's inbox again.
    pub(super) fn publish_inbox(&mut self) {
        let inbox: Vec<Outgoing> = self
            .offers
            .iter()
            .filter_map(|t| {
                let incident = self.incidents.get(&t.incident_id)?;
                let snapshots = self.incidents.snapshots(&t.incident_id);
                Some(task_outgoing(t, incident, snapshots, &self.snapshot_files))
            })
            .collect();
        // Through the batch, so nothing staged but not yet stored reaches a phone.
        self.batch.publish.extend(inbox);
    }
}
