//! `/api/v1/points/…`: volunteer points (志愿服务积分, docs/points.md). Accounts and their
//! history (viewers, or the responder's own phone with its MQTT login as HTTP Basic), the
//! ledger (viewers), and honour awards (admins; above `points.award_approval_above` a
//! second admin approves, never the proposer).

use axum::extract::State;
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::audit::handle::Audit;
use super::auth::{authorize_parts, phone_login, Admin, Viewer};
use super::error::{ApiError, JsonBody, Path, Query};
use super::page::{key_i64, key_str, Page, PageQuery};
use super::AppState;
use crate::clock::{now_ms, rfc3339};
use crate::domain::points::{month_bounds, parse_month};
use crate::domain::report::parse_bound;
use crate::domain::{Ident, Role};
use crate::store::found;
use crate::store::points::{
    AccountLine, AwardRow, HistoryLine, LedgerQuery, MovementKind, MovementRow, MovementView,
    NewAward, MAX_ACCOUNTS,
};

/// Routes of this area.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(accounts))
        .routes(routes!(account))
        .routes(routes!(history))
        .routes(routes!(ledger))
        .routes(routes!(honour))
        .routes(routes!(awards, propose))
        .routes(routes!(approve))
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

/// A movement's cause. On a history line it carries the cause's details, by its type:
/// `kind` and `title` for an incident, `reason` for an award, `offer_title` and
/// `merchant_id` for a redemption (each `null` when unknown); the ledger gives only
/// `type` and `id`.
#[derive(Debug, Serialize, ToSchema)]
struct PointsCause {
    /// incident, award, redemption or movement.
    #[serde(rename = "type")]
    cause_type: String,
    /// The cause's id.
    id: String,
    /// The incident's kind (an incident on a history line).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    kind: Detail,
    /// The incident's title (an incident on a history line).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    title: Detail,
    /// The award's reason (an award on a history line).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    reason: Detail,
    /// The offer's title (a redemption on a history line).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    offer_title: Detail,
    /// The offer's merchant (a redemption on a history line).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    merchant_id: Detail,
}

/// A cause's detail: absent (`None`) where the cause's type has no such field, `null`
/// (`Some(None)`) where it has one that is unknown.
type Detail = Option<Option<String>>;

/// A movement of points.
#[derive(Debug, Serialize, ToSchema)]
struct PointsMovement {
    /// `pm-…`; also the lot id of the points it issued.
    id: String,
    idempotency_key: String,
    /// earn, award, expire, reserve, release, redeem or correct.
    kind: String,
    points: i64,
    /// RFC 3339.
    at: String,
    /// Who or what moved them.
    actor: String,
    note: Option<String>,
    cause: PointsCause,
}

impl PointsMovement {
    fn of(m: &MovementRow) -> PointsMovement {
        PointsMovement {
            id: m.id.clone(),
            idempotency_key: m.idempotency_key.clone(),
            kind: m.kind.clone(),
            points: m.points,
            at: rfc3339(m.at),
            actor: m.actor.clone(),
            note: m.note.clone(),
            cause: PointsCause {
                cause_type: m.cause_type.clone(),
                id: m.cause_id.clone(),
                kind: None,
                title: None,
                reason: None,
                offer_title: None,
                merchant_id: None,
            },
        }
    }
}

/// A line of a responder's history: a movement and what it did to the account.
#[derive(Debug, Serialize, ToSchema)]
struct PointsHistoryLine {
    #[serde(flatten)]
    movement: PointsMovement,
    /// What it did to the spendable balance.
    change: i64,
    /// What it did to the reserved points.
    reserved_change: i64,
}

impl PointsHistoryLine {
    fn of(h: &HistoryLine) -> PointsHistoryLine {
        let mut movement = PointsMovement::of(&h.movement);
        let cause = &mut movement.cause;
        match h.movement.cause_type.as_str() {
            "incident" => {
                cause.kind = Some(h.incident_kind.clone());
                cause.title = Some(h.incident_title.clone());
            }
            "award" => cause.reason = Some(h.award_reason.clone()),
            "redemption" => {
                cause.offer_title = Some(h.redemption_offer.clone());
                cause.merchant_id = Some(h.redemption_merchant.clone());
            }
            _ => {}
        }
        PointsHistoryLine {
            movement,
            change: h.change,
            reserved_change: h.reserved_change,
        }
    }
}

/// A line of the ledger: a movement with its entries (they sum to 0).
#[derive(Debug, Serialize, ToSchema)]
struct LedgerLine {
    #[serde(flatten)]
    movement: PointsMovement,
    entries: Vec<LedgerEntry>,
}

