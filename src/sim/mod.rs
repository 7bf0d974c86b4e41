//! Load simulator: virtual grid workers and an alert source that talk to a
//! running griddispatch server only through its public HTTP + MQTT contract.
//!
//! The worker and source behaviour lives in [`worker`] and [`source`] and is
//! shared with the demo county ([`crate::demo`]), which only supplies other
//! profiles, areas and alert texts.

pub mod api;
pub mod area;
pub mod mqtt;
pub mod source;
pub mod stats;
pub mod worker;

use anyhow::{bail, Context};
use futures::stream::{self, StreamExt, TryStreamExt};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

pub use self::mqtt::MqttEndpoint;
pub use self::stats::SimReport;

use self::api::{ApiClient, MqttCredentials, NewResponder};
use self::area::{random_in_disk, Area};
use self::source::{Cadence, RandomAlerts, SourceProfile};
use self::stats::Stats;
use self::worker::{Behaviour, WorkerContext, WorkerProfile};
use crate::domain::{LatLon, TravelMode};

/// Id of the simulator's alert source.
pub const SIM_SOURCE_ID: &str = "sim-source";

/// Parallel HTTP requests while registering workers; enough to be quick,
/// few enough not to look like an attack on a small server.
const REGISTER_CONCURRENCY: usize = 8;

/// Simulation parameters.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// HTTP base URL of the server, e.g. `http://127.0.0.1:8080`.
    pub url: String,
    /// Admin bearer token.
    pub token: String,
    /// Broker URL, e.g. `mqtt://127.0.0.1:1883`.
    pub mqtt_url: String,
    /// Number of virtual workers (`sim-w0001`…).
    pub workers: usize,
    /// Alerts per second (Poisson arrivals); 0 disables alerts.
    pub rate: f64,
    /// How long to run.
    pub duration: Duration,
    /// Centre of the simulated area.
    pub center: LatLon,
    /// Seed for all random choices (positions, decisions, alerts).
    pub seed: u64,
    /// Radius of the simulated area in metres.
    pub radius_m: f64,
    /// Speed-up factor for worker timings (see [`worker::Behaviour::pace`]).
    pub pace: f64,
    /// Probability that a free worker accepts an offer.
    pub accept_probability: f64,
    /// Interval between a worker's location reports.
    pub location_interval: Duration,
    /// Act as an operator and close incidents once a worker resolved them.
    pub close_resolved: bool,
    /// For an https `url`: the PEM certificates trusted (a CA file); no others are.
    pub trust: Option<Vec<u8>>,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            url: "http://127.0.0.1:8080".to_string(),
            token: String::new(),
            mqtt_url: "mqtt://127.0.0.1:1883".to_string(),
            workers: 50,
            rate: 1.0,
            duration: Duration::from_secs(60),
            center: LatLon {
                lat: 39.50,
                lon: 106.70,
            },
            seed: 1,
            radius_m: 3000.0,
            pace: 10.0,
            accept_probability: 0.85,
            location_interval: Duration::from_secs(5),
            close_resolved: false,
            trust: None,
        }
    }
}

impl SimConfig {
    fn validate(&self) -> anyhow::Result<()> {
        if self.workers > 9999 {
            bail!("at most 9999 workers are supported (ids sim-w0001…sim-w9999)");
        }
        if !(self.rate >= 0.0 && self.rate.is_finite()) {
            bail!("rate must be a finite number ≥ 0, got {}", self.rate);
        }
        if !(self.pace > 0.0 && self.pace.is_finite()) {
            bail!("pace must be a finite number > 0, got {}", self.pace);
        }
        if !(0.0..=1.0).contains(&self.accept_probability) {
            bail!("accept_probability must be within 0..=1");
        }
        if self.location_interval.is_zero() {
            bail!("location_interval must be > 0");
        }
        Ok(())
    }
}

