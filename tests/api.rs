//! The HTTP API's access rules and input checks.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns fail loudly by design

mod common;

use common::TestApp;
use griddispatch::domain::Role;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn every_endpoint_needs_a_token_and_the_right_role() {
    let app = TestApp::spawn(&[]).await;
    let viewer = app.token(Role::Viewer).await;
    let operator = app.token(Role::Operator).await;
    // (method, path, least role)
    let table: &[(Method, &str, Role)] = &[
        (Method::GET, "/api/v1/zones", Role::Viewer),
        (Method::POST, "/api/v1/zones", Role::Admin),
        (Method::POST, "/api/v1/zones/import", Role::Admin),
        (Method::PUT, "/api/v1/zones/z1", Role::Admin),
        (Method::DELETE, "/api/v1/zones/z1", Role::Admin),
        (Method::GET, "/api/v1/responders", Role::Viewer),
        (Method::POST, "/api/v1/responders", Role::Admin),
        (Method::GET, "/api/v1/responders/r1", Role::Viewer),
        (Method::PATCH, "/api/v1/responders/r1", Role::Admin),
        (Method::DELETE, "/api/v1/responders/r1", Role::Admin),
        (
            Method::POST,
            "/api/v1/responders/r1/reset-password",
            Role::Admin,
        ),
        (Method::GET, "/api/v1/sources", Role::Viewer),
        (Method::POST, "/api/v1/sources", Role::Admin),
        (
            Method::POST,
            "/api/v1/sources/s1/reset-password",
            Role::Admin,
        ),
        (Method::GET, "/api/v1/cameras", Role::Viewer),
        (Method::POST, "/api/v1/cameras", Role::Admin),
        (Method::POST, "/api/v1/cameras/import", Role::Admin),
        (Method::GET, "/api/v1/cameras/c1", Role::Viewer),
        (Method::GET, "/api/v1/cameras/c1/history", Role::Viewer),
        (Method::PATCH, "/api/v1/cameras/c1", Role::Admin),
        (Method::DELETE, "/api/v1/cameras/c1", Role::Admin),
        (Method::POST, "/api/v1/alerts", Role::Operator),
        (Method::POST, "/api/v1/ingest/gb28181", Role::Operator),
        (Method::GET, "/api/v1/incidents", Role::Viewer),
        (Method::GET, "/api/v1/incidents/i1", Role::Viewer),
        (Method::GET, "/api/v1/incidents/i1/timeline", Role::Viewer),
        (Method::GET, "/api/v1/incidents/i1/candidates", Role::Viewer),
        (
            Method::GET,
            "/api/v1/incidents/i1/snapshots/1.jpg",
            Role::Viewer,
        ),
        (Method::POST, "/api/v1/incidents/i1/assign", Role::Operator),
        (Method::POST, "/api/v1/incidents/i1/cancel", Role::Operator),
        (Method::POST, "/api/v1/incidents/i1/close", Role::Operator),
        (Method::GET, "/api/v1/dead-letters", Role::Viewer),
    ];
    for (method, path, need) in table {
        let (s, _) = app.call(method.clone(), path, None, Some(json!({}))).await;
        assert_eq!(s, 401, "{method} {path} without a token");
        let (s, _) = app
            .call(
                method.clone(),
                path,
                Some("gd_not-a-real-token"),
                Some(json!({})),
            )
            .await;
        assert_eq!(s, 401, "{method} {path} with a bad token");
        for (role, token) in [(Role::Viewer, &viewer), (Role::Operator, &operator)] {
            let (s, _) = app
                .call(method.clone(), path, Some(token), Some(json!({})))
                .await;
            if role < *need {
                assert_eq!(s, 403, "{method} {path} as {role}");
            } else {
                assert!(s != 401 && s != 403, "{method} {path} as {role} got {s}");
            }
        }
    }
    for open in ["/healthz", "/metrics"] {
        let (s, _) = app.call(Method::GET, open, None, None).await;
        assert_eq!(s, 200, "{open}");
    }
}

