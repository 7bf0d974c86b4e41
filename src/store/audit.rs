//! The audit log (docs/security.md, "Audit log"): appended to, read and pruned past its
//! retention; nothing here updates or deletes an entry inside it, and the database's
//! triggers refuse both (see the `audit_log` migration).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use sqlx::FromRow;

use super::{Store, StoreError};

/// One entry: to append, or as read back ([`AuditRow`]).
#[derive(Debug, Clone, Default, FromRow)]
pub struct NewAuditEntry {
    /// When, Unix ms.
    pub at: i64,
    /// Who: `<role>:<name>` of an authenticated caller, `anonymous:<claimed name>` of a
    /// failed login, `cli:<user>` or `system`.
    pub actor: String,
    /// The caller's role, if known.
    pub role: Option<String>,
    /// The client's address.
    pub address: Option<String>,
    /// What: `<kind>.<verb>` such as `zones.replace` or `session.login_failed`.
    pub action: String,
    /// The kind of thing acted on (`zones`, `incidents`, …).
    pub target_kind: Option<String>,
    /// Its id.
    pub target_id: Option<String>,
    /// `METHOD /path` of the HTTP request.
    pub request: Option<String>,
    /// The HTTP status answered (0 when not an HTTP request).
    pub status: i32,
    /// The request's parameters, secrets removed (JSON).
    pub detail: Option<String>,
    /// The thing before (JSON), when it existed.
    pub before: Option<String>,
    /// The thing after (JSON), when it still exists.
    pub after: Option<String>,
}

/// A stored entry.
#[derive(Debug, Clone, FromRow)]
pub struct AuditRow {
    /// Order of writing.
    pub seq: i64,
    /// The entry.
    #[sqlx(flatten)]
    pub entry: NewAuditEntry,
}

/// Which entries to read: every field that is set must match.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Exact actor (`admin:alice`).
    pub actor: Option<String>,
    /// Exact action, or a prefix ending in `.` (`zones.` for every zone action).
    pub action: Option<String>,
    /// Target kind.
    pub target_kind: Option<String>,
    /// Target id.
    pub target_id: Option<String>,
    /// Exact address.
    pub address: Option<String>,
    /// From (inclusive), Unix ms.
    pub from: Option<i64>,
    /// To (exclusive), Unix ms.
    pub to: Option<i64>,
    /// Only entries written before this `seq` (the page before's last).
    pub before_seq: Option<i64>,
    /// At most this many.
    pub limit: i64,
}

/// Entries without credentials (failed logins, on the API and the broker) written per
/// minute at most.
pub const ANONYMOUS_PER_MINUTE: u32 = 600;

/// Flood guard for entries without credentials: at most [`ANONYMOUS_PER_MINUTE`] a minute,
/// so that a flood of invented usernames cannot fill the database, and one entry that
/// counts what was left out.
#[derive(Debug)]
pub struct AuditBudget {
    /// Start of the current minute, entries written in it, entries left out of it.
    state: Mutex<(Instant, u32, u64)>,
}

impl Default for AuditBudget {
    fn default() -> Self {
        AuditBudget {
            state: Mutex::new((Instant::now(), 0, 0)),
        }
    }
}

impl AuditBudget {
    /// Whether one more entry may be written now, and, once a minute has passed with
    /// entries left out, the entry that says how many (to be written first).
    pub fn take(&self) -> (bool, Option<NewAuditEntry>) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let mut left_out = 0;
        if s.0.elapsed() >= Duration::from_secs(60) {
            left_out = s.2;
            *s = (Instant::now(), 0, 0);
        }
        let admit = s.1 < ANONYMOUS_PER_MINUTE;
        if admit {
            s.1 += 1;
        } else {
            s.2 += 1;
        }
        let summary = (left_out > 0).then(|| NewAuditEntry {
            at: super::now_ms(),
            actor: "system".into(),
            action: "audit.suppressed".into(),
            detail: Some(format!("{{\"entries_without_credentials\":{left_out}}}")),
            ..NewAuditEntry::default()
        });
        (admit, summary)
    }
}

/// Entries waiting for [`AuditQueue::run`] at most; more are dropped and counted (the
/// budget above lets through 600 a minute, so this is never reached in normal use).
const QUEUE_ENTRIES: usize = 1024;

/// Entries written in batches by one task, for callers that must not wait for the
/// database and whose entries come in bursts: the broker's refused logins. Written one
/// by one, an attack's 600 a minute each took SQLite's one writer lock and delayed the
/// dispatcher's own commits (an honest worker's task by seconds, in the hostile suite).
#[derive(Debug, Clone)]
pub struct AuditQueue {
    tx: tokio::sync::mpsc::Sender<NewAuditEntry>,
}

impl AuditQueue {
    /// The queue, and what drains it ([`AuditQueue::run`]).
    pub fn new() -> (AuditQueue, tokio::sync::mpsc::Receiver<NewAuditEntry>) {
        let (tx, rx) = tokio::sync::mpsc::channel(QUEUE_ENTRIES);
        (AuditQueue { tx }, rx)
    }

