import { defineConfig } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import type { Plugin } from 'vite';
import { demoFilePath, demoModelFiles } from './src/model/fixtures/demo.ts';

/** Writes the demo model (random weights, made by the fixture generator) into the build. */
function demoModel(): Plugin {
  return {
    name: 'homecoder-demo-model',
    apply: 'build',
    generateBundle() {
      for (const [file, source] of demoModelFiles()) this.emitFile({ type: 'asset', fileName: demoFilePath(file), source });
    },
  };
}

// The app is a static SPA; the bridge (src/bridge) serves dist/ in production.
export default defineConfig({
  root: 'src/ui',
  publicDir: '../../public',
  plugins: [svelte({ configFile: '../../svelte.config.js' }), demoModel()],
  build: { outDir: '../../dist', emptyOutDir: true, target: 'es2022' },
  worker: { format: 'es' },
  server: { host: '127.0.0.1', port: 5173 },
});
