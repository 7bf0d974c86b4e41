//! The simulator and the demo county against a real instance.

use std::time::Duration;

use crate::common::TestApp;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

#[tokio::test]
async fn simulated_workers_take_alerts_through_to_closed() {
    let app = TestApp::spawn(&[]).await;
    let cfg = griddispatch::sim::SimConfig {
        url: app.base.clone(),
        token: app.token.clone(),
        mqtt_url: app.running.as_ref().unwrap().mqtt_url.clone(),
        workers: 15,
        rate: 3.0,
        duration: Duration::from_secs(10),
        pace: 300.0,
        location_interval: Duration::from_secs(1),
        close_resolved: true,
        ..griddispatch::sim::SimConfig::default()
    };
    let report = griddispatch::sim::run(cfg, CancellationToken::new())
        .await
        .unwrap();
    eprintln!("{report}");
    assert!(report.alerts_sent >= 10, "{report}");
    assert!(report.tasks_received > 0 && report.accepted > 0, "{report}");
    assert!(
        report.resolved > 0 && report.incidents_closed > 0,
        "{report}"
    );
    let closed = app.get("/api/v1/incidents?state=closed").await;
    assert_eq!(
        closed.as_array().unwrap().len() as u64,
        report.incidents_closed
    );
    let dead = app.get("/api/v1/dead-letters").await;
    assert!(
        dead.as_array().unwrap().is_empty(),
        "the simulator sent something malformed: {dead}"
    );
}

#[tokio::test]
async fn the_demo_county_loads_and_loads_again() {
    let app = TestApp::spawn(&[]).await;
    let first = griddispatch::demo::load(&app.base, &app.token)
        .await
        .map_err(|e| format!("{e:#}"))
        .unwrap();
    // A second start on the same database (passwords are re-issued, nothing duplicated).
    let second = griddispatch::demo::load(&app.base, &app.token)
        .await
        .map_err(|e| format!("{e:#}"))
        .unwrap();
    assert_eq!(first.responders.len(), second.responders.len());
    let zones = app.get("/api/v1/zones").await;
    let kinds: Vec<_> = zones["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["properties"]["kind"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        kinds.iter().filter(|k| *k == "grid").count() >= 5,
        "{kinds:?}"
    );
    assert!(kinds.contains(&"beat".to_owned()));
    let responders = app.get("/api/v1/responders").await;
    let n = responders.as_array().unwrap().len();
    assert!((20..=30).contains(&n), "{n} responders");
    // 喜邻 merchants, once each however often the demo loads, some of them stations with
    // volunteers based there, and the 50+ offers of the story on sale.
    let merchants = app.get("/api/v1/merchants").await;
    let merchants = merchants.as_array().unwrap();
    assert_eq!(merchants.len(), 12, "{merchants:?}");
    let stations: Vec<&str> = merchants
        .iter()
        .filter(|m| m["station"] == true)
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert!(stations.len() >= 3, "{stations:?}");
    let offered: i64 = merchants
        .iter()
        .map(|m| m["offers"].as_i64().unwrap())
        .sum();
    assert!(offered >= 50, "{offered} offers");
    let on_sale = app
        .get("/api/v1/offers?lat=39.50&lon=106.70&limit=200")
        .await;
    assert_eq!(on_sale.as_array().unwrap().len() as i64, offered);
    let based: Vec<&Value> = responders
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["station_id"].is_string())
        .collect();
    assert!(based.len() >= 3, "volunteers based at stations: {based:?}");
    for r in &based {
        assert_eq!(r["kind"], "volunteer");
        assert!(stations.contains(&r["station_id"].as_str().unwrap()), "{r}");
    }
    // Every camera lands in a grid zone by the dispatcher's own zone rules.
    let cameras = app.get("/api/v1/cameras").await;
    assert!(cameras.as_array().unwrap().len() >= 10);
    for c in cameras.as_array().unwrap() {
        assert!(
            c["zone_id"].as_str().is_some(),
            "camera outside every zone: {c}"
        );
    }
}

/// After the county, the demo writes its month of history and the volunteers spend some of
/// what it earned: confirmed redemptions at 喜邻 shops (in this month's settlement) and one
/// code still waiting at the counter; a restart spends nothing more.
#[tokio::test]
async fn the_demo_volunteers_redeem_points_at_the_shops() {
    let app = TestApp::spawn(&[]).await;
    griddispatch::demo::load(&app.base, &app.token)
        .await
        .map_err(|e| format!("{e:#}"))
        .unwrap();
    let store = app.running.as_ref().unwrap().store.clone();
    let settings = griddispatch::config::Settings::load_with_env(None, Vec::new()).unwrap();
    let now = griddispatch::store::now_ms();
    griddispatch::demo::seed(&store, &settings, now)
        .await
        .map_err(|e| format!("{e:#}"))
        .unwrap();
    let all = app.get("/api/v1/redemptions").await;
    let states: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["state"].as_str().unwrap())
        .collect();
    assert!(
        states.iter().filter(|s| **s == "confirmed").count() >= 3,
        "{all}"
    );
    assert_eq!(
        states.iter().filter(|s| **s == "pending").count(),
        1,
        "{all}"
    );
    let month = chrono::DateTime::from_timestamp_millis(now)
        .unwrap()
        .with_timezone(&settings.reports.utc_offset)
        .format("%Y-%m");
    let settled = app
        .get(&format!(
            "/api/v1/merchants/{}/settlement?month={month}",
            griddispatch::demo::DEMO_MERCHANT
        ))
        .await;
    assert!(settled["total_count"].as_i64().unwrap() >= 1, "{settled}");
    // The volunteers' phones show the spending as a line of their history.
    let first = all.as_array().unwrap()[0]["responder_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let history = app
        .get(&format!("/api/v1/points/accounts/{first}/history"))
        .await;
    assert!(history.to_string().contains("redemption"), "{history}");
    // Started again on the same database: nothing is spent twice.
    griddispatch::demo::seed(&store, &settings, now + 60_000)
        .await
        .map_err(|e| format!("{e:#}"))
        .unwrap();
    let again = app.get("/api/v1/redemptions").await;
    assert_eq!(again.as_array().unwrap().len(), states.len(), "{again}");
    let problems = store.points_audit().await.unwrap();
    assert!(problems.is_empty(), "{problems:?}");
}
