//! The API's OpenAPI 3.1 document, generated from the handlers themselves: each handler
//! carries `#[utoipa::path]` and each area registers it with `utoipa_axum::routes!`, so a
//! route cannot be served without being described. Served at `GET /api/v1/openapi.json`;
//! the human reference (Swagger UI, embedded from npm) at `/api/docs`.
//!
//! The error answers every operation shares (the [`ErrorBody`] shape, from
//! [`super::error::ApiError`]) are added here once, by [`finish`], rather than repeated on
//! each handler: which of them an operation can give follows from its credentials, its
//! path parameters and its method.

use axum::body::Bytes;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, ResponseBuilder};
use utoipa::{Modify, OpenApi as _, ToSchema};
use utoipa_axum::router::OpenApiRouter;

use super::auth::SESSION_COOKIE;
use super::AppState;

/// Where the document is served.
pub const DOCUMENT_PATH: &str = "/api/v1/openapi.json";
/// Where its reference page is served.
pub const DOCS_PATH: &str = "/api/docs";

/// The body of every error answer (4xx and 5xx).
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong, in words for a person; never internal detail.
    pub error: String,
}

/// The document's fixed part; the paths come from the areas' routers.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "griddispatch",
        description = "Incident dispatch for a grid-management network: alerts in, incidents \
on a map, tasks to the nearest available grid worker, the case followed until closed, \
volunteer points. Programs authenticate with `Authorization: Bearer <token>` (tokens are \
made with `griddispatch token`); the console with the session cookie from \
`POST /api/v1/session`; phones with their MQTT login as HTTP Basic where an operation says \
so. Lists are paged: `?limit=` (each list names its default and cap) and `?cursor=` from \
the previous page's `X-Next-Cursor` header; times are RFC 3339, distances metres."
    ),
    modifiers(&Credentials),
    security(("token" = []), ("session" = [])),
    components(schemas(ErrorBody))
)]
struct ApiDoc;

/// The three kinds of credentials (see `auth`).
struct Credentials;

impl Modify for Credentials {
    fn modify(&self, doc: &mut OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "token",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                SESSION_COOKIE,
                "The console's session, set by POST /api/v1/session. A request that \
changes state with it must also carry this site's Origin.",
            ))),
        );
        components.add_security_scheme(
            "phone",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Basic)),
        );
    }
}

/// A router that starts the document: the areas merge into it.
pub fn start() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
}

/// Completes the document of every route (the shared error answers) and returns the
/// routes that serve it and its reference page.
pub fn serve(mut doc: OpenApi) -> axum::Router<AppState> {
    finish(&mut doc);
    let json = Bytes::from(to_json(&doc).unwrap_or_else(|e| {
        // Only a schema type whose Serialize fails could do this; none does.
        tracing::error!(error = %e, "the OpenAPI document did not serialise");
        String::from("{}")
    }));
    axum::Router::new()
        .route(
            DOCUMENT_PATH,
            get(move || {
                let json = json.clone();
                async move {
                    (
                        [(
                            header::CONTENT_TYPE,
                            HeaderValue::from_static("application/json"),
                        )],
                        json,
                    )
                        .into_response()
                }
            }),
        )
        .route(DOCS_PATH, get(docs_page))
}

/// The document as JSON. utoipa 5 writes a Link object's fields in snake case
/// (`operation_id`), which no OpenAPI reader understands; they are renamed here.
fn to_json(doc: &OpenApi) -> serde_json::Result<String> {
    let mut value = serde_json::to_value(doc)?;
    let responses = value
        .get_mut("paths")
        .and_then(serde_json::Value::as_object_mut)
        .into_iter()
        .flat_map(|paths| paths.values_mut())
        .filter_map(serde_json::Value::as_object_mut)
        .flat_map(|item| item.values_mut())
        .filter_map(|op| op.get_mut("responses"))
        .filter_map(serde_json::Value::as_object_mut)
        .flat_map(|responses| responses.values_mut());
    for response in responses {
        let Some(links) = response
            .get_mut("links")
            .and_then(serde_json::Value::as_object_mut)
        else {
            continue;
        };
        for link in links
            .values_mut()
            .filter_map(serde_json::Value::as_object_mut)
        {
            for (snake, camel) in [
                ("operation_id", "operationId"),
                ("operation_ref", "operationRef"),
                ("request_body", "requestBody"),
            ] {
                if let Some(v) = link.remove(snake) {
                    link.insert(camel.to_owned(), v);
                }
            }
        }
    }
    serde_json::to_string_pretty(&value)
}

