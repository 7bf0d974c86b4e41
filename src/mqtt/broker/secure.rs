//! The broker's TLS listeners: MQTT over TLS (MQTTS) and MQTT over secure WebSocket (WSS).
//! A client is admitted under the same connection limits as on the plain listeners (its
//! place is taken before the handshake), then its TLS handshake runs in its own task within
//! `connect_timeout`, so a client that stalls the handshake holds its place no longer than
//! one that stalls its CONNECT. After the handshake it is served exactly as a plain client.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use super::{connection, websocket, Authenticator, Shared};
use crate::tls::TlsAcceptor;

/// What a TLS listener carries inside TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Inner {
    /// MQTT packets (MQTTS).
    Mqtt,
    /// A WebSocket carrying MQTT packets (WSS).
    WebSocket,
}

/// A bound TLS listener and its acceptor.
pub(super) struct SecureListener {
    pub listener: TcpListener,
    pub acceptor: TlsAcceptor,
    pub inner: Inner,
}

impl SecureListener {
    /// Binds `addr`; returns the listener and the address bound.
    pub async fn bind(
        addr: impl tokio::net::ToSocketAddrs,
        acceptor: TlsAcceptor,
        inner: Inner,
    ) -> std::io::Result<(SecureListener, SocketAddr)> {
        let listener = TcpListener::bind(addr).await?;
        let bound = listener.local_addr()?;
        Ok((
            SecureListener {
                listener,
                acceptor,
                inner,
            },
            bound,
        ))
    }

    /// The listener's name in logs.
    pub fn name(&self) -> &'static str {
        match self.inner {
            Inner::Mqtt => "MQTTS",
            Inner::WebSocket => "WSS",
        }
    }
}

/// Next connection on a TLS listener; never resolves when there is none.
pub(super) async fn accept(
    listener: &Option<SecureListener>,
) -> std::io::Result<(TcpStream, SocketAddr)> {
    match listener {
        Some(l) => l.listener.accept().await,
        None => std::future::pending().await,
    }
}

/// Serves one client of a TLS listener: the handshake (bounded), then MQTT or WebSocket.
pub(super) async fn serve(
    stream: TcpStream,
    peer: String,
    acceptor: TlsAcceptor,
    inner: Inner,
    shared: Arc<Shared>,
    auth: Arc<dyn Authenticator>,
    cancel: CancellationToken,
) {
    let handshake = tokio::time::timeout(shared.config.connect_timeout, acceptor.accept(stream));
    let tls = tokio::select! {
        _ = cancel.cancelled() => return,
        done = handshake => match done {
            Ok(Ok(tls)) => tls,
            Ok(Err(e)) => {
                tracing::debug!(%peer, error = %e, "broker: TLS handshake failed");
                return;
            }
            Err(_) => {
                tracing::debug!(%peer, "broker: TLS handshake timed out");
                return;
            }
        },
    };
    let peer = format!("tls:{peer}");
    match inner {
        Inner::Mqtt => connection::serve(tls, peer, shared, auth, cancel).await,
        Inner::WebSocket => websocket::serve(tls, peer, shared, auth, cancel).await,
    }
}
