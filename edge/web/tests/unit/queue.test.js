// Unit tests of the offline write queue against an in-memory storage and a fake box.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createQueue, memoryStorage, classify, uuidV4 } from '../../src/queue.js';

/** A fake box: remembers answers by idempotency key like the real one. */
function fakeBox() {
  const seen = new Map();
  const created = [];
  const box = {
    online: true,
    created,
    /** @type {(item: any) => { status: number, body: any } | null} */
    rule: () => null,
    /** @param {any} item */
    async send(item) {
      if (!box.online) throw new TypeError('Failed to fetch');
      if (seen.has(item.idempotencyKey)) return seen.get(item.idempotencyKey);
      const answer = box.rule(item) ?? { status: 201, body: { id: item.body.id } };
      if (answer.status < 500) seen.set(item.idempotencyKey, answer);
      if (answer.status === 201) created.push(item.body.id);
      return answer;
    },
  };
  return box;
}

test('items are durable before sending and removed only after the box confirmed', async () => {
  const storage = memoryStorage();
  const box = fakeBox();
  box.online = false;
  const q = createQueue({ storage, send: box.send });
  await q.enqueue({ method: 'POST', path: '/api/v1/farmers', body: { id: 'f1' }, kind: 'create-farmer', label: 'A' });
  await q.enqueue({ method: 'POST', path: '/api/v1/farmers', body: { id: 'f2' }, kind: 'create-farmer', label: 'B' });
  const offline = await q.flush();
  assert.equal(offline.stop, 'offline');
  assert.equal(offline.remaining, 2);
  assert.equal(storage.items.size, 2);
  box.online = true;
  const r = await q.flush();
  assert.deepEqual([r.sent, r.remaining, r.stop, r.contact], [2, 0, null, true]);
  assert.deepEqual(box.created, ['f1', 'f2']);
});

test('a replay after a lost answer creates nothing twice', async () => {
  const storage = memoryStorage();
  const box = fakeBox();
  let loseAnswer = true;
  const send = async (/** @type {any} */ item) => {
    const answer = await box.send(item);
    if (loseAnswer) {
      loseAnswer = false;
      throw new TypeError('connection reset');
    }
    return answer;
  };
  const q = createQueue({ storage, send });
  await q.enqueue({ method: 'POST', path: '/api/v1/farmers', body: { id: 'f1' }, kind: 'create-farmer', label: 'A' });
  assert.equal((await q.flush()).stop, 'offline');
  assert.equal(storage.items.size, 1, 'not removed without a confirmation');
  const r = await q.flush();
  assert.equal(r.sent, 1);
  assert.deepEqual(box.created, ['f1']);
});

test('a rejection is kept with the server message and does not block the rest', async () => {
  const storage = memoryStorage();
  const box = fakeBox();
  box.rule = (item) =>
    item.body.id === 'dup'
      ? { status: 409, body: { error: { code: 'conflict', message: 'a farmer with this phone number is already registered', field: 'phone' } } }
      : null;
  const q = createQueue({ storage, send: box.send });
  const dup = await q.enqueue({ method: 'POST', path: '/api/v1/farmers', body: { id: 'dup' }, kind: 'create-farmer', label: 'dup' });
  await q.enqueue({ method: 'POST', path: '/api/v1/farmers/dup/farms', body: { id: 'farm-of-dup' }, kind: 'create-farm', label: 'farm', dependsOn: [dup.id] });
  await q.enqueue({ method: 'POST', path: '/api/v1/farmers', body: { id: 'ok' }, kind: 'create-farmer', label: 'ok' });
  const r = await q.flush();
  assert.deepEqual([r.sent, r.rejected, r.held, r.remaining, r.stop], [1, 1, 1, 2, null]);
  assert.deepEqual(box.created, ['ok']);
  const items = await q.list();
  const rejected = items.find((i) => i.id === dup.id);
  assert.equal(rejected?.status, 'rejected');
  assert.deepEqual(rejected?.error, { status: 409, code: 'conflict', message: 'a farmer with this phone number is already registered', field: 'phone' });
  // The next round does not resend the rejected item.
  const again = await q.flush();
  assert.equal(again.sent, 0);
  assert.equal(box.created.length, 1);
  // Fixed by the agent: new idempotency key, sent, and its dependant follows.
  box.rule = () => null;
  const amended = await q.amend(dup.id, { id: 'dup', phone: 'other' });
  assert.notEqual(amended?.idempotencyKey, dup.idempotencyKey);
  const fixed = await q.flush();
  assert.deepEqual([fixed.sent, fixed.remaining], [2, 0]);
  assert.deepEqual(box.created, ['ok', 'dup', 'farm-of-dup']);
});

