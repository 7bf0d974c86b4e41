// The reports page's rules, without the DOM: the period of a report, how a row of
// `GET /api/v1/reports/summary` is read (the field names live in FIELDS, one place), and
// how rates and durations are written. Pure functions, tested in web/test/reports.test.mjs.

/** Groupings the summary offers, in tab order. */
export const GROUPS = ['zone', 'responder', 'kind', 'source', 'day'];

/** Periods of the picker. */
export const PERIODS = ['this_month', 'last_month', 'custom'];

/**
 * Where each figure is read from in a summary row: the first name present wins. The
 * server's names are still being settled; a rename is a change here and nowhere else.
 */
export const FIELDS = {
  group: ['group', 'key', 'name'],
  label: ['label', 'group_name', 'display_name'],
  opened: ['opened'],
  due: ['due'],
  closed: ['closed'],
  closed_on_time: ['closed_on_time', 'on_time'],
  reworked: ['reworked'],
  extended: ['extended'],
  suspended: ['suspended'],
  overdue: ['overdue'],
  cancelled: ['cancelled'],
  escalated: ['escalated'],
  closure_rate: ['closure_rate'],
  on_time_rate: ['on_time_rate'],
  rework_rate: ['rework_rate'],
  extension_rate: ['extension_rate'],
  score: ['score', 'performance_score'],
  grade: ['grade'],
  phases: ['phases', 'phase_times'],
  fractiles: ['on_scene_within', 'fractiles', 'on_scene_fractiles', 'opened_to_on_scene', 'response_fractiles'],
  offers: ['offers', 'offers_made'],
  offers_accepted: ['offers_accepted', 'accepted'],
  offers_rejected: ['offers_rejected'],
  offers_expired: ['offers_expired'],
  accept_rate: ['accept_rate', 'offer_accept_rate'],
};

/** The server's `offers` object (group_by=responder) → the row's offer figures. */
const OFFERS = { offers: 'received', offers_accepted: 'accepted', offers_rejected: 'rejected', offers_expired: 'expired', accept_rate: 'acceptance_rate' };

/** Counts shown in the ranking table, in column order. */
export const COUNTS = ['opened', 'closed', 'closed_on_time', 'overdue', 'reworked', 'extended', 'suspended', 'escalated', 'cancelled'];
/** Rates shown in the ranking table, in column order. */
export const RATES = ['closure_rate', 'on_time_rate', 'rework_rate', 'extension_rate'];

/**
 * Rates the server may leave out, as (numerator, denominator) of counts: every rate of a
 * group is over the incidents due (docs/reports.md, "Rates"). Only a rate that is absent is
 * worked out; a rate the server sends as null (nothing due) stays null.
 */
const RATE_FROM = {
  closure_rate: ['closed', 'due'],
  on_time_rate: ['closed_on_time', 'due'],
  rework_rate: ['reworked', 'due'],
  extension_rate: ['extended', 'due'],
  accept_rate: ['offers_accepted', 'offers'],
};

/** The first of `names` that `row` has (not null or undefined). */
export function pick(row, names) {
  for (const n of names) if (row && row[n] !== undefined && row[n] !== null) return row[n];
  return null;
}

const num = (v) => (typeof v === 'number' && Number.isFinite(v) ? v : (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v)) ? Number(v) : null));

/** A number of seconds from a phase or fractile value: a number, or `{secs|seconds|value}`. */
function secsOf(v) {
  if (v && typeof v === 'object') return num(pick(v, ['secs', 'seconds', 'value', 'p']));
  return num(v);
}

/** A fractile as a fraction 0..1 from 0.9, 90, "p90", "0.9" or "90". */
export function fractileOf(k) {
  if (typeof k === 'number') return k > 1 ? k / 100 : k;
  const m = String(k).trim().match(/^p?(\d+(?:\.\d+)?)%?$/i);
  if (!m) return null;
  const v = Number(m[1]);
  return v > 1 || /^p/i.test(String(k).trim()) ? v / 100 : v;
}

/**
 * The opened → on scene fractiles of a row as `[{q, secs}]`, ascending, from any of: an
 * object `{p50: secs, …}` or `{"0.5": secs}`, an array `[{q|p|fractile, secs|value}]`, or
 * an array of plain numbers (evenly spaced: deciles when there are nine or ten).
 */
export function readFractiles(raw) {
  let out = [];
  if (Array.isArray(raw)) {
    if (raw.every((x) => typeof x === 'number' || x === null)) {
      const n = raw.length;
      out = raw.map((s, i) => ({ q: n === 9 ? (i + 1) / 10 : (i + 1) / n, secs: num(s) }));
    } else {
      out = raw.map((x) => ({ q: fractileOf(pick(x, ['q', 'p', 'fractile', 'quantile', 'pct'])), secs: secsOf(pick(x, ['secs', 'seconds', 'value'])) }));
    }
  } else if (raw && typeof raw === 'object' && Object.keys(raw).some((k) => /^s\d+$/.test(k))) {
    // The server's `on_scene_within`: {s60: share, s120: …}, the share of cases on scene
    // within each bound — the same curve read the other way (share q within secs).
    out = Object.entries(raw).filter(([k]) => /^s\d+$/.test(k)).map(([k, v]) => ({ q: num(v), secs: Number(k.slice(1)) }));
  } else if (raw && typeof raw === 'object') {
    out = Object.entries(raw).map(([k, v]) => ({ q: fractileOf(k), secs: secsOf(v) }));
  }
  return out.filter((x) => x.q !== null && x.q >= 0 && x.q <= 1 && x.secs !== null).sort((a, b) => a.q - b.q);
}

