//! The audit log's HTTP side (docs/security.md, "Audit log"):
//!
//! - [`record`], a layer that writes one entry for each request that changes something
//!   (and each read of the log itself): who, from where, what, to which thing, with the
//!   answer's status;
//! - [`Audit`], the handle a handler takes to say what the thing was before and after, or
//!   who a failed login claimed to be;
//! - `GET /api/v1/audit` and `GET /api/v1/audit.csv`, for admins.
//!
//! Requests without valid credentials are written only when a handler names the claimed
//! user (failed logins), and then within [`ANONYMOUS_PER_MINUTE`], so that a flood of
//! invented usernames cannot fill the database; what is over that is counted in one entry.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use axum::extract::{ConnectInfo, FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, Method};
use axum::middleware::Next;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::{Admin, Caller};
use super::error::{ApiError, Query};
use super::page::{key_i64, Page};
use super::AppState;
use crate::domain::report::parse_bound;
pub use crate::store::ANONYMOUS_PER_MINUTE;
use crate::store::{AuditFilter, AuditRow, NewAuditEntry};

/// Routes of this area.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(export))
}

/// Largest request body whose parameters an entry keeps, bytes: operator actions and
/// settings are small JSON; imports are recorded by what they changed, not their file.
const DETAIL_MAX_BYTES: usize = 16 * 1024;
/// Rows of one CSV export at most (a page of the list is 500).
pub const EXPORT_MAX_ROWS: i64 = 100_000;

/// What a handler tells the log about its request. Shared between the layer, which put
/// it in the request, and the handler, which fills it in.
#[derive(Debug, Default)]
struct Draft {
    /// The authenticated caller (set by `auth::authenticate`).
    caller: Option<Caller>,
    /// The responder whose phone sent the request (HTTP Basic with its MQTT login).
    phone: Option<String>,
    /// The name a request without valid credentials claimed (a failed login).
    claimed: Option<String>,
    /// An action more precise than the route's (`session.login_failed`).
    action: Option<String>,
    /// The target's id, when the route does not hold it (a create).
    target_id: Option<String>,
    /// The thing before.
    before: Option<Value>,
    /// The thing after.
    after: Option<Value>,
    /// Written even though the request is not a change (a failed phone login on a GET).
    keep: bool,
    /// One more entry per thing a bulk change touched (an import): id, before, after.
    items: Vec<(String, Option<Value>, Option<Value>)>,
}

/// The audit entry of the current request, for handlers to fill in. A request outside
/// the layer (a unit test) gets one that goes nowhere.
#[derive(Debug, Clone, Default)]
pub struct Audit(Arc<Mutex<Draft>>);

impl Audit {
    /// The entry of the request `parts` belongs to.
    pub fn of(parts: &Parts) -> Audit {
        parts.extensions.get::<Audit>().cloned().unwrap_or_default()
    }

    fn with(&self, f: impl FnOnce(&mut Draft)) {
        f(&mut self.0.lock().unwrap_or_else(|e| e.into_inner()));
    }

    /// The caller, once its credentials are checked.
    pub fn caller(&self, caller: &Caller) {
        self.with(|d| d.caller = Some(caller.clone()));
    }

    /// The responder whose phone login the request carried.
    pub fn phone(&self, responder_id: &str) {
        self.with(|d| d.phone = Some(responder_id.to_owned()));
    }

    /// The user a request without valid credentials claimed to be: it is then written.
    pub fn claimed(&self, name: &str) {
        self.with(|d| {
            d.claimed = Some(name.chars().take(200).collect());
            d.keep = true;
        });
    }

    /// Names the action, when the route alone does not (`session.logout`); the entry is
    /// then written whatever the request's method.
    pub fn action(&self, action: &str) {
        self.with(|d| {
            d.action = Some(action.to_owned());
            d.keep = true;
        });
    }

    /// The id of the thing acted on, when the path does not hold it.
    pub fn target(&self, id: impl Into<String>) {
        let id = id.into();
        self.with(|d| d.target_id = Some(id));
    }

