// The audit view's pure helpers (audit-core.js) and its strings.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  cleanFilters, auditQuery, auditListUrl, auditCsvUrl, auditHash, filtersFromHash, flatten, same, diffFields,
  showValue, shorten, thingOf, AUDIT_KINDS,
} from '../src/js/audit-core.js';
import { AUDIT_STRINGS } from '../src/js/i18n-audit.js';
import { MERCHANT_STRINGS } from '../src/js/i18n-merchants.js';
import { POINTS_STRINGS } from '../src/js/i18n-points.js';
import { REDEEM_STRINGS } from '../src/js/i18n-redeem.js';

test('filters become the API query: blanks and unknown keys left out, values trimmed', () => {
  const f = { target_kind: 'zones', target_id: ' z 1&x ', actor: '', action: null, from: '2026-12-01', bogus: 'x' };
  assert.deepEqual(cleanFilters(f), { target_kind: 'zones', target_id: 'z 1&x', from: '2026-12-01' });
  assert.equal(auditQuery(f), 'target_kind=zones&target_id=z+1%26x&from=2026-12-01');
  assert.equal(auditListUrl(f, { limit: 50, cursor: 'abc=' }), '/api/v1/audit?target_kind=zones&target_id=z+1%26x&from=2026-12-01&limit=50&cursor=abc%3D');
  assert.equal(auditCsvUrl({ action: 'zones.' }), '/api/v1/audit.csv?action=zones.');
  assert.equal(auditListUrl({}), '/api/v1/audit');
  assert.equal(auditCsvUrl({ actor: ' ' }), '/api/v1/audit.csv');
});

test('a zone\'s history link carries its filters through the address and back', () => {
  const f = { target_kind: 'zones', target_id: '滨河-1', to: '2026-12-01' };
  const hash = auditHash(f);
  assert.match(hash, /^#audit\?/);
  assert.deepEqual(filtersFromHash(hash), f);
  assert.deepEqual(filtersFromHash('#audit'), {});
  assert.equal(auditHash({}), '#audit');
  assert.equal(filtersFromHash('#zones'), null);
  assert.equal(filtersFromHash(''), null);
  assert.equal(filtersFromHash('#auditx?a=1'), null);
});

test('nested objects flatten to dotted keys; arrays and empty objects stay whole', () => {
  const zone = { type: 'Feature', id: 'z1', geometry: { type: 'Polygon', coordinates: [[[1, 2], [3, 4]]] }, properties: { id: 'z1', name: 'A', extra: {} } };
  assert.deepEqual(flatten(zone), {
    type: 'Feature', id: 'z1', 'geometry.type': 'Polygon', 'geometry.coordinates': [[[1, 2], [3, 4]]],
    'properties.id': 'z1', 'properties.name': 'A', 'properties.extra': {},
  });
  assert.deepEqual(flatten('text'), { '': 'text' });
  assert.deepEqual(flatten({}), {});
  assert.deepEqual(flatten({ a: null }), { a: null });
});

test('sameness ignores key order, not array order', () => {
  assert.ok(same({ a: 1, b: [1, { c: 2, d: 3 }] }, { b: [1, { d: 3, c: 2 }], a: 1 }));
  assert.ok(!same([1, 2], [2, 1]));
  assert.ok(!same({ a: 1 }, { a: 1, b: undefined }));
  assert.ok(!same(null, {}));
  assert.ok(!same('1', 1));
});

test('a renamed zone: only its name differs, in the order the zone has its fields', () => {
  const geometry = { type: 'Polygon', coordinates: [[[106.7, 39.5], [106.8, 39.5], [106.8, 39.6], [106.7, 39.5]]] };
  const before = { type: 'Feature', id: 'z1', geometry, properties: { id: 'z1', name: 'Old', kind: 'grid' } };
  const after = { type: 'Feature', id: 'z1', geometry: structuredClone(geometry), properties: { kind: 'grid', name: 'New', id: 'z1' } };
  const d = diffFields(before, after);
  assert.deepEqual(d.map((x) => x.key), ['type', 'id', 'geometry.type', 'geometry.coordinates', 'properties.id', 'properties.name', 'properties.kind']);
  assert.deepEqual(d.filter((x) => x.change !== 'same'), [{ key: 'properties.name', before: 'Old', after: 'New', change: 'changed' }]);
});

test('fields only on one side are added or removed; a create or delete has one side only', () => {
  const d = diffFields({ a: 1, gone: 'x' }, { a: 2, fresh: { y: true } });
  assert.deepEqual(d.map((x) => [x.key, x.change]), [['a', 'changed'], ['gone', 'removed'], ['fresh.y', 'added']]);
  assert.deepEqual(diffFields(null, { id: 'z1' }), [{ key: 'id', before: undefined, after: 'z1', change: 'added' }]);
  assert.deepEqual(diffFields({ id: 'z1' }, null).map((x) => x.change), ['removed']);
  assert.deepEqual(diffFields(null, null), []);
  // A shrunken large field (the server keeps its size and digest) still shows that it changed.
  const big = (sha) => ({ geometry: { coordinates: { omitted_bytes: 200000, sha256: sha } } });
  assert.deepEqual(diffFields(big('aa'), big('bb')).filter((x) => x.change === 'changed').map((x) => x.key), ['geometry.coordinates.sha256']);
});

test('values read as text; long ones can be cut', () => {
  assert.equal(showValue('老街'), '老街');
  assert.equal(showValue(null), 'null');
  assert.equal(showValue(undefined), '');
  assert.equal(showValue([[1, 2]]), '[[1,2]]');
  assert.equal(showValue(false), 'false');
  assert.equal(shorten('abcdef', 3), 'abc…');
  assert.equal(shorten('abc', 3), 'abc');
});

test('an entry\'s thing reads kind/id', () => {
  assert.equal(thingOf({ target_kind: 'zones', target_id: 'z1' }), 'zones/z1');
  assert.equal(thingOf({ target_kind: 'session', target_id: null }), 'session');
  assert.equal(thingOf({ target_kind: null, target_id: null }), '');
});

test('the audit strings exist in both languages, name every kind, and take over no other key', () => {
  const en = AUDIT_STRINGS.en;
  const zh = AUDIT_STRINGS['zh-CN'];
  assert.deepEqual(Object.keys(zh).sort(), Object.keys(en).sort());
  const vars = (s) => (s.match(/\{\w+\}/g) || []).sort();
  for (const k of Object.keys(en)) assert.deepEqual(vars(zh[k]), vars(en[k]), k);
  for (const k of AUDIT_KINDS) assert.ok(`au_k_${k}` in en, k);
  const others = [MERCHANT_STRINGS, POINTS_STRINGS, REDEEM_STRINGS].flatMap((s) => Object.keys(s.en));
  for (const k of Object.keys(en)) assert.ok(!others.includes(k), k);
});
