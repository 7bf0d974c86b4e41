// The console's points area (志愿服务积分), pure rules: filtering accounts, the ledger's
// query and lines with their causes, who may approve an award, months, the settlement
// answer and the honour roll (光荣榜). No DOM here; web/test/points.test.mjs runs these.

/** The tabs of /points, in order. */
export const TABS = ['accounts', 'ledger', 'awards', 'merchants', 'settlement', 'honour'];

/** Movement kinds of the ledger (store::points::MovementKind). */
export const KINDS = ['earn', 'award', 'expire', 'reserve', 'release', 'redeem', 'correct'];

const num = (v) => (Number.isFinite(Number(v)) ? Number(v) : 0);

/** An account line of `GET /api/v1/points/accounts`, read defensively. */
export function readAccount(a) {
  return {
    responder_id: String(a?.responder_id ?? ''), name: String(a?.name ?? a?.responder_id ?? ''),
    kind: String(a?.kind ?? ''), zone_id: a?.zone_id ?? null,
    balance: num(a?.balance), reserved: num(a?.reserved), earned_total: num(a?.earned_total), awarded_total: num(a?.awarded_total),
  };
}

/**
 * The accounts shown for a filter `{zone, kind, q}`: `zone` '' = all, '-' = no grid; `q`
 * matches id or name, case-insensitive. Sorted by `sort` ('balance', 'earned', else id).
 */
export function filterAccounts(list, { zone = '', kind = '', q = '', sort = 'id' } = {}) {
  const needle = q.trim().toLowerCase();
  const rows = list.filter((a) => (zone === '' || (zone === '-' ? !a.zone_id : a.zone_id === zone))
    && (kind === '' || a.kind === kind)
    && (!needle || a.responder_id.toLowerCase().includes(needle) || a.name.toLowerCase().includes(needle)));
  const by = { balance: (a) => a.balance, earned: (a) => a.earned_total + a.awarded_total }[sort];
  return rows.sort((x, y) => (by ? by(y) - by(x) : 0) || x.responder_id.localeCompare(y.responder_id));
}

/** Totals of some accounts: [balance, reserved, earned, awarded]. */
export function totals(rows) {
  return rows.reduce((s, a) => [s[0] + a.balance, s[1] + a.reserved, s[2] + a.earned_total, s[3] + a.awarded_total], [0, 0, 0, 0]);
}

/**
 * The ledger's account filter as the API names accounts: a responder id becomes
 * `responder:<id>`; `county`, `expiry` and anything with a colon are kept as typed.
 */
export function ledgerAccount(s) {
  const v = (s || '').trim();
  if (!v) return '';
  return v.includes(':') || v === 'county' || v === 'expiry' ? v : `responder:${v}`;
}

/** The query string of `GET /api/v1/points/ledger` for the filters (dates `YYYY-MM-DD`; the API filters all four). */
export function ledgerQuery({ account = '', kind = '', from = '', to = '', limit = 500 } = {}) {
  const q = new URLSearchParams();
  const acc = ledgerAccount(account);
  if (acc) q.set('account', acc);
  if (kind) q.set('kind', kind);
  if (from) q.set('from', from);
  if (to) q.set('to', to);
  q.set('limit', String(limit));
  return q.toString();
}

/** What a movement did to `account` (the sum of its entries there), else its points. */
export function change(m, account) {
  const acc = ledgerAccount(account);
  if (!acc || !Array.isArray(m.entries)) return num(m.points);
  return m.entries.filter((e) => e.account === acc).reduce((s, e) => s + num(e.amount), 0);
}

/** The accounts a movement takes points from and gives them to: `{from: [...], to: [...]}`. */
export function flows(m) {
  const out = { from: new Set(), to: new Set() };
  for (const e of m.entries || []) (num(e.amount) < 0 ? out.from : out.to).add(e.account);
  return { from: [...out.from], to: [...out.to] };
}

/**
 * A movement's cause for the table: `{type, id, href, text}`. An incident opens in the
 * operator console; an award shows its reason (from `reasons`, a Map of award id → reason,
 * else the movement's note); a redemption shows its id.
 */
