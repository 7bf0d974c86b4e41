//! Embedded MQTT 3.1.1 broker with authentication and per-topic ACLs.
//!
//! # Why our own broker
//! Field workers' phones and alert sources talk MQTT, and a responder must
//! only ever see (and write) its own tasks. rumqttd has no topic ACLs, so
//! this is a small broker built on the MQTT v4 packet codec that `rumqttc`
//! exports (`rumqttc::mqttbytes::v4`).
//!
//! # Design
//! - **One tokio task per connection** ([`connection`]), generic over any
//!   `AsyncRead + AsyncWrite` stream so a WebSocket listener can reuse it.
//!   It owns the socket, the outgoing packet ids and the QoS 1 in-flight
//!   window; nothing else ever writes to the socket.
//! - **A central router** ([`session::Router`]) behind a `std::sync::Mutex`
//!   holds the subscription trie, retained messages and the session
//!   registry. The lock is held only for short synchronous sections, never
//!   across `.await`.
//! - **A bounded outbox per session.** Publishing pushes into each matching
//!   session's outbox and wakes its connection task; a slow consumer only
//!   fills its own outbox, where QoS 0 is dropped first and QoS 1 is kept up
//!   to `max_queued_per_session`, then the oldest is dropped (counted in
//!   [`BrokerStats::messages_dropped`]). Publishers never wait on phones.
//!   A superuser's session (the dispatcher's) is *lossless*: it never drops, and a
//!   publisher that finds it full stops being read until it has room, so the pressure
//!   goes back to the sources instead of losing alerts they were told were received.
//! - **Every client is bounded** ([`BrokerConfig`]): topic depth and length, filters per
//!   SUBSCRIBE, client id length, messages per second, retained messages and sessions per
//!   login, and how long a kept session outlives its connection. A session belongs to the
//!   login that made it; another login using its client id is refused.
//! - **Authentication** is delegated to an [`Authenticator`] that maps
//!   credentials to a [`Principal`]; the [`acl`] module decides, from the
//!   principal alone, what it may publish and subscribe to.
//!
//! # Deliberate simplifications
//! - Granted QoS is at most 1: QoS 2 subscriptions are downgraded to 1, so
//!   outbound QoS 2 never happens. Inbound QoS 2 is fully supported
//!   (PUBREC / deliver once on PUBREL / PUBCOMP).
//! - Only protocol level 4 (3.1.1) is accepted; level 3 (3.1, `MQIsdp`) is
//!   rejected by the codec and gets CONNACK "unacceptable protocol version".
//! - Sessions, retained messages and queued messages live in memory only.
//!   Pending inbound QoS 2 exchanges (PUBREC sent, PUBREL not yet seen) are
//!   per connection and not carried over a reconnect.
//! - QoS 0 messages are not queued for offline persistent sessions (like
//!   Mosquitto's default) and are not counted as dropped.
//! - Wills are not published when the broker itself shuts down.

pub mod acl;
mod connection;
mod handshake;
mod rate;
mod secure;
mod session;
/// Locks a mutex, ignoring poisoning (see there); for the dispatcher's client too.
pub(crate) use session::lock;
pub mod topic;
mod websocket;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use rumqttc::mqttbytes::v4::Publish;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use session::Router;
use topic::min_qos;

/// Who a connected client is, decided by the [`Authenticator`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Principal {
    /// The dispatcher itself and other trusted services: may publish and subscribe anywhere.
    Superuser(String),
    /// A field worker (responder) with this responder id.
    Responder(String),
    /// An alert source with this source id.
    Source(String),
}

/// Decides whether a CONNECT is allowed and who the client is.
pub trait Authenticator: Send + Sync + 'static {
    /// None = refuse (CONNACK "bad username or password"). Called once per CONNECT.
    ///
    /// Clients that send no credentials are passed empty strings, so the
    /// authenticator alone decides about anonymous access.
    fn authenticate(
        &self,
        client_id: &str,
        username: &str,
        password: &str,
    ) -> BoxFuture<'static, Option<Principal>>;

    /// Told of each CONNECT refused for its login (after [`Authenticator::authenticate`]
    /// said no), with the peer as the broker names it (`1.2.3.4:5678`, `ws:…`, `tls:…`),
    /// for the audit log. Must not block.
    fn refused(&self, _peer: &str, _client_id: &str, _username: &str) {}
}

