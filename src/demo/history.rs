//! A month of finished cases for the demo county, written into the store when the demo
//! starts, so that `/reports` shows real figures on a fresh `scripts/run`: closed on time
//! and late, reworked, extended, suspended, escalated and cancelled, by the county's own
//! grid workers and patrols.
//!
//! Only ended incidents (closed or cancelled) are written: the engine loads the open ones
//! when it starts and must never meet a case it did not decide. Their ids start with
//! [`PREFIX`]; a database that already has them is left alone, so a restart adds nothing.
//! The month is the same at every fresh start: the generator is seeded.

use crate::config::DeadlineSettings;
use crate::domain::closed_loop::TaskPurpose;
use crate::domain::timeline::Event;
use crate::domain::{IncidentState, TaskStatus};
use std::sync::Arc;

use crate::store::points::EarnSettings;
use crate::store::{IncidentRow, Milestones, Store, StoreError, TaskRow, TimelineRow, Write};

use super::DemoCounty;

/// Ids of the written incidents start with this.
pub const PREFIX: &str = "hist-";

/// Days of history.
const DAYS: i64 = 30;

/// Kinds of the demo's cases, with their severity and how many of a day's cases they are.
const KINDS: [(&str, i64, u64); 8] = [
    ("fall", 2, 3),
    ("guidance", 2, 2),
    ("medical", 1, 1),
    ("fire", 1, 1),
    ("fight", 2, 1),
    ("flood", 3, 2),
    ("intrusion", 3, 2),
    ("traffic", 2, 2),
];

const SEC: i64 = 1000;
const MIN: i64 = 60 * SEC;
const DAY: i64 = 24 * 60 * MIN;

/// A small seeded generator (xorshift64*): the same month at every fresh start, no crate.
#[derive(Debug)]
struct Dice(u64);

impl Dice {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A whole number in `lo..=hi`.
    fn within(&mut self, lo: i64, hi: i64) -> i64 {
        let span = u64::try_from(hi - lo + 1).unwrap_or(1).max(1);
        lo + i64::try_from(self.next() % span).unwrap_or(0)
    }

