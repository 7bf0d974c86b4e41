//! Operator actions: assign an incident to a chosen responder, cancel it, close it.

use super::{Change, Engine};
use crate::dispatch::{DispatchError, OperatorAction, Reply};
use crate::domain::ranking::Responder;
use crate::domain::{Ident, IncidentState, TaskStatus};
use crate::store::{now_ms, StoreError};

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
    if !from.can_become(IncidentState::Dispatching) && from != IncidentState::Dispatching {
        return Err(DispatchError::Conflict(format!(
            "incident {incident_id} is {from}; it cannot be assigned"
        )));
    }
    Ok(())
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
                let text = format!(
                    "assigned to {rid}{}",
                    note.as_deref()
                        .map(|n| format!(": {n}"))
                        .unwrap_or_default()
                );
                if from == IncidentState::Dispatching {
                    self.timeline_note(incident_id, actor, text, &mut change, now);
                } else {
                    let to = IncidentState::Dispatching;
                    self.set_state(incident_id, to, actor, Some(text), &mut change, now);
                }
                let ranked = self.estimate_for(incident_id, &rid);
                self.make_offer(incident_id, &rid, ranked.as_ref(), &mut change, now);
            }
            OperatorAction::Cancel | OperatorAction::Close => {
                let (to, why) = ending(&action);
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
