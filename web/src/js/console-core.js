// The operator view's rules, without the DOM or Leaflet: which incident actions apply in
// which state and role, how a travel estimate and an incident's kind and title are written,
// and how far to pan the map so an incident is not hidden under the drawer. Pure functions,
// tested in web/test/console.test.mjs.

/** States in which an incident is still being handled (shown in the queue). */
export const OPEN_STATES = ['new', 'dispatching', 'assigned', 'en_route', 'on_scene', 'resolved', 'escalated', 'suspended'];

/** States from which an incident may be suspended (handling paused, its clock stopped). */
const SUSPENDABLE = ['new', 'dispatching', 'assigned', 'en_route', 'on_scene', 'escalated'];

const RANK = { viewer: 1, operator: 2, admin: 3 };

/** Whether `role` may act on incidents (operator and admin). */
export function canAct(role) { return (RANK[role] || 0) >= RANK.operator; }

/** A pending extension request `{minutes, reason}` of an incident, or null. */
export function extensionRequest(i) {
  const r = i?.extension_request;
  if (!r || typeof r !== 'object') return null;
  const minutes = Number(r.minutes ?? r.requested_minutes);
  return { minutes: Number.isFinite(minutes) ? minutes : null, reason: r.reason ?? r.note ?? '' };
}

/**
 * The closed-loop actions an incident offers to `role`, in button order: `verify` and
 * `rework` a resolution, `suspend` and `resume` handling, `extension` (approve or refuse a
 * worker's request for more time, only while one is pending). None for a viewer.
 */
export function actionsFor(i, role) {
  if (!i || !canAct(role)) return [];
  const out = [];
  if (i.state === 'resolved') out.push('verify', 'rework');
  if (SUSPENDABLE.includes(i.state)) out.push('suspend');
  if (i.state === 'suspended') out.push('resume');
  if (OPEN_STATES.includes(i.state) && extensionRequest(i)) out.push('extension');
  return out;
}

/**
 * A travel estimate in seconds as `[key, vars]` for the translator, rounded to whole
 * minutes: "< 1 min", "≈ 4 min", "≈ 1 h 5 min". Null or negative → `['dash', {}]`.
 */
export function etaParts(secs) {
  if (secs === null || secs === undefined || !Number.isFinite(secs) || secs < 0) return ['dash', {}];
  if (secs < 60) return ['approx_lt_min', {}];
  const m = Math.round(secs / 60);
  if (m < 60) return ['approx_min', { n: m }];
  return ['approx_h_min', { h: Math.floor(m / 60), m: m % 60 }];
}

/** A responder's display name: "Name" when known, else the id. */
export function responderName(id, responders) {
  const r = responders?.get ? responders.get(id) : responders?.[id];
  return (r && r.name) || id;
}

/**
 * A kind in words: the translation `tr(key)` of `k_<kind>` when the translator has it
 * (`has(key)`), else the code with underscores as spaces.
 */
export function kindLabel(kind, tr, has) {
  if (!kind) return '';
  const key = `k_${kind}`;
  return has(key) ? tr(key) : String(kind).replace(/_/g, ' ');
}

/**
 * An incident's title for display. The server builds titles from the kind ("fall" or
 * "fall — 12 Elm St"); those are rebuilt with the kind in words. A title written by a person
 * is kept as it is.
 */
export function incidentTitle(i, tr, has) {
  const kind = i?.kind || '';
  const words = kind.replace(/_/g, ' ');
  const title = i?.title || '';
  if (!title || title === words || title === kind) return kindLabel(kind, tr, has);
  for (const w of [words, kind]) {
    if (w && title.startsWith(`${w} — `)) return `${kindLabel(kind, tr, has)} — ${title.slice(w.length + 3)}`;
  }
  return title;
}

/**
 * How far to pan the map (`[dx, dy]` in pixels, for `map.panBy`) so that `point` (the
 * incident, in container pixels) lies in the part of a `size` map not under a drawer
 * `drawerWidth` wide at its right, `margin` pixels from its edges; `[0, 0]` when it already
 * does. Out of view, the point is brought to the middle of the visible part.
 */
export function panIntoView(point, size, drawerWidth, margin = 40) {
  const right = Math.max(size.x - drawerWidth, 0);
  const inside = point.x >= margin && point.x <= right - margin && point.y >= margin && point.y <= size.y - margin;
  if (inside || right < 2 * margin) return [0, 0];
  return [Math.round(point.x - right / 2), Math.round(point.y - size.y / 2)];
}

/** Task statuses whose responder may still be on the way: their route is drawn on the map. */
export const LIVE_TASK = ['offered', 'accepted', 'en_route'];

/**
 * What an incident's drawn routes depend on: its live tasks and where they stand, as a key
 * that changes when they do (then the routes are fetched again). '' when none is live.
 */
export function liveTasksKey(tasks) {
  return (tasks || []).filter((x) => LIVE_TASK.includes(x.status)).map((x) => `${x.task_id}:${x.status}`).sort().join(' ');
}

/** A distance in metres for a table: "430 m", "2.1 km"; '—' when unknown. */
export function distanceText(m) {
  if (m === null || m === undefined || !Number.isFinite(m) || m < 0) return '—';
  return m < 1000 ? `${Math.round(m)} m` : `${(m / 1000).toFixed(1)} km`;
}
