//! `/api/v1/merchants` and `/api/v1/offers`: 喜邻 partner merchants and grid stations
//! (网格驿站), their offers, and the `merchant` login each one gets (shown once).
//!
//! Who sees what: admins manage everything; viewers (and a worker's MQTT login sent as
//! HTTP Basic, as the field app does) list merchants and the offers on sale; a `merchant`
//! user sees only its own merchant and offers, and any other merchant is 404 to it, as a
//! missing one would be.

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
use super::auth::{authenticate, phone_login, Admin, Anyone, Caller};
use super::error::{ApiError, JsonBody, Path, Query};
use super::page::PageQuery;
use super::{rfc3339, AppState};
use crate::domain::merchants as rules;
use crate::domain::{Ident, LatLon, Role};
use crate::store::{
    found, new_secret, now_ms, MerchantError, MerchantRow, NewMerchant, NewOffer, OfferRow,
};

/// Routes of this area.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(one, update, remove))
        .routes(routes!(list_offers, create_offer))
        .routes(routes!(one_offer, update_offer, remove_offer))
        .routes(routes!(available))
}

/// Characters of a generated merchant password (about 96 bits; short enough to type on
/// a phone once).
const PASSWORD_CHARS: usize = 16;

/// Body of `POST /api/v1/merchants`; `PUT` takes the same without `id` (or with the
/// path's).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct MerchantInput {
    /// Required on `POST`; on `PUT`, if given, the path's.
    id: Option<Ident>,
    /// 1 to 200 characters.
    name: String,
    /// 1 to 300 characters.
    address: String,
    /// −90 to 90 (WGS-84).
    lat: f64,
    /// −180 to 180 (WGS-84).
    lon: f64,
    /// Also a grid station (网格驿站); default false.
    station: Option<bool>,
    /// Opening hours, free text up to 100 characters (`08:00-21:00`).
    hours: Option<String>,
}

impl MerchantInput {
    fn checked(self, id: Ident) -> Result<NewMerchant, ApiError> {
        let at = LatLon::new(self.lat, self.lon)?;
        Ok(NewMerchant {
            id: id.to_string(),
            name: rules::text("name", &self.name, rules::TITLE_MAX_CHARS)?,
            address: rules::text("address", &self.address, rules::ADDRESS_MAX_CHARS)?,
            lat: at.lat,
            lon: at.lon,
            station: self.station.unwrap_or(false),
            hours: rules::hours(self.hours.as_deref())?,
        })
    }
}

/// Body of `POST /api/v1/merchants/{id}/offers`; `PUT` takes the same without `id`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct OfferInput {
    /// Required on `POST`, unique across merchants; on `PUT`, if given, the path's.
    id: Option<Ident>,
    /// 1 to 200 characters.
    title: String,
    /// The price: 1 to 100000 points.
    points: i64,
    /// 0 to 1000000; absent is unlimited.
    stock: Option<i64>,
    /// 1 to 1000; absent is no limit.
    per_person_limit: Option<i64>,
    /// RFC 3339.
    valid_until: Option<String>,
    /// Offered now; default true.
    active: Option<bool>,
}

impl OfferInput {
    fn checked(self, merchant_id: &str, id: Ident) -> Result<NewOffer, ApiError> {
        Ok(NewOffer {
            id: id.to_string(),
            merchant_id: merchant_id.to_owned(),
            title: rules::text("title", &self.title, rules::TITLE_MAX_CHARS)?,
            points: rules::points(self.points)?,
            stock: rules::stock(self.stock)?,
            per_person_limit: rules::per_person_limit(self.per_person_limit)?,
            valid_until: rules::valid_until(self.valid_until.as_deref())?,
            active: self.active.unwrap_or(true),
        })
    }
}

/// A merchant (or grid station).
#[derive(Debug, Serialize, ToSchema)]
struct Merchant {
    id: String,
    name: String,
    address: String,
    lat: f64,
    lon: f64,
    /// Also a grid station (网格驿站).
    station: bool,
    /// Opening hours, free text.
    hours: Option<String>,
    /// How many active offers it has.
    offers: i64,
    /// RFC 3339.
    created_at: String,
    /// RFC 3339.
    updated_at: String,
}

