//! `POST /api/v1/cameras/import`: many cameras at once, from CSV or a GeoJSON
//! FeatureCollection, all or nothing.
//!
//! Every row is parsed and checked before anything is written, so the answer to a bad file
//! lists every bad row (up to [`MAX_REPORTED`]) and an administrator fixes the file in one
//! go. Rows are numbered from 1 (CSV records after the header, GeoJSON features); row 0
//! is the file itself (its header, or a body that is not a FeatureCollection).

use std::collections::{HashMap, HashSet};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use utoipa::ToSchema;

use super::{check, joined, CameraInput, Zones};
use crate::dispatch::Reload;
use crate::http::audit::handle::Audit;
use crate::http::auth::Admin;
use crate::http::error::ApiError;
use crate::http::zones::{CollectionTag, FeatureTag};
use crate::http::AppState;
use crate::store::CameraRow;

/// Most row errors listed in one answer; the count of the rest is given.
pub const MAX_REPORTED: usize = 1000;

/// Column names a CSV header may use, in the documented order.
const COLUMNS: [&str; 10] = [
    "id",
    "name",
    "lat",
    "lon",
    "zone_id",
    "stream_uri",
    "gb28181_id",
    "heading",
    "fov",
    "onvif_metadata",
];

/// Columns a CSV file must have.
const REQUIRED: [&str; 4] = ["id", "name", "lat", "lon"];

/// Properties a GeoJSON feature may have (its position is the Point's coordinates).
const PROPERTIES: [&str; 8] = [
    "id",
    "name",
    "zone_id",
    "stream_uri",
    "gb28181_id",
    "heading",
    "fov",
    "onvif_metadata",
];

/// One problem, with where it is.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(super) struct RowError {
    /// 1-based row (record or feature); 0 for the file as a whole.
    row: usize,
    /// The row's id as written, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    /// What is wrong, naming the field.
    error: String,
}

impl RowError {
    fn file(error: impl Into<String>) -> RowError {
        RowError {
            row: 0,
            id: None,
            error: error.into(),
        }
    }
}

/// What a body held: the rows that could be read, and the problems met reading it.
#[derive(Debug, Default)]
struct Parsed {
    rows: Vec<(usize, CameraInput)>,
    errors: Vec<RowError>,
}

/// The answer to an import that stored its cameras.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct Imported {
    /// Cameras in the file, all stored.
    imported: usize,
    /// Of those, new.
    created: usize,
    /// Of those, existing cameras overwritten.
    updated: usize,
    /// Always empty here (the field is shared with the refusal).
    errors: Vec<RowError>,
}

/// The answer to an import refused: nothing stored. An error answer (it has `error`, as
/// every error answer), with every problem listed.
#[derive(Debug, Serialize)]
struct Refused {
    /// Always 0.
    imported: usize,
    /// What went wrong, in one sentence.
    error: String,
    /// The problems, by row, up to [`MAX_REPORTED`].
    errors: Vec<RowError>,
    /// Problems not listed.
    more_errors: usize,
}

// The body as the API document describes it. The import reads the body itself, CSV or
// GeoJSON, row by row (to report every bad row rather than the first), so these types are
// never built: they exist for their schema alone.

/// A GeoJSON FeatureCollection of cameras.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub(super) struct CameraCollection {
    /// `FeatureCollection`.
    #[serde(rename = "type")]
    kind: CollectionTag,
    /// One Point feature per camera.
    features: Vec<CameraFeature>,
}

/// One camera as a GeoJSON Point feature.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub(super) struct CameraFeature {
    /// `Feature`.
    #[serde(rename = "type")]
    kind: FeatureTag,
    /// The camera id, when `properties.id` is not given.
    id: Option<String>,
    /// A GeoJSON Point, `{"type": "Point", "coordinates": [lon, lat]}` (an altitude is
    /// ignored).
    #[schema(value_type = Object)]
    geometry: Value,
    /// The camera's fields: `id`, `name` (required), `zone_id`, `stream_uri`,
    /// `gb28181_id`, `heading`, `fov`, `onvif_metadata`, as in `POST /api/v1/cameras`;
    /// any other property is an error.
    #[schema(value_type = Object)]
    properties: Option<Map<String, Value>>,
}

