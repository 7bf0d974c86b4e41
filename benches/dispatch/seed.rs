//! What the end-to-end half writes into the database before the app starts: the
//! responders (with MQTT logins for those the fleet connects) and, with
//! `--open-incidents N`, a backlog of open incidents that the app loads at start-up.
//!
//! Both go in big transactions: the store creates a responder one at a time, each with its
//! login in its own commit, which takes minutes for 1,000,000.

use std::time::Instant;

use crate::county::{random_point, zone_of, Person};
use griddispatch::config::Settings;
use griddispatch::domain::closed_loop::TaskPurpose;
use griddispatch::domain::{IncidentState, TaskStatus};
use griddispatch::store::{
    hash_secret, mosquitto_hash, new_secret, now_ms, IncidentRow, Milestones, Store, TaskRow, Write,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sqlx::Connection;

/// Rows per INSERT statement: SQLite finds each numbered parameter by walking the list of
/// names, so the binding grows with the square of the parameters (at 500 rows of 9 columns
/// it took most of the time).
const ROWS_PER_STATEMENT: usize = 50;
/// Rows per transaction.
const ROWS_PER_TX: usize = 50_000;

/// `INSERT INTO table (columns) VALUES ($1, …), (…), …` for `rows` rows.
fn insert_sql(table: &str, columns: &[&str], rows: usize) -> String {
    let mut sql = format!("INSERT INTO {table} ({}) VALUES ", columns.join(", "));
    for r in 0..rows {
        let marks: Vec<String> = (1..=columns.len())
            .map(|c| format!("${}", r * columns.len() + c))
            .collect();
        if r > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        sql.push_str(&marks.join(", "));
        sql.push(')');
    }
    sql
}

/// Writes `people` as on-duty responders without a fix, and an MQTT login for each of the
/// first `logins` (the fleet's); answers those logins' passwords, in order. The others get
/// no login: the app reads one only when a phone connects.
pub(crate) async fn responders(
    url: &str,
    people: &[Person],
    logins: usize,
) -> anyhow::Result<Vec<String>> {
    sqlx::any::install_default_drivers();
    let mut c = sqlx::AnyConnection::connect(url).await?;
    let now = now_ms();
    let columns = [
        "id",
        "name",
        "kind",
        "travel",
        "zone_id",
        "skills",
        "on_duty",
        "created_at",
        "updated_at",
    ];
    for tx_rows in people.chunks(ROWS_PER_TX) {
        let mut tx = c.begin().await?;
        for rows in tx_rows.chunks(ROWS_PER_STATEMENT) {
            let sql = insert_sql("responders", &columns, rows.len());
            let mut q = sqlx::query(&sql);
            for p in rows {
                q = q
                    .bind(p.id.clone())
                    .bind(p.id.clone())
                    .bind(p.kind.as_str())
                    .bind(p.travel.as_str())
                    .bind(p.zone_id.clone())
                    .bind("[]")
                    .bind(true)
                    .bind(now)
                    .bind(now);
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
    }
    let passwords: Vec<String> = (0..logins.min(people.len()))
        .map(|_| new_secret())
        .collect();
    let columns = [
        "username",
        "password_hash",
        "mosquitto_hash",
        "principal",
        "subject_id",
    ];
    let with_login: Vec<(&Person, &String)> = people.iter().zip(&passwords).collect();
    for tx_rows in with_login.chunks(ROWS_PER_TX) {
        let mut tx = c.begin().await?;
        for rows in tx_rows.chunks(ROWS_PER_STATEMENT) {
            let sql = insert_sql("mqtt_accounts", &columns, rows.len());
            let mut q = sqlx::query(&sql);
            for (p, pw) in rows {
                q = q
                    .bind(p.id.clone())
                    .bind(hash_secret(pw))
                    .bind(mosquitto_hash(pw))
                    .bind("responder")
                    .bind(p.id.clone());
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
    }
    c.close().await?;
    Ok(passwords)
}

/// What the seeded backlog holds, for the report.
pub(crate) struct Backlog {
    /// Incidents written.
    pub(crate) incidents: usize,
    /// Of them, held by a responder's open (accepted, en route, on scene) task.
    pub(crate) with_task: usize,
    /// Responders the fleet does not connect, who may hold those tasks (one each).
    pub(crate) holders: usize,
    /// Seconds the writing took.
    pub(crate) secs: f64,
}

const MIN: i64 = 60_000;

/// Writes `n` open incidents from the last eight hours, in states that stay open through
/// the run without offers and without taking a connected worker away: of every ten, four
/// `assigned`, two `en_route` and two `on_scene`, each with its responder's open task
/// (accepted, en route, on scene), one `escalated` (waiting for the operators) and one
/// `suspended` (缓办). Each task is held by one of `holders` (responders the fleet does
/// not connect, so they have no fix and are no candidates anyway), one task each as the
/// schema demands (`tasks_one_live_per_responder`); once they are all taken, the incidents
/// that would have had a task are `escalated` instead. Through the store's batch writes,
/// 20,000 per transaction.
pub(crate) async fn open_incidents(
    store: &Store,
    settings: &Settings,
    n: usize,
    holders: &[Person],
) -> anyhow::Result<Backlog> {
    let started = Instant::now();
    let now = now_ms();
    let mut rng = StdRng::seed_from_u64(2024);
    let mut batch = Vec::with_capacity(20_000);
    let mut with_task = 0;
    for i in 0..n {
        let id = format!("open-{i:07}");
        let at = random_point(&mut rng);
        let (kind, severity) = [("medical", 2), ("fire", 1), ("fall", 3), ("flood", 3)][i % 4];
        let created = now - rng.gen_range(10 * MIN..8 * 60 * MIN);
        let offered = created + rng.gen_range(MIN / 6..2 * MIN);
        let accepted = offered + rng.gen_range(MIN / 6..2 * MIN);
        let mut m = Milestones {
            due_at: Some(settings.deadlines.due_at(kind, severity, created)),
            source_id: Some("bench-backlog".into()),
            first_offer_at: Some(offered),
            ..Milestones::default()
        };
        let (state, task) = match (i % 10, holders.get(with_task)) {
            (0..=3, Some(h)) => (IncidentState::Assigned, Some((TaskStatus::Accepted, h))),
            (4..=5, Some(h)) => (IncidentState::EnRoute, Some((TaskStatus::EnRoute, h))),
            (6..=7, Some(h)) => (IncidentState::OnScene, Some((TaskStatus::OnScene, h))),
            (9, _) => (IncidentState::Suspended, None),
            _ => (IncidentState::Escalated, None),
        };
        match state {
            IncidentState::Escalated => m.escalation_count = 1,
            IncidentState::Suspended => {
                m.suspension_count = 1;
                m.suspended_at = Some(accepted);
            }
            IncidentState::OnScene => {
                m.accepted_at = Some(accepted);
                m.on_scene_at = Some(accepted + 5 * MIN);
            }
            _ => m.accepted_at = Some(accepted),
        }
        batch.push(Write::InsertIncident(IncidentRow {
            id: id.clone(),
            kind: kind.to_owned(),
            severity,
            state,
            lat: at.lat,
            lon: at.lon,
            zone_id: Some(zone_of(at)),
            title: kind.to_owned(),
            description: Some("seeded backlog".into()),
            address: None,
            rendezvous: None,
            offers_made: 1,
            manual: false,
            created_at: created,
            updated_at: accepted,
            last_alert_at: created,
            milestones: m,
        }));
        if let Some((status, holder)) = task {
            with_task += 1;
            batch.push(Write::InsertTask(TaskRow {
                id: format!("{id}-t"),
                incident_id: id,
                responder_id: holder.id.clone(),
                status,
                version: 2,
                status_version: 2,
                offered_at: offered,
                respond_by: offered + 2 * MIN,
                eta_secs: Some(300.0),
                distance_m: Some(1500.0),
                note: None,
                updated_at: accepted,
                accepted_at: Some(accepted),
                purpose: TaskPurpose::Respond,
                purpose_note: None,
            }));
        }
        if batch.len() >= 20_000 || i + 1 == n {
            store.apply(&batch, &mut []).await?;
            batch.clear();
        }
    }
    Ok(Backlog {
        incidents: n,
        with_task,
        holders: holders.len(),
        secs: started.elapsed().as_secs_f64(),
    })
}
