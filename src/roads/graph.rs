//! One travel mode's road graph: built from the ways the mode may use, cut to its
//! largest connected part, prepared as contraction hierarchies (fast_paths), and queried
//! for the travel time and road distance between two points.
//!
//! # Units
//! Travel times in milliseconds, distances in metres, positions in WGS-84 degrees.

use std::collections::HashMap;

use rstar::primitives::GeomWithData;
use rstar::RTree;
use serde::{Deserialize, Serialize};

use super::osm::RawMap;
use super::profile;
use crate::domain::{LatLon, TravelMode};

/// What was kept of one mode's roads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct GraphStats {
    /// Road nodes the mode can use, before keeping the largest connected part.
    pub nodes_read: usize,
    /// Nodes kept (the largest connected part).
    pub nodes: usize,
    /// Directed edges kept.
    pub edges: usize,
}

/// A route between two points on one mode's roads.
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    /// Travel time, ms, from the first road node to the last (snapping walks excluded).
    pub time_ms: u64,
    /// Road distance, m, along the route.
    pub distance_m: f64,
    /// The route's points, from start to end.
    pub points: Vec<LatLon>,
}

/// One mode's graph, as stored in the roads file.
#[derive(Debug, Serialize, Deserialize)]
pub struct ModeGraph {
    /// The mode.
    pub mode: TravelMode,
    /// What was kept.
    pub stats: GraphStats,
    /// Node positions, by graph node id.
    positions: Vec<(f64, f64)>,
    /// The prepared graph.
    fast: fast_paths::FastGraph,
    /// Where points are snapped to nodes (built at load, not stored).
    #[serde(skip)]
    index: Option<RTree<GeomWithData<[f64; 2], usize>>>,
    /// The search's working memory, kept between queries: made afresh, it is several
    /// arrays as long as the graph, allocated and cleared for every route (a city's
    /// million nodes made each query cost megabytes). One at a time: the engine routes
    /// from one thread.
    #[serde(skip)]
    calculator: Calculator,
}

/// A reusable `fast_paths` search, made on first use.
#[derive(Default)]
struct Calculator(std::sync::Mutex<Option<fast_paths::PathCalculator>>);

impl std::fmt::Debug for Calculator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Calculator")
    }
}

/// Metres per degree of latitude (and of longitude at the equator).
const M_PER_DEG: f64 = 111_320.0;

/// A position as plane coordinates for the snapping index: good enough to find the
/// nearest node within a few hundred metres; the distance is then measured properly.
fn plane(lat: f64, lon: f64) -> [f64; 2] {
    [lon * M_PER_DEG * lat.to_radians().cos(), lat * M_PER_DEG]
}

fn distance(a: (f64, f64), b: (f64, f64)) -> f64 {
    LatLon { lat: a.0, lon: a.1 }.distance_m(LatLon { lat: b.0, lon: b.1 })
}

