// End-to-end: the field app on two phones (two chromium profiles with emulated
// geolocation) against the real binary, its embedded broker speaking MQTT over WebSocket.
// Worker A stands next to the incidents, worker B 4 km away. The steps run in order and
// share the app: an alert reaches A only; A answers; A loses the network, misses an offer
// that then goes to B, and learns on return that it expired; a resolution typed offline
// arrives after reconnect; the shell opens with the server gone.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startApp, browser, shot, freePort, PHONE, sleep, until } from './harness.mjs';
import { wgs84ToGcj02, gcj02ToBd09 } from '../src/js/gcj02.js';

const ACK_TIMEOUT_SECS = 6;
const A = { id: 'wa', lat: 31.2250, lon: 121.4650 };
const B = { id: 'wb', lat: 31.2600, lon: 121.5200 };
/** The incidents happen about 150 m from A. */
const NEAR_A = { lat: 31.2262, lon: 121.4660 };
const GATE = { lat: 31.2258, lon: 121.4648, note: 'north gate of block 7' };

let app;
let phoneA;
let phoneB;
const creds = {};



async function incident(id) {
  const r = await app.api('GET', `/api/v1/incidents/${id}`);
  assert.equal(r.status, 200, JSON.stringify(r.data));
  return r.data;
}

async function raise(id, kind, extra = {}) {
  const r = await app.api('POST', '/api/v1/alerts', { source_id: 'sensors', id, kind, severity: 2, lat: NEAR_A.lat, lon: NEAR_A.lon, ...extra });
  assert.equal(r.status, 202, JSON.stringify(r.data));
  return r.data.incident_id;
}

/** The task of `rid` on incident `iid` (the newest), from the API. */
async function taskOf(iid, rid) {
  const tasks = (await incident(iid)).tasks.filter((t) => t.responder_id === rid);
  return tasks[tasks.length - 1];
}

async function phone(worker) {
  const b = await browser({
    ...PHONE,
    geolocation: { latitude: worker.lat, longitude: worker.lon, accuracy: 8 },
    permissions: ['geolocation', 'notifications'],
  });
  b.page.on('console', (m) => { if (m.type() === 'error') console.error(`[${worker.id} console] ${m.text()}`); });
  return b;
}

async function signIn(b, worker) {
  await b.page.goto(`${app.url}/field`);
  await b.page.fill('#f-username', worker.id);
  await b.page.fill('#f-password', creds[worker.id].password);
  await b.page.click('#f-login');
  await b.page.waitForSelector('#main-view:not([hidden]) #conn.ok', { timeout: 15000 });
}

/** Opens the task's detail and presses one answer button. */
async function press(page, taskId, action) {
  if (!(await page.isVisible(`#detail-view:not([hidden]) [data-action="${action}"]`))) {
    if (await page.isVisible('#back')) await page.click('#back');
    await page.click(`[data-task="${taskId}"]`);
  }
  await page.click(`[data-action="${action}"]`);
}

before(async () => {
  const wsPort = await freePort();
  app = await startApp({
    GRIDDISPATCH__MQTT__WS_LISTEN: `127.0.0.1:${wsPort}`,
    GRIDDISPATCH__DISPATCH__ACK_TIMEOUT_SECS: String(ACK_TIMEOUT_SECS),
    GRIDDISPATCH__FIELD__LOCATION_INTERVAL_SECS: '5',
  });
  const ring = [[121.44, 31.21], [121.50, 31.21], [121.50, 31.25], [121.44, 31.25], [121.44, 31.21]];
  const z = await app.api('POST', '/api/v1/zones', { type: 'Feature', properties: { id: 'g1', name: 'Grid 1', kind: 'grid' }, geometry: { type: 'Polygon', coordinates: [ring] } });
  assert.equal(z.status, 201, JSON.stringify(z.data));
  for (const [w, zone] of [[A, 'g1'], [B, null]]) {
    const r = await app.api('POST', '/api/v1/responders', { id: w.id, name: `Worker ${w.id}`, kind: 'grid_worker', travel: 'foot', zone_id: zone, on_duty: true });
    assert.equal(r.status, 201, JSON.stringify(r.data));
    creds[w.id] = r.data.mqtt;
  }
  assert.equal((await app.api('POST', '/api/v1/sources', { id: 'sensors', name: 'Sensors' })).status, 201);
  // A 喜邻 grid station by the gate, for the small map.
  const st = await app.api('POST', '/api/v1/merchants', { id: 'xl-gate', name: '喜邻·门口驿站', address: 'Gate', lat: GATE.lat + 0.0004, lon: GATE.lon, station: true });
  assert.equal(st.status, 201, JSON.stringify(st.data));
});

