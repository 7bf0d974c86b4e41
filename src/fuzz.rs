//! Entry points for the coverage-guided fuzz targets in `fuzz/` (`scripts/fuzz`,
//! docs/security.md): each takes the bytes an outsider controls and runs them through the
//! parser the server runs them through, ignoring the answer. Only a panic, an abort or a
//! hang is a finding. Compiled only under `cargo fuzz` (`--cfg fuzzing`), so none of it is
//! in the server.
//!
//! One function per target; the target's name is the function's.

use crate::domain::alert::{AlertPayload, NewAlert};
use crate::domain::Ident;

/// Fixed "now" for parsers that take one, so a finding replays the same way.
const NOW_MS: i64 = 1_780_000_000_000;

/// An alert as a source publishes it on `alerts/<source>` (and `POST /api/v1/alerts`).
pub fn alert_json(data: &[u8]) {
    if let Ok(payload) = crate::ingest::parse_json::<AlertPayload>(data) {
        if let Ok(source) = Ident::parse("fuzz") {
            let _ = NewAlert::from_payload(source, payload, NOW_MS);
        }
    }
}

/// What a phone publishes: a task update, a request for more time, a duty toggle (the
/// first byte picks which).
pub fn phone_json(data: &[u8]) {
    let Some((which, body)) = data.split_first() else {
        return;
    };
    match which % 3 {
        0 => {
            let _ = crate::ingest::parse_json::<crate::dispatch::TaskUpdate>(body);
        }
        1 => {
            if let Ok(ask) =
                crate::ingest::parse_json::<crate::domain::closed_loop::ExtensionAsk>(body)
            {
                let _ = ask.checked();
            }
        }
        _ => {
            let _ = crate::ingest::parse_duty(body);
        }
    }
}

/// An OwnTracks location report.
pub fn owntracks(data: &[u8]) {
    let _ = crate::ingest::owntracks::parse(data);
}

/// A Frigate event on `frigate/events`.
pub fn frigate_event(data: &[u8]) {
    let _ = crate::ingest::frigate::to_alert(data, NOW_MS);
}

/// Frigate's camera status: `…/detect/state` and `…/available` (the first byte picks).
pub fn frigate_status(data: &[u8]) {
    let Some((which, body)) = data.split_first() else {
        return;
    };
    if which % 2 == 0 {
        let _ = crate::domain::camera_health::parse_detect(body);
    } else {
        let _ = crate::domain::camera_health::parse_available(body);
    }
}

/// A GB/T 28181 alarm notification, in any encoding it may declare (GB18030, GBK, UTF-8).
pub fn gb28181(data: &[u8]) {
    if crate::ingest::gb28181::check_size(data).is_ok() {
        if let Ok(alarm) = crate::ingest::gb28181::parse(data, chrono_tz::Asia::Shanghai) {
            let _ = crate::ingest::gb28181::to_alert(&alarm, None, NOW_MS);
        }
    }
}

/// An ONVIF metadata document (one RTP-reassembled frame), through to the alerts it makes.
pub fn onvif_metadata(data: &[u8]) {
    let Ok(events) = crate::ingest::onvif::parse_metadata(data) else {
        return;
    };
    let Ok(camera) = Ident::parse("cam-fuzz") else {
        return;
    };
    for event in &events {
        if let Some(d) = crate::ingest::onvif::classify(event) {
            let _ = crate::ingest::onvif::to_alert(&camera, &d, NOW_MS);
        }
    }
}

/// RTP packets of the metadata stream into the reassembler: each packet is a 2-byte
/// length, then a 7-byte header (sequence, timestamp, marker) and that many payload bytes.
pub fn rtp_reassembly(data: &[u8]) {
    let mut r = crate::video::metadata::Reassembler::new();
    let mut rest = data;
    while rest.len() >= 9 {
        let len = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
        let seq = u16::from_be_bytes([rest[2], rest[3]]);
        let ts = u32::from_be_bytes([rest[4], rest[5], rest[6], rest[7]]);
        let marker = rest[8] & 1 == 1;
        rest = &rest[9..];
        let take = len.min(rest.len());
        let _ = r.push(seq, ts, marker, &rest[..take]);
        rest = &rest[take..];
    }
}

/// A camera import file: CSV or GeoJSON (the first byte picks).
pub fn camera_import(data: &[u8]) {
    let Some((which, body)) = data.split_first() else {
        return;
    };
    crate::http::cameras::fuzz_import(which % 2 == 0, body);
}

/// A zone as GeoJSON (`POST /api/v1/zones`).
pub fn zone_geojson(data: &[u8]) {
    crate::http::zones::fuzz_feature(data);
}

