//! A detection as an alert in our schema.

use crate::domain::alert::{AlertPlace, NewAlert};
use crate::domain::{Ident, Severity};

use super::classify::Detection;
use super::ONVIF_SOURCE;

/// Longest rule name carried into an alert's description, characters.
const MAX_RULE_IN_DESCRIPTION: usize = 200;

/// Longest external id the alert schema accepts, bytes.
const MAX_EXTERNAL_ID: usize = 128;

/// How far a camera's event time may be from the time of receipt before the time of receipt
/// is used instead, ms. Cameras whose clock was never set report 1970 or 2000, and an
/// incident dated decades ago would be misleading.
const MAX_CLOCK_SKEW_MS: i64 = 24 * 3600 * 1000;

/// Replaces control characters with spaces, so device-supplied text cannot break log lines
/// or ids.
fn printable(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Cuts `s` to at most `max` bytes on a character boundary.
fn cut_bytes(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The alert for a detection on `camera_id`, received at `now_ms`. The external id is
/// `<camera>:<rule>:<time_ms>` (the rule cut to fit the schema's 128 bytes), so the same
/// event delivered twice is one alert.
pub fn to_alert(camera_id: &Ident, d: &Detection, now_ms: i64) -> Result<NewAlert, String> {
    let rule = printable(d.rule_key().trim());
    let camera = camera_id.as_str();
    let time = d.time_ms.to_string();
    let budget = MAX_EXTERNAL_ID.saturating_sub(camera.len() + time.len() + 2);
    let external_id = format!("{camera}:{}:{time}", cut_bytes(&rule, budget));

    let shown_rule: String = rule.chars().take(MAX_RULE_IN_DESCRIPTION).collect();
    let mut description = match &d.rule {
        Some(_) => {
            let topic: String = printable(&d.topic)
                .chars()
                .take(MAX_RULE_IN_DESCRIPTION)
                .collect();
            format!(
                "ONVIF {}: rule \"{shown_rule}\" ({topic}) on camera {camera}",
                d.kind
            )
        }
        None => format!("ONVIF {}: {shown_rule} on camera {camera}", d.kind),
    };
    if let Some(token) = &d.source_token {
        let token: String = printable(token).chars().take(64).collect();
        description.push_str(&format!(", video source {token}"));
    }
    let time_ms = if d.time_ms.abs_diff(now_ms) > MAX_CLOCK_SKEW_MS.unsigned_abs() {
        description.push_str(" (camera clock off; time of receipt used)");
        now_ms
    } else {
        d.time_ms
    };

    Ok(NewAlert {
        source_id: Ident::parse(ONVIF_SOURCE).map_err(|e| e.to_string())?,
        external_id,
        kind: d.kind.as_str().to_owned(),
        severity: Severity::new(d.kind.severity()).map_err(|e| e.to_string())?,
        place: AlertPlace::Camera(camera_id.clone()),
        camera_id: Some(camera_id.clone()),
        time_ms,
        description: Some(description),
        address: None,
        rendezvous: None,
        snapshot: Default::default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::onvif::fixtures::*;
    use crate::ingest::onvif::*;

    #[test]
    fn detections_become_camera_alerts() {
        let cam = Ident::parse("cam-07").unwrap();
        let d = classify(&one(LINE_CROSSED)).unwrap();
        let a = to_alert(&cam, &d, d.time_ms + 300).unwrap();
        assert_eq!(a.source_id.as_str(), ONVIF_SOURCE);
        assert_eq!(
            a.external_id,
            format!("cam-07:Substation fence:{}", d.time_ms)
        );
        assert_eq!(a.kind, "tripwire");
        assert_eq!(a.severity.get(), 2);
        assert_eq!(a.place, AlertPlace::Camera(cam.clone()));
        assert_eq!(a.camera_id, Some(cam.clone()));
        assert_eq!(a.time_ms, d.time_ms);
        let text = a.description.unwrap();
        assert!(
            text.contains("Substation fence") && text.contains("cam-07"),
            "{text}"
        );

        let motion = classify(&one(&motion_alarm("true"))).unwrap();
        let a = to_alert(&cam, &motion, AT_MS).unwrap();
        assert_eq!((a.kind.as_str(), a.severity.get()), ("motion", 4));
        assert_eq!(
            a.external_id,
            format!("cam-07:VideoSource/MotionAlarm:{AT_MS}")
        );

        let fault = Detection {
            kind: DetectionKind::CameraFault,
            ..motion.clone()
        };
        assert_eq!(to_alert(&cam, &fault, AT_MS).unwrap().severity.get(), 4);
        let inside = Detection {
            kind: DetectionKind::Intrusion,
            ..motion.clone()
        };
        assert_eq!(to_alert(&cam, &inside, AT_MS).unwrap().severity.get(), 2);
    }

    #[test]
    fn alert_ids_fit_the_schema_and_bad_clocks_are_replaced() {
        let cam = Ident::parse(&"c".repeat(Ident::MAX_LEN)).unwrap();
        let d = Detection {
            kind: DetectionKind::Intrusion,
            rule: Some(format!("{}\u{7}区域", "long rule ".repeat(50))),
            topic: format!("RuleEngine/\n{}", "x".repeat(5000)),
            source_token: Some("vs\r\n1".into()),
            time_ms: 0,
        };
        let a = to_alert(&cam, &d, AT_MS).unwrap();
        assert!(a.external_id.len() <= 128, "{}", a.external_id.len());
        assert!(!a.external_id.chars().any(char::is_control));
        assert!(a.external_id.ends_with(":0"));
        // A camera reporting 1970 gets the time of receipt.
        assert_eq!(a.time_ms, AT_MS);
        let text = a.description.unwrap();
        assert!(!text.chars().any(char::is_control));
        assert!(text.chars().count() < 2000);
    }
}
