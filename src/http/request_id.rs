//! A request id on every HTTP request: taken from the caller's `x-request-id` when it is
//! a short plain token (a proxy or the console may set one to follow a request through),
//! else made afresh (a UUID). It is answered in the response's `x-request-id` and named
//! on every log line written while the request is handled, so an operator who quotes the
//! id from a failed answer finds the log lines that go with it.
//!
//! tower-http sets, traces and echoes the id; this module only bounds what a caller may
//! put in it, since it is written to the logs: at most 64 characters of letters, digits
//! and `-._:`. Anything else is replaced, not refused (the request itself is fine).

use axum::extract::{MatchedPath, Request};
use axum::http::HeaderName;
use axum::middleware::Next;
use axum::response::Response;
use tower_http::request_id::RequestId;

/// The header carrying the id, both ways.
pub(super) const HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Longest id accepted from a caller.
const MAX_LEN: usize = 64;

/// Whether a caller's id may be kept as it is.
fn acceptable(id: &[u8]) -> bool {
    !id.is_empty()
        && id.len() <= MAX_LEN
        && id
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"-._:".contains(b))
}

/// Drops a caller's `x-request-id` that is not [`acceptable`] (and all but one when
/// several are sent), so a fresh one is made in its place.
pub(super) async fn bound(mut req: Request, next: Next) -> Response {
    let headers = req.headers_mut();
    let keep = match headers
        .get_all(&HEADER)
        .iter()
        .collect::<Vec<_>>()
        .as_slice()
    {
        [] => None,
        [one] => acceptable(one.as_bytes()).then(|| (*one).clone()),
        _ => None,
    };
    headers.remove(&HEADER);
    if let Some(v) = keep {
        headers.insert(HEADER, v);
    }
    next.run(req).await
}

/// The span a request is handled in: its id, method and route pattern (never the raw
/// path, which a caller chooses).
pub(super) fn span(req: &axum::http::Request<axum::body::Body>) -> tracing::Span {
    let id = req
        .extensions()
        .get::<RequestId>()
        .and_then(|id| id.header_value().to_str().ok())
        .unwrap_or("-");
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str);
    tracing::info_span!("http", request_id = %id, method = %req.method(), route = %route)
}

#[cfg(test)]
mod tests {
    use super::acceptable;

    #[test]
    fn only_short_plain_ids_are_kept() {
        assert!(acceptable(b"3f2c9a1e-0b7d-4c1a-9e2f-1a2b3c4d5e6f"));
        assert!(acceptable(b"console:42.7"));
        assert!(!acceptable(b""));
        assert!(!acceptable(&[b'a'; 65]));
        assert!(!acceptable(b"a b"));
        assert!(!acceptable(b"x\"=1 level=error"));
        assert!(!acceptable("网格".as_bytes()));
    }
}
