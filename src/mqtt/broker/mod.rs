//! STUB — replaced by the broker branch.
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    Superuser(String),
    Responder(String),
    Source(String),
}
pub trait Authenticator: Send + Sync + 'static {
    fn authenticate(
        &self,
        client_id: &str,
        username: &str,
        password: &str,
    ) -> futures::future::BoxFuture<'static, Option<Principal>>;
}
#[derive(Debug, Default)]
pub struct BrokerStats {
    pub connections_current: AtomicU64,
    pub connections_total: AtomicU64,
    pub auth_failures: AtomicU64,
    pub publishes_in: AtomicU64,
    pub publishes_denied: AtomicU64,
    pub subscribes_denied: AtomicU64,
    pub messages_dropped: AtomicU64,
}
#[derive(Debug, Clone)]
pub struct BrokerConfig {
    pub max_packet_size: usize,
}
impl Default for BrokerConfig {
    fn default() -> Self {
        BrokerConfig {
            max_packet_size: 256 * 1024,
        }
    }
}
#[derive(Debug)]
pub struct Broker {
    l: tokio::net::TcpListener,
    stats: Arc<BrokerStats>,
}
impl Broker {
    pub async fn bind(addr: &str, _c: BrokerConfig) -> std::io::Result<Broker> {
        Ok(Broker {
            l: tokio::net::TcpListener::bind(addr).await?,
            stats: Default::default(),
        })
    }
    pub fn local_addr(&self) -> std::net::SocketAddr {
        self.l.local_addr().expect("addr")
    }
    pub fn stats(&self) -> Arc<BrokerStats> {
        self.stats.clone()
    }
    pub async fn run(
        self,
        _a: Arc<dyn Authenticator>,
        c: tokio_util::sync::CancellationToken,
    ) -> anyhow::Result<()> {
        c.cancelled().await;
        Ok(())
    }
}
