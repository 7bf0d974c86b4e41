//! Authentication and role checks, as extractors: a handler that takes `Operator` can only
//! run for an operator or admin.
//!
//! Two kinds of credentials are accepted. Programs send `Authorization: Bearer <token>`.
//! Browsers (the console) carry the `gd_session` cookie set at login; since a browser
//! attaches cookies to requests that other sites make it send, a state-changing request
//! (or a WebSocket upgrade) authenticated by the cookie must also name this site in its
//! `Origin` (or `Referer`) header. Bearer requests need no such check: no browser adds
//! that header by itself.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, Method};

use super::error::ApiError;
use super::AppState;
use crate::config::Settings;
use crate::domain::{Ident, Role};
use crate::store::{AccountOwner, StoreError};

/// Name of the console's session cookie.
pub const SESSION_COOKIE: &str = "gd_session";

/// Failed logins for one username before it is locked for a while.
pub const MAX_FAILURES_PER_USER: u32 = 5;
/// Failed logins from one address before it is locked. Higher than per user because a
/// whole dispatch centre often reaches the server from one NAT address.
pub const MAX_FAILURES_PER_ADDRESS: u32 = 20;
/// Failures older than this are forgotten.
const FAILURE_WINDOW: Duration = Duration::from_secs(15 * 60);
/// First lock; each failure while over the limit doubles it, up to [`MAX_LOCK`].
const FIRST_LOCK: Duration = Duration::from_secs(30);
/// Longest lock.
const MAX_LOCK: Duration = Duration::from_secs(15 * 60);
/// Failure records kept at most before stale ones are swept, so a flood of invented
/// usernames cannot grow memory without bound.
const MAX_RECORDS: usize = 10_000;

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Token name or console username (shown in timelines as `<role>:<name>`).
    pub name: String,
    /// Its role.
    pub role: Role,
    /// The merchant a `merchant`-role user is bound to (`None` for any other caller).
    pub merchant_id: Option<String>,
    /// Signed in on the console (a person at a keyboard), not a bearer token (a system).
    pub session: bool,
}

impl Caller {
    /// How this caller appears in timelines.
    pub fn actor(&self) -> String {
        format!("{}:{}", self.role, self.name)
    }
}

/// Login settings and failure counters, shared by the session endpoints and the
/// extractors.
#[derive(Debug)]
pub struct Logins {
    /// Session lifetime after last use, ms.
    pub session_ms: i64,
    /// Whether the cookie gets `Secure` (the site is served over https).
    pub secure_cookie: bool,
    /// `(scheme, host, port)` of `http.public_url`, also accepted as an `Origin`.
    public_origin: Option<(String, String, u16)>,
    /// Failed logins by `user:<name>` and `ip:<address>`.
    failures: Mutex<HashMap<String, Failures>>,
}

/// Failed logins for one key.
#[derive(Debug, Clone, Copy)]
struct Failures {
    /// Failures in the current run.
    count: u32,
    /// When the last failure was.
    last: Instant,
    /// Locked until then.
    locked_until: Option<Instant>,
    /// The next lock's length.
    next_lock: Duration,
}