    /// The thing before the change (secrets removed, see [`redact`]).
    pub fn before<T: Serialize>(&self, v: &T) {
        let v = to_value(v);
        self.with(|d| d.before = v);
    }

    /// The thing after the change.
    pub fn after<T: Serialize>(&self, v: &T) {
        let v = to_value(v);
        self.with(|d| d.after = v);
    }

    /// One of the things a bulk change (an import) touched, written as an entry of its
    /// own beside the request's, so that the log of each thing is complete.
    pub fn item<T: Serialize>(&self, id: &str, before: Option<&T>, after: Option<&T>) {
        let (before, after) = (before.and_then(to_value), after.and_then(to_value));
        self.with(|d| d.items.push((id.to_owned(), before, after)));
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Audit {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Audit::of(parts))
    }
}

/// Largest JSON text of a thing kept whole in an entry, bytes; past it, each field over
/// [`FIELD_MAX_BYTES`] is kept as its size and SHA-256 (a county's zone outline can be
/// megabytes; the log must still say that it changed).
const VALUE_MAX_BYTES: usize = 64 * 1024;
const FIELD_MAX_BYTES: usize = 4 * 1024;

fn to_value<T: Serialize>(v: &T) -> Option<Value> {
    let mut v = serde_json::to_value(v).ok()?;
    redact(&mut v);
    if v.to_string().len() > VALUE_MAX_BYTES {
        shrink(&mut v);
    }
    Some(v)
}

/// Replaces every large field of `v` (an object, at any depth up to the large ones) with
/// `{"omitted_bytes": n, "sha256": …}`.
fn shrink(v: &mut Value) {
    use sha2::{Digest, Sha256};
    let mut stack = vec![v];
    while let Some(v) = stack.pop() {
        let Value::Object(map) = v else { continue };
        for child in map.values_mut() {
            let text = child.to_string();
            if text.len() <= FIELD_MAX_BYTES {
                continue;
            }
            if child.is_object() {
                stack.push(child);
            } else {
                *child = serde_json::json!({
                    "omitted_bytes": text.len(),
                    "sha256": hex::encode(Sha256::digest(text.as_bytes())),
                });
            }
        }
    }
}

/// Blanks every value whose key names a secret (`password`, `secret`, `token`), at any
/// depth, so that no credential reaches the log.
pub fn redact(v: &mut Value) {
    let mut stack = vec![v];
    while let Some(v) = stack.pop() {
        match v {
            Value::Object(map) => {
                for (k, child) in map.iter_mut() {
                    let k = k.to_ascii_lowercase();
                    if ["password", "secret", "token"]
                        .iter()
                        .any(|s| k.contains(s))
                    {
                        *child = Value::String("(removed)".into());
                    } else {
                        stack.push(child);
                    }
                }
            }
            Value::Array(items) => stack.extend(items.iter_mut()),
            _ => {}
        }
    }
}

/// The client's address: the peer's, or, when the peer is one of `http.trusted_proxies`,
/// the last address in `X-Forwarded-For` that is not itself a trusted proxy.
pub fn client_address(
    trusted: &[ipnet::IpNet],
    peer: Option<IpAddr>,
    headers: &HeaderMap,
) -> Option<IpAddr> {
    let peer = peer?;
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !is_trusted(&peer) {
        return Some(peer);
    }
    let hops: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map_while(|s| s.trim().parse().ok())
        .collect();
    Some(
        hops.into_iter()
            .rev()
            .find(|ip| !is_trusted(ip))
            .unwrap_or(peer),
    )
}

/// The address of a request as handlers see it (login limits).
pub fn request_address(state: &AppState, parts: &Parts) -> Option<IpAddr> {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    client_address(&state.trusted_proxies, peer, &parts.headers)
}

/// What a route does, from its method and path: `zones.replace` on zone `z1`.
#[derive(Debug, PartialEq, Eq)]
struct Described {
    action: String,
    target_kind: Option<String>,
    target_id: Option<String>,
}

