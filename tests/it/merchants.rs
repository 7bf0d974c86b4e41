//! 喜邻 merchants and grid stations (issue 15): registering one makes its `merchant`
//! login; that login sees its own merchant and offers only; volunteers list offers nearest
//! first; responders may be based at a station. On the test's database (SQLite or
//! PostgreSQL).

use crate::common::{Api, TestApp};
use griddispatch::domain::Role;
use reqwest::Method;
use serde_json::{json, Value};

/// Registers merchant `id` at `(lat, lon)`; returns its login `(username, password)`.
pub(crate) async fn merchant(
    app: &Api,
    id: &str,
    lat: f64,
    lon: f64,
    station: bool,
) -> (String, String) {
    let (s, v) = app
        .post(
            "/api/v1/merchants",
            json!({"id": id, "name": format!("{id} 商店"), "address": "乌达区 新达街道 1号",
                   "lat": lat, "lon": lon, "station": station, "hours": "08:00-21:00"}),
        )
        .await;
    assert_eq!(s, 201, "merchant {id}: {v}");
    assert_eq!(v["station"], station);
    (
        v["login"]["username"].as_str().unwrap().to_owned(),
        v["login"]["password"].as_str().unwrap().to_owned(),
    )
}

pub(crate) async fn offer(app: &Api, merchant: &str, body: Value) {
    let (s, v) = app
        .post(&format!("/api/v1/merchants/{merchant}/offers"), body)
        .await;
    assert_eq!(s, 201, "offer of {merchant}: {v}");
}

