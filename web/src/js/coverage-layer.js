// The live coverage map as a layer of the operator's map (GET /api/v1/coverage; docs/roads.md
// "Coverage map"): each cell of a zone coloured by how soon the nearest free, on-duty
// responder could be there, amber and red past `console.targets.travel_amber_secs` and
// `travel_red_secs`. A button toggles it; a chooser picks the zone, by default the one under
// the map's centre. While shown it is fetched again every 12 s and soon after a responder
// changes (the server keeps each answer a few seconds, so polls cost little).
import { api, apiAll, h, text } from './common.js';
import { coverageClass, inGeometry } from './coverage-core.js';

const L = window.L;
/** Seconds between refreshes while the layer is shown. */
const REFRESH_MS = 12000;

const minutes = (s) => (s < 60 ? `${Math.round(s)} s` : `${Math.round(s / 60)} min`);

/** The layer for map `M` (map.js) with the console's `targets`. */
export function coverageLayer(M, targets) {
  const group = L.layerGroup();
  let zones = [];
  let zone = ''; // '' = the zone under the map's centre
  let timer = null;
  let soon = null;
  const select = h('select.cov-zone', { title: 'Zone / 区域', onchange: () => { zone = select.value; refresh(); } });
  const status = h('span.cov-status', {});
  const button = h('button.small.cov-toggle', { type: 'button', onclick: () => (M.map.hasLayer(group) ? hide() : show()) }, '覆盖 / Coverage');
  const legend = h('span.cov-legend', {},
    h('i.cov-ok', {}), `≤ ${minutes(targets.travel_amber_secs)}`, ' ', h('i.cov-amber', {}), `> ${minutes(targets.travel_amber_secs)}`, ' ',
    h('i.cov-red', {}), `> ${minutes(targets.travel_red_secs)}`, ' ', h('i.cov-none', {}), '—');
  const panel = h('div.cov-panel', {}, button, h('span.cov-more', { hidden: true }, select, legend, status));
  const Control = L.Control.extend({ onAdd: () => { L.DomEvent.disableClickPropagation(panel); return panel; } });
  new Control({ position: 'topright' }).addTo(M.map);

  function zoneAtCentre() {
    const c = M.fromMap(M.map.getCenter());
    return zones.find((z) => inGeometry(z.geometry, c.lat, c.lon))?.properties?.id || zones[0]?.properties?.id || '';
  }

  async function show() {
    group.addTo(M.map);
    button.classList.add('on');
    panel.querySelector('.cov-more').hidden = false;
    try { zones = (await apiAll('/api/v1/zones')).features || []; } catch { zones = []; }
    select.replaceChildren(h('option', { value: '' }, 'Map centre / 地图中心'),
      ...zones.map((z) => h('option', { value: z.properties.id }, z.properties.name || z.properties.id)));
    select.value = zone;
    await refresh();
  }

  function hide() {
    clearTimeout(timer); clearTimeout(soon);
    group.remove();
    group.clearLayers();
    button.classList.remove('on');
    panel.querySelector('.cov-more').hidden = true;
  }

  async function refresh() {
    clearTimeout(timer);
    if (!M.map.hasLayer(group)) return;
    const id = zone || zoneAtCentre();
    try {
      if (!id) { status.textContent = 'No zones / 无区域'; return; }
      const m = await api('GET', `/api/v1/coverage?zone=${encodeURIComponent(id)}`);
      draw(m);
      status.textContent = `${id}: ${m.cells.length} · ${m.responders} free / 空闲${m.roads ? ' · roads' : ''}`;
    } catch (e) {
      group.clearLayers();
      status.textContent = e.message;
    } finally {
      if (M.map.hasLayer(group)) timer = setTimeout(refresh, REFRESH_MS);
    }
  }

  function draw(m) {
    group.clearLayers();
    for (const c of m.cells) {
      const [[s, w], [n, e]] = c.bounds;
      const cls = coverageClass(c.best_secs, targets);
      const r = L.rectangle(L.latLngBounds(M.toMap(s, w), M.toMap(n, e)), { className: `cov-cell ${cls}`, weight: 0.5, fillOpacity: 0.35, interactive: true });
      const best = c.best_mode ? c[c.best_mode] : null;
      r.bindTooltip(best ? text(`${minutes(c.best_secs)} · ${c.best_mode} · ${best.responder_id} (${best.eta_source})`) : 'Nobody free / 无人可派', { sticky: true });
      group.addLayer(r);
    }
  }

  /** A responder changed: refresh soon, once for a burst. */
  function poke() {
    if (!M.map.hasLayer(group)) return;
    clearTimeout(soon);
    soon = setTimeout(refresh, 1500);
  }

  M.map.on('moveend', () => { if (!zone && M.map.hasLayer(group)) poke(); });
  return { group, show, hide, refresh, poke };
}
