//! Offers: ranking the candidates, making offers, their deadlines and expiry, escalation
//! to the operators, and ending tasks.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};

use super::{new_id, Change, Engine, DISPATCHER};
use crate::config::DispatchSettings;
use crate::dispatch::messages::{clear_task, closed_outgoing, task_outgoing};
use crate::dispatch::{DispatchError, Reply};
use crate::domain::alert::{field_reporter, Rendezvous};
use crate::domain::closed_loop::TaskPurpose;
use crate::domain::ranking::{RankParams, RankRequest, Ranked};
use crate::domain::timeline::Event;
use crate::domain::{Ident, IncidentState, LatLon, TaskStatus, TravelMode};
use crate::store::{now_ms, IncidentRow, TaskRow, Write};

/// What an incident that needs a responder gets next.
#[derive(Debug, Clone, PartialEq)]
enum OfferPlan {
    /// Offers to this many of the best candidates at once.
    Offer(usize),
    /// Back to the operators, for this reason.
    Escalate(Event),
}

/// How many offers an incident gets now: two at once when it is urgent enough, never past
/// the most offers an incident may have, after which it is escalated.
fn offer_plan(incident: &IncidentRow, rules: &DispatchSettings) -> OfferPlan {
    let max = i64::from(rules.max_offers);
    if incident.offers_made >= max {
        let offers = rules.max_offers;
        return OfferPlan::Escalate(Event::NoAcceptance { offers });
    }
    let wanted: i64 = if incident.severity <= i64::from(rules.double_offer_max_severity) {
        2
    } else {
        1
    };
    OfferPlan::Offer(wanted.min(max - incident.offers_made) as usize)
}

/// What follows when an offer ended without acceptance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AfterFailure {
    /// Nothing yet: the incident no longer dispatches, or another offer is still out.
    Wait,
    /// The operator chose this responder: the choice goes back to the operators.
    Escalate,
    /// Try the next candidate.
    OfferNext,
}

fn after_failure(incident: &IncidentRow, offer_outstanding: bool) -> AfterFailure {
    if incident.state != IncidentState::Dispatching || offer_outstanding {
        AfterFailure::Wait
    } else if incident.manual {
        AfterFailure::Escalate
    } else {
        AfterFailure::OfferNext
    }
}

/// The ranking's tunables from the rules, at `now`.
pub(super) fn rank_params(rules: &DispatchSettings, now: i64) -> RankParams {
    let s = &rules.speed_kmh;
    RankParams {
        detour_factor: rules.detour_factor,
        zone_preference_secs: rules.zone_preference_secs,
        speed_mps: [s.foot / 3.6, s.bike / 3.6, s.car / 3.6],
        location_max_age_ms: rules.location_max_age_secs as i64 * 1000,
        now_ms: now,
    }
}

/// What to rank for an incident: responders go to its rendezvous when it has one, its
/// zone is where the incident is, and those in `exclude` are not offered it again.
pub(super) fn rank_request<'a>(
    rules: &'a DispatchSettings,
    incident: &'a IncidentRow,
    exclude: &'a HashSet<Ident>,
    limit: usize,
) -> RankRequest<'a> {
    let at = LatLon {
        lat: incident.lat,
        lon: incident.lon,
    };
    let rendezvous: Option<Rendezvous> = incident
        .rendezvous
        .as_deref()
        .and_then(|r| serde_json::from_str(r).ok());
    RankRequest {
        target: rendezvous.map_or(at, |r| r.point()),
        incident: at,
        allowed: rules.allowed_for(&incident.kind),
        exclude,
        limit,
    }
}

/// A new offer of an incident to a responder, who must answer within the ack timeout.
pub(super) fn new_offer(
    incident_id: &str,
    responder: &Ident,
    ranked: Option<&Ranked>,
    rules: &DispatchSettings,
    now: i64,
) -> TaskRow {
    TaskRow {
        id: new_id("tsk"),
        incident_id: incident_id.to_owned(),
        responder_id: responder.to_string(),
        status: TaskStatus::Offered,
        version: 1,
        status_version: 1,
        offered_at: now,
        respond_by: now + rules.ack_timeout_secs as i64 * 1000,
        eta_secs: ranked.map(|r| r.eta_secs),
        distance_m: ranked.map(|r| r.distance_m),
        note: None,
        updated_at: now,
        accepted_at: None,
        purpose: TaskPurpose::Respond,
        purpose_note: None,
    }
}

