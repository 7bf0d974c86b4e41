//! Pure domain rules: identifiers, geometry, the zone and responder indexes, candidate
//! ranking and the incident and task state machines. Nothing here does I/O, so all of it
//! is tested directly and runs the same in the dispatcher and in benchmarks.

pub mod alert;
pub mod camera_health;
pub mod closed_loop;
pub mod coverage;
pub mod geometry;
pub mod merchants;
pub mod nearby;
pub mod personal;
pub mod points;
pub mod ranking;
pub mod report;
pub mod state;
pub mod timeline;
pub mod zones;

use std::fmt;

use serde::{Deserialize, Serialize};

pub use geometry::LatLon;
pub use state::{IncidentState, TaskStatus};

/// Why a value from outside was refused. The message is safe to show to the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct Invalid {
    /// The field that was wrong, as the caller named it.
    pub field: String,
    /// What was wrong with it.
    pub reason: String,
}

impl Invalid {
    /// An error about `field`.
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Invalid {
        Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// An identifier chosen by an administrator or an integrator (zone, responder, source,
/// camera, alert id). It ends up inside MQTT topics, so it may not contain `/`, `+`, `#`
/// or white space.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Ident(String);

impl Ident {
    /// Longest identifier accepted.
    pub const MAX_LEN: usize = 64;

    /// Checks `s`: 1–64 characters of `A-Z a-z 0-9 _ . - :`.
    pub fn parse(s: &str) -> Result<Ident, Invalid> {
        if s.is_empty() || s.len() > Self::MAX_LEN {
            return Err(Invalid::new("id", "must be 1 to 64 characters"));
        }
        if !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b':'))
        {
            return Err(Invalid::new(
                "id",
                "may contain only letters, digits, '_', '.', '-' and ':'",
            ));
        }
        Ok(Ident(s.to_owned()))
    }

    /// The identifier as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Ident {
    type Error = Invalid;
    fn try_from(s: String) -> Result<Ident, Invalid> {
        Ident::parse(&s)
    }
}

impl From<Ident> for String {
    fn from(id: Ident) -> String {
        id.0
    }
}

/// In the API's description: the text rule of [`Ident::parse`].
impl utoipa::PartialSchema for Ident {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .min_length(Some(1))
            .max_length(Some(Ident::MAX_LEN))
            .pattern(Some("^[A-Za-z0-9_.:-]+$"))
            .description(Some(
                "An identifier chosen by an administrator or integrator: 1 to 64 letters, \
digits, '_', '.', '-' or ':'.",
            ))
            .into()
    }
}
impl utoipa::ToSchema for Ident {}

impl fmt::Display for Ident {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A stored or received name that is none of the values of its closed set, e.g. a state
/// the database should never hold. Its message reads `"bogus" is not an incident state`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{value:?} is not {what}")]
pub struct UnknownName {
    /// What the value should have been, with its article: `an incident state`.
    pub what: &'static str,
    /// The value found.
    pub value: String,
}

/// Declares a closed set of names that travel as lower-case strings in JSON, config and SQL.
/// `what` names one of them in messages (`an incident state`).
macro_rules! name_enum {
    ($(#[$doc:meta])* $name:ident ($what:literal) { $($(#[$vdoc:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vdoc])* $variant),+ }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// What one of these is called in messages.
            pub const WHAT: &'static str = $what;

            /// The name used in JSON, config and the database.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::domain::Invalid;
            fn from_str(s: &str) -> Result<Self, $crate::domain::Invalid> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err($crate::domain::Invalid::new(
                        stringify!($name),
                        format!("unknown value {s:?}; expected one of: {}",
                            [$($text),+].join(", ")),
                    )),
                }
            }
        }

