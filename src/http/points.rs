//! `/api/v1/points/…`: volunteer points (志愿服务积分, docs/points.md). Accounts and their
//! history (viewers, or the responder's own phone with its MQTT login as HTTP Basic), the
//! ledger (viewers), and honour awards (admins; above `points.award_approval_above` a
//! second admin approves, never the proposer).

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::{authorize_parts, phone_login, Admin, Viewer};
use super::error::{ApiError, JsonBody};
use super::page::{key_i64, key_str, Page, PageQuery};
use super::AppState;
use crate::clock::{now_ms, rfc3339};
use crate::domain::points::{month_bounds, parse_month};
use crate::domain::report::parse_bound;
use crate::domain::{Ident, Role};
use crate::store::points::{
    AccountLine, AwardRow, HistoryLine, HonourLine, LedgerQuery, MovementKind, MovementRow,
    MovementView, NewAward, MAX_ACCOUNTS,
};
use axum::response::Response;

/// Routes of this area.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/points/accounts", get(accounts))
        .route("/api/v1/points/accounts/{responder_id}", get(account))
        .route(
            "/api/v1/points/accounts/{responder_id}/history",
            get(history),
        )
        .route("/api/v1/points/ledger", get(ledger))
        .route("/api/v1/points/honour", get(honour))
        .route("/api/v1/points/awards", get(awards).post(propose))
        .route("/api/v1/points/awards/{id}/approve", post(approve))
}

/// Most points one award may carry.
const MAX_AWARD: i64 = 1_000_000;
/// Longest award reason, characters.
const MAX_REASON_CHARS: usize = 500;

/// Console users (viewer and up) see every account. A phone holds its worker's MQTT
/// login; sent as HTTP Basic it shows that worker's own account and no other (404, as for
/// a missing one); a wrong one is 401, and repeated failures lock it a while.
pub(super) async fn may_see_account(
    parts: &Parts,
    st: &AppState,
    rid: &str,
) -> Result<(), ApiError> {
    match phone_login(parts, st).await? {
        None => authorize_parts(parts, st, Role::Viewer).await.map(|_| ()),
        Some(own) if own.as_str() == rid => Ok(()),
        Some(_) => Err(ApiError::NotFound(format!("points account of {rid}"))),
    }
}

fn movement_json(m: &MovementRow) -> Value {
    json!({
        "id": m.id,
        "idempotency_key": m.idempotency_key,
        "kind": m.kind,
        "points": m.points,
        "at": rfc3339(m.at),
        "actor": m.actor,
        "note": m.note,
        "cause": {"type": m.cause_type, "id": m.cause_id},
    })
}

fn history_json(h: &HistoryLine) -> Value {
    let mut v = movement_json(&h.movement);
    v["change"] = json!(h.change);
    v["reserved_change"] = json!(h.reserved_change);
    match h.movement.cause_type.as_str() {
        "incident" => {
            v["cause"]["kind"] = json!(h.incident_kind);
            v["cause"]["title"] = json!(h.incident_title);
        }
        "award" => v["cause"]["reason"] = json!(h.award_reason),
        "redemption" => {
            v["cause"]["offer_title"] = json!(h.redemption_offer);
            v["cause"]["merchant_id"] = json!(h.redemption_merchant);
        }
        _ => {}
    }
    v
}

fn award_json(a: &AwardRow) -> Value {
    json!({
        "id": a.id,
        "responder_id": a.responder_id,
        "points": a.points,
        "reason": a.reason,
        "state": a.state,
        "proposed_by": a.proposed_by,
        "proposed_at": rfc3339(a.proposed_at),
        "approved_by": a.approved_by,
        "approved_at": a.approved_at.map(rfc3339),
        "movement_id": a.movement_id,
    })
}

/// `GET /api/v1/points/accounts/{responder_id}`.
async fn account(
    State(st): State<AppState>,
    Path(rid): Path<String>,
    parts: Parts,
) -> Result<Json<Value>, ApiError> {
    may_see_account(&parts, &st, &rid).await?;
    st.store.responder(&rid).await?;
    let now = now_ms();
    let a = st.store.points_account(&rid, now).await?;
    Ok(Json(json!({
        "responder_id": a.responder_id,
        "balance": a.balance,
        "reserved": a.reserved,
        "earned_total": a.earned_total,
        "awarded_total": a.awarded_total,
        "redeemed_total": a.redeemed_total,
        "expired_total": a.expired_total,
        "expiring_soon": a.expiring_soon,
        "next_expiry_at": a.next_expiry_at.map(rfc3339),
    })))
}

/// `?limit=` (1..=500, default 100).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HistoryQuery {
    limit: Option<i64>,
    /// `X-Next-Cursor` of the page before.
    cursor: Option<String>,
}

/// A page of movements: `limit` 1..=500 (default 100), after the cursor's `(at, id)`.
fn movement_page(
    cursor: Option<&str>,
    l: Option<i64>,
) -> Result<(Page, Option<(i64, String)>), ApiError> {
    if l.is_some_and(|n| !(1..=500).contains(&n)) {
        return Err(ApiError::Unprocessable("limit: must be 1 to 500".into()));
    }
    let page = Page::new(cursor, l, 100, 500)?;
    let after = match page.after_key(2)? {
        Some([at, id]) => Some((key_i64(at)?, key_str(id)?.to_owned())),
        _ => None,
    };
    Ok((page, after))
}

