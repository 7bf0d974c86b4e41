// End-to-end: the admin's audit log view (issue 17) in Debian's chromium against the real
// binary. An admin renames a zone through the API with the console's session; the zone's
// "history" link then opens the log filtered to it, whose row says who, from where and what,
// and opens to the old and new name side by side; the CSV link downloads the same entries.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { startApp, browser, login, skipLoudly } from './harness.mjs';

let app;
let hasLogin = false;
const PW = 'admin-pass-123';

/** A small square zone near 滨河 (WGS-84). */
const zone = (id, name) => ({
  type: 'Feature',
  properties: { id, name, kind: 'grid' },
  geometry: { type: 'Polygon', coordinates: [[[106.70, 39.50], [106.71, 39.50], [106.71, 39.51], [106.70, 39.51], [106.70, 39.50]]] },
});

before(async () => {
  app = await startApp();
  hasLogin = await app.hasSessionApi();
  if (hasLogin) app.addUser('admin', 'admin', PW);
});

after(async () => { await app?.stop(); });

/** Text of the cells of the audit row `row`, by column class. */
async function cells(row) {
  const out = {};
  for (const c of ['actor', 'address', 'action', 'thing', 'status']) out[c] = (await row.locator(`td.${c}`).textContent()).trim();
  return out;
}

