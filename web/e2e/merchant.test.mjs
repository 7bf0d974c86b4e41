// End-to-end: 喜邻 merchants (issue 15). A merchant signs in on /merchant and sees its own
// shop and offers in zh-CN; an admin registers a merchant from the admin page and is shown
// its login once; the console map shows merchants and stations as a layer of their own.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startApp, browser, shot, login, skipLoudly } from './harness.mjs';

let app;
let hasLogin = false;
const ADMIN_PW = 'admin-pass-123';
let shopLogin;

before(async () => {
  app = await startApp();
  hasLogin = await app.hasSessionApi();
  if (hasLogin) app.addUser('admin', 'admin', ADMIN_PW);
  // Near the map's default view, so the markers are on screen without zones to fit to.
  const st = await app.api('POST', '/api/v1/merchants', { id: 'xl-st', name: '喜邻·滨河网格驿站', address: '乌达区 滨河路18号', lat: 31.2304, lon: 121.4737, station: true, hours: '07:30-22:00' });
  assert.equal(st.status, 201, JSON.stringify(st.data));
  shopLogin = st.data.login;
  const shop = await app.api('POST', '/api/v1/merchants', { id: 'xl-barber', name: '巧手理发店', address: '乌达区 民主路57号', lat: 31.235, lon: 121.48 });
  assert.equal(shop.status, 201);
  for (const [m, body] of [
    ['xl-st', { id: 'st-rice', title: '大米 5kg 一袋', points: 150, stock: 30, per_person_limit: 1 }],
    ['xl-st', { id: 'st-eggs', title: '鸡蛋 一板', points: 60 }],
    ['xl-barber', { id: 'barber-cut', title: '男士理发 一次', points: 30 }],
  ]) {
    const r = await app.api('POST', `/api/v1/merchants/${m}/offers`, body);
    assert.equal(r.status, 201, JSON.stringify(r.data));
  }
});

after(async () => { await app?.stop(); });

