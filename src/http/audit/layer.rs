//! The layer that writes one entry per request it keeps.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;
use serde_json::Value;

use super::describe::{audited, describe, watched};
use super::handle::{client_address, redact, Audit};
use crate::http::AppState;
use crate::store::NewAuditEntry;

/// Largest request body whose parameters an entry keeps, bytes: operator actions and
/// settings are small JSON; imports are recorded by what they changed, not their file.
const DETAIL_MAX_BYTES: usize = 16 * 1024;

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
        // An object, as every detail is (the document says so): `{"query": "a=1&b=2"}`.
        let detail = query.map(|q| serde_json::json!({ "query": q }).to_string());
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
        (Some((actor, role)), _, _) => (actor.clone(), Some(role.to_string())),
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
        target_kind: draft.target_kind.or(d.target_kind),
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
            state.metrics.audit_write_failures_total.inc();
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
        state.metrics.audit_write_failures_total.inc();
        tracing::error!(error = %e, action = %entry.action, actor = %entry.actor,
            "could not write an audit log entry");
    }
}
