//! Sessions, the outbound queue of each session, and the router that owns
//! subscriptions, retained messages and the session registry.
//!
//! The router lives behind one `std::sync::Mutex` that is only ever held
//! for short, synchronous sections (never across `.await`). Fan-out
//! collects targets under that lock and then pushes into each session's
//! own small outbox lock, so a slow or stuck subscriber can never stall a
//! publisher: the worst it can do is lose its own oldest messages.
//!
//! The one exception is a *lossless* session (a superuser's: the dispatcher's own). Its
//! queue never drops a QoS 1 message; when it is full, the publishers that filled it are
//! made to wait (their connections stop reading) until it has room, so an alert is either
//! queued for the dispatcher or still held, unacknowledged, by its source.
//!
//! Every session and every retained message belongs to the login that made it, and each
//! login's share is capped ([`BrokerConfig`]), so one login cannot fill the broker.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rumqttc::mqttbytes::v4::Publish;
use rumqttc::mqttbytes::QoS;
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::topic::{min_qos, RetainedIndex, Trie};
use super::{BrokerConfig, BrokerStats, Principal};

/// Locks a mutex, ignoring poisoning: all our critical sections leave the
/// data consistent at every step, and a panicking connection task must not
/// take the whole broker down with it.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The part of a session that publishers touch: its outbound queue.
#[derive(Debug)]
pub(crate) struct SessionShared {
    /// Unique per session instance (a clean reconnect gets a new one), used
    /// as the key in the subscription trie.
    pub id: u64,
    /// Client id, for logs.
    pub client_id: String,
    /// Never drop a QoS 1 message: make publishers wait instead.
    pub lossless: bool,
    /// Messages waiting to be written to the client.
    pub outbox: Mutex<Outbox>,
    /// Wakes the connection task when the outbox gains a message.
    pub notify: Notify,
    /// Wakes publishers waiting for a full lossless outbox to have room.
    room: Notify,
    /// Set when the session is gone: nobody waits for its room any more.
    closed: AtomicBool,
    /// Whether a dropped message has been logged at warn level already.
    drop_logged: AtomicBool,
}

/// Outbound queue of a session.
#[derive(Debug, Default)]
pub(crate) struct Outbox {
    /// Pending messages, oldest first, not yet given packet ids.
    pub queue: VecDeque<Publish>,
    /// Whether a connection is currently draining this queue; offline
    /// sessions only keep QoS 1 messages.
    pub online: bool,
}

impl SessionShared {
    /// Creates an empty, offline session.
    pub fn new(id: u64, client_id: String, lossless: bool) -> Self {
        SessionShared {
            id,
            client_id,
            lossless,
            outbox: Mutex::new(Outbox::default()),
            notify: Notify::new(),
            room: Notify::new(),
            closed: AtomicBool::new(false),
            drop_logged: AtomicBool::new(false),
        }
    }

    /// Queues `msg` for delivery, applying the overflow policy: QoS 0 is
    /// dropped when the client is offline or already `max_queued_qos0`
    /// behind; QoS 1 is kept up to `max_queued_per_session`, beyond which
    /// the oldest queued message is dropped (and counted) — except in a lossless session,
    /// which keeps it. Returns true when a lossless queue is full, so the publisher should
    /// wait ([`SessionShared::wait_room`]) before it sends more.
    pub fn push(&self, msg: Publish, config: &BrokerConfig, stats: &BrokerStats) -> bool {
        let cap = config.max_queued_per_session.max(1);
        let mut ob = lock(&self.outbox);
        let online = ob.online;
        if msg.qos == QoS::AtMostOnce {
            if !online {
                return false;
            }
            if ob.queue.len() >= config.max_queued_qos0 {
                drop(ob);
                stats.messages_dropped.fetch_add(1, Ordering::Relaxed);
                return false;
            }
        } else if ob.queue.len() >= cap && !self.lossless {
            ob.queue.pop_front();
            stats.messages_dropped.fetch_add(1, Ordering::Relaxed);
            if !self.drop_logged.swap(true, Ordering::Relaxed) {
                tracing::warn!(client_id = %self.client_id, queued = cap, "session queue full: dropping its oldest messages (logged once per session; counted in griddispatch_broker_messages_dropped_total)");
            }
        }
        ob.queue.push_back(msg);
        let full = self.lossless && ob.queue.len() >= cap;
        drop(ob);
        if online {
            self.notify.notify_one();
        }
        full
    }

