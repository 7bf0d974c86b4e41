// End-to-end: the console in Debian's chromium against the real binary. Tests that need a
// login skip LOUDLY while `POST /api/v1/session` answers 404 (login not merged yet), and run
// by themselves once it exists.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startApp, publish, browser, shot, login, previewSignIn, skipLoudly } from './harness.mjs';

let app;
let hasLogin = false;
const NO_LOGIN = 'POST /api/v1/session answers 404: the login API is not in this build yet (E2E_PREVIEW=1 runs this test with a bearer token instead)';
const PW = { admin: 'admin-pass-123', operator: 'operator-pass-123', viewer: 'viewer-pass-123' };
const worker = {};

/** A small county: one grid zone, two workers with fresh fixes, cameras, a few incidents. */
async function seed() {
  const ring = [[121.44, 31.21], [121.50, 31.21], [121.50, 31.25], [121.44, 31.25], [121.44, 31.21]];
  const z = await app.api('POST', '/api/v1/zones', { type: 'Feature', properties: { id: 'g1', name: 'Grid 1', kind: 'grid' }, geometry: { type: 'Polygon', coordinates: [ring] } });
  assert.equal(z.status, 201, JSON.stringify(z.data));
  for (const [id, lat, lon] of [['w1', 31.225, 121.465], ['w2', 31.235, 121.485]]) {
    const r = await app.api('POST', '/api/v1/responders', { id, name: `Worker ${id}`, kind: 'grid_worker', travel: 'bike', zone_id: 'g1', on_duty: true });
    assert.equal(r.status, 201, JSON.stringify(r.data));
    worker[id] = r.data.mqtt;
    publish(app, { ...r.data.mqtt, topic: `owntracks/${id}/phone`, payload: { _type: 'location', lat, lon, tst: Math.floor(Date.now() / 1000), acc: 10, batt: 80 } });
  }
  for (const [id, lat, lon] of [['cam1', 31.22, 121.45], ['cam2', 31.245, 121.495]]) {
    const c = await app.api('POST', '/api/v1/cameras', { id, name: `Camera ${id}`, lat, lon });
    assert.equal(c.status, 201, JSON.stringify(c.data));
  }
  const s = await app.api('POST', '/api/v1/sources', { id: 'sensors', name: 'Sensors' });
  assert.equal(s.status, 201);
  worker.source = s.data.mqtt;
  // Wait for the fixes so candidates exist.
  for (let k = 0; k < 50; k++) {
    const r = await app.api('GET', '/api/v1/responders');
    if (r.data.every((x) => x.lat != null)) break;
    await new Promise((res) => setTimeout(res, 100));
  }
}

/**
 * Signs `b` in as `role` through the login form. Without the login API the test is skipped
 * loudly, unless E2E_PREVIEW=1 asks for the harness's preview sign-in (a bearer token of
 * that role), which lets the views be exercised before the login API is merged.
 */
async function signIn(t, b, role) {
  if (hasLogin) { await login(b.page, app, role, PW[role]); return true; }
  if (!process.env.E2E_PREVIEW) { skipLoudly(t, NO_LOGIN); return false; }
  console.log(`E2E PREVIEW: ${t.name}: signed in with a ${role} bearer token, not the login form`);
  await previewSignIn(b, app, role, app.cli(['token', 'create', '--role', role, '--name', `e2e-${role}`]));
  await b.page.goto(`${app.url}/`);
  return true;
}

before(async () => {
  // One kind with a deadline of seconds, so an incident becomes overdue while a test watches.
  app = await startApp({ GRIDDISPATCH__DEADLINES__KINDS__E2E_LATE: '4' });
  hasLogin = await app.hasSessionApi();
  if (hasLogin) for (const role of ['admin', 'operator', 'viewer']) app.addUser(role, role, PW[role]);
  await seed();
});

after(async () => { await app?.stop(); });

