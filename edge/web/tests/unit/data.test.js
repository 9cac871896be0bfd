// Unit tests of the phone's data view: snapshot + queued writes, and search.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { overlay, search } from '../../src/data.js';

const snapshot = [
  { id: 'a', name: 'Sunita Pawar', phone: '+919812345678', language: 'mr', village_code: '563412', consents: { sms: true, voice: false, data_sharing: false }, farms: [] },
  { id: 'b', name: 'गणेश जाधव', phone: '+919822000001', language: 'hi', village_code: '563412', consents: { sms: false, voice: false, data_sharing: false }, farms: [] },
];

/** @param {Partial<import('../../src/queue.js').QueueItem>} x */
const item = (x) => /** @type {import('../../src/queue.js').QueueItem} */ ({ id: 'q' + x.seq, idempotencyKey: 'k', createdAt: 0, dependsOn: [], status: 'pending', attempts: 0, error: null, label: '', method: 'POST', ...x });

test('queued creates and patches are laid over the snapshot', () => {
  const boundary = { type: 'Polygon', coordinates: [[[74.385, 18.918], [74.38595, 18.918], [74.38595, 18.9189], [74.385, 18.9189], [74.385, 18.918]]] };
  const view = overlay(snapshot, [
    item({ seq: 1, kind: 'create-farmer', path: '/api/v1/farmers', body: { id: 'c', name: 'Asha More', phone: '+919800000003', language: 'mr', village_code: '563412' } }),
    item({ seq: 2, kind: 'create-farm', path: '/api/v1/farmers/c/farms', body: { id: 'farm1', survey_number: '1/2', declared_area_ha: 1, boundary } }),
    item({ seq: 3, kind: 'create-soil-test', path: '/api/v1/farms/farm1/soil-tests', body: { id: 's1', sampled_on: '2025-04-12', lab: 'x', parameters: { ph: 7 } } }),
    item({ seq: 4, kind: 'patch-farmer', path: '/api/v1/farmers/a', body: { consents: { voice: true } }, status: 'rejected' }),
  ]);
  assert.equal(view.length, 3);
  const c = view.find((f) => f.id === 'c');
  assert.equal(c?.sync?.state, 'pending');
  assert.equal(c?.farms[0].soil_tests[0].id, 's1');
  assert.ok(Math.abs((c?.farms[0].area_ha ?? 0) - 1) < 0.02);
  const a = view.find((f) => f.id === 'a');
  assert.deepEqual(a?.consents, { sms: true, voice: true, data_sharing: false });
  assert.equal(a?.sync?.state, 'rejected');
  assert.equal(snapshot[0].consents.voice, false, 'the snapshot is not mutated');
});

test('search by Latin or Devanagari name, phone digits, and village', () => {
  assert.deepEqual(search(snapshot, 'sunita', '').map((f) => f.id), ['a']);
  assert.deepEqual(search(snapshot, 'गणेश', '').map((f) => f.id), ['b']);
  assert.deepEqual(search(snapshot, '22000', '').map((f) => f.id), ['b']);
  assert.deepEqual(search(snapshot, '', '999999'), []);
  assert.equal(search(snapshot, '', '563412').length, 2);
});
