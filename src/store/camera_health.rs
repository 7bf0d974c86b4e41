//! Camera health: the status Frigate or the stream prober reported, what the last probe
//! learnt of the stream, and the history of status changes.

use serde::Serialize;
use sqlx::FromRow;

use super::cameras::{CameraRow, CAMERA_COLUMNS};
use super::rows::{decode_all, decode_opt};
use super::{Store, StoreError};
use crate::domain::camera_health::CameraStatus;

/// A camera's health as stored.
#[derive(Debug, Clone, FromRow, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct CameraHealthRow {
    /// online, offline or unknown.
    pub status: CameraStatus,
    /// When it took that status, Unix ms.
    pub status_since: Option<i64>,
    /// When it was last seen working (Frigate said online, or a probe decoded video), Unix ms.
    pub last_seen: Option<i64>,
    /// Reason of the last offline or unknown.
    pub last_error: Option<String>,
}

/// What the last successful probe of a camera's stream learnt; every field NULL until one
/// succeeds, kept while the camera is offline.
#[derive(Debug, Clone, Default, FromRow, Serialize, PartialEq, utoipa::ToSchema)]
pub struct CameraStreamRow {
    /// Codec as GStreamer describes it, e.g. `H.264 (Main Profile)`.
    pub codec: Option<String>,
    /// Frame width, pixels.
    pub width: Option<i64>,
    /// Frame height, pixels.
    pub height: Option<i64>,
    /// Frames per second.
    pub fps: Option<f64>,
    /// Encoded video, bits per second.
    pub bitrate: Option<i64>,
    /// When the probe that learnt this ran, Unix ms.
    pub probed_at: Option<i64>,
}

impl CameraStreamRow {
    /// The row for what a probe at `at_ms` learnt.
    pub fn probed(facts: &crate::domain::camera_health::StreamFacts, at_ms: i64) -> Self {
        CameraStreamRow {
            codec: facts.codec.clone(),
            width: facts.width,
            height: facts.height,
            fps: facts.fps,
            bitrate: facts.bitrate,
            probed_at: Some(at_ms),
        }
    }
}

/// A camera with its health, as the API shows it.
#[derive(Debug, Clone, FromRow, Serialize, utoipa::ToSchema)]
pub struct CameraView {
    /// The configured fields.
    #[sqlx(flatten)]
    #[serde(flatten)]
    pub camera: CameraRow,
    /// Health.
    #[sqlx(flatten)]
    #[serde(flatten)]
    pub health: CameraHealthRow,
    /// What the stream is, from the last successful probe.
    #[sqlx(flatten)]
    #[serde(flatten)]
    pub stream: CameraStreamRow,
}

/// One status change of a camera.
#[derive(Debug, Clone, FromRow, Serialize, utoipa::ToSchema)]
pub struct CameraHistoryRow {
    /// Order of the changes.
    pub seq: i64,
    /// Camera.
    pub camera_id: String,
    /// When, Unix ms.
    pub at: i64,
    /// The new status.
    pub status: CameraStatus,
    /// Why.
    pub reason: Option<String>,
}

/// A camera's new health, to store.
#[derive(Debug, Clone, PartialEq)]
pub struct CameraStatusWrite {
    /// Camera.
    pub camera_id: String,
    /// The health after the report.
    pub health: CameraHealthRow,
    /// When the report arrived, Unix ms (the history time).
    pub at: i64,
    /// Why (history reason).
    pub reason: Option<String>,
    /// What a successful probe learnt of the stream; None leaves the stored facts alone.
    pub stream: Option<CameraStreamRow>,
}

const HEALTH_COLUMNS: &str =
    "status, status_since, last_seen, last_error, codec, width, height, fps, bitrate, probed_at";

/// Stores a camera's health, adding a history row only when the status differs from the
/// stored one. A camera deleted meanwhile is skipped (not an error).
pub(crate) async fn write_camera_status(
    conn: &mut sqlx::AnyConnection,
    w: &CameraStatusWrite,
) -> Result<(), StoreError> {
    let old: Option<(String,)> = sqlx::query_as("SELECT status FROM cameras WHERE id = $1")
        .bind(&w.camera_id)
        .fetch_optional(&mut *conn)
        .await?;
    let Some((old,)) = old else {
        return Ok(());
    };
    sqlx::query(
        "UPDATE cameras SET status = $1, status_since = $2, last_seen = $3, last_error = $4 WHERE id = $5",
    )
    .bind(w.health.status.as_str())
    .bind(w.health.status_since)
    .bind(w.health.last_seen)
    .bind(&w.health.last_error)
    .bind(&w.camera_id)
    .execute(&mut *conn)
    .await?;
    if let Some(st) = &w.stream {
        sqlx::query(
            "UPDATE cameras SET codec = $1, width = $2, height = $3, fps = $4, bitrate = $5, probed_at = $6
             WHERE id = $7",
        )
        .bind(&st.codec)
        .bind(st.width)
        .bind(st.height)
        .bind(st.fps)
        .bind(st.bitrate)
        .bind(st.probed_at)
        .bind(&w.camera_id)
        .execute(&mut *conn)
        .await?;
    }
    let first: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM camera_history WHERE camera_id = $1")
        .bind(&w.camera_id)
        .fetch_one(&mut *conn)
        .await?;
    if old != w.health.status.as_str() || first.0 == 0 {
        sqlx::query(
            "INSERT INTO camera_history (camera_id, at, status, reason) VALUES ($1, $2, $3, $4)",
        )
        .bind(&w.camera_id)
        .bind(w.at)
        .bind(w.health.status.as_str())
        .bind(&w.reason)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

impl Store {
    /// Sets a camera's health (history only on a change of status).
    pub async fn set_camera_status(&self, w: &CameraStatusWrite) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        write_camera_status(&mut tx, w).await?;
        tx.commit().await?;
        Ok(())
    }

    /// (id, stream URI) of every camera with a stream, by id: what the prober probes.
    pub async fn camera_streams(&self) -> Result<Vec<(String, String)>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT id, stream_uri FROM cameras WHERE stream_uri IS NOT NULL AND stream_uri != ''
             ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// Every camera with its health, by id.
    pub async fn camera_views(&self) -> Result<Vec<CameraView>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {CAMERA_COLUMNS}, {HEALTH_COLUMNS} FROM cameras ORDER BY id"
        ))
        .fetch_all(&self.pool)
        .await?;
        decode_all(rows, "cameras", "id")
    }

    /// One camera with its health.
    pub async fn camera_view(&self, id: &str) -> Result<CameraView, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {CAMERA_COLUMNS}, {HEALTH_COLUMNS} FROM cameras WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        decode_opt(row, "cameras", "id")?
            .ok_or_else(|| StoreError::NotFound(format!("camera {id}")))
    }

    /// A camera's status changes, newest first (404 for an unknown camera): at most
    /// `limit`, those before `seq` `before` (the last of the page before).
    pub async fn camera_history(
        &self,
        id: &str,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<CameraHistoryRow>, StoreError> {
        self.camera(id).await?;
        let rows = sqlx::query(
            "SELECT seq, camera_id, at, status, reason FROM camera_history WHERE camera_id = $1
             AND seq < $2 ORDER BY seq DESC LIMIT $3",
        )
        .bind(id)
        .bind(before.unwrap_or(i64::MAX))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        decode_all(rows, "camera_history", "seq")
    }
}