/// Tunables of the broker. All limits are per connection or session so one
/// misbehaving client cannot exhaust the broker.
#[derive(Debug, Clone)]
pub struct BrokerConfig {
    /// Largest accepted packet (remaining length, bytes); bigger packets
    /// close the connection before their body is buffered.
    pub max_packet_size: usize,
    /// QoS 1 messages kept per session (online backlog or offline queue)
    /// before the oldest are dropped.
    pub max_queued_per_session: usize,
    /// QoS 0 messages allowed to pile up for a connected client before new
    /// QoS 0 messages to it are dropped; keeps a slow reader from buffering
    /// unbounded fire-and-forget traffic.
    pub max_queued_qos0: usize,
    /// Unacknowledged QoS 1 messages per connection; further messages wait
    /// in the session queue. Also bounds pending inbound QoS 2 exchanges.
    pub max_inflight: usize,
    /// The same for a superuser (the dispatcher, which acknowledges a message only once it
    /// is handled, so this window is how many it works on at once).
    pub max_inflight_superuser: usize,
    /// Time a new connection has to send CONNECT (and be authenticated).
    pub connect_timeout: Duration,
    /// How long `run` waits for connection tasks to finish after cancel.
    pub shutdown_timeout: Duration,
    /// Largest topic name or filter a client may use; beyond it a PUBLISH is dropped
    /// (acknowledged, like an ACL denial) and a filter refused.
    pub topic_limits: topic::TopicLimits,
    /// Filters one SUBSCRIBE may carry; the ones beyond are refused (0x80) unexamined.
    pub max_filters_per_subscribe: usize,
    /// Longest client id, bytes; longer is refused with CONNACK 2.
    pub max_client_id_bytes: usize,
    /// Retained messages one login (not a superuser) may hold; more are delivered but not kept.
    pub max_retained_per_login: usize,
    /// Bytes (topic plus payload) of retained messages one login may hold.
    pub max_retained_bytes_per_login: usize,
    /// Sessions (connected or kept) one login may have; at the limit a new client id ends
    /// the login's longest-offline session, or is refused when all are connected.
    pub max_sessions_per_login: usize,
    /// How long a kept session (clean_session = 0) outlives its last connection.
    pub session_expiry: Duration,
    /// Messages (PUBLISH, SUBSCRIBE, UNSUBSCRIBE) per second one login may send, averaged;
    /// a faster login's connections are read more slowly. Superusers are not limited.
    pub max_messages_per_sec: u32,
    /// Messages a login may send at once above that rate.
    pub message_burst: u32,
    /// Connections (TCP and WebSocket; not the Unix socket, which only this host's
    /// dispatcher reaches) held at once; more are closed as soon as they are accepted.
    pub max_connections: usize,
    /// The same from one IP address (an IPv6 /64).
    pub max_connections_per_ip: usize,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        BrokerConfig {
            max_packet_size: 256 * 1024,
            max_queued_per_session: 1000,
            max_queued_qos0: 1000,
            max_inflight: 100,
            max_inflight_superuser: 2000,
            connect_timeout: Duration::from_secs(10),
            shutdown_timeout: Duration::from_secs(5),
            topic_limits: topic::TopicLimits {
                levels: 32,
                bytes: 1024,
            },
            max_filters_per_subscribe: 32,
            max_client_id_bytes: 128,
            max_retained_per_login: 1000,
            max_retained_bytes_per_login: 8 * 1024 * 1024,
            max_sessions_per_login: 16,
            session_expiry: Duration::from_secs(3 * 24 * 3600),
            max_messages_per_sec: 200,
            message_burst: 2000,
            max_connections: 10_000,
            max_connections_per_ip: 1000,
        }
    }
}

