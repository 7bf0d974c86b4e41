//! Responders' personal information (a real name, a phone number) under PIPL's minimum
//! necessary: whole for operators and admins, masked for viewers.

use crate::common::TestApp;
use griddispatch::domain::Role;
use reqwest::Method;
use serde_json::{json, Value};

/// `(real_name, phone)` of responder `id` as `token`'s holder sees it, from the one and
/// from the list.
async fn seen(app: &TestApp, token: &str, id: &str) -> [(Value, Value); 2] {
    let (s, one) = app
        .call(
            Method::GET,
            &format!("/api/v1/responders/{id}"),
            Some(token),
            None,
        )
        .await;
    assert_eq!(s, 200, "{one}");
    let (s, list) = app
        .call(Method::GET, "/api/v1/responders", Some(token), None)
        .await;
    assert_eq!(s, 200, "{list}");
    let in_list = list
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("{id} not in {list}"))
        .clone();
    [one, in_list].map(|r| (r["real_name"].clone(), r["phone"].clone()))
}

#[tokio::test]
async fn viewers_see_real_names_and_phones_masked_operators_and_admins_whole() {
    let app = TestApp::spawn(&[]).await;
    for (id, real_name, phone) in [
        ("v1", "欧阳娜娜", "+86 138-1234-5678"),
        ("v2", "张三", "12345678"),
    ] {
        let (s, v) = app
            .post(
                "/api/v1/responders",
                json!({"id": id, "name": id, "kind": "volunteer", "travel": "foot",
                       "real_name": real_name, "phone": phone}),
            )
            .await;
        assert_eq!(s, 201, "{v}");
        assert_eq!(
            (v["real_name"].as_str(), v["phone"].as_str()),
            (Some(real_name), Some(phone))
        );
    }
    let (s, v) = app
        .post(
            "/api/v1/responders",
            json!({"id": "v3", "name": "v3", "kind": "volunteer", "travel": "foot"}),
        )
        .await;
    assert_eq!(s, 201, "{v}");

    let viewer = app.token(Role::Viewer).await;
    let operator = app.token(Role::Operator).await;
    let cases = [
        (
            "v1",
            ("欧***", "+86 138-****-5678"),
            ("欧阳娜娜", "+86 138-1234-5678"),
        ),
        ("v2", ("张*", "******78"), ("张三", "12345678")),
    ];
    for (id, masked, whole) in cases {
        let pair = |(n, p): (&str, &str)| (json!(n), json!(p));
        for got in seen(&app, &viewer, id).await {
            assert_eq!(got, pair(masked), "viewer, {id}");
        }
        for (who, token) in [
            ("operator", operator.as_str()),
            ("admin", app.token.as_str()),
        ] {
            for got in seen(&app, token, id).await {
                assert_eq!(got, pair(whole), "{who}, {id}");
            }
        }
    }
    // None given: null for everyone.
    for token in [&viewer, &operator, &app.token] {
        for got in seen(&app, token, "v3").await {
            assert_eq!(got, (Value::Null, Value::Null));
        }
    }

    // The document says so.
    let (s, doc) = app
        .call(Method::GET, "/api/v1/openapi.json", None, None)
        .await;
    assert_eq!(s, 200);
    let props = &doc["components"]["schemas"]["ResponderView"]["properties"];
    for field in ["real_name", "phone"] {
        let text = props[field]["description"].as_str().unwrap_or_default();
        assert!(
            text.contains("masked") && text.contains("viewer"),
            "{field}: {text:?}"
        );
    }
}
