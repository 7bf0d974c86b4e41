// The operator view: map (zones, cameras, responders, incidents), the incident queue with
// timers against `console.targets` and overdue marks (re-worked every second from due_at),
// the incident drawer with actions, manual incidents, and
// live updates over `/api/v1/live`.
import { api, apiAll, h, text, age, when, toast, requireSession, header, ROLE_RANK, t, applyI18n, onLangChange, hasKey, clock } from './common.js';
import { OPEN_STATES, actionsFor, distanceText, etaParts, extensionRequest, incidentTitle, kindLabel, panIntoView, responderName } from './console-core.js';
import { createMap, zoneStyle, fitTo } from './map.js';
import { merchantsLayer } from './merchants-layer.js';
import { coverageLayer } from './coverage-layer.js';
import { routesLayer } from './route-layer.js';
import { startLive } from './live.js';
import { isOverdue, msToDue } from './deadline.js';
import { actorText, eventText } from './timeline.js';

const L = window.L;
const OPEN = new Set(OPEN_STATES);
/** An incident's title and a kind in the current language (server titles are built from the kind). */
const titleOf = (i) => incidentTitle(i, t, hasKey);
const kindOf = (k) => kindLabel(k, t, hasKey);
/** How timeline lines are worded: this page's language, responders' names, kinds' labels. */
const words = { tr: t, has: hasKey, name: (id) => responderName(id, responders), kind: kindOf };
/** A travel estimate, "≈ 4 min". */
const eta = (secs) => t(...etaParts(secs));
const SEV_COLOR = { 1: '#e5383b', 2: '#f77f00', 3: '#fcbf49', 4: '#4ea8de' };
const CAM_COLOR = { online: '#38b000', offline: '#e5383b', unknown: '#8d99ae' };

const user = await requireSession();
const canAct = ROLE_RANK[user.role] >= ROLE_RANK.operator;
header(user, 'operator');
const cfg = await api('GET', '/api/v1/console/config');
const M = createMap(document.getElementById('map'), cfg.tiles, { basemap: cfg.basemap });
const merchants = merchantsLayer(M, t);
const coverage = coverageLayer(M, cfg.targets);
const routes = routesLayer(M, { t, eta, name: (id) => responderName(id, responders) });
const layers = {
  zones: L.geoJSON(null, { style: zoneStyle, onEachFeature: (f, l) => l.bindTooltip(text(`${f.properties.name || f.properties.id} (${f.properties.id})`), { sticky: true }) }),
  cameras: L.layerGroup(),
  responders: L.layerGroup(),
  incidents: L.layerGroup(),
  routes: routes.group,
  merchants: merchants.group,
};
for (const l of Object.values(layers)) l.addTo(M.map);
const layerControl = L.control.layers(null, {}, { collapsed: false, position: 'bottomleft' }).addTo(M.map);
function layerNames() {
  for (const [k, l] of Object.entries(layers)) { layerControl.removeLayer(l); layerControl.addOverlay(l, t(`layers_${k}`)); }
}
layerNames();

/** Open incidents by id, with `detail` (tasks) and `acceptedAt` filled in when fetched. */
const incidents = new Map();
const responders = new Map();
const cameras = new Map();
let selected = null;
let firstLoad = true;

// ---- loading ---------------------------------------------------------------------------

async function loadAll() {
  const [zones, inc, resp, cams] = await Promise.all([
    apiAll('/api/v1/zones'), apiAll('/api/v1/incidents?state=open&limit=1000'),
    apiAll('/api/v1/responders'), apiAll('/api/v1/cameras'),
  ]);
  layers.zones.clearLayers();
  layers.zones.addData(M.geoToMap(zones));
  if (firstLoad) fitTo(M.map, layers.zones);
  const seen = new Set();
  for (const i of inc) { seen.add(i.id); upsertIncident(i, !firstLoad); }
  for (const id of [...incidents.keys()]) if (!seen.has(id)) incidents.delete(id);
  responders.clear(); for (const r of resp) responders.set(r.id, r);
  cameras.clear(); for (const c of cams) cameras.set(c.id, c);
  firstLoad = false;
  await Promise.all([...incidents.keys()].map((id) => refreshDetail(id)));
  drawAll();
  if (selected) openDrawer(selected);
}

