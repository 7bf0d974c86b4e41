//! Cameras against the real app: the view fields, CRUD, bulk import from CSV and GeoJSON
//! (all or nothing), and the `cameras import` command line.

use std::time::Instant;

use crate::common::{Api, TestApp};
use reqwest::Method;
use serde_json::{json, Value};

/// Two neighbouring grid zones: g1 west of lon 106.70, g2 east of it.
async fn two_zones(app: &TestApp) {
    app.zone("g1", "grid", (39.49, 106.69), (39.50, 106.70))
        .await;
    app.zone("g2", "grid", (39.49, 106.70), (39.50, 106.71))
        .await;
}

/// POSTs a raw body to the import endpoint.
async fn import(api: &Api, content_type: Option<&str>, body: impl Into<Vec<u8>>) -> (u16, Value) {
    let mut req = api
        .http
        .post(format!("{}/api/v1/cameras/import", api.base))
        .bearer_auth(&api.token)
        .body(body.into());
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// Every camera, page after page (`X-Next-Cursor`) as the console reads them.
async fn cameras(api: &Api) -> Vec<Value> {
    let mut all = Vec::new();
    let mut url = format!("{}/api/v1/cameras", api.base);
    loop {
        let r = api
            .http
            .get(&url)
            .bearer_auth(&api.token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let next = r
            .headers()
            .get("x-next-cursor")
            .map(|c| c.to_str().unwrap().to_owned());
        let page: Vec<Value> = r.json().await.unwrap();
        all.extend(page);
        match next {
            Some(c) => url = format!("{}/api/v1/cameras?cursor={c}", api.base),
            None => return all,
        }
    }
}

fn by_id<'a>(cams: &'a [Value], id: &str) -> &'a Value {
    cams.iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no camera {id} in {cams:?}"))
}

/// The error reported for `row`, joined if there are several entries.
fn row_error(v: &Value, row: u64) -> String {
    v["errors"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["row"] == row)
        .map(|e| e["error"].as_str().unwrap().to_owned())
        .collect::<Vec<_>>()
        .join(" | ")
}

/// A request to `/api/v1/cameras/{id}` as admin.
async fn send(api: &Api, method: Method, id: &str, body: Option<Value>) -> (u16, Value) {
    let path = format!("/api/v1/cameras/{id}");
    api.call(method, &path, Some(&api.token), body).await
}

#[tokio::test]
async fn create_get_patch_delete() {
    let app = TestApp::spawn(&[]).await;
    two_zones(&app).await;
    let (s, v) = app
        .post(
            "/api/v1/cameras",
            json!({"id":"gate","name":"北门","lat":39.495,"lon":106.695,
                   "stream_uri":"rtsp://10.0.0.5/main","gb28181_id":"34020000001320000001",
                   "heading":135.5,"fov":90,"onvif_metadata":true}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["zone_id"], "g1", "derived from the position");
    let got = app.get("/api/v1/cameras/gate").await;
    assert_eq!(got["heading"], 135.5);
    assert_eq!(got["fov"], 90.0);
    assert_eq!(got["onvif_metadata"], true);
    assert_eq!(got["stream_uri"], "rtsp://10.0.0.5/main");
    assert_eq!(got["gb28181_id"], "34020000001320000001");

    // Defaults: no view, no ONVIF metadata.
    let (s, v) = app
        .post(
            "/api/v1/cameras",
            json!({"id":"plain","name":"p","lat":39.495,"lon":106.705}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["onvif_metadata"], false);
    assert!(v["heading"].is_null() && v["fov"].is_null());
    assert_eq!(v["zone_id"], "g2");

    for (body, field) in [
        (
            json!({"id":"x","name":"x","lat":39.495,"lon":106.695,"heading":361}),
            "heading",
        ),
        (
            json!({"id":"x","name":"x","lat":39.495,"lon":106.695,"fov":0.5}),
            "fov",
        ),
        (
            json!({"id":"x","name":"x","lat":39.495,"lon":106.695,"zone_id":"nowhere"}),
            "zone_id",
        ),
        (
            json!({"id":"x","name":" ","lat":39.495,"lon":106.695}),
            "name",
        ),
    ] {
        let (s, v) = app.post("/api/v1/cameras", body.clone()).await;
        assert_eq!(s, 422, "{body} -> {v}");
        assert!(
            v["error"].as_str().unwrap().starts_with(field),
            "{v} should name {field}"
        );
    }

    let patch = |id: &'static str, body: Value| send(&app, Method::PATCH, id, Some(body));
    // Moving keeps the zone; zone_id null derives it from the new position.
    let (s, v) = patch("gate", json!({"lat":39.495,"lon":106.705,"heading":null})).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["zone_id"], "g1");
    assert!(v["heading"].is_null());
    assert_eq!(v["fov"], 90.0, "fields not named stay");
    let (s, v) = patch("gate", json!({"zone_id":null,"name":"北门 (新)"})).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["zone_id"], "g2");
    let got = app.get("/api/v1/cameras/gate").await;
    assert_eq!(got["zone_id"], "g2");
    assert_eq!(got["name"], "北门 (新)");
    assert_eq!(got["lon"], 106.705);

    let (s, v) = patch("gate", json!({"fov":400})).await;
    assert_eq!(s, 422);
    assert!(v["error"].as_str().unwrap().contains("fov"), "{v}");
    let (s, v) = patch("gate", json!({"gb28181_id":"123"})).await;
    assert_eq!(s, 422);
    assert!(v["error"].as_str().unwrap().contains("gb28181_id"), "{v}");
    // Another camera cannot take its device id.
    let (s, _) = patch("plain", json!({"gb28181_id":"34020000001320000001"})).await;
    assert_eq!(s, 409);
    let (s, _) = patch("nosuch", json!({"name":"x"})).await;
    assert_eq!(s, 404);

    assert_eq!(send(&app, Method::DELETE, "gate", None).await.0, 204);
    assert_eq!(send(&app, Method::DELETE, "gate", None).await.0, 404);
    let (s, _) = app
        .call(Method::GET, "/api/v1/cameras/gate", Some(&app.token), None)
        .await;
    assert_eq!(s, 404);
    assert_eq!(cameras(&app).await.len(), 1);
}

