//! The TLS settings of `[http]` and `[mqtt]` (`http.tls_cert`, `mqtt.tls_listen`, …), kept
//! here and flattened into their sections so the keys stay where an operator looks for them.
//! All are off by default: an install that sets none of them runs exactly as before.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;

use super::{values, ConfigError};

/// `http.tls_cert`, `http.tls_key`: HTTPS on `http.listen`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct HttpTls {
    /// PEM certificate chain, the server's certificate first; `""` = plain HTTP.
    #[serde(deserialize_with = "values::optional_path")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of that certificate.
    #[serde(deserialize_with = "values::optional_path")]
    pub tls_key: Option<PathBuf>,
}

impl HttpTls {
    /// The certificate and key files when HTTPS is on.
    pub fn files(&self) -> Option<(&PathBuf, &PathBuf)> {
        self.tls_cert.as_ref().zip(self.tls_key.as_ref())
    }

    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        both_or_neither(
            &self.tls_cert,
            &self.tls_key,
            "http.tls_cert",
            "http.tls_key",
        )
    }
}

/// The broker's TLS listeners and the dispatcher's TLS client settings.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct MqttTls {
    /// Address of the embedded broker's MQTT-over-TLS listener (MQTTS, usually port 8883);
    /// `""` = none.
    #[serde(deserialize_with = "values::optional_socket_addr")]
    pub tls_listen: Option<SocketAddr>,
    /// Address of the embedded broker's MQTT-over-secure-WebSocket listener (WSS); `""` =
    /// none.
    #[serde(deserialize_with = "values::optional_socket_addr")]
    pub wss_listen: Option<SocketAddr>,
    /// PEM certificate chain of those two listeners.
    #[serde(deserialize_with = "values::optional_path")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of that certificate.
    #[serde(deserialize_with = "values::optional_path")]
    pub tls_key: Option<PathBuf>,
    /// PEM file of the CA(s) the dispatcher trusts for an `mqtts://` `mqtt.url`.
    #[serde(deserialize_with = "values::optional_path")]
    pub ca_file: Option<PathBuf>,
}

impl MqttTls {
    /// The certificate and key files of the TLS listeners, when set.
    pub fn files(&self) -> Option<(&PathBuf, &PathBuf)> {
        self.tls_cert.as_ref().zip(self.tls_key.as_ref())
    }

    /// `embedded`: whether there is an embedded broker (`mqtt.listen`); `url_tls`: whether
    /// `mqtt.url` is `mqtts://`.
    pub(super) fn validate(&self, embedded: bool, url_tls: bool) -> Result<(), ConfigError> {
        let bad = |key: &str, why: &str| Err(ConfigError(format!("{key}: {why}")));
        both_or_neither(
            &self.tls_cert,
            &self.tls_key,
            "mqtt.tls_cert",
            "mqtt.tls_key",
        )?;
        let listens = self.tls_listen.is_some() || self.wss_listen.is_some();
        for (key, set) in [
            ("mqtt.tls_listen", self.tls_listen.is_some()),
            ("mqtt.wss_listen", self.wss_listen.is_some()),
        ] {
            if set && !embedded {
                return bad(
                    key,
                    "is a listener of the embedded broker, and mqtt.listen is empty (no embedded broker)",
                );
            }
            if set && self.tls_cert.is_none() {
                return bad(key, "needs mqtt.tls_cert and mqtt.tls_key (PEM files)");
            }
        }
        if self.tls_cert.is_some() && !listens {
            return bad(
                "mqtt.tls_cert",
                "is set, but neither mqtt.tls_listen nor mqtt.wss_listen is: nothing would use it",
            );
        }
        if url_tls && self.ca_file.is_none() {
            return bad(
                "mqtt.ca_file",
                "mqtt.url is mqtts://, so name the PEM file of the CA that signed the broker's certificate",
            );
        }
        if !url_tls && self.ca_file.is_some() {
            return bad(
                "mqtt.ca_file",
                "is only used with an mqtts:// mqtt.url; this one is plain MQTT (or empty)",
            );
        }
        Ok(())
    }
}

