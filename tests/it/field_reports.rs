//! Reports from the phone (随手拍, issue 15): a volunteer's report with a photo becomes an
//! alert from `field:<id>`, dispatched like any other, and the photo is kept with the
//! incident and sent in the task, as a camera's snapshot is. Real app, real embedded
//! broker, the phone's MQTT login as HTTP Basic.

use base64::Engine as _;
use serde_json::{json, Value};

use crate::common::{self, worker, TestApp};
use griddispatch::video::snapshot::test_card_jpeg;

/// POSTs a report as `user`:`pw`: (status, body).
async fn report(app: &common::Api, user: &str, pw: &str, body: &Value) -> (u16, Value) {
    let resp = app
        .http
        .post(format!("{}/api/v1/field/reports", app.base))
        .basic_auth(user, Some(pw))
        .json(body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_volunteers_report_with_a_photo_is_dispatched_and_the_photo_travels_with_the_task() {
    let app = TestApp::spawn(&[]).await;
    app.zone("g1", "grid", (39.49, 106.69), (39.50, 106.70))
        .await;
    let mut w1 = worker(
        &app,
        "w1",
        "grid_worker",
        "foot",
        Some("g1"),
        (39.4950, 106.6950),
    )
    .await;
    // The reporter: a volunteer on duty right at the spot, nearer than anyone. They asked
    // for help with it, so they are not offered it.
    let mut v1 = worker(
        &app,
        "v1",
        "volunteer",
        "foot",
        Some("g1"),
        (39.4952, 106.6952),
    )
    .await;
    let pw = v1.password.clone();
    let jpeg = test_card_jpeg(160, 120, "smpte").unwrap();
    let body = json!({
        "request_id": "r-1", "kind": "litter", "note": "楼道堆满杂物，堵住了消防通道",
        "lat": 39.4952, "lon": 106.6952, "address": "新达街道 3 号楼", "photo": b64(&jpeg),
    });
    let (s, v) = report(&app, "v1", &pw, &body).await;
    assert_eq!(s, 202, "{v}");
    assert_eq!(
        (v["duplicate"].clone(), v["photo"].clone()),
        (json!(false), json!(true))
    );
    let id = v["incident_id"].as_str().unwrap().to_owned();
    let inc = app.incident(&id).await;
    assert_eq!(inc["alerts"][0]["source_id"], "field:v1", "{inc}");
    assert_eq!(inc["kind"], "litter");
    // The worker nearby is offered it; the photo reaches the task once stored.
    let offer = w1.expect_task().await;
    assert_eq!(offer["incident_id"], id.as_str());
    assert!(
        v1.task(std::time::Duration::from_millis(300))
            .await
            .is_none(),
        "the reporter is not offered their own report"
    );
    let mut with_photo = offer.clone();
    for _ in 0..20 {
        if with_photo["snapshots"].as_array().map_or(0, Vec::len) == 1 {
            break;
        }
        if let Some(t) = w1.task(std::time::Duration::from_millis(500)).await {
            with_photo = t;
        }
    }
    let snap = &with_photo["snapshots"][0];
    assert_eq!(snap["source"], "field", "{snap}");
    assert_eq!(snap["camera_id"], "field:v1", "{snap}");
    let url = snap["url"].as_str().unwrap();
    let path = url.strip_prefix(&app.base).unwrap_or(url);
    let got = app
        .http
        .get(format!("{}{path}", app.base))
        .basic_auth("w1", Some(&w1.password))
        .send()
        .await
        .unwrap();
    assert_eq!(got.status().as_u16(), 200);
    assert_eq!(got.bytes().await.unwrap().to_vec(), jpeg, "the very photo");
    // Sent again after a lost answer: the same report, no second photo.
    let (s, again) = report(&app, "v1", &pw, &body).await;
    assert_eq!(s, 202, "{again}");
    assert_eq!(
        (again["incident_id"].as_str(), again["duplicate"].clone()),
        (Some(id.as_str()), json!(true))
    );
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(
        app.incident(&id).await["snapshots"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    // The timeline says where it came from and that the photo was kept.
    let lines = app.get(&format!("/api/v1/incidents/{id}/timeline")).await;
    assert_eq!(lines[0]["actor"], "source:field:v1", "{lines}");
    assert!(
        lines
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["event"]["code"] == "snapshot" && l["event"]["source"] == "field"),
        "{lines}"
    );
}

#[tokio::test]
async fn a_report_needs_the_phones_login_and_sane_fields() {
    let app = TestApp::spawn(&[]).await;
    let pw = app.responder("v1", "volunteer", "foot", None).await;
    let (source_user, source_pw) = app.source("s1").await;
    let good = json!({"request_id": "r-1", "kind": "litter", "lat": 39.4952, "lon": 106.6952});
    assert_eq!(report(&app, "v1", "wrong", &good).await.0, 401);
    assert_eq!(report(&app, &source_user, &source_pw, &good).await.0, 401);
    let anonymous = app
        .http
        .post(format!("{}/api/v1/field/reports", app.base))
        .json(&good)
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);
    let with = |k: &str, v: Value| {
        let mut b = good.clone();
        b[k] = v;
        b
    };
    for (bad, why) in [
        (
            with("photo", json!(b64(b"\x89PNG\r\n\x1a\n not a jpeg"))),
            "JPEG",
        ),
        (with("photo", json!("%%% not base64")), "base64"),
        (with("lat", json!(123.0)), "lat"),
        (with("kind", json!("Bad Kind!")), "kind"),
        (with("severity", json!(9)), "severity"),
        (with("spam", json!(1)), "spam"),
        (with("request_id", json!("")), "request_id"),
    ] {
        let (s, v) = report(&app, "v1", &pw, &bad).await;
        assert_eq!(s, 422, "{bad}: {v}");
        assert!(v.to_string().contains(why), "{why} in {v}");
    }
    let (s, v) = report(&app, "v1", &pw, &good).await;
    assert_eq!(s, 202, "{v}");
    assert_eq!(v["photo"], false);
}

/// A `field:<id>` source credits the volunteer it names: nobody but that volunteer's phone
/// may open one, neither an operator's alert nor a new source.
#[tokio::test]
async fn no_one_but_the_phone_may_name_a_field_source() {
    let app = TestApp::spawn(&[]).await;
    app.responder("v1", "volunteer", "foot", None).await;
    let alert = json!({"id": "x1", "source_id": "field:v1", "kind": "litter", "severity": 3,
                       "lat": 39.4952, "lon": 106.6952});
    let (s, v) = app.post("/api/v1/alerts", alert).await;
    assert_eq!(s, 422, "{v}");
    assert!(v.to_string().contains("source_id"), "{v}");
    for id in ["field:v1", "field:"] {
        let (s, v) = app
            .post("/api/v1/sources", json!({"id": id, "name": "冒充"}))
            .await;
        assert_eq!(s, 422, "{id}: {v}");
    }
    let (s, v) = app
        .post("/api/v1/sources", json!({"id": "fielder", "name": "正常"}))
        .await;
    assert_eq!(s, 201, "{v}");
}
