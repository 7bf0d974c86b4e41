//! `/api/v1/users`: console users, managed by admins. Password hashes never leave the
//! store; the last enabled admin user cannot be deleted, demoted or disabled (409).

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

use super::auth::Admin;
use super::error::{ApiError, JsonBody};
use super::AppState;
use crate::domain::Role;
use crate::store::{UserChange, UserError, UserRow};

/// Routes of this area.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/users", get(list).post(create))
        .route(
            "/api/v1/users/{username}",
            get(one).patch(patch).delete(remove),
        )
}

/// Body of `POST /api/v1/users`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateUser {
    username: String,
    password: String,
    role: Role,
}

/// Body of `PATCH /api/v1/users/{username}`: only the fields given change.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PatchUser {
    role: Option<Role>,
    password: Option<String>,
    disabled: Option<bool>,
}

impl From<UserError> for ApiError {
    fn from(e: UserError) -> ApiError {
        match e {
            UserError::Invalid(e) => e.into(),
            UserError::Store(e) => e.into(),
            UserError::Hash(e) => ApiError::Internal(e),
        }
    }
}

async fn list(
    _: Admin,
    State(state): State<AppState>,
    Query(q): Query<super::page::PageQuery>,
) -> Result<axum::response::Response, ApiError> {
    let page = q.whole_list()?;
    let users = state.store.users().await?;
    page.answer_sorted(users, |u| u.username.as_str(), UserRow::clone)
}

async fn one(
    _: Admin,
    State(state): State<AppState>,
    Path(username): Path<String>,
) -> Result<Json<UserRow>, ApiError> {
    Ok(Json(state.store.user(&username).await?))
}

async fn create(
    Admin(caller): Admin,
    State(state): State<AppState>,
    JsonBody(body): JsonBody<CreateUser>,
) -> Result<(StatusCode, Json<UserRow>), ApiError> {
    let user = state
        .store
        .create_user(&body.username, &body.password, body.role)
        .await?;
    tracing::info!(username = %user.username, role = %user.role, by = %caller.actor(), "user created");
    Ok((StatusCode::CREATED, Json(user)))
}

async fn patch(
    Admin(caller): Admin,
    State(state): State<AppState>,
    Path(username): Path<String>,
    JsonBody(body): JsonBody<PatchUser>,
) -> Result<Json<UserRow>, ApiError> {
    let change = UserChange {
        role: body.role,
        password: body.password,
        disabled: body.disabled,
    };
    let user = state.store.update_user(&username, change).await?;
    tracing::info!(username = %user.username, role = %user.role, disabled = user.disabled, by = %caller.actor(), "user changed");
    Ok(Json(user))
}

async fn remove(
    Admin(caller): Admin,
    State(state): State<AppState>,
    Path(username): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.store.delete_user(&username).await?;
    tracing::info!(%username, by = %caller.actor(), "user deleted");
    Ok(StatusCode::NO_CONTENT)
}
