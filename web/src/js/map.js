// The map both views share: Leaflet, the configured base map (the tile server; else the
// offline base map drawn from the imported roads, docs/roads.md; else a plain background),
// and the display projection (GCJ-02 for Chinese tile services; the API is always WGS-84).
import { projectionFor } from './gcj02.js';
import { basemapLayer } from './basemap-layer.js';

const L = window.L;

/**
 * Creates the map in `el` from the config's `tiles`. With no tile server and `basemap`
 * (the config says the server has one) the offline base map is drawn instead, its tile
 * requests carrying `headers` (the field app's login).
 */
export function createMap(el, tiles, { basemap = false, headers } = {}) {
  const offline = !tiles.url && basemap;
  // The offline base map is WGS-84 like the API: nothing to shift.
  const crs = offline ? 'wgs84' : tiles.crs;
  const proj = projectionFor(crs);
  const map = L.map(el, { zoomControl: true, preferCanvas: false, attributionControl: true, maxZoom: tiles.max_zoom || 19 });
  if (tiles.url) {
    L.tileLayer(tiles.url, { attribution: escapeText(tiles.attribution || ''), maxZoom: tiles.max_zoom || 19, subdomains: '1234' }).addTo(map);
  } else if (offline) {
    el.classList.add('basemap');
    el.dataset.basemap = 'on';
    basemapLayer({ headers }).addTo(map);
    map.attributionControl.setPrefix('griddispatch');
  } else {
    el.classList.add('no-tiles');
    map.attributionControl.setPrefix('griddispatch');
  }
  map.setView([31.2304, 121.4737], 12);
  /** WGS-84 [lat, lon] → map LatLng. */
  const toMap = (lat, lon) => L.latLng(...proj.toMap(lat, lon));
  /** Map LatLng → WGS-84 {lat, lon}. */
  const fromMap = (ll) => { const [lat, lon] = proj.fromMap(ll.lat, ll.lng); return { lat, lon }; };
  /** A GeoJSON geometry's coordinates moved into the map's system. */
  const geoToMap = (geojson) => mapCoords(geojson, (lon, lat) => { const p = proj.toMap(lat, lon); return [p[1], p[0]]; });
  /** Back from the map's system to WGS-84. */
  const geoFromMap = (geojson) => mapCoords(geojson, (lon, lat) => { const p = proj.fromMap(lat, lon); return [p[1], p[0]]; });
  return { map, toMap, fromMap, geoToMap, geoFromMap, crs };
}

function escapeText(s) {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
}

/** Deep copy of a GeoJSON object with every [lon, lat] position passed through `f`. */
export function mapCoords(g, f) {
  if (Array.isArray(g)) {
    if (typeof g[0] === 'number') return f(g[0], g[1]);
    return g.map((x) => mapCoords(x, f));
  }
  if (g && typeof g === 'object') {
    const out = {};
    for (const [k, v] of Object.entries(g)) out[k] = (k === 'coordinates' || k === 'geometry' || k === 'features' || k === 'geometries') ? mapCoords(v, f) : v;
    return out;
  }
  return g;
}

/** Zone style: grids solid, beats dashed. */
export function zoneStyle(feature) {
  const beat = feature?.properties?.kind === 'beat';
  return { color: beat ? '#7c8db5' : '#3fa7d6', weight: beat ? 1.5 : 2, dashArray: beat ? '6 4' : null, fillOpacity: 0.06 };
}

/** Fits the map to the zones, if any. A map whose box has no size yet (the page is still
 * being laid out, e.g. right after the sign-in redirect) would fit to its maximum zoom, so
 * the fit waits for the box, up to two seconds. */
export function fitTo(map, layer, tries = 20) {
  let b;
  try { b = layer.getBounds(); } catch { return; /* empty layer */ }
  if (!b.isValid()) return;
  map.invalidateSize();
  const size = map.getSize();
  if ((size.x < 50 || size.y < 50) && tries > 0) {
    setTimeout(() => fitTo(map, layer, tries - 1), 100);
    return;
  }
  map.fitBounds(b, { padding: [20, 20], animate: false });
}
