//! Health, metrics and the dead-letter list.

use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Viewer;
use super::error::{ApiError, Query};
use super::{rfc3339, AppState};
use crate::metrics::{gauge_value, Scrape, CONTENT_TYPE};
use crate::store::DeadLetterRow;

/// Routes of this area.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        // Orchestrators' names: ready = take traffic (database and broker reachable),
        // live = the process serves at all (restart it otherwise).
        .routes(routes!(readyz))
        .routes(routes!(livez))
        .routes(routes!(metrics))
        .routes(routes!(dead_letters))
}

/// Whether this instance can take traffic.
#[derive(Debug, Serialize, ToSchema)]
struct Health {
    /// `ok`, or `degraded` (answered 503).
    status: &'static str,
    /// The database answers.
    database: bool,
    /// The dispatcher's MQTT connection is up; absent on a follower replica, which has
    /// none of its own.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    mqtt: Option<bool>,
    /// With replicas (`cluster.enabled`): `leader` or `follower`; absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    role: Option<&'static str>,
    /// On a follower: the leader's address, null while none is known; absent on a leader
    /// and without replicas.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    leader: Option<Option<String>>,
}

/// Whether this instance can take traffic.
///
/// Ready: the database answers and the dispatcher's MQTT connection is up (a follower
/// replica: the database answers and a leader is known).
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "ops",
    security(()),
    responses(
        (status = 200, description = "Ready.", body = Health),
        (status = 503, description = "Degraded: not ready for traffic.", body = Health),
    )
)]
async fn healthz(State(st): State<AppState>) -> (StatusCode, Json<Health>) {
    health(&st).await
}

/// The same as `/healthz`, under the name orchestrators use for readiness.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "ops",
    security(()),
    responses(
        (status = 200, description = "Ready.", body = Health),
        (status = 503, description = "Degraded: not ready for traffic.", body = Health),
    )
)]
async fn readyz(State(st): State<AppState>) -> (StatusCode, Json<Health>) {
    health(&st).await
}

async fn health(st: &AppState) -> (StatusCode, Json<Health>) {
    let database = st.store.ping().await.is_ok();
    let mut body = Health {
        status: "ok",
        database,
        mqtt: None,
        role: None,
        leader: None,
    };
    // A replica that does not lead has no broker connection of its own: it is ready when
    // it knows a leader to forward to.
    let ready = match st.cluster.as_deref() {
        Some(view) if !view.leading() => {
            let leader = view.leader_url();
            let known = leader.is_some();
            body.role = Some("follower");
            body.leader = Some(leader);
            database && known
        }
        cluster => {
            let mqtt = st.mqtt_connected.load(Ordering::Relaxed);
            body.mqtt = Some(mqtt);
            if cluster.is_some() {
                body.role = Some("leader");
            }
            database && mqtt
        }
    };
    if !ready {
        body.status = "degraded";
    }
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}

/// `{"status": "ok"}`.
#[derive(Debug, Serialize, ToSchema)]
struct Alive {
    /// Always `ok`.
    status: &'static str,
}

/// Whether the process serves HTTP at all (restart it when this fails).
#[utoipa::path(
    get,
    path = "/livez",
    tag = "ops",
    security(()),
    responses((status = 200, description = "Alive.", body = Alive))
)]
async fn livez() -> Json<Alive> {
    Json(Alive { status: "ok" })
}

/// Counters, gauges and histograms in the Prometheus text format, each with its `# HELP`.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "ops",
    security(()),
    responses((status = 200, description = "Prometheus text (format 0.0.4).",
        content_type = "text/plain", body = String))
)]
async fn metrics(State(st): State<AppState>) -> Response {
    let mut scrape = Scrape::default();
    let connected = u8::from(st.mqtt_connected.load(Ordering::Relaxed));
    scrape.gauge(
        "mqtt_connected",
        "Whether the dispatcher's own MQTT connection is up (1) or not (0)",
        i64::from(connected),
    );
    // Counted at scrape time, since an incident becomes overdue as time passes, not on a
    // change; a database that does not answer leaves the metric out rather than say 0.
    match st.store.count_overdue(crate::clock::now_ms()).await {
        Ok(n) => scrape.gauge(
            "incidents_overdue",
            "Open incidents past their due time (counted in the database when scraped)",
            gauge_value(n),
        ),
        Err(e) => tracing::warn!(error = %e, "metrics: could not count overdue incidents"),
    }
    // Kept by the store, which bounds them (console logins' argon2 checks).
    let checks = st.store.password_checks();
    scrape.counter(
        "password_checks_total",
        "Console password verifications started",
        checks.checked(),
    );
    scrape.counter(
        "password_checks_busy_total",
        "Console password verifications refused because too many were running",
        checks.busy(),
    );
    if let Some(view) = st.cluster.as_deref() {
        // Each replica serves its own numbers; this says which one decides.
        scrape.gauge(
            "cluster_leading",
            "Whether this replica leads and dispatches (1) or follows (0)",
            i64::from(u8::from(view.leading())),
        );
    }
    if let Some(b) = &st.broker_stats {
        b.export(&mut scrape);
    }
    let text = st.metrics.render(&scrape);
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], text).into_response()
}

/// `?limit=&cursor=` of the dead letters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct Limit {
    /// At most this many (default 100, max 1000).
    limit: Option<i64>,
    /// Where the page starts (`X-Next-Cursor` of the page before).
    cursor: Option<String>,
}

/// A message that could not be understood, kept as it came.
#[derive(Debug, Serialize, ToSchema)]
struct DeadLetterView {
    /// Its number, newest highest.
    seq: i64,
    /// When it came (RFC 3339).
    at: String,
    /// The MQTT topic, or the HTTP route it came on.
    topic: String,
    /// Why it was not understood.
    reason: String,
    /// Only the start of a long payload was kept.
    truncated: bool,
    /// The payload as text, when it is UTF-8.
    payload_text: Option<String>,
    /// The payload, base64.
    payload_base64: String,
}

impl From<&DeadLetterRow> for DeadLetterView {
    fn from(d: &DeadLetterRow) -> DeadLetterView {
        DeadLetterView {
            seq: d.seq,
            at: rfc3339(d.at),
            topic: d.topic.clone(),
            reason: d.reason.clone(),
            truncated: d.truncated,
            payload_text: String::from_utf8(d.payload.clone()).ok(),
            payload_base64: base64::engine::general_purpose::STANDARD.encode(&d.payload),
        }
    }
}

/// Messages that could not be understood, newest first, paged.
///
/// MQTT alerts and task updates, GB/T 28181 bodies: kept as they came.
#[utoipa::path(
    get,
    path = "/api/v1/dead-letters",
    tag = "ops",
    params(Limit),
    responses((status = 200, description = "A page of dead letters.", body = Vec<DeadLetterView>))
)]
async fn dead_letters(
    _: Viewer,
    State(st): State<AppState>,
    Query(q): Query<Limit>,
) -> Result<Response, ApiError> {
    use super::page::{key_i64, Page};
    let page = Page::new(q.cursor.as_deref(), q.limit, 100, 1000)?;
    let before = match page.after_key(1)? {
        Some([seq]) => Some(key_i64(seq)?),
        _ => None,
    };
    let rows = st.store.dead_letters(before, page.fetch()).await?;
    Ok(page.answer(rows, |d| vec![d.seq.into()], |d| DeadLetterView::from(d)))
}
