//! One client connection: handshake, then a single task that reads
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
    self, ConnAck, Connect, ConnectReturnCode, Packet, PubAck, PubComp, PubRec, Publish, SubAck,
    Subscribe, SubscribeReasonCode, UnsubAck,
};
use rumqttc::mqttbytes::{Error as MqttError, Protocol, QoS};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::session::{lock, ConnRef, SessionEntry, SessionShared};
use super::topic::min_qos;
use super::{acl, Authenticator, Principal, Shared};

/// How long a taking-over connection waits for the old one to detach
/// before it takes the session anyway.
const TAKEOVER_WAIT: Duration = Duration::from_secs(5);

/// How long we try to write owed packets to a client we are closing.
const FINAL_FLUSH: Duration = Duration::from_millis(500);

/// Soft cap on bytes encoded per outbox drain, so one drain cannot build a
/// huge write buffer; the rest is drained on the next loop iteration.
const DRAIN_BYTES: usize = 1024 * 1024;

/// Why reading a packet stopped.
#[derive(Debug)]
enum ReadError {
    /// Socket error.
    Io(std::io::Error),
    /// Malformed, oversize or otherwise undecodable packet.
    Mqtt(MqttError),
}

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

/// Reads until one whole packet is decoded. `Ok(None)` means EOF.
async fn read_packet<S>(
    stream: &mut S,
    rbuf: &mut BytesMut,
    max: usize,
) -> Result<Option<Packet>, ReadError>
where
    S: AsyncRead + Unpin,
{
    loop {
        match v4::read(rbuf, max) {
            Ok(p) => return Ok(Some(p)),
            Err(MqttError::InsufficientBytes(_)) => {}
            Err(e) => return Err(ReadError::Mqtt(e)),
        }
        reserve(rbuf);
        match stream.read_buf(rbuf).await {
            Ok(0) => return Ok(None),
            Ok(_) => {}
            Err(e) => return Err(ReadError::Io(e)),
        }
    }
}

/// Makes sure `read_buf` gets a reasonably large chunk to read into.
fn reserve(rbuf: &mut BytesMut) {
    if rbuf.capacity() - rbuf.len() < 1024 {
        rbuf.reserve(8 * 1024);
    }
}

/// Logs (instead of unwrapping) the impossible-in-practice encode errors.
fn encoded(result: Result<usize, MqttError>) {
    if let Err(e) = result {
        tracing::warn!(error = %e, "failed to encode MQTT packet");
    }
}

/// Writes a single CONNACK and gives up on the connection.
async fn refuse<S>(stream: &mut S, code: ConnectReturnCode)
where
    S: AsyncWrite + Unpin,
{
    let mut buf = BytesMut::with_capacity(4);
    encoded(ConnAck::new(code, false).write(&mut buf));
    // Best effort: the client may already be gone.
    let _ = stream.write_all(&buf).await;
    let _ = stream.flush().await;
    let _ = stream.shutdown().await;
}

/// What the handshake established.
struct Accepted {
    /// Client id (generated if the client sent none).
    client_id: String,
    /// Authenticated identity.
    principal: Principal,
    /// CONNECT flag.
    clean_session: bool,
    /// Seconds; 0 disables keepalive enforcement.
    keep_alive: u16,
    /// Will as a ready-to-route PUBLISH, if allowed.
    will: Option<Publish>,
}

/// Reads and validates CONNECT and authenticates. Returns `None` (after
/// sending the refusal CONNACK where the spec wants one) if the client
/// may not proceed.
async fn handshake<S>(
    stream: &mut S,
    rbuf: &mut BytesMut,
    shared: &Shared,
    auth: &dyn Authenticator,
    peer: &str,
) -> Option<Accepted>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let connect: Connect = match read_packet(stream, rbuf, shared.config.max_packet_size).await {
        Ok(Some(Packet::Connect(c))) => c,
        Ok(Some(other)) => {
            tracing::debug!(%peer, packet = ?other, "first packet is not CONNECT; closing");
            return None;
        }
        Ok(None) => return None,
        Err(ReadError::Mqtt(MqttError::InvalidProtocolLevel(level))) => {
            tracing::debug!(%peer, level, "unsupported protocol level");
            refuse(stream, ConnectReturnCode::RefusedProtocolVersion).await;
            return None;
        }
        Err(ReadError::Io(e)) => {
            tracing::debug!(%peer, error = %e, "socket error before CONNECT; closing");
            return None;
        }
        Err(ReadError::Mqtt(e)) => {
            tracing::debug!(%peer, error = %e, "bad CONNECT; closing");
            return None;
        }
    };
    if connect.protocol != Protocol::V4 {
        // The v4 codec also "parses" level 5; its layout differs, refuse.
        refuse(stream, ConnectReturnCode::RefusedProtocolVersion).await;
        return None;
    }
    let mut client_id = connect.client_id;
    if client_id.is_empty() {
        if !connect.clean_session {
            refuse(stream, ConnectReturnCode::BadClientId).await;
            return None;
        }
        client_id = format!("gd-auto-{:016x}", rand::random::<u64>());
    }
    let (username, password) = connect
        .login
        .map(|l| (l.username, l.password))
        .unwrap_or_default();
    let Some(principal) = auth.authenticate(&client_id, &username, &password).await else {
        shared.stats.auth_failures.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(%peer, %client_id, %username, "MQTT authentication failed");
        refuse(stream, ConnectReturnCode::BadUserNamePassword).await;
        return None;
    };
    let will = connect.last_will.and_then(|w| {
        if acl::can_publish(&principal, &w.topic) {
            Some(Publish {
                dup: false,
                qos: w.qos,
                retain: w.retain,
                topic: w.topic,
                pkid: 0,
                payload: w.message,
            })
        } else {
            shared
                .stats
                .publishes_denied
                .fetch_add(1, Ordering::Relaxed);
            tracing::warn!(%client_id, topic = %w.topic, "will topic denied by ACL; will dropped");
            None
        }
    });
    Some(Accepted {
        client_id,
        principal,
        clean_session: connect.clean_session,
        keep_alive: connect.keep_alive,
        will,
    })
}

