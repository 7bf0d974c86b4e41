//! The closed loop after "resolved" (issue 14): an operator verifies or sends the work back
//! for rework to the worker who did it; `none` closes at once; suspension withdraws the
//! work and resuming offers it again; a worker asks for more time over MQTT and an
//! operator decides. Real app, real embedded broker, workers as real MQTT clients.

use std::time::Duration;

use serde_json::{json, Value};

use crate::common::{self, worker, TestApp, Worker};

const QUIET: Duration = Duration::from_millis(400);

/// Zone g1 and worker w1 in it, on duty beside the alerts below.
async fn w1_in_g1(app: &common::Api) -> Worker {
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

/// An alert of `kind` that `w` takes; returns (incident id, task id) with the task accepted.
async fn accepted(app: &common::Api, w: &mut Worker, alert: &str, kind: &str) -> (String, String) {
    let id = app
        .alert(json!({"id": alert, "kind": kind, "severity": 3, "lat": 39.4951, "lon": 106.6951}))
        .await;
    let task = offer(w).await;
    assert_eq!(task["incident_id"], id);
    assert_eq!(task["purpose"], "respond");
    let tid = task["task_id"].as_str().unwrap().to_owned();
    let (ok, a) = w.update(&tid, json!({"status": "accepted"})).await;
    assert!(ok, "{a}");
    (id, tid)
}

/// As [`accepted`], then resolved by `w` with a note.
async fn resolved(app: &common::Api, w: &mut Worker, alert: &str, kind: &str) -> String {
    let (id, tid) = accepted(app, w, alert, kind).await;
    let (ok, a) = w
        .update(&tid, json!({"status": "resolved", "note": "清理完毕"}))
        .await;
    assert!(ok, "{a}");
    id
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

async fn act(app: &common::Api, id: &str, action: &str, body: Value) -> (u16, Value) {
    app.post(&format!("/api/v1/incidents/{id}/{action}"), body)
        .await
}

async fn timeline_notes(app: &common::Api, id: &str) -> Vec<String> {
    let lines = app.get(&format!("/api/v1/incidents/{id}/timeline")).await;
    lines
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["note"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// The timeline's events (codes with parameters), oldest first; `null` for none.
async fn timeline_events(app: &common::Api, id: &str) -> Vec<Value> {
    let lines = app.get(&format!("/api/v1/incidents/{id}/timeline")).await;
    lines
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["event"].clone())
        .collect()
}

#[tokio::test]
async fn an_operator_verifies_a_resolution_and_it_closes() {
    let app = TestApp::spawn(&[]).await;
    let mut w1 = w1_in_g1(&app).await;
    let id = resolved(&app, &mut w1, "v1", "litter").await;
    // It waits for the operators.
    tokio::time::sleep(QUIET).await;
    assert_eq!(app.incident(&id).await["state"], "resolved");
    let (s, v) = act(&app, &id, "verify", json!({"note": "现场核实"})).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["state"], "closed");
    assert!(timeline_notes(&app, &id)
        .await
        .contains(&"verified: 现场核实".to_owned()));
    // Each line also says what happened as a code, for the pages to word it in Chinese.
    let events = timeline_events(&app, &id).await;
    assert_eq!(events[0], json!({"code": "alert_opened", "alert": "v1"}));
    assert!(
        events.contains(&json!({"code": "offered", "responders": ["w1"]})),
        "{events:?}"
    );
    assert!(
        events.contains(&json!({"code": "accepted", "responder": "w1"})),
        "{events:?}"
    );
    assert_eq!(
        events.last(),
        Some(&json!({"code": "verified", "note": "现场核实"}))
    );
    // Once closed, nothing more: 409; an unknown incident: 404.
    let (s, _) = act(&app, &id, "verify", json!({})).await;
    assert_eq!(s, 409);
    let (s, _) = act(&app, &id, "rework", json!({"reason": "x"})).await;
    assert_eq!(s, 409);
    let (s, _) = act(&app, "inc-nope", "verify", json!({})).await;
    assert_eq!(s, 404);
    let (s, _) = act(&app, "inc-nope", "resume", json!({})).await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn rework_goes_back_to_the_worker_who_resolved_it_with_the_reason() {
    let app = TestApp::spawn(&[]).await;
    let mut w1 = w1_in_g1(&app).await;
    let id = resolved(&app, &mut w1, "r1", "litter").await;
    // A worker nearer than w1 now: the rework still goes to w1, who did the work.
    let mut near = worker(
        &app,
        "near",
        "grid_worker",
        "foot",
        Some("g1"),
        (39.4951, 106.6951),
    )
    .await;
    for bad in [json!({}), json!({"reason": "  "}), json!({"why": "x"})] {
        let (s, v) = act(&app, &id, "rework", bad.clone()).await;
        assert_eq!(s, 422, "{bad}: {v}");
    }
    let (s, v) = act(&app, &id, "rework", json!({"reason": "垃圾未清运完"})).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["state"], "dispatching");
    assert_eq!(v["rework_count"], 1);
    let task = offer(&mut w1).await;
    assert_eq!(task["incident_id"], id);
    assert_eq!(task["purpose"], "rework");
    assert_eq!(task["rework_reason"], "垃圾未清运完");
    assert!(near.task(QUIET).await.is_none());
    let notes = timeline_notes(&app, &id).await;
    assert!(
        notes.contains(&"sent back for rework: 垃圾未清运完".to_owned()),
        "{notes:?}"
    );
    assert!(
        notes.iter().any(|n| n.starts_with("rework offered to w1")),
        "{notes:?}"
    );
    let events = timeline_events(&app, &id).await;
    let rework = json!({"code": "rework", "reason": "垃圾未清运完"});
    let offered = json!({"code": "rework_offered", "responder": "w1"});
    assert!(
        events.contains(&rework) && events.contains(&offered),
        "{events:?}"
    );
    // Done again, then verified.
    let tid = task["task_id"].as_str().unwrap();
    for status in ["accepted", "resolved"] {
        let (ok, a) = w1.update(tid, json!({"status": status})).await;
        assert!(ok, "{a}");
    }
    app.wait_state(&id, "resolved").await;
    let (s, v) = act(&app, &id, "verify", json!({})).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        (v["state"].as_str(), v["rework_count"].as_i64()),
        (Some("closed"), Some(1))
    );
}

#[tokio::test]
async fn a_rejected_rework_goes_on_to_the_next_candidate() {
    let app = TestApp::spawn(&[]).await;
    let mut w1 = w1_in_g1(&app).await;
    let id = resolved(&app, &mut w1, "r2", "litter").await;
    let mut other = worker(
        &app,
        "other",
        "grid_worker",
        "foot",
        Some("g1"),
        (39.4940, 106.6940),
    )
    .await;
    let (s, v) = act(&app, &id, "rework", json!({"reason": "not clean"})).await;
    assert_eq!(s, 200, "{v}");
    let task = offer(&mut w1).await;
    let (ok, a) = w1
        .update(
            task["task_id"].as_str().unwrap(),
            json!({"status": "rejected"}),
        )
        .await;
    assert!(ok, "{a}");
    let next = offer(&mut other).await;
    assert_eq!(next["incident_id"], id);
    assert_eq!(next["purpose"], "respond");
}

#[tokio::test]
async fn with_verification_none_a_resolution_closes_at_once() {
    let app = TestApp::spawn(&[
        ("GRIDDISPATCH__VERIFICATION__DEFAULT", "operator"),
        ("GRIDDISPATCH__VERIFICATION__KINDS__LITTER", "none"),
    ])
    .await;
    let mut w1 = w1_in_g1(&app).await;
    let id = resolved(&app, &mut w1, "n1", "litter").await;
    let v = app.wait_state(&id, "closed").await;
    assert_eq!(v["rework_count"], 0);
    let notes = timeline_notes(&app, &id).await;
    assert!(
        notes.iter().any(|n| n.starts_with("closed at once")),
        "{notes:?}"
    );
    // Another kind still waits for an operator.
    let other = resolved(&app, &mut w1, "n2", "medical").await;
    tokio::time::sleep(QUIET).await;
    assert_eq!(app.incident(&other).await["state"], "resolved");
}

#[tokio::test]
async fn a_suspension_withdraws_the_work_and_resuming_offers_it_again() {
    let app = TestApp::spawn(&[]).await;
    let mut w1 = w1_in_g1(&app).await;
    let (id, tid) = accepted(&app, &mut w1, "s1", "litter").await;
    let (s, v) = act(&app, &id, "suspend", json!({"note": "等待业主"})).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["state"], "suspended");
    assert_eq!(v["suspension_count"], 1);
    assert!(v["suspended_at"].is_string(), "{v}");
    let closed = w1.expect_closed(&tid).await;
    assert_eq!(closed["status"], "withdrawn");
    assert_eq!(closed["reason"], "incident suspended");
    w1.expect_cleared(&tid).await;
    // Not twice, and no verification of unresolved work.
    let (s, _) = act(&app, &id, "suspend", json!({})).await;
    assert_eq!(s, 409);
    let (s, _) = act(&app, &id, "verify", json!({})).await;
    assert_eq!(s, 409);
    let (s, v) = act(&app, &id, "resume", json!({})).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["state"], "dispatching");
    assert!(v["suspended_at"].is_null(), "{v}");
    let again = offer(&mut w1).await;
    assert_eq!(again["incident_id"], id);
    assert_ne!(again["task_id"], tid.as_str());
    let (s, _) = act(&app, &id, "resume", json!({})).await;
    assert_eq!(s, 409);
    // A resolved incident is not suspended.
    let (ok, a) = w1
        .update(
            again["task_id"].as_str().unwrap(),
            json!({"status": "accepted"}),
        )
        .await;
    assert!(ok, "{a}");
    let (ok, a) = w1
        .update(
            again["task_id"].as_str().unwrap(),
            json!({"status": "resolved"}),
        )
        .await;
    assert!(ok, "{a}");
    app.wait_state(&id, "resolved").await;
    let (s, _) = act(&app, &id, "suspend", json!({})).await;
    assert_eq!(s, 409);
}

