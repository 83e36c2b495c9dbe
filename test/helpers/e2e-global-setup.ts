// Builds the app once before the browser tests (the same build `npm start` makes).
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { ensureAppBuilt } from '../../src/bridge/build.ts';
import { CHROMIUM } from './browser.ts';

export default async function setup(): Promise<void> {
  if (!existsSync(CHROMIUM)) {
    console.log(`[e2e tests] SKIPPED: ${CHROMIUM} is missing (install Debian's chromium: scripts/setup-test-env.sh)`);
    return;
  }
  const root = resolve(import.meta.dirname, '../..');
  await ensureAppBuilt(root, resolve(root, 'dist'), (m) => console.log(`[e2e tests] ${m}`));
}
