//! The web console as the binary serves it: embedded pages and npm assets with their content
//! types, the redirect to /login, and `GET /api/v1/console/config` from the settings.

use crate::common::TestApp;
use griddispatch::config::Settings;
use griddispatch::domain::Role;

async fn get(app: &TestApp, path: &str) -> reqwest::Response {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{}{path}", app.api.base))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn pages_and_vendor_assets_are_embedded_with_their_content_types() {
    let mut app = TestApp::spawn(&[]).await;
    for (path, ct, needle) in [
        ("/login", "text/html", "name=\"username\""),
        (
            "/assets/app/js/operator.js",
            "text/javascript",
            "/api/v1/live",
        ),
        ("/assets/app/css/console.css", "text/css", ".queue"),
        (
            "/assets/vendor/leaflet/leaflet.js",
            "text/javascript",
            "Leaflet",
        ),
        (
            "/assets/vendor/leaflet/leaflet.css",
            "text/css",
            ".leaflet-",
        ),
        (
            "/assets/vendor/geoman/leaflet-geoman.js",
            "text/javascript",
            "pm",
        ),
    ] {
        let r = get(&app, path).await;
        assert_eq!(r.status(), 200, "{path}");
        let got = r.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(got.starts_with(ct), "{path}: {got}");
        assert_eq!(r.headers()["x-content-type-options"], "nosniff", "{path}");
        let body = r.text().await.unwrap();
        assert!(body.contains(needle), "{path} lacks {needle:?}");
    }
    let png = get(&app, "/assets/vendor/leaflet/images/marker-icon.png").await;
    assert_eq!(png.headers()["content-type"], "image/png");
    assert!(png.bytes().await.unwrap().starts_with(b"\x89PNG"));
    let login = get(&app, "/login").await;
    assert!(login.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("script-src 'self'"));
    assert_eq!(get(&app, "/assets/app/nope.js").await.status(), 404);
    assert_eq!(get(&app, "/assets/../Cargo.toml").await.status(), 404);
    app.stop().await;
}

#[tokio::test]
async fn console_pages_without_a_session_cookie_go_to_login() {
    let mut app = TestApp::spawn(&[]).await;
    for path in ["/", "/admin", "/reports", "/points", "/merchant"] {
        let r = get(&app, path).await;
        assert_eq!(r.status(), 303, "{path}");
        assert_eq!(r.headers()["location"], "/login", "{path}");
    }
    let with_cookie = reqwest::Client::new()
        .get(format!("{}/", app.api.base))
        .header("cookie", "other=1; gd_session=abc")
        .send()
        .await
        .unwrap();
    assert_eq!(with_cookie.status(), 200);
    assert!(with_cookie.text().await.unwrap().contains("operator.js"));
    let points = reqwest::Client::new()
        .get(format!("{}/points", app.api.base))
        .header("cookie", "gd_session=abc")
        .send()
        .await
        .unwrap();
    assert_eq!(points.status(), 200);
    assert!(points.text().await.unwrap().contains("points.js"));
    app.stop().await;
}

#[tokio::test]
async fn console_config_comes_from_the_settings_and_needs_a_viewer() {
    let mut app = TestApp::spawn(&[
        (
            "GRIDDISPATCH__CONSOLE__TILES__URL",
            "https://webrd0{s}.is.autonavi.com/appmaptile?x={x}&y={y}&z={z}",
        ),
        ("GRIDDISPATCH__CONSOLE__TILES__CRS", "gcj02"),
        ("GRIDDISPATCH__CONSOLE__TARGETS__OFFER_AMBER_SECS", "20"),
    ])
    .await;
    assert_eq!(get(&app, "/api/v1/console/config").await.status(), 401);
    let viewer = app.token(Role::Viewer).await;
    let (status, cfg) = app
        .api
        .call(
            reqwest::Method::GET,
            "/api/v1/console/config",
            Some(&viewer),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(cfg["tiles"]["crs"], "gcj02");
    assert!(cfg["tiles"]["url"]
        .as_str()
        .unwrap()
        .starts_with("https://webrd0"));
    assert_eq!(cfg["targets"]["offer_amber_secs"], 20);
    assert_eq!(cfg["targets"]["alert_red_secs"], 180);
    app.stop().await;
}

#[test]
fn bad_console_settings_are_refused_with_the_key_named() {
    for (key, value, named) in [
        (
            "GRIDDISPATCH__CONSOLE__TILES__CRS",
            "bd09",
            "console.tiles.crs",
        ),
        (
            "GRIDDISPATCH__CONSOLE__TILES__URL",
            "ftp://x/{z}",
            "console.tiles.url",
        ),
        (
            "GRIDDISPATCH__CONSOLE__TARGETS__OFFER_RED_SECS",
            "5",
            "console.targets.offer_red_secs",
        ),
    ] {
        let err = Settings::load_with_env(None, [(key.to_owned(), value.to_owned())])
            .unwrap_err()
            .to_string();
        assert!(err.contains(named), "{key}={value}: {err}");
    }
}