        /// Reads a stored name (the store decodes its columns through this).
        impl TryFrom<String> for $name {
            type Error = $crate::domain::UnknownName;
            fn try_from(s: String) -> Result<Self, $crate::domain::UnknownName> {
                match s.as_str() {
                    $($text => Ok($name::$variant),)+
                    _ => Err($crate::domain::UnknownName { what: $what, value: s }),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use name_enum;

name_enum! {
    /// What kind of field responder someone is.
    ResponderKind ("a responder kind") {
        /// 网格员: responsible for one grid zone of a community.
        GridWorker = "grid_worker",
        /// A police or security patrol, usually in a car, covering a beat.
        Patrol = "patrol",
        /// A registered volunteer.
        Volunteer = "volunteer",
    }
}

name_enum! {
    /// How a responder moves, which sets the assumed speed.
    TravelMode ("a travel mode") {
        /// Walking.
        Foot = "foot",
        /// Bicycle or e-bike.
        Bike = "bike",
        /// Car or motorbike.
        Car = "car",
    }
}

name_enum! {
    /// What a coverage zone is.
    ZoneKind ("a zone kind") {
        /// A community grid (网格), the finest responsibility unit.
        Grid = "grid",
        /// A patrol beat, usually spanning several grids.
        Beat = "beat",
    }
}

name_enum! {
    /// API roles, in increasing power.
    Role ("a role") {
        /// A 喜邻 partner merchant's login, bound to one merchant: sees only its own
        /// merchant and offers. Lowest, so no viewer, operator or admin route admits it.
        Merchant = "merchant",
        /// Reads everything.
        Viewer = "viewer",
        /// Reads, and acts on incidents.
        Operator = "operator",
        /// Everything, including configuration.
        Admin = "admin",
    }
}

name_enum! {
    /// Whose an MQTT login is.
    AccountKind ("an MQTT account kind") {
        /// A responder's phone; the username is the responder id.
        Responder = "responder",
        /// An alert source; the username is `source-<id>`.
        Source = "source",
    }
}

/// Incident severity, 1 (most urgent) to 4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "u8")]
pub struct Severity(u8);

impl Severity {
    /// Checks that `n` is 1..=4.
    pub fn new(n: i64) -> Result<Severity, Invalid> {
        if (1..=4).contains(&n) {
            Ok(Severity(n as u8))
        } else {
            Err(Invalid::new(
                "severity",
                "must be 1 (most urgent) to 4 (least urgent)",
            ))
        }
    }

    /// 1..=4.
    pub fn get(self) -> u8 {
        self.0
    }
}

/// In the API's description: an integer 1..=4.
impl utoipa::PartialSchema for Severity {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::Integer)
            .minimum(Some(1))
            .maximum(Some(4))
            .description(Some("Severity, 1 (most urgent) to 4 (least urgent)."))
            .into()
    }
}
impl utoipa::ToSchema for Severity {}

impl TryFrom<i64> for Severity {
    type Error = Invalid;
    fn try_from(n: i64) -> Result<Severity, Invalid> {
        Severity::new(n)
    }
}

impl From<Severity> for u8 {
    fn from(s: Severity) -> u8 {
        s.0
    }
}

/// Longest stream address accepted.
pub const STREAM_URI_MAX_CHARS: usize = 2048;

/// Checks a camera stream address: `scheme://rest` (rtsp, http(s), file, srt, udp … —
/// whatever GStreamer's uridecodebin opens), no white space or control characters, at most
/// [`STREAM_URI_MAX_CHARS`]. Returns it trimmed.
///
/// ```
/// use griddispatch::domain::stream_uri;
/// assert!(stream_uri(" rtsp://10.0.0.5:554/ch1 ").is_ok());
/// assert!(stream_uri("file:///var/video/gate.mp4").is_ok());
/// assert!(stream_uri("10.0.0.5:554").is_err());
/// assert!(stream_uri("rtsp://a b").is_err());
/// ```
pub fn stream_uri(s: &str) -> Result<String, Invalid> {
    let s = s.trim();
    let bad = |why: &str| Err(Invalid::new("stream_uri", why));
    if s.chars().count() > STREAM_URI_MAX_CHARS {
        return bad("at most 2048 characters");
    }
    if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return bad("must not contain spaces or control characters");
    }
    let Some((scheme, rest)) = s.split_once("://") else {
        return bad("must be a URI such as rtsp://host:554/path, http://…, file:///path");
    };
    let scheme_ok = scheme
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !scheme_ok || rest.is_empty() {
        return bad("must be a URI such as rtsp://host:554/path, http://…, file:///path");
    }
    Ok(s.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ident_refuses_topic_characters() {
        for bad in ["", "a/b", "a+b", "#", "a b", &"x".repeat(65)] {
            assert!(Ident::parse(bad).is_err(), "{bad:?} accepted");
        }
        for good in ["w1", "grid-03", "cam_01.a", "src:frigate"] {
            assert!(Ident::parse(good).is_ok(), "{good:?} refused");
        }
    }

    #[test]
    fn enums_round_trip_their_names() {
        for k in ResponderKind::ALL {
            assert_eq!(k.as_str().parse::<ResponderKind>().unwrap(), *k);
        }
        assert!("cyclist".parse::<TravelMode>().is_err());
        assert!(Role::Admin > Role::Operator && Role::Operator > Role::Viewer);
        assert!(
            Role::Viewer > Role::Merchant,
            "a merchant gains no viewer power"
        );
    }

    /// Rows carry these enums now, so the JSON they serialize to must be the names the
    /// database holds (and the API always sent).
    #[test]
    fn json_and_stored_names_agree() {
        fn check<T: Serialize + Copy + fmt::Display>(all: &[T]) {
            for v in all {
                assert_eq!(serde_json::to_value(v).unwrap(), v.to_string());
            }
        }
        check(IncidentState::ALL);
        check(state::TaskStatus::ALL);
        check(ResponderKind::ALL);
        check(TravelMode::ALL);
        check(ZoneKind::ALL);
        check(Role::ALL);
        check(AccountKind::ALL);
        check(closed_loop::VerificationMode::ALL);
        check(closed_loop::TaskPurpose::ALL);
        use camera_health::CameraStatus;
        check(&[
            CameraStatus::Online,
            CameraStatus::Offline,
            CameraStatus::Unknown,
        ]);
        let bad = IncidentState::try_from("bogus".to_owned()).unwrap_err();
        assert_eq!(bad.to_string(), r#""bogus" is not an incident state"#);
    }

    #[test]
    fn severity_is_one_to_four() {
        assert!(Severity::new(0).is_err());
        assert!(Severity::new(5).is_err());
        assert_eq!(Severity::new(1).unwrap().get(), 1);
    }
}