/// Adds or replaces many cameras at once from CSV or a GeoJSON FeatureCollection of Point
/// features, all or nothing.
///
/// CSV when the content type is `text/csv`, or when it is not JSON and the body does not
/// start with `{`; the header names the columns (`id,name,lat,lon` required, then any of
/// `zone_id,stream_uri,gb28181_id,heading,fov,onvif_metadata`). Every row is checked
/// before anything is stored; a refusal (422) lists every bad row: besides `error` it has
/// `imported` (0), `errors` (`[{row, id?, error}]`, rows from 1, row 0 the file itself, up
/// to 1000) and `more_errors` (how many more). At most `video.camera_import_max_rows`
/// cameras per file.
#[utoipa::path(
    post,
    path = "/api/v1/cameras/import",
    tag = "cameras",
    request_body(content(
        (String = "text/csv"),
        (CameraCollection = "application/geo+json"),
        (CameraCollection = "application/json")
    )),
    responses((status = 200, description = "Every camera stored.", body = Imported))
)]
pub(super) async fn import(
    _: Admin,
    State(st): State<AppState>,
    audit: Audit,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let max_rows = st.camera_import_max_rows;
    let csv = is_csv(&headers, without_bom(&body));
    // Parsing tens of megabytes is CPU work: off the async workers.
    let parsed = tokio::task::spawn_blocking(move || {
        let body = without_bom(&body);
        if csv {
            parse_csv(body, max_rows)
        } else {
            parse_geojson(body, max_rows)
        }
    })
    .await
    .map_err(|e| ApiError::Internal(anyhow::anyhow!("parsing a camera import: {e}")))?;
    let Parsed { rows, mut errors } = match parsed {
        Ok(parsed) => parsed,
        Err(too_many) => return Ok(refused_whole(too_many)),
    };
    let zones = Zones::load(&st).await?;
    let stored = st.store.cameras().await?;
    let good = check_all(rows, &zones, &stored, &mut errors);
    if !errors.is_empty() {
        return Ok(refused(errors));
    }
    let counts = st.store.import_cameras(&good).await?;
    // One entry per camera, each with what it was (as read for the checks) and is now.
    let mut before: HashMap<String, CameraRow> =
        stored.into_iter().map(|c| (c.id.clone(), c)).collect();
    for c in &good {
        audit.item(&c.id, before.remove(&c.id).as_ref(), Some(c));
    }
    st.dispatcher.reload(Reload::Cameras).await?;
    Ok(Json(Imported {
        imported: good.len(),
        created: counts.created,
        updated: counts.updated,
        errors: Vec::new(),
    })
    .into_response())
}

/// `body` without a leading UTF-8 byte order mark.
fn without_bom(body: &[u8]) -> &[u8] {
    body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body)
}

