//! Topic access control: which principal may publish to which topic and
//! subscribe to which filter.
//!
//! These are pure functions so that the whole policy can be read (and
//! tested) in one place. Every comparison is done on whole topic levels:
//! responder `w1` must never be granted `dispatch/w10/...` through a
//! string-prefix check. A principal id that is not a usable single topic
//! level (empty, or containing `/`, `+`, `#`, NUL) is denied everything
//! except as a superuser, because it could otherwise forge levels.

use super::topic::{valid_filter, valid_topic_name};
use super::Principal;

/// True if `id` can stand as exactly one literal topic level.
fn usable_id(id: &str) -> bool {
    !id.is_empty() && !id.contains(['/', '+', '#', '\0'])
}

/// True if `level` is a literal (non-wildcard, non-empty) level.
fn literal(level: &str) -> bool {
    !level.is_empty() && level != "+" && level != "#"
}

/// May `p` publish to topic name `topic`?
///
/// - Superuser: anything valid.
/// - Responder `r`: `dispatch/r/tasks/<task>/update`, `dispatch/r/tasks/<task>/extension`
///   (asking for more time), `dispatch/r/duty/set` (its own duty toggle), `owntracks/r/<device>`
///   and `owntracks/r/<device>/event` (OwnTracks puts the MQTT username,
///   which is the responder id, in the second level).
/// - Source `s`: `alerts/s`, and anything under `frigate/` or `gb28181/`
///   (those integrations choose their own topic layout).
pub fn can_publish(p: &Principal, topic: &str) -> bool {
    if !valid_topic_name(topic) {
        return false;
    }
    let levels: Vec<&str> = topic.split('/').collect();
    match p {
        Principal::Superuser(_) => true,
        Principal::Responder(r) => {
            usable_id(r)
                && match levels.as_slice() {
                    ["dispatch", who, "tasks", task, "update" | "extension"] => {
                        who == r && literal(task)
                    }
                    ["dispatch", who, "duty", "set"] => who == r,
                    ["owntracks", who, device] | ["owntracks", who, device, "event"] => {
                        who == r && literal(device)
                    }
                    _ => false,
                }
        }
        Principal::Source(s) => {
            usable_id(s)
                && match levels.as_slice() {
                    ["alerts", who] => who == s,
                    ["frigate", ..] | ["gb28181", ..] => true,
                    _ => false,
                }
        }
    }
}

