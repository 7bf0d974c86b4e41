//! Console login sessions: `POST /api/v1/session` (login), `GET` (who am I), `DELETE`
//! (logout). The session lives in the `gd_session` cookie (HttpOnly, SameSite=Strict).

use axum::extract::{FromRequest, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::{
    session_cookie, Anyone, Logins, MAX_FAILURES_PER_ADDRESS, MAX_FAILURES_PER_USER, SESSION_COOKIE,
};
use super::error::{ApiError, JsonBody};
use super::AppState;
use crate::domain::{Ident, Role};
use crate::store::StoreError;

/// The session routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(login, whoami, logout))
}

/// A login, as JSON or as a submitted HTML form (inputs `username` and `password`).
#[derive(Debug, Deserialize, ToSchema)]
struct LoginBody {
    username: String,
    password: String,
}

/// Who is signed in.
#[derive(Debug, Serialize, ToSchema)]
struct SessionView {
    username: String,
    role: Role,
    /// The merchant a `merchant`-role user is bound to; absent for other roles.
    #[serde(skip_serializing_if = "Option::is_none")]
    merchant_id: Option<Ident>,
}

/// Logs in to the console: sets the `gd_session` cookie (HttpOnly, SameSite=Strict).
/// Five failures for one username, or twenty from one address, lock it for a while (429).
#[utoipa::path(
    post,
    path = "/api/v1/session",
    tag = "session",
    security(()),
    request_body(content(
        (LoginBody = "application/json"),
        (LoginBody = "application/x-www-form-urlencoded")
    )),
    responses(
        (status = 200, description = "Signed in; the cookie is set.", body = SessionView,
         headers(("Set-Cookie" = String, description = "The session cookie"))),
        (status = 401, description = "Wrong username or password (the same words for both).",
         body = super::openapi::ErrorBody),
        (status = 403, description = "The login form was posted from another site.",
         body = super::openapi::ErrorBody),
    )
)]
async fn login(State(state): State<AppState>, req: Request) -> Result<Response, ApiError> {
    // A login form posted from another site would log the browser into the attacker's
    // account; browsers always send Origin on a POST, programs usually send none.
    if req.headers().contains_key(header::ORIGIN) && !state.logins.same_origin(req.headers()) {
        return Err(ApiError::CrossOrigin);
    }
    let (parts, body) = req.into_parts();
    let address = super::audit::handle::request_address(&state, &parts);
    let audit = super::audit::handle::Audit::of(&parts);
    let req = Request::from_parts(parts, body);
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let body = if is_form {
        Form::<LoginBody>::from_request(req, &state)
            .await
            .map_err(|e| ApiError::Unprocessable(e.body_text()))?
            .0
    } else {
        JsonBody::<LoginBody>::from_request(req, &state).await?.0
    };
    let mut keys = vec![(format!("user:{}", body.username), MAX_FAILURES_PER_USER)];
    if let Some(ip) = address {
        keys.push((format!("ip:{ip}"), MAX_FAILURES_PER_ADDRESS));
    }
    let names: Vec<String> = keys.iter().map(|(k, _)| k.clone()).collect();
    state
        .logins
        .attempt(&keys)
        .map_err(ApiError::TooManyAttempts)?;
    let checked = match state
        .store
        .check_login(&body.username, &body.password)
        .await
    {
        Err(StoreError::Busy(why)) => {
            state.logins.refund(&keys);
            return Err(ApiError::Busy(why));
        }
        other => other?,
    };
    let Some(user) = checked else {
        tracing::warn!(username = %body.username, address = ?address, "failed console login");
        audit.claimed(&body.username);
        audit.action("session.login_failed");
        return Err(ApiError::BadLogin);
    };
    audit.caller(&user.username, user.role);
    audit.action("session.login");
    state.logins.succeeded(&names);
    let cookie = state
        .store
        .create_session(&user.username, state.logins.session_ms)
        .await?;
    tracing::info!(username = %user.username, role = %user.role, "console login");
    let merchant_id = user
        .merchant_id
        .as_deref()
        .map(Ident::parse)
        .transpose()
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("stored merchant id: {e}")))?;
    let body = SessionView {
        username: user.username,
        role: user.role,
        merchant_id,
    };
    let mut resp = Json(body).into_response();
    resp.headers_mut()
        .insert(header::SET_COOKIE, set_cookie(&state.logins, &cookie)?);
    Ok(resp)
}

/// Who is signed in: any role, a merchant user too (its page asks which merchant it is).
#[utoipa::path(
    get,
    path = "/api/v1/session",
    tag = "session",
    responses((status = 200, description = "The caller.", body = SessionView))
)]
async fn whoami(Anyone(caller): Anyone) -> Result<Json<SessionView>, ApiError> {
    let merchant_id = caller
        .merchant_id
        .as_deref()
        .map(Ident::parse)
        .transpose()
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("stored merchant id: {e}")))?;
    Ok(Json(SessionView {
        username: caller.name,
        role: caller.role,
        merchant_id,
    }))
}

/// Logs out: ends the session named by the cookie and clears the cookie. Without a cookie
/// there is nothing to end, which is not an error.
#[utoipa::path(
    delete,
    path = "/api/v1/session",
    tag = "session",
    security(()),
    responses(
        (status = 204, description = "Signed out; the cookie is cleared.",
         headers(("Set-Cookie" = String, description = "An expired session cookie"))),
        (status = 403, description = "A cookie request from another site.",
         body = super::openapi::ErrorBody),
    )
)]
async fn logout(State(state): State<AppState>, req: Request) -> Result<Response, ApiError> {
    if let Some(cookie) = session_cookie(req.headers()) {
        if !state.logins.same_origin(req.headers()) {
            return Err(ApiError::CrossOrigin);
        }
        let audit = req
            .extensions()
            .get::<super::audit::handle::Audit>()
            .cloned();
        if let (Some(audit), Some(user)) = (
            audit,
            state
                .store
                .session_user(cookie, state.logins.session_ms)
                .await?,
        ) {
            audit.caller(&user.username, user.role);
            audit.action("session.logout");
        }
        state.store.delete_session(cookie).await?;
    }
    let mut resp = StatusCode::NO_CONTENT.into_response();
    resp.headers_mut()
        .insert(header::SET_COOKIE, set_cookie(&state.logins, "")?);
    Ok(resp)
}

/// The `Set-Cookie` value for a session; an empty value clears the cookie. No `Max-Age`:
/// the server ends sessions (sliding), the browser forgets the cookie when it closes.
fn set_cookie(logins: &Logins, value: &str) -> Result<HeaderValue, ApiError> {
    let mut cookie = format!("{SESSION_COOKIE}={value}; HttpOnly; SameSite=Strict; Path=/");
    if value.is_empty() {
        cookie.push_str("; Max-Age=0");
    }
    if logins.secure_cookie {
        cookie.push_str("; Secure");
    }
    HeaderValue::from_str(&cookie)
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("session cookie header: {e}")))
}
