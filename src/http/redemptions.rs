//! `/api/v1/redemptions` and settlement: a volunteer redeems points for a merchant's
//! offer from the phone (its MQTT login as HTTP Basic) and gets a one-time code; the
//! merchant's page confirms the code once; each merchant's confirmed redemptions are
//! settled by month as JSON, CSV and XLSX (docs/points.md, "Redemption").

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
use super::auth::{Anyone, Caller, Phone};
use super::error::{ApiError, JsonBody, Path, Query};
use super::page::{key_i64, key_str, Page};
use super::points::may_see_account;
use super::reports::{attachment, csv_attachment};
use super::AppState;
use crate::clock::{now_ms, rfc3339};
use crate::domain::points::parse_month;
use crate::domain::report::parse_bound;
use crate::domain::{Ident, Role};
use crate::store::points::{
    Confirmation, NewRedemption, PointsError, RedemptionQuery, RedemptionRow, SettlementLine,
    CODE_DIGITS,
};

/// Routes of this area.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, redeem))
        .routes(routes!(confirm))
        .routes(routes!(of_responder))
        .routes(routes!(settlement))
        .routes(routes!(settlement_csv))
        .routes(routes!(settlement_xlsx))
}

/// Wrong codes one merchant may try within the failure window before confirmations are
/// locked (30 s, doubling up to 15 min): a real code is given back, so a busy shop is
/// never locked, and guessing 8-digit codes stays hopeless.
const MAX_WRONG_CODES: u32 = 100;
/// Longest `request_id`.
const MAX_REQUEST_ID_CHARS: usize = 100;

/// A redemption.
#[derive(Debug, Serialize, ToSchema)]
struct Redemption {
    /// `rd-…`, also its hold's id.
    id: String,
    /// The one-time code shown at the shop: 8 digits.
    code: String,
    responder_id: String,
    offer_id: String,
    /// The offer's title when redeemed.
    offer_title: String,
    merchant_id: String,
    /// The price when redeemed.
    points: i64,
    /// The phone's idempotency key.
    request_id: String,
    /// pending, confirmed, expired or released.
    state: String,
    /// RFC 3339.
    created_at: String,
    /// When the code lapses, RFC 3339.
    expires_at: String,
    /// When the merchant confirmed it, RFC 3339.
    confirmed_at: Option<String>,
}

impl Redemption {
    fn of(r: &RedemptionRow) -> Redemption {
        Redemption {
            id: r.id.clone(),
            code: r.code.clone(),
            responder_id: r.responder_id.clone(),
            offer_id: r.offer_id.clone(),
            offer_title: r.offer_title.clone(),
            merchant_id: r.merchant_id.clone(),
            points: r.points,
            request_id: r.request_id.clone(),
            state: r.state.clone(),
            created_at: rfc3339(r.created_at),
            expires_at: rfc3339(r.expires_at),
            confirmed_at: r.confirmed_at.map(rfc3339),
        }
    }
}

/// A redemption just confirmed.
#[derive(Debug, Serialize, ToSchema)]
struct ConfirmedRedemption {
    #[serde(flatten)]
    redemption: Redemption,
    /// Always `confirmed`.
    result: &'static str,
}

impl From<PointsError> for ApiError {
    fn from(e: PointsError) -> ApiError {
        match e {
            e @ PointsError::Insufficient { .. } => ApiError::Conflict(e.to_string()),
            PointsError::Store(e) => e.into(),
        }
    }
}

/// Body of `POST /api/v1/redemptions`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct RedeemRequest {
    offer_id: Ident,
    /// 1 to 100 characters, chosen by the phone: the same again is the same redemption.
    request_id: String,
}

