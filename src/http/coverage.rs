//! `GET /api/v1/coverage`: the live coverage map of a zone (docs/roads.md, "Coverage map").

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Viewer;
use super::error::{ApiError, Query};
use super::AppState;
use crate::dispatch::coverage::{CoverageMap, CoverageQuery};
use crate::domain::coverage::{CELL_M_MAX, CELL_M_MIN};
use crate::domain::Ident;

/// Routes of this area.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(coverage))
}

/// `?zone=&cell_m=&kind=` of the coverage map.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct CoverageParams {
    /// The zone to cover.
    zone: String,
    /// Cell side, metres, 25 to 5000 (default `console.coverage_cell_m`). A zone that
    /// would need more than 5000 cells is refused (422).
    cell_m: Option<f64>,
    /// Count the responder kinds allowed for incidents of this kind
    /// (`dispatch.allowed_kinds`; default: those of `default`).
    kind: Option<String>,
}

/// How soon the nearest free, on-duty responder of each travel mode could reach each cell
/// of a zone.
///
/// The ranking's rules: per mode, the `dispatch.road_candidates` nearest responders by
/// straight line are measured by road when roads are loaded (straight line × detour factor
/// where a point is off the roads), the fastest counts; each cell says which
/// (`eta_source`). Busy, off-duty and stale responders do not count. The answer is kept
/// for 5 seconds, then again for as long as no responder changes (`computed_at_ms`).
#[utoipa::path(
    get,
    path = "/api/v1/coverage",
    tag = "zones",
    params(CoverageParams),
    responses((status = 200, description = "The map.", body = CoverageMap))
)]
async fn coverage(
    _: Viewer,
    State(st): State<AppState>,
    Query(q): Query<CoverageParams>,
) -> Result<Json<Shared>, ApiError> {
    let zone = Ident::parse(&q.zone).map_err(|e| ApiError::Unprocessable(format!("zone: {e}")))?;
    let cell_m = q.cell_m.unwrap_or(st.console.coverage_cell_m);
    if !(CELL_M_MIN..=CELL_M_MAX).contains(&cell_m) {
        return Err(ApiError::Unprocessable(format!(
            "cell_m: must be {CELL_M_MIN} to {CELL_M_MAX} metres"
        )));
    }
    let kind = q.kind.filter(|k| !k.is_empty());
    if kind.as_ref().is_some_and(|k| k.len() > 64) {
        return Err(ApiError::Unprocessable(
            "kind: at most 64 characters".into(),
        ));
    }
    let map = st
        .dispatcher
        .coverage(CoverageQuery::new(zone, cell_m, kind))
        .await?;
    Ok(Json(Shared(map)))
}

/// A kept map, written out without copying its cells.
#[derive(Debug)]
struct Shared(std::sync::Arc<CoverageMap>);

impl serde::Serialize for Shared {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}
