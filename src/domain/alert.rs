//! The alert schema shared by every way in (MQTT `alerts/<source>`, HTTP, Frigate), and its
//! validation.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Ident, Invalid, LatLon, Severity};

/// An alert as a source sends it (JSON). Unknown fields are ignored so that sources can
/// send more than we read.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct AlertPayload {
    /// Unique per source; the same id twice is one alert.
    pub id: String,
    /// Incident kind: medical, fire, fall, intrusion, fight, flood, traffic, guidance, …
    pub kind: String,
    /// 1 (most urgent) to 4.
    pub severity: i64,
    /// WGS-84 latitude; with `lon`, or give `camera_id`.
    pub lat: Option<f64>,
    /// WGS-84 longitude.
    pub lon: Option<f64>,
    /// A registered camera whose position is the alert's position.
    pub camera_id: Option<String>,
    /// When it happened (RFC 3339); defaults to the time of receipt.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub time: Option<DateTime<Utc>>,
    /// Free text.
    pub description: Option<String>,
    /// Address text (kept as given).
    pub address: Option<String>,
    /// Where the responder should meet someone (e.g. guide an ambulance from the gate).
    pub rendezvous: Option<RendezvousPayload>,
}

/// The `rendezvous` object of an alert.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct RendezvousPayload {
    /// Latitude, degrees.
    pub lat: f64,
    /// Longitude, degrees.
    pub lon: f64,
    /// What to do there, e.g. "meet the ambulance at the north gate".
    pub note: Option<String>,
}

/// A meeting point for a guidance task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Rendezvous {
    /// Latitude, degrees.
    pub lat: f64,
    /// Longitude, degrees.
    pub lon: f64,
    /// What to do there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Rendezvous {
    /// The meeting point.
    pub fn point(&self) -> LatLon {
        LatLon {
            lat: self.lat,
            lon: self.lon,
        }
    }
}

/// Where an alert happened: a point, or a camera to be looked up.
#[derive(Debug, Clone, PartialEq)]
pub enum AlertPlace {
    /// Given coordinates.
    Point(LatLon),
    /// A registered camera's position.
    Camera(Ident),
}

/// Where a picture of an alert comes from, when it names a camera.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum SnapshotSource {
    /// A frame grabbed from the camera's stream (when it has one).
    #[default]
    Stream,
    /// The picture Frigate kept of this event (`has_snapshot`), fetched from Frigate's API
    /// instead of the stream when `frigate.url` is set.
    Frigate {
        /// Frigate's event id.
        event_id: String,
    },
    /// No picture: e.g. a `camera_offline` incident, whose camera has nothing to show.
    None,
    /// The photo a person took with the report (a phone's 随手拍), a JPEG checked on
    /// arrival.
    Photo(Photo),
}

/// The source of the reports a responder sends from the phone (随手拍): `field:<id>`.
pub fn field_source(responder: &Ident) -> Result<Ident, Invalid> {
    Ident::parse(&format!("field:{responder}")).map_err(|_| {
        Invalid::new(
            "responder",
            format!(
                "id {responder} is too long to name a report's source (field:<id>, 64 characters)"
            ),
        )
    })
}

/// `id` as a source that a caller may name (an alert's `source_id`, a new source): any but
/// a `field:<id>` one, which only a phone's own report opens, since that report credits
/// the volunteer it names (docs/points.md).
pub fn named_source(field: &str, id: Ident) -> Result<Ident, Invalid> {
    match field_reporter(id.as_str()) {
        Some(_) => Err(Invalid::new(
            field,
            format!("{id}: field:<id> names a phone's report; only the phone itself sends those"),
        )),
        None if id.as_str().starts_with("field:") => Err(Invalid::new(
            field,
            format!("{id}: the field: prefix is kept for phones' reports"),
        )),
        None => Ok(id),
    }
}

/// The responder who reported from the phone, when `source_id` is a `field:<id>` source.
pub fn field_reporter(source_id: &str) -> Option<Ident> {
    source_id
        .strip_prefix("field:")
        .and_then(|rid| Ident::parse(rid).ok())
}

