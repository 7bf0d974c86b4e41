//! Console logins: users, the session cookie, the Origin rule for cookie requests,
//! lockout after failed logins, and the users admin API — against the real app.

use crate::common;
use std::process::{Command, Stdio};

use crate::common::TestApp;
use griddispatch::domain::Role;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// One answer: status, headers, JSON (or text as a JSON string).
struct Answer {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

impl Answer {
    fn cookie(&self) -> String {
        let set = self
            .headers
            .get(reqwest::header::SET_COOKIE)
            .expect("a Set-Cookie header")
            .to_str()
            .unwrap();
        let (pair, _) = set.split_once(';').unwrap();
        pair.to_owned()
    }
}

async fn send(req: reqwest::RequestBuilder) -> Answer {
    let resp = req.send().await.expect("http request");
    let status = resp.status();
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap_or_default();
    Answer {
        status,
        headers,
        body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
    }
}

async fn login(app: &TestApp, username: &str, password: &str) -> Answer {
    send(
        app.http
            .post(format!("{}/api/v1/session", app.base))
            .json(&json!({"username": username, "password": password})),
    )
    .await
}

/// A request carrying `cookie` and, when given, an `Origin` header.
fn with_cookie(
    app: &TestApp,
    method: Method,
    path: &str,
    cookie: &str,
    origin: Option<&str>,
) -> reqwest::RequestBuilder {
    let mut req = app
        .http
        .request(method, format!("{}{}", app.base, path))
        .header(reqwest::header::COOKIE, cookie);
    if let Some(o) = origin {
        req = req.header(reqwest::header::ORIGIN, o);
    }
    req
}

/// A request with the test's admin bearer token.
async fn admin(app: &TestApp, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
    app.call(method, path, Some(&app.token), body).await
}

async fn add_user(app: &TestApp, username: &str, password: &str, role: Role) {
    app.running
        .as_ref()
        .unwrap()
        .store
        .create_user(username, password, role)
        .await
        .unwrap();
}

#[tokio::test]
async fn login_cookie_origin_rule_and_logout() {
    let app = TestApp::spawn(&[]).await;
    add_user(&app, "alice", "correct horse", Role::Operator).await;

    // Wrong password and unknown user: the same 401 and the same words.
    let wrong = login(&app, "alice", "wrong password").await;
    let unknown = login(&app, "mallory", "correct horse").await;
    assert_eq!(wrong.status, 401);
    assert_eq!(unknown.status, 401);
    assert_eq!(wrong.body["error"], unknown.body["error"]);
    assert!(wrong.headers.get(reqwest::header::SET_COOKIE).is_none());

    let ok = login(&app, "alice", "correct horse").await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(ok.body, json!({"username": "alice", "role": "operator"}));
    let set = ok.headers[reqwest::header::SET_COOKIE].to_str().unwrap();
    for part in ["gd_session=", "HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(set.contains(part), "{part} missing in {set}");
    }
    assert!(!set.contains("Secure"), "plain http: {set}");
    let cookie = ok.cookie();

    let me = send(with_cookie(
        &app,
        Method::GET,
        "/api/v1/session",
        &cookie,
        None,
    ))
    .await;
    assert_eq!(me.status, 200);
    assert_eq!(me.body["username"], "alice");
    // Reading needs no Origin.
    let list = send(with_cookie(
        &app,
        Method::GET,
        "/api/v1/incidents",
        &cookie,
        None,
    ))
    .await;
    assert_eq!(list.status, 200, "{}", list.body);

    // Acting with the cookie needs this site's Origin.
    let alert = json!({"id": "a1", "kind": "medical", "severity": 2, "lat": 39.5, "lon": 106.8});
    for origin in [None, Some("http://evil.example"), Some("null")] {
        let a =
            send(with_cookie(&app, Method::POST, "/api/v1/alerts", &cookie, origin).json(&alert))
                .await;
        assert_eq!(a.status, 403, "Origin {origin:?}: {}", a.body);
        assert_eq!(a.body["error"], "cross-origin request refused");
    }
    let referer = send(
        with_cookie(&app, Method::POST, "/api/v1/alerts", &cookie, None)
            .header(reqwest::header::REFERER, format!("{}/", app.base))
            .json(&alert),
    )
    .await;
    assert_eq!(referer.status, 202, "a same-site Referer: {}", referer.body);
    let incident = referer.body["incident_id"].as_str().unwrap().to_owned();
    let close = send(
        with_cookie(
            &app,
            Method::POST,
            &format!("/api/v1/incidents/{incident}/close"),
            &cookie,
            Some(&app.base),
        )
        .json(&json!({"note": "phoned back, false alarm"})),
    )
    .await;
    assert!(close.status.is_success(), "{}", close.body);
    let timeline = app
        .get(&format!("/api/v1/incidents/{incident}/timeline"))
        .await;
    assert!(
        timeline
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["actor"] == "operator:alice"),
        "the user acts as <role>:<username>: {timeline}"
    );

