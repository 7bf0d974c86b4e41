//! The HTTP API's access rules and input checks.

use crate::common;
use crate::common::TestApp;
use griddispatch::domain::Role;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn every_endpoint_needs_credentials_and_the_right_role() {
    let app = TestApp::spawn(&[]).await;
    let viewer = app.token(Role::Viewer).await;
    let operator = app.token(Role::Operator).await;
    let viewer_cookie = session(&app, "vera", Role::Viewer).await;
    let operator_cookie = session(&app, "otto", Role::Operator).await;
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
        (Method::GET, "/api/v1/live", Role::Viewer),
        (Method::GET, "/api/v1/console/config", Role::Viewer),
        (Method::GET, "/api/v1/coverage", Role::Viewer),
        (Method::GET, "/api/v1/basemap/15/0/0", Role::Viewer),
        (Method::GET, "/api/v1/incidents", Role::Viewer),
        (Method::GET, "/api/v1/incidents/i1", Role::Viewer),
        (Method::GET, "/api/v1/incidents/i1/timeline", Role::Viewer),
        (Method::GET, "/api/v1/incidents/i1/candidates", Role::Viewer),
        (Method::GET, "/api/v1/incidents/i1/routes", Role::Viewer),
        (
            Method::GET,
            "/api/v1/incidents/i1/snapshots/1.jpg",
            Role::Viewer,
        ),
        (Method::POST, "/api/v1/incidents/i1/assign", Role::Operator),
        (Method::POST, "/api/v1/incidents/i1/cancel", Role::Operator),
        (Method::POST, "/api/v1/incidents/i1/close", Role::Operator),
        (Method::POST, "/api/v1/incidents/i1/verify", Role::Operator),
        (Method::POST, "/api/v1/incidents/i1/rework", Role::Operator),
        (Method::POST, "/api/v1/incidents/i1/suspend", Role::Operator),
        (Method::POST, "/api/v1/incidents/i1/resume", Role::Operator),
        (
            Method::POST,
            "/api/v1/incidents/i1/extension",
            Role::Operator,
        ),
        (Method::GET, "/api/v1/reports/summary", Role::Viewer),
        (Method::GET, "/api/v1/reports/summary.csv", Role::Viewer),
        (Method::GET, "/api/v1/reports/summary.xlsx", Role::Viewer),
        (Method::GET, "/api/v1/audit", Role::Admin),
        (Method::GET, "/api/v1/audit.csv", Role::Admin),
        (Method::GET, "/api/v1/points/accounts/r1", Role::Viewer),
        (
            Method::GET,
            "/api/v1/points/accounts/r1/history",
            Role::Viewer,
        ),
        (Method::GET, "/api/v1/points/ledger", Role::Viewer),
        (Method::GET, "/api/v1/points/awards", Role::Viewer),
        (Method::GET, "/api/v1/points/accounts", Role::Viewer),
        (Method::GET, "/api/v1/points/honour", Role::Viewer),
        (Method::POST, "/api/v1/points/awards", Role::Admin),
        (
            Method::POST,
            "/api/v1/points/awards/a1/approve",
            Role::Admin,
        ),
        (Method::GET, "/api/v1/dead-letters", Role::Viewer),
        (Method::GET, "/api/v1/session", Role::Viewer),
        (Method::GET, "/api/v1/users", Role::Admin),
        (Method::POST, "/api/v1/users", Role::Admin),
        (Method::GET, "/api/v1/users/u1", Role::Admin),
        (Method::PATCH, "/api/v1/users/u1", Role::Admin),
        (Method::DELETE, "/api/v1/users/u1", Role::Admin),
        (Method::GET, "/api/v1/merchants", Role::Viewer),
        (Method::POST, "/api/v1/merchants", Role::Admin),
        (Method::GET, "/api/v1/merchants/m1", Role::Viewer),
        (Method::PUT, "/api/v1/merchants/m1", Role::Admin),
        (Method::DELETE, "/api/v1/merchants/m1", Role::Admin),
        (Method::GET, "/api/v1/merchants/m1/offers", Role::Viewer),
        (Method::POST, "/api/v1/merchants/m1/offers", Role::Admin),
        (Method::GET, "/api/v1/merchants/m1/offers/o1", Role::Viewer),
        (Method::PUT, "/api/v1/merchants/m1/offers/o1", Role::Admin),
        (
            Method::DELETE,
            "/api/v1/merchants/m1/offers/o1",
            Role::Admin,
        ),
        (Method::GET, "/api/v1/offers", Role::Viewer),
        // Redemption: confirming is the merchant role's alone (any console role → 403).
        (
            Method::POST,
            "/api/v1/redemptions/12345678/confirm",
            Role::Admin,
        ),
        (Method::GET, "/api/v1/redemptions", Role::Admin),
        (
            Method::GET,
            "/api/v1/points/accounts/r1/redemptions",
            Role::Viewer,
        ),
        (Method::GET, "/api/v1/merchants/m1/settlement", Role::Admin),
        (
            Method::GET,
            "/api/v1/merchants/m1/settlement.csv",
            Role::Admin,
        ),
        (
            Method::GET,
            "/api/v1/merchants/m1/settlement.xlsx",
            Role::Admin,
        ),
    ];
    // A merchant user (below viewer) is refused everywhere (403) except where it reads
    // its own merchant: another merchant is 404 to it, the list shows only its own.
    let merchant_cookie = merchant_session(&app, "own").await;
    let merchant_may: &[(Method, &str, u16)] = &[
        (Method::GET, "/api/v1/session", 200),
        (Method::GET, "/api/v1/merchants", 200),
        (Method::GET, "/api/v1/merchants/m1", 404),
        (Method::GET, "/api/v1/merchants/m1/offers", 404),
        (Method::GET, "/api/v1/merchants/m1/offers/o1", 404),
        (Method::POST, "/api/v1/redemptions/12345678/confirm", 404),
        (Method::GET, "/api/v1/redemptions", 200),
        (Method::GET, "/api/v1/merchants/m1/settlement", 404),
        (Method::GET, "/api/v1/merchants/m1/settlement.csv", 404),
        (Method::GET, "/api/v1/merchants/m1/settlement.xlsx", 404),
    ];
    // Logging in and out need no credentials, by their nature.
    let open_api: &[(Method, &str)] = &[
        (Method::POST, "/api/v1/session"),
        (Method::DELETE, "/api/v1/session"),
        // The field app reads its settings before its worker logs in (to the broker).
        (Method::GET, "/api/v1/field/config"),
        // The API's description and its reference page: nothing in them is not public.
        (Method::GET, "/api/v1/openapi.json"),
        (Method::GET, "/api/docs"),
        // Probes and scrapes by orchestrators and Prometheus (answered below).
        (Method::GET, "/healthz"),
        (Method::GET, "/readyz"),
        (Method::GET, "/livez"),
        (Method::GET, "/metrics"),
    ];
    // A phone's own MQTT login as HTTP Basic, and nothing else: no token, no session.
    let phone_only: &[(Method, &str)] = &[
        (Method::POST, "/api/v1/field/reports"),
        (Method::POST, "/api/v1/redemptions"),
    ];
    // The table covers every operation of the API's document, which covers every route
    // (`openapi::the_document_describes_every_route`).
    for (method, pattern) in crate::openapi::operations(&app).await {
        let covered = table
            .iter()
            .map(|(m, p, _)| (m, *p))
            .chain(open_api.iter().map(|(m, p)| (m, *p)))
            .chain(phone_only.iter().map(|(m, p)| (m, *p)))
            .any(|(m, p)| m.as_str() == method && path_matches(&pattern, p));
        assert!(covered, "{method} {pattern} is missing from the role table");
    }
    for (method, path) in phone_only {
        for token in [None, Some(viewer.as_str()), Some(operator.as_str())] {
            let (s, _) = app.call(method.clone(), path, token, Some(json!({}))).await;
            assert_eq!(s, 401, "{method} {path} with {token:?}");
        }
    }
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
        // The same with a console session cookie (and this site's Origin).
        for (role, cookie) in [
            (Role::Viewer, &viewer_cookie),
            (Role::Operator, &operator_cookie),
        ] {
            let s = app
                .http
                .request(method.clone(), format!("{}{}", app.base, path))
                .header(reqwest::header::COOKIE, cookie.as_str())
                .header(reqwest::header::ORIGIN, app.base.as_str())
                .json(&json!({}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16();
            if role < *need {
                assert_eq!(s, 403, "{method} {path} as {role} by session");
            } else {
                assert!(
                    s != 401 && s != 403,
                    "{method} {path} as {role} by session got {s}"
                );
            }
        }
        let s = app
            .http
            .request(method.clone(), format!("{}{}", app.base, path))
            .header(reqwest::header::COOKIE, merchant_cookie.as_str())
            .header(reqwest::header::ORIGIN, app.base.as_str())
            .json(&json!({}))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16();
        let want = merchant_may
            .iter()
            .find(|(m, p, _)| m == method && p == path)
            .map_or(403, |(_, _, s)| *s);
        assert_eq!(s, want, "{method} {path} as merchant by session");
    }
    for open in ["/healthz", "/readyz", "/livez", "/metrics"] {
        let (s, _) = app.call(Method::GET, open, None, None).await;
        assert_eq!(s, 200, "{open}");
    }
}

