//! The open tasks with the two records that must follow them: the respond-by deadline of
//! every outstanding offer, and per incident the responders who already lost an offer for
//! it (rejected, or let it expire), who are not offered that incident again.
//!
//! Invariants, kept by every method here:
//! - a deadline `(respond_by, id)` exists exactly for each open task whose status is
//!   `offered`;
//! - an exclusion is recorded whenever a task ends `rejected` or `expired`, and is
//!   forgotten only with its incident.

use std::collections::{BTreeSet, HashMap, HashSet};

use crate::domain::{Ident, TaskStatus};
use crate::store::TaskRow;

/// Open tasks, their deadlines and the exclusions (see the module docs).
#[derive(Debug, Default)]
pub(super) struct Offers {
    /// Open tasks by id.
    tasks: HashMap<String, TaskRow>,
    /// (respond_by, task id) of outstanding offers.
    deadlines: BTreeSet<(i64, String)>,
    /// Incident id → responders who already lost an offer for it.
    excluded: HashMap<String, HashSet<Ident>>,
}

/// No exclusions (for incidents without any).
static NOBODY: std::sync::LazyLock<HashSet<Ident>> = std::sync::LazyLock::new(HashSet::new);

/// A task that failed its offer keeps its responder from being offered the incident again.
fn loses_the_incident(status: TaskStatus) -> bool {
    matches!(status, TaskStatus::Rejected | TaskStatus::Expired)
}

impl Offers {
    /// Rebuilds the book from the stored tasks of the open incidents: the open ones are
    /// held, the failed ones become exclusions, the rest are history.
    pub(super) fn load(rows: impl IntoIterator<Item = TaskRow>) -> Offers {
        let mut book = Offers::default();
        for t in rows {
            if loses_the_incident(t.status) {
                book.exclude(&t);
            }
            if t.status.is_open() {
                book.hold(t);
            }
        }
        book
    }

    /// Holds an open task, with its deadline while it is an offer.
    fn hold(&mut self, task: TaskRow) {
        if task.status == TaskStatus::Offered {
            self.deadlines.insert((task.respond_by, task.id.clone()));
        }
        self.tasks.insert(task.id.clone(), task);
    }

    fn exclude(&mut self, task: &TaskRow) {
        if let Ok(rid) = Ident::parse(&task.responder_id) {
            self.excluded
                .entry(task.incident_id.clone())
                .or_default()
                .insert(rid);
        }
    }

    /// A new offer: held with its respond-by deadline.
    pub(super) fn add_offer(&mut self, task: TaskRow) {
        debug_assert_eq!(task.status, TaskStatus::Offered);
        self.hold(task);
    }

    /// Takes a task out with its final `status` (a new version; `note` replaces the
    /// task's note when given). Its deadline goes; a rejected or expired offer excludes
    /// its responder from the incident. `None` when the task is not open.
    pub(super) fn end(
        &mut self,
        task_id: &str,
        status: TaskStatus,
        note: Option<&str>,
        now: i64,
    ) -> Option<TaskRow> {
        let mut task = self.tasks.remove(task_id)?;
        self.deadlines.remove(&(task.respond_by, task.id.clone()));
        task.status = status;
        task.version += 1;
        task.status_version = task.version;
        task.updated_at = now;
        if note.is_some() {
            task.note = note.map(str::to_owned);
        }
        if loses_the_incident(status) {
            self.exclude(&task);
        }
        Some(task)
    }

    /// Moves an open task to `status` as its worker asked (a new version; `note` replaces
    /// the task's note when given). An offer that is answered has no deadline any more.
    pub(super) fn advance(
        &mut self,
        task_id: &str,
        status: TaskStatus,
        note: Option<String>,
        now: i64,
    ) -> Option<TaskRow> {
        let t = self.tasks.get_mut(task_id)?;
        if t.status == TaskStatus::Offered && status != TaskStatus::Offered {
            self.deadlines.remove(&(t.respond_by, t.id.clone()));
        }
        t.status = status;
        if status == TaskStatus::Accepted {
            t.accepted_at.get_or_insert(now);
        }
        t.version += 1;
        t.status_version = t.version;
        t.updated_at = now;
        if note.is_some() {
            t.note = note;
        }
        Some(t.clone())
    }

