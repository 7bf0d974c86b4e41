//! The live feed's hub: every committed change becomes one numbered event, kept in a ring
//! buffer for clients that reconnect and fanned out to the connected ones.
//!
//! The dispatcher engine announces each group commit ([`Announce`], which [`Live`]
//! implements with [`Live::publish`]); the events' shapes are in [`crate::views`]. Publishing
//! never waits: it takes a short lock, appends to the ring and hands the event to a
//! `tokio::sync::broadcast` channel, whose slow receivers are the ones that lose out (they
//! see `Lagged` and get disconnected by `http::live`), never the engine.
//!
//! Sequence numbers start from the process start time in microseconds, so they grow across
//! restarts too: a `since` remembered from an earlier process is always older than this
//! process's ring and leads to a `resync`, never to a wrong replay.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use serde_json::{json, Value};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use crate::dispatch::Announce;

/// Events kept for replay after a reconnect, by default (`live.buffer_events`).
pub const RING_EVENTS: usize = 10_000;
/// Events a connected client may fall behind before it is disconnected as too slow, by
/// default (`live.client_backlog`).
pub const CLIENT_BACKLOG: usize = 4_096;

/// One event, serialized once for every client.
#[derive(Debug)]
pub struct Event {
    /// Its number, strictly increasing within a process.
    pub seq: u64,
    /// The whole message, `{"seq":…,"type":…,"data":…}`, UTF-8 JSON (shared, not copied,
    /// per client).
    pub text: Bytes,
}

/// The hub; cheap to clone.
#[derive(Debug, Clone)]
pub struct Live {
    /// State shared by the engine and every connection.
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// The ring and the last number given out, under one lock so a subscriber's replay
    /// and its live channel meet without a gap.
    ring: Mutex<Ring>,
    /// Fan-out to connected clients.
    tx: broadcast::Sender<Arc<Event>>,
    /// Ring capacity.
    capacity: usize,
    /// Fires at shutdown, so open connections end instead of holding the server up.
    stop: CancellationToken,
    /// With replicas, on the leader: every event also goes here, to reach the other
    /// replicas' hubs (`cluster::relay_live`).
    relay: std::sync::OnceLock<tokio::sync::mpsc::UnboundedSender<(String, Value)>>,
}

#[derive(Debug)]
struct Ring {
    /// Seq of the newest event (the base before the first one).
    last: u64,
    /// The newest events, oldest first, consecutive seqs.
    events: VecDeque<Arc<Event>>,
}

/// Where a new client starts.
#[derive(Debug)]
pub enum Start {
    /// Send these (possibly none) first: everything after the client's `since`.
    Replay(Vec<Arc<Event>>),
    /// The client's `since` is too old or unknown: it must reload over REST.
    Resync,
}

/// A new client's view: the current seq, its catch-up, then live events from `rx`.
#[derive(Debug)]
pub struct Subscription {
    /// Seq of the newest event at subscription time (sent in `hello`).
    pub current: u64,
    /// Catch-up.
    pub start: Start,
    /// Every event after `current`.
    pub rx: broadcast::Receiver<Arc<Event>>,
}

impl Default for Live {
    fn default() -> Self {
        Live::new(RING_EVENTS, CLIENT_BACKLOG, CancellationToken::new())
    }
}

impl Live {
    /// A hub keeping `ring` events for replay and letting a client fall `backlog` events
    /// behind; connections end when `stop` fires.
    pub fn new(ring: usize, backlog: usize, stop: CancellationToken) -> Live {
        let base = u64::try_from(crate::store::now_ms())
            .unwrap_or(0)
            .saturating_mul(1000);
        let (tx, _) = broadcast::channel(backlog.max(1));
        Live {
            inner: Arc::new(Inner {
                ring: Mutex::new(Ring {
                    last: base,
                    events: VecDeque::with_capacity(ring.min(RING_EVENTS)),
                }),
                tx,
                capacity: ring.max(1),
                stop,
                relay: std::sync::OnceLock::new(),
            }),
        }
    }

    /// From now on, also hands every published event to `tx` (set once, on the replica
    /// that leads).
    pub fn relay_to(&self, tx: tokio::sync::mpsc::UnboundedSender<(String, Value)>) {
        let _ = self.inner.relay.set(tx);
    }

