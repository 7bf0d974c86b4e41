//! One probe of one camera stream: open it, decode a second of video, report what it is.

use std::time::{Duration, Instant};

use gstreamer as gst;
use gstreamer_pbutils as pbutils;

use super::stream::{Session, StreamError};
use crate::domain::camera_health::{measured_bitrate, measured_fps, StreamFacts};

/// How long a probe watches a stream after its first frame, to measure frame rate and
/// bitrate.
const SAMPLE_WINDOW: Duration = Duration::from_secs(1);

/// Opens `uri`, waits for decoded video (at most `timeout` in all) and describes it.
/// Blocking: run it on a blocking thread.
pub fn probe(uri: &str, timeout: Duration) -> Result<StreamFacts, StreamError> {
    let started = Instant::now();
    let deadline = started + timeout;
    let session = Session::open(uri, "", timeout)?;
    let first = session.pull(deadline)?;
    let mut facts = StreamFacts::default();
    if let Some(s) = first.caps().and_then(|c| c.structure(0)) {
        facts.width = s.get::<i32>("width").ok().map(i64::from);
        facts.height = s.get::<i32>("height").ok().map(i64::from);
        facts.fps = s
            .get::<gst::Fraction>("framerate")
            .ok()
            .filter(|f| f.numer() > 0 && f.denom() > 0)
            .map(|f| (f64::from(f.numer()) / f64::from(f.denom()) * 100.0).round() / 100.0);
    }

    // Watch the stream a little longer, within the budget, for the frame rate (when the
    // caps do not declare it, as with many RTSP cameras) and the bitrate.
    let window_end = (Instant::now() + SAMPLE_WINDOW).min(deadline);
    let first_pts = first.buffer().and_then(|b| b.pts());
    let mut last_pts = first_pts;
    let mut frames: u64 = 1;
    while Instant::now() < window_end {
        match session.pull(window_end) {
            Ok(sample) => {
                frames += 1;
                if let Some(pts) = sample.buffer().and_then(|b| b.pts()) {
                    last_pts = Some(pts);
                    if first_pts.is_some_and(|f| pts.saturating_sub(f) >= gst::ClockTime::SECOND) {
                        break;
                    }
                }
            }
            // The first frame proved the stream works; a short stream or a slow one only
            // leaves fps or bitrate unknown.
            Err(_) => break,
        }
    }
    if facts.fps.is_none() {
        if let (Some(f), Some(l)) = (first_pts, last_pts) {
            facts.fps = measured_fps(frames, f.nseconds(), l.nseconds());
        }
    }
    if let Some(caps) = session.encoded_caps() {
        facts.codec = Some(pbutils::functions::pb_utils_get_codec_description(&caps).to_string());
    }
    let count = session.encoded_count();
    if let (Some(f), Some(l)) = (count.first_pts, count.last_pts) {
        facts.bitrate = measured_bitrate(count.bytes, f.nseconds(), l.nseconds());
    }
    Ok(facts)
}