/// A settings file (`--config`), over the defaults.
pub fn settings_toml(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = crate::config::Settings::from_toml(text);
    }
}

/// The runtime the broker targets run the connection on: one per process, current-thread
/// so a run replays the same way, with timers (the connection's timeouts).
fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    RUNTIME.get_or_init(|| {
        match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => panic!("fuzz: no tokio runtime: {e}"),
        }
    })
}

/// Password of every login the fuzz broker knows.
const FUZZ_PASSWORD: &str = "pw";

/// Logins of the fuzz broker, decided from the username alone (the store's check is not
/// what is fuzzed): `dispatch` is the superuser, `r:<id>` responder `<id>`, `s:<id>`
/// source `<id>`, all with password [`FUZZ_PASSWORD`]; anything else is refused.
struct FuzzAuth;

impl crate::mqtt::broker::Authenticator for FuzzAuth {
    fn authenticate(
        &self,
        _client_id: &str,
        username: &str,
        password: &str,
    ) -> futures::future::BoxFuture<'static, Option<crate::mqtt::broker::Principal>> {
        use crate::mqtt::broker::Principal;
        let principal = if password != FUZZ_PASSWORD {
            None
        } else if username == "dispatch" {
            Some(Principal::Superuser(username.to_owned()))
        } else if let Some(id) = username.strip_prefix("r:") {
            Some(Principal::Responder(id.to_owned()))
        } else {
            username
                .strip_prefix("s:")
                .map(|id| Principal::Source(id.to_owned()))
        };
        Box::pin(async move { principal })
    }
}

/// The broker's limits made small, so a few kilobytes of input reach them: queues,
/// in-flight windows, retained messages, sessions, filters, topic sizes, and a message
/// budget that pauses a login for microseconds, not seconds.
fn broker_config() -> crate::mqtt::broker::BrokerConfig {
    crate::mqtt::broker::BrokerConfig {
        max_packet_size: 16 * 1024,
        max_queued_per_session: 8,
        max_queued_qos0: 8,
        max_inflight: 4,
        max_inflight_superuser: 6,
        topic_limits: crate::mqtt::broker::topic::TopicLimits {
            levels: 8,
            bytes: 128,
        },
        max_filters_per_subscribe: 4,
        max_client_id_bytes: 32,
        max_retained_per_login: 8,
        max_retained_bytes_per_login: 4096,
        max_sessions_per_login: 4,
        max_messages_per_sec: 1_000_000,
        message_burst: 16,
        ..Default::default()
    }
}

/// A CONNECT (MQTT 3.1.1, keepalive 60 s) from the login `pick` chooses (1 superuser,
/// 2 responder `w1`, 3 source `cam`), with a clean session or a kept one.
fn connect_packet(pick: u8, clean: bool) -> Vec<u8> {
    let username = match pick {
        1 => "dispatch",
        2 => "r:w1",
        _ => "s:cam",
    };
    let mut connect = rumqttc::mqttbytes::v4::Connect::new("fuzz-client");
    connect.keep_alive = 60;
    connect.clean_session = clean;
    connect.set_login(username, FUZZ_PASSWORD);
    let mut buf = bytes::BytesMut::new();
    if let Err(e) = connect.write(&mut buf) {
        panic!("fuzz: CONNECT does not encode: {e}");
    }
    buf.to_vec()
}

/// Scheduler rounds a WebSocket client waits for the upgrade's answer. Everything is in
/// memory, so a server that is going to answer has done so after a few; one still waiting
/// for more of its request gets the rest then, as from a client that does not wait.
const ANSWER_ROUNDS: usize = 32;

/// Plays the client on `stream`: sends `head`, then `tail` once the server has answered
/// (a WebSocket client waits for the upgrade's answer: bytes before it are refused as junk)
/// or [`ANSWER_ROUNDS`] went by, then closes its sending side, while reading (and dropping)
/// everything the server sends until the server closes.
async fn play_client(stream: tokio::io::DuplexStream, head: &[u8], tail: &[u8]) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (mut rx, mut tx) = tokio::io::split(stream);
    let answered = std::cell::Cell::new(false);
    let send = async {
        // A server that closed early refuses the rest: that is its right.
        let _ = tx.write_all(head).await;
        if !tail.is_empty() {
            for _ in 0..ANSWER_ROUNDS {
                if answered.get() {
                    break;
                }
                tokio::task::yield_now().await;
            }
            let _ = tx.write_all(tail).await;
        }
        let _ = tx.shutdown().await;
    };
    let drain = async {
        let mut buf = [0u8; 1024];
        // The end of the answer's header ("\r\n\r\n") may straddle two reads.
        let mut last = Vec::with_capacity(buf.len() + 3);
        loop {
            let n = rx.read(&mut buf).await.unwrap_or(0);
            if n == 0 {
                break;
            }
            if !answered.get() {
                last.extend_from_slice(&buf[..n]);
                answered.set(last.windows(4).any(|w| w == b"\r\n\r\n"));
                let keep = last.len().saturating_sub(3);
                last.drain(..keep);
            }
        }
    };
    tokio::join!(send, drain);
}

