// Runs once before the GPU test files: picks the Vulkan driver (inherited by the
// test processes) and says which adapter the tests will run on. Without a driver the
// tests are skipped, or the run fails in CI.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { skipOrFailInCi } from './ci.ts';
import { chooseVulkanDriver } from './vulkan.ts';

export default async function setup(): Promise<() => void> {
  // Kernel choices a developer stored with `homecoder tune` (~/.cache/homecoder) must not
  // change what the tests run: the test processes and the CLI they start get an empty cache folder.
  const cache = mkdtempSync(join(tmpdir(), 'hc-test-cache-'));
  process.env.XDG_CACHE_HOME = cache;
  const teardown = () => rmSync(cache, { recursive: true, force: true });
  const choice = chooseVulkanDriver();
  if (!choice.ok) skipOrFailInCi('gpu', choice.reason ?? 'no WebGPU');
  else console.log(`[gpu tests] Vulkan driver: ${choice.driver}${choice.icd ? ` (${choice.icd})` : ''}`);
  return teardown;
}
