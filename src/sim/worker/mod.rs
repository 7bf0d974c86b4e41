//! A simulated responder's phone: reports its location over OwnTracks,
//! receives task offers and walks each task through
//! accept → en route → on scene → resolved (or rejects it).
//!
//! The decision logic ([`WorkerState`]) is synchronous and produces the
//! messages to publish, so it can be unit-tested without a broker; the
//! async [`run_worker`] only shuttles messages between it and MQTT.//!
//! `state.rs` holds that logic and its tests; this file the worker's profile, the task
//! protocol's rules (topics, the next status) and the async loop.

mod state;

pub use self::state::{Publish, WorkerState};

use rand::Rng;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::api::MqttCredentials;
use super::area::Area;
use super::mqtt::{self, MqttEndpoint};
use super::stats::Stats;
use crate::domain::{LatLon, TravelMode};

/// How fast a simulated responder actually moves towards a task, in m/s.
///
/// This drives the simulation; it is deliberately separate from the
/// dispatcher's configured speeds, which are only its estimates.
pub fn speed_mps(travel: TravelMode) -> f64 {
    match travel {
        TravelMode::Foot => 1.4,
        TravelMode::Bike => 4.0,
        TravelMode::Car => 9.0,
    }
}

/// The relaxed speed in m/s of an idle patrol or stroll between random points.
fn idle_speed_mps(travel: TravelMode) -> f64 {
    match travel {
        TravelMode::Car => 4.0,
        TravelMode::Bike => 1.5,
        TravelMode::Foot => 0.7,
    }
}

/// Timing and decision knobs shared by all workers of a run.
#[derive(Debug, Clone)]
pub struct Behaviour {
    /// Speed-up factor: every delay is divided by it and movement is
    /// multiplied by it (1.0 ≈ plausible real-world timings).
    pub pace: f64,
    /// Probability of accepting an offer when not busy.
    pub accept_probability: f64,
    /// How often a location report is published (not scaled by `pace`,
    /// because it models the phone app's reporting interval).
    pub location_interval: Duration,
}

impl Default for Behaviour {
    fn default() -> Self {
        Self {
            pace: 1.0,
            accept_probability: 0.85,
            location_interval: Duration::from_secs(5),
        }
    }
}

impl Behaviour {
    /// A random delay between `lo` and `hi` seconds, scaled by pace.
    fn delay<R: Rng + ?Sized>(&self, rng: &mut R, lo: f64, hi: f64) -> Duration {
        let pace = self.pace.max(0.01);
        Duration::from_secs_f64(rng.gen_range(lo..=hi) / pace)
    }
}

/// Static description of one simulated responder.
#[derive(Debug, Clone)]
pub struct WorkerProfile {
    /// Responder id (also MQTT username and client id).
    pub id: String,
    /// Two-letter OwnTracks tracker id.
    pub tid: String,
    /// How the responder travels.
    pub travel: TravelMode,
    /// Where the responder wanders while idle.
    pub area: Area,
    /// Starting position.
    pub start: LatLon,
}

/// Everything a worker needs besides its profile; cheap to clone.
#[derive(Debug, Clone)]
pub struct WorkerContext {
    /// Broker to connect to.
    pub endpoint: MqttEndpoint,
    /// Timing/decision knobs.
    pub behaviour: Behaviour,
    /// Shared counters.
    pub stats: Arc<Stats>,
    /// Receives the incident id whenever a `resolved` update is confirmed
    /// (used by the simulated operator to close incidents).
    pub on_resolved: Option<mpsc::UnboundedSender<String>>,
}

/// What arrived on a topic under `dispatch/<rid>/tasks/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskTopic {
    /// The (retained) task itself.
    Task(String),
    /// The dispatcher confirmed an update.
    UpdateAccepted(String),
    /// The dispatcher refused an update.
    UpdateRejected(String),
    /// Our own update echoed back, or something unknown.
    Ignore,
}

/// Classifies a topic received on the `dispatch/<rid>/tasks/#` subscription.
pub fn classify_topic(rid: &str, topic: &str) -> TaskTopic {
    let prefix = format!("dispatch/{rid}/tasks/");
    let Some(rest) = topic.strip_prefix(&prefix) else {
        return TaskTopic::Ignore;
    };
    let parts: Vec<&str> = rest.split('/').collect();
    match parts.as_slice() {
        [id] if !id.is_empty() => TaskTopic::Task((*id).to_string()),
        [id, "update", "accepted"] => TaskTopic::UpdateAccepted((*id).to_string()),
        [id, "update", "rejected"] => TaskTopic::UpdateRejected((*id).to_string()),
        _ => TaskTopic::Ignore,
    }
}

