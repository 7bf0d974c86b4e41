//! The audit log answers "what was it before, what is it now" for every kind of thing the
//! API changes (issue 17): responders, sources, cameras, users and operator actions on
//! incidents, each read back through `GET /api/v1/audit` as an admin would.

use crate::common::{self, Api, TestApp};
use griddispatch::domain::Role;
use reqwest::Method;
use serde_json::{json, Value};

/// The entries about one thing, newest first.
async fn entries(app: &Api, kind: &str, id: &str) -> Vec<Value> {
    let v = app
        .get(&format!(
            "/api/v1/audit?target_kind={kind}&target_id={id}&limit=500"
        ))
        .await;
    v.as_array().expect("a list").clone()
}

/// The newest entry about `kind`/`id` with `action`.
async fn entry(app: &Api, kind: &str, id: &str, action: &str) -> Value {
    let all = entries(app, kind, id).await;
    all.iter()
        .find(|e| e["action"] == action)
        .unwrap_or_else(|| panic!("no {action} entry for {kind}/{id} in {all:?}"))
        .clone()
}

/// The whole log as text, as an admin would download it.
async fn whole_log(app: &Api) -> String {
    let (s, text) = app
        .call(Method::GET, "/api/v1/audit.csv", Some(&app.token), None)
        .await;
    assert_eq!(s, 200);
    let list = app.get("/api/v1/audit?limit=500").await;
    format!("{text}\n{list}")
}

#[tokio::test]
async fn a_responder_change_shows_the_old_and_new_values_and_resets_show_no_password() {
    let app = TestApp::spawn(&[]).await;
    let first_pw = app.responder("r1", "grid_worker", "foot", None).await;
    let (s, v) = app
        .call(
            Method::PATCH,
            "/api/v1/responders/r1",
            Some(&app.token),
            Some(json!({"name": "Li Wei", "on_duty": false, "phone": "+86 139 0000 0000"})),
        )
        .await;
    assert_eq!(s, 200, "{v}");

    let created = entry(&app, "responders", "r1", "responders.create").await;
    assert_eq!(created["actor"], "admin:test-admin");
    assert_eq!(created["after"]["name"], "r1");
    assert!(created["before"].is_null());
    let changed = entry(&app, "responders", "r1", "responders.update").await;
    assert_eq!(changed["actor"], "admin:test-admin");
    assert_eq!(changed["status"], 200);
    assert_eq!(changed["before"]["name"], "r1");
    assert_eq!(changed["before"]["on_duty"], true);
    assert!(changed["before"]["phone"].is_null());
    assert_eq!(changed["after"]["name"], "Li Wei");
    assert_eq!(changed["after"]["on_duty"], false);
    assert_eq!(changed["after"]["phone"], "+86 139 0000 0000");

    let (s, v) = app
        .post("/api/v1/responders/r1/reset-password", json!({}))
        .await;
    assert_eq!(s, 200, "{v}");
    let new_pw = v["mqtt"]["password"].as_str().unwrap().to_owned();
    let reset = entry(&app, "responders", "r1", "responders.reset-password").await;
    assert_eq!(reset["actor"], "admin:test-admin");
    assert_eq!(reset["before"]["mqtt_username"], "r1");
    assert_eq!(reset["after"]["credential"], "reset");

    let (_, source_pw) = app.source("s1").await;
    let (s, v) = app
        .post("/api/v1/sources/s1/reset-password", json!({}))
        .await;
    assert_eq!(s, 200, "{v}");
    let source_new_pw = v["mqtt"]["password"].as_str().unwrap().to_owned();
    let created = entry(&app, "sources", "s1", "sources.create").await;
    assert_eq!(created["after"], json!({"id": "s1", "name": "s1"}));
    let reset = entry(&app, "sources", "s1", "sources.reset-password").await;
    assert_eq!(reset["after"]["credential"], "reset");

    let log = whole_log(&app).await;
    for pw in [&first_pw, &new_pw, &source_pw, &source_new_pw] {
        assert!(
            !log.contains(pw.as_str()),
            "an MQTT password reached the audit log"
        );
    }

    let (s, _) = app
        .call(
            Method::DELETE,
            "/api/v1/responders/r1",
            Some(&app.token),
            None,
        )
        .await;
    assert_eq!(s, 204);
    let deleted = entry(&app, "responders", "r1", "responders.delete").await;
    assert_eq!(deleted["before"]["name"], "Li Wei");
    assert!(deleted["after"].is_null());
}

