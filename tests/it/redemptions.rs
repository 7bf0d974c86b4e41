//! Redemptions (issue 15): a volunteer's phone redeems points for an offer and gets a
//! one-time code; the merchant confirms it once (409 after, 410 when lapsed, 404 for
//! another merchant's); replays, two phones on one balance, 50 confirmations at once, a
//! restart between reserve and confirm; the monthly settlement as JSON, CSV and XLSX.
//! The ledger is audited after every scenario. Real app, real database (SQLite or
//! PostgreSQL).

use std::io::Cursor;

use chrono::{TimeZone, Utc};
use griddispatch::clock::now_ms;
use griddispatch::config::Settings;
use griddispatch::store::points::NewRedemption;
use reqwest::Method;
use serde_json::{json, Value};

use crate::common::{self, Api, TestApp};
use crate::merchants::{by_cookie, login, merchant, offer};
use crate::points::{account, assert_sound, history, store};
use crate::points_ledger::credit;

/// Merchants m1 and m2 (logged in: their session cookies), offers `o1` (m1, 30 points,
/// stock 5, 2 per person) and `o9` (m2, 10 points); volunteer v1 with 100 points (its
/// MQTT password returned).
async fn shop(app: &TestApp) -> (String, String, String) {
    let (u1, p1) = merchant(app, "m1", 39.50, 106.70, true).await;
    let (u2, p2) = merchant(app, "m2", 39.51, 106.71, false).await;
    offer(
        app,
        "m1",
        json!({"id": "o1", "title": "理发一次", "points": 30, "stock": 5, "per_person_limit": 2}),
    )
    .await;
    offer(
        app,
        "m2",
        json!({"id": "o9", "title": "矿泉水", "points": 10}),
    )
    .await;
    let pw = app.responder("v1", "volunteer", "foot", None).await;
    credit(&store(app), "v1", 100, now_ms()).await;
    let (c1, _) = login(app, &u1, &p1).await;
    let (c2, _) = login(app, &u2, &p2).await;
    (c1, c2, pw)
}

