//! Frigate NVR events (`frigate/events`). One Frigate event id is one alert, and so one
//! incident: `new`, every `update` and `end` carry the same id, and the dispatcher's
//! duplicate check on (source, id) folds them together. The camera is the registered camera
//! whose id is Frigate's camera name.

use serde::Deserialize;

use super::FRIGATE_SOURCE;
use crate::domain::alert::{AlertPlace, NewAlert, SnapshotSource};
use crate::domain::{Ident, Severity};

/// The envelope Frigate publishes.
#[derive(Debug, Deserialize)]
struct Envelope {
    /// new, update or end.
    #[serde(rename = "type")]
    kind: String,
    /// The event as it is now.
    after: Event,
}

/// The fields we use of a Frigate event.
#[derive(Debug, Deserialize)]
struct Event {
    id: String,
    camera: String,
    label: String,
    sub_label: Option<serde_json::Value>,
    #[serde(default)]
    false_positive: bool,
    start_time: Option<f64>,
    top_score: Option<f64>,
    #[serde(default)]
    current_zones: Vec<String>,
    /// Frigate keeps a picture of the event (`/api/events/<id>/snapshot.jpg`).
    #[serde(default)]
    has_snapshot: bool,
}

/// Incident kind and severity for a Frigate label.
fn classify(label: &str) -> (String, i64) {
    match label {
        "person" => ("intrusion".into(), 3),
        "fire" | "smoke" => ("fire".into(), 2),
        "car" | "motorcycle" | "bicycle" | "bus" | "truck" => ("traffic".into(), 4),
        other => {
            let k: String = other
                .to_ascii_lowercase()
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                .take(32)
                .collect();
            (
                if k.is_empty() {
                    "camera_event".into()
                } else {
                    k
                },
                4,
            )
        }
    }
}

/// The alert for a Frigate event message, or `None` for a false positive.
pub fn to_alert(payload: &[u8], now_ms: i64) -> Result<Option<NewAlert>, String> {
    let env: Envelope = super::parse_json(payload)?;
    if !matches!(env.kind.as_str(), "new" | "update" | "end") {
        return Err(format!("unknown Frigate event type {:?}", env.kind));
    }
    let e = env.after;
    if e.false_positive {
        return Ok(None);
    }
    let camera = Ident::parse(&e.camera).map_err(|err| format!("Frigate camera name: {err}"))?;
    let (kind, severity) = classify(&e.label);
    let mut description = format!("Frigate: {} on camera {}", e.label, e.camera);
    if let Some(s) = e.top_score {
        description.push_str(&format!(" (score {s:.2})"));
    }
    if let Some(serde_json::Value::String(sub)) = &e.sub_label {
        description.push_str(&format!(", {sub}"));
    }
    if !e.current_zones.is_empty() {
        description.push_str(&format!(", zones: {}", e.current_zones.join(", ")));
    }
    let source = Ident::parse(FRIGATE_SOURCE).map_err(|e| e.to_string())?;
    let external_id: String = e.id.chars().take(128).collect();
    // Frigate's own picture shows the detected object at its best moment; without one the
    // camera's stream is the next best thing.
    let snapshot = if e.has_snapshot {
        SnapshotSource::Frigate {
            event_id: external_id.clone(),
        }
    } else {
        SnapshotSource::Stream
    };
    Ok(Some(NewAlert {
        source_id: source,
        external_id,
        kind,
        severity: Severity::new(severity).map_err(|e| e.to_string())?,
        place: AlertPlace::Camera(camera.clone()),
        camera_id: Some(camera),
        time_ms: e.start_time.map_or(now_ms, |t| (t * 1000.0) as i64),
        description: Some(description),
        address: None,
        rendezvous: None,
        snapshot,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NEW: &str = r#"{"type":"new","before":{},"after":{"id":"1607123955.475377-mxklsc","camera":"cam-01","label":"person","sub_label":null,"score":0.7,"top_score":0.8,"false_positive":false,"start_time":1607123955.475377,"end_time":null,"current_zones":["gate"],"has_snapshot":true}}"#;

    #[test]
    fn person_event_becomes_an_intrusion_at_the_camera() {
        let a = to_alert(NEW.as_bytes(), 0).unwrap().unwrap();
        assert_eq!(a.kind, "intrusion");
        assert_eq!(a.external_id, "1607123955.475377-mxklsc");
        assert_eq!(a.place, AlertPlace::Camera(Ident::parse("cam-01").unwrap()));
        assert_eq!(a.time_ms, 1_607_123_955_475);
        assert_eq!(
            a.snapshot,
            SnapshotSource::Frigate {
                event_id: "1607123955.475377-mxklsc".into()
            }
        );
        let without = NEW.replace("\"has_snapshot\":true", "\"has_snapshot\":false");
        let a = to_alert(without.as_bytes(), 0).unwrap().unwrap();
        assert_eq!(a.snapshot, SnapshotSource::Stream);
    }

    #[test]
    fn false_positive_is_ignored_and_junk_refused() {
        let fp = NEW.replace("\"false_positive\":false", "\"false_positive\":true");
        assert!(to_alert(fp.as_bytes(), 0).unwrap().is_none());
        assert!(to_alert(b"{}", 0).is_err());
        assert!(to_alert(
            br#"{"type":"bogus","after":{"id":"x","camera":"c","label":"person"}}"#,
            0
        )
        .is_err());
    }
}
