// The field app. The worker signs in with the MQTT login of their responder and the page
// talks straight to the broker over MQTT-over-WebSocket (mqtt.js): it shows the retained
// task inbox, rings for new tasks, answers them through an outbox that outlives a dead
// network or a reload, reports positions in OwnTracks format while on duty, and toggles duty.
// Topics and payloads: docs/contract.md.
import { t, applyI18n, onLangChange, setLang, currentLang, LANGUAGES } from './i18n.js';
import { h } from './common.js';
import {
  Outbox, ownTracksLocation, topics, classify, isVerify, extensionVerdict,
} from './field-core.js';
import {
  bindView, renderList, renderDetail, tickCountdown, forgetPictures,
} from './field-view.js';
import { bindReport } from './field-report.js';
import { titleOf } from './field-card.js';
import { bindPoints } from './field-points.js';

const LOGIN_KEY = 'gd_field_login';
const DEVICE_KEY = 'gd_field_device';
const CONFIG_KEY = 'gd_field_config';
/** After the inbox subscription is confirmed, retained tasks arrive at once; a stored task
 * not among them by then has left the worker while the phone was away. */
const SWEEP_MS = 3000;
/** Longest the duty button waits for the dispatcher's retained duty state. */
const DUTY_WAIT_MS = 10000;

const $ = (id) => document.getElementById(id);
const mqtt = window.mqtt;

/** Everything the page knows; saved pieces live in localStorage. */
const state = {
  /** `GET /api/v1/field/config` (or its last copy, offline). */
  cfg: null,
  /** `{username, password, broker}` of the signed-in worker. */
  login: null,
  client: null,
  connected: false,
  /** Counts connections, to tell tasks confirmed since the last one. */
  epoch: 0,
  /** task_id → the task message, plus `_epoch` (the connection that last confirmed it). */
  tasks: new Map(),
  /** true / false from the retained duty state; null until it is known. */
  duty: null,
  dutyWaiting: null,
  /** The last browser position. */
  position: null,
  outbox: null,
  /** The task whose detail is open. */
  open: null,
  /** Typed notes per task and action, kept across re-renders. */
  drafts: {},
  /** Which answer form (rejected / resolved / extension) is open in the detail. */
  form: null,
  /** task_id → `{minutes}` of an extension request sent and not yet answered. */
  ext: {},
  /** task_id → `{minutes, reason}` typed in the extension form. */
  extDrafts: {},
  detailMap: null,
  timers: [],
};

function tasksKey() { return `gd_field_tasks_${state.login.username}`; }

function saveTasks() {
  localStorage.setItem(tasksKey(), JSON.stringify([...state.tasks.values()]));
}

function loadTasks() {
  state.tasks.clear();
  try {
    for (const task of JSON.parse(localStorage.getItem(tasksKey()) || '[]')) if (task && task.task_id) state.tasks.set(task.task_id, task);
  } catch { /* a damaged copy: the broker sends the inbox again */ }
}

function deviceId() {
  let d = localStorage.getItem(DEVICE_KEY);
  if (!d) {
    d = Math.random().toString(36).slice(2, 10);
    localStorage.setItem(DEVICE_KEY, d);
  }
  return d;
}

async function loadConfig() {
  try {
    const r = await fetch('/api/v1/field/config', { cache: 'no-store' });
    if (r.ok) {
      state.cfg = await r.json();
      localStorage.setItem(CONFIG_KEY, JSON.stringify(state.cfg));
      return;
    }
  } catch { /* offline: the last copy below */ }
  try { state.cfg = JSON.parse(localStorage.getItem(CONFIG_KEY) || 'null'); } catch { state.cfg = null; }
}

/** The broker's WebSocket URL: typed at sign-in, else from the server's settings. */
function defaultBroker() {
  const c = state.cfg;
  if (!c) return '';
  if (c.mqtt_ws_url) return c.mqtt_ws_url;
  if (!c.mqtt_ws_port) return '';
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  const host = location.hostname.includes(':') ? `[${location.hostname}]` : location.hostname;
  return `${scheme}://${host}:${c.mqtt_ws_port}${c.mqtt_ws_path || '/mqtt'}`;
}

// ---- notices, sound, notifications ------------------------------------------------------

