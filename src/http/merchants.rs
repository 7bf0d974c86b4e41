//! `/api/v1/merchants` and `/api/v1/offers`: 喜邻 partner merchants and grid stations
//! (网格驿站), their offers, and the `merchant` login each one gets (shown once).
//!
//! Who sees what: admins manage everything; viewers (and a worker's MQTT login sent as
//! HTTP Basic, as the field app does) list merchants and the offers on sale; a `merchant`
//! user sees only its own merchant and offers, and any other merchant is 404 to it, as a
//! missing one would be.

use axum::extract::{Path, Query, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::{authenticate, phone_login, Admin, Anyone, Caller};
use super::error::{ApiError, JsonBody};
use super::{rfc3339, AppState};
use crate::domain::merchants as rules;
use crate::domain::{Ident, LatLon, Role};
use crate::store::{
    new_secret, now_ms, MerchantError, MerchantRow, NewMerchant, NewOffer, OfferRow,
};

/// Routes of this area.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/merchants", get(list).post(create))
        .route(
            "/api/v1/merchants/{id}",
            get(one).put(update).delete(remove),
        )
        .route(
            "/api/v1/merchants/{id}/offers",
            get(list_offers).post(create_offer),
        )
        .route(
            "/api/v1/merchants/{id}/offers/{offer_id}",
            get(one_offer).put(update_offer).delete(remove_offer),
        )
        .route("/api/v1/offers", get(available))
}

/// Characters of a generated merchant password (about 96 bits; short enough to type on
/// a phone once).
const PASSWORD_CHARS: usize = 16;

/// Body of `POST /api/v1/merchants`; `PUT` takes the same without `id` (or with the
/// path's).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MerchantBody {
    id: Option<Ident>,
    name: String,
    address: String,
    lat: f64,
    lon: f64,
    station: Option<bool>,
    hours: Option<String>,
}

