//! All SQL lives here. The rest of the program sees typed rows and a handful of
//! operations; `Write` batches let the dispatcher commit one decision atomically.

mod config_data;
mod incidents;
mod secrets;
mod snapshots;
mod users;

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;

pub use config_data::*;
pub use incidents::*;
pub use secrets::{hash_secret, mosquitto_hash, new_secret, verify_secret, MOSQUITTO_ITERATIONS};
pub use snapshots::SnapshotRow;
pub use users::*;

/// A storage failure, sorted by what the caller should do about it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique key already exists (maps to 409).
    #[error("{0}")]
    Conflict(String),
    /// The referenced row does not exist (maps to 404).
    #[error("{0} not found")]
    NotFound(String),
    /// Anything else from the database (maps to 500, logged, never shown).
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

impl StoreError {
    /// Turns a unique-constraint violation into `Conflict(msg)`, leaving other errors as they are.
    pub(crate) fn on_unique(e: sqlx::Error, msg: impl FnOnce() -> String) -> StoreError {
        match &e {
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(msg()),
            _ => StoreError::Db(e),
        }
    }
}

/// `Ok` when a statement touched a row, else `NotFound(what)`: for updates and deletes
/// by id.
pub(crate) fn one_row(
    done: &sqlx::sqlite::SqliteQueryResult,
    what: impl FnOnce() -> String,
) -> Result<(), StoreError> {
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound(what()));
    }
    Ok(())
}

/// Handle on the database; cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    /// The connection pool.
    pool: SqlitePool,
}

pub use crate::clock::now_ms;

impl Store {
    /// Opens (creating the file and its folder when missing) and migrates the database.
    pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<Store> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| anyhow::anyhow!("database.url {url:?}: {e}"))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // WAL + NORMAL survives a process kill (-9) without losing committed data; only
            // an OS crash or power cut can lose the last transactions.
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        if let Some(dir) = std::path::Path::new(options.get_filename()).parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir).map_err(|e| {
                    anyhow::anyhow!("database.url {url:?}: cannot create {}: {e}", dir.display())
                })?;
            }
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await
            .map_err(|e| anyhow::anyhow!("database.url {url:?}: cannot open: {e}"))?;
        sqlx::migrate!("./migrations")
            .run(&pool)
            .await
            .map_err(|e| anyhow::anyhow!("database.url {url:?}: migration failed: {e}"))?;
        Ok(Store { pool })
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Closes the pool, waiting for running queries.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}