function notice(message, kind = 'warn', key = null) {
  const box = $('notices');
  if (key) for (const old of box.querySelectorAll(`[data-key="${CSS.escape(key)}"]`)) old.remove();
  const el = h(`div.notice.${kind}`, { role: 'alert', dataset: key ? { key } : {} },
    h('span.msg', {}, message),
    h('button.ghost.small', { onclick: () => el.remove() }, t('dismiss')));
  box.prepend(el);
}

let audio = null;
function unlockAudio() {
  try {
    audio = audio || new AudioContext();
    if (audio.state === 'suspended') audio.resume();
  } catch { audio = null; }
}

/** Three loud beeps and a vibration: a new task must be noticed in a pocket. */
function ring() {
  navigator.vibrate?.([400, 150, 400, 150, 400]);
  if (!audio || audio.state !== 'running') return;
  const start = audio.currentTime;
  for (let k = 0; k < 3; k++) {
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.frequency.value = 880;
    gain.gain.value = 0.4;
    osc.connect(gain).connect(audio.destination);
    osc.start(start + k * 0.45);
    osc.stop(start + k * 0.45 + 0.3);
  }
}

async function notify(task) {
  if (!('Notification' in window) || Notification.permission !== 'granted') return;
  const title = t('new_task', { title: titleOf(task) });
  const opts = { body: [task.address, task.description].filter(Boolean).join('\n'), tag: task.task_id, renotify: true, requireInteraction: task.severity <= 2 };
  try {
    const reg = await navigator.serviceWorker?.getRegistration('/field');
    if (reg) { await reg.showNotification(title, opts); return; }
    new Notification(title, opts); // eslint-disable-line no-new
  } catch { /* notifications are a courtesy; the ring and the list are the alert */ }
}

function updateAlertsButton() {
  const needsPermission = 'Notification' in window && Notification.permission === 'default';
  const needsSound = !audio || audio.state !== 'running';
  $('enable-alerts').hidden = !(needsPermission || needsSound);
}

async function enableAlerts() {
  unlockAudio();
  if ('Notification' in window && Notification.permission === 'default') {
    try { await Notification.requestPermission(); } catch { /* refused */ }
  }
  updateAlertsButton();
}

// ---- the broker ---------------------------------------------------------------------------

/** Connects with the stored login. `onFirst(err)` hears how the first attempt went. */
function connect(onFirst) {
  const { username, password, broker } = state.login;
  const url = broker || defaultBroker();
  if (!url) { onFirst?.(t('no_broker')); return; }
  const tp = topics(username);
  let first = onFirst;
  const client = mqtt.connect(url, {
    username, password,
    clientId: `field-${username}-${deviceId()}`.slice(0, 64),
    // A kept session: what the dispatcher sends while the phone is away (offers, verdicts,
    // withdrawals) waits in the broker and arrives on reconnect.
    clean: false,
    protocolVersion: 4,
    keepalive: 30,
    reconnectPeriod: 2000,
    connectTimeout: 10000,
    resubscribe: true,
  });
  state.client = client;
  const mine = () => state.client === client;
  client.on('connect', () => {
    if (!mine()) return;
    state.connected = true;
    const epoch = ++state.epoch;
    first?.(null);
    first = null;
    renderConn();
    client.subscribe([tp.inbox, tp.closed, tp.answers, tp.extensionAnswers, tp.duty], { qos: 1 }, (err) => {
      if (err || epoch !== state.epoch) return;
      setTimeout(() => sweep(epoch), SWEEP_MS);
    });
    flush();
    publishPosition();
  });
  client.on('message', (topic, payload) => { if (mine()) onMessage(topic, payload); });
  client.on('close', () => { if (mine()) { state.connected = false; renderConn(); } });
  client.on('error', (err) => {
    // 4: bad user name or password, 5: not authorised. Retrying cannot help.
    if (err && (err.code === 4 || err.code === 5)) {
      client.end(true);
      if (first) { first(t('bad_login')); first = null; } else signOut(t('bad_login'));
    }
  });
  if (first) {
    setTimeout(() => {
      if (first && !state.connected) {
        client.end(true);
        first(`${t('offline')}: ${url}`);
        first = null;
      }
    }, 12000);
  }
}

/** Stored tasks the broker did not confirm on this connection left while we were away. */
function sweep(epoch) {
  if (epoch !== state.epoch || !state.connected) return;
  for (const task of [...state.tasks.values()]) {
    if (task._epoch !== epoch) {
      state.tasks.delete(task.task_id);
      notice(`${titleOf(task)}: ${t('closed_gone')}`, 'warn', task.task_id);
      for (const item of state.outbox.observed(task.task_id, null, true)) dropNotice(task, item);
    }
  }
  saveTasks();
  render();
}

