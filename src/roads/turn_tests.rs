//! Turn restrictions, known answers on small maps drawn by hand: a no_left_turn sends the
//! car round the block while a walker turns; an only_straight_on; restrictions that are
//! skipped (missing members, via-ways, `except=motorcar`, ...) without harm; and a grid
//! full of restrictions checked against an independent Dijkstra (petgraph) on the
//! turn-expanded graph, which `tests.rs` uses on the real Helsinki extract too.

use std::collections::HashMap;

use petgraph::graph::{DiGraph, NodeIndex};

use super::test_maps::{at, grid_map, DrawnWay, TurnGraph};
use super::*;

/// A restriction relation: `tags`, and members (role, kind, id).
fn restriction(tags: &[(&str, &str)], members: &[(&str, MemberKind, i64)]) -> RawRestriction {
    RawRestriction {
        id: 1,
        tags: [("type", "restriction")]
            .iter()
            .chain(tags)
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        members: members
            .iter()
            .map(|&(role, kind, id)| Member {
                role: role.to_owned(),
                kind,
                id,
            })
            .collect(),
    }
}

/// from-way, via node, to-way.
fn simple(value: &str, from: i64, via: i64, to: i64) -> RawRestriction {
    restriction(
        &[("restriction", value)],
        &[
            ("from", MemberKind::Way, from),
            ("via", MemberKind::Node, via),
            ("to", MemberKind::Way, to),
        ],
    )
}

/// ```text
///   NW(3,0) <- N(3,1)       the block: J → N → NW → W, one-way
///    |          ^
///   W(2,0) --- J(2,1)
///               |
///              S(1,1) --- S0(0,1)
/// ```
/// Way 1 S–J, way 2 J–W, way 3 J→N→NW→W one-way; way 4 S0–S. Node ids: S 1, J 2, W 3,
/// N 4, NW 5, S0 6.
fn block(restrictions: Vec<RawRestriction>) -> RawMap {
    let ways: [DrawnWay; 4] = [
        (&[1, 2], &[("highway", "residential")]),
        (&[2, 3], &[("highway", "residential")]),
        (
            &[2, 4, 5, 3],
            &[("highway", "residential"), ("oneway", "yes")],
        ),
        (&[6, 1], &[("highway", "residential")]),
    ];
    let mut map = grid_map(
        &[
            (1, (1, 1)),
            (2, (2, 1)),
            (3, (2, 0)),
            (4, (3, 1)),
            (5, (3, 0)),
            (6, (0, 1)),
        ],
        &ways,
    );
    map.restrictions = restrictions;
    map
}

fn drive(roads: &Roads, map: &RawMap, mode: TravelMode, a: i64, b: i64) -> Option<Route> {
    roads.route(mode, at(map, a), at(map, b), 30.0)
}

/// Close enough to `m` metres.
fn metres(route: &Option<Route>, m: f64) -> bool {
    route
        .as_ref()
        .is_some_and(|r| (r.distance_m - m).abs() < 3.0)
}

