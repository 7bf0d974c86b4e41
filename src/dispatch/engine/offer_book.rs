//! The open tasks with the two records that must follow them: the respond-by deadline of
//! every outstanding offer, and per incident the responders who already lost an offer for
//! it (rejected, or let it expire), who are not offered that incident again.
//!
//! Invariants, kept by every method here:
//! - a deadline `(respond_by, id)` exists exactly for each open task whose status is
//!   `offered`;
//! - an exclusion is recorded whenever a task ends `rejected` or `expired`, and is
//!   forgotten only with its incident;
//! - each open task is listed once under its incident and once under its responder, and
//!   nothing else is: the questions asked on every alert and every answer ("which tasks
//!   has this incident?", "is this responder busy?") cost the few tasks asked about, not
//!   a walk over every open task in the county.

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
    /// Incident id → ids of its open tasks.
    by_incident: HashMap<String, Vec<String>>,
    /// Responder id → ids of their open tasks.
    by_responder: HashMap<String, Vec<String>>,
}

/// Files `task_id` under `key`.
fn list(index: &mut HashMap<String, Vec<String>>, key: &str, task_id: &str) {
    index
        .entry(key.to_owned())
        .or_default()
        .push(task_id.to_owned());
}

/// Takes `task_id` from under `key`; a key left with nothing goes.
fn unlist(index: &mut HashMap<String, Vec<String>>, key: &str, task_id: &str) {
    if let Some(ids) = index.get_mut(key) {
        ids.retain(|id| id != task_id);
        if ids.is_empty() {
            index.remove(key);
        }
    }
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
        if let Some(old) = self.tasks.remove(&task.id) {
            // The same task held again (a reload's row): file it once, under its new keys.
            unlist(&mut self.by_incident, &old.incident_id, &old.id);
            unlist(&mut self.by_responder, &old.responder_id, &old.id);
        }
        list(&mut self.by_incident, &task.incident_id, &task.id);
        list(&mut self.by_responder, &task.responder_id, &task.id);
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
        unlist(&mut self.by_incident, &task.incident_id, task_id);
        unlist(&mut self.by_responder, &task.responder_id, task_id);
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
        let ids = self
            .by_incident
            .get(incident_id)
            .map_or(&[][..], Vec::as_slice);
        let mut touched = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(t) = self.tasks.get_mut(id) {
                t.version += 1;
                t.updated_at = now;
                touched.push(t.clone());
            }
        }
        touched
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
        self.of(&self.by_incident, incident_id)
            .map(|t| t.id.clone())
            .collect()
    }

    /// Ids of the open tasks of a responder.
    pub(super) fn of_responder(&self, responder_id: &str) -> Vec<String> {
        self.of(&self.by_responder, responder_id)
            .map(|t| t.id.clone())
            .collect()
    }

    /// Ids of the other outstanding offers for an incident than `task_id`.
    pub(super) fn rival_offers(&self, incident_id: &str, task_id: &str) -> Vec<String> {
        self.of(&self.by_incident, incident_id)
            .filter(|t| t.id != task_id && t.status == TaskStatus::Offered)
            .map(|t| t.id.clone())
            .collect()
    }

    /// The open tasks filed under `key` in `index`.
    fn of<'a>(
        &'a self,
        index: &'a HashMap<String, Vec<String>>,
        key: &str,
    ) -> impl Iterator<Item = &'a TaskRow> {
        index
            .get(key)
            .into_iter()
            .flatten()
            .filter_map(|id| self.tasks.get(id))
    }

    /// An offer for the incident waits for its answer.
    pub(super) fn has_outstanding_offer(&self, incident_id: &str) -> bool {
        self.of(&self.by_incident, incident_id)
            .any(|t| t.status == TaskStatus::Offered)
    }

    /// The responder holds an open task (an offer or accepted work): busy.
    pub(super) fn holds_task(&self, responder_id: &str) -> bool {
        self.by_responder.contains_key(responder_id)
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

    /// Every question the indexes answer, asked by walking all open tasks instead.
    fn agrees_with_a_walk(book: &Offers, incidents: &[String], responders: &[String]) {
        let sorted = |mut v: Vec<String>| {
            v.sort();
            v
        };
        let walk = |keep: &dyn Fn(&TaskRow) -> bool| {
            sorted(
                book.iter()
                    .filter(|t| keep(t))
                    .map(|t| t.id.clone())
                    .collect(),
            )
        };
        for i in incidents {
            assert_eq!(sorted(book.of_incident(i)), walk(&|t| &t.incident_id == i));
            let offered = |t: &TaskRow| &t.incident_id == i && t.status == TaskStatus::Offered;
            assert_eq!(book.has_outstanding_offer(i), !walk(&offered).is_empty());
            for rival in ["t0", "t7", "none"] {
                assert_eq!(
                    sorted(book.rival_offers(i, rival)),
                    walk(&|t| offered(t) && t.id != rival)
                );
            }
        }
        for r in responders {
            assert_eq!(
                sorted(book.of_responder(r)),
                walk(&|t| &t.responder_id == r)
            );
            assert_eq!(
                book.holds_task(r),
                !walk(&|t| &t.responder_id == r).is_empty()
            );
        }
        let touched: usize = incidents.iter().map(|i| book.of_incident(i).len()).sum();
        assert_eq!(
            touched,
            book.len(),
            "every open task is filed under its incident"
        );
    }

    #[test]
    fn the_lookups_by_incident_and_responder_agree_with_every_open_task() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(19);
        let incidents: Vec<String> = (0..6).map(|i| format!("i{i}")).collect();
        let responders: Vec<String> = (0..5).map(|r| format!("w{r}")).collect();
        let mut book = Offers::default();
        for step in 0..3_000 {
            let id = format!("t{}", rng.gen_range(0..40));
            let status = [
                TaskStatus::Offered,
                TaskStatus::Accepted,
                TaskStatus::Rejected,
                TaskStatus::Expired,
                TaskStatus::Resolved,
                TaskStatus::Withdrawn,
            ][rng.gen_range(0..6)];
            match rng.gen_range(0..5) {
                0 | 1 if book.get(&id).is_none() => book.add_offer(task(
                    &id,
                    &incidents[rng.gen_range(0..incidents.len())],
                    &responders[rng.gen_range(0..responders.len())],
                    TaskStatus::Offered,
                    step,
                )),
                2 if status.is_open() => {
                    book.advance(&id, status, None, step);
                }
                3 => {
                    book.touch_incident(&incidents[rng.gen_range(0..incidents.len())], step);
                }
                _ => {
                    book.end(&id, status, None, step);
                }
            }
            agrees_with_a_walk(&book, &incidents, &responders);
        }
        // A reload holds the stored rows again: each task stays filed once.
        let rows: Vec<TaskRow> = book.iter().cloned().collect();
        for t in rows {
            book.hold(t);
        }
        agrees_with_a_walk(&book, &incidents, &responders);
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
