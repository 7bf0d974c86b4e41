//! The evaluation report (docs/reports.md) on a scripted history with known answers: nine
//! incidents written straight through `Store::apply` with chosen milestones, then every
//! figure of the JSON checked against values worked out by hand, and the CSV and XLSX
//! downloads read back.

use std::io::Cursor;

use griddispatch::domain::{IncidentState, Role, TaskStatus};
use griddispatch::store::{IncidentRow, Milestones, Store, TaskRow, Write};
use serde_json::{json, Value};

use crate::common::TestApp;

pub(crate) const S: i64 = 1000;
const H: i64 = 3600 * S;
pub(crate) const D: i64 = 24 * H;

/// The report's period: [P, P + 20 days), P the UTC midnight ten days ago, so "now" falls
/// on day 10 and deadlines after it are not overdue yet.
fn period_start() -> i64 {
    (griddispatch::store::now_ms() / D - 10) * D
}

struct Inc {
    id: &'static str,
    zone: &'static str,
    kind: &'static str,
    state: IncidentState,
    created: i64,
    m: Milestones,
}

fn incident(i: &Inc, state: IncidentState, m: Milestones) -> IncidentRow {
    IncidentRow {
        id: i.id.into(),
        kind: i.kind.into(),
        severity: 2,
        state,
        lat: 30.66,
        lon: 113.16,
        zone_id: Some(i.zone.into()),
        title: format!("{} {}", i.kind, i.id),
        description: None,
        address: None,
        rendezvous: None,
        offers_made: 1,
        manual: false,
        created_at: i.created,
        updated_at: i.created,
        last_alert_at: i.created,
        milestones: m,
    }
}

/// (incident, responder, status, offered at, accepted at)
type TaskSpec = (&'static str, &'static str, TaskStatus, i64, Option<i64>);

fn task(n: usize, t: &TaskSpec) -> TaskRow {
    TaskRow {
        id: format!("t{n}"),
        incident_id: t.0.into(),
        responder_id: t.1.into(),
        status: t.2,
        version: 1,
        status_version: 1,
        offered_at: t.3,
        respond_by: t.3 + 60 * S,
        eta_secs: None,
        distance_m: None,
        note: None,
        updated_at: t.4.unwrap_or(t.3),
        accepted_at: t.4,
        purpose: griddispatch::domain::closed_loop::TaskPurpose::Respond,
        purpose_note: None,
    }
}

/// Times `at + s` seconds.
fn after(at: i64, s: i64) -> Option<i64> {
    Some(at + s * S)
}

