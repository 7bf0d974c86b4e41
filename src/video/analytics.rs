//! ONVIF analytics: one metadata session per camera that publishes ONVIF metadata, its
//! detections turned into alerts.
//!
//! The supervisor ([`OnvifAnalytics::run`]) re-reads the cameras flagged `onvif_metadata`
//! every `video.onvif_reconcile_secs` and keeps exactly one session per such camera (up to
//! `video.max_onvif_sessions`): it starts sessions for new cameras, and stops those of
//! deleted cameras, of a cleared flag or of a changed `stream_uri`.
//!
//! Each session is a thread of its own running [`metadata::run`] (blocking GStreamer work;
//! the thread also parses and classifies the documents, which is cheap and keeps frames
//! without events off the async side), plus an async task that applies the cooldown and
//! submits alerts through [`Ingest::submit_alert`], the path every alert takes, so dead
//! letters and metrics work as for MQTT alerts. Dedicated threads rather than tokio's
//! blocking pool: a session lives as long as the camera, and hundreds of them would starve
//! the pool's short jobs.
//!
//! A failed session is retried after 1 s, doubling to 60 s; one that got its stream starts
//! again at 1 s. A stream without a metadata track is reported once and retried every
//! 5 min, since that needs someone to change the camera's media profile.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::metadata::{self, redact_uri, SessionError, SessionEvent};
use super::stream::StreamError;
use crate::domain::Ident;
use crate::ingest::onvif::{classify, parse_metadata, to_alert, Cooldown, Detection};
use crate::ingest::Ingest;
use crate::metrics::Metrics;
use crate::store::{now_ms, Store};

/// First wait after a failed session.
pub const INITIAL_BACKOFF: Duration = Duration::from_secs(1);

/// Longest wait between attempts at a failing camera.
pub const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// Wait before trying again a stream that has no metadata track: someone has to enable
/// metadata in the camera's media profile first, so asking often only costs connections.
pub const NO_TRACK_RETRY: Duration = Duration::from_secs(300);

/// At most one dead letter per camera in this time for malformed documents; the others are
/// counted (`onvif_documents_malformed_total`) and logged at debug level. A camera sending
/// garbage ten times a second would otherwise fill the dead-letter store.
const DEAD_LETTER_EVERY: Duration = Duration::from_secs(60);

/// How long shutdown waits for sessions to tear down their RTSP connections.
const STOP_WAIT: Duration = Duration::from_secs(5);

/// Messages a session thread may queue for its async side before it waits.
const CHANNEL: usize = 64;

/// Most camera ids named in one "left out" log line.
const MAX_IDS_LOGGED: usize = 20;

/// The ONVIF analytics supervisor; see the module docs.
#[derive(Debug, Clone)]
pub struct OnvifAnalytics {
    /// Where the cameras are read.
    pub store: Store,
    /// The alert path (dispatcher, dead letters).
    pub ingest: Ingest,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// Most sessions at once (`video.max_onvif_sessions`).
    pub max_sessions: usize,
    /// Time between re-reads of the cameras (`video.onvif_reconcile_secs`).
    pub reconcile_every: Duration,
    /// Suppression window of repeated detections (`video.onvif_cooldown_secs`).
    pub cooldown: Duration,
}

/// What a session thread hands to its async side.
#[derive(Debug)]
enum Found {
    /// The metadata track is streaming.
    Linked,
    /// Detections worth an alert, with the document that carried them (for a dead letter
    /// should the dispatcher refuse the alert).
    Detections {
        /// The XML document.
        document: Vec<u8>,
        /// What it reported.
        detections: Vec<Detection>,
    },
    /// A document that is not valid metadata.
    Malformed {
        /// The bytes.
        document: Vec<u8>,
        /// Why.
        reason: String,
    },
}

/// State all sessions share.
#[derive(Debug)]
struct Shared {
    /// The alert path.
    ingest: Ingest,
    /// Counters.
    metrics: Arc<Metrics>,
    /// One cooldown for every camera, kept across reconnects: a camera re-sends its current
    /// state (`PropertyOperation="Initialized"`) on every new session, which must not make a
    /// new alert each time the connection drops.
    cooldown: Mutex<Cooldown>,
}

/// A running session, as the supervisor holds it.
#[derive(Debug)]
struct Held {
    /// The stream it reads.
    uri: String,
    /// Stops it.
    stop: CancellationToken,
}

/// What one reconcile round decides.
#[derive(Debug, Default, PartialEq, Eq)]
struct Plan {
    /// Cameras to start a session for, with their stream.
    start: Vec<(String, String)>,
    /// Cameras whose session stops (deleted, flag cleared, stream changed, over the cap).
    stop: Vec<String>,
    /// Wanted cameras beyond `max_sessions`, by id.
    left_out: Vec<String>,
}

