//! What the scale benchmark writes into the database: zones, responders, cameras and a
//! closed history, in big transactions (rows straight through the store's writes, as
//! benches/reports.rs does, and plain SQL for the responders).

use std::time::{Duration, Instant};

use griddispatch::config::Settings;
use griddispatch::demo::past_task;
use griddispatch::domain::closed_loop::TaskPurpose;
use griddispatch::domain::{IncidentState, TaskStatus, ZoneKind};
use griddispatch::store::{AlertRow, CameraRow, IncidentRow, Milestones, Store, Write, ZoneRow};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sqlx::Connection;

const SEC: i64 = 1000;
const MIN: i64 = 60 * SEC;
const DAY: i64 = 24 * 60 * MIN;
/// 2023-01-01T00:00:00Z: the history runs from here for [`HISTORY_DAYS`], so it ends in
/// 2025, more than a year before the app runs (no open window of the app reaches it).
const HISTORY_START: i64 = 1_672_531_200_000;
const HISTORY_DAYS: i64 = 1000;
/// The county's centre and half-extent, degrees.
const CENTRE: (f64, f64) = (39.5, 106.7);
const HALF: f64 = 0.2;
/// Grid zones (6 × 4 over the county).
const ZONES: (usize, usize) = (6, 4);
/// Writes per transaction.
const CHUNK: usize = 40_000;
const KINDS: [(&str, i64); 6] = [
    ("fall", 2),
    ("medical", 1),
    ("fire", 1),
    ("flood", 3),
    ("intrusion", 3),
    ("traffic", 2),
];

fn zone_id(i: usize) -> String {
    format!("grid-{i:02}")
}

/// The zone a point falls in.
pub(crate) fn zone_of(lat: f64, lon: f64) -> String {
    let (cols, rows) = ZONES;
    let x = (((lon - CENTRE.1 + HALF) / (2.0 * HALF)) * cols as f64) as usize;
    let y = (((lat - CENTRE.0 + HALF) / (2.0 * HALF)) * rows as f64) as usize;
    zone_id(y.min(rows - 1) * cols + x.min(cols - 1))
}

pub(crate) fn zones() -> Vec<ZoneRow> {
    let (cols, rows) = ZONES;
    let (w, h) = (2.0 * HALF / cols as f64, 2.0 * HALF / rows as f64);
    (0..rows * cols)
        .map(|i| {
            let (x, y) = ((i % cols) as f64, (i / cols) as f64);
            let (s, wst) = (CENTRE.0 - HALF + y * h, CENTRE.1 - HALF + x * w);
            let ring = [
                [wst, s],
                [wst + w, s],
                [wst + w, s + h],
                [wst, s + h],
                [wst, s],
            ];
            ZoneRow {
                id: zone_id(i),
                name: zone_id(i),
                kind: ZoneKind::Grid,
                geometry: serde_json::json!({"type": "Polygon", "coordinates": [ring]}).to_string(),
                properties: "{}".into(),
            }
        })
        .collect()
}

pub(crate) fn point(rng: &mut StdRng) -> (f64, f64) {
    (
        CENTRE.0 + rng.gen_range(-HALF..HALF),
        CENTRE.1 + rng.gen_range(-HALF..HALF),
    )
}

pub(crate) fn responder_id(n: usize) -> String {
    format!("r-{n:06}")
}

