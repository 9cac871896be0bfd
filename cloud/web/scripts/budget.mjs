// Size budget of the ops console: every file of dist/ gzipped (as the server sends it), the
// map library excluded (MapLibre GL's bundle, worker and stylesheet: files named
// maplibre-gl-*), must stay within BUDGET_BYTES. Exits 1 over budget (or without a build).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';

/** 400 KB gzipped, the budget, map library excluded. */
export const BUDGET_BYTES = 400 * 1024;
const MAP_LIBRARY = /(^|\/)maplibre-gl[-.]/;

const dist = fileURLToPath(new URL('../dist', import.meta.url));

function files(dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? files(p) : [p];
  });
}

let all;
try {
  all = files(dist);
} catch {
  console.error('no dist/: run `npm run build` first');
  process.exit(1);
}
let counted = 0;
let excluded = 0;
const rows = [];
for (const path of all.sort()) {
  const rel = relative(dist, path);
  const gz = gzipSync(readFileSync(path), { level: 9 }).length;
  const isMap = MAP_LIBRARY.test(rel);
  if (isMap) excluded += gz; else counted += gz;
  rows.push(`${isMap ? '  (map) ' : '        '}${String(gz).padStart(9)} B  ${rel}`);
}
console.log(rows.join('\n'));
const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
console.log(`console (gzipped, map library excluded): ${kb(counted)} of ${kb(BUDGET_BYTES)}; map library: ${kb(excluded)}`);
if (counted > BUDGET_BYTES) {
  console.error(`over budget by ${kb(counted - BUDGET_BYTES)}`);
  process.exit(1);
}
