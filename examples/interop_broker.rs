//! Our embedded MQTT broker on its own, with **every client a superuser**: for protocol
//! interoperability runs only (the Eclipse Paho MQTT 3.1.1 client tests and the hostile
//! probes in `scripts/broker-eval/`); never a deployment. ACLs are not what those tests
//! exercise, so this authenticator accepts any credentials, including none, and makes the
//! client [`Principal::Superuser`], which may publish and subscribe anywhere.
//!
//! ```text
//! cargo run --release --example interop_broker -- 127.0.0.1:1885
//! ```
//!
//! The address defaults to 127.0.0.1:1885. Runs until Ctrl-C (or SIGTERM's default action).

use std::sync::Arc;

use futures::future::BoxFuture;
use griddispatch::mqtt::broker::{Authenticator, Broker, BrokerConfig, Principal};
use tokio_util::sync::CancellationToken;

/// Makes everyone a superuser named after its client id. Interoperability runs only.
#[derive(Debug)]
struct EveryoneSuperuser;

impl Authenticator for EveryoneSuperuser {
    fn authenticate(
        &self,
        client_id: &str,
        _username: &str,
        _password: &str,
    ) -> BoxFuture<'static, Option<Principal>> {
        let principal = Principal::Superuser(client_id.to_owned());
        Box::pin(async move { Some(principal) })
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:1885".to_owned());
    let broker = Broker::bind(&addr, BrokerConfig::default()).await?;
    println!(
        "interop_broker: listening on {} (every client is a superuser; not for deployment)",
        broker.local_addr()
    );
    let cancel = CancellationToken::new();
    let stop = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            stop.cancel();
        }
    });
    broker.run(Arc::new(EveryoneSuperuser), cancel).await
}
