// Vite build of the field-agent app into dist/ (embedded into farmco-edge by edge/build.rs).
// A small plugin finishes the build: it writes dist/sw.js from src/sw.js with the list of every
// shell file and a version hash of their contents, and a gzip copy next to each text file (the
// box serves it to browsers that accept gzip).
import { defineConfig } from 'vite';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { gzipSync } from 'node:zlib';

const COMPRESSIBLE = /\.(js|css|html|svg|webmanifest|json|txt)$/;

/** @param {string} dir @returns {string[]} */
function files(dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? files(p) : [p];
  });
}

function shellPlugin() {
  /** @type {string} */
  let outDir = 'dist';
  return {
    name: 'farmco-shell',
    apply: /** @type {const} */ ('build'),
    /** @param {any} config */
    configResolved(config) {
      outDir = config.build.outDir;
    },
    closeBundle() {
      const all = files(outDir).filter((f) => !f.endsWith('.gz') && !f.endsWith(`${sep}sw.js`));
      const urls = all.map((f) => '/' + relative(outDir, f).split(sep).join('/')).sort();
      const hash = createHash('sha256');
      for (const f of all.sort()) hash.update(readFileSync(f));
      const version = hash.digest('hex').slice(0, 16);
      const precache = ['/', ...urls];
      const template = readFileSync(new URL('./src/sw.js', import.meta.url), 'utf8');
      const sw = template.replace("'__FARMCO_VERSION__'", JSON.stringify(version)).replace('__FARMCO_PRECACHE__', JSON.stringify(precache));
      writeFileSync(join(outDir, 'sw.js'), sw);
      for (const f of files(outDir)) {
        if (COMPRESSIBLE.test(f) && !f.endsWith('.gz')) writeFileSync(`${f}.gz`, gzipSync(readFileSync(f), { level: 9 }));
      }
    },
  };
}

export default defineConfig({
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2020',
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    reportCompressedSize: false,
  },
  server: { fs: { allow: ['..'] } },
  plugins: [shellPlugin()],
});
