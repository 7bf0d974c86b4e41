//! The ONVIF metadata track of a camera's RTSP stream, read with GStreamer.
//!
//! An ONVIF camera announces its analytics metadata as an RTP stream of its own in the SDP
//! (`m=application … a=rtpmap:<pt> VND.ONVIF.METADATA/90000`). Each `tt:MetadataStream`
//! XML document is cut into RTP packets that share one timestamp; the marker bit is set on
//! the last packet of a document (ONVIF Streaming Specification, "Metadata streaming").
//!
//! GStreamer 1.22 as shipped by Debian 12 has no depayloader for this (`rtponvifmetadatadepay`
//! lives in gst-plugins-rs, which Debian does not package; `gst-inspect-1.0` lists only
//! `rtponvifparse` and `rtponviftimestamp`, which handle the replay header extension). So
//! `rtspsrc` is asked to set up only the metadata stream (its `select-stream` signal), the
//! RTP packets go to an appsink, and [`Reassembler`] joins their payloads into documents.
//!
//! Everything here blocks: run it on a thread of its own, never on the async runtime.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use gstreamer_rtp as gst_rtp;
use tokio_util::sync::CancellationToken;

use super::stream::{drain, init, pop_bus_error, tune_source, StreamError};
use crate::ingest::onvif::MAX_DOCUMENT_BYTES;

/// The RTP encoding name of ONVIF metadata, compared ignoring ASCII case.
pub const ONVIF_METADATA_ENCODING: &str = "VND.ONVIF.METADATA";

/// How long connecting and each RTSP request may take before the session fails. The
/// metadata itself may be silent for hours (event-only streams send nothing while nothing
/// happens); rtspsrc keeps the RTSP session alive meanwhile.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How often the session loop looks at its stop token between packets: the bound on how
/// long a session outlives its cancellation (plus the RTSP TEARDOWN).
const POLL_SLICE: Duration = Duration::from_millis(100);

/// RTP packets the appsink holds before rtspsrc waits; a document is a few packets, so
/// this is plenty while the session thread keeps up.
const SINK_MAX_BUFFERS: u32 = 1000;

/// Why a metadata session ended.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    /// The stream could not be opened or failed while running (refused, unreachable,
    /// closed by the camera, ended).
    #[error("{0}")]
    Stream(#[from] StreamError),
    /// The camera answers, but its stream has no ONVIF metadata track; the text lists what
    /// it offers instead.
    #[error("the stream has no ONVIF metadata track (VND.ONVIF.METADATA); it offers {0}")]
    NoMetadataTrack(String),
}

/// What a running session reports to its caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionEvent {
    /// The metadata track is set up and linked: the camera is streaming metadata.
    Linked,
    /// One complete metadata document (the XML bytes, not yet checked).
    Document(Vec<u8>),
    /// A document was lost on the way (packets missing, too large); the reason says how.
    Lost(String),
}

/// Reassembles metadata documents from RTP packets in sequence order, as they leave
/// rtspsrc's jitter buffer.
///
/// A document ends at a packet with the marker bit. It is given up (reported as lost, once)
/// when a packet is missing in the middle, when a packet with a new timestamp arrives before
/// the marker (the camera never finished it), or when it grows beyond
/// [`MAX_DOCUMENT_BYTES`]; the rest of it is skipped up to its marker. A document must start
/// with `<` (after white space or a byte order mark), so the tail of a document whose start
/// came before the session began is skipped silently rather than reported as bad XML.
#[derive(Debug, Default)]
pub struct Reassembler {
    /// Payload bytes of the document being gathered.
    buf: Vec<u8>,
    /// RTP timestamp shared by the packets of the document being gathered or skipped.
    timestamp: Option<u32>,
    /// Sequence number expected next.
    next_seq: Option<u16>,
    /// The current document is being skipped up to its marker.
    skipping: bool,
}

impl Reassembler {
    /// A reassembler waiting for the start of a document.
    pub fn new() -> Reassembler {
        Reassembler::default()
    }