/// Writes the history: each incident opened as `new`, its offers, then its final state.
pub(crate) async fn script(store: &Store, p: i64) {
    use IncidentState::*;
    let m = |due: i64, src: &str| Milestones {
        due_at: Some(due),
        source_id: Some(src.into()),
        ..Milestones::default()
    };
    let (a, b, c, d, e) = (p + D, p + 2 * D, p + 3 * D, p + 4 * D, p + 5 * D);
    let (f, g, h, i) = (p + 6 * D, p + 7 * D, p - D, p + 9 * D);
    let incs = [
        // A: closed on time (due a day after opening, closed after 2000 s).
        Inc {
            id: "A",
            zone: "z1",
            kind: "fire",

            state: Closed,
            created: a,
            m: Milestones {
                first_offer_at: after(a, 10),
                accepted_at: after(a, 40),
                on_scene_at: after(a, 100),
                resolved_at: after(a, 1000),
                ended_at: after(a, 2000),
                resolver_id: Some("w1".into()),
                ..m(a + D, "cam")
            },
        },
        // B: closed late (two days after opening, one past the deadline).
        Inc {
            id: "B",
            zone: "z1",
            kind: "fire",

            state: Closed,
            created: b,
            m: Milestones {
                first_offer_at: after(b, 20),
                accepted_at: after(b, 80),
                on_scene_at: after(b, 200),
                resolved_at: after(b, 5000),
                ended_at: Some(b + 2 * D),
                resolver_id: Some("w2".into()),
                ..m(b + D, "cam")
            },
        },
        // C: sent back once, then closed on time.
        Inc {
            id: "C",
            zone: "z1",
            kind: "flood",

            state: Closed,
            created: c,
            m: Milestones {
                first_offer_at: after(c, 30),
                accepted_at: after(c, 60),
                on_scene_at: after(c, 400),
                resolved_at: after(c, 8000),
                ended_at: after(c, 9000),
                resolver_id: Some("w1".into()),
                rework_count: 1,
                ..m(c + D, "api")
            },
        },
        // D: extended to four days, closed on time after three.
        Inc {
            id: "D",
            zone: "z2",
            kind: "flood",

            state: Closed,
            created: d,
            m: Milestones {
                first_offer_at: after(d, 5),
                accepted_at: after(d, 15),
                on_scene_at: after(d, 700),
                resolved_at: after(d, 10000),
                ended_at: Some(d + 3 * D),
                resolver_id: Some("w2".into()),
                extension_count: 1,
                ..m(d + 4 * D, "api")
            },
        },
        // E: suspended, still on scene, due on day 15 (after now: not overdue).
        Inc {
            id: "E",
            zone: "z2",
            kind: "fire",

            state: OnScene,
            created: e,
            m: Milestones {
                first_offer_at: after(e, 50),
                accepted_at: after(e, 100),
                on_scene_at: after(e, 250),
                suspension_count: 1,
                ..m(p + 15 * D, "cam")
            },
        },
        // F: cancelled after ten minutes.
        Inc {
            id: "F",
            zone: "z2",
            kind: "fire",

            state: Cancelled,
            created: f,
            m: Milestones {
                first_offer_at: after(f, 10),
                ended_at: after(f, 600),
                ..m(p + 7 * D, "cam")
            },
        },
        // G: escalated, still open, its deadline (day 8) passed.
        Inc {
            id: "G",
            zone: "z1",
            kind: "fire",

            state: Escalated,
            created: g,
            m: Milestones {
                first_offer_at: after(g, 60),
                escalation_count: 1,
                ..m(p + 8 * D, "cam")
            },
        },
        // H: opened the day before the period, due and closed on time in its first hour.
        Inc {
            id: "H",
            zone: "z1",
            kind: "fire",

            state: Closed,
            created: h,
            m: Milestones {
                first_offer_at: after(h, 10),
                accepted_at: after(h, 20),
                on_scene_at: after(h, 300),
                resolved_at: after(h, 900),
                ended_at: Some(p + H / 2),
                resolver_id: Some("w1".into()),
                ..m(p + H, "cam")
            },
        },
        // I: opened on day 9, due after the period, nothing done yet.
        Inc {
            id: "I",
            zone: "z1",
            kind: "flood",

            state: New,
            created: i,
            m: m(p + 25 * D, "api"),
        },
    ];
    let tasks: [TaskSpec; 10] = [
        ("A", "w1", TaskStatus::Resolved, a + 10 * S, after(a, 40)),
        ("B", "w3", TaskStatus::Rejected, b + 20 * S, None),
        ("B", "w2", TaskStatus::Resolved, b + 50 * S, after(b, 80)),
        ("C", "w1", TaskStatus::Resolved, c + 30 * S, after(c, 60)),
        ("D", "w3", TaskStatus::Expired, d + 5 * S, None),
        ("D", "w2", TaskStatus::Resolved, d + 10 * S, after(d, 15)),
        ("E", "w1", TaskStatus::OnScene, e + 50 * S, after(e, 100)),
        ("F", "w3", TaskStatus::Withdrawn, f + 10 * S, None),
        ("G", "w3", TaskStatus::Expired, g + 60 * S, None),
        // Offered before the period: not counted.
        ("H", "w1", TaskStatus::Resolved, h + 10 * S, after(h, 20)),
    ];
    for inc in &incs {
        let opened = Milestones {
            due_at: inc.m.due_at,
            source_id: inc.m.source_id.clone(),
            ..Milestones::default()
        };
        let mut batch = vec![Write::InsertIncident(incident(inc, New, opened))];
        for (n, t) in tasks.iter().enumerate().filter(|(_, t)| t.0 == inc.id) {
            batch.push(Write::InsertTask(task(n, t)));
        }
        if inc.state != New {
            batch.push(Write::UpdateIncident(incident(
                inc,
                inc.state,
                inc.m.clone(),
            )));
        }
        store.apply(&batch, &mut []).await.unwrap();
    }
}

