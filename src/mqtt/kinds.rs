//! What a message of the dispatcher's own connection is, from its topic: the `kind` label
//! of `griddispatch_mqtt_messages_total`. A fixed set of names, so that no topic level (a
//! responder or task id) ever becomes a label value.

/// Every kind [`inbound`] names.
pub const INBOUND: &[&str] = &[
    "alert",
    "frigate_event",
    "frigate_status",
    "frigate_available",
    "gb28181_alarm",
    "location",
    "task_update",
    "extension_request",
    "duty_set",
    "retained_task",
    "other",
];

/// Every kind [`outbound`] names.
pub const OUTBOUND: &[&str] = &[
    "task",
    "task_cleared",
    "task_closed",
    "update_answer",
    "extension_answer",
    "duty",
    "duty_cleared",
    "other",
];

/// The kind of a received message (the topics of `ingest::SUBSCRIPTIONS`, and the retained
/// task messages the inbox audit reads).
pub fn inbound(topic: &str) -> &'static str {
    let levels: Vec<&str> = topic.split('/').collect();
    match levels.as_slice() {
        ["alerts", _] => "alert",
        ["frigate", "events"] => "frigate_event",
        ["frigate", "available"] => "frigate_available",
        ["frigate", _, "status", "detect"] => "frigate_status",
        ["gb28181", "alarm"] => "gb28181_alarm",
        ["owntracks", _, _] => "location",
        ["dispatch", _, "tasks", _, "update"] => "task_update",
        ["dispatch", _, "tasks", _, "extension"] => "extension_request",
        ["dispatch", _, "duty", "set"] => "duty_set",
        ["dispatch", _, "tasks", _] => "retained_task",
        _ => "other",
    }
}

/// The kind of a message the dispatcher publishes (`dispatch::messages`); an empty payload
/// clears a retained message.
pub fn outbound(topic: &str, empty: bool) -> &'static str {
    let levels: Vec<&str> = topic.split('/').collect();
    match (levels.as_slice(), empty) {
        (["dispatch", _, "tasks", _], false) => "task",
        (["dispatch", _, "tasks", _], true) => "task_cleared",
        (["dispatch", _, "tasks", _, "closed"], _) => "task_closed",
        (["dispatch", _, "tasks", _, "update", _], _) => "update_answer",
        (["dispatch", _, "tasks", _, "extension", "answer"], _) => "extension_answer",
        (["dispatch", _, "duty"], false) => "duty",
        (["dispatch", _, "duty"], true) => "duty_cleared",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_inbox_audits_retained_tasks_are_a_kind_and_unknown_topics_other() {
        assert_eq!(inbound("dispatch/w1/tasks/t1"), "retained_task");
        assert_eq!(inbound("dispatch/w1/tasks/t1/update/extra"), "other");
    }

    #[test]
    fn published_topics_are_named_by_what_they_carry() {
        // The topics of `dispatch::messages`.
        assert_eq!(outbound("dispatch/w1/tasks/t1", false), "task");
        assert_eq!(outbound("dispatch/w1/tasks/t1", true), "task_cleared");
        assert_eq!(
            outbound("dispatch/w1/tasks/t1/closed", false),
            "task_closed"
        );
        assert_eq!(
            outbound("dispatch/w1/tasks/t1/update/accepted", false),
            "update_answer"
        );
        assert_eq!(
            outbound("dispatch/w1/tasks/t1/extension/answer", false),
            "extension_answer"
        );
        assert_eq!(outbound("dispatch/w1/duty", false), "duty");
        assert_eq!(outbound("dispatch/w1/duty", true), "duty_cleared");
        assert_eq!(outbound("alerts/s1", false), "other");
        for kind in [
            "task",
            "task_cleared",
            "task_closed",
            "update_answer",
            "duty",
        ] {
            assert!(OUTBOUND.contains(&kind));
        }
    }
}
