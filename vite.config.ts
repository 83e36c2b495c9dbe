import { defineConfig } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';

// The app is a static SPA; the bridge (src/bridge) serves dist/ in production.
export default defineConfig({
  root: 'src/ui',
  publicDir: '../../public',
  plugins: [svelte({ configFile: '../../svelte.config.js' })],
  build: { outDir: '../../dist', emptyOutDir: true, target: 'es2022' },
  worker: { format: 'es' },
  server: { host: '127.0.0.1', port: 5173 },
});
