//! The handle a handler fills in for its request's entry, and what turns its values into
//! what the log keeps: secrets removed, large fields digested. Also the client's address.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use serde::Serialize;
use serde_json::Value;

use crate::domain::Role;
use crate::http::AppState;

/// What a handler tells the log about its request. Shared between the layer, which put
/// it in the request, and the handler, which fills it in.
#[derive(Debug, Default)]
pub(super) struct Draft {
    /// The authenticated caller as `<role>:<name>`, and its role (set by
    /// `auth::authenticate`).
    pub(super) caller: Option<(String, Role)>,
    /// The responder whose phone sent the request (HTTP Basic with its MQTT login).
    pub(super) phone: Option<String>,
    /// The name a request without valid credentials claimed (a failed login).
    pub(super) claimed: Option<String>,
    /// An action more precise than the route's (`session.login_failed`).
    pub(super) action: Option<String>,
    /// The target's kind, when the route names another (an alert that opened an incident).
    pub(super) target_kind: Option<String>,
    /// The target's id, when the route does not hold it (a create).
    pub(super) target_id: Option<String>,
    /// The thing before.
    pub(super) before: Option<Value>,
    /// The thing after.
    pub(super) after: Option<Value>,
    /// Written even though the request is not a change (a failed phone login on a GET).
    pub(super) keep: bool,
    /// One more entry per thing a bulk change touched (an import): id, before, after.
    pub(super) items: Vec<(String, Option<Value>, Option<Value>)>,
}

/// The audit entry of the current request, for handlers to fill in. A request outside
/// the layer (a unit test) gets one that goes nowhere.
#[derive(Debug, Clone, Default)]
pub struct Audit(pub(super) Arc<Mutex<Draft>>);

impl Audit {
    /// The entry of the request `parts` belongs to.
    pub fn of(parts: &Parts) -> Audit {
        parts.extensions.get::<Audit>().cloned().unwrap_or_default()
    }

    fn with(&self, f: impl FnOnce(&mut Draft)) {
        f(&mut self.0.lock().unwrap_or_else(|e| e.into_inner()));
    }

    /// The caller, once its credentials are checked: its name and role, written as
    /// `<role>:<name>` as timelines show it.
    pub fn caller(&self, name: &str, role: Role) {
        self.with(|d| d.caller = Some((format!("{role}:{name}"), role)));
    }

    /// The responder whose phone login the request carried.
    pub fn phone(&self, responder_id: &str) {
        self.with(|d| d.phone = Some(responder_id.to_owned()));
    }

    /// The user a request without valid credentials claimed to be: it is then written.
    pub fn claimed(&self, name: &str) {
        self.with(|d| {
            d.claimed = Some(name.chars().take(200).collect());
            d.keep = true;
        });
    }

    /// Names the action, when the route alone does not (`session.logout`); the entry is
    /// then written whatever the request's method.
    pub fn action(&self, action: &str) {
        self.with(|d| {
            d.action = Some(action.to_owned());
            d.keep = true;
        });
    }

    /// The id of the thing acted on, when the path does not hold it.
    pub fn target(&self, id: impl Into<String>) {
        let id = id.into();
        self.with(|d| d.target_id = Some(id));
    }

    /// The thing acted on, kind and id, when the route names neither (`POST /api/v1/alerts`
    /// opens or joins incident `id`).
    pub fn thing(&self, kind: &str, id: impl Into<String>) {
        let (kind, id) = (kind.to_owned(), id.into());
        self.with(|d| {
            d.target_kind = Some(kind);
            d.target_id = Some(id);
        });
    }

    /// The thing before the change (secrets removed, see [`redact`]).
    pub fn before<T: Serialize>(&self, v: &T) {
        let v = to_value(v);
        self.with(|d| d.before = v);
    }

    /// The thing after the change.
    pub fn after<T: Serialize>(&self, v: &T) {
        let v = to_value(v);
        self.with(|d| d.after = v);
    }

    /// One of the things a bulk change (an import) touched, written as an entry of its
    /// own beside the request's, so that the log of each thing is complete.
    pub fn item<T: Serialize>(&self, id: &str, before: Option<&T>, after: Option<&T>) {
        let (before, after) = (before.and_then(to_value), after.and_then(to_value));
        self.with(|d| d.items.push((id.to_owned(), before, after)));
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Audit {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Audit::of(parts))
    }
}

/// Largest JSON text of a thing kept whole in an entry, bytes; past it, each field over
/// [`FIELD_MAX_BYTES`] is kept as its size and SHA-256 (a county's zone outline can be
/// megabytes; the log must still say that it changed).
const VALUE_MAX_BYTES: usize = 64 * 1024;
const FIELD_MAX_BYTES: usize = 4 * 1024;

fn to_value<T: Serialize>(v: &T) -> Option<Value> {
    let mut v = serde_json::to_value(v).ok()?;
    redact(&mut v);
    if v.to_string().len() > VALUE_MAX_BYTES {
        shrink(&mut v);
    }
    Some(v)
}

