// The offline base map's drawing (basemap-layer.js) without a browser: what a tile draws,
// in which order, and where names go.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { drawTile, labelSpot, widthAt, STYLE } from '../src/js/basemap-layer.js';

/** A 2D context that records what is stroked and filled, and the texts. */
function recorder() {
  const log = [];
  const ctx = {
    log, lineWidth: 1, strokeStyle: '', fillStyle: '',
    beginPath() {}, moveTo() {}, lineTo() {}, setLineDash() {}, save() {}, restore() {}, translate() {}, rotate() {},
    stroke() { log.push(['stroke', this.strokeStyle, this.lineWidth]); },
    fill() { log.push(['fill', this.fillStyle]); },
    measureText(s) { return { width: s.length * 6 }; },
    strokeText() {},
    fillText(s) { log.push(['text', s]); },
  };
  return ctx;
}

const tile = {
  extent: 4096,
  features: [
    { k: 'primary', n: 'Mannerheimintie', g: [100, 2000, 4000, 2000] },
    { k: 'street', n: 'Kaivokatu', g: [2000, 100, 2000, 300] },
    { k: 'water', g: [0, 0, 1000, 0, 1000, 1000, 0, 0] },
    { k: 'building', g: [3000, 3000, 3100, 3000, 3100, 3100, 3000, 3000] },
    { k: 'nonsense', g: [0, 0, 1, 1] },
  ],
};

test('a tile draws water and buildings under the roads, major roads last, and names that fit', () => {
  const ctx = recorder();
  const drew = drawTile(ctx, tile, 16, 256);
  assert.deepEqual(drew, { features: 5, roads: 2, labels: ['Mannerheimintie'] });
  const fills = ctx.log.filter((l) => l[0] === 'fill').map((l) => l[1]);
  assert.deepEqual(fills, [STYLE.water.fill, STYLE.building.fill]);
  const strokes = ctx.log.filter((l) => l[0] === 'stroke').map((l) => l[1]);
  assert.ok(strokes.lastIndexOf(STYLE.primary.color) > strokes.indexOf(STYLE.street.color));
  // Kaivokatu's 12-pixel stretch is too short for its name.
  assert.deepEqual(ctx.log.filter((l) => l[0] === 'text').map((l) => l[1]), ['Mannerheimintie']);
});

test('names go on a straight stretch of the line, across many short segments, upright', () => {
  // A street of 10-pixel pieces, straight: the name sits in its middle.
  const street = Array.from({ length: 21 }, (_, i) => [i * 10, 50]);
  const spot = labelSpot(street, 60);
  assert.deepEqual([spot.x, spot.y], [100, 50]);
  assert.ok(Math.abs(spot.angle) < 1e-9);
  // Drawn the other way, the text still reads left to right.
  const back = labelSpot([...street].reverse(), 60);
  assert.ok(Math.abs(back.angle) < 1e-9, `upright: ${back.angle}`);
  // A sharp bend in the middle: the name moves to a straight part.
  const bend = [[0, 0], [100, 0], [100, 100]];
  const moved = labelSpot(bend, 40);
  assert.ok(moved.y === 0 || moved.x === 100, JSON.stringify(moved));
  assert.equal(labelSpot([[0, 0], [20, 0]], 50), null, 'too short');
  assert.equal(labelSpot([[0, 0], [30, 30], [60, 0], [90, 30], [120, 0]], 80), null, 'never straight');
});

test('lines thin out as the map zooms out', () => {
  assert.ok(widthAt(STYLE.primary, 12) < widthAt(STYLE.primary, 15));
  assert.ok(widthAt(STYLE.primary, 17) > widthAt(STYLE.primary, 15));
  assert.ok(widthAt(STYLE.path, 8) >= 0.6);
});
