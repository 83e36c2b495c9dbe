// Builds the app once before the browser tests (the same build `npm start` makes).
// Without Chromium the tests are skipped, or the run fails in CI.
import { resolve } from 'node:path';
import { ensureAppBuilt } from '../../src/bridge/build.ts';
import { browserSkipReason } from './browser.ts';
import { skipOrFailInCi } from './ci.ts';

export default async function setup(): Promise<void> {
  if (browserSkipReason) return skipOrFailInCi('e2e', browserSkipReason);
  const root = resolve(import.meta.dirname, '../..');
  await ensureAppBuilt(root, resolve(root, 'dist'), (m) => console.log(`[e2e tests] ${m}`));
}
