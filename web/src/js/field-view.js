// The field app's task views: the list of task cards and the open task's detail (map,
// facts, snapshots, the answer buttons and their forms, the extension form). The page
// (field.js) owns the state and the connection and binds them here with `bindView`.
import { t } from './i18n.js';
import { h, clock } from './common.js';
import { createMap } from './map.js';
import { merchantsFor, drawMerchants } from './field-merchants.js';
import {
  actionsFor, sortTasks, distanceM, formatDistance, destination, navLinks, answerNote, isRework, isVerify,
  canAskExtension, extensionRequest, EXTENSION_PRESETS, EXTENSION_MAX_MINUTES, EXTENSION_MAX_REASON,
} from './field-core.js';
import { taskBadge, reworkText, verificationFacts, titleOf } from './field-card.js';

const $ = (id) => document.getElementById(id);

/** The page's state and actions (see field.js), set once by `bindView`. */
let state = null;
let answer = null;
let askExtension = null;
let render = null;

/** Binds the views to the page: its `state`, and `answer`, `askExtension` and `render`. */
export function bindView(page) {
  ({ state, answer, askExtension, render } = page);
}

/** The status the task will have once the queued answers land: what the buttons follow. */
export function projected(task) {
  const queued = state.outbox.forTask(task.task_id);
  return queued.length ? queued[queued.length - 1].status : task.status;
}


/** The extension form: quick choices, a number, a required reason. */
function extensionForm(task) {
  const draft = state.extDrafts[task.task_id] || (state.extDrafts[task.task_id] = { minutes: '60', reason: '' });
  const minutes = h('input', {
    type: 'number', id: 'ext-minutes', name: 'minutes', min: '1', max: String(EXTENSION_MAX_MINUTES), step: '1', inputmode: 'numeric', required: true,
    oninput: (e) => { draft.minutes = e.target.value; syncPresets(); error.hidden = true; },
  });
  minutes.value = draft.minutes;
  const presets = EXTENSION_PRESETS.map((m) => h('button.plain.small', {
    type: 'button', dataset: { minutes: String(m) },
    onclick: () => { minutes.value = String(m); draft.minutes = String(m); syncPresets(); },
  }, t('f_min_n', { n: m })));
  function syncPresets() {
    for (const b of presets) b.setAttribute('aria-pressed', String(b.dataset.minutes === String(minutes.value).trim()));
  }
  syncPresets();
  const reason = h('textarea', {
    id: 'ext-reason', name: 'reason', placeholder: t('f_ext_reason'), required: true, maxlength: String(EXTENSION_MAX_REASON),
    oninput: (e) => { draft.reason = e.target.value; error.hidden = true; },
  });
  reason.value = draft.reason;
  const error = h('p.form-error#ext-error', { hidden: true, role: 'alert' });
  // Checked here, not by the browser: its bubbles speak the browser's language, not the app's.
  return h('form.answer-form.ext-form', {
    novalidate: true,
    onsubmit: (e) => {
      e.preventDefault();
      const r = extensionRequest(minutes.value, reason.value);
      if (!r.ok) {
        error.textContent = t(r.error === 'minutes' ? 'f_ext_bad_minutes' : 'f_ext_bad_reason');
        error.hidden = false;
        (r.error === 'minutes' ? minutes : reason).focus();
        return;
      }
      askExtension(task, r.body);
    },
  },
  h('strong', {}, t('f_ask_ext')),
  h('label', { for: 'ext-minutes' }, t('f_ext_minutes')),
  h('div.presets', {}, ...presets),
  minutes,
  h('label', { for: 'ext-reason' }, t('f_ext_reason')),
  reason,
  error,
  h('div.actions', {},
    h('button.ghost', { type: 'button', onclick: () => { state.form = null; renderDetail(); } }, t('cancel')),
    h('button.primary', { type: 'submit', dataset: { send: 'extension' } }, t('send'))));
}

function here() {
  const p = state.position;
  return p ? { lat: p.coords.latitude, lon: p.coords.longitude } : null;
}

function distanceText(task) {
  const me = here();
  return me ? formatDistance(distanceM(me, destination(task))) : '';
}

