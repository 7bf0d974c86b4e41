// The reports page: a period (this month, last month, custom), a grouping (grid, worker,
// kind, source, day), and from `GET /api/v1/reports/summary` a ranking table (score, grade,
// rates, counts), the time per phase (p50, p90) and a fractile chart of opened → on scene
// (Apache ECharts). Downloads link to the summary's CSV and XLSX; the page prints as the
// monthly report. The summary's field names are read in reports-core.js (FIELDS).
import { api, h, when, toast, requireSession, header, t, applyI18n, onLangChange, hasKey } from './common.js';
import { GROUPS, PERIODS, RATES, periodRange, periodLabel, summaryQuery, readSummary, phaseNames, formatRate, durationParts, ymd } from './reports-core.js';
import { kindLabel } from './console-core.js';

const user = await requireSession();
header(user, 'reports');

const state = { period: 'this_month', custom: { from: '', to: '' }, group: 'zone', summary: null, error: null, loading: false, range: null };
const names = { zone: new Map(), responder: new Map() };
let chart = null;

/** Names of grids and workers for the group column (ids when these lists cannot be read). */
async function loadNames() {
  const [zones, resp] = await Promise.all([api('GET', '/api/v1/zones').catch(() => null), api('GET', '/api/v1/responders').catch(() => [])]);
  for (const f of zones?.features || []) names.zone.set(f.properties.id, f.properties.name);
  for (const r of resp || []) names.responder.set(r.id, r.name);
}

/** A group's label: a grid's or worker's name with its id, a kind in words, else as sent. */
function groupLabel(r, by) {
  if (r.label) return r.label;
  if ((by === 'zone' || by === 'responder') && names[by].get(r.group)) return `${names[by].get(r.group)} (${r.group})`;
  if (by === 'kind') return kindLabel(r.group, t, hasKey);
  return r.group;
}

const dur = (secs) => t(...durationParts(secs));
const phaseLabel = (p) => (hasKey(`ph_${p}`) ? t(`ph_${p}`) : p.replace(/_/g, ' '));
const fmtNum = (v) => (v === null || v === undefined ? '—' : Number.isInteger(v) ? String(v) : v.toFixed(1));

// ---- toolbar ------------------------------------------------------------------------------

function drawToolbar() {
  const bar = document.getElementById('rep-toolbar');
  const from = h('input#custom-from', { type: 'date', name: 'from', value: state.custom.from, onchange: (e) => { state.custom.from = e.target.value; } });
  const to = h('input#custom-to', { type: 'date', name: 'to', value: state.custom.to, onchange: (e) => { state.custom.to = e.target.value; } });
  const custom = state.period === 'custom';
  const q = state.range ? summaryQuery(state.range, state.group) : null;
  const exportLink = (id, ext, key) => h(`a.button#${id}`, q && !state.error ? { href: `/api/v1/reports/summary.${ext}?${q}`, download: `report-${state.group}-${periodLabel(state.range).replace(/\s+/g, '')}.${ext}` } : { 'aria-disabled': 'true' }, t(key));
  bar.replaceChildren(...[
    h('label', {}, t('period'), h('select#period', { name: 'period', onchange: (e) => { state.period = e.target.value; if (state.period === 'custom' && !state.custom.from) prefillCustom(); drawToolbar(); if (state.period !== 'custom') load(); } },
      PERIODS.map((p) => h('option', { value: p, selected: p === state.period }, t(p))))),
    custom ? h('label', {}, t('from'), from) : null,
    custom ? h('label', {}, t('to'), to) : null,
    custom ? h('button.primary#apply-period', { onclick: () => load() }, t('show')) : null,
    h('span.grow'),
    exportLink('export-csv', 'csv', 'export_csv'),
    exportLink('export-xlsx', 'xlsx', 'export_xlsx'),
    h('button#print', { onclick: () => window.print() }, t('print')),
  ].filter(Boolean));
  document.getElementById('rep-tabs').replaceChildren(...GROUPS.map((g) => h(`button${g === state.group ? '.active' : ''}`, {
    dataset: { group: g }, onclick: () => { state.group = g; drawToolbar(); load(); },
  }, t(`g_${g}`))));
}

