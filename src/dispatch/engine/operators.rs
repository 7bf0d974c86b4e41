//! Operator actions: assign an incident to a chosen responder, cancel it, close it; and
//! the closed loop after the work: verify a resolution or send it back for rework, suspend
//! and resume, decide a worker's extension request.

use super::{Change, Engine, DISPATCHER};
use crate::dispatch::messages::{extension_answer, extension_outgoing};
use crate::dispatch::{DispatchError, OperatorAction, Reply};
use crate::domain::closed_loop::{ExtensionRequest, TaskPurpose};
use crate::domain::ranking::Responder;
use crate::domain::timeline::Event;
use crate::domain::{Ident, IncidentState, TaskStatus};
use crate::store::{now_ms, StoreError, Write};

/// Whether an operator may offer an incident now in state `from` to `responder`
/// (`holds_task`: the responder already has an open task).
fn check_assign(
    incident_id: &str,
    from: IncidentState,
    rid: &Ident,
    responder: Option<&Responder>,
    holds_task: bool,
) -> Result<(), DispatchError> {
    let Some(r) = responder else {
        return Err(DispatchError::NotFound(format!("responder {rid}")));
    };
    if !r.on_duty {
        return Err(DispatchError::Conflict(format!(
            "responder {rid} is off duty"
        )));
    }
    if holds_task {
        return Err(DispatchError::Conflict(format!(
            "responder {rid} already holds an open task"
        )));
    }
    // A resolution is verified or sent back for rework, and a suspension resumed, first.
    let held = matches!(from, IncidentState::Resolved | IncidentState::Suspended);
    if held || !from.can_become(IncidentState::Dispatching) && from != IncidentState::Dispatching {
        return Err(DispatchError::Conflict(format!(
            "incident {incident_id} is {from}; it cannot be assigned"
        )));
    }
    Ok(())
}

/// The action needs the incident in state `needs`; it is `from`.
fn require(
    incident_id: &str,
    from: IncidentState,
    needs: IncidentState,
    what: &str,
) -> Result<(), DispatchError> {
    if from == needs {
        Ok(())
    } else {
        Err(DispatchError::Conflict(format!(
            "incident {incident_id} is {from}; only a {needs} incident can be {what}"
        )))
    }
}

/// The state a cancel or a close leads to, and the note on the tasks it withdraws.
fn ending(action: &OperatorAction) -> (IncidentState, &'static str) {
    if matches!(action, OperatorAction::Cancel) {
        (IncidentState::Cancelled, "incident cancelled")
    } else {
        (IncidentState::Closed, "incident closed")
    }
}

impl Engine {
    /// An operator's action: answered once stored, or refused at once.
    pub(super) async fn on_operator_command(
        &mut self,
        incident_id: &str,
        action: OperatorAction,
        actor: &str,
        note: Option<String>,
        reply: Reply<()>,
    ) {
        match self.on_operator(incident_id, action, actor, note).await {
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
        }
    }

    /// Decides an operator action in memory; the change is staged by the caller.
    pub(super) async fn on_operator(
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
        let open_tasks = self.offers.of_incident(incident_id);
        match action {
            OperatorAction::Assign(rid) => {
                let holds_task = self.offers.holds_task(rid.as_str());
                check_assign(
                    incident_id,
                    from,
                    &rid,
                    self.responders.get(&rid),
                    holds_task,
                )?;
                for tid in open_tasks {
                    self.end_task(
                        &tid,
                        TaskStatus::Withdrawn,
                        Some("reassigned by an operator"),
                        &mut change,
                        now,
                    );
                }
                if !self.incidents.mark_manual(incident_id) {
                    return Err(DispatchError::NotFound(incident_id.into()));
                }
                let text = Event::Assigned {
                    responder: rid.to_string(),
                    note: note.filter(|n| !n.trim().is_empty()),
                };
                if from == IncidentState::Dispatching {
                    self.record(incident_id, actor, text, &mut change, now);
                } else {
                    let to = IncidentState::Dispatching;
                    self.set_state(incident_id, to, actor, Some(text), &mut change, now);
                }
                let ranked = self.estimate_for(incident_id, &rid);
                self.make_offer(incident_id, &rid, ranked.as_ref(), &mut change, now);
            }
            OperatorAction::Verify => {
                self.verify(incident_id, from, actor, note, &mut change, now)?
            }
            OperatorAction::Rework(reason) => {
                self.rework(incident_id, from, actor, reason, &mut change, now)?
            }
            OperatorAction::Suspend => {
                self.suspend(incident_id, from, actor, note, &mut change, now)?
            }
            OperatorAction::Resume => {
                self.resume_incident(incident_id, from, actor, note, &mut change, now)?
            }
            OperatorAction::Extension { approve, minutes } => {
                self.decide_extension(incident_id, approve, minutes, actor, note, &mut change, now)?
            }
            OperatorAction::Cancel | OperatorAction::Close => {
                let (to, why) = ending(&action);
                for tid in open_tasks {
                    self.end_task(&tid, TaskStatus::Withdrawn, Some(why), &mut change, now);
                }
                let words = Event::words(note);
                self.move_to(incident_id, from, to, actor, words, &mut change, now)?;
            }
        }
        Ok(change)
    }
}