after(async () => {
  await phoneA?.close();
  await phoneB?.close();
  await app?.stop();
});

test('workers sign in with their MQTT login; a wrong one is refused; positions are reported', async () => {
  phoneA = await phone(A);
  await phoneA.page.goto(`${app.url}/field`);
  await phoneA.page.fill('#f-username', A.id);
  await phoneA.page.fill('#f-password', 'not-the-password');
  await phoneA.page.click('#f-login');
  await phoneA.page.waitForSelector('#login-error:not([hidden])', { timeout: 15000 });
  assert.match(await phoneA.page.textContent('#login-error'), /Wrong worker id or password/);

  await signIn(phoneA, A);
  phoneB = await phone(B);
  await signIn(phoneB, B);
  // Both are on duty (set by the administrator) and the apps report the emulated positions.
  for (const [b, w] of [[phoneA, A], [phoneB, B]]) {
    await b.page.waitForSelector('#duty[aria-pressed="true"]', { timeout: 10000 });
    await until(`${w.id}'s position in the API`, async () => {
      const r = (await app.api('GET', '/api/v1/responders')).data.find((x) => x.id === w.id);
      return r && r.lat != null && Math.abs(r.lat - w.lat) < 1e-6 && Math.abs(r.lon - w.lon) < 1e-6;
    });
  }
});

let first;
test('an alert near A reaches A within 2 s and never B; A accepts and the incident is assigned', async () => {
  const started = Date.now();
  const iid = await raise('e2e-1', 'medical', { address: 'Block 7, Flat 302', rendezvous: GATE, description: 'Ambulance on its way; meet it at the gate' });
  const task = await until('the offer to A', () => taskOf(iid, A.id));
  first = { iid, taskId: task.task_id };
  await phoneA.page.waitForSelector(`[data-task="${task.task_id}"]`, { timeout: 2000 });
  console.log(`alert → A's page: ${Date.now() - started} ms`);
  await sleep(1000);
  assert.equal(await phoneB.page.locator('[data-task]').count(), 0, "B's page shows no task");
  assert.equal(await taskOf(iid, B.id), undefined, 'B was never offered it');
  await shot(phoneA.page, 'field-task-list');

  await phoneA.page.click(`[data-task="${task.task_id}"]`);
  await phoneA.page.waitForSelector('#detail-view:not([hidden]) #minimap .leaflet-marker-icon');
  // The 喜邻 station nearby is on the small map (read with the worker's own login).
  await phoneA.page.waitForSelector('#minimap .merchant-icon.station span[data-merchant="xl-gate"]');
  // Navigation goes to the gate, converted for each map app.
  const [gLat, gLon] = wgs84ToGcj02(GATE.lat, GATE.lon);
  const [bLat, bLon] = gcj02ToBd09(gLat, gLon);
  const r6 = (x) => String(Math.round(x * 1e6) / 1e6);
  assert.ok((await phoneA.page.getAttribute('#nav-amap', 'href')).includes(`position=${r6(gLon)},${r6(gLat)}&`));
  assert.ok((await phoneA.page.getAttribute('#nav-baidu', 'href')).includes(`location=${r6(bLat)},${r6(bLon)}&`));
  assert.ok((await phoneA.page.getAttribute('#nav-geo', 'href')).startsWith(`geo:${r6(GATE.lat)},${r6(GATE.lon)}`));
  // The small map labels its dots (the incident and the meeting point at least).
  await phoneA.page.waitForSelector('.leaflet-tooltip');
  assert.ok(await phoneA.page.locator('.leaflet-tooltip').count() >= 2, 'each dot on the small map is labelled');
  await shot(phoneA.page, 'field-task-detail');

  await press(phoneA.page, task.task_id, 'accepted');
  await until('the incident assigned to A', async () => {
    const i = await incident(iid);
    return i.state === 'assigned' && i.tasks.some((t) => t.responder_id === A.id && t.status === 'accepted');
  });
  await phoneA.page.waitForSelector('[data-action="en_route"]');
  assert.equal(await phoneA.page.locator('.pending-line').count(), 0, 'the verdict settled the answer');

  // A resolves it online, which frees A for the next offer.
  await press(phoneA.page, task.task_id, 'resolved');
  await phoneA.page.fill('#answer-note', 'Led the ambulance crew to flat 302');
  await phoneA.page.click('[data-send="resolved"]');
  await until('incident 1 resolved', async () => (await incident(iid)).state === 'resolved');
  await phoneA.page.waitForSelector(`[data-task="${task.task_id}"]`, { state: 'detached' });
  // …and the phone says the resolution arrived instead of the task just vanishing.
  await phoneA.page.waitForSelector('.notice.ok');
});

