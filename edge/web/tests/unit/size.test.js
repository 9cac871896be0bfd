// The app shell stays within its budget: 150 KB gzipped in all (JS, CSS, HTML, manifest, icons,
// fonts). Measures the built dist/ (run `npm run build` first).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { measure, SHELL_BUDGET_BYTES } from '../../scripts/size.mjs';

test('the built app shell is within 150 KB gzipped', () => {
  const dist = new URL('../../dist', import.meta.url).pathname;
  assert.ok(existsSync(`${dist}/index.html`), 'no dist/index.html: run `npm run build` first');
  const m = measure(dist);
  console.log(`app shell: ${(m.total / 1024).toFixed(1)} KB gzipped in ${m.rows.length} files`);
  assert.equal(SHELL_BUDGET_BYTES, 150 * 1024);
  assert.ok(m.rows.some((r) => r.file.startsWith('assets/') && r.file.endsWith('.js')), 'no script in the shell');
  assert.ok(m.total <= SHELL_BUDGET_BYTES, `shell is ${m.total} bytes gzipped, over ${SHELL_BUDGET_BYTES}`);
});