/// Finds the root of `i`, halving paths on the way.
fn root(parent: &mut [usize], mut i: usize) -> usize {
    while parent[i] != i {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    i
}

/// The nodes `mode` can use (positions by dense id) and its directed edges with their
/// travel times, ms: the fastest where two ways join the same nodes.
pub type Edges = (Vec<(f64, f64)>, HashMap<(usize, usize), u64>);

/// `mode`'s nodes and edges in `map`, before anything is cut away.
pub fn edges_of(map: &RawMap, mode: TravelMode) -> Edges {
    {
        let mut ids: HashMap<i64, usize> = HashMap::new();
        let mut positions: Vec<(f64, f64)> = Vec::new();
        let mut edges: HashMap<(usize, usize), u64> = HashMap::new();
        for way in &map.ways {
            let Some(rule) = profile::rule(mode, way.tags.as_slice()) else {
                continue;
            };
            let metres_per_ms = rule.speed_kmh / 3_600.0;
            for pair in way.nodes.windows(2) {
                let (Some(&pa), Some(&pb)) = (map.nodes.get(&pair[0]), map.nodes.get(&pair[1]))
                else {
                    continue;
                };
                let mut id = |osm: i64, pos: (f64, f64)| {
                    *ids.entry(osm).or_insert_with(|| {
                        positions.push(pos);
                        positions.len() - 1
                    })
                };
                let (a, b) = (id(pair[0], pa), id(pair[1], pb));
                if a == b {
                    continue;
                }
                // At least 1 ms: fast_paths ignores edges of weight 0.
                let ms = ((distance(pa, pb) / metres_per_ms).round() as u64).max(1);
                let mut add = |from: usize, to: usize| {
                    let e = edges.entry((from, to)).or_insert(ms);
                    *e = (*e).min(ms);
                };
                if rule.forward {
                    add(a, b);
                }
                if rule.backward {
                    add(b, a);
                }
            }
        }
        (positions, edges)
    }
}

/// `mode`'s graph in `map` cut to its largest connected part: the kept nodes' positions
/// (by graph node id), the graph to prepare, and what was kept.
pub fn kept_graph(
    map: &RawMap,
    mode: TravelMode,
) -> (Vec<(f64, f64)>, fast_paths::InputGraph, GraphStats) {
    let (positions, edges) = edges_of(map, mode);
    let nodes_read = positions.len();
    // The largest part joined by roads in either direction; the rest (islands, a
    // car park's lone service road) would only catch snaps and route nowhere.
    let mut parent: Vec<usize> = (0..nodes_read).collect();
    for &(a, b) in edges.keys() {
        let (ra, rb) = (root(&mut parent, a), root(&mut parent, b));
        if ra != rb {
            parent[ra] = rb;
        }
    }
    let mut size: HashMap<usize, usize> = HashMap::new();
    for i in 0..nodes_read {
        *size.entry(root(&mut parent, i)).or_default() += 1;
    }
    let largest = size.iter().max_by_key(|(r, n)| (**n, **r)).map(|(r, _)| *r);
    let mut keep: Vec<Option<usize>> = vec![None; nodes_read];
    let mut kept_positions = Vec::new();
    for i in 0..nodes_read {
        if Some(root(&mut parent, i)) == largest {
            keep[i] = Some(kept_positions.len());
            kept_positions.push(positions[i]);
        }
    }
    let mut input = fast_paths::InputGraph::new();
    let mut kept_edges = 0;
    for (&(a, b), &ms) in &edges {
        if let (Some(a), Some(b)) = (keep[a], keep[b]) {
            input.add_edge(a, b, usize::try_from(ms).unwrap_or(usize::MAX));
            kept_edges += 1;
        }
    }
    input.freeze();
    let stats = GraphStats {
        nodes_read,
        nodes: kept_positions.len(),
        edges: kept_edges,
    };
    (kept_positions, input, stats)
}

/// Prepares `input` (nodes at `positions`) for fast queries.
///
/// fast_paths' own greedy order with its default parameters: of what was measured on the
/// generated city (docs/benchmarks.md "Roads, preparation against size"), it is the best
/// for queries and for the car graph, whose preparation grows a little faster than
/// linearly (25k nodes: 0.6 s; 250k: 11.8 s, 1.65 M shortcut edges, 8 routes p50 1.2 ms). It is NOT fast enough
/// for the walking graph of that grid (uniform speed, two-way, diagonal footpaths):
/// 25k nodes took 42 s, 50k 178 s, and 100k did not finish in 300 s. Smaller witness-search limits
/// (`Params` 0.1/50/10/50) and a deeper hierarchy factor (1.0) were slower still (73 s,
/// 92 s at 25k); the nested-dissection order (`dissection_order`) prepared 25k in 7.3 s
/// and 100k in 75 s, but with 4.9 M shortcut edges and 8 routes at p50 26 ms, far over
/// the engine's 1 ms budget, so it is not used. `positions` is kept for an order that
/// does better.
pub fn prepare(input: &fast_paths::InputGraph, _positions: &[(f64, f64)]) -> fast_paths::FastGraph {
    fast_paths::prepare(input)
}

impl ModeGraph {
    /// Builds `mode`'s graph from `map`.
    pub fn build(map: &RawMap, mode: TravelMode) -> ModeGraph {
        let (positions, input, stats) = kept_graph(map, mode);
        let fast = prepare(&input, &positions);
        let mut g = ModeGraph {
            mode,
            stats,
            positions,
            fast,
            index: None,
            calculator: Calculator::default(),
        };
        g.index_nodes();
        g
    }

    /// Builds the snapping index (after loading).
    pub fn index_nodes(&mut self) {
        let points = self
            .positions
            .iter()
            .enumerate()
            .map(|(i, &(lat, lon))| GeomWithData::new(plane(lat, lon), i))
            .collect();
        self.index = Some(RTree::bulk_load(points));
    }

    /// The node nearest to `p` and how far it is, m, if one is within `max_m`.
    pub fn snap(&self, p: LatLon, max_m: f64) -> Option<(usize, f64)> {
        let node = self
            .index
            .as_ref()?
            .nearest_neighbor(&plane(p.lat, p.lon))?
            .data;
        let d = distance((p.lat, p.lon), self.positions[node]);
        (d <= max_m).then_some((node, d))
    }

    /// The fastest route between two nodes, or `None` when one cannot reach the other
    /// (a one-way dead end).
    pub fn route_nodes(&self, from: usize, to: usize) -> Option<Route> {
        let mut calc = self.calculator.0.lock().unwrap_or_else(|e| e.into_inner());
        self.route_nodes_with(&mut calc, from, to)
    }

    /// As [`ModeGraph::route_nodes`] with the caller's own search (`None` until first use),
    /// for a long run of queries that must not wait for the engine's, nor hold it up.
    pub fn route_nodes_with(
        &self,
        calc: &mut Option<fast_paths::PathCalculator>,
        from: usize,
        to: usize,
    ) -> Option<Route> {
        let path = calc
            .get_or_insert_with(|| fast_paths::create_calculator(&self.fast))
            .calc_path(&self.fast, from, to)?;
        let nodes = path.get_nodes();
        let points: Vec<LatLon> = nodes
            .iter()
            .map(|&n| LatLon {
                lat: self.positions[n].0,
                lon: self.positions[n].1,
            })
            .collect();
        let distance_m = nodes
            .windows(2)
            .map(|w| distance(self.positions[w[0]], self.positions[w[1]]))
            .sum();
        Some(Route {
            time_ms: u64::try_from(path.get_weight()).unwrap_or(u64::MAX),
            distance_m,
            points,
        })
    }

    /// Node count.
    pub fn len(&self) -> usize {
        self.positions.len()
    }

    /// No nodes at all.
    pub fn is_empty(&self) -> bool {
        self.positions.is_empty()
    }

    /// A node's position.
    pub fn position(&self, node: usize) -> Option<LatLon> {
        self.positions
            .get(node)
            .map(|&(lat, lon)| LatLon { lat, lon })
    }
}
