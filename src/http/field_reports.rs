//! `POST /api/v1/field/reports`: a problem reported from the phone (随手拍) by a volunteer
//! or a worker, with their position and, usually, a photo. It becomes an alert from the
//! source `field:<responder id>` and is dispatched like any other; the photo is kept with
//! the incident like a camera's snapshot.
//!
//! The phone signs in with its MQTT login as HTTP Basic, as it does for snapshots.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use axum::extract::{FromRequest, Request, State};
use axum::http::StatusCode;
use axum::Json;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::audit::handle::Audit;
use super::auth::Phone;
use super::error::{ApiError, JsonBody};
use super::AppState;
use crate::domain::alert::{field_source, AlertPayload, NewAlert, Photo, SnapshotSource};
use crate::store::now_ms;

/// Routes of this area.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(report))
}

/// The window `field.max_reports_per_hour` counts in, milliseconds.
const HOUR_MS: i64 = 3_600_000;

/// When each login's reports of the last hour came: a phone, lost or tampered with, may
/// store at most `field.max_reports_per_hour` photos of 4 MiB an hour. Kept per login, of
/// which there are as many as workers, each with at most that many times.
#[derive(Debug)]
pub struct Quota {
    per_hour: usize,
    sent: Mutex<HashMap<String, VecDeque<i64>>>,
}

impl Quota {
    /// At most `per_hour` reports from one login in any hour.
    pub fn new(per_hour: u32) -> Quota {
        Quota {
            per_hour: per_hour as usize,
            sent: Mutex::new(HashMap::new()),
        }
    }

    /// Counts a report from `login` at `now` (ms), or gives the seconds until it may
    /// send the next.
    fn take(&self, login: &str, now: i64) -> Result<(), u64> {
        let mut sent = self
            .sent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Forget logins that sent nothing within the hour, now and then, so the map holds
        // only the recently active.
        if sent.len() > 1024 && now % 64 == 0 {
            sent.retain(|_, times| times.back().is_some_and(|t| now - t < HOUR_MS));
        }
        let times = sent.entry(login.to_owned()).or_default();
        while times.front().is_some_and(|t| now - t >= HOUR_MS) {
            times.pop_front();
        }
        if times.len() >= self.per_hour {
            let oldest = times.front().copied().unwrap_or(now);
            let wait_ms = (oldest + HOUR_MS - now).max(1000);
            return Err((wait_ms as u64).div_ceil(1000));
        }
        times.push_back(now);
        Ok(())
    }
}

/// The severity of a report that does not say (3: handled within the day by default).
const DEFAULT_SEVERITY: i64 = 3;

/// What the phone sends (JSON; the photo inside it as base64).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ReportBody {
    /// The phone's own id for this report (1–128 bytes, printable): sent again after a
    /// lost answer, it is the same report.
    request_id: String,
    /// What kind of problem (`litter`, `flood`, `fall`, …).
    kind: String,
    /// 1 (most urgent) to 4; 3 when not given.
    severity: Option<i64>,
    /// What the reporter saw, in their words.
    note: Option<String>,
    /// Where, WGS-84 degrees (the phone's position).
    lat: f64,
    /// Where, WGS-84 degrees.
    lon: f64,
    /// An address, if the reporter gave one.
    address: Option<String>,
    /// A JPEG, base64 (standard alphabet), at most 4 MiB once decoded.
    photo: Option<String>,
}

/// Decodes the photo: base64 of a JPEG.
fn photo(text: &str) -> Result<Photo, ApiError> {
    // Base64 is 4 characters for 3 bytes: refuse what cannot fit before decoding it.
    if text.len() > Photo::MAX_BYTES / 3 * 4 + 4 {
        return Err(ApiError::Unprocessable("photo: at most 4 MiB".into()));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|_| ApiError::Unprocessable("photo: must be base64".into()))?;
    Photo::parse(bytes).map_err(|e| ApiError::Unprocessable(e.to_string()))
}

/// What became of a report: as for an alert, and whether a photo came with it.
#[derive(Debug, Serialize, ToSchema)]
struct ReportAccepted {
    /// Our id of the alert it became.
    alert_id: String,
    /// The incident it opened or joined.
    incident_id: String,
    /// The same `request_id` was sent before: the same report, nothing changed (no second
    /// photo).
    duplicate: bool,
    /// It joined an open incident.
    correlated: bool,
    /// A photo came with it.
    photo: bool,
}