impl Engine {
    /// [`Engine::set_state`] for an operator, who hears why it could not be done.
    #[allow(clippy::too_many_arguments)] // set_state's inputs and the state it is in
    fn move_to(
        &mut self,
        incident_id: &str,
        from: IncidentState,
        to: IncidentState,
        actor: &str,
        event: Option<Event>,
        change: &mut Change,
        now: i64,
    ) -> Result<(), DispatchError> {
        if self.set_state(incident_id, to, actor, event, change, now) {
            Ok(())
        } else {
            Err(DispatchError::Conflict(format!(
                "incident {incident_id} is {from}; it cannot become {to}"
            )))
        }
    }

    /// A resolution found good, by an operator or an inspector (`actor`): the incident
    /// closes, and any task still open for it (an inspector's verification) is withdrawn.
    pub(super) fn verify(
        &mut self,
        incident_id: &str,
        from: IncidentState,
        actor: &str,
        note: Option<String>,
        change: &mut Change,
        now: i64,
    ) -> Result<(), DispatchError> {
        require(incident_id, from, IncidentState::Resolved, "verified")?;
        self.end_verification(incident_id, "incident closed", change, now);
        let text = Some(Event::Verified { note });
        let to = IncidentState::Closed;
        self.move_to(incident_id, from, to, actor, text, change, now)
    }

    /// A resolution found lacking (返工), by an operator or an inspector (`actor`): back to
    /// dispatching, and a new offer to the worker who resolved it, whose task carries the
    /// reason. Should that worker be gone, the usual ranking picks someone. Any task still
    /// open for it (an inspector's verification) is withdrawn.
    pub(super) fn rework(
        &mut self,
        incident_id: &str,
        from: IncidentState,
        actor: &str,
        reason: String,
        change: &mut Change,
        now: i64,
    ) -> Result<(), DispatchError> {
        require(
            incident_id,
            from,
            IncidentState::Resolved,
            "sent back for rework",
        )?;
        self.end_verification(incident_id, "sent back for rework", change, now);
        let resolver = self
            .incidents
            .get(incident_id)
            .and_then(|i| i.milestones.resolver_id.as_deref())
            .and_then(|r| Ident::parse(r).ok())
            .filter(|r| self.responders.get(r).is_some());
        let text = Some(Event::Rework {
            reason: reason.clone(),
        });
        let to = IncidentState::Dispatching;
        self.move_to(incident_id, from, to, actor, text, change, now)?;
        let Some(rid) = resolver else {
            self.offer_next(incident_id, change, now);
            return Ok(());
        };
        let line = Event::ReworkOffered {
            responder: rid.to_string(),
        };
        self.record(incident_id, DISPATCHER, line, change, now);
        let ranked = self.estimate_for(incident_id, &rid);
        let purpose = (TaskPurpose::Rework, Some(reason));
        self.make_offer_for(incident_id, &rid, ranked.as_ref(), purpose, change, now);
        Ok(())
    }

    /// The verification of a resolved incident is decided: whatever task is still open for
    /// it is withdrawn (`why`), and no inspector is asked any more.
    fn end_verification(&mut self, incident_id: &str, why: &str, change: &mut Change, now: i64) {
        for tid in self.offers.of_incident(incident_id) {
            self.end_task(&tid, TaskStatus::Withdrawn, Some(why), change, now);
        }
        self.inspection.forget(incident_id);
    }

    /// Puts open work on hold (缓办): its tasks are withdrawn and its deadline pauses.
    fn suspend(
        &mut self,
        incident_id: &str,
        from: IncidentState,
        actor: &str,
        note: Option<String>,
        change: &mut Change,
        now: i64,
    ) -> Result<(), DispatchError> {
        if !from.can_become(IncidentState::Suspended) {
            return Err(DispatchError::Conflict(format!(
                "incident {incident_id} is {from}; it cannot be suspended"
            )));
        }
        for tid in self.offers.of_incident(incident_id) {
            let why = Some("incident suspended");
            self.end_task(&tid, TaskStatus::Withdrawn, why, change, now);
        }
        let text = Some(Event::Suspended { note });
        let to = IncidentState::Suspended;
        self.move_to(incident_id, from, to, actor, text, change, now)
    }