function countdown(task) {
  if (projected(task) !== 'offered') return null;
  const el = h('span.countdown', { dataset: { until: task.respond_by } });
  tickCountdown(el);
  return el;
}

export function tickCountdown(el) {
  const left = (Date.parse(el.dataset.until) - Date.now()) / 1000;
  el.textContent = left > 0 ? t('respond_within', { secs: clock(left) }) : t('overdue');
  el.classList.toggle('late', left <= 0);
}

function statusText(task) {
  return t(`t_${projected(task)}`);
}

/** Opens a task's detail. */
export function openTask(id) {
  state.open = id;
  state.form = null;
  state.detailSig = undefined;
  render();
  window.scrollTo(0, 0);
}

export function renderList() {
  const list = $('tasks');
  const tasks = sortTasks([...state.tasks.values()]);
  list.replaceChildren(...tasks.map((task) => h(`li.task.s${task.severity}.${projected(task)}`, {
    dataset: { task: task.task_id }, tabindex: 0, role: 'button',
    onclick: () => openTask(task.task_id),
    onkeydown: (e) => { if (e.key === 'Enter') openTask(task.task_id); },
  },
  h(`span.sev.s${task.severity}`, {}, t('sev', { n: task.severity })),
  h('span.title', {}, titleOf(task), ' ', taskBadge(task)),
  h('span.status', {}, statusText(task)),
  ...(isRework(task) ? [h('span.rework-reason', {}, reworkText(task))] : []),
  ...(isVerify(task) ? [h('span.verify-line', {}, verificationFacts(task).intro)] : []),
  h('span.meta', {}, [task.kind, distanceText(task), task.address].filter(Boolean).join(' · '), ' ', countdown(task)))));
  $('no-tasks').hidden = tasks.length > 0;
}

/**
 * Snapshot pictures by their link: an object URL once fetched, `'loading'`, or `'failed'`
 * for a while. The phone has no API token; the worker's own MQTT login, sent as HTTP Basic,
 * opens the snapshots of the incidents offered to them.
 */
const pictures = new Map();
/** A picture that could not be fetched is tried again after this long. */
const PICTURE_RETRY_MS = 15000;

/** Forgets the fetched pictures (the next worker fetches with their own login). */
export function forgetPictures() {
  for (const src of pictures.values()) if (src.startsWith('blob:')) URL.revokeObjectURL(src);
  pictures.clear();
}

async function loadPicture(url) {
  pictures.set(url, 'loading');
  try {
    const { username, password } = state.login;
    const resp = await fetch(url, { headers: { Authorization: `Basic ${btoa(`${username}:${password}`)}` } });
    if (!resp.ok) throw new Error(`HTTP ${resp.status}`);
    pictures.set(url, URL.createObjectURL(await resp.blob()));
  } catch {
    pictures.set(url, 'failed');
    setTimeout(() => { if (pictures.get(url) === 'failed') pictures.delete(url); }, PICTURE_RETRY_MS);
  }
  if (state.open) renderDetail();
}

/** The task's snapshot pictures, each opening full size; fetched on first show. */
function snapshotStrip(task) {
  const list = Array.isArray(task.snapshots) ? task.snapshots.filter((s) => s && typeof s.url === 'string') : [];
  if (!list.length) return null;
  return h('div.snaps', {}, ...list.map((s) => {
    const src = pictures.get(s.url);
    if (src === undefined) loadPicture(s.url);
    if (src === undefined || src === 'loading') return h('span.snap.wait', {}, '…');
    if (src === 'failed') return h('span.snap.wait', {}, t('picture_failed'));
    return h('a', { href: src, target: '_blank', rel: 'noopener' },
      h('img.snap', { src, alt: `${t('snapshots')} ${s.n}`, dataset: { n: String(s.n) } }));
  }));
}

function fact(label, value) {
  return value === undefined || value === null || value === '' ? [] : [h('dt', {}, label), h('dd', {}, value)];
}

/** How each answer's button looks. */
const BUTTON_CLASS = { accepted: 'ok', rejected: 'danger', resolved: 'primary', verified: 'ok', rework: 'danger' };

/** The answers that open a form for a note, with its label; a rejection and a rework need one. */
const NOTE_LABEL = { rejected: 'reject_reason', resolved: 'resolution_note', verified: 'verify_note', rework: 'rework_reason' };

