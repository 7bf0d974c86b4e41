// The offline base map (docs/roads.md, "Base map"): when no tile server is set and the
// server has one, each map tile is fetched as JSON from `/api/v1/basemap/{z}/{x}/{y}` (the
// features in tile coordinates, 0–4096 across) and drawn on a canvas: water and buildings
// filled, railways and waterways, roads styled by class, street names along their roads.
// The data is WGS-84 web mercator, as the map is when there is no tile server.

/** How each kind is drawn, at zoom 15: line width (px), colour, dash; areas fill. */
export const STYLE = {
  water: { fill: '#1d4f7a' },
  island: { fill: '#17212b' },
  building: { fill: '#4b5767', stroke: '#5d6a7b' },
  stream: { color: '#2f6fa8', width: 1.2 },
  river: { color: '#2f6fa8', width: 4 },
  rail: { color: '#8e97a3', width: 1.6, dash: [6, 4] },
  path: { color: '#93a48a', width: 1, dash: [3, 3] },
  service: { color: '#6c7888', width: 1.6 },
  street: { color: '#97a3b2', width: 3 },
  tertiary: { color: '#c2c8d0', width: 4.5 },
  secondary: { color: '#d8cf8a', width: 5.5 },
  primary: { color: '#e6b85c', width: 6.5 },
  trunk: { color: '#ec9a4a', width: 7.5 },
  motorway: { color: '#ee7d4a', width: 8.5 },
};
/** Drawing order, bottom first: water, the land of its islands over it (the map's own
 * background colour, as in the CSS), buildings, then water lines and rails, then roads
 * minor to major. */
export const ORDER = ['water', 'island', 'building', 'stream', 'river', 'rail', 'path', 'service', 'street', 'tertiary', 'secondary', 'primary', 'trunk', 'motorway'];
/** Kinds whose features are roads (for the tile's `data-roads`). */
const ROADS = new Set(['path', 'service', 'street', 'tertiary', 'secondary', 'primary', 'trunk', 'motorway']);

/** Line width at zoom `z`: the zoom-15 width, halved for each two levels out, grown in. */
export function widthAt(style, z) {
  return Math.max(0.6, style.width * 2 ** ((z - 15) / 2));
}

/** Where a name goes along a line of points [[x, y], …] (pixels): a stretch as long as the
 * text and nearly straight (no point off its chord by more than 3 px), tried from the
 * line's middle outwards; its centre and angle, kept upright; `null` where none fits. */
export function labelSpot(points, textWidth) {
  const at = [0];
  for (let i = 1; i < points.length; i++) at.push(at[i - 1] + Math.hypot(points[i][0] - points[i - 1][0], points[i][1] - points[i - 1][1]));
  const total = at[at.length - 1];
  const need = textWidth + 8;
  if (!(total >= need)) return null;
  /** The point `d` pixels along the line. */
  const along = (d) => {
    let i = 1;
    while (i < at.length - 1 && at[i] < d) i++;
    const f = at[i] === at[i - 1] ? 0 : (d - at[i - 1]) / (at[i] - at[i - 1]);
    return [points[i - 1][0] + f * (points[i][0] - points[i - 1][0]), points[i - 1][1] + f * (points[i][1] - points[i - 1][1])];
  };
  for (const share of [0.5, 0.35, 0.65, 0.2, 0.8]) {
    const from = Math.min(Math.max(0, share * total - need / 2), total - need);
    const a = along(from); const b = along(from + need);
    const chord = Math.hypot(b[0] - a[0], b[1] - a[1]);
    if (chord < textWidth) continue;
    const off = (p) => Math.abs((b[0] - a[0]) * (a[1] - p[1]) - (a[0] - p[0]) * (b[1] - a[1])) / chord;
    if (points.some((p, i) => at[i] > from && at[i] < from + need && off(p) > 3)) continue;
    let angle = Math.atan2(b[1] - a[1], b[0] - a[0]);
    if (angle > Math.PI / 2) angle -= Math.PI;
    if (angle < -Math.PI / 2) angle += Math.PI;
    return { x: (a[0] + b[0]) / 2, y: (a[1] + b[1]) / 2, angle };
  }
  return null;
}