test('A offline: the offer to A expires and goes to B; back online, A sees that it expired', async () => {
  await phoneA.context.setOffline(true);
  await phoneA.page.waitForSelector('#conn.bad');
  const iid = await raise('e2e-2', 'fall', { address: 'Stairwell B' });
  const offerA = await until('the offer to A', () => taskOf(iid, A.id));
  assert.equal(offerA.status, 'offered');
  const offerB = await until('the offer to pass to B', () => taskOf(iid, B.id), (ACK_TIMEOUT_SECS + 10) * 1000);
  assert.equal((await taskOf(iid, A.id)).status, 'expired');
  await phoneB.page.waitForSelector(`[data-task="${offerB.task_id}"]`, { timeout: 5000 });
  await press(phoneB.page, offerB.task_id, 'accepted');
  await until('incident 2 assigned to B', async () => (await incident(iid)).state === 'assigned');
  assert.equal(await phoneA.page.locator(`[data-task="${offerA.task_id}"]`).count(), 0, 'A never saw the offer while offline');

  await phoneA.context.setOffline(false);
  await phoneA.page.waitForSelector('#conn.ok', { timeout: 15000 });
  const notice = phoneA.page.locator('.notice', { hasText: 'fall — Stairwell B' });
  await notice.waitFor({ timeout: 10000 });
  assert.match(await notice.textContent(), /Expired: no answer in time/);
  await sleep(500);
  assert.equal(await phoneA.page.locator(`[data-task="${offerA.task_id}"]`).count(), 0, 'the expired task is not in the list');
});

test('a resolution typed while offline is delivered after reconnect', async () => {
  const iid = await raise('e2e-3', 'flood', { address: 'Basement, block 9' });
  const task = await until('the offer to A', () => taskOf(iid, A.id));
  await phoneA.page.waitForSelector(`[data-task="${task.task_id}"]`, { timeout: 5000 });
  await press(phoneA.page, task.task_id, 'accepted');
  await until('incident 3 assigned', async () => (await incident(iid)).state === 'assigned');
  await phoneA.page.waitForSelector('[data-action="resolved"]');

  await phoneA.context.setOffline(true);
  await phoneA.page.waitForSelector('#conn.bad');
  await press(phoneA.page, task.task_id, 'resolved');
  await phoneA.page.fill('#answer-note', 'Valve closed, pump on its way');
  await phoneA.page.click('[data-send="resolved"]');
  await phoneA.page.waitForSelector('.pending-line[data-pending="resolved"]');
  assert.match(await phoneA.page.textContent('#pending'), /1 waiting to send/);
  await sleep(1500);
  assert.equal((await incident(iid)).state, 'assigned', 'nothing reached the dispatcher while offline');

  await phoneA.context.setOffline(false);
  await until('incident 3 resolved from the queued answer', async () => (await incident(iid)).state === 'resolved');
  const done = await taskOf(iid, A.id);
  assert.equal(done.status, 'resolved');
  assert.equal(done.note, 'Valve closed, pump on its way');
  await phoneA.page.waitForSelector('#pending', { state: 'hidden' });
  await phoneA.page.waitForSelector(`[data-task="${task.task_id}"]`, { state: 'detached' });
});