/** The form of an answer with a note (`status` one of NOTE_LABEL's). */
function answerForm(task, status) {
  const key = `${task.task_id}:${status}`;
  const label = t(NOTE_LABEL[status]);
  const needed = !answerNote(status, '').ok;
  const area = h('textarea', {
    name: 'note', id: 'answer-note', placeholder: label, required: needed,
    oninput: (e) => { state.drafts[key] = e.target.value; error.hidden = true; },
  });
  area.value = state.drafts[key] || '';
  const error = h('p.form-error#answer-error', { hidden: true, role: 'alert' }, t('reason_required'));
  // Checked here, not by the browser: its bubbles speak the browser's language, not the app's.
  return h('form.answer-form', {
    novalidate: true,
    onsubmit: (e) => {
      e.preventDefault();
      const r = answerNote(status, area.value);
      if (!r.ok) { error.hidden = false; area.focus(); return; }
      answer(task, status, r.note);
    },
  }, h('label', { for: 'answer-note' }, label), area, error,
  h('div.actions', {},
    h('button.ghost', { type: 'button', onclick: () => { state.form = null; renderDetail(); } }, t('cancel')),
    h(`button.${BUTTON_CLASS[status] || 'primary'}`, { type: 'submit', dataset: { send: status } }, t('send'))));
}

/** What a verification task asks: whose work, what they reported (their note). */
function verificationBlock(task) {
  if (!isVerify(task)) return [];
  const v = verificationFacts(task);
  return [h('div.verify-box', { role: 'note', dataset: { verify: 'true' } },
    h('p.verify-intro', {}, v.intro),
    h('p.resolution-note', {}, v.note))];
}

export function renderDetail() {
  const view = $('detail-view');
  const task = state.open && state.tasks.get(state.open);
  if (!task) {
    if (state.detailMap) { state.detailMap.remove(); state.detailMap = null; }
    view.hidden = true;
    $('list-view').hidden = false;
    state.open = null;
    return;
  }
  $('list-view').hidden = true;
  view.hidden = false;
  const status = projected(task);
  const dest = destination(task);
  const links = navLinks(dest.lat, dest.lon, task.rendezvous ? (task.rendezvous.note || titleOf(task)) : (task.address || titleOf(task)));
  const queued = state.outbox.forTask(task.task_id);
  const actions = actionsFor({ status, purpose: task.purpose });
  // On a verification the verdicts lead; taking or declining the check comes second.
  const secondary = (a) => isVerify(task) && (a === 'accepted' || a === 'rejected');
  const buttons = actions.map((a) => {
    const cls = secondary(a) ? 'plain' : BUTTON_CLASS[a] || 'plain';
    return h(`button.${cls}${actions.length % 2 && a === actions[actions.length - 1] ? '.wide' : ''}`, {
      dataset: { action: a },
      onclick: () => { if (NOTE_LABEL[a]) { state.form = a; renderDetail(); } else answer(task, a); },
    }, t(secondary(a) ? `a_v_${a}` : `a_${a}`));
  });
  const extAllowed = canAskExtension({ status, purpose: task.purpose }) && !state.ext[task.task_id];
  let form = null;
  if (state.form === 'extension' && extAllowed) {
    form = extensionForm(task);
  } else if (state.form && actions.includes(state.form)) {
    form = answerForm(task, state.form);
  }
  const snaps = Array.isArray(task.snapshots) ? task.snapshots.length : 0;
  const strip = snapshotStrip(task);
  const mapEl = h('div.minimap#minimap');
  // The old map goes before its box does: Leaflet cannot take down a detached map.
  if (state.detailMap) { state.detailMap.remove(); state.detailMap = null; }
  view.replaceChildren(
    h('div.detail-head', {},
      h('button.ghost.small#back', { onclick: () => { state.open = null; state.form = null; render(); } }, `← ${t('back')}`),
      h(`span.sev.s${task.severity}`, {}, t('sev', { n: task.severity })),
      h('h2', {}, titleOf(task), ' ', taskBadge(task))),
    ...(isRework(task) ? [h('p.rework-reason.detail', { role: 'note' }, reworkText(task))] : []),
    ...verificationBlock(task),
    mapEl,
    h('dl.facts', {},
      ...fact(t('your_status'), statusText(task)),
      ...fact('', countdown(task)),
      ...fact(t('distance'), distanceText(task)),
      ...fact(t('incident_at'), task.address || `${task.location.lat.toFixed(5)}, ${task.location.lon.toFixed(5)}`),
      ...fact(t('rendezvous'), task.rendezvous ? (task.rendezvous.note || `${task.rendezvous.lat.toFixed(5)}, ${task.rendezvous.lon.toFixed(5)}`) : null),
      ...fact(t('kind'), task.kind),
      ...fact(t('description'), task.description),
      ...fact(t('snapshots'), snaps ? t('pictures', { n: snaps }) : null)),
    ...(strip ? [strip] : []),
    ...queued.map((q) => h('p.pending-line', { dataset: { pending: q.status } },
      `${t(`a_${q.status}`)}: ${q.state === 'sent' ? t('sent_wait') : t('queued')}`)),
    ...(state.ext[task.task_id] ? [h('p.pending-line', { dataset: { pending: 'extension' } }, t('f_ext_pending', { minutes: state.ext[task.task_id].minutes }))] : []),
    form || h('div.actions', {}, ...buttons, ...(extAllowed ? [h('button.plain.wide', {
      dataset: { action: 'extension' }, onclick: () => { state.form = 'extension'; renderDetail(); },
    }, t('f_ask_ext'))] : [])),
    h('div', {}, h('strong', {}, t('navigate'))),
    h('div.nav', {},
      h('a', { href: links.geo, id: 'nav-geo' }, t('nav_system')),
      h('a', { href: links.amap, id: 'nav-amap', target: '_blank', rel: 'noopener' }, t('nav_amap')),
      h('a', { href: links.baidu, id: 'nav-baidu', target: '_blank', rel: 'noopener' }, t('nav_baidu'))),
  );
  drawMiniMap(mapEl, task);
}

