//! `/api/v1/alerts` and `/api/v1/incidents`: alerts in, incidents out, operator actions.

use axum::extract::State;
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::audit::handle::Audit;
use super::auth::{authorize_parts, phone_login, Operator, Viewer};
use super::error::{ApiError, JsonBody, Path, Query};
use super::{rfc3339, AppState};
use crate::dispatch::{AlertOutcome, OperatorAction};
use crate::domain::alert::{named_source, AlertPayload, NewAlert};
use crate::domain::ranking::Ranked;
use crate::domain::{Ident, IncidentState, LatLon, Role};
use crate::store::{found, now_ms, AlertRow, IncidentRow};
use crate::views::{
    self, ExtensionRequestView, IncidentView, SnapshotView, TaskView, TimelineLine,
};

/// Routes of this area.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(post_alert))
        .routes(routes!(list))
        .routes(routes!(one))
        .routes(routes!(timeline))
        .routes(routes!(snapshot_file))
        .routes(routes!(candidates))
        .routes(routes!(assign))
        .routes(routes!(cancel))
        .routes(routes!(close))
        .routes(routes!(verify))
        .routes(routes!(rework))
        .routes(routes!(suspend))
        .routes(routes!(resume))
        .routes(routes!(extension))
}

/// An alert posted over HTTP: the MQTT schema plus an optional `source_id` (default `api`).
#[derive(Debug, Deserialize, ToSchema)]
struct HttpAlert {
    /// The source it is from (default `api`); not a `field:` source, which only phones'
    /// reports open.
    source_id: Option<String>,
    #[serde(flatten)]
    alert: AlertPayload,
}

/// What became of an alert.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct AlertAccepted {
    /// Our id of the alert.
    alert_id: String,
    /// The incident it opened or joined.
    incident_id: String,
    /// It had been received before (same source and id); nothing changed.
    duplicate: bool,
    /// It joined an open incident.
    correlated: bool,
}

impl From<AlertOutcome> for AlertAccepted {
    fn from(o: AlertOutcome) -> AlertAccepted {
        AlertAccepted {
            alert_id: o.alert_id,
            incident_id: o.incident_id,
            duplicate: o.duplicate,
            correlated: o.correlated,
        }
    }
}

/// Posts an alert.
///
/// It opens an incident, or joins an open one nearby of the same kind, and is dispatched.
/// The same source and id again is the same alert (`duplicate`).
#[utoipa::path(
    post,
    path = "/api/v1/alerts",
    tag = "incidents",
    request_body = HttpAlert,
    responses((status = 202, description = "Taken; dispatching goes on.", body = AlertAccepted))
)]
async fn post_alert(
    Operator(caller): Operator,
    State(st): State<AppState>,
    audit: Audit,
    JsonBody(body): JsonBody<HttpAlert>,
) -> Result<(StatusCode, Json<AlertAccepted>), ApiError> {
    let source = Ident::parse(body.source_id.as_deref().unwrap_or("api"))
        .and_then(|id| named_source("source_id", id))
        .map_err(|e| ApiError::Unprocessable(format!("source_id: {}", e.reason)))?;
    let alert = NewAlert::from_payload(source, body.alert, now_ms())?;
    let outcome = st.dispatcher.alert(alert).await?;
    // An incident an operator typed in on the console is an operator's action: kept in
    // the audit log with the incident as it then stands. A system's alerts (a token) are
    // not: the incident's timeline is their record, at rates the log must not carry.
    if caller.session && !outcome.duplicate {
        audit.action("incidents.report");
        audit.thing("incidents", outcome.incident_id.clone());
        if let Some(row) = found(st.store.incident(&outcome.incident_id).await)? {
            audit.after(&audited(&st, &row).await?);
        }
    }
    Ok((StatusCode::ACCEPTED, Json(outcome.into())))
}

/// `?state=&limit=&cursor=` of the incident list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// Comma-separated states; `open` = every state but closed and cancelled.
    state: Option<String>,
    /// At most this many (default 200, max 1000).
    limit: Option<i64>,
    /// Where the page starts (`X-Next-Cursor` of the page before).
    cursor: Option<String>,
}