/// Replaces every large field of `v` (an object, at any depth up to the large ones) with
/// `{"omitted_bytes": n, "sha256": …}`.
fn shrink(v: &mut Value) {
    use sha2::{Digest, Sha256};
    let mut stack = vec![v];
    while let Some(v) = stack.pop() {
        let Value::Object(map) = v else { continue };
        for child in map.values_mut() {
            let text = child.to_string();
            if text.len() <= FIELD_MAX_BYTES {
                continue;
            }
            if child.is_object() {
                stack.push(child);
            } else {
                *child = serde_json::json!({
                    "omitted_bytes": text.len(),
                    "sha256": hex::encode(Sha256::digest(text.as_bytes())),
                });
            }
        }
    }
}

/// Blanks every value whose key names a secret (`password`, `secret`, `token`), and takes
/// the login out of every URL (`rtsp://admin:secret@cam/…`, as camera streams are often
/// given), at any depth, so that no credential reaches the log.
pub fn redact(v: &mut Value) {
    let mut stack = vec![v];
    while let Some(v) = stack.pop() {
        match v {
            Value::Object(map) => {
                for (k, child) in map.iter_mut() {
                    let k = k.to_ascii_lowercase();
                    if ["password", "secret", "token"]
                        .iter()
                        .any(|s| k.contains(s))
                    {
                        *child = Value::String("(removed)".into());
                    } else {
                        stack.push(child);
                    }
                }
            }
            Value::Array(items) => stack.extend(items.iter_mut()),
            Value::String(text) if text.contains("://") => {
                *text = crate::video::metadata::redact_uri(text);
            }
            _ => {}
        }
    }
}

/// The client's address: the peer's, or, when the peer is one of `http.trusted_proxies`,
/// the last address in `X-Forwarded-For` that is not itself a trusted proxy.
pub fn client_address(
    trusted: &[ipnet::IpNet],
    peer: Option<IpAddr>,
    headers: &HeaderMap,
) -> Option<IpAddr> {
    let peer = peer?;
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !is_trusted(&peer) {
        return Some(peer);
    }
    let hops: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map_while(|s| s.trim().parse().ok())
        .collect();
    Some(
        hops.into_iter()
            .rev()
            .find(|ip| !is_trusted(ip))
            .unwrap_or(peer),
    )
}

/// The address of a request as handlers see it (login limits).
pub fn request_address(state: &AppState, parts: &Parts) -> Option<IpAddr> {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    client_address(&state.trusted_proxies, peer, &parts.headers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_reach_the_log() {
        let mut v = serde_json::json!({
            "username": "li", "password": "hunter2",
            "nested": [{"mqtt_password": "x", "Token": "t", "name": "ok"}]
        });
        redact(&mut v);
        let text = v.to_string();
        assert!(!text.contains("hunter2") && !text.contains("\"x\"") && !text.contains("\"t\""));
        assert!(text.contains("\"li\"") && text.contains("\"ok\""));
    }

    #[test]
    fn logins_in_urls_never_reach_the_log() {
        let mut v = serde_json::json!({
            "stream_uri": "rtsp://admin:s3cr3t@10.0.0.5:554/main",
            "cameras": [{"uri": "http://u:p@host/x?y=1"}],
            "plain": "rtsp://10.0.0.6/main",
        });
        redact(&mut v);
        assert_eq!(v["stream_uri"], "rtsp://…@10.0.0.5:554/main");
        assert_eq!(v["cameras"][0]["uri"], "http://…@host/x?y=1");
        assert_eq!(v["plain"], "rtsp://10.0.0.6/main");
    }

    #[test]
    fn large_fields_are_kept_as_their_digest() {
        let outline = "1.0,".repeat(40_000);
        let v = to_value(&serde_json::json!({"id": "z1", "geometry": {"coordinates": outline}}))
            .unwrap();
        assert_eq!(v["id"], "z1");
        assert!(
            v["geometry"]["coordinates"]["omitted_bytes"]
                .as_u64()
                .unwrap()
                > 160_000
        );
        assert_eq!(
            v["geometry"]["coordinates"]["sha256"]
                .as_str()
                .unwrap()
                .len(),
            64
        );
    }

    #[test]
    fn a_trusted_proxy_names_the_client() {
        let proxies: Vec<ipnet::IpNet> = vec!["10.0.0.0/24".parse().unwrap()];
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", "203.0.113.9, 10.0.0.7".parse().unwrap());
        let peer: IpAddr = "10.0.0.5".parse().unwrap();
        assert_eq!(
            client_address(&proxies, Some(peer), &h),
            Some("203.0.113.9".parse().unwrap())
        );
        // Anyone else's header is ignored: it could say anything.
        let stranger: IpAddr = "198.51.100.1".parse().unwrap();
        assert_eq!(client_address(&proxies, Some(stranger), &h), Some(stranger));
        assert_eq!(client_address(&[], Some(peer), &h), Some(peer));
    }
}