function parse(payload) {
  try { return JSON.parse(new TextDecoder().decode(payload)); } catch { return null; }
}

function onMessage(topic, payload) {
  const what = classify(state.login.username, topic);
  if (!what) return;
  if (what.kind === 'duty') {
    const d = payload.length ? parse(payload) : null;
    state.duty = d && typeof d.on_duty === 'boolean' ? d.on_duty : null;
    state.dutyWaiting = null;
    if (state.duty) publishPosition();
    renderDuty();
    return;
  }
  if (what.kind === 'task') {
    if (!payload.length) {
      // Cleared: the closing notice (sent just before) says why.
      if (state.tasks.delete(what.taskId)) { saveTasks(); render(); }
      return;
    }
    const task = parse(payload);
    if (!task || task.task_id !== what.taskId || !task.location) return;
    const known = state.tasks.get(task.task_id);
    task._epoch = state.epoch;
    state.tasks.set(task.task_id, task);
    state.outbox.observed(task.task_id, task.status, false);
    saveTasks();
    if (!known && task.status === 'offered') {
      ring();
      notify(task);
    }
    render();
    return;
  }
  if (what.kind === 'closed') {
    const c = parse(payload);
    if (!c) return;
    const task = state.tasks.get(what.taskId) || { title: what.taskId };
    state.tasks.delete(what.taskId);
    const reason = c.reason || '';
    if (c.status === 'withdrawn' || c.status === 'expired') {
      notice(`${titleOf(task)}: ${t(`closed_${c.status}`, { reason })}`, 'warn', what.taskId);
    } else if (c.status === 'resolved') {
      // The task leaves the list once the dispatcher stored the resolution: say it arrived.
      notice(`${titleOf(task)}: ${t(isVerify(task) ? 'verdict_received' : 'resolution_received')}`, 'ok', what.taskId);
    }
    for (const item of state.outbox.observed(what.taskId, c.status, true)) dropNotice(task, item);
    delete state.ext[what.taskId];
    saveTasks();
    render();
    return;
  }
  if (what.kind === 'extension') {
    const v = extensionVerdict(parse(payload), formatDue);
    if (!v) return;
    const task = state.tasks.get(what.taskId);
    delete state.ext[what.taskId];
    notice(`${task ? titleOf(task) : what.taskId}: ${t(v.key, v.vars)}`, v.kind, `ext-${what.taskId}`);
    render();
    return;
  }
  if (what.kind === 'answer') {
    const a = parse(payload);
    if (!a || a.task_id !== what.taskId) return;
    const accepted = what.verdict === 'accepted';
    const { item, dropped } = state.outbox.verdict(a, accepted);
    if (!item) return; // a verdict on an answer sent twice; the first one counted
    const task = state.tasks.get(a.task_id);
    if (accepted) {
      if (task) { task.status = a.status; task.version = a.version; saveTasks(); }
      publishPosition();
    } else {
      notice(`${task ? titleOf(task) : a.task_id}: ${t('refused', { reason: a.reason || a.status })}`, 'bad', `refused-${a.task_id}`);
      for (const d of dropped) dropNotice(task || { title: a.task_id }, d);
    }
    flush();
    render();
  }
}

function dropNotice(task, item) {
  notice(`${titleOf(task)}: ${t('dropped_answer', { status: t(`a_${item.status}`) })}`, 'bad');
}

/** Sends what the outbox holds, one answer per task at a time. */
function flush() {
  if (!state.connected || !state.client) return;
  const tp = topics(state.login.username);
  for (const item of state.outbox.ready()) {
    const body = { status: item.status, version: item.version };
    if (item.note) body.note = item.note;
    if (state.position) { body.lat = state.position.coords.latitude; body.lon = state.position.coords.longitude; }
    state.outbox.mark(item.id, 'sending');
    state.client.publish(tp.update(item.task_id), JSON.stringify(body), { qos: 1 }, (err) => {
      state.outbox.mark(item.id, err ? 'queued' : 'sent');
      render();
    });
  }
  render();
}

/** One OwnTracks report, when on duty, connected and located. */
function publishPosition() {
  if (!state.duty || !state.connected || !state.position) return;
  const msg = ownTracksLocation(state.position, Date.now());
  state.client.publish(topics(state.login.username).position, JSON.stringify(msg), { qos: 1 });
}

