//! The worker's state and decisions: what it does with each task message and answer, where
//! it moves, and what it publishes on each tick. Synchronous, so it is tested without a
//! broker.

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

use super::{
    classify_topic, idle_speed_mps, is_active, is_finished, next_status, speed_mps, Behaviour,
    TaskTopic, WorkerProfile,
};
use crate::domain::LatLon;
use crate::sim::area::step_towards;
use crate::sim::stats::Stats;

#[derive(Debug, Deserialize)]
struct TaskMsg {
    #[serde(default)]
    incident_id: String,
    #[serde(default)]
    version: u64,
    status: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    location: Option<LatLon>,
}

#[derive(Debug, Deserialize)]
struct UpdateAnswer {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    version: Option<u64>,
    #[serde(default)]
    reason: Option<String>,
}

/// After this many refused or unanswered updates the worker stops pushing a
/// task and waits for the dispatcher to change or withdraw it.
const MAX_RETRIES: u32 = 3;
/// An update with no answer after this long is considered lost.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(15);
/// Within this distance the worker counts as arrived.
const ARRIVED_M: f64 = 25.0;

const REJECT_REASONS: &[&str] = &[
    "正在处理其他事务 / busy with another matter",
    "电动车没电了 / e-bike battery flat",
    "距离太远，建议派附近人员 / too far, please send someone closer",
    "身体不适 / feeling unwell",
];
const BUSY_REASON: &str = "正在处理其他任务 / already on another task";
const RESOLVE_NOTES: &[&str] = &[
    "已处理完毕，现场恢复正常 / handled, scene back to normal",
    "已交由120接手 / handed over to ambulance crew",
    "已联系家属，老人已安顿 / family contacted, person settled",
    "已劝离双方，无人受伤 / parties separated, nobody hurt",
    "已排除隐患 / hazard removed",
];

#[derive(Debug)]
struct Planned {
    at: Instant,
    status: &'static str,
    note: Option<String>,
}

#[derive(Debug)]
struct TaskState {
    incident_id: String,
    version: u64,
    status: String,
    location: Option<LatLon>,
    plan: Option<Planned>,
    /// When the last update was sent, while its answer is outstanding.
    awaiting: Option<Instant>,
    retries: u32,
    en_route_since: Option<Instant>,
}

/// A message the worker wants published.
#[derive(Debug, Clone, PartialEq)]
pub struct Publish {
    /// Topic.
    pub topic: String,
    /// JSON payload.
    pub payload: Vec<u8>,
}

/// The worker's mutable state and decision logic (no I/O).
#[derive(Debug)]
pub struct WorkerState {
    profile: WorkerProfile,
    behaviour: Behaviour,
    stats: Arc<Stats>,
    rng: StdRng,
    pos: LatLon,
    waypoint: Option<LatLon>,
    last_move: Instant,
    next_location: Instant,
    battery: f64,
    tasks: BTreeMap<String, TaskState>,
    /// Incidents whose `resolved` update was confirmed since the last drain.
    resolved: Vec<String>,
}

