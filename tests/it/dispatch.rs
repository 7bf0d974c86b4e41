//! Dispatch rules, end to end: real app, real embedded broker, real SQLite, workers as
//! real MQTT clients.

use crate::common;
use std::time::Duration;

use crate::common::{first_and_second, worker, TestApp, Worker};
use serde_json::json;

/// g1 and g2 are adjacent grids; the beat covers both.
async fn county(app: &common::Api) {
    app.zone("g1", "grid", (39.49, 106.69), (39.50, 106.70))
        .await;
    app.zone("g2", "grid", (39.50, 106.69), (39.51, 106.70))
        .await;
    app.zone("beat", "beat", (39.48, 106.68), (39.52, 106.72))
        .await;
}

const QUIET: Duration = Duration::from_millis(400);

#[tokio::test]
async fn nearest_worker_of_the_incidents_zone_gets_the_task() {
    let app = TestApp::spawn(&[]).await;
    county(&app).await;
    let mut near_in = worker(
        &app,
        "in-near",
        "grid_worker",
        "foot",
        Some("g1"),
        (39.4970, 106.695),
    )
    .await;
    let mut far_in = worker(
        &app,
        "in-far",
        "grid_worker",
        "foot",
        Some("g1"),
        (39.4910, 106.695),
    )
    .await;
    // Closer to the incident, but from the neighbouring grid and not faster by > 120 s.
    let mut outsider = worker(
        &app,
        "out",
        "grid_worker",
        "foot",
        Some("g2"),
        (39.5005, 106.695),
    )
    .await;

    let id = app.alert(json!({"id":"a1","kind":"medical","severity":2,"lat":39.4990,"lon":106.695,"address":"新华小区 3-2-501"})).await;
    let task = near_in.expect_task().await;
    assert_eq!(task["incident_id"], id);
    assert_eq!(task["status"], "offered");
    assert_eq!(task["version"], 1);
    assert_eq!(task["zone_id"], "g1");
    assert_eq!(task["address"], "新华小区 3-2-501");
    assert_eq!(task["location"], json!({"lat": 39.4990, "lon": 106.695}));
    assert!(task["respond_by"].as_str().is_some() && task["offered_at"].as_str().is_some());
    assert!(far_in.task(QUIET).await.is_none());
    assert!(outsider.task(QUIET).await.is_none());

    let inc = app.incident(&id).await;
    assert_eq!(inc["state"], "dispatching");
    assert_eq!(inc["zone_id"], "g1");
    let metrics = app.metrics().await;
    for line in [
        "griddispatch_incidents_open 1",
        "griddispatch_offers_outstanding 1",
        "griddispatch_tasks_active 0",
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "{line} missing in\n{metrics}"
        );
    }
    assert_eq!(inc["tasks"][0]["responder_id"], "in-near");
}

#[tokio::test]
async fn a_much_faster_outsider_beats_zone_preference() {
    let app = TestApp::spawn(&[]).await;
    county(&app).await;
    // The grid's own worker walks 1.5 km (~23 min); a patrol car is 300 m away (~47 s).
    let mut insider = worker(
        &app,
        "insider",
        "grid_worker",
        "foot",
        Some("g1"),
        (39.4950, 106.6775),
    )
    .await;
    let mut car = worker(&app, "car", "patrol", "car", None, (39.4977, 106.695)).await;
    app.alert(json!({"id":"a1","kind":"medical","severity":2,"lat":39.4950,"lon":106.695}))
        .await;
    assert_eq!(car.expect_task().await["status"], "offered");
    assert!(insider.task(QUIET).await.is_none());
}

#[tokio::test]
async fn stale_and_off_duty_workers_are_skipped() {
    let app = TestApp::spawn(&[]).await;
    county(&app).await;
    let pw = app
        .responder("stale", "grid_worker", "foot", Some("g1"))
        .await;
    let mut stale = Worker::connect(&app, "stale", &pw).await;
    let old = chrono::Utc::now().timestamp() - 400; // older than location_max_age_secs = 300
    stale.locate_at(39.4951, 106.6951, old).await;
    app.wait_fix("stale", old).await;
    let mut off = worker(
        &app,
        "off",
        "grid_worker",
        "foot",
        Some("g1"),
        (39.4952, 106.6952),
    )
    .await;
    let (s, _) = app
        .call(
            reqwest::Method::PATCH,
            "/api/v1/responders/off",
            Some(&app.token),
            Some(json!({"on_duty": false})),
        )
        .await;
    assert_eq!(s, 200);
    let mut fresh = worker(
        &app,
        "fresh",
        "grid_worker",
        "foot",
        Some("g1"),
        (39.4930, 106.6930),
    )
    .await;

    app.alert(json!({"id":"a1","kind":"fall","severity":2,"lat":39.4950,"lon":106.695}))
        .await;
    assert!(fresh.task(Duration::from_secs(5)).await.is_some());
    assert!(stale.task(QUIET).await.is_none());
    assert!(off.task(QUIET).await.is_none());
}

