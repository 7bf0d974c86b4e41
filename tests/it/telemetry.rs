//! OTLP export of the spans (`telemetry.otlp_endpoint`): a small OTLP/HTTP collector inside
//! the test takes what the running app sends and decodes it with the protocol's own types.
//!
//! The log subscriber is the whole process's, so each test runs alone in a child process
//! ([`common::run_alone`]) and installs it as `griddispatch serve` does.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use griddispatch::telemetry::{Export, Logs};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, KeyValue};
use prost::Message as _;
use serde_json::json;

use crate::common::{self, wait_for, wait_up_to, Client, TestApp};

/// One span as the collector received it.
#[derive(Debug, Clone)]
struct Span {
    name: String,
    attributes: Vec<(String, String)>,
    /// The resource's `service.name`.
    service: String,
}

impl Span {
    fn attribute(&self, key: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Everything posted to the collector's `/v1/traces`.
#[derive(Debug, Default)]
struct Received {
    spans: Vec<Span>,
    /// `Content-Type` of each request.
    content_types: Vec<String>,
}

/// An OTLP/HTTP collector on loopback.
struct Collector {
    /// Where it listens.
    url: String,
    received: Arc<Mutex<Received>>,
    task: tokio::task::JoinHandle<()>,
}

impl Collector {
    async fn start(addr: SocketAddr) -> Collector {
        let received = Arc::new(Mutex::new(Received::default()));
        let keep = received.clone();
        let app = axum::Router::new().route(
            "/v1/traces",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                let keep = keep.clone();
                async move { take(&keep, &headers, &body) }
            }),
        );
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Collector {
            url,
            received,
            task,
        }
    }

    /// The span named `name` whose attribute `key` contains `value`, once it has come (at
    /// most 30 s: batches leave every 5 s, after the retries of one that failed).
    async fn arrived(&self, name: &str, key: &str, value: &str) -> Span {
        let what = format!("a span {name} with {key}={value} at the collector");
        wait_up_to(Duration::from_secs(30), &what, || async {
            self.find(name, key, value).map(|_| json!(null))
        })
        .await;
        self.find(name, key, value).unwrap()
    }

    fn spans(&self) -> Vec<Span> {
        self.received.lock().unwrap().spans.clone()
    }