test('discarding a rejected item discards what depends on it', async () => {
  const storage = memoryStorage();
  const q = createQueue({ storage, send: fakeBox().send });
  const a = await q.enqueue({ method: 'POST', path: '/a', body: { id: 'a' }, kind: 'create-farmer', label: 'a' });
  const b = await q.enqueue({ method: 'POST', path: '/b', body: { id: 'b' }, kind: 'create-farm', label: 'b', dependsOn: [a.id] });
  await q.enqueue({ method: 'POST', path: '/c', body: { id: 'c' }, kind: 'create-soil-test', label: 'c', dependsOn: [b.id] });
  await q.enqueue({ method: 'POST', path: '/d', body: { id: 'd' }, kind: 'create-farmer', label: 'd' });
  const dropped = await q.discard(a.id);
  assert.equal(dropped.length, 3);
  assert.deepEqual((await q.list()).map((i) => i.label), ['d']);
});

test('transient answers stop the round and keep the order', async () => {
  const storage = memoryStorage();
  const box = fakeBox();
  let status = 503;
  box.rule = (item) => (item.body.id === 'x' ? { status, body: {} } : null);
  const q = createQueue({ storage, send: box.send });
  await q.enqueue({ method: 'POST', path: '/x', body: { id: 'x' }, kind: 'create-farmer', label: 'x' });
  await q.enqueue({ method: 'POST', path: '/y', body: { id: 'y' }, kind: 'create-farmer', label: 'y' });
  const r = await q.flush();
  assert.deepEqual([r.sent, r.remaining, r.stop], [0, 2, 'server']);
  status = 201;
  box.rule = () => null;
  assert.equal((await q.flush()).sent, 2);
  assert.deepEqual(box.created, ['x', 'y']);
});

test('classify: unauthorized, busy and already_exists', () => {
  const item = /** @type {any} */ ({ kind: 'create-farmer' });
  assert.equal(classify(item, { status: 401, body: {} }), 'unauthorized');
  assert.equal(classify(item, { status: 409, body: { error: { code: 'idempotency_in_progress' } } }), 'busy');
  assert.equal(classify(item, { status: 409, body: { error: { code: 'already_exists' } } }), 'confirmed');
  assert.equal(classify({ ...item, kind: 'patch-farmer' }, { status: 409, body: { error: { code: 'already_exists' } } }), 'rejected');
  assert.equal(classify(item, { status: 422, body: {} }), 'rejected');
  assert.equal(classify(item, { status: 429, body: {} }), 'server');
  assert.equal(classify(item, { status: 200, body: {} }), 'confirmed');
});

test('concurrent flushes share one round', async () => {
  const storage = memoryStorage();
  const box = fakeBox();
  const q = createQueue({ storage, send: box.send });
  await q.enqueue({ method: 'POST', path: '/a', body: { id: 'a' }, kind: 'create-farmer', label: 'a' });
  const [r1, r2] = await Promise.all([q.flush(), q.flush()]);
  assert.equal(r1, r2);
  assert.deepEqual(box.created, ['a']);
});

test('uuidV4 has the version and variant bits', () => {
  const id = uuidV4();
  assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.notEqual(uuidV4(), id);
});
