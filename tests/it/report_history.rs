//! The evaluation report (docs/reports.md) on a history lived through the real app: alerts
//! over HTTP, three workers answering over real MQTT, operators acting over HTTP, deadlines
//! of seconds. Eight incidents, each with a known fate:
//!
//! | id | zone | kind            | who     | what happens                                      |
//! |----|------|-----------------|---------|---------------------------------------------------|
//! | A  | g1   | litter          | w1      | handled, verified: closed on time                 |
//! | B  | g1   | noise (2 s)     | w1      | handled, verified once its deadline passed: late  |
//! | C  | g1   | litter          | w2      | handled, sent back once, handled again, verified  |
//! | D  | g2   | litter          | w3      | 30 more minutes asked and approved, verified      |
//! | E  | g2   | litter          | w3      | suspended while assigned, resumed, verified       |
//! | F  | g1   | litter          | w1 → w2 | w1 rejects, offered to w2, cancelled              |
//! | G  | g2   | intrusion (2 s) | w3      | offer expires, escalated, open past its deadline  |
//! | H  | g1   | litter          | w1      | accepted, still open, due in an hour              |
//!
//! Every count, rate, score, grade, phase sample size and offer figure is worked out by hand
//! below. The phase times of a live run are not known beforehand: their p50 and p90 are
//! computed here from each incident's own times as the API shows them (its `created_at`,
//! its tasks' `offered_at`, its timeline's state changes), by the nearest-rank definition of
//! docs/reports.md, and must equal the report's to the millisecond. The browser test
//! `web/e2e/reports.test.mjs` lives the same history (`web/e2e/history.mjs`).

use std::time::Duration;

use serde_json::{json, Value};

use crate::common::{self, wait_up_to, worker, TestApp, Worker};

const MIN: i64 = 60_000;
const DAY: i64 = 24 * 60 * MIN;

/// The deadlines, offer timeout and report settings of the run.
const SETTINGS: [(&str, &str); 9] = [
    // An hour for what is not listed below, so those are never overdue during the test.
    ("GRIDDISPATCH__DEADLINES__SEV3_SECS", "3600"),
    ("GRIDDISPATCH__DEADLINES__KINDS__NOISE", "2"),
    ("GRIDDISPATCH__DEADLINES__KINDS__INTRUSION", "2"),
    // G's offer expires after 10 s; every other offer is answered at once (in ms).
    ("GRIDDISPATCH__DISPATCH__ACK_TIMEOUT_SECS", "10"),
    // Each alert opens an incident of its own.
    ("GRIDDISPATCH__CORRELATION__RADIUS_M", "1"),
    // Score weights 40 (closure) 60 (on time) 20 (rework) 10 (extension); grades A ≥ 90,
    // B ≥ 85, C ≥ 75, D ≥ 60: no score of this history falls on a boundary.
    ("GRIDDISPATCH__REPORTS__SCORE__EXTENSION", "10"),
    ("GRIDDISPATCH__REPORTS__GRADES__B", "85"),
    ("GRIDDISPATCH__REPORTS__GRADES__C", "75"),
    ("GRIDDISPATCH__REPORTS__GRADES__D", "60"),
];

/// Unix ms of an RFC 3339 time.
fn ms(v: &Value) -> i64 {
    let s = v.as_str().unwrap_or_else(|| panic!("not a time: {v}"));
    chrono::DateTime::parse_from_rfc3339(s)
        .unwrap_or_else(|e| panic!("{s}: {e}"))
        .timestamp_millis()
}

/// The next new offer of `incident` to `w` (other messages are skipped); its task id.
async fn offer_of(w: &mut Worker, incident: &str) -> String {
    loop {
        let task = w.expect_task().await;
        if task["status"] == "offered" && task["incident_id"] == incident {
            return task["task_id"].as_str().unwrap().to_owned();
        }
    }
}

