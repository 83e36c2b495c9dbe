// Runs once before the GPU test files: picks the Vulkan driver (inherited by the
// test processes) and says which adapter the tests will run on.
import { chooseVulkanDriver } from './vulkan.ts';

export default async function setup(): Promise<void> {
  const choice = chooseVulkanDriver();
  if (!choice.ok) {
    console.log(`[gpu tests] SKIPPED: ${choice.reason}`);
    process.env.HOMECODER_GPU_SKIP = choice.reason;
    return;
  }
  console.log(`[gpu tests] Vulkan driver: ${choice.driver}${choice.icd ? ` (${choice.icd})` : ''}`);
}
