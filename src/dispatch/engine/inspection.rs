//! Verification by an inspector (核查, issue 14). When the kind of a resolved incident is
//! verified by `inspector`, a verification task (`purpose: "verify"`) goes over MQTT to the
//! nearest on-duty responder with the skill `inspector`, never the one who resolved it. It
//! carries the worker's resolution note and the incident's snapshots.
//!
//! The inspector accepts or rejects it like any offer, then answers `verified` (the
//! incident closes) or `rework` with a reason (it goes back to the worker who resolved
//! it), through the same engine functions as an operator's `/verify` and `/rework`. A
//! rejected or expired verification goes to the next inspector; the one who lost it is
//! excluded as from any offer of the incident. With no inspector left it stays with the
//! operators, who can verify it in the console as ever.

use std::collections::{HashMap, HashSet};

use super::offers::{new_offer, rank_params};
use super::{Change, Engine, DISPATCHER};
use crate::dispatch::messages::task_outgoing;
use crate::dispatch::{TaskUpdate, UpdateAnswer};
use crate::domain::closed_loop::TaskPurpose;
use crate::domain::ranking::{RankRequest, Ranked, ResponderIndex};
use crate::domain::state::WorkerStatus;
use crate::domain::timeline::Event;
use crate::domain::{Ident, IncidentState, LatLon, ResponderKind, TaskStatus};
use crate::store::{IncidentRow, ResponderRow, TaskRow, Write};

/// The skill that makes a responder an inspector.
pub(super) const SKILL: &str = "inspector";

/// Longest note kept from an inspector's answer, in characters (as for a worker's).
const MAX_NOTE: usize = 2000;

/// Who may inspect, and what the incidents awaiting an inspector carry to the next one.
#[derive(Debug, Default)]
pub(super) struct Inspection {
    /// Responders with the skill `inspector`.
    inspectors: HashSet<Ident>,
    /// Incident id → the resolution note its verification tasks carry, while it awaits an
    /// inspector.
    notes: HashMap<String, Option<String>>,
}

/// Whether a responder's stored skills (a JSON array of names) include `inspector`; an
/// unreadable list has none.
fn has_skill(skills: &str) -> bool {
    serde_json::from_str::<Vec<String>>(skills).is_ok_and(|s| s.iter().any(|s| s == SKILL))
}

impl Inspection {
    /// From the stored responders and the tasks of the open incidents (an incident's latest
    /// verification task holds its resolution note).
    pub(super) fn load(responders: &[ResponderRow], tasks: &[TaskRow]) -> Inspection {
        let inspectors = responders
            .iter()
            .filter(|r| has_skill(&r.skills))
            .filter_map(|r| Ident::parse(&r.id).ok())
            .collect();
        let mut latest: HashMap<&str, &TaskRow> = HashMap::new();
        for t in tasks.iter().filter(|t| t.purpose == TaskPurpose::Verify) {
            let slot = latest.entry(t.incident_id.as_str()).or_insert(t);
            if (t.offered_at, &t.id) > (slot.offered_at, &slot.id) {
                *slot = t;
            }
        }
        let notes = latest
            .into_iter()
            .map(|(id, t)| (id.to_owned(), t.purpose_note.clone()))
            .collect();
        Inspection { inspectors, notes }
    }

    /// A responder was created or edited with these stored skills.
    pub(super) fn set_skills(&mut self, id: &Ident, skills: &str) {
        if has_skill(skills) {
            self.inspectors.insert(id.clone());
        } else {
            self.inspectors.remove(id);
        }
    }

    /// A responder was deleted.
    pub(super) fn forget_responder(&mut self, id: &Ident) {
        self.inspectors.remove(id);
    }

    /// The incident no longer awaits an inspector (verified, sent back, or nobody left).
    pub(super) fn forget(&mut self, incident_id: &str) {
        self.notes.remove(incident_id);
    }
}

/// Where an inspector goes: the incident itself (a rendezvous is for the responders).
fn site(incident: &IncidentRow) -> LatLon {
    LatLon {
        lat: incident.lat,
        lon: incident.lon,
    }
}

/// A refusal of an inspector's answer: the task as it stays, and why.
fn refused(task: &TaskRow, reason: &str) -> UpdateAnswer {
    UpdateAnswer {
        task_id: task.id.clone(),
        status: task.status.to_string(),
        version: task.version,
        reason: Some(reason.to_owned()),
    }
}

