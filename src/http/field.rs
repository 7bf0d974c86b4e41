//! The field app: its page `/field`, the service worker and manifest that make it an
//! installable PWA, and `GET /api/v1/field/config`, what it needs before its worker logs in
//! (the app logs in to the broker, not to the API, so all of this is public and holds no
//! secrets).

use std::net::SocketAddr;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::console::{find, page};
use super::AppState;
use crate::config::{Settings, TileSettings};

/// Path the field app connects to on the WebSocket listener (the broker accepts any).
const MQTT_WS_PATH: &str = "/mqtt";

/// The answer of `GET /api/v1/field/config`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldConfig {
    /// The base map of the task's small map: the console's (`console.tiles`). Public, like
    /// the tiles themselves, which every phone fetches.
    pub tiles: TileSettings,
    /// Whether the server has an offline base map (`GET /api/v1/basemap/{z}/{x}/{y}`,
    /// docs/roads.md), drawn when `tiles.url` is empty.
    pub basemap: bool,
    /// Seconds between position reports while on duty (`field.location_interval_secs`).
    pub location_interval_secs: u64,
    /// Full WebSocket URL of the broker: `field.mqtt_ws_url` when set (a reverse proxy, or
    /// an external broker such as Mosquitto), else when the server knows the host phones
    /// use (from `http.public_url`, or a listen address that is not a wildcard); `null`
    /// when the page must combine `mqtt_ws_port`/`mqtt_ws_path` with its own
    /// `location.hostname`, or when there is no WebSocket listener.
    pub mqtt_ws_url: Option<String>,
    /// Port of the WebSocket listener; `null` = no listener (`mqtt.ws_listen` empty).
    pub mqtt_ws_port: Option<u16>,
    /// Path to connect to (`/mqtt`); `null` = no listener.
    pub mqtt_ws_path: Option<String>,
}

impl FieldConfig {
    /// Derives the field app's settings from the configuration and the address the
    /// WebSocket listener is bound to (`None` = no listener), once at start. The bound
    /// address, not `mqtt.ws_listen`, so that port 0 reports the port actually taken.
    pub fn new(settings: &Settings, ws_addr: Option<SocketAddr>) -> FieldConfig {
        let listen = ws_addr;
        let public = settings.http.public_url.as_ref().map(|u| u.url());
        let configured = settings
            .field
            .mqtt_ws_url
            .as_ref()
            .map(|u| u.as_str().to_owned());
        let mqtt_ws_url = configured.or_else(|| {
            listen.and_then(|addr| {
                // A page served over https may only open wss:, so a TLS terminator must then
                // front the WebSocket port as well (docs/contract.md).
                let (scheme, host) = match &public {
                    Some(url) => (
                        if url.scheme() == "https" { "wss" } else { "ws" },
                        url.host_str()?.to_owned(),
                    ),
                    None if addr.ip().is_unspecified() => return None,
                    None => ("ws", addr.ip().to_string()),
                };
                let host = if host.contains(':') && !host.starts_with('[') {
                    format!("[{host}]")
                } else {
                    host
                };
                Some(format!("{scheme}://{host}:{}{MQTT_WS_PATH}", addr.port()))
            })
        });
        FieldConfig {
            tiles: settings.console.tiles.clone(),
            basemap: false,
            location_interval_secs: settings.field.location_interval_secs,
            mqtt_ws_url,
            mqtt_ws_port: listen.map(|a| a.port()),
            mqtt_ws_path: listen.map(|_| MQTT_WS_PATH.to_owned()),
        }
    }
}

/// Routes of this area.
pub fn router() -> OpenApiRouter<AppState> {
    // The app's own files are not API: they stay out of the document.
    OpenApiRouter::new()
        .route("/field", get(app_page))
        .route("/field/sw.js", get(service_worker))
        .route("/field/manifest.webmanifest", get(manifest))
        .routes(routes!(config))
}

/// No session check: the worker signs in to the broker from the page itself.
async fn app_page() -> Response {
    page("field.html")
}