/// May `p` subscribe to topic filter `filter`?
///
/// - Superuser: any valid filter.
/// - Responder `r`: filters under `dispatch/r/` (at least three levels, the
///   first two literal), and `owntracks/r/+/cmd` or `owntracks/r/<device>/cmd`.
/// - Source `s`: filters under `frigate/` or `gb28181/`, and `alerts/s`
///   or filters under `alerts/s/`.
///
/// A wildcard in the first two levels is never granted to non-superusers,
/// since it would reach other principals' topics.
pub fn can_subscribe(p: &Principal, filter: &str) -> bool {
    if !valid_filter(filter) {
        return false;
    }
    let levels: Vec<&str> = filter.split('/').collect();
    match p {
        Principal::Superuser(_) => true,
        Principal::Responder(r) => {
            usable_id(r)
                && match levels.as_slice() {
                    ["dispatch", who, _, ..] => who == r,
                    ["owntracks", who, device, "cmd"] => {
                        who == r && (*device == "+" || literal(device))
                    }
                    _ => false,
                }
        }
        Principal::Source(s) => {
            usable_id(s)
                && match levels.as_slice() {
                    ["frigate", _, ..] | ["gb28181", _, ..] => true,
                    ["alerts", who, ..] => who == s,
                    _ => false,
                }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn su() -> Principal {
        Principal::Superuser("dispatcher".into())
    }
    fn w1() -> Principal {
        Principal::Responder("w1".into())
    }
    fn cam() -> Principal {
        Principal::Source("cam".into())
    }

    #[test]
    fn publish_table() {
        let cases: &[(Principal, &str, bool)] = &[
            // superuser
            (su(), "anything/at/all", true),
            (su(), "dispatch/w2/tasks/t1", true),
            (su(), "$SYS/x", true),
            (su(), "a/+", false),
            (su(), "", false),
            // responder: own task updates
            (w1(), "dispatch/w1/tasks/t1/update", true),
            (w1(), "dispatch/w1/duty/set", true),
            (w1(), "dispatch/w1/tasks/t1/extension", true),
            (w1(), "dispatch/w2/tasks/t1/extension", false),
            (w1(), "dispatch/w10/tasks/t1/extension", false),
            (w1(), "dispatch/w1/tasks/+/extension", false),
            (w1(), "dispatch/w1/tasks/t1/extension/answer", false),
            (w1(), "dispatch/w2/duty/set", false),
            (w1(), "dispatch/w10/duty/set", false),
            (w1(), "dispatch/w1/duty", false),
            (w1(), "dispatch/w1/duty/set/x", false),
            (w1(), "dispatch/w1/tasks/t-99/update", true),
            (w1(), "dispatch/w2/tasks/t1/update", false),
            (w1(), "dispatch/w10/tasks/t1/update", false),
            (w1(), "dispatch/w/tasks/t1/update", false),
            (w1(), "dispatch/w1/tasks/t1", false),
            (w1(), "dispatch/w1/tasks/t1/update/x", false),
            (w1(), "dispatch/w1/tasks//update", false),
            (w1(), "dispatch/w1/tasks/a/b/update", false),
            (w1(), "dispatch/w1/tasks/+/update", false),
            (w1(), "dispatch/w1/tasks/#", false),
            (w1(), "dispatch/w1", false),
            (w1(), "dispatch/w1/tasks", false),
            // responder: owntracks
            (w1(), "owntracks/w1/phone", true),
            (w1(), "owntracks/w1/phone/event", true),
            (w1(), "owntracks/w1/phone/cmd", false),
            (w1(), "owntracks/w1", false),
            (w1(), "owntracks/w1/", false),
            (w1(), "owntracks/w2/phone", false),
            (w1(), "owntracks/w10/phone", false),
            (w1(), "owntracks/w1/phone/event/x", false),
            // responder: elsewhere
            (w1(), "alerts/w1", false),
            (w1(), "frigate/events", false),
            // source
            (cam(), "alerts/cam", true),
            (cam(), "alerts/other", false),
            (cam(), "alerts/cam/x", false),
            (cam(), "alerts/came", false),
            (cam(), "frigate/events", true),
            (cam(), "frigate", true),
            (cam(), "gb28181/34020000001320000001/alarm", true),
            (cam(), "dispatch/w1/tasks/t1/update", false),
            (cam(), "owntracks/cam/phone", false),
            (cam(), "frigatex/events", false),
        ];
        for (p, topic, want) in cases {
            assert_eq!(can_publish(p, topic), *want, "{p:?} publish {topic}");
        }
    }

    #[test]
    fn subscribe_table() {
        let cases: &[(Principal, &str, bool)] = &[
            (su(), "#", true),
            (su(), "dispatch/+/tasks/#", true),
            (su(), "a/#/b", false),
            // responder: own dispatch tree
            (w1(), "dispatch/w1/tasks/+", true),
            (w1(), "dispatch/w1/duty", true),
            (w1(), "dispatch/w2/duty", false),
            (w1(), "dispatch/w1/tasks/#", true),
            (w1(), "dispatch/w1/tasks/+/update/+", true),
            (w1(), "dispatch/w1/#", true),
            (w1(), "dispatch/w1/+", true),
            (w1(), "dispatch/w1", false),
            (w1(), "dispatch/w2/tasks/+", false),
            (w1(), "dispatch/w10/tasks/+", false),
            (w1(), "dispatch/+/tasks/#", false),
            (w1(), "dispatch/#", false),
            (w1(), "+/w1/tasks/#", false),
            (w1(), "#", false),
            (w1(), "+", false),
            (w1(), "dispatch/w1/tasks#", false),
            // responder: owntracks commands
            (w1(), "owntracks/w1/+/cmd", true),
            (w1(), "owntracks/w1/phone/cmd", true),
            (w1(), "owntracks/w1/#", false),
            (w1(), "owntracks/w1/+", false),
            (w1(), "owntracks/w1/phone", false),
            (w1(), "owntracks/+/+", false),
            (w1(), "owntracks/+/+/cmd", false),
            (w1(), "owntracks/w2/+/cmd", false),
            (w1(), "owntracks/w1/#/cmd", false),
            (w1(), "owntracks/w1/+/cmd/x", false),
            // source
            (cam(), "frigate/#", true),
            (cam(), "frigate/events", true),
            (cam(), "gb28181/+/alarm", true),
            (cam(), "frigate", false),
            (cam(), "alerts/cam/#", true),
            (cam(), "alerts/cam", true),
            (cam(), "alerts/other/#", false),
            (cam(), "alerts/+/#", false),
            (cam(), "alerts/#", false),
            (cam(), "#", false),
            (cam(), "dispatch/cam/#", false),
        ];
        for (p, filter, want) in cases {
            assert_eq!(can_subscribe(p, filter), *want, "{p:?} subscribe {filter}");
        }
    }

    #[test]
    fn unusable_ids_get_nothing() {
        for id in ["", "a/b", "+", "#", "w\0"] {
            let r = Principal::Responder(id.into());
            let s = Principal::Source(id.into());
            assert!(!can_publish(&r, &format!("dispatch/{id}/tasks/t/update")));
            assert!(!can_publish(&r, &format!("owntracks/{id}/phone")));
            assert!(!can_subscribe(&r, &format!("dispatch/{id}/#")));
            assert!(!can_publish(&s, &format!("alerts/{id}")));
            assert!(!can_subscribe(&s, &format!("alerts/{id}/#")));
        }
    }
}