/// `POST /api/v1/redemptions` as phone `rid`.
async fn redeem(app: &Api, rid: &str, pw: &str, offer_id: &str, request_id: &str) -> (u16, Value) {
    let resp = app
        .http
        .post(format!("{}/api/v1/redemptions", app.base))
        .basic_auth(rid, Some(pw))
        .json(&json!({"offer_id": offer_id, "request_id": request_id}))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn confirm(app: &Api, cookie: &str, code: &str) -> (u16, Value) {
    by_cookie(
        app,
        Method::POST,
        &format!("/api/v1/redemptions/{code}/confirm"),
        cookie,
        None,
    )
    .await
}

/// (balance, reserved) of v1.
async fn points_of(app: &Api) -> (i64, i64) {
    let a = account(app, "v1").await;
    (
        a["balance"].as_i64().unwrap(),
        a["reserved"].as_i64().unwrap(),
    )
}

fn this_month(app: &TestApp) -> String {
    let _ = app;
    let offset = Settings::load_with_env(None, Vec::new())
        .unwrap()
        .reports
        .utc_offset;
    Utc.timestamp_millis_opt(now_ms())
        .unwrap()
        .with_timezone(&offset)
        .format("%Y-%m")
        .to_string()
}

#[tokio::test]
async fn a_code_is_confirmed_once_by_its_own_merchant_only() {
    let app = TestApp::spawn(&[]).await;
    let (c1, c2, pw) = shop(&app).await;
    let (s, r) = redeem(&app, "v1", &pw, "o1", "req-1").await;
    assert_eq!(s, 201, "{r}");
    let code = r["code"].as_str().unwrap().to_owned();
    assert!(
        code.len() == 8 && code.bytes().all(|b| b.is_ascii_digit()),
        "{code}"
    );
    assert_eq!(
        (r["points"].as_i64(), r["merchant_id"].as_str()),
        (Some(30), Some("m1"))
    );
    assert_eq!(r["state"], "pending");
    assert!(r["expires_at"].as_str().is_some());
    assert_eq!(points_of(&app).await, (70, 30));

    // Another merchant's code is unknown to m2; a made-up code too.
    assert_eq!(confirm(&app, &c2, &code).await.0, 404);
    let other = if code == "00000000" {
        "00000001"
    } else {
        "00000000"
    };
    assert_eq!(confirm(&app, &c1, other).await.0, 404);
    assert_eq!(confirm(&app, &c1, "abc").await.0, 404);
    // Only the merchant role confirms.
    let (s, _) = app
        .call(
            Method::POST,
            &format!("/api/v1/redemptions/{code}/confirm"),
            Some(&app.token),
            None,
        )
        .await;
    assert_eq!(s, 403);

    let (s, v) = confirm(&app, &c1, &code).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        (v["state"].as_str(), v["offer_title"].as_str()),
        (Some("confirmed"), Some("理发一次"))
    );
    let (s, v) = confirm(&app, &c1, &code).await;
    assert_eq!(s, 409, "{v}");
    assert_eq!(points_of(&app).await, (70, 0));
    // Stock went down by one, on confirmation.
    let o = app.get("/api/v1/merchants/m1/offers/o1").await;
    assert_eq!(o["stock"], 4);
    // The merchant sees its confirmed redemption; m2 sees none of m1's.
    let (s, list) = by_cookie(
        &app,
        Method::GET,
        "/api/v1/redemptions?state=confirmed",
        &c1,
        None,
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["code"], code.as_str());
    let (_, list) = by_cookie(&app, Method::GET, "/api/v1/redemptions", &c2, None).await;
    assert_eq!(list, json!([]));
    // The phone's history names the redemption as the cause.
    let h = history(&app, "v1").await;
    let redeem_line = h
        .iter()
        .find(|l| l["kind"] == "redeem")
        .expect("redeem line");
    assert_eq!(redeem_line["cause"]["type"], "redemption");
    assert_eq!(redeem_line["cause"]["offer_title"], "理发一次");
    let mine = app.get("/api/v1/points/accounts/v1/redemptions").await;
    assert_eq!(mine[0]["state"], "confirmed");
    assert_sound(&store(&app)).await;
}

#[tokio::test]
async fn redemptions_beyond_the_balance_the_limit_or_the_offer_are_refused() {
    let app = TestApp::spawn(&[]).await;
    let (_, _, pw) = shop(&app).await;
    offer(
        &app,
        "m1",
        json!({"id": "o2", "title": "电动车", "points": 1000}),
    )
    .await;
    offer(
        &app,
        "m1",
        json!({"id": "o3", "title": "停售", "points": 1, "active": false}),
    )
    .await;
    offer(
        &app,
        "m1",
        json!({"id": "o4", "title": "售罄", "points": 1, "stock": 0}),
    )
    .await;
    offer(
        &app,
        "m1",
        json!({"id": "o5", "title": "过期", "points": 1, "valid_until": "2020-01-01T00:00:00Z"}),
    )
    .await;
    let (s, v) = redeem(&app, "v1", &pw, "o2", "big").await;
    assert_eq!(s, 409, "{v}");
    assert!(
        v["error"].as_str().unwrap().contains("not enough points"),
        "{v}"
    );
    for o in ["o3", "o4", "o5"] {
        assert_eq!(redeem(&app, "v1", &pw, o, o).await.0, 409, "{o}");
    }
    assert_eq!(redeem(&app, "v1", &pw, "nope", "nope").await.0, 404);
    assert_eq!(redeem(&app, "v1", "wrong", "o1", "x").await.0, 401);
    // Two per person: pending ones count.
    assert_eq!(redeem(&app, "v1", &pw, "o1", "a").await.0, 201);
    assert_eq!(redeem(&app, "v1", &pw, "o1", "b").await.0, 201);
    let (s, v) = redeem(&app, "v1", &pw, "o1", "c").await;
    assert_eq!(s, 409, "{v}");
    assert!(v["error"].as_str().unwrap().contains("per person"), "{v}");
    assert_eq!(points_of(&app).await, (40, 60));
    assert_sound(&store(&app)).await;
}

