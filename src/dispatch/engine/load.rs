//! Loading the engine from the store, reloading parts of it when configuration changes,
//! and resuming after a restart; stored rows become domain shapes here.

use std::sync::Arc;

use tokio::sync::mpsc;

use super::camera_watch::{CameraWatch, StoredCamera};
use super::commit::Batch;
use super::incident_book::Incidents;
use super::inspection::Inspection;
use super::offer_book::Offers;
use super::{Change, Engine};
use crate::config::Settings;
use crate::dispatch::messages::{clear_duty, duty_outgoing};
use crate::dispatch::{Announce, Outgoing, Reload, SnapshotRequests};
use crate::domain::camera_health::{self, Health};
use crate::domain::ranking::{Responder, ResponderIndex};
use crate::domain::zones::{Zone, ZoneIndex};
use crate::domain::{Ident, IncidentState, LatLon, TaskStatus};
use crate::metrics::Metrics;
use crate::store::{now_ms, CameraHealthRow, ResponderRow, Store, StoreError};
use crate::views::{self, SnapshotFiles};

/// Turns a stored zone into the domain shape; a zone whose geometry no longer parses is
/// skipped with a warning rather than stopping the dispatcher.
pub(crate) fn zone_from_row(row: &crate::store::ZoneRow) -> Option<Zone> {
    let geometry: geojson::Geometry = match row.geometry.parse() {
        Ok(g) => g,
        Err(e) => {
            tracing::warn!(zone = %row.id, error = %e, "stored zone geometry unreadable; zone ignored");
            return None;
        }
    };
    let shape = crate::domain::zones::to_multipolygon(&geometry).ok()?;
    Some(Zone {
        id: Ident::parse(&row.id).ok()?,
        name: row.name.clone(),
        kind: row.kind,
        shape,
    })
}

/// The zone index for stored zones.
pub(crate) fn zone_index(rows: &[crate::store::ZoneRow]) -> ZoneIndex {
    ZoneIndex::new(rows.iter().filter_map(zone_from_row).collect())
}

fn responder_from_row(row: &ResponderRow) -> Option<Responder> {
    Some(Responder {
        id: Ident::parse(&row.id).ok()?,
        kind: row.kind,
        travel: row.travel,
        zone_id: row.zone_id.as_deref().and_then(|z| Ident::parse(z).ok()),
        on_duty: row.on_duty,
        position: match (row.lat, row.lon) {
            (Some(lat), Some(lon)) => LatLon::new(lat, lon).ok(),
            _ => None,
        },
        fix_at_ms: row.fix_at,
        busy: false,
    })
}

fn health_from_row(row: &CameraHealthRow) -> Health {
    Health {
        status: row.status,
        since: row.status_since,
        last_seen: row.last_seen,
        last_error: row.last_error.clone(),
    }
}

/// Every camera with its position and stored health (one read of the table).
async fn stored_cameras(store: &Store) -> Result<Vec<StoredCamera>, StoreError> {
    let views = store.camera_views().await?;
    Ok(views
        .into_iter()
        .map(|v| {
            let at = LatLon {
                lat: v.camera.lat,
                lon: v.camera.lon,
            };
            (v.camera.id, at, health_from_row(&v.health))
        })
        .collect())
}

/// The roads file under the data directory, read on a blocking thread; `None` when there
/// is none, or (logged) when it cannot be read: ranking then goes by straight line.
async fn load_roads(settings: &Settings) -> Option<Arc<crate::roads::Roads>> {
    let path = settings.data_dir()?.join(crate::roads::FILE_NAME);
    if !path.exists() {
        return None;
    }
    let shown = path.display().to_string();
    match tokio::task::spawn_blocking(move || crate::roads::Roads::load(&path)).await {
        Ok(Ok(roads)) => {
            tracing::info!(file = %shown, source = %roads.source, "roads loaded: candidates are ranked by road travel time");
            Some(Arc::new(roads))
        }
        Ok(Err(e)) => {
            tracing::error!(file = %shown, "roads not loaded, ranking by straight line: {e:#}");
            None
        }
        Err(e) => {
            tracing::error!(file = %shown, "roads not loaded, ranking by straight line: {e}");
            None
        }
    }
}

impl Engine {
    pub(in crate::dispatch) async fn load(
        store: Store,
        settings: &Settings,
        out: mpsc::UnboundedSender<Outgoing>,
        metrics: Arc<Metrics>,
        snapshot_requests: SnapshotRequests,
        live: Arc<dyn Announce>,
    ) -> anyhow::Result<Engine> {
        let offline_after_ms = i64::try_from(settings.video.offline_incident_after_secs)
            .unwrap_or(i64::MAX / 2)
            .saturating_mul(1000);
        let mut engine = Engine {
            store,
            rules: settings.dispatch.clone(),
            correlation: settings.correlation.clone(),
            deadlines: settings.deadlines.clone(),
            verification: settings.verification.clone(),
            points: Arc::new(crate::store::points::EarnSettings {
                points: settings.points.clone(),
                utc_offset: settings.reports.utc_offset,
            }),
            out,
            metrics,
            zones: ZoneIndex::default(),
            responders: ResponderIndex::new(39.5),
            zones_epoch: 0,
            roads: load_roads(settings).await,
            cameras: CameraWatch::new(offline_after_ms),
            incidents: Incidents::new(39.5),
            offers: Offers::default(),
            inspection: Inspection::default(),
            batch: Batch::default(),
            replays: Default::default(),
            deposed: None,
            failed_since_barrier: false,
            stale: false,
            redelivers: settings.mqtt.broker_redelivers(),
            snapshot_requests,
            snapshot_files: SnapshotFiles::from_settings(settings),
            live,
        };
        engine.reload_all().await?;
        Ok(engine)
    }

