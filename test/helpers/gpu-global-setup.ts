// Runs once before the GPU test files: picks the Vulkan driver (inherited by the
// test processes) and says which adapter the tests will run on. Without a driver the
// tests are skipped, or the run fails in CI.
import { skipOrFailInCi } from './ci.ts';
import { chooseVulkanDriver } from './vulkan.ts';

export default async function setup(): Promise<void> {
  const choice = chooseVulkanDriver();
  if (!choice.ok) return skipOrFailInCi('gpu', choice.reason ?? 'no WebGPU');
  console.log(`[gpu tests] Vulkan driver: ${choice.driver}${choice.icd ? ` (${choice.icd})` : ''}`);
}
