//! The offline base map (docs/roads.md, "Base map"): what the console and the field app
//! draw when no tile server is set, kept from the same OpenStreetMap extract as the roads.
//! Every road with its class and name, water, waterways, railways and buildings, with
//! positions quantised to 1e-7 degrees, stored in its own file beside the roads file and
//! answered one web-mercator tile at a time (`tile`).
//!
//! # Layout
//! - `class`: which tags make which kind, and from which zoom each is drawn.
//! - `tile`: cutting one tile out, in tile coordinates.

pub mod class;
mod tile;

use std::path::Path;

use anyhow::{bail, Context};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{RTree, AABB};
use serde::{Deserialize, Serialize};

pub use class::Kind;
pub use tile::{check_tile, BaseTile, TileFeature, EXTENT, MAX_ZOOM};

use super::osm::RawMap;

/// The base map file's name under the data directory, beside the roads file.
pub const FILE_NAME: &str = "basemap.bin";
/// What the file starts with, and the layout's version after it.
const MAGIC: &[u8; 8] = b"GDBMAP01";
/// Units of a stored position per degree.
const E7: f64 = 1e7;

/// A position, 1e-7 degrees: longitude, latitude.
type Point = [i32; 2];

/// One drawn feature.
#[derive(Debug, Clone)]
struct Feature {
    kind: Kind,
    /// 1 + its name's place in the names, 0 = no name.
    name: u32,
    /// Its line, or its outline (first point repeated last).
    points: Vec<Point>,
}

/// A feature as stored: each point after the first as its step from the one before, which
/// postcard writes in a byte or two.
#[derive(Serialize, Deserialize)]
struct Stored {
    kind: Kind,
    name: u32,
    steps: Vec<i32>,
}

/// The file's body.
#[derive(Serialize, Deserialize)]
struct Body {
    source: String,
    names: Vec<String>,
    features: Vec<Stored>,
}

/// The features whose bounding box meets a box, grouped by the zoom they are drawn from.
type Index = Vec<(u8, RTree<GeomWithData<Rectangle<Point>, u32>>)>;

/// What the base map kept, to tell the admin.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BaseMapSummary {
    /// Road lines (a named street's ways that meet end to end count as one).
    pub roads: usize,
    /// Water areas.
    pub water: usize,
    /// Islands cut out of water areas.
    pub islands: usize,
    /// River, canal and stream lines.
    pub waterways: usize,
    /// Railway lines.
    pub railways: usize,
    /// Building outlines.
    pub buildings: usize,
    /// Road lines with a name.
    pub named_roads: usize,
}

/// The base map, loaded.
pub struct BaseMap {
    /// Where the extract came from (its file name).
    pub source: String,
    names: Vec<String>,
    features: Vec<Feature>,
    index: Index,
    /// A fingerprint of the content, for the tiles' `ETag`.
    fingerprint: u64,
}

impl std::fmt::Debug for BaseMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BaseMap")
            .field("source", &self.source)
            .field("features", &self.features.len())
            .finish_non_exhaustive()
    }
}

/// Joins ways end to end into closed rings (a multipolygon's outline is often cut into
/// several ways); what cannot be closed is left out.
fn rings(mut parts: Vec<Vec<i64>>) -> Vec<Vec<i64>> {
    let mut out = Vec::new();
    while let Some(mut ring) = parts.pop() {
        while let (Some(&first), Some(&end)) = (ring.first(), ring.last()) {
            if ring.len() >= 4 && first == end {
                out.push(ring);
                break;
            }
            let Some(i) = parts
                .iter()
                .position(|p| p.first() == Some(&end) || p.last() == Some(&end))
            else {
                break;
            };
            let mut next = parts.swap_remove(i);
            if next.first() != Some(&end) {
                next.reverse();
            }
            ring.extend_from_slice(&next[1..]);
        }
    }
    out
}

