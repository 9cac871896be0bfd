// Vite build of the ops console. The output (dist/) is embedded into farmco-cloud by
// cloud/build.rs. Rules that keep the Content-Security-Policy strict: no inline scripts or
// styles (no module-preload polyfill, no inlined assets), MapLibre loaded on demand in its own
// chunk (it is excluded from the size budget, see scripts/budget.mjs) with its worker served as
// a file of this origin.
import { defineConfig } from 'vite';

export default defineConfig({
  base: '/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: false,
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    cssCodeSplit: true,
    chunkSizeWarningLimit: 1500,
  },
});
