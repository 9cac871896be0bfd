// App state and the sync loop: session, the phone's copy of the villages, the write queue and the
// sync state the agent sees ("n changes waiting for the box", last contact, per-item errors).
// Replays run on page load, on `online`, on a timer, after every write and when the service
// worker relays a Background Sync event (Chromium only, so never the only trigger).

import { request, OfflineError } from './api.js';
import { createQueue, uuidV4 } from './queue.js';
import { queueStorage, kvGet, kvSet, wipe } from './db.js';
import { overlay } from './data.js';

/** Replay the queue at least this often while the app is open. */
export const FLUSH_INTERVAL_MS = 20_000;
/** Refresh the village copy from the box at most this often when nothing was sent. */
export const PULL_INTERVAL_MS = 120_000;

/**
 * @typedef {{ token: string, username: string, role: string, villages: string[], expires_at: string }} Session
 * @typedef {import('./data.js').Farmer} Farmer
 * @typedef {import('./queue.js').QueueItem} QueueItem
 * @typedef {{
 *   ready: boolean,
 *   session: Session | null,
 *   lang: import('./i18n.js').Lang,
 *   snapshot: Farmer[],
 *   farmers: Farmer[],
 *   queue: QueueItem[],
 *   lastContact: number | null,
 *   lastPull: number | null,
 *   reachable: boolean | null,
 *   syncing: boolean,
 *   needsLogin: boolean,
 *   persist: 'granted' | 'refused' | 'unsupported' | 'unknown',
 *   secure: boolean,
 *   farmWarnings: Record<string, { code: string, message: string, farm_id?: string }[]>,
 * }} State
 */

/** @type {State} */
let state = {
  ready: false,
  session: null,
  lang: 'en',
  snapshot: [],
  farmers: [],
  queue: [],
  lastContact: null,
  lastPull: null,
  reachable: null,
  syncing: false,
  needsLogin: false,
  persist: 'unknown',
  secure: typeof window !== 'undefined' && window.isSecureContext,
  farmWarnings: {},
};

/** @type {Set<() => void>} */
const listeners = new Set();

export function getState() {
  return state;
}

/** @param {() => void} fn */
export function subscribe(fn) {
  listeners.add(fn);
  return () => {
    listeners.delete(fn);
  };
}

/** @param {Partial<State>} patch */
function set(patch) {
  state = { ...state, ...patch };
  if (patch.snapshot || patch.queue) state.farmers = overlay(state.snapshot, state.queue);
  for (const fn of listeners) fn();
}

/** Note that the box answered (any HTTP status). */
async function contact() {
  const now = Date.now();
  set({ lastContact: now, reachable: true });
  await kvSet('lastContact', now);
}

/**
 * A request to the box that records contact; throws OfflineError when out of reach.
 * @param {string} method
 * @param {string} path
 * @param {{ body?: unknown, idempotencyKey?: string }} [opts]
 */
export async function call(method, path, opts = {}) {
  try {
    const r = await request(method, path, { ...opts, token: state.session?.token ?? null });
    await contact();
    if (r.status === 401 && state.session) set({ needsLogin: true });
    return r;
  } catch (e) {
    if (e instanceof OfflineError) set({ reachable: false });
    throw e;
  }
}

const queue = createQueue({
  storage: queueStorage,
  send: (item) => call(item.method, item.path, { body: item.body, idempotencyKey: item.idempotencyKey }),
  // The box's warnings on a new farm (area far from the declared one, overlap with a
  // neighbour) are kept to show on the farm.
  onConfirmed: async (item, body) => {
    if (item.kind === 'create-farm' && body && Array.isArray(body.warnings) && body.warnings.length) {
      const farmWarnings = { ...state.farmWarnings, [body.id]: body.warnings };
      await kvSet('farmWarnings', farmWarnings);
      set({ farmWarnings });
    }
  },
});

async function reloadQueue() {
  set({ queue: await queue.list() });
}

let flushAgain = false;
let pullAgain = false;

/**
 * Replay what is waiting; then refresh the village copy if the box answered (at once after
 * sending or when `pull` is asked for — the agent's "Send now" — else at most every
 * PULL_INTERVAL_MS).
 * @param {{ pull?: boolean }} [opts]
 */
export async function flush(opts = {}) {
  if (!state.session) return;
  if (state.syncing) {
    flushAgain = true;
    pullAgain = pullAgain || Boolean(opts.pull);
    return;
  }
  set({ syncing: true });
  try {
    const r = await queue.flush();
    await reloadQueue();
    if (opts.pull && r.stop === null) {
      await pull();
    } else if (r.contact && (r.sent > 0 || !state.lastPull || Date.now() - state.lastPull > PULL_INTERVAL_MS)) {
      await pull();
    } else if (!r.contact && r.stop === null && r.remaining === state.queue.filter((i) => i.status === 'rejected').length) {
      // Nothing could be sent (empty or only rejected items): still check on the box.
      if (!state.lastPull || Date.now() - state.lastPull > PULL_INTERVAL_MS) await pull();
    }
  } catch (e) {
    if (!(e instanceof OfflineError)) console.error('sync round failed', e);
  } finally {
    set({ syncing: false });
    if (flushAgain) {
      const again = { pull: pullAgain };
      flushAgain = false;
      pullAgain = false;
      void flush(again);
    }
  }
}