    /// True `percent` times in a hundred.
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

/// Writes the month before `now` unless it is there already; returns how many incidents
/// were written.
pub async fn seed(
    store: &Store,
    county: &DemoCounty,
    deadlines: &DeadlineSettings,
    earning: Arc<EarnSettings>,
    now: i64,
) -> Result<usize, StoreError> {
    match store.incident(&format!("{PREFIX}0000")).await {
        Ok(_) => return Ok(0),
        Err(StoreError::NotFound(_)) => {}
        Err(e) => return Err(e),
    }
    let mut writes = month(county, deadlines, now);
    // The closed cases earn as the dispatcher's closes do (volunteers' points, report
    // bonuses), after every case's rows so each finds its tasks.
    let closed: Vec<(String, i64)> = writes
        .iter()
        .filter_map(|w| match w {
            Write::InsertIncident(i) if i.state == IncidentState::Closed => {
                Some((i.id.clone(), i.milestones.ended_at.unwrap_or(i.updated_at)))
            }
            _ => None,
        })
        .collect();
    writes.extend(closed.into_iter().map(|(incident_id, at_ms)| Write::Earn {
        incident_id,
        at_ms,
        settings: earning.clone(),
    }));
    let count = writes
        .iter()
        .filter(|w| matches!(w, Write::InsertIncident(_)))
        .count();
    for chunk in writes.chunks(2_000) {
        store.apply(chunk, &mut []).await?;
    }
    Ok(count)
}

/// The writes of the month before `now` (pure: the tests check its figures).
fn month(county: &DemoCounty, deadlines: &DeadlineSettings, now: i64) -> Vec<Write> {
    let mut dice = Dice(0x9E37_79B9_7F4A_7C15);
    let mut writes = Vec::new();
    let grids: Vec<_> = county.zones.iter().filter(|z| z.kind == "grid").collect();
    let bag: Vec<(&str, i64)> = KINDS
        .iter()
        .flat_map(|&(k, s, n)| std::iter::repeat_n((k, s), n as usize))
        .collect();
    let mut n = 0usize;
    for day in (1..=DAYS).rev() {
        let start = now - day * DAY;
        for _ in 0..dice.within(10, 18) {
            let Some(zone) = grids.get(dice.within(0, grids.len() as i64 - 1) as usize) else {
                continue;
            };
            let team: Vec<_> = county
                .responders
                .iter()
                .filter(|r| r.zone_id == zone.id)
                .collect();
            let Some(worker) = team.get(dice.within(0, team.len() as i64 - 1) as usize) else {
                continue;
            };
            let (kind, severity) = bag[dice.within(0, bag.len() as i64 - 1) as usize];
            let id = format!("{PREFIX}{n:04}");
            n += 1;
            // Most cases come in by day (07:00–22:00 in Wuhai, UTC+8 = 23:00–14:00 UTC).
            let created = start + dice.within(23, 38) % 24 * 60 * MIN + dice.within(0, 59) * MIN;
            let at = (
                worker.home.lat + dice.within(-20, 20) as f64 * 0.0001,
                worker.home.lon + dice.within(-20, 20) as f64 * 0.0001,
            );
            // Some cases are a volunteer's report from the phone (随手拍).
            let pick = dice.within(0, 7) as usize;
            let reporter = team
                .iter()
                .filter(|r| r.kind == "volunteer" && r.id != worker.id)
                .nth(pick)
                .map(|r| r.id.as_str());
            case(
                &mut dice,
                &mut writes,
                Case {
                    id,
                    kind,
                    severity,
                    zone_id: &zone.id,
                    worker: &worker.id,
                    at,
                    created,
                    due: deadlines.due_at(kind, severity, created),
                    other: team
                        .iter()
                        .find(|r| r.id != worker.id)
                        .map(|r| r.id.as_str()),
                    reporter,
                },
            );
        }
    }
    writes
}

/// A timeline line: when, the state it moved to (`None`: a note, no move), the note.
type Line = (i64, Option<IncidentState>, Option<Event>);

/// One case to write.
#[derive(Debug)]
struct Case<'a> {
    id: String,
    kind: &'a str,
    severity: i64,
    zone_id: &'a str,
    worker: &'a str,
    at: (f64, f64),
    created: i64,
    due: i64,
    /// Another responder of the zone, who turned the first offer down in some cases.
    other: Option<&'a str>,
    /// A volunteer of the zone who reported it from the phone (随手拍), if one did.
    reporter: Option<&'a str>,
}

