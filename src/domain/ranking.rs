//! Who goes: the responder index and the candidate ranking.
//!
//! A candidate is on duty, not busy, has a location fix fresher than the configured age, is
//! of a kind allowed for the incident, and has not already had (and lost) an offer for it.
//! Candidates are ranked by estimated travel time, great-circle distance × detour factor ÷
//! the speed of their travel mode. A responder whose own zone contains the incident is
//! preferred: an outsider only wins when it arrives more than `zone_preference_secs`
//! sooner. Equal scores break by id, so the same inputs always give the same order.
//!
//! The search walks R-trees outward from the target and stops each walk as soon as no
//! responder further out in that tree could beat the ones already found. There is one tree
//! per travel mode (a tree of walkers can stop much nearer than a tree of cars), and one
//! per zone and mode: the zone preference is only searched for in the trees of the zones
//! that contain the incident, so it never widens the search among outsiders. //! further out could beat the ones already found, so it touches a handful of entries even
//! with 100,000 responders.

use std::collections::{HashMap, HashSet};

use rstar::primitives::GeomWithData;
use rstar::RTree;
use serde::Serialize;

use super::geometry::LocalPlane;
use super::zones::ZoneIndex;
use super::{Ident, LatLon, ResponderKind, TravelMode};

/// What the ranking needs to know about one responder.
#[derive(Debug, Clone)]
pub struct Responder {
    /// Responder id (also its MQTT username).
    pub id: Ident,
    /// Grid worker, patrol or volunteer.
    pub kind: ResponderKind,
    /// Travel mode, which sets the speed.
    pub travel: TravelMode,
    /// The zone this responder is responsible for, if any.
    pub zone_id: Option<Ident>,
    /// Whether the responder is working now.
    pub on_duty: bool,
    /// Last known position.
    pub position: Option<LatLon>,
    /// When that position was taken, Unix milliseconds.
    pub fix_at_ms: Option<i64>,
    /// Holds an accepted unfinished task or an outstanding offer.
    pub busy: bool,
}

/// The tunable parts of the ranking.
#[derive(Debug, Clone, Copy)]
pub struct RankParams {
    /// Road distance ÷ great-circle distance (≥ 1).
    pub detour_factor: f64,
    /// Seconds an outsider must gain over a zone's own responder to win.
    pub zone_preference_secs: f64,
    /// Speed per travel mode, metres per second: foot, bike, car.
    pub speed_mps: [f64; 3],
    /// Oldest usable fix, milliseconds.
    pub location_max_age_ms: i64,
    /// The current time, Unix milliseconds.
    pub now_ms: i64,
}

impl RankParams {
    fn speed(&self, mode: TravelMode) -> f64 {
        match mode {
            TravelMode::Foot => self.speed_mps[0],
            TravelMode::Bike => self.speed_mps[1],
            TravelMode::Car => self.speed_mps[2],
        }
    }
}

/// What to rank for.
#[derive(Debug, Clone, Copy)]
pub struct RankRequest<'a> {
    /// Where the responder must go (the incident, or the rendezvous point).
    pub target: LatLon,
    /// The incident's own position, which decides whose zone it is in.
    pub incident: LatLon,
    /// Responder kinds allowed for this incident kind.
    pub allowed: &'a [ResponderKind],
    /// Responders that must not be offered again (they already rejected or let it expire).
    pub exclude: &'a HashSet<Ident>,
    /// How many candidates to return at most.
    pub limit: usize,
}

/// One ranked candidate.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Ranked {
    /// Responder id.
    pub responder_id: Ident,
    /// Estimated travel time to the target, seconds.
    pub eta_secs: f64,
    /// Great-circle distance to the target, metres.
    pub distance_m: f64,
    /// The responder's own zone contains the incident.
    pub in_zone: bool,
    /// Travel time less the zone preference; lower is better.
    pub score: f64,
    /// Where `eta_secs` came from.
    pub eta_source: EtaSource,
    /// The road distance, metres, when `eta_source` is `road`.
    pub road_distance_m: Option<f64>,
}

/// How a travel time was estimated.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum EtaSource {
    /// Great-circle distance × detour factor ÷ the mode's speed.
    #[default]
    Straight,
    /// The fastest route on the imported roads (docs/roads.md).
    Road,
}

