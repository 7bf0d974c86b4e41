//! Lists are cut into pages: `?limit=` and `?cursor=`, the next page's cursor in the
//! `X-Next-Cursor` header, the body shape unchanged. A walk sees every item once.

use std::collections::HashSet;

use crate::common::TestApp;
use serde_json::{json, Value};

/// Walks `path` (which has a `?`) page by page, `limit` at a time; returns the items in
/// order and how many pages it took. `items` picks the items out of a body.
async fn walk(
    app: &TestApp,
    path: &str,
    limit: usize,
    items: fn(Value) -> Vec<Value>,
) -> (Vec<Value>, usize) {
    let mut all = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut url = format!("{}{path}&limit={limit}", app.base);
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let r = app
            .http
            .get(url)
            .bearer_auth(&app.token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
        cursor = r
            .headers()
            .get("x-next-cursor")
            .map(|v| v.to_str().unwrap().to_owned());
        let page = items(r.json().await.unwrap());
        assert!(
            page.len() <= limit,
            "{path}: a page of {} past limit {limit}",
            page.len()
        );
        all.extend(page);
        pages += 1;
        assert!(pages < 100, "{path}: the walk does not end");
        if cursor.is_none() {
            return (all, pages);
        }
    }
}

fn array(v: Value) -> Vec<Value> {
    v.as_array().cloned().unwrap()
}

fn ids(items: &[Value], field: &str) -> Vec<String> {
    items.iter().map(|i| i[field].to_string()).collect()
}

/// Every id once.
fn once(ids: &[String]) -> HashSet<String> {
    let set: HashSet<String> = ids.iter().cloned().collect();
    assert_eq!(set.len(), ids.len(), "an item came twice: {ids:?}");
    set
}

#[tokio::test]
async fn walking_the_incidents_page_by_page_sees_each_once_newest_first() {
    let app = TestApp::spawn(&[]).await;
    let mut made = Vec::new();
    for n in 0..12 {
        // 0.01° apart: too far to join one incident.
        let lat = 39.40 + 0.01 * f64::from(n);
        made.push(
            app.alert(json!({"id": format!("p{n}"), "kind": "fire", "severity": 3, "lat": lat, "lon": 106.6}))
                .await,
        );
    }
    let (items, pages) = walk(&app, "/api/v1/incidents?state=", 5, array).await;
    assert_eq!(pages, 3);
    let seen = once(&ids(&items, "id"));
    let want: HashSet<String> = made.iter().map(|i| json!(i).to_string()).collect();
    assert_eq!(seen, want);
    let created: Vec<_> = items
        .iter()
        .map(|i| chrono::DateTime::parse_from_rfc3339(i["created_at"].as_str().unwrap()).unwrap())
        .collect();
    let mut sorted = created.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(created, sorted, "not newest first");

    // An incident opened during a walk comes before the cursor: the rest of the walk
    // neither repeats nor skips anything.
    let r = app
        .http
        .get(format!("{}/api/v1/incidents?limit=4", app.base))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    let cursor = r.headers()["x-next-cursor"].to_str().unwrap().to_owned();
    let mut seen = ids(&array(r.json().await.unwrap()), "id");
    app.alert(json!({"id": "late", "kind": "fire", "severity": 3, "lat": 39.9, "lon": 106.6}))
        .await;
    let (rest, _) = walk(
        &app,
        &format!("/api/v1/incidents?cursor={cursor}"),
        100,
        array,
    )
    .await;
    seen.extend(ids(&rest, "id"));
    assert_eq!(once(&seen), want);

    // Without a limit the first page holds up to 200, and no cursor says more.
    let r = app
        .http
        .get(format!("{}/api/v1/incidents", app.base))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("x-next-cursor").is_none());
    assert_eq!(array(r.json().await.unwrap()).len(), 13);

    let (s, v) = app
        .call(
            reqwest::Method::GET,
            "/api/v1/incidents?cursor=bm9wZQ",
            Some(&app.token),
            None,
        )
        .await;
    assert_eq!(s, 422, "{v}");
    assert!(v.to_string().contains("cursor"), "{v}");
}

#[tokio::test]
async fn whole_lists_and_dead_letters_page_too() {
    let app = TestApp::spawn(&[]).await;
    let mut want = HashSet::new();
    for n in 0..7 {
        let id = format!("w{n}");
        app.responder(&id, "grid_worker", "foot", None).await;
        want.insert(json!(id).to_string());
    }
    let (items, pages) = walk(&app, "/api/v1/responders?", 3, array).await;
    assert_eq!(pages, 3);
    assert_eq!(once(&ids(&items, "id")), want);
    // Current clients, which send no limit, still get the whole list.
    assert_eq!(array(app.get("/api/v1/responders").await).len(), 7);

    let (features, _) = walk(&app, "/api/v1/zones?", 2, |v| array(v["features"].clone())).await;
    assert!(features.is_empty());

    let store = &app.running.as_ref().unwrap().store;
    for n in 0..7 {
        store
            .dead_letter(&format!("alerts/s{n}"), b"{", 1024, "not JSON")
            .await
            .unwrap();
    }
    let (items, pages) = walk(&app, "/api/v1/dead-letters?", 3, array).await;
    assert_eq!(pages, 3);
    let seqs = ids(&items, "seq");
    once(&seqs);
    assert_eq!(seqs.len(), 7);
    let topics: Vec<&str> = items.iter().map(|d| d["topic"].as_str().unwrap()).collect();
    assert_eq!(topics[0], "alerts/s6", "newest first: {topics:?}");
}