    /// Numbers and sends one event, and relays it to the other replicas when this one
    /// leads. Never blocks on clients.
    pub fn publish(&self, kind: &str, data: Value) {
        if let Some(relay) = self.inner.relay.get() {
            let _ = relay.send((kind.to_owned(), data.clone()));
        }
        self.publish_local(kind, data);
    }

    /// Numbers and sends one event to this replica's clients only: for events relayed from
    /// the leader, which must not go round again.
    pub fn publish_local(&self, kind: &str, data: Value) {
        // Serialized before taking the lock; only the number is added under it.
        let tail = format!(r#","type":{},"data":{}}}"#, json!(kind), data);
        let mut ring = self
            .inner
            .ring
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let seq = ring.last + 1;
        let event = Arc::new(Event {
            seq,
            text: Bytes::from(format!(r#"{{"seq":{seq}{tail}"#)),
        });
        ring.last = seq;
        if ring.events.len() >= self.inner.capacity {
            ring.events.pop_front();
        }
        ring.events.push_back(event.clone());
        // No receiver is not an error: nobody is watching.
        let _ = self.inner.tx.send(event);
    }

    /// Fires when the instance stops.
    pub fn stopping(&self) -> CancellationToken {
        self.inner.stop.clone()
    }

    /// The newest seq.
    pub fn current(&self) -> u64 {
        self.inner
            .ring
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .last
    }

    /// Subscribes a client that last saw `since` (none: a fresh client, nothing to replay).
    pub fn subscribe(&self, since: Option<u64>) -> Subscription {
        let ring = self
            .inner
            .ring
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // Subscribing under the lock: every event after `current` reaches `rx`.
        let rx = self.inner.tx.subscribe();
        let current = ring.last;
        let start = match since {
            None => Start::Replay(Vec::new()),
            Some(s) if s > current => Start::Resync,
            Some(s) if s == current => Start::Replay(Vec::new()),
            Some(s) => match ring.events.front() {
                Some(first) if first.seq <= s + 1 => Start::Replay(
                    ring.events
                        .iter()
                        .skip(usize::try_from(s + 1 - first.seq).unwrap_or(usize::MAX))
                        .cloned()
                        .collect(),
                ),
                _ => Start::Resync,
            },
        };
        Subscription { current, start, rx }
    }
}

impl Announce for Live {
    fn announce(&self, kind: &str, data: Value) {
        self.publish(kind, data);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seqs(start: &Start) -> Option<Vec<u64>> {
        match start {
            Start::Replay(v) => Some(v.iter().map(|e| e.seq).collect()),
            Start::Resync => None,
        }
    }

    #[test]
    fn replays_what_the_ring_still_has_and_resyncs_otherwise() {
        let live = Live::new(3, 16, CancellationToken::new());
        let base = live.current();
        for n in 0..5 {
            live.publish("incident", json!({ "n": n }));
        }
        let now = live.current();
        assert_eq!(now, base + 5);
        // Ring holds base+3..=base+5.
        assert_eq!(
            seqs(&live.subscribe(Some(base + 2)).start),
            Some(vec![base + 3, base + 4, base + 5])
        );
        assert_eq!(
            seqs(&live.subscribe(Some(base + 4)).start),
            Some(vec![base + 5])
        );
        assert_eq!(seqs(&live.subscribe(Some(now)).start), Some(vec![]));
        assert_eq!(seqs(&live.subscribe(None).start), Some(vec![]));
        assert_eq!(seqs(&live.subscribe(Some(base + 1)).start), None);
        assert_eq!(seqs(&live.subscribe(Some(now + 1)).start), None);
        assert_eq!(seqs(&live.subscribe(Some(0)).start), None);
    }

    #[tokio::test]
    async fn a_subscriber_gets_every_later_event_and_a_slow_one_lags() {
        let live = Live::new(100, 2, CancellationToken::new());
        let mut sub = live.subscribe(None);
        live.publish("camera", json!({}));
        let e = sub.rx.recv().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(e.seq, sub.current + 1);
        let msg: Value = serde_json::from_slice(&e.text).unwrap_or_default();
        assert_eq!(msg["type"], "camera");
        assert_eq!(msg["seq"], e.seq);
        for _ in 0..5 {
            live.publish("camera", json!({}));
        }
        assert!(matches!(
            sub.rx.recv().await,
            Err(broadcast::error::RecvError::Lagged(_))
        ));
    }
}
