//! Reading a `tt:MetadataStream` document into events.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDateTime};
use roxmltree::{Document, Node, ParsingOptions};

use super::{MAX_DOCUMENT_BYTES, MAX_EVENTS_PER_DOCUMENT, ONVIF_SCHEMA_NS, WSNT_NS};

/// Most XML nodes in one document, so that a payload within the byte limit but made of
/// tiny elements cannot build a huge tree either.
const MAX_NODES: u32 = 100_000;

/// What a property event says happened to the property (`tt:Message/@PropertyOperation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PropertyOperation {
    /// The current state, sent when a subscription or stream starts.
    Initialized,
    /// The state changed.
    Changed,
    /// The property no longer exists (e.g. a rule was removed).
    Deleted,
}

/// One notification from a metadata document.
#[derive(Debug, Clone, PartialEq)]
pub struct OnvifEvent {
    /// The topic with the namespace prefix of its first segment dropped, e.g.
    /// `RuleEngine/CellMotionDetector/Motion`, so that `tns1:` and `tt:` topics compare equal.
    pub topic: String,
    /// `UtcTime` of the message, Unix ms.
    pub time_ms: i64,
    /// `PropertyOperation`, absent for events that are not about a property (a line
    /// crossing is an instant, not a state).
    pub operation: Option<PropertyOperation>,
    /// `tt:Source` simple items, name → value (which rule, which video source). When a name
    /// repeats, the first value is kept.
    pub source: BTreeMap<String, String>,
    /// `tt:Data` simple items, name → value (the state itself, e.g. `IsMotion`).
    pub data: BTreeMap<String, String>,
}

/// True when `node` is an element named `local` in namespace `ns`.
fn is(node: &Node<'_, '_>, ns: &str, local: &str) -> bool {
    node.is_element() && node.tag_name().namespace() == Some(ns) && node.tag_name().name() == local
}

/// The first child element named `local` in namespace `ns`.
fn child<'a, 'i>(node: &Node<'a, 'i>, ns: &str, local: &str) -> Option<Node<'a, 'i>> {
    node.children().find(|c| is(c, ns, local))
}

/// Drops the namespace prefix of the first topic segment: `tns1:RuleEngine/X` → `RuleEngine/X`.
fn normalise_topic(topic: &str) -> String {
    let topic = topic.trim();
    let first_end = topic.find('/').unwrap_or(topic.len());
    match topic[..first_end].rfind(':') {
        Some(colon) => topic[colon + 1..].to_owned(),
        None => topic.to_owned(),
    }
}

/// An `xs:dateTime` as Unix ms. RFC 3339 is what cameras send; a time without a zone is
/// taken as UTC, since the attribute is `UtcTime`.
fn parse_utc_time(s: &str) -> Result<i64, String> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.timestamp_millis());
    }
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
        .map(|t| t.and_utc().timestamp_millis())
        .map_err(|_| format!("UtcTime {s:?} is not an RFC 3339 time"))
}

/// The `tt:SimpleItem` children of `parent` (a `tt:Source` or `tt:Data`), name → value.
fn simple_items(
    parent: Option<Node<'_, '_>>,
    what: &str,
) -> Result<BTreeMap<String, String>, String> {
    let mut items = BTreeMap::new();
    let Some(parent) = parent else {
        return Ok(items);
    };
    for item in parent
        .children()
        .filter(|c| is(c, ONVIF_SCHEMA_NS, "SimpleItem"))
    {
        let name = item
            .attribute("Name")
            .ok_or_else(|| format!("a {what} SimpleItem has no Name"))?;
        let value = item
            .attribute("Value")
            .ok_or_else(|| format!("{what} SimpleItem {name:?} has no Value"))?;
        items
            .entry(name.to_owned())
            .or_insert_with(|| value.to_owned());
    }
    Ok(items)
}

/// Reads one `wsnt:NotificationMessage`.
fn parse_notification(n: Node<'_, '_>) -> Result<OnvifEvent, String> {
    let topic = child(&n, WSNT_NS, "Topic")
        .and_then(|t| t.text())
        .map(normalise_topic)
        .filter(|t| !t.is_empty())
        .ok_or("no wsnt:Topic")?;
    let message = child(&n, WSNT_NS, "Message")
        .and_then(|m| child(&m, ONVIF_SCHEMA_NS, "Message"))
        .ok_or_else(|| format!("{topic}: no wsnt:Message/tt:Message"))?;
    let time_ms = parse_utc_time(
        message
            .attribute("UtcTime")
            .ok_or_else(|| format!("{topic}: tt:Message has no UtcTime"))?,
    )
    .map_err(|e| format!("{topic}: {e}"))?;
    let operation = match message.attribute("PropertyOperation") {
        None => None,
        Some("Initialized") => Some(PropertyOperation::Initialized),
        Some("Changed") => Some(PropertyOperation::Changed),
        Some("Deleted") => Some(PropertyOperation::Deleted),
        Some(other) => return Err(format!("{topic}: unknown PropertyOperation {other:?}")),
    };
    let source = simple_items(child(&message, ONVIF_SCHEMA_NS, "Source"), "Source")
        .map_err(|e| format!("{topic}: {e}"))?;
    let data = simple_items(child(&message, ONVIF_SCHEMA_NS, "Data"), "Data")
        .map_err(|e| format!("{topic}: {e}"))?;
    Ok(OnvifEvent {
        topic,
        time_ms,
        operation,
        source,
        data,
    })
}

