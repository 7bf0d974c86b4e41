//! Reading an OpenStreetMap extract: `.osm.pbf` (osmpbf) or `.osm` XML (quick-xml,
//! streamed), into the ways that have a `highway` tag, the positions of their nodes, and
//! the turn restrictions (`type=restriction` relations; no other relation is kept, so the
//! memory stays that of the roads). What a restriction means is `turns`' business.

use std::collections::HashMap;
use std::io::BufRead;
use std::path::Path;

use anyhow::{bail, Context};

/// One way with a `highway` tag.
#[derive(Debug, Clone)]
pub struct RawWay {
    /// Its OSM id (what a turn restriction names it by).
    pub id: i64,
    /// Its nodes, in order.
    pub nodes: Vec<i64>,
    /// Its tags.
    pub tags: Vec<(String, String)>,
}

/// What an extract holds for routing.
#[derive(Debug, Default)]
pub struct RawMap {
    /// Every node's position (degrees: lat, lon).
    pub nodes: HashMap<i64, (f64, f64)>,
    /// The ways with a `highway` tag.
    pub ways: Vec<RawWay>,
    /// The `type=restriction` relations.
    pub restrictions: Vec<RawRestriction>,
}

/// A `type=restriction` relation as read: its tags and members, not yet interpreted.
#[derive(Debug, Clone, Default)]
pub struct RawRestriction {
    /// Its OSM id.
    pub id: i64,
    /// Its tags (`restriction=no_left_turn`, `except=bicycle`, ...).
    pub tags: Vec<(String, String)>,
    /// Its members, in order.
    pub members: Vec<Member>,
}

/// One member of a relation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// `from`, `via`, `to`, ...
    pub role: String,
    /// What it is.
    pub kind: MemberKind,
    /// Its OSM id.
    pub id: i64,
}

/// What a relation's member is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberKind {
    /// A node.
    Node,
    /// A way.
    Way,
    /// Another relation.
    Relation,
}

/// Whether a relation with `tags` is a turn restriction, the only relations kept.
fn is_restriction<'a>(mut tags: impl Iterator<Item = (&'a str, &'a str)>) -> bool {
    tags.any(|(k, v)| k == "type" && v == "restriction")
}

/// Reads `path` by its extension (`.pbf`, else XML), calling `progress` with the elements
/// read so far now and then.
pub fn read(path: &Path, progress: &mut dyn FnMut(u64)) -> anyhow::Result<RawMap> {
    let name = path.to_string_lossy().to_ascii_lowercase();
    if name.ends_with(".pbf") {
        read_pbf(path, progress)
    } else if name.ends_with(".osm") || name.ends_with(".xml") {
        let file = std::fs::File::open(path).with_context(|| format!("{}", path.display()))?;
        read_xml(std::io::BufReader::new(file), progress)
    } else {
        bail!(
            "{}: expected an OpenStreetMap extract, .osm.pbf or .osm",
            path.display()
        )
    }
}

fn read_pbf(path: &Path, progress: &mut dyn FnMut(u64)) -> anyhow::Result<RawMap> {
    use osmpbf::{Element, ElementReader};
    let reader = ElementReader::from_path(path).with_context(|| format!("{}", path.display()))?;
    let mut map = RawMap::default();
    let mut seen = 0u64;
    reader
        .for_each(|element| {
            seen += 1;
            if seen.is_multiple_of(500_000) {
                progress(seen);
            }
            match element {
                Element::Node(n) => {
                    map.nodes.insert(n.id(), (n.lat(), n.lon()));
                }
                Element::DenseNode(n) => {
                    map.nodes.insert(n.id(), (n.lat(), n.lon()));
                }
                Element::Way(w) => {
                    if w.tags().any(|(k, _)| k == "highway") {
                        map.ways.push(RawWay {
                            id: w.id(),
                            nodes: w.refs().collect(),
                            tags: w
                                .tags()
                                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                                .collect(),
                        });
                    }
                }
                Element::Relation(r) => {
                    if is_restriction(r.tags()) {
                        use osmpbf::RelMemberType;
                        map.restrictions.push(RawRestriction {
                            id: r.id(),
                            tags: r
                                .tags()
                                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                                .collect(),
                            members: r
                                .members()
                                .map(|m| Member {
                                    role: m.role().unwrap_or_default().to_owned(),
                                    kind: match m.member_type {
                                        RelMemberType::Node => MemberKind::Node,
                                        RelMemberType::Way => MemberKind::Way,
                                        RelMemberType::Relation => MemberKind::Relation,
                                    },
                                    id: m.member_id,
                                })
                                .collect(),
                        });
                    }
                }
            }
        })
        .with_context(|| format!("{}: not a readable .osm.pbf", path.display()))?;
    progress(seen);
    Ok(map)
}

