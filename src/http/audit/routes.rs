//! `GET /api/v1/audit` and `GET /api/v1/audit.csv`, for admins.

use axum::extract::State;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::domain::report::parse_bound;
use crate::http::auth::Admin;
use crate::http::error::{ApiError, Query};
use crate::http::page::{key_i64, Page};
use crate::http::AppState;
use crate::store::{AuditFilter, AuditRow};

/// Routes of this area.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(export))
}

/// Rows of one CSV export at most (a page of the list is 500).
pub const EXPORT_MAX_ROWS: i64 = 100_000;

/// `?actor=&action=&target_kind=&target_id=&address=&from=&to=&cursor=&limit=`
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct AuditQuery {
    /// Who, exactly as listed (`admin:alice`, `anonymous:bob`).
    actor: Option<String>,
    /// What: one action (`zones.replace`), or a prefix ending in `.` (`zones.`).
    action: Option<String>,
    /// The kind of thing acted on (`zones`, `responders`, `users`, `incidents`, …).
    target_kind: Option<String>,
    /// Its id.
    target_id: Option<String>,
    /// The client's address, exactly.
    address: Option<String>,
    /// RFC 3339, or `YYYY-MM-DD` (that day's start, at `reports.utc_offset`).
    from: Option<String>,
    /// RFC 3339 (excluded), or `YYYY-MM-DD` (that day included).
    to: Option<String>,
    /// `X-Next-Cursor` of the page before (the list only).
    cursor: Option<String>,
    /// Entries on the page: 1 to 500, default 100 (the list only).
    limit: Option<i64>,
}

/// One audit log entry.
#[derive(Debug, Serialize, ToSchema)]
struct AuditLine {
    /// Order of writing.
    seq: i64,
    /// When (RFC 3339, UTC).
    at: String,
    /// Who: `<role>:<name>`, `phone:<responder id>`, `anonymous:<claimed name>` (a failed
    /// login), `cli:<user>` or `system`.
    actor: String,
    /// The caller's role.
    role: Option<String>,
    /// From where: the client's address.
    address: Option<String>,
    /// What: `<kind>.<verb>`, e.g. `zones.replace`, `incidents.assign`,
    /// `session.login_failed`.
    action: String,
    /// The kind of thing acted on.
    target_kind: Option<String>,
    /// Its id.
    target_id: Option<String>,
    /// `METHOD /path` of the request.
    request: Option<String>,
    /// The HTTP status answered (0 when not an HTTP request).
    status: i32,
    /// The request's parameters, secrets removed.
    #[schema(value_type = Option<Object>)]
    detail: Option<Value>,
    /// The thing before the change (free-form: the thing's own shape).
    #[schema(value_type = Option<Object>)]
    before: Option<Value>,
    /// The thing after the change.
    #[schema(value_type = Option<Object>)]
    after: Option<Value>,
}

/// A stored JSON text as the object it holds; a text that is not a JSON object (none is
/// written so, but the column is plain text) as `{"text": …}`, so the answer keeps the
/// documented shape.
fn json_of(text: &Option<String>) -> Option<Value> {
    text.as_deref().map(|t| match serde_json::from_str(t) {
        Ok(v @ Value::Object(_)) => v,
        _ => serde_json::json!({ "text": t }),
    })
}

impl AuditLine {
    fn of(row: &AuditRow) -> AuditLine {
        let r = &row.entry;
        AuditLine {
            seq: row.seq,
            at: crate::http::rfc3339(r.at),
            actor: r.actor.clone(),
            role: r.role.clone(),
            address: r.address.clone(),
            action: r.action.clone(),
            target_kind: r.target_kind.clone(),
            target_id: r.target_id.clone(),
            request: r.request.clone(),
            status: r.status,
            detail: json_of(&r.detail),
            before: json_of(&r.before),
            after: json_of(&r.after),
        }
    }
}