impl Logins {
    /// From the `[console]` and `[http]` settings.
    pub fn new(settings: &Settings) -> Logins {
        let public = settings.http.public_url.as_ref().map(|u| u.url());
        Logins {
            session_ms: (settings.console.session_hours as i64).saturating_mul(3_600_000),
            secure_cookie: public.is_some_and(|u| u.scheme() == "https"),
            public_origin: public.and_then(origin_of),
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// `Err(seconds to wait)` while any of `keys` is locked.
    fn locked(
        map: &HashMap<String, Failures>,
        keys: &[(String, u32)],
        now: Instant,
    ) -> Result<(), u64> {
        let wait = keys
            .iter()
            .filter_map(|(k, _)| map.get(k)?.locked_until)
            .filter(|until| *until > now)
            .map(|until| until - now)
            .max();
        match wait {
            Some(w) => Err(w.as_secs() + u64::from(w.subsec_nanos() > 0)),
            None => Ok(()),
        }
    }

    /// Admits one login attempt against each `(key, limit)`: `Err(seconds to wait)` while
    /// any key is locked, else the attempt is counted as a failure at once, before its
    /// password is checked, so concurrent attempts cannot all pass the check before any
    /// failure is recorded (security review, issue 12 finding 4). A success then clears
    /// the keys ([`Logins::succeeded`]); an attempt whose password could not be checked at
    /// all is given back ([`Logins::refund`]).
    pub fn attempt(&self, keys: &[(String, u32)]) -> Result<(), u64> {
        let now = Instant::now();
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        Self::locked(&map, keys, now)?;
        if map.len() >= MAX_RECORDS {
            map.retain(|_, f| now.duration_since(f.last) < FAILURE_WINDOW);
        }
        for (key, limit) in keys {
            let f = map.entry(key.clone()).or_insert(Failures {
                count: 0,
                last: now,
                locked_until: None,
                next_lock: FIRST_LOCK,
            });
            if now.duration_since(f.last) >= FAILURE_WINDOW {
                f.count = 0;
                f.next_lock = FIRST_LOCK;
            }
            f.count += 1;
            f.last = now;
            if f.count >= *limit {
                f.locked_until = Some(now + f.next_lock);
                f.next_lock = (f.next_lock * 2).min(MAX_LOCK);
            }
        }
        Ok(())
    }

    /// Gives back an attempt admitted by [`Logins::attempt`] whose password was never
    /// checked (the server was busy), so honest users refused for that are not locked
    /// out. A lock it already caused stays.
    pub fn refund(&self, keys: &[(String, u32)]) {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        for (key, _) in keys {
            if let Some(f) = map.get_mut(key) {
                f.count = f.count.saturating_sub(1);
            }
        }
    }

    /// A successful login clears its keys.
    pub fn succeeded(&self, keys: &[String]) {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        for k in keys {
            map.remove(k);
        }
    }

    /// Whether the request's `Origin` (or, lacking one, `Referer`) is this site: the same
    /// host and port as its `Host` header, or `http.public_url`'s. A missing or opaque
    /// (`null`) origin is not.
    pub fn same_origin(&self, headers: &HeaderMap) -> bool {
        let Some(source) = headers
            .get(header::ORIGIN)
            .or_else(|| headers.get(header::REFERER))
            .and_then(|v| v.to_str().ok())
        else {
            return false;
        };
        let Some((scheme, host, port)) = reqwest::Url::parse(source)
            .ok()
            .as_ref()
            .and_then(origin_of)
        else {
            return false;
        };
        if self
            .public_origin
            .as_ref()
            .is_some_and(|p| *p == (scheme.clone(), host.clone(), port))
        {
            return true;
        }
        headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .and_then(|h| reqwest::Url::parse(&format!("{scheme}://{h}/")).ok())
            .as_ref()
            .and_then(origin_of)
            .is_some_and(|(_, h, p)| h == host && p == port)
    }
}

/// `(scheme, host, port)` of a URL, the port filled in from the scheme when absent.
fn origin_of(url: &reqwest::Url) -> Option<(String, String, u16)> {
    Some((
        url.scheme().to_owned(),
        url.host_str()?.to_ascii_lowercase(),
        url.port_or_known_default()?,
    ))
}

/// The username and password of an HTTP Basic `Authorization` header, if it has one.
pub fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    use base64::Engine;
    let encoded = headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Basic ")?
        .trim();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()?;
    let (user, password) = std::str::from_utf8(&decoded).ok()?.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

/// The value of the session cookie, if the request carries one.
pub fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, value)| *name == SESSION_COOKIE && !value.is_empty())
        .map(|(_, value)| value)
}