/** Adds or updates an incident; a new severity-1 incident raises the alarm. */
function upsertIncident(i, announce) {
  const old = incidents.get(i.id);
  if (!OPEN.has(i.state)) { incidents.delete(i.id); return; }
  incidents.set(i.id, { ...(old || {}), ...i });
  if (!old && announce && i.severity === 1) sev1Alarm(i);
}

const pending = new Map();
/** Fetches tasks and the accept time of one incident (debounced per incident). */
function refreshDetail(id) {
  if (pending.has(id)) return pending.get(id);
  const p = (async () => {
    await new Promise((r) => setTimeout(r, 50));
    pending.delete(id);
    try {
      const [d, tl] = await Promise.all([api('GET', `/api/v1/incidents/${encodeURIComponent(id)}`), api('GET', `/api/v1/incidents/${encodeURIComponent(id)}/timeline`)]);
      const accepted = [...tl].reverse().find((l) => l.to === 'assigned');
      if (OPEN.has(d.state)) incidents.set(id, { ...d, acceptedAt: accepted ? accepted.at : null, timeline: tl });
      else incidents.delete(id);
    } catch (e) { if (e.status === 404) incidents.delete(id); }
    drawAll();
    if (selected === id) openDrawer(id);
  })();
  pending.set(id, p);
  return p;
}

// ---- live ------------------------------------------------------------------------------

let reloadTimer = null;
/** A full reload soon, once for a burst of events. */
function scheduleReload() {
  clearTimeout(reloadTimer);
  reloadTimer = setTimeout(() => loadAll().catch(() => {}), 300);
}

function onEvent(msg) {
  const d = msg.data || {};
  switch (msg.type) {
    case 'incident':
      upsertIncident(d, true);
      if (incidents.has(d.id)) refreshDetail(d.id);
      else if (selected === d.id) openDrawer(d.id);
      break;
    case 'task':
    case 'timeline': {
      // A task event may come without its incident id: find the incident holding the task,
      // and reload everything when none does (a task of an incident not seen yet).
      const owner = d.incident_id || [...incidents.values()].find((i) => (i.tasks || []).some((x) => x.task_id === d.task_id))?.id;
      if (owner) refreshDetail(owner);
      else scheduleReload();
      coverage.poke(); // an offer or its end frees or binds a responder
      break;
    }
    case 'responder':
      if (d.id) responders.set(d.id, { ...(responders.get(d.id) || {}), ...d });
      coverage.poke();
      if (d.id) routes.poke(d.id);
      break;
    case 'camera':
      if (d.id) cameras.set(d.id, { ...(cameras.get(d.id) || {}), ...d });
      break;
    default:
      return;
  }
  drawAll();
}

let liveState = 'down';
/** The header's live pill: green when the feed is up, amber while the page polls. */
function drawLive() {
  const el = document.getElementById('live');
  el.textContent = t(liveState === 'live' ? 'live_on' : 'live_poll');
  el.className = `pill ${liveState === 'live' ? 'ok' : 'warn'}`;
  el.dataset.state = liveState;
}

startLive({
  onEvent,
  onResync: () => loadAll().catch((e) => toast(e.message, 'error')),
  onPoll: () => loadAll().catch(() => {}),
  onStatus: (s) => { liveState = s; drawLive(); },
});
loadAll().catch((e) => toast(e.message, 'error'));
// `/#incident=<id>` (a link from the points ledger, say) opens that incident, open or closed.
function openFromHash() {
  const m = /^#incident=(.+)$/.exec(location.hash);
  if (m) openDrawer(decodeURIComponent(m[1]));
}
openFromHash();
window.addEventListener('hashchange', openFromHash);
// Merchants change rarely (an admin registers them): read once, not with every refresh.
merchants.load();

// ---- severity-1 cue ----------------------------------------------------------------------

let audio = null;
document.addEventListener('click', () => { audio = audio || new AudioContext(); audio.resume?.(); }, { once: false });

function beep() {
  try {
    audio = audio || new AudioContext();
    const now = audio.currentTime;
    for (let k = 0; k < 3; k++) {
      const o = audio.createOscillator(); const g = audio.createGain();
      o.type = 'square'; o.frequency.value = k % 2 ? 660 : 880;
      g.gain.setValueAtTime(0.15, now + k * 0.3); g.gain.setValueAtTime(0, now + k * 0.3 + 0.22);
      o.connect(g).connect(audio.destination); o.start(now + k * 0.3); o.stop(now + k * 0.3 + 0.25);
    }
  } catch { /* no audio device */ }
}