/// Last path segments that are an action on the thing before them (`/incidents/{id}/close`)
/// rather than a list: the action's verb. Any other route's verb is its method's.
const ACTIONS: [&str; 12] = [
    "import",
    "assign",
    "cancel",
    "close",
    "verify",
    "suspend",
    "resume",
    "rework",
    "extension",
    "reset-password",
    "confirm",
    "approve",
];

fn describe(method: &Method, route: &str, path: &str) -> Described {
    let route = route.trim_start_matches("/api/v1/");
    let path = path.trim_start_matches("/api/v1/");
    let segments: Vec<(&str, &str)> = route.split('/').zip(path.split('/')).collect();
    let is_param = |r: &str| r.starts_with('{');
    let last = segments.last().map_or("", |s| s.0);
    let action_verb = (!is_param(last) && ACTIONS.contains(&last)).then_some(last);
    // The thing acted on: the last list named, and the id that follows it, if any.
    let (mut target_kind, mut target_id) = (None, None);
    for (i, (r, _)) in segments.iter().enumerate() {
        if is_param(r) || action_verb == Some(*r) {
            continue;
        }
        target_kind = Some(r.strip_suffix(".csv").unwrap_or(r).to_owned());
        target_id = segments
            .get(i + 1)
            .filter(|(r, _)| is_param(r))
            .map(|(_, p)| (*p).to_owned());
    }
    let mut action: Vec<&str> = segments
        .iter()
        .filter(|(r, _)| !is_param(r))
        .map(|(r, _)| r.strip_suffix(".csv").unwrap_or(r))
        .collect();
    if action_verb.is_none() {
        action.push(if last.ends_with(".csv") {
            "export"
        } else {
            match *method {
                Method::POST => "create",
                Method::PUT => "replace",
                Method::PATCH => "update",
                Method::DELETE => "delete",
                _ => "read",
            }
        });
    }
    Described {
        action: action.join("."),
        target_kind,
        target_id,
    }
}

/// Whether the layer looks at the request at all: the API, but not the alert intake,
/// which is its own record, at a rate the log must not carry.
fn watched(path: &str) -> bool {
    path.starts_with("/api/") && path != "/api/v1/alerts" && !path.starts_with("/api/v1/ingest/")
}

/// Whether a watched request is written whatever its handler says: a change through the
/// API, or a read of the log itself.
fn audited(method: &Method, path: &str) -> bool {
    watched(path)
        && (path.starts_with("/api/v1/audit")
            || !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS))
}

/// The request's JSON parameters, secrets removed, when it has a small JSON body.
async fn detail_of(req: Request) -> (Request, Option<String>) {
    let small = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok())
        .is_some_and(|n| n > 0 && n <= DETAIL_MAX_BYTES);
    let json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let query = req.uri().query().map(str::to_owned);
    if !(small && json) {
        let detail = query.map(|q| Value::from(format!("?{q}")).to_string());
        return (req, detail);
    }
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, DETAIL_MAX_BYTES).await {
        Ok(b) => b,
        // The body was cut off or broke: the handler sees the same empty body and answers.
        Err(_) => axum::body::Bytes::new(),
    };
    let detail = serde_json::from_slice::<Value>(&bytes).ok().map(|mut v| {
        redact(&mut v);
        v.to_string()
    });
    (
        Request::from_parts(parts, axum::body::Body::from(bytes)),
        detail,
    )
}

