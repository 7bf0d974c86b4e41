//! The live coverage map's pure parts (docs/roads.md, "Coverage map"): a grid of square
//! cells over a zone, and for each cell how soon the nearest free responder of each travel
//! mode could be there, by the ranking's own rules.
//!
//! Per mode, the straight-line search takes the `candidates` nearest responders (within one
//! mode the straight-line estimate grows with distance, so the nearest are the best), each
//! is measured by road when the caller's `road` knows the route, straight line × detour
//! factor ÷ speed otherwise, and the fastest wins. The zone preference is left out: the
//! map says how soon someone can be there, not whom the ranking would prefer.

use geo::{coord, BoundingRect, GeodesicArea, Intersects, MultiPolygon, Rect};
use rstar::primitives::GeomWithData;
use rstar::RTree;
use serde::Serialize;

use super::geometry::LocalPlane;
use super::ranking::EtaSource;
use super::{Ident, LatLon, TravelMode};

/// Most cells one map may have: a few thousand rectangles are what a browser draws
/// without stutter, and what one computation does in well under a second.
pub const MAX_CELLS: usize = 5000;
/// Smallest and largest cell side, metres.
pub const CELL_M_MIN: f64 = 25.0;
/// Largest cell side, metres.
pub const CELL_M_MAX: f64 = 5000.0;

/// Metres per degree of latitude on the mean sphere.
const M_PER_DEG: f64 = 6_371_008.8 * std::f64::consts::PI / 180.0;

/// One square cell of the grid.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cell {
    /// Its centre, where travel times are measured to.
    pub centre: LatLon,
    /// South-west corner.
    pub sw: LatLon,
    /// North-east corner.
    pub ne: LatLon,
}

/// Why a zone has no grid.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GridError {
    /// The cell side is outside [`CELL_M_MIN`]..=[`CELL_M_MAX`].
    #[error("cell size {0} m: must be {CELL_M_MIN} to {CELL_M_MAX} m")]
    CellSize(f64),
    /// The zone needs more cells than [`MAX_CELLS`] at this size.
    #[error(
        "the zone needs about {cells} cells of {cell_m} m, more than {MAX_CELLS}: ask for \
         larger cells (cell_m, console.coverage_cell_m) or a smaller zone"
    )]
    TooMany {
        /// How many it would need (an estimate from its area when far too many).
        cells: usize,
        /// The side asked for, metres.
        cell_m: f64,
    },
}

/// The cells of side `cell_m` metres that overlap `shape` (WGS-84, x = lon), row by row
/// from the south-west: the zone is covered to its edges, and cells wholly outside it are
/// left out. The grid is aligned on the zone's south-west corner.
pub fn grid(shape: &MultiPolygon<f64>, cell_m: f64) -> Result<Vec<Cell>, GridError> {
    if !(CELL_M_MIN..=CELL_M_MAX).contains(&cell_m) {
        return Err(GridError::CellSize(cell_m));
    }
    let Some(bounds) = shape.bounding_rect() else {
        return Ok(Vec::new());
    };
    // Refused from the area before a cell is made, so a county-sized zone costs nothing.
    let area = shape.geodesic_area_unsigned();
    let estimate = (area / (cell_m * cell_m)).ceil() as usize;
    if estimate > MAX_CELLS {
        return Err(GridError::TooMany {
            cells: estimate,
            cell_m,
        });
    }
    let (min, max) = (bounds.min(), bounds.max());
    let mid_lat = (min.y + max.y) / 2.0;
    let dlat = cell_m / M_PER_DEG;
    let dlon = cell_m / (M_PER_DEG * mid_lat.to_radians().cos().max(0.01));
    let rows = ((max.y - min.y) / dlat).ceil().max(1.0) as usize;
    let cols = ((max.x - min.x) / dlon).ceil().max(1.0) as usize;
    // A thin diagonal zone has a large box around a small area: walking the box is bounded
    // too.
    if rows.saturating_mul(cols) > MAX_CELLS * 16 {
        return Err(GridError::TooMany {
            cells: estimate.max(MAX_CELLS + 1),
            cell_m,
        });
    }
    let mut cells = Vec::new();
    for r in 0..rows {
        let south = min.y + r as f64 * dlat;
        for c in 0..cols {
            let west = min.x + c as f64 * dlon;
            let centre = LatLon {
                lat: south + dlat / 2.0,
                lon: west + dlon / 2.0,
            };
            let rect = Rect::new(
                coord! { x: west, y: south },
                coord! { x: west + dlon, y: south + dlat },
            );
            if !rect.intersects(shape) {
                continue;
            }
            if cells.len() == MAX_CELLS {
                return Err(GridError::TooMany {
                    cells: MAX_CELLS + 1,
                    cell_m,
                });
            }
            cells.push(Cell {
                centre,
                sw: LatLon {
                    lat: south,
                    lon: west,
                },
                ne: LatLon {
                    lat: south + dlat,
                    lon: west + dlon,
                },
            });
        }
    }
    Ok(cells)
}