    /// True when a publisher need not wait for this session.
    fn has_room(&self, cap: usize) -> bool {
        self.closed.load(Ordering::Acquire) || lock(&self.outbox).queue.len() < cap.max(1)
    }

    /// Waits until the queue is below `cap` or the session is gone.
    pub async fn wait_room(&self, cap: usize) {
        loop {
            let notified = self.room.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.has_room(cap) {
                return;
            }
            notified.await;
        }
    }

    /// Tells waiting publishers that messages left the queue.
    pub fn took(&self, cap: usize) {
        if self.lossless && self.has_room(cap) {
            self.room.notify_waiters();
        }
    }

    /// The session is gone: release everyone waiting for it.
    fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.room.notify_waiters();
    }
}

/// Handle on the connection currently attached to a session.
#[derive(Debug, Clone)]
pub(crate) struct ConnRef {
    /// Connection id (unique per TCP connection).
    pub id: u64,
    /// Cancelled to make that connection close (client id takeover).
    pub kick: CancellationToken,
    /// Cancelled by that connection once it has fully detached.
    pub done: CancellationToken,
}

/// Broker-side state of one client id.
#[derive(Debug)]
pub(crate) struct SessionEntry {
    /// Queue shared with publishers.
    pub shared: Arc<SessionShared>,
    /// The login that made the session; no other may use it.
    pub owner: Principal,
    /// Granted subscriptions, so they can be removed from the trie.
    pub subs: HashMap<String, QoS>,
    /// clean_session of the connection that owns it: clean sessions die
    /// with their connection.
    pub clean: bool,
    /// Connection currently attached, if any.
    pub conn: Option<ConnRef>,
    /// Since when no connection is attached (kept sessions expire).
    pub offline_since: Option<Instant>,
    /// QoS 1 messages sent but not acknowledged when the last connection
    /// dropped, with their packet ids, to be resent with DUP on resume.
    pub inflight: VecDeque<Publish>,
}

/// Retained messages held by one login.
#[derive(Debug, Default, Clone, Copy)]
struct Usage {
    /// Messages.
    count: usize,
    /// Topic plus payload bytes.
    bytes: usize,
}

/// The bytes a retained message is charged.
fn retained_bytes(m: &Publish) -> usize {
    m.topic.len() + m.payload.len()
}

/// Subscriptions, retained messages and sessions.
#[derive(Debug, Default)]
pub(crate) struct Router {
    /// Subscription index.
    pub trie: Trie<Arc<SessionShared>>,
    /// Retained message per topic (QoS as published, retain flag set), with its owner.
    retained: RetainedIndex<Principal>,
    /// What each login has retained.
    usage: HashMap<Principal, Usage>,
    /// Sessions by client id.
    pub sessions: HashMap<String, SessionEntry>,
    /// Client ids of each login's sessions.
    by_owner: HashMap<Principal, Vec<String>>,
}

/// Why a session could not be attached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The client id's session belongs to another login.
    NotOwner,
    /// The login has as many sessions as it may, all connected.
    TooManySessions,
}

impl Router {
    /// Retained messages held.
    pub fn retained_len(&self) -> usize {
        self.retained.len()
    }

    /// Drops a session and all its subscriptions.
    pub fn remove_session(&mut self, client_id: &str) {
        if let Some(old) = self.sessions.remove(client_id) {
            for filter in old.subs.keys() {
                self.trie.remove(filter, old.shared.id);
            }
            if let Some(ids) = self.by_owner.get_mut(&old.owner) {
                ids.retain(|c| c != client_id);
                if ids.is_empty() {
                    self.by_owner.remove(&old.owner);
                }
            }
            // A superuser taking the client id over: the other login's client goes.
            if let Some(conn) = &old.conn {
                conn.kick.cancel();
            }
            old.shared.close();
        }
    }

    /// Checks that `owner` may attach to `client_id` and makes room for a new session of
    /// its own if it is at its cap (by ending its longest-offline kept session). A
    /// superuser may take any client id: a session another login made there is dropped.
    pub fn admit(
        &mut self,
        client_id: &str,
        owner: &Principal,
        config: &BrokerConfig,
    ) -> Result<(), Refusal> {
        let superuser = matches!(owner, Principal::Superuser(_));
        if let Some(existing) = self.sessions.get(client_id) {
            if existing.owner == *owner {
                return Ok(());
            }
            if !superuser {
                return Err(Refusal::NotOwner);
            }
            self.remove_session(client_id);
        }
        if superuser {
            return Ok(());
        }
        let ids = self.by_owner.get(owner).map(Vec::as_slice).unwrap_or(&[]);
        if ids.len() < config.max_sessions_per_login.max(1) {
            return Ok(());
        }
        let mut oldest: Option<(Instant, String)> = None;
        for id in ids {
            let since = self.sessions.get(id).and_then(|e| e.offline_since);
            if let Some(since) = since {
                if oldest.as_ref().is_none_or(|(o, _)| since < *o) {
                    oldest = Some((since, id.clone()));
                }
            }
        }
        match oldest {
            Some((_, evict)) => {
                tracing::info!(client_id = %evict, "login at its session limit: its longest-offline session ends");
                self.remove_session(&evict);
                Ok(())
            }
            None => Err(Refusal::TooManySessions),
        }
    }

