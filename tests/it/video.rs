//! Stream probes against real RTSP streams served inside the test.

use crate::common::rtsp;

use std::time::{Duration, Instant};

use griddispatch::video::probe::probe;
use griddispatch::video::stream::StreamError;
use rtsp::{h264_launch, RtspServer, SilentCamera};

#[test]
fn a_probe_reads_size_rate_and_codec_of_an_rtsp_stream() {
    let server = RtspServer::start(&h264_launch(320, 240, 10), 0);
    let facts = probe(&server.uri(), Duration::from_secs(10)).unwrap();
    assert_eq!(facts.width, Some(320), "{facts:?}");
    assert_eq!(facts.height, Some(240), "{facts:?}");
    let fps = facts.fps.unwrap();
    assert!((fps - 10.0).abs() < 1.5, "{facts:?}");
    assert!(
        facts.codec.as_deref().unwrap().contains("H.264"),
        "{facts:?}"
    );
    eprintln!("{facts:?}");
}

#[test]
fn a_refused_connection_is_an_error_naming_it() {
    // A port nobody listens on: bind, read the port, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let err = probe(
        &format!("rtsp://127.0.0.1:{port}/x"),
        Duration::from_secs(5),
    )
    .unwrap_err();
    eprintln!("{err}");
    assert!(matches!(err, StreamError::Failed(_)), "{err:?}");
}

#[test]
fn a_silent_camera_times_out_within_the_budget() {
    let cam = SilentCamera::start();
    let started = Instant::now();
    let err = probe(&cam.uri(), Duration::from_secs(2)).unwrap_err();
    let took = started.elapsed();
    eprintln!("{err} after {took:?}");
    assert!(took < Duration::from_secs(6), "probe took {took:?}");
}

/// Records `frames` frames of a test picture into a Matroska file, with GStreamer.
fn record_mkv(path: &std::path::Path, w: u32, h: u32, frames: u32) {
    use gstreamer as gst;
    use gstreamer::prelude::*;
    gst::init().unwrap();
    let pipeline = gst::parse::launch(&format!(
        "videotestsrc num-buffers={frames} ! video/x-raw,width={w},height={h},framerate=25/1 \
         ! openh264enc ! h264parse ! matroskamux ! filesink location={}",
        path.display()
    ))
    .unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    let bus = pipeline.bus().unwrap();
    let msg = bus
        .timed_pop_filtered(
            gst::ClockTime::from_seconds(30),
            &[gst::MessageType::Eos, gst::MessageType::Error],
        )
        .unwrap();
    assert!(matches!(msg.view(), gst::MessageView::Eos(_)), "{msg:?}");
    pipeline.set_state(gst::State::Null).unwrap();
}

#[test]
fn a_recorded_file_is_probed_like_a_camera() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gate.mkv");
    record_mkv(&path, 640, 360, 50);
    let facts = probe(
        &format!("file://{}", path.display()),
        Duration::from_secs(10),
    )
    .unwrap();
    assert_eq!(
        (facts.width, facts.height),
        (Some(640), Some(360)),
        "{facts:?}"
    );
    assert_eq!(facts.fps, Some(25.0), "{facts:?}");
    assert!(
        facts.codec.as_deref().unwrap().contains("H.264"),
        "{facts:?}"
    );
    // Two seconds of video: enough to measure its bitrate.
    assert!(facts.bitrate.unwrap() > 0, "{facts:?}");
}

#[test]
fn a_file_that_is_not_video_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.txt");
    std::fs::write(&path, "not a video at all\n".repeat(100)).unwrap();
    let err = probe(
        &format!("file://{}", path.display()),
        Duration::from_secs(5),
    )
    .unwrap_err();
    eprintln!("{err}");
    assert!(matches!(err, StreamError::Failed(_)), "{err:?}");
}
