//! The audit log (docs/security.md, "Audit log"), against the real app and database: who
//! changed a zone, when, from where and what it was before; logins, failed ones and
//! logouts; who may read the log; the CSV export; and that the database itself keeps the
//! log append-only.

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::TestApp;
use griddispatch::domain::Role;

fn zone_body(id: &str, name: &str) -> Value {
    json!({"type": "Feature",
           "geometry": {"type": "Polygon", "coordinates": [[[106.7, 39.5], [106.8, 39.5], [106.8, 39.6], [106.7, 39.5]]]},
           "properties": {"id": id, "name": name, "kind": "grid"}})
}

/// Today's date in the reports' calendar (+08:00, the default).
fn today() -> String {
    (chrono::Utc::now() + chrono::Duration::hours(8))
        .format("%Y-%m-%d")
        .to_string()
}

async fn audit(app: &TestApp, query: &str) -> Vec<Value> {
    let v = app.get(&format!("/api/v1/audit?{query}")).await;
    v.as_array().expect("a list").clone()
}

#[tokio::test]
async fn a_zone_change_says_who_when_from_where_and_what_it_was_before() {
    let app = TestApp::spawn(&[]).await;
    let (s, v) = app
        .post("/api/v1/zones", zone_body("g-07", "乌达街道第七网格"))
        .await;
    assert_eq!(s, 201, "{v}");
    // A stranger's X-Forwarded-For is not believed: no proxy is trusted.
    let resp = app
        .http
        .put(format!("{}/api/v1/zones/g-07", app.base))
        .bearer_auth(&app.token)
        .header("x-forwarded-for", "203.0.113.9")
        .json(&zone_body("g-07", "滨河社区网格"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);

    let day = today();
    let entries = audit(
        &app,
        &format!("target_kind=zones&target_id=g-07&from={day}&to={day}"),
    )
    .await;
    let actions: Vec<&str> = entries
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["zones.replace", "zones.create"], "{entries:#?}");
    let change = &entries[0];
    assert_eq!(change["actor"], "admin:test-admin");
    assert_eq!(change["role"], "admin");
    assert_eq!(change["address"], "127.0.0.1", "the peer, not the header");
    assert_eq!(change["status"], 200);
    assert_eq!(change["request"], "PUT /api/v1/zones/g-07");
    assert_eq!(change["before"]["properties"]["name"], "乌达街道第七网格");
    assert_eq!(change["after"]["properties"]["name"], "滨河社区网格");
    assert!(change["at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(entries[1]["before"], Value::Null, "nothing before a create");
    assert_eq!(
        entries[1]["after"]["properties"]["name"],
        "乌达街道第七网格"
    );

    // Deleting keeps what was deleted.
    let (s, _) = app
        .call(Method::DELETE, "/api/v1/zones/g-07", Some(&app.token), None)
        .await;
    assert_eq!(s, 204);
    let entries = audit(&app, "action=zones.delete&target_id=g-07").await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["before"]["properties"]["name"], "滨河社区网格");
    assert_eq!(entries[0]["after"], Value::Null);

    // Another day's filter finds none of it; a prefix finds all three.
    assert!(audit(&app, "target_id=g-07&from=2026-01-01&to=2026-01-02")
        .await
        .is_empty());
    assert_eq!(audit(&app, "action=zones.&target_id=g-07").await.len(), 3);
}

#[tokio::test]
async fn a_zone_import_leaves_an_entry_for_each_zone() {
    let app = TestApp::spawn(&[]).await;
    app.post("/api/v1/zones", zone_body("g-01", "旧一")).await;
    let (s, v) = app
        .post(
            "/api/v1/zones/import",
            json!({"type": "FeatureCollection",
                   "features": [zone_body("g-01", "新一"), zone_body("g-02", "新二")]}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let one = audit(&app, "action=zones.import&target_id=g-01").await;
    assert_eq!(one.len(), 1, "{one:#?}");
    assert_eq!(one[0]["before"]["properties"]["name"], "旧一");
    assert_eq!(one[0]["after"]["properties"]["name"], "新一");
    let two = audit(&app, "action=zones.import&target_id=g-02").await;
    assert_eq!(two[0]["before"], Value::Null);
    // And the import itself, once.
    assert_eq!(
        audit(&app, "action=zones.import&target_kind=zones")
            .await
            .len(),
        3
    );
}

#[tokio::test]
async fn logins_failed_logins_and_logouts_are_kept_without_passwords() {
    let app = TestApp::spawn(&[]).await;
    let store = &app.running.as_ref().unwrap().store;
    store
        .create_user("wangfang", "correct horse battery", Role::Operator)
        .await
        .unwrap();
    let wrong = app
        .http
        .post(format!("{}/api/v1/session", app.base))
        .json(&json!({"username": "wangfang", "password": "guess-one-two"}))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let (cookie, _) = crate::merchants::login(&app, "wangfang", "correct horse battery").await;
    let out = crate::common::logout(&app, &cookie).await;
    assert_eq!(out.status(), 204);

    let entries = audit(&app, "action=session.").await;
    let seen: Vec<(&str, &str, i64)> = entries
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap(),
                e["actor"].as_str().unwrap(),
                e["status"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("session.logout", "operator:wangfang", 204),
            ("session.login", "operator:wangfang", 200),
            ("session.login_failed", "anonymous:wangfang", 401),
        ]
    );
    assert!(entries.iter().all(|e| e["address"] == "127.0.0.1"));
    let text = serde_json::to_string(&entries).unwrap();
    assert!(!text.contains("guess-one-two") && !text.contains("correct horse"));
}

#[tokio::test]
async fn only_admins_read_the_log_and_refusals_are_kept() {
    let app = TestApp::spawn(&[]).await;
    let operator = app.token(Role::Operator).await;
    for path in ["/api/v1/audit", "/api/v1/audit.csv"] {
        let (s, _) = app.call(Method::GET, path, Some(&operator), None).await;
        assert_eq!(s, 403, "{path}");
    }
    // An operator may not change zones: the attempt is kept, with its refusal.
    let (s, _) = app
        .call(
            Method::POST,
            "/api/v1/zones",
            Some(&operator),
            Some(zone_body("g-09", "x")),
        )
        .await;
    assert_eq!(s, 403);
    let refused = audit(&app, "action=zones.create").await;
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0]["actor"], "operator:t");
    assert_eq!(refused[0]["status"], 403);
    assert_eq!(refused[0]["after"], Value::Null);
    // The operator's reads of the log were refused and kept too; requests without any
    // credentials are not (a flood of them must not fill the log).
    assert_eq!(audit(&app, "actor=operator:t&action=audit.").await.len(), 2);
    let (s, _) = app
        .call(
            Method::POST,
            "/api/v1/zones",
            None,
            Some(zone_body("g-10", "y")),
        )
        .await;
    assert_eq!(s, 401);
    assert!(audit(&app, "target_id=g-10").await.is_empty());
    assert_eq!(audit(&app, "actor=operator:t").await.len(), 3);
}

