//! The route of each live task of an incident (`GET /api/v1/incidents/{id}/routes`,
//! docs/roads.md "Routes on the map"): from the responder's last position to the incident,
//! or its rendezvous point, on the responder's mode's roads, or the straight line when there
//! is no road route.
//!
//! As for the coverage map, the engine only copies what is needed (the live tasks, their
//! responders' positions and modes, the target, the `Arc` of the roads, the rules) in one
//! quick command; the routes are searched on a blocking thread with searches of their own,
//! so the engine's ranking never waits for them.

use std::sync::Arc;

use geo::{LineString, SimplifyVw};
use serde::Serialize;

use super::{Command, DispatchError, Dispatcher};
use crate::domain::coverage::CoverRules;
use crate::domain::ranking::EtaSource;
use crate::domain::{Ident, LatLon, TaskStatus, TravelMode};
use crate::roads::Roads;

/// Most points in one route's line: enough for a town's streets at any zoom the console
/// uses, small enough for a poll. Longer routes are thinned (their ends kept).
pub const MAX_POINTS: usize = 1000;
/// Most routes in one answer (an incident's live tasks are a handful; this bounds a
/// pathological one).
pub const MAX_ROUTES: usize = 50;

/// One live task as the engine hands it out.
#[derive(Debug, Clone)]
pub struct LiveLeg {
    /// The task.
    pub task_id: String,
    /// Its responder.
    pub responder_id: Ident,
    /// Where the task stands.
    pub status: TaskStatus,
    /// How the responder moves.
    pub mode: TravelMode,
    /// The responder's last position.
    pub from: LatLon,
    /// When that position was fixed, Unix ms.
    pub fix_at_ms: Option<i64>,
}

/// What the engine hands out for an incident's routes.
#[derive(Debug)]
pub struct RoutesSnapshot {
    /// Where the responders go: the rendezvous point when there is one, else the incident.
    pub target: LatLon,
    /// The live tasks whose responder has a position, at most [`MAX_ROUTES`].
    pub legs: Vec<LiveLeg>,
    /// The imported roads, if any.
    pub roads: Option<Arc<Roads>>,
    /// The ranking's rules (straight-line estimate).
    pub rules: CoverRules,
    /// `dispatch.road_snap_m`.
    pub snap_m: f64,
}

/// One live task's way to the incident.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TaskRoute {
    /// The task.
    pub task_id: String,
    /// Its responder.
    pub responder_id: Ident,
    /// Where the task stands (`offered`, `accepted` or `en_route`).
    pub status: TaskStatus,
    /// The responder's travel mode, whose roads were used.
    pub mode: TravelMode,
    /// `road`: `points` follow the roads; `straight`: no road route (an end too far from
    /// the roads, no route joins them, or no roads loaded) and `points` are the two ends.
    pub eta_source: EtaSource,
    /// Travel time, seconds: by road, or the straight-line estimate.
    pub eta_secs: f64,
    /// Metres: along the roads, or great-circle for `straight`.
    pub distance_m: f64,
    /// When the responder's position was fixed, Unix ms.
    pub fix_at_ms: Option<i64>,
    /// The line from the responder to the target, `[lat, lon]` pairs, at most 1000.
    #[schema(value_type = Vec<[f64; 2]>)]
    pub points: Vec<[f64; 2]>,
}

/// The routes of an incident's live tasks.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IncidentRoutes {
    /// The incident.
    pub incident_id: String,
    /// Where the responders go: the rendezvous point when there is one, else the incident.
    pub target: LatLon,
    /// Roads were loaded.
    pub roads: bool,
    /// One per live task whose responder has a position.
    pub routes: Vec<TaskRoute>,
}

/// A task is live while its responder may still be on the way to it.
pub fn is_live(status: TaskStatus) -> bool {
    matches!(
        status,
        TaskStatus::Offered | TaskStatus::Accepted | TaskStatus::EnRoute
    )
}