export function cause(m, reasons = new Map()) {
  const type = m?.cause?.type || '';
  const id = m?.cause?.id || '';
  if (type === 'incident') return { type, id, href: `/#incident=${encodeURIComponent(id)}`, text: id };
  if (type === 'award') return { type, id, href: null, text: reasons.get(id) || m.note || id };
  return { type, id, href: null, text: id };
}

/**
 * What the awards tab offers `user` (`{username, role}`) on `award`: `{show, enabled, why}`.
 * Only admins see buttons; a pending award proposed by this admin is shown disabled, with
 * the reason (the API refuses its proposer, 403).
 */
export function approval(award, user) {
  if (user?.role !== 'admin' || award?.state !== 'pending') return { show: false, enabled: false, why: null };
  if (award.proposed_by === `${user.role}:${user.username}`) return { show: true, enabled: false, why: 'pt_own_award' };
  return { show: true, enabled: true, why: null };
}

/**
 * The body of `POST /api/v1/points/awards` from the form's texts, or `{error}` (a key of
 * the strings) when a field is wrong.
 */
export function awardBody({ responder_id = '', points = '', reason = '' } = {}) {
  const rid = responder_id.trim();
  if (!rid) return { error: 'pt_pick_responder' };
  const p = Number(String(points).trim());
  if (!Number.isInteger(p) || p < 1 || p > 1000000) return { error: 'pt_bad_points' };
  const r = reason.trim();
  if (!r || [...r].length > 500) return { error: 'pt_bad_reason' };
  return { body: { responder_id: rid, points: p, reason: r } };
}

/** `YYYY-MM` of a local date. */
export function monthOf(d) {
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}`;
}

/** `YYYY-MM` moved by `n` months; null for a malformed month. */
export function shiftMonth(month, n) {
  const m = /^(\d{4})-(\d{2})$/.exec(month || '');
  if (!m || Number(m[2]) < 1 || Number(m[2]) > 12) return null;
  return monthOf(new Date(Number(m[1]), Number(m[2]) - 1 + n, 1));
}

/**
 * What the settlement tab shows for an error of `GET /api/v1/merchants/{id}/settlement`:
 * a 404 without an error text is a server without redemption yet ('absent'); anything else
 * is an error to show.
 */
export function settlementState(err) {
  if (!err) return 'ok';
  if (err.status === 404 && !(err.body && typeof err.body === 'object' && err.body.error)) return 'absent';
  return 'error';
}

/**
 * A settlement answer as a table: its scalar fields (`summary`, [key, value] pairs) and
 * its first list of objects (`columns`, `rows`). The shape belongs to the redemption work;
 * this shows whatever it sends.
 */
export function readSettlement(v) {
  const summary = [];
  let list = null;
  if (Array.isArray(v)) list = v;
  else if (v && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) {
      if (Array.isArray(x)) { if (!list) list = x; } else if (x === null || typeof x !== 'object') summary.push([k, x]);
    }
  }
  const rows = (list || []).filter((r) => r && typeof r === 'object');
  const columns = [];
  for (const r of rows) for (const k of Object.keys(r)) if (!columns.includes(k) && (r[k] === null || typeof r[k] !== 'object')) columns.push(k);
  return { summary, columns, rows };
}

/**
 * The honour roll answer read defensively: `[{zone_id, zone_name, volunteers: [{rank,
 * responder_id, name, points, earned, awarded}]}]`, grids by name.
 */
export function readHonour(v) {
  const zones = Array.isArray(v?.zones) ? v.zones : [];
  return zones.map((z) => ({
    zone_id: z.zone_id ?? null, zone_name: z.zone_name ?? z.zone_id ?? null,
    volunteers: (Array.isArray(z.volunteers) ? z.volunteers : []).map((l, i) => ({
      rank: num(l.rank) || i + 1, responder_id: String(l.responder_id ?? ''), name: String(l.name ?? l.responder_id ?? ''),
      kind: String(l.kind ?? ''), points: num(l.points), earned: num(l.earned), awarded: num(l.awarded),
    })),
  })).sort((a, b) => (a.zone_id === null) - (b.zone_id === null) || String(a.zone_name).localeCompare(String(b.zone_name)));
}
