//! Volunteer points (issue 15): earning on a verified close (caps, bonuses, rework,
//! cancellation, field reports), awards with two admins, and the accounts API; the
//! ledger's own guarantees are in `points_ledger`. After every scenario the ledger is
//! audited ([`assert_sound`]): all entries sum to zero, every account's balance is the sum
//! of its entries, no responder account or lot is below zero. Real app, real broker, real
//! database (SQLite or PostgreSQL).

use griddispatch::config::{PointsSettings, Settings};
use griddispatch::domain::Role;
use griddispatch::store::Store;
use serde_json::{json, Value};

use crate::common::{self, worker, TestApp, Worker};

pub(crate) fn store(app: &TestApp) -> Store {
    app.running.as_ref().unwrap().store.clone()
}

pub(crate) fn settings() -> PointsSettings {
    Settings::load_with_env(None, Vec::new()).unwrap().points
}

/// The ledger's invariants hold.
pub(crate) async fn assert_sound(store: &Store) {
    let problems = store.points_audit().await.unwrap();
    assert!(problems.is_empty(), "ledger audit: {problems:?}");
}

pub(crate) async fn account(app: &common::Api, rid: &str) -> Value {
    app.get(&format!("/api/v1/points/accounts/{rid}")).await
}

pub(crate) async fn history(app: &common::Api, rid: &str) -> Vec<Value> {
    app.get(&format!("/api/v1/points/accounts/{rid}/history"))
        .await
        .as_array()
        .unwrap()
        .clone()
}

/// The next new offer to `w`.
async fn offer(w: &mut Worker) -> Value {
    loop {
        let task = w.expect_task().await;
        if task["status"] == "offered" {
            return task;
        }
    }
}

/// An alert `body` that `w` takes and resolves; returns (incident id, task id).
async fn resolve(app: &common::Api, w: &mut Worker, body: Value) -> (String, String) {
    let id = app.alert(body).await;
    let task = offer(w).await;
    assert_eq!(task["incident_id"], id);
    let tid = task["task_id"].as_str().unwrap().to_owned();
    for status in ["accepted", "resolved"] {
        let (ok, a) = w.update(&tid, json!({"status": status})).await;
        assert!(ok, "{a}");
    }
    app.wait_state(&id, "resolved").await;
    (id, tid)
}

async fn act(app: &common::Api, id: &str, action: &str, body: Value) {
    let (s, v) = app
        .post(&format!("/api/v1/incidents/{id}/{action}"), body)
        .await;
    assert_eq!(s, 200, "{action}: {v}");
}

/// Zones g1 (volunteer v1) and g2 (grid worker w1), side by side.
async fn v1_and_w1(app: &common::Api) -> (Worker, Worker) {
    app.zone("g1", "grid", (39.49, 106.69), (39.50, 106.70))
        .await;
    app.zone("g2", "grid", (39.49, 106.70), (39.50, 106.71))
        .await;
    let v1 = worker(
        app,
        "v1",
        "volunteer",
        "foot",
        Some("g1"),
        (39.4950, 106.6950),
    )
    .await;
    let w1 = worker(
        app,
        "w1",
        "grid_worker",
        "foot",
        Some("g2"),
        (39.4950, 106.7050),
    )
    .await;
    (v1, w1)
}

fn litter(id: &str, lon: f64) -> Value {
    json!({"id": id, "kind": "litter", "severity": 3, "lat": 39.4951, "lon": lon})
}

