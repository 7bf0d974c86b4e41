// The points area's awards, merchants and settlement tabs (points.js holds the page, the
// accounts, the ledger and the honour roll). `ctx` is the page's state and drawing helpers.
import { api, apiAll, h, when, toast, t } from './common.js';
import { approval, awardBody, readSettlement, settlementState, shiftMonth } from './points-core.js';
import { offerDetails } from './merchants-core.js';

// ---- awards -------------------------------------------------------------------------------

/** Admins propose; pending awards wait for another admin; everyone sees the lists. */
export async function awardsTab(ctx) {
  const isAdmin = ctx.user.role === 'admin';
  ctx.toolbar();
  const all = await apiAll('/api/v1/points/awards');
  if (ctx.tab !== 'awards') return;
  for (const a of all) ctx.reasons.set(a.id, a.reason);
  const pending = all.filter((a) => a.state === 'pending');
  const done = all.filter((a) => a.state !== 'pending');
  const form = isAdmin ? proposeForm(ctx) : h('p.muted#awards-readonly', {}, t('pt_awards_admin_only'));
  const row = (a) => {
    const can = approval(a, ctx.user);
    return h('tr', { dataset: { award: a.id, state: a.state } },
      h('td', {}, when(a.proposed_at)), h('td', {}, ctx.name(a.responder_id)), h('td.num', {}, String(a.points)),
      h('td.reason', {}, a.reason), h('td', {}, a.proposed_by),
      a.state === 'pending'
        ? h('td.no-print', {}, can.show ? h('button.small.primary.approve', {
          disabled: !can.enabled, title: can.why ? t(can.why) : null,
          onclick: () => approve(ctx, a),
        }, t('pt_approve')) : null, can.why ? h('div.muted.why', {}, t(can.why)) : null)
        : h('td', {}, `${a.approved_by || ''} · ${when(a.approved_at)}`));
  };
  const head = (last) => h('thead', {}, h('tr', {}, [t('pt_at'), t('responder'), t('points'), t('pt_reason'), t('pt_proposed_by'), last].map((x) => h('th', {}, x))));
  ctx.body(
    ctx.section(t('pt_propose'), form),
    ctx.section(t('pt_pending_n', { n: pending.length }), pending.length
      ? h('table#awards-pending', {}, head(''), h('tbody', {}, pending.map(row)))
      : h('p.muted#awards-none', {}, t('pt_no_pending'))),
    ctx.section(t('pt_award_history'), done.length
      ? h('table#awards-done', {}, head(t('pt_approved_by')), h('tbody', {}, done.map(row)))
      : h('p.muted', {}, t('pt_no_awards'))),
  );
}

function proposeForm(ctx) {
  const form = h('form.formrow#award-form', {},
    h('label', {}, t('responder'), h('select', { name: 'responder_id', required: true },
      h('option', { value: '' }, '—'),
      ctx.accounts.map((a) => h('option', { value: a.responder_id }, `${a.name} (${a.responder_id})`)))),
    h('label', {}, t('points'), h('input', { name: 'points', required: true, inputmode: 'numeric' })),
    h('label.grow', {}, t('pt_reason'), h('input', { name: 'reason', required: true, maxlength: '500' })),
    h('button.primary#award-submit', { type: 'submit' }, t('pt_propose_btn')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const { body, error } = awardBody({ responder_id: form.responder_id.value, points: form.points.value, reason: form.reason.value });
    if (error) { toast(t(error), 'error'); return; }
    try {
      const r = await api('POST', '/api/v1/points/awards', body);
      toast(t(r.state === 'pending' ? 'pt_award_pending' : 'pt_award_done'));
      await ctx.reload();
    } catch (x) { toast(x.message, 'error'); }
  });
  return form;
}

async function approve(ctx, a) {
  try {
    await api('POST', `/api/v1/points/awards/${encodeURIComponent(a.id)}/approve`, {});
    toast(t('pt_award_done'));
    await ctx.reload();
  } catch (x) { toast(x.message, 'error'); }
}

// ---- merchants ----------------------------------------------------------------------------

