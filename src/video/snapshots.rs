//! Snapshots on alerts: after an alert naming a camera is stored, one picture is taken for
//! its incident (a frame of the camera's stream, or Frigate's picture of the event), kept
//! as a file under the data folder, listed in the database, and announced to the
//! dispatcher, which puts its link into the open tasks.
//!
//! The dispatcher only drops a [`SnapshotRequest`] into a bounded queue and never waits:
//! when the queue is full the request is dropped and counted. Stream grabs run on blocking
//! threads; every grab or fetch holds a permit of a semaphore
//! (`video.max_concurrent_snapshots`). Results are stored one at a time by the service's
//! own task, which is the only writer of the `snapshots` table, so numbering needs no lock.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, Semaphore};
use tokio_util::sync::CancellationToken;

use super::snapshot::{grab_jpeg, jpeg_dimensions, looks_like_jpeg};
use crate::config::Settings;
use crate::dispatch::{Command, Dispatcher, SnapshotRequest};
use crate::domain::alert::{Photo, SnapshotSource};
use crate::metrics::Metrics;
use crate::store::{now_ms, SnapshotRow, Store, StoreError};
use crate::views::SnapshotFiles;

/// Grabs and fetches waiting for a permit or running, at most; more are dropped (and
/// counted) rather than piling up behind a slow camera.
const MAX_PENDING: usize = 64;

/// Largest picture accepted from Frigate. Its snapshots are a few hundred KiB; anything
/// far bigger is not a snapshot.
const MAX_FRIGATE_BYTES: usize = 10 * 1024 * 1024;

/// How long an incident's attempt counts are remembered after its last request, ms.
const FORGET_AFTER_MS: i64 = 24 * 3600 * 1000;

/// Why a request is not taken up now.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Refusal {
    /// The same camera (or Frigate event) had a try for this incident too recently.
    TooSoon,
    /// The incident had its share.
    Enough,
    /// Frigate's picture of this event is already stored.
    Done,
}

/// Attempts for one incident.
#[derive(Debug, Default)]
struct Attempts {
    /// Tries so far (successful or not).
    count: u32,
    /// Key (`stream:<camera>`, `frigate:<event>`) → time of its last try, ms.
    last: HashMap<String, i64>,
    /// Keys that need no more tries (a Frigate event whose picture is stored).
    done: HashSet<String>,
    /// Last request, ms (to forget idle incidents).
    touched: i64,
}

/// Bounds on snapshots: one per camera per incident per interval, and a total per
/// incident, so that a camera alerting all day cannot fill the disk. Kept in memory: a
/// restart at worst allows one more round.
#[derive(Debug)]
struct Limiter {
    /// Least time between two tries of one key for one incident, ms.
    interval_ms: i64,
    /// Most tries per incident.
    max_per_incident: u32,
    /// Incident id → its tries.
    incidents: HashMap<String, Attempts>,
    /// Last time idle incidents were forgotten, ms.
    pruned_at: i64,
}

impl Limiter {
    fn new(interval_ms: i64, max_per_incident: u32) -> Limiter {
        Limiter {
            interval_ms,
            max_per_incident,
            incidents: HashMap::new(),
            pruned_at: 0,
        }
    }

    /// Counts a try of `key` for `incident` at `now`, or says why not.
    fn admit(&mut self, incident: &str, key: &str, now: i64) -> Result<(), Refusal> {
        if now - self.pruned_at > 60_000 {
            self.incidents
                .retain(|_, a| now - a.touched < FORGET_AFTER_MS);
            self.pruned_at = now;
        }
        let a = self.incidents.entry(incident.to_owned()).or_default();
        a.touched = now;
        if a.done.contains(key) {
            return Err(Refusal::Done);
        }
        if a.count >= self.max_per_incident {
            return Err(Refusal::Enough);
        }
        if a.last
            .get(key)
            .is_some_and(|at| now - at < self.interval_ms)
        {
            return Err(Refusal::TooSoon);
        }
        a.count += 1;
        a.last.insert(key.to_owned(), now);
        Ok(())
    }