#[tokio::test]
async fn a_volunteer_earns_when_the_work_is_verified_a_grid_worker_and_a_cancelled_case_do_not() {
    let app = TestApp::spawn(&[]).await;
    let (mut v1, mut w1) = v1_and_w1(&app).await;
    let (id, _) = resolve(&app, &mut v1, litter("p1", 106.6951)).await;
    // Resolved but not yet verified: nothing yet.
    assert_eq!(account(&app, "v1").await["balance"], 0);
    act(&app, &id, "verify", json!({})).await;
    let a = account(&app, "v1").await;
    // litter at severity 3 by the default rule [20, 15, 10, 5].
    assert_eq!(
        (a["balance"].as_i64(), a["earned_total"].as_i64()),
        (Some(10), Some(10))
    );
    assert_eq!(a["reserved"], 0);
    let h = history(&app, "v1").await;
    assert_eq!(h.len(), 1, "{h:?}");
    assert_eq!(h[0]["kind"], "earn");
    assert_eq!(h[0]["change"], 10);
    assert_eq!(h[0]["cause"]["type"], "incident");
    assert_eq!(h[0]["cause"]["id"], id.as_str());
    assert_eq!(h[0]["cause"]["kind"], "litter");
    // The grid worker does the same and earns nothing (not an earning kind).
    let (wid, _) = resolve(&app, &mut w1, litter("p2", 106.7051)).await;
    act(&app, &wid, "verify", json!({})).await;
    assert_eq!(account(&app, "w1").await["balance"], 0);
    assert!(history(&app, "w1").await.is_empty());
    // A cancelled case earns nothing, even after its task was accepted.
    let cid = app.alert(litter("p3", 106.6952)).await;
    let task = offer(&mut v1).await;
    let (ok, a) = v1
        .update(
            task["task_id"].as_str().unwrap(),
            json!({"status": "accepted"}),
        )
        .await;
    assert!(ok, "{a}");
    act(&app, &cid, "cancel", json!({})).await;
    // The ledger lists the one earning with its entries; the county issued it.
    let ledger = app.get("/api/v1/points/ledger?account=responder:v1").await;
    let ledger = ledger.as_array().unwrap();
    assert_eq!(ledger.len(), 1, "{ledger:?}");
    assert_eq!(ledger[0]["idempotency_key"], format!("earn:{id}:v1"));
    let entries = ledger[0]["entries"].as_array().unwrap();
    let sum: i64 = entries.iter().map(|e| e["amount"].as_i64().unwrap()).sum();
    assert_eq!(sum, 0);
    assert!(entries
        .iter()
        .any(|e| e["account"] == "county" && e["amount"] == -10));
    // Without filters, and by period (days at reports.utc_offset).
    let all = app.get("/api/v1/points/ledger").await;
    assert_eq!(all.as_array().unwrap().len(), 1);
    // Tomorrow (UTC) as the last day included covers now at any offset east of UTC.
    let tomorrow = (chrono::Utc::now() + chrono::Duration::days(1))
        .format("%Y-%m-%d")
        .to_string();
    let within = app
        .get(&format!(
            "/api/v1/points/ledger?from=2020-01-01&to={tomorrow}"
        ))
        .await;
    assert_eq!(within.as_array().unwrap().len(), 1);
    let before = app
        .get("/api/v1/points/ledger?from=2020-01-01&to=2020-12-31")
        .await;
    assert!(before.as_array().unwrap().is_empty());
    let (s, _) = app
        .call(
            reqwest::Method::GET,
            "/api/v1/points/ledger?from=yesterday",
            Some(&app.token),
            None,
        )
        .await;
    assert_eq!(s, 422);
    assert_eq!(account(&app, "v1").await["balance"], 10);
    assert_eq!(store(&app).points_balance("county").await.unwrap(), -10);
    assert_sound(&store(&app)).await;
}

#[tokio::test]
async fn rework_earns_once_when_finally_verified() {
    let app = TestApp::spawn(&[]).await;
    let (mut v1, _w1) = v1_and_w1(&app).await;
    let (id, _) = resolve(&app, &mut v1, litter("r1", 106.6951)).await;
    act(&app, &id, "rework", json!({"reason": "没扫干净"})).await;
    assert_eq!(account(&app, "v1").await["balance"], 0);
    let task = offer(&mut v1).await;
    assert_eq!(task["purpose"], "rework");
    let tid = task["task_id"].as_str().unwrap();
    for status in ["accepted", "resolved"] {
        let (ok, a) = v1.update(tid, json!({"status": status})).await;
        assert!(ok, "{a}");
    }
    app.wait_state(&id, "resolved").await;
    act(&app, &id, "verify", json!({})).await;
    let a = account(&app, "v1").await;
    assert_eq!(a["earned_total"], 10, "{a}");
    assert_eq!(history(&app, "v1").await.len(), 1);
    assert_sound(&store(&app)).await;
}

