//! A generated city for the benchmarks (`benches/roads.rs` and `benches/dispatch`): a square
//! grid of streets, every fifth street a two-way `secondary` avenue, the other east-west
//! streets `residential` and one-way alternating in direction, the north-south ones
//! `residential` and two-way; a `footway` diagonal in every third block; and a river along
//! the middle row, crossed only by every north-south street whose column is a multiple of
//! `2 km / step` (a bridge every 2 km).
//!
//! # Units
//! `step_m` in metres; the origin (the south-west corner) in WGS-84 degrees.

use std::collections::HashMap;

use griddispatch::roads::{RawMap, RawWay};

/// A `side` × `side` grid of streets `step_m` apart from `origin` (lat, lon) north and east.
pub fn generated_city(origin: (f64, f64), side: usize, step_m: f64) -> RawMap {
    let side = side.max(2) as i64;
    let (lat0, lon0) = origin;
    let step_lat = step_m / 111_320.0;
    let step_lon = step_m / (111_320.0 * lat0.to_radians().cos());
    let bridge_every = ((2_000.0 / step_m).round() as i64).max(1);
    let id = |r: i64, c: i64| r * side + c;
    let mut nodes = HashMap::with_capacity((side * side) as usize);
    for r in 0..side {
        for c in 0..side {
            nodes.insert(
                id(r, c),
                (lat0 + r as f64 * step_lat, lon0 + c as f64 * step_lon),
            );
        }
    }
    let river = side / 2;
    let tags = |pairs: &[(&str, &str)]| {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<Vec<_>>()
    };
    let mut ways = Vec::new();
    for r in 0..side {
        // East-west streets: avenues two-way, others one-way alternately.
        let t = if r % 5 == 0 {
            tags(&[("highway", "secondary")])
        } else if r % 2 == 0 {
            tags(&[("highway", "residential"), ("oneway", "yes")])
        } else {
            tags(&[("highway", "residential"), ("oneway", "-1")])
        };
        ways.push(RawWay {
            id: ways.len() as i64,
            nodes: (0..side).map(|c| id(r, c)).collect(),
            tags: t,
        });
    }
    for c in 0..side {
        // North-south streets, cut by the river except at the bridges.
        let t = if c % 5 == 0 {
            tags(&[("highway", "secondary")])
        } else {
            tags(&[("highway", "residential")])
        };
        if c % bridge_every == 0 {
            ways.push(RawWay {
                id: ways.len() as i64,
                nodes: (0..side).map(|r| id(r, c)).collect(),
                tags: t,
            });
        } else {
            ways.push(RawWay {
                id: ways.len() as i64,
                nodes: (0..river).map(|r| id(r, c)).collect(),
                tags: t.clone(),
            });
            ways.push(RawWay {
                id: ways.len() as i64,
                nodes: (river + 1..side).map(|r| id(r, c)).collect(),
                tags: t,
            });
        }
    }
    for r in (0..side - 1).step_by(3) {
        for c in (0..side - 1).step_by(3) {
            if r != river && r + 1 != river {
                ways.push(RawWay {
                    id: ways.len() as i64,
                    nodes: vec![id(r, c), id(r + 1, c + 1)],
                    tags: tags(&[("highway", "footway")]),
                });
            }
        }
    }
    RawMap {
        nodes,
        ways,
        ..RawMap::default()
    }
}
