//! Attacks on the HTTP API and the login path.

use std::time::Duration;

use griddispatch::domain::Role;
use serde_json::Value;

use crate::common::TestApp;

/// A liveness bound: what must still answer while an attack runs answers within this.
const ALIVE: Duration = Duration::from_secs(5);

/// POSTs `body` as-is to `path` with bearer `token`; (status, JSON or text).
async fn post_bytes(app: &TestApp, path: &str, token: &str, body: Vec<u8>) -> (u16, Value) {
    let resp = app
        .http
        .post(format!("{}{path}", app.base))
        .bearer_auth(token)
        .header("content-type", "Application/MANSCDP+xml")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// Whether /healthz answers 200 within [`ALIVE`].
async fn healthz_answers(app: &TestApp) -> bool {
    let get = app.http.get(format!("{}/healthz", app.base)).send();
    matches!(tokio::time::timeout(ALIVE, get).await, Ok(Ok(r)) if r.status().is_success())
}

/// Finding 3: `<Notify a0="1" a1="1" …/>` made roxmltree quadratic on the async workers;
/// two such posts froze the service for a minute. Now it is refused at once, by size or by
/// shape, with a 4xx naming the limit, and the service answers throughout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gb28181_attribute_bomb_is_refused_and_healthz_answers() {
    let app = TestApp::spawn(&[]).await;
    let operator = app.token(Role::Operator).await;
    let bomb = |n: usize| {
        let attrs: String = (0..n).map(|i| format!(" a{i}=\"1\"")).collect();
        format!("<Notify{attrs}/>").into_bytes()
    };
    // 200,000 attributes (1.6 MB) twice at once: a minute each before.
    let posts: Vec<_> = (0..2)
        .map(|_| {
            let (http, url, token, body) = (
                app.http.clone(),
                format!("{}/api/v1/ingest/gb28181", app.base),
                operator.clone(),
                bomb(200_000),
            );
            tokio::spawn(async move {
                let resp = http
                    .post(url)
                    .bearer_auth(token)
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                (resp.status().as_u16(), resp.text().await.unwrap())
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        healthz_answers(&app).await,
        "/healthz did not answer during two hostile GB/T 28181 posts"
    );
    for post in posts {
        let (status, text) = tokio::time::timeout(Duration::from_secs(30), post)
            .await
            .expect("the hostile post was answered")
            .unwrap();
        assert_eq!(status, 422, "{text}");
        assert!(text.contains("byte limit"), "{text}");
    }
    // Within the size limit, the shape is what gives it away: 6,000 attributes (48 KB).
    let (status, v) = post_bytes(&app, "/api/v1/ingest/gb28181", &operator, bomb(6_000)).await;
    assert_eq!(status, 422, "{v}");
    assert!(v["error"].as_str().unwrap().contains("attributes"), "{v}");
    assert!(healthz_answers(&app).await);
}
