//! `/api/v1/responders` and `/api/v1/sources`: who works in the field and who raises alerts,
//! each with an MQTT login whose password is shown once.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::audit::handle::Audit;
use super::auth::{Admin, Viewer};
use super::error::{ApiError, JsonBody, Path, Query};
use super::page::PageQuery;
use super::AppState;
use crate::dispatch::Reload;
use crate::domain::alert::named_source;
use crate::domain::personal::Contact;
use crate::domain::{Ident, ResponderKind, Role, TravelMode};
use crate::store::{found, AccountOwner, MqttCredentials, NewResponder, ResponderRow, SourceRow};

/// Routes of this area.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(one, patch, remove))
        .routes(routes!(reset_responder))
        .routes(routes!(list_sources, create_source))
        .routes(routes!(reset_source))
}

/// Body of `POST /api/v1/responders`.
#[derive(Debug, Deserialize, ToSchema)]
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
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct PatchResponder {
    /// Display name.
    name: Option<String>,
    /// Kind.
    kind: Option<ResponderKind>,
    /// Travel mode.
    travel: Option<TravelMode>,
    /// `null` clears the zone.
    #[serde(default, with = "serde_with::rust::double_option")]
    zone_id: Option<Option<Ident>>,
    /// Skills (replace the list).
    skills: Option<Vec<String>>,
    /// Working now.
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

/// A responder as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
struct ResponderView {
    /// Responder id (also the MQTT username).
    id: String,
    /// Display name.
    name: String,
    /// Kind.
    kind: ResponderKind,
    /// Travel mode.
    travel: TravelMode,
    /// Zone of responsibility.
    zone_id: Option<String>,
    /// Skills.
    skills: Vec<String>,
    /// Working now.
    on_duty: bool,
    /// Last latitude.
    lat: Option<f64>,
    /// Last longitude.
    lon: Option<f64>,
    /// Time of the last fix, RFC 3339.
    fix_at: Option<String>,
    /// Accuracy of the last fix, metres.
    accuracy_m: Option<f64>,
    /// Battery percent reported with the last fix.
    battery: Option<i64>,
    /// Real name, if given. Personal information: whole for operators and admins; for
    /// the roles below (`viewer`) masked to its first character and one `*` for each
    /// further character (`张*`, `王**`).
    real_name: Option<String>,
    /// Phone number, if given. Personal information: whole for operators and admins; for
    /// the roles below (`viewer`) masked digit by digit, the first 3 and last 4 digits
    /// kept (`138****5678`; a leading `+86` kept and not counted), a number of under 11
    /// digits all but its last 2 (`******78`). A masked value contains `*`.
    phone: Option<String>,
    /// The grid station (a merchant that is one) this responder is based at.
    station_id: Option<String>,
}

/// A responder just created, with its MQTT login (the password is shown this once).
#[derive(Debug, Serialize, ToSchema)]
struct CreatedResponder {
    #[serde(flatten)]
    responder: ResponderView,
    /// The responder's MQTT login.
    mqtt: MqttCredentials,
}

/// A new MQTT password (shown this once; the old one no longer works).
#[derive(Debug, Serialize, ToSchema)]
struct NewPassword {
    /// The MQTT login with its new password.
    mqtt: MqttCredentials,
}

/// A source just created, with its MQTT login (the password is shown this once).
#[derive(Debug, Serialize, ToSchema)]
struct CreatedSource {
    /// Source id.
    id: Ident,
    /// Display name.
    name: String,
    /// The source's MQTT login (`source-<id>`).
    mqtt: MqttCredentials,
}

/// What a password reset changed, for the audit log: the login, never the password.
#[derive(Debug, Serialize)]
struct CredentialChange<'a> {
    /// The MQTT username whose password changed.
    mqtt_username: &'a str,
    /// `previous` before the reset, `reset` after it.
    credential: &'static str,
}