    /// A new version of every open task of an incident whose message gained something (a
    /// snapshot link); the status stays, so `status_version` does too.
    pub(super) fn touch_incident(&mut self, incident_id: &str, now: i64) -> Vec<TaskRow> {
        self.tasks
            .values_mut()
            .filter(|t| t.incident_id == incident_id)
            .map(|t| {
                t.version += 1;
                t.updated_at = now;
                t.clone()
            })
            .collect()
    }

    /// The incident is over: its exclusions go with it.
    pub(super) fn forget_incident(&mut self, incident_id: &str) {
        self.excluded.remove(incident_id);
    }

    /// Offers whose respond-by time has come, soonest first.
    pub(super) fn due(&self, now: i64) -> Vec<String> {
        self.deadlines
            .iter()
            .take_while(|(at, _)| *at <= now)
            .map(|(_, id)| id.clone())
            .collect()
    }

    /// The next respond-by time.
    pub(super) fn next_deadline(&self) -> Option<i64> {
        self.deadlines.first().map(|(at, _)| *at)
    }

    /// Responders not to offer this incident again.
    pub(super) fn excluded(&self, incident_id: &str) -> &HashSet<Ident> {
        self.excluded.get(incident_id).unwrap_or(&NOBODY)
    }

    /// An open task.
    pub(super) fn get(&self, task_id: &str) -> Option<&TaskRow> {
        self.tasks.get(task_id)
    }

    /// Every open task.
    pub(super) fn iter(&self) -> impl Iterator<Item = &TaskRow> {
        self.tasks.values()
    }

    /// Ids of the open tasks of an incident.
    pub(super) fn of_incident(&self, incident_id: &str) -> Vec<String> {
        self.ids(|t| t.incident_id == incident_id)
    }

    /// Ids of the open tasks of a responder.
    pub(super) fn of_responder(&self, responder_id: &str) -> Vec<String> {
        self.ids(|t| t.responder_id == responder_id)
    }

    /// Ids of the other outstanding offers for an incident than `task_id`.
    pub(super) fn rival_offers(&self, incident_id: &str, task_id: &str) -> Vec<String> {
        self.ids(|t| {
            t.incident_id == incident_id && t.id != task_id && t.status == TaskStatus::Offered
        })
    }

    fn ids(&self, keep: impl Fn(&TaskRow) -> bool) -> Vec<String> {
        self.tasks
            .values()
            .filter(|t| keep(t))
            .map(|t| t.id.clone())
            .collect()
    }

    /// An offer for the incident waits for its answer.
    pub(super) fn has_outstanding_offer(&self, incident_id: &str) -> bool {
        self.tasks
            .values()
            .any(|t| t.incident_id == incident_id && t.status == TaskStatus::Offered)
    }

    /// The responder holds an open task (an offer or accepted work): busy.
    pub(super) fn holds_task(&self, responder_id: &str) -> bool {
        self.tasks.values().any(|t| t.responder_id == responder_id)
    }

    /// Open tasks.
    pub(super) fn len(&self) -> usize {
        self.tasks.len()
    }

