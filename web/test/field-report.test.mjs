// The report form's pure parts: the photo's size and the request body.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { REPORT_KINDS, reportBody, scaledSize } from '../src/js/field-report.js';
import { ALL_STRINGS } from '../src/js/i18n.js';

test('a photo is scaled to 1600 pixels on its long side, never enlarged', () => {
  assert.deepEqual(scaledSize(4000, 3000), [1600, 1200]);
  assert.deepEqual(scaledSize(3000, 4000), [1200, 1600]);
  assert.deepEqual(scaledSize(800, 600), [800, 600]);
});

test('a report needs a known kind and a position; the note is trimmed', () => {
  const at = { lat: 39.5, lon: 106.7 };
  assert.deepEqual(reportBody({ requestId: 'r1', kind: 'litter', note: '  杂物  ', position: at, photo: null }),
    { body: { request_id: 'r1', kind: 'litter', lat: 39.5, lon: 106.7, note: '杂物' } });
  assert.equal(reportBody({ requestId: 'r1', kind: 'bogus', position: at }).error, 'f_rep_no_kind');
  assert.equal(reportBody({ requestId: 'r1', kind: 'litter', position: null }).error, 'f_rep_no_position');
  assert.equal(reportBody({ requestId: 'r1', kind: 'litter', note: 'x'.repeat(2001), position: at }).error, 'f_rep_note_long');
  assert.equal(reportBody({ requestId: 'r1', kind: 'flood', position: at, photo: 'AAAA' }).body.photo, 'AAAA');
});

test('every kind on the form has a name in both languages', () => {
  for (const k of REPORT_KINDS) for (const l of ['en', 'zh-CN']) assert.ok(`k_${k}` in ALL_STRINGS[l], `${l} k_${k}`);
});