/// `w` sends each status for task `tid`; each must be accepted.
async fn report_steps(w: &mut Worker, tid: &str, steps: &[&str]) {
    for status in steps {
        let (ok, a) = w.update(tid, json!({"status": status})).await;
        assert!(ok, "{} {status} on {tid}: {a}", w.rid);
    }
}

/// An operator action that must succeed; the incident after it.
async fn act(app: &common::Api, id: &str, action: &str, body: Value) -> Value {
    let (s, v) = app
        .post(&format!("/api/v1/incidents/{id}/{action}"), body)
        .await;
    assert_eq!(s, 200, "{action} {id}: {v}");
    v
}

/// An alert of `kind` at `at`, severity 3; the incident's id.
async fn alert(app: &common::Api, n: &str, kind: &str, at: (f64, f64)) -> String {
    app.alert(
        json!({"id": format!("hist-{n}"), "kind": kind, "severity": 3, "lat": at.0, "lon": at.1}),
    )
    .await
}

/// Waits until the incident is marked overdue (its deadline of seconds has passed).
async fn wait_overdue(app: &common::Api, id: &str) -> Value {
    wait_up_to(
        Duration::from_secs(15),
        &format!("{id} overdue"),
        || async {
            let v = app.incident(id).await;
            (v["overdue"] == true).then_some(v)
        },
    )
    .await
}

/// Resolved by the worker, then verified by an operator: closed.
async fn resolve_and_verify(app: &common::Api, w: &mut Worker, id: &str, tid: &str) {
    report_steps(w, tid, &["resolved"]).await;
    app.wait_state(id, "resolved").await;
    let v = act(app, id, "verify", json!({"note": "现场核实"})).await;
    assert_eq!(v["state"], "closed", "{v}");
}

/// Zones g1 (south) and g2 (north of it); grid workers w1 and w2 on foot in g1 (w2 about
/// 400 m south-west of w1), patrol w3 on foot in g2, a kilometre north.
async fn team(app: &common::Api) -> (Worker, Worker, Worker) {
    app.zone("g1", "grid", (39.49, 106.69), (39.50, 106.70))
        .await;
    app.zone("g2", "grid", (39.50, 106.69), (39.51, 106.70))
        .await;
    let w1 = worker(app, "w1", "grid_worker", "foot", Some("g1"), W1).await;
    let w2 = worker(app, "w2", "grid_worker", "foot", Some("g1"), W2).await;
    let w3 = worker(app, "w3", "patrol", "foot", Some("g2"), W3).await;
    (w1, w2, w3)
}

const W1: (f64, f64) = (39.4950, 106.6950);
const W2: (f64, f64) = (39.4920, 106.6920);
const W3: (f64, f64) = (39.5050, 106.6950);

/// Beside `w`, `k` steps of about 10 m north-east (each alert at a place of its own).
fn beside(w: (f64, f64), k: u32) -> (f64, f64) {
    let d = 0.0001 * f64::from(k);
    (w.0 + d, w.1 + d)
}

