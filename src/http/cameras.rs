//! `/api/v1/cameras`: cameras one by one, and in bulk from CSV or GeoJSON (`import`).
//!
//! Every way in (create, patch, import) turns its body into a [`CameraInput`] and checks it
//! with the same [`check`], so the rules and the messages are the same everywhere.

mod import;

/// The camera import's parsers on `body` (CSV, else GeoJSON), for the fuzz target.
#[cfg(fuzzing)]
pub fn fuzz_import(csv: bool, body: &[u8]) {
    import::fuzz(csv, body);
}

use std::collections::HashSet;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::audit::handle::Audit;
use super::auth::{Admin, Viewer};
use super::error::{ApiError, JsonBody, Path, Query};
use super::page::PageQuery;
use super::AppState;
use crate::dispatch::Reload;
use crate::domain::zones::ZoneIndex;
use crate::domain::{Ident, Invalid, LatLon};
use crate::ingest::gb28181::is_device_id;
use crate::store::{found, CameraHistoryRow, CameraRow, CameraView};

/// Longest camera name accepted, in characters.
const NAME_MAX_CHARS: usize = 200;

/// Routes of this area.
pub fn router() -> OpenApiRouter<AppState> {
    // Its body limit is `http.limits.max_import_bytes` (64 MiB by default: a CSV line is
    // about 150 bytes and a GeoJSON feature about 300, so 50,000 cameras fit either way,
    // with generous names and stream URIs).
    let (schemas, paths, import) = routes!(import::import);
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes((schemas, paths, import.layer(DefaultBodyLimit::disable())))
        .routes(routes!(one, patch, remove))
        .routes(routes!(history))
}

/// A camera's fields as some body gave them, not yet checked; `None` = not given.
#[derive(Debug, Default, Clone)]
struct CameraInput {
    id: Option<String>,
    name: Option<String>,
    lat: Option<f64>,
    lon: Option<f64>,
    /// Not given: derived from the position.
    zone_id: Option<String>,
    stream_uri: Option<String>,
    gb28181_id: Option<String>,
    heading: Option<f64>,
    fov: Option<f64>,
    /// Not given: false.
    onvif_metadata: Option<bool>,
}

/// The stored zones, as needed to check and derive a camera's zone. Loaded once per
/// request, so an import of many rows reads the zones once.
struct Zones {
    index: ZoneIndex,
    ids: HashSet<String>,
}

impl Zones {
    async fn load(st: &AppState) -> Result<Zones, ApiError> {
        let rows = st.store.zones().await?;
        Ok(Zones {
            ids: rows.iter().map(|z| z.id.clone()).collect(),
            // The dispatcher's own rules, so a camera lands in the zone its alerts would.
            index: crate::dispatch::zone_index(&rows),
        })
    }
}

/// Checks every field and returns the row to store, or every problem found (each naming
/// its field).
fn check(input: CameraInput, zones: &Zones) -> Result<CameraRow, Vec<Invalid>> {
    let mut errors = Vec::new();
    let id = match input.id.as_deref().map(str::trim) {
        None | Some("") => {
            errors.push(Invalid::new("id", "required"));
            None
        }
        Some(id) => Ident::parse(id).map_err(|e| errors.push(e)).ok(),
    };
    let name = match input.name.as_deref().map(str::trim) {
        None | Some("") => {
            errors.push(Invalid::new("name", "required"));
            None
        }
        Some(n) if n.chars().count() > NAME_MAX_CHARS => {
            errors.push(Invalid::new(
                "name",
                format!("at most {NAME_MAX_CHARS} characters"),
            ));
            None
        }
        Some(n) => Some(n.to_owned()),
    };
    let at = match (input.lat, input.lon) {
        (Some(lat), Some(lon)) => LatLon::new(lat, lon).map_err(|e| errors.push(e)).ok(),
        (lat, lon) => {
            if lat.is_none() {
                errors.push(Invalid::new("lat", "required"));
            }
            if lon.is_none() {
                errors.push(Invalid::new("lon", "required"));
            }
            None
        }
    };
    let zone_id = match input.zone_id.as_deref().map(str::trim) {
        None | Some("") => at.and_then(|p| zones.index.locate(p).map(|z| z.id.to_string())),
        Some(z) if zones.ids.contains(z) => Some(z.to_owned()),
        Some(z) => {
            errors.push(Invalid::new("zone_id", format!("no zone {z}")));
            None
        }
    };
    let gb28181_id = match input.gb28181_id.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(g) if is_device_id(g) => Some(g.to_owned()),
        Some(_) => {
            errors.push(Invalid::new("gb28181_id", "must be exactly 20 digits"));
            None
        }
    };
    let stream_uri = match input.stream_uri.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(u) => crate::domain::stream_uri(u)
            .map_err(|e| errors.push(e))
            .ok(),
    };
    if let Some(h) = input.heading {
        if !(h.is_finite() && (0.0..=360.0).contains(&h)) {
            errors.push(Invalid::new(
                "heading",
                "must be degrees clockwise from north, 0 to 360",
            ));
        }
    }
    if let Some(f) = input.fov {
        if !(f.is_finite() && (1.0..=360.0).contains(&f)) {
            errors.push(Invalid::new("fov", "must be degrees, 1 to 360"));
        }
    }
    match (id, name, at) {
        (Some(id), Some(name), Some(at)) if errors.is_empty() => Ok(CameraRow {
            id: id.to_string(),
            name,
            lat: at.lat,
            lon: at.lon,
            zone_id,
            stream_uri,
            gb28181_id,
            heading: input.heading,
            fov: input.fov,
            onvif_metadata: input.onvif_metadata.unwrap_or(false),
        }),
        _ => Err(errors),
    }
}

