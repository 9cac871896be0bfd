// Prints the gzipped size of the app shell (every file the service worker precaches: JS, CSS,
// HTML, manifest, icons, fonts if any) and fails over the budget of 150 KB gzipped (issue 12).
// Usage: node scripts/size.mjs [--json]
import { readFileSync, readdirSync, statSync, existsSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { gzipSync } from 'node:zlib';

/** The budget: the whole shell, gzipped. */
export const SHELL_BUDGET_BYTES = 150 * 1024;

/** @param {string} dir @returns {string[]} */
function files(dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? files(p) : [p];
  });
}

/**
 * Gzipped sizes of the built shell.
 * @param {string} dist
 */
export function measure(dist) {
  const rows = files(dist)
    .filter((f) => !f.endsWith('.gz'))
    .map((f) => {
      const raw = readFileSync(f);
      return { file: relative(dist, f).split(sep).join('/'), bytes: raw.length, gzip: gzipSync(raw, { level: 9 }).length };
    })
    .sort((a, b) => b.gzip - a.gzip);
  const total = rows.reduce((a, r) => a + r.gzip, 0);
  return { rows, total, budget: SHELL_BUDGET_BYTES };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const dist = new URL('../dist', import.meta.url).pathname;
  if (!existsSync(dist)) {
    console.error('no dist/: run `npm run build` first');
    process.exit(2);
  }
  const m = measure(dist);
  if (process.argv.includes('--json')) {
    console.log(JSON.stringify(m));
  } else {
    for (const r of m.rows) console.log(`${(r.gzip / 1024).toFixed(1).padStart(7)} KB gz  ${(r.bytes / 1024).toFixed(1).padStart(7)} KB  ${r.file}`);
    console.log(`app shell: ${(m.total / 1024).toFixed(1)} KB gzipped (budget ${m.budget / 1024} KB)`);
  }
  if (m.total > m.budget) {
    console.error(`over budget by ${((m.total - m.budget) / 1024).toFixed(1)} KB`);
    process.exit(1);
  }
}