function pin(cls) {
  return window.L.divIcon({ className: '', html: `<div class="pin ${cls}"></div>`, iconSize: [14, 14], iconAnchor: [7, 7] });
}

function drawMiniMap(el, task) {
  if (state.detailMap) { state.detailMap.remove(); state.detailMap = null; }
  if (!window.L) return;
  const tiles = state.cfg?.tiles || { url: '', crs: 'wgs84', max_zoom: 19 };
  // The offline base map's tiles are read with the worker's login, as the other API reads.
  const login = state.login;
  const headers = login ? { Authorization: `Basic ${btoa(unescape(encodeURIComponent(`${login.username}:${login.password}`)))}` } : {};
  const m = createMap(el, tiles, { basemap: Boolean(state.cfg?.basemap && login), headers });
  state.detailMap = m.map;
  const pts = [m.toMap(task.location.lat, task.location.lon)];
  // Each dot says what it is: a bare dot is read as "me" as often as "the incident".
  const label = (marker, text) => marker.bindTooltip(text, { permanent: true, direction: 'top', offset: [0, -6] });
  label(window.L.marker(pts[0], { icon: pin('incident'), title: titleOf(task) }).addTo(m.map), t('incident_at'));
  if (task.rendezvous) {
    const p = m.toMap(task.rendezvous.lat, task.rendezvous.lon);
    pts.push(p);
    label(window.L.marker(p, { icon: pin('meet'), title: t('rendezvous') }).addTo(m.map), t('rendezvous'));
  }
  // 喜邻 merchants and stations around, once they have been read (then the map is drawn again).
  const shops = state.login && merchantsFor(state.login, () => { if (state.open) renderDetail(); });
  if (shops) drawMerchants(m, shops, t);
  const me = here();
  if (me) {
    const p = m.toMap(me.lat, me.lon);
    pts.push(p);
    label(window.L.marker(p, { icon: pin('me'), title: t('my_position') }).addTo(m.map), t('my_position'));
  }
  requestAnimationFrame(() => {
    if (state.detailMap !== m.map) return; // replaced before it was first drawn
    m.map.invalidateSize();
    if (pts.length > 1) m.map.fitBounds(window.L.latLngBounds(pts), { padding: [24, 24], maxZoom: 17, animate: false });
    else m.map.setView(pts[0], 16, { animate: false });
  });
}

