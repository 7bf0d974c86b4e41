//! `GET /api/v1/incidents/{id}/routes`: the way each live task's responder takes to the
//! incident, drawn on the console's map (docs/roads.md, "Routes on the map").

use axum::extract::State;
use axum::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Viewer;
use super::error::{ApiError, Path};
use super::AppState;
use crate::dispatch::task_routes::IncidentRoutes;

/// Routes of this area.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(task_routes))
}

/// The route of each live task of an open incident (offered, accepted, en route), from the
/// responder's last position to the incident or its rendezvous point.
///
/// On the responder's travel mode's roads when roads are loaded and both ends are within
/// `dispatch.road_snap_m` of them (`eta_source: road`, `distance_m` along the roads, as the
/// candidates' `road_distance_m`); else the straight pair of points, with the straight-line
/// estimate (`eta_source: straight`). At most 50 routes of at most 1000 points each (longer
/// lines are thinned, their ends kept). Tasks whose responder has no position are left out.
#[utoipa::path(
    get,
    path = "/api/v1/incidents/{id}/routes",
    tag = "incidents",
    params(("id" = String, Path, description = "The incident")),
    responses(
        (status = 200, description = "The routes.", body = IncidentRoutes),
        (status = 404, description = "No such open incident."),
    )
)]
async fn task_routes(
    _: Viewer,
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<IncidentRoutes>, ApiError> {
    Ok(Json(st.dispatcher.task_routes(id).await?))
}
