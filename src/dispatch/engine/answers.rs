//! What workers send: updates of their tasks (accept, reject, on the way, on scene,
//! resolved), location fixes, and going on or off duty.

use super::{replays, Change, Engine, DISPATCHER};
use crate::dispatch::messages::{
    answer_outgoing, duty_outgoing, extension_answer, extension_outgoing, task_outgoing,
};
use crate::dispatch::{TaskUpdate, UpdateAnswer};
use crate::domain::closed_loop::{
    self, ExtensionAsk, ExtensionRequest, TaskPurpose, VerificationMode,
};
use crate::domain::timeline::Event;
use crate::domain::{Ident, IncidentState, LatLon, TaskStatus};
use crate::store::{now_ms, TaskRow, Write};
use crate::views;

/// A refusal: the task as it stays, and why.
fn refusal(task_id: &str, status: String, version: i64, reason: String) -> UpdateAnswer {
    UpdateAnswer {
        task_id: task_id.to_owned(),
        status,
        version,
        reason: Some(reason),
    }
}

/// Checks a worker's update of `task_id` (`task` when it is open) before anything changes:
/// the task must be open and theirs, the version one they could have seen, and the
/// transition one a worker may make. Returns the task and the status it goes to.
fn check_update<'a>(
    task: Option<&'a TaskRow>,
    rid: &Ident,
    task_id: &str,
    update: &TaskUpdate,
) -> Result<(&'a TaskRow, TaskStatus), UpdateAnswer> {
    let Some(task) = task else {
        return Err(refusal(
            task_id,
            "unknown".into(),
            0,
            "this task is no longer open (withdrawn, expired or finished)".into(),
        ));
    };
    let refuse = |reason: String| refusal(task_id, task.status.to_string(), task.version, reason);
    if task.responder_id != rid.as_str() {
        return Err(refuse("this task belongs to another responder".into()));
    }
    if let Some(v) = update.version {
        // Versions after the last status change only added information (a snapshot
        // link): the worker answered the status it saw, so the answer stands.
        if !(task.status_version..=task.version).contains(&v) {
            return Err(refuse(format!(
                "stale version {v}; the task is at version {}",
                task.version
            )));
        }
    }
    let note = update.note.as_deref();
    let to = closed_loop::check_answer(task.purpose, task.status, update.status, note)
        .map_err(refuse)?;
    Ok((task, to))
}

impl Engine {
    /// A worker's task update: applied and answered after its commit, or refused at once.
    pub(super) fn on_task_update(
        &mut self,
        responder_id: Ident,
        task_id: String,
        update: TaskUpdate,
    ) {
        let now = now_ms();
        if let (Some(lat), Some(lon)) = (update.lat, update.lon) {
            if let Ok(p) = LatLon::new(lat, lon) {
                self.on_location(&responder_id, p, now, None, None);
            }
        }
        let rid = responder_id.as_str();
        let open = self.offers.get(&task_id);
        if let Some(again) = self.replays.replay(rid, &task_id, &update, open) {
            tracing::info!(task = %task_id, responder = %responder_id, status = %again.status, "duplicate task update; answered as the original");
            // Queued after the batch holding the original, so never before its answer.
            self.send(answer_outgoing(rid, &task_id, &again));
            return;
        }
        if open.is_none() {
            return self.answer_not_open(responder_id, task_id, update);
        }
        match self.apply_update(&responder_id, &task_id, &update, now) {
            Ok((mut change, answer)) => {
                tracing::info!(task = %task_id, responder = %responder_id, status = %answer.status, "task update");
                let applied_to = answer.version - 1;
                self.replays.remember(rid, &update, applied_to, &answer);
                // The worker hears the verdict on its own update before the inbox changes
                // it causes (e.g. the task being cleared after `resolved`).
                change
                    .publish
                    .insert(0, answer_outgoing(rid, &task_id, &answer));
                let failed = UpdateAnswer {
                    task_id: task_id.clone(),
                    status: answer.status,
                    version: answer.version - 1,
                    reason: Some("internal error; try again".into()),
                };
                let failed = answer_outgoing(rid, &task_id, &failed);
                let out = self.out.clone();
                let redelivers = self.redelivers;
                self.stage(change, move |stored| {
                    if !stored && !redelivers {
                        let _ = out.send(failed);
                    }
                });
            }
            Err(refused) => {
                self.metrics.task_updates_refused_total.inc();
                tracing::info!(task = %task_id, responder = %responder_id, reason = ?refused.reason, "task update refused");
                self.send(answer_outgoing(rid, &task_id, &refused));
            }
        }
    }

