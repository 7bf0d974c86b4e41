//! `/api/v1/cameras`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::{Admin, Viewer};
use super::error::{ApiError, JsonBody};
use super::AppState;
use crate::dispatch::Reload;
use crate::domain::{Ident, LatLon};
use crate::ingest::gb28181::is_device_id;
use crate::store::CameraRow;

/// Routes of this area.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/cameras", get(list).post(create))
}

/// Body of `POST /api/v1/cameras`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateCamera {
    id: Ident,
    name: String,
    lat: f64,
    lon: f64,
    zone_id: Option<Ident>,
    stream_uri: Option<String>,
    /// GB/T 28181 device id: exactly 20 digits, unique among cameras.
    gb28181_id: Option<String>,
}

async fn create(
    _: Admin,
    State(st): State<AppState>,
    JsonBody(body): JsonBody<CreateCamera>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let at = LatLon::new(body.lat, body.lon)?;
    let zone_id = match body.zone_id {
        Some(z) => Some(z.to_string()),
        // Derived from the position when not given, with the dispatcher's own zone rules.
        None => crate::dispatch::zone_index(&st.store.zones().await?)
            .locate(at)
            .map(|z| z.id.to_string()),
    };
    let name = body.name.trim().to_owned();
    if name.is_empty() {
        return Err(ApiError::Unprocessable("name: required".into()));
    }
    let gb28181_id = match body.gb28181_id.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(id) if is_device_id(id) => Some(id.to_owned()),
        Some(_) => {
            return Err(ApiError::Unprocessable(
                "gb28181_id: must be exactly 20 digits".into(),
            ))
        }
    };
    let row = CameraRow {
        id: body.id.to_string(),
        name,
        lat: at.lat,
        lon: at.lon,
        zone_id,
        stream_uri: body.stream_uri.filter(|s| !s.trim().is_empty()),
        gb28181_id,
    };
    st.store.create_camera(&row).await?;
    st.dispatcher.reload(Reload::Cameras).await?;
    Ok((StatusCode::CREATED, Json(json!(row))))
}

async fn list(_: Viewer, State(st): State<AppState>) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!(st.store.cameras().await?)))
}
