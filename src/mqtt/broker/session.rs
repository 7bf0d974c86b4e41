//! Sessions, the outbound queue of each session, and the router that owns
//! subscriptions, retained messages and the session registry.
//!
//! The router lives behind one `std::sync::Mutex` that is only ever held
//! for short, synchronous sections (never across `.await`). Fan-out
//! collects targets under that lock and then pushes into each session's
//! own small outbox lock, so a slow or stuck subscriber can never stall a
//! publisher: the worst it can do is lose its own oldest messages.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};

use rumqttc::mqttbytes::v4::Publish;
use rumqttc::mqttbytes::QoS;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::topic::{min_qos, topic_matches, Trie};
use super::{BrokerConfig, BrokerStats};

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
    /// Messages waiting to be written to the client.
    pub outbox: Mutex<Outbox>,
    /// Wakes the connection task when the outbox gains a message.
    pub notify: Notify,
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
    pub fn new(id: u64, client_id: String) -> Self {
        SessionShared {
            id,
            client_id,
            outbox: Mutex::new(Outbox::default()),
            notify: Notify::new(),
        }
    }

    /// Queues `msg` for delivery, applying the overflow policy: QoS 0 is
    /// dropped when the client is offline or already `max_queued_qos0`
    /// behind; QoS 1 is kept up to `max_queued_per_session`, beyond which
    /// the oldest queued message is dropped (and counted).
    pub fn push(&self, msg: Publish, config: &BrokerConfig, stats: &BrokerStats) {
        let mut ob = lock(&self.outbox);
        let online = ob.online;
        if msg.qos == QoS::AtMostOnce {
            if !online {
                return;
            }
            if ob.queue.len() >= config.max_queued_qos0 {
                drop(ob);
                stats.messages_dropped.fetch_add(1, Ordering::Relaxed);
                return;
            }
        } else if ob.queue.len() >= config.max_queued_per_session.max(1) {
            ob.queue.pop_front();
            stats.messages_dropped.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(client_id = %self.client_id, "session queue full, dropped oldest message");
        }
        ob.queue.push_back(msg);
        drop(ob);
        if online {
            self.notify.notify_one();
        }
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
    /// Granted subscriptions, so they can be removed from the trie.
    pub subs: HashMap<String, QoS>,
    /// clean_session of the connection that owns it: clean sessions die
    /// with their connection.
    pub clean: bool,
    /// Connection currently attached, if any.
    pub conn: Option<ConnRef>,
    /// QoS 1 messages sent but not acknowledged when the last connection
    /// dropped, with their packet ids, to be resent with DUP on resume.
    pub inflight: VecDeque<Publish>,
}

/// Subscriptions, retained messages and sessions.
#[derive(Debug, Default)]
pub(crate) struct Router {
    /// Subscription index.
    pub trie: Trie,
    /// Retained message per topic (QoS as published, retain flag set).
    pub retained: HashMap<String, Publish>,
    /// Sessions by client id.
    pub sessions: HashMap<String, SessionEntry>,
}

impl Router {
    /// Drops a session and all its subscriptions.
    pub fn remove_session(&mut self, client_id: &str) {
        if let Some(old) = self.sessions.remove(client_id) {
            for filter in old.subs.keys() {
                self.trie.remove(filter, old.shared.id);
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
            .values()
            .filter(|m| topic_matches(&m.topic, filter))
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
