//! GB/T 28181 alarm notifications, as a video platform (e.g. WVP-GB28181-pro) forwards
//! them: the MANSCDP `<Notify>` XML body whose `CmdType` is `Alarm`, in the encoding its
//! prologue declares (GB2312 and GB18030 are common).
//!
//! One notification is one alert with the external id `<DeviceID>:<SN>`, so a platform
//! re-sending it does not open a second incident. Everything here is pure; the camera
//! lookup (which camera has the DeviceID as its `gb28181_id`) is the caller's.

use chrono::{DateTime, NaiveDateTime, TimeZone};
use chrono_tz::Tz;
use encoding_rs::{Encoding, GB18030, GBK, UTF_8};

use super::xml_limits::{self, XmlLimits};
use crate::domain::alert::{AlertPlace, NewAlert};
use crate::domain::{Ident, LatLon, Severity};

/// Source id under which GB/T 28181 alarms are recorded.
pub const SOURCE: &str = "gb28181";

/// The MQTT topic on which platforms publish alarm bodies.
pub const TOPIC: &str = "gb28181/alarm";

/// Longest AlarmDescription kept, in characters (the alert's whole text is capped at 2000).
const MAX_DESCRIPTION: usize = 1500;

/// The largest alarm body read. A real `<Notify>` alarm is well under 2 KB with a dozen
/// elements, at most a namespace declaration or two and three levels; these bounds leave
/// room for platforms' extra fields while refusing, before parsing, a document whose shape
/// would make the parse slow (security review, issue 12 finding 3).
pub const LIMITS: XmlLimits = XmlLimits {
    max_bytes: 64 * 1024,
    max_elements: 256,
    max_attributes: 16,
    max_depth: 16,
};

/// The fields of one alarm notification that the dispatcher uses.
#[derive(Debug, Clone, PartialEq)]
pub struct Alarm {
    /// The 20-digit id of the device that raised it.
    pub device_id: String,
    /// The notification's sequence number, as sent.
    pub sn: String,
    /// From AlarmPriority: 1 most urgent … 4.
    pub severity: Severity,
    /// AlarmMethod: 1 phone, 2 device, 3 SMS, 4 GPS, 5 video, 6 device fault, 7 other.
    pub method: u8,
    /// `Info/AlarmType`, whose meaning depends on `method`.
    pub alarm_type: Option<u32>,
    /// AlarmTime as Unix ms; `None` when the notification carries none.
    pub time_ms: Option<i64>,
    /// AlarmDescription, trimmed; `None` when absent or blank.
    pub description: Option<String>,
    /// Longitude/Latitude, when both are present and usable.
    pub position: Option<LatLon>,
}

/// Whether `s` is a GB/T 28181 id: exactly 20 ASCII digits.
pub fn is_device_id(s: &str) -> bool {
    s.len() == 20 && s.bytes().all(|b| b.is_ascii_digit())
}

/// The `encoding` named in an XML prologue (`<?xml … encoding="GB2312"?>`), if any. Every
/// encoding accepted here is ASCII-compatible, so the prologue can be read as bytes before
/// anything is decoded.
fn declared_encoding(bytes: &[u8]) -> Option<&str> {
    let start = bytes.iter().position(|b| !b.is_ascii_whitespace())?;
    let rest = bytes[start..].strip_prefix(b"<?xml")?;
    let end = rest.windows(2).position(|w| w == b"?>")?;
    let decl = std::str::from_utf8(&rest[..end]).ok()?;
    let after = decl[decl.find("encoding")? + "encoding".len()..].trim_start();
    let value = after.strip_prefix('=')?.trim_start();
    let quote = value.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let value = &value[1..];
    Some(&value[..value.find(quote)?])
}