/// Builds the responder profiles for a simulation, deterministically from the seed.
fn sim_workers(cfg: &SimConfig, rng: &mut StdRng) -> Vec<(NewResponder, WorkerProfile)> {
    let area = Area::Circle {
        center: cfg.center,
        radius_m: cfg.radius_m,
    };
    (1..=cfg.workers)
        .map(|i| {
            let id = format!("sim-w{i:04}");
            let roll: f64 = rng.gen();
            // Mostly grid workers, some patrols, a few volunteers — like a real county.
            let (kind, travel, label) = if roll < 0.75 {
                let t = if rng.gen_bool(0.5) {
                    TravelMode::Foot
                } else {
                    TravelMode::Bike
                };
                ("grid_worker", t, "模拟网格员 / Sim grid worker")
            } else if roll < 0.95 {
                ("patrol", TravelMode::Car, "模拟巡逻 / Sim patrol")
            } else {
                ("volunteer", TravelMode::Foot, "模拟志愿者 / Sim volunteer")
            };
            let start = random_in_disk(rng, cfg.center, cfg.radius_m);
            let body = NewResponder {
                id: id.clone(),
                name: format!("{label} {i:04}"),
                kind: kind.to_string(),
                travel: travel.as_str().to_string(),
                zone_id: None,
                skills: Vec::new(),
                on_duty: true,
                station_id: None,
            };
            let profile = WorkerProfile {
                id,
                tid: format!("{:02}", i % 100),
                travel,
                area: area.clone(),
                start,
            };
            (body, profile)
        })
        .collect()
}

/// Registers every responder (create, or reset its password) and returns
/// the credentials in the same order.
pub(crate) async fn register_all(
    api: &ApiClient,
    bodies: Vec<NewResponder>,
) -> anyhow::Result<Vec<MqttCredentials>> {
    stream::iter(bodies.into_iter().map(|b| {
        let api = api.clone();
        async move {
            api.ensure_responder(&b)
                .await
                .with_context(|| format!("registering responder {}", b.id))
        }
    }))
    .buffered(REGISTER_CONCURRENCY)
    .try_collect()
    .await
}

/// Closes incidents as their tasks get resolved, acting as the operator.
pub(crate) async fn run_operator(
    api: ApiClient,
    mut resolved: mpsc::UnboundedReceiver<String>,
    stats: Arc<Stats>,
    cancel: CancellationToken,
) {
    let mut closed = HashSet::new();
    loop {
        let inc = tokio::select! {
            _ = cancel.cancelled() => break,
            m = resolved.recv() => match m { Some(i) => i, None => break },
        };
        if inc.is_empty() || !closed.insert(inc.clone()) {
            continue;
        }
        match api
            .close_incident(&inc, "模拟操作员关闭 / closed by simulated operator")
            .await
        {
            Ok(()) => {
                Stats::inc(&stats.incidents_closed);
                tracing::debug!(incident = %inc, "closed incident");
            }
            Err(e) => tracing::warn!(incident = %inc, error = %format!("{e:#}"), "close failed"),
        }
    }
}

/// Joins spawned tasks, aborting stragglers after `grace`.
pub(crate) async fn join_all(mut set: JoinSet<()>, grace: Duration) {
    let drained = tokio::time::timeout(grace, async {
        while let Some(res) = set.join_next().await {
            if let Err(e) = res {
                if e.is_panic() {
                    tracing::error!(error = %e, "simulation task panicked");
                }
            }
        }
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            remaining = set.len(),
            "tasks did not stop in time; aborting"
        );
        set.abort_all();
    }
}

/// A run id that differs between runs, so alert ids stay unique per source.
pub(crate) fn run_id(prefix: &str) -> String {
    format!("{prefix}-{}", chrono::Utc::now().format("%Y%m%dT%H%M%S%3f"))
}