/// Reads OSM XML from `input`, streaming.
pub fn read_xml(input: impl BufRead, progress: &mut dyn FnMut(u64)) -> anyhow::Result<RawMap> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_reader(input);
    let mut buf = Vec::new();
    let mut map = RawMap::default();
    let mut way: Option<RawWay> = None;
    let mut relation: Option<RawRestriction> = None;
    let mut seen = 0u64;
    loop {
        let event = reader
            .read_event_into(&mut buf)
            .with_context(|| format!("OSM XML at byte {}", reader.buffer_position()))?;
        let (e, empty) = match &event {
            Event::Start(e) => (e, false),
            Event::Empty(e) => (e, true),
            Event::End(e) => {
                if e.name().as_ref() == "way" {
                    if let Some(w) = way.take() {
                        if w.tags.iter().any(|(k, _)| k == "highway") {
                            map.ways.push(w);
                        }
                    }
                } else if e.name().as_ref() == "relation" {
                    if let Some(r) = relation.take() {
                        if is_restriction(r.tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))) {
                            map.restrictions.push(r);
                        }
                    }
                }
                buf.clear();
                continue;
            }
            Event::Eof => break,
            _ => {
                buf.clear();
                continue;
            }
        };
        let attr = |key: &str| -> Option<String> {
            e.attributes()
                .flatten()
                .find(|a| a.key.as_ref() == key)
                .and_then(|a| {
                    a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                        .ok()
                        .map(|v| v.into_owned())
                })
        };
        match e.name().as_ref() {
            "node" => {
                seen += 1;
                if seen.is_multiple_of(500_000) {
                    progress(seen);
                }
                let id = attr("id").and_then(|v| v.parse::<i64>().ok());
                let lat = attr("lat").and_then(|v| v.parse::<f64>().ok());
                let lon = attr("lon").and_then(|v| v.parse::<f64>().ok());
                if let (Some(id), Some(lat), Some(lon)) = (id, lat, lon) {
                    map.nodes.insert(id, (lat, lon));
                }
            }
            "way" => {
                seen += 1;
                let w = RawWay {
                    id: attr("id").and_then(|v| v.parse().ok()).unwrap_or_default(),
                    nodes: Vec::new(),
                    tags: Vec::new(),
                };
                if empty {
                    // A way with no nodes routes nowhere.
                } else {
                    way = Some(w);
                }
            }
            "nd" => {
                if let (Some(w), Some(r)) = (way.as_mut(), attr("ref")) {
                    if let Ok(r) = r.parse() {
                        w.nodes.push(r);
                    }
                }
            }
            "relation" => {
                seen += 1;
                if !empty {
                    relation = Some(RawRestriction {
                        id: attr("id").and_then(|v| v.parse().ok()).unwrap_or_default(),
                        ..RawRestriction::default()
                    });
                }
            }
            "member" => {
                let kind = match attr("type").as_deref() {
                    Some("node") => Some(MemberKind::Node),
                    Some("way") => Some(MemberKind::Way),
                    Some("relation") => Some(MemberKind::Relation),
                    _ => None,
                };
                let id = attr("ref").and_then(|v| v.parse().ok());
                if let (Some(r), Some(kind), Some(id)) = (relation.as_mut(), kind, id) {
                    let role = attr("role").unwrap_or_default();
                    r.members.push(Member { role, kind, id });
                }
            }
            "tag" => {
                if let (Some(k), Some(v)) = (attr("k"), attr("v")) {
                    if let Some(w) = way.as_mut() {
                        w.tags.push((k, v));
                    } else if let Some(r) = relation.as_mut() {
                        r.tags.push((k, v));
                    }
                }
            }
            _ => {}
        }
        buf.clear();
    }
    progress(seen);
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_ways_with_a_highway_tag_and_their_nodes_are_read() {
        let xml = r#"<?xml version="1.0"?>
<osm version="0.6">
  <node id="1" lat="39.50" lon="106.70"/>
  <node id="2" lat="39.51" lon="106.70"><tag k="highway" v="traffic_signals"/></node>
  <way id="10"><nd ref="1"/><nd ref="2"/><tag k="highway" v="residential"/><tag k="name" v="滨河路"/></way>
  <way id="11"><nd ref="1"/><nd ref="2"/><tag k="building" v="yes"/></way>
  <relation id="20"><member type="way" ref="10" role="from"/><member type="node" ref="2" role="via"/>
    <member type="way" ref="10" role="to"/><tag k="type" v="restriction"/><tag k="restriction" v="no_u_turn"/></relation>
  <relation id="21"><member type="way" ref="10" role="outer"/><tag k="type" v="multipolygon"/></relation>
</osm>"#;
        let map = read_xml(xml.as_bytes(), &mut |_| {}).map_err(|e| e.to_string());
        let map = map.unwrap_or_default();
        assert_eq!(map.nodes.len(), 2);
        assert_eq!(map.nodes.get(&2), Some(&(39.51, 106.70)));
        assert_eq!(map.ways.len(), 1);
        assert_eq!(map.ways[0].nodes, vec![1, 2]);
        assert_eq!(map.ways[0].id, 10);
        // The turn restriction, not the multipolygon.
        assert_eq!(map.restrictions.len(), 1);
        let r = &map.restrictions[0];
        assert_eq!(r.id, 20);
        assert!(r
            .tags
            .contains(&("restriction".to_owned(), "no_u_turn".to_owned())));
        let via = Member {
            role: "via".to_owned(),
            kind: MemberKind::Node,
            id: 2,
        };
        assert_eq!(r.members.len(), 3);
        assert_eq!(r.members[1], via);
        assert!(map.ways[0]
            .tags
            .contains(&("name".to_owned(), "滨河路".to_owned())));
    }

    #[test]
    fn broken_xml_is_an_error_that_says_where() {
        let err = read_xml("<osm><node id=".as_bytes(), &mut |_| {}).err();
        assert!(err.is_some());
        let unknown = read(Path::new("region.shp"), &mut |_| {}).err();
        assert!(unknown.is_some_and(|e| e.to_string().contains(".osm.pbf")));
    }
}