#[tokio::test]
async fn no_answer_in_time_goes_to_the_next_candidate() {
    let app = TestApp::spawn(&[("GRIDDISPATCH__DISPATCH__ACK_TIMEOUT_SECS", "1")]).await;
    county(&app).await;
    let (mut first, mut second) = first_and_second(&app, ("first", "second")).await;
    let id = app
        .alert(json!({"id":"a1","kind":"medical","severity":2,"lat":39.4951,"lon":106.6951}))
        .await;
    let t1 = first.expect_task().await;
    // Nobody answers: after 1 s the offer is taken back, with a notice saying why just
    // before the inbox entry is cleared, and the next worker gets one.
    let tid1 = t1["task_id"].as_str().unwrap();
    let closed = first.expect_closed(tid1).await;
    assert_eq!(closed["status"], "expired", "{closed}");
    assert_eq!(closed["reason"], "no answer in time", "{closed}");
    assert_eq!(closed["incident_id"], t1["incident_id"], "{closed}");
    first.expect_cleared(tid1).await;
    let t2 = second.expect_task().await;
    assert_ne!(t1["task_id"], t2["task_id"]);
    let inc = app.incident(&id).await;
    assert_eq!(inc["tasks"][0]["status"], "expired");
    assert_eq!(inc["tasks"][1]["status"], "offered");
    // A late accept of the expired offer is refused.
    let (ok, answer) = first
        .update(
            t1["task_id"].as_str().unwrap(),
            json!({"status":"accepted"}),
        )
        .await;
    assert!(!ok, "{answer}");
}

#[tokio::test]
async fn a_rejection_goes_to_the_next_candidate() {
    let app = TestApp::spawn(&[]).await;
    county(&app).await;
    let (mut first, mut second) = first_and_second(&app, ("first", "second")).await;
    let id = app
        .alert(json!({"id":"a1","kind":"medical","severity":3,"lat":39.4951,"lon":106.6951}))
        .await;
    let t1 = first.expect_task().await;
    let tid = t1["task_id"].as_str().unwrap();
    let (ok, answer) = first
        .update(
            tid,
            json!({"status":"rejected","version":1,"note":"在处理另一件事"}),
        )
        .await;
    assert!(ok, "{answer}");
    assert_eq!(answer["status"], "rejected");
    first.expect_cleared(tid).await;
    let t2 = second.expect_task().await;
    assert_eq!(t2["incident_id"], id);
    let inc = app.incident(&id).await;
    assert_eq!(inc["tasks"][0]["note"], "在处理另一件事");
}

#[tokio::test]
async fn max_offers_then_escalated_and_no_candidate_escalates_at_once() {
    let app = TestApp::spawn(&[("GRIDDISPATCH__DISPATCH__MAX_OFFERS", "2")]).await;
    county(&app).await;
    let mut ws = Vec::new();
    for (i, lat) in [39.4950, 39.4940, 39.4930].iter().enumerate() {
        ws.push(
            worker(
                &app,
                &format!("w{i}"),
                "grid_worker",
                "foot",
                Some("g1"),
                (*lat, 106.6950),
            )
            .await,
        );
    }
    let id = app
        .alert(json!({"id":"a1","kind":"medical","severity":3,"lat":39.4951,"lon":106.6950}))
        .await;
    for w in ws.iter_mut().take(2) {
        let t = w.expect_task().await;
        let (ok, _) = w
            .update(t["task_id"].as_str().unwrap(), json!({"status":"rejected"}))
            .await;
        assert!(ok);
    }
    let inc = app.wait_state(&id, "escalated").await;
    assert_eq!(inc["offers_made"], 2);
    assert!(
        ws[2].task(QUIET).await.is_none(),
        "a third offer was made past max_offers"
    );
    let timeline = app.get(&format!("/api/v1/incidents/{id}/timeline")).await;
    let last = &timeline.as_array().unwrap().last().unwrap();
    assert_eq!(last["to"], "escalated");
    assert!(last["note"].as_str().unwrap().contains("2 offers"));

    // Patrols only for a fight, and there are none: escalated straight away.
    let fight = app
        .alert(json!({"id":"a2","kind":"fight","severity":2,"lat":39.4951,"lon":106.6950}))
        .await;
    app.wait_state(&fight, "escalated").await;
}

