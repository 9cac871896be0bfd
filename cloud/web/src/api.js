// The console's API client: a plain module (unit-tested under tests/unit) that the screens
// call. Authentication is the HttpOnly session cookie set by POST /api/v1/console/login; this
// module never sees that token. It keeps the CSRF token the login (or GET /console/session)
// answered and sends it as X-CSRF-Token with every unsafe request. Search texts and other
// farmer data travel in request bodies, never in URLs.

/** An API error with the server's code, message and field. */
export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {{code?: string, message?: string, field?: string}} detail
   */
  constructor(status, detail) {
    super(detail.message || `HTTP ${status}`);
    this.status = status;
    this.code = detail.code || 'http_error';
    this.field = detail.field || null;
  }
}

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * Query string from an object, skipping empty values (undefined, null, '').
 * @param {Record<string, unknown>} params
 */
export function queryString(params = {}) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === '') continue;
    q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

/**
 * @param {{fetch?: typeof fetch, base?: string, onUnauthorized?: () => void}} options
 */
export function createApi(options = {}) {
  const doFetch = options.fetch || ((...a) => fetch(...a));
  const base = options.base || '';
  let csrf = null;
  let session = null;

  async function request(method, path, { params, body, raw } = {}) {
    const headers = { accept: raw ? '*/*' : 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (UNSAFE.has(method) && csrf) headers['x-csrf-token'] = csrf;
    const response = await doFetch(base + path + queryString(params), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      cache: 'no-store',
    });
    if (response.status === 401 && options.onUnauthorized && !path.startsWith('/api/v1/console/')) {
      options.onUnauthorized();
    }
    if (!response.ok) {
      let detail = {};
      try {
        detail = (await response.json()).error || {};
      } catch {
        detail = { message: `HTTP ${response.status}` };
      }
      throw new ApiError(response.status, detail);
    }
    if (raw) return response;
    if (response.status === 204) return null;
    return response.json();
  }

  return {
    /** The logged-in session (username, role, csrf_token, villages) or null. */
    get session() {
      return session;
    },
    async login(username, password) {
      session = await request('POST', '/api/v1/console/login', { body: { username, password } });
      csrf = session.csrf_token;
      return session;
    },
    /** Restore the session after a reload (null when not logged in). */
    async restore() {
      try {
        session = await request('GET', '/api/v1/console/session');
        csrf = session.csrf_token;
        return session;
      } catch (e) {
        if (e instanceof ApiError && e.status === 401) return null;
        throw e;
      }
    },
    async logout(everywhere = false) {
      await request('POST', everywhere ? '/api/v1/console/logout-everywhere' : '/api/v1/console/logout');
      session = null;
      csrf = null;
    },
    get: (path, params) => request('GET', path, { params }),
    post: (path, body) => request('POST', path, { body: body ?? {} }),
    put: (path, body) => request('PUT', path, { body }),
    patch: (path, body) => request('PATCH', path, { body }),
    /**
     * Fetch a CSV export: GET with query parameters, or POST with a body (searches).
     * @returns {Promise<Blob>}
     */
    async csv(path, { params, body } = {}) {
      const response = body === undefined
        ? await request('GET', path, { params: { ...params, format: 'csv' }, raw: true })
        : await request('POST', path, { body: { ...body, format: 'csv' }, raw: true });
      return response.blob();
    },
  };
}

/** Save a blob as a file (a CSV export). */
export function saveBlob(blob, filename) {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