#[tokio::test]
async fn a_lapsed_code_is_gone_and_its_points_come_back() {
    let app = TestApp::spawn(&[]).await;
    let (c1, _, _) = shop(&app).await;
    let st = store(&app);
    let new = NewRedemption {
        responder_id: "v1".into(),
        offer_id: "o1".into(),
        request_id: "short".into(),
        valid_ms: 1,
    };
    let (r, created) = st.redeem(&new, now_ms() - 10).await.unwrap();
    assert!(created);
    assert_eq!(points_of(&app).await, (70, 30));
    let (s, v) = confirm(&app, &c1, &r.code).await;
    assert_eq!(s, 410, "{v}");
    assert_eq!(points_of(&app).await, (100, 0));
    assert_eq!(confirm(&app, &c1, &r.code).await.0, 410);
    assert_eq!(st.redemption(&r.id).await.unwrap().state, "expired");
    let o = app.get("/api/v1/merchants/m1/offers/o1").await;
    assert_eq!(o["stock"], 5);
    assert_sound(&st).await;
}

#[tokio::test]
async fn fifty_simultaneous_confirmations_of_one_code_give_one_success() {
    let app = TestApp::spawn(&[]).await;
    let (c1, _, pw) = shop(&app).await;
    let (_, r) = redeem(&app, "v1", &pw, "o1", "once").await;
    let code = r["code"].as_str().unwrap().to_owned();
    let tries = (0..50).map(|_| {
        let (api, c1, code) = (app.api.clone(), c1.clone(), code.clone());
        tokio::spawn(async move { confirm(&api, &c1, &code).await.0 })
    });
    let mut statuses: Vec<u16> = futures::future::join_all(tries)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    statuses.sort_unstable();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert!(statuses[1..].iter().all(|s| *s == 409), "{statuses:?}");
    assert_eq!(points_of(&app).await, (70, 0));
    let m = store(&app).points_account("v1", now_ms()).await.unwrap();
    assert_eq!(m.redeemed_total, 30);
    assert_eq!(app.get("/api/v1/merchants/m1/offers/o1").await["stock"], 4);
    assert_sound(&store(&app)).await;
}

#[tokio::test]
async fn two_phones_redeeming_one_balance_at_once_never_go_below_zero() {
    let app = TestApp::spawn(&[]).await;
    let (_, _, pw) = shop(&app).await;
    offer(
        &app,
        "m2",
        json!({"id": "o8", "title": "洗车", "points": 30}),
    )
    .await;
    // Two phones (two HTTP clients) with the same login, ten requests each.
    let tries = (0..20).map(|n| {
        let mut api = app.api.clone();
        api.http = reqwest::Client::new();
        let pw = pw.clone();
        tokio::spawn(async move {
            redeem(&api, "v1", &pw, "o8", &format!("p{}-{n}", n % 2))
                .await
                .0
        })
    });
    let statuses: Vec<u16> = futures::future::join_all(tries)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        3,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        17,
        "{statuses:?}"
    );
    assert_eq!(points_of(&app).await, (10, 90));
    assert_sound(&store(&app)).await;
}