#[tokio::test]
async fn severity_one_goes_to_the_best_two_and_the_first_accept_wins() {
    let app = TestApp::spawn(&[]).await;
    county(&app).await;
    let mut a = worker(
        &app,
        "a",
        "grid_worker",
        "foot",
        Some("g1"),
        (39.4950, 106.6950),
    )
    .await;
    let mut b = worker(
        &app,
        "b",
        "grid_worker",
        "foot",
        Some("g1"),
        (39.4940, 106.6950),
    )
    .await;
    let mut c = worker(
        &app,
        "c",
        "grid_worker",
        "foot",
        Some("g1"),
        (39.4910, 106.6950),
    )
    .await;
    let id = app
        .alert(json!({"id":"a1","kind":"medical","severity":1,"lat":39.4951,"lon":106.6950}))
        .await;
    let ta = a.expect_task().await;
    let tb = b.expect_task().await;
    assert!(c.task(QUIET).await.is_none());
    let (ok, answer) = b
        .update(
            tb["task_id"].as_str().unwrap(),
            json!({"status":"accepted","version":1}),
        )
        .await;
    assert!(ok, "{answer}");
    assert_eq!(answer["version"], 2);
    a.expect_cleared(ta["task_id"].as_str().unwrap()).await;
    let (ok, answer) = a
        .update(
            ta["task_id"].as_str().unwrap(),
            json!({"status":"accepted","version":1}),
        )
        .await;
    assert!(!ok, "the second accept must lose: {answer}");
    let inc = app.wait_state(&id, "assigned").await;
    let statuses: Vec<_> = inc["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["responder_id"].clone(), t["status"].clone()))
        .collect();
    assert!(
        statuses.contains(&(json!("b"), json!("accepted"))),
        "{statuses:?}"
    );
    assert!(
        statuses.contains(&(json!("a"), json!("withdrawn"))),
        "{statuses:?}"
    );
}

#[tokio::test]
async fn nearby_alerts_of_the_same_kind_join_one_incident() {
    let app = TestApp::spawn(&[]).await;
    county(&app).await;
    let first = app
        .alert(json!({"id":"a1","kind":"fire","severity":2,"lat":39.4950,"lon":106.6950}))
        .await;
    // ~90 m away, same kind: same incident, and the more urgent severity wins.
    let second = app
        .alert(json!({"id":"a2","kind":"fire","severity":1,"lat":39.4958,"lon":106.6950}))
        .await;
    assert_eq!(first, second);
    // Same place, other kind: a new incident. Same kind 1 km away: new incident.
    let flood = app
        .alert(json!({"id":"a3","kind":"flood","severity":3,"lat":39.4950,"lon":106.6950}))
        .await;
    let far = app
        .alert(json!({"id":"a4","kind":"fire","severity":2,"lat":39.5050,"lon":106.6950}))
        .await;
    assert_ne!(flood, first);
    assert_ne!(far, first);
    let inc = app.incident(&first).await;
    assert_eq!(inc["alerts"].as_array().unwrap().len(), 2);
    assert_eq!(inc["severity"], 1);
}

#[tokio::test]
async fn the_same_alert_id_twice_is_one_alert() {
    let app = TestApp::spawn(&[]).await;
    county(&app).await;
    let body = json!({"id":"dup-1","kind":"medical","severity":2,"lat":39.4950,"lon":106.6950});
    let (s1, v1) = app.post("/api/v1/alerts", body.clone()).await;
    let (s2, v2) = app.post("/api/v1/alerts", body).await;
    assert_eq!((s1, s2), (202, 202));
    assert_eq!(v1["alert_id"], v2["alert_id"]);
    assert_eq!(v2["duplicate"], true);

    // Over MQTT from a source, also twice.
    let (user, pass) = app.source("sensor-1").await;
    let src =
        common::Client::connect(&app.mqtt_host, app.mqtt_port, "sensor-1", &user, &pass).await;
    let alert =
        json!({"id":"m-1","kind":"flood","severity":3,"lat":39.5050,"lon":106.6950}).to_string();
    src.publish("alerts/sensor-1", alert.clone()).await;
    src.publish("alerts/sensor-1", alert).await;
    let inc = common::wait_for("the flood incident", || async {
        let list = app.get("/api/v1/incidents?state=open").await;
        let found = list
            .as_array()?
            .iter()
            .find(|i| i["kind"] == "flood")?
            .clone();
        Some(found["id"].clone())
    })
    .await;
    let inc = inc.as_str().unwrap().to_owned();
    tokio::time::sleep(QUIET).await;
    assert_eq!(
        app.incident(&inc).await["alerts"].as_array().unwrap().len(),
        1
    );
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("griddispatch_alerts_duplicate_total 2"),
        "{metrics}"
    );
}

