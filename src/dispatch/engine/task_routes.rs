//! The snapshot behind an incident's task routes (`dispatch::task_routes`): its live tasks
//! with their responders' last positions and modes, copied in one quick command.

use std::collections::HashSet;

use super::offers::{rank_params, rank_request};
use super::Engine;
use crate::dispatch::task_routes::{is_live, LiveLeg, RoutesSnapshot, MAX_ROUTES};
use crate::dispatch::{DispatchError, Reply};
use crate::domain::Ident;
use crate::store::now_ms;

impl Engine {
    /// Answers with what the routes of an open incident's live tasks need.
    pub(super) fn on_task_routes(&self, incident_id: &str, reply: Reply<Box<RoutesSnapshot>>) {
        let _ = reply.send(self.routes_snapshot(incident_id));
    }

    fn routes_snapshot(&self, incident_id: &str) -> Result<Box<RoutesSnapshot>, DispatchError> {
        let Some(incident) = self.incidents.get(incident_id) else {
            return Err(DispatchError::NotFound(format!(
                "open incident {incident_id}"
            )));
        };
        let nobody = HashSet::new();
        // The target is the ranking's own: the rendezvous point when there is one.
        let target = rank_request(&self.rules, incident, &nobody, 0).target;
        let params = rank_params(&self.rules, now_ms());
        let mut legs: Vec<LiveLeg> = self
            .offers
            .of_incident(incident_id)
            .iter()
            .filter_map(|id| self.offers.get(id))
            .filter(|t| is_live(t.status))
            .filter_map(|t| {
                let rid = Ident::parse(&t.responder_id).ok()?;
                let r = self.responders.get(&rid)?;
                Some(LiveLeg {
                    task_id: t.id.clone(),
                    responder_id: rid,
                    status: t.status,
                    mode: r.travel,
                    from: r.position?,
                    fix_at_ms: r.fix_at_ms,
                })
            })
            .collect();
        legs.sort_by(|a, b| a.task_id.cmp(&b.task_id));
        legs.truncate(MAX_ROUTES);
        Ok(Box::new(RoutesSnapshot {
            target,
            legs,
            roads: self.roads.clone(),
            rules: self.cover_rules(&params),
            snap_m: self.rules.road_snap_m,
        }))
    }
}
