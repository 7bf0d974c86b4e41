//! `GET /api/v1/live`: the WebSocket that pushes every committed change as
//! `{seq, type, data}` (see [`crate::live`] and docs/contract.md).
//!
//! Each connection is its own task reading from the hub's broadcast channel, so a slow
//! client only ever delays itself: when it falls `live.client_backlog` events
//! behind, or one send takes longer than [`SEND_TIMEOUT`], it is closed with a reason and
//! catches up by reconnecting with `?since=`.

use std::time::Duration;

use axum::extract::ws::{close_code, CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::Response;
use futures::{SinkExt, StreamExt};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast::error::RecvError;
use utoipa::openapi::{RefOr, Schema};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Viewer;
use super::error::{ApiError, Query};
use super::AppState;
use crate::live::{Event, Start, Subscription};
use crate::views;

/// Longest one message may take to go out before the client counts as stuck.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// How often an idle connection is pinged (keeps proxies from dropping it).
pub const PING_EVERY: Duration = Duration::from_secs(30);

/// Routes of this area.
pub fn router() -> OpenApiRouter<AppState> {
    let mut router = OpenApiRouter::new().routes(routes!(live));
    // The events' `data` shapes, which no operation's body names: in the document's
    // schemas, so clients can generate them as they do the answers.
    let mut schemas = Vec::new();
    event_schema::<views::IncidentView>(&mut schemas);
    event_schema::<views::TaskEvent>(&mut schemas);
    event_schema::<views::TimelineEvent>(&mut schemas);
    event_schema::<views::ResponderEvent>(&mut schemas);
    event_schema::<views::ResponderDeletedEvent>(&mut schemas);
    event_schema::<views::CameraEvent>(&mut schemas);
    let components = router
        .get_openapi_mut()
        .components
        .get_or_insert_with(Default::default);
    components.schemas.extend(schemas);
    router
}

/// Adds `T`'s schema, and those it names, to `out`.
fn event_schema<T: ToSchema>(out: &mut Vec<(String, RefOr<Schema>)>) {
    out.push((T::name().into_owned(), T::schema()));
    T::schemas(out);
}

/// `?since=` of the live feed.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct LiveQuery {
    /// The seq of the last event the client applied: the events after it are sent first
    /// (or `resync` when they are no longer all kept).
    since: Option<String>,
}

/// The first frames of a connection, before the events: `{"type": "hello"|"resync",
/// "seq": N}`.
#[derive(Debug, Serialize)]
struct Greeting {
    /// `hello`, or `resync` when `since` cannot be served.
    #[serde(rename = "type")]
    kind: &'static str,
    /// The newest event's seq at connect time.
    seq: u64,
}

impl Greeting {
    /// The text frame.
    fn frame(kind: &'static str, seq: u64) -> Utf8Bytes {
        // Two plain fields always serialise.
        Utf8Bytes::from(serde_json::to_string(&Greeting { kind, seq }).unwrap_or_default())
    }
}

/// The live feed, a WebSocket.
///
/// A GET with `Upgrade: websocket`; every committed change is pushed as a JSON text frame.
/// First `{"type": "hello", "seq": N}` (N the newest event's seq); with a `since` the
/// server no longer holds every event after, `{"type": "resync", "seq": N}` (reload over
/// REST); then `{"seq": n, "type": T, "data": {…}}`, one per change after its commit,
/// `seq` increasing by exactly 1. `T` and `data`: `incident` (`IncidentView`, as an item
/// of `GET /api/v1/incidents`), `task` (`TaskEvent`: a task of `GET /api/v1/incidents/{id}`
/// plus `incident_id`), `timeline` (`TimelineEvent`: `{incident_id, line}`), `responder`
/// (`ResponderEvent`, or `ResponderDeletedEvent` `{id, deleted: true}`), `camera`
/// (`CameraEvent`). A client that falls behind is closed with 1013 and reconnects with
/// `since`; at shutdown the close code is 1001. Anything the client sends is ignored.
/// Browsers authenticate with the session cookie (and must be of this site's origin).
#[utoipa::path(
    get,
    path = "/api/v1/live",
    tag = "live",
    params(LiveQuery),
    responses(
        (status = 101, description = "Switching to the WebSocket protocol; the events follow as text frames."),
        (status = 426, description = "Not a WebSocket handshake (a plain GET).",
         body = super::openapi::ErrorBody),
    )
)]
async fn live(
    _: Viewer,
    State(st): State<AppState>,
    Query(q): Query<LiveQuery>,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    // A plain GET gets our error shape, not axum's plain-text 400.
    let ws = ws.map_err(|e| ApiError::UpgradeRequired(e.body_text()))?;
    let since = match q.since.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(s.parse::<u64>().map_err(|_| {
            ApiError::Unprocessable(format!("since: not a sequence number: {s:?}"))
        })?),
    };
    let live = st.live.clone();
    let metrics = st.metrics.clone();
    Ok(ws
        .on_failed_upgrade(|e| tracing::debug!(error = %e, "live feed upgrade failed"))
        .on_upgrade(move |socket| async move {
            // Subscribing once the socket is up: nothing is buffered for a handshake that
            // fails, and the replay starts from the freshest ring.
            let sub = live.subscribe(since);
            metrics.live_clients.inc();
            if serve(socket, sub, live.stopping()).await == End::TooSlow {
                metrics.live_slow_disconnects_total.inc();
            }
            metrics.live_clients.dec();
        }))
}