/// CSV when the caller says so (`text/csv`) or, without a JSON content type, when the body
/// does not start like a JSON object.
fn is_csv(headers: &HeaderMap, body: &[u8]) -> bool {
    let ctype = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if ctype.starts_with("text/csv") {
        return true;
    }
    if ctype.contains("json") {
        return false;
    }
    body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{')
}

/// The 422 answer: nothing stored, every problem listed up to the cap.
fn refused(mut errors: Vec<RowError>) -> Response {
    errors.sort_by_key(|e| e.row);
    let rows: HashSet<usize> = errors.iter().map(|e| e.row).collect();
    let more = errors.len().saturating_sub(MAX_REPORTED);
    errors.truncate(MAX_REPORTED);
    let body = Refused {
        imported: 0,
        error: format!(
            "nothing imported: problems in {} row(s); see errors",
            rows.len()
        ),
        errors,
        more_errors: more,
    };
    (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response()
}

/// The 422 answer for a file refused as a whole, before its rows were checked.
fn refused_whole(error: String) -> Response {
    let body = Refused {
        imported: 0,
        error: format!("nothing imported: {error}"),
        errors: vec![RowError::file(error)],
        more_errors: 0,
    };
    (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response()
}

/// Why a file with more than `max_rows` rows is refused (security review, issue 12
/// finding 9: a million rows held SQLite's one writer for a minute).
fn too_many_rows(max_rows: usize) -> String {
    format!(
        "more than {max_rows} cameras in one file (video.camera_import_max_rows); split the file"
    )
}

/// Checks each row alone, then against the others and the stored cameras. Returns the good
/// rows; problems go to `errors`.
fn check_all(
    rows: Vec<(usize, CameraInput)>,
    zones: &Zones,
    stored: &[CameraRow],
    errors: &mut Vec<RowError>,
) -> Vec<CameraRow> {
    // Device ids of stored cameras. One that the file also lists ends up with what the file
    // says, so only cameras the file leaves alone can clash with a row.
    let in_file: HashSet<String> = rows
        .iter()
        .filter_map(|(_, r)| r.id.as_deref().map(|s| s.trim().to_owned()))
        .collect();
    let kept_devices: HashMap<&str, &str> = stored
        .iter()
        .filter(|c| !in_file.contains(&c.id))
        .filter_map(|c| c.gb28181_id.as_deref().map(|g| (g, c.id.as_str())))
        .collect();
    let mut first_with_id: HashMap<String, usize> = HashMap::new();
    let mut first_with_device: HashMap<String, usize> = HashMap::new();
    let mut good = Vec::with_capacity(rows.len());
    for (row, input) in rows {
        let id = input.id.as_deref().map(|s| s.trim().to_owned());
        let mut problems = Vec::new();
        if let Some(id) = id.as_ref().filter(|s| !s.is_empty()) {
            if let Some(first) = first_with_id.get(id) {
                problems.push(format!("id: duplicate of row {first}"));
            } else {
                first_with_id.insert(id.clone(), row);
            }
        }
        match check(input, zones) {
            Ok(cam) => {
                if let Some(g) = cam.gb28181_id.as_deref() {
                    if let Some(first) = first_with_device.get(g) {
                        problems.push(format!("gb28181_id: {g} is also on row {first}"));
                    } else {
                        first_with_device.insert(g.to_owned(), row);
                    }
                    if let Some(owner) = kept_devices.get(g) {
                        problems.push(format!("gb28181_id: {g} belongs to camera {owner}"));
                    }
                }
                if problems.is_empty() {
                    good.push(cam);
                }
            }
            Err(invalid) => problems.insert(0, joined(&invalid)),
        }
        if !problems.is_empty() {
            errors.push(RowError {
                row,
                id,
                error: problems.join("; "),
            });
        }
    }
    good
}

// ---- CSV ---------------------------------------------------------------------------------

/// One CSV record as text; which columns exist is checked on the header first. Absent
/// columns and empty cells are `None`.
#[derive(Debug, Deserialize)]
struct CsvRecord {
    id: Option<String>,
    name: Option<String>,
    lat: Option<String>,
    lon: Option<String>,
    zone_id: Option<String>,
    stream_uri: Option<String>,
    gb28181_id: Option<String>,
    heading: Option<String>,
    fov: Option<String>,
    onvif_metadata: Option<String>,
}

/// Both parsers, for the fuzz target (`crate::fuzz`).
#[cfg(fuzzing)]
pub(super) fn fuzz(csv: bool, body: &[u8]) {
    let _ = if csv {
        parse_csv(body, 1_000)
    } else {
        parse_geojson(body, 1_000)
    };
}

/// The rows of a CSV body; `Err` when it has more than `max_rows`.
fn parse_csv(body: &[u8], max_rows: usize) -> Result<Parsed, String> {
    let mut parsed = Parsed::default();
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(body);
    let header = match reader.headers() {
        Ok(h) => h.clone(),
        Err(e) => {
            parsed.errors.push(RowError::file(format!(
                "header: cannot be read: {}",
                csv_reason(&e)
            )));
            return Ok(parsed);
        }
    };
    if !check_header(&header, &mut parsed.errors) {
        return Ok(parsed);
    }
    for (i, record) in reader.deserialize::<CsvRecord>().enumerate() {
        let row = i + 1;
        if row > max_rows {
            return Err(too_many_rows(max_rows));
        }
        match record {
            Ok(r) => match typed(r) {
                Ok(input) => parsed.rows.push((row, input)),
                Err((id, error)) => parsed.errors.push(RowError { row, id, error }),
            },
            Err(e) => {
                let stop = matches!(e.kind(), csv::ErrorKind::Io(_));
                parsed.errors.push(RowError {
                    row,
                    id: None,
                    error: csv_reason(&e),
                });
                // Reading from memory cannot fail, but a reader that did would fail forever.
                if stop {
                    break;
                }
            }
        }
    }
    Ok(parsed)
}

/// Whether rows can be read with this header. Unknown columns are an error but the rows
/// are still checked, so one answer shows everything; missing or repeated known columns
/// make the rows unreadable.
fn check_header(header: &csv::StringRecord, errors: &mut Vec<RowError>) -> bool {
    let expected = format!(
        "expected {}[,{}]",
        REQUIRED.join(","),
        COLUMNS[REQUIRED.len()..].join(",")
    );
    let names: Vec<&str> = header.iter().collect();
    let unknown: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| !COLUMNS.contains(n))
        .collect();
    let missing: Vec<&str> = REQUIRED
        .iter()
        .copied()
        .filter(|c| !names.contains(c))
        .collect();
    let repeated: Vec<&str> = COLUMNS
        .iter()
        .copied()
        .filter(|c| names.iter().filter(|n| *n == c).count() > 1)
        .collect();
    if !unknown.is_empty() {
        errors.push(RowError::file(format!(
            "columns: unknown {} ({expected})",
            unknown.join(", ")
        )));
    }
    if !missing.is_empty() {
        errors.push(RowError::file(format!(
            "columns: missing {} ({expected})",
            missing.join(", ")
        )));
    }
    if !repeated.is_empty() {
        errors.push(RowError::file(format!(
            "columns: {} given more than once",
            repeated.join(", ")
        )));
    }
    missing.is_empty() && repeated.is_empty()
}

/// A csv error without the crate's own position prefix (the row number is given apart).
fn csv_reason(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("has {len} field(s), the header has {expected_len}"),
        csv::ErrorKind::Utf8 { .. } => "not valid UTF-8".to_owned(),
        _ => e.to_string(),
    }
}

/// Text cells to typed fields; the error names every cell that is not what its column
/// holds, and carries the row's id for the report.
fn typed(r: CsvRecord) -> Result<CameraInput, (Option<String>, String)> {
    let mut problems = Vec::new();
    let mut number = |field: &str, cell: Option<String>| -> Option<f64> {
        let cell = cell.filter(|s| !s.is_empty())?;
        match cell.parse::<f64>() {
            Ok(v) => Some(v),
            Err(_) => {
                problems.push(format!("{field}: not a number: {cell:?}"));
                None
            }
        }
    };
    let lat = number("lat", r.lat);
    let lon = number("lon", r.lon);
    let heading = number("heading", r.heading);
    let fov = number("fov", r.fov);
    let onvif_metadata = match r.onvif_metadata.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(v) => match v.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => Some(true),
            "false" | "0" | "no" => Some(false),
            _ => {
                problems.push(format!("onvif_metadata: must be true or false, not {v:?}"));
                None
            }
        },
    };
    if !problems.is_empty() {
        return Err((r.id, problems.join("; ")));
    }
    Ok(CameraInput {
        id: r.id,
        name: r.name,
        lat,
        lon,
        zone_id: r.zone_id,
        stream_uri: r.stream_uri,
        gb28181_id: r.gb28181_id,
        heading,
        fov,
        onvif_metadata,
    })
}

