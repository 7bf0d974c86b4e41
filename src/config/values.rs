//! The typed values settings hold: addresses, URLs and secrets are parsed once, while the
//! settings load, so that no other module parses a setting again and a bad value is one
//! error naming its key (the `config` crate adds the key to what these deserializers say).

use std::fmt;
use std::net::SocketAddr;

use serde::{Deserialize, Deserializer};
use url::{Host, Url};

/// Which database `database.url` names, from its scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// An SQLite file (`sqlite:`).
    Sqlite,
    /// A PostgreSQL server (`postgres:` or `postgresql:`).
    Postgres,
}

impl Backend {
    /// The backend a database URL names, or `None` for a scheme we do not support.
    pub fn of_url(url: &str) -> Option<Backend> {
        Self::of_scheme(Url::parse(url).ok()?.scheme())
    }

    fn of_scheme(scheme: &str) -> Option<Backend> {
        match scheme {
            "sqlite" => Some(Backend::Sqlite),
            "postgres" | "postgresql" => Some(Backend::Postgres),
            _ => None,
        }
    }

    /// `sqlite` or `postgres`, for logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// `database.url`: the text as written, which sqlx parses itself (the `url` crate would
/// normalise a file path such as `sqlite://data/../x.db`), and the backend its scheme names.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    text: String,
    backend: Backend,
}

impl DatabaseUrl {
    /// Parses `sqlite:…` or `postgres://…` (`postgresql://…`).
    pub fn parse(text: &str) -> Result<DatabaseUrl, String> {
        const EXPECTED: &str = "must be sqlite:… (a file) or postgres://… (a server)";
        let url = Url::parse(text).map_err(|e| format!("{EXPECTED}; not a URL ({e})"))?;
        let backend = Backend::of_scheme(url.scheme()).ok_or(EXPECTED)?;
        Ok(DatabaseUrl {
            text: text.to_owned(),
            backend,
        })
    }

    /// The URL as configured, for sqlx. It may hold a password: never log it.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The database it names.
    pub fn backend(&self) -> Backend {
        self.backend
    }
}

/// Shows the URL with any password replaced by `***`, so that a logged `Settings` holds
/// none.
impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = match Url::parse(&self.text) {
            Ok(mut url) if url.password().is_some() => {
                // Setting a password only fails on URLs that cannot have one.
                let _ = url.set_password(Some("***"));
                url.to_string()
            }
            Ok(_) => self.text.clone(),
            Err(_) => "(unparsable)".to_owned(),
        };
        f.debug_tuple("DatabaseUrl").field(&shown).finish()
    }
}

impl<'de> Deserialize<'de> for DatabaseUrl {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        DatabaseUrl::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// An MQTT broker's address from `mqtt://host[:port]` or `tcp://host[:port]` (port 1883
/// when not given), or over TLS from `mqtts://host[:port]` or `ssl://host[:port]` (port
/// 8883): `mqtt.url`, and the simulator's `--mqtt-url`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerUrl {
    host: String,
    port: u16,
    tls: bool,
}

impl BrokerUrl {
    /// The port when the URL names none.
    pub const DEFAULT_PORT: u16 = 1883;
    /// The port of an `mqtts://` URL that names none.
    pub const DEFAULT_TLS_PORT: u16 = 8883;

    /// The plain-MQTT broker at `host` (an IPv6 address without brackets) and `port`.
    pub fn new(host: impl Into<String>, port: u16) -> BrokerUrl {
        BrokerUrl {
            host: host.into(),
            port,
            tls: false,
        }
    }

    /// Whether the URL asks for TLS (`mqtts://`, `ssl://`).
    pub fn tls(&self) -> bool {
        self.tls
    }

    /// Parses a broker URL. Only a host and a port may follow the scheme (a trailing `/`
    /// is tolerated): a login in the URL would not be used, and MQTT has no paths.
    pub fn parse(text: &str) -> Result<BrokerUrl, String> {
        let text = text.trim();
        let url = Url::parse(text).map_err(|e| format!("MQTT URL {text:?}: {e}"))?;
        let tls = match url.scheme() {
            "mqtt" | "tcp" => false,
            "mqtts" | "ssl" => true,
            _ => {
                return Err(format!(
                "MQTT URL {text:?} must start with mqtt:// or tcp://, or mqtts:// or ssl:// (TLS)"
            ))
            }
        };
        let extra = !url.username().is_empty()
            || url.password().is_some()
            || !matches!(url.path(), "" | "/")
            || url.query().is_some()
            || url.fragment().is_some();
        if extra {
            return Err(format!(
                "MQTT URL {text:?}: only host[:port] is supported after the scheme"
            ));
        }
        let host = match url.host() {
            Some(Host::Domain(d)) if !d.is_empty() => d.to_owned(),
            Some(Host::Ipv4(ip)) => ip.to_string(),
            Some(Host::Ipv6(ip)) => ip.to_string(),
            _ => return Err(format!("MQTT URL {text:?}: missing host")),
        };
        let port = match url.port() {
            None if tls => Self::DEFAULT_TLS_PORT,
            None => Self::DEFAULT_PORT,
            Some(0) => return Err(format!("MQTT URL {text:?}: invalid port 0")),
            Some(p) => p,
        };
        Ok(BrokerUrl { host, port, tls })
    }

