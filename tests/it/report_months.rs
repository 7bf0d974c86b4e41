//! The report's stored months (`src/store/reports/months.rs`): a calendar month that has
//! ended is kept once read, answered from what was kept while its incidents stay as they
//! were, and read again as soon as one of them changes, here an old incident closed late.
//! The scripted history of `reports.rs` is written four months back, so every month of the
//! period has ended.

use chrono::{Datelike, FixedOffset, Months, TimeZone};
use griddispatch::domain::{IncidentState, Role};
use griddispatch::store::Write;
use serde_json::Value;

use crate::common::TestApp;
use crate::reports::{rfc, script, S};

/// The first instant of the calendar month four months before this one, at UTC+08:00
/// (the reports' default offset).
fn four_months_back() -> i64 {
    let cst = FixedOffset::east_opt(8 * 3600).unwrap();
    let today = chrono::Utc::now().with_timezone(&cst).date_naive();
    let first = today.with_day(1).unwrap() - Months::new(4);
    cst.from_local_datetime(&first.and_hms_opt(0, 0, 0).unwrap())
        .unwrap()
        .timestamp_millis()
}

/// Runs SQL on the app's database from outside it.
async fn sql(app: &TestApp, q: &str) -> Vec<sqlx::any::AnyRow> {
    sqlx::any::install_default_drivers();
    let db = sqlx::AnyPool::connect(&app.db_url).await.unwrap();
    let rows = sqlx::query(q).fetch_all(&db).await.unwrap();
    db.close().await;
    rows
}

async fn stored_months(app: &TestApp) -> i64 {
    use sqlx::Row;
    let rows = sql(
        app,
        "SELECT COUNT(*) AS n FROM report_months WHERE group_by = 'zone'",
    )
    .await;
    rows[0].try_get("n").unwrap()
}

/// The summary by zone of the three months from `p`: its rows and total.
async fn summary(app: &TestApp, viewer: &str, p: i64) -> (Value, Value) {
    let to = chrono::DateTime::from_timestamp_millis(p).unwrap() + Months::new(3);
    let q = format!(
        "from={}&to={}&group_by=zone",
        rfc(p),
        rfc(to.timestamp_millis())
    );
    let (status, r) = app
        .call(
            reqwest::Method::GET,
            &format!("/api/v1/reports/summary?{q}"),
            Some(viewer),
            None,
        )
        .await;
    assert_eq!(status, 200, "{r}");
    (r["rows"].clone(), r["total"].clone())
}

#[tokio::test]
async fn an_ended_month_is_kept_and_read_again_when_an_incident_of_it_changes() {
    let app = TestApp::spawn(&[]).await;
    let store = &app.running.as_ref().unwrap().store;
    let p = four_months_back();
    script(store, p).await;
    let viewer = app.token(Role::Viewer).await;

    let (rows, total) = summary(&app, &viewer, p).await;
    assert!(total["opened"].as_i64().unwrap() > 0, "{total}");
    assert_eq!(stored_months(&app).await, 3, "three ended months kept");
    assert_eq!(
        summary(&app, &viewer, p).await,
        (rows.clone(), total.clone())
    );

    // What was kept is what the second read answers: emptied, the months show nothing.
    sql(&app, "UPDATE report_months SET groups = '[]'").await;
    let (_, emptied) = summary(&app, &viewer, p).await;
    assert_eq!(emptied["opened"], 0, "{emptied}");

    // A kept month that cannot be read is read again, and kept anew.
    sql(&app, "UPDATE report_months SET groups = 'not json'").await;
    assert_eq!(
        summary(&app, &viewer, p).await,
        (rows.clone(), total.clone())
    );
    assert_eq!(
        summary(&app, &viewer, p).await,
        (rows.clone(), total.clone())
    );

    // G (escalated, open, overdue) is closed today, months after its deadline: its month
    // must count one more closed incident, none more on time.
    let mut g = store.incident("G").await.unwrap();
    let now = griddispatch::store::now_ms();
    g.state = IncidentState::Closed;
    g.updated_at = now;
    g.milestones.resolved_at = Some(now - 60 * S);
    g.milestones.ended_at = Some(now);
    store
        .apply(&[Write::UpdateIncident(g)], &mut [])
        .await
        .unwrap();
    let (rows_after, total_after) = summary(&app, &viewer, p).await;
    let n = |v: &Value, k: &str| v[k].as_i64().unwrap();
    assert_eq!(
        n(&total_after, "closed"),
        n(&total, "closed") + 1,
        "{total_after}"
    );
    assert_eq!(
        n(&total_after, "closed_on_time"),
        n(&total, "closed_on_time")
    );
    assert_eq!(n(&total_after, "overdue"), n(&total, "overdue"));
    assert_eq!(n(&total_after, "opened"), n(&total, "opened"));

    // And it is exactly what a read with nothing kept gives.
    sql(&app, "DELETE FROM report_months").await;
    assert_eq!(summary(&app, &viewer, p).await, (rows_after, total_after));
    assert_eq!(stored_months(&app).await, 3);
}

/// The ended months are kept fresh in the background: without any report asked for, the
/// last `reports.keep_months` months appear in `report_months`, in every grouping.
#[tokio::test]
async fn the_last_ended_months_are_kept_in_the_background() {
    let app = TestApp::spawn(&[
        ("GRIDDISPATCH__REPORTS__KEEP_MONTHS", "6"),
        ("GRIDDISPATCH__REPORTS__KEEP_EVERY_SECS", "10"),
    ])
    .await;
    let store = &app.running.as_ref().unwrap().store;
    script(store, four_months_back()).await;
    let kept = || async {
        use sqlx::Row;
        let rows = sql(
            &app,
            "SELECT group_by, COUNT(*) AS n FROM report_months GROUP BY group_by ORDER BY group_by",
        )
        .await;
        rows.iter()
            .map(|r| {
                (
                    r.try_get::<String, _>("group_by").unwrap(),
                    r.try_get::<i64, _>("n").unwrap(),
                )
            })
            .collect::<Vec<_>>()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let k = kept().await;
        let every: Vec<(String, i64)> = ["day", "kind", "responder", "source", "zone"]
            .iter()
            .map(|g| ((*g).to_owned(), 6))
            .collect();
        if k == every {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "kept so far: {k:?}");
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
}
