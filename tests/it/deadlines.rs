//! Deadlines (处置时限), end to end: an incident is due its deadline after it opened, is
//! marked overdue once that passes (in the API and the metric) and no longer once it ends.

use std::time::Duration;

use serde_json::{json, Value};

use crate::common::{metric, wait_up_to, TestApp};

/// Unix ms of an RFC 3339 time in a view.
fn ms(v: &Value) -> i64 {
    let s = v.as_str().unwrap_or_else(|| panic!("not a time: {v}"));
    chrono::DateTime::parse_from_rfc3339(s)
        .unwrap_or_else(|e| panic!("{s}: {e}"))
        .timestamp_millis()
}

#[tokio::test]
async fn an_incident_is_due_its_deadline_after_it_opened_and_overdue_once_past_it() {
    let app = TestApp::spawn(&[
        ("GRIDDISPATCH__DEADLINES__SEV3_SECS", "2"),
        ("GRIDDISPATCH__DEADLINES__KINDS__GAS_LEAK", "4"),
    ])
    .await;
    let noise = app
        .alert(json!({"id":"a1","kind":"noise","severity":3,"lat":39.4990,"lon":106.695}))
        .await;
    let gas = app
        .alert(json!({"id":"a2","kind":"gas_leak","severity":1,"lat":39.6,"lon":106.8}))
        .await;

    // Due at created + the severity's deadline, or the kind's own whatever the severity.
    let n = app.incident(&noise).await;
    assert_eq!(ms(&n["due_at"]) - ms(&n["created_at"]), 2_000, "{n}");
    let g = app.incident(&gas).await;
    assert_eq!(ms(&g["due_at"]) - ms(&g["created_at"]), 4_000, "{g}");
    for i in [&n, &g] {
        assert_eq!(i["overdue"], false, "{i}");
    }
    assert_eq!(metric(&app.metrics().await, "incidents_overdue"), 0);

    // Past its due time, the first is overdue (read, listed, counted); the second not yet.
    let n = wait_up_to(Duration::from_secs(10), "noise overdue", || async {
        let n = app.incident(&noise).await;
        (n["overdue"] == true).then_some(n)
    })
    .await;
    assert!(
        chrono::Utc::now().timestamp_millis() > ms(&n["due_at"]),
        "{n}"
    );
    // The second is overdue exactly when its due time has passed.
    let before = chrono::Utc::now().timestamp_millis();
    let g = app.incident(&gas).await;
    let after = chrono::Utc::now().timestamp_millis();
    let due = ms(&g["due_at"]);
    if after <= due {
        assert_eq!(g["overdue"], false, "{g}");
    }
    if before > due {
        assert_eq!(g["overdue"], true, "{g}");
    }
    let listed = app.get("/api/v1/incidents").await;
    let row = listed
        .as_array()
        .and_then(|l| l.iter().find(|i| i["id"] == noise.as_str()))
        .unwrap_or_else(|| panic!("{noise} not listed: {listed}"));
    assert_eq!(row["overdue"], true, "{row}");
    assert_eq!(row["due_at"], n["due_at"]);
    assert!(metric(&app.metrics().await, "incidents_overdue") >= 1);

    // Both overdue, then one cancelled: it is no longer overdue, nor counted.
    wait_up_to(Duration::from_secs(10), "two overdue", || async {
        (metric(&app.metrics().await, "incidents_overdue") == 2).then_some(Value::Null)
    })
    .await;
    let (s, v) = app
        .post(&format!("/api/v1/incidents/{noise}/cancel"), json!({}))
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["state"], "cancelled");
    assert_eq!(v["overdue"], false, "{v}");
    assert_eq!(app.incident(&noise).await["overdue"], false);
    assert_eq!(metric(&app.metrics().await, "incidents_overdue"), 1);
    assert_eq!(app.incident(&gas).await["overdue"], true);
}

#[tokio::test]
async fn a_more_urgent_alert_joining_brings_the_deadline_forward() {
    let app = TestApp::spawn(&[
        ("GRIDDISPATCH__DEADLINES__SEV1_SECS", "60"),
        ("GRIDDISPATCH__DEADLINES__SEV4_SECS", "600"),
    ])
    .await;
    let id = app
        .alert(json!({"id":"b1","kind":"flood","severity":4,"lat":39.4990,"lon":106.695}))
        .await;
    let i = app.incident(&id).await;
    let created = ms(&i["created_at"]);
    assert_eq!(ms(&i["due_at"]) - created, 600_000, "{i}");
    let joined = app
        .alert(json!({"id":"b2","kind":"flood","severity":1,"lat":39.4991,"lon":106.695}))
        .await;
    assert_eq!(joined, id, "the second alert joins the first's incident");
    let i = app.incident(&id).await;
    assert_eq!(i["severity"], 1);
    assert_eq!(ms(&i["due_at"]) - created, 60_000, "{i}");
    assert_eq!(i["overdue"], false);
}
