//! Which events are detections worth an alert, and of what kind.

use std::fmt;

use super::parse::{OnvifEvent, PropertyOperation};

/// The kind of incident a detection opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DetectionKind {
    /// Motion in the picture (cell motion detector or motion alarm).
    Motion,
    /// An object crossed a configured line.
    Tripwire,
    /// An object is inside a configured field.
    Intrusion,
    /// The camera cannot see properly: tampered with, too dark, blurred, scene changed,
    /// signal lost.
    CameraFault,
}

impl DetectionKind {
    /// The incident kind as the alert schema spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            DetectionKind::Motion => "motion",
            DetectionKind::Tripwire => "tripwire",
            DetectionKind::Intrusion => "intrusion",
            DetectionKind::CameraFault => "camera_fault",
        }
    }

    /// Alert severity, 1 (most urgent) to 4: someone crossing a line or inside a field is
    /// likelier to need a person on site than motion, which is mostly wind and light, or a
    /// camera fault, which is a maintenance job.
    pub fn severity(self) -> i64 {
        match self {
            DetectionKind::Tripwire | DetectionKind::Intrusion => 2,
            DetectionKind::Motion | DetectionKind::CameraFault => 4,
        }
    }
}

impl fmt::Display for DetectionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An active detection worth an alert.
#[derive(Debug, Clone, PartialEq)]
pub struct Detection {
    /// The incident kind.
    pub kind: DetectionKind,
    /// The `Rule` source item, when the camera names the analytics rule.
    pub rule: Option<String>,
    /// The event's normalised topic; stands in for the rule when there is none (e.g.
    /// `VideoSource/MotionAlarm`).
    pub topic: String,
    /// The video source: `VideoSourceConfigurationToken`, else `VideoSourceToken`, else
    /// `Source` (the name the video source events use).
    pub source_token: Option<String>,
    /// When it happened by the camera's clock, Unix ms.
    pub time_ms: i64,
}

impl Detection {
    /// The rule name, or the topic when the camera names no rule: what the cooldown and the
    /// external id key on.
    pub fn rule_key(&self) -> &str {
        self.rule.as_deref().unwrap_or(&self.topic)
    }
}

/// True for an ONVIF boolean that is set: `true` or `1`, any case, surrounding space ignored.
fn is_true(v: Option<&String>) -> bool {
    v.is_some_and(|v| {
        let v = v.trim();
        v.eq_ignore_ascii_case("true") || v == "1"
    })
}

