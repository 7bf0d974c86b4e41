//! Base map benchmark (docs/benchmarks/roads.md, "Base map"): building, writing and loading the
//! offline base map of a generated city, and cutting tiles of it at each zoom.
//!
//! `cargo bench --bench basemap --locked -- [--side N] [--tiles T]`:
//! - `--side N`: streets per side of the generated city (default 1000: a million road
//!   nodes, 100 km × 100 km, a province's worth of streets).
//! - `--tiles T`: random tiles cut per zoom (default 300).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;
use std::time::Instant;

use common::peak_mib;
use griddispatch::roads::{BaseMap, DrawnWay, RawMap, RawWay, WaterArea};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const LAT0: f64 = 39.6;
const LON0: f64 = 106.7;

/// A city `side` streets across, 100 m apart: every street named and cut into ways of ten
/// blocks (as OpenStreetMap cuts them), every fifth a secondary road, every fiftieth a
/// trunk road; a building of 20 m × 20 m in every block; a lake of 2 km × 1 km (two ways
/// of a multipolygon) every 10 km; a railway across the middle.
fn generated_city(side: i64) -> RawMap {
    let step_lat = 100.0 / 111_320.0;
    let step_lon = 100.0 / (111_320.0 * LAT0.to_radians().cos());
    let mut nodes = HashMap::new();
    let id = |r: i64, c: i64| r * side + c;
    for r in 0..side {
        for c in 0..side {
            nodes.insert(
                id(r, c),
                (LAT0 + r as f64 * step_lat, LON0 + c as f64 * step_lon),
            );
        }
    }
    let mut next = side * side;
    let mut node = |lat: f64, lon: f64, nodes: &mut HashMap<i64, (f64, f64)>| {
        next += 1;
        nodes.insert(next, (lat, lon));
        next
    };
    let step = (step_lat, step_lon);
    let class = |i: i64| match i {
        i if i % 50 == 0 => "trunk",
        i if i % 5 == 0 => "secondary",
        _ => "residential",
    };
    let mut ways = Vec::new();
    for i in 0..side {
        for start in (0..side - 1).step_by(10) {
            let end = (start + 10).min(side - 1);
            for (dir, nodes) in [
                ("east", (start..=end).map(|c| id(i, c)).collect::<Vec<_>>()),
                ("north", (start..=end).map(|r| id(r, i)).collect()),
            ] {
                ways.push(RawWay {
                    id: ways.len() as i64,
                    nodes,
                    tags: vec![
                        ("highway".into(), class(i).into()),
                        ("name".into(), format!("{dir} street {i}")),
                    ],
                });
            }
        }
    }
    let mut drawn = Vec::new();
    for r in 0..side - 1 {
        for c in 0..side - 1 {
            let (lat, lon) = nodes[&id(r, c)];
            let (dl, dn) = (
                20.0 / 111_320.0,
                20.0 / (111_320.0 * LAT0.to_radians().cos()),
            );
            let (a, b) = (lat + 2.0 * dl, lon + 2.0 * dn);
            let ring = [
                node(a, b, &mut nodes),
                node(a, b + dn, &mut nodes),
                node(a + dl, b + dn, &mut nodes),
                node(a + dl, b, &mut nodes),
            ];
            drawn.push(DrawnWay {
                kind: griddispatch::roads::basemap::Kind::Building,
                name: None,
                nodes: vec![ring[0], ring[1], ring[2], ring[3], ring[0]],
            });
        }
    }
    let mut water = Vec::new();
    for r in (50..side - 20).step_by(100) {
        for c in (50..side - 20).step_by(100) {
            // Two halves of a lake's outline, with points every 100 m.
            let (s, w) = (r as f64 + 0.5, c as f64 + 0.5);
            let mut at = |dr: f64, dc: f64| {
                node(
                    LAT0 + (s + dr) * step.0,
                    LON0 + (w + dc) * step.1,
                    &mut nodes,
                )
            };
            let mut south: Vec<i64> = (0..=20).map(|k| at(0.0, f64::from(k))).collect();
            let ne = at(10.0, 20.0);
            south.push(ne);
            let mut north: Vec<i64> = vec![ne];
            north.extend((0..20).rev().map(|k| at(10.0, f64::from(k))));
            north.push(south[0]);
            water.push(WaterArea {
                name: Some(format!("lake {r} {c}")),
                outer: vec![south, north],
                inner: Vec::new(),
            });
        }
    }
    drawn.push(DrawnWay {
        kind: griddispatch::roads::basemap::Kind::Rail,
        name: None,
        nodes: (0..side).map(|c| id(side / 2, c)).collect(),
    });
    RawMap {
        nodes,
        ways,
        drawn,
        water,
        restrictions: Vec::new(),
    }
}

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1)?.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let side = arg("--side", 1000) as i64;
    let tiles = arg("--tiles", 300);
    let started = Instant::now();
    let map = generated_city(side);
    println!(
        "generated: {} nodes, {} road ways, {} buildings, {} lakes in {:.1} s (peak {:.0} MiB)",
        map.nodes.len(),
        map.ways.len(),
        map.drawn.len() - 1,
        map.water.len(),
        started.elapsed().as_secs_f64(),
        peak_mib()
    );
    let before = peak_mib();
    let started = Instant::now();
    let base = BaseMap::build("generated", &map);
    println!(
        "built in {:.1} s: {:?} (peak {:.0} MiB, +{:.0} MiB over the extract)",
        started.elapsed().as_secs_f64(),
        base.summary(),
        peak_mib(),
        peak_mib() - before
    );
    drop(map);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("basemap.bin");
    let started = Instant::now();
    base.save(&path).unwrap();
    let bytes = std::fs::metadata(&path).unwrap().len();
    println!(
        "written in {:.1} s: {:.1} MiB",
        started.elapsed().as_secs_f64(),
        bytes as f64 / 1_048_576.0
    );
    drop(base);
    let started = Instant::now();
    let base = BaseMap::load(&path).unwrap();
    println!("loaded in {:.1} s", started.elapsed().as_secs_f64());

    // Tiles over the city: its extent in tile numbers at each zoom.
    let north = LAT0 + side as f64 * 100.0 / 111_320.0;
    let east = LON0 + side as f64 * 100.0 / (111_320.0 * LAT0.to_radians().cos());
    let tile_of = |lat: f64, lon: f64, z: u8| {
        let n = f64::from(1u32 << z);
        let x = (lon + 180.0) / 360.0 * n;
        let l = lat.to_radians();
        let y = (1.0 - (l.tan() + 1.0 / l.cos()).ln() / std::f64::consts::PI) / 2.0 * n;
        (x as u32, y as u32)
    };
    let mut rng = StdRng::seed_from_u64(18);
    println!(
        "| zoom | tiles | p50 ms | p99 ms | features p50 | JSON KB p50 | JSON KB max | truncated |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for z in [8u8, 10, 12, 14, 15, 16] {
        let (x0, y1) = tile_of(LAT0, LON0, z);
        let (x1, y0) = tile_of(north, east, z);
        let mut times = Vec::new();
        let mut features = Vec::new();
        let mut sizes = Vec::new();
        let mut truncated = 0;
        for _ in 0..tiles {
            let (x, y) = (rng.gen_range(x0..=x1), rng.gen_range(y0..=y1));
            let started = Instant::now();
            let tile = base.tile(z, x, y);
            let json = serde_json::to_vec(&tile).unwrap();
            times.push(started.elapsed().as_secs_f64() * 1000.0);
            features.push(tile.features.len());
            sizes.push(json.len());
            truncated += usize::from(tile.truncated);
        }
        times.sort_by(f64::total_cmp);
        features.sort_unstable();
        sizes.sort_unstable();
        let pick = |v: &[f64], q: f64| v[((v.len() - 1) as f64 * q) as usize];
        println!(
            "| {z} | {tiles} | {:.2} | {:.2} | {} | {:.1} | {:.1} | {truncated} |",
            pick(&times, 0.5),
            pick(&times, 0.99),
            features[features.len() / 2],
            sizes[sizes.len() / 2] as f64 / 1024.0,
            sizes[sizes.len() - 1] as f64 / 1024.0,
        );
    }
    println!("peak {:.0} MiB", peak_mib());
}
