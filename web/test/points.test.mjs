// The points area's rules (points-core.js) and its strings (i18n-points.js).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  readAccount, filterAccounts, totals, ledgerAccount, ledgerQuery, change, flows, cause, approval, awardBody,
  monthOf, shiftMonth, settlementState, readSettlement, readHonour,
} from '../src/js/points-core.js';
import { POINTS_STRINGS } from '../src/js/i18n-points.js';
import { MERCHANT_STRINGS } from '../src/js/i18n-merchants.js';
import { ALL_STRINGS, t, setLang } from '../src/js/i18n.js';

const accounts = [
  { responder_id: 'v2', name: '王芳', kind: 'volunteer', zone_id: 'g1', balance: 50, reserved: 0, earned_total: 0, awarded_total: 50 },
  { responder_id: 'v1', name: '李强', kind: 'volunteer', zone_id: 'g1', balance: 45, reserved: 5, earned_total: 10, awarded_total: 35 },
  { responder_id: 'w1', name: 'Zhao', kind: 'grid_worker', zone_id: 'g2', balance: 15, reserved: 0, earned_total: 0, awarded_total: 15 },
  { responder_id: 'p1', name: 'Patrol', kind: 'patrol', zone_id: null, balance: 0, reserved: 0, earned_total: 0, awarded_total: 0 },
].map(readAccount);

test('accounts filter by grid, kind and a search of id or name, sorted as asked', () => {
  const ids = (rows) => rows.map((a) => a.responder_id);
  assert.deepEqual(ids(filterAccounts(accounts)), ['p1', 'v1', 'v2', 'w1']);
  assert.deepEqual(ids(filterAccounts(accounts, { zone: 'g1' })), ['v1', 'v2']);
  assert.deepEqual(ids(filterAccounts(accounts, { zone: '-' })), ['p1']);
  assert.deepEqual(ids(filterAccounts(accounts, { kind: 'grid_worker' })), ['w1']);
  assert.deepEqual(ids(filterAccounts(accounts, { q: '王' })), ['v2']);
  assert.deepEqual(ids(filterAccounts(accounts, { q: ' ZHA ' })), ['w1']);
  assert.deepEqual(ids(filterAccounts(accounts, { sort: 'balance' })), ['v2', 'v1', 'w1', 'p1']);
  assert.deepEqual(ids(filterAccounts(accounts, { zone: 'g1', q: 'nobody' })), []);
  assert.deepEqual(totals(filterAccounts(accounts, { zone: 'g1' })), [95, 5, 10, 85]);
  // A line missing numbers reads as zeros, not NaN.
  assert.equal(readAccount({ responder_id: 'x' }).balance, 0);
});

test('the ledger query names accounts as the API does', () => {
  assert.equal(ledgerAccount('v1'), 'responder:v1');
  assert.equal(ledgerAccount('reserved:v1'), 'reserved:v1');
  assert.equal(ledgerAccount('county'), 'county');
  assert.equal(ledgerAccount('  '), '');
  const q = new URLSearchParams(ledgerQuery({ account: 'v1', kind: 'award', from: '2026-11-01', to: '2026-11-30' }));
  assert.deepEqual(Object.fromEntries(q), { account: 'responder:v1', kind: 'award', from: '2026-11-01', to: '2026-11-30', limit: '500' });
  assert.deepEqual(Object.fromEntries(new URLSearchParams(ledgerQuery({}))), { limit: '500' });
});

const award = {
  id: 'pm-1', kind: 'award', points: 80, note: '带路救人', actor: 'admin:li', cause: { type: 'award', id: 'aw-1' },
  entries: [{ account: 'county', amount: -80 }, { account: 'responder:v1', amount: 80 }],
};
const earn = {
  id: 'pm-2', kind: 'earn', points: 10, cause: { type: 'incident', id: 'inc 7' },
  entries: [{ account: 'county', amount: -10 }, { account: 'responder:v1', amount: 10 }],
};
const redeem = {
  id: 'pm-3', kind: 'redeem', points: 30, cause: { type: 'redemption', id: 'rd-9' },
  entries: [{ account: 'reserved:v1', amount: -30 }, { account: 'merchant:m1', amount: 30 }],
};

test('ledger lines: change on the account, flows and the cause with its link or reason', () => {
  assert.equal(change(award, 'v1'), 80);
  assert.equal(change(redeem, 'v1'), 0);
  assert.equal(change(redeem, 'reserved:v1'), -30);
  assert.equal(change(redeem, ''), 30);
  assert.deepEqual(flows(redeem), { from: ['reserved:v1'], to: ['merchant:m1'] });
  assert.deepEqual(cause(earn), { type: 'incident', id: 'inc 7', href: '/#incident=inc%207', text: 'inc 7' });
  assert.equal(cause(award).text, '带路救人');
  assert.equal(cause(award, new Map([['aw-1', 'Led the ambulance']])).text, 'Led the ambulance');
  assert.deepEqual(cause(redeem), { type: 'redemption', id: 'rd-9', href: null, text: 'rd-9' });
});