    /// `key` needs no more tries for `incident`.
    fn finished(&mut self, incident: &str, key: &str) {
        self.incidents
            .entry(incident.to_owned())
            .or_default()
            .done
            .insert(key.to_owned());
    }
}

/// How one picture is got.
#[derive(Debug, Clone)]
enum Fetch {
    /// One frame of this stream.
    Stream(String),
    /// Frigate's picture of this event.
    Frigate(String),
    /// The photo sent with a report: nothing to fetch.
    Photo(Photo),
}

impl Fetch {
    /// Name of the source, as stored.
    fn source(&self) -> &'static str {
        match self {
            Fetch::Stream(_) => "stream",
            Fetch::Frigate(_) => "frigate",
            Fetch::Photo(_) => "field",
        }
    }
}

/// A finished grab or fetch, back on the service's task.
#[derive(Debug)]
struct Taken {
    /// What was asked.
    req: SnapshotRequest,
    /// The limiter key it counted under.
    key: String,
    /// `stream` or `frigate`.
    source: &'static str,
    /// The JPEG, or why there is none.
    result: Result<Vec<u8>, String>,
}

/// The service that takes snapshots; see the module docs.
#[derive(Debug)]
pub struct SnapshotService {
    /// For camera streams and the snapshot list.
    store: Store,
    /// Told of every stored or failed snapshot.
    dispatcher: Dispatcher,
    /// Counters.
    metrics: Arc<Metrics>,
    /// Where files go.
    files: SnapshotFiles,
    /// Budget of one grab or fetch.
    timeout: Duration,
    /// Grabs and fetches at once.
    max_concurrent: usize,
    /// Frigate's base URL, when configured.
    frigate_url: Option<reqwest::Url>,
    /// For Frigate.
    http: reqwest::Client,
    /// Per-incident bounds.
    limiter: Limiter,
}

impl SnapshotService {
    /// A service as configured.
    pub fn new(
        settings: &Settings,
        store: Store,
        dispatcher: Dispatcher,
        metrics: Arc<Metrics>,
    ) -> anyhow::Result<SnapshotService> {
        let v = &settings.video;
        let timeout = Duration::from_secs(v.snapshot_timeout_secs);
        let frigate_url = settings.frigate.url.as_ref().map(|u| u.url().clone());
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()
            .map_err(|e| anyhow::anyhow!("frigate.url: cannot make an HTTP client: {e}"))?;
        Ok(SnapshotService {
            store,
            dispatcher,
            metrics,
            files: SnapshotFiles::from_settings(settings),
            timeout,
            max_concurrent: v.max_concurrent_snapshots,
            frigate_url,
            http,
            limiter: Limiter::new(
                i64::try_from(v.snapshot_interval_secs)
                    .unwrap_or(i64::MAX / 2)
                    .saturating_mul(1000),
                v.max_snapshots_per_incident,
            ),
        })
    }

    /// Takes requests until `cancel` fires or the queue closes.
    pub async fn run(
        mut self,
        mut rx: mpsc::Receiver<SnapshotRequest>,
        cancel: CancellationToken,
    ) -> anyhow::Result<()> {
        let permits = Arc::new(Semaphore::new(self.max_concurrent));
        let (done_tx, mut done_rx) = mpsc::channel::<Taken>(MAX_PENDING);
        let mut pending = 0usize;
        loop {
            tokio::select! {
                _ = cancel.cancelled() => break,
                req = rx.recv() => {
                    let Some(req) = req else { break };
                    if pending >= MAX_PENDING {
                        self.metrics.snapshots_dropped_total.inc();
                        tracing::warn!(incident = %req.incident_id, camera = %req.camera_id, pending, "too many snapshots waiting; snapshot dropped");
                        continue;
                    }
                    if let Some((key, fetch)) = self.plan(&req).await {
                        pending += 1;
                        self.start(req, key, fetch, permits.clone(), done_tx.clone());
                    }
                }
                Some(taken) = done_rx.recv() => {
                    pending = pending.saturating_sub(1);
                    self.finish(taken).await;
                }
            }
        }
        Ok(())
    }

