//! The console's points views (issue 15): every responder's account in one list
//! (`GET /api/v1/points/accounts`) and the monthly honour roll (光荣榜,
//! `GET /api/v1/points/honour`): per grid, the month's points earned and awarded, at
//! `reports.utc_offset` (+08:00 by default), redemptions and pending awards not counted.
//! Real app, real broker, real database (SQLite or PostgreSQL).

use griddispatch::store::points::{NewAward, Reservation};
use serde_json::{json, Value};

use crate::common::{worker, TestApp};
use crate::points::{assert_sound, settings, store};

fn ms(rfc3339: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .unwrap()
        .timestamp_millis()
}

/// (responder, points, earned, awarded).
type Line = (String, i64, i64, i64);

/// (grid, lines) of an honour roll answer, grids by id.
fn roll(v: &Value) -> Vec<(String, Vec<Line>)> {
    let mut zones: Vec<_> = v["zones"]
        .as_array()
        .unwrap()
        .iter()
        .map(|z| {
            let lines = z["volunteers"]
                .as_array()
                .unwrap()
                .iter()
                .enumerate()
                .map(|(i, l)| {
                    assert_eq!(l["rank"], i as i64 + 1, "{l}");
                    (
                        l["responder_id"].as_str().unwrap().to_owned(),
                        l["points"].as_i64().unwrap(),
                        l["earned"].as_i64().unwrap(),
                        l["awarded"].as_i64().unwrap(),
                    )
                })
                .collect();
            (z["zone_id"].as_str().unwrap_or("-").to_owned(), lines)
        })
        .collect();
    zones.sort();
    zones
}

fn line(id: &str, points: i64, earned: i64, awarded: i64) -> Line {
    (id.to_owned(), points, earned, awarded)
}