/** Every merchant with all its offers, read-only (admins edit them on /admin). */
export async function merchantsTab(ctx) {
  ctx.toolbar(h('span.muted', {}, t('pt_merchants_note')), ctx.user.role === 'admin' ? h('a#to-admin', { href: '/admin' }, t('open_admin')) : null);
  const list = await apiAll('/api/v1/merchants');
  const offers = await Promise.all(list.map((m) => apiAll(`/api/v1/merchants/${encodeURIComponent(m.id)}/offers`).catch(() => [])));
  if (ctx.tab !== 'merchants') return;
  if (!list.length) { ctx.body(h('p.rep-notice', {}, t('pt_no_merchants'))); return; }
  ctx.body(...list.map((m, i) => h('section.rep-section.merchant', { dataset: { merchant: m.id } },
    h('h2', {}, `${m.name} `, h('span.muted', {}, `${t(m.station ? 'station' : 'shop')} · ${m.address || ''}${m.hours ? ` · ${t('hours')} ${m.hours}` : ''}`)),
    offers[i].length
      ? h('table.offers', {},
        h('thead', {}, h('tr', {}, [t('offer_title'), t('points'), t('pt_details')].map((x) => h('th', {}, x)))),
        h('tbody', {}, offers[i].map((o) => h(`tr${o.active === false ? '.muted' : ''}`, { dataset: { offer: o.id } },
          h('td', {}, o.title), h('td.num', {}, String(o.points)), h('td', {}, offerDetails(o, t, when))))))
      : h('p.muted', {}, t('no_offers')))));
}

// ---- settlement ---------------------------------------------------------------------------

/** One merchant's month (`GET /api/v1/merchants/{id}/settlement`), once redemption exists. */
export async function settlementTab(ctx) {
  const f = ctx.settle;
  const list = await apiAll('/api/v1/merchants');
  if (ctx.tab !== 'settlement') return;
  if (!f.merchant || !list.some((m) => m.id === f.merchant)) f.merchant = list[0]?.id || '';
  const again = () => settlementTab(ctx);
  const q = `month=${encodeURIComponent(f.month)}`;
  const base = f.merchant ? `/api/v1/merchants/${encodeURIComponent(f.merchant)}/settlement` : null;
  const draw = (ok) => ctx.toolbar(
    h('label', {}, t('merchant'), ctx.select('set-merchant', f.merchant, list.map((m) => [m.id, `${m.name} (${m.id})`]), (v) => { f.merchant = v; again(); })),
    h('label', {}, t('pt_month'), h('input#set-month', { type: 'month', name: 'month', value: f.month, onchange: (e) => { if (shiftMonth(e.target.value, 0)) { f.month = e.target.value; again(); } } })),
    h('span.grow'),
    ok && base ? h('a.button#set-csv', { href: `${base}.csv?${q}`, download: `settlement-${f.merchant}-${f.month}.csv` }, t('export_csv')) : null,
    ok && base ? h('a.button#set-xlsx', { href: `${base}.xlsx?${q}`, download: `settlement-${f.merchant}-${f.month}.xlsx` }, t('export_xlsx')) : null,
    ok ? h('button#print', { onclick: () => window.print() }, t('print')) : null,
  );
  draw(false);
  if (!base) { ctx.body(h('p.rep-notice', {}, t('pt_no_merchants'))); return; }
  let data;
  try {
    data = await api('GET', `${base}?${q}`);
  } catch (e) {
    if (ctx.tab !== 'settlement') return;
    const s = settlementState(e);
    ctx.body(h(`p.rep-notice#settlement-${s}`, {}, s === 'absent' ? t('pt_settlement_absent') : e.message));
    return;
  }
  if (ctx.tab !== 'settlement') return;
  draw(true);
  const s = readSettlement(data);
  const m = list.find((x) => x.id === f.merchant);
  ctx.body(
    h('div.rep-head', {}, h('h1#settlement-title', {}, t('pt_settlement_title', { name: m?.name || f.merchant, month: f.month }))),
    s.summary.length ? ctx.section(null, h('table#settlement-summary', {}, h('tbody', {}, s.summary.map(([k, v]) => h('tr', {}, h('th', {}, k), h('td', {}, String(v ?? '—'))))))) : null,
    ctx.section(null, s.rows.length
      ? h('table#settlement-lines', {}, h('thead', {}, h('tr', {}, s.columns.map((c) => h('th', {}, c)))),
        h('tbody', {}, s.rows.map((r) => h('tr', {}, s.columns.map((c) => h('td', {}, r[c] == null ? '' : String(r[c])))))))
      : h('p.muted', {}, t('pt_settlement_empty'))),
  );
}
