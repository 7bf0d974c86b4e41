//! Reading an OpenStreetMap extract: `.osm.pbf` (osmpbf) or `.osm` XML (quick-xml,
//! streamed), into the ways that have a `highway` tag and the positions of their nodes,
//! and what else the base map draws (docs/roads.md, "Base map"): water, waterways,
//! railways and buildings, and the outer and inner ways of water multipolygons. An extract is read
//! twice: first its relations (which ways are the outlines of water, and the turn
//! restrictions: `type=restriction`, whose meaning is `turns`' business), then its nodes
//! and ways. No other relation is kept, so the memory stays that of what is drawn and routed.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, Seek};
use std::path::Path;

use anyhow::{bail, Context};

use super::basemap::class::{name_of, water_relation, way_kind, Kind};

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

/// A way the base map draws that routing does not use: water, a waterway, a railway, a
/// building.
#[derive(Debug, Clone, PartialEq)]
pub struct DrawnWay {
    /// What it is.
    pub kind: Kind,
    /// Its name, if it has one.
    pub name: Option<String>,
    /// Its nodes, in order.
    pub nodes: Vec<i64>,
}

/// A water multipolygon: its member ways, each as its nodes (a ring may take several
/// ways, joined when the base map is built).
#[derive(Debug, Clone, PartialEq)]
pub struct WaterArea {
    /// Its name, if it has one.
    pub name: Option<String>,
    /// The outer member ways' nodes that the extract holds.
    pub outer: Vec<Vec<i64>>,
    /// The inner member ways' (islands').
    pub inner: Vec<Vec<i64>>,
}

/// What an extract holds for routing and for the base map.
#[derive(Debug, Default)]
pub struct RawMap {
    /// Every node's position (degrees: lat, lon).
    pub nodes: HashMap<i64, (f64, f64)>,
    /// The ways with a `highway` tag.
    pub ways: Vec<RawWay>,
    /// The other ways the base map draws.
    pub drawn: Vec<DrawnWay>,
    /// Water multipolygons.
    pub water: Vec<WaterArea>,
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

/// The first pass's finding: the water multipolygons and the ways they need.
#[derive(Debug, Default)]
struct Relations {
    /// Each water relation's name, outer and inner member way ids.
    areas: Vec<(Option<String>, Vec<i64>, Vec<i64>)>,
    /// Every way id above.
    wanted: HashSet<i64>,
    /// The wanted ways' nodes, filled by the second pass.
    found: HashMap<i64, Vec<i64>>,
}

impl Relations {
    /// Notes a relation, if it is a water multipolygon; `members` are its way members'
    /// (id, role).
    fn relation<'a>(
        &mut self,
        tags: &[(String, String)],
        members: impl Iterator<Item = (i64, &'a str)>,
    ) {
        if !water_relation(tags) {
            return;
        }
        let (mut outer, mut inner) = (Vec::new(), Vec::new());
        for (id, role) in members {
            match role {
                "outer" | "" => outer.push(id),
                "inner" => inner.push(id),
                _ => continue,
            }
            self.wanted.insert(id);
        }
        self.areas.push((name_of(tags), outer, inner));
    }

