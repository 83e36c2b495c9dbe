// What every browser suite shares: the note in its name when it is skipped, its teardown,
// the engine in this process to compare the page's figures with, and adapters written into OPFS.
import { rmSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { browserSkipReason, type RunningBridge } from './browser.ts';
import { chooseVulkanDriver } from './vulkan.ts';
import { memoryFiles } from '../../src/model/storage/files.ts';
import type { OpenedRunModel } from '../../src/train/run-model.ts';

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

/** The engine in this process (Dawn on the chosen Vulkan driver) on a model's files, for `use`, then closed. */
export async function withNodeEngine<T>(files: Map<string, Uint8Array>, use: (engine: OpenedRunModel) => Promise<T>): Promise<T> {
  chooseVulkanDriver();
  // Imported only now: Dawn must not load before the driver is chosen.
  const { nodeGpuDevice } = await import('../../src/cli/dawn.ts');
  const { openRunModel } = await import('../../src/train/run-model.ts');
  const gpu = await nodeGpuDevice();
  const engine = await openRunModel(gpu.device, memoryFiles('tiny', files));
  try {
    return await use(engine);
  } finally {
    engine.close();
    gpu.device.destroy();
  }
}

/**
 * Writes an adapter folder into the page's OPFS at `path` (under its origin's root), with its
 * `homecoder-adapter.json` description, as a training run stores a checkpoint.
 */
export async function writeOpfsAdapter(
  page: Page,
  path: string[],
  files: Record<string, number[]>,
  meta: Record<string, unknown>,
): Promise<void> {
  await page.evaluate(
    async ({ path, files, meta }) => {
      let dir = await navigator.storage.getDirectory();
      for (const part of path) dir = await dir.getDirectoryHandle(part, { create: true });
      const all: Array<[string, number[]]> = [
        ...Object.entries(files),
        ['homecoder-adapter.json', [...new TextEncoder().encode(JSON.stringify(meta))]],
      ];
      for (const [name, bytes] of all) {
        const w = await (await dir.getFileHandle(name, { create: true })).createWritable();
        await w.write(new Uint8Array(bytes));
        await w.close();
      }
    },
    { path, files, meta },
  );
}