    /// Host name or IP address (an IPv6 address without brackets).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// TCP port.
    pub fn port(&self) -> u16 {
        self.port
    }
}

/// `mqtt://host:port` (`mqtts://` with TLS), the IPv6 address in brackets.
impl fmt::Display for BrokerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.tls { "mqtts" } else { "mqtt" };
        if self.host.contains(':') {
            write!(f, "{scheme}://[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{scheme}://{}:{}", self.host, self.port)
        }
    }
}

/// A base URL that paths are appended to (`http.public_url`, `frigate.url`, …): one of a
/// few schemes, a host, no query or fragment. It keeps the text as written, since that is
/// what links and the field app's settings are made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseUrl {
    text: String,
    url: Url,
}

impl BaseUrl {
    /// Parses `text` as a base URL with one of `schemes`.
    pub fn parse(text: &str, schemes: &[&str]) -> Result<BaseUrl, String> {
        let expected = schemes
            .iter()
            .map(|s| format!("{s}://host[:port][/path]"))
            .collect::<Vec<_>>()
            .join(" or ");
        let url = Url::parse(text)
            .map_err(|e| format!("{text:?} is not a URL ({e}); expected {expected}"))?;
        if !schemes.contains(&url.scheme()) || url.host_str().is_none() {
            return Err(format!("{text:?}: expected {expected}"));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(format!(
                "{text:?}: expected {expected}, without query or fragment"
            ));
        }
        Ok(BaseUrl {
            text: text.to_owned(),
            url,
        })
    }

    /// The URL as configured.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The parsed URL.
    pub fn url(&self) -> &Url {
        &self.url
    }
}

/// `""` as `None`, anything else parsed by `parse`.
fn optional<'de, D, T>(
    d: D,
    parse: impl FnOnce(&str) -> Result<T, String>,
) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
{
    let text = String::deserialize(d)?;
    if text.is_empty() {
        return Ok(None);
    }
    parse(&text).map(Some).map_err(serde::de::Error::custom)
}

/// A listen address, `ip:port` (host names are not looked up).
pub(super) fn socket_addr<'de, D: Deserializer<'de>>(d: D) -> Result<SocketAddr, D::Error> {
    let text = String::deserialize(d)?;
    text.parse().map_err(|_| {
        serde::de::Error::custom(format!("{text:?}: expected host:port, e.g. 127.0.0.1:8080"))
    })
}

/// A UTC offset, `+08:00` or `-05:30` (`Z` = UTC).
pub(super) fn utc_offset<'de, D: Deserializer<'de>>(d: D) -> Result<chrono::FixedOffset, D::Error> {
    let text = String::deserialize(d)?;
    let parsed = if text == "Z" { "+00:00" } else { text.as_str() };
    parsed.parse().map_err(|_| {
        serde::de::Error::custom(format!("{text:?}: expected a UTC offset, e.g. +08:00"))
    })
}

/// A listen address, or `""` for none.
pub(super) fn optional_socket_addr<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<SocketAddr>, D::Error> {
    optional(d, |text| {
        text.parse().map_err(|_| {
            format!("{text:?}: expected host:port, e.g. 0.0.0.0:1883, or \"\" for none")
        })
    })
}

/// A broker URL, or `""` for none.
pub(super) fn optional_broker_url<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<BrokerUrl>, D::Error> {
    optional(d, BrokerUrl::parse)
}

/// An `http://` or `https://` base URL, or `""` for none.
pub(super) fn optional_http_url<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<BaseUrl>, D::Error> {
    optional(d, |text| BaseUrl::parse(text, &["http", "https"]))
}

/// An `http://` base URL, or `""` for none: for servers our own HTTP client fetches from,
/// which is built without TLS.
pub(super) fn optional_plain_http_url<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<BaseUrl>, D::Error> {
    optional(d, |text| BaseUrl::parse(text, &["http"]))
}

