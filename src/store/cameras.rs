//! Cameras as administrators configure them: position, stream, GB/T 28181 id, view cone,
//! and the bulk import. Their health is in `camera_health.rs`.

use serde::Serialize;
use sqlx::FromRow;

use super::{now_ms, one_row, Flag, Store, StoreError};

/// A stored camera.
#[derive(Debug, Clone, FromRow, Serialize, utoipa::ToSchema)]
pub struct CameraRow {
    /// Camera id (Frigate's camera name for Frigate cameras).
    pub id: String,
    /// Display name.
    pub name: String,
    /// Latitude.
    pub lat: f64,
    /// Longitude.
    pub lon: f64,
    /// Zone containing it.
    pub zone_id: Option<String>,
    /// Stream address.
    pub stream_uri: Option<String>,
    /// GB/T 28181 device id (20 digits), unique among cameras; GB/T 28181 alarms naming
    /// it are placed at this camera.
    pub gb28181_id: Option<String>,
    /// Direction the camera looks, degrees clockwise from north (0–360), when known.
    pub heading: Option<f64>,
    /// Field of view, degrees (1–360), when known.
    pub fov: Option<f64>,
    /// Whether the camera publishes ONVIF analytics metadata itself.
    #[sqlx(try_from = "Flag")]
    pub onvif_metadata: bool,
}

/// What a camera import stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ImportCounts {
    /// Cameras that did not exist before.
    pub created: usize,
    /// Existing cameras overwritten.
    pub updated: usize,
}

pub(super) const CAMERA_COLUMNS: &str =
    "id, name, lat, lon, zone_id, stream_uri, gb28181_id, heading, fov, onvif_metadata";

