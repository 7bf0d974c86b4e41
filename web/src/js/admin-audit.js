// The admin's audit log tab (issue 17): who changed what, when, from where, and what it was
// before. Filters by thing, actor, action, address and dates; pages with the API's cursor;
// a row opens to show before and after side by side, the changed fields marked. The
// filters also live in the page's address (`/admin#audit?target_kind=zones&target_id=z1`),
// which is what a zone's "history" link opens.
import { apiPage, h, t, when } from './common.js';
import {
  AUDIT_KINDS, SUGGESTED_ACTIONS, cleanFilters, auditListUrl, auditCsvUrl, auditHash,
  diffFields, showValue, shorten, thingOf, LARGE_CHARS,
} from './audit-core.js';

/** Entries per page. */
const PAGE = 50;
const COLUMNS = ['au_time', 'au_actor', 'au_address', 'au_action', 'au_thing', 'au_status'];

const state = {
  filters: {},
  entries: [],
  next: null,
  loaded: false,
  error: null,
  open: new Set(), // seqs of the rows shown opened
  onlyChanged: false,
};

/** Has the tab show the log filtered by `filters` the next time it is drawn. */
export function showAudit(filters) {
  state.filters = cleanFilters(filters);
  state.loaded = false;
}

/** Loads the first page of the current filters. */
async function search() {
  state.entries = []; state.next = null; state.error = null; state.open.clear();
  try {
    const { data, next } = await apiPage(auditListUrl(state.filters, { limit: PAGE }));
    state.entries = data || [];
    state.next = next;
  } catch (x) { state.error = x.message; }
  state.loaded = true;
}

/** The tab's content; `rerender()` draws the tab again. */
export async function auditPane(rerender) {
  if (!state.loaded) await search();
  const f = state.filters;
  const kinds = f.target_kind && !AUDIT_KINDS.includes(f.target_kind) ? [...AUDIT_KINDS, f.target_kind] : AUDIT_KINDS;
  const input = (name, attrs = {}) => h('input', { name, value: f[name] || '', ...attrs });
  const form = h('form.formrow#audit-form', {},
    h('label', {}, t('au_kind'), h('select', { name: 'target_kind' }, h('option', { value: '' }, t('au_any')),
      kinds.map((k) => h('option', { value: k, selected: k === f.target_kind }, `${t(`au_k_${k}`)} (${k})`)))),
    h('label', {}, t('au_id'), input('target_id')),
    h('label', {}, t('au_actor'), input('actor', { placeholder: t('au_actor_hint') })),
    h('label', {}, t('au_action'), input('action', { list: 'audit-actions', placeholder: t('au_action_hint') })),
    h('datalist#audit-actions', {}, SUGGESTED_ACTIONS.map((a) => h('option', { value: a }))),
    h('label', {}, t('au_address'), input('address', { placeholder: '127.0.0.1' })),
    h('label', {}, t('au_from'), input('from', { type: 'date' })),
    h('label', {}, t('au_to'), input('to', { type: 'date' })),
    h('button.primary#audit-search', { type: 'submit' }, t('au_search')));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    state.filters = cleanFilters(Object.fromEntries(new FormData(form)));
    state.loaded = false;
    // The address keeps the filters, so the view can be bookmarked or sent on.
    history.replaceState(null, '', `${location.pathname}${auditHash(state.filters)}`);
    rerender();
  });

  const tbody = h('tbody#audit-rows', {}, state.entries.flatMap(rowsOf));
  const count = h('span.muted#audit-count');
  const more = h('button#audit-more', { type: 'button' }, t('au_more'));
  const footer = () => {
    more.hidden = !state.next;
    count.textContent = state.entries.length ? `${t('au_shown', { n: state.entries.length })}${state.next ? '' : ` · ${t('au_all_shown')}`}` : '';
  };
  more.addEventListener('click', async () => {
    more.disabled = true;
    try {
      const { data, next } = await apiPage(auditListUrl(state.filters, { cursor: state.next, limit: PAGE }));
      state.entries.push(...data);
      state.next = next;
      tbody.append(...data.flatMap(rowsOf));
    } catch (x) { state.error = x.message; rerender(); return; }
    more.disabled = false;
    footer();
  });
  footer();

  return h('div.audit', {},
    f.target_id ? h('h3#audit-title', {}, t('au_history_of', { what: thingOf(f) })) : null,
    form,
    h('div.toolbar', {},
      h('a.button#audit-csv', { href: auditCsvUrl(state.filters), download: '' }, t('au_csv')),
      h('span.muted', {}, t('au_expand'))),
    state.error ? h('p.error#audit-error', {}, state.error) : null,
    state.entries.length || state.error ? null : h('p.muted#audit-empty', {}, t('au_none')),
    h('table.audit-list', {}, h('thead', {}, h('tr', {}, COLUMNS.map((k) => h('th', {}, t(k))))), tbody),
    h('div.toolbar.audit-foot', {}, more, count));
}