    /// Queues `entry`; `false` when the queue is full and it was dropped.
    pub fn push(&self, entry: NewAuditEntry) -> bool {
        self.tx.try_send(entry).is_ok()
    }

    /// Writes what was queued, all that is waiting in one transaction, until the queue's
    /// senders are gone.
    pub async fn run(store: Store, mut rx: tokio::sync::mpsc::Receiver<NewAuditEntry>) {
        let mut batch = Vec::new();
        while rx.recv_many(&mut batch, QUEUE_ENTRIES).await > 0 {
            if let Err(e) = store.append_audit_all(&batch).await {
                tracing::error!(error = %e, entries = batch.len(),
                    "could not write queued audit log entries");
            }
            batch.clear();
            // At most a batch a second: a burst becomes one transaction.
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}

/// Rows per insert of [`Store::append_audit_all`]: 12 parameters each stays far below both
/// databases' limits, and one insert holds the database's write lock only briefly.
const ROWS: usize = 200;

const COLUMNS: &str = "seq, at, actor, role, address, action, target_kind, target_id, \
                       request, status, detail, before, after";

impl Store {
    /// Appends one entry.
    pub async fn append_audit(&self, e: &NewAuditEntry) -> Result<(), StoreError> {
        self.append_audit_all(std::slice::from_ref(e)).await
    }

    /// Appends many entries (a bulk change's, one per thing) in multi-row inserts of
    /// [`ROWS`] each, every insert a transaction of its own: one statement per entry made
    /// a 50,000-camera import on PostgreSQL take 19 s instead of 11, and one transaction
    /// for all of them held SQLite's only writer lock so long that alerts arriving
    /// meanwhile could not be stored (the hostile suite's import test).
    pub async fn append_audit_all(&self, entries: &[NewAuditEntry]) -> Result<(), StoreError> {
        for chunk in entries.chunks(ROWS) {
            let values: Vec<String> = (0..chunk.len())
                .map(|r| {
                    let p: Vec<String> = (1..=12).map(|c| format!("${}", r * 12 + c)).collect();
                    format!("({})", p.join(", "))
                })
                .collect();
            let sql = format!(
                "INSERT INTO audit_log (at, actor, role, address, action, target_kind, \
                 target_id, request, status, detail, before, after) VALUES {}",
                values.join(", ")
            );
            let mut q = sqlx::query(&sql);
            for e in chunk {
                q = q
                    .bind(e.at)
                    .bind(&e.actor)
                    .bind(&e.role)
                    .bind(&e.address)
                    .bind(&e.action)
                    .bind(&e.target_kind)
                    .bind(&e.target_id)
                    .bind(&e.request)
                    .bind(e.status)
                    .bind(&e.detail)
                    .bind(&e.before)
                    .bind(&e.after);
            }
            q.execute(&self.pool).await?;
            // Other writers (the dispatcher's commits) get their turn between inserts.
            tokio::task::yield_now().await;
        }
        Ok(())
    }

    /// Entries matching `f`, newest first.
    pub async fn audit_entries(&self, f: &AuditFilter) -> Result<Vec<AuditRow>, StoreError> {
        // `zones.` matches every action of that kind: a prefix, compared without LIKE so
        // that `_` and `%` in a filter mean themselves.
        let (action_exact, action_prefix) = match &f.action {
            Some(a) if a.ends_with('.') => (None, Some(a.clone())),
            other => (other.clone(), None),
        };
        let prefix_len = action_prefix
            .as_ref()
            .map_or(0, |p| i32::try_from(p.chars().count()).unwrap_or(i32::MAX));
        Ok(sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM audit_log
             WHERE seq < $1
               AND ($2 IS NULL OR actor = $2)
               AND ($3 IS NULL OR action = $3)
               AND ($4 IS NULL OR substr(action, 1, $5) = $4)
               AND ($6 IS NULL OR target_kind = $6)
               AND ($7 IS NULL OR target_id = $7)
               AND ($8 IS NULL OR address = $8)
               AND ($9 IS NULL OR at >= $9)
               AND ($10 IS NULL OR at < $10)
             ORDER BY seq DESC LIMIT $11"
        ))
        .bind(f.before_seq.unwrap_or(i64::MAX))
        .bind(&f.actor)
        .bind(&action_exact)
        .bind(&action_prefix)
        .bind(prefix_len)
        .bind(&f.target_kind)
        .bind(&f.target_id)
        .bind(&f.address)
        .bind(f.from)
        .bind(f.to)
        .bind(f.limit)
        .fetch_all(&self.pool)
        .await?)
    }

    /// The newest entry of `action`, if any (the settings seen at the last start).
    pub async fn last_audit_of(&self, action: &str) -> Result<Option<AuditRow>, StoreError> {
        Ok(sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM audit_log WHERE action = $1 ORDER BY seq DESC LIMIT 1"
        ))
        .bind(action)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Deletes the entries written before `before_ms`, which must be at least 180 days
    /// ago (the database refuses younger ones); returns how many went.
    pub async fn prune_audit(&self, before_ms: i64) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM audit_log WHERE at < $1")
            .bind(before_ms)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}
