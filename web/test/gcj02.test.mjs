// The WGS-84 <-> GCJ-02 transform against published reference pairs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  wgs84ToGcj02, gcj02ToWgs84, gcj02ToBd09, bd09ToGcj02, bd09ToWgs84, projectionFor, outOfChina,
} from '../src/js/gcj02.js';

/** Within `tol` degrees (1e-6° ≈ 0.1 m). */
function near(actual, expected, tol, what) {
  assert.ok(Math.abs(actual[0] - expected[0]) < tol && Math.abs(actual[1] - expected[1]) < tol,
    `${what}: got ${actual}, expected ${expected}`);
}

test('wgs84 -> gcj02 matches the reference pairs', () => {
  near(wgs84ToGcj02(31.1774276, 121.5272106), [31.17530398364597, 121.531541859215], 1e-9, 'shanghai');
  near(wgs84ToGcj02(22.543847, 113.912316), [22.540796131694766, 113.9171764808363], 1e-9, 'shenzhen');
  near(wgs84ToGcj02(39.911954, 116.377817), [39.91334545536069, 116.38404722455657], 1e-9, 'beijing');
  near(wgs84ToGcj02(39.915, 116.404), [39.91640428150164, 116.41024449916938], 1e-9, 'tiananmen');
});

test('gcj02 <-> bd09 match the reference pairs', () => {
  near(gcj02ToBd09(39.915, 116.404), [39.92133699351021, 116.41036949371029], 1e-9, 'gcj->bd');
  near(bd09ToGcj02(39.915, 116.404), [39.90865673957631, 116.39762729119315], 1e-9, 'bd->gcj');
});

test('bd09 -> wgs84 matches the reference pairs within 50 m', () => {
  // These published pairs come from Baidu's own conversion service, which differs from the
  // standard formula by 10–40 m here (the gcj<->bd formula pairs above match to 1e-9), so
  // this only checks that we land on the same spot of the street, not the same millimetre.
  near(bd09ToWgs84(29.199786, 120.019809), [29.196131605295484, 120.00877901149691], 5e-4, 'pair 1');
  near(bd09ToWgs84(29.210504, 120.036455), [29.206795749156136, 120.0253853970846], 5e-4, 'pair 2');
});

test('gcj02 -> wgs84 inverts the forward transform', () => {
  for (const [lat, lon] of [[31.1774276, 121.5272106], [22.543847, 113.912316], [39.911954, 116.377817], [45.75, 126.63]]) {
    const g = wgs84ToGcj02(lat, lon);
    near(gcj02ToWgs84(g[0], g[1]), [lat, lon], 1e-8, `round trip ${lat},${lon}`);
  }
});

test('outside China nothing moves', () => {
  assert.ok(outOfChina(48.8566, 2.3522));
  assert.deepEqual(wgs84ToGcj02(48.8566, 2.3522), [48.8566, 2.3522]);
  assert.deepEqual(gcj02ToWgs84(48.8566, 2.3522), [48.8566, 2.3522]);
});

test('projectionFor picks the transform from console.tiles.crs', () => {
  assert.deepEqual(projectionFor('wgs84').toMap(31.1, 121.5), [31.1, 121.5]);
  const p = projectionFor('gcj02');
  near(p.toMap(31.1774276, 121.5272106), [31.17530398364597, 121.531541859215], 1e-9, 'gcj toMap');
  near(p.fromMap(31.17530398364597, 121.531541859215), [31.1774276, 121.5272106], 1e-8, 'gcj fromMap');
});