impl Engine {
    /// The best `limit` candidates for an incident now.
    /// Whoever reported it from the phone is not offered it: they asked for help with it.
    fn rank_for(&self, incident: &IncidentRow, limit: usize) -> Vec<Ranked> {
        let failed = self.offers.excluded(&incident.id);
        let reporter = incident
            .milestones
            .source_id
            .as_deref()
            .and_then(field_reporter);
        let exclude = match reporter {
            Some(rid) => Cow::Owned(failed.iter().cloned().chain([rid]).collect()),
            None => Cow::Borrowed(failed),
        };
        // With roads, more straight-line candidates are measured by road and re-ranked.
        let wider = match self.roads {
            Some(_) => limit.max(self.rules.road_candidates),
            None => limit,
        };
        let req = rank_request(&self.rules, incident, &exclude, wider);
        let params = rank_params(&self.rules, now_ms());
        let found = self.responders.rank(&req, &self.zones, &params);
        let mut ranked = self.by_road(found, &req, &params, limit);
        ranked.truncate(limit);
        ranked
    }

    /// `found` re-ranked by road travel time when roads are loaded.
    fn by_road(
        &self,
        found: Vec<Ranked>,
        req: &RankRequest<'_>,
        params: &RankParams,
        keep: usize,
    ) -> Vec<Ranked> {
        let Some(roads) = &self.roads else {
            return found;
        };
        let snap_m = self.rules.road_snap_m;
        // Each point is snapped once: the target once per mode rather than once per
        // candidate, and a candidate once for both its bound and its route. Snapping was
        // the largest part of the ranking's road cost (docs/benchmarks/roads.md).
        let snapped: RefCell<HashMap<(TravelMode, u64, u64), Option<usize>>> = RefCell::default();
        let node = |mode: TravelMode, p: LatLon| {
            *snapped
                .borrow_mut()
                .entry((mode, p.lat.to_bits(), p.lon.to_bits()))
                .or_insert_with(|| roads.snap(mode, p, snap_m))
        };
        self.responders.rerank_by_road(
            found,
            req,
            params,
            keep,
            |mode, from, to| match (node(mode, from), node(mode, to)) {
                (Some(a), Some(b)) => roads.fastest_secs_between(mode, a, b),
                _ => 0.0,
            },
            |mode, from, to| roads.travel_between(mode, node(mode, from)?, node(mode, to)?),
        )
    }

    /// The estimate for one responder an operator chose, eligible or not.
    pub(super) fn estimate_for(&self, incident_id: &str, responder: &Ident) -> Option<Ranked> {
        let incident = self.incidents.get(incident_id)?;
        let exclude = self.offers.excluded(incident_id);
        let req = rank_request(&self.rules, incident, exclude, 1);
        let params = rank_params(&self.rules, now_ms());
        let one = self
            .responders
            .estimate(responder, &req, &self.zones, &params)?;
        self.by_road(vec![one], &req, &params, 1).pop()
    }

    /// Answers with the engine's own ranking for an open incident.
    pub(super) fn on_candidates(
        &mut self,
        incident_id: &str,
        limit: usize,
        reply: Reply<Vec<Ranked>>,
    ) {
        let result = match self.incidents.get(incident_id) {
            Some(i) => Ok(self.rank_for(i, limit)),
            None => Err(DispatchError::NotFound(format!(
                "open incident {incident_id}"
            ))),
        };
        let _ = reply.send(result);
    }

    /// Offers the incident to the next best candidates, or escalates.
    pub(super) fn offer_next(&mut self, incident_id: &str, change: &mut Change, now: i64) {
        let Some(incident) = self.incidents.get(incident_id) else {
            return;
        };
        let wanted = match offer_plan(incident, &self.rules) {
            OfferPlan::Offer(n) => n,
            OfferPlan::Escalate(why) => return self.escalate(incident_id, why, change, now),
        };
        let picks = self.rank_for(incident, wanted);
        if picks.is_empty() {
            self.escalate(incident_id, Event::NoResponder, change, now);
            return;
        }
        let responders = picks.iter().map(|p| p.responder_id.to_string()).collect();
        let note = Event::Offered { responders };
        self.set_state(
            incident_id,
            IncidentState::Dispatching,
            DISPATCHER,
            Some(note),
            change,
            now,
        );
        for pick in picks {
            self.make_offer(incident_id, &pick.responder_id, Some(&pick), change, now);
        }
    }

    /// Offers the incident to one responder: a new task, retained in its inbox, answered
    /// by its deadline.
    pub(super) fn make_offer(
        &mut self,
        incident_id: &str,
        responder: &Ident,
        ranked: Option<&Ranked>,
        change: &mut Change,
        now: i64,
    ) {
        let purpose = (TaskPurpose::Respond, None);
        self.make_offer_for(incident_id, responder, ranked, purpose, change, now);
    }