/// One of the field app's own files under `web/src/field/`, revalidated on every fetch
/// (the service worker must see a new build at once).
fn field_file(name: &str, extra: Option<(&'static str, &'static str)>) -> Response {
    let Some((ct, bytes)) = find(&format!("/assets/app/field/{name}")) else {
        return (
            StatusCode::NOT_FOUND,
            "field app file missing from the build",
        )
            .into_response();
    };
    let mut resp = (
        [
            (header::CONTENT_TYPE, ct),
            (header::CACHE_CONTROL, "no-cache"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        bytes,
    )
        .into_response();
    if let Some((name, value)) = extra {
        resp.headers_mut().insert(
            header::HeaderName::from_static(name),
            header::HeaderValue::from_static(value),
        );
    }
    resp
}

/// Served below `/field/` but allowed to control `/field` itself, the page's URL (a worker
/// script's scope may otherwise only be its own folder).
async fn service_worker() -> Response {
    field_file("sw.js", Some(("service-worker-allowed", "/field")))
}

async fn manifest() -> Response {
    field_file("manifest.webmanifest", None)
}

/// What the field app needs before its worker logs in.
///
/// The base map, the position interval and where the broker's WebSocket is (the worker
/// logs in to the broker, not to the API). No secrets.
// Public on purpose: the app reads it before the worker has logged in anywhere.
#[utoipa::path(
    get,
    path = "/api/v1/field/config",
    tag = "field",
    security(()),
    responses((status = 200, description = "The field app's settings.", body = FieldConfig))
)]
async fn config(State(state): State<AppState>) -> Json<FieldConfig> {
    Json((*state.field).clone())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Settings {
        let env: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::load_with_env(None, env).unwrap()
    }

    #[test]
    fn no_websocket_listener_means_no_broker_address() {
        let c = FieldConfig::new(&settings(&[]), None);
        assert_eq!(c.location_interval_secs, 30);
        assert_eq!(
            (c.mqtt_ws_url, c.mqtt_ws_port, c.mqtt_ws_path),
            (None, None, None)
        );
    }

    #[test]
    fn wildcard_listen_leaves_the_host_to_the_page() {
        let c = FieldConfig::new(&settings(&[]), Some(([0, 0, 0, 0], 8083).into()));
        assert_eq!(c.mqtt_ws_url, None);
        assert_eq!(c.mqtt_ws_port, Some(8083));
        assert_eq!(c.mqtt_ws_path.as_deref(), Some("/mqtt"));
    }

    #[test]
    fn a_concrete_host_gives_a_full_url() {
        let c = FieldConfig::new(&settings(&[]), Some(([192, 168, 1, 5], 8083).into()));
        assert_eq!(c.mqtt_ws_url.as_deref(), Some("ws://192.168.1.5:8083/mqtt"));
        let c = FieldConfig::new(
            &settings(&[("GRIDDISPATCH__HTTP__PUBLIC_URL", "https://gd.example.org/x")]),
            Some(([0, 0, 0, 0], 9001).into()),
        );
        assert_eq!(
            c.mqtt_ws_url.as_deref(),
            Some("wss://gd.example.org:9001/mqtt")
        );
    }

    #[test]
    fn a_configured_address_wins_even_without_an_embedded_listener() {
        let s = settings(&[
            ("GRIDDISPATCH__HTTP__PUBLIC_URL", "https://gd.example.org"),
            (
                "GRIDDISPATCH__FIELD__MQTT_WS_URL",
                "wss://gd.example.org/mqtt",
            ),
        ]);
        for ws in [None, Some(([0, 0, 0, 0], 8083).into())] {
            let c = FieldConfig::new(&s, ws);
            assert_eq!(c.mqtt_ws_url.as_deref(), Some("wss://gd.example.org/mqtt"));
        }
        let err = Settings::load_with_env(
            None,
            vec![(
                "GRIDDISPATCH__FIELD__MQTT_WS_URL".to_owned(),
                "https://gd.example.org/mqtt".to_owned(),
            )],
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("field.mqtt_ws_url"), "{err}");
    }
}