    /// A suspended incident dispatches again (its deadline moves later by the time
    /// suspended as it leaves `suspended`).
    fn resume_incident(
        &mut self,
        incident_id: &str,
        from: IncidentState,
        actor: &str,
        note: Option<String>,
        change: &mut Change,
        now: i64,
    ) -> Result<(), DispatchError> {
        require(incident_id, from, IncidentState::Suspended, "resumed")?;
        self.record(incident_id, actor, Event::Resumed { note }, change, now);
        self.offer_next(incident_id, change, now);
        Ok(())
    }

    /// The verdict on the pending extension request: granted, the deadline moves later
    /// (by the minutes asked for unless the operator says otherwise); either way the
    /// worker hears it on the task's `extension/answer` topic.
    #[allow(clippy::too_many_arguments)] // one action's inputs, passed once
    fn decide_extension(
        &mut self,
        incident_id: &str,
        approve: bool,
        minutes: Option<u32>,
        actor: &str,
        note: Option<String>,
        change: &mut Change,
        now: i64,
    ) -> Result<(), DispatchError> {
        let pending: Option<ExtensionRequest> = self
            .incidents
            .get(incident_id)
            .and_then(|i| i.milestones.extension_request.as_deref())
            .and_then(|r| serde_json::from_str(r).ok());
        let Some(request) = pending else {
            return Err(DispatchError::Conflict(format!(
                "incident {incident_id} has no pending extension request"
            )));
        };
        let (granted, row) = if approve {
            let m = minutes.unwrap_or(request.minutes);
            (m, self.incidents.grant_extension(incident_id, m, now))
        } else {
            (
                0,
                self.incidents.set_extension_request(incident_id, None, now),
            )
        };
        let Some(row) = row else {
            return Err(DispatchError::NotFound(format!("incident {incident_id}")));
        };
        let due_at = row.milestones.due_at;
        change.writes.push(Write::UpdateIncident(row));
        let responder = request.responder_id.clone();
        let words = note.clone();
        let verdict = if approve {
            Event::ExtensionGranted {
                responder,
                minutes: granted,
                note: words,
            }
        } else {
            Event::ExtensionRefused {
                responder,
                note: words,
            }
        };
        self.record(incident_id, actor, verdict, change, now);
        let answer = extension_answer(approve, granted, due_at, note.as_deref());
        let message = extension_outgoing(&request.responder_id, &request.task_id, &answer);
        change.publish.push(message);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ResponderKind, TravelMode};

    fn responder(on_duty: bool) -> Responder {
        Responder {
            id: rid(),
            kind: ResponderKind::GridWorker,
            travel: TravelMode::Foot,
            zone_id: None,
            on_duty,
            position: None,
            fix_at_ms: None,
            busy: false,
        }
    }

    fn rid() -> Ident {
        Ident::parse("w1").unwrap_or_else(|e| panic!("{e}"))
    }

    fn conflict(r: Result<(), DispatchError>) -> String {
        match r {
            Err(DispatchError::Conflict(why)) => why,
            other => panic!("not a conflict: {other:?}"),
        }
    }

    #[test]
    fn an_operator_assigns_only_a_free_on_duty_responder() {
        let on = responder(true);
        let ok = check_assign("i1", IncidentState::Escalated, &rid(), Some(&on), false);
        assert!(ok.is_ok());
        let r = check_assign("i1", IncidentState::New, &rid(), None, false);
        assert!(matches!(r, Err(DispatchError::NotFound(_))));
        let off = responder(false);
        let r = check_assign("i1", IncidentState::New, &rid(), Some(&off), false);
        assert!(conflict(r).contains("off duty"));
        let r = check_assign("i1", IncidentState::New, &rid(), Some(&on), true);
        assert!(conflict(r).contains("already holds"));
    }

    #[test]
    fn a_reassignment_is_allowed_while_dispatching_but_not_once_resolved() {
        let on = responder(true);
        let r = check_assign("i1", IncidentState::Dispatching, &rid(), Some(&on), false);
        assert!(r.is_ok());
        let r = check_assign("i1", IncidentState::Resolved, &rid(), Some(&on), false);
        assert!(conflict(r).contains("cannot be assigned"));
        let r = check_assign("i1", IncidentState::Suspended, &rid(), Some(&on), false);
        assert!(conflict(r).contains("cannot be assigned"));
    }

    #[test]
    fn verify_rework_and_resume_need_their_own_state() {
        let r = require(
            "i1",
            IncidentState::Assigned,
            IncidentState::Resolved,
            "verified",
        );
        assert_eq!(
            conflict(r),
            "incident i1 is assigned; only a resolved incident can be verified"
        );
        assert!(require(
            "i1",
            IncidentState::Suspended,
            IncidentState::Suspended,
            "resumed"
        )
        .is_ok());
    }

    #[test]
    fn cancel_and_close_end_in_their_own_states() {
        assert_eq!(
            ending(&OperatorAction::Cancel),
            (IncidentState::Cancelled, "incident cancelled")
        );
        assert_eq!(
            ending(&OperatorAction::Close),
            (IncidentState::Closed, "incident closed")
        );
    }
}