/// Compares the wanted cameras (id → stream, from the store) with the running sessions
/// (id → stream). The first `max` wanted cameras in id order get a session; a camera whose
/// stream changed is stopped and started again.
fn plan(wanted: &BTreeMap<String, String>, running: &HashMap<String, String>, max: usize) -> Plan {
    let mut p = Plan::default();
    let kept: BTreeMap<&String, &String> = wanted.iter().take(max).collect();
    p.left_out = wanted.keys().skip(max).cloned().collect();
    let mut stop: Vec<String> = running
        .iter()
        .filter(|(id, uri)| kept.get(id) != Some(uri))
        .map(|(id, _)| id.clone())
        .collect();
    stop.sort();
    p.stop = stop;
    p.start = kept
        .iter()
        .filter(|(id, uri)| running.get(id.as_str()) != Some(uri))
        .map(|(id, uri)| ((*id).clone(), (*uri).clone()))
        .collect();
    p
}

impl OnvifAnalytics {
    /// Keeps the sessions in line with the cameras until `cancel` fires, then stops them
    /// all (waiting a few seconds for their RTSP teardown). Ends only when cancelled: store
    /// errors and failing cameras are logged and retried, never fatal.
    pub async fn run(self, cancel: CancellationToken) -> anyhow::Result<()> {
        let shared = Arc::new(Shared {
            ingest: self.ingest.clone(),
            metrics: self.metrics.clone(),
            cooldown: Mutex::new(Cooldown::new(self.cooldown)),
        });
        let tasks = TaskTracker::new();
        let mut sessions: HashMap<String, Held> = HashMap::new();
        let mut logged_left_out: Vec<String> = Vec::new();
        let mut logged_unusable: HashMap<String, String> = HashMap::new();
        loop {
            match self.store.onvif_cameras().await {
                Ok(rows) => {
                    let wanted = usable(rows, &mut logged_unusable);
                    let running: HashMap<String, String> = sessions
                        .iter()
                        .map(|(id, h)| (id.clone(), h.uri.clone()))
                        .collect();
                    let p = plan(&wanted, &running, self.max_sessions);
                    for id in &p.stop {
                        if let Some(held) = sessions.remove(id) {
                            tracing::info!(camera = %id, "stopping ONVIF metadata session");
                            held.stop.cancel();
                        }
                    }
                    for (id, uri) in p.start {
                        // Ids come from the store, which only holds valid ones.
                        let Ok(camera) = Ident::parse(&id) else {
                            continue;
                        };
                        let stop = cancel.child_token();
                        tasks.spawn(camera_session(
                            shared.clone(),
                            camera,
                            uri.clone(),
                            stop.clone(),
                        ));
                        sessions.insert(id, Held { uri, stop });
                    }
                    if p.left_out != logged_left_out {
                        if !p.left_out.is_empty() {
                            tracing::warn!(
                                max = self.max_sessions,
                                left_out = p.left_out.len(),
                                cameras = %name_some(&p.left_out),
                                "video.max_onvif_sessions reached; these cameras get no ONVIF metadata session"
                            );
                        }
                        logged_left_out = p.left_out;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the ONVIF cameras; sessions unchanged")
                }
            }
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = tokio::time::sleep(self.reconcile_every) => {}
            }
        }
        for held in sessions.values() {
            held.stop.cancel();
        }
        tasks.close();
        if tokio::time::timeout(STOP_WAIT, tasks.wait()).await.is_err() {
            tracing::warn!("some ONVIF metadata sessions did not stop in time");
        }
        Ok(())
    }
}

/// The cameras that can have a session: an rtsp:// stream (metadata tracks only exist in
/// RTSP). Others are logged once per (camera, stream).
fn usable(
    rows: Vec<(String, String)>,
    logged: &mut HashMap<String, String>,
) -> BTreeMap<String, String> {
    let mut wanted = BTreeMap::new();
    for (id, uri) in rows {
        let uri = uri.trim().to_owned();
        if uri.to_ascii_lowercase().starts_with("rtsp") {
            wanted.insert(id, uri);
        } else if logged.get(&id) != Some(&uri) {
            tracing::warn!(
                camera = %id,
                stream = %redact_uri(&uri),
                "onvif_metadata is set but the stream is not rtsp://; no ONVIF metadata session"
            );
            logged.insert(id, uri);
        }
    }
    wanted
}

/// `a, b, c (and 7 more)`.
fn name_some(ids: &[String]) -> String {
    let mut text = ids
        .iter()
        .take(MAX_IDS_LOGGED)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if ids.len() > MAX_IDS_LOGGED {
        text.push_str(&format!(" (and {} more)", ids.len() - MAX_IDS_LOGGED));
    }
    text
}

