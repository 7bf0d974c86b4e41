// The field app's rules: task order, distances, navigation links in each map app's own
// coordinate system, topic parsing, OwnTracks reports and the offline outbox.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  sortTasks, distanceM, formatDistance, navLinks, destination, ownTracksLocation, classify, actionsFor, Outbox,
  topics, isRework, reworkReason, canAskExtension, extensionRequest, extensionVerdict, EXTENSION_PRESETS,
  isVerify, resolutionNote, answerNote,
} from '../src/js/field-core.js';
import { gcj02ToWgs84 } from '../src/js/gcj02.js';

class MemoryStorage {
  constructor() { this.m = new Map(); }
  getItem(k) { return this.m.has(k) ? this.m.get(k) : null; }
  setItem(k, v) { this.m.set(k, String(v)); }
}

test('most urgent first, then the newest offer', () => {
  const tasks = [
    { task_id: 'a', severity: 3, offered_at: '2026-11-27T08:00:00Z' },
    { task_id: 'b', severity: 1, offered_at: '2026-11-27T07:00:00Z' },
    { task_id: 'c', severity: 3, offered_at: '2026-11-27T09:00:00Z' },
    { task_id: 'd', severity: 1, offered_at: '2026-11-27T07:30:00Z' },
  ];
  assert.deepEqual(sortTasks(tasks).map((t) => t.task_id), ['d', 'b', 'c', 'a']);
});

test('distances in metres', () => {
  // One minute of latitude is one nautical mile (1852 m) to within half a percent.
  const d = distanceM({ lat: 31.0, lon: 121.0 }, { lat: 31 + 1 / 60, lon: 121.0 });
  assert.ok(Math.abs(d - 1852) < 10, `${d}`);
  assert.equal(formatDistance(847), '850 m');
  assert.equal(formatDistance(1234), '1.2 km');
  assert.equal(formatDistance(37400), '37 km');
});

test('navigation goes to the rendezvous when there is one', () => {
  const task = { location: { lat: 31.2, lon: 121.4 }, rendezvous: { lat: 31.21, lon: 121.41, note: 'north gate' } };
  assert.deepEqual(destination(task), { lat: 31.21, lon: 121.41, note: 'north gate' });
  assert.deepEqual(destination({ location: { lat: 31.2, lon: 121.4 } }), { lat: 31.2, lon: 121.4, note: '' });
});

test('navigation links: WGS-84 for geo:, GCJ-02 for AutoNavi, BD-09 for Baidu (reference pairs)', () => {
  // The WGS-84 point whose GCJ-02 is the published pair (39.915, 116.404) → BD-09
  // (39.92133699351021, 116.41036949371029).
  const [lat, lon] = gcj02ToWgs84(39.915, 116.404);
  const links = navLinks(lat, lon, 'Tiananmen');
  assert.match(links.geo, new RegExp(`^geo:${lat.toFixed(6).replace(/0+$/, '')}`));
  assert.ok(links.amap.includes('position=116.404,39.915&'), links.amap);
  assert.ok(links.amap.includes('coordinate=gaode'), links.amap);
  assert.ok(links.baidu.includes('location=39.921337,116.410369&'), links.baidu);
  assert.ok(links.baidu.includes('coord_type=bd09ll'), links.baidu);
  // Shanghai: WGS-84 (31.1774276, 121.5272106) is GCJ-02 (31.175304, 121.531542).
  assert.ok(navLinks(31.1774276, 121.5272106).amap.includes('position=121.531542,31.175304&'));
  // Labels are escaped, not spliced into the URL.
  assert.ok(navLinks(31, 121, '东门 & gate').amap.includes(encodeURIComponent('东门 & gate')));
});

test('topics of the worker, and nobody else', () => {
  assert.deepEqual(classify('w1', 'dispatch/w1/tasks/t9'), { kind: 'task', taskId: 't9' });
  assert.deepEqual(classify('w1', 'dispatch/w1/tasks/t9/closed'), { kind: 'closed', taskId: 't9' });
  assert.deepEqual(classify('w1', 'dispatch/w1/tasks/t9/update/rejected'), { kind: 'answer', taskId: 't9', verdict: 'rejected' });
  assert.deepEqual(classify('w1', 'dispatch/w1/duty'), { kind: 'duty' });
  assert.equal(classify('w1', 'dispatch/w10/tasks/t9'), null);
  assert.equal(classify('w1', 'dispatch/w1/tasks/t9/update'), null);
});

test('buttons follow the task state machine', () => {
  assert.deepEqual(actionsFor({ status: 'offered' }), ['accepted', 'rejected']);
  assert.deepEqual(actionsFor({ status: 'on_scene' }), ['resolved']);
  assert.deepEqual(actionsFor({ status: 'withdrawn' }), []);
});

test('OwnTracks location from a browser position', () => {
  const msg = ownTracksLocation({ coords: { latitude: 31.2, longitude: 121.4, accuracy: 12.4, speed: null }, timestamp: 1_764_230_400_500 }, 0);
  assert.deepEqual(msg, { _type: 'location', lat: 31.2, lon: 121.4, tst: 1_764_230_400, tid: 'gd', acc: 12 });
});