/** A custom period starts as this month so far. */
function prefillCustom() {
  const now = new Date();
  state.custom = { from: ymd(new Date(now.getFullYear(), now.getMonth(), 1)), to: ymd(now) };
}

// ---- loading ------------------------------------------------------------------------------

let loadSeq = 0;
async function load() {
  const range = periodRange(state.period, new Date(), state.custom);
  if (!range) { toast(t('bad_period'), 'error'); return; }
  state.range = range;
  state.loading = true; state.error = null;
  drawToolbar(); draw();
  const seq = ++loadSeq;
  try {
    const data = await api('GET', `/api/v1/reports/summary?${summaryQuery(range, state.group)}`);
    if (seq !== loadSeq) return;
    state.summary = readSummary(data);
  } catch (e) {
    if (seq !== loadSeq) return;
    state.summary = null;
    state.error = e.status === 404 && !(e.body && e.body.error) ? 'unavailable' : e.status === 403 ? t('forbidden') : e.message;
  }
  state.loading = false;
  drawToolbar(); draw();
}

// ---- the report ---------------------------------------------------------------------------

/** Columns of the ranking table: [label key, value of a row, cell class]. */
function rankingColumns(rows) {
  const cols = [
    ['score', (r) => fmtNum(r.score), 'num score'],
    ['grade', (r) => r.grade ?? '—', 'grade'],
    ...RATES.map((k) => [k, (r) => formatRate(r[k]), `num rate ${k}`]),
  ];
  if (rows.some((r) => r.offers !== null)) {
    cols.push(['offers', (r) => fmtNum(r.offers), 'num count offers']);
    for (const k of ['offers_accepted', 'offers_rejected', 'offers_expired']) {
      if (rows.some((r) => r[k] !== null)) cols.push([k, (r) => fmtNum(r[k]), `num count ${k}`]);
    }
    cols.push(['accept_rate', (r) => formatRate(r.accept_rate), 'num rate accept_rate']);
  }
  for (const [k, key] of [['opened', 'opened'], ['due', 'due_n'], ['closed', 'closed_n'], ['closed_on_time', 'closed_on_time'], ['overdue', 'overdue_n'],
    ['reworked', 'reworked'], ['extended', 'extended'], ['suspended', 'suspended_n'], ['escalated', 'escalated_n'], ['cancelled', 'cancelled_n']]) {
    if (rows.some((r) => r[k] !== null)) cols.push([key, (r) => fmtNum(r[k]), `num count ${k}`]);
  }
  return cols;
}

function rankingTable(rows, by) {
  const cols = rankingColumns(rows);
  return h('table#ranking', {},
    h('thead', {}, h('tr', {}, h('th.num', {}, t('rank')), h('th', {}, t(`g_${by}`)), cols.map(([k, , cls]) => h(`th.${cls.split(' ')[0]}`, {}, t(k))))),
    h('tbody', {}, rows.map((r, i) => h(`tr${i === 0 && r.score !== null ? '.best' : ''}`, { dataset: { group: r.group } },
      h('td.num', {}, String(i + 1)), h('td.group', {}, groupLabel(r, by)),
      cols.map(([, f, cls]) => h(`td.${cls.split(' ').join('.')}`, {}, f(r)))))));
}

function phaseTable(rows, by) {
  const phases = phaseNames(rows);
  if (!phases.length) return h('p.muted', {}, t('no_data'));
  return h('table#phases', {},
    h('thead', {},
      h('tr', {}, h('th', { rowspan: '2' }, t(`g_${by}`)), phases.map((p) => h('th.grp', { colspan: '3', dataset: { phase: p } }, phaseLabel(p)))),
      h('tr', {}, phases.flatMap(() => [h('th.num', {}, t('p50')), h('th.num', {}, t('p90')), h('th.num', {}, t('n_samples'))]))),
    h('tbody', {}, rows.map((r) => h('tr', { dataset: { group: r.group } }, h('td.group', {}, groupLabel(r, by)),
      phases.flatMap((p) => {
        const x = r.phases.find((y) => y.phase === p);
        const at = { dataset: { phase: p } };
        return [h('td.num.p50', at, dur(x?.p50)), h('td.num.p90', at, dur(x?.p90)), h('td.num.n', at, fmtNum(x?.n ?? null))];
      })))));
}