impl Store {
    /// Creates a camera.
    pub async fn create_camera(&self, c: &CameraRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO cameras (id, name, lat, lon, zone_id, stream_uri, gb28181_id, heading, fov,
             onvif_metadata, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(&c.id)
        .bind(&c.name)
        .bind(c.lat)
        .bind(c.lon)
        .bind(&c.zone_id)
        .bind(&c.stream_uri)
        .bind(&c.gb28181_id)
        .bind(c.heading)
        .bind(c.fov)
        .bind(c.onvif_metadata)
        .bind(now_ms())
        .execute(&self.pool)
        .await
        .map_err(|e| camera_error(e, c))?;
        Ok(())
    }

    /// One camera.
    pub async fn camera(&self, id: &str) -> Result<CameraRow, StoreError> {
        sqlx::query_as(&format!(
            "SELECT {CAMERA_COLUMNS} FROM cameras WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("camera {id}")))
    }

    /// Overwrites every field of an existing camera.
    pub async fn update_camera(&self, c: &CameraRow) -> Result<(), StoreError> {
        let done = sqlx::query(
            "UPDATE cameras SET name = $1, lat = $2, lon = $3, zone_id = $4, stream_uri = $5, gb28181_id = $6,
             heading = $7, fov = $8, onvif_metadata = $9 WHERE id = $10",
        )
        .bind(&c.name)
        .bind(c.lat)
        .bind(c.lon)
        .bind(&c.zone_id)
        .bind(&c.stream_uri)
        .bind(&c.gb28181_id)
        .bind(c.heading)
        .bind(c.fov)
        .bind(c.onvif_metadata)
        .bind(&c.id)
        .execute(&self.pool)
        .await
        .map_err(|e| camera_error(e, c))?;
        one_row(&done, || format!("camera {}", c.id))
    }

    /// Deletes a camera. Alerts that named it keep its id and their own position.
    pub async fn delete_camera(&self, id: &str) -> Result<(), StoreError> {
        let done = sqlx::query("DELETE FROM cameras WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        one_row(&done, || format!("camera {id}"))
    }

    /// Creates or overwrites cameras in one transaction: all of them or none.
    ///
    /// The rows must already be checked (ids unique among them); a clash with a camera
    /// stored meanwhile still fails the whole import as a conflict.
    pub async fn import_cameras(&self, rows: &[CameraRow]) -> Result<ImportCounts, StoreError> {
        // No other writer of cameras between the read of the existing ids and the upserts,
        // so the created/updated counts are right.
        let mut tx = self.begin_write("cameras").await?;
        let existing: Vec<(String, Option<String>)> =
            sqlx::query_as("SELECT id, gb28181_id FROM cameras")
                .fetch_all(&mut *tx)
                .await?;
        let existing: std::collections::HashMap<String, Option<String>> =
            existing.into_iter().collect();
        // Device ids may move between cameras of the same import (a swap); the unique index
        // is checked per statement, so first take them off the cameras whose id changes.
        for c in rows {
            if let Some(Some(old)) = existing.get(&c.id) {
                if c.gb28181_id.as_deref() != Some(old.as_str()) {
                    sqlx::query("UPDATE cameras SET gb28181_id = NULL WHERE id = $1")
                        .bind(&c.id)
                        .execute(&mut *tx)
                        .await?;
                }
            }
        }
        let now = now_ms();
        let mut counts = ImportCounts {
            created: 0,
            updated: 0,
        };
        for c in rows {
            // One SQL text for every row, so sqlx prepares it once and reuses the statement.
            sqlx::query(
                "INSERT INTO cameras (id, name, lat, lon, zone_id, stream_uri, gb28181_id, heading, fov,
                 onvif_metadata, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name, lat = excluded.lat,
                 lon = excluded.lon, zone_id = excluded.zone_id, stream_uri = excluded.stream_uri,
                 gb28181_id = excluded.gb28181_id, heading = excluded.heading, fov = excluded.fov,
                 onvif_metadata = excluded.onvif_metadata",
            )
            .bind(&c.id)
            .bind(&c.name)
            .bind(c.lat)
            .bind(c.lon)
            .bind(&c.zone_id)
            .bind(&c.stream_uri)
            .bind(&c.gb28181_id)
            .bind(c.heading)
            .bind(c.fov)
            .bind(c.onvif_metadata)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(|e| camera_error(e, c))?;
            if existing.contains_key(&c.id) {
                counts.updated += 1;
            } else {
                counts.created += 1;
            }
        }
        tx.commit().await?;
        Ok(counts)
    }

    /// All cameras.
    pub async fn cameras(&self) -> Result<Vec<CameraRow>, StoreError> {
        Ok(
            sqlx::query_as(&format!("SELECT {CAMERA_COLUMNS} FROM cameras ORDER BY id"))
                .fetch_all(&self.pool)
                .await?,
        )
    }

    /// `(id, stream_uri)` of the cameras flagged `onvif_metadata` that have a stream, by id:
    /// the ONVIF metadata sessions wanted. Only these two columns, since the set is re-read
    /// periodically.
    pub async fn onvif_cameras(&self) -> Result<Vec<(String, String)>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT id, stream_uri FROM cameras
             WHERE onvif_metadata AND stream_uri IS NOT NULL AND stream_uri <> ''
             ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// The camera with this GB/T 28181 device id, if one is registered.
    pub async fn camera_by_gb28181_id(
        &self,
        gb28181_id: &str,
    ) -> Result<Option<CameraRow>, StoreError> {
        Ok(sqlx::query_as(&format!(
            "SELECT {CAMERA_COLUMNS} FROM cameras WHERE gb28181_id = $1"
        ))
        .bind(gb28181_id)
        .fetch_optional(&self.pool)
        .await?)
    }
}

/// Names what clashed when a camera could not be written.
fn camera_error(e: sqlx::Error, c: &CameraRow) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
            StoreError::NotFound(format!("zone {}", c.zone_id.as_deref().unwrap_or("")))
        }
        // Two unique keys: SQLite names the column that clashed in its message.
        sqlx::Error::Database(db) if db.message().contains("gb28181_id") => {
            StoreError::on_unique(e, || {
                format!(
                    "a camera with gb28181_id {} already exists",
                    c.gb28181_id.as_deref().unwrap_or("")
                )
            })
        }
        _ => StoreError::on_unique(e, || format!("camera {} already exists", c.id)),
    }
}
