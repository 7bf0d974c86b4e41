// The 喜邻 merchants and grid stations (网格驿站) as a map layer: stations and shops with
// their own icons, a tooltip with name, opening hours and number of offers.
import { apiAll, h, text } from './common.js';
import { merchantIcon, merchantTooltip } from './merchants-core.js';

/**
 * A layer group for map `M` (from map.js) and its `load()` (reads `/api/v1/merchants`)
 * and `draw()` (again, e.g. after a language switch).
 */
export function merchantsLayer(M, t) {
  const L = window.L;
  const group = L.layerGroup();
  let list = [];
  function draw() {
    group.clearLayers();
    for (const m of list) {
      const ic = merchantIcon(m);
      const icon = L.divIcon({
        className: ic.className,
        html: h('span', { dataset: { merchant: m.id } }, ic.glyph),
        iconSize: [ic.size, ic.size],
      });
      group.addLayer(L.marker(M.toMap(m.lat, m.lon), { icon, zIndexOffset: -500 }).bindTooltip(text(merchantTooltip(m, t))));
    }
  }
  async function load() {
    try { list = await apiAll('/api/v1/merchants'); } catch { list = []; /* a server without merchants */ }
    draw();
  }
  return { group, load, draw };
}
