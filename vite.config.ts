import { defineConfig } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { VitePWA } from 'vite-plugin-pwa';

// The app is a static SPA: the bridge (src/bridge) serves dist/, and so can any static host
// under any path (`base: './'`: every asset URL is relative, workers included).
// Build through `npm run build` or `npm start` (src/bridge/build.ts): they first write the demo
// model and the icons into generated/public (PUBLIC_DIR there), which Vite copies into dist/.
// The service worker (Workbox, through vite-plugin-pwa) precaches all of dist/, the demo model
// too, so the installed app opens offline; the page registers it only when no bridge serves it
// (src/ui/shell/offline.ts) and asks before it updates.
export default defineConfig({
  root: 'src/ui',
  base: './',
  publicDir: '../../generated/public',
  plugins: [
    svelte({ configFile: '../../svelte.config.js' }),
    VitePWA({
      registerType: 'prompt',
      injectRegister: false,
      manifest: {
        name: 'Homecoder',
        short_name: 'Homecoder',
        description: 'Fine-tune a code model on your own repositories in the browser, then complete code from your editor.',
        start_url: './',
        scope: './',
        display: 'standalone',
        background_color: '#1d2330',
        theme_color: '#1d2330',
        icons: [
          { src: 'icons/icon-192.png', sizes: '192x192', type: 'image/png' },
          { src: 'icons/icon-512.png', sizes: '512x512', type: 'image/png', purpose: 'any' },
          { src: 'icons/icon-512.png', sizes: '512x512', type: 'image/png', purpose: 'maskable' },
        ],
      },
      workbox: {
        globPatterns: ['**/*.{html,js,css,json,png,svg,wasm,safetensors,txt,model,jinja}'],
        // The demo model's weights (a few MB) are precached too: it downloads offline.
        maximumFileSizeToCacheInBytes: 64 * 1024 * 1024,
        navigateFallback: 'index.html',
        // The bridge's own routes and its link with the secret must reach the network.
        navigateFallbackDenylist: [/[?&]token=/, /\/(bridge|git-proxy|hub|api|v1)\//],
        cleanupOutdatedCaches: true,
      },
    }),
  ],
  build: { outDir: '../../dist', emptyOutDir: true, target: 'es2022' },
  worker: { format: 'es' },
  server: { host: '127.0.0.1', port: 5173 },
});