/// The reference page (`web/src/api-docs.html`), open to all like the document: neither
/// holds anything that is not in the public contract.
async fn docs_page() -> Response {
    super::console::page("api-docs.html")
}

/// Adds to every operation the error answers it can give, all with [`ErrorBody`]:
/// - 401 and 403 when it needs credentials; 404 when its path names something;
/// - 409 when it changes state; 413 and 422 (body or query not acceptable);
/// - 429 (a quota or the password checks are busy); 503 (stopping, over its time limit,
///   or the leader is away); 500 (logged in detail, answered without).
///
/// An operation that documents one of these itself keeps its own words.
pub fn finish(doc: &mut OpenApi) {
    name_operations(doc);
    link_created_things(doc);
    name_next_pages(doc);
    let global = doc.security.clone().unwrap_or_default();
    for (path, item) in doc.paths.paths.iter_mut() {
        for (method, op) in operations_mut(item) {
            // A path parameter, or an id in the body (an award's responder), names
            // something that may not exist.
            let names_something = path.contains('{') || op.request_body.is_some();
            let security = op.security.as_ref().unwrap_or(&global);
            let public = security.is_empty() || security.contains(&SecurityRequirement::default());
            let mut add = |status: &str, why: &str| {
                if !op.responses.responses.contains_key(status) {
                    let response = ResponseBuilder::new()
                        .description(why)
                        .content(
                            "application/json",
                            ContentBuilder::new()
                                .schema(Some(Ref::from_schema_name("ErrorBody")))
                                .build(),
                        )
                        .build();
                    op.responses
                        .responses
                        .insert(status.to_owned(), response.into());
                }
            };
            if !public {
                add("401", "No credentials, or unknown ones.");
                add("403", "The caller's role does not allow this, or a cookie request came from another site.");
            }
            if names_something {
                add(
                    "404",
                    "What the path names does not exist (or is not the caller's to see).",
                );
            }
            if method != "get" {
                add("409", "It conflicts with the current state (a duplicate id, a closed incident, a changed version).");
            }
            add(
                "413",
                "The body is over this route's size limit (`http.limits`).",
            );
            add(
                "422",
                "The body, path or query is not acceptable; the message names the field.",
            );
            add("429", "Too many requests or failed logins from this caller, or the password checks are busy; see Retry-After.");
            add("500", "An internal error, logged on the server.");
            add("503", "The server is stopping, the request passed its time limit, or the cluster's leader is away.");
        }
    }
}

/// Every paged list (an operation with a `cursor` query parameter, `page`) says in its
/// 200 answer where the next page starts: the header, described once here.
fn name_next_pages(doc: &mut OpenApi) {
    use utoipa::openapi::header::HeaderBuilder;
    use utoipa::openapi::path::ParameterIn;
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    for item in doc.paths.paths.values_mut() {
        for (_, op) in operations_mut(item) {
            let paged = op
                .parameters
                .iter()
                .flatten()
                .any(|p| p.name == "cursor" && matches!(p.parameter_in, ParameterIn::Query));
            let Some(utoipa::openapi::RefOr::T(ok)) = op.responses.responses.get_mut("200") else {
                continue;
            };
            if paged && !ok.headers.contains_key("X-Next-Cursor") {
                let header = HeaderBuilder::new()
                    .schema(ObjectBuilder::new().schema_type(Type::String))
                    .description(Some(
                        "Where the next page starts (pass it back as `?cursor=`); absent on \
the last page.",
                    ))
                    .build();
                ok.headers.insert("X-Next-Cursor".to_owned(), header);
            }
        }
    }
}