    /// Takes one packet; returns what it completed or lost, in order (at most two events:
    /// the loss of an unfinished document, then a document that this packet ends).
    pub fn push(
        &mut self,
        seq: u16,
        timestamp: u32,
        marker: bool,
        payload: &[u8],
    ) -> Vec<SessionEvent> {
        let mut out = Vec::new();
        let in_sequence = self.next_seq.is_none_or(|n| n == seq);
        self.next_seq = Some(seq.wrapping_add(1));
        let same_document = self.timestamp == Some(timestamp);
        let gathering = !self.buf.is_empty();

        if gathering && !same_document {
            out.push(SessionEvent::Lost(
                "a document ended without its last packet (no RTP marker bit)".into(),
            ));
            self.start_document(timestamp);
        } else if !in_sequence {
            if gathering {
                out.push(SessionEvent::Lost(format!(
                    "RTP packets lost inside a document (sequence jumped to {seq})"
                )));
            }
            if same_document {
                // The middle of this document is gone: skip to its end.
                self.buf.clear();
                self.skipping = true;
            } else {
                self.start_document(timestamp);
            }
        } else if !gathering && !same_document {
            self.start_document(timestamp);
        }

        if !self.skipping {
            if self.buf.is_empty() && !starts_like_xml(payload) {
                // The tail of a document begun before we joined, or not XML at all.
                self.skipping = true;
            } else if self.buf.len() + payload.len() > MAX_DOCUMENT_BYTES {
                out.push(SessionEvent::Lost(format!(
                    "a metadata document grew beyond {MAX_DOCUMENT_BYTES} bytes"
                )));
                self.buf = Vec::new();
                self.skipping = true;
            } else {
                self.buf.extend_from_slice(payload);
            }
        }

        if marker {
            if !self.skipping && !self.buf.is_empty() {
                let mut doc = std::mem::take(&mut self.buf);
                // Some cameras pad the last packet with NULs, which XML does not allow.
                while doc
                    .last()
                    .is_some_and(|b| *b == 0 || b.is_ascii_whitespace())
                {
                    doc.pop();
                }
                if !doc.is_empty() {
                    out.push(SessionEvent::Document(doc));
                }
            }
            self.buf.clear();
            self.skipping = false;
            // The next packet starts a new document even if it repeats this timestamp.
            self.timestamp = None;
        }
        out
    }

    /// Forgets whatever was gathered and starts a document at `timestamp`.
    fn start_document(&mut self, timestamp: u32) {
        self.buf.clear();
        self.skipping = false;
        self.timestamp = Some(timestamp);
    }
}

/// True when `payload` can be the first bytes of an XML document: `<` after optional white
/// space and a UTF-8 byte order mark.
fn starts_like_xml(payload: &[u8]) -> bool {
    let rest = payload.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(payload);
    rest.iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_none_or(|b| *b == b'<')
}

/// True for caps (from the SDP or on an rtspsrc pad) of an ONVIF metadata RTP stream.
fn is_metadata(caps: &gst::CapsRef) -> bool {
    caps.structure(0).is_some_and(|s| {
        s.get::<&str>("encoding-name")
            .is_ok_and(|e| e.eq_ignore_ascii_case(ONVIF_METADATA_ENCODING))
    })
}

/// `media encoding` of one SDP stream, for the "no metadata track" message.
fn describe(caps: &gst::CapsRef) -> String {
    caps.structure(0)
        .map(|s| {
            let media = s.get::<&str>("media").unwrap_or("?");
            let encoding = s.get::<&str>("encoding-name").unwrap_or("?");
            format!("{media} {encoding}")
        })
        .unwrap_or_else(|| "?".into())
}

/// What `select-stream` saw of the camera's streams.
#[derive(Debug, Default)]
struct Offered {
    /// Every stream in the SDP, `media encoding`.
    streams: Vec<String>,
    /// A metadata stream was chosen.
    selected: bool,
}