/// Attaches connection `conn_id` to the session of `client_id`, closing
/// and waiting for any connection that currently holds it. Returns the
/// session queue, whether a previous session was resumed, and the
/// unacknowledged messages to resend.
async fn attach(
    shared: &Shared,
    client_id: &str,
    clean: bool,
    me: ConnRef,
) -> (Arc<SessionShared>, bool, VecDeque<Publish>) {
    let mut forced = false;
    loop {
        let wait_for = {
            let mut router = lock(&shared.router);
            let current = router.sessions.get(client_id).and_then(|e| e.conn.clone());
            match current {
                Some(old) if !forced => {
                    tracing::info!(%client_id, "client id taken over by a new connection");
                    old.kick.cancel();
                    old.done
                }
                _ => {
                    if clean {
                        router.remove_session(client_id);
                    }
                    let present = router.sessions.contains_key(client_id);
                    let entry = router
                        .sessions
                        .entry(client_id.to_owned())
                        .or_insert_with(|| SessionEntry {
                            shared: Arc::new(SessionShared::new(
                                shared.next_id(),
                                client_id.to_owned(),
                            )),
                            subs: HashMap::new(),
                            clean,
                            conn: None,
                            inflight: VecDeque::new(),
                        });
                    entry.clean = clean;
                    entry.conn = Some(me);
                    let inflight = std::mem::take(&mut entry.inflight);
                    lock(&entry.shared.outbox).online = true;
                    return (Arc::clone(&entry.shared), present, inflight);
                }
            }
        };
        if tokio::time::timeout(TAKEOVER_WAIT, wait_for.cancelled())
            .await
            .is_err()
        {
            tracing::warn!(%client_id, "previous connection did not detach in time; taking over");
            forced = true;
        }
    }
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
        a = attach(&shared, &accepted.client_id, accepted.clean_session, me) => a,
    };
    let (session, present, inflight) = attached;
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
        let max_inflight = self.shared.config.max_inflight.clamp(1, 60_000);
        loop {
            // Handle every complete packet already buffered.
            loop {
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
            tokio::select! {
                biased;
                _ = cancel.cancelled() => return End::Shutdown,
                _ = kick.cancelled() => return End::TakenOver,
                r = stream.read_buf(&mut rbuf) => match r {
                    Ok(0) | Err(_) => return End::Closed,
                    Ok(_) => {}
                },
                _ = self.session.notify.notified(), if can_send => {}
                _ = sleep_opt(deadline) => {
                    tracing::info!(client_id = %self.client_id, "keepalive expired; closing");
                    return End::KeepAlive;
                }
            }
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
                    self.shared.route(msg);
                }
                encoded(PubComp::new(rel.pkid).write(&mut self.wbuf));
            }
            // We never send QoS 2, so these can only be stray; ignore.
            Packet::PubRec(_) | Packet::PubComp(_) => {}
            Packet::Subscribe(s) => self.on_subscribe(s),
            Packet::Unsubscribe(u) => {
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
        let stats = &self.shared.stats;
        stats.publishes_in.fetch_add(1, Ordering::Relaxed);
        let allowed = acl::can_publish(&self.principal, &p.topic);
        if !allowed {
            stats.publishes_denied.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(client_id = %self.client_id, topic = %p.topic, "publish denied by ACL; dropped");
        }
        match p.qos {
            QoS::AtMostOnce => {
                if allowed {
                    self.shared.route(p);
                }
            }
            QoS::AtLeastOnce => {
                // Like Mosquitto, a denied QoS 1 publish is still acked so
                // the client does not retry it forever.
                let pkid = p.pkid;
                if allowed {
                    self.shared.route(p);
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

    /// SUBSCRIBE: per-filter ACL, grant at most QoS 1, then retained.
    fn on_subscribe(&mut self, s: Subscribe) {
        let mut codes = Vec::with_capacity(s.filters.len());
        let mut retained = Vec::new();
        for f in &s.filters {
            if acl::can_subscribe(&self.principal, &f.path) {
                let qos = min_qos(f.qos, QoS::AtLeastOnce);
                let mut router = lock(&self.shared.router);
                retained.extend(router.subscribe(&self.client_id, &f.path, qos));
                codes.push(SubscribeReasonCode::Success(qos));
            } else {
                self.shared
                    .stats
                    .subscribes_denied
                    .fetch_add(1, Ordering::Relaxed);
                tracing::warn!(client_id = %self.client_id, filter = %f.path, "subscribe denied");
                codes.push(SubscribeReasonCode::Failure);
            }
        }
        encoded(SubAck::new(s.pkid, codes).write(&mut self.wbuf));
        for m in retained {
            self.session
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
        for mut m in batch {
            if m.qos != QoS::AtMostOnce {
                m.pkid = self.alloc_pkid();
                encoded(m.write(&mut self.wbuf));
                self.inflight.push_back(m);
            } else {
                encoded(m.write(&mut self.wbuf));
            }
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
                    entry.inflight = std::mem::take(&mut self.inflight);
                    let mut ob = lock(&entry.shared.outbox);
                    ob.online = false;
                    ob.queue.retain(|m| m.qos != QoS::AtMostOnce);
                }
            }
        }
        if let Some(will) = self.will.take() {
            tracing::debug!(client_id = %self.client_id, topic = %will.topic, "publishing will");
            shared.route(will);
        }
        self.done.cancel();
    }
}
