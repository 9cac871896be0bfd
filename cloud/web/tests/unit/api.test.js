// The API client: CSRF header on unsafe requests only, the session restored, errors typed,
// query strings without empty values, CSV exports through GET parameters or a POST body.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError, createApi, queryString } from '../../src/api.js';

function fakeFetch(responses) {
  const calls = [];
  const f = async (url, init) => {
    calls.push({ url, init });
    const next = responses.shift() || { status: 200, body: {} };
    return {
      ok: next.status >= 200 && next.status < 300,
      status: next.status,
      json: async () => next.body,
      blob: async () => next.body,
    };
  };
  return { f, calls };
}

test('query strings skip empty values', () => {
  assert.equal(queryString({ a: 1, b: '', c: null, d: undefined, e: 'x y' }), '?a=1&e=x+y');
  assert.equal(queryString({}), '');
});

test('login keeps the CSRF token and sends it only on unsafe requests', async () => {
  const { f, calls } = fakeFetch([
    { status: 200, body: { username: 'ops1', role: 'ops', csrf_token: 'tok123' } },
    { status: 200, body: { nodes: [] } },
    { status: 201, body: { id: 'a1' } },
  ]);
  const api = createApi({ fetch: f });
  await api.login('ops1', 'pw');
  assert.equal(calls[0].url, '/api/v1/console/login');
  assert.equal(calls[0].init.headers['x-csrf-token'], undefined);
  assert.equal(JSON.parse(calls[0].init.body).username, 'ops1');
  await api.get('/api/v1/nodes', { status: 'red' });
  assert.equal(calls[1].url, '/api/v1/nodes?status=red');
  assert.equal(calls[1].init.headers['x-csrf-token'], undefined);
  await api.post('/api/v1/advisories', { title: 't' });
  assert.equal(calls[2].init.headers['x-csrf-token'], 'tok123');
  assert.equal(calls[2].init.credentials, 'same-origin');
  assert.equal(api.session.role, 'ops');
});

test('errors carry the server code and field; 401 tells the app', async () => {
  let told = 0;
  const { f } = fakeFetch([
    { status: 422, body: { error: { code: 'invalid', message: 'bad title', field: 'title' } } },
    { status: 401, body: { error: { code: 'unauthorized', message: 'log in' } } },
  ]);
  const api = createApi({ fetch: f, onUnauthorized: () => { told += 1; } });
  await assert.rejects(api.post('/api/v1/advisories', {}), (e) => e instanceof ApiError && e.code === 'invalid' && e.field === 'title' && e.status === 422);
  await assert.rejects(api.get('/api/v1/nodes'), (e) => e.status === 401);
  assert.equal(told, 1);
});

test('restore answers null without a session', async () => {
  const { f } = fakeFetch([{ status: 401, body: { error: { code: 'unauthorized' } } }]);
  const api = createApi({ fetch: f });
  assert.equal(await api.restore(), null);
});

test('CSV exports: GET parameters, or the search body (no farmer data in the URL)', async () => {
  const { f, calls } = fakeFetch([{ status: 200, body: 'csv1' }, { status: 200, body: 'csv2' }]);
  const api = createApi({ fetch: f });
  assert.equal(await api.csv('/api/v1/nodes', { params: { status: 'red' } }), 'csv1');
  assert.equal(calls[0].url, '/api/v1/nodes?status=red&format=csv');
  assert.equal(await api.csv('/api/v1/farmers/search', { body: { q: 'Sunita' } }), 'csv2');
  assert.equal(calls[1].url, '/api/v1/farmers/search');
  assert.equal(calls[1].init.method, 'POST');
  assert.deepEqual(JSON.parse(calls[1].init.body), { q: 'Sunita', format: 'csv' });
});