/// Reads the metadata track of `uri` (RTSP, over TCP) until `stop` fires, `on_event` returns
/// false, or the stream fails. Returns `Ok` only when stopped. Blocking.
pub fn run(
    uri: &str,
    stop: &CancellationToken,
    mut on_event: impl FnMut(SessionEvent) -> bool,
) -> Result<(), SessionError> {
    init()?;
    let uri = crate::domain::stream_uri(uri)
        .map_err(|e| StreamError::InvalidUri(e.reason.to_string()))?;
    if !uri.to_ascii_lowercase().starts_with("rtsp") {
        return Err(StreamError::InvalidUri(
            "ONVIF metadata needs an rtsp:// (or rtsps://) stream".into(),
        )
        .into());
    }
    let pipeline = gst::Pipeline::new();
    let src = gst::ElementFactory::make("rtspsrc")
        .property("location", uri.as_str())
        .build()
        .map_err(|e| StreamError::Unavailable(format!("rtspsrc: {e}")))?;
    tune_source(&src, CONNECT_TIMEOUT);
    let sink = gst_app::AppSink::builder()
        .sync(false)
        .max_buffers(SINK_MAX_BUFFERS)
        .build();
    pipeline
        .add_many([&src, sink.upcast_ref()])
        .map_err(|e| StreamError::Unavailable(e.to_string()))?;
    // Stops the pipeline however this function returns; to NULL synchronously, which sends
    // the RTSP TEARDOWN and joins the streaming threads.
    let _guard = StopOnDrop(pipeline.clone());

    // Only the metadata stream is SETUP, so the camera never sends video we would discard.
    let offered: Arc<Mutex<Offered>> = Arc::default();
    {
        let offered = offered.clone();
        src.connect("select-stream", false, move |values| {
            let caps = values.get(2).and_then(|v| v.get::<gst::Caps>().ok());
            let mut o = offered.lock().unwrap_or_else(|e| e.into_inner());
            let take = match &caps {
                Some(caps) => {
                    o.streams.push(describe(caps));
                    !o.selected && is_metadata(caps)
                }
                None => false,
            };
            o.selected |= take;
            Some(take.to_value())
        });
    }
    let sink_pad = sink
        .static_pad("sink")
        .ok_or_else(|| StreamError::Unavailable("appsink without sink pad".into()))?;
    let pipeline_weak = pipeline.downgrade();
    src.connect_pad_added(move |_, pad| {
        let metadata = pad
            .current_caps()
            .or_else(|| Some(pad.query_caps(None)))
            .is_some_and(|c| is_metadata(&c));
        if metadata && !sink_pad.is_linked() && pad.link(&sink_pad).is_ok() {
            return;
        }
        // Anything else (a second metadata track, a stream a camera sends unasked) drains
        // away.
        if let Some(pipeline) = pipeline_weak.upgrade() {
            drain(&pipeline, pad);
        }
    });

    let bus = pipeline
        .bus()
        .ok_or_else(|| StreamError::Unavailable("pipeline without bus".into()))?;
    let no_track = |offered: &Mutex<Offered>| {
        let o = offered.lock().unwrap_or_else(|e| e.into_inner());
        // Streams were offered and none was ours: whatever rtspsrc then says ("no
        // supported stream was found") is less clear than this.
        (!o.streams.is_empty() && !o.selected)
            .then(|| SessionError::NoMetadataTrack(o.streams.join(", ")))
    };
    if pipeline.set_state(gst::State::Playing).is_err() {
        return Err(no_track(&offered).unwrap_or_else(|| {
            pop_bus_error(&bus)
                .unwrap_or_else(|| StreamError::Failed("cannot start the RTSP pipeline".into()))
                .into()
        }));
    }

    let mut reassembler = Reassembler::new();
    let mut linked = false;
    let slice =
        gst::ClockTime::from_nseconds(u64::try_from(POLL_SLICE.as_nanos()).unwrap_or(100_000_000));
    loop {
        if stop.is_cancelled() {
            return Ok(());
        }
        if let Some(err) = pop_bus_error(&bus) {
            return Err(no_track(&offered).unwrap_or(err.into()));
        }
        let pulled = sink.try_pull_sample(slice);
        // Linked as soon as the pad is (a silent event-only stream sends nothing for a long
        // time), and at the latest with the first packet.
        if !linked && (pulled.is_some() || sink.static_pad("sink").is_some_and(|p| p.is_linked())) {
            linked = true;
            if !on_event(SessionEvent::Linked) {
                return Ok(());
            }
        }
        let Some(sample) = pulled else {
            if sink.is_eos() {
                return Err(pop_bus_error(&bus).unwrap_or(StreamError::Eos).into());
            }
            continue;
        };
        let Some(buffer) = sample.buffer() else {
            continue;
        };
        let events = match gst_rtp::RTPBuffer::from_buffer_readable(buffer) {
            Ok(rtp) => match rtp.payload() {
                Ok(payload) => {
                    reassembler.push(rtp.seq(), rtp.timestamp(), rtp.is_marker(), payload)
                }
                Err(_) => vec![SessionEvent::Lost("an RTP packet without payload".into())],
            },
            Err(_) => vec![SessionEvent::Lost(
                "a buffer that is not an RTP packet".into(),
            )],
        };
        for event in events {
            if !on_event(event) {
                return Ok(());
            }
        }
    }
}

/// Sets its pipeline to NULL when dropped.
#[derive(Debug)]
struct StopOnDrop(gst::Pipeline);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        let _ = self.0.set_state(gst::State::Null);
    }
}