/// Redeems points for an offer (the responder's phone).
///
/// The points are reserved and a one-time code comes back.
#[utoipa::path(
    post,
    path = "/api/v1/redemptions",
    tag = "redemptions",
    security(("phone" = [])),
    request_body = RedeemRequest,
    responses(
        (status = 201, description = "Redeemed: the code and when it lapses.", body = Redemption),
        (status = 200, description = "This `request_id` was seen before: the same redemption, \
as it is now.", body = Redemption),
        (status = 409, description = "The offer is inactive, past its date, sold out or over \
its per-person limit; not enough points; or this `request_id` was used for another offer.",
         body = super::openapi::ErrorBody),
    )
)]
async fn redeem(
    State(st): State<AppState>,
    Phone(rid): Phone,
    audit: Audit,
    JsonBody(body): JsonBody<RedeemRequest>,
) -> Result<(StatusCode, Json<Redemption>), ApiError> {
    let request_id = body.request_id.trim();
    if request_id.is_empty() || request_id.chars().count() > MAX_REQUEST_ID_CHARS {
        return Err(ApiError::Unprocessable(format!(
            "request_id: must be 1 to {MAX_REQUEST_ID_CHARS} characters"
        )));
    }
    let valid_secs = i64::try_from(st.points.code_valid_secs).unwrap_or(i64::MAX / 1000);
    let new = NewRedemption {
        responder_id: rid.to_string(),
        offer_id: body.offer_id.to_string(),
        request_id: request_id.to_owned(),
        valid_ms: valid_secs * 1000,
    };
    let (row, created) = st.store.redeem(&new, now_ms()).await?;
    audit.target(row.id.as_str());
    if created {
        // A resent request changed nothing: its entry names the redemption, no "after".
        audit.after(&Redemption::of(&row));
        tracing::info!(redemption = %row.id, responder = %rid, offer = %row.offer_id, points = row.points, "points reserved for a redemption");
    }
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(Redemption::of(&row))))
}

/// The merchant a `merchant`-role caller is bound to; anyone else is 403.
fn own_merchant(caller: &Caller) -> Result<&str, ApiError> {
    match (&caller.role, &caller.merchant_id) {
        (Role::Merchant, Some(m)) => Ok(m),
        _ => Err(ApiError::Forbidden(Role::Merchant.as_str())),
    }
}

/// Confirms a redemption code at the shop (the `merchant` role).
///
/// Its own offers' codes only: the reserved points move to the merchant, once.
#[utoipa::path(
    post,
    path = "/api/v1/redemptions/{code}/confirm",
    tag = "redemptions",
    params(("code" = String, Path, description = "The 8-digit code the volunteer shows")),
    responses(
        (status = 200, description = "Confirmed now.", body = ConfirmedRedemption),
        (status = 403, description = "Not a `merchant` user (every other role is refused).",
         body = super::openapi::ErrorBody),
        (status = 404, description = "An unknown or malformed code, or another merchant's \
(they look the same).", body = super::openapi::ErrorBody),
        (status = 409, description = "The code was confirmed before, or the offer is sold \
out.", body = super::openapi::ErrorBody),
        (status = 410, description = "The code lapsed; its points went back to the volunteer.",
         body = super::openapi::ErrorBody),
        (status = 429, description = "Too many wrong codes from this merchant; see \
Retry-After.", body = super::openapi::ErrorBody),
    )
)]
async fn confirm(
    State(st): State<AppState>,
    Anyone(caller): Anyone,
    audit: Audit,
    Path(code): Path<String>,
) -> Result<Json<ConfirmedRedemption>, ApiError> {
    let merchant = own_merchant(&caller)?.to_owned();
    let keys = [(format!("code:{merchant}"), MAX_WRONG_CODES)];
    st.logins
        .attempt(&keys)
        .map_err(ApiError::TooManyAttempts)?;
    let code = code.trim();
    let well_formed = code.len() == CODE_DIGITS && code.bytes().all(|b| b.is_ascii_digit());
    let outcome = if well_formed {
        st.store
            .confirm_redemption(code, &merchant, &caller.actor(), now_ms())
            .await
    } else {
        Ok(Confirmation::NotFound)
    };
    let outcome = match outcome {
        Ok(o) => o,
        Err(e) => {
            st.logins.refund(&keys);
            return Err(e.into());
        }
    };
    if outcome != Confirmation::NotFound {
        // A real code of this merchant's: not a guess.
        st.logins.refund(&keys);
    }
    match outcome {
        Confirmation::Confirmed { before, after: r } => {
            audit.target(r.id.as_str());
            audit.before(&Redemption::of(&before));
            audit.after(&Redemption::of(&r));
            tracing::info!(redemption = %r.id, %merchant, points = r.points, "redemption confirmed");
            Ok(Json(ConfirmedRedemption {
                redemption: Redemption::of(&r),
                result: "confirmed",
            }))
        }
        Confirmation::AlreadyConfirmed(r) => Err(ApiError::Conflict(format!(
            "code {code} was already used at {}",
            r.confirmed_at.map(rfc3339).unwrap_or_default()
        ))),
        Confirmation::SoldOut(r) => Err(ApiError::Conflict(format!(
            "offer {} is sold out",
            r.offer_id
        ))),
        Confirmation::Gone(r) => Err(ApiError::Gone(format!(
            "code {code} expired at {}; its points went back to the volunteer",
            rfc3339(r.expires_at)
        ))),
        Confirmation::NotFound => Err(ApiError::NotFound(format!("code {code}"))),
    }
}