#[tokio::test]
async fn csv_import_creates_then_updates() {
    let app = TestApp::spawn(&[]).await;
    two_zones(&app).await;
    // Columns in another order than documented, a BOM as spreadsheets write it, CRLF.
    let csv = "\u{feff}name,id,lon,lat,heading,fov,onvif_metadata,gb28181_id,zone_id\r\n\
               West,cam-1,106.695,39.495,90,60,true,34020000001320000011,\r\n\
               East,cam-2,106.705,39.495,,,,,\r\n\
               \"Pinned, by hand\",cam-3,106.705,39.495,0,360,false,,g1\r\n";
    let (s, v) = import(&app, Some("text/csv"), csv).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v, json!({"imported":3,"created":3,"updated":0,"errors":[]}));
    let cams = cameras(&app).await;
    assert_eq!(cams.len(), 3);
    assert_eq!(by_id(&cams, "cam-1")["zone_id"], "g1");
    assert_eq!(by_id(&cams, "cam-1")["heading"], 90.0);
    assert_eq!(by_id(&cams, "cam-1")["onvif_metadata"], true);
    assert_eq!(by_id(&cams, "cam-1")["gb28181_id"], "34020000001320000011");
    assert_eq!(by_id(&cams, "cam-2")["zone_id"], "g2");
    assert!(by_id(&cams, "cam-2")["heading"].is_null());
    assert_eq!(
        by_id(&cams, "cam-3")["zone_id"],
        "g1",
        "an explicit zone wins"
    );
    assert_eq!(by_id(&cams, "cam-3")["name"], "Pinned, by hand");

    // Same file, one name changed, no content type: recognised as CSV, all updated.
    let again = csv.replace("East,", "East gate,");
    let (s, v) = import(&app, None, again).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["created"], 0);
    assert_eq!(v["updated"], 3);
    let cams = cameras(&app).await;
    assert_eq!(cams.len(), 3);
    assert_eq!(by_id(&cams, "cam-2")["name"], "East gate");

    // Device ids may move between cameras in one import.
    let swap = "id,name,lat,lon,gb28181_id\n\
                cam-1,West,39.495,106.695,34020000001320000022\n\
                cam-2,East,39.495,106.705,34020000001320000011\n";
    let (s, v) = import(&app, Some("text/csv"), swap).await;
    assert_eq!(s, 200, "{v}");
    let cams = cameras(&app).await;
    assert_eq!(by_id(&cams, "cam-2")["gb28181_id"], "34020000001320000011");
}

