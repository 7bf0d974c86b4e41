//! The dead-letter store: messages that could not be understood, kept (bounded) for
//! operators to look at.

use serde::Serialize;
use sqlx::FromRow;

use super::{Flag, Store, StoreError};

/// A message that could not be understood.
#[derive(Debug, Clone, FromRow, Serialize)]
pub struct DeadLetterRow {
    /// Order of arrival.
    pub seq: i64,
    /// When, Unix ms.
    pub at: i64,
    /// Where it came from (MQTT topic or HTTP path).
    pub topic: String,
    /// The bytes, cut to the configured bound.
    #[serde(skip)]
    pub payload: Vec<u8>,
    /// Whether the payload was cut.
    #[sqlx(try_from = "Flag")]
    pub truncated: bool,
    /// What was wrong.
    pub reason: String,
}

impl Store {
    /// Keeps a message that could not be understood.
    pub async fn dead_letter(
        &self,
        topic: &str,
        payload: &[u8],
        max_bytes: usize,
        reason: &str,
    ) -> Result<(), StoreError> {
        let cut = payload.len() > max_bytes;
        sqlx::query("INSERT INTO dead_letters (at, topic, payload, truncated, reason) VALUES ($1, $2, $3, $4, $5)")
            .bind(super::now_ms())
            .bind(topic)
            .bind(&payload[..payload.len().min(max_bytes)])
            .bind(cut)
            .bind(reason)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Deletes all but the newest `keep_rows` dead letters, and those stored before
    /// `before_ms`; returns how many went. The table is bounded by this very prune, so
    /// the scan for old rows stays small.
    pub async fn prune_dead_letters(
        &self,
        keep_rows: i64,
        before_ms: i64,
    ) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "DELETE FROM dead_letters
             WHERE seq <= COALESCE(
                 (SELECT seq FROM dead_letters ORDER BY seq DESC LIMIT 1 OFFSET $1), -1)
                OR at < $2",
        )
        .bind(keep_rows)
        .bind(before_ms)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    /// The newest dead letters, newest first.
    /// Newest first; `before` = the `seq` of the last row of the page before.
    pub async fn dead_letters(
        &self,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<DeadLetterRow>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT seq, at, topic, payload, truncated, reason FROM dead_letters \
             WHERE seq < $1 ORDER BY seq DESC LIMIT $2",
        )
        .bind(before.unwrap_or(i64::MAX))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }
}