#[tokio::test]
async fn the_log_pages_and_exports_as_csv() {
    let app = TestApp::spawn(&[]).await;
    for i in 0..5 {
        app.post(
            "/api/v1/zones",
            zone_body(&format!("p-{i}"), "=HYPERLINK(\"http://x\")"),
        )
        .await;
    }
    let first = app
        .http
        .get(format!(
            "{}/api/v1/audit?action=zones.create&limit=3",
            app.base
        ))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    let cursor = first.headers()["x-next-cursor"]
        .to_str()
        .unwrap()
        .to_owned();
    let first: Vec<Value> = first.json().await.unwrap();
    let rest = audit(
        &app,
        &format!("action=zones.create&limit=3&cursor={cursor}"),
    )
    .await;
    let ids: Vec<&str> = first
        .iter()
        .chain(&rest)
        .map(|e| e["target_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["p-4", "p-3", "p-2", "p-1", "p-0"]);

    let resp = app
        .http
        .get(format!(
            "{}/api/v1/audit.csv?action=zones.create&from={}",
            app.base,
            today()
        ))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let csv = resp.text().await.unwrap();
    let mut rows = csv::Reader::from_reader(csv.as_bytes());
    let header = rows.headers().unwrap().clone();
    assert_eq!(&header[0], "seq");
    assert_eq!(&header[11], "before");
    let records: Vec<csv::StringRecord> = rows.records().map(Result::unwrap).collect();
    assert_eq!(records.len(), 5);
    assert_eq!(&records[0][7], "p-4");
    assert_eq!(&records[0][2], "admin:test-admin");
    // No cell is one a spreadsheet would run as a formula.
    assert!(records
        .iter()
        .flat_map(|r| r.iter())
        .all(|cell| !cell.starts_with(['=', '+', '@'])));

    // And reading the log is itself in the log, with what was asked.
    let read = audit(&app, "action=audit.export").await;
    assert!(read[0]["detail"]["query"]
        .as_str()
        .unwrap()
        .starts_with("action=zones.create&from="));
}

#[tokio::test]
async fn the_database_keeps_the_log_append_only_and_prunes_only_past_retention() {
    let app = TestApp::spawn(&[]).await;
    let store = &app.running.as_ref().unwrap().store;
    app.post("/api/v1/zones", zone_body("g-11", "x")).await;
    let pool = sqlx::AnyPool::connect(&app.db_url).await.unwrap();
    let edit = sqlx::query("UPDATE audit_log SET actor = 'someone-else'")
        .execute(&pool)
        .await;
    assert!(
        format!("{:?}", edit.unwrap_err()).contains("append-only"),
        "an edit is refused"
    );
    let wipe = sqlx::query("DELETE FROM audit_log").execute(&pool).await;
    assert!(format!("{:?}", wipe.unwrap_err()).contains("180 days"));

    // An entry from 200 days ago may go; yesterday's may not, whatever the cut-off asked.
    let day = 86_400_000_i64;
    let now = chrono::Utc::now().timestamp_millis();
    for (at, actor) in [(now - 200 * day, "old"), (now - day, "recent")] {
        let entry = griddispatch::store::NewAuditEntry {
            at,
            actor: actor.into(),
            action: "test.entry".into(),
            ..Default::default()
        };
        store.append_audit(&entry).await.unwrap();
    }
    let settings = griddispatch::config::AuditSettings {
        retention_days: 180,
    };
    assert_eq!(store.prune_audit(settings.cutoff_ms(now)).await.unwrap(), 1);
    let left = audit(&app, "action=test.entry").await;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["actor"], "recent");
    assert!(
        store.prune_audit(now).await.is_err(),
        "younger than 180 days"
    );
    pool.close().await;

    // The start itself is in the log, with a fingerprint of the settings.
    let start = audit(&app, "action=service.start").await;
    assert_eq!(
        start[0]["after"]["settings_sha256"].as_str().unwrap().len(),
        64
    );
}

#[tokio::test]
async fn a_refused_broker_login_is_kept_with_its_address() {
    let app = TestApp::spawn(&[]).await;
    let mut c = crate::common::Client::try_connect(
        &app.mqtt_host,
        app.mqtt_port,
        "stolen-phone",
        "r-unknown",
        "not-the-password",
    )
    .await;
    let code = tokio::time::timeout(std::time::Duration::from_secs(5), c.connack.recv())
        .await
        .expect("a CONNACK")
        .expect("a code");
    assert_eq!(code, rumqttc::ConnectReturnCode::BadUserNamePassword);
    // Written beside the refusal, not before it: wait for it.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    let entry = loop {
        if let Some(e) = audit(&app, "action=mqtt.login_failed").await.pop() {
            break e;
        }
        assert!(tokio::time::Instant::now() < deadline, "no entry");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(entry["actor"], "anonymous:r-unknown");
    assert_eq!(entry["address"], "127.0.0.1");
    assert_eq!(entry["detail"]["client_id"], "stolen-phone");
    assert!(!entry.to_string().contains("not-the-password"));
}

/// "Who changed zone X last Tuesday?" for a change that really was made last Tuesday: the
/// county's day (+08:00) from its first to its last millisecond, not the UTC day, and
/// nothing from the Monday night or the Wednesday morning beside it. The entries are
/// written into the store as the layer would have written them then.
#[tokio::test]
async fn last_tuesdays_zone_changes_are_that_days_in_the_countys_calendar() {
    use chrono::{Datelike, Duration, FixedOffset, NaiveTime, TimeZone, Utc};
    let app = TestApp::spawn(&[]).await;
    let store = &app.running.as_ref().unwrap().store;
    let county = FixedOffset::east_opt(8 * 3600).unwrap();
    let today = Utc::now().with_timezone(&county).date_naive();
    let back = (today.weekday().num_days_from_monday() + 7 - 1) % 7;
    let tuesday = today - Duration::days(i64::from(if back == 0 { 7 } else { back }));
    let at = |day: chrono::NaiveDate, h: u32, m: u32, s: u32, ms: i64| {
        let t = NaiveTime::from_hms_opt(h, m, s).unwrap();
        county
            .from_local_datetime(&day.and_time(t))
            .unwrap()
            .timestamp_millis()
            + ms
    };
    let monday = tuesday - Duration::days(1);
    let wednesday = tuesday + Duration::days(1);
    let change = |when: i64, who: &str, from: &str, name_before: &str, name_after: &str| {
        griddispatch::store::NewAuditEntry {
            at: when,
            actor: who.into(),
            role: Some("admin".into()),
            address: Some(from.into()),
            action: "zones.replace".into(),
            target_kind: Some("zones".into()),
            target_id: Some("g-07".into()),
            request: Some("PUT /api/v1/zones/g-07".into()),
            status: 200,
            before: Some(zone_body("g-07", name_before)["properties"].to_string()),
            after: Some(zone_body("g-07", name_after)["properties"].to_string()),
            ..Default::default()
        }
    };
    for e in [
        change(
            at(monday, 23, 59, 59, 999),
            "admin:liu",
            "10.20.0.5",
            "一网格",
            "二网格",
        ),
        change(
            at(tuesday, 0, 0, 0, 0),
            "admin:chen",
            "10.20.0.7",
            "二网格",
            "三网格",
        ),
        change(
            at(tuesday, 16, 5, 0, 0),
            "admin:zhou",
            "10.20.3.41",
            "三网格",
            "滨河网格",
        ),
        change(
            at(tuesday, 23, 59, 59, 999),
            "admin:chen",
            "10.20.0.7",
            "滨河网格",
            "滨河社区网格",
        ),
        change(
            at(wednesday, 0, 0, 0, 0),
            "admin:liu",
            "10.20.0.5",
            "滨河社区网格",
            "四网格",
        ),
    ] {
        store.append_audit(&e).await.unwrap();
    }
    let day = tuesday.format("%Y-%m-%d");
    let entries = audit(
        &app,
        &format!("target_kind=zones&target_id=g-07&from={day}&to={day}"),
    )
    .await;
    let seen: Vec<(&str, &str, &str, &str)> = entries
        .iter()
        .map(|e| {
            (
                e["actor"].as_str().unwrap(),
                e["address"].as_str().unwrap(),
                e["before"]["name"].as_str().unwrap(),
                e["after"]["name"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("admin:chen", "10.20.0.7", "滨河网格", "滨河社区网格"),
            ("admin:zhou", "10.20.3.41", "三网格", "滨河网格"),
            ("admin:chen", "10.20.0.7", "二网格", "三网格"),
        ],
        "{entries:#?}"
    );
    // The day's first entry is shown at 16:00 UTC the day before: the county's midnight.
    let first = entries[2]["at"].as_str().unwrap();
    assert!(first.ends_with("T16:00:00.000Z"), "{first}");
}
