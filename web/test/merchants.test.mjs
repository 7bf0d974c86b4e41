// The merchants' pure helpers and strings.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { merchantIcon, merchantTooltip, offerDetails, merchantBody, offerBody } from '../src/js/merchants-core.js';
import { MERCHANT_STRINGS } from '../src/js/i18n-merchants.js';

const zh = MERCHANT_STRINGS['zh-CN'];
const t = (k, vars = {}) => (zh[k] ?? k).replace(/\{(\w+)\}/g, (_, x) => vars[x]);

test('a station and a shop look different and say what they are', () => {
  const station = { name: '喜邻·滨河网格驿站', station: true, hours: '07:30-22:00', offers: 6 };
  const shop = { name: '巧手理发店', station: false, hours: null, offers: 5 };
  assert.notEqual(merchantIcon(station).className, merchantIcon(shop).className);
  assert.equal(merchantTooltip(station, t), '喜邻·滨河网格驿站 · 网格驿站 · 营业时间 07:30-22:00 · 6 个兑换项目');
  assert.equal(merchantTooltip(shop, t), '巧手理发店 · 合作商户 · 5 个兑换项目');
});

test('an offer reads price, stock, limit and validity', () => {
  const line = offerDetails({ points: 30, stock: null, per_person_limit: 2, valid_until: '2027-01-01T00:00:00Z', active: true }, t, () => '2027-01-01');
  assert.equal(line, '30 积分 · 库存 不限 · 每人限兑 2 · 有效期至 2027-01-01');
  assert.match(offerDetails({ points: 5, stock: 0, active: false }, t, String), /库存 0 · 已下架$/);
});

test('admin forms become API bodies; blanks are left out, bad numbers left for the server', () => {
  assert.deepEqual(merchantBody({ id: ' m1 ', name: '店', address: '路', lat: '39.5', lon: '106.7', station: true, hours: ' ' }),
    { id: 'm1', name: '店', address: '路', lat: 39.5, lon: 106.7, station: true, hours: undefined });
  const o = offerBody({ id: 'o1', title: '理发', points: '30', stock: '', per_person_limit: 'x' });
  assert.equal(o.points, 30);
  assert.equal(o.stock, undefined);
  assert.ok(Number.isNaN(o.per_person_limit));
});

test('the merchant strings exist in both languages with the same placeholders', () => {
  const en = MERCHANT_STRINGS.en;
  assert.deepEqual(Object.keys(zh).sort(), Object.keys(en).sort());
  const vars = (s) => (s.match(/\{\w+\}/g) || []).sort();
  for (const k of Object.keys(en)) assert.deepEqual(vars(zh[k]), vars(en[k]), k);
});

test('no merchant string takes over a key of the main table', async () => {
  const { readFileSync } = await import('node:fs');
  const src = readFileSync(new URL('../src/js/i18n.js', import.meta.url), 'utf8');
  const body = src.slice(src.indexOf('const STRINGS = {'), src.indexOf('\n};'));
  for (const k of Object.keys(MERCHANT_STRINGS.en)) {
    assert.ok(!new RegExp(`(?:^|[\\s,])${k}: '`).test(body), `${k} is already in i18n.js`);
  }
});
