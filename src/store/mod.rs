//! All SQL lives here. The rest of the program sees typed rows and a handful of
//! operations; `Write` batches let the dispatcher commit one decision atomically.

mod accounts;
mod audit;
mod camera_health;
mod cameras;
pub mod cluster;
mod dead_letters;
mod incidents;
mod merchants;
mod outbox;
mod passwords;
pub mod points;
mod reports;
mod responders;
mod rows;
mod secrets;
mod snapshots;
mod sources;
mod tokens;
mod users;
mod writes;
mod zones;

use std::str::FromStr;
use std::sync::Once;
use std::time::Duration;

use sqlx::any::{AnyPoolOptions, AnyQueryResult, AnyTypeInfo, AnyTypeInfoKind};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Any, AnyPool, Decode, Executor, Type, ValueRef};

pub use accounts::{source_username, AccountOwner, MqttAccountRow, MqttCredentials};
pub use audit::{
    AuditBudget, AuditFilter, AuditQueue, AuditRow, NewAuditEntry, ANONYMOUS_PER_MINUTE,
};
pub use camera_health::{
    CameraHealthRow, CameraHistoryRow, CameraStatusWrite, CameraStreamRow, CameraView,
};
pub use cameras::{CameraRow, ImportCounts};
pub use dead_letters::DeadLetterRow;
pub use incidents::{AlertRow, IncidentRow, Milestones, TaskRow, TimelineRow};
pub use merchants::{MerchantError, MerchantRow, NewMerchant, NewOffer, OfferRow};
pub use outbox::Outgoing;
pub use passwords::{check_password, hash_password, PasswordChecks, MIN_PASSWORD_CHARS};
pub use responders::{NewResponder, ResponderRow};
pub use secrets::{hash_secret, mosquitto_hash, new_secret, verify_secret, MOSQUITTO_ITERATIONS};
pub use snapshots::SnapshotRow;
pub use sources::SourceRow;
pub use users::{check_username, SessionUser, UserChange, UserError, UserRow};
pub use writes::Write;
pub use zones::ZoneRow;

/// A storage failure, sorted by what the caller should do about it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique key already exists (maps to 409).
    #[error("{0}")]
    Conflict(String),
    /// The referenced row does not exist (maps to 404).
    #[error("{0} not found")]
    NotFound(String),
    /// A replica's engine wrote after it lost the lead; it must stop deciding.
    #[error("{0}")]
    Fenced(String),
    /// Too much of a bounded resource is in use (e.g. password checks); try again soon
    /// (maps to 429).
    #[error("busy: {0}")]
    Busy(String),
    /// A row holds a value the schema should never hold, such as a state no incident can
    /// be in (maps to 500, logged, never shown). The message names the table, the row and
    /// the value: `incidents row inc-123: state "bogus" is not an incident state`.
    #[error("{table} row {id}: {problem}")]
    BadRow {
        /// The table.
        table: &'static str,
        /// The row's id.
        id: String,
        /// The column and what is wrong with its value.
        problem: String,
    },
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

/// `None` for a lookup that found nothing; other errors stay errors. For reads that only
/// describe a change (the audit log's "before"), so that a missing thing still gets the
/// answer the change itself gives.
pub fn found<T>(r: Result<T, StoreError>) -> Result<Option<T>, StoreError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(StoreError::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// `Ok` when a statement touched a row, else `NotFound(what)`: for updates and deletes
/// by id.
pub(crate) fn one_row(
    done: &AnyQueryResult,
    what: impl FnOnce() -> String,
) -> Result<(), StoreError> {
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound(what()));
    }
    Ok(())
}

/// Which database a [`Store`] talks to: the settings name it, from `database.url`.
pub use crate::config::Backend;

/// A boolean column as read through sqlx's `Any` driver. PostgreSQL columns are `BOOLEAN`,
/// but SQLite has no boolean type: its 0/1 integers reach `Any` as integers, which `bool`
/// refuses to decode. Rows declare such fields `#[sqlx(try_from = "Flag")]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flag(pub bool);

impl From<Flag> for bool {
    fn from(f: Flag) -> bool {
        f.0
    }
}

impl Type<Any> for Flag {
    fn type_info() -> AnyTypeInfo {
        <bool as Type<Any>>::type_info()
    }

    fn compatible(ty: &AnyTypeInfo) -> bool {
        ty.kind() == AnyTypeInfoKind::Bool || ty.kind().is_integer()
    }
}

impl<'r> Decode<'r, Any> for Flag {
    fn decode(value: sqlx::any::AnyValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        if value.type_info().kind() == AnyTypeInfoKind::Bool {
            <bool as Decode<Any>>::decode(value).map(Flag)
        } else {
            <i64 as Decode<Any>>::decode(value).map(|i| Flag(i != 0))
        }
    }
}

/// Handle on the database; cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    /// The connection pool; one code path for both backends, queries written in the SQL
    /// both accept (`$1` placeholders, `ON CONFLICT`, `TRUE`/`FALSE`).
    pool: AnyPool,
    /// Which database the pool talks to.
    backend: Backend,
    /// With replicas: the leader's epoch, which every engine commit checks; 0 = none.
    fence: std::sync::Arc<std::sync::atomic::AtomicI64>,
    /// The bound on argon2 work (console passwords), shared by every clone.
    password_checks: std::sync::Arc<PasswordChecks>,
}