/// The filter of `q`, without its page.
fn filter_of(st: &AppState, q: &AuditQuery) -> Result<AuditFilter, ApiError> {
    let text = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let offset = st.reports.utc_offset;
    let bound = |field, v: &Option<String>, end| {
        text(v)
            .map(|s| parse_bound(field, &s, offset, end))
            .transpose()
            .map_err(ApiError::from)
    };
    Ok(AuditFilter {
        actor: text(&q.actor),
        action: text(&q.action),
        target_kind: text(&q.target_kind),
        target_id: text(&q.target_id),
        address: text(&q.address),
        from: bound("from", &q.from, false)?,
        to: bound("to", &q.to, true)?,
        before_seq: None,
        limit: 0,
    })
}

/// The audit log, newest first (admin).
///
/// "Who changed zone X last Tuesday, from where, and what was it before?":
/// `?target_kind=zones&target_id=X&from=2026-12-01&to=2026-12-01`.
#[utoipa::path(
    get,
    path = "/api/v1/audit",
    tag = "audit",
    params(AuditQuery),
    responses((status = 200, description = "A page of entries, newest first.", body = Vec<AuditLine>))
)]
async fn list(
    State(st): State<AppState>,
    _: Admin,
    Query(q): Query<AuditQuery>,
) -> Result<Response, ApiError> {
    if q.limit.is_some_and(|n| !(1..=500).contains(&n)) {
        return Err(ApiError::Unprocessable("limit: must be 1 to 500".into()));
    }
    let page = Page::new(q.cursor.as_deref(), q.limit, 100, 500)?;
    let mut f = filter_of(&st, &q)?;
    f.before_seq = match page.after_key(1)? {
        Some([seq]) => Some(key_i64(seq)?),
        _ => None,
    };
    f.limit = page.fetch();
    let rows = st.store.audit_entries(&f).await?;
    Ok(page.answer(rows, |r| vec![r.seq.into()], AuditLine::of))
}

/// The audit log as CSV, newest first, up to 100,000 entries (admin); the same filters
/// as the list. Downloaded as `audit-<from>-<to>.csv`.
#[utoipa::path(
    get,
    path = "/api/v1/audit.csv",
    tag = "audit",
    params(AuditQuery),
    responses((status = 200, description = "The entries, UTF-8 CSV.", body = String,
               content_type = "text/csv",
               headers(("Content-Disposition" = String, description = "attachment; filename=\"audit-….csv\""))))
)]
async fn export(
    State(st): State<AppState>,
    _: Admin,
    Query(q): Query<AuditQuery>,
) -> Result<Response, ApiError> {
    let mut f = filter_of(&st, &q)?;
    f.limit = EXPORT_MAX_ROWS;
    let rows = st.store.audit_entries(&f).await?;
    let name = format!(
        "audit-{}-{}.csv",
        q.from.as_deref().map_or("start", file_part),
        q.to.as_deref().map_or("now", file_part)
    );
    let header = [
        "seq",
        "at",
        "actor",
        "role",
        "address",
        "action",
        "target_kind",
        "target_id",
        "request",
        "status",
        "detail",
        "before",
        "after",
    ];
    let cells = rows.into_iter().map(|AuditRow { seq, entry: r }| {
        let o = |v: Option<String>| v.unwrap_or_default();
        vec![
            seq.to_string(),
            crate::http::rfc3339(r.at),
            r.actor,
            o(r.role),
            o(r.address),
            r.action,
            o(r.target_kind),
            o(r.target_id),
            o(r.request),
            r.status.to_string(),
            o(r.detail),
            o(r.before),
            o(r.after),
        ]
    });
    crate::http::reports::csv_attachment(header, cells, name)
}

/// A filter's value as part of a file name: letters, digits and `-` only.
fn file_part(s: &str) -> &str {
    let ok = !s.is_empty() && s.len() <= 32;
    if ok && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        s
    } else {
        "range"
    }
}
