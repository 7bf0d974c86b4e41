//! Limits every request is held to (`[http.limits]`): the size of its body, by route, and
//! how long it may take. Connections are bounded where they are accepted (`serve`).

use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::AppState;

/// What a route takes, which sets its body limit and its time limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Small JSON: `max_body_bytes`, `request_timeout_secs`.
    Small,
    /// A field report with its photo: `max_field_report_bytes`.
    FieldReport,
    /// A camera or zone import, or one zone's GeoJSON: `max_import_bytes`, and
    /// `import_timeout_secs` (50,000 cameras are checked and written in one transaction).
    Import,
}

impl Kind {
    fn of(method: &Method, path: &str) -> Kind {
        match path {
            "/api/v1/field/reports" => Kind::FieldReport,
            "/api/v1/cameras/import" | "/api/v1/zones/import" => Kind::Import,
            "/api/v1/zones" if method == Method::POST => Kind::Import,
            p if p.starts_with("/api/v1/zones/") && method == Method::PUT => Kind::Import,
            _ => Kind::Small,
        }
    }
}

/// Refuses a body over its route's limit with 413: at once when its `Content-Length`
/// says so, without reading it; otherwise as soon as the body read passes the limit.
pub async fn body_limit(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let limits = &st.http_limits;
    let kind = Kind::of(req.method(), req.uri().path());
    let (limit, key) = match kind {
        Kind::Small => (limits.max_body_bytes, "max_body_bytes"),
        Kind::FieldReport => (limits.max_field_report_bytes, "max_field_report_bytes"),
        Kind::Import => (limits.max_import_bytes, "max_import_bytes"),
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return too_large(&st, limit, key);
    }
    let req = req.map(|body| Body::new(http_body_util::Limited::new(body, limit)));
    let resp = next.run(req).await;
    // A body cut off while being read: extractors answer 413 in their own words; say it
    // in ours, with the setting to change.
    if resp.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return too_large(&st, limit, key);
    }
    resp
}

fn too_large(st: &AppState, limit: usize, key: &str) -> Response {
    st.metrics.http_bodies_too_large_total.inc();
    let mut resp = (
        StatusCode::PAYLOAD_TOO_LARGE,
        Json(json!({ "error": format!("request body over {limit} bytes (http.limits.{key})") })),
    )
        .into_response();
    // The rest of the body is not read: the client must not reuse this connection.
    resp.headers_mut().insert(
        header::CONNECTION,
        header::HeaderValue::from_static("close"),
    );
    resp
}

/// Answers 503 when a request takes longer than its time limit (until its answer starts;
/// a streamed answer is not cut). What it waited for, the database or the engine, is
/// abandoned; the engine still carries out a command it already received.
pub async fn timeout(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let limits = &st.http_limits;
    let secs = match Kind::of(req.method(), req.uri().path()) {
        Kind::Import => limits.import_timeout_secs,
        Kind::Small | Kind::FieldReport => limits.request_timeout_secs,
    };
    match tokio::time::timeout(Duration::from_secs(secs), next.run(req)).await {
        Ok(resp) => resp,
        Err(_) => {
            st.metrics.http_requests_timed_out_total.inc();
            let mut resp = (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "error": format!("no answer within {secs} s; the service is overloaded or its database is slow: try again shortly, and check first whether a change was made") })),
            )
                .into_response();
            resp.headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from_static("5"));
            resp
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_bodies_are_taken_only_where_meant() {
        assert_eq!(
            Kind::of(&Method::POST, "/api/v1/field/reports"),
            Kind::FieldReport
        );
        assert_eq!(
            Kind::of(&Method::POST, "/api/v1/cameras/import"),
            Kind::Import
        );
        assert_eq!(
            Kind::of(&Method::POST, "/api/v1/zones/import"),
            Kind::Import
        );
        assert_eq!(Kind::of(&Method::POST, "/api/v1/zones"), Kind::Import);
        assert_eq!(Kind::of(&Method::PUT, "/api/v1/zones/z1"), Kind::Import);
        assert_eq!(Kind::of(&Method::DELETE, "/api/v1/zones/z1"), Kind::Small);
        assert_eq!(Kind::of(&Method::POST, "/api/v1/alerts"), Kind::Small);
        assert_eq!(Kind::of(&Method::POST, "/api/v1/cameras"), Kind::Small);
    }
}