#[test]
fn no_left_turn_sends_the_car_round_the_block_and_a_walker_still_turns() {
    // Driving north on way 1, a left turn at J into way 2 (west) is forbidden.
    let map = block(vec![simple("no_left_turn", 1, 2, 2)]);
    let (roads, summary) = Roads::build("block", &map);
    let car = summary.modes.iter().find(|(m, _)| *m == TravelMode::Car);
    let car = car.map(|(_, s)| *s).expect("a car graph");
    assert_eq!((car.turns.read, car.turns.applied), (1, 1), "{car:?}");
    assert_eq!(car.turn_copies, 1, "{car:?}");
    // S0 → S → J → W would be 300 m; round the block S0 → S → J → N → NW → W is 500 m.
    let r = drive(&roads, &map, TravelMode::Car, 6, 3);
    assert!(metres(&r, 500.0), "{r:?}");
    // 500 m at 25 km/h: 72 s.
    let t = r.as_ref().map(|r| r.time_ms);
    assert!(t.is_some_and(|t| (71_500..=72_500).contains(&t)), "{t:?}");
    let points: Vec<LatLon> = [6, 1, 2, 4, 5, 3].iter().map(|&n| at(&map, n)).collect();
    let got = r.map(|r| r.points).unwrap_or_default();
    assert_eq!(got.len(), points.len(), "{got:?}");
    for (g, p) in got.iter().zip(&points) {
        assert!(g.distance_m(*p) < 0.5, "{got:?}");
    }
    // A walker turns.
    let walk = drive(&roads, &map, TravelMode::Foot, 6, 3);
    assert!(metres(&walk, 300.0), "{walk:?}");
    // Going the other way (W → J → S, a right turn) is allowed; the junction is still
    // reached by car from the south, and a car that starts there turns as it likes.
    assert!(metres(&drive(&roads, &map, TravelMode::Car, 3, 6), 300.0));
    assert!(metres(&drive(&roads, &map, TravelMode::Car, 6, 2), 200.0));
    assert!(metres(&drive(&roads, &map, TravelMode::Car, 2, 3), 100.0));
    // Snapping at the junction finds the junction, not its copy.
    let g = roads.graph(TravelMode::Car);
    let snapped = g.snap(at(&map, 2), 30.0).map(|(n, _)| n);
    assert!(snapped.is_some_and(|n| n < g.len()), "{snapped:?}");
}

#[test]
fn only_straight_on_forbids_the_other_turns() {
    // A crossing J: S south, N north (J → N one-way, then round to E), W west, E east.
    //
    //   N(2,1) → NE(2,2)
    //   ^          |
    //   W(1,0) - J(1,1) - E(1,2)
    //             |
    //            S(0,1)
    let map = grid_map(
        &[
            (1, (0, 1)),
            (2, (1, 1)),
            (3, (2, 1)),
            (4, (1, 0)),
            (5, (1, 2)),
            (6, (2, 2)),
        ],
        &[
            (&[1, 2], &[("highway", "residential")]),
            (&[2, 3], &[("highway", "residential"), ("oneway", "yes")]),
            (&[2, 4], &[("highway", "residential")]),
            (&[2, 5], &[("highway", "residential")]),
            (&[3, 6, 5], &[("highway", "residential"), ("oneway", "yes")]),
        ],
    );
    let mut map = map;
    map.restrictions = vec![simple("only_straight_on", 1, 2, 2)];
    let (roads, _) = Roads::build("crossing", &map);
    let car = |a, b| drive(&roads, &map, TravelMode::Car, a, b);
    // Straight on: 200 m. Right: north and round to E, 400 m. Left: round to E and back
    // through J, straight on from the east, 600 m.
    assert!(metres(&car(1, 3), 200.0), "{:?}", car(1, 3));
    assert!(metres(&car(1, 5), 400.0), "{:?}", car(1, 5));
    assert!(metres(&car(1, 4), 600.0), "{:?}", car(1, 4));
    // From the west nothing is restricted: right into S, 200 m.
    assert!(metres(&car(4, 1), 200.0), "{:?}", car(4, 1));
    let walk = drive(&roads, &map, TravelMode::Foot, 1, 4);
    assert!(metres(&walk, 200.0), "{walk:?}");
}

