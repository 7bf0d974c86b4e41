//! The simulated county: its square, its grid zones and its mixed force of responders.

use griddispatch::domain::{LatLon, ResponderKind, TravelMode};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

// ---- the county ------------------------------------------------------------------------

/// Centre of the simulated county.
pub(crate) const CENTRE: (f64, f64) = (39.50, 106.70);
/// Half the side of the 40 × 40 km square, in degrees of latitude (1° ≈ 111.2 km).
pub(crate) const HALF_LAT: f64 = 20.0 / 111.2;
/// The same in degrees of longitude at 39.5° N (1° ≈ 85.8 km).
pub(crate) const HALF_LON: f64 = 20.0 / 85.8;
/// Grid zones per side: 4 × 4 zones of 10 × 10 km.
pub(crate) const ZONES_PER_SIDE: usize = 4;

pub(crate) fn random_point(rng: &mut StdRng) -> LatLon {
    LatLon {
        lat: CENTRE.0 + rng.gen_range(-HALF_LAT..HALF_LAT),
        lon: CENTRE.1 + rng.gen_range(-HALF_LON..HALF_LON),
    }
}

/// (id, south-west corner, north-east corner) of each grid zone.
pub(crate) fn zone_cells() -> Vec<(String, LatLon, LatLon)> {
    let dlat = 2.0 * HALF_LAT / ZONES_PER_SIDE as f64;
    let dlon = 2.0 * HALF_LON / ZONES_PER_SIDE as f64;
    let mut cells = Vec::new();
    for row in 0..ZONES_PER_SIDE {
        for col in 0..ZONES_PER_SIDE {
            let sw = LatLon {
                lat: CENTRE.0 - HALF_LAT + row as f64 * dlat,
                lon: CENTRE.1 - HALF_LON + col as f64 * dlon,
            };
            let ne = LatLon {
                lat: sw.lat + dlat,
                lon: sw.lon + dlon,
            };
            cells.push((format!("grid-{row}{col}"), sw, ne));
        }
    }
    cells
}

/// The zone cell containing `p` (the cells tile the square, so this is plain arithmetic).
pub(crate) fn zone_of(p: LatLon) -> String {
    let dlat = 2.0 * HALF_LAT / ZONES_PER_SIDE as f64;
    let dlon = 2.0 * HALF_LON / ZONES_PER_SIDE as f64;
    let row = (((p.lat - (CENTRE.0 - HALF_LAT)) / dlat) as usize).min(ZONES_PER_SIDE - 1);
    let col = (((p.lon - (CENTRE.1 - HALF_LON)) / dlon) as usize).min(ZONES_PER_SIDE - 1);
    format!("grid-{row}{col}")
}

pub(crate) fn ring(sw: LatLon, ne: LatLon) -> Vec<[f64; 2]> {
    vec![
        [sw.lon, sw.lat],
        [ne.lon, sw.lat],
        [ne.lon, ne.lat],
        [sw.lon, ne.lat],
        [sw.lon, sw.lat],
    ]
}

/// One simulated responder: who it is and where it stands.
pub(crate) struct Person {
    pub(crate) id: String,
    pub(crate) kind: ResponderKind,
    pub(crate) travel: TravelMode,
    pub(crate) zone_id: Option<String>,
    pub(crate) at: LatLon,
}

/// A mixed force: grid workers on foot or bike (each in its own grid), patrol cars and
/// volunteers on foot, scattered uniformly over the county.
pub(crate) fn population(n: usize, seed: u64) -> Vec<Person> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n)
        .map(|i| {
            let at = random_point(&mut rng);
            let (kind, travel, zone_id) = match rng.gen_range(0..100) {
                0..=34 => (
                    ResponderKind::GridWorker,
                    TravelMode::Foot,
                    Some(zone_of(at)),
                ),
                35..=59 => (
                    ResponderKind::GridWorker,
                    TravelMode::Bike,
                    Some(zone_of(at)),
                ),
                60..=84 => (ResponderKind::Patrol, TravelMode::Car, None),
                _ => (ResponderKind::Volunteer, TravelMode::Foot, None),
            };
            Person {
                id: format!("w{i:05}"),
                kind,
                travel,
                zone_id,
                at,
            }
        })
        .collect()
}