function sev1Alarm(i) {
  beep();
  const b = document.getElementById('sev1-banner');
  b.replaceChildren(h('strong', {}, `⚠ ${t('sev1_alarm')}`), ' ', `${titleOf(i)} · ${i.address || ''} `,
    h('button.small', { onclick: () => { openDrawer(i.id); b.hidden = true; } }, i.id.slice(0, 8)),
    h('button.ghost.small', { onclick: () => { b.hidden = true; } }, '✕'));
  b.hidden = false;
  b.classList.remove('flash'); void b.offsetWidth; b.classList.add('flash');
  const li = document.querySelector(`#queue li[data-id="${CSS.escape(i.id)}"]`);
  li?.classList.add('flash');
}

// ---- timers -----------------------------------------------------------------------------

function level(secs, amber, red) { return secs >= red ? 'red' : secs >= amber ? 'amber' : 'ok'; }

/** The queue timers of an incident: [label, seconds, level] for those that run now. */
function timers(i, now) {
  const T = cfg.targets;
  const out = [];
  const created = Date.parse(i.created_at);
  const tasks = i.tasks || [];
  const offered = tasks.filter((x) => x.status === 'offered').map((x) => Date.parse(x.offered_at));
  if (['new', 'dispatching', 'escalated'].includes(i.state)) {
    const s = (now - created) / 1000;
    out.push(['since_alert', s, level(s, T.alert_amber_secs, T.alert_red_secs)]);
  }
  if (offered.length) {
    const s = (now - Math.max(...offered)) / 1000;
    out.push(['since_offer', s, level(s, T.offer_amber_secs, T.offer_red_secs)]);
  }
  if (['assigned', 'en_route'].includes(i.state)) {
    const at = Date.parse(i.acceptedAt || i.updated_at);
    const s = (now - at) / 1000;
    out.push(['since_accept', s, level(s, T.accept_amber_secs, T.accept_red_secs)]);
  }
  return out;
}

// ---- drawing ----------------------------------------------------------------------------

function sorted() {
  return [...incidents.values()].sort((a, b) => a.severity - b.severity || Date.parse(a.created_at) - Date.parse(b.created_at));
}

function drawQueue() {
  const now = Date.now();
  const list = sorted();
  document.getElementById('queue-count').textContent = String(list.length);
  const q = document.getElementById('queue');
  if (!list.length) { q.replaceChildren(h('li.empty', {}, t('no_incidents'))); return; }
  q.replaceChildren(...list.map((i) => {
    const late = isOverdue(i, now);
    return h(`li.item.sev${i.severity}${late ? '.overdue' : ''}${selected === i.id ? '.selected' : ''}`, {
      dataset: { id: i.id, state: i.state, severity: String(i.severity), overdue: String(late) }, onclick: () => openDrawer(i.id), tabindex: '0',
    },
    h('div.row1', {}, h(`span.sev.sev${i.severity}`, {}, t('sev', { n: i.severity })), h('span.title', {}, titleOf(i)),
      late ? h('span.badge.overdue', { title: `${t('due')} ${when(i.due_at)}` }, t('overdue_by', { time: clock(-msToDue(i, now) / 1000) })) : null,
      h(`span.state.st-${i.state}`, {}, t(`st_${i.state}`))),
  h('div.row2', {}, h('span.muted', {}, `${kindOf(i.kind)} · ${i.zone_id || '—'}`), i.address ? h('span.addr', {}, i.address) : null),
    h('div.timers', {}, timers(i, now).map(([k, s, lv]) => h(`span.timer.${lv}`, { dataset: { timer: k } }, `${t(k)} ${clock(s)}`))));
  }));
}

function dot(color, size, cls = '') {
  return L.divIcon({ className: `dot ${cls}`, html: `<span style="background:${color};width:${size}px;height:${size}px"></span>`, iconSize: [size, size] });
}

/** The open incidents past their deadline at `now`, as a key that changes when the set does. */
const overdueKey = (now) => [...incidents.values()].filter((i) => isOverdue(i, now)).map((i) => i.id).sort().join(' ');
/** What the incident markers were drawn with: the map is drawn again when it changes. */
let mapOverdue = '';

