// What every browser suite shares: the note in its name when it is skipped, and its teardown.
import { rmSync } from 'node:fs';
import type { Browser } from 'playwright-core';
import { browserSkipReason, type RunningBridge } from './browser.ts';

/** Test-name suffix that says why a browser suite is skipped, so the report shows it. */
export const skipNote = browserSkipReason ? ` [skipped: ${browserSkipReason}]` : '';

/**
 * Closes what a suite started: the browser, then the bridge, then other servers (hub, git),
 * then removes its temporary folders. Parts a failed start left undefined are passed over.
 */
export async function closeAll(parts: {
  browser?: Browser;
  bridge?: RunningBridge;
  servers?: Array<{ close(): Promise<void> } | undefined>;
  dirs?: Array<string | undefined>;
}): Promise<void> {
  await parts.browser?.close();
  await parts.bridge?.stop();
  for (const s of parts.servers ?? []) await s?.close();
  for (const d of parts.dirs ?? []) if (d) rmSync(d, { recursive: true, force: true });
}
