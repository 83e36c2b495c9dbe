// Builds the app with Vite when dist/ is missing or older than its sources, so
// `npm start` works right after `npm ci` and after a `git pull`.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const SOURCE_DIRS = ['src/ui', 'src/workers', 'src/serve', 'src/gpu', 'src/model', 'src/data', 'src/train', 'public'];
const SOURCE_FILES = ['vite.config.ts', 'package.json', 'src/progress.ts'];

function newestMtime(path: string): number {
  if (!existsSync(path)) return 0;
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let newest = 0;
  for (const e of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, e)));
  return newest;
}

export function appIsStale(root: string, appDir: string): boolean {
  const index = join(appDir, 'index.html');
  if (!existsSync(index)) return true;
  const built = statSync(index).mtimeMs;
  const sources = Math.max(...SOURCE_DIRS.map((d) => newestMtime(join(root, d))), ...SOURCE_FILES.map((f) => newestMtime(join(root, f))));
  return sources > built;
}

export async function buildApp(root: string): Promise<void> {
  const vite = await import('vite');
  await vite.build({ root: join(root, 'src/ui'), configFile: join(root, 'vite.config.ts'), logLevel: 'warn' });
}

export async function ensureAppBuilt(root: string, appDir: string, log: (msg: string) => void): Promise<void> {
  if (!appIsStale(root, appDir)) return;
  log('Building the app (vite build)…');
  const t0 = Date.now();
  await buildApp(root);
  log(`Built in ${((Date.now() - t0) / 1000).toFixed(1)} s.`);
}