function watchPosition() {
  if (!navigator.geolocation) return;
  if (state.watchId !== undefined) navigator.geolocation.clearWatch(state.watchId);
  state.watchId = navigator.geolocation.watchPosition((pos) => {
    const first = !state.position;
    state.position = pos;
    if (first) publishPosition();
    renderPosition();
  }, () => renderPosition(), { enableHighAccuracy: true, maximumAge: 10000, timeout: 30000 });
  const every = Math.max(5, Number(state.cfg?.location_interval_secs) || 30) * 1000;
  state.timers.push(setInterval(publishPosition, every));
}

function toggleDuty() {
  if (!state.connected || state.duty === null) return;
  const want = !state.duty;
  state.dutyWaiting = want;
  state.client.publish(topics(state.login.username).dutySet, JSON.stringify({ on_duty: want }), { qos: 1 });
  renderDuty();
  setTimeout(() => { if (state.dutyWaiting === want) { state.dutyWaiting = null; renderDuty(); } }, DUTY_WAIT_MS);
}

// ---- answers ------------------------------------------------------------------------------

function answer(task, status, note) {
  const queued = state.outbox.forTask(task.task_id);
  const version = queued.length ? queued[queued.length - 1].version : task.version;
  state.outbox.add({ task_id: task.task_id, status, version, note: note || undefined });
  delete state.drafts[`${task.task_id}:${status}`];
  state.form = null;
  if (status === 'accepted' || status === 'rejected') navigator.vibrate?.(50);
  flush();
  render();
}

/** A deadline (RFC 3339) in the phone's own time and language. */
function formatDue(iso) {
  return new Date(iso).toLocaleString(currentLang(), { month: 'numeric', day: 'numeric', hour: '2-digit', minute: '2-digit' });
}

/**
 * Asks for more time (延期). Sent at once and only when connected: unlike status answers it
 * carries no version to order it, and a request that waited offline for hours would ask
 * for the wrong amount; offline, the worker is told so and the form keeps what was typed.
 */
function askExtension(task, body) {
  if (!state.connected || !state.client) {
    notice(`${titleOf(task)}: ${t('f_ext_offline')}`, 'warn', `ext-${task.task_id}`);
    return;
  }
  state.ext[task.task_id] = { minutes: body.minutes };
  delete state.extDrafts[task.task_id];
  state.form = null;
  state.client.publish(topics(state.login.username).extension(task.task_id), JSON.stringify(body), { qos: 1 }, (err) => {
    if (err) {
      delete state.ext[task.task_id];
      notice(`${titleOf(task)}: ${t('f_ext_failed')}`, 'bad', `ext-${task.task_id}`);
    } else if (state.ext[task.task_id]) {
      notice(`${titleOf(task)}: ${t('f_ext_sent', { minutes: body.minutes })}`, 'ok', `ext-${task.task_id}`);
    }
    render();
  });
  render();
}

// ---- rendering ----------------------------------------------------------------------------

function renderConn() {
  const c = $('conn');
  if (!c) return;
  c.textContent = state.connected ? t('online') : t('offline');
  c.className = `pill ${state.connected ? 'ok' : 'bad'}`;
  renderDuty();
  renderPending();
}

function renderDuty() {
  const b = $('duty');
  const on = state.duty === true;
  b.setAttribute('aria-pressed', String(on));
  b.textContent = `${on ? t('on_duty') : t('off_duty')} · ${on ? t('go_off_duty') : t('go_on_duty')}`;
  b.disabled = !state.connected || state.duty === null || state.dutyWaiting !== null;
  b.title = state.connected ? '' : t('duty_offline');
}

function renderPending() {
  const p = $('pending');
  const n = state.outbox ? state.outbox.size : 0;
  p.hidden = n === 0;
  p.textContent = t('pending_n', { n });
}

function renderPosition() {
  const p = state.position;
  $('position').textContent = p
    ? `${t('my_position')}: ${p.coords.latitude.toFixed(5)}, ${p.coords.longitude.toFixed(5)} (±${Math.round(p.coords.accuracy || 0)} m)`
    : t('no_position');
}

