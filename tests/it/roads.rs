//! Ranking by road (docs/roads.md), through the real app: a river with one bridge, the
//! responder nearest by air across the water. With `roads.bin` in the data directory the
//! one on the incident's own bank gets the offer and the candidates say `eta_source: road`
//! with the road distance; without it, the one across the water does.

use std::collections::HashMap;

use griddispatch::roads::{RawMap, RawWay, Roads, FILE_NAME};
use serde_json::{json, Value};

use crate::common::{worker, TestApp};

const DEG_M: f64 = 111_320.0;

/// (lat, lon) of a grid point 100 m apart at 39.5° N.
pub(crate) fn point(row: i32, col: i32) -> (f64, f64) {
    let lat0: f64 = 39.5;
    let lon_step = 100.0 / (DEG_M * lat0.to_radians().cos());
    (
        lat0 + f64::from(row) * 100.0 / DEG_M,
        106.7 + f64::from(col) * lon_step,
    )
}

/// The west bank's road 1–2, the east bank's 3–4 (100 m east), a bridge 2–4 a kilometre
/// north, and a street 3–7 on the east bank.
pub(crate) fn river() -> RawMap {
    let nodes: HashMap<i64, (f64, f64)> = [
        (1, point(0, 0)),
        (2, point(10, 0)),
        (3, point(0, 1)),
        (4, point(10, 1)),
        (7, point(0, 5)),
    ]
    .into_iter()
    .collect();
    let way = |n: &[i64], highway: &str| RawWay {
        id: n[0] * 100 + n[n.len() - 1],
        nodes: n.to_vec(),
        tags: vec![("highway".into(), highway.into())],
    };
    RawMap {
        nodes,
        ways: vec![
            way(&[1, 2], "primary"),
            way(&[3, 4], "primary"),
            way(&[2, 4], "primary"),
            way(&[3, 7], "residential"),
        ],
        ..RawMap::default()
    }
}

/// Spawns the app (with the roads when `roads`), places responder `west` across the river
/// (100 m by air) and `east` on the incident's bank (400 m), and raises an incident at
/// node 3; returns who got the offer and the candidates then.
async fn who_goes(roads: bool) -> (String, Value) {
    let dir = tempfile::tempdir().unwrap();
    if roads {
        let (r, _) = Roads::build("river", &river());
        r.save(&dir.path().join(FILE_NAME)).unwrap();
    }
    let data_dir = dir.path().display().to_string();
    let app = TestApp::spawn(&[("GRIDDISPATCH__DATABASE__DATA_DIR", data_dir.as_str())]).await;
    let (w, e) = (point(0, 0), point(0, 5));
    let mut west = worker(&app, "west", "patrol", "car", None, w).await;
    let mut east = worker(&app, "east", "patrol", "car", None, e).await;
    let (lat, lon) = point(0, 1);
    let id = app
        .alert(json!({"id": "r1", "kind": "fight", "severity": 3, "lat": lat, "lon": lon}))
        .await;
    let offered = tokio::select! {
        t = west.expect_task() => ("west", t),
        t = east.expect_task() => ("east", t),
    };
    assert_eq!(offered.1["incident_id"], id);
    let cands = app.get(&format!("/api/v1/incidents/{id}/candidates")).await;
    drop(dir);
    (offered.0.to_owned(), cands)
}

#[tokio::test]
async fn across_the_river_the_responder_on_the_incidents_bank_goes_first_by_road() {
    let (by_road, cands) = who_goes(true).await;
    assert_eq!(by_road, "east", "{cands}");
    // The one across the water is still a candidate, measured by road: up to the bridge
    // and back down, 2.1 km.
    let west = &cands[0];
    assert_eq!(west["responder_id"], "west", "{cands}");
    assert_eq!(west["eta_source"], "road", "{cands}");
    let road = west["road_distance_m"].as_f64().unwrap();
    assert!((road - 2_100.0).abs() < 10.0, "{cands}");
    assert!(west["distance_m"].as_f64().unwrap() < 110.0, "{cands}");

    let (by_air, cands) = who_goes(false).await;
    assert_eq!(
        by_air, "west",
        "without roads the nearest by air goes: {cands}"
    );
    assert_eq!(cands[0]["eta_source"], "straight", "{cands}");
    assert!(cands[0]["road_distance_m"].is_null(), "{cands}");
}
