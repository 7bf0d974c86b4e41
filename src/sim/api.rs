//! Thin client for the dispatcher's admin/operator HTTP API.
//!
//! Only the calls the simulator and the demo county need. Every call is
//! idempotent from the caller's point of view: "already exists" (409) is
//! turned into a password reset (responders, sources) or a no-op (zones,
//! cameras), so a second run against the same database just works.

use anyhow::{anyhow, Context};
use reqwest::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::time::Duration;

/// MQTT credentials issued by the server for a responder or an alert source.
#[derive(Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct MqttCredentials {
    /// Broker username (for responders this equals the responder id).
    pub username: String,
    /// Broker password.
    pub password: String,
}

impl std::fmt::Debug for MqttCredentials {
    // Passwords must not end up in logs through `{:?}`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MqttCredentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Body of `POST /api/v1/responders`.
#[derive(Debug, Clone, Serialize)]
pub struct NewResponder {
    /// Responder id (also the MQTT username).
    pub id: String,
    /// Display name.
    pub name: String,
    /// `grid_worker`, `patrol` or `volunteer`.
    pub kind: String,
    /// `foot`, `bike` or `car`.
    pub travel: String,
    /// Home zone, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zone_id: Option<String>,
    /// Skill tags.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skills: Vec<String>,
    /// Whether the responder starts on duty.
    pub on_duty: bool,
    /// The grid station it is based at, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub station_id: Option<String>,
}

/// Body of `POST /api/v1/cameras`.
#[derive(Debug, Clone, Serialize)]
pub struct NewCamera {
    /// Camera id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Latitude (WGS-84).
    pub lat: f64,
    /// Longitude (WGS-84).
    pub lon: f64,
    /// Zone the camera is in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zone_id: Option<String>,
}

/// Whether a create call made something new or found it already there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Created {
    /// 201: newly created.
    New,
    /// 409: it already existed.
    Existed,
}

/// HTTP client bound to one server and one bearer token.
#[derive(Debug, Clone)]
pub struct ApiClient {
    http: reqwest::Client,
    base: String,
    token: String,
}

#[derive(Deserialize)]
struct WithMqtt {
    mqtt: MqttCredentials,
}

impl ApiClient {
    /// Creates a client for `base` (e.g. `http://127.0.0.1:8080`) using `token`.
    pub fn new(base: &str, token: &str) -> anyhow::Result<Self> {
        Self::trusting(base, token, None)
    }