#[tokio::test]
async fn bad_input_gets_a_clear_error_and_changes_nothing() {
    let app = TestApp::spawn(&[]).await;
    let cases = [
        (
            "/api/v1/responders",
            json!({"id":"a/b","name":"x","kind":"grid_worker","travel":"foot"}),
            "id",
        ),
        (
            "/api/v1/responders",
            json!({"id":"ok","name":"x","kind":"wizard","travel":"foot"}),
            "kind",
        ),
        (
            "/api/v1/responders",
            json!({"id":"ok","name":"x","kind":"patrol","travel":"car","zone_id":"nowhere"}),
            "zone_id",
        ),
        (
            "/api/v1/cameras",
            json!({"id":"c1","name":"x","lat":123.0,"lon":1.0}),
            "lat",
        ),
        (
            "/api/v1/alerts",
            json!({"id":"a","kind":"medical","severity":1}),
            "lat/lon",
        ),
        (
            "/api/v1/zones",
            json!({"type":"Feature","geometry":{"type":"Point","coordinates":[1,2]},"properties":{"id":"z","name":"z","kind":"grid"}}),
            "Polygon",
        ),
        (
            "/api/v1/zones",
            json!({"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[1,1],[2,1],[2,2],[1,1]]]},"properties":{"id":"z","name":"z","kind":"district"}}),
            "kind",
        ),
    ];
    for (path, body, mention) in cases {
        let (s, v) = app.post(path, body.clone()).await;
        assert_eq!(s, 422, "{path} {body} -> {v}");
        assert!(
            v["error"].as_str().unwrap().contains(mention),
            "{path}: {v} should mention {mention}"
        );
    }
    let (s, v) = app
        .call(Method::POST, "/api/v1/alerts", Some(&app.token), None)
        .await;
    assert_eq!(s, 422, "{v}");
    assert!(app
        .get("/api/v1/responders")
        .await
        .as_array()
        .unwrap()
        .is_empty());

    // The password is shown once and works only as issued; a second create is a conflict.
    let body = json!({"id":"w1","name":"李娜","kind":"grid_worker","travel":"bike"});
    let (s, v) = app.post("/api/v1/responders", body.clone()).await;
    assert_eq!(s, 201);
    assert_eq!(v["mqtt"]["username"], "w1");
    let (s, _) = app.post("/api/v1/responders", body).await;
    assert_eq!(s, 409);
    let listed = app.get("/api/v1/responders/w1").await;
    assert!(listed.get("mqtt").is_none() && !listed.to_string().contains("password"));
}

#[tokio::test]
async fn zone_import_is_all_or_nothing() {
    let app = TestApp::spawn(&[]).await;
    let feature = |id: &str, x: f64| {
        json!({"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[x,39.0],[x+0.01,39.0],[x+0.01,39.01],[x,39.01],[x,39.0]]]},
               "properties":{"id":id,"name":format!("网格 {id}"),"kind":"grid","population":1200}})
    };
    let bad = json!({"type":"FeatureCollection","features":[feature("z1",106.0), feature("z2",106.1), {"type":"Feature","geometry":null,"properties":{}}]});
    let (s, v) = app.post("/api/v1/zones/import", bad).await;
    assert_eq!(s, 422);
    assert!(v["error"].as_str().unwrap().contains("features[2]"), "{v}");
    assert!(app.get("/api/v1/zones").await["features"]
        .as_array()
        .unwrap()
        .is_empty());
    let good =
        json!({"type":"FeatureCollection","features":[feature("z1",106.0), feature("z2",106.1)]});
    let (s, v) = app.post("/api/v1/zones/import", good).await;
    assert_eq!(s, 200, "{v}");
    let zones = app.get("/api/v1/zones").await;
    assert_eq!(zones["type"], "FeatureCollection");
    assert_eq!(zones["features"].as_array().unwrap().len(), 2);
    assert_eq!(
        zones["features"][0]["properties"]["population"], 1200,
        "extra properties are kept"
    );
    let (s, _) = app
        .call(Method::DELETE, "/api/v1/zones/z1", Some(&app.token), None)
        .await;
    assert_eq!(s, 204);
    let (s, _) = app
        .call(Method::DELETE, "/api/v1/zones/z1", Some(&app.token), None)
        .await;
    assert_eq!(s, 404);
}