impl Engine {
    /// A resolution (with the worker's `note`) of a kind verified by an inspector: the
    /// verification is offered to the best inspector, or left to the operators.
    pub(super) fn request_inspection(
        &mut self,
        incident_id: &str,
        note: Option<String>,
        change: &mut Change,
        now: i64,
    ) {
        self.inspection.notes.insert(incident_id.to_owned(), note);
        self.offer_inspection(incident_id, change, now);
    }

    /// Offers the verification of a resolved incident to the best inspector still
    /// eligible (after a rejected or expired one, the next); with nobody left it is the
    /// operators', and the timeline says so.
    pub(super) fn offer_inspection(&mut self, incident_id: &str, change: &mut Change, now: i64) {
        let Some(incident) = self.incidents.get(incident_id) else {
            self.inspection.forget(incident_id);
            return;
        };
        if incident.state != IncidentState::Resolved {
            self.inspection.forget(incident_id);
            return;
        }
        let Some(pick) = self.pick_inspector(incident, now) else {
            self.inspection.forget(incident_id);
            self.record(incident_id, DISPATCHER, Event::NoInspector, change, now);
            return;
        };
        let rid = pick.responder_id.clone();
        let mut task = new_offer(incident_id, &rid, Some(&pick), &self.rules, now);
        task.purpose = TaskPurpose::Verify;
        task.purpose_note = self.inspection.notes.get(incident_id).cloned().flatten();
        let snapshots = self.incidents.snapshots(incident_id);
        let message = task_outgoing(&task, incident, snapshots, &self.snapshot_files);
        change.writes.push(Write::InsertTask(task.clone()));
        change.publish.push(message);
        tracing::info!(incident = incident_id, inspector = %rid, task = %task.id, "verification offered");
        self.responders.set_busy(&rid, true);
        self.offers.add_offer(task);
        let line = Event::InspectionOffered {
            responder: rid.to_string(),
        };
        self.record(incident_id, DISPATCHER, line, change, now);
    }

    /// The nearest (by travel time, as every offer) on-duty, free, located inspector who
    /// did not resolve the incident and has not lost an offer of it; ties go to the
    /// smaller id.
    fn pick_inspector(&self, incident: &IncidentRow, now: i64) -> Option<Ranked> {
        let resolver = incident.milestones.resolver_id.as_deref();
        let req = RankRequest {
            target: site(incident),
            incident: site(incident),
            allowed: ResponderKind::ALL,
            exclude: self.offers.excluded(&incident.id),
            limit: 1,
        };
        let params = rank_params(&self.rules, now);
        self.inspection
            .inspectors
            .iter()
            .filter(|id| Some(id.as_str()) != resolver)
            .filter_map(|id| self.responders.get(id))
            .filter(|r| ResponderIndex::eligible(r, &req, &params))
            .filter_map(|r| self.responders.estimate(&r.id, &req, &self.zones, &params))
            .min_by(|a, b| {
                a.eta_secs
                    .total_cmp(&b.eta_secs)
                    .then_with(|| a.responder_id.cmp(&b.responder_id))
            })
    }