/// Work that was sent back earned nothing: when its worker declines the rework and another
/// finishes, only the one who finished is credited.
#[tokio::test]
async fn work_sent_back_earns_only_for_whoever_finishes_it() {
    let app = TestApp::spawn(&[]).await;
    let (mut v1, _w1) = v1_and_w1(&app).await;
    let (id, _) = resolve(&app, &mut v1, litter("r2", 106.6951)).await;
    let mut v2 = worker(
        &app,
        "v2",
        "volunteer",
        "foot",
        Some("g1"),
        (39.4958, 106.6958),
    )
    .await;
    act(&app, &id, "rework", json!({"reason": "没扫干净"})).await;
    let task = offer(&mut v1).await;
    assert_eq!(task["purpose"], "rework");
    let (ok, a) = v1
        .update(
            task["task_id"].as_str().unwrap(),
            json!({"status": "rejected"}),
        )
        .await;
    assert!(ok, "{a}");
    let task = offer(&mut v2).await;
    assert_eq!(task["incident_id"], id);
    let tid = task["task_id"].as_str().unwrap();
    for status in ["accepted", "resolved"] {
        let (ok, a) = v2.update(tid, json!({"status": status})).await;
        assert!(ok, "{a}");
    }
    app.wait_state(&id, "resolved").await;
    act(&app, &id, "verify", json!({})).await;
    assert_eq!(account(&app, "v2").await["earned_total"], 10);
    let a = account(&app, "v1").await;
    assert_eq!(a["earned_total"], 0, "{a}");
    assert!(history(&app, "v1").await.is_empty());
    assert_sound(&store(&app)).await;
}

#[tokio::test]
async fn the_monthly_cap_cuts_what_is_credited_but_keeps_the_record() {
    let app = TestApp::spawn(&[("GRIDDISPATCH__POINTS__MONTHLY_CAP", "15")]).await;
    let (mut v1, _w1) = v1_and_w1(&app).await;
    for (n, alert) in ["c1", "c2", "c3"].iter().enumerate() {
        let (id, _) = resolve(&app, &mut v1, litter(alert, 106.6951 + n as f64 * 1e-4)).await;
        act(&app, &id, "verify", json!({})).await;
    }
    let a = account(&app, "v1").await;
    assert_eq!(
        (a["balance"].as_i64(), a["earned_total"].as_i64()),
        (Some(15), Some(15))
    );
    // Three deeds on record: 10, then 5 of 10, then 0 of 10.
    let h = history(&app, "v1").await;
    let mut credited: Vec<i64> = h.iter().map(|l| l["points"].as_i64().unwrap()).collect();
    credited.sort();
    assert_eq!(credited, vec![0, 5, 10], "{h:?}");
    assert!(h
        .iter()
        .any(|l| l["note"].as_str().unwrap_or("").contains("cap reached")));
    assert_sound(&store(&app)).await;
}

#[tokio::test]
async fn a_guidance_task_earns_the_bonus_and_grid_workers_earn_when_configured() {
    let app = TestApp::spawn(&[
        (
            "GRIDDISPATCH__POINTS__EARNING_KINDS",
            "volunteer,grid_worker",
        ),
        // Guidance closes at once on resolution: verification `none` earns too.
        ("GRIDDISPATCH__VERIFICATION__KINDS__GUIDANCE", "none"),
    ])
    .await;
    let (_v1, mut w1) = v1_and_w1(&app).await;
    let id = app
        .alert(json!({
            "id": "g1", "kind": "guidance", "severity": 2, "lat": 39.4951, "lon": 106.7051,
            "rendezvous": {"lat": 39.4955, "lon": 106.7055, "note": "北门接救护车"}
        }))
        .await;
    let task = offer(&mut w1).await;
    assert_eq!(task["incident_id"], id);
    let tid = task["task_id"].as_str().unwrap();
    for status in ["accepted", "resolved"] {
        let (ok, a) = w1.update(tid, json!({"status": status})).await;
        assert!(ok, "{a}");
    }
    app.wait_state(&id, "closed").await;
    // Severity 2 by the default rule (15) plus the guidance bonus (10).
    let a = common::wait_for("the guidance points", || async {
        let a = account(&app, "w1").await;
        (a["balance"] == 25).then_some(a)
    })
    .await;
    assert_eq!(a["earned_total"], 25);
    assert_sound(&store(&app)).await;
}