/// Parses one `tt:MetadataStream` document into its notifications, in document order.
/// Frames that carry only `tt:VideoAnalytics` (object boxes) yield no events. At most
/// [`MAX_EVENTS_PER_DOCUMENT`] are read. Anything that is not a well-formed metadata document,
/// or a notification missing what ONVIF requires (topic, message, time), is an `Err` whose
/// text says why.
pub fn parse_metadata(xml: &[u8]) -> Result<Vec<OnvifEvent>, String> {
    if xml.len() > MAX_DOCUMENT_BYTES {
        return Err(format!(
            "metadata document of {} bytes is over the {MAX_DOCUMENT_BYTES} byte limit",
            xml.len()
        ));
    }
    let text = std::str::from_utf8(xml).map_err(|e| format!("metadata is not UTF-8: {e}"))?;
    // A byte order mark is legal before the prologue but not something the parser skips.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim().is_empty() {
        return Err("empty metadata document".into());
    }
    let options = ParsingOptions {
        // Metadata never has a DTD; refusing one rules out entity expansion attacks.
        allow_dtd: false,
        nodes_limit: MAX_NODES,
        ..ParsingOptions::default()
    };
    let doc = Document::parse_with_options(text, options)
        .map_err(|e| format!("invalid metadata XML: {e}"))?;
    let root = doc.root_element();
    if !is(&root, ONVIF_SCHEMA_NS, "MetadataStream") {
        return Err(format!(
            "root element is {:?} in namespace {:?}, not an ONVIF MetadataStream",
            root.tag_name().name(),
            root.tag_name().namespace().unwrap_or("")
        ));
    }
    let notifications = root
        .children()
        .filter(|c| is(c, ONVIF_SCHEMA_NS, "Event"))
        .flat_map(|e| {
            e.children()
                .filter(|c| is(c, WSNT_NS, "NotificationMessage"))
        })
        .take(MAX_EVENTS_PER_DOCUMENT);
    let mut events = Vec::new();
    for (i, n) in notifications.enumerate() {
        events.push(parse_notification(n).map_err(|e| format!("notification {}: {e}", i + 1))?);
    }
    Ok(events)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::onvif::fixtures::*;
    use crate::ingest::onvif::*;

    #[test]
    fn two_notifications_in_one_document_come_in_order() {
        let body = format!(
            "{}{}",
            notification(
                "tns1:VideoSource/MotionAlarm",
                AT,
                &[("Source", "VideoSource_1")],
                &[("State", "true")]
            ),
            notification(
                "tns1:RuleEngine/LineDetector/Crossed",
                r#"UtcTime="2026-11-27T09:30:01Z""#,
                &[("Rule", "Gate")],
                &[("ObjectId", "7")]
            )
        );
        let events = parse_metadata(document(&body).as_bytes()).unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].topic, "VideoSource/MotionAlarm");
        assert_eq!(events[1].topic, "RuleEngine/LineDetector/Crossed");
        assert_eq!(events[1].time_ms, AT_MS + 1000);
        let kinds: Vec<_> = events.iter().filter_map(classify).map(|d| d.kind).collect();
        assert_eq!(kinds, [DetectionKind::Motion, DetectionKind::Tripwire]);

        // Two notifications inside one tt:Event are read too.
        let both_in_one = body.replace("</tt:Event><tt:Event>", "");
        assert_eq!(
            parse_metadata(document(&both_in_one).as_bytes())
                .unwrap()
                .len(),
            2
        );
    }

    #[test]
    fn video_analytics_frame_yields_nothing() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<tt:MetadataStream xmlns:tt="http://www.onvif.org/ver10/schema">
  <tt:VideoAnalytics>
    <tt:Frame UtcTime="2026-11-27T09:30:00.040Z">
      <tt:Transformation>
        <tt:Translate x="-1.0" y="-1.0"/>
        <tt:Scale x="0.003125" y="0.004166"/>
      </tt:Transformation>
      <tt:Object ObjectId="12">
        <tt:Appearance>
          <tt:Shape>
            <tt:BoundingBox left="20.0" top="30.0" right="100.0" bottom="80.0"/>
            <tt:CenterOfGravity x="60.0" y="50.0"/>
          </tt:Shape>
          <tt:Class><tt:Type Likelihood="0.8">Human</tt:Type></tt:Class>
        </tt:Appearance>
      </tt:Object>
    </tt:Frame>
  </tt:VideoAnalytics>