/// The rows of one case, decided by the dice.
fn case(dice: &mut Dice, writes: &mut Vec<Write>, c: Case<'_>) {
    let source = match c.reporter {
        Some(volunteer) => format!("field:{volunteer}"),
        None if dice.chance(30) => "hotline".to_owned(),
        None => super::DEMO_SOURCE_ID.to_owned(),
    };
    let mut m = Milestones {
        due_at: Some(c.due),
        source_id: Some(source),
        ..Milestones::default()
    };
    // (when, the state it moved to or `None` for a note, what happened)
    let opened = Event::AlertOpened {
        alert: format!(
            "{}-{}",
            c.id,
            if c.reporter.is_some() {
                "photo"
            } else {
                "call"
            }
        ),
    };
    let mut lines: Vec<Line> = vec![(c.created, Some(IncidentState::New), Some(opened))];
    let worker = c.worker.to_owned();
    let mut tasks = Vec::new();
    let mut t = c.created + dice.within(3, 30) * SEC;
    m.first_offer_at = Some(t);
    let responders = vec![worker.clone()];
    let offered = Event::Offered { responders };
    lines.push((t, Some(IncidentState::Dispatching), Some(offered)));
    if let (Some(other), true) = (c.other, dice.chance(15)) {
        let answered = t + dice.within(20, 90) * SEC;
        tasks.push(task(
            &c.id,
            other,
            0,
            TaskStatus::Rejected,
            t,
            answered,
            None,
        ));
        t = answered;
    }
    if dice.chance(4) {
        m.escalation_count = 1;
        let back = t + dice.within(5, 30) * MIN;
        let none_free = Some(Event::NoResponder);
        lines.push((t, Some(IncidentState::Escalated), none_free));
        let assigned = Event::Assigned {
            responder: worker.clone(),
            note: None,
        };
        lines.push((back, Some(IncidentState::Dispatching), Some(assigned)));
        t = back;
    }
    let offered = t;
    if dice.chance(5) {
        // Called off before anyone arrived: a false alarm.
        let end = t + dice.within(2, 20) * MIN;
        tasks.push(task(
            &c.id,
            c.worker,
            1,
            TaskStatus::Withdrawn,
            offered,
            end,
            None,
        ));
        m.ended_at = Some(end);
        let false_alarm = Event::words(Some("现场核实为误报".into()));
        lines.push((end, Some(IncidentState::Cancelled), false_alarm));
        return finish(writes, c, m, IncidentState::Cancelled, tasks, lines);
    }
    let accepted = t + dice.within(10, 150) * SEC;
    m.accepted_at = Some(accepted);
    let took = Some(Event::Accepted {
        responder: worker.clone(),
    });
    lines.push((accepted, Some(IncidentState::Assigned), took.clone()));
    let travel = if c.severity == 1 {
        dice.within(2, 9)
    } else {
        dice.within(4, 25)
    };
    let on_scene = accepted + travel * MIN;
    m.on_scene_at = Some(on_scene);
    lines.push((on_scene, Some(IncidentState::OnScene), None));
    // About one case in eight takes far longer than its deadline allows.
    let slow = if dice.chance(12) { 30 } else { 1 };
    let work = if c.severity == 1 {
        dice.within(5, 25)
    } else {
        dice.within(10, 90)
    };
    let mut resolved = on_scene + work * MIN * slow;
    if dice.chance(5) {
        m.suspension_count = 1;
        let pause = dice.within(60, 360) * MIN;
        let waiting = Event::Suspended {
            note: Some("等待物业公司到场".into()),
        };
        lines.push((
            on_scene + 5 * MIN,
            Some(IncidentState::Suspended),
            Some(waiting),
        ));
        let back = on_scene + 5 * MIN + pause;
        let resumed = Some(Event::Resumed { note: None });
        lines.push((back, Some(IncidentState::Dispatching), resumed));
        lines.push((back + MIN, Some(IncidentState::Assigned), took));
        lines.push((back + 15 * MIN, Some(IncidentState::OnScene), None));
        m.due_at = Some(c.due + pause);
        resolved += pause;
    }
    if dice.chance(6) {
        m.extension_count = 1;
        m.due_at = m.due_at.map(|d| d + 120 * MIN);
        let granted = Event::ExtensionGranted {
            responder: worker.clone(),
            minutes: 120,
            note: None,
        };
        lines.push((on_scene + 10 * MIN, None, Some(granted)));
    }
    tasks.push(task(
        &c.id,
        c.worker,
        2,
        TaskStatus::Resolved,
        offered,
        resolved,
        Some(accepted),
    ));
    lines.push((resolved, Some(IncidentState::Resolved), None));
    if dice.chance(7) {
        // Sent back by the operator at the check, then done again.
        m.rework_count = 1;
        let back = resolved + dice.within(10, 60) * MIN;
        let again = back + dice.within(30, 120) * MIN;
        let rework = Event::Rework {
            reason: "照片未显示维修结果".into(),
        };
        lines.push((back, Some(IncidentState::Dispatching), Some(rework)));
        tasks.push(task(
            &c.id,
            c.worker,
            3,
            TaskStatus::Resolved,
            back,
            again,
            Some(back + 2 * MIN),
        ));
        lines.push((again, Some(IncidentState::Resolved), None));
        resolved = again;
    }
    m.resolved_at = Some(resolved);
    m.resolver_id = Some(c.worker.to_owned());
    let check = if c.severity == 1 {
        dice.within(3, 20)
    } else {
        dice.within(5, 60)
    };
    let closed = resolved + check * MIN;
    m.ended_at = Some(closed);
    let verified = Some(Event::Verified { note: None });
    lines.push((closed, Some(IncidentState::Closed), verified));
    finish(writes, c, m, IncidentState::Closed, tasks, lines);
}

