// A scripted history with known answers, for the browser tests of the reports page: eight
// incidents lived through the real binary (alerts over HTTP, three workers answering over
// MQTT with mosquitto_pub, operators acting over HTTP, deadlines of seconds), and the
// report's figures for it worked out by hand. The same history as tests/it/report_history.rs,
// where each figure is explained; this module is its one copy on the JavaScript side.
//
// | id | zone | kind            | who     | what happens                                       |
// |----|------|-----------------|---------|----------------------------------------------------|
// | A  | g1   | litter          | w1      | handled, verified: closed on time                  |
// | B  | g1   | noise (2 s)     | w1      | handled, verified once its deadline passed: late   |
// | C  | g1   | litter          | w2      | handled, sent back once, handled again, verified   |
// | D  | g2   | litter          | w3      | 30 more minutes asked and approved, verified       |
// | E  | g2   | litter          | w3      | suspended while assigned, resumed, verified        |
// | F  | g1   | litter          | w1 → w2 | w1 rejects, offered to w2, cancelled               |
// | G  | g2   | intrusion (2 s) | w3      | offer expires, escalated, open past its deadline   |
// | H  | g1   | litter          | w1      | accepted, still open, due in an hour               |
import assert from 'node:assert/strict';
import { publish, until } from './harness.mjs';

/** Settings of the run (pass to `startApp`): deadlines of seconds, a 10 s offer timeout (only G's offer is left to expire). */
export const HISTORY_ENV = {
  GRIDDISPATCH__DEADLINES__SEV3_SECS: '3600',
  GRIDDISPATCH__DEADLINES__KINDS__NOISE: '2',
  GRIDDISPATCH__DEADLINES__KINDS__INTRUSION: '2',
  GRIDDISPATCH__DISPATCH__ACK_TIMEOUT_SECS: '10',
  GRIDDISPATCH__CORRELATION__RADIUS_M: '1',
  GRIDDISPATCH__REPORTS__SCORE__EXTENSION: '10',
  GRIDDISPATCH__REPORTS__GRADES__B: '85',
  GRIDDISPATCH__REPORTS__GRADES__C: '75',
  GRIDDISPATCH__REPORTS__GRADES__D: '60',
};

/** Count fields of a report row, in the order of the EXPECTED arrays. */
export const COUNTS = ['opened', 'due', 'closed', 'closed_on_time', 'reworked', 'extended', 'suspended', 'overdue', 'cancelled', 'escalated'];

/**
 * The report of the period holding the history, by hand. `counts` in the order of COUNTS;
 * rates are over `due`; score = 40 × closure + 60 × on time − 20 × rework − 10 × extension
 * (all rates), grades A ≥ 90, B ≥ 85, C ≥ 75, D ≥ 60; `phases_n` the incidents measured per
 * phase (to first offer, offer → accept, accept → on scene, on scene → resolved, resolved
 * → closed, to on scene); `offers` [received, accepted, rejected, expired].
 */
export const EXPECTED = {
  zone: {
    // g1 opened A B C F H, due A B C H: closed A B C, on time A C, C reworked, B overdue.
    g1: { counts: [5, 4, 3, 2, 1, 0, 0, 1, 1, 0], score: 55, grade: 'E', phases_n: [5, 4, 3, 3, 3, 3] },
    // g2 opened and due D E G: D and E on time, D extended, E suspended, G overdue, escalated.
    g2: { counts: [3, 3, 2, 2, 0, 1, 1, 1, 0, 1], score: 190 / 3, grade: 'D', phases_n: [3, 2, 2, 2, 2, 2] },
  },
  responder: {
    // Credited to whoever resolved: nobody F G H, w1 A B, w2 C, w3 D E.
    '(none)': { counts: [3, 2, 0, 0, 0, 0, 0, 1, 1, 1], score: 0, grade: 'E', offers: [0, 0, 0, 0] },
    w1: { counts: [2, 2, 2, 1, 0, 0, 0, 1, 0, 0], score: 70, grade: 'D', offers: [4, 3, 1, 0] },
    w2: { counts: [1, 1, 1, 1, 1, 0, 0, 0, 0, 0], score: 80, grade: 'C', offers: [3, 2, 0, 0] },
    w3: { counts: [2, 2, 2, 2, 0, 1, 1, 0, 0, 0], score: 95, grade: 'A', offers: [4, 3, 0, 1] },
  },
  total: { counts: [8, 7, 5, 4, 1, 1, 1, 2, 1, 1], score: 410 / 7, grade: 'E', offers: [11, 8, 1, 1] },
};

