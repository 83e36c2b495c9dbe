// The app the bridge serves: built with Vite when dist/ is missing or older than its
// sources, so `npm start` works right after `npm ci` and after a `git pull`; a note page in
// its place where `homecoder serve` runs without a build.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository (or installed package) root: package.json, dist/. */
export const PACKAGE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export function packageVersion(): string {
  return (JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
}

/** Generated files Vite copies into dist/ (its publicDir; git-ignored): the demo model and the app's icons. */
export const PUBLIC_DIR = 'generated/public';

const SOURCE_DIRS = ['src/ui', 'src/workers', 'src/gpu', 'src/model', 'src/data', 'src/train', 'src/serve'];
const SOURCE_FILES = [
  'vite.config.ts',
  'svelte.config.js',
  'package.json',
  'src/progress.ts',
  'src/random.ts',
  'src/errors.ts',
  'src/bridge/app-icons.ts',
];

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

/** Writes the demo model (random weights, made by the fixture generator) into PUBLIC_DIR. */
export async function writeDemoModel(root: string): Promise<void> {
  const { demoFilePath, demoModelFiles } = await import('../model/fixtures/demo.ts');
  const dir = join(root, PUBLIC_DIR);
  rmSync(dir, { recursive: true, force: true });
  for (const [file, source] of demoModelFiles()) {
    const path = join(dir, demoFilePath(file));
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, source);
  }
}

/** Writes the manifest's icons (src/bridge/app-icons.ts) into PUBLIC_DIR. */
export async function writeIcons(root: string): Promise<void> {
  const { appIconFiles } = await import('./app-icons.ts');
  for (const [file, bytes] of appIconFiles()) {
    const path = join(root, PUBLIC_DIR, file);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, bytes);
  }
}

export async function buildApp(root: string): Promise<void> {
  await writeDemoModel(root);
  await writeIcons(root);
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

/** `appDir` if it holds a built app; otherwise a folder with a page saying to build it. */
export function appDirOrNote(appDir: string, warn: (msg: string) => void): string {
  if (existsSync(join(appDir, 'index.html'))) return appDir;
  warn(`Note: no built app in ${appDir} (run npm run build); the editor APIs work without it.`);
  const note = mkdtempSync(join(tmpdir(), 'homecoder-no-app-'));
  writeFileSync(
    join(note, 'index.html'),
    '<!doctype html><title>Homecoder</title><p>The app is not built: run <code>npm run build</code>. Editor APIs are serving.</p>',
  );
  return note;
}
