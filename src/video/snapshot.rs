//! One JPEG frame of a camera stream, and the little we need to know about a JPEG.

use std::time::{Duration, Instant};

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;

use super::stream::{init, Session, StreamError};

/// Opens `uri`, waits for its first decoded frame (at most `timeout` in all) and returns it
/// encoded as a JPEG at the stream's own size. Blocking: run it on a blocking thread.
pub fn grab_jpeg(uri: &str, timeout: Duration) -> Result<Vec<u8>, StreamError> {
    let deadline = Instant::now() + timeout;
    let session = Session::open(uri, "videoconvert ! jpegenc", timeout)?;
    let sample = session.pull(deadline).map_err(|e| match e {
        // The operator set the whole budget, so that is the figure to report, not the part
        // of it left once the pipeline was built.
        StreamError::Timeout(_) => StreamError::Timeout(timeout.as_millis()),
        other => other,
    })?;
    let buffer = sample
        .buffer()
        .ok_or_else(|| StreamError::Failed("the encoder gave a frame without data".into()))?;
    let map = buffer
        .map_readable()
        .map_err(|e| StreamError::Failed(format!("cannot read the encoded frame: {e}")))?;
    Ok(map.as_slice().to_vec())
}

/// A test picture (GStreamer's `videotestsrc` `pattern`, e.g. `smpte`, `ball`, `snow`) of
/// `width` × `height` as a JPEG: the simulated phones' photos, and tests'. Blocking: run it
/// on a blocking thread.
pub fn test_card_jpeg(width: u32, height: u32, pattern: &str) -> Result<Vec<u8>, StreamError> {
    init()?;
    let plain = |s: &str| s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if !plain(pattern) {
        return Err(StreamError::Failed(format!(
            "no such test pattern {pattern:?}"
        )));
    }
    let failed =
        |what: &str, e: &dyn std::fmt::Display| StreamError::Failed(format!("{what}: {e}"));
    let pipeline = gst::parse::launch(&format!(
        "videotestsrc num-buffers=1 pattern={pattern} ! video/x-raw,width={width},height={height} ! jpegenc ! appsink name=sink"
    ))
    .map_err(|e| failed("cannot build the test picture", &e))?
    .downcast::<gst::Pipeline>()
    .map_err(|_| StreamError::Failed("not a pipeline".into()))?;
    let sink = pipeline
        .by_name("sink")
        .and_then(|s| s.downcast::<gst_app::AppSink>().ok())
        .ok_or_else(|| StreamError::Failed("no picture sink".into()))?;
    pipeline
        .set_state(gst::State::Playing)
        .map_err(|e| failed("cannot start the test picture", &e))?;
    let jpeg = sink
        .pull_sample()
        .map_err(|e| failed("no test picture", &e))
        .and_then(|sample| {
            let buffer = sample
                .buffer()
                .ok_or_else(|| StreamError::Failed("a picture without data".into()))?;
            let map = buffer
                .map_readable()
                .map_err(|e| failed("cannot read the picture", &e))?;
            Ok(map.as_slice().to_vec())
        });
    let _ = pipeline.set_state(gst::State::Null);
    jpeg
}

/// Whether `bytes` start like a JPEG file (SOI marker followed by another marker).
pub fn looks_like_jpeg(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0xFF, 0xD8, 0xFF])
}

/// Width and height from a JPEG's frame header (SOF), or `None` when `bytes` is not a JPEG
/// or ends before the header.
pub fn jpeg_dimensions(bytes: &[u8]) -> Option<(u16, u16)> {
    if !looks_like_jpeg(bytes) {
        return None;
    }
    let mut i = 2;
    loop {
        // Markers may be padded with any number of 0xFF fill bytes.
        while *bytes.get(i)? == 0xFF && *bytes.get(i + 1)? == 0xFF {
            i += 1;
        }
        if *bytes.get(i)? != 0xFF {
            return None;
        }
        let marker = *bytes.get(i + 1)?;
        i += 2;
        match marker {
            // Markers without a length: TEM, RSTn.
            0x01 | 0xD0..=0xD7 => continue,
            // End of image or start of scan before any frame header.
            0xD9 | 0xDA => return None,
            _ => {}
        }
        let len = usize::from(u16::from_be_bytes([*bytes.get(i)?, *bytes.get(i + 1)?]));
        if len < 2 {
            return None;
        }
        // SOF0–SOF15, except DHT (C4), JPG (C8) and DAC (CC), which share the range.
        let is_sof = matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC);
        if is_sof {
            // length (2), precision (1), height (2), width (2).
            let height = u16::from_be_bytes([*bytes.get(i + 3)?, *bytes.get(i + 4)?]);
            let width = u16::from_be_bytes([*bytes.get(i + 5)?, *bytes.get(i + 6)?]);
            return Some((width, height));
        }
        i += len;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_test_card_is_a_jpeg_of_the_size_asked() {
        let jpeg = test_card_jpeg(320, 240, "smpte").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(jpeg_dimensions(&jpeg), Some((320, 240)));
        assert!(test_card_jpeg(32, 32, "smpte ! filesink location=/tmp/x").is_err());
    }

    /// SOI, a JFIF APP0 segment, a DQT-like filler segment, then a baseline SOF0 of
    /// `w`x`h`.
    fn header(w: u16, h: u16) -> Vec<u8> {
        let mut v = vec![0xFF, 0xD8];
        v.extend([0xFF, 0xE0, 0x00, 0x10]);
        v.extend(b"JFIF\0");
        v.extend([1, 1, 0, 0, 1, 0, 1, 0, 0]);
        v.extend([0xFF, 0xFF, 0xDB, 0x00, 0x04, 0xAA, 0xBB]);
        v.extend([0xFF, 0xC0, 0x00, 0x11, 0x08]);
        v.extend(h.to_be_bytes());
        v.extend(w.to_be_bytes());
        v.extend([3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]);
        v
    }

    #[test]
    fn dimensions_come_from_the_frame_header() {
        assert_eq!(jpeg_dimensions(&header(320, 240)), Some((320, 240)));
        assert_eq!(jpeg_dimensions(&header(1920, 1080)), Some((1920, 1080)));
    }

    #[test]
    fn anything_else_has_no_dimensions() {
        assert_eq!(jpeg_dimensions(b""), None);
        assert_eq!(jpeg_dimensions(b"<html>not found</html>"), None);
        assert_eq!(jpeg_dimensions(&[0x89, b'P', b'N', b'G']), None);
        // Cut off inside the frame header.
        let h = header(320, 240);
        assert_eq!(jpeg_dimensions(&h[..h.len() - 12]), None);
        // A scan before any frame header.
        assert_eq!(jpeg_dimensions(&[0xFF, 0xD8, 0xFF, 0xDA, 0, 2]), None);
        assert!(!looks_like_jpeg(b"GIF89a"));
    }
}
