//! Camera video through GStreamer: stream health probes, snapshots and ONVIF metadata.
//!
//! Everything that touches GStreamer blocks, so it runs on blocking threads behind a
//! bound on concurrency; the async side only schedules work and forwards results to the
//! dispatcher, which never waits for video.
//!
//! - [`stream`]: opening a stream (the pipeline shape shared by probes and snapshots).
//! - [`probe`]: one probe of one stream; [`prober`]: the schedule that probes every camera.
//! - [`snapshot`]: one JPEG frame of one stream.
//! - [`snapshots`]: the service that takes a snapshot when an alert names a camera.
//! - [`metadata`]: the ONVIF metadata track of an RTSP stream, reassembled into documents.
//! - [`analytics`]: one metadata session per ONVIF camera, detections turned into alerts.

pub mod analytics;
pub mod metadata;
pub mod probe;
pub mod prober;
pub mod snapshot;
pub mod snapshots;
pub mod stream;
