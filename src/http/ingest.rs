//! `/api/v1/ingest/…`: alert formats of other systems, posted as they are (for platforms
//! that push over HTTP rather than MQTT). What cannot be understood is answered 422 and
//! kept as a dead letter, as on MQTT.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Operator;
use super::error::ApiError;
use super::incidents::AlertAccepted;
use super::AppState;
use crate::dispatch::DispatchError;

/// Where dead letters from `POST /api/v1/ingest/gb28181` are filed.
pub const GB28181_TOPIC: &str = "POST /api/v1/ingest/gb28181";

/// Routes of this area.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(gb28181))
}

/// Takes a GB/T 28181 alarm `<Notify>` (MANSCDP XML) as an alert.
///
/// The body is read as raw bytes in the encoding its XML prologue declares (GB2312/GBK/GB18030, or UTF-8); the content
/// type is not looked at, since platforms send `Application/MANSCDP+xml`, `text/xml` and
/// others. A body that cannot be understood is answered 422 with the reason and kept as a
/// dead letter (topic `POST /api/v1/ingest/gb28181`).
#[utoipa::path(
    post,
    path = "/api/v1/ingest/gb28181",
    tag = "ingest",
    request_body(content = String, content_type = "application/xml",
        description = "The `<Notify>` document with `<CmdType>Alarm</CmdType>`, as the platform sends it."),
    responses((status = 202, description = "Taken as an alert; dispatching goes on.",
        body = AlertAccepted))
)]
async fn gb28181(
    _: Operator,
    State(st): State<AppState>,
    body: Bytes,
) -> Result<(StatusCode, Json<AlertAccepted>), ApiError> {
    let result = match st.ingest.gb28181_alert(&body).await {
        Ok(alert) => st.dispatcher.alert(alert).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(outcome) => Ok((StatusCode::ACCEPTED, Json(outcome.into()))),
        Err(DispatchError::Invalid(reason)) => {
            st.ingest
                .record_dead_letter(GB28181_TOPIC, &body, &reason)
                .await;
            Err(ApiError::Unprocessable(reason))
        }
        Err(other) => Err(other.into()),
    }
}
