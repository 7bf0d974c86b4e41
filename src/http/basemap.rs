//! `GET /api/v1/basemap/{z}/{x}/{y}`: the offline base map, one web-mercator tile of it
//! (docs/roads.md, "Base map"), drawn by the console and the field app when no tile
//! server is set. Loaded at start from `basemap.bin` beside the roads file.

use std::sync::Arc;

use axum::extract::State;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::{authorize_parts, phone_login};
use super::error::{ApiError, Path};
use super::AppState;
use crate::config::Settings;
use crate::domain::Role;
use crate::roads::basemap::{check_tile, BaseTile};
use crate::roads::BaseMap;

/// Routes of this area.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(tile))
}

/// The base map file under the data directory, read on a blocking thread; `None` when
/// there is none, or (logged) when it cannot be read: the maps then stay blank.
pub async fn load(settings: &Settings) -> Option<Arc<BaseMap>> {
    let path = settings.data_dir()?.join(crate::roads::basemap::FILE_NAME);
    if !path.exists() {
        return None;
    }
    let shown = path.display().to_string();
    match tokio::task::spawn_blocking(move || BaseMap::load(&path)).await {
        Ok(Ok(base)) => {
            tracing::info!(file = %shown, source = %base.source, "base map loaded: the maps draw it when no tile server is set");
            Some(Arc::new(base))
        }
        Ok(Err(e)) => {
            tracing::error!(file = %shown, "base map not loaded: {e:#}");
            None
        }
        Err(e) => {
            tracing::error!(file = %shown, "base map not loaded: {e}");
            None
        }
    }
}

/// How long a browser may keep a tile without asking again, seconds: a new import takes
/// a restart, after which the `ETag` changes.
const MAX_AGE_SECS: u32 = 3_600;

/// One tile of the offline base map.
///
/// The roads, water, waterways, railways and buildings of the imported OpenStreetMap
/// extract (`griddispatch roads import`) that meet web-mercator tile `z`/`x`/`y`, in tile
/// coordinates (0 to `extent` across, y down), for the page to draw. What is given grows
/// with the zoom: motorways, trunk roads and water from 8, rivers and railways from 10,
/// primary roads from 11, secondary 12, tertiary 13, every street, path and stream from
/// 14, buildings from 15; names from 14 (major roads) to 16 (paths). Below zoom 8 a tile is
/// empty. At most 12,000 features and 80,000 points (`truncated` says when more were left
/// out, the least important kinds first). Console users, and phones with their MQTT login
/// as HTTP Basic. Kept by the browser for an hour (`ETag`, `If-None-Match` answered 304);
/// gzip-compressed when the request accepts it.
/// 404 when no base map was imported.
#[utoipa::path(
    get,
    path = "/api/v1/basemap/{z}/{x}/{y}",
    tag = "zones",
    security(("token" = []), ("session" = []), ("phone" = [])),
    params(
        ("z" = u32, Path, description = "Zoom, 0 to 20", minimum = 0, maximum = 20),
        ("x" = u32, Path, description = "Column, 0 to 2^z − 1", minimum = 0),
        ("y" = u32, Path, description = "Row from the north, 0 to 2^z − 1", minimum = 0),
    ),
    responses(
        (status = 200, description = "The tile's features.", body = BaseTile),
        (status = 304, description = "Not changed since the `If-None-Match` tag."),
        (status = 404, description = "No base map: no extract was imported, or its file could not be read.",
         body = super::openapi::ErrorBody),
    )
)]
async fn tile(
    State(st): State<AppState>,
    Path((z, x, y)): Path<(String, String, String)>,
    parts: Parts,
) -> Result<Response, ApiError> {
    if phone_login(&parts, &st).await?.is_none() {
        authorize_parts(&parts, &st, Role::Viewer).await?;
    }
    let number = |what: &str, v: &str| {
        v.parse::<u32>()
            .map_err(|_| ApiError::Unprocessable(format!("{what}: not a whole number")))
    };
    let (z, x, y) = (number("z", &z)?, number("x", &x)?, number("y", &y)?);
    let z = check_tile(z, x, y).map_err(ApiError::Unprocessable)?;
    let Some(base) = st.basemap.clone() else {
        return Err(ApiError::NotFound(
            "base map: none imported (griddispatch roads import)".into(),
        ));
    };
    let gzip = accepts_gzip(&parts.headers);
    let etag = format!(
        "\"{:016x}-{z}-{x}-{y}{}\"",
        base.fingerprint(),
        if gzip { "-gz" } else { "" }
    );
    let cache = [
        (header::VARY, HeaderValue::from_static("accept-encoding")),
        (
            header::CACHE_CONTROL,
            HeaderValue::from_str(&format!("private, max-age={MAX_AGE_SECS}"))
                .unwrap_or(HeaderValue::from_static("private")),
        ),
        (
            header::ETAG,
            HeaderValue::from_str(&etag).unwrap_or(HeaderValue::from_static("\"\"")),
        ),
    ];
    if matches(&parts.headers, &etag) {
        return Ok((StatusCode::NOT_MODIFIED, cache).into_response());
    }
    let body = tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<u8>> {
        let json = serde_json::to_vec(&base.tile(z, x, y))?;
        if !gzip {
            return Ok(json);
        }
        // A tile's JSON is mostly digits: gzip makes it about a third, for the phones.
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut enc, &json)?;
        Ok(enc.finish()?)
    })
    .await
    .map_err(|e| ApiError::Internal(anyhow::anyhow!("base map tile: {e}")))?
    .map_err(ApiError::Internal)?;
    let json = HeaderValue::from_static("application/json");
    let mut resp = (cache, [(header::CONTENT_TYPE, json)], body).into_response();
    if gzip {
        resp.headers_mut()
            .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    Ok(resp)
}

/// Whether the client takes gzip (`Accept-Encoding`, not refused with `q=0`).
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|coding| {
            let mut parts = coding.split(';').map(str::trim);
            let name = parts.next().unwrap_or("");
            let refused =
                parts.any(|p| p.replace(' ', "") == "q=0" || p.replace(' ', "") == "q=0.0");
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        })
}

/// Whether `If-None-Match` names `etag`.
fn matches(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim() == etag || t.trim() == "*")
}
