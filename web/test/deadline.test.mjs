// The console's overdue rule: open and past due_at, worked out from the clock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isOverdue, msToDue } from '../src/js/deadline.js';

const due = '2026-12-05T10:00:00.000Z';
const at = (s) => Date.parse(s);

test('an open incident is overdue once its due time has passed, and only then', () => {
  const i = { state: 'dispatching', due_at: due };
  assert.equal(isOverdue(i, at('2026-12-05T09:59:59.000Z')), false);
  assert.equal(isOverdue(i, at(due)), false, 'due, not yet past');
  assert.equal(isOverdue(i, at('2026-12-05T10:00:00.001Z')), true);
  assert.equal(msToDue(i, at('2026-12-05T09:59:00.000Z')), 60_000);
  assert.equal(msToDue(i, at('2026-12-05T10:01:00.000Z')), -60_000);
});

test('every open state counts, resolved too; closed and cancelled never do', () => {
  const late = at('2026-12-06T00:00:00.000Z');
  for (const state of ['new', 'dispatching', 'escalated', 'assigned', 'en_route', 'on_scene', 'resolved']) {
    assert.equal(isOverdue({ state, due_at: due }, late), true, state);
  }
  for (const state of ['closed', 'cancelled']) assert.equal(isOverdue({ state, due_at: due }, late), false, state);
});

test('no deadline (an incident from before deadlines) is never overdue', () => {
  for (const i of [{ state: 'new', due_at: null }, { state: 'new' }, { state: 'new', due_at: 'not a time' }, null]) {
    assert.equal(isOverdue(i, Date.now()), false, JSON.stringify(i));
    assert.equal(msToDue(i), null);
  }
});

test('an item stays marked as time passes without any new event', () => {
  // What the queue does every second: the same incident, a later clock.
  const i = { state: 'assigned', due_at: due, overdue: false };
  const marks = [-2000, -1, 1, 2000].map((d) => isOverdue(i, at(due) + d));
  assert.deepEqual(marks, [false, false, true, true]);
});