test('assets are served with the right content types and cache headers', async () => {
  const cases = [
    ['/login', 'text/html'], ['/assets/app/js/operator.js', 'text/javascript'], ['/assets/app/css/console.css', 'text/css'],
    ['/assets/vendor/leaflet/leaflet.js', 'text/javascript'], ['/assets/vendor/leaflet/leaflet.css', 'text/css'],
    ['/assets/vendor/leaflet/images/marker-icon.png', 'image/png'], ['/assets/vendor/geoman/leaflet-geoman.js', 'text/javascript'],
    ['/assets/vendor/echarts/echarts.min.js', 'text/javascript'], ['/assets/app/js/reports.js', 'text/javascript'],
  ];
  for (const [path, type] of cases) {
    const r = await fetch(app.url + path);
    assert.equal(r.status, 200, path);
    assert.ok(r.headers.get('content-type').startsWith(type), `${path}: ${r.headers.get('content-type')}`);
    assert.equal(r.headers.get('x-content-type-options'), 'nosniff', path);
    assert.ok((await r.arrayBuffer()).byteLength > 100, `${path} is not empty`);
  }
  assert.match((await fetch(`${app.url}/assets/vendor/leaflet/leaflet.js`)).headers.get('cache-control'), /max-age/);
  assert.equal((await fetch(`${app.url}/assets/nope.js`)).status, 404);
  for (const path of ['/', '/admin', '/reports']) {
    const r = await fetch(app.url + path, { redirect: 'manual' });
    assert.equal(r.status, 303, `${path} without a session redirects`);
    assert.equal(r.headers.get('location'), '/login');
  }
  assert.equal((await fetch(`${app.url}/api/v1/console/config`)).status, 401);
  const cfg = await app.api('GET', '/api/v1/console/config');
  assert.equal(cfg.status, 200);
  assert.equal(cfg.data.tiles.crs, 'wgs84');
  assert.equal(cfg.data.tiles.url, '');
  assert.equal(typeof cfg.data.targets.alert_amber_secs, 'number');
});

test('the login page has username and password inputs, in both languages', async () => {
  const b = await browser({ locale: 'zh-CN' });
  try {
    await b.page.goto(`${app.url}/login`);
    assert.equal(await b.page.locator('input[name=username]').count(), 1);
    assert.equal(await b.page.locator('input[name=password][type=password]').count(), 1);
    assert.equal(await b.page.textContent('#login-submit'), '登录');
    await shot(b.page, 'login-zh');
    await b.page.selectOption('#lang', 'en');
    assert.equal(await b.page.textContent('#login-submit'), 'Sign in');
    await b.page.fill('input[name=username]', 'nobody');
    await b.page.fill('input[name=password]', 'wrong-password');
    await b.page.click('#login-submit');
    await b.page.waitForSelector('#login-error:not([hidden])');
  } finally { await b.close(); }
});

test('screenshots of the operator and admin views', async (t) => {
  const b = await browser();
  try {
    if (hasLogin) await login(b.page, app, 'admin', PW.admin);
    else {
      console.log(`\nE2E NOTE: ${NO_LOGIN}; screenshots use the harness's preview sign-in (bearer token).\n`);
      await previewSignIn(b, app, 'admin');
    }
    for (const [kind, sev, lat, lon, addr] of [['fire', 1, 31.23, 121.47, '88 Huaihai Rd'], ['medical', 2, 31.215, 121.455, 'Metro exit 3'], ['flood', 3, 31.24, 121.49, null]]) {
      const r = await app.api('POST', '/api/v1/alerts', { id: `seed-${kind}`, kind, severity: sev, lat, lon, address: addr ?? undefined, description: `${kind} reported` });
      assert.equal(r.status, 202, JSON.stringify(r.data));
    }
    await b.page.goto(`${app.url}/`);
    await b.page.waitForSelector('#queue li.item');
    await b.page.click('#queue li.item.sev1');
    await b.page.waitForSelector('#drawer table.cands, #drawer .dsec');
    await b.page.waitForTimeout(300);
    await shot(b.page, 'operator');
    await b.page.goto(`${app.url}/admin`);
    await b.page.waitForSelector('tr[data-zone=g1]');
    await shot(b.page, 'admin');
    await b.page.click('button[data-tab=responders]');
    await b.page.waitForSelector('tr[data-responder=w1]');
    await shot(b.page, 'admin-responders');
    await b.page.click('button[data-tab=cameras]');
    await b.page.waitForSelector('tr[data-camera=cam1]');
    await shot(b.page, 'admin-cameras');
  } finally {
    await b.close();
    // Frees the workers for the tests after this one.
    for (const i of (await app.api('GET', '/api/v1/incidents?state=open')).data) await app.api('POST', `/api/v1/incidents/${i.id}/cancel`, { note: 'e2e cleanup' });
  }
  t.diagnostic('screenshots saved');
});

