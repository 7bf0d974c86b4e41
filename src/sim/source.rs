//! A simulated alert source (sensor gateway, hotline bridge, camera
//! analytics…) publishing alerts to `alerts/<source_id>`.

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::api::MqttCredentials;
use super::area::{offset, random_in_disk};
use super::mqtt::{self, MqttEndpoint};
use super::stats::{Stats, ALERT_TAG};
use crate::domain::LatLon;

/// A meeting point for responders (e.g. where an ambulance waits).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rendezvous {
    /// Latitude.
    pub lat: f64,
    /// Longitude.
    pub lon: f64,
    /// What/where it is.
    pub note: String,
}

/// One alert as published on `alerts/<source_id>`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alert {
    /// Unique per source.
    pub id: String,
    /// medical, fire, fall, intrusion, fight, flood, traffic, guidance, …
    pub kind: String,
    /// 1 (most urgent) to 4.
    pub severity: u8,
    /// Latitude, unless `camera_id` locates the alert.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lat: Option<f64>,
    /// Longitude, unless `camera_id` locates the alert.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lon: Option<f64>,
    /// Camera that raised the alert.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub camera_id: Option<String>,
    /// RFC 3339 time of the event.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    /// Free text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Street address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Meeting point.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rendezvous: Option<Rendezvous>,
}

impl Alert {
    /// The alert's coordinates, if given directly.
    pub fn location(&self) -> Option<LatLon> {
        Some(LatLon {
            lat: self.lat?,
            lon: self.lon?,
        })
    }
}

/// Produces the alerts a source publishes.
pub trait AlertMaker: Send + std::fmt::Debug {
    /// Makes the next alert; `id` is already unique for this source.
    fn make(&mut self, rng: &mut StdRng, id: String) -> Alert;
}

/// How often a source fires.
#[derive(Debug, Clone, PartialEq)]
pub enum Cadence {
    /// Poisson arrivals at this many alerts per second.
    Poisson(f64),
    /// Uniformly random gaps between the two bounds.
    Uniform(Duration, Duration),
}

impl Cadence {
    /// Draws the gap until the next alert; `None` means never.
    pub fn next_gap<R: Rng + ?Sized>(&self, rng: &mut R) -> Option<Duration> {
        match self {
            Cadence::Poisson(rate) if *rate > 0.0 && rate.is_finite() => {
                // Inverse-CDF sampling of the exponential distribution; 1-u avoids ln(0).
                let u: f64 = rng.gen();
                Some(Duration::from_secs_f64(-(1.0 - u).ln() / rate))
            }
            Cadence::Poisson(_) => None,
            Cadence::Uniform(lo, hi) => {
                let (lo, hi) = (lo.as_secs_f64(), hi.as_secs_f64().max(lo.as_secs_f64()));
                Some(Duration::from_secs_f64(rng.gen_range(lo..=hi)))
            }
        }
    }
}

/// A source to run.
#[derive(Debug, Clone)]
pub struct SourceProfile {
    /// Source id (topic `alerts/<id>`).
    pub id: String,
    /// Its MQTT credentials.
    pub creds: MqttCredentials,
    /// Alert rhythm.
    pub cadence: Cadence,
    /// Wait before the first alert, so workers have connected and reported
    /// a location before anything needs dispatching.
    pub warmup: Duration,
    /// Prefix making alert ids unique across runs (servers may deduplicate
    /// on source + id).
    pub run_id: String,
}

/// Publishes alerts until `cancel`, then disconnects.
pub async fn run_source(
    profile: SourceProfile,
    endpoint: MqttEndpoint,
    mut maker: Box<dyn AlertMaker>,
    stats: Arc<Stats>,
    seed: u64,
    cancel: CancellationToken,
) {
    let session = mqtt::connect(&endpoint, &profile.id, &profile.creds, Vec::new());
    let mut rng = StdRng::seed_from_u64(seed);
    let topic = format!("alerts/{}", profile.id);
    // Scheduling against an absolute clock keeps the average rate right even
    // when individual timers fire late.
    let mut next_at = Instant::now() + profile.warmup;
    let mut seq: u64 = 0;
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = tokio::time::sleep_until(next_at) => {}
        }
        seq += 1;
        let mut alert = maker.make(&mut rng, format!("{}-{seq:06}", profile.run_id));
        if alert.time.is_none() {
            alert.time = Some(chrono::Utc::now().to_rfc3339());
        }
        match serde_json::to_vec(&alert) {
            Ok(payload) => {
                stats.alert_sent(&alert.id, alert.location(), std::time::Instant::now());
                if session.publish(topic.clone(), payload, false) {
                    Stats::inc(&stats.alerts_sent);
                    tracing::debug!(source = %profile.id, alert = %alert.id, kind = %alert.kind, "alert");
                } else {
                    Stats::inc(&stats.alerts_failed);
                }
            }
            Err(e) => {
                Stats::inc(&stats.alerts_failed);
                tracing::warn!(error = %e, "cannot serialise alert");
            }
        }
        match profile.cadence.next_gap(&mut rng) {
            Some(gap) => next_at += gap,
            None => break,
        }
        // If we fell far behind (e.g. a stalled runtime) don't burst to catch up.
        let now = Instant::now();
        if next_at + Duration::from_secs(1) < now {
            next_at = now;
        }
    }
    session.close().await;
}