/** Fetch the agent's villages from the box into the phone's copy. */
export async function pull() {
  const session = state.session;
  if (!session) return;
  /** @type {Farmer[]} */
  const farmers = [];
  for (const village of session.villages) {
    const r = await call('GET', `/api/v1/field/snapshot?village_code=${encodeURIComponent(village)}`);
    if (r.status !== 200) return;
    farmers.push(...r.body.farmers);
  }
  const now = Date.now();
  await kvSet('snapshot', farmers);
  await kvSet('lastPull', now);
  set({ snapshot: farmers, lastPull: now });
}

/**
 * Store a write on the phone (durable when this resolves), then try to send it.
 * @param {import('./queue.js').NewItem} spec
 */
export async function write(spec) {
  const item = await queue.enqueue(spec);
  await reloadQueue();
  requestBackgroundSync();
  void flush();
  return item;
}

/** @param {string} id @param {unknown} body */
export async function amend(id, body) {
  await queue.amend(id, body);
  await reloadQueue();
  void flush();
}

/** @param {string} id */
export async function discard(id) {
  const dropped = await queue.discard(id);
  await reloadQueue();
  return dropped;
}

export const newId = uuidV4;

/**
 * Log in (needs the box). Keeps queued writes of the same user.
 * @param {string} username
 * @param {string} password
 * @returns {Promise<{ ok: true } | { ok: false, status: number, message: string }>}
 */
export async function login(username, password) {
  const r = await request('POST', '/api/v1/auth/login', { body: { username, password } });
  await contact();
  if (r.status !== 200) {
    return { ok: false, status: r.status, message: r.body?.error?.message ?? `HTTP ${r.status}` };
  }
  /** @type {Session} */
  const session = { token: r.body.token, username, role: r.body.role, villages: r.body.villages, expires_at: r.body.expires_at };
  await kvSet('session', session);
  set({ session, needsLogin: false });
  await pull().catch(() => undefined);
  void flush();
  return { ok: true };
}

/** Log out: tell the box (best effort) and wipe every farmer record from the phone. */
export async function logout() {
  if (state.session) {
    await call('POST', '/api/v1/auth/logout').catch(() => undefined);
  }
  await wipe();
  set({ session: null, snapshot: [], queue: [], lastPull: null, needsLogin: false, farmWarnings: {} });
}

/** @param {import('./i18n.js').Lang} lang */
export function setLang(lang) {
  localStorage.setItem('farmco-lang', lang);
  document.documentElement.lang = lang;
  set({ lang });
}

function requestBackgroundSync() {
  // An extra trigger where the browser has it; replay never depends on it.
  if (!('serviceWorker' in navigator)) return;
  navigator.serviceWorker.ready
    .then((reg) => {
      const sync = /** @type {any} */ (reg).sync;
      if (sync && typeof sync.register === 'function') return sync.register('farmco-queue');
      return undefined;
    })
    .catch(() => undefined);
}

async function askPersistence() {
  if (!navigator.storage || typeof navigator.storage.persist !== 'function') {
    set({ persist: 'unsupported' });
    return;
  }
  const already = await navigator.storage.persisted();
  const granted = already || (await navigator.storage.persist());
  set({ persist: granted ? 'granted' : 'refused' });
}

/** Load the phone's state and start the sync triggers. */
export async function init() {
  const saved = localStorage.getItem('farmco-lang');
  const lang = saved === 'hi' || saved === 'mr' || saved === 'en' ? saved : 'en';
  document.documentElement.lang = lang;
  const [session, snapshot, lastContact, lastPull, farmWarnings] = await Promise.all([
    kvGet('session'),
    kvGet('snapshot'),
    kvGet('lastContact'),
    kvGet('lastPull'),
    kvGet('farmWarnings'),
  ]);
  set({ lang, session: session ?? null, farmWarnings: farmWarnings ?? {}, snapshot: snapshot ?? [], lastContact: lastContact ?? null, lastPull: lastPull ?? null, queue: await queue.list(), ready: true });
  void askPersistence().catch(() => set({ persist: 'unsupported' }));
  window.addEventListener('online', () => void flush());
  window.addEventListener('offline', () => set({ reachable: false }));
  setInterval(() => void flush(), FLUSH_INTERVAL_MS);
  if ('serviceWorker' in navigator) {
    navigator.serviceWorker.addEventListener('message', (e) => {
      if (e.data && e.data.type === 'flush') void flush();
    });
  }
  void flush();
}

/**
 * GET from the box, kept on the phone for when the box is out of reach.
 * @param {string} path
 * @returns {Promise<{ data: any, at: number, fresh: boolean } | null>}
 */
export async function cachedGet(path) {
  const key = `cache:${path}`;
  try {
    const r = await call('GET', path);
    if (r.status === 200) {
      const entry = { data: r.body, at: Date.now() };
      await kvSet(key, entry);
      return { ...entry, fresh: true };
    }
  } catch (e) {
    if (!(e instanceof OfflineError)) throw e;
  }
  const saved = await kvGet(key);
  return saved ? { ...saved, fresh: false } : null;
}

/**
 * The pending (or rejected) queue item that creates a record with this id, if any: writes
 * about that record must wait for it.
 * @param {string} recordId
 * @returns {QueueItem | undefined}
 */
export function creatorOf(recordId) {
  return state.queue.find((i) => i.kind.startsWith('create') && /** @type {any} */ (i.body)?.id === recordId);
}