#[tokio::test]
async fn a_camera_change_and_an_import_show_each_camera_before_and_after() {
    let app = TestApp::spawn(&[]).await;
    let (s, v) = app
        .post(
            "/api/v1/cameras",
            json!({"id": "gate", "name": "North gate", "lat": 39.495, "lon": 106.695,
                   "stream_uri": "rtsp://admin:s3cr3t-cam@10.0.0.5:554/main"}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let (s, v) = app
        .call(
            Method::PATCH,
            "/api/v1/cameras/gate",
            Some(&app.token),
            Some(json!({"name": "North gate (moved)", "lat": 39.496})),
        )
        .await;
    assert_eq!(s, 200, "{v}");

    let created = entry(&app, "cameras", "gate", "cameras.create").await;
    assert_eq!(created["after"]["name"], "North gate");
    let changed = entry(&app, "cameras", "gate", "cameras.update").await;
    assert_eq!(changed["actor"], "admin:test-admin");
    assert_eq!(changed["before"]["name"], "North gate");
    assert_eq!(changed["before"]["lat"], 39.495);
    assert_eq!(changed["after"]["name"], "North gate (moved)");
    assert_eq!(changed["after"]["lat"], 39.496);
    // Where the stream is, without the login it carries.
    assert_eq!(changed["after"]["stream_uri"], "rtsp://…@10.0.0.5:554/main");

    let csv = "id,name,lat,lon\ngate,Main gate,39.496,106.695\nyard,Yard,39.497,106.696\n";
    let r = app
        .http
        .post(format!("{}/api/v1/cameras/import", app.base))
        .bearer_auth(&app.token)
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let imported = entry(&app, "cameras", "gate", "cameras.import").await;
    assert_eq!(imported["before"]["name"], "North gate (moved)");
    assert_eq!(imported["after"]["name"], "Main gate");
    assert!(imported["after"]["stream_uri"].is_null());
    let new = entry(&app, "cameras", "yard", "cameras.import").await;
    assert!(new["before"].is_null());
    assert_eq!(new["after"]["name"], "Yard");

    let (s, _) = app
        .call(
            Method::DELETE,
            "/api/v1/cameras/yard",
            Some(&app.token),
            None,
        )
        .await;
    assert_eq!(s, 204);
    let deleted = entry(&app, "cameras", "yard", "cameras.delete").await;
    assert_eq!(deleted["before"]["name"], "Yard");

    assert!(
        !whole_log(&app).await.contains("s3cr3t-cam"),
        "a camera's stream password reached the audit log"
    );
}

#[tokio::test]
async fn a_user_change_shows_the_old_and_new_role_and_never_the_password() {
    let app = TestApp::spawn(&[]).await;
    let first = "first-pass-Zq8#kw";
    let second = "second-pass-Jm4$tr";
    let (s, v) = app
        .post(
            "/api/v1/users",
            json!({"username": "clerk", "password": first, "role": "viewer"}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let (s, v) = app
        .call(
            Method::PATCH,
            "/api/v1/users/clerk",
            Some(&app.token),
            Some(json!({"role": "operator", "password": second, "disabled": true})),
        )
        .await;
    assert_eq!(s, 200, "{v}");

    let created = entry(&app, "users", "clerk", "users.create").await;
    assert_eq!(created["actor"], "admin:test-admin");
    assert_eq!(created["after"]["username"], "clerk");
    assert_eq!(created["after"]["role"], "viewer");
    let changed = entry(&app, "users", "clerk", "users.update").await;
    assert_eq!(changed["actor"], "admin:test-admin");
    assert_eq!(changed["before"]["role"], "viewer");
    assert_eq!(changed["before"]["disabled"], false);
    assert_eq!(changed["after"]["role"], "operator");
    assert_eq!(changed["after"]["disabled"], true);
    assert_eq!(changed["after"]["credential"], "changed");
    assert!(changed["before"].get("credential").is_none());

    let (s, _) = app
        .call(
            Method::DELETE,
            "/api/v1/users/clerk",
            Some(&app.token),
            None,
        )
        .await;
    assert_eq!(s, 204);
    let deleted = entry(&app, "users", "clerk", "users.delete").await;
    assert_eq!(deleted["before"]["role"], "operator");

    let log = whole_log(&app).await;
    assert!(
        !log.contains(first) && !log.contains(second),
        "a user's password reached the audit log"
    );
    assert!(!log.contains("argon2"), "a password hash reached the log");
}

#[tokio::test]
async fn an_operator_action_shows_who_had_the_incident_before_and_after() {
    let app = TestApp::spawn(&[]).await;
    app.zone("g1", "grid", (39.49, 106.69), (39.50, 106.70))
        .await;
    let (mut a, mut b) = common::first_and_second(&app, ("a", "b")).await;
    let id = app
        .alert(json!({"id":"a1","kind":"medical","severity":3,"lat":39.4951,"lon":106.6951}))
        .await;
    let ta = a.expect_task().await;
    let op = app.token(Role::Operator).await;
    let (s, v) = app
        .call(
            Method::POST,
            &format!("/api/v1/incidents/{id}/assign"),
            Some(&op),
            Some(json!({"responder_id": "b", "note": "b knows the building"})),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    a.expect_cleared(ta["task_id"].as_str().unwrap()).await;
    b.expect_task().await;

    let assigned = entry(&app, "incidents", &id, "incidents.assign").await;
    assert_eq!(assigned["actor"], "operator:t");
    assert_eq!(assigned["role"], "operator");
    assert_eq!(assigned["before"]["id"], id.as_str());
    let holders = |v: &Value| -> Vec<String> {
        v["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["responder_id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(holders(&assigned["before"]), ["a"], "{assigned}");
    assert_eq!(holders(&assigned["after"]), ["b"], "{assigned}");
    assert_eq!(assigned["detail"]["responder_id"], "b");

    let (s, v) = app
        .call(
            Method::POST,
            &format!("/api/v1/incidents/{id}/suspend"),
            Some(&op),
            Some(json!({"note": "road closed"})),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let suspended = entry(&app, "incidents", &id, "incidents.suspend").await;
    assert_ne!(suspended["before"]["state"], "suspended");
    assert_eq!(suspended["before"]["suspension_count"], 0);
    assert_eq!(suspended["after"]["state"], "suspended");
    assert_eq!(suspended["after"]["suspension_count"], 1);
    assert!(suspended["after"]["suspended_at"].is_string());

    let (s, v) = app
        .call(
            Method::POST,
            &format!("/api/v1/incidents/{id}/cancel"),
            Some(&op),
            None,
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let cancelled = entry(&app, "incidents", &id, "incidents.cancel").await;
    assert_eq!(cancelled["before"]["state"], "suspended");
    assert_eq!(cancelled["after"]["state"], "cancelled");
    assert_eq!(cancelled["after"]["tasks"], json!([]));

    // A refused action is written too, with the incident as it stayed.
    let (s, _) = app
        .call(
            Method::POST,
            &format!("/api/v1/incidents/{id}/close"),
            Some(&op),
            None,
        )
        .await;
    assert_eq!(s, 409);
    let refused = entry(&app, "incidents", &id, "incidents.close").await;
    assert_eq!(refused["status"], 409);
    assert_eq!(refused["before"]["state"], "cancelled");
    assert!(refused["after"].is_null());
}

/// An incident an operator types in on the console (`POST /api/v1/alerts` with a session)
/// is an operator's action: kept, with who, from where and the incident it opened. A
/// system's alert (a bearer token) is not: the incident's timeline is its record.
#[tokio::test]
async fn an_incident_an_operator_types_in_is_kept_and_a_systems_alert_is_not() {
    let app = TestApp::spawn(&[]).await;
    let store = &app.running.as_ref().unwrap().store;
    store
        .create_user("lina", "desk-pass-2026", Role::Operator)
        .await
        .unwrap();
    let (cookie, _) = crate::merchants::login(&app, "lina", "desk-pass-2026").await;
    let typed = json!({"id": "call-0412", "kind": "medical", "severity": 1,
        "lat": 39.4951, "lon": 106.6951, "text": "老人摔倒，3号楼2单元"});
    let (s, v) =
        crate::merchants::by_cookie(&app, Method::POST, "/api/v1/alerts", &cookie, Some(typed))
            .await;
    assert_eq!(s, 202, "{v}");
    let id = v["incident_id"].as_str().unwrap().to_owned();
    let kept = entry(&app, "incidents", &id, "incidents.report").await;
    assert_eq!(kept["actor"], "operator:lina", "{kept}");
    assert_eq!(kept["address"], "127.0.0.1", "{kept}");
    assert_eq!(kept["status"], 202, "{kept}");
    assert_eq!(kept["request"], "POST /api/v1/alerts", "{kept}");
    assert_eq!(kept["after"]["id"], id.as_str(), "{kept}");
    assert!(kept["after"]["state"].is_string(), "{kept}");

    // The same alert again is a duplicate: nothing new happened, nothing new is kept.
    let again = json!({"id": "call-0412", "kind": "medical", "severity": 1,
        "lat": 39.4951, "lon": 106.6951});
    let (s, v) =
        crate::merchants::by_cookie(&app, Method::POST, "/api/v1/alerts", &cookie, Some(again))
            .await;
    assert_eq!((s, v["duplicate"].as_bool()), (202, Some(true)), "{v}");
    assert_eq!(entries(&app, "incidents", &id).await.len(), 1);

    // A system posting with its token: the incident opens, the log has nothing of it.
    let by_token = app
        .alert(json!({"id": "smoke-7", "kind": "fire", "severity": 2, "lat": 39.51, "lon": 106.71}))
        .await;
    assert!(entries(&app, "incidents", &by_token).await.is_empty());
    let log = app.get("/api/v1/audit?action=incidents.report").await;
    assert_eq!(log.as_array().map(Vec::len), Some(1), "{log}");
}
