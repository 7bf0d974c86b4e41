// The route of each live task on the operator's map (GET /api/v1/incidents/{id}/routes;
// docs/roads.md "Routes on the map"): from the responder's last position to the incident
// (or its rendezvous point), solid along the roads of the responder's mode, dashed when
// there is no road route (the straight line the estimate fell back to), so the operator sees
// which. An incident's routes are fetched when its live tasks change, and again soon after
// one of its responders moves.
import { api, text } from './common.js';
import { distanceText, liveTasksKey } from './console-core.js';

const L = window.L;
/** Delay after a responder's move before its routes are fetched again (one fetch a burst). */
const MOVE_MS = 2000;
/** Most incidents whose routes are drawn at once (the most severe first). */
const MAX_INCIDENTS = 30;

/**
 * The layer for map `M` (map.js). `words` gives `t` (translator), `eta(secs)` and
 * `name(id)` (a responder's display name).
 */
export function routesLayer(M, { t, eta, name }) {
  const group = L.layerGroup();
  /** Incident id → { key, layer, responders: Set } of what is drawn. */
  const drawn = new Map();
  let moved = new Set();
  let moveTimer = null;

  function tooltip(r) {
    const how = r.eta_source === 'road' ? t('route_road') : t('route_straight');
    return text(`${name(r.responder_id)} · ${t(`mode_${r.mode}`)} · ${eta(r.eta_secs)} · ${distanceText(r.distance_m)} · ${how}`);
  }

  function draw(id, answer) {
    const old = drawn.get(id);
    if (!old) return;
    const layer = L.layerGroup();
    for (const r of answer.routes) {
      const road = r.eta_source === 'road';
      const line = L.polyline(r.points.map(([lat, lon]) => M.toMap(lat, lon)), {
        className: `task-route ${road ? 'road' : 'straight'} ts-${r.status}`,
        color: road ? '#7b2cbf' : '#e76f51', weight: road ? 5 : 3, opacity: 0.85,
        dashArray: road ? null : '8 8', interactive: true,
      });
      line.bindTooltip(tooltip(r), { sticky: true });
      line.on('add', () => {
        const el = line.getElement();
        if (el) Object.assign(el.dataset, { incident: id, responder: r.responder_id, task: r.task_id, source: r.eta_source, points: String(r.points.length) });
      });
      layer.addLayer(line);
    }
    old.layer?.remove();
    old.layer = layer;
    old.responders = new Set(answer.routes.map((r) => r.responder_id));
    group.addLayer(layer);
  }

  async function fetchRoutes(id) {
    try {
      draw(id, await api('GET', `/api/v1/incidents/${encodeURIComponent(id)}/routes`));
    } catch (e) {
      // The incident closed, or the server has no routes: nothing to draw for it.
      const d = drawn.get(id);
      if (d) { d.layer?.remove(); d.layer = null; }
      if (e.status !== 404) console.warn('routes', id, e.message);
    }
  }

  /**
   * Brings the drawn routes in line with `incidents` (a Map of open incidents with their
   * `tasks`): fetched for those whose live tasks changed, removed for those with none.
   */
  function sync(incidents) {
    const live = [...incidents.values()]
      .map((i) => [i, liveTasksKey(i.tasks)]).filter(([, k]) => k)
      .sort(([a], [b]) => a.severity - b.severity).slice(0, MAX_INCIDENTS);
    const keep = new Set(live.map(([i]) => i.id));
    for (const [id, d] of drawn) if (!keep.has(id)) { d.layer?.remove(); drawn.delete(id); }
    for (const [i, key] of live) {
      const d = drawn.get(i.id);
      if (d && d.key === key) continue;
      drawn.set(i.id, { key, layer: d?.layer ?? null, responders: d?.responders ?? new Set() });
      fetchRoutes(i.id);
    }
  }

  /** A responder moved: its incidents' routes are fetched again soon. */
  function poke(responderId) {
    moved.add(responderId);
    if (moveTimer) return;
    moveTimer = setTimeout(() => {
      moveTimer = null;
      const who = moved; moved = new Set();
      for (const [id, d] of drawn) if ([...d.responders].some((r) => who.has(r))) fetchRoutes(id);
    }, MOVE_MS);
  }

  return { group, sync, poke };
}