/// All responders known to the dispatcher, with a spatial index on the located ones.
#[derive(Debug)]
pub struct ResponderIndex {
    /// Projection used by the R-tree.
    plane: LocalPlane,
    /// Responder id → state.
    by_id: HashMap<Ident, Responder>,
    /// Located responders in plane metres, one tree per travel mode (foot, bike, car).
    trees: [ModeTree; 3],
    /// The same responders again, by their own zone, one tree per travel mode.
    zone_trees: HashMap<Ident, [ModeTree; 3]>,
    /// Bumped by every change, so a coverage map knows when it is out of date.
    version: u64,
}

impl ResponderIndex {
    /// An empty index whose plane is true around `ref_lat` degrees.
    pub fn new(ref_lat: f64) -> ResponderIndex {
        ResponderIndex {
            plane: LocalPlane::new(ref_lat),
            by_id: HashMap::new(),
            trees: Default::default(),
            zone_trees: HashMap::new(),
            version: 0,
        }
    }

    /// Changes so far (moves, duty, busy): equal versions mean the same responders.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Number of responders.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// The responder with this id.
    pub fn get(&self, id: &Ident) -> Option<&Responder> {
        self.by_id.get(id)
    }

    /// Adds or replaces a responder.
    pub fn upsert(&mut self, r: Responder) {
        self.remove(&r.id);
        self.version += 1;
        if let Some(p) = r.position {
            let entry = GeomWithData::new(self.plane.project(p), r.id.clone());
            if let Some(z) = &r.zone_id {
                self.zone_trees.entry(z.clone()).or_default()[mode_slot(r.travel)]
                    .insert(entry.clone());
            }
            self.trees[mode_slot(r.travel)].insert(entry);
        }
        self.by_id.insert(r.id.clone(), r);
    }

    /// Forgets a responder.
    pub fn remove(&mut self, id: &Ident) -> Option<Responder> {
        let old = self.by_id.remove(id)?;
        self.version += 1;
        if let Some(p) = old.position {
            let entry = GeomWithData::new(self.plane.project(p), id.clone());
            if let Some(trees) = old
                .zone_id
                .as_ref()
                .and_then(|z| self.zone_trees.get_mut(z))
            {
                trees[mode_slot(old.travel)].remove(&entry);
            }
            self.trees[mode_slot(old.travel)].remove(&entry);
        }
        Some(old)
    }

    /// Records a location fix; an older fix than the one held is ignored (fixes arrive out
    /// of order after a phone reconnects). Returns false for an unknown responder.
    pub fn set_location(&mut self, id: &Ident, p: LatLon, at_ms: i64) -> bool {
        let Some(mut r) = self.by_id.get(id).cloned() else {
            return false;
        };
        if r.fix_at_ms.is_some_and(|t| t > at_ms) {
            return true;
        }
        r.position = Some(p);
        r.fix_at_ms = Some(at_ms);
        self.upsert(r);
        true
    }

    /// Marks a responder busy or free.
    pub fn set_busy(&mut self, id: &Ident, busy: bool) {
        if let Some(r) = self.by_id.get_mut(id) {
            if r.busy != busy {
                self.version += 1;
            }
            r.busy = busy;
        }
    }

    /// Whether `r` may be offered this incident now (ignoring distance).
    pub fn eligible(r: &Responder, req: &RankRequest<'_>, params: &RankParams) -> bool {
        r.on_duty
            && !r.busy
            && r.position.is_some()
            && r.fix_at_ms
                .is_some_and(|t| params.now_ms - t <= params.location_max_age_ms)
            && req.allowed.contains(&r.kind)
            && !req.exclude.contains(&r.id)
    }

    /// Estimated travel of `r` (which must have a position) to `req.target`.
    fn measure(
        &self,
        r: &Responder,
        req: &RankRequest<'_>,
        zones: &ZoneIndex,
        params: &RankParams,
    ) -> Option<Ranked> {
        let pos = r.position?;
        let distance_m = pos.distance_m(req.target);
        let eta_secs = distance_m * params.detour_factor / params.speed(r.travel);
        let in_zone = r
            .zone_id
            .as_ref()
            .is_some_and(|z| zones.contains(z, req.incident));
        let score = if in_zone {
            eta_secs - params.zone_preference_secs
        } else {
            eta_secs
        };
        Some(Ranked {
            responder_id: r.id.clone(),
            eta_secs,
            distance_m,
            in_zone,
            score,
            eta_source: EtaSource::Straight,
            road_distance_m: None,
        })
    }

