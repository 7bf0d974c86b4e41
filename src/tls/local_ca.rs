//! A certificate authority of this machine's own, for `serve --https`: it signs a server
//! certificate for the names the caller gives (localhost, the host name, the LAN addresses).
//!
//! A CA and a leaf rather than one self-signed certificate, because a phone can be told to
//! trust a CA certificate (Android's "CA certificate", iOS's Certificate Trust Settings) but
//! not a lone server certificate. The CA is kept and reused, so a phone trusts it once; the
//! server certificate is made anew at every start, so it always names the addresses the
//! machine has now (a laptop moves between networks). Keys never leave the folder, which
//! only the owner can read.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use rustls::client::danger::ServerCertVerifier;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};

use super::TlsError;

/// The CA's name, the same at every start: a reused CA key is turned back into an issuer
/// from it, and a leaf only chains to the CA certificate when the names match.
const CA_NAME: &str = "griddispatch local CA";
/// How long a new CA is valid.
const CA_DAYS: i64 = 5 * 365;
/// A CA that expires sooner than this is replaced rather than reused.
const CA_RENEW_DAYS: i64 = 30;
/// How long a server certificate is valid: under the 398 days browsers accept.
const LEAF_DAYS: i64 = 365;

/// The files [`issue`] wrote.
#[derive(Debug, Clone)]
pub struct LocalCertificate {
    /// The CA certificate (PEM): what a phone or a client is told to trust.
    pub ca: PathBuf,
    /// The server's certificate followed by the CA's (PEM), for `http.tls_cert`.
    pub cert: PathBuf,
    /// The server certificate's private key (PKCS#8 PEM), for `http.tls_key`.
    pub key: PathBuf,
    /// Whether the CA was made now (phones that trusted the old one must be told again).
    pub new_ca: bool,
}

/// Writes into `dir` a server certificate for `names` (DNS names or IP addresses), signed by
/// the CA kept there, which is made first if missing, unreadable or about to expire.
pub fn issue(dir: &Path, names: &[String]) -> Result<LocalCertificate, TlsError> {
    let err = |what: &str, e: &dyn std::fmt::Display| TlsError {
        message: format!("{what} ({}): {e}", dir.display()),
    };
    std::fs::create_dir_all(dir).map_err(|e| err("cannot create the certificate folder", &e))?;
    let files = LocalCertificate {
        ca: dir.join("ca.pem"),
        cert: dir.join("cert.pem"),
        key: dir.join("key.pem"),
        new_ca: false,
    };
    let ca_key_path = dir.join("ca-key.pem");
    let leaf_key = KeyPair::generate().map_err(|e| err("cannot make a key", &e))?;
    let leaf_params = leaf_params(names).map_err(|e| err("a name cannot be used", &e))?;

    // The kept CA, if it still signs a certificate that verifies well past today.
    if let Some((ca_pem, ca_key)) = read_ca(&files.ca, &ca_key_path) {
        let issuer = Issuer::new(ca_params(), ca_key);
        if let Ok(leaf) = leaf_params.signed_by(&leaf_key, &issuer) {
            if chains_to(&ca_pem, leaf.der(), names) {
                write_leaf(&files, &leaf.pem(), &ca_pem, &leaf_key)
                    .map_err(|e| err("cannot write the certificate", &e))?;
                return Ok(files);
            }
        }
        tracing::warn!(ca = %files.ca.display(), "the local CA is expiring or does not match its key; making a new one");
    }

    let ca_key = KeyPair::generate().map_err(|e| err("cannot make a key", &e))?;
    let mut params = ca_params();
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + time::Duration::days(CA_DAYS);
    let ca_cert = params
        .self_signed(&ca_key)
        .map_err(|e| err("cannot make the CA certificate", &e))?;
    let ca_pem = ca_cert.pem();
    write_file(&ca_key_path, ca_key.serialize_pem().as_bytes(), true)
        .and_then(|()| write_file(&files.ca, ca_pem.as_bytes(), false))
        .map_err(|e| err("cannot write the CA", &e))?;
    let issuer = Issuer::new(ca_params(), ca_key);
    let leaf = leaf_params
        .signed_by(&leaf_key, &issuer)
        .map_err(|e| err("cannot sign the certificate", &e))?;
    write_leaf(&files, &leaf.pem(), &ca_pem, &leaf_key)
        .map_err(|e| err("cannot write the certificate", &e))?;
    Ok(LocalCertificate {
        new_ca: true,
        ..files
    })
}

/// The CA's parameters, validity aside: the same at every start (see [`CA_NAME`]).
fn ca_params() -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, CA_NAME);
    name.push(DnType::OrganizationName, "griddispatch");
    params.distinguished_name = name;
    // It signs server certificates only, never another CA.
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params
}

fn leaf_params(names: &[String]) -> Result<CertificateParams, rcgen::Error> {
    let mut params = CertificateParams::new(names.to_vec())?;
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, "griddispatch");
    params.distinguished_name = name;
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::hours(1);
    params.not_after = now + time::Duration::days(LEAF_DAYS);
    Ok(params)
}

/// The kept CA certificate (PEM) and key, when both files are there and the key parses.
fn read_ca(cert: &Path, key: &Path) -> Option<(String, KeyPair)> {
    let pem = std::fs::read_to_string(cert).ok()?;
    let key = KeyPair::from_pem(&std::fs::read_to_string(key).ok()?).ok()?;
    Some((pem, key))
}