/// A free, on-duty responder with a fresh fix: one who could be sent now.
#[derive(Debug, Clone)]
pub struct Unit {
    /// Responder id.
    pub id: Ident,
    /// How it moves.
    pub mode: TravelMode,
    /// Where it is.
    pub at: LatLon,
}

/// The ranking's rules as far as the map needs them.
#[derive(Debug, Clone, Copy)]
pub struct CoverRules {
    /// Road distance ÷ great-circle distance, for the straight-line estimate.
    pub detour_factor: f64,
    /// Metres per second: foot, bike, car.
    pub speed_mps: [f64; 3],
    /// Straight-line candidates measured by road per cell and mode (`dispatch.road_candidates`).
    pub candidates: usize,
}

impl CoverRules {
    /// The straight-line estimate, seconds: great-circle metres × detour factor ÷ the
    /// mode's speed (the ranking's fallback when a pair has no road route).
    pub fn straight_secs(&self, mode: TravelMode, distance_m: f64) -> f64 {
        let slot = TravelMode::ALL.iter().position(|&m| m == mode).unwrap_or(0);
        distance_m * self.detour_factor / self.speed_mps[slot]
    }
}

/// How soon one responder could reach a cell's centre.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Reach {
    /// The responder.
    pub responder_id: Ident,
    /// Travel time, seconds.
    pub eta_secs: f64,
    /// Great-circle distance, metres.
    pub distance_m: f64,
    /// Where `eta_secs` came from, as in the candidates.
    pub eta_source: EtaSource,
    /// The road distance, metres, when `eta_source` is `road`.
    pub road_distance_m: Option<f64>,
}

/// One cell of the map with the fastest responder of each mode, if any.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CoverCell {
    /// Centre latitude, degrees.
    pub lat: f64,
    /// Centre longitude, degrees.
    pub lon: f64,
    /// `[[south, west], [north, east]]`, degrees (Leaflet's bounds).
    pub bounds: [[f64; 2]; 2],
    /// The fastest of the modes below, seconds; `null` when nobody is free.
    pub best_secs: Option<f64>,
    /// The mode of `best_secs`.
    pub best_mode: Option<TravelMode>,
    /// The fastest walker.
    pub foot: Option<Reach>,
    /// The fastest cyclist.
    pub bike: Option<Reach>,
    /// The fastest car.
    pub car: Option<Reach>,
}

