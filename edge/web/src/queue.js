// The offline write queue: every change an agent makes is stored here first (IndexedDB on the
// phone, any `QueueStorage` in tests) and sent to the box when it answers, exactly once.
//
// Rules (issue 12):
// - an item carries a client-generated Idempotency-Key; the box answers a replay with its first
//   answer, so sending again after a lost answer creates nothing twice;
// - an item is removed only after the box confirmed it (2xx, or `already_exists` for a create
//   whose first answer was lost before the box stored it);
// - a rejection (400/403/404/409/413/422) stays on the phone, marked with the server's message
//   and field, and never blocks the rest; only items that depend on it (a farm of a farmer whose
//   registration was rejected) wait with it;
// - a transient failure (no network, 5xx, 429, 401, a concurrent replay) stops the round: the
//   next round (page load, `online`, timer) starts again from the oldest item.
// Plain module, no DOM: unit-tested with `node --test`.

/** Statuses that mean "the box looked at it and said no": kept, marked, skipped. */
export const REJECTED_STATUSES = Object.freeze([400, 403, 404, 409, 410, 413, 422]);

/** Most items one round sends before yielding (a round must not hold the lock for minutes). */
export const ROUND_ITEMS_MAX = 200;

/**
 * @typedef {'POST' | 'PATCH' | 'PUT'} WriteMethod
 * @typedef {{ status: number, code: string, message: string, field?: string | null }} ItemError
 * @typedef {{
 *   id: string,
 *   seq: number,
 *   idempotencyKey: string,
 *   method: WriteMethod,
 *   path: string,
 *   body: unknown,
 *   kind: string,
 *   label: string,
 *   createdAt: number,
 *   dependsOn: string[],
 *   status: 'pending' | 'rejected',
 *   attempts: number,
 *   error: ItemError | null,
 * }} QueueItem
 * @typedef {{
 *   all(): Promise<QueueItem[]>,
 *   put(item: QueueItem): Promise<void>,
 *   delete(id: string): Promise<void>,
 * }} QueueStorage
 * @typedef {{ status: number, body: any }} SendResult
 * @typedef {(item: QueueItem) => Promise<SendResult>} Send
 * @typedef {{
 *   sent: number,
 *   rejected: number,
 *   held: number,
 *   remaining: number,
 *   contact: boolean,
 *   stop: null | 'offline' | 'unauthorized' | 'busy' | 'server',
 * }} RoundResult
 * @typedef {{
 *   method: WriteMethod,
 *   path: string,
 *   body: unknown,
 *   kind: string,
 *   label: string,
 *   dependsOn?: string[],
 *   id?: string,
 * }} NewItem
 */

/**
 * A random RFC 4122 version 4 UUID from `crypto.getRandomValues` (available outside secure
 * contexts too, unlike `crypto.randomUUID`).
 * @returns {string}
 */