test('audit view: a renamed zone\'s history shows who, from where, the old and the new name; CSV too', async (t) => {
  if (!hasLogin) { skipLoudly(t, 'POST /api/v1/session answers 404: the login API is not in this build'); return; }
  const created = await app.api('POST', '/api/v1/zones', zone('z-audit', '老街网格'));
  assert.equal(created.status, 201, JSON.stringify(created.data));
  const b = await browser({ locale: 'zh-CN' });
  try {
    const { page } = b;
    await login(page, app, 'admin', PW);
    // The rename, as the console would send it: with the admin's session cookie.
    const status = await page.evaluate(async (body) => (await fetch('/api/v1/zones/z-audit', {
      method: 'PUT', credentials: 'same-origin', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
    })).status, zone('z-audit', '新街网格'));
    assert.equal(status, 200);

    await page.goto(`${app.url}/admin`);
    await page.waitForSelector('tr[data-zone=z-audit]');
    assert.equal((await page.textContent('#tabs button[data-tab=audit]')).trim(), '审计日志');
    await page.click('tr[data-zone=z-audit] a.history');
    await page.waitForSelector('#audit-rows tr.audit-row');
    assert.equal(await page.getAttribute('#tabs button[data-tab=audit]', 'class'), 'active');
    assert.equal(await page.inputValue('#audit-form select[name=target_kind]'), 'zones');
    assert.equal(await page.inputValue('#audit-form input[name=target_id]'), 'z-audit');
    assert.match(page.url(), /#audit\?target_kind=zones&target_id=z-audit$/);

    // Newest first: the rename, then the create (by the API token).
    const rows = page.locator('#audit-rows tr.audit-row');
    assert.equal(await rows.count(), 2);
    const row = rows.first();
    assert.deepEqual(await cells(row), { actor: 'admin:admin', address: '127.0.0.1', action: 'zones.replace', thing: 'zones/z-audit', status: '200' });
    assert.equal((await cells(rows.nth(1))).action, 'zones.create');

    // Opened: before and after side by side, the name marked as changed, the rest not.
    await row.click();
    const detail = page.locator('#audit-rows tr.audit-detail');
    await detail.waitFor();
    const name = detail.locator('tr[data-key="properties.name"]');
    assert.equal(await name.getAttribute('data-change'), 'changed');
    assert.match(await name.getAttribute('class'), /\bau-changed\b/);
    assert.equal((await name.locator('td.before').textContent()).trim(), '老街网格');
    assert.equal((await name.locator('td.after').textContent()).trim(), '新街网格');
    assert.equal(await detail.locator('tr[data-key="properties.kind"]').getAttribute('data-change'), 'same');
    assert.equal(await detail.locator('tr[data-key="geometry.coordinates"]').getAttribute('data-change'), 'same');
    assert.equal(await detail.locator('tr[data-change=changed], tr[data-change=added], tr[data-change=removed]').count(), 1);
    // The highlight is visible: the changed cells have a background the same ones lack.
    const bg = (loc) => loc.evaluate((el) => getComputedStyle(el).backgroundColor);
    assert.notEqual(await bg(name.locator('td.after')), await bg(detail.locator('tr[data-key="properties.kind"] td.after')));
    await page.screenshot({ path: '/tmp/audit-view.png' });
    console.log('screenshot: /tmp/audit-view.png');

    // "Changed fields only" hides the rest.
    await detail.locator('.audit-only input').check();
    assert.equal(await detail.locator('tr[data-key="properties.kind"]').isVisible(), false);
    assert.equal(await name.isVisible(), true);

    // The CSV link carries the same filters and downloads the zone's entries.
    assert.equal(await page.getAttribute('#audit-csv', 'href'), '/api/v1/audit.csv?target_kind=zones&target_id=z-audit');
    const [dl] = await Promise.all([page.waitForEvent('download'), page.click('#audit-csv')]);
    const csv = readFileSync(await dl.path(), 'utf8');
    assert.match(csv, /z-audit/);
    assert.match(csv, /zones\.replace/);
    assert.match(csv, /admin:admin/);

    // A filter typed into the form: the action, and a date range of today (local day).
    await page.fill('#audit-form input[name=action]', 'zones.create');
    await page.click('#audit-search');
    await page.waitForFunction(() => document.querySelectorAll('#audit-rows tr.audit-row').length === 1);
    assert.equal((await cells(rows.first())).action, 'zones.create');
    assert.match(page.url(), /action=zones.create/);
    await page.fill('#audit-form input[name=action]', '');
    await page.fill('#audit-form input[name=from]', '2001-01-01');
    await page.fill('#audit-form input[name=to]', '2001-01-02');
    await page.click('#audit-search');
    await page.waitForSelector('#audit-empty');
    assert.equal(await rows.count(), 0);
  } finally { await b.close(); }
});

test('audit view: "more" pages through a long history with the cursor', async (t) => {
  if (!hasLogin) { skipLoudly(t, 'POST /api/v1/session answers 404: the login API is not in this build'); return; }
  assert.equal((await app.api('POST', '/api/v1/zones', zone('z-many', 'v0'))).status, 201);
  for (let i = 1; i <= 60; i++) assert.equal((await app.api('PUT', '/api/v1/zones/z-many', zone('z-many', `v${i}`))).status, 200);
  const b = await browser({ locale: 'en-US' });
  try {
    const { page } = b;
    await login(page, app, 'admin', PW);
    await page.goto(`${app.url}/admin#audit?target_kind=zones&target_id=z-many`);
    await page.waitForSelector('#audit-rows tr.audit-row');
    assert.equal((await page.textContent('#tabs button[data-tab=audit]')).trim(), 'Audit log');
    const rows = page.locator('#audit-rows tr.audit-row');
    assert.equal(await rows.count(), 50);
    assert.equal(await page.isVisible('#audit-more'), true);
    // The newest first: the last rename, v59 → v60.
    await rows.first().click();
    const name = page.locator('#audit-rows tr.audit-detail tr[data-key="properties.name"]');
    assert.equal((await name.locator('td.before').textContent()).trim(), 'v59');
    assert.equal((await name.locator('td.after').textContent()).trim(), 'v60');
    await page.click('#audit-more');
    await page.waitForFunction(() => document.querySelectorAll('#audit-rows tr.audit-row').length === 61);
    assert.equal(await page.isVisible('#audit-more'), false);
    assert.equal((await cells(rows.last())).action, 'zones.create');
    assert.match(await page.textContent('#audit-count'), /Entries shown: 61 · All entries shown/);
    // The opened row stays open after the next page is added.
    assert.equal(await page.locator('#audit-rows tr.audit-detail').count(), 1);
  } finally { await b.close(); }
});