/// Each cell with the fastest responder of each mode among `units`. `road(unit, to)` is
/// the road travel (seconds, metres) from a unit to a point, `None` when it is off the
/// roads, no route joins them or no roads are loaded.
pub fn cover(
    cells: &[Cell],
    units: &[Unit],
    rules: &CoverRules,
    mut road: impl FnMut(&Unit, LatLon) -> Option<(f64, f64)>,
) -> Vec<CoverCell> {
    let ref_lat = cells.first().map_or(0.0, |c| c.centre.lat);
    let plane = LocalPlane::new(ref_lat);
    let trees: Vec<RTree<GeomWithData<[f64; 2], usize>>> = TravelMode::ALL
        .iter()
        .map(|&m| {
            RTree::bulk_load(
                units
                    .iter()
                    .enumerate()
                    .filter(|(_, u)| u.mode == m)
                    .map(|(i, u)| GeomWithData::new(plane.project(u.at), i))
                    .collect(),
            )
        })
        .collect();
    let k = rules.candidates.max(1);
    cells
        .iter()
        .map(|cell| {
            let origin = plane.project(cell.centre);
            let mut fastest: [Option<Reach>; 3] = Default::default();
            for (slot, (&mode, tree)) in TravelMode::ALL.iter().zip(&trees).enumerate() {
                fastest[slot] = tree
                    .nearest_neighbor_iter(&origin)
                    .take(k)
                    .map(|e| measure(&units[e.data], cell.centre, mode, rules, &mut road))
                    .min_by(|a, b| {
                        a.eta_secs
                            .total_cmp(&b.eta_secs)
                            .then(a.responder_id.cmp(&b.responder_id))
                    });
            }
            let best = TravelMode::ALL
                .iter()
                .zip(&fastest)
                .filter_map(|(m, r)| r.as_ref().map(|r| (*m, r.eta_secs)))
                .min_by(|a, b| a.1.total_cmp(&b.1));
            let [foot, bike, car] = fastest;
            CoverCell {
                lat: cell.centre.lat,
                lon: cell.centre.lon,
                bounds: [[cell.sw.lat, cell.sw.lon], [cell.ne.lat, cell.ne.lon]],
                best_secs: best.map(|b| b.1),
                best_mode: best.map(|b| b.0),
                foot,
                bike,
                car,
            }
        })
        .collect()
}

