//! A road graph searched as it is, without preparation: compressed adjacency lists and
//! an A* search guided by the straight line to the destination.
//!
//! The walking and cycling graphs use it. fast_paths prepares those graphs in about
//! quadratic time on a city's uniform street grid (docs/benchmarks/roads.md: 50,000
//! nodes took 178 s, 100,000 did not finish in 300 s), so a county's import would never
//! end; and their candidates are near the incident (a walker a kilometre away, not ten),
//! where a goal-directed search settles only the nodes around the straight line.
//!
//! # Units
//! Travel times in milliseconds, distances in metres.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use serde::{Deserialize, Serialize};

/// Heap keys count in 1/1024 ms, so that the guide's fractions of a millisecond still
/// order the search while staying whole numbers.
const KEY_SCALE: f64 = 1024.0;

/// A directed graph as compressed adjacency lists.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlainGraph {
    /// Node `v`'s edges are `first_out[v]..first_out[v + 1]`.
    first_out: Vec<u32>,
    /// Each edge's head.
    head: Vec<u32>,
    /// Each edge's travel time, ms.
    ms: Vec<u32>,
    /// The least travel time per metre of straight line over every edge, ms/m: no route
    /// can be faster than this times the straight line to its end, so it guides the
    /// search without ever misleading it (the edges' times are whole milliseconds,
    /// rounded, so the mode's top speed alone would not be a safe bound).
    ms_per_m: f64,
}

/// Mean Earth radius, m, as the haversine distance ([`crate::domain::LatLon::distance_m`]).
const EARTH_M: f64 = 6_371_008.8;

/// What [`Chords::lower_bound_m`] takes off, m: the stored points are `f32`, each within
/// about 0.7 m of its place, and the radius may differ from the haversine's by a part in a
/// million.
const CHORD_MARGIN_M: f64 = 3.0;

/// Nodes as points on the unit sphere, for a guide that costs a square root instead of the
/// haversine's trigonometry: the chord between two points is never longer than the
/// great-circle arc, so it bounds the distance from below.
#[derive(Debug, Default)]
pub struct Chords {
    unit: Vec<[f32; 3]>,
}

impl Chords {
    /// The chords of nodes at `positions` (lat, lon degrees).
    pub fn new(positions: &[(f64, f64)]) -> Chords {
        Chords {
            unit: positions.iter().map(|&(lat, lon)| unit(lat, lon)).collect(),
        }
    }

    /// Node `n` on the unit sphere (the origin for a node not known).
    pub fn of(&self, n: usize) -> [f32; 3] {
        self.unit.get(n).copied().unwrap_or_default()
    }

    /// Metres from node `n` to `to` (from [`Chords::of`] or [`unit`]), never more than the
    /// great-circle distance between them.
    pub fn lower_bound_m(&self, n: usize, to: [f32; 3]) -> f64 {
        let a = self.of(n);
        let d2: f64 = (0..3)
            .map(|i| (f64::from(a[i]) - f64::from(to[i])).powi(2))
            .sum();
        (d2.sqrt() * EARTH_M - CHORD_MARGIN_M).max(0.0)
    }
}

/// A position (degrees) on the unit sphere.
pub fn unit(lat: f64, lon: f64) -> [f32; 3] {
    let (lat, lon) = (lat.to_radians(), lon.to_radians());
    [
        (lat.cos() * lon.cos()) as f32,
        (lat.cos() * lon.sin()) as f32,
        lat.sin() as f32,
    ]
}

/// A search's working memory, as long as the graph, reused from query to query: entries
/// are valid only when stamped with the current query's number, so nothing is cleared.
#[derive(Debug)]
pub struct Search {
    time: Vec<u64>,
    pred: Vec<u32>,
    stamp: Vec<u32>,
    query: u32,
    /// (key, time, node): the key is the time plus the guide, in 1/1024 ms.
    heap: BinaryHeap<Reverse<(u64, u64, u32)>>,
}

impl PlainGraph {
    /// The graph of `n` nodes joined by `edges` (from, to, ms); `distance(a, b)` is the
    /// straight line between two nodes, m. Edges naming a node past `n` are left out.
    pub fn new(
        n: usize,
        edges: &[(usize, usize, u64)],
        distance: impl Fn(usize, usize) -> f64,
    ) -> PlainGraph {
        let mut sorted: Vec<(u32, u32, u32)> = edges
            .iter()
            .filter(|&&(a, b, _)| a < n && b < n)
            .map(|&(a, b, ms)| (a as u32, b as u32, u32::try_from(ms).unwrap_or(u32::MAX)))
            .collect();
        sorted.sort_unstable();
        let mut first_out = vec![0u32; n + 1];
        for &(a, _, _) in &sorted {
            first_out[a as usize + 1] += 1;
        }
        for v in 0..n {
            first_out[v + 1] += first_out[v];
        }
        let ms_per_m = sorted
            .iter()
            .filter_map(|&(a, b, ms)| {
                let d = distance(a as usize, b as usize);
                (d > 0.0).then(|| f64::from(ms) / d)
            })
            .fold(f64::INFINITY, f64::min);
        PlainGraph {
            first_out,
            head: sorted.iter().map(|e| e.1).collect(),
            ms: sorted.iter().map(|e| e.2).collect(),
            ms_per_m: if ms_per_m.is_finite() { ms_per_m } else { 0.0 },
        }
    }

