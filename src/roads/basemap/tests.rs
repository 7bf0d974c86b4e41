//! Reading what the base map draws from OSM XML, the file round trip, and cutting tiles.

use super::*;
use crate::roads::osm::read_xml;

/// Degrees per metre at 60° N, roughly: a small town near Helsinki drawn by hand.
const LAT0: f64 = 60.17;
const LON0: f64 = 24.94;

/// A node `n` metres north and east of the origin.
fn node(id: i64, north_m: f64, east_m: f64) -> String {
    let lat = LAT0 + north_m / 111_320.0;
    let lon = LON0 + east_m / (111_320.0 * LAT0.to_radians().cos());
    format!(r#"<node id="{id}" lat="{lat:.7}" lon="{lon:.7}"/>"#)
}

/// A street, a pond (closed way), a lake drawn as a multipolygon whose outline is two
/// ways, with an island, a river line, a railway, a building, and things not drawn: an open "water"
/// way, a bus stop and a park.
fn town() -> String {
    let mut x = String::from("<?xml version=\"1.0\"?>\n<osm version=\"0.6\">\n");
    let pts = [
        (1, 0.0, 0.0),
        (2, 0.0, 400.0),
        // the pond
        (10, 100.0, 100.0),
        (11, 100.0, 200.0),
        (12, 200.0, 200.0),
        (13, 200.0, 100.0),
        // the lake, two halves
        (20, -300.0, -300.0),
        (21, -300.0, 300.0),
        (22, -100.0, 300.0),
        (23, -100.0, -300.0),
        // an island in the lake
        (24, -250.0, -50.0),
        (25, -250.0, 50.0),
        (26, -150.0, 50.0),
        (27, -150.0, -50.0),
        // the river, the railway
        (30, 300.0, -400.0),
        (31, 300.0, 400.0),
        (40, 350.0, -400.0),
        (41, 350.0, 400.0),
        // the building
        (50, 20.0, 20.0),
        (51, 20.0, 40.0),
        (52, 40.0, 40.0),
        (53, 40.0, 20.0),
    ];
    for (id, n, e) in pts {
        x.push_str(&node(id, n, e));
        x.push('\n');
    }
    let way = |id: i64, nodes: &[i64], tags: &[(&str, &str)]| {
        let nds: String = nodes
            .iter()
            .map(|n| format!(r#"<nd ref="{n}"/>"#))
            .collect();
        let tags: String = tags
            .iter()
            .map(|(k, v)| format!(r#"<tag k="{k}" v="{v}"/>"#))
            .collect();
        format!("<way id=\"{id}\">{nds}{tags}</way>\n")
    };
    x += &way(
        100,
        &[1, 2],
        &[("highway", "residential"), ("name", "Testikatu")],
    );
    x += &way(101, &[10, 11, 12, 13, 10], &[("natural", "water")]);
    x += &way(102, &[20, 21, 22], &[]);
    x += &way(103, &[22, 23, 20], &[]);
    x += &way(
        104,
        &[30, 31],
        &[("waterway", "river"), ("name:en", "Vantaa")],
    );
    x += &way(105, &[40, 41], &[("railway", "rail")]);
    x += &way(106, &[50, 51, 52, 53, 50], &[("building", "yes")]);
    x += &way(107, &[10, 11, 12], &[("natural", "water")]);
    x += &way(108, &[1, 2], &[("highway", "bus_stop")]);
    x += &way(109, &[50, 51, 52, 53, 50], &[("leisure", "park")]);
    x += &way(110, &[24, 25, 26, 27, 24], &[]);
    x += r#"<relation id="200"><member type="way" ref="102" role="outer"/><member type="way" ref="103" role="outer"/><member type="way" ref="110" role="inner"/><member type="node" ref="1" role=""/><tag k="type" v="multipolygon"/><tag k="natural" v="water"/><tag k="name" v="Testijärvi"/></relation>
<relation id="201"><member type="way" ref="100" role="outer"/><tag k="type" v="multipolygon"/><tag k="landuse" v="grass"/></relation>
</osm>
"#;
    x
}

fn read_town() -> RawMap {
    let read = read_xml(std::io::Cursor::new(town().into_bytes()), &mut |_| {});
    read.map_err(|e| format!("{e:#}")).unwrap_or_default()
}

#[test]
fn xml_water_waterways_railways_and_buildings_are_read() {
    let map = read_town();
    // Routing still gets the highway ways, the bus stop too (its profile drops it).
    assert_eq!(map.ways.len(), 2);
    let kinds: Vec<(Kind, Option<&str>)> = map
        .drawn
        .iter()
        .map(|w| (w.kind, w.name.as_deref()))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (Kind::Water, None),
            (Kind::River, Some("Vantaa")),
            (Kind::Rail, None),
            (Kind::Building, None),
        ],
        "an open water way and a park are not drawn"
    );
    // The lake: the relation's two outer ways, not the grass relation's road.
    assert_eq!(map.water.len(), 1);
    assert_eq!(map.water[0].name.as_deref(), Some("Testijärvi"));
    assert_eq!(map.water[0].outer, vec![vec![20, 21, 22], vec![22, 23, 20]]);
    assert_eq!(map.water[0].inner, vec![vec![24, 25, 26, 27, 24]]);
}

#[test]
fn a_multipolygon_cut_into_ways_is_joined_into_one_ring() {
    assert_eq!(
        rings(vec![vec![1, 2, 3], vec![5, 4, 3], vec![5, 1]]),
        vec![vec![5, 1, 2, 3, 4, 5]]
    );
    assert!(rings(vec![vec![1, 2, 3], vec![3, 4]]).is_empty(), "open");
    let base = BaseMap::build("town.osm", &read_town());
    let s = base.summary();
    assert_eq!(
        s,
        BaseMapSummary {
            roads: 1,
            water: 2,
            islands: 1,
            waterways: 1,
            railways: 1,
            buildings: 1,
            named_roads: 1,
        }
    );
}

/// The tile at zoom `z` holding the origin.
fn tile_at(base: &BaseMap, z: u8) -> BaseTile {
    let n = f64::from(1u32 << z);
    let (x, y) = tile::world(LON0, LAT0, n);
    base.tile(z, x as u32, y as u32)
}

#[test]
fn tiles_show_more_as_they_zoom_in_and_the_file_keeps_it_all() {
    let dir = tempfile::tempdir()
        .map_err(|e| e.to_string())
        .unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join(FILE_NAME);
    BaseMap::build("town.osm", &read_town())
        .save(&path)
        .unwrap_or_else(|e| panic!("{e:#}"));
    let base = BaseMap::load(&path).unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(base.source, "town.osm");
    let kinds = |t: &BaseTile| {
        let mut k: Vec<&str> = t.features.iter().map(|f| f.k).collect();
        k.dedup();
        k
    };
    // A region's view: the water alone.
    assert_eq!(kinds(&tile_at(&base, 9)), vec!["water"]);
    // A district's: every line and the water, no buildings yet, names of major roads
    // only.
    let t = tile_at(&base, 14);
    assert_eq!(
        kinds(&t),
        vec!["street", "rail", "river", "water", "island"]
    );
    assert!(t.features.iter().all(|f| f.n.is_none()));
    // A block's: the street with its name, the buildings.
    let t = tile_at(&base, 16);
    assert_eq!(kinds(&t), vec!["street", "water", "building"]);
    let street = &t.features[0];
    assert_eq!(street.n.as_deref(), Some("Testikatu"));
    assert_eq!(street.g.len(), 4, "{:?}", street.g);
    assert!(!t.truncated);
    // Far away: nothing.
    assert!(base.tile(16, 0, 0).features.is_empty());
    // Damaged files are refused.
    std::fs::write(&path, b"GDBMAP01\xff\xff").unwrap_or_default();
    assert!(BaseMap::load(&path).is_err());
    std::fs::write(&path, b"GDROADS1").unwrap_or_default();
    let err = BaseMap::load(&path).err().map(|e| e.to_string());
    assert!(err.is_some_and(|e| e.contains("not a base map file")));
}

#[test]
fn a_named_street_cut_into_ways_becomes_one_line() {
    let f = |name: u32, pts: &[[i32; 2]]| Feature {
        kind: Kind::Street,
        name,
        points: pts.to_vec(),
    };
    let joined = join_named_lines(vec![
        f(1, &[[2, 0], [3, 0]]),
        f(1, &[[0, 0], [1, 0]]),
        f(2, &[[3, 0], [4, 0]]),
        f(1, &[[2, 0], [1, 0]]),
        f(0, &[[3, 0], [4, 0]]),
    ]);
    let lines: Vec<(u32, Vec<[i32; 2]>)> = joined.into_iter().map(|f| (f.name, f.points)).collect();
    assert_eq!(
        lines,
        vec![
            (0, vec![[3, 0], [4, 0]]),
            // One line, whichever way it runs: the base map draws no direction.
            (1, vec![[3, 0], [2, 0], [1, 0], [0, 0]]),
            (2, vec![[3, 0], [4, 0]]),
        ]
    );
}

#[test]
fn tiles_are_checked() {
    assert_eq!(check_tile(0, 0, 0), Ok(0));
    assert_eq!(check_tile(20, (1 << 20) - 1, 5), Ok(20));
    assert!(check_tile(21, 0, 0).is_err());
    assert!(check_tile(3, 8, 0).is_err());
    assert!(check_tile(3, 0, 8).is_err());
    assert!(check_tile(u32::MAX, 0, 0).is_err());
}

#[test]
fn outlines_are_clipped_to_the_tile_and_lines_cut() {
    let square = vec![
        (-1000.0, -1000.0),
        (5000.0, -1000.0),
        (5000.0, 5000.0),
        (-1000.0, 5000.0),
        (-1000.0, -1000.0),
    ];
    let c = tile::clip_ring(square, -128.0, 4224.0);
    assert_eq!(c.len(), 5);
    assert!(c
        .iter()
        .all(|p| (-128.0..=4224.0).contains(&p.0) && (-128.0..=4224.0).contains(&p.1)));
    let runs = tile::cut_line(
        &[
            (-9000.0, 10.0),
            (-8000.0, 10.0),
            (100.0, 10.0),
            (9000.0, 10.0),
            (9500.0, 10.0),
        ],
        -128.0,
        4224.0,
    );
    assert_eq!(
        runs,
        vec![vec![(-8000.0, 10.0), (100.0, 10.0), (9000.0, 10.0)]]
    );
}

/// The real extract's water ways, buildings, railways and a stream are read from the .pbf (it
/// has no water multipolygons: those are read as in the XML test above, through the same
/// `Relations`).
#[test]
fn helsinki_pbf_water_buildings_railways_and_a_stream_are_read() {
    let path = std::env::var_os("GRIDDISPATCH_OSM_DIR")
        .map(|dir| std::path::Path::new(&dir).join("Helsinki.osm.pbf"))
        .filter(|p| p.exists());
    let Some(path) = path else {
        eprintln!("*** SKIPPED: helsinki_pbf_water_buildings_railways_and_a_stream_are_read (no GRIDDISPATCH_OSM_DIR with Helsinki.osm.pbf; scripts/test fetches it) ***");
        return;
    };
    let map = crate::roads::osm::read(&path, &mut |_| {}).unwrap_or_else(|e| panic!("{e:#}"));
    let count = |k: Kind| map.drawn.iter().filter(|w| w.kind == k).count();
    assert_eq!(count(Kind::Water), 14);
    assert_eq!(count(Kind::River) + count(Kind::Stream), 1);
    assert!(count(Kind::Building) > 400, "{}", count(Kind::Building));
    assert!(count(Kind::Rail) > 100, "{}", count(Kind::Rail));
    assert!(map.water.is_empty());
    let base = BaseMap::build("Helsinki.osm.pbf", &map);
    let s = base.summary();
    assert!(s.named_roads > 100 && s.roads > 1_000, "{s:?}");
}
