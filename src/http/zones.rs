//! `/api/v1/zones`: coverage zones as GeoJSON.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::audit::handle::Audit;
use super::auth::{Admin, Viewer};
use super::error::{ApiError, JsonBody, Path, Query};
use super::page::PageQuery;
use super::AppState;
use crate::dispatch::Reload;
use crate::domain::zones::to_multipolygon;
use crate::domain::{Ident, Invalid, ZoneKind};
use crate::store::ZoneRow;

/// Routes of this area.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        // A county's zone file can be tens of megabytes: `http.limits.max_import_bytes`.
        .routes(routes!(import))
        .routes(routes!(replace, remove))
}

/// The `type` of a GeoJSON Feature.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub(super) enum FeatureTag {
    /// The only value.
    Feature,
}

/// The `type` of a GeoJSON FeatureCollection.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub(super) enum CollectionTag {
    /// The only value.
    FeatureCollection,
}

/// A zone as a GeoJSON Feature (RFC 7946). Its geometry and its extra properties are
/// free-form on purpose: zones come from GIS tools, which keep their own attributes, and
/// they are given back as they came.
#[derive(Debug, Serialize, ToSchema)]
struct ZoneFeature {
    /// `Feature`.
    #[serde(rename = "type")]
    kind: FeatureTag,
    /// The zone id (as `properties.id`).
    id: String,
    /// A GeoJSON Polygon or MultiPolygon, `[lon, lat]` positions (free-form GeoJSON).
    #[schema(value_type = Object)]
    geometry: Value,
    /// The zone's fields and any other properties it was given.
    properties: ZoneProperties,
}

/// A zone's Feature properties: its own fields, then whatever else the file had (free-form
/// on purpose, kept as given; at most 8 levels deep and 32 KiB).
#[derive(Debug, Serialize, ToSchema)]
struct ZoneProperties {
    /// Zone id. In a `PUT`, it may be left out (the URL's) but must not differ.
    id: String,
    /// Display name, at most 200 characters.
    name: String,
    /// `grid` or `beat`.
    kind: ZoneKind,
    /// Any other properties, free-form.
    #[serde(flatten)]
    #[schema(value_type = Object)]
    extra: Map<String, Value>,
}

/// The zones as a GeoJSON FeatureCollection.
#[derive(Debug, Serialize, ToSchema)]
struct ZoneCollection {
    /// `FeatureCollection`.
    #[serde(rename = "type")]
    kind: CollectionTag,
    /// One Feature per zone.
    features: Vec<ZoneFeature>,
}

/// What an import stored.
#[derive(Debug, Serialize, ToSchema)]
struct ZonesImported {
    /// Zones stored (new or replaced).
    imported: usize,
}

/// Longest zone name, in characters (as a camera's): names label the map and timelines.
pub const NAME_MAX_CHARS: usize = 200;
/// Deepest nesting of a zone's extra properties (an object in an object is 2). GIS tools
/// export flat attribute tables; a limit stops a document built to be slow to walk.
pub const PROPERTIES_MAX_DEPTH: usize = 8;
/// Largest size of a zone's extra properties as stored JSON, bytes.
pub const PROPERTIES_MAX_BYTES: usize = 32 * 1024;

/// How deeply arrays and objects nest in `v` (a scalar is 0), without recursion.
fn json_depth(v: &Value) -> usize {
    let mut deepest = 0;
    let mut stack = vec![(v, 0usize)];
    while let Some((v, d)) = stack.pop() {
        let children: Box<dyn Iterator<Item = &Value>> = match v {
            Value::Array(a) => Box::new(a.iter()),
            Value::Object(o) => Box::new(o.values()),
            _ => continue,
        };
        deepest = deepest.max(d + 1);
        stack.extend(children.map(|c| (c, d + 1)));
    }
    deepest
}

/// A zone body as `POST /api/v1/zones` reads it, for the fuzz target (`crate::fuzz`).
#[cfg(fuzzing)]
pub fn fuzz_feature(body: &[u8]) {
    if let Ok(v) = serde_json::from_slice::<Value>(body) {
        let _ = feature_to_row(v, None);
    }
}