/// Lives the history of the table above; returns the incident ids A..H.
async fn live_history(app: &common::Api) -> [String; 8] {
    let (mut w1, mut w2, mut w3) = team(app).await;

    // A: handled by w1 and verified, long before its deadline.
    let a = alert(app, "A", "litter", beside(W1, 1)).await;
    let t = offer_of(&mut w1, &a).await;
    report_steps(&mut w1, &t, &["accepted", "en_route", "on_scene"]).await;
    resolve_and_verify(app, &mut w1, &a, &t).await;

    // B: handled by w1; verified only once its two seconds have passed.
    let b = alert(app, "B", "noise", beside(W1, 2)).await;
    let t = offer_of(&mut w1, &b).await;
    report_steps(&mut w1, &t, &["accepted", "on_scene"]).await;
    report_steps(&mut w1, &t, &["resolved"]).await;
    app.wait_state(&b, "resolved").await;
    wait_overdue(app, &b).await;
    let v = act(app, &b, "verify", json!({})).await;
    assert_eq!(v["state"], "closed", "{v}");

    // C: beside w2; sent back once, done again by w2, verified.
    let c = alert(app, "C", "litter", beside(W2, 1)).await;
    let t = offer_of(&mut w2, &c).await;
    report_steps(&mut w2, &t, &["accepted", "on_scene", "resolved"]).await;
    app.wait_state(&c, "resolved").await;
    let v = act(app, &c, "rework", json!({"reason": "垃圾未清运完"})).await;
    assert_eq!(v["rework_count"], 1, "{v}");
    let t = offer_of(&mut w2, &c).await;
    report_steps(&mut w2, &t, &["accepted"]).await;
    resolve_and_verify(app, &mut w2, &c, &t).await;

    // D: w3 asks for 30 more minutes over MQTT; approved; then done and verified.
    let d = alert(app, "D", "litter", beside(W3, 1)).await;
    let t = offer_of(&mut w3, &d).await;
    report_steps(&mut w3, &t, &["accepted"]).await;
    let due_before = ms(&app.incident(&d).await["due_at"]);
    w3.c.publish(
        &format!("dispatch/w3/tasks/{t}/extension"),
        json!({"minutes": 30, "reason": "等待清运车"}).to_string(),
    )
    .await;
    common::wait_for("D's extension request", || async {
        let v = app.incident(&d).await;
        (!v["extension_request"].is_null()).then_some(v)
    })
    .await;
    let v = act(
        app,
        &d,
        "extension",
        json!({"approve": true, "note": "同意"}),
    )
    .await;
    assert_eq!(v["extension_count"], 1, "{v}");
    assert_eq!(ms(&v["due_at"]) - due_before, 30 * MIN, "{v}");
    report_steps(&mut w3, &t, &["on_scene"]).await;
    resolve_and_verify(app, &mut w3, &d, &t).await;

    // E: suspended while w3 holds it, resumed, offered to w3 again, done and verified.
    let e = alert(app, "E", "litter", beside(W3, 2)).await;
    let t = offer_of(&mut w3, &e).await;
    report_steps(&mut w3, &t, &["accepted"]).await;
    let v = act(app, &e, "suspend", json!({"note": "等待业主"})).await;
    assert_eq!(v["state"], "suspended", "{v}");
    w3.expect_cleared(&t).await;
    act(app, &e, "resume", json!({})).await;
    let t = offer_of(&mut w3, &e).await;
    report_steps(&mut w3, &t, &["accepted", "on_scene"]).await;
    resolve_and_verify(app, &mut w3, &e, &t).await;

    // F: w1 rejects, the next candidate w2 is offered it, then an operator cancels it.
    let f = alert(app, "F", "litter", beside(W1, 3)).await;
    let t = offer_of(&mut w1, &f).await;
    report_steps(&mut w1, &t, &["rejected"]).await;
    offer_of(&mut w2, &f).await;
    let v = act(app, &f, "cancel", json!({})).await;
    assert_eq!(v["state"], "cancelled", "{v}");

    // G: an intrusion is for patrols: only w3, who lets the offer expire; nobody else may
    // take it, so it goes back to the operators, and stays open past its two seconds.
    let g = alert(app, "G", "intrusion", beside(W3, 3)).await;
    offer_of(&mut w3, &g).await;
    wait_up_to(Duration::from_secs(30), "G escalated", || async {
        let v = app.incident(&g).await;
        (v["state"] == "escalated").then_some(v)
    })
    .await;
    wait_overdue(app, &g).await;

    // H: w1 takes it; it stays open, due in an hour.
    let h = alert(app, "H", "litter", beside(W1, 4)).await;
    let t = offer_of(&mut w1, &h).await;
    report_steps(&mut w1, &t, &["accepted"]).await;
    app.wait_state(&h, "assigned").await;

    [a, b, c, d, e, f, g, h]
}

