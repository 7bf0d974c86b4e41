// The console's points area (志愿服务积分, issue 15; docs/points.md "In the console"):
// accounts, the ledger with filters and causes, awards (admins propose and approve), the
// 喜邻 merchants and offers, settlement per merchant and month, and the monthly honour
// roll (光荣榜) per grid, which prints like the reports page. The pure rules are in
// points-core.js; the awards, merchants and settlement tabs in points-tabs.js.
import { api, apiAll, h, when, toast, requireSession, header, t, applyI18n, onLangChange, hasKey } from './common.js';
import { TABS, KINDS, readAccount, filterAccounts, totals, ledgerQuery, change, flows, cause, monthOf, shiftMonth, readHonour } from './points-core.js';
import { awardsTab, merchantsTab, settlementTab } from './points-tabs.js';

const user = await requireSession();
header(user, 'points');

const fromHash = () => { const x = location.hash.replace(/^#/, ''); return TABS.includes(x) ? x : 'accounts'; };
const ctx = {
  user,
  tab: fromHash(),
  accounts: [],
  zones: new Map(),
  reasons: new Map(),
  acc: { zone: '', kind: '', q: '', sort: 'id' },
  led: { account: '', kind: '', from: '', to: '' },
  honour: { month: monthOf(new Date()), zone: '' },
  settle: { merchant: '', month: shiftMonth(monthOf(new Date()), -1) },
  redraw: () => draw(),
  reload: () => loadBase().then(draw),
};

const zoneName = (id) => (id ? (ctx.zones.get(id) ? `${ctx.zones.get(id)} (${id})` : id) : t('pt_no_zone'));
/** `pt_<prefix>_<x>` in words when there is such a text, else `x` as sent. */
const word = (prefix, x) => (hasKey(`pt_${prefix}_${x}`) ? t(`pt_${prefix}_${x}`) : x);
const kindName = (k) => word('rk', k);
ctx.zoneName = zoneName;
ctx.name = (rid) => { const a = ctx.accounts.find((x) => x.responder_id === rid); return a ? `${a.name} (${rid})` : rid; };
const pts = (n) => String(n);
const section = (title, ...body) => h('section.rep-section', {}, title ? h('h2', {}, title) : null, ...body);

/** Grid names and every account (one request, `GET /api/v1/points/accounts`). */
async function loadBase() {
  const [zones, accounts] = await Promise.all([
    apiAll('/api/v1/zones').catch(() => null),
    apiAll('/api/v1/points/accounts'),
  ]);
  for (const f of zones?.features || []) ctx.zones.set(f.properties.id, f.properties.name);
  ctx.accounts = (accounts || []).map(readAccount);
}

// ---- tabs ---------------------------------------------------------------------------------

function drawTabs() {
  document.getElementById('pt-tabs').replaceChildren(...TABS.map((x) => h(`button${x === ctx.tab ? '.active' : ''}#tab-${x}`, {
    dataset: { tab: x }, onclick: () => { ctx.tab = x; history.replaceState(null, '', `#${x}`); draw(); },
  }, t(`pt_tab_${x}`))));
}

const toolbar = (...items) => document.getElementById('pt-toolbar').replaceChildren(...items.filter(Boolean));
const select = (id, value, options, onchange) => h(`select#${id}`, { name: id, onchange: (e) => onchange(e.target.value) },
  options.map(([v, label]) => h('option', { value: v, selected: v === value }, label)));

// ---- accounts -----------------------------------------------------------------------------

function accountsTab() {
  const f = ctx.acc;
  const zones = [...new Set(ctx.accounts.map((a) => a.zone_id || '-'))].sort();
  const kinds = [...new Set(ctx.accounts.map((a) => a.kind))].sort();
  const redraw = () => drawBody();
  toolbar(
    h('label', {}, t('zone'), select('acc-zone', f.zone, [['', t('pt_all')], ...zones.map((z) => [z, z === '-' ? t('pt_no_zone') : zoneName(z)])], (v) => { f.zone = v; redraw(); })),
    h('label', {}, t('kind'), select('acc-kind', f.kind, [['', t('pt_all')], ...kinds.map((k) => [k, kindName(k)])], (v) => { f.kind = v; redraw(); })),
    h('label', {}, t('pt_search'), h('input#acc-q', { type: 'search', name: 'q', value: f.q, oninput: (e) => { f.q = e.target.value; redraw(); } })),
    h('label', {}, t('pt_sort'), select('acc-sort', f.sort, [['id', t('id')], ['balance', t('pt_balance')], ['earned', t('pt_earned_all')]], (v) => { f.sort = v; redraw(); })),
  );
  const drawBody = () => {
    const rows = filterAccounts(ctx.accounts, f);
    const [b, r, e, a] = totals(rows);
    body(section(t('pt_accounts_n', { n: rows.length }),
      h('table#accounts', {},
        h('thead', {}, h('tr', {}, [t('id'), t('name'), t('kind'), t('zone')].map((x) => h('th', {}, x)),
          [t('pt_balance'), t('pt_reserved'), t('pt_earned'), t('pt_awarded')].map((x) => h('th.num', {}, x)), h('th', {}))),
        h('tbody', {}, rows.map((x) => h('tr', { dataset: { responder: x.responder_id } },
          h('td', {}, x.responder_id), h('td', {}, x.name), h('td', {}, kindName(x.kind)), h('td', {}, zoneName(x.zone_id)),
          h('td.num.balance', {}, pts(x.balance)), h('td.num.reserved', {}, pts(x.reserved)),
          h('td.num.earned', {}, pts(x.earned_total)), h('td.num.awarded', {}, pts(x.awarded_total)),
          h('td.no-print', {}, h('a', { href: '#ledger', onclick: (ev) => { ev.preventDefault(); openLedger(x.responder_id); } }, t('pt_history')))))),
        h('tfoot', {}, h('tr', {}, h('td', { colspan: '4' }, t('pt_total')), [b, r, e, a].map((n) => h('td.num', {}, pts(n))), h('td'))))));
  };
  drawBody();
}

function openLedger(rid) {
  ctx.led = { account: rid, kind: '', from: '', to: '' };
  ctx.tab = 'ledger';
  history.replaceState(null, '', '#ledger');
  draw();
}

// ---- ledger -------------------------------------------------------------------------------

let ledgerSeq = 0;
/** Most movements one view lists (the API's most); the title says when there may be more. */
const LEDGER_LIMIT = 500;
async function ledgerTab() {
  const f = ctx.led;
  const input = (id, key, type) => h(`input#${id}`, { type, name: id, value: f[key], onchange: (e) => { f[key] = e.target.value; } });
  toolbar(
    h('label', {}, t('pt_account'), h('input#led-account', { name: 'account', value: f.account, list: 'led-accounts', placeholder: t('pt_account_hint'), onchange: (e) => { f.account = e.target.value; } }),
      h('datalist#led-accounts', {}, ctx.accounts.map((a) => h('option', { value: a.responder_id }, a.name)))),
    h('label', {}, t('kind'), select('led-kind', f.kind, [['', t('pt_all')], ...KINDS.map((k) => [k, t(`pt_k_${k}`)])], (v) => { f.kind = v; })),
    h('label', {}, t('from'), input('led-from', 'from', 'date')),
    h('label', {}, t('to'), input('led-to', 'to', 'date')),
    h('button.primary#led-apply', { onclick: () => ledgerTab() }, t('show')),
  );
  const seq = ++ledgerSeq;
  body(h('p.rep-notice', {}, t('loading')));
  let moves;
  try {
    const [m, awards] = await Promise.all([
      api('GET', `/api/v1/points/ledger?${ledgerQuery({ ...f, limit: LEDGER_LIMIT })}`),
      apiAll('/api/v1/points/awards').catch(() => []),
    ]);
    moves = m;
    for (const a of awards || []) ctx.reasons.set(a.id, a.reason);
  } catch (e) {
    if (seq === ledgerSeq) body(h('p.rep-notice.error#ledger-error', {}, e.message));
    return;
  }
  if (seq !== ledgerSeq || ctx.tab !== 'ledger') return;
  const rows = moves;
  const withAccount = Boolean(f.account.trim());
  body(section(rows.length >= LEDGER_LIMIT ? t('pt_movements_newest', { n: rows.length }) : t('pt_movements_n', { n: rows.length }),
    rows.length ? h('table#ledger', {},
      h('thead', {}, h('tr', {}, [t('pt_at'), t('kind')].map((x) => h('th', {}, x)), h('th.num', {}, withAccount ? t('pt_change') : t('points')),
        [t('pt_from_acc'), t('pt_to_acc'), t('pt_cause'), t('actor')].map((x) => h('th', {}, x)))),
      h('tbody', {}, rows.map((m) => {
        const c = cause(m, ctx.reasons);
        const fl = flows(m);
        return h('tr', { dataset: { movement: m.id, kind: m.kind } },
          h('td', {}, when(m.at)), h('td', {}, word('k', m.kind)),
          h('td.num', {}, pts(change(m, f.account))), h('td.acc', {}, fl.from.join(', ')), h('td.acc', {}, fl.to.join(', ')),
          h(`td.cause.${c.type || 'none'}`, {}, c.type ? `${word('c', c.type)}: ` : '',
            c.href ? h('a', { href: c.href }, c.text) : c.text),
          h('td', {}, m.actor || ''));
      }))) : h('p.rep-notice#ledger-empty', {}, t('pt_no_movements'))));
}

// ---- honour roll --------------------------------------------------------------------------

let honourSeq = 0;
async function honourTab() {
  const f = ctx.honour;
  const zones = [...ctx.zones.keys()].sort();
  toolbar(
    h('button#hon-prev', { onclick: () => { f.month = shiftMonth(f.month, -1) || f.month; honourTab(); } }, '‹'),
    h('label', {}, t('pt_month'), h('input#hon-month', { type: 'month', name: 'month', value: f.month, onchange: (e) => { if (shiftMonth(e.target.value, 0)) { f.month = e.target.value; honourTab(); } } })),
    h('button#hon-next', { onclick: () => { f.month = shiftMonth(f.month, 1) || f.month; honourTab(); } }, '›'),
    h('label', {}, t('zone'), select('hon-zone', f.zone, [['', t('pt_all')], ...zones.map((z) => [z, zoneName(z)])], (v) => { f.zone = v; honourTab(); })),
    h('span.grow'),
    h('button#print', { onclick: () => window.print() }, t('print')),
  );
  const seq = ++honourSeq;
  const q = new URLSearchParams({ month: f.month });
  if (f.zone) q.set('zone_id', f.zone);
  let roll;
  try {
    roll = readHonour(await api('GET', `/api/v1/points/honour?${q}`));
  } catch (e) {
    if (seq === honourSeq) body(h('p.rep-notice.error#honour-error', {}, e.message));
    return;
  }
  if (seq !== honourSeq || ctx.tab !== 'honour') return;
  const head = h('div.rep-head', {}, h('h1#honour-title', {}, t('pt_honour_title', { month: f.month })),
    h('div.muted', {}, t('pt_honour_note')));
  if (!roll.length) { body(head, h('p.rep-notice#honour-empty', {}, t('pt_honour_empty'))); return; }
  body(head, ...roll.map((z) => h('section.rep-section.honour', { dataset: { zone: z.zone_id || '-' } },
    h('h2', {}, z.zone_id ? `${z.zone_name || z.zone_id}` : t('pt_no_zone')),
    h('table.honour-table', {},
      h('thead', {}, h('tr', {}, h('th.num', {}, t('rank')), h('th', {}, t('name')), h('th.num', {}, t('pt_month_points')),
        h('th.num', {}, t('pt_earned')), h('th.num', {}, t('pt_awarded')))),
      h('tbody', {}, z.volunteers.map((v) => h(`tr${v.rank <= 3 ? `.top.top${v.rank}` : ''}`, { dataset: { responder: v.responder_id } },
        h('td.num.rank', {}, h('span', {}, String(v.rank))), h('td.name', {}, v.name), h('td.num.points', {}, pts(v.points)),
        h('td.num', {}, pts(v.earned)), h('td.num', {}, pts(v.awarded)))))))));
}

// ---- drawing ------------------------------------------------------------------------------

function body(...els) { document.getElementById('pt-body').replaceChildren(...els); }
ctx.body = body;
ctx.toolbar = toolbar;
ctx.select = select;
ctx.section = section;

function draw() {
  drawTabs();
  toolbar();
  const run = { accounts: accountsTab, ledger: ledgerTab, awards: () => awardsTab(ctx), merchants: () => merchantsTab(ctx), settlement: () => settlementTab(ctx), honour: honourTab }[ctx.tab];
  Promise.resolve(run()).catch((e) => { toast(e.message, 'error'); body(h('p.rep-notice.error', {}, e.message)); });
}

window.addEventListener('hashchange', () => { const x = fromHash(); if (x !== ctx.tab) { ctx.tab = x; draw(); } });
onLangChange(() => draw());

applyI18n();
try { await loadBase(); } catch (e) { toast(e.message, 'error'); }
draw();
