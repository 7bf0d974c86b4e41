//! Opening a camera stream with GStreamer: the one pipeline shape that probes and snapshots
//! share.
//!
//! `uridecodebin` opens whatever the URI names (rtsp://, http(s):// MJPEG or HLS, file://)
//! and decodes it; the first decoded video stream is linked to the caller's branch, every
//! other stream (audio, metadata) to a `fakesink` so that an unlinked pad never stops the
//! source. Everything here blocks: call it from a blocking thread, never from the async
//! runtime.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;

/// RTSP jitter-buffer latency for probes and snapshots. rtspsrc's default (2 s) would
/// delay every first frame by that much; a probe does not care about smooth playback.
const RTSP_LATENCY_MS: u32 = 200;

/// Why a stream could not be read. The text is what operators see as `last_error`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StreamError {
    /// GStreamer is not usable on this machine.
    #[error("GStreamer unavailable: {0}")]
    Unavailable(String),
    /// The URI is not one GStreamer can open.
    #[error("invalid stream URI: {0}")]
    InvalidUri(String),
    /// No frame arrived in time.
    #[error("no video within {0} ms")]
    Timeout(u128),
    /// The stream ended before a frame.
    #[error("stream ended without video")]
    Eos,
    /// An element failed (connection refused, 404, not a video …).
    #[error("{0}")]
    Failed(String),
}

/// Initialises GStreamer once per process; later calls return the first result.
pub fn init() -> Result<(), StreamError> {
    static INIT: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    INIT.get_or_init(|| gst::init().map_err(|e| e.to_string()))
        .clone()
        .map_err(StreamError::Unavailable)
}

/// An open stream: a playing pipeline whose first decoded video stream feeds an appsink.
/// Dropping it stops the pipeline and frees its threads.
#[derive(Debug)]
pub struct Session {
    /// The whole pipeline.
    pipeline: gst::Pipeline,
    /// Its bus, polled for errors between samples.
    bus: gst::Bus,
    /// Where decoded (and possibly converted) frames arrive.
    sink: gst_app::AppSink,
    /// Caps of the first encoded video stream seen by the decoder (before decoding), e.g.
    /// `video/x-h264`: the codec.
    encoded_caps: Arc<Mutex<Option<gst::Caps>>>,
    /// Bytes and PTS range of the encoded video, for the bitrate.
    encoded_bytes: Arc<Mutex<EncodedCount>>,
}

/// Bytes counted on the encoded video pad.
#[derive(Debug, Default, Clone, Copy)]
pub struct EncodedCount {
    /// Bytes of encoded video seen.
    pub bytes: u64,
    /// PTS of the first counted buffer.
    pub first_pts: Option<gst::ClockTime>,
    /// PTS of the last counted buffer.
    pub last_pts: Option<gst::ClockTime>,
}

