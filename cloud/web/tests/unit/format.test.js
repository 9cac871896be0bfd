// Formatting and map-colour helpers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAP_LAYERS, age, bytes, ofCap, offset, rangeWindow } from '../../src/format.js';

test('ages read like the server says them', () => {
  assert.equal(age(45), '45 s');
  assert.equal(age(600), '10 min');
  assert.equal(age(7 * 3600), '7 h 0 min');
  assert.equal(age(3 * 86400), '3 days');
  assert.equal(age(null), '—');
});

test('bytes, caps and clock offsets', () => {
  assert.equal(bytes(999), '999 B');
  assert.equal(bytes(1_500_000_000), '1.5 GB');
  assert.equal(ofCap(12, 100), '12 / 100');
  assert.equal(ofCap(null, 100), '—');
  assert.equal(offset(-90_000), '−90 s');
  assert.equal(offset(3000), '+3 s');
});

test('every map layer has a paint expression and a legend', () => {
  for (const [name, layer] of Object.entries(MAP_LAYERS)) {
    assert.ok(Array.isArray(layer.paint), name);
    assert.ok(layer.legend.length >= 2, name);
  }
  assert.deepEqual(Object.keys(MAP_LAYERS), ['crop', 'ph', 'n', 'alert']);
});

test('ranges end now with a readable bucket', () => {
  const now = Date.parse('2026-01-15T00:00:00Z');
  const w = rangeWindow('day', now);
  assert.equal(w.to, '2026-01-15T00:00:00.000Z');
  assert.equal(w.from, '2026-01-14T00:00:00.000Z');
  assert.equal(w.bucket, '1h');
  assert.equal(rangeWindow('season', now).bucket, '1d');
});