/// Live counters, readable at any time (e.g. for metrics export).
#[derive(Debug, Default)]
pub struct BrokerStats {
    /// Clients currently connected (after a successful CONNACK).
    pub connections_current: AtomicU64,
    /// Successful connections since start.
    pub connections_total: AtomicU64,
    /// CONNECTs refused by the authenticator.
    pub auth_failures: AtomicU64,
    /// PUBLISH packets received from clients (allowed or not).
    pub publishes_in: AtomicU64,
    /// PUBLISH packets (and wills) dropped by the ACL or topic validation.
    pub publishes_denied: AtomicU64,
    /// Subscription filters refused (ACL or invalid filter).
    pub subscribes_denied: AtomicU64,
    /// Messages lost to a full per-session queue.
    pub messages_dropped: AtomicU64,
    /// CONNECTs refused after authentication: a client id of another login, too many
    /// sessions, a client id too long, a malformed CONNECT.
    pub connects_refused: AtomicU64,
    /// Retained messages not kept because their login was at its limit.
    pub retained_refused: AtomicU64,
    /// Kept sessions ended because they were offline for `session_expiry`.
    pub sessions_expired: AtomicU64,
    /// Times a publisher was made to wait for a full lossless (dispatcher) queue.
    pub publisher_waits: AtomicU64,
    /// Times a connection was paused because its login sent faster than allowed.
    pub throttled: AtomicU64,
    /// Retained messages held now.
    pub retained_current: AtomicU64,
    /// Sessions (connected or kept) now.
    pub sessions_current: AtomicU64,
    /// Connections closed as soon as accepted: `max_connections` or
    /// `max_connections_per_ip` reached.
    pub connections_over_limit: AtomicU64,
    /// TCP and WebSocket connections held now, logged in or not yet.
    pub sockets_current: AtomicU64,
}

impl BrokerStats {
    /// Adds these counters to a scrape of `/metrics`, as `griddispatch_broker_*`.
    pub fn export(&self, scrape: &mut crate::metrics::Scrape) {
        let get = |v: &AtomicU64| v.load(std::sync::atomic::Ordering::Relaxed);
        let gauges = [
            (
                "broker_connections",
                "Embedded broker: clients connected now (after a successful CONNACK)",
                &self.connections_current,
            ),
            (
                "broker_sockets",
                "Embedded broker: TCP and WebSocket connections held now, logged in or not yet",
                &self.sockets_current,
            ),
            (
                "broker_sessions",
                "Embedded broker: sessions now, connected or kept",
                &self.sessions_current,
            ),
            (
                "broker_retained_messages",
                "Embedded broker: retained messages held now",
                &self.retained_current,
            ),
        ];
        for (name, help, v) in gauges {
            scrape.gauge(name, help, crate::metrics::gauge_value(get(v)));
        }
        let counters = [
            ("broker_connections_total", "Embedded broker: successful connections since start", &self.connections_total),
            ("broker_auth_failures_total", "Embedded broker: CONNECTs refused by the authenticator", &self.auth_failures),
            ("broker_publishes_in_total", "Embedded broker: PUBLISH packets received from clients, allowed or not", &self.publishes_in),
            ("broker_publishes_denied_total", "Embedded broker: PUBLISH packets and wills dropped by the ACL or topic validation", &self.publishes_denied),
            ("broker_subscribes_denied_total", "Embedded broker: subscription filters refused (ACL or invalid filter)", &self.subscribes_denied),
            ("broker_messages_dropped_total", "Embedded broker: messages lost to a full per-session queue", &self.messages_dropped),
            ("broker_connects_refused_total", "Embedded broker: CONNECTs refused after authentication (client id of another login, too many sessions, malformed)", &self.connects_refused),
            ("broker_retained_refused_total", "Embedded broker: retained messages not kept because their login was at its limit", &self.retained_refused),
            ("broker_sessions_expired_total", "Embedded broker: kept sessions ended after being offline for session_expiry", &self.sessions_expired),
            ("broker_publisher_waits_total", "Embedded broker: times a publisher waited for a full lossless (dispatcher) queue", &self.publisher_waits),
            ("broker_throttled_total", "Embedded broker: times a connection was paused because its login sent faster than allowed", &self.throttled),
            ("broker_connections_over_limit_total", "Embedded broker: connections closed as soon as accepted (max_connections or max_connections_per_ip reached)", &self.connections_over_limit),
        ];
        for (name, help, v) in counters {
            scrape.counter(name, help, get(v));
        }
    }
}

/// State shared by the accept loop and all connection tasks.
#[derive(Debug)]
pub(crate) struct Shared {
    /// Configuration, fixed at bind time.
    pub config: BrokerConfig,
    /// Counters.
    pub stats: Arc<BrokerStats>,
    /// Subscriptions, retained messages, sessions.
    pub router: Mutex<Router>,
    /// Source of session and connection ids.
    pub next_id: AtomicU64,
    /// Message budget of each login.
    pub rates: rate::Rates,
    /// Connections held, in all and per address.
    pub conns: Arc<crate::conn_limit::ConnLimit>,
}

