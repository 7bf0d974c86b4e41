//! `serve --https`: HTTPS on the API and console and WSS on the embedded broker, with a
//! certificate made at start for this machine by its own CA (`crate::tls::local_ca`), kept
//! in `<data folder>/demo-tls/`. For the demo and for trying the field app on a phone, whose
//! browser gives location, notifications and the offline shell to secure pages only; a
//! site's own certificate (`http.tls_cert`, `mqtt.tls_cert`) always wins over it.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use anyhow::Context;

use crate::app::Running;
use crate::config::Settings;

/// The broker's WSS port when `--https` picks one (`mqtt.wss_listen` unset): the one
/// EMQX and others use for MQTT over secure WebSocket.
pub const WSS_PORT: u16 = 8084;

/// What `--https` set up.
#[derive(Debug, Clone)]
pub struct HttpsSetup {
    /// The made certificate, when one was needed (none when the site set both its own).
    pub made: Option<crate::tls::local_ca::LocalCertificate>,
    /// The names the made certificate is valid for.
    pub names: Vec<String>,
}

/// Turns HTTPS (and WSS on an embedded broker) on in `settings`, making the certificate
/// for what the site's settings leave without one. Refused with `cluster.enabled`:
/// replicas share one certificate (`http.tls_cert`), and each would make its own.
pub fn prepare(settings: &mut Settings) -> anyhow::Result<HttpsSetup> {
    if settings.cluster.enabled {
        anyhow::bail!("--https makes a certificate for this machine alone; replicas (cluster.enabled) share one: set http.tls_cert and http.tls_key instead");
    }
    // Run before the settings are checked: half a pair set by the site is left for the
    // check to report, not silently replaced.
    let (h, m) = (&settings.http.tls, &settings.mqtt.tls);
    let http = h.tls_cert.is_none() && h.tls_key.is_none();
    let mqtt = settings.mqtt.listen.is_some() && m.tls_cert.is_none() && m.tls_key.is_none();
    if !http && !mqtt {
        return Ok(HttpsSetup {
            made: None,
            names: Vec::new(),
        });
    }
    let names = machine_names();
    let dir = settings.data_folder().join("demo-tls");
    let made = crate::tls::local_ca::issue(&dir, &names).context("--https")?;
    if http {
        settings.http.tls.tls_cert = Some(made.cert.clone());
        settings.http.tls.tls_key = Some(made.key.clone());
    }
    if let (true, Some(listen)) = (mqtt, settings.mqtt.listen) {
        settings.mqtt.tls.tls_cert = Some(made.cert.clone());
        settings.mqtt.tls.tls_key = Some(made.key.clone());
        if settings.mqtt.tls.wss_listen.is_none() {
            // Beside the plain WebSocket listener (or the broker), on the same interface.
            let ip = settings.mqtt.ws_listen.unwrap_or(listen).ip();
            settings.mqtt.tls.wss_listen = Some(SocketAddr::new(ip, WSS_PORT));
        }
    }
    Ok(HttpsSetup {
        made: Some(made),
        names,
    })
}

/// The names a phone or a browser may use for this machine: localhost, the host name (and
/// its mDNS `.local` form) and every address of its network interfaces.
fn machine_names() -> Vec<String> {
    let mut names = vec!["localhost".to_owned()];
    let host = crate::app::host_name();
    // A name outside ASCII letters, digits, '-' and '.' cannot go in a certificate as is.
    if !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
    {
        if !host.contains('.') {
            names.push(format!("{host}.local"));
        }
        names.push(host);
    }
    let mut ips: Vec<IpAddr> = vec![
        Ipv4Addr::LOCALHOST.into(),
        IpAddr::from([0u16, 0, 0, 0, 0, 0, 0, 1]),
    ];
    match if_addrs::get_if_addrs() {
        Ok(interfaces) => ips.extend(interfaces.into_iter().map(|i| i.ip()).filter(|ip| {
            // Link-local IPv6 addresses need a zone (fe80::1%wlan0) that URLs cannot carry.
            !matches!(ip, IpAddr::V6(v6) if v6.segments()[0] & 0xffc0 == 0xfe80)
        })),
        Err(e) => {
            tracing::warn!(error = %e, "--https: cannot list the network addresses; the certificate names localhost only")
        }
    }
    for ip in ips {
        let ip = ip.to_string();
        if !names.contains(&ip) {
            names.push(ip);
        }
    }
    names
}

