//! MQTT adapters: the embedded broker, the dispatcher's client, and the login and ACL
//! files for an external Mosquitto.
pub mod acks;
pub mod auth;
pub mod broker;
pub mod client;
pub mod mosquitto;
pub mod outbox;

use anyhow::{bail, Context};

/// Parses `mqtt://host:port` or `tcp://host:port` (port defaults to 1883).
pub fn parse_broker_url(url: &str) -> anyhow::Result<(String, u16)> {
    let url = url.trim();
    let rest = url
        .strip_prefix("mqtt://")
        .or_else(|| url.strip_prefix("tcp://"))
        .with_context(|| format!("MQTT URL {url:?} must start with mqtt:// or tcp://"))?;
    // Tolerate a trailing slash; anything else after the authority is a mistake.
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.contains('/') || rest.contains('@') {
        bail!("MQTT URL {url:?}: only host[:port] is supported after the scheme");
    }
    let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
        // Bracketed IPv6 literal: [::1]:1883
        let (h, after) = v6
            .split_once(']')
            .with_context(|| format!("MQTT URL {url:?}: unclosed '['"))?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p),
            None if after.is_empty() => None,
            None => bail!("MQTT URL {url:?}: unexpected text after ']'"),
        };
        (h.to_string(), port)
    } else {
        match rest.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), Some(p)),
            None => (rest.to_string(), None),
        }
    };
    if host.is_empty() {
        bail!("MQTT URL {url:?}: missing host");
    }
    let port = match port {
        None => 1883,
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .with_context(|| format!("MQTT URL {url:?}: invalid port {p:?}"))?,
    };
    Ok((host, port))
}