impl Shared {
    /// Empty broker state under `config`.
    fn new(config: BrokerConfig) -> Shared {
        Shared {
            rates: rate::Rates::new(config.max_messages_per_sec, config.message_burst),
            conns: crate::conn_limit::ConnLimit::new(
                config.max_connections,
                config.max_connections_per_ip,
            ),
            config,
            stats: Arc::new(BrokerStats::default()),
            router: Mutex::new(Router::default()),
            next_id: AtomicU64::new(1),
        }
    }

    /// Returns a fresh id for a session or connection.
    pub fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Stores/clears the retained message if asked and fans `msg` out to
    /// every matching subscription. Access control has already happened; `from` is the
    /// publisher's login (retained messages are charged to it). Returns the lossless
    /// sessions that are now full: the publisher should wait for them before it sends
    /// more.
    pub fn route(&self, msg: Publish, from: &Principal) -> Vec<Arc<session::SessionShared>> {
        let mut targets = HashMap::new();
        {
            let mut router = lock(&self.router);
            if msg.retain {
                if router.retain(&msg, from, &self.config) {
                    let held = router.retained_len() as u64;
                    self.stats.retained_current.store(held, Ordering::Relaxed);
                } else {
                    self.stats.retained_refused.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(principal = ?from, topic = %msg.topic, "retained limit of this login reached; delivered, not kept");
                }
            }
            router.trie.collect(&msg.topic, &mut targets);
        }
        let mut full = Vec::new();
        for (qos, session) in targets.into_values() {
            let out = Publish {
                dup: false,
                qos: min_qos(msg.qos, qos),
                retain: false,
                topic: msg.topic.clone(),
                pkid: 0,
                payload: msg.payload.clone(),
            };
            if session.push(out, &self.config, &self.stats) {
                full.push(session);
            }
        }
        full
    }

    /// Ends kept sessions past their expiry and forgets idle message budgets.
    fn sweep(&self) {
        let now = tokio::time::Instant::now();
        let mut router = lock(&self.router);
        let expired = router.expire(now, self.config.session_expiry);
        self.stats
            .sessions_current
            .store(router.sessions.len() as u64, Ordering::Relaxed);
        drop(router);
        self.stats
            .sessions_expired
            .fetch_add(expired, Ordering::Relaxed);
        self.rates.forget_idle(now);
    }
}

/// Serves one client over `stream` (MQTT bytes, or a WebSocket client when `websocket`)
/// with a broker state of its own under `config`, as the listeners do, for the fuzz
/// targets (src/fuzz.rs). Returns the counters once the connection has ended.
#[cfg(fuzzing)]
pub async fn fuzz_serve<S>(
    stream: S,
    websocket: bool,
    config: BrokerConfig,
    auth: Arc<dyn Authenticator>,
) -> Arc<BrokerStats>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let shared = Arc::new(Shared::new(config));
    let stats = Arc::clone(&shared.stats);
    let cancel = CancellationToken::new();
    let peer = "fuzz".to_owned();
    if websocket {
        websocket::serve(stream, peer, shared, auth, cancel).await;
    } else {
        connection::serve(stream, peer, shared, auth, cancel).await;
    }
    stats
}

/// The broker: a bound listener plus shared state. Call [`Broker::run`].
pub struct Broker {
    /// Listener bound in [`Broker::bind`].
    listener: TcpListener,
    /// Optional Unix-socket listener for clients on the same host (see
    /// [`Broker::listen_unix`]).
    unix: Option<(tokio::net::UnixListener, std::path::PathBuf)>,
    /// Optional MQTT-over-WebSocket listener for browsers (see [`Broker::listen_ws`]).
    ws: Option<TcpListener>,
    /// Optional MQTT-over-TLS listener (see [`Broker::listen_tls`]).
    tls: Option<secure::SecureListener>,
    /// Optional MQTT-over-secure-WebSocket listener (see [`Broker::listen_wss`]).
    wss: Option<secure::SecureListener>,
    /// Address actually bound (resolves port 0).
    local_addr: SocketAddr,
    /// State shared with connection tasks.
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Broker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Broker")
            .field("local_addr", &self.local_addr)
            .field("config", &self.shared.config)
            .finish_non_exhaustive()
    }
}

impl Broker {
    /// Binds the listener now so "address in use" surfaces at start-up.
    pub async fn bind(
        addr: impl tokio::net::ToSocketAddrs,
        config: BrokerConfig,
    ) -> std::io::Result<Broker> {
        let listener = TcpListener::bind(addr).await?;
        let local_addr = listener.local_addr()?;
        Ok(Broker {
            listener,
            unix: None,
            ws: None,
            tls: None,
            wss: None,
            local_addr,
            shared: Arc::new(Shared::new(config)),
        })
    }