test('a merchant signs in on /merchant and sees its own offers in zh-CN', async (t) => {
  if (!hasLogin) { skipLoudly(t, 'no login API in this build'); return; }
  const b = await browser({ locale: 'zh-CN', viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
  try {
    const { page } = b;
    await page.goto(`${app.url}/merchant`);
    await page.waitForURL(/\/login/);
    await page.fill('input[name=username]', shopLogin.username);
    await page.fill('input[name=password]', shopLogin.password);
    await Promise.all([page.waitForURL(`${app.url}/merchant`), page.click('#login-submit')]);
    await page.waitForSelector('#offers li[data-offer=st-rice]');
    assert.equal(await page.textContent('#offers-section h2'), '兑换项目');
    assert.match(await page.textContent('.shop-name'), /喜邻·滨河网格驿站\s*网格驿站/);
    const rice = await page.textContent('#offers li[data-offer=st-rice]');
    assert.match(rice, /大米 5kg 一袋/);
    assert.match(rice, /150 积分 · 库存 30 · 每人限兑 1/);
    assert.equal(await page.locator('#offers li').count(), 2, 'only its own offers');
    assert.equal(await page.locator('[data-offer=barber-cut]').count(), 0);
    // Confirming a code is ready (points.test.mjs confirms one end to end).
    assert.ok(!(await page.isDisabled('#code')));
    assert.match(await page.textContent('#confirm-section'), /8 位兑换码/);
    assert.match(await page.getAttribute('#settle-xlsx', 'href'), /\/api\/v1\/merchants\/xl-st\/settlement\.xlsx\?month=\d{4}-\d{2}/);
    await shot(page, 'merchant-page-zh');
    // The console is not for it: it lands on its own page again.
    await page.goto(`${app.url}/`);
    await page.waitForURL(`${app.url}/merchant`);
  } finally { await b.close(); }
});

test('an admin registers a merchant and adds an offer from the admin page', async (t) => {
  if (!hasLogin) { skipLoudly(t, 'no login API in this build'); return; }
  const b = await browser();
  try {
    const { page } = b;
    await login(page, app, 'admin', ADMIN_PW);
    await page.goto(`${app.url}/admin`);
    await page.click('#tabs button[data-tab=merchants]');
    const form = page.locator('#merchant-form');
    await form.locator('input[name=id]').fill('xl-photo');
    await form.locator('input[name=name]').fill('时光照相馆');
    await form.locator('input[name=address]').fill('乌达区 团结路8号');
    await form.locator('input[name=lat]').fill('31.232');
    await form.locator('input[name=lon]').fill('121.476');
    await form.locator('input[name=station]').check();
    await page.click('#merchant-submit');
    const creds = await page.textContent('#merchant-login');
    const m = creds.match(/(merchant\.xl-photo) \/ (\S+)/);
    assert.ok(m, creds);
    // The login shown works, with the merchant role.
    const r = await fetch(`${app.url}/api/v1/session`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ username: m[1], password: m[2] }) });
    assert.equal(r.status, 200);
    assert.deepEqual(await r.json(), { username: 'merchant.xl-photo', role: 'merchant', merchant_id: 'xl-photo' });
    // Shown once: drawn again, the page no longer holds it.
    await page.selectOption('#offer-form select[name=merchant]', 'xl-photo');
    await page.waitForSelector('#merchant-login', { state: 'detached' });
    const of = page.locator('#offer-form');
    await of.locator('input[name=id]').fill('photo-id');
    await of.locator('input[name=title]').fill('证件照 一版');
    await of.locator('input[name=points]').fill('30');
    await page.click('#offer-submit');
    await page.waitForSelector('.offer-rows li[data-offer=photo-id]');
    const offers = await app.api('GET', '/api/v1/merchants/xl-photo/offers');
    assert.deepEqual(offers.data.map((o) => [o.id, o.title, o.points]), [['photo-id', '证件照 一版', 30]]);
    await shot(page, 'admin-merchants');
    // A volunteer based at the new station, from the responders tab.
    await page.click('#tabs button[data-tab=responders]');
    const rf = page.locator('#responder-form');
    await rf.locator('input[name=id]').fill('vol-1');
    await rf.locator('input[name=name]').fill('任秀英');
    await rf.locator('select[name=kind]').selectOption('volunteer');
    await rf.locator('select[name=station_id]').selectOption('xl-photo');
    await rf.locator('button[type=submit]').click();
    await page.waitForSelector('tr[data-responder=vol-1]');
    assert.equal((await app.api('GET', '/api/v1/responders/vol-1')).data.station_id, 'xl-photo');
    // A plain shop is not offered as a base.
    assert.equal(await rf.locator('select[name=station_id] option[value=xl-barber]').count(), 0);
  } finally { await b.close(); }
});

test('the console map shows merchants and stations as a layer', async (t) => {
  if (!hasLogin) { skipLoudly(t, 'no login API in this build'); return; }
  const b = await browser();
  try {
    const { page } = b;
    await login(page, app, 'admin', ADMIN_PW);
    const station = page.locator('.merchant-icon.station span[data-merchant=xl-st]');
    await station.waitFor();
    assert.equal(await page.locator('.merchant-icon.shop span[data-merchant=xl-barber]').count(), 1, 'a shop has its own icon');
    await station.hover();
    const tip = await page.textContent('.leaflet-tooltip');
    assert.match(tip, /喜邻·滨河网格驿站 · Grid station · Opening hours 07:30-22:00 · 2 offer\(s\)/);
    await shot(page, 'console-merchants-layer');
    // The layer switches off like the others.
    const toggle = page.locator('.leaflet-control-layers label', { hasText: 'Merchants & stations' }).locator('input');
    await toggle.uncheck();
    await page.waitForSelector('.merchant-icon', { state: 'detached' });
  } finally { await b.close(); }
});
