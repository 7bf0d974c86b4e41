// The field app's service worker keeps every module the app loads: one left out of its
// shell list makes the app a blank page with no network (a string file added to i18n.js for
// another page once did).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const src = resolve(dirname(fileURLToPath(import.meta.url)), '../src');

/** The paths in sw.js's SHELL list. */
function shell() {
  const sw = readFileSync(join(src, 'field/sw.js'), 'utf8');
  const list = sw.slice(sw.indexOf('const SHELL = ['), sw.indexOf('];', sw.indexOf('const SHELL = [')));
  return new Set([...list.matchAll(/'([^']+)'/g)].map((m) => m[1]));
}

/** Every module `file` (under src/js) imports, statically or not, as a URL path. */
function imports(file, seen = new Set()) {
  const path = `/assets/app/js/${file}`;
  if (seen.has(path)) return seen;
  seen.add(path);
  const code = readFileSync(join(src, 'js', file), 'utf8');
  const specs = [...code.matchAll(/(?:import|export)\s[^;]*?from\s*'([^']+)'/gs), ...code.matchAll(/import\(\s*'([^']+)'\s*\)/g)].map((m) => m[1]);
  for (const spec of specs) {
    if (spec.startsWith('./')) imports(spec.slice(2), seen);
    else seen.add(spec);
  }
  return seen;
}

test('the service worker keeps every module the field app loads', () => {
  const kept = shell();
  const missing = [...imports('field.js')].filter((p) => !kept.has(p));
  assert.deepEqual(missing, [], `add to SHELL in web/src/field/sw.js: ${missing.join(', ')}`);
});
