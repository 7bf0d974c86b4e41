// The field app's rules, apart from the page and the broker: task order, distances,
// navigation links, what each task state allows, position reports, and the outbox that
// keeps a worker's answers through a dead network. Pure: also runs under node's test runner.
import { wgs84ToGcj02, gcj02ToBd09 } from './gcj02.js';

/** What the worker may answer in each task status (the dispatcher's state machine). */
export const ACTIONS = {
  offered: ['accepted', 'rejected'],
  accepted: ['en_route', 'on_scene', 'resolved'],
  en_route: ['on_scene', 'resolved'],
  on_scene: ['resolved'],
};

/**
 * What an inspector may answer on a verification task (核查): the verdicts at once, or take
 * it first (the offer then has no deadline) or decline it.
 */
export const VERIFY_ACTIONS = {
  offered: ['verified', 'rework', 'accepted', 'rejected'],
  accepted: ['verified', 'rework'],
};

/** The answers `task` allows now (by its status and purpose); none for a status the app does not know. */
export function actionsFor(task) {
  return (isVerify(task) ? VERIFY_ACTIONS : ACTIONS)[task?.status] || [];
}

/**
 * Most urgent first (severity 1 before 4), then newest offer first, then by id so that the
 * order never flickers between two renders.
 */
export function sortTasks(tasks) {
  const at = (t) => Date.parse(t.offered_at) || 0;
  return [...tasks].sort((a, b) => (a.severity - b.severity) || (at(b) - at(a)) || String(a.task_id).localeCompare(String(b.task_id)));
}

/**
 * Great-circle distance between two WGS-84 points.
 *
 * # Units
 * Degrees in (`{lat, lon}`), metres out.
 */
export function distanceM(a, b) {
  const R = 6371008.8;
  const rad = Math.PI / 180;
  const dLat = (b.lat - a.lat) * rad;
  const dLon = (b.lon - a.lon) * rad;
  const s = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * R * Math.asin(Math.min(1, Math.sqrt(s)));
}

/** `850 m`, `1.2 km`, `37 km`. */
export function formatDistance(m) {
  if (!Number.isFinite(m)) return '';
  if (m < 1000) return `${Math.round(m / 10) * 10} m`;
  if (m < 10000) return `${(m / 1000).toFixed(1)} km`;
  return `${Math.round(m / 1000)} km`;
}

/** Where the worker should go first: the rendezvous (meet the ambulance at the gate), else the incident. */
export function destination(task) {
  const r = task.rendezvous;
  if (r && Number.isFinite(r.lat) && Number.isFinite(r.lon)) return { lat: r.lat, lon: r.lon, note: r.note || '' };
  return { lat: task.location.lat, lon: task.location.lon, note: '' };
}

const round6 = (x) => Math.round(x * 1e6) / 1e6;

/**
 * Links that open a map app at a WGS-84 point: the system's (`geo:`), AutoNavi's (GCJ-02)
 * and Baidu's (BD-09). Chinese map apps read their own systems, so the point is converted
 * first; sent as WGS-84 it would land a few hundred metres off, at the wrong gate.
 */
export function navLinks(lat, lon, label = '') {
  const [gLat, gLon] = wgs84ToGcj02(lat, lon);
  const [bLat, bLon] = gcj02ToBd09(gLat, gLon);
  const name = encodeURIComponent(label || `${round6(lat)},${round6(lon)}`);
  return {
    geo: `geo:${round6(lat)},${round6(lon)}?q=${round6(lat)},${round6(lon)}(${name})`,
    amap: `https://uri.amap.com/marker?position=${round6(gLon)},${round6(gLat)}&name=${name}&coordinate=gaode&callnative=1`,
    baidu: `https://api.map.baidu.com/marker?location=${round6(bLat)},${round6(bLon)}&title=${name}&content=${name}&coord_type=bd09ll&output=html&src=griddispatch`,
  };
}

/**
 * An OwnTracks location message (what the dispatcher's `owntracks/<id>/<device>` reader
 * takes) from a browser position (`GeolocationPosition`-like) and the time in ms.
 */
export function ownTracksLocation(pos, nowMs, battery) {
  const c = pos.coords;
  const msg = { _type: 'location', lat: c.latitude, lon: c.longitude, tst: Math.floor((pos.timestamp || nowMs) / 1000), tid: 'gd' };
  if (Number.isFinite(c.accuracy)) msg.acc = Math.round(c.accuracy);
  if (Number.isFinite(c.speed) && c.speed !== null) msg.vel = Math.round(c.speed * 3.6);
  if (Number.isFinite(battery)) msg.batt = Math.round(battery);
  return msg;
}

