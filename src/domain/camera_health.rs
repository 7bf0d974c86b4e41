//! Camera health: what Frigate's status topics mean for a camera, and when a camera that
//! stays offline becomes a `camera_offline` incident. Pure; the dispatcher applies it.

use std::fmt;
use std::str::FromStr;

/// Incident kind opened for a camera offline too long.
pub const INCIDENT_KIND: &str = "camera_offline";

/// Severity of that incident (lowest).
pub const INCIDENT_SEVERITY: i64 = 4;

/// Alert source under which camera health alerts are recorded.
pub const SOURCE: &str = "camera-health";

/// Reason stored when Frigate reports detection offline.
pub const REASON_DETECT_OFFLINE: &str = "Frigate detect offline";

/// Reason stored when Frigate reports detection disabled.
pub const REASON_DISABLED: &str = "detection disabled in Frigate";

/// Reason stored for every camera when Frigate itself goes away (its last will).
pub const REASON_FRIGATE_UNAVAILABLE: &str = "Frigate unavailable";

/// A camera's health.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CameraStatus {
    /// Frigate detects on it.
    Online,
    /// Frigate reported it offline or disabled.
    Offline,
    /// Never reported, or Frigate is gone.
    Unknown,
}

impl CameraStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            CameraStatus::Online => "online",
            CameraStatus::Offline => "offline",
            CameraStatus::Unknown => "unknown",
        }
    }
}

impl fmt::Display for CameraStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Reads a stored status (the store decodes its column through this).
impl TryFrom<String> for CameraStatus {
    type Error = super::UnknownName;
    fn try_from(s: String) -> Result<Self, super::UnknownName> {
        s.parse().map_err(|_| super::UnknownName {
            what: "a camera status",
            value: s,
        })
    }
}

impl FromStr for CameraStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "online" => Ok(CameraStatus::Online),
            "offline" => Ok(CameraStatus::Offline),
            "unknown" => Ok(CameraStatus::Unknown),
            other => Err(format!("unknown camera status {other:?}")),
        }
    }
}

/// What one report says about a camera.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The new status.
    pub status: CameraStatus,
    /// Why, for offline and unknown.
    pub reason: Option<String>,
}

/// Reads a `frigate/<camera>/status/detect` payload: `online`, `offline` or `disabled`
/// (surrounding white space and case ignored).
pub fn parse_detect(payload: &[u8]) -> Result<Report, String> {
    let text = std::str::from_utf8(payload).map_err(|_| "payload is not UTF-8".to_owned())?;
    match text.trim().to_ascii_lowercase().as_str() {
        "online" => Ok(Report {
            status: CameraStatus::Online,
            reason: None,
        }),
        "offline" => Ok(Report {
            status: CameraStatus::Offline,
            reason: Some(REASON_DETECT_OFFLINE.into()),
        }),
        "disabled" => Ok(Report {
            status: CameraStatus::Offline,
            reason: Some(REASON_DISABLED.into()),
        }),
        _ => Err(format!(
            "detect status must be online, offline or disabled, not {:?}",
            text.chars().take(40).collect::<String>()
        )),
    }
}

/// Reads a `frigate/available` payload: `Some(true)` online, `Some(false)` offline.
pub fn parse_available(payload: &[u8]) -> Result<bool, String> {
    let text = std::str::from_utf8(payload).map_err(|_| "payload is not UTF-8".to_owned())?;
    match text.trim().to_ascii_lowercase().as_str() {
        "online" => Ok(true),
        "offline" => Ok(false),
        _ => Err(format!(
            "Frigate availability must be online or offline, not {:?}",
            text.chars().take(40).collect::<String>()
        )),
    }
}

/// What a probe of a camera's stream learnt, each field only where the stream tells it.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct StreamFacts {
    /// Codec as GStreamer describes it, e.g. `H.264 (Main Profile)`.
    pub codec: Option<String>,
    /// Frame width, pixels.
    pub width: Option<i64>,
    /// Frame height, pixels.
    pub height: Option<i64>,
    /// Frames per second: as declared by the stream, else measured from frame times.
    pub fps: Option<f64>,
    /// Bits per second of the encoded video, measured over the probe (about a second).
    pub bitrate: Option<i64>,
}

/// Frames per second from the timestamps of consecutive frames: `(frames - 1)` intervals
/// over the time between the first and the last. None for fewer than two frames or no
/// time between them.
///
/// # Units
/// Timestamps in nanoseconds; frames per second out.
///
/// ```
/// use griddispatch::domain::camera_health::measured_fps;
/// // 11 frames 100 ms apart: 10 fps.
/// assert_eq!(measured_fps(11, 0, 1_000_000_000), Some(10.0));
/// assert_eq!(measured_fps(1, 0, 0), None);
/// ```
pub fn measured_fps(frames: u64, first_ns: u64, last_ns: u64) -> Option<f64> {
    if frames < 2 || last_ns <= first_ns {
        return None;
    }
    let fps = (frames - 1) as f64 * 1e9 / (last_ns - first_ns) as f64;
    // Two decimals are all anyone reads off a camera list.
    Some((fps * 100.0).round() / 100.0)
}

