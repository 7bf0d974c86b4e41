//! Points on the WGS-84 ellipsoid and the distances between them.

use geo::{Distance, Haversine, Point};
use serde::{Deserialize, Serialize};

use super::Invalid;

/// A WGS-84 position.
///
/// # Units
/// Degrees: `lat` in −90..=90, `lon` in −180..=180.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LatLon {
    /// Latitude, degrees north.
    pub lat: f64,
    /// Longitude, degrees east.
    pub lon: f64,
}

impl LatLon {
    /// Checks the ranges; NaN and infinities are refused.
    pub fn new(lat: f64, lon: f64) -> Result<LatLon, Invalid> {
        if !(lat.is_finite() && (-90.0..=90.0).contains(&lat)) {
            return Err(Invalid::new("lat", "must be a latitude in -90..90 degrees"));
        }
        if !(lon.is_finite() && (-180.0..=180.0).contains(&lon)) {
            return Err(Invalid::new(
                "lon",
                "must be a longitude in -180..180 degrees",
            ));
        }
        Ok(LatLon { lat, lon })
    }

    /// As a `geo` point (x = lon, y = lat).
    pub fn point(self) -> Point<f64> {
        Point::new(self.lon, self.lat)
    }

    /// Great-circle distance to `other`.
    ///
    /// # Units
    /// Degrees in, metres out (mean Earth radius).
    ///
    /// # Examples
    /// ```
    /// use griddispatch::domain::LatLon;
    /// let a = LatLon::new(39.50, 106.70).unwrap();
    /// let b = LatLon::new(39.51, 106.70).unwrap();
    /// assert!((a.distance_m(b) - 1112.0).abs() < 2.0);
    /// ```
    pub fn distance_m(self, other: LatLon) -> f64 {
        Haversine.distance(self.point(), other.point())
    }
}

/// Projects positions onto a plane in metres, for spatial indexes that want Euclidean
/// distances. Equirectangular around a fixed latitude: within a county (tens of km) the
/// error is well under 1 %, and the index only uses it to order and bound candidates; the
/// final figures always come from [`LatLon::distance_m`].
#[derive(Debug, Clone, Copy)]
pub struct LocalPlane {
    /// cos(reference latitude): metres per degree of longitude shrink by this.
    cos_lat: f64,
}

/// Metres per degree of latitude on the mean sphere.
const M_PER_DEG: f64 = 6_371_008.8 * std::f64::consts::PI / 180.0;

impl LocalPlane {
    /// A plane true around `ref_lat` degrees.
    pub fn new(ref_lat: f64) -> LocalPlane {
        LocalPlane {
            cos_lat: ref_lat.to_radians().cos().max(0.01),
        }
    }

    /// `[x, y]` in metres.
    pub fn project(&self, p: LatLon) -> [f64; 2] {
        [p.lon * M_PER_DEG * self.cos_lat, p.lat * M_PER_DEG]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_out_of_range_and_nan() {
        assert!(LatLon::new(91.0, 0.0).is_err());
        assert!(LatLon::new(0.0, 181.0).is_err());
        assert!(LatLon::new(f64::NAN, 0.0).is_err());
    }

    #[test]
    fn plane_distance_agrees_with_haversine_nearby() {
        let plane = LocalPlane::new(39.5);
        let a = LatLon::new(39.50, 106.70).unwrap();
        let b = LatLon::new(39.52, 106.73).unwrap();
        let (pa, pb) = (plane.project(a), plane.project(b));
        let euclid = ((pa[0] - pb[0]).powi(2) + (pa[1] - pb[1]).powi(2)).sqrt();
        let h = a.distance_m(b);
        assert!((euclid - h).abs() / h < 0.005, "{euclid} vs {h}");
    }
}