/// Tells the log that `creds`' password was replaced (the new one is not written).
fn audit_reset(audit: &Audit, creds: &MqttCredentials) {
    let change = |credential| CredentialChange {
        mqtt_username: &creds.username,
        credential,
    };
    audit.before(&change("previous"));
    audit.after(&change("reset"));
}

/// `r` as `role` may see it: its real name and phone masked below operator
/// ([`Contact::seen_by`]).
fn view(r: &ResponderRow, role: Role) -> ResponderView {
    let contact = Contact {
        real_name: r.real_name.clone(),
        phone: r.phone.clone(),
    }
    .seen_by(role);
    ResponderView {
        id: r.id.clone(),
        name: r.name.clone(),
        kind: r.kind,
        travel: r.travel,
        zone_id: r.zone_id.clone(),
        // Stored as a JSON array of names, written from a list; unreadable reads as none.
        skills: serde_json::from_str(&r.skills).unwrap_or_default(),
        on_duty: r.on_duty,
        lat: r.lat,
        lon: r.lon,
        fix_at: r.fix_at.map(super::rfc3339),
        accuracy_m: r.accuracy_m,
        battery: r.battery,
        real_name: contact.real_name,
        phone: contact.phone,
        station_id: r.station_id.clone(),
    }
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

/// Adds a responder and its MQTT login (username = the id).
#[utoipa::path(
    post,
    path = "/api/v1/responders",
    tag = "responders",
    request_body = CreateResponder,
    responses(
        (status = 201, description = "Created; the MQTT password is shown this once.",
         body = CreatedResponder),
        (status = 409, description = "The id is taken.", body = super::openapi::ErrorBody),
    )
)]
async fn create(
    Admin(caller): Admin,
    State(st): State<AppState>,
    audit: Audit,
    JsonBody(body): JsonBody<CreateResponder>,
) -> Result<(StatusCode, Json<CreatedResponder>), ApiError> {
    audit.target(body.id.as_str());
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
    let responder = view(&st.store.responder(&new.id).await?, caller.role);
    // The view alone: the MQTT password shown with it must not reach the log.
    audit.after(&responder);
    Ok((
        StatusCode::CREATED,
        Json(CreatedResponder {
            responder,
            mqtt: creds,
        }),
    ))
}

/// Lists the responders, by id. Below `operator` (a viewer), real names and phone
/// numbers come masked (`王**`, `138****5678`).
#[utoipa::path(
    get,
    path = "/api/v1/responders",
    tag = "responders",
    params(PageQuery),
    responses((status = 200, description = "A page of responders (default and cap 5000).",
               body = Vec<ResponderView>))
)]
async fn list(
    Viewer(caller): Viewer,
    State(st): State<AppState>,
    Query(q): Query<PageQuery>,
) -> Result<Response, ApiError> {
    let page = q.whole_list()?;
    page.answer_sorted(
        st.store.responders().await?,
        |r| r.id.as_str(),
        |r| view(r, caller.role),
    )
}

/// One responder. Below `operator` (a viewer), its real name and phone number come
/// masked (`王**`, `138****5678`).
#[utoipa::path(
    get,
    path = "/api/v1/responders/{id}",
    tag = "responders",
    params(("id" = String, Path, description = "Responder id")),
    responses((status = 200, description = "The responder.", body = ResponderView))
)]
async fn one(
    Viewer(caller): Viewer,
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ResponderView>, ApiError> {
    Ok(Json(view(&st.store.responder(&id).await?, caller.role)))
}

/// Changes a responder: only the fields given change.
#[utoipa::path(
    patch,
    path = "/api/v1/responders/{id}",
    tag = "responders",
    params(("id" = String, Path, description = "Responder id")),
    request_body = PatchResponder,
    responses((status = 200, description = "The responder as changed.", body = ResponderView))
)]
async fn patch(
    Admin(caller): Admin,
    State(st): State<AppState>,
    audit: Audit,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<PatchResponder>,
) -> Result<Json<ResponderView>, ApiError> {
    let cur = st.store.responder(&id).await?;
    audit.before(&view(&cur, caller.role));
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
    let changed = view(&st.store.responder(&id).await?, caller.role);
    audit.after(&changed);
    Ok(Json(changed))
}