test("a camera's snapshot shows in the task on the worker's phone", async () => {
  // A small JPEG drawn by the browser, served to the dispatcher as the camera's "stream"
  // (a file: GStreamer decodes it like any other source).
  const dataUrl = await phoneA.page.evaluate(() => {
    const c = document.createElement('canvas');
    c.width = 96; c.height = 64;
    const g = c.getContext('2d');
    g.fillStyle = '#c03'; g.fillRect(0, 0, 96, 64);
    g.fillStyle = '#fff'; g.fillRect(30, 20, 36, 24);
    return c.toDataURL('image/jpeg', 0.9);
  });
  const jpeg = join(app.dir, 'gate-camera.jpg');
  writeFileSync(jpeg, Buffer.from(dataUrl.split(',')[1], 'base64'));
  const cam = await app.api('POST', '/api/v1/cameras', { id: 'cam-gate', name: 'Gate camera', lat: NEAR_A.lat, lon: NEAR_A.lon, stream_uri: `file://${jpeg}` });
  assert.equal(cam.status, 201, JSON.stringify(cam.data));
  const r = await app.api('POST', '/api/v1/alerts', { source_id: 'sensors', id: 'e2e-4', kind: 'smoke', severity: 2, camera_id: 'cam-gate' });
  assert.equal(r.status, 202, JSON.stringify(r.data));
  const iid = r.data.incident_id;
  const task = await until('the offer to A', () => taskOf(iid, A.id));
  // Accepted first: the offer runs out in a few seconds here, and the link to the picture
  // comes in a later version of the task message anyway.
  await phoneA.page.waitForSelector(`[data-task="${task.task_id}"]`, { timeout: 5000 });
  await press(phoneA.page, task.task_id, 'accepted');
  await until('incident 4 assigned', async () => (await incident(iid)).state === 'assigned');
  await until('the snapshot stored', async () => (await incident(iid)).snapshots?.length === 1);
  const size = await until('the picture shown', () => phoneA.page.evaluate(() => {
    const img = document.querySelector('#detail-view img.snap');
    return img && img.complete && img.naturalWidth ? [img.naturalWidth, img.naturalHeight] : null;
  }), 15000);
  assert.deepEqual(size, [96, 64], "the camera's picture at its own size");
  await shot(phoneA.page, 'field-task-snapshot');

  // Done with it, so A is free again.
  await press(phoneA.page, task.task_id, 'resolved');
  await phoneA.page.fill('#answer-note', 'False alarm: a barbecue');
  await phoneA.page.click('[data-send="resolved"]');
  await until('incident 4 resolved', async () => (await incident(iid)).state === 'resolved');
  await phoneA.page.waitForSelector(`[data-task="${task.task_id}"]`, { state: 'detached' });
});

