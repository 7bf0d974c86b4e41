//! What a timeline line records, as a code with parameters. The console and the field app
//! word each code in the reader's language; the English wording ([`fmt::Display`]) is kept
//! beside it as the line's `note` for readers that know no codes (CSV, older pages, logs).
//!
//! Identifiers (responders, alerts, cameras) travel as identifiers, so a page can show a
//! responder's name; words a person typed (a reason, a note) travel as typed and are never
//! translated.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::UnknownName;

/// One timeline event. In JSON: `{"code": "offered", "responders": ["w1", "w2"]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum Event {
    /// The alert that opened the incident (its id at its source).
    AlertOpened {
        /// The alert's id at its source.
        alert: String,
    },
    /// A further alert joined the incident.
    AlertLinked {
        /// The alert's id at its source.
        alert: String,
    },
    /// A camera snapshot was stored.
    Snapshot {
        /// Its number within the incident (1, 2, …).
        n: i64,
        /// The camera.
        camera: String,
        /// Where it came from (`frigate`, `onvif`, `rtsp`, …).
        source: String,
    },
    /// A camera snapshot could not be taken.
    SnapshotFailed {
        /// The camera.
        camera: String,
        /// Why, as the camera or the fetch said.
        reason: String,
    },
    /// Offers went out.
    Offered {
        /// The responders offered to.
        responders: Vec<String>,
    },
    /// An operator chose the responder.
    Assigned {
        /// The responder offered to.
        responder: String,
        /// The operator's words.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    /// A responder took the incident.
    Accepted {
        /// Who.
        responder: String,
    },
    /// A responder turned the offer down.
    Rejected {
        /// Who.
        responder: String,
        /// The responder's words.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    /// Nobody accepted within the most offers an incident may have.
    NoAcceptance {
        /// How many offers were made.
        offers: u32,
    },
    /// Nobody on duty could be offered the incident.
    NoResponder,
    /// The responder an operator chose did not take it.
    ChosenDeclined,
    /// Closed as soon as it was resolved: its kind needs no verification.
    ClosedUnverified {
        /// The incident's kind.
        kind: String,
    },
    /// Verification by an inspector was asked for, but none could be offered it; an
    /// operator verifies.
    NoInspector,
    /// The verification was offered to an inspector.
    InspectionOffered {
        /// The inspector.
        responder: String,
    },
    /// The inspector took the verification and is going to look.
    InspectionAccepted {
        /// The inspector.
        responder: String,
    },
    /// The resolution was checked and found good (核查).
    Verified {
        /// The verifier's words.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    /// The resolution was found lacking and sent back (返工).
    Rework {
        /// Why.
        reason: String,
    },
    /// The rework was offered to the responder who resolved it.
    ReworkOffered {
        /// Who.
        responder: String,
    },
    /// Put on hold (缓办).
    Suspended {
        /// The operator's words.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    /// Taken off hold.
    Resumed {
        /// The operator's words.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    /// A worker asked for more time (延期).
    ExtensionAsked {
        /// Who.
        responder: String,
        /// How many more minutes.
        minutes: u32,
        /// Why.
        reason: String,
    },
    /// The request for more time was granted.
    ExtensionGranted {
        /// Who asked.
        responder: String,
        /// Minutes granted.
        minutes: u32,
        /// The operator's words.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    /// The request for more time was refused.
    ExtensionRefused {
        /// Who asked.
        responder: String,
        /// The operator's words.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    /// Words a person gave with a change (a worker's note on the way or at the scene, an
    /// operator's note on closing).
    Note {
        /// The words, as typed.
        text: String,
    },
}

impl Event {
    /// The person's words as an event, if there are any.
    pub fn words(text: Option<String>) -> Option<Event> {
        text.filter(|t| !t.trim().is_empty())
            .map(|text| Event::Note { text })
    }

    /// The event's code (`offered`, `verified`, …), as in its JSON.
    pub fn code(&self) -> &'static str {
        match self {
            Event::AlertOpened { .. } => "alert_opened",
            Event::AlertLinked { .. } => "alert_linked",
            Event::Snapshot { .. } => "snapshot",
            Event::SnapshotFailed { .. } => "snapshot_failed",
            Event::Offered { .. } => "offered",
            Event::Assigned { .. } => "assigned",
            Event::Accepted { .. } => "accepted",
            Event::Rejected { .. } => "rejected",
            Event::NoAcceptance { .. } => "no_acceptance",
            Event::NoResponder => "no_responder",
            Event::ChosenDeclined => "chosen_declined",
            Event::ClosedUnverified { .. } => "closed_unverified",
            Event::NoInspector => "no_inspector",
            Event::InspectionOffered { .. } => "inspection_offered",
            Event::InspectionAccepted { .. } => "inspection_accepted",
            Event::Verified { .. } => "verified",
            Event::Rework { .. } => "rework",
            Event::ReworkOffered { .. } => "rework_offered",
            Event::Suspended { .. } => "suspended",
            Event::Resumed { .. } => "resumed",
            Event::ExtensionAsked { .. } => "extension_asked",
            Event::ExtensionGranted { .. } => "extension_granted",
            Event::ExtensionRefused { .. } => "extension_refused",
            Event::Note { .. } => "note",
        }
    }

    /// Reads a stored event (its JSON); anything else is named in the error.
    pub fn parse(json: &str) -> Result<Event, UnknownName> {
        serde_json::from_str(json).map_err(|_| UnknownName {
            what: "a timeline event",
            value: json.chars().take(200).collect(),
        })
    }

    /// The event as stored (its JSON).
    pub fn to_json(&self) -> String {
        serde_json::to_value(self)
            .map(|v| v.to_string())
            .unwrap_or_default()
    }
}

impl TryFrom<String> for Event {
    type Error = UnknownName;
    fn try_from(json: String) -> Result<Event, UnknownName> {
        Event::parse(&json)
    }
}

/// `text`, then `: words` when there are any.
fn then_words(f: &mut fmt::Formatter<'_>, text: &str, words: Option<&str>) -> fmt::Result {
    match words {
        Some(w) if !w.trim().is_empty() => write!(f, "{text}: {w}"),
        _ => f.write_str(text),
    }
}

/// The English line, as the timeline's `note` has always read.
impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::AlertOpened { alert } => write!(f, "alert {alert}"),
            Event::AlertLinked { alert } => write!(f, "alert {alert} linked"),
            Event::Snapshot { n, camera, source } => {
                write!(f, "snapshot {n} from {camera} ({source})")
            }
            Event::SnapshotFailed { camera, reason } => {
                write!(f, "snapshot from {camera} failed: {reason}")
            }
            Event::Offered { responders } => write!(f, "offered to {}", responders.join(", ")),
            Event::Assigned { responder, note } => {
                then_words(f, &format!("assigned to {responder}"), note.as_deref())
            }
            Event::Accepted { responder } => write!(f, "{responder} accepted"),
            Event::Rejected { responder, note } => {
                then_words(f, &format!("{responder} rejected"), note.as_deref())
            }
            Event::NoAcceptance { offers } => write!(f, "no acceptance after {offers} offers"),
            Event::NoResponder => f.write_str("no available responder"),
            Event::ChosenDeclined => {
                f.write_str("the responder chosen by an operator did not take it")
            }
            Event::ClosedUnverified { kind } => {
                write!(f, "closed at once: {kind} incidents need no verification")
            }
            Event::NoInspector => f.write_str("no inspector available; an operator verifies"),
            Event::InspectionOffered { responder } => {
                write!(f, "verification offered to {responder}")
            }
            Event::InspectionAccepted { responder } => {
                write!(f, "{responder} accepted the verification")
            }
            Event::Verified { note } => then_words(f, "verified", note.as_deref()),
            Event::Rework { reason } => write!(f, "sent back for rework: {reason}"),
            Event::ReworkOffered { responder } => {
                write!(f, "rework offered to {responder}, who resolved it")
            }
            Event::Suspended { note } => then_words(f, "suspended", note.as_deref()),
            Event::Resumed { note } => then_words(f, "resumed", note.as_deref()),
            Event::ExtensionAsked {
                responder,
                minutes,
                reason,
            } => write!(f, "{responder} asks for {minutes} more minutes: {reason}"),
            Event::ExtensionGranted {
                responder,
                minutes,
                note,
            } => then_words(
                f,
                &format!("extension of {minutes} min for {responder} approved"),
                note.as_deref(),
            ),
            Event::ExtensionRefused { responder, note } => then_words(
                f,
                &format!("extension for {responder} refused"),
                note.as_deref(),
            ),
            Event::Note { text } => f.write_str(text),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_travels_as_its_code_and_parameters() {
        let e = Event::Offered {
            responders: vec!["w1".into(), "w2".into()],
        };
        assert_eq!(
            e.to_json(),
            r#"{"code":"offered","responders":["w1","w2"]}"#
        );
        assert_eq!(Event::parse(&e.to_json()).unwrap(), e);
        assert_eq!(e.to_string(), "offered to w1, w2");
        let v = Event::Verified { note: None };
        assert_eq!(v.to_json(), r#"{"code":"verified"}"#);
        assert_eq!(v.code(), "verified");
    }

    #[test]
    fn every_code_is_the_one_its_json_carries() {
        let all = [
            Event::AlertOpened { alert: "a".into() },
            Event::AlertLinked { alert: "a".into() },
            Event::Snapshot {
                n: 1,
                camera: "c".into(),
                source: "frigate".into(),
            },
            Event::SnapshotFailed {
                camera: "c".into(),
                reason: "timeout".into(),
            },
            Event::Offered { responders: vec![] },
            Event::Assigned {
                responder: "w".into(),
                note: Some("near".into()),
            },
            Event::Accepted {
                responder: "w".into(),
            },
            Event::Rejected {
                responder: "w".into(),
                note: None,
            },
            Event::NoAcceptance { offers: 5 },
            Event::NoResponder,
            Event::ChosenDeclined,
            Event::ClosedUnverified { kind: "k".into() },
            Event::NoInspector,
            Event::InspectionOffered {
                responder: "i".into(),
            },
            Event::InspectionAccepted {
                responder: "i".into(),
            },
            Event::Verified { note: None },
            Event::Rework { reason: "r".into() },
            Event::ReworkOffered {
                responder: "w".into(),
            },
            Event::Suspended { note: None },
            Event::Resumed { note: None },
            Event::ExtensionAsked {
                responder: "w".into(),
                minutes: 30,
                reason: "r".into(),
            },
            Event::ExtensionGranted {
                responder: "w".into(),
                minutes: 30,
                note: None,
            },
            Event::ExtensionRefused {
                responder: "w".into(),
                note: None,
            },
            Event::Note { text: "t".into() },
        ];
        // The pages word every code in both languages (web/src/js/i18n.js).
        let strings = include_str!("../../web/src/js/i18n.js");
        for e in all {
            let v: serde_json::Value = serde_json::from_str(&e.to_json()).unwrap();
            assert_eq!(v["code"], e.code(), "{e:?}");
            assert_eq!(Event::parse(&e.to_json()).unwrap(), e);
            let key = format!("tl_{}:", e.code());
            assert_eq!(strings.matches(&key).count(), 2, "{key} in en and zh-CN");
        }
    }

    #[test]
    fn the_english_line_keeps_a_persons_words_after_a_colon() {
        let e = Event::Rejected {
            responder: "w1".into(),
            note: Some("flat tyre".into()),
        };
        assert_eq!(e.to_string(), "w1 rejected: flat tyre");
        let blank = Event::Suspended {
            note: Some("  ".into()),
        };
        assert_eq!(blank.to_string(), "suspended");
        assert_eq!(Event::words(Some(" ".into())), None);
    }

    #[test]
    fn a_stored_value_that_is_no_event_is_named() {
        let err = Event::parse(r#"{"code":"teleported"}"#).unwrap_err();
        assert_eq!(
            err.to_string(),
            r#""{\"code\":\"teleported\"}" is not a timeline event"#
        );
    }
}
