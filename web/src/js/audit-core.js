// The audit view's pure logic (admin-audit.js draws it): the filters as a query string and
// as the page's #audit link, and the before/after comparison of an entry. No DOM here, so
// node's test runner can check it.

/** Kinds of thing the log names (`target_kind`), in the order the filter offers them. */
export const AUDIT_KINDS = ['zones', 'responders', 'sources', 'cameras', 'users', 'incidents', 'merchants', 'offers',
  'redemptions', 'awards', 'session', 'settings', 'audit'];

/** The filters the API takes besides its page, in the order the form shows them. */
export const FILTER_KEYS = ['target_kind', 'target_id', 'actor', 'action', 'address', 'from', 'to'];

/** Actions worth suggesting in the action field; a prefix ending in '.' matches a whole kind. */
export const SUGGESTED_ACTIONS = ['zones.', 'zones.replace', 'zones.create', 'zones.delete', 'zones.import',
  'session.login', 'session.login_failed', 'session.logout', 'incidents.assign', 'users.', 'service.start'];

/** `filters` without blanks and unknown keys, values trimmed. */
export function cleanFilters(filters = {}) {
  const out = {};
  for (const k of FILTER_KEYS) {
    const v = filters[k] === undefined || filters[k] === null ? '' : String(filters[k]).trim();
    if (v) out[k] = v;
  }
  return out;
}

/** The query string (no '?') of `filters`, with `cursor` and `limit` when given. */
export function auditQuery(filters, { cursor, limit } = {}) {
  const q = new URLSearchParams(cleanFilters(filters));
  if (limit) q.set('limit', String(limit));
  if (cursor) q.set('cursor', cursor);
  return q.toString();
}

const withQuery = (path, q) => (q ? `${path}?${q}` : path);

/** `GET /api/v1/audit` of `filters`, one page. */
export function auditListUrl(filters, page = {}) { return withQuery('/api/v1/audit', auditQuery(filters, page)); }

/** `GET /api/v1/audit.csv` of `filters`: every entry they match, for download. */
export function auditCsvUrl(filters) { return withQuery('/api/v1/audit.csv', auditQuery(filters)); }

/** The admin page's link to the audit view with `filters`: `#audit?target_kind=zones&…`. */
export function auditHash(filters) { return withQuery('#audit', auditQuery(filters)); }

/** The filters of an `#audit?…` link, or null when `hash` is not one. */
export function filtersFromHash(hash) {
  const m = /^#audit(?:\?(.*))?$/.exec(hash || '');
  if (!m) return null;
  return cleanFilters(Object.fromEntries(new URLSearchParams(m[1] || '')));
}

const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * `v` as one level of dotted keys: `{properties: {name: 'A'}}` → `{'properties.name': 'A'}`.
 * Arrays (a zone's coordinates) and empty objects are kept whole, as one value; a value
 * that is not an object at all is the one key ''.
 */
export function flatten(v, prefix = '', out = {}) {
  if (!isObject(v) || (prefix && Object.keys(v).length === 0)) {
    out[prefix] = v;
    return out;
  }
  for (const [k, child] of Object.entries(v)) flatten(child, prefix ? `${prefix}.${k}` : k, out);
  return out;
}

/** Whether two JSON values are the same (key order of objects aside). */
export function same(a, b) {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => same(x, b[i]));
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => k in b && same(a[k], b[k]));
  }
  return false;
}

/**
 * The fields of an entry's `before` and `after`, key by key: `{key, before, after, change}`,
 * where change is 'changed', 'added' (only after), 'removed' (only before) or 'same'. A
 * side that is null (a create, a delete) has no fields. Keys come in the order before
 * has them, then the ones only after has.
 */
export function diffFields(before, after) {
  const b = before === null || before === undefined ? {} : flatten(before);
  const a = after === null || after === undefined ? {} : flatten(after);
  const keys = [...Object.keys(b), ...Object.keys(a).filter((k) => !(k in b))];
  return keys.map((key) => {
    const inB = key in b;
    const inA = key in a;
    const change = !inB ? 'added' : !inA ? 'removed' : same(b[key], a[key]) ? 'same' : 'changed';
    return { key, before: b[key], after: a[key], change };
  });
}

/** A field's value as text: strings as they are, anything else as JSON; absent is ''. */
export function showValue(v) {
  if (v === undefined) return '';
  if (typeof v === 'string') return v;
  return JSON.stringify(v);
}

/** Values longer than this are shown collapsed, their start and length only. */
export const LARGE_CHARS = 160;

/** `text` cut to its first `n` characters, with '…' when cut. */
export function shorten(text, n = 80) {
  return text.length > n ? `${text.slice(0, n)}…` : text;
}

/** An entry's thing as one text: `zones/z1`, `session`, or '' when it names none. */
export function thingOf(entry) {
  if (!entry.target_kind) return entry.target_id || '';
  return entry.target_id ? `${entry.target_kind}/${entry.target_id}` : entry.target_kind;
}
