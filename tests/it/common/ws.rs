//! A local TCP port whose connections are carried over a WebSocket to the broker, so an
//! ordinary MQTT client speaks to the broker the way a browser does (over `ws:` or `wss:`).

use std::future::Future;
use std::sync::Arc;

use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

/// Listens on a local port; each connection to it gets a WebSocket from `open` and its
/// bytes go both ways as binary frames, until either side closes. Returns the port.
pub async fn bridge<F, Fut, S>(open: F) -> u16
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = WebSocketStream<S>> + Send,
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let open = Arc::new(open);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let open = open.clone();
            tokio::spawn(async move {
                let (mut ws_tx, mut ws_rx) = open().await.split();
                let (mut tcp_rx, mut tcp_tx) = tcp.into_split();
                let up = async {
                    let mut buf = vec![0u8; 16 * 1024];
                    loop {
                        let n = match tcp_rx.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        let frame = Message::Binary(buf[..n].to_vec().into());
                        if ws_tx.send(frame).await.is_err() {
                            break;
                        }
                    }
                };
                let down = async {
                    while let Some(Ok(msg)) = ws_rx.next().await {
                        if let Message::Binary(data) = msg {
                            if tcp_tx.write_all(&data).await.is_err() {
                                break;
                            }
                        }
                    }
                };
                tokio::select! { _ = up => {}, _ = down => {} }
            });
        }
    });
    port
}
