//! One travel mode's road graph: built from the ways the mode may use, cut to its
//! largest connected part, prepared as contraction hierarchies (fast_paths) for cars or
//! kept plain for an A* search ([`super::plain`]) for walking and cycling, and queried for
//! the travel time and road distance between two points.
//!
//! # Units
//! Travel times in milliseconds, distances in metres, positions in WGS-84 degrees.

use std::collections::{HashMap, HashSet};

use rstar::primitives::GeomWithData;
use rstar::RTree;
use serde::{Deserialize, Serialize};

use super::osm::RawMap;
use super::plain::{self, Chords, PlainGraph};
use super::profile;
use super::turns::{self, TurnSummary};
use crate::domain::{LatLon, TravelMode};

/// What was kept of one mode's roads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct GraphStats {
    /// Road nodes the mode can use, before keeping the largest connected part.
    pub nodes_read: usize,
    /// Nodes kept (the largest connected part).
    pub nodes: usize,
    /// Directed edges kept (with those of the junctions' copies).
    pub edges: usize,
    /// Extra nodes made by splitting junctions with turn restrictions.
    pub turn_copies: usize,
    /// What became of the extract's turn restrictions (all skipped but for cars).
    pub turns: TurnSummary,
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
    /// The graph's nodes past `positions` are copies of junctions with turn restrictions
    /// ([`split_turns`]): copy `positions.len() + k` is of node `copy_of[k]`. They are
    /// never snapped to; a route may end at any of a node's copies.
    copy_of: Vec<usize>,
    /// Each node's copies (built at load, not stored).
    #[serde(skip)]
    copies: HashMap<usize, Vec<usize>>,
    /// The graph, ready to search.
    prepared: Prepared,
    /// Where points are snapped to nodes (built at load, not stored).
    #[serde(skip)]
    index: Option<RTree<GeomWithData<[f64; 2], usize>>>,
    /// The cosine of the graph's middle latitude, for the index's plane (set with it).
    #[serde(skip)]
    cos_ref: f64,
    /// The nodes on the unit sphere, the A* guide of a plain graph (set with the index;
    /// empty for a contracted one).
    #[serde(skip)]
    chords: Chords,
    /// The search's working memory, kept between queries: made afresh, it is several
    /// arrays as long as the graph, allocated and cleared for every route (a city's
    /// million nodes made each query cost megabytes). One at a time: the engine routes
    /// from one thread.
    #[serde(skip)]
    calculator: Calculator,
}

/// A graph ready to search: contracted, or as it is.
#[derive(Debug, Serialize, Deserialize)]
enum Prepared {
    /// Contraction hierarchies (cars): long routes in well under a millisecond, at the
    /// cost of a preparation that grows fast with the graph.
    Hierarchy(fast_paths::FastGraph),
    /// The edges as they are, searched with A* (walking, cycling): no preparation, and
    /// quick for the near candidates those modes have.
    Plain(PlainGraph),
}

/// Walking and cycling graphs up to this many nodes are contracted too: they prepare in
/// seconds (the generated city's uniform walking grid, the worst case measured: 25,000
/// nodes in 42 s; Helsinki's 5,790 in a few milliseconds), and a contracted search does
/// not pay for a detour round a river or a railway the way A* does (docs/benchmarks/roads.md).
const CONTRACT_SLOW_MODES_UP_TO: usize = 20_000;

/// Whether `mode`'s graph of `nodes` nodes is contracted; the others are searched plain.
/// Measured on the generated city (docs/benchmarks/roads.md): fast_paths prepares the car
/// graph of 1,000,000 nodes in 80 s, but the walking graph of 100,000 did not finish in
/// 300 s.
fn contracted(mode: TravelMode, nodes: usize) -> bool {
    mode == TravelMode::Car || nodes <= CONTRACT_SLOW_MODES_UP_TO
}

/// How a graph is made ready to search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preparation {
    /// As the import does: contracted for cars and small graphs, else plain.
    Chosen,
    /// Contraction hierarchies, whatever the size.
    Contracted,
    /// Plain, searched with A*, whatever the size.
    Plain,
}

/// A search's working memory for one graph, kept from query to query (made afresh, it is
/// several arrays as long as the graph).
pub struct Searcher(SearchState);

enum SearchState {
    Hierarchy(fast_paths::PathCalculator),
    Plain(plain::Search),
}

impl std::fmt::Debug for Searcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Searcher")
    }
}