/// Says where the secure pages are, which certificate they use and how to trust it on a
/// phone. `setup` is what [`prepare`] returned.
pub fn announce(running: &Running, settings: &Settings, setup: &HttpsSetup) {
    let port = running.http_addr.port();
    let lan = setup
        .names
        .iter()
        .filter_map(|n| n.parse::<IpAddr>().ok())
        .find(|ip| ip.is_ipv4() && !ip.is_loopback());
    tracing::info!(
        "https: console https://localhost:{port}/  field app https://localhost:{port}/field"
    );
    match lan {
        Some(ip) if running.http_addr.ip().is_unspecified() => tracing::info!(
            "https: on a phone on this network: https://{ip}:{port}/field"
        ),
        Some(_) => tracing::info!(
            "https: phones cannot reach {}; for them start with GRIDDISPATCH__HTTP__LISTEN=0.0.0.0:{port}",
            running.http_addr
        ),
        None => {}
    }
    if let Some(wss) = running.mqtt_wss_addr {
        tracing::info!("https: the field app's broker: MQTT over secure WebSocket on port {} (let it through the firewall too)", wss.port());
    }
    let Some(made) = &setup.made else {
        return;
    };
    let (cert, ca): (PathBuf, PathBuf) = (made.cert.clone(), made.ca.clone());
    tracing::info!(
        "https: certificate {} for {}, signed by the local CA {}{}",
        cert.display(),
        setup.names.join(", "),
        ca.display(),
        if made.new_ca { " (made now)" } else { "" }
    );
    tracing::info!(
        "https: to trust it on a phone, copy {} to the phone and install it as a CA certificate (Android: Settings › Security › Encryption & credentials › Install a certificate › CA certificate; iPhone: open the file, install the profile, then Settings › General › About › Certificate Trust Settings: turn on \"griddispatch local CA\"). On a computer: import it into the browser's authorities. Remove it once the trial is over.",
        ca.display()
    );
    if settings.http.tls.tls_cert.as_ref() != Some(&cert) {
        tracing::info!("https: the API and console use http.tls_cert; the made certificate serves the broker's TLS listeners only");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(pairs: &[(&str, &str)]) -> Settings {
        let env = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string()));
        Settings::load_with_env(None, env).unwrap()
    }

    #[test]
    fn https_turns_on_tls_for_the_api_and_wss_beside_the_websocket_listener() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().to_str().unwrap();
        let db = format!("sqlite://{data}/gd.db");
        let mut s = load(&[
            ("GRIDDISPATCH__DATABASE__URL", &db),
            ("GRIDDISPATCH__MQTT__WS_LISTEN", "0.0.0.0:8083"),
        ]);
        let setup = prepare(&mut s).unwrap();
        let made = setup.made.unwrap();
        assert!(made.cert.starts_with(dir.path().join("demo-tls")));
        assert_eq!(s.http.tls.tls_cert.as_ref(), Some(&made.cert));
        assert_eq!(s.mqtt.tls.tls_key.as_ref(), Some(&made.key));
        assert_eq!(s.mqtt.tls.wss_listen, Some("0.0.0.0:8084".parse().unwrap()));
        assert!(setup.names.iter().any(|n| n == "localhost"));
        assert!(setup.names.iter().any(|n| n == "127.0.0.1"));
    }

    #[test]
    fn a_sites_own_certificate_wins() {
        let dir = tempfile::tempdir().unwrap();
        let db = format!("sqlite://{}/gd.db", dir.path().display());
        let mut s = load(&[
            ("GRIDDISPATCH__DATABASE__URL", &db),
            ("GRIDDISPATCH__HTTP__TLS_CERT", "/etc/gd/cert.pem"),
            ("GRIDDISPATCH__HTTP__TLS_KEY", "/etc/gd/key.pem"),
            ("GRIDDISPATCH__MQTT__LISTEN", ""),
            ("GRIDDISPATCH__MQTT__URL", "mqtt://broker:1883"),
        ]);
        let setup = prepare(&mut s).unwrap();
        assert!(setup.made.is_none());
        assert_eq!(
            s.http.tls.tls_cert.as_deref(),
            Some(std::path::Path::new("/etc/gd/cert.pem"))
        );
        assert!(!dir.path().join("demo-tls").exists());
    }
}
