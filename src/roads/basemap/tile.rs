//! One web-mercator tile of the base map: the features drawn at its zoom whose boxes meet
//! it, in tile coordinates (0 to [`EXTENT`] across, y down), lines cut to the tile and
//! outlines clipped to it, both with a small margin, points closer than half a pixel
//! merged, and at most [`MAX_FEATURES`] features and [`MAX_POINTS`] points, the most
//! important kinds first.

use rstar::AABB;
use serde::Serialize;
use utoipa::ToSchema;

use super::{BaseMap, Feature, E7};

/// Tile coordinates across one tile.
pub const EXTENT: i32 = 4096;
/// The highest zoom answered.
pub const MAX_ZOOM: u8 = 20;
/// Most features in one tile.
pub const MAX_FEATURES: usize = 12_000;
/// Most points in one tile.
pub const MAX_POINTS: usize = 80_000;
/// Margin around the tile, tile coordinates: lines and outlines run this far past the
/// edge, so that a wide line is not cut short at the border.
const MARGIN: f64 = 128.0;
/// Points closer than this (half a pixel of a 256-pixel tile) are merged.
const MERGE: f64 = 8.0;

/// One tile's features.
#[derive(Debug, Serialize, ToSchema)]
pub struct BaseTile {
    /// Zoom.
    pub z: u8,
    /// Column.
    pub x: u32,
    /// Row (from the north).
    pub y: u32,
    /// Tile coordinates across the tile (4096).
    pub extent: i32,
    /// Whether features were left out to keep the answer small (the least important
    /// kinds first).
    pub truncated: bool,
    /// The features, the most important first.
    pub features: Vec<TileFeature>,
}

/// One line or outline.
#[derive(Debug, Serialize, ToSchema)]
pub struct TileFeature {
    /// Kind: motorway, trunk, primary, secondary, tertiary, street, service, path, rail,
    /// river, stream (lines); water, island (land inside water, drawn over it), building
    /// (closed outlines, filled).
    pub k: &'static str,
    /// Its name, from the zoom its kind is labelled at.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    /// Its points as x, y pairs in tile coordinates, flat: `[x0, y0, x1, y1, …]`. An
    /// outline's last point repeats its first.
    pub g: Vec<i32>,
}

/// `Err` with the reason unless `z`/`x`/`y` name a tile: `z` 0 to [`MAX_ZOOM`], `x` and
/// `y` below 2^z.
pub fn check_tile(z: u32, x: u32, y: u32) -> Result<u8, String> {
    let z8 = u8::try_from(z)
        .ok()
        .filter(|z| *z <= MAX_ZOOM)
        .ok_or_else(|| format!("z: must be 0 to {MAX_ZOOM}"))?;
    let n = 1u64 << z;
    if u64::from(x) >= n || u64::from(y) >= n {
        return Err(format!("x and y: must be below {n} at zoom {z}"));
    }
    Ok(z8)
}

/// Web mercator: a position (degrees) as world coordinates at a zoom with `n` tiles
/// across.
pub(super) fn world(lon: f64, lat: f64, n: f64) -> (f64, f64) {
    let lat = lat.clamp(-85.051_128, 85.051_128).to_radians();
    let x = (lon + 180.0) / 360.0 * n;
    let y = (1.0 - (lat.tan() + 1.0 / lat.cos()).ln() / std::f64::consts::PI) / 2.0 * n;
    (x, y)
}

/// The longitude and latitude of world coordinates.
fn degrees(x: f64, y: f64, n: f64) -> (f64, f64) {
    let lon = x / n * 360.0 - 180.0;
    let lat = (std::f64::consts::PI * (1.0 - 2.0 * y / n))
        .sinh()
        .atan()
        .to_degrees();
    (lon, lat)
}

/// Clips a closed outline to the box `lo..hi` on both axes (Sutherland–Hodgman).
pub(super) fn clip_ring(mut ring: Vec<(f64, f64)>, lo: f64, hi: f64) -> Vec<(f64, f64)> {
    ring.pop(); // the repeated first point
                // Each edge: axis, bound, whether inside is above the bound.
    for (axis, bound, above) in [(0, lo, true), (0, hi, false), (1, lo, true), (1, hi, false)] {
        let coord = |p: &(f64, f64)| if axis == 0 { p.0 } else { p.1 };
        let inside = |p: &(f64, f64)| (coord(p) >= bound) == above;
        let mut out = Vec::with_capacity(ring.len() + 4);
        for i in 0..ring.len() {
            let (a, b) = (ring[i], ring[(i + 1) % ring.len()]);
            if inside(&a) {
                out.push(a);
            }
            if inside(&a) != inside(&b) {
                let t = (bound - coord(&a)) / (coord(&b) - coord(&a));
                out.push((a.0 + t * (b.0 - a.0), a.1 + t * (b.1 - a.1)));
            }
        }
        ring = out;
        if ring.is_empty() {
            return ring;
        }
    }
    if let Some(&first) = ring.first() {
        ring.push(first);
    }
    ring
}