#[tokio::test]
async fn awards_need_a_second_admin_above_the_threshold() {
    let app = TestApp::spawn(&[]).await;
    app.responder("v1", "volunteer", "foot", None).await;
    let award = |points: i64| json!({"responder_id": "v1", "points": points, "reason": "带路救人"});
    // At most award_approval_above (50): approved and credited at once.
    let (s, v) = app.post("/api/v1/points/awards", award(30)).await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["state"], "approved");
    assert_eq!(account(&app, "v1").await["balance"], 30);
    // Above it: pending, nothing credited.
    let (s, v) = app.post("/api/v1/points/awards", award(80)).await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["state"], "pending");
    let id = v["id"].as_str().unwrap().to_owned();
    assert_eq!(account(&app, "v1").await["balance"], 30);
    assert_eq!(
        app.get("/api/v1/points/awards")
            .await
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let pending = app.get("/api/v1/points/awards?state=pending").await;
    assert_eq!(pending.as_array().unwrap().len(), 1);
    assert_eq!(pending[0]["id"], id.as_str());
    // The proposer cannot approve it; an operator cannot award or approve at all.
    let path = format!("/api/v1/points/awards/{id}/approve");
    let (s, v) = app.post(&path, json!({})).await;
    assert_eq!(s, 403, "{v}");
    let operator = app.token(Role::Operator).await;
    let post = |token: String, path: String, body: Value| {
        let app = &app;
        async move {
            app.call(reqwest::Method::POST, &path, Some(&token), Some(body))
                .await
        }
    };
    let (s, _) = post(operator.clone(), path.clone(), json!({})).await;
    assert_eq!(s, 403);
    let (s, _) = post(operator, "/api/v1/points/awards".into(), award(5)).await;
    assert_eq!(s, 403);
    // Another admin approves, once.
    let second = app.token(Role::Admin).await;
    let (s, v) = post(second.clone(), path.clone(), json!({})).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["state"], "approved");
    assert_eq!(v["approved_by"], "admin:t");
    let (s, _) = post(second, path, json!({})).await;
    assert_eq!(s, 409);
    let a = account(&app, "v1").await;
    assert_eq!(
        (a["balance"].as_i64(), a["awarded_total"].as_i64()),
        (Some(110), Some(110))
    );
    let h = history(&app, "v1").await;
    assert!(h
        .iter()
        .all(|l| l["cause"]["type"] == "award" && l["cause"]["reason"] == "带路救人"));
    // Bad input: 422; an unknown responder or award: 404.
    for bad in [
        award(0),
        award(-5),
        json!({"responder_id": "v1", "points": 5, "reason": " "}),
    ] {
        let (s, v) = app.post("/api/v1/points/awards", bad.clone()).await;
        assert_eq!(s, 422, "{bad}: {v}");
    }
    let (s, _) = app
        .post(
            "/api/v1/points/awards",
            json!({"responder_id": "nobody", "points": 5, "reason": "x"}),
        )
        .await;
    assert_eq!(s, 404);
    let (s, _) = app
        .post("/api/v1/points/awards/aw-nope/approve", json!({}))
        .await;
    assert_eq!(s, 404);
    assert!(app
        .get("/api/v1/points/awards?state=pending")
        .await
        .as_array()
        .unwrap()
        .is_empty());
    assert_sound(&store(&app)).await;
}

