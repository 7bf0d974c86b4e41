//! Replicas: a replica that does not lead has no engine, so the requests that need one
//! (every API write, and the candidates of an incident, which come from the engine's
//! memory) go to the leader's HTTP address; reads are answered from the database here.
//! Single-process installs have no [`ClusterView`] and forward nothing.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::RwLock;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::AppState;

/// Marks a request one replica forwarded to another, so it is never forwarded again (the
/// lead may have moved while it was on its way).
const FORWARDED: HeaderName = HeaderName::from_static("x-griddispatch-forwarded");

/// The largest body forwarded: a camera import (64 MiB) fits.
const MAX_BODY: usize = 64 * 1024 * 1024;

/// Longest wait for the leader's answer (a camera import of 50,000 rows included).
const TIMEOUT: Duration = Duration::from_secs(120);

/// What this replica knows of the lead.
#[derive(Debug)]
pub struct ClusterView {
    /// Whether this replica leads (runs the engine).
    leading: AtomicBool,
    /// The leader's HTTP base URL, from `cluster_leader`; `None` while nobody leads.
    leader_url: RwLock<Option<String>>,
    /// The client requests are forwarded with.
    http: reqwest::Client,
}

impl Default for ClusterView {
    fn default() -> Self {
        ClusterView::new(reqwest::Client::builder())
            .unwrap_or_else(|_| ClusterView::new_with(reqwest::Client::new()))
    }
}

impl ClusterView {
    /// A view whose forwarding client is `builder` with this module's timeout and policy.
    fn new(builder: reqwest::ClientBuilder) -> Result<Self, reqwest::Error> {
        let http = builder
            .timeout(TIMEOUT)
            // Answers (redirects included) go back to the caller untouched.
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(ClusterView::new_with(http))
    }

    fn new_with(http: reqwest::Client) -> Self {
        ClusterView {
            leading: AtomicBool::new(false),
            leader_url: RwLock::new(None),
            http,
        }
    }

    /// For replicas that serve https (`http.tls_cert`): the other replicas' certificates
    /// are verified against the PEM certificates in `roots` (`cluster.ca_file`, or the
    /// shared `http.tls_cert` file), and against nothing else.
    pub fn trusting(roots: &[u8]) -> anyhow::Result<Self> {
        let mut builder = reqwest::Client::builder().use_rustls_tls();
        for cert in reqwest::Certificate::from_pem_bundle(roots)? {
            builder = builder.add_root_certificate(cert);
        }
        Ok(ClusterView::new(builder)?)
    }
}

impl ClusterView {
    /// Whether this replica leads.
    pub fn leading(&self) -> bool {
        self.leading.load(Ordering::Acquire)
    }

    /// Records that this replica leads, or not.
    pub fn set_leading(&self, leading: bool) {
        self.leading.store(leading, Ordering::Release);
    }

    /// Records where the leader is (`None`: nobody leads now).
    pub fn set_leader_url(&self, url: Option<String>) {
        if let Ok(mut u) = self.leader_url.write() {
            *u = url;
        }
    }

    /// Where the leader is.
    pub fn leader_url(&self) -> Option<String> {
        self.leader_url.read().ok().and_then(|u| u.clone())
    }
}

/// Whether a request needs the engine: API writes, candidates, task routes and the
/// coverage map.
fn needs_engine(method: &Method, path: &str) -> bool {
    path.starts_with("/api/")
        && (!matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
            || path.ends_with("/candidates")
            || (path.starts_with("/api/v1/incidents/") && path.ends_with("/routes"))
            || path == "/api/v1/coverage")
}

/// Headers that describe one hop, not the request (RFC 9110 §7.6.1), plus the length,
/// which the client sets again.
fn hop_by_hop(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-authenticate"
            | "proxy-authorization"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
            | "content-length"
    )
}

fn unavailable(why: &str) -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::RETRY_AFTER, "1")],
        axum::Json(json!({ "error": why })),
    )
        .into_response()
}

/// The middleware: passes the request on here, or to the leader.
pub async fn to_leader(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let Some(view) = st.cluster.as_ref() else {
        return next.run(req).await;
    };
    if view.leading() || !needs_engine(req.method(), req.uri().path()) {
        return next.run(req).await;
    }
    if req.headers().contains_key(&FORWARDED) {
        return unavailable("the lead moved while this request was forwarded; try again");
    }
    let Some(base) = view.leader_url() else {
        return unavailable("no replica leads at the moment (an election is under way); try again");
    };
    forward(view, &base, req).await
}

async fn forward(view: &ClusterView, base: &str, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => {
            return (
                StatusCode::PAYLOAD_TOO_LARGE,
                axum::Json(json!({ "error": "request body too large" })),
            )
                .into_response()
        }
    };
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let mut out = view
        .http
        .request(parts.method.clone(), format!("{base}{path}"))
        .body(bytes);
    for (name, value) in &parts.headers {
        if !hop_by_hop(name) && name.as_str() != "x-forwarded-for" {
            out = out.header(name, value);
        }
    }
    out = out.header(&FORWARDED, "1");
    // The leader's audit log and login limits see the client, not this replica, when
    // the replicas are among each other's `http.trusted_proxies`.
    if let Some(peer) = parts.extensions.get::<ConnectInfo<SocketAddr>>() {
        let chain = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .chain(std::iter::once(peer.0.ip().to_string().as_str()))
            .collect::<Vec<_>>()
            .join(", ");
        out = out.header("x-forwarded-for", chain);
    }
    let answer = match out.send().await {
        Ok(a) => a,
        Err(e) => {
            tracing::warn!(leader = %base, error = %e, "could not forward a request to the leader");
            return unavailable("the leading replica did not answer; try again");
        }
    };
    let status = answer.status();
    let mut headers = HeaderMap::new();
    for (name, value) in answer.headers() {
        if !hop_by_hop(name) {
            headers.append(name.clone(), value.clone());
        }
    }
    let body = match answer.bytes().await {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!(leader = %base, error = %e, "the leader's answer broke off");
            return unavailable("the leading replica's answer broke off; try again");
        }
    };
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    *resp.headers_mut() = headers;
    resp.headers_mut()
        .insert(&FORWARDED, HeaderValue::from_static("1"));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_and_candidates_need_the_engine_reads_do_not() {
        assert!(needs_engine(&Method::POST, "/api/v1/alerts"));
        assert!(needs_engine(&Method::PATCH, "/api/v1/responders/w1"));
        assert!(needs_engine(&Method::DELETE, "/api/v1/zones/g1"));
        assert!(needs_engine(
            &Method::GET,
            "/api/v1/incidents/i1/candidates"
        ));
        assert!(needs_engine(&Method::GET, "/api/v1/coverage"));
        assert!(needs_engine(&Method::GET, "/api/v1/incidents/i1/routes"));
        assert!(!needs_engine(&Method::GET, "/api/v1/incidents"));
        assert!(!needs_engine(&Method::GET, "/api/v1/live"));
        assert!(!needs_engine(&Method::POST, "/field"));
    }
}