/// The status a worker sends next, given what the dispatcher last said
/// about the task. `arrived` tells whether the worker is at the location;
/// `accept` is the worker's (pre-drawn) decision for an offer.
pub fn next_status(current: &str, arrived: bool, accept: bool) -> Option<&'static str> {
    match current {
        "offered" if accept => Some("accepted"),
        "offered" => Some("rejected"),
        "accepted" => Some("en_route"),
        "en_route" if arrived => Some("on_scene"),
        "on_scene" => Some("resolved"),
        // en_route while travelling, terminal states, and anything the
        // dispatcher invents later: nothing for the worker to do.
        _ => None,
    }
}

/// Statuses in which a worker is committed to a task.
fn is_active(status: &str) -> bool {
    matches!(status, "accepted" | "en_route" | "on_scene")
}

/// Statuses after which the task leaving the worker is expected.
fn is_finished(status: &str) -> bool {
    matches!(status, "resolved" | "rejected")
}

/// Runs one simulated worker until `cancel`, then disconnects.
pub async fn run_worker(
    profile: WorkerProfile,
    creds: MqttCredentials,
    ctx: WorkerContext,
    seed: u64,
    cancel: CancellationToken,
) {
    let id = profile.id.clone();
    let mut session = mqtt::connect(
        &ctx.endpoint,
        &id,
        &creds,
        vec![format!("dispatch/{id}/tasks/#")],
    );
    let mut state = WorkerState::new(profile, ctx.behaviour, ctx.stats, seed, Instant::now());
    loop {
        let wake = state.next_wake(Instant::now());
        tokio::select! {
            _ = cancel.cancelled() => break,
            msg = session.incoming.recv() => match msg {
                Some(m) => state.handle_message(&m.topic, &m.payload, Instant::now()),
                None => {
                    tracing::warn!(worker = %id, "MQTT session ended");
                    break;
                }
            },
            _ = tokio::time::sleep_until(wake) => {}
        }
        for p in state.tick(Instant::now()) {
            session.publish(p.topic, p.payload, false);
        }
        if let Some(tx) = &ctx.on_resolved {
            for inc in state.take_resolved() {
                let _ = tx.send(inc);
            }
        }
    }
    session.close().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_status_walks_the_lifecycle() {
        assert_eq!(next_status("offered", false, true), Some("accepted"));
        assert_eq!(next_status("offered", false, false), Some("rejected"));
        assert_eq!(next_status("accepted", false, true), Some("en_route"));
        assert_eq!(next_status("en_route", false, true), None);
        assert_eq!(next_status("en_route", true, true), Some("on_scene"));
        assert_eq!(next_status("on_scene", true, true), Some("resolved"));
        for terminal in ["resolved", "rejected", "withdrawn", "expired", ""] {
            assert_eq!(next_status(terminal, true, true), None);
        }
    }

    #[test]
    fn topics_are_classified() {
        let r = "sim-w0001";
        assert_eq!(
            classify_topic(r, "dispatch/sim-w0001/tasks/t-1"),
            TaskTopic::Task("t-1".into())
        );
        assert_eq!(
            classify_topic(r, "dispatch/sim-w0001/tasks/t-1/update/accepted"),
            TaskTopic::UpdateAccepted("t-1".into())
        );
        assert_eq!(
            classify_topic(r, "dispatch/sim-w0001/tasks/t-1/update/rejected"),
            TaskTopic::UpdateRejected("t-1".into())
        );
        // Our own update echoed back by the broker.
        assert_eq!(
            classify_topic(r, "dispatch/sim-w0001/tasks/t-1/update"),
            TaskTopic::Ignore
        );
        assert_eq!(
            classify_topic(r, "dispatch/sim-w0002/tasks/t-1"),
            TaskTopic::Ignore
        );
        assert_eq!(
            classify_topic(r, "dispatch/sim-w0001/tasks/"),
            TaskTopic::Ignore
        );
    }
}