test('outbox: answers survive a reload and go one per task, each with the version the last verdict gave', () => {
  const store = new MemoryStorage();
  let box = new Outbox(store);
  box.add({ task_id: 't1', status: 'en_route', version: 2 });
  box.add({ task_id: 't1', status: 'on_scene', version: 2 });
  box.add({ task_id: 't2', status: 'accepted', version: 1 });
  box = new Outbox(store); // the page reloaded while offline
  assert.equal(box.size, 3);
  const first = box.ready();
  assert.deepEqual(first.map((i) => [i.task_id, i.status]), [['t1', 'en_route'], ['t2', 'accepted']]);
  for (const i of first) box.mark(i.id, 'sent');
  assert.deepEqual(box.ready(), [], 'nothing more until a verdict');
  const { item } = box.verdict({ task_id: 't1', status: 'en_route', version: 3 }, true);
  assert.equal(item.status, 'en_route');
  const [next] = box.ready();
  assert.deepEqual([next.status, next.version], ['on_scene', 3]);
});

test('outbox: a refusal drops the answers that depended on it, and says which', () => {
  const box = new Outbox(new MemoryStorage());
  box.add({ task_id: 't1', status: 'accepted', version: 1 });
  box.add({ task_id: 't1', status: 'en_route', version: 1 });
  box.mark(box.ready()[0].id, 'sent');
  const { item, dropped } = box.verdict({ task_id: 't1', status: 'unknown', version: 0, reason: 'no longer open' }, false);
  assert.equal(item.status, 'accepted');
  assert.deepEqual(dropped.map((i) => i.status), ['en_route']);
  assert.equal(box.size, 0);
  // A verdict on an answer that was sent twice finds nothing in flight and changes nothing.
  assert.deepEqual(box.verdict({ task_id: 't1', status: 'accepted', version: 2 }, true), { item: null, dropped: [] });
});

test('outbox: what the sent answer did shows in the task itself when its verdict is lost', () => {
  const box = new Outbox(new MemoryStorage());
  box.add({ task_id: 't1', status: 'accepted', version: 1 });
  box.mark(box.ready()[0].id, 'sent');
  box.observed('t1', 'offered', false);
  assert.equal(box.size, 1, 'the retained task still says offered: keep waiting');
  box.observed('t1', 'accepted', false);
  assert.equal(box.size, 0);
  box.add({ task_id: 't2', status: 'resolved', version: 4, note: 'done' });
  assert.deepEqual(box.observed('t2', 'withdrawn', true).map((i) => i.status), ['resolved']);
  assert.equal(box.size, 0);
});

test('outbox: a connection lost before the broker confirmed sends again after a reload', () => {
  const store = new MemoryStorage();
  const box = new Outbox(store);
  box.add({ task_id: 't1', status: 'accepted', version: 1 });
  box.mark(box.ready()[0].id, 'sending');
  const again = new Outbox(store);
  assert.equal(again.ready().length, 1);
});

test('extension topics: the request goes to the task, the answers come on one subscription', () => {
  const tp = topics('w1');
  assert.equal(tp.extension('t-9'), 'dispatch/w1/tasks/t-9/extension');
  assert.equal(tp.extensionAnswers, 'dispatch/w1/tasks/+/extension/answer');
  assert.deepEqual(classify('w1', 'dispatch/w1/tasks/t-9/extension/answer'), { kind: 'extension', taskId: 't-9' });
  assert.equal(classify('w1', 'dispatch/w1/tasks/t-9/extension'), null, 'our own request is not a message to us');
  assert.equal(classify('w1', 'dispatch/w2/tasks/t-9/extension/answer'), null);
  assert.equal(classify('w1', 'dispatch/w1/tasks/t-9/extension/other'), null);
});

test('a rework task is told apart, with its reason', () => {
  assert.equal(isRework({ purpose: 'rework', rework_reason: ' Water still leaking ' }), true);
  assert.equal(reworkReason({ purpose: 'rework', rework_reason: ' Water still leaking ' }), 'Water still leaking');
  assert.equal(isRework({ purpose: 'respond' }), false);
  assert.equal(isRework({}), false, 'an older message without purpose is a usual offer');
  assert.equal(reworkReason({ purpose: 'respond', rework_reason: 'x' }), '');
  assert.equal(reworkReason({ purpose: 'rework' }), '');
});

test('more time may be asked for on accepted, en route and on-scene tasks only', () => {
  for (const s of ['accepted', 'en_route', 'on_scene']) assert.equal(canAskExtension({ status: s }), true, s);
  for (const s of ['offered', 'rejected', 'resolved', 'expired', 'withdrawn', undefined]) assert.equal(canAskExtension({ status: s }), false, String(s));
  assert.equal(canAskExtension(null), false);
  assert.deepEqual(EXTENSION_PRESETS, [30, 60, 120, 240]);
});

