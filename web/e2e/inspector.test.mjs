// End-to-end: verification by an inspector (核查) on the field app, against the real
// binary and its embedded broker over MQTT-over-WebSocket. Worker W stands by the incident
// and resolves it from the phone; inspector I, further off, is offered the verification,
// sees it plainly as one (whose work, their note), cannot send it back without a reason,
// and taps "Verified": the incident closes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startApp, browser, shot, freePort, PHONE, sleep, until } from './harness.mjs';

const W = { id: 'ww', lat: 31.2250, lon: 121.4650 };
/** About 700 m from the incident: never the one offered the work itself. */
const I = { id: 'wi', lat: 31.2300, lon: 121.4700 };
const SPOT = { lat: 31.2253, lon: 121.4653 };

let app;
let phoneW;
let phoneI;
const creds = {};



async function incident(id) {
  const r = await app.api('GET', `/api/v1/incidents/${id}`);
  assert.equal(r.status, 200, JSON.stringify(r.data));
  return r.data;
}

/** The newest task of `rid` on incident `iid`, from the API. */
async function taskOf(iid, rid) {
  const tasks = (await incident(iid)).tasks.filter((t) => t.responder_id === rid);
  return tasks[tasks.length - 1];
}

async function phone(who) {
  const b = await browser({
    ...PHONE,
    geolocation: { latitude: who.lat, longitude: who.lon, accuracy: 8 },
    permissions: ['geolocation', 'notifications'],
  });
  b.page.on('console', (m) => { if (m.type() === 'error') console.error(`[${who.id} console] ${m.text()}`); });
  await b.page.goto(`${app.url}/field`);
  await b.page.fill('#f-username', who.id);
  await b.page.fill('#f-password', creds[who.id].password);
  await b.page.click('#f-login');
  await b.page.waitForSelector('#main-view:not([hidden]) #conn.ok', { timeout: 15000 });
  await b.page.waitForSelector('#duty[aria-pressed="true"]', { timeout: 10000 });
  await until(`${who.id}'s position in the API`, async () => {
    const r = (await app.api('GET', '/api/v1/responders')).data.find((x) => x.id === who.id);
    return r && r.lat != null && Math.abs(r.lat - who.lat) < 1e-6;
  });
  return b;
}

/** Opens the task's detail (if it is not open) and presses one answer button. */
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
    GRIDDISPATCH__VERIFICATION__DEFAULT: 'inspector',
  });
  const ring = [[121.44, 31.21], [121.50, 31.21], [121.50, 31.25], [121.44, 31.25], [121.44, 31.21]];
  const z = await app.api('POST', '/api/v1/zones', { type: 'Feature', properties: { id: 'g1', name: 'Grid 1', kind: 'grid' }, geometry: { type: 'Polygon', coordinates: [ring] } });
  assert.equal(z.status, 201, JSON.stringify(z.data));
  for (const [who, kind, zone, skills] of [[W, 'grid_worker', 'g1', []], [I, 'volunteer', null, ['inspector']]]) {
    const r = await app.api('POST', '/api/v1/responders', { id: who.id, name: `Responder ${who.id}`, kind, travel: 'foot', zone_id: zone, skills, on_duty: true });
    assert.equal(r.status, 201, JSON.stringify(r.data));
    creds[who.id] = r.data.mqtt;
  }
  assert.equal((await app.api('POST', '/api/v1/sources', { id: 'sensors', name: 'Sensors' })).status, 201);
  phoneW = await phone(W);
  phoneI = await phone(I);
});

after(async () => {
  await phoneW?.close();
  await phoneI?.close();
  await app?.stop();
});

test("an inspector's phone shows the verification plainly; verified closes the incident", async () => {
  const r = await app.api('POST', '/api/v1/alerts', { source_id: 'sensors', id: 'v-1', kind: 'graffiti', severity: 3, lat: SPOT.lat, lon: SPOT.lon, address: 'Wall by gate 2' });
  assert.equal(r.status, 202, JSON.stringify(r.data));
  const iid = r.data.incident_id;

  // W does the work from the phone.
  const job = await until('the offer to W', () => taskOf(iid, W.id));
  await phoneW.page.waitForSelector(`[data-task="${job.task_id}"]`, { timeout: 5000 });
  await press(phoneW.page, job.task_id, 'accepted');
  await until('the incident assigned', async () => (await incident(iid)).state === 'assigned');
  await press(phoneW.page, job.task_id, 'resolved');
  await phoneW.page.fill('#answer-note', 'Painted over');
  await phoneW.page.click('[data-send="resolved"]');
  await until('the incident resolved', async () => (await incident(iid)).state === 'resolved');

  // I is asked to check it: shown as a verification, not as a job.
  const check = await until('the verification offered to I', () => taskOf(iid, I.id));
  const row = phoneI.page.locator(`[data-task="${check.task_id}"]`);
  await row.waitFor({ timeout: 5000 });
  assert.equal(await row.locator('.badge.verify').textContent(), 'Verification');
  assert.match(await row.textContent(), /Check the work ww reported as done/);
  await row.click();
  await phoneI.page.waitForSelector('#detail-view:not([hidden]) .verify-box');
  assert.equal(await phoneI.page.textContent('#detail-view .resolution-note'), 'Their note: Painted over');
  const actions = await phoneI.page.locator('#detail-view [data-action]').evaluateAll((bs) => bs.map((b) => b.dataset.action));
  assert.deepEqual(actions, ['verified', 'rework', 'accepted', 'rejected']);
  assert.equal(await phoneI.page.textContent('[data-action="rework"]'), 'Send back for rework');
  await shot(phoneI.page, 'field-verification');

  // In Chinese too.
  await phoneI.page.selectOption('#main-view select.lang', 'zh-CN');
  await phoneI.page.waitForSelector('#detail-view h2 .badge.verify');
  assert.equal(await phoneI.page.textContent('#detail-view h2 .badge.verify'), '核查');
  assert.equal(await phoneI.page.textContent('[data-action="verified"]'), '核查通过');
  await shot(phoneI.page, 'field-verification-zh');
  await phoneI.page.selectOption('#main-view select.lang', 'en');

  // Sending it back needs a reason: nothing goes out without one.
  await press(phoneI.page, check.task_id, 'rework');
  await phoneI.page.click('[data-send="rework"]');
  await phoneI.page.waitForSelector('#answer-error:not([hidden])');
  assert.equal(await phoneI.page.textContent('#answer-error'), 'Please give a reason');
  await sleep(500);
  assert.equal((await incident(iid)).state, 'resolved');
  await phoneI.page.click('#detail-view form button.ghost');

  // Verified, with what the inspector saw: the incident closes.
  await press(phoneI.page, check.task_id, 'verified');
  await phoneI.page.fill('#answer-note', 'Wall clean');
  await phoneI.page.click('[data-send="verified"]');
  const closed = await until('the incident closed', async () => {
    const i = await incident(iid);
    return i.state === 'closed' ? i : null;
  });
  assert.equal(closed.rework_count, 0);
  await row.waitFor({ state: 'detached' });
  await phoneI.page.locator('.notice.ok', { hasText: 'Verification received' }).waitFor({ timeout: 5000 });
  const timeline = (await app.api('GET', `/api/v1/incidents/${iid}/timeline`)).data;
  assert.ok(timeline.some((l) => l.actor === `responder:${I.id}` && l.note === 'verified: Wall clean'), JSON.stringify(timeline));
  await shot(phoneI.page, 'field-verification-done');
});