// ---- GeoJSON -----------------------------------------------------------------------------

/// The features of a GeoJSON body; `Err` when it has more than `max_rows`.
fn parse_geojson(body: &[u8], max_rows: usize) -> Result<Parsed, String> {
    let mut parsed = Parsed::default();
    let features = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(mut o)) if o.get("type") == Some(&json!("FeatureCollection")) => {
            match o.remove("features") {
                Some(Value::Array(f)) => f,
                _ => {
                    parsed
                        .errors
                        .push(RowError::file("features: must be an array"));
                    return Ok(parsed);
                }
            }
        }
        Ok(_) => {
            parsed.errors.push(RowError::file(
                "expected a GeoJSON FeatureCollection of Point features, or CSV",
            ));
            return Ok(parsed);
        }
        Err(e) => {
            parsed
                .errors
                .push(RowError::file(format!("not valid JSON: {e}")));
            return Ok(parsed);
        }
    };
    if features.len() > max_rows {
        return Err(too_many_rows(max_rows));
    }
    for (i, f) in features.into_iter().enumerate() {
        let row = i + 1;
        match feature(f) {
            Ok(input) => parsed.rows.push((row, input)),
            Err((id, error)) => parsed.errors.push(RowError { row, id, error }),
        }
    }
    Ok(parsed)
}