/// Why a connection ended.
#[derive(Debug, PartialEq, Eq)]
enum End {
    /// The client left, or the instance stops.
    Gone,
    /// The client fell behind or a send got stuck.
    TooSlow,
}

/// Sends `hello`, the catch-up, then live events until the client leaves, falls behind,
/// or the instance stops.
async fn serve(
    socket: WebSocket,
    mut sub: Subscription,
    stop: tokio_util::sync::CancellationToken,
) -> End {
    let (mut tx, mut rx) = socket.split();
    let current = sub.current;
    let mut first = vec![Greeting::frame("hello", current)];
    match std::mem::replace(&mut sub.start, Start::Replay(Vec::new())) {
        Start::Replay(events) => first.extend(events.iter().filter_map(|e| frame(e))),
        Start::Resync => first.push(Greeting::frame("resync", current)),
    }
    for text in first {
        if let Err(end) = send(&mut tx, Message::Text(text)).await {
            return end;
        }
    }
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.tick().await;
    loop {
        let sent = tokio::select! {
            _ = stop.cancelled() => {
                close(&mut tx, close_code::AWAY, "server stopping").await;
                return End::Gone;
            }
            event = sub.rx.recv() => match event {
                Ok(e) => match frame(&e) {
                    Some(text) => send(&mut tx, Message::Text(text)).await,
                    None => Ok(()),
                },
                Err(RecvError::Lagged(missed)) => {
                    tracing::info!(missed, "live client too slow; disconnected");
                    close(&mut tx, close_code::AGAIN, "too slow: reconnect with since").await;
                    return End::TooSlow;
                }
                Err(RecvError::Closed) => {
                    close(&mut tx, close_code::AWAY, "server stopping").await;
                    return End::Gone;
                }
            },
            msg = rx.next() => match msg {
                // Nothing a client says matters; pongs and pings are handled below us.
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return End::Gone,
                Some(Ok(_)) => Ok(()),
            },
            _ = ping.tick() => send(&mut tx, Message::Ping(Default::default())).await,
        };
        if let Err(end) = sent {
            return end;
        }
    }
}

type Sink = futures::stream::SplitSink<WebSocket, Message>;

/// Sends one message; the reason to end when the client is gone or stuck.
/// The WebSocket text frame of an event. The hub writes only JSON it serialized itself, so
/// an event that is not UTF-8 would be a bug in the hub: it is logged and not sent.
fn frame(e: &Event) -> Option<Utf8Bytes> {
    match Utf8Bytes::try_from(e.text.clone()) {
        Ok(text) => Some(text),
        Err(err) => {
            tracing::error!(seq = e.seq, error = %err, "live event is not UTF-8; not sent");
            None
        }
    }
}

async fn send(tx: &mut Sink, msg: Message) -> Result<(), End> {
    match tokio::time::timeout(SEND_TIMEOUT, tx.send(msg)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) => Err(End::Gone),
        Err(_) => {
            tracing::info!("live client stuck on a send; disconnected");
            Err(End::TooSlow)
        }
    }
}

/// Closes with a reason the client can show; best effort.
async fn close(tx: &mut Sink, code: u16, reason: &'static str) {
    let frame = CloseFrame {
        code,
        reason: Utf8Bytes::from_static(reason),
    };
    let _ = tokio::time::timeout(SEND_TIMEOUT, tx.send(Message::Close(Some(frame)))).await;
}