/** Phase times of a row as `[{phase, p50, p90, n}]` (seconds), in the server's order. */
export function readPhases(raw) {
  if (!raw || typeof raw !== 'object') return [];
  const list = Array.isArray(raw) ? raw.map((x) => [pick(x, ['phase', 'name']), x]) : Object.entries(raw);
  return list.filter(([k]) => k).map(([phase, v]) => ({
    phase: String(phase),
    p50: secsOf(pick(v, ['p50', 'p50_secs', 'median', 'median_secs'])),
    p90: secsOf(pick(v, ['p90', 'p90_secs'])),
    n: num(pick(v, ['n', 'count'])),
  }));
}

/** One summary row in the page's terms; absent figures are null. */
export function readRow(row) {
  const r = { raw: row };
  for (const k of Object.keys(FIELDS)) r[k] = pick(row, FIELDS[k]);
  const sent = new Set(Object.keys(FIELDS).filter((k) => FIELDS[k].some((n) => row && row[n] !== undefined)));
  if (r.offers && typeof r.offers === 'object') {
    const o = r.offers;
    for (const [k, n] of Object.entries(OFFERS)) { r[k] = o[n] ?? null; if (n in o) sent.add(k); }
  }
  for (const k of [...COUNTS, 'due', 'offers', 'offers_accepted', 'offers_rejected', 'offers_expired', 'score']) r[k] = num(r[k]);
  for (const [k, [a, b]] of Object.entries(RATE_FROM)) {
    r[k] = num(r[k]);
    if (r[k] === null && !sent.has(k) && r[a] !== null && r[b]) r[k] = r[a] / r[b];
  }
  r.group = r.group === null ? '—' : String(r.group);
  r.grade = r.grade === null ? null : String(r.grade);
  r.phases = readPhases(r.phases);
  r.fractiles = readFractiles(r.fractiles);
  return r;
}

/** Rows best first: score (higher first), then closure rate, then more opened, then name. */
export function rank(rows) {
  const d = (a, b) => (b ?? -Infinity) - (a ?? -Infinity);
  return [...rows].sort((a, b) => d(a.score, b.score) || d(a.closure_rate, b.closure_rate) || d(a.opened, b.opened) || a.group.localeCompare(b.group));
}

/** The whole answer: `{from, to, group_by, generated_at, rows}` with rows read and ranked. */
export function readSummary(data) {
  const rows = Array.isArray(data?.rows) ? data.rows : Array.isArray(data) ? data : [];
  return { from: data?.from ?? null, to: data?.to ?? null, group_by: data?.group_by ?? null, generated_at: data?.generated_at ?? null, rows: rank(rows.map(readRow)) };
}

/** Phase names of all rows, first seen first. */
export function phaseNames(rows) {
  const seen = [];
  for (const r of rows) for (const p of r.phases) if (!seen.includes(p.phase)) seen.push(p.phase);
  return seen;
}

/** A rate (a fraction, 0.875) as a percentage, "87.5%"; "—" when unknown. */
export function formatRate(v) {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  const p = v * 100;
  const s = Math.abs(p - Math.round(p)) < 0.05 ? String(Math.round(p)) : p.toFixed(1);
  return `${s}%`;
}

/**
 * A duration in seconds as `[key, vars]` for the translator: under a minute in seconds,
 * under an hour in whole minutes, else hours and minutes. `null` → `['dash', {}]`.
 */
export function durationParts(secs) {
  if (secs === null || secs === undefined || !Number.isFinite(secs)) return ['dash', {}];
  const s = Math.max(0, Math.round(secs));
  if (s < 60) return ['dur_s', { n: s }];
  const m = Math.round(s / 60);
  if (m < 60) return ['dur_min', { n: m }];
  return ['dur_h', { h: Math.floor(m / 60), m: m % 60 }];
}

const pad = (n) => String(n).padStart(2, '0');
/** `YYYY-MM-DD` of a local date. */
export function ymd(d) { return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`; }

/** The local midnight of a `YYYY-MM-DD`, or null. */
function parseYmd(s) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s || '');
  if (!m) return null;
  const d = new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  return Number.isNaN(d.getTime()) ? null : d;
}

/**
 * The half-open interval `[from, to)` of a period, as Date objects at local midnight:
 * `this_month` (the first of this month to the first of next), `last_month`, or `custom`
 * from `custom.from` to the end of the day `custom.to` (both `YYYY-MM-DD`, inclusive).
 * Null when a custom period is incomplete or backwards.
 */
export function periodRange(period, now = new Date(), custom = {}) {
  const y = now.getFullYear(); const mo = now.getMonth();
  if (period === 'this_month') return { from: new Date(y, mo, 1), to: new Date(y, mo + 1, 1) };
  if (period === 'last_month') return { from: new Date(y, mo - 1, 1), to: new Date(y, mo, 1) };
  const from = parseYmd(custom.from); const end = parseYmd(custom.to);
  if (!from || !end || end < from) return null;
  return { from, to: new Date(end.getFullYear(), end.getMonth(), end.getDate() + 1) };
}

/** The query string of the summary and its downloads for a range and a grouping. */
export function summaryQuery(range, groupBy) {
  const q = new URLSearchParams({ from: range.from.toISOString(), to: range.to.toISOString(), group_by: groupBy });
  return q.toString();
}

/** The report's title period: "2026-11" for a whole month, else "2026-11-03 – 2026-11-17". */
export function periodLabel(range) {
  const last = new Date(range.to.getFullYear(), range.to.getMonth(), range.to.getDate() - 1);
  const whole = range.from.getDate() === 1 && range.to.getDate() === 1
    && (range.to.getFullYear() * 12 + range.to.getMonth()) - (range.from.getFullYear() * 12 + range.from.getMonth()) === 1;
  return whole ? `${range.from.getFullYear()}-${pad(range.from.getMonth() + 1)}` : `${ymd(range.from)} – ${ymd(last)}`;
}