/// Whether a cookie-authenticated request must prove it comes from this site: anything
/// that changes state, and WebSocket upgrades (a GET that opens a live channel).
fn needs_origin(parts: &Parts) -> bool {
    !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS)
        || parts
            .headers
            .get(header::UPGRADE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

/// Who is calling, from a bearer token or the session cookie; 401 when neither is valid,
/// 403 when a cookie request that needs it lacks a matching `Origin`. A request with an
/// `Authorization` header is judged by it alone.
pub async fn authenticate(parts: &Parts, state: &AppState) -> Result<Caller, ApiError> {
    if let Some(auth) = parts.headers.get(header::AUTHORIZATION) {
        let token = auth
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(ApiError::Unauthorized)?;
        let (name, role) = state
            .store
            .token_role(token)
            .await?
            .ok_or(ApiError::Unauthorized)?;
        let caller = Caller {
            name,
            role,
            merchant_id: None,
            session: false,
        };
        super::audit::handle::Audit::of(parts).caller(&caller.name, caller.role);
        return Ok(caller);
    }
    let cookie = session_cookie(&parts.headers).ok_or(ApiError::Unauthorized)?;
    let user = state
        .store
        .session_user(cookie, state.logins.session_ms)
        .await?
        .ok_or(ApiError::Unauthorized)?;
    let caller = Caller {
        name: user.username,
        role: user.role,
        merchant_id: user.merchant_id,
        session: true,
    };
    super::audit::handle::Audit::of(parts).caller(&caller.name, caller.role);
    if needs_origin(parts) && !state.logins.same_origin(&parts.headers) {
        return Err(ApiError::CrossOrigin);
    }
    Ok(caller)
}

/// [`authenticate`], then 403 unless the caller has at least the `need` role. For
/// handlers that cannot use the extractors, such as the WebSocket upgrade.
pub async fn authorize_parts(
    parts: &Parts,
    state: &AppState,
    need: Role,
) -> Result<Caller, ApiError> {
    let caller = authenticate(parts, state).await?;
    if caller.role < need {
        return Err(ApiError::Forbidden(need.as_str()));
    }
    Ok(caller)
}

macro_rules! role_extractor {
    ($(#[$doc:meta])* $name:ident, $role:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone)]
        pub struct $name(pub Caller);

        impl FromRequestParts<AppState> for $name {
            type Rejection = ApiError;
            async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
                authorize_parts(parts, state, $role).await.map($name)
            }
        }
    };
}

/// Any valid token or session, a `merchant` user included: for the routes that then
/// decide by the caller (a merchant sees only its own merchant).
#[derive(Debug, Clone)]
pub struct Anyone(pub Caller);

impl FromRequestParts<AppState> for Anyone {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        authenticate(parts, state).await.map(Anyone)
    }
}

role_extractor!(
    /// Any valid token or session (viewer or above).
    Viewer,
    Role::Viewer
);
role_extractor!(
    /// Operator or admin.
    Operator,
    Role::Operator
);
role_extractor!(
    /// Admin only.
    Admin,
    Role::Admin
);

#[cfg(test)]
mod tests {
    use super::*;