/// `?state=…&from=…&to=…&limit=…`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    /// pending, confirmed, expired or released.
    state: Option<String>,
    /// On `created_at`: RFC 3339, or `YYYY-MM-DD` (that day's start, at
    /// `reports.utc_offset`).
    from: Option<String>,
    /// RFC 3339 (excluded), or `YYYY-MM-DD` (that day included).
    to: Option<String>,
    /// One merchant's (admins; a merchant user always sees its own only).
    merchant_id: Option<String>,
    /// Redemptions on the page: 1 to 1000, default 200.
    limit: Option<i64>,
    /// `X-Next-Cursor` of the page before.
    cursor: Option<String>,
}

/// The query and its page (default 200, at most 1000 a page).
fn query_of(st: &AppState, q: ListQuery) -> Result<(RedemptionQuery, Page), ApiError> {
    let state = match q.state.as_deref() {
        None | Some("") => None,
        Some(s @ ("pending" | "confirmed" | "expired" | "released")) => Some(s.to_owned()),
        Some(_) => {
            return Err(ApiError::Unprocessable(
                "state: must be pending, confirmed, expired or released".into(),
            ))
        }
    };
    let offset = st.reports.utc_offset;
    if q.limit.is_some_and(|n| !(1..=1000).contains(&n)) {
        return Err(ApiError::Unprocessable("limit: must be 1 to 1000".into()));
    }
    let page = Page::new(q.cursor.as_deref(), q.limit, 200, 1000)?;
    let after = match page.after_key(2)? {
        Some([at, id]) => Some((key_i64(at)?, key_str(id)?.to_owned())),
        _ => None,
    };
    let query = RedemptionQuery {
        merchant_id: q.merchant_id.filter(|m| !m.is_empty()),
        responder_id: None,
        state,
        from: q
            .from
            .as_deref()
            .map(|s| parse_bound("from", s, offset, false))
            .transpose()?,
        to: q
            .to
            .as_deref()
            .map(|s| parse_bound("to", s, offset, true))
            .transpose()?,
        limit: page.fetch(),
        after,
    };
    Ok((query, page))
}

/// The redemptions of a page, with the cursor of the next.
fn redemption_page(page: &Page, rows: Vec<RedemptionRow>) -> Response {
    page.answer(
        rows,
        |r| vec![r.created_at.into(), r.id.clone().into()],
        Redemption::of,
    )
}

/// Redemptions, newest first.
///
/// A merchant user sees its own; admins all (or one merchant's, `merchant_id=`).
#[utoipa::path(
    get,
    path = "/api/v1/redemptions",
    tag = "redemptions",
    params(ListQuery),
    responses((status = 200, description = "A page of redemptions.", body = Vec<Redemption>))
)]
async fn list(
    State(st): State<AppState>,
    Anyone(caller): Anyone,
    q: Result<Query<ListQuery>, ApiError>,
) -> Result<Response, ApiError> {
    let Query(q) = q?;
    let (mut query, page) = query_of(&st, q)?;
    if caller.role == Role::Merchant {
        query.merchant_id = Some(own_merchant(&caller)?.to_owned());
    } else if caller.role < Role::Admin {
        return Err(ApiError::Forbidden(Role::Admin.as_str()));
    }
    let rows = st.store.redemptions(&query).await?;
    Ok(redemption_page(&page, rows))
}

