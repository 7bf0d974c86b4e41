//! Small helpers for simulated movement, on the domain's [`LatLon`].
//!
//! Distances come from [`LatLon::distance_m`]. Moving by a number of metres
//! uses an equirectangular approximation around the starting point: the
//! steps are a few kilometres at most, so it stays within a fraction of a
//! percent of the great-circle figure and keeps the code simple.

use geo::{BoundingRect, Centroid, Contains, MultiPolygon, Polygon};
use rand::Rng;

use crate::domain::LatLon;

/// Metres per degree of latitude (mean value; good enough for a county).
const M_PER_DEG_LAT: f64 = 111_320.0;

/// Metres per degree of longitude at the given latitude.
fn m_per_deg_lon(lat: f64) -> f64 {
    M_PER_DEG_LAT * lat.to_radians().cos()
}

/// Moves `from` by `north_m` metres north and `east_m` metres east.
pub fn offset(from: LatLon, north_m: f64, east_m: f64) -> LatLon {
    LatLon {
        lat: from.lat + north_m / M_PER_DEG_LAT,
        lon: from.lon + east_m / m_per_deg_lon(from.lat),
    }
}

/// Moves from `from` towards `to` by at most `step_m` metres; returns the new
/// position and whether `to` was reached.
pub fn step_towards(from: LatLon, to: LatLon, step_m: f64) -> (LatLon, bool) {
    let d = from.distance_m(to);
    if d <= step_m || d < 0.01 {
        return (to, true);
    }
    let f = step_m / d;
    (
        LatLon {
            lat: from.lat + (to.lat - from.lat) * f,
            lon: from.lon + (to.lon - from.lon) * f,
        },
        false,
    )
}

/// Uniformly random point within `radius_m` of `center`.
pub fn random_in_disk<R: Rng + ?Sized>(rng: &mut R, center: LatLon, radius_m: f64) -> LatLon {
    // sqrt keeps the density uniform over the disk instead of piling up at the centre.
    let r = radius_m * rng.gen::<f64>().sqrt();
    let theta = rng.gen::<f64>() * std::f64::consts::TAU;
    offset(center, r * theta.sin(), r * theta.cos())
}

/// The region a simulated person moves around in when idle.
#[derive(Debug, Clone)]
pub enum Area {
    /// A disk around a centre.
    Circle {
        /// Centre.
        center: LatLon,
        /// Radius in metres.
        radius_m: f64,
    },
    /// A polygonal zone; coordinates are x = lon, y = lat as in GeoJSON.
    Polygon(MultiPolygon<f64>),
}

impl Area {
    /// Area of one polygon.
    pub fn polygon(p: Polygon<f64>) -> Self {
        Area::Polygon(MultiPolygon(vec![p]))
    }

    /// Whether the position lies inside the area.
    pub fn contains(&self, p: LatLon) -> bool {
        match self {
            Area::Circle { center, radius_m } => center.distance_m(p) <= *radius_m,
            Area::Polygon(mp) => mp.contains(&p.point()),
        }
    }

    /// A representative interior-ish point (centre or centroid).
    pub fn center(&self) -> LatLon {
        match self {
            Area::Circle { center, .. } => *center,
            Area::Polygon(mp) => mp
                .centroid()
                .map(|c| LatLon {
                    lat: c.y(),
                    lon: c.x(),
                })
                .unwrap_or(LatLon { lat: 0.0, lon: 0.0 }),
        }
    }

    /// A random point inside the area (rejection sampling for polygons).
    pub fn random_point<R: Rng + ?Sized>(&self, rng: &mut R) -> LatLon {
        match self {
            Area::Circle { center, radius_m } => random_in_disk(rng, *center, *radius_m),
            Area::Polygon(mp) => {
                if let Some(bb) = mp.bounding_rect() {
                    // Zones are roughly rectangular, so a handful of tries almost
                    // always succeeds; the cap only guards against degenerate input.
                    for _ in 0..200 {
                        let x = rng.gen_range(bb.min().x..=bb.max().x);
                        let y = rng.gen_range(bb.min().y..=bb.max().y);
                        let p = LatLon { lat: y, lon: x };
                        if mp.contains(&p.point()) {
                            return p;
                        }
                    }
                }
                self.center()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    const C: LatLon = LatLon {
        lat: 39.5,
        lon: 106.7,
    };

    #[test]
    fn offset_and_distance_agree() {
        let p = offset(C, 300.0, 400.0);
        assert!((C.distance_m(p) - 500.0).abs() < 1.0);
    }

    #[test]
    fn step_towards_reaches_target() {
        let a = C;
        let b = offset(a, 100.0, 0.0);
        let (p, done) = step_towards(a, b, 40.0);
        assert!(!done);
        assert!((p.distance_m(b) - 60.0).abs() < 0.5);
        let (p, done) = step_towards(p, b, 100.0);
        assert!(done);
        assert_eq!(p, b);
    }

    #[test]
    fn random_points_stay_inside() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let circle = Area::Circle {
            center: C,
            radius_m: 3000.0,
        };
        for _ in 0..500 {
            assert!(circle.contains(circle.random_point(&mut rng)));
        }
        let square = Area::polygon(Polygon::new(
            geo::LineString::from(vec![
                (106.69, 39.49),
                (106.70, 39.49),
                (106.70, 39.50),
                (106.69, 39.50),
                (106.69, 39.49),
            ]),
            vec![],
        ));
        for _ in 0..500 {
            assert!(square.contains(square.random_point(&mut rng)));
        }
    }
}