function drawMap() {
  const now = Date.now();
  mapOverdue = overdueKey(now);
  layers.incidents.clearLayers();
  for (const i of incidents.values()) {
    // Overdue ones stand out as in the queue: a red ring, and drawn above the others.
    const late = isOverdue(i, now);
    const icon = L.divIcon({
      className: `inc-icon sev${i.severity}${late ? ' overdue' : ''}${selected === i.id ? ' selected' : ''}`,
      html: h('span', { dataset: { id: i.id, overdue: String(late) } }, String(i.severity)), iconSize: [26, 26],
    });
    const m = L.marker(M.toMap(i.location.lat, i.location.lon), { icon, zIndexOffset: (late ? 2000 : 1000) - i.severity * 100 });
    m.bindTooltip(text(`${titleOf(i)} · ${t(`st_${i.state}`)}${late ? ` · ${t('incident_overdue')}` : ''}`));
    m.on('click', () => openDrawer(i.id));
    layers.incidents.addLayer(m);
  }
  layers.responders.clearLayers();
  for (const r of responders.values()) {
    if (r.lat == null || r.lon == null) continue;
    const fixAge = r.fix_at ? (now - Date.parse(r.fix_at)) / 1000 : null;
    const busy = [...incidents.values()].some((i) => (i.tasks || []).some((x) => x.responder_id === r.id && ['offered', 'accepted', 'en_route', 'on_scene'].includes(x.status)));
    const color = !r.on_duty ? '#6c757d' : busy ? '#9b5de5' : '#2ec4b6';
    const m = L.marker(M.toMap(r.lat, r.lon), { icon: dot(color, 12, `resp${fixAge > 300 ? ' stale' : ''}`) });
    m.bindTooltip(text(`${r.name || r.id} (${r.id}) · ${r.on_duty ? t('on_duty') : t('off_duty')} · ${fixAge == null ? t('no_fix') : t('fix_age', { age: age(fixAge) })}`));
    layers.responders.addLayer(m);
  }
  layers.cameras.clearLayers();
  for (const c of cameras.values()) {
    const m = L.marker(M.toMap(c.lat, c.lon), { icon: L.divIcon({ className: `cam-icon cam-${c.status || 'unknown'}`, html: '<span>▲</span>', iconSize: [14, 14] }) });
    m.bindTooltip(text(`${c.name} (${c.id}) · ${t(`cam_${c.status || 'unknown'}`)}${c.last_error && c.status !== 'online' ? ` · ${c.last_error}` : ''}`));
    layers.cameras.addLayer(m);
  }
}

function drawAll() { drawQueue(); drawMap(); routes.sync(incidents); }
// Deadlines pass without an event: each second the queue is worked out again, and the map
// when an incident has become overdue since it was drawn.
setInterval(() => { drawQueue(); if (overdueKey(Date.now()) !== mapOverdue) drawMap(); }, 1000);
onLangChange(() => { layerNames(); merchants.draw(); drawLive(); drawAll(); if (selected) openDrawer(selected); });

// ---- drawer -----------------------------------------------------------------------------

/** Posts an incident action; says plainly what went wrong (a server without it answers 404 or 405). */
async function act(id, what, body, label = what) {
  try {
    await api('POST', `/api/v1/incidents/${encodeURIComponent(id)}/${what}`, body);
    toast(t('done'));
    refreshDetail(id);
    return true;
  } catch (e) {
    const msg = e.status === 403 ? t('forbidden') : (e.status === 404 && !(e.body && e.body.error)) || e.status === 405 ? t('not_on_server', { what: label }) : `${label}: ${e.message}`;
    toast(msg, 'error');
    return false;
  }
}

/**
 * The closed-loop buttons of an incident for this user (none for a viewer): verify or send
 * back a resolution (with a reason), suspend or resume, approve or refuse a pending
 * extension request (its minutes and reason shown).
 */