/// A JPEG that came with a report. Shared, not copied, on its way to the snapshot service;
/// its `Debug` gives its size, not its bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct Photo(std::sync::Arc<Vec<u8>>);

impl Photo {
    /// Largest photo accepted, bytes: a phone's picture scaled for the task (the field app
    /// sends at most 1600 pixels a side, a few hundred KiB).
    pub const MAX_BYTES: usize = 4 * 1024 * 1024;

    /// Checks `bytes`: a JPEG (it starts with the JPEG start-of-image marker) of at most
    /// [`Photo::MAX_BYTES`].
    pub fn parse(bytes: Vec<u8>) -> Result<Photo, Invalid> {
        if bytes.len() > Self::MAX_BYTES {
            return Err(Invalid::new("photo", "at most 4 MiB"));
        }
        if bytes.len() < 4 || bytes[..3] != [0xFF, 0xD8, 0xFF] {
            return Err(Invalid::new("photo", "must be a JPEG picture"));
        }
        Ok(Photo(std::sync::Arc::new(bytes)))
    }

    /// The JPEG.
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for Photo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Photo({} bytes)", self.0.len())
    }
}

/// A validated alert.
#[derive(Debug, Clone)]
pub struct NewAlert {
    /// Who raised it.
    pub source_id: Ident,
    /// The source's own id for it.
    pub external_id: String,
    /// Incident kind.
    pub kind: String,
    /// Urgency.
    pub severity: Severity,
    /// Position, or the camera that has one.
    pub place: AlertPlace,
    /// The camera, when named (also when coordinates are given).
    pub camera_id: Option<Ident>,
    /// When it happened, Unix ms.
    pub time_ms: i64,
    /// Free text.
    pub description: Option<String>,
    /// Address text.
    pub address: Option<String>,
    /// Meeting point.
    pub rendezvous: Option<Rendezvous>,
    /// Where a snapshot of the named camera comes from.
    pub snapshot: SnapshotSource,
}

/// Longest accepted description, in characters.
const MAX_TEXT: usize = 2000;

fn text(field: &str, v: Option<String>) -> Result<Option<String>, Invalid> {
    match v {
        Some(s) if s.chars().count() > MAX_TEXT => Err(Invalid::new(
            field,
            format!("longer than {MAX_TEXT} characters"),
        )),
        Some(s) if s.trim().is_empty() => Ok(None),
        other => Ok(other),
    }
}

/// Checks an incident kind: 1–32 of `a-z 0-9 _`.
pub fn parse_kind(kind: &str) -> Result<String, Invalid> {
    if kind.is_empty()
        || kind.len() > 32
        || !kind
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err(Invalid::new(
            "kind",
            "must be 1 to 32 characters of a-z, 0-9 and '_' (e.g. medical, fire)",
        ));
    }
    Ok(kind.to_owned())
}