/// The layer: runs the request, then writes its entry.
pub async fn record(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let method = req.method().clone();
    if !watched(req.uri().path()) {
        return next.run(req).await;
    }
    let always = audited(&method, req.uri().path());
    let Some(route) = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned())
    else {
        return next.run(req).await;
    };
    let path = req.uri().path().to_owned();
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let address = client_address(&state.trusted_proxies, peer, req.headers());
    let (mut req, detail) = if always {
        detail_of(req).await
    } else {
        (req, None)
    };
    let audit = Audit::default();
    req.extensions_mut().insert(audit.clone());
    let response = next.run(req).await;

    let draft = std::mem::take(&mut *audit.0.lock().unwrap_or_else(|e| e.into_inner()));
    if !(always || draft.keep) {
        return response;
    }
    let (actor, role) = match (&draft.caller, &draft.phone, &draft.claimed) {
        (Some(c), _, _) => (c.actor(), Some(c.role.to_string())),
        (None, Some(rid), _) => (format!("phone:{rid}"), Some("responder".to_owned())),
        (None, None, Some(name)) => (format!("anonymous:{name}"), None),
        // No valid credentials and no login: not written (see the module's docs).
        (None, None, None) => return response,
    };
    let anonymous = role.is_none();
    let at = crate::clock::now_ms();
    if anonymous {
        let (admit, suppressed) = state.audit_budget.take();
        if let Some(summary) = suppressed {
            write(&state, &summary).await;
        }
        if !admit {
            return response;
        }
    }
    let d = describe(&method, &route, &path);
    let entry = NewAuditEntry {
        at,
        actor,
        role,
        address: address.map(|a| a.to_string()),
        action: draft.action.unwrap_or(d.action),
        target_kind: d.target_kind,
        target_id: draft.target_id.or(d.target_id),
        request: Some(format!("{method} {path}")),
        status: i32::from(response.status().as_u16()),
        detail,
        before: draft.before.map(|v| v.to_string()),
        after: draft.after.map(|v| v.to_string()),
    };
    let items: Vec<NewAuditEntry> = draft
        .items
        .into_iter()
        .map(|(id, before, after)| NewAuditEntry {
            target_id: Some(id),
            detail: None,
            before: before.map(|v| v.to_string()),
            after: after.map(|v| v.to_string()),
            ..entry.clone()
        })
        .collect();
    write(&state, &entry).await;
    if !items.is_empty() {
        if let Err(e) = state.store.append_audit_all(&items).await {
            crate::metrics::Metrics::inc(&state.metrics.audit_write_failures_total);
            tracing::error!(error = %e, action = %entry.action, entries = items.len(),
                "could not write a bulk change's audit log entries");
        }
    }
    response
}

/// Appends `entry`; a failure is logged and counted, and the request's answer stands
/// (what it changed is already changed).
pub async fn write(state: &AppState, entry: &NewAuditEntry) {
    if let Err(e) = state.store.append_audit(entry).await {
        crate::metrics::Metrics::inc(&state.metrics.audit_write_failures_total);
        tracing::error!(error = %e, action = %entry.action, actor = %entry.actor,
            "could not write an audit log entry");
    }
}

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

fn json_of(text: &Option<String>) -> Option<Value> {
    text.as_deref()
        .map(|t| serde_json::from_str(t).unwrap_or_else(|_| Value::from(t)))
}