/// Joins the named lines of one kind and name that meet end to end (OpenStreetMap cuts a
/// street into many ways, at every bridge, tram stop or change of lanes), so that its name
/// has room along it; the other features are kept as they are.
fn join_named_lines(features: Vec<Feature>) -> Vec<Feature> {
    let mut out = Vec::with_capacity(features.len());
    let mut groups: std::collections::HashMap<(Kind, u32), Vec<Vec<Point>>> = Default::default();
    for f in features {
        if f.name == 0 || f.kind.is_area() {
            out.push(f);
        } else {
            groups.entry((f.kind, f.name)).or_default().push(f.points);
        }
    }
    let mut keys: Vec<(Kind, u32)> = groups.keys().copied().collect();
    keys.sort_unstable();
    for key in keys {
        let mut lines = groups.remove(&key).unwrap_or_default();
        while let Some(mut line) = lines.pop() {
            while let (Some(&first), Some(&end)) = (line.first(), line.last()) {
                if let Some(i) = lines
                    .iter()
                    .position(|p| p.first() == Some(&end) || p.last() == Some(&end))
                {
                    let mut next = lines.swap_remove(i);
                    if next.first() != Some(&end) {
                        next.reverse();
                    }
                    line.extend_from_slice(&next[1..]);
                } else if let Some(i) = lines
                    .iter()
                    .position(|p| p.first() == Some(&first) || p.last() == Some(&first))
                {
                    let mut before = lines.swap_remove(i);
                    if before.last() != Some(&first) {
                        before.reverse();
                    }
                    before.extend_from_slice(&line[1..]);
                    line = before;
                } else {
                    break;
                }
            }
            out.push(Feature {
                kind: key.0,
                name: key.1,
                points: line,
            });
        }
    }
    out
}

/// A degree position as stored.
fn quantise((lat, lon): (f64, f64)) -> Point {
    [(lon * E7).round() as i32, (lat * E7).round() as i32]
}

/// FNV-1a of `bytes`: the base map's fingerprint.
fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

impl BaseMap {
    /// Keeps what is drawn of an extract already read.
    pub fn build(source: &str, map: &RawMap) -> BaseMap {
        let mut names: Vec<String> = Vec::new();
        let mut by_name: std::collections::HashMap<String, u32> = Default::default();
        let mut features = Vec::new();
        let mut add = |kind: Kind, name: Option<String>, nodes: &[i64]| {
            let mut points: Vec<Point> = nodes
                .iter()
                .filter_map(|id| map.nodes.get(id).copied().map(quantise))
                .collect();
            points.dedup();
            let enough = if kind.is_area() {
                points.len() >= 4 && points.first() == points.last()
            } else {
                points.len() >= 2
            };
            if !enough {
                return;
            }
            let name = name.map_or(0, |n| {
                *by_name.entry(n).or_insert_with_key(|n| {
                    names.push(n.clone());
                    u32::try_from(names.len()).unwrap_or(0)
                })
            });
            features.push(Feature { kind, name, points });
        };
        for way in &map.ways {
            let closed = way.nodes.len() >= 4 && way.nodes.first() == way.nodes.last();
            if let Some(kind) = class::way_kind(&way.tags, closed) {
                add(kind, class::name_of(&way.tags), &way.nodes);
            }
        }
        for way in &map.drawn {
            add(way.kind, way.name.clone(), &way.nodes);
        }
        for area in &map.water {
            for ring in rings(area.outer.clone()) {
                add(Kind::Water, area.name.clone(), &ring);
            }
            for ring in rings(area.inner.clone()) {
                add(Kind::Island, None, &ring);
            }
        }
        let mut base = BaseMap {
            source: source.to_owned(),
            names,
            features: join_named_lines(features),
            index: Vec::new(),
            fingerprint: 0,
        };
        base.fingerprint = fnv(&base.encode().unwrap_or_default());
        base.index_features();
        base
    }

