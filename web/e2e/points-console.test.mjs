// End-to-end: the console's points area (/points, issue 15). One admin proposes a big
// honour award (above points.award_approval_above: it waits); the proposer sees the
// Approve button disabled with the reason; a second admin approves it; the account shows
// the balance, the ledger lists the movement with its reason, and the honour roll (光荣榜)
// ranks the volunteer in their grid, in zh-CN. A viewer sees the awards but no buttons.
// Screenshots points-zh and points-en.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startApp, browser, shot, login, skipLoudly, until } from './harness.mjs';

let app;
let hasLogin = false;
const PW = { li: 'admin-li-pass-123', wang: 'admin-wang-pass-123', zhao: 'viewer-zhao-pass-123' };
const REASON = '带救护车找到老人家门口';

before(async () => {
  app = await startApp();
  hasLogin = await app.hasSessionApi();
  if (hasLogin) {
    app.addUser('li', 'admin', PW.li);
    app.addUser('wang', 'admin', PW.wang);
    app.addUser('zhao', 'viewer', PW.zhao);
  }
  const ring = [[106.69, 39.49], [106.70, 39.49], [106.70, 39.50], [106.69, 39.50], [106.69, 39.49]];
  const z = await app.api('POST', '/api/v1/zones', { type: 'Feature', geometry: { type: 'Polygon', coordinates: [ring] }, properties: { id: 'g1', name: '三完小社区网格', kind: 'grid' } });
  assert.equal(z.status, 201, JSON.stringify(z.data));
  for (const [id, name, kind] of [['v1', '刘建国', 'volunteer'], ['v2', '张秀兰', 'volunteer'], ['w1', '王网格', 'grid_worker']]) {
    const r = await app.api('POST', '/api/v1/responders', { id, name, kind, travel: 'foot', zone_id: 'g1' });
    assert.equal(r.status, 201, JSON.stringify(r.data));
  }
  // A small award to v2 (approved at once), so the honour roll has a second name below v1.
  const small = await app.api('POST', '/api/v1/points/awards', { responder_id: 'v2', points: 20, reason: '清理楼道杂物' });
  assert.equal(small.data.state, 'approved');
});

after(async () => { await app?.stop(); });

const row = (page, table, attr, id) => page.locator(`${table} tbody tr[data-${attr}="${id}"]`);

test('an award proposed by one admin and approved by another reaches the account, the ledger and the honour roll (zh-CN)', async (t) => {
  if (!hasLogin) { skipLoudly(t, 'no login API in this build'); return; }
  let awardId;
  {
    const b = await browser({ locale: 'zh-CN' });
    try {
      const { page } = b;
      await login(page, app, 'li', PW.li);
      await page.click('#nav-points');
      await page.waitForURL(`${app.url}/points`);
      await page.click('#tab-awards');
      await page.waitForSelector('#award-form');
      await page.selectOption('#award-form select[name=responder_id]', 'v1');
      await page.fill('#award-form input[name=points]', '500');
      await page.fill('#award-form input[name=reason]', REASON);
      await page.click('#award-submit');
      await page.waitForSelector('#awards-pending tbody tr');
      const pending = page.locator('#awards-pending tbody tr');
      assert.equal(await pending.count(), 1);
      awardId = await pending.getAttribute('data-award');
      assert.match(await pending.textContent(), /刘建国 \(v1\).*500.*带救护车找到老人家门口.*admin:li/);
      // The proposer's own: shown, disabled, with why.
      const btn = pending.locator('button.approve');
      assert.ok(await btn.isDisabled());
      assert.match(await pending.locator('.why').textContent(), /另一位管理员/);
      // Nothing credited yet.
      await page.click('#tab-accounts');
      await page.waitForSelector('#accounts tbody tr[data-responder=v1]');
      assert.equal((await row(page, '#accounts', 'responder', 'v1').locator('td.balance').textContent()).trim(), '0');
    } finally { await b.close(); }
  }
  {
    // A viewer sees the pending award and no button.
    const b = await browser({ locale: 'zh-CN' });
    try {
      const { page } = b;
      await login(page, app, 'zhao', PW.zhao);
      await page.goto(`${app.url}/points#awards`);
      await page.waitForSelector(`#awards-pending tr[data-award="${awardId}"]`);
      assert.equal(await page.locator('#award-form').count(), 0);
      assert.equal(await page.locator('button.approve').count(), 0);
      assert.match(await page.textContent('#awards-readonly'), /只有管理员/);
    } finally { await b.close(); }
  }
  const b = await browser({ locale: 'zh-CN' });
  try {
    const { page } = b;
    await login(page, app, 'wang', PW.wang);
    await page.goto(`${app.url}/points#awards`);
    const mine = page.locator(`#awards-pending tr[data-award="${awardId}"] button.approve`);
    await mine.waitFor();
    assert.ok(await mine.isEnabled());
    await mine.click();
    await page.waitForSelector(`#awards-done tr[data-award="${awardId}"]`);
    assert.match(await page.textContent(`#awards-done tr[data-award="${awardId}"]`), /admin:wang/);
    assert.equal(await page.locator('#awards-pending').count(), 0);
    // The account.
    await page.click('#tab-accounts');
    const v1 = row(page, '#accounts', 'responder', 'v1');
    await v1.waitFor();
    assert.equal((await v1.locator('td.balance').textContent()).trim(), '500');
    assert.equal((await v1.locator('td.awarded').textContent()).trim(), '500');
    assert.match(await v1.textContent(), /志愿者/);
    await page.fill('#acc-q', '张');
    await until('search', async () => (await page.locator('#accounts tbody tr').count()) === 1);
    assert.equal(await page.locator('#accounts tbody tr').getAttribute('data-responder'), 'v2');
    await page.fill('#acc-q', '');
    // The ledger, from the account's row: the award with its reason.
    await v1.locator('a').click();
    await page.waitForSelector('#ledger tbody tr');
    assert.equal(await page.inputValue('#led-account'), 'v1');
    const lines = page.locator('#ledger tbody tr');
    assert.equal(await lines.count(), 1, 'only v1\'s movements');
    const line = lines.first();
    assert.equal(await line.getAttribute('data-kind'), 'award');
    assert.match(await line.locator('td.cause').textContent(), new RegExp(`表彰: ${REASON}`));
    assert.match(await line.textContent(), /表彰奖励.*500.*county.*responder:v1/);
    // Filtering by kind leaves no earning.
    await page.selectOption('#led-kind', 'earn');
    await page.click('#led-apply');
    await page.waitForSelector('#ledger-empty');
    // The honour roll: v1 first in the grid, v2 second.
    await page.click('#tab-honour');
    await page.waitForSelector('section.honour[data-zone=g1] tbody tr');
    assert.match(await page.textContent('#honour-title'), /光荣榜/);
    assert.equal(await page.textContent('section.honour[data-zone=g1] h2'), '三完小社区网格');
    const ranked = await page.locator('section.honour[data-zone=g1] tbody tr').evaluateAll((rs) => rs.map((r) => [r.dataset.responder, r.querySelector('td.points').textContent]));
    assert.deepEqual(ranked, [['v1', '500'], ['v2', '20']]);
    await shot(page, 'points-zh');
    // Last month has no points.
    await page.click('#hon-prev');
    await page.waitForSelector('#honour-empty');
  } finally { await b.close(); }
});