/** The topics of responder `rid` (docs/contract.md). */
export function topics(rid) {
  const base = `dispatch/${rid}`;
  return {
    inbox: `${base}/tasks/+`,
    closed: `${base}/tasks/+/closed`,
    answers: `${base}/tasks/+/update/+`,
    duty: `${base}/duty`,
    dutySet: `${base}/duty/set`,
    extensionAnswers: `${base}/tasks/+/extension/answer`,
    update: (taskId) => `${base}/tasks/${taskId}/update`,
    extension: (taskId) => `${base}/tasks/${taskId}/extension`,
    position: `owntracks/${rid}/field`,
  };
}

/**
 * What a message on one of the worker's topics is: `{kind: 'task'|'closed'|'answer'|'extension'|'duty',
 * taskId?, verdict?}`, or null for anything else.
 */
export function classify(rid, topic) {
  const parts = topic.split('/');
  if (parts[0] !== 'dispatch' || parts[1] !== rid) return null;
  if (parts.length === 3 && parts[2] === 'duty') return { kind: 'duty' };
  if (parts[2] !== 'tasks' || !parts[3]) return null;
  if (parts.length === 4) return { kind: 'task', taskId: parts[3] };
  if (parts.length === 5 && parts[4] === 'closed') return { kind: 'closed', taskId: parts[3] };
  if (parts.length === 6 && parts[4] === 'update' && (parts[5] === 'accepted' || parts[5] === 'rejected')) {
    return { kind: 'answer', taskId: parts[3], verdict: parts[5] };
  }
  if (parts.length === 6 && parts[4] === 'extension' && parts[5] === 'answer') return { kind: 'extension', taskId: parts[3] };
  return null;
}

// ---- rework and extensions (延期) -----------------------------------------------------------

/** A task that brings back a case the worker resolved and an operator sent back (返工). */
export function isRework(task) {
  return task?.purpose === 'rework';
}

/** Why the case came back: the operator's reason, '' when none was given. */
export function reworkReason(task) {
  return isRework(task) && typeof task.rework_reason === 'string' ? task.rework_reason.trim() : '';
}

/** An inspector's verdicts on a verification task. */
export const VERDICTS = ['verified', 'rework'];

/** A task that asks an inspector to check someone else's resolution (核查). */
export function isVerify(task) {
  return task?.purpose === 'verify';
}

/** What the worker who resolved it reported, '' when they wrote nothing. */
export function resolutionNote(task) {
  return isVerify(task) && typeof task.resolution_note === 'string' ? task.resolution_note.trim() : '';
}

/**
 * The note sent with an answer that needs one: a rejection's or a rework's reason (the
 * dispatcher refuses a rework without one), else optional. `{ok: true, note}` or `{ok: false}`.
 */
export function answerNote(status, typed) {
  const note = typeof typed === 'string' ? typed.trim() : '';
  if (!note && (status === 'rejected' || status === 'rework')) return { ok: false };
  return { ok: true, note };
}

/** The task statuses in which the worker may ask for more time (docs/contract.md). */
export const EXTENSION_STATUSES = ['accepted', 'en_route', 'on_scene'];
/** Quick choices offered in the form, in minutes. */
export const EXTENSION_PRESETS = [30, 60, 120, 240];
export const EXTENSION_MAX_MINUTES = 10080;
export const EXTENSION_MAX_REASON = 500;

/** Whether the worker may ask for more time on `task` (judged on its status, as projected). */
export function canAskExtension(task) {
  return !isVerify(task) && EXTENSION_STATUSES.includes(task?.status);
}

/**
 * Checks what the worker typed and builds the payload for `…/extension`:
 * `{ok: true, body: {minutes, reason}}`, or `{ok: false, error: 'minutes'|'reason'}`.
 * Minutes are a whole number 1..10080 (a string from an input is read too); the reason is
 * required, trimmed, at most 500 characters.
 */
export function extensionRequest(minutes, reason) {
  const m = typeof minutes === 'string' ? (minutes.trim() === '' ? NaN : Number(minutes)) : minutes;
  if (typeof m !== 'number' || !Number.isInteger(m) || m < 1 || m > EXTENSION_MAX_MINUTES) return { ok: false, error: 'minutes' };
  const r = typeof reason === 'string' ? reason.trim() : '';
  if (!r || [...r].length > EXTENSION_MAX_REASON) return { ok: false, error: 'reason' };
  return { ok: true, body: { minutes: m, reason: r } };
}

/**
 * How the dispatcher's answer on `…/extension/answer` is told to the worker:
 * `{kind: 'ok'|'bad', key, vars}` for i18n's `t(key, vars)`. `formatTime` turns the
 * RFC 3339 deadline into the phone's local wording. Null for a malformed answer.
 */
