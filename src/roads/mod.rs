//! Travel on the real road network (docs/roads.md): an OpenStreetMap extract imported once
//! (`griddispatch roads import FILE`) into one routable graph per travel mode, kept in a
//! compact file under the data directory, and asked for the travel time and road distance
//! between a responder and an incident.
//!
//! # Layout
//! - `osm`: reading `.osm.pbf` and `.osm` XML.
//! - `profile`: which ways each mode may use, in which direction, how fast.
//! - `turns`: turn restrictions, as the turns a car may not take.
//! - `graph`: one mode's graph, its largest connected part, junctions split for turn
//!   restrictions, routing and snapping.
//! - `basemap`: the offline base map kept from the same extract, cut into tiles.
//! - `file`: how both are written and read back.
//!
//! # Units
//! Travel times in milliseconds, distances in metres, positions in WGS-84 degrees.

pub mod basemap;
mod file;
mod graph;
mod order;
mod osm;
mod plain;
mod profile;
mod turns;

use std::path::Path;

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};

pub use basemap::{BaseMap, BaseMapSummary};
pub use graph::{
    edges_of, kept_graph, prepare, split_turns, Edges, GraphStats, ModeGraph, Preparation, Route,
    Searcher,
};
pub use order::dissection_order;
pub use osm::{
    read as read_extract, read_xml, DrawnWay, Member, MemberKind, RawMap, RawRestriction, RawWay,
    WaterArea,
};
pub use plain::PlainGraph;
pub use profile::{fastest_kmh, rule, WayRule};
pub use turns::TurnSummary;

use crate::domain::{LatLon, TravelMode};

/// The roads file's name under the data directory.
pub const FILE_NAME: &str = "roads.bin";
/// What the file starts with, and the layout's version after it (2: junctions split for
/// turn restrictions).
const MAGIC: &[u8; 8] = b"GDROADS3";

/// The imported roads: one graph per travel mode.
#[derive(Debug, Serialize, Deserialize)]
pub struct Roads {
    /// Where the extract came from (its file name).
    pub source: String,
    /// The extract's extent: south, west, north, east (degrees).
    pub bounds: [f64; 4],
    /// One graph per mode, in [`TravelMode::ALL`] order.
    graphs: Vec<ModeGraph>,
}

/// What an import kept, to show the admin.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportSummary {
    /// OSM nodes read.
    pub nodes_read: usize,
    /// Ways with a `highway` tag.
    pub ways: usize,
    /// The extent's area, km².
    pub area_km2: f64,
    /// Per mode: what was kept.
    pub modes: Vec<(TravelMode, GraphStats)>,
}

impl Roads {
    /// Builds every mode's graph from an extract already read.
    pub fn build(source: &str, map: &RawMap) -> (Roads, ImportSummary) {
        let (mut s, mut w, mut n, mut e) = (90.0_f64, 180.0_f64, -90.0_f64, -180.0_f64);
        for &(lat, lon) in map.nodes.values() {
            s = s.min(lat);
            n = n.max(lat);
            w = w.min(lon);
            e = e.max(lon);
        }
        if map.nodes.is_empty() {
            (s, w, n, e) = (0.0, 0.0, 0.0, 0.0);
        }
        let graphs: Vec<ModeGraph> = TravelMode::ALL
            .iter()
            .map(|&mode| ModeGraph::build(map, mode))
            .collect();
        let mid = ((s + n) / 2.0).to_radians().cos();
        let area_km2 = (n - s) * 111.32 * (e - w) * 111.32 * mid;
        let summary = ImportSummary {
            nodes_read: map.nodes.len(),
            ways: map.ways.len(),
            area_km2,
            modes: graphs.iter().map(|g| (g.mode, g.stats)).collect(),
        };
        let roads = Roads {
            source: source.to_owned(),
            bounds: [s, w, n, e],
            graphs,
        };
        (roads, summary)
    }

    /// Reads an extract and builds the graphs; `progress` is told the elements read so far.
    pub fn import(
        path: &Path,
        progress: &mut dyn FnMut(u64),
    ) -> anyhow::Result<(Roads, ImportSummary)> {
        let (name, map) = read_roads(path, progress)?;
        Ok(Roads::build(&name, &map))
    }