    /// The estimate for one responder, eligible or not (an operator's own choice).
    pub fn estimate(
        &self,
        id: &Ident,
        req: &RankRequest<'_>,
        zones: &ZoneIndex,
        params: &RankParams,
    ) -> Option<Ranked> {
        self.measure(self.by_id.get(id)?, req, zones, params)
    }

    /// `found` ranked again by road: each candidate whose route `road` knows (its travel
    /// mode, from its position to `req.target`: seconds and metres) takes that travel time,
    /// the others keep the straight-line one. Best first, the best `keep` at least.
    ///
    /// Routes are asked in order of each candidate's best possible road time
    /// (`best_secs`: no route of its mode between the two points can be faster; less any
    /// zone preference), and no more are asked once the next one's best is worse than the
    /// `keep`-th found: those left out are dropped, since their road time is unknown and
    /// could only rank them below the `keep` returned. A route costs far more than the rest
    /// of the ranking, and one offer rarely needs more than two or three of them.
    pub fn rerank_by_road(
        &self,
        found: Vec<Ranked>,
        req: &RankRequest<'_>,
        params: &RankParams,
        keep: usize,
        best_secs: impl Fn(TravelMode, LatLon, LatLon) -> f64,
        road: impl Fn(TravelMode, LatLon, LatLon) -> Option<(f64, f64)>,
    ) -> Vec<Ranked> {
        let preference = |c: &Ranked| {
            if c.in_zone {
                params.zone_preference_secs
            } else {
                0.0
            }
        };
        // Each candidate with its best possible score and, when it has a position, its mode
        // and where it is.
        let mut bounded: Vec<_> = found
            .into_iter()
            .map(|c| {
                let from = self
                    .by_id
                    .get(&c.responder_id)
                    .and_then(|r| r.position.map(|p| (r.travel, p)));
                let best = from.map_or(0.0, |(mode, p)| best_secs(mode, p, req.target));
                (best - preference(&c), from, c)
            })
            .collect();
        bounded.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut scores: Vec<f64> = Vec::with_capacity(bounded.len());
        let mut out = Vec::with_capacity(bounded.len());
        for (best, from, mut c) in bounded {
            if keep > 0 && scores.len() >= keep && best > scores[keep - 1] {
                break;
            }
            if let Some((secs, metres)) = from.and_then(|(mode, p)| road(mode, p, req.target)) {
                c.eta_secs = secs;
                c.score = secs - preference(&c);
                c.eta_source = EtaSource::Road;
                c.road_distance_m = Some(metres);
            }
            let at = scores.partition_point(|s| *s <= c.score);
            scores.insert(at, c.score);
            out.push(c);
        }
        out.sort_by(order);
        out
    }

    /// The best `req.limit` candidates, best first.
    pub fn rank(
        &self,
        req: &RankRequest<'_>,
        zones: &ZoneIndex,
        params: &RankParams,
    ) -> Vec<Ranked> {
        if req.limit == 0 {
            return Vec::new();
        }
        let origin = self.plane.project(req.target);
        let mut found: Vec<Ranked> = Vec::with_capacity(req.limit.min(64) + 1);
        let home: Vec<&Ident> = zones.containing(req.incident).collect();
        // Fastest mode first: its candidates tighten the bound for the slower trees.
        const MODES: [TravelMode; 3] = [TravelMode::Car, TravelMode::Bike, TravelMode::Foot];
        // Responders of the incident's own zones, who may earn the zone preference.
        for z in &home {
            if let Some(trees) = self.zone_trees.get(*z) {
                for mode in MODES {
                    let bonus = params.zone_preference_secs;
                    self.walk(
                        &trees[mode_slot(mode)],
                        mode,
                        bonus,
                        origin,
                        req,
                        zones,
                        params,
                        &mut found,
                        |_| true,
                    );
                }
            }
        }
        // Everyone else: no preference to account for.
        for mode in MODES {
            self.walk(
                &self.trees[mode_slot(mode)],
                mode,
                0.0,
                origin,
                req,
                zones,
                params,
                &mut found,
                |r| !r.zone_id.as_ref().is_some_and(|z| home.contains(&z)),
            );
        }
        found
    }

