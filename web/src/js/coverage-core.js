// The coverage layer's pure helpers (coverage-layer.js), apart so they can be tested in node.

/** Class of a cell with `secs` to reach it (null: nobody free). */
export function coverageClass(secs, targets) {
  if (secs === null || secs === undefined) return 'cov-none';
  if (secs > targets.travel_red_secs) return 'cov-red';
  if (secs > targets.travel_amber_secs) return 'cov-amber';
  return 'cov-ok';
}

/** Whether WGS-84 point (lat, lon) is inside a GeoJSON Polygon or MultiPolygon. */
export function inGeometry(g, lat, lon) {
  const polys = g?.type === 'Polygon' ? [g.coordinates] : g?.type === 'MultiPolygon' ? g.coordinates : [];
  const inRing = (ring) => {
    let inside = false;
    for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
      const [xi, yi] = ring[i]; const [xj, yj] = ring[j];
      if ((yi > lat) !== (yj > lat) && lon < ((xj - xi) * (lat - yi)) / (yj - yi) + xi) inside = !inside;
    }
    return inside;
  };
  return polys.some((p) => p.length && inRing(p[0]) && !p.slice(1).some(inRing));
}
