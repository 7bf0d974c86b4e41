//! Verification by an inspector (issue 14), end to end over the real embedded broker:
//! with `verification.default = "inspector"` a resolution is offered as a verification
//! task to the nearest on-duty responder with the skill `inspector`, never the one who
//! resolved it; the inspector answers `verified` (the incident closes) or `rework` with a
//! reason (the worker who resolved it gets it back) from the phone, as MQTT task updates.
//! Workers and inspectors are real MQTT clients.

use std::time::Duration;

use serde_json::{json, Value};

use crate::common::{self, rtsp, w1_by_the_camera, worker, Api, TestApp, Worker};

const QUIET: Duration = Duration::from_millis(400);

/// Verification by an inspector for every kind.
const INSPECTED: [(&str, &str); 1] = [("GRIDDISPATCH__VERIFICATION__DEFAULT", "inspector")];

/// Gives responder `id` the skill `inspector` (as an admin does in the console).
async fn make_inspector(app: &Api, id: &str) {
    let (s, v) = app
        .call(
            reqwest::Method::PATCH,
            &format!("/api/v1/responders/{id}"),
            Some(&app.token),
            Some(json!({"skills": ["inspector", "first_aid"]})),
        )
        .await;
    assert_eq!(s, 200, "{v}");
}

/// An inspector on duty at `at`, with no zone: further from the alerts below than w1, so it
/// is never the one offered the work itself.
async fn inspector(app: &Api, id: &str, at: (f64, f64)) -> Worker {
    let w = worker(app, id, "volunteer", "foot", None, at).await;
    make_inspector(app, id).await;
    w
}

/// Zone g1 and worker w1 in it, on duty beside the alerts below.
async fn w1_in_g1(app: &Api) -> Worker {
    app.zone("g1", "grid", (39.49, 106.69), (39.50, 106.70))
        .await;
    worker(
        app,
        "w1",
        "grid_worker",
        "foot",
        Some("g1"),
        (39.4950, 106.6950),
    )
    .await
}

/// The next new offer to `w` (skipping later versions of tasks it already had).
async fn offer(w: &mut Worker) -> Value {
    loop {
        let task = w.expect_task().await;
        if task["status"] == "offered" {
            return task;
        }
    }
}

fn tid(task: &Value) -> String {
    task["task_id"].as_str().unwrap().to_owned()
}

/// `w` takes the offer `task` and resolves it with `note`.
async fn take_and_resolve(w: &mut Worker, task: &Value, note: &str) {
    let tid = tid(task);
    let (ok, a) = w.update(&tid, json!({"status": "accepted"})).await;
    assert!(ok, "{a}");
    let (ok, a) = w
        .update(&tid, json!({"status": "resolved", "note": note}))
        .await;
    assert!(ok, "{a}");
}

/// An alert beside w1 that w1 takes and resolves with `note`; returns the incident id.
async fn resolved_by(app: &Api, w: &mut Worker, alert: &str, note: &str) -> String {
    let id = app
        .alert(
            json!({"id": alert, "kind": "litter", "severity": 3, "lat": 39.4951, "lon": 106.6951}),
        )
        .await;
    let task = offer(w).await;
    assert_eq!(task["incident_id"], id.as_str());
    take_and_resolve(w, &task, note).await;
    app.wait_state(&id, "resolved").await;
    id
}

/// The timeline as (actor, note) pairs.
async fn timeline(app: &Api, id: &str) -> Vec<(String, String)> {
    let lines = app.get(&format!("/api/v1/incidents/{id}/timeline")).await;
    lines
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            let s = |k: &str| l[k].as_str().unwrap_or_default().to_owned();
            (s("actor"), s("note"))
        })
        .collect()
}

/// Asserts that the timeline has `note` by `actor`.
async fn has_line(app: &Api, id: &str, actor: &str, note: &str) {
    let lines = timeline(app, id).await;
    assert!(
        lines.iter().any(|(a, n)| a == actor && n == note),
        "no {note:?} by {actor} in {lines:?}"
    );
}