    // An operator session is not an admin.
    let users = send(with_cookie(
        &app,
        Method::GET,
        "/api/v1/users",
        &cookie,
        None,
    ))
    .await;
    assert_eq!(users.status, 403);

    // Logout needs the Origin too, ends the session and clears the cookie.
    let out = send(with_cookie(
        &app,
        Method::DELETE,
        "/api/v1/session",
        &cookie,
        None,
    ))
    .await;
    assert_eq!(out.status, 403);
    let out = send(with_cookie(
        &app,
        Method::DELETE,
        "/api/v1/session",
        &cookie,
        Some(&app.base),
    ))
    .await;
    assert_eq!(out.status, 204);
    let cleared = out.headers[reqwest::header::SET_COOKIE].to_str().unwrap();
    assert!(
        cleared.starts_with("gd_session=;") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
    let me = send(with_cookie(
        &app,
        Method::GET,
        "/api/v1/session",
        &cookie,
        None,
    ))
    .await;
    assert_eq!(me.status, 401, "the session ended");
    let none = send(app.http.get(format!("{}/api/v1/session", app.base))).await;
    assert_eq!(none.status, 401);
}

#[tokio::test]
async fn a_login_form_sets_the_cookie_and_https_makes_it_secure() {
    let app =
        TestApp::spawn(&[("GRIDDISPATCH__HTTP__PUBLIC_URL", "https://cad.example.org")]).await;
    add_user(&app, "bob", "hunter2hunter2", Role::Viewer).await;
    let form = send(
        app.http
            .post(format!("{}/api/v1/session", app.base))
            .header(reqwest::header::ORIGIN, "https://cad.example.org")
            .form(&[("username", "bob"), ("password", "hunter2hunter2")]),
    )
    .await;
    assert_eq!(form.status, 200, "{}", form.body);
    assert_eq!(form.body["role"], "viewer");
    let set = form.headers[reqwest::header::SET_COOKIE].to_str().unwrap();
    assert!(set.contains("Secure"), "{set}");
    let cookie = form.cookie();
    // The public URL's origin counts as this site; a viewer still cannot act.
    let act = send(
        with_cookie(
            &app,
            Method::POST,
            "/api/v1/alerts",
            &cookie,
            Some("https://cad.example.org"),
        )
        .json(&json!({"id": "a1", "kind": "medical", "severity": 2, "lat": 39.5, "lon": 106.8})),
    )
    .await;
    assert_eq!(act.status, 403);
    assert_ne!(act.body["error"], "cross-origin request refused");
    // A login form posted from another site is refused before the password is checked.
    let foreign = send(
        app.http
            .post(format!("{}/api/v1/session", app.base))
            .header(reqwest::header::ORIGIN, "http://evil.example")
            .form(&[("username", "bob"), ("password", "hunter2hunter2")]),
    )
    .await;
    assert_eq!(foreign.status, 403);
}

#[tokio::test]
async fn repeated_failures_lock_the_username_and_a_success_resets() {
    let app = TestApp::spawn(&[]).await;
    add_user(&app, "carol", "right password", Role::Operator).await;
    add_user(&app, "dave", "right password", Role::Operator).await;

    // Four failures, then a success: the count starts again.
    for _ in 0..4 {
        assert_eq!(login(&app, "dave", "nope nope").await.status, 401);
    }
    assert_eq!(login(&app, "dave", "right password").await.status, 200);
    for _ in 0..4 {
        assert_eq!(login(&app, "dave", "nope nope").await.status, 401);
    }
    assert_eq!(login(&app, "dave", "right password").await.status, 200);

    // Five failures: locked, even with the right password, with a Retry-After.
    for _ in 0..5 {
        assert_eq!(login(&app, "carol", "nope nope").await.status, 401);
    }
    let locked = login(&app, "carol", "right password").await;
    assert_eq!(locked.status, 429, "{}", locked.body);
    let retry: u64 = locked.headers[reqwest::header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=900).contains(&retry), "Retry-After {retry}");
    assert!(locked.body["error"].as_str().unwrap().contains("try again"));
    // Another user from the same address is not locked out by carol's failures.
    assert_eq!(login(&app, "dave", "right password").await.status, 200);
}

