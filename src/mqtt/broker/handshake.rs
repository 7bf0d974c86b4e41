//! The start of a connection: CONNECT read and checked (its reserved flag too, which
//! the codec does not look at), the client authenticated, and its session attached, or
//! refused when another login made it. Also the small reading and writing helpers the
//! connection loop shares with it.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use rumqttc::mqttbytes::v4::{self, ConnAck, Connect, ConnectReturnCode, Packet, Publish};
use rumqttc::mqttbytes::{Error as MqttError, Protocol};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::session::{lock, ConnRef, Refusal, SessionEntry, SessionShared};
use super::{acl, Authenticator, Principal, Shared};

/// How long a taking-over connection waits for the old one to detach
/// before it takes the session anyway.
const TAKEOVER_WAIT: Duration = Duration::from_secs(5);

/// Why reading a packet stopped.
#[derive(Debug)]
enum ReadError {
    /// Socket error.
    Io(std::io::Error),
    /// Malformed, oversize or otherwise undecodable packet.
    Mqtt(MqttError),
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
pub(super) fn reserve(rbuf: &mut BytesMut) {
    if rbuf.capacity() - rbuf.len() < 1024 {
        rbuf.reserve(8 * 1024);
    }
}

/// Logs (instead of unwrapping) the impossible-in-practice encode errors.
pub(super) fn encoded(result: Result<usize, MqttError>) {
    if let Err(e) = result {
        tracing::warn!(error = %e, "failed to encode MQTT packet");
    }
}

/// Writes a single CONNACK and gives up on the connection.
pub(super) async fn refuse<S>(stream: &mut S, code: ConnectReturnCode)
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
pub(super) struct Accepted {
    /// Client id (generated if the client sent none).
    pub(super) client_id: String,
    /// Authenticated identity.
    pub(super) principal: Principal,
    /// CONNECT flag.
    pub(super) clean_session: bool,
    /// Seconds; 0 disables keepalive enforcement.
    pub(super) keep_alive: u16,
    /// Will as a ready-to-route PUBLISH, if allowed.
    pub(super) will: Option<Publish>,
}

/// Reads and validates CONNECT and authenticates. Returns `None` (after
/// sending the refusal CONNACK where the spec wants one) if the client
/// may not proceed.
pub(super) async fn handshake<S>(
    stream: &mut S,
    rbuf: &mut BytesMut,
    shared: &Shared,
    auth: &dyn Authenticator,
    peer: &str,
) -> Option<Accepted>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    if !connect_flags_ok(stream, rbuf, shared.config.max_packet_size).await {
        tracing::debug!(%peer, "CONNECT with its reserved flag set; closing");
        shared
            .stats
            .connects_refused
            .fetch_add(1, Ordering::Relaxed);
        return None;
    }
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
    if client_id.len() > shared.config.max_client_id_bytes {
        tracing::debug!(%peer, bytes = client_id.len(), "client id too long; refused");
        shared
            .stats
            .connects_refused
            .fetch_add(1, Ordering::Relaxed);
        refuse(stream, ConnectReturnCode::BadClientId).await;
        return None;
    }
    let (username, password) = connect
        .login
        .map(|l| (l.username, l.password))
        .unwrap_or_default();
    let Some(principal) = auth.authenticate(&client_id, &username, &password).await else {
        shared.stats.auth_failures.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(%peer, %client_id, %username, "MQTT authentication failed");
        auth.refused(peer, &client_id, &username);
        refuse(stream, ConnectReturnCode::BadUserNamePassword).await;
        return None;
    };
    let will = connect.last_will.and_then(|w| {
        if acl::can_publish(&principal, &w.topic) && shared.config.topic_limits.allows(&w.topic) {
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
/// unacknowledged messages to resend; or why `owner` may not have that session.
pub(super) async fn attach(
    shared: &Shared,
    client_id: &str,
    owner: &Principal,
    clean: bool,
    me: ConnRef,
) -> Result<(Arc<SessionShared>, bool, VecDeque<Publish>), Refusal> {
    let mut forced = false;
    loop {
        let wait_for = {
            let mut router = lock(&shared.router);
            // Before anything else: a login never so much as disconnects another's client.
            router.admit(client_id, owner, &shared.config)?;
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
                    if !present {
                        let entry = SessionEntry {
                            shared: Arc::new(SessionShared::new(
                                shared.next_id(),
                                client_id.to_owned(),
                                matches!(owner, Principal::Superuser(_)),
                            )),
                            owner: owner.clone(),
                            subs: HashMap::new(),
                            clean,
                            conn: None,
                            offline_since: None,
                            inflight: VecDeque::new(),
                        };
                        router.insert_session(client_id, entry);
                    }
                    let sessions = router.sessions.len() as u64;
                    shared
                        .stats
                        .sessions_current
                        .store(sessions, Ordering::Relaxed);
                    let Some(entry) = router.sessions.get_mut(client_id) else {
                        // Just inserted under this lock.
                        return Err(Refusal::NotOwner);
                    };
                    entry.clean = clean;
                    entry.conn = Some(me);
                    entry.offline_since = None;
                    let inflight = std::mem::take(&mut entry.inflight);
                    lock(&entry.shared.outbox).online = true;
                    return Ok((Arc::clone(&entry.shared), present, inflight));
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

/// Reads until the CONNECT's flags byte is buffered and checks its reserved bit, which
/// must be 0 (MQTT 3.1.1 §3.1.2.3: otherwise the server disconnects). The codec does not
/// look at it. Anything that is not a well-formed CONNECT header is left to the codec.
async fn connect_flags_ok<S>(stream: &mut S, rbuf: &mut BytesMut, max: usize) -> bool
where
    S: AsyncRead + Unpin,
{
    loop {
        if let Some(flags) = connect_flags(rbuf, max) {
            return flags.is_none_or(|f| f & 0x01 == 0);
        }
        reserve(rbuf);
        match stream.read_buf(rbuf).await {
            Ok(0) | Err(_) => return true, // the codec will see the short packet
            Ok(_) => {}
        }
        if rbuf.len() > 64 {
            return true;
        }
    }
}

/// `None` while more bytes are needed; `Some(None)` when `buf` does not start like a
/// CONNECT; `Some(Some(flags))` with the connect flags byte.
fn connect_flags(buf: &[u8], max: usize) -> Option<Option<u8>> {
    let (&first, rest) = buf.split_first()?;
    if first != 0x10 {
        return Some(None);
    }
    // Remaining length: 1 to 4 bytes, 7 bits each, high bit = more follow.
    let mut i = 0;
    let mut len = 0usize;
    loop {
        let b = *rest.get(i)?;
        len |= usize::from(b & 0x7f) << (7 * i);
        i += 1;
        if b & 0x80 == 0 {
            break;
        }
        if i == 4 {
            return Some(None);
        }
    }
    // Too short to hold the flags, or longer than any packet taken: the codec refuses it
    // without waiting for bytes that may never come.
    if !(10..=max).contains(&len) {
        return Some(None);
    }
    let var = rest.get(i..)?;
    let name_len = usize::from(u16::from_be_bytes([*var.first()?, *var.get(1)?]));
    if name_len > 6 {
        return Some(None);
    }
    // Name, then the protocol level, then the flags.
    var.get(2 + name_len + 1).map(|f| Some(*f))
}