/// One unit's travel to `to`: by road when known, else the straight-line estimate.
fn measure(
    u: &Unit,
    to: LatLon,
    mode: TravelMode,
    rules: &CoverRules,
    road: &mut impl FnMut(&Unit, LatLon) -> Option<(f64, f64)>,
) -> Reach {
    let distance_m = u.at.distance_m(to);
    debug_assert_eq!(u.mode, mode);
    match road(u, to) {
        Some((secs, metres)) => Reach {
            responder_id: u.id.clone(),
            eta_secs: secs,
            distance_m,
            eta_source: EtaSource::Road,
            road_distance_m: Some(metres),
        },
        None => Reach {
            responder_id: u.id.clone(),
            eta_secs: rules.straight_secs(mode, distance_m),
            distance_m,
            eta_source: EtaSource::Straight,
            road_distance_m: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use geo::polygon;

    use super::*;

    /// A rectangle `km` kilometres a side less a metre at 39.5° N, from (39.5, 106.7).
    fn square(km: f64) -> MultiPolygon<f64> {
        let side = km * 1000.0 - 1.0;
        let dlat = side / M_PER_DEG;
        let dlon = side / (M_PER_DEG * (39.5 + dlat / 2.0_f64).to_radians().cos());
        MultiPolygon(vec![polygon![
            (x: 106.7, y: 39.5),
            (x: 106.7 + dlon, y: 39.5),
            (x: 106.7 + dlon, y: 39.5 + dlat),
            (x: 106.7, y: 39.5 + dlat),
            (x: 106.7, y: 39.5),
        ]])
    }

    fn square_km() -> MultiPolygon<f64> {
        square(1.0)
    }

    /// The half of [`square_km`] south-west of its diagonal from north-west to south-east.
    fn triangle() -> MultiPolygon<f64> {
        let [sw, se, _, nw, _] = square_km().0[0].exterior().0[..] else {
            unreachable!()
        };
        MultiPolygon(vec![geo::Polygon::new(
            geo::LineString(vec![sw, se, nw, sw]),
            vec![],
        )])
    }

    #[test]
    fn a_square_kilometre_in_250_m_cells_is_four_by_four_cells_of_250_m() {
        let cells = grid(&square_km(), 250.0).unwrap();
        assert_eq!(cells.len(), 16);
        for c in &cells {
            let ns = c.sw.distance_m(LatLon {
                lat: c.ne.lat,
                lon: c.sw.lon,
            });
            let ew = c.sw.distance_m(LatLon {
                lat: c.sw.lat,
                lon: c.ne.lon,
            });
            assert!(
                (ns - 250.0).abs() < 1.0 && (ew - 250.0).abs() < 1.5,
                "{ns} {ew}"
            );
            assert!(c.sw.lat < c.centre.lat && c.centre.lat < c.ne.lat);
            assert!(c.sw.lon < c.centre.lon && c.centre.lon < c.ne.lon);
        }
        // Neighbours share edges: the grid has no gaps.
        assert_eq!(cells[0].ne.lon, cells[1].sw.lon);
        assert_eq!(cells[0].ne.lat, cells[4].sw.lat);
    }

    #[test]
    fn cells_that_do_not_touch_the_zone_are_left_out() {
        let cells = grid(&triangle(), 250.0).unwrap();
        // Of the 4 × 4 cells of the box, the 10 whose south-west corner is below the
        // diagonal (row + column ≤ 3): the 6 inside and the 4 it crosses.
        assert_eq!(cells.len(), 10, "{cells:?}");
        let first_row: Vec<_> = cells.iter().filter(|c| c.sw.lat == 39.5).collect();
        assert_eq!(first_row.len(), 4);
    }

    #[test]
    fn too_many_cells_or_a_silly_size_are_refused() {
        assert_eq!(
            grid(&square_km(), 10.0),
            Err(GridError::CellSize(10.0)),
            "below the smallest side"
        );
        // 1 km² in 25 m cells: 1600 cells, fine; a 100 km² zone in 100 m cells: 10,000.
        assert_eq!(grid(&square_km(), 25.0).map(|c| c.len()), Ok(1600));
        let big = square(10.0);
        match grid(&big, 100.0) {
            Err(GridError::TooMany { cells, cell_m }) => {
                assert!((9_900..10_200).contains(&cells), "{cells}");
                assert_eq!(cell_m, 100.0);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(grid(&big, 250.0).map(|c| c.len()), Ok(1600));
    }

    fn unit(id: &str, mode: TravelMode, lat: f64, lon: f64) -> Unit {
        Unit {
            id: Ident::parse(id).unwrap(),
            mode,
            at: LatLon { lat, lon },
        }
    }

    const RULES: CoverRules = CoverRules {
        detour_factor: 1.3,
        speed_mps: [5.0 / 3.6, 15.0 / 3.6, 30.0 / 3.6],
        candidates: 2,
    };

    #[test]
    fn each_cell_gets_the_fastest_of_each_mode_and_the_best_overall() {
        let cells = grid(&square_km(), 250.0).unwrap();
        let sw = cells[0].centre;
        let ne = cells[15].centre;
        let units = [
            unit("walker", TravelMode::Foot, sw.lat, sw.lon),
            unit("car", TravelMode::Car, ne.lat, ne.lon),
        ];
        let map = cover(&cells, &units, &RULES, |_, _| None);
        let first = &map[0];
        assert_eq!(first.foot.as_ref().unwrap().eta_secs, 0.0);
        assert_eq!(first.best_mode, Some(TravelMode::Foot));
        assert!(first.bike.is_none());
        // The car is about 1060 m away: 1060 × 1.3 ÷ 8.33 m/s ≈ 165 s.
        let car = first.car.as_ref().unwrap();
        assert!((car.eta_secs - 165.0).abs() < 5.0, "{car:?}");
        assert_eq!(car.eta_source, EtaSource::Straight);
        assert_eq!(map[15].best_mode, Some(TravelMode::Car));
        assert_eq!(map[15].best_secs, Some(0.0));
    }

    #[test]
    fn a_road_time_replaces_the_straight_line_and_reorders_the_candidates() {
        let cells = grid(&square_km(), 250.0).unwrap();
        let c = cells[0].centre;
        // `near` is 100 m away by air but 2 km by road; `far` 300 m away by both.
        let units = [
            unit("near", TravelMode::Foot, c.lat + 0.0009, c.lon),
            unit("far", TravelMode::Foot, c.lat + 0.0027, c.lon),
        ];
        let map = cover(&cells[..1], &units, &RULES, |u, _| {
            let m = if u.id.as_str() == "near" {
                2000.0
            } else {
                300.0
            };
            Some((m / (5.0 / 3.6), m))
        });
        let foot = map[0].foot.as_ref().unwrap();
        assert_eq!(foot.responder_id.as_str(), "far");
        assert_eq!(foot.eta_source, EtaSource::Road);
        assert_eq!(foot.road_distance_m, Some(300.0));
    }
}