    /// An update of a task not open here: refused as unknown, unless the database shows
    /// that this very update ended the task before this engine's memory of answers began
    /// (a restart; a new leader, to which the broker sends again what the dead one had
    /// committed but not acknowledged): then it gets the original's answer. The read runs
    /// off the engine's loop.
    fn answer_not_open(&mut self, responder_id: Ident, task_id: String, update: TaskUpdate) {
        let store = self.store.clone();
        let out = self.out.clone();
        let metrics = self.metrics.clone();
        tokio::spawn(async move {
            let rid = responder_id.as_str();
            let row = store.task(&task_id).await.unwrap_or_else(|e| {
                tracing::warn!(task = %task_id, error = %e, "could not read an ended task");
                None
            });
            let again = row.and_then(|t| replays::replay_ended(rid, &update, &t));
            let answer = match again {
                Some(a) => {
                    tracing::info!(task = %task_id, responder = %rid, status = %a.status, "duplicate update of an ended task; answered as the original");
                    a
                }
                None => {
                    metrics.task_updates_refused_total.inc();
                    match check_update(None, &responder_id, &task_id, &update) {
                        Err(refused) => refused,
                        Ok(_) => return,
                    }
                }
            };
            let _ = out.send(answer_outgoing(rid, &task_id, &answer));
        });
    }