#[test]
fn restrictions_that_cannot_be_honoured_are_skipped_and_counted() {
    use MemberKind::{Node, Way};
    let skipped = vec![
        // A from-way outside the extract.
        simple("no_left_turn", 99, 2, 2),
        // No via at all.
        restriction(
            &[("restriction", "no_left_turn")],
            &[("from", Way, 1), ("to", Way, 2)],
        ),
        // Via a way.
        restriction(
            &[("restriction", "no_u_turn")],
            &[("from", Way, 1), ("via", Way, 2), ("to", Way, 1)],
        ),
        // Not for cars.
        restriction(
            &[("restriction", "no_left_turn"), ("except", "psv;motorcar")],
            &[("from", Way, 1), ("via", Node, 2), ("to", Way, 2)],
        ),
        restriction(
            &[("restriction:hgv", "no_left_turn")],
            &[("from", Way, 1), ("via", Node, 2), ("to", Way, 2)],
        ),
        restriction(
            &[(
                "restriction:conditional",
                "no_left_turn @ (Mo-Fr 07:00-09:00)",
            )],
            &[("from", Way, 1), ("via", Node, 2), ("to", Way, 2)],
        ),
        // The via node N in the middle of the from-way (way 3 runs J, N, NW, W).
        simple("no_u_turn", 3, 4, 3),
        simple("give_way", 1, 2, 2),
    ];
    let map = block(skipped);
    let (roads, summary) = Roads::build("block", &map);
    let car = summary.modes.iter().find(|(m, _)| *m == TravelMode::Car);
    let t = car.map(|(_, s)| s.turns).unwrap_or_default();
    assert_eq!(t.read, 8, "{t:?}");
    assert_eq!(t.applied, 0, "{t:?}");
    assert_eq!(
        (
            t.missing,
            t.via_way,
            t.not_for_mode,
            t.conditional,
            t.not_at_end,
            t.unknown
        ),
        (2, 1, 2, 1, 1, 1),
        "{t:?}"
    );
    assert_eq!(t.skipped(), 8);
    // Nothing forbidden: the left turn is taken.
    let r = drive(&roads, &map, TravelMode::Car, 6, 3);
    assert!(metres(&r, 300.0), "{r:?}");
}

/// A 6 × 6 grid of streets, every other one one-way, with restrictions of every kind on
/// junctions next to each other: every route equals the turn-expanded Dijkstra's.
#[test]
fn a_grid_full_of_restrictions_routes_as_an_independent_dijkstra() {
    let side = 6i64;
    let id = |r: i64, c: i64| r * side + c + 1;
    let nodes: Vec<(i64, (i32, i32))> = (0..side * side)
        .map(|i| (i + 1, ((i / side) as i32, (i % side) as i32)))
        .collect();
    // Each block edge its own way (ids in order), so every junction is a way's end.
    let mut segs: Vec<[i64; 2]> = Vec::new();
    for r in 0..side {
        for c in 0..side {
            if c + 1 < side {
                segs.push([id(r, c), id(r, c + 1)]);
            }
            if r + 1 < side {
                segs.push([id(r, c), id(r + 1, c)]);
            }
        }
    }
    let two_way: &[(&str, &str)] = &[("highway", "residential")];
    let one_way: &[(&str, &str)] = &[("highway", "residential"), ("oneway", "yes")];
    let ways: Vec<DrawnWay> = segs
        .iter()
        .enumerate()
        .map(|(i, s)| (&s[..], if i % 3 == 0 { one_way } else { two_way }))
        .collect();
    let mut map = grid_map(&nodes, &ways);
    let way_of = |a: i64, b: i64| {
        segs.iter()
            .position(|s| *s == [a, b] || *s == [b, a])
            .map_or(0, |i| i as i64 + 1)
    };
    let kinds = [
        "no_left_turn",
        "only_straight_on",
        "no_u_turn",
        "only_right_turn",
    ];
    let mut k = 0usize;
    for r in 1..side - 1 {
        for c in 1..side - 1 {
            let v = id(r, c);
            let from = way_of(id(r - 1, c), v);
            let to = if k % 4 == 2 {
                from
            } else {
                way_of(v, id(r, c - 1 + (k % 2) as i64 * 2))
            };
            map.restrictions.push(simple(kinds[k % 4], from, v, to));
            k += 1;
        }
    }
    let (roads, summary) = Roads::build("grid", &map);
    let car = roads.graph(TravelMode::Car);
    let stats = summary.modes.iter().find(|(m, _)| *m == TravelMode::Car);
    assert!(stats.is_some_and(|(_, s)| s.turns.applied == 16 && s.turn_copies > 0));
    let edges = edges_of(&map, TravelMode::Car);
    assert!(!edges.banned.is_empty());
    let check = TurnGraph::new(&edges);
    let by_pos: HashMap<(u64, u64), usize> = edges
        .positions
        .iter()
        .enumerate()
        .map(|(i, p)| ((p.0.to_bits(), p.1.to_bits()), i))
        .collect();
    let plain = plain_graph(&edges);
    let mut differs_from_plain = 0;
    for a in 0..car.len() {
        for b in 0..car.len() {
            let (Some(pa), Some(pb)) = (car.position(a), car.position(b)) else {
                continue;
            };
            let (ea, eb) = (
                by_pos[&(pa.lat.to_bits(), pa.lon.to_bits())],
                by_pos[&(pb.lat.to_bits(), pb.lon.to_bits())],
            );
            let ours = car.route_nodes(a, b).map(|r| r.time_ms);
            assert_eq!(ours, check.time(ea, eb), "{a} → {b}");
            let (na, nb) = (NodeIndex::new(ea), NodeIndex::new(eb));
            let theirs = petgraph::algo::dijkstra(&plain, na, Some(nb), |e| *e.weight());
            if theirs.get(&nb).copied() != ours {
                differs_from_plain += 1;
            }
        }
    }
    // The restrictions change some routes.
    assert!(differs_from_plain > 0);
}