    /// Also accepts clients on a Unix socket at `path` (removed again when the broker
    /// stops). The dispatcher's own client uses it: a Unix socket has no Nagle delay, and
    /// rumqttc cannot set TCP_NODELAY, which otherwise costs up to 40 ms per task when a
    /// small PUBACK and the task PUBLISH leave back to back.
    pub fn listen_unix(&mut self, path: &std::path::Path) -> std::io::Result<()> {
        let _ = std::fs::remove_file(path);
        self.unix = Some((tokio::net::UnixListener::bind(path)?, path.to_owned()));
        Ok(())
    }

    /// Also accepts MQTT over WebSocket (binary frames, subprotocol `mqtt`, any path) at
    /// `addr`, for browser clients such as the field app; returns the bound address.
    pub async fn listen_ws(
        &mut self,
        addr: impl tokio::net::ToSocketAddrs,
    ) -> std::io::Result<SocketAddr> {
        let listener = TcpListener::bind(addr).await?;
        let bound = listener.local_addr()?;
        self.ws = Some(listener);
        Ok(bound)
    }

    /// Also accepts MQTT over TLS (MQTTS) at `addr`, with the certificate of `acceptor`;
    /// returns the bound address.
    pub async fn listen_tls(
        &mut self,
        addr: impl tokio::net::ToSocketAddrs,
        acceptor: crate::tls::TlsAcceptor,
    ) -> std::io::Result<SocketAddr> {
        let (listener, bound) =
            secure::SecureListener::bind(addr, acceptor, secure::Inner::Mqtt).await?;
        self.tls = Some(listener);
        Ok(bound)
    }

    /// Also accepts MQTT over secure WebSocket (WSS) at `addr`, as [`Broker::listen_ws`]
    /// inside TLS; returns the bound address.
    pub async fn listen_wss(
        &mut self,
        addr: impl tokio::net::ToSocketAddrs,
        acceptor: crate::tls::TlsAcceptor,
    ) -> std::io::Result<SocketAddr> {
        let (listener, bound) =
            secure::SecureListener::bind(addr, acceptor, secure::Inner::WebSocket).await?;
        self.wss = Some(listener);
        Ok(bound)
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Counters, shared with the running broker.
    pub fn stats(&self) -> Arc<BrokerStats> {
        Arc::clone(&self.shared.stats)
    }

    /// Runs until cancelled; then closes all connections.
    pub async fn run(
        mut self,
        auth: Arc<dyn Authenticator>,
        cancel: CancellationToken,
    ) -> anyhow::Result<()> {
        let tracker = TaskTracker::new();
        tracing::info!(addr = %self.local_addr, "MQTT broker listening");
        // Often enough that an expired session lingers at most a few per cent past its
        // expiry, and at least every minute so idle budgets are forgotten.
        let every = (self.shared.config.session_expiry / 16)
            .clamp(Duration::from_millis(200), Duration::from_secs(60));
        let mut sweep = tokio::time::interval(every);
        sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = sweep.tick() => self.shared.sweep(),
                accepted = self.listener.accept() => {
                    if let Some((stream, peer, permit)) = self.admit(accepted, "MQTT").await {
                        let serving = connection::serve(
                            stream,
                            peer,
                            Arc::clone(&self.shared),
                            Arc::clone(&auth),
                            cancel.clone(),
                        );
                        let stats = Arc::clone(&self.shared.stats);
                        tracker.spawn(async move {
                            serving.await;
                            drop(permit);
                            stats.sockets_current.fetch_sub(1, Ordering::Relaxed);
                        });
                    }
                }
                accepted = accept_ws(&self.ws) => {
                    if let Some((stream, peer, permit)) = self.admit(accepted, "WebSocket").await {
                        let serving = websocket::serve(
                            stream,
                            peer,
                            Arc::clone(&self.shared),
                            Arc::clone(&auth),
                            cancel.clone(),
                        );
                        let stats = Arc::clone(&self.shared.stats);
                        tracker.spawn(async move {
                            serving.await;
                            drop(permit);
                            stats.sockets_current.fetch_sub(1, Ordering::Relaxed);
                        });
                    }
                }
                accepted = secure::accept(&self.tls) => self.spawn_secure(&self.tls, accepted, &tracker, &auth, &cancel).await,
                accepted = secure::accept(&self.wss) => self.spawn_secure(&self.wss, accepted, &tracker, &auth, &cancel).await,
                accepted = accept_unix(&self.unix) => match accepted {
                    Ok(stream) => {
                        tracker.spawn(connection::serve(
                            stream,
                            "unix".to_owned(),
                            Arc::clone(&self.shared),
                            Arc::clone(&auth),
                            cancel.clone(),
                        ));
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "accept on the Unix socket failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                },
            }
        }
        drop(self.listener);
        if let Some((listener, path)) = self.unix.take() {
            drop(listener);
            let _ = std::fs::remove_file(path);
        }
        tracker.close();
        if tokio::time::timeout(self.shared.config.shutdown_timeout, tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!("MQTT broker: some connections did not close in time");
        }
        tracing::info!("MQTT broker stopped");
        Ok(())
    }
}

impl Broker {
    /// Admits a client accepted on a TLS listener and serves it in a task of `tracker`.
    async fn spawn_secure(
        &self,
        listener: &Option<secure::SecureListener>,
        accepted: std::io::Result<(tokio::net::TcpStream, SocketAddr)>,
        tracker: &TaskTracker,
        auth: &Arc<dyn Authenticator>,
        cancel: &CancellationToken,
    ) {
        let Some(listener) = listener else { return };
        let Some((stream, peer, permit)) = self.admit(accepted, listener.name()).await else {
            return;
        };
        let serving = secure::serve(
            stream,
            peer,
            listener.acceptor.clone(),
            listener.inner,
            Arc::clone(&self.shared),
            Arc::clone(auth),
            cancel.clone(),
        );
        let stats = Arc::clone(&self.shared.stats);
        tracker.spawn(async move {
            serving.await;
            drop(permit);
            stats.sockets_current.fetch_sub(1, Ordering::Relaxed);
        });
    }

