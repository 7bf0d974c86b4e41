//! Server-side TLS for our own listeners (the HTTP API and console, the broker's MQTTS and
//! WSS listeners): a certificate chain and its private key read from PEM files once at
//! start, turned into a rustls acceptor on the ring provider. Every error names the
//! setting the file came from, so a wrong path or a key that does not match its
//! certificate stops the start with one line that says what to fix.
//!
//! Handshakes are run by the listeners themselves, each inside the connection's own task
//! and under the listener's timeout, so a client that stalls its handshake holds one
//! connection slot for that long and no more.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
pub use tokio_rustls::TlsAcceptor;

pub mod local_ca;

/// Which protocol a listener speaks inside TLS, offered by ALPN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alpn {
    /// HTTP/1.1: the API, the console and WebSockets (the server speaks HTTP/1 only).
    Http1,
    /// MQTT: none is offered; MQTT clients seldom send ALPN and the listener is MQTT only.
    None,
}

/// The certificate chain (leaf first) and private key of a TLS listener, from the PEM files
/// of settings `cert_key` and `key_key` (their names, for errors).
#[derive(Debug)]
pub struct ServerIdentity {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

impl ServerIdentity {
    /// Reads `cert` (one or more CERTIFICATE blocks, the server's first) and `key` (a
    /// PKCS#8, PKCS#1 or SEC1 private key).
    pub fn load(
        cert: &Path,
        key: &Path,
        cert_key: &str,
        key_key: &str,
    ) -> Result<ServerIdentity, TlsError> {
        let bad = |setting: &str, path: &Path, why: String| TlsError {
            message: format!("{setting} {}: {why}", path.display()),
        };
        let pem = std::fs::read(cert).map_err(|e| bad(cert_key, cert, e.to_string()))?;
        let chain = CertificateDer::pem_slice_iter(&pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| bad(cert_key, cert, format!("not a PEM certificate file ({e})")))?;
        if chain.is_empty() {
            return Err(bad(cert_key, cert, "holds no CERTIFICATE block".to_owned()));
        }
        let pem = std::fs::read(key).map_err(|e| bad(key_key, key, e.to_string()))?;
        let key = PrivateKeyDer::from_pem_slice(&pem).map_err(|e| {
            bad(
                key_key,
                key,
                format!("holds no PEM private key (PKCS#8, PKCS#1 or SEC1): {e}"),
            )
        })?;
        Ok(ServerIdentity { chain, key })
    }

    /// From DER already in memory (a certificate made at start, e.g. for the demo).
    pub fn from_der(chain: Vec<Vec<u8>>, key_pkcs8: Vec<u8>) -> ServerIdentity {
        ServerIdentity {
            chain: chain.into_iter().map(CertificateDer::from).collect(),
            key: PrivateKeyDer::Pkcs8(key_pkcs8.into()),
        }
    }

    /// An acceptor for a listener speaking `alpn`. Fails when the key does not match the
    /// certificate or is of a kind ring cannot use; `what` names the listener's settings.
    pub fn acceptor(&self, alpn: Alpn, what: &str) -> Result<TlsAcceptor, TlsError> {
        // Deprecated since rustls 0.23.48 because ring lacks post-quantum key exchange;
        // aws-lc-rs has it but needs cmake and a C toolchain to build (docs/decisions.md).
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .and_then(|b| {
                b.with_no_client_auth()
                    .with_single_cert(self.chain.clone(), self.key.clone_key())
            })
            .map_err(|e| TlsError {
                message: format!("{what}: the certificate and key cannot be used: {e}"),
            })?;
        if alpn == Alpn::Http1 {
            config.alpn_protocols = vec![b"http/1.1".to_vec()];
        }
        Ok(TlsAcceptor::from(Arc::new(config)))
    }
}

/// A TLS file or set-up that cannot be used; the message names the setting.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct TlsError {
    message: String,
}

/// Reads the CA certificates (PEM) a client trusts, e.g. `mqtt.ca_file`; fails when the file
/// cannot be read or holds no certificate. Returns the file's bytes, checked.
pub fn read_ca_pem(path: &Path, setting: &str) -> Result<Vec<u8>, TlsError> {
    let bad = |why: String| TlsError {
        message: format!("{setting} {}: {why}", path.display()),
    };
    let pem = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(format!("not a PEM certificate file ({e})")))?;
    if certs.is_empty() {
        return Err(bad("holds no CERTIFICATE block".to_owned()));
    }
    Ok(pem)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_and_empty_files_name_their_setting() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "").unwrap();
        let missing = dir.path().join("nope.pem");
        let e = ServerIdentity::load(&missing, &empty, "http.tls_cert", "http.tls_key")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("http.tls_cert "), "{e}");
        let e = ServerIdentity::load(&empty, &empty, "http.tls_cert", "http.tls_key")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("http.tls_cert") && e.contains("no CERTIFICATE"),
            "{e}"
        );
        let e = read_ca_pem(&empty, "mqtt.ca_file").unwrap_err().to_string();
        assert!(e.starts_with("mqtt.ca_file "), "{e}");
    }
}
