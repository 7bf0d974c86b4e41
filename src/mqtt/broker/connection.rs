//! One client connection: the handshake (`handshake`), then a single task that reads
//! packets, drains the session outbox into the socket and enforces
//! keepalive.
//!
//! The handler is generic over the byte stream so that a WebSocket
//! listener can hand in its own stream type later. All per-connection
//! state lives in [`Conn`], whose `Drop` detaches it from the session and
//! publishes the will, so cleanup also happens if the task is aborted or
//! panics.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use rumqttc::mqttbytes::v4::{
    self, ConnAck, ConnectReturnCode, Packet, PubAck, PubComp, PubRec, Publish, SubAck, Subscribe,
    SubscribeReasonCode, UnsubAck,
};
use rumqttc::mqttbytes::{Error as MqttError, QoS};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::handshake::{attach, encoded, handshake, refuse, reserve};
use super::session::{lock, ConnRef, Refusal, SessionShared};
use super::topic::min_qos;
use super::{acl, Authenticator, Principal, Shared};

/// How long we try to write owed packets to a client we are closing.
const FINAL_FLUSH: Duration = Duration::from_millis(500);

/// Soft cap on bytes encoded per outbox drain, so one drain cannot build a
/// huge write buffer; the rest is drained on the next loop iteration.
const DRAIN_BYTES: usize = 1024 * 1024;

/// Why a connection ended; decides whether the will is published.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// Client sent DISCONNECT: discard the will.
    Disconnect,
    /// Broker shutting down: no will (documented limitation).
    Shutdown,
    /// Another connection with the same client id took over.
    TakenOver,
    /// No packet within 1.5 x keepalive.
    KeepAlive,
    /// Peer closed the socket or it failed.
    Closed,
    /// Malformed / unexpected packet.
    Protocol,
}

/// Result of handling one packet.
enum Flow {
    /// Keep going.
    Continue,
    /// Close the connection.
    Stop(End),
}

/// Serves one client connection from accept to close.
pub(crate) async fn serve<S>(
    mut stream: S,
    peer: String,
    shared: Arc<Shared>,
    auth: Arc<dyn Authenticator>,
    cancel: CancellationToken,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    let mut rbuf = BytesMut::with_capacity(4096);
    let handshake = tokio::time::timeout(
        shared.config.connect_timeout,
        handshake(&mut stream, &mut rbuf, &shared, auth.as_ref(), &peer),
    );
    let accepted = tokio::select! {
        _ = cancel.cancelled() => return,
        r = handshake => match r {
            Ok(Some(a)) => a,
            Ok(None) => return,
            Err(_) => {
                tracing::debug!(%peer, "no CONNECT within timeout; closing");
                return;
            }
        },
    };

    let kick = CancellationToken::new();
    let done = CancellationToken::new();
    let conn_id = shared.next_id();
    let me = ConnRef {
        id: conn_id,
        kick: kick.clone(),
        done: done.clone(),
    };
    let attached = tokio::select! {
        _ = cancel.cancelled() => {
            // Never attached; nothing to clean up.
            return;
        }
        a = attach(&shared, &accepted.client_id, &accepted.principal, accepted.clean_session, me) => a,
    };
    let (session, present, inflight) = match attached {
        Ok(a) => a,
        Err(why) => {
            shared
                .stats
                .connects_refused
                .fetch_add(1, Ordering::Relaxed);
            tracing::warn!(%peer, client_id = %accepted.client_id, principal = ?accepted.principal, ?why, "MQTT session refused");
            let code = match why {
                Refusal::NotOwner => ConnectReturnCode::NotAuthorized,
                Refusal::TooManySessions => ConnectReturnCode::ServiceUnavailable,
            };
            refuse(&mut stream, code).await;
            return;
        }
    };
    shared
        .stats
        .connections_current
        .fetch_add(1, Ordering::Relaxed);
    shared
        .stats
        .connections_total
        .fetch_add(1, Ordering::Relaxed);
    tracing::debug!(%peer, client_id = %accepted.client_id, principal = ?accepted.principal, "client connected");

    let mut conn = Conn {
        shared,
        client_id: accepted.client_id,
        principal: accepted.principal,
        session,
        conn_id,
        done,
        inflight: VecDeque::new(),
        next_pkid: 0,
        incoming_qos2: HashMap::new(),
        will: accepted.will,
        wbuf: BytesMut::with_capacity(4096),
        waiting_for: Vec::new(),
        paused_until: None,
    };
    encoded(ConnAck::new(ConnectReturnCode::Success, present).write(&mut conn.wbuf));
    for mut m in inflight {
        m.dup = true;
        encoded(m.write(&mut conn.wbuf));
        conn.inflight.push_back(m);
    }
    let end = conn
        .run(&mut stream, rbuf, accepted.keep_alive, &kick, &cancel)
        .await;
    tracing::debug!(%peer, client_id = %conn.client_id, reason = ?end, "client disconnected");
    if matches!(end, End::Disconnect | End::Shutdown) {
        conn.will = None;
    }
    if matches!(end, End::Disconnect | End::Protocol) && !conn.wbuf.is_empty() {
        // Best effort: let the client see the acks (or CONNACK) it is owed
        // before we close, but never wait long for it.
        let _ = tokio::time::timeout(FINAL_FLUSH, stream.write_all(&conn.wbuf)).await;
    }
    let _ = stream.shutdown().await;
    // `conn` is dropped here: detach from session and publish the will.
}

