// Every catalogue has the same message ids, every id the app uses exists, and plurals work.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { makeTranslator, messageIds } from '../../src/i18n.js';

const LOCALES = ['en', 'hi', 'mr'];
/** @param {string} lang */
const ftl = (lang) => readFileSync(new URL(`../../../locales/${lang}/app.ftl`, import.meta.url), 'utf8');

test('en, hi and mr have the same message ids', () => {
  const en = messageIds(ftl('en'));
  assert.ok(en.length > 100, `only ${en.length} messages`);
  for (const lang of ['hi', 'mr']) {
    const ids = messageIds(ftl(lang));
    assert.deepEqual(
      ids.filter((id) => !en.includes(id)),
      [],
      `${lang} has ids that en lacks`,
    );
    assert.deepEqual(
      en.filter((id) => !ids.includes(id)),
      [],
      `${lang} lacks ids`,
    );
  }
});

test('every literal message id used by the screens exists', () => {
  const src = new URL('../../src/', import.meta.url).pathname;
  /** @param {string} d @returns {string[]} */
  const walk = (d) => readdirSync(d).flatMap((n) => (statSync(join(d, n)).isDirectory() ? walk(join(d, n)) : [join(d, n)]));
  const used = new Set();
  for (const f of walk(src).filter((f) => /\.(js|jsx)$/.test(f))) {
    for (const m of readFileSync(f, 'utf8').matchAll(/\bt\('([a-z0-9_-]+)'/g)) used.add(m[1]);
  }
  const en = new Set(messageIds(ftl('en')));
  assert.ok(used.size > 80, `found only ${used.size} uses`);
  assert.deepEqual([...used].filter((id) => !en.has(id)), []);
});

test('catalogues parse without errors and format plurals per locale', () => {
  for (const lang of LOCALES) {
    const tr = makeTranslator(/** @type {any} */ (lang), ftl(lang));
    for (const n of [0, 1, 2, 5, 21]) {
      const text = tr.t('farmers-count', { count: n });
      assert.ok(!text.includes('{'), `${lang} ${n}: ${text}`);
    }
  }
  const en = makeTranslator('en', ftl('en'));
  assert.equal(en.t('sync-waiting', { count: 1 }), 'One change waiting for the box');
  assert.equal(en.t('sync-waiting', { count: 3 }), '3 changes waiting for the box');
  const mr = makeTranslator('mr', ftl('mr'));
  assert.equal(mr.t('farms-count', { count: 2 }), '२ शेते', 'Marathi numbers in Devanagari digits');
  assert.equal(mr.t('farms-count', { count: 1 }), 'एक शेत');
});

test('hi and mr labels carry no Latin words', () => {
  // Data (names, units) is marked translate="no" in the app; the catalogues themselves must be
  // free of English words, except the few allowed symbols below.
  for (const lang of ['hi', 'mr']) {
    const body = ftl(lang)
      .split('\n')
      .filter((l) => !l.startsWith('#'))
      .map((l) => l.replace(/^[a-z0-9_-]+ =/, '').replace(/\{[^}]*\}/g, '').replace(/\[[a-z0-9_]+\]/g, '').replace(/\$[a-z_]+/g, ''))
      .join('\n');
    const latin = body.match(/[A-Za-z]{2,}/g) ?? [];
    assert.deepEqual(latin, [], `${lang} has Latin words`);
  }
});