/// The graph's own search, made on first use.
#[derive(Default)]
struct Calculator(std::sync::Mutex<Option<Searcher>>);

impl std::fmt::Debug for Calculator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Calculator")
    }
}

/// Metres per degree of latitude (and of longitude at the equator).
const M_PER_DEG: f64 = 111_320.0;

/// A position as plane coordinates for the snapping index, longitude scaled by `cos_ref`,
/// the cosine of one latitude for the whole graph: good enough to find the nearest node
/// within a few hundred metres; the distance is then measured properly. Each point's own
/// cosine would not do: longitude is counted from Greenwich, so at 106.7° E a point 100 m
/// further north moved about 90 m sideways in such a plane, and about a quarter of random
/// points over a county near Wuhai with streets every 250 m found no node within 200 m.
fn plane(cos_ref: f64, lat: f64, lon: f64) -> [f64; 2] {
    [lon * M_PER_DEG * cos_ref, lat * M_PER_DEG]
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

/// `mode`'s roads before anything is cut away.
#[derive(Debug, Default)]
pub struct Edges {
    /// The nodes `mode` can use: positions by dense id.
    pub positions: Vec<(f64, f64)>,
    /// Directed edges with their travel times, ms: the fastest where two ways join the
    /// same nodes.
    pub times: HashMap<(usize, usize), u64>,
    /// Turns (from, via, to) the mode may not take (cars: the turn restrictions).
    pub banned: HashSet<(usize, usize, usize)>,
    /// What became of the extract's turn restrictions.
    pub turns: TurnSummary,
}

/// `mode`'s nodes, edges and forbidden turns in `map`, before anything is cut away.
pub fn edges_of(map: &RawMap, mode: TravelMode) -> Edges {
    let mut ids: HashMap<i64, usize> = HashMap::new();
    let mut positions: Vec<(f64, f64)> = Vec::new();
    let mut edges: HashMap<(usize, usize), u64> = HashMap::new();
    for way in &map.ways {
        let Some(rule) = profile::rule(mode, way.tags.as_slice()) else {
            continue;
        };
        let metres_per_ms = rule.speed_kmh / 3_600.0;
        for pair in way.nodes.windows(2) {
            let (Some(&pa), Some(&pb)) = (map.nodes.get(&pair[0]), map.nodes.get(&pair[1])) else {
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
            // Rounded up, never down: then no edge is faster than the mode's speed, and
            // the straight line at that speed is a tight guide for the A* search of the
            // plain graphs (rounded to nearest, a 2 m footway took 1 ms for its 1.44, and
            // the guide had to be a third weaker). At least 1 ms: fast_paths ignores
            // edges of weight 0.
            let ms = ((distance(pa, pb) / metres_per_ms).ceil() as u64).max(1);
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
    let (restrictions, turns) = turns::resolve(map, mode);
    let banned = turns::banned(&restrictions, &ids, &edges);
    Edges {
        positions,
        times: edges,
        banned,
        turns,
    }
}

/// `mode`'s graph in `map` cut to its largest connected part: the kept nodes' positions
/// (by graph node id), the graph to prepare, and what was kept. The graph's nodes past
/// the positions are the copies of junctions made for turn restrictions ([`split_turns`]).
pub fn kept_graph(
    map: &RawMap,
    mode: TravelMode,
) -> (Vec<(f64, f64)>, fast_paths::InputGraph, GraphStats) {
    let (positions, input, stats, _) = kept_graph_with_copies(map, mode);
    (positions, input, stats)
}

/// [`kept_graph`] and, for each copy of a junction made for its turn restrictions (graph
/// node `positions.len() + k`), the node it is a copy of.
fn kept_graph_with_copies(
    map: &RawMap,
    mode: TravelMode,
) -> (
    Vec<(f64, f64)>,
    fast_paths::InputGraph,
    GraphStats,
    Vec<usize>,
) {
    let Edges {
        positions,
        times: edges,
        banned,
        turns,
    } = edges_of(map, mode);
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
    let mut kept: HashMap<(usize, usize), u64> = HashMap::new();
    for (&(a, b), &ms) in &edges {
        if let (Some(a), Some(b)) = (keep[a], keep[b]) {
            kept.insert((a, b), ms);
        }
    }
    let banned: HashSet<(usize, usize, usize)> = banned
        .iter()
        .filter_map(|&(f, v, t)| Some((keep[f]?, keep[v]?, keep[t]?)))
        .collect();
    let (split, copy_of) = split_turns(kept_positions.len(), &kept, &banned);
    let mut input = fast_paths::InputGraph::new();
    for &(a, b, ms) in &split {
        input.add_edge(a, b, usize::try_from(ms).unwrap_or(usize::MAX));
    }
    input.freeze();
    let stats = GraphStats {
        nodes_read,
        nodes: kept_positions.len(),
        edges: split.len(),
        turn_copies: copy_of.len(),
        turns,
    };
    (kept_positions, input, stats, copy_of)
}

/// The graph of `n` nodes and `edges` with every junction that has forbidden turns split
/// (fast_paths routes on nodes and knows no turns): a copy of junction `v` for each
/// neighbour `u` with a turn forbidden from `u` through `v`, entered only from `u` and left
/// only by the turns allowed from `u`; the junction itself keeps the other ways in and
/// every way out. An edge into a split junction goes into the copy for where it comes
/// from, so two restricted junctions next to each other work too. Returns the edges
/// (from, to, ms) and, for copy `n + k`, the node it copies.
pub fn split_turns(
    n: usize,
    edges: &HashMap<(usize, usize), u64>,
    banned: &HashSet<(usize, usize, usize)>,
) -> (Vec<(usize, usize, u64)>, Vec<usize>) {
    // The copy for each (from, via) with a forbidden turn and a road from `from` to `via`.
    let mut copy: HashMap<(usize, usize), usize> = HashMap::new();
    let mut copy_of = Vec::new();
    let mut copies: HashMap<usize, Vec<(usize, usize)>> = HashMap::new();
    let mut pairs: Vec<(usize, usize)> = banned
        .iter()
        .map(|&(f, v, _)| (f, v))
        .filter(|p| edges.contains_key(p))
        .collect();
    pairs.sort_unstable();
    pairs.dedup();
    for (f, v) in pairs {
        let c = n + copy_of.len();
        copy_of.push(v);
        copy.insert((f, v), c);
        copies.entry(v).or_default().push((f, c));
    }
    let into = |a: usize, b: usize| copy.get(&(a, b)).copied().unwrap_or(b);
    let mut out = Vec::with_capacity(edges.len() + copy_of.len() * 3);
    for (&(a, b), &ms) in edges {
        out.push((a, into(a, b), ms));
        for &(f, c) in copies.get(&a).into_iter().flatten() {
            if !banned.contains(&(f, a, b)) {
                out.push((c, into(a, b), ms));
            }
        }
    }
    out.sort_unstable();
    (out, copy_of)
}

/// Prepares `input` (nodes at `positions`) for fast queries.
///
/// fast_paths' own greedy order with its default parameters: of what was measured on the
/// generated city (docs/benchmarks/roads.md "Roads, preparation against size"), it is the best
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
        Self::build_as(map, mode, Preparation::Chosen)
    }

    /// Builds `mode`'s graph from `map`, prepared as `how` (tests and benchmarks compare
    /// the two searches on one graph).
    pub fn build_as(map: &RawMap, mode: TravelMode, how: Preparation) -> ModeGraph {
        let (positions, input, stats, copy_of) = kept_graph_with_copies(map, mode);
        let contract = match how {
            Preparation::Chosen => contracted(mode, positions.len()),
            Preparation::Contracted => true,
            Preparation::Plain => false,
        };
        let prepared = if contract {
            Prepared::Hierarchy(prepare(&input, &positions))
        } else {
            let at = |n: usize| positions[n.checked_sub(positions.len()).map_or(n, |k| copy_of[k])];
            let edges: Vec<(usize, usize, u64)> = input
                .get_edges()
                .iter()
                .map(|e| (e.from, e.to, e.weight as u64))
                .collect();
            let n = positions.len() + copy_of.len();
            Prepared::Plain(PlainGraph::new(n, &edges, |a, b| distance(at(a), at(b))))
        };
        let mut g = ModeGraph {
            mode,
            stats,
            positions,
            copy_of,
            copies: HashMap::new(),
            prepared,
            index: None,
            cos_ref: 1.0,
            chords: Chords::default(),
            calculator: Calculator::default(),
        };
        g.index_nodes();
        g
    }

    /// Builds the snapping index and the copies' lookup (after loading).
    pub fn index_nodes(&mut self) {
        self.copies.clear();
        for (k, &node) in self.copy_of.iter().enumerate() {
            self.copies
                .entry(node)
                .or_default()
                .push(self.positions.len() + k);
        }
        let (south, north) = self
            .positions
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(s, n), &(lat, _)| {
                (s.min(lat), n.max(lat))
            });
        self.cos_ref = if south <= north {
            ((south + north) / 2.0).to_radians().cos()
        } else {
            1.0
        };
        let cos_ref = self.cos_ref;
        let points = self
            .positions
            .iter()
            .enumerate()
            .map(|(i, &(lat, lon))| GeomWithData::new(plane(cos_ref, lat, lon), i))
            .collect();
        self.index = Some(RTree::bulk_load(points));
        if !self.is_contracted() {
            self.chords = Chords::new(&self.positions);
        }
    }

    /// The node nearest to `p` and how far it is, m, if one is within `max_m`.
    pub fn snap(&self, p: LatLon, max_m: f64) -> Option<(usize, f64)> {
        let node = self
            .index
            .as_ref()?
            .nearest_neighbor(&plane(self.cos_ref, p.lat, p.lon))?
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
        calc: &mut Option<Searcher>,
        from: usize,
        to: usize,
    ) -> Option<Route> {
        // fast_paths panics on a node it does not know (a node without roads past the
        // last one with some).
        let known = self.node_count();
        if from >= known || to >= known {
            return None;
        }
        let at = |n: usize| self.positions[self.original(n)];
        // A junction split for its turn restrictions is reached at whichever copy the
        // route comes in by; a route from it starts at the junction itself, free to turn.
        let copies = self.copies.get(&to);
        let search = calc.get_or_insert_with(|| self.searcher());
        let (weight, nodes) = match (&self.prepared, &mut search.0) {
            (Prepared::Hierarchy(fast), SearchState::Hierarchy(calc)) => {
                let path = match copies {
                    None => calc.calc_path(fast, from, to)?,
                    Some(copies) => {
                        let ends = std::iter::once(to).chain(copies.iter().copied());
                        calc.calc_path_multiple_sources_and_targets(
                            fast,
                            vec![(from, 0)],
                            ends.map(|n| (n, 0)).collect(),
                        )?
                    }
                };
                (path.get_weight() as u64, path.get_nodes().clone())
            }
            (Prepared::Plain(graph), SearchState::Plain(search)) => {
                let ends: Vec<usize> = std::iter::once(to)
                    .chain(copies.into_iter().flatten().copied())
                    .collect();
                let end = self.chords.of(self.original(to));
                graph.route(search, from, &ends, |n| {
                    self.chords.lower_bound_m(self.original(n), end)
                })?
            }
            // A search made for another graph: not one of this graph's own.
            _ => return None,
        };
        let points: Vec<LatLon> = nodes
            .iter()
            .map(|&n| LatLon {
                lat: at(n).0,
                lon: at(n).1,
            })
            .collect();
        let distance_m = nodes.windows(2).map(|w| distance(at(w[0]), at(w[1]))).sum();
        Some(Route {
            time_ms: weight,
            distance_m,
            points,
        })
    }

    /// A search of its own over this graph, for [`ModeGraph::route_nodes_with`].
    pub fn searcher(&self) -> Searcher {
        Searcher(match &self.prepared {
            Prepared::Hierarchy(fast) => {
                SearchState::Hierarchy(fast_paths::create_calculator(fast))
            }
            Prepared::Plain(graph) => SearchState::Plain(graph.search()),
        })
    }

    /// The node a graph node stands for: itself, or the junction a copy was made of.
    fn original(&self, n: usize) -> usize {
        n.checked_sub(self.positions.len())
            .map_or(n, |k| self.copy_of[k])
    }

    /// Nodes in the searched graph, the junctions' copies among them.
    fn node_count(&self) -> usize {
        match &self.prepared {
            Prepared::Hierarchy(fast) => fast.get_num_nodes(),
            Prepared::Plain(graph) => graph.len(),
        }
    }

    /// Whether the graph is contracted (cars) rather than searched plain.
    pub fn is_contracted(&self) -> bool {
        matches!(self.prepared, Prepared::Hierarchy(_))
    }

    /// Whether the stored parts agree (every copy of a real node, every graph node a node
    /// or a copy): a damaged file must be refused at load, not panic in a route.
    pub fn is_consistent(&self) -> bool {
        let n = self.positions.len();
        let plain_ok = match &self.prepared {
            Prepared::Hierarchy(_) => true,
            Prepared::Plain(graph) => graph.is_consistent(),
        };
        self.copy_of.iter().all(|&v| v < n)
            && self.node_count() <= n + self.copy_of.len()
            && plain_ok
    }

    /// Node count (without the junctions' copies).
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