    fn logins() -> Logins {
        Logins {
            session_ms: 1,
            secure_cookie: false,
            public_origin: Some(("https".into(), "cad.example.org".into(), 443)),
            failures: Mutex::new(HashMap::new()),
        }
    }

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(k.clone(), v.parse().expect("header value"));
        }
        h
    }

    #[test]
    fn origin_must_match_host_or_public_url() {
        let l = logins();
        let host = (header::HOST, "127.0.0.1:8080");
        for (origin, ok) in [
            ("http://127.0.0.1:8080", true),
            ("http://127.0.0.1:8081", false),
            ("http://evil.example:8080", false),
            ("https://cad.example.org", true),
            ("https://cad.example.org:8443", false),
            ("null", false),
        ] {
            let h = headers(&[host.clone(), (header::ORIGIN, origin)]);
            assert_eq!(l.same_origin(&h), ok, "{origin}");
        }
        let h = headers(&[
            host.clone(),
            (header::REFERER, "http://127.0.0.1:8080/admin"),
        ]);
        assert!(
            l.same_origin(&h),
            "a Referer stands in for a missing Origin"
        );
        assert!(!l.same_origin(&headers(&[host])), "no Origin, no Referer");
        let h = headers(&[
            (header::HOST, "Example.org"),
            (header::ORIGIN, "http://example.org:80"),
        ]);
        assert!(l.same_origin(&h), "default ports and case");
    }

    #[test]
    fn cookie_is_found_among_others() {
        let h = headers(&[(header::COOKIE, "a=1; gd_session=abc; b=2")]);
        assert_eq!(session_cookie(&h), Some("abc"));
        let h = headers(&[(header::COOKIE, "gd_session=")]);
        assert_eq!(session_cookie(&h), None);
    }

    #[test]
    fn lockout_after_limit_doubles_and_success_resets() {
        let l = logins();
        let keys = ["user:a".to_owned()];
        let counted = [("user:a".to_owned(), 3)];
        assert!(l.attempt(&counted).is_ok());
        assert!(l.attempt(&counted).is_ok());
        // The third attempt is admitted, and counted before its password is checked.
        assert!(l.attempt(&counted).is_ok());
        let first = l.attempt(&counted).expect_err("locked after 3");
        assert!((1..=30).contains(&first), "{first}");
        // Once the lock has run out, the next attempt is admitted and locks for twice as long.
        let expire = || {
            let mut map = l.failures.lock().unwrap();
            map.get_mut("user:a").unwrap().locked_until = Some(Instant::now());
        };
        expire();
        assert!(l.attempt(&counted).is_ok());
        let second = l.attempt(&counted).expect_err("locked again");
        assert!(second > 30 && second <= 60, "doubled: {second}");
        l.succeeded(&keys);
        assert!(l.attempt(&counted).is_ok());
        // An attempt given back does not count towards the limit.
        l.refund(&counted);
        assert!(l.attempt(&counted).is_ok());
        assert!(l.attempt(&counted).is_ok());
        assert!(l.attempt(&counted).is_ok(), "the refunded attempt counted");
        assert!(l.attempt(&counted).is_err());
    }
}

/// Failed phone logins (HTTP Basic with MQTT credentials) one username may have before it
/// is locked for a while, as for the console's logins. Higher than a person's: a phone
/// loads a task's pictures at once, and each request counts until its password is checked.
const MAX_PHONE_FAILURES: u32 = 30;

/// The responder whose MQTT login (the phone's) came as HTTP Basic, if the request has
/// Basic credentials at all: `Ok(None)` without them, 401 when they are wrong or are a
/// source's, 429 while the username is locked after repeated failures.
pub async fn phone_login(parts: &Parts, state: &AppState) -> Result<Option<Ident>, ApiError> {
    let Some((username, password)) = basic_credentials(&parts.headers) else {
        return Ok(None);
    };
    let keys = [(format!("mqtt:{username}"), MAX_PHONE_FAILURES)];
    state
        .logins
        .attempt(&keys)
        .map_err(ApiError::TooManyAttempts)?;
    let owner = match state.store.check_mqtt_login(&username, &password).await {
        Err(StoreError::Busy(why)) => {
            state.logins.refund(&keys);
            return Err(ApiError::Busy(why));
        }
        other => other?,
    };
    let audit = super::audit::handle::Audit::of(parts);
    match owner {
        Some(AccountOwner::Responder(rid)) => {
            state.logins.succeeded(&[keys[0].0.clone()]);
            audit.phone(&rid);
            Ident::parse(&rid)
                .map(Some)
                .map_err(|_| ApiError::Unauthorized)
        }
        Some(AccountOwner::Source(_)) | None => {
            audit.claimed(&username);
            audit.action("phone.login_failed");
            Err(ApiError::Unauthorized)
        }
    }
}

/// A responder's phone: its MQTT login as HTTP Basic (401 without one).
#[derive(Debug, Clone)]
pub struct Phone(pub Ident);

impl FromRequestParts<AppState> for Phone {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        phone_login(parts, state)
            .await?
            .map(Phone)
            .ok_or(ApiError::Unauthorized)
    }
}