impl WorkerState {
    /// Creates the state; `seed` makes its random choices reproducible.
    pub fn new(
        profile: WorkerProfile,
        behaviour: Behaviour,
        stats: Arc<Stats>,
        seed: u64,
        now: Instant,
    ) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let battery = rng.gen_range(55.0..100.0);
        Self {
            pos: profile.start,
            profile,
            behaviour,
            stats,
            rng,
            waypoint: None,
            last_move: now,
            next_location: now,
            battery,
            tasks: BTreeMap::new(),
            resolved: Vec::new(),
        }
    }

    /// Current position.
    pub fn position(&self) -> LatLon {
        self.pos
    }

    /// Status the worker currently believes a task has.
    pub fn task_status(&self, task_id: &str) -> Option<&str> {
        self.tasks.get(task_id).map(|t| t.status.as_str())
    }

    /// Incident ids whose resolution was confirmed since the last call.
    pub fn take_resolved(&mut self) -> Vec<String> {
        std::mem::take(&mut self.resolved)
    }

    /// When [`tick`](Self::tick) should run next at the latest.
    pub fn next_wake(&self, now: Instant) -> Instant {
        // Movement and answer timeouts only need second resolution.
        let mut wake = (now + Duration::from_secs(1)).min(self.next_location);
        for t in self.tasks.values() {
            if let Some(p) = &t.plan {
                wake = wake.min(p.at);
            }
        }
        wake.max(now)
    }

    /// Handles one message from the `dispatch/<rid>/tasks/#` subscription.
    pub fn handle_message(&mut self, topic: &str, payload: &[u8], now: Instant) {
        match classify_topic(&self.profile.id, topic) {
            TaskTopic::Task(id) => self.on_task(id, payload, now),
            TaskTopic::UpdateAccepted(id) => self.on_answer(&id, payload, true),
            TaskTopic::UpdateRejected(id) => self.on_answer(&id, payload, false),
            TaskTopic::Ignore => {}
        }
    }

    fn on_task(&mut self, id: String, payload: &[u8], now: Instant) {
        if payload.iter().all(u8::is_ascii_whitespace) {
            // Empty retained payload: the task left this worker.
            if let Some(t) = self.tasks.remove(&id) {
                if !is_finished(&t.status) {
                    Stats::inc(&self.stats.withdrawn);
                }
                tracing::debug!(worker = %self.profile.id, task = %id, "task removed");
            }
            return;
        }
        let msg: TaskMsg = match serde_json::from_slice(payload) {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(worker = %self.profile.id, task = %id, error = %e, "unparseable task");
                return;
            }
        };
        let location = msg.location;
        let task = match self.tasks.entry(id.clone()) {
            std::collections::btree_map::Entry::Occupied(o) => o.into_mut(),
            std::collections::btree_map::Entry::Vacant(v) => {
                Stats::inc(&self.stats.tasks_received);
                self.stats.task_seen(
                    &msg.incident_id,
                    msg.description.as_deref().unwrap_or(""),
                    location,
                    now.into_std(),
                );
                tracing::debug!(worker = %self.profile.id, task = %id, status = %msg.status, "new task");
                v.insert(TaskState {
                    incident_id: msg.incident_id.clone(),
                    version: msg.version,
                    status: msg.status.clone(),
                    location,
                    plan: None,
                    awaiting: None,
                    retries: 0,
                    en_route_since: None,
                })
            }
        };
        if msg.version < task.version {
            // A stale copy (e.g. re-delivered retained message); keep what we know.
            return;
        }
        task.version = msg.version;
        if location.is_some() {
            task.location = location;
        }
        if task.status != msg.status {
            task.status = msg.status;
            task.plan = None;
            task.awaiting = None;
            task.retries = 0;
        }
    }

    fn on_answer(&mut self, id: &str, payload: &[u8], ok: bool) {
        let ans: UpdateAnswer = serde_json::from_slice(payload).unwrap_or(UpdateAnswer {
            status: None,
            version: None,
            reason: None,
        });
        let Some(task) = self.tasks.get_mut(id) else {
            return;
        };
        task.awaiting = None;
        if let Some(v) = ans.version {
            task.version = task.version.max(v);
        }
        if !ok {
            Stats::inc(&self.stats.update_rejections);
            task.retries += 1;
            task.plan = None;
            tracing::info!(
                worker = %self.profile.id, task = %id,
                status = ?ans.status, reason = ?ans.reason, "update refused"
            );
            return;
        }
        let Some(status) = ans.status else {
            return;
        };
        let counter = match status.as_str() {
            "accepted" => Some(&self.stats.accepted),
            "rejected" => Some(&self.stats.rejected),
            "en_route" => Some(&self.stats.en_route),
            "on_scene" => Some(&self.stats.on_scene),
            "resolved" => Some(&self.stats.resolved),
            _ => None,
        };
        if let Some(c) = counter {
            Stats::inc(c);
        }
        if status == "resolved" {
            self.resolved.push(task.incident_id.clone());
        }
        if task.status != status {
            task.status = status;
            task.plan = None;
            task.retries = 0;
        }
    }

    /// The task the worker is physically working on, if any.
    fn target(&self) -> Option<(LatLon, bool)> {
        self.tasks.values().find_map(|t| match t.status.as_str() {
            "en_route" => t.location.map(|l| (l, true)),
            "on_scene" => t.location.map(|l| (l, false)),
            _ => None,
        })
    }

    fn moved(&mut self, now: Instant) {
        let dt = now.saturating_duration_since(self.last_move).as_secs_f64();
        self.last_move = now;
        if dt <= 0.0 {
            return;
        }
        let pace = self.behaviour.pace.max(0.01);
        match self.target() {
            Some((loc, true)) => {
                let step = speed_mps(self.profile.travel) * pace * dt;
                self.pos = step_towards(self.pos, loc, step).0;
            }
            Some((_, false)) => {} // on scene: stay put
            None => {
                // Idle patrol/stroll at a relaxed speed between random points.
                let speed = idle_speed_mps(self.profile.travel);
                let wp = match self.waypoint {
                    Some(w) => w,
                    None => {
                        let w = self.profile.area.random_point(&mut self.rng);
                        self.waypoint = Some(w);
                        w
                    }
                };
                let (p, reached) = step_towards(self.pos, wp, speed * pace * dt);
                self.pos = p;
                if reached {
                    self.waypoint = None;
                }
            }
        }
    }

    /// Advances time: moves, sends due updates and location reports.
    pub fn tick(&mut self, now: Instant) -> Vec<Publish> {
        self.moved(now);
        let mut out = Vec::new();
        let busy = self.tasks.values().any(|t| is_active(&t.status));
        let pace = self.behaviour.pace.max(0.01);
        let max_travel = Duration::from_secs_f64(180.0 / pace);
        let ids: Vec<String> = self.tasks.keys().cloned().collect();
        for id in ids {
            let pos = self.pos;
            let Some(task) = self.tasks.get_mut(&id) else {
                continue;
            };
            if let Some(sent) = task.awaiting {
                if now.saturating_duration_since(sent) < ANSWER_TIMEOUT {
                    continue;
                }
                tracing::warn!(worker = %self.profile.id, task = %id, "no answer to update");
                task.awaiting = None;
                task.retries += 1;
            }
            // A trip already under way when we (re)connected counts from now.
            if task.status == "en_route" && task.en_route_since.is_none() {
                task.en_route_since = Some(now);
            }
            // Long trips are cut short so a run always progresses.
            let mut arrived = task
                .location
                .map(|l| pos.distance_m(l) <= ARRIVED_M)
                .unwrap_or(true);
            if let Some(since) = task.en_route_since {
                if task.status == "en_route" && now.saturating_duration_since(since) >= max_travel {
                    arrived = true;
                    if let Some(l) = task.location {
                        self.pos = l;
                    }
                }
            }
            if task.plan.is_none() && task.retries < MAX_RETRIES {
                // Only an offer needs the dice; rolling otherwise would just churn the RNG.
                let accept = task.status == "offered"
                    && !busy
                    && self
                        .rng
                        .gen_bool(self.behaviour.accept_probability.clamp(0.0, 1.0));
                if let Some(next) = next_status(&task.status, arrived, accept) {
                    let b = &self.behaviour;
                    let (delay, note) = match next {
                        "accepted" => (b.delay(&mut self.rng, 2.0, 8.0), None),
                        "rejected" => {
                            let reason = if busy {
                                BUSY_REASON
                            } else {
                                REJECT_REASONS
                                    .choose(&mut self.rng)
                                    .copied()
                                    .unwrap_or(BUSY_REASON)
                            };
                            (b.delay(&mut self.rng, 2.0, 8.0), Some(reason.to_string()))
                        }
                        "en_route" => (b.delay(&mut self.rng, 1.0, 4.0), None),
                        "on_scene" => (b.delay(&mut self.rng, 0.5, 1.5), None),
                        _ => {
                            let note = RESOLVE_NOTES.choose(&mut self.rng).copied();
                            (b.delay(&mut self.rng, 15.0, 45.0), note.map(str::to_string))
                        }
                    };
                    // A retry waits a little longer so a conflicting version can settle.
                    let delay = delay + Duration::from_secs(task.retries.into());
                    task.plan = Some(Planned {
                        at: now + delay,
                        status: next,
                        note,
                    });
                }
            }
            let due = task.plan.as_ref().is_some_and(|p| p.at <= now);
            if due {
                if let Some(p) = task.plan.take() {
                    let pos = self.pos;
                    let mut body = serde_json::json!({
                        "status": p.status,
                        "version": task.version,
                        "lat": pos.lat,
                        "lon": pos.lon,
                    });
                    if let Some(note) = p.note {
                        body["note"] = note.into();
                    }
                    task.awaiting = Some(now);
                    if p.status == "en_route" {
                        task.en_route_since = Some(now);
                    }
                    Stats::inc(&self.stats.updates_sent);
                    tracing::debug!(worker = %self.profile.id, task = %id, status = p.status, "update");
                    out.push(Publish {
                        topic: format!("dispatch/{}/tasks/{}/update", self.profile.id, id),
                        payload: body.to_string().into_bytes(),
                    });
                }
            }
        }
        if now >= self.next_location {
            self.next_location = now + self.behaviour.location_interval;
            // Phones drain slowly; recharge once low so long demos stay plausible.
            self.battery -= 0.02;
            if self.battery < 15.0 {
                self.battery = 100.0;
            }
            let body = serde_json::json!({
                "_type": "location",
                "lat": self.pos.lat,
                "lon": self.pos.lon,
                "tst": chrono::Utc::now().timestamp(),
                "acc": 10,
                "batt": self.battery.round() as i64,
                "tid": self.profile.tid,
            });
            Stats::inc(&self.stats.locations_sent);
            out.push(Publish {
                topic: format!("owntracks/{}/phone", self.profile.id),
                payload: body.to_string().into_bytes(),
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::TravelMode;
    use crate::sim::area::Area;

    const HOME: LatLon = LatLon {
        lat: 39.5,
        lon: 106.7,
    };

    fn worker(accept_probability: f64) -> (WorkerState, Arc<Stats>, Instant) {
        let stats = Arc::new(Stats::default());
        let now = Instant::now();
        let profile = WorkerProfile {
            id: "w1".into(),
            tid: "w1".into(),
            travel: TravelMode::Bike,
            area: Area::Circle {
                center: HOME,
                radius_m: 500.0,
            },
            start: HOME,
        };
        let behaviour = Behaviour {
            pace: 100.0,
            accept_probability,
            location_interval: Duration::from_secs(5),
        };
        (
            WorkerState::new(profile, behaviour, stats.clone(), 9, now),
            stats,
            now,
        )
    }

    fn task_json(status: &str, version: u64) -> Vec<u8> {
        serde_json::json!({
            "task_id": "t1", "incident_id": "i1", "version": version, "status": status,
            "kind": "fall", "severity": 2, "title": "fall", "description": "x",
            "location": {"lat": 39.501, "lon": 106.701},
            "offered_at": "2024-01-01T00:00:00Z", "respond_by": "2024-01-01T00:01:00Z"
        })
        .to_string()
        .into_bytes()
    }

    /// Runs ticks until an update is published; returns its JSON.
    fn run_until_update(w: &mut WorkerState, now: &mut Instant) -> serde_json::Value {
        for _ in 0..10_000 {
            *now += Duration::from_millis(50);
            for p in w.tick(*now) {
                if p.topic.ends_with("/update") {
                    assert_eq!(p.topic, "dispatch/w1/tasks/t1/update");
                    return serde_json::from_slice(&p.payload).unwrap();
                }
            }
        }
        panic!("no update published");
    }

    #[test]
    fn full_lifecycle_sends_last_seen_version() {
        let (mut w, stats, mut now) = worker(1.0);
        let first = w.tick(now);
        assert!(first.iter().any(|p| p.topic == "owntracks/w1/phone"));
        w.handle_message("dispatch/w1/tasks/t1", &task_json("offered", 1), now);
        assert_eq!(stats.report().tasks_received, 1);

        let u = run_until_update(&mut w, &mut now);
        assert_eq!(u["status"], "accepted");
        assert_eq!(u["version"], 1);
        // While waiting for the answer nothing else is sent.
        w.handle_message(
            "dispatch/w1/tasks/t1/update/accepted",
            br#"{"task_id":"t1","status":"accepted","version":2}"#,
            now,
        );
        w.handle_message("dispatch/w1/tasks/t1", &task_json("accepted", 2), now);

        let u = run_until_update(&mut w, &mut now);
        assert_eq!(u["status"], "en_route");
        assert_eq!(u["version"], 2);
        w.handle_message(
            "dispatch/w1/tasks/t1/update/accepted",
            br#"{"task_id":"t1","status":"en_route","version":3}"#,
            now,
        );

        let u = run_until_update(&mut w, &mut now);
        assert_eq!(u["status"], "on_scene");
        assert_eq!(u["version"], 3);
        let scene = LatLon {
            lat: 39.501,
            lon: 106.701,
        };
        assert!(w.position().distance_m(scene) <= ARRIVED_M);
        w.handle_message(
            "dispatch/w1/tasks/t1/update/accepted",
            br#"{"task_id":"t1","status":"on_scene","version":4}"#,
            now,
        );

        let u = run_until_update(&mut w, &mut now);
        assert_eq!(u["status"], "resolved");
        assert!(u["note"].is_string());
        w.handle_message(
            "dispatch/w1/tasks/t1/update/accepted",
            br#"{"task_id":"t1","status":"resolved","version":5}"#,
            now,
        );
        assert_eq!(w.take_resolved(), vec!["i1".to_string()]);
        w.handle_message("dispatch/w1/tasks/t1", b"", now);
        assert_eq!(w.task_status("t1"), None);

        let r = stats.report();
        assert_eq!(
            (r.accepted, r.en_route, r.on_scene, r.resolved, r.withdrawn),
            (1, 1, 1, 1, 0)
        );
    }

    #[test]
    fn rejects_with_reason_and_retries_after_refusal() {
        let (mut w, stats, mut now) = worker(0.0);
        w.handle_message("dispatch/w1/tasks/t1", &task_json("offered", 7), now);
        let u = run_until_update(&mut w, &mut now);
        assert_eq!(u["status"], "rejected");
        assert_eq!(u["version"], 7);
        assert!(u["note"].as_str().is_some_and(|n| !n.is_empty()));
        // The dispatcher refuses (say, a version conflict) and bumps the version.
        w.handle_message(
            "dispatch/w1/tasks/t1/update/rejected",
            br#"{"task_id":"t1","status":"rejected","version":8,"reason":"version conflict"}"#,
            now,
        );
        let u = run_until_update(&mut w, &mut now);
        assert_eq!(u["status"], "rejected");
        assert_eq!(u["version"], 8);
        assert_eq!(stats.report().update_rejections, 1);
        // The offer is withdrawn before being confirmed: counted as withdrawn.
        w.handle_message("dispatch/w1/tasks/t1", b"", now);
        assert_eq!(stats.report().withdrawn, 1);
    }

    #[test]
    fn stale_task_copies_are_ignored() {
        let (mut w, _stats, now) = worker(1.0);
        w.handle_message("dispatch/w1/tasks/t1", &task_json("accepted", 3), now);
        w.handle_message("dispatch/w1/tasks/t1", &task_json("offered", 2), now);
        assert_eq!(w.task_status("t1"), Some("accepted"));
        w.handle_message("dispatch/w1/tasks/t1", b"not json", now);
        assert_eq!(w.task_status("t1"), Some("accepted"));
    }

    #[test]
    fn busy_worker_rejects_second_offer() {
        let (mut w, _stats, mut now) = worker(1.0);
        w.handle_message("dispatch/w1/tasks/t1", &task_json("en_route", 3), now);
        let offer = serde_json::json!({
            "task_id": "t2", "incident_id": "i2", "version": 1, "status": "offered",
            "location": {"lat": 39.49, "lon": 106.69}
        });
        w.handle_message("dispatch/w1/tasks/t2", offer.to_string().as_bytes(), now);
        for _ in 0..10_000 {
            now += Duration::from_millis(50);
            for p in w.tick(now) {
                if p.topic == "dispatch/w1/tasks/t2/update" {
                    let u: serde_json::Value = serde_json::from_slice(&p.payload).unwrap();
                    assert_eq!(u["status"], "rejected");
                    assert_eq!(u["note"], BUSY_REASON);
                    return;
                }
            }
        }
        panic!("second offer never answered");
    }
}
