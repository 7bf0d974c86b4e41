//! A real RTSP server inside the test process (gst-rtsp-server), serving a GStreamer
//! launch line on 127.0.0.1, and a "camera" that accepts TCP connections and never answers
//! (both shared with the benchmarks, in `benches/common/rtsp.rs`); and an ONVIF camera
//! whose metadata track the test writes.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use gstreamer_rtp as gst_rtp;
use gstreamer_rtp::prelude::*;
use gstreamer_rtsp_server::prelude::*;

#[path = "../../../benches/common/rtsp.rs"]
mod server;
pub use server::{h264_launch, RtspServer, SilentCamera};

/// RTP caps of an ONVIF metadata track, as a camera's SDP announces it.
pub const ONVIF_METADATA_CAPS: &str = "application/x-rtp,media=application,clock-rate=90000,encoding-name=VND.ONVIF.METADATA,payload=107";

/// A metadata frame with object analytics and no events, as cameras send many times a
/// second: it keeps the track busy and must raise nothing.
pub const ANALYTICS_ONLY_FRAME: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<tt:MetadataStream xmlns:tt="http://www.onvif.org/ver10/schema"><tt:VideoAnalytics><tt:Frame UtcTime="2026-11-27T09:30:00Z"><tt:Object ObjectId="1"><tt:Appearance><tt:Shape><tt:BoundingBox left="0.1" top="0.2" right="0.3" bottom="0.4"/></tt:Shape></tt:Appearance></tt:Object></tt:Frame></tt:VideoAnalytics></tt:MetadataStream>"#;

/// What the metadata camera pushes into.
#[derive(Debug, Default)]
struct Feed {
    /// The appsrc of the current media (a new one after every re-prepare).
    appsrc: Option<gst_app::AppSrc>,
    /// Next RTP sequence number.
    seq: u16,
    /// RTP time of the next document (90 kHz).
    rtp_time: u32,
}

/// An ONVIF camera's RTSP stream whose metadata track carries RTP packets the test builds
/// (with gstreamer-rtp's `RTPBuffer`), optionally beside an H.264 video track. It sends an
/// analytics-only frame every 200 ms, and whatever the test sends with [`MetadataCamera::send`].
#[derive(Debug)]
pub struct MetadataCamera {
    /// The RTSP server; its `uri()` is the camera's stream.
    pub server: RtspServer,
    feed: Arc<Mutex<Feed>>,
    stop: Arc<AtomicBool>,
    ticker: Option<JoinHandle<()>>,
}

impl MetadataCamera {
    /// Serves on `port` (0 = any free port); `with_video` adds an H.264 track before the
    /// metadata track, as a camera's media profile does.
    pub fn start(port: u16, with_video: bool) -> MetadataCamera {
        let feed: Arc<Mutex<Feed>> = Arc::default();
        let configured = feed.clone();
        let server = RtspServer::start_with(port, move |factory| {
            let video = if with_video {
                "videotestsrc is-live=true ! video/x-raw,width=320,height=240,framerate=10/1 \
                 ! openh264enc ! h264parse ! rtph264pay name=pay0 pt=96 config-interval=1"
            } else {
                ""
            };
            let pay = if with_video { "pay1" } else { "pay0" };
            factory.set_launch(&format!(
                "( {video} appsrc name={pay} is-live=true do-timestamp=true format=time caps=\"{ONVIF_METADATA_CAPS}\" )"
            ));
            let pay = pay.to_owned();
            factory.connect_media_configure(move |_, media| {
                let bin = media.element().downcast::<gst::Bin>().unwrap();
                let appsrc = bin
                    .by_name(&pay)
                    .unwrap()
                    .downcast::<gst_app::AppSrc>()
                    .unwrap();
                configured.lock().unwrap().appsrc = Some(appsrc);
            });
        });
        let stop = Arc::new(AtomicBool::new(false));
        let ticker = {
            let feed = feed.clone();
            let stop = stop.clone();
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    push_document(&feed, ANALYTICS_ONLY_FRAME.as_bytes(), 1);
                    std::thread::sleep(Duration::from_millis(200));
                }
            })
        };
        MetadataCamera {
            server,
            feed,
            stop,
            ticker: Some(ticker),
        }
    }

    /// The camera's stream.
    pub fn uri(&self) -> String {
        self.server.uri()
    }

    /// Sends `doc` cut into `parts` RTP packets of one timestamp, the marker bit on the
    /// last, as ONVIF streaming prescribes.
    pub fn send(&self, doc: &str, parts: usize) {
        push_document(&self.feed, doc.as_bytes(), parts);
    }
}

impl Drop for MetadataCamera {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.ticker.take() {
            let _ = t.join();
        }
    }
}

/// Pushes `doc` as `parts` RTP packets into the current media, if a client has one.
fn push_document(feed: &Mutex<Feed>, doc: &[u8], parts: usize) {
    let mut feed = feed.lock().unwrap();
    let Some(appsrc) = feed.appsrc.clone() else {
        return;
    };
    let parts = parts.clamp(1, doc.len().max(1));
    let size = doc.len().div_ceil(parts);
    let chunks: Vec<&[u8]> = doc.chunks(size.max(1)).collect();
    let rtp_time = feed.rtp_time;
    feed.rtp_time = feed.rtp_time.wrapping_add(9000);
    for (i, chunk) in chunks.iter().enumerate() {
        let mut buffer =
            gst::Buffer::new_rtp_with_sizes(u32::try_from(chunk.len()).unwrap(), 0, 0).unwrap();
        {
            let mut rtp =
                gst_rtp::RTPBuffer::from_buffer_writable(buffer.get_mut().unwrap()).unwrap();
            rtp.set_payload_type(107);
            rtp.set_ssrc(0x0DF1_0DF1);
            rtp.set_seq(feed.seq);
            rtp.set_timestamp(rtp_time);
            rtp.set_marker(i + 1 == chunks.len());
            rtp.payload_mut().unwrap().copy_from_slice(chunk);
        }
        feed.seq = feed.seq.wrapping_add(1);
        // Flushing (no client playing yet) is fine: the packet is simply not sent.
        let _ = appsrc.push_buffer(buffer);
    }
}
