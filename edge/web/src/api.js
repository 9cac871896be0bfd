// The box's HTTP API as the app uses it: same origin, bearer token, JSON, the one error shape
// `{"error":{"code","message","field"}}`. A network failure or a timeout throws (the caller
// treats it as "the box is out of reach"); every HTTP answer, 4xx or 5xx, is returned.

/** A request that takes longer than this is taken as "no contact" (2G-class Wi-Fi edges). */
export const REQUEST_TIMEOUT_MS = 15_000;

/** @typedef {{ status: number, body: any }} ApiResult */

export class OfflineError extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = 'OfflineError';
  }
}

/**
 * One request to the box.
 * @param {string} method
 * @param {string} path absolute path, e.g. /api/v1/farmers
 * @param {{ token?: string | null, body?: unknown, idempotencyKey?: string, timeoutMs?: number }} [opts]
 * @returns {Promise<ApiResult>}
 */
export async function request(method, path, opts = {}) {
  /** @type {Record<string, string>} */
  const headers = { accept: 'application/json' };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.idempotencyKey) headers['idempotency-key'] = opts.idempotencyKey;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), opts.timeoutMs ?? REQUEST_TIMEOUT_MS);
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      signal: abort.signal,
      cache: 'no-store',
    });
  } catch (e) {
    throw new OfflineError(e instanceof Error ? e.message : String(e));
  } finally {
    clearTimeout(timer);
  }
  let body = null;
  const text = await response.text().catch(() => '');
  if (text) {
    try {
      body = JSON.parse(text);
    } catch {
      body = { error: { code: 'not_json', message: text.slice(0, 200) } };
    }
  }
  return { status: response.status, body };
}

/**
 * The error of a failed answer, as `{code, message, field}`.
 * @param {ApiResult} r
 */
export function errorOf(r) {
  const e = r.body && r.body.error ? r.body.error : {};
  return {
    code: String(e.code ?? 'error'),
    message: String(e.message ?? `HTTP ${r.status}`),
    field: e.field ? String(e.field) : null,
  };
}