pub(crate) fn rfc(ms: i64) -> String {
    griddispatch::clock::rfc3339(ms)
}

/// One expected row: counts `[opened, due, closed, closed_on_time, reworked, extended,
/// suspended, overdue, cancelled, escalated]`, rates `[closure, on_time, rework,
/// extension]`, phases `[(p50, p90, n); 6]` in seconds, on scene within 60/120/300/600 s,
/// offers `[received, accepted, rejected, expired]` and acceptance rate, score and grade.
#[allow(clippy::too_many_arguments)]
fn row(
    group: &str,
    c: [i64; 10],
    rates: [Option<f64>; 4],
    phases: [(Option<f64>, Option<f64>, i64); 6],
    within: [Option<f64>; 4],
    offers: Option<([i64; 4], Option<f64>)>,
    score: Option<f64>,
    grade: Option<&str>,
) -> Value {
    let ph =
        |(p50, p90, n): (Option<f64>, Option<f64>, i64)| json!({"p50": p50, "p90": p90, "n": n});
    json!({
        "group": group,
        "opened": c[0], "due": c[1], "closed": c[2], "closed_on_time": c[3], "reworked": c[4],
        "extended": c[5], "suspended": c[6], "overdue": c[7], "cancelled": c[8], "escalated": c[9],
        "closure_rate": rates[0], "on_time_rate": rates[1], "rework_rate": rates[2],
        "extension_rate": rates[3],
        "phases": {
            "to_first_offer": ph(phases[0]), "offer_to_accept": ph(phases[1]),
            "accept_to_on_scene": ph(phases[2]), "on_scene_to_resolved": ph(phases[3]),
            "resolved_to_closed": ph(phases[4]), "to_on_scene": ph(phases[5]),
        },
        "on_scene_within": {"s60": within[0], "s120": within[1], "s300": within[2], "s600": within[3]},
        "offers": offers.map(|(o, r)| json!({
            "received": o[0], "accepted": o[1], "rejected": o[2], "expired": o[3], "acceptance_rate": r,
        })),
        "score": score,
        "grade": grade,
    })
}

/// Compares a row, the score to within rounding.
fn check_row(got: &Value, want: Value) {
    let (mut got, mut want) = (got.clone(), want);
    let (gs, ws) = (got["score"].take(), want["score"].take());
    match (gs.as_f64(), ws.as_f64()) {
        (Some(g), Some(w)) => assert!((g - w).abs() < 1e-9, "{}: score {g} != {w}", want["group"]),
        _ => assert_eq!(gs, ws, "{}: score", want["group"]),
    }
    assert_eq!(got, want);
}

fn t(s: f64) -> Option<f64> {
    Some(s)
}

fn fr(a: i64, b: i64) -> Option<f64> {
    Some(a as f64 / b as f64)
}

/// Score weights 40/60 and penalties 20 (rework) and 10 (extension), from the settings.
fn score(closure: f64, on_time: f64, rework: f64, extension: f64) -> Option<f64> {
    Some(100.0 * (40.0 * closure + 60.0 * on_time - 20.0 * rework - 10.0 * extension) / 100.0)
}

async fn spawn() -> (TestApp, i64) {
    // Grades C from 60 and D from 50; the extension penalty 10 (the default is 0).
    let app = TestApp::spawn(&[
        ("GRIDDISPATCH__REPORTS__SCORE__EXTENSION", "10"),
        ("GRIDDISPATCH__REPORTS__GRADES__C", "60"),
        ("GRIDDISPATCH__REPORTS__GRADES__D", "50"),
    ])
    .await;
    let p = period_start();
    script(&app.running.as_ref().unwrap().store, p).await;
    (app, p)
}

