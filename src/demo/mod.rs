//! Demo county: a handful of community grids (社区网格) in urban Wuda
//! district (乌达区), Wuhai, with grid workers, patrols, cameras and an alert
//! source, plus a driver that keeps it alive for demonstrations.
//!
//! Everything goes through the server's public HTTP + MQTT contract, and the
//! people and the source reuse the simulator's behaviour ([`crate::sim`]).

mod alerts;
mod data;
mod history;
pub mod https;
mod merchants;
mod phone_reports;
mod redemptions;
mod start;
pub mod streets;

use anyhow::Context;
use geo::Polygon;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

pub use self::alerts::DemoAlerts;
pub use self::data::BEAT_ID;
pub use self::history::past_task;
pub use self::merchants::DEMO_MERCHANT;
pub use self::start::{demo_user, seed, start};

use crate::domain::{LatLon, TravelMode};
use crate::sim::api::{ApiClient, Created, MqttCredentials, NewCamera, NewResponder};
use crate::sim::area::Area;
use crate::sim::source::{self, Cadence, SourceProfile};
use crate::sim::stats::Stats;
use crate::sim::worker::{self, Behaviour, WorkerContext, WorkerProfile};
use crate::sim::MqttEndpoint;

/// Id of the demo county's alert source.
pub const DEMO_SOURCE_ID: &str = "demo-source";

/// Demo timings run three times faster than life, so a task goes from offer
/// to resolved in a couple of minutes and the map stays lively.
pub const DEMO_PACE: f64 = 6.0;

/// A zone (grid or patrol beat).
#[derive(Debug, Clone)]
pub struct DemoZone {
    /// Zone id.
    pub id: String,
    /// Chinese name.
    pub name: String,
    /// English name.
    pub name_en: String,
    /// `grid` or `beat`.
    pub kind: String,
    /// Outline; x = lon, y = lat (GeoJSON order), exterior ring counter-clockwise.
    pub polygon: Polygon<f64>,
}

impl DemoZone {
    /// The zone as a GeoJSON Feature for `POST /api/v1/zones`.
    pub fn feature(&self) -> geojson::Feature {
        let mut props = geojson::JsonObject::new();
        props.insert("id".into(), self.id.clone().into());
        props.insert("name".into(), self.name.clone().into());
        props.insert("name_en".into(), self.name_en.clone().into());
        props.insert("kind".into(), self.kind.clone().into());
        geojson::Feature {
            bbox: None,
            geometry: Some(geojson::Geometry::new(geojson::Value::from(&self.polygon))),
            id: None,
            properties: Some(props),
            foreign_members: None,
        }
    }

    /// The zone as a movement area.
    pub fn area(&self) -> Area {
        Area::polygon(self.polygon.clone())
    }
}

/// A grid worker or patrol.
#[derive(Debug, Clone)]
pub struct DemoResponder {
    /// Responder id (`wd-gw-NN` grid workers, `wd-pt-NN` patrols).
    pub id: String,
    /// Chinese name.
    pub name: String,
    /// `grid_worker` or `patrol`.
    pub kind: String,
    /// How they travel.
    pub travel: TravelMode,
    /// Zone they belong to (a grid, or the beat for patrols).
    pub zone_id: String,
    /// Skill tags.
    pub skills: Vec<String>,
    /// Starting position.
    pub home: LatLon,
    /// OwnTracks tracker id.
    pub tid: String,
    /// The 喜邻 grid station a volunteer is based at.
    pub station_id: Option<String>,
}

/// A camera.
#[derive(Debug, Clone)]
pub struct DemoCamera {
    /// Camera id (`cam-NN`).
    pub id: String,
    /// Chinese name.
    pub name: String,
    /// English name.
    pub name_en: String,
    /// Latitude.
    pub lat: f64,
    /// Longitude.
    pub lon: f64,
    /// Zone it is in.
    pub zone_id: String,
}