/// A large award split into small ones still needs a second admin: one admin alone credits
/// at most `award_approval_above` (50) within a day, all awards together.
#[tokio::test]
async fn small_awards_by_one_admin_add_up_to_the_threshold_within_a_day() {
    let app = TestApp::spawn(&[]).await;
    app.responder("v1", "volunteer", "foot", None).await;
    app.responder("v2", "volunteer", "foot", None).await;
    let award =
        |rid: &str, points: i64| json!({"responder_id": rid, "points": points, "reason": "清雪"});
    for (rid, points, state) in [
        ("v1", 30, "approved"),
        ("v2", 20, "approved"),
        ("v1", 5, "pending"),
        ("v2", 1, "pending"),
    ] {
        let (s, v) = app.post("/api/v1/points/awards", award(rid, points)).await;
        assert_eq!(
            (s, v["state"].as_str()),
            (201, Some(state)),
            "{rid} {points}: {v}"
        );
    }
    assert_eq!(account(&app, "v1").await["balance"], 30);
    assert_eq!(account(&app, "v2").await["balance"], 20);
    // Another admin has an allowance of its own.
    let second = app.token(Role::Admin).await;
    let (s, v) = app
        .call(
            reqwest::Method::POST,
            "/api/v1/points/awards",
            Some(&second),
            Some(award("v1", 10)),
        )
        .await;
    assert_eq!((s, v["state"].as_str()), (201, Some("approved")), "{v}");
    assert_eq!(account(&app, "v1").await["balance"], 40);
    assert_sound(&store(&app)).await;
}

