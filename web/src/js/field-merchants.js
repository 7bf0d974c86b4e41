// 喜邻 merchants and grid stations on the field app's small map: read once per login
// (`GET /api/v1/merchants` with the worker's MQTT login as HTTP Basic) and drawn as small
// markers that do not take part in fitting the map to the task.
import { merchantIcon, merchantTooltip } from './merchants-core.js';

let known = { username: null, list: null, loading: null };

/** The merchants for `login`, if already read; else starts reading and returns null. */
export function merchantsFor(login, onLoaded) {
  if (known.username !== login.username) known = { username: login.username, list: null, loading: null };
  if (known.list) return known.list;
  if (!known.loading) {
    const mine = known;
    mine.loading = fetch('/api/v1/merchants', { headers: { Authorization: `Basic ${btoa(`${login.username}:${login.password}`)}` } })
      .then((r) => (r.ok ? r.json() : []))
      .catch(() => [])
      .then((list) => { mine.list = Array.isArray(list) ? list : []; if (known === mine) onLoaded(); });
  }
  return null;
}

/** A text node's holder: a tooltip given a string would read it as HTML. */
function textOf(s) {
  const el = document.createElement('span');
  el.textContent = s;
  return el;
}

/** Adds the merchants' markers to map `m` (from map.js). */
export function drawMerchants(m, list, t) {
  const L = window.L;
  for (const x of list) {
    const ic = merchantIcon(x);
    const span = document.createElement('span');
    span.textContent = ic.glyph;
    span.dataset.merchant = x.id;
    const icon = L.divIcon({ className: ic.className, html: span, iconSize: [ic.size, ic.size] });
    L.marker(m.toMap(x.lat, x.lon), { icon, zIndexOffset: -500, keyboard: false }).bindTooltip(textOf(merchantTooltip(x, t)), { direction: 'top' }).addTo(m.map);
  }
}
