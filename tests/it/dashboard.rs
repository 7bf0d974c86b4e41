//! The Grafana dashboard (docs/grafana/griddispatch.json) queries only metrics the app
//! really exports: every metric name its PromQL reads is looked for in the `/metrics` of a
//! running app that has dispatched one incident, so a renamed or misspelt metric fails here
//! instead of leaving an operator's panel empty.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::common::{w1_by_the_camera, wait_for, TestApp};

/// PromQL operators and modifiers without a label list: never metric names.
const OPERATORS: &[&str] = &[
    "and", "or", "unless", "offset", "bool", "atan2", "inf", "nan",
];

/// Modifiers followed by a list of label names in parentheses.
const LABEL_LISTS: &[&str] = &[
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
];

/// The index just past the bracket that closes the one at `open` (quotes respected).
fn past_closing(b: &[u8], open: usize) -> usize {
    let (opening, closing) = (
        b[open],
        match b[open] {
            b'(' => b')',
            b'[' => b']',
            _ => b'}',
        },
    );
    let (mut depth, mut i) = (0, open);
    while i < b.len() {
        match b[i] {
            b'"' | b'\'' | b'`' => i = past_string(b, i) - 1,
            c if c == opening => depth += 1,
            c if c == closing => {
                depth -= 1;
                if depth == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    b.len()
}

/// The index just past the string literal that starts at `open`.
fn past_string(b: &[u8], open: usize) -> usize {
    let mut i = open + 1;
    while i < b.len() && b[i] != b[open] {
        if b[i] == b'\\' {
            i += 1;
        }
        i += 1;
    }
    i + 1
}

fn is_word(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b':'
}

/// The metric names a PromQL expression reads: the identifiers that are not functions or
/// aggregations (followed by `(`), keywords, label names (inside `{…}` or a `by (…)`
/// list), label values (strings), ranges (`[5m]`), numbers or Grafana variables.
fn metric_names(expr: &str) -> Vec<String> {
    let b = expr.as_bytes();
    let mut names = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' | b'\'' | b'`' => i = past_string(b, i),
            b'{' | b'[' => i = past_closing(b, i),
            c if c == b'$' || c.is_ascii_digit() || c == b'.' => {
                // A Grafana variable or a number (with its exponent or unit letters).
                i += 1;
                while i < b.len() && (is_word(b[i]) || b[i] == b'.') {
                    i += 1;
                }
            }
            c if is_word(c) => {
                let start = i;
                while i < b.len() && is_word(b[i]) {
                    i += 1;
                }
                let word = &expr[start..i];
                let next = (i..b.len()).find(|&j| b[j] != b' ');
                // `f(…)`, or an aggregation with its grouping first: `sum by (le) (…)`.
                let rest = next.map_or("", |j| &expr[j..]);
                let call = rest.starts_with('(')
                    || ["by", "without"].iter().any(|m| {
                        rest.strip_prefix(m)
                            .is_some_and(|r| !r.bytes().next().is_some_and(is_word))
                    });
                let lower = word.to_ascii_lowercase();
                if LABEL_LISTS.contains(&lower.as_str()) && call {
                    i = next.map_or(i, |j| past_closing(b, j));
                } else if !call
                    && !OPERATORS.contains(&lower.as_str())
                    && !LABEL_LISTS.contains(&lower.as_str())
                {
                    names.push(word.to_owned());
                }
            }
            _ => i += 1,
        }
    }
    names
}

/// Every series name the exposition holds: sample lines, and the names each `# TYPE`
/// declares (a histogram's `_bucket`, `_sum` and `_count`).
fn exported(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in text.lines() {
        if let Some(decl) = line.strip_prefix("# TYPE ") {
            let (name, kind) = decl.split_once(' ').unwrap_or((decl, ""));
            names.insert(name.to_owned());
            if kind == "histogram" {
                for suffix in ["_bucket", "_sum", "_count"] {
                    names.insert(format!("{name}{suffix}"));
                }
            }
        } else if !line.starts_with('#') && !line.is_empty() {
            let end = line.find(['{', ' ']).unwrap_or(line.len());
            names.insert(line[..end].to_owned());
        }
    }
    names
}

/// Every PromQL expression of the dashboard's panels (rows included).
fn expressions(dashboard: &Value) -> Vec<String> {
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(map) => {
                if let Some(Value::String(expr)) = map.get("expr") {
                    out.push(expr.clone());
                }
                map.values().for_each(|x| walk(x, out));
            }
            Value::Array(items) => items.iter().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(&dashboard["panels"], &mut out);
    out
}

#[test]
fn the_promql_reader_finds_metrics_wherever_they_stand() {
    let expr = r#"histogram_quantile(0.99, sum by (le, route) (rate(a_seconds_bucket{route=~"/api/.*", x="b_total"}[$__rate_interval])))
        / on (route) group_left sum(rate(b_total[5m] offset 1h)) > 0 and c unless d:recorded * 1e-3"#;
    assert_eq!(
        metric_names(expr),
        ["a_seconds_bucket", "b_total", "c", "d:recorded"]
    );
}

#[tokio::test]
async fn every_metric_the_dashboard_queries_is_exported() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/grafana/griddispatch.json");
    let text = std::fs::read_to_string(&path).expect("the dashboard file");
    let dashboard: Value = serde_json::from_str(&text).expect("the dashboard is JSON");
    let exprs = expressions(&dashboard);
    let queried: BTreeSet<String> = exprs.iter().flat_map(|e| metric_names(e)).collect();
    // The panels the operators were promised: dispatch latency percentiles, the offer
    // funnel, open incidents by state, broker connections and commit time.
    for wanted in [
        "griddispatch_alert_to_offer_seconds_bucket",
        "griddispatch_offer_outcomes_total",
        "griddispatch_incidents_by_state",
        "griddispatch_broker_connections",
        "griddispatch_commit_duration_seconds_bucket",
    ] {
        assert!(
            queried.contains(wanted),
            "the dashboard does not show {wanted}"
        );
    }
    assert!(
        exprs.iter().any(|e| e.contains("histogram_quantile")),
        "no percentiles"
    );

    // One incident dispatched and accepted, so the histograms have their series.
    let app = TestApp::spawn(&[]).await;
    app.zone("g1", "grid", (39.49, 106.69), (39.50, 106.70))
        .await;
    let mut w = w1_by_the_camera(&app).await;
    app.alert(json!({"id":"a1","kind":"medical","severity":2,"lat":39.4955,"lon":106.6955}))
        .await;
    let task = w.expect_task().await;
    let tid = task["task_id"].as_str().expect("task id").to_owned();
    let (ok, answer) = w
        .update(&tid, json!({"status":"accepted","version":1}))
        .await;
    assert!(ok, "{answer}");
    let metrics = wait_for("the accepted offer in /metrics", || async {
        let m = app.metrics().await;
        m.contains("griddispatch_offer_answer_seconds_count{outcome=\"accepted\"} 1")
            .then_some(Value::String(m))
    })
    .await;
    let metrics = metrics.as_str().unwrap_or_default();
    let have = exported(metrics);
    let missing: Vec<&String> = queried.iter().filter(|n| !have.contains(*n)).collect();
    assert!(
        missing.is_empty(),
        "the dashboard queries metrics /metrics does not export: {missing:?}\n{metrics}"
    );
    // And the ones shown really count what happened.
    for line in [
        "griddispatch_alert_to_offer_seconds_count 1",
        "griddispatch_offer_outcomes_total{outcome=\"accepted\"} 1",
        "griddispatch_incidents_by_state{state=\"assigned\"} 1",
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "{line} missing in\n{metrics}"
        );
    }
    assert!(
        metrics.contains("griddispatch_http_request_duration_seconds_count{method=\"POST\",route=\"/api/v1/alerts\",status=\"2xx\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics
            .contains("griddispatch_mqtt_messages_total{direction=\"in\",kind=\"task_update\"} 1"),
        "{metrics}"
    );
}