/// One Point feature to fields; the error names every property that is not what it should
/// be, and carries the feature's id for the report.
fn feature(f: Value) -> Result<CameraInput, (Option<String>, String)> {
    let Value::Object(mut f) = f else {
        return Err((None, "feature: must be a GeoJSON Feature object".into()));
    };
    let mut props: Map<String, Value> = match f.remove("properties") {
        Some(Value::Object(p)) => p,
        None | Some(Value::Null) => Map::new(),
        Some(_) => return Err((None, "properties: must be an object".into())),
    };
    // The id may also sit on the feature itself, where GeoJSON puts it.
    if !props.contains_key("id") {
        if let Some(id) = f.remove("id") {
            props.insert("id".into(), id);
        }
    }
    let id = props.get("id").and_then(Value::as_str).map(str::to_owned);
    let mut problems = Vec::new();
    if f.get("type") != Some(&json!("Feature")) {
        problems.push("type: must be \"Feature\"".to_owned());
    }
    let (lat, lon) = match point(f.get("geometry")) {
        Ok((lat, lon)) => (Some(lat), Some(lon)),
        Err(e) => {
            problems.push(e);
            (None, None)
        }
    };
    let unknown: Vec<&str> = props
        .keys()
        .map(String::as_str)
        .filter(|k| !PROPERTIES.contains(k))
        .collect();
    if !unknown.is_empty() {
        problems.push(format!(
            "properties: unknown {} (expected {})",
            unknown.join(", "),
            PROPERTIES.join(", ")
        ));
    }
    let mut text = |key: &str| match props.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            problems.push(format!("{key}: must be text"));
            None
        }
    };
    let id_text = text("id");
    let name = text("name");
    let zone_id = text("zone_id");
    let stream_uri = text("stream_uri");
    let gb28181_id = text("gb28181_id");
    let mut number = |key: &str| match props.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => n.as_f64(),
        Some(_) => {
            problems.push(format!("{key}: must be a number"));
            None
        }
    };
    let heading = number("heading");
    let fov = number("fov");
    let onvif_metadata = match props.get("onvif_metadata") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(_) => {
            problems.push("onvif_metadata: must be true or false".to_owned());
            None
        }
    };
    if !problems.is_empty() {
        return Err((id, problems.join("; ")));
    }
    Ok(CameraInput {
        id: id_text,
        name,
        lat,
        lon,
        zone_id,
        stream_uri,
        gb28181_id,
        heading,
        fov,
        onvif_metadata,
    })
}

/// The (lat, lon) of a Point geometry given as `[lon, lat]` (an altitude is ignored).
fn point(geometry: Option<&Value>) -> Result<(f64, f64), String> {
    let g = geometry
        .filter(|g| !g.is_null())
        .ok_or("geometry: missing; must be a Point [lon, lat]")?;
    if g.get("type") != Some(&json!("Point")) {
        return Err("geometry: must be a Point [lon, lat]".into());
    }
    match g
        .get("coordinates")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
    {
        Some([lon, lat, ..]) => match (lon.as_f64(), lat.as_f64()) {
            (Some(lon), Some(lat)) => Ok((lat, lon)),
            _ => Err("geometry.coordinates: must be numbers [lon, lat]".into()),
        },
        _ => Err("geometry.coordinates: must be [lon, lat]".into()),
    }
}