    /// The water areas, with their member ways' nodes.
    fn finish(self) -> Vec<WaterArea> {
        let found = self.found;
        self.areas
            .into_iter()
            .map(|(name, outer, inner)| {
                let ways = |ids: Vec<i64>| -> Vec<Vec<i64>> {
                    ids.iter().filter_map(|id| found.get(id).cloned()).collect()
                };
                WaterArea {
                    name,
                    outer: ways(outer),
                    inner: ways(inner),
                }
            })
            .filter(|a| !a.outer.is_empty())
            .collect()
    }
}

/// Keys that make a way worth reading: routing's `highway`, and the base map's.
const KEYS: [&str; 6] = [
    "highway", "building", "natural", "waterway", "landuse", "railway",
];

/// Files a way read in the second pass where it belongs.
fn keep_way(
    map: &mut RawMap,
    rels: &mut Relations,
    id: i64,
    nodes: Vec<i64>,
    tags: Vec<(String, String)>,
) {
    if rels.wanted.contains(&id) {
        rels.found.insert(id, nodes.clone());
    }
    let closed = nodes.len() >= 4 && nodes.first() == nodes.last();
    if tags.iter().any(|(k, _)| k == "highway") {
        map.ways.push(RawWay { id, nodes, tags });
    } else if let Some(kind) = way_kind(&tags, closed) {
        map.drawn.push(DrawnWay {
            kind,
            name: name_of(&tags),
            nodes,
        });
    }
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
    use osmpbf::{Element, ElementReader, RelMemberType};
    let open = || ElementReader::from_path(path).with_context(|| format!("{}", path.display()));
    let unreadable = || format!("{}: not a readable .osm.pbf", path.display());
    let mut rels = Relations::default();
    let mut restrictions = Vec::new();
    open()?
        .for_each(|element| {
            if let Element::Relation(r) = element {
                let tags: Vec<(String, String)> = r
                    .tags()
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .collect();
                if is_restriction(tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))) {
                    let members = r
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
                        .collect();
                    restrictions.push(RawRestriction {
                        id: r.id(),
                        tags,
                        members,
                    });
                    return;
                }
                let members = r
                    .members()
                    .filter(|m| m.member_type == RelMemberType::Way)
                    .map(|m| (m.member_id, m.role().unwrap_or("")))
                    .collect::<Vec<_>>();
                rels.relation(&tags, members.into_iter());
            }
        })
        .with_context(unreadable)?;
    let mut map = RawMap {
        restrictions,
        ..RawMap::default()
    };
    let mut seen = 0u64;
    open()?
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
                    if rels.wanted.contains(&w.id()) || w.tags().any(|(k, _)| KEYS.contains(&k)) {
                        let tags = w
                            .tags()
                            .map(|(k, v)| (k.to_owned(), v.to_owned()))
                            .collect();
                        keep_way(&mut map, &mut rels, w.id(), w.refs().collect(), tags);
                    }
                }
                Element::Relation(_) => {}
            }
        })
        .with_context(unreadable)?;
    map.water = rels.finish();
    progress(seen);
    Ok(map)
}

/// One element of OSM XML, complete.
enum XmlElement {
    Node(i64, f64, f64),
    Way(i64, Vec<i64>, Vec<(String, String)>),
    /// Id, tags and members.
    Relation(i64, Vec<(String, String)>, Vec<Member>),
}

/// Reads OSM XML from `input`, streaming, twice: its relations, then the rest.
pub fn read_xml(
    mut input: impl BufRead + Seek,
    progress: &mut dyn FnMut(u64),
) -> anyhow::Result<RawMap> {
    let mut rels = Relations::default();
    let mut restrictions = Vec::new();
    xml_elements(&mut input, &mut |e| {
        if let XmlElement::Relation(id, tags, members) = e {
            if is_restriction(tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))) {
                restrictions.push(RawRestriction { id, tags, members });
            } else {
                let ways = members
                    .iter()
                    .filter(|m| m.kind == MemberKind::Way)
                    .map(|m| (m.id, m.role.as_str()));
                rels.relation(&tags, ways);
            }
        }
    })?;
    input.seek(std::io::SeekFrom::Start(0))?;
    let mut map = RawMap {
        restrictions,
        ..RawMap::default()
    };
    let mut seen = 0u64;
    xml_elements(&mut input, &mut |e| {
        seen += 1;
        if seen.is_multiple_of(500_000) {
            progress(seen);
        }
        match e {
            XmlElement::Node(id, lat, lon) => {
                map.nodes.insert(id, (lat, lon));
            }
            XmlElement::Way(id, nodes, tags) => {
                // A way with no nodes routes nowhere and draws nothing.
                if !nodes.is_empty() {
                    keep_way(&mut map, &mut rels, id, nodes, tags);
                }
            }
            XmlElement::Relation(..) => {}
        }
    })?;
    map.water = rels.finish();
    progress(seen);
    Ok(map)
}