/// The body as text, decoded per the encoding its XML prologue declares (UTF-8 when it
/// declares none, or when it starts with a UTF-8 byte-order mark).
pub fn decode(bytes: &[u8]) -> Result<String, String> {
    if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        return Ok(String::from_utf8_lossy(rest).into_owned());
    }
    let encoding = match declared_encoding(bytes) {
        None => UTF_8,
        // GB2312 and GBK labels both map to encoding_rs's GBK, a superset of GB2312.
        Some(label) => match Encoding::for_label(label.trim().as_bytes()) {
            Some(e) if e == GBK || e == GB18030 || e == UTF_8 => e,
            _ => {
                return Err(format!(
                    "unsupported XML encoding {label:?}: expected GB2312, GBK, GB18030 or UTF-8"
                ))
            }
        },
    };
    if let Some(text) = encoding.decode_without_bom_handling_and_without_replacement(bytes) {
        return Ok(text.into_owned());
    }
    // Not valid in the declared encoding. Platforms have been seen to declare GB2312 and
    // send UTF-8; an alarm is worth more than a strict reading, so take well-formed UTF-8,
    // and otherwise keep what decodes (bad bytes become U+FFFD).
    if let Ok(text) = std::str::from_utf8(bytes) {
        return Ok(text.to_owned());
    }
    Ok(encoding.decode_without_bom_handling(bytes).0.into_owned())
}

/// `Err` naming the limit when `bytes` is longer than an alarm body may be: the one check
/// cheap enough to make before handing the body to a blocking thread.
pub fn check_size(bytes: &[u8]) -> Result<(), String> {
    if bytes.len() > LIMITS.max_bytes {
        return Err(format!(
            "GB/T 28181 alarm refused: body of {} bytes is over the {} byte limit",
            bytes.len(),
            LIMITS.max_bytes
        ));
    }
    Ok(())
}

/// The first child element named `name`, ignoring ASCII case (platforms differ, e.g. both
/// `Info` and `info` are seen).
fn child<'a, 'i>(node: roxmltree::Node<'a, 'i>, name: &str) -> Option<roxmltree::Node<'a, 'i>> {
    node.children()
        .find(|n| n.is_element() && n.tag_name().name().eq_ignore_ascii_case(name))
}

/// The trimmed text of the child element `name`; `None` when absent or blank.
fn field<'a>(node: roxmltree::Node<'a, '_>, name: &str) -> Option<&'a str> {
    child(node, name)
        .and_then(|n| n.text())
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// AlarmTime as Unix ms. Platforms send local time without a zone, read in `tz`; a value
/// with an offset or `Z` is taken as given.
pub fn parse_alarm_time(s: &str, tz: Tz) -> Result<i64, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.timestamp_millis());
    }
    let local = ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
        .ok_or_else(|| {
            format!("AlarmTime {s:?}: expected local time such as 2026-11-27T09:30:00")
        })?;
    // `earliest` settles a time that a daylight-saving change makes ambiguous; a time that
    // the change skips does not exist in that zone.
    tz.from_local_datetime(&local)
        .earliest()
        .map(|t| t.timestamp_millis())
        .ok_or_else(|| format!("AlarmTime {s:?} does not exist in time zone {tz}"))
}

/// A coordinate pair, when both parse and lie on the globe. `0,0` counts as absent:
/// devices without a position report zeros, and no grid network is in the Gulf of Guinea.
fn position(lon: Option<&str>, lat: Option<&str>) -> Option<LatLon> {
    let lon: f64 = lon?.parse().ok()?;
    let lat: f64 = lat?.parse().ok()?;
    if lon == 0.0 && lat == 0.0 {
        return None;
    }
    LatLon::new(lat, lon).ok()
}