/// Limits dead letters of malformed documents to one per [`DEAD_LETTER_EVERY`] per camera.
#[derive(Debug, Default)]
struct DeadLetterLimit {
    /// When the last one was stored.
    last: Option<Instant>,
    /// Malformed documents not stored since.
    skipped: u64,
}

impl DeadLetterLimit {
    /// `Some(n)` when this one is to be stored, `n` being how many were skipped before it.
    fn admit(&mut self, now: Instant) -> Option<u64> {
        if self
            .last
            .is_some_and(|t| now.saturating_duration_since(t) < DEAD_LETTER_EVERY)
        {
            self.skipped += 1;
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.skipped))
    }
}

/// One camera's session, reconnecting with backoff, until `stop` fires.
async fn camera_session(shared: Arc<Shared>, camera: Ident, uri: String, stop: CancellationToken) {
    shared.metrics.onvif_sessions.inc();
    tracing::info!(camera = %camera, stream = %redact_uri(&uri), "starting ONVIF metadata session");
    let origin = format!("onvif-metadata/{camera}");
    let mut backoff = INITIAL_BACKOFF;
    let mut last_error: Option<String> = None;
    let mut dead_letters = DeadLetterLimit::default();
    loop {
        let (result, linked) =
            run_once(&shared, &camera, &uri, &origin, &stop, &mut dead_letters).await;
        if stop.is_cancelled() {
            break;
        }
        if linked {
            backoff = INITIAL_BACKOFF;
        }
        let error = match result {
            Ok(()) => SessionError::Stream(StreamError::Failed("session ended".into())),
            Err(e) => e,
        };
        let text = error.to_string();
        let wait = if matches!(error, SessionError::NoMetadataTrack(_)) {
            NO_TRACK_RETRY
        } else {
            let wait = backoff;
            backoff = (backoff * 2).min(MAX_BACKOFF);
            wait
        };
        // A camera that stays down would otherwise log the same line every minute.
        if last_error.as_deref() != Some(text.as_str()) || linked {
            tracing::warn!(camera = %camera, error = %text, retry_in_secs = wait.as_secs(), "ONVIF metadata session failed");
        } else {
            tracing::debug!(camera = %camera, error = %text, retry_in_secs = wait.as_secs(), "ONVIF metadata session failed again");
        }
        last_error = Some(text);
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tokio::time::sleep(wait) => {}
        }
    }
    tracing::debug!(camera = %camera, "ONVIF metadata session stopped");
    shared.metrics.onvif_sessions.dec();
}

/// One connection: a thread reads the stream, this task turns what it finds into alerts.
/// Returns how it ended and whether the metadata track was streaming at some point.
async fn run_once(
    shared: &Arc<Shared>,
    camera: &Ident,
    uri: &str,
    origin: &str,
    stop: &CancellationToken,
    dead_letters: &mut DeadLetterLimit,
) -> (Result<(), SessionError>, bool) {
    let (tx, mut rx) = mpsc::channel::<Found>(CHANNEL);
    let (done_tx, done_rx) = oneshot::channel();
    let thread_uri = uri.to_owned();
    let thread_stop = stop.clone();
    let metrics = shared.metrics.clone();
    let spawned = std::thread::Builder::new()
        .name(format!("onvif-{camera}"))
        .spawn(move || {
            let result = metadata::run(&thread_uri, &thread_stop, |event| {
                let found = match event {
                    SessionEvent::Linked => Found::Linked,
                    SessionEvent::Document(document) => match examine(&document, &metrics) {
                        Ok(detections) if detections.is_empty() => return true,
                        Ok(detections) => Found::Detections {
                            document,
                            detections,
                        },
                        Err(reason) => Found::Malformed { document, reason },
                    },
                    SessionEvent::Lost(reason) => {
                        metrics.onvif_documents_lost_total.inc();
                        tracing::debug!(%reason, "ONVIF metadata document lost");
                        return true;
                    }
                };
                // False once the async side is gone: the session then ends.
                tx.blocking_send(found).is_ok()
            });
            let _ = done_tx.send(result);
        });
    if let Err(e) = spawned {
        return (
            Err(SessionError::Stream(StreamError::Unavailable(format!(
                "cannot start a session thread: {e}"
            )))),
            false,
        );
    }

    let mut linked = false;
    while let Some(found) = rx.recv().await {
        match found {
            Found::Linked => {
                linked = true;
                tracing::info!(camera = %camera, "ONVIF metadata streaming");
            }
            Found::Detections {
                document,
                detections,
            } => {
                for d in detections {
                    let now = now_ms();
                    let admitted = shared
                        .cooldown
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .admit(camera.as_str(), d.rule_key(), now);
                    if !admitted {
                        shared.metrics.onvif_detections_suppressed_total.inc();
                        continue;
                    }
                    match to_alert(camera, &d, now) {
                        Ok(alert) => {
                            shared
                                .ingest
                                .submit_alert(origin, &document, alert, std::time::Instant::now())
                                .await;
                        }
                        Err(reason) => {
                            shared
                                .ingest
                                .record_dead_letter(origin, &document, &reason)
                                .await
                        }
                    }
                }
            }
            Found::Malformed { document, reason } => match dead_letters.admit(Instant::now()) {
                Some(skipped) => {
                    let reason = if skipped > 0 {
                        format!("{reason} ({skipped} more malformed documents from this camera were not kept)")
                    } else {
                        reason
                    };
                    shared
                        .ingest
                        .record_dead_letter(origin, &document, &reason)
                        .await;
                }
                None => {
                    tracing::debug!(camera = %camera, %reason, "malformed ONVIF metadata document")
                }
            },
        }
    }
    // The thread has dropped its sender, so it is finishing; its result follows.
    let result = done_rx.await.unwrap_or_else(|_| {
        Err(SessionError::Stream(StreamError::Failed(
            "the session thread panicked".into(),
        )))
    });
    (result, linked)
}