/// State of an attached connection.
struct Conn {
    /// Broker state.
    shared: Arc<Shared>,
    /// Client id of this connection's session.
    client_id: String,
    /// Who the client is; drives every ACL decision.
    principal: Principal,
    /// The session's outbox.
    session: Arc<SessionShared>,
    /// Identifies this connection in the session registry.
    conn_id: u64,
    /// Cancelled once detached, releasing a waiting takeover.
    done: CancellationToken,
    /// QoS 1 messages written but not yet PUBACKed, oldest first.
    inflight: VecDeque<Publish>,
    /// Last outbound packet id handed out.
    next_pkid: u16,
    /// Inbound QoS 2 messages between PUBLISH and PUBREL; `None` marks a
    /// message that was denied but must still complete the handshake.
    incoming_qos2: HashMap<u16, Option<Publish>>,
    /// Will to publish if the connection ends without DISCONNECT.
    will: Option<Publish>,
    /// Encoded packets waiting to be written.
    wbuf: BytesMut,
    /// Full lossless sessions (the dispatcher's) this client filled: nothing more is read
    /// from it until they have room.
    waiting_for: Vec<Arc<SessionShared>>,
    /// The login sent faster than its budget: nothing more is read until then.
    paused_until: Option<Instant>,
}

/// Sleeps until `deadline`, or forever if there is none.
async fn sleep_opt(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

impl Conn {
    /// Main loop; returns why the connection ended.
    async fn run<S>(
        &mut self,
        stream: &mut S,
        mut rbuf: BytesMut,
        keep_alive: u16,
        kick: &CancellationToken,
        cancel: &CancellationToken,
    ) -> End
    where
        S: AsyncRead + AsyncWrite + Unpin + Send,
    {
        let grace = (keep_alive > 0).then(|| Duration::from_millis(u64::from(keep_alive) * 1500));
        let mut deadline = grace.map(|g| Instant::now() + g);
        let max_packet = self.shared.config.max_packet_size;
        let max_inflight = match self.principal {
            // The dispatcher acknowledges what it has handled; its window is its pipeline.
            Principal::Superuser(_) => self.shared.config.max_inflight_superuser,
            _ => self.shared.config.max_inflight,
        }
        .clamp(1, 60_000);
        let queue_cap = self.shared.config.max_queued_per_session;
        loop {
            // Handle every complete packet already buffered, unless this client must wait.
            while self.may_read() {
                match v4::read(&mut rbuf, max_packet) {
                    Ok(packet) => {
                        deadline = grace.map(|g| Instant::now() + g);
                        if let Flow::Stop(end) = self.handle(packet) {
                            return end;
                        }
                    }
                    Err(MqttError::InsufficientBytes(_)) => break,
                    Err(e) => {
                        tracing::warn!(client_id = %self.client_id, error = %e, "malformed or oversize packet; closing");
                        return End::Protocol;
                    }
                }
            }
            self.drain_outbox(max_inflight);
            if !self.wbuf.is_empty() {
                let buf = &self.wbuf;
                let write = async {
                    stream.write_all(buf).await?;
                    stream.flush().await
                };
                tokio::select! {
                    biased;
                    _ = cancel.cancelled() => return End::Shutdown,
                    _ = kick.cancelled() => return End::TakenOver,
                    r = write => if r.is_err() { return End::Closed },
                    _ = sleep_opt(deadline) => return End::KeepAlive,
                }
                self.wbuf.clear();
            }
            reserve(&mut rbuf);
            let can_send = self.inflight.len() < max_inflight;
            let reading = self.may_read();
            let waiting_for = self.waiting_for.clone();
            let room = async {
                for s in &waiting_for {
                    s.wait_room(queue_cap).await;
                }
            };
            tokio::select! {
                biased;
                _ = cancel.cancelled() => return End::Shutdown,
                _ = kick.cancelled() => return End::TakenOver,
                r = stream.read_buf(&mut rbuf), if reading => match r {
                    Ok(0) | Err(_) => return End::Closed,
                    Ok(_) => {}
                },
                _ = self.session.notify.notified(), if can_send => {}
                _ = room, if !waiting_for.is_empty() => {
                    self.waiting_for.clear();
                    // Its pings went unread meanwhile; the wait was ours, not its silence.
                    deadline = grace.map(|g| Instant::now() + g);
                }
                _ = sleep_opt(self.paused_until), if self.paused_until.is_some() => {
                    self.paused_until = None;
                    deadline = grace.map(|g| Instant::now() + g);
                }
                _ = sleep_opt(deadline), if reading => {
                    tracing::info!(client_id = %self.client_id, "keepalive expired; closing");
                    return End::KeepAlive;
                }
            }
        }
    }

    /// Whether the next packet from the client may be taken in now.
    fn may_read(&self) -> bool {
        self.waiting_for.is_empty() && self.paused_until.is_none()
    }

    /// Spends one message of the login's budget, pausing this connection when it is spent.
    fn spend(&mut self) {
        if let Some(pause) = self.shared.rates.spend(&self.principal, Instant::now()) {
            if self.paused_until.is_none() {
                self.shared.stats.throttled.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(client_id = %self.client_id, ?pause, "login over its message rate; pausing");
            }
            self.paused_until = Some(Instant::now() + pause);
        }
    }

    /// Routes a message this client sent (or its will), noting the full lossless
    /// sessions it must wait for.
    fn route(&mut self, msg: Publish) {
        let full = self.shared.route(msg, &self.principal);
        // A superuser is never held up: two of them waiting on each other's full queue
        // would wait for ever, and the dispatcher's own publishes are tasks to phones.
        if !full.is_empty() && !matches!(self.principal, Principal::Superuser(_)) {
            self.shared
                .stats
                .publisher_waits
                .fetch_add(1, Ordering::Relaxed);
            self.waiting_for.extend(full);
        }
    }

    /// Handles one inbound packet.
    fn handle(&mut self, packet: Packet) -> Flow {
        match packet {
            Packet::Publish(p) => return self.on_publish(p),
            Packet::PubAck(ack) => {
                if let Some(i) = self.inflight.iter().position(|m| m.pkid == ack.pkid) {
                    self.inflight.remove(i);
                }
            }
            Packet::PubRel(rel) => {
                if let Some(Some(msg)) = self.incoming_qos2.remove(&rel.pkid) {
                    self.route(msg);
                }
                encoded(PubComp::new(rel.pkid).write(&mut self.wbuf));
            }
            // We never send QoS 2, so these can only be stray; ignore.
            Packet::PubRec(_) | Packet::PubComp(_) => {}
            Packet::Subscribe(s) => self.on_subscribe(s),
            Packet::Unsubscribe(u) => {
                self.spend();
                {
                    let mut router = lock(&self.shared.router);
                    for filter in &u.topics {
                        router.unsubscribe(&self.client_id, filter);
                    }
                }
                encoded(UnsubAck::new(u.pkid).write(&mut self.wbuf));
            }
            Packet::PingReq => encoded(v4::PingResp.write(&mut self.wbuf)),
            Packet::Disconnect => return Flow::Stop(End::Disconnect),
            Packet::Connect(_)
            | Packet::ConnAck(_)
            | Packet::SubAck(_)
            | Packet::UnsubAck(_)
            | Packet::PingResp => {
                tracing::warn!(client_id = %self.client_id, "unexpected packet from client; closing");
                return Flow::Stop(End::Protocol);
            }
        }
        Flow::Continue
    }

    /// Inbound PUBLISH: ACL, acknowledgement, routing.
    fn on_publish(&mut self, p: Publish) -> Flow {
        self.spend();
        let stats = &self.shared.stats;
        stats.publishes_in.fetch_add(1, Ordering::Relaxed);
        let allowed = if !self.shared.config.topic_limits.allows(&p.topic) {
            tracing::warn!(client_id = %self.client_id, bytes = p.topic.len(), "publish to a topic past the limits; dropped");
            false
        } else if !acl::can_publish(&self.principal, &p.topic) {
            tracing::warn!(client_id = %self.client_id, topic = %p.topic, "publish denied by ACL; dropped");
            false
        } else {
            true
        };
        if !allowed {
            stats.publishes_denied.fetch_add(1, Ordering::Relaxed);
        }
        match p.qos {
            QoS::AtMostOnce => {
                if allowed {
                    self.route(p);
                }
            }
            QoS::AtLeastOnce => {
                // Like Mosquitto, a denied QoS 1 publish is still acked so
                // the client does not retry it forever.
                let pkid = p.pkid;
                if allowed {
                    self.route(p);
                }
                encoded(PubAck::new(pkid).write(&mut self.wbuf));
            }
            QoS::ExactlyOnce => {
                let pkid = p.pkid;
                if !self.incoming_qos2.contains_key(&pkid) {
                    if self.incoming_qos2.len() >= self.shared.config.max_inflight.max(1) {
                        tracing::warn!(client_id = %self.client_id, "too many pending QoS 2 publishes; closing");
                        return Flow::Stop(End::Protocol);
                    }
                    self.incoming_qos2.insert(pkid, allowed.then_some(p));
                }
                encoded(PubRec::new(pkid).write(&mut self.wbuf));
            }
        }
        Flow::Continue
    }

    /// SUBSCRIBE: per-filter ACL, grant at most QoS 1, then retained. Filters past
    /// `max_filters_per_subscribe` are refused without being looked at.
    fn on_subscribe(&mut self, s: Subscribe) {
        self.spend();
        let config = &self.shared.config;
        let mut codes = Vec::with_capacity(s.filters.len());
        let mut retained = Vec::new();
        for (i, f) in s.filters.iter().enumerate() {
            let ok = i < config.max_filters_per_subscribe
                && config.topic_limits.allows(&f.path)
                && acl::can_subscribe(&self.principal, &f.path);
            if ok {
                let qos = min_qos(f.qos, QoS::AtLeastOnce);
                let mut router = lock(&self.shared.router);
                retained.extend(router.subscribe(&self.client_id, &f.path, qos));
                codes.push(SubscribeReasonCode::Success(qos));
            } else {
                self.shared
                    .stats
                    .subscribes_denied
                    .fetch_add(1, Ordering::Relaxed);
                if i < config.max_filters_per_subscribe {
                    tracing::warn!(client_id = %self.client_id, filter = %f.path.chars().take(200).collect::<String>(), "subscribe denied");
                }
                codes.push(SubscribeReasonCode::Failure);
            }
        }
        if s.filters.len() > config.max_filters_per_subscribe {
            tracing::warn!(client_id = %self.client_id, filters = s.filters.len(), "SUBSCRIBE with too many filters; the rest refused");
        }
        encoded(SubAck::new(s.pkid, codes).write(&mut self.wbuf));
        for m in retained {
            // Its own queue: retained messages never make a client wait for itself.
            let _ = self
                .session
                .push(m, &self.shared.config, &self.shared.stats);
        }
    }

    /// Moves queued messages into the write buffer, assigning packet ids
    /// to QoS 1 messages while the in-flight window has room.
    fn drain_outbox(&mut self, max_inflight: usize) {
        let mut room = max_inflight.saturating_sub(self.inflight.len());
        let mut batch = Vec::new();
        let more = {
            let mut ob = lock(&self.session.outbox);
            let mut bytes = 0;
            while let Some(front) = ob.queue.front() {
                if front.qos != QoS::AtMostOnce {
                    if room == 0 {
                        break;
                    }
                    room -= 1;
                }
                bytes += front.topic.len() + front.payload.len() + 8;
                if let Some(m) = ob.queue.pop_front() {
                    batch.push(m);
                }
                if bytes >= DRAIN_BYTES {
                    break;
                }
            }
            room > 0 && !ob.queue.is_empty()
        };
        let batch_empty = batch.is_empty();
        for mut m in batch {
            if m.qos != QoS::AtMostOnce {
                m.pkid = self.alloc_pkid();
                encoded(m.write(&mut self.wbuf));
                self.inflight.push_back(m);
            } else {
                encoded(m.write(&mut self.wbuf));
            }
        }
        if !batch_empty {
            self.session.took(self.shared.config.max_queued_per_session);
        }
        if more {
            // Come back for the rest after this batch is written.
            self.session.notify.notify_one();
        }
    }

    /// Next packet id not currently in flight.
    fn alloc_pkid(&mut self) -> u16 {
        loop {
            self.next_pkid = self.next_pkid.wrapping_add(1);
            let id = self.next_pkid;
            if id != 0 && !self.inflight.iter().any(|m| m.pkid == id) {
                return id;
            }
        }
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        let shared = &self.shared;
        shared
            .stats
            .connections_current
            .fetch_sub(1, Ordering::Relaxed);
        {
            let mut router = lock(&shared.router);
            let mine = router
                .sessions
                .get(&self.client_id)
                .and_then(|e| e.conn.as_ref())
                .is_some_and(|c| c.id == self.conn_id);
            if mine {
                let clean = router
                    .sessions
                    .get(&self.client_id)
                    .is_some_and(|e| e.clean);
                if clean {
                    router.remove_session(&self.client_id);
                    let mut ob = lock(&self.session.outbox);
                    ob.online = false;
                    ob.queue.clear();
                } else if let Some(entry) = router.sessions.get_mut(&self.client_id) {
                    entry.conn = None;
                    entry.offline_since = Some(Instant::now());
                    entry.inflight = std::mem::take(&mut self.inflight);
                    let mut ob = lock(&entry.shared.outbox);
                    ob.online = false;
                    ob.queue.retain(|m| m.qos != QoS::AtMostOnce);
                }
            }
        }
        if let Some(will) = self.will.take() {
            tracing::debug!(client_id = %self.client_id, topic = %will.topic, "publishing will");
            // Nobody is left to wait: a will never holds anything up.
            let _ = shared.route(will, &self.principal);
        }
        self.done.cancel();
    }
}