/// Checks one Feature and turns it into a row. `expect_id` is the id from the URL (PUT).
fn feature_to_row(v: Value, expect_id: Option<&str>) -> Result<ZoneRow, Invalid> {
    let feature: geojson::Feature = serde_json::from_value(v)
        .map_err(|e| Invalid::new("feature", format!("not a GeoJSON Feature: {e}")))?;
    let geometry = feature
        .geometry
        .as_ref()
        .ok_or_else(|| Invalid::new("geometry", "missing"))?;
    to_multipolygon(geometry)?;
    let mut props: Map<String, Value> = feature.properties.clone().unwrap_or_default();
    let text = |props: &mut Map<String, Value>, key: &str| -> Result<String, Invalid> {
        match props.remove(key) {
            Some(Value::String(s)) if !s.trim().is_empty() => Ok(s),
            _ => Err(Invalid::new(format!("properties.{key}"), "required text")),
        }
    };
    let id = match (props.get("id"), expect_id) {
        (None, Some(url_id)) => url_id.to_owned(),
        _ => text(&mut props, "id")?,
    };
    props.remove("id");
    let id = Ident::parse(&id).map_err(|e| Invalid::new("properties.id", e.reason))?;
    if let Some(url_id) = expect_id {
        if id.as_str() != url_id {
            return Err(Invalid::new(
                "properties.id",
                "differs from the id in the URL",
            ));
        }
    }
    let name = text(&mut props, "name")?;
    if name.chars().count() > NAME_MAX_CHARS {
        return Err(Invalid::new(
            "properties.name",
            format!("must be at most {NAME_MAX_CHARS} characters"),
        ));
    }
    let kind: ZoneKind = text(&mut props, "kind")?
        .parse()
        .map_err(|e: Invalid| Invalid::new("properties.kind", e.reason))?;
    let props = Value::Object(props);
    // The properties object itself is level 1.
    if json_depth(&props) > PROPERTIES_MAX_DEPTH {
        return Err(Invalid::new(
            "properties",
            format!("nested more than {PROPERTIES_MAX_DEPTH} levels deep"),
        ));
    }
    let properties = props.to_string();
    if properties.len() > PROPERTIES_MAX_BYTES {
        return Err(Invalid::new(
            "properties",
            format!("over {PROPERTIES_MAX_BYTES} bytes as JSON"),
        ));
    }
    Ok(ZoneRow {
        id: id.to_string(),
        name,
        kind,
        geometry: serde_json::to_string(geometry).unwrap_or_default(),
        properties,
    })
}

fn row_to_feature(z: &ZoneRow) -> ZoneFeature {
    let mut extra: Map<String, Value> = serde_json::from_str(&z.properties).unwrap_or_default();
    // Stored rows never hold these (see `feature_to_row`); the zone's own fields win.
    for own in ["id", "name", "kind"] {
        extra.remove(own);
    }
    ZoneFeature {
        kind: FeatureTag::Feature,
        id: z.id.clone(),
        geometry: serde_json::from_str(&z.geometry).unwrap_or(Value::Null),
        properties: ZoneProperties {
            id: z.id.clone(),
            name: z.name.clone(),
            kind: z.kind,
            extra,
        },
    }
}

/// The zones, as a GeoJSON FeatureCollection by id.
#[utoipa::path(
    get,
    path = "/api/v1/zones",
    tag = "zones",
    params(PageQuery),
    responses((status = 200, description = "A page of zones (default and cap 5000).",
               body = ZoneCollection))
)]
async fn list(
    _: Viewer,
    State(st): State<AppState>,
    Query(q): Query<PageQuery>,
) -> Result<Response, ApiError> {
    let page = q.whole_list()?;
    let (zones, next) = page.cut_sorted(st.store.zones().await?, |z| z.id.as_str())?;
    let body = Json(ZoneCollection {
        kind: CollectionTag::FeatureCollection,
        features: zones.iter().map(row_to_feature).collect(),
    });
    Ok(super::page::with_next(body.into_response(), next))
}

// The zone bodies below are read as JSON values, not typed structs: a Feature is checked by
// `feature_to_row`, whose messages name the property at fault, and its extra properties
// are free-form on purpose. The document describes them with `ZoneFeature`.

/// Adds a zone, given as a GeoJSON Feature with a Polygon or MultiPolygon geometry.
#[utoipa::path(
    post,
    path = "/api/v1/zones",
    tag = "zones",
    request_body(content = ZoneFeature,
                 description = "A GeoJSON Feature; its top-level `id` is not read (`properties.id` is)."),
    responses(
        (status = 201, description = "Created.", body = ZoneFeature),
        (status = 409, description = "The id is taken.", body = super::openapi::ErrorBody),
    )
)]
async fn create(
    _: Admin,
    State(st): State<AppState>,
    audit: Audit,
    JsonBody(body): JsonBody<Value>,
) -> Result<(StatusCode, Json<ZoneFeature>), ApiError> {
    let row = feature_to_row(body, None)?;
    audit.target(&row.id);
    st.store
        .put_zones(std::slice::from_ref(&row), false)
        .await?;
    let zone = row_to_feature(&row);
    audit.after(&zone);
    st.dispatcher.reload(Reload::Zones).await?;
    Ok((StatusCode::CREATED, Json(zone)))
}