#[tokio::test]
async fn the_honour_roll_ranks_a_months_earnings_and_awards_per_grid() {
    let app = TestApp::spawn(&[]).await;
    let st = store(&app);
    let p = settings();
    app.zone("g1", "grid", (39.49, 106.69), (39.50, 106.70))
        .await;
    app.zone("g2", "grid", (39.49, 106.70), (39.50, 106.71))
        .await;
    let mut v1 = worker(
        &app,
        "v1",
        "volunteer",
        "foot",
        Some("g1"),
        (39.4950, 106.6950),
    )
    .await;
    app.responder("v2", "volunteer", "foot", Some("g1")).await;
    app.responder("v3", "volunteer", "foot", Some("g2")).await;
    app.responder("w1", "grid_worker", "foot", Some("g2")).await;
    app.responder("v4", "volunteer", "foot", None).await;
    let (s, v) = app
        .post(
            "/api/v1/merchants",
            json!({"id": "m1", "name": "超市", "address": "乌达区", "lat": 39.5, "lon": 106.7}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let award = |rid: &str, points: i64, at: &str| {
        let st = st.clone();
        let p = p.clone();
        let a = NewAward {
            responder_id: rid.to_owned(),
            points,
            reason: format!("{rid} 带路"),
            proposed_by: "admin:t".to_owned(),
        };
        let at = ms(at);
        async move { st.propose_award(&a, &p, at).await.unwrap() }
    };
    // October 2026 (+08:00).
    award("v1", 30, "2026-10-10T12:00:00+08:00").await;
    award("v2", 40, "2026-10-20T12:00:00+08:00").await;
    award("v3", 20, "2026-10-01T00:30:00+08:00").await; // 30 September in UTC
                                                        // November 2026: the first is still 31 October in UTC.
    award("v1", 5, "2026-11-01T01:00:00+08:00").await;
    award("v2", 10, "2026-11-05T12:00:00+08:00").await;
    award("v3", 25, "2026-11-06T12:00:00+08:00").await;
    // A grid worker is staff, not on the volunteers' roll, though awarded points.
    award("w1", 15, "2026-11-07T12:00:00+08:00").await;
    award("v4", 7, "2026-11-07T13:00:00+08:00").await;
    // Pending (above award_approval_above): not credited, not counted.
    let pending = award("v2", 80, "2026-11-08T12:00:00+08:00").await;
    assert_eq!(pending.state, "pending");
    // v3 spends 12 at the shop in November: the roll counts what was earned, not spent.
    let hold = st
        .reserve_points(
            &Reservation {
                hold_id: "h1".into(),
                responder_id: "v3".into(),
                merchant_id: "m1".into(),
                points: 12,
                expires_at: ms("2026-11-09T12:10:00+08:00"),
                actor: "responder:v3".into(),
            },
            ms("2026-11-09T12:00:00+08:00"),
        )
        .await
        .unwrap();
    st.confirm_hold(
        &hold.id,
        "m1",
        "merchant:m1",
        ms("2026-11-09T12:05:00+08:00"),
    )
    .await
    .unwrap();
    // This month, v1 earns 10 for verified work (litter at severity 3).
    let id = app
        .alert(
            json!({"id": "h-p1", "kind": "litter", "severity": 3, "lat": 39.4951, "lon": 106.6951}),
        )
        .await;
    let task = loop {
        let t = v1.expect_task().await;
        if t["status"] == "offered" {
            break t;
        }
    };
    let tid = task["task_id"].as_str().unwrap().to_owned();
    for status in ["accepted", "resolved"] {
        let (ok, a) = v1.update(&tid, json!({"status": status})).await;
        assert!(ok, "{a}");
    }
    let (s, v) = app
        .post(&format!("/api/v1/incidents/{id}/verify"), json!({}))
        .await;
    assert_eq!(s, 200, "{v}");

    let oct = app.get("/api/v1/points/honour?month=2026-10").await;
    assert_eq!(oct["month"], "2026-10");
    assert_eq!(oct["from"], "2026-09-30T16:00:00.000Z");
    assert_eq!(
        roll(&oct),
        vec![
            (
                "g1".into(),
                vec![line("v2", 40, 0, 40), line("v1", 30, 0, 30)]
            ),
            ("g2".into(), vec![line("v3", 20, 0, 20)]),
        ]
    );
    let nov = app.get("/api/v1/points/honour?month=2026-11").await;
    assert_eq!(
        roll(&nov),
        vec![
            ("-".into(), vec![line("v4", 7, 0, 7)]),
            (
                "g1".into(),
                vec![line("v2", 10, 0, 10), line("v1", 5, 0, 5)]
            ),
            ("g2".into(), vec![line("v3", 25, 0, 25)]),
        ]
    );
    assert_eq!(nov["zones"][0]["zone_name"], "g1");
    // Volunteers in no grid come last, on either database.
    assert!(nov["zones"][2]["zone_id"].is_null(), "{nov}");
    let g2 = app
        .get("/api/v1/points/honour?month=2026-11&zone_id=g2")
        .await;
    assert_eq!(roll(&g2), vec![("g2".into(), vec![line("v3", 25, 0, 25)])]);
    // No month: this month, with v1's earning.
    let now = app.get("/api/v1/points/honour").await;
    assert_eq!(roll(&now), vec![("g1".into(), vec![line("v1", 10, 10, 0)])]);
    let empty = app.get("/api/v1/points/honour?month=2026-09").await;
    assert_eq!(empty["zones"], json!([]));
    for bad in ["2026-13", "2026-1", "nope"] {
        let (s, v) = app
            .call(
                reqwest::Method::GET,
                &format!("/api/v1/points/honour?month={bad}"),
                Some(&app.token),
                None,
            )
            .await;
        assert_eq!(s, 422, "{bad}: {v}");
    }

    // The ledger by kind: v3's award and redemption, then only the award.
    let kinds = |q: &str| {
        let app = &app;
        let q = q.to_owned();
        async move {
            let v = app
                .get(&format!("/api/v1/points/ledger?account=responder:v3{q}"))
                .await;
            v.as_array()
                .unwrap()
                .iter()
                .map(|m| m["kind"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(kinds("").await, ["reserve", "award", "award"]);
    assert_eq!(kinds("&kind=award").await, ["award", "award"]);
    assert!(kinds("&kind=earn").await.is_empty());
    let (s, v) = app
        .call(
            reqwest::Method::GET,
            "/api/v1/points/ledger?kind=gift",
            Some(&app.token),
            None,
        )
        .await;
    assert_eq!(s, 422, "{v}");

    // Every responder's account in one list, by id.
    let list = app.get("/api/v1/points/accounts").await;
    let got: Vec<Line> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["responder_id"].as_str().unwrap().to_owned(),
                a["balance"].as_i64().unwrap(),
                a["earned_total"].as_i64().unwrap(),
                a["awarded_total"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            line("v1", 45, 10, 35),
            line("v2", 50, 0, 50),
            line("v3", 33, 0, 45),
            line("v4", 7, 0, 7),
            line("w1", 15, 0, 15),
        ]
    );
    assert_eq!(list[2]["zone_id"], "g2");
    assert_eq!(list[2]["kind"], "volunteer");
    // The same as each account alone.
    for a in list.as_array().unwrap() {
        let one = crate::points::account(&app, a["responder_id"].as_str().unwrap()).await;
        for k in ["balance", "reserved", "earned_total", "awarded_total"] {
            assert_eq!(a[k], one[k], "{k} of {a}");
        }
    }
    // Viewers read both, and the awards list; nobody without a login does.
    let viewer = app.token(griddispatch::domain::Role::Viewer).await;
    for path in [
        "/api/v1/points/accounts",
        "/api/v1/points/honour?month=2026-11",
        "/api/v1/points/awards?state=pending",
    ] {
        let (s, _) = app
            .call(reqwest::Method::GET, path, Some(&viewer), None)
            .await;
        assert_eq!(s, 200, "{path}");
        let (s, _) = app.call(reqwest::Method::GET, path, None, None).await;
        assert_eq!(s, 401, "{path}");
    }
    assert_sound(&st).await;
}
