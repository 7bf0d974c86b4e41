//! `/api/v1/ingest/…`: alert formats of other systems, posted as they are (for platforms
//! that push over HTTP rather than MQTT). What cannot be understood is answered 422 and
//! kept as a dead letter, as on MQTT.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::auth::Operator;
use super::error::ApiError;
use super::AppState;
use crate::dispatch::DispatchError;

/// Where dead letters from `POST /api/v1/ingest/gb28181` are filed.
pub const GB28181_TOPIC: &str = "POST /api/v1/ingest/gb28181";

/// Routes of this area.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/ingest/gb28181", post(gb28181))
}

/// A GB/T 28181 alarm `<Notify>` body, raw bytes in any encoding its prologue declares; the
/// content type is not looked at, since platforms send `Application/MANSCDP+xml`,
/// `text/xml` and others.
async fn gb28181(
    _: Operator,
    State(st): State<AppState>,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let result = match st.ingest.gb28181_alert(&body).await {
        Ok(alert) => st.dispatcher.alert(alert).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(outcome) => Ok((StatusCode::ACCEPTED, Json(json!(outcome)))),
        Err(DispatchError::Invalid(reason)) => {
            st.ingest
                .record_dead_letter(GB28181_TOPIC, &body, &reason)
                .await;
            Err(ApiError::Unprocessable(reason))
        }
        Err(other) => Err(other.into()),
    }
}
