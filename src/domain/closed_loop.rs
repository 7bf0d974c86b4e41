//! The closed loop after the work (GB/T 30428: 处理反馈 → 核查结案): how a resolution is
//! verified, what a task is for, and the rules of extensions (延期) and suspensions (缓办)
//! that move an incident's deadline. Pure rules, no I/O.

use serde::{Deserialize, Serialize};

use super::state::{TaskStatus, WorkerStatus};
use super::{name_enum, Invalid};

name_enum! {
    /// Who checks a resolution before the incident closes.
    VerificationMode ("a verification mode") {
        /// An operator verifies it (or sends it back) in the console.
        Operator = "operator",
        /// An on-duty responder with the skill `inspector` checks it on site.
        Inspector = "inspector",
        /// Nobody: the incident closes when the worker resolves it.
        None = "none",
    }
}

name_enum! {
    /// What a task asks of its responder.
    TaskPurpose ("a task purpose") {
        /// Handle the incident (the usual offer).
        Respond = "respond",
        /// Do the work again: the verification found it lacking (返工).
        Rework = "rework",
        /// Check someone else's resolution on site.
        Verify = "verify",
    }
}

/// Checks a responder's answer `status` (with its `note`) to a task of `purpose` that is
/// now `from`; returns the status the task goes to, or why the answer is refused.
///
/// A verification task is accepted or rejected like any offer, and then ends with a
/// verdict instead of the worker's steps: `verified`, or `rework` with a reason (the
/// note). The verdicts answer nothing but a verification task.
pub fn check_answer(
    purpose: TaskPurpose,
    from: TaskStatus,
    status: WorkerStatus,
    note: Option<&str>,
) -> Result<TaskStatus, String> {
    let to = TaskStatus::from(status);
    let verdict = matches!(status, WorkerStatus::Verified | WorkerStatus::Rework);
    let allowed = match (purpose, verdict) {
        (TaskPurpose::Verify, true) => matches!(from, TaskStatus::Offered | TaskStatus::Accepted),
        (TaskPurpose::Verify, false) => {
            matches!(status, WorkerStatus::Accepted | WorkerStatus::Rejected)
                && from.worker_may_set(to)
        }
        (_, true) => {
            return Err(format!(
                "only a verification task is answered {}",
                status.as_str()
            ))
        }
        (_, false) => from.worker_may_set(to),
    };
    if !allowed {
        let what = if purpose == TaskPurpose::Verify {
            "a verification task"
        } else {
            "a task"
        };
        return Err(format!(
            "{what} cannot go from {from} to {}",
            status.as_str()
        ));
    }
    if status == WorkerStatus::Rework && note.is_none_or(|n| n.trim().is_empty()) {
        return Err("a rework needs a reason (the note)".into());
    }
    Ok(to)
}

/// Most minutes one extension may ask for (a week).
pub const MAX_EXTENSION_MINUTES: u32 = 10_080;

/// Longest reason of an extension request, in characters.
pub const MAX_EXTENSION_REASON: usize = 500;

/// A worker's request for more time, as published on
/// `dispatch/<rid>/tasks/<tid>/extension`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtensionAsk {
    /// How many more minutes (1..=[`MAX_EXTENSION_MINUTES`]).
    pub minutes: u32,
    /// Why (required, at most [`MAX_EXTENSION_REASON`] characters).
    pub reason: String,
}

impl ExtensionAsk {
    /// The request if its minutes and reason are within bounds (the reason trimmed).
    pub fn checked(self) -> Result<ExtensionAsk, Invalid> {
        check_minutes(self.minutes)?;
        let reason = self.reason.trim().to_owned();
        if reason.is_empty() {
            return Err(Invalid::new("reason", "required"));
        }
        if reason.chars().count() > MAX_EXTENSION_REASON {
            return Err(Invalid::new(
                "reason",
                format!("at most {MAX_EXTENSION_REASON} characters"),
            ));
        }
        Ok(ExtensionAsk {
            minutes: self.minutes,
            reason,
        })
    }
}

/// Minutes of an extension are 1..=[`MAX_EXTENSION_MINUTES`].
pub fn check_minutes(minutes: u32) -> Result<u32, Invalid> {
    if (1..=MAX_EXTENSION_MINUTES).contains(&minutes) {
        Ok(minutes)
    } else {
        Err(Invalid::new(
            "minutes",
            format!("must be 1 to {MAX_EXTENSION_MINUTES}"),
        ))
    }
}