/// Lists incidents, newest first, paged.
#[utoipa::path(
    get,
    path = "/api/v1/incidents",
    tag = "incidents",
    params(ListQuery),
    responses((status = 200, description = "A page of incidents.", body = Vec<IncidentView>))
)]
async fn list(
    _: Viewer,
    State(st): State<AppState>,
    Query(q): Query<ListQuery>,
) -> Result<Response, ApiError> {
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

/// One incident with its tasks, alerts and snapshots.
#[derive(Debug, Serialize, ToSchema)]
struct IncidentDetail {
    #[serde(flatten)]
    incident: IncidentView,
    /// Every offer made for it, oldest first.
    tasks: Vec<TaskView>,
    /// The alerts it holds.
    alerts: Vec<AlertView>,
    /// Its pictures.
    snapshots: Vec<SnapshotView>,
}

/// An alert of an incident.
#[derive(Debug, Serialize, ToSchema)]
struct AlertView {
    /// Our id of it.
    alert_id: String,
    /// Who raised it.
    source_id: String,
    /// The source's own id of it.
    id: String,
    /// What happened.
    kind: String,
    /// 1 (most urgent) to 4.
    severity: i64,
    /// Where.
    location: LatLon,
    /// The camera it named.
    camera_id: Option<String>,
    /// When it happened (RFC 3339).
    time: String,
    /// When we received it (RFC 3339).
    received_at: String,
    /// Its text.
    description: Option<String>,
}

impl From<&AlertRow> for AlertView {
    fn from(a: &AlertRow) -> AlertView {
        AlertView {
            alert_id: a.id.clone(),
            source_id: a.source_id.clone(),
            id: a.external_id.clone(),
            kind: a.kind.clone(),
            severity: a.severity,
            location: LatLon {
                lat: a.lat,
                lon: a.lon,
            },
            camera_id: a.camera_id.clone(),
            time: rfc3339(a.time),
            received_at: rfc3339(a.received_at),
            description: a.description.clone(),
        }
    }
}

/// One incident, with its tasks, alerts and snapshots.
#[utoipa::path(
    get,
    path = "/api/v1/incidents/{id}",
    tag = "incidents",
    params(("id" = String, Path, description = "The incident")),
    responses((status = 200, description = "The incident.", body = IncidentDetail))
)]
async fn one(
    _: Viewer,
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<IncidentDetail>, ApiError> {
    let incident = st.store.incident(&id).await?;
    let tasks = st.store.tasks_of(&id).await?;
    let alerts = st.store.alerts_of(&id).await?;
    let snapshots = st.store.snapshots_of(&id).await?;
    Ok(Json(IncidentDetail {
        incident: views::incident(&incident),
        tasks: tasks.iter().map(views::task).collect(),
        alerts: alerts.iter().map(AlertView::from).collect(),
        snapshots: snapshots
            .iter()
            .map(|s| st.snapshot_files.view(s))
            .collect(),
    }))
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

/// A snapshot's JPEG.
///
/// `{file}` is `<n>.jpg`. Console users see every snapshot; a worker's phone, with its
/// MQTT login as HTTP Basic, those of the incidents the worker was offered (others are
/// 404, as a missing one).
// `n` must be a number, so the path never names anything but a listed snapshot's file.
#[utoipa::path(
    get,
    path = "/api/v1/incidents/{id}/snapshots/{file}",
    tag = "incidents",
    security(("token" = []), ("session" = []), ("phone" = [])),
    params(
        ("id" = String, Path, description = "The incident"),
        ("file" = String, Path, description = "`<n>.jpg`, `n` the snapshot's number (1, 2, …)"),
    ),
    responses((status = 200, description = "The JPEG; it never changes once stored.",
        content_type = "image/jpeg", body = Vec<u8>))
)]
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

/// An incident's timeline, oldest line first.
#[utoipa::path(
    get,
    path = "/api/v1/incidents/{id}/timeline",
    tag = "incidents",
    params(("id" = String, Path, description = "The incident")),
    responses((status = 200, description = "Its lines.", body = Vec<TimelineLine>))
)]
async fn timeline(
    _: Viewer,
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Vec<TimelineLine>>, ApiError> {
    st.store.incident(&id).await?;
    let lines = st.store.timeline(&id).await?;
    Ok(Json(lines.iter().map(views::timeline_line).collect()))
}

/// `?limit=` of the candidates.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct CandidateQuery {
    /// How many (default 10, 1 to 100).
    limit: Option<usize>,
}

/// The responders the engine would offer the incident to now, best first.
///
/// The engine's own ranking: travel time less the zone preference.
#[utoipa::path(
    get,
    path = "/api/v1/incidents/{id}/candidates",
    tag = "incidents",
    params(("id" = String, Path, description = "The incident"), CandidateQuery),
    responses((status = 200, description = "The ranking.", body = Vec<Ranked>))
)]
async fn candidates(
    _: Viewer,
    State(st): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<CandidateQuery>,
) -> Result<Json<Vec<Ranked>>, ApiError> {
    let ranked = st
        .dispatcher
        .candidates(id, q.limit.unwrap_or(10).clamp(1, 100))
        .await?;
    Ok(Json(ranked))
}

