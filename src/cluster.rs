//! Replicas on one PostgreSQL database: which `serve` process runs the engine.
//!
//! The leader holds a session-level advisory lock on a connection of its own; PostgreSQL
//! drops the lock the moment that connection dies (the process was killed, its host went
//! away), and the next replica that asks gets it. Taking the lead bumps the `epoch` in the
//! one-row `cluster_leader` table; the engine's commits check that epoch inside their
//! transaction (`Store::apply` with a fence), so a leader that lost its lock without noticing (a
//! paused process, a partition) cannot decide next to its successor. docs/decisions.md,
//! "Replicas", has the whole plan.

use std::time::Duration;

use sqlx::{Connection, PgConnection};
use tokio_util::sync::CancellationToken;

/// The advisory lock's key: any constant shared by all replicas of one database
/// ("griddisp" in ASCII).
pub const LOCK_KEY: i64 = 0x6772_6964_6469_7370;

/// How often a follower asks for the lock, and the leader checks its lock connection.
pub const POLL: Duration = Duration::from_secs(1);

/// Who this replica is, as written to `cluster_leader` when it leads.
#[derive(Debug, Clone)]
pub struct Replica {
    /// Stable name of the replica (host name and port, or configured).
    pub id: String,
    /// Where other replicas reach its HTTP API (for requests only the leader serves).
    pub http_url: String,
    /// `mqtt.client_id`: the broker session the leader resumes. The same on every replica,
    /// which [`check_client_id`] and [`watch_leader`] enforce.
    pub mqtt_client_id: String,
}

/// This replica leads: the lock connection, and the epoch its commits must carry.
#[derive(Debug)]
pub struct Leadership {
    /// The epoch of this lead; the engine's writes check it.
    pub epoch: i64,
    /// Fires when the lead is lost (the lock connection failed); the engine must stop.
    pub lost: CancellationToken,
    /// The watchdog that keeps the lock connection open and checked.
    watchdog: tokio::task::JoinHandle<()>,
}

impl Leadership {
    /// Gives the lead up: the lock connection closes, so another replica takes over now
    /// rather than after a timeout.
    pub async fn resign(self) {
        self.lost.cancel();
        let _ = self.watchdog.await;
    }
}

/// Waits until this replica holds the lock (or `cancel` fires: `Ok(None)`), then records
/// it as the leader with a new epoch.
pub async fn acquire(
    url: &str,
    me: &Replica,
    cancel: &CancellationToken,
) -> anyhow::Result<Option<Leadership>> {
    let mut logged_wait = false;
    loop {
        if cancel.is_cancelled() {
            return Ok(None);
        }
        match try_lead(url, me).await {
            Ok(Some((conn, epoch))) => {
                tracing::info!(replica = %me.id, epoch, "this replica leads");
                let lost = cancel.child_token();
                let watchdog = tokio::spawn(watch(conn, lost.clone()));
                return Ok(Some(Leadership {
                    epoch,
                    lost,
                    watchdog,
                }));
            }
            Ok(None) => {
                if !logged_wait {
                    tracing::info!(replica = %me.id, "another replica leads; standing by");
                    logged_wait = true;
                }
            }
            Err(e) => tracing::warn!(error = %e, "leader election: database unreachable"),
        }
        tokio::select! {
            _ = cancel.cancelled() => return Ok(None),
            _ = tokio::time::sleep(POLL) => {}
        }
    }
}

/// One attempt: a fresh connection, the lock if free, then the new epoch.
async fn try_lead(url: &str, me: &Replica) -> anyhow::Result<Option<(PgConnection, i64)>> {
    let mut conn = PgConnection::connect(url).await?;
    let before = crate::store::cluster::leader_record(&mut conn, LOCK_KEY).await?;
    let led = crate::store::cluster::lead(
        &mut conn,
        LOCK_KEY,
        &me.id,
        &me.http_url,
        &me.mqtt_client_id,
    )
    .await?;
    match led {
        Some(epoch) => {
            if let Some(b) = before.filter(|b| !b.mqtt_client_id.is_empty()) {
                if b.mqtt_client_id != me.mqtt_client_id {
                    // Every replica was stopped and the id changed: allowed, but what the
                    // broker queued for the old session stays there.
                    tracing::warn!(
                        previous = %b.mqtt_client_id,
                        now = %me.mqtt_client_id,
                        "mqtt.client_id changed since the previous leader: messages the broker queued for the old session are not received"
                    );
                }
            }
            Ok(Some((conn, epoch)))
        }
        None => {
            let _ = conn.close().await;
            Ok(None)
        }
    }
}

