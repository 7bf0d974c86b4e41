//! ONVIF analytics metadata (`tt:MetadataStream`, the `VND.ONVIF.METADATA` track of an RTSP
//! session). Pure parsing and decisions, no I/O: the caller reads the metadata track and hands
//! each document to [`parse_metadata`], passes each event to [`classify`], lets a
//! [`Cooldown`] drop repeats, and turns what is left into an alert with [`to_alert`].
//!
//! Cameras differ in the prefixes they bind (`tt:`, `ns0:`, a default namespace, …), so
//! elements are matched on namespace URI and local name, never on a prefix.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime};
use roxmltree::{Document, Node, ParsingOptions};

use crate::domain::alert::{AlertPlace, NewAlert};
use crate::domain::{Ident, Severity};

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

/// Most XML nodes in one document, so that a payload within the byte limit but made of
/// tiny elements cannot build a huge tree either.
const MAX_NODES: u32 = 100_000;

/// Longest rule name carried into an alert's description, characters.
const MAX_RULE_IN_DESCRIPTION: usize = 200;

/// Longest external id the alert schema accepts, bytes.
const MAX_EXTERNAL_ID: usize = 128;

/// How far a camera's event time may be from the time of receipt before the time of receipt
/// is used instead, ms. Cameras whose clock was never set report 1970 or 2000, and an
/// incident dated decades ago would be misleading.
const MAX_CLOCK_SKEW_MS: i64 = 24 * 3600 * 1000;

/// Default number of (camera, rule) pairs a [`Cooldown`] remembers.
pub const COOLDOWN_MAX_KEYS: usize = 10_000;

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

/// The kind of incident a detection opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DetectionKind {
    /// Motion in the picture (cell motion detector or motion alarm).
    Motion,
    /// An object crossed a configured line.
    Tripwire,
    /// An object is inside a configured field.
    Intrusion,
    /// The camera cannot see properly: tampered with, too dark, blurred, scene changed,
    /// signal lost.
    CameraFault,
}

impl DetectionKind {
    /// The incident kind as the alert schema spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            DetectionKind::Motion => "motion",
            DetectionKind::Tripwire => "tripwire",
            DetectionKind::Intrusion => "intrusion",
            DetectionKind::CameraFault => "camera_fault",
        }
    }

    /// Alert severity, 1 (most urgent) to 4: someone crossing a line or inside a field is
    /// likelier to need a person on site than motion, which is mostly wind and light, or a
    /// camera fault, which is a maintenance job.
    pub fn severity(self) -> i64 {
        match self {
            DetectionKind::Tripwire | DetectionKind::Intrusion => 2,
            DetectionKind::Motion | DetectionKind::CameraFault => 4,
        }
    }
}

impl fmt::Display for DetectionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An active detection worth an alert.
#[derive(Debug, Clone, PartialEq)]
pub struct Detection {
    /// The incident kind.
    pub kind: DetectionKind,
    /// The `Rule` source item, when the camera names the analytics rule.
    pub rule: Option<String>,
    /// The event's normalised topic; stands in for the rule when there is none (e.g.
    /// `VideoSource/MotionAlarm`).
    pub topic: String,
    /// The video source: `VideoSourceConfigurationToken`, else `VideoSourceToken`, else
    /// `Source` (the name the video source events use).
    pub source_token: Option<String>,
    /// When it happened by the camera's clock, Unix ms.
    pub time_ms: i64,
}