/// Body of the operator actions: `assign` needs `responder_id`; cancel, close, verify,
/// suspend and resume take only `note`, and their body is optional.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ActionBody {
    /// The responder to offer it to: required by `assign`, ignored by the others.
    responder_id: Option<Ident>,
    /// The operator's words (at most 2000 characters).
    note: Option<String>,
}

/// An incident as the audit log keeps it around an operator's action: where it stands,
/// who has it and its deadline, not its whole story (the timeline holds that).
#[derive(Debug, Serialize)]
struct AuditedIncident {
    id: String,
    state: IncidentState,
    /// Its open tasks: who it is offered to or taken by.
    tasks: Vec<AuditedTask>,
    due_at: Option<String>,
    suspended_at: Option<String>,
    rework_count: i64,
    extension_count: i64,
    suspension_count: i64,
    extension_request: Option<ExtensionRequestView>,
    updated_at: String,
}

/// An open task of an [`AuditedIncident`].
#[derive(Debug, Serialize)]
struct AuditedTask {
    task_id: String,
    responder_id: String,
    status: crate::domain::TaskStatus,
}

async fn audited(st: &AppState, row: &IncidentRow) -> Result<AuditedIncident, ApiError> {
    let tasks = st.store.tasks_of(&row.id).await?;
    let v = views::incident(row);
    Ok(AuditedIncident {
        id: v.id,
        state: v.state,
        tasks: tasks
            .into_iter()
            .filter(|t| t.status.is_open())
            .map(|t| AuditedTask {
                task_id: t.id,
                responder_id: t.responder_id,
                status: t.status,
            })
            .collect(),
        due_at: v.due_at,
        suspended_at: v.suspended_at,
        rework_count: v.rework_count,
        extension_count: v.extension_count,
        suspension_count: v.suspension_count,
        extension_request: v.extension_request,
        updated_at: v.updated_at,
    })
}

async fn act(
    st: AppState,
    id: String,
    caller: crate::http::auth::Caller,
    audit: Audit,
    action: OperatorAction,
    note: Option<String>,
) -> Result<Json<IncidentView>, ApiError> {
    if note.as_ref().is_some_and(|n| n.chars().count() > 2000) {
        return Err(ApiError::Unprocessable(
            "note: at most 2000 characters".into(),
        ));
    }
    if let Some(before) = found(st.store.incident(&id).await)? {
        audit.before(&audited(&st, &before).await?);
    }
    st.dispatcher
        .operator(id.clone(), action, caller.actor(), note)
        .await?;
    let after = st.store.incident(&id).await?;
    audit.after(&audited(&st, &after).await?);
    Ok(Json(views::incident(&after)))
}

/// Offers the incident to the responder an operator chose, withdrawing its current tasks.
#[utoipa::path(
    post,
    path = "/api/v1/incidents/{id}/assign",
    tag = "incidents",
    params(("id" = String, Path, description = "The incident")),
    request_body = ActionBody,
    responses((status = 200, description = "The incident after it.", body = IncidentView))
)]
async fn assign(
    Operator(c): Operator,
    State(st): State<AppState>,
    audit: Audit,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<ActionBody>,
) -> Result<Json<IncidentView>, ApiError> {
    let rid = body
        .responder_id
        .ok_or_else(|| ApiError::Unprocessable("responder_id: required".into()))?;
    act(st, id, c, audit, OperatorAction::Assign(rid), body.note).await
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
    c: crate::http::auth::Caller,
    st: AppState,
    audit: Audit,
    id: String,
    body: &[u8],
    action: OperatorAction,
) -> Result<Json<IncidentView>, ApiError> {
    let note = optional_body(body)?.note;
    act(st, id, c, audit, action, note).await
}

