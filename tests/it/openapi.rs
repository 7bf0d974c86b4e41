//! The API's OpenAPI document (`GET /api/v1/openapi.json`) and its reference page.

use crate::common::TestApp;
use reqwest::Method;
use serde_json::Value;

/// The paths served next to the document that are not operations of it: the document
/// itself and its reference page.
const NOT_OPERATIONS: &[&str] = &["/api/v1/openapi.json", "/api/docs"];

/// `(METHOD, path pattern)` of every operation in the served document.
pub async fn operations(app: &TestApp) -> Vec<(String, String)> {
    let doc = document(app).await;
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in ["get", "put", "post", "delete", "patch"] {
            if item.get(method).is_some() {
                ops.push((method.to_uppercase(), path.clone()));
            }
        }
    }
    assert!(ops.len() > 30, "only {ops:?}");
    ops
}

async fn document(app: &TestApp) -> Value {
    let (status, doc) = app
        .call(Method::GET, "/api/v1/openapi.json", None, None)
        .await;
    assert_eq!(status, 200, "{doc}");
    doc
}

#[tokio::test]
async fn the_document_describes_every_route() {
    let app = TestApp::spawn(&[]).await;
    let doc = document(&app).await;
    assert!(
        doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1")),
        "{}",
        doc["openapi"]
    );
    let ops = operations(&app).await;
    let described = |method: &str, path: &str| {
        ops.iter()
            .any(|(m, p)| m.eq_ignore_ascii_case(method) && p == path)
    };
    // Routes added beside the document (`.route(...)`) would be served undescribed.
    for (method, path) in declared(".route(") {
        if path.starts_with("/api/") && !NOT_OPERATIONS.contains(&path.as_str()) {
            assert!(
                described(&method, &path),
                "{method} {path} is served but missing from the OpenAPI document \
                 (register it with routes!(…) and #[utoipa::path])"
            );
        }
    }
    // A described handler that no router registers would be a promise the server breaks.
    let annotated = declared("#[utoipa::path(");
    assert!(annotated.len() >= ops.len(), "{annotated:?}");
    for (method, path) in annotated {
        assert!(
            described(&method, &path),
            "{method} {path} is annotated but not in the document (not in any routes!(…))"
        );
    }
    // Every operation answers errors in the one documented shape, and has its own id
    // (client generators name functions after them).
    let mut ids = std::collections::HashSet::new();
    let mut links = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let id = op["operationId"].as_str().unwrap_or_default();
            assert!(
                ids.insert(id.to_owned()),
                "{method} {path}: operationId {id:?} twice"
            );
            let Some(responses) = op.get("responses").and_then(Value::as_object) else {
                continue;
            };
            let err = &responses["422"]["content"]["application/json"]["schema"]["$ref"];
            assert_eq!(
                err, "#/components/schemas/ErrorBody",
                "{method} {path}: its 422 answer"
            );
            assert!(
                responses.keys().any(|s| s.starts_with('2') || s == "101"),
                "{method} {path} documents no success answer"
            );
            let paged = op["parameters"].as_array().is_some_and(|ps| {
                ps.iter()
                    .any(|p| p["name"] == "cursor" && p["in"] == "query")
            });
            if paged {
                assert!(
                    responses["200"]["headers"].get("X-Next-Cursor").is_some(),
                    "{method} {path}: a paged list whose answer does not name the next page"
                );
            }
            for (name, link) in responses
                .values()
                .filter_map(|r| r.get("links").and_then(Value::as_object))
                .flatten()
            {
                links.push((format!("{method} {path} → {name}"), link.clone()));
            }
        }
    }
    // What a POST made leads to the operations on it (a client generator and the
    // schema-driven attack run follow these).
    assert!(
        links
            .iter()
            .any(|(from, _)| from.starts_with("post /api/v1/zones")),
        "{links:?}"
    );
    for (from, link) in &links {
        let target = link["operationId"].as_str().unwrap_or_default();
        assert!(
            ids.contains(target),
            "{from}: a link to {target:?} ({link})"
        );
    }
}

#[tokio::test]
async fn the_reference_page_is_served_with_its_viewer() {
    let app = TestApp::spawn(&[]).await;
    let resp = app
        .http
        .get(format!("{}/api/docs", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let html = resp.text().await.unwrap();
    assert!(html.contains("swagger-ui-bundle.js"), "{html}");
    for asset in [
        "/assets/vendor/swagger-ui/swagger-ui-bundle.js",
        "/assets/vendor/swagger-ui/swagger-ui.css",
        "/assets/app/js/api-docs.js",
    ] {
        let resp = app
            .http
            .get(format!("{}{asset}", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{asset}");
        assert!(resp.bytes().await.unwrap().len() > 100, "{asset}");
    }
}

/// `(METHOD, path)` of every `.route("…", method(…))` call or `#[utoipa::path(method,
/// path = "…")]` attribute in `src/http`, read from the source.
fn declared(marker: &str) -> Vec<(String, String)> {
    fn files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                files(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let mut sources = Vec::new();
    files(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/http"),
        &mut sources,
    );
    let mut found = Vec::new();
    for file in sources {
        let text = std::fs::read_to_string(&file).unwrap();
        for call in text.split(marker).skip(1) {
            // The call's text: up to the end of the statement or of the router fn.
            let call = call.split(';').next().unwrap();
            let call = call.split("\n}").next().unwrap();
            let call = call.split("\n)]").next().unwrap();
            let Some(path) = call.split('"').nth(1) else {
                continue;
            };
            for method in ["get", "post", "put", "patch", "delete"] {
                let hit = |i: usize| {
                    let before = call[..i].chars().next_back();
                    let after = call[i + method.len()..].chars().next();
                    !before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':')
                        && !after.is_some_and(|c| c.is_alphanumeric() || c == '_')
                };
                let found_here = if marker == ".route(" {
                    call.match_indices(&format!("{method}("))
                        .any(|(i, _)| hit(i))
                } else {
                    // The attribute's first word is its method.
                    call.trim_start().starts_with(method)
                        && hit(call.len() - call.trim_start().len())
                };
                if found_here {
                    found.push((method.to_uppercase(), path.to_owned()));
                }
            }
        }
    }
    found
}