    /// As [`Engine::make_offer`], for a task with its own purpose and the reason given
    /// with it (a rework).
    pub(super) fn make_offer_for(
        &mut self,
        incident_id: &str,
        responder: &Ident,
        ranked: Option<&Ranked>,
        (purpose, purpose_note): (TaskPurpose, Option<String>),
        change: &mut Change,
        now: i64,
    ) {
        let Some(incident) = self.incidents.count_offer(incident_id, now) else {
            return;
        };
        change.writes.push(Write::UpdateIncident(incident.clone()));
        let mut task = new_offer(incident_id, responder, ranked, &self.rules, now);
        task.purpose = purpose;
        task.purpose_note = purpose_note;
        change.writes.push(Write::InsertTask(task.clone()));
        let snapshots = self.incidents.snapshots(incident_id);
        let message = task_outgoing(&task, &incident, snapshots, &self.snapshot_files);
        change.publish.push(message);
        self.metrics.offers_total.inc();
        tracing::info!(incident = incident_id, responder = %responder, task = %task.id, "offer sent");
        self.responders.set_busy(responder, true);
        self.offers.add_offer(task);
    }

    /// Hands the incident to the operators.
    pub(super) fn escalate(
        &mut self,
        incident_id: &str,
        why: Event,
        change: &mut Change,
        now: i64,
    ) {
        if self.set_state(
            incident_id,
            IncidentState::Escalated,
            DISPATCHER,
            Some(why.clone()),
            change,
            now,
        ) {
            self.metrics.escalations_total.inc();
            tracing::warn!(incident = incident_id, reason = %why, "incident escalated to operators");
        }
    }

    /// Takes a task out of the responder's inbox with a final status: a notice why, then
    /// the retained message cleared. Returns its incident.
    pub(super) fn end_task(
        &mut self,
        task_id: &str,
        status: TaskStatus,
        note: Option<&str>,
        change: &mut Change,
        now: i64,
    ) -> Option<String> {
        let task = self.offers.end(task_id, status, note, now)?;
        change.writes.push(Write::UpdateTask(task.clone()));
        change.publish.push(closed_outgoing(&task, now));
        change
            .publish
            .push(clear_task(&task.responder_id, &task.id));
        if let Ok(rid) = Ident::parse(&task.responder_id) {
            let still_busy = self.offers.holds_task(&task.responder_id);
            self.responders.set_busy(&rid, still_busy);
        }
        Some(task.incident_id)
    }

    /// Ends each task with `status`, then lets every incident concerned move on (the
    /// next offer, or back to the operators). Returns how many tasks were ended.
    pub(super) fn end_tasks(
        &mut self,
        task_ids: Vec<String>,
        status: TaskStatus,
        note: &str,
        change: &mut Change,
        now: i64,
    ) -> usize {
        let mut incidents = Vec::new();
        for tid in task_ids {
            if let Some(iid) = self.end_task(&tid, status, Some(note), change, now) {
                tracing::info!(task = %tid, incident = %iid, %status, note, "task ended");
                incidents.push(iid);
            }
        }
        let ended = incidents.len();
        for iid in incidents {
            self.after_offer_failed(&iid, change, now);
        }
        ended
    }

    /// An offer ended without acceptance: wait for the other outstanding offer, hand back
    /// to the operator who chose, or try the next candidate.
    pub(super) fn after_offer_failed(&mut self, incident_id: &str, change: &mut Change, now: i64) {
        let Some(incident) = self.incidents.get(incident_id) else {
            return;
        };
        if incident.state == IncidentState::Resolved {
            // Only a verification is offered for resolved work: it goes to the next inspector.
            return self.offer_inspection(incident_id, change, now);
        }
        let outstanding = self.offers.has_outstanding_offer(incident_id);
        match after_failure(incident, outstanding) {
            AfterFailure::Wait => {}
            AfterFailure::Escalate => {
                self.escalate(incident_id, Event::ChosenDeclined, change, now)
            }
            AfterFailure::OfferNext => self.offer_next(incident_id, change, now),
        }
    }

