// `npm run build`: the build `npm start` makes when the app is stale (demo model, then vite build).
import { resolve } from 'node:path';
import { buildApp } from '../src/bridge/build.ts';

const root = resolve(import.meta.dirname, '..');
const t0 = Date.now();
await buildApp(root);
console.log(`Built dist/ in ${((Date.now() - t0) / 1000).toFixed(1)} s.`);
