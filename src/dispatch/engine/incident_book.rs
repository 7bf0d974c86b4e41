//! The open incidents with what must follow them: the positions of those alerts may still
//! join, and the snapshots their task messages carry.
//!
//! Invariants, kept by every method here:
//! - an incident is joinable (in the point index) while it is open and not resolved;
//! - a closed or cancelled incident leaves the book with its snapshots;
//! - every state change passes [`IncidentState::can_become`].

use std::collections::HashMap;

use crate::config::{CorrelationSettings, DeadlineSettings};
use crate::domain::nearby::PointIndex;
use crate::domain::{closed_loop, IncidentState, LatLon};
use crate::store::{IncidentRow, Milestones, SnapshotRow};

/// Open incidents, the joinable index and their snapshots (see the module docs).
#[derive(Debug)]
pub(super) struct Incidents {
    /// Open incidents by id.
    by_id: HashMap<String, IncidentRow>,
    /// Positions of the open incidents that alerts may still join (not resolved).
    joinable: PointIndex,
    /// Open incident id → its snapshots, in order.
    snapshots: HashMap<String, Vec<SnapshotRow>>,
    /// How many open incidents are in each state, kept with every change so the gauges
    /// never walk the whole book.
    in_state: HashMap<IncidentState, usize>,
}

/// What became of a requested state change.
#[derive(Debug, Clone)]
pub(super) enum Transition {
    /// Not an open incident.
    Missing,
    /// The state machine does not allow it; nothing changed.
    Refused(IncidentState),
    /// Done: the state before, and the incident after.
    Moved(IncidentState, Box<IncidentRow>),
}

fn position(i: &IncidentRow) -> LatLon {
    LatLon {
        lat: i.lat,
        lon: i.lon,
    }
}

impl Incidents {
    /// An empty book whose index is true around `ref_lat` degrees.
    pub(super) fn new(ref_lat: f64) -> Incidents {
        Incidents {
            by_id: HashMap::new(),
            joinable: PointIndex::new(ref_lat),
            snapshots: HashMap::new(),
            in_state: HashMap::new(),
        }
    }

    /// The stored open incidents and their snapshots.
    pub(super) fn load(
        ref_lat: f64,
        rows: impl IntoIterator<Item = IncidentRow>,
        snapshots: impl IntoIterator<Item = SnapshotRow>,
    ) -> Incidents {
        let mut book = Incidents::new(ref_lat);
        for i in rows {
            if i.state != IncidentState::Resolved {
                book.joinable.insert(&i.id, position(&i));
            }
            *book.in_state.entry(i.state).or_default() += 1;
            book.by_id.insert(i.id.clone(), i);
        }
        for snap in snapshots {
            book.snapshots
                .entry(snap.incident_id.clone())
                .or_default()
                .push(snap);
        }
        book
    }

    /// A new incident (state `new`), joinable at once.
    pub(super) fn open(&mut self, incident: IncidentRow) {
        self.joinable.insert(&incident.id, position(&incident));
        *self.in_state.entry(incident.state).or_default() += 1;
        self.by_id.insert(incident.id.clone(), incident);
    }

    /// The nearest open incident of `kind` within the radius whose last alert is within
    /// the window; ties go to the smaller id.
    pub(super) fn correlate(
        &self,
        rules: &CorrelationSettings,
        kind: &str,
        at: LatLon,
        now: i64,
    ) -> Option<String> {
        let window_ms = rules.window_secs as i64 * 1000;
        self.joinable
            .within(at, rules.radius_m)
            .filter_map(|(id, d)| Some((d, self.by_id.get(id)?)))
            .filter(|(_, i)| i.kind == kind && now - i.last_alert_at <= window_ms)
            .min_by(|a, b| a.0.total_cmp(&b.0).then(a.1.id.cmp(&b.1.id)))
            .map(|(_, i)| i.id.clone())
    }