/// What a landmark is, so alerts can pick a fitting one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LandmarkKind {
    /// Community gate — the usual rendezvous point.
    Gate,
    /// Market.
    Market,
    /// School or kindergarten.
    School,
    /// Square or park.
    Square,
    /// Road junction.
    Road,
}

/// A named place used in alert texts and rendezvous points.
#[derive(Debug, Clone)]
pub struct DemoLandmark {
    /// Chinese name.
    pub name: String,
    /// English name.
    pub name_en: String,
    /// Kind of place.
    pub kind: LandmarkKind,
    /// Zone it is in.
    pub zone_id: String,
    /// Position.
    pub position: LatLon,
}

/// The whole demo county.
#[derive(Debug, Clone)]
pub struct DemoCounty {
    /// Grid zones followed by the patrol beat.
    pub zones: Vec<DemoZone>,
    /// Grid workers followed by patrols.
    pub responders: Vec<DemoResponder>,
    /// Cameras.
    pub cameras: Vec<DemoCamera>,
    /// Named places.
    pub landmarks: Vec<DemoLandmark>,
    /// The alert source id.
    pub source_id: String,
}

impl DemoCounty {
    /// The zone with this id.
    pub fn zone(&self, id: &str) -> Option<&DemoZone> {
        self.zones.iter().find(|z| z.id == id)
    }
}

/// The demo county around Wuda district (乌达区), Wuhai: 6 grids, 1 beat,
/// 20 grid workers, 5 patrols, 5 volunteers based at 喜邻 grid stations, 10 cameras
/// (and, loaded beside it, 12 喜邻 merchants with 54 offers: `merchants.rs`).
pub fn county() -> DemoCounty {
    let mut county = data::build();
    // Volunteers based at the 喜邻 grid stations.
    county.responders.extend(merchants::volunteers());
    county
}

/// MQTT credentials for everything in the demo county.
#[derive(Debug, Clone)]
pub struct DemoCredentials {
    /// Per responder id.
    pub responders: BTreeMap<String, MqttCredentials>,
    /// The alert source's.
    pub source: MqttCredentials,
}

/// Registers the county with the server (idempotent) and returns the MQTT
/// credentials of every responder and of the alert source.
pub async fn load(url: &str, token: &str) -> anyhow::Result<DemoCredentials> {
    let api = ApiClient::new(url, token)?;
    load_county(&api, &county()).await
}

async fn load_county(api: &ApiClient, county: &DemoCounty) -> anyhow::Result<DemoCredentials> {
    for z in &county.zones {
        let created = api
            .ensure_zone(&z.feature())
            .await
            .with_context(|| format!("creating zone {}", z.id))?;
        tracing::debug!(zone = %z.id, ?created, "zone");
    }
    // Merchants first: volunteers are based at their stations.
    let new_merchants = merchants::load(api)
        .await
        .context("loading the 喜邻 merchants")?;
    let bodies: Vec<NewResponder> = county
        .responders
        .iter()
        .map(|r| NewResponder {
            id: r.id.clone(),
            name: r.name.clone(),
            kind: r.kind.clone(),
            travel: r.travel.as_str().to_string(),
            zone_id: Some(r.zone_id.clone()),
            skills: r.skills.clone(),
            on_duty: true,
            station_id: r.station_id.clone(),
        })
        .collect();
    let creds = crate::sim::register_all(api, bodies).await?;
    let responders = county
        .responders
        .iter()
        .map(|r| r.id.clone())
        .zip(creds)
        .collect();
    let mut new_cams = 0;
    for c in &county.cameras {
        let created = api
            .ensure_camera(&NewCamera {
                id: c.id.clone(),
                // The contract has one name field; both languages fit in it.
                name: format!("{} / {}", c.name, c.name_en),
                lat: c.lat,
                lon: c.lon,
                zone_id: Some(c.zone_id.clone()),
            })
            .await
            .with_context(|| format!("creating camera {}", c.id))?;
        if created == Created::New {
            new_cams += 1;
        }
    }
    let source = api
        .ensure_source(
            &county.source_id,
            "乌达区演示告警源 / Wuda demo alert source",
        )
        .await
        .context("registering the demo alert source")?;
    tracing::info!(
        zones = county.zones.len(),
        responders = county.responders.len(),
        cameras = county.cameras.len(),
        new_cameras = new_cams,
        merchants = merchants::MERCHANTS.len(),
        new_merchants,
        offers = merchants::OFFERS.len(),
        "demo county loaded"
    );
    Ok(DemoCredentials { responders, source })
}