fn both_or_neither(
    cert: &Option<PathBuf>,
    key: &Option<PathBuf>,
    cert_key: &str,
    key_key: &str,
) -> Result<(), ConfigError> {
    match (cert, key) {
        (Some(_), None) => Err(ConfigError(format!(
            "{key_key}: {cert_key} is set, so name its private key (PEM) as well"
        ))),
        (None, Some(_)) => Err(ConfigError(format!(
            "{cert_key}: {key_key} is set, so name its certificate (PEM) as well"
        ))),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Settings;

    fn load(pairs: &[(&str, &str)]) -> Result<Settings, String> {
        let env = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string()));
        Settings::load_with_env(None, env).map_err(|e| e.to_string())
    }

    #[test]
    fn tls_is_off_by_default() {
        let s = load(&[]).unwrap();
        assert!(s.http.tls.files().is_none());
        assert!(s.mqtt.tls.files().is_none());
        assert_eq!(s.mqtt.tls.tls_listen, None);
        assert_eq!(s.mqtt.tls.wss_listen, None);
        assert_eq!(s.mqtt.tls.ca_file, None);
    }

    #[test]
    fn the_flat_keys_load_into_their_sections() {
        let s = load(&[
            ("GRIDDISPATCH__HTTP__TLS_CERT", "/etc/gd/cert.pem"),
            ("GRIDDISPATCH__HTTP__TLS_KEY", "/etc/gd/key.pem"),
            ("GRIDDISPATCH__MQTT__TLS_LISTEN", "0.0.0.0:8883"),
            ("GRIDDISPATCH__MQTT__WSS_LISTEN", "0.0.0.0:8084"),
            ("GRIDDISPATCH__MQTT__TLS_CERT", "/etc/gd/mqtt.pem"),
            ("GRIDDISPATCH__MQTT__TLS_KEY", "/etc/gd/mqtt.key"),
        ])
        .unwrap();
        let (cert, key) = s.http.tls.files().unwrap();
        assert_eq!(cert.to_str(), Some("/etc/gd/cert.pem"));
        assert_eq!(key.to_str(), Some("/etc/gd/key.pem"));
        assert_eq!(s.mqtt.tls.tls_listen, Some("0.0.0.0:8883".parse().unwrap()));
        assert_eq!(s.mqtt.tls.wss_listen, Some("0.0.0.0:8084".parse().unwrap()));
        // The limits beside the flattened keys still load.
        assert_eq!(s.http.limits.max_connections, 2048);
    }

    #[test]
    fn half_a_pair_or_a_listener_without_a_certificate_names_the_missing_key() {
        let e = load(&[("GRIDDISPATCH__HTTP__TLS_CERT", "c.pem")]).unwrap_err();
        assert!(e.contains("http.tls_key"), "{e}");
        let e = load(&[("GRIDDISPATCH__MQTT__TLS_KEY", "k.pem")]).unwrap_err();
        assert!(e.contains("mqtt.tls_cert"), "{e}");
        let e = load(&[("GRIDDISPATCH__MQTT__TLS_LISTEN", "0.0.0.0:8883")]).unwrap_err();
        assert!(
            e.contains("mqtt.tls_listen") && e.contains("mqtt.tls_cert"),
            "{e}"
        );
        let e = load(&[
            ("GRIDDISPATCH__MQTT__TLS_CERT", "c.pem"),
            ("GRIDDISPATCH__MQTT__TLS_KEY", "k.pem"),
        ])
        .unwrap_err();
        assert!(e.contains("nothing would use it"), "{e}");
        let e = load(&[
            ("GRIDDISPATCH__MQTT__LISTEN", ""),
            ("GRIDDISPATCH__MQTT__URL", "mqtt://b:1883"),
            ("GRIDDISPATCH__MQTT__WSS_LISTEN", "0.0.0.0:8084"),
            ("GRIDDISPATCH__MQTT__TLS_CERT", "c.pem"),
            ("GRIDDISPATCH__MQTT__TLS_KEY", "k.pem"),
        ])
        .unwrap_err();
        assert!(
            e.contains("mqtt.wss_listen") && e.contains("no embedded broker"),
            "{e}"
        );
    }

    #[test]
    fn mqtts_needs_a_ca_file_and_only_mqtts_takes_one() {
        let e = load(&[("GRIDDISPATCH__MQTT__URL", "mqtts://broker.example")]).unwrap_err();
        assert!(e.contains("mqtt.ca_file"), "{e}");
        let s = load(&[
            ("GRIDDISPATCH__MQTT__URL", "mqtts://broker.example"),
            ("GRIDDISPATCH__MQTT__CA_FILE", "/etc/gd/ca.pem"),
        ])
        .unwrap();
        let url = s.mqtt.url.unwrap();
        assert!(url.tls());
        assert_eq!(url.port(), 8883);
        let e = load(&[
            ("GRIDDISPATCH__MQTT__URL", "mqtt://broker.example"),
            ("GRIDDISPATCH__MQTT__CA_FILE", "/etc/gd/ca.pem"),
        ])
        .unwrap_err();
        assert!(e.contains("mqtt.ca_file") && e.contains("mqtts://"), "{e}");
    }

    #[test]
    fn replicas_that_serve_https_advertise_https_and_may_name_their_ca() {
        let with = |extra: &[(&'static str, &'static str)]| {
            let mut pairs = vec![
                (
                    "GRIDDISPATCH__DATABASE__URL",
                    "postgres://gd@db.internal/gd",
                ),
                ("GRIDDISPATCH__MQTT__LISTEN", ""),
                ("GRIDDISPATCH__MQTT__URL", "mqtt://10.0.0.2:1883"),
                ("GRIDDISPATCH__MQTT__PERSISTENT_SESSION", "true"),
                ("GRIDDISPATCH__CLUSTER__ENABLED", "true"),
                ("GRIDDISPATCH__HTTP__LISTEN", "10.0.0.5:8443"),
            ];
            pairs.extend_from_slice(extra);
            load(&pairs)
        };
        const TLS: [(&str, &str); 2] = [
            ("GRIDDISPATCH__HTTP__TLS_CERT", "/etc/gd/replicas.pem"),
            ("GRIDDISPATCH__HTTP__TLS_KEY", "/etc/gd/replicas.key"),
        ];
        let advertise = |url: &'static str| ("GRIDDISPATCH__CLUSTER__ADVERTISE_URL", url);
        let ca = ("GRIDDISPATCH__CLUSTER__CA_FILE", "/etc/gd/ca.pem");
        with(&TLS).unwrap();
        with(&[TLS[0], TLS[1], advertise("https://gd-a.internal:8443")]).unwrap();
        let s = with(&[TLS[0], TLS[1], ca]).unwrap();
        assert_eq!(
            s.cluster.ca_file.as_deref(),
            Some(std::path::Path::new("/etc/gd/ca.pem"))
        );
        let e = with(&[TLS[0], TLS[1], advertise("http://10.0.0.5:8443")]).unwrap_err();
        assert!(
            e.contains("cluster.advertise_url") && e.contains("https"),
            "{e}"
        );
        let e = with(&[advertise("https://gd-a.internal:8443")]).unwrap_err();
        assert!(
            e.contains("cluster.advertise_url") && e.contains("http.tls_cert"),
            "{e}"
        );
        let e = with(&[ca]).unwrap_err();
        assert!(e.contains("cluster.ca_file"), "{e}");
    }
}