/// Cancels an open incident: its tasks are withdrawn.
#[utoipa::path(
    post,
    path = "/api/v1/incidents/{id}/cancel",
    tag = "incidents",
    params(("id" = String, Path, description = "The incident")),
    request_body(content = Option<ActionBody>, description = "Optional: no body, `{}` or `{\"note\": …}`."),
    responses((status = 200, description = "The incident after it.", body = IncidentView))
)]
async fn cancel(
    Operator(c): Operator,
    State(st): State<AppState>,
    audit: Audit,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<IncidentView>, ApiError> {
    noted(c, st, audit, id, &body, OperatorAction::Cancel).await
}

/// Closes an incident.
#[utoipa::path(
    post,
    path = "/api/v1/incidents/{id}/close",
    tag = "incidents",
    params(("id" = String, Path, description = "The incident")),
    request_body(content = Option<ActionBody>, description = "Optional: no body, `{}` or `{\"note\": …}`."),
    responses((status = 200, description = "The incident after it.", body = IncidentView))
)]
async fn close(
    Operator(c): Operator,
    State(st): State<AppState>,
    audit: Audit,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<IncidentView>, ApiError> {
    noted(c, st, audit, id, &body, OperatorAction::Close).await
}

/// Verifies a resolved incident, which becomes closed.
///
/// Another state: 409.
#[utoipa::path(
    post,
    path = "/api/v1/incidents/{id}/verify",
    tag = "incidents",
    params(("id" = String, Path, description = "The incident")),
    request_body(content = Option<ActionBody>, description = "Optional: no body, `{}` or `{\"note\": …}`."),
    responses((status = 200, description = "The incident after it.", body = IncidentView))
)]
async fn verify(
    Operator(c): Operator,
    State(st): State<AppState>,
    audit: Audit,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<IncidentView>, ApiError> {
    noted(c, st, audit, id, &body, OperatorAction::Verify).await
}

/// Suspends an incident (缓办).
///
/// Open work not yet resolved: its tasks are withdrawn, no offers go out, its deadline
/// pauses. Resolved, closed, cancelled or already suspended: 409.
#[utoipa::path(
    post,
    path = "/api/v1/incidents/{id}/suspend",
    tag = "incidents",
    params(("id" = String, Path, description = "The incident")),
    request_body(content = Option<ActionBody>, description = "Optional: no body, `{}` or `{\"note\": …}`."),
    responses((status = 200, description = "The incident after it.", body = IncidentView))
)]
async fn suspend(
    Operator(c): Operator,
    State(st): State<AppState>,
    audit: Audit,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<IncidentView>, ApiError> {
    noted(c, st, audit, id, &body, OperatorAction::Suspend).await
}

/// Resumes a suspended incident.
///
/// It dispatches again, and its deadline moves later by the time it was suspended.
/// Another state: 409.
#[utoipa::path(
    post,
    path = "/api/v1/incidents/{id}/resume",
    tag = "incidents",
    params(("id" = String, Path, description = "The incident")),
    request_body(content = Option<ActionBody>, description = "Optional: no body, `{}` or `{\"note\": …}`."),
    responses((status = 200, description = "The incident after it.", body = IncidentView))
)]
async fn resume(
    Operator(c): Operator,
    State(st): State<AppState>,
    audit: Audit,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<IncidentView>, ApiError> {
    noted(c, st, audit, id, &body, OperatorAction::Resume).await
}

/// Body of `rework`: why the work is sent back (required).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ReworkBody {
    /// Why (required, 1 to 2000 characters).
    reason: Option<String>,
}

/// Sends the work of a resolved incident back (返工).
///
/// A new offer goes to the worker who resolved it. Another state: 409.
#[utoipa::path(
    post,
    path = "/api/v1/incidents/{id}/rework",
    tag = "incidents",
    params(("id" = String, Path, description = "The incident")),
    request_body = ReworkBody,
    responses((status = 200, description = "The incident after it.", body = IncidentView))
)]
async fn rework(
    Operator(c): Operator,
    State(st): State<AppState>,
    audit: Audit,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<ReworkBody>,
) -> Result<Json<IncidentView>, ApiError> {
    let reason = body.reason.unwrap_or_default().trim().to_owned();
    if reason.is_empty() {
        return Err(ApiError::Unprocessable("reason: required".into()));
    }
    if reason.chars().count() > 2000 {
        return Err(ApiError::Unprocessable(
            "reason: at most 2000 characters".into(),
        ));
    }
    act(st, id, c, audit, OperatorAction::Rework(reason), None).await
}

/// Body of `extension`: the verdict on the pending request.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ExtensionBody {
    /// Grant (true) or refuse (false); required.
    approve: Option<bool>,
    /// Minutes granted, 1 to 10080 (default: those asked for).
    minutes: Option<u32>,
    /// The operator's words.
    note: Option<String>,
}

/// The verdict on the pending extension request (延期).
///
/// Approved, the deadline moves later by `minutes` (default: those asked for). The worker
/// is answered either way. None pending: 409.
#[utoipa::path(
    post,
    path = "/api/v1/incidents/{id}/extension",
    tag = "incidents",
    params(("id" = String, Path, description = "The incident")),
    request_body = ExtensionBody,
    responses((status = 200, description = "The incident after it.", body = IncidentView))
)]
async fn extension(
    Operator(c): Operator,
    State(st): State<AppState>,
    audit: Audit,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<ExtensionBody>,
) -> Result<Json<IncidentView>, ApiError> {
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
    act(st, id, c, audit, action, body.note).await
}
