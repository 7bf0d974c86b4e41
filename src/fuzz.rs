//! Entry points for the coverage-guided fuzz targets in `fuzz/` (`scripts/fuzz`,
//! docs/security.md): each takes the bytes an outsider controls and runs them through the
//! parser the server runs them through, ignoring the answer. Only a panic, an abort or a
//! hang is a finding. Compiled only under `cargo fuzz` (`--cfg fuzzing`), so none of it is
//! in the server.
//!
//! One function per target; the target's name is the function's.

use crate::domain::alert::{AlertPayload, NewAlert};
use crate::domain::Ident;

/// Fixed "now" for parsers that take one, so a finding replays the same way.
const NOW_MS: i64 = 1_780_000_000_000;

/// An alert as a source publishes it on `alerts/<source>` (and `POST /api/v1/alerts`).
pub fn alert_json(data: &[u8]) {
    if let Ok(payload) = crate::ingest::parse_json::<AlertPayload>(data) {
        if let Ok(source) = Ident::parse("fuzz") {
            let _ = NewAlert::from_payload(source, payload, NOW_MS);
        }
    }
}

/// What a phone publishes: a task update, a request for more time, a duty toggle (the
/// first byte picks which).
pub fn phone_json(data: &[u8]) {
    let Some((which, body)) = data.split_first() else {
        return;
    };
    match which % 3 {
        0 => {
            let _ = crate::ingest::parse_json::<crate::dispatch::TaskUpdate>(body);
        }
        1 => {
            if let Ok(ask) =
                crate::ingest::parse_json::<crate::domain::closed_loop::ExtensionAsk>(body)
            {
                let _ = ask.checked();
            }
        }
        _ => {
            let _ = crate::ingest::parse_duty(body);
        }
    }
}

/// An OwnTracks location report.
pub fn owntracks(data: &[u8]) {
    let _ = crate::ingest::owntracks::parse(data);
}

/// A Frigate event on `frigate/events`.
pub fn frigate_event(data: &[u8]) {
    let _ = crate::ingest::frigate::to_alert(data, NOW_MS);
}

/// Frigate's camera status: `…/detect/state` and `…/available` (the first byte picks).
pub fn frigate_status(data: &[u8]) {
    let Some((which, body)) = data.split_first() else {
        return;
    };
    if which % 2 == 0 {
        let _ = crate::domain::camera_health::parse_detect(body);
    } else {
        let _ = crate::domain::camera_health::parse_available(body);
    }
}

/// A GB/T 28181 alarm notification, in any encoding it may declare (GB18030, GBK, UTF-8).
pub fn gb28181(data: &[u8]) {
    if crate::ingest::gb28181::check_size(data).is_ok() {
        if let Ok(alarm) = crate::ingest::gb28181::parse(data, chrono_tz::Asia::Shanghai) {
            let _ = crate::ingest::gb28181::to_alert(&alarm, None, NOW_MS);
        }
    }
}

/// An ONVIF metadata document (one RTP-reassembled frame), through to the alerts it makes.
pub fn onvif_metadata(data: &[u8]) {
    let Ok(events) = crate::ingest::onvif::parse_metadata(data) else {
        return;
    };
    let Ok(camera) = Ident::parse("cam-fuzz") else {
        return;
    };
    for event in &events {
        if let Some(d) = crate::ingest::onvif::classify(event) {
            let _ = crate::ingest::onvif::to_alert(&camera, &d, NOW_MS);
        }
    }
}

/// RTP packets of the metadata stream into the reassembler: each packet is a 2-byte
/// length, then a 7-byte header (sequence, timestamp, marker) and that many payload bytes.
pub fn rtp_reassembly(data: &[u8]) {
    let mut r = crate::video::metadata::Reassembler::new();
    let mut rest = data;
    while rest.len() >= 9 {
        let len = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
        let seq = u16::from_be_bytes([rest[2], rest[3]]);
        let ts = u32::from_be_bytes([rest[4], rest[5], rest[6], rest[7]]);
        let marker = rest[8] & 1 == 1;
        rest = &rest[9..];
        let take = len.min(rest.len());
        let _ = r.push(seq, ts, marker, &rest[..take]);
        rest = &rest[take..];
    }
}

/// A camera import file: CSV or GeoJSON (the first byte picks).
pub fn camera_import(data: &[u8]) {
    let Some((which, body)) = data.split_first() else {
        return;
    };
    crate::http::cameras::fuzz_import(which % 2 == 0, body);
}

/// A zone as GeoJSON (`POST /api/v1/zones`).
pub fn zone_geojson(data: &[u8]) {
    crate::http::zones::fuzz_feature(data);
}

/// A settings file (`--config`), over the defaults.
pub fn settings_toml(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = crate::config::Settings::from_toml(text);
    }
}
