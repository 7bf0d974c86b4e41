//! The JSON the dispatcher publishes to workers, and the topics it goes to.

use serde_json::{json, Value};

use super::UpdateAnswer;
use crate::clock::rfc3339;
use crate::domain::closed_loop::TaskPurpose;
use crate::store::{IncidentRow, Outgoing, SnapshotRow, TaskRow};
use crate::views::SnapshotFiles;

/// `dispatch/<responder_id>/tasks/<task_id>`: the retained inbox entry.
pub fn task_topic(responder_id: &str, task_id: &str) -> String {
    format!("dispatch/{responder_id}/tasks/{task_id}")
}

/// `dispatch/<rid>/tasks/<tid>/update/accepted|rejected`.
pub fn answer_topic(responder_id: &str, task_id: &str, accepted: bool) -> String {
    let verdict = if accepted { "accepted" } else { "rejected" };
    format!("dispatch/{responder_id}/tasks/{task_id}/update/{verdict}")
}

/// `dispatch/<rid>/tasks/<tid>/closed`: why a task left the inbox (not retained).
pub fn closed_topic(responder_id: &str, task_id: &str) -> String {
    format!("dispatch/{responder_id}/tasks/{task_id}/closed")
}

/// The notice sent when a task leaves a worker's inbox, just before its retained message is
/// cleared: the empty message alone cannot say why, and a phone that was offline must still
/// be able to tell its worker "withdrawn: reassigned by an operator". QoS 1 and not
/// retained, so a phone with a kept session (the field app's) receives it on reconnect.
pub fn closed_message(task: &TaskRow, at_ms: i64) -> Value {
    let mut msg = json!({
        "task_id": task.id,
        "incident_id": task.incident_id,
        "status": task.status,
        "version": task.version,
        "at": rfc3339(at_ms),
    });
    if let (Some(obj), Some(note)) = (msg.as_object_mut(), &task.note) {
        obj.insert("reason".into(), json!(note));
    }
    msg
}

/// The task message a worker's phone shows, with the incident's snapshots (links under
/// `files`).
pub fn task_message(
    task: &TaskRow,
    incident: &IncidentRow,
    snapshots: &[SnapshotRow],
    files: &SnapshotFiles,
) -> Value {
    let rendezvous: Option<Value> = incident
        .rendezvous
        .as_deref()
        .and_then(|r| serde_json::from_str(r).ok());
    let mut msg = json!({
        "task_id": task.id,
        "incident_id": incident.id,
        "version": task.version,
        "status": task.status,
        "kind": incident.kind,
        "severity": incident.severity,
        "title": incident.title,
        "description": incident.description.clone().unwrap_or_default(),
        "location": { "lat": incident.lat, "lon": incident.lon },
        "offered_at": rfc3339(task.offered_at),
        "respond_by": rfc3339(task.respond_by),
        "purpose": task.purpose,
    });
    if let Some(obj) = msg.as_object_mut() {
        match task.purpose {
            TaskPurpose::Rework => {
                let reason = task.purpose_note.clone().unwrap_or_default();
                obj.insert("rework_reason".into(), json!(reason));
            }
            // What the inspector checks: who did the work and what they reported.
            TaskPurpose::Verify => {
                obj.insert("resolution_note".into(), json!(task.purpose_note));
                let resolver = &incident.milestones.resolver_id;
                obj.insert("resolver_id".into(), json!(resolver));
            }
            TaskPurpose::Respond => {}
        }
        if let Some(a) = &incident.address {
            obj.insert("address".into(), json!(a));
        }
        if let Some(r) = rendezvous {
            obj.insert("rendezvous".into(), r);
        }
        if let Some(z) = &incident.zone_id {
            obj.insert("zone_id".into(), json!(z));
        }
        if let Some(eta) = task.eta_secs {
            obj.insert("eta_secs".into(), json!(eta.round()));
        }
        if !snapshots.is_empty() {
            obj.insert(
                "snapshots".into(),
                snapshots
                    .iter()
                    .map(|s| crate::views::to_json(&files.view(s)))
                    .collect(),
            );
        }
    }
    msg
}

/// `dispatch/<rid>/tasks/<tid>/extension/answer`: the verdict on a worker's extension
/// request (not retained).
pub fn extension_answer_topic(responder_id: &str, task_id: &str) -> String {
    format!("dispatch/{responder_id}/tasks/{task_id}/extension/answer")
}

