//! The incident and task state machines. Every change goes through these checks, so an
//! illegal transition is refused in one place whoever asks for it.

use serde::{Deserialize, Serialize};

use super::{name_enum, Invalid};

name_enum! {
    /// Where an incident stands.
    IncidentState ("an incident state") {
        /// Just opened; no offer yet.
        New = "new",
        /// Offers are out; nobody has accepted yet.
        Dispatching = "dispatching",
        /// A responder accepted.
        Assigned = "assigned",
        /// The responder is on the way.
        EnRoute = "en_route",
        /// The responder arrived.
        OnScene = "on_scene",
        /// The responder reports it handled; waits for its verification (an operator's
        /// verify or rework, or an inspector) unless none is required.
        Resolved = "resolved",
        /// Finished.
        Closed = "closed",
        /// Automatic dispatch gave up; operators must act.
        Escalated = "escalated",
        /// Called off.
        Cancelled = "cancelled",
        /// Put on hold by an operator (缓办): no offers, its deadline paused, until resumed.
        Suspended = "suspended",
    }
}

impl IncidentState {
    /// Closed and cancelled incidents never change again.
    pub fn is_terminal(self) -> bool {
        matches!(self, IncidentState::Closed | IncidentState::Cancelled)
    }

    /// Open incidents are the ones alerts can still join and operators still watch.
    pub fn is_open(self) -> bool {
        !self.is_terminal()
    }

    /// Whether an incident in this state, due at `due_at` (Unix ms; `None` = no deadline),
    /// is overdue at `now`: still open (a resolved one awaits closing, so it counts) and
    /// past its due time.
    pub fn is_overdue(self, due_at: Option<i64>, now: i64) -> bool {
        self.is_open() && due_at.is_some_and(|due| now > due)
    }

    /// Whether `self → to` is allowed.
    pub fn can_become(self, to: IncidentState) -> bool {
        use IncidentState::*;
        if self.is_terminal() || self == to {
            return false;
        }
        match to {
            New => false,
            // Offers start from a new incident, again after an escalation (an operator
            // assigns), after a reassignment takes the task away, after a resolution is
            // sent back for rework (返工), or when a suspended incident resumes.
            Dispatching => matches!(
                self,
                New | Escalated | Assigned | EnRoute | OnScene | Resolved | Suspended
            ),
            Assigned => matches!(self, Dispatching),
            EnRoute => matches!(self, Assigned),
            OnScene => matches!(self, Assigned | EnRoute),
            Resolved => matches!(self, Assigned | EnRoute | OnScene),
            Escalated => matches!(
                self,
                New | Dispatching | Assigned | EnRoute | OnScene | Suspended
            ),
            // Any open incident not yet resolved may be put on hold.
            Suspended => matches!(
                self,
                New | Dispatching | Assigned | EnRoute | OnScene | Escalated
            ),
            Closed | Cancelled => true,
        }
    }

    /// `Ok(to)` when allowed, else an error naming both states.
    pub fn transition(self, to: IncidentState) -> Result<IncidentState, Invalid> {
        if self.can_become(to) {
            Ok(to)
        } else {
            Err(Invalid::new(
                "state",
                format!("an incident cannot go from {self} to {to}"),
            ))
        }
    }
}

name_enum! {
    /// Where one task (one offer to one responder) stands.
    TaskStatus ("a task status") {
        /// Sent to the responder; waiting for an answer.
        Offered = "offered",
        /// The responder took it.
        Accepted = "accepted",
        /// On the way.
        EnRoute = "en_route",
        /// Arrived.
        OnScene = "on_scene",
        /// Done, by the responder's word.
        Resolved = "resolved",
        /// The responder declined.
        Rejected = "rejected",
        /// Nobody answered in time.
        Expired = "expired",
        /// Taken back by the dispatcher or an operator (another responder won, reassigned,
        /// incident cancelled or closed).
        Withdrawn = "withdrawn",
    }
}

impl TaskStatus {
    /// The task still sits in the responder's inbox.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            TaskStatus::Offered | TaskStatus::Accepted | TaskStatus::EnRoute | TaskStatus::OnScene
        )
    }

    /// The responder is committed to this task (it makes them busy, like an offer does).
    pub fn is_active(self) -> bool {
        matches!(
            self,
            TaskStatus::Accepted | TaskStatus::EnRoute | TaskStatus::OnScene
        )
    }

    /// Whether a responder may move the task from `self` to `to`.
    pub fn worker_may_set(self, to: TaskStatus) -> bool {
        use TaskStatus::*;
        matches!(
            (self, to),
            (Offered, Accepted | Rejected)
                | (Accepted, EnRoute | OnScene | Resolved)
                | (EnRoute, OnScene | Resolved)
                | (OnScene, Resolved)
        )
    }

    /// The incident state a task status carries over to, for the statuses that move it.
    pub fn incident_state(self) -> Option<IncidentState> {
        match self {
            TaskStatus::Accepted => Some(IncidentState::Assigned),
            TaskStatus::EnRoute => Some(IncidentState::EnRoute),
            TaskStatus::OnScene => Some(IncidentState::OnScene),
            TaskStatus::Resolved => Some(IncidentState::Resolved),
            _ => None,
        }
    }
}

