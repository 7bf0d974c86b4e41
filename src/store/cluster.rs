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
    mqtt_client_id: &str,
) -> Result<Option<i64>, sqlx::Error> {
    let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
        .bind(key)
        .fetch_one(&mut *conn)
        .await?;
    if !got {
        return Ok(None);
    }
    let epoch: i64 = sqlx::query_scalar(
        "INSERT INTO cluster_leader (id, epoch, replica, http_url, since, mqtt_client_id) \
         VALUES (1, 1, $1, $2, $3, $4) \
         ON CONFLICT (id) DO UPDATE SET epoch = cluster_leader.epoch + 1, \
         replica = EXCLUDED.replica, http_url = EXCLUDED.http_url, since = EXCLUDED.since, \
         mqtt_client_id = EXCLUDED.mqtt_client_id \
         RETURNING epoch",
    )
    .bind(replica)
    .bind(http_url)
    .bind(super::now_ms())
    .bind(mqtt_client_id)
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

/// The leader record as the other replicas check it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LeaderRecord {
    /// Epoch of the lead.
    pub epoch: i64,
    /// The leading replica's name.
    pub replica: String,
    /// The MQTT client id it connects with ('' when recorded by an older version).
    pub mqtt_client_id: String,
    /// Whether some connection holds the leader lock `key` now, i.e. whether a leader is
    /// alive (the record stays after its leader died, until the next one takes over).
    pub lock_held: bool,
}

/// The leader record, with whether the advisory lock `key` is held in this database (other
/// databases on the server have locks of the same key); `None` before anyone led.
/// PostgreSQL shows a bigint advisory key as its high half in `classid`, its low half in
/// `objid`, and `objsubid = 1`.
pub async fn leader_record(
    conn: &mut PgConnection,
    key: i64,
) -> Result<Option<LeaderRecord>, sqlx::Error> {
    sqlx::query_as(
        "SELECT epoch, replica, mqtt_client_id, EXISTS (SELECT 1 FROM pg_locks \
           WHERE locktype = 'advisory' AND granted AND objsubid = 1 \
             AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
             AND classid::bigint = ($1 >> 32) AND objid::bigint = ($1 & 4294967295)) AS lock_held \
         FROM cluster_leader WHERE id = 1",
    )
    .bind(key)
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