    /// What was kept.
    pub fn summary(&self) -> BaseMapSummary {
        let mut s = BaseMapSummary::default();
        for f in &self.features {
            match f.kind {
                Kind::Water => s.water += 1,
                Kind::Island => s.islands += 1,
                Kind::River | Kind::Stream => s.waterways += 1,
                Kind::Rail => s.railways += 1,
                Kind::Building => s.buildings += 1,
                _ => {
                    s.roads += 1;
                    s.named_roads += usize::from(f.name != 0);
                }
            }
        }
        s
    }

    /// Indexes every feature's bounding box, by the zoom it is drawn from.
    fn index_features(&mut self) {
        let mut groups: std::collections::BTreeMap<u8, Vec<_>> = Default::default();
        for (i, f) in self.features.iter().enumerate() {
            let (mut lo, mut hi) = ([i32::MAX; 2], [i32::MIN; 2]);
            for p in &f.points {
                lo = [lo[0].min(p[0]), lo[1].min(p[1])];
                hi = [hi[0].max(p[0]), hi[1].max(p[1])];
            }
            let rect = Rectangle::from_corners(lo, hi);
            groups
                .entry(f.kind.min_zoom())
                .or_default()
                .push(GeomWithData::new(
                    rect,
                    u32::try_from(i).unwrap_or(u32::MAX),
                ));
        }
        self.index = groups
            .into_iter()
            .map(|(z, items)| (z, RTree::bulk_load(items)))
            .collect();
    }

    /// The features drawn at zoom `z` whose boxes meet `envelope`, by their index.
    fn features_in(&self, z: u8, envelope: &AABB<Point>) -> Vec<u32> {
        self.index
            .iter()
            .filter(|(min_zoom, _)| *min_zoom <= z)
            .flat_map(|(_, tree)| tree.locate_in_envelope_intersecting(envelope))
            .map(|item| item.data)
            .collect()
    }

    fn encode(&self) -> anyhow::Result<Vec<u8>> {
        let features = self
            .features
            .iter()
            .map(|f| {
                let mut prev = [0i32; 2];
                let mut steps = Vec::with_capacity(f.points.len() * 2);
                for p in &f.points {
                    steps.push(p[0].wrapping_sub(prev[0]));
                    steps.push(p[1].wrapping_sub(prev[1]));
                    prev = *p;
                }
                Stored {
                    kind: f.kind,
                    name: f.name,
                    steps,
                }
            })
            .collect();
        let body = Body {
            source: self.source.clone(),
            names: self.names.clone(),
            features,
        };
        postcard::to_stdvec(&body).context("encoding the base map")
    }

    /// Writes the base map file to `path` (through a temporary file, so a crash leaves
    /// the old one).
    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        super::file::write(path, MAGIC, &self.encode()?)
    }

    /// Reads a base map file written by [`BaseMap::save`].
    pub fn load(path: &Path) -> anyhow::Result<BaseMap> {
        let body = super::file::read(path, MAGIC, "base map")?;
        let damaged = || format!("{}: damaged; import the extract again", path.display());
        let stored: Body = postcard::from_bytes(&body).with_context(damaged)?;
        let mut features = Vec::with_capacity(stored.features.len());
        for s in stored.features {
            if s.steps.len() % 2 != 0 || s.name as usize > stored.names.len() {
                bail!("{}", damaged());
            }
            let mut prev = [0i32; 2];
            let points = s
                .steps
                .chunks_exact(2)
                .map(|d| {
                    prev = [prev[0].wrapping_add(d[0]), prev[1].wrapping_add(d[1])];
                    prev
                })
                .collect::<Vec<_>>();
            if points.is_empty() {
                bail!("{}", damaged());
            }
            features.push(Feature {
                kind: s.kind,
                name: s.name,
                points,
            });
        }
        let mut base = BaseMap {
            source: stored.source,
            names: stored.names,
            features,
            index: Vec::new(),
            fingerprint: fnv(&body),
        };
        base.index_features();
        Ok(base)
    }

    /// A fingerprint of the content: a new import makes a new one.
    pub fn fingerprint(&self) -> u64 {
        self.fingerprint
    }
}

#[cfg(test)]
mod tests;