    /// How to get the picture, and the limiter key it counts under; `None` when there is
    /// nothing to take (no stream, unknown camera) or the incident had enough.
    async fn plan(&mut self, req: &SnapshotRequest) -> Option<(String, Fetch)> {
        let (key, fetch) = match (&req.source, &self.frigate_url) {
            (SnapshotSource::None, _) => return None,
            // A reporter's photo is kept whatever the limiter says of cameras: it is the
            // report's own evidence, one per report.
            (SnapshotSource::Photo(photo), _) => {
                return Some((String::new(), Fetch::Photo(photo.clone())));
            }
            (SnapshotSource::Frigate { event_id }, Some(base)) => {
                match frigate_snapshot_url(base, event_id) {
                    Ok(url) => (format!("frigate:{event_id}"), Fetch::Frigate(url)),
                    Err(why) => {
                        tracing::warn!(incident = %req.incident_id, event = %event_id, "{why}");
                        return None;
                    }
                }
            }
            // Without frigate.url, Frigate's picture is out of reach; the stream is the
            // next best thing.
            (SnapshotSource::Stream | SnapshotSource::Frigate { .. }, _) => {
                let uri = match self.store.camera(&req.camera_id).await {
                    Ok(cam) => cam.stream_uri?,
                    Err(StoreError::NotFound(_)) => return None,
                    Err(e) => {
                        tracing::warn!(camera = %req.camera_id, error = %e, "cannot look up the camera for a snapshot");
                        return None;
                    }
                };
                (format!("stream:{}", req.camera_id), Fetch::Stream(uri))
            }
        };
        match self.limiter.admit(&req.incident_id, &key, now_ms()) {
            Ok(()) => Some((key, fetch)),
            Err(why) => {
                tracing::debug!(incident = %req.incident_id, key, ?why, "snapshot skipped");
                None
            }
        }
    }

    /// Runs one grab or fetch off this task; its result comes back on `done`.
    fn start(
        &self,
        req: SnapshotRequest,
        key: String,
        fetch: Fetch,
        permits: Arc<Semaphore>,
        done: mpsc::Sender<Taken>,
    ) {
        let timeout = self.timeout;
        let http = self.http.clone();
        tokio::spawn(async move {
            let source = fetch.source();
            let result = match fetch {
                Fetch::Photo(photo) => Ok(photo.bytes().to_vec()),
                fetch => Self::fetch(fetch, permits, &http, timeout).await,
            };
            let _ = done
                .send(Taken {
                    req,
                    key,
                    source,
                    result,
                })
                .await;
        });
    }

    /// A grab or a fetch, once a permit is free.
    async fn fetch(
        fetch: Fetch,
        permits: Arc<Semaphore>,
        http: &reqwest::Client,
        timeout: Duration,
    ) -> Result<Vec<u8>, String> {
        match permits.acquire_owned().await {
            Err(_) => Err("the snapshot service is stopping".to_owned()),
            Ok(_permit) => match fetch {
                Fetch::Stream(uri) => tokio::task::spawn_blocking(move || grab_jpeg(&uri, timeout))
                    .await
                    .unwrap_or_else(|e| {
                        Err(super::stream::StreamError::Failed(format!(
                            "the grab stopped: {e}"
                        )))
                    })
                    .map_err(|e| e.to_string()),
                Fetch::Frigate(url) => fetch_frigate(http, &url, timeout).await,
                Fetch::Photo(photo) => Ok(photo.bytes().to_vec()),
            },
        }
    }