/// `points` with at most [`MAX_POINTS`]: simplified first (bends of about a metre go), then
/// every n-th kept, with both ends.
fn bounded(points: Vec<LatLon>) -> Vec<[f64; 2]> {
    let mut pts: Vec<[f64; 2]> = points.iter().map(|p| [p.lat, p.lon]).collect();
    if pts.len() > MAX_POINTS {
        let line: LineString<f64> = pts.iter().map(|&[lat, lon]| (lon, lat)).collect();
        // Visvalingam–Whyatt, not Ramer–Douglas–Peucker: geo's RDP recurses as deep as the
        // line is long in the worst case, and this runs on a thread of ordinary stack.
        // Triangles under about 1 m² (in squared degrees) go.
        pts = line
            .simplify_vw(&1e-10)
            .coords()
            .map(|c| [c.y, c.x])
            .collect();
    }
    if pts.len() > MAX_POINTS {
        let last = pts[pts.len() - 1];
        let step = pts.len().div_ceil(MAX_POINTS - 1);
        pts = pts.into_iter().step_by(step).collect();
        if pts.last() != Some(&last) {
            pts.push(last);
        }
    }
    pts
}

/// The routes from a snapshot (on a blocking thread).
fn compute(snap: &RoutesSnapshot) -> Vec<TaskRoute> {
    let mut search = snap.roads.as_deref().map(Roads::search);
    snap.legs
        .iter()
        .map(|leg| {
            let road = search
                .as_mut()
                .and_then(|s| s.route(leg.mode, leg.from, snap.target, snap.snap_m));
            let (eta_source, eta_secs, distance_m, points) = match road {
                Some(r) => (
                    EtaSource::Road,
                    r.time_ms as f64 / 1000.0,
                    r.distance_m,
                    bounded(r.points),
                ),
                None => {
                    let d = leg.from.distance_m(snap.target);
                    (
                        EtaSource::Straight,
                        snap.rules.straight_secs(leg.mode, d),
                        d,
                        bounded(vec![leg.from, snap.target]),
                    )
                }
            };
            TaskRoute {
                task_id: leg.task_id.clone(),
                responder_id: leg.responder_id.clone(),
                status: leg.status,
                mode: leg.mode,
                eta_source,
                eta_secs,
                distance_m,
                fix_at_ms: leg.fix_at_ms,
                points,
            }
        })
        .collect()
}

impl Dispatcher {
    /// The routes of an open incident's live tasks, searched off the engine's task.
    pub async fn task_routes(&self, incident_id: String) -> Result<IncidentRoutes, DispatchError> {
        let snap = self
            .ask(|reply| Command::TaskRoutes {
                incident_id: incident_id.clone(),
                reply,
            })
            .await?;
        let (routes, snap) = tokio::task::spawn_blocking(move || (compute(&snap), snap))
            .await
            .map_err(|_| DispatchError::Stopped)?;
        Ok(IncidentRoutes {
            incident_id,
            target: snap.target,
            roads: snap.roads.is_some(),
            routes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_line_is_thinned_to_the_bound_keeping_its_ends() {
        // A zigzag that simplification cannot straighten.
        let pts: Vec<LatLon> = (0..5000)
            .map(|i| LatLon {
                lat: 39.5 + f64::from(i) * 1e-4,
                lon: 106.7 + if i % 2 == 0 { 0.0 } else { 1e-3 },
            })
            .collect();
        let out = bounded(pts.clone());
        assert!(out.len() <= MAX_POINTS, "{}", out.len());
        assert_eq!(out[0], [pts[0].lat, pts[0].lon]);
        assert_eq!(out[out.len() - 1], [pts[4999].lat, pts[4999].lon]);
        // A short one is kept as it is.
        assert_eq!(bounded(pts[..3].to_vec()).len(), 3);
        // A long straight street keeps its ends and loses the points between.
        let straight: Vec<LatLon> = (0..3000)
            .map(|i| LatLon {
                lat: 39.5 + f64::from(i) * 1e-5,
                lon: 106.7,
            })
            .collect();
        assert_eq!(
            bounded(straight),
            vec![[39.5, 106.7], [39.5 + 2999.0 * 1e-5, 106.7]]
        );
    }
}
