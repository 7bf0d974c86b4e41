//! Alert sources (sensors, camera analytics, call takers), each with its MQTT login.

use serde::Serialize;
use sqlx::FromRow;

use super::accounts::{put_account, source_username, MqttCredentials};
use super::{now_ms, Store, StoreError};
use crate::domain::AccountKind;

/// A stored alert source.
#[derive(Debug, Clone, FromRow, Serialize, utoipa::ToSchema)]
pub struct SourceRow {
    /// Source id.
    pub id: String,
    /// Display name.
    pub name: String,
}

impl Store {
    /// Creates a source and its MQTT login.
    pub async fn create_source(&self, id: &str, name: &str) -> Result<MqttCredentials, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("INSERT INTO sources (id, name, created_at) VALUES ($1, $2, $3)")
            .bind(id)
            .bind(name)
            .bind(now_ms())
            .execute(&mut *tx)
            .await
            .map_err(|e| StoreError::on_unique(e, || format!("source {id} already exists")))?;
        let creds = put_account(&mut tx, &source_username(id), AccountKind::Source, id).await?;
        tx.commit().await?;
        Ok(creds)
    }

    /// All sources.
    pub async fn sources(&self) -> Result<Vec<SourceRow>, StoreError> {
        Ok(sqlx::query_as("SELECT id, name FROM sources ORDER BY id")
            .fetch_all(&self.pool)
            .await?)
    }

    /// Whether a source exists.
    pub async fn source_exists(&self, id: &str) -> Result<bool, StoreError> {
        Ok(sqlx::query("SELECT 1 FROM sources WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .is_some())
    }
}