/// The way or relation being read.
struct Open {
    is_way: bool,
    id: i64,
    nodes: Vec<i64>,
    tags: Vec<(String, String)>,
    /// A relation's members.
    members: Vec<Member>,
}

/// Calls `on` with each node, way and relation of the XML in `input`.
fn xml_elements(input: impl BufRead, on: &mut dyn FnMut(XmlElement)) -> anyhow::Result<()> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_reader(input);
    let mut buf = Vec::new();
    let mut open: Option<Open> = None;
    loop {
        let event = reader
            .read_event_into(&mut buf)
            .with_context(|| format!("OSM XML at byte {}", reader.buffer_position()))?;
        let (e, empty) = match &event {
            Event::Start(e) => (e, false),
            Event::Empty(e) => (e, true),
            Event::End(e) => {
                if matches!(e.name().as_ref(), "way" | "relation") {
                    if let Some(o) = open.take() {
                        on(if o.is_way {
                            XmlElement::Way(o.id, o.nodes, o.tags)
                        } else {
                            XmlElement::Relation(o.id, o.tags, o.members)
                        });
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
        let id = || attr("id").and_then(|v| v.parse::<i64>().ok());
        match e.name().as_ref() {
            "node" => {
                let lat = attr("lat").and_then(|v| v.parse::<f64>().ok());
                let lon = attr("lon").and_then(|v| v.parse::<f64>().ok());
                if let (Some(id), Some(lat), Some(lon)) = (id(), lat, lon) {
                    on(XmlElement::Node(id, lat, lon));
                }
            }
            name @ ("way" | "relation") => {
                let is_way = name == "way";
                // An empty one has no nodes or members: nothing to draw or route.
                if let (false, Some(id)) = (empty, id()) {
                    open = Some(Open {
                        is_way,
                        id,
                        nodes: Vec::new(),
                        tags: Vec::new(),
                        members: Vec::new(),
                    });
                }
            }
            "nd" => {
                if let (Some(w), Some(r)) = (open.as_mut(), attr("ref")) {
                    if let Ok(r) = r.parse() {
                        w.nodes.push(r);
                    }
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
                if let (Some(rel), Some(kind), Some(id)) = (open.as_mut(), kind, id) {
                    let role = attr("role").unwrap_or_default();
                    rel.members.push(Member { role, kind, id });
                }
            }
            "tag" => {
                if let (Some(w), Some(k), Some(v)) = (open.as_mut(), attr("k"), attr("v")) {
                    w.tags.push((k, v));
                }
            }
            _ => {}
        }
        buf.clear();
    }
    Ok(())
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
        let map =
            read_xml(std::io::Cursor::new(xml.as_bytes()), &mut |_| {}).map_err(|e| e.to_string());
        let map = map.unwrap_or_default();
        assert_eq!(map.nodes.len(), 2);
        assert_eq!(map.nodes.get(&2), Some(&(39.51, 106.70)));
        assert_eq!(map.ways.len(), 1);
        assert_eq!(map.ways[0].nodes, vec![1, 2]);
        assert_eq!(map.ways[0].id, 10);
        // The turn restriction; the multipolygon is not water, so not kept either.
        assert!(map.water.is_empty());
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
        let err = read_xml(
            std::io::Cursor::new("<osm><node id=".as_bytes()),
            &mut |_| {},
        )
        .err();
        assert!(err.is_some());
        let unknown = read(Path::new("region.shp"), &mut |_| {}).err();
        assert!(unknown.is_some_and(|e| e.to_string().contains(".osm.pbf")));
    }
}