/// Parses an alarm notification body (any of the accepted encodings) with AlarmTime read
/// in `tz`. A body over [`LIMITS`] is refused before it is decoded or parsed. CPU-bound:
/// async callers run it on a blocking thread.
pub fn parse(bytes: &[u8], tz: Tz) -> Result<Alarm, String> {
    check_size(bytes)?;
    let text = decode(bytes)?;
    xml_limits::check(&text, &LIMITS).map_err(|e| format!("GB/T 28181 alarm refused: {e}"))?;
    let options = roxmltree::ParsingOptions {
        nodes_limit: u32::try_from(LIMITS.max_elements * 4).unwrap_or(u32::MAX),
        ..roxmltree::ParsingOptions::default()
    };
    let doc = roxmltree::Document::parse_with_options(&text, options)
        .map_err(|e| format!("invalid XML: {e}"))?;
    let root = doc.root_element();
    if root.tag_name().name() != "Notify" {
        return Err(format!(
            "expected a GB/T 28181 <Notify>, got <{}>",
            root.tag_name().name()
        ));
    }
    match field(root, "CmdType") {
        Some("Alarm") => {}
        Some(other) => return Err(format!("CmdType {other:?} is not Alarm")),
        None => return Err("CmdType: missing".into()),
    }
    let sn = field(root, "SN").ok_or("SN: missing")?;
    if sn.chars().count() > 32 || sn.chars().any(char::is_control) {
        return Err("SN: must be at most 32 printable characters".into());
    }
    let device_id = field(root, "DeviceID").ok_or("DeviceID: missing")?;
    if !is_device_id(device_id) {
        return Err(format!("DeviceID {device_id:?}: must be 20 digits"));
    }
    let severity = field(root, "AlarmPriority")
        .and_then(|p| p.parse::<i64>().ok())
        .and_then(|p| Severity::new(p).ok())
        .ok_or("AlarmPriority: must be 1 (most urgent) to 4")?;
    let method = field(root, "AlarmMethod")
        .and_then(|m| m.parse::<u8>().ok())
        .filter(|m| (1..=7).contains(m))
        .ok_or("AlarmMethod: must be 1 to 7")?;
    // An unreadable AlarmType only loses detail (the kind falls back to `alarm`), so it
    // does not cost the alarm.
    let alarm_type = root
        .children()
        .find(|n| n.is_element() && n.tag_name().name().eq_ignore_ascii_case("Info"))
        .and_then(|info| field(info, "AlarmType"))
        .and_then(|t| t.parse::<u32>().ok());
    let time_ms = field(root, "AlarmTime")
        .map(|t| parse_alarm_time(t, tz))
        .transpose()?;
    let description = field(root, "AlarmDescription").map(|d| {
        d.chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .take(MAX_DESCRIPTION)
            .collect()
    });
    Ok(Alarm {
        device_id: device_id.to_owned(),
        sn: sn.to_owned(),
        severity,
        method,
        alarm_type,
        time_ms,
        description,
        position: position(field(root, "Longitude"), field(root, "Latitude")),
    })
}

/// The incident kind for an AlarmMethod and AlarmType. Anything without a specific kind
/// (phone, SMS, GPS, other, or a type we do not know) is a plain `alarm`.
pub fn kind(method: u8, alarm_type: Option<u32>) -> &'static str {
    match (method, alarm_type) {
        (2, Some(1 | 2)) => "camera_fault",
        (2, Some(3..=5)) => "device_fault",
        (5, Some(1)) => "manual_alarm",
        (5, Some(2)) => "motion",
        (5, Some(3)) => "left_object",
        (5, Some(4)) => "object_removed",
        (5, Some(5)) => "tripwire",
        (5, Some(6)) => "intrusion",
        (5, Some(7)) => "wrong_way",
        (5, Some(8)) => "loitering",
        (5, Some(9 | 10)) => "crowd",
        (5, Some(11)) => "camera_fault",
        (5, Some(12)) => "fast_movement",
        (6, _) => "device_fault",
        _ => "alarm",
    }
}