impl Merchant {
    fn of(m: &MerchantRow) -> Merchant {
        Merchant {
            id: m.id.clone(),
            name: m.name.clone(),
            address: m.address.clone(),
            lat: m.lat,
            lon: m.lon,
            station: m.station,
            hours: m.hours.clone(),
            offers: m.offers,
            created_at: rfc3339(m.created_at),
            updated_at: rfc3339(m.updated_at),
        }
    }
}

/// A merchant just registered, with its login (shown this once).
#[derive(Debug, Serialize, ToSchema)]
struct MerchantCreated {
    #[serde(flatten)]
    merchant: Merchant,
    login: MerchantLogin,
}

/// The `merchant` user made with a merchant.
#[derive(Debug, Serialize, ToSchema)]
struct MerchantLogin {
    /// `merchant.<id>` (`:` in the id becomes `_`).
    username: String,
    /// Generated; not stored in the clear, not shown again.
    password: String,
}

/// An offer.
#[derive(Debug, Serialize, ToSchema)]
struct Offer {
    id: String,
    merchant_id: String,
    title: String,
    /// The price in points.
    points: i64,
    /// Left in stock; null is unlimited.
    stock: Option<i64>,
    /// Most one person may redeem; null is no limit.
    per_person_limit: Option<i64>,
    /// RFC 3339; null is no end.
    valid_until: Option<String>,
    /// Offered now.
    active: bool,
}

impl Offer {
    fn of(o: &OfferRow) -> Offer {
        Offer {
            id: o.id.clone(),
            merchant_id: o.merchant_id.clone(),
            title: o.title.clone(),
            points: o.points,
            stock: o.stock,
            per_person_limit: o.per_person_limit,
            valid_until: o.valid_until.map(rfc3339),
            active: o.active,
        }
    }
}

/// An offer on sale, with its merchant and how far it is.
#[derive(Debug, Serialize, ToSchema)]
struct OfferOnSale {
    #[serde(flatten)]
    offer: Offer,
    merchant: OfferMerchant,
    /// Metres from the position asked about, rounded; null without one.
    distance_m: Option<f64>,
}

/// The merchant of an offer on sale.
#[derive(Debug, Serialize, ToSchema)]
struct OfferMerchant {
    id: String,
    name: String,
    address: String,
    lat: f64,
    lon: f64,
    station: bool,
    hours: Option<String>,
}

impl From<MerchantError> for ApiError {
    fn from(e: MerchantError) -> ApiError {
        match e {
            MerchantError::Invalid(e) => e.into(),
            MerchantError::Store(e) => e.into(),
            MerchantError::Hash(e) => ApiError::Internal(e),
        }
    }
}

/// `id` in a path, parsed like every id (422 when it could never name anything).
fn path_id(id: &str) -> Result<Ident, ApiError> {
    Ok(Ident::parse(id)?)
}

/// A body's `id`, when given, must be the path's.
fn same_id(body: Option<&Ident>, path: &Ident) -> Result<(), ApiError> {
    match body {
        Some(b) if b != path => Err(ApiError::Unprocessable(format!(
            "id: {b} differs from the path's {path}"
        ))),
        _ => Ok(()),
    }
}

/// Viewers and admins see merchant `id`; a merchant user only its own (404 for others).
fn may_see(caller: &Caller, id: &str) -> Result<(), ApiError> {
    if caller.role >= Role::Viewer || caller.merchant_id.as_deref() == Some(id) {
        Ok(())
    } else if caller.role == Role::Merchant {
        Err(ApiError::NotFound(format!("merchant {id}")))
    } else {
        Err(ApiError::Forbidden(Role::Viewer.as_str()))
    }
}

/// Viewers and up, or a responder's MQTT login sent as HTTP Basic (the field app holds
/// no console session), checked as every phone login is: counted against the username's
/// failures, and a source's login answered as a wrong one (401).
async fn viewer_or_worker(parts: &Parts, st: &AppState) -> Result<Option<Caller>, ApiError> {
    match phone_login(parts, st).await? {
        Some(_) => Ok(None),
        None => authenticate(parts, st).await.map(Some),
    }
}