    /// Nodes in the graph.
    pub fn len(&self) -> usize {
        self.first_out.len().saturating_sub(1)
    }

    /// No nodes at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Edges in the graph.
    pub fn edge_count(&self) -> usize {
        self.head.len()
    }

    /// Whether the stored arrays agree, so that no search can index past them: a damaged
    /// file must be refused at load, not panic in a route.
    pub fn is_consistent(&self) -> bool {
        let n = self.len();
        self.first_out.first() == Some(&0)
            && self.first_out.windows(2).all(|w| w[0] <= w[1])
            && self.first_out.last().map(|&e| e as usize) == Some(self.head.len())
            && self.ms.len() == self.head.len()
            && self.head.iter().all(|&h| (h as usize) < n)
            && self.ms_per_m.is_finite()
            && self.ms_per_m >= 0.0
    }

    /// A search over this graph.
    pub fn search(&self) -> Search {
        let n = self.len();
        Search {
            time: vec![0; n],
            pred: vec![0; n],
            stamp: vec![0; n],
            query: 0,
            heap: BinaryHeap::new(),
        }
    }

    /// The fastest route from `from` to any of `targets` (all at one place; `distance_to(v)`
    /// is how far node `v` is from them, m, never more than the great-circle distance, or
    /// the guide could overestimate and a slower route be taken): its time, ms, and its
    /// nodes from `from`.
    /// `None` when no target can be reached or a node is not in the graph.
    pub fn route(
        &self,
        search: &mut Search,
        from: usize,
        targets: &[usize],
        distance_to: impl Fn(usize) -> f64,
    ) -> Option<(u64, Vec<usize>)> {
        let n = self.len();
        if from >= n || targets.iter().any(|&t| t >= n) || search.stamp.len() != n {
            return None;
        }
        search.query = search.query.wrapping_add(1);
        if search.query == 0 {
            // After 2³² queries the old stamps could look current again.
            search.stamp.fill(0);
            search.query = 1;
        }
        let guide = |v: usize| (self.ms_per_m * distance_to(v) * KEY_SCALE).floor() as u64;
        let q = search.query;
        search.heap.clear();
        search.time[from] = 0;
        search.pred[from] = from as u32;
        search.stamp[from] = q;
        search.heap.push(Reverse((guide(from), 0, from as u32)));
        while let Some(Reverse((_, t, v))) = search.heap.pop() {
            let v = v as usize;
            // A stale entry: the node was reached faster since it was pushed.
            if t > search.time[v] {
                continue;
            }
            if targets.contains(&v) {
                let mut nodes = vec![v];
                let mut at = v;
                while at != from {
                    at = search.pred[at] as usize;
                    nodes.push(at);
                }
                nodes.reverse();
                return Some((t, nodes));
            }
            let edges = self.first_out[v] as usize..self.first_out[v + 1] as usize;
            for (&w, &ms) in self.head[edges.clone()].iter().zip(&self.ms[edges]) {
                let w = w as usize;
                let tw = t + u64::from(ms);
                if search.stamp[w] != q || tw < search.time[w] {
                    search.stamp[w] = q;
                    search.time[w] = tw;
                    search.pred[w] = v as u32;
                    let key = tw.saturating_mul(KEY_SCALE as u64).saturating_add(guide(w));
                    search.heap.push(Reverse((key, tw, w as u32)));
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// Nodes on a line, 100 m apart.
    fn line(edges: &[(usize, usize, u64)], n: usize) -> PlainGraph {
        PlainGraph::new(n, edges, |a, b| 100.0 * (a as f64 - b as f64).abs())
    }

    #[test]
    fn the_fastest_route_is_found_not_the_one_the_straight_line_suggests() {
        // 0 → 1 → 2 is the straight way but slow; 0 → 3 → 2 goes back first and is fast.
        let g = PlainGraph::new(
            4,
            &[(0, 1, 500), (1, 2, 500), (0, 3, 100), (3, 2, 150)],
            |a, b| {
                let x: [f64; 4] = [0.0, 100.0, 200.0, -50.0];
                (x[a] - x[b]).abs()
            },
        );
        let mut s = g.search();
        let x: [f64; 4] = [0.0, 100.0, 200.0, -50.0];
        assert_eq!(
            g.route(&mut s, 0, &[2], |v| (x[v] - 200.0).abs()),
            Some((250, vec![0, 3, 2]))
        );
    }

    #[test]
    fn one_way_edges_are_kept_and_unreachable_targets_answer_none() {
        let g = line(&[(0, 1, 10), (1, 2, 10)], 3);
        let mut s = g.search();
        assert_eq!(
            g.route(&mut s, 0, &[2], |v| 100.0 * (2.0 - v as f64)),
            Some((20, vec![0, 1, 2]))
        );
        assert_eq!(g.route(&mut s, 2, &[0], |v| 100.0 * v as f64), None);
        // Unknown nodes are refused, not indexed.
        assert_eq!(g.route(&mut s, 7, &[0], |_| 0.0), None);
        assert_eq!(g.route(&mut s, 0, &[9], |_| 0.0), None);
    }

    #[test]
    fn short_edges_rounded_down_never_mislead_the_guide() {
        // Nodes 1-3 m apart, walked at 5 km/h (0.72 ms/m): an edge of 2 m takes 1.44 ms,
        // stored as 1, faster than the top speed says. The guide must still never
        // overestimate, or A* would settle for a slower route.
        let mut rng = 0x2545_f491_u64;
        let mut next = || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        let n = 300;
        let xy: Vec<(f64, f64)> = (0..n)
            .map(|i| {
                (
                    (i % 20) as f64 * 2.0,
                    (i / 20) as f64 * 2.0 + (next() % 100) as f64 / 100.0,
                )
            })
            .collect();
        let d = |a: usize, b: usize| (xy[a].0 - xy[b].0).hypot(xy[a].1 - xy[b].1);
        let mut edges = Vec::new();
        for a in 0..n {
            for b in 0..n {
                if a != b && d(a, b) < 3.0 && next() % 4 != 0 {
                    edges.push((a, b, ((d(a, b) * 0.72).round() as u64).max(1)));
                }
            }
        }
        let g = PlainGraph::new(n, &edges, d);
        let mut pg = petgraph::graph::DiGraph::<(), u64>::new();
        let ids: Vec<_> = (0..n).map(|_| pg.add_node(())).collect();
        for &(a, b, ms) in &edges {
            pg.add_edge(ids[a], ids[b], ms);
        }
        let mut s = g.search();
        let mut compared = 0;
        for from in (0..n).step_by(37) {
            let all = petgraph::algo::dijkstra(&pg, ids[from], None, |e| *e.weight());
            for (to, id) in ids.iter().enumerate() {
                let ours = g.route(&mut s, from, &[to], |v| d(v, to)).map(|r| r.0);
                assert_eq!(ours, all.get(id).copied(), "{from} → {to}");
                compared += usize::from(ours.is_some());
            }
        }
        assert!(compared > 1_000, "{compared}");
    }

    #[test]
    fn chords_never_exceed_the_great_circle_and_stay_close_to_it() {
        use crate::domain::LatLon;
        let mut rng = 0x9e37_79b9_u64;
        let mut next = || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            (rng % 1_000_000) as f64 / 1_000_000.0
        };
        for _ in 0..20_000 {
            // Wuhai and anywhere else, from half a metre to 50 km apart.
            let lat = -80.0 + 160.0 * next();
            let lon = -180.0 + 360.0 * next();
            let span = 10f64.powf(-5.3 + 5.0 * next());
            let (lat2, lon2) = (lat + span * (next() - 0.5), lon + span * (next() - 0.5));
            let a = LatLon { lat, lon };
            let b = LatLon {
                lat: lat2,
                lon: lon2,
            };
            let chords = Chords::new(&[(lat, lon)]);
            let bound = chords.lower_bound_m(0, unit(lat2, lon2));
            let true_m = a.distance_m(b);
            assert!(bound <= true_m, "{a:?} {b:?}: {bound} > {true_m}");
            assert!(
                bound >= true_m - 2.0 * CHORD_MARGIN_M,
                "{a:?} {b:?}: {bound} ≪ {true_m}"
            );
        }
    }

    #[test]
    fn a_damaged_graph_is_found_inconsistent() {
        let mut g = line(&[(0, 1, 10), (1, 2, 10)], 3);
        assert!(g.is_consistent());
        g.head[0] = 99;
        assert!(!g.is_consistent());
        let mut g = line(&[(0, 1, 10)], 3);
        g.first_out[1] = 5;
        assert!(!g.is_consistent());
    }
}