/// Loads the county through `api`, then runs its workers and alert source until `cancel`.
/// `after_load` runs once the county is in (the month of history, whose closed cases
/// credit the county's volunteers, needs them on record).
pub async fn run(
    api: ApiClient,
    mqtt_url: &str,
    cancel: CancellationToken,
    after_load: futures::future::BoxFuture<'static, anyhow::Result<()>>,
) -> anyhow::Result<()> {
    let endpoint = MqttEndpoint::from_url(mqtt_url)?;
    let county = county();
    let creds = load_county(&api, &county).await?;
    after_load.await?;
    let stats = Arc::new(Stats::default());
    let stop = cancel.child_token();
    let mut tasks = JoinSet::new();

    // The demo also plays the operator who closes what workers resolved, so a newcomer
    // sees incidents go all the way to `closed`.
    let (closer, resolved) = tokio::sync::mpsc::unbounded_channel();
    tasks.spawn(crate::sim::run_operator(
        api.clone(),
        resolved,
        stats.clone(),
        stop.clone(),
    ));
    let ctx = WorkerContext {
        endpoint: endpoint.clone(),
        behaviour: Behaviour {
            pace: DEMO_PACE,
            ..Behaviour::default()
        },
        stats: stats.clone(),
        on_resolved: Some(closer),
    };
    for (i, r) in county.responders.iter().enumerate() {
        let zone = county
            .zone(&r.zone_id)
            .with_context(|| format!("responder {} has unknown zone {}", r.id, r.zone_id))?;
        let cred = creds
            .responders
            .get(&r.id)
            .cloned()
            .with_context(|| format!("no credentials for {}", r.id))?;
        let profile = WorkerProfile {
            id: r.id.clone(),
            tid: r.tid.clone(),
            travel: r.travel,
            area: zone.area(),
            start: r.home,
        };
        tasks.spawn(worker::run_worker(
            profile,
            cred,
            ctx.clone(),
            0xD3_0000 + i as u64,
            stop.clone(),
        ));
    }
    tasks.spawn(source::run_source(
        SourceProfile {
            id: county.source_id.clone(),
            creds: creds.source,
            cadence: Cadence::Uniform(Duration::from_secs(10), Duration::from_secs(20)),
            warmup: Duration::from_secs(3),
            run_id: crate::sim::run_id("demo"),
        },
        endpoint,
        Box::new(DemoAlerts::new(
            &county.zones,
            &county.landmarks,
            &county.cameras,
        )),
        stats.clone(),
        0xD3_FFFF,
        stop.clone(),
    ));
    let volunteers = county
        .responders
        .iter()
        .filter(|r| r.kind == "volunteer")
        .filter_map(|r| Some((r.clone(), creds.responders.get(&r.id)?.clone())))
        .collect();
    tasks.spawn(phone_reports::run(
        api.clone(),
        volunteers,
        0xD3_F00D,
        stop.clone(),
    ));
    tracing::info!("demo county running");
    let mut every = tokio::time::interval(Duration::from_secs(60));
    every.tick().await;
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = every.tick() => {
                let r = stats.report();
                tracing::info!(
                    alerts = r.alerts_sent, tasks = r.tasks_received, accepted = r.accepted,
                    rejected = r.rejected, resolved = r.resolved, refused_updates = r.update_rejections,
                    "demo progress"
                );
            }
        }
    }
    stop.cancel();
    crate::sim::join_all(tasks, Duration::from_secs(10)).await;
    Ok(())
}

#[cfg(test)]
mod tests;