/// Registers a merchant (admin).
///
/// Its `merchant` user is made with it; the generated password is shown this once.
#[utoipa::path(
    post,
    path = "/api/v1/merchants",
    tag = "merchants",
    request_body = MerchantInput,
    responses(
        (status = 201, description = "The merchant and its login.", body = MerchantCreated),
        (status = 409, description = "The id or the username is taken.",
         body = super::openapi::ErrorBody),
    )
)]
async fn create(
    Admin(caller): Admin,
    State(st): State<AppState>,
    audit: Audit,
    JsonBody(body): JsonBody<MerchantInput>,
) -> Result<(StatusCode, Json<MerchantCreated>), ApiError> {
    let id = body
        .id
        .clone()
        .ok_or_else(|| ApiError::Unprocessable("id: required".into()))?;
    let new = body.checked(id)?;
    audit.target(new.id.as_str());
    // Ids may hold ':' and usernames may not.
    let username = format!("merchant.{}", new.id.replace(':', "_"));
    let password: String = new_secret().chars().take(PASSWORD_CHARS).collect();
    let row = st.store.create_merchant(&new, &username, &password).await?;
    tracing::info!(merchant = %row.id, %username, by = %caller.actor(), "merchant registered");
    let merchant = Merchant::of(&row);
    // The merchant alone: its login's password must not reach the log.
    audit.after(&merchant);
    Ok((
        StatusCode::CREATED,
        Json(MerchantCreated {
            merchant,
            login: MerchantLogin { username, password },
        }),
    ))
}

/// The merchants, by id.
///
/// Viewers, or a responder's phone; a merchant user gets only its own.
#[utoipa::path(
    get,
    path = "/api/v1/merchants",
    tag = "merchants",
    security(("token" = []), ("session" = []), ("phone" = [])),
    params(PageQuery),
    responses((status = 200, description = "A page of merchants (5000 a page).",
        body = Vec<Merchant>))
)]
async fn list(
    State(st): State<AppState>,
    q: Result<Query<PageQuery>, ApiError>,
    parts: Parts,
) -> Result<Response, ApiError> {
    let caller = viewer_or_worker(&parts, &st).await?;
    let Query(q) = q?;
    let page = q.whole_list()?;
    let all = st.store.merchants().await?;
    // A merchant user is the only caller below viewer: it sees its own merchant alone.
    let shown: Vec<_> = all
        .into_iter()
        .filter(|m| match &caller {
            Some(c) if c.role < Role::Viewer => c.merchant_id.as_deref() == Some(m.id.as_str()),
            _ => true,
        })
        .collect();
    page.answer_sorted(shown, |m| m.id.as_str(), Merchant::of)
}

/// One merchant (viewer, or that merchant's user; another merchant is 404 to it).
#[utoipa::path(
    get,
    path = "/api/v1/merchants/{id}",
    tag = "merchants",
    params(("id" = String, Path, description = "The merchant")),
    responses((status = 200, description = "The merchant.", body = Merchant))
)]
async fn one(
    Anyone(caller): Anyone,
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Merchant>, ApiError> {
    may_see(&caller, &id)?;
    Ok(Json(Merchant::of(&st.store.merchant(&id).await?)))
}

/// Changes a merchant (admin).
#[utoipa::path(
    put,
    path = "/api/v1/merchants/{id}",
    tag = "merchants",
    params(("id" = String, Path, description = "The merchant")),
    request_body = MerchantInput,
    responses(
        (status = 200, description = "The merchant as changed.", body = Merchant),
        (status = 409, description = "`station: false` while responders are based there.",
         body = super::openapi::ErrorBody),
    )
)]
async fn update(
    Admin(caller): Admin,
    State(st): State<AppState>,
    audit: Audit,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<MerchantInput>,
) -> Result<Json<Merchant>, ApiError> {
    let id = path_id(&id)?;
    same_id(body.id.as_ref(), &id)?;
    let new = body.checked(id)?;
    if let Some(old) = found(st.store.merchant(&new.id).await)? {
        audit.before(&Merchant::of(&old));
    }
    let row = st.store.update_merchant(&new).await?;
    tracing::info!(merchant = %row.id, by = %caller.actor(), "merchant changed");
    let merchant = Merchant::of(&row);
    audit.after(&merchant);
    Ok(Json(merchant))
}