    /// The first span named `name` whose attribute `key` contains `value`.
    fn find(&self, name: &str, key: &str, value: &str) -> Option<Span> {
        self.spans()
            .into_iter()
            .find(|s| s.name == name && s.attribute(key).is_some_and(|v| v.contains(value)))
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Decodes one export request, as a collector does.
fn take(into: &Mutex<Received>, headers: &HeaderMap, body: &[u8]) -> (StatusCode, Vec<u8>) {
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let Ok(request) = ExportTraceServiceRequest::decode(body) else {
        return (StatusCode::BAD_REQUEST, Vec::new());
    };
    let mut received = into.lock().unwrap();
    received.content_types.push(content_type);
    for resource_spans in request.resource_spans {
        let resource = resource_spans
            .resource
            .map(|r| attributes(r.attributes))
            .unwrap_or_default();
        let service = resource
            .iter()
            .find(|(k, _)| k == "service.name")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        for scope in resource_spans.scope_spans {
            for span in scope.spans {
                received.spans.push(Span {
                    name: span.name,
                    attributes: attributes(span.attributes),
                    service: service.clone(),
                });
            }
        }
    }
    // An empty ExportTraceServiceResponse: all spans taken.
    (StatusCode::OK, Vec::new())
}

fn attributes(list: Vec<KeyValue>) -> Vec<(String, String)> {
    list.into_iter()
        .map(|kv| {
            let value = match kv.value.and_then(|v| v.value) {
                Some(any_value::Value::StringValue(s)) => s,
                Some(any_value::Value::IntValue(i)) => i.to_string(),
                Some(any_value::Value::BoolValue(b)) => b.to_string(),
                Some(any_value::Value::DoubleValue(d)) => d.to_string(),
                other => format!("{other:?}"),
            };
            (kv.key, value)
        })
        .collect()
}

/// In the test process: runs the test `name` alone in a child process, and gives `None`.
/// In that child: installs the log subscriber as `serve` does, at the default log level
/// (spans a stricter `RUST_LOG` hides are not exported), and gives its handle.
fn alone(name: &str) -> Option<Logs> {
    if !common::run_alone(module_path!(), name) {
        return None;
    }
    // Safe enough here: this child process runs this one test, and nothing else reads the
    // environment while the subscriber is made.
    std::env::remove_var("RUST_LOG");
    Some(Logs::init())
}

/// An instance exporting to `collector` (`http://…`), and its exporter.
async fn spawn(logs: &Logs, collector: &str) -> (TestApp, Export) {
    let dir = tempfile::tempdir().unwrap();
    let settings = common::test_settings(
        &dir,
        &[("GRIDDISPATCH__TELEMETRY__OTLP_ENDPOINT", collector)],
    );
    let export = logs
        .export(&settings.telemetry)
        .unwrap()
        .expect("an endpoint is set, so spans are exported");
    (TestApp::spawn_with(dir, settings).await, export)
}

/// A GET answered with the given request id, as a proxy would set it.
async fn get_as(app: &TestApp, path: &str, request_id: &str) {
    let r = app
        .http
        .get(format!("{}{path}", app.base))
        .bearer_auth(&app.token)
        .header("x-request-id", request_id)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{path}: {}", r.status());
    r.bytes().await.unwrap();
}

/// Publishes an alert from source `s1` over MQTT (far from the others, so it opens an
/// incident of its own) and waits until it has.
async fn alert(app: &TestApp, src: &Client, id: &str, lat: f64) {
    let open = || async { app.get("/api/v1/incidents").await.as_array().unwrap().len() };
    let before = open().await;
    src.publish(
        "alerts/s1",
        json!({"id": id, "kind": "medical", "severity": 2, "lat": lat, "lon": 106.7}).to_string(),
    )
    .await;
    wait_for("the alert's incident", || async {
        (open().await > before).then_some(json!(null))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_and_alert_spans_reach_the_collector_and_the_last_ones_are_sent_at_shutdown() {
    let Some(logs) =
        alone("request_and_alert_spans_reach_the_collector_and_the_last_ones_are_sent_at_shutdown")
    else {
        return;
    };
    let collector = Collector::start(SocketAddr::from(([127, 0, 0, 1], 0))).await;
    let (mut app, export) = spawn(&logs, &collector.url).await;
    let (user, pass) = app.source("s1").await;
    let src = Client::connect(&app.mqtt_host, app.mqtt_port, "s1", &user, &pass).await;

    alert(&app, &src, "otlp-alert-1", 39.5).await;
    get_as(&app, "/api/v1/incidents", "otlp-request-1").await;

    // While the app runs, the batch processor sends every few seconds.
    let alert_span = collector.arrived("alert", "id", "otlp-alert-1").await;
    assert_eq!(alert_span.attribute("source"), Some("s1"), "{alert_span:?}");
    assert_eq!(alert_span.service, "griddispatch");
    let http_span = collector
        .arrived("http", "request_id", "otlp-request-1")
        .await;
    assert_eq!(http_span.attribute("method"), Some("GET"), "{http_span:?}");
    assert_eq!(
        http_span.attribute("route"),
        Some("/api/v1/incidents"),
        "{http_span:?}"
    );

    // What closes just before the stop leaves with the exporter's shutdown.
    get_as(&app, "/api/v1/incidents", "otlp-request-last").await;
    app.stop().await;
    export.shutdown().await;
    assert!(
        collector
            .find("http", "request_id", "otlp-request-last")
            .is_some(),
        "the last request's span was not sent at shutdown: {:?}",
        collector.spans()
    );
    let content_types = collector.received.lock().unwrap().content_types.clone();
    assert!(
        content_types.iter().all(|c| c == "application/x-protobuf"),
        "{content_types:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_works_while_the_collector_is_down_and_exports_once_it_is_back() {
    let Some(logs) = alone("the_app_works_while_the_collector_is_down_and_exports_once_it_is_back")
    else {
        return;
    };
    // A collector that is down: it takes each connection and drops it unanswered.
    let down = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = down.local_addr().unwrap();
    let tries = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = tries.clone();
    let refusing = tokio::spawn(async move {
        while let Ok((conn, _)) = down.accept().await {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            drop(conn);
        }
    });
    let (mut app, export) = spawn(&logs, &format!("http://{addr}")).await;
    let (user, pass) = app.source("s1").await;
    let src = Client::connect(&app.mqtt_host, app.mqtt_port, "s1", &user, &pass).await;
    alert(&app, &src, "before", 39.4).await;
    wait_up_to(Duration::from_secs(30), "an export that failed", || async {
        (tries.load(std::sync::atomic::Ordering::SeqCst) > 0).then_some(json!(null))
    })
    .await;

    // Exports fail, and alerts still open incidents and requests are answered.
    alert(&app, &src, "while-down", 39.5).await;
    get_as(&app, "/api/v1/incidents", "while-down").await;

    // The collector comes back on the same address: what closes from then on reaches it.
    refusing.abort();
    let _ = refusing.await;
    let collector = Collector::start(addr).await;
    alert(&app, &src, "back-up", 39.7).await;
    collector.arrived("alert", "id", "back-up").await;
    app.stop().await;
    export.shutdown().await;
}