test('a case sent back shows as rework; the worker asks for more time and hears the approval', async () => {
  const page = phoneA.page;
  // A resolves a case…
  const iid = await raise('e2e-5', 'flood', { address: 'Courtyard drain, block 3' });
  const task = await until('the offer to A', () => taskOf(iid, A.id));
  await page.waitForSelector(`[data-task="${task.task_id}"]`, { timeout: 5000 });
  assert.equal(await page.locator(`[data-task="${task.task_id}"] .badge.rework`).count(), 0, 'a first offer is no rework');
  await press(page, task.task_id, 'accepted');
  await until('incident 5 assigned', async () => (await incident(iid)).state === 'assigned');
  await press(page, task.task_id, 'resolved');
  await page.fill('#answer-note', 'Drain cleared');
  await page.click('[data-send="resolved"]');
  await until('incident 5 resolved', async () => (await incident(iid)).state === 'resolved');
  await page.waitForSelector(`[data-task="${task.task_id}"]`, { state: 'detached' });

  // …and the operator sends it back: the same case comes back to A, marked as rework.
  const reason = 'Water still standing by the north gate';
  const rw = await app.api('POST', `/api/v1/incidents/${iid}/rework`, { reason });
  assert.equal(rw.status, 200, JSON.stringify(rw.data));
  const again = await until('the rework offer to A', async () => {
    const t = await taskOf(iid, A.id);
    return t && t.task_id !== task.task_id ? t : null;
  });
  const row = page.locator(`[data-task="${again.task_id}"]`);
  await row.waitFor({ timeout: 5000 });
  assert.equal(await row.locator('.badge.rework').textContent(), 'Rework');
  assert.match(await row.textContent(), new RegExp(`Sent back: ${reason}`));
  await press(page, again.task_id, 'accepted');
  await until('incident 5 assigned again', async () => (await incident(iid)).state === 'assigned');
  await page.waitForSelector('#detail-view:not([hidden]) [data-action="extension"]');
  assert.equal(await page.textContent('#detail-view h2 .badge.rework'), 'Rework');
  assert.equal(await page.textContent('#detail-view .rework-reason'), `Sent back: ${reason}`);
  await shot(page, 'field-task-rework');

  // More time: a reason is required; 60 minutes from the quick choices.
  await page.click('[data-action="extension"]');
  await page.click('[data-minutes="60"]');
  assert.equal(await page.inputValue('#ext-minutes'), '60');
  await page.click('[data-send="extension"]');
  await page.waitForSelector('#ext-error:not([hidden])');
  assert.match(await page.textContent('#ext-error'), /reason/);
  await page.fill('#ext-reason', 'Pump truck arrives in 40 minutes');
  await shot(page, 'field-task-extension-form');
  await page.click('[data-send="extension"]');
  await page.locator('.notice.ok', { hasText: 'Request sent: 60 more minutes' }).waitFor({ timeout: 5000 });
  await page.waitForSelector('.pending-line[data-pending="extension"]');
  const req = await until('the pending extension request', async () => (await incident(iid)).extension_request);
  assert.equal(req.minutes, 60);
  assert.equal(req.reason, 'Pump truck arrives in 40 minutes');
  assert.equal(req.responder_id, A.id);

  const ok = await app.api('POST', `/api/v1/incidents/${iid}/extension`, { approve: true });
  assert.equal(ok.status, 200, JSON.stringify(ok.data));
  const approved = page.locator('.notice.ok', { hasText: 'More time approved: +60 min' });
  await approved.waitFor({ timeout: 5000 });
  const due = (await incident(iid)).due_at;
  if (due) assert.match(await approved.textContent(), /new deadline/);
  await page.waitForSelector('.pending-line[data-pending="extension"]', { state: 'detached' });
  assert.equal(await page.locator('.notice', { hasText: 'Request sent' }).count(), 0, 'the verdict replaced the "sent" notice');
  await shot(page, 'field-task-extension-approved');

  // Done, so A is free again.
  await press(page, again.task_id, 'resolved');
  await page.fill('#answer-note', 'Pumped out, drain flowing');
  await page.click('[data-send="resolved"]');
  await until('incident 5 resolved again', async () => (await incident(iid)).state === 'resolved');
});

test('zh-CN: the app speaks Chinese', async () => {
  await phoneB.page.selectOption('#main-view select.lang', 'zh-CN');
  assert.equal(await phoneB.page.textContent('h1'), '我的任务');
  await shot(phoneB.page, 'field-task-list-zh');
  await phoneB.page.selectOption('#main-view select.lang', 'en');
});

test('the service worker serves the app shell with the server gone', async () => {
  const page = phoneA.page;
  const controlled = await page.evaluate(async () => {
    await navigator.serviceWorker.ready;
    for (let k = 0; k < 50 && !navigator.serviceWorker.controller; k++) await new Promise((r) => setTimeout(r, 100));
    return !!navigator.serviceWorker.controller;
  });
  assert.ok(controlled, 'the service worker controls the page');
  await app.stop();
  app = null;
  await phoneA.context.setOffline(true);
  const resp = await page.reload();
  assert.ok(resp && resp.fromServiceWorker(), 'the page came from the service worker');
  await page.waitForSelector('#main-view:not([hidden])');
  assert.equal(await page.textContent('#who'), A.id, 'still signed in, offline');
  assert.equal(await page.evaluate(() => typeof window.mqtt), 'object', 'mqtt.js came from the cache too');
});