/// Deletes a merchant (admin).
///
/// Its offers and its `merchant` user go with it; its redemptions and ledger account
/// stay.
#[utoipa::path(
    delete,
    path = "/api/v1/merchants/{id}",
    tag = "merchants",
    params(("id" = String, Path, description = "The merchant")),
    responses((status = 204, description = "Deleted."))
)]
async fn remove(
    Admin(caller): Admin,
    State(st): State<AppState>,
    audit: Audit,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    if let Some(old) = found(st.store.merchant(&id).await)? {
        audit.before(&Merchant::of(&old));
    }
    st.store.delete_merchant(&id).await?;
    tracing::info!(merchant = %id, by = %caller.actor(), "merchant deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// A merchant's offers by id, inactive ones too (viewer, or that merchant's user).
#[utoipa::path(
    get,
    path = "/api/v1/merchants/{id}/offers",
    tag = "merchants",
    params(("id" = String, Path, description = "The merchant"), PageQuery),
    responses((status = 200, description = "A page of offers (5000 a page).",
        body = Vec<Offer>))
)]
async fn list_offers(
    Anyone(caller): Anyone,
    State(st): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<PageQuery>,
) -> Result<Response, ApiError> {
    may_see(&caller, &id)?;
    let page = q.whole_list()?;
    // 404 for an unknown merchant rather than an empty list.
    st.store.merchant(&id).await?;
    let offers = st.store.offers_of(&id).await?;
    page.answer_sorted(offers, |o| o.id.as_str(), Offer::of)
}

/// One offer (viewer, or that merchant's user).
#[utoipa::path(
    get,
    path = "/api/v1/merchants/{id}/offers/{offer_id}",
    tag = "merchants",
    params(
        ("id" = String, Path, description = "The merchant"),
        ("offer_id" = String, Path, description = "The offer"),
    ),
    responses((status = 200, description = "The offer.", body = Offer))
)]
async fn one_offer(
    Anyone(caller): Anyone,
    State(st): State<AppState>,
    Path((id, offer_id)): Path<(String, String)>,
) -> Result<Json<Offer>, ApiError> {
    may_see(&caller, &id)?;
    Ok(Json(Offer::of(&st.store.offer(&id, &offer_id).await?)))
}

/// Adds an offer to a merchant (admin).
#[utoipa::path(
    post,
    path = "/api/v1/merchants/{id}/offers",
    tag = "merchants",
    params(("id" = String, Path, description = "The merchant")),
    request_body = OfferInput,
    responses(
        (status = 201, description = "The offer.", body = Offer),
        (status = 409, description = "The offer id is taken (by any merchant).",
         body = super::openapi::ErrorBody),
    )
)]
async fn create_offer(
    Admin(caller): Admin,
    State(st): State<AppState>,
    audit: Audit,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<OfferInput>,
) -> Result<(StatusCode, Json<Offer>), ApiError> {
    let offer_id = body
        .id
        .clone()
        .ok_or_else(|| ApiError::Unprocessable("id: required".into()))?;
    audit.target(offer_id.as_str());
    let new = body.checked(&id, offer_id)?;
    let row = st.store.create_offer(&new).await?;
    tracing::info!(merchant = %id, offer = %row.id, by = %caller.actor(), "offer added");
    let offer = Offer::of(&row);
    audit.after(&offer);
    Ok((StatusCode::CREATED, Json(offer)))
}

/// Changes an offer (admin).
#[utoipa::path(
    put,
    path = "/api/v1/merchants/{id}/offers/{offer_id}",
    tag = "merchants",
    params(
        ("id" = String, Path, description = "The merchant"),
        ("offer_id" = String, Path, description = "The offer"),
    ),
    request_body = OfferInput,
    responses((status = 200, description = "The offer as changed.", body = Offer))
)]
async fn update_offer(
    Admin(caller): Admin,
    State(st): State<AppState>,
    audit: Audit,
    Path((id, offer_id)): Path<(String, String)>,
    JsonBody(body): JsonBody<OfferInput>,
) -> Result<Json<Offer>, ApiError> {
    let offer_id = path_id(&offer_id)?;
    same_id(body.id.as_ref(), &offer_id)?;
    let new = body.checked(&id, offer_id)?;
    if let Some(old) = found(st.store.offer(&id, &new.id).await)? {
        audit.before(&Offer::of(&old));
    }
    let row = st.store.update_offer(&new).await?;
    tracing::info!(merchant = %id, offer = %row.id, by = %caller.actor(), "offer changed");
    let offer = Offer::of(&row);
    audit.after(&offer);
    Ok(Json(offer))
}