/// Readable text for an AlarmMethod and AlarmType, e.g. "video alarm: intrusion".
pub fn method_text(method: u8, alarm_type: Option<u32>) -> String {
    let m = match method {
        1 => "phone alarm",
        2 => "device alarm",
        3 => "SMS alarm",
        4 => "GPS alarm",
        5 => "video alarm",
        6 => "device fault",
        7 => "other alarm",
        _ => "alarm",
    };
    let t = match (method, alarm_type) {
        (2, Some(1)) => "video loss",
        (2, Some(2)) => "tamper",
        (2, Some(3)) => "storage full",
        (2, Some(4)) => "high temperature",
        (2, Some(5)) => "low temperature",
        (5, Some(1)) => "manual",
        (5, Some(2)) => "motion",
        (5, Some(3)) => "left object",
        (5, Some(4)) => "object removed",
        (5, Some(5)) => "tripwire",
        (5, Some(6)) => "intrusion",
        (5, Some(7)) => "wrong way",
        (5, Some(8)) => "loitering",
        (5, Some(9)) => "flow count",
        (5, Some(10)) => "crowd density",
        (5, Some(11)) => "video anomaly",
        (5, Some(12)) => "fast movement",
        (6, Some(1)) => "disk fault",
        (6, Some(2)) => "fan fault",
        (_, Some(n)) => return format!("{m}, type {n}"),
        (_, None) => return m.to_owned(),
    };
    format!("{m}: {t}")
}

