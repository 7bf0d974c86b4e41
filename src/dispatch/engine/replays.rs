//! Duplicates of task updates already applied. A phone resends an update whose answer it
//! did not get (after a broker restart, a lost connection), and QoS 1 may deliver one
//! twice. The duplicate asks for a change the task already went through: refused, the
//! worker would read that their accept was turned down. It is answered as the original
//! was, and changes nothing.
//!
//! An update is known by its task, its responder and the status it asks for; the version
//! it carries is at most the one it was applied at (a later one is a new update). The
//! answers of the last [`KEEP`] applied updates are kept as sent. Past them, or after a
//! restart, an open task already in the asked status is answered with the version that
//! status was reached at, and an ended task is looked up in the database
//! ([`replay_ended`]).

use std::collections::{HashMap, VecDeque};

use crate::dispatch::{TaskUpdate, UpdateAnswer};
use crate::domain::closed_loop::TaskPurpose;
use crate::domain::state::WorkerStatus;
use crate::domain::TaskStatus;
use crate::store::TaskRow;

/// Applied updates remembered; a few per worker on duty in a busy county.
const KEEP: usize = 20_000;

/// An applied update, as the original was answered.
struct Applied {
    responder_id: String,
    /// The task's version the update was applied to.
    applied_to: i64,
    answer: UpdateAnswer,
}

/// The original's answer when `task`, read from the database and ended, was ended by this
/// update of `responder_id`: a rejection, a resolution, or an inspector's verdict (which
/// ends the verification task `resolved` with the note "verified" or "rework: …").
pub(super) fn replay_ended(
    responder_id: &str,
    update: &TaskUpdate,
    task: &TaskRow,
) -> Option<UpdateAnswer> {
    let note = task.note.as_deref().unwrap_or("");
    let ended_so = match (task.purpose, update.status) {
        (TaskPurpose::Verify, WorkerStatus::Verified) => note == "verified",
        (TaskPurpose::Verify, WorkerStatus::Rework) => note.starts_with("rework:"),
        (_, WorkerStatus::Rejected) => task.status == TaskStatus::Rejected,
        (TaskPurpose::Verify, _) => false,
        (_, WorkerStatus::Resolved) => task.status == TaskStatus::Resolved,
        _ => false,
    };
    let same = task.responder_id == responder_id
        && ended_so
        && task.status == TaskStatus::from(update.status)
        && update.version.is_none_or(|v| v < task.status_version);
    same.then(|| UpdateAnswer {
        task_id: task.id.clone(),
        status: update.status.as_str().to_owned(),
        version: task.status_version,
        reason: None,
    })
}

/// The answers of recently applied updates, by (task, asked status).
#[derive(Default)]
pub(super) struct Replays {
    applied: HashMap<(String, &'static str), Applied>,
    order: VecDeque<(String, &'static str)>,
}

impl Replays {
    /// Remembers the answer to an update that was applied to version `applied_to`.
    pub(super) fn remember(
        &mut self,
        responder_id: &str,
        update: &TaskUpdate,
        applied_to: i64,
        answer: &UpdateAnswer,
    ) {
        let key = (answer.task_id.clone(), update.status.as_str());
        let entry = Applied {
            responder_id: responder_id.to_owned(),
            applied_to,
            answer: answer.clone(),
        };
        if self.applied.insert(key.clone(), entry).is_none() {
            self.order.push_back(key);
        }
        while self.order.len() > KEEP {
            if let Some(old) = self.order.pop_front() {
                self.applied.remove(&old);
            }
        }
    }

    /// Forgets everything: memory is reloaded from the database after a failed batch,
    /// whose updates may not have been stored.
    pub(super) fn clear(&mut self) {
        self.applied.clear();
        self.order.clear();
    }

    /// The answer the original of this update got, when it is a duplicate of one applied.
    /// `open` is the task when it is still open.
    pub(super) fn replay(
        &self,
        responder_id: &str,
        task_id: &str,
        update: &TaskUpdate,
        open: Option<&TaskRow>,
    ) -> Option<UpdateAnswer> {
        let key = (task_id.to_owned(), update.status.as_str());
        if let Some(a) = self.applied.get(&key) {
            let same =
                a.responder_id == responder_id && update.version.is_none_or(|v| v <= a.applied_to);
            return same.then(|| a.answer.clone());
        }
        // Not remembered: an open task already in the asked status, reached after the
        // version the update carries, got there by this update (a worker's statuses only
        // move forward).
        let task = open?;
        let reached = task.responder_id == responder_id
            && task.status == TaskStatus::from(update.status)
            && task.status.to_string() == update.status.as_str()
            && update.version.is_none_or(|v| v < task.status_version);
        reached.then(|| UpdateAnswer {
            task_id: task_id.to_owned(),
            status: task.status.to_string(),
            version: task.status_version,
            reason: None,
        })
    }
}
