//! The live coverage map (`GET /api/v1/coverage`, docs/roads.md "Coverage map") through the
//! real app: responders placed over MQTT as phones place them, the map read as the console
//! reads it.

use griddispatch::roads::{Roads, FILE_NAME};
use serde_json::{json, Value};

use crate::common::{wait_for, worker, Api, TestApp};
use crate::roads::{point, river};

/// The cell whose centre is nearest to `at`.
fn cell_at(map: &Value, at: (f64, f64)) -> &Value {
    let d = |c: &Value| {
        let (lat, lon) = (c["lat"].as_f64().unwrap(), c["lon"].as_f64().unwrap());
        (lat - at.0).powi(2) + ((lon - at.1) * 0.77).powi(2)
    };
    map["cells"]
        .as_array()
        .unwrap()
        .iter()
        .min_by(|a, b| d(a).total_cmp(&d(b)))
        .expect("a cell")
}

fn secs(cell: &Value, mode: &str) -> f64 {
    cell[mode]["eta_secs"]
        .as_f64()
        .unwrap_or_else(|| panic!("no {mode} time in {cell}"))
}

async fn status(app: &Api, query: &str) -> (u16, Value) {
    let path = format!("/api/v1/coverage?{query}");
    app.call(reqwest::Method::GET, &path, Some(&app.token), None)
        .await
}

async fn coverage(app: &Api, query: &str) -> Value {
    app.get(&format!("/api/v1/coverage?{query}")).await
}

#[tokio::test]
async fn near_a_free_responder_times_are_short_far_away_long_and_busy_or_off_duty_ones_do_not_count(
) {
    let app = TestApp::spawn(&[]).await;
    // g1 is about 1.1 km × 0.86 km: 4 × 4 cells of 250 m and a few more.
    app.zone("g1", "grid", (39.49, 106.69), (39.50, 106.70))
        .await;
    let sw = (39.4911, 106.6914);
    let ne = (39.4989, 106.6986);
    let _walker = worker(&app, "walker", "grid_worker", "foot", None, sw).await;
    let mut cyclist = worker(&app, "cyclist", "patrol", "bike", None, ne).await;
    let driver = worker(&app, "driver", "volunteer", "car", None, ne).await;

    let map = coverage(&app, "zone=g1").await;
    assert_eq!(map["cell_m"], 250.0, "console.coverage_cell_m by default");
    assert_eq!(map["responders"], 3, "{map}");
    assert_eq!(map["roads"], false);
    let cells = map["cells"].as_array().unwrap();
    assert!((14..=25).contains(&cells.len()), "{} cells", cells.len());
    let (home, far) = (cell_at(&map, sw), cell_at(&map, ne));
    assert!(secs(home, "foot") < 120.0, "{home}");
    // Over a kilometre on foot: 1.1 km × 1.3 ÷ 5 km/h ≈ 17 minutes.
    assert!(secs(far, "foot") > 600.0, "{far}");
    assert_eq!(far["foot"]["responder_id"], "walker");
    assert_eq!(far["foot"]["eta_source"], "straight");
    assert_eq!(far["best_mode"], "car", "{far}");
    assert!(far["best_secs"].as_f64().unwrap() < 60.0, "{far}");
    assert_eq!(far["car"]["responder_id"], "driver");
    assert_eq!(far["bike"]["responder_id"], "cyclist");

    // The same question again is answered from what was kept.
    let again = coverage(&app, "zone=g1").await;
    assert_eq!(again["computed_at_ms"], map["computed_at_ms"]);

    // The driver goes off duty; the cyclist (the only patrol) is offered a fight there.
    driver
        .c
        .publish(
            "dispatch/driver/duty/set",
            json!({"on_duty": false}).to_string(),
        )
        .await;
    wait_for("driver off duty", || async {
        let r = app.get("/api/v1/responders/driver").await;
        (r["on_duty"] == false).then_some(r)
    })
    .await;
    app.alert(json!({"id": "f1", "kind": "fight", "severity": 3, "lat": ne.0, "lon": ne.1}))
        .await;
    cyclist.expect_task().await;

    // A map of another cell size is not the kept one: it sees the change at once.
    let after = coverage(&app, "zone=g1&cell_m=200").await;
    assert_eq!(after["responders"], 1, "{after}");
    let far = cell_at(&after, ne);
    assert!(far["car"].is_null() && far["bike"].is_null(), "{far}");
    assert_eq!(far["best_mode"], "foot", "{far}");
    assert!(far["best_secs"].as_f64().unwrap() > 600.0, "{far}");
}

