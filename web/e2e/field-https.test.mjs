// End-to-end: the field app over https, as a phone gets it from `serve --https` (the
// certificate made at start by the instance's own CA, the broker's WebSocket as wss). The
// browser trusts exactly that certificate (its key, by hash), as a phone that installed the
// CA would; verification stays on for everything else. On a secure page the browser gives the
// app location, so the worker's position reaches the dispatcher and a task reaches the phone.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startApp, browser, shot, freePort, PHONE, until } from './harness.mjs';

const W = { id: 'ws1', lat: 31.2250, lon: 121.4650 };
const NEAR = { lat: 31.2262, lon: 121.4660 };

let app;
let phone;
let wssPort;
let creds;
const sockets = [];

/** The base64 SHA-256 of the server certificate's public key, as chromium's SPKI list wants. */
function spkiHash(certFile) {
  const pem = readFileSync(certFile, 'utf8');
  const first = pem.slice(0, pem.indexOf('-----END CERTIFICATE-----') + 25);
  const spki = new X509Certificate(first).publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(spki).digest('base64');
}

before(async () => {
  wssPort = await freePort();
  app = await startApp({
    GRIDDISPATCH__MQTT__WSS_LISTEN: `127.0.0.1:${wssPort}`,
    GRIDDISPATCH__FIELD__LOCATION_INTERVAL_SECS: '5',
  }, { args: ['--https'] });
  const ring = [[121.44, 31.21], [121.50, 31.21], [121.50, 31.25], [121.44, 31.25], [121.44, 31.21]];
  const z = await app.api('POST', '/api/v1/zones', { type: 'Feature', properties: { id: 'g1', name: 'Grid 1', kind: 'grid' }, geometry: { type: 'Polygon', coordinates: [ring] } });
  assert.equal(z.status, 201, JSON.stringify(z.data));
  const r = await app.api('POST', '/api/v1/responders', { id: W.id, name: 'Worker S', kind: 'grid_worker', travel: 'foot', zone_id: 'g1', on_duty: true });
  assert.equal(r.status, 201, JSON.stringify(r.data));
  creds = r.data.mqtt;
  assert.equal((await app.api('POST', '/api/v1/sources', { id: 'sensors', name: 'Sensors' })).status, 201);
});

after(async () => {
  await phone?.close();
  await app?.stop();
});

test('over https the field app is a secure page: it locates the worker and gets a task over wss', async () => {
  // Nothing answers plain http on the port: the page is https only.
  await assert.rejects(globalThis.fetch(app.url.replace('https:', 'http:') + '/field').then((r) => r.text()));

  phone = await browser({
    ...PHONE,
    geolocation: { latitude: W.lat, longitude: W.lon, accuracy: 8 },
    permissions: ['geolocation', 'notifications'],
    args: [`--ignore-certificate-errors-spki-list=${spkiHash(join(app.dir, 'demo-tls', 'cert.pem'))}`],
  });
  const { page } = phone;
  page.on('console', (m) => { if (m.type() === 'error') console.error(`[phone console] ${m.text()}`); });
  page.on('websocket', (ws) => sockets.push(ws.url()));
  await page.goto(`${app.url}/field`);
  assert.equal(await page.evaluate(() => window.isSecureContext), true, 'the field page is a secure context');
  assert.equal(await page.evaluate(async () => (await navigator.permissions.query({ name: 'geolocation' })).state), 'granted');

  await page.fill('#f-username', W.id);
  await page.fill('#f-password', creds.password);
  await page.click('#f-login');
  await page.waitForSelector('#main-view:not([hidden]) #conn.ok', { timeout: 15000 });
  assert.ok(sockets.some((u) => u.startsWith(`wss://127.0.0.1:${wssPort}/`)), `the app reached the broker over wss (sockets: ${sockets.join(', ')})`);
  assert.ok(!sockets.some((u) => u.startsWith('ws:')), 'and never over plain ws');

  // The position the browser gives the secure page reaches the dispatcher.
  await until("the worker's position in the API", async () => {
    const w = (await app.api('GET', '/api/v1/responders')).data.find((x) => x.id === W.id);
    return w && w.lat != null && Math.abs(w.lat - W.lat) < 1e-6 && Math.abs(w.lon - W.lon) < 1e-6;
  });

  // An alert next to the worker becomes a task on the phone.
  const a = await app.api('POST', '/api/v1/alerts', { source_id: 'sensors', id: 'https-1', kind: 'medical', severity: 2, lat: NEAR.lat, lon: NEAR.lon, address: 'Block 7' });
  assert.equal(a.status, 202, JSON.stringify(a.data));
  const task = await until('the offer to the worker', async () => {
    const i = await app.api('GET', `/api/v1/incidents/${a.data.incident_id}`);
    return i.data.tasks.find((t) => t.responder_id === W.id);
  });
  await page.waitForSelector(`[data-task="${task.task_id}"]`, { timeout: 5000 });
  await page.click(`[data-task="${task.task_id}"]`);
  await page.click('[data-action="accepted"]');
  await until('the incident assigned over wss', async () => {
    const i = await app.api('GET', `/api/v1/incidents/${a.data.incident_id}`);
    return i.data.state === 'assigned';
  });
  await shot(page, 'field-https-task');

  // The offline shell (a service worker) is only for secure pages.
  await until('the offline shell installed', () => page.evaluate(async () => !!(await navigator.serviceWorker.getRegistration())));
});