impl Detection {
    /// The rule name, or the topic when the camera names no rule: what the cooldown and the
    /// external id key on.
    pub fn rule_key(&self) -> &str {
        self.rule.as_deref().unwrap_or(&self.topic)
    }
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

/// True for an ONVIF boolean that is set: `true` or `1`, any case, surrounding space ignored.
fn is_true(v: Option<&String>) -> bool {
    v.is_some_and(|v| {
        let v = v.trim();
        v.eq_ignore_ascii_case("true") || v == "1"
    })
}

/// The detection an event stands for, if it is an active one we open incidents for.
/// A state going off, a deleted property, or a topic we do not know gives `None`.
pub fn classify(event: &OnvifEvent) -> Option<Detection> {
    if event.operation == Some(PropertyOperation::Deleted) {
        return None;
    }
    let data = |name: &str| is_true(event.data.get(name));
    let segments: Vec<&str> = event.topic.split('/').collect();
    let kind = match segments.as_slice() {
        ["RuleEngine", "CellMotionDetector", "Motion"] if data("IsMotion") => DetectionKind::Motion,
        ["VideoSource", "MotionAlarm"] if data("State") => DetectionKind::Motion,
        // A crossing is an instant with no on/off state: every one counts.
        ["RuleEngine", "LineDetector", "Crossed"] => DetectionKind::Tripwire,
        ["RuleEngine", "FieldDetector", "ObjectsInside"] if data("IsInside") => {
            DetectionKind::Intrusion
        }
        ["RuleEngine", "TamperDetector", "Tamper"] if data("IsTamper") => {
            DetectionKind::CameraFault
        }
        // The image quality topics come per service (ImagingService, AnalyticsService,
        // RecordingService); any of them means the picture is unusable.
        ["VideoSource", "GlobalSceneChange" | "ImageTooDark" | "ImageTooBlurry" | "ImageTooBright", ..]
            if data("State") =>
        {
            DetectionKind::CameraFault
        }
        ["VideoSource", "SignalLoss"] if data("State") => DetectionKind::CameraFault,
        _ => return None,
    };
    let source_token = [
        "VideoSourceConfigurationToken",
        "VideoSourceToken",
        "Source",
    ]
    .iter()
    .find_map(|name| event.source.get(*name))
    .cloned();
    Some(Detection {
        kind,
        // A blank rule name would make a blank key; the topic is a better one.
        rule: event
            .source
            .get("Rule")
            .filter(|r| !r.trim().is_empty())
            .cloned(),
        topic: event.topic.clone(),
        source_token,
        time_ms: event.time_ms,
    })
}

/// Per-camera, per-rule suppression of repeats. A motion rule on a windy day flaps on and
/// off many times a minute; each "on" is a detection, but the dispatcher should open one
/// incident, not hundreds. The first detection is admitted; later ones are refused until
/// `window` has passed since the last admitted one (refused ones do not extend it, so a rule
/// that never stops flapping still raises one alert per window).
///
/// Memory is bounded: once the map reaches its key limit, entries older than the window are
/// forgotten, and if that is not enough the oldest ones go too (which at worst lets one
/// repeat through).
#[derive(Debug, Clone)]
pub struct Cooldown {
    /// Suppression window, ms.
    window_ms: u64,
    /// Most (camera, rule) pairs remembered.
    max_keys: usize,
    /// (camera, rule) → time of the last admitted detection, Unix ms.
    last: HashMap<(String, String), i64>,
}

impl Cooldown {
    /// A cooldown of `window` remembering up to [`COOLDOWN_MAX_KEYS`] pairs.
    pub fn new(window: Duration) -> Cooldown {
        Cooldown::with_max_keys(window, COOLDOWN_MAX_KEYS)
    }

    /// A cooldown of `window` remembering up to `max_keys` pairs (at least 2).
    pub fn with_max_keys(window: Duration, max_keys: usize) -> Cooldown {
        Cooldown {
            window_ms: u64::try_from(window.as_millis()).unwrap_or(u64::MAX),
            max_keys: max_keys.max(2),
            last: HashMap::new(),
        }
    }

    /// True if a detection of `rule` on `camera_id` at `now_ms` should raise an alert.
    /// Times are compared in both directions, so a detection slightly out of order is still
    /// a repeat, and a clock that jumped back by more than the window starts afresh.
    pub fn admit(&mut self, camera_id: &str, rule: &str, now_ms: i64) -> bool {
        let key = (camera_id.to_owned(), rule.to_owned());
        if let Some(&last) = self.last.get(&key) {
            if now_ms.abs_diff(last) < self.window_ms {
                return false;
            }
        } else if self.last.len() >= self.max_keys {
            self.prune(now_ms);
        }
        self.last.insert(key, now_ms);
        true
    }

