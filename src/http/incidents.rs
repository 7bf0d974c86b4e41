//! `/api/v1/alerts` and `/api/v1/incidents`: alerts in, incidents out, operator actions.

use axum::extract::{Path, Query, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::{authorize_parts, phone_login, Operator, Viewer};
use super::error::{ApiError, JsonBody};
use super::{rfc3339, AppState};
use crate::dispatch::OperatorAction;
use crate::domain::alert::{named_source, AlertPayload, NewAlert};
use crate::domain::{Ident, IncidentState, Role};
use crate::store::now_ms;
use crate::views;

/// Routes of this area.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/alerts", post(post_alert))
        .route("/api/v1/incidents", get(list))
        .route("/api/v1/incidents/{id}", get(one))
        .route("/api/v1/incidents/{id}/timeline", get(timeline))
        .route(
            "/api/v1/incidents/{id}/snapshots/{file}",
            get(snapshot_file),
        )
        .route("/api/v1/incidents/{id}/candidates", get(candidates))
        .route("/api/v1/incidents/{id}/assign", post(assign))
        .route(
            "/api/v1/incidents/{id}/cancel",
            post(|o, s, p, b| noted(o, s, p, b, OperatorAction::Cancel)),
        )
        .route(
            "/api/v1/incidents/{id}/close",
            post(|o, s, p, b| noted(o, s, p, b, OperatorAction::Close)),
        )
        .route(
            "/api/v1/incidents/{id}/verify",
            post(|o, s, p, b| noted(o, s, p, b, OperatorAction::Verify)),
        )
        .route("/api/v1/incidents/{id}/rework", post(rework))
        .route(
            "/api/v1/incidents/{id}/suspend",
            post(|o, s, p, b| noted(o, s, p, b, OperatorAction::Suspend)),
        )
        .route(
            "/api/v1/incidents/{id}/resume",
            post(|o, s, p, b| noted(o, s, p, b, OperatorAction::Resume)),
        )
        .route("/api/v1/incidents/{id}/extension", post(extension))
}

/// An alert posted over HTTP: the MQTT schema plus an optional `source_id` (default `api`).
#[derive(Debug, Deserialize)]
struct HttpAlert {
    source_id: Option<String>,
    #[serde(flatten)]
    alert: AlertPayload,
}

async fn post_alert(
    _: Operator,
    State(st): State<AppState>,
    JsonBody(body): JsonBody<HttpAlert>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let source = Ident::parse(body.source_id.as_deref().unwrap_or("api"))
        .and_then(|id| named_source("source_id", id))
        .map_err(|e| ApiError::Unprocessable(format!("source_id: {}", e.reason)))?;
    let alert = NewAlert::from_payload(source, body.alert, now_ms())?;
    let outcome = st.dispatcher.alert(alert).await?;
    Ok((StatusCode::ACCEPTED, Json(json!(outcome))))
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    /// Comma-separated states; `open` = every state but closed and cancelled.
    state: Option<String>,
    /// At most this many (default 200, max 1000).
    limit: Option<i64>,
    /// Where the page starts (`X-Next-Cursor` of the page before).
    cursor: Option<String>,
}

async fn list(
    _: Viewer,
    State(st): State<AppState>,
    Query(q): Query<ListQuery>,
) -> Result<axum::response::Response, ApiError> {
    use super::page::{key_i64, key_str, Page};
    let page = Page::new(q.cursor.as_deref(), q.limit, 200, 1000)?;
    let mut states = Vec::new();
    for s in q
        .state
        .as_deref()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        if s == "open" {
            states.extend(IncidentState::ALL.iter().filter(|x| x.is_open()).copied());
        } else {
            let parsed: IncidentState = s.parse().map_err(|e: crate::domain::Invalid| {
                ApiError::Unprocessable(format!("state: {}", e.reason))
            })?;
            states.push(parsed);
        }
    }
    let before = match page.after_key(2)? {
        Some([at, id]) => Some((key_i64(at)?, key_str(id)?)),
        _ => None,
    };
    let rows = st.store.incidents(&states, before, page.fetch()).await?;
    Ok(page.answer(
        rows,
        |r| vec![r.created_at.into(), r.id.clone().into()],
        views::incident,
    ))
}

async fn one(
    _: Viewer,
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let incident = st.store.incident(&id).await?;
    let tasks = st.store.tasks_of(&id).await?;
    let alerts = st.store.alerts_of(&id).await?;
    let snapshots = st.store.snapshots_of(&id).await?;
    let mut v = views::incident(&incident);
    if let Some(o) = v.as_object_mut() {
        o.insert(
            "tasks".into(),
            json!(tasks.iter().map(views::task).collect::<Vec<_>>()),
        );
        o.insert(
            "alerts".into(),
            json!(alerts
                .iter()
                .map(|a| json!({
                    "alert_id": a.id,
                    "source_id": a.source_id,
                    "id": a.external_id,
                    "kind": a.kind,
                    "severity": a.severity,
                    "location": { "lat": a.lat, "lon": a.lon },
                    "camera_id": a.camera_id,
                    "time": rfc3339(a.time),
                    "received_at": rfc3339(a.received_at),
                    "description": a.description,
                }))
                .collect::<Vec<_>>()),
        );
        o.insert(
            "snapshots".into(),
            snapshots
                .iter()
                .map(|s| st.snapshot_files.view(s))
                .collect(),
        );
    }
    Ok(Json(v))
}

