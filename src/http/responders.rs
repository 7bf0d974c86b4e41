//! `/api/v1/responders` and `/api/v1/sources`: who works in the field and who raises alerts,
//! each with an MQTT login whose password is shown once.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::{Admin, Viewer};
use super::error::{ApiError, JsonBody};
use super::page::PageQuery;
use super::AppState;
use crate::dispatch::Reload;
use crate::domain::alert::named_source;
use crate::domain::{Ident, ResponderKind, TravelMode};
use crate::store::{AccountOwner, NewResponder, ResponderRow};
use axum::response::Response;

/// Routes of this area.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/responders", get(list).post(create))
        .route(
            "/api/v1/responders/{id}",
            get(one).patch(patch).delete(remove),
        )
        .route(
            "/api/v1/responders/{id}/reset-password",
            post(reset_responder),
        )
        .route("/api/v1/sources", get(list_sources).post(create_source))
        .route("/api/v1/sources/{id}/reset-password", post(reset_source))
}

/// Body of `POST /api/v1/responders`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateResponder {
    /// Id, also the MQTT username.
    id: Ident,
    /// Display name.
    name: String,
    /// Kind.
    kind: ResponderKind,
    /// Travel mode.
    travel: TravelMode,
    /// Zone of responsibility.
    zone_id: Option<Ident>,
    /// Skills.
    skills: Option<Vec<String>>,
    /// Working now (default true).
    on_duty: Option<bool>,
    /// Real name (optional).
    real_name: Option<String>,
    /// Phone number (optional).
    phone: Option<String>,
    /// The grid station (a merchant that is one) this responder is based at.
    station_id: Option<Ident>,
}

/// Body of `PATCH /api/v1/responders/{id}`: only the fields given change.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PatchResponder {
    name: Option<String>,
    kind: Option<ResponderKind>,
    travel: Option<TravelMode>,
    /// `null` clears the zone.
    #[serde(default, with = "serde_with::rust::double_option")]
    zone_id: Option<Option<Ident>>,
    skills: Option<Vec<String>>,
    on_duty: Option<bool>,
    /// `null` clears it.
    #[serde(default, with = "serde_with::rust::double_option")]
    real_name: Option<Option<String>>,
    /// `null` clears it.
    #[serde(default, with = "serde_with::rust::double_option")]
    phone: Option<Option<String>>,
    /// `null` clears the station.
    #[serde(default, with = "serde_with::rust::double_option")]
    station_id: Option<Option<Ident>>,
}

/// Longest real name, characters.
const MAX_REAL_NAME_CHARS: usize = 64;
/// Longest phone number, characters.
const MAX_PHONE_CHARS: usize = 32;

/// A real name: trimmed, 1 to 64 characters, no control characters; blank = none.
fn real_name_of(s: Option<&str>) -> Result<Option<String>, ApiError> {
    let Some(s) = s.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    if s.chars().count() > MAX_REAL_NAME_CHARS || s.chars().any(char::is_control) {
        return Err(ApiError::Unprocessable(format!(
            "real_name: at most {MAX_REAL_NAME_CHARS} characters, no control characters"
        )));
    }
    Ok(Some(s.to_owned()))
}

/// A phone number: digits, `+`, `-` and spaces, with at least one digit, at most 32
/// characters; blank = none.
fn phone_of(s: Option<&str>) -> Result<Option<String>, ApiError> {
    let Some(s) = s.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let allowed = s
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | ' '));
    if !allowed || !s.chars().any(|c| c.is_ascii_digit()) || s.len() > MAX_PHONE_CHARS {
        return Err(ApiError::Unprocessable(format!(
            "phone: digits, +, - and spaces only, at most {MAX_PHONE_CHARS} characters"
        )));
    }
    Ok(Some(s.to_owned()))
}

fn view(r: &ResponderRow) -> Value {
    let mut v = serde_json::to_value(r).unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        o.insert(
            "skills".into(),
            serde_json::from_str(&r.skills).unwrap_or(json!([])),
        );
        if let Some(at) = r.fix_at {
            o.insert("fix_at".into(), json!(super::rfc3339(at)));
        }
    }
    v
}

fn name_of(name: &str) -> Result<String, ApiError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ApiError::Unprocessable(
            "name: required, at most 200 characters".into(),
        ));
    }
    Ok(name.to_owned())
}

async fn check_zone(st: &AppState, zone: Option<&Ident>) -> Result<(), ApiError> {
    if let Some(z) = zone {
        if !st.store.zone_exists(z.as_str()).await? {
            return Err(ApiError::Unprocessable(format!("zone_id: no zone {z}")));
        }
    }
    Ok(())
}

/// A responder may be based only at a merchant that is a grid station (422 otherwise).
async fn check_station(st: &AppState, station: Option<&Ident>) -> Result<(), ApiError> {
    if let Some(s) = station {
        match st.store.is_station(s.as_str()).await? {
            Some(true) => {}
            Some(false) => {
                return Err(ApiError::Unprocessable(format!(
                    "station_id: merchant {s} is not a grid station"
                )))
            }
            None => {
                return Err(ApiError::Unprocessable(format!(
                    "station_id: no merchant {s}"
                )))
            }
        }
    }
    Ok(())
}

