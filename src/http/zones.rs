//! `/api/v1/zones`: coverage zones as GeoJSON.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde_json::{json, Map, Value};

use super::auth::{Admin, Viewer};
use super::error::{ApiError, JsonBody};
use super::AppState;
use crate::dispatch::Reload;
use crate::domain::zones::to_multipolygon;
use crate::domain::{Ident, Invalid, ZoneKind};
use crate::store::ZoneRow;

/// Routes of this area.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/zones", get(list).post(create))
        // A county's zone file can be tens of megabytes: `http.limits.max_import_bytes`.
        .route("/api/v1/zones/import", post(import))
        .route("/api/v1/zones/{id}", put(replace).delete(remove))
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

fn row_to_feature(z: &ZoneRow) -> Value {
    let mut props: Map<String, Value> = serde_json::from_str(&z.properties).unwrap_or_default();
    props.insert("id".into(), json!(z.id));
    props.insert("name".into(), json!(z.name));
    props.insert("kind".into(), json!(z.kind));
    let geometry: Value = serde_json::from_str(&z.geometry).unwrap_or(Value::Null);
    json!({ "type": "Feature", "id": z.id, "geometry": geometry, "properties": props })
}

async fn list(
    _: Viewer,
    State(st): State<AppState>,
    axum::extract::Query(q): axum::extract::Query<super::page::PageQuery>,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    let page = q.whole_list()?;
    let (zones, next) = page.cut_sorted(st.store.zones().await?, |z| z.id.as_str())?;
    let body = Json(json!({
        "type": "FeatureCollection",
        "features": zones.iter().map(row_to_feature).collect::<Vec<_>>(),
    }));
    Ok(super::page::with_next(body.into_response(), next))
}

async fn create(
    _: Admin,
    State(st): State<AppState>,
    JsonBody(body): JsonBody<Value>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let row = feature_to_row(body, None)?;
    st.store
        .put_zones(std::slice::from_ref(&row), false)
        .await?;
    st.dispatcher.reload(Reload::Zones).await?;
    Ok((StatusCode::CREATED, Json(row_to_feature(&row))))
}

async fn replace(
    _: Admin,
    State(st): State<AppState>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>, ApiError> {
    let row = feature_to_row(body, Some(&id))?;
    st.store.update_zone(&row).await?;
    st.dispatcher.reload(Reload::Zones).await?;
    Ok(Json(row_to_feature(&row)))
}

async fn remove(
    _: Admin,
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    st.store.delete_zone(&id).await?;
    st.dispatcher.reload(Reload::Zones).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// All or nothing: every feature is checked first, and the first problems are reported by
/// feature index; nothing is stored unless all are good. Existing ids are replaced.
async fn import(
    _: Admin,
    State(st): State<AppState>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>, ApiError> {
    let features = match body {
        Value::Object(mut o) if o.get("type") == Some(&json!("FeatureCollection")) => {
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
    st.store.put_zones(&rows, true).await?;
    st.dispatcher.reload(Reload::Zones).await?;
    Ok(Json(json!({ "imported": rows.len() })))
}

#[cfg(test)]
mod tests {
    use super::*;

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