#[tokio::test]
async fn a_replayed_request_is_the_same_redemption() {
    let app = TestApp::spawn(&[]).await;
    let (c1, _, pw) = shop(&app).await;
    let tries = (0..10).map(|_| {
        let (api, pw) = (app.api.clone(), pw.clone());
        tokio::spawn(async move { redeem(&api, "v1", &pw, "o1", "same").await })
    });
    let answers: Vec<(u16, Value)> = futures::future::join_all(tries)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        answers.iter().filter(|(s, _)| *s == 201).count(),
        1,
        "{answers:?}"
    );
    assert!(answers.iter().all(|(s, _)| *s == 200 || *s == 201));
    let code = answers[0].1["code"].clone();
    assert!(answers
        .iter()
        .all(|(_, v)| v["code"] == code && v["id"] == answers[0].1["id"]));
    assert_eq!(points_of(&app).await, (70, 30));
    // After confirmation the replay still names the same redemption and moves nothing.
    assert_eq!(confirm(&app, &c1, code.as_str().unwrap()).await.0, 200);
    let (s, v) = redeem(&app, "v1", &pw, "o1", "same").await;
    assert_eq!((s, v["state"].as_str()), (200, Some("confirmed")));
    // The same request id for another offer is a mistake, not a new redemption.
    assert_eq!(redeem(&app, "v1", &pw, "o9", "same").await.0, 409);
    assert_eq!(points_of(&app).await, (70, 0));
    assert_sound(&store(&app)).await;
}

#[tokio::test]
async fn a_crash_between_reserve_and_confirm_keeps_the_hold_until_it_lapses() {
    let mut app = TestApp::spawn(&[]).await;
    let (_, _, pw) = shop(&app).await;
    let (s, r) = redeem(&app, "v1", &pw, "o1", "before-crash").await;
    assert_eq!(s, 201);
    let id = r["id"].as_str().unwrap().to_owned();
    let db_url = app.db_url.clone();
    app.stop().await;

    let dir = tempfile::tempdir().unwrap();
    let settings = common::test_settings(&dir, &[("GRIDDISPATCH__DATABASE__URL", &db_url)]);
    let again = TestApp::spawn_with(dir, settings).await;
    let st = store(&again);
    // Still held after the restart: the code still works until it lapses.
    assert_eq!(points_of(&again).await, (70, 30));
    let row = st.redemption(&id).await.unwrap();
    assert_eq!(row.state, "pending");
    // The minute sweep after the code lapsed gives the points back.
    assert_eq!(st.release_lapsed_holds(row.expires_at).await.unwrap(), 1);
    assert_eq!(points_of(&again).await, (100, 0));
    assert_eq!(st.redemption(&id).await.unwrap().state, "expired");
    assert_sound(&st).await;
}

#[tokio::test]
async fn the_monthly_settlement_counts_confirmed_redemptions_per_offer() {
    let app = TestApp::spawn(&[]).await;
    let (c1, c2, pw) = shop(&app).await;
    offer(
        &app,
        "m1",
        json!({"id": "o7", "title": "早餐", "points": 5}),
    )
    .await;
    for (o, req) in [("o1", "a"), ("o7", "b"), ("o7", "c")] {
        let (_, r) = redeem(&app, "v1", &pw, o, req).await;
        assert_eq!(confirm(&app, &c1, r["code"].as_str().unwrap()).await.0, 200);
    }
    // Pending ones are not settled.
    assert_eq!(redeem(&app, "v1", &pw, "o7", "d").await.0, 201);
    let month = this_month(&app);
    let path = format!("/api/v1/merchants/m1/settlement?month={month}");
    let (s, v) = by_cookie(&app, Method::GET, &path, &c1, None).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        (v["total_count"].as_i64(), v["total_points"].as_i64()),
        (Some(3), Some(40))
    );
    assert_eq!(
        v["lines"][1],
        json!({"offer_id": "o7", "offer_title": "早餐", "count": 2, "points": 10})
    );
    assert_eq!(app.get(&path).await["total_points"], 40);
    // Another merchant's settlement is not found for m2; a bad month is 422.
    assert_eq!(by_cookie(&app, Method::GET, &path, &c2, None).await.0, 404);
    let bad = "/api/v1/merchants/m1/settlement?month=2026-13";
    assert_eq!(by_cookie(&app, Method::GET, bad, &c1, None).await.0, 422);

    let file = |ext: &str| {
        app.http
            .get(format!(
                "{}/api/v1/merchants/m1/settlement.{ext}?month={month}",
                app.base
            ))
            .header(reqwest::header::COOKIE, c1.as_str())
            .send()
    };
    let csv = file("csv").await.unwrap();
    assert_eq!(csv.status(), 200);
    let text = csv.text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines,
        [
            "offer_id,offer_title,count,points",
            "o1,理发一次,1,30",
            "o7,早餐,2,10",
            "TOTAL,,3,40"
        ]
    );
    let xlsx = file("xlsx").await.unwrap();
    assert_eq!(xlsx.status(), 200);
    use calamine::{Data, Reader, Xlsx};
    let mut wb: Xlsx<_> = Xlsx::new(Cursor::new(xlsx.bytes().await.unwrap().to_vec())).unwrap();
    let sheet = wb.worksheet_range("settlement").unwrap();
    assert_eq!(sheet.get_value((2, 1)), Some(&Data::String("早餐".into())));
    assert_eq!(sheet.get_value((3, 0)), Some(&Data::String("TOTAL".into())));
    assert_eq!(sheet.get_value((3, 3)), Some(&Data::Float(40.0)));
    assert_sound(&store(&app)).await;
}

