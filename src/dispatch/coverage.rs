//! The live coverage map (`GET /api/v1/coverage`, docs/roads.md "Coverage map"): for each
//! cell of a zone, how soon the nearest free, on-duty responder of each travel mode could
//! be there, by the ranking's rules.
//!
//! The engine dispatches alerts at a thousand a second, so it only hands out what the map
//! needs (the free responders' positions and modes, the zone's outline, the roads, the
//! rules) with one quick command; the thousands of routes are measured on a blocking
//! thread. Each answer is kept per (zone, cell size, incident kind) and given again for
//! [`FRESH`]; after that the engine is asked whether anything changed (its responders'
//! version and its zones'), and only then is the map computed again. So a console polling
//! every few seconds costs a version check while nobody moves, and at most one computation
//! per [`FRESH`] while they do.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use geo::MultiPolygon;
use serde::Serialize;

use super::{Command, DispatchError, Dispatcher};
use crate::domain::coverage::{cover, grid, CoverCell, CoverRules, Unit};
use crate::domain::Ident;
use crate::roads::Roads;
use crate::store::now_ms;

/// How long an answer is given again without asking the engine.
pub const FRESH: Duration = Duration::from_secs(5);
/// Most answers kept (zones × cell sizes × kinds); past it the cache starts afresh.
const MAX_KEPT: usize = 256;

/// What map is asked for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CoverageQuery {
    /// The zone it covers.
    pub zone: Ident,
    /// Cell side, metres (as bits, so the query can be a key).
    cell_m_bits: u64,
    /// The incident kind whose allowed responder kinds count (`None`: `default`).
    pub kind: Option<String>,
}

impl CoverageQuery {
    /// A map of `zone` in cells of `cell_m` metres, counting the responder kinds allowed
    /// for incidents of `kind`.
    pub fn new(zone: Ident, cell_m: f64, kind: Option<String>) -> CoverageQuery {
        CoverageQuery {
            zone,
            cell_m_bits: cell_m.to_bits(),
            kind,
        }
    }

    /// Cell side, metres.
    pub fn cell_m(&self) -> f64 {
        f64::from_bits(self.cell_m_bits)
    }
}

/// Which state of the engine a map was made from: its responders' version and its zones'.
pub type CoverageVersion = (u64, u64);

/// What the engine hands out for a map.
#[derive(Debug)]
pub struct CoverageSnapshot {
    /// The state it was taken from.
    pub version: CoverageVersion,
    /// The zone's outline.
    pub shape: MultiPolygon<f64>,
    /// Who could be sent now.
    pub units: Vec<Unit>,
    /// When the oldest of their fixes gets too old to count (Unix ms): the map is stale
    /// then even if nothing changed.
    pub valid_until_ms: i64,
    /// The imported roads, if any.
    pub roads: Option<Arc<Roads>>,
    /// The ranking's rules.
    pub rules: CoverRules,
    /// `dispatch.road_snap_m`.
    pub snap_m: f64,
}

/// The coverage map of one zone.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CoverageMap {
    /// The zone.
    pub zone_id: Ident,
    /// Cell side, metres.
    pub cell_m: f64,
    /// The incident kind whose allowed responder kinds were counted (`default` when none
    /// was named).
    pub kind: String,
    /// When it was computed, Unix ms (it is given again for a few seconds, and for as long
    /// as no responder changes).
    pub computed_at_ms: i64,
    /// How long computing it took, milliseconds.
    pub compute_ms: f64,
    /// Roads were loaded: times are by road where both ends are near one.
    pub roads: bool,
    /// Free, on-duty responders with a fresh fix that were counted.
    pub responders: usize,
    /// The cells that overlap the zone, row by row from the south-west.
    pub cells: Vec<CoverCell>,
}

/// The maps already made.
#[derive(Debug, Default)]
pub(super) struct Cache {
    slots: Mutex<HashMap<CoverageQuery, Slot>>,
}

/// One query's last answer; requests for it wait for each other, so it is made once.
type Slot = Arc<tokio::sync::Mutex<Option<Kept>>>;

#[derive(Debug)]
struct Kept {
    version: CoverageVersion,
    valid_until_ms: i64,
    checked: Instant,
    map: Arc<CoverageMap>,
}

impl Cache {
    fn slot(&self, q: &CoverageQuery) -> Slot {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        if slots.len() >= MAX_KEPT && !slots.contains_key(q) {
            slots.clear();
        }
        slots.entry(q.clone()).or_default().clone()
    }
}

/// Computes a map from a snapshot (on a blocking thread: thousands of routes).
fn compute(q: &CoverageQuery, snap: &CoverageSnapshot) -> Result<CoverageMap, DispatchError> {
    let started = Instant::now();
    let cells = grid(&snap.shape, q.cell_m()).map_err(|e| DispatchError::Invalid(e.to_string()))?;
    let mut search = snap.roads.as_deref().map(Roads::search);
    let cells = cover(&cells, &snap.units, &snap.rules, |u, to| {
        let (ms, metres) = search.as_mut()?.travel(u.mode, u.at, to, snap.snap_m)?;
        Some((ms as f64 / 1000.0, metres))
    });
    Ok(CoverageMap {
        zone_id: q.zone.clone(),
        cell_m: q.cell_m(),
        kind: q.kind.clone().unwrap_or_else(|| "default".into()),
        computed_at_ms: now_ms(),
        compute_ms: started.elapsed().as_secs_f64() * 1000.0,
        roads: snap.roads.is_some(),
        responders: snap.units.len(),
        cells,
    })
}

impl Dispatcher {
    /// The coverage map asked for: the kept one while it is fresh or nothing changed,
    /// else made again from a snapshot of the engine, off the engine's task.
    pub async fn coverage(&self, q: CoverageQuery) -> Result<Arc<CoverageMap>, DispatchError> {
        let slot = self.coverage.slot(&q);
        let mut kept = slot.lock().await;
        let now = now_ms();
        let usable = kept.as_mut().filter(|k| now < k.valid_until_ms);
        if let Some(k) = &usable {
            if k.checked.elapsed() < FRESH {
                return Ok(k.map.clone());
            }
        }
        let known = usable.as_ref().map(|k| k.version);
        let fresh = self
            .ask(|reply| Command::Coverage {
                zone: q.zone.clone(),
                kind: q.kind.clone(),
                known,
                reply,
            })
            .await?;
        let snap = match (fresh, usable) {
            (Some(snap), _) => snap,
            (None, Some(k)) => {
                k.checked = Instant::now();
                return Ok(k.map.clone());
            }
            // The engine said "unchanged" to a version we did not send: cannot happen.
            (None, None) => return Err(DispatchError::Conflict("coverage: try again".into())),
        };
        let query = q.clone();
        let (map, snap) = tokio::task::spawn_blocking(move || (compute(&query, &snap), snap))
            .await
            .map_err(|_| DispatchError::Stopped)?;
        let map = Arc::new(map?);
        *kept = Some(Kept {
            version: snap.version,
            valid_until_ms: snap.valid_until_ms,
            checked: Instant::now(),
            map: map.clone(),
        });
        Ok(map)
    }
}