function loopActions(d, note, prev) {
  const acts = actionsFor(d, user.role);
  if (!acts.length) return null;
  const out = [];
  const btn = (key, cls, onclick) => h(`button.small${cls}#act-${key}`, { dataset: { action: key }, onclick }, t(`act_${key}`));
  if (acts.includes('verify')) out.push(btn('verify', '.primary', () => act(d.id, 'verify', { note: note() }, t('act_verify'))));
  if (acts.includes('rework')) {
    const reason = h('textarea#rework-reason', { name: 'reason', rows: '2', placeholder: t('rework_reason') });
    const form = h('form#rework-form.inline-form', { hidden: !prev.reworkOpen }, reason,
      h('div.btns', {}, h('button.ghost.small', { type: 'button', onclick: () => { form.hidden = true; } }, t('cancel')),
        h('button.danger.small#rework-send', { type: 'submit' }, t('act_rework'))));
    if (prev.reason) reason.value = prev.reason;
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const r = reason.value.trim();
      if (!r) { toast(t('reason_required'), 'error'); reason.focus(); return; }
      act(d.id, 'rework', { reason: r }, t('act_rework'));
    });
    out.push(btn('rework', '.danger', () => { form.hidden = false; reason.focus(); }), form);
  }
  if (acts.includes('suspend')) out.push(btn('suspend', '', () => act(d.id, 'suspend', { note: note() }, t('act_suspend'))));
  if (acts.includes('resume')) out.push(btn('resume', '.primary', () => act(d.id, 'resume', {}, t('act_resume'))));
  if (acts.includes('extension')) {
    const req = extensionRequest(d);
    const minutes = h('input#ext-minutes', { name: 'minutes', type: 'number', min: '1', step: '1', value: req.minutes != null ? String(req.minutes) : '' });
    const mins = () => { const n = Number(minutes.value); return minutes.value && Number.isFinite(n) && n > 0 ? Math.round(n) : undefined; };
    out.push(h('div.ext-request#ext-request', {},
      h('div', {}, h('b', {}, t('ext_pending', { minutes: req.minutes ?? '?' }))),
      req.reason ? h('div.muted', {}, t('ext_reason', { reason: req.reason })) : null,
      h('label.inline', {}, t('ext_minutes'), minutes),
      h('div.btns', {},
        btn('refuse', '.danger', () => act(d.id, 'extension', { approve: false, note: note() }, t('act_refuse'))),
        btn('approve', '.primary', () => act(d.id, 'extension', { approve: true, minutes: mins(), note: note() }, t('act_approve'))))));
  }
  return h('div.loop-actions#loop-actions', {}, h('h3', {}, t('loop_actions')), h('div.loop-btns', {}, out));
}