function render() {
  if (!state.login) return;
  renderConn();
  renderList();
  // The open detail is rebuilt only when what it shows changed, so a half-typed note and
  // the map's pan survive the every-second countdown and unrelated messages.
  const task = state.open && state.tasks.get(state.open);
  const sig = task ? JSON.stringify([task.version, task.status, task.purpose, state.outbox.forTask(task.task_id), state.form, state.ext[task.task_id], currentLang()]) : null;
  if (sig !== state.detailSig) {
    state.detailSig = sig;
    renderDetail();
  }
}

// ---- sign in / out -------------------------------------------------------------------------

function fillLangs() {
  for (const sel of document.querySelectorAll('select.lang')) {
    sel.replaceChildren(...LANGUAGES.map(([code, label]) => h('option', { value: code, selected: code === currentLang() }, label)));
    sel.onchange = (e) => setLang(e.target.value);
  }
}

function showMain() {
  $('login-view').hidden = true;
  $('main-view').hidden = false;
  $('who').textContent = state.login.username;
  state.outbox = new Outbox(localStorage, `gd_field_outbox_${state.login.username}`);
  loadTasks();
  render();
  renderPosition();
  updateAlertsButton();
  watchPosition();
  state.timers.push(setInterval(() => {
    for (const el of document.querySelectorAll('.countdown')) tickCountdown(el);
  }, 1000));
}

function showLogin(error) {
  $('main-view').hidden = true;
  $('login-view').hidden = false;
  $('f-broker').value = defaultBroker();
  const err = $('login-error');
  err.hidden = !error;
  err.textContent = error || '';
}

function signOut(error) {
  if (state.outbox && state.outbox.size > 0 && !error && !window.confirm(t('pending_n', { n: state.outbox.size }))) return;
  state.client?.end(true);
  state.client = null;
  state.connected = false;
  for (const id of state.timers) clearInterval(id);
  state.timers = [];
  if (state.login) localStorage.removeItem(tasksKey());
  localStorage.removeItem(LOGIN_KEY);
  state.login = null;
  state.tasks.clear();
  // The next worker on this phone fetches pictures with their own login.
  forgetPictures();
  state.open = null;
  showLogin(error);
}

function onLoginSubmit(e) {
  e.preventDefault();
  unlockAudio();
  const username = $('f-username').value.trim();
  const password = $('f-password').value;
  const typed = $('f-broker').value.trim();
  const broker = typed && typed !== defaultBroker() ? typed : '';
  const button = $('f-login');
  button.disabled = true;
  $('login-error').hidden = true;
  state.login = { username, password, broker };
  state.outbox = new Outbox(localStorage, `gd_field_outbox_${username}`);
  connect((err) => {
    button.disabled = false;
    if (err) {
      state.login = null;
      showLogin(err);
      return;
    }
    localStorage.setItem(LOGIN_KEY, JSON.stringify(state.login));
    showMain();
    enableAlerts();
  });
}

/**
 * The network state the phone reports: with no network the connection is dropped at once
 * (not a keepalive later) and no reconnect is tried until the phone says it is back.
 */
function watchNetwork() {
  window.addEventListener('offline', () => {
    if (!state.client) return;
    state.client.end(true);
    state.client = null;
    state.connected = false;
    state.outbox?.requeueUnconfirmed();
    renderConn();
  });
  window.addEventListener('online', () => {
    if (state.login && !state.client) connect(null);
  });
}

bindView({ state, answer, askExtension, render });
bindReport({ login: () => state.login, position: () => state.position, notice });
bindPoints({ login: () => state.login, position: () => state.position, notice });

async function main() {
  fillLangs();
  applyI18n();
  onLangChange(() => { fillLangs(); state.detailSig = undefined; render(); renderPosition(); });
  if ('serviceWorker' in navigator) {
    navigator.serviceWorker.register('/field/sw.js', { scope: '/field' }).catch((e) => console.warn('service worker:', e));
  }
  $('field-login').addEventListener('submit', onLoginSubmit);
  $('logout').addEventListener('click', () => signOut());
  $('duty').addEventListener('click', toggleDuty);
  $('enable-alerts').addEventListener('click', enableAlerts);
  watchNetwork();
  await loadConfig();
  let saved = null;
  try { saved = JSON.parse(localStorage.getItem(LOGIN_KEY) || 'null'); } catch { saved = null; }
  if (saved && saved.username && saved.password) {
    state.login = saved;
    showMain();
    connect(null);
  } else {
    showLogin(state.cfg && !defaultBroker() ? t('no_broker') : null);
  }
  document.body.dataset.ready = 'true';
}

main();