#[tokio::test]
async fn a_bad_csv_reports_every_row_and_stores_nothing() {
    let app = TestApp::spawn(&[]).await;
    two_zones(&app).await;
    let (s, _) = app
        .post(
            "/api/v1/cameras",
            json!({"id":"old","name":"Old","lat":39.495,"lon":106.695,
                   "gb28181_id":"34020000001320000099"}),
        )
        .await;
    assert_eq!(s, 201);
    let (s, _) = app
        .post(
            "/api/v1/cameras",
            json!({"id":"other","name":"Other","lat":39.495,"lon":106.695,
                   "gb28181_id":"34020000001320000098"}),
        )
        .await;
    assert_eq!(s, 201);
    let csv = "id,name,lat,lon,colour,gb28181_id\n\
               ok-1,Fine,39.495,106.695,red,\n\
               bad-lat,Bad,95.5,106.695,red,\n\
               no-name,,39.495,106.695,red,\n\
               ok-1,Again,39.495,106.695,red,\n\
               taken,Taken,39.495,106.695,red,34020000001320000098\n\
               nan,NaN,north,106.695,red,\n\
               short,Short\n\
               old,Renamed,39.495,106.695,red,\n";
    let (s, v) = import(&app, Some("text/csv"), csv).await;
    assert_eq!(s, 422, "{v}");
    assert_eq!(v["imported"], 0);
    assert!(row_error(&v, 0).contains("colour"), "{v}");
    assert!(row_error(&v, 2).starts_with("lat:"), "{v}");
    assert_eq!(v["errors"][1]["id"], "bad-lat", "{v}");
    assert!(row_error(&v, 3).contains("name: required"), "{v}");
    assert!(row_error(&v, 4).contains("duplicate of row 1"), "{v}");
    assert!(row_error(&v, 5).contains("belongs to camera other"), "{v}");
    assert!(row_error(&v, 6).contains("lat: not a number"), "{v}");
    assert!(row_error(&v, 7).contains("field"), "{v}");
    assert_eq!(row_error(&v, 1), "", "good rows are not listed");
    assert_eq!(row_error(&v, 8), "", "good rows are not listed");
    assert_eq!(v["more_errors"], 0);

    // Nothing was stored, not even the good rows or the update of "old".
    let cams = cameras(&app).await;
    assert_eq!(cams.len(), 2);
    assert_eq!(by_id(&cams, "old")["name"], "Old");

    // Missing required columns: one file-level error.
    let (s, v) = import(&app, Some("text/csv"), "id,name\nx,y\n").await;
    assert_eq!(s, 422);
    assert!(row_error(&v, 0).contains("missing lat, lon"), "{v}");
    // The list is capped and says how many more there were.
    let mut many = String::from("id,name,lat,lon\n");
    for i in 0..1500 {
        many.push_str(&format!("c{i},n,99,106.7\n"));
    }
    let (s, v) = import(&app, Some("text/csv"), many).await;
    assert_eq!(s, 422);
    assert_eq!(v["errors"].as_array().unwrap().len(), 1000);
    assert_eq!(v["more_errors"], 500);
    assert_eq!(cameras(&app).await.len(), 2);
}

#[tokio::test]
async fn geojson_import() {
    let app = TestApp::spawn(&[]).await;
    two_zones(&app).await;
    let fc = json!({"type":"FeatureCollection","features":[
        {"type":"Feature","geometry":{"type":"Point","coordinates":[106.695,39.495]},
         "properties":{"id":"g-1","name":"西","heading":270,"fov":45.5,"onvif_metadata":true,
                       "stream_uri":"rtsp://10.0.0.7/sub"}},
        {"type":"Feature","id":"g-2","geometry":{"type":"Point","coordinates":[106.705,39.495,12.0]},
         "properties":{"name":"东","zone_id":null}}
    ]});
    let (s, v) = import(&app, None, fc.to_string()).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["created"], 2);
    let cams = cameras(&app).await;
    let west = by_id(&cams, "g-1");
    assert_eq!(west["zone_id"], "g1");
    assert_eq!(west["lat"], 39.495);
    assert_eq!(west["lon"], 106.695);
    assert_eq!(west["fov"], 45.5);
    assert_eq!(west["onvif_metadata"], true);
    assert_eq!(by_id(&cams, "g-2")["zone_id"], "g2");

    let bad = json!({"type":"FeatureCollection","features":[
        {"type":"Feature","geometry":{"type":"Point","coordinates":[106.695,39.495]},
         "properties":{"id":"g-1","name":"renamed"}},
        {"type":"Feature","geometry":{"type":"Polygon","coordinates":[]},
         "properties":{"id":"g-3","name":"x"}},
        {"type":"Feature","geometry":{"type":"Point","coordinates":[106.695,39.495]},
         "properties":{"id":"g-4","name":"x","heading":"north","lat":1}}
    ]});
    let (s, v) = import(&app, Some("application/geo+json"), bad.to_string()).await;
    assert_eq!(s, 422, "{v}");
    assert!(row_error(&v, 2).contains("Point"), "{v}");
    assert_eq!(v["errors"][0]["id"], "g-3");
    assert!(row_error(&v, 3).contains("heading"), "{v}");
    assert!(row_error(&v, 3).contains("unknown lat"), "{v}");
    assert_eq!(by_id(&cameras(&app).await, "g-1")["name"], "西");

    let (s, v) = import(&app, None, r#"{"type":"Feature"}"#).await;
    assert_eq!(s, 422);
    assert!(row_error(&v, 0).contains("FeatureCollection"), "{v}");
}