/// One incident's times as the API shows them (Unix ms), for the phase times.
#[derive(Debug, Clone, Default)]
struct Times {
    created: i64,
    first_offer: Option<i64>,
    accepted: Option<i64>,
    on_scene: Option<i64>,
    resolved: Option<i64>,
    closed: Option<i64>,
}

/// Reads an incident's times: opened (`created_at`), first offer (its earliest task's
/// `offered_at`), first reached assigned and on scene, last reached resolved, and when it
/// was closed, from its timeline.
async fn times_of(app: &common::Api, id: &str) -> Times {
    let inc = app.incident(id).await;
    let first_offer = inc["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| ms(&t["offered_at"]))
        .min();
    let lines = app.get(&format!("/api/v1/incidents/{id}/timeline")).await;
    let changes: Vec<(String, i64)> = lines
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["from"] != l["to"])
        .map(|l| (l["to"].as_str().unwrap().to_owned(), ms(&l["at"])))
        .collect();
    let first = |s: &str| changes.iter().find(|c| c.0 == s).map(|c| c.1);
    let last = |s: &str| changes.iter().rev().find(|c| c.0 == s).map(|c| c.1);
    Times {
        created: ms(&inc["created_at"]),
        first_offer,
        accepted: first("assigned"),
        on_scene: first("on_scene"),
        resolved: last("resolved"),
        closed: first("closed"),
    }
}

/// `later − earlier` when both are known and in order (docs/reports.md, "Phase times").
fn span(earlier: Option<i64>, later: Option<i64>) -> Option<i64> {
    let d = later? - earlier?;
    (d >= 0).then_some(d)
}

/// Nearest rank: the value at rank ⌈p × n ÷ 100⌉ of the sorted values, in seconds.
fn nearest_rank(sorted: &[i64], p: usize) -> Option<f64> {
    let n = sorted.len();
    (n > 0).then(|| sorted[(p * n).div_ceil(100).max(1) - 1] as f64 / 1000.0)
}

const PHASES: [&str; 6] = [
    "to_first_offer",
    "offer_to_accept",
    "accept_to_on_scene",
    "on_scene_to_resolved",
    "resolved_to_closed",
    "to_on_scene",
];

/// The durations (ms) of each phase over `incs`, as docs/reports.md defines them.
fn durations(incs: &[Times]) -> [Vec<i64>; 6] {
    let each = |f: &dyn Fn(&Times) -> Option<i64>| -> Vec<i64> {
        let mut v: Vec<i64> = incs.iter().filter_map(f).collect();
        v.sort_unstable();
        v
    };
    [
        each(&|t| span(Some(t.created), t.first_offer)),
        each(&|t| span(t.first_offer, t.accepted)),
        each(&|t| span(t.accepted, t.on_scene)),
        each(&|t| span(t.on_scene, t.resolved)),
        each(&|t| span(t.resolved, t.closed)),
        each(&|t| span(Some(t.created), t.on_scene)),
    ]
}

/// Checks a row's phases and fractiles against those computed from `incs`' own times, and
/// each phase's sample size against the hand count `n`.
fn check_times(row: &Value, incs: &[Times], n: [i64; 6]) {
    let g = &row["group"];
    let d = durations(incs);
    for (k, name) in PHASES.iter().enumerate() {
        let got = &row["phases"][name];
        assert_eq!(got["n"], n[k], "{g} {name}: sample size; {row}");
        assert_eq!(d[k].len() as i64, n[k], "{g} {name}: the API's times");
        for (p, field) in [(50, "p50"), (90, "p90")] {
            let want = nearest_rank(&d[k], p);
            match (got[field].as_f64(), want) {
                (Some(x), Some(y)) => {
                    assert!(
                        (x - y).abs() < 1e-9,
                        "{g} {name} {field}: {x} != {y} ({d:?})"
                    )
                }
                (None, None) => assert!(got[field].is_null(), "{g} {name} {field}"),
                (x, y) => panic!("{g} {name} {field}: report {x:?}, from the API {y:?}"),
            }
        }
    }
    let on_scene = &d[5];
    for limit in [60, 120, 300, 600] {
        let got = &row["on_scene_within"][format!("s{limit}")];
        if on_scene.is_empty() {
            assert!(got.is_null(), "{g} s{limit}: {row}");
            continue;
        }
        let within = on_scene.iter().filter(|&&x| x <= limit * 1000).count();
        let want = within as f64 / on_scene.len() as f64;
        assert_eq!(got.as_f64(), Some(want), "{g} s{limit}: {row}");
    }
}