/// A console user with `role`, logged in; returns the `gd_session=…` cookie pair.
async fn session(app: &TestApp, username: &str, role: Role) -> String {
    app.running
        .as_ref()
        .unwrap()
        .store
        .create_user(username, "password for tests", role)
        .await
        .unwrap();
    let resp = app
        .http
        .post(format!("{}/api/v1/session", app.base))
        .json(&json!({"username": username, "password": "password for tests"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let set = resp.headers()[reqwest::header::SET_COOKIE]
        .to_str()
        .unwrap();
    set.split(';').next().unwrap().to_owned()
}

/// A merchant `id` registered by an admin, its login signed in; returns the cookie pair.
async fn merchant_session(app: &TestApp, id: &str) -> String {
    let (s, v) = app
        .post(
            "/api/v1/merchants",
            json!({"id": id, "name": id, "address": "乌达区", "lat": 39.5, "lon": 106.7}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let resp = app
        .http
        .post(format!("{}/api/v1/session", app.base))
        .json(&json!({"username": v["login"]["username"], "password": v["login"]["password"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let set = resp.headers()[reqwest::header::SET_COOKIE]
        .to_str()
        .unwrap();
    set.split(';').next().unwrap().to_owned()
}

/// Whether a concrete path fits a route pattern whose `{name}` segments match anything.
fn path_matches(pattern: &str, path: &str) -> bool {
    let (p, q): (Vec<&str>, Vec<&str>) = (pattern.split('/').collect(), path.split('/').collect());
    p.len() == q.len()
        && p.iter()
            .zip(&q)
            .all(|(a, b)| a == b || (a.starts_with('{') && a.ends_with('}')))
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

/// A replica whose broker is unreachable is alive but not ready: a load balancer must stop
/// sending it traffic, an orchestrator must not kill it (it reconnects by itself).
#[tokio::test]
async fn readiness_follows_the_broker_liveness_does_not() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let dir = tempfile::tempdir().unwrap();
    let settings = common::test_settings(
        &dir,
        &[
            ("GRIDDISPATCH__MQTT__LISTEN", ""),
            (
                "GRIDDISPATCH__MQTT__URL",
                &format!("mqtt://127.0.0.1:{port}"),
            ),
        ],
    );
    let running = griddispatch::app::start(&settings).await.unwrap();
    let base = format!("http://{}", running.http_addr);
    let http = reqwest::Client::new();
    for path in ["/readyz", "/healthz"] {
        let r = http.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(r.status(), 503, "{path}");
        let v: serde_json::Value = r.json().await.unwrap();
        assert_eq!(v["database"], true, "{v}");
        assert_eq!(v["mqtt"], false, "{v}");
    }
    let r = http.get(format!("{base}/livez")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    running.stop().await.unwrap();
}
