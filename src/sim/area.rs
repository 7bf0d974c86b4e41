//! Small planar-geometry helpers for simulated movement.
//!
//! Distances here are a few kilometres at most, so an equirectangular
//! approximation around the point of interest is accurate to well under a
//! metre and keeps the code free of heavier geodesic machinery.

use geo::{BoundingRect, Centroid, Contains, MultiPolygon, Point, Polygon};
use rand::Rng;

/// Metres per degree of latitude (mean value; good enough for a county).
const M_PER_DEG_LAT: f64 = 111_320.0;

/// A WGS-84 position as (lat, lon) in degrees.
pub type LatLon = (f64, f64);

/// Metres per degree of longitude at the given latitude.
fn m_per_deg_lon(lat: f64) -> f64 {
    M_PER_DEG_LAT * lat.to_radians().cos()
}

/// Approximate distance in metres between two nearby positions.
pub fn distance_m(a: LatLon, b: LatLon) -> f64 {
    let mid = (a.0 + b.0) / 2.0;
    let dy = (b.0 - a.0) * M_PER_DEG_LAT;
    let dx = (b.1 - a.1) * m_per_deg_lon(mid);
    (dx * dx + dy * dy).sqrt()
}

/// Moves `from` by `north_m` metres north and `east_m` metres east.
pub fn offset(from: LatLon, north_m: f64, east_m: f64) -> LatLon {
    (
        from.0 + north_m / M_PER_DEG_LAT,
        from.1 + east_m / m_per_deg_lon(from.0),
    )
}

/// Moves from `from` towards `to` by at most `step_m` metres; returns the new
/// position and whether `to` was reached.
pub fn step_towards(from: LatLon, to: LatLon, step_m: f64) -> (LatLon, bool) {
    let d = distance_m(from, to);
    if d <= step_m || d < 0.01 {
        return (to, true);
    }
    let f = step_m / d;
    (
        (from.0 + (to.0 - from.0) * f, from.1 + (to.1 - from.1) * f),
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
        /// Centre (lat, lon).
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
            Area::Circle { center, radius_m } => distance_m(*center, p) <= *radius_m,
            Area::Polygon(mp) => mp.contains(&Point::new(p.1, p.0)),
        }
    }

    /// A representative interior-ish point (centre or centroid).
    pub fn center(&self) -> LatLon {
        match self {
            Area::Circle { center, .. } => *center,
            Area::Polygon(mp) => mp.centroid().map(|c| (c.y(), c.x())).unwrap_or((0.0, 0.0)),
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
                        if mp.contains(&Point::new(x, y)) {
                            return (y, x);
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

    #[test]
    fn offset_and_distance_agree() {
        let c = (39.5, 106.7);
        let p = offset(c, 300.0, 400.0);
        assert!((distance_m(c, p) - 500.0).abs() < 1.0);
    }

    #[test]
    fn step_towards_reaches_target() {
        let a = (39.5, 106.7);
        let b = offset(a, 100.0, 0.0);
        let (p, done) = step_towards(a, b, 40.0);
        assert!(!done);
        assert!((distance_m(p, b) - 60.0).abs() < 0.5);
        let (p, done) = step_towards(p, b, 100.0);
        assert!(done);
        assert_eq!(p, b);
    }

    #[test]
    fn random_points_stay_inside() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let circle = Area::Circle {
            center: (39.5, 106.7),
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