    /// Walks `tree` outwards from `origin`, adding candidates to `found` (kept sorted and
    /// at most `req.limit` long), until nobody further out can beat the worst kept one.
    /// `bonus` is the largest score advantage anyone in this tree can have.
    #[allow(clippy::too_many_arguments)]
    fn walk(
        &self,
        tree: &ModeTree,
        mode: TravelMode,
        bonus: f64,
        origin: [f64; 2],
        req: &RankRequest<'_>,
        zones: &ZoneIndex,
        params: &RankParams,
        found: &mut Vec<Ranked>,
        admit: impl Fn(&Responder) -> bool,
    ) {
        // The projected distance can undershoot the great-circle one by a fraction of a
        // percent; shrink it a little more so the bound stays a true lower bound.
        let lower_bound_factor = 0.98 * params.detour_factor / params.speed(mode);
        for (entry, dist2) in tree.nearest_neighbor_iter_with_distance_2(&origin) {
            if found.len() >= req.limit {
                let best_possible = dist2.sqrt() * lower_bound_factor - bonus;
                if found
                    .last()
                    .is_some_and(|worst| best_possible > worst.score)
                {
                    return;
                }
            }
            let Some(r) = self.by_id.get(&entry.data) else {
                continue;
            };
            if !admit(r) || !Self::eligible(r, req, params) {
                continue;
            }
            let Some(ranked) = self.measure(r, req, zones, params) else {
                continue;
            };
            let at = found.partition_point(|x| better(x, &ranked));
            found.insert(at, ranked);
            found.truncate(req.limit);
        }
    }

    /// Every responder, for listing.
    pub fn iter(&self) -> impl Iterator<Item = &Responder> {
        self.by_id.values()
    }
}

/// A spatial index of responder ids in plane metres.
type ModeTree = RTree<GeomWithData<[f64; 2], Ident>>;

/// Index of a travel mode's tree.
fn mode_slot(mode: TravelMode) -> usize {
    match mode {
        TravelMode::Foot => 0,
        TravelMode::Bike => 1,
        TravelMode::Car => 2,
    }
}

/// Strict order: lower score first, then lower ETA, then lower id.
fn better(a: &Ranked, b: &Ranked) -> bool {
    order(a, b).is_lt()
}