#[tokio::test]
async fn guidance_the_nearest_grid_worker_meets_the_ambulance_at_the_gate() {
    // An elderly resident collapsed in building 7; the ambulance cannot find the flat.
    // The community's grid worker nearest the north gate is sent to meet it there.
    let app = TestApp::spawn(&[]).await;
    county(&app).await;
    let gate = (39.4998, 106.6950);
    let flat = (39.4920, 106.6980);
    let mut near_gate = worker(
        &app,
        "wang-li",
        "grid_worker",
        "foot",
        Some("g1"),
        (39.4990, 106.6952),
    )
    .await;
    // Nearer the flat, but the job is at the gate.
    let mut near_flat = worker(
        &app,
        "zhao-min",
        "grid_worker",
        "foot",
        Some("g1"),
        (39.4921, 106.6979),
    )
    .await;
    let id = app
        .alert(json!({
            "id": "call-0042", "kind": "guidance", "severity": 2,
            "lat": flat.0, "lon": flat.1,
            "address": "幸福社区 7号楼 2单元 401",
            "description": "老人晕倒，救护车找不到楼栋 / Elderly resident collapsed; ambulance cannot find the building",
            "rendezvous": {"lat": gate.0, "lon": gate.1, "note": "北门接救护车并带路 / meet the ambulance at the north gate and lead it in"}
        }))
        .await;
    let task = near_gate.expect_task().await;
    assert_eq!(task["incident_id"], id);
    assert_eq!(task["location"], json!({"lat": flat.0, "lon": flat.1}));
    assert_eq!(task["rendezvous"]["lat"], gate.0);
    assert_eq!(task["rendezvous"]["lon"], gate.1);
    assert!(task["rendezvous"]["note"]
        .as_str()
        .unwrap()
        .contains("北门"));
    assert!(near_flat.task(QUIET).await.is_none());
    let tid = task["task_id"].as_str().unwrap();
    let mut v = 1;
    for status in ["accepted", "en_route", "on_scene", "resolved"] {
        let (ok, answer) = near_gate
            .update(
                tid,
                json!({"status": status, "version": v, "note": "已带救护车到楼下"}),
            )
            .await;
        assert!(ok, "{status}: {answer}");
        v = answer["version"].as_i64().unwrap();
    }
    near_gate.expect_cleared(tid).await;
    app.wait_state(&id, "resolved").await;
    let (s, closed) = app
        .post(
            &format!("/api/v1/incidents/{id}/close"),
            json!({"note":"患者已送医"}),
        )
        .await;
    assert_eq!(s, 200, "{closed}");
    assert_eq!(closed["state"], "closed");
    let states: Vec<String> = app
        .get(&format!("/api/v1/incidents/{id}/timeline"))
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["to"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        states,
        [
            "new",
            "dispatching",
            "assigned",
            "en_route",
            "on_scene",
            "resolved",
            "closed"
        ]
    );
    // The steps' times are kept on the incident for the reports, in order, credited to
    // the worker who resolved it and to the source that reported it.
    let store = &app.running.as_ref().unwrap().store;
    let m = store.incident(&id).await.unwrap().milestones;
    let times = [
        m.first_offer_at,
        m.accepted_at,
        m.on_scene_at,
        m.resolved_at,
        m.ended_at,
    ];
    assert!(times.iter().all(Option::is_some), "{m:?}");
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{m:?}");
    assert_eq!(m.resolver_id.as_deref(), Some("wang-li"));
    assert_eq!(m.source_id.as_deref(), Some("api"));
    assert_eq!(m.escalation_count, 0);
    let tasks = store.tasks_of(&id).await.unwrap();
    assert!(tasks[0]
        .accepted_at
        .is_some_and(|t| t >= tasks[0].offered_at));
}