pub use crate::clock::now_ms;

/// The SQLite settings `SqliteConnectOptions` would have applied, which `Any` connections
/// (opened from the URL alone) do not: WAL + NORMAL survives a process kill (-9) without
/// losing committed data (only an OS crash or power cut can lose the last transactions);
/// foreign keys are enforced; a writer waits for the lock instead of failing at once.
const SQLITE_PRAGMAS: &str = "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;
PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;";

/// `url` with any password replaced by `***`, for messages and logs.
fn redacted(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            // Only fails for URLs that cannot have a password, which this one has.
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_owned(),
    }
}

impl Store {
    /// Connects to the database `url` names (`sqlite:` or `postgres:`) and migrates it. An
    /// SQLite file and its folder are created when missing; a PostgreSQL database must exist.
    pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<Store> {
        static DRIVERS: Once = Once::new();
        DRIVERS.call_once(sqlx::any::install_default_drivers);
        // Errors quote the URL to name what failed, never a password in it.
        let shown = redacted(url);
        let url_for_errors = shown.as_str();
        let backend = Backend::of_url(url).ok_or_else(|| {
            anyhow::anyhow!("database.url {url_for_errors:?}: expected sqlite:… or postgres://…")
        })?;
        let mut any_url = url.to_owned();
        if backend == Backend::Sqlite {
            let options = SqliteConnectOptions::from_str(url)
                .map_err(|e| anyhow::anyhow!("database.url {url_for_errors:?}: {e}"))?;
            if let Some(dir) = std::path::Path::new(options.get_filename()).parent() {
                if !dir.as_os_str().is_empty() {
                    std::fs::create_dir_all(dir).map_err(|e| {
                        anyhow::anyhow!(
                            "database.url {url_for_errors:?}: cannot create {}: {e}",
                            dir.display()
                        )
                    })?;
                }
            }
            // `Any` opens SQLite from the URL alone: `mode=rwc` is how a URL says "create".
            if !url.contains("mode=") {
                any_url.push(if url.contains('?') { '&' } else { '?' });
                any_url.push_str("mode=rwc");
            }
        }
        let pool = AnyPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        conn.execute(SQLITE_PRAGMAS).await?;
                    }
                    Ok(())
                })
            })
            .connect(&any_url)
            .await
            .map_err(|e| anyhow::anyhow!("database.url {url_for_errors:?}: cannot open: {e}"))?;
        // Two histories of the same schema, in each database's types. Versions match, so a
        // change is one file in each folder under the same number.
        let migrator = match backend {
            Backend::Sqlite => sqlx::migrate!("./migrations/sqlite"),
            Backend::Postgres => sqlx::migrate!("./migrations/postgres"),
        };
        migrator.run(&pool).await.map_err(|e| {
            anyhow::anyhow!("database.url {url_for_errors:?}: migration failed: {e}")
        })?;
        tracing::info!(
            backend = backend.as_str(),
            url = url_for_errors,
            "database ready"
        );
        Ok(Store {
            pool,
            backend,
            fence: Default::default(),
            password_checks: Default::default(),
        })
    }

    /// This store with at most `limit` argon2 computations at once (0 = one per CPU core);
    /// set once, before the store is cloned.
    pub fn with_password_check_limit(mut self, limit: usize) -> Store {
        self.password_checks = std::sync::Arc::new(PasswordChecks::new(limit));
        self
    }

    /// The bound on password checks and its counters.
    pub fn password_checks(&self) -> &PasswordChecks {
        &self.password_checks
    }

    /// From now on, the engine's commits ([`Store::apply`]) go through only while `epoch`
    /// is the leader's (replicas; `crate::cluster`).
    pub fn fence(&self, epoch: i64) {
        self.fence
            .store(epoch, std::sync::atomic::Ordering::Release);
    }

    /// Which database this store uses.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Starts a transaction that reads `table` and then writes it, with no other writer of
    /// it in between. SQLite takes its write lock first (`BEGIN IMMEDIATE`): a deferred
    /// transaction that reads and then writes fails at once under WAL when another writer
    /// got in between. PostgreSQL locks the table against other writers (readers go on).
    pub(crate) async fn begin_write(
        &self,
        table: &'static str,
    ) -> Result<sqlx::Transaction<'static, Any>, StoreError> {
        match self.backend {
            Backend::Sqlite => Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?),
            Backend::Postgres => {
                let mut tx = self.pool.begin().await?;
                sqlx::query(&format!("LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE"))
                    .execute(&mut *tx)
                    .await?;
                Ok(tx)
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_never_show_a_database_password() {
        let shown = redacted("postgres://gd:hunter22@db.example:5432/gd");
        assert!(!shown.contains("hunter22"), "{shown}");
        assert!(shown.contains("gd:***@db.example:5432/gd"), "{shown}");
        assert_eq!(redacted("sqlite://data/x.db"), "sqlite://data/x.db");
    }
}
