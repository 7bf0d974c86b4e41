// The coverage layer (docs/roads.md, "Coverage map"): one walker in the south-west corner of
// a 25 km² zone; turned on, the layer draws the zone's cells green near the walker, amber a
// little farther, red across the rest (console.targets.travel_amber_secs, travel_red_secs).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startApp, publish, browser, login, skipLoudly, until } from './harness.mjs';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
let app;
let hasLogin = false;

before(async () => {
  app = await startApp();
  hasLogin = await app.hasSessionApi();
  if (hasLogin) app.addUser('viewer', 'viewer', 'viewer-pass-123');
  const ring = [[121.44, 31.21], [121.50, 31.21], [121.50, 31.25], [121.44, 31.25], [121.44, 31.21]];
  const z = await app.api('POST', '/api/v1/zones', { type: 'Feature', properties: { id: 'g1', name: 'Grid 1', kind: 'grid' }, geometry: { type: 'Polygon', coordinates: [ring] } });
  assert.equal(z.status, 201);
  const r = await app.api('POST', '/api/v1/responders', { id: 'walker', name: 'Walker', kind: 'grid_worker', travel: 'foot', zone_id: 'g1' });
  assert.equal(r.status, 201, JSON.stringify(r.data));
  publish(app, { ...r.data.mqtt, topic: 'owntracks/walker/phone', payload: { _type: 'location', lat: 31.2135, lon: 121.4435, tst: Math.floor(Date.now() / 1000), acc: 10, batt: 80 } });
  await until('the walker located', async () => (await app.api('GET', '/api/v1/responders/walker')).data?.lat != null);
});

after(async () => { await app?.stop(); });

test('coverage layer: cells near the only walker are green, farther amber, the rest red', async (t) => {
  if (!hasLogin) return skipLoudly(t, 'POST /api/v1/session answers 404: no login API in this build');
  const b = await browser();
  try {
    await login(b.page, app, 'viewer', 'viewer-pass-123');
    await b.page.locator('path.leaflet-interactive').first().waitFor();
    await b.page.click('button.cov-toggle');
    await b.page.locator('path.cov-cell').first().waitFor();
    const count = (cls) => b.page.locator(`path.cov-cell.${cls}`).count();
    const [ok, amber, red, none] = [await count('cov-ok'), await count('cov-amber'), await count('cov-red'), await count('cov-none')];
    // 25 km² in 250 m cells: about 400; walking 5 km/h × 1.3 detour, 5 min is ~320 m.
    assert.ok(ok + amber + red > 350, `${ok} ${amber} ${red}`);
    assert.ok(ok >= 1 && ok < 10, `green cells ${ok}`);
    assert.ok(amber > ok && amber < 30, `amber cells ${amber}`);
    assert.ok(red > 300, `red cells ${red}`);
    assert.equal(none, 0);
    // The green cells are the walker's corner: south-west of every red one on screen.
    const boxes = async (cls) => Promise.all((await b.page.locator(`path.cov-cell.${cls}`).all()).map((l) => l.boundingBox()));
    const greens = await boxes('cov-ok');
    const reds = await boxes('cov-red');
    const maxGreenX = Math.max(...greens.map((g) => g.x));
    assert.ok(reds.filter((r) => r.x > maxGreenX).length > reds.length / 2, 'red lies away from the walker');
    assert.match(await b.page.locator('.cov-status').textContent(), /g1: \d+ · 1 free/);
    await b.page.screenshot({ path: join(repo, 'docs/screenshots/coverage-layer.png') });
    // Off again: the cells go.
    await b.page.click('button.cov-toggle');
    await until('cells removed', async () => (await b.page.locator('path.cov-cell').count()) === 0);
  } finally { await b.close(); }
});
