//! The one error type of the HTTP API. Internal details are logged, never sent.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::dispatch::DispatchError;
use crate::domain::Invalid;
use crate::store::StoreError;

/// Everything a handler can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 401: no or unknown credentials.
    #[error("authentication required")]
    Unauthorized,
    /// 403: known caller, role too low.
    #[error("this needs the {0} role")]
    Forbidden(&'static str),
    /// 401 from a login: the same words for an unknown user and a wrong password, so
    /// the answer does not tell which usernames exist.
    #[error("wrong username or password")]
    BadLogin,
    /// 403: a cookie-authenticated request that changes state came from another site.
    #[error("cross-origin request refused")]
    CrossOrigin,
    /// 429: too many failed logins; try again after this many seconds (`Retry-After`).
    #[error("too many failed logins; try again in {0} s")]
    TooManyAttempts(u64),
    /// 429: a quota of this caller is used up (the message names it); try again after
    /// this many seconds (`Retry-After`).
    #[error("{0}; try again in {1} s")]
    TooManyRequests(String, u64),
    /// 429: a bounded resource (password checks) is all in use; try again in a second
    /// (`Retry-After: 1`).
    #[error("server busy ({0}); try again in a second")]
    Busy(String),
    /// 403: the caller's role suffices but this action is not theirs to take (an admin
    /// approving their own award).
    #[error("{0}")]
    Refused(String),
    /// 404.
    #[error("{0} not found")]
    NotFound(String),
    /// 409.
    #[error("{0}")]
    Conflict(String),
    /// 410: it existed but is over (a lapsed redemption code).
    #[error("{0}")]
    Gone(String),
    /// 413: the body is over its route's limit (`http.limits`).
    #[error("{0}")]
    TooLarge(String),
    /// 426: a WebSocket endpoint asked without the handshake.
    #[error("this is a WebSocket endpoint: {0}")]
    UpgradeRequired(String),
    /// 422: the request is well-formed JSON but its content is wrong.
    #[error("{0}")]
    Unprocessable(String),
    /// 503: shutting down.
    #[error("the service is stopping")]
    Unavailable,
    /// 500: logged with detail, answered without.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<Invalid> for ApiError {
    fn from(e: Invalid) -> ApiError {
        ApiError::Unprocessable(e.to_string())
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        match e {
            StoreError::Conflict(m) => ApiError::Conflict(m),
            StoreError::NotFound(m) => ApiError::NotFound(m),
            // The replica lost the lead mid-request; it is stopping, the caller retries.
            StoreError::Fenced(_) => ApiError::Unavailable,
            StoreError::Busy(m) => ApiError::Busy(m),
            e @ StoreError::BadRow { .. } => ApiError::Internal(e.into()),
            StoreError::Db(e) => ApiError::Internal(e.into()),
        }
    }
}

impl From<DispatchError> for ApiError {
    fn from(e: DispatchError) -> ApiError {
        match e {
            DispatchError::Invalid(m) => ApiError::Unprocessable(m),
            DispatchError::NotFound(m) => ApiError::NotFound(m),
            DispatchError::Conflict(m) => ApiError::Conflict(m),
            DispatchError::Store(s) => s.into(),
            DispatchError::Stopped => ApiError::Unavailable,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match &self {
            ApiError::Unauthorized | ApiError::BadLogin => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) | ApiError::CrossOrigin | ApiError::Refused(_) => {
                StatusCode::FORBIDDEN
            }
            ApiError::TooManyAttempts(_) | ApiError::TooManyRequests(..) | ApiError::Busy(_) => {
                StatusCode::TOO_MANY_REQUESTS
            }
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Gone(_) => StatusCode::GONE,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::UpgradeRequired(_) => StatusCode::UPGRADE_REQUIRED,
            ApiError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(e) => {
                tracing::error!(error = ?e, "internal error answering a request");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        let message = match &self {
            ApiError::Internal(_) => "internal error; see the server log".to_owned(),
            other => other.to_string(),
        };
        let mut resp = (status, Json(json!({ "error": message }))).into_response();
        let retry_after = match &self {
            ApiError::TooManyAttempts(secs) | ApiError::TooManyRequests(_, secs) => Some(*secs),
            ApiError::Busy(_) => Some(1),
            _ => None,
        };
        if let Some(secs) = retry_after {
            resp.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        resp
    }
}

/// A JSON body extractor whose rejections use our error shape (422 with a clear message).
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<S, T> axum::extract::FromRequest<S> for JsonBody<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(JsonBody(v)),
            // A body cut off at its limit (`http::limits`) is too large, not malformed.
            Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Err(ApiError::TooLarge(rejection.body_text()))
            }
            Err(rejection) => Err(ApiError::Unprocessable(rejection.body_text())),
        }
    }
}

impl From<axum::extract::rejection::QueryRejection> for ApiError {
    fn from(rejection: axum::extract::rejection::QueryRejection) -> ApiError {
        ApiError::Unprocessable(rejection.body_text())
    }
}

impl From<axum::extract::rejection::PathRejection> for ApiError {
    fn from(rejection: axum::extract::rejection::PathRejection) -> ApiError {
        ApiError::Unprocessable(rejection.body_text())
    }
}

/// axum's `Query`, whose rejections (a `limit` that is not a number) use our error shape
/// (422 with the field named) rather than axum's plain-text 400.
#[derive(Debug, axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct Query<T>(pub T);

/// axum's `Path`, whose rejections (a path segment that is not UTF-8) use our error shape.
#[derive(Debug, axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct Path<T>(pub T);