/// Kind, severity range and bilingual description templates for random alerts.
const RANDOM_KINDS: &[(&str, u8, u8, &str)] = &[
    ("medical", 1, 2, "有人突发疾病 / person taken ill"),
    (
        "fall",
        1,
        3,
        "老人摔倒无法起身 / elderly person fallen, cannot get up",
    ),
    ("fire", 1, 2, "楼道冒烟 / smoke in stairwell"),
    ("fight", 2, 3, "有人打架 / fight in progress"),
    ("flood", 2, 4, "路面积水 / street flooding"),
    ("traffic", 2, 3, "交通事故 / traffic collision"),
    (
        "intrusion",
        2,
        3,
        "可疑人员翻越围墙 / suspect climbing a wall",
    ),
    (
        "guidance",
        3,
        4,
        "救护车需要引导 / ambulance needs guidance",
    ),
    ("noise", 4, 4, "噪音扰民 / noise complaint"),
];

/// Random alerts around a centre, for load simulation. Descriptions carry a
/// `[sim:<id>]` tag so tasks can be matched to alerts for latency.
#[derive(Debug, Clone)]
pub struct RandomAlerts {
    /// Centre of the area.
    pub center: LatLon,
    /// Radius in metres.
    pub radius_m: f64,
}

impl AlertMaker for RandomAlerts {
    fn make(&mut self, rng: &mut StdRng, id: String) -> Alert {
        let &(kind, lo, hi, text) =
            RANDOM_KINDS
                .choose(rng)
                .unwrap_or(&("medical", 2, 2, "求助 / help request"));
        let p = random_in_disk(rng, self.center, self.radius_m);
        let rendezvous = (kind == "guidance" || rng.gen_bool(0.15)).then(|| {
            let LatLon { lat, lon } =
                offset(p, rng.gen_range(-80.0..80.0), rng.gen_range(-80.0..80.0));
            Rendezvous {
                lat,
                lon,
                note: "小区大门口会合 / meet at the compound gate".to_string(),
            }
        });
        Alert {
            description: Some(format!("{text} {ALERT_TAG}{id}]")),
            kind: kind.to_string(),
            severity: rng.gen_range(lo..=hi),
            lat: Some(p.lat),
            lon: Some(p.lon),
            camera_id: None,
            time: None,
            address: None,
            rendezvous,
            id,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::stats::alert_tag;

    #[test]
    fn random_alerts_are_valid() {
        let center = LatLon {
            lat: 39.5,
            lon: 106.7,
        };
        let mut m = RandomAlerts {
            center,
            radius_m: 3000.0,
        };
        let mut rng = StdRng::seed_from_u64(1);
        for i in 0..200 {
            let a = m.make(&mut rng, format!("r-{i}"));
            assert!((1..=4).contains(&a.severity));
            let loc = a.location().unwrap();
            assert!(loc.distance_m(center) <= 3001.0);
            assert_eq!(
                alert_tag(a.description.as_deref().unwrap()),
                Some(a.id.as_str())
            );
            let json = serde_json::to_value(&a).unwrap();
            assert!(json.get("camera_id").is_none());
        }
    }

    #[test]
    fn cadence_rates() {
        let mut rng = StdRng::seed_from_u64(2);
        let c = Cadence::Poisson(10.0);
        let total: f64 = (0..5000)
            .map(|_| c.next_gap(&mut rng).unwrap().as_secs_f64())
            .sum();
        let mean = total / 5000.0;
        assert!((mean - 0.1).abs() < 0.01, "mean gap {mean}");
        assert_eq!(Cadence::Poisson(0.0).next_gap(&mut rng), None);
        let u = Cadence::Uniform(Duration::from_secs(10), Duration::from_secs(20));
        for _ in 0..100 {
            let g = u.next_gap(&mut rng).unwrap();
            assert!(g >= Duration::from_secs(10) && g <= Duration::from_secs(20));
        }
    }
}
