//! The SQL of replicas (`crate::cluster`): the leader lock and record, the fence every
//! engine commit checks, and NOTIFY. PostgreSQL only; these run on connections of their
//! own, apart from the pool, because an advisory lock lives as long as its connection.

use sqlx::PgConnection;

use super::StoreError;

/// Takes the advisory lock `key` if it is free and records this replica as the leader with
/// the next epoch; `None` when another replica holds the lock.
pub async fn lead(
    conn: &mut PgConnection,
    key: i64,
    replica: &str,
    http_url: &str,
) -> Result<Option<i64>, sqlx::Error> {
    let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
        .bind(key)
        .fetch_one(&mut *conn)
        .await?;
    if !got {
        return Ok(None);
    }
    let epoch: i64 = sqlx::query_scalar(
        "INSERT INTO cluster_leader (id, epoch, replica, http_url, since) \
         VALUES (1, 1, $1, $2, $3) \
         ON CONFLICT (id) DO UPDATE SET epoch = cluster_leader.epoch + 1, \
         replica = EXCLUDED.replica, http_url = EXCLUDED.http_url, since = EXCLUDED.since \
         RETURNING epoch",
    )
    .bind(replica)
    .bind(http_url)
    .bind(super::now_ms())
    .fetch_one(&mut *conn)
    .await?;
    Ok(Some(epoch))
}

/// Whether the connection (and so the lock it holds) is still there.
pub async fn ping(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT 1").execute(conn).await.map(|_| ())
}

/// The current leader: `(epoch, replica, http_url)`, or `None` before anyone led.
pub async fn current(
    conn: &mut PgConnection,
) -> Result<Option<(i64, String, String)>, sqlx::Error> {
    sqlx::query_as("SELECT epoch, replica, http_url FROM cluster_leader WHERE id = 1")
        .fetch_optional(conn)
        .await
}

/// Sends `payload` on the NOTIFY `channel`.
pub async fn notify(
    conn: &mut PgConnection,
    channel: &str,
    payload: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(channel)
        .bind(payload)
        .execute(conn)
        .await
        .map(|_| ())
}

/// Inside a writing transaction: fails unless `epoch` is still the leader's. The row is
/// share-locked until the transaction ends, so a new leader cannot bump the epoch in the
/// middle of it: a deposed leader's commit is refused, never interleaved with its
/// successor's.
pub(super) async fn check_fence(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    epoch: i64,
) -> Result<(), StoreError> {
    let now: Option<i64> =
        sqlx::query_scalar("SELECT epoch FROM cluster_leader WHERE id = 1 FOR SHARE")
            .fetch_optional(&mut **tx)
            .await?;
    if now == Some(epoch) {
        Ok(())
    } else {
        Err(StoreError::Fenced(format!(
            "this replica no longer leads (its epoch {epoch}, now {now:?})"
        )))
    }
}
