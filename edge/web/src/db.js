// IndexedDB on the phone: the write queue (object store `queue`, one record per item) and a
// key-value store `kv` for the session, the village copies and cached lists. Nothing here is
// sent anywhere; logout deletes the whole database.

const DB_NAME = 'farmco-field';
const DB_VERSION = 1;

/** @type {Promise<IDBDatabase> | null} */
let opening = null;

/** @returns {Promise<IDBDatabase>} */
function open() {
  if (!opening) {
    opening = new Promise((resolve, reject) => {
      const req = indexedDB.open(DB_NAME, DB_VERSION);
      req.onupgradeneeded = () => {
        const db = req.result;
        if (!db.objectStoreNames.contains('queue')) db.createObjectStore('queue', { keyPath: 'id' });
        if (!db.objectStoreNames.contains('kv')) db.createObjectStore('kv');
      };
      req.onsuccess = () => {
        const db = req.result;
        // Another tab deleting the database (logout) must not be blocked by this one.
        db.onversionchange = () => {
          db.close();
          opening = null;
        };
        resolve(db);
      };
      req.onerror = () => reject(req.error);
    });
  }
  return opening;
}

/**
 * Run one request in a transaction and wait for the transaction to commit (durable).
 * @template T
 * @param {string} store
 * @param {IDBTransactionMode} mode
 * @param {(s: IDBObjectStore) => IDBRequest<T>} fn
 * @returns {Promise<T>}
 */
async function run(store, mode, fn) {
  const db = await open();
  return new Promise((resolve, reject) => {
    const tx = db.transaction(store, mode, { durability: 'strict' });
    const req = fn(tx.objectStore(store));
    tx.oncomplete = () => resolve(req.result);
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error);
  });
}

/** @type {import('./queue.js').QueueStorage} */
export const queueStorage = {
  all: () => run('queue', 'readonly', (s) => s.getAll()),
  put: async (item) => {
    await run('queue', 'readwrite', (s) => s.put(item));
  },
  delete: async (id) => {
    await run('queue', 'readwrite', (s) => s.delete(id));
  },
};

/**
 * @param {string} key
 * @returns {Promise<any>}
 */
export function kvGet(key) {
  return run('kv', 'readonly', (s) => s.get(key));
}

/**
 * @param {string} key
 * @param {unknown} value
 */
export async function kvSet(key, value) {
  await run('kv', 'readwrite', (s) => s.put(value, key));
}

/** @param {string} key */
export async function kvDelete(key) {
  await run('kv', 'readwrite', (s) => s.delete(key));
}

/** Delete everything this app stored on the phone (logout). */
export async function wipe() {
  if (opening) {
    const db = await opening;
    db.close();
    opening = null;
  }
  await new Promise((resolve, reject) => {
    const req = indexedDB.deleteDatabase(DB_NAME);
    req.onsuccess = () => resolve(undefined);
    req.onerror = () => reject(req.error);
    req.onblocked = () => resolve(undefined);
  });
}