    /// Registers a new session (after [`Router::admit`]).
    pub fn insert_session(&mut self, client_id: &str, entry: SessionEntry) {
        self.by_owner
            .entry(entry.owner.clone())
            .or_default()
            .push(client_id.to_owned());
        self.sessions.insert(client_id.to_owned(), entry);
    }

    /// Ends kept sessions that have been offline for `after` or longer; returns how many.
    pub fn expire(&mut self, now: Instant, after: Duration) -> u64 {
        let expired: Vec<String> = self
            .sessions
            .iter()
            .filter(|(_, e)| {
                e.conn.is_none()
                    && e.offline_since
                        .is_some_and(|s| now.saturating_duration_since(s) >= after)
            })
            .map(|(c, _)| c.clone())
            .collect();
        for client_id in &expired {
            tracing::debug!(%client_id, "kept session expired");
            self.remove_session(client_id);
        }
        expired.len() as u64
    }

    /// Stores (or, with an empty payload, clears) the retained message on `msg`'s topic
    /// for `owner`. Returns false, storing nothing, when that would take a login other
    /// than a superuser past its retained-message limits.
    pub fn retain(&mut self, msg: &Publish, owner: &Principal, config: &BrokerConfig) -> bool {
        if msg.payload.is_empty() {
            if let Some((old, old_owner)) = self.retained.remove(&msg.topic) {
                self.release(&old_owner, &old);
            }
            return true;
        }
        let size = retained_bytes(msg);
        if !matches!(owner, Principal::Superuser(_)) {
            let mut after = self.usage.get(owner).copied().unwrap_or_default();
            after.count += 1;
            after.bytes += size;
            if let Some((old, old_owner)) = self.retained.get(&msg.topic) {
                if old_owner == owner {
                    after.count -= 1;
                    after.bytes -= retained_bytes(old);
                }
            }
            if after.count > config.max_retained_per_login
                || after.bytes > config.max_retained_bytes_per_login
            {
                return false;
            }
        }
        let mut stored = msg.clone();
        stored.pkid = 0;
        stored.dup = false;
        if let Some((old, old_owner)) = self.retained.insert(stored, owner.clone()) {
            self.release(&old_owner, &old);
        }
        let usage = self.usage.entry(owner.clone()).or_default();
        usage.count += 1;
        usage.bytes += size;
        true
    }

    /// Takes a retained message off its owner's account.
    fn release(&mut self, owner: &Principal, old: &Publish) {
        if let Some(u) = self.usage.get_mut(owner) {
            u.count = u.count.saturating_sub(1);
            u.bytes = u.bytes.saturating_sub(retained_bytes(old));
            if u.count == 0 {
                self.usage.remove(owner);
            }
        }
    }

    /// Records a granted subscription and returns the retained messages it
    /// should receive now (QoS already capped at the granted level).
    pub fn subscribe(&mut self, client_id: &str, filter: &str, qos: QoS) -> Vec<Publish> {
        let Some(entry) = self.sessions.get_mut(client_id) else {
            return Vec::new();
        };
        entry.subs.insert(filter.to_owned(), qos);
        let shared = Arc::clone(&entry.shared);
        self.trie.insert(filter, shared.id, (qos, shared));
        self.retained
            .matching(filter)
            .into_iter()
            .map(|m| {
                let mut m = m.clone();
                m.qos = min_qos(m.qos, qos);
                m.retain = true;
                m.dup = false;
                m.pkid = 0;
                m
            })
            .collect()
    }

    /// Forgets a subscription.
    pub fn unsubscribe(&mut self, client_id: &str, filter: &str) {
        if let Some(entry) = self.sessions.get_mut(client_id) {
            if entry.subs.remove(filter).is_some() {
                let sid = entry.shared.id;
                self.trie.remove(filter, sid);
            }
        }
    }
}