/// Parses one document and keeps the detections worth an alert; counts it.
fn examine(document: &[u8], metrics: &Metrics) -> Result<Vec<Detection>, String> {
    metrics.onvif_documents_total.inc();
    match parse_metadata(document) {
        Ok(events) => Ok(events.iter().filter_map(classify).collect()),
        Err(reason) => {
            metrics.onvif_documents_malformed_total.inc();
            Err(reason)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    fn running(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        map(pairs).into_iter().collect()
    }

    #[test]
    fn reconcile_starts_new_stops_gone_and_restarts_changed() {
        let wanted = map(&[("a", "rtsp://a"), ("b", "rtsp://b2"), ("c", "rtsp://c")]);
        let now = running(&[("b", "rtsp://b1"), ("c", "rtsp://c"), ("d", "rtsp://d")]);
        let p = plan(&wanted, &now, 10);
        assert_eq!(
            p.start,
            vec![
                ("a".to_string(), "rtsp://a".to_string()),
                ("b".to_string(), "rtsp://b2".to_string())
            ]
        );
        assert_eq!(p.stop, vec!["b".to_string(), "d".to_string()]);
        assert!(p.left_out.is_empty());
        // Nothing changed: nothing to do.
        let p = plan(&wanted, &wanted.clone().into_iter().collect(), 10);
        assert_eq!(p, Plan::default());
    }

    #[test]
    fn the_cap_keeps_the_first_cameras_by_id() {
        let wanted = map(&[("a", "u"), ("b", "u"), ("c", "u"), ("d", "u")]);
        let now = running(&[("d", "u")]);
        let p = plan(&wanted, &now, 2);
        assert_eq!(p.left_out, vec!["c".to_string(), "d".to_string()]);
        assert_eq!(p.stop, vec!["d".to_string()]);
        assert_eq!(p.start.len(), 2);
        let p = plan(&wanted, &running(&[]), 0);
        assert!(p.start.is_empty());
        assert_eq!(p.left_out.len(), 4);
    }

    #[test]
    fn only_rtsp_streams_are_usable() {
        let mut logged = HashMap::new();
        let rows = vec![
            ("a".to_string(), "rtsp://h/x".to_string()),
            ("b".to_string(), "http://h/mjpeg".to_string()),
            ("c".to_string(), " RTSPS://h/y ".to_string()),
        ];
        let w = usable(rows, &mut logged);
        assert_eq!(w.keys().collect::<Vec<_>>(), ["a", "c"]);
        assert_eq!(w["c"], "RTSPS://h/y");
        assert!(logged.contains_key("b"));
    }

    #[test]
    fn malformed_documents_are_kept_once_a_minute() {
        let mut l = DeadLetterLimit::default();
        let t0 = Instant::now();
        assert_eq!(l.admit(t0), Some(0));
        assert_eq!(l.admit(t0 + Duration::from_secs(1)), None);
        assert_eq!(l.admit(t0 + Duration::from_secs(59)), None);
        assert_eq!(l.admit(t0 + Duration::from_secs(60)), Some(2));
        assert_eq!(l.admit(t0 + Duration::from_secs(61)), None);
    }

    #[test]
    fn long_lists_of_ids_are_cut() {
        let ids: Vec<String> = (0..25).map(|i| format!("cam-{i}")).collect();
        let text = name_some(&ids);
        assert!(text.ends_with("cam-19 (and 5 more)"), "{text}");
        assert_eq!(name_some(&ids[..2]), "cam-0, cam-1");
    }
}