/// One entry of a movement.
#[derive(Debug, Serialize, ToSchema)]
struct LedgerEntry {
    /// `responder:<id>`, `reserved:<id>`, `county`, `merchant:<id>` or `expiry`.
    account: String,
    /// + in, − out.
    amount: i64,
    /// The movement that issued these points.
    lot_id: String,
    /// When that lot expires, RFC 3339.
    lot_expires_at: String,
}

impl LedgerLine {
    fn of(m: &MovementView) -> LedgerLine {
        LedgerLine {
            movement: PointsMovement::of(&m.movement),
            entries: m
                .entries
                .iter()
                .map(|e| LedgerEntry {
                    account: e.account.clone(),
                    amount: e.amount,
                    lot_id: e.lot_id.clone(),
                    lot_expires_at: rfc3339(e.lot_expires_at),
                })
                .collect(),
        }
    }
}

/// An honour award.
#[derive(Debug, Serialize, ToSchema)]
struct Award {
    /// `aw-…`.
    id: String,
    responder_id: String,
    points: i64,
    reason: String,
    /// pending or approved.
    state: String,
    /// The proposing admin (`<role>:<name>`).
    proposed_by: String,
    /// RFC 3339.
    proposed_at: String,
    /// The approving admin (the proposer, when no second approval was needed).
    approved_by: Option<String>,
    /// RFC 3339.
    approved_at: Option<String>,
    /// The credit's movement, once approved.
    movement_id: Option<String>,
}

impl Award {
    fn of(a: &AwardRow) -> Award {
        Award {
            id: a.id.clone(),
            responder_id: a.responder_id.clone(),
            points: a.points,
            reason: a.reason.clone(),
            state: a.state.clone(),
            proposed_by: a.proposed_by.clone(),
            proposed_at: rfc3339(a.proposed_at),
            approved_by: a.approved_by.clone(),
            approved_at: a.approved_at.map(rfc3339),
            movement_id: a.movement_id.clone(),
        }
    }
}

/// A responder's points.
#[derive(Debug, Serialize, ToSchema)]
struct PointsAccount {
    responder_id: String,
    /// Spendable now (reserved points not included).
    balance: i64,
    /// Held for redemptions not yet confirmed or released.
    reserved: i64,
    earned_total: i64,
    awarded_total: i64,
    redeemed_total: i64,
    expired_total: i64,
    /// Spendable points that expire within 90 days.
    expiring_soon: i64,
    /// When the soonest spendable points expire, RFC 3339.
    next_expiry_at: Option<String>,
}

/// One responder's points in the list of all.
#[derive(Debug, Serialize, ToSchema)]
struct PointsAccountLine {
    responder_id: String,
    name: String,
    kind: String,
    zone_id: Option<String>,
    balance: i64,
    reserved: i64,
    earned_total: i64,
    awarded_total: i64,
}

impl PointsAccountLine {
    fn of(a: &AccountLine) -> PointsAccountLine {
        PointsAccountLine {
            responder_id: a.responder_id.clone(),
            name: a.name.clone(),
            kind: a.kind.clone(),
            zone_id: a.zone_id.clone(),
            balance: a.balance,
            reserved: a.reserved,
            earned_total: a.earned_total,
            awarded_total: a.awarded_total,
        }
    }
}

/// A month's honour roll.
#[derive(Debug, Serialize, ToSchema)]
struct HonourRoll {
    /// `YYYY-MM`.
    month: String,
    /// The month's start, RFC 3339.
    from: String,
    /// The next month's start (excluded), RFC 3339.
    to: String,
    /// By grid; those in none (`zone_id` null) last.
    zones: Vec<HonourZone>,
}

/// One grid's part of the honour roll.
#[derive(Debug, Serialize, ToSchema)]
struct HonourZone {
    zone_id: Option<String>,
    zone_name: Option<String>,
    /// Most points first, then by id.
    volunteers: Vec<HonourVolunteer>,
}

/// A volunteer on the honour roll.
#[derive(Debug, Serialize, ToSchema)]
struct HonourVolunteer {
    /// 1 for the first of the grid.
    rank: u32,
    responder_id: String,
    name: String,
    kind: String,
    /// `earned` + `awarded`.
    points: i64,
    earned: i64,
    awarded: i64,
}

