//! Administration from the command line against a running instance, over its public HTTP
//! API (so the running dispatcher sees every change at once): camera import.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context};
use bytes::Bytes;
use futures::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;

use crate::config::Settings;

/// Upload chunk: small enough for a smooth bar, large enough to cost nothing.
const CHUNK: usize = 256 * 1024;

/// The base URL of the instance these settings describe: `http://` + `http.listen`, with a
/// wildcard address (0.0.0.0, ::) replaced by loopback, where such a server also answers.
pub fn local_url(settings: &Settings) -> anyhow::Result<String> {
    let mut addr = settings.http.listen;
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr {
            SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    Ok(format!("http://{addr}"))
}

/// `griddispatch cameras import`: sends `file` (CSV or GeoJSON) in one request to
/// `POST {url}/api/v1/cameras/import`, with a progress bar while it uploads and while the
/// server checks it. Prints the counts, or the server's per-row report and an error.
pub async fn import_cameras(file: &Path, url: &str, token: &str) -> anyhow::Result<()> {
    let body = tokio::fs::read(file)
        .await
        .with_context(|| format!("{}: cannot read", file.display()))?;
    let content_type = content_type_of(file, &body);
    let endpoint = format!("{}/api/v1/cameras/import", url.trim_end_matches('/'));

    let total = body.len() as u64;
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_message("uploading");
    let body = Bytes::from(body);
    let chunks: Vec<Bytes> = (0..body.len())
        .step_by(CHUNK)
        .map(|start| body.slice(start..body.len().min(start + CHUNK)))
        .collect();
    let uploading = bar.clone();
    let stream = futures::stream::iter(chunks).map(move |chunk| {
        uploading.inc(chunk.len() as u64);
        if uploading.position() >= total {
            // The server answers only once every row is checked and stored; say so.
            uploading.set_style(
                ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            uploading.set_message("server checking and storing every row");
            uploading.enable_steady_tick(Duration::from_millis(120));
        }
        Ok::<Bytes, std::io::Error>(chunk)
    });

    let sent = reqwest::Client::new()
        .post(&endpoint)
        .bearer_auth(token)
        .header(reqwest::header::CONTENT_TYPE, content_type)
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await;
    let resp = match sent {
        Ok(r) => r,
        Err(e) => {
            bar.finish_and_clear();
            bail!("cannot reach {url}: {e}");
        }
    };
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    bar.finish_and_clear();
    let answer: Value = serde_json::from_str(&text).unwrap_or(Value::Null);

    if status.is_success() {
        println!(
            "imported {} camera(s) from {}: {} created, {} updated",
            answer["imported"],
            file.display(),
            answer["created"],
            answer["updated"]
        );
        return Ok(());
    }
    if let Some(errors) = answer["errors"].as_array().filter(|e| !e.is_empty()) {
        eprintln!("{:>6}  {:<24}  error", "row", "id");
        for e in errors {
            let row = match e["row"].as_u64() {
                Some(0) | None => "file".to_owned(),
                Some(n) => n.to_string(),
            };
            eprintln!(
                "{row:>6}  {:<24}  {}",
                e["id"].as_str().unwrap_or("-"),
                e["error"].as_str().unwrap_or("?")
            );
        }
        let more = answer["more_errors"].as_u64().unwrap_or(0);
        if more > 0 {
            eprintln!("… and {more} more problem(s) not listed");
        }
        bail!(
            "nothing imported: {} problem(s) in {}, listed above",
            errors.len() as u64 + more,
            file.display()
        );
    }
    let reason = match answer["error"].as_str() {
        Some(e) => e.to_owned(),
        None => text.trim().chars().take(200).collect(),
    };
    bail!("the server refused the import ({status}): {reason}")
}

/// `text/csv` or `application/geo+json` by the file's extension, else by its first byte
/// (a JSON object starts with `{`), as the server would guess.
fn content_type_of(file: &Path, body: &[u8]) -> &'static str {
    let ext = file
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("csv") => "text/csv",
        Some("geojson" | "json") => "application/geo+json",
        _ => {
            let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
            if body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{') {
                "application/geo+json"
            } else {
                "text/csv"
            }
        }
    }
}
