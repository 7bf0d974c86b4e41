//! The HTTP listener: accepts connections within `http.limits.max_connections` and
//! `max_connections_per_ip` (closing the rest at once), and gives each client
//! `header_read_timeout_secs` to send a request's head, so slow-loris clients, which
//! dribble headers to hold connections open, are cut off. `axum::serve` offers neither
//! (it sets no timer, so hyper's header timeout is off), hence hyper's own connection
//! builder here.
//!
//! With `http.tls_cert` set the listener speaks only TLS: each connection's handshake runs
//! in its own task under the same `header_read_timeout_secs`, with its connection slot
//! already taken, so a client that stalls the handshake is cut off like one that stalls
//! its headers.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::HttpLimits;
use crate::conn_limit::{ConnLimit, ConnPermit};
use crate::metrics::Metrics;
use crate::tls::TlsAcceptor;

/// How long open connections get to finish their requests once the server stops.
const DRAIN: Duration = Duration::from_secs(5);

/// Serves `app` on `listener` until `cancel` fires, then lets open requests finish (at
/// most [`DRAIN`]). With `tls`, every connection must open with a TLS handshake.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: &HttpLimits,
    tls: Option<TlsAcceptor>,
    metrics: Arc<Metrics>,
    cancel: CancellationToken,
) -> anyhow::Result<()> {
    let conns = ConnLimit::new(limits.max_connections, limits.max_connections_per_ip);
    let head_timeout = Duration::from_secs(limits.header_read_timeout_secs);
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(head_timeout);
    let tracker = TaskTracker::new();
    loop {
        let (stream, peer) = tokio::select! {
            _ = cancel.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Typically EMFILE: back off rather than spin.
                    tracing::warn!(error = %e, "http: accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let Some(permit) = conns.admit(peer.ip()) else {
            metrics.http_connections_refused_total.inc();
            tracing::debug!(%peer, "http: connection limit reached; closed");
            continue;
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        // The permit rides in the stream, so a WebSocket upgraded from this connection
        // keeps its place for as long as it is open.
        let counted = Counted {
            stream,
            _permit: permit,
        };
        let (http, cancel, tls) = (http.clone(), cancel.clone(), tls.clone());
        tracker.spawn(async move {
            let Some(tls) = tls else {
                return serve_connection(&http, counted, app, peer, cancel).await;
            };
            let handshake = tokio::time::timeout(head_timeout, tls.accept(counted));
            let stream = tokio::select! {
                _ = cancel.cancelled() => return,
                done = handshake => match done {
                    Ok(Ok(stream)) => stream,
                    Ok(Err(e)) => {
                        tracing::debug!(%peer, error = %e, "https: TLS handshake failed");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!(%peer, "https: TLS handshake timed out");
                        return;
                    }
                },
            };
            serve_connection(&http, stream, app, peer, cancel).await;
        });
    }
    drop(listener);
    tracker.close();
    let _ = tokio::time::timeout(DRAIN + Duration::from_secs(1), tracker.wait()).await;
    Ok(())
}

/// Serves HTTP/1 on one connection until it ends, or until `cancel` fires and its open
/// requests have had [`DRAIN`] to finish.
async fn serve_connection<S>(
    http: &hyper::server::conn::http1::Builder,
    stream: S,
    app: Router,
    peer: std::net::SocketAddr,
    cancel: CancellationToken,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    // The peer's address, for handlers that take `ConnectInfo` (login limits).
    let service = hyper::service::service_fn(move |mut req| {
        req.extensions_mut().insert(ConnectInfo(peer));
        tower::ServiceExt::oneshot(app.clone(), req)
    });
    let conn = http
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    let mut conn = std::pin::pin!(conn);
    tokio::select! {
        result = conn.as_mut() => {
            if let Err(e) = result {
                tracing::trace!(%peer, error = %e, "http connection ended");
            }
            return;
        }
        _ = cancel.cancelled() => conn.as_mut().graceful_shutdown(),
    }
    let _ = tokio::time::timeout(DRAIN, conn).await;
}

/// A connection's stream with its place under the connection limit.
struct Counted {
    stream: TcpStream,
    _permit: ConnPermit,
}

impl AsyncRead for Counted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}