/// Bytes buffered each way between the fuzz client and the server: small, so reads and
/// writes come in pieces as on a socket.
const PIPE_BYTES: usize = 512;

/// Serves `bytes` as one client's stream (a WebSocket client's in two parts: up to the end
/// of its upgrade request, then the rest once answered) and checks the connection let go
/// of everything when it ended.
fn serve_client(bytes: &[u8], websocket: bool) {
    let split = if websocket {
        bytes
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map_or(bytes.len(), |at| at + 4)
    } else {
        bytes.len()
    };
    let (head, tail) = bytes.split_at(split);
    runtime().block_on(async {
        let (client, server) = tokio::io::duplex(PIPE_BYTES);
        let serving = crate::mqtt::broker::fuzz_serve(
            server,
            websocket,
            broker_config(),
            std::sync::Arc::new(FuzzAuth),
        );
        let ((), stats) = tokio::join!(play_client(client, head, tail), serving);
        let held = stats
            .connections_current
            .load(std::sync::atomic::Ordering::Relaxed);
        assert_eq!(held, 0, "a connection is still counted after it ended");
    });
}

/// What an MQTT client sends the embedded broker, over an in-memory stream. The first byte
/// picks: 0 the rest is the whole stream (the CONNECT is fuzzed too); 1, 2, 3 a valid
/// CONNECT as the superuser, a responder or a source comes first (bit 2 set: a kept
/// session), then the rest.
pub fn mqtt_broker(data: &[u8]) {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let mut bytes = match pick % 4 {
        0 => Vec::with_capacity(rest.len()),
        login => connect_packet(login, pick & 4 == 0),
    };
    bytes.extend_from_slice(rest);
    serve_client(&bytes, false);
}

/// The upgrade request of a browser's MQTT client (mqtt.js).
const WS_UPGRADE: &[u8] = b"GET /mqtt HTTP/1.1\r\nHost: fuzz\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Key: Z3JpZGRpc3BhdGNoZnV6eg==\r\n\
Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n";

/// Masking key of the frames the harness builds (clients must mask, RFC 6455 §5.3).
const WS_MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// One masked, final WebSocket frame with `opcode` carrying `payload`.
fn ws_frame(opcode: u8, payload: &[u8], out: &mut Vec<u8>) {
    out.push(0x80 | (opcode & 0x0f));
    // Lengths up to 125 fit the second byte; the pieces here are at most 255 bytes and a
    // CONNECT, so the 16-bit extended length covers the rest.
    match u8::try_from(payload.len()) {
        Ok(n) if n <= 125 => out.push(0x80 | n),
        _ => {
            out.push(0x80 | 126);
            let n = u16::try_from(payload.len()).unwrap_or(u16::MAX);
            out.extend_from_slice(&n.to_be_bytes());
        }
    }
    out.extend_from_slice(&WS_MASK);
    out.extend(
        payload
            .iter()
            .zip(WS_MASK.iter().cycle())
            .map(|(b, m)| b ^ m),
    );
}

/// What a browser sends the broker's MQTT-over-WebSocket listener, the frames only after
/// the upgrade was answered (see [`serve_client`]). The first byte picks: 0 the rest is the
/// whole stream (the HTTP upgrade is fuzzed too); 1 a valid upgrade
/// comes first, then the rest as raw frames; 2 a valid upgrade, then the rest as MQTT bytes
/// cut into masked binary frames (each piece: one length byte, then that many bytes),
/// starting with a valid CONNECT as responder `w1`.
pub fn websocket(data: &[u8]) {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let mut bytes = Vec::with_capacity(WS_UPGRADE.len() + rest.len() * 2);
    match pick % 3 {
        0 => bytes.extend_from_slice(rest),
        1 => {
            bytes.extend_from_slice(WS_UPGRADE);
            bytes.extend_from_slice(rest);
        }
        _ => {
            bytes.extend_from_slice(WS_UPGRADE);
            ws_frame(0x2, &connect_packet(2, true), &mut bytes);
            let mut rest = rest;
            while let Some((&len, tail)) = rest.split_first() {
                let (piece, tail) = tail.split_at(usize::from(len).min(tail.len()));
                ws_frame(0x2, piece, &mut bytes);
                rest = tail;
            }
        }
    }
    serve_client(&bytes, true);
}