/// Counts in the order `[opened, due, closed, closed_on_time, reworked, extended,
/// suspended, overdue, cancelled, escalated]`.
const COUNTS: [&str; 10] = [
    "opened",
    "due",
    "closed",
    "closed_on_time",
    "reworked",
    "extended",
    "suspended",
    "overdue",
    "cancelled",
    "escalated",
];

/// What a row must say: its counts, then the rates, score and grade that follow from them
/// (rates are over `due`; the score with this run's weights).
fn check_counts(row: &Value, group: &str, c: [i64; 10], grade: Option<&str>) {
    assert_eq!(row["group"], group, "{row}");
    let got: Vec<i64> = COUNTS
        .iter()
        .map(|k| {
            row[*k]
                .as_i64()
                .unwrap_or_else(|| panic!("{group} {k}: {row}"))
        })
        .collect();
    assert_eq!(got, c, "{group}: counts {COUNTS:?}");
    let due = c[1];
    let rate = |part: i64| (due > 0).then(|| part as f64 / due as f64);
    let rates = [
        ("closure_rate", rate(c[2])),
        ("on_time_rate", rate(c[3])),
        ("rework_rate", rate(c[4])),
        ("extension_rate", rate(c[5])),
    ];
    for (k, want) in rates {
        assert_eq!(row[k].as_f64(), want, "{group} {k}: {row}");
    }
    let score = rates[0].1.map(|closure| {
        let (on_time, rework, ext) = (
            rates[1].1.unwrap_or(0.0),
            rates[2].1.unwrap_or(0.0),
            rates[3].1.unwrap_or(0.0),
        );
        (100.0 * (40.0 * closure + 60.0 * on_time - 20.0 * rework - 10.0 * ext) / 100.0)
            .clamp(0.0, 100.0)
    });
    match (row["score"].as_f64(), score) {
        (Some(x), Some(y)) => assert!((x - y).abs() < 1e-9, "{group} score {x} != {y}"),
        (x, y) => assert_eq!(x, y, "{group} score"),
    }
    assert_eq!(row["grade"].as_str(), grade, "{group} grade: {row}");
}

/// The offer figures of a row: `[received, accepted, rejected, expired]` and the rate.
fn check_offers(row: &Value, o: [i64; 4]) {
    let rate = (o[0] > 0).then(|| o[1] as f64 / o[0] as f64);
    assert_eq!(
        row["offers"],
        json!({"received": o[0], "accepted": o[1], "rejected": o[2], "expired": o[3], "acceptance_rate": rate}),
        "{}",
        row["group"]
    );
}

/// The report's rows by group name, in order.
fn rows_of(r: &Value) -> Vec<&Value> {
    r["rows"].as_array().unwrap().iter().collect()
}