/// The verdict on an extension request: `{approved, minutes, due_at, note}` (`due_at` the
/// incident's deadline after it, RFC 3339, or null when it has none).
pub fn extension_answer(
    approved: bool,
    minutes: u32,
    due_at: Option<i64>,
    note: Option<&str>,
) -> Value {
    json!({
        "approved": approved,
        "minutes": minutes,
        "due_at": due_at.map(rfc3339),
        "note": note,
    })
}

/// `dispatch/<responder_id>/duty`: the retained duty state, so a phone sees it at connect.
pub fn duty_topic(responder_id: &str) -> String {
    format!("dispatch/{responder_id}/duty")
}

/// The retained duty state: `{"on_duty": bool, "at": "<RFC 3339>"}`.
pub fn duty_message(on_duty: bool, at_ms: i64) -> Value {
    json!({ "on_duty": on_duty, "at": rfc3339(at_ms) })
}

// ---- the messages as they go out ----------------------------------------------------------

/// The retained task message on [`task_topic`], with its incident's snapshots.
pub(crate) fn task_outgoing(
    task: &TaskRow,
    incident: &IncidentRow,
    snapshots: &[SnapshotRow],
    files: &SnapshotFiles,
) -> Outgoing {
    let payload = task_message(task, incident, snapshots, files)
        .to_string()
        .into_bytes();
    Outgoing::new(task_topic(&task.responder_id, &task.id), payload, true)
}

/// The notice on [`closed_topic`] that a task left the inbox (see [`closed_message`]).
pub(crate) fn closed_outgoing(task: &TaskRow, at_ms: i64) -> Outgoing {
    let payload = serde_json::to_vec(&closed_message(task, at_ms)).unwrap_or_default();
    Outgoing::new(closed_topic(&task.responder_id, &task.id), payload, false)
}

/// Clears a task's retained message from the worker's inbox.
pub(crate) fn clear_task(responder_id: &str, task_id: &str) -> Outgoing {
    Outgoing::clear_retained(task_topic(responder_id, task_id))
}

/// The answer to a worker's task update, on [`answer_topic`] (not retained).
pub(crate) fn answer_outgoing(
    responder_id: &str,
    task_id: &str,
    answer: &UpdateAnswer,
) -> Outgoing {
    let topic = answer_topic(responder_id, task_id, answer.reason.is_none());
    Outgoing::new(topic, serde_json::to_vec(answer).unwrap_or_default(), false)
}

/// The verdict on an extension request, on [`extension_answer_topic`] (not retained).
pub(crate) fn extension_outgoing(responder_id: &str, task_id: &str, answer: &Value) -> Outgoing {
    let topic = extension_answer_topic(responder_id, task_id);
    Outgoing::new(topic, answer.to_string().into_bytes(), false)
}

/// The retained duty state on [`duty_topic`].
pub(crate) fn duty_outgoing(responder_id: &str, on_duty: bool, at_ms: i64) -> Outgoing {
    let payload = duty_message(on_duty, at_ms).to_string().into_bytes();
    Outgoing::new(duty_topic(responder_id), payload, true)
}

/// Clears the retained duty state of a responder that is gone.
pub(crate) fn clear_duty(responder_id: &str) -> Outgoing {
    Outgoing::clear_retained(duty_topic(responder_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_go_to_accepted_or_rejected_and_clearing_is_an_empty_retained_message() {
        let mut answer = UpdateAnswer {
            task_id: "t1".into(),
            status: "accepted".into(),
            version: 2,
            reason: None,
        };
        let ok = answer_outgoing("w1", "t1", &answer);
        assert_eq!(ok.topic, "dispatch/w1/tasks/t1/update/accepted");
        assert!(!ok.retain && ok.outbox_seq.is_none());
        answer.reason = Some("stale".into());
        let refused = answer_outgoing("w1", "t1", &answer);
        assert_eq!(refused.topic, "dispatch/w1/tasks/t1/update/rejected");
        let clear = clear_task("w1", "t1");
        assert_eq!(clear.topic, "dispatch/w1/tasks/t1");
        assert!(clear.retain && clear.payload.is_empty());
        let duty = clear_duty("w1");
        assert_eq!(duty.topic, "dispatch/w1/duty");
        assert!(duty.retain && duty.payload.is_empty());
    }
}