/// Gives every operation a unique id from its method and path (`get_incidents_id_timeline`):
/// utoipa names them after the handler function, and every area has a `list`.
fn name_operations(doc: &mut OpenApi) {
    for (path, item) in doc.paths.paths.iter_mut() {
        for (method, op) in operations_mut(item) {
            op.operation_id = Some(operation_id(method, path));
        }
    }
}

/// `get_incidents_id_timeline` for `GET /api/v1/incidents/{id}/timeline`.
fn operation_id(method: &str, path: &str) -> String {
    let rest = path.strip_prefix("/api/v1/").unwrap_or(path);
    let words: Vec<String> = rest
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect();
    format!("{method}_{}", words.join("_"))
}

/// Where the id of a thing a POST made is found in its answer, by the collection it was
/// posted to, and the collection it then lives in; besides these, a POST to `/x` links to
/// `/x/{id}…` by the answer's `id`.
const MADE_ELSEWHERE: &[(&str, &str, &str)] =
    &[("/api/v1/alerts", "/api/v1/incidents", "/incident_id")];

/// OpenAPI links from each POST that makes something to the operations on what it made
/// (the answer's id fills their path parameter), so that a client generator, and the
/// schema-driven attack run's stateful phase, can follow them.
fn link_created_things(doc: &mut OpenApi) {
    let paths: Vec<String> = doc.paths.paths.keys().cloned().collect();
    let mut links = Vec::new();
    for from in &paths {
        let (to, pointer) = MADE_ELSEWHERE
            .iter()
            .find(|(f, _, _)| f == from)
            .map_or((from.as_str(), "/id"), |(_, t, p)| (*t, *p));
        for target in &paths {
            let Some(rest) = target.strip_prefix(&format!("{to}/{{")) else {
                continue;
            };
            let Some((param, _)) = rest.split_once('}') else {
                continue;
            };
            let item = &doc.paths.paths[target];
            let methods = [
                ("get", &item.get),
                ("put", &item.put),
                ("post", &item.post),
                ("delete", &item.delete),
                ("patch", &item.patch),
            ];
            for (method, op) in methods {
                if op.is_some() {
                    links.push((
                        from.clone(),
                        operation_id(method, target),
                        param.to_owned(),
                        pointer,
                    ));
                }
            }
        }
    }
    for (from, target_id, param, pointer) in links {
        let Some(post) = doc.paths.paths.get_mut(&from).and_then(|i| i.post.as_mut()) else {
            continue;
        };
        for (status, response) in post.responses.responses.iter_mut() {
            let utoipa::openapi::RefOr::T(response) = response else {
                continue;
            };
            if !status.starts_with('2') || response.content.is_empty() {
                continue;
            }
            let link = utoipa::openapi::link::LinkBuilder::new()
                .operation_id(target_id.clone())
                .parameter(param.clone(), format!("$response.body#{pointer}"))
                .build();
            response.links.insert(target_id.clone(), link.into());
        }
    }
}

/// The operations of one path, with their lower-case methods.
fn operations_mut(item: &mut PathItem) -> impl Iterator<Item = (&'static str, &mut Operation)> {
    [
        ("get", item.get.as_mut()),
        ("put", item.put.as_mut()),
        ("post", item.post.as_mut()),
        ("delete", item.delete.as_mut()),
        ("patch", item.patch.as_mut()),
    ]
    .into_iter()
    .filter_map(|(m, op)| op.map(|op| (m, op)))
}

#[cfg(test)]
mod tests {
    use super::operation_id;

    #[test]
    fn operation_ids_come_from_method_and_path() {
        assert_eq!(
            operation_id("get", "/api/v1/incidents/{id}/timeline"),
            "get_incidents_id_timeline"
        );
        assert_eq!(
            operation_id("get", "/api/v1/reports/summary.csv"),
            "get_reports_summary_csv"
        );
        assert_eq!(operation_id("get", "/healthz"), "get_healthz");
    }
}