    /// Like [`ApiClient::new`]; an `https://` base is verified against the PEM certificates
    /// in `roots` (a CA file, or a server's chain file), the only ones trusted: the servers
    /// this talks to use their own CA (`serve --https`), not a public one.
    pub fn trusting(base: &str, token: &str, roots: Option<&[u8]>) -> anyhow::Result<Self> {
        let mut builder = reqwest::Client::builder()
            .timeout(Duration::from_secs(15))
            .use_rustls_tls();
        if let Some(pem) = roots {
            let certs = reqwest::Certificate::from_pem_bundle(pem)
                .context("the trusted certificates are not PEM")?;
            if certs.is_empty() {
                anyhow::bail!("the trusted certificates file holds no CERTIFICATE block");
            }
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        let http = builder.build().context("building HTTP client")?;
        Ok(Self {
            http,
            base: base.trim_end_matches('/').to_string(),
            token: token.to_string(),
        })
    }

    /// Sends a request and returns the status and the raw body text.
    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<(StatusCode, String)> {
        let url = format!("{}{}", self.base, path);
        let mut req = self
            .http
            .request(method.clone(), &url)
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req
            .send()
            .await
            .with_context(|| format!("{method} {url}: request failed"))?;
        let status = resp.status();
        let text = resp
            .text()
            .await
            .with_context(|| format!("{method} {url}: reading response body"))?;
        Ok((status, text))
    }

    /// Builds the error for an unexpected status, keeping the server's body
    /// because that is where it explains what was wrong.
    fn unexpected(method: &str, path: &str, status: StatusCode, body: &str) -> anyhow::Error {
        let body = body.trim();
        let body = if body.len() > 500 {
            // Cut on a char boundary so multi-byte (Chinese) text cannot panic.
            let mut end = 500;
            while !body.is_char_boundary(end) {
                end -= 1;
            }
            &body[..end]
        } else {
            body
        };
        anyhow!("{method} {path}: unexpected HTTP {status}: {body}")
    }

    /// POSTs `body` to a create endpoint; 201 → `New`, 409 → `Existed`.
    async fn create(&self, path: &str, body: &Value) -> anyhow::Result<(Created, String)> {
        let (status, text) = self.send(Method::POST, path, Some(body)).await?;
        match status {
            StatusCode::CREATED | StatusCode::OK => Ok((Created::New, text)),
            StatusCode::CONFLICT => Ok((Created::Existed, text)),
            s => Err(Self::unexpected("POST", path, s, &text)),
        }
    }

    /// POSTs to a reset-password endpoint and parses the new credentials.
    async fn reset_password(&self, path: &str) -> anyhow::Result<MqttCredentials> {
        let empty = serde_json::json!({});
        let (status, text) = self.send(Method::POST, path, Some(&empty)).await?;
        if !status.is_success() {
            return Err(Self::unexpected("POST", path, status, &text));
        }
        let w: WithMqtt = serde_json::from_str(&text)
            .with_context(|| format!("POST {path}: response has no `mqtt` credentials: {text}"))?;
        Ok(w.mqtt)
    }

    /// POSTs `body` to the create endpoint `path`; an existing id (409) is left alone.
    pub async fn ensure_json(&self, path: &str, body: &Value) -> anyhow::Result<Created> {
        Ok(self.create(path, body).await?.0)
    }

    /// Creates a zone from a GeoJSON Feature; an existing id is left alone.
    pub async fn ensure_zone(&self, feature: &geojson::Feature) -> anyhow::Result<Created> {
        let body = serde_json::to_value(feature).context("serialising zone feature")?;
        Ok(self.create("/api/v1/zones", &body).await?.0)
    }

    /// Creates a camera; an existing id is left alone.
    pub async fn ensure_camera(&self, cam: &NewCamera) -> anyhow::Result<Created> {
        let body = serde_json::to_value(cam).context("serialising camera")?;
        Ok(self.create("/api/v1/cameras", &body).await?.0)
    }

    /// Creates a responder, or resets its password if it exists; returns
    /// working MQTT credentials either way.
    pub async fn ensure_responder(&self, r: &NewResponder) -> anyhow::Result<MqttCredentials> {
        let body = serde_json::to_value(r).context("serialising responder")?;
        let (created, text) = self.create("/api/v1/responders", &body).await?;
        match created {
            Created::New => {
                let w: WithMqtt = serde_json::from_str(&text).with_context(|| {
                    format!("POST /api/v1/responders: no `mqtt` credentials in: {text}")
                })?;
                Ok(w.mqtt)
            }
            Created::Existed => {
                self.reset_password(&format!("/api/v1/responders/{}/reset-password", r.id))
                    .await
            }
        }
    }

    /// Creates an alert source, or resets its password if it exists.
    pub async fn ensure_source(&self, id: &str, name: &str) -> anyhow::Result<MqttCredentials> {
        let body = serde_json::json!({ "id": id, "name": name });
        let (created, text) = self.create("/api/v1/sources", &body).await?;
        match created {
            Created::New => {
                let w: WithMqtt = serde_json::from_str(&text).with_context(|| {
                    format!("POST /api/v1/sources: no `mqtt` credentials in: {text}")
                })?;
                Ok(w.mqtt)
            }
            Created::Existed => {
                self.reset_password(&format!("/api/v1/sources/{id}/reset-password"))
                    .await
            }
        }
    }

    /// Lists open incidents as raw JSON objects.
    pub async fn open_incidents(&self) -> anyhow::Result<Vec<Value>> {
        let path = "/api/v1/incidents?state=open";
        let (status, text) = self.send(Method::GET, path, None).await?;
        if !status.is_success() {
            return Err(Self::unexpected("GET", path, status, &text));
        }
        serde_json::from_str(&text).with_context(|| format!("GET {path}: not a JSON array"))
    }

    /// Reports a problem from a phone (`POST /api/v1/field/reports`) with the phone's own
    /// MQTT login; returns the incident it opened or joined.
    pub async fn report_from_phone(
        &self,
        phone: &MqttCredentials,
        body: &Value,
    ) -> anyhow::Result<String> {
        let path = "/api/v1/field/reports";
        let resp = self
            .http
            .post(format!("{}{path}", self.base))
            .basic_auth(&phone.username, Some(&phone.password))
            .json(body)
            .send()
            .await
            .with_context(|| format!("POST {path}: request failed"))?;
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        if status != StatusCode::ACCEPTED {
            return Err(Self::unexpected("POST", path, status, &text));
        }
        let answer: Value = serde_json::from_str(&text)
            .with_context(|| format!("POST {path}: not JSON: {text}"))?;
        Ok(answer["incident_id"]
            .as_str()
            .unwrap_or_default()
            .to_owned())
    }

    /// Closes an incident as an operator would.
    pub async fn close_incident(&self, incident_id: &str, note: &str) -> anyhow::Result<()> {
        let path = format!("/api/v1/incidents/{incident_id}/close");
        let body = serde_json::json!({ "note": note });
        let (status, text) = self.send(Method::POST, &path, Some(&body)).await?;
        if !status.is_success() {
            return Err(Self::unexpected("POST", &path, status, &text));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_password() {
        let c = MqttCredentials {
            username: "u".into(),
            password: "secret".into(),
        };
        assert!(!format!("{c:?}").contains("secret"));
    }

    #[test]
    fn error_body_truncation_is_char_safe() {
        let body = "网".repeat(400);
        let e = ApiClient::unexpected("POST", "/x", StatusCode::BAD_REQUEST, &body);
        assert!(e.to_string().contains("400"));
    }
}