test('the points area in English; the settlement tab reads a registered merchant’s settlement', async (t) => {
  if (!hasLogin) { skipLoudly(t, 'no login API in this build'); return; }
  const b = await browser();
  try {
    const { page } = b;
    await login(page, app, 'wang', PW.wang);
    await page.goto(`${app.url}/points#merchants`);
    await page.waitForSelector('#tab-merchants.active');
    assert.equal(await page.textContent('#tab-honour'), 'Honour roll');
    await page.click('#tab-settlement');
    // No merchant registered yet: the tab says so; with one it reads its settlement.
    await page.waitForSelector('#pt-body p.rep-notice');
    const m = await app.api('POST', '/api/v1/merchants', { id: 'xl-1', name: '喜邻便利店', address: '乌达区', lat: 39.495, lon: 106.695 });
    assert.equal(m.status, 201);
    await page.click('#tab-accounts');
    await page.click('#tab-settlement');
    await page.waitForSelector('#settlement-title');
    assert.match(await page.textContent('#settlement-title'), /喜邻便利店/);
    await page.waitForSelector('#set-csv');
    await page.click('#tab-accounts');
    await page.waitForSelector('#accounts tbody tr[data-responder=v1]');
    assert.match(await page.textContent('#accounts thead'), /Balance.*Reserved.*Earned.*Awarded/);
    await page.click('#tab-honour');
    await page.waitForSelector('section.honour[data-zone=g1]');
    assert.match(await page.textContent('#honour-title'), /Honour roll/);
    // The ledger in English: the award with its reason and who approved it.
    await page.click('#tab-ledger');
    await page.waitForSelector('#ledger tbody tr[data-kind=award]');
    assert.match(await page.textContent('#ledger tbody'), new RegExp(`Award: ${REASON}`));
    await shot(page, 'points-en');
    // Printed, the honour roll leaves out the tabs, the toolbar and the header.
    await page.click('#tab-honour');
    await page.waitForSelector('section.honour[data-zone=g1]');
    await page.emulateMedia({ media: 'print' });
    for (const sel of ['#topbar', '#pt-tabs', '#pt-toolbar']) assert.equal(await page.isVisible(sel), false, sel);
    assert.ok(await page.isVisible('section.honour[data-zone=g1] table'));
    await page.emulateMedia({ media: 'screen' });
    // An incident cause in the ledger links to /#incident=<id>: that opens its drawer in the
    // operator view, closed or open.
    const alert = await app.api('POST', '/api/v1/alerts', { id: 'pt-link', kind: 'litter', severity: 3, lat: 39.495, lon: 106.695 });
    assert.equal(alert.status, 202, JSON.stringify(alert.data));
    const id = alert.data.incident_id;
    await page.goto(`${app.url}/#incident=${encodeURIComponent(id)}`);
    await page.waitForSelector(`#drawer[data-id="${id}"]:not([hidden])`);
  } finally { await b.close(); }
});