/// Whether `leaf` verifies against the CA in `ca_pem` for the first of `names`, as a
/// browser would check it [`CA_RENEW_DAYS`] from now.
fn chains_to(ca_pem: &str, leaf: &CertificateDer<'_>, names: &[String]) -> bool {
    use rustls::pki_types::pem::PemObject;
    let Ok(ca) = CertificateDer::from_pem_slice(ca_pem.as_bytes()) else {
        return false;
    };
    let mut roots = rustls::RootCertStore::empty();
    if roots.add(ca).is_err() {
        return false;
    }
    // Deprecated only for lacking post-quantum key exchange, irrelevant to a signature check.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let Ok(verifier) =
        rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
    else {
        return false;
    };
    let Some(Ok(name)) = names.first().map(|n| ServerName::try_from(n.clone())) else {
        return false;
    };
    let later = UnixTime::now()
        .as_secs()
        .saturating_add(u64::try_from(CA_RENEW_DAYS * 86_400).unwrap_or(0));
    let at = UnixTime::since_unix_epoch(std::time::Duration::from_secs(later));
    verifier
        .verify_server_cert(leaf, &[], &name, &[], at)
        .is_ok()
}

fn write_leaf(
    files: &LocalCertificate,
    leaf_pem: &str,
    ca_pem: &str,
    key: &KeyPair,
) -> std::io::Result<()> {
    // The chain the server sends: its own certificate, then the CA's. Clients that trust
    // the CA need only the first; sending the CA too lets a client that was given this file
    // as its trust (the demo's simulator, the cluster's replicas) find the CA in it.
    write_file(&files.key, key.serialize_pem().as_bytes(), true)?;
    write_file(&files.cert, format!("{leaf_pem}{ca_pem}").as_bytes(), false)
}

/// Writes `bytes` to a temporary file beside `path` and renames it into place, so a
/// reader never sees half a file; `private` files are readable by their owner only.
fn write_file(path: &Path, bytes: &[u8], private: bool) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    let mut file = options.open(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Vec<String> {
        ["localhost", "127.0.0.1", "gd-laptop", "192.168.1.20"]
            .map(String::from)
            .to_vec()
    }

    fn verifies(ca: &Path, cert: &Path, name: &str) -> bool {
        use rustls::pki_types::pem::PemObject;
        let ca = std::fs::read_to_string(ca).unwrap();
        let chain = std::fs::read(cert).unwrap();
        let leaf = CertificateDer::pem_slice_iter(&chain)
            .next()
            .unwrap()
            .unwrap();
        chains_to(&ca, &leaf, &[name.to_owned()])
    }

    #[test]
    fn the_ca_is_kept_and_each_start_names_the_addresses_of_now() {
        let dir = tempfile::tempdir().unwrap();
        let first = issue(dir.path(), &names()).unwrap();
        assert!(first.new_ca);
        for name in ["localhost", "127.0.0.1", "gd-laptop", "192.168.1.20"] {
            assert!(verifies(&first.ca, &first.cert, name), "{name}");
        }
        assert!(!verifies(&first.ca, &first.cert, "10.0.0.7"));
        // The server's key and the certificate load as `http.tls_cert` / `http.tls_key` do.
        let identity = super::super::ServerIdentity::load(
            &first.cert,
            &first.key,
            "http.tls_cert",
            "http.tls_key",
        )
        .unwrap();
        identity
            .acceptor(super::super::Alpn::Http1, "test")
            .unwrap();
        let ca_before = std::fs::read(&first.ca).unwrap();

        // The machine moved to another network: same CA, a certificate for the new address.
        let moved = ["localhost".to_owned(), "10.0.0.7".to_owned()];
        let second = issue(dir.path(), &moved).unwrap();
        assert!(!second.new_ca);
        assert_eq!(std::fs::read(&second.ca).unwrap(), ca_before);
        assert!(verifies(&second.ca, &second.cert, "10.0.0.7"));
        assert!(!verifies(&second.ca, &second.cert, "192.168.1.20"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            for key in [dir.path().join("ca-key.pem"), second.key] {
                let mode = std::fs::metadata(&key).unwrap().permissions().mode();
                assert_eq!(mode & 0o077, 0, "{} is private", key.display());
            }
        }
    }

    #[test]
    fn a_ca_that_does_not_match_its_key_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let first = issue(dir.path(), &names()).unwrap();
        let ca_before = std::fs::read(&first.ca).unwrap();
        // Someone put another key beside it.
        let other = KeyPair::generate().unwrap();
        std::fs::write(dir.path().join("ca-key.pem"), other.serialize_pem()).unwrap();
        let second = issue(dir.path(), &names()).unwrap();
        assert!(second.new_ca);
        assert_ne!(std::fs::read(&second.ca).unwrap(), ca_before);
        assert!(verifies(&second.ca, &second.cert, "localhost"));
    }

    #[test]
    fn a_name_that_cannot_be_in_a_certificate_is_refused_with_the_folder() {
        let dir = tempfile::tempdir().unwrap();
        // Not ASCII (a host name in IDN form would be).
        let e = issue(dir.path(), &["网格".to_owned()])
            .unwrap_err()
            .to_string();
        assert!(e.contains(&dir.path().display().to_string()), "{e}");
    }
}