/// `GET /api/v1/points/accounts/{responder_id}/history`: newest first, each line with
/// its cause.
async fn history(
    State(st): State<AppState>,
    Path(rid): Path<String>,
    q: Result<Query<HistoryQuery>, QueryRejection>,
    parts: Parts,
) -> Result<Response, ApiError> {
    may_see_account(&parts, &st, &rid).await?;
    let Query(q) = q.map_err(|e| ApiError::Unprocessable(e.body_text()))?;
    let (page, after) = movement_page(q.cursor.as_deref(), q.limit)?;
    st.store.responder(&rid).await?;
    let after = after.as_ref().map(|(at, id)| (*at, id.as_str()));
    let lines = st.store.points_history(&rid, after, page.fetch()).await?;
    let key = |l: &HistoryLine| vec![l.movement.at.into(), l.movement.id.clone().into()];
    Ok(page.answer(lines, key, history_json))
}

/// `?account=…&from=…&to=…&kind=…&limit=…`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LedgerParams {
    account: Option<String>,
    /// RFC 3339, or `YYYY-MM-DD` (that day's start, at `reports.utc_offset`).
    from: Option<String>,
    /// RFC 3339 (excluded), or `YYYY-MM-DD` (that day included).
    to: Option<String>,
    /// One movement kind.
    kind: Option<String>,
    limit: Option<i64>,
    /// `X-Next-Cursor` of the page before.
    cursor: Option<String>,
}

/// The movement kinds `?kind=` accepts.
const KINDS: [MovementKind; 7] = [
    MovementKind::Earn,
    MovementKind::Award,
    MovementKind::Expire,
    MovementKind::Reserve,
    MovementKind::Release,
    MovementKind::Redeem,
    MovementKind::Correct,
];

/// `GET /api/v1/points/ledger`: movements with their entries and cause, newest first.
async fn ledger(
    State(st): State<AppState>,
    _: Viewer,
    q: Result<Query<LedgerParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::Unprocessable(e.body_text()))?;
    let (page, after) = movement_page(q.cursor.as_deref(), q.limit)?;
    let offset = st.reports.utc_offset;
    let from = q
        .from
        .as_deref()
        .map(|s| parse_bound("from", s, offset, false))
        .transpose()?;
    let to =
        q.to.as_deref()
            .map(|s| parse_bound("to", s, offset, true))
            .transpose()?;
    let kind = match q.kind.as_deref().map(str::trim).filter(|k| !k.is_empty()) {
        None => None,
        Some(k) => match KINDS.iter().find(|x| x.as_str() == k) {
            Some(x) => Some(x.as_str().to_owned()),
            None => {
                let names: Vec<_> = KINDS.iter().map(|x| x.as_str()).collect();
                return Err(ApiError::Unprocessable(format!(
                    "kind: must be one of {}",
                    names.join(", ")
                )));
            }
        },
    };
    let query = LedgerQuery {
        account: q.account.filter(|a| !a.trim().is_empty()),
        from,
        to,
        kind,
        limit: page.fetch(),
        after,
    };
    let moves = st.store.points_ledger(&query).await?;
    let view = |m: &MovementView| {
        let mut v = movement_json(&m.movement);
        v["entries"] = json!(m
            .entries
            .iter()
            .map(|e| json!({
                "account": e.account,
                "amount": e.amount,
                "lot_id": e.lot_id,
                "lot_expires_at": rfc3339(e.lot_expires_at),
            }))
            .collect::<Vec<_>>());
        v
    };
    let key = |m: &MovementView| vec![m.movement.at.into(), m.movement.id.clone().into()];
    Ok(page.answer(moves, key, view))
}

/// Body of `POST /api/v1/points/awards`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProposeAward {
    responder_id: Ident,
    points: i64,
    reason: String,
}

/// `POST /api/v1/points/awards` (admin) → 201 `{id, state}`.
async fn propose(
    State(st): State<AppState>,
    Admin(caller): Admin,
    JsonBody(body): JsonBody<ProposeAward>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    if !(1..=MAX_AWARD).contains(&body.points) {
        return Err(ApiError::Unprocessable(format!(
            "points: must be 1 to {MAX_AWARD}"
        )));
    }
    let reason = body.reason.trim();
    if reason.is_empty() || reason.chars().count() > MAX_REASON_CHARS {
        return Err(ApiError::Unprocessable(format!(
            "reason: must be 1 to {MAX_REASON_CHARS} characters"
        )));
    }
    let rid = body.responder_id.to_string();
    st.store.responder(&rid).await?;
    let award = NewAward {
        responder_id: rid,
        points: body.points,
        reason: reason.to_owned(),
        proposed_by: caller.actor(),
    };
    let row = st.store.propose_award(&award, &st.points, now_ms()).await?;
    Ok((StatusCode::CREATED, Json(award_json(&row))))
}

