// WGS-84 <-> GCJ-02 (and BD-09) coordinate transforms. Chinese tile services (AutoNavi,
// Tencent) draw their maps in GCJ-02, a published obfuscation of WGS-84 that moves points by
// a few hundred metres; the API always speaks WGS-84, so the console shifts positions for
// display and shifts clicks back. Pure functions: also run under node's test runner.

const A = 6378245.0; // Krasovsky 1940 semi-major axis, as the standard algorithm uses.
const EE = 0.00669342162296594323; // its eccentricity squared
const X_PI = (Math.PI * 3000.0) / 180.0;

/** Whether a point lies outside mainland China, where GCJ-02 equals WGS-84. */
export function outOfChina(lat, lon) {
  return lon < 72.004 || lon > 137.8347 || lat < 0.8293 || lat > 55.8271;
}

function dLatRaw(x, y) {
  let r = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * Math.sqrt(Math.abs(x));
  r += ((20.0 * Math.sin(6.0 * x * Math.PI) + 20.0 * Math.sin(2.0 * x * Math.PI)) * 2.0) / 3.0;
  r += ((20.0 * Math.sin(y * Math.PI) + 40.0 * Math.sin((y / 3.0) * Math.PI)) * 2.0) / 3.0;
  r += ((160.0 * Math.sin((y / 12.0) * Math.PI) + 320 * Math.sin((y * Math.PI) / 30.0)) * 2.0) / 3.0;
  return r;
}

function dLonRaw(x, y) {
  let r = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * Math.sqrt(Math.abs(x));
  r += ((20.0 * Math.sin(6.0 * x * Math.PI) + 20.0 * Math.sin(2.0 * x * Math.PI)) * 2.0) / 3.0;
  r += ((20.0 * Math.sin(x * Math.PI) + 40.0 * Math.sin((x / 3.0) * Math.PI)) * 2.0) / 3.0;
  r += ((150.0 * Math.sin((x / 12.0) * Math.PI) + 300.0 * Math.sin((x / 30.0) * Math.PI)) * 2.0) / 3.0;
  return r;
}

/** The GCJ-02 offset [dLat, dLon] at a WGS-84 point. */
function delta(lat, lon) {
  let dLat = dLatRaw(lon - 105.0, lat - 35.0);
  let dLon = dLonRaw(lon - 105.0, lat - 35.0);
  const radLat = (lat / 180.0) * Math.PI;
  let magic = Math.sin(radLat);
  magic = 1 - EE * magic * magic;
  const sqrtMagic = Math.sqrt(magic);
  dLat = (dLat * 180.0) / (((A * (1 - EE)) / (magic * sqrtMagic)) * Math.PI);
  dLon = (dLon * 180.0) / ((A / sqrtMagic) * Math.cos(radLat) * Math.PI);
  return [dLat, dLon];
}

/** WGS-84 → GCJ-02: returns [lat, lon]. */
export function wgs84ToGcj02(lat, lon) {
  if (outOfChina(lat, lon)) return [lat, lon];
  const [dLat, dLon] = delta(lat, lon);
  return [lat + dLat, lon + dLon];
}

/**
 * GCJ-02 → WGS-84: returns [lat, lon]. The forward transform has no closed inverse, so this
 * iterates until the forward image of the answer is within ~1e-9° (sub-millimetre).
 */
export function gcj02ToWgs84(lat, lon) {
  if (outOfChina(lat, lon)) return [lat, lon];
  let wLat = lat;
  let wLon = lon;
  for (let i = 0; i < 30; i++) {
    const [gLat, gLon] = wgs84ToGcj02(wLat, wLon);
    const eLat = gLat - lat;
    const eLon = gLon - lon;
    wLat -= eLat;
    wLon -= eLon;
    if (Math.abs(eLat) < 1e-10 && Math.abs(eLon) < 1e-10) break;
  }
  return [wLat, wLon];
}

/** GCJ-02 → BD-09 (Baidu): returns [lat, lon]. */
export function gcj02ToBd09(lat, lon) {
  const z = Math.sqrt(lon * lon + lat * lat) + 0.00002 * Math.sin(lat * X_PI);
  const theta = Math.atan2(lat, lon) + 0.000003 * Math.cos(lon * X_PI);
  return [z * Math.sin(theta) + 0.006, z * Math.cos(theta) + 0.0065];
}

/** BD-09 (Baidu) → GCJ-02: returns [lat, lon]. */
export function bd09ToGcj02(lat, lon) {
  const x = lon - 0.0065;
  const y = lat - 0.006;
  const z = Math.sqrt(x * x + y * y) - 0.00002 * Math.sin(y * X_PI);
  const theta = Math.atan2(y, x) - 0.000003 * Math.cos(x * X_PI);
  return [z * Math.sin(theta), z * Math.cos(theta)];
}

/** BD-09 → WGS-84: returns [lat, lon]. */
export function bd09ToWgs84(lat, lon) {
  const [gLat, gLon] = bd09ToGcj02(lat, lon);
  return gcj02ToWgs84(gLat, gLon);
}

/**
 * The display projection for a tile CRS: `toMap` takes WGS-84 [lat, lon] to what the tiles
 * are drawn in, `fromMap` takes a map position back to WGS-84.
 */
export function projectionFor(crs) {
  if (crs === 'gcj02') return { toMap: wgs84ToGcj02, fromMap: gcj02ToWgs84 };
  return { toMap: (lat, lon) => [lat, lon], fromMap: (lat, lon) => [lat, lon] };
}
