//! Health, metrics and the dead-letter list.

use std::sync::atomic::Ordering;

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine;
use serde::Deserialize;
use serde_json::json;

use super::auth::Viewer;
use super::error::ApiError;
use super::{rfc3339, AppState};

/// Routes of this area.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        // Orchestrators' names: ready = take traffic (database and broker reachable),
        // live = the process serves at all (restart it otherwise).
        .route("/readyz", get(healthz))
        .route("/livez", get(livez))
        .route("/metrics", get(metrics))
        .route("/api/v1/dead-letters", get(dead_letters))
}

async fn healthz(State(st): State<AppState>) -> impl IntoResponse {
    let db = st.store.ping().await.is_ok();
    let mut body = json!({ "database": db });
    // A replica that does not lead has no broker connection of its own: it is ready when
    // it knows a leader to forward to.
    let ready = match st.cluster.as_deref() {
        Some(view) if !view.leading() => {
            let leader = view.leader_url();
            body["role"] = json!("follower");
            body["leader"] = json!(leader);
            db && leader.is_some()
        }
        cluster => {
            let mqtt = st.mqtt_connected.load(Ordering::Relaxed);
            body["mqtt"] = json!(mqtt);
            if cluster.is_some() {
                body["role"] = json!("leader");
            }
            db && mqtt
        }
    };
    body["status"] = json!(if ready { "ok" } else { "degraded" });
    let status = if ready {
        axum::http::StatusCode::OK
    } else {
        axum::http::StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}

async fn livez() -> impl IntoResponse {
    Json(json!({ "status": "ok" }))
}

async fn metrics(State(st): State<AppState>) -> impl IntoResponse {
    let mut out = String::new();
    st.metrics.render(&mut out);
    out.push_str("# TYPE griddispatch_mqtt_connected gauge\n");
    out.push_str(&format!(
        "griddispatch_mqtt_connected {}\n",
        u8::from(st.mqtt_connected.load(Ordering::Relaxed))
    ));
    // Counted at scrape time, since an incident becomes overdue as time passes, not on a
    // change; a database that does not answer leaves the metric out rather than say 0.
    match st.store.count_overdue(crate::clock::now_ms()).await {
        Ok(n) => out.push_str(&format!(
            "# TYPE griddispatch_incidents_overdue gauge\ngriddispatch_incidents_overdue {n}\n"
        )),
        Err(e) => tracing::warn!(error = %e, "metrics: could not count overdue incidents"),
    }
    // Kept by the store, which bounds them (console logins' argon2 checks).
    let checks = st.store.password_checks();
    for (name, v) in [
        ("password_checks_total", checks.checked()),
        ("password_checks_busy_total", checks.busy()),
    ] {
        out.push_str(&format!(
            "# TYPE griddispatch_{name} counter\ngriddispatch_{name} {v}\n"
        ));
    }
    if let Some(view) = st.cluster.as_deref() {
        // Each replica serves its own numbers; this says which one decides.
        out.push_str("# TYPE griddispatch_cluster_leading gauge\n");
        out.push_str(&format!(
            "griddispatch_cluster_leading {}\n",
            u8::from(view.leading())
        ));
    }
    if let Some(b) = &st.broker_stats {
        let gauges = [
            (
                "broker_connections",
                b.connections_current.load(Ordering::Relaxed),
            ),
            ("broker_sockets", b.sockets_current.load(Ordering::Relaxed)),
            (
                "broker_sessions",
                b.sessions_current.load(Ordering::Relaxed),
            ),
            (
                "broker_retained_messages",
                b.retained_current.load(Ordering::Relaxed),
            ),
        ];
        let counters = [
            (
                "broker_connections_total",
                b.connections_total.load(Ordering::Relaxed),
            ),
            (
                "broker_auth_failures_total",
                b.auth_failures.load(Ordering::Relaxed),
            ),
            (
                "broker_publishes_in_total",
                b.publishes_in.load(Ordering::Relaxed),
            ),
            (
                "broker_publishes_denied_total",
                b.publishes_denied.load(Ordering::Relaxed),
            ),
            (
                "broker_subscribes_denied_total",
                b.subscribes_denied.load(Ordering::Relaxed),
            ),
            (
                "broker_messages_dropped_total",
                b.messages_dropped.load(Ordering::Relaxed),
            ),
            (
                "broker_connects_refused_total",
                b.connects_refused.load(Ordering::Relaxed),
            ),
            (
                "broker_retained_refused_total",
                b.retained_refused.load(Ordering::Relaxed),
            ),
            (
                "broker_sessions_expired_total",
                b.sessions_expired.load(Ordering::Relaxed),
            ),
            (
                "broker_publisher_waits_total",
                b.publisher_waits.load(Ordering::Relaxed),
            ),
            (
                "broker_throttled_total",
                b.throttled.load(Ordering::Relaxed),
            ),
            (
                "broker_connections_over_limit_total",
                b.connections_over_limit.load(Ordering::Relaxed),
            ),
        ];
        for (name, v) in gauges {
            out.push_str(&format!(
                "# TYPE griddispatch_{name} gauge\ngriddispatch_{name} {v}\n"
            ));
        }
        for (name, v) in counters {
            out.push_str(&format!(
                "# TYPE griddispatch_{name} counter\ngriddispatch_{name} {v}\n"
            ));
        }
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out)
}

#[derive(Debug, Deserialize)]
struct Limit {
    limit: Option<i64>,
    cursor: Option<String>,
}

async fn dead_letters(
    _: Viewer,
    State(st): State<AppState>,
    Query(q): Query<Limit>,
) -> Result<axum::response::Response, ApiError> {
    use super::page::{key_i64, Page};
    let page = Page::new(q.cursor.as_deref(), q.limit, 100, 1000)?;
    let before = match page.after_key(1)? {
        Some([seq]) => Some(key_i64(seq)?),
        _ => None,
    };
    let rows = st.store.dead_letters(before, page.fetch()).await?;
    Ok(page.answer(
        rows,
        |d| vec![d.seq.into()],
        |d| {
            json!({
                "seq": d.seq,
                "at": rfc3339(d.at),
                "topic": d.topic,
                "reason": d.reason,
                "truncated": d.truncated,
                "payload_text": String::from_utf8(d.payload.clone()).ok(),
                "payload_base64": base64::engine::general_purpose::STANDARD.encode(&d.payload),
            })
        },
    ))
}