async fn create(
    _: Admin,
    State(st): State<AppState>,
    JsonBody(body): JsonBody<CreateResponder>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    check_zone(&st, body.zone_id.as_ref()).await?;
    let real_name = real_name_of(body.real_name.as_deref())?;
    let phone = phone_of(body.phone.as_deref())?;
    check_station(&st, body.station_id.as_ref()).await?;
    let new = NewResponder {
        id: body.id.to_string(),
        name: name_of(&body.name)?,
        kind: body.kind,
        travel: body.travel,
        zone_id: body.zone_id.map(String::from),
        skills: serde_json::to_string(&body.skills.unwrap_or_default())
            .unwrap_or_else(|_| "[]".into()),
        on_duty: body.on_duty.unwrap_or(true),
        station_id: body.station_id.map(String::from),
    };
    let creds = st.store.create_responder(&new).await?;
    if real_name.is_some() || phone.is_some() {
        st.store
            .set_responder_contact(&new.id, real_name.as_deref(), phone.as_deref())
            .await?;
    }
    st.dispatcher
        .reload(Reload::Responder(new.id.clone()))
        .await?;
    let mut v = view(&st.store.responder(&new.id).await?);
    if let Some(o) = v.as_object_mut() {
        o.insert("mqtt".into(), json!(creds));
    }
    Ok((StatusCode::CREATED, Json(v)))
}

async fn list(
    _: Viewer,
    State(st): State<AppState>,
    Query(q): Query<PageQuery>,
) -> Result<Response, ApiError> {
    let page = q.whole_list()?;
    page.answer_sorted(st.store.responders().await?, |r| r.id.as_str(), view)
}

async fn one(
    _: Viewer,
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(view(&st.store.responder(&id).await?)))
}

async fn patch(
    _: Admin,
    State(st): State<AppState>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<PatchResponder>,
) -> Result<Json<Value>, ApiError> {
    let cur = st.store.responder(&id).await?;
    if let Some(Some(z)) = &body.zone_id {
        check_zone(&st, Some(z)).await?;
    }
    let real_name = match &body.real_name {
        Some(n) => real_name_of(n.as_deref())?,
        None => cur.real_name.clone(),
    };
    let phone = match &body.phone {
        Some(p) => phone_of(p.as_deref())?,
        None => cur.phone.clone(),
    };
    if let Some(Some(s)) = &body.station_id {
        check_station(&st, Some(s)).await?;
    }
    let new = NewResponder {
        id: cur.id.clone(),
        name: match &body.name {
            Some(n) => name_of(n)?,
            None => cur.name.clone(),
        },
        kind: body.kind.unwrap_or(cur.kind),
        travel: body.travel.unwrap_or(cur.travel),
        zone_id: match body.zone_id {
            Some(z) => z.map(String::from),
            None => cur.zone_id.clone(),
        },
        skills: body.skills.map_or(cur.skills.clone(), |s| {
            serde_json::to_string(&s).unwrap_or_else(|_| "[]".into())
        }),
        on_duty: body.on_duty.unwrap_or(cur.on_duty),
        station_id: match body.station_id {
            Some(s) => s.map(String::from),
            None => cur.station_id.clone(),
        },
    };
    st.store.update_responder(&new).await?;
    if real_name != cur.real_name || phone != cur.phone {
        st.store
            .set_responder_contact(&id, real_name.as_deref(), phone.as_deref())
            .await?;
    }
    st.dispatcher.reload(Reload::Responder(id.clone())).await?;
    Ok(Json(view(&st.store.responder(&id).await?)))
}

async fn remove(
    _: Admin,
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    st.store.delete_responder(&id).await?;
    st.dispatcher.reload(Reload::Responder(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn reset_responder(
    _: Admin,
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let creds = st
        .store
        .reset_password(&AccountOwner::Responder(id))
        .await?;
    Ok(Json(json!({ "mqtt": creds })))
}

/// Body of `POST /api/v1/sources`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateSource {
    id: Ident,
    name: String,
}

async fn create_source(
    _: Admin,
    State(st): State<AppState>,
    JsonBody(body): JsonBody<CreateSource>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let name = name_of(&body.name)?;
    let id = named_source("id", body.id)?;
    let creds = st.store.create_source(id.as_str(), &name).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "id": id, "name": name, "mqtt": creds })),
    ))
}

async fn list_sources(
    _: Viewer,
    State(st): State<AppState>,
    Query(q): Query<PageQuery>,
) -> Result<Response, ApiError> {
    let page = q.whole_list()?;
    page.answer_sorted(st.store.sources().await?, |s| s.id.as_str(), |s| json!(s))
}

async fn reset_source(
    _: Admin,
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let creds = st.store.reset_password(&AccountOwner::Source(id)).await?;
    Ok(Json(json!({ "mqtt": creds })))
}
