//! 1. Candidate search on its own, in process.

use std::collections::HashSet;
use std::hint::black_box;
use std::time::Instant;

use crate::county::{population, random_point, ring, zone_cells, CENTRE};
use crate::stats::{summarize, Summary};
use geo::{LineString, MultiPolygon, Polygon};
use griddispatch::config::Settings;
use griddispatch::domain::ranking::{RankParams, RankRequest, Responder, ResponderIndex};
use griddispatch::domain::zones::{Zone, ZoneIndex};
use griddispatch::domain::{Ident, LatLon, TravelMode, ZoneKind};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

// ---- 1. candidate search -------------------------------------------------------------------

/// The clock of the search runs, Unix milliseconds: fixes are up to two minutes older.
pub(crate) const NOW_MS: i64 = 1_800_000_000_000;
/// Candidates asked of each search (an offer goes to the first, the second is next in line).
pub(crate) const LIMIT: usize = 2;
/// Share of responders busy with a task, who are not candidates.
pub(crate) const BUSY_SHARE: f64 = 0.2;

/// The responders and random targets of one size. The seeds depend only on `n`, so the
/// PostGIS comparison (postgis.rs) gets exactly the points and targets searched here.
pub(crate) struct Sample {
    pub(crate) responders: Vec<Responder>,
    pub(crate) targets: Vec<LatLon>,
}

pub(crate) fn sample(n: usize, queries: usize) -> Sample {
    let mut rng = StdRng::seed_from_u64(n as u64);
    let responders = population(n, 42)
        .into_iter()
        .map(|p| Responder {
            id: Ident::parse(&p.id).unwrap(),
            kind: p.kind,
            travel: p.travel,
            zone_id: p.zone_id.map(|z| Ident::parse(&z).unwrap()),
            on_duty: true,
            position: Some(p.at),
            fix_at_ms: Some(NOW_MS - rng.gen_range(0..120_000)),
            busy: rng.gen_bool(BUSY_SHARE),
        })
        .collect();
    let targets = (0..queries).map(|_| random_point(&mut rng)).collect();
    Sample {
        responders,
        targets,
    }
}

pub(crate) struct SearchResult {
    pub(crate) responders: usize,
    pub(crate) stats: Summary,
    /// Seconds to generate the responders and targets, and to build the index.
    pub(crate) generate_secs: f64,
    pub(crate) index_secs: f64,
}

pub(crate) fn bench_search(
    sizes: &[usize],
    queries: usize,
    settings: &Settings,
) -> Vec<SearchResult> {
    let zones = ZoneIndex::new(
        zone_cells()
            .into_iter()
            .map(|(id, sw, ne)| Zone {
                id: Ident::parse(&id).unwrap(),
                name: id.clone(),
                kind: ZoneKind::Grid,
                shape: MultiPolygon(vec![Polygon::new(
                    LineString::from(
                        ring(sw, ne)
                            .into_iter()
                            .map(|[x, y]| (x, y))
                            .collect::<Vec<_>>(),
                    ),
                    vec![],
                )]),
            })
            .collect(),
    );
    let d = &settings.dispatch;
    let params = RankParams {
        detour_factor: d.detour_factor,
        zone_preference_secs: d.zone_preference_secs,
        speed_mps: [
            d.speed_kmh.metres_per_sec(TravelMode::Foot),
            d.speed_kmh.metres_per_sec(TravelMode::Bike),
            d.speed_kmh.metres_per_sec(TravelMode::Car),
        ],
        location_max_age_ms: d.location_max_age_secs as i64 * 1000,
        now_ms: NOW_MS,
    };
    // An incident kind every responder kind may take, as most alerts are.
    let allowed = settings.dispatch.allowed_for("medical");
    let none = HashSet::new();
    let mut results = Vec::new();
    for &n in sizes {
        let started = Instant::now();
        let Sample {
            responders,
            targets,
        } = sample(n, queries);
        let generate_secs = started.elapsed().as_secs_f64();
        let started = Instant::now();
        let mut index = ResponderIndex::new(CENTRE.0);
        for r in responders {
            index.upsert(r);
        }
        let index_secs = started.elapsed().as_secs_f64();
        let request = |target| RankRequest {
            target,
            incident: target,
            allowed,
            exclude: &none,
            limit: LIMIT,
        };
        // Warm the caches and the branch predictor so the first queries do not skew p99.
        for t in targets.iter().take(1000) {
            black_box(index.rank(&request(*t), &zones, &params));
        }
        let mut times = Vec::with_capacity(queries);
        for t in &targets {
            let start = Instant::now();
            let found = index.rank(&request(*t), &zones, &params);
            let took = start.elapsed();
            assert!(!found.is_empty(), "no candidate found at {t:?}");
            black_box(found);
            times.push(took.as_secs_f64() * 1e6);
        }
        results.push(SearchResult {
            responders: n,
            stats: summarize(times).expect("queries"),
            generate_secs,
            index_secs,
        });
    }
    results
}