/// A responder's points.
#[utoipa::path(
    get,
    path = "/api/v1/points/accounts/{responder_id}",
    tag = "points",
    security(("token" = []), ("session" = []), ("phone" = [])),
    params(("responder_id" = String, Path, description = "The responder; with a phone \
login, its own only (another's is 404)")),
    responses((status = 200, description = "The account.", body = PointsAccount))
)]
async fn account(
    State(st): State<AppState>,
    Path(rid): Path<String>,
    parts: Parts,
) -> Result<Json<PointsAccount>, ApiError> {
    may_see_account(&parts, &st, &rid).await?;
    st.store.responder(&rid).await?;
    let now = now_ms();
    let a = st.store.points_account(&rid, now).await?;
    Ok(Json(PointsAccount {
        responder_id: a.responder_id,
        balance: a.balance,
        reserved: a.reserved,
        earned_total: a.earned_total,
        awarded_total: a.awarded_total,
        redeemed_total: a.redeemed_total,
        expired_total: a.expired_total,
        expiring_soon: a.expiring_soon,
        next_expiry_at: a.next_expiry_at.map(rfc3339),
    }))
}

/// `?limit=` (1..=500, default 100).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct HistoryQuery {
    /// Lines on the page: 1 to 500, default 100.
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

/// A responder's history: newest first, each line with its cause.
#[utoipa::path(
    get,
    path = "/api/v1/points/accounts/{responder_id}/history",
    tag = "points",
    security(("token" = []), ("session" = []), ("phone" = [])),
    params(
        ("responder_id" = String, Path, description = "The responder; with a phone login, \
its own only (another's is 404)"),
        HistoryQuery
    ),
    responses((status = 200, description = "A page of the history.",
        body = Vec<PointsHistoryLine>))
)]
async fn history(
    State(st): State<AppState>,
    Path(rid): Path<String>,
    q: Result<Query<HistoryQuery>, ApiError>,
    parts: Parts,
) -> Result<Response, ApiError> {
    may_see_account(&parts, &st, &rid).await?;
    let Query(q) = q?;
    let (page, after) = movement_page(q.cursor.as_deref(), q.limit)?;
    st.store.responder(&rid).await?;
    let after = after.as_ref().map(|(at, id)| (*at, id.as_str()));
    let lines = st.store.points_history(&rid, after, page.fetch()).await?;
    let key = |l: &HistoryLine| vec![l.movement.at.into(), l.movement.id.clone().into()];
    Ok(page.answer(lines, key, PointsHistoryLine::of))
}

/// `?account=…&from=…&to=…&kind=…&limit=…`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct LedgerParams {
    /// Movements with an entry on this account (`responder:<id>`, `reserved:<id>`,
    /// `county`, `merchant:<id>`, `expiry`).
    account: Option<String>,
    /// RFC 3339, or `YYYY-MM-DD` (that day's start, at `reports.utc_offset`).
    from: Option<String>,
    /// RFC 3339 (excluded), or `YYYY-MM-DD` (that day included).
    to: Option<String>,
    /// One movement kind: earn, award, expire, reserve, release, redeem or correct.
    kind: Option<String>,
    /// Movements on the page: 1 to 500, default 100.
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

/// The ledger: movements with their entries and cause, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/points/ledger",
    tag = "points",
    params(LedgerParams),
    responses((status = 200, description = "A page of movements.", body = Vec<LedgerLine>))
)]
async fn ledger(
    State(st): State<AppState>,
    _: Viewer,
    q: Result<Query<LedgerParams>, ApiError>,
) -> Result<Response, ApiError> {
    let Query(q) = q?;
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
    let key = |m: &MovementView| vec![m.movement.at.into(), m.movement.id.clone().into()];
    Ok(page.answer(moves, key, LedgerLine::of))
}

/// Body of `POST /api/v1/points/awards`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct AwardProposal {
    responder_id: Ident,
    /// 1 to 1000000.
    points: i64,
    /// 1 to 500 characters.
    reason: String,
}

/// Proposes an honour award (admin).
///
/// Credited at once while the proposer's lone awards of the last 24 hours stay within
/// `points.award_approval_above`, else pending until another admin approves. No
/// idempotency key: the same body twice is two awards.
#[utoipa::path(
    post,
    path = "/api/v1/points/awards",
    tag = "points",
    request_body = AwardProposal,
    responses((status = 201, description = "The award, approved or pending.", body = Award))
)]
async fn propose(
    State(st): State<AppState>,
    Admin(caller): Admin,
    audit: Audit,
    JsonBody(body): JsonBody<AwardProposal>,
) -> Result<(StatusCode, Json<Award>), ApiError> {
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
    let award = Award::of(&row);
    audit.target(award.id.as_str());
    audit.after(&award);
    Ok((StatusCode::CREATED, Json(award)))
}

