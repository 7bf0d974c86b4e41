// Every string of the console exists in both languages, with the same placeholders.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ALL_STRINGS } from '../src/js/i18n.js';

test('zh-CN and en have the same keys and placeholders', () => {
  const en = ALL_STRINGS.en;
  const zh = ALL_STRINGS['zh-CN'];
  assert.deepEqual(Object.keys(zh).sort(), Object.keys(en).sort());
  const vars = (s) => (s.match(/\{\w+\}/g) || []).sort();
  for (const k of Object.keys(en)) assert.deepEqual(vars(zh[k]), vars(en[k]), k);
});

test('every t() key used in the pages exists', async () => {
  const { readdirSync, readFileSync } = await import('node:fs');
  const dir = new URL('../src/js/', import.meta.url);
  const html = new URL('../src/', import.meta.url);
  const used = new Set();
  for (const f of readdirSync(dir)) {
    const src = readFileSync(new URL(f, dir), 'utf8');
    for (const m of src.matchAll(/\bt\('([a-z0-9_]+)'/g)) used.add(m[1]);
    for (const m of src.matchAll(/'data-i18n': '([a-z0-9_]+)'/g)) used.add(m[1]);
  }
  for (const f of readdirSync(html).filter((x) => x.endsWith('.html'))) {
    for (const m of readFileSync(new URL(f, html), 'utf8').matchAll(/data-i18n="([a-z0-9_]+)"/g)) used.add(m[1]);
  }
  const missing = [...used].filter((k) => !(k in ALL_STRINGS.en));
  assert.deepEqual(missing, []);
});

test('no key is given twice in one language (the later would silently win)', async () => {
  const { readFileSync } = await import('node:fs');
  const src = readFileSync(new URL('../src/js/i18n.js', import.meta.url), 'utf8');
  const body = src.slice(src.indexOf('const STRINGS = {'), src.indexOf('\n};'));
  const blocks = body.split(/\n  ['\w-]+: \{\n/).slice(1);
  assert.equal(blocks.length, 2, 'en and zh-CN');
  for (const block of blocks) {
    const keys = [...block.matchAll(/(?:^|[\s,])([a-z0-9_]+): '/g)].map((m) => m[1]);
    const dup = keys.filter((k, n) => keys.indexOf(k) !== n);
    assert.deepEqual(dup, []);
  }
});