/// Console users (viewer and up) see every snapshot. A worker's phone holds the worker's
/// MQTT login and no API token; sent as HTTP Basic, that login shows the snapshots of the
/// incidents the worker was offered, and no others (404, as for a missing one).
async fn may_see_snapshots(
    parts: &Parts,
    st: &AppState,
    incident_id: &str,
) -> Result<(), ApiError> {
    let Some(rid) = phone_login(parts, st).await? else {
        return authorize_parts(parts, st, Role::Viewer).await.map(|_| ());
    };
    let offered = st
        .store
        .tasks_of(incident_id)
        .await?
        .iter()
        .any(|t| t.responder_id == rid.as_str());
    if offered {
        Ok(())
    } else {
        Err(ApiError::NotFound(format!(
            "snapshots of incident {incident_id}"
        )))
    }
}

/// `GET /api/v1/incidents/{id}/snapshots/{n}.jpg`: the JPEG. `n` must be a number, so the
/// path never names anything but a listed snapshot's file.
async fn snapshot_file(
    State(st): State<AppState>,
    Path((id, file)): Path<(String, String)>,
    parts: Parts,
) -> Result<Response, ApiError> {
    may_see_snapshots(&parts, &st, &id).await?;
    let not_found = || ApiError::NotFound(format!("snapshot {file} of incident {id}"));
    let n: i64 = file
        .strip_suffix(".jpg")
        .and_then(|n| n.parse().ok())
        .filter(|n| *n >= 1)
        .ok_or_else(not_found)?;
    let row = st.store.snapshot(&id, n).await?;
    let path = st
        .snapshot_files
        .path(&row.incident_id, row.n)
        .ok_or_else(not_found)?;
    let jpeg = match tokio::fs::read(&path).await {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            tracing::warn!(path = %path.display(), "a listed snapshot's file is missing");
            return Err(not_found());
        }
        Err(e) => {
            return Err(ApiError::Internal(anyhow::anyhow!(
                "reading {}: {e}",
                path.display()
            )))
        }
    };
    Ok((
        [
            (header::CONTENT_TYPE, "image/jpeg"),
            // A snapshot never changes once stored.
            (header::CACHE_CONTROL, "private, max-age=86400, immutable"),
        ],
        jpeg,
    )
        .into_response())
}

async fn timeline(
    _: Viewer,
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    st.store.incident(&id).await?;
    let lines = st.store.timeline(&id).await?;
    Ok(Json(json!(lines
        .iter()
        .map(views::timeline_line)
        .collect::<Vec<_>>())))
}

#[derive(Debug, Deserialize)]
struct CandidateQuery {
    limit: Option<usize>,
}

async fn candidates(
    _: Viewer,
    State(st): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<CandidateQuery>,
) -> Result<Json<Value>, ApiError> {
    let ranked = st
        .dispatcher
        .candidates(id, q.limit.unwrap_or(10).clamp(1, 100))
        .await?;
    Ok(Json(json!(ranked)))
}

/// Body of the operator actions.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ActionBody {
    responder_id: Option<Ident>,
    note: Option<String>,
}

async fn act(
    st: AppState,
    id: String,
    caller: crate::http::auth::Caller,
    action: OperatorAction,
    note: Option<String>,
) -> Result<Json<Value>, ApiError> {
    if note.as_ref().is_some_and(|n| n.chars().count() > 2000) {
        return Err(ApiError::Unprocessable(
            "note: at most 2000 characters".into(),
        ));
    }
    st.dispatcher
        .operator(id.clone(), action, caller.actor(), note)
        .await?;
    Ok(Json(views::incident(&st.store.incident(&id).await?)))
}

async fn assign(
    Operator(c): Operator,
    State(st): State<AppState>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<ActionBody>,
) -> Result<Json<Value>, ApiError> {
    let rid = body
        .responder_id
        .ok_or_else(|| ApiError::Unprocessable("responder_id: required".into()))?;
    act(st, id, c, OperatorAction::Assign(rid), body.note).await
}

/// The body of the noted actions is optional: none, `{}` or `{"note": …}`.
fn optional_body(bytes: &[u8]) -> Result<ActionBody, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(ActionBody::default());
    }
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::Unprocessable(format!("invalid JSON body: {e}")))
}

/// An action whose body is optional (none, `{}` or `{"note": …}`): cancel, close,
/// verify, suspend, resume.
async fn noted(
    Operator(c): Operator,
    State(st): State<AppState>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
    action: OperatorAction,
) -> Result<Json<Value>, ApiError> {
    let note = optional_body(&body)?.note;
    act(st, id, c, action, note).await
}

/// Body of `rework`: why the work is sent back (required).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReworkBody {
    reason: Option<String>,
}

async fn rework(
    Operator(c): Operator,
    State(st): State<AppState>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<ReworkBody>,
) -> Result<Json<Value>, ApiError> {
    let reason = body.reason.unwrap_or_default().trim().to_owned();
    if reason.is_empty() {
        return Err(ApiError::Unprocessable("reason: required".into()));
    }
    if reason.chars().count() > 2000 {
        return Err(ApiError::Unprocessable(
            "reason: at most 2000 characters".into(),
        ));
    }
    act(st, id, c, OperatorAction::Rework(reason), None).await
}

/// Body of `extension`: the verdict on the pending request.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExtensionBody {
    approve: Option<bool>,
    minutes: Option<u32>,
    note: Option<String>,
}

async fn extension(
    Operator(c): Operator,
    State(st): State<AppState>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<ExtensionBody>,
) -> Result<Json<Value>, ApiError> {
    let approve = body
        .approve
        .ok_or_else(|| ApiError::Unprocessable("approve: required (true or false)".into()))?;
    if let Some(m) = body.minutes {
        crate::domain::closed_loop::check_minutes(m)
            .map_err(|e| ApiError::Unprocessable(e.to_string()))?;
    }
    let action = OperatorAction::Extension {
        approve,
        minutes: body.minutes,
    };
    act(st, id, c, action, body.note).await
}