/// Approves a pending award (an admin other than its proposer) and credits it.
#[utoipa::path(
    post,
    path = "/api/v1/points/awards/{id}/approve",
    tag = "points",
    params(("id" = String, Path, description = "The award (`aw-…`)")),
    responses(
        (status = 200, description = "The award, approved and credited.", body = Award),
        (status = 403, description = "Not an admin, or the award's own proposer.",
         body = super::openapi::ErrorBody),
        (status = 409, description = "Already approved.", body = super::openapi::ErrorBody),
    )
)]
async fn approve(
    State(st): State<AppState>,
    Admin(caller): Admin,
    audit: Audit,
    Path(id): Path<String>,
) -> Result<Json<Award>, ApiError> {
    if let Some(old) = found(st.store.award(&id).await)? {
        audit.before(&Award::of(&old));
    }
    match st
        .store
        .approve_award(&id, &caller.actor(), &st.points, now_ms())
        .await?
    {
        Ok(row) => {
            let award = Award::of(&row);
            audit.after(&award);
            Ok(Json(award))
        }
        Err(_) => Err(ApiError::Refused(format!(
            "award {id} was proposed by you; another admin must approve it"
        ))),
    }
}

/// `?state=pending|approved`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct AwardsQuery {
    /// pending or approved; both when absent.
    state: Option<String>,
    /// Awards on the page: default and most 1000.
    limit: Option<i64>,
    /// `X-Next-Cursor` of the page before.
    cursor: Option<String>,
}

/// Honour awards, newest first.
///
/// Viewer: the console shows them to every role; only admins propose and approve.
#[utoipa::path(
    get,
    path = "/api/v1/points/awards",
    tag = "points",
    params(AwardsQuery),
    responses((status = 200, description = "A page of awards.", body = Vec<Award>))
)]
async fn awards(
    State(st): State<AppState>,
    _: Viewer,
    q: Result<Query<AwardsQuery>, ApiError>,
) -> Result<Response, ApiError> {
    let Query(q) = q?;
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
    Ok(page.answer(rows, key, Award::of))
}

/// Every responder's points, by id (viewer).
#[utoipa::path(
    get,
    path = "/api/v1/points/accounts",
    tag = "points",
    params(PageQuery),
    responses((status = 200, description = "A page of accounts (5000 a page).",
        body = Vec<PointsAccountLine>))
)]
async fn accounts(
    State(st): State<AppState>,
    _: Viewer,
    q: Result<Query<PageQuery>, ApiError>,
) -> Result<Response, ApiError> {
    let Query(q) = q?;
    let page = Page::new(q.cursor.as_deref(), q.limit, MAX_ACCOUNTS, MAX_ACCOUNTS)?;
    let after = match page.after_key(1)? {
        Some([id]) => Some(key_str(id)?),
        _ => None,
    };
    let rows = st.store.points_accounts(after, page.fetch()).await?;
    let key = |a: &AccountLine| vec![a.responder_id.clone().into()];
    Ok(page.answer(rows, key, PointsAccountLine::of))
}

/// `?month=YYYY-MM&zone_id=…`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct HonourQuery {
    /// `YYYY-MM` at `reports.utc_offset`; this month when absent.
    month: Option<String>,
    /// One grid only.
    zone_id: Option<String>,
}

/// The month's honour roll (光荣榜).
///
/// Per grid, the responders of an earning kind ranked by the points earned and awarded
/// in that month (viewer).
#[utoipa::path(
    get,
    path = "/api/v1/points/honour",
    tag = "points",
    params(HonourQuery),
    responses((status = 200, description = "The honour roll.", body = HonourRoll))
)]
async fn honour(
    State(st): State<AppState>,
    _: Viewer,
    q: Result<Query<HonourQuery>, ApiError>,
) -> Result<Json<HonourRoll>, ApiError> {
    let Query(q) = q?;
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
    // The rows come by grid, ranked within it.
    let mut zones: Vec<HonourZone> = Vec::new();
    for l in rows {
        let same = zones.last().is_some_and(|z| z.zone_id == l.zone_id);
        if !same {
            zones.push(HonourZone {
                zone_id: l.zone_id.clone(),
                zone_name: l.zone_name.clone(),
                volunteers: Vec::new(),
            });
        }
        if let Some(z) = zones.last_mut() {
            let rank = u32::try_from(z.volunteers.len()).unwrap_or(u32::MAX - 1) + 1;
            z.volunteers.push(HonourVolunteer {
                rank,
                responder_id: l.responder_id,
                name: l.name,
                kind: l.kind,
                points: l.points,
                earned: l.earned,
                awarded: l.awarded,
            });
        }
    }
    Ok(Json(HonourRoll {
        month,
        from: rfc3339(from),
        to: rfc3339(to),
        zones,
    }))
}
