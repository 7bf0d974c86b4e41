//! The coverage map's snapshot: what `dispatch::coverage` needs from the engine, handed
//! out in one command that copies the free responders and nothing else.

use std::collections::HashSet;

use super::offers::rank_params;
use super::Engine;
use crate::dispatch::coverage::{CoverageSnapshot, CoverageVersion};
use crate::dispatch::{DispatchError, Reply};
use crate::domain::coverage::{CoverRules, Unit};
use crate::domain::ranking::{RankParams, RankRequest, ResponderIndex};
use crate::domain::{Ident, LatLon};
use crate::store::now_ms;

impl Engine {
    /// The ranking's rules as the coverage map and the task routes time a responder.
    pub(super) fn cover_rules(&self, params: &RankParams) -> CoverRules {
        CoverRules {
            detour_factor: self.rules.detour_factor,
            speed_mps: params.speed_mps,
            candidates: self.rules.road_candidates,
        }
    }

    /// Answers `None` when the state is still `known`, else a fresh snapshot.
    pub(super) fn on_coverage(
        &self,
        zone: &Ident,
        kind: Option<&str>,
        known: Option<CoverageVersion>,
        reply: Reply<Option<Box<CoverageSnapshot>>>,
    ) {
        let _ = reply.send(self.coverage_snapshot(zone, kind, known));
    }

    fn coverage_snapshot(
        &self,
        zone: &Ident,
        kind: Option<&str>,
        known: Option<CoverageVersion>,
    ) -> Result<Option<Box<CoverageSnapshot>>, DispatchError> {
        let Some(z) = self.zones.get(zone) else {
            return Err(DispatchError::NotFound(format!("zone {zone}")));
        };
        let version = (self.responders.version(), self.zones_epoch);
        if known == Some(version) {
            return Ok(None);
        }
        let now = now_ms();
        let params = rank_params(&self.rules, now);
        let nobody = HashSet::new();
        // Eligibility is the ranking's own, for an incident of `kind` anywhere.
        let req = RankRequest {
            target: LatLon { lat: 0.0, lon: 0.0 },
            incident: LatLon { lat: 0.0, lon: 0.0 },
            allowed: self.rules.allowed_for(kind.unwrap_or("default")),
            exclude: &nobody,
            limit: 0,
        };
        let mut valid_until_ms = i64::MAX;
        let units = self
            .responders
            .iter()
            .filter(|r| ResponderIndex::eligible(r, &req, &params))
            .filter_map(|r| {
                let fix = r.fix_at_ms?;
                valid_until_ms = valid_until_ms.min(fix + params.location_max_age_ms);
                Some(Unit {
                    id: r.id.clone(),
                    mode: r.travel,
                    at: r.position?,
                })
            })
            .collect();
        Ok(Some(Box::new(CoverageSnapshot {
            version,
            shape: z.shape.clone(),
            units,
            valid_until_ms,
            roads: self.roads.clone(),
            rules: self.cover_rules(&params),
            snap_m: self.rules.road_snap_m,
        })))
    }
}
