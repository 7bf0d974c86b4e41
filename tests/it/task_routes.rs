//! The route of each live task on the console's map (`GET /api/v1/incidents/{id}/routes`,
//! docs/roads.md "Routes on the map"), on the river map of `roads`: the responder across
//! the water is routed over the bridge, as far as the candidates said; without roads the
//! route is the straight pair of points.

use griddispatch::roads::{Roads, FILE_NAME};
use serde_json::{json, Value};

use crate::common::{worker, TestApp};
use crate::roads::{point, river};

/// Metres between two (lat, lon) close together (flat, at 39.5° N).
fn apart(a: (f64, f64), b: (f64, f64)) -> f64 {
    let m = 111_320.0;
    let dy = (a.0 - b.0) * m;
    let dx = (a.1 - b.1) * m * 39.5_f64.to_radians().cos();
    dy.hypot(dx)
}

fn pts(route: &Value) -> Vec<(f64, f64)> {
    route["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p[0].as_f64().unwrap(), p[1].as_f64().unwrap()))
        .collect()
}

/// The route of `who` among an incident's routes.
fn route_of<'a>(routes: &'a Value, who: &str) -> &'a Value {
    routes["routes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["responder_id"] == who)
        .unwrap_or_else(|| panic!("no route of {who}: {routes}"))
}

#[tokio::test]
async fn the_route_across_the_river_goes_over_the_bridge_as_far_as_the_candidates_said() {
    let dir = tempfile::tempdir().unwrap();
    let (r, _) = Roads::build("river", &river());
    r.save(&dir.path().join(FILE_NAME)).unwrap();
    let data_dir = dir.path().display().to_string();
    let app = TestApp::spawn(&[("GRIDDISPATCH__DATABASE__DATA_DIR", data_dir.as_str())]).await;
    let (w, e) = (point(0, 0), point(0, 5));
    let mut west = worker(&app, "west", "patrol", "car", None, w).await;
    let mut east = worker(&app, "east", "patrol", "car", None, e).await;
    let target = point(0, 1);
    let id = app
        .alert(
            json!({"id": "r1", "kind": "fight", "severity": 3, "lat": target.0, "lon": target.1}),
        )
        .await;
    // By road the one on the incident's bank goes first; its route runs along that bank.
    let te = east.expect_task().await;
    assert_eq!(te["incident_id"], id);
    let routes = app.get(&format!("/api/v1/incidents/{id}/routes")).await;
    assert_eq!(routes["roads"], true, "{routes}");
    assert_eq!(routes["routes"].as_array().unwrap().len(), 1, "{routes}");
    let r = route_of(&routes, "east");
    assert_eq!(r["eta_source"], "road", "{routes}");
    assert_eq!(r["status"], "offered", "{routes}");
    assert!(
        (r["distance_m"].as_f64().unwrap() - 400.0).abs() < 5.0,
        "{routes}"
    );

    // The operator sends the one across the water instead: its route crosses the bridge,
    // a kilometre north, and is as long as the candidates' road distance.
    let cands = app.get(&format!("/api/v1/incidents/{id}/candidates")).await;
    let cand = cands
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["responder_id"] == "west")
        .unwrap_or_else(|| panic!("{cands}"));
    let road_m = cand["road_distance_m"].as_f64().unwrap();
    let op = app.token(griddispatch::domain::Role::Operator).await;
    let (s, v) = app
        .call(
            reqwest::Method::POST,
            &format!("/api/v1/incidents/{id}/assign"),
            Some(&op),
            Some(json!({"responder_id": "west"})),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    east.expect_cleared(te["task_id"].as_str().unwrap()).await;
    let tw = west.expect_task().await;
    let routes = app.get(&format!("/api/v1/incidents/{id}/routes")).await;
    assert_eq!(
        routes["routes"].as_array().unwrap().len(),
        1,
        "the withdrawn offer has no route: {routes}"
    );
    let r = route_of(&routes, "west");
    assert_eq!(r["task_id"], tw["task_id"], "{routes}");
    assert_eq!(r["mode"], "car", "{routes}");
    assert_eq!(r["eta_source"], "road", "{routes}");
    let d = r["distance_m"].as_f64().unwrap();
    assert!((d - road_m).abs() < 0.01, "{d} vs candidates' {road_m}");
    assert!((d - 2_100.0).abs() < 10.0, "{routes}");
    let line = pts(r);
    assert!(line.len() > 2, "{routes}");
    for bridge_end in [point(10, 0), point(10, 1)] {
        assert!(
            line.iter().any(|&p| apart(p, bridge_end) < 5.0),
            "passes {bridge_end:?}: {routes}"
        );
    }
    assert!(apart(line[0], w) < 5.0, "{routes}");
    assert!(apart(line[line.len() - 1], target) < 5.0, "{routes}");
    assert!(r["eta_secs"].as_f64().unwrap() > 60.0, "{routes}");

    let (s, _) = app
        .call(
            reqwest::Method::GET,
            "/api/v1/incidents/nope/routes",
            Some(&op),
            None,
        )
        .await;
    assert_eq!(s, 404);
    drop(dir);
}

#[tokio::test]
async fn without_roads_a_tasks_route_is_the_straight_line() {
    let app = TestApp::spawn(&[]).await;
    let w = point(0, 0);
    let mut west = worker(&app, "west", "patrol", "car", None, w).await;
    let target = point(0, 1);
    let id = app
        .alert(
            json!({"id": "r1", "kind": "fight", "severity": 3, "lat": target.0, "lon": target.1}),
        )
        .await;
    west.expect_task().await;
    let routes = app.get(&format!("/api/v1/incidents/{id}/routes")).await;
    assert_eq!(routes["roads"], false, "{routes}");
    let r = route_of(&routes, "west");
    assert_eq!(r["eta_source"], "straight", "{routes}");
    assert_eq!(pts(r), vec![w, target], "{routes}");
    assert!(
        (r["distance_m"].as_f64().unwrap() - 100.0).abs() < 1.0,
        "{routes}"
    );
    assert!(r["eta_secs"].as_f64().unwrap() > 0.0, "{routes}");
}
