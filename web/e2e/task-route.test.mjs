// A task's route on the console's map and the road ETA in the candidates (docs/roads.md,
// "Routes on the map"). A hand-drawn map as in tests/it/roads.rs: a river between two roads
// 100 m apart with one bridge a kilometre north; the incident on the east bank, two drivers
// on the west bank and one far east, off the roads. The nearer driver across the water gets
// the offer, and the map draws its road route, up to the bridge and back down; the
// candidates show the other driver's road ETA and road distance, and the straight line for
// the one off the roads.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BIN, startApp, publish, browser, login, skipLoudly, until } from './harness.mjs';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const DEG_M = 111320;
/** [lat, lon] of a grid point 100 m apart at 39.5° N. */
const point = (row, col) => [39.5 + (row * 100) / DEG_M, 106.7 + (col * 100) / (DEG_M * Math.cos((39.5 * Math.PI) / 180))];

/** The river map as OSM XML: the west road (col 0) and the east road (col 1), rows 0–10, the bridge at row 10, a street east. */
function riverOsm() {
  const nodes = [];
  const id = (row, col) => 1000 + row * 100 + col;
  const node = (row, col) => { const [lat, lon] = point(row, col); nodes.push(`<node id="${id(row, col)}" lat="${lat}" lon="${lon}"/>`); };
  for (let row = 0; row <= 10; row++) { node(row, 0); node(row, 1); }
  for (let col = 2; col <= 5; col++) node(0, col);
  const rows = [...Array(11).keys()];
  const way = (wid, ids, highway) => `<way id="${wid}">${ids.map((n) => `<nd ref="${n}"/>`).join('')}<tag k="highway" v="${highway}"/></way>`;
  return `<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6">\n${nodes.join('\n')}\n${[
    way(1, rows.map((r) => id(r, 0)), 'primary'),
    way(2, rows.map((r) => id(r, 1)), 'primary'),
    way(3, [id(10, 0), id(10, 1)], 'primary'),
    way(4, [1, 2, 3, 4, 5].map((c) => id(0, c)), 'residential'),
  ].join('\n')}\n</osm>\n`;
}

let app;
let hasLogin = false;
let roadsDir;
let incidentId;

before(async () => {
  roadsDir = mkdtempSync(join(tmpdir(), 'gd-e2e-roads-'));
  const osm = join(roadsDir, 'river.osm');
  writeFileSync(osm, riverOsm());
  execFileSync(BIN, ['roads', 'import', osm, '--out', join(roadsDir, 'roads.bin')], { encoding: 'utf8' });
  app = await startApp({ GRIDDISPATCH__DATABASE__DATA_DIR: roadsDir });
  hasLogin = await app.hasSessionApi();
  if (hasLogin) app.addUser('oper', 'operator', 'oper-pass-123');
  const [s, w] = point(-2, -4); const [n, e] = point(12, 8);
  const ring = [[w, s], [e, s], [e, n], [w, n], [w, s]];
  const z = await app.api('POST', '/api/v1/zones', { type: 'Feature', properties: { id: 'g1', name: 'River', kind: 'grid' }, geometry: { type: 'Polygon', coordinates: [ring] } });
  assert.equal(z.status, 201, JSON.stringify(z.data));
  for (const [rid, name, at] of [['west', 'West', point(0, 0)], ['north', 'North', point(1, 0)], ['far', 'Far', point(0, 30)]]) {
    const r = await app.api('POST', '/api/v1/responders', { id: rid, name, kind: 'patrol', travel: 'car' });
    assert.equal(r.status, 201, JSON.stringify(r.data));
    publish(app, { ...r.data.mqtt, topic: `owntracks/${rid}/phone`, payload: { _type: 'location', lat: at[0], lon: at[1], tst: Math.floor(Date.now() / 1000), acc: 10, batt: 80 } });
    await until(`${rid} located`, async () => (await app.api('GET', `/api/v1/responders/${rid}`)).data?.lat != null);
  }
  const [lat, lon] = point(0, 1);
  const a = await app.api('POST', '/api/v1/alerts', { id: 'route-1', kind: 'fight', severity: 3, lat, lon, address: 'East bank' });
  assert.ok(a.status < 300, JSON.stringify(a.data));
  incidentId = a.data.incident_id;
  await until('the offer', async () => (await app.api('GET', `/api/v1/incidents/${incidentId}`)).data?.tasks?.length > 0);
});

after(async () => { await app?.stop(); if (roadsDir) rmSync(roadsDir, { recursive: true, force: true }); });

test('a live task\'s road route is drawn over the bridge; the candidates show road ETA beside straight-line distance', async (t) => {
  if (!hasLogin) return skipLoudly(t, 'POST /api/v1/session answers 404: no login API in this build');
  const b = await browser();
  try {
    await b.page.setViewportSize({ width: 1280, height: 760 });
    await login(b.page, app, 'oper', 'oper-pass-123');
    // The offer went to North (1.9 km by road), whose route is drawn along the roads.
    const route = b.page.locator('path.task-route.road[data-responder="north"]');
    await route.waitFor();
    const points = Number(await route.getAttribute('data-points'));
    assert.ok(points > 2, `points ${points}`);
    // It goes a kilometre north to the bridge and back: far above the incident, whose
    // responder is 100 m away by air.
    await b.page.click(`#queue li[data-id="${incidentId}"]`);
    // The map fits itself to the zones once its box has a size, which can come after the
    // route is drawn: measure once the route and the incident stay put between two reads.
    const incIcon = b.page.locator(`.inc-icon span[data-id="${incidentId}"]`);
    let box; let inc;
    await until('the map to settle', async () => {
      const before = JSON.stringify([box, inc]);
      box = await route.boundingBox();
      inc = await incIcon.boundingBox();
      return JSON.stringify([box, inc]) === before;
    });
    assert.ok(box.height > 5 * box.width, `route box ${JSON.stringify(box)}`);
    assert.ok(inc.y - box.y > 0.8 * box.height, `the route rises from the incident (${inc.y}) to the bridge (${box.y})`);
    assert.equal(await b.page.locator('path.task-route.straight').count(), 0);
    // The candidates: West by road, 2.1 km; Far off the roads, straight line.
    const west = b.page.locator('table.cands tr[data-responder="west"]');
    await west.waitFor();
    assert.equal(await west.getAttribute('data-source'), 'road');
    assert.equal((await west.locator('td.road-dist').textContent()).trim(), '2.1 km');
    assert.equal((await west.locator('td.dist').textContent()).trim(), '100 m');
    assert.match(await west.locator('td.eta').textContent(), /≈ \d+ min\s*by road/);
    const far = b.page.locator('table.cands tr[data-responder="far"]');
    assert.equal(await far.getAttribute('data-source'), 'straight');
    assert.equal((await far.locator('td.road-dist').textContent()).trim(), 'straight line');
    const shot = join(repo, 'docs/screenshots/task-route.png');
    await b.page.screenshot({ path: shot });
    assert.ok(statSync(shot).size < 300 * 1024, `screenshot ${statSync(shot).size} bytes`);
  } finally { await b.close(); }
});