/// The one pending extension request an incident holds (stored as JSON on its row).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtensionRequest {
    /// The task it was asked under.
    pub task_id: String,
    /// Who asked.
    pub responder_id: String,
    /// Minutes asked for.
    pub minutes: u32,
    /// Why.
    pub reason: String,
    /// When, Unix ms.
    pub requested_at: i64,
}

/// The deadline after an extension of `minutes` (no deadline stays none).
pub fn extended(due_at: Option<i64>, minutes: u32) -> Option<i64> {
    due_at.map(|d| d.saturating_add(i64::from(minutes) * 60_000))
}

/// The deadline after a suspension from `suspended_at` to `now`: later by the time
/// suspended, so a suspended incident's clock stands still.
pub fn resumed(due_at: Option<i64>, suspended_at: Option<i64>, now: i64) -> Option<i64> {
    match (due_at, suspended_at) {
        (Some(d), Some(s)) => Some(d.saturating_add((now - s).max(0))),
        (d, _) => d,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ask(minutes: u32, reason: &str) -> Result<ExtensionAsk, Invalid> {
        ExtensionAsk {
            minutes,
            reason: reason.into(),
        }
        .checked()
    }

    #[test]
    fn an_extension_asks_one_minute_to_a_week_with_a_reason() {
        assert!(ask(1, "材料未到").is_ok());
        assert_eq!(ask(10_080, "  x ").map(|a| a.reason), Ok("x".into()));
        assert_eq!(ask(0, "x").map_err(|e| e.field), Err("minutes".into()));
        assert_eq!(ask(10_081, "x").map_err(|e| e.field), Err("minutes".into()));
        assert_eq!(ask(30, "  ").map_err(|e| e.field), Err("reason".into()));
        let long = "字".repeat(MAX_EXTENSION_REASON + 1);
        assert_eq!(ask(30, &long).map_err(|e| e.field), Err("reason".into()));
        assert!(ask(30, &"字".repeat(MAX_EXTENSION_REASON)).is_ok());
    }

    #[test]
    fn an_extension_moves_the_deadline_and_a_suspension_pauses_it() {
        assert_eq!(extended(Some(1_000), 2), Some(121_000));
        assert_eq!(extended(None, 2), None);
        assert_eq!(resumed(Some(1_000), Some(5_000), 65_000), Some(61_000));
        assert_eq!(resumed(None, Some(5_000), 65_000), None);
        assert_eq!(resumed(Some(1_000), None, 65_000), Some(1_000));
        // A clock that went back never moves the deadline earlier.
        assert_eq!(resumed(Some(1_000), Some(5_000), 4_000), Some(1_000));
    }

    #[test]
    fn a_verification_task_is_taken_or_declined_then_answered_with_a_verdict() {
        use TaskStatus::*;
        use WorkerStatus as W;
        let verify = |from, status, note| check_answer(TaskPurpose::Verify, from, status, note);
        assert_eq!(verify(Offered, W::Accepted, None), Ok(Accepted));
        assert_eq!(verify(Offered, W::Rejected, None), Ok(Rejected));
        assert_eq!(verify(Offered, W::Verified, None), Ok(Resolved));
        assert_eq!(verify(Accepted, W::Verified, Some("ok")), Ok(Resolved));
        assert_eq!(verify(Accepted, W::Rework, Some("脏")), Ok(Resolved));
        // A rework without a reason is refused, and so is a worker's step.
        let no_reason = verify(Accepted, W::Rework, Some("  ")).unwrap_err();
        assert!(no_reason.contains("needs a reason"), "{no_reason}");
        assert!(verify(Offered, W::Rework, None).is_err());
        for step in [W::EnRoute, W::OnScene, W::Resolved] {
            assert!(verify(Accepted, step, None).is_err(), "{step:?}");
        }
        assert!(verify(Accepted, W::Rejected, None).is_err());
    }

    #[test]
    fn only_a_verification_task_takes_a_verdict() {
        for purpose in [TaskPurpose::Respond, TaskPurpose::Rework] {
            let r = check_answer(purpose, TaskStatus::Accepted, WorkerStatus::Verified, None);
            assert!(r.is_err_and(|e| e.contains("only a verification task")));
            let r = check_answer(purpose, TaskStatus::OnScene, WorkerStatus::Resolved, None);
            assert_eq!(r, Ok(TaskStatus::Resolved));
        }
    }

    #[test]
    fn modes_and_purposes_read_their_names() {
        assert_eq!(
            "none".parse::<VerificationMode>(),
            Ok(VerificationMode::None)
        );
        assert!("maybe".parse::<VerificationMode>().is_err());
        assert_eq!(TaskPurpose::Rework.as_str(), "rework");
    }
}