async function openDrawer(id) {
  selected = id;
  const drawer = document.getElementById('drawer');
  drawer.hidden = false;
  drawer.dataset.id = id;
  let d = incidents.get(id);
  let cands = [];
  try {
    const [det, tl, cs] = await Promise.all([
      api('GET', `/api/v1/incidents/${encodeURIComponent(id)}`),
      api('GET', `/api/v1/incidents/${encodeURIComponent(id)}/timeline`),
      OPEN.has(d?.state ?? 'new') ? api('GET', `/api/v1/incidents/${encodeURIComponent(id)}/candidates?limit=8`).catch(() => []) : [],
    ]);
    d = { ...det, timeline: tl }; cands = cs;
  } catch (e) { toast(e.message, 'error'); return; }
  if (selected !== id) return;
  const noteBox = h('textarea#note', { name: 'note', rows: '2', placeholder: t('note') });
  const firstShow = drawer.dataset.shown !== id;
  const prevNote = drawer.querySelector('#note')?.value; if (prevNote && !firstShow) noteBox.value = prevNote;
  const prevForm = firstShow ? {} : { reworkOpen: drawer.querySelector('#rework-form') && !drawer.querySelector('#rework-form').hidden, reason: drawer.querySelector('#rework-reason')?.value };
  const note = () => noteBox.value.trim() || undefined;
  const open = OPEN.has(d.state);
  const hasTask = (d.tasks || []).some((x) => ['offered', 'accepted', 'en_route', 'on_scene'].includes(x.status));
  const section = (key, ...content) => h('section.dsec', {}, h('h3', {}, t(key)), ...content);
  drawer.replaceChildren(...[
    h('div.dhead', {}, h(`span.sev.sev${d.severity}`, {}, t('sev', { n: d.severity })), h('h2', {}, titleOf(d)),
      h(`span.state.st-${d.state}`, { id: 'drawer-state' }, t(`st_${d.state}`)),
      h('button.ghost.small', { 'aria-label': t('close'), onclick: () => { selected = null; drawer.hidden = true; drawer.dataset.shown = ''; drawAll(); } }, '✕')),
    h('dl.facts', {},
      h('dt', {}, t('location')), h('dd', {}, `${d.location.lat.toFixed(6)}, ${d.location.lon.toFixed(6)}`),
      h('dt', {}, t('address')), h('dd', {}, d.address || '—'),
      h('dt', {}, t('zone')), h('dd', {}, d.zone_id || '—'),
      h('dt', {}, t('kind')), h('dd', {}, kindOf(d.kind)),
      h('dt', {}, t('created')), h('dd', {}, when(d.created_at)),
      h('dt', {}, t('due')), h('dd#drawer-due', { dataset: { overdue: String(isOverdue(d)) } }, d.due_at ? when(d.due_at) : t('no_deadline'),
        isOverdue(d) ? [' ', h('span.badge.overdue', {}, t('incident_overdue'))] : null),
      d.description ? [h('dt', {}, t('description')), h('dd', {}, d.description)] : null),
    canAct && open ? h('div.actions', {}, noteBox, loopActions(d, note, prevForm),
      h('div.btns', {},
        h('button.danger#cancel-incident', { onclick: () => { if (confirm(t('confirm_cancel', { id: d.id.slice(0, 8) }))) act(id, 'cancel', { note: note() }); } }, t('cancel_incident')),
        h('button.primary#close-incident', { onclick: () => act(id, 'close', { note: note() }) }, t('close_incident')))) : null,
    open ? section('candidates', cands.length ? h('table.cands', {}, h('thead', {}, h('tr', {}, [t('responder'), h('span', { title: t('road_eta_help') }, t('road_eta')), t('straight_dist'), t('road_dist'), t('in_zone'), ''].map((x) => h('th', {}, x)))),
      h('tbody', {}, cands.map((c) => h('tr', { dataset: { responder: c.responder_id, source: c.eta_source || 'straight' } },
        h('td', {}, responders.get(c.responder_id)?.name ? `${responders.get(c.responder_id).name} (${c.responder_id})` : c.responder_id),
        h('td.eta', { title: `${t('road_eta_help')} · ${t('eta_help')}` }, eta(c.eta_secs), ' ', h('small.muted.eta-src', {}, c.eta_source === 'road' ? t('eta_road') : t('eta_straight'))),
        h('td.dist', {}, distanceText(c.distance_m)),
        h('td.road-dist', {}, c.eta_source === 'road' ? distanceText(c.road_distance_m) : h('span.muted', {}, t('eta_straight'))),
        h('td', {}, c.in_zone ? t('yes') : t('no')),
        h('td', {}, canAct ? h('button.small.assign', { dataset: { responder: c.responder_id }, onclick: () => act(id, 'assign', { responder_id: c.responder_id, note: note() }) }, hasTask ? t('reassign') : t('assign')) : null)))))
      : h('p.muted', {}, t('no_candidates'))) : null,
    section('tasks', (d.tasks || []).length ? h('table.tasks', {},
      h('thead', {}, h('tr', {}, [t('responder'), t('status'), t('offered_at'), h('span', { title: t('eta_help') }, t('eta_est'))].map((x) => h('th', {}, x)))),
      h('tbody', {}, d.tasks.map((x) => h('tr', { dataset: { task: x.task_id, status: x.status, responder: x.responder_id } },
        h('td.who', { title: x.responder_id }, responderName(x.responder_id, responders)), h('td', {}, h(`span.tstatus.ts-${x.status}`, {}, t(`t_${x.status}`))),
        h('td', {}, when(x.offered_at)), h('td.eta', { title: t('eta_help') }, x.eta_secs != null ? eta(x.eta_secs) : t('dash')))))) : h('p.muted', {}, t('none'))),
    (d.snapshots || []).length ? section('snapshots', h('div.snaps', {}, d.snapshots.map((s) => h('a', { href: s.url, target: '_blank' }, h('img', { src: s.url, alt: `${s.camera_id} #${s.n}`, loading: 'lazy' }))))) : null,
    section('alerts', h('ul.alerts', {}, (d.alerts || []).map((a) => h('li', {}, `${when(a.received_at)} · ${a.source_id}/${a.id} · ${kindOf(a.kind)} S${a.severity}${a.camera_id ? ` · ${t('camera')} ${a.camera_id}` : ''}${a.description ? ` · ${a.description}` : ''}`)))),
    section('timeline', h('ol.timeline', {}, [...d.timeline].reverse().map((l) => {
      const said = eventText(l, words);
      const moved = l.from !== l.to ? ` ${l.from ? t(`st_${l.from}`) : ''} → ${t(`st_${l.to}`)}` : '';
      return h('li', {}, h('time', {}, when(l.at)), ' ', h('b', { title: l.actor }, actorText(l.actor, words)), moved, said ? h('div.note', {}, said) : null);
    }))),
  ].filter(Boolean));
  drawer.dataset.shown = id;
  drawAll();
  // On opening, keep the incident in the part of the map the drawer leaves visible.
  if (firstShow) {
    const [dx, dy] = panIntoView(M.map.latLngToContainerPoint(M.toMap(d.location.lat, d.location.lon)), M.map.getSize(), drawer.offsetWidth);
    if (dx || dy) M.map.panBy([dx, dy]);
  }
}