/** The fractile chart: one line per group (the eight with most incidents), minutes by fractile. */
function drawChart(el, rows, by) {
  chart?.dispose(); chart = null;
  const withF = rows.filter((r) => r.fractiles.length).sort((a, b) => (b.opened ?? 0) - (a.opened ?? 0)).slice(0, 8);
  if (!withF.length) { el.replaceChildren(h('p.muted.rep-notice', {}, t('no_fractiles'))); return; }
  if (!window.echarts) { el.replaceChildren(h('p.muted.rep-notice', {}, 'ECharts?')); return; }
  el.replaceChildren();
  chart = window.echarts.init(el, null, { renderer: 'svg' });
  const axis = { axisLine: { lineStyle: { color: '#8a9bb0' } }, axisLabel: { color: '#8a9bb0' }, splitLine: { lineStyle: { color: 'rgba(138,155,176,.25)' } }, nameTextStyle: { color: '#8a9bb0' } };
  chart.setOption({
    animation: false,
    backgroundColor: 'transparent',
    legend: { top: 0, textStyle: { color: '#8a9bb0' }, type: 'scroll' },
    tooltip: { trigger: 'item', formatter: (p) => `${p.seriesName}<br>p${Math.round(p.value[0])}: ${dur(p.value[1] * 60)}` },
    grid: { left: 56, right: 24, top: 40, bottom: 44 },
    xAxis: { type: 'value', min: 0, max: 100, name: t('fractile'), nameLocation: 'middle', nameGap: 28, axisLabel: { ...axis.axisLabel, formatter: (v) => `p${v}` }, ...{ axisLine: axis.axisLine, splitLine: axis.splitLine, nameTextStyle: axis.nameTextStyle } },
    yAxis: { type: 'value', name: t('minutes'), min: 0, ...axis },
    series: withF.map((r) => ({ name: groupLabel(r, by), type: 'line', symbolSize: 6, data: r.fractiles.map((f) => [Math.round(f.q * 1000) / 10, Math.round(f.secs / 6) / 10]) })),
  });
}

function draw() {
  const box = document.getElementById('report');
  const range = state.range;
  const head = range ? h('div.rep-head', {}, h('h1#report-title', {}, t('report_title', { period: periodLabel(range) })),
    h('div.muted', {}, `${t('group_by')}: ${t(`g_${state.group}`)}`,
      state.summary?.generated_at ? ` · ${t('generated', { at: when(state.summary.generated_at) })}` : '')) : h('div.rep-head');
  if (state.loading && !state.summary) { box.replaceChildren(head, h('p.rep-notice', {}, t('loading'))); return; }
  if (state.error) {
    chart?.dispose(); chart = null;
    box.replaceChildren(head, h('p.rep-notice#report-error', { dataset: { error: state.error === 'unavailable' ? 'unavailable' : 'error' } }, state.error === 'unavailable' ? t('reports_unavailable') : state.error));
    return;
  }
  const s = state.summary;
  if (!s) return;
  if (!s.rows.length) { chart?.dispose(); chart = null; box.replaceChildren(head, h('p.rep-notice#report-empty', {}, t('no_data'))); return; }
  const chartEl = h('div#fractile-chart');
  box.replaceChildren(head,
    h('section.rep-section', {}, h('h2', {}, t('ranking')), rankingTable(s.rows, state.group)),
    h('section.rep-section', {}, h('h2', {}, t('phase_times')), phaseTable(s.rows, state.group)),
    h('section.rep-section', {}, h('h2', {}, t('fractile_chart')), chartEl));
  drawChart(chartEl, s.rows, state.group);
}

window.addEventListener('resize', () => chart?.resize());
window.addEventListener('beforeprint', () => chart?.resize());
window.addEventListener('afterprint', () => chart?.resize());
onLangChange(() => { drawToolbar(); draw(); });

drawToolbar();
applyI18n();
await loadNames();
load();