/// The ranking's order: score, then travel time, then id.
fn order(a: &Ranked, b: &Ranked) -> std::cmp::Ordering {
    a.score
        .total_cmp(&b.score)
        .then(a.eta_secs.total_cmp(&b.eta_secs))
        .then(a.responder_id.cmp(&b.responder_id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::zones::tests::rect;
    use crate::domain::ZoneKind;

    const NOW: i64 = 1_000_000_000;

    fn params() -> RankParams {
        RankParams {
            detour_factor: 1.3,
            zone_preference_secs: 120.0,
            speed_mps: [5.0 / 3.6, 15.0 / 3.6, 30.0 / 3.6],
            location_max_age_ms: 300_000,
            now_ms: NOW,
        }
    }

    fn resp(
        id: &str,
        kind: ResponderKind,
        travel: TravelMode,
        zone: Option<&str>,
        at: (f64, f64),
    ) -> Responder {
        Responder {
            id: Ident::parse(id).unwrap(),
            kind,
            travel,
            zone_id: zone.map(|z| Ident::parse(z).unwrap()),
            on_duty: true,
            position: Some(LatLon::new(at.0, at.1).unwrap()),
            fix_at_ms: Some(NOW - 10_000),
            busy: false,
        }
    }

    fn zones() -> ZoneIndex {
        ZoneIndex::new(vec![
            rect("g1", ZoneKind::Grid, (39.49, 106.69), (39.50, 106.70)),
            rect("g2", ZoneKind::Grid, (39.50, 106.69), (39.51, 106.70)),
            rect("beat", ZoneKind::Beat, (39.46, 106.66), (39.53, 106.73)),
        ])
    }

    const ALL: &[ResponderKind] = &[
        ResponderKind::GridWorker,
        ResponderKind::Patrol,
        ResponderKind::Volunteer,
    ];

    fn ids(r: &[Ranked]) -> Vec<&str> {
        r.iter().map(|x| x.responder_id.as_str()).collect()
    }

    fn request<'a>(target: LatLon, exclude: &'a HashSet<Ident>) -> RankRequest<'a> {
        RankRequest {
            target,
            incident: target,
            allowed: ALL,
            exclude,
            limit: 5,
        }
    }

    #[test]
    fn by_road_only_as_many_routes_as_can_change_the_first() {
        let mut idx = ResponderIndex::new(39.5);
        let incident = LatLon::new(39.5, 106.7).unwrap();
        // Walkers due north at 100, 200, 400 and 800 m; the nearest is across water.
        for (id, m) in [
            ("w100", 100.0),
            ("w200", 200.0),
            ("w400", 400.0),
            ("w800", 800.0),
        ] {
            idx.upsert(resp(
                id,
                ResponderKind::Volunteer,
                TravelMode::Foot,
                None,
                (39.5 + m / 111_195.0, 106.7),
            ));
        }
        let walk = 5.0 / 3.6;
        let best = |_: TravelMode, from: LatLon, to: LatLon| from.distance_m(to) / walk;
        let asked = std::cell::Cell::new(0);
        let road = |_: TravelMode, from: LatLon, to: LatLon| {
            asked.set(asked.get() + 1);
            let straight = from.distance_m(to);
            let metres = if straight < 150.0 {
                1_000.0
            } else {
                straight * 1.2
            };
            Some((metres / walk, metres))
        };
        let none = HashSet::new();
        let req = request(incident, &none);
        let found = idx.rank(&req, &zones(), &params());
        assert_eq!(ids(&found), ["w100", "w200", "w400", "w800"]);
        // One wanted: after w100 (1 km round) and w200 (240 m), nobody farther can beat w200.
        let one = idx.rerank_by_road(found.clone(), &req, &params(), 1, best, road);
        assert_eq!(ids(&one), ["w200", "w100"]);
        assert_eq!(asked.get(), 2);
        assert!(one.iter().all(|c| c.eta_source == EtaSource::Road));
        // All wanted: all measured, ranked by road.
        asked.set(0);
        let all = idx.rerank_by_road(found, &req, &params(), 4, best, road);
        assert_eq!(ids(&all), ["w200", "w400", "w800", "w100"]);
        assert_eq!(asked.get(), 4);
    }

    #[test]
    fn own_zone_worker_beats_a_slightly_closer_outsider() {
        let mut idx = ResponderIndex::new(39.5);
        // Incident in g1 near its northern edge; the g2 worker is just across, closer.
        let incident = LatLon::new(39.4990, 106.695).unwrap();
        idx.upsert(resp(
            "in",
            ResponderKind::GridWorker,
            TravelMode::Foot,
            Some("g1"),
            (39.4970, 106.695),
        ));
        idx.upsert(resp(
            "out",
            ResponderKind::GridWorker,
            TravelMode::Foot,
            Some("g2"),
            (39.5005, 106.695),
        ));
        let none = HashSet::new();
        let r = idx.rank(&request(incident, &none), &zones(), &params());
        assert_eq!(ids(&r), ["in", "out"]);
        assert!(r[0].in_zone && !r[1].in_zone);
        assert!(
            r[0].eta_secs > r[1].eta_secs,
            "the insider is slower, and still wins"
        );
    }

    #[test]
    fn much_faster_outsider_wins_over_zone_preference() {
        let mut idx = ResponderIndex::new(39.5);
        let incident = LatLon::new(39.4950, 106.695).unwrap();
        // Insider on foot 1.5 km away (~23 min), patrol car 300 m away (~47 s): gains > 120 s.
        idx.upsert(resp(
            "in",
            ResponderKind::GridWorker,
            TravelMode::Foot,
            Some("g1"),
            (39.4950, 106.6775),
        ));
        idx.upsert(resp(
            "car",
            ResponderKind::Patrol,
            TravelMode::Car,
            None,
            (39.4977, 106.695),
        ));
        let none = HashSet::new();
        let r = idx.rank(&request(incident, &none), &zones(), &params());
        assert_eq!(ids(&r), ["car", "in"]);
    }

    #[test]
    fn stale_off_duty_busy_excluded_and_disallowed_are_skipped() {
        let mut idx = ResponderIndex::new(39.5);
        let at = (39.495, 106.695);
        let mut stale = resp(
            "stale",
            ResponderKind::GridWorker,
            TravelMode::Foot,
            None,
            at,
        );
        stale.fix_at_ms = Some(NOW - 301_000);
        let mut off = resp("off", ResponderKind::GridWorker, TravelMode::Foot, None, at);
        off.on_duty = false;
        let mut busy = resp(
            "busy",
            ResponderKind::GridWorker,
            TravelMode::Foot,
            None,
            at,
        );
        busy.busy = true;
        let mut nofix = resp(
            "nofix",
            ResponderKind::GridWorker,
            TravelMode::Foot,
            None,
            at,
        );
        nofix.position = None;
        for r in [stale, off, busy, nofix] {
            idx.upsert(r);
        }
        idx.upsert(resp(
            "rejected",
            ResponderKind::GridWorker,
            TravelMode::Foot,
            None,
            at,
        ));
        idx.upsert(resp(
            "patrol",
            ResponderKind::Patrol,
            TravelMode::Car,
            None,
            (39.40, 106.60),
        ));
        idx.upsert(resp(
            "ok",
            ResponderKind::GridWorker,
            TravelMode::Foot,
            None,
            (39.497, 106.695),
        ));
        let exclude: HashSet<Ident> = [Ident::parse("rejected").unwrap()].into();
        let target = LatLon::new(at.0, at.1).unwrap();
        let r = idx.rank(&request(target, &exclude), &zones(), &params());
        assert_eq!(ids(&r), ["ok", "patrol"]);
        let patrol_only = RankRequest {
            allowed: &[ResponderKind::Patrol],
            ..request(target, &exclude)
        };
        assert_eq!(
            ids(&idx.rank(&patrol_only, &zones(), &params())),
            ["patrol"]
        );
    }

    #[test]
    fn ties_break_by_id_and_limit_holds() {
        let mut idx = ResponderIndex::new(39.5);
        for id in ["c", "a", "b"] {
            idx.upsert(resp(
                id,
                ResponderKind::GridWorker,
                TravelMode::Bike,
                None,
                (39.52, 106.72),
            ));
        }
        let none = HashSet::new();
        let req = RankRequest {
            limit: 2,
            ..request(LatLon::new(39.521, 106.72).unwrap(), &none)
        };
        assert_eq!(ids(&idx.rank(&req, &zones(), &params())), ["a", "b"]);
    }

    #[test]
    fn matches_a_brute_force_ranking_on_random_data() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let mut idx = ResponderIndex::new(39.5);
        let modes = TravelMode::ALL;
        let zone_ids = [Some("g1"), Some("g2"), Some("beat"), None];
        for i in 0..2000 {
            let mut r = resp(
                &format!("r{i:04}"),
                ResponderKind::GridWorker,
                modes[i % 3],
                zone_ids[i % 4],
                (
                    39.45 + rng.gen::<f64>() * 0.1,
                    106.65 + rng.gen::<f64>() * 0.1,
                ),
            );
            r.busy = rng.gen_bool(0.2);
            idx.upsert(r);
        }
        let none = HashSet::new();
        let z = zones();
        let p = params();
        for _ in 0..50 {
            let target = LatLon::new(
                39.45 + rng.gen::<f64>() * 0.1,
                106.65 + rng.gen::<f64>() * 0.1,
            )
            .unwrap();
            let req = RankRequest {
                limit: 3,
                ..request(target, &none)
            };
            let fast = idx.rank(&req, &z, &p);
            let mut all: Vec<Ranked> = idx
                .iter()
                .filter(|r| ResponderIndex::eligible(r, &req, &p))
                .filter_map(|r| idx.measure(r, &req, &z, &p))
                .collect();
            all.sort_by(|a, b| {
                if better(a, b) {
                    std::cmp::Ordering::Less
                } else {
                    std::cmp::Ordering::Greater
                }
            });
            all.truncate(3);
            assert_eq!(fast, all);
        }
    }
}
