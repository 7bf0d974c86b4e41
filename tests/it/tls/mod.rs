//! Built-in TLS (issue 17): every certificate is made here with rcgen, a CA and a server
//! certificate for `localhost` and 127.0.0.1 signed by it, and every client trusts only that
//! CA. HTTPS on the API (`https`), MQTTS and WSS on the embedded broker (`broker`), the
//! dispatcher's client over mqtts:// to a Mosquitto with a TLS listener (`client`), and
//! PostgreSQL over TLS on a throwaway cluster (`postgres`).

mod broker;
mod client;
mod https;
mod postgres;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use griddispatch::config::Settings;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS, TlsConfiguration, Transport};
use tokio::sync::mpsc;

use crate::common::{TestApp, WAIT};

/// A CA and a server certificate it signed, as PEM files in a folder.
pub struct Certs {
    /// The CA's certificate: what clients trust.
    pub ca: PathBuf,
    /// The server's certificate (for `localhost` and 127.0.0.1).
    pub cert: PathBuf,
    /// Its private key (PKCS#8).
    pub key: PathBuf,
}

impl Certs {
    /// Makes a fresh CA named `name` and a server certificate in `dir`.
    pub fn make(dir: &Path, name: &str) -> Certs {
        use rcgen::{
            BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair,
            KeyUsagePurpose,
        };
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, format!("{name} test CA"));
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
        let mut params =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &ca).unwrap();
        let certs = Certs {
            ca: dir.join(format!("{name}-ca.pem")),
            cert: dir.join(format!("{name}-cert.pem")),
            key: dir.join(format!("{name}-key.pem")),
        };
        std::fs::write(&certs.ca, ca.pem()).unwrap();
        std::fs::write(&certs.cert, cert.pem()).unwrap();
        std::fs::write(&certs.key, key.serialize_pem()).unwrap();
        // PostgreSQL refuses a key others may read.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&certs.key, std::fs::Permissions::from_mode(0o600)).unwrap();
        certs
    }

    /// The CA's PEM.
    pub fn ca_pem(&self) -> Vec<u8> {
        std::fs::read(&self.ca).unwrap()
    }

    /// An HTTPS client that trusts this CA only.
    pub fn https_client(&self) -> reqwest::Client {
        let ca = reqwest::Certificate::from_pem(&self.ca_pem()).unwrap();
        reqwest::Client::builder()
            .add_root_certificate(ca)
            .build()
            .unwrap()
    }

    /// A rustls client config that trusts this CA only (for the WSS bridge).
    pub fn rustls_client(&self) -> Arc<rustls::ClientConfig> {
        use rustls::pki_types::pem::PemObject;
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls::pki_types::CertificateDer::pem_file_iter(&self.ca).unwrap() {
            roots.add(cert.unwrap()).unwrap();
        }
        #[allow(deprecated)] // ring, as in the server (src/tls.rs)
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        Arc::new(config)
    }
}

/// Starts an instance with `settings`, its API reached over `https` (with `http`, a
/// client that trusts the instance's CA) when `http.tls_cert` is set.
pub async fn spawn(dir: tempfile::TempDir, settings: Settings, http: reqwest::Client) -> TestApp {
    TestApp::spawn_with_client(dir, settings, http).await
}

/// A small MQTT client over TLS (rumqttc with rustls), trusting `ca` and checking that the
/// broker's certificate names `host`.
pub struct TlsClient {
    pub client: AsyncClient,
    rx: mpsc::UnboundedReceiver<(String, Bytes)>,
    connack: mpsc::UnboundedReceiver<Result<(), String>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TlsClient {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TlsClient {
    /// Connects over TLS when `ca` is given, else in plain TCP; does not wait.
    pub fn start(
        host: &str,
        port: u16,
        ca: Option<Vec<u8>>,
        client_id: &str,
        user: &str,
        pass: &str,
    ) -> TlsClient {
        let mut opts = MqttOptions::new(client_id, host, port);
        opts.set_keep_alive(Duration::from_secs(10));
        opts.set_credentials(user, pass);
        if let Some(ca) = ca {
            opts.set_transport(Transport::tls_with_config(TlsConfiguration::Simple {
                ca,
                alpn: None,
                client_auth: None,
            }));
        }
        let (client, mut events) = AsyncClient::new(opts, 100);
        let (tx, rx) = mpsc::unbounded_channel();
        let (ctx, connack) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            loop {
                match events.poll().await {
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        let _ = tx.send((p.topic, p.payload));
                    }
                    Ok(Event::Incoming(Packet::ConnAck(a))) => {
                        let code = if a.code == rumqttc::ConnectReturnCode::Success {
                            Ok(())
                        } else {
                            Err(format!("{:?}", a.code))
                        };
                        let _ = ctx.send(code);
                    }
                    Ok(_) => {}
                    Err(e) => {
                        let _ = ctx.send(Err(e.to_string()));
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                }
            }
        });
        TlsClient {
            client,
            rx,
            connack,
            task,
        }
    }

    /// The first answer to connecting: Ok on CONNACK 0, else what went wrong.
    pub async fn connected(&mut self) -> Result<(), String> {
        match tokio::time::timeout(WAIT, self.connack.recv()).await {
            Ok(Some(answer)) => answer,
            _ => Err("no answer in time".to_owned()),
        }
    }

    /// Connects (panics unless CONNACK 0) and subscribes to `filter`.
    pub async fn subscribed(
        host: &str,
        port: u16,
        ca: Option<Vec<u8>>,
        client_id: &str,
        login: (&str, &str),
        filter: &str,
    ) -> TlsClient {
        let mut c = TlsClient::start(host, port, ca, client_id, login.0, login.1);
        c.connected().await.expect("connected");
        c.client.subscribe(filter, QoS::AtLeastOnce).await.unwrap();
        c
    }

    /// The next non-empty message on a topic that `pred` accepts.
    pub async fn next_where(&mut self, pred: impl Fn(&str) -> bool) -> (String, Bytes) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some((t, p))) if pred(&t) && !p.is_empty() => return (t, p),
                Ok(Some(_)) => {}
                _ => panic!("no matching message in time"),
            }
        }
    }

    /// The next task message of worker `rid` (its inbox `dispatch/<rid>/tasks/<task>`).
    pub async fn task(&mut self, rid: &str) -> serde_json::Value {
        let prefix = format!("dispatch/{rid}/tasks/");
        let (_, p) = self
            .next_where(|t| {
                t.strip_prefix(&prefix)
                    .is_some_and(|rest| !rest.is_empty() && !rest.contains('/'))
            })
            .await;
        serde_json::from_slice(&p).unwrap()
    }

    /// Publishes an OwnTracks fix of `rid` (now), QoS 1.
    pub async fn locate(&self, rid: &str, lat: f64, lon: f64) -> i64 {
        let tst = chrono::Utc::now().timestamp();
        let msg = serde_json::json!({"_type":"location","lat":lat,"lon":lon,"tst":tst,"acc":8});
        self.client
            .publish(
                format!("owntracks/{rid}/phone"),
                QoS::AtLeastOnce,
                false,
                msg.to_string(),
            )
            .await
            .unwrap();
        tst
    }
}