    /// An inspector's answer to its verification task, already checked by
    /// `closed_loop::check_answer` (a rejection goes the way of any rejected offer):
    /// accepted, the offer loses its deadline; `verified` closes the incident; `rework`
    /// sends it back to the worker who resolved it, with the reason.
    pub(super) fn answer_verification(
        &mut self,
        rid: &Ident,
        task: &TaskRow,
        update: &TaskUpdate,
        now: i64,
    ) -> Result<(Change, UpdateAnswer), UpdateAnswer> {
        let incident_id = task.incident_id.clone();
        let from = self.incidents.get(&incident_id).map(|i| i.state);
        if from != Some(IncidentState::Resolved) {
            return Err(refused(task, "the incident no longer awaits verification"));
        }
        let actor = format!("responder:{rid}");
        let note = update
            .note
            .as_deref()
            .map(|n| n.trim().chars().take(MAX_NOTE).collect::<String>())
            .filter(|n| !n.is_empty());
        let mut change = Change::default();
        let (closing, verdict) = match (update.status, note) {
            (WorkerStatus::Accepted, _) => {
                let Some(t) = self
                    .offers
                    .advance(&task.id, TaskStatus::Accepted, None, now)
                else {
                    return Err(refused(task, "task vanished"));
                };
                change.writes.push(Write::UpdateTask(t.clone()));
                if let Some(incident) = self.incidents.get(&incident_id) {
                    let snapshots = self.incidents.snapshots(&incident_id);
                    let message = task_outgoing(&t, incident, snapshots, &self.snapshot_files);
                    change.publish.push(message);
                }
                let line = Event::InspectionAccepted {
                    responder: rid.to_string(),
                };
                self.record(&incident_id, &actor, line, &mut change, now);
                let answer = UpdateAnswer {
                    task_id: t.id,
                    status: t.status.to_string(),
                    version: t.version,
                    reason: None,
                };
                return Ok((change, answer));
            }
            (WorkerStatus::Verified, note) => ("verified".to_owned(), Verdict::Verified(note)),
            (WorkerStatus::Rework, Some(reason)) => {
                (format!("rework: {reason}"), Verdict::Rework(reason))
            }
            _ => return Err(refused(task, "not an answer to a verification task")),
        };
        // The inspector's own task ends first, so it is not withdrawn with the others.
        let done = TaskStatus::Resolved;
        self.end_task(&task.id, done, Some(&closing), &mut change, now);
        let state = IncidentState::Resolved;
        let decided = match verdict {
            Verdict::Verified(note) => {
                self.verify(&incident_id, state, &actor, note, &mut change, now)
            }
            Verdict::Rework(reason) => {
                self.rework(&incident_id, state, &actor, reason, &mut change, now)
            }
        };
        if let Err(e) = decided {
            // The state was checked above, so this does not happen; say so if it does.
            tracing::error!(incident = %incident_id, error = %e, "verdict not applied");
        }
        Ok((
            change,
            UpdateAnswer {
                task_id: task.id.clone(),
                status: update.status.as_str().to_owned(),
                version: task.version + 1,
                reason: None,
            },
        ))
    }
}

/// What an inspector decided.
enum Verdict {
    /// Done as reported, with an optional note.
    Verified(Option<String>),
    /// To be done again, for this reason.
    Rework(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn responder(id: &str, skills: &str) -> ResponderRow {
        ResponderRow {
            id: id.into(),
            name: id.into(),
            kind: ResponderKind::GridWorker,
            travel: crate::domain::TravelMode::Foot,
            zone_id: None,
            skills: skills.into(),
            on_duty: true,
            lat: None,
            lon: None,
            fix_at: None,
            accuracy_m: None,
            battery: None,
            real_name: None,
            phone: None,
            station_id: None,
        }
    }

    fn verify_task(id: &str, offered_at: i64, note: &str) -> TaskRow {
        TaskRow {
            id: id.into(),
            incident_id: "inc-1".into(),
            responder_id: "i1".into(),
            status: TaskStatus::Expired,
            version: 2,
            status_version: 2,
            offered_at,
            respond_by: offered_at + 60_000,
            eta_secs: None,
            distance_m: None,
            note: None,
            updated_at: offered_at,
            accepted_at: None,
            purpose: TaskPurpose::Verify,
            purpose_note: Some(note.into()),
        }
    }

    #[test]
    fn after_a_restart_the_next_inspector_gets_the_latest_resolution_note() {
        let mut respond = verify_task("t0", 9, "not a verification");
        respond.purpose = TaskPurpose::Respond;
        let tasks = [
            verify_task("t1", 1, "first"),
            verify_task("t2", 5, "after rework"),
            respond,
        ];
        let book = Inspection::load(&[], &tasks);
        assert_eq!(
            book.notes.get("inc-1"),
            Some(&Some("after rework".to_owned()))
        );
        assert_eq!(book.notes.len(), 1);
    }

    #[test]
    fn an_inspector_is_a_responder_with_the_skill() {
        let rows = [
            responder("i1", r#"["inspector","first_aid"]"#),
            responder("w1", r#"["first_aid"]"#),
            responder("w2", "not json"),
        ];
        let mut book = Inspection::load(&rows, &[]);
        let ids: Vec<&str> = book.inspectors.iter().map(Ident::as_str).collect();
        assert_eq!(ids, ["i1"]);
        let w1 = Ident::parse("w1").unwrap_or_else(|e| panic!("{e}"));
        book.set_skills(&w1, r#"["inspector"]"#);
        assert!(book.inspectors.contains(&w1));
        book.set_skills(&w1, "[]");
        assert!(!book.inspectors.contains(&w1));
    }
}