/** Draws one tile's answer on a 2D context `size` pixels square; returns what it drew. */
export function drawTile(ctx, tile, z, size) {
  const k = size / (tile.extent || 4096);
  const byKind = new Map();
  for (const f of tile.features || []) {
    if (!STYLE[f.k]) continue;
    if (!byKind.has(f.k)) byKind.set(f.k, []);
    byKind.get(f.k).push(f);
  }
  const pts = (g) => { const out = []; for (let i = 0; i + 1 < g.length; i += 2) out.push([g[i] * k, g[i + 1] * k]); return out; };
  const trace = (p) => { ctx.moveTo(p[0][0], p[0][1]); for (let i = 1; i < p.length; i++) ctx.lineTo(p[i][0], p[i][1]); };
  ctx.lineCap = 'round'; ctx.lineJoin = 'round';
  let roads = 0;
  for (const kind of ORDER) {
    const list = byKind.get(kind);
    if (!list) continue;
    const s = STYLE[kind];
    ctx.beginPath();
    for (const f of list) trace(pts(f.g));
    if (s.fill) {
      ctx.fillStyle = s.fill; ctx.fill();
      if (s.stroke && z >= 16) { ctx.strokeStyle = s.stroke; ctx.lineWidth = 0.8; ctx.setLineDash([]); ctx.stroke(); }
    } else {
      const w = widthAt(s, z);
      ctx.setLineDash(s.dash && z >= 14 ? s.dash : []);
      // Major roads get a dark casing, so crossings and parallel roads read apart.
      if (w >= 3 && !s.dash) { ctx.strokeStyle = '#101820'; ctx.lineWidth = w + 1.5; ctx.stroke(); }
      ctx.strokeStyle = s.color; ctx.lineWidth = w; ctx.stroke();
    }
    if (ROADS.has(kind)) roads += list.length;
  }
  ctx.setLineDash([]);
  const labels = drawLabels(ctx, tile.features || [], pts, size);
  return { features: (tile.features || []).length, roads, labels };
}

/** Names along their roads (and on rivers), the major ones placed first, each name once a
 * tile, none overlapping another or the tile's edge. */
function drawLabels(ctx, features, pts, size) {
  const placed = [];
  const names = new Set();
  ctx.font = '600 11px system-ui, "Noto Sans", "Noto Sans CJK SC", sans-serif';
  ctx.textAlign = 'center'; ctx.textBaseline = 'middle';
  const ranked = features.filter((f) => f.n && !STYLE[f.k]?.fill).sort((a, b) => ORDER.indexOf(b.k) - ORDER.indexOf(a.k));
  for (const f of ranked) {
    if (names.has(f.n)) continue;
    const w = ctx.measureText(f.n).width;
    const spot = labelSpot(pts(f.g), w);
    if (!spot) continue;
    // The rotated text's bounding box, with a little room.
    const hx = Math.abs(Math.cos(spot.angle)) * (w / 2 + 4) + Math.abs(Math.sin(spot.angle)) * 8;
    const hy = Math.abs(Math.sin(spot.angle)) * (w / 2 + 4) + Math.abs(Math.cos(spot.angle)) * 8;
    const box = { x0: spot.x - hx, x1: spot.x + hx, y0: spot.y - hy, y1: spot.y + hy };
    if (box.x0 < 2 || box.y0 < 2 || box.x1 > size - 2 || box.y1 > size - 2) continue;
    if (placed.some((b) => b.x0 < box.x1 && box.x0 < b.x1 && b.y0 < box.y1 && box.y0 < b.y1)) continue;
    placed.push(box); names.add(f.n);
    ctx.save();
    ctx.translate(spot.x, spot.y); ctx.rotate(spot.angle);
    ctx.lineWidth = 3; ctx.strokeStyle = 'rgba(16, 24, 32, 0.9)'; ctx.strokeText(f.n, 0, 0);
    ctx.fillStyle = f.k === 'river' || f.k === 'stream' ? '#9cc8ef' : '#f1f3f5'; ctx.fillText(f.n, 0, 0);
    ctx.restore();
  }
  return [...names];
}

/**
 * The base map as a Leaflet layer. `headers` go with each tile request (the field app's
 * HTTP Basic login; the console's session cookie goes by itself).
 */
export function basemapLayer({ headers = {} } = {}) {
  const L = window.L;
  const Layer = L.GridLayer.extend({
    createTile(coords, done) {
      const size = this.getTileSize();
      const dpr = Math.min(window.devicePixelRatio || 1, 2);
      const canvas = L.DomUtil.create('canvas', 'basemap-tile');
      canvas.width = size.x * dpr; canvas.height = size.y * dpr;
      canvas.style.width = `${size.x}px`; canvas.style.height = `${size.y}px`;
      canvas.dataset.tile = `${coords.z}/${coords.x}/${coords.y}`;
      fetch(`/api/v1/basemap/${coords.z}/${coords.x}/${coords.y}`, { headers })
        .then((r) => (r.ok ? r.json() : Promise.reject(new Error(`base map tile: ${r.status}`))))
        .then((tile) => {
          const ctx = canvas.getContext('2d');
          ctx.scale(dpr, dpr);
          const drew = drawTile(ctx, tile, coords.z, size.x);
          canvas.dataset.features = String(drew.features);
          canvas.dataset.roads = String(drew.roads);
          canvas.dataset.labels = drew.labels.join('|');
          done(null, canvas);
        })
        .catch((e) => { canvas.dataset.error = String(e.message || e); done(null, canvas); });
      return canvas;
    },
  });
  return new Layer({
    maxNativeZoom: 20, maxZoom: 22, tileSize: 256, className: 'basemap-layer',
    attribution: '© OpenStreetMap contributors',
  });
}