fn task(
    incident: &str,
    responder: &str,
    n: usize,
    status: TaskStatus,
    offered: i64,
    ended: i64,
    accepted: Option<i64>,
) -> TaskRow {
    past_task(
        format!("{incident}-t{n}"),
        incident,
        responder.to_owned(),
        status,
        TaskPurpose::Respond,
        (offered, ended),
        accepted,
    )
}

/// A task of the past, as the demo's history and the benchmarks' fixtures write it: offered
/// at `offered` with two minutes to answer, last changed at `ended`, no ETA and no note.
pub fn past_task(
    id: String,
    incident: &str,
    responder: String,
    status: TaskStatus,
    purpose: TaskPurpose,
    (offered, ended): (i64, i64),
    accepted: Option<i64>,
) -> TaskRow {
    TaskRow {
        id,
        incident_id: incident.to_owned(),
        responder_id: responder,
        status,
        version: 2,
        status_version: 2,
        offered_at: offered,
        respond_by: offered + 2 * MIN,
        eta_secs: None,
        distance_m: None,
        note: None,
        updated_at: ended,
        accepted_at: accepted,
        purpose,
        purpose_note: None,
    }
}

fn finish(
    writes: &mut Vec<Write>,
    c: Case<'_>,
    milestones: Milestones,
    state: IncidentState,
    tasks: Vec<TaskRow>,
    mut lines: Vec<Line>,
) {
    let end = milestones.ended_at.unwrap_or(c.created);
    let source = milestones.source_id.clone().unwrap_or_default();
    writes.push(Write::InsertIncident(IncidentRow {
        id: c.id.clone(),
        kind: c.kind.to_owned(),
        severity: c.severity,
        state,
        lat: c.at.0,
        lon: c.at.1,
        zone_id: Some(c.zone_id.to_owned()),
        title: c.kind.to_owned(),
        description: None,
        address: None,
        rendezvous: None,
        offers_made: tasks.len() as i64,
        manual: false,
        created_at: c.created,
        updated_at: end,
        last_alert_at: c.created,
        milestones,
    }));
    writes.extend(tasks.into_iter().map(Write::InsertTask));
    let actor = |to: IncidentState| match to {
        IncidentState::New => format!("source:{source}"),
        IncidentState::Assigned | IncidentState::OnScene | IncidentState::Resolved => {
            format!("responder:{}", c.worker)
        }
        IncidentState::Dispatching | IncidentState::Escalated => "dispatcher".to_owned(),
        _ => "operator:operator".to_owned(),
    };
    lines.sort_by_key(|l| l.0);
    let mut now_in: Option<IncidentState> = None;
    for (at, to, event) in lines {
        let from = now_in;
        let to = to.or(from).unwrap_or(IncidentState::New);
        now_in = Some(to);
        let line = TimelineRow::new(&c.id, at, &actor(to), (from, to), event);
        writes.push(Write::Timeline(line));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn incidents(writes: &[Write]) -> Vec<&IncidentRow> {
        writes
            .iter()
            .filter_map(|w| match w {
                Write::InsertIncident(i) => Some(i),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_month_of_ended_cases_of_every_sort_in_order_and_the_same_each_time() {
        let deadlines =
            crate::config::Settings::load_with_env(None, Vec::<(String, String)>::new())
                .map(|s| s.deadlines)
                .unwrap_or_else(|e| panic!("{e}"));
        let now = 1_780_000_000_000;
        let county = super::super::county();
        let writes = month(&county, &deadlines, now);
        let list = incidents(&writes);
        assert!((300..=560).contains(&list.len()), "{}", list.len());
        assert!(
            list.iter().all(|i| i.state.is_terminal()),
            "only ended cases"
        );
        assert!(list
            .iter()
            .all(|i| i.created_at >= now - DAYS * DAY && i.created_at < now));
        let m = |f: &dyn Fn(&IncidentRow) -> bool| list.iter().filter(|i| f(i)).count();
        assert!(m(&|i| i.state == IncidentState::Cancelled) > 0);
        assert!(m(&|i| i.milestones.rework_count > 0) > 0);
        assert!(m(&|i| i.milestones.extension_count > 0) > 0);
        assert!(m(&|i| i.milestones.suspension_count > 0) > 0);
        assert!(m(&|i| i.milestones.escalation_count > 0) > 0);
        let late =
            m(
                &|i| {
                    i.state == IncidentState::Closed && i.milestones.ended_at > i.milestones.due_at
                },
            );
        assert!(late > 0 && late < list.len() / 3, "{late} late");
        for i in &list {
            let s = &i.milestones;
            let steps = [
                Some(i.created_at),
                s.first_offer_at,
                s.accepted_at,
                s.on_scene_at,
                s.resolved_at,
                s.ended_at,
            ];
            let known: Vec<i64> = steps.into_iter().flatten().collect();
            assert!(known.windows(2).all(|w| w[0] <= w[1]), "{}: {s:?}", i.id);
        }
        let again = month(&county, &deadlines, now);
        assert_eq!(
            incidents(&again).len(),
            list.len(),
            "seeded: the same month"
        );
    }

    #[tokio::test]
    async fn volunteers_of_the_month_earned_their_points_with_each_case_as_the_cause() {
        let settings = crate::config::Settings::load_with_env(None, Vec::<(String, String)>::new())
            .unwrap_or_else(|e| panic!("{e}"));
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let url = format!("sqlite:{}", dir.path().join("h.db").display());
        let store = Store::connect(&url, 1)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let county = super::super::county();
        // On record first, as the demo loads them before the history.
        for r in &county.responders {
            let new = crate::store::NewResponder {
                id: r.id.clone(),
                name: r.name.clone(),
                kind: crate::domain::ResponderKind::try_from(r.kind.clone())
                    .unwrap_or_else(|e| panic!("{e}")),
                travel: r.travel,
                zone_id: None,
                skills: "[]".into(),
                on_duty: true,
                station_id: None,
            };
            store
                .create_responder(&new)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
        }
        let earning = Arc::new(EarnSettings {
            points: settings.points.clone(),
            utc_offset: settings.reports.utc_offset,
        });
        let now = crate::clock::now_ms();
        let n = seed(&store, &county, &settings.deadlines, earning.clone(), now)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(n > 300, "{n}");
        let volunteers: Vec<_> = county
            .responders
            .iter()
            .filter(|r| r.kind == "volunteer")
            .collect();
        let mut earned = 0;
        let mut reports = 0;
        for v in &volunteers {
            let history = store
                .points_history(&v.id, None, 500)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            for line in &history {
                assert_eq!(line.movement.cause_type, "incident", "{line:?}");
                assert!(line.movement.cause_id.starts_with(PREFIX), "{line:?}");
                assert!(line.incident_kind.is_some(), "{line:?}");
                earned += line.change;
                reports += usize::from(line.movement.idempotency_key.starts_with("report:"));
            }
        }
        assert!(earned > 0, "the volunteers earned nothing");
        assert!(reports > 0, "no report bonus from a phone report");
        assert_eq!(
            store.points_audit().await.unwrap_or_else(|e| panic!("{e}")),
            Vec::<String>::new()
        );
        // A second start writes nothing and credits nothing again.
        let again = seed(&store, &county, &settings.deadlines, earning, now)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(again, 0);
    }
}