impl AuditLine {
    fn of(r: &AuditRow) -> AuditLine {
        AuditLine {
            seq: r.seq,
            at: super::rfc3339(r.at),
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
    let cells = rows.into_iter().map(|r| {
        let o = |v: Option<String>| v.unwrap_or_default();
        vec![
            r.seq.to_string(),
            super::rfc3339(r.at),
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
    super::reports::csv_attachment(header, cells, name)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn d(method: Method, route: &str, path: &str) -> (String, Option<String>, Option<String>) {
        let d = describe(&method, route, path);
        (d.action, d.target_kind, d.target_id)
    }

    fn s(v: &str) -> Option<String> {
        Some(v.to_owned())
    }

    #[test]
    fn routes_are_named_by_what_they_do() {
        let z = "/api/v1/zones/{id}";
        assert_eq!(
            d(Method::PUT, z, "/api/v1/zones/z1"),
            ("zones.replace".into(), s("zones"), s("z1"))
        );
        assert_eq!(
            d(Method::DELETE, z, "/api/v1/zones/z1"),
            ("zones.delete".into(), s("zones"), s("z1"))
        );
        assert_eq!(
            d(Method::POST, "/api/v1/zones", "/api/v1/zones"),
            ("zones.create".into(), s("zones"), None)
        );
        assert_eq!(
            d(Method::POST, "/api/v1/zones/import", "/api/v1/zones/import"),
            ("zones.import".into(), s("zones"), None)
        );
        assert_eq!(
            d(
                Method::POST,
                "/api/v1/incidents/{id}/assign",
                "/api/v1/incidents/inc-1/assign"
            ),
            ("incidents.assign".into(), s("incidents"), s("inc-1"))
        );
        assert_eq!(
            d(
                Method::POST,
                "/api/v1/merchants/{id}/offers",
                "/api/v1/merchants/m1/offers"
            ),
            ("merchants.offers.create".into(), s("offers"), None)
        );
        assert_eq!(
            d(
                Method::PUT,
                "/api/v1/merchants/{id}/offers/{offer_id}",
                "/api/v1/merchants/m1/offers/o2"
            ),
            ("merchants.offers.replace".into(), s("offers"), s("o2"))
        );
        assert_eq!(
            d(Method::GET, "/api/v1/audit.csv", "/api/v1/audit.csv"),
            ("audit.export".into(), s("audit"), None)
        );
        assert_eq!(
            d(Method::GET, "/api/v1/audit", "/api/v1/audit"),
            ("audit.read".into(), s("audit"), None)
        );
    }

    #[test]
    fn nested_lists_name_their_own_items() {
        assert_eq!(
            d(
                Method::POST,
                "/api/v1/points/awards",
                "/api/v1/points/awards"
            ),
            ("points.awards.create".into(), s("awards"), None)
        );
        assert_eq!(
            d(
                Method::POST,
                "/api/v1/redemptions/{code}/confirm",
                "/api/v1/redemptions/AB12/confirm"
            ),
            ("redemptions.confirm".into(), s("redemptions"), s("AB12"))
        );
        assert_eq!(
            d(Method::DELETE, "/api/v1/session", "/api/v1/session"),
            ("session.delete".into(), s("session"), None)
        );
    }

    #[test]
    fn only_changes_and_reads_of_the_log_are_kept() {
        assert!(audited(&Method::PUT, "/api/v1/zones/z1"));
        assert!(audited(&Method::GET, "/api/v1/audit.csv"));
        assert!(!audited(&Method::GET, "/api/v1/zones"));
        assert!(!audited(&Method::POST, "/api/v1/alerts"));
        assert!(!audited(&Method::POST, "/api/v1/ingest/gb28181"));
        assert!(!audited(&Method::POST, "/metrics"));
        assert!(watched("/api/v1/field/tasks") && !watched("/api/v1/alerts"));
    }

    #[test]
    fn secrets_never_reach_the_log() {
        let mut v = serde_json::json!({
            "username": "li", "password": "hunter2",
            "nested": [{"mqtt_password": "x", "Token": "t", "name": "ok"}]
        });
        redact(&mut v);
        let text = v.to_string();
        assert!(!text.contains("hunter2") && !text.contains("\"x\"") && !text.contains("\"t\""));
        assert!(text.contains("\"li\"") && text.contains("\"ok\""));
    }

    #[test]
    fn large_fields_are_kept_as_their_digest() {
        let outline = "1.0,".repeat(40_000);
        let v = to_value(&serde_json::json!({"id": "z1", "geometry": {"coordinates": outline}}))
            .unwrap();
        assert_eq!(v["id"], "z1");
        assert!(
            v["geometry"]["coordinates"]["omitted_bytes"]
                .as_u64()
                .unwrap()
                > 160_000
        );
        assert_eq!(
            v["geometry"]["coordinates"]["sha256"]
                .as_str()
                .unwrap()
                .len(),
            64
        );
    }

    #[test]
    fn a_trusted_proxy_names_the_client() {
        let proxies: Vec<ipnet::IpNet> = vec!["10.0.0.0/24".parse().unwrap()];
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", "203.0.113.9, 10.0.0.7".parse().unwrap());
        let peer: IpAddr = "10.0.0.5".parse().unwrap();
        assert_eq!(
            client_address(&proxies, Some(peer), &h),
            Some("203.0.113.9".parse().unwrap())
        );
        // Anyone else's header is ignored: it could say anything.
        let stranger: IpAddr = "198.51.100.1".parse().unwrap();
        assert_eq!(client_address(&proxies, Some(stranger), &h), Some(stranger));
        assert_eq!(client_address(&[], Some(peer), &h), Some(peer));
    }
}
