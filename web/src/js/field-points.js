// The field app's points view (志愿服务积分): the balance (and what is reserved for codes
// not yet used), the history with each line's cause, and the catalogue of offers nearest
// first. Picking an offer redeems it (`POST /api/v1/redemptions` with the worker's own
// MQTT login as HTTP Basic) and shows the one-time code as big digits and as a QR code,
// with the time left. A redemption that got no answer keeps its `request_id`, so trying
// again is the same redemption, never a second one.
import { renderSVG } from '/assets/vendor/uqr/uqr.mjs';
import { t, hasKey } from './i18n.js';
import { h } from './common.js';

/** `Authorization` for the worker's login (UTF-8 safe). */
function basic({ username, password }) {
  return `Basic ${btoa(unescape(encodeURIComponent(`${username}:${password}`)))}`;
}

/** What a history line was for, in words. */
export function causeText(line, tr = t) {
  const c = line.cause || {};
  if (c.type === 'incident') {
    const kind = c.kind && hasKey(`k_${c.kind}`) ? tr(`k_${c.kind}`) : c.kind;
    return [kind, c.title && c.title !== c.kind ? c.title : null, c.id].filter(Boolean).join(' · ');
  }
  if (c.type === 'award') return c.reason || '';
  if (c.type === 'redemption') return c.offer_title || '';
  return line.note || '';
}

/** `m:ss` left until `expiresAt` (ms), or null once it passed. */
export function timeLeft(expiresAt, now = Date.now()) {
  const s = Math.ceil((expiresAt - now) / 1000);
  if (s <= 0) return null;
  return { m: String(Math.floor(s / 60)), s: String(s % 60).padStart(2, '0') };
}

function distance(m) {
  if (m == null) return '';
  return m < 1000 ? `${Math.round(m)} m` : `${(m / 1000).toFixed(1)} km`;
}

/**
 * Binds the points button and view. `ctx`: `login()` → `{username, password}`,
 * `position()` → a browser position or null, `notice(message, kind, key)`.
 */
