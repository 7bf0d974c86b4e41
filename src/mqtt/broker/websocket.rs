//! MQTT over WebSocket, for browsers (the field app's mqtt.js): each binary WebSocket
//! message carries MQTT bytes. The WebSocket is bridged to an in-memory byte pipe, so the
//! ordinary connection task serves it exactly like a TCP client, ACLs included.

use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

use super::{connection, Authenticator, Shared};

/// Longest a client may take to complete the WebSocket handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Bytes buffered in each direction between the WebSocket and the MQTT connection task.
const PIPE_BYTES: usize = 64 * 1024;

/// Picks the `mqtt` subprotocol when the client offers it (mqtt.js does, and a browser
/// drops a connection whose answer lacks a subprotocol it asked for); a client that offers
/// none is served as well, one that offers only others is refused.
#[allow(clippy::result_large_err)] // the signature is tungstenite's callback type
fn negotiate(req: &Request, mut resp: Response) -> Result<Response, ErrorResponse> {
    let offered: Vec<String> = req
        .headers()
        .get_all("sec-websocket-protocol")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|p| p.trim().to_ascii_lowercase())
        .filter(|p| !p.is_empty())
        .collect();
    if offered.is_empty() {
        return Ok(resp);
    }
    if let Some(p) = offered.iter().find(|p| *p == "mqtt" || *p == "mqttv3.1") {
        if let Ok(v) = HeaderValue::from_str(p) {
            resp.headers_mut().insert("sec-websocket-protocol", v);
        }
        return Ok(resp);
    }
    let mut refused = ErrorResponse::new(Some("subprotocol mqtt required".into()));
    *refused.status_mut() = tokio_tungstenite::tungstenite::http::StatusCode::BAD_REQUEST;
    Err(refused)
}

/// Serves one WebSocket client: handshake, then MQTT through the connection task until
/// either side closes or `cancel` fires.
pub(super) async fn serve<S>(
    stream: S,
    peer: String,
    shared: Arc<Shared>,
    auth: Arc<dyn Authenticator>,
    cancel: CancellationToken,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let config = WebSocketConfig::default()
        .max_message_size(Some(shared.config.max_packet_size.saturating_add(16)))
        .max_frame_size(Some(shared.config.max_packet_size.saturating_add(16)));
    let handshake =
        tokio_tungstenite::accept_hdr_async_with_config(stream, negotiate, Some(config));
    let ws = match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake).await {
        Ok(Ok(ws)) => ws,
        Ok(Err(e)) => {
            tracing::debug!(%peer, error = %e, "WebSocket handshake failed");
            return;
        }
        Err(_) => {
            tracing::debug!(%peer, "WebSocket handshake timed out");
            return;
        }
    };
    let (mqtt_side, bridge_side) = tokio::io::duplex(PIPE_BYTES);
    let connection = tokio::spawn(connection::serve(
        mqtt_side,
        format!("ws:{peer}"),
        shared,
        auth,
        cancel.clone(),
    ));
    let (mut ws_tx, mut ws_rx) = ws.split();
    let (mut pipe_rx, mut pipe_tx) = tokio::io::split(bridge_side);
    let inbound = async {
        while let Some(msg) = ws_rx.next().await {
            match msg {
                Ok(Message::Binary(data)) => {
                    if pipe_tx.write_all(&data).await.is_err() {
                        break;
                    }
                }
                Ok(Message::Close(_)) | Err(_) => break,
                // MQTT over WebSocket is binary only (MQTT 3.1.1 section 6).
                Ok(Message::Text(_)) => break,
                Ok(_) => {} // ping/pong are answered by tungstenite
            }
        }
        let _ = pipe_tx.shutdown().await;
    };
    let outbound = async {
        let mut buf = vec![0u8; PIPE_BYTES];
        loop {
            match pipe_rx.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if ws_tx
                        .send(Message::Binary(buf[..n].to_vec().into()))
                        .await
                        .is_err()
                    {
                        break;
                    }
                }
            }
        }
        let _ = ws_tx.close().await;
    };
    // Either direction ending ends the client: a closed WebSocket closes the MQTT
    // connection (its will is published), and a connection the broker closed closes the
    // WebSocket.
    tokio::select! {
        _ = inbound => {}
        _ = outbound => {}
        _ = cancel.cancelled() => {}
    }
    // Dropping the pipe ends the connection task if it is still reading.
    drop(pipe_rx);
    drop(pipe_tx);
    let _ = tokio::time::timeout(Duration::from_secs(5), connection).await;
}