    /// Another alert joined: the incident is as recent as it, and as urgent as the most
    /// urgent of its alerts (1 is the most urgent); a more urgent one brings its deadline
    /// forward (counted from the opening), never back. One without a deadline (opened
    /// before deadlines existed) gets none.
    pub(super) fn join_alert(
        &mut self,
        id: &str,
        severity: i64,
        deadlines: &DeadlineSettings,
        now: i64,
    ) -> Option<IncidentRow> {
        let incident = self.by_id.get_mut(id)?;
        incident.last_alert_at = now;
        incident.updated_at = now;
        incident.severity = incident.severity.min(severity);
        let due = deadlines.due_at(&incident.kind, incident.severity, incident.created_at);
        if let Some(at) = incident.milestones.due_at.as_mut() {
            *at = (*at).min(due);
        }
        Some(incident.clone())
    }

    /// One more offer made for the incident.
    pub(super) fn count_offer(&mut self, id: &str, now: i64) -> Option<IncidentRow> {
        let incident = self.by_id.get_mut(id)?;
        incident.offers_made += 1;
        incident.milestones.first_offer_at.get_or_insert(now);
        incident.updated_at = now;
        Some(incident.clone())
    }

    /// `responder` resolved the incident's work (the report credits the incident to them).
    pub(super) fn set_resolver(&mut self, id: &str, responder: &str) {
        if let Some(incident) = self.by_id.get_mut(id) {
            incident.milestones.resolver_id = Some(responder.to_owned());
        }
    }

    /// Sets (or with `None` clears) the incident's pending extension request.
    pub(super) fn set_extension_request(
        &mut self,
        id: &str,
        request: Option<String>,
        now: i64,
    ) -> Option<IncidentRow> {
        let incident = self.by_id.get_mut(id)?;
        incident.milestones.extension_request = request;
        incident.updated_at = now;
        Some(incident.clone())
    }

    /// An extension of `minutes` granted: the deadline moves later, the request is done.
    pub(super) fn grant_extension(
        &mut self,
        id: &str,
        minutes: u32,
        now: i64,
    ) -> Option<IncidentRow> {
        let incident = self.by_id.get_mut(id)?;
        let m = &mut incident.milestones;
        m.due_at = closed_loop::extended(m.due_at, minutes);
        m.extension_count += 1;
        m.extension_request = None;
        incident.updated_at = now;
        Some(incident.clone())
    }

    /// An operator chose the responder: a failed offer goes back to the operators.
    pub(super) fn mark_manual(&mut self, id: &str) -> bool {
        self.by_id.get_mut(id).map(|i| i.manual = true).is_some()
    }

    /// Moves an incident to `to` if the state machine allows it. A resolved incident is no
    /// longer joinable; a closed or cancelled one leaves the book.
    pub(super) fn transition(&mut self, id: &str, to: IncidentState, now: i64) -> Transition {
        let Some(incident) = self.by_id.get_mut(id) else {
            return Transition::Missing;
        };
        let from = incident.state;
        if !from.can_become(to) {
            return Transition::Refused(from);
        }
        incident.state = to;
        incident.updated_at = now;
        if let Some(n) = self.in_state.get_mut(&from) {
            *n = n.saturating_sub(1);
        }
        if !to.is_terminal() {
            *self.in_state.entry(to).or_default() += 1;
        }
        reached(&mut incident.milestones, from, to, now);
        let row = incident.clone();
        if to.is_terminal() || to == IncidentState::Resolved {
            self.joinable.remove(id);
        } else if from == IncidentState::Resolved {
            // Sent back for rework: open work again, which alerts may join.
            self.joinable.insert(id, position(&row));
        }
        if to.is_terminal() {
            self.by_id.remove(id);
            self.snapshots.remove(id);
        }
        Transition::Moved(from, Box::new(row))
    }

    /// How many open incidents are in `state`.
    pub(super) fn count_in(&self, state: IncidentState) -> usize {
        self.in_state.get(&state).copied().unwrap_or(0)
    }

    /// Adds a stored snapshot (once; kept in order of `n`). False when the incident is not
    /// open.
    pub(super) fn add_snapshot(&mut self, row: SnapshotRow) -> bool {
        if !self.by_id.contains_key(&row.incident_id) {
            return false;
        }
        let list = self.snapshots.entry(row.incident_id.clone()).or_default();
        if !list.iter().any(|s| s.n == row.n) {
            list.push(row);
            list.sort_by_key(|s| s.n);
        }
        true
    }