    /// Offers waiting for an answer.
    pub(super) fn outstanding(&self) -> usize {
        self.deadlines.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(id: &str, incident: &str, responder: &str, status: TaskStatus, by: i64) -> TaskRow {
        TaskRow {
            id: id.into(),
            incident_id: incident.into(),
            responder_id: responder.into(),
            status,
            version: 1,
            status_version: 1,
            offered_at: 0,
            respond_by: by,
            eta_secs: None,
            distance_m: None,
            note: None,
            updated_at: 0,
            accepted_at: None,
            purpose: crate::domain::closed_loop::TaskPurpose::Respond,
            purpose_note: None,
        }
    }

    fn ident(s: &str) -> Ident {
        Ident::parse(s).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn an_offer_is_due_at_its_respond_by_time_and_not_before() {
        let mut book = Offers::default();
        book.add_offer(task("t1", "i1", "w1", TaskStatus::Offered, 1_000));
        book.add_offer(task("t2", "i2", "w2", TaskStatus::Offered, 500));
        assert_eq!(book.next_deadline(), Some(500));
        assert!(book.due(499).is_empty());
        assert_eq!(book.due(500), vec!["t2".to_owned()]);
        assert_eq!(book.due(5_000), vec!["t2".to_owned(), "t1".to_owned()]);
        assert_eq!(book.outstanding(), 2);
    }

    #[test]
    fn an_expired_offer_ends_without_its_deadline_and_excludes_its_responder() {
        let mut book = Offers::default();
        book.add_offer(task("t1", "i1", "w1", TaskStatus::Offered, 1_000));
        let ended = book.end("t1", TaskStatus::Expired, Some("no answer in time"), 2_000);
        let ended = ended.unwrap_or_else(|| panic!("t1 was open"));
        assert_eq!(ended.status, TaskStatus::Expired);
        assert_eq!((ended.version, ended.status_version), (2, 2));
        assert_eq!(ended.note.as_deref(), Some("no answer in time"));
        assert!(book.due(i64::MAX).is_empty());
        assert_eq!(book.next_deadline(), None);
        assert!(book.excluded("i1").contains(&ident("w1")));
        assert!(!book.holds_task("w1"));
        assert!(book.end("t1", TaskStatus::Expired, None, 3_000).is_none());
    }

    #[test]
    fn a_withdrawn_or_resolved_task_excludes_nobody() {
        let mut book = Offers::default();
        book.add_offer(task("t1", "i1", "w1", TaskStatus::Offered, 1_000));
        book.add_offer(task("t2", "i1", "w2", TaskStatus::Offered, 1_000));
        book.end("t1", TaskStatus::Withdrawn, None, 10);
        book.end("t2", TaskStatus::Resolved, None, 10);
        assert!(book.excluded("i1").is_empty());
        assert_eq!(book.outstanding(), 0);
    }

    #[test]
    fn accepting_an_offer_keeps_the_task_but_drops_its_deadline() {
        let mut book = Offers::default();
        book.add_offer(task("t1", "i1", "w1", TaskStatus::Offered, 1_000));
        let t = book.advance("t1", TaskStatus::Accepted, None, 20);
        assert_eq!(t.map(|t| t.status), Some(TaskStatus::Accepted));
        assert!(book.due(i64::MAX).is_empty());
        assert!(book.holds_task("w1"));
        assert!(!book.has_outstanding_offer("i1"));
        assert_eq!(book.len(), 1);
    }

    #[test]
    fn a_new_version_for_a_snapshot_keeps_status_version() {
        let mut book = Offers::default();
        book.add_offer(task("t1", "i1", "w1", TaskStatus::Offered, 1_000));
        book.add_offer(task("t2", "i2", "w2", TaskStatus::Offered, 1_000));
        let touched = book.touch_incident("i1", 7);
        assert_eq!(touched.len(), 1);
        assert_eq!((touched[0].version, touched[0].status_version), (2, 1));
        assert_eq!(book.get("t2").map(|t| t.version), Some(1));
        assert_eq!(book.outstanding(), 2);
    }

    #[test]
    fn loading_holds_open_tasks_and_excludes_those_who_failed() {
        let book = Offers::load([
            task("t1", "i1", "w1", TaskStatus::Rejected, 0),
            task("t2", "i1", "w2", TaskStatus::Offered, 900),
            task("t3", "i2", "w3", TaskStatus::Accepted, 100),
            task("t4", "i2", "w4", TaskStatus::Withdrawn, 100),
        ]);
        assert_eq!(book.len(), 2);
        assert_eq!(book.due(i64::MAX), vec!["t2".to_owned()]);
        assert!(book.excluded("i1").contains(&ident("w1")));
        assert!(book.excluded("i2").is_empty());
        assert_eq!(book.rival_offers("i1", "tX"), vec!["t2".to_owned()]);
        assert!(book.rival_offers("i1", "t2").is_empty());
    }

    #[test]
    fn exclusions_go_with_their_incident() {
        let mut book = Offers::default();
        book.add_offer(task("t1", "i1", "w1", TaskStatus::Offered, 1_000));
        book.end("t1", TaskStatus::Rejected, None, 10);
        book.forget_incident("i1");
        assert!(book.excluded("i1").is_empty());
    }
}