#[tokio::test]
async fn summary_by_zone_every_figure_by_hand() {
    let (app, p) = spawn().await;
    let viewer = app.token(Role::Viewer).await;
    let q = format!("from={}&to={}&group_by=zone", rfc(p), rfc(p + 20 * D));
    let (status, r) = app
        .call(
            reqwest::Method::GET,
            &format!("/api/v1/reports/summary?{q}"),
            Some(&viewer),
            None,
        )
        .await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["from"], rfc(p));
    assert_eq!(r["to"], rfc(p + 20 * D));
    assert_eq!(r["group_by"], "zone");
    assert!(
        r["generated_at"].as_str().is_some_and(|g| g.ends_with('Z')),
        "{r}"
    );
    let rows = r["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{r}");

    // z1 opened: A B C G I (H before the period); due: A B C G H (I after it).
    // Closed A B C H, on time A C H, reworked C, overdue B (late) and G (open, past due).
    check_row(
        &rows[0],
        row(
            "z1",
            [5, 5, 4, 3, 1, 0, 0, 2, 0, 1],
            [fr(4, 5), fr(3, 5), fr(1, 5), fr(0, 5)],
            [
                (t(20.0), t(60.0), 4),       // A10 B20 C30 G60
                (t(30.0), t(60.0), 3),       // A30 B60 C30
                (t(120.0), t(340.0), 3),     // A60 B120 C340
                (t(4800.0), t(7600.0), 3),   // A900 B4800 C7600
                (t(1000.0), t(167800.0), 3), // A1000 B(2 d − 5000) C1000
                (t(200.0), t(400.0), 3),     // A100 B200 C400
            ],
            [fr(0, 3), fr(1, 3), fr(2, 3), fr(3, 3)],
            None,
            score(0.8, 0.6, 0.2, 0.0), // 64
            Some("C"),
        ),
    );
    // z2 opened: D E F; due: D E (F cancelled). Closed D on time, extended D, suspended E;
    // E is due after now: not overdue.
    check_row(
        &rows[1],
        row(
            "z2",
            [3, 2, 1, 1, 0, 1, 1, 0, 1, 0],
            [fr(1, 2), fr(1, 2), fr(0, 2), fr(1, 2)],
            [
                (t(10.0), t(50.0), 3),         // D5 E50 F10
                (t(10.0), t(50.0), 2),         // D10 E50
                (t(150.0), t(685.0), 2),       // D685 E150
                (t(9300.0), t(9300.0), 1),     // D9300
                (t(249200.0), t(249200.0), 1), // D(3 d − 10000)
                (t(250.0), t(700.0), 2),       // D700 E250
            ],
            [fr(0, 2), fr(0, 2), fr(1, 2), fr(1, 2)],
            None,
            score(0.5, 0.5, 0.0, 0.5), // 45
            Some("E"),
        ),
    );
    // All eight opened, seven due; percentiles over every value.
    check_row(
        &r["total"],
        row(
            "(all)",
            [8, 7, 5, 4, 1, 1, 1, 2, 1, 1],
            [fr(5, 7), fr(4, 7), fr(1, 7), fr(1, 7)],
            [
                (t(20.0), t(60.0), 7),       // 5 10 10 20 30 50 60
                (t(30.0), t(60.0), 5),       // 10 30 30 50 60
                (t(150.0), t(685.0), 5),     // 60 120 150 340 685
                (t(4800.0), t(9300.0), 4),   // 900 4800 7600 9300: the 2nd of 4
                (t(1000.0), t(249200.0), 4), // 1000 1000 167800 249200
                (t(250.0), t(700.0), 5),     // 100 200 250 400 700
            ],
            [fr(0, 5), fr(1, 5), fr(3, 5), fr(4, 5)],
            None,
            score(5.0 / 7.0, 4.0 / 7.0, 1.0 / 7.0, 1.0 / 7.0), // 58.57
            Some("D"),
        ),
    );
}