impl NewAlert {
    /// Validates a payload from `source_id`, received at `now_ms`.
    pub fn from_payload(
        source_id: Ident,
        p: AlertPayload,
        now_ms: i64,
    ) -> Result<NewAlert, Invalid> {
        let external_id = p.id.trim().to_owned();
        if external_id.is_empty()
            || external_id.len() > 128
            || external_id.chars().any(char::is_control)
        {
            // Counted in bytes: 128 ASCII characters, fewer in Chinese.
            return Err(Invalid::new(
                "id",
                "must be 1 to 128 bytes of printable characters",
            ));
        }
        let kind = parse_kind(&p.kind)?;
        let severity = Severity::new(p.severity)?;
        let camera_id = p
            .camera_id
            .as_deref()
            .map(Ident::parse)
            .transpose()
            .map_err(|e| Invalid::new("camera_id", e.reason))?;
        let place = match (p.lat, p.lon, &camera_id) {
            (Some(lat), Some(lon), _) => AlertPlace::Point(LatLon::new(lat, lon)?),
            (None, None, Some(cam)) => AlertPlace::Camera(cam.clone()),
            (Some(_), None, _) | (None, Some(_), _) => {
                return Err(Invalid::new("lat/lon", "give both lat and lon, or neither"))
            }
            (None, None, None) => {
                return Err(Invalid::new("lat/lon", "give lat and lon, or a camera_id"))
            }
        };
        let rendezvous = match p.rendezvous {
            Some(r) => {
                let point = LatLon::new(r.lat, r.lon)
                    .map_err(|e| Invalid::new(format!("rendezvous.{}", e.field), e.reason))?;
                Some(Rendezvous {
                    lat: point.lat,
                    lon: point.lon,
                    note: text("rendezvous.note", r.note)?,
                })
            }
            None => None,
        };
        Ok(NewAlert {
            source_id,
            external_id,
            kind,
            severity,
            place,
            camera_id,
            time_ms: p.time.map_or(now_ms, |t| t.timestamp_millis()),
            description: text("description", p.description)?,
            address: text("address", p.address)?,
            rendezvous,
            snapshot: SnapshotSource::Stream,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_phone_report_names_its_reporter_in_its_source() {
        let rid = Ident::parse("w1").unwrap_or_else(|e| panic!("{e}"));
        let source = field_source(&rid).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(source.as_str(), "field:w1");
        assert_eq!(field_reporter(source.as_str()), Some(rid));
        assert_eq!(field_reporter("frigate"), None);
        assert_eq!(field_reporter("field:"), None);
        let long = Ident::parse(&"w".repeat(64)).unwrap_or_else(|e| panic!("{e}"));
        assert!(field_source(&long).is_err());
    }

    #[test]
    fn a_photo_is_a_jpeg_of_at_most_4_mib() {
        assert!(Photo::parse(vec![0xFF, 0xD8, 0xFF, 0xE0]).is_ok());
        assert!(Photo::parse(b"\x89PNG".to_vec()).is_err());
        assert!(Photo::parse(vec![0xFF, 0xD8]).is_err());
        let mut big = vec![0xFF, 0xD8, 0xFF, 0xE0];
        big.resize(Photo::MAX_BYTES + 1, 0);
        assert!(Photo::parse(big).is_err());
        let shown = format!(
            "{:?}",
            Photo::parse(vec![0xFF, 0xD8, 0xFF, 0xE0, 0, 0]).ok()
        );
        assert_eq!(shown, "Some(Photo(6 bytes))");
    }

    fn parse(json: &str) -> Result<NewAlert, Invalid> {
        let p: AlertPayload = serde_json::from_str(json).unwrap();
        NewAlert::from_payload(Ident::parse("s1").unwrap(), p, 0)
    }

    #[test]
    fn accepts_point_or_camera() {
        let a =
            parse(r#"{"id":"a1","kind":"medical","severity":1,"lat":39.5,"lon":106.7,"extra":1}"#)
                .unwrap();
        assert_eq!(
            a.place,
            AlertPlace::Point(LatLon {
                lat: 39.5,
                lon: 106.7
            })
        );
        let a =
            parse(r#"{"id":"a2","kind":"intrusion","severity":2,"camera_id":"cam-01"}"#).unwrap();
        assert_eq!(a.place, AlertPlace::Camera(Ident::parse("cam-01").unwrap()));
    }

    #[test]
    fn refuses_bad_fields_with_their_names() {
        let cases = [
            (
                r#"{"id":"a","kind":"medical","severity":0,"lat":1,"lon":1}"#,
                "severity",
            ),
            (
                r#"{"id":"a","kind":"Medical!","severity":1,"lat":1,"lon":1}"#,
                "kind",
            ),
            (
                r#"{"id":"a","kind":"medical","severity":1,"lat":91,"lon":1}"#,
                "lat",
            ),
            (
                r#"{"id":"a","kind":"medical","severity":1,"lat":1}"#,
                "lat/lon",
            ),
            (r#"{"id":"a","kind":"medical","severity":1}"#, "lat/lon"),
            (
                r#"{"id":"","kind":"medical","severity":1,"lat":1,"lon":1}"#,
                "id",
            ),
            (
                r#"{"id":"a","kind":"medical","severity":1,"lat":1,"lon":1,"rendezvous":{"lat":99,"lon":1}}"#,
                "rendezvous.lat",
            ),
        ];
        for (json, field) in cases {
            assert_eq!(parse(json).unwrap_err().field, field, "{json}");
        }
    }
}