impl Session {
    /// Opens `uri` and links its first video stream through `branch` (element names as in
    /// `gst-launch`, e.g. `"videoconvert ! jpegenc"`, or empty for raw frames) into an
    /// appsink. Returns once the pipeline is asked to play; frames come with
    /// [`Session::pull`].
    pub fn open(uri: &str, branch: &str, timeout: Duration) -> Result<Self, StreamError> {
        init()?;
        let uri = crate::domain::stream_uri(uri)
            .map_err(|e| StreamError::InvalidUri(format!("{uri:?}: {}", e.reason)))?;
        let uri = uri.as_str();
        let pipeline = gst::Pipeline::new();
        let decode = gst::ElementFactory::make("uridecodebin")
            .property("uri", uri)
            .build()
            .map_err(|e| StreamError::Unavailable(format!("uridecodebin: {e}")))?;
        let launch = if branch.trim().is_empty() {
            "queue".to_owned()
        } else {
            format!("queue ! {branch}")
        };
        let branch = gst::parse::bin_from_description(&launch, true)
            .map_err(|e| StreamError::Unavailable(format!("{launch}: {e}")))?;
        let sink = gst_app::AppSink::builder()
            .sync(false)
            // Frames are pulled as fast as they come; a bound keeps a fast file source
            // from buffering the whole file in memory.
            .max_buffers(30)
            .build();
        pipeline
            .add_many([&decode, branch.upcast_ref(), sink.upcast_ref()])
            .map_err(|e| StreamError::Unavailable(e.to_string()))?;
        branch
            .link(&sink)
            .map_err(|e| StreamError::Unavailable(e.to_string()))?;

        decode.connect("source-setup", false, move |values| {
            if let Some(source) = values.get(1).and_then(|v| v.get::<gst::Element>().ok()) {
                tune_source(&source, timeout);
            }
            None
        });

        let encoded_caps: Arc<Mutex<Option<gst::Caps>>> = Arc::default();
        let encoded_bytes: Arc<Mutex<EncodedCount>> = Arc::default();
        {
            let encoded_caps = encoded_caps.clone();
            let encoded_bytes = encoded_bytes.clone();
            // The video decoder's input is the encoded stream: its caps name the codec and
            // its buffers give the bitrate. (decodebin's own pads are retargeted from
            // encoded to raw, so they cannot be watched for this.)
            pipeline.connect_deep_element_added(move |_, _, element| {
                let is_video_decoder = element.factory().is_some_and(|f| {
                    let klass = f.klass();
                    klass.contains("Decoder") && klass.contains("Video")
                });
                if !is_video_decoder {
                    return;
                }
                let Some(pad) = element.static_pad("sink") else {
                    return;
                };
                let caps_slot = encoded_caps.clone();
                let counter = encoded_bytes.clone();
                pad.add_probe(gst::PadProbeType::BUFFER, move |pad, info| {
                    let mut slot = caps_slot.lock().unwrap_or_else(|e| e.into_inner());
                    if slot.is_none() {
                        *slot = pad.current_caps();
                    }
                    if let Some(buffer) = info.buffer() {
                        let mut c = counter.lock().unwrap_or_else(|e| e.into_inner());
                        c.bytes += buffer.size() as u64;
                        if let Some(pts) = buffer.pts() {
                            c.first_pts.get_or_insert(pts);
                            c.last_pts = Some(pts);
                        }
                    }
                    gst::PadProbeReturn::Ok
                });
            });
        }

        let pipeline_weak = pipeline.downgrade();
        let branch_sink = branch
            .static_pad("sink")
            .ok_or_else(|| StreamError::Unavailable("branch without sink pad".into()))?;
        decode.connect_pad_added(move |_, pad| {
            let Some(pipeline) = pipeline_weak.upgrade() else {
                return;
            };
            let is_video = pad
                .current_caps()
                .or_else(|| Some(pad.query_caps(None)))
                .and_then(|c| c.structure(0).map(|s| s.name().starts_with("video/")))
                .unwrap_or(false);
            if is_video && !branch_sink.is_linked() && pad.link(&branch_sink).is_ok() {
                return;
            }
            drain(&pipeline, pad);
        });

        let bus = pipeline
            .bus()
            .ok_or_else(|| StreamError::Unavailable("pipeline without bus".into()))?;
        let session = Session {
            pipeline,
            bus,
            sink,
            encoded_caps,
            encoded_bytes,
        };
        session
            .pipeline
            .set_state(gst::State::Playing)
            .map_err(|_| session.bus_error().unwrap_or_else(|| failed_to_start(uri)))?;
        Ok(session)
    }

    /// Waits for the next frame until `deadline`, watching the bus for errors.
    pub fn pull(&self, deadline: Instant) -> Result<gst::Sample, StreamError> {
        let started = Instant::now();
        loop {
            if let Some(err) = self.bus_error() {
                return Err(err);
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(StreamError::Timeout(
                    deadline
                        .saturating_duration_since(started)
                        .as_millis()
                        .max(now.saturating_duration_since(started).as_millis()),
                ));
            }
            // Short slices so that a bus error is noticed soon after it happens.
            let slice = (deadline - now).min(Duration::from_millis(100));
            if let Some(sample) = self
                .sink
                .try_pull_sample(gst::ClockTime::from_nseconds(slice.as_nanos() as u64))
            {
                return Ok(sample);
            }
            if self.sink.is_eos() {
                return Err(self.bus_error().unwrap_or(StreamError::Eos));
            }
        }
    }

