//! What the roads tests share: small maps drawn by hand on a grid, and an independent
//! check of routes on the turn-expanded graph (petgraph's Dijkstra).

use std::collections::HashMap;

use petgraph::graph::{DiGraph, NodeIndex};

use super::*;

/// Metres per degree of latitude, roughly.
pub(super) const DEG_M: f64 = 111_320.0;

/// A way drawn by hand: its node ids and tags.
pub(super) type DrawnWay<'a> = (&'a [i64], &'a [(&'a str, &'a str)]);

/// A map from nodes on a grid (id → (row, col), 100 m apart at 39.5° N) and ways (node
/// ids, tags); the ways' ids are 1, 2, ... in the order given.
pub(super) fn grid_map(nodes: &[(i64, (i32, i32))], ways: &[DrawnWay]) -> RawMap {
    let lat0: f64 = 39.5;
    let lon_step = 100.0 / (DEG_M * lat0.to_radians().cos());
    RawMap {
        nodes: nodes
            .iter()
            .map(|&(id, (r, c))| {
                let lat = lat0 + f64::from(r) * 100.0 / DEG_M;
                let lon = 106.7 + f64::from(c) * lon_step;
                (id, (lat, lon))
            })
            .collect::<HashMap<_, _>>(),
        ways: ways
            .iter()
            .enumerate()
            .map(|(i, (n, t))| RawWay {
                id: i as i64 + 1,
                nodes: n.to_vec(),
                tags: t
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
            })
            .collect(),
        ..RawMap::default()
    }
}

pub(super) fn at(map: &RawMap, id: i64) -> LatLon {
    let (lat, lon) = map.nodes[&id];
    LatLon { lat, lon }
}

/// The turn-expanded graph of `edges` for an independent check: a node per directed
/// road edge, joined where the turn is allowed; a start node per road node, into its
/// edges out; an end node per road node, from its edges in.
pub(super) struct TurnGraph {
    pg: DiGraph<(), u64>,
    start: Vec<NodeIndex>,
    end: Vec<NodeIndex>,
}

impl TurnGraph {
    pub(super) fn new(edges: &Edges) -> TurnGraph {
        let mut pg = DiGraph::new();
        let n = edges.positions.len();
        let start: Vec<_> = (0..n).map(|_| pg.add_node(())).collect();
        let end: Vec<_> = (0..n).map(|_| pg.add_node(())).collect();
        let mut out: HashMap<usize, Vec<(usize, NodeIndex, u64)>> = HashMap::new();
        let mut arcs = Vec::new();
        for (&(a, b), &ms) in &edges.times {
            let e = pg.add_node(());
            pg.add_edge(start[a], e, ms);
            pg.add_edge(e, end[b], 0);
            out.entry(a).or_default().push((b, e, ms));
            arcs.push((a, b, e));
        }
        for (a, b, e) in arcs {
            for &(c, next, ms) in out.get(&b).into_iter().flatten() {
                if !edges.banned.contains(&(a, b, c)) {
                    pg.add_edge(e, next, ms);
                }
            }
        }
        TurnGraph { pg, start, end }
    }

    /// The fastest time, ms, from road node `a` to road node `b`.
    pub(super) fn time(&self, a: usize, b: usize) -> Option<u64> {
        if a == b {
            return Some(0);
        }
        let goal = self.end[b];
        petgraph::algo::dijkstra(&self.pg, self.start[a], Some(goal), |e| *e.weight())
            .get(&goal)
            .copied()
    }
}
