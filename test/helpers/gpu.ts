// Shared by GPU tests: one device per test file, on the driver chosen in global setup.
import { chooseVulkanDriver } from './vulkan.ts';
import type { GpuContext } from '../../src/gpu/device.ts';

const choice = chooseVulkanDriver();
/** Non-empty when GPU tests cannot run here; tests are skipped with this reason. */
export const gpuSkipReason: string = choice.ok ? '' : (choice.reason ?? 'no WebGPU');

let ctx: Promise<GpuContext> | undefined;

export function testDevice(): Promise<GpuContext> {
  ctx ??= (async () => {
    const { nodeGpuDevice } = await import('../../src/cli/dawn.ts');
    const c = await nodeGpuDevice({
      onUncapturedError: (e) => {
        throw e;
      },
    });
    console.log(
      `[gpu tests] adapter: ${c.info.vendor} ${c.info.architecture} — ${c.info.description} ` +
        `(driver ${choice.driver}; shader-f16 ${c.info.features.includes('shader-f16')}, subgroups ${c.info.features.includes('subgroups')})`,
    );
    return c;
  })();
  return ctx;
}

/** Test-name suffix that says why a test is skipped, so the report shows it. */
export const skipNote = gpuSkipReason ? ` [skipped: ${gpuSkipReason}]` : '';