    /// Stores a finished picture (or records why there is none) and tells the dispatcher.
    async fn finish(&mut self, taken: Taken) {
        let Taken {
            req,
            key,
            source,
            result,
        } = taken;
        let result = match result {
            Ok(jpeg) => self.store_picture(&req, source, &jpeg).await,
            Err(why) => Err(why),
        };
        match &result {
            Ok(row) => {
                self.metrics.snapshots_total.inc();
                if source == "frigate" {
                    self.limiter.finished(&req.incident_id, &key);
                }
                tracing::info!(incident = %req.incident_id, camera = %req.camera_id, n = row.n, source, bytes = row.bytes, "snapshot stored");
            }
            Err(why) => {
                self.metrics.snapshots_failed_total.inc();
                tracing::warn!(incident = %req.incident_id, camera = %req.camera_id, source, reason = %why, "snapshot failed");
            }
        }
        let cmd = Command::Snapshot {
            incident_id: req.incident_id,
            camera_id: req.camera_id,
            result,
        };
        if self.dispatcher.send(cmd).await.is_err() {
            tracing::debug!("dispatcher stopped; snapshot not announced");
        }
    }

    /// Writes the file (under a temporary name, then renamed, so a reader never sees half
    /// a picture) and lists it.
    async fn store_picture(
        &self,
        req: &SnapshotRequest,
        source: &'static str,
        jpeg: &[u8],
    ) -> Result<SnapshotRow, String> {
        let cannot =
            |what: &str, e: &dyn std::fmt::Display| format!("cannot store it: {what}: {e}");
        let n = self
            .store
            .next_snapshot_n(&req.incident_id)
            .await
            .map_err(|e| cannot("database", &e))?;
        let path = self
            .files
            .path(&req.incident_id, n)
            .ok_or_else(|| format!("unusable incident id {:?}", req.incident_id))?;
        if let Some(dir) = path.parent() {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(|e| cannot(&dir.display().to_string(), &e))?;
        }
        let tmp = path.with_extension("jpg.part");
        tokio::fs::write(&tmp, jpeg)
            .await
            .map_err(|e| cannot(&tmp.display().to_string(), &e))?;
        tokio::fs::rename(&tmp, &path)
            .await
            .map_err(|e| cannot(&path.display().to_string(), &e))?;
        let dims = jpeg_dimensions(jpeg);
        let row = SnapshotRow {
            incident_id: req.incident_id.clone(),
            n,
            camera_id: req.camera_id.clone(),
            taken_at: now_ms(),
            source: source.to_owned(),
            bytes: i64::try_from(jpeg.len()).unwrap_or(i64::MAX),
            width: dims.map(|d| i64::from(d.0)),
            height: dims.map(|d| i64::from(d.1)),
        };
        if let Err(e) = self.store.insert_snapshot(&row).await {
            // An unlisted file would only take space.
            let _ = tokio::fs::remove_file(&path).await;
            return Err(cannot("database", &e));
        }
        Ok(row)
    }
}

/// `<frigate.url>/api/events/<event_id>/snapshot.jpg`. Event ids are Frigate's
/// `<timestamp>-<random>`; anything else is refused rather than put into a URL path.
fn frigate_snapshot_url(base: &reqwest::Url, event_id: &str) -> Result<String, String> {
    let plain = !event_id.is_empty()
        && event_id.len() <= 128
        && !event_id.starts_with('.')
        && event_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
    if !plain {
        return Err(format!(
            "Frigate event id {event_id:?} cannot be put into a URL; no snapshot"
        ));
    }
    let mut url = base.clone();
    url.path_segments_mut()
        .map_err(|()| format!("frigate.url {base} cannot take a path"))?
        .pop_if_empty()
        .extend(["api", "events", event_id, "snapshot.jpg"]);
    Ok(url.to_string())
}