/// A responder's redemptions, newest first: the phone's own, or a viewer's look.
#[utoipa::path(
    get,
    path = "/api/v1/points/accounts/{responder_id}/redemptions",
    tag = "redemptions",
    security(("token" = []), ("session" = []), ("phone" = [])),
    params(
        ("responder_id" = String, Path, description = "The responder; with a phone login, \
its own only (another's is 404)"),
        ListQuery
    ),
    responses((status = 200, description = "A page of redemptions.", body = Vec<Redemption>))
)]
async fn of_responder(
    State(st): State<AppState>,
    Path(rid): Path<String>,
    q: Result<Query<ListQuery>, ApiError>,
    parts: Parts,
) -> Result<Response, ApiError> {
    may_see_account(&parts, &st, &rid).await?;
    let Query(q) = q?;
    let (mut query, page) = query_of(&st, q)?;
    st.store.responder(&rid).await?;
    query.responder_id = Some(rid);
    let rows = st.store.redemptions(&query).await?;
    Ok(redemption_page(&page, rows))
}

/// `?month=YYYY-MM`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct MonthQuery {
    /// `YYYY-MM` at `reports.utc_offset` (required).
    month: Option<String>,
}

/// A merchant's settlement for a month: its redemptions confirmed in that month, per
/// offer.
#[derive(Debug, Serialize, ToSchema)]
struct Settlement {
    merchant_id: String,
    merchant_name: String,
    /// `YYYY-MM`.
    month: String,
    /// The month's start, RFC 3339.
    from: String,
    /// The next month's start (excluded), RFC 3339.
    to: String,
    /// By offer id.
    lines: Vec<OfferSettlement>,
    total_count: i64,
    total_points: i64,
}

/// One offer's confirmed redemptions in a settlement.
#[derive(Debug, Serialize, ToSchema)]
struct OfferSettlement {
    offer_id: String,
    /// The title at redemption (the latest, if it changed).
    offer_title: String,
    /// Confirmed redemptions.
    count: i64,
    /// Their points.
    points: i64,
}

impl OfferSettlement {
    fn of(l: SettlementLine) -> OfferSettlement {
        OfferSettlement {
            offer_id: l.offer_id,
            offer_title: l.offer_title,
            count: l.count,
            points: l.points,
        }
    }
}

async fn compute(
    st: &AppState,
    caller: &Caller,
    id: &str,
    q: Result<Query<MonthQuery>, ApiError>,
) -> Result<Settlement, ApiError> {
    if caller.role == Role::Merchant {
        if caller.merchant_id.as_deref() != Some(id) {
            return Err(ApiError::NotFound(format!("merchant {id}")));
        }
    } else if caller.role < Role::Admin {
        return Err(ApiError::Forbidden(Role::Admin.as_str()));
    }
    let Query(q) = q?;
    let month = q
        .month
        .ok_or_else(|| ApiError::Unprocessable("month: required (YYYY-MM)".into()))?;
    let (from, to) =
        parse_month(month.trim(), st.reports.utc_offset).map_err(ApiError::Unprocessable)?;
    let merchant = st.store.merchant(id).await?;
    let lines: Vec<OfferSettlement> = st
        .store
        .settlement(id, from, to)
        .await?
        .into_iter()
        .map(OfferSettlement::of)
        .collect();
    Ok(Settlement {
        merchant_id: merchant.id,
        merchant_name: merchant.name,
        month: month.trim().to_owned(),
        from: rfc3339(from),
        to: rfc3339(to),
        total_count: lines.iter().map(|l| l.count).sum(),
        total_points: lines.iter().map(|l| l.points).sum(),
        lines,
    })
}

/// A merchant's settlement for a month (that merchant's user, or an admin).
#[utoipa::path(
    get,
    path = "/api/v1/merchants/{id}/settlement",
    tag = "redemptions",
    params(("id" = String, Path, description = "The merchant; to a merchant user, \
another's is 404"), MonthQuery),
    responses((status = 200, description = "The settlement.", body = Settlement))
)]
async fn settlement(
    State(st): State<AppState>,
    Anyone(caller): Anyone,
    Path(id): Path<String>,
    q: Result<Query<MonthQuery>, ApiError>,
) -> Result<Json<Settlement>, ApiError> {
    Ok(Json(compute(&st, &caller, &id, q).await?))
}

/// Header of the CSV and of the XLSX sheet.
const COLUMNS: [&str; 4] = ["offer_id", "offer_title", "count", "points"];