    /// Number of (camera, rule) pairs remembered.
    pub fn len(&self) -> usize {
        self.last.len()
    }

    /// True when nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.last.is_empty()
    }

    /// Forgets expired entries, then, if more than half the limit is still in use, the
    /// oldest down to half. Halving puts the next prune at least `max_keys / 2` new pairs
    /// away, so its scan and sort cost little per call on average.
    fn prune(&mut self, now_ms: i64) {
        let window = self.window_ms;
        self.last.retain(|_, t| now_ms.abs_diff(*t) < window);
        let keep = self.max_keys / 2;
        if self.last.len() > keep {
            let mut by_age: Vec<(i64, (String, String))> =
                self.last.drain().map(|(k, t)| (t, k)).collect();
            by_age.sort_unstable_by_key(|(t, _)| *t);
            let excess = by_age.len() - keep;
            self.last = by_age
                .into_iter()
                .skip(excess)
                .map(|(t, k)| (k, t))
                .collect();
        }
    }
}

/// Replaces control characters with spaces, so device-supplied text cannot break log lines
/// or ids.
fn printable(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Cuts `s` to at most `max` bytes on a character boundary.
fn cut_bytes(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The alert for a detection on `camera_id`, received at `now_ms`. The external id is
/// `<camera>:<rule>:<time_ms>` (the rule cut to fit the schema's 128 bytes), so the same
/// event delivered twice is one alert.
pub fn to_alert(camera_id: &Ident, d: &Detection, now_ms: i64) -> Result<NewAlert, String> {
    let rule = printable(d.rule_key().trim());
    let camera = camera_id.as_str();
    let time = d.time_ms.to_string();
    let budget = MAX_EXTERNAL_ID.saturating_sub(camera.len() + time.len() + 2);
    let external_id = format!("{camera}:{}:{time}", cut_bytes(&rule, budget));

    let shown_rule: String = rule.chars().take(MAX_RULE_IN_DESCRIPTION).collect();
    let mut description = match &d.rule {
        Some(_) => {
            let topic: String = printable(&d.topic)
                .chars()
                .take(MAX_RULE_IN_DESCRIPTION)
                .collect();
            format!(
                "ONVIF {}: rule \"{shown_rule}\" ({topic}) on camera {camera}",
                d.kind
            )
        }
        None => format!("ONVIF {}: {shown_rule} on camera {camera}", d.kind),
    };
    if let Some(token) = &d.source_token {
        let token: String = printable(token).chars().take(64).collect();
        description.push_str(&format!(", video source {token}"));
    }
    let time_ms = if d.time_ms.abs_diff(now_ms) > MAX_CLOCK_SKEW_MS.unsigned_abs() {
        description.push_str(" (camera clock off; time of receipt used)");
        now_ms
    } else {
        d.time_ms
    };

    Ok(NewAlert {
        source_id: Ident::parse(ONVIF_SOURCE).map_err(|e| e.to_string())?,
        external_id,
        kind: d.kind.as_str().to_owned(),
        severity: Severity::new(d.kind.severity()).map_err(|e| e.to_string())?,
        place: AlertPlace::Camera(camera_id.clone()),
        camera_id: Some(camera_id.clone()),
        time_ms,
        description: Some(description),
        address: None,
        rendezvous: None,
        snapshot: Default::default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Cell motion, as a camera sends it when the stream starts: the rule's current state.
    const CELL_MOTION_INIT: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<tt:MetadataStream xmlns:tt="http://www.onvif.org/ver10/schema">
  <tt:Event>
    <wsnt:NotificationMessage xmlns:tns1="http://www.onvif.org/ver10/topics" xmlns:wsnt="http://docs.oasis-open.org/wsn/b-2">
      <wsnt:Topic Dialect="http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet">tns1:RuleEngine/CellMotionDetector/Motion</wsnt:Topic>
      <wsnt:Message>
        <tt:Message UtcTime="2026-11-27T09:30:00.250Z" PropertyOperation="Initialized">
          <tt:Source>
            <tt:SimpleItem Name="VideoSourceConfigurationToken" Value="VideoSourceConfig_0"/>
            <tt:SimpleItem Name="VideoAnalyticsConfigurationToken" Value="AnalyticsConfig_0"/>
            <tt:SimpleItem Name="Rule" Value="YardMotion"/>
          </tt:Source>
          <tt:Data>
            <tt:SimpleItem Name="IsMotion" Value="true"/>
          </tt:Data>
        </tt:Message>
      </wsnt:Message>
    </wsnt:NotificationMessage>
  </tt:Event>
</tt:MetadataStream>"#;

    /// A line crossing: an instant, so no PropertyOperation.
    const LINE_CROSSED: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<tt:MetadataStream xmlns:tt="http://www.onvif.org/ver10/schema" xmlns:wsnt="http://docs.oasis-open.org/wsn/b-2" xmlns:tns1="http://www.onvif.org/ver10/topics">
  <tt:Event>
    <wsnt:NotificationMessage>
      <wsnt:Topic Dialect="http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet">tns1:RuleEngine/LineDetector/Crossed</wsnt:Topic>
      <wsnt:ProducerReference><wsa:Address xmlns:wsa="http://www.w3.org/2005/08/addressing">uri://cam-07/analytics</wsa:Address></wsnt:ProducerReference>
      <wsnt:Message>
        <tt:Message UtcTime="2026-11-27T22:14:05+08:00">
          <tt:Source>
            <tt:SimpleItem Name="VideoSourceConfigurationToken" Value="vsc1"/>
            <tt:SimpleItem Name="VideoAnalyticsConfigurationToken" Value="vac1"/>
            <tt:SimpleItem Name="Rule" Value="Substation fence"/>
          </tt:Source>
          <tt:Data>
            <tt:SimpleItem Name="ObjectId" Value="42"/>
          </tt:Data>
        </tt:Message>
      </wsnt:Message>
    </wsnt:NotificationMessage>
  </tt:Event>
</tt:MetadataStream>"#;

    /// One notification with the given topic, message attributes and items.
    fn notification(
        topic: &str,
        attrs: &str,
        source: &[(&str, &str)],
        data: &[(&str, &str)],
    ) -> String {
        let items = |list: &[(&str, &str)]| {
            list.iter()
                .map(|(n, v)| format!(r#"<tt:SimpleItem Name="{n}" Value="{v}"/>"#))
                .collect::<String>()
        };
        format!(
            r#"<tt:Event><wsnt:NotificationMessage><wsnt:Topic Dialect="http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet">{topic}</wsnt:Topic><wsnt:Message><tt:Message {attrs}><tt:Source>{}</tt:Source><tt:Data>{}</tt:Data></tt:Message></wsnt:Message></wsnt:NotificationMessage></tt:Event>"#,
            items(source),
            items(data)
        )
    }

    /// A metadata document around `body`.
    fn document(body: &str) -> String {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><tt:MetadataStream xmlns:tt="http://www.onvif.org/ver10/schema" xmlns:wsnt="http://docs.oasis-open.org/wsn/b-2" xmlns:tns1="http://www.onvif.org/ver10/topics">{body}</tt:MetadataStream>"#
        )
    }

    /// The single event of a one-notification document.
    fn one(xml: &str) -> OnvifEvent {
        let mut events = parse_metadata(xml.as_bytes()).unwrap();
        assert_eq!(events.len(), 1, "{xml}");
        events.remove(0)
    }

    const AT: &str = r#"UtcTime="2026-11-27T09:30:00Z""#;
    const AT_MS: i64 = 1_795_771_800_000;

    fn motion_alarm(state: &str) -> String {
        document(&notification(
            "tns1:VideoSource/MotionAlarm",
            &format!(r#"{AT} PropertyOperation="Changed""#),
            &[("Source", "VideoSource_1")],
            &[("State", state)],
        ))
    }

    #[test]
    fn cell_motion_initialized_is_parsed_and_classified() {
        let e = one(CELL_MOTION_INIT);
        assert_eq!(e.topic, "RuleEngine/CellMotionDetector/Motion");
        assert_eq!(e.time_ms, AT_MS + 250);
        assert_eq!(e.operation, Some(PropertyOperation::Initialized));
        assert_eq!(e.source.get("Rule").map(String::as_str), Some("YardMotion"));
        assert_eq!(e.data.get("IsMotion").map(String::as_str), Some("true"));
        let d = classify(&e).unwrap();
        assert_eq!(d.kind, DetectionKind::Motion);
        assert_eq!(d.rule.as_deref(), Some("YardMotion"));
        assert_eq!(d.rule_key(), "YardMotion");
        assert_eq!(d.source_token.as_deref(), Some("VideoSourceConfig_0"));
        assert_eq!(d.time_ms, AT_MS + 250);
    }

    #[test]
    fn cell_motion_changed_on_counts_and_off_or_deleted_does_not() {
        let changed_on = CELL_MOTION_INIT.replace("Initialized", "Changed");
        let e = one(&changed_on);
        assert_eq!(e.operation, Some(PropertyOperation::Changed));
        assert_eq!(classify(&e).unwrap().kind, DetectionKind::Motion);

        let upper = changed_on.replace(r#"Value="true""#, r#"Value="TRUE""#);
        assert!(classify(&one(&upper)).is_some());
        let numeric = changed_on.replace(r#"Value="true""#, r#"Value="1""#);
        assert!(classify(&one(&numeric)).is_some());

        let off = changed_on.replace(r#"Value="true""#, r#"Value="false""#);
        assert_eq!(classify(&one(&off)), None);
        let zero = changed_on.replace(r#"Value="true""#, r#"Value="0""#);
        assert_eq!(classify(&one(&zero)), None);

        let deleted = CELL_MOTION_INIT.replace("Initialized", "Deleted");
        let e = one(&deleted);
        assert_eq!(e.operation, Some(PropertyOperation::Deleted));
        assert_eq!(classify(&e), None);
    }

    #[test]
    fn motion_alarm_state_true_is_motion_and_false_is_nothing() {
        let e = one(&motion_alarm("true"));
        assert_eq!(e.topic, "VideoSource/MotionAlarm");
        let d = classify(&e).unwrap();
        assert_eq!(d.kind, DetectionKind::Motion);
        // No rule: the topic stands in, and the video source comes from `Source`.
        assert_eq!(d.rule, None);
        assert_eq!(d.rule_key(), "VideoSource/MotionAlarm");
        assert_eq!(d.source_token.as_deref(), Some("VideoSource_1"));
        assert_eq!(classify(&one(&motion_alarm("false"))), None);
        assert_eq!(classify(&one(&motion_alarm("off"))), None);
    }

    #[test]
    fn line_crossing_is_a_tripwire_with_its_rule() {
        let e = one(LINE_CROSSED);
        assert_eq!(e.topic, "RuleEngine/LineDetector/Crossed");
        assert_eq!(e.operation, None);
        // 22:14:05 at +08:00 is 14:14:05 UTC.
        assert_eq!(e.time_ms, AT_MS + (4 * 3600 + 44 * 60 + 5) * 1000);
        let d = classify(&e).unwrap();
        assert_eq!(d.kind, DetectionKind::Tripwire);
        assert_eq!(d.rule.as_deref(), Some("Substation fence"));
        assert_eq!(d.source_token.as_deref(), Some("vsc1"));
    }

    #[test]
    fn field_detector_inside_is_an_intrusion() {
        let xml = |inside: &str| {
            document(&notification(
                "tns1:RuleEngine/FieldDetector/ObjectsInside",
                &format!(r#"{AT} PropertyOperation="Changed""#),
                &[
                    ("VideoSourceConfigurationToken", "vsc2"),
                    ("VideoAnalyticsConfigurationToken", "vac2"),
                    ("Rule", "Transformer yard"),
                ],
                &[("IsInside", inside)],
            ))
        };
        let d = classify(&one(&xml("true"))).unwrap();
        assert_eq!(d.kind, DetectionKind::Intrusion);
        assert_eq!(d.rule.as_deref(), Some("Transformer yard"));
        assert_eq!(classify(&one(&xml("false"))), None);
    }

    #[test]
    fn tamper_and_image_problems_are_camera_faults() {
        let tamper = document(&notification(
            "tns1:RuleEngine/TamperDetector/Tamper",
            &format!(r#"{AT} PropertyOperation="Changed""#),
            &[
                ("VideoSourceConfigurationToken", "vsc3"),
                ("Rule", "Tamper"),
            ],
            &[("IsTamper", "true")],
        ));
        assert_eq!(
            classify(&one(&tamper)).unwrap().kind,
            DetectionKind::CameraFault
        );
        assert_eq!(
            classify(&one(&tamper.replace(r#"Value="true""#, r#"Value="false""#))),
            None
        );

        for topic in [
            "tns1:VideoSource/GlobalSceneChange/ImagingService",
            "tns1:VideoSource/ImageTooDark/AnalyticsService",
            "tns1:VideoSource/ImageTooBlurry/ImagingService",
            "tns1:VideoSource/ImageTooBright/RecordingService",
            "tns1:VideoSource/SignalLoss",
        ] {
            let xml = |state: &str| {
                document(&notification(
                    topic,
                    &format!(r#"{AT} PropertyOperation="Changed""#),
                    &[("Source", "VideoSource_1")],
                    &[("State", state)],
                ))
            };
            let d = classify(&one(&xml("true"))).unwrap();
            assert_eq!(d.kind, DetectionKind::CameraFault, "{topic}");
            assert_eq!(d.source_token.as_deref(), Some("VideoSource_1"));
            assert_eq!(classify(&one(&xml("false"))), None, "{topic}");
        }
    }

    #[test]
    fn unknown_topics_are_not_detections() {
        for topic in [
            "tns1:Device/Trigger/DigitalInput",
            "tns1:RuleEngine/CellMotionDetector",
            "tnsvendor:Something/Else",
        ] {
            let xml = document(&notification(
                topic,
                AT,
                &[("InputToken", "1")],
                &[("LogicalState", "true")],
            ));
            assert_eq!(classify(&one(&xml)), None, "{topic}");
        }
    }

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

    #[test]
    fn a_flapping_rule_is_admitted_once_per_window() {
        let mut c = Cooldown::new(Duration::from_secs(60));
        // On every 7 s for 10 minutes.
        let admitted: Vec<i64> = (0..600_000)
            .step_by(7_000)
            .filter(|&t| c.admit("cam-01", "YardMotion", t))
            .collect();
        let expected: Vec<i64> = (0..10).map(|i| i * 63_000).collect();
        assert_eq!(admitted, expected);
        assert_eq!(c.len(), 1);
    }

    #[test]
    fn cooldown_keys_are_independent_and_out_of_order_repeats_suppressed() {
        let mut c = Cooldown::new(Duration::from_secs(60));
        assert!(c.admit("cam-01", "rule-a", 1_000_000));
        assert!(c.admit("cam-01", "rule-b", 1_000_000));
        assert!(c.admit("cam-02", "rule-a", 1_000_000));
        assert!(!c.admit("cam-01", "rule-a", 1_030_000));
        assert!(!c.admit("cam-02", "rule-a", 1_059_999));
        // A detection a little earlier than the admitted one is still a repeat.
        assert!(!c.admit("cam-01", "rule-b", 999_000));
        assert!(c.admit("cam-01", "rule-a", 1_060_000));
        // A clock that jumped back by more than the window starts afresh.
        assert!(c.admit("cam-02", "rule-a", 0));
        assert_eq!(c.len(), 3);
    }

    #[test]
    fn cooldown_memory_stays_bounded() {
        // All within one window: nothing expires, the oldest go.
        let mut c = Cooldown::new(Duration::from_secs(60));
        for i in 0..100_000 {
            assert!(c.admit(&format!("cam-{i}"), "r", 1_000_000 + i / 10));
            assert!(c.len() <= COOLDOWN_MAX_KEYS);
        }
        // The newest are still remembered.
        assert!(!c.admit("cam-99999", "r", 1_010_000));

        // Spread over time: expired entries are forgotten.
        let mut c = Cooldown::with_max_keys(Duration::from_secs(60), 1_000);
        for i in 0..100_000i64 {
            assert!(c.admit("cam-01", &format!("rule-{i}"), i * 1_000));
            assert!(c.len() <= 1_000);
        }
        assert!(c.len() <= 1_000);
    }

    #[test]
    fn detections_become_camera_alerts() {
        let cam = Ident::parse("cam-07").unwrap();
        let d = classify(&one(LINE_CROSSED)).unwrap();
        let a = to_alert(&cam, &d, d.time_ms + 300).unwrap();
        assert_eq!(a.source_id.as_str(), ONVIF_SOURCE);
        assert_eq!(
            a.external_id,
            format!("cam-07:Substation fence:{}", d.time_ms)
        );
        assert_eq!(a.kind, "tripwire");
        assert_eq!(a.severity.get(), 2);
        assert_eq!(a.place, AlertPlace::Camera(cam.clone()));
        assert_eq!(a.camera_id, Some(cam.clone()));
        assert_eq!(a.time_ms, d.time_ms);
        let text = a.description.unwrap();
        assert!(
            text.contains("Substation fence") && text.contains("cam-07"),
            "{text}"
        );

        let motion = classify(&one(&motion_alarm("true"))).unwrap();
        let a = to_alert(&cam, &motion, AT_MS).unwrap();
        assert_eq!((a.kind.as_str(), a.severity.get()), ("motion", 4));
        assert_eq!(
            a.external_id,
            format!("cam-07:VideoSource/MotionAlarm:{AT_MS}")
        );

        let fault = Detection {
            kind: DetectionKind::CameraFault,
            ..motion.clone()
        };
        assert_eq!(to_alert(&cam, &fault, AT_MS).unwrap().severity.get(), 4);
        let inside = Detection {
            kind: DetectionKind::Intrusion,
            ..motion.clone()
        };
        assert_eq!(to_alert(&cam, &inside, AT_MS).unwrap().severity.get(), 2);
    }

    #[test]
    fn alert_ids_fit_the_schema_and_bad_clocks_are_replaced() {
        let cam = Ident::parse(&"c".repeat(Ident::MAX_LEN)).unwrap();
        let d = Detection {
            kind: DetectionKind::Intrusion,
            rule: Some(format!("{}\u{7}区域", "long rule ".repeat(50))),
            topic: format!("RuleEngine/\n{}", "x".repeat(5000)),
            source_token: Some("vs\r\n1".into()),
            time_ms: 0,
        };
        let a = to_alert(&cam, &d, AT_MS).unwrap();
        assert!(a.external_id.len() <= 128, "{}", a.external_id.len());
        assert!(!a.external_id.chars().any(char::is_control));
        assert!(a.external_id.ends_with(":0"));
        // A camera reporting 1970 gets the time of receipt.
        assert_eq!(a.time_ms, AT_MS);
        let text = a.description.unwrap();
        assert!(!text.chars().any(char::is_control));
        assert!(text.chars().count() < 2000);
    }
}