export function extensionVerdict(answer, formatTime = (iso) => iso) {
  if (!answer || typeof answer.approved !== 'boolean') return null;
  const note = typeof answer.note === 'string' ? answer.note.trim() : '';
  if (!answer.approved) return { kind: 'bad', key: note ? 'f_ext_refused' : 'f_ext_refused_nonote', vars: { note } };
  const minutes = Number.isFinite(answer.minutes) ? answer.minutes : 0;
  const due = answer.due_at && Number.isFinite(Date.parse(answer.due_at)) ? formatTime(answer.due_at) : '';
  const key = due ? 'f_ext_approved' : 'f_ext_approved_nodue';
  return { kind: 'ok', key: note ? `${key}_note` : key, vars: { minutes, due, note } };
}

/**
 * The worker's answers waiting to reach the dispatcher, oldest first, kept in `storage`
 * (localStorage on the phone) so that a reload or a dead battery loses nothing typed.
 *
 * Each item is `{id, task_id, status, version, note?, state}`; `state` is `queued` (not
 * sent), `sending` (published, broker not confirmed) or `sent` (broker has it, verdict
 * awaited). Answers to one task go one at a time: each accepted status change raises the
 * task's version, so the next queued answer is sent with the version the verdict names.
 */
export class Outbox {
  constructor(storage, key = 'gd_field_outbox') {
    this.storage = storage;
    this.key = key;
    let items = [];
    try { items = JSON.parse(storage.getItem(key) || '[]'); } catch { items = []; }
    this.items = Array.isArray(items) ? items : [];
    // What the broker had not confirmed died with the last page (mqtt.js keeps its unsent
    // packets in memory), so it goes out again.
    this.requeueUnconfirmed();
    this.seq = this.items.reduce((m, i) => Math.max(m, i.id || 0), 0);
  }

  save() { this.storage.setItem(this.key, JSON.stringify(this.items)); }

  /** Queues an answer. */
  add({ task_id, status, version, note }) {
    const item = { id: ++this.seq, task_id, status, version, state: 'queued', queued_at: Date.now() };
    if (note) item.note = note;
    this.items.push(item);
    this.save();
    return item;
  }

  /** Answers waiting for `taskId`, oldest first. */
  forTask(taskId) { return this.items.filter((i) => i.task_id === taskId); }

  /** The answers to publish now: the oldest queued one of each task that has none in flight. */
  ready() {
    const busy = new Set(this.items.filter((i) => i.state !== 'queued').map((i) => i.task_id));
    const out = [];
    for (const i of this.items) {
      if (i.state === 'queued' && !busy.has(i.task_id)) { out.push(i); busy.add(i.task_id); }
    }
    return out;
  }

  mark(id, state) {
    const i = this.items.find((x) => x.id === id);
    if (i) { i.state = state; this.save(); }
  }

  /**
   * The client that was sending was dropped (a new one takes over, without the old one's
   * unconfirmed packets): what the broker never confirmed goes out again.
   */
  requeueUnconfirmed() {
    for (const i of this.items) if (i.state === 'sending') i.state = 'queued';
    this.save();
  }

  /**
   * The dispatcher's verdict `{task_id, status, version, reason?}` on the answer in flight
   * for its task. Returns `{item, dropped}`: the answer it settles (null when none was in
   * flight, e.g. a verdict on an answer sent twice) and, after a refusal, the later answers
   * to the same task that now cannot apply.
   */
  verdict(answer, accepted) {
    const item = this.items.find((i) => i.task_id === answer.task_id && i.state !== 'queued');
    if (!item) return { item: null, dropped: [] };
    let dropped = [];
    if (accepted) {
      for (const i of this.items) if (i.task_id === answer.task_id && i !== item) i.version = answer.version;
      this.items = this.items.filter((i) => i !== item);
    } else {
      dropped = this.items.filter((i) => i.task_id === answer.task_id && i !== item);
      this.items = this.items.filter((i) => i.task_id !== answer.task_id);
    }
    this.save();
    return { item, dropped };
  }

  /**
   * The dispatcher says what became of a task (its retained message, or its closing
   * notice): answers in flight that this already shows (their verdict was lost, e.g. with a
   * restarted broker) are settled, and nothing more can be sent to a closed task.
   * Returns the answers that were still queued for a closed task, to tell the worker.
   */
  observed(taskId, status, closed) {
    const before = this.items.length;
    // A verdict (`verified`, `rework`) ends a verification task as `resolved`.
    const shows = (i) => i.status === status || (status === 'resolved' && VERDICTS.includes(i.status));
    const inFlightDone = (i) => i.task_id === taskId && i.state === 'sent' && shows(i);
    let dropped = [];
    if (closed) {
      dropped = this.items.filter((i) => i.task_id === taskId && !inFlightDone(i));
      this.items = this.items.filter((i) => i.task_id !== taskId);
    } else {
      this.items = this.items.filter((i) => !inFlightDone(i));
    }
    if (this.items.length !== before) this.save();
    return dropped;
  }

  get size() { return this.items.length; }
}