fn groups(r: &Value) -> Vec<&str> {
    rows_of(r)
        .iter()
        .map(|x| x["group"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn a_history_lived_over_mqtt_gives_the_report_worked_out_by_hand() {
    let app = TestApp::spawn(&SETTINGS).await;
    let start = griddispatch::store::now_ms();
    let ids = live_history(&app).await;
    let [a, b, c, d, e, f, g, h] = &ids;

    // The fates, as the API shows them.
    let mut times = std::collections::HashMap::new();
    for (id, state, overdue) in [
        (a, "closed", false),
        (b, "closed", false),
        (c, "closed", false),
        (d, "closed", false),
        (e, "closed", false),
        (f, "cancelled", false),
        (g, "escalated", true),
        (h, "assigned", false),
    ] {
        let v = app.incident(id).await;
        assert_eq!(
            (v["state"].as_str(), v["overdue"].as_bool()),
            (Some(state), Some(overdue)),
            "{v}"
        );
        times.insert(id.as_str(), times_of(&app, id).await);
    }
    let tm =
        |xs: &[&String]| -> Vec<Times> { xs.iter().map(|x| times[x.as_str()].clone()).collect() };
    // B was closed after its deadline; the others closed before theirs.
    for (id, late) in [(a, false), (b, true), (c, false), (d, false), (e, false)] {
        let due = ms(&app.incident(id).await["due_at"]);
        let closed = times[id.as_str()].closed.unwrap();
        assert_eq!(closed > due, late, "{id}: closed {closed}, due {due}");
    }

    // A period from a minute before the first alert to a day after: every incident was
    // opened in it and every deadline (two seconds, an hour, an hour and a half) is in it.
    let q = format!(
        "from={}&to={}",
        griddispatch::clock::rfc3339(start - MIN),
        griddispatch::clock::rfc3339(start + DAY)
    );
    let summary = |by: &str| {
        let path = format!("/api/v1/reports/summary?{q}&group_by={by}");
        let app = &app;
        async move { app.get(&path).await }
    };

    // By zone. g1 opened A B C F H, due A B C H (F cancelled): closed A B C, on time A C,
    // reworked C, overdue B, pending H. g2 opened D E G, due D E G: closed D E on time,
    // extended D, suspended E, overdue and escalated G.
    let r = summary("zone").await;
    assert_eq!(groups(&r), ["g1", "g2"], "{r}");
    let rows = rows_of(&r);
    // g1: 40×3/4 + 60×2/4 − 20×1/4 = 55 → E.
    check_counts(rows[0], "g1", [5, 4, 3, 2, 1, 0, 0, 1, 1, 0], Some("E"));
    check_times(rows[0], &tm(&[a, b, c, f, h]), [5, 4, 3, 3, 3, 3]);
    // g2: 40×2/3 + 60×2/3 − 10×1/3 = 63.3 → D.
    check_counts(rows[1], "g2", [3, 3, 2, 2, 0, 1, 1, 1, 0, 1], Some("D"));
    check_times(rows[1], &tm(&[d, e, g]), [3, 2, 2, 2, 2, 2]);
    // All: due 7 = 4 on time + 2 overdue + H pending. 40×5/7 + 60×4/7 − 20/7 − 10/7 = 58.6 → E.
    let all: Vec<&String> = ids.iter().collect();
    check_counts(
        &r["total"],
        "(all)",
        [8, 7, 5, 4, 1, 1, 1, 2, 1, 1],
        Some("E"),
    );
    check_times(&r["total"], &tm(&all), [8, 6, 5, 5, 5, 5]);
    for row in rows.iter().copied().chain(std::iter::once(&r["total"])) {
        assert!(row["offers"].is_null(), "offers only by responder: {row}");
    }

    // By responder, credited to whoever resolved: w1 A B, w2 C, w3 D E, nobody F G H.
    let r = summary("responder").await;
    assert_eq!(groups(&r), ["(none)", "w1", "w2", "w3"], "{r}");
    let rows = rows_of(&r);
    // (none): due G H, G overdue (and escalated), F cancelled: closure 0 → score 0, E.
    check_counts(rows[0], "(none)", [3, 2, 0, 0, 0, 0, 0, 1, 1, 1], Some("E"));
    check_times(rows[0], &tm(&[f, g, h]), [3, 1, 0, 0, 0, 0]);
    // w1: A on time, B late: 40 + 60×1/2 = 70 → D.
    check_counts(rows[1], "w1", [2, 2, 2, 1, 0, 0, 0, 1, 0, 0], Some("D"));
    check_times(rows[1], &tm(&[a, b]), [2; 6]);
    // w2: C on time, reworked: 40 + 60 − 20 = 80 → C.
    check_counts(rows[2], "w2", [1, 1, 1, 1, 1, 0, 0, 0, 0, 0], Some("C"));
    check_times(rows[2], &tm(&[c]), [1; 6]);
    // w3: D and E on time, D extended: 40 + 60 − 10×1/2 = 95 → A.
    check_counts(rows[3], "w3", [2, 2, 2, 2, 0, 1, 1, 0, 0, 0], Some("A"));
    check_times(rows[3], &tm(&[d, e]), [2; 6]);
    // Offers: w1 A B H accepted, F rejected; w2 C and C's rework accepted, F withdrawn by
    // the cancellation; w3 D, E and E again after the resumption accepted, G expired.
    check_offers(rows[0], [0, 0, 0, 0]);
    check_offers(rows[1], [4, 3, 1, 0]);
    check_offers(rows[2], [3, 2, 0, 0]);
    check_offers(rows[3], [4, 3, 0, 1]);
    check_offers(&r["total"], [11, 8, 1, 1]);
    check_counts(
        &r["total"],
        "(all)",
        [8, 7, 5, 4, 1, 1, 1, 2, 1, 1],
        Some("E"),
    );

    // By kind: intrusion G; litter A C D E F H; noise B.
    let r = summary("kind").await;
    assert_eq!(groups(&r), ["intrusion", "litter", "noise"], "{r}");
    let rows = rows_of(&r);
    check_counts(
        rows[0],
        "intrusion",
        [1, 1, 0, 0, 0, 0, 0, 1, 0, 1],
        Some("E"),
    );
    check_times(rows[0], &tm(&[g]), [1, 0, 0, 0, 0, 0]);
    // litter: due A C D E H, closed on time A C D E: 32 + 48 − 4 − 2 = 74 → D.
    check_counts(rows[1], "litter", [6, 5, 4, 4, 1, 1, 1, 0, 1, 0], Some("D"));
    check_times(rows[1], &tm(&[a, c, d, e, f, h]), [6, 5, 4, 4, 4, 4]);
    // noise: B closed late: 40 → E.
    check_counts(rows[2], "noise", [1, 1, 1, 0, 0, 0, 0, 1, 0, 0], Some("E"));
    check_times(rows[2], &tm(&[b]), [1; 6]);

    // By source: every alert came through the API with the same token, so one group with
    // everything.
    let r = summary("source").await;
    assert_eq!(rows_of(&r).len(), 1, "{r}");
    let only = rows_of(&r)[0].clone();
    check_counts(
        &only,
        only["group"].as_str().unwrap(),
        [8, 7, 5, 4, 1, 1, 1, 2, 1, 1],
        Some("E"),
    );

    // By day (at +08:00): opened figures by the day of opening, due ones by the day of the
    // deadline; the history may straddle a midnight, but the days add up to the total.
    let r = summary("day").await;
    let sum = |k: &str| -> i64 { rows_of(&r).iter().map(|x| x[k].as_i64().unwrap()).sum() };
    let sums: Vec<i64> = COUNTS.iter().map(|k| sum(k)).collect();
    assert_eq!(sums, [8, 7, 5, 4, 1, 1, 1, 2, 1, 1], "{r}");
    check_counts(
        &r["total"],
        "(all)",
        [8, 7, 5, 4, 1, 1, 1, 2, 1, 1],
        Some("E"),
    );

    // The CSV carries the same figures: g1's counts and rates.
    let resp = app
        .http
        .get(format!(
            "{}/api/v1/reports/summary.csv?{q}&group_by=zone",
            app.base
        ))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    assert!(
        lines[1].starts_with("g1,5,4,3,2,1,0,0,1,1,0,0.75,0.5,0.25,0,"),
        "{}",
        lines[1]
    );
    assert!(
        lines[3].starts_with("(all),8,7,5,4,1,1,1,2,1,1,"),
        "{}",
        lines[3]
    );
}
