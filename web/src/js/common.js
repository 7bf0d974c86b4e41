// What every page shares: the API client, the session, the header bar, small DOM helpers.
import { t, setLang, currentLang, LANGUAGES, applyI18n, onLangChange, hasKey } from './i18n.js';

/** An API answer that was not 2xx; `status` and the server's `error` text. */
export class ApiError extends Error {
  constructor(status, message, body) { super(message); this.status = status; this.body = body; }
}

/**
 * Calls the API with the session cookie. JSON in and out; a non-JSON body (CSV) is sent as
 * is with `contentType`. A 401 outside the session calls sends the page to /login.
 */
export async function api(method, path, body, contentType) {
  return (await request(method, path, body, contentType)).data;
}

/**
 * GETs every page of a list and joins them (docs/contract.md, "Lists and pages"): follows
 * the `X-Next-Cursor` header with `?cursor=`. A GeoJSON FeatureCollection (zones) joins its
 * `features`. Lists the console shows whole (the map's cameras, responders, zones) use it,
 * so a county past one page (5000) still sees everything.
 */
export async function apiAll(path) {
  let all = null;
  let cursor = null;
  for (let pages = 0; pages < 10000; pages++) {
    const sep = path.includes('?') ? '&' : '?';
    const url = cursor ? `${path}${sep}cursor=${encodeURIComponent(cursor)}` : path;
    const { data, next } = await request('GET', url);
    if (Array.isArray(data)) all = (all || []).concat(data);
    else if (data && Array.isArray(data.features)) {
      all = all ? { ...all, features: all.features.concat(data.features) } : data;
    } else return data;
    if (!next) break;
    cursor = next;
  }
  return all;
}

/** One page of a list: `{data, next}`, `next` being the `X-Next-Cursor` for `?cursor=`, or null. */
export async function apiPage(path) {
  return request('GET', path);
}

/** One API call: its JSON (or text) and the next page's cursor, if any. */
async function request(method, path, body, contentType) {
  const opts = { method, credentials: 'same-origin', headers: {} };
  if (body !== undefined) {
    if (contentType) { opts.headers['Content-Type'] = contentType; opts.body = body; }
    else { opts.headers['Content-Type'] = 'application/json'; opts.body = JSON.stringify(body); }
  }
  const res = await fetch(path, opts);
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = text; }
  if (!res.ok) {
    if (res.status === 401 && !path.startsWith('/api/v1/session')) location.assign('/login');
    const msg = (data && data.error) || `${res.status} ${res.statusText}`;
    const err = new ApiError(res.status, msg, data);
    err.retryAfter = res.headers.get('Retry-After');
    throw err;
  }
  return { data, next: res.headers.get('X-Next-Cursor') };
}

/** `h('div.cls', {attrs}, children…)`: a small element builder (text is never parsed as HTML). */
export function h(tag, attrs = {}, ...children) {
  const name = tag.match(/^[a-z0-9]*/i)[0];
  const id = (tag.match(/#([\w-]+)/) || [])[1];
  const classes = [...tag.matchAll(/\.([\w-]+)/g)].map((m) => m[1]);
  const el = document.createElement(name || 'div');
  if (id) el.id = id;
  if (classes.length) el.className = classes.join(' ');
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'value') el.value = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** A span holding `s` as text: for Leaflet tooltips, which would parse a string as HTML. */
export function text(s) {
  const el = document.createElement('span');
  el.textContent = s;
  return el;
}

/** `mm:ss` or `h:mm:ss` for a number of seconds. */
export function clock(secs) {
  const s = Math.max(0, Math.floor(secs));
  const hh = Math.floor(s / 3600);
  const mm = String(Math.floor((s % 3600) / 60)).padStart(2, '0');
  const ss = String(s % 60).padStart(2, '0');
  return hh ? `${hh}:${mm}:${ss}` : `${mm}:${ss}`;
}

/** A short age: 45s, 12m, 3h, 2d. */
export function age(secs) {
  const s = Math.max(0, Math.floor(secs));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

/** Local date and time of an RFC 3339 string or Unix ms. */
export function when(v) {
  if (v === null || v === undefined) return '—';
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? String(v) : d.toLocaleString(currentLang());
}

/** A short notice in the corner. */
export function toast(msg, kind = 'info') {
  let box = document.getElementById('toasts');
  if (!box) { box = h('div#toasts'); document.body.append(box); }
  const el = h(`div.toast.${kind}`, { role: 'status' }, msg);
  box.append(el);
  setTimeout(() => el.remove(), kind === 'error' ? 8000 : 4000);
}

/**
 * The signed-in user `{username, role}`, or a trip to /login. Before the session API
 * exists on a server (404) the page cannot know its user either, so it goes to /login too.
 */
export async function requireSession() {
  let user;
  try {
    user = await api('GET', '/api/v1/session');
  } catch (e) {
    location.assign('/login');
    throw e;
  }
  // A 喜邻 merchant's login sees only its own page.
  if (user.role === 'merchant') {
    location.assign('/merchant');
    return new Promise(() => {}); // the page is going away
  }
  return user;
}

/** Role order, as the API's. */
export const ROLE_RANK = { merchant: 0, viewer: 1, operator: 2, admin: 3 };

/** Fills the header bar: title, view switch, live status slot, language, user, sign out. */
export function header(user, view) {
  const bar = document.getElementById('topbar');
  const langSel = h('select#lang', { 'aria-label': 'language', name: 'lang', onchange: (e) => setLang(e.target.value) },
    LANGUAGES.map(([code, label]) => h('option', { value: code, selected: code === currentLang() }, label)));
  const links = [];
  if (view !== 'operator') links.push(h('a.navlink#nav-operator', { href: '/', 'data-i18n': 'open_operator' }));
  if (view !== 'reports') links.push(h('a.navlink#nav-reports', { href: '/reports', 'data-i18n': 'open_reports' }));
  if (view !== 'points') links.push(h('a.navlink#nav-points', { href: '/points', 'data-i18n': 'open_points' }));
  if (view !== 'admin' && user.role === 'admin') links.push(h('a.navlink#nav-admin', { href: '/admin', 'data-i18n': 'open_admin' }));
  const roleKey = `role_${user.role}`;
  bar.replaceChildren(
    h('div.brand', {}, h('span.logo', {}, '◉'), h('span', { 'data-i18n': 'app' }), h('span.sub', { 'data-i18n': { admin: 'admin', reports: 'reports', points: 'pt_area' }[view] || 'console' })),
    h('div.spacer'),
    h('span#live.pill', {}),
    h('span#clock.clock', {}),
    ...links,
    langSel,
    h('span.user', {}, `${user.username} · `, hasKey(roleKey) ? h('span#user-role', { 'data-i18n': roleKey }) : h('span#user-role', {}, user.role)),
    h('button.ghost#logout', {
      'data-i18n': 'logout',
      onclick: async () => {
        try { await api('DELETE', '/api/v1/session'); } catch { /* gone already */ }
        location.assign('/login');
      },
    }),
  );
  const tick = () => { const c = document.getElementById('clock'); if (c) c.textContent = new Date().toLocaleTimeString(currentLang(), { hour12: false }); };
  tick();
  setInterval(tick, 1000);
  applyI18n();
  onLangChange(() => { langSel.value = currentLang(); });
}

export { t, applyI18n, onLangChange, currentLang, hasKey };