/// The next verdict on `tid`'s extension request.
async fn extension_answer(w: &mut Worker, tid: &str) -> Value {
    let topic = format!("dispatch/{}/tasks/{tid}/extension/answer", w.rid);
    let (_, p) =
        w.c.next_where(common::WAIT, |t, _| t == topic)
            .await
            .expect("an extension answer");
    serde_json::from_slice(&p).unwrap()
}

#[tokio::test]
async fn a_worker_asks_for_more_time_and_an_operator_decides() {
    let app = TestApp::spawn(&[]).await;
    let mut w1 = w1_in_g1(&app).await;
    let (id, tid) = accepted(&app, &mut w1, "e1", "litter").await;
    let topic = format!("dispatch/w1/tasks/{tid}/extension");
    // Nothing pending yet.
    let (s, _) = act(&app, &id, "extension", json!({"approve": true})).await;
    assert_eq!(s, 409);
    // Out of bounds: a dead letter, nothing kept.
    w1.c.publish(&topic, json!({"minutes": 0, "reason": "x"}).to_string())
        .await;
    w1.c.publish(&topic, json!({"minutes": 30, "reason": ""}).to_string())
        .await;
    w1.c.publish(
        &topic,
        json!({"minutes": 30, "reason": "等待配件"}).to_string(),
    )
    .await;
    let v = common::wait_for("the extension request", || async {
        let v = app.incident(&id).await;
        (!v["extension_request"].is_null()).then_some(v)
    })
    .await;
    let req = &v["extension_request"];
    assert_eq!(
        (req["minutes"].as_i64(), req["reason"].as_str()),
        (Some(30), Some("等待配件"))
    );
    assert_eq!(
        (req["task_id"].as_str(), req["responder_id"].as_str()),
        (Some(tid.as_str()), Some("w1"))
    );
    // One at a time: a second is refused at once.
    w1.c.publish(
        &topic,
        json!({"minutes": 60, "reason": "again"}).to_string(),
    )
    .await;
    let refused = extension_answer(&mut w1, &tid).await;
    assert_eq!(refused["approved"], false);
    assert!(
        refused["note"]
            .as_str()
            .unwrap()
            .contains("already pending"),
        "{refused}"
    );
    for bad in [
        json!({}),
        json!({"approve": true, "minutes": 0}),
        json!({"approve": true, "minutes": 10081}),
    ] {
        let (s, v) = act(&app, &id, "extension", bad.clone()).await;
        assert_eq!(s, 422, "{bad}: {v}");
    }
    let (s, v) = act(
        &app,
        &id,
        "extension",
        json!({"approve": true, "note": "同意"}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["extension_count"], 1);
    assert!(v["extension_request"].is_null(), "{v}");
    let answer = extension_answer(&mut w1, &tid).await;
    assert_eq!(answer["approved"], true);
    assert_eq!(answer["minutes"], 30);
    assert_eq!(answer["note"], "同意");
    let (s, _) = act(&app, &id, "extension", json!({"approve": false})).await;
    assert_eq!(s, 409);
    // Asked again, refused by the operator.
    w1.c.publish(&topic, json!({"minutes": 15, "reason": "下雨"}).to_string())
        .await;
    common::wait_for("the second request", || async {
        let v = app.incident(&id).await;
        (!v["extension_request"].is_null()).then_some(v)
    })
    .await;
    let (s, v) = act(
        &app,
        &id,
        "extension",
        json!({"approve": false, "note": "不可"}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["extension_count"], 1);
    let answer = extension_answer(&mut w1, &tid).await;
    assert_eq!(
        (answer["approved"].as_bool(), answer["minutes"].as_i64()),
        (Some(false), Some(0))
    );
    let notes = timeline_notes(&app, &id).await;
    for want in [
        "w1 asks for 30 more minutes: 等待配件",
        "extension of 30 min for w1 approved: 同意",
        "extension for w1 refused: 不可",
    ] {
        assert!(
            notes.contains(&want.to_owned()),
            "{want} missing in {notes:?}"
        );
    }
    let letters = app.get("/api/v1/dead-letters").await;
    let bad = letters
        .as_array()
        .map(|l| l.iter().filter(|d| d["topic"] == topic.as_str()).count());
    assert_eq!(bad, Some(2), "{letters}");
}
