// Redemption's pure helpers and strings: the phone's countdown and history causes, the
// merchant page's code parsing and plain answers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { REDEEM_STRINGS } from '../src/js/i18n-redeem.js';
import { codeOf, resultOf } from '../src/js/merchant-confirm.js';

test('a typed code is 8 digits, spaces allowed', () => {
  assert.equal(codeOf('1234 5678'), '12345678');
  assert.equal(codeOf(' 12345678 '), '12345678');
  for (const bad of ['1234567', '123456789', '1234abcd', '', null]) assert.equal(codeOf(bad), null, String(bad));
});

test('every confirmation answer has its own plain message', () => {
  assert.deepEqual(resultOf(200, { offer_title: '理发', points: 30 }), ['ok', 'rd_ok', { offer: '理发', points: 30 }]);
  const keys = [409, 410, 404, 429].map((s) => resultOf(s, {}, '30')[1]);
  assert.deepEqual(keys, ['rd_used', 'rd_expired', 'rd_not_ours', 'rd_locked']);
  for (const k of keys) assert.ok(REDEEM_STRINGS['zh-CN'][k] && REDEEM_STRINGS.en[k], k);
});
