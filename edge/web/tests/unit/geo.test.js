// Unit tests of the phone's boundary geometry.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bulkFocus, ringAreaHa, judgeFix, polygonOf, selfIntersectionVertex, vertexOfField, projection, distanceM } from '../../src/geo.js';

// The README's example farm: 0.00095° × 0.0009° at 18.918 N is about 1.0 ha.
const square = /** @type {[number, number][]} */ ([[74.385, 18.918], [74.38595, 18.918], [74.38595, 18.9189], [74.385, 18.9189]]);

test('area of the README farm is about one hectare, closed or not', () => {
  const a = ringAreaHa(square);
  assert.ok(Math.abs(a - 1.0) < 0.02, `area ${a}`);
  assert.equal(ringAreaHa([...square, square[0]]), a);
  assert.equal(ringAreaHa(square.slice(0, 2)), 0);
});

test('poor fixes and near-duplicates are dropped', () => {
  const kept = [square[0]];
  assert.equal(judgeFix(kept, { lon: 74.3851, lat: 18.918, accuracy: 40 }), 'poor_accuracy');
  assert.equal(judgeFix(kept, { lon: 74.385001, lat: 18.918, accuracy: 5 }), 'too_close');
  assert.equal(judgeFix(kept, { lon: 74.3852, lat: 18.918, accuracy: 5 }), 'kept');
  assert.equal(judgeFix([], { lon: 1, lat: 1, accuracy: Number.NaN }), 'poor_accuracy');
});

test('the polygon closes its ring', () => {
  const p = polygonOf(square);
  assert.equal(p.coordinates[0].length, 5);
  assert.deepEqual(p.coordinates[0][0], p.coordinates[0][4]);
});

test('a bow-tie is found at its crossing edge', () => {
  const bowtie = /** @type {[number, number][]} */ ([[0, 0], [1, 1], [1, 0], [0, 1]]);
  assert.ok(selfIntersectionVertex(bowtie) >= 0);
  assert.equal(selfIntersectionVertex(square), -1);
});

test('server error fields point at vertices', () => {
  assert.equal(vertexOfField('boundary.coordinates[0][3]'), 3);
  assert.equal(vertexOfField('boundary.coordinates[0]'), 0);
  assert.equal(vertexOfField('boundary.coordinates[1][2][0]'), 2);
  assert.equal(vertexOfField('phone'), null);
});

test('the projection round-trips and keeps metres', () => {
  const p = projection({ lon: 74.385, lat: 18.918, mPerPx: 1, width: 360, height: 640 });
  const px = p.toPx([74.3855, 18.9185]);
  const back = p.toLonLat(px);
  assert.ok(Math.abs(back[0] - 74.3855) < 1e-9 && Math.abs(back[1] - 18.9185) < 1e-9);
  const d = distanceM([74.385, 18.918], [74.3855, 18.918]);
  assert.ok(Math.abs(px[0] - 180 - d) < 0.5, `${px[0]} vs ${d}`);
});

test('the village map ignores one far-away farm', () => {
  /** @type {[number, number][][]} */
  const rings = Array.from({ length: 50 }, (_, i) => [[74.38 + i * 1e-4, 18.91]]);
  rings.push([[75.5, 19.5]]);
  const [[sw, ne]] = bulkFocus(rings);
  assert.ok(ne[0] < 74.4 && ne[1] < 18.92, `${ne}`);
  assert.ok(sw[0] < 74.38);
  assert.deepEqual(bulkFocus([]), []);
});