    /// As [`Roads::import`], and keeps the base map from the same extract.
    pub fn import_with_base_map(
        path: &Path,
        progress: &mut dyn FnMut(u64),
    ) -> anyhow::Result<(Roads, ImportSummary, BaseMap)> {
        let (name, map) = read_roads(path, progress)?;
        let (roads, summary) = Roads::build(&name, &map);
        let base = BaseMap::build(&name, &map);
        Ok((roads, summary, base))
    }

    /// Imports the extract at `path` into the roads file `out` and the base map beside it
    /// (`basemap.bin`), making `out`'s folder when missing: what `roads import` and the
    /// demo's street sketch do. Answers what was kept.
    pub fn import_into(
        path: &Path,
        out: &Path,
        progress: &mut dyn FnMut(u64),
    ) -> anyhow::Result<(ImportSummary, BaseMapSummary)> {
        let (roads, summary, base) = Roads::import_with_base_map(path, progress)?;
        if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_context(|| format!("{}", dir.display()))?;
        }
        roads.save(out)?;
        base.save(&out.with_file_name(basemap::FILE_NAME))?;
        Ok((summary, base.summary()))
    }

    /// Writes the roads file to `path` (through a temporary file, so a crash leaves the
    /// old one).
    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        let body = postcard::to_stdvec(self).context("encoding the roads")?;
        file::write(path, MAGIC, &body)
    }

    /// Whether the roads file at `path` is of this version's layout, so [`Roads::load`]
    /// can read it (found from its first bytes, without reading the rest).
    pub fn is_current_layout(path: &Path) -> bool {
        file::is_current(path, MAGIC)
    }

    /// Reads a roads file written by [`Roads::save`].
    pub fn load(path: &Path) -> anyhow::Result<Roads> {
        let body = file::read(path, MAGIC, "roads")?;
        let mut roads: Roads = postcard::from_bytes(&body)
            .with_context(|| format!("{}: damaged; import the extract again", path.display()))?;
        if roads.graphs.len() != TravelMode::ALL.len()
            || roads
                .graphs
                .iter()
                .zip(TravelMode::ALL)
                .any(|(g, m)| g.mode != *m)
        {
            bail!(
                "{}: its travel modes are not this version's",
                path.display()
            );
        }
        if roads.graphs.iter().any(|g| !g.is_consistent()) {
            bail!("{}: damaged; import the extract again", path.display());
        }
        for g in &mut roads.graphs {
            g.index_nodes();
        }
        Ok(roads)
    }

    /// `mode`'s graph.
    pub fn graph(&self, mode: TravelMode) -> &ModeGraph {
        let i = TravelMode::ALL.iter().position(|&m| m == mode).unwrap_or(0);
        &self.graphs[i]
    }

    /// The fastest route by `mode` from `from` to `to`, each snapped to the nearest road
    /// node within `snap_m` metres; `None` when either is farther from the roads or no
    /// route joins them (then the caller falls back to the straight line).
    pub fn route(&self, mode: TravelMode, from: LatLon, to: LatLon, snap_m: f64) -> Option<Route> {
        let g = self.graph(mode);
        let (a, _) = g.snap(from, snap_m)?;
        let (b, _) = g.snap(to, snap_m)?;
        g.route_nodes(a, b)
    }

    /// A time no route by `mode` from `from` to `to` can beat, seconds: the straight line
    /// between the road nodes they snap to, at the mode's top speed; 0 when either point
    /// is off the roads (its route is then not found, at no cost).
    pub fn fastest_secs(&self, mode: TravelMode, from: LatLon, to: LatLon, snap_m: f64) -> f64 {
        match (self.snap(mode, from, snap_m), self.snap(mode, to, snap_m)) {
            (Some(a), Some(b)) => self.fastest_secs_between(mode, a, b),
            _ => 0.0,
        }
    }

    /// The road node of `mode`'s graph nearest `p` within `snap_m` metres.
    pub fn snap(&self, mode: TravelMode, p: LatLon, snap_m: f64) -> Option<usize> {
        self.graph(mode).snap(p, snap_m).map(|(node, _)| node)
    }

    /// As [`Roads::fastest_secs`], between two nodes already snapped to.
    pub fn fastest_secs_between(&self, mode: TravelMode, a: usize, b: usize) -> f64 {
        let g = self.graph(mode);
        match (g.position(a), g.position(b)) {
            // 1 % under: edge times are whole milliseconds, rounded.
            (Some(a), Some(b)) => 0.99 * a.distance_m(b) / (fastest_kmh(mode) / 3.6),
            _ => 0.0,
        }
    }

    /// The fastest route by `mode` between two nodes already snapped to: its travel time,
    /// seconds, and its length, metres.
    pub fn travel_between(&self, mode: TravelMode, a: usize, b: usize) -> Option<(f64, f64)> {
        let route = self.graph(mode).route_nodes(a, b)?;
        Some((route.time_ms as f64 / 1000.0, route.distance_m))
    }
}