/// Adds responders `from..to`, on duty with a fresh fix, in transactions of [`CHUNK`]
/// rows. Straight SQL: the store creates responders one at a time, each with its MQTT
/// login in its own commit, which takes minutes for 100,000. The logins are left out; the
/// app reads them only when a phone connects.
pub(crate) async fn add_responders(url: &str, from: usize, to: usize) -> anyhow::Result<()> {
    sqlx::any::install_default_drivers();
    let mut c = sqlx::AnyConnection::connect(url).await?;
    let mut rng = StdRng::seed_from_u64(from as u64);
    let now = griddispatch::store::now_ms();
    let kinds = ["grid_worker", "patrol", "volunteer"];
    let travel = ["foot", "bike", "car"];
    let mut n = from;
    while n < to {
        let mut tx = c.begin().await?;
        for n in n..to.min(n + CHUNK) {
            let (lat, lon) = point(&mut rng);
            sqlx::query(
                "INSERT INTO responders (id, name, kind, travel, zone_id, skills, on_duty, lat, lon, fix_at, accuracy_m, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, '[]', $6, $7, $8, $9, 10.0, $10, $10)",
            )
            .bind(responder_id(n))
            .bind(format!("Responder {n}"))
            .bind(kinds[n % 3])
            .bind(travel[n % 3])
            .bind(zone_of(lat, lon))
            .bind(true)
            .bind(lat)
            .bind(lon)
            .bind(now - rng.gen_range(0..10 * MIN))
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        n = to.min(n + CHUNK);
    }
    c.close().await?;
    Ok(())
}

/// Adds cameras `from..to`, each with an RTSP stream on `closed_port` of 127.0.0.1.
pub(crate) async fn add_cameras(
    store: &Store,
    from: usize,
    to: usize,
    closed_port: u16,
) -> anyhow::Result<()> {
    let mut rng = StdRng::seed_from_u64(1000 + from as u64);
    let rows: Vec<CameraRow> = (from..to)
        .map(|n| {
            let (lat, lon) = point(&mut rng);
            CameraRow {
                id: format!("cam-{n:05}"),
                name: format!("Camera {n}"),
                lat,
                lon,
                zone_id: Some(zone_of(lat, lon)),
                stream_uri: Some(format!("rtsp://127.0.0.1:{closed_port}/cam-{n:05}")),
                gb28181_id: None,
                heading: Some(rng.gen_range(0.0..360.0)),
                fov: Some(90.0),
                onvif_metadata: false,
            }
        })
        .collect();
    for chunk in rows.chunks(5_000) {
        store.import_cameras(chunk).await?;
    }
    Ok(())
}

/// Closed incident `n` of `total` (spread evenly over the history), its alert and its three
/// tasks: an offer a colleague turned down, the worker's own, and the verification (all
/// withdrawn for the 5 % cancelled). 3 % come from the camera health source, as a
/// `camera_offline` incident does.
fn closed_incident(
    rng: &mut StdRng,
    settings: &Settings,
    (n, total, responders): (usize, usize, usize),
    out: &mut Vec<Write>,
) {
    let id = format!("h-{n:07}");
    let day = (n as i64 * HISTORY_DAYS) / total as i64;
    let created = HISTORY_START + day * DAY + rng.gen_range(0..DAY);
    let (lat, lon) = point(rng);
    let (kind, severity) = KINDS[rng.gen_range(0..KINDS.len())];
    let who = |rng: &mut StdRng| responder_id(rng.gen_range(0..responders));
    let (worker, other, checker) = (who(rng), who(rng), who(rng));
    let camera = rng.gen_bool(0.03);
    let source = if camera {
        griddispatch::domain::camera_health::SOURCE
    } else {
        "hotline"
    };
    let first = created + rng.gen_range(3 * SEC..30 * SEC);
    let offered = first + rng.gen_range(20 * SEC..120 * SEC);
    let mut m = Milestones {
        due_at: Some(settings.deadlines.due_at(kind, severity, created)),
        source_id: Some(source.to_owned()),
        first_offer_at: Some(first),
        ..Milestones::default()
    };
    out.push(Write::InsertAlert(AlertRow {
        id: format!("{id}-a"),
        source_id: source.to_owned(),
        external_id: id.clone(),
        incident_id: id.clone(),
        kind: kind.to_owned(),
        severity,
        lat,
        lon,
        camera_id: camera.then(|| format!("cam-{:05}", rng.gen_range(0..10_000))),
        time: created,
        received_at: created,
        description: None,
        address: None,
    }));
    let t0 = past_task(
        format!("{id}-t0"),
        &id,
        other,
        TaskStatus::Rejected,
        TaskPurpose::Respond,
        (first, offered),
        None,
    );
    let (state, t1, t2);
    if rng.gen_bool(0.05) {
        let end = offered + rng.gen_range(2 * MIN..20 * MIN);
        m.ended_at = Some(end);
        state = IncidentState::Cancelled;
        let withdrawn = |t, r| {
            let (s, p) = (TaskStatus::Withdrawn, TaskPurpose::Respond);
            past_task(format!("{id}-{t}"), &id, r, s, p, (offered, end), None)
        };
        (t1, t2) = (withdrawn("t1", worker), withdrawn("t2", checker));
    } else {
        let accepted = offered + rng.gen_range(10 * SEC..150 * SEC);
        let on_scene = accepted + rng.gen_range(2 * MIN..26 * MIN);
        let resolved = on_scene + rng.gen_range(5 * MIN..90 * MIN);
        let verify = resolved + rng.gen_range(10 * MIN..60 * MIN);
        (m.accepted_at, m.on_scene_at, m.resolved_at) =
            (Some(accepted), Some(on_scene), Some(resolved));
        m.resolver_id = Some(worker.clone());
        m.ended_at = Some(verify + 20 * MIN);
        state = IncidentState::Closed;
        t1 = past_task(
            format!("{id}-t1"),
            &id,
            worker,
            TaskStatus::Resolved,
            TaskPurpose::Respond,
            (offered, resolved),
            Some(accepted),
        );
        t2 = past_task(
            format!("{id}-t2"),
            &id,
            checker,
            TaskStatus::Resolved,
            TaskPurpose::Verify,
            (verify, verify + 20 * MIN),
            Some(verify + MIN),
        );
    }
    out.push(Write::InsertIncident(IncidentRow {
        id: id.clone(),
        kind: kind.to_owned(),
        severity,
        state,
        lat,
        lon,
        zone_id: Some(zone_of(lat, lon)),
        title: kind.to_owned(),
        description: None,
        address: None,
        rendezvous: None,
        offers_made: 3,
        manual: false,
        created_at: created,
        updated_at: m.ended_at.unwrap_or(created),
        last_alert_at: created,
        milestones: m,
    }));
    // The incident first: the alert and the tasks refer to it.
    let incident = out.pop().expect("just pushed");
    let alert = out.pop().expect("pushed above");
    out.extend([incident, alert]);
    out.extend([t0, t1, t2].map(Write::InsertTask));
}

/// Writes `total` closed incidents through the store, [`CHUNK`] writes per transaction.
pub(crate) async fn add_history(
    store: &Store,
    total: usize,
    responders: usize,
) -> anyhow::Result<Duration> {
    let settings = Settings::load_with_env(None, Vec::<(String, String)>::new())
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut rng = StdRng::seed_from_u64(19);
    let started = Instant::now();
    let mut batch = Vec::with_capacity(CHUNK + 8);
    for n in 0..total {
        closed_incident(&mut rng, &settings, (n, total, responders), &mut batch);
        if batch.len() >= CHUNK || n + 1 == total {
            store.apply(&batch, &mut []).await?;
            batch.clear();
        }
        if n % 100_000 == 99_999 {
            eprintln!("  {} incidents written, {:.0?}", n + 1, started.elapsed());
        }
    }
    Ok(started.elapsed())
}

/// A fresh database with the zones, `responders` and `history` closed incidents.
pub(crate) async fn fill(url: &str, responders: usize, history: usize) -> anyhow::Result<()> {
    let store = Store::connect(url, 4).await?;
    store.put_zones(&zones(), false).await?;
    add_responders(url, 0, responders).await?;
    if history > 0 {
        let took = add_history(&store, history, responders).await?;
        eprintln!("  history written in {took:.1?}");
    }
    store.close().await;
    Ok(())
}

pub(crate) async fn count(url: &str, table: &str) -> anyhow::Result<i64> {
    sqlx::any::install_default_drivers();
    let mut c = sqlx::AnyConnection::connect(url).await?;
    let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
        .fetch_one(&mut c)
        .await?;
    c.close().await?;
    Ok(n)
}