/// Deletes a responder and its MQTT login.
#[utoipa::path(
    delete,
    path = "/api/v1/responders/{id}",
    tag = "responders",
    params(("id" = String, Path, description = "Responder id")),
    responses((status = 204, description = "Deleted."))
)]
async fn remove(
    Admin(caller): Admin,
    State(st): State<AppState>,
    audit: Audit,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    if let Some(old) = found(st.store.responder(&id).await)? {
        audit.before(&view(&old, caller.role));
    }
    st.store.delete_responder(&id).await?;
    st.dispatcher.reload(Reload::Responder(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Gives a responder a new MQTT password; the old one stops working.
#[utoipa::path(
    post,
    path = "/api/v1/responders/{id}/reset-password",
    tag = "responders",
    params(("id" = String, Path, description = "Responder id")),
    responses((status = 200, description = "The new password, shown this once.",
               body = NewPassword))
)]
async fn reset_responder(
    _: Admin,
    State(st): State<AppState>,
    audit: Audit,
    Path(id): Path<String>,
) -> Result<Json<NewPassword>, ApiError> {
    let creds = st
        .store
        .reset_password(&AccountOwner::Responder(id))
        .await?;
    audit_reset(&audit, &creds);
    Ok(Json(NewPassword { mqtt: creds }))
}

/// Body of `POST /api/v1/sources`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateSource {
    /// Source id.
    id: Ident,
    /// Display name, at most 200 characters.
    name: String,
}

/// Adds an alert source and its MQTT login (`source-<id>`).
#[utoipa::path(
    post,
    path = "/api/v1/sources",
    tag = "sources",
    request_body = CreateSource,
    responses(
        (status = 201, description = "Created; the MQTT password is shown this once.",
         body = CreatedSource),
        (status = 409, description = "The id is taken.", body = super::openapi::ErrorBody),
    )
)]
async fn create_source(
    _: Admin,
    State(st): State<AppState>,
    audit: Audit,
    JsonBody(body): JsonBody<CreateSource>,
) -> Result<(StatusCode, Json<CreatedSource>), ApiError> {
    let name = name_of(&body.name)?;
    let id = named_source("id", body.id)?;
    audit.target(id.as_str());
    let creds = st.store.create_source(id.as_str(), &name).await?;
    // As the list shows it; the MQTT password shown with it must not reach the log.
    audit.after(&SourceRow {
        id: id.to_string(),
        name: name.clone(),
    });
    Ok((
        StatusCode::CREATED,
        Json(CreatedSource {
            id,
            name,
            mqtt: creds,
        }),
    ))
}

/// Lists the alert sources, by id.
#[utoipa::path(
    get,
    path = "/api/v1/sources",
    tag = "sources",
    params(PageQuery),
    responses((status = 200, description = "A page of sources (default and cap 5000).",
               body = Vec<SourceRow>))
)]
async fn list_sources(
    _: Viewer,
    State(st): State<AppState>,
    Query(q): Query<PageQuery>,
) -> Result<Response, ApiError> {
    let page = q.whole_list()?;
    page.answer_sorted(
        st.store.sources().await?,
        |s| s.id.as_str(),
        SourceRow::clone,
    )
}

/// Gives a source a new MQTT password; the old one stops working.
#[utoipa::path(
    post,
    path = "/api/v1/sources/{id}/reset-password",
    tag = "sources",
    params(("id" = String, Path, description = "Source id")),
    responses((status = 200, description = "The new password, shown this once.",
               body = NewPassword))
)]
async fn reset_source(
    _: Admin,
    State(st): State<AppState>,
    audit: Audit,
    Path(id): Path<String>,
) -> Result<Json<NewPassword>, ApiError> {
    let creds = st.store.reset_password(&AccountOwner::Source(id)).await?;
    audit_reset(&audit, &creds);
    Ok(Json(NewPassword { mqtt: creds }))
}
