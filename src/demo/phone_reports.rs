//! The demo's volunteers report what they see from their phones (随手拍): within a minute of
//! the start, then every few minutes, one
//! of them, near their station, sends a report with a photo, which the county dispatches
//! like any other alert (`POST /api/v1/field/reports`).

use std::time::Duration;

use base64::Engine as _;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::DemoResponder;
use crate::sim::api::{ApiClient, MqttCredentials};

/// What volunteers in Wuda's streets report, with words they would type.
const SIGHTS: [(&str, &str); 6] = [
    ("litter", "楼道口堆放大量纸箱杂物"),
    ("fire_lane", "消防通道被电动车和私家车堵住"),
    ("road_damage", "人行道地砖松动破损，老人容易绊倒"),
    ("manhole", "小区门口井盖缺失，已用纸箱临时遮挡"),
    ("parking", "车辆长时间占用盲道停放"),
    ("elderly_help", "独居老人家中多日未见开灯，请网格员上门看看"),
];

/// Test-card patterns standing in for the phones' photos.
const PICTURES: [&str; 3] = ["smpte", "ball", "pinwheel"];

/// Every 3–6 minutes, one volunteer's report; until `cancel`.
pub async fn run(
    api: ApiClient,
    volunteers: Vec<(DemoResponder, MqttCredentials)>,
    seed: u64,
    cancel: CancellationToken,
) {
    if volunteers.is_empty() {
        return;
    }
    let mut rng = StdRng::seed_from_u64(seed);
    let mut n = 0u64;
    loop {
        // The first soon after start, so a newcomer sees one.
        let wait = Duration::from_secs(if n == 0 {
            rng.gen_range(30..=60)
        } else {
            rng.gen_range(180..=360)
        });
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
        let Some((who, phone)) = volunteers.choose(&mut rng) else {
            return;
        };
        let Some(&(kind, note)) = SIGHTS.choose(&mut rng) else {
            return;
        };
        let pattern = PICTURES[(n % PICTURES.len() as u64) as usize];
        let photo = tokio::task::spawn_blocking(move || {
            crate::video::snapshot::test_card_jpeg(640, 480, pattern)
        })
        .await
        .ok()
        .and_then(Result::ok)
        .map(|jpeg| base64::engine::general_purpose::STANDARD.encode(jpeg));
        n += 1;
        let body = json!({
            "request_id": format!("demo-{}-{n}", crate::clock::now_ms()),
            "kind": kind,
            "note": note,
            "lat": who.home.lat + rng.gen_range(-0.0015..0.0015),
            "lon": who.home.lon + rng.gen_range(-0.0015..0.0015),
            "photo": photo,
        });
        match api.report_from_phone(phone, &body).await {
            Ok(incident) => {
                tracing::info!(volunteer = %who.id, %kind, %incident, "demo: a volunteer's phone report")
            }
            Err(e) => {
                tracing::warn!(volunteer = %who.id, error = %e, "demo: a phone report failed")
            }
        }
    }
}