/// `uri` without the user name and password, for logs: stream URIs often carry the
/// camera's credentials (`rtsp://admin:secret@host/…`).
pub fn redact_uri(uri: &str) -> String {
    let Some((scheme, rest)) = uri.split_once("://") else {
        return uri.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://…@{}", &rest[at + 1..]),
        None => uri.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn docs(events: &[SessionEvent]) -> Vec<String> {
        events
            .iter()
            .filter_map(|e| match e {
                SessionEvent::Document(d) => Some(String::from_utf8_lossy(d).into_owned()),
                _ => None,
            })
            .collect()
    }

    fn lost(events: &[SessionEvent]) -> usize {
        events
            .iter()
            .filter(|e| matches!(e, SessionEvent::Lost(_)))
            .count()
    }

    #[test]
    fn packets_up_to_the_marker_make_one_document() {
        let mut r = Reassembler::new();
        assert!(r.push(10, 900, false, b"<tt:Meta").is_empty());
        assert!(r.push(11, 900, false, b"dataStream>").is_empty());
        let out = r.push(12, 900, true, b"</tt:MetadataStream>\0\0\n");
        assert_eq!(
            docs(&out),
            ["<tt:MetadataStream></tt:MetadataStream>".to_owned()]
        );
        // The next document may even repeat the timestamp.
        let out = r.push(13, 900, true, b"<a/>");
        assert_eq!(docs(&out), ["<a/>".to_owned()]);
        // Sequence numbers wrap.
        let mut r = Reassembler::new();
        assert!(r.push(u16::MAX, 1, false, b"<a>").is_empty());
        assert_eq!(docs(&r.push(0, 1, true, b"</a>")), ["<a></a>".to_owned()]);
    }

    #[test]
    fn a_missing_packet_loses_only_its_document() {
        let mut r = Reassembler::new();
        assert!(r.push(1, 100, false, b"<a>").is_empty());
        // Packet 2 never arrives.
        let out = r.push(3, 100, true, b"</a>");
        assert_eq!(lost(&out), 1);
        assert!(docs(&out).is_empty());
        assert_eq!(docs(&r.push(4, 200, true, b"<b/>")), ["<b/>".to_owned()]);

        // The marker packet is lost: the next timestamp says the document is over.
        let out = r.push(5, 300, false, b"<c>");
        assert!(out.is_empty());
        let out = r.push(7, 400, true, b"<d/>");
        assert_eq!(lost(&out), 1);
        assert_eq!(docs(&out), ["<d/>".to_owned()]);
    }

    #[test]
    fn a_document_without_marker_is_lost_when_the_next_begins() {
        let mut r = Reassembler::new();
        assert!(r.push(1, 100, false, b"<a>").is_empty());
        let out = r.push(2, 200, true, b"<b/>");
        assert_eq!(lost(&out), 1);
        assert_eq!(docs(&out), ["<b/>".to_owned()]);
    }

    #[test]
    fn joining_mid_document_skips_its_tail_silently() {
        let mut r = Reassembler::new();
        let out = r.push(50, 100, false, b"Value=\"true\"/>");
        assert!(out.is_empty());
        let out = r.push(51, 100, true, b"</tt:MetadataStream>");
        assert!(out.is_empty(), "{out:?}");
        let out = r.push(52, 200, true, b"\xEF\xBB\xBF  <x/>");
        assert_eq!(docs(&out).len(), 1);
    }

    #[test]
    fn an_oversized_document_is_dropped_once() {
        let mut r = Reassembler::new();
        let chunk = vec![b'<'; 64 * 1024];
        let mut lost_count = 0;
        let mut seq = 0u16;
        for _ in 0..(MAX_DOCUMENT_BYTES / chunk.len() + 4) {
            lost_count += lost(&r.push(seq, 7, false, &chunk));
            seq += 1;
        }
        let out = r.push(seq, 7, true, b">");
        assert_eq!(lost_count + lost(&out), 1);
        assert!(docs(&out).is_empty());
        assert_eq!(docs(&r.push(seq + 1, 8, true, b"<ok/>")).len(), 1);
    }

    #[test]
    fn credentials_are_kept_out_of_logs() {
        assert_eq!(
            redact_uri("rtsp://admin:s3cr@t@10.0.0.5:554/onvif1"),
            "rtsp://…@10.0.0.5:554/onvif1"
        );
        assert_eq!(redact_uri("rtsp://10.0.0.5/a@b"), "rtsp://10.0.0.5/a@b");
        assert_eq!(redact_uri("nonsense"), "nonsense");
    }

    #[test]
    fn only_rtsp_uris_are_opened() {
        let stop = CancellationToken::new();
        let err = run("http://example.invalid/x", &stop, |_| true).unwrap_err();
        assert!(
            matches!(err, SessionError::Stream(StreamError::InvalidUri(_))),
            "{err:?}"
        );
        let err = run("not a uri", &stop, |_| true).unwrap_err();
        assert!(
            matches!(err, SessionError::Stream(StreamError::InvalidUri(_))),
            "{err:?}"
        );
    }
}
