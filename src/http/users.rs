//! `/api/v1/users`: console users, managed by admins. Password hashes never leave the
//! store; the last enabled admin user cannot be deleted, demoted or disabled (409).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::audit::handle::Audit;
use super::auth::Admin;
use super::error::{ApiError, JsonBody, Path, Query};
use super::page::PageQuery;
use super::AppState;
use crate::domain::Role;
use crate::store::{found, UserChange, UserError, UserRow};

/// Routes of this area.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(one, patch, remove))
}

/// Body of `POST /api/v1/users`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateUser {
    /// Login name, unique: 1 to 64 ASCII letters, digits, `. _ - @` or CJK ideographs.
    username: String,
    /// The password.
    password: String,
    /// Any role but `merchant` (merchant users are made with their merchant).
    role: Role,
}

/// Body of `PATCH /api/v1/users/{username}`: only the fields given change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct PatchUser {
    /// A new role.
    role: Option<Role>,
    /// A new password.
    password: Option<String>,
    /// Disabled users cannot log in, and their sessions end.
    disabled: Option<bool>,
}

/// A user as the audit log keeps it: as the API shows it (never the hash), and whether
/// the change set a new password.
#[derive(Debug, Serialize)]
struct AuditedUser<'a> {
    #[serde(flatten)]
    user: &'a UserRow,
    /// `changed` when the request set a new password (the password itself is not kept).
    #[serde(skip_serializing_if = "Option::is_none")]
    credential: Option<&'static str>,
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

/// Lists the console users, by username (never their password hashes).
#[utoipa::path(
    get,
    path = "/api/v1/users",
    tag = "users",
    params(PageQuery),
    responses((status = 200, description = "A page of users (default and cap 5000).",
               body = Vec<UserRow>))
)]
async fn list(
    _: Admin,
    State(state): State<AppState>,
    Query(q): Query<PageQuery>,
) -> Result<axum::response::Response, ApiError> {
    let page = q.whole_list()?;
    let users = state.store.users().await?;
    page.answer_sorted(users, |u| u.username.as_str(), UserRow::clone)
}

/// One console user.
#[utoipa::path(
    get,
    path = "/api/v1/users/{username}",
    tag = "users",
    params(("username" = String, Path, description = "The user's login name")),
    responses((status = 200, description = "The user.", body = UserRow))
)]
async fn one(
    _: Admin,
    State(state): State<AppState>,
    Path(username): Path<String>,
) -> Result<Json<UserRow>, ApiError> {
    Ok(Json(state.store.user(&username).await?))
}

/// Creates a console user.
#[utoipa::path(
    post,
    path = "/api/v1/users",
    tag = "users",
    request_body = CreateUser,
    responses(
        (status = 201, description = "Created.", body = UserRow),
        (status = 409, description = "The username is taken.", body = super::openapi::ErrorBody),
    )
)]
async fn create(
    Admin(caller): Admin,
    State(state): State<AppState>,
    audit: Audit,
    JsonBody(body): JsonBody<CreateUser>,
) -> Result<(StatusCode, Json<UserRow>), ApiError> {
    audit.target(body.username.as_str());
    let user = state
        .store
        .create_user(&body.username, &body.password, body.role)
        .await?;
    audit.after(&user);
    tracing::info!(username = %user.username, role = %user.role, by = %caller.actor(), "user created");
    Ok((StatusCode::CREATED, Json(user)))
}

/// Changes a user's role, password or disabled flag. The last enabled admin cannot be
/// demoted or disabled (409).
#[utoipa::path(
    patch,
    path = "/api/v1/users/{username}",
    tag = "users",
    params(("username" = String, Path, description = "The user's login name")),
    request_body = PatchUser,
    responses(
        (status = 200, description = "The user as changed.", body = UserRow),
        (status = 409, description = "It would leave no enabled admin.",
         body = super::openapi::ErrorBody),
    )
)]
async fn patch(
    Admin(caller): Admin,
    State(state): State<AppState>,
    audit: Audit,
    Path(username): Path<String>,
    JsonBody(body): JsonBody<PatchUser>,
) -> Result<Json<UserRow>, ApiError> {
    if let Some(old) = found(state.store.user(&username).await)? {
        audit.before(&old);
    }
    let credential = body.password.is_some().then_some("changed");
    let change = UserChange {
        role: body.role,
        password: body.password,
        disabled: body.disabled,
    };
    let user = state.store.update_user(&username, change).await?;
    audit.after(&AuditedUser {
        user: &user,
        credential,
    });
    tracing::info!(username = %user.username, role = %user.role, disabled = user.disabled, by = %caller.actor(), "user changed");
    Ok(Json(user))
}

/// Deletes a user. The last enabled admin cannot be deleted (409).
#[utoipa::path(
    delete,
    path = "/api/v1/users/{username}",
    tag = "users",
    params(("username" = String, Path, description = "The user's login name")),
    responses(
        (status = 204, description = "Deleted."),
        (status = 409, description = "It would leave no enabled admin.",
         body = super::openapi::ErrorBody),
    )
)]
async fn remove(
    Admin(caller): Admin,
    State(state): State<AppState>,
    audit: Audit,
    Path(username): Path<String>,
) -> Result<StatusCode, ApiError> {
    if let Some(old) = found(state.store.user(&username).await)? {
        audit.before(&old);
    }
    state.store.delete_user(&username).await?;
    tracing::info!(%username, by = %caller.actor(), "user deleted");
    Ok(StatusCode::NO_CONTENT)
}