    /// Checks and applies a worker's update in memory; the change is committed by the caller.
    fn apply_update(
        &mut self,
        rid: &Ident,
        task_id: &str,
        update: &TaskUpdate,
        now: i64,
    ) -> Result<(Change, UpdateAnswer), UpdateAnswer> {
        let (task, to) = check_update(self.offers.get(task_id), rid, task_id, update)?;
        let task = task.clone();
        if task.purpose == TaskPurpose::Verify && to != TaskStatus::Rejected {
            return self.answer_verification(rid, &task, update, now);
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
                let why = note.as_deref().or(Some("rejected"));
                self.end_task(task_id, TaskStatus::Rejected, why, &mut change, now);
                self.metrics.offers_rejected_total.inc();
                self.count_answer(&task, "rejected", now);
                let line = Event::Rejected {
                    responder: rid.to_string(),
                    note: note.clone(),
                };
                self.record(&incident_id, &actor, line, &mut change, now);
                self.after_offer_failed(&incident_id, &mut change, now);
                return Ok((change, ended));
            }
            TaskStatus::Resolved => {
                let why = note.as_deref();
                self.end_task(task_id, TaskStatus::Resolved, why, &mut change, now);
                self.incidents.set_resolver(&incident_id, rid.as_str());
                let to = IncidentState::Resolved;
                let words = Event::words(note.clone());
                if self.set_state(&incident_id, to, &actor, words, &mut change, now) {
                    self.after_resolution(&incident_id, note, &mut change, now);
                }
                return Ok((change, ended));
            }
            _ => {}
        }
        if to == TaskStatus::Accepted {
            if self.incidents.get(&incident_id).map(|i| i.state) != Some(IncidentState::Dispatching)
            {
                return Err(refusal(
                    task_id,
                    task.status.to_string(),
                    task.version,
                    "the incident is no longer looking for a responder".into(),
                ));
            }
            self.metrics.offers_accepted_total.inc();
            self.count_answer(&task, "accepted", now);
            self.set_state(
                &incident_id,
                IncidentState::Assigned,
                &actor,
                Some(Event::Accepted {
                    responder: rid.to_string(),
                }),
                &mut change,
                now,
            );
            // First accept wins: other outstanding offers for this incident are withdrawn.
            for other in self.offers.rival_offers(&incident_id, task_id) {
                self.end_task(
                    &other,
                    TaskStatus::Withdrawn,
                    Some("another responder accepted first"),
                    &mut change,
                    now,
                );
            }
        } else if let Some(state) = to.incident_state() {
            let words = Event::words(note.clone());
            self.set_state(&incident_id, state, &actor, words, &mut change, now);
        }
        // An accepted offer loses its deadline here.
        let Some(t) = self.offers.advance(task_id, to, note, now) else {
            return Err(refusal(
                task_id,
                "unknown".into(),
                0,
                "task vanished".into(),
            ));
        };
        change.writes.push(Write::UpdateTask(t.clone()));
        if let Some(incident) = self.incidents.get(&incident_id) {
            let snapshots = self.incidents.snapshots(&incident_id);
            let message = task_outgoing(&t, incident, snapshots, &self.snapshot_files);
            change.publish.push(message);
        }
        Ok((
            change,
            UpdateAnswer {
                task_id: t.id,
                status: t.status.to_string(),
                version: t.version,
                reason: None,
            },
        ))
    }

    /// A resolution (with the worker's `note`) is verified as the settings say for its
    /// kind: with `none` the incident closes at once; with `inspector` a verification task
    /// goes to an inspector (see `inspection`); with `operator` it stays resolved for one.
    fn after_resolution(
        &mut self,
        incident_id: &str,
        note: Option<String>,
        change: &mut Change,
        now: i64,
    ) {
        let Some(kind) = self.incidents.get(incident_id).map(|i| i.kind.clone()) else {
            return;
        };
        match self.verification.mode_for(&kind) {
            VerificationMode::Operator => {}
            VerificationMode::Inspector => self.request_inspection(incident_id, note, change, now),
            VerificationMode::None => {
                for tid in self.offers.of_incident(incident_id) {
                    let why = Some("incident closed");
                    self.end_task(&tid, TaskStatus::Withdrawn, why, change, now);
                }
                let text = Event::ClosedUnverified { kind };
                let to = IncidentState::Closed;
                self.set_state(incident_id, to, DISPATCHER, Some(text), change, now);
            }
        }
    }

    /// A worker asks for more time on a task it holds (accepted, on the way or on scene):
    /// the incident keeps the request for the operators, one at a time. A request that
    /// cannot be kept is answered at once on the task's `extension/answer` topic.
    pub(super) fn on_extension_request(&mut self, rid: &Ident, task_id: &str, ask: ExtensionAsk) {
        let now = now_ms();
        let refused = match self.keep_extension_request(rid, task_id, &ask, now) {
            Ok(change) => return self.stage(change, |_| {}),
            Err(why) => why,
        };
        tracing::info!(task = %task_id, responder = %rid, reason = %refused, "extension request refused");
        let due_at = self
            .offers
            .get(task_id)
            .and_then(|t| self.incidents.get(&t.incident_id))
            .and_then(|i| i.milestones.due_at);
        let answer = extension_answer(false, 0, due_at, Some(&refused));
        self.send(extension_outgoing(rid.as_str(), task_id, &answer));
    }

    fn keep_extension_request(
        &mut self,
        rid: &Ident,
        task_id: &str,
        ask: &ExtensionAsk,
        now: i64,
    ) -> Result<Change, String> {
        let Some(task) = self.offers.get(task_id) else {
            return Err("this task is no longer open".into());
        };
        if task.responder_id != rid.as_str() {
            return Err("this task belongs to another responder".into());
        }
        if !task.status.is_active() {
            return Err(format!(
                "a task that is {} cannot ask for more time",
                task.status
            ));
        }
        let incident_id = task.incident_id.clone();
        let pending = self
            .incidents
            .get(&incident_id)
            .map(|i| i.milestones.extension_request.is_some());
        match pending {
            None => return Err("the incident is no longer open".into()),
            Some(true) => return Err("an extension request is already pending".into()),
            Some(false) => {}
        }
        let request = ExtensionRequest {
            task_id: task_id.to_owned(),
            responder_id: rid.to_string(),
            minutes: ask.minutes,
            reason: ask.reason.clone(),
            requested_at: now,
        };
        let json = serde_json::to_string(&request).map_err(|e| e.to_string())?;
        let Some(row) = self
            .incidents
            .set_extension_request(&incident_id, Some(json), now)
        else {
            return Err("the incident is no longer open".into());
        };
        let mut change = Change::default();
        change.writes.push(Write::UpdateIncident(row));
        let line = Event::ExtensionAsked {
            responder: rid.to_string(),
            minutes: ask.minutes,
            reason: ask.reason.clone(),
        };
        let actor = format!("responder:{rid}");
        self.record(&incident_id, &actor, line, &mut change, now);
        Ok(change)
    }

    /// A location fix: ranking uses it at once; storing it waits for nobody.
    pub(super) fn on_location(
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
        self.metrics.locations_total.inc();
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
    pub(super) fn on_duty(&mut self, rid: &Ident, on_duty: bool, at_ms: i64) {
        let Some(mut r) = self.responders.get(rid).cloned() else {
            // Its login exists but the responder is gone (deleted meanwhile): nothing to do.
            tracing::warn!(responder = %rid, "duty change for an unknown responder ignored");
            return;
        };
        r.on_duty = on_duty;
        let event = views::to_json(&views::responder_event(&r));
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

    /// Records how long an offered task waited for its `answer` (`accepted`, `rejected`).
    fn count_answer(&self, task: &TaskRow, answer: &'static str, now: i64) {
        let waited_ms = u64::try_from(now - task.offered_at).unwrap_or(0);
        let waited = std::time::Duration::from_millis(waited_ms);
        self.metrics.offer_answered(answer, waited);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::state::WorkerStatus;

    fn task(status: TaskStatus, version: i64, status_version: i64) -> TaskRow {
        TaskRow {
            id: "t1".into(),
            incident_id: "i1".into(),
            responder_id: "w1".into(),
            status,
            version,
            status_version,
            offered_at: 0,
            respond_by: 60_000,
            eta_secs: None,
            distance_m: None,
            note: None,
            updated_at: 0,
            accepted_at: None,
            purpose: crate::domain::closed_loop::TaskPurpose::Respond,
            purpose_note: None,
        }
    }

    fn update(status: WorkerStatus, version: Option<i64>) -> TaskUpdate {
        TaskUpdate {
            status,
            version,
            note: None,
            lat: None,
            lon: None,
        }
    }

    fn w(id: &str) -> Ident {
        Ident::parse(id).unwrap_or_else(|e| panic!("{e}"))
    }

    fn reason(r: Result<(&TaskRow, TaskStatus), UpdateAnswer>) -> String {
        match r {
            Ok((_, to)) => panic!("allowed: {to}"),
            Err(a) => a.reason.unwrap_or_default(),
        }
    }

    #[test]
    fn an_update_of_a_task_no_longer_open_is_refused_as_unknown() {
        let r = check_update(None, &w("w1"), "t1", &update(WorkerStatus::Accepted, None));
        let Err(answer) = r else {
            panic!("a closed task was updated")
        };
        assert_eq!((answer.status.as_str(), answer.version), ("unknown", 0));
        assert!(answer.reason.is_some_and(|r| r.contains("no longer open")));
    }

    #[test]
    fn only_the_tasks_own_responder_may_update_it() {
        let t = task(TaskStatus::Offered, 1, 1);
        let r = check_update(
            Some(&t),
            &w("w2"),
            "t1",
            &update(WorkerStatus::Accepted, None),
        );
        assert!(reason(r).contains("another responder"));
    }

    #[test]
    fn a_stale_version_is_refused_but_one_after_a_snapshot_link_stands() {
        // Version 3 added a snapshot link to status version 2.
        let t = task(TaskStatus::Accepted, 3, 2);
        let r = check_update(
            Some(&t),
            &w("w1"),
            "t1",
            &update(WorkerStatus::EnRoute, Some(1)),
        );
        assert!(reason(r).contains("stale version 1"));
        for seen in [2, 3] {
            let r = check_update(
                Some(&t),
                &w("w1"),
                "t1",
                &update(WorkerStatus::EnRoute, Some(seen)),
            );
            assert_eq!(r.ok().map(|(_, to)| to), Some(TaskStatus::EnRoute));
        }
    }

    #[test]
    fn a_worker_cannot_skip_acceptance_or_reject_accepted_work() {
        let offered = task(TaskStatus::Offered, 1, 1);
        let r = check_update(
            Some(&offered),
            &w("w1"),
            "t1",
            &update(WorkerStatus::Resolved, None),
        );
        assert!(reason(r).contains("from offered to resolved"));
        let accepted = task(TaskStatus::Accepted, 2, 2);
        let r = check_update(
            Some(&accepted),
            &w("w1"),
            "t1",
            &update(WorkerStatus::Rejected, None),
        );
        assert!(reason(r).contains("from accepted to rejected"));
        let r = check_update(
            Some(&offered),
            &w("w1"),
            "t1",
            &update(WorkerStatus::Rejected, None),
        );
        assert_eq!(r.ok().map(|(_, to)| to), Some(TaskStatus::Rejected));
    }
}
