//! Bearer-token authentication and role checks, as extractors: a handler that takes
//! `Operator` can only run for an operator or admin.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use super::error::ApiError;
use super::AppState;
use crate::domain::Role;

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Token name (shown in timelines as `operator:<name>`).
    pub name: String,
    /// Its role.
    pub role: Role,
}

impl Caller {
    /// How this caller appears in timelines.
    pub fn actor(&self) -> String {
        format!("{}:{}", self.role, self.name)
    }
}

async fn authorize(parts: &Parts, state: &AppState, need: Role) -> Result<Caller, ApiError> {
    let token = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or(ApiError::Unauthorized)?;
    let (name, role) = state
        .store
        .token_role(token)
        .await?
        .ok_or(ApiError::Unauthorized)?;
    if role < need {
        return Err(ApiError::Forbidden(need.as_str()));
    }
    Ok(Caller { name, role })
}

macro_rules! role_extractor {
    ($(#[$doc:meta])* $name:ident, $role:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone)]
        pub struct $name(pub Caller);

        impl FromRequestParts<AppState> for $name {
            type Rejection = ApiError;
            async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
                authorize(parts, state, $role).await.map($name)
            }
        }
    };
}

role_extractor!(
    /// Any valid token (viewer or above).
    Viewer,
    Role::Viewer
);
role_extractor!(
    /// Operator or admin.
    Operator,
    Role::Operator
);
role_extractor!(
    /// Admin only.
    Admin,
    Role::Admin
);