test('an extension request: whole minutes 1..10080 and a required reason', () => {
  assert.deepEqual(extensionRequest(60, ' Waiting for the plumber '), { ok: true, body: { minutes: 60, reason: 'Waiting for the plumber' } });
  assert.deepEqual(extensionRequest('120', 'parts'), { ok: true, body: { minutes: 120, reason: 'parts' } });
  assert.deepEqual(extensionRequest(1, 'x').body.minutes, 1);
  assert.deepEqual(extensionRequest(10080, 'x').body.minutes, 10080);
  for (const m of [0, -5, 10081, 1.5, NaN, Infinity, '', ' ', 'abc', '30m', null, undefined]) {
    assert.deepEqual(extensionRequest(m, 'reason'), { ok: false, error: 'minutes' }, String(m));
  }
  for (const r of ['', '   ', null, undefined, 'x'.repeat(501)]) {
    assert.deepEqual(extensionRequest(30, r), { ok: false, error: 'reason' }, String(r));
  }
  assert.equal(extensionRequest(30, '长'.repeat(500)).ok, true, '500 characters, counted as characters');
});

test("the dispatcher's verdict on an extension, as the worker reads it", () => {
  const fmt = (iso) => `<${iso}>`;
  assert.deepEqual(extensionVerdict({ approved: true, minutes: 60, due_at: '2026-12-05T12:00:00Z', note: '' }, fmt),
    { kind: 'ok', key: 'f_ext_approved', vars: { minutes: 60, due: '<2026-12-05T12:00:00Z>', note: '' } });
  assert.deepEqual(extensionVerdict({ approved: true, minutes: 30, due_at: null, note: null }, fmt),
    { kind: 'ok', key: 'f_ext_approved_nodue', vars: { minutes: 30, due: '', note: '' } });
  assert.equal(extensionVerdict({ approved: true, minutes: 30, due_at: '2026-12-05T12:00:00Z', note: 'ok, hurry' }, fmt).key, 'f_ext_approved_note');
  assert.equal(extensionVerdict({ approved: true, minutes: 30, due_at: null, note: 'ok' }, fmt).key, 'f_ext_approved_nodue_note');
  assert.deepEqual(extensionVerdict({ approved: false, minutes: 0, due_at: null, note: ' Finish today ' }, fmt),
    { kind: 'bad', key: 'f_ext_refused', vars: { note: 'Finish today' } });
  assert.equal(extensionVerdict({ approved: false, minutes: 0, due_at: null, note: '' }).key, 'f_ext_refused_nonote');
  assert.equal(extensionVerdict(null), null);
  assert.equal(extensionVerdict({ minutes: 5 }), null);
});

test('a verification task is answered with a verdict, never with the worker steps', () => {
  const v = { purpose: 'verify', status: 'offered', resolution_note: ' 已清理 ' };
  assert.ok(isVerify(v) && !isVerify({ purpose: 'rework' }));
  assert.deepEqual(actionsFor(v), ['verified', 'rework', 'accepted', 'rejected']);
  assert.deepEqual(actionsFor({ ...v, status: 'accepted' }), ['verified', 'rework']);
  assert.equal(resolutionNote(v), '已清理');
  assert.equal(resolutionNote({ purpose: 'respond', resolution_note: 'x' }), '');
  // No extension for a check, as for any job taken.
  assert.equal(canAskExtension({ ...v, status: 'accepted' }), false);
  assert.equal(canAskExtension({ purpose: 'respond', status: 'accepted' }), true);
});

test('a rework and a rejection need a reason, a verdict of verified does not', () => {
  assert.deepEqual(answerNote('rework', '  '), { ok: false });
  assert.deepEqual(answerNote('rework', ' 未清运 '), { ok: true, note: '未清运' });
  assert.deepEqual(answerNote('rejected', ''), { ok: false });
  assert.deepEqual(answerNote('verified', ''), { ok: true, note: '' });
});

test('a verdict in flight is settled by its task closing as resolved', () => {
  const box = new Outbox(new MemoryStorage());
  box.add({ task_id: 'v1', status: 'verified', version: 1 });
  box.mark(box.ready()[0].id, 'sent');
  // The answer was lost; the closing notice shows the verdict landed: nothing is dropped.
  assert.deepEqual(box.observed('v1', 'resolved', true), []);
  assert.equal(box.size, 0);
});

test('a task title built from its kind is worded in the worker\'s language', async () => {
  const { titleOf } = await import('../src/js/field-card.js');
  const { setLang } = await import('../src/js/i18n.js');
  setLang('zh-CN');
  assert.equal(titleOf({ kind: 'guidance', title: 'guidance' }), '引导');
  assert.equal(titleOf({ kind: 'fall', title: 'fall — 新达街道 3 号楼' }), '摔倒 — 新达街道 3 号楼');
  assert.equal(titleOf({ kind: 'fall', title: '王大爷家门口' }), '王大爷家门口');
  setLang('en');
  assert.equal(titleOf({ kind: 'fall', title: 'fall' }), 'fall');
});
