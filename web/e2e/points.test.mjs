// End-to-end: volunteer points and redemption (issue 15, "Done when"), against the real
// binary, in zh-CN. A volunteer's phone is offered a guidance task, accepts and resolves
// it; an operator verifies; the points appear on the phone with the incident as their
// cause; the volunteer redeems an offer and the phone shows the code as digits and as a
// QR code; the merchant's page confirms the code; a second confirmation is refused.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startApp, browser, shot, freePort, PHONE, until } from './harness.mjs';

const V = { id: 'vol1', lat: 31.2251, lon: 121.4651 };
const SPOT = { lat: 31.2258, lon: 121.4656 };

let app;
let creds;
let shopLogin;

before(async () => {
  const wsPort = await freePort();
  app = await startApp({ GRIDDISPATCH__MQTT__WS_LISTEN: `127.0.0.1:${wsPort}`, GRIDDISPATCH__FIELD__LOCATION_INTERVAL_SECS: '5' });
  const ring = [[121.44, 31.21], [121.50, 31.21], [121.50, 31.25], [121.44, 31.25], [121.44, 31.21]];
  const z = await app.api('POST', '/api/v1/zones', { type: 'Feature', properties: { id: 'g1', name: '新达网格', kind: 'grid' }, geometry: { type: 'Polygon', coordinates: [ring] } });
  assert.equal(z.status, 201, JSON.stringify(z.data));
  const r = await app.api('POST', '/api/v1/responders', { id: V.id, name: '志愿者 王芳', kind: 'volunteer', travel: 'foot', zone_id: 'g1', on_duty: true });
  assert.equal(r.status, 201, JSON.stringify(r.data));
  creds = r.data.mqtt;
  assert.equal((await app.api('POST', '/api/v1/sources', { id: 'sensors', name: 'Sensors' })).status, 201);
  const m = await app.api('POST', '/api/v1/merchants', { id: 'xl-barber', name: '巧手理发店', address: '乌达区 民主路57号', lat: 31.2262, lon: 121.4660 });
  assert.equal(m.status, 201, JSON.stringify(m.data));
  shopLogin = m.data.login;
  const o = await app.api('POST', '/api/v1/merchants/xl-barber/offers', { id: 'barber-cut', title: '男士理发 一次', points: 20, stock: 10 });
  assert.equal(o.status, 201, JSON.stringify(o.data));
});

after(async () => { await app?.stop(); });