#[tokio::test]
async fn illegal_transitions_and_stale_versions_are_refused() {
    let app = TestApp::spawn(&[]).await;
    county(&app).await;
    let mut w = worker(
        &app,
        "w",
        "grid_worker",
        "foot",
        Some("g1"),
        (39.4950, 106.6950),
    )
    .await;
    let id = app
        .alert(json!({"id":"a1","kind":"medical","severity":3,"lat":39.4951,"lon":106.6950}))
        .await;
    let t = w.expect_task().await;
    let tid = t["task_id"].as_str().unwrap();
    let (ok, a) = w.update(tid, json!({"status":"resolved"})).await;
    assert!(!ok);
    assert!(
        a["reason"]
            .as_str()
            .unwrap()
            .contains("offered to resolved"),
        "{a}"
    );
    let (ok, a) = w
        .update(tid, json!({"status":"accepted","version":7}))
        .await;
    assert!(!ok);
    assert!(a["reason"].as_str().unwrap().contains("stale"), "{a}");
    let (ok, _) = w
        .update(tid, json!({"status":"accepted","version":1}))
        .await;
    assert!(ok);
    let (ok, a) = w
        .update(tid, json!({"status":"rejected","version":2}))
        .await;
    assert!(!ok, "{a}");
    let (ok, _) = w.update("no-such-task", json!({"status":"accepted"})).await;
    assert!(!ok);
    assert_eq!(app.incident(&id).await["state"], "assigned");
}

#[tokio::test]
async fn a_reconnecting_phone_sees_exactly_its_open_tasks() {
    let app = TestApp::spawn(&[]).await;
    county(&app).await;
    let mut w = worker(
        &app,
        "w",
        "grid_worker",
        "foot",
        Some("g1"),
        (39.4950, 106.6950),
    )
    .await;
    let pw = w.password.clone();
    app.alert(json!({"id":"a1","kind":"medical","severity":3,"lat":39.4951,"lon":106.6950}))
        .await;
    let t = w.expect_task().await;
    drop(w);
    // The phone comes back: the retained inbox holds the task.
    let mut w = Worker::connect(&app, "w", &pw).await;
    let again = w.expect_task().await;
    assert_eq!(again["task_id"], t["task_id"]);
    let tid = t["task_id"].as_str().unwrap();
    for (status, v) in [("accepted", 1), ("resolved", 2)] {
        let (ok, a) = w.update(tid, json!({"status": status, "version": v})).await;
        assert!(ok, "{a}");
    }
    w.expect_cleared(tid).await;
    drop(w);
    let mut w = Worker::connect(&app, "w", &pw).await;
    assert!(
        w.task(QUIET).await.is_none(),
        "a finished task is still in the inbox"
    );
}