    /// The codec's caps, once the decoder has seen the stream.
    pub fn encoded_caps(&self) -> Option<gst::Caps> {
        self.encoded_caps
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Encoded bytes counted so far.
    pub fn encoded_count(&self) -> EncodedCount {
        *self.encoded_bytes.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The first error (or end of stream) waiting on the bus, if any.
    fn bus_error(&self) -> Option<StreamError> {
        pop_bus_error(&self.bus)
    }
}

/// The first error (or end of stream) waiting on `bus`, if any, as an operator-readable
/// [`StreamError`].
pub(crate) fn pop_bus_error(bus: &gst::Bus) -> Option<StreamError> {
    let msg = bus.pop_filtered(&[gst::MessageType::Error, gst::MessageType::Eos])?;
    match msg.view() {
        gst::MessageView::Error(err) => {
            let origin = msg
                .src()
                .map(|s| format!("{}: ", s.name()))
                .unwrap_or_default();
            let detail = err
                .debug()
                .and_then(|d| {
                    tracing::debug!(debug = %d, "stream error");
                    debug_reason(&d)
                })
                .map(|d| format!(" ({d})"))
                .unwrap_or_default();
            Some(StreamError::Failed(format!(
                "{origin}{}{detail}",
                err.error()
            )))
        }
        _ => Some(StreamError::Eos),
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // To NULL synchronously: this joins the streaming threads, so nothing outlives the
        // session.
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}

/// Links `pad` to a new fakesink in `pipeline`: a stream nobody reads must still be linked,
/// or the source fails with not-linked.
pub(crate) fn drain(pipeline: &gst::Pipeline, pad: &gst::Pad) {
    if let Ok(fake) = gst::ElementFactory::make("fakesink")
        .property("sync", false)
        .property("async", false)
        .build()
    {
        if pipeline.add(&fake).is_ok() {
            let _ = fake.sync_state_with_parent();
            if let Some(sink_pad) = fake.static_pad("sink") {
                let _ = pad.link(&sink_pad);
            }
        }
    }
}

fn failed_to_start(uri: &str) -> StreamError {
    StreamError::Failed(format!("cannot start a pipeline for {uri}"))
}

/// The useful part of GStreamer's debug text, which ends with the failing call and often a
/// reason: `… gst_rtspsrc_retrieve_sdp (): …:\nFailed to connect. (Generic error)` gives
/// `Failed to connect.`, `…Could not connect to server. (Connection refused)` gives
/// `Connection refused`.
fn debug_reason(debug: &str) -> Option<String> {
    let last = debug.trim().rsplit('\n').next()?.trim();
    let mut text = last;
    if let (Some(start), true) = (last.rfind('('), last.ends_with(')')) {
        let inner = last[start + 1..last.len() - 1].trim();
        if !inner.is_empty() && inner != "Generic error" {
            return Some(inner.to_owned());
        }
        text = last[..start].trim();
    }
    // A source path (`/GstPipeline:…`) or a file position says nothing to an operator.
    (!text.is_empty() && !text.contains("/Gst") && !text.contains(".c("))
        .then(|| text.chars().take(200).collect())
}

/// Settings on the source element that uridecodebin picked: for RTSP, TCP transport
/// (cameras behind firewalls rarely pass RTP over UDP), a short jitter buffer and connect
/// and receive timeouts within the caller's budget.
pub(crate) fn tune_source(source: &gst::Element, timeout: Duration) {
    let factory = source
        .factory()
        .map(|f| f.name().to_string())
        .unwrap_or_default();
    match factory.as_str() {
        "rtspsrc" => {
            let micros = u64::try_from(timeout.as_micros()).unwrap_or(u64::MAX);
            source.set_property_from_str("protocols", "tcp");
            source.set_property("tcp-timeout", micros);
            source.set_property("timeout", micros);
            source.set_property("latency", RTSP_LATENCY_MS);
        }
        "souphttpsrc" => {
            // Whole seconds.
            let secs = u32::try_from(timeout.as_secs().max(1)).unwrap_or(u32::MAX);
            source.set_property("timeout", secs);
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_reason_keeps_what_an_operator_can_act_on() {
        assert_eq!(
            debug_reason("gstrtspsrc.c(8336): gst_rtspsrc_retrieve_sdp (): /GstPipeline:pipeline0/GstRTSPSrc:source:\nFailed to connect. (Generic error)"),
            Some("Failed to connect.".into())
        );
        assert_eq!(
            debug_reason(
                "x.c(1): f (): /GstPipeline:p:\nCould not connect to server. (Connection refused)"
            ),
            Some("Connection refused".into())
        );
        assert_eq!(
            debug_reason("x.c(1): f (): /GstPipeline:p/GstRTSPSrc:source"),
            None
        );
    }

    #[test]
    fn a_uri_gstreamer_cannot_parse_is_refused_before_any_pipeline() {
        let err = Session::open("not a uri", "", Duration::from_secs(1)).unwrap_err();
        assert!(matches!(err, StreamError::InvalidUri(_)), "{err:?}");
    }
}
