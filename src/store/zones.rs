//! Coverage zones: grids (网格) and patrol beats, with their GeoJSON shapes.

use sqlx::FromRow;

use super::rows::decode_all;
use super::{now_ms, one_row, Store, StoreError};
use crate::domain::ZoneKind;

/// A stored zone.
#[derive(Debug, Clone, FromRow)]
pub struct ZoneRow {
    /// Zone id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// `grid` or `beat`.
    pub kind: ZoneKind,
    /// GeoJSON geometry, as text.
    pub geometry: String,
    /// Other Feature properties, JSON object text.
    pub properties: String,
}

impl Store {
    /// All zones, by id.
    pub async fn zones(&self) -> Result<Vec<ZoneRow>, StoreError> {
        let rows =
            sqlx::query("SELECT id, name, kind, geometry, properties FROM zones ORDER BY id")
                .fetch_all(&self.pool)
                .await?;
        decode_all(rows, "zones", "id")
    }

    /// One zone, if it exists.
    pub async fn zone(&self, id: &str) -> Result<Option<ZoneRow>, StoreError> {
        let row =
            sqlx::query("SELECT id, name, kind, geometry, properties FROM zones WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(decode_all(row.into_iter().collect(), "zones", "id")?.pop())
    }

    /// Whether a zone with this id exists.
    pub async fn zone_exists(&self, id: &str) -> Result<bool, StoreError> {
        Ok(sqlx::query("SELECT 1 FROM zones WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .is_some())
    }

    /// Inserts zones in one transaction (all or nothing); `replace` overwrites existing ids.
    pub async fn put_zones(&self, zones: &[ZoneRow], replace: bool) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let now = now_ms();
        for z in zones {
            let sql = if replace {
                "INSERT INTO zones (id, name, kind, geometry, properties, updated_at) VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name, kind = excluded.kind,
                 geometry = excluded.geometry, properties = excluded.properties, updated_at = excluded.updated_at"
            } else {
                "INSERT INTO zones (id, name, kind, geometry, properties, updated_at) VALUES ($1, $2, $3, $4, $5, $6)"
            };
            sqlx::query(sql)
                .bind(&z.id)
                .bind(&z.name)
                .bind(z.kind.as_str())
                .bind(&z.geometry)
                .bind(&z.properties)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(|e| {
                    StoreError::on_unique(e, || format!("zone {} already exists", z.id))
                })?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Replaces an existing zone.
    pub async fn update_zone(&self, z: &ZoneRow) -> Result<(), StoreError> {
        let done = sqlx::query(
            "UPDATE zones SET name = $1, kind = $2, geometry = $3, properties = $4, updated_at = $5 WHERE id = $6",
        )
        .bind(&z.name)
        .bind(z.kind.as_str())
        .bind(&z.geometry)
        .bind(&z.properties)
        .bind(now_ms())
        .bind(&z.id)
        .execute(&self.pool)
        .await?;
        one_row(&done, || format!("zone {}", z.id))
    }

    /// Deletes a zone; responders and cameras in it keep working without a zone.
    pub async fn delete_zone(&self, id: &str) -> Result<(), StoreError> {
        let done = sqlx::query("DELETE FROM zones WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        one_row(&done, || format!("zone {id}"))
    }
}
