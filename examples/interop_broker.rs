//! Our embedded MQTT broker on its own, with **every client a superuser**: for protocol
//! interoperability runs only (the Eclipse Paho MQTT 3.1.1 client tests and the hostile
//! probes in `scripts/broker-eval/`); never a deployment. ACLs are not what those tests
//! exercise, so this authenticator accepts any credentials, including none, and makes the
//! client [`Principal::Superuser`], which may publish and subscribe anywhere.
//!
//! ```text
//! cargo run --release --example interop_broker -- 127.0.0.1:1885 [--logins]
//! ```
//!
//! With `--logins` each username is instead its own source login (which may only use
//! `frigate/…` and `gb28181/…`), so the per-login limits apply: for the hostile probes.
//!
//! The address defaults to 127.0.0.1:1885. Runs until Ctrl-C (or SIGTERM's default action).

use std::sync::Arc;

use futures::future::BoxFuture;
use griddispatch::mqtt::broker::{Authenticator, Broker, BrokerConfig, Principal};
use tokio_util::sync::CancellationToken;

/// Makes everyone a superuser named after its client id (interoperability runs), or with
/// `logins` every username its own source login (probes of the per-login limits; an empty
/// username is the login `anonymous`).
#[derive(Debug)]
struct Everyone {
    logins: bool,
}

impl Authenticator for Everyone {
    fn authenticate(
        &self,
        client_id: &str,
        username: &str,
        _password: &str,
    ) -> BoxFuture<'static, Option<Principal>> {
        let principal = match (self.logins, username) {
            (false, _) => Principal::Superuser(client_id.to_owned()),
            (true, "") => Principal::Source("anonymous".to_owned()),
            (true, name) => Principal::Source(name.to_owned()),
        };
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
    let args: Vec<String> = std::env::args().skip(1).collect();
    let logins = args.iter().any(|a| a == "--logins");
    let addr = args
        .iter()
        .find(|a| !a.starts_with("--"))
        .cloned()
        .unwrap_or_else(|| "127.0.0.1:1885".to_owned());
    let mut config = BrokerConfig::default();
    if logins {
        // The probes' set-up publishes 20,000 retained messages from one login; the message
        // rate is tested by tests/it/hostile instead.
        config.max_messages_per_sec = 0;
    }
    let broker = Broker::bind(&addr, config).await?;
    let who = if logins {
        "every username is its own source login"
    } else {
        "every client is a superuser"
    };
    println!(
        "interop_broker: listening on {} ({who}; not for deployment)",
        broker.local_addr()
    );
    let cancel = CancellationToken::new();
    let stop = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            stop.cancel();
        }
    });
    broker.run(Arc::new(Everyone { logins }), cancel).await
}