#[tokio::test]
async fn operators_assign_cancel_and_close() {
    let app = TestApp::spawn(&[]).await;
    county(&app).await;
    let mut a = worker(
        &app,
        "a",
        "grid_worker",
        "foot",
        Some("g1"),
        (39.4950, 106.6950),
    )
    .await;
    let mut b = worker(
        &app,
        "b",
        "grid_worker",
        "bike",
        Some("g2"),
        (39.5050, 106.6950),
    )
    .await;
    let id = app
        .alert(json!({"id":"a1","kind":"medical","severity":3,"lat":39.4951,"lon":106.6950}))
        .await;
    let ta = a.expect_task().await;
    let op = app.token(griddispatch::domain::Role::Operator).await;
    let cands = app
        .call(
            reqwest::Method::GET,
            &format!("/api/v1/incidents/{id}/candidates"),
            Some(&op),
            None,
        )
        .await
        .1;
    assert_eq!(
        cands[0]["responder_id"], "b",
        "a holds the offer, so b is the only candidate: {cands}"
    );
    let (s, v) = app
        .call(
            reqwest::Method::POST,
            &format!("/api/v1/incidents/{id}/assign"),
            Some(&op),
            Some(json!({"responder_id":"b","note":"b knows the building"})),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    a.expect_cleared(ta["task_id"].as_str().unwrap()).await;
    let tb = b.expect_task().await;
    assert_eq!(tb["incident_id"], id);
    // Two operators at once: the second assign of a busy responder is refused.
    let (s, _) = app
        .call(
            reqwest::Method::POST,
            &format!("/api/v1/incidents/{id}/assign"),
            Some(&op),
            Some(json!({"responder_id":"b"})),
        )
        .await;
    assert_eq!(s, 409);
    let (s, v) = app
        .call(
            reqwest::Method::POST,
            &format!("/api/v1/incidents/{id}/cancel"),
            Some(&op),
            None,
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["state"], "cancelled");
    b.expect_cleared(tb["task_id"].as_str().unwrap()).await;
    let (s, _) = app
        .call(
            reqwest::Method::POST,
            &format!("/api/v1/incidents/{id}/close"),
            Some(&op),
            None,
        )
        .await;
    assert_eq!(s, 409);
    let (s, _) = app
        .call(
            reqwest::Method::POST,
            "/api/v1/incidents/nope/close",
            Some(&op),
            None,
        )
        .await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn deleting_a_responder_with_an_offer_moves_the_incident_on() {
    let app = TestApp::spawn(&[]).await;
    county(&app).await;
    let mut gone = worker(
        &app,
        "gone",
        "grid_worker",
        "foot",
        Some("g1"),
        (39.4950, 106.6950),
    )
    .await;
    let mut next = worker(
        &app,
        "next",
        "grid_worker",
        "foot",
        Some("g1"),
        (39.4930, 106.6930),
    )
    .await;
    let id = app
        .alert(json!({"id":"a1","kind":"medical","severity":3,"lat":39.4951,"lon":106.6951}))
        .await;
    let t = gone.expect_task().await;
    let (s, _) = app
        .call(
            reqwest::Method::DELETE,
            "/api/v1/responders/gone",
            Some(&app.token),
            None,
        )
        .await;
    assert_eq!(s, 204);
    gone.expect_cleared(t["task_id"].as_str().unwrap()).await;
    assert_eq!(next.expect_task().await["incident_id"], id);
    let inc = app.incident(&id).await;
    assert_eq!(inc["tasks"][0]["status"], "withdrawn");
    assert_eq!(inc["tasks"][0]["note"], "responder deleted");
}

/// A phone that did not hear the answer to its update (a broker restart, a lost
/// connection) sends it again: it hears what the original got, and nothing happens twice.
#[tokio::test]
async fn a_replayed_update_gets_the_original_answer_and_changes_nothing() {
    let app = TestApp::spawn(&[]).await;
    county(&app).await;
    let (mut first, mut second) = first_and_second(&app, ("first", "second")).await;
    let id = app
        .alert(json!({"id":"a1","kind":"medical","severity":3,"lat":39.4951,"lon":106.6951}))
        .await;
    let t = first.expect_task().await;
    let tid = t["task_id"].as_str().unwrap().to_owned();
    let accept = json!({"status":"accepted","version":1});
    let (ok, original) = first.update(&tid, accept.clone()).await;
    assert!(ok, "{original}");
    let (ok, again) = first.update(&tid, accept).await;
    assert!(ok, "a replayed accept was refused: {again}");
    assert_eq!(again, original);
    let inc = app.incident(&id).await;
    assert_eq!(inc["state"], "assigned");
    assert_eq!(inc["tasks"][0]["version"], original["version"], "{inc}");
    let timeline = app.get(&format!("/api/v1/incidents/{id}/timeline")).await;
    let assigned = timeline
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["to"] == "assigned")
        .count();
    assert_eq!(assigned, 1, "the accept was applied twice: {timeline}");

    // An update that ends the task: its replay finds the task gone, and still hears the
    // original answer.
    let v = original["version"].as_i64().unwrap();
    let resolve = json!({"status":"resolved","version":v,"note":"处理完毕"});
    let (ok, original) = first.update(&tid, resolve.clone()).await;
    assert!(ok, "{original}");
    let (ok, again) = first.update(&tid, resolve).await;
    assert!(ok, "a replayed resolution was refused: {again}");
    assert_eq!(again, original);

    // Another worker sending the same update is not a replay.
    let (ok, other) = second
        .update(&tid, json!({"status":"resolved","version":v}))
        .await;
    assert!(!ok, "{other}");
    // Nor is a status the task never went through.
    let (ok, other) = first
        .update(&tid, json!({"status":"rejected","version":v}))
        .await;
    assert!(!ok, "{other}");
}
