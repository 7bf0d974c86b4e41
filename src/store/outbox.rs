//! The outbox: MQTT messages a committed decision owes. They are written in the decision's
//! own transaction ([`Store::apply`]), deleted once the broker has acknowledged them, and
//! sent again by the next engine start, so a crash between the commit and the publish
//! loses nothing (at least once: a message may go out twice, which phones and the
//! contract tolerate: retained messages replace themselves, answers and notices are
//! idempotent for the field app).

use sqlx::Any;

use super::{Flag, Store, StoreError};

/// An MQTT message the dispatcher wants sent (the MQTT client sends it); those a committed
/// decision owes wait in the outbox until the broker has them.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    /// Topic.
    pub topic: String,
    /// Payload; empty with `retain` clears a retained message.
    pub payload: Vec<u8>,
    /// Retained or not.
    pub retain: bool,
    /// Its row in the outbox, when a committed decision owes it: deleted once the broker
    /// acknowledged the message (`store::outbox`); `None` for best-effort messages.
    pub outbox_seq: Option<i64>,
}

impl Outgoing {
    /// A message not yet in the outbox: staging it with a decision gives it its
    /// `outbox_seq`; sent on its own it is best effort.
    pub fn new(topic: String, payload: Vec<u8>, retain: bool) -> Outgoing {
        Outgoing {
            topic,
            payload,
            retain,
            outbox_seq: None,
        }
    }

    /// The empty retained message that clears what `topic` retains.
    pub fn clear_retained(topic: String) -> Outgoing {
        Outgoing::new(topic, Vec::new(), true)
    }
}

/// Adds `msgs` to the outbox inside `tx` and gives each its `outbox_seq`.
pub(super) async fn stage(
    tx: &mut sqlx::Transaction<'static, Any>,
    msgs: &mut [Outgoing],
    now: i64,
) -> Result<(), StoreError> {
    for m in msgs.iter_mut() {
        let seq: i64 = sqlx::query_scalar(
            "INSERT INTO outbox (topic, payload, retain, created_at) VALUES ($1, $2, $3, $4) \
             RETURNING seq",
        )
        .bind(&m.topic)
        .bind(&m.payload)
        .bind(m.retain)
        .bind(now)
        .fetch_one(&mut **tx)
        .await?;
        m.outbox_seq = Some(seq);
    }
    Ok(())
}

#[derive(sqlx::FromRow)]
struct Row {
    seq: i64,
    topic: String,
    payload: Vec<u8>,
    #[sqlx(try_from = "Flag")]
    retain: bool,
}

impl Store {
    /// Messages still owed, oldest first (after a crash: committed but never acknowledged).
    pub async fn outbox_pending(&self) -> Result<Vec<Outgoing>, StoreError> {
        let rows: Vec<Row> =
            sqlx::query_as("SELECT seq, topic, payload, retain FROM outbox ORDER BY seq")
                .fetch_all(&self.pool)
                .await?;
        Ok(rows
            .into_iter()
            .map(|r| Outgoing {
                topic: r.topic,
                payload: r.payload,
                retain: r.retain,
                outbox_seq: Some(r.seq),
            })
            .collect())
    }

    /// The broker acknowledged these: they are owed no more.
    pub async fn outbox_done(&self, seqs: &[i64]) -> Result<(), StoreError> {
        for chunk in seqs.chunks(500) {
            let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = format!("DELETE FROM outbox WHERE seq IN ({})", marks.join(", "));
            let mut q = sqlx::query(&sql);
            for s in chunk {
                q = q.bind(*s);
            }
            q.execute(&self.pool).await?;
        }
        Ok(())
    }

    /// How many messages are owed (for tests and metrics).
    pub async fn outbox_len(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM outbox")
            .fetch_one(&self.pool)
            .await?)
    }
}