</tt:MetadataStream>"#;
        assert_eq!(parse_metadata(xml.as_bytes()).unwrap(), vec![]);
    }

    #[test]
    fn prefixes_do_not_matter_only_namespaces() {
        let expected = one(CELL_MOTION_INIT);
        let ns0 = CELL_MOTION_INIT
            .replace("tt:", "ns0:")
            .replace("xmlns:tt=", "xmlns:ns0=")
            .replace("wsnt:", "ns1:")
            .replace("xmlns:wsnt=", "xmlns:ns1=")
            .replace("tns1:", "ns2:")
            .replace("xmlns:tns1=", "xmlns:ns2=");
        assert!(ns0.contains("<ns0:MetadataStream") && !ns0.contains("tt:"));
        assert_eq!(one(&ns0), expected);
        // A `tt:` topic prefix compares equal to `tns1:`.
        let tt_topic = CELL_MOTION_INIT.replace("tns1:RuleEngine", "tt:RuleEngine");
        assert_eq!(one(&tt_topic), expected);

        // The schema namespace as the default namespace, no prefix at all.
        let default_ns = CELL_MOTION_INIT
            .replace("tt:", "")
            .replace("xmlns:tt=", "xmlns=");
        assert_eq!(one(&default_ns), expected);

        // The right prefix bound to the wrong namespace is not ONVIF.
        let wrong = CELL_MOTION_INIT.replace(
            "http://www.onvif.org/ver10/schema",
            "http://example.com/not-onvif",
        );
        assert!(parse_metadata(wrong.as_bytes()).is_err());
    }

    #[test]
    fn junk_and_truncated_xml_are_refused_with_a_reason() {
        let cut = &CELL_MOTION_INIT[..CELL_MOTION_INIT.len() / 2];
        let cases: Vec<(&[u8], &str)> = vec![
            (b"", "empty"),
            (b"   \n", "empty"),
            (b"not xml at all", "invalid metadata XML"),
            (cut.as_bytes(), "invalid metadata XML"),
            (b"<tt:MetadataStream>", "invalid metadata XML"),
            (b"\xff\xfe<\x00", "not UTF-8"),
            (
                br#"<html xmlns="http://www.w3.org/1999/xhtml"><body/></html>"#,
                "not an ONVIF MetadataStream",
            ),
            (br#"<!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>"#, "DTD"),
        ];
        for (bytes, reason) in cases {
            let err = parse_metadata(bytes).unwrap_err();
            assert!(err.contains(reason), "{err:?} should say {reason:?}");
        }
    }

    #[test]
    fn notifications_missing_required_parts_are_refused() {
        let no_time = document(&notification(
            "tns1:VideoSource/MotionAlarm",
            r#"PropertyOperation="Changed""#,
            &[],
            &[("State", "true")],
        ));
        assert!(parse_metadata(no_time.as_bytes())
            .unwrap_err()
            .contains("no UtcTime"));
        let bad_time = motion_alarm("true").replace("2026-11-27T09:30:00Z", "yesterday");
        assert!(parse_metadata(bad_time.as_bytes())
            .unwrap_err()
            .contains("RFC 3339"));
        let bad_op = motion_alarm("true").replace("Changed", "Exploded");
        assert!(parse_metadata(bad_op.as_bytes())
            .unwrap_err()
            .contains("PropertyOperation"));
        let no_topic = motion_alarm("true").replace("tns1:VideoSource/MotionAlarm", "");
        assert!(parse_metadata(no_topic.as_bytes())
            .unwrap_err()
            .contains("no wsnt:Topic"));
        let no_value = motion_alarm("true").replace(r#" Value="true""#, "");
        assert!(parse_metadata(no_value.as_bytes())
            .unwrap_err()
            .contains("has no Value"));
    }

    #[test]
    fn a_time_without_a_zone_is_utc() {
        let xml = motion_alarm("true").replace("09:30:00Z", "09:30:00.5");
        assert_eq!(one(&xml).time_ms, AT_MS + 500);
    }

    #[test]
    fn huge_documents_are_capped() {
        let n = notification(
            "tns1:RuleEngine/CellMotionDetector/Motion",
            AT,
            &[("Rule", "r")],
            &[("IsMotion", "true")],
        );
        let many = document(&n.repeat(1000));
        assert!(many.len() < MAX_DOCUMENT_BYTES);
        let events = parse_metadata(many.as_bytes()).unwrap();
        assert_eq!(events.len(), MAX_EVENTS_PER_DOCUMENT);

        let too_big = document(&" ".repeat(MAX_DOCUMENT_BYTES));
        assert!(parse_metadata(too_big.as_bytes())
            .unwrap_err()
            .contains("byte limit"));

        // Within the byte limit but a tree of tiny elements, flat or nested.
        let flat = document(&"<a/>".repeat(200_000));
        let err = parse_metadata(flat.as_bytes()).unwrap_err();
        assert!(err.contains("nodes limit"), "{err}");
        let nested =
            |depth: usize| document(&format!("{}{}", "<a>".repeat(depth), "</a>".repeat(depth)));
        let err = parse_metadata(nested(100_000).as_bytes()).unwrap_err();
        assert!(err.contains("nodes limit"), "{err}");
        // Deep nesting under the limit parses without exhausting the stack.
        assert_eq!(parse_metadata(nested(50_000).as_bytes()).unwrap(), vec![]);
    }
}