#[tokio::test]
async fn admins_manage_users_and_keep_one_admin() {
    let app = TestApp::spawn(&[]).await;
    let (s, v) = admin(
        &app,
        Method::POST,
        "/api/v1/users",
        Some(json!({"username": "root", "password": "s3cret-admin", "role": "admin"})),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["username"], "root");
    assert_eq!(v["disabled"], false);
    for (body, mention) in [
        (
            json!({"username": "x", "password": "short", "role": "viewer"}),
            "password",
        ),
        (
            json!({"username": "a b", "password": "long enough", "role": "viewer"}),
            "username",
        ),
        (
            json!({"username": "y", "password": "long enough", "role": "boss"}),
            "role",
        ),
    ] {
        let (s, v) = admin(&app, Method::POST, "/api/v1/users", Some(body)).await;
        assert_eq!(s, 422, "{v}");
        assert!(v["error"].as_str().unwrap().contains(mention), "{v}");
    }
    let (s, _) = admin(
        &app,
        Method::POST,
        "/api/v1/users",
        Some(json!({"username": "root", "password": "another one", "role": "viewer"})),
    )
    .await;
    assert_eq!(s, 409);
    let (s, v) = admin(
        &app,
        Method::POST,
        "/api/v1/users",
        Some(json!({"username": "eve", "password": "operator pw", "role": "operator"})),
    )
    .await;
    assert_eq!(s, 201, "{v}");

    let (s, list) = admin(&app, Method::GET, "/api/v1/users", None).await;
    assert_eq!(s, 200);
    assert_eq!(list.as_array().unwrap().len(), 2);
    let text = list.to_string();
    assert!(!text.contains("hash") && !text.contains("argon2"), "{text}");

    // The only admin cannot be demoted, disabled or deleted.
    for body in [json!({"role": "operator"}), json!({"disabled": true})] {
        let (s, v) = admin(&app, Method::PATCH, "/api/v1/users/root", Some(body)).await;
        assert_eq!(s, 409, "{v}");
    }
    let (s, _) = admin(&app, Method::DELETE, "/api/v1/users/root", None).await;
    assert_eq!(s, 409);
    let (s, _) = admin(&app, Method::DELETE, "/api/v1/users/nobody", None).await;
    assert_eq!(s, 404);

    // A session ends when its user's password changes or the user is disabled; a role
    // change applies to a live session at once.
    let cookie = login(&app, "eve", "operator pw").await.cookie();
    let (s, v) = admin(
        &app,
        Method::PATCH,
        "/api/v1/users/eve",
        Some(json!({"role": "viewer"})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let me = send(with_cookie(
        &app,
        Method::GET,
        "/api/v1/session",
        &cookie,
        None,
    ))
    .await;
    assert_eq!(me.body["role"], "viewer");
    let (s, _) = admin(
        &app,
        Method::PATCH,
        "/api/v1/users/eve",
        Some(json!({"password": "a new password"})),
    )
    .await;
    assert_eq!(s, 200);
    let me = send(with_cookie(
        &app,
        Method::GET,
        "/api/v1/session",
        &cookie,
        None,
    ))
    .await;
    assert_eq!(me.status, 401);
    assert_eq!(login(&app, "eve", "operator pw").await.status, 401);
    let cookie = login(&app, "eve", "a new password").await.cookie();
    let (s, v) = admin(
        &app,
        Method::PATCH,
        "/api/v1/users/eve",
        Some(json!({"disabled": true})),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(v["disabled"], true);
    let me = send(with_cookie(
        &app,
        Method::GET,
        "/api/v1/session",
        &cookie,
        None,
    ))
    .await;
    assert_eq!(me.status, 401);
    assert_eq!(login(&app, "eve", "a new password").await.status, 401);

    // With a second admin, the first may go.
    let (s, _) = admin(
        &app,
        Method::PATCH,
        "/api/v1/users/eve",
        Some(json!({"role": "admin", "disabled": false})),
    )
    .await;
    assert_eq!(s, 200);
    let (s, _) = admin(&app, Method::DELETE, "/api/v1/users/root", None).await;
    assert_eq!(s, 204);
    let (s, list) = admin(&app, Method::GET, "/api/v1/users", None).await;
    assert_eq!(s, 200);
    assert_eq!(list[0]["username"], "eve");
}

#[tokio::test]
async fn user_add_reads_the_password_from_stdin() {
    let dir = tempfile::tempdir().unwrap();
    // The database the test instance uses (see common::test_settings).
    let db = common::test_db_url(dir.path());
    let add = |username: &str, stdin: &str| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_griddispatch"))
            .args(["user", "add", "--username", username, "--role", "operator"])
            .env("GRIDDISPATCH__DATABASE__URL", &db)
            .env("RUST_LOG", "error")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, err) = add("frank", "");
    assert!(!ok && err.contains("password"), "{err}");
    let (ok, err) = add("frank", "short\n");
    assert!(!ok && err.contains("at least 8"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let (ok, err) = add("frank", "frank's password\n");
    assert!(ok, "{err}");
    let (ok, err) = add("frank", "frank's password\n");
    assert!(!ok && err.contains("already exists"), "{err}");

    let settings = common::test_settings(&dir, &[]);
    let app = TestApp::spawn_with(dir, settings).await;
    let ok = login(&app, "frank", "frank's password").await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(ok.body["role"], "operator");
}

#[tokio::test]
async fn sessions_expire_and_demo_users_get_fresh_passwords() {
    let app = TestApp::spawn(&[]).await;
    let store = &app.running.as_ref().unwrap().store;
    add_user(&app, "gina", "gina's password", Role::Viewer).await;
    let short = store.create_session("gina", 50).await.unwrap();
    assert!(store.session_user(&short, 50).await.unwrap().is_some());
    tokio::time::sleep(std::time::Duration::from_millis(120)).await;
    assert!(
        store.session_user(&short, 50).await.unwrap().is_none(),
        "an unused session ends"
    );
    let me = send(with_cookie(
        &app,
        Method::GET,
        "/api/v1/session",
        &format!("gd_session={short}"),
        None,
    ))
    .await;
    assert_eq!(me.status, 401);

    // The demo makes its users, and at a later start gives them new passwords.
    let first = griddispatch::demo::demo_user(store, "operator", Role::Operator)
        .await
        .unwrap();
    assert_eq!(login(&app, "operator", &first).await.status, 200);
    let second = griddispatch::demo::demo_user(store, "operator", Role::Operator)
        .await
        .unwrap();
    assert_ne!(first, second);
    assert_eq!(login(&app, "operator", &first).await.status, 401);
    let ok = login(&app, "operator", &second).await;
    assert_eq!(ok.status, 200);
    assert_eq!(ok.body["role"], "operator");
}

#[tokio::test]
async fn many_failures_from_one_address_lock_it() {
    let app = TestApp::spawn(&[]).await;
    add_user(&app, "hana", "hana's password", Role::Operator).await;
    // Twenty guesses spread over five usernames, four each: below the per-user limit.
    for i in 0..20 {
        let s = login(&app, &format!("guess{}", i % 5), "nope nope")
            .await
            .status;
        assert_eq!(s, 401, "attempt {i}");
    }
    let locked = login(&app, "hana", "hana's password").await;
    assert_eq!(locked.status, 429, "the address is locked: {}", locked.body);
    assert!(locked.headers.contains_key(reqwest::header::RETRY_AFTER));
}