/// `POST /api/v1/points/awards/{id}/approve` (another admin).
async fn approve(
    State(st): State<AppState>,
    Admin(caller): Admin,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    match st
        .store
        .approve_award(&id, &caller.actor(), &st.points, now_ms())
        .await?
    {
        Ok(row) => Ok(Json(award_json(&row))),
        Err(_) => Err(ApiError::Refused(format!(
            "award {id} was proposed by you; another admin must approve it"
        ))),
    }
}

/// `?state=pending|approved`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AwardsQuery {
    state: Option<String>,
    /// Default and most 1000.
    limit: Option<i64>,
    /// `X-Next-Cursor` of the page before.
    cursor: Option<String>,
}

/// `GET /api/v1/points/awards` (viewer: the console shows them to every role; only admins
/// propose and approve), newest first.
async fn awards(
    State(st): State<AppState>,
    _: Viewer,
    q: Result<Query<AwardsQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::Unprocessable(e.body_text()))?;
    let page = Page::new(q.cursor.as_deref(), q.limit, 1000, 1000)?;
    let after = match page.after_key(2)? {
        Some([at, id]) => Some((key_i64(at)?, key_str(id)?)),
        _ => None,
    };
    let state = match q.state.as_deref() {
        None => None,
        Some(s @ ("pending" | "approved")) => Some(s),
        Some(_) => {
            return Err(ApiError::Unprocessable(
                "state: must be pending or approved".into(),
            ))
        }
    };
    let rows = st.store.awards(state, after, page.fetch()).await?;
    let key = |a: &AwardRow| vec![a.proposed_at.into(), a.id.clone().into()];
    Ok(page.answer(rows, key, award_json))
}

/// `GET /api/v1/points/accounts` (viewer): every responder's points, by id, in one query.
async fn accounts(
    State(st): State<AppState>,
    _: Viewer,
    q: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::Unprocessable(e.body_text()))?;
    let page = Page::new(q.cursor.as_deref(), q.limit, MAX_ACCOUNTS, MAX_ACCOUNTS)?;
    let after = match page.after_key(1)? {
        Some([id]) => Some(key_str(id)?),
        _ => None,
    };
    let rows = st.store.points_accounts(after, page.fetch()).await?;
    let line = |a: &AccountLine| {
        json!({
            "responder_id": a.responder_id,
            "name": a.name,
            "kind": a.kind,
            "zone_id": a.zone_id,
            "balance": a.balance,
            "reserved": a.reserved,
            "earned_total": a.earned_total,
            "awarded_total": a.awarded_total,
        })
    };
    let key = |a: &AccountLine| vec![a.responder_id.clone().into()];
    Ok(page.answer(rows, key, line))
}

/// `?month=YYYY-MM&zone_id=…`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HonourQuery {
    /// At `reports.utc_offset`; this month when absent.
    month: Option<String>,
    zone_id: Option<String>,
}

/// `GET /api/v1/points/honour` (viewer): the month's honour roll (光荣榜), per grid the
/// responders ranked by points earned and awarded in that month.
async fn honour(
    State(st): State<AppState>,
    _: Viewer,
    q: Result<Query<HonourQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::Unprocessable(e.body_text()))?;
    let offset = st.reports.utc_offset;
    let (from, to) = match q.month.as_deref() {
        Some(m) => parse_month(m, offset).map_err(ApiError::Unprocessable)?,
        None => month_bounds(now_ms(), offset),
    };
    let month = chrono::DateTime::from_timestamp_millis(from)
        .map(|d| d.with_timezone(&offset).format("%Y-%m").to_string())
        .unwrap_or_default();
    let zone = q.zone_id.filter(|z| !z.trim().is_empty());
    // The roll is of the people the scheme rewards (`points.earning_kinds`, volunteers by
    // default), not of the staff an award may also have gone to.
    let points = st.points.clone();
    let earns = move |kind: &str| {
        crate::domain::ResponderKind::try_from(kind.to_owned()).is_ok_and(|k| points.earns(k))
    };
    let rows = st
        .store
        .points_honour(from, to, zone.as_deref(), earns)
        .await?;
    let mut zones: Vec<Value> = Vec::new();
    let mut rank = 0;
    for (i, l) in rows.iter().enumerate() {
        let first = i == 0 || rows[i - 1].zone_id != l.zone_id;
        if first {
            rank = 0;
            zones.push(json!({"zone_id": l.zone_id, "zone_name": l.zone_name, "volunteers": []}));
        }
        rank += 1;
        let line: &HonourLine = l;
        if let Some(Value::Array(v)) = zones.last_mut().map(|z| &mut z["volunteers"]) {
            v.push(json!({
                "rank": rank,
                "responder_id": line.responder_id,
                "name": line.name,
                "kind": line.kind,
                "points": line.points,
                "earned": line.earned,
                "awarded": line.awarded,
            }));
        }
    }
    Ok(Json(json!({
        "month": month,
        "from": rfc3339(from),
        "to": rfc3339(to),
        "zones": zones,
    })))
}