test('operator: an alert over MQTT shows in the queue within 2 s; assign; the accept changes its state', async (t) => {
  const b = await browser();
  try {
    if (!await signIn(t, b, 'operator')) return;
    await b.page.waitForSelector('#queue');
    // With the live feed the queue updates within 2 s; a build without /api/v1/live (not
    // merged yet) falls back to polling, which is given 5 s and said so.
    const live = (await fetch(`${app.url}/api/v1/live`, { headers: { Authorization: `Bearer ${app.adminToken}` } })).status !== 404;
    if (live) await b.page.waitForSelector('#live[data-state=live]', { timeout: 10000 });
    else console.log(`E2E NOTE: ${t.name}: no /api/v1/live in this build; the page polls, so the 2 s bound is relaxed to 5 s`);
    publish(app, { ...worker.source, topic: 'alerts/sensors', payload: { id: 'e2e-1', kind: 'fall', severity: 2, lat: 31.226, lon: 121.466, address: 'E2E street 1' } });
    const item = b.page.locator('#queue li.item', { hasText: 'fall' });
    await item.first().waitFor({ timeout: live ? 2000 : 5000 });
    await item.first().click();
    const assignBtn = b.page.locator('#drawer button.assign[data-responder=w2]');
    await assignBtn.waitFor({ timeout: 5000 });
    await assignBtn.click();
    const id = await b.page.getAttribute('#drawer', 'data-id');
    let task;
    for (let k = 0; k < 50 && !task; k++) {
      const d = await app.api('GET', `/api/v1/incidents/${id}`);
      task = d.data.tasks.find((x) => x.responder_id === 'w2' && x.status === 'offered');
      if (!task) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(task, 'assign offered the task to w2');
    publish(app, { ...worker.w2, topic: `dispatch/w2/tasks/${task.task_id}/update`, payload: { status: 'accepted', version: task.version } });
    await b.page.waitForSelector('#drawer-state.st-assigned', { timeout: 5000 });
    await b.page.waitForSelector(`#queue li.item[data-id="${id}"][data-state=assigned]`, { timeout: 5000 });
    // The tasks table has headings, names the worker as Candidates does, and its travel
    // time reads as an estimate, not a countdown.
    assert.deepEqual(await b.page.locator('#drawer table.tasks thead th').allTextContents(), ['Responder', 'Status', 'Offered', 'Travel estimate']);
    const row = b.page.locator('#drawer table.tasks tr[data-responder=w2]');
    assert.equal(await row.locator('td.who').textContent(), 'Worker w2');
    assert.match(await row.locator('td.eta').textContent(), /^(≈ \d+ (h \d+ )?min|< 1 min)$/);
    // The incident is in the part of the map the drawer leaves visible.
    await b.page.waitForTimeout(600);
    const marker = await b.page.locator('.inc-icon.selected').boundingBox();
    const drawerBox = await b.page.locator('#drawer').boundingBox();
    const mapBox = await b.page.locator('#map').boundingBox();
    assert.ok(marker.x + marker.width <= drawerBox.x && marker.x >= mapBox.x, `marker at x ${marker.x}, drawer from ${drawerBox.x}`);
    await shot(b.page, 'operator-assigned');
    // A suspend button while it is being handled; verify and rework once it is resolved.
    assert.equal(await b.page.locator('#act-suspend').count(), 1);
    for (const status of ['en_route', 'on_scene', 'resolved']) {
      const cur = (await app.api('GET', `/api/v1/incidents/${id}`)).data.tasks.find((x) => x.task_id === task.task_id);
      publish(app, { ...worker.w2, topic: `dispatch/w2/tasks/${task.task_id}/update`, payload: { status, version: cur.version } });
      await b.page.waitForSelector(`#drawer table.tasks tr[data-task="${task.task_id}"][data-status=${status}]`, { timeout: 5000 });
    }
    await b.page.waitForSelector('#drawer-state.st-resolved', { timeout: 5000 });
    await b.page.waitForSelector('#act-verify');
    assert.equal(await b.page.locator('#act-suspend').count(), 0);
    await b.page.click('#act-rework');
    await b.page.click('#rework-send');
    await b.page.waitForSelector('.toast.error:has-text("Please give a reason")');
    await b.page.fill('#rework-reason', 'photo missing');
    // A server without the route answers 404 with no body; an unknown incident gets a JSON error.
    const probe = await app.api('POST', '/api/v1/incidents/00000000-0000-0000-0000-000000000000/rework', { reason: 'probe' });
    const hasLoop = !(probe.status === 404 && !probe.data);
    await b.page.click('#rework-send');
    if (hasLoop) {
      await b.page.waitForSelector('.toast:not(.error):has-text("Done")', { timeout: 5000 });
    } else {
      await b.page.waitForSelector('.toast.error:has-text("does not offer")');
      console.log(`E2E NOTE: ${t.name}: no /rework in this build; checked that the console says so plainly`);
    }
    await shot(b.page, 'operator-resolved');
  } finally { await b.close(); }
});

test('operator: a phoned-in incident placed by a map click keeps its address; a severity-1 alert raises the cue', async (t) => {
  const b = await browser();
  try {
    if (!await signIn(t, b, 'operator')) return;
    await b.page.waitForSelector('path.leaflet-interactive');
    await b.page.click('#new-incident');
    const box = await b.page.locator('#map').boundingBox();
    await b.page.mouse.click(box.x + box.width * 0.3, box.y + box.height * 0.5);
    const lat = Number(await b.page.inputValue('#new-incident-form input[name=lat]'));
    assert.ok(lat > 31 && lat < 32, `map click filled the latitude (${lat})`);
    await b.page.fill('#new-incident-form input[name=address]', 'Phoned in: 5 Market St');
    await b.page.selectOption('#new-incident-form select[name=kind]', 'medical');
    await b.page.click('#new-incident-form button[type=submit]');
    await b.page.waitForSelector('#drawer dd:has-text("Phoned in: 5 Market St")');
    const open = (await app.api('GET', '/api/v1/incidents?state=open')).data;
    assert.ok(open.some((i) => i.address === 'Phoned in: 5 Market St' && i.kind === 'medical'), 'stored with its address');
    publish(app, { ...worker.source, topic: 'alerts/sensors', payload: { id: 'e2e-sev1', kind: 'fire', severity: 1, lat: 31.244, lon: 121.445 } });
    await b.page.waitForSelector('#sev1-banner:not([hidden])', { timeout: 6000 });
    await shot(b.page, 'operator-sev1');
  } finally {
    await b.close();
    for (const i of (await app.api('GET', '/api/v1/incidents?state=open')).data) await app.api('POST', `/api/v1/incidents/${i.id}/cancel`, { note: 'e2e cleanup' });
  }
});

test('operator: an incident past its deadline is marked overdue in the queue as time passes, and the drawer shows its deadline', async (t) => {
  const b = await browser();
  try {
    if (!await signIn(t, b, 'operator')) return;
    await b.page.waitForSelector('#queue');
    publish(app, { ...worker.source, topic: 'alerts/sensors', payload: { id: 'e2e-late', kind: 'e2e_late', severity: 3, lat: 31.23, lon: 121.47 } });
    const item = b.page.locator('#queue li.item', { hasText: 'e2e late' });
    await item.first().waitFor({ timeout: 5000 });
    const id = await item.first().getAttribute('data-id');
    const inc = (await app.api('GET', `/api/v1/incidents/${id}`)).data;
    assert.equal(Date.parse(inc.due_at) - Date.parse(inc.created_at), 4000, JSON.stringify(inc));
    const marker = b.page.locator(`#map .inc-icon span[data-id="${id}"]`);
    await marker.waitFor({ timeout: 5000 });
    if (Date.now() < Date.parse(inc.due_at) - 500) {
      assert.equal(await item.first().getAttribute('data-overdue'), 'false', 'not yet due');
      assert.equal(await marker.getAttribute('data-overdue'), 'false', 'the marker is not marked before it is due');
    }
    // No event comes when the deadline passes: the page marks the item by itself.
    const late = b.page.locator(`#queue li.item.overdue[data-id="${id}"]`);
    await late.waitFor({ timeout: 8000 });
    assert.match(await late.locator('.badge.overdue').textContent(), /overdue \d\d:\d\d|超时/);
    // The map marks it too: its marker gets the overdue ring.
    await b.page.locator(`#map .inc-icon.overdue span[data-id="${id}"][data-overdue=true]`).waitFor({ timeout: 5000 });
    await late.click();
    await b.page.waitForSelector('#drawer-due[data-overdue=true] .badge.overdue', { timeout: 5000 });
    await shot(b.page, 'operator-overdue');
  } finally {
    await b.close();
    for (const i of (await app.api('GET', '/api/v1/incidents?state=open')).data) await app.api('POST', `/api/v1/incidents/${i.id}/cancel`, { note: 'e2e cleanup' });
  }
});

test('admin: a zone drawn on the map is stored', async (t) => {
  const b = await browser();
  try {
    if (!await signIn(t, b, 'admin')) return;
    await b.page.goto(`${app.url}/admin`);
    await b.page.waitForSelector('tr[data-zone=g1]');
    await b.page.click('.leaflet-pm-icon-polygon');
    const box = await b.page.locator('#map').boundingBox();
    const pts = [[0.3, 0.3], [0.5, 0.3], [0.5, 0.5], [0.3, 0.5]].map(([x, y]) => [box.x + box.width * x, box.y + box.height * y]);
    for (const [x, y] of pts) await b.page.mouse.click(x, y);
    await b.page.mouse.click(pts[0][0], pts[0][1]);
    await b.page.fill('#zone-form input[name=id]', 'drawn1');
    await b.page.fill('#zone-form input[name=name]', 'Drawn zone');
    await b.page.click('#zone-form button[type=submit]');
    await b.page.waitForSelector('tr[data-zone=drawn1]');
    const z = await app.api('GET', '/api/v1/zones');
    const f = z.data.features.find((x) => x.properties.id === 'drawn1');
    assert.ok(f, 'the drawn zone is in GET /api/v1/zones');
    assert.equal(f.geometry.type, 'Polygon');
    await shot(b.page, 'admin-drawn');
  } finally { await b.close(); }
});

test('language switch changes the texts', async (t) => {
  const b = await browser({ locale: 'en-US' });
  try {
    if (!await signIn(t, b, 'operator')) return;
    await app.api('POST', '/api/v1/alerts', { id: 'e2e-lang', kind: 'flood', severity: 3, lat: 31.23, lon: 121.46, address: '长江路 12 号' });
    await b.page.waitForSelector('#logout');
    assert.equal(await b.page.textContent('#logout'), 'Sign out');
    await b.page.selectOption('#lang', 'zh-CN');
    assert.equal(await b.page.textContent('#logout'), '退出');
    assert.equal(await b.page.textContent('.queue-head h2'), '事件队列');
    assert.equal(await b.page.textContent('#user-role'), '调度员');
    assert.equal(await b.page.textContent('#nav-reports'), '统计报表');
    await b.page.waitForSelector('#queue li.item');
    // Kinds and the titles built from them are in Chinese; the address stays as written.
    await b.page.waitForSelector('#queue li.item .title:text-is("积水 — 长江路 12 号")');
    // The timeline comes as codes and is worded here: who acted and what happened, in Chinese.
    await b.page.click('#queue li.item:has(.title:text-is("积水 — 长江路 12 号"))');
    const first = b.page.locator('#drawer ol.timeline li').last();
    await first.waitFor();
    assert.match(await first.textContent(), /来源 \S+.*→ 新建.*收到报警 e2e-lang/s);
    const lines = await b.page.locator('#drawer ol.timeline li').allTextContents();
    for (const l of lines) assert.doesNotMatch(l, /\b(alert|offered to|dispatcher|source:)\b/, `an English timeline line: ${l}`);
    await b.page.waitForSelector('path.leaflet-interactive');
    await shot(b.page, 'operator-zh');
  } finally { await b.close(); }
});

test('a viewer cannot act: no action buttons, and the API answers 403', async (t) => {
  const b = await browser();
  try {
    await app.api('POST', '/api/v1/alerts', { id: 'e2e-viewer', kind: 'traffic', severity: 3, lat: 31.22, lon: 121.47 });
    if (!await signIn(t, b, 'viewer')) return;
    await b.page.waitForSelector('#queue li.item');
    assert.equal(await b.page.isVisible('#new-incident'), false);
    await b.page.click('#queue li.item >> nth=0');
    await b.page.waitForSelector('#drawer .dsec');
    assert.equal(await b.page.locator('#drawer button.assign, #close-incident, #cancel-incident').count(), 0);
    assert.equal(await b.page.locator('#loop-actions, #act-verify, #act-rework, #act-suspend, #act-resume, #act-approve, #act-refuse').count(), 0);
    assert.equal(await b.page.textContent('#user-role'), 'viewer');
    assert.equal(await b.page.locator('#drawer table.tasks, #drawer .dsec').first().count(), 1);
    const id = await b.page.getAttribute('#drawer', 'data-id');
    const status = await b.page.evaluate(async (iid) => (await fetch(`/api/v1/incidents/${iid}/close`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' })).status, id);
    assert.equal(status, 403);
  } finally { await b.close(); }
});