/// The detection an event stands for, if it is an active one we open incidents for.
/// A state going off, a deleted property, or a topic we do not know gives `None`.
pub fn classify(event: &OnvifEvent) -> Option<Detection> {
    if event.operation == Some(PropertyOperation::Deleted) {
        return None;
    }
    let data = |name: &str| is_true(event.data.get(name));
    let segments: Vec<&str> = event.topic.split('/').collect();
    let kind = match segments.as_slice() {
        ["RuleEngine", "CellMotionDetector", "Motion"] if data("IsMotion") => DetectionKind::Motion,
        ["VideoSource", "MotionAlarm"] if data("State") => DetectionKind::Motion,
        // A crossing is an instant with no on/off state: every one counts.
        ["RuleEngine", "LineDetector", "Crossed"] => DetectionKind::Tripwire,
        ["RuleEngine", "FieldDetector", "ObjectsInside"] if data("IsInside") => {
            DetectionKind::Intrusion
        }
        ["RuleEngine", "TamperDetector", "Tamper"] if data("IsTamper") => {
            DetectionKind::CameraFault
        }
        // The image quality topics come per service (ImagingService, AnalyticsService,
        // RecordingService); any of them means the picture is unusable.
        ["VideoSource", "GlobalSceneChange" | "ImageTooDark" | "ImageTooBlurry" | "ImageTooBright", ..]
            if data("State") =>
        {
            DetectionKind::CameraFault
        }
        ["VideoSource", "SignalLoss"] if data("State") => DetectionKind::CameraFault,
        _ => return None,
    };
    let source_token = [
        "VideoSourceConfigurationToken",
        "VideoSourceToken",
        "Source",
    ]
    .iter()
    .find_map(|name| event.source.get(*name))
    .cloned();
    Some(Detection {
        kind,
        // A blank rule name would make a blank key; the topic is a better one.
        rule: event
            .source
            .get("Rule")
            .filter(|r| !r.trim().is_empty())
            .cloned(),
        topic: event.topic.clone(),
        source_token,
        time_ms: event.time_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::onvif::fixtures::*;

    #[test]
    fn cell_motion_initialized_is_parsed_and_classified() {
        let e = one(CELL_MOTION_INIT);
        assert_eq!(e.topic, "RuleEngine/CellMotionDetector/Motion");
        assert_eq!(e.time_ms, AT_MS + 250);
        assert_eq!(e.operation, Some(PropertyOperation::Initialized));
        assert_eq!(e.source.get("Rule").map(String::as_str), Some("YardMotion"));
        assert_eq!(e.data.get("IsMotion").map(String::as_str), Some("true"));
        let d = classify(&e).unwrap();
        assert_eq!(d.kind, DetectionKind::Motion);
        assert_eq!(d.rule.as_deref(), Some("YardMotion"));
        assert_eq!(d.rule_key(), "YardMotion");
        assert_eq!(d.source_token.as_deref(), Some("VideoSourceConfig_0"));
        assert_eq!(d.time_ms, AT_MS + 250);
    }

    #[test]
    fn cell_motion_changed_on_counts_and_off_or_deleted_does_not() {
        let changed_on = CELL_MOTION_INIT.replace("Initialized", "Changed");
        let e = one(&changed_on);
        assert_eq!(e.operation, Some(PropertyOperation::Changed));
        assert_eq!(classify(&e).unwrap().kind, DetectionKind::Motion);

        let upper = changed_on.replace(r#"Value="true""#, r#"Value="TRUE""#);
        assert!(classify(&one(&upper)).is_some());
        let numeric = changed_on.replace(r#"Value="true""#, r#"Value="1""#);
        assert!(classify(&one(&numeric)).is_some());

        let off = changed_on.replace(r#"Value="true""#, r#"Value="false""#);
        assert_eq!(classify(&one(&off)), None);
        let zero = changed_on.replace(r#"Value="true""#, r#"Value="0""#);
        assert_eq!(classify(&one(&zero)), None);

        let deleted = CELL_MOTION_INIT.replace("Initialized", "Deleted");
        let e = one(&deleted);
        assert_eq!(e.operation, Some(PropertyOperation::Deleted));
        assert_eq!(classify(&e), None);
    }

    #[test]
    fn motion_alarm_state_true_is_motion_and_false_is_nothing() {
        let e = one(&motion_alarm("true"));
        assert_eq!(e.topic, "VideoSource/MotionAlarm");
        let d = classify(&e).unwrap();
        assert_eq!(d.kind, DetectionKind::Motion);
        // No rule: the topic stands in, and the video source comes from `Source`.
        assert_eq!(d.rule, None);
        assert_eq!(d.rule_key(), "VideoSource/MotionAlarm");
        assert_eq!(d.source_token.as_deref(), Some("VideoSource_1"));
        assert_eq!(classify(&one(&motion_alarm("false"))), None);
        assert_eq!(classify(&one(&motion_alarm("off"))), None);
    }

    #[test]
    fn line_crossing_is_a_tripwire_with_its_rule() {
        let e = one(LINE_CROSSED);
        assert_eq!(e.topic, "RuleEngine/LineDetector/Crossed");
        assert_eq!(e.operation, None);
        // 22:14:05 at +08:00 is 14:14:05 UTC.
        assert_eq!(e.time_ms, AT_MS + (4 * 3600 + 44 * 60 + 5) * 1000);
        let d = classify(&e).unwrap();
        assert_eq!(d.kind, DetectionKind::Tripwire);
        assert_eq!(d.rule.as_deref(), Some("Substation fence"));
        assert_eq!(d.source_token.as_deref(), Some("vsc1"));
    }

    #[test]
    fn field_detector_inside_is_an_intrusion() {
        let xml = |inside: &str| {
            document(&notification(
                "tns1:RuleEngine/FieldDetector/ObjectsInside",
                &format!(r#"{AT} PropertyOperation="Changed""#),
                &[
                    ("VideoSourceConfigurationToken", "vsc2"),
                    ("VideoAnalyticsConfigurationToken", "vac2"),
                    ("Rule", "Transformer yard"),
                ],
                &[("IsInside", inside)],
            ))
        };
        let d = classify(&one(&xml("true"))).unwrap();
        assert_eq!(d.kind, DetectionKind::Intrusion);
        assert_eq!(d.rule.as_deref(), Some("Transformer yard"));
        assert_eq!(classify(&one(&xml("false"))), None);
    }

    #[test]
    fn tamper_and_image_problems_are_camera_faults() {
        let tamper = document(&notification(
            "tns1:RuleEngine/TamperDetector/Tamper",
            &format!(r#"{AT} PropertyOperation="Changed""#),
            &[
                ("VideoSourceConfigurationToken", "vsc3"),
                ("Rule", "Tamper"),
            ],
            &[("IsTamper", "true")],
        ));
        assert_eq!(
            classify(&one(&tamper)).unwrap().kind,
            DetectionKind::CameraFault
        );
        assert_eq!(
            classify(&one(&tamper.replace(r#"Value="true""#, r#"Value="false""#))),
            None
        );

        for topic in [
            "tns1:VideoSource/GlobalSceneChange/ImagingService",
            "tns1:VideoSource/ImageTooDark/AnalyticsService",
            "tns1:VideoSource/ImageTooBlurry/ImagingService",
            "tns1:VideoSource/ImageTooBright/RecordingService",
            "tns1:VideoSource/SignalLoss",
        ] {
            let xml = |state: &str| {
                document(&notification(
                    topic,
                    &format!(r#"{AT} PropertyOperation="Changed""#),
                    &[("Source", "VideoSource_1")],
                    &[("State", state)],
                ))
            };
            let d = classify(&one(&xml("true"))).unwrap();
            assert_eq!(d.kind, DetectionKind::CameraFault, "{topic}");
            assert_eq!(d.source_token.as_deref(), Some("VideoSource_1"));
            assert_eq!(classify(&one(&xml("false"))), None, "{topic}");
        }
    }

    #[test]
    fn unknown_topics_are_not_detections() {
        for topic in [
            "tns1:Device/Trigger/DigitalInput",
            "tns1:RuleEngine/CellMotionDetector",
            "tnsvendor:Something/Else",
        ] {
            let xml = document(&notification(
                topic,
                AT,
                &[("InputToken", "1")],
                &[("LogicalState", "true")],
            ));
            assert_eq!(classify(&one(&xml)), None, "{topic}");
        }
    }
}
