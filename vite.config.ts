import { defineConfig } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';

// The app is a static SPA; the bridge (src/bridge) serves dist/ in production.
// Build through `npm run build` or `npm start` (src/bridge/build.ts): they first write the demo
// model into generated/public (PUBLIC_DIR there), which Vite copies into dist/.
export default defineConfig({
  root: 'src/ui',
  publicDir: '../../generated/public',
  plugins: [svelte({ configFile: '../../svelte.config.js' })],
  build: { outDir: '../../dist', emptyOutDir: true, target: 'es2022' },
  worker: { format: 'es' },
  server: { host: '127.0.0.1', port: 5173 },
});