/// Fetches Frigate's picture: a success status, at most [`MAX_FRIGATE_BYTES`], and JPEG
/// bytes, all within `timeout`.
async fn fetch_frigate(
    http: &reqwest::Client,
    url: &str,
    timeout: Duration,
) -> Result<Vec<u8>, String> {
    let fetch = async {
        let mut resp = http
            .get(url)
            .send()
            .await
            .map_err(|e| format!("Frigate unreachable: {e}"))?;
        if !resp.status().is_success() {
            return Err(format!("Frigate answered {}", resp.status()));
        }
        if resp
            .content_length()
            .is_some_and(|len| len > MAX_FRIGATE_BYTES as u64)
        {
            return Err(format!(
                "Frigate's picture is larger than {MAX_FRIGATE_BYTES} bytes"
            ));
        }
        let content_type = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("none")
            .to_owned();
        let mut body = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| format!("reading Frigate's picture: {e}"))?
        {
            if body.len() + chunk.len() > MAX_FRIGATE_BYTES {
                return Err(format!(
                    "Frigate's picture is larger than {MAX_FRIGATE_BYTES} bytes"
                ));
            }
            body.extend_from_slice(&chunk);
        }
        if !looks_like_jpeg(&body) {
            return Err(format!(
                "Frigate's answer is not a JPEG (content-type {content_type})"
            ));
        }
        Ok(body)
    };
    tokio::time::timeout(timeout, fetch)
        .await
        .unwrap_or_else(|_| {
            Err(format!(
                "no answer from Frigate within {} ms",
                timeout.as_millis()
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_try_per_camera_per_interval_and_a_cap_per_incident() {
        let mut l = Limiter::new(60_000, 3);
        assert_eq!(l.admit("i1", "stream:cam1", 1_000), Ok(()));
        assert_eq!(l.admit("i1", "stream:cam1", 30_000), Err(Refusal::TooSoon));
        // Another camera, or another incident, is not held back.
        assert_eq!(l.admit("i1", "stream:cam2", 30_000), Ok(()));
        assert_eq!(l.admit("i2", "stream:cam1", 30_000), Ok(()));
        assert_eq!(l.admit("i1", "stream:cam1", 61_000), Ok(()));
        assert_eq!(l.admit("i1", "stream:cam3", 62_000), Err(Refusal::Enough));
    }

    #[test]
    fn a_stored_frigate_picture_is_not_fetched_again() {
        let mut l = Limiter::new(0, 10);
        assert_eq!(l.admit("i1", "frigate:e1", 1), Ok(()));
        l.finished("i1", "frigate:e1");
        assert_eq!(l.admit("i1", "frigate:e1", 100_000), Err(Refusal::Done));
        assert_eq!(l.admit("i1", "frigate:e2", 100_000), Ok(()));
    }

    #[test]
    fn idle_incidents_are_forgotten() {
        let mut l = Limiter::new(60_000, 1);
        assert_eq!(l.admit("i1", "stream:cam1", 1), Ok(()));
        assert_eq!(
            l.admit("i2", "stream:cam1", FORGET_AFTER_MS + 100_000),
            Ok(())
        );
        assert!(!l.incidents.contains_key("i1"));
    }

    #[test]
    fn frigate_urls_keep_the_base_path_and_refuse_odd_ids() {
        let base = reqwest::Url::parse("http://frigate:5000").unwrap();
        assert_eq!(
            frigate_snapshot_url(&base, "1607123955.475377-mxklsc").unwrap(),
            "http://frigate:5000/api/events/1607123955.475377-mxklsc/snapshot.jpg"
        );
        let base = reqwest::Url::parse("https://nvr.example/frigate/").unwrap();
        assert_eq!(
            frigate_snapshot_url(&base, "e1").unwrap(),
            "https://nvr.example/frigate/api/events/e1/snapshot.jpg"
        );
        for bad in ["", "..", "../config", "a/b", "a?b", "x y"] {
            assert!(frigate_snapshot_url(&base, bad).is_err(), "{bad:?}");
        }
    }
}