    /// The snapshots of an open incident, in order.
    pub(super) fn snapshots(&self, id: &str) -> &[SnapshotRow] {
        self.snapshots
            .get(id)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// An open incident.
    pub(super) fn get(&self, id: &str) -> Option<&IncidentRow> {
        self.by_id.get(id)
    }

    /// Whether the incident is open.
    pub(super) fn contains(&self, id: &str) -> bool {
        self.by_id.contains_key(id)
    }

    /// Every open incident.
    pub(super) fn iter(&self) -> impl Iterator<Item = &IncidentRow> {
        self.by_id.values()
    }

    /// Open incidents.
    pub(super) fn len(&self) -> usize {
        self.by_id.len()
    }
}

/// Records in `m` that the incident went from `from` to `to` at `at`: the first acceptance
/// and arrival, the last resolution (a reworked case is resolved again), its end, each
/// escalation, rework and suspension; leaving a suspension moves the deadline later by the
/// time suspended.
fn reached(m: &mut Milestones, from: IncidentState, to: IncidentState, at: i64) {
    if from == IncidentState::Suspended {
        m.due_at = closed_loop::resumed(m.due_at, m.suspended_at, at);
        m.suspended_at = None;
    }
    if to == IncidentState::Resolved || to.is_terminal() {
        // The work is done: a request for more time is moot.
        m.extension_request = None;
    }
    if from == IncidentState::Resolved && to == IncidentState::Dispatching {
        m.rework_count += 1;
    }
    match to {
        IncidentState::Assigned => {
            m.accepted_at.get_or_insert(at);
        }
        IncidentState::OnScene => {
            m.on_scene_at.get_or_insert(at);
        }
        IncidentState::Resolved => m.resolved_at = Some(at),
        IncidentState::Closed | IncidentState::Cancelled => m.ended_at = Some(at),
        IncidentState::Escalated => m.escalation_count += 1,
        IncidentState::Suspended => {
            m.suspension_count += 1;
            m.suspended_at = Some(at);
        }
        IncidentState::New | IncidentState::Dispatching | IncidentState::EnRoute => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn incident(id: &str, kind: &str, lat: f64, lon: f64, last_alert_at: i64) -> IncidentRow {
        IncidentRow {
            id: id.into(),
            kind: kind.into(),
            severity: 3,
            state: IncidentState::New,
            lat,
            lon,
            zone_id: None,
            title: kind.into(),
            description: None,
            address: None,
            rendezvous: None,
            offers_made: 0,
            manual: false,
            created_at: last_alert_at,
            updated_at: last_alert_at,
            last_alert_at,
            milestones: Default::default(),
        }
    }

    fn snapshot(incident: &str, n: i64) -> SnapshotRow {
        SnapshotRow {
            incident_id: incident.into(),
            n,
            camera_id: "cam1".into(),
            taken_at: 0,
            source: "stream".into(),
            bytes: 1,
            width: None,
            height: None,
        }
    }

    const RULES: CorrelationSettings = CorrelationSettings {
        radius_m: 200.0,
        window_secs: 600,
    };

    fn at(lat: f64, lon: f64) -> LatLon {
        LatLon { lat, lon }
    }

    #[test]
    fn an_alert_joins_the_nearest_incident_of_its_kind_within_distance_and_time() {
        let mut book = Incidents::new(30.5);
        // ~110 m and ~55 m north of the alert; another kind even closer; one too far.
        book.open(incident("far", "fire", 30.501, 114.3, 0));
        book.open(incident("near", "fire", 30.5005, 114.3, 0));
        book.open(incident("flood", "flood", 30.5001, 114.3, 0));
        book.open(incident("away", "fire", 30.51, 114.3, 0));
        let here = at(30.5, 114.3);
        assert_eq!(
            book.correlate(&RULES, "fire", here, 600_000),
            Some("near".into())
        );
        // Past the window since the last alert: a new incident.
        assert_eq!(book.correlate(&RULES, "fire", here, 600_001), None);
        assert_eq!(book.correlate(&RULES, "smoke", here, 0), None);
    }

    #[test]
    fn a_resolved_incident_takes_no_more_alerts_and_a_closed_one_leaves() {
        let mut book = Incidents::new(30.5);
        book.open(incident("i1", "fire", 30.5, 114.3, 0));
        for to in [
            IncidentState::Dispatching,
            IncidentState::Assigned,
            IncidentState::Resolved,
        ] {
            assert!(matches!(
                book.transition("i1", to, 1),
                Transition::Moved(..)
            ));
        }
        assert!(book.contains("i1"));
        assert_eq!(book.correlate(&RULES, "fire", at(30.5, 114.3), 1), None);
        assert!(book.add_snapshot(snapshot("i1", 1)));
        let moved = book.transition("i1", IncidentState::Closed, 2);
        assert!(
            matches!(moved, Transition::Moved(IncidentState::Resolved, ref row) if row.state == IncidentState::Closed)
        );
        assert!(!book.contains("i1"));
        assert!(book.snapshots("i1").is_empty());
        assert!(matches!(
            book.transition("i1", IncidentState::Dispatching, 3),
            Transition::Missing
        ));
    }

    #[test]
    fn the_count_by_state_follows_openings_changes_and_closings() {
        let mut book = Incidents::load(
            30.5,
            [IncidentRow {
                state: IncidentState::Escalated,
                ..incident("old", "fire", 30.5, 114.3, 0)
            }],
            [],
        );
        book.open(incident("i1", "fire", 30.5, 114.3, 0));
        book.open(incident("i2", "flood", 30.6, 114.3, 0));
        book.transition("i1", IncidentState::Dispatching, 1);
        // Refused: nothing moves.
        book.transition("i2", IncidentState::Resolved, 1);
        book.transition("old", IncidentState::Cancelled, 2);
        let count = |s| book.count_in(s);
        assert_eq!(count(IncidentState::New), 1);
        assert_eq!(count(IncidentState::Dispatching), 1);
        assert_eq!(count(IncidentState::Escalated), 0);
        assert_eq!(count(IncidentState::Cancelled), 0);
        let open: usize = IncidentState::ALL.iter().map(|&s| count(s)).sum();
        assert_eq!(open, book.len());
    }

    #[test]
    fn an_illegal_state_change_is_refused_and_changes_nothing() {
        let mut book = Incidents::new(30.5);
        book.open(incident("i1", "fire", 30.5, 114.3, 0));
        assert!(matches!(
            book.transition("i1", IncidentState::Assigned, 5),
            Transition::Refused(IncidentState::New)
        ));
        assert!(matches!(
            book.transition("i1", IncidentState::Resolved, 5),
            Transition::Refused(IncidentState::New)
        ));
        let i = book.get("i1").cloned();
        assert_eq!(
            i.map(|i| (i.state, i.updated_at)),
            Some((IncidentState::New, 0))
        );
        assert!(book.correlate(&RULES, "fire", at(30.5, 114.3), 1).is_some());
    }

    fn deadlines() -> DeadlineSettings {
        DeadlineSettings {
            sev1_secs: 10,
            sev2_secs: 20,
            sev3_secs: 30,
            sev4_secs: 40,
            kinds: Default::default(),
        }
    }

    #[test]
    fn a_joined_alert_refreshes_the_incident_and_keeps_the_most_urgent_severity() {
        let mut book = Incidents::new(30.5);
        let mut i1 = incident("i1", "fire", 30.5, 114.3, 0);
        i1.milestones.due_at = Some(30_000);
        book.open(i1);
        let joined = book.join_alert("i1", 5, &deadlines(), 100);
        assert_eq!(
            joined.map(|i| (i.severity, i.last_alert_at, i.milestones.due_at)),
            Some((3, 100, Some(30_000)))
        );
        // More urgent: due sooner, counted from the opening.
        let joined = book.join_alert("i1", 1, &deadlines(), 200);
        assert_eq!(
            joined.map(|i| (i.severity, i.milestones.due_at)),
            Some((1, Some(10_000)))
        );
        // An incident from before deadlines gets none.
        book.open(incident("i2", "fire", 30.5, 114.3, 0));
        let joined = book.join_alert("i2", 1, &deadlines(), 200);
        assert_eq!(joined.map(|i| i.milestones.due_at), Some(None));
    }

    #[test]
    fn snapshots_are_kept_once_in_order_and_only_for_open_incidents() {
        let mut book = Incidents::new(30.5);
        book.open(incident("i1", "fire", 30.5, 114.3, 0));
        assert!(book.add_snapshot(snapshot("i1", 2)));
        assert!(book.add_snapshot(snapshot("i1", 1)));
        assert!(book.add_snapshot(snapshot("i1", 2)));
        let ns: Vec<i64> = book.snapshots("i1").iter().map(|s| s.n).collect();
        assert_eq!(ns, vec![1, 2]);
        assert!(!book.add_snapshot(snapshot("gone", 1)));
    }

    #[test]
    fn milestones_keep_the_first_offer_acceptance_and_arrival_and_the_last_resolution() {
        use IncidentState::*;
        let mut book = Incidents::new(30.5);
        book.open(incident("i1", "fire", 30.5, 114.3, 0));
        book.count_offer("i1", 10);
        book.count_offer("i1", 20);
        let steps = [
            (Dispatching, 10),
            (Escalated, 30),
            (Dispatching, 40),
            (Assigned, 50),
            (OnScene, 60),
            (Dispatching, 70), // reassigned by an operator
            (Assigned, 80),
            (OnScene, 90),
            (Resolved, 100),
            (Closed, 120),
        ];
        let mut last = None;
        for (to, at) in steps {
            match book.transition("i1", to, at) {
                Transition::Moved(_, row) => last = Some(row.milestones),
                other => panic!("{to} at {at}: {other:?}"),
            }
        }
        book.set_resolver("i1", "w1"); // gone once closed: changes nothing
        let m = last.unwrap_or_default();
        assert_eq!(m.first_offer_at, Some(10));
        assert_eq!(m.accepted_at, Some(50));
        assert_eq!(m.on_scene_at, Some(60));
        assert_eq!(m.resolved_at, Some(100));
        assert_eq!(m.ended_at, Some(120));
        assert_eq!(m.escalation_count, 1);
        assert_eq!(m.resolver_id, None);
    }

    #[test]
    fn rework_and_suspension_are_counted_and_a_suspension_pauses_the_deadline() {
        use IncidentState::*;
        let mut book = Incidents::new(30.5);
        let mut i = incident("i1", "fire", 30.5, 114.3, 0);
        i.milestones.due_at = Some(1_000_000);
        book.open(i);
        for (to, at) in [(Dispatching, 1), (Suspended, 100), (Dispatching, 60_100)] {
            assert!(matches!(
                book.transition("i1", to, at),
                Transition::Moved(..)
            ));
        }
        let m = book
            .get("i1")
            .map(|i| i.milestones.clone())
            .unwrap_or_default();
        assert_eq!((m.suspension_count, m.suspended_at), (1, None));
        assert_eq!(m.due_at, Some(1_060_000));
        for (to, at) in [(Assigned, 2), (Resolved, 3)] {
            assert!(matches!(
                book.transition("i1", to, at),
                Transition::Moved(..)
            ));
        }
        assert_eq!(book.correlate(&RULES, "fire", at(30.5, 114.3), 3), None);
        // Sent back: counted, and alerts may join the open work again.
        assert!(matches!(
            book.transition("i1", Dispatching, 4),
            Transition::Moved(..)
        ));
        assert_eq!(book.get("i1").map(|i| i.milestones.rework_count), Some(1));
        assert!(book.correlate(&RULES, "fire", at(30.5, 114.3), 4).is_some());
        let granted = book.grant_extension("i1", 30, 5);
        let m = granted.map(|i| i.milestones).unwrap_or_default();
        assert_eq!((m.due_at, m.extension_count), (Some(2_860_000), 1));
    }

    #[test]
    fn the_resolver_is_kept_with_the_incident() {
        let mut book = Incidents::new(30.5);
        book.open(incident("i1", "fire", 30.5, 114.3, 0));
        book.set_resolver("i1", "w1");
        book.set_resolver("i1", "w2");
        assert_eq!(
            book.get("i1")
                .and_then(|i| i.milestones.resolver_id.clone()),
            Some("w2".into())
        );
    }
}