#[tokio::test]
async fn guessing_codes_locks_the_merchants_confirmations() {
    let app = TestApp::spawn(&[]).await;
    let (c1, c2, pw) = shop(&app).await;
    let (_, r) = redeem(&app, "v1", &pw, "o1", "real").await;
    let code = r["code"].as_str().unwrap().to_owned();
    let mut statuses = Vec::new();
    for n in 0..101 {
        let guess = format!(
            "{:08}",
            (code.parse::<u32>().unwrap() + 1 + n) % 100_000_000
        );
        statuses.push(confirm(&app, &c1, &guess).await.0);
    }
    assert!(statuses[..99].iter().all(|s| *s == 404), "{statuses:?}");
    assert_eq!(statuses[100], 429, "{statuses:?}");
    // Locked: even the real code waits; another merchant is not affected.
    assert_eq!(confirm(&app, &c1, &code).await.0, 429);
    assert_eq!(confirm(&app, &c2, &code).await.0, 404);
    assert_eq!(points_of(&app).await, (70, 30));
    assert_sound(&store(&app)).await;
}

/// A deleted merchant's redemptions stay with its id: a new merchant or offer may not take
/// that id over (it would inherit the settlement and the per-person counts).
#[tokio::test]
async fn the_ids_of_a_deleted_merchant_and_offer_with_redemptions_are_not_reused() {
    let app = TestApp::spawn(&[]).await;
    let (c1, _, pw) = shop(&app).await;
    let (s, r) = redeem(&app, "v1", &pw, "o1", "keep").await;
    assert_eq!(s, 201, "{r}");
    assert_eq!(confirm(&app, &c1, r["code"].as_str().unwrap()).await.0, 200);
    let del = |path: &'static str| app.call(reqwest::Method::DELETE, path, Some(&app.token), None);
    let (s, v) = del("/api/v1/merchants/m1/offers/o1").await;
    assert_eq!(s, 204, "{v}");
    let body = json!({"id": "o1", "title": "另一个", "points": 5});
    let (s, v) = app.post("/api/v1/merchants/m2/offers", body).await;
    assert_eq!(s, 409, "{v}");
    assert!(v.to_string().contains("choose another id"), "{v}");
    let (s, v) = del("/api/v1/merchants/m1").await;
    assert_eq!(s, 204, "{v}");
    let body = json!({"id": "m1", "name": "新店", "address": "乌达区", "lat": 39.5, "lon": 106.7});
    let (s, v) = app.post("/api/v1/merchants", body).await;
    assert_eq!(s, 409, "{v}");
    // An id with no history is free.
    let body = json!({"id": "m3", "name": "新店", "address": "乌达区", "lat": 39.5, "lon": 106.7});
    assert_eq!(app.post("/api/v1/merchants", body).await.0, 201);
    assert_sound(&store(&app)).await;
}
