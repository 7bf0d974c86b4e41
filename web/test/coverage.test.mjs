// The coverage layer's pure helpers (coverage-core.js).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { coverageClass, inGeometry } from '../src/js/coverage-core.js';

const targets = { travel_amber_secs: 300, travel_red_secs: 600 };

test('a cell is green up to the amber target, amber up to red, red beyond, grey with nobody', () => {
  assert.equal(coverageClass(0, targets), 'cov-ok');
  assert.equal(coverageClass(300, targets), 'cov-ok');
  assert.equal(coverageClass(301, targets), 'cov-amber');
  assert.equal(coverageClass(600, targets), 'cov-amber');
  assert.equal(coverageClass(601, targets), 'cov-red');
  assert.equal(coverageClass(null, targets), 'cov-none');
});

test('the zone under the map centre: inside a polygon, not in its hole, any part of a multipolygon', () => {
  const square = [[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]];
  const hole = [[4, 4], [6, 4], [6, 6], [4, 6], [4, 4]];
  const poly = { type: 'Polygon', coordinates: [square, hole] };
  assert.ok(inGeometry(poly, 2, 2));
  assert.ok(!inGeometry(poly, 5, 5), 'in the hole');
  assert.ok(!inGeometry(poly, 11, 2));
  const far = [[20, 20], [30, 20], [30, 30], [20, 30], [20, 20]];
  assert.ok(inGeometry({ type: 'MultiPolygon', coordinates: [[square], [far]] }, 25, 25));
  assert.ok(!inGeometry({ type: 'Point', coordinates: [1, 1] }, 1, 1));
});
