//! ONVIF analytics metadata (`tt:MetadataStream`, the `VND.ONVIF.METADATA` track of an RTSP
//! session). Pure parsing and decisions, no I/O: the caller reads the metadata track and hands
//! each document to [`parse_metadata`], passes each event to [`classify`], lets a
//! [`Cooldown`] drop repeats, and turns what is left into an alert with [`to_alert`].
//!
//! Cameras differ in the prefixes they bind (`tt:`, `ns0:`, a default namespace, …), so
//! elements are matched on namespace URI and local name, never on a prefix.
//!
//! One file per step: `parse` reads a document into events, `classify` decides which are
//! detections, `cooldown` drops repeats, `alert` makes the alert; each keeps its tests, and
//! `fixtures` holds the documents they share. (The RTSP session that reads the track is
//! `video::metadata`.)

mod alert;
mod classify;
mod cooldown;
#[cfg(test)]
mod fixtures;
mod parse;

pub use self::alert::to_alert;
pub use self::classify::{classify, Detection, DetectionKind};
pub use self::cooldown::Cooldown;
pub use self::parse::{parse_metadata, OnvifEvent, PropertyOperation};

/// Source id under which ONVIF detections are recorded.
pub const ONVIF_SOURCE: &str = "onvif";

/// The ONVIF schema namespace (`tt:`).
pub const ONVIF_SCHEMA_NS: &str = "http://www.onvif.org/ver10/schema";

/// The WS-BaseNotification namespace (`wsnt:`).
pub const WSNT_NS: &str = "http://docs.oasis-open.org/wsn/b-2";

/// Most events read from one document; the rest are ignored. A metadata frame normally
/// carries one or two, so a document with hundreds is a misbehaving device, and reading
/// them all would let one frame flood the dispatcher.
pub const MAX_EVENTS_PER_DOCUMENT: usize = 256;

/// Largest document accepted, bytes. Real frames are a few kilobytes; the limit keeps one
/// bad payload from costing much memory or time.
pub const MAX_DOCUMENT_BYTES: usize = 1 << 20;

/// Default number of (camera, rule) pairs a [`Cooldown`] remembers.
pub const COOLDOWN_MAX_KEYS: usize = 10_000;