/// All problems of one camera as one message, e.g. `lat: …; fov: …`.
fn joined(errors: &[Invalid]) -> String {
    errors
        .iter()
        .map(Invalid::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Body of `POST /api/v1/cameras`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateCamera {
    /// Camera id (Frigate's camera name for Frigate cameras).
    id: Ident,
    /// Display name, at most 200 characters.
    name: String,
    /// Latitude.
    lat: f64,
    /// Longitude.
    lon: f64,
    /// Zone; when not given, the zone containing the position.
    zone_id: Option<Ident>,
    /// Stream address (`rtsp://…` and the like).
    stream_uri: Option<String>,
    /// GB/T 28181 device id: exactly 20 digits, unique among cameras.
    gb28181_id: Option<String>,
    /// Degrees clockwise from north, 0–360.
    heading: Option<f64>,
    /// Field of view, degrees, 1–360.
    fov: Option<f64>,
    /// Publishes ONVIF analytics metadata (default false).
    onvif_metadata: Option<bool>,
}

/// Adds a camera.
#[utoipa::path(
    post,
    path = "/api/v1/cameras",
    tag = "cameras",
    request_body = CreateCamera,
    responses(
        (status = 201, description = "Created.", body = CameraRow),
        (status = 409, description = "The id, or the GB/T 28181 device id, is taken.",
         body = super::openapi::ErrorBody),
    )
)]
async fn create(
    _: Admin,
    State(st): State<AppState>,
    audit: Audit,
    JsonBody(body): JsonBody<CreateCamera>,
) -> Result<(StatusCode, Json<CameraRow>), ApiError> {
    audit.target(body.id.as_str());
    let input = CameraInput {
        id: Some(body.id.to_string()),
        name: Some(body.name),
        lat: Some(body.lat),
        lon: Some(body.lon),
        zone_id: body.zone_id.map(String::from),
        stream_uri: body.stream_uri,
        gb28181_id: body.gb28181_id,
        heading: body.heading,
        fov: body.fov,
        onvif_metadata: body.onvif_metadata,
    };
    let row =
        check(input, &Zones::load(&st).await?).map_err(|e| ApiError::Unprocessable(joined(&e)))?;
    st.store.create_camera(&row).await?;
    audit.after(&row);
    st.dispatcher.reload(Reload::Cameras).await?;
    Ok((StatusCode::CREATED, Json(row)))
}

/// Lists the cameras with their health, by id.
#[utoipa::path(
    get,
    path = "/api/v1/cameras",
    tag = "cameras",
    params(PageQuery),
    responses((status = 200, description = "A page of cameras (default and cap 5000).",
               body = Vec<CameraView>))
)]
async fn list(
    _: Viewer,
    State(st): State<AppState>,
    Query(q): Query<PageQuery>,
) -> Result<Response, ApiError> {
    let page = q.whole_list()?;
    let cameras = st.store.camera_views().await?;
    page.answer_sorted(cameras, |c| c.camera.id.as_str(), CameraView::clone)
}

/// A camera's status changes, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/cameras/{id}/history",
    tag = "cameras",
    params(("id" = String, Path, description = "Camera id"), PageQuery),
    responses((status = 200, description = "A page of status changes (default and cap 1000).",
               body = Vec<CameraHistoryRow>))
)]
async fn history(
    _: Viewer,
    State(st): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<PageQuery>,
) -> Result<Response, ApiError> {
    let page = super::page::Page::new(q.cursor.as_deref(), q.limit, 1000, 1000)?;
    let before = match page.after_key(1)? {
        Some([seq]) => Some(super::page::key_i64(seq)?),
        _ => None,
    };
    let rows = st.store.camera_history(&id, before, page.fetch()).await?;
    Ok(page.answer(rows, |r| vec![r.seq.into()], CameraHistoryRow::clone))
}