/** The rates of a row of EXPECTED, as fractions (null when nothing is due). */
export function expectedRates(counts) {
  const due = counts[1];
  const r = (k) => (due ? counts[k] / due : null);
  return { closure_rate: r(2), on_time_rate: r(3), rework_rate: r(4), extension_rate: r(5) };
}

// Zones g1 and g2 (north of it), lat/lon; w1, w2 in g1 (w2 400 m south-west), w3 in g2.
const G1 = [[121.46, 31.21], [121.47, 31.21], [121.47, 31.22], [121.46, 31.22], [121.46, 31.21]];
const G2 = [[121.46, 31.22], [121.47, 31.22], [121.47, 31.23], [121.46, 31.23], [121.46, 31.22]];
const AT = { w1: [31.2150, 121.4650], w2: [31.2120, 121.4620], w3: [31.2250, 121.4650] };
const TEAM = [['w1', 'grid_worker', 'g1'], ['w2', 'grid_worker', 'g1'], ['w3', 'patrol', 'g2']];



/**
 * Lives the history in `app` (a fresh instance started with HISTORY_ENV). Returns the
 * incident ids by letter and the instant just before the first alert (Unix ms).
 */
export async function liveHistory(app) {
  const get = async (id) => { const r = await app.api('GET', `/api/v1/incidents/${id}`); assert.equal(r.status, 200); return r.data; };
  const act = async (id, action, body = {}) => {
    const r = await app.api('POST', `/api/v1/incidents/${id}/${action}`, body);
    assert.equal(r.status, 200, `${action} ${id}: ${r.status} ${JSON.stringify(r.data)}`);
    return r.data;
  };
  for (const [id, ring] of [['g1', G1], ['g2', G2]]) {
    const r = await app.api('POST', '/api/v1/zones', { type: 'Feature', properties: { id, name: `Grid ${id.slice(1)}`, kind: 'grid' }, geometry: { type: 'Polygon', coordinates: [ring] } });
    assert.equal(r.status, 201, JSON.stringify(r.data));
  }
  const mqtt = {};
  for (const [id, kind, zone] of TEAM) {
    const r = await app.api('POST', '/api/v1/responders', { id, name: `Worker ${id}`, kind, travel: 'foot', zone_id: zone });
    assert.equal(r.status, 201, JSON.stringify(r.data));
    mqtt[id] = r.data.mqtt;
    publish(app, { ...mqtt[id], topic: `owntracks/${id}/phone`, payload: { _type: 'location', lat: AT[id][0], lon: AT[id][1], tst: Math.floor(Date.now() / 1000), acc: 8, batt: 80 } });
  }
  await until('three fixes', async () => (await app.api('GET', '/api/v1/responders')).data.filter((x) => x.lat != null).length === 3);

  const seen = new Set();
  /** The next new offer of incident `id` to worker `w`. */
  const offerOf = (w, id) => until(`an offer of ${id} to ${w}`, async () => {
    const task = (await get(id)).tasks.find((x) => x.responder_id === w && x.status === 'offered' && !seen.has(x.task_id));
    if (task) seen.add(task.task_id);
    return task;
  });
  /** Worker `w` sends each status for `task` over MQTT; each is waited for in the API. */
  const steps = async (w, id, task, list) => {
    for (const status of list) {
      publish(app, { ...mqtt[w], topic: `dispatch/${w}/tasks/${task.task_id}/update`, payload: { status } });
      await until(`${w} ${status} on ${id}`, async () => (await get(id)).tasks.some((x) => x.task_id === task.task_id && x.status === status));
    }
  };
  const state = (id, s, limit) => until(`${id} ${s}`, async () => { const v = await get(id); return v.state === s && v; }, limit);
  const overdue = (id) => until(`${id} overdue`, async () => (await get(id)).overdue === true);
  let n = 0;
  /** An alert of `kind` beside worker `w`'s place (each at a place of its own); the incident's id. */
  const alert = async (kind, w) => {
    n += 1;
    const d = 0.0001 * n;
    const r = await app.api('POST', '/api/v1/alerts', { id: `hist-${n}`, kind, severity: 3, lat: AT[w][0] + d, lon: AT[w][1] + d, address: `History street ${n}` });
    assert.equal(r.status, 202, JSON.stringify(r.data));
    return r.data.incident_id;
  };
  const resolveAndVerify = async (w, id, task) => {
    await steps(w, id, task, ['resolved']);
    await state(id, 'resolved');
    assert.equal((await act(id, 'verify', { note: '现场核实' })).state, 'closed');
  };

  const started = Date.now();
  const A = await alert('litter', 'w1');
  let t = await offerOf('w1', A);
  await steps('w1', A, t, ['accepted', 'en_route', 'on_scene']);
  await resolveAndVerify('w1', A, t);

  const B = await alert('noise', 'w1');
  t = await offerOf('w1', B);
  await steps('w1', B, t, ['accepted', 'on_scene', 'resolved']);
  await state(B, 'resolved');
  await overdue(B);
  assert.equal((await act(B, 'verify')).state, 'closed');

  const C = await alert('litter', 'w2');
  t = await offerOf('w2', C);
  await steps('w2', C, t, ['accepted', 'on_scene', 'resolved']);
  await state(C, 'resolved');
  assert.equal((await act(C, 'rework', { reason: '垃圾未清运完' })).rework_count, 1);
  t = await offerOf('w2', C);
  await steps('w2', C, t, ['accepted']);
  await resolveAndVerify('w2', C, t);

  const D = await alert('litter', 'w3');
  t = await offerOf('w3', D);
  await steps('w3', D, t, ['accepted']);
  publish(app, { ...mqtt.w3, topic: `dispatch/w3/tasks/${t.task_id}/extension`, payload: { minutes: 30, reason: '等待清运车' } });
  await until(`${D}'s extension request`, async () => (await get(D)).extension_request);
  assert.equal((await act(D, 'extension', { approve: true, note: '同意' })).extension_count, 1);
  await steps('w3', D, t, ['on_scene']);
  await resolveAndVerify('w3', D, t);

  const E = await alert('litter', 'w3');
  t = await offerOf('w3', E);
  await steps('w3', E, t, ['accepted']);
  assert.equal((await act(E, 'suspend', { note: '等待业主' })).state, 'suspended');
  await act(E, 'resume');
  t = await offerOf('w3', E);
  await steps('w3', E, t, ['accepted', 'on_scene']);
  await resolveAndVerify('w3', E, t);

  const F = await alert('litter', 'w1');
  t = await offerOf('w1', F);
  await steps('w1', F, t, ['rejected']);
  await offerOf('w2', F);
  assert.equal((await act(F, 'cancel')).state, 'cancelled');

  const G = await alert('intrusion', 'w3');
  await offerOf('w3', G);
  await state(G, 'escalated', 30000);
  await overdue(G);

  const H = await alert('litter', 'w1');
  t = await offerOf('w1', H);
  await steps('w1', H, t, ['accepted']);
  await state(H, 'assigned');

  const ids = { A, B, C, D, E, F, G, H };
  const fates = { A: 'closed', B: 'closed', C: 'closed', D: 'closed', E: 'closed', F: 'cancelled', G: 'escalated', H: 'assigned' };
  for (const [k, id] of Object.entries(ids)) assert.equal((await get(id)).state, fates[k], `${k} (${id})`);
  return { ids, started };
}