/// A `ws://` or `wss://` base URL, or `""` for none.
pub(super) fn optional_ws_url<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<BaseUrl>, D::Error> {
    optional(d, |text| BaseUrl::parse(text, &["ws", "wss"]))
}

/// Addresses or networks (`10.0.0.5`, `10.0.0.0/24`, `::1`): a bare address is one host.
pub(super) fn ip_nets<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<ipnet::IpNet>, D::Error> {
    Vec::<String>::deserialize(d)?
        .iter()
        .map(|text| {
            text.parse::<ipnet::IpNet>()
                .or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| {
                    serde::de::Error::custom(format!(
                        "{text:?}: expected an IP address or network, e.g. 10.0.0.5 or 10.0.0.0/24"
                    ))
                })
        })
        .collect()
}

/// A folder, or `""` for none.
pub(super) fn optional_path<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<std::path::PathBuf>, D::Error> {
    optional(d, |text| Ok(text.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn broker(text: &str) -> (String, u16) {
        let b = BrokerUrl::parse(text).unwrap();
        (b.host().to_owned(), b.port())
    }

    #[test]
    fn broker_urls_give_host_and_port() {
        assert_eq!(broker("mqtt://127.0.0.1:1883"), ("127.0.0.1".into(), 1883));
        assert_eq!(
            broker("tcp://broker.local:11883"),
            ("broker.local".into(), 11883)
        );
        assert_eq!(broker("mqtt://localhost"), ("localhost".into(), 1883));
        assert_eq!(broker("mqtt://localhost/"), ("localhost".into(), 1883));
        assert_eq!(
            broker(" mqtt://localhost:1884 "),
            ("localhost".into(), 1884)
        );
        assert_eq!(broker("mqtt://[::1]:1884"), ("::1".into(), 1884));
        assert_eq!(
            broker("mqtts://broker.local"),
            ("broker.local".into(), 8883)
        );
        assert_eq!(
            broker("ssl://broker.local:18883"),
            ("broker.local".into(), 18883)
        );
        assert!(BrokerUrl::parse("mqtts://h").unwrap().tls());
        assert!(!BrokerUrl::parse("mqtt://h").unwrap().tls());
        assert_eq!(
            BrokerUrl::parse("ssl://h").unwrap().to_string(),
            "mqtts://h:8883"
        );
        assert_eq!(
            BrokerUrl::parse("mqtt://[::1]:1884").unwrap().to_string(),
            "mqtt://[::1]:1884"
        );
    }

    #[test]
    fn broker_urls_refuse_what_would_be_ignored_or_wrong() {
        for bad in [
            "http://x:1883",
            "127.0.0.1:1883",
            "mqtt://",
            "mqtt://:1883",
            "mqtt://h:0",
            "mqtt://h:99999",
            "mqtt://h:abc",
            "mqtt://h:1883/topic",
            "mqtt://user:pw@h:1883",
            "mqtt://h:1883?x=1",
            "mqtt://[::1",
        ] {
            assert!(BrokerUrl::parse(bad).is_err(), "{bad} should fail");
        }
    }

    #[test]
    fn the_url_scheme_picks_the_backend() {
        assert_eq!(Backend::of_url("sqlite://data/x.db"), Some(Backend::Sqlite));
        assert_eq!(Backend::of_url("sqlite::memory:"), Some(Backend::Sqlite));
        assert_eq!(Backend::of_url("sqlite:x.db"), Some(Backend::Sqlite));
        assert_eq!(
            Backend::of_url("postgres://u@h/db"),
            Some(Backend::Postgres)
        );
        assert_eq!(
            Backend::of_url("postgresql://u@h/db"),
            Some(Backend::Postgres)
        );
        assert_eq!(Backend::of_url("mysql://u@h/db"), None);
        assert_eq!(Backend::of_url("data/x.db"), None);
    }

    #[test]
    fn a_database_url_is_kept_as_written_and_shown_without_its_password() {
        let url = DatabaseUrl::parse("postgres://gd:hunter22@db.example:5432/gd").unwrap();
        assert_eq!(url.as_str(), "postgres://gd:hunter22@db.example:5432/gd");
        let shown = format!("{url:?}");
        assert!(!shown.contains("hunter22"), "{shown}");
        assert!(shown.contains("gd:***@db.example:5432/gd"), "{shown}");
        let file = DatabaseUrl::parse("sqlite://data/../x.db").unwrap();
        assert_eq!(file.as_str(), "sqlite://data/../x.db");
        assert_eq!(file.backend(), Backend::Sqlite);
    }
}