    /// Ends the offers whose respond-by time has passed.
    pub(super) fn expire_due(&mut self) {
        let now = now_ms();
        let due = self.offers.due(now);
        if due.is_empty() {
            return;
        }
        let mut change = Change::default();
        let expired = self.end_tasks(
            due,
            TaskStatus::Expired,
            "no answer in time",
            &mut change,
            now,
        );
        self.metrics.offers_expired_total.inc_by(expired as u64);
        self.stage(change, |_| {});
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::config::SpeedSettings;
    use crate::domain::ranking::{Responder, ResponderIndex};
    use crate::domain::zones::ZoneIndex;
    use crate::domain::{ResponderKind, TravelMode};

    fn rules() -> DispatchSettings {
        DispatchSettings {
            ack_timeout_secs: 60,
            max_offers: 3,
            location_max_age_secs: 600,
            zone_preference_secs: 0.0,
            detour_factor: 1.3,
            road_candidates: 8,
            road_snap_m: 200.0,
            double_offer_max_severity: 1,
            speed_kmh: SpeedSettings {
                foot: 5.0,
                bike: 15.0,
                car: 30.0,
            },
            allowed_kinds: BTreeMap::from([(
                "default".to_owned(),
                vec![ResponderKind::GridWorker],
            )]),
        }
    }

    fn incident(severity: i64, offers_made: i64) -> IncidentRow {
        IncidentRow {
            id: "inc-1".into(),
            kind: "fire".into(),
            severity,
            state: IncidentState::Dispatching,
            lat: 30.5,
            lon: 114.3,
            zone_id: None,
            title: "fire".into(),
            description: None,
            address: None,
            rendezvous: None,
            offers_made,
            manual: false,
            created_at: 0,
            updated_at: 0,
            last_alert_at: 0,
            milestones: Default::default(),
        }
    }

    fn ident(s: &str) -> Ident {
        Ident::parse(s).unwrap_or_else(|e| panic!("{e}"))
    }

    fn worker(id: &str, lat: f64) -> Responder {
        Responder {
            id: ident(id),
            kind: ResponderKind::GridWorker,
            travel: TravelMode::Foot,
            zone_id: None,
            on_duty: true,
            position: Some(LatLon { lat, lon: 114.3 }),
            fix_at_ms: Some(0),
            busy: false,
        }
    }

    #[test]
    fn urgent_incidents_get_two_offers_at_once_others_one() {
        let r = rules();
        assert_eq!(offer_plan(&incident(1, 0), &r), OfferPlan::Offer(2));
        assert_eq!(offer_plan(&incident(2, 0), &r), OfferPlan::Offer(1));
        // Never past the most offers: one left.
        assert_eq!(offer_plan(&incident(1, 2), &r), OfferPlan::Offer(1));
    }

    #[test]
    fn an_incident_past_its_most_offers_is_escalated() {
        assert_eq!(
            offer_plan(&incident(3, 3), &rules()),
            OfferPlan::Escalate(Event::NoAcceptance { offers: 3 })
        );
    }

    #[test]
    fn a_failed_offer_waits_for_the_other_then_offers_next_or_goes_back_to_the_operator() {
        let mut i = incident(3, 1);
        assert_eq!(after_failure(&i, true), AfterFailure::Wait);
        assert_eq!(after_failure(&i, false), AfterFailure::OfferNext);
        i.manual = true;
        assert_eq!(after_failure(&i, false), AfterFailure::Escalate);
        i.state = IncidentState::Assigned;
        assert_eq!(after_failure(&i, false), AfterFailure::Wait);
    }

    #[test]
    fn an_offer_must_be_answered_within_the_ack_timeout() {
        let t = new_offer("inc-1", &ident("w1"), None, &rules(), 1_000);
        assert_eq!(t.status, TaskStatus::Offered);
        assert_eq!(t.respond_by, 61_000);
        assert_eq!((t.version, t.status_version), (1, 1));
        assert_eq!(t.responder_id, "w1");
    }

    #[test]
    fn the_next_offer_skips_who_already_lost_one_and_the_wrong_kinds() {
        let r = rules();
        let mut index = ResponderIndex::new(30.5);
        index.upsert(worker("near", 30.501));
        index.upsert(worker("far", 30.51));
        let mut patrol = worker("patrol", 30.5001);
        patrol.kind = ResponderKind::Patrol;
        index.upsert(patrol);
        let zones = ZoneIndex::default();
        let params = rank_params(&r, 1_000);
        let i = incident(3, 1);
        let nobody = HashSet::new();
        let first = index.rank(&rank_request(&r, &i, &nobody, 1), &zones, &params);
        assert_eq!(first.first().map(|c| c.responder_id.as_str()), Some("near"));
        let lost = HashSet::from([ident("near")]);
        let next = index.rank(&rank_request(&r, &i, &lost, 1), &zones, &params);
        assert_eq!(next.first().map(|c| c.responder_id.as_str()), Some("far"));
    }

    #[test]
    fn responders_are_ranked_towards_the_rendezvous_point() {
        let r = rules();
        let mut index = ResponderIndex::new(30.5);
        index.upsert(worker("south", 30.49));
        index.upsert(worker("north", 30.52));
        let mut i = incident(3, 0);
        i.rendezvous = Some(r#"{"lat":30.521,"lon":114.3}"#.into());
        let nobody = HashSet::new();
        let req = rank_request(&r, &i, &nobody, 1);
        assert_eq!(
            req.incident,
            LatLon {
                lat: 30.5,
                lon: 114.3
            }
        );
        let best = index.rank(&req, &ZoneIndex::default(), &rank_params(&r, 0));
        assert_eq!(best.first().map(|c| c.responder_id.as_str()), Some("north"));
    }
}