/// Runs the simulation for `cfg.duration` or until `cancel`, then
/// disconnects everything and returns the counters.
pub async fn run(cfg: SimConfig, cancel: CancellationToken) -> anyhow::Result<SimReport> {
    cfg.validate()?;
    let endpoint = MqttEndpoint::from_url(&cfg.mqtt_url)?;
    let api = ApiClient::trusting(&cfg.url, &cfg.token, cfg.trust.as_deref())?;

    let source_creds = api
        .ensure_source(SIM_SOURCE_ID, "模拟告警源 / Simulator alert source")
        .await
        .context("registering the simulator's alert source")?;
    let mut rng = StdRng::seed_from_u64(cfg.seed);
    let (bodies, profiles): (Vec<_>, Vec<_>) = sim_workers(&cfg, &mut rng).into_iter().unzip();
    tracing::info!(workers = bodies.len(), "registering simulated workers");
    let creds = register_all(&api, bodies).await?;

    let stats = Arc::new(Stats::default());
    let stop = cancel.child_token();
    let mut tasks = JoinSet::new();
    let on_resolved = if cfg.close_resolved {
        let (tx, rx) = mpsc::unbounded_channel();
        tasks.spawn(run_operator(api.clone(), rx, stats.clone(), stop.clone()));
        Some(tx)
    } else {
        None
    };
    let ctx = WorkerContext {
        endpoint: endpoint.clone(),
        behaviour: Behaviour {
            pace: cfg.pace,
            accept_probability: cfg.accept_probability,
            location_interval: cfg.location_interval,
        },
        stats: stats.clone(),
        on_resolved,
    };
    for (profile, cred) in profiles.into_iter().zip(creds) {
        let seed = rng.gen();
        tasks.spawn(worker::run_worker(
            profile,
            cred,
            ctx.clone(),
            seed,
            stop.clone(),
        ));
    }
    // The context holds a sender; drop ours so the operator ends with the workers.
    drop(ctx);
    tasks.spawn(source::run_source(
        SourceProfile {
            id: SIM_SOURCE_ID.to_string(),
            creds: source_creds,
            cadence: Cadence::Poisson(cfg.rate),
            warmup: Duration::from_secs(2),
            run_id: run_id("sim"),
        },
        endpoint,
        Box::new(RandomAlerts {
            center: cfg.center,
            radius_m: cfg.radius_m,
        }),
        stats.clone(),
        rng.gen(),
        stop.clone(),
    ));
    tracing::info!(duration = ?cfg.duration, rate = cfg.rate, "simulation running");
    tokio::select! {
        _ = tokio::time::sleep(cfg.duration) => {}
        _ = cancel.cancelled() => tracing::info!("simulation cancelled"),
    }
    stop.cancel();
    join_all(tasks, Duration::from_secs(10)).await;
    Ok(stats.report())
}

/// `simulate`'s options besides the addresses and the token.
#[derive(Debug, Clone)]
pub struct SimRun {
    /// Number of virtual workers.
    pub workers: usize,
    /// Alerts per second.
    pub rate: f64,
    /// Seconds to run.
    pub duration: u64,
    /// `--ca-file`'s certificates (PEM), for an https URL.
    pub trust: Option<Vec<u8>>,
}

/// `griddispatch simulate`: drives virtual workers and an alert source against `url`.
pub async fn simulate(
    url: String,
    token: String,
    mqtt_url: Option<String>,
    SimRun {
        workers,
        rate,
        duration,
        trust,
    }: SimRun,
) -> anyhow::Result<()> {
    if !(rate.is_finite() && rate > 0.0) {
        anyhow::bail!("--rate must be a number of alerts per second > 0");
    }
    let mqtt_url = match mqtt_url {
        Some(u) => u,
        None => {
            let parsed =
                reqwest::Url::parse(&url).map_err(|e| anyhow::anyhow!("--url {url:?}: {e}"))?;
            let host = parsed
                .host_str()
                .ok_or_else(|| anyhow::anyhow!("--url {url:?}: no host"))?;
            format!("mqtt://{host}:1883")
        }
    };
    let cfg = SimConfig {
        url,
        token,
        mqtt_url,
        workers,
        rate,
        duration: Duration::from_secs(duration),
        close_resolved: true,
        trust,
        ..SimConfig::default()
    };
    let cancel = CancellationToken::new();
    crate::app::stop_on_signals(cancel.clone());
    let report = run(cfg, cancel).await?;
    #[allow(clippy::print_stdout)]
    {
        println!("{report}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sim_workers_are_deterministic_and_in_range() {
        let cfg = SimConfig {
            workers: 200,
            ..SimConfig::default()
        };
        let a = sim_workers(&cfg, &mut StdRng::seed_from_u64(5));
        let b = sim_workers(&cfg, &mut StdRng::seed_from_u64(5));
        assert_eq!(a.len(), 200);
        assert_eq!(a[0].0.id, "sim-w0001");
        assert_eq!(a[199].0.id, "sim-w0200");
        let grid = a.iter().filter(|(r, _)| r.kind == "grid_worker").count();
        assert!(grid > 100, "mostly grid workers, got {grid}");
        assert!(a.iter().any(|(r, _)| r.kind == "patrol"));
        for ((ra, pa), (_, pb)) in a.iter().zip(&b) {
            assert_eq!(pa.start, pb.start);
            assert!(pa.start.distance_m(cfg.center) <= cfg.radius_m + 1.0);
            assert_eq!(ra.travel, pa.travel.as_str());
        }
    }

    #[test]
    fn config_validation() {
        assert!(SimConfig::default().validate().is_ok());
        let bad = SimConfig {
            pace: 0.0,
            ..SimConfig::default()
        };
        assert!(bad.validate().is_err());
        let bad = SimConfig {
            rate: f64::NAN,
            ..SimConfig::default()
        };
        assert!(bad.validate().is_err());
    }
}
