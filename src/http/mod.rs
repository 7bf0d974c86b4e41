//! The HTTP API: one `router()` per area, merged here.

pub mod audit;
pub mod auth;
pub mod basemap;
pub mod cameras;
pub mod console;
pub mod coverage;
pub mod error;
pub mod field;
mod field_reports;
pub mod forward;
pub mod incidents;
pub mod ingest;
mod limits;
pub mod live;
pub mod merchants;
pub mod openapi;
pub mod ops;
pub mod page;
pub mod points;
pub mod redemptions;
pub mod reports;
mod request_id;
mod request_metrics;
pub mod responders;
pub mod serve;
pub mod session;
mod task_routes;
pub mod users;
pub mod zones;

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use axum::Router;

use crate::dispatch::Dispatcher;
use crate::ingest::Ingest;
use crate::metrics::Metrics;
use crate::mqtt::broker::BrokerStats;
use crate::store::Store;

/// What every handler can reach.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The database.
    pub store: Store,
    /// The dispatcher.
    pub dispatcher: Dispatcher,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// Whether the dispatcher's MQTT client is connected.
    pub mqtt_connected: Arc<AtomicBool>,
    /// Embedded broker counters, when the broker runs in this process.
    pub broker_stats: Option<Arc<BrokerStats>>,
    /// The ingest adapters, for formats that also come in over HTTP.
    pub ingest: Ingest,
    /// Where incident snapshots are kept, and their links.
    pub snapshot_files: crate::views::SnapshotFiles,
    /// Console login settings and failed-login counters.
    pub logins: Arc<auth::Logins>,
    /// The live feed's hub, for `/api/v1/live`.
    pub live: crate::live::Live,
    /// The web console's settings (`[console]`).
    pub console: Arc<crate::config::ConsoleSettings>,
    /// The evaluation reports' settings (`[reports]`).
    pub reports: Arc<crate::config::ReportSettings>,
    /// Volunteer points (`[points]`).
    pub points: Arc<crate::config::PointsSettings>,
    /// What the field app needs (`GET /api/v1/field/config`), derived once at start.
    pub field: Arc<field::FieldConfig>,
    /// Most cameras one import may hold (`video.camera_import_max_rows`).
    pub camera_import_max_rows: usize,
    /// With replicas: whether this one leads, and where the leader is (requests that need
    /// the engine go there); `None` in a single-process install.
    pub cluster: Option<Arc<forward::ClusterView>>,
    /// Body sizes and time limits of requests (`[http.limits]`).
    pub http_limits: Arc<crate::config::HttpLimits>,
    /// Field reports each login sent in the last hour (`field.max_reports_per_hour`).
    pub field_reports: Arc<FieldReportQuota>,
    /// `http.trusted_proxies`.
    pub trusted_proxies: Arc<Vec<ipnet::IpNet>>,
    /// Flood guard of the audit log's entries without credentials.
    pub audit_budget: Arc<crate::store::AuditBudget>,
    /// The offline base map (`basemap.bin` in the data directory), if one was imported.
    pub basemap: Option<Arc<crate::roads::BaseMap>>,
}

/// The whole API. Each area's routes come with their OpenAPI description (`openapi`);
/// the document is completed and served beside them.
pub fn router(state: AppState) -> Router {
    let (routes, doc) = openapi::start()
        .merge(zones::router())
        .merge(coverage::router())
        .merge(basemap::router())
        .merge(responders::router())
        .merge(cameras::router())
        .merge(incidents::router())
        .merge(task_routes::router())
        .merge(ingest::router())
        .merge(ops::router())
        .merge(reports::router())
        .merge(points::router())
        .merge(redemptions::router())
        .merge(session::router())
        .merge(users::router())
        .merge(merchants::router())
        .merge(live::router())
        .merge(console::router())
        .merge(field::router())
        .merge(field_reports::router())
        .merge(audit::router())
        .split_for_parts();
    routes
        .merge(openapi::serve(doc))
        // Body limits are `limits::body_limit`'s, by route and from the settings.
        .layer(axum::extract::DefaultBodyLimit::disable())
        // Inside the forwarding: a follower's request is written once, by the leader.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            audit::record,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            forward::to_leader,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            limits::body_limit,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            limits::timeout,
        ))
        .layer(axum::middleware::from_fn(safety_headers))
        // Outermost, so the time counts every layer above; on the router, so each route's
        // pattern is known (`request_metrics`).
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            request_metrics::observe,
        ))
        // Around everything: the caller's id bounded, or one made; every log line while
        // the request is handled in its span; the id answered (`request_id`).
        .layer(
            tower::ServiceBuilder::new()
                .layer(axum::middleware::from_fn(request_id::bound))
                .layer(tower_http::request_id::SetRequestIdLayer::new(
                    request_id::HEADER,
                    tower_http::request_id::MakeRequestUuid,
                ))
                .layer(
                    tower_http::trace::TraceLayer::new_for_http()
                        .make_span_with(request_id::span)
                        // Handlers log their own failures, once, with what went wrong.
                        .on_failure(()),
                )
                .layer(tower_http::request_id::PropagateRequestIdLayer::new(
                    request_id::HEADER,
                )),
        )
        .with_state(state)
}

/// Headers every answer carries: `nosniff`, so a browser never runs an answer as
/// something other than its declared type; and on `/api/` answers `no-store`, since many
/// carry secrets (MQTT passwords, tokens) or live data that no cache, browser or proxy,
/// should keep. A handler that sets its own `Cache-Control` keeps it.
async fn safety_headers(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::http::{header, HeaderValue};
    let api = req.uri().path().starts_with("/api/");
    let mut resp = next.run(req).await;
    let headers = resp.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if api && !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    resp
}

pub use crate::clock::rfc3339;
pub use field_reports::Quota as FieldReportQuota;
