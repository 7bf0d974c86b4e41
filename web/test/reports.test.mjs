// The reports page's rules: periods, reading the summary defensively, rates and durations.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  periodRange, periodLabel, summaryQuery, formatRate, durationParts, readRow, readSummary, readFractiles, readPhases, fractileOf, phaseNames, rank,
} from '../src/js/reports-core.js';
import { t, setLang } from '../src/js/i18n.js';

test('this month, last month (across a year) and a custom period are half-open local days', () => {
  const now = new Date(2026, 0, 17, 15, 30);
  const tm = periodRange('this_month', now);
  assert.deepEqual([tm.from, tm.to], [new Date(2026, 0, 1), new Date(2026, 1, 1)]);
  const lm = periodRange('last_month', now);
  assert.deepEqual([lm.from, lm.to], [new Date(2025, 11, 1), new Date(2026, 0, 1)]);
  const c = periodRange('custom', now, { from: '2026-01-03', to: '2026-01-09' });
  assert.deepEqual([c.from, c.to], [new Date(2026, 0, 3), new Date(2026, 0, 10)]);
  assert.equal(periodRange('custom', now, { from: '2026-01-09', to: '2026-01-03' }), null);
  assert.equal(periodRange('custom', now, { from: '', to: '2026-01-03' }), null);
  assert.equal(periodLabel(lm), '2025-12');
  assert.equal(periodLabel(c), '2026-01-03 – 2026-01-09');
  const q = new URLSearchParams(summaryQuery(tm, 'zone'));
  assert.equal(q.get('group_by'), 'zone');
  assert.equal(Date.parse(q.get('from')), tm.from.getTime());
  assert.equal(Date.parse(q.get('to')), tm.to.getTime());
});

test('rates as percentages, durations in words', () => {
  assert.equal(formatRate(0.875), '87.5%');
  assert.equal(formatRate(1), '100%');
  assert.equal(formatRate(0), '0%');
  assert.equal(formatRate(2 / 3), '66.7%');
  assert.equal(formatRate(null), '—');
  assert.equal(formatRate(NaN), '—');
  assert.deepEqual(durationParts(null), ['dash', {}]);
  assert.deepEqual(durationParts(42), ['dur_s', { n: 42 }]);
  assert.deepEqual(durationParts(8 * 60 + 20), ['dur_min', { n: 8 }]);
  assert.deepEqual(durationParts(2 * 3600 + 7 * 60), ['dur_h', { h: 2, m: 7 }]);
  assert.equal(t(...durationParts(480)), '8 min');
  setLang('zh-CN');
  try { assert.equal(t(...durationParts(480)), '8 分钟'); } finally { setLang('en'); }
});

test('a row is read whatever the fractile and phase spelling, and missing rates come from counts', () => {
  const r = readRow({
    group: 'g1', opened: 10, due: 8, closed: 8, closed_on_time: 6, reworked: 1, extended: 2, score: 91.5, grade: 'A',
    closure_rate: 0.8, phases: { first_offer: { p50: 12, p90: 40, n: 10 }, travel: { p50_secs: 300, p90_secs: 720, n: 7 } },
    fractiles: { p90: 900, p50: 420, p10: 120 },
  });
  assert.equal(r.group, 'g1');
  assert.equal(r.closure_rate, 0.8);
  assert.equal(r.on_time_rate, 0.75);
  assert.equal(r.rework_rate, 0.125);
  assert.equal(r.extension_rate, 0.25, 'every rate is over the incidents due');
  assert.equal(r.score, 91.5);
  assert.equal(r.grade, 'A');
  assert.deepEqual(r.phases, [{ phase: 'first_offer', p50: 12, p90: 40, n: 10 }, { phase: 'travel', p50: 300, p90: 720, n: 7 }]);
  assert.deepEqual(r.fractiles, [{ q: 0.1, secs: 120 }, { q: 0.5, secs: 420 }, { q: 0.9, secs: 900 }]);
  assert.deepEqual(readFractiles([{ q: 0.5, secs: 60 }, { p: 'p90', value: 200 }]), [{ q: 0.5, secs: 60 }, { q: 0.9, secs: 200 }]);
  assert.deepEqual(readFractiles({ '0.5': 60, 0.9: { secs: 90 } }).map((x) => x.q), [0.5, 0.9]);
  assert.deepEqual(readFractiles([10, 20, 30, 40, 50, 60, 70, 80, 90]).map((x) => x.q), [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]);
  assert.deepEqual(readFractiles(null), []);
  assert.deepEqual(readPhases([{ phase: 'accept', median: 30, count: 4 }]), [{ phase: 'accept', p50: 30, p90: null, n: 4 }]);
  assert.equal(fractileOf('p95'), 0.95);
  assert.equal(fractileOf(75), 0.75);
  assert.equal(fractileOf('nope'), null);
  const empty = readRow({});
  assert.equal(empty.group, '—');
  assert.equal(empty.closure_rate, null);
  assert.deepEqual(empty.phases, []);
});

test('a responder row\'s offers object gives its offer figures; a rate sent as null stays null', () => {
  const r = readRow({
    group: 'w1', opened: 3, due: 0, closed: 0, closure_rate: null, on_time_rate: null, rework_rate: null, extension_rate: null,
    offers: { received: 4, accepted: 3, rejected: 1, expired: 0, acceptance_rate: 0.75 },
  });
  assert.deepEqual([r.offers, r.offers_accepted, r.offers_rejected, r.offers_expired, r.accept_rate], [4, 3, 1, 0, 0.75]);
  assert.equal(r.closure_rate, null, 'nothing due: no closure rate, not closed ÷ opened');
  assert.equal(readRow({ group: 'g1', offers: null }).offers, null);
  const none = readRow({ group: 'w9', offers: { received: 0, accepted: 0, rejected: 0, expired: 0, acceptance_rate: null } });
  assert.deepEqual([none.offers, none.accept_rate], [0, null]);
});

test('rows rank by score, then closure rate; the answer may lack anything', () => {
  const rows = [readRow({ group: 'b', score: 70 }), readRow({ group: 'a', score: 90 }), readRow({ group: 'c' }), readRow({ group: 'd', score: 70, closure_rate: 0.9 })];
  assert.deepEqual(rank(rows).map((r) => r.group), ['a', 'd', 'b', 'c']);
  const s = readSummary({ from: 'x', group_by: 'zone', rows: [{ group: 'g1', phases: { accept: { p50: 1 } } }, { group: 'g2', phases: { travel: { p50: 2 }, accept: { p50: 3 } } }] });
  assert.equal(s.group_by, 'zone');
  assert.deepEqual(phaseNames(s.rows), ['accept', 'travel']);
  assert.deepEqual(readSummary(null).rows, []);
  assert.deepEqual(readSummary({ rows: 'nope' }).rows, []);
});

test('the server\'s on_scene_within shares read as points of the fractile curve', async () => {
  const { readFractiles } = await import('../src/js/reports-core.js');
  assert.deepEqual(readFractiles({ s60: 0.25, s120: 0.5, s300: 0.75, s600: 1 }),
    [{ q: 0.25, secs: 60 }, { q: 0.5, secs: 120 }, { q: 0.75, secs: 300 }, { q: 1, secs: 600 }]);
  assert.deepEqual(readFractiles({ s60: null, s120: 0.5 }), [{ q: 0.5, secs: 120 }]);
});
