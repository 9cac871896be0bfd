// The service worker: precaches the app shell (the list of hashed files is written in at build
// time by vite.config.js) so the app opens with no network after the first visit. The API is
// never cached here: the app keeps its data in IndexedDB and its writes in the queue.
// A Background Sync event (Chromium only) just asks the open pages to replay their queue; the
// pages also replay on load, on `online` and on a timer.

/// <reference lib="webworker" />
const VERSION = '__FARMCO_VERSION__';
/** @type {string[]} */
const PRECACHE = __FARMCO_PRECACHE__;
const CACHE = `farmco-shell-${VERSION}`;
const sw = /** @type {ServiceWorkerGlobalScope} */ (/** @type {unknown} */ (self));

sw.addEventListener('install', (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.addAll(PRECACHE.map((url) => new Request(url, { cache: 'reload' }))))
      .then(() => sw.skipWaiting()),
  );
});

sw.addEventListener('activate', (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith('farmco-shell-') && k !== CACHE).map((k) => caches.delete(k))))
      .then(() => sw.clients.claim()),
  );
});

sw.addEventListener('fetch', (event) => {
  const req = event.request;
  if (req.method !== 'GET') return;
  const url = new URL(req.url);
  if (url.origin !== sw.location.origin) return;
  if (req.mode === 'navigate') {
    // The shell for every page of the app; the network only when the cache lost it.
    event.respondWith(caches.match('/index.html').then((hit) => hit ?? fetch(req)));
    return;
  }
  if (PRECACHE.includes(url.pathname)) {
    event.respondWith(caches.match(url.pathname).then((hit) => hit ?? fetch(req)));
  }
});

sw.addEventListener('sync', (event) => {
  const e = /** @type {any} */ (event);
  if (e.tag !== 'farmco-queue') return;
  e.waitUntil(
    sw.clients.matchAll({ type: 'window' }).then((clients) => {
      for (const c of clients) c.postMessage({ type: 'flush' });
    }),
  );
});