    /// A client accepted on a TCP listener, with its place under the connection limits;
    /// None when it failed or is over a limit (then it is closed at once, before anything
    /// is read, so a flood of idle sockets costs the others nothing).
    async fn admit(
        &self,
        accepted: std::io::Result<(tokio::net::TcpStream, SocketAddr)>,
        listener: &str,
    ) -> Option<(tokio::net::TcpStream, String, crate::conn_limit::ConnPermit)> {
        let ip = accepted.as_ref().ok().map(|(_, peer)| peer.ip());
        let (stream, peer) = ready_tcp(accepted, listener).await?;
        match self.shared.conns.admit(ip?) {
            Some(permit) => {
                self.shared
                    .stats
                    .sockets_current
                    .fetch_add(1, Ordering::Relaxed);
                Some((stream, peer, permit))
            }
            None => {
                self.shared
                    .stats
                    .connections_over_limit
                    .fetch_add(1, Ordering::Relaxed);
                tracing::debug!(%peer, listener, "connection limit reached; closed");
                None
            }
        }
    }
}

/// A client accepted on a TCP listener, with Nagle off (small PUBACKs and task messages
/// must not wait), and its address for the logs. A failed accept (typically EMFILE) backs
/// off briefly instead of spinning and gives None.
async fn ready_tcp(
    accepted: std::io::Result<(tokio::net::TcpStream, SocketAddr)>,
    listener: &str,
) -> Option<(tokio::net::TcpStream, String)> {
    match accepted {
        Ok((stream, peer)) => {
            if let Err(e) = stream.set_nodelay(true) {
                tracing::debug!(%peer, error = %e, "set_nodelay failed");
            }
            Some((stream, peer.to_string()))
        }
        Err(e) => {
            tracing::warn!(error = %e, listener, "accept failed");
            tokio::time::sleep(Duration::from_millis(100)).await;
            None
        }
    }
}

/// Next connection on the WebSocket listener; never resolves when there is none.
async fn accept_ws(
    ws: &Option<TcpListener>,
) -> std::io::Result<(tokio::net::TcpStream, SocketAddr)> {
    match ws {
        Some(listener) => listener.accept().await,
        None => std::future::pending().await,
    }
}

/// Next connection on the Unix listener; never resolves when there is none.
async fn accept_unix(
    unix: &Option<(tokio::net::UnixListener, std::path::PathBuf)>,
) -> std::io::Result<tokio::net::UnixStream> {
    match unix {
        Some((listener, _)) => listener.accept().await.map(|(s, _)| s),
        None => std::future::pending().await,
    }
}