/// No verification task reaches `w` (anything it already had is looked through too).
async fn never_asked_to_verify(w: &mut Worker) {
    while let Some(task) = w.task(QUIET).await {
        assert_ne!(task["purpose"], "verify", "{} got {task}", w.rid);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_resolver_is_never_asked_to_verify_another_inspector_is_with_note_and_snapshots() {
    let camera = rtsp::RtspServer::start(&rtsp::h264_launch(320, 240, 10), 0);
    let app = TestApp::spawn(&INSPECTED).await;
    app.zone("g1", "grid", (39.49, 106.69), (39.50, 106.70))
        .await;
    let (s, v) = app
        .post(
            "/api/v1/cameras",
            json!({"id": "cam1", "name": "北门", "lat": 39.4955, "lon": 106.6955, "stream_uri": camera.uri()}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    // w1 is an inspector too, and the nearest one: it still must not check its own work.
    let mut w1 = w1_by_the_camera(&app).await;
    make_inspector(&app, "w1").await;
    let mut i1 = inspector(&app, "i1", (39.4985, 106.6985)).await;

    let id = app
        .alert(json!({"id": "a1", "kind": "litter", "severity": 3, "camera_id": "cam1"}))
        .await;
    let task = offer(&mut w1).await;
    assert_eq!(task["purpose"], "respond");
    let snaps = common::wait_for("the snapshot of the alert", || async {
        let inc = app.incident(&id).await;
        (!inc["snapshots"].as_array()?.is_empty()).then(|| inc["snapshots"].clone())
    })
    .await;
    let url = snaps[0]["url"].as_str().unwrap().to_owned();
    take_and_resolve(&mut w1, &task, "垃圾已清运").await;

    let check = offer(&mut i1).await;
    assert_eq!(check["incident_id"], id.as_str(), "{check}");
    assert_eq!(check["purpose"], "verify", "{check}");
    assert_eq!(check["resolution_note"], "垃圾已清运", "{check}");
    assert_eq!(check["resolver_id"], "w1", "{check}");
    assert_eq!(check["snapshots"][0]["url"], url.as_str(), "{check}");
    // The inspector's phone opens the picture with its own login.
    let resp = app
        .http
        .get(format!("{}{url}", app.base))
        .basic_auth("i1", Some(&i1.password))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    never_asked_to_verify(&mut w1).await;
    assert_eq!(app.incident(&id).await["state"], "resolved");
    has_line(&app, &id, "dispatcher", "verification offered to i1").await;
}

#[tokio::test]
async fn rework_from_the_inspector_reaches_the_same_worker_and_verified_closes() {
    let app = TestApp::spawn(&INSPECTED).await;
    let mut w1 = w1_in_g1(&app).await;
    let mut i1 = inspector(&app, "i1", (39.4985, 106.6985)).await;
    let id = resolved_by(&app, &mut w1, "r1", "清理完毕").await;

    let check = offer(&mut i1).await;
    assert_eq!(
        (check["purpose"].as_str(), check["resolution_note"].as_str()),
        (Some("verify"), Some("清理完毕")),
        "{check}"
    );
    let check_id = tid(&check);
    // Taken first: the offer loses its deadline; the inspector goes to look.
    let (ok, a) = i1.update(&check_id, json!({"status": "accepted"})).await;
    assert!(ok, "{a}");
    // A rework needs a reason.
    for bad in [
        json!({"status": "rework"}),
        json!({"status": "rework", "note": "  "}),
    ] {
        let (ok, a) = i1.update(&check_id, bad.clone()).await;
        assert!(!ok, "{bad} was accepted: {a}");
        assert!(
            a["reason"].as_str().unwrap().contains("needs a reason"),
            "{a}"
        );
    }
    // Nor can an inspector report the worker's steps on a verification.
    let (ok, a) = i1.update(&check_id, json!({"status": "resolved"})).await;
    assert!(!ok, "{a}");
    assert_eq!(app.incident(&id).await["state"], "resolved");

    let (ok, a) = i1
        .update(
            &check_id,
            json!({"status": "rework", "note": "垃圾未清运完"}),
        )
        .await;
    assert!(ok, "{a}");
    assert_eq!(a["status"], "rework");
    let closed = i1.expect_closed(&check_id).await;
    assert_eq!(closed["reason"], "rework: 垃圾未清运完", "{closed}");
    i1.expect_cleared(&check_id).await;

    // Back to the same worker, as a rework with the inspector's reason.
    let again = offer(&mut w1).await;
    assert_eq!(again["incident_id"], id.as_str());
    assert_eq!(again["purpose"], "rework");
    assert_eq!(again["rework_reason"], "垃圾未清运完");
    let v = app.incident(&id).await;
    assert_eq!(
        (v["state"].as_str(), v["rework_count"].as_i64()),
        (Some("dispatching"), Some(1))
    );
    has_line(
        &app,
        &id,
        "responder:i1",
        "sent back for rework: 垃圾未清运完",
    )
    .await;

    // Done again: the inspector is asked again, with the new note, and verifies.
    take_and_resolve(&mut w1, &again, "已全部清运").await;
    let recheck = offer(&mut i1).await;
    assert_eq!(recheck["incident_id"], id.as_str());
    assert_eq!(recheck["resolution_note"], "已全部清运", "{recheck}");
    let (ok, a) = i1
        .update(
            &tid(&recheck),
            json!({"status": "verified", "note": "现场核实"}),
        )
        .await;
    assert!(ok, "{a}");
    assert_eq!(a["status"], "verified");
    let v = app.wait_state(&id, "closed").await;
    assert_eq!(v["rework_count"], 1);
    has_line(&app, &id, "responder:i1", "verified: 现场核实").await;
    // The verification leaves the inspector's inbox.
    i1.expect_cleared(&tid(&recheck)).await;
}

#[tokio::test]
async fn only_the_inspector_offered_the_verification_can_answer_it() {
    let app = TestApp::spawn(&INSPECTED).await;
    let mut w1 = w1_in_g1(&app).await;
    let mut i1 = inspector(&app, "i1", (39.4975, 106.6975)).await;
    let mut i2 = inspector(&app, "i2", (39.4995, 106.6995)).await;
    let id = resolved_by(&app, &mut w1, "o1", "done").await;
    // The nearest inspector gets it.
    let check = offer(&mut i1).await;
    let check_id = tid(&check);
    never_asked_to_verify(&mut i2).await;

    // Another inspector cannot publish on i1's task (the broker's ACL drops it) ...
    let before = common::metric(&app.metrics().await, "broker_publishes_denied_total");
    i2.c.publish(
        &format!("dispatch/i1/tasks/{check_id}/update"),
        json!({"status": "verified"}).to_string(),
    )
    .await;
    common::wait_metric(&app, "broker_publishes_denied_total", before + 1).await;
    // ... and answering it as its own is refused: the task is i1's.
    for who in [&mut i2, &mut w1] {
        let (ok, a) = who.update(&check_id, json!({"status": "verified"})).await;
        assert!(!ok, "{} verified i1's task: {a}", who.rid);
        assert!(
            a["reason"].as_str().unwrap().contains("another responder"),
            "{a}"
        );
    }
    tokio::time::sleep(QUIET).await;
    assert_eq!(app.incident(&id).await["state"], "resolved");

    // i1 declines: the next inspector gets it; the resolver still never does.
    let (ok, a) = i1
        .update(&check_id, json!({"status": "rejected", "note": "不在附近"}))
        .await;
    assert!(ok, "{a}");
    let next = offer(&mut i2).await;
    assert_eq!(
        (next["incident_id"].as_str(), next["purpose"].as_str()),
        (Some(id.as_str()), Some("verify"))
    );
    // i2 declines too: with no inspector left, the operators verify, as the timeline says.
    let (ok, a) = i2.update(&tid(&next), json!({"status": "rejected"})).await;
    assert!(ok, "{a}");
    common::wait_for("the hand-over to the operators", || async {
        let lines = timeline(&app, &id).await;
        lines
            .iter()
            .any(|(_, n)| n == "no inspector available; an operator verifies")
            .then_some(Value::Null)
    })
    .await;
    never_asked_to_verify(&mut w1).await;
    let (s, v) = app
        .post(&format!("/api/v1/incidents/{id}/verify"), json!({}))
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["state"], "closed");
}

#[tokio::test]
async fn a_verdict_answers_only_a_verification_task() {
    let app = TestApp::spawn(&INSPECTED).await;
    let mut w1 = w1_in_g1(&app).await;
    let id = app
        .alert(
            json!({"id": "x1", "kind": "litter", "severity": 3, "lat": 39.4951, "lon": 106.6951}),
        )
        .await;
    let task = offer(&mut w1).await;
    let (ok, a) = w1.update(&tid(&task), json!({"status": "accepted"})).await;
    assert!(ok, "{a}");
    // A worker cannot close its own job by calling it verified.
    let (ok, a) = w1.update(&tid(&task), json!({"status": "verified"})).await;
    assert!(!ok, "{a}");
    assert!(
        a["reason"]
            .as_str()
            .unwrap()
            .contains("only a verification task"),
        "{a}"
    );
    assert_eq!(app.incident(&id).await["state"], "assigned");
    // With no inspector at all, a resolution stays with the operators.
    let (ok, a) = w1.update(&tid(&task), json!({"status": "resolved"})).await;
    assert!(ok, "{a}");
    app.wait_state(&id, "resolved").await;
    has_line(
        &app,
        &id,
        "dispatcher",
        "no inspector available; an operator verifies",
    )
    .await;
}

#[tokio::test]
async fn an_operator_can_still_decide_and_the_inspectors_task_is_withdrawn() {
    let app = TestApp::spawn(&INSPECTED).await;
    let mut w1 = w1_in_g1(&app).await;
    let mut i1 = inspector(&app, "i1", (39.4985, 106.6985)).await;
    let id = resolved_by(&app, &mut w1, "p1", "清理完毕").await;
    let check = offer(&mut i1).await;
    let check_id = tid(&check);
    let (s, v) = app
        .post(
            &format!("/api/v1/incidents/{id}/rework"),
            json!({"reason": "照片不清楚"}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let closed = i1.expect_closed(&check_id).await;
    assert_eq!(
        (closed["status"].as_str(), closed["reason"].as_str()),
        (Some("withdrawn"), Some("sent back for rework")),
        "{closed}"
    );
    i1.expect_cleared(&check_id).await;
    // Too late for the inspector's verdict: the task is gone.
    let (ok, a) = i1.update(&check_id, json!({"status": "verified"})).await;
    assert!(!ok, "{a}");
    let again = offer(&mut w1).await;
    assert_eq!(again["rework_reason"], "照片不清楚");
    // Done again; this time the operator verifies before the inspector answers.
    take_and_resolve(&mut w1, &again, "重新清理").await;
    let recheck = offer(&mut i1).await;
    let (s, v) = app
        .post(&format!("/api/v1/incidents/{id}/verify"), json!({}))
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["state"], "closed");
    let closed = i1.expect_closed(&tid(&recheck)).await;
    assert_eq!(closed["status"], "withdrawn", "{closed}");
}

#[tokio::test]
async fn a_verification_nobody_answers_goes_to_the_next_inspector() {
    let app = TestApp::spawn(&[
        INSPECTED[0],
        ("GRIDDISPATCH__DISPATCH__ACK_TIMEOUT_SECS", "3"),
    ])
    .await;
    let mut w1 = w1_in_g1(&app).await;
    let mut i1 = inspector(&app, "i1", (39.4975, 106.6975)).await;
    let mut i2 = inspector(&app, "i2", (39.4995, 106.6995)).await;
    let id = resolved_by(&app, &mut w1, "t1", "done").await;
    let check = offer(&mut i1).await;
    // i1 lets it run out.
    let closed = i1.expect_closed(&tid(&check)).await;
    assert_eq!(closed["status"], "expired", "{closed}");
    let next = offer(&mut i2).await;
    assert_eq!(
        (next["incident_id"].as_str(), next["purpose"].as_str()),
        (Some(id.as_str()), Some("verify"))
    );
    assert_eq!(next["resolution_note"], "done", "{next}");
    has_line(&app, &id, "dispatcher", "verification offered to i2").await;
}
