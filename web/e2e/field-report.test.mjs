// End-to-end: 随手拍 from the field app, against the real binary. A volunteer on the phone
// reports a blocked fire lane with a photo from the camera; the report becomes an incident
// from `field:<volunteer>`, its photo kept as the incident's snapshot, and the grid worker
// nearby is offered it. The form is in Chinese, as the volunteer reads it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startApp, browser, shot, freePort, publish, PHONE, until } from './harness.mjs';

const V = { id: 'vol1', lat: 31.2251, lon: 121.4651 };
const W = { id: 'gw1', lat: 31.2260, lon: 121.4660 };

let app;
const creds = {};


before(async () => {
  const wsPort = await freePort();
  app = await startApp({ GRIDDISPATCH__MQTT__WS_LISTEN: `127.0.0.1:${wsPort}` });
  const ring = [[121.44, 31.21], [121.50, 31.21], [121.50, 31.25], [121.44, 31.25], [121.44, 31.21]];
  const z = await app.api('POST', '/api/v1/zones', { type: 'Feature', properties: { id: 'g1', name: '新达网格', kind: 'grid' }, geometry: { type: 'Polygon', coordinates: [ring] } });
  assert.equal(z.status, 201, JSON.stringify(z.data));
  for (const [who, kind] of [[V, 'volunteer'], [W, 'grid_worker']]) {
    const r = await app.api('POST', '/api/v1/responders', { id: who.id, name: `Responder ${who.id}`, kind, travel: 'foot', zone_id: 'g1', on_duty: true });
    assert.equal(r.status, 201, JSON.stringify(r.data));
    creds[who.id] = r.data.mqtt;
  }
  // The worker's phone (not in the browser) stands by the spot.
  const loc = { _type: 'location', lat: W.lat, lon: W.lon, tst: Math.floor(Date.now() / 1000), acc: 8 };
  publish(app, { ...creds[W.id], topic: `owntracks/${W.id}/phone`, payload: loc });
  await until('the worker located', async () => (await app.api('GET', '/api/v1/responders')).data.find((x) => x.id === W.id)?.lat != null);
});

after(async () => { await app?.stop(); });

test('a volunteer reports a problem with a photo from the phone; it is dispatched with the photo', async () => {
  const b = await browser({ ...PHONE, locale: 'zh-CN', geolocation: { latitude: V.lat, longitude: V.lon, accuracy: 6 }, permissions: ['geolocation'] });
  try {
    const page = b.page;
    await page.goto(`${app.url}/field`);
    await page.fill('#f-username', V.id);
    await page.fill('#f-password', creds[V.id].password);
    await page.click('#f-login');
    await page.waitForSelector('#main-view:not([hidden]) #conn.ok', { timeout: 15000 });
    assert.equal((await page.textContent('#report-open')).trim(), '随手拍 · 上报问题');
    await page.click('#report-open');
    await page.waitForSelector('#report-view:not([hidden]) #report-kind');
    await page.selectOption('#report-kind', 'fire_lane');
    await page.fill('#report-note', '3 号楼消防通道被电动车堵住');
    // A photo as the phone's camera would give it: a large JPEG the page scales down.
    const jpeg = await page.evaluate(() => {
      const c = document.createElement('canvas');
      c.width = 3000; c.height = 2000;
      const g = c.getContext('2d');
      g.fillStyle = '#c0392b'; g.fillRect(0, 0, 3000, 2000);
      g.fillStyle = '#fff'; g.fillRect(500, 500, 2000, 1000);
      return c.toDataURL('image/jpeg', 0.9).split(',')[1];
    });
    await page.setInputFiles('#report-photo', { name: 'IMG_0001.jpg', mimeType: 'image/jpeg', buffer: Buffer.from(jpeg, 'base64') });
    await page.waitForSelector('img.report-preview');
    await page.waitForSelector('#report-where:has-text("当前位置")');
    await shot(page, 'field-report-zh');
    await page.click('#report-send');
    await page.waitForSelector('.notice.ok:has-text("上报已受理")', { timeout: 10000 });
    assert.equal(await page.isVisible('#list-view'), true, 'back to the task list');

    // The incident: from field:vol1, where the volunteer stood, the photo kept and scaled.
    const list = (await app.api('GET', '/api/v1/incidents')).data;
    const inc = list.find((i) => i.kind === 'fire_lane');
    assert.ok(inc, JSON.stringify(list));
    const detail = await until('the photo stored', async () => {
      const d = (await app.api('GET', `/api/v1/incidents/${inc.id}`)).data;
      return d.snapshots.length === 1 ? d : null;
    });
    assert.equal(detail.alerts[0].source_id, `field:${V.id}`);
    assert.equal(detail.description, '3 号楼消防通道被电动车堵住');
    assert.ok(Math.abs(detail.location.lat - V.lat) < 1e-4, JSON.stringify(detail.location));
    assert.equal(detail.snapshots[0].source, 'field');
    assert.deepEqual([detail.snapshots[0].width, detail.snapshots[0].height], [1600, 1067]);
    assert.ok(detail.tasks.some((t) => t.responder_id === W.id), `offered to the worker nearby: ${JSON.stringify(detail.tasks)}`);
  } finally { await b.close(); }
});