test('only another admin may approve a pending award; the proposer sees why not', () => {
  const pending = { id: 'aw-1', state: 'pending', proposed_by: 'admin:li' };
  assert.deepEqual(approval(pending, { username: 'wang', role: 'admin' }), { show: true, enabled: true, why: null });
  assert.deepEqual(approval(pending, { username: 'li', role: 'admin' }), { show: true, enabled: false, why: 'pt_own_award' });
  assert.equal(approval(pending, { username: 'zhao', role: 'operator' }).show, false);
  assert.equal(approval(pending, { username: 'v', role: 'viewer' }).show, false);
  assert.equal(approval({ ...pending, state: 'approved' }, { username: 'wang', role: 'admin' }).show, false);
});

test('the award form is checked before it is sent', () => {
  assert.deepEqual(awardBody({ responder_id: ' v1 ', points: ' 80 ', reason: ' 带路 ' }), { body: { responder_id: 'v1', points: 80, reason: '带路' } });
  assert.equal(awardBody({ responder_id: '', points: '5', reason: 'x' }).error, 'pt_pick_responder');
  for (const p of ['0', '-3', '2.5', 'ten', '', '1000001']) assert.equal(awardBody({ responder_id: 'v1', points: p, reason: 'x' }).error, 'pt_bad_points', p);
  assert.equal(awardBody({ responder_id: 'v1', points: '5', reason: '  ' }).error, 'pt_bad_reason');
  assert.equal(awardBody({ responder_id: 'v1', points: '5', reason: '好'.repeat(501) }).error, 'pt_bad_reason');
});

test('months: this month, across a year, malformed ones refused', () => {
  assert.equal(monthOf(new Date(2026, 0, 31)), '2026-01');
  assert.equal(shiftMonth('2026-01', -1), '2025-12');
  assert.equal(shiftMonth('2026-12', 1), '2027-01');
  assert.equal(shiftMonth('2026-11', 0), '2026-11');
  for (const bad of ['2026-13', '2026-1', '', null, 'abc']) assert.equal(shiftMonth(bad, 1), null);
});

test('settlement: a bare 404 means redemption has not arrived; other errors show', () => {
  assert.equal(settlementState(null), 'ok');
  assert.equal(settlementState({ status: 404, body: '' }), 'absent');
  assert.equal(settlementState({ status: 404, body: null }), 'absent');
  assert.equal(settlementState({ status: 404, body: { error: 'no merchant m9' } }), 'error');
  assert.equal(settlementState({ status: 403, body: { error: 'forbidden' } }), 'error');
  const s = readSettlement({ merchant_id: 'm1', month: '2026-11', total_points: 30, lines: [{ code: '123456', points: 30, meta: { x: 1 } }, { code: '7', offer: 'haircut' }] });
  assert.deepEqual(s.summary, [['merchant_id', 'm1'], ['month', '2026-11'], ['total_points', 30]]);
  assert.deepEqual(s.columns, ['code', 'points', 'offer']);
  assert.equal(s.rows.length, 2);
  assert.deepEqual(readSettlement([{ a: 1 }]).columns, ['a']);
  assert.deepEqual(readSettlement(null), { summary: [], columns: [], rows: [] });
});

test('the honour roll reads grids by name, no-grid last, ranks kept', () => {
  const roll = readHonour({
    month: '2026-11',
    zones: [
      { zone_id: null, zone_name: null, volunteers: [{ rank: 1, responder_id: 'p1', name: 'P', points: 3, earned: 3, awarded: 0 }] },
      { zone_id: 'g2', zone_name: '团结社区', volunteers: [{ rank: 1, responder_id: 'v3', name: '张三', points: 25, earned: 0, awarded: 25 }] },
      { zone_id: 'g1', zone_name: '三完小社区', volunteers: [{ rank: 1, responder_id: 'v2', name: 'A', points: 10 }, { responder_id: 'v1', name: 'B', points: 5 }] },
    ],
  });
  assert.deepEqual(roll.map((z) => z.zone_id), ['g1', 'g2', null]);
  assert.deepEqual(roll[0].volunteers.map((v) => [v.rank, v.responder_id, v.points, v.earned]), [[1, 'v2', 10, 0], [2, 'v1', 5, 0]]);
  assert.deepEqual(readHonour({}), []);
});

test('the points strings: both languages, same placeholders, and no key overrides another file', () => {
  const en = POINTS_STRINGS.en;
  const zh = POINTS_STRINGS['zh-CN'];
  assert.deepEqual(Object.keys(zh).sort(), Object.keys(en).sort());
  const vars = (s) => (s.match(/\{\w+\}/g) || []).sort();
  for (const k of Object.keys(en)) assert.deepEqual(vars(zh[k]), vars(en[k]), k);
  const merchantKeys = new Set(Object.keys(MERCHANT_STRINGS.en));
  for (const k of Object.keys(en)) {
    assert.ok(k.startsWith('pt_') || k === 'open_points', k);
    assert.ok(!merchantKeys.has(k), k);
    assert.equal(ALL_STRINGS.en[k], en[k], k);
  }
  // The strings the page builds from data exist for every kind and tab.
  for (const k of ['earn', 'award', 'expire', 'reserve', 'release', 'redeem', 'correct']) assert.ok(`pt_k_${k}` in en, k);
  for (const k of ['accounts', 'ledger', 'awards', 'merchants', 'settlement', 'honour']) assert.ok(`pt_tab_${k}` in en, k);
  setLang('zh-CN');
  try { assert.equal(t('pt_tab_honour'), '光荣榜'); } finally { setLang('en'); }
});