// ---- manual incident ----------------------------------------------------------------------

const KINDS = ['medical', 'fire', 'fall', 'intrusion', 'fight', 'flood', 'traffic', 'guidance', 'alarm'];
let picking = null;

function newIncidentPanel() {
  const p = document.getElementById('new-incident-panel');
  const f = h('form#new-incident-form', {},
    h('h3', {}, t('new_incident')), h('p.muted', {}, t('manual_hint')),
    h('div.grid2', {},
      h('label', {}, t('lat'), h('input', { name: 'lat', required: true, inputmode: 'decimal' })),
      h('label', {}, t('lon'), h('input', { name: 'lon', required: true, inputmode: 'decimal' }))),
    h('div.grid2', {},
      h('label', {}, t('kind'), h('select', { name: 'kind' }, KINDS.map((k) => h('option', { value: k }, kindOf(k))))),
      h('label', { title: t('severity_help') }, t('severity'), h('select', { name: 'severity' }, [1, 2, 3, 4].map((n) => h('option', { value: String(n), selected: n === 2 }, t('sev', { n })))))),
    h('label', {}, t('address'), h('input', { name: 'address', maxlength: '500' })),
    h('label', {}, t('description'), h('textarea', { name: 'description', rows: '2', maxlength: '2000' })),
    h('div.btns', {}, h('button.ghost', { type: 'button', onclick: () => { p.hidden = true; picking?.remove(); picking = null; } }, t('cancel')),
      h('button.primary', { type: 'submit' }, t('create'))));
  f.addEventListener('submit', async (e) => {
    e.preventDefault();
    const lat = Number(f.lat.value); const lon = Number(f.lon.value);
    if (!Number.isFinite(lat) || !Number.isFinite(lon)) { toast(`${t('lat')}/${t('lon')}?`, 'error'); return; }
    const body = { source_id: 'console', id: `manual-${crypto.randomUUID()}`, kind: f.kind.value, severity: Number(f.severity.value), lat, lon,
      address: f.address.value.trim() || undefined, description: f.description.value.trim() || undefined, time: new Date().toISOString() };
    try {
      const r = await api('POST', '/api/v1/alerts', body);
      toast(t('created_incident', { id: (r.incident_id || '').slice(0, 8) }));
      p.hidden = true; picking?.remove(); picking = null;
      await loadAll();
      if (r.incident_id) openDrawer(r.incident_id);
    } catch (x) { toast(x.message, 'error'); }
  });
  p.replaceChildren(f);
  p.hidden = false;
  return f;
}

if (canAct) {
  const btn = document.getElementById('new-incident');
  btn.hidden = false;
  btn.addEventListener('click', () => newIncidentPanel());
  M.map.on('click', (e) => {
    const p = document.getElementById('new-incident-panel');
    if (p.hidden) return;
    const f = p.querySelector('form');
    const w = M.fromMap(e.latlng);
    f.lat.value = w.lat.toFixed(6); f.lon.value = w.lon.toFixed(6);
    picking?.remove();
    picking = L.marker(e.latlng, { icon: dot('#ff006e', 16, 'pick') }).addTo(M.map);
  });
}
applyI18n();