/// Reads an extract that has roads; its file name, and what it holds.
fn read_roads(path: &Path, progress: &mut dyn FnMut(u64)) -> anyhow::Result<(String, RawMap)> {
    let map = osm::read(path, progress)?;
    if map.ways.is_empty() {
        bail!("{}: no roads (no way has a highway tag)", path.display());
    }
    let name = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    Ok((name, map))
}

/// Routes on every mode with searches of its own: the coverage map's thousands of queries
/// run on a blocking thread and must not take turns with the engine's ranking for the
/// graphs' shared searches.
pub struct RoadSearch<'a> {
    roads: &'a Roads,
    /// One search per mode, in [`TravelMode::ALL`] order, made on first use.
    calcs: Vec<Option<graph::Searcher>>,
    /// Travel already measured, by (mode, from node, to node): small cells snap to the
    /// same road node many times over.
    known: std::collections::HashMap<(usize, usize, usize), Option<(u64, f64)>>,
    /// Points already snapped, by (mode, lat bits, lon bits): a responder is measured to
    /// many cells, a cell from several responders.
    snapped: std::collections::HashMap<(usize, u64, u64), Option<usize>>,
}

impl std::fmt::Debug for RoadSearch<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoadSearch")
            .field("source", &self.roads.source)
            .finish_non_exhaustive()
    }
}

impl Roads {
    /// A search of its own over these roads.
    pub fn search(&self) -> RoadSearch<'_> {
        RoadSearch {
            roads: self,
            calcs: TravelMode::ALL.iter().map(|_| None).collect(),
            known: std::collections::HashMap::new(),
            snapped: std::collections::HashMap::new(),
        }
    }
}

impl RoadSearch<'_> {
    /// As [`Roads::route`] (the points too), with this search's own state: a task's route
    /// is drawn off the engine's task and must not wait for the engine's shared search.
    pub fn route(
        &mut self,
        mode: TravelMode,
        from: LatLon,
        to: LatLon,
        snap_m: f64,
    ) -> Option<Route> {
        let i = TravelMode::ALL.iter().position(|&m| m == mode).unwrap_or(0);
        let g = self.roads.graph(mode);
        let (a, _) = g.snap(from, snap_m)?;
        let (b, _) = g.snap(to, snap_m)?;
        g.route_nodes_with(self.calcs.get_mut(i)?, a, b)
    }

    /// As [`Roads::route`], the travel time (ms) and road distance (m) alone.
    pub fn travel(
        &mut self,
        mode: TravelMode,
        from: LatLon,
        to: LatLon,
        snap_m: f64,
    ) -> Option<(u64, f64)> {
        let i = TravelMode::ALL.iter().position(|&m| m == mode).unwrap_or(0);
        let g = self.roads.graph(mode);
        let mut snap = |p: LatLon| {
            *self
                .snapped
                .entry((i, p.lat.to_bits(), p.lon.to_bits()))
                .or_insert_with(|| g.snap(p, snap_m).map(|(node, _)| node))
        };
        let a = snap(from)?;
        let b = snap(to)?;
        if let Some(known) = self.known.get(&(i, a, b)) {
            return *known;
        }
        let found = g
            .route_nodes_with(self.calcs.get_mut(i)?, a, b)
            .map(|r| (r.time_ms, r.distance_m));
        self.known.insert((i, a, b), found);
        found
    }
}

#[cfg(test)]
mod test_maps;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod turn_tests;
