// The operator view's rules: which closed-loop actions apply to which state and role, the
// travel estimate, kinds and titles in words, and the pan that keeps an incident in view.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { actionsFor, canAct, distanceText, etaParts, extensionRequest, incidentTitle, kindLabel, liveTasksKey, panIntoView, responderName, OPEN_STATES } from '../src/js/console-core.js';
import { t, hasKey, setLang } from '../src/js/i18n.js';

test('a viewer gets no action; an operator and an admin get those of the state', () => {
  const resolved = { state: 'resolved' };
  assert.deepEqual(actionsFor(resolved, 'viewer'), []);
  assert.deepEqual(actionsFor(resolved, undefined), []);
  assert.deepEqual(actionsFor(resolved, 'operator'), ['verify', 'rework']);
  assert.deepEqual(actionsFor(resolved, 'admin'), ['verify', 'rework']);
  for (const s of ['new', 'dispatching', 'assigned', 'en_route', 'on_scene', 'escalated']) assert.deepEqual(actionsFor({ state: s }, 'operator'), ['suspend'], s);
  assert.deepEqual(actionsFor({ state: 'suspended' }, 'operator'), ['resume']);
  for (const s of ['closed', 'cancelled']) assert.deepEqual(actionsFor({ state: s, extension_request: { minutes: 30, reason: 'x' } }, 'admin'), [], s);
  assert.equal(canAct('viewer'), false);
  assert.equal(canAct('operator'), true);
  assert.ok(OPEN_STATES.includes('suspended'));
});

test('an extension request is offered only while one is pending', () => {
  assert.deepEqual(actionsFor({ state: 'on_scene', extension_request: null }, 'operator'), ['suspend']);
  assert.deepEqual(actionsFor({ state: 'on_scene' }, 'operator'), ['suspend']);
  assert.deepEqual(actionsFor({ state: 'on_scene', extension_request: { minutes: 30, reason: 'waiting for parts' } }, 'operator'), ['suspend', 'extension']);
  assert.deepEqual(actionsFor({ state: 'on_scene', extension_request: { minutes: 30 } }, 'viewer'), []);
  assert.deepEqual(extensionRequest({ extension_request: { minutes: '45', reason: 'rain' } }), { minutes: 45, reason: 'rain' });
  assert.equal(extensionRequest({ extension_request: 'yes' }), null);
});

test('a travel estimate reads as an estimate in whole minutes', () => {
  assert.deepEqual(etaParts(null), ['dash', {}]);
  assert.deepEqual(etaParts(-3), ['dash', {}]);
  assert.deepEqual(etaParts(20), ['approx_lt_min', {}]);
  assert.deepEqual(etaParts(239), ['approx_min', { n: 4 }]);
  assert.deepEqual(etaParts(3900), ['approx_h_min', { h: 1, m: 5 }]);
  assert.equal(t(...etaParts(239)), '≈ 4 min');
  setLang('zh-CN');
  try { assert.equal(t(...etaParts(239)), '约 4 分钟'); } finally { setLang('en'); }
});

test('kinds and titles built from the kind are shown in words, others kept', () => {
  setLang('zh-CN');
  try {
    assert.equal(kindLabel('fall', t, hasKey), '摔倒');
    assert.equal(kindLabel('camera_fault', t, hasKey), '摄像头故障');
    assert.equal(kindLabel('gas_leak', t, hasKey), 'gas leak');
    assert.equal(incidentTitle({ kind: 'fall', title: 'fall — 12 Elm St' }, t, hasKey), '摔倒 — 12 Elm St');
    assert.equal(incidentTitle({ kind: 'camera_fault', title: 'camera fault' }, t, hasKey), '摄像头故障');
    assert.equal(incidentTitle({ kind: 'fall', title: null }, t, hasKey), '摔倒');
    assert.equal(incidentTitle({ kind: 'fall', title: 'Old man at the park' }, t, hasKey), 'Old man at the park');
    assert.equal(incidentTitle({ kind: 'gas_leak', title: 'gas leak — Dock 4' }, t, hasKey), 'gas leak — Dock 4');
  } finally { setLang('en'); }
  assert.equal(incidentTitle({ kind: 'fall', title: 'fall — 12 Elm St' }, t, hasKey), 'fall — 12 Elm St');
});

test('responders by name, the id when the name is unknown', () => {
  const m = new Map([['w1', { id: 'w1', name: 'Li Wei' }], ['w2', { id: 'w2' }]]);
  assert.equal(responderName('w1', m), 'Li Wei');
  assert.equal(responderName('w2', m), 'w2');
  assert.equal(responderName('w9', m), 'w9');
});

test('the map pans only when the incident is under the drawer or off the edge', () => {
  const size = { x: 1040, y: 856 };
  assert.deepEqual(panIntoView({ x: 200, y: 400 }, size, 460), [0, 0]);
  // Under the drawer (which covers x from 580): brought to the middle of the visible 580 px.
  assert.deepEqual(panIntoView({ x: 800, y: 428 }, size, 460), [510, 0]);
  assert.deepEqual(panIntoView({ x: 100, y: -50 }, size, 460), [-190, -478]);
  // A map narrower than the drawer: nothing sensible to do.
  assert.deepEqual(panIntoView({ x: 300, y: 300 }, { x: 480, y: 600 }, 460), [0, 0]);
});

test('routes are fetched again when an incident\'s live tasks change, not otherwise', () => {
  const offered = [{ task_id: 'b', status: 'offered' }, { task_id: 'a', status: 'rejected' }];
  assert.equal(liveTasksKey(offered), 'b:offered');
  assert.equal(liveTasksKey([...offered].reverse()), 'b:offered');
  assert.equal(liveTasksKey([{ task_id: 'b', status: 'accepted' }]), 'b:accepted');
  // On scene, the responder is there: no route to draw.
  assert.equal(liveTasksKey([{ task_id: 'b', status: 'on_scene' }]), '');
  assert.equal(liveTasksKey(undefined), '');
});

test('distances read in metres, then kilometres', () => {
  assert.equal(distanceText(99.6), '100 m');
  assert.equal(distanceText(2100), '2.1 km');
  assert.equal(distanceText(null), '—');
  assert.equal(distanceText(Number.NaN), '—');
});