/// One camera with its health.
#[utoipa::path(
    get,
    path = "/api/v1/cameras/{id}",
    tag = "cameras",
    params(("id" = String, Path, description = "Camera id")),
    responses((status = 200, description = "The camera.", body = CameraView))
)]
async fn one(
    _: Viewer,
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<CameraView>, ApiError> {
    Ok(Json(st.store.camera_view(&id).await?))
}

/// Body of `PATCH /api/v1/cameras/{id}`: only the fields given change; `null` clears an
/// optional field, and for `zone_id` means "derive it from the position again".
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct PatchCamera {
    /// Display name, at most 200 characters.
    name: Option<String>,
    /// Latitude; moving a camera keeps its zone unless `zone_id` is given too.
    lat: Option<f64>,
    /// Longitude.
    lon: Option<f64>,
    /// The zone; `null` derives it from the (new) position.
    #[serde(default, with = "serde_with::rust::double_option")]
    zone_id: Option<Option<Ident>>,
    /// Stream address; `null` clears it.
    #[serde(default, with = "serde_with::rust::double_option")]
    stream_uri: Option<Option<String>>,
    /// GB/T 28181 device id (20 digits); `null` clears it.
    #[serde(default, with = "serde_with::rust::double_option")]
    gb28181_id: Option<Option<String>>,
    /// Degrees clockwise from north, 0–360; `null` clears it.
    #[serde(default, with = "serde_with::rust::double_option")]
    heading: Option<Option<f64>>,
    /// Field of view, degrees, 1–360; `null` clears it.
    #[serde(default, with = "serde_with::rust::double_option")]
    fov: Option<Option<f64>>,
    /// Publishes ONVIF analytics metadata.
    onvif_metadata: Option<bool>,
}

/// Changes a camera: only the fields given change.
#[utoipa::path(
    patch,
    path = "/api/v1/cameras/{id}",
    tag = "cameras",
    params(("id" = String, Path, description = "Camera id")),
    request_body = PatchCamera,
    responses(
        (status = 200, description = "The camera as changed.", body = CameraRow),
        (status = 409, description = "The GB/T 28181 device id belongs to another camera.",
         body = super::openapi::ErrorBody),
    )
)]
async fn patch(
    _: Admin,
    State(st): State<AppState>,
    audit: Audit,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<PatchCamera>,
) -> Result<Json<CameraRow>, ApiError> {
    let cur = st.store.camera(&id).await?;
    audit.before(&cur);
    // Moving a camera without naming a zone keeps its zone: an administrator may have set
    // it on purpose. `zone_id: null` asks for the zone of the (new) position.
    let input = CameraInput {
        id: Some(cur.id),
        name: Some(body.name.unwrap_or(cur.name)),
        lat: Some(body.lat.unwrap_or(cur.lat)),
        lon: Some(body.lon.unwrap_or(cur.lon)),
        zone_id: match body.zone_id {
            Some(z) => z.map(String::from),
            None => cur.zone_id,
        },
        stream_uri: body.stream_uri.unwrap_or(cur.stream_uri),
        gb28181_id: body.gb28181_id.unwrap_or(cur.gb28181_id),
        heading: body.heading.unwrap_or(cur.heading),
        fov: body.fov.unwrap_or(cur.fov),
        onvif_metadata: Some(body.onvif_metadata.unwrap_or(cur.onvif_metadata)),
    };
    let row =
        check(input, &Zones::load(&st).await?).map_err(|e| ApiError::Unprocessable(joined(&e)))?;
    st.store.update_camera(&row).await?;
    audit.after(&row);
    st.dispatcher.reload(Reload::Cameras).await?;
    Ok(Json(row))
}

/// Deletes a camera.
#[utoipa::path(
    delete,
    path = "/api/v1/cameras/{id}",
    tag = "cameras",
    params(("id" = String, Path, description = "Camera id")),
    responses((status = 204, description = "Deleted."))
)]
async fn remove(
    _: Admin,
    State(st): State<AppState>,
    audit: Audit,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    if let Some(old) = found(st.store.camera(&id).await)? {
        audit.before(&old);
    }
    st.store.delete_camera(&id).await?;
    st.dispatcher.reload(Reload::Cameras).await?;
    Ok(StatusCode::NO_CONTENT)
}