#[tokio::test]
async fn a_phone_sees_its_own_account_only() {
    let app = TestApp::spawn(&[]).await;
    let pw1 = app.responder("v1", "volunteer", "foot", None).await;
    app.responder("v2", "volunteer", "foot", None).await;
    let get = |path: &str, user: &str, pw: &str| {
        app.http
            .get(format!("{}{path}", app.base))
            .basic_auth(user.to_owned(), Some(pw.to_owned()))
            .send()
    };
    let r = get("/api/v1/points/accounts/v1", "v1", &pw1).await.unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        (v["responder_id"].as_str(), v["balance"].as_i64()),
        (Some("v1"), Some(0))
    );
    let r = get("/api/v1/points/accounts/v1/history", "v1", &pw1)
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = get("/api/v1/points/accounts/v2", "v1", &pw1).await.unwrap();
    assert_eq!(r.status(), 404);
    let r = get("/api/v1/points/accounts/v1", "v1", "wrong")
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = app
        .http
        .get(format!("{}/api/v1/points/accounts/v1", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let (s, _) = app
        .call(
            reqwest::Method::GET,
            "/api/v1/points/accounts/nobody",
            Some(&app.token),
            None,
        )
        .await;
    assert_eq!(s, 404);
    assert_sound(&store(&app)).await;
}

#[tokio::test]
async fn responders_keep_a_real_name_and_a_checked_phone() {
    let app = TestApp::spawn(&[]).await;
    let (s, v) = app
        .post(
            "/api/v1/responders",
            json!({"id": "v9", "name": "小王", "kind": "volunteer", "travel": "foot",
                   "real_name": "王小明", "phone": "+86 138-0000-0000"}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["real_name"], "王小明");
    assert_eq!(v["phone"], "+86 138-0000-0000");
    for bad in [
        "call me",
        "+86 138<script>",
        "12345678901234567890123456789012345",
    ] {
        let (s, v) = app
            .call(
                reqwest::Method::PATCH,
                "/api/v1/responders/v9",
                Some(&app.token),
                Some(json!({"phone": bad})),
            )
            .await;
        assert_eq!(s, 422, "{bad}: {v}");
    }
    let (s, v) = app
        .call(
            reqwest::Method::PATCH,
            "/api/v1/responders/v9",
            Some(&app.token),
            Some(json!({"phone": null, "real_name": "王明"})),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let v = app.get("/api/v1/responders/v9").await;
    assert_eq!(
        (v["real_name"].as_str(), v["phone"].as_str()),
        (Some("王明"), None)
    );
    assert_sound(&store(&app)).await;
}

/// POSTs a report from the phone of `w` (its MQTT login as HTTP Basic); the incident id.
async fn field_report(app: &common::Api, w: &Worker, request_id: &str, lon: f64) -> String {
    let resp = app
        .http
        .post(format!("{}/api/v1/field/reports", app.base))
        .basic_auth(&w.rid, Some(&w.password))
        .json(&json!({"request_id": request_id, "kind": "litter", "lat": 39.4951, "lon": lon}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 202);
    let v: Value = resp.json().await.unwrap();
    v["incident_id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn the_reporter_of_a_verified_field_report_earns_the_report_bonus() {
    let app = TestApp::spawn(&[]).await;
    let (mut v1, _w1) = v1_and_w1(&app).await;
    // v2 reports from the field app (随手拍): the alert's source is `field:v2`.
    let v2 = worker(&app, "v2", "volunteer", "foot", None, (39.4960, 106.6960)).await;
    let id = field_report(&app, &v2, "rep-1", 106.6951).await;
    let task = offer(&mut v1).await;
    assert_eq!(task["incident_id"], id.as_str());
    let tid = task["task_id"].as_str().unwrap();
    for status in ["accepted", "resolved"] {
        let (ok, a) = v1.update(tid, json!({"status": status})).await;
        assert!(ok, "{a}");
    }
    app.wait_state(&id, "resolved").await;
    assert_eq!(account(&app, "v2").await["balance"], 0);
    act(&app, &id, "verify", json!({})).await;
    let a = account(&app, "v2").await;
    assert_eq!(
        (a["balance"].as_i64(), a["earned_total"].as_i64()),
        (Some(5), Some(5))
    );
    let h = history(&app, "v2").await;
    assert_eq!(h[0]["idempotency_key"], format!("report:{id}:v2"));
    assert_eq!(h[0]["cause"]["id"], id.as_str());
    assert_eq!(account(&app, "v1").await["balance"], 10);
    // A report cancelled as false earns nothing.
    let false_report = field_report(&app, &v2, "rep-2", 106.6953).await;
    act(&app, &false_report, "cancel", json!({"note": "误报"})).await;
    assert_eq!(account(&app, "v2").await["earned_total"], 5);
    assert_sound(&store(&app)).await;
}

#[tokio::test]
async fn an_operators_close_earns_only_resolved_work() {
    let app = TestApp::spawn(&[]).await;
    let (mut v1, _w1) = v1_and_w1(&app).await;
    // Closed while only accepted: the work was never done, nothing is earned.
    let id = app.alert(litter("k1", 106.6951)).await;
    let task = offer(&mut v1).await;
    assert_eq!(task["incident_id"], id);
    let (ok, a) = v1
        .update(
            task["task_id"].as_str().unwrap(),
            json!({"status": "accepted"}),
        )
        .await;
    assert!(ok, "{a}");
    app.wait_state(&id, "assigned").await;
    act(&app, &id, "close", json!({})).await;
    assert_eq!(account(&app, "v1").await["earned_total"], 0);
    // Closed after it was resolved: the close finds the work good, and it earns.
    let (id, _) = resolve(&app, &mut v1, litter("k2", 106.6952)).await;
    act(&app, &id, "close", json!({})).await;
    assert_eq!(account(&app, "v1").await["earned_total"], 10);
    assert_sound(&store(&app)).await;
}

#[tokio::test]
async fn an_inspectors_verification_credits_the_worker_not_the_inspector() {
    let app = TestApp::spawn(&[("GRIDDISPATCH__VERIFICATION__DEFAULT", "inspector")]).await;
    let (mut v1, _w1) = v1_and_w1(&app).await;
    // i1 is a volunteer too, with the skill `inspector`: checking is not a deed of its own.
    let mut i1 = worker(&app, "i1", "volunteer", "foot", None, (39.4985, 106.6985)).await;
    let (s, v) = app
        .call(
            reqwest::Method::PATCH,
            "/api/v1/responders/i1",
            Some(&app.token),
            Some(json!({"skills": ["inspector"]})),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let (id, _) = resolve(&app, &mut v1, litter("i1", 106.6951)).await;
    let check = offer(&mut i1).await;
    assert_eq!(
        (check["incident_id"].as_str(), check["purpose"].as_str()),
        (Some(id.as_str()), Some("verify"))
    );
    let (ok, a) = i1
        .update(
            check["task_id"].as_str().unwrap(),
            json!({"status": "verified"}),
        )
        .await;
    assert!(ok, "{a}");
    app.wait_state(&id, "closed").await;
    assert_eq!(account(&app, "v1").await["earned_total"], 10);
    assert_eq!(account(&app, "i1").await["earned_total"], 0);
    assert_sound(&store(&app)).await;
}