/// Bits per second from a byte count over a stretch of stream time; None when the stretch
/// is too short (under half a second) to say anything about a stream with key frames.
///
/// # Units
/// Bytes and nanoseconds in; bits per second out.
///
/// ```
/// use griddispatch::domain::camera_health::measured_bitrate;
/// assert_eq!(measured_bitrate(125_000, 0, 1_000_000_000), Some(1_000_000));
/// assert_eq!(measured_bitrate(125_000, 0, 100_000_000), None);
/// ```
pub fn measured_bitrate(bytes: u64, first_ns: u64, last_ns: u64) -> Option<i64> {
    let span = last_ns.checked_sub(first_ns)?;
    if span < 500_000_000 {
        return None;
    }
    i64::try_from((bytes as u128 * 8 * 1_000_000_000 / span as u128) as u64).ok()
}

/// A camera's health as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    /// Status.
    pub status: CameraStatus,
    /// Since when, Unix ms (none while never reported).
    pub since: Option<i64>,
    /// When Frigate last reported it online, Unix ms.
    pub last_seen: Option<i64>,
    /// Reason of the last offline or unknown.
    pub last_error: Option<String>,
}

impl Default for Health {
    fn default() -> Self {
        Health {
            status: CameraStatus::Unknown,
            since: None,
            last_seen: None,
            last_error: None,
        }
    }
}

/// The health after a report at `at_ms`, and whether the status changed (a change is
/// written to the history; a repeat keeps `since`).
pub fn apply(current: &Health, report: &Report, at_ms: i64) -> (Health, bool) {
    let changed = current.status != report.status || current.since.is_none();
    let mut next = current.clone();
    next.status = report.status;
    if changed {
        next.since = Some(at_ms);
    }
    match report.status {
        CameraStatus::Online => next.last_seen = Some(at_ms),
        CameraStatus::Offline | CameraStatus::Unknown => {
            if report.reason.is_some() {
                next.last_error = report.reason.clone();
            }
        }
    }
    (next, changed)
}

/// When a camera in this health becomes a `camera_offline` incident: `since + delay` while
/// offline, never otherwise.
pub fn incident_due(health: &Health, delay_ms: i64) -> Option<i64> {
    match (health.status, health.since) {
        (CameraStatus::Offline, Some(since)) => Some(since.saturating_add(delay_ms)),
        _ => None,
    }
}

/// The external id of the alert for one offline spell, so that a restart re-sending it is
/// a duplicate rather than a second incident.
pub fn external_id(camera_id: &str, since_ms: i64) -> String {
    format!("{camera_id}:offline:{since_ms}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detect_payloads() {
        assert_eq!(
            parse_detect(b"online").unwrap().status,
            CameraStatus::Online
        );
        let off = parse_detect(b" OFFLINE\n").unwrap();
        assert_eq!(off.status, CameraStatus::Offline);
        assert_eq!(off.reason.as_deref(), Some(REASON_DETECT_OFFLINE));
        let dis = parse_detect(b"disabled").unwrap();
        assert_eq!(dis.reason.as_deref(), Some(REASON_DISABLED));
        assert!(parse_detect(b"{}").is_err());
        assert!(parse_detect(&[0xff, 0xfe]).is_err());
        assert!(parse_available(b"offline") == Ok(false));
        assert!(parse_available(b"online") == Ok(true));
        assert!(parse_available(b"maybe").is_err());
    }

    #[test]
    fn repeats_keep_since_and_changes_move_it() {
        let off = parse_detect(b"offline").unwrap();
        let on = parse_detect(b"online").unwrap();
        let (h, changed) = apply(&Health::default(), &off, 100);
        assert!(changed);
        assert_eq!(h.since, Some(100));
        assert_eq!(incident_due(&h, 50), Some(150));
        let (h2, changed) = apply(&h, &off, 200);
        assert!(!changed);
        assert_eq!(h2.since, Some(100));
        let (h3, changed) = apply(&h2, &on, 300);
        assert!(changed);
        assert_eq!(h3.since, Some(300));
        assert_eq!(h3.last_seen, Some(300));
        assert_eq!(h3.last_error.as_deref(), Some(REASON_DETECT_OFFLINE));
        assert_eq!(incident_due(&h3, 50), None);
        assert_eq!(external_id("cam1", 100), "cam1:offline:100");
    }
}
