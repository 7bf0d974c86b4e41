//! MQTT adapters: the embedded broker and the dispatcher's client.
pub mod auth;
pub mod broker;
pub mod client;

/// Splits `mqtt://host:port` (or `tcp://`) into host and port; the port defaults to 1883.
pub fn parse_broker_url(url: &str) -> anyhow::Result<(String, u16)> {
    let rest = url
        .strip_prefix("mqtt://")
        .or_else(|| url.strip_prefix("tcp://"))
        .ok_or_else(|| anyhow::anyhow!("expected mqtt://host:port, got {url:?}"))?;
    let rest = rest.trim_end_matches('/');
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) if !h.is_empty() => (
            h,
            p.parse::<u16>()
                .map_err(|_| anyhow::anyhow!("bad port in {url:?}"))?,
        ),
        _ => (rest, 1883),
    };
    if host.is_empty() {
        anyhow::bail!("no host in {url:?}");
    }
    Ok((host.trim_matches(['[', ']']).to_owned(), port))
}