/// `edges` as a plain node graph (turns ignored), node i at index i.
fn plain_graph(edges: &Edges) -> DiGraph<(), u64> {
    let mut pg = DiGraph::new();
    for _ in &edges.positions {
        pg.add_node(());
    }
    for (&(a, b), &ms) in &edges.times {
        pg.add_edge(NodeIndex::new(a), NodeIndex::new(b), ms);
    }
    pg
}

#[test]
fn the_split_junctions_read_back_from_the_file_and_an_old_file_is_refused() {
    let map = block(vec![simple("no_left_turn", 1, 2, 2)]);
    let (roads, _) = Roads::build("block", &map);
    let dir = tempfile::tempdir().expect("a temporary folder");
    let path = dir.path().join(FILE_NAME);
    roads.save(&path).expect("saved");
    let back = Roads::load(&path).expect("read back");
    for (a, b) in [(6, 3), (6, 2), (3, 6)] {
        assert_eq!(
            drive(&back, &map, TravelMode::Car, a, b),
            drive(&roads, &map, TravelMode::Car, a, b),
            "{a} → {b}"
        );
    }
    assert!(metres(&drive(&back, &map, TravelMode::Car, 6, 2), 200.0));
    // A file of the layout before the junctions were split.
    let old = dir.path().join("old.bin");
    std::fs::write(&old, b"GDROADS1\x00\x01\x02").expect("written");
    let err = Roads::load(&old).err().map(|e| e.to_string());
    assert!(
        err.as_deref()
            .is_some_and(|e| e.contains("older layout") && e.contains("griddispatch roads import")),
        "{err:?}"
    );
}

#[test]
fn a_restriction_in_an_osm_xml_extract_is_honoured_after_import() {
    let map = block(Vec::new());
    let mut xml = String::from("<?xml version=\"1.0\"?>\n<osm version=\"0.6\">\n");
    let mut ids: Vec<_> = map.nodes.iter().collect();
    ids.sort_by_key(|(id, _)| **id);
    for (id, (lat, lon)) in ids {
        xml += &format!("<node id=\"{id}\" lat=\"{lat}\" lon=\"{lon}\"/>\n");
    }
    for w in &map.ways {
        xml += &format!("<way id=\"{}\">", w.id);
        for n in &w.nodes {
            xml += &format!("<nd ref=\"{n}\"/>");
        }
        for (k, v) in &w.tags {
            xml += &format!("<tag k=\"{k}\" v=\"{v}\"/>");
        }
        xml += "</way>\n";
    }
    xml += r#"<relation id="7"><member type="way" ref="1" role="from"/><member type="node" ref="2" role="via"/><member type="way" ref="2" role="to"/><tag k="type" v="restriction"/><tag k="restriction" v="no_left_turn"/></relation>
</osm>
"#;
    let dir = tempfile::tempdir().expect("a temporary folder");
    let path = dir.path().join("block.osm");
    std::fs::write(&path, xml).expect("written");
    let (roads, summary) = Roads::import(&path, &mut |_| {}).expect("imported");
    let car = summary.modes.iter().find(|(m, _)| *m == TravelMode::Car);
    assert!(
        car.is_some_and(|(_, s)| s.turns.applied == 1),
        "{summary:?}"
    );
    assert!(metres(&drive(&roads, &map, TravelMode::Car, 6, 3), 500.0));
    assert!(metres(&drive(&roads, &map, TravelMode::Foot, 6, 3), 300.0));
}
