//! `griddispatch_http_request_duration_seconds`: how long each request took to answer, by
//! method, the route that matched and the status class.
//!
//! A middleware on the router, so it runs after routing and reads the route's pattern
//! (`MatchedPath`): `/api/v1/incidents/{id}`, not every incident's own path. A path no
//! route matches is `unmatched`, so a scanner cannot make a series per path it tries.

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;

use super::AppState;
use crate::metrics::RouteLabels;

/// The method as a label: the usual ones by name, anything else `other`.
fn method(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// `2xx`, `4xx`, …: the class says what an operator needs, at a fifth of the series.
fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

/// Times the request until its answer's head is ready (a streamed body may go on).
pub(super) async fn observe(
    axum::extract::State(st): axum::extract::State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = method(req.method());
    let resp = next.run(req).await;
    let labels = RouteLabels {
        method,
        route,
        status: status_class(resp.status().as_u16()),
    };
    st.metrics.http_request(&labels, started.elapsed());
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_stay_a_small_fixed_set() {
        assert_eq!(method(&Method::GET), "GET");
        assert_eq!(
            method(&Method::from_bytes(b"BREW").unwrap_or(Method::TRACE)),
            "other"
        );
        assert_eq!(status_class(204), "2xx");
        assert_eq!(status_class(404), "4xx");
        assert_eq!(status_class(503), "5xx");
    }
}
