//! The stream health schedule: every `video.probe_interval_secs`, probe every camera that
//! has a stream, at most `video.max_concurrent_probes` at once, each within
//! `video.probe_timeout_secs`, and report each result to the dispatcher as a camera status.
//!
//! Probes run on blocking threads (GStreamer blocks); the bound on concurrency is also the
//! bound on those threads, so a network where half the cameras never answer costs time, not
//! threads or memory. Rounds never overlap: a round that takes longer than the interval is
//! followed at once by the next.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::probe::probe;
use super::stream::{self, StreamError};
use crate::clock::now_ms;
use crate::dispatch::{Command, Dispatcher};
use crate::metrics::Metrics;
use crate::store::Store;

/// The probe schedule and where its results go.
#[derive(Debug, Clone)]
pub struct Prober {
    /// Where the cameras come from (re-read every round, so changes apply at the next one).
    pub store: Store,
    /// Receives each result as [`Command::CameraStatus`].
    pub dispatcher: Dispatcher,
    /// Counters and the last round's duration.
    pub metrics: Arc<Metrics>,
    /// From the start of one round to the start of the next.
    pub interval: Duration,
    /// Budget of one probe, connection included.
    pub timeout: Duration,
    /// Probes running at once.
    pub max_concurrent: usize,
}

impl Prober {
    /// Probes round after round until `cancel` fires. Without GStreamer it logs once and
    /// idles: everything else keeps working.
    pub async fn run(self, cancel: CancellationToken) -> anyhow::Result<()> {
        if let Err(e) = stream::init() {
            tracing::error!(error = %e, "camera stream probes are off");
            cancel.cancelled().await;
            return Ok(());
        }
        let permits = Arc::new(Semaphore::new(self.max_concurrent.max(1)));
        loop {
            let started = Instant::now();
            tokio::select! {
                _ = cancel.cancelled() => return Ok(()),
                r = self.round(&permits) => match r {
                    Ok(cameras) => {
                        let ms = started.elapsed().as_millis();
                        tracing::debug!(cameras, ms, "camera probe round done");
                        self.metrics.camera_probe_round_ms.set(crate::metrics::gauge_value(ms));
                        self.metrics.camera_probe_round_cameras.set(crate::metrics::gauge_value(cameras));
                        self.metrics.camera_probe_rounds_total.inc();
                        if started.elapsed() > self.interval {
                            tracing::warn!(cameras, ms, interval_ms = self.interval.as_millis(),
                                "a camera probe round took longer than video.probe_interval_secs; \
                                 raise video.max_concurrent_probes or lower video.probe_timeout_secs");
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "camera probe round failed"),
                },
            }
            let rest = self.interval.saturating_sub(started.elapsed());
            tokio::select! {
                _ = cancel.cancelled() => return Ok(()),
                _ = tokio::time::sleep(rest) => {}
            }
        }
    }

    /// Probes every camera with a stream once; returns how many.
    async fn round(&self, permits: &Arc<Semaphore>) -> anyhow::Result<usize> {
        let cameras = self.store.camera_streams().await?;
        let count = cameras.len();
        let mut running = JoinSet::new();
        for (camera_id, uri) in cameras {
            // Waiting here, not inside the spawned task, keeps at most `max_concurrent`
            // tasks (and blocking threads) alive however many cameras there are.
            let permit = permits.clone().acquire_owned().await?;
            let timeout = self.timeout;
            let this = self.clone();
            running.spawn(async move {
                let result = tokio::task::spawn_blocking(move || probe(&uri, timeout)).await;
                drop(permit);
                let result = result.unwrap_or_else(|e| {
                    Err(StreamError::Failed(format!("probe thread failed: {e}")))
                });
                this.report(camera_id, result).await;
            });
            // Collect finished probes as we go so the set stays small.
            while running.try_join_next().is_some() {}
        }
        while running.join_next().await.is_some() {}
        Ok(count)
    }

    /// Hands one probe result to the dispatcher.
    async fn report(
        &self,
        camera_id: String,
        result: Result<crate::domain::camera_health::StreamFacts, StreamError>,
    ) {
        self.metrics.camera_probes_total.inc();
        let cmd = match result {
            Ok(facts) => Command::CameraStatus {
                camera_id,
                online: true,
                reason: None,
                at_ms: now_ms(),
                stream: Some(facts),
            },
            Err(e) => {
                self.metrics.camera_probe_failures_total.inc();
                tracing::debug!(camera = %camera_id, error = %e, "camera probe failed");
                Command::CameraStatus {
                    camera_id,
                    online: false,
                    reason: Some(format!("stream probe: {e}")),
                    at_ms: now_ms(),
                    stream: None,
                }
            }
        };
        if self.dispatcher.send(cmd).await.is_err() {
            tracing::debug!("dispatcher stopped; probe result dropped");
        }
    }
}