/// Logs in; returns the `gd_session=…` pair and the login's answer.
pub(crate) async fn login(app: &Api, username: &str, password: &str) -> (String, Value) {
    let resp = app
        .http
        .post(format!("{}/api/v1/session", app.base))
        .json(&json!({"username": username, "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "login {username}");
    let cookie = resp.headers()[reqwest::header::SET_COOKIE]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    (cookie, resp.json().await.unwrap())
}

/// A request carrying the session `cookie` (and this site's Origin).
pub(crate) async fn by_cookie(
    app: &Api,
    method: Method,
    path: &str,
    cookie: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = app
        .http
        .request(method, format!("{}{}", app.base, path))
        .header(reqwest::header::COOKIE, cookie)
        .header(reqwest::header::ORIGIN, app.base.as_str());
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_registered_merchant_logs_in_and_sees_only_its_own() {
    let app = TestApp::spawn(&[]).await;
    let (user, pw) = merchant(&app, "m1", 39.50, 106.70, true).await;
    merchant(&app, "m2", 39.51, 106.71, false).await;
    offer(
        &app,
        "m1",
        json!({"id": "m1-cut", "title": "理发一次", "points": 30}),
    )
    .await;
    offer(
        &app,
        "m2",
        json!({"id": "m2-wash", "title": "洗车一次", "points": 50}),
    )
    .await;

    let (cookie, who) = login(&app, &user, &pw).await;
    assert_eq!(who["role"], "merchant");
    assert_eq!(who["merchant_id"], "m1");
    let (s, me) = by_cookie(&app, Method::GET, "/api/v1/session", &cookie, None).await;
    assert_eq!((s, me["role"].as_str()), (200, Some("merchant")));

    let (s, m) = by_cookie(&app, Method::GET, "/api/v1/merchants/m1", &cookie, None).await;
    assert_eq!((s, m["name"].as_str()), (200, Some("m1 商店")));
    assert_eq!(m["offers"], 1);
    let (s, offers) = by_cookie(
        &app,
        Method::GET,
        "/api/v1/merchants/m1/offers",
        &cookie,
        None,
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(offers[0]["title"], "理发一次");
    let (s, list) = by_cookie(&app, Method::GET, "/api/v1/merchants", &cookie, None).await;
    assert_eq!(s, 200);
    let ids: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["m1"], "a merchant lists only itself");

    // Another merchant is as good as missing.
    for path in [
        "/api/v1/merchants/m2",
        "/api/v1/merchants/m2/offers",
        "/api/v1/merchants/m2/offers/m2-wash",
    ] {
        let (s, _) = by_cookie(&app, Method::GET, path, &cookie, None).await;
        assert_eq!(s, 404, "{path}");
    }
    // No admin, operator or viewer power.
    for (method, path) in [
        (Method::POST, "/api/v1/merchants/m1/offers"),
        (Method::PUT, "/api/v1/merchants/m1"),
        (Method::DELETE, "/api/v1/merchants/m1/offers/m1-cut"),
        (Method::POST, "/api/v1/merchants"),
        (Method::GET, "/api/v1/offers"),
        (Method::GET, "/api/v1/incidents"),
        (Method::GET, "/api/v1/responders"),
        (Method::POST, "/api/v1/alerts"),
        (Method::GET, "/api/v1/users"),
    ] {
        let (s, _) = by_cookie(&app, method.clone(), path, &cookie, Some(json!({}))).await;
        assert_eq!(s, 403, "{method} {path}");
    }
    // Its offer is unchanged by the refused calls.
    let (_, offers) = by_cookie(
        &app,
        Method::GET,
        "/api/v1/merchants/m1/offers",
        &cookie,
        None,
    )
    .await;
    assert_eq!(offers.as_array().unwrap().len(), 1);

    // Deleting the merchant ends its login.
    let (s, _) = app
        .call(
            Method::DELETE,
            "/api/v1/merchants/m1",
            Some(&app.token),
            None,
        )
        .await;
    assert_eq!(s, 204);
    let (s, _) = by_cookie(&app, Method::GET, "/api/v1/merchants/m1", &cookie, None).await;
    assert_eq!(s, 401, "the session ended with its user");
    let resp = app
        .http
        .post(format!("{}/api/v1/session", app.base))
        .json(&json!({"username": user, "password": pw}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
}

#[tokio::test]
async fn offers_on_sale_are_listed_nearest_first_with_their_distance() {
    let app = TestApp::spawn(&[]).await;
    merchant(&app, "far", 39.60, 106.70, false).await;
    merchant(&app, "near", 39.501, 106.70, true).await;
    offer(
        &app,
        "far",
        json!({"id": "far-tea", "title": "茶水一壶", "points": 20}),
    )
    .await;
    offer(&app, "near", json!({"id": "near-soap", "title": "洗衣液", "points": 40, "stock": 3, "per_person_limit": 1})).await;
    // Not on sale: none left, withdrawn, expired.
    offer(
        &app,
        "near",
        json!({"id": "near-gone", "title": "售罄", "points": 10, "stock": 0}),
    )
    .await;
    offer(
        &app,
        "near",
        json!({"id": "near-off", "title": "下架", "points": 10, "active": false}),
    )
    .await;
    offer(
        &app,
        "near",
        json!({"id": "near-old", "title": "过期", "points": 10,
                               "valid_until": "2020-01-01T00:00:00+08:00"}),
    )
    .await;
    offer(
        &app,
        "near",
        json!({"id": "near-later", "title": "有效", "points": 10,
                               "valid_until": "2099-01-01T00:00:00+08:00"}),
    )
    .await;

    let viewer = app.token(Role::Viewer).await;
    let (s, list) = app
        .call(
            Method::GET,
            "/api/v1/offers?lat=39.50&lon=106.70",
            Some(&viewer),
            None,
        )
        .await;
    assert_eq!(s, 200, "{list}");
    let ids: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["near-later", "near-soap", "far-tea"]);
    let d0 = list[0]["distance_m"].as_f64().unwrap();
    let d2 = list[2]["distance_m"].as_f64().unwrap();
    assert!((100.0..125.0).contains(&d0), "{d0}");
    assert!(d2 > 11_000.0, "{d2}");
    assert_eq!(list[1]["merchant"]["id"], "near");
    assert_eq!(list[1]["merchant"]["station"], true);
    assert_eq!(list[1]["stock"], 3);

    let (s, one) = app
        .call(
            Method::GET,
            "/api/v1/offers?lat=39.60&lon=106.70&limit=1",
            Some(&viewer),
            None,
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(one.as_array().unwrap().len(), 1);
    assert_eq!(one[0]["id"], "far-tea");

    // A worker's phone, with its MQTT login as HTTP Basic.
    let pw = app.responder("v1", "volunteer", "foot", None).await;
    let resp = app
        .http
        .get(format!("{}/api/v1/offers?lat=39.50&lon=106.70", app.base))
        .basic_auth("v1", Some(&pw))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.json::<Value>()
            .await
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        3
    );
    let resp = app
        .http
        .get(format!("{}/api/v1/merchants", app.base))
        .basic_auth("v1", Some(&pw))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "the field map reads the merchants");
    let resp = app
        .http
        .get(format!("{}/api/v1/offers", app.base))
        .basic_auth("v1", Some("wrong password"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let (su, sp) = app.source("cam-src").await;
    let resp = app
        .http
        .get(format!("{}/api/v1/offers", app.base))
        .basic_auth(su, Some(sp))
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        401,
        "a source's login is no one's phone, and says no more than a wrong one"
    );

    for (query, field) in [
        ("lat=abc&lon=106.7", "lat"),
        ("lat=39.5", "lat, lon"),
        ("lat=91&lon=106.7", "lat"),
        ("lat=39.5&lon=106.7&limit=201", "limit"),
        ("limit=0", "limit"),
    ] {
        let (s, v) = app
            .call(
                Method::GET,
                &format!("/api/v1/offers?{query}"),
                Some(&viewer),
                None,
            )
            .await;
        assert_eq!(s, 422, "{query}: {v}");
        assert!(
            v["error"].as_str().unwrap().starts_with(field),
            "{query}: {v}"
        );
    }
}

#[tokio::test]
async fn bad_merchants_and_offers_are_refused_with_a_clear_error() {
    let app = TestApp::spawn(&[]).await;
    merchant(&app, "m1", 39.50, 106.70, false).await;
    let good = json!({"id": "m9", "name": "店", "address": "路", "lat": 39.5, "lon": 106.7});
    for (change, field) in [
        (json!({"id": "a/b"}), "id"),
        (json!({"lat": 91.0}), "lat"),
        (json!({"lon": "east"}), "lon"),
        (json!({"name": "  "}), "name"),
        (json!({"name": "店".repeat(201)}), "name"),
        (json!({"colour": "red"}), "colour"),
    ] {
        let mut body = good.clone();
        for (k, v) in change.as_object().unwrap() {
            body[k] = v.clone();
        }
        let (s, v) = app.post("/api/v1/merchants", body).await;
        assert_eq!(s, 422, "{change}: {v}");
        assert!(
            v["error"].as_str().unwrap().contains(field),
            "{change}: {v}"
        );
    }
    let (s, v) = app
        .post(
            "/api/v1/merchants",
            json!({"id": "m1", "name": "又一个", "address": "路", "lat": 39.5, "lon": 106.7}),
        )
        .await;
    assert_eq!(s, 409, "{v}");

    let offer_good = json!({"id": "o1", "title": "理发", "points": 30});
    for (change, field) in [
        (json!({"points": 0}), "points"),
        (json!({"points": 100_001}), "points"),
        (json!({"points": "ten"}), "points"),
        (json!({"title": "字".repeat(201)}), "title"),
        (json!({"stock": -1}), "stock"),
        (json!({"per_person_limit": 0}), "per_person_limit"),
        (json!({"valid_until": "next week"}), "valid_until"),
        (json!({"id": "o 1"}), "id"),
    ] {
        let mut body = offer_good.clone();
        for (k, v) in change.as_object().unwrap() {
            body[k] = v.clone();
        }
        let (s, v) = app.post("/api/v1/merchants/m1/offers", body).await;
        assert_eq!(s, 422, "{change}: {v}");
        assert!(
            v["error"].as_str().unwrap().contains(field),
            "{change}: {v}"
        );
    }
    offer(&app, "m1", offer_good.clone()).await;
    let (s, _) = app
        .post("/api/v1/merchants/m1/offers", offer_good.clone())
        .await;
    assert_eq!(s, 409, "duplicate offer");
    let (s, _) = app
        .post(
            "/api/v1/merchants/nobody/offers",
            json!({"id": "o2", "title": "x", "points": 1}),
        )
        .await;
    assert_eq!(s, 404);
    let (s, _) = app
        .call(
            Method::GET,
            "/api/v1/merchants/nobody",
            Some(&app.token),
            None,
        )
        .await;
    assert_eq!(s, 404);

    // Changing an offer and a merchant; nothing changed by the refusals above.
    let (s, v) = app
        .call(
            Method::PUT,
            "/api/v1/merchants/m1/offers/o1",
            Some(&app.token),
            Some(json!({"title": "理发(男士)", "points": 25, "stock": 5})),
        )
        .await;
    assert_eq!((s, v["points"].as_i64()), (200, Some(25)), "{v}");
    let (s, v) = app
        .call(Method::PUT, "/api/v1/merchants/m1", Some(&app.token),
              Some(json!({"name": "改名", "address": "路", "lat": 39.5, "lon": 106.7, "station": true})))
        .await;
    assert_eq!((s, v["station"].as_bool()), (200, Some(true)), "{v}");
    let list = app.get("/api/v1/merchants").await;
    assert_eq!(list.as_array().unwrap().len(), 1);

    // A merchant user is made only with its merchant.
    let (s, v) = app
        .post(
            "/api/v1/users",
            json!({"username": "shop", "password": "long enough pw", "role": "merchant"}),
        )
        .await;
    assert_eq!(s, 422, "{v}");
}

#[tokio::test]
async fn responders_may_be_based_at_a_station_only() {
    let app = TestApp::spawn(&[]).await;
    merchant(&app, "st1", 39.50, 106.70, true).await;
    merchant(&app, "shop", 39.51, 106.70, false).await;
    let body = |station: &str| json!({"id": "v1", "name": "志愿者", "kind": "volunteer", "travel": "foot", "station_id": station});
    let (s, v) = app.post("/api/v1/responders", body("shop")).await;
    assert_eq!(s, 422, "{v}");
    assert!(
        v["error"].as_str().unwrap().contains("not a grid station"),
        "{v}"
    );
    let (s, v) = app.post("/api/v1/responders", body("nowhere")).await;
    assert_eq!(s, 422, "{v}");
    let (s, v) = app.post("/api/v1/responders", body("st1")).await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(app.get("/api/v1/responders/v1").await["station_id"], "st1");

    // The station cannot stop being one while someone is based there.
    let (s, v) = app
        .call(Method::PUT, "/api/v1/merchants/st1", Some(&app.token),
              Some(json!({"name": "驿站", "address": "路", "lat": 39.5, "lon": 106.7, "station": false})))
        .await;
    assert_eq!(s, 409, "{v}");
    let (s, _) = app
        .call(
            Method::PATCH,
            "/api/v1/responders/v1",
            Some(&app.token),
            Some(json!({"station_id": "shop"})),
        )
        .await;
    assert_eq!(s, 422);
    let (s, _) = app
        .call(
            Method::PATCH,
            "/api/v1/responders/v1",
            Some(&app.token),
            Some(json!({"station_id": null})),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(
        app.get("/api/v1/responders/v1").await["station_id"],
        Value::Null
    );
    let (s, _) = app
        .call(
            Method::PATCH,
            "/api/v1/responders/v1",
            Some(&app.token),
            Some(json!({"station_id": "st1"})),
        )
        .await;
    assert_eq!(s, 200);
    // Deleting the station leaves the responder, without a base.
    let (s, _) = app
        .call(
            Method::DELETE,
            "/api/v1/merchants/st1",
            Some(&app.token),
            None,
        )
        .await;
    assert_eq!(s, 204);
    let v = app.get("/api/v1/responders/v1").await;
    assert_eq!(v["station_id"], Value::Null);
}