/** An entry's row, and its opened part when it is open. */
function rowsOf(e) {
  const failed = e.status >= 400;
  const tr = h(`tr.audit-row${failed ? '.failed' : ''}`, { dataset: { seq: e.seq }, tabindex: '0', 'aria-expanded': String(state.open.has(e.seq)) },
    h('td.at', { title: e.at }, when(e.at)),
    h('td.actor', {}, e.actor),
    h('td.address', {}, e.address || '—'),
    h('td.action', {}, e.action),
    h('td.thing', {}, thingOf(e) || '—'),
    h('td.status', {}, e.status ? String(e.status) : '—'));
  const toggle = () => {
    const opened = tr.nextElementSibling?.classList.contains('audit-detail');
    if (opened) { tr.nextElementSibling.remove(); state.open.delete(e.seq); } else { tr.after(detailRow(e)); state.open.add(e.seq); }
    tr.setAttribute('aria-expanded', String(!opened));
  };
  tr.addEventListener('click', toggle);
  tr.addEventListener('keydown', (ev) => { if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); toggle(); } });
  return state.open.has(e.seq) ? [tr, detailRow(e)] : [tr];
}

/** A value's cell: short ones as they are, long ones folded to their start and length. */
function valueCell(cls, v) {
  const text = showValue(v);
  if (text.length <= LARGE_CHARS) return h(`td.${cls}`, {}, text);
  return h(`td.${cls}`, {}, h('details', {}, h('summary', {}, `${shorten(text)} (${t('au_chars', { n: text.length })})`), h('pre', {}, text)));
}

/** What an opened row shows: the request, then before and after side by side. */
function detailRow(e) {
  const facts = h('dl.facts.audit-facts', {},
    h('dt', {}, t('au_request')), h('dd', {}, e.request || '—'),
    h('dt', {}, t('au_role')), h('dd', {}, e.role || '—'),
    e.detail === null || e.detail === undefined ? null : [h('dt', {}, t('au_params')), h('dd', {}, valueCell('params', e.detail).firstChild)]);
  let body;
  if (e.before == null && e.after == null) {
    body = h('p.muted', {}, t('au_no_change'));
  } else {
    const fields = diffFields(e.before, e.after);
    const table = h(`table.audit-diff${state.onlyChanged ? '.only-changed' : ''}`, {},
      h('thead', {}, h('tr', {}, h('th', {}, t('au_field')),
        h('th', {}, t('au_before'), e.before == null ? h('span.muted', {}, ` ${t('au_no_before')}`) : null),
        h('th', {}, t('au_after'), e.after == null ? h('span.muted', {}, ` ${t('au_no_after')}`) : null))),
      h('tbody', {}, fields.map((d) => h(`tr.au-${d.change}`, { dataset: { key: d.key, change: d.change } },
        h('td.key', {}, d.key || '—'), valueCell('before', d.before), valueCell('after', d.after)))));
    const only = h('input', { type: 'checkbox', checked: state.onlyChanged, onchange: (ev) => {
      state.onlyChanged = ev.target.checked;
      for (const tb of document.querySelectorAll('table.audit-diff')) tb.classList.toggle('only-changed', state.onlyChanged);
    } });
    body = [h('label.inline.audit-only', {}, only, t('au_only_changed')), table];
  }
  // A click inside the opened part (folding a value, the checkbox) must not close the row.
  return h('tr.audit-detail', { dataset: { seq: e.seq }, onclick: (ev) => ev.stopPropagation() },
    h('td', { colspan: String(COLUMNS.length) }, facts, body));
}