/// Replaces a zone's name, kind, geometry and properties.
#[utoipa::path(
    put,
    path = "/api/v1/zones/{id}",
    tag = "zones",
    params(("id" = String, Path, description = "Zone id")),
    request_body(content = ZoneFeature,
                 description = "A GeoJSON Feature; its top-level `id` is not read, and \
`properties.id` may be left out (it must not differ from the URL's)."),
    responses((status = 200, description = "The zone as stored.", body = ZoneFeature))
)]
async fn replace(
    _: Admin,
    State(st): State<AppState>,
    audit: Audit,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<ZoneFeature>, ApiError> {
    let row = feature_to_row(body, Some(&id))?;
    if let Some(old) = st.store.zone(&id).await? {
        audit.before(&row_to_feature(&old));
    }
    st.store.update_zone(&row).await?;
    let zone = row_to_feature(&row);
    audit.after(&zone);
    st.dispatcher.reload(Reload::Zones).await?;
    Ok(Json(zone))
}

/// Deletes a zone.
#[utoipa::path(
    delete,
    path = "/api/v1/zones/{id}",
    tag = "zones",
    params(("id" = String, Path, description = "Zone id")),
    responses((status = 204, description = "Deleted."))
)]
async fn remove(
    _: Admin,
    State(st): State<AppState>,
    audit: Audit,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    if let Some(old) = st.store.zone(&id).await? {
        audit.before(&row_to_feature(&old));
    }
    st.store.delete_zone(&id).await?;
    st.dispatcher.reload(Reload::Zones).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Adds or replaces many zones from a GeoJSON FeatureCollection, all or nothing.
///
/// Every feature is checked first, and the first problems are reported by feature index
/// (422); nothing is stored unless all are good. Existing ids are replaced.
#[utoipa::path(
    post,
    path = "/api/v1/zones/import",
    tag = "zones",
    request_body = ZoneCollection,
    responses((status = 200, description = "Every zone stored.", body = ZonesImported))
)]
async fn import(
    _: Admin,
    State(st): State<AppState>,
    audit: Audit,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<ZonesImported>, ApiError> {
    let features = match body {
        Value::Object(mut o)
            if o.get("type").and_then(Value::as_str) == Some("FeatureCollection") =>
        {
            match o.remove("features") {
                Some(Value::Array(f)) => f,
                _ => return Err(ApiError::Unprocessable("features: must be an array".into())),
            }
        }
        _ => {
            return Err(ApiError::Unprocessable(
                "expected a GeoJSON FeatureCollection".into(),
            ))
        }
    };
    let mut rows = Vec::with_capacity(features.len());
    let mut errors = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (i, f) in features.into_iter().enumerate() {
        match feature_to_row(f, None) {
            Ok(row) if !seen.insert(row.id.clone()) => {
                errors.push(format!("features[{i}]: duplicate id {}", row.id))
            }
            Ok(row) => rows.push(row),
            Err(e) => errors.push(format!("features[{i}]: {e}")),
        }
    }
    if !errors.is_empty() {
        let shown: Vec<_> = errors.iter().take(20).cloned().collect();
        return Err(ApiError::Unprocessable(format!(
            "nothing imported; {} problem(s): {}",
            errors.len(),
            shown.join("; ")
        )));
    }
    let mut old: std::collections::HashMap<String, ZoneRow> = st
        .store
        .zones()
        .await?
        .into_iter()
        .map(|z| (z.id.clone(), z))
        .collect();
    st.store.put_zones(&rows, true).await?;
    for row in &rows {
        let before = old.remove(&row.id).map(|z| row_to_feature(&z));
        audit.item(&row.id, before.as_ref(), Some(&row_to_feature(row)));
    }
    st.dispatcher.reload(Reload::Zones).await?;
    Ok(Json(ZonesImported {
        imported: rows.len(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn depth_counts_nesting_not_size() {
        assert_eq!(json_depth(&json!(1)), 0);
        assert_eq!(json_depth(&json!({"a": 1, "b": [1, 2]})), 2);
        let mut deep = json!(1);
        for _ in 0..120 {
            deep = json!({ "x": deep });
        }
        assert_eq!(json_depth(&deep), 120);
    }
}