#[tokio::test]
async fn summary_by_responder_day_and_the_downloads() {
    let (app, p) = spawn().await;
    let q = format!("from={}&to={}", rfc(p), rfc(p + 20 * D));
    let r = app
        .get(&format!("/api/v1/reports/summary?{q}&group_by=responder"))
        .await;
    let rows = r["rows"].as_array().unwrap();
    let groups: Vec<&str> = rows.iter().map(|r| r["group"].as_str().unwrap()).collect();
    assert_eq!(groups, ["(none)", "w1", "w2", "w3"]);
    let counts = |r: &Value| -> Vec<i64> {
        [
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
        ]
        .iter()
        .map(|k| r[*k].as_i64().unwrap())
        .collect()
    };
    // Credited to whoever resolved: none for E F G I, w1 for A C (and H, due), w2 for B D.
    assert_eq!(counts(&rows[0]), [4, 2, 0, 0, 0, 0, 1, 1, 1, 1]);
    assert_eq!(counts(&rows[1]), [2, 3, 3, 3, 1, 0, 0, 0, 0, 0]);
    assert_eq!(counts(&rows[2]), [2, 2, 2, 1, 0, 1, 0, 1, 0, 0]);
    assert_eq!(counts(&rows[3]), [0; 10]);
    assert_eq!(rows[3]["closure_rate"], Value::Null);
    assert_eq!(rows[3]["score"], Value::Null);
    assert_eq!(rows[3]["grade"], Value::Null);
    assert_eq!(
        rows[3]["phases"]["to_on_scene"],
        json!({"p50": null, "p90": null, "n": 0})
    );
    let offers = |o: [i64; 4], rate: Option<f64>| json!({"received": o[0], "accepted": o[1], "rejected": o[2], "expired": o[3], "acceptance_rate": rate});
    assert_eq!(rows[0]["offers"], offers([0, 0, 0, 0], None));
    assert_eq!(rows[1]["offers"], offers([3, 3, 0, 0], fr(3, 3))); // H's offer is before
    assert_eq!(rows[2]["offers"], offers([2, 2, 0, 0], fr(2, 2)));
    assert_eq!(rows[3]["offers"], offers([4, 0, 1, 2], fr(0, 4))); // F's was withdrawn
    assert_eq!(r["total"]["offers"], offers([9, 5, 1, 2], fr(5, 9)));
    // w1: 3 due, all closed on time, one reworked: 100 × (40 + 60 − 20/3) / 100.
    assert!((rows[1]["score"].as_f64().unwrap() - (100.0 - 20.0 / 3.0)).abs() < 1e-9);
    assert_eq!(rows[1]["grade"], "A");

    // By day, at +08:00: P is 08:00 there, so each instant keeps its UTC date.
    let day = |ms: i64| rfc(ms)[..10].to_owned();
    let r = app
        .get(&format!("/api/v1/reports/summary?{q}&group_by=day"))
        .await;
    let find = |d: String| {
        r["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["group"] == d)
            .cloned()
            .unwrap_or(Value::Null)
    };
    let first = find(day(p)); // H due
    assert_eq!(
        (first["opened"].as_i64(), first["due"].as_i64()),
        (Some(0), Some(1)),
        "{r}"
    );
    assert_eq!(first["closed_on_time"], 1);
    let second = find(day(p + D)); // A opened
    assert_eq!(
        (second["opened"].as_i64(), second["due"].as_i64()),
        (Some(1), Some(0)),
        "{r}"
    );
    assert_eq!(second["phases"]["to_on_scene"]["p50"], 100.0);
    let eighth = find(day(p + 8 * D)); // G and D due; G overdue
    assert_eq!(
        (eighth["due"].as_i64(), eighth["overdue"].as_i64()),
        (Some(2), Some(1)),
        "{r}"
    );
    assert_eq!(r["total"]["due"], 7);

    // The CSV: a header, the two zones, the total.
    let get = |path: String| {
        let req = app
            .http
            .get(format!("{}{path}", app.base))
            .bearer_auth(&app.token);
        async move { req.send().await.unwrap() }
    };
    let resp = get(format!("/api/v1/reports/summary.csv?{q}&group_by=zone")).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/csv; charset=utf-8");
    assert!(resp.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains(".csv"));
    let text = resp.text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    assert!(lines[0].starts_with("group,opened,due,closed,closed_on_time,reworked,extended,suspended,overdue,cancelled,escalated,closure_rate,on_time_rate,rework_rate,extension_rate,to_first_offer_p50,"), "{}", lines[0]);
    assert!(lines[0].ends_with(",score,grade"), "{}", lines[0]);
    assert!(
        lines[1].starts_with("z1,5,5,4,3,1,0,0,2,0,1,0.8,0.6,0.2,0,20,60,4,"),
        "{}",
        lines[1]
    );
    assert!(lines[1].ends_with(",C"), "{}", lines[1]);
    assert!(
        lines[3].starts_with("(all),8,7,5,4,1,1,1,2,1,1,"),
        "{}",
        lines[3]
    );

    // The workbook, read back.
    let resp = get(format!("/api/v1/reports/summary.xlsx?{q}&group_by=zone")).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["content-type"],
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    let bytes = resp.bytes().await.unwrap();
    use calamine::{Data, Reader, Xlsx};
    let mut wb: Xlsx<_> = Xlsx::new(Cursor::new(bytes.to_vec())).unwrap();
    let sheet = wb.worksheet_range("summary").unwrap();
    assert_eq!(sheet.get_value((0, 0)), Some(&Data::String("group".into())));
    assert_eq!(
        sheet.get_value((0, 11)),
        Some(&Data::String("closure_rate".into()))
    );
    assert_eq!(sheet.get_value((1, 0)), Some(&Data::String("z1".into())));
    assert_eq!(sheet.get_value((1, 1)), Some(&Data::Float(5.0)));
    assert_eq!(sheet.get_value((1, 11)), Some(&Data::Float(0.8)));
    assert_eq!(sheet.get_value((3, 0)), Some(&Data::String("(all)".into())));
    assert_eq!(sheet.get_value((3, 11)), Some(&Data::Float(5.0 / 7.0)));
    let period = wb.worksheet_range("period").unwrap();
    assert_eq!(period.get_value((0, 1)), Some(&Data::String(rfc(p))));
}

/// A period longer than two months is read in parts at the same time (one per core): the
/// parts must add up to what one read gives. Every scripted incident lies within 30 days of
/// P, so a 60-day period (read whole) and a 200-day one (read in parts) hold the same.
#[tokio::test]
async fn a_long_period_read_in_parts_gives_the_figures_of_one_read() {
    let (app, p) = spawn().await;
    let viewer = app.token(Role::Viewer).await;
    for group_by in ["zone", "responder", "kind", "source"] {
        let mut answers = Vec::new();
        for (from, to) in [(p - 30 * D, p + 30 * D), (p - 100 * D, p + 100 * D)] {
            let q = format!("from={}&to={}&group_by={group_by}", rfc(from), rfc(to));
            let (status, r) = app
                .call(
                    reqwest::Method::GET,
                    &format!("/api/v1/reports/summary?{q}"),
                    Some(&viewer),
                    None,
                )
                .await;
            assert_eq!(status, 200, "{r}");
            answers.push((r["rows"].clone(), r["total"].clone()));
        }
        assert!(
            answers[0].0.as_array().is_some_and(|rows| !rows.is_empty()),
            "{group_by}: {:?}",
            answers[0]
        );
        assert_eq!(answers[0], answers[1], "{group_by}");
    }
}

#[tokio::test]
async fn summary_refuses_bad_periods_and_strangers() {
    let app = TestApp::spawn(&[]).await;
    for (q, says) in [
        ("to=2026-01-31", "from: required"),
        ("from=2026-01-01", "to: required"),
        ("from=2026-01-31&to=2026-01-01", "to: must be after from"),
        ("from=yesterday&to=2026-01-01", "from: expected RFC 3339"),
        ("from=2025-01-01&to=2026-01-02", "at most 366 days"),
        (
            "from=2026-01-01&to=2026-01-31&group_by=week",
            "group_by: must be one of",
        ),
    ] {
        for ext in ["", ".csv", ".xlsx"] {
            let (status, v) = app
                .call(
                    reqwest::Method::GET,
                    &format!("/api/v1/reports/summary{ext}?{q}"),
                    Some(&app.token),
                    None,
                )
                .await;
            assert_eq!(status, 422, "{q}: {v}");
            assert!(v["error"].as_str().unwrap().contains(says), "{q}: {v}");
        }
    }
    let (status, _) = app
        .call(
            reqwest::Method::GET,
            "/api/v1/reports/summary?from=2026-01-01&to=2026-01-31",
            None,
            None,
        )
        .await;
    assert_eq!(status, 401);
    // A date-only month on an empty database: no rows, a total of zeros and nulls.
    let r = app
        .get("/api/v1/reports/summary?from=2026-01-01&to=2026-01-31")
        .await;
    assert_eq!(r["from"], "2025-12-31T16:00:00.000Z");
    assert_eq!(r["to"], "2026-01-31T16:00:00.000Z");
    assert_eq!(r["group_by"], "zone");
    assert_eq!(r["rows"], json!([]));
    assert_eq!(r["total"]["opened"], 0);
    assert_eq!(r["total"]["closure_rate"], Value::Null);
    assert_eq!(r["total"]["grade"], Value::Null);
}