/// Cuts a line to the runs of its segments that meet the box `lo..hi`.
pub(super) fn cut_line(line: &[(f64, f64)], lo: f64, hi: f64) -> Vec<Vec<(f64, f64)>> {
    let meets = |a: (f64, f64), b: (f64, f64)| {
        a.0.max(b.0) >= lo && a.0.min(b.0) <= hi && a.1.max(b.1) >= lo && a.1.min(b.1) <= hi
    };
    let mut runs: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut run: Vec<(f64, f64)> = Vec::new();
    for pair in line.windows(2) {
        if meets(pair[0], pair[1]) {
            if run.is_empty() {
                run.push(pair[0]);
            }
            run.push(pair[1]);
        } else if !run.is_empty() {
            runs.push(std::mem::take(&mut run));
        }
    }
    if !run.is_empty() {
        runs.push(run);
    }
    runs
}

/// Rounds points to tile coordinates, merging those closer than [`MERGE`] (the last is
/// always kept); flat x, y pairs.
fn thin(points: &[(f64, f64)]) -> Vec<i32> {
    let mut out: Vec<i32> = Vec::with_capacity(points.len() * 2);
    let mut last: Option<(f64, f64)> = None;
    for (i, &p) in points.iter().enumerate() {
        let far = last.is_none_or(|l| (p.0 - l.0).abs().max((p.1 - l.1).abs()) >= MERGE);
        if far || i + 1 == points.len() {
            if !far {
                out.truncate(out.len() - 2);
            }
            out.push(p.0.round() as i32);
            out.push(p.1.round() as i32);
            last = Some(p);
        }
    }
    out
}

impl BaseMap {
    /// Tile `z`/`x`/`y` (checked with [`check_tile`]).
    pub fn tile(&self, z: u8, x: u32, y: u32) -> BaseTile {
        let n = f64::from(1u32 << z);
        let (tx, ty) = (f64::from(x), f64::from(y));
        let pad = MARGIN / f64::from(EXTENT);
        let (west, north) = degrees(tx - pad, ty - pad, n);
        let (east, south) = degrees(tx + 1.0 + pad, ty + 1.0 + pad, n);
        let envelope = AABB::from_corners(
            [(west * E7).floor() as i32, (south * E7).floor() as i32],
            [(east * E7).ceil() as i32, (north * E7).ceil() as i32],
        );
        let mut ids = self.features_in(z, &envelope);
        ids.sort_unstable_by_key(|&i| (self.features[i as usize].kind, i));
        let scale = f64::from(EXTENT);
        let to_tile = |p: &[i32; 2]| {
            let (wx, wy) = world(f64::from(p[0]) / E7, f64::from(p[1]) / E7, n);
            ((wx - tx) * scale, (wy - ty) * scale)
        };
        let (lo, hi) = (-MARGIN, scale + MARGIN);
        let mut tile = BaseTile {
            z,
            x,
            y,
            extent: EXTENT,
            truncated: false,
            features: Vec::new(),
        };
        let mut points = 0usize;
        for i in ids {
            let f: &Feature = &self.features[i as usize];
            let name = f
                .kind
                .label_zoom()
                .filter(|&lz| z >= lz && f.name != 0)
                .and_then(|_| self.names.get(f.name as usize - 1).cloned());
            let projected: Vec<(f64, f64)> = f.points.iter().map(to_tile).collect();
            let parts = if f.kind.is_area() {
                let (mut a, mut b) = ((f64::MAX, f64::MAX), (f64::MIN, f64::MIN));
                for p in &projected {
                    a = (a.0.min(p.0), a.1.min(p.1));
                    b = (b.0.max(p.0), b.1.max(p.1));
                }
                // Smaller than a pixel: not seen.
                if b.0 - a.0 < 2.0 * MERGE && b.1 - a.1 < 2.0 * MERGE {
                    continue;
                }
                vec![clip_ring(projected, lo, hi)]
            } else {
                cut_line(&projected, lo, hi)
            };
            for part in parts {
                let g = thin(&part);
                let least = if f.kind.is_area() { 8 } else { 4 };
                if g.len() < least {
                    continue;
                }
                if tile.features.len() >= MAX_FEATURES || points + g.len() / 2 > MAX_POINTS {
                    tile.truncated = true;
                    return tile;
                }
                points += g.len() / 2;
                tile.features.push(TileFeature {
                    k: f.kind.as_str(),
                    n: name.clone(),
                    g,
                });
            }
        }
        tile
    }
}
