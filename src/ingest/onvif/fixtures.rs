//! Metadata documents the tests of every step share.

use super::*;

/// Cell motion, as a camera sends it when the stream starts: the rule's current state.
pub(super) const CELL_MOTION_INIT: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
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
pub(super) const LINE_CROSSED: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
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
pub(super) fn notification(
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
pub(super) fn document(body: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><tt:MetadataStream xmlns:tt="http://www.onvif.org/ver10/schema" xmlns:wsnt="http://docs.oasis-open.org/wsn/b-2" xmlns:tns1="http://www.onvif.org/ver10/topics">{body}</tt:MetadataStream>"#
    )
}

/// The single event of a one-notification document.
pub(super) fn one(xml: &str) -> OnvifEvent {
    let mut events = parse_metadata(xml.as_bytes()).unwrap();
    assert_eq!(events.len(), 1, "{xml}");
    events.remove(0)
}

pub(super) const AT: &str = r#"UtcTime="2026-11-27T09:30:00Z""#;
pub(super) const AT_MS: i64 = 1_795_771_800_000;

pub(super) fn motion_alarm(state: &str) -> String {
    document(&notification(
        "tns1:VideoSource/MotionAlarm",
        &format!(r#"{AT} PropertyOperation="Changed""#),
        &[("Source", "VideoSource_1")],
        &[("State", state)],
    ))
}