export function uuidV4() {
  const b = new Uint8Array(16);
  globalThis.crypto.getRandomValues(b);
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/**
 * How to treat one answer of the box.
 * @param {QueueItem} item
 * @param {SendResult} result
 * @returns {'confirmed' | 'rejected' | 'unauthorized' | 'busy' | 'server'}
 */
export function classify(item, result) {
  const { status, body } = result;
  if (status >= 200 && status < 300) return 'confirmed';
  const code = body && body.error && typeof body.error.code === 'string' ? body.error.code : '';
  if (status === 409 && code === 'idempotency_in_progress') return 'busy';
  // A create whose first answer was lost before the box stored it: the record exists under the
  // id this phone chose, so the write did land.
  if (status === 409 && code === 'already_exists' && item.kind.startsWith('create')) {
    return 'confirmed';
  }
  if (status === 401) return 'unauthorized';
  if (REJECTED_STATUSES.includes(status)) return 'rejected';
  return 'server';
}

/**
 * The error to show on a rejected item, from the box's `{"error":{code,message,field}}`.
 * @param {SendResult} result
 * @returns {ItemError}
 */
export function itemError(result) {
  const e = result.body && result.body.error ? result.body.error : {};
  return {
    status: result.status,
    code: typeof e.code === 'string' ? e.code : 'rejected',
    message: typeof e.message === 'string' ? e.message : `HTTP ${result.status}`,
    field: typeof e.field === 'string' ? e.field : null,
  };
}

/**
 * The queue over a storage and a sender.
 * @param {{
 *   storage: QueueStorage,
 *   send: Send,
 *   now?: () => number,
 *   newKey?: () => string,
 *   onConfirmed?: (item: QueueItem, body: any) => void | Promise<void>,
 * }} deps
 */
export function createQueue(deps) {
  const now = deps.now ?? (() => Date.now());
  const newKey = deps.newKey ?? uuidV4;
  /** @type {Promise<RoundResult> | null} */
  let running = null;

  /** @returns {Promise<QueueItem[]>} items, oldest first */
  async function list() {
    const items = await deps.storage.all();
    return items.sort((a, b) => a.seq - b.seq);
  }

  /**
   * Store a write; it is durable when this resolves.
   * @param {NewItem} spec
   * @returns {Promise<QueueItem>}
   */
  async function enqueue(spec) {
    const items = await list();
    const last = items.length ? items[items.length - 1].seq : 0;
    /** @type {QueueItem} */
    const item = {
      id: spec.id ?? newKey(),
      seq: Math.max(last + 1, now()),
      idempotencyKey: newKey(),
      method: spec.method,
      path: spec.path,
      body: spec.body,
      kind: spec.kind,
      label: spec.label,
      createdAt: now(),
      dependsOn: spec.dependsOn ?? [],
      status: 'pending',
      attempts: 0,
      error: null,
    };
    await deps.storage.put(item);
    return item;
  }

  /**
   * Replace a rejected item's body (the agent fixed it): a new idempotency key, since the box
   * answers a reused key with a different body 422.
   * @param {string} id
   * @param {unknown} body
   */
  async function amend(id, body) {
    const item = (await list()).find((i) => i.id === id);
    if (!item) return null;
    const next = { ...item, body, idempotencyKey: newKey(), status: /** @type {const} */ ('pending'), error: null };
    await deps.storage.put(next);
    return next;
  }

  /**
   * Drop an item and every item that depends on it (directly or not). Returns the dropped ids.
   * @param {string} id
   * @returns {Promise<string[]>}
   */
  async function discard(id) {
    const items = await list();
    const dropped = new Set([id]);
    let grew = true;
    while (grew) {
      grew = false;
      for (const i of items) {
        if (!dropped.has(i.id) && i.dependsOn.some((d) => dropped.has(d))) {
          dropped.add(i.id);
          grew = true;
        }
      }
    }
    for (const d of dropped) await deps.storage.delete(d);
    return [...dropped];
  }

  /** @returns {Promise<RoundResult>} */
  async function round() {
    /** @type {RoundResult} */
    const result = { sent: 0, rejected: 0, held: 0, remaining: 0, contact: false, stop: null };
    const items = await list();
    const live = new Set(items.map((i) => i.id));
    /** ids that are rejected, or wait for a rejected one */
    const blocked = new Set(items.filter((i) => i.status === 'rejected').map((i) => i.id));
    let budget = ROUND_ITEMS_MAX;
    for (const item of items) {
      if (item.status === 'rejected') {
        result.rejected += 1;
        continue;
      }
      if (item.dependsOn.some((d) => blocked.has(d))) {
        blocked.add(item.id);
        result.held += 1;
        continue;
      }
      if (budget === 0) break;
      budget -= 1;
      /** @type {SendResult} */
      let answer;
      try {
        answer = await deps.send(item);
      } catch {
        result.stop = 'offline';
        break;
      }
      result.contact = true;
      const verdict = classify(item, answer);
      if (verdict === 'confirmed') {
        // Removed only now that the box confirmed it.
        await deps.storage.delete(item.id);
        live.delete(item.id);
        result.sent += 1;
        if (deps.onConfirmed) await deps.onConfirmed(item, answer.body);
      } else if (verdict === 'rejected') {
        await deps.storage.put({ ...item, status: 'rejected', attempts: item.attempts + 1, error: itemError(answer) });
        blocked.add(item.id);
        result.rejected += 1;
      } else {
        await deps.storage.put({ ...item, attempts: item.attempts + 1 });
        result.stop = verdict;
        break;
      }
    }
    result.remaining = (await deps.storage.all()).length;
    return result;
  }

  /**
   * Send what can be sent. Concurrent calls share one round.
   * @returns {Promise<RoundResult>}
   */
  function flush() {
    if (!running) {
      running = round().finally(() => {
        running = null;
      });
    }
    return running;
  }

  return { list, enqueue, amend, discard, flush };
}

/**
 * An in-memory QueueStorage (tests, and the fallback when IndexedDB is unavailable).
 * @returns {QueueStorage & { items: Map<string, QueueItem> }}
 */
export function memoryStorage() {
  /** @type {Map<string, QueueItem>} */
  const items = new Map();
  return {
    items,
    async all() {
      return [...items.values()].map((i) => structuredClone(i));
    },
    async put(item) {
      items.set(item.id, structuredClone(item));
    },
    async delete(id) {
      items.delete(id);
    },
  };
}