/// A problem reported from the phone (随手拍).
///
/// By a volunteer or a worker, with the responder's MQTT login as HTTP Basic. It becomes an
/// alert from the source `field:<responder id>`, dispatched like any other (never offered
/// to its reporter); the photo becomes a snapshot of its incident. The same `request_id`
/// again is the same report.
#[utoipa::path(
    post,
    path = "/api/v1/field/reports",
    tag = "field",
    security(("phone" = [])),
    request_body = ReportBody,
    responses(
        (status = 202, description = "Taken; dispatching goes on.", body = ReportAccepted),
        (status = 429, description = "More than `field.max_reports_per_hour` reports from this \
login within the last hour (resent ones included); `Retry-After` gives the seconds until its \
oldest leaves the hour.", body = super::openapi::ErrorBody),
    )
)]
async fn report(
    Phone(rid): Phone,
    State(st): State<AppState>,
    audit: Audit,
    req: Request,
) -> Result<(StatusCode, Json<ReportAccepted>), ApiError> {
    // Counted before the body is read: a login past its quota costs no upload or decode.
    // A report sent again after a lost answer counts again; the quota is far above what a
    // worker sends.
    if let Err(secs) = st.field_reports.take(rid.as_str(), now_ms()) {
        st.metrics.field_reports_limited_total.inc();
        return Err(ApiError::TooManyRequests(
            format!(
                "at most {} field reports an hour (field.max_reports_per_hour)",
                st.field_reports.per_hour
            ),
            secs,
        ));
    }
    let JsonBody(body) = JsonBody::<ReportBody>::from_request(req, &st).await?;
    let source = field_source(&rid)?;
    let picture = body.photo.as_deref().map(photo).transpose()?;
    let payload = AlertPayload {
        id: body.request_id,
        kind: body.kind,
        severity: body.severity.unwrap_or(DEFAULT_SEVERITY),
        lat: Some(body.lat),
        lon: Some(body.lon),
        camera_id: None,
        time: None,
        description: body.note,
        address: body.address,
        rendezvous: None,
    };
    // The phone calls the alert's id `request_id`.
    let mut alert = NewAlert::from_payload(source, payload, now_ms()).map_err(|mut e| {
        if e.field == "id" {
            e.field = "request_id".into();
        }
        e
    })?;
    alert.snapshot = match &picture {
        Some(p) => SnapshotSource::Photo(p.clone()),
        None => SnapshotSource::None,
    };
    let outcome = st.dispatcher.alert(alert).await?;
    tracing::info!(responder = %rid, incident = %outcome.incident_id, photo = picture.is_some(), duplicate = outcome.duplicate, "report from the field");
    let answer = ReportAccepted {
        alert_id: outcome.alert_id,
        incident_id: outcome.incident_id,
        duplicate: outcome.duplicate,
        correlated: outcome.correlated,
        photo: picture.is_some(),
    };
    // The report is the alert it became; the entry says which incident it opened or
    // joined (its photo is not copied into the log).
    audit.target(answer.alert_id.as_str());
    audit.after(&answer);
    Ok((StatusCode::ACCEPTED, Json(answer)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_login_sends_its_hourly_quota_then_waits_for_the_oldest_to_age_out() {
        let quota = Quota::new(2);
        assert_eq!(quota.take("w1", 0), Ok(()));
        assert_eq!(quota.take("w1", 600_000), Ok(()));
        assert_eq!(
            quota.take("w1", 900_000),
            Err(2700),
            "45 min until the first ages out"
        );
        assert_eq!(
            quota.take("w2", 900_000),
            Ok(()),
            "another login has its own quota"
        );
        assert_eq!(quota.take("w1", HOUR_MS), Ok(()));
    }

    #[test]
    fn a_photo_must_be_base64_of_a_jpeg() {
        let jpeg = [0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10];
        let text = base64::engine::general_purpose::STANDARD.encode(jpeg);
        assert_eq!(photo(&text).map(|p| p.bytes().len()).ok(), Some(6));
        let png = base64::engine::general_purpose::STANDARD.encode(b"\x89PNG\r\n");
        assert!(photo(&png).is_err());
        assert!(photo("not base64 at all!").is_err());
        let huge = "A".repeat(Photo::MAX_BYTES / 3 * 4 + 8);
        assert!(photo(&huge).is_err());
    }
}