#[tokio::test]
async fn fifty_thousand_rows_import_in_one_request() {
    let app = TestApp::spawn(&[]).await;
    two_zones(&app).await;
    let mut csv = String::from("id,name,lat,lon,stream_uri,heading,fov\n");
    for i in 0..50_000u32 {
        let lat = 39.40 + f64::from(i % 250) * 0.0008;
        let lon = 106.60 + f64::from(i / 250) * 0.0008;
        csv.push_str(&format!(
            "cam-{i:05},Camera {i},{lat:.5},{lon:.5},rtsp://10.1.{}.{}/main,{},60\n",
            i / 256 % 256,
            i % 256,
            i % 360
        ));
    }
    let started = Instant::now();
    let (s, v) = import(&app, Some("text/csv"), csv).await;
    let took = started.elapsed();
    eprintln!("50,000-row CSV import took {took:?}");
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["created"], 50_000);
    let cams = cameras(&app).await;
    assert_eq!(cams.len(), 50_000);
    assert!(cams.iter().any(|c| c["zone_id"] == "g1"));
}

/// Runs the real binary; returns (success, stdout, stderr).
async fn cli(args: &[&str]) -> (bool, String, String) {
    cli_env(args, &[]).await
}

/// Runs the real binary with extra environment variables.
async fn cli_env(args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_griddispatch"))
        .args(args)
        .env_remove("GRIDDISPATCH_TOKEN")
        .env("RUST_LOG", "error")
        .envs(env.iter().copied())
        .output()
        .await
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn the_cli_imports_a_file_and_reports_bad_rows() {
    let app = TestApp::spawn(&[]).await;
    two_zones(&app).await;
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("cameras.csv");
    std::fs::write(
        &good,
        "id,name,lat,lon\ncli-1,One,39.495,106.695\ncli-2,Two,39.495,106.705\n",
    )
    .unwrap();
    let path = good.to_str().unwrap();
    let (ok, out, err) = cli(&[
        "cameras", "import", path, "--url", &app.base, "--token", &app.token,
    ])
    .await;
    assert!(ok, "{err}");
    assert!(out.contains("imported 2"), "{out}");
    let cams = cameras(&app).await;
    assert_eq!(by_id(&cams, "cli-2")["zone_id"], "g2");

    // Without --url the instance is found at the configured http.listen; the token may
    // come from the environment.
    let listen = app.base.trim_start_matches("http://").to_owned();
    let (ok, out, err) = cli_env(
        &["cameras", "import", path],
        &[
            ("GRIDDISPATCH__HTTP__LISTEN", &listen),
            ("GRIDDISPATCH_TOKEN", &app.token),
        ],
    )
    .await;
    assert!(ok, "{err}");
    assert!(out.contains("2 updated"), "{out}");

    let bad = dir.path().join("bad.txt");
    std::fs::write(
        &bad,
        "id,name,lat,lon\ncli-3,Three,91,106.695\ncli-4,,39.495,106.705\n",
    )
    .unwrap();
    let (ok, _, err) = cli(&[
        "cameras",
        "import",
        bad.to_str().unwrap(),
        "--url",
        &app.base,
        "--token",
        &app.token,
    ])
    .await;
    assert!(!ok);
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.contains("cli-3") && err.contains("lat:"), "{err}");
    assert!(
        err.contains("cli-4") && err.contains("name: required"),
        "{err}"
    );
    let last: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(last.len(), 1, "{err}");
    assert!(last[0].contains("nothing imported"), "{err}");
    assert_eq!(cameras(&app).await.len(), 2);

    // Refusals that are not about rows: one clear line.
    let (ok, _, err) = cli(&[
        "cameras", "import", path, "--url", &app.base, "--token", "gd_wrong",
    ])
    .await;
    assert!(!ok);
    let last: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(last.len(), 1, "{err}");
    assert!(last[0].contains("401"), "{err}");
    let (ok, _, err) = cli(&[
        "cameras",
        "import",
        "/no/such/file.csv",
        "--url",
        &app.base,
        "--token",
        &app.token,
    ])
    .await;
    assert!(!ok);
    assert!(err.contains("/no/such/file.csv"), "{err}");
}