    /// Rebuilds the whole in-memory view from the database (start-up, and after a failed
    /// write so memory never drifts from the truth).
    pub(super) async fn reload_all(&mut self) -> Result<(), StoreError> {
        self.replays.clear();
        self.load_zones().await?;
        let rows = self.store.responders().await?;
        let ref_lat = rows.iter().find_map(|r| r.lat).unwrap_or(39.5);
        self.responders = ResponderIndex::new(ref_lat);
        for row in &rows {
            if let Some(r) = responder_from_row(row) {
                self.responders.upsert(r);
            }
        }
        let cameras = stored_cameras(&self.store).await?;
        // One already opened is found again by its alert.
        let camera_incidents = self
            .store
            .open_incidents_by_camera(camera_health::SOURCE)
            .await?;
        self.cameras.load(cameras, camera_incidents);
        let open = self.store.open_incidents().await?;
        let snapshots = self.store.snapshots_of_open_incidents().await?;
        self.incidents = Incidents::load(ref_lat, open, snapshots);
        let tasks = self.store.tasks_of_open_incidents().await?;
        self.inspection = Inspection::load(&rows, &tasks);
        self.offers = Offers::load(tasks);
        for t in self.offers.iter() {
            if let Ok(rid) = Ident::parse(&t.responder_id) {
                self.responders.set_busy(&rid, true);
            }
        }
        Ok(())
    }

    async fn load_zones(&mut self) -> Result<(), StoreError> {
        self.zones = zone_index(&self.store.zones().await?);
        self.zones_epoch += 1;
        Ok(())
    }

    /// After a restart: incidents that were opened but never offered (or whose offers all
    /// ended while we were down) get dispatched now; due deadlines fire on the first tick.
    pub(super) async fn resume(&mut self) {
        // What the last run committed but the broker never acknowledged goes out first.
        match self.store.outbox_pending().await {
            Ok(owed) => {
                if !owed.is_empty() {
                    tracing::info!(messages = owed.len(), "sending what was owed from before");
                }
                for msg in owed {
                    let _ = self.out.send(msg);
                }
            }
            Err(e) => tracing::error!(error = %e, "could not read the outbox"),
        }
        let pending: Vec<String> = self
            .incidents
            .iter()
            .filter(|i| {
                let s = i.state;
                s == IncidentState::New
                    || (s == IncidentState::Dispatching
                        && !self.offers.has_outstanding_offer(&i.id))
            })
            .map(|i| i.id.clone())
            .collect();
        for id in pending {
            let mut change = Change::default();
            self.offer_next(&id, &mut change, now_ms());
            self.stage(change, |_| {});
        }
        self.publish_inbox();
        self.flush().await;
    }

    /// Configuration changed in the database: reload that part.
    pub(super) async fn on_reload(&mut self, what: Reload) {
        if let Err(e) = self.reload(what).await {
            tracing::error!(error = %e, "reload failed");
        }
    }

    async fn reload(&mut self, what: Reload) -> Result<(), StoreError> {
        match what {
            Reload::Responder(id) => {
                let Ok(ident) = Ident::parse(&id) else {
                    return Ok(());
                };
                match self.store.responder(&id).await {
                    Ok(row) => {
                        self.inspection.set_skills(&ident, &row.skills);
                        if let Some(r) = responder_from_row(&row) {
                            self.responder_edited(&ident, r);
                        }
                    }
                    Err(StoreError::NotFound(_)) => self.responder_deleted(&ident),
                    Err(e) => return Err(e),
                }
            }
            Reload::Zones => self.load_zones().await?,
            Reload::Cameras => {
                let cameras = stored_cameras(&self.store).await?;
                self.cameras.refresh(cameras);
            }
        }
        Ok(())
    }

    /// A responder was created or edited; `r` is its stored state.
    fn responder_edited(&mut self, ident: &Ident, mut r: Responder) {
        let id = ident.as_str();
        r.busy = self.offers.holds_task(id);
        let duty_changed = self
            .responders
            .get(ident)
            .is_none_or(|old| old.on_duty != r.on_duty);
        if duty_changed {
            // The phone keeps seeing the state an admin set.
            self.send(duty_outgoing(id, r.on_duty, now_ms()));
        }
        // Keep a fresher in-memory fix than the stored one (writes are async).
        if let Some(old) = self.responders.get(ident) {
            if old.fix_at_ms > r.fix_at_ms {
                r.position = old.position;
                r.fix_at_ms = old.fix_at_ms;
            }
        }
        self.responders.upsert(r);
        self.publish_responder(id);
    }

    /// A responder was deleted: its offers go back to the pool.
    fn responder_deleted(&mut self, ident: &Ident) {
        let id = ident.as_str();
        self.responders.remove(ident);
        self.inspection.forget_responder(ident);
        self.live.announce(
            "responder",
            views::to_json(&views::responder_deleted_event(id)),
        );
        // Clear the retained duty state of a responder that is gone.
        self.send(clear_duty(id));
        let theirs = self.offers.of_responder(id);
        let now = now_ms();
        let mut change = Change::default();
        self.end_tasks(
            theirs,
            TaskStatus::Withdrawn,
            "responder deleted",
            &mut change,
            now,
        );
        self.stage(change, |_| {});
    }
}