export function bindPoints(ctx) {
  const st = { account: null, history: [], offers: [], code: null, pending: null, busy: false, timer: null };
  const open = document.getElementById('points-open');
  const view = document.getElementById('points-view');
  const list = document.getElementById('list-view');
  const show = (on) => {
    view.hidden = !on;
    list.hidden = on;
    if (on) load(); else stopTimer();
  };
  open.onclick = () => show(true);

  async function get(path) {
    const resp = await fetch(path, { headers: { Authorization: basic(ctx.login()) } });
    if (!resp.ok) throw new Error(String(resp.status));
    return resp.json();
  }

  async function load() {
    const rid = encodeURIComponent(ctx.login().username);
    const p = ctx.position();
    const near = p ? `?lat=${p.coords.latitude}&lon=${p.coords.longitude}` : '';
    try {
      [st.account, st.history, st.offers] = await Promise.all([
        get(`/api/v1/points/accounts/${rid}`),
        get(`/api/v1/points/accounts/${rid}/history?limit=50`),
        get(`/api/v1/offers${near}`),
      ]);
    } catch (e) {
      ctx.notice(`${t('fp_load_failed')}: ${e.message}`, 'bad', 'points');
    }
    render();
  }

  async function redeem(offer) {
    // Kept until answered: a retry after no answer is the same redemption.
    if (!st.pending || st.pending.offer_id !== offer.id) {
      st.pending = { offer_id: offer.id, request_id: `rd-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}` };
    }
    st.busy = true;
    render();
    try {
      const resp = await fetch('/api/v1/redemptions', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Authorization: basic(ctx.login()) },
        body: JSON.stringify(st.pending),
      });
      const answer = await resp.json().catch(() => ({}));
      st.pending = null;
      if (resp.status === 201 || resp.status === 200) {
        st.code = answer;
        startTimer();
        await load();
      } else {
        ctx.notice(`${t('fp_refused')}: ${answer.error || resp.status}`, 'bad', 'points');
      }
    } catch {
      ctx.notice(t('fp_offline'), 'warn', 'points');
    } finally {
      st.busy = false;
      render();
    }
  }

  function stopTimer() {
    if (st.timer) clearInterval(st.timer);
    st.timer = null;
  }

  function startTimer() {
    stopTimer();
    st.timer = setInterval(() => {
      const el = document.getElementById('redeem-countdown');
      if (!el || !st.code) { stopTimer(); return; }
      const left = timeLeft(Date.parse(st.code.expires_at));
      el.textContent = left ? t('fp_code_left', left) : t('fp_code_expired');
      if (!left) { stopTimer(); load(); }
    }, 1000);
  }

  function codePanel() {
    const c = st.code;
    const qr = h('div.redeem-qr#redeem-qr', { role: 'img', 'aria-label': c.code });
    // Digits only, made by the library: no text from anywhere else goes in.
    qr.innerHTML = renderSVG(c.code, { border: 2 });
    const left = timeLeft(Date.parse(c.expires_at));
    return h('div.redeem-code-panel', {},
      h('h2', {}, t('fp_code_title')),
      h('p.redeem-offer', {}, `${c.offer_title} · ${t('points_n', { n: c.points })}`),
      h('div.redeem-code#redeem-code', { dataset: { code: c.code } }, `${c.code.slice(0, 4)} ${c.code.slice(4)}`),
      qr,
      h('p.redeem-countdown#redeem-countdown', {}, left ? t('fp_code_left', left) : t('fp_code_expired')),
      h('button.ghost#redeem-done', { onclick: () => { st.code = null; stopTimer(); render(); } }, t('fp_code_done')));
  }

  function render() {
    if (view.hidden) return;
    const a = st.account;
    const balance = a ? a.balance : 0;
    // replaceChildren would show a null as the text "null".
    view.replaceChildren(...[
      h('button.ghost.small#points-back', { onclick: () => show(false) }, `← ${t('back')}`),
      h('h1', {}, t('fp_title')),
      h('div.points-balance', {},
        h('span.points-big#points-balance', {}, a ? String(a.balance) : '…'),
        h('span.muted', {}, ` ${t('fp_balance')}`),
        a && a.reserved ? h('p.muted#points-reserved', {}, t('fp_reserved', { n: a.reserved })) : null),
      st.code ? codePanel() : null,
      h('h2', {}, t('fp_catalogue')),
      h('ul.points-offers#points-offers', {}, ...(st.offers.length ? st.offers.map((o) => h('li', { dataset: { offer: o.id } },
        h('div.offer-title', {}, o.title),
        h('div.muted', {}, [o.merchant && o.merchant.name, o.distance_m != null ? t('fp_away', { d: distance(o.distance_m) }) : null].filter(Boolean).join(' · ')),
        h('button.primary.small', { disabled: st.busy || o.points > balance, onclick: () => redeem(o) },
          `${st.busy ? t('fp_redeeming') : t('fp_redeem')} · ${t('points_n', { n: o.points })}`))) : [h('li.muted', {}, t('fp_no_offers'))])),
      h('h2', {}, t('fp_history')),
      h('ul.points-history#points-history', {}, ...(st.history.length ? st.history.map((l) => {
        const change = l.change || l.reserved_change || 0;
        return h('li', { dataset: { kind: l.kind, cause: (l.cause && l.cause.id) || '' } },
          h(`span.points-change${change < 0 ? '.minus' : ''}`, {}, change > 0 ? `+${change}` : String(change)),
          h('span.points-kind', {}, t(`fp_kind_${l.kind}`)),
          h('span.points-cause', {}, causeText(l)),
          h('span.muted.points-at', {}, new Date(l.at).toLocaleString()));
      }) : [h('li.muted', {}, t('fp_no_history'))])),
    ].filter(Boolean));
  }
}