/// Keeps the lock connection and checks it every [`POLL`]; a failed check means the lock
/// may be gone, so the lead ends (`lost`). Ending the lead closes the connection.
async fn watch(mut conn: PgConnection, lost: CancellationToken) {
    loop {
        tokio::select! {
            _ = lost.cancelled() => break,
            _ = tokio::time::sleep(POLL) => {}
        }
        let check = tokio::time::timeout(POLL * 3, crate::store::cluster::ping(&mut conn));
        if !matches!(check.await, Ok(Ok(_))) {
            tracing::error!("lost the leader lock's connection; stepping down");
            lost.cancel();
            break;
        }
    }
    let _ = tokio::time::timeout(POLL, conn.close()).await;
}

/// The NOTIFY channel that carries the leader's live events to the other replicas.
pub const LIVE_CHANNEL: &str = "griddispatch_live";

/// PostgreSQL refuses NOTIFY payloads of 8000 bytes or more.
const MAX_NOTIFY: usize = 7900;

/// Events sent in one NOTIFY at most (several fit when small, as most are).
const MAX_BATCH: usize = 200;

/// Packs events into NOTIFY payloads `{"from": id, "events": [[kind, data], …]}` of at
/// most [`MAX_NOTIFY`] bytes; an event too big even alone is left out (and logged).
fn pack(from: &str, events: Vec<(String, serde_json::Value)>) -> Vec<String> {
    let head = format!(r#"{{"from":{},"events":["#, serde_json::json!(from));
    let mut out = Vec::new();
    let mut cur = head.clone();
    for (kind, data) in events {
        let item = serde_json::json!([kind, data]).to_string();
        if head.len() + item.len() + 2 > MAX_NOTIFY {
            tracing::warn!(
                kind,
                bytes = item.len(),
                "a live event is too big to relay to the other replicas"
            );
            continue;
        }
        if cur.len() + item.len() + 3 > MAX_NOTIFY {
            cur.push_str("]}");
            out.push(std::mem::replace(&mut cur, head.clone()));
        }
        if cur.len() > head.len() {
            cur.push(',');
        }
        cur.push_str(&item);
    }
    if cur.len() > head.len() {
        cur.push_str("]}");
        out.push(cur);
    }
    out
}

/// On the leader: sends every live event to the other replicas (NOTIFY, in commit order).
/// A lost database connection is retried; what it could not send is lost for the other
/// replicas' consoles (their clients reload on reconnect), never for the dispatcher.
pub async fn relay_live(
    url: String,
    me: Replica,
    mut rx: tokio::sync::mpsc::UnboundedReceiver<(String, serde_json::Value)>,
    cancel: CancellationToken,
) -> anyhow::Result<()> {
    let mut conn: Option<PgConnection> = None;
    loop {
        // A burst of events goes out in few NOTIFYs, not one per event.
        let mut batch = Vec::new();
        tokio::select! {
            _ = cancel.cancelled() => break,
            n = rx.recv_many(&mut batch, MAX_BATCH) => if n == 0 { break },
        }
        if conn.is_none() {
            conn = PgConnection::connect(&url)
                .await
                .map_err(|e| tracing::warn!(error = %e, "live relay: database unreachable"))
                .ok();
        }
        let Some(c) = conn.as_mut() else { continue };
        for payload in pack(&me.id, batch) {
            let sent = crate::store::cluster::notify(c, LIVE_CHANNEL, &payload).await;
            if let Err(e) = sent {
                tracing::warn!(error = %e, "live relay: NOTIFY failed; reconnecting");
                conn = None;
                break;
            }
        }
    }
    Ok(())
}

#[derive(serde::Deserialize)]
struct Relayed {
    from: String,
    events: Vec<(String, serde_json::Value)>,
}

/// On every replica: feeds the leader's relayed events to this replica's live hub, so a
/// console connected anywhere sees every change. Its own relayed events (when it leads)
/// are skipped: they were published here already.
pub async fn follow_live(
    url: String,
    me: Replica,
    live: crate::live::Live,
    cancel: CancellationToken,
) -> anyhow::Result<()> {
    let mut listener = sqlx::postgres::PgListener::connect(&url).await?;
    listener.listen(LIVE_CHANNEL).await?;
    loop {
        // `recv` reconnects by itself after a lost connection.
        let n = tokio::select! {
            _ = cancel.cancelled() => return Ok(()),
            n = listener.recv() => n?,
        };
        match serde_json::from_str::<Relayed>(n.payload()) {
            Ok(r) if r.from == me.id => {}
            Ok(r) => {
                for (kind, data) in r.events {
                    live.publish_local(&kind, data);
                }
            }
            Err(e) => tracing::warn!(error = %e, "live relay: unreadable notification"),
        }
    }
}

/// The error a replica stops with when its `mqtt.client_id` is not the live leader's.
fn client_id_mismatch(me: &str, leader: &crate::store::cluster::LeaderRecord) -> anyhow::Error {
    anyhow::anyhow!(
        "mqtt.client_id: this replica has {me:?} but the leading replica {:?} uses {:?}; with \
         cluster.enabled every replica must use the same mqtt.client_id, so that the next \
         leader resumes the broker session with what arrived while nobody led (docs/deploy.md)",
        leader.replica,
        leader.mqtt_client_id
    )
}

/// The live leader's record when it uses another client id than `me`.
async fn conflicting_leader(
    conn: &mut PgConnection,
    me: &str,
) -> anyhow::Result<Option<crate::store::cluster::LeaderRecord>> {
    let r = crate::store::cluster::leader_record(conn, LOCK_KEY).await?;
    Ok(r.filter(|r| r.lock_held && !r.mqtt_client_id.is_empty() && r.mqtt_client_id != me))
}

/// At start: refuses a replica whose `mqtt.client_id` differs from the live leader's. A
/// mismatch is read twice, a poll apart, at the same epoch: right after a takeover the
/// lock is held before the record names the new leader.
pub async fn check_client_id(url: &str, me: &str) -> anyhow::Result<()> {
    let mut conn = PgConnection::connect(url).await?;
    let Some(first) = conflicting_leader(&mut conn, me).await? else {
        return Ok(());
    };
    tokio::time::sleep(POLL).await;
    let second = conflicting_leader(&mut conn, me).await?;
    let _ = conn.close().await;
    match second {
        Some(r) if r.epoch == first.epoch => Err(client_id_mismatch(me, &r)),
        _ => Ok(()),
    }
}

/// On every replica: keeps `view` told where the leader is, and stops this replica (an
/// error) when the live leader connects with another `mqtt.client_id` than `me`, which
/// two replicas started at the same moment can get past [`check_client_id`].
pub async fn watch_leader(
    url: String,
    me: Replica,
    view: std::sync::Arc<crate::http::forward::ClusterView>,
    cancel: CancellationToken,
) -> anyhow::Result<()> {
    let mut conn: Option<PgConnection> = None;
    let mut mismatch_epoch = None;
    loop {
        if conn.is_none() {
            conn = PgConnection::connect(&url).await.ok();
        }
        if let Some(c) = conn.as_mut() {
            match crate::store::cluster::current(c).await {
                Ok(leader) => view.set_leader_url(leader.map(|(_, _, url)| url)),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the current leader");
                    conn = None;
                }
            }
        }
        if let Some(c) = conn.as_mut() {
            match conflicting_leader(c, &me.mqtt_client_id).await {
                Ok(Some(r)) if mismatch_epoch == Some(r.epoch) => {
                    return Err(client_id_mismatch(&me.mqtt_client_id, &r));
                }
                Ok(r) => mismatch_epoch = r.map(|r| r.epoch),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the current leader");
                    conn = None;
                }
            }
        }
        tokio::select! {
            _ = cancel.cancelled() => return Ok(()),
            _ = tokio::time::sleep(POLL) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn small_events_share_a_notification_and_big_ones_split() {
        let events: Vec<_> = (0..3)
            .map(|i| ("task".to_owned(), json!({"task_id": i})))
            .collect();
        let out = pack("r1", events);
        assert_eq!(out.len(), 1);
        let v: serde_json::Value = serde_json::from_str(&out[0]).unwrap();
        assert_eq!(v["from"], "r1");
        assert_eq!(v["events"][2], json!(["task", {"task_id": 2}]));

        let big = "x".repeat(3000);
        let events: Vec<_> = (0..5)
            .map(|_| ("incident".to_owned(), json!({"description": big})))
            .collect();
        let out = pack("r1", events);
        assert_eq!(out.len(), 3, "two events fit in each notification");
        for p in &out {
            assert!(p.len() <= MAX_NOTIFY);
            let v: Relayed = serde_json::from_str(p).unwrap();
            assert!(!v.events.is_empty());
        }
        let huge = vec![("incident".to_owned(), json!({"d": "y".repeat(9000)}))];
        assert!(pack("r1", huge).is_empty());
    }
}
