//! The list of pictures taken for incidents (the JPEGs themselves are files; see
//! `video::snapshots`).

use serde::Serialize;
use sqlx::FromRow;

use super::{Store, StoreError};

/// One stored snapshot of an incident.
#[derive(Debug, Clone, PartialEq, Eq, FromRow, Serialize)]
pub struct SnapshotRow {
    /// Its incident.
    pub incident_id: String,
    /// Number within the incident, from 1.
    pub n: i64,
    /// The camera it shows.
    pub camera_id: String,
    /// When it was stored, Unix ms.
    pub taken_at: i64,
    /// `stream` (a frame of the camera's stream) or `frigate` (Frigate's picture).
    pub source: String,
    /// Size of the JPEG file.
    pub bytes: i64,
    /// Picture width in pixels, when the JPEG header says.
    pub width: Option<i64>,
    /// Picture height in pixels, when the JPEG header says.
    pub height: Option<i64>,
}

const SNAPSHOT_COLUMNS: &str = "incident_id, n, camera_id, taken_at, source, bytes, width, height";

impl Store {
    /// The number the next snapshot of `incident_id` gets. Only one writer allocates them
    /// (the snapshot service), so reading and then inserting does not race.
    pub async fn next_snapshot_n(&self, incident_id: &str) -> Result<i64, StoreError> {
        let (n,): (i64,) =
            sqlx::query_as("SELECT COALESCE(MAX(n), 0) + 1 FROM snapshots WHERE incident_id = $1")
                .bind(incident_id)
                .fetch_one(&self.pool)
                .await?;
        Ok(n)
    }

    /// Records a snapshot whose file is already in place.
    pub async fn insert_snapshot(&self, s: &SnapshotRow) -> Result<(), StoreError> {
        sqlx::query(&format!(
            "INSERT INTO snapshots ({SNAPSHOT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        ))
        .bind(&s.incident_id)
        .bind(s.n)
        .bind(&s.camera_id)
        .bind(s.taken_at)
        .bind(&s.source)
        .bind(s.bytes)
        .bind(s.width)
        .bind(s.height)
        .execute(&self.pool)
        .await
        .map_err(|e| {
            StoreError::on_unique(e, || {
                format!("snapshot {} of incident {} exists", s.n, s.incident_id)
            })
        })?;
        Ok(())
    }

    /// Snapshots of one incident, in order.
    pub async fn snapshots_of(&self, incident_id: &str) -> Result<Vec<SnapshotRow>, StoreError> {
        Ok(sqlx::query_as(&format!(
            "SELECT {SNAPSHOT_COLUMNS} FROM snapshots WHERE incident_id = $1 ORDER BY n"
        ))
        .bind(incident_id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// One snapshot.
    pub async fn snapshot(&self, incident_id: &str, n: i64) -> Result<SnapshotRow, StoreError> {
        sqlx::query_as(&format!(
            "SELECT {SNAPSHOT_COLUMNS} FROM snapshots WHERE incident_id = $1 AND n = $2"
        ))
        .bind(incident_id)
        .bind(n)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("snapshot {n} of incident {incident_id}")))
    }

    /// Snapshots of every incident not closed or cancelled (for the dispatcher's start-up:
    /// open tasks carry them).
    pub async fn snapshots_of_open_incidents(&self) -> Result<Vec<SnapshotRow>, StoreError> {
        Ok(sqlx::query_as(&format!(
            "SELECT {SNAPSHOT_COLUMNS} FROM snapshots WHERE incident_id IN
             (SELECT id FROM incidents WHERE state IN ({}))
             ORDER BY incident_id, n",
            super::incidents::open_states_sql()
        ))
        .fetch_all(&self.pool)
        .await?)
    }
}