test('a volunteer earns points for guidance, redeems them on the phone, and the shop confirms the code once', async () => {
  const phone = await browser({ ...PHONE, locale: 'zh-CN', geolocation: { latitude: V.lat, longitude: V.lon, accuracy: 8 }, permissions: ['geolocation', 'notifications'] });
  const shop = await browser({ ...PHONE, locale: 'zh-CN' });
  try {
    const page = phone.page;
    page.on('console', (msg) => { if (msg.type() === 'error') console.error(`[phone console] ${msg.text()}`); });
    await page.goto(`${app.url}/field`);
    await page.fill('#f-username', V.id);
    await page.fill('#f-password', creds.password);
    await page.click('#f-login');
    await page.waitForSelector('#main-view:not([hidden]) #conn.ok', { timeout: 15000 });
    await until('the volunteer located', async () => (await app.api('GET', '/api/v1/responders')).data.find((x) => x.id === V.id)?.lat != null);

    // (1) A guidance task: meet the ambulance at the gate. Accepted and resolved on the phone.
    const a = await app.api('POST', '/api/v1/alerts', { source_id: 'sensors', id: 'amb-1', kind: 'guidance', severity: 2, lat: SPOT.lat, lon: SPOT.lon, rendezvous: { lat: SPOT.lat, lon: SPOT.lon, note: '北门接救护车' } });
    assert.equal(a.status, 202, JSON.stringify(a.data));
    const iid = a.data.incident_id;
    const task = await until('the task offered to the volunteer', async () => (await app.api('GET', `/api/v1/incidents/${iid}`)).data.tasks.find((t) => t.responder_id === V.id));
    await page.waitForSelector(`[data-task="${task.task_id}"]`, { timeout: 15000 });
    await page.click(`[data-task="${task.task_id}"]`);
    await page.click('[data-action="accepted"]');
    await until('accepted', async () => (await app.api('GET', `/api/v1/incidents/${iid}`)).data.tasks.some((t) => t.status === 'accepted'));
    await page.click('[data-action="resolved"]');
    await page.click('[data-send="resolved"]');
    const resolved = await until('resolved', async () => {
      const i = (await app.api('GET', `/api/v1/incidents/${iid}`)).data;
      return ['resolved', 'closed'].includes(i.state) ? i : null;
    });

    // (2) The operator verifies (if the case did not close on resolution).
    if (resolved.state === 'resolved') {
      const v = await app.api('POST', `/api/v1/incidents/${iid}/verify`, {});
      assert.equal(v.status, 200, JSON.stringify(v.data));
    }
    const account = await until('points credited', async () => {
      const acc = (await app.api('GET', `/api/v1/points/accounts/${V.id}`)).data;
      return acc.balance > 0 ? acc : null;
    });

    // (3) On the phone: the balance, and the incident as the cause.
    if (await page.isVisible('#back')) await page.click('#back');
    await page.click('#points-open');
    await page.waitForSelector(`#points-history li[data-cause="${iid}"]`);
    assert.equal((await page.textContent('#points-balance')).trim(), String(account.balance));
    const line = await page.textContent(`#points-history li[data-cause="${iid}"]`);
    assert.match(line, new RegExp(`\\+${account.balance}`));
    assert.match(line, /服务积分/);
    assert.match(line, new RegExp(`引导.*${iid}`));
    await page.waitForSelector('#points-offers li[data-offer="barber-cut"]');
    assert.match(await page.textContent('#points-offers li[data-offer="barber-cut"]'), /巧手理发店/);
    await shot(page, 'points-phone-zh');

    // (4) Redeem: the code as digits and as a QR code, with the time left.
    await page.click('#points-offers li[data-offer="barber-cut"] button');
    await page.waitForSelector('#redeem-code');
    const code = await page.getAttribute('#redeem-code', 'data-code');
    assert.match(code, /^\d{8}$/);
    assert.equal((await page.textContent('#redeem-code')).replace(/\s/g, ''), code);
    assert.equal(await page.locator('#redeem-qr svg').count(), 1);
    assert.match(await page.textContent('#redeem-countdown'), /有效时间 \d+:\d\d/);
    await until('the balance shows the reservation', async () => (await page.textContent('#points-balance')).trim() === String(account.balance - 20));
    await shot(page, 'points-code-zh');

    // (5) The merchant's page confirms the code.
    const sp = shop.page;
    await sp.goto(`${app.url}/merchant`);
    await sp.waitForURL(/\/login/);
    await sp.fill('input[name=username]', shopLogin.username);
    await sp.fill('input[name=password]', shopLogin.password);
    await Promise.all([sp.waitForURL(`${app.url}/merchant`), sp.click('#login-submit')]);
    await sp.waitForSelector('#code:not([disabled])');
    await sp.fill('#code', `${code.slice(0, 4)} ${code.slice(4)}`);
    await sp.click('#confirm-code button[type=submit]');
    await sp.waitForSelector('#confirm-result[data-result="rd_ok"]');
    assert.equal(await sp.textContent('#confirm-result'), '核销成功：男士理发 一次，20 积分。');
    await sp.waitForSelector(`#today li[data-code="${code}"][data-state="confirmed"]`);
    await sp.waitForSelector('#offers li[data-offer="barber-cut"]:has-text("库存 9")');
    await shot(sp, 'merchant-confirm-zh');

    // (6) The second confirmation is refused.
    await sp.fill('#code', code);
    await sp.click('#confirm-code button[type=submit]');
    await sp.waitForSelector('#confirm-result[data-result="rd_used"]');
    assert.match(await sp.textContent('#confirm-result'), /已使用/);
    const after = (await app.api('GET', `/api/v1/points/accounts/${V.id}`)).data;
    assert.deepEqual([after.balance, after.reserved, after.redeemed_total], [account.balance - 20, 0, 20]);
  } finally {
    await phone.close();
    await shop.close();
  }
});