/// The alert for an alarm. `camera` is the registered camera whose `gb28181_id` is the
/// alarm's DeviceID, if any; the alarm's own coordinates win over the camera's position.
pub fn to_alert(alarm: &Alarm, camera: Option<Ident>, now_ms: i64) -> Result<NewAlert, String> {
    let place = match (alarm.position, &camera) {
        (Some(p), _) => AlertPlace::Point(p),
        (None, Some(cam)) => AlertPlace::Camera(cam.clone()),
        (None, None) => {
            return Err(format!("unknown GB/T 28181 device {}", alarm.device_id));
        }
    };
    let what = method_text(alarm.method, alarm.alarm_type);
    let description = match &alarm.description {
        Some(d) => format!("{d} (GB/T 28181 {what}, device {})", alarm.device_id),
        None => format!("GB/T 28181 {what}, device {}", alarm.device_id),
    };
    Ok(NewAlert {
        source_id: Ident::parse(SOURCE).map_err(|e| e.to_string())?,
        external_id: format!("{}:{}", alarm.device_id, alarm.sn),
        kind: kind(alarm.method, alarm.alarm_type).to_owned(),
        severity: alarm.severity,
        place,
        camera_id: camera,
        time_ms: alarm.time_ms.unwrap_or(now_ms),
        description: Some(description),
        address: None,
        rendezvous: None,
        snapshot: Default::default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHANGHAI: Tz = chrono_tz::Asia::Shanghai;

    fn body(extra: &str) -> String {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<Notify>
  <CmdType>Alarm</CmdType>
  <SN>17430</SN>
  <DeviceID>34020000001320000001</DeviceID>
  <AlarmPriority>2</AlarmPriority>
  <AlarmMethod>5</AlarmMethod>
  <AlarmTime>2026-11-27T09:30:00</AlarmTime>
  {extra}
</Notify>"#
        )
    }

    #[test]
    fn reads_every_field() {
        let xml = body(
            "<AlarmDescription>有人翻越围墙</AlarmDescription>\
             <Longitude>106.6955</Longitude><Latitude>39.4955</Latitude>\
             <Info><AlarmType>6</AlarmType></Info>",
        );
        let a = parse(xml.as_bytes(), SHANGHAI).unwrap();
        assert_eq!(a.device_id, "34020000001320000001");
        assert_eq!(a.sn, "17430");
        assert_eq!(a.severity, Severity::new(2).unwrap());
        assert_eq!((a.method, a.alarm_type), (5, Some(6)));
        assert_eq!(a.description.as_deref(), Some("有人翻越围墙"));
        assert_eq!(a.position, Some(LatLon::new(39.4955, 106.6955).unwrap()));
        // 09:30 in Shanghai (UTC+8) is 01:30 UTC.
        let utc = chrono::DateTime::parse_from_rfc3339("2026-11-27T01:30:00Z").unwrap();
        assert_eq!(a.time_ms, Some(utc.timestamp_millis()));
    }

    #[test]
    fn lower_case_info_and_no_optional_fields() {
        let a = parse(
            body("<info><AlarmType>2</AlarmType></info>").as_bytes(),
            SHANGHAI,
        )
        .unwrap();
        assert_eq!(a.alarm_type, Some(2));
        assert_eq!((a.description, a.position), (None, None));
        let a = parse(body("").as_bytes(), SHANGHAI).unwrap();
        assert_eq!(a.alarm_type, None);
    }

    #[test]
    fn decodes_the_declared_encoding() {
        for (label, enc) in [("GB2312", GBK), ("GBK", GBK), ("GB18030", GB18030)] {
            let xml =
                body("<AlarmDescription>北门周界入侵</AlarmDescription>").replace("UTF-8", label);
            let (bytes, _, bad) = enc.encode(&xml);
            assert!(!bad);
            assert_ne!(&bytes[..], xml.as_bytes(), "really re-encoded");
            let a = parse(&bytes, SHANGHAI).unwrap();
            assert_eq!(a.description.as_deref(), Some("北门周界入侵"), "{label}");
        }
        // No prologue: UTF-8. Single quotes in the prologue are fine too.
        let bare = body("<AlarmDescription>北门</AlarmDescription>");
        let bare = bare.split_once("?>").unwrap().1;
        assert_eq!(
            parse(bare.as_bytes(), SHANGHAI)
                .unwrap()
                .description
                .as_deref(),
            Some("北门")
        );
        let single = body("").replace(r#"encoding="UTF-8""#, "encoding='gb2312'");
        assert!(parse(single.as_bytes(), SHANGHAI).is_ok());
        let latin = body("").replace("UTF-8", "ISO-2022-JP");
        assert!(parse(latin.as_bytes(), SHANGHAI)
            .unwrap_err()
            .contains("unsupported XML encoding"));
    }

    #[test]
    fn utf8_body_mislabelled_as_gb2312_still_reads() {
        // These UTF-8 bytes are not valid GBK, so the declared decoding fails.
        let xml =
            body("<AlarmDescription>报警：北门</AlarmDescription>").replace("UTF-8", "GB2312");
        let bytes = xml.as_bytes();
        assert!(GBK
            .decode_without_bom_handling_and_without_replacement(bytes)
            .is_none());
        let a = parse(bytes, SHANGHAI).unwrap();
        assert_eq!(a.description.as_deref(), Some("报警：北门"));
    }

    #[test]
    fn refuses_what_is_not_an_alarm() {
        let cases: [(String, &str); 8] = [
            ("not xml at all <".into(), "invalid XML"),
            (
                body("").replace("Alarm</CmdType>", "Keepalive</CmdType>"),
                "CmdType",
            ),
            (body("").replace("Notify>", "Response>"), "<Notify>"),
            (body("").replace("34020000001320000001", "3402"), "DeviceID"),
            (body("").replace("<SN>17430</SN>", ""), "SN"),
            (
                body("").replace("<AlarmPriority>2", "<AlarmPriority>5"),
                "AlarmPriority",
            ),
            (
                body("").replace("<AlarmMethod>5", "<AlarmMethod>9"),
                "AlarmMethod",
            ),
            (
                body("").replace("2026-11-27T09:30:00", "yesterday"),
                "AlarmTime",
            ),
        ];
        for (xml, what) in cases {
            let err = parse(xml.as_bytes(), SHANGHAI).unwrap_err();
            assert!(err.contains(what), "{what}: {err}");
        }
        // Bytes that are nothing at all must not panic.
        for junk in [&b""[..], b"\xff\xfe\x00", b"<?xml encoding=", b"<?xml ?>"] {
            assert!(parse(junk, SHANGHAI).is_err());
        }
    }

    #[test]
    fn alarm_time_with_offset_or_space_and_no_time() {
        let t = |s| parse_alarm_time(s, SHANGHAI).unwrap();
        assert_eq!(t("2026-11-27T09:30:00"), t("2026-11-27 09:30:00"));
        assert_eq!(t("2026-11-27T09:30:00"), t("2026-11-27T01:30:00Z"));
        assert_eq!(t("2026-11-27T09:30:00.500") - t("2026-11-27T09:30:00"), 500);
        let a = parse(
            body("")
                .replace("<AlarmTime>2026-11-27T09:30:00</AlarmTime>", "")
                .as_bytes(),
            SHANGHAI,
        )
        .unwrap();
        assert_eq!(a.time_ms, None);
        assert_eq!(to_alert(&a, Some(cam()), 42).unwrap().time_ms, 42);
    }

    #[test]
    fn zero_or_bad_coordinates_count_as_absent() {
        let p = |lon, lat| position(Some(lon), Some(lat));
        assert_eq!(p("0", "0"), None);
        assert_eq!(p("0.0", "0.000"), None);
        assert_eq!(p("east", "39.5"), None);
        assert_eq!(p("106.7", "95"), None);
        assert_eq!(position(Some("106.7"), None), None);
        assert!(p("106.7", "39.5").is_some());
    }

    #[test]
    fn method_and_type_map_to_kinds() {
        let cases = [
            (2, Some(1), "camera_fault"),
            (2, Some(2), "camera_fault"),
            (2, Some(3), "device_fault"),
            (2, Some(4), "device_fault"),
            (2, Some(5), "device_fault"),
            (2, None, "alarm"),
            (5, Some(1), "manual_alarm"),
            (5, Some(2), "motion"),
            (5, Some(3), "left_object"),
            (5, Some(4), "object_removed"),
            (5, Some(5), "tripwire"),
            (5, Some(6), "intrusion"),
            (5, Some(7), "wrong_way"),
            (5, Some(8), "loitering"),
            (5, Some(9), "crowd"),
            (5, Some(10), "crowd"),
            (5, Some(11), "camera_fault"),
            (5, Some(12), "fast_movement"),
            (5, Some(13), "alarm"),
            (6, None, "device_fault"),
            (6, Some(2), "device_fault"),
            (1, None, "alarm"),
            (3, Some(1), "alarm"),
            (4, None, "alarm"),
            (7, None, "alarm"),
        ];
        for (m, t, k) in cases {
            assert_eq!(kind(m, t), k, "method {m} type {t:?}");
            assert!(crate::domain::alert::parse_kind(k).is_ok());
        }
        assert_eq!(method_text(5, Some(6)), "video alarm: intrusion");
        assert_eq!(method_text(2, Some(9)), "device alarm, type 9");
        assert_eq!(method_text(1, None), "phone alarm");
    }

    fn cam() -> Ident {
        Ident::parse("gate_cam").unwrap()
    }

    #[test]
    fn alert_at_the_coordinates_else_the_camera_else_refused() {
        let xml = body(
            "<AlarmDescription>有人翻越围墙</AlarmDescription><Info><AlarmType>6</AlarmType></Info>",
        );
        let a = parse(xml.as_bytes(), SHANGHAI).unwrap();
        let alert = to_alert(&a, Some(cam()), 0).unwrap();
        assert_eq!(alert.source_id.as_str(), SOURCE);
        assert_eq!(alert.external_id, "34020000001320000001:17430");
        assert_eq!(alert.kind, "intrusion");
        assert_eq!(alert.place, AlertPlace::Camera(cam()));
        assert_eq!(alert.camera_id, Some(cam()));
        assert_eq!(
            alert.description.as_deref(),
            Some("有人翻越围墙 (GB/T 28181 video alarm: intrusion, device 34020000001320000001)")
        );
        assert_eq!(
            to_alert(&a, None, 0).unwrap_err(),
            "unknown GB/T 28181 device 34020000001320000001"
        );
        let at = LatLon::new(39.5, 106.7).unwrap();
        let placed = Alarm {
            position: Some(at),
            ..a
        };
        assert_eq!(
            to_alert(&placed, None, 0).unwrap().place,
            AlertPlace::Point(at)
        );
        assert_eq!(
            to_alert(&placed, Some(cam()), 0).unwrap().place,
            AlertPlace::Point(at)
        );
    }
}