/// The answer is kept while nobody moves (past the first seconds the engine is only asked
/// for its version), and made again once someone does.
#[tokio::test]
async fn a_map_is_kept_while_nobody_moves_and_made_again_when_someone_does() {
    let app = TestApp::spawn(&[]).await;
    app.zone("g1", "grid", (39.49, 106.69), (39.50, 106.70))
        .await;
    let (sw, ne) = ((39.4911, 106.6914), (39.4989, 106.6986));
    let walker = worker(&app, "walker", "grid_worker", "foot", None, sw).await;
    let first = coverage(&app, "zone=g1").await;
    let fresh = griddispatch::dispatch::coverage::FRESH + std::time::Duration::from_millis(300);
    tokio::time::sleep(fresh).await;
    let unchanged = coverage(&app, "zone=g1").await;
    assert_eq!(unchanged["computed_at_ms"], first["computed_at_ms"]);

    walker.locate(&app, ne.0, ne.1).await;
    tokio::time::sleep(fresh).await;
    let moved = coverage(&app, "zone=g1").await;
    assert_ne!(moved["computed_at_ms"], first["computed_at_ms"]);
    // The walker is now within 200 m of the nearest cell's centre: under 4 minutes.
    assert!(secs(cell_at(&moved, ne), "foot") < 240.0, "{moved}");
    assert!(secs(cell_at(&moved, sw), "foot") > 600.0, "{moved}");
}

#[tokio::test]
async fn bad_questions_get_clear_answers() {
    let app = TestApp::spawn(&[]).await;
    app.zone("g1", "grid", (39.49, 106.69), (39.50, 106.70))
        .await;
    let (s, v) = status(&app, "zone=nowhere").await;
    assert_eq!(s, 404, "{v}");
    // 1 km² in 10 m cells would be 10,000 cells.
    let (s, v) = status(&app, "zone=g1&cell_m=10").await;
    assert_eq!(s, 422, "{v}");
    // A county-sized zone at the default size is refused, naming what to change.
    app.zone("county", "beat", (39.0, 106.0), (40.0, 107.0))
        .await;
    let (s, v) = status(&app, "zone=county").await;
    assert_eq!(s, 422, "{v}");
    assert!(v["error"].as_str().unwrap().contains("cells"), "{v}");
    let (s, v) = status(&app, "zone=county&cell_m=5000").await;
    assert_eq!(s, 200, "{v}");
    assert!(v["cells"].as_array().unwrap().len() > 100, "{v}");
}

#[tokio::test]
async fn across_the_river_from_the_only_responder_the_cells_get_road_times_far_above_straight_ones()
{
    let dir = tempfile::tempdir().unwrap();
    let (r, _) = Roads::build("river", &river());
    r.save(&dir.path().join(FILE_NAME)).unwrap();
    let data_dir = dir.path().display().to_string();
    let app = TestApp::spawn(&[("GRIDDISPATCH__DATABASE__DATA_DIR", data_dir.as_str())]).await;
    app.zone("banks", "grid", point(-1, -1), point(11, 6)).await;
    let _west = worker(&app, "west", "patrol", "car", None, point(0, 0)).await;

    let map = coverage(&app, "zone=banks&cell_m=100").await;
    assert_eq!(map["roads"], true, "{map}");
    // On the west bank, beside the responder: by road, moments.
    let home = cell_at(&map, point(0, 0));
    assert_eq!(home["car"]["eta_source"], "road", "{home}");
    assert!(secs(home, "car") < 30.0, "{home}");
    // Across the water, 100 m by air: up to the bridge and back down, 2.1 km by road.
    let across = cell_at(&map, point(0, 1));
    let car = &across["car"];
    assert_eq!(car["eta_source"], "road", "{across}");
    assert!(car["distance_m"].as_f64().unwrap() < 150.0, "{across}");
    let road_m = car["road_distance_m"].as_f64().unwrap();
    assert!((road_m - 2_100.0).abs() < 10.0, "{across}");
    let straight = car["distance_m"].as_f64().unwrap() * 1.3 / (30.0 / 3.6);
    assert!(
        secs(across, "car") > 5.0 * straight,
        "road {} s against {straight} s by air: {across}",
        secs(across, "car")
    );
    // Between the roads, farther than road_snap_m from any: the straight-line estimate.
    let between = cell_at(&map, point(5, 3));
    assert_eq!(between["car"]["eta_source"], "straight", "{between}");
    drop(dir);
}