impl MerchantBody {
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
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OfferBody {
    id: Option<Ident>,
    title: String,
    points: i64,
    stock: Option<i64>,
    per_person_limit: Option<i64>,
    valid_until: Option<String>,
    active: Option<bool>,
}

impl OfferBody {
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

/// A merchant as the API shows it.
pub fn merchant_view(m: &MerchantRow) -> Value {
    let mut v = serde_json::to_value(m).unwrap_or_default();
    v["created_at"] = json!(rfc3339(m.created_at));
    v["updated_at"] = json!(rfc3339(m.updated_at));
    v
}

/// An offer as the API shows it.
pub fn offer_view(o: &OfferRow) -> Value {
    let mut v = serde_json::to_value(o).unwrap_or_default();
    v["valid_until"] = json!(o.valid_until.map(rfc3339));
    v
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

async fn create(
    Admin(caller): Admin,
    State(st): State<AppState>,
    JsonBody(body): JsonBody<MerchantBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let id = body
        .id
        .clone()
        .ok_or_else(|| ApiError::Unprocessable("id: required".into()))?;
    let new = body.checked(id)?;
    // Ids may hold ':' and usernames may not.
    let username = format!("merchant.{}", new.id.replace(':', "_"));
    let password: String = new_secret().chars().take(PASSWORD_CHARS).collect();
    let row = st.store.create_merchant(&new, &username, &password).await?;
    tracing::info!(merchant = %row.id, %username, by = %caller.actor(), "merchant registered");
    let mut v = merchant_view(&row);
    v["login"] = json!({ "username": username, "password": password });
    Ok((StatusCode::CREATED, Json(v)))
}

async fn list(
    State(st): State<AppState>,
    parts: Parts,
) -> Result<axum::response::Response, ApiError> {
    let caller = viewer_or_worker(&parts, &st).await?;
    let q: super::page::PageQuery = Query::try_from_uri(&parts.uri)
        .map(|Query(q)| q)
        .map_err(|e| ApiError::Unprocessable(e.body_text()))?;
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
    page.answer_sorted(shown, |m| m.id.as_str(), merchant_view)
}

async fn one(
    Anyone(caller): Anyone,
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    may_see(&caller, &id)?;
    Ok(Json(merchant_view(&st.store.merchant(&id).await?)))
}

async fn update(
    Admin(caller): Admin,
    State(st): State<AppState>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<MerchantBody>,
) -> Result<Json<Value>, ApiError> {
    let id = path_id(&id)?;
    same_id(body.id.as_ref(), &id)?;
    let row = st.store.update_merchant(&body.checked(id)?).await?;
    tracing::info!(merchant = %row.id, by = %caller.actor(), "merchant changed");
    Ok(Json(merchant_view(&row)))
}

async fn remove(
    Admin(caller): Admin,
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    st.store.delete_merchant(&id).await?;
    tracing::info!(merchant = %id, by = %caller.actor(), "merchant deleted");
    Ok(StatusCode::NO_CONTENT)
}

async fn list_offers(
    Anyone(caller): Anyone,
    State(st): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<super::page::PageQuery>,
) -> Result<axum::response::Response, ApiError> {
    may_see(&caller, &id)?;
    let page = q.whole_list()?;
    // 404 for an unknown merchant rather than an empty list.
    st.store.merchant(&id).await?;
    let offers = st.store.offers_of(&id).await?;
    page.answer_sorted(offers, |o| o.id.as_str(), offer_view)
}

async fn one_offer(
    Anyone(caller): Anyone,
    State(st): State<AppState>,
    Path((id, offer_id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    may_see(&caller, &id)?;
    Ok(Json(offer_view(&st.store.offer(&id, &offer_id).await?)))
}

async fn create_offer(
    Admin(caller): Admin,
    State(st): State<AppState>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<OfferBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let offer_id = body
        .id
        .clone()
        .ok_or_else(|| ApiError::Unprocessable("id: required".into()))?;
    let new = body.checked(&id, offer_id)?;
    let row = st.store.create_offer(&new).await?;
    tracing::info!(merchant = %id, offer = %row.id, by = %caller.actor(), "offer added");
    Ok((StatusCode::CREATED, Json(offer_view(&row))))
}

async fn update_offer(
    Admin(caller): Admin,
    State(st): State<AppState>,
    Path((id, offer_id)): Path<(String, String)>,
    JsonBody(body): JsonBody<OfferBody>,
) -> Result<Json<Value>, ApiError> {
    let offer_id = path_id(&offer_id)?;
    same_id(body.id.as_ref(), &offer_id)?;
    let row = st.store.update_offer(&body.checked(&id, offer_id)?).await?;
    tracing::info!(merchant = %id, offer = %row.id, by = %caller.actor(), "offer changed");
    Ok(Json(offer_view(&row)))
}

async fn remove_offer(
    Admin(caller): Admin,
    State(st): State<AppState>,
    Path((id, offer_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    st.store.delete_offer(&id, &offer_id).await?;
    tracing::info!(merchant = %id, offer = %offer_id, by = %caller.actor(), "offer deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// Query of `GET /api/v1/offers`: a position (both or neither) and a `limit`. Read as
/// text, so a bad number gets a 422 that names the parameter.
#[derive(Debug, Deserialize)]
struct OffersQuery {
    lat: Option<String>,
    lon: Option<String>,
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

/// `GET /api/v1/offers?lat=…&lon=…&limit=…`: the offers on sale now (active, in stock,
/// still valid), each with its merchant and `distance_m` from the position, nearest first.
async fn available(
    State(st): State<AppState>,
    Query(q): Query<OffersQuery>,
    parts: Parts,
) -> Result<Json<Value>, ApiError> {
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
        .map(|((o, m), d)| {
            let mut v = offer_view(&o);
            v["merchant"] = json!({
                "id": m.id, "name": m.name, "address": m.address, "lat": m.lat,
                "lon": m.lon, "station": m.station, "hours": m.hours,
            });
            v["distance_m"] = json!(d.map(f64::round));
            v
        })
        .collect();
    Ok(Json(Value::Array(listed)))
}