/// Deletes an offer (admin).
#[utoipa::path(
    delete,
    path = "/api/v1/merchants/{id}/offers/{offer_id}",
    tag = "merchants",
    params(
        ("id" = String, Path, description = "The merchant"),
        ("offer_id" = String, Path, description = "The offer"),
    ),
    responses((status = 204, description = "Deleted."))
)]
async fn remove_offer(
    Admin(caller): Admin,
    State(st): State<AppState>,
    audit: Audit,
    Path((id, offer_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    if let Some(old) = found(st.store.offer(&id, &offer_id).await)? {
        audit.before(&Offer::of(&old));
    }
    st.store.delete_offer(&id, &offer_id).await?;
    tracing::info!(merchant = %id, offer = %offer_id, by = %caller.actor(), "offer deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// Query of `GET /api/v1/offers`: a position (both or neither) and a `limit`. Read as
/// text, so a bad number gets a 422 that names the parameter.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct OffersQuery {
    /// Latitude of the position to measure from (with `lon`).
    #[param(value_type = Option<f64>)]
    lat: Option<String>,
    /// Longitude of the position to measure from (with `lat`).
    #[param(value_type = Option<f64>)]
    lon: Option<String>,
    /// Offers listed: 1 to 200, default 50.
    #[param(value_type = Option<i64>)]
    limit: Option<String>,
}

fn number<T: std::str::FromStr>(field: &str, v: Option<&str>) -> Result<Option<T>, ApiError> {
    v.map(|s| {
        s.trim()
            .parse::<T>()
            .map_err(|_| ApiError::Unprocessable(format!("{field}: not a number: {s:?}")))
    })
    .transpose()
}

/// The offers on sale now (active, in stock, still valid), nearest first.
///
/// Each with its merchant and `distance_m` from the position; without a position, by
/// merchant and offer id. Viewers, or a responder's phone; a merchant user is refused.
#[utoipa::path(
    get,
    path = "/api/v1/offers",
    tag = "merchants",
    security(("token" = []), ("session" = []), ("phone" = [])),
    params(OffersQuery),
    responses((status = 200, description = "The offers (not paged: `limit` bounds them).",
        body = Vec<OfferOnSale>))
)]
async fn available(
    State(st): State<AppState>,
    Query(q): Query<OffersQuery>,
    parts: Parts,
) -> Result<Json<Vec<OfferOnSale>>, ApiError> {
    if let Some(c) = viewer_or_worker(&parts, &st).await? {
        if c.role < Role::Viewer {
            return Err(ApiError::Forbidden(Role::Viewer.as_str()));
        }
    }
    let lat = number::<f64>("lat", q.lat.as_deref())?;
    let lon = number::<f64>("lon", q.lon.as_deref())?;
    let from = match (lat, lon) {
        (Some(lat), Some(lon)) => Some(LatLon::new(lat, lon)?),
        (None, None) => None,
        _ => {
            return Err(ApiError::Unprocessable(
                "lat, lon: give both or neither".into(),
            ))
        }
    };
    let limit = rules::offers_limit(number::<i64>("limit", q.limit.as_deref())?)?;
    let items = st
        .store
        .available_offers(now_ms())
        .await?
        .into_iter()
        .map(|(o, m)| {
            let at = LatLon {
                lat: m.lat,
                lon: m.lon,
            };
            ((o, m), at)
        })
        .collect();
    let listed = rules::nearest_first(from, items, limit)
        .into_iter()
        .map(|((o, m), d)| OfferOnSale {
            offer: Offer::of(&o),
            merchant: OfferMerchant {
                id: m.id,
                name: m.name,
                address: m.address,
                lat: m.lat,
                lon: m.lon,
                station: m.station,
                hours: m.hours,
            },
            distance_m: d.map(f64::round),
        })
        .collect();
    Ok(Json(listed))
}