fn file_name(s: &Settlement, ext: &str) -> String {
    format!(
        "settlement-{}-{}.{ext}",
        s.merchant_id
            .replace(|c: char| !c.is_ascii_alphanumeric() && c != '-', "_"),
        s.month
    )
}

/// The lines then a `TOTAL` line.
fn rows(s: &Settlement) -> Vec<(String, String, i64, i64)> {
    s.lines
        .iter()
        .map(|l| (l.offer_id.clone(), l.offer_title.clone(), l.count, l.points))
        .chain(std::iter::once((
            "TOTAL".to_owned(),
            String::new(),
            s.total_count,
            s.total_points,
        )))
        .collect()
}

/// The settlement as CSV: a row per offer, then `TOTAL`.
#[utoipa::path(
    get,
    path = "/api/v1/merchants/{id}/settlement.csv",
    tag = "redemptions",
    params(("id" = String, Path, description = "The merchant; to a merchant user, \
another's is 404"), MonthQuery),
    responses((status = 200, description = "An attachment, `settlement-<id>-<month>.csv`: \
header `offer_id,offer_title,count,points`.", body = String, content_type = "text/csv"))
)]
async fn settlement_csv(
    State(st): State<AppState>,
    Anyone(caller): Anyone,
    Path(id): Path<String>,
    q: Result<Query<MonthQuery>, ApiError>,
) -> Result<Response, ApiError> {
    let s = compute(&st, &caller, &id, q).await?;
    let lines = rows(&s)
        .into_iter()
        .map(|(offer, title, count, points)| [offer, title, count.to_string(), points.to_string()]);
    csv_attachment(COLUMNS, lines, file_name(&s, "csv"))
}

/// Sheet `settlement`: a header row, one row per offer, `TOTAL` last; then the month and
/// merchant below.
fn workbook(s: &Settlement) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    use rust_xlsxwriter::{Format, Workbook};
    let mut wb = Workbook::new();
    let bold = Format::new().set_bold();
    let sheet = wb.add_worksheet();
    sheet.set_name("settlement")?;
    for (col, name) in (0u16..).zip(COLUMNS) {
        sheet.write_string_with_format(0, col, name, &bold)?;
    }
    let lines = rows(s);
    for (row, (offer, title, count, points)) in (1u32..).zip(&lines) {
        sheet.write_string(row, 0, offer)?;
        sheet.write_string(row, 1, title)?;
        // Counts and points stay well under 2^53, where f64 is exact.
        sheet.write_number(row, 2, *count as f64)?;
        sheet.write_number(row, 3, *points as f64)?;
    }
    let below = u32::try_from(lines.len()).unwrap_or(u32::MAX - 4) + 2;
    for (row, (k, v)) in (below..).zip([
        ("merchant", format!("{} {}", s.merchant_id, s.merchant_name)),
        ("month", s.month.clone()),
        ("from", s.from.clone()),
        ("to", s.to.clone()),
    ]) {
        sheet.write_string_with_format(row, 0, k, &bold)?;
        sheet.write_string(row, 1, v)?;
    }
    wb.save_to_buffer()
}

/// The settlement as an Excel workbook (sheet `settlement`).
#[utoipa::path(
    get,
    path = "/api/v1/merchants/{id}/settlement.xlsx",
    tag = "redemptions",
    params(("id" = String, Path, description = "The merchant; to a merchant user, \
another's is 404"), MonthQuery),
    responses((status = 200, description = "An attachment, \
`settlement-<id>-<month>.xlsx`: the CSV's rows (numbers as numbers), then the merchant, \
month, from and to.", body = Vec<u8>,
        content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))
)]
async fn settlement_xlsx(
    State(st): State<AppState>,
    Anyone(caller): Anyone,
    Path(id): Path<String>,
    q: Result<Query<MonthQuery>, ApiError>,
) -> Result<Response, ApiError> {
    let s = compute(&st, &caller, &id, q).await?;
    let name = file_name(&s, "xlsx");
    let body = tokio::task::spawn_blocking(move || workbook(&s))
        .await
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("xlsx writer: {e}")))?
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("xlsx: {e}")))?;
    Ok(attachment(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        name,
        body,
    ))
}
