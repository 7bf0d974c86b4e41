//! The demo county's streets: a sketch of a street grid along the community grids'
//! borders, so that `serve --demo` ranks by road, draws task routes and shows the coverage
//! map without an OpenStreetMap extract. It is written as OSM XML and imported exactly as
//! an admin's extract would be (`roads import`), into the data folder, and only when no
//! roads file is there yet: an imported region is never replaced by the sketch.
//!
//! It is a sketch, not Wuda's real map: the streets follow the demo's zone lattice, with
//! made-up but typical names, one-way lanes and a park's footpaths.
//!
//! # Units
//! Positions in WGS-84 degrees.

use std::fmt::Write as _;
use std::path::Path;

use super::data::at;
use crate::domain::LatLon;

/// Lattice cells across (west → east) and up (south → north), as in `data.rs`.
const COLS: usize = 3;
const ROWS: usize = 2;
/// Street lines per lattice cell side: the border and three streets inside.
const SPLIT: usize = 4;

/// Names of the east-west streets, south to north, by line index (0..=ROWS*SPLIT).
const EAST_WEST: [(&str, &str); ROWS * SPLIT + 1] = [
    ("乌达南路", "Wuda South Road"),
    ("新华巷", "Xinhua Lane"),
    ("新华街", "Xinhua Street"),
    ("民主巷", "Minzhu Lane"),
    ("人民路", "Renmin Road"),
    ("团结巷", "Tuanjie Lane"),
    ("团结街", "Tuanjie Street"),
    ("光明巷", "Guangming Lane"),
    ("乌达北路", "Wuda North Road"),
];

/// Names of the north-south streets, west to east, by line index (0..=COLS*SPLIT).
const NORTH_SOUTH: [(&str, &str); COLS * SPLIT + 1] = [
    ("西环路", "West Ring Road"),
    ("一道巷", "First Lane"),
    ("建设路", "Jianshe Road"),
    ("二道巷", "Second Lane"),
    ("文化路", "Wenhua Road"),
    ("三道巷", "Third Lane"),
    ("滨河大道", "Binhe Avenue"),
    ("四道巷", "Fourth Lane"),
    ("民主路", "Minzhu Road"),
    ("五道巷", "Fifth Lane"),
    ("光明路", "Guangming Road"),
    ("六道巷", "Sixth Lane"),
    ("东环路", "East Ring Road"),
];

/// The position of street-line crossing (i east, j north) of the lattice.
fn crossing(i: usize, j: usize) -> LatLon {
    let (col, u) = ((i / SPLIT).min(COLS - 1), i as f64 / SPLIT as f64);
    let (row, v) = ((j / SPLIT).min(ROWS - 1), j as f64 / SPLIT as f64);
    at(col, row, u - col as f64, v - row as f64)
}

fn node_id(i: usize, j: usize) -> usize {
    1 + j * (COLS * SPLIT + 1) + i
}

/// Highway class of a street line: the lattice's inner lines are the main roads, its
/// outer ring secondary, the middle of each cell tertiary, the rest lanes.
fn class(line: usize, last: usize) -> &'static str {
    if line == 0 || line == last {
        "secondary"
    } else if line.is_multiple_of(SPLIT) {
        "primary"
    } else if line % SPLIT == SPLIT / 2 {
        "tertiary"
    } else {
        "residential"
    }
}

/// The sketch as OSM XML.
pub(super) fn sketch_xml() -> String {
    let (ni, nj) = (COLS * SPLIT + 1, ROWS * SPLIT + 1);
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<osm version=\"0.6\" generator=\"griddispatch demo\">\n");
    for j in 0..nj {
        for i in 0..ni {
            let p = crossing(i, j);
            let _ = writeln!(
                xml,
                "  <node id=\"{}\" lat=\"{:.7}\" lon=\"{:.7}\"/>",
                node_id(i, j),
                p.lat,
                p.lon
            );
        }
    }
    let mut way = 1;
    let mut push = |xml: &mut String, nodes: &[usize], tags: &[(&str, &str)]| {
        let _ = write!(xml, "  <way id=\"{way}\">");
        for n in nodes {
            let _ = write!(xml, "<nd ref=\"{n}\"/>");
        }
        for (k, v) in tags {
            let _ = write!(xml, "<tag k=\"{k}\" v=\"{v}\"/>");
        }
        xml.push_str("</way>\n");
        way += 1;
    };
    for (j, (zh, en)) in EAST_WEST.iter().enumerate() {
        let nodes: Vec<usize> = (0..ni).map(|i| node_id(i, j)).collect();
        let highway = class(j, nj - 1);
        // Every other lane is one-way, alternating east and west, as old quarters' are.
        let oneway = match (highway, j % 4) {
            ("residential", 1) => Some("yes"),
            ("residential", 3) => Some("-1"),
            _ => None,
        };
        let mut tags = vec![("highway", highway), ("name", *zh), ("name:en", *en)];
        if let Some(o) = oneway {
            tags.push(("oneway", o));
        }
        push(&mut xml, &nodes, &tags);
    }
    for (i, (zh, en)) in NORTH_SOUTH.iter().enumerate() {
        let nodes: Vec<usize> = (0..nj).map(|j| node_id(i, j)).collect();
        let highway = class(i, ni - 1);
        push(
            &mut xml,
            &nodes,
            &[("highway", highway), ("name", zh), ("name:en", en)],
        );
    }
    // A park in a block of the Binhe grid, its footpaths meeting in the middle: a walker
    // cuts across, a car goes round.
    let (i, j) = (SPLIT + 1, SPLIT + 1);
    let corners = [(i, j), (i + 1, j), (i + 1, j + 1), (i, j + 1)];
    let (mut lat, mut lon) = (0.0, 0.0);
    for &(a, b) in &corners {
        let p = crossing(a, b);
        lat += p.lat / 4.0;
        lon += p.lon / 4.0;
    }
    let centre = node_id(0, nj);
    let _ = writeln!(
        xml,
        "  <node id=\"{centre}\" lat=\"{lat:.7}\" lon=\"{lon:.7}\"/>"
    );
    for &(a, b) in &corners {
        push(
            &mut xml,
            &[node_id(a, b), centre],
            &[
                ("highway", "footway"),
                ("name", "滨河公园步道"),
                ("name:en", "Binhe Park path"),
            ],
        );
    }
    xml.push_str("</osm>\n");
    xml
}

/// Writes the sketch into `data_dir` as `demo-streets.osm` and imports it into the roads
/// and base map files there, unless a roads file exists. A roads file of an older layout
/// that the sketch wrote (the demo ran before an upgrade) is imported again, the old file
/// kept beside it as `roads.bin.old`, so the demo does not lose its streets. Answers
/// whether it imported.
pub fn prepare(data_dir: &Path) -> anyhow::Result<bool> {
    let out = data_dir.join(crate::roads::FILE_NAME);
    let osm = data_dir.join("demo-streets.osm");
    if out.exists() {
        if crate::roads::Roads::is_current_layout(&out) || !osm.exists() {
            return Ok(false);
        }
        std::fs::rename(&out, out.with_extension("bin.old"))?;
    }
    std::fs::create_dir_all(data_dir)?;
    std::fs::write(&osm, sketch_xml())?;
    crate::roads::Roads::import_into(&osm, &out, &mut |_| {})?;
    Ok(true)
}