/// A status a worker may send in a task update.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkerStatus {
    /// Takes the offer.
    Accepted,
    /// Declines the offer.
    Rejected,
    /// On the way.
    EnRoute,
    /// Arrived.
    OnScene,
    /// Done.
    Resolved,
    /// On a verification task: the work was done as reported.
    Verified,
    /// On a verification task: the work must be done again (the note says why).
    Rework,
}

impl WorkerStatus {
    /// The name used in the update message.
    pub fn as_str(self) -> &'static str {
        match self {
            WorkerStatus::Accepted => "accepted",
            WorkerStatus::Rejected => "rejected",
            WorkerStatus::EnRoute => "en_route",
            WorkerStatus::OnScene => "on_scene",
            WorkerStatus::Resolved => "resolved",
            WorkerStatus::Verified => "verified",
            WorkerStatus::Rework => "rework",
        }
    }
}

impl From<WorkerStatus> for TaskStatus {
    fn from(s: WorkerStatus) -> TaskStatus {
        match s {
            WorkerStatus::Accepted => TaskStatus::Accepted,
            WorkerStatus::Rejected => TaskStatus::Rejected,
            WorkerStatus::EnRoute => TaskStatus::EnRoute,
            WorkerStatus::OnScene => TaskStatus::OnScene,
            WorkerStatus::Resolved => TaskStatus::Resolved,
            // A verdict finishes the verification task: its work, the check, is done.
            WorkerStatus::Verified | WorkerStatus::Rework => TaskStatus::Resolved,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_open_incident_past_its_due_time_is_overdue() {
        use IncidentState::*;
        for open in [
            New,
            Dispatching,
            Escalated,
            Assigned,
            EnRoute,
            OnScene,
            Resolved,
        ] {
            assert!(!open.is_overdue(Some(100), 99), "{open}");
            assert!(
                !open.is_overdue(Some(100), 100),
                "{open}: due, not yet past"
            );
            assert!(open.is_overdue(Some(100), 101), "{open}");
            assert!(!open.is_overdue(None, i64::MAX), "{open}: no deadline");
        }
        for ended in [Closed, Cancelled] {
            assert!(!ended.is_overdue(Some(100), 1_000), "{ended}");
        }
    }

    #[test]
    fn incident_happy_path_and_terminal_states() {
        use IncidentState::*;
        let path = [
            New,
            Dispatching,
            Assigned,
            EnRoute,
            OnScene,
            Resolved,
            Closed,
        ];
        for w in path.windows(2) {
            assert!(w[0].can_become(w[1]), "{} -> {}", w[0], w[1]);
        }
        assert!(!Closed.can_become(Dispatching));
        assert!(!Cancelled.can_become(Closed));
        assert!(!New.can_become(Resolved));
        assert!(Escalated.can_become(Dispatching));
        assert!(Dispatching.transition(Resolved).is_err());
    }

    #[test]
    fn a_resolution_is_verified_or_sent_back_for_rework() {
        use IncidentState::*;
        assert!(Resolved.can_become(Closed));
        assert!(Resolved.can_become(Dispatching));
        assert!(!Resolved.can_become(Assigned));
        assert!(!Resolved.can_become(Escalated));
        assert!(!Closed.can_become(Dispatching));
    }

    #[test]
    fn open_work_may_be_suspended_and_resumed_but_not_a_resolution() {
        use IncidentState::*;
        for from in [New, Dispatching, Assigned, EnRoute, OnScene, Escalated] {
            assert!(from.can_become(Suspended), "{from} -> suspended");
        }
        for from in [Resolved, Closed, Cancelled, Suspended] {
            assert!(!from.can_become(Suspended), "{from} -> suspended");
        }
        assert!(Suspended.can_become(Dispatching));
        assert!(Suspended.can_become(Escalated));
        assert!(Suspended.can_become(Closed));
        assert!(Suspended.can_become(Cancelled));
        for to in [New, Assigned, EnRoute, OnScene, Resolved] {
            assert!(!Suspended.can_become(to), "suspended -> {to}");
        }
    }

    #[test]
    fn worker_transitions_only_go_forward() {
        use TaskStatus::*;
        assert!(Offered.worker_may_set(Accepted));
        assert!(Offered.worker_may_set(Rejected));
        assert!(!Offered.worker_may_set(Resolved));
        assert!(!Accepted.worker_may_set(Rejected));
        assert!(!Resolved.worker_may_set(EnRoute));
        assert!(!Withdrawn.worker_may_set(Accepted));
        assert!(!Expired.worker_may_set(Accepted));
    }
}
