// Timeline lines worded in the reader's language from their event codes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ALL_STRINGS } from '../src/js/i18n.js';
import { actorText, eventText } from '../src/js/timeline.js';

/** A translator for one language, as i18n.js's t() does it. */
function lang(code) {
  const table = ALL_STRINGS[code];
  const tr = (key, vars = {}) => (table[key] ?? key).replace(/\{(\w+)\}/g, (_, k) => vars[k] ?? `{${k}}`);
  const names = { w1: '王丽', w2: '张强' };
  return { tr, has: (k) => k in table, name: (id) => names[id] || id, kind: (k) => ({ fall: '摔倒' })[k] || k };
}

test('an offer names the responders by name, in Chinese', () => {
  const line = { note: 'offered to w1, w2', event: { code: 'offered', responders: ['w1', 'w2'] } };
  assert.equal(eventText(line, lang('zh-CN')), '派单给 王丽、张强');
  assert.equal(eventText(line, lang('en')), 'Offered to 王丽, 张强');
});

test('a person\'s words follow the event, untranslated', () => {
  const line = { event: { code: 'verified', note: '已复查，井盖已更换' } };
  assert.equal(eventText(line, lang('zh-CN')), '核查通过：已复查，井盖已更换');
  const ext = { event: { code: 'extension_asked', responder: 'w2', minutes: 30, reason: '等待配件' } };
  assert.equal(eventText(ext, lang('zh-CN')), '张强 申请延期 30 分钟：等待配件');
  assert.equal(eventText({ event: { code: 'note', text: 'on my way' } }, lang('zh-CN')), 'on my way');
});

test('a kind is shown by its label', () => {
  const line = { event: { code: 'closed_unverified', kind: 'fall' } };
  assert.equal(eventText(line, lang('zh-CN')), '直接结案：摔倒无需核查');
});

test('every code the server sends has words in both languages', () => {
  const codes = ['alert_opened', 'alert_linked', 'snapshot', 'snapshot_failed', 'offered', 'assigned', 'accepted', 'rejected',
    'no_acceptance', 'no_responder', 'chosen_declined', 'closed_unverified', 'no_inspector', 'inspection_offered', 'inspection_accepted', 'verified', 'rework',
    'rework_offered', 'suspended', 'resumed', 'extension_asked', 'extension_granted', 'extension_refused', 'note'];
  for (const c of codes) {
    for (const l of ['zh-CN', 'en']) assert.ok(`tl_${c}` in ALL_STRINGS[l], `${l} has no words for ${c}`);
  }
});

test('a line without an event, or with a code unknown here, shows its note', () => {
  assert.equal(eventText({ note: 'alert call-1' }, lang('zh-CN')), 'alert call-1');
  assert.equal(eventText({ note: 'teleported', event: { code: 'teleported' } }, lang('zh-CN')), 'teleported');
  assert.equal(eventText({ note: null, event: null }, lang('zh-CN')), '');
});

test('actors in words', () => {
  const zh = lang('zh-CN');
  assert.equal(actorText('dispatcher', zh), '系统调度');
  assert.equal(actorText('source:hotline', zh), '来源 hotline');
  assert.equal(actorText('responder:w1', zh), '王丽');
  assert.equal(actorText('operator:alice', zh), '调度员 alice');
  assert.equal(actorText('weird', zh), 'weird');
});
